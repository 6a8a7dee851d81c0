//! Alpha packing: one ordinary video frame carries a cutout's colour *and* alpha.
//!
//! A `width`x`height` RGBA cutout becomes a `width`x`2*height` I420 picture:
//! colour on top; below, alpha as *limited-range* luma (16 = transparent,
//! 235 = opaque) with chroma 128 (grey). A decoder that converts to RGB with
//! BT.601 limited range (every browser) therefore gets alpha back as 0–255 in
//! each channel. Receivers split at half the *decoded* height (a sender or a
//! browser may scale the frame), clamp faint alpha near 0 (H.264 rings a few
//! levels at edges) and never show colour where alpha is 0. Pure functions.

use yuvutils_rs::{BufferStoreMut, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange};

use super::error::MediaError;
use super::h264::{ColorMatrix, I420Frame, check_size};

/// Luma that encodes alpha 0 (limited-range black).
pub const ALPHA_LUMA_MIN: u8 = 16;
/// Luma that encodes alpha 255 (limited-range white).
pub const ALPHA_LUMA_MAX: u8 = 235;
/// Unpacked alpha at or below this (of 255) is treated as fully transparent:
/// H.264 ringing leaves a few levels of noise around edges.
pub const ALPHA_FLOOR: u8 = 24;

/// Maps alpha 0–255 to limited-range luma 16–235.
pub fn alpha_to_luma(alpha: u8) -> u8 {
    let span = u32::from(ALPHA_LUMA_MAX - ALPHA_LUMA_MIN);
    (u32::from(ALPHA_LUMA_MIN) + (u32::from(alpha) * span + 127) / 255) as u8
}

/// Maps limited-range luma back to alpha 0–255 (clamped), before the floor.
pub fn luma_to_alpha(luma: u8) -> u8 {
    let span = i32::from(ALPHA_LUMA_MAX - ALPHA_LUMA_MIN);
    let v = (i32::from(luma) - i32::from(ALPHA_LUMA_MIN)) * 255;
    ((v + span / 2) / span).clamp(0, 255) as u8
}

/// Applies the receiver's floor: faint alpha becomes 0.
pub fn floor_alpha(alpha: u8) -> u8 {
    if alpha <= ALPHA_FLOOR { 0 } else { alpha }
}

/// Packs a `width`x`height` RGBA cutout into a new `width`x`2*height` I420 frame.
pub fn pack_cutout(
    rgba: &[u8],
    width: u32,
    height: u32,
    matrix: ColorMatrix,
) -> Result<I420Frame, MediaError> {
    let mut frame = I420Frame::new(width, height * 2)?;
    pack_cutout_into(rgba, width, height, matrix, &mut frame)?;
    Ok(frame)
}

/// Packs into an existing frame of `width`x`2*height` (buffer reuse per frame).
pub fn pack_cutout_into(
    rgba: &[u8],
    width: u32,
    height: u32,
    matrix: ColorMatrix,
    out: &mut I420Frame,
) -> Result<(), MediaError> {
    check_size(width, height)?;
    if out.width() != width || out.height() != height * 2 {
        return Err(MediaError::InvalidSize {
            width: out.width(),
            height: out.height(),
            reason: "packed frame must be the cutout's width and twice its height",
        });
    }
    let (w, h) = (width as usize, height as usize);
    let expected = w * h * 4;
    if rgba.len() != expected {
        return Err(MediaError::BufferLength {
            expected,
            actual: rgba.len(),
        });
    }
    let chroma_half = (w / 2) * (h / 2);
    {
        let (y_top, y_bottom) = out.y.split_at_mut(w * h);
        let mut top = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(y_top),
            y_stride: width,
            u_plane: BufferStoreMut::Borrowed(&mut out.u[..chroma_half]),
            u_stride: width / 2,
            v_plane: BufferStoreMut::Borrowed(&mut out.v[..chroma_half]),
            v_stride: width / 2,
            width,
            height,
        };
        yuvutils_rs::rgba_to_yuv420(
            &mut top,
            rgba,
            width * 4,
            YuvRange::Limited,
            matrix.yuv(),
            YuvConversionMode::Balanced,
        )?;
        for (dst, px) in y_bottom.iter_mut().zip(rgba.chunks_exact(4)) {
            *dst = alpha_to_luma(px[3]);
        }
    }
    out.u[chroma_half..].fill(128);
    out.v[chroma_half..].fill(128);
    Ok(())
}

/// A cutout recovered from a packed frame: straight-alpha RGBA8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpackedCutout {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels (half the packed frame's height).
    pub height: u32,
    /// `width * height * 4` bytes; colour is zero wherever alpha is 0.
    pub rgba: Vec<u8>,
}

impl UnpackedCutout {
    /// The alpha channel as its own `width * height` mask.
    pub fn alpha(&self) -> Vec<u8> {
        self.rgba.chunks_exact(4).map(|p| p[3]).collect()
    }
}

