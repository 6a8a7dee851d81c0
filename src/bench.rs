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

use crate::capture::{Frame, SyntheticParams, SyntheticParticipant};
use crate::segment::guided::GuidedParams;
use crate::segment::postprocess::{boundary_f_score, halo, iou};
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
    /// Edge refinement: `bilinear` or `guided`.
    pub refinement: &'static str,
    /// RGB8 → model input.
    pub convert: Percentiles,
    /// Inference.
    pub infer: Percentiles,
    /// Post-processing.
    pub post: Percentiles,
    /// Whole stage.
    pub total: Percentiles,
}

/// Camera noise: a seeded, roughly Gaussian perturbation (sum of four uniforms)
/// added to every channel, new on each call.
#[derive(Clone, Debug)]
pub struct CameraNoise {
    state: u64,
    /// Standard deviation in 8-bit levels.
    pub sigma: f32,
}

impl CameraNoise {
    /// Noise of `sigma` levels from `seed`.
    pub fn new(sigma: f32, seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            sigma,
        }
    }

    fn uniform(&mut self) -> f32 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    }

    /// One sample of zero mean and standard deviation `sigma`.
    pub fn sample(&mut self) -> f32 {
        let sum = self.uniform() + self.uniform() + self.uniform() + self.uniform();
        // Four U(0,1) have mean 2 and variance 1/3.
        (sum - 2.0) * 3f32.sqrt() * self.sigma
    }

    /// `src` with fresh noise, rounded and clamped to 0..=255.
    pub fn apply(&mut self, src: &[u8]) -> Vec<u8> {
        src.iter()
            .map(|&v| (f32::from(v) + self.sample()).round().clamp(0.0, 255.0) as u8)
            .collect()
    }
}

/// A still picture, RGB8.
#[derive(Clone, Debug)]
pub struct Still {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

impl Still {
    /// The picture stretched to `width x height` (bilinear).
    pub fn resized(&self, width: u32, height: u32) -> Result<Self, anyhow::Error> {
        let img = image::RgbImage::from_raw(self.width, self.height, self.rgb.clone())
            .ok_or_else(|| anyhow::anyhow!("still buffer does not match its size"))?;
        let out =
            image::imageops::resize(&img, width, height, image::imageops::FilterType::Triangle);
        Ok(Self {
            width,
            height,
            rgb: out.into_raw(),
        })
    }
}

/// Standard deviation of the camera noise on still frames, in 8-bit levels.
pub const STILL_NOISE_SIGMA: f32 = 3.0;

/// Measures the cutout pipeline on synthetic-participant frames, or, with
/// `still`, on that picture stretched to the size with new camera noise
/// ([`STILL_NOISE_SIGMA`]) on every frame; `guided` turns the guided-filter edge
/// refinement on.
pub fn bench_segmentation(
    models_dir: &Path,
    backend: BackendChoice,
    width: u32,
    height: u32,
    frames: usize,
    still: Option<&Still>,
    guided: bool,
) -> Result<SegmentBenchRow, anyhow::Error> {
    let mut render: Box<dyn FnMut(usize) -> Vec<u8>> = match still {
        Some(still) => {
            let sized = still.resized(width, height)?;
            let mut noise = CameraNoise::new(STILL_NOISE_SIGMA, 7);
            Box::new(move |_| noise.apply(&sized.rgb))
        }
        None => {
            let source = SyntheticParticipant::new(SyntheticParams {
                width,
                height,
                ..SyntheticParams::default()
            });
            Box::new(move |n| source.render(n as f32 / 30.0))
        }
    };
    let mut config = SegmentConfig::new(models_dir.to_path_buf());
    config.backend = backend;
    config.model = ModelChoice::Auto;
    config.post.guided = guided.then(GuidedParams::default);
    let mut pipeline = CutoutPipeline::new(config);
    let kind = crate::segment::preprocess::choose_model(ModelChoice::Auto, width, height);
    let warmup = 5;
    let (mut c, mut i, mut p, mut t) = (vec![], vec![], vec![], vec![]);
    for n in 0..frames + warmup {
        let rgb = render(n);
        let frame = Frame::new(n as u64, Instant::now(), width, height, rgb)?;
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
        refinement: if guided { "guided" } else { "bilinear" },
        convert: Percentiles::of(&c),
        infer: Percentiles::of(&i),
        post: Percentiles::of(&p),
        total: Percentiles::of(&t),
    })
}

