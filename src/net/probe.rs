//! Mask probes: measuring how faithfully a cutout's alpha survives the network.
//!
//! The sender samples the mask it is about to encode on a coarse grid (every `step`
//! pixels, 1 bit per sample; the app uses [`PROBE_STEP`]) and sends it as a
//! [`PeerToPeer::MaskProbe`](super::protocol::PeerToPeer::MaskProbe) with the frame's
//! capture time. The receiver samples each *decoded* mask on the grid of the
//! sender's latest probe and keys it by the capture time carried in the video (SEI).
//! [`ProbeMatcher`] pairs the two, whichever arrives first, and yields the
//! intersection over union. Pure.

use std::collections::VecDeque;

/// Sampling step of the app's own probes in mask pixels (640x480 → an 80x60 grid,
/// 600 bytes as bits, a 1.3 kB message), and the grid decoded masks are sampled on
/// before a sender's first probe says otherwise. At step 4 a probe was a 4.9 kB
/// burst every 1.3 s: on a 300 kbit/s link 130 ms that a voice packet could wait
/// behind (docs/NET.md).
pub const PROBE_STEP: u32 = 8;
/// Mask value at or above which a sample counts as person.
pub const PROBE_THRESHOLD: u8 = 128;
/// Two capture times closer than this (µs) name the same frame: the sender's own
/// conversion and the transport's differ by clock-reading jitter only.
pub const PROBE_MATCH_TOLERANCE_US: u64 = 3_000;
/// Unmatched probes or decoded masks kept per peer (about 2 s of video).
pub const PROBE_HISTORY: usize = 64;

/// A coarse binary mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeMask {
    /// Grid width.
    pub width: u32,
    /// Grid height.
    pub height: u32,
    /// Sampling step in mask pixels: cell (gx, gy) is the mask at pixel
    /// (step·gx + step/2, step·gy + step/2), clamped to the mask.
    pub step: u32,
    /// One bool per grid cell, row-major.
    pub cells: Vec<bool>,
}

impl ProbeMask {
    /// Samples `mask` (`width`x`height`, one byte per pixel) at the centre of every
    /// `step`x`step` cell. `None` if the mask length does not match or `step` is 0.
    pub fn sample(mask: &[u8], width: u32, height: u32, step: u32) -> Option<Self> {
        if step == 0 || mask.len() != width as usize * height as usize {
            return None;
        }
        let (gw, gh) = (width / step, height / step);
        let mut cells = Vec::with_capacity(gw as usize * gh as usize);
        for gy in 0..gh {
            let y = (gy * step + step / 2).min(height.saturating_sub(1));
            for gx in 0..gw {
                let x = (gx * step + step / 2).min(width.saturating_sub(1));
                cells.push(mask[(y * width + x) as usize] >= PROBE_THRESHOLD);
            }
        }
        Some(Self {
            width: gw,
            height: gh,
            step,
            cells,
        })
    }

    /// The cells packed LSB first, as lowercase hex.
    pub fn to_hex(&self) -> String {
        let mut bytes = vec![0u8; self.cells.len().div_ceil(8)];
        for (i, &on) in self.cells.iter().enumerate() {
            if on {
                bytes[i / 8] |= 1 << (i % 8);
            }
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses what [`ProbeMask::to_hex`] wrote for a `width`x`height` grid sampled
    /// every `step` pixels; `None` when malformed, too short, empty or `step` is 0.
    pub fn from_hex(width: u32, height: u32, step: u32, hex: &str) -> Option<Self> {
        let n = width as usize * height as usize;
        if step == 0 || n == 0 || n > 1 << 20 || hex.len() != n.div_ceil(8) * 2 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = Vec::with_capacity(hex.len() / 2);
        for pair in hex.as_bytes().chunks_exact(2) {
            let text = std::str::from_utf8(pair).ok()?;
            bytes.push(u8::from_str_radix(text, 16).ok()?);
        }
        let cells = (0..n).map(|i| bytes[i / 8] & (1 << (i % 8)) != 0).collect();
        Some(Self {
            width,
            height,
            step,
            cells,
        })
    }

    /// Intersection over union with `other` (1.0 when both are empty); `None` when the
    /// grids differ in size or step.
    pub fn iou(&self, other: &ProbeMask) -> Option<f64> {
        if (self.width, self.height, self.step) != (other.width, other.height, other.step) {
            return None;
        }
        let (mut inter, mut union) = (0u64, 0u64);
        for (&a, &b) in self.cells.iter().zip(&other.cells) {
            inter += u64::from(a && b);
            union += u64::from(a || b);
        }
        Some(if union == 0 {
            1.0
        } else {
            inter as f64 / union as f64
        })
    }
}

/// Pairs the sender's probes with the receiver's decoded masks by capture time.
///
/// Decoded masks are sampled on the grid of the sender's latest probe (its `step`;
/// [`PROBE_STEP`] before the first), so a sender may use any step. Masks decoded
/// before a probe with a new step arrived are on the old grid and pair with nothing.
#[derive(Debug, Clone)]
pub struct ProbeMatcher {
    sent: VecDeque<(u64, ProbeMask)>,
    decoded: VecDeque<(u64, ProbeMask)>,
    /// The step decoded masks are sampled with.
    step: u32,
    /// IoU of every matched pair, in the order matched.
    pub ious: Vec<f64>,
    /// Probes received from the sender.
    pub received: u64,
}

impl Default for ProbeMatcher {
    fn default() -> Self {
        Self {
            sent: VecDeque::new(),
            decoded: VecDeque::new(),
            step: PROBE_STEP,
            ious: Vec::new(),
            received: 0,
        }
    }
}

impl ProbeMatcher {
    /// A probe from the sender arrived.
    pub fn add_sent(&mut self, captured_unix_us: u64, mask: ProbeMask) {
        self.received += 1;
        if mask.step != self.step {
            // Masks decoded so far are on the old grid.
            self.step = mask.step;
            self.decoded.clear();
        }
        if let Some(i) = find(&self.decoded, captured_unix_us) {
            if let Some((_, decoded)) = self.decoded.remove(i) {
                self.push_iou(&mask, &decoded);
            }
            return;
        }
        push_bounded(&mut self.sent, (captured_unix_us, mask));
    }

    /// A frame was decoded here: its mask (`width`x`height`, one byte per pixel) is
    /// sampled on the sender's probe grid. A mask of the wrong length is ignored.
    pub fn add_decoded(&mut self, captured_unix_us: u64, mask: &[u8], width: u32, height: u32) {
        let Some(mask) = ProbeMask::sample(mask, width, height, self.step) else {
            return;
        };
        if let Some(i) = find(&self.sent, captured_unix_us) {
            if let Some((_, sent)) = self.sent.remove(i) {
                self.push_iou(&sent, &mask);
            }
            return;
        }
        push_bounded(&mut self.decoded, (captured_unix_us, mask));
    }

    fn push_iou(&mut self, a: &ProbeMask, b: &ProbeMask) {
        if let Some(iou) = a.iou(b) {
            self.ious.push(iou);
        }
    }
}

fn find(queue: &VecDeque<(u64, ProbeMask)>, t: u64) -> Option<usize> {
    queue
        .iter()
        .position(|(u, _)| u.abs_diff(t) <= PROBE_MATCH_TOLERANCE_US)
}

fn push_bounded(queue: &mut VecDeque<(u64, ProbeMask)>, item: (u64, ProbeMask)) {
    if queue.len() >= PROBE_HISTORY {
        queue.pop_front();
    }
    queue.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(width: u32, height: u32, cx: f32) -> Vec<u8> {
        let mut mask = vec![0u8; (width * height) as usize];
        for y in 0..height {
            for x in 0..width {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - height as f32 / 2.0).powi(2)).sqrt();
                if d < height as f32 / 3.0 {
                    mask[(y * width + x) as usize] = 255;
                }
            }
        }
        mask
    }