/// Unpacks a decoded I420 frame: splits at half its height (rounded down).
pub fn unpack_i420(frame: &I420Frame, matrix: ColorMatrix) -> Result<UnpackedCutout, MediaError> {
    let width = frame.width();
    let half = frame.height() / 2;
    if half == 0 {
        return Err(MediaError::InvalidSize {
            width,
            height: frame.height(),
            reason: "packed frame needs at least two rows",
        });
    }
    let (w, hh) = (width as usize, half as usize);
    let chroma_rows = hh.div_ceil(2);
    let top = YuvPlanarImage {
        y_plane: &frame.y[..w * hh],
        y_stride: width,
        u_plane: &frame.u[..(w / 2) * chroma_rows],
        u_stride: width / 2,
        v_plane: &frame.v[..(w / 2) * chroma_rows],
        v_stride: width / 2,
        width,
        height: half,
    };
    let mut rgba = vec![0u8; w * hh * 4];
    yuvutils_rs::yuv420_to_rgba(&top, &mut rgba, width * 4, YuvRange::Limited, matrix.yuv())?;
    let alpha_rows = &frame.y[w * hh..w * hh * 2];
    for (px, &luma) in rgba.chunks_exact_mut(4).zip(alpha_rows) {
        apply_alpha(px, floor_alpha(luma_to_alpha(luma)));
    }
    Ok(UnpackedCutout {
        width,
        height: half,
        rgba,
    })
}

/// Unpacks a packed frame that a decoder already turned into RGB8 (`channels` = 3)
/// or RGBA8 (`channels` = 4) with BT.601 limited range: the bottom half's green
/// channel is the alpha.
pub fn unpack_rgb(
    pixels: &[u8],
    channels: usize,
    width: u32,
    packed_height: u32,
) -> Result<UnpackedCutout, MediaError> {
    if channels != 3 && channels != 4 {
        return Err(MediaError::BufferLength {
            expected: 4,
            actual: channels,
        });
    }
    let (w, h) = (width as usize, packed_height as usize);
    let expected = w * h * channels;
    if pixels.len() != expected {
        return Err(MediaError::BufferLength {
            expected,
            actual: pixels.len(),
        });
    }
    let half = h / 2;
    let mut rgba = vec![0u8; w * half * 4];
    let top = &pixels[..w * half * channels];
    let bottom = &pixels[w * half * channels..w * half * 2 * channels];
    for ((dst, colour), alpha_px) in rgba
        .chunks_exact_mut(4)
        .zip(top.chunks_exact(channels))
        .zip(bottom.chunks_exact(channels))
    {
        dst[..3].copy_from_slice(&colour[..3]);
        apply_alpha(dst, floor_alpha(alpha_px[1]));
    }
    Ok(UnpackedCutout {
        width,
        height: half as u32,
        rgba,
    })
}

fn apply_alpha(px: &mut [u8], alpha: u8) {
    if alpha == 0 {
        px.fill(0);
    } else {
        px[3] = alpha;
    }
}

