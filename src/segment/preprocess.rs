//! Pre-processing (pure): model choice by aspect ratio, letterboxing, RGB8 → NHWC float.

use super::model::{ModelChoice, ModelKind};

/// Where the frame lands inside the model input, in model pixels. The rest is padding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Letterbox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

/// Aspect ratios within this factor of the model's are stretched; beyond it the frame
/// is letterboxed so people are not squashed out of shape.
pub const MAX_STRETCH: f32 = 1.4;

/// Picks the model for a frame: landscape for wide frames (≥ 1.5:1, e.g. 16:9),
/// general for square and 4:3.
pub fn choose_model(choice: ModelChoice, width: u32, height: u32) -> ModelKind {
    match choice {
        ModelChoice::General => ModelKind::General,
        ModelChoice::Landscape => ModelKind::Landscape,
        ModelChoice::Auto => {
            if width as f32 >= 1.5 * height as f32 {
                ModelKind::Landscape
            } else {
                ModelKind::General
            }
        }
    }
}

/// The region of the model input the frame maps to.
pub fn letterbox_for(frame_w: u32, frame_h: u32, model_w: u32, model_h: u32) -> Letterbox {
    let fa = frame_w as f32 / frame_h as f32;
    let ma = model_w as f32 / model_h as f32;
    let ratio = if fa > ma { fa / ma } else { ma / fa };
    if ratio <= MAX_STRETCH {
        return Letterbox {
            x: 0.0,
            y: 0.0,
            w: model_w as f32,
            h: model_h as f32,
        };
    }
    if fa > ma {
        // Frame is wider: full width, bars top and bottom.
        let h = model_w as f32 / fa;
        Letterbox {
            x: 0.0,
            y: (model_h as f32 - h) / 2.0,
            w: model_w as f32,
            h,
        }
    } else {
        let w = model_h as f32 * fa;
        Letterbox {
            x: (model_w as f32 - w) / 2.0,
            y: 0.0,
            w,
            h: model_h as f32,
        }
    }
}

/// Precomputed bilinear taps along one axis: for each destination index, the two
/// source indices and the weight of the second.
#[derive(Clone, Debug, Default)]
pub struct Taps {
    /// First source index.
    pub i0: Vec<u32>,
    /// Second source index.
    pub i1: Vec<u32>,
    /// Weight of `i1` in [0,1].
    pub t: Vec<f32>,
}

impl Taps {
    /// Taps mapping `dst_len` destination samples onto the source span
    /// `[src_start, src_start + src_span)` of an axis with `src_len` samples
    /// (pixel-centre aligned, clamped at the edges).
    pub fn new(dst_len: usize, src_len: usize, src_start: f32, src_span: f32) -> Self {
        let mut taps = Self {
            i0: Vec::with_capacity(dst_len),
            i1: Vec::with_capacity(dst_len),
            t: Vec::with_capacity(dst_len),
        };
        let scale = src_span / dst_len as f32;
        let max = (src_len - 1) as f32;
        for d in 0..dst_len {
            let s = (src_start + (d as f32 + 0.5) * scale - 0.5).clamp(0.0, max);
            let i0 = s.floor();
            let i1 = (i0 + 1.0).min(max);
            taps.i0.push(i0 as u32);
            taps.i1.push(i1 as u32);
            taps.t.push(s - i0);
        }
        taps
    }
}

