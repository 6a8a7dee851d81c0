//! Mask → closed outlines: box-filter downsampling, marching squares and
//! Douglas–Peucker simplification (pure, no allocation beyond the outputs).
//!
//! Coordinates are cutout pixels: origin at the top-left, x to the right, y down.
//! Marching squares interpolates the crossing on each cell edge from the averaged
//! grey levels, so outlines are sub-pixel accurate even on a coarse grid.
//!
//! Orientation: with y down, every traced *outer* boundary has a negative shoelace
//! area and every *hole* a positive one ([`Contour::is_hole`]).

/// A downsampled grey-level copy of a mask (values 0..=255 as `f32`).
#[derive(Clone, Debug)]
pub struct Grid {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Source pixels per grid cell along each axis (≥ 1).
    pub factor: usize,
    /// `width * height` averaged values, row-major.
    pub values: Vec<f32>,
}

impl Grid {
    /// Box-filters a `width x height` mask so that the grid has at most `max_rows`
    /// rows (an integer factor, the same on both axes). Returns `None` when the
    /// mask's length does not match the size or the size is zero.
    pub fn downsample(mask: &[u8], width: usize, height: usize, max_rows: usize) -> Option<Self> {
        if width == 0 || height == 0 || mask.len() != width.checked_mul(height)? {
            return None;
        }
        let factor = height.div_ceil(max_rows.max(1)).max(1);
        let gw = width.div_ceil(factor);
        let gh = height.div_ceil(factor);
        let mut sums = vec![0u32; gw * gh];
        // Column sums over a band of `factor` rows (vectorises), then block sums.
        let mut columns = vec![0u32; width];
        for (gy, band) in mask.chunks(width * factor).enumerate() {
            columns.iter_mut().for_each(|c| *c = 0);
            for row in band.chunks_exact(width) {
                for (c, &v) in columns.iter_mut().zip(row) {
                    *c += u32::from(v);
                }
            }
            let base = gy * gw;
            for (sum, block) in sums[base..base + gw].iter_mut().zip(columns.chunks(factor)) {
                *sum = block.iter().sum();
            }
        }
        // Pixels per cell: `factor²`, less in the last column / row.
        let cell_w = |gx: usize| (width - gx * factor).min(factor) as f32;
        let cell_h = |gy: usize| (height - gy * factor).min(factor) as f32;
        let values = sums
            .iter()
            .enumerate()
            .map(|(i, &s)| s as f32 / (cell_w(i % gw) * cell_h(i / gw)))
            .collect();
        Some(Self {
            width: gw,
            height: gh,
            factor,
            values,
        })
    }
}

/// One closed outline traced from a grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Contour {
    /// Vertices in cutout pixel coordinates; the last connects back to the first.
    pub points: Vec<[f32; 2]>,
    /// Shoelace area in pixel² (negative for outer boundaries, positive for holes).
    pub signed_area: f32,
}

impl Contour {
    /// `true` when this outline bounds a hole inside a person rather than a person.
    pub fn is_hole(&self) -> bool {
        self.signed_area > 0.0
    }

    /// Enclosed area in pixel².
    pub fn area(&self) -> f32 {
        self.signed_area.abs()
    }
}

/// Signed shoelace area of a closed polygon (positive when counter-clockwise in a
/// y-up frame, i.e. clockwise on screen with y down).
pub fn signed_area(points: &[[f32; 2]]) -> f32 {
    let n = points.len();
    if n < 3 {
        return 0.0;
    }
    let mut acc = 0.0f64;
    for i in 0..n {
        let [x0, y0] = points[i];
        let [x1, y1] = points[(i + 1) % n];
        acc += f64::from(x0) * f64::from(y1) - f64::from(x1) * f64::from(y0);
    }
    (acc * 0.5) as f32
}

