//! Where a voice is heard: equal-power panning by the speaker's horizontal position
//! in the world and gentle softening with the distance to the listener. Pure.
//!
//! Positions are normalised to the scene: −1 at its left edge, 0 in the middle, 1
//! at its right edge ([`normalised_x`]).

/// The gains one mono voice gets at the output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StereoGains {
    /// Gain into the left channel.
    pub left: f32,
    /// Gain into the right channel.
    pub right: f32,
    /// Gain into a mono output: loudness only (distance, volume), no panning, so
    /// a voice is as loud on a mono device wherever its person stands.
    pub mono: f32,
}

impl StereoGains {
    /// The voice unchanged in both channels (no placement).
    pub const UNITY: Self = Self {
        left: 1.0,
        right: 1.0,
        mono: 1.0,
    };
    /// Not heard at all.
    pub const SILENT: Self = Self {
        left: 0.0,
        right: 0.0,
        mono: 0.0,
    };

    /// Every gain multiplied by `k`.
    pub fn scaled(self, k: f32) -> Self {
        Self {
            left: self.left * k,
            right: self.right * k,
            mono: self.mono * k,
        }
    }

    /// The gains `t` (0–1) of the way from `self` to `to`.
    pub fn lerp(self, to: Self, t: f32) -> Self {
        let mix = |a: f32, b: f32| a + (b - a) * t;
        Self {
            left: mix(self.left, to.left),
            right: mix(self.right, to.right),
            mono: mix(self.mono, to.mono),
        }
    }
}

/// Distance (in scene widths) within which a voice keeps its full level.
pub const FULL_LEVEL_DISTANCE: f32 = 0.15;
/// How fast the level falls beyond [`FULL_LEVEL_DISTANCE`] (inverse-distance
/// roll-off, as the Web Audio API's `inverse` model): across the whole scene a
/// voice is about 8.6 dB softer, the neighbour in a room of three about 2.7 dB.
pub const ROLLOFF: f32 = 2.0;

/// A world x (units, origin in the middle of a scene `scene_width` wide) as a
/// position from −1 (left edge) to 1 (right edge), clamped.
pub fn normalised_x(world_x: f32, scene_width: f32) -> f32 {
    if !world_x.is_finite() || scene_width <= 0.0 {
        return 0.0;
    }
    (world_x / (scene_width / 2.0)).clamp(-1.0, 1.0)
}

/// Equal-power pan law: (left, right) for a position from −1 (left) to 1 (right).
/// `left² + right² = 1` everywhere, so a voice is equally loud wherever it stands;
/// the middle gets 1/√2 (−3 dB) in each channel.
pub fn equal_power_pan(position: f32) -> (f32, f32) {
    let p = if position.is_finite() {
        position.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let angle = (p + 1.0) * std::f32::consts::FRAC_PI_4;
    (angle.cos(), angle.sin())
}

/// Level (0–1] of a voice whose person stands `distance` scene widths from the
/// listener: 1 up to [`FULL_LEVEL_DISTANCE`], then an inverse roll-off.
pub fn distance_gain(distance: f32) -> f32 {
    if !distance.is_finite() {
        return 1.0;
    }
    let beyond = (distance.abs() - FULL_LEVEL_DISTANCE).max(0.0);
    1.0 / (1.0 + ROLLOFF * beyond)
}

/// Where a voice is heard and how loud.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placing {
    /// The speaker's position, −1…1 ([`normalised_x`]); `None` while unknown (the
    /// voice is then heard in the middle).
    pub speaker: Option<f32>,
    /// The listener's own position, −1…1; `None`: the middle.
    pub listener: Option<f32>,
    /// The listener's volume for this person (1 = as sent).
    pub volume: f32,
    /// The listener muted this person.
    pub muted: bool,
    /// Placement on; off, every voice is heard unchanged in both channels.
    pub spatial: bool,
}