/// Resizes an RGB8 frame into the model input (NHWC float32, [0,1]) with bilinear
/// sampling, placing it in the letterbox region and padding the rest with 0.
pub fn rgb_to_model_input(
    rgb: &[u8],
    frame_w: u32,
    frame_h: u32,
    model_w: u32,
    model_h: u32,
    lb: &Letterbox,
    out: &mut Vec<f32>,
) {
    let (mw, mh) = (model_w as usize, model_h as usize);
    out.clear();
    out.resize(mw * mh * 3, 0.0);
    let x0 = lb.x.round() as usize;
    let y0 = lb.y.round() as usize;
    let bw = (lb.w.round() as usize).min(mw - x0);
    let bh = (lb.h.round() as usize).min(mh - y0);
    if bw == 0 || bh == 0 {
        return;
    }
    let xt = Taps::new(bw, frame_w as usize, 0.0, frame_w as f32);
    let yt = Taps::new(bh, frame_h as usize, 0.0, frame_h as f32);
    let stride = frame_w as usize * 3;
    const INV: f32 = 1.0 / 255.0;
    for dy in 0..bh {
        let r0 = &rgb[yt.i0[dy] as usize * stride..][..stride];
        let r1 = &rgb[yt.i1[dy] as usize * stride..][..stride];
        let ty = yt.t[dy];
        let row = &mut out[((y0 + dy) * mw + x0) * 3..][..bw * 3];
        for (dx, px) in row.chunks_exact_mut(3).enumerate() {
            let a = xt.i0[dx] as usize * 3;
            let b = xt.i1[dx] as usize * 3;
            let tx = xt.t[dx];
            for k in 0..3 {
                let top = r0[a + k] as f32 + (r0[b + k] as f32 - r0[a + k] as f32) * tx;
                let bot = r1[a + k] as f32 + (r1[b + k] as f32 - r1[a + k] as f32) * tx;
                px[k] = (top + (bot - top) * ty) * INV;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_frames_get_the_landscape_model() {
        assert_eq!(
            choose_model(ModelChoice::Auto, 1280, 720),
            ModelKind::Landscape
        );
        assert_eq!(
            choose_model(ModelChoice::Auto, 640, 480),
            ModelKind::General
        );
        assert_eq!(
            choose_model(ModelChoice::General, 1280, 720),
            ModelKind::General
        );
    }

    #[test]
    fn close_aspect_ratios_stretch_and_far_ones_letterbox() {
        let full = letterbox_for(640, 480, 256, 256);
        assert_eq!(
            full,
            Letterbox {
                x: 0.0,
                y: 0.0,
                w: 256.0,
                h: 256.0
            }
        );
        let tall = letterbox_for(480, 960, 256, 256);
        assert!((tall.w - 128.0).abs() < 0.5 && (tall.x - 64.0).abs() < 0.5);
        let wide = letterbox_for(1280, 720, 256, 256);
        assert!((wide.h - 144.0).abs() < 0.5 && (wide.y - 56.0).abs() < 0.5);
    }

    #[test]
    fn resizing_keeps_a_flat_colour_and_pads_with_zero() {
        let rgb = [255u8, 0, 51].repeat(480 * 960);
        let lb = letterbox_for(480, 960, 256, 256);
        let mut out = Vec::new();
        rgb_to_model_input(&rgb, 480, 960, 256, 256, &lb, &mut out);
        assert_eq!(out.len(), 256 * 256 * 3);
        let mid = (128 * 256 + 128) * 3;
        assert!(
            (out[mid] - 1.0).abs() < 1e-5
                && out[mid + 1].abs() < 1e-5
                && (out[mid + 2] - 0.2).abs() < 1e-5
        );
        assert_eq!(&out[..3], &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn halving_averages_pixel_pairs() {
        // 4x1 frame: 0, 100, 200, 250 → 2x1: centres fall between pairs.
        let rgb: Vec<u8> = [0u8, 100, 200, 250]
            .iter()
            .flat_map(|&v| [v, v, v])
            .collect();
        let taps = Taps::new(2, 4, 0.0, 4.0);
        assert_eq!(taps.i0, vec![0, 2]);
        let lb = Letterbox {
            x: 0.0,
            y: 0.0,
            w: 2.0,
            h: 1.0,
        };
        let mut out = Vec::new();
        rgb_to_model_input(&rgb, 4, 1, 2, 1, &lb, &mut out);
        assert!((out[0] * 255.0 - 50.0).abs() < 0.01);
        assert!((out[3] * 255.0 - 225.0).abs() < 0.01);
    }
}
