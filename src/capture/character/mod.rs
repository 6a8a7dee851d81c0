//! Animated people for the synthetic camera (pure): distinct characters ([`look`]),
//! moved by procedural human motion ([`motion`]), drawn anti-aliased with soft
//! shading ([`paint`]) in front of a room ([`room`]), as cutouts ([`cutout`]).
//!
//! Drawing is cutout animation, as 2D games do it. Each rigid part of a character
//! is painted once by the rasteriser (the functions in this file, each in the
//! part's own frame: pivot at the origin, at rest) and kept as a sprite
//! ([`figure::Figure`]): back hair, shoes, thighs, shins, seat, hood, neck, torso
//! (with the top's pattern), ears, skull, face features (eye sockets, nose, eyes,
//! brows, beard, moustache, mouth), front hair, glasses, upper arms, forearms and
//! hands. Parts whose shape changes with the pose come in a few variants, drawn on
//! first use: eyes by blink and head turn, mouths by opening and smile, hands by
//! how open they are. Each frame places the parts on the skeleton of
//! [`motion::Pose`] in draw order: back hair, legs and shoes, hood, neck, torso,
//! head (ears, skull, face, front hair, glasses), then both arms. Shapes are
//! shaded as rounded volumes lit from the front-left, skin and cloth carry a fine
//! texture, and the composed layer keeps the exact coverage of the person (the
//! union of the parts'), which tests compare with what segmentation cuts.

pub mod cutout;
pub mod figure;
pub mod look;
pub mod motion;
pub mod paint;
pub mod room;

use std::ops::{Add, Mul, Sub};

use look::{Hair, Look, Top};
use paint::{
    Bounds, Canvas, Hit, Light, V2, capsule, circle, ellipse, lin, mix, noise2, scale, smin,
    smoothstep, v2,
};

/// Where a character stands in the frame: the floor point between its feet (when
/// the motion stands still) in pixels, and pixels per head unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// Pixel position of the body's origin (floor, between the feet).
    pub origin: V2,
    /// Pixels per head unit.
    pub scale: f32,
}

/// A local frame: local point (head units) → pixels.
#[derive(Clone, Copy, Debug)]
struct Frame {
    origin: V2,
    scale: f32,
    angle: f32,
}

impl Frame {
    fn px(&self, l: V2) -> V2 {
        self.origin.add(l.rot(self.angle).mul(self.scale))
    }
    fn local(&self, p: V2) -> V2 {
        p.sub(self.origin).mul(1.0 / self.scale).rot(-self.angle)
    }
    /// Pixel bounds of a local circle.
    fn bounds(&self, c: V2, r: f32) -> Bounds {
        Bounds::around(self.px(c), v2(r * self.scale, r * self.scale))
    }
}

/// Shading of skin: diffuse with a warm bounce in the shadows, a faint sheen and a
/// fine texture.
fn skin(light: &Light, base: [f32; 3], hit: &Hit, grain: f32) -> [f32; 3] {
    let d = light.diffuse(hit.n);
    let warm = [base[0] * 0.12, base[1] * 0.03, base[2] * 0.0];
    let spec = light.specular(hit.n, 20.0) * 0.05;
    let k = 1.0 + 0.07 * (grain - 0.5);
    [
        (base[0] * d + warm[0] * (1.3 - d)) * k + spec,
        (base[1] * d + warm[1] * (1.3 - d)) * k + spec,
        (base[2] * d) * k + spec * 0.9,
    ]
}

/// Shading of cloth: diffuse with a weave texture and soft folds.
fn cloth(light: &Light, base: [f32; 3], hit: &Hit, weave: f32, fold: f32) -> [f32; 3] {
    let d = light.diffuse(hit.n) * (0.9 + 0.2 * fold);
    scale(base, d * (0.95 + 0.1 * weave))
}

/// Shading of hair: darker, with strands and a sheen band.
fn hair_shade(light: &Light, base: [f32; 3], hit: &Hit, strands: f32, sheen: f32) -> [f32; 3] {
    let d = light.diffuse(hit.n);
    let s = light.specular(hit.n, 8.0) * 0.12 * sheen;
    let k = d * (0.75 + 0.5 * strands);
    [base[0] * k + s, base[1] * k + s, base[2] * k + s * 0.9]
}

/// The head's outline in head units (skull and jaw), for the skull and the hair
/// that follows it.
fn head_sdf(look: &Look, q: V2) -> f32 {
    let hw = look.head_width;
    smin(
        ellipse(q, v2(0.0, -0.05), v2(hw, 0.46), 0.0),
        ellipse(q, v2(0.0, 0.2), v2(0.74 * hw * look.jaw, 0.3), 0.0),
        0.12,
    )
}

/// Horizontal position of a face feature at `x` (head units, facing the camera) on
/// a head turned by `yaw`.
fn face_x(look: &Look, yaw: f32, x: f32) -> f32 {
    let r = look.head_width * 1.05;
    r * ((x / r).clamp(-1.0, 1.0).asin() + yaw).sin()
}

/// Centre of the mouth on a head turned by `yaw` and nodded by `nod`.
fn mouth_centre(look: &Look, yaw: f32, nod: f32) -> V2 {
    v2(face_x(look, yaw, 0.0) + yaw * 0.03, 0.29 + nod * 1.1)
}

