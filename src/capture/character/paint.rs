//! A small anti-aliased rasteriser for the synthetic characters (pure).
//!
//! Shapes are signed distance functions (negative inside, in pixels); [`Canvas::fill`]
//! covers each pixel of a box by `0.5 - d` (one pixel of anti-aliasing), shades it
//! with a caller's colour function that gets a pseudo-3D surface normal (the shape
//! bulges towards the camera near its edge, over `thickness` pixels, like a
//! cylinder or a sphere), and keeps the union of all coverage as the person's alpha.
//! Shading is done in linear light (gamma 2) with one key light and an ambient term.

use std::ops::{Add, Mul, Sub};

/// A 2D point or vector in pixels (x right, y down).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct V2 {
    /// Horizontal coordinate.
    pub x: f32,
    /// Vertical coordinate (down).
    pub y: f32,
}

/// Shorthand for [`V2`].
pub const fn v2(x: f32, y: f32) -> V2 {
    V2 { x, y }
}

impl Add for V2 {
    type Output = V2;
    fn add(self, o: V2) -> V2 {
        v2(self.x + o.x, self.y + o.y)
    }
}

impl Sub for V2 {
    type Output = V2;
    fn sub(self, o: V2) -> V2 {
        v2(self.x - o.x, self.y - o.y)
    }
}

impl Mul<f32> for V2 {
    type Output = V2;
    fn mul(self, k: f32) -> V2 {
        v2(self.x * k, self.y * k)
    }
}

impl V2 {
    /// Dot product.
    pub fn dot(self, o: V2) -> f32 {
        self.x * o.x + self.y * o.y
    }
    /// Length.
    pub fn len(self) -> f32 {
        self.dot(self).sqrt()
    }
    /// Rotated by `a` radians (clockwise on screen, as y points down).
    pub fn rot(self, a: f32) -> V2 {
        let (s, c) = a.sin_cos();
        v2(c * self.x - s * self.y, s * self.x + c * self.y)
    }
    /// Linear interpolation towards `o`.
    pub fn lerp(self, o: V2, t: f32) -> V2 {
        self.add(o.sub(self).mul(t))
    }
}

/// Signed distance to an ellipse centred at `c` with radii `r`, rotated by `angle`
/// (an approximation good near the edge, which is all anti-aliasing needs).
pub fn ellipse(p: V2, c: V2, r: V2, angle: f32) -> f32 {
    let q = p.sub(c).rot(-angle);
    let k0 = v2(q.x / r.x, q.y / r.y).len();
    let k1 = v2(q.x / (r.x * r.x), q.y / (r.y * r.y)).len();
    if k1 < 1e-6 {
        return -r.x.min(r.y);
    }
    k0 * (k0 - 1.0) / k1
}

/// Signed distance to a circle.
pub fn circle(p: V2, c: V2, r: f32) -> f32 {
    p.sub(c).len() - r
}

/// Signed distance to a segment `a`–`b` thickened to radius `ra` at `a` and `rb`
/// at `b` (a tapered capsule; the radius is interpolated along the segment).
pub fn capsule(p: V2, a: V2, b: V2, ra: f32, rb: f32) -> f32 {
    let ab = b.sub(a);
    let l2 = ab.dot(ab).max(1e-6);
    let t = (p.sub(a).dot(ab) / l2).clamp(0.0, 1.0);
    p.sub(a.add(ab.mul(t))).len() - (ra + (rb - ra) * t)
}

/// Smooth union of two distances with blend radius `k` (polynomial smooth minimum).
pub fn smin(a: f32, b: f32, k: f32) -> f32 {
    if k <= 0.0 {
        return a.min(b);
    }
    let h = (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0);
    b + (a - b) * h - k * h * (1.0 - h)
}

/// Smooth step from 0 at `e0` to 1 at `e1`.
pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A hash of two integers and a seed to `[0, 1)`.
pub fn hash2(x: i32, y: i32, seed: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x8da6_b343)
        ^ (y as u32).wrapping_mul(0xd816_3841)
        ^ seed.wrapping_mul(0xcb1a_b31f);
    h ^= h >> 13;
    h = h.wrapping_mul(0x5bd1_e995);
    h ^= h >> 15;
    (h & 0x00ff_ffff) as f32 / 16_777_216.0
}

