//! Left/right energy of one voice at the output. Pure.

use super::spatial::energy_db;
use crate::media::audio::SAMPLE_RATE;

/// How long the meter remembers, seconds: older energy fades with this time
/// constant, so the figure follows a person who moves.
pub const METER_MEMORY_S: f64 = 4.0;

/// Energy of one voice in the left and right output channels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LrMeter {
    left: f64,
    right: f64,
    frames: u64,
}

impl LrMeter {
    /// Adds one output frame's share of the voice: `left` and `right` samples.
    pub fn add(&mut self, left: f32, right: f32) {
        self.left += f64::from(left) * f64::from(left);
        self.right += f64::from(right) * f64::from(right);
        self.frames += 1;
    }

    /// Lets `frames` output frames of time pass (older energy fades).
    pub fn age(&mut self, frames: usize) {
        let k = (-(frames as f64) / (METER_MEMORY_S * f64::from(SAMPLE_RATE))).exp();
        self.left *= k;
        self.right *= k;
    }

    /// Output frames measured so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Left minus right energy in dB (positive: louder on the left); `None` before
    /// anything audible was measured.
    pub fn lr_db(&self) -> Option<f32> {
        (self.left + self.right > 1e-9).then(|| energy_db(self.left, self.right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_says_which_side_is_louder_by_how_much() {
        let mut m = LrMeter::default();
        assert_eq!(m.lr_db(), None);
        for i in 0..4800 {
            let s = (i as f32 * 0.05).sin();
            m.add(s, s * 0.5);
        }
        let db = m.lr_db().expect("measured");
        assert!((db - 6.02).abs() < 0.05, "{db}");
        // Ageing keeps the ratio; new energy from the other side takes over.
        m.age(48_000);
        assert!((m.lr_db().expect("kept") - 6.02).abs() < 0.05);
        for i in 0..48_000 * 4 {
            let s = (i as f32 * 0.05).sin();
            m.age(1);
            m.add(s * 0.5, s);
        }
        assert!(m.lr_db().expect("measured") < -3.0);
        assert_eq!(m.frames(), 4800 + 48_000 * 4);
    }
}
