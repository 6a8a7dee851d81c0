//! How game objects look (pure): square RGBA pictures, white-to-grey with alpha,
//! which the plugin tints per object. A star is a five-pointed star, a balloon an
//! egg with a knot, a meteor a pitted rock, the rest soft discs; every edge is
//! anti-aliased over a pixel and a half, and a highlight towards the top left
//! gives each a bit of volume.

use std::f32::consts::{FRAC_PI_2, PI};

use crate::net::protocol::game::ObjectKind;

/// The shapes there are pictures of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A disc (the volleyball, bubbles).
    Disc,
    /// A five-pointed star.
    Star,
    /// A balloon: an egg, wider at the top, with a knot at the bottom.
    Balloon,
    /// A rock with darker pits.
    Meteor,
}

impl Shape {
    /// Every shape, for loading their pictures once.
    pub const ALL: [Shape; 4] = [Shape::Disc, Shape::Star, Shape::Balloon, Shape::Meteor];

    /// The picture a game object is drawn with.
    pub fn of(kind: ObjectKind) -> Self {
        match kind {
            ObjectKind::Star | ObjectKind::GoldStar => Shape::Star,
            ObjectKind::Balloon => Shape::Balloon,
            ObjectKind::Meteor => Shape::Meteor,
            ObjectKind::Ball | ObjectKind::Bubble => Shape::Disc,
        }
    }
}

/// The picture of `shape`, `size`x`size` RGBA8 (straight alpha). The shape fills
/// the square the way the object's collider fills its diameter.
pub fn paint(shape: Shape, size: u32) -> Vec<u8> {
    let mut rgba = vec![0u8; (size * size * 4) as usize];
    let half = size as f32 / 2.0;
    // Width in unit coordinates of the anti-aliased edge (1.5 px).
    let edge = 1.5 / half;
    for y in 0..size {
        for x in 0..size {
            // Unit coordinates: centre 0, edges ±1, y up.
            let u = (x as f32 + 0.5 - half) / half;
            let v = (half - (y as f32 + 0.5)) / half;
            let inside = match shape {
                Shape::Disc => 1.0 - (u * u + v * v).sqrt(),
                Shape::Star => star_inside(u, v),
                Shape::Balloon => balloon_inside(u, v),
                Shape::Meteor => 1.0 - (u * u + v * v).sqrt(),
            };
            let alpha = (inside / edge + 0.5).clamp(0.0, 1.0);
            if alpha <= 0.0 {
                continue;
            }
            // Light from the top left.
            let light = 1.0 - 0.3 * (((u + 0.4).powi(2) + (v - 0.4).powi(2)).sqrt() / 1.6).min(1.0);
            let shade = match shape {
                Shape::Meteor => light * (1.0 - 0.35 * pit(u, v)),
                Shape::Balloon => light + 0.35 * shine(u + 0.3, v - 0.45, 0.16),
                Shape::Star => light + 0.2 * shine(u, v, 0.25),
                Shape::Disc => light,
            };
            let grey = (255.0 * shade.clamp(0.0, 1.0)).round() as u8;
            let i = ((y * size + x) * 4) as usize;
            rgba[i..i + 4].copy_from_slice(&[grey, grey, grey, (alpha * 255.0).round() as u8]);
        }
    }
    rgba
}

/// How far inside a five-pointed star (outer radius 1, inner 0.45, a point
/// upwards) the point `(u, v)` lies, in unit lengths; negative outside.
fn star_inside(u: f32, v: f32) -> f32 {
    const OUTER: f32 = 1.0;
    const INNER: f32 = 0.45;
    let r = (u * u + v * v).sqrt();
    if r < 1e-6 {
        return INNER;
    }
    // Fold the angle into one half-point: 0 at a tip, 36° at a notch.
    let sector = 2.0 * PI / 5.0;
    let angle = (v.atan2(u) - FRAC_PI_2).rem_euclid(sector);
    let a = angle.min(sector - angle);
    // The edge from the tip (OUTER, 0°) to the notch (INNER, 36°), and the
    // point, in that folded frame.
    let (tx, ty) = (OUTER, 0.0);
    let (nx, ny) = (INNER * (sector / 2.0).cos(), INNER * (sector / 2.0).sin());
    let (px, py) = (r * a.cos(), r * a.sin());
    // Signed distance to the edge's line, positive towards the centre.
    let (ex, ey) = (nx - tx, ny - ty);
    let len = (ex * ex + ey * ey).sqrt();
    ((py - ty) * ex - (px - tx) * ey) / len
}

