//! bodies: a participant's real outline as convex pieces, ready to become a collider.
//!
//! Pipeline (all pure, no Bevy, no threads; run it wherever the mask lives):
//! 1. [`contour::Grid::downsample`]: box-filter the `u8` mask to at most
//!    [`SilhouetteParams::max_rows`] rows (≈ 96), so a 640x480 mask costs a
//!    12k-cell grid instead of 300k pixels.
//! 2. [`contour::trace`]: marching squares at [`SilhouetteParams::threshold`],
//!    interpolated, giving closed outlines; outer boundaries and holes are told
//!    apart by orientation.
//! 3. Specks below [`SilhouetteParams::min_area_fraction`] of the frame are dropped.
//!    **Holes are filled**: only outer boundaries are kept, so arms on hips make a
//!    solid body rather than a hoop a ball could get trapped in.
//! 4. [`contour::simplify_closed`]: Douglas–Peucker, tolerance raised until the
//!    outline has at most [`SilhouetteParams::max_outline_vertices`] vertices.
//! 5. [`convex::convex_pieces`]: ear clipping + Hertel–Mehlhorn into convex pieces
//!    of at most [`SilhouetteParams::max_piece_vertices`] vertices; at most
//!    [`SilhouetteParams::max_pieces`] pieces survive (the largest).
//!
//! Input: a mask (`width * height` bytes, 255 = person), e.g. [`crate::segment::cutout::Cutout::mask`].
//! Output: a [`Silhouette`] in cutout pixel coordinates (origin top-left, y down);
//! [`Silhouette::to_world`] maps it through a [`Placement`] into world units with
//! counter-clockwise pieces, which is what `games::GameSim` takes.
//!
//! Invariants: every piece is convex with 3..=`max_piece_vertices` vertices and a
//! non-zero area; an empty or all-speck mask gives an empty silhouette.

pub mod contour;
pub mod convex;
pub mod error;
pub mod synthetic;

use serde::{Deserialize, Serialize};

use crate::world::placement::Placement;
pub use error::BodiesError;

/// Knobs of the mask → silhouette pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SilhouetteParams {
    /// Mask value at or above which a pixel belongs to the person.
    pub threshold: u8,
    /// Rows of the downsampled grid (an integer factor of the mask height is used).
    pub max_rows: u32,
    /// Outlines enclosing less than this fraction of the frame are noise and dropped.
    pub min_area_fraction: f32,
    /// Douglas–Peucker tolerance as a fraction of the mask height.
    pub tolerance_fraction: f32,
    /// Upper bound on an outline's vertices after simplification.
    pub max_outline_vertices: usize,
    /// Upper bound on each convex piece's vertices (≥ 3).
    pub max_piece_vertices: usize,
    /// Upper bound on the number of pieces of the whole silhouette.
    pub max_pieces: usize,
}

impl Default for SilhouetteParams {
    fn default() -> Self {
        Self {
            threshold: 128,
            max_rows: 96,
            min_area_fraction: 0.002,
            tolerance_fraction: 0.005,
            max_outline_vertices: 64,
            max_piece_vertices: 8,
            max_pieces: 32,
        }
    }
}

/// A participant's outline as convex pieces, in cutout pixel coordinates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Silhouette {
    /// Width of the mask it was traced from, in pixels.
    pub width: u32,
    /// Height of the mask it was traced from, in pixels.
    pub height: u32,
    /// Simplified outer outlines, one per connected blob (holes filled).
    pub outlines: Vec<Vec<[f32; 2]>>,
    /// Convex pieces covering the outlines.
    pub pieces: Vec<Vec<[f32; 2]>>,
    /// For each piece, the index of the outline (blob) it belongs to.
    pub piece_outline: Vec<usize>,
}

impl Silhouette {
    /// `true` when there is nothing to collide with.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Total area of the pieces in pixel².
    pub fn area(&self) -> f32 {
        self.pieces
            .iter()
            .map(|p| contour::signed_area(p).abs())
            .sum()
    }

    /// The pieces in world coordinates through `placement`, each counter-clockwise
    /// (y up), as `games::GameSim::set_body` expects.
    pub fn to_world(&self, placement: &Placement) -> Vec<Vec<[f32; 2]>> {
        map_polygons(&self.pieces, placement, self.width, self.height)
    }

