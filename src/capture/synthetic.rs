//! The synthetic demo participant: the NASA astronaut portrait brought to life.
//!
//! The portrait is split once into a static background (the photo's wall and flag,
//! with the person's hole filled) and a person layer (using the bundled mask). Each
//! frame puts the person back in front of the background, moved: walking sideways,
//! swaying, bobbing, and waving an arm drawn in the suit's colour. The result is an
//! ordinary camera-like frame *with* background, so the real segmentation has to cut
//! the person out again. Frames are a pure function of time ([`SyntheticParticipant::render`]).

use std::f32::consts::PI;
use std::path::Path;
use std::time::Instant;

use super::error::CaptureError;
use super::frame::Frame;
use super::source::{FrameSource, SourceInfo};
use super::still::load_rgb;

/// How one synthetic participant looks and moves.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticParams {
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub fps: f32,
    /// Motion phase offset in seconds, so several participants don't move in step.
    pub phase: f32,
    /// Suit colour variant: 0 orange (the photo), 1 blue, 2 green, 3 purple, 4 teal, ...
    pub variant: u32,
    /// How far the participant walks to each side, in pixels.
    pub walk_px: f32,
}

impl Default for SyntheticParams {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            fps: 30.0,
            phase: 0.0,
            variant: 0,
            walk_px: 60.0,
        }
    }
}

/// A moving person, rendered from the astronaut portrait.
pub struct SyntheticParticipant {
    params: SyntheticParams,
    background: Vec<u8>,
    /// Person layer, RGBA, `person_size` square.
    person: Vec<u8>,
    person_size: u32,
    suit: [u8; 3],
    glove: [u8; 3],
    start: Instant,
    seq: u64,
}

/// Pose of the participant at a moment (pure function of time).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Horizontal offset of the body in pixels.
    pub dx: f32,
    /// Vertical offset (bob) in pixels, positive is up.
    pub dy: f32,
    /// Lean in radians around the bottom centre.
    pub lean: f32,
    /// Arm angle in radians from straight up (positive leans outwards).
    pub arm: f32,
}

impl Pose {
    /// The pose at time `t` seconds, for a participant with the given phase and walk range.
    pub fn at(t: f32, phase: f32, walk_px: f32) -> Self {
        let t = t + phase;
        Self {
            dx: walk_px * (2.0 * PI * t / 7.0).sin(),
            dy: 8.0 * (2.0 * PI * t / 1.3).sin().abs(),
            lean: 0.06 * (2.0 * PI * t / 2.9).sin(),
            // Sweeps from raised (−0.3 rad) down to sideways (≈1.5 rad) and back.
            arm: 0.6 + 0.9 * (2.0 * PI * t / 1.6).sin(),
        }
    }
}

impl SyntheticParticipant {
    /// Builds the participant from the bundled portrait and mask in `assets_dir`.
    pub fn new(assets_dir: &Path, params: SyntheticParams) -> Result<Self, CaptureError> {
        let (pw, ph, photo) = load_rgb(&assets_dir.join("astronaut.png"))?;
        let mask_path = assets_dir.join("astronaut_mask.png");
        let mask_img = image::open(&mask_path)
            .map_err(|source| CaptureError::Decode {
                path: mask_path.clone(),
                source,
            })?
            .into_luma8();
        if mask_img.dimensions() != (pw, ph) {
            return Err(CaptureError::Unsupported {
                path: mask_path,
                reason: format!("mask is not {pw}x{ph} like the portrait"),
            });
        }
        let mask = mask_img.into_raw();
        Ok(Self::from_layers(params, pw, ph, &photo, &mask))
    }