/// Where an ear sits on a head turned by `yaw` (`side` -1 or 1).
fn ear_centre(look: &Look, yaw: f32, nod: f32, side: f32) -> V2 {
    let ex = look.head_width * (side * std::f32::consts::FRAC_PI_2 * 0.92 + yaw).sin();
    v2(ex, 0.04 + nod * 0.5)
}

/// A shoe, centred on the part's origin.
fn paint_shoe(canvas: &mut Canvas, look: &Look, f: &Frame) {
    let light = canvas.light;
    let shoe = lin(look.shoes);
    let s = f.scale;
    canvas.fill(
        f.bounds(v2(0.0, 0.0), 0.3),
        0.1 * s,
        true,
        |p| ellipse(f.local(p), v2(0.0, 0.0), v2(0.22, 0.12), 0.0) * s,
        |hit| {
            let d = light.diffuse(hit.n);
            let sp = light.specular(hit.n, 30.0) * 0.15;
            [shoe[0] * d + sp, shoe[1] * d + sp, shoe[2] * d + sp]
        },
    );
}

/// A trouser leg segment from the origin down to `(0, len)`, radius `ra` to `rb`.
fn paint_leg(canvas: &mut Canvas, look: &Look, f: &Frame, len: f32, r: (f32, f32), seed: u32) {
    let light = canvas.light;
    let base = lin(look.trousers);
    fill_limb(canvas, f, len, r, 0.2, |hit, q| {
        let fold = noise2(v2(q.x * 6.0, q.y * 2.0), seed);
        cloth(&light, base, hit, noise2(q.mul(60.0), seed + 1), fold)
    });
}

/// A tapered capsule from the part's origin down to `(0, len)`, radius `r.0` to
/// `r.1`, bulging over `thickness` head units; `shade` gets the hit and its local
/// point.
fn fill_limb(
    canvas: &mut Canvas,
    f: &Frame,
    len: f32,
    r: (f32, f32),
    thickness: f32,
    shade: impl Fn(&Hit, V2) -> [f32; 3],
) {
    let s = f.scale;
    let (a, b) = (v2(0.0, 0.0), v2(0.0, len));
    canvas.fill(
        Bounds::segment(f.px(a), f.px(b), r.0.max(r.1) * s + 2.0),
        thickness * s,
        true,
        |p| capsule(f.local(p), a, b, r.0, r.1) * s,
        |hit| shade(hit, f.local(hit.p)),
    );
}

/// The seat of the trousers joining both legs, centred on the origin; `hip` is
/// half the distance between the hip joints.
fn paint_seat(canvas: &mut Canvas, look: &Look, f: &Frame, hip: f32, seed: u32) {
    let light = canvas.light;
    let s = f.scale;
    let base = lin(look.trousers);
    canvas.fill(
        f.bounds(v2(0.0, 0.0), 0.7),
        0.25 * s,
        true,
        |p| ellipse(f.local(p), v2(0.0, 0.0), v2(hip + 0.26, 0.38), 0.0) * s,
        |hit| cloth(&light, base, hit, noise2(hit.p.mul(0.7), seed + 22), 0.5),
    );
}

/// The hood behind the neck, in the torso's frame (origin at the base of the neck).
fn paint_hood(canvas: &mut Canvas, look: &Look, torso: &Frame) {
    let light = canvas.light;
    let s = torso.scale;
    let c = v2(0.0, -0.08);
    canvas.fill(
        torso.bounds(c, 0.7),
        0.18 * s,
        true,
        |p| ellipse(torso.local(p), c, v2(0.55, 0.3), 0.0) * s,
        |hit| cloth(&light, scale(lin(look.top), 0.8), hit, 0.5, 0.5),
    );
}

/// Length of the neck part from its top (under the head) to its foot on the chest.
const NECK_LENGTH: f32 = 0.75;

