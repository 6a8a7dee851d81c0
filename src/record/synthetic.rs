//! Synthetic recordings and the encode benchmark, independent of the GUI and CLI.
//!
//! [`record_synthetic`] renders a moving square on a gradient, one full-white
//! *flash* frame at a chosen instant and a 1 kHz *beep* starting at the same
//! instant, and records them through the real [`Recorder`]: tests measure A/V
//! sync, crash safety and write failures on it. [`bench_encode`] times the
//! recorder's per-frame work.

use std::path::Path;
use std::time::{Duration, Instant};

use super::error::RecordError;
use super::recorder::{
    AudioChunk, AudioSettings, RecordStats, Recorder, RecorderConfig, VideoFrame,
};
use crate::media::MediaError;
use crate::media::alpha_pack::pack_cutout_into;
use crate::media::audio::{AudioSource, BeepSource, SAMPLE_RATE, SineSource, f32_to_i16};
use crate::media::h264::{ColorMatrix, H264Config, H264Decoder, H264Encoder, I420Frame};

/// Audio chunk length pushed by the synthetic source (10 ms).
const AUDIO_CHUNK_SAMPLES: usize = 480;
/// Length of the beep.
pub const BEEP_DURATION: Duration = Duration::from_millis(150);

/// What to record.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticOptions {
    /// Length of the recording.
    pub seconds: f64,
    /// Frame width (even).
    pub width: u32,
    /// Frame height (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// When the white flash frame and the beep happen (`None`: neither).
    pub flash_at: Option<Duration>,
    /// Beep frequency in Hz.
    pub beep_hz: f32,
    /// Pace frames and audio on the wall clock like a live source (frames that
    /// do not fit the queue are dropped), instead of as fast as encoding allows.
    pub realtime: bool,
    /// Audio channels (1 or 2); 0 records no audio track.
    pub audio_channels: u16,
}

impl Default for SyntheticOptions {
    /// 3 s of 1280x720 at 30 fps, flash and beep at 1 s, stereo, offline.
    fn default() -> Self {
        Self {
            seconds: 3.0,
            width: 1280,
            height: 720,
            fps: 30,
            flash_at: Some(Duration::from_secs(1)),
            beep_hz: 1000.0,
            realtime: false,
            audio_channels: 2,
        }
    }
}

/// Draws synthetic frames: a background (a flat gradient, or a panning
/// texture for realistic encoder load) with a square that moves every frame.
#[derive(Debug)]
pub struct SyntheticScene {
    width: u32,
    height: u32,
    background: Vec<u8>,
    /// A texture `width + PAN` wide that pans under the square, if textured.
    texture: Option<Vec<u8>>,
}

/// How far a textured background pans before it wraps, in pixels.
const PAN: u32 = 96;

impl SyntheticScene {
    /// A scene of `width`x`height` RGBA frames.
    pub fn new(width: u32, height: u32) -> Self {
        let mut background = Vec::with_capacity(width as usize * height as usize * 4);
        for y in 0..height {
            for x in 0..width {
                background.extend_from_slice(&[
                    (20 + x * 40 / width.max(1)) as u8,
                    (30 + y * 50 / height.max(1)) as u8,
                    90,
                    255,
                ]);
            }
        }
        Self {
            width,
            height,
            background,
            texture: None,
        }
    }

    /// A scene whose background is detailed noise and stripes panning 3 pixels
    /// per frame: closer to a real themed world than a flat gradient, so encoder
    /// timings mean something.
    pub fn textured(width: u32, height: u32) -> Self {
        let wide = width + PAN;
        let mut texture = Vec::with_capacity(wide as usize * height as usize * 4);
        let mut seed = 0x9e37_79b9u32;
        for y in 0..height {
            for x in 0..wide {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let noise = (seed >> 24) as f32 / 255.0 * 40.0;
                let (fx, fy) = (x as f32, y as f32);
                let wave = ((fx * 0.05).sin() * (fy * 0.03).cos() * 60.0) + 100.0;
                let stripe = if (x / 24 + y / 24) % 2 == 0 {
                    30.0
                } else {
                    0.0
                };
                texture.extend_from_slice(&[
                    (wave + noise) as u8,
                    (wave * 0.8 + stripe + noise) as u8,
                    (160.0 - wave * 0.5 + noise) as u8,
                    255,
                ]);
            }
        }
        Self {
            texture: Some(texture),
            ..Self::new(width, height)
        }
    }