/// Traces every iso-line of `grid` at `threshold` with marching squares.
///
/// The grid is treated as surrounded by a ring of zeros, so every outline is
/// closed, also where the person touches the frame edge. Saddle cells are
/// resolved by the cell's mean value (connected when the centre is inside).
/// Output coordinates are cutout pixels, clamped to `[0, width] x [0, height]`
/// of the source mask.
pub fn trace(grid: &Grid, threshold: f32, source_width: f32, source_height: f32) -> Vec<Contour> {
    let pw = grid.width + 2;
    let ph = grid.height + 2;
    let sample = |i: usize, j: usize| -> f32 {
        if i == 0 || j == 0 || i > grid.width || j > grid.height {
            0.0
        } else {
            grid.values[(j - 1) * grid.width + (i - 1)]
        }
    };
    let h_edges = (pw - 1) * ph;
    let hedge = |i: usize, j: usize| j * (pw - 1) + i;
    let vedge = |i: usize, j: usize| h_edges + j * pw + i;
    let total = h_edges + pw * (ph - 1);
    const NONE: u32 = u32::MAX;
    let mut next = vec![NONE; total];
    let mut any = false;

    for cy in 0..ph - 1 {
        for cx in 0..pw - 1 {
            let v = [
                sample(cx, cy),
                sample(cx + 1, cy),
                sample(cx + 1, cy + 1),
                sample(cx, cy + 1),
            ];
            let inside = v.map(|x| x >= threshold);
            if inside.iter().all(|&b| b) || inside.iter().all(|&b| !b) {
                continue;
            }
            any = true;
            // Cell edges in cyclic order: top (tl→tr), right (tr→br), bottom (br→bl), left (bl→tl).
            let edges = [
                hedge(cx, cy),
                vedge(cx + 1, cy),
                hedge(cx, cy + 1),
                vedge(cx, cy),
            ];
            // +1 = entry (out → in along the cycle), -1 = exit (in → out), 0 = no crossing.
            let mut kind = [0i8; 4];
            for k in 0..4 {
                let a = inside[k];
                let b = inside[(k + 1) % 4];
                kind[k] = match (a, b) {
                    (false, true) => 1,
                    (true, false) => -1,
                    _ => 0,
                };
            }
            let crossings = kind.iter().filter(|&&k| k != 0).count();
            if crossings == 2 {
                let entry = kind.iter().position(|&k| k == 1);
                let exit = kind.iter().position(|&k| k == -1);
                if let (Some(e), Some(x)) = (entry, exit) {
                    next[edges[e]] = edges[x] as u32;
                }
            } else {
                // Saddle: separate blobs pair each entry with the following exit,
                // a connected centre pairs it with the preceding one.
                let centre_inside = (v[0] + v[1] + v[2] + v[3]) * 0.25 >= threshold;
                for k in 0..4 {
                    if kind[k] == 1 {
                        let x = if centre_inside {
                            (k + 3) % 4
                        } else {
                            (k + 1) % 4
                        };
                        next[edges[k]] = edges[x] as u32;
                    }
                }
            }
        }
    }
    if !any {
        return Vec::new();
    }

    let f = grid.factor as f32;
    let to_pixels = |gx: f32, gy: f32| -> [f32; 2] {
        // Padded sample i sits at the centre of source block i - 1.
        let px = ((gx - 1.0 + 0.5) * f).clamp(0.0, source_width);
        let py = ((gy - 1.0 + 0.5) * f).clamp(0.0, source_height);
        [px, py]
    };
    let crossing = |edge: usize| -> [f32; 2] {
        let (a, b) = if edge < h_edges {
            let j = edge / (pw - 1);
            let i = edge % (pw - 1);
            ((i, j), (i + 1, j))
        } else {
            let e = edge - h_edges;
            let j = e / pw;
            let i = e % pw;
            ((i, j), (i, j + 1))
        };
        let va = sample(a.0, a.1);
        let vb = sample(b.0, b.1);
        let t = if (vb - va).abs() < f32::EPSILON {
            0.5
        } else {
            ((threshold - va) / (vb - va)).clamp(0.0, 1.0)
        };
        let gx = a.0 as f32 + t * (b.0 as f32 - a.0 as f32);
        let gy = a.1 as f32 + t * (b.1 as f32 - a.1 as f32);
        to_pixels(gx, gy)
    };

    let mut visited = vec![false; total];
    let mut contours = Vec::new();
    for start in 0..total {
        if next[start] == NONE || visited[start] {
            continue;
        }
        let mut points = Vec::new();
        let mut e = start;
        // Each edge has one successor; the walk closes when it comes back to `start`.
        while !visited[e] {
            visited[e] = true;
            points.push(crossing(e));
            let n = next[e];
            if n == NONE {
                break;
            }
            e = n as usize;
        }
        dedup_closed(&mut points);
        if points.len() >= 3 {
            let signed_area = signed_area(&points);
            contours.push(Contour {
                points,
                signed_area,
            });
        }
    }
    contours
}

/// Removes consecutive (and first/last) vertices closer than a thousandth of a pixel.
pub fn dedup_closed(points: &mut Vec<[f32; 2]>) {
    const EPS2: f32 = 1e-6;
    points.dedup_by(|a, b| dist2(*a, *b) < EPS2);
    while points.len() > 1 {
        let (first, last) = (points[0], points[points.len() - 1]);
        if dist2(first, last) < EPS2 {
            points.pop();
        } else {
            break;
        }
    }
}

fn dist2(a: [f32; 2], b: [f32; 2]) -> f32 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    dx * dx + dy * dy
}

/// Squared distance from `p` to the segment `a`–`b`.
pub fn segment_dist2(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let abx = b[0] - a[0];
    let aby = b[1] - a[1];
    let len2 = abx * abx + aby * aby;
    if len2 <= f32::EPSILON {
        return dist2(p, a);
    }
    let t = (((p[0] - a[0]) * abx + (p[1] - a[1]) * aby) / len2).clamp(0.0, 1.0);
    dist2(p, [a[0] + t * abx, a[1] + t * aby])
}

