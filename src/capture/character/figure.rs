//! One character as a set of cutout parts, placed on its skeleton each frame
//! (pure).
//!
//! [`Figure::new`] paints the rigid parts once at the character's scale;
//! variants whose shape follows the pose (eyes by blink and head turn, brows and
//! nose shade and front hair and glasses by head turn, mouths by opening and
//! smile, hands by how open they are and where the thumb is) are painted on first
//! use and kept. [`Figure::compose`] blits the parts for one [`Pose`] onto a
//! [`Layer`]: limbs through bone maps (turned and stretched between their joints),
//! the torso stretched between the neck's base and the pelvis (so it breathes),
//! head parts turned by the head's roll at positions that follow yaw and nod
//! continuously.

use std::collections::HashMap;

use super::cutout::{Affine, Layer, Sprite};
use super::look::Look;
use super::motion::{FOREARM, Pose, UPPER_ARM};
use super::paint::{Canvas, Light, V2, v2};
use super::{
    Frame, NECK_LENGTH, NOSE_SHADE, SOCKET_SHADE, arm_radii, ear_centre, face_x, mouth_centre,
    nose_shade, nose_tip, paint_back_hair, paint_beard, paint_brow, paint_ear, paint_eye,
    paint_forearm, paint_front_hair, paint_glasses, paint_hand, paint_hood, paint_leg,
    paint_moustache, paint_mouth, paint_neck, paint_nose, paint_seat, paint_shoe, paint_skull,
    paint_torso, paint_upper_arm, socket_shade,
};
use crate::capture::character::look::Top;
use crate::capture::character::paint::lin;

/// Head turn between drawn variants of the face features, radians.
const YAW_STEP: f32 = 0.1;
/// Drawn head turns go from `-YAW_STEPS * YAW_STEP` to `YAW_STEPS * YAW_STEP`.
const YAW_STEPS: i32 = 8;
/// Eyelid closures drawn (0 open, 1 shut).
const BLINKS: [f32; 4] = [0.0, 0.45, 0.8, 1.0];
/// Mouth openings drawn: `0, 1/n, …, 1`.
const MOUTHS: f32 = 4.0;
/// Smiles drawn: `0, 1/n, …, 1`.
const SMILES: f32 = 2.0;
/// Hand openings drawn.
const HAND_OPEN: [f32; 4] = [0.1, 0.4, 0.7, 1.0];

/// A part whose drawing depends on the pose, by its quantised parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Variant {
    Eye {
        side: usize,
        yaw: i32,
        blink: usize,
    },
    Brow {
        side: usize,
        yaw: i32,
    },
    NoseShade {
        yaw: i32,
    },
    Mouth {
        yaw: i32,
        open: u8,
        smile: u8,
    },
    FrontHair {
        yaw: i32,
    },
    Glasses {
        yaw: i32,
    },
    Hand {
        side: usize,
        open: usize,
        thumb_right: bool,
    },
}

fn nearest(levels: &[f32], x: f32) -> usize {
    let mut best = 0;
    for (i, l) in levels.iter().enumerate() {
        if (l - x).abs() < (levels[best] - x).abs() {
            best = i;
        }
    }
    best
}

fn yaw_step(yaw: f32) -> i32 {
    ((yaw / YAW_STEP).round() as i32).clamp(-YAW_STEPS, YAW_STEPS)
}

/// Paints a part in its own frame on a transparent canvas covering `min..max`
/// (head units around the pivot) and keeps what it covers.
fn part(s: f32, min: V2, max: V2, paint: impl FnOnce(&mut Canvas, &Frame)) -> Sprite {
    let w = ((max.x - min.x) * s).ceil() as u32 + 4;
    let h = ((max.y - min.y) * s).ceil() as u32 + 4;
    let pivot = v2((-min.x * s).round() + 2.0, (-min.y * s).round() + 2.0);
    let mut canvas = Canvas::new(w, h, vec![0.0; (w * h * 3) as usize], Light::default());
    let f = Frame {
        origin: pivot,
        scale: s,
        angle: 0.0,
    };
    paint(&mut canvas, &f);
    Sprite::from_canvas(&canvas, pivot)
}