/// Smooth 2D value noise in `[0, 1)`, one cell per unit.
pub fn noise2(p: V2, seed: u32) -> f32 {
    let (xf, yf) = (p.x.floor(), p.y.floor());
    let (xi, yi) = (xf as i32, yf as i32);
    let (fx, fy) = (p.x - xf, p.y - yf);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let a = hash2(xi, yi, seed);
    let b = hash2(xi + 1, yi, seed);
    let c = hash2(xi, yi + 1, seed);
    let d = hash2(xi + 1, yi + 1, seed);
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// What a colour function knows about the pixel it shades.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    /// Pixel centre.
    pub p: V2,
    /// Signed distance to the shape's edge (negative inside).
    pub d: f32,
    /// Surface normal (x right, y down, z towards the camera), unit length.
    pub n: [f32; 3],
}

/// The scene's key light and ambient level, shared by every shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Light {
    /// Unit direction towards the light (x right, y down, z towards the camera).
    pub dir: [f32; 3],
    /// Ambient (fill) level, 0..1.
    pub ambient: f32,
    /// Key light level.
    pub key: f32,
}

impl Default for Light {
    fn default() -> Self {
        let d = [-0.45f32, -0.55, 0.7];
        let l = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        Self {
            dir: [d[0] / l, d[1] / l, d[2] / l],
            ambient: 0.42,
            key: 0.72,
        }
    }
}

impl Light {
    /// Lambert diffuse factor for a normal (ambient plus key).
    pub fn diffuse(&self, n: [f32; 3]) -> f32 {
        let d = n[0] * self.dir[0] + n[1] * self.dir[1] + n[2] * self.dir[2];
        self.ambient + self.key * d.max(0.0)
    }

    /// Specular highlight (Blinn, viewer along +z) with the given shininess.
    pub fn specular(&self, n: [f32; 3], power: f32) -> f32 {
        let h = [self.dir[0], self.dir[1], self.dir[2] + 1.0];
        let hl = (h[0] * h[0] + h[1] * h[1] + h[2] * h[2]).sqrt();
        let d = (n[0] * h[0] + n[1] * h[1] + n[2] * h[2]) / hl;
        d.max(0.0).powf(power)
    }
}

/// sRGB byte to linear light (gamma 2).
pub fn lin(c: [u8; 3]) -> [f32; 3] {
    c.map(|v| {
        let f = v as f32 / 255.0;
        f * f
    })
}

/// Linear light to an sRGB byte (gamma 2).
pub fn srgb(c: [f32; 3]) -> [u8; 3] {
    c.map(|v| (v.max(0.0).sqrt() * 255.0).round().min(255.0) as u8)
}

/// Mix of two linear colours.
pub fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// Colour scaled by `k`.
pub fn scale(c: [f32; 3], k: f32) -> [f32; 3] {
    [c[0] * k, c[1] * k, c[2] * k]
}

/// An axis-aligned box in pixels: `min` inclusive, `max` exclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// Top-left corner.
    pub min: V2,
    /// Bottom-right corner.
    pub max: V2,
}

impl Bounds {
    /// The box around a centre with half sizes.
    pub fn around(c: V2, half: V2) -> Self {
        Self {
            min: c.sub(half),
            max: c.add(half),
        }
    }
    /// The box around a segment thickened by `r`.
    pub fn segment(a: V2, b: V2, r: f32) -> Self {
        Self {
            min: v2(a.x.min(b.x) - r, a.y.min(b.y) - r),
            max: v2(a.x.max(b.x) + r, a.y.max(b.y) + r),
        }
    }
    /// The smallest box holding both.
    pub fn union(self, o: Bounds) -> Self {
        Self {
            min: v2(self.min.x.min(o.min.x), self.min.y.min(o.min.y)),
            max: v2(self.max.x.max(o.max.x), self.max.y.max(o.max.y)),
        }
    }
}

/// An RGB picture (linear light) with the person's coverage beside it.
pub struct Canvas {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Linear RGB, three floats a pixel.
    pub rgb: Vec<f32>,
    /// Coverage of everything filled with `person: true`, 0..1 a pixel.
    pub alpha: Vec<f32>,
    /// The light shapes are shaded with.
    pub light: Light,
}

impl Canvas {
    /// A canvas holding a background (linear RGB, `width * height * 3` floats).
    pub fn new(width: u32, height: u32, background: Vec<f32>, light: Light) -> Self {
        debug_assert_eq!(background.len(), (width * height * 3) as usize);
        Self {
            width,
            height,
            rgb: background,
            alpha: vec![0.0; (width * height) as usize],
            light,
        }
    }

