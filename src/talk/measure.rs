//! Measurements of voice processing on recorded or simulated signals: echo return
//! loss enhancement, correlation with a clean signal (of the waveform, and of the
//! short-time spectral envelopes, [`envelope_correlation`]), signal-to-noise ratio.
//! Pure; used by the echo and noise tests and by `samespace bench`.

use realfft::RealFftPlanner;

use super::SAMPLE_RATE;
use super::error::TalkError;

/// Mean square of `x` (0 for an empty slice).
pub fn power(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len() as f64
}

/// `10·log10(a / b)`, with both floored at 1e-20 so silence gives a large finite number.
pub fn db_ratio(a: f64, b: f64) -> f64 {
    10.0 * (a.max(1e-20) / b.max(1e-20)).log10()
}

/// Echo return loss enhancement: how much quieter the processed signal `out` is
/// than the microphone signal `mic` over the same span in which only echo is
/// present (no near-end speech), dB.
pub fn erle_db(mic: &[f32], out: &[f32]) -> Result<f64, TalkError> {
    if mic.len() != out.len() {
        return Err(TalkError::LengthMismatch {
            left: mic.len(),
            right: out.len(),
        });
    }
    if power(mic) <= 0.0 {
        return Err(TalkError::Empty("the microphone signal is silent"));
    }
    Ok(db_ratio(power(mic), power(out)))
}

/// Pearson correlation of two equally long signals (0 when either is constant).
pub fn correlation(a: &[f32], b: &[f32]) -> Result<f64, TalkError> {
    if a.len() != b.len() {
        return Err(TalkError::LengthMismatch {
            left: a.len(),
            right: b.len(),
        });
    }
    if a.is_empty() {
        return Err(TalkError::Empty("no samples to correlate"));
    }
    let n = a.len() as f64;
    let mean = |x: &[f32]| x.iter().map(|&s| f64::from(s)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        return Ok(0.0);
    }
    Ok(ab / (aa * bb).sqrt())
}

/// The highest [`correlation`] of `processed[start + lag ..]` with
/// `clean[start ..]` over `len` samples, for lags `0..=max_lag` (processing may
/// delay the signal a little); returns the correlation and the lag.
pub fn aligned_correlation(
    clean: &[f32],
    processed: &[f32],
    start: usize,
    len: usize,
    max_lag: usize,
) -> Result<(f64, usize), TalkError> {
    let end = start + len;
    if clean.len() < end || processed.len() < end {
        return Err(TalkError::LengthMismatch {
            left: clean.len().min(processed.len()),
            right: end,
        });
    }
    let mut best = (f64::MIN, 0);
    for lag in 0..=max_lag.min(processed.len() - end) {
        let c = correlation(&clean[start..end], &processed[start + lag..end + lag])?;
        if c > best.0 {
            best = (c, lag);
        }
    }
    Ok(best)
}

/// Which frames of a clean speech signal hold speech and which hold none.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeechActivity {
    /// Samples per frame.
    pub frame: usize,
    /// Frames whose clean power is within 30 dB of the loudest frame.
    pub active: Vec<usize>,
    /// Frames whose clean power is more than 60 dB below the loudest frame.
    pub silent: Vec<usize>,
}

impl SpeechActivity {
    /// Classifies the `frame`-sample frames of `clean` from `from_frame` on.
    pub fn of(clean: &[f32], frame: usize, from_frame: usize) -> Self {
        let powers: Vec<f64> = clean.chunks_exact(frame).map(power).collect();
        let loudest = powers.iter().copied().fold(0.0, f64::max);
        let mut active = Vec::new();
        let mut silent = Vec::new();
        for (i, &p) in powers.iter().enumerate().skip(from_frame) {
            if p >= loudest * 1e-3 {
                active.push(i);
            } else if p <= loudest * 1e-6 {
                silent.push(i);
            }
        }
        Self {
            frame,
            active,
            silent,
        }
    }