/// The neck from the origin (its top, 0.26 below the head's centre) down to
/// `(0, NECK_LENGTH)`, with the jaw's shadow on it.
fn paint_neck(canvas: &mut Canvas, look: &Look, f: &Frame, seed: u32) {
    let light = canvas.light;
    let s = f.scale;
    let skin_lin = lin(look.skin);
    let (top, bottom) = (v2(0.0, 0.0), v2(0.0, NECK_LENGTH));
    let r = 0.21 * look.jaw;
    canvas.fill(
        Bounds::segment(f.px(top), f.px(bottom), r * 1.12 * s + 2.0),
        r * s,
        true,
        |p| capsule(f.local(p), top, bottom, r, r * 1.12) * s,
        |hit| {
            let g = noise2(f.local(hit.p).mul(40.0), seed);
            scale(skin(&light, skin_lin, hit, g), 0.92)
        },
    );
    // The jaw's lower edge is 0.44 below the head's centre: 0.18 below the top.
    canvas.shadow(f.bounds(v2(0.0, 0.3), 0.4), [0.6, 0.55, 0.55], |p| {
        let below = f.local(p).y - 0.18;
        if below < 0.0 {
            0.0
        } else {
            (1.0 - below / 0.22).clamp(0.0, 1.0) * 0.8
        }
    });
}
/// The torso in its own frame (origin at the base of the neck, the spine down +y),
/// with the shoulder joints `sh` and the pelvis `pelvis` in that frame; the top's
/// pattern, neckline, collar or hood rim on it.
fn paint_torso(
    canvas: &mut Canvas,
    look: &Look,
    torso: &Frame,
    sh: [V2; 2],
    pelvis: V2,
    seed: u32,
) {
    let light = canvas.light;
    let s = torso.scale;
    let top = lin(look.top);
    let top2 = lin(look.top2);
    let b = look.build;
    let waist_y = pelvis.y * 0.62;
    let hem = pelvis.y + 0.32;
    let sdf = move |q: V2| {
        let shoulders = capsule(q, sh[0], sh[1], 0.21, 0.21);
        let trapezius = ellipse(q, v2(0.0, 0.12), v2(b.shoulder * 0.75, 0.4), 0.0);
        let chest = ellipse(q, v2(0.0, 0.6), v2(b.shoulder * 0.98, 0.62), 0.0);
        let waist = ellipse(q, v2(0.0, waist_y), v2(b.shoulder * 0.78, 0.7), 0.0);
        let hips = ellipse(q, v2(0.0, pelvis.y - 0.1), v2(b.hip + 0.24, 0.42), 0.0);
        let upper = smin(smin(shoulders, trapezius, 0.2), chest, 0.3);
        let d = smin(upper, smin(waist, hips, 0.3), 0.3);
        let neckline = ellipse(q, v2(0.0, -0.16), v2(0.22, 0.14), 0.0);
        d.max(-neckline).max(q.y - hem)
    };
    let bounds = torso.bounds(
        v2(0.0, pelvis.y / 2.0),
        pelvis.y.abs() / 2.0 + b.shoulder + 0.6,
    );
    let style = look.top_style;
    canvas.fill(
        bounds,
        0.45 * s,
        true,
        |p| sdf(torso.local(p)) * s,
        |hit| {
            let q = torso.local(hit.p);
            let fold = noise2(v2(q.x * 3.0, q.y * 1.2), seed + 30);
            let weave = noise2(q.mul(70.0), seed + 31);
            let base = match style {
                Top::Stripes => {
                    let band = (q.y * std::f32::consts::TAU / 0.24).sin();
                    let px = 0.24 * s;
                    mix(top, top2, smoothstep(-2.0 / px, 2.0 / px, band))
                }
                _ => top,
            };
            cloth(&light, base, hit, weave, fold)
        },
    );
    match look.top_style {
        Top::Hoodie => {
            // Rim of the hood around the neckline and two drawstrings.
            canvas.fill(
                torso.bounds(v2(0.0, -0.05), 0.45),
                0.08 * s,
                true,
                |p| {
                    let q = torso.local(p);
                    let ring = ellipse(q, v2(0.0, -0.1), v2(0.3, 0.25), 0.0).abs() - 0.055;
                    ring.max(q.y - 0.15).max(-0.25 - q.y) * s
                },
                |hit| cloth(&light, scale(top, 0.85), hit, 0.5, 0.5),
            );
            for x in [-0.1f32, 0.1] {
                let (a, bb) = (v2(x, 0.12), v2(x * 1.2, 0.7));
                canvas.fill(
                    torso.bounds(a.lerp(bb, 0.5), 0.4),
                    0.0,
                    true,
                    |p| capsule(torso.local(p), a, bb, 0.022, 0.022) * s,
                    |hit| scale(top2, light.diffuse(hit.n)),
                );
            }
        }
        Top::Collar => {
            for side in [-1.0f32, 1.0] {
                let c = v2(side * 0.12, -0.02);
                canvas.fill(
                    torso.bounds(c, 0.25),
                    0.05 * s,
                    true,
                    |p| ellipse(torso.local(p), c, v2(0.15, 0.06), -side * 0.85) * s,
                    |hit| cloth(&light, top2, hit, 0.5, 0.6),
                );
            }
            let a = v2(0.0, 0.08);
            let bb = v2(0.0, pelvis.y + 0.2);
            canvas.fill(
                torso.bounds(a.lerp(bb, 0.5), (bb.y - a.y) / 2.0 + 0.1),
                0.0,
                true,
                |p| capsule(torso.local(p), a, bb, 0.012, 0.012) * s,
                |_| scale(top, 0.6),
            );
            for i in 0..4 {
                let c = v2(0.03, 0.3 + 0.45 * i as f32);
                if c.y > bb.y {
                    break;
                }
                canvas.fill(
                    torso.bounds(c, 0.05),
                    0.02 * s,
                    true,
                    |p| circle(torso.local(p), c, 0.025) * s,
                    |hit| scale([0.8, 0.8, 0.82], light.diffuse(hit.n)),
                );
            }
        }
        Top::Plain | Top::Stripes => {
            // A ribbed neckline.
            canvas.fill(
                torso.bounds(v2(0.0, -0.1), 0.35),
                0.03 * s,
                true,
                |p| {
                    let q = torso.local(p);
                    (ellipse(q, v2(0.0, -0.16), v2(0.22, 0.14), 0.0).abs() - 0.025).max(-0.1 - q.y)
                        * s
                },
                |hit| cloth(&light, scale(top, 0.85), hit, 0.5, 0.5),
            );
        }
    }
}