/// How far inside a balloon the point lies: an egg (wider at the top) whose
/// top reaches 1 and bottom −0.86, and a small knot under it.
fn balloon_inside(u: f32, v: f32) -> f32 {
    // Egg: an ellipse whose half-width shrinks towards the bottom.
    let cy = 0.07;
    let ry = 0.93;
    let t = ((v - cy) / ry).clamp(-1.0, 1.0);
    let rx = 0.82 * (1.0 + 0.12 * t);
    let body = 1.0 - ((u / rx).powi(2) + ((v - cy) / ry).powi(2)).sqrt();
    // Knot: a small triangle under the egg, point up.
    let knot_top = cy - ry + 0.02;
    let knot_h = 0.12;
    let knot = if v < knot_top && v > knot_top - knot_h {
        let half_w = 0.1 * (knot_top - v) / knot_h;
        (half_w - u.abs()).min(v - (knot_top - knot_h))
    } else {
        -1.0
    };
    body.max(knot)
}

/// 1 in the rock's pits, 0 elsewhere, soft-edged: a few fixed craters.
fn pit(u: f32, v: f32) -> f32 {
    const PITS: [(f32, f32, f32); 5] = [
        (-0.3, 0.35, 0.22),
        (0.35, 0.15, 0.16),
        (0.05, -0.4, 0.25),
        (-0.5, -0.2, 0.12),
        (0.45, -0.45, 0.1),
    ];
    PITS.iter()
        .map(|&(x, y, r)| {
            let d = ((u - x).powi(2) + (v - y).powi(2)).sqrt();
            ((r - d) / 0.05).clamp(0.0, 1.0)
        })
        .fold(0.0, f32::max)
}

/// A small round shine of radius `r` around the origin of `(u, v)`.
fn shine(u: f32, v: f32, r: f32) -> f32 {
    (1.0 - (u * u + v * v).sqrt() / r).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alpha(rgba: &[u8], size: u32, x: u32, y: u32) -> u8 {
        rgba[((y * size + x) * 4 + 3) as usize]
    }

    #[test]
    fn a_star_has_five_points_and_notches_between_them() {
        let size = 101;
        let star = paint(Shape::Star, size);
        let c = size as f32 / 2.0;
        // Around a circle at 80 % of the radius, the star is solid near its five
        // tips and empty near its five notches.
        let mut solid_runs = 0;
        let mut was_solid = false;
        let steps = 360;
        for i in 0..=steps {
            let a = FRAC_PI_2 + 2.0 * PI * i as f32 / steps as f32;
            let (x, y) = (c + 0.8 * c * a.cos(), c - 0.8 * c * a.sin());
            let solid = alpha(&star, size, x as u32, y as u32) > 128;
            if solid && !was_solid {
                solid_runs += 1;
            }
            was_solid = solid;
        }
        // The walk starts on the top tip, so that tip's run is counted again at
        // the end.
        assert_eq!(solid_runs, 6);
        // The top tip points up; its centre is solid.
        assert!(alpha(&star, size, 50, 8) > 128);
        assert_eq!(alpha(&star, size, 50, 50), 255);
        assert_eq!(alpha(&star, size, 0, 0), 0);
    }

    #[test]
    fn a_balloon_is_wider_at_the_top_and_has_a_knot() {
        let size = 100;
        let b = paint(Shape::Balloon, size);
        let width = |y: u32| (0..size).filter(|&x| alpha(&b, size, x, y) > 128).count();
        assert!(width(30) > width(75), "{} vs {}", width(30), width(75));
        // Near the bottom only the narrow knot remains.
        let knot = width(96);
        assert!(knot > 0 && knot < 12, "knot {knot}");
    }

    #[test]
    fn a_meteor_is_a_disc_with_darker_pits() {
        let size = 100;
        let m = paint(Shape::Meteor, size);
        let disc = paint(Shape::Disc, size);
        let mut darker = 0;
        for i in (0..m.len()).step_by(4) {
            assert_eq!(m[i + 3], disc[i + 3], "same outline as a disc");
            if u16::from(m[i]) + 20 < u16::from(disc[i]) {
                darker += 1;
            }
        }
        assert!(darker > 300, "{darker} pitted pixels");
    }

    #[test]
    fn every_object_kind_has_a_picture() {
        use ObjectKind::*;
        for kind in [Balloon, Meteor, Star, GoldStar, Ball, Bubble] {
            assert!(Shape::ALL.contains(&Shape::of(kind)));
        }
    }
}
