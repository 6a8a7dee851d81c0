//! Simple polygon → convex pieces: ear-clipping triangulation, then a
//! Hertel–Mehlhorn merge that removes diagonals while the union stays convex
//! (at most four times the optimal piece count) and under a vertex bound.
//!
//! Pure geometry on `[f32; 2]` points; either orientation is accepted and the
//! pieces come out with a positive [`signed_area`].

use super::contour::signed_area;

/// Cross product of `b - a` and `c - b` (positive for a left turn with y up).
fn turn(a: [f32; 2], b: [f32; 2], c: [f32; 2]) -> f32 {
    (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])
}

/// Whether `p` lies inside or on the counter-clockwise triangle `a b c`.
fn in_triangle(p: [f32; 2], a: [f32; 2], b: [f32; 2], c: [f32; 2]) -> bool {
    let d1 = turn(a, b, p);
    let d2 = turn(b, c, p);
    let d3 = turn(c, a, p);
    d1 >= 0.0 && d2 >= 0.0 && d3 >= 0.0
}

/// Triangulates a simple polygon by ear clipping. Returns index triples into
/// `poly`, each with a positive orientation. Degenerate input (self-touching
/// after simplification, collinear runs) never loops forever: when no ear is
/// found the flattest vertex is dropped.
pub fn triangulate(poly: &[[f32; 2]]) -> Vec<[usize; 3]> {
    let n = poly.len();
    if n < 3 {
        return Vec::new();
    }
    let mut idx: Vec<usize> = (0..n).collect();
    if signed_area(poly) < 0.0 {
        idx.reverse();
    }
    let scale = bbox_diag(poly).max(1e-3);
    let eps = 1e-7 * scale * scale;
    let mut tris = Vec::with_capacity(n - 2);
    let mut start = 0usize;
    while idx.len() > 3 {
        let m = idx.len();
        let mut clipped = false;
        for step in 0..m {
            let i = (start + step) % m;
            let (ia, ib, ic) = (idx[(i + m - 1) % m], idx[i], idx[(i + 1) % m]);
            let (a, b, c) = (poly[ia], poly[ib], poly[ic]);
            if turn(a, b, c) <= eps {
                continue;
            }
            let blocked = idx.iter().any(|&j| {
                j != ia
                    && j != ib
                    && j != ic
                    && poly[j] != a
                    && poly[j] != b
                    && poly[j] != c
                    && in_triangle(poly[j], a, b, c)
            });
            if !blocked {
                tris.push([ia, ib, ic]);
                idx.remove(i);
                start = i % idx.len();
                clipped = true;
                break;
            }
        }
        if !clipped {
            // No ear: drop the vertex with the flattest turn (a degenerate spike).
            let Some(i) = (0..m).min_by(|&x, &y| {
                let tx = turn(
                    poly[idx[(x + m - 1) % m]],
                    poly[idx[x]],
                    poly[idx[(x + 1) % m]],
                );
                let ty = turn(
                    poly[idx[(y + m - 1) % m]],
                    poly[idx[y]],
                    poly[idx[(y + 1) % m]],
                );
                tx.abs().total_cmp(&ty.abs())
            }) else {
                break;
            };
            idx.remove(i);
            start = 0;
        }
    }
    if idx.len() == 3 && turn(poly[idx[0]], poly[idx[1]], poly[idx[2]]) > eps {
        tris.push([idx[0], idx[1], idx[2]]);
    }
    tris
}

fn bbox_diag(poly: &[[f32; 2]]) -> f32 {
    let mut lo = [f32::MAX; 2];
    let mut hi = [f32::MIN; 2];
    for p in poly {
        lo[0] = lo[0].min(p[0]);
        lo[1] = lo[1].min(p[1]);
        hi[0] = hi[0].max(p[0]);
        hi[1] = hi[1].max(p[1]);
    }
    ((hi[0] - lo[0]).powi(2) + (hi[1] - lo[1]).powi(2)).sqrt()
}

/// Whether the closed polygon (given by indices into `poly`) is convex with a
/// positive orientation; collinear vertices are allowed.
fn is_convex(poly: &[[f32; 2]], piece: &[usize], eps: f32) -> bool {
    let m = piece.len();
    (0..m).all(|k| {
        turn(
            poly[piece[k]],
            poly[piece[(k + 1) % m]],
            poly[piece[(k + 2) % m]],
        ) >= -eps
    })
}