    /// The outlines in world coordinates through `placement`, counter-clockwise.
    pub fn outlines_to_world(&self, placement: &Placement) -> Vec<Vec<[f32; 2]>> {
        map_polygons(&self.outlines, placement, self.width, self.height)
    }

    /// Rebuilds the convex pieces from outlines alone (what a peer sends over the
    /// network: a few dozen points instead of pieces). Outlines that are not finite
    /// or have fewer than 3 points are skipped; longer ones than
    /// `max_outline_vertices` are simplified down to it.
    pub fn from_outlines(
        outlines: &[Vec<[f32; 2]>],
        width: u32,
        height: u32,
        params: &SilhouetteParams,
    ) -> Silhouette {
        let mut out = Silhouette {
            width,
            height,
            ..Silhouette::default()
        };
        for outline in outlines {
            let finite = outline.iter().flatten().all(|v| v.is_finite());
            if !finite || outline.len() < 3 {
                continue;
            }
            let base_tol = (params.tolerance_fraction * height as f32).max(0.5);
            let simple = if outline.len() > params.max_outline_vertices.max(4) {
                simplify_to_budget(outline, base_tol, params.max_outline_vertices)
            } else {
                outline.clone()
            };
            out.push_outline(simple, params);
        }
        out.enforce_piece_budget(params);
        out
    }

    /// Adds one simplified outline and its convex pieces.
    fn push_outline(&mut self, outline: Vec<[f32; 2]>, params: &SilhouetteParams) {
        let index = self.outlines.len();
        for piece in convex::convex_pieces(&outline, params.max_piece_vertices) {
            self.pieces.push(piece);
            self.piece_outline.push(index);
        }
        self.outlines.push(outline);
    }

    /// Keeps only the `max_pieces` largest pieces (in their original order).
    fn enforce_piece_budget(&mut self, params: &SilhouetteParams) {
        if self.pieces.len() <= params.max_pieces {
            return;
        }
        let areas: Vec<f32> = self
            .pieces
            .iter()
            .map(|p| contour::signed_area(p).abs())
            .collect();
        let mut order: Vec<usize> = (0..self.pieces.len()).collect();
        order.sort_by(|&a, &b| areas[b].total_cmp(&areas[a]).then(a.cmp(&b)));
        order.truncate(params.max_pieces);
        order.sort_unstable();
        tracing::trace!(
            pieces = self.pieces.len(),
            kept = params.max_pieces,
            "silhouette over piece budget"
        );
        self.pieces = order.iter().map(|&i| self.pieces[i].clone()).collect();
        self.piece_outline = order.iter().map(|&i| self.piece_outline[i]).collect();
    }
}

fn map_polygons(
    polys: &[Vec<[f32; 2]>],
    placement: &Placement,
    width: u32,
    height: u32,
) -> Vec<Vec<[f32; 2]>> {
    polys
        .iter()
        .map(|poly| {
            let mut out: Vec<[f32; 2]> = poly
                .iter()
                .map(|p| placement.cutout_to_world(p[0], p[1], width, height))
                .collect();
            if contour::signed_area(&out) < 0.0 {
                out.reverse();
            }
            out
        })
        .collect()
}

/// Douglas–Peucker with a tolerance raised from `tolerance` until at most
/// `max_vertices` vertices remain (or nothing simpler exists).
fn simplify_to_budget(points: &[[f32; 2]], tolerance: f32, max_vertices: usize) -> Vec<[f32; 2]> {
    let max_vertices = max_vertices.max(4);
    let mut tol = tolerance.max(1e-3);
    let mut simple = contour::simplify_closed(points, tol);
    // Each round grows the tolerance by half; 40 rounds cover any finite outline.
    for _ in 0..40 {
        if simple.len() <= max_vertices {
            break;
        }
        tol *= 1.5;
        simple = contour::simplify_closed(points, tol);
    }
    simple
}

