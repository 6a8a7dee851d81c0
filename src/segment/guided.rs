//! Edge refinement (pure): a fast guided filter (He, Sun and Tang, "Guided Image
//! Filtering", 2010; He and Sun, "Fast Guided Filter", 2015) that snaps the model's
//! low-resolution person probability onto the edges of the full-resolution frame,
//! so hair and fingers keep their outline.
//!
//! The guide is the frame's luma. The linear coefficients `a`, `b` of
//! `q = a·I + b` are computed on a working grid `subsample` times coarser than the
//! frame (box means, O(1) per cell), smoothed, and bilinearly expanded to the
//! frame. Grid cells where the result is background or person whatever the guide
//! are filled whole; in the others each pixel costs one luma, two interpolations
//! and the feather.

use serde::{Deserialize, Serialize};

use super::error::SegmentError;
use super::preprocess::Taps;

/// Guided-filter settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuidedParams {
    /// Window radius in frame pixels.
    pub radius: u32,
    /// Regularisation on the guide's variance (guide in 0..1): edges fainter than
    /// about `sqrt(eps)` are smoothed over rather than followed.
    pub eps: f32,
    /// Frame pixels per side of one working-grid cell.
    pub subsample: u32,
}

impl Default for GuidedParams {
    fn default() -> Self {
        Self {
            radius: 2,
            eps: 0.01,
            subsample: 2,
        }
    }
}

impl GuidedParams {
    /// The working grid for a `width x height` frame: `ceil(side / subsample)`.
    pub fn grid_size(&self, width: u32, height: u32) -> (usize, usize) {
        let s = self.subsample.max(1) as usize;
        (
            (width as usize).div_ceil(s).max(1),
            (height as usize).div_ceil(s).max(1),
        )
    }

    /// The window radius on the working grid (at least one cell).
    fn grid_radius(&self) -> usize {
        ((self.radius as f32 / self.subsample.max(1) as f32).round() as usize).max(1)
    }
}

/// Luma of an RGB8 pixel, 0..=255 (BT.601 weights).
#[inline]
fn luma(r: u8, g: u8, b: u8) -> f32 {
    (77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b)) as f32 * (1.0 / 256.0)
}

/// Alpha of the filter output `t` with the feather folded in (0..1): a smoothstep.
/// `postprocess::feather(t, 0.0, 1.0)` computes the same; it is not called here
/// because `postprocess` imports this module (`GuidedParams`).
#[inline]
fn feathered(t: f32) -> u8 {
    let t = t.clamp(0.0, 1.0);
    (t * t * (3.0 - 2.0 * t) * 255.0 + 0.5) as u8
}

