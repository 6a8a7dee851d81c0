//! [`EchoCanceller`]: WebRTC's AEC3 echo canceller (the `aec3` crate, a Rust port
//! that exposes AEC3's tuning), set up for a laptop in a living room: a linear
//! filter long enough for a room's reverberant tail, and a suppressor that trusts
//! it, so that the near-end voice survives while both people talk.
//!
//! Why this tuning ([`room_config`]), measured on the echo test's simulated room
//! (`tests/it/talk.rs`: 40–120 ms echo path, 250 ms reverberant tail, the echo as
//! loud as the near-end talker), after 20 s of far-end speech:
//! - AEC3's default 13-block (52 ms) linear filter removes about 12 dB of this
//!   room's echo; the rest is left to the suppressor, which takes the near end with
//!   it in double talk (envelope correlation 0.70 / 0.76 with the clean near end).
//! - A 50-block (200 ms) filter removes about 25 dB once converged (10–20 s).
//! - With the suppressor's ERLE ceilings raised to what that filter reaches, a
//!   short reverberation model, and the near-end masks opened, double talk keeps
//!   the near end at 0.92–0.95 while the echo-only ERLE stays near 40 dB.

use aec3::api::config::EchoCanceller3Config;
use aec3::nodes::audio::AudioFormat;
use aec3::pipelines::linear::{self, LinearPipeline};

use super::SAMPLE_RATE;
use super::error::TalkError;
use super::processor::FRAME_10MS;

/// AEC3's linear filter length, in 4 ms blocks (200 ms).
pub const FILTER_BLOCKS: usize = 50;

/// AEC3's configuration for a laptop in a room (see the module's notes).
pub fn room_config() -> EchoCanceller3Config {
    let mut c = EchoCanceller3Config::default();
    for filter in [&mut c.filter.main, &mut c.filter.main_initial] {
        filter.length_blocks = FILTER_BLOCKS;
    }
    for filter in [&mut c.filter.shadow, &mut c.filter.shadow_initial] {
        filter.length_blocks = FILTER_BLOCKS;
    }
    // The suppressor may assume the linear filter removes up to ~25 dB (low
    // bands) and 20 dB (high) rather than 6 dB and 2 dB.
    c.erle.max_l = 300.0;
    c.erle.max_h = 100.0;
    // The residual's reverberation: the long filter holds the tail itself.
    c.ep_strength.default_len = 0.1;
    c.ep_strength.nearend_len = 0.1;
    // A float signal beyond full scale is not a saturated microphone.
    c.ep_strength.echo_can_saturate = false;
    // Where the near end dominates, pass it unless the echo is far above it.
    let nearend = &mut c.suppressor.nearend_tuning;
    nearend.mask_lf.enr_transparent = 2.0;
    nearend.mask_lf.enr_suppress = 2.01;
    nearend.mask_hf.enr_transparent = 1.0;
    nearend.mask_hf.enr_suppress = 1.2;
    c
}

/// Echo cancellation for one microphone: mono 48 kHz, 10 ms frames.
pub struct EchoCanceller {
    pipeline: LinearPipeline,
    out: Vec<f32>,
    /// Capture frames for which the canceller had no output (filled with silence).
    missed_frames: u64,
}

impl std::fmt::Debug for EchoCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoCanceller")
            .field("missed_frames", &self.missed_frames)
            .finish_non_exhaustive()
    }
}

fn processing(e: impl std::fmt::Display) -> TalkError {
    TalkError::Processing(format!("echo canceller: {e}"))
}

impl EchoCanceller {
    /// A canceller with [`room_config`], its high-pass filter on, and nothing else
    /// (noise suppression and gain control run after it, in `VoiceProcessor`).
    pub fn new() -> Result<Self, TalkError> {
        Self::with_config(room_config())
    }

    /// A canceller with the given AEC3 configuration (to compare tunings).
    pub fn with_config(config: EchoCanceller3Config) -> Result<Self, TalkError> {
        let format = AudioFormat::ten_ms(SAMPLE_RATE, 1);
        let pipeline = linear::builder(format, format)
            .aec3_config(config)
            .enable_noise_suppression(false)
            .enable_gain_controller2(false)
            .export_metrics(true)
            .build()
            .map_err(processing)?;
        Ok(Self {
            pipeline,
            out: vec![0.0; FRAME_10MS],
            missed_frames: 0,
        })
    }

    /// Hands over one 10 ms frame of what the speaker played.
    pub fn push_far_frame(&mut self, frame: &[f32]) -> Result<(), TalkError> {
        self.pipeline.handle_render_frame(frame).map_err(processing)
    }

    /// Removes the echo from one 10 ms microphone frame in place.
    pub fn process(&mut self, frame: &mut [f32]) -> Result<(), TalkError> {
        let produced = self
            .pipeline
            .process_capture_frame(frame, &mut self.out)
            .map_err(processing)?;
        if !produced {
            self.missed_frames += 1;
        }
        frame.copy_from_slice(&self.out);
        Ok(())
    }

    /// The canceller's latest ERLE estimate (dB) and echo path delay (ms).
    pub fn metrics(&mut self) -> Option<(f64, i32)> {
        let m = self.pipeline.try_pull_metrics().ok().flatten()?;
        let m = m.payload();
        Some((m.echo_return_loss_enhancement, m.delay_ms))
    }

    /// Capture frames the canceller produced nothing for.
    pub fn missed_frames(&self) -> u64 {
        self.missed_frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_config_is_valid_as_it_stands() {
        // AEC3 clamps what is out of range; nothing may need clamping.
        let mut c = room_config();
        assert!(c.validate());
        assert_eq!(c.filter.main.length_blocks, FILTER_BLOCKS);
    }

    /// A noise far end through a 30 ms, 3-tap echo path: after 4 s most of it is
    /// gone from the microphone.
    #[test]
    fn a_linear_echo_is_learnt_and_removed() {
        let mut aec = EchoCanceller::new().expect("canceller");
        let mut seed = 1u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
        };
        let far: Vec<f32> = (0..5 * SAMPLE_RATE as usize)
            .map(|_| 0.2 * noise())
            .collect();
        let d = SAMPLE_RATE as usize * 30 / 1000;
        let echo: Vec<f32> = (0..far.len())
            .map(|i| {
                let at = |k: usize| if i >= k { far[i - k] } else { 0.0 };
                0.5 * at(d) - 0.25 * at(d + 40) + 0.1 * at(d + 700)
            })
            .collect();
        let (mut before, mut after) = (0.0f64, 0.0f64);
        for (i, (far, echo)) in far
            .chunks_exact(FRAME_10MS)
            .zip(echo.chunks_exact(FRAME_10MS))
            .enumerate()
        {
            aec.push_far_frame(far).expect("far end");
            let mut mic = echo.to_vec();
            aec.process(&mut mic).expect("capture");
            if i >= 400 {
                before += echo.iter().map(|s| f64::from(s * s)).sum::<f64>();
                after += mic.iter().map(|s| f64::from(s * s)).sum::<f64>();
            }
        }
        let erle = 10.0 * (before / after).log10();
        assert!(erle > 25.0, "ERLE {erle:.1} dB");
        assert_eq!(aec.missed_frames(), 0);
        assert!(aec.metrics().is_some());
    }
}