/// Traces `mask` (`width * height` bytes) into a [`Silhouette`].
///
/// Errors only when the mask's length does not match its size; an empty mask
/// gives an empty silhouette.
pub fn silhouette_from_mask(
    mask: &[u8],
    width: u32,
    height: u32,
    params: &SilhouetteParams,
) -> Result<Silhouette, BodiesError> {
    let expected = width as usize * height as usize;
    if mask.len() != expected {
        return Err(BodiesError::MaskSizeMismatch {
            len: mask.len(),
            width,
            height,
            expected,
        });
    }
    let mut out = Silhouette {
        width,
        height,
        ..Silhouette::default()
    };
    let Some(grid) = contour::Grid::downsample(
        mask,
        width as usize,
        height as usize,
        params.max_rows as usize,
    ) else {
        return Ok(out);
    };
    let contours = contour::trace(
        &grid,
        f32::from(params.threshold.max(1)),
        width as f32,
        height as f32,
    );
    let min_area = params.min_area_fraction.max(0.0) * expected as f32;
    let mut outers: Vec<contour::Contour> = contours
        .into_iter()
        .filter(|c| !c.is_hole() && c.area() >= min_area.max(1.0))
        .collect();
    // Largest blobs first, so the piece budget goes to the person, not to stray bits.
    outers.sort_by(|a, b| b.area().total_cmp(&a.area()));

    let base_tol = (params.tolerance_fraction * height as f32).max(0.5);
    for outer in outers {
        let simple = simplify_to_budget(&outer.points, base_tol, params.max_outline_vertices);
        if simple.len() < 3 || contour::signed_area(&simple).abs() < min_area.max(1.0) * 0.5 {
            continue;
        }
        out.push_outline(simple, params);
    }
    out.enforce_piece_budget(params);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(mask: &mut [u8], w: u32, cx: f32, cy: f32, r: f32) {
        for (i, v) in mask.iter_mut().enumerate() {
            let x = (i as u32 % w) as f32 + 0.5;
            let y = (i as u32 / w) as f32 + 0.5;
            if (x - cx).powi(2) + (y - cy).powi(2) <= r * r {
                *v = 255;
            }
        }
    }

    #[test]
    fn a_disc_mask_gives_a_near_circle() {
        let (w, h) = (640u32, 480u32);
        let mut m = vec![0u8; (w * h) as usize];
        let r = 150.0;
        disc(&mut m, w, 320.0, 240.0, r);
        let s = silhouette_from_mask(&m, w, h, &SilhouetteParams::default()).expect("sized");
        assert_eq!(s.outlines.len(), 1);
        assert!(!s.pieces.is_empty());
        let area = std::f32::consts::PI * r * r;
        assert!((s.area() - area).abs() / area < 0.03, "area {}", s.area());
        for p in &s.outlines[0] {
            let d = ((p[0] - 320.0).powi(2) + (p[1] - 240.0).powi(2)).sqrt();
            assert!((d - r).abs() / r < 0.04, "radius {d}");
        }
        let params = SilhouetteParams::default();
        assert!(
            s.pieces
                .iter()
                .all(|p| p.len() >= 3 && p.len() <= params.max_piece_vertices)
        );
    }

    #[test]
    fn two_blobs_give_two_separate_groups() {
        let (w, h) = (320u32, 240u32);
        let mut m = vec![0u8; (w * h) as usize];
        disc(&mut m, w, 80.0, 120.0, 50.0);
        disc(&mut m, w, 240.0, 120.0, 50.0);
        let s = silhouette_from_mask(&m, w, h, &SilhouetteParams::default()).expect("sized");
        assert_eq!(s.outlines.len(), 2);
        let groups: std::collections::BTreeSet<usize> = s.piece_outline.iter().copied().collect();
        assert_eq!(groups.len(), 2);
        for (piece, &g) in s.pieces.iter().zip(&s.piece_outline) {
            let cx = piece.iter().map(|p| p[0]).sum::<f32>() / piece.len() as f32;
            let left = s.outlines[g].iter().all(|p| p[0] < 160.0);
            assert_eq!(cx < 160.0, left, "piece sits in its own blob");
        }
    }

    #[test]
    fn a_ring_keeps_its_outer_hull_and_fills_the_hole() {
        let (w, h) = (200u32, 200u32);
        let mut m = vec![0u8; (w * h) as usize];
        disc(&mut m, w, 100.0, 100.0, 80.0);
        let mut hole = vec![0u8; (w * h) as usize];
        disc(&mut hole, w, 100.0, 100.0, 40.0);
        for (v, hv) in m.iter_mut().zip(&hole) {
            if *hv == 255 {
                *v = 0;
            }
        }
        let s = silhouette_from_mask(&m, w, h, &SilhouetteParams::default()).expect("sized");
        assert_eq!(s.outlines.len(), 1, "only the outer boundary");
        let full = std::f32::consts::PI * 80.0 * 80.0;
        assert!(
            (s.area() - full).abs() / full < 0.04,
            "hole filled: {}",
            s.area()
        );
    }

    #[test]
    fn an_empty_mask_gives_no_pieces() {
        let m = vec![0u8; 64 * 48];
        let s = silhouette_from_mask(&m, 64, 48, &SilhouetteParams::default()).expect("sized");
        assert!(s.is_empty());
        assert!(s.outlines.is_empty());
        let s = silhouette_from_mask(&[], 0, 0, &SilhouetteParams::default()).expect("sized");
        assert!(s.is_empty());
    }

    #[test]
    fn noise_specks_are_ignored() {
        let (w, h) = (640u32, 480u32);
        let mut m = vec![0u8; (w * h) as usize];
        disc(&mut m, w, 320.0, 240.0, 100.0);
        // Scattered single pixels and 3x3 specks.
        for k in 0..200u32 {
            let x = (k * 97) % w;
            let y = (k * 61) % h;
            for dy in 0..3 {
                for dx in 0..3 {
                    let (xx, yy) = ((x + dx).min(w - 1), (y + dy).min(h - 1));
                    m[(yy * w + xx) as usize] = 255;
                }
            }
        }
        let s = silhouette_from_mask(&m, w, h, &SilhouetteParams::default()).expect("sized");
        assert_eq!(s.outlines.len(), 1, "{:?}", s.outlines.len());
    }

    #[test]
    fn outlines_alone_rebuild_the_same_pieces() {
        let (w, h) = (320u32, 240u32);
        let mut m = vec![0u8; (w * h) as usize];
        disc(&mut m, w, 80.0, 120.0, 50.0);
        disc(&mut m, w, 240.0, 120.0, 40.0);
        let params = SilhouetteParams::default();
        let s = silhouette_from_mask(&m, w, h, &params).expect("sized");
        let wire = serde_json::to_string(&s.outlines).expect("serialises");
        let outlines: Vec<Vec<[f32; 2]>> = serde_json::from_str(&wire).expect("parses");
        let rebuilt = Silhouette::from_outlines(&outlines, w, h, &params);
        assert_eq!(rebuilt, s);
        let junk = vec![
            vec![[f32::NAN, 0.0], [1.0, 1.0], [2.0, 0.0]],
            vec![[0.0, 0.0]],
        ];
        assert!(Silhouette::from_outlines(&junk, w, h, &params).is_empty());
        let dense: Vec<[f32; 2]> = (0..500)
            .map(|i| {
                let a = i as f32 / 500.0 * std::f32::consts::TAU;
                [160.0 + 100.0 * a.cos(), 120.0 + 100.0 * a.sin()]
            })
            .collect();
        let fine = Silhouette::from_outlines(&[dense], w, h, &params);
        assert_eq!(fine.outlines.len(), 1);
        assert!(fine.outlines[0].len() <= params.max_outline_vertices);
    }

    #[test]
    fn a_wrong_mask_size_is_an_error() {
        let err = silhouette_from_mask(&[0u8; 10], 4, 4, &SilhouetteParams::default());
        assert!(matches!(
            err,
            Err(BodiesError::MaskSizeMismatch { expected: 16, .. })
        ));
    }

    #[test]
    fn world_pieces_are_counter_clockwise_and_placed() {
        let (w, h) = (100u32, 100u32);
        let mut m = vec![0u8; (w * h) as usize];
        disc(&mut m, w, 50.0, 50.0, 30.0);
        let s = silhouette_from_mask(&m, w, h, &SilhouetteParams::default()).expect("sized");
        for mirrored in [false, true] {
            let p = Placement {
                x: 200.0,
                y: -300.0,
                scale: 2.0,
                z: 0,
                mirrored,
            };
            let world = s.to_world(&p);
            for piece in &world {
                assert!(contour::signed_area(piece) > 0.0);
                for q in piece {
                    assert!(q[0] > 200.0 - 70.0 && q[0] < 200.0 + 70.0);
                    assert!(q[1] > -300.0 + 30.0 && q[1] < -300.0 + 170.0);
                }
            }
        }
    }
}