    fn mean_power(&self, x: &[f32], frames: &[usize]) -> f64 {
        let total: f64 = frames
            .iter()
            .map(|&i| power(&x[i * self.frame..(i + 1) * self.frame]))
            .sum();
        total / frames.len().max(1) as f64
    }

    /// Active-speech SNR of `x` (clean speech plus noise, possibly processed), dB:
    /// the power in speech frames less the power in speech-free frames (the noise
    /// floor), over that floor.
    pub fn snr_db(&self, x: &[f32]) -> Result<f64, TalkError> {
        if self.active.is_empty() || self.silent.is_empty() {
            return Err(TalkError::Empty("speech or speech-free frames"));
        }
        let last = self
            .active
            .iter()
            .chain(&self.silent)
            .max()
            .copied()
            .unwrap_or(0);
        if x.len() < (last + 1) * self.frame {
            return Err(TalkError::LengthMismatch {
                left: x.len(),
                right: (last + 1) * self.frame,
            });
        }
        let noise = self.mean_power(x, &self.silent);
        let active = self.mean_power(x, &self.active);
        Ok(db_ratio((active - noise).max(noise * 1e-3), noise))
    }

    /// Mean power of `x` over the speech frames.
    pub fn active_power(&self, x: &[f32]) -> f64 {
        self.mean_power(x, &self.active)
    }
}

/// Samples per analysis frame of [`envelope_correlation`]: 21.3 ms at 48 kHz.
pub const ENVELOPE_FRAME: usize = 1024;
/// Frames advance by half a frame.
const ENVELOPE_HOP: usize = ENVELOPE_FRAME / 2;
/// Frames per correlated segment: 36 hops, 384 ms (STOI's segment length).
const ENVELOPE_SEGMENT: usize = 36;
/// Third-octave bands from 150 Hz (centres 150 Hz … 7.6 kHz).
const ENVELOPE_BANDS: usize = 18;
/// Frames of the clean signal more than this far below its loudest frame are
/// pauses, left out (STOI's silent-frame removal).
const ENVELOPE_RANGE_DB: f64 = 40.0;

/// How well `processed` keeps the speech of `clean` regardless of phase: the mean
/// correlation of their short-time spectral magnitude envelopes, as STOI (short-time
/// objective intelligibility) computes it, without its clipping step.
///
/// Both signals (48 kHz, equally long, already aligned) are cut into Hann-windowed
/// frames of [`ENVELOPE_FRAME`] samples at half-frame hops; each frame's spectrum
/// is summed into 18 third-octave bands (150 Hz – 8.5 kHz), whose square-rooted
/// energies are the band envelopes. Frames where `clean` pauses (over 40 dB below
/// its loudest frame) are dropped from both. Then, for every band and every run of
/// 36 frames (384 ms), the Pearson correlation of the clean envelope with the
/// processed one; the result is their mean (1: the same envelopes up to a scale,
/// whatever happened to the phases; echo, noise or suppression of the speech
/// lower it).
///
/// Waveform [`correlation`] is no use for speech that went through filter banks:
/// their phase shifts alone bring it to about 0.8 for an output that sounds the same.
pub fn envelope_correlation(clean: &[f32], processed: &[f32]) -> Result<f64, TalkError> {
    if clean.len() != processed.len() {
        return Err(TalkError::LengthMismatch {
            left: clean.len(),
            right: processed.len(),
        });
    }
    let energy: Vec<f64> = clean
        .windows(ENVELOPE_FRAME)
        .step_by(ENVELOPE_HOP)
        .map(power)
        .collect();
    let loudest = energy.iter().copied().fold(0.0, f64::max);
    let floor = loudest * 10f64.powf(-ENVELOPE_RANGE_DB / 10.0);
    let speech: Vec<bool> = energy.iter().map(|&e| e > 0.0 && e >= floor).collect();
    let kept = |envelopes: Vec<[f64; ENVELOPE_BANDS]>| -> Vec<[f64; ENVELOPE_BANDS]> {
        envelopes
            .into_iter()
            .zip(&speech)
            .filter_map(|(e, &s)| s.then_some(e))
            .collect()
    };
    let x = kept(band_envelopes(clean));
    let y = kept(band_envelopes(processed));
    if x.len() < ENVELOPE_SEGMENT {
        return Err(TalkError::Empty(
            "under 384 ms of speech in the clean signal",
        ));
    }
    let mut total = 0.0;
    let mut count = 0usize;
    let (mut xs, mut ys) = ([0.0; ENVELOPE_SEGMENT], [0.0; ENVELOPE_SEGMENT]);
    for end in ENVELOPE_SEGMENT..=x.len() {
        let start = end - ENVELOPE_SEGMENT;
        for band in 0..ENVELOPE_BANDS {
            for (i, (a, b)) in xs.iter_mut().zip(ys.iter_mut()).enumerate() {
                (*a, *b) = (x[start + i][band], y[start + i][band]);
            }
            total += pearson(&xs, &ys);
            count += 1;
        }
    }
    Ok(total / count as f64)
}