    /// Frame `index`: the square's position (and a textured background's pan)
    /// follows the index.
    pub fn frame(&self, index: u64) -> Vec<u8> {
        let mut rgba = match &self.texture {
            Some(texture) => {
                let shift = ((index * 3) % u64::from(PAN)) as usize * 4;
                let wide_row = (self.width + PAN) as usize * 4;
                let row = self.width as usize * 4;
                let mut out = Vec::with_capacity(self.background.len());
                for y in 0..self.height as usize {
                    let start = y * wide_row + shift;
                    out.extend_from_slice(&texture[start..start + row]);
                }
                out
            }
            None => self.background.clone(),
        };
        let side = (self.height / 5).max(2);
        let span = u64::from(self.width.saturating_sub(side).max(1));
        let travel = (index * 8) % (2 * span);
        let x0 = if travel < span {
            travel
        } else {
            2 * span - travel
        } as u32;
        let y0 = (self.height - side) / 2;
        for y in y0..y0 + side {
            let row = (y * self.width) as usize * 4;
            for x in x0..(x0 + side).min(self.width) {
                let i = row + x as usize * 4;
                rgba[i..i + 4].copy_from_slice(&[230, 120, 40, 255]);
            }
        }
        rgba
    }

    /// A full-white frame.
    pub fn flash(&self) -> Vec<u8> {
        vec![255; self.background.len()]
    }
}

/// Records a synthetic clip to `path`. Returns the recorder's stats (check
/// `stats.error`: a failed write still returns the stats of what was kept).
pub fn record_synthetic(
    path: &Path,
    options: &SyntheticOptions,
) -> Result<RecordStats, RecordError> {
    let config = RecorderConfig {
        width: options.width,
        height: options.height,
        fps: options.fps as f32,
        audio: (options.audio_channels > 0).then_some(AudioSettings {
            channels: options.audio_channels,
            bitrate_bps: 64_000 * u32::from(options.audio_channels),
        }),
        ..RecorderConfig::default()
    };
    if options.fps == 0 || !(options.seconds.is_finite() && options.seconds > 0.0) {
        return Err(RecordError::Config("fps and seconds must be positive"));
    }
    let handle = Recorder::start(path, config)?;
    let scene = SyntheticScene::new(options.width, options.height);
    let channels = usize::from(options.audio_channels);
    let frames = (options.seconds * f64::from(options.fps)).round() as u64;
    let flash_frame = options
        .flash_at
        .map(|t| (t.as_secs_f64() * f64::from(options.fps)).round() as u64);
    // The beep starts exactly at the flash frame's presentation time.
    let beep_start = flash_frame.map_or(u64::MAX, |f| {
        f * u64::from(SAMPLE_RATE) / u64::from(options.fps)
    });
    let beep_len = (BEEP_DURATION.as_secs_f64() * f64::from(SAMPLE_RATE)) as u64;
    let mut beep = BeepSource::new(options.beep_hz, 0.6, beep_start, beep_len);
    let mut hum = SineSource::new(220.0, 0.05);
    let total_samples = frames * u64::from(SAMPLE_RATE) / u64::from(options.fps);
    let mut audio_pos = 0u64;

    for index in 0..frames {
        let pts = Duration::from_nanos(index * 1_000_000_000 / u64::from(options.fps));
        // Audio up to the end of this frame.
        let audio_until =
            ((index + 1) * u64::from(SAMPLE_RATE) / u64::from(options.fps)).min(total_samples);
        while channels > 0 && audio_pos < audio_until {
            let n = AUDIO_CHUNK_SAMPLES.min((total_samples - audio_pos) as usize);
            let beep_part = beep.next_chunk(n);
            let hum_part = hum.next_chunk(n);
            let mono: Vec<f32> = beep_part
                .iter()
                .zip(&hum_part)
                .map(|(b, h)| b + h)
                .collect();
            let mut samples = Vec::with_capacity(n * channels);
            for s in f32_to_i16(&mono) {
                samples.extend(std::iter::repeat_n(s, channels));
            }
            let chunk_pts =
                Duration::from_nanos(audio_pos * 1_000_000_000 / u64::from(SAMPLE_RATE));
            audio_pos += n as u64;
            let accepted = if options.realtime {
                handle.push_audio(samples, chunk_pts)
            } else {
                handle.push_audio_wait(AudioChunk {
                    samples,
                    pts: chunk_pts,
                })
            };
            if !accepted && !options.realtime {
                break;
            }
        }
        let rgba = if Some(index) == flash_frame {
            scene.flash()
        } else {
            scene.frame(index)
        };
        if options.realtime {
            let due = handle.origin() + pts;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            handle.push_video(rgba, options.width, options.height, pts);
        } else if !handle.push_video_wait(VideoFrame::rgba(
            rgba,
            options.width,
            options.height,
            pts,
        )) {
            // The recorder stopped (a write failed); its stats say why.
            break;
        }
        if handle.is_finished() {
            break;
        }
    }
    Ok(handle.stop())
}

/// Encoder timings on this machine.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EncodeBench {
    /// Mean RGBA→I420 + H.264 encode time per 1280x720 textured, panning frame
    /// (the recorder's per-frame work), in ms.
    pub encode_ms_per_frame_720p: f64,
    /// Mean RGB→I420 conversion time per 640x480 frame, in ms.
    pub rgb_to_yuv_ms_480p: f64,
    /// Mean alpha-pack + H.264 encode time per 640x480 cutout (a 640x960 frame,
    /// the network video track), in ms.
    pub packed_encode_ms_640x960: f64,
    /// Mean H.264 decode time per 640x960 packed frame, in ms.
    pub packed_decode_ms_640x960: f64,
    /// Frames timed for each figure.
    pub frames: u32,
}

