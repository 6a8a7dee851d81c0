//! `Placement`: where a participant stands in the world (pure, shared over the network).
//!
//! World coordinates: the scene is `SCENE_WIDTH x SCENE_HEIGHT` units with the origin
//! at its centre, x to the right and y up (Bevy's 2D convention). A cutout is drawn
//! with its bottom-centre at (`x`, `y`), `scale` world units per cutout pixel.

use serde::{Deserialize, Serialize};

use crate::net::protocol::WirePlacement;

/// Width of the scene in world units (equal to pixels at the default 1280x720 view).
pub const SCENE_WIDTH: f32 = 1280.0;
/// Height of the scene in world units.
pub const SCENE_HEIGHT: f32 = 720.0;

/// Position, size and facing of one participant's cutout.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// Horizontal position of the cutout's bottom centre.
    pub x: f32,
    /// Vertical position of the cutout's bottom edge (the feet, or the frame bottom).
    pub y: f32,
    /// World units per cutout pixel.
    pub scale: f32,
    /// Draw order: higher is in front.
    pub z: i32,
    /// Mirrored horizontally (selfie view).
    pub mirrored: bool,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            x: 0.0,
            y: -SCENE_HEIGHT / 2.0,
            scale: 1.0,
            z: 0,
            mirrored: false,
        }
    }
}

impl From<Placement> for WirePlacement {
    fn from(p: Placement) -> Self {
        let Placement {
            x,
            y,
            scale,
            z,
            mirrored,
        } = p;
        Self {
            x,
            y,
            scale,
            z,
            mirrored,
            frame_width: None,
        }
    }
}

impl From<WirePlacement> for Placement {
    /// The placement as announced (its scale per pixel of the sender's own picture;
    /// see [`WirePlacement::scale_for_width`] for a picture of another size).
    fn from(p: WirePlacement) -> Self {
        let WirePlacement {
            x,
            y,
            scale,
            z,
            mirrored,
            frame_width: _,
        } = p;
        Self {
            x,
            y,
            scale,
            z,
            mirrored,
        }
    }
}

impl Placement {
    /// Maps a point in cutout pixel coordinates (origin top-left, y down) of a
    /// `width x height` cutout to world coordinates.
    pub fn cutout_to_world(&self, px: f32, py: f32, width: u32, height: u32) -> [f32; 2] {
        let sign = if self.mirrored { -1.0 } else { 1.0 };
        let dx = (px - width as f32 / 2.0) * self.scale * sign;
        let dy = (height as f32 - py) * self.scale;
        [self.x + dx, self.y + dy]
    }

    /// Maps a world point back to cutout pixel coordinates (inverse of `cutout_to_world`).
    pub fn world_to_cutout(&self, wx: f32, wy: f32, width: u32, height: u32) -> [f32; 2] {
        let sign = if self.mirrored { -1.0 } else { 1.0 };
        let px = (wx - self.x) / (self.scale * sign) + width as f32 / 2.0;
        let py = height as f32 - (wy - self.y) / self.scale;
        [px, py]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_mapping_round_trips_and_mirrors() {
        let p = Placement {
            x: 100.0,
            y: -300.0,
            scale: 0.5,
            z: 0,
            mirrored: true,
        };
        let w = p.cutout_to_world(10.0, 20.0, 640, 480);
        let back = p.world_to_cutout(w[0], w[1], 640, 480);
        assert!((back[0] - 10.0).abs() < 1e-3 && (back[1] - 20.0).abs() < 1e-3);
        // Bottom centre maps to (x, y).
        assert_eq!(p.cutout_to_world(320.0, 480.0, 640, 480), [100.0, -300.0]);
        // Mirrored: the left of the picture goes right of centre.
        assert!(p.cutout_to_world(0.0, 0.0, 640, 480)[0] > 100.0);
    }
}
