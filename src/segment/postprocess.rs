//! Post-processing (pure): temporal smoothing, speck removal, upsampling with a soft
//! (feathered) edge, and mask comparison (IoU, boundary F-score).

use super::guided::GuidedParams;
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
    /// Edge refinement against the full-resolution frame (see
    /// [`super::guided`], e.g. `Some(GuidedParams::default())`); `None` upsamples
    /// the probability bilinearly.
    pub guided: Option<GuidedParams>,
}

impl Default for PostParams {
    fn default() -> Self {
        Self {
            smoothing: 0.6,
            feather_low: 0.35,
            feather_high: 0.65,
            min_area_fraction: 0.004,
            // Off: against MediaPipe's own masks the guided filter measures a
            // little lower IoU and more flicker (docs/ARCHITECTURE.md, "Edge
            // refinement").
            guided: None,
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
/// `min_area` pixels. The largest region is always kept (the last found, in
/// raster order, of equal ones). Returns how many were removed.
///
/// Regions are found by runs: each row's runs of person pixels are joined
/// (union-find, `parents`) to the runs of the row above that they touch, so the
/// work is one threshold scan of the map plus a little per run.
pub fn remove_specks(
    prob: &mut [f32],
    width: usize,
    height: usize,
    min_area: usize,
    parents: &mut Vec<u32>,
) -> usize {
    // (row, first column, end column) of every run, in raster order.
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    parents.clear();
    let mut above = 0..0; // the previous row's runs, as indices into `runs`
    for y in 0..height {
        let row = &prob[y * width..][..width];
        let first = runs.len();
        let mut x = 0;
        while x < width {
            let Some(start) = row[x..].iter().position(|&p| p >= 0.5) else {
                break;
            };
            let x0 = x + start;
            let len = row[x0..]
                .iter()
                .position(|&p| p < 0.5)
                .unwrap_or(width - x0);
            let x1 = x0 + len;
            let id = runs.len() as u32;
            runs.push((y, x0, x1));
            parents.push(id);
            for k in above.clone() {
                let (_, a0, a1) = runs[k];
                if a0 < x1 && x0 < a1 {
                    union(parents, id, k as u32);
                }
            }
            x = x1;
        }
        above = first..runs.len();
    }
    // Sizes by root; roots are each region's first run, so raster order.
    let mut sizes = vec![0usize; runs.len()];
    for (i, &(_, x0, x1)) in runs.iter().enumerate() {
        let root = find(parents, i as u32) as usize;
        sizes[root] += x1 - x0;
    }
    let roots = (0..runs.len()).filter(|&i| parents[i] as usize == i);
    let largest = roots.clone().max_by_key(|&i| sizes[i]);
    let small = |root: usize| Some(root) != largest && sizes[root] < min_area;
    let removed = roots.filter(|&r| small(r)).count();
    if removed > 0 {
        for (i, &(y, x0, x1)) in runs.iter().enumerate() {
            if small(find(parents, i as u32) as usize) {
                prob[y * width + x0..y * width + x1].fill(0.0);
            }
        }
    }
    removed
}

/// The root of `i` in a union-find forest, halving the path on the way.
fn find(parents: &mut [u32], mut i: u32) -> u32 {
    while parents[i as usize] != i {
        let up = parents[parents[i as usize] as usize];
        parents[i as usize] = up;
        i = up;
    }
    i
}

/// Joins the sets of `a` and `b` under the smaller root (the earlier run).
fn union(parents: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parents, a), find(parents, b));
    let (keep, join) = (ra.min(rb), ra.max(rb));
    parents[join as usize] = keep;
}

/// Smoothstep from `low` to `high`, as alpha 0..=255.
#[inline]
pub fn feather(p: f32, low: f32, high: f32) -> u8 {
    let t = ((p - low) / (high - low)).clamp(0.0, 1.0);
    (t * t * (3.0 - 2.0 * t) * 255.0 + 0.5) as u8
}

/// Steps of [`FeatherTable`] over probabilities 0..=1.
const FEATHER_STEPS: usize = 4096;

/// [`feather`] tabulated over probabilities 0..=1 in [`FEATHER_STEPS`] steps, so
/// the per-pixel work of upsampling is a multiply and a look-up. Within the
/// feather band (0.3 of the range by default) that is over 1200 steps for 256
/// alpha levels, so the table differs from [`feather`] by at most one level.
pub struct FeatherTable {
    alpha: Vec<u8>,
}

impl FeatherTable {
    /// The table for a feather from `low` to `high`.
    pub fn new(low: f32, high: f32) -> Self {
        let last = (FEATHER_STEPS - 1) as f32;
        Self {
            alpha: (0..FEATHER_STEPS)
                .map(|i| feather(i as f32 / last, low, high))
                .collect(),
        }
    }