/// Intersection over union of two masks thresholded at `threshold` (1.0 if both empty).
pub fn mask_iou(a: &[u8], b: &[u8], threshold: u8) -> f64 {
    let (mut inter, mut union) = (0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x > threshold, y > threshold);
        inter += u64::from(x && y);
        union += u64::from(x || y);
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::h264::{H264Config, H264Decoder, H264Encoder};

    /// A soft-edged ellipse "person" on a transparent background.
    fn synthetic_cutout(width: u32, height: u32, shift: f32) -> Vec<u8> {
        let mut rgba = vec![0u8; (width * height * 4) as usize];
        let (cx, cy) = (width as f32 * 0.5 + shift, height as f32 * 0.55);
        let (rx, ry) = (width as f32 * 0.22, height as f32 * 0.4);
        for y in 0..height {
            for x in 0..width {
                let dx = (x as f32 - cx) / rx;
                let dy = (y as f32 - cy) / ry;
                let d = (dx * dx + dy * dy).sqrt();
                let a = ((1.0 - d) * 12.0).clamp(0.0, 1.0);
                let alpha = (a * 255.0).round() as u8;
                if alpha > 0 {
                    let i = ((y * width + x) * 4) as usize;
                    rgba[i] = (200.0 - dy * 40.0) as u8;
                    rgba[i + 1] = 140;
                    rgba[i + 2] = (90.0 + dx * 40.0) as u8;
                    rgba[i + 3] = alpha;
                }
            }
        }
        rgba
    }

    #[test]
    fn alpha_maps_to_limited_range_luma_and_back() {
        assert_eq!(alpha_to_luma(0), 16);
        assert_eq!(alpha_to_luma(255), 235);
        for a in 0..=255u8 {
            assert!(
                luma_to_alpha(alpha_to_luma(a)).abs_diff(a) <= 1,
                "alpha {a}"
            );
        }
        assert_eq!(luma_to_alpha(0), 0);
        assert_eq!(luma_to_alpha(255), 255);
    }

    #[test]
    fn faint_alpha_is_floored_to_zero() {
        assert_eq!(floor_alpha(ALPHA_FLOOR), 0);
        assert_eq!(floor_alpha(ALPHA_FLOOR + 1), ALPHA_FLOOR + 1);
    }

    #[test]
    fn packed_frame_has_colour_on_top_and_alpha_luma_below() {
        let (w, h) = (8u32, 4u32);
        let mut rgba = vec![0u8; (w * h * 4) as usize];
        // Left half opaque white, right half transparent.
        for y in 0..h {
            for x in 0..w / 2 {
                let i = ((y * w + x) * 4) as usize;
                rgba[i..i + 4].copy_from_slice(&[255, 255, 255, 255]);
            }
        }
        let packed = pack_cutout(&rgba, w, h, ColorMatrix::Bt601).expect("pack");
        assert_eq!((packed.width(), packed.height()), (w, 2 * h));
        let bottom = &packed.y[(w * h) as usize..];
        for y in 0..h as usize {
            for x in 0..w as usize {
                let expected = if x < 4 { 235 } else { 16 };
                assert_eq!(bottom[y * w as usize + x], expected);
            }
        }
        let chroma_half = ((w / 2) * (h / 2)) as usize;
        assert!(packed.u[chroma_half..].iter().all(|&c| c == 128));
        assert!(packed.v[chroma_half..].iter().all(|&c| c == 128));
        // Top: white is luma 235, black (transparent) is 16.
        assert!(packed.y[0] >= 233 && packed.y[w as usize - 1] <= 18);
    }

    #[test]
    fn unpack_zeroes_colour_where_alpha_is_zero() {
        let (w, h) = (16u32, 8u32);
        let rgba = synthetic_cutout(w, h, 0.0);
        let mut packed = pack_cutout(&rgba, w, h, ColorMatrix::Bt601).expect("pack");
        // Simulate ringing: faint alpha and stray colour in the background.
        let n = (w * h) as usize;
        packed.y[n] = alpha_to_luma(10);
        packed.y[0] = 120;
        let out = unpack_i420(&packed, ColorMatrix::Bt601).expect("unpack");
        assert_eq!(&out.rgba[0..4], &[0, 0, 0, 0]);
        for px in out.rgba.chunks_exact(4) {
            if px[3] == 0 {
                assert_eq!(px, &[0, 0, 0, 0]);
            }
        }
    }

    #[test]
    fn unpack_rgb_splits_at_half_the_decoded_height() {
        // A "scaled" packed frame of 4x6: top 3 rows colour, bottom 3 rows alpha.
        let (w, h) = (4u32, 6u32);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        for (i, px) in rgb.chunks_exact_mut(3).enumerate() {
            let row = i as u32 / w;
            if row < 3 {
                px.copy_from_slice(&[200, 100, 50]);
            } else {
                let a = if i as u32 % w < 2 { 255 } else { 5 };
                px.copy_from_slice(&[a, a, a]);
            }
        }
        let out = unpack_rgb(&rgb, 3, w, h).expect("unpack");
        assert_eq!((out.width, out.height), (4, 3));
        assert_eq!(&out.rgba[0..4], &[200, 100, 50, 255]);
        assert_eq!(&out.rgba[8..12], &[0, 0, 0, 0]);
    }

    #[test]
    fn alpha_survives_a_real_h264_round_trip_with_iou_above_0_9() {
        let (w, h) = (320u32, 240u32);
        let mut config = H264Config::new(w, h * 2);
        config.bitrate_bps = 600_000;
        let mut enc = H264Encoder::new(config).expect("encoder");
        let mut dec = H264Decoder::new().expect("decoder");
        let mut last = None;
        for i in 0..10 {
            let rgba = synthetic_cutout(w, h, i as f32);
            let packed = pack_cutout(&rgba, w, h, ColorMatrix::Bt601).expect("pack");
            let frame = enc.encode_i420(&packed, i * 33).expect("encode");
            if let Some(pic) = dec.decode(&frame.annex_b).expect("decode") {
                last = Some((pic, rgba));
            }
        }
        let (pic, rgba) = last.expect("decoded");
        let out = unpack_i420(&pic, ColorMatrix::Bt601).expect("unpack");
        let sent: Vec<u8> = rgba.chunks_exact(4).map(|p| p[3]).collect();
        let iou = mask_iou(&sent, &out.alpha(), 127);
        assert!(iou >= 0.9, "IoU {iou}");
        // Through an RGB decode too, as a browser would.
        let rgb = pic.to_rgb(ColorMatrix::Bt601).expect("rgb");
        let out_rgb = unpack_rgb(&rgb, 3, pic.width(), pic.height()).expect("unpack rgb");
        let iou_rgb = mask_iou(&sent, &out_rgb.alpha(), 127);
        assert!(iou_rgb >= 0.9, "IoU via RGB {iou_rgb}");
    }
}
