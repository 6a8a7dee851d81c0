//! A theme's light and the grading that moves people towards it (pure).
//!
//! People come from different cameras and rooms; graded towards the theme's light
//! (exposure, white balance and a lift of the shadows towards the ambient colour)
//! and lit at the edge that faces the light (rim), they read as standing in the
//! same place. The shader (`assets/shaders/cutout.wgsl`) applies a [`Grade`]:
//! `rgb * gain + lift * (1 - rgb)`, then adds the rim colour where the silhouette's
//! edge faces the light.

use serde::{Deserialize, Serialize};

use super::theme::Rgba;

/// The light of a theme, as written in `theme.ron` (`light: (...)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Light {
    /// Where the light comes from, seen from the people (x right, y up; any length).
    pub direction: (f32, f32),
    /// The light's colour: people's white balance moves towards it.
    pub color: Rgba,
    /// The ambient colour that fills the shadows (black: none).
    pub ambient: Rgba,
    /// Brightness multiplier (1: unchanged).
    pub exposure: f32,
    /// How far the white balance moves towards the light's colour (0 to 1).
    pub strength: f32,
    /// Strength of the rim light on the edge facing the light (0: none).
    pub rim: f32,
}

impl Default for Light {
    /// A neutral light: people are drawn as the camera saw them.
    fn default() -> Self {
        Self {
            direction: (0.0, 1.0),
            color: Rgba([255, 255, 255, 255]),
            ambient: Rgba([0, 0, 0, 255]),
            exposure: 1.0,
            strength: 0.0,
            rim: 0.0,
        }
    }
}

/// What the shader needs to grade one person (linear RGB).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grade {
    /// Per-channel multiplier: exposure times white balance.
    pub gain: [f32; 3],
    /// Added in the shadows: `lift * (1 - rgb)`.
    pub lift: [f32; 3],
    /// Rim colour (linear) with its strength in the fourth lane.
    pub rim: [f32; 4],
    /// Unit vector towards the light (x right, y up).
    pub towards_light: [f32; 2],
}

/// One sRGB channel (0–255) in linear light.
pub fn srgb_to_linear(c: u8) -> f32 {
    let c = c as f32 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Rec. 709 luminance of a linear colour.
fn luminance(c: [f32; 3]) -> f32 {
    0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
}

fn linear(c: Rgba) -> [f32; 3] {
    [
        srgb_to_linear(c.0[0]),
        srgb_to_linear(c.0[1]),
        srgb_to_linear(c.0[2]),
    ]
}

impl Grade {
    /// The grade for a light. White balance keeps luminance (a warm light makes
    /// people warmer, not brighter); exposure alone changes brightness.
    pub fn from_light(light: &Light) -> Self {
        let colour = linear(light.color);
        let luma = luminance(colour).max(1e-4);
        let strength = light.strength.clamp(0.0, 1.0);
        let exposure = light.exposure.clamp(0.1, 4.0);
        let gain = colour.map(|c| exposure * (1.0 + (c / luma - 1.0) * strength));
        let (dx, dy) = light.direction;
        let len = (dx * dx + dy * dy).sqrt();
        let towards_light = if len > 1e-6 {
            [dx / len, dy / len]
        } else {
            [0.0, 1.0]
        };
        Self {
            gain,
            lift: linear(light.ambient),
            rim: [colour[0], colour[1], colour[2], light.rim.clamp(0.0, 2.0)],
            towards_light,
        }
    }

    /// The graded colour of a linear pixel without rim (what the shader does).
    pub fn apply(&self, rgb: [f32; 3]) -> [f32; 3] {
        [0, 1, 2].map(|k| rgb[k] * self.gain[k] + self.lift[k] * (1.0 - rgb[k]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_neutral_light_leaves_people_as_they_are() {
        let g = Grade::from_light(&Light::default());
        for rgb in [[0.0, 0.0, 0.0], [0.2, 0.5, 0.9], [1.0, 1.0, 1.0]] {
            let out = g.apply(rgb);
            for k in 0..3 {
                assert!((out[k] - rgb[k]).abs() < 1e-5, "{rgb:?} -> {out:?}");
            }
        }
        assert_eq!(g.rim[3], 0.0);
    }

    #[test]
    fn a_warm_light_warms_grey_without_brightening_it_and_exposure_brightens() {
        let warm = Light {
            color: Rgba([255, 200, 140, 255]),
            strength: 1.0,
            ..Light::default()
        };
        let g = Grade::from_light(&warm);
        let out = g.apply([0.5, 0.5, 0.5]);
        assert!(out[0] > out[1] && out[1] > out[2], "{out:?}");
        assert!((luminance(out) - 0.5).abs() < 1e-3, "{}", luminance(out));
        // Half strength: half way.
        let half = Grade::from_light(&Light {
            strength: 0.5,
            ..warm.clone()
        });
        assert!((half.gain[0] - (1.0 + g.gain[0]) / 2.0).abs() < 1e-5);
        let bright = Grade::from_light(&Light {
            exposure: 1.2,
            ..Light::default()
        });
        assert!((bright.apply([0.5, 0.5, 0.5])[1] - 0.6).abs() < 1e-5);
    }

    #[test]
    fn ambient_lifts_the_shadows_and_not_the_highlights() {
        let g = Grade::from_light(&Light {
            ambient: Rgba([40, 40, 90, 255]),
            ..Light::default()
        });
        let dark = g.apply([0.0, 0.0, 0.0]);
        assert!(dark[2] > dark[0] && dark[0] > 0.0, "{dark:?}");
        assert_eq!(g.apply([1.0, 1.0, 1.0]), [1.0, 1.0, 1.0]);
    }

    #[test]
    fn the_direction_is_normalised_and_a_zero_direction_means_overhead() {
        let g = Grade::from_light(&Light {
            direction: (3.0, 4.0),
            ..Light::default()
        });
        assert!((g.towards_light[0] - 0.6).abs() < 1e-6 && (g.towards_light[1] - 0.8).abs() < 1e-6);
        let g = Grade::from_light(&Light {
            direction: (0.0, 0.0),
            ..Light::default()
        });
        assert_eq!(g.towards_light, [0.0, 1.0]);
    }

    #[test]
    fn srgb_decoding_matches_known_values() {
        assert_eq!(srgb_to_linear(0), 0.0);
        assert!((srgb_to_linear(255) - 1.0).abs() < 1e-6);
        assert!((srgb_to_linear(188) - 0.5029).abs() < 1e-3);
    }
}
