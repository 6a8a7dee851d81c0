//! Automatic placement (pure): people stand on the floor line, spread across the
//! scene without overlapping, scaled so that their heads come out the same size
//! (the head's height is read from the mask's head-and-shoulders profile), whether
//! the camera framed them close up or from afar.

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
    /// Lowest person row (the feet, or the frame's last row where it cuts the body).
    pub bottom: u32,
    /// Column of the top of the head: the middle of the widest run of person pixels
    /// in the topmost row (a raised hand beside the head is a run of its own).
    pub crown: f32,
    /// Leftmost person column.
    pub left: u32,
    /// Rightmost person column (inclusive).
    pub right: u32,
    /// Size of the head in pixels (crown to neck), where the mask shows one above
    /// shoulders ([`head_size`]).
    pub head: Option<f32>,
}

/// The size in pixels of the head in a person mask (alpha ≥ 128, `width` pixels
/// a row): its height from the crown to the neck, read from the
/// head-and-shoulders profile. Going down from the top of the head, the run of
/// person pixels under the head's centre widens to the head's width, narrows at
/// the jaw and neck, and widens again at the shoulders; the neck is the narrowest
/// run once a whole head (nine tenths of its width) lies above, before the run
/// grows a fifth wider than it. The height measures better than the width, which
/// big hair or ears inflate: in a close-up, a half-body and a full-body photo,
/// crown-to-chin was 1.16–1.28 times this height but 1.06–1.27 times the width. `None` when the mask shows no such profile (nobody, or a head cut off
/// before its widest point).
pub fn head_size(mask: &[u8], width: u32, height: u32) -> Option<f32> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || mask.len() != w * h {
        return None;
    }
    let min_run = (w / 100).max(2);
    // The run of person pixels through column `x` in row `y`.
    let run = |y: usize, x: usize| -> Option<(usize, usize)> {
        let row = &mask[y * w..(y + 1) * w];
        if row.get(x).is_none_or(|&a| a < 128) {
            return None;
        }
        let left = row[..x].iter().rposition(|&a| a < 128).map_or(0, |i| i + 1);
        let right = row[x..].iter().position(|&a| a < 128).map_or(w, |i| x + i);
        Some((left, right))
    };
    let top = (0..h).find(|&y| {
        mask[y * w..(y + 1) * w]
            .iter()
            .filter(|&&a| a >= 128)
            .count()
            >= min_run
    })?;
    // The head's centre: the middle of the longest run of person pixels in the top
    // row (a raised hand beside the head is a run of its own).
    let mut centre = 0;
    let mut longest = 0;
    let mut x = 0;
    while x < w {
        match run(top, x) {
            Some((left, right)) => {
                if right - left > longest {
                    (longest, centre) = (right - left, (left + right) / 2);
                }
                x = right + 1;
            }
            None => x += 1,
        }
    }
    let mut widest = 0usize;
    // Whether the rows down to `y` cover a whole head of the widest width so far.
    let whole_head = |y: usize, widest: usize| widest > 0 && (y - top) * 10 > widest * 9;
    // Past a whole head: the narrowest run so far and its row (the neck, or the
    // jaw over a collar).
    let mut neck: Option<(usize, usize)> = None;
    let size = |neck: Option<(usize, usize)>, y: usize| {
        let row = neck.map_or(y, |(_, row)| row);
        Some((row - top) as f32)
    };
    for y in top..h {
        let Some((left, right)) = run(y, centre) else {
            // A hole under the head's centre (a dark collar the model left out).
            return if neck.is_some() || whole_head(y, widest) {
                size(neck, y)
            } else {
                None
            };
        };
        let span = right - left;
        // A head is about 1.3 widths tall, so a jump this far down is the
        // shoulders; a fifth wider than the neck, shoulders that widen gradually
        // (a coat's collar, a far person's small head). The head ended above.
        let shoulders = span > widest * 3 / 2 && whole_head(y, widest);
        if shoulders || neck.is_some_and(|(narrowest, _)| span * 5 > narrowest * 6) {
            return size(neck, y);
        }
        match neck {
            Some((narrowest, _)) if span < narrowest => neck = Some((span, y)),
            None if whole_head(y, widest) => neck = Some((span, y)),
            _ => {}
        }
        widest = widest.max(span);
        centre = (left + right) / 2;
    }
    // The frame ends under the chin.
    if neck.is_some() || whole_head(h, widest) {
        size(neck, h)
    } else {
        None
    }
}

