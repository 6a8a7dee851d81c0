//! Cutout (layered) compositing for the synthetic characters (pure).
//!
//! A rigid body part is drawn once by the rasteriser into a [`Sprite`]: linear RGB
//! premultiplied by its coverage, cropped to what it covers, with a pivot (the
//! joint it turns about). Each frame a [`Layer`] (the person, over a transparent
//! background) is built by [`Layer::blit`]ting the parts in draw order, each
//! through an [`Affine`] map (rotation, translation, and a stretch along a bone),
//! sampled bilinearly. The layer's alpha is the union of the parts' coverage, so it
//! stays the exact coverage of the person as drawn. [`Blend::Multiply`] parts are
//! soft shadows: they darken what the person already has and cover nothing new.

use super::paint::{Canvas, V2, v2};

/// How a sprite combines with what is already on the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blend {
    /// Premultiplied "over": the part covers what is below it.
    Over,
    /// Shadow: the sprite holds how much each channel loses (premultiplied by its
    /// strength), and each layer channel is multiplied by one minus that; coverage
    /// is unchanged.
    Multiply,
}

/// One pre-drawn part: premultiplied linear RGB and coverage, with a border of one
/// transparent pixel on every side.
#[derive(Clone, Debug, PartialEq)]
pub struct Sprite {
    /// Width in pixels (border included).
    pub width: u32,
    /// Height in pixels (border included).
    pub height: u32,
    /// `[r, g, b, a]` a pixel, rows top to bottom; rgb premultiplied by `a`.
    pub px: Vec<[f32; 4]>,
    /// The point the part is placed by, in sprite pixels.
    pub pivot: V2,
    /// How it combines with the layer.
    pub blend: Blend,
}

impl Sprite {
    /// The part drawn on `canvas` (a transparent, i.e. black, background), cropped
    /// to its coverage; `pivot` is in canvas pixels. An empty canvas gives an empty
    /// sprite.
    pub fn from_canvas(canvas: &Canvas, pivot: V2) -> Self {
        let (w, h) = (canvas.width as usize, canvas.height as usize);
        let covered = |x: usize, y: usize| canvas.alpha[y * w + x] > 0.0;
        Self::crop(w, h, pivot, Blend::Over, covered, |x, y| {
            let i = y * w + x;
            let c = &canvas.rgb[i * 3..i * 3 + 3];
            [c[0], c[1], c[2], canvas.alpha[i]]
        })
    }

    /// A shadow of `colour` (linear) with strength `amount(p)` (0..1) at each pixel
    /// centre `p` of a `width` × `height` box; `pivot` in box pixels.
    pub fn shadow(
        width: u32,
        height: u32,
        pivot: V2,
        colour: [f32; 3],
        amount: impl Fn(V2) -> f32,
    ) -> Self {
        let (w, h) = (width as usize, height as usize);
        let a: Vec<f32> = (0..w * h)
            .map(|i| {
                let p = v2((i % w) as f32 + 0.5, (i / w) as f32 + 0.5);
                amount(p).clamp(0.0, 1.0)
            })
            .collect();
        Self::crop(
            w,
            h,
            pivot,
            Blend::Multiply,
            |x, y| a[y * w + x] > 0.0,
            |x, y| {
                let a = a[y * w + x];
                [
                    (1.0 - colour[0]) * a,
                    (1.0 - colour[1]) * a,
                    (1.0 - colour[2]) * a,
                    a,
                ]
            },
        )
    }

    fn crop(
        w: usize,
        h: usize,
        pivot: V2,
        blend: Blend,
        covered: impl Fn(usize, usize) -> bool,
        pixel: impl Fn(usize, usize) -> [f32; 4],
    ) -> Self {
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        for y in 0..h {
            for x in 0..w {
                if covered(x, y) {
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
                }
            }
        }
        if x1 <= x0 {
            (x0, y0, x1, y1) = (0, 0, 0, 0);
        }
        let (cw, ch) = (x1 - x0 + 2, y1 - y0 + 2);
        let mut px = vec![[0.0; 4]; cw * ch];
        for y in y0..y1 {
            for x in x0..x1 {
                px[(y - y0 + 1) * cw + (x - x0 + 1)] = pixel(x, y);
            }
        }
        Self {
            width: cw as u32,
            height: ch as u32,
            px,
            pivot: v2(pivot.x - x0 as f32 + 1.0, pivot.y - y0 as f32 + 1.0),
            blend,
        }
    }
}

/// Where a sprite goes: a sprite offset `d` from its pivot lands at `at + m·d`
/// (`m` row-major 2×2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    /// The linear part, row-major: `[a, b, c, d]` maps `(x, y)` to
    /// `(a x + b y, c x + d y)`.
    pub m: [f32; 4],
    /// Where the pivot lands, in layer pixels.
    pub at: V2,
}

