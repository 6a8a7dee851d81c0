//! Who is speaking: voice activity from the level of a voice, with a hangover, and
//! the glow that shows it. Pure; time is counted in samples (48 kHz) and seconds
//! passed in.
//!
//! [`VoiceActivity`] looks at 10 ms frames. A frame is speech when its level is
//! above an absolute floor ([`SPEECH_FLOOR_DBFS`]) and [`ABOVE_NOISE_DB`] above the
//! voice's own noise floor (which follows quiet frames down at once and rises
//! slowly). Two speech frames in a row start speaking (so a click does not), and
//! speaking ends after [`HANGOVER`] seconds without a speech frame, so the pauses
//! between words do not flicker. [`Glow`] turns that into an intensity: up within
//! [`GLOW_ATTACK`], down over [`GLOW_RELEASE`] once speaking has ended.

use crate::media::audio::SAMPLE_RATE;

/// Samples per analysed frame (10 ms).
pub const FRAME: usize = SAMPLE_RATE as usize / 100;
/// Consecutive speech frames that start speaking.
pub const ONSET_FRAMES: u32 = 2;
/// Seconds without speech after which speaking ends.
pub const HANGOVER: f32 = 0.5;
/// Below this level (dB full scale, RMS) nothing is speech.
pub const SPEECH_FLOOR_DBFS: f32 = -50.0;
/// Speech stands at least this far above the voice's noise floor.
pub const ABOVE_NOISE_DB: f32 = 10.0;
/// How fast the noise floor may rise, dB per second (it falls at once).
pub const NOISE_RISE_DB_PER_S: f32 = 3.0;
/// Seconds the glow takes to come up fully.
pub const GLOW_ATTACK: f32 = 0.06;
/// Seconds the glow takes to fade out after speaking ended.
pub const GLOW_RELEASE: f32 = 0.3;

/// Voice activity of one voice.
#[derive(Debug, Clone)]
pub struct VoiceActivity {
    partial: Vec<f32>,
    noise_db: f32,
    run: u32,
    speaking: bool,
    since_speech: usize,
    level_db: f32,
}

impl Default for VoiceActivity {
    fn default() -> Self {
        Self {
            partial: Vec::with_capacity(FRAME),
            noise_db: SPEECH_FLOOR_DBFS - ABOVE_NOISE_DB,
            run: 0,
            speaking: false,
            since_speech: usize::MAX / 2,
            level_db: -120.0,
        }
    }
}

impl VoiceActivity {
    /// Takes the next samples of the voice (48 kHz mono; silence included).
    pub fn push(&mut self, samples: &[f32]) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (FRAME - self.partial.len()).min(rest.len());
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            self.finish_full_frame();
        }
    }

    /// `n` samples of silence (nothing arrived for the voice).
    pub fn push_silence(&mut self, n: usize) {
        let mut left = n;
        while left > 0 {
            let take = (FRAME - self.partial.len()).min(left);
            self.partial.resize(self.partial.len() + take, 0.0);
            left -= take;
            self.finish_full_frame();
        }
    }

    /// Judges the pending frame once it holds `FRAME` samples.
    fn finish_full_frame(&mut self) {
        if self.partial.len() == FRAME {
            let energy: f64 = self
                .partial
                .iter()
                .map(|&s| f64::from(s) * f64::from(s))
                .sum();
            self.partial.clear();
            self.frame((energy / FRAME as f64).sqrt() as f32);
        }
    }

    fn frame(&mut self, rms: f32) {
        let db = 20.0 * rms.max(1e-6).log10();
        self.level_db = db;
        let frame_s = FRAME as f32 / SAMPLE_RATE as f32;
        let speech = db > SPEECH_FLOOR_DBFS && db > self.noise_db + ABOVE_NOISE_DB;
        // The floor follows quiet frames down at once and creeps up under a steady
        // sound, so a steady hum stops counting as speech after a while.
        if db < self.noise_db {
            self.noise_db = db;
        } else {
            self.noise_db = (self.noise_db + NOISE_RISE_DB_PER_S * frame_s).min(db);
        }
        if speech {
            self.run += 1;
            if self.run >= ONSET_FRAMES {
                self.speaking = true;
            }
            if self.speaking {
                self.since_speech = 0;
            }
        } else {
            self.run = 0;
            self.since_speech = self.since_speech.saturating_add(FRAME);
            if self.since_speech as f32 / SAMPLE_RATE as f32 >= HANGOVER {
                self.speaking = false;
            }
        }
    }

    /// Whether the voice is speaking now.
    pub fn speaking(&self) -> bool {
        self.speaking
    }

    /// The last frame's level, dB full scale.
    pub fn level_db(&self) -> f32 {
        self.level_db
    }
}

