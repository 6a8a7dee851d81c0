//! `samespace bench`: per-stage timings of the cutout pipeline (and, as they land,
//! of the other stages), reported as medians and 95th percentiles.

use std::path::Path;

use crate::capture::{SyntheticParams, SyntheticParticipant};
use crate::segment::{
    BackendChoice, BackendKind, CutoutPipeline, ModelChoice, SegmentConfig, SegmentError,
};

/// Median and 95th percentile of a set of samples in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    /// 50th percentile.
    pub p50: f32,
    /// 95th percentile.
    pub p95: f32,
}

impl Percentiles {
    /// From unsorted samples (empty gives zeros).
    pub fn of(samples: &[f32]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut s = samples.to_vec();
        s.sort_by(f32::total_cmp);
        let at = |q: f32| s[((s.len() - 1) as f32 * q).round() as usize];
        Self {
            p50: at(0.5),
            p95: at(0.95),
        }
    }
}

/// One row of the segmentation table.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SegmentBenchRow {
    /// Backend measured.
    pub backend: BackendKind,
    /// Model used.
    pub model: &'static str,
    /// Frame size.
    pub width: u32,
    /// Frame size.
    pub height: u32,
    /// RGB8 → model input.
    pub convert: Percentiles,
    /// Inference.
    pub infer: Percentiles,
    /// Post-processing.
    pub post: Percentiles,
    /// Whole stage.
    pub total: Percentiles,
}

/// Measures the cutout pipeline on synthetic-participant frames.
pub fn bench_segmentation(
    models_dir: &Path,
    assets_dir: &Path,
    backend: BackendChoice,
    width: u32,
    height: u32,
    frames: usize,
) -> Result<SegmentBenchRow, anyhow::Error> {
    let source = SyntheticParticipant::new(
        assets_dir,
        SyntheticParams {
            width,
            height,
            ..SyntheticParams::default()
        },
    )?;
    let mut config = SegmentConfig::new(models_dir.to_path_buf());
    config.backend = backend;
    config.model = ModelChoice::Auto;
    let mut pipeline = CutoutPipeline::new(config);
    let kind = crate::segment::preprocess::choose_model(ModelChoice::Auto, width, height);
    let warmup = 5;
    let (mut c, mut i, mut p, mut t) = (vec![], vec![], vec![], vec![]);
    for n in 0..frames + warmup {
        let rgb = source.render(n as f32 / 30.0);
        let frame =
            crate::capture::Frame::new(n as u64, std::time::Instant::now(), width, height, rgb)?;
        pipeline
            .process(&frame)
            .map_err(|e: SegmentError| anyhow::anyhow!(e))?;
        if n >= warmup {
            let s = pipeline.timings();
            c.push(s.convert_ms);
            i.push(s.infer_ms);
            p.push(s.post_ms);
            t.push(s.total_ms());
        }
    }
    Ok(SegmentBenchRow {
        backend: pipeline.backend().unwrap_or(BackendKind::Tract),
        model: kind.name(),
        width,
        height,
        convert: Percentiles::of(&c),
        infer: Percentiles::of(&i),
        post: Percentiles::of(&p),
        total: Percentiles::of(&t),
    })
}

/// Formats the segmentation rows as a text table.
pub fn segmentation_table(rows: &[SegmentBenchRow]) -> String {
    let mut s = String::from(
        "backend  model      size       convert p50/p95   infer p50/p95     post p50/p95      total p50/p95  (ms/frame)\n",
    );
    for r in rows {
        s.push_str(&format!(
            "{:<8} {:<10} {:>4}x{:<5} {:>6.2} / {:<8.2} {:>6.2} / {:<8.2} {:>6.2} / {:<8.2} {:>6.2} / {:<6.2}\n",
            r.backend.name(),
            r.model,
            r.width,
            r.height,
            r.convert.p50,
            r.convert.p95,
            r.infer.p50,
            r.infer.p95,
            r.post.p50,
            r.post.p95,
            r.total.p50,
            r.total.p95
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_right_samples() {
        let v: Vec<f32> = (1..=100).map(|x| x as f32).collect();
        let p = Percentiles::of(&v);
        assert_eq!(p.p50, 51.0);
        assert_eq!(p.p95, 95.0);
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
    }
}
