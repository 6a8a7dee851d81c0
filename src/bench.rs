//! `samespace bench`: per-stage timings of the cutout pipeline (and, as they land,
//! of the other stages), reported as medians and 95th percentiles.

use std::path::Path;
use std::time::Instant;

use crate::media::MediaError;
use crate::media::audio::{AudioSource, SAMPLE_RATE, SpeechLikeSource};
use crate::media::audio_device::downmix;
use crate::media::opus::{FRAME_SAMPLES, OpusDecoder, OpusEncoder};
use crate::media::voice::mixer::VoiceMixer;
use crate::talk::room_sim::{RoomResponse, add, convolve};
use crate::talk::{TalkSettings, VoiceProcessor, far_end_channel};

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

/// The audio chain's cost: one 20 ms block = voice processing of two 10 ms frames
/// (far-end reference in, microphone through AEC3, noise suppression, AGC2), one
/// Opus encode, one Opus decode per remote person, and their stereo mix for the
/// speaker (with the mono reference handed over). Times are ms per 10 ms of audio.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AudioBenchRow {
    /// Remote people decoded and mixed.
    pub remote_people: usize,
    /// Audio measured, s.
    pub seconds: f32,
    /// Voice processing, ms per 10 ms.
    pub processing: Percentiles,
    /// Opus encode, ms per 10 ms.
    pub encode: Percentiles,
    /// Opus decodes of everyone, ms per 10 ms.
    pub decode: Percentiles,
    /// The speaker mix and the reference hand-over, ms per 10 ms.
    pub mix: Percentiles,
    /// The whole chain, ms per 10 ms.
    pub total: Percentiles,
    /// The median whole chain as a fraction of one core (time per second of audio).
    pub core_fraction: f32,
}

/// Measures the audio chain over `seconds` of speech-like audio: `remote_people`
/// voices arrive as Opus packets, are decoded and mixed for the speaker; the
/// microphone hears that mix through a room (80 ms echo path) plus its own
/// talker, and goes through voice processing and the Opus encoder.
pub fn bench_audio(remote_people: usize, seconds: f32) -> Result<AudioBenchRow, MediaError> {
    let blocks = ((seconds * SAMPLE_RATE as f32) as usize / FRAME_SAMPLES).max(10);
    let samples = blocks * FRAME_SAMPLES;
    // What the others say, encoded as they would send it.
    let mut packets = Vec::with_capacity(remote_people);
    let mut far_mix = vec![0.0f32; samples];
    for person in 0..remote_people {
        let voice = SpeechLikeSource::new(0.3, 17 + person as u32).next_chunk(samples);
        for (m, v) in far_mix.iter_mut().zip(&voice) {
            *m += v;
        }
        let mut encoder = OpusEncoder::for_voice(1, 32_000, 10)?;
        packets.push(
            voice
                .chunks_exact(FRAME_SAMPLES)
                .map(|f| encoder.encode_f32(f))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let echo = convolve(
        &far_mix,
        &RoomResponse::living_room(80.0).impulse_response(),
    );
    let near = SpeechLikeSource::new(0.3, 5).next_chunk(samples);
    let microphone = add(&echo, &near);

    let mut decoders = (0..remote_people)
        .map(|_| OpusDecoder::new(1))
        .collect::<Result<Vec<_>, _>>()?;
    let mut encoder = OpusEncoder::for_voice(1, 32_000, 10)?;
    let mut processor = VoiceProcessor::new(TalkSettings::default())?;
    let (tap, far_end) = far_end_channel();
    let mut voices = VoiceMixer::default();
    let mut stereo = vec![0.0f32; 2 * FRAME_SAMPLES];
    let per_10ms = |t: Instant| t.elapsed().as_secs_f32() * 1000.0 / 2.0;
    let (mut proc, mut enc, mut dec, mut mix, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for b in 0..blocks {
        let start = Instant::now();
        let t = Instant::now();
        for (person, decoder) in decoders.iter_mut().enumerate() {
            let pcm = decoder.decode_after_loss(&packets[person][b], 0)?;
            voices.push(person as u64, &pcm);
        }
        dec.push(per_10ms(t));
        let t = Instant::now();
        voices.render(&mut stereo, 2);
        tap.push(&downmix(&stereo, 2));
        mix.push(per_10ms(t));
        let t = Instant::now();
        let mut pcm = microphone[b * FRAME_SAMPLES..(b + 1) * FRAME_SAMPLES].to_vec();
        let fed = far_end.drain_into(&mut processor);
        let processed = fed.and_then(|_| processor.process_capture(&mut pcm));
        if let Err(e) = processed {
            tracing::warn!(error = %e, "voice processing failed in the bench");
        }
        proc.push(per_10ms(t));
        let t = Instant::now();
        encoder.encode_f32(&pcm)?;
        enc.push(per_10ms(t));
        total.push(per_10ms(start));
    }
    let total = Percentiles::of(&total);
    Ok(AudioBenchRow {
        remote_people,
        seconds: samples as f32 / SAMPLE_RATE as f32,
        processing: Percentiles::of(&proc),
        encode: Percentiles::of(&enc),
        decode: Percentiles::of(&dec),
        mix: Percentiles::of(&mix),
        // ms per 10 ms of audio → seconds of CPU per second of audio.
        core_fraction: total.p50 / 10.0,
        total,
    })
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

    #[test]
    fn the_audio_bench_runs_every_stage_for_each_person() {
        let r = bench_audio(4, 0.5).expect("bench");
        assert_eq!(r.remote_people, 4);
        assert!((r.seconds - 0.5).abs() < 0.03, "{}", r.seconds);
        for stage in [r.processing, r.encode, r.decode, r.mix] {
            assert!(stage.p50 > 0.0 && stage.p50 <= r.total.p95 + 1e-3, "{r:?}");
        }
        assert!((r.core_fraction - r.total.p50 / 10.0).abs() < 1e-6);
    }
}
