//! Automatic placement (pure): people stand on the floor line, spread across the
//! scene without overlapping, scaled so their heads come out at similar heights.

use super::placement::{Placement, SCENE_WIDTH};

/// What arrangement needs to know about one participant's current cutout.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extent {
    /// Cutout frame width in pixels.
    pub frame_w: u32,
    /// Cutout frame height in pixels.
    pub frame_h: u32,
    /// Topmost person row (the top of the head), in pixels from the top.
    pub top: u32,
    /// Leftmost person column.
    pub left: u32,
    /// Rightmost person column (inclusive).
    pub right: u32,
}

/// The person's bounding box in a mask (alpha ≥ 128, rows with at least a few
/// person pixels), or `None` when the mask is empty.
pub fn person_extent(mask: &[u8], width: u32, height: u32) -> Option<Extent> {
    let (w, h) = (width as usize, height as usize);
    let min_run = (w / 100).max(2);
    let (mut top, mut left, mut right) = (None, w, 0usize);
    for y in 0..h {
        let row = &mask[y * w..(y + 1) * w];
        let count = row.iter().filter(|&&a| a >= 128).count();
        if count < min_run {
            continue;
        }
        top.get_or_insert(y);
        if let Some(l) = row.iter().position(|&a| a >= 128) {
            left = left.min(l);
        }
        if let Some(r) = row.iter().rposition(|&a| a >= 128) {
            right = right.max(r);
        }
    }
    top.map(|t| Extent {
        frame_w: width,
        frame_h: height,
        top: t as u32,
        left: left as u32,
        right: right as u32,
    })
}

/// Arrangement settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArrangeParams {
    /// Height of the floor line (world units).
    pub floor_y: f32,
    /// How tall a person (bottom of frame to top of head) should appear.
    pub person_height: f32,
    /// Free space kept at each side of the scene.
    pub margin: f32,
    /// Minimum gap between two people.
    pub gap: f32,
}

impl Default for ArrangeParams {
    fn default() -> Self {
        Self {
            floor_y: -300.0,
            person_height: 380.0,
            margin: 40.0,
            gap: 16.0,
        }
    }
}

/// Scale that makes a person `params.person_height` tall.
pub fn head_scale(e: &Extent, person_height: f32) -> f32 {
    let visible = (e.frame_h - e.top).max(1) as f32;
    (person_height / visible).clamp(0.15, 4.0)
}

/// Places everyone, left to right in the given order: on the floor, evenly spread,
/// heads at the same height, shrunk together if they would not fit side by side.
pub fn arrange(extents: &[Extent], params: &ArrangeParams, mirrored: &[bool]) -> Vec<Placement> {
    let n = extents.len();
    if n == 0 {
        return Vec::new();
    }
    let usable = SCENE_WIDTH - 2.0 * params.margin;
    let mut scales: Vec<f32> = extents
        .iter()
        .map(|e| head_scale(e, params.person_height))
        .collect();
    let widths = |scales: &[f32]| -> f32 {
        extents
            .iter()
            .zip(scales)
            .map(|(e, s)| (e.right + 1 - e.left) as f32 * s)
            .sum::<f32>()
    };
    let needed = widths(&scales) + params.gap * (n as f32 - 1.0);
    if needed > usable {
        let k = (usable - params.gap * (n as f32 - 1.0)).max(1.0) / widths(&scales);
        for s in &mut scales {
            *s *= k;
        }
    }
    // Spread the people's boxes evenly: equal free space between and around them.
    let total = widths(&scales);
    let free = (usable - total) / (n as f32 + 1.0);
    let mut cursor = -usable / 2.0 + free.max(0.0);
    extents
        .iter()
        .zip(&scales)
        .enumerate()
        .map(|(i, (e, &s))| {
            let mirror = mirrored.get(i).copied().unwrap_or(false);
            let person_w = (e.right + 1 - e.left) as f32 * s;
            let centre = cursor + person_w / 2.0;
            cursor += person_w + free.max(params.gap.min(free.max(0.0)));
            // Offset of the person's box centre from the frame centre, in world units.
            let mid = (e.left + e.right + 1) as f32 / 2.0 - e.frame_w as f32 / 2.0;
            let offset = mid * s * if mirror { -1.0 } else { 1.0 };
            Placement {
                x: centre - offset,
                y: params.floor_y,
                scale: s,
                z: i as i32,
                mirrored: mirror,
            }
        })
        .collect()
}

/// The person's box in world units: (left, right, top).
pub fn person_box(p: &Placement, e: &Extent) -> (f32, f32, f32) {
    let a = p.cutout_to_world(e.left as f32, e.top as f32, e.frame_w, e.frame_h);
    let b = p.cutout_to_world((e.right + 1) as f32, e.frame_h as f32, e.frame_w, e.frame_h);
    (a[0].min(b[0]), a[0].max(b[0]), a[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(top: u32, left: u32, right: u32) -> Extent {
        Extent {
            frame_w: 640,
            frame_h: 480,
            top,
            left,
            right,
        }
    }

    #[test]
    fn extent_of_a_mask_box() {
        let mut m = vec![0u8; 100 * 50];
        for y in 10..50 {
            for x in 20..60 {
                m[y * 100 + x] = 255;
            }
        }
        let e = person_extent(&m, 100, 50).expect("person");
        assert_eq!((e.top, e.left, e.right), (10, 20, 59));
        assert!(person_extent(&[0u8; 100], 10, 10).is_none());
    }

    #[test]
    fn people_stand_on_the_floor_without_overlap() {
        let es = [
            ext(40, 100, 540),
            ext(120, 200, 440),
            ext(60, 0, 639),
            ext(30, 150, 500),
        ];
        let params = ArrangeParams::default();
        let ps = arrange(&es, &params, &[false, true, false, false]);
        assert_eq!(ps.len(), 4);
        let mut boxes: Vec<(f32, f32, f32)> =
            ps.iter().zip(&es).map(|(p, e)| person_box(p, e)).collect();
        for p in &ps {
            assert_eq!(p.y, params.floor_y);
        }
        boxes.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in boxes.windows(2) {
            assert!(w[0].1 <= w[1].0 + 1e-3, "overlap {:?}", w);
        }
        for b in &boxes {
            assert!(
                b.0 >= -SCENE_WIDTH / 2.0 - 1e-3 && b.1 <= SCENE_WIDTH / 2.0 + 1e-3,
                "{b:?} off screen"
            );
        }
    }

    #[test]
    fn heads_come_out_at_similar_heights() {
        let es = [ext(40, 200, 440), ext(200, 250, 390)];
        let ps = arrange(&es, &ArrangeParams::default(), &[]);
        let tops: Vec<f32> = ps
            .iter()
            .zip(&es)
            .map(|(p, e)| person_box(p, e).2)
            .collect();
        assert!((tops[0] - tops[1]).abs() < 1.0, "{tops:?}");
        assert!(ps[1].scale > ps[0].scale);
    }

    #[test]
    fn a_crowd_is_shrunk_to_fit() {
        let es = vec![ext(20, 0, 639); 8];
        let ps = arrange(&es, &ArrangeParams::default(), &[]);
        let boxes: Vec<_> = ps.iter().zip(&es).map(|(p, e)| person_box(p, e)).collect();
        assert!(boxes.iter().all(|b| b.1 - b.0 < SCENE_WIDTH / 8.0));
        assert!(ps[0].scale < head_scale(&es[0], 380.0));
    }
}