/// Edge quality of one post-processing setting on a still picture against its
/// reference mask, and its steadiness under camera noise.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EdgeBenchRow {
    /// `bilinear` (feathered upsampling) or `guided` (guided-filter refinement).
    pub refinement: &'static str,
    /// Intersection over union with the reference (alpha ≥ 128), clean picture.
    pub iou: f32,
    /// Boundary F-score with the reference, 2 px tolerance, clean picture.
    pub boundary_f: f32,
    /// Mean alpha (0..1) 3–8 px outside the reference person, clean picture.
    pub halo: f32,
    /// Mean absolute frame-to-frame alpha change (0..1) over all pixels, noisy frames.
    pub flicker: f32,
    /// Noisy frames measured.
    pub frames: usize,
    /// Post-processing per noisy frame, ms.
    pub post: Percentiles,
    /// Frame → cutout per noisy frame, ms.
    pub total: Percentiles,
}

/// Runs the clean `still` once, then `frames` copies with fresh camera noise of
/// `sigma` levels (temporal smoothing on, as live), through the pipeline without
/// and with the guided filter, and compares against `reference` (a mask of the
/// still's size).
pub fn bench_edges(
    config: &SegmentConfig,
    still: &Still,
    reference: &[u8],
    frames: usize,
    sigma: f32,
) -> Result<Vec<EdgeBenchRow>, anyhow::Error> {
    let (w, h) = (still.width as usize, still.height as usize);
    anyhow::ensure!(
        reference.len() == w * h,
        "reference mask has {} pixels, the still {}",
        reference.len(),
        w * h
    );
    let mut rows = Vec::new();
    for (name, guided) in [
        ("bilinear", None),
        ("guided", Some(GuidedParams::default())),
    ] {
        let mut config = config.clone();
        config.post.guided = guided;
        config.temporal = true;
        let mut pipeline = CutoutPipeline::new(config);
        let frame = |n: usize, rgb: Vec<u8>| {
            Frame::new(n as u64, Instant::now(), still.width, still.height, rgb)
        };
        let clean = pipeline.process(&frame(0, still.rgb.clone())?)?;
        let mut noise = CameraNoise::new(sigma, 11);
        let (mut prev, mut change, mut pairs) = (None::<Vec<u8>>, 0.0f64, 0usize);
        let (mut post, mut total) = (Vec::new(), Vec::new());
        for n in 1..=frames {
            let cutout = pipeline.process(&frame(n, noise.apply(&still.rgb))?)?;
            let t = pipeline.timings();
            post.push(t.post_ms);
            total.push(t.total_ms());
            if let Some(p) = &prev {
                let sum: u64 = p
                    .iter()
                    .zip(&cutout.mask)
                    .map(|(&a, &b)| u64::from(a.abs_diff(b)))
                    .sum();
                change += sum as f64 / (255.0 * (w * h) as f64);
                pairs += 1;
            }
            prev = Some(cutout.mask);
        }
        rows.push(EdgeBenchRow {
            refinement: name,
            iou: iou(&clean.mask, reference, 128),
            boundary_f: boundary_f_score(&clean.mask, reference, w, h, 128, 2),
            halo: halo(&clean.mask, reference, w, h, 128, 3, 8),
            flicker: if pairs == 0 {
                0.0
            } else {
                (change / pairs as f64) as f32
            },
            frames,
            post: Percentiles::of(&post),
            total: Percentiles::of(&total),
        });
    }
    Ok(rows)
}

