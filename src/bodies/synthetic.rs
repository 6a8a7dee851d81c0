//! Synthetic person masks (head, torso, legs, two swinging arms) for tests,
//! benchmarks and demo participants that have no camera. Pure and deterministic.

use serde::{Deserialize, Serialize};

/// The pose of a synthetic person, in the proportions of a 640x480 frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyntheticPose {
    /// Horizontal offset of the whole figure, as a fraction of the frame width.
    pub sway: f32,
    /// Left arm angle in radians from hanging straight down (positive raises it outwards).
    pub left_arm: f32,
    /// Right arm angle in radians from hanging straight down (positive raises it outwards).
    pub right_arm: f32,
}

impl Default for SyntheticPose {
    fn default() -> Self {
        Self {
            sway: 0.0,
            left_arm: 0.3,
            right_arm: 0.3,
        }
    }
}

impl SyntheticPose {
    /// A looping "waving" pose at time `t` seconds; `phase` shifts one figure from another.
    pub fn waving(t: f32, phase: f32) -> Self {
        let a = t * 2.4 + phase;
        Self {
            sway: 0.08 * (t * 0.7 + phase).sin(),
            left_arm: 1.6 + 1.2 * a.sin(),
            right_arm: 1.6 + 1.2 * (a + 1.3).cos(),
        }
    }
}

/// Squared distance from `p` to the segment `a`–`b`.
fn seg_dist2(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let (abx, aby) = (b[0] - a[0], b[1] - a[1]);
    let len2 = abx * abx + aby * aby;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * abx + (p[1] - a[1]) * aby) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (dx, dy) = (p[0] - a[0] - t * abx, p[1] - a[1] - t * aby);
    dx * dx + dy * dy
}

/// Renders a `width x height` mask (255 = person) of a standing figure whose feet
/// touch the bottom edge.
pub fn synthetic_person_mask(width: u32, height: u32, pose: &SyntheticPose) -> Vec<u8> {
    let (w, h) = (width as f32, height as f32);
    let s = h / 480.0;
    let cx = w * (0.5 + pose.sway);
    // Capsules: (a, b, radius), in pixels.
    let head = ([cx, 95.0 * s], [cx, 115.0 * s], 42.0 * s);
    let torso = ([cx, 190.0 * s], [cx, 300.0 * s], 62.0 * s);
    let leg_l = ([cx - 30.0 * s, 330.0 * s], [cx - 34.0 * s, h], 24.0 * s);
    let leg_r = ([cx + 30.0 * s, 330.0 * s], [cx + 34.0 * s, h], 24.0 * s);
    let arm_len = 150.0 * s;
    let shoulder_l = [cx - 62.0 * s, 175.0 * s];
    let shoulder_r = [cx + 62.0 * s, 175.0 * s];
    let hand_l = [
        shoulder_l[0] - arm_len * pose.left_arm.sin(),
        shoulder_l[1] + arm_len * pose.left_arm.cos(),
    ];
    let hand_r = [
        shoulder_r[0] + arm_len * pose.right_arm.sin(),
        shoulder_r[1] + arm_len * pose.right_arm.cos(),
    ];
    let arm_l = (shoulder_l, hand_l, 17.0 * s);
    let arm_r = (shoulder_r, hand_r, 17.0 * s);
    let parts = [head, torso, leg_l, leg_r, arm_l, arm_r];

    let mut mask = vec![0u8; width as usize * height as usize];
    for (y, row) in mask.chunks_exact_mut(width.max(1) as usize).enumerate() {
        let py = y as f32 + 0.5;
        for (x, v) in row.iter_mut().enumerate() {
            let p = [x as f32 + 0.5, py];
            if parts.iter().any(|(a, b, r)| seg_dist2(p, *a, *b) <= r * r) {
                *v = 255;
            }
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bodies::{SilhouetteParams, silhouette_from_mask};

    #[test]
    fn a_synthetic_person_is_one_blob_standing_on_the_bottom_edge() {
        let m = synthetic_person_mask(640, 480, &SyntheticPose::waving(0.7, 0.0));
        let s = silhouette_from_mask(&m, 640, 480, &SilhouetteParams::default()).expect("sized");
        assert_eq!(s.outlines.len(), 1);
        assert!(s.pieces.len() >= 3);
        let bottom = s.outlines[0].iter().map(|p| p[1]).fold(0.0f32, f32::max);
        assert!(bottom > 470.0, "feet reach the bottom: {bottom}");
    }
}
