//! Post-processing (pure): temporal smoothing, speck removal, upsampling with a soft
//! (feathered) edge, and mask comparison.

use super::preprocess::{Letterbox, Taps};

/// Post-processing settings.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PostParams {
    /// How much of the previous frame's probability small changes keep (0 = none).
    /// Large changes (real motion) pass through almost at once.
    pub smoothing: f32,
    /// Probability at and below which alpha is 0.
    pub feather_low: f32,
    /// Probability at and above which alpha is 255.
    pub feather_high: f32,
    /// Connected person regions smaller than this fraction of the model input are removed.
    pub min_area_fraction: f32,
}

impl Default for PostParams {
    fn default() -> Self {
        Self {
            smoothing: 0.6,
            feather_low: 0.35,
            feather_high: 0.65,
            min_area_fraction: 0.004,
        }
    }
}

/// Adaptive exponential smoothing of a probability map over time: a pixel that
/// changes a little (edge flicker) is held by `smoothing`; one that changes a lot
/// (motion) follows the new value.
#[derive(Clone, Debug, Default)]
pub struct TemporalSmoother {
    prev: Vec<f32>,
}

impl TemporalSmoother {
    /// Smooths `prob` in place against the previous call's output.
    pub fn apply(&mut self, prob: &mut [f32], smoothing: f32) {
        if self.prev.len() != prob.len() || smoothing <= 0.0 {
            self.prev.clear();
            self.prev.extend_from_slice(prob);
            return;
        }
        for (p, q) in prob.iter_mut().zip(self.prev.iter_mut()) {
            let diff = *p - *q;
            // Keep factor falls from `smoothing` to 0 as the change approaches 0.5.
            let keep = smoothing * (1.0 - (diff.abs() * 2.0).min(1.0));
            *p -= diff * keep;
            *q = *p;
        }
    }

    /// Forgets the history (a new source or a size change).
    pub fn reset(&mut self) {
        self.prev.clear();
    }
}