    /// Fills the shape `sdf` inside `bounds`, shading each covered pixel with
    /// `shade`. The normal bulges towards the camera within `thickness` pixels of
    /// the edge (0: flat). `person` shapes add to the alpha.
    ///
    /// The distance is sampled at the corners of 4-pixel tiles first: tiles far
    /// outside are skipped, tiles deep inside interpolate the distance (and its
    /// gradient) between their corners, and only tiles on the edge evaluate it at
    /// every pixel.
    pub fn fill(
        &mut self,
        bounds: Bounds,
        thickness: f32,
        person: bool,
        sdf: impl Fn(V2) -> f32,
        shade: impl Fn(&Hit) -> [f32; 3],
    ) {
        const T: i32 = 4;
        // A pixel in a tile lies within this distance of each corner.
        let reach = T as f32 * std::f32::consts::SQRT_2 + 1.0;
        let x0 = (bounds.min.x.floor() as i32 - 1).max(0);
        let y0 = (bounds.min.y.floor() as i32 - 1).max(0);
        let x1 = (bounds.max.x.ceil() as i32 + 1).min(self.width as i32);
        let y1 = (bounds.max.y.ceil() as i32 + 1).min(self.height as i32);
        if x1 <= x0 || y1 <= y0 {
            return;
        }
        let tw = ((x1 - x0) + T - 1) / T;
        let th = ((y1 - y0) + T - 1) / T;
        let cw = (tw + 1) as usize;
        let corners: Vec<f32> = (0..=th)
            .flat_map(|ty| (0..=tw).map(move |tx| (tx, ty)))
            .map(|(tx, ty)| sdf(v2((x0 + tx * T) as f32, (y0 + ty * T) as f32)))
            .collect();
        // The gradient at each corner (central differences on the corner grid).
        let ch = (th + 1) as usize;
        let at = |i: usize, j: usize| corners[j * cw + i];
        let grads: Vec<(f32, f32)> = (0..ch)
            .flat_map(|j| (0..cw).map(move |i| (i, j)))
            .map(|(i, j)| {
                let (il, ir) = (i.saturating_sub(1), (i + 1).min(cw - 1));
                let (ju, jd) = (j.saturating_sub(1), (j + 1).min(ch - 1));
                (
                    (at(ir, j) - at(il, j)) / ((ir - il).max(1) as f32 * T as f32),
                    (at(i, jd) - at(i, ju)) / ((jd - ju).max(1) as f32 * T as f32),
                )
            })
            .collect();
        let w = self.width as usize;
        let normal = |d: f32, gx: f32, gy: f32| {
            if thickness <= 0.0 {
                return [0.0, 0.0, 1.0];
            }
            let gl = (gx * gx + gy * gy).sqrt().max(1e-6);
            let side = (1.0 - (-d / thickness).clamp(0.0, 1.0)).clamp(0.0, 0.999);
            [gx / gl * side, gy / gl * side, (1.0 - side * side).sqrt()]
        };
        for ty in 0..th {
            for tx in 0..tw {
                let i00 = ty as usize * cw + tx as usize;
                let c = [
                    corners[i00],
                    corners[i00 + 1],
                    corners[i00 + cw],
                    corners[i00 + cw + 1],
                ];
                let g = [
                    grads[i00],
                    grads[i00 + 1],
                    grads[i00 + cw],
                    grads[i00 + cw + 1],
                ];
                let lo = c.iter().copied().fold(f32::MAX, f32::min);
                if lo > reach {
                    continue;
                }
                let hi = c.iter().copied().fold(f32::MIN, f32::max);
                let inside = hi < -reach;
                let (px0, py0) = (x0 + tx * T, y0 + ty * T);
                for y in py0..(py0 + T).min(y1) {
                    for x in px0..(px0 + T).min(x1) {
                        let p = v2(x as f32 + 0.5, y as f32 + 0.5);
                        let (d, n) = if inside {
                            let (u, v) =
                                ((p.x - px0 as f32) / T as f32, (p.y - py0 as f32) / T as f32);
                            let bl = |a: f32, b: f32, c: f32, d: f32| {
                                (a * (1.0 - u) + b * u) * (1.0 - v) + (c * (1.0 - u) + d * u) * v
                            };
                            let d = bl(c[0], c[1], c[2], c[3]);
                            let gx = bl(g[0].0, g[1].0, g[2].0, g[3].0);
                            let gy = bl(g[0].1, g[1].1, g[2].1, g[3].1);
                            (d, normal(d, gx, gy))
                        } else {
                            let d = sdf(p);
                            if d >= 0.5 {
                                continue;
                            }
                            let n = if thickness > 0.0 {
                                normal(d, sdf(v2(p.x + 0.5, p.y)) - d, sdf(v2(p.x, p.y + 0.5)) - d)
                            } else {
                                [0.0, 0.0, 1.0]
                            };
                            (d, n)
                        };
                        let cover = (0.5 - d).clamp(0.0, 1.0);
                        let col = shade(&Hit { p, d, n });
                        let i = y as usize * w + x as usize;
                        for (o, c) in self.rgb[i * 3..i * 3 + 3].iter_mut().zip(col) {
                            *o += (c - *o) * cover;
                        }
                        if person {
                            let a = &mut self.alpha[i];
                            *a += (1.0 - *a) * cover;
                        }
                    }
                }
            }
        }
    }

