//! `CutoutPipeline`: frame → cutout, synchronously (pre-process, model, post-process).
//! The segmentation worker, the `cutout` command and the benchmark all use it.

use std::path::PathBuf;
use std::time::Instant;

use super::cutout::Cutout;
use super::error::SegmentError;
use super::guided::GuidedFilter;
use super::model::{BackendChoice, BackendKind, ModelChoice, ModelKind, Segmenter};
use super::postprocess::{
    PostParams, TemporalSmoother, remove_specks, resample_letterboxed, upsample_to_mask,
};
use super::preprocess::{choose_model, letterbox_for, rgb_to_model_input};
use crate::capture::Frame;

/// How to segment.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SegmentConfig {
    /// Folder with the `.onnx` models.
    pub models_dir: PathBuf,
    /// Backend wanted.
    pub backend: BackendChoice,
    /// Model wanted.
    pub model: ModelChoice,
    /// Intra-op threads for ONNX Runtime.
    pub threads: usize,
    /// Post-processing settings.
    pub post: PostParams,
    /// Whether to smooth over time (off for single images).
    pub temporal: bool,
}

impl SegmentConfig {
    /// Defaults with the given models folder.
    pub fn new(models_dir: PathBuf) -> Self {
        Self {
            models_dir,
            backend: BackendChoice::Auto,
            model: ModelChoice::Auto,
            threads: 1,
            post: PostParams::default(),
            temporal: true,
        }
    }
}

/// Milliseconds spent in each stage for the last frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct StageTimings {
    /// RGB8 → model input.
    pub convert_ms: f32,
    /// Model inference.
    pub infer_ms: f32,
    /// Smoothing, speck removal, upsampling with edge refinement, RGBA composition.
    pub post_ms: f32,
}

impl StageTimings {
    /// Sum of the stages.
    pub fn total_ms(&self) -> f32 {
        self.convert_ms + self.infer_ms + self.post_ms
    }
}

/// The segmentation stage with its reusable buffers.
pub struct CutoutPipeline {
    config: SegmentConfig,
    general: Option<Segmenter>,
    landscape: Option<Segmenter>,
    input: Vec<f32>,
    prob: Vec<f32>,
    labels: Vec<u32>,
    grid: Vec<f32>,
    guided: GuidedFilter,
    smoother: TemporalSmoother,
    last_shape: (u32, u32),
    timings: StageTimings,
}

impl CutoutPipeline {
    /// Creates the pipeline; models load on first use (or eagerly with [`Self::preload`]).
    pub fn new(config: SegmentConfig) -> Self {
        Self {
            config,
            general: None,
            landscape: None,
            input: Vec::new(),
            prob: Vec::new(),
            labels: Vec::new(),
            grid: Vec::new(),
            guided: GuidedFilter::default(),
            smoother: TemporalSmoother::default(),
            last_shape: (0, 0),
            timings: StageTimings::default(),
        }
    }

    /// Loads the model a `width x height` source will need, so errors show early.
    pub fn preload(&mut self, width: u32, height: u32) -> Result<BackendKind, SegmentError> {
        let kind = choose_model(self.config.model, width, height);
        Ok(self.segmenter(kind)?.backend())
    }

    fn segmenter(&mut self, kind: ModelKind) -> Result<&mut Segmenter, SegmentError> {
        let slot = match kind {
            ModelKind::General => &mut self.general,
            ModelKind::Landscape => &mut self.landscape,
        };
        if slot.is_none() {
            *slot = Some(Segmenter::load(
                &self.config.models_dir,
                kind,
                self.config.backend,
                self.config.threads,
            )?);
        }
        Ok(slot.as_mut().expect("slot filled just above"))
    }

    /// The backend of the loaded model(s), if any is loaded.
    pub fn backend(&self) -> Option<BackendKind> {
        self.general
            .as_ref()
            .or(self.landscape.as_ref())
            .map(Segmenter::backend)
    }

    /// Stage times of the last [`Self::process`].
    pub fn timings(&self) -> StageTimings {
        self.timings
    }

    /// Cuts the person out of one frame: with the model, or with the frame's own
    /// coverage where its source knows it ([`Frame::coverage`]).
    pub fn process(&mut self, frame: &Frame) -> Result<Cutout, SegmentError> {
        if frame.width < 8 || frame.height < 8 {
            return Err(SegmentError::FrameTooSmall {
                width: frame.width,
                height: frame.height,
            });
        }
        if let Some(coverage) = &frame.coverage {
            let t0 = Instant::now();
            let cutout = cutout_of(frame, coverage.clone());
            self.timings = StageTimings {
                post_ms: t0.elapsed().as_secs_f32() * 1000.0,
                ..StageTimings::default()
            };
            return Ok(cutout);
        }
        let kind = choose_model(self.config.model, frame.width, frame.height);
        let (mw, mh) = kind.input_size();
        let lb = letterbox_for(frame.width, frame.height, mw, mh);
        if self.last_shape != (frame.width, frame.height) {
            self.smoother.reset();
            self.last_shape = (frame.width, frame.height);
        }
        let t0 = Instant::now();
        let mut input = std::mem::take(&mut self.input);
        rgb_to_model_input(
            &frame.rgb,
            frame.width,
            frame.height,
            mw,
            mh,
            &lb,
            &mut input,
        );
        let t1 = Instant::now();
        let result = self
            .segmenter(kind)
            .and_then(|s| s.run(&input).map(|p| p.to_vec()));
        self.input = input;
        let mut prob = result?;
        let t2 = Instant::now();
        let post = self.config.post;
        if self.config.temporal {
            self.smoother.apply(&mut prob, post.smoothing);
        }
        let min_area = (post.min_area_fraction * (mw * mh) as f32) as usize;
        remove_specks(
            &mut prob,
            mw as usize,
            mh as usize,
            min_area,
            &mut self.labels,
        );
        let mut mask = Vec::new();
        if let Some(guided) = &post.guided {
            let (gw, gh) = guided.grid_size(frame.width, frame.height);
            resample_letterboxed(&prob, mw, mh, &lb, gw, gh, &mut self.grid);
            self.guided.refine(
                &frame.rgb,
                frame.width,
                frame.height,
                &self.grid,
                guided,
                post.feather_low,
                post.feather_high,
                &mut mask,
            )?;
        } else {
            upsample_to_mask(
                &prob,
                mw,
                mh,
                &lb,
                frame.width,
                frame.height,
                &post,
                &mut mask,
            );
        }
        let cutout = cutout_of(frame, mask);
        self.prob = prob;
        let t3 = Instant::now();
        self.timings = StageTimings {
            convert_ms: (t1 - t0).as_secs_f32() * 1000.0,
            infer_ms: (t2 - t1).as_secs_f32() * 1000.0,
            post_ms: (t3 - t2).as_secs_f32() * 1000.0,
        };
        Ok(cutout)
    }

    /// The probability map of the last frame (model resolution), after smoothing.
    pub fn last_probability(&self) -> &[f32] {
        &self.prob
    }
}

/// `frame`'s picture cut out by `mask` (one byte a pixel, its size).
fn cutout_of(frame: &Frame, mask: Vec<u8>) -> Cutout {
    Cutout::from_rgb_and_mask(
        frame.seq,
        frame.captured_at,
        frame.width,
        frame.height,
        &frame.rgb,
        mask,
    )
}