impl Affine {
    /// Rotation by `angle` (clockwise on screen) about the pivot, placed at `at`.
    pub fn rotate(angle: f32, at: V2) -> Self {
        let (s, c) = angle.sin_cos();
        Self {
            m: [c, -s, s, c],
            at,
        }
    }

    /// The map taking a bone drawn from `a0` towards `b0` (sprite pivot at `a0`)
    /// onto the bone from `a` to `b`: turned, and stretched along the bone by the
    /// ratio of the lengths (across it the part keeps its width).
    pub fn bone(a0: V2, b0: V2, a: V2, b: V2) -> Self {
        let (d0, d) = (b0 - a0, b - a);
        let (l0, l) = (d0.len().max(1e-6), d.len().max(1e-6));
        let (u0, u) = (d0 * (1.0 / l0), d * (1.0 / l));
        let k = l / l0;
        // In the rest bone's basis (along u0, across n0), then out along u, n.
        let (n0, n) = (v2(-u0.y, u0.x), v2(-u.y, u.x));
        // m = [u n] · diag(k, 1) · [u0 n0]^T
        Self {
            m: [
                k * u.x * u0.x + n.x * n0.x,
                k * u.x * u0.y + n.x * n0.y,
                k * u.y * u0.x + n.y * n0.x,
                k * u.y * u0.y + n.y * n0.y,
            ],
            at: a,
        }
    }
}

/// The person, drawn part by part over transparency: premultiplied linear RGB and
/// coverage, the size of the frame.
pub struct Layer {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Premultiplied linear RGB, one triple a pixel.
    pub rgb: Vec<[f32; 3]>,
    /// Coverage, 0..1 a pixel: the union of the parts'.
    pub alpha: Vec<f32>,
    /// Rows `[y0, y1)` and columns `[x0, x1)` touched since the last clear.
    dirty: (usize, usize, usize, usize),
}

impl Layer {
    /// A transparent layer.
    pub fn new(width: u32, height: u32) -> Self {
        let n = (width * height) as usize;
        Self {
            width,
            height,
            rgb: vec![[0.0; 3]; n],
            alpha: vec![0.0; n],
            dirty: (0, 0, 0, 0),
        }
    }

    /// The box `(x0, y0, x1, y1)` holding everything drawn since the last clear.
    pub fn drawn(&self) -> (usize, usize, usize, usize) {
        let (y0, y1, x0, x1) = self.dirty;
        (x0, y0, x1, y1)
    }

    /// Makes the layer transparent again (only where something was drawn).
    pub fn clear(&mut self) {
        let (x0, y0, x1, y1) = self.drawn();
        let w = self.width as usize;
        for y in y0..y1 {
            self.rgb[y * w + x0..y * w + x1].fill([0.0; 3]);
            self.alpha[y * w + x0..y * w + x1].fill(0.0);
        }
        self.dirty = (0, 0, 0, 0);
    }

