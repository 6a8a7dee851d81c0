//! What the sender does with the send estimate, apart from the ladder's decision
//! (`media::ladder`): scaling the cutout to the rung's size, and a per-second
//! record of the estimate, the target and what was sent (for the report). Pure.

use std::collections::VecDeque;

use serde::Serialize;

use crate::media::ladder::{Rung, SendPlan};
use crate::segment::Cutout;

/// Seconds of the send record kept (the newest; 15 minutes).
pub const SEND_SERIES_CAPACITY: usize = 900;

/// The picture size of `rung` for a `width`x`height` capture: scaled, even, at
/// least 16x16.
pub fn rung_size(width: u32, height: u32, rung: Rung) -> (u32, u32) {
    let scaled = |v: u32| {
        let s = (v as f32 * rung.scale).round() as u32;
        (s & !1).max(16).min(v & !1)
    };
    (scaled(width), scaled(height))
}

/// `cutout` at `width`x`height` (bilinear; the mask follows the scaled alpha), or
/// `None` when it already has that size.
pub fn scaled_cutout(cutout: &Cutout, width: u32, height: u32) -> Option<Cutout> {
    if (cutout.width, cutout.height) == (width, height) || width == 0 || height == 0 {
        return None;
    }
    let rgba = scale_rgba(&cutout.rgba, cutout.width, cutout.height, width, height)?;
    let mask = rgba.chunks_exact(4).map(|px| px[3]).collect();
    Some(Cutout {
        seq: cutout.seq,
        captured_at: cutout.captured_at,
        width,
        height,
        rgba,
        mask,
    })
}

/// Bilinear scaling of RGBA8 in 8-bit fixed point (a tenth of the time of the
/// `image` crate's triangle filter here, which took 40–60 ms a 640x480 picture).
/// `None` when `src` does not hold `w`x`h` pixels.
pub fn scale_rgba(src: &[u8], w: u32, h: u32, out_w: u32, out_h: u32) -> Option<Vec<u8>> {
    let (w, h, ow, oh) = (w as usize, h as usize, out_w as usize, out_h as usize);
    if w == 0 || h == 0 || src.len() != w * h * 4 {
        return None;
    }
    // Source position of each output column/row: integer part and 8-bit fraction.
    let taps = |n: usize, on: usize| -> Vec<(usize, usize, u32)> {
        (0..on)
            .map(|i| {
                let x = ((i as f32 + 0.5) * n as f32 / on as f32 - 0.5).max(0.0);
                let x0 = (x as usize).min(n - 1);
                let x1 = (x0 + 1).min(n - 1);
                (x0, x1, ((x - x0 as f32) * 256.0) as u32)
            })
            .collect()
    };
    let (cols, rows) = (taps(w, ow), taps(h, oh));
    let mut out = vec![0u8; ow * oh * 4];
    for (oy, &(y0, y1, fy)) in rows.iter().enumerate() {
        let (r0, r1) = (
            &src[y0 * w * 4..(y0 + 1) * w * 4],
            &src[y1 * w * 4..(y1 + 1) * w * 4],
        );
        let line = &mut out[oy * ow * 4..(oy + 1) * ow * 4];
        for (px, &(x0, x1, fx)) in line.chunks_exact_mut(4).zip(&cols) {
            for c in 0..4 {
                let lerp = |a: u8, b: u8, f: u32| u32::from(a) * (256 - f) + u32::from(b) * f;
                let top = lerp(r0[x0 * 4 + c], r0[x1 * 4 + c], fx);
                let bottom = lerp(r1[x0 * 4 + c], r1[x1 * 4 + c], fx);
                px[c] = ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8;
            }
        }
    }
    Some(out)
}

/// One second of sending.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendSecond {
    /// The second (Unix time, whole seconds).
    pub unix_s: u64,
    /// The slowest connected peer's send estimate at the end of it, kbit/s.
    pub estimate_kbit: Option<f64>,
    /// The encoder's video target at the end of it, kbit/s.
    pub video_target_kbit: f64,
    /// Video handed to the mesh in it, kbit.
    pub video_kbit: f64,
    /// Pictures sent in it.
    pub frames: u32,
    /// The rung at the end of it (0 = full size and rate).
    pub rung: usize,
    /// The picture size sent (the cutout's, before alpha packing).
    pub width: u32,
    /// Its height.
    pub height: u32,
}