    /// Alpha of probability `p` (clamped to 0..=1).
    #[inline]
    pub fn alpha(&self, p: f32) -> u8 {
        let i = (p * (FEATHER_STEPS - 1) as f32 + 0.5).clamp(0.0, (FEATHER_STEPS - 1) as f32);
        self.alpha[i as usize]
    }
}

/// Upsamples the letterboxed region of a model-size probability map to a
/// `frame_w x frame_h` alpha mask (bilinear), applying the feather.
///
/// Spans between two model samples that are both background (at or below
/// `feather_low`) or both person (at or above `feather_high`) are filled without
/// per-pixel work; the rest go through [`FeatherTable`].
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
    let table = FeatherTable::new(low, high);
    // Output pixels between the same two model columns form one run; a run whose
    // two ends are both background or both person needs no per-pixel work.
    let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut start = 0;
    for x in 1..=fw {
        if x == fw || xt.i0[x] != xt.i0[start] || xt.i1[x] != xt.i1[start] {
            runs.push((start, x, xt.i0[start] as usize, xt.i1[start] as usize));
            start = x;
        }
    }
    let mut row_buf = vec![0f32; mw];
    for y in 0..fh {
        let r0 = &prob[yt.i0[y] as usize * mw..][..mw];
        let r1 = &prob[yt.i1[y] as usize * mw..][..mw];
        let ty = yt.t[y];
        for ((v, &a), &b) in row_buf.iter_mut().zip(r0).zip(r1) {
            *v = a + (b - a) * ty;
        }
        let out = &mut mask[y * fw..][..fw];
        for &(x0, x1, i0, i1) in &runs {
            let (a, b) = (row_buf[i0], row_buf[i1]);
            if a <= low && b <= low {
                continue; // already 0
            }
            if a >= high && b >= high {
                out[x0..x1].fill(255);
                continue;
            }
            for (m, &t) in out[x0..x1].iter_mut().zip(&xt.t[x0..x1]) {
                *m = table.alpha(a + (b - a) * t);
            }
        }
    }
}