fn time_frames<F>(frames: u32, warmup: u32, mut step: F) -> Result<f64, MediaError>
where
    F: FnMut(u64) -> Result<(), MediaError>,
{
    let mut elapsed = Duration::ZERO;
    for i in 0..u64::from(warmup + frames) {
        let started = Instant::now();
        step(i)?;
        if i >= u64::from(warmup) {
            elapsed += started.elapsed();
        }
    }
    Ok(elapsed.as_secs_f64() * 1000.0 / f64::from(frames))
}

/// Times the per-frame media work over `frames` synthetic frames each (after a
/// few warm-up frames): the recorder's 720p encode, 640x480 RGB→YUV, and the
/// network track's alpha-packed 640x960 encode and decode.
pub fn bench_encode(frames: u32) -> Result<EncodeBench, MediaError> {
    let frames = frames.max(1);
    let warmup = 5;

    let scene = SyntheticScene::textured(1280, 720);
    let inputs: Vec<Vec<u8>> = (0..32).map(|i| scene.frame(i)).collect();
    let config = H264Config {
        bitrate_bps: 4_000_000,
        keyframe_interval: 30,
        matrix: ColorMatrix::Bt709,
        ..H264Config::new(1280, 720)
    };
    let mut encoder = H264Encoder::new(config)?;
    let encode_ms = time_frames(frames, warmup, |i| {
        let rgba = &inputs[(i % inputs.len() as u64) as usize];
        encoder.encode_rgba(rgba, i * 33).map(|_| ())
    })?;

    let small = SyntheticScene::textured(640, 480).frame(7);
    let rgb: Vec<u8> = small
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut yuv = I420Frame::new(640, 480)?;
    let convert_ms = time_frames(frames, warmup, |_| {
        yuv.fill_from_rgb(&rgb, ColorMatrix::Bt601)
    })?;

    // A cutout: the textured scene inside an ellipse, transparent (and black) outside.
    let cut_scene = SyntheticScene::textured(640, 480);
    let cutouts: Vec<Vec<u8>> = (0..32)
        .map(|i| {
            let mut rgba = cut_scene.frame(i);
            for (j, px) in rgba.chunks_exact_mut(4).enumerate() {
                let (x, y) = ((j % 640) as f32, (j / 640) as f32);
                let (dx, dy) = ((x - 320.0 - i as f32) / 150.0, (y - 260.0) / 220.0);
                if dx * dx + dy * dy > 1.0 {
                    px.fill(0);
                }
            }
            rgba
        })
        .collect();
    let packed_config = H264Config {
        bitrate_bps: 600_000,
        allow_frame_skip: true,
        ..H264Config::new(640, 960)
    };
    let mut packed_encoder = H264Encoder::new(packed_config)?;
    let mut packed = I420Frame::new(640, 960)?;
    let mut stream = Vec::new();
    let packed_ms = time_frames(frames, warmup, |i| {
        let rgba = &cutouts[(i % cutouts.len() as u64) as usize];
        pack_cutout_into(rgba, 640, 480, ColorMatrix::Bt601, &mut packed)?;
        let encoded = packed_encoder.encode_i420(&packed, i * 33)?;
        stream.push(encoded.annex_b);
        Ok(())
    })?;
    let mut decoder = H264Decoder::new()?;
    let decode_ms = time_frames(frames, warmup, |i| {
        let unit = &stream[i as usize % stream.len()];
        if unit.is_empty() {
            return Ok(());
        }
        decoder.decode(unit).map(|_| ())
    })?;
    Ok(EncodeBench {
        encode_ms_per_frame_720p: encode_ms,
        rgb_to_yuv_ms_480p: convert_ms,
        packed_encode_ms_640x960: packed_ms,
        packed_decode_ms_640x960: decode_ms,
        frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_square_moves_between_frames() {
        let scene = SyntheticScene::new(64, 48);
        assert_ne!(scene.frame(0), scene.frame(1));
        assert!(scene.flash().iter().all(|&b| b == 255));
    }

    #[test]
    #[ignore = "benchmark: run with --ignored --nocapture"]
    fn bench_encode_prints_timings_over_120_frames() {
        let bench = bench_encode(120).expect("bench");
        eprintln!("{bench:?}");
    }

    #[test]
    fn bench_reports_positive_timings() {
        let bench = bench_encode(2).expect("bench");
        assert!(bench.encode_ms_per_frame_720p > 0.0);
        assert!(bench.rgb_to_yuv_ms_480p > 0.0);
        assert!(bench.packed_encode_ms_640x960 > 0.0);
    }

    #[test]
    fn a_textured_scene_pans_under_the_square() {
        let scene = SyntheticScene::textured(64, 48);
        let (a, b) = (scene.frame(0), scene.frame(1));
        assert_eq!(a.len(), 64 * 48 * 4);
        assert_ne!(a[..64 * 4], b[..64 * 4], "the top row (no square) moved");
    }
}