/// Box mean of radius `r` (window clipped at the borders, divided by the cells
/// inside), separable running sums: O(1) per cell whatever the radius.
fn box_mean(src: &[f32], w: usize, h: usize, r: usize, col: &mut Vec<f32>, dst: &mut Vec<f32>) {
    dst.clear();
    dst.resize(w * h, 0.0);
    // Vertical pass into `dst`: running column sums over rows y-r..=y+r.
    col.clear();
    col.resize(w, 0.0);
    for row in src.chunks_exact(w).take(r.min(h - 1) + 1) {
        for (c, &v) in col.iter_mut().zip(row) {
            *c += v;
        }
    }
    for y in 0..h {
        let count = (y + r).min(h - 1) + 1 - y.saturating_sub(r);
        let inv = 1.0 / count as f32;
        for (d, &c) in dst[y * w..][..w].iter_mut().zip(col.iter()) {
            *d = c * inv;
        }
        if y + r + 1 < h {
            for (c, &v) in col.iter_mut().zip(&src[(y + r + 1) * w..][..w]) {
                *c += v;
            }
        }
        if y >= r {
            for (c, &v) in col.iter_mut().zip(&src[(y - r) * w..][..w]) {
                *c -= v;
            }
        }
    }
    // Horizontal pass in place, one row at a time through `col`.
    let inv_count: Vec<f32> = (0..w)
        .map(|x| 1.0 / ((x + r).min(w - 1) + 1 - x.saturating_sub(r)) as f32)
        .collect();
    let direct = r <= DIRECT_RADIUS && 2 * r < w;
    for row in dst.chunks_exact_mut(w) {
        col.clear();
        col.extend_from_slice(row);
        if direct {
            // A small window: the sum of 2r+1 shifted rows, with no chain of
            // running sums from one cell to the next, so it vectorises.
            let n = w - 2 * r;
            let inner = &mut row[r..w - r];
            inner.copy_from_slice(&col[..n]);
            for k in 1..=2 * r {
                for (d, &v) in inner.iter_mut().zip(&col[k..k + n]) {
                    *d += v;
                }
            }
            let inv = 1.0 / (2 * r + 1) as f32;
            inner.iter_mut().for_each(|d| *d *= inv);
            for x in (0..r).chain(w - r..w) {
                let window = &col[x.saturating_sub(r)..=(x + r).min(w - 1)];
                row[x] = window.iter().sum::<f32>() * inv_count[x];
            }
            continue;
        }
        let mut sum: f32 = col[..=r.min(w - 1)].iter().sum();
        for (x, d) in row.iter_mut().enumerate() {
            *d = sum * inv_count[x];
            if x + r + 1 < w {
                sum += col[x + r + 1];
            }
            if x >= r {
                sum -= col[x - r];
            }
        }
    }
}

/// Largest box radius summed directly along a row rather than by running sums.
const DIRECT_RADIUS: usize = 4;

/// The guided filter with its reusable buffers.
#[derive(Clone, Debug, Default)]
pub struct GuidedFilter {
    guide: Vec<f32>,
    products: Vec<f32>,
    mean_i: Vec<f32>,
    mean_p: Vec<f32>,
    mean_ip: Vec<f32>,
    mean_ii: Vec<f32>,
    col: Vec<f32>,
    cells: Vec<Cell>,
    runs: Vec<(usize, usize, usize)>,
    spans: Vec<(usize, usize, Cell, usize)>,
    luma0: Vec<f32>,
    luma1: Vec<f32>,
    lo: Vec<f32>,
    hi: Vec<f32>,
}

/// What the feathered filter output `t = a·I + b` can be inside one grid cell
/// (between grid columns `i, i+1` and rows `j, j+1`), whatever the guide there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    /// `t ≤ 0` for every guide value: alpha 0.
    Background,
    /// `t ≥ 1` for every guide value: alpha 255.
    Person,
    /// Anything else: computed per pixel.
    Edge,
}

/// Classifies each grid cell from its four corners' coefficients (`a` in `a`, `b`
/// in `b`, the feather folded in, guide in 0..=255). Inside a cell the frame's
/// coefficients are convex combinations of the corners' (bilinear expansion), and
/// `t` is linear in them and in the guide, so its range lies within the corners'
/// values at guide 0 and 255.
fn cell_kinds(
    a: &[f32],
    b: &[f32],
    gw: usize,
    [lo, hi]: [&mut Vec<f32>; 2],
    cells: &mut Vec<Cell>,
) {
    // The range of t at each grid point (guide 0 and 255), then over each cell's
    // corners: with the neighbour to the right, then the one below (the last
    // column and row are their own neighbours, as the expansion clamps there).
    lo.clear();
    lo.extend(a.iter().zip(b).map(|(&a, &b)| b.min(a * 255.0 + b)));
    hi.clear();
    hi.extend(a.iter().zip(b).map(|(&a, &b)| b.max(a * 255.0 + b)));
    let picks: [(&mut Vec<f32>, fn(f32, f32) -> f32); 2] = [(lo, f32::min), (hi, f32::max)];
    for (v, pick) in picks {
        for row in v.chunks_exact_mut(gw) {
            for i in 0..gw - 1 {
                row[i] = pick(row[i], row[i + 1]);
            }
        }
        for j in gw..v.len() {
            v[j - gw] = pick(v[j - gw], v[j]);
        }
    }
    cells.clear();
    cells.extend(lo.iter().zip(hi.iter()).map(|(&l, &h)| {
        if h <= 0.0 {
            Cell::Background
        } else if l >= 1.0 {
            Cell::Person
        } else {
            Cell::Edge
        }
    }));
}