/// Zeroes the connected regions (4-connected, probability ≥ 0.5) smaller than
/// `min_area` pixels. The largest region is always kept. Returns how many were removed.
pub fn remove_specks(
    prob: &mut [f32],
    width: usize,
    height: usize,
    min_area: usize,
    labels: &mut Vec<u32>,
) -> usize {
    labels.clear();
    labels.resize(width * height, 0);
    let mut sizes: Vec<usize> = vec![0];
    let mut stack: Vec<usize> = Vec::new();
    for start in 0..width * height {
        if prob[start] < 0.5 || labels[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32;
        let mut size = 0;
        labels[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = (i % width, i / width);
            let mut visit = |j: usize| {
                if prob[j] >= 0.5 && labels[j] == 0 {
                    labels[j] = label;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < width {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - width);
            }
            if y + 1 < height {
                visit(i + width);
            }
        }
        sizes.push(size);
    }
    let largest = (1..sizes.len()).max_by_key(|&l| sizes[l]).unwrap_or(0);
    let small: Vec<bool> = sizes
        .iter()
        .enumerate()
        .map(|(l, &s)| l != 0 && l != largest && s < min_area)
        .collect();
    let removed = small.iter().filter(|&&s| s).count();
    if removed > 0 {
        for (p, &l) in prob.iter_mut().zip(labels.iter()) {
            if small[l as usize] {
                *p = 0.0;
            }
        }
    }
    removed
}

/// Smoothstep from `low` to `high`, as alpha 0..=255.
#[inline]
pub fn feather(p: f32, low: f32, high: f32) -> u8 {
    let t = ((p - low) / (high - low)).clamp(0.0, 1.0);
    (t * t * (3.0 - 2.0 * t) * 255.0 + 0.5) as u8
}

/// Upsamples the letterboxed region of a model-size probability map to a
/// `frame_w x frame_h` alpha mask (bilinear), applying the feather.
pub fn upsample_to_mask(
    prob: &[f32],
    model_w: u32,
    model_h: u32,
    lb: &Letterbox,
    frame_w: u32,
    frame_h: u32,
    params: &PostParams,
    mask: &mut Vec<u8>,
) {
    let (fw, fh, mw) = (frame_w as usize, frame_h as usize, model_w as usize);
    mask.clear();
    mask.resize(fw * fh, 0);
    let xt = Taps::new(fw, mw, lb.x, lb.w);
    let yt = Taps::new(fh, model_h as usize, lb.y, lb.h);
    let (low, high) = (params.feather_low, params.feather_high);
    let mut row_buf = vec![0f32; mw];
    for y in 0..fh {
        let r0 = &prob[yt.i0[y] as usize * mw..][..mw];
        let r1 = &prob[yt.i1[y] as usize * mw..][..mw];
        let ty = yt.t[y];
        for ((v, &a), &b) in row_buf.iter_mut().zip(r0).zip(r1) {
            *v = a + (b - a) * ty;
        }
        let out = &mut mask[y * fw..][..fw];
        for (x, m) in out.iter_mut().enumerate() {
            let a = row_buf[xt.i0[x] as usize];
            let b = row_buf[xt.i1[x] as usize];
            *m = feather(a + (b - a) * xt.t[x], low, high);
        }
    }
}

/// Intersection over union of two masks thresholded at `threshold`.
pub fn iou(a: &[u8], b: &[u8], threshold: u8) -> f32 {
    let (mut inter, mut union) = (0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        let (p, q) = (x >= threshold, y >= threshold);
        inter += (p && q) as u64;
        union += (p || q) as u64;
    }
    if union == 0 {
        1.0
    } else {
        inter as f32 / union as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_damps_flicker_but_follows_motion() {
        let mut s = TemporalSmoother::default();
        let mut outs = Vec::new();
        for i in 0..20 {
            let mut p = vec![
                if i % 2 == 0 { 0.45 } else { 0.55 },
                if i < 10 { 0.0 } else { 1.0 },
            ];
            s.apply(&mut p, 0.6);
            outs.push(p);
        }
        let late: Vec<f32> = outs[12..].iter().map(|p| p[0]).collect();
        let spread = late.iter().copied().fold(f32::MIN, f32::max)
            - late.iter().copied().fold(f32::MAX, f32::min);
        assert!(spread < 0.1 * 0.6, "flicker spread {spread}");
        // A 0 → 1 step is followed within one frame.
        assert!(outs[10][1] > 0.99);
    }

    #[test]
    fn specks_are_removed_and_the_person_kept() {
        let (w, h) = (20, 10);
        let mut p = vec![0.0f32; w * h];
        for y in 2..9 {
            for x in 2..9 {
                p[y * w + x] = 0.9;
            }
        }
        p[5 * w + 15] = 0.8; // one-pixel speck
        let mut labels = Vec::new();
        let removed = remove_specks(&mut p, w, h, 4, &mut labels);
        assert_eq!(removed, 1);
        assert_eq!(p[5 * w + 15], 0.0);
        assert_eq!(p[5 * w + 5], 0.9);
    }

    #[test]
    fn an_empty_map_removes_nothing() {
        let mut p = vec![0.1f32; 16];
        let mut labels = Vec::new();
        assert_eq!(remove_specks(&mut p, 4, 4, 3, &mut labels), 0);
    }

    #[test]
    fn feather_is_soft_between_thresholds() {
        assert_eq!(feather(0.2, 0.35, 0.65), 0);
        assert_eq!(feather(0.9, 0.35, 0.65), 255);
        let mid = feather(0.5, 0.35, 0.65);
        assert!((120..=135).contains(&mid));
        assert!(feather(0.4, 0.35, 0.65) < feather(0.45, 0.35, 0.65));
    }

    #[test]
    fn upsampling_a_half_map_gives_a_half_mask_with_a_soft_edge() {
        // 4x4 map, right half person.
        let prob: Vec<f32> = (0..16)
            .map(|i| if i % 4 >= 2 { 1.0 } else { 0.0 })
            .collect();
        let lb = Letterbox {
            x: 0.0,
            y: 0.0,
            w: 4.0,
            h: 4.0,
        };
        let mut mask = Vec::new();
        upsample_to_mask(&prob, 4, 4, &lb, 16, 16, &PostParams::default(), &mut mask);
        assert_eq!(mask.len(), 256);
        assert_eq!(mask[0], 0);
        assert_eq!(mask[15], 255);
        let row: Vec<u8> = mask[..16].to_vec();
        assert!(
            row.iter().any(|&a| a > 0 && a < 255),
            "edge must be soft: {row:?}"
        );
        let on = mask.iter().filter(|&&a| a >= 128).count();
        assert_eq!(on, 128);
    }

    #[test]
    fn iou_of_identical_and_disjoint_masks() {
        assert_eq!(iou(&[255, 0, 255], &[255, 0, 255], 128), 1.0);
        assert_eq!(iou(&[255, 0], &[0, 255], 128), 0.0);
    }
}