impl Placing {
    /// The gains this placing gives.
    pub fn gains(&self) -> StereoGains {
        if self.muted {
            return StereoGains::SILENT;
        }
        let volume = if self.volume.is_finite() {
            self.volume.max(0.0)
        } else {
            1.0
        };
        if !self.spatial {
            return StereoGains::UNITY.scaled(volume);
        }
        let speaker = self.speaker.unwrap_or(0.0);
        let listener = self.listener.unwrap_or(0.0);
        // Positions span 2 per scene width.
        let level = distance_gain((speaker - listener) / 2.0) * volume;
        let (left, right) = equal_power_pan(speaker);
        StereoGains {
            left: left * level,
            right: right * level,
            mono: level,
        }
    }
}

/// Decibels of an energy ratio, bounded to ±120 dB.
pub fn energy_db(numerator: f64, denominator: f64) -> f32 {
    const FLOOR: f64 = 1e-12;
    (10.0 * ((numerator + FLOOR) / (denominator + FLOOR)).log10()).clamp(-120.0, 120.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(a: f32, b: f32) -> f32 {
        20.0 * (a / b).log10()
    }

    #[test]
    fn equal_power_keeps_the_power_and_puts_the_left_on_the_left() {
        for i in 0..=20 {
            let p = -1.0 + i as f32 * 0.1;
            let (l, r) = equal_power_pan(p);
            assert!((l * l + r * r - 1.0).abs() < 1e-5, "power at {p}");
        }
        let (l, r) = equal_power_pan(0.0);
        assert!((l - r).abs() < 1e-6 && (l - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        let (l, r) = equal_power_pan(-1.0);
        assert!((l - 1.0).abs() < 1e-6 && r.abs() < 1e-6);
        let (l, r) = equal_power_pan(1.0);
        assert!(l.abs() < 1e-6 && (r - 1.0).abs() < 1e-6);
        // Two thirds of the way to the left (the left slot of three): > 6 dB apart.
        let (l, r) = equal_power_pan(-2.0 / 3.0);
        assert!(db(l, r) > 6.0, "{}", db(l, r));
        assert_eq!(equal_power_pan(f32::NAN), equal_power_pan(0.0));
    }

    #[test]
    fn distance_softens_gently_and_never_silences() {
        assert_eq!(distance_gain(0.0), 1.0);
        assert_eq!(distance_gain(FULL_LEVEL_DISTANCE), 1.0);
        let neighbour = distance_gain(1.0 / 3.0);
        let across = distance_gain(1.0);
        assert!(neighbour < 1.0 && across < neighbour);
        assert!(
            db(across, 1.0) > -10.0 && db(across, 1.0) < -6.0,
            "{}",
            db(across, 1.0)
        );
        assert_eq!(distance_gain(-0.5), distance_gain(0.5));
    }

    #[test]
    fn placing_pans_softens_and_obeys_volume_mute_and_the_switch() {
        let left = Placing {
            speaker: Some(-0.667),
            listener: Some(0.0),
            volume: 1.0,
            muted: false,
            spatial: true,
        };
        let g = left.gains();
        assert!(db(g.left, g.right) > 6.0);
        assert!(
            g.mono < 1.0 && g.mono > 0.7,
            "softened a little: {}",
            g.mono
        );
        let right = Placing {
            speaker: Some(0.667),
            ..left
        }
        .gains();
        assert!(db(right.right, right.left) > 6.0);
        let off = Placing {
            spatial: false,
            ..left
        }
        .gains();
        assert_eq!(off, StereoGains::UNITY);
        let half = Placing {
            volume: 0.5,
            ..left
        }
        .gains();
        assert!((half.left - g.left * 0.5).abs() < 1e-6);
        let muted = Placing {
            muted: true,
            ..left
        }
        .gains();
        assert_eq!(muted, StereoGains::SILENT);
        assert_eq!(normalised_x(-640.0, 1280.0), -1.0);
        assert_eq!(normalised_x(320.0, 1280.0), 0.5);
        assert_eq!(normalised_x(5000.0, 1280.0), 1.0);
    }

    #[test]
    fn energy_ratios_are_in_decibels() {
        assert!((energy_db(100.0, 1.0) - 20.0).abs() < 1e-4);
        assert_eq!(energy_db(0.0, 0.0), 0.0);
    }
}