    #[test]
    fn probes_round_trip_through_hex() {
        let probe = ProbeMask::sample(&disc(64, 48, 30.0), 64, 48, 4).expect("sizes match");
        assert_eq!((probe.width, probe.height), (16, 12));
        let back = ProbeMask::from_hex(16, 12, 4, &probe.to_hex()).expect("parses");
        assert_eq!(back, probe);
        assert_eq!(ProbeMask::from_hex(16, 12, 4, "zz"), None);
        assert_eq!(ProbeMask::from_hex(16, 12, 0, &probe.to_hex()), None);
        assert_eq!(ProbeMask::from_hex(0, 12, 4, ""), None);
    }

    #[test]
    fn matcher_pairs_frames_by_capture_time_in_either_order() {
        let a = ProbeMask::sample(&disc(64, 48, 30.0), 64, 48, 4).expect("sizes match");
        let b = ProbeMask::sample(&disc(64, 48, 34.0), 64, 48, 4).expect("sizes match");
        let mut m = ProbeMatcher::default();
        m.add_sent(1_000_000, a.clone());
        m.add_decoded(2_000_000, &disc(64, 48, 30.0), 64, 48);
        m.add_decoded(1_000_800, &disc(64, 48, 30.0), 64, 48);
        m.add_sent(2_000_500, b.clone());
        assert_eq!(m.ious.len(), 2);
        assert!((m.ious[0] - 1.0).abs() < 1e-9);
        assert!(
            m.ious[1] < 1.0 && m.ious[1] > 0.5,
            "shifted disc: {}",
            m.ious[1]
        );
    }

    #[test]
    fn probes_of_another_step_match_decoded_masks_sampled_on_their_grid() {
        // A 640x480 sender probing every 4 pixels (not the app's 8): a 160x120
        // grid as text, as on the wire. The receiver samples what it decodes on
        // that grid from then on.
        assert_ne!(PROBE_STEP, 4);
        let (w, h) = (640, 480);
        let sent = ProbeMask::sample(&disc(w, h, 300.0), w, h, 4).expect("sizes match");
        assert_eq!((sent.width, sent.height), (160, 120));
        let wire = ProbeMask::from_hex(160, 120, 4, &sent.to_hex()).expect("parses");
        let mut m = ProbeMatcher::default();
        // Probe first, then its picture.
        m.add_sent(1_000_000, wire.clone());
        m.add_decoded(1_000_200, &disc(w, h, 300.0), w, h);
        // Picture first (on the step-4 grid now), then its probe.
        m.add_decoded(2_000_000, &disc(w, h, 300.0), w, h);
        m.add_sent(2_000_100, wire);
        assert_eq!(m.ious, vec![1.0, 1.0], "both step-4 probes matched");
        assert_eq!(m.received, 2);
    }

    #[test]
    fn a_picture_decoded_on_the_old_grid_does_not_pair_with_a_probe_of_a_new_step() {
        let (w, h) = (64, 48);
        let mut m = ProbeMatcher::default();
        // Decoded before any probe: sampled on the app's own grid.
        m.add_decoded(1_000_000, &disc(w, h, 30.0), w, h);
        let other =
            ProbeMask::sample(&disc(w, h, 30.0), w, h, PROBE_STEP / 2).expect("sizes match");
        m.add_sent(1_000_000, other.clone());
        assert!(
            m.ious.is_empty(),
            "different grids never pair: {:?}",
            m.ious
        );
        m.add_decoded(2_000_000, &disc(w, h, 30.0), w, h);
        m.add_sent(2_000_000, other);
        assert_eq!(m.ious, vec![1.0]);
    }
}