/// The speaking glow's intensity (0–1), following [`VoiceActivity::speaking`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Glow(pub f32);

impl Glow {
    /// Advances by `dt` seconds while speaking is `speaking`; the new intensity.
    pub fn step(&mut self, speaking: bool, dt: f32) -> f32 {
        let dt = if dt.is_finite() { dt.max(0.0) } else { 0.0 };
        self.0 = if speaking {
            (self.0 + dt / GLOW_ATTACK).min(1.0)
        } else {
            (self.0 - dt / GLOW_RELEASE).max(0.0)
        };
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::audio::{AudioSource, SineSource};

    const MS: usize = SAMPLE_RATE as usize / 1000;

    /// Feeds `samples` 1 ms at a time; the ms (from the start) at which speaking
    /// changed, and to what.
    fn changes(vad: &mut VoiceActivity, samples: &[f32], offset_ms: usize) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        let mut was = vad.speaking();
        for (i, chunk) in samples.chunks(MS).enumerate() {
            vad.push(chunk);
            if vad.speaking() != was {
                was = vad.speaking();
                out.push((offset_ms + i + 1, was));
            }
        }
        out
    }

    #[test]
    fn speaking_starts_within_150_ms_and_ends_500_ms_after_the_voice_stops() {
        let mut vad = VoiceActivity::default();
        let mut tone = SineSource::new(440.0, 0.3);
        let mut at = 0;
        assert!(changes(&mut vad, &vec![0.0; 1000 * MS], at).is_empty());
        at += 1000;
        let on = changes(&mut vad, &tone.next_chunk(1500 * MS), at);
        assert_eq!(on.len(), 1, "{on:?}");
        let (when, speaking) = on[0];
        assert!(speaking);
        assert!(when - at <= 150, "lit {} ms after the onset", when - at);
        assert!(when - at >= 10, "not on the first sample");
        at += 1500;
        let off = changes(&mut vad, &vec![0.0; 1500 * MS], at);
        assert_eq!(off.len(), 1, "{off:?}");
        let (when, speaking) = off[0];
        assert!(!speaking);
        let after = when - at;
        assert!(
            (500..=520).contains(&after),
            "ended {after} ms into the silence"
        );
    }

    #[test]
    fn pauses_shorter_than_the_hangover_keep_speaking_and_a_click_does_not_start_it() {
        let mut vad = VoiceActivity::default();
        let mut tone = SineSource::new(300.0, 0.2);
        vad.push(&tone.next_chunk(300 * MS));
        assert!(vad.speaking());
        vad.push_silence(400 * MS);
        assert!(vad.speaking(), "a 400 ms pause is still speech");
        vad.push(&tone.next_chunk(100 * MS));
        vad.push_silence(600 * MS);
        assert!(!vad.speaking());
        // One loud 10 ms frame alone.
        vad.push(&tone.next_chunk(10 * MS));
        vad.push_silence(10 * MS);
        assert!(!vad.speaking(), "a click is not speech");
        // Quiet hiss under the floor is not speech.
        let mut quiet = VoiceActivity::default();
        quiet.push(&SineSource::new(300.0, 0.002).next_chunk(500 * MS));
        assert!(!quiet.speaking());
    }

    #[test]
    fn the_glow_rises_fast_and_fades_after_speaking_ends() {
        let mut glow = Glow::default();
        let mut t = 0.0;
        while glow.0 < 1.0 {
            glow.step(true, 1.0 / 60.0);
            t += 1.0 / 60.0;
        }
        assert!(t <= GLOW_ATTACK + 0.02, "full after {t} s");
        glow.step(false, GLOW_RELEASE / 2.0);
        assert!((glow.0 - 0.5).abs() < 1e-4);
        glow.step(false, 1.0);
        assert_eq!(glow.0, 0.0);
    }
}