/// The middle of the widest run of person pixels (alpha ≥ 128) in a row.
fn widest_run_centre(row: &[u8]) -> f32 {
    let (mut best, mut centre) = (0usize, 0.0);
    let mut start = None;
    for (x, &a) in row.iter().chain(std::iter::once(&0)).enumerate() {
        match (a >= 128, start) {
            (true, None) => start = Some(x),
            (false, Some(s)) => {
                if x - s > best {
                    (best, centre) = (x - s, (s + x) as f32 / 2.0);
                }
                start = None;
            }
            _ => {}
        }
    }
    centre
}

/// The person's bounding box in a mask (alpha ≥ 128, rows with at least a few
/// person pixels), or `None` when the mask is empty.
pub fn person_extent(mask: &[u8], width: u32, height: u32) -> Option<Extent> {
    let (w, h) = (width as usize, height as usize);
    let min_run = (w / 100).max(2);
    let (mut top, mut bottom, mut left, mut right) = (None, 0usize, w, 0usize);
    let mut crown = 0.0;
    for y in 0..h {
        let row = &mask[y * w..(y + 1) * w];
        let count = row.iter().filter(|&&a| a >= 128).count();
        if count < min_run {
            continue;
        }
        if top.is_none() {
            top = Some(y);
            crown = widest_run_centre(row);
        }
        bottom = y;
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
        bottom: bottom as u32,
        crown,
        left: left as u32,
        right: right as u32,
        head: head_size(mask, width, height),
    })
}

/// Arrangement settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArrangeParams {
    /// Height of the floor line (world units).
    pub floor_y: f32,
    /// How tall a person (bottom of frame to top of head) should appear when the
    /// mask shows no head to measure.
    pub person_height: f32,
    /// The tallest a person may appear (bottom of frame to top of head), so that
    /// someone filmed from head to toe still fits the scene.
    pub max_height: f32,
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
            max_height: 620.0,
            margin: 40.0,
            gap: 16.0,
        }
    }
}

/// The measured head size of `e`, if it is large enough to trust.
fn measured_head(e: &Extent) -> Option<f32> {
    e.head.filter(|&w| w >= 4.0)
}

/// The head size (world units) everyone is given: the room's typical head when
/// each person is shown `params.person_height` tall (the lower median), made smaller
/// where that would make someone filmed from further away (more of their body in
/// the frame) taller than `params.max_height`. `None` when no head was measured.
pub fn head_target(extents: &[Extent], params: &ArrangeParams) -> Option<f32> {
    let visible = |e: &Extent| (e.frame_h - e.top).max(1) as f32;
    let mut natural: Vec<f32> = extents
        .iter()
        .filter_map(|e| measured_head(e).map(|h| h * params.person_height / visible(e)))
        .collect();
    if natural.is_empty() {
        return None;
    }
    natural.sort_by(f32::total_cmp);
    // The lower median: in a room of two, nobody is blown up.
    let typical = natural[(natural.len() - 1) / 2];
    let fits = extents
        .iter()
        .filter_map(|e| measured_head(e).map(|h| h * params.max_height / visible(e)))
        .fold(f32::MAX, f32::min);
    Some(typical.min(fits))
}

/// Scale that gives a person's head the size `target` (see [`head_target`]),
/// or makes them `params.person_height` tall where their mask shows no head to
/// measure.
pub fn head_scale(e: &Extent, params: &ArrangeParams, target: Option<f32>) -> f32 {
    let visible = (e.frame_h - e.top).max(1) as f32;
    let scale = match (measured_head(e), target) {
        (Some(head), Some(target)) => target / head,
        _ => params.person_height / visible,
    };
    scale.clamp(0.05, 4.0)
}

