//! Measurements of voice processing on recorded or simulated signals: echo return
//! loss enhancement, correlation with a clean signal, signal-to-noise ratio. Pure;
//! used by the echo and noise tests and by `samespace bench`.

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
}