/// Formats the edge rows as a text table.
pub fn edges_table(rows: &[EdgeBenchRow]) -> String {
    let mut s = String::from(
        "refinement  IoU     boundary F  halo    flicker   post p50/p95    total p50/p95 (ms)\n",
    );
    for r in rows {
        s.push_str(&format!(
            "{:<10}  {:.4}  {:.4}      {:.4}  {:.5}   {:>5.2} / {:<6.2}  {:>5.2} / {:<6.2}\n",
            r.refinement,
            r.iou,
            r.boundary_f,
            r.halo,
            r.flicker,
            r.post.p50,
            r.post.p95,
            r.total.p50,
            r.total.p95
        ));
    }
    s
}

/// Formats the segmentation rows as a text table.
pub fn segmentation_table(rows: &[SegmentBenchRow]) -> String {
    let mut s = String::from(
        "backend  model      size       edges     convert p50/p95   infer p50/p95     post p50/p95      total p50/p95  (ms/frame)\n",
    );
    for r in rows {
        s.push_str(&format!(
            "{:<8} {:<10} {:>4}x{:<5} {:<9} {:>6.2} / {:<8.2} {:>6.2} / {:<8.2} {:>6.2} / {:<8.2} {:>6.2} / {:<6.2}\n",
            r.backend.name(),
            r.model,
            r.width,
            r.height,
            r.refinement,
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

/// The cost of drawing one demo participant's frames (the synthetic camera's
/// whole frame: room, person, sensor noise), 640x480, as the camera thread pays it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ParticipantBenchRow {
    /// Who: the variant and its framing.
    pub participant: String,
    /// Building the participant (room, noise, the character's rigid parts), ms.
    pub setup_ms: f32,
    /// One frame, ms (including parts drawn on first use).
    pub frame: Percentiles,
    /// The slowest frame, ms.
    pub max_ms: f32,
    /// Median share of one core at `fps`.
    pub core_at_fps: f32,
    /// Frame rate the share is computed for.
    pub fps: f32,
}

/// Draws `frames` frames of demo participants 0, 1 and 2 (one of each framing) at
/// `fps`, timing each.
pub fn bench_participants(frames: usize, fps: f32) -> Vec<ParticipantBenchRow> {
    (0..3)
        .map(|variant| {
            let start = Instant::now();
            let source = SyntheticParticipant::new(SyntheticParams {
                width: 640,
                height: 480,
                fps,
                phase: variant as f32 * 1.7,
                variant,
                ..SyntheticParams::default()
            });
            let setup_ms = start.elapsed().as_secs_f32() * 1000.0;
            let times: Vec<f32> = (0..frames)
                .map(|n| {
                    let t = Instant::now();
                    std::hint::black_box(source.render(n as f32 / fps));
                    t.elapsed().as_secs_f32() * 1000.0
                })
                .collect();
            let frame = Percentiles::of(&times);
            ParticipantBenchRow {
                participant: format!("{variant} ({:?})", source.framing()).to_lowercase(),
                setup_ms,
                frame,
                max_ms: times.iter().copied().fold(0.0, f32::max),
                core_at_fps: frame.p50 * fps / 1000.0,
                fps,
            }
        })
        .collect()
}

/// The participants table: one row per participant.
pub fn participants_table(rows: &[ParticipantBenchRow]) -> String {
    let mut s = String::from("participant   set-up   p50    p95    max   core at fps\n");
    for r in rows {
        s.push_str(&format!(
            "{:<12} {:>7.1} {:>6.2} {:>6.2} {:>6.1}   {:.3} at {}\n",
            r.participant, r.setup_ms, r.frame.p50, r.frame.p95, r.max_ms, r.core_at_fps, r.fps
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

/// One row of the send-ladder table: one rung at one bit rate.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LadderBenchRow {
    /// Index into `media::ladder::RUNGS`.
    pub rung: usize,
    /// Picture size sent (before alpha packing, which doubles the height).
    pub width: u32,
    /// Its height.
    pub height: u32,
    /// Pictures a second.
    pub fps: f32,
    /// Target video bit rate, kbit/s.
    pub kbit: u32,
    /// Target bits per pixel (the ladder's measure).
    pub bpp: f32,
    /// What the encoder produced, kbit/s.
    pub kbit_out: f32,
    /// Pictures the rate control skipped, share.
    pub skipped: f32,
    /// Scale (as the sender does) + alpha-pack + encode per picture, ms (mean).
    pub encode_ms: f32,
    /// Cores one such encoder keeps busy (`encode_ms` × fps / 1000).
    pub cores: f32,
    /// PSNR of what a viewer sees (the newest decoded picture, scaled back up to the
    /// capture size) against every captured picture, inside the person, dB.
    pub psnr_db: f32,
}

/// Encodes `seconds` of a moving textured cutout (640x480 at 30 fps, as captured)
/// at every rung of the send ladder and several bit rates; decodes it and compares
/// what a viewer sees with the capture, 30 times a second.
pub fn bench_ladder(seconds: f32) -> Result<Vec<LadderBenchRow>, MediaError> {
    use crate::media::alpha_pack::{pack_cutout_into, unpack_i420};
    use crate::media::h264::{ColorMatrix, H264Config, H264Decoder, H264Encoder, I420Frame};
    use crate::media::ladder::{Ladder, RUNGS};
    use crate::record::synthetic::SyntheticScene;

    let (full_w, full_h, full_fps) = (640u32, 480u32, 30.0f32);
    let scene = SyntheticScene::textured(full_w, full_h);
    let captured = (seconds * full_fps).max(1.0) as u64;
    let inputs: Vec<Vec<u8>> = (0..captured)
        .map(|i| {
            let mut rgba = scene.frame(i);
            for (j, px) in rgba.chunks_exact_mut(4).enumerate() {
                let (x, y) = ((j as u32 % full_w) as f32, (j as u32 / full_w) as f32);
                let (dx, dy) = ((x - 320.0 - (i % 60) as f32) / 150.0, (y - 260.0) / 220.0);
                if dx * dx + dy * dy > 1.0 {
                    px.fill(0);
                }
            }
            rgba
        })
        .collect();
    let full_pixels = f64::from(full_w * full_h) * f64::from(full_fps);
    let mut rows = Vec::new();
    for (rung, r) in RUNGS.iter().enumerate() {
        let w = ((full_w as f32 * r.scale).round() as u32) & !1;
        let h = ((full_h as f32 * r.scale).round() as u32) & !1;
        let fps = full_fps * r.fps_share;
        for kbit in [150u32, 250, 400, 600, 1000] {
            let config = H264Config {
                fps,
                bitrate_bps: kbit * 1000,
                keyframe_interval: 60,
                allow_frame_skip: true,
                threads: 1,
                ..H264Config::new(w, h * 2)
            };
            let mut encoder = H264Encoder::new(config)?;
            let mut decoder = H264Decoder::new()?;
            let mut packed = I420Frame::new(w, h * 2)?;
            let (mut sent, mut skipped, mut bytes, mut encode_s) = (0u32, 0u32, 0usize, 0.0f64);
            let mut shown: Option<Vec<u8>> = None;
            let mut squared = 0.0f64;
            let mut counted = 0u64;
            let mut next_due = 0.0f32;
            for (i, rgba) in inputs.iter().enumerate() {
                let t = i as f32 / full_fps;
                if t + 1e-4 >= next_due {
                    next_due += 1.0 / fps;
                    let t0 = Instant::now();
                    let scaled = if (w, h) == (full_w, full_h) {
                        rgba.clone()
                    } else {
                        crate::net::send_rate::scale_rgba(rgba, full_w, full_h, w, h).ok_or(
                            MediaError::BufferLength {
                                expected: (full_w * full_h * 4) as usize,
                                actual: rgba.len(),
                            },
                        )?
                    };
                    pack_cutout_into(&scaled, w, h, ColorMatrix::Bt601, &mut packed)?;
                    let out = encoder.encode_i420(&packed, (t * 1000.0) as u64)?;
                    encode_s += t0.elapsed().as_secs_f64();
                    if out.annex_b.is_empty() {
                        skipped += 1;
                    } else {
                        sent += 1;
                        bytes += out.annex_b.len();
                        if let Some(frame) = decoder.decode(&out.annex_b)? {
                            let cut = unpack_i420(&frame, ColorMatrix::Bt601)?;
                            let image = image::RgbaImage::from_raw(cut.width, cut.height, cut.rgba)
                                .ok_or(MediaError::BufferLength {
                                    expected: 0,
                                    actual: 0,
                                })?;
                            shown = Some(
                                image::imageops::resize(
                                    &image,
                                    full_w,
                                    full_h,
                                    image::imageops::FilterType::Triangle,
                                )
                                .into_raw(),
                            );
                        }
                    }
                }
                if let Some(view) = &shown {
                    for (a, b) in rgba.chunks_exact(4).zip(view.chunks_exact(4)) {
                        if a[3] == 255 {
                            for c in 0..3 {
                                let d = f64::from(a[c]) - f64::from(b[c]);
                                squared += d * d;
                            }
                            counted += 3;
                        }
                    }
                }
            }
            let mse = squared / counted.max(1) as f64;
            let encoded = (sent + skipped).max(1);
            let encode_ms = (encode_s * 1000.0 / f64::from(encoded)) as f32;
            rows.push(LadderBenchRow {
                rung,
                width: w,
                height: h,
                fps,
                kbit,
                bpp: Ladder::bits_per_pixel(kbit * 1000, rung, full_pixels),
                kbit_out: (bytes as f64 * 8.0 / 1000.0 / f64::from(seconds)) as f32,
                skipped: skipped as f32 / encoded as f32,
                encode_ms,
                cores: encode_ms * fps / 1000.0,
                psnr_db: (10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()) as f32,
            });
        }
    }
    Ok(rows)
}

/// The send-ladder rows as a table.
pub fn ladder_table(rows: &[LadderBenchRow]) -> String {
    let mut out = String::from(
        "rung  size     fps  kbit   bpp    out kbit  skipped  encode ms  cores  PSNR dB\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{:>4}  {:>3}x{:<3}  {:>3.0}  {:>4}  {:.3}  {:>8.0}  {:>6.0}%  {:>9.2}  {:>5.3}  {:>7.2}\n",
            r.rung,
            r.width,
            r.height,
            r.fps,
            r.kbit,
            r.bpp,
            r.kbit_out,
            r.skipped * 100.0,
            r.encode_ms,
            r.cores,
            r.psnr_db
        ));
    }
    out
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
    fn camera_noise_has_zero_mean_and_the_asked_spread_and_changes_each_frame() {
        let mut noise = CameraNoise::new(3.0, 1);
        let samples: Vec<f32> = (0..20_000).map(|_| noise.sample()).collect();
        let mean = samples.iter().sum::<f32>() / samples.len() as f32;
        let var = samples.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / samples.len() as f32;
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((var.sqrt() - 3.0).abs() < 0.15, "sigma {}", var.sqrt());
        let grey = vec![128u8; 1000];
        let (a, b) = (noise.apply(&grey), noise.apply(&grey));
        assert_ne!(a, b);
        assert!(a.iter().all(|&v| (110..=146).contains(&v)));
    }

    #[test]
    fn the_participants_bench_times_each_framing() {
        let rows = bench_participants(3, 15.0);
        assert_eq!(rows.len(), 3);
        let names: Vec<&str> = rows.iter().map(|r| r.participant.as_str()).collect();
        for framing in ["close", "half", "far"] {
            assert!(names.iter().any(|n| n.contains(framing)), "{names:?}");
        }
        for r in &rows {
            assert!(r.frame.p50 > 0.0 && r.frame.p50 <= r.max_ms, "{r:?}");
            assert!((r.core_at_fps - r.frame.p50 * 15.0 / 1000.0).abs() < 1e-6);
        }
        assert!(participants_table(&rows).lines().count() == 4);
    }

    #[test]
    fn the_ladder_bench_measures_every_rung_and_more_bits_look_better() {
        let rows = bench_ladder(1.0).expect("bench");
        assert_eq!(rows.len(), 15);
        for rung in 0..3 {
            let of: Vec<&LadderBenchRow> = rows.iter().filter(|r| r.rung == rung).collect();
            assert!(of.iter().all(|r| r.psnr_db.is_finite() && r.psnr_db > 10.0));
            assert!(of[4].psnr_db > of[0].psnr_db, "{of:?}");
        }
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