/// An ear centred on the origin (`side` -1 left, 1 right).
fn paint_ear(canvas: &mut Canvas, look: &Look, f: &Frame, side: f32) {
    let light = canvas.light;
    let s = f.scale;
    let skin_lin = lin(look.skin);
    let c = v2(0.0, 0.0);
    canvas.fill(
        f.bounds(c, 0.14),
        0.06 * s,
        true,
        |p| ellipse(f.local(p), c, v2(0.065, 0.11), side * 0.15) * s,
        |hit| {
            let q = f.local(hit.p);
            let inner = ellipse(q, c.add(v2(side * 0.01, 0.0)), v2(0.03, 0.065), 0.0);
            let k = if inner < 0.0 { 0.8 } else { 1.0 };
            scale(skin(&light, skin_lin, hit, 0.5), k * 0.95)
        },
    );
}

/// The skull and face skin in the head's frame, cheeks warmer.
fn paint_skull(canvas: &mut Canvas, look: &Look, head: &Frame, seed: u32) {
    let light = canvas.light;
    let s = head.scale;
    let skin_lin = lin(look.skin);
    canvas.fill(
        head.bounds(v2(0.0, 0.0), 0.6),
        look.head_width * s,
        true,
        |p| head_sdf(look, head.local(p)) * s,
        |hit| {
            let q = head.local(hit.p);
            let g = noise2(q.mul(45.0), seed + 1) * 0.6 + noise2(q.mul(9.0), seed + 2) * 0.4;
            let c = skin(&light, skin_lin, hit, g);
            // Cheeks warmer, forehead a touch lighter.
            let cheek = (1.0
                - (ellipse(v2(q.x.abs(), q.y), v2(0.2, 0.17), v2(0.1, 0.07), 0.0) / 0.08)
                    .clamp(0.0, 1.0))
                * 0.25;
            mix(c, [c[0] * 1.12, c[1] * 0.86, c[2] * 0.86], cheek)
        },
    );
}

/// The shade of an eye socket under the brow, centred on the origin: its colour and
/// strength at a local point.
const SOCKET_SHADE: [f32; 3] = [0.82, 0.74, 0.72];
fn socket_shade(q: V2) -> f32 {
    let d = ellipse(q, v2(0.0, 0.0), v2(0.11, 0.07), 0.0);
    (1.0 - (d + 0.03) / 0.07).clamp(0.0, 1.0) * 0.6
}

/// The nose's shade (side away from the light, shadow under it) relative to its
/// tip, on a head turned by `yaw`: its colour and strength at a local point.
const NOSE_SHADE: [f32; 3] = [0.72, 0.64, 0.62];
fn nose_shade(look: &Look, yaw: f32, q: V2) -> f32 {
    let nx = face_x(look, yaw, 0.0) + yaw * 0.07;
    let bridge = capsule(
        q,
        v2(face_x(look, yaw, 0.035) - nx, -0.15),
        v2(0.04, -0.02),
        0.012,
        0.02,
    );
    let under = ellipse(q, v2(0.0, 0.045), v2(0.06, 0.02), 0.0);
    let a = (1.0 - bridge / 0.03).clamp(0.0, 1.0) * 0.55;
    let b = (1.0 - under / 0.025).clamp(0.0, 1.0) * 0.7;
    a.max(b)
}

/// Where the nose's tip is on a head turned by `yaw` and nodded by `nod`.
fn nose_tip(look: &Look, yaw: f32, nod: f32) -> V2 {
    v2(face_x(look, yaw, 0.0) + yaw * 0.07, 0.15 + nod * 1.2)
}

/// The nose's tip and nostrils, centred on the tip.
fn paint_nose(canvas: &mut Canvas, look: &Look, f: &Frame) {
    let light = canvas.light;
    let s = f.scale;
    let skin_lin = lin(look.skin);
    let tip = v2(0.0, 0.0);
    canvas.fill(
        f.bounds(tip, 0.1),
        0.05 * s,
        true,
        |p| ellipse(f.local(p), tip, v2(0.055, 0.04), 0.0) * s,
        |hit| {
            let c = skin(&light, skin_lin, hit, 0.5);
            // The tip's edge blends into the face.
            let k = (-hit.d / (0.02 * s)).clamp(0.0, 1.0);
            let flat = Hit {
                n: [0.0, 0.0, 1.0],
                ..*hit
            };
            mix(skin(&light, skin_lin, &flat, 0.5), c, k)
        },
    );
    for side in [-1.0f32, 1.0] {
        let c = tip.add(v2(side * 0.03, 0.03));
        canvas.fill(
            f.bounds(c, 0.04),
            0.0,
            true,
            |p| ellipse(f.local(p), c, v2(0.018, 0.01), side * 0.3) * s,
            |_| scale(skin_lin, 0.35),
        );
    }
}