/// A soft shadow part over `min..max` (head units around the pivot).
fn shadow(s: f32, min: V2, max: V2, colour: [f32; 3], amount: impl Fn(V2) -> f32) -> Sprite {
    let w = ((max.x - min.x) * s).ceil() as u32 + 4;
    let h = ((max.y - min.y) * s).ceil() as u32 + 4;
    let pivot = v2((-min.x * s).round() + 2.0, (-min.y * s).round() + 2.0);
    Sprite::shadow(w, h, pivot, colour, |p| {
        amount(v2((p.x - pivot.x) / s, (p.y - pivot.y) / s))
    })
}

/// The parts drawn once.
struct Parts {
    back_hair: Sprite,
    shoe: Sprite,
    thighs: [Sprite; 2],
    shins: [Sprite; 2],
    seat: Sprite,
    hood: Sprite,
    neck: Sprite,
    torso: Sprite,
    ears: [Sprite; 2],
    skull: Sprite,
    socket: Sprite,
    nose: Sprite,
    beard: Sprite,
    moustache: Sprite,
    upper_arms: [Sprite; 2],
    forearms: [Sprite; 2],
}

/// The rest skeleton the parts are drawn in (head units).
#[derive(Clone, Copy, Debug)]
struct Rest {
    /// Spine from the neck's base to the pelvis.
    torso: f32,
    thigh: f32,
    shin: f32,
}

/// One character's cutout parts at one scale, ready to be placed on poses.
pub struct Figure {
    look: Look,
    scale: f32,
    seed: u32,
    rest: Rest,
    parts: Parts,
    variants: HashMap<Variant, Sprite>,
}

impl Figure {
    /// Paints the rigid parts of `look` at `scale` pixels per head unit; `seed`
    /// varies the textures.
    pub fn new(look: &Look, scale: f32, seed: u32) -> Self {
        let s = scale;
        let b = look.build;
        let h = b.height;
        let rest = Rest {
            torso: (1.0 - 0.52) * h - 1.33,
            thigh: 0.245 * h,
            shin: 0.235 * h,
        };
        let hair = lin(look.hair);
        let thigh = |side: usize| {
            part(s, v2(-0.4, -0.4), v2(0.4, rest.thigh + 0.4), |c, f| {
                paint_leg(
                    c,
                    look,
                    f,
                    rest.thigh,
                    (0.3, 0.19),
                    seed + 20 + side as u32 * 3,
                );
            })
        };
        let shin = |side: usize| {
            part(s, v2(-0.3, -0.3), v2(0.3, rest.shin + 0.35), |c, f| {
                paint_leg(
                    c,
                    look,
                    f,
                    rest.shin + 0.05,
                    (0.19, 0.13),
                    seed + 26 + side as u32 * 3,
                );
            })
        };
        let shoulders = [v2(-b.shoulder, 0.1), v2(b.shoulder, 0.1)];
        let (torso_min, torso_max) = (
            v2(-b.shoulder - 0.7, -0.7),
            v2(b.shoulder + 0.7, rest.torso + 0.7),
        );
        let parts = Parts {
            back_hair: part(s, v2(-1.0, -1.0), v2(1.0, 1.9), |c, f| {
                paint_back_hair(c, look, f, hair, seed);
            }),
            shoe: part(s, v2(-0.35, -0.25), v2(0.35, 0.25), |c, f| {
                paint_shoe(c, look, f);
            }),
            thighs: [thigh(0), thigh(1)],
            shins: [shin(0), shin(1)],
            seat: part(s, v2(-b.hip - 0.4, -0.5), v2(b.hip + 0.4, 0.5), |c, f| {
                paint_seat(c, look, f, b.hip, seed);
            }),
            hood: part(s, v2(-0.7, -0.5), v2(0.7, 0.3), |c, f| {
                if look.top_style == Top::Hoodie {
                    paint_hood(c, look, f);
                }
            }),
            neck: part(s, v2(-0.4, -0.3), v2(0.4, NECK_LENGTH + 0.3), |c, f| {
                paint_neck(c, look, f, seed);
            }),
            torso: part(s, torso_min, torso_max, |c, f| {
                paint_torso(c, look, f, shoulders, v2(0.0, rest.torso), seed);
            }),
            ears: [-1.0, 1.0].map(|side| {
                part(s, v2(-0.2, -0.2), v2(0.2, 0.2), |c, f| {
                    paint_ear(c, look, f, side);
                })
            }),
            skull: part(s, v2(-0.7, -0.7), v2(0.7, 0.7), |c, f| {
                paint_skull(c, look, f, seed);
            }),
            socket: shadow(s, v2(-0.16, -0.12), v2(0.16, 0.12), SOCKET_SHADE, |q| {
                socket_shade(q)
            }),
            nose: part(s, v2(-0.12, -0.1), v2(0.12, 0.1), |c, f| {
                paint_nose(c, look, f);
            }),
            beard: part(s, v2(-0.7, -0.3), v2(0.7, 0.8), |c, f| {
                if look.beard {
                    paint_beard(c, look, f, seed);
                }
            }),
            moustache: part(s, v2(-0.2, -0.12), v2(0.2, 0.05), |c, f| {
                if look.beard {
                    paint_moustache(c, look, f, seed);
                }
            }),
            upper_arms: [0, 1].map(|side| {
                let r = arm_radii(look).0 + 0.1;
                part(s, v2(-r, -r), v2(r, UPPER_ARM + r), |c, f| {
                    paint_upper_arm(c, look, f, side, seed);
                })
            }),
            forearms: [0, 1].map(|side| {
                let r = arm_radii(look).1 + 0.1;
                part(s, v2(-r, -r), v2(r, FOREARM + r), |c, f| {
                    paint_forearm(c, look, f, side, seed);
                })
            }),
        };
        Self {
            look: *look,
            scale,
            seed,
            rest,
            parts,
            variants: HashMap::new(),
        }
    }