    fn from_layers(params: SyntheticParams, pw: u32, ph: u32, photo: &[u8], mask: &[u8]) -> Self {
        let (w, h) = (params.width, params.height);
        // Background: the photo with the person's hole filled, scaled to frame height,
        // centred, edges extended to the sides.
        let filled = fill_hole(pw, ph, photo, mask);
        let bg_scale = h as f32 / ph as f32;
        let bg_w = pw as f32 * bg_scale;
        let bg_x0 = (w as f32 - bg_w) / 2.0;
        let mut background = vec![0u8; (w * h * 3) as usize];
        for y in 0..h {
            let sy = ((y as f32 + 0.5) / bg_scale) as u32;
            for x in 0..w {
                let sx = (((x as f32 + 0.5 - bg_x0) / bg_scale).max(0.0) as u32).min(pw - 1);
                let s = ((sy.min(ph - 1) * pw + sx) * 3) as usize;
                let d = ((y * w + x) * 3) as usize;
                background[d..d + 3].copy_from_slice(&filled[s..s + 3]);
            }
        }
        // Person layer: the portrait scaled to ~92% of the frame height.
        let person_size = ((h as f32) * 0.92) as u32;
        let ps = person_size as f32 / pw.max(ph) as f32;
        let mut person = vec![0u8; (person_size * person_size * 4) as usize];
        let mut suit_acc = [0u64; 4];
        for y in 0..person_size {
            for x in 0..person_size {
                let sx = (((x as f32 + 0.5) / ps) as u32).min(pw - 1);
                let sy = (((y as f32 + 0.5) / ps) as u32).min(ph - 1);
                let si = (sy * pw + sx) as usize;
                let mut c = [photo[si * 3], photo[si * 3 + 1], photo[si * 3 + 2]];
                if is_suit(c) {
                    for k in 0..3 {
                        suit_acc[k] += c[k] as u64;
                    }
                    suit_acc[3] += 1;
                    c = tint(c, params.variant);
                }
                let d = ((y * person_size + x) * 4) as usize;
                person[d..d + 3].copy_from_slice(&c);
                person[d + 3] = mask[si];
            }
        }
        let n = suit_acc[3].max(1);
        let suit = tint(
            [
                (suit_acc[0] / n) as u8,
                (suit_acc[1] / n) as u8,
                (suit_acc[2] / n) as u8,
            ],
            params.variant,
        );
        Self {
            params,
            background,
            person,
            person_size,
            suit,
            glove: [235, 235, 230],
            start: Instant::now(),
            seq: 0,
        }
    }

    /// The frame at `t` seconds into the participant's motion (RGB8).
    pub fn render(&self, t: f32) -> Vec<u8> {
        let (w, h) = (self.params.width as i32, self.params.height as i32);
        let pose = Pose::at(t, self.params.phase, self.params.walk_px);
        let mut out = self.background.clone();
        let size = self.person_size as i32;
        // Bottom centre of the person layer in frame coordinates.
        let cx = w as f32 / 2.0 + pose.dx;
        let by = h as f32 + 6.0 - pose.dy;
        let (sin, cos) = pose.lean.sin_cos();
        let reach = size as f32 * 0.75;
        let x0 = ((cx - reach).floor() as i32).max(0);
        let x1 = ((cx + reach).ceil() as i32).min(w);
        let y0 = ((by - size as f32 * 1.05).floor() as i32).max(0);
        for y in y0..h {
            for x in x0..x1 {
                // Inverse of: rotate by lean around (cx, by), then place.
                let rx = x as f32 + 0.5 - cx;
                let ry = y as f32 + 0.5 - by;
                let ux = cos * rx + sin * ry;
                let uy = -sin * rx + cos * ry;
                let px = (ux + size as f32 / 2.0) as i32;
                let py = (uy + size as f32) as i32;
                if px < 0 || py < 0 || px >= size || py >= size {
                    continue;
                }
                let s = ((py * size + px) * 4) as usize;
                let a = self.person[s + 3] as u32;
                if a == 0 {
                    continue;
                }
                let d = ((y * w + x) * 3) as usize;
                for k in 0..3 {
                    let v = (self.person[s + k] as u32 * a + out[d + k] as u32 * (255 - a)) / 255;
                    out[d + k] = v as u8;
                }
            }
        }
        self.draw_arm(&mut out, cx, by, pose, sin, cos);
        out
    }

    fn draw_arm(&self, out: &mut [u8], cx: f32, by: f32, pose: Pose, sin: f32, cos: f32) {
        let (w, h) = (self.params.width as i32, self.params.height as i32);
        let size = self.person_size as f32;
        // Right shoulder (as seen) in person-layer coordinates, relative to bottom centre.
        let (sx, sy) = (size * 0.30, -size * 0.34);
        let shoulder = [cx + cos * sx - sin * sy, by + sin * sx + cos * sy];
        let len = size * 0.36;
        let angle = pose.arm + pose.lean;
        let hand = [
            shoulder[0] + len * angle.sin(),
            shoulder[1] - len * angle.cos(),
        ];
        let radius = size * 0.055;
        let glove_r = radius * 1.25;
        let minx = (shoulder[0].min(hand[0]) - glove_r).floor().max(0.0) as i32;
        let maxx = (shoulder[0].max(hand[0]) + glove_r).ceil().min(w as f32) as i32;
        let miny = (shoulder[1].min(hand[1]) - glove_r).floor().max(0.0) as i32;
        let maxy = (shoulder[1].max(hand[1]) + glove_r).ceil().min(h as f32) as i32;
        let (vx, vy) = (hand[0] - shoulder[0], hand[1] - shoulder[1]);
        let vv = vx * vx + vy * vy;
        for y in miny..maxy {
            for x in minx..maxx {
                let (qx, qy) = (x as f32 + 0.5, y as f32 + 0.5);
                let dgx = qx - hand[0];
                let dgy = qy - hand[1];
                let colour = if dgx * dgx + dgy * dgy <= glove_r * glove_r {
                    Some(self.glove)
                } else {
                    let tpar =
                        (((qx - shoulder[0]) * vx + (qy - shoulder[1]) * vy) / vv).clamp(0.0, 1.0);
                    let dx = qx - (shoulder[0] + tpar * vx);
                    let dy = qy - (shoulder[1] + tpar * vy);
                    (dx * dx + dy * dy <= radius * radius).then_some(self.suit)
                };
                if let Some(c) = colour {
                    let d = ((y * w + x) * 3) as usize;
                    out[d..d + 3].copy_from_slice(&c);
                }
            }
        }
    }
}