/// Splits a simple polygon into convex pieces of at most `max_vertices`
/// vertices each (minimum 3). Pieces are returned as point lists with a
/// positive orientation, ordered as the merge produced them.
pub fn convex_pieces(poly: &[[f32; 2]], max_vertices: usize) -> Vec<Vec<[f32; 2]>> {
    let max_vertices = max_vertices.max(3);
    let tris = triangulate(poly);
    if tris.is_empty() {
        return Vec::new();
    }
    let scale = bbox_diag(poly).max(1e-3);
    let eps = 1e-6 * scale * scale;

    // Diagonals: edges shared by two triangles.
    let mut edges: Vec<((usize, usize), usize)> = Vec::with_capacity(tris.len() * 3);
    for (t, tri) in tris.iter().enumerate() {
        for k in 0..3 {
            let (a, b) = (tri[k], tri[(k + 1) % 3]);
            edges.push(((a.min(b), a.max(b)), t));
        }
    }
    edges.sort_unstable();
    let mut diagonals: Vec<(usize, usize, usize, usize)> = edges
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| (w[0].0.0, w[0].0.1, w[0].1, w[1].1))
        .collect();
    // Remove long diagonals first: they tend to split the polygon into slivers.
    let len2 = |a: usize, b: usize| {
        let (p, q) = (poly[a], poly[b]);
        (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)
    };
    diagonals.sort_by(|x, y| {
        len2(y.0, y.1)
            .total_cmp(&len2(x.0, x.1))
            .then((x.0, x.1).cmp(&(y.0, y.1)))
    });

    let mut pieces: Vec<Option<Vec<usize>>> = tris.iter().map(|t| Some(t.to_vec())).collect();
    let mut owner: Vec<usize> = (0..tris.len()).collect();
    let find = |owner: &Vec<usize>, mut t: usize| {
        while owner[t] != t {
            t = owner[t];
        }
        t
    };
    for (a, b, t1, t2) in diagonals {
        let p = find(&owner, t1);
        let q = find(&owner, t2);
        if p == q {
            continue;
        }
        let (Some(pp), Some(qq)) = (pieces[p].as_ref(), pieces[q].as_ref()) else {
            continue;
        };
        if pp.len() + qq.len() - 2 > max_vertices {
            continue;
        }
        let Some(merged) = merge_along(pp, qq, a, b) else {
            continue;
        };
        if is_convex(poly, &merged, eps) {
            pieces[p] = Some(merged);
            pieces[q] = None;
            owner[q] = p;
        }
    }
    pieces
        .into_iter()
        .flatten()
        .map(|piece| piece.into_iter().map(|i| poly[i]).collect())
        .collect()
}

/// Joins two positively oriented pieces sharing the edge `{a, b}` (consecutive in
/// both, opposite directions) into one positively oriented polygon.
fn merge_along(p: &[usize], q: &[usize], a: usize, b: usize) -> Option<Vec<usize>> {
    let m = p.len();
    // Find u → v consecutive in p where {u, v} = {a, b}.
    let k = (0..m).find(|&k| {
        let (u, v) = (p[k], p[(k + 1) % m]);
        (u == a && v == b) || (u == b && v == a)
    })?;
    let (u, v) = (p[k], p[(k + 1) % m]);
    // p rotated to run v … u, q rotated to run u … v.
    let p_rot: Vec<usize> = (0..m).map(|i| p[(k + 1 + i) % m]).collect();
    let qs = q.iter().position(|&x| x == u)?;
    let n = q.len();
    let q_rot: Vec<usize> = (0..n).map(|i| q[(qs + i) % n]).collect();
    if q_rot.last() != Some(&v) {
        return None;
    }
    let mut out = p_rot;
    out.extend_from_slice(&q_rot[1..n - 1]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area_sum(pieces: &[Vec<[f32; 2]>]) -> f32 {
        pieces.iter().map(|p| signed_area(p)).sum()
    }

    #[test]
    fn a_convex_polygon_stays_one_piece() {
        let sq = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]];
        let pieces = convex_pieces(&sq, 8);
        assert_eq!(pieces.len(), 1);
        assert!((area_sum(&pieces) - 16.0).abs() < 1e-4);
    }

    #[test]
    fn an_l_shape_splits_into_two_convex_pieces_covering_its_area() {
        // Clockwise on purpose: either orientation is accepted.
        let l = [
            [0.0, 0.0],
            [0.0, 4.0],
            [1.0, 4.0],
            [1.0, 1.0],
            [4.0, 1.0],
            [4.0, 0.0],
        ];
        let pieces = convex_pieces(&l, 8);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert!((area_sum(&pieces) - 7.0).abs() < 1e-4);
        for p in &pieces {
            assert!(signed_area(p) > 0.0);
        }
    }

    #[test]
    fn pieces_respect_the_vertex_bound() {
        let circle: Vec<[f32; 2]> = (0..40)
            .map(|i| {
                let a = i as f32 / 40.0 * std::f32::consts::TAU;
                [a.cos() * 10.0, a.sin() * 10.0]
            })
            .collect();
        let pieces = convex_pieces(&circle, 6);
        assert!(pieces.iter().all(|p| p.len() <= 6));
        let expected = signed_area(&circle);
        assert!((area_sum(&pieces) - expected).abs() / expected < 1e-3);
    }

    #[test]
    fn a_comb_triangulates_into_n_minus_two_triangles() {
        let mut comb = vec![[0.0, 0.0], [10.0, 0.0]];
        for i in (0..5).rev() {
            let x = i as f32 * 2.0;
            comb.push([x + 2.0, 5.0]);
            comb.push([x + 1.0, 1.0]);
        }
        comb.pop();
        comb.push([0.0, 5.0]);
        let tris = triangulate(&comb);
        assert_eq!(tris.len(), comb.len() - 2);
        let total: f32 = tris
            .iter()
            .map(|t| signed_area(&[comb[t[0]], comb[t[1]], comb[t[2]]]))
            .sum();
        assert!((total - signed_area(&comb).abs()).abs() < 1e-3);
    }
}