/// One eye centred on the origin: white, iris, pupil, catchlight, lid and lashes,
/// on a head turned by `yaw` (`side` -1 or 1), lids closed by `blink` (0..1).
fn paint_eye(canvas: &mut Canvas, look: &Look, f: &Frame, side: f32, yaw: f32, blink: f32) {
    let s = f.scale;
    let skin_lin = lin(look.skin);
    let open = 1.0 - blink;
    let iris_c = lin(look.iris);
    let c = v2(0.0, 0.0);
    let r = v2(0.068 * (0.75 + 0.25 * (1.0 - (yaw * side).abs())), 0.036);
    let ry = (r.y * open).max(0.004);
    let eye = move |q: V2| ellipse(q, c, v2(r.x, ry), 0.0);
    if open > 0.12 {
        canvas.fill(
            f.bounds(c, 0.1),
            0.03 * s,
            true,
            |p| eye(f.local(p)) * s,
            |hit| scale([0.78, 0.74, 0.72], 0.7 + 0.3 * hit.n[2]),
        );
        let look_at = c.add(v2(yaw * 0.03, 0.0));
        canvas.fill(
            f.bounds(c, 0.1),
            0.0,
            true,
            |p| {
                let q = f.local(p);
                circle(q, look_at, 0.03).max(eye(q)) * s
            },
            |hit| {
                let d = f.local(hit.p).sub(look_at).len() / 0.03;
                if d < 0.42 {
                    [0.01, 0.01, 0.01]
                } else {
                    scale(iris_c, 1.2 - 0.5 * d)
                }
            },
        );
        let glint = look_at.add(v2(-0.01, -0.01));
        canvas.fill(
            f.bounds(glint, 0.02),
            0.0,
            true,
            |p| circle(f.local(p), glint, 0.007) * s,
            |_| [0.9, 0.9, 0.9],
        );
    }
    // Upper lid line with lashes.
    canvas.fill(
        f.bounds(c, 0.1),
        0.0,
        true,
        |p| {
            let q = f.local(p);
            let ring = ellipse(q, c, v2(r.x + 0.004, ry + 0.004), 0.0).abs() - 0.007;
            ring.max(q.y - c.y - ry * 0.2) * s
        },
        |_| scale(skin_lin, 0.22),
    );
}

/// A brow centred on its middle on a head turned by `yaw` (`side` -1 or 1).
fn paint_brow(canvas: &mut Canvas, look: &Look, f: &Frame, side: f32, yaw: f32, seed: u32) {
    let hair_lin = lin(look.hair);
    let s = f.scale;
    let mid_x = face_x(look, yaw, side * 0.16);
    let inner = v2(face_x(look, yaw, side * 0.07) - mid_x, 0.025);
    let mid = v2(0.0, 0.0);
    let outer = v2(face_x(look, yaw, side * 0.25) - mid_x, 0.02);
    canvas.fill(
        f.bounds(mid, 0.16),
        0.0,
        true,
        |p| {
            let q = f.local(p);
            smin(
                capsule(q, inner, mid, 0.021, 0.018),
                capsule(q, mid, outer, 0.018, 0.01),
                0.01,
            ) * s
        },
        |hit| {
            let q = f.local(hit.p);
            scale(
                hair_lin,
                0.7 + 0.5 * noise2(v2(q.x * 160.0, q.y * 30.0), seed + 50),
            )
        },
    );
}

/// A beard along the jaw, in the head's frame (the mouth is drawn over it).
fn paint_beard(canvas: &mut Canvas, look: &Look, head: &Frame, seed: u32) {
    let light = canvas.light;
    let s = head.scale;
    let (skin_lin, hair_lin) = (lin(look.skin), lin(look.hair));
    let (jaw, hw) = (look.jaw, look.head_width);
    canvas.fill(
        head.bounds(v2(0.0, 0.3), 0.45),
        0.1 * s,
        true,
        |p| {
            let q = head.local(p);
            let jaw_shape = smin(
                ellipse(q, v2(0.0, -0.03), v2(hw + 0.01, 0.47), 0.0),
                ellipse(q, v2(0.0, 0.22), v2(0.76 * hw * jaw, 0.32), 0.0),
                0.12,
            );
            let line = 0.24 - 0.2 * smoothstep(0.14, 0.3, q.x.abs());
            jaw_shape.max(line - q.y) * s
        },
        |hit| {
            let q = head.local(hit.p);
            let strands = noise2(v2(q.x * 90.0, q.y * 40.0), seed + 51);
            let edge = (-hit.d / (0.03 * s)).clamp(0.0, 1.0);
            let c = hair_shade(&light, hair_lin, hit, strands, 0.5);
            mix(skin(&light, skin_lin, hit, 0.5), c, 0.35 + 0.5 * edge)
        },
    );
}

/// A moustache centred on the mouth.
fn paint_moustache(canvas: &mut Canvas, look: &Look, f: &Frame, seed: u32) {
    let light = canvas.light;
    let s = f.scale;
    let hair_lin = lin(look.hair);
    let (a, b) = (v2(-0.1, -0.045), v2(0.1, -0.045));
    canvas.fill(
        f.bounds(v2(0.0, 0.0), 0.15),
        0.02 * s,
        true,
        |p| {
            let q = f.local(p);
            let bent = v2(q.x, q.y + 0.5 * q.x * q.x);
            capsule(bent, a, b, 0.025, 0.025) * s
        },
        |hit| {
            let q = f.local(hit.p);
            hair_shade(
                &light,
                hair_lin,
                hit,
                noise2(v2(q.x * 120.0, q.y * 20.0), seed + 52),
                0.5,
            )
        },
    );
}