/// Bilinear resampling of the letterboxed region of a model-size probability map
/// onto an `out_w x out_h` grid covering the frame (pixel-centre aligned).
pub fn resample_letterboxed(
    prob: &[f32],
    model_w: u32,
    model_h: u32,
    lb: &Letterbox,
    out_w: usize,
    out_h: usize,
    out: &mut Vec<f32>,
) {
    let mw = model_w as usize;
    let xt = Taps::new(out_w, mw, lb.x, lb.w);
    let yt = Taps::new(out_h, model_h as usize, lb.y, lb.h);
    out.clear();
    for y in 0..out_h {
        let r0 = &prob[yt.i0[y] as usize * mw..][..mw];
        let r1 = &prob[yt.i1[y] as usize * mw..][..mw];
        let ty = yt.t[y];
        out.extend(
            xt.i0
                .iter()
                .zip(&xt.i1)
                .zip(&xt.t)
                .map(|((&i0, &i1), &tx)| {
                    let (i0, i1) = (i0 as usize, i1 as usize);
                    let top = r0[i0] + (r0[i1] - r0[i0]) * tx;
                    let bot = r1[i0] + (r1[i1] - r1[i0]) * tx;
                    top + (bot - top) * ty
                }),
        );
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

/// The boundary pixels of a `width x height` mask thresholded at `threshold`: on
/// pixels with at least one 4-neighbour off (the frame's border counts as inside).
pub fn boundary(mask: &[u8], width: usize, height: usize, threshold: u8) -> Vec<bool> {
    let on = |x: usize, y: usize| mask[y * width + x] >= threshold;
    let mut edge = vec![false; width * height];
    for y in 0..height {
        for x in 0..width {
            if !on(x, y) {
                continue;
            }
            edge[y * width + x] = (x > 0 && !on(x - 1, y))
                || (x + 1 < width && !on(x + 1, y))
                || (y > 0 && !on(x, y - 1))
                || (y + 1 < height && !on(x, y + 1));
        }
    }
    edge
}

/// Chessboard distance from each pixel to the nearest `true` one (two-pass chamfer),
/// capped at `cap`.
fn distance_to(set: &[bool], width: usize, height: usize, cap: u32) -> Vec<u32> {
    let mut d: Vec<u32> = set.iter().map(|&b| if b { 0 } else { cap }).collect();
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            let mut v = d[i];
            if x > 0 {
                v = v.min(d[i - 1] + 1);
            }
            if y > 0 {
                v = v.min(d[i - width] + 1);
                if x > 0 {
                    v = v.min(d[i - width - 1] + 1);
                }
                if x + 1 < width {
                    v = v.min(d[i - width + 1] + 1);
                }
            }
            d[i] = v;
        }
    }
    for y in (0..height).rev() {
        for x in (0..width).rev() {
            let i = y * width + x;
            let mut v = d[i];
            if x + 1 < width {
                v = v.min(d[i + 1] + 1);
            }
            if y + 1 < height {
                v = v.min(d[i + width] + 1);
                if x + 1 < width {
                    v = v.min(d[i + width + 1] + 1);
                }
                if x > 0 {
                    v = v.min(d[i + width - 1] + 1);
                }
            }
            d[i] = v;
        }
    }
    d
}

