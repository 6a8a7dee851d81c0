//! A simulated room for testing and measuring voice processing without a sound
//! card: a loudspeaker-to-microphone impulse response, a fan, and the mixing of
//! far-end echo, near-end speech and noise into one microphone signal.
//!
//! The impulse response is synthesised: silence for the acoustic delay (sound
//! card buffers plus the way through the air), a direct path, then an
//! exponentially decaying noise tail (diffuse reverberation) that falls by 60 dB
//! over the reverberation time `rt60`. Deterministic for a given seed.

use realfft::RealFftPlanner;

use super::SAMPLE_RATE;

/// A loudspeaker → microphone path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoomResponse {
    /// Time before the first sound arrives, ms.
    pub delay_ms: f32,
    /// Reverberation time (60 dB decay), ms.
    pub rt60_ms: f32,
    /// Gain of the direct path (the loudness of the echo at the microphone).
    pub direct_gain: f32,
    /// Peak gain of the reverberant tail relative to the direct path.
    pub tail_gain: f32,
    /// Seed of the tail's noise.
    pub seed: u32,
}

impl RoomResponse {
    /// A small living room: laptop speaker and microphone, `delay_ms` apart.
    pub fn living_room(delay_ms: f32) -> Self {
        Self {
            delay_ms,
            rt60_ms: 250.0,
            direct_gain: 0.5,
            tail_gain: 0.3,
            seed: 7,
        }
    }

    /// The impulse response at 48 kHz (delay plus `rt60` of tail).
    pub fn impulse_response(&self) -> Vec<f32> {
        let rate = SAMPLE_RATE as f32;
        let delay = (self.delay_ms / 1000.0 * rate).round() as usize;
        let tail = (self.rt60_ms / 1000.0 * rate).round() as usize;
        let mut h = vec![0.0f32; delay + tail + 1];
        h[delay] = self.direct_gain;
        let mut noise = Xorshift(self.seed | 1);
        // exp(-6.9) ≈ 1e-3: 60 dB down in amplitude² after `tail` samples.
        let decay = -6.9 / tail.max(1) as f32;
        for (i, tap) in h[delay + 1..].iter_mut().enumerate() {
            *tap = self.direct_gain * self.tail_gain * noise.next() * (decay * i as f32).exp();
        }
        h
    }
}

/// xorshift32 → uniform in [-1, 1].
struct Xorshift(u32);

