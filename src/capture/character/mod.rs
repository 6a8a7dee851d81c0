//! Animated people for the synthetic camera (pure): distinct characters ([`look`]),
//! moved by procedural human motion ([`motion`]), drawn anti-aliased with soft
//! shading ([`paint`]) in front of a room ([`room`]).
//!
//! [`draw`] paints one character in a pose onto a [`paint::Canvas`]: back hair,
//! legs and shoes, neck, torso (the top's pattern), head (ears, face with eyes,
//! brows, nose, mouth, beard, glasses, hair), then both arms (sleeves, forearms,
//! hands with fingers), in that order. Shapes are shaded as rounded volumes lit from
//! the front-left, skin and cloth carry a fine texture, and the canvas keeps the
//! exact coverage of the person, which tests compare with what segmentation cuts.

pub mod look;
pub mod motion;
pub mod paint;
pub mod room;

use std::ops::{Add, Mul, Sub};

use look::{Hair, Look, Top};
use motion::Pose;
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

/// Paints `look` in `pose` at `place` onto `canvas`; `seed` varies the textures.
pub fn draw(canvas: &mut Canvas, look: &Look, pose: &Pose, place: Placement, seed: u32) {
    let light = canvas.light;
    let body = Frame {
        origin: place.origin,
        scale: place.scale,
        angle: 0.0,
    };
    let s = place.scale;
    let skin_lin = lin(look.skin);
    let hair_lin = lin(look.hair);
    let top_lin = lin(look.top);
    // Head frame: centre above the neck, tilted by roll.
    let head_c = pose.neck.add(v2(0.0, -0.56).rot(pose.roll));
    let head = Frame {
        origin: body.px(head_c),
        scale: s,
        angle: pose.roll,
    };
    let hw = look.head_width;
    let jaw = look.jaw;
    let head_sdf = move |q: V2| {
        smin(
            ellipse(q, v2(0.0, -0.05), v2(hw, 0.46), 0.0),
            ellipse(q, v2(0.0, 0.2), v2(0.74 * hw * jaw, 0.3), 0.0),
            0.12,
        )
    };
    // Horizontal position of a face feature at `x` on a head turned by yaw.
    let yaw = pose.yaw;
    let fx = move |x: f32| {
        let r = hw * 1.05;
        r * ((x / r).clamp(-1.0, 1.0).asin() + yaw).sin()
    };
    let nod = pose.pitch * 0.22;

    // Torso frame for patterns: at the chest, leaning with the spine.
    let torso = Frame {
        origin: body.px(pose.chest),
        scale: s,
        angle: pose.lean,
    };

    // 1. Hair behind the head and shoulders.
    draw_back_hair(canvas, look, &head, hair_lin, seed);

    // 2. Legs: trousers and shoes.
    draw_legs(canvas, look, pose, &body, seed);

    // 3. Hood behind the neck.
    if look.top_style == Top::Hoodie {
        let c = v2(0.0, -0.08);
        canvas.fill(
            torso.bounds(c, 0.7),
            0.18 * s,
            true,
            |p| ellipse(torso.local(p), c, v2(0.55, 0.3), 0.0) * s,
            |hit| cloth(&light, scale(top_lin, 0.8), hit, 0.5, 0.5),
        );
    }

    // 4. Neck, with the jaw's shadow on it.
    let neck_top = pose.neck.add(v2(0.0, -0.3).rot(pose.roll));
    let neck_bottom = pose.chest.add(v2(0.0, 0.15));
    let neck_r = 0.21 * jaw;
    canvas.fill(
        Bounds::segment(body.px(neck_top), body.px(neck_bottom), neck_r * s + 2.0),
        neck_r * s,
        true,
        |p| capsule(body.local(p), neck_top, neck_bottom, neck_r, neck_r * 1.12) * s,
        |hit| {
            let g = noise2(body.local(hit.p).mul(40.0), seed);
            scale(skin(&light, skin_lin, hit, g), 0.92)
        },
    );
    let chin = body.px(pose.neck.add(v2(0.0, 0.0)));
    canvas.shadow(
        Bounds::around(chin, v2(0.4 * s, 0.4 * s)),
        [0.6, 0.55, 0.55],
        |p| {
            let q = head.local(p);
            let below = q.y - 0.44;
            if below < 0.0 {
                0.0
            } else {
                (1.0 - below / 0.22).clamp(0.0, 1.0) * 0.8
            }
        },
    );

    // 5. Torso.
    draw_torso(canvas, look, pose, &body, &torso, seed);

    // 6. Head.
    // Ears behind the head, moving in as the head turns.
    for side in [-1.0f32, 1.0] {
        let ex = hw * (side * std::f32::consts::FRAC_PI_2 * 0.92 + yaw).sin();
        let c = v2(ex, 0.04 + nod * 0.5);
        canvas.fill(
            head.bounds(c, 0.14),
            0.06 * s,
            true,
            |p| ellipse(head.local(p), c, v2(0.065, 0.11), side * 0.15) * s,
            |hit| {
                let q = head.local(hit.p);
                let inner = ellipse(q, c.add(v2(side * 0.01, 0.0)), v2(0.03, 0.065), 0.0);
                let k = if inner < 0.0 { 0.8 } else { 1.0 };
                scale(skin(&light, skin_lin, hit, 0.5), k * 0.95)
            },
        );
    }
    canvas.fill(
        head.bounds(v2(0.0, 0.0), 0.6),
        hw * s,
        true,
        |p| head_sdf(head.local(p)) * s,
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
    draw_face(canvas, look, pose, &head, fx, nod, seed);
    draw_front_hair(canvas, look, &head, &head_sdf, hair_lin, yaw, seed);
    if look.glasses {
        draw_glasses(canvas, &head, fx, nod);
    }

    // 7. Arms, in front of the body.
    for side in 0..2 {
        draw_arm(canvas, look, pose, &body, side, seed);
    }
}

fn draw_legs(canvas: &mut Canvas, look: &Look, pose: &Pose, body: &Frame, seed: u32) {
    let light = canvas.light;
    let s = body.scale;
    let base = lin(look.trousers);
    let shoe = lin(look.shoes);
    for side in 0..2 {
        let (h, k, a) = (pose.hips[side], pose.knees[side], pose.ankles[side]);
        let out = if side == 0 { -1.0 } else { 1.0 };
        let foot = a.add(v2(out * 0.08, 0.2));
        canvas.fill(
            body.bounds(foot, 0.3),
            0.1 * s,
            true,
            |p| ellipse(body.local(p), foot, v2(0.22, 0.12), 0.0) * s,
            |hit| {
                let d = light.diffuse(hit.n);
                let sp = light.specular(hit.n, 30.0) * 0.15;
                [shoe[0] * d + sp, shoe[1] * d + sp, shoe[2] * d + sp]
            },
        );
        let min = v2(h.x.min(k.x).min(a.x) - 0.3, h.y - 0.3);
        let max = v2(h.x.max(k.x).max(a.x) + 0.3, a.y + 0.2);
        canvas.fill(
            Bounds {
                min: body.px(min),
                max: body.px(max),
            },
            0.2 * s,
            true,
            |p| {
                let q = body.local(p);
                smin(
                    capsule(q, h, k, 0.3, 0.19),
                    capsule(q, k, a.add(v2(0.0, 0.05)), 0.19, 0.13),
                    0.06,
                ) * s
            },
            |hit| {
                let q = body.local(hit.p);
                let fold = noise2(v2(q.x * 6.0, q.y * 2.0), seed + 20 + side as u32);
                cloth(&light, base, hit, noise2(q.mul(60.0), seed + 21), fold)
            },
        );
    }
    // The seat of the trousers joining both legs.
    let c = pose.pelvis.add(v2(0.0, 0.05));
    let hip = (pose.hips[1].x - pose.hips[0].x).abs() / 2.0;
    canvas.fill(
        body.bounds(c, 0.7),
        0.25 * s,
        true,
        |p| ellipse(body.local(p), c, v2(hip + 0.26, 0.38), pose.lean) * s,
        |hit| cloth(&light, base, hit, noise2(hit.p.mul(0.7), seed + 22), 0.5),
    );
}

fn draw_torso(
    canvas: &mut Canvas,
    look: &Look,
    pose: &Pose,
    body: &Frame,
    torso: &Frame,
    seed: u32,
) {
    let light = canvas.light;
    let s = body.scale;
    let top = lin(look.top);
    let top2 = lin(look.top2);
    let b = look.build;
    let sh = [
        torso.local(body.px(pose.shoulders[0])),
        torso.local(body.px(pose.shoulders[1])),
    ];
    let pelvis = torso.local(body.px(pose.pelvis));
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

fn draw_arm(canvas: &mut Canvas, look: &Look, pose: &Pose, body: &Frame, side: usize, seed: u32) {
    let light = canvas.light;
    let s = body.scale;
    let skin_lin = lin(look.skin);
    let top = lin(look.top);
    let sleeve_colour = if look.top_style == Top::Stripes {
        lin(look.top2)
    } else {
        top
    };
    let out = if side == 0 { -1.0 } else { 1.0 };
    let (sh, el, wr) = (pose.shoulders[side], pose.elbows[side], pose.wrists[side]);
    let girth = look.build.shoulder / 0.8;
    let ru = 0.2 * girth;
    let re = 0.145 * girth;
    let rw = 0.1 * girth;
    let sleeve_end = if look.long_sleeves { 1.0 } else { 0.55 };
    let skin_shade = |hit: &Hit| {
        let g = noise2(body.local(hit.p).mul(40.0), seed + 40);
        skin(&light, skin_lin, hit, g)
    };
    // Upper arm, forearm.
    let arm_sdf = |q: V2| smin(capsule(q, sh, el, ru, re), capsule(q, el, wr, re, rw), 0.04);
    canvas.fill(
        Bounds::segment(body.px(sh), body.px(el), ru * s).union(Bounds::segment(
            body.px(el),
            body.px(wr),
            re * s,
        )),
        0.12 * s,
        true,
        |p| arm_sdf(body.local(p)) * s,
        |hit| {
            let q = body.local(hit.p);
            if look.long_sleeves {
                let fold = noise2(v2(q.x * 4.0, q.y * 4.0), seed + 41 + side as u32);
                cloth(&light, top, hit, noise2(q.mul(70.0), seed + 42), fold)
            } else {
                skin_shade(hit)
            }
        },
    );
    if look.long_sleeves {
        // Cuff.
        let c = el.lerp(wr, 0.9);
        canvas.fill(
            body.bounds(c, 0.15),
            0.05 * s,
            true,
            |p| capsule(body.local(p), el.lerp(wr, 0.84), wr, rw + 0.02, rw + 0.015) * s,
            |hit| cloth(&light, scale(top, 0.85), hit, 0.5, 0.5),
        );
    } else {
        let end = sh.lerp(el, sleeve_end);
        canvas.fill(
            Bounds::segment(body.px(sh), body.px(end), (ru + 0.05) * s),
            0.12 * s,
            true,
            |p| capsule(body.local(p), sh, end, ru + 0.03, ru + 0.02) * s,
            |hit| {
                let q = body.local(hit.p);
                cloth(
                    &light,
                    sleeve_colour,
                    hit,
                    noise2(q.mul(70.0), seed + 43),
                    0.5,
                )
            },
        );
    }
    // Hand: palm, four fingers, thumb towards the body.
    let dir = v2(-pose.hand_dir[side].sin(), pose.hand_dir[side].cos());
    let across = v2(-dir.y, dir.x);
    let inward = if across.x * out < 0.0 {
        across
    } else {
        across.mul(-1.0)
    };
    let palm = wr.add(dir.mul(0.17));
    let open = pose.hand_open[side];
    let angle = pose.hand_dir[side];
    let mut fingers: Vec<(V2, V2, f32)> = Vec::with_capacity(5);
    for i in 0..4 {
        let f = i as f32 - 1.5;
        let spread = f * (0.06 + 0.12 * open);
        let root = palm.add(dir.mul(0.1)).add(across.mul(f * 0.055));
        let len = [0.2, 0.23, 0.22, 0.17][i] * (0.8 + 0.2 * open);
        let d = dir.rot(spread * 0.9 * -out);
        fingers.push((root, root.add(d.mul(len)), 0.029));
    }
    let thumb_root = palm.add(inward.mul(0.07)).add(dir.mul(-0.04));
    let thumb_dir = dir.lerp(inward, 0.5 + 0.4 * open);
    fingers.push((thumb_root, thumb_root.add(thumb_dir.mul(0.17)), 0.034));
    let hand_sdf = |q: V2| {
        let mut d = ellipse(q, palm, v2(0.105, 0.13), angle);
        for (a, b, r) in &fingers {
            d = smin(d, capsule(q, *a, *b, *r, *r * 0.85), 0.03);
        }
        d
    };
    canvas.fill(
        body.bounds(palm, 0.4),
        0.05 * s,
        true,
        |p| hand_sdf(body.local(p)) * s,
        |hit| skin_shade(hit),
    );
}

fn draw_face(
    canvas: &mut Canvas,
    look: &Look,
    pose: &Pose,
    head: &Frame,
    fx: impl Fn(f32) -> f32,
    nod: f32,
    seed: u32,
) {
    let light = canvas.light;
    let s = head.scale;
    let skin_lin = lin(look.skin);
    let hair_lin = lin(look.hair);
    // Eye sockets: soft shade under the brow.
    for side in [-1.0f32, 1.0] {
        let c = v2(fx(side * 0.15), -0.0 + nod);
        canvas.shadow(head.bounds(c, 0.15), [0.82, 0.74, 0.72], |p| {
            let d = ellipse(head.local(p), c, v2(0.11, 0.07), 0.0);
            (1.0 - (d + 0.03) / 0.07).clamp(0.0, 1.0) * 0.6
        });
    }
    // Nose: shade on the side away from the light, shadow under it, nostrils.
    let nx = fx(0.0) + pose.yaw * 0.07;
    let tip = v2(nx, 0.15 + nod * 1.2);
    canvas.shadow(head.bounds(tip, 0.2), [0.72, 0.64, 0.62], |p| {
        let q = head.local(p);
        let bridge = capsule(
            q,
            v2(fx(0.035), 0.0 + nod),
            v2(nx + 0.04, 0.13 + nod * 1.2),
            0.012,
            0.02,
        );
        let under = ellipse(q, tip.add(v2(0.0, 0.045)), v2(0.06, 0.02), 0.0);
        let a = (1.0 - bridge / 0.03).clamp(0.0, 1.0) * 0.55;
        let b = (1.0 - under / 0.025).clamp(0.0, 1.0) * 0.7;
        a.max(b)
    });
    canvas.fill(
        head.bounds(tip, 0.1),
        0.05 * s,
        true,
        |p| ellipse(head.local(p), tip, v2(0.055, 0.04), 0.0) * s,
        |hit| {
            let c = skin(&light, skin_lin, hit, 0.5);
            // The tip's edge blends into the face.
            let k = (-hit.d / (0.02 * s)).clamp(0.0, 1.0);
            mix(
                skin(
                    &light,
                    skin_lin,
                    &Hit {
                        n: [0.0, 0.0, 1.0],
                        ..*hit
                    },
                    0.5,
                ),
                c,
                k,
            )
        },
    );
    for side in [-1.0f32, 1.0] {
        let c = tip.add(v2(side * 0.03, 0.03));
        canvas.fill(
            head.bounds(c, 0.04),
            0.0,
            true,
            |p| ellipse(head.local(p), c, v2(0.018, 0.01), side * 0.3) * s,
            |_| scale(skin_lin, 0.35),
        );
    }
    // Eyes: white, iris, pupil, catchlight, lids and lashes; they close to blink.
    let open = 1.0 - pose.blink;
    let iris_c = lin(look.iris);
    for side in [-1.0f32, 1.0] {
        let c = v2(fx(side * 0.15), 0.0 + nod);
        let r = v2(
            0.068 * (0.75 + 0.25 * (1.0 - (pose.yaw * side).abs())),
            0.036,
        );
        let ry = (r.y * open).max(0.004);
        let eye = move |q: V2| ellipse(q, c, v2(r.x, ry), 0.0);
        if open > 0.12 {
            canvas.fill(
                head.bounds(c, 0.1),
                0.03 * s,
                true,
                |p| eye(head.local(p)) * s,
                |hit| scale([0.78, 0.74, 0.72], 0.7 + 0.3 * hit.n[2]),
            );
            let look_at = c.add(v2(pose.yaw * 0.03, 0.0));
            canvas.fill(
                head.bounds(c, 0.1),
                0.0,
                true,
                |p| {
                    let q = head.local(p);
                    circle(q, look_at, 0.03).max(eye(q)) * s
                },
                |hit| {
                    let q = head.local(hit.p);
                    let d = q.sub(look_at).len() / 0.03;
                    if d < 0.42 {
                        [0.01, 0.01, 0.01]
                    } else {
                        scale(iris_c, 1.2 - 0.5 * d)
                    }
                },
            );
            let glint = look_at.add(v2(-0.01, -0.01));
            canvas.fill(
                head.bounds(glint, 0.02),
                0.0,
                true,
                |p| circle(head.local(p), glint, 0.007) * s,
                |_| [0.9, 0.9, 0.9],
            );
        }
        // Upper lid line with lashes.
        canvas.fill(
            head.bounds(c, 0.1),
            0.0,
            true,
            |p| {
                let q = head.local(p);
                let ring = ellipse(q, c, v2(r.x + 0.004, ry + 0.004), 0.0).abs() - 0.007;
                ring.max(q.y - c.y - ry * 0.2) * s
            },
            |_| scale(skin_lin, 0.22),
        );
        // Brows.
        let lift = 0.025 * pose.brows;
        let inner = v2(fx(side * 0.07), -0.1 + nod - lift * 0.7);
        let mid = v2(fx(side * 0.16), -0.125 + nod - lift);
        let outer = v2(fx(side * 0.25), -0.105 + nod - lift * 0.8);
        canvas.fill(
            head.bounds(mid, 0.16),
            0.0,
            true,
            |p| {
                let q = head.local(p);
                smin(
                    capsule(q, inner, mid, 0.021, 0.018),
                    capsule(q, mid, outer, 0.018, 0.01),
                    0.01,
                ) * s
            },
            |hit| {
                let q = head.local(hit.p);
                scale(
                    hair_lin,
                    0.7 + 0.5 * noise2(v2(q.x * 160.0, q.y * 30.0), seed + 50),
                )
            },
        );
    }
    // Beard and moustache under the mouth.
    let mc = v2(fx(0.0) + pose.yaw * 0.03, 0.29 + nod * 1.1);
    if look.beard {
        let jaw = look.jaw;
        let hw = look.head_width;
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
                let mouth_hole = ellipse(
                    q,
                    mc.add(v2(0.0, 0.01)),
                    v2(0.09, 0.04 + 0.05 * pose.mouth),
                    0.0,
                );
                jaw_shape.max(line - q.y).max(-mouth_hole) * s
            },
            |hit| {
                let q = head.local(hit.p);
                let strands = noise2(v2(q.x * 90.0, q.y * 40.0), seed + 51);
                let edge = (-hit.d / (0.03 * s)).clamp(0.0, 1.0);
                let c = hair_shade(&light, hair_lin, hit, strands, 0.5);
                mix(skin(&light, skin_lin, hit, 0.5), c, 0.35 + 0.5 * edge)
            },
        );
        let (a, b) = (mc.add(v2(-0.1, -0.045)), mc.add(v2(0.1, -0.045)));
        canvas.fill(
            head.bounds(mc, 0.15),
            0.02 * s,
            true,
            |p| {
                let q = head.local(p);
                let bent = v2(q.x, q.y + 0.5 * (q.x - mc.x).powi(2));
                capsule(bent, a, b, 0.025, 0.025) * s
            },
            |hit| {
                let q = head.local(hit.p);
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
    // Mouth: lips, and when open the dark inside with the upper teeth.
    let lips = lin(look.lips);
    let gap = 0.008 + 0.06 * pose.mouth;
    let width = 0.095 * (1.0 - 0.12 * pose.mouth) * (0.8 + 0.2 * (1.0 - pose.yaw.abs()));
    let smile = pose.smile * 0.03;
    let bend = move |q: V2| v2(q.x, q.y + smile * ((q.x - mc.x) / width).powi(2));
    canvas.fill(
        head.bounds(mc, 0.16),
        0.03 * s,
        true,
        |p| {
            let q = bend(head.local(p));
            let upper = ellipse(q, mc.add(v2(0.0, -gap / 2.0 - 0.012)), v2(width, 0.02), 0.0);
            let lower = ellipse(
                q,
                mc.add(v2(0.0, gap / 2.0 + 0.016)),
                v2(width * 0.85, 0.026),
                0.0,
            );
            smin(upper, lower, 0.01) * s
        },
        |hit| {
            let q = head.local(hit.p);
            let c = skin(&light, lips, hit, 0.5);
            if q.y > mc.y {
                scale(c, 1.08)
            } else {
                scale(c, 0.85)
            }
        },
    );
    if pose.mouth > 0.05 {
        canvas.fill(
            head.bounds(mc, 0.12),
            0.0,
            true,
            |p| {
                ellipse(
                    bend(head.local(p)),
                    mc,
                    v2(width * 0.82, gap / 2.0 + 0.004),
                    0.0,
                ) * s
            },
            |hit| {
                let q = bend(head.local(hit.p));
                if q.y < mc.y - gap / 2.0 + 0.018 {
                    [0.62, 0.6, 0.56]
                } else {
                    [0.05, 0.015, 0.015]
                }
            },
        );
    } else {
        canvas.fill(
            head.bounds(mc, 0.12),
            0.0,
            true,
            |p| {
                let q = bend(head.local(p));
                capsule(
                    q,
                    mc.add(v2(-width * 0.9, 0.0)),
                    mc.add(v2(width * 0.9, 0.0)),
                    0.005,
                    0.005,
                ) * s
            },
            |_| scale(lips, 0.35),
        );
    }
}

fn draw_glasses(canvas: &mut Canvas, head: &Frame, fx: impl Fn(f32) -> f32, nod: f32) {
    let s = head.scale;
    let (l, r) = (v2(fx(-0.15), 0.0 + nod), v2(fx(0.15), 0.0 + nod));
    let frame = [0.03, 0.025, 0.025];
    canvas.fill(
        head.bounds(l.lerp(r, 0.5), 0.4),
        0.0,
        true,
        |p| {
            let q = head.local(p);
            let lens = |c: V2| {
                let e = ellipse(q, c, v2(0.105, 0.075), 0.0);
                e.abs() - 0.011
            };
            let bridge = capsule(q, l.add(v2(0.1, -0.02)), r.add(v2(-0.1, -0.02)), 0.01, 0.01);
            lens(l).min(lens(r)).min(bridge) * s
        },
        |_| frame,
    );
}

fn draw_back_hair(canvas: &mut Canvas, look: &Look, head: &Frame, hair: [f32; 3], seed: u32) {
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

fn draw_front_hair(
    canvas: &mut Canvas,
    look: &Look,
    head: &Frame,
    head_sdf: &impl Fn(V2) -> f32,
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
        (head_sdf(q) - grow).max(q.y - hairline)
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

#[cfg(test)]
mod tests {
    use super::*;
    use look::{CAST, Framing};
    use motion::Motion;

    fn render(i: usize, t: f32) -> Canvas {
        let look = &CAST[i];
        let framing = Framing::of_variant(i as u32);
        let (scale, crown) = framing.scale_and_crown(240.0, look.build.height);
        let motion = Motion::new(i as u32, look.build, 0.5);
        let bg = room::paint(320, 240, i as u32, framing);
        let mut canvas = Canvas::new(320, 240, bg, Light::default());
        let place = Placement {
            origin: v2(160.0, crown + look.build.height * scale),
            scale,
        };
        draw(&mut canvas, look, &motion.pose(t), place, i as u32);
        canvas
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
}