    /// Multiplies pixels already drawn by `colour`, by `amount(p)` in 0..1, only
    /// where the person is (alpha): soft shadows and blushes on the body.
    pub fn shadow(&mut self, bounds: Bounds, colour: [f32; 3], amount: impl Fn(V2) -> f32) {
        self.tint(bounds, colour, true, amount);
    }

    /// Multiplies pixels already drawn by `colour`, by `amount(p)` in 0..1,
    /// everywhere (lighting on the room).
    pub fn shadow_all(&mut self, bounds: Bounds, colour: [f32; 3], amount: impl Fn(V2) -> f32) {
        self.tint(bounds, colour, false, amount);
    }

    fn tint(&mut self, bounds: Bounds, colour: [f32; 3], person: bool, amount: impl Fn(V2) -> f32) {
        let x0 = (bounds.min.x.floor() as i32).max(0);
        let y0 = (bounds.min.y.floor() as i32).max(0);
        let x1 = (bounds.max.x.ceil() as i32).min(self.width as i32);
        let y1 = (bounds.max.y.ceil() as i32).min(self.height as i32);
        let w = self.width as usize;
        for y in y0..y1 {
            for x in x0..x1 {
                let i = y as usize * w + x as usize;
                let a = if person { self.alpha[i] } else { 1.0 };
                if a <= 0.0 {
                    continue;
                }
                let t = amount(v2(x as f32 + 0.5, y as f32 + 0.5)).clamp(0.0, 1.0) * a;
                if t <= 0.0 {
                    continue;
                }
                for (o, c) in self.rgb[i * 3..i * 3 + 3].iter_mut().zip(colour) {
                    *o += (c * *o - *o) * t;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_negative_inside_and_zero_on_the_edge() {
        let c = v2(10.0, 10.0);
        assert!(ellipse(c, c, v2(5.0, 3.0), 0.3) < 0.0);
        assert!(ellipse(v2(15.0, 10.0), c, v2(5.0, 3.0), 0.0).abs() < 0.05);
        assert!((ellipse(v2(20.0, 10.0), c, v2(5.0, 3.0), 0.0) - 5.0).abs() < 0.6);
        assert!((capsule(v2(5.0, 4.0), v2(0.0, 0.0), v2(10.0, 0.0), 2.0, 2.0) - 2.0).abs() < 1e-4);
        assert!(capsule(v2(10.0, 0.0), v2(0.0, 0.0), v2(10.0, 0.0), 4.0, 1.0) < 0.0);
        assert!(smin(1.0, 1.0, 0.5) < 1.0);
        assert_eq!(smin(1.0, 3.0, 0.0), 1.0);
    }

    #[test]
    fn fill_covers_the_shape_with_soft_edges_and_counts_person_alpha() {
        let mut c = Canvas::new(20, 20, vec![0.0; 20 * 20 * 3], Light::default());
        let centre = v2(10.0, 10.0);
        c.fill(
            Bounds::around(centre, v2(6.0, 6.0)),
            5.0,
            true,
            |p| circle(p, centre, 5.3),
            |_| [1.0, 1.0, 1.0],
        );
        assert_eq!(c.alpha[10 * 20 + 10], 1.0);
        assert_eq!(c.alpha[0], 0.0);
        let edge = c.alpha[10 * 20 + 15];
        assert!(edge > 0.0 && edge < 1.0, "edge {edge}");
        let covered: f32 = c.alpha.iter().sum();
        let area = std::f32::consts::PI * 5.3 * 5.3;
        assert!((covered - area).abs() < 2.0, "{covered} vs {area}");
    }

    #[test]
    fn the_lit_side_is_brighter_than_the_shadow_side() {
        let light = Light::default();
        let lit = light.diffuse([-0.6, -0.3, 0.74]);
        let dark = light.diffuse([0.6, 0.3, 0.74]);
        assert!(lit > dark + 0.3, "{lit} vs {dark}");
    }

    #[test]
    fn noise_is_smooth_and_in_range() {
        for i in 0..100 {
            let p = v2(i as f32 * 0.37, i as f32 * 0.11);
            let a = noise2(p, 3);
            let b = noise2(v2(p.x + 0.01, p.y), 3);
            assert!((0.0..1.0).contains(&a));
            assert!((a - b).abs() < 0.05);
        }
    }
}
