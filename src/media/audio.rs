//! Audio at 48 kHz: synthetic sources (tone, speech-like, beep), a mixer for
//! mono/stereo i16/f32 buffers, and a Goertzel tone detector for tests and
//! measurements. Pure: sources are driven by sample counts, never by a clock.

/// The one sample rate used everywhere (Opus' native rate; defined by the voice
/// processing, the lowest layer that needs it).
pub use crate::talk::SAMPLE_RATE;

/// Something that produces mono f32 samples in [-1, 1], one after another.
pub trait AudioSource {
    /// Fills `out` with the next `out.len()` samples.
    fn fill(&mut self, out: &mut [f32]);

    /// The next `n` samples as a new buffer.
    fn next_chunk(&mut self, n: usize) -> Vec<f32> {
        let mut out = vec![0.0; n];
        self.fill(&mut out);
        out
    }
}

/// A steady sine tone.
#[derive(Clone, Debug)]
pub struct SineSource {
    frequency: f32,
    amplitude: f32,
    sample_rate: u32,
    index: u64,
}

impl SineSource {
    /// A tone of `frequency` Hz with peak `amplitude` at 48 kHz.
    pub fn new(frequency: f32, amplitude: f32) -> Self {
        Self {
            frequency,
            amplitude,
            sample_rate: SAMPLE_RATE,
            index: 0,
        }
    }
}

impl AudioSource for SineSource {
    fn fill(&mut self, out: &mut [f32]) {
        let step = std::f64::consts::TAU * f64::from(self.frequency) / f64::from(self.sample_rate);
        for s in out {
            // Phase from the sample index (mod one period) so it never drifts.
            let phase = (self.index as f64 * step) % std::f64::consts::TAU;
            *s = (phase.sin() as f32) * self.amplitude;
            self.index += 1;
        }
    }
}

/// A deterministic "speech-like" source: a voiced harmonic stack around
/// 120–180 Hz with a wandering pitch, shaped into 4–5 Hz syllables with short
/// pauses. Good enough to exercise codecs and voice-activity paths.
#[derive(Clone, Debug)]
pub struct SpeechLikeSource {
    amplitude: f32,
    index: u64,
    phase: f64,
    noise: u32,
}

impl SpeechLikeSource {
    /// A speech-like source with peak `amplitude`; `seed` varies the noise.
    pub fn new(amplitude: f32, seed: u32) -> Self {
        Self {
            amplitude,
            index: 0,
            phase: 0.0,
            noise: seed | 1,
        }
    }