impl Xorshift {
    fn next(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        (x as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}

/// `signal` convolved with `response`, cut to the length of `signal` (FFT).
pub fn convolve(signal: &[f32], response: &[f32]) -> Vec<f32> {
    if signal.is_empty() || response.is_empty() {
        return vec![0.0; signal.len()];
    }
    let n = (signal.len() + response.len()).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let spectrum = |x: &[f32]| {
        let mut padded = vec![0.0f32; n];
        padded[..x.len()].copy_from_slice(x);
        let mut out = forward.make_output_vec();
        forward
            .process(&mut padded, &mut out)
            .expect("buffers sized by the plan");
        out
    };
    let a = spectrum(signal);
    let b = spectrum(response);
    let mut product: Vec<_> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
    // The first and last bins of a real signal's spectrum are real.
    if let Some(first) = product.first_mut() {
        first.im = 0.0;
    }
    if let Some(last) = product.last_mut() {
        last.im = 0.0;
    }
    let mut out = inverse.make_output_vec();
    inverse
        .process(&mut product, &mut out)
        .expect("buffers sized by the plan");
    out.truncate(signal.len());
    let scale = 1.0 / n as f32;
    out.iter_mut().for_each(|s| *s *= scale);
    out
}

/// `samples` of fan noise at 48 kHz with an RMS of 1: broadband rumble (white
/// noise through two one-pole low-pass filters, so most energy is below 1 kHz,
/// with some hiss above) plus a motor hum at 100 Hz and its harmonics, the whole
/// slowly swelling (±15 % at 0.4 Hz) as air moves.
pub fn fan_noise(samples: usize, seed: u32) -> Vec<f32> {
    let mut noise = Xorshift(seed | 1);
    let rate = SAMPLE_RATE as f32;
    let (mut lp1, mut lp2) = (0.0f32, 0.0f32);
    let a = (-std::f32::consts::TAU * 800.0 / rate).exp();
    let mut out: Vec<f32> = (0..samples)
        .map(|i| {
            let t = i as f32 / rate;
            let white = noise.next();
            lp1 = a * lp1 + (1.0 - a) * white;
            lp2 = a * lp2 + (1.0 - a) * lp1;
            let hum: f32 = (1..=4)
                .map(|k| (std::f32::consts::TAU * 100.0 * k as f32 * t).sin() / k as f32)
                .sum();
            let swell = 1.0 + 0.15 * (std::f32::consts::TAU * 0.4 * t).sin();
            (8.0 * lp2 + 0.05 * white + 0.02 * hum) * swell
        })
        .collect();
    let rms = super::measure::power(&out).sqrt() as f32;
    if rms > 0.0 {
        out.iter_mut().for_each(|s| *s /= rms);
    }
    out
}

/// Scales `noise` so that `speech` (its active frames) over it is `snr_db`; returns
/// the scaled noise.
pub fn noise_at_snr(speech: &[f32], noise: &[f32], snr_db: f64) -> Vec<f32> {
    let activity = super::measure::SpeechActivity::of(speech, SAMPLE_RATE as usize / 100, 0);
    let speech_power = activity.active_power(speech);
    let noise_power = super::measure::power(noise).max(1e-20);
    let gain = (speech_power / noise_power / 10f64.powf(snr_db / 10.0)).sqrt() as f32;
    noise.iter().map(|s| s * gain).collect()
}

/// `a + b` sample by sample, as long as the longer one (the shorter is padded with silence).
pub fn add(a: &[f32], b: &[f32]) -> Vec<f32> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).copied().unwrap_or(0.0) + b.get(i).copied().unwrap_or(0.0))
        .collect()
}

/// `signal` starting `offset` samples later (silence before), `len` samples long.
pub fn place(signal: &[f32], offset: usize, len: usize) -> Vec<f32> {
    let mut out = vec![0.0; len];
    if offset < len {
        let n = signal.len().min(len - offset);
        out[offset..offset + n].copy_from_slice(&signal[..n]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::talk::measure::{SpeechActivity, power};

    #[test]
    fn the_impulse_response_starts_after_the_delay_and_decays() {
        let h = RoomResponse::living_room(80.0).impulse_response();
        let delay = 80 * 48;
        assert!(h[..delay].iter().all(|&s| s == 0.0));
        assert_eq!(h[delay], 0.5);
        let early = power(&h[delay + 1..delay + 1 + 2400]);
        let late = power(&h[h.len() - 2400..]);
        assert!(early > late * 100.0, "early {early}, late {late}");
    }

    #[test]
    fn convolving_with_a_delayed_impulse_delays_the_signal() {
        let signal: Vec<f32> = (0..1000)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let mut h = vec![0.0; 11];
        h[10] = 0.5;
        let out = convolve(&signal, &h);
        assert_eq!(out.len(), signal.len());
        for i in 10..1000 {
            assert!((out[i] - 0.5 * signal[i - 10]).abs() < 1e-4, "at {i}");
        }
        assert!(out[..10].iter().all(|s| s.abs() < 1e-4));
    }

    #[test]
    fn fan_noise_is_scaled_to_the_asked_snr() {
        let speech: Vec<f32> = (0..48_000)
            .map(|i| {
                if i < 24_000 {
                    0.3 * ((i as f32) * 0.05).sin()
                } else {
                    0.0
                }
            })
            .collect();
        let fan = fan_noise(48_000, 3);
        assert!((power(&fan) - 1.0).abs() < 1e-3);
        let noise = noise_at_snr(&speech, &fan, 5.0);
        let activity = SpeechActivity::of(&speech, 480, 0);
        let snr = 10.0 * (activity.active_power(&speech) / power(&noise)).log10();
        assert!((snr - 5.0).abs() < 0.01, "{snr}");
    }
}