/// The mouth centred on the origin: lips, and when open the dark inside with the
/// upper teeth; `mouth` 0 (closed) to 1 (wide), `smile` 0 to 1, on a head turned
/// by `yaw`.
fn paint_mouth(canvas: &mut Canvas, look: &Look, f: &Frame, yaw: f32, mouth: f32, smile: f32) {
    let s = f.scale;
    let lips = lin(look.lips);
    let mc = v2(0.0, 0.0);
    let gap = 0.008 + 0.06 * mouth;
    let width = 0.095 * (1.0 - 0.12 * mouth) * (0.8 + 0.2 * (1.0 - yaw.abs()));
    let smile = smile * 0.03;
    let bend = move |q: V2| v2(q.x, q.y + smile * (q.x / width).powi(2));
    let light = canvas.light;
    canvas.fill(
        f.bounds(mc, 0.16),
        0.03 * s,
        true,
        |p| {
            let q = bend(f.local(p));
            let upper = ellipse(q, v2(0.0, -gap / 2.0 - 0.012), v2(width, 0.02), 0.0);
            let lower = ellipse(q, v2(0.0, gap / 2.0 + 0.016), v2(width * 0.85, 0.026), 0.0);
            smin(upper, lower, 0.01) * s
        },
        |hit| {
            let c = skin(&light, lips, hit, 0.5);
            if f.local(hit.p).y > 0.0 {
                scale(c, 1.08)
            } else {
                scale(c, 0.85)
            }
        },
    );
    if mouth > 0.05 {
        canvas.fill(
            f.bounds(mc, 0.12),
            0.0,
            true,
            |p| {
                ellipse(
                    bend(f.local(p)),
                    mc,
                    v2(width * 0.82, gap / 2.0 + 0.004),
                    0.0,
                ) * s
            },
            |hit| {
                if bend(f.local(hit.p)).y < -gap / 2.0 + 0.018 {
                    [0.62, 0.6, 0.56]
                } else {
                    [0.05, 0.015, 0.015]
                }
            },
        );
    } else {
        canvas.fill(
            f.bounds(mc, 0.12),
            0.0,
            true,
            |p| {
                let q = bend(f.local(p));
                capsule(q, v2(-width * 0.9, 0.0), v2(width * 0.9, 0.0), 0.005, 0.005) * s
            },
            |_| scale(lips, 0.35),
        );
    }
}

/// Glasses centred between the lenses, on a head turned by `yaw`.
fn paint_glasses(canvas: &mut Canvas, look: &Look, f: &Frame, yaw: f32) {
    let s = f.scale;
    let half = (face_x(look, yaw, 0.15) - face_x(look, yaw, -0.15)) / 2.0;
    let (l, r) = (v2(-half, 0.0), v2(half, 0.0));
    let frame = [0.03, 0.025, 0.025];
    canvas.fill(
        f.bounds(v2(0.0, 0.0), 0.4),
        0.0,
        true,
        |p| {
            let q = f.local(p);
            let lens = |c: V2| ellipse(q, c, v2(0.105, 0.075), 0.0).abs() - 0.011;
            let bridge = capsule(q, l.add(v2(0.1, -0.02)), r.add(v2(-0.1, -0.02)), 0.01, 0.01);
            lens(l).min(lens(r)).min(bridge) * s
        },
        |_| frame,
    );
}

/// Radii of an arm at the shoulder, elbow and wrist.
fn arm_radii(look: &Look) -> (f32, f32, f32) {
    let girth = look.build.shoulder / 0.8;
    (0.2 * girth, 0.145 * girth, 0.1 * girth)
}

/// Skin with a fine grain at a local point.
fn skin_at(light: &Light, look: &Look, hit: &Hit, q: V2, seed: u32) -> [f32; 3] {
    skin(light, lin(look.skin), hit, noise2(q.mul(40.0), seed + 40))
}

/// A segment of an arm from the origin down to `(0, len)`, radius `r.0` to `r.1`:
/// sleeve cloth (folds from `fold_seed`) when the sleeves are long, else skin.
fn paint_arm_segment(
    canvas: &mut Canvas,
    look: &Look,
    f: &Frame,
    len: f32,
    r: (f32, f32),
    fold_seed: u32,
    seed: u32,
) {
    let light = canvas.light;
    let top = lin(look.top);
    fill_limb(canvas, f, len, r, 0.12, |hit, q| {
        if look.long_sleeves {
            let fold = noise2(v2(q.x * 4.0, q.y * 4.0), fold_seed);
            cloth(&light, top, hit, noise2(q.mul(70.0), seed + 42), fold)
        } else {
            skin_at(&light, look, hit, q, seed)
        }
    });
}