impl GuidedFilter {
    /// Refines `p_grid` (person probability 0..1 on the working grid of
    /// [`GuidedParams::grid_size`], row-major) against the `width x height` RGB8
    /// frame `rgb`, and writes the frame-size alpha: the filtered probability
    /// feathered from `feather_low` (alpha 0) to `feather_high` (alpha 255) by a
    /// smoothstep.
    #[expect(
        clippy::too_many_arguments,
        reason = "frame, grid, settings and feather, all plain data"
    )]
    pub fn refine(
        &mut self,
        rgb: &[u8],
        width: u32,
        height: u32,
        p_grid: &[f32],
        params: &GuidedParams,
        feather_low: f32,
        feather_high: f32,
        alpha: &mut Vec<u8>,
    ) -> Result<(), SegmentError> {
        let (fw, fh) = (width as usize, height as usize);
        if rgb.len() != fw * fh * 3 {
            return Err(SegmentError::SizeMismatch {
                what: "guide frame",
                expected: fw * fh * 3,
                found: rgb.len(),
            });
        }
        let (gw, gh) = params.grid_size(width, height);
        if p_grid.len() != gw * gh {
            return Err(SegmentError::SizeMismatch {
                what: "probability grid",
                expected: gw * gh,
                found: p_grid.len(),
            });
        }
        alpha.clear();
        if fw == 0 || fh == 0 {
            return Ok(());
        }
        self.coefficients(rgb, fw, fh, gw, gh, p_grid, params);
        // Fold the feather's linear part into the coefficients: t = a'·I + b'.
        let span = (feather_high - feather_low).max(1e-6);
        let inv_span = 1.0 / span;
        // `mean_i` holds mean a, `mean_p` mean b (see `coefficients`).
        for (a, b) in self.mean_i.iter_mut().zip(self.mean_p.iter_mut()) {
            *a *= inv_span;
            *b = (*b - feather_low) * inv_span;
        }
        let xt = Taps::new(fw, gw, 0.0, gw as f32);
        let yt = Taps::new(fh, gh, 0.0, gh as f32);
        cell_kinds(
            &self.mean_i,
            &self.mean_p,
            gw,
            [&mut self.lo, &mut self.hi],
            &mut self.cells,
        );
        // Output pixels between the same two grid columns form one run.
        self.runs.clear();
        let mut start = 0;
        for x in 1..=fw {
            if x == fw || xt.i0[x] != xt.i0[start] {
                self.runs.push((start, x, xt.i0[start] as usize));
                start = x;
            }
        }
        alpha.resize(fw * fh, 0);
        let (ca, cb) = (&self.mean_i, &self.mean_p);
        let mut spans_of = usize::MAX;
        for y in 0..fh {
            let (j0, j1, ty) = (yt.i0[y] as usize * gw, yt.i1[y] as usize * gw, yt.t[y]);
            if spans_of != j0 {
                // The grid row's runs, neighbours of one kind merged (edge runs kept
                // apart: each has its own corners). Output rows on one grid row share it.
                spans_of = j0;
                self.spans.clear();
                for &(x0, x1, i) in &self.runs {
                    let kind = self.cells[j0 + i];
                    match self.spans.last_mut() {
                        Some((_, end, k, _)) if *k == kind && kind != Cell::Edge => *end = x1,
                        _ => self.spans.push((x0, x1, kind, i)),
                    }
                }
            }
            let src = &rgb[y * fw * 3..][..fw * 3];
            let out = &mut alpha[y * fw..][..fw];
            for &(x0, x1, kind, i) in &self.spans {
                match kind {
                    Cell::Background => {} // already 0
                    Cell::Person => out[x0..x1].fill(255),
                    Cell::Edge => {
                        let i1 = (i + 1).min(gw - 1);
                        let col = |c: &[f32], i: usize| c[j0 + i] + (c[j1 + i] - c[j0 + i]) * ty;
                        let (a0, a1) = (col(ca, i), col(ca, i1));
                        let (b0, b1) = (col(cb, i), col(cb, i1));
                        for x in x0..x1 {
                            let tx = xt.t[x];
                            let (a, b) = (a0 + (a1 - a0) * tx, b0 + (b1 - b0) * tx);
                            let px = &src[x * 3..x * 3 + 3];
                            out[x] = feathered(a * luma(px[0], px[1], px[2]) + b);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Leaves the smoothed coefficients on the grid: mean `a` in `mean_i`, mean `b`
    /// in `mean_p` (guide in 0..255 units).
    #[expect(
        clippy::too_many_arguments,
        reason = "the frame and grid sizes travel unpacked"
    )]
    fn coefficients(
        &mut self,
        rgb: &[u8],
        fw: usize,
        fh: usize,
        gw: usize,
        gh: usize,
        p_grid: &[f32],
        params: &GuidedParams,
    ) {
        // Guide on the grid: bilinear luma at each cell's centre, from the luma of
        // the two frame rows each grid row reads.
        let xt = Taps::new(gw, fw, 0.0, fw as f32);
        let yt = Taps::new(gh, fh, 0.0, fh as f32);
        self.guide.clear();
        let stride = fw * 3;
        let luma_row = |y: u32, out: &mut Vec<f32>| {
            out.clear();
            out.extend(
                rgb[y as usize * stride..][..stride]
                    .chunks_exact(3)
                    .map(|px| luma(px[0], px[1], px[2])),
            );
        };
        let (mut l0, mut l1) = (
            std::mem::take(&mut self.luma0),
            std::mem::take(&mut self.luma1),
        );
        for gy in 0..gh {
            luma_row(yt.i0[gy], &mut l0);
            luma_row(yt.i1[gy], &mut l1);
            let ty = yt.t[gy];
            self.guide.extend((0..gw).map(|gx| {
                let (c0, c1, tx) = (xt.i0[gx] as usize, xt.i1[gx] as usize, xt.t[gx]);
                let top = l0[c0] + (l0[c1] - l0[c0]) * tx;
                let bot = l1[c0] + (l1[c1] - l1[c0]) * tx;
                top + (bot - top) * ty
            }));
        }
        (self.luma0, self.luma1) = (l0, l1);
        let r = params.grid_radius();
        let col = &mut self.col;
        box_mean(&self.guide, gw, gh, r, col, &mut self.mean_i);
        box_mean(p_grid, gw, gh, r, col, &mut self.mean_p);
        self.products.clear();
        self.products
            .extend(self.guide.iter().zip(p_grid).map(|(&i, &p)| i * p));
        box_mean(&self.products, gw, gh, r, col, &mut self.mean_ip);
        self.products.clear();
        self.products.extend(self.guide.iter().map(|&i| i * i));
        box_mean(&self.products, gw, gh, r, col, &mut self.mean_ii);
        // a = cov(I,p) / (var(I) + eps), b = mean p − a·mean I; into products / guide.
        let eps = params.eps * 255.0 * 255.0;
        self.products.clear();
        self.guide.clear();
        for i in 0..gw * gh {
            let (mi, mp) = (self.mean_i[i], self.mean_p[i]);
            let a = (self.mean_ip[i] - mi * mp) / ((self.mean_ii[i] - mi * mi).max(0.0) + eps);
            self.products.push(a);
            self.guide.push(mp - a * mi);
        }
        box_mean(&self.products, gw, gh, r, col, &mut self.mean_i);
        box_mean(&self.guide, gw, gh, r, col, &mut self.mean_p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: usize, h: usize, f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        (0..w * h)
            .flat_map(|i| {
                let v = f(i % w, i / w);
                [v, v, v]
            })
            .collect()
    }

    #[test]
    fn box_mean_matches_a_direct_sum_at_the_borders_and_inside() {
        // Small radii (summed directly), a window as wide as the row, and a large
        // radius (running sums).
        for (w, h, r) in [(7, 5, 1), (7, 5, 2), (7, 5, 3), (5, 5, 3), (23, 6, 6)] {
            let src: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 11) as f32).collect();
            let (mut col, mut dst) = (Vec::new(), Vec::new());
            box_mean(&src, w, h, r, &mut col, &mut dst);
            for y in 0..h {
                for x in 0..w {
                    let (mut sum, mut n) = (0.0, 0);
                    for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                        for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                            sum += src[yy * w + xx];
                            n += 1;
                        }
                    }
                    let want = sum / n as f32;
                    let got = dst[y * w + x];
                    assert!(
                        (got - want).abs() < 1e-4,
                        "({x},{y}) r {r}: {got} vs {want}"
                    );
                }
            }
        }
    }

    /// Alpha along the middle row for a blurry probability ramp over `ramp`
    /// (crossing 0.5 two pixels left of the step the frame has at x = 40).
    fn step_row(params: &GuidedParams) -> Vec<u8> {
        let (w, h) = (96u32, 32u32);
        let rgb = grey(
            w as usize,
            h as usize,
            |x, _| if x >= 40 { 200 } else { 30 },
        );
        let (gw, gh) = params.grid_size(w, h);
        let s = params.subsample as f32;
        let p: Vec<f32> = (0..gw * gh)
            .map(|i| {
                let x = ((i % gw) as f32 + 0.5) * s;
                ((x - 26.0) / 24.0).clamp(0.0, 1.0)
            })
            .collect();
        let mut alpha = Vec::new();
        GuidedFilter::default()
            .refine(&rgb, w, h, &p, params, 0.35, 0.65, &mut alpha)
            .expect("sizes match");
        alpha[16 * w as usize..][..w as usize].to_vec()
    }

    fn first_on(row: &[u8]) -> usize {
        row.iter().position(|&a| a >= 128).expect("an edge")
    }

    fn edge_width(row: &[u8]) -> usize {
        let lo = row.iter().position(|&a| a > 10).expect("rises");
        let hi = row.iter().position(|&a| a >= 245).expect("reaches full");
        hi - lo
    }

    #[test]
    fn a_step_edge_in_the_guide_moves_the_alpha_edge_onto_it() {
        let params = GuidedParams {
            radius: 8,
            eps: 0.01,
            subsample: 4,
        };
        let refined = step_row(&params);
        // A run with eps so large that the guide is ignored is the unrefined ramp.
        let ignored = step_row(&GuidedParams { eps: 1e6, ..params });
        assert!(first_on(&ignored) <= 38, "{ignored:?}");
        assert!((39..=41).contains(&first_on(&refined)), "{refined:?}");
        assert!(
            edge_width(&refined) * 2 <= edge_width(&ignored),
            "refined {refined:?}\nignored {ignored:?}"
        );
    }

    #[test]
    fn a_flat_guide_leaves_a_smooth_mask_smooth() {
        let (w, h) = (64u32, 64u32);
        let rgb = grey(w as usize, h as usize, |_, _| 120);
        let params = GuidedParams::default();
        let (gw, gh) = params.grid_size(w, h);
        let p: Vec<f32> = (0..gw * gh)
            .map(|i| (i % gw) as f32 / (gw - 1) as f32)
            .collect();
        let mut alpha = Vec::new();
        GuidedFilter::default()
            .refine(&rgb, w, h, &p, &params, 0.0, 1.0, &mut alpha)
            .expect("sizes match");
        let row = &alpha[32 * w as usize..][..w as usize];
        // Monotone, no jump bigger than a smooth ramp's step, and rising overall.
        let steps: Vec<i32> = row
            .windows(2)
            .map(|p| i32::from(p[1]) - i32::from(p[0]))
            .collect();
        assert!(steps.iter().all(|&d| (0..=12).contains(&d)), "{row:?}");
        assert!(row[w as usize - 1] > row[0] + 150, "{row:?}");
        // Every row equal: nothing comes from a guide without structure.
        assert_eq!(&alpha[..w as usize], row);
    }

    #[test]
    fn skipping_whole_background_and_person_cells_changes_no_pixel() {
        // A noisy picture with a blob, a blurry blob as probability, odd sizes.
        let (w, h) = (83u32, 61u32);
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 / 4 + 100)
            .collect();
        for subsample in [1, 2, 3] {
            let params = GuidedParams {
                subsample,
                ..GuidedParams::default()
            };
            let (gw, gh) = params.grid_size(w, h);
            let p: Vec<f32> = (0..gw * gh)
                .map(|i| {
                    let (x, y) = ((i % gw) as f32 / gw as f32, (i / gw) as f32 / gh as f32);
                    let d = ((x - 0.45).powi(2) + (y - 0.55).powi(2)).sqrt();
                    ((0.3 - d) * 6.0 + 0.5).clamp(0.0, 1.0)
                })
                .collect();
            let mut filter = GuidedFilter::default();
            let mut alpha = Vec::new();
            filter
                .refine(&rgb, w, h, &p, &params, 0.35, 0.65, &mut alpha)
                .expect("sizes match");
            let kinds = |k: Cell| filter.cells.iter().filter(|&&c| c == k).count();
            assert!(kinds(Cell::Background) > 0 && kinds(Cell::Person) > 0);
            assert!(kinds(Cell::Edge) > 0);
            // Every pixel as the unskipped formula gives it.
            let (fw, fh) = (w as usize, h as usize);
            let xt = Taps::new(fw, gw, 0.0, gw as f32);
            let yt = Taps::new(fh, gh, 0.0, gh as f32);
            let (ca, cb) = (&filter.mean_i, &filter.mean_p);
            for y in 0..fh {
                let (j0, j1, ty) = (yt.i0[y] as usize * gw, yt.i1[y] as usize * gw, yt.t[y]);
                let col = |c: &[f32], i: u32| {
                    let i = i as usize;
                    c[j0 + i] + (c[j1 + i] - c[j0 + i]) * ty
                };
                for x in 0..fw {
                    let tx = xt.t[x];
                    let (a0, a1) = (col(ca, xt.i0[x]), col(ca, xt.i1[x]));
                    let (b0, b1) = (col(cb, xt.i0[x]), col(cb, xt.i1[x]));
                    let (a, b) = (a0 + (a1 - a0) * tx, b0 + (b1 - b0) * tx);
                    let px = &rgb[(y * fw + x) * 3..][..3];
                    let want = feathered(a * luma(px[0], px[1], px[2]) + b);
                    assert_eq!(alpha[y * fw + x], want, "({x},{y}) subsample {subsample}");
                }
            }
        }
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let params = GuidedParams {
            subsample: 4,
            ..GuidedParams::default()
        };
        let mut filter = GuidedFilter::default();
        let mut alpha = Vec::new();
        let rgb = vec![0u8; 16 * 16 * 3];
        let err = filter
            .refine(&rgb, 16, 16, &[0.0; 5], &params, 0.35, 0.65, &mut alpha)
            .expect_err("grid is 4x4");
        assert!(matches!(
            err,
            SegmentError::SizeMismatch {
                expected: 16,
                found: 5,
                ..
            }
        ));
        let err = filter
            .refine(
                &rgb[1..],
                16,
                16,
                &[0.0; 16],
                &params,
                0.35,
                0.65,
                &mut alpha,
            )
            .expect_err("frame short by one byte");
        assert!(err.to_string().contains("guide frame"), "{err}");
    }
}