    fn next_noise(&mut self) -> f32 {
        // xorshift32
        let mut x = self.noise;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.noise = x;
        (x as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}

impl AudioSource for SpeechLikeSource {
    fn fill(&mut self, out: &mut [f32]) {
        let sr = f64::from(SAMPLE_RATE);
        for s in out {
            let t = self.index as f64 / sr;
            let pitch = 150.0 + 30.0 * (t * 0.7 * std::f64::consts::TAU).sin();
            self.phase = (self.phase + std::f64::consts::TAU * pitch / sr) % std::f64::consts::TAU;
            let voiced: f64 = (1..=6)
                .map(|k| (self.phase * k as f64).sin() / k as f64)
                .sum::<f64>()
                * 0.5;
            // Syllables at ~4.5 Hz, every fourth one silent (a pause).
            let syllable = t * 4.5;
            let envelope = if (syllable as u64) % 4 == 3 {
                0.0
            } else {
                (syllable.fract() * std::f64::consts::PI).sin().powi(2)
            };
            let breath = f64::from(self.next_noise()) * 0.05;
            *s = (((voiced + breath) * envelope) as f32 * self.amplitude).clamp(-1.0, 1.0);
            self.index += 1;
        }
    }
}

/// Silence with one sine beep of `duration` samples starting at sample `start`.
#[derive(Clone, Debug)]
pub struct BeepSource {
    tone: SineSource,
    start: u64,
    duration: u64,
    index: u64,
}

impl BeepSource {
    /// A beep of `frequency` Hz and peak `amplitude` from sample `start` for `duration` samples.
    pub fn new(frequency: f32, amplitude: f32, start: u64, duration: u64) -> Self {
        Self {
            tone: SineSource::new(frequency, amplitude),
            start,
            duration,
            index: 0,
        }
    }

    /// The sample index where the beep begins.
    pub fn start(&self) -> u64 {
        self.start
    }
}

impl AudioSource for BeepSource {
    fn fill(&mut self, out: &mut [f32]) {
        let mut one = [0.0f32];
        for s in out {
            self.tone.fill(&mut one);
            let inside = self.index >= self.start && self.index < self.start + self.duration;
            *s = if inside { one[0] } else { 0.0 };
            self.index += 1;
        }
    }
}

/// A source switched on and off in turn: `period` of it, then `period` of
/// silence, and so on (a voice that speaks and pauses, for voice-activity tests).
#[derive(Clone, Debug)]
pub struct GatedSource<S> {
    inner: S,
    period: u64,
    index: u64,
}

impl<S: AudioSource> GatedSource<S> {
    /// `inner` for `period`, silence for `period`, repeating (at least 1 ms).
    pub fn new(inner: S, period: std::time::Duration) -> Self {
        let samples = (period.as_secs_f64() * f64::from(SAMPLE_RATE)) as u64;
        Self {
            inner,
            period: samples.max(u64::from(SAMPLE_RATE / 1000)),
            index: 0,
        }
    }
}

impl<S: AudioSource> AudioSource for GatedSource<S> {
    fn fill(&mut self, out: &mut [f32]) {
        self.inner.fill(out);
        for s in out {
            if (self.index / self.period) % 2 == 1 {
                *s = 0.0;
            }
            self.index += 1;
        }
    }
}

/// Converts f32 in [-1, 1] to i16 (clamped).
pub fn f32_to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&s| (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16)
        .collect()
}

/// Converts i16 to f32 in [-1, 1].
pub fn i16_to_f32(samples: &[i16]) -> Vec<f32> {
    samples
        .iter()
        .map(|&s| f32::from(s) / f32::from(i16::MAX))
        .collect()
}

/// Sums several 48 kHz streams into one output layout (mono or stereo).
///
/// Inputs may be mono or stereo (interleaved), i16 or f32, of any length:
/// mono is copied to both output channels, stereo is averaged for a mono
/// output, and shorter inputs are treated as silence past their end. The
/// result is clamped to [-1, 1] (hard clip: keep gains sensible).
#[derive(Clone, Debug)]
pub struct Mixer {
    channels: u16,
    acc: Vec<f32>,
}

impl Mixer {
    /// A mixer whose output has `channels` (1 or 2) interleaved channels.
    pub fn new(channels: u16) -> Result<Self, super::MediaError> {
        check_channels(channels)?;
        Ok(Self {
            channels,
            acc: Vec::new(),
        })
    }

    /// Adds an f32 input with `channels` (1 or 2) at `gain`.
    pub fn add_f32(
        &mut self,
        samples: &[f32],
        channels: u16,
        gain: f32,
    ) -> Result<(), super::MediaError> {
        check_channels(channels)?;
        let in_ch = usize::from(channels);
        if !samples.len().is_multiple_of(in_ch) {
            return Err(super::MediaError::BufferLength {
                expected: samples.len() / in_ch * in_ch,
                actual: samples.len(),
            });
        }
        let frames = samples.len() / in_ch;
        let out_ch = usize::from(self.channels);
        if self.acc.len() < frames * out_ch {
            self.acc.resize(frames * out_ch, 0.0);
        }
        for (i, frame) in samples.chunks_exact(in_ch).enumerate() {
            let out = &mut self.acc[i * out_ch..(i + 1) * out_ch];
            match (in_ch, out_ch) {
                (1, 1) => out[0] += frame[0] * gain,
                (1, _) => {
                    out[0] += frame[0] * gain;
                    out[1] += frame[0] * gain;
                }
                (_, 1) => out[0] += (frame[0] + frame[1]) * 0.5 * gain,
                _ => {
                    out[0] += frame[0] * gain;
                    out[1] += frame[1] * gain;
                }
            }
        }
        Ok(())
    }

    /// Adds an i16 input with `channels` (1 or 2) at `gain`.
    pub fn add_i16(
        &mut self,
        samples: &[i16],
        channels: u16,
        gain: f32,
    ) -> Result<(), super::MediaError> {
        self.add_f32(&i16_to_f32(samples), channels, gain)
    }

    /// The mix so far as f32 (clamped), and resets the mixer.
    pub fn finish_f32(&mut self) -> Vec<f32> {
        let mut out = std::mem::take(&mut self.acc);
        for s in &mut out {
            *s = s.clamp(-1.0, 1.0);
        }
        out
    }