/// Boundary F-score (as in the DAVIS benchmark): precision is the share of
/// `predicted`'s boundary pixels within `tolerance` pixels (chessboard distance) of
/// `reference`'s boundary, recall the reverse; F is their harmonic mean. Two masks
/// without any boundary score 1, one without against one with scores 0.
pub fn boundary_f_score(
    predicted: &[u8],
    reference: &[u8],
    width: usize,
    height: usize,
    threshold: u8,
    tolerance: u32,
) -> f32 {
    let bp = boundary(predicted, width, height, threshold);
    let br = boundary(reference, width, height, threshold);
    let (np, nr) = (
        bp.iter().filter(|&&b| b).count(),
        br.iter().filter(|&&b| b).count(),
    );
    if np == 0 || nr == 0 {
        return if np == nr { 1.0 } else { 0.0 };
    }
    let cap = tolerance + 1;
    let dr = distance_to(&br, width, height, cap);
    let dp = distance_to(&bp, width, height, cap);
    let hits = |set: &[bool], dist: &[u32]| {
        set.iter()
            .zip(dist)
            .filter(|&(&b, &d)| b && d <= tolerance)
            .count()
    };
    let precision = hits(&bp, &dr) as f32 / np as f32;
    let recall = hits(&br, &dp) as f32 / nr as f32;
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

/// Mean alpha (0..1) of `mask` over the pixels `inner..=outer` pixels (chessboard
/// distance) outside `reference`'s person region: light leaking past the edge.
pub fn halo(
    mask: &[u8],
    reference: &[u8],
    width: usize,
    height: usize,
    threshold: u8,
    inner: u32,
    outer: u32,
) -> f32 {
    let person: Vec<bool> = reference.iter().map(|&a| a >= threshold).collect();
    let dist = distance_to(&person, width, height, outer + 1);
    let (mut sum, mut n) = (0u64, 0u64);
    for (&m, &d) in mask.iter().zip(&dist) {
        if (inner..=outer).contains(&d) {
            sum += u64::from(m);
            n += 1;
        }
    }
    if n == 0 {
        0.0
    } else {
        sum as f32 / n as f32 / 255.0
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
    fn speck_removal_by_runs_matches_a_flood_fill() {
        // Reference: label every pixel by flood fill, remove small regions.
        fn reference(prob: &mut [f32], w: usize, h: usize, min_area: usize) -> usize {
            let mut labels = vec![0usize; w * h];
            let mut sizes = vec![0usize];
            for start in 0..w * h {
                if prob[start] < 0.5 || labels[start] != 0 {
                    continue;
                }
                let label = sizes.len();
                let (mut stack, mut size) = (vec![start], 0);
                labels[start] = label;
                while let Some(i) = stack.pop() {
                    size += 1;
                    let (x, y) = (i % w, i / w);
                    let near = [
                        (x > 0).then(|| i - 1),
                        (x + 1 < w).then(|| i + 1),
                        (y > 0).then(|| i - w),
                        (y + 1 < h).then(|| i + w),
                    ];
                    for j in near.into_iter().flatten() {
                        if prob[j] >= 0.5 && labels[j] == 0 {
                            labels[j] = label;
                            stack.push(j);
                        }
                    }
                }
                sizes.push(size);
            }
            let largest = (1..sizes.len()).max_by_key(|&l| sizes[l]).unwrap_or(0);
            let small = |l: usize| l != 0 && l != largest && sizes[l] < min_area;
            for (p, &l) in prob.iter_mut().zip(&labels) {
                if small(l) {
                    *p = 0.0;
                }
            }
            (1..sizes.len()).filter(|&l| small(l)).count()
        }
        let mut seed = 12345u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        for (w, h, density, min_area) in [
            (31, 17, 45, 6),
            (64, 40, 55, 20),
            (9, 9, 50, 3),
            (40, 3, 60, 4),
        ] {
            for _ in 0..20 {
                let p: Vec<f32> = (0..w * h)
                    .map(|_| if next() % 100 < density { 0.7 } else { 0.2 })
                    .collect();
                let (mut a, mut b) = (p.clone(), p.clone());
                let mut parents = Vec::new();
                let got = remove_specks(&mut a, w, h, min_area, &mut parents);
                let want = reference(&mut b, w, h, min_area);
                assert_eq!(got, want, "{w}x{h}");
                assert_eq!(a, b, "{w}x{h}");
            }
        }
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

    /// A 4x4 map, right half person, filling the whole model input.
    fn half_map() -> (Vec<f32>, Letterbox) {
        let prob = (0..16)
            .map(|i| if i % 4 >= 2 { 1.0 } else { 0.0 })
            .collect();
        let lb = Letterbox {
            x: 0.0,
            y: 0.0,
            w: 4.0,
            h: 4.0,
        };
        (prob, lb)
    }

    #[test]
    fn upsampling_a_half_map_gives_a_half_mask_with_a_soft_edge() {
        let (prob, lb) = half_map();
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
    fn the_feather_table_is_within_one_level_of_the_feather() {
        let table = FeatherTable::new(0.35, 0.65);
        for i in 0..=10_000 {
            let p = i as f32 / 10_000.0;
            let (exact, tabled) = (feather(p, 0.35, 0.65), table.alpha(p));
            assert!(exact.abs_diff(tabled) <= 1, "p {p}: {exact} vs {tabled}");
        }
        assert_eq!(table.alpha(-0.5), 0);
        assert_eq!(table.alpha(1.5), 255);
    }

    #[test]
    fn upsampling_matches_per_pixel_bilinear_and_feather_on_a_soft_blob() {
        // A 16x12 map with a soft round blob, letterboxed like a tall frame,
        // against the plain per-pixel formula.
        let (mw, mh) = (16u32, 12u32);
        let prob: Vec<f32> = (0..mh)
            .flat_map(|y| {
                (0..mw).map(move |x| {
                    let d = ((x as f32 - 8.0).powi(2) + (y as f32 - 5.0).powi(2)).sqrt();
                    (1.2 - d / 5.0).clamp(0.0, 1.0)
                })
            })
            .collect();
        let lb = Letterbox {
            x: 2.0,
            y: 0.0,
            w: 12.0,
            h: 12.0,
        };
        let (fw, fh) = (45u32, 50u32);
        let params = PostParams::default();
        let mut mask = Vec::new();
        upsample_to_mask(&prob, mw, mh, &lb, fw, fh, &params, &mut mask);
        let xt = Taps::new(fw as usize, mw as usize, lb.x, lb.w);
        let yt = Taps::new(fh as usize, mh as usize, lb.y, lb.h);
        let at = |x: u32, y: u32| prob[(y * mw + x) as usize];
        let mut partial = 0;
        for y in 0..fh as usize {
            for x in 0..fw as usize {
                let (x0, x1, tx) = (xt.i0[x], xt.i1[x], xt.t[x]);
                let (y0, y1, ty) = (yt.i0[y], yt.i1[y], yt.t[y]);
                let top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * tx;
                let bot = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * tx;
                let want = feather(top + (bot - top) * ty, 0.35, 0.65);
                let got = mask[y * fw as usize + x];
                assert!(want.abs_diff(got) <= 1, "({x},{y}): {want} vs {got}");
                partial += usize::from(got > 0 && got < 255);
            }
        }
        assert!(
            partial > 20,
            "the blob has a soft edge ({partial} partial pixels)"
        );
        assert!(mask.contains(&255) && mask.contains(&0));
    }

    #[test]
    fn iou_of_identical_and_disjoint_masks() {
        assert_eq!(iou(&[255, 0, 255], &[255, 0, 255], 128), 1.0);
        assert_eq!(iou(&[255, 0], &[0, 255], 128), 0.0);
    }

    fn square(w: usize, h: usize, x0: usize, y0: usize, side: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if (x0..x0 + side).contains(&x) && (y0..y0 + side).contains(&y) {
                    255
                } else {
                    0
                }
            })
            .collect()
    }

    #[test]
    fn boundary_f_is_one_for_equal_masks_and_tolerates_small_shifts() {
        let a = square(40, 40, 10, 10, 20);
        assert_eq!(boundary_f_score(&a, &a, 40, 40, 128, 2), 1.0);
        let shifted = square(40, 40, 12, 10, 20);
        assert_eq!(boundary_f_score(&shifted, &a, 40, 40, 128, 2), 1.0);
        let far = square(40, 40, 15, 10, 20);
        let f = boundary_f_score(&far, &a, 40, 40, 128, 2);
        // Only the top and bottom rows overlap within 2 px.
        assert!(f > 0.3 && f < 0.8, "{f}");
        assert!(boundary_f_score(&far, &a, 40, 40, 128, 5) == 1.0);
    }

    #[test]
    fn boundary_f_of_an_empty_mask_against_a_person_is_zero() {
        let a = square(20, 20, 5, 5, 8);
        let empty = vec![0u8; 400];
        assert_eq!(boundary_f_score(&empty, &a, 20, 20, 128, 2), 0.0);
        assert_eq!(boundary_f_score(&empty, &empty, 20, 20, 128, 2), 1.0);
    }

    #[test]
    fn boundary_is_the_ring_of_a_square() {
        let a = square(10, 10, 2, 2, 5);
        let b = boundary(&a, 10, 10, 128);
        assert_eq!(b.iter().filter(|&&e| e).count(), 16);
        assert!(b[2 * 10 + 2] && !b[4 * 10 + 4]);
    }

    #[test]
    fn halo_measures_alpha_just_outside_the_reference() {
        let reference = square(40, 40, 10, 10, 20);
        assert_eq!(halo(&reference, &reference, 40, 40, 128, 3, 8), 0.0);
        // A mask that spills 5 px of half alpha all round.
        let mut spill = reference.clone();
        for (i, m) in spill.iter_mut().enumerate() {
            let (x, y) = (i % 40, i / 40);
            if *m == 0 && (5..35).contains(&x) && (5..35).contains(&y) {
                *m = 128;
            }
        }
        let h = halo(&spill, &reference, 40, 40, 128, 3, 8);
        // Rings 3..=5 of 3..=8 are half on.
        assert!(h > 0.2 && h < 0.35, "{h}");
    }

    #[test]
    fn resampling_onto_the_frame_grid_keeps_a_half_split() {
        let (prob, lb) = half_map();
        let mut out = Vec::new();
        resample_letterboxed(&prob, 4, 4, &lb, 8, 2, &mut out);
        assert_eq!(out.len(), 16);
        assert_eq!(out[0], 0.0);
        assert_eq!(out[7], 1.0);
        assert!((out[3] + out[4] - 1.0).abs() < 1e-6, "{out:?}");
    }
}