/// The upper arm from the shoulder (origin) down to the elbow at `(0, UPPER_ARM)`,
/// with a short sleeve when the top has them.
fn paint_upper_arm(canvas: &mut Canvas, look: &Look, f: &Frame, side: usize, seed: u32) {
    let light = canvas.light;
    let s = f.scale;
    let top = lin(look.top);
    let (ru, re, _) = arm_radii(look);
    let (sh, el) = (v2(0.0, 0.0), v2(0.0, motion::UPPER_ARM));
    paint_arm_segment(
        canvas,
        look,
        f,
        el.y,
        (ru, re),
        seed + 41 + side as u32,
        seed,
    );
    if !look.long_sleeves {
        let colour = if look.top_style == Top::Stripes {
            lin(look.top2)
        } else {
            top
        };
        let end = sh.lerp(el, 0.55);
        canvas.fill(
            Bounds::segment(f.px(sh), f.px(end), (ru + 0.05) * s),
            0.12 * s,
            true,
            |p| capsule(f.local(p), sh, end, ru + 0.03, ru + 0.02) * s,
            |hit| {
                let q = f.local(hit.p);
                cloth(&light, colour, hit, noise2(q.mul(70.0), seed + 43), 0.5)
            },
        );
    }
}

/// The forearm from the elbow (origin) down to the wrist at `(0, FOREARM)`, with
/// a cuff when the sleeves are long.
fn paint_forearm(canvas: &mut Canvas, look: &Look, f: &Frame, side: usize, seed: u32) {
    let light = canvas.light;
    let s = f.scale;
    let top = lin(look.top);
    let (_, re, rw) = arm_radii(look);
    let (el, wr) = (v2(0.0, 0.0), v2(0.0, motion::FOREARM));
    paint_arm_segment(
        canvas,
        look,
        f,
        wr.y,
        (re, rw),
        seed + 44 + side as u32,
        seed,
    );
    if look.long_sleeves {
        canvas.fill(
            f.bounds(el.lerp(wr, 0.9), 0.15),
            0.05 * s,
            true,
            |p| capsule(f.local(p), el.lerp(wr, 0.84), wr, rw + 0.02, rw + 0.015) * s,
            |hit| cloth(&light, scale(top, 0.85), hit, 0.5, 0.5),
        );
    }
}

/// A hand hanging from the wrist (origin) straight down: palm, four fingers spread
/// by `open` (0..1), and the thumb towards `thumb` (-1 left, 1 right); `side` is
/// the arm (0 the viewer's left), which sets the way the fingers fan out.
fn paint_hand(
    canvas: &mut Canvas,
    look: &Look,
    f: &Frame,
    side: usize,
    open: f32,
    thumb: f32,
    seed: u32,
) {
    let light = canvas.light;
    let s = f.scale;
    let out = if side == 0 { -1.0 } else { 1.0 };
    let dir = v2(0.0, 1.0);
    let across = v2(-1.0, 0.0);
    let inward = v2(thumb, 0.0);
    let palm = dir.mul(0.17);
    let mut fingers: Vec<(V2, V2, f32)> = Vec::with_capacity(5);
    for i in 0..4 {
        let k = i as f32 - 1.5;
        let spread = k * (0.06 + 0.12 * open);
        let root = palm.add(dir.mul(0.1)).add(across.mul(k * 0.055));
        let len = [0.2, 0.23, 0.22, 0.17][i] * (0.8 + 0.2 * open);
        let d = dir.rot(spread * 0.9 * -out);
        fingers.push((root, root.add(d.mul(len)), 0.029));
    }
    let thumb_root = palm.add(inward.mul(0.07)).add(dir.mul(-0.04));
    let thumb_dir = dir.lerp(inward, 0.5 + 0.4 * open);
    fingers.push((thumb_root, thumb_root.add(thumb_dir.mul(0.17)), 0.034));
    let hand_sdf = |q: V2| {
        let mut d = ellipse(q, palm, v2(0.105, 0.13), 0.0);
        for (a, b, r) in &fingers {
            d = smin(d, capsule(q, *a, *b, *r, *r * 0.85), 0.03);
        }
        d
    };
    canvas.fill(
        f.bounds(palm, 0.4),
        0.05 * s,
        true,
        |p| hand_sdf(f.local(p)) * s,
        |hit| skin_at(&light, look, hit, f.local(hit.p), seed),
    );
}