impl FrameSource for SyntheticParticipant {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: format!("demo participant {}", self.params.variant),
            width: self.params.width,
            height: self.params.height,
            fps: self.params.fps,
        }
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let now = Instant::now();
        let t = (now - self.start).as_secs_f32();
        let frame = Frame::new(
            self.seq,
            now,
            self.params.width,
            self.params.height,
            self.render(t),
        )?;
        self.seq += 1;
        Ok(Some(frame))
    }
}

/// Whether a colour belongs to the orange suit (saturated, red well above blue).
fn is_suit(c: [u8; 3]) -> bool {
    let (r, g, b) = (c[0] as i32, c[1] as i32, c[2] as i32);
    r - b > 110 && (g as f32) < 0.62 * r as f32
}

/// Recolours a suit pixel for a variant, keeping its shading.
fn tint(c: [u8; 3], variant: u32) -> [u8; 3] {
    let [r, g, b] = c;
    match variant % 6 {
        0 => [r, g, b],
        1 => [b, g, r],
        2 => [g, r, b],
        3 => [r, b, g],
        4 => [b, r, g],
        _ => [g, b, r],
    }
}

/// Fills the masked (person) pixels of a photo from the background on each side,
/// row by row; rows fully covered copy the nearest row above.
fn fill_hole(w: u32, h: u32, photo: &[u8], mask: &[u8]) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    let mut out = photo.to_vec();
    let mut last_full_row: Option<usize> = None;
    for y in 0..h {
        let row = &mask[y * w..(y + 1) * w];
        if row.iter().all(|&m| m >= 32) {
            let src = last_full_row.unwrap_or(y);
            if src != y {
                let (a, b) = out.split_at_mut(y * w * 3);
                b[..w * 3].copy_from_slice(&a[src * w * 3..(src + 1) * w * 3]);
            }
            continue;
        }
        let mut x = 0;
        while x < w {
            if row[x] < 32 {
                x += 1;
                continue;
            }
            let start = x;
            while x < w && row[x] >= 32 {
                x += 1;
            }
            let left = (start > 0).then(|| start - 1);
            let right = (x < w).then_some(x);
            for i in start..x {
                let row_px: Vec<[f32; 3]> = [left, right]
                    .iter()
                    .map(|p| {
                        p.map(|p| std::array::from_fn(|k| out[(y * w + p) * 3 + k] as f32))
                            .unwrap_or([0.0; 3])
                    })
                    .collect();
                let pick = |p: usize, k: usize| {
                    if Some(p) == left {
                        row_px[0][k]
                    } else {
                        row_px[1][k]
                    }
                };
                for k in 0..3 {
                    let v = match (left, right) {
                        (Some(l), Some(r)) => {
                            let t = (i - l) as f32 / (r - l) as f32;
                            pick(l, k) * (1.0 - t) + pick(r, k) * t
                        }
                        (Some(l), None) => pick(l, k),
                        (None, Some(r)) => pick(r, k),
                        (None, None) => 128.0,
                    };
                    out[(y * w + i) * 3 + k] = v as u8;
                }
            }
        }
        last_full_row = Some(y);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant() -> SyntheticParticipant {
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        SyntheticParticipant::new(&assets, SyntheticParams::default()).expect("assets")
    }

    #[test]
    fn frames_a_second_apart_differ() {
        let p = participant();
        let a = p.render(0.0);
        let b = p.render(1.0);
        let changed = a
            .chunks_exact(3)
            .zip(b.chunks_exact(3))
            .filter(|(x, y)| x != y)
            .count();
        assert!(changed > a.len() / 3 / 20, "only {changed} pixels changed");
    }

    #[test]
    fn variants_recolour_the_suit_but_not_the_face() {
        assert_eq!(tint([216, 99, 68], 1), [68, 99, 216]);
        assert!(is_suit([216, 99, 68]));
        assert!(!is_suit([221, 188, 163]));
    }

    #[test]
    fn pose_moves_over_time() {
        let a = Pose::at(0.0, 0.0, 60.0);
        let b = Pose::at(1.75, 0.0, 60.0);
        assert!((a.dx - b.dx).abs() > 20.0);
        assert!((a.arm - b.arm).abs() > 0.3);
    }
}