/// Places everyone, left to right in the given order: on the floor (the lowest
/// person row, the feet or the frame's cut, on the floor line), evenly spread,
/// heads at the same height, shrunk together if they would not fit side by side.
pub fn arrange(extents: &[Extent], params: &ArrangeParams, mirrored: &[bool]) -> Vec<Placement> {
    let n = extents.len();
    if n == 0 {
        return Vec::new();
    }
    let usable = SCENE_WIDTH - 2.0 * params.margin;
    let target = head_target(extents, params);
    let mut scales: Vec<f32> = extents
        .iter()
        .map(|e| head_scale(e, params, target))
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
            // Rows under the person (below the feet) hang below the floor line.
            let below_feet = e.frame_h.saturating_sub(e.bottom + 1) as f32 * s;
            Placement {
                x: centre - offset,
                y: params.floor_y - below_feet,
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
            bottom: 479,
            crown: (left + right + 1) as f32 / 2.0,
            left,
            right,
            head: None,
        }
    }

    /// A person's mask in a `w`x`h` frame: a head `head` pixels wide (an ellipse
    /// 1.3 times as tall) whose top is at `top`, a neck, then shoulders three heads
    /// wide and a body down to the frame's bottom edge (or cut off by it).
    fn person(w: usize, h: usize, cx: usize, top: usize, head: usize) -> Vec<u8> {
        let mut m = vec![0u8; w * h];
        let (a, b) = (head as f32 / 2.0, head as f32 * 0.65);
        let cy = top as f32 + b;
        let neck_top = top + (2.0 * b) as usize - head / 10;
        let shoulders = neck_top + head * 3 / 10;
        for y in top..h {
            let half = if (y as f32) < cy + b {
                let dy = (y as f32 + 0.5 - cy) / b;
                if y >= neck_top {
                    (head as f32 * 0.22).max(a * (1.0 - dy * dy).max(0.0).sqrt())
                } else {
                    a * (1.0 - dy * dy).max(0.0).sqrt()
                }
            } else if y < shoulders {
                head as f32 * 0.22
            } else {
                let k = ((y - shoulders) as f32 / (head as f32 * 0.5)).min(1.0);
                head as f32 * (0.22 + k * 1.28)
            };
            fill_row(&mut m, w, y, cx, half);
        }
        m
    }

    /// Sets row `y` of a `w`-wide mask from `cx - half` to `cx + half` (clipped).
    fn fill_row(m: &mut [u8], w: usize, y: usize, cx: usize, half: f32) {
        let (l, r) = (
            (cx as f32 - half).max(0.0),
            (cx as f32 + half).min(w as f32),
        );
        for x in l as usize..r as usize {
            m[y * w + x] = 255;
        }
    }

    #[test]
    fn the_head_is_measured_above_the_shoulders_at_any_framing() {
        // A close-up (head 230 px wide, cut at the chest), a half body and a far,
        // full body (head 46 px), off centre. The neck begins 1.2 heads under the
        // crown and is narrowest 1.24 heads under it.
        for (cx, top, head) in [(320, 30, 230), (300, 60, 120), (400, 40, 46)] {
            let m = person(640, 480, cx, top, head);
            let measured = head_size(&m, 640, 480).expect("a head");
            let expected = 1.22 * head as f32;
            assert!(
                (measured - expected).abs() <= expected * 0.04,
                "head {head}: measured {measured}, expected {expected}"
            );
        }
        assert_eq!(head_size(&[0u8; 64 * 48], 64, 48), None, "nobody");
    }

    /// A far person in a high collar: a head `head` pixels wide (an ellipse 1.3
    /// times as tall, its crown cut by the frame's top edge) down to where it is
    /// nine tenths as wide, a collar as wide for a tenth of a head, then shoulders
    /// that widen two pixels a row: no neck, and no jump at the shoulders.
    fn collared(w: usize, h: usize, cx: usize, head: usize) -> Vec<u8> {
        let mut m = vec![0u8; w * h];
        let (a, b) = (head as f32 / 2.0, head as f32 * 0.65);
        let cy = b - head as f32 * 0.1;
        let chin = cy + b * 0.44;
        let collar = chin + head as f32 * 0.1;
        for y in 0..h {
            let yf = y as f32 + 0.5;
            let half = if yf < chin {
                let dy = (yf - cy) / b;
                a * (1.0 - dy * dy).max(0.0).sqrt()
            } else {
                (a * 0.9 + (yf - collar).max(0.0)).min(w as f32 / 2.0)
            };
            fill_row(&mut m, w, y, cx, half);
        }
        m
    }

    #[test]
    fn a_head_over_gradually_widening_shoulders_is_not_the_shoulders() {
        // A full body filmed from afar (a 188x480 portrait, head 58 px wide) and a
        // close-up: the run under the head never narrows to a neck nor jumps at
        // the shoulders; the head ends at the collar, 0.9 heads under the frame's top.
        for (w, cx, head) in [(188, 90, 58), (640, 300, 180)] {
            let m = collared(w, 480, cx, head);
            let measured = head_size(&m, w as u32, 480).expect("a head");
            let expected = 0.9 * head as f32;
            assert!(
                (measured - expected).abs() <= 0.08 * head as f32,
                "head {head}: measured {measured}, expected {expected}"
            );
        }
    }

    #[test]
    fn heads_come_out_the_same_size_however_the_camera_framed_people() {
        let params = ArrangeParams::default();
        let framed = [(320, 30, 230), (300, 60, 120), (400, 40, 46)];
        let extents: Vec<Extent> = framed
            .iter()
            .map(|&(cx, top, head)| person_extent(&person(640, 480, cx, top, head), 640, 480))
            .collect::<Option<_>>()
            .expect("people");
        let placed = arrange(&extents, &params, &[]);
        let heads: Vec<f32> = placed
            .iter()
            .zip(&framed)
            .map(|(p, &(_, _, head))| p.scale * head as f32)
            .collect();
        // Each head within 10% of the room's mean (the measurement's own error
        // included: the profile is read from pixels).
        let mean = heads.iter().sum::<f32>() / heads.len() as f32;
        assert!(
            heads.iter().all(|h| (h - mean).abs() <= 0.1 * mean),
            "head sizes {heads:?}"
        );
        for (p, e) in placed.iter().zip(&extents) {
            let tall = (e.frame_h - e.top) as f32 * p.scale;
            assert!(tall <= params.max_height + 1e-3, "{tall}");
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
        assert_eq!((e.top, e.bottom, e.left, e.right), (10, 49, 20, 59));
        assert_eq!(e.crown, 40.0);
        // A raised hand in the top row beside a wider head: the crown is the head's.
        for x in 0..3 {
            m[10 * 100 + x] = 255;
        }
        for y in 5..10 {
            for x in 30..50 {
                m[y * 100 + x] = 255;
            }
            for x in 0..3 {
                m[y * 100 + x] = 255;
            }
        }
        let e = person_extent(&m, 100, 50).expect("person");
        assert_eq!((e.top, e.crown), (5, 40.0));
        assert!(person_extent(&[0u8; 100], 10, 10).is_none());
    }

    #[test]
    fn feet_inside_the_frame_stand_on_the_floor_line() {
        let params = ArrangeParams::default();
        // Someone filmed head to toe: their feet are 80 rows above the frame's bottom.
        let full = Extent {
            bottom: 399,
            ..ext(60, 250, 390)
        };
        let cut = ext(40, 200, 440);
        let ps = arrange(&[full, cut], &params, &[]);
        let feet = ps[0].cutout_to_world(320.0, 400.0, 640, 480)[1];
        assert!((feet - params.floor_y).abs() < 1e-3, "feet at {feet}");
        // The one cut by the frame stands on it with the frame's bottom.
        assert_eq!(ps[1].y, params.floor_y);
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
            assert!(w[0].1 <= w[1].0 + 1e-3, "overlap {w:?}");
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
        assert!(ps[0].scale < head_scale(&es[0], &ArrangeParams::default(), None));
    }
}