/// Hair behind the head and shoulders, in the head's frame.
fn paint_back_hair(canvas: &mut Canvas, look: &Look, head: &Frame, hair: [f32; 3], seed: u32) {
    let light = canvas.light;
    let s = head.scale;
    let shade = |hit: &Hit| {
        let q = head.local(hit.p);
        let strands = noise2(v2(q.x * 70.0, q.y * 5.0), seed + 60);
        hair_shade(&light, scale(hair, 0.8), hit, strands, 0.6)
    };
    match look.hair_style {
        Hair::Long => {
            canvas.fill(
                head.bounds(v2(0.0, 0.5), 1.3),
                0.3 * s,
                true,
                |p| {
                    let q = head.local(p);
                    let top = ellipse(q, v2(0.0, -0.08), v2(0.45, 0.52), 0.0);
                    let fall = capsule(q, v2(0.0, 0.1), v2(0.0, 1.05), 0.48, 0.56);
                    smin(top, fall, 0.2).max(q.y - 1.25) * s
                },
                shade,
            );
        }
        Hair::Curly => {
            canvas.fill(
                head.bounds(v2(0.0, -0.1), 0.8),
                0.35 * s,
                true,
                |p| {
                    let q = head.local(p);
                    let a = q.y.atan2(q.x);
                    let bumps = 0.035 * (a * 11.0).sin() + 0.02 * (a * 17.0 + 1.0).sin();
                    (ellipse(q, v2(0.0, -0.12), v2(0.56, 0.55), 0.0) + bumps).max(q.y - 0.3) * s
                },
                |hit| {
                    let q = head.local(hit.p);
                    let curls = noise2(q.mul(28.0), seed + 61);
                    hair_shade(&light, hair, hit, curls, 0.4)
                },
            );
        }
        Hair::Bun => {
            let c = v2(0.05, -0.58);
            canvas.fill(
                head.bounds(c, 0.25),
                0.15 * s,
                true,
                |p| ellipse(head.local(p), c, v2(0.19, 0.16), 0.2) * s,
                shade,
            );
        }
        Hair::Bob => {
            canvas.fill(
                head.bounds(v2(0.0, 0.1), 0.8),
                0.25 * s,
                true,
                |p| {
                    let q = head.local(p);
                    let top = ellipse(q, v2(0.0, -0.07), v2(0.44, 0.5), 0.0);
                    let sides = ellipse(q, v2(0.0, 0.25), v2(0.47, 0.38), 0.0);
                    smin(top, sides, 0.15).max(q.y - 0.5) * s
                },
                shade,
            );
        }
        Hair::Crop | Hair::SidePart => {}
    }
}

/// Hair over the skull down to a hairline, in the head's frame; the parting
/// follows the head's turn `yaw`.
fn paint_front_hair(
    canvas: &mut Canvas,
    look: &Look,
    head: &Frame,
    hair: [f32; 3],
    yaw: f32,
    seed: u32,
) {
    let light = canvas.light;
    let s = head.scale;
    let part = yaw * 0.12;
    let strands = move |q: V2, seed: u32| noise2(v2((q.x - part) * 80.0, q.y * 6.0), seed);
    // The cap over the skull, down to a hairline.
    let cap = move |q: V2, grow: f32, line: f32, temple: f32| {
        let hairline = line + temple * smoothstep(0.05, 0.36, (q.x - part).abs());
        (head_sdf(look, q) - grow).max(q.y - hairline)
    };
    let fill_cap = |canvas: &mut Canvas, sdf: &dyn Fn(V2) -> f32, base: [f32; 3], curl: bool| {
        canvas.fill(
            head.bounds(v2(0.0, -0.1), 0.75),
            0.25 * s,
            true,
            |p| sdf(head.local(p)) * s,
            |hit| {
                let q = head.local(hit.p);
                let (n, sheen) = if curl {
                    (noise2(q.mul(45.0), seed + 70), 0.3)
                } else {
                    (strands(q, seed + 71), 1.0)
                };
                hair_shade(&light, base, hit, n, sheen)
            },
        );
    };
    match look.hair_style {
        Hair::Long => {
            let sdf = move |q: V2| {
                let top = cap(q, 0.035, -0.24, 0.2);
                let curtains = [-1.0f32, 1.0].map(|side| {
                    capsule(
                        q,
                        v2(side * 0.28 + part, -0.3),
                        v2(side * 0.4, 0.85),
                        0.1,
                        0.13,
                    )
                });
                smin(top, curtains[0].min(curtains[1]), 0.08)
            };
            fill_cap(canvas, &sdf, hair, false);
        }
        Hair::Crop => {
            let sdf = move |q: V2| cap(q, 0.02, -0.27, 0.28);
            fill_cap(canvas, &sdf, hair, true);
        }
        Hair::Bun => {
            let sdf = move |q: V2| cap(q, 0.015, -0.27, 0.27);
            fill_cap(canvas, &sdf, hair, false);
        }
        Hair::Curly => {
            let sdf = move |q: V2| {
                let a = q.y.atan2(q.x);
                cap(
                    q,
                    0.06 + 0.02 * (a * 13.0).sin(),
                    -0.2 + 0.03 * (q.x * 30.0).sin(),
                    0.22,
                )
            };
            fill_cap(canvas, &sdf, hair, true);
        }
        Hair::SidePart => {
            let sdf = move |q: V2| {
                let sweep = ellipse(q, v2(0.08 + part, -0.3), v2(0.38, 0.22), -0.25);
                smin(cap(q, 0.03, -0.25, 0.27), sweep, 0.06)
            };
            fill_cap(canvas, &sdf, hair, false);
        }
        Hair::Bob => {
            let sdf = move |q: V2| {
                let top = cap(q, 0.03, -0.25, 0.22);
                let sides = [-1.0f32, 1.0].map(|side| {
                    capsule(q, v2(side * 0.32, -0.2), v2(side * 0.37, 0.35), 0.07, 0.08)
                });
                smin(top, sides[0].min(sides[1]), 0.06)
            };
            fill_cap(canvas, &sdf, hair, false);
        }
    }
}