    /// Draws `sprite` through `xf`: each layer pixel centre is mapped back into the
    /// sprite and sampled bilinearly (texel centres at half pixels).
    pub fn blit(&mut self, sprite: &Sprite, xf: Affine) {
        let [a, b, c, d] = xf.m;
        let det = a * d - b * c;
        if det.abs() < 1e-9 || sprite.width < 3 || sprite.height < 3 {
            return;
        }
        // Inverse linear map: layer offset -> sprite offset.
        let inv = [d / det, -b / det, -c / det, a / det];
        let (sw, sh) = (sprite.width as f32, sprite.height as f32);
        let corners = [v2(0.0, 0.0), v2(sw, 0.0), v2(0.0, sh), v2(sw, sh)].map(|q| {
            let o = q - sprite.pivot;
            v2(a * o.x + b * o.y, c * o.x + d * o.y) + xf.at
        });
        let (mut lo, mut hi) = (corners[0], corners[0]);
        for q in &corners[1..] {
            lo = v2(lo.x.min(q.x), lo.y.min(q.y));
            hi = v2(hi.x.max(q.x), hi.y.max(q.y));
        }
        let x0 = (lo.x.floor().max(0.0) as usize).min(self.width as usize);
        let y0 = (lo.y.floor().max(0.0) as usize).min(self.height as usize);
        let x1 = (hi.x.ceil().max(0.0) as usize).min(self.width as usize);
        let y1 = (hi.y.ceil().max(0.0) as usize).min(self.height as usize);
        if x1 <= x0 || y1 <= y0 {
            return;
        }
        if sprite.blend == Blend::Over {
            let (dy0, dy1, dx0, dx1) = self.dirty;
            self.dirty = if dy1 == 0 {
                (y0, y1, x0, x1)
            } else {
                (dy0.min(y0), dy1.max(y1), dx0.min(x0), dx1.max(x1))
            };
        }
        let w = self.width as usize;
        let spw = sprite.width as usize;
        // Sample positions with texel centres at integers: u = sprite x - 0.5.
        let (umax, vmax) = (sw - 1.0, sh - 1.0);
        let over = sprite.blend == Blend::Over;
        for y in y0..y1 {
            let py = y as f32 + 0.5 - xf.at.y;
            let px0 = x0 as f32 + 0.5 - xf.at.x;
            let u0 = inv[0] * px0 + inv[1] * py + sprite.pivot.x - 0.5;
            let v0 = inv[2] * px0 + inv[3] * py + sprite.pivot.y - 0.5;
            // The pixels of this row that fall inside the sprite: where both
            // `u0 + k du` and `v0 + k dv` are in range (one pixel of slack each
            // side, checked exactly below).
            let (mut lo, mut hi) = (0.0f32, (x1 - x0) as f32);
            for (c0, dc, max) in [(u0, inv[0], umax), (v0, inv[2], vmax)] {
                if dc.abs() < 1e-9 {
                    if !(0.0..max).contains(&c0) {
                        hi = -1.0;
                    }
                } else {
                    let (k1, k2) = (-c0 / dc, (max - c0) / dc);
                    lo = lo.max(k1.min(k2).floor() - 1.0);
                    hi = hi.min(k1.max(k2).ceil() + 1.0);
                }
            }
            if hi <= lo {
                continue;
            }
            let (ka, kb) = (lo as usize, (hi as usize).min(x1 - x0));
            let row = y * w;
            for k in ka..kb {
                let x = x0 + k;
                let (su, sv) = (u0 + k as f32 * inv[0], v0 + k as f32 * inv[2]);
                if !(su >= 0.0 && sv >= 0.0 && su < umax && sv < vmax) {
                    continue;
                }
                let (iu, iv) = (su as usize, sv as usize);
                let (fu, fv) = (su - iu as f32, sv - iv as f32);
                let i = iv * spw + iu;
                let (top, bottom) = (&sprite.px[i..i + 2], &sprite.px[i + spw..i + spw + 2]);
                let (p00, p10, p01, p11) = (top[0], top[1], bottom[0], bottom[1]);
                let coverage = p00[3] + p10[3] + p01[3] + p11[3];
                if coverage <= 0.0 {
                    continue;
                }
                let w10 = fu * (1.0 - fv);
                let w01 = (1.0 - fu) * fv;
                let w11 = fu * fv;
                let w00 = 1.0 - w10 - w01 - w11;
                let s0 = p00[0] * w00 + p10[0] * w10 + p01[0] * w01 + p11[0] * w11;
                let s1 = p00[1] * w00 + p10[1] * w10 + p01[1] * w01 + p11[1] * w11;
                let s2 = p00[2] * w00 + p10[2] * w10 + p01[2] * w01 + p11[2] * w11;
                let o = row + x;
                let dst = &mut self.rgb[o];
                if over && coverage >= 4.0 {
                    // Inside the part: it hides what is below.
                    *dst = [s0, s1, s2];
                    self.alpha[o] = 1.0;
                } else if over {
                    let sa = p00[3] * w00 + p10[3] * w10 + p01[3] * w01 + p11[3] * w11;
                    let keep = 1.0 - sa;
                    *dst = [s0 + dst[0] * keep, s1 + dst[1] * keep, s2 + dst[2] * keep];
                    self.alpha[o] = sa + self.alpha[o] * keep;
                } else {
                    *dst = [
                        dst[0] * (1.0 - s0),
                        dst[1] * (1.0 - s1),
                        dst[2] * (1.0 - s2),
                    ];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::character::paint::{Bounds, Light, circle};

    /// A 12×10 part: a disc with a colour gradient, pivot at its centre.
    fn disc() -> (Canvas, Sprite) {
        let mut canvas = Canvas::new(12, 10, vec![0.0; 12 * 10 * 3], Light::default());
        let c = v2(6.0, 5.0);
        canvas.fill(
            Bounds::around(c, v2(5.0, 5.0)),
            0.0,
            true,
            |p| circle(p, c, 4.2),
            |hit| [hit.p.x / 12.0, hit.p.y / 10.0, 0.5],
        );
        let sprite = Sprite::from_canvas(&canvas, c);
        (canvas, sprite)
    }

    #[test]
    fn a_sprite_is_cropped_to_its_coverage_with_a_clear_border() {
        let (canvas, s) = disc();
        assert!(s.width < canvas.width + 2 && s.height <= canvas.height + 2);
        let w = s.width as usize;
        for x in 0..w {
            assert_eq!(s.px[x][3], 0.0);
            assert_eq!(s.px[(s.height as usize - 1) * w + x][3], 0.0);
        }
        let total: f32 = s.px.iter().map(|p| p[3]).sum();
        let drawn: f32 = canvas.alpha.iter().sum();
        assert!((total - drawn).abs() < 1e-3);
    }

    #[test]
    fn an_unturned_blit_at_a_whole_pixel_reproduces_the_cached_pixels_at_the_offset() {
        let (canvas, s) = disc();
        let mut layer = Layer::new(40, 30);
        // The pivot (6, 5) of the canvas goes to (20, 13): an offset of (14, 8).
        layer.blit(&s, Affine::rotate(0.0, v2(20.0, 13.0)));
        for y in 0..10usize {
            for x in 0..12usize {
                let (i, o) = (y * 12 + x, (y + 8) * 40 + x + 14);
                assert!((layer.alpha[o] - canvas.alpha[i]).abs() < 1e-5, "{x},{y}");
                for k in 0..3 {
                    assert!((layer.rgb[o][k] - canvas.rgb[i * 3 + k]).abs() < 1e-5);
                }
            }
        }
        let total: f32 = layer.alpha.iter().sum();
        let drawn: f32 = canvas.alpha.iter().sum();
        assert!((total - drawn).abs() < 1e-3);
    }

    #[test]
    fn coverage_is_the_union_of_the_parts_alpha() {
        let (_, s) = disc();
        let mut layer = Layer::new(40, 30);
        layer.blit(&s, Affine::rotate(0.0, v2(10.0, 10.0)));
        let one = layer.alpha.clone();
        layer.clear();
        layer.blit(&s, Affine::rotate(0.3, v2(13.5, 12.25)));
        let two = layer.alpha.clone();
        layer.clear();
        assert!(layer.alpha.iter().all(|&a| a == 0.0));
        layer.blit(&s, Affine::rotate(0.0, v2(10.0, 10.0)));
        layer.blit(&s, Affine::rotate(0.3, v2(13.5, 12.25)));
        for i in 0..one.len() {
            let union = one[i] + two[i] - one[i] * two[i];
            assert!((layer.alpha[i] - union).abs() < 1e-5, "pixel {i}");
        }
    }

    #[test]
    fn a_turned_part_keeps_its_area_and_turns_about_its_pivot() {
        let (_, s) = disc();
        let area: f32 = s.px.iter().map(|p| p[3]).sum();
        let mut layer = Layer::new(40, 30);
        layer.blit(&s, Affine::rotate(1.0, v2(20.0, 15.0)));
        let total: f32 = layer.alpha.iter().sum();
        assert!((total - area).abs() < 0.03 * area, "{total} vs {area}");
        // A disc about its centre stays where it was.
        let (mut cx, mut cy) = (0.0, 0.0);
        for (i, a) in layer.alpha.iter().enumerate() {
            cx += a * ((i % 40) as f32 + 0.5);
            cy += a * ((i / 40) as f32 + 0.5);
        }
        assert!((cx / total - 20.0).abs() < 0.1 && (cy / total - 15.0).abs() < 0.1);
    }

    #[test]
    fn a_bone_map_puts_the_rest_bone_onto_the_posed_bone() {
        let xf = Affine::bone(v2(0.0, 0.0), v2(0.0, 10.0), v2(5.0, 5.0), v2(17.0, 5.0));
        let end = v2(xf.m[1] * 10.0, xf.m[3] * 10.0) + xf.at;
        assert!((end - v2(17.0, 5.0)).len() < 1e-4, "{end:?}");
        // Across the bone the width is kept.
        let across = v2(xf.m[0] * 3.0, xf.m[2] * 3.0);
        assert!((across.len() - 3.0).abs() < 1e-4);
    }

    #[test]
    fn a_shadow_darkens_the_person_and_covers_nothing_new() {
        let (_, s) = disc();
        let shade = Sprite::shadow(20, 20, v2(10.0, 10.0), [0.5, 0.5, 0.5], |_| 1.0);
        let mut layer = Layer::new(40, 30);
        layer.blit(&s, Affine::rotate(0.0, v2(20.0, 15.0)));
        let before = (layer.alpha.clone(), layer.rgb[15 * 40 + 20]);
        layer.blit(&shade, Affine::rotate(0.0, v2(20.0, 15.0)));
        assert_eq!(layer.alpha, before.0);
        let after = layer.rgb[15 * 40 + 20];
        for (a, b) in after.iter().zip(before.1) {
            assert!((a - b * 0.5).abs() < 1e-5);
        }
    }
}