/// Douglas–Peucker simplification of a closed polygon: every dropped vertex lies
/// within `tolerance` of the result. The polygon is split at vertex 0 and the
/// vertex farthest from it, and both chains are simplified.
pub fn simplify_closed(points: &[[f32; 2]], tolerance: f32) -> Vec<[f32; 2]> {
    let n = points.len();
    if n <= 3 {
        return points.to_vec();
    }
    let far = (1..n)
        .max_by(|&a, &b| dist2(points[0], points[a]).total_cmp(&dist2(points[0], points[b])))
        .unwrap_or(n / 2);
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[far] = true;
    let first: Vec<usize> = (0..=far).collect();
    let second: Vec<usize> = (far..n).chain(std::iter::once(0)).collect();
    let tol2 = tolerance * tolerance;
    for chain in [&first, &second] {
        simplify_chain(points, chain, tol2, &mut keep);
    }
    points
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| *p)
        .collect()
}

/// Marks the vertices of the open chain `idx` (indices into `points`) that
/// Douglas–Peucker keeps; the chain's endpoints are assumed kept.
fn simplify_chain(points: &[[f32; 2]], idx: &[usize], tol2: f32, keep: &mut [bool]) {
    if idx.len() < 3 {
        return;
    }
    let mut stack = vec![(0usize, idx.len() - 1)];
    while let Some((lo, hi)) = stack.pop() {
        if hi <= lo + 1 {
            continue;
        }
        let a = points[idx[lo]];
        let b = points[idx[hi]];
        let mut best = (0.0f32, lo);
        for (k, &i) in idx.iter().enumerate().take(hi).skip(lo + 1) {
            let d = segment_dist2(points[i], a, b);
            if d > best.0 {
                best = (d, k);
            }
        }
        if best.0 > tol2 {
            keep[idx[best.1]] = true;
            stack.push((lo, best.1));
            stack.push((best.1, hi));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square_mask(w: usize, h: usize, x0: usize, y0: usize, x1: usize, y1: usize) -> Vec<u8> {
        let mut m = vec![0u8; w * h];
        for y in y0..y1 {
            for x in x0..x1 {
                m[y * w + x] = 255;
            }
        }
        m
    }

    #[test]
    fn downsampling_keeps_rows_under_the_limit_and_averages() {
        let m = square_mask(640, 480, 0, 0, 320, 480);
        let g = Grid::downsample(&m, 640, 480, 96).expect("valid size");
        assert!(g.height <= 96);
        assert_eq!(g.factor, 5);
        assert_eq!(g.values[0], 255.0);
        assert_eq!(g.values[g.width - 1], 0.0);
        assert!(Grid::downsample(&m, 640, 479, 96).is_none());
    }

    #[test]
    fn a_filled_square_traces_one_outer_boundary_of_the_right_area() {
        let m = square_mask(100, 100, 20, 30, 70, 90);
        let g = Grid::downsample(&m, 100, 100, 100).expect("valid size");
        let c = trace(&g, 128.0, 100.0, 100.0);
        assert_eq!(c.len(), 1);
        assert!(!c[0].is_hole());
        let expected = 50.0 * 60.0;
        assert!(
            (c[0].area() - expected).abs() / expected < 0.03,
            "{}",
            c[0].area()
        );
    }

    #[test]
    fn a_square_ring_traces_an_outer_boundary_and_a_hole() {
        let mut m = square_mask(100, 100, 10, 10, 90, 90);
        for y in 30..70 {
            for x in 30..70 {
                m[y * 100 + x] = 0;
            }
        }
        let g = Grid::downsample(&m, 100, 100, 100).expect("valid size");
        let c = trace(&g, 128.0, 100.0, 100.0);
        assert_eq!(c.len(), 2);
        assert_eq!(c.iter().filter(|c| c.is_hole()).count(), 1);
    }

    #[test]
    fn a_mask_touching_the_frame_edge_still_closes() {
        let m = vec![255u8; 40 * 30];
        let g = Grid::downsample(&m, 40, 30, 30).expect("valid size");
        let c = trace(&g, 128.0, 40.0, 30.0);
        assert_eq!(c.len(), 1);
        assert!(
            (c[0].area() - 1200.0).abs() / 1200.0 < 0.05,
            "{}",
            c[0].area()
        );
    }

    #[test]
    fn douglas_peucker_drops_collinear_points_and_keeps_corners() {
        let mut pts = Vec::new();
        for i in 0..10 {
            pts.push([i as f32, 0.0]);
        }
        for i in 0..10 {
            pts.push([10.0, i as f32]);
        }
        for i in 0..10 {
            pts.push([10.0 - i as f32, 10.0]);
        }
        for i in 0..10 {
            pts.push([0.0, 10.0 - i as f32]);
        }
        let s = simplify_closed(&pts, 0.1);
        assert_eq!(s.len(), 4, "{s:?}");
        assert!((signed_area(&s).abs() - 100.0).abs() < 1e-3);
    }
}