    /// How many pose-dependent variants have been drawn so far.
    pub fn variants_drawn(&self) -> usize {
        self.variants.len()
    }

    fn variant(&mut self, key: Variant) -> &Sprite {
        let (look, s, seed) = (&self.look, self.scale, self.seed);
        self.variants
            .entry(key)
            .or_insert_with(|| draw_variant(look, s, seed, key))
    }

    /// Draws the character in `pose` onto `layer`, its body origin (the floor
    /// between the feet) at `origin` pixels, in draw order.
    pub fn compose(&mut self, pose: &Pose, origin: V2, layer: &mut Layer) {
        let s = self.scale;
        let body = Frame {
            origin,
            scale: s,
            angle: 0.0,
        };
        let look = self.look;
        let p = &self.parts;
        let rest = self.rest;
        let down = |len: f32| v2(0.0, len * s);
        let head_c = pose.neck + v2(0.0, -0.56).rot(pose.roll);
        let head = Frame {
            origin: body.px(head_c),
            scale: s,
            angle: pose.roll,
        };
        let at_head = |q: V2| Affine::rotate(pose.roll, head.px(q));
        let torso = Affine::bone(
            v2(0.0, 0.0),
            down(rest.torso),
            body.px(pose.chest),
            body.px(pose.pelvis),
        );

        // 1. Hair behind the head and shoulders.
        layer.blit(&p.back_hair, at_head(v2(0.0, 0.0)));
        // 2. Legs: shoes, shins, thighs, the seat joining them.
        for side in 0..2 {
            let out = if side == 0 { -1.0 } else { 1.0 };
            let foot = pose.ankles[side] + v2(out * 0.08, 0.2);
            layer.blit(&p.shoe, Affine::rotate(0.0, body.px(foot)));
            let (hip, knee, ankle) = (pose.hips[side], pose.knees[side], pose.ankles[side]);
            let shin = Affine::bone(v2(0.0, 0.0), down(rest.shin), body.px(knee), body.px(ankle));
            layer.blit(&p.shins[side], shin);
            let thigh = Affine::bone(v2(0.0, 0.0), down(rest.thigh), body.px(hip), body.px(knee));
            layer.blit(&p.thighs[side], thigh);
        }
        let seat = pose.pelvis + v2(0.0, 0.05);
        layer.blit(&p.seat, Affine::rotate(pose.lean, body.px(seat)));
        // 3. Hood, neck, torso.
        layer.blit(&p.hood, torso);
        let neck_top = pose.neck + v2(0.0, -0.3).rot(pose.roll);
        let neck_bottom = pose.chest + v2(0.0, 0.15);
        let neck = Affine::bone(
            v2(0.0, 0.0),
            down(NECK_LENGTH),
            body.px(neck_top),
            body.px(neck_bottom),
        );
        layer.blit(&p.neck, neck);
        layer.blit(&p.torso, torso);
        // 4. Head: ears, skull, face, hair, glasses.
        let (yaw, nod) = (pose.yaw, pose.pitch * 0.22);
        let yq = yaw_step(yaw);
        for (i, side) in [-1.0f32, 1.0].into_iter().enumerate() {
            layer.blit(&p.ears[i], at_head(ear_centre(&look, yaw, nod, side)));
        }
        layer.blit(&p.skull, at_head(v2(0.0, 0.0)));
        for side in [-1.0f32, 1.0] {
            let c = v2(face_x(&look, yaw, side * 0.15), nod);
            layer.blit(&p.socket, at_head(c));
        }
        let tip = nose_tip(&look, yaw, nod);
        layer.blit(self.variant(Variant::NoseShade { yaw: yq }), at_head(tip));
        let p = &self.parts;
        layer.blit(&p.nose, at_head(tip));
        let blink = nearest(&BLINKS, pose.blink);
        for (side, x) in [-1.0f32, 1.0].into_iter().enumerate() {
            let eye = v2(face_x(&look, yaw, x * 0.15), nod);
            let key = Variant::Eye {
                side,
                yaw: yq,
                blink,
            };
            layer.blit(self.variant(key), at_head(eye));
            let brow = v2(
                face_x(&look, yaw, x * 0.16),
                -0.125 + nod - 0.025 * pose.brows,
            );
            layer.blit(self.variant(Variant::Brow { side, yaw: yq }), at_head(brow));
        }
        let mc = mouth_centre(&look, yaw, nod);
        let p = &self.parts;
        layer.blit(&p.beard, at_head(v2(0.0, 0.0)));
        layer.blit(&p.moustache, at_head(mc));
        let mouth = Variant::Mouth {
            yaw: yq,
            open: (pose.mouth.clamp(0.0, 1.0) * MOUTHS).round() as u8,
            smile: (pose.smile.clamp(0.0, 1.0) * SMILES).round() as u8,
        };
        layer.blit(self.variant(mouth), at_head(mc));
        layer.blit(
            self.variant(Variant::FrontHair { yaw: yq }),
            at_head(v2(0.0, 0.0)),
        );
        if look.glasses {
            let mid = (face_x(&look, yaw, 0.15) + face_x(&look, yaw, -0.15)) / 2.0;
            layer.blit(
                self.variant(Variant::Glasses { yaw: yq }),
                at_head(v2(mid, nod)),
            );
        }
        // 5. Arms, in front of the body: upper arm, forearm, hand.
        for side in 0..2 {
            let out = if side == 0 { -1.0 } else { 1.0 };
            let (sh, el, wr) = (pose.shoulders[side], pose.elbows[side], pose.wrists[side]);
            let upper = Affine::bone(v2(0.0, 0.0), down(UPPER_ARM), body.px(sh), body.px(el));
            layer.blit(&self.parts.upper_arms[side], upper);
            let fore = Affine::bone(v2(0.0, 0.0), down(FOREARM), body.px(el), body.px(wr));
            layer.blit(&self.parts.forearms[side], fore);
            let turn = pose.hand_dir[side];
            // The thumb points towards the body: across the hand, on the side
            // facing the other arm.
            let thumb_right = -turn.cos() * out >= 0.0;
            let key = Variant::Hand {
                side,
                open: nearest(&HAND_OPEN, pose.hand_open[side]),
                thumb_right,
            };
            layer.blit(self.variant(key), Affine::rotate(turn, body.px(wr)));
        }
    }
}