/// The per-second record of sending, the newest [`SEND_SERIES_CAPACITY`].
#[derive(Debug, Default)]
pub struct SendSeries {
    seconds: VecDeque<SendSecond>,
}

impl SendSeries {
    /// A picture went out at `unix_ms` (`bytes` of video, 0 when skipped), with
    /// `plan` for the slowest peer's `estimate_bps` and a `width`x`height` picture.
    pub fn record(
        &mut self,
        unix_ms: u64,
        plan: SendPlan,
        estimate_bps: Option<u64>,
        bytes: usize,
        (width, height): (u32, u32),
    ) {
        let unix_s = unix_ms / 1000;
        if self.seconds.back().is_none_or(|s| s.unix_s != unix_s) {
            if self.seconds.len() >= SEND_SERIES_CAPACITY {
                self.seconds.pop_front();
            }
            self.seconds.push_back(SendSecond {
                unix_s,
                estimate_kbit: None,
                video_target_kbit: 0.0,
                video_kbit: 0.0,
                frames: 0,
                rung: 0,
                width,
                height,
            });
        }
        if let Some(s) = self.seconds.back_mut() {
            s.estimate_kbit = estimate_bps.map(|b| b as f64 / 1000.0);
            s.video_target_kbit = f64::from(plan.video_bps) / 1000.0;
            s.video_kbit += bytes as f64 * 8.0 / 1000.0;
            s.frames += u32::from(bytes > 0);
            s.rung = plan.rung;
            (s.width, s.height) = (width, height);
        }
    }

    /// The record, oldest first.
    pub fn seconds(&self) -> Vec<SendSecond> {
        self.seconds.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::media::ladder::RUNGS;
    use std::time::Instant;

    #[test]
    fn rung_sizes_are_even_and_scaled() {
        assert_eq!(rung_size(640, 480, RUNGS[0]), (640, 480));
        assert_eq!(rung_size(640, 480, RUNGS[1]), (480, 360));
        assert_eq!(rung_size(640, 480, RUNGS[2]), (320, 240));
        assert_eq!(rung_size(640, 360, RUNGS[1]), (480, 270 & !1));
    }

    #[test]
    fn a_scaled_cutout_keeps_its_alpha_as_its_mask() {
        let (w, h) = (64u32, 48u32);
        let mut rgba = vec![0u8; (w * h * 4) as usize];
        for y in 0..h {
            for x in 0..w {
                let i = ((y * w + x) * 4) as usize;
                rgba[i..i + 4].copy_from_slice(&[200, 100, 50, if x < w / 2 { 255 } else { 0 }]);
            }
        }
        let cutout = Cutout {
            seq: 7,
            captured_at: Instant::now(),
            width: w,
            height: h,
            mask: rgba.chunks_exact(4).map(|p| p[3]).collect(),
            rgba,
        };
        assert!(scaled_cutout(&cutout, w, h).is_none());
        let half = scaled_cutout(&cutout, 32, 24).expect("scaled");
        assert_eq!((half.width, half.height, half.seq), (32, 24, 7));
        assert_eq!(half.rgba.len(), 32 * 24 * 4);
        assert_eq!(half.mask[0], 255);
        assert_eq!(half.mask[31], 0);
        assert_eq!(half.mask.len(), 32 * 24);
    }

    #[test]
    fn the_series_sums_each_second() {
        let mut series = SendSeries::default();
        let plan = SendPlan {
            rung: 1,
            video_bps: 200_000,
        };
        series.record(10_100, plan, Some(300_000), 1000, (480, 270));
        series.record(10_900, plan, Some(280_000), 500, (480, 270));
        series.record(10_950, plan, Some(280_000), 0, (480, 270));
        series.record(11_000, plan, None, 250, (480, 270));
        let s = series.seconds();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].unix_s, 10);
        assert_eq!(s[0].video_kbit, 12.0);
        assert_eq!(s[0].frames, 2);
        assert_eq!(s[0].estimate_kbit, Some(280.0));
        assert_eq!(s[0].video_target_kbit, 200.0);
        assert_eq!(s[1].estimate_kbit, None);
        assert_eq!(s[1].video_kbit, 2.0);
    }
}