/// The third-octave band magnitudes of each half-overlapping frame of `x`.
fn band_envelopes(x: &[f32]) -> Vec<[f64; ENVELOPE_BANDS]> {
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(ENVELOPE_FRAME);
    let window: Vec<f64> = (0..ENVELOPE_FRAME)
        .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / ENVELOPE_FRAME as f64).cos())
        .collect();
    let bin_hz = f64::from(SAMPLE_RATE) / ENVELOPE_FRAME as f64;
    let bands: Vec<(usize, usize)> = (0..ENVELOPE_BANDS)
        .map(|k| {
            let centre = 150.0 * 2f64.powf(k as f64 / 3.0);
            let low = (centre * 2f64.powf(-1.0 / 6.0) / bin_hz).round() as usize;
            let high = (centre * 2f64.powf(1.0 / 6.0) / bin_hz).round() as usize;
            (low, high.max(low + 1))
        })
        .collect();
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    x.windows(ENVELOPE_FRAME)
        .step_by(ENVELOPE_HOP)
        .map(|frame| {
            for ((slot, &s), w) in input.iter_mut().zip(frame).zip(&window) {
                *slot = f64::from(s) * w;
            }
            fft.process(&mut input, &mut spectrum)
                .expect("buffers sized by the plan");
            let mut envelope = [0.0; ENVELOPE_BANDS];
            for (e, &(low, high)) in envelope.iter_mut().zip(&bands) {
                *e = spectrum[low..high]
                    .iter()
                    .map(|c| c.norm_sqr())
                    .sum::<f64>()
                    .sqrt();
            }
            envelope
        })
        .collect()
}