/// Paints one pose-dependent part.
fn draw_variant(look: &Look, s: f32, seed: u32, key: Variant) -> Sprite {
    let yaw_of = |q: i32| q as f32 * YAW_STEP;
    let sign = |side: usize| if side == 0 { -1.0 } else { 1.0 };
    match key {
        Variant::Eye { side, yaw, blink } => part(s, v2(-0.12, -0.1), v2(0.12, 0.1), |c, f| {
            paint_eye(c, look, f, sign(side), yaw_of(yaw), BLINKS[blink]);
        }),
        Variant::Brow { side, yaw } => part(s, v2(-0.2, -0.1), v2(0.2, 0.1), |c, f| {
            paint_brow(c, look, f, sign(side), yaw_of(yaw), seed);
        }),
        Variant::NoseShade { yaw } => {
            shadow(s, v2(-0.35, -0.25), v2(0.35, 0.12), NOSE_SHADE, |q| {
                nose_shade(look, yaw_of(yaw), q)
            })
        }
        Variant::Mouth { yaw, open, smile } => part(s, v2(-0.16, -0.12), v2(0.16, 0.12), |c, f| {
            paint_mouth(
                c,
                look,
                f,
                yaw_of(yaw),
                open as f32 / MOUTHS,
                smile as f32 / SMILES,
            );
        }),
        Variant::FrontHair { yaw } => part(s, v2(-0.8, -0.8), v2(0.8, 1.05), |c, f| {
            paint_front_hair(c, look, f, lin(look.hair), yaw_of(yaw), seed);
        }),
        Variant::Glasses { yaw } => part(s, v2(-0.45, -0.15), v2(0.45, 0.15), |c, f| {
            paint_glasses(c, look, f, yaw_of(yaw));
        }),
        Variant::Hand {
            side,
            open,
            thumb_right,
        } => part(s, v2(-0.4, -0.2), v2(0.4, 0.7), |c, f| {
            let thumb = if thumb_right { 1.0 } else { -1.0 };
            paint_hand(c, look, f, side, HAND_OPEN[open], thumb, seed);
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::character::look::{CAST, Framing};
    use crate::capture::character::motion::Motion;

    fn figure(i: usize) -> (Figure, Motion, V2) {
        let look = &CAST[i];
        let framing = Framing::of_variant(i as u32);
        let (scale, crown) = framing.scale_and_crown(240.0, look.build.height);
        let motion = Motion::new(i as u32, look.build, 0.5);
        let origin = v2(160.0, crown + look.build.height * scale);
        (Figure::new(look, scale, i as u32), motion, origin)
    }

    fn render(i: usize, t: f32) -> Layer {
        let (mut f, motion, origin) = figure(i);
        let mut layer = Layer::new(320, 240);
        f.compose(&motion.pose(t), origin, &mut layer);
        layer
    }

    #[test]
    fn each_character_covers_a_plausible_part_of_the_frame() {
        for i in 0..CAST.len() {
            let c = render(i, 1.0);
            let covered =
                c.alpha.iter().filter(|&&a| a > 0.5).count() as f32 / c.alpha.len() as f32;
            assert!(
                (0.04..0.6).contains(&covered),
                "character {i} covers {covered}"
            );
            // Close-ups and half bodies are cut by the frame's bottom edge; the
            // far framing shows the feet on the floor above it.
            let bottom = c.alpha[320 * 239..].iter().filter(|&&a| a > 0.5).count();
            match Framing::of_variant(i as u32) {
                Framing::Far => assert_eq!(bottom, 0, "character {i}"),
                _ => assert!(bottom > 20, "character {i}: {bottom} pixels at the bottom"),
            }
        }
    }

    #[test]
    fn characters_move_between_moments() {
        let a = render(0, 1.0);
        let b = render(0, 3.0);
        let changed = a
            .alpha
            .iter()
            .zip(&b.alpha)
            .filter(|(x, y)| (*x - *y).abs() > 0.5)
            .count();
        assert!(changed > 100, "{changed} pixels changed");
    }

    #[test]
    fn the_person_is_one_piece_without_holes_at_the_joints() {
        // Every covered pixel inside the body's outline: no transparent pixel
        // between two covered ones along a row through the torso and upper arms.
        for i in 0..CAST.len() {
            let (mut f, motion, origin) = figure(i);
            let mut layer = Layer::new(320, 240);
            let pose = motion.pose(2.0);
            f.compose(&pose, origin, &mut layer);
            let y = (origin.y + pose.chest.y * f.scale + 0.5 * f.scale) as usize;
            let row = &layer.alpha[y * 320..(y + 1) * 320];
            let first = row.iter().position(|&a| a > 0.5);
            let last = row.iter().rposition(|&a| a > 0.5);
            let (Some(first), Some(last)) = (first, last) else {
                panic!("character {i}: nothing at the chest");
            };
            let gaps = row[first..=last].iter().filter(|&&a| a < 0.5).count();
            // Arms hang beside the torso and may leave a narrow gap each.
            assert!(
                gaps < (last - first) / 4,
                "character {i}: {gaps} open pixels"
            );
        }
    }

    #[test]
    fn pose_dependent_variants_are_drawn_once_and_reused() {
        let (mut f, motion, origin) = figure(1);
        let mut layer = Layer::new(320, 240);
        for n in 0..300 {
            layer.clear();
            f.compose(&motion.pose(n as f32 / 15.0), origin, &mut layer);
        }
        let after_20_s = f.variants_drawn();
        layer.clear();
        f.compose(&motion.pose(7.0), origin, &mut layer);
        assert_eq!(f.variants_drawn(), after_20_s, "a seen pose drew again");
        // Eyes, brows, nose, mouth, hair and two hands at least; far fewer than
        // one per frame.
        assert!((8..300).contains(&after_20_s), "{after_20_s} variants");
    }
}