    /// The mix so far as i16 (clamped), and resets the mixer.
    pub fn finish_i16(&mut self) -> Vec<i16> {
        f32_to_i16(&self.finish_f32())
    }
}

fn check_channels(channels: u16) -> Result<(), super::MediaError> {
    if channels == 1 || channels == 2 {
        Ok(())
    } else {
        Err(super::MediaError::Channels(channels))
    }
}

/// Amplitude of the `frequency` component in `samples` (Goertzel): a full-scale
/// sine of that frequency gives about its peak amplitude, other content ≈ 0.
pub fn tone_amplitude(samples: &[f32], sample_rate: u32, frequency: f32) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let n = samples.len() as f64;
    let w = std::f64::consts::TAU * f64::from(frequency) / f64::from(sample_rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    (2.0 * power.max(0.0).sqrt() / n) as f32
}

/// Root mean square of `samples`.
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// The first sample index where a `frequency` tone rises above `threshold`
/// amplitude, scanning windows of `window` samples with hop `hop`, then refining
/// to the first sample in that window whose envelope reaches half the window's
/// level. `None` if the tone never appears.
pub fn find_tone_onset(
    samples: &[f32],
    sample_rate: u32,
    frequency: f32,
    window: usize,
    hop: usize,
    threshold: f32,
) -> Option<usize> {
    if window == 0 || hop == 0 || samples.len() < window {
        return None;
    }
    let mut start = 0;
    while start + window <= samples.len() {
        let level = tone_amplitude(&samples[start..start + window], sample_rate, frequency);
        if level >= threshold {
            // The window overlaps the onset; the first loud sample inside it marks it.
            let half = level * 0.5;
            let first = samples[start..start + window]
                .iter()
                .position(|s| s.abs() >= half)
                .unwrap_or(0);
            return Some(start + first);
        }
        start += hop;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goertzel_measures_the_amplitude_of_a_matching_tone() {
        let tone = SineSource::new(1000.0, 0.5).next_chunk(4800);
        let level = tone_amplitude(&tone, SAMPLE_RATE, 1000.0);
        assert!((level - 0.5).abs() < 0.02, "level {level}");
    }

    #[test]
    fn goertzel_ignores_a_different_frequency() {
        let tone = SineSource::new(440.0, 0.8).next_chunk(4800);
        assert!(tone_amplitude(&tone, SAMPLE_RATE, 1000.0) < 0.02);
    }

    #[test]
    fn beep_onset_is_found_within_a_millisecond() {
        let start = 12_345;
        let samples = BeepSource::new(1000.0, 0.6, start, 4800).next_chunk(48_000);
        let onset = find_tone_onset(&samples, SAMPLE_RATE, 1000.0, 480, 48, 0.1).expect("onset");
        assert!(onset.abs_diff(start as usize) <= 48, "onset {onset}");
    }

    #[test]
    fn silence_has_no_onset() {
        assert_eq!(
            find_tone_onset(&[0.0; 4800], SAMPLE_RATE, 1000.0, 480, 48, 0.05),
            None
        );
    }

    #[test]
    fn speech_like_source_is_voiced_with_pauses() {
        let samples = SpeechLikeSource::new(0.5, 7).next_chunk(SAMPLE_RATE as usize * 2);
        assert!(rms(&samples) > 0.03);
        // Some 50 ms windows are near-silent (pauses), some loud (syllables).
        let windows: Vec<f32> = samples.chunks(2400).map(rms).collect();
        assert!(windows.iter().any(|&r| r < 0.01));
        assert!(windows.iter().any(|&r| r > 0.08));
    }

    #[test]
    fn mixer_sums_mono_and_stereo_into_stereo() {
        let mut mixer = Mixer::new(2).expect("stereo");
        mixer.add_f32(&[0.25, 0.5], 1, 1.0).expect("mono");
        mixer
            .add_f32(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 2, 1.0)
            .expect("stereo");
        let out = mixer.finish_f32();
        let expected = [0.35, 0.45, 0.8, 0.9, 0.5, 0.6];
        assert_eq!(out.len(), expected.len());
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn mixer_downmixes_stereo_and_clips_i16() {
        let mut mixer = Mixer::new(1).expect("mono");
        mixer
            .add_i16(&[i16::MAX, i16::MAX], 2, 1.0)
            .expect("stereo in");
        mixer.add_i16(&[i16::MAX], 1, 1.0).expect("mono in");
        assert_eq!(mixer.finish_i16(), vec![i16::MAX]);
        assert!(Mixer::new(3).is_err());
        assert!(mixer.add_f32(&[0.0; 3], 2, 1.0).is_err());
    }

    #[test]
    fn a_gated_source_alternates_sound_and_silence() {
        let period = std::time::Duration::from_millis(100);
        let mut gated = GatedSource::new(SineSource::new(1000.0, 0.5), period);
        let samples = gated.next_chunk(4 * 4800);
        let windows: Vec<f32> = samples.chunks(4800).map(rms).collect();
        assert!(windows[0] > 0.3 && windows[2] > 0.3, "{windows:?}");
        assert_eq!(windows[1], 0.0);
        assert_eq!(windows[3], 0.0);
    }
}