/// Pearson correlation (0 when either side is constant).
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x - ma, y - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erle_of_a_signal_ten_times_quieter_is_20_db() {
        let mic: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.1).sin()).collect();
        let out: Vec<f32> = mic.iter().map(|s| s * 0.1).collect();
        let e = erle_db(&mic, &out).expect("erle");
        assert!((e - 20.0).abs() < 1e-6, "{e}");
        assert!(erle_db(&mic, &out[..10]).is_err());
        assert!(erle_db(&[0.0; 4], &[0.0; 4]).is_err());
    }

    #[test]
    fn correlation_ignores_scale_and_finds_the_lag() {
        let a: Vec<f32> = (0..2000)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let b: Vec<f32> = a.iter().map(|s| s * -3.0).collect();
        assert!((correlation(&a, &b).expect("corr") + 1.0).abs() < 1e-9);
        // `processed` = `clean` delayed by 5 samples.
        let mut delayed = vec![0.0; 5];
        delayed.extend_from_slice(&a);
        let (c, lag) = aligned_correlation(&a, &delayed, 100, 1500, 20).expect("aligned");
        assert_eq!(lag, 5);
        assert!(c > 0.999, "{c}");
    }

    #[test]
    fn snr_of_speech_frames_over_the_noise_floor() {
        // Speech (power 1) in frames 0..10, nothing in frames 10..20; noise of power 0.01.
        let frame = 100;
        let clean: Vec<f32> = (0..20 * frame)
            .map(|i| {
                if i < 10 * frame {
                    if i % 2 == 0 { 1.0 } else { -1.0 }
                } else {
                    0.0
                }
            })
            .collect();
        let noise: Vec<f32> = (0..20 * frame)
            .map(|i| if i % 2 == 0 { 0.1 } else { -0.1 })
            .collect();
        let noisy: Vec<f32> = clean.iter().zip(&noise).map(|(c, n)| c + n).collect();
        let activity = SpeechActivity::of(&clean, frame, 0);
        assert_eq!(activity.active.len(), 10);
        assert_eq!(activity.silent.len(), 10);
        let snr = activity.snr_db(&noisy).expect("snr");
        // (1 + 0.2·mean(c·n) + 0.01) − 0.01 over 0.01: c and n are in phase, so 1.2 / 0.01.
        assert!((snr - db_ratio(1.2, 0.01)).abs() < 1e-6, "{snr}");
    }

    /// Three tones whose loudness swells at their own pace (speech-like envelopes
    /// in three bands), with the tones' phases given.
    fn swelling_tones(phases: [f32; 3], rates_hz: [f32; 3]) -> Vec<f32> {
        let rate = SAMPLE_RATE as f32;
        (0..2 * SAMPLE_RATE as usize)
            .map(|i| {
                let t = i as f32 / rate;
                [300.0f32, 1000.0, 3000.0]
                    .iter()
                    .zip(phases)
                    .zip(rates_hz)
                    .map(|((f, p), r)| {
                        let swell = 0.55 + 0.45 * (std::f32::consts::TAU * r * t).sin();
                        0.2 * swell * (std::f32::consts::TAU * f * t + p).sin()
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn envelope_correlation_ignores_phase_but_not_a_different_envelope() {
        let clean = swelling_tones([0.0, 0.0, 0.0], [3.0, 4.0, 5.0]);
        // The same tones a quarter period shifted and a third quieter: the waveform
        // hardly correlates, the envelopes do.
        let shifted: Vec<f32> = swelling_tones([1.57, 1.57, 1.57], [3.0, 4.0, 5.0])
            .iter()
            .map(|s| s * 0.66)
            .collect();
        let wave = correlation(&clean, &shifted).expect("corr");
        let env = envelope_correlation(&clean, &shifted).expect("envelopes");
        assert!(wave.abs() < 0.1, "waveform correlation {wave}");
        assert!(env > 0.97, "envelope correlation {env}");
        // The same tones swelling at other paces: the envelopes do not match.
        let other = swelling_tones([0.0, 0.0, 0.0], [1.3, 1.7, 2.3]);
        let env = envelope_correlation(&clean, &other).expect("envelopes");
        assert!(env < 0.3, "envelope correlation {env}");
        // Half the clean signal's energy added as noise lowers it.
        let noise: Vec<f32> = (0..clean.len())
            .map(|i| 0.25 * (((i * 7919) % 1000) as f32 / 500.0 - 1.0))
            .collect();
        let noisy: Vec<f32> = clean.iter().zip(&noise).map(|(c, n)| c + n).collect();
        let env = envelope_correlation(&clean, &noisy).expect("envelopes");
        assert!(env < 0.95, "envelope correlation with noise {env}");
    }

    #[test]
    fn envelope_correlation_needs_equal_lengths_and_some_speech() {
        let clean = swelling_tones([0.0; 3], [3.0, 4.0, 5.0]);
        assert!(envelope_correlation(&clean, &clean[1..]).is_err());
        let short = &clean[..ENVELOPE_FRAME * 4];
        assert!(envelope_correlation(short, short).is_err());
        let silent = vec![0.0; clean.len()];
        assert!(envelope_correlation(&silent, &clean).is_err());
    }
}
