//! How a person is set into the scene (pure): which edges of their camera frame
//! cut through them (those edges fade out instead of ending in a straight line),
//! the soft contact shadow on the floor under them, and where their name tag goes.

use super::placement::{SCENE_HEIGHT, SCENE_WIDTH};

/// The edges of a cutout's frame that the person touches (the camera cut them there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CutEdges {
    /// The left column has person pixels.
    pub left: bool,
    /// The right column has person pixels.
    pub right: bool,
    /// The top row has person pixels.
    pub top: bool,
    /// The bottom row has person pixels (the usual cut, at the chest or waist).
    pub bottom: bool,
}

/// Fraction of the frame's height over which a cut at the bottom fades out.
pub const BOTTOM_FADE: f32 = 0.14;
/// Fraction of the frame's width over which a cut at a side fades out.
pub const SIDE_FADE: f32 = 0.05;
/// Fraction of the frame's height over which a cut at the top fades out.
pub const TOP_FADE: f32 = 0.04;

/// Which edges of a `width x height` mask (alpha ≥ 128 is person) the person
/// touches: at least 1% of the edge's pixels (and two) are person.
pub fn cut_edges(mask: &[u8], width: u32, height: u32) -> CutEdges {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || mask.len() != w * h {
        return CutEdges::default();
    }
    let touches = |count: usize, len: usize| count >= (len / 100).max(2);
    let row = |y: usize| {
        mask[y * w..(y + 1) * w]
            .iter()
            .filter(|&&a| a >= 128)
            .count()
    };
    let column = |x: usize| (0..h).filter(|&y| mask[y * w + x] >= 128).count();
    CutEdges {
        left: touches(column(0), h),
        right: touches(column(w - 1), h),
        top: touches(row(0), w),
        bottom: touches(row(h - 1), w),
    }
}

impl CutEdges {
    /// Fade bands as texture fractions, in the shader's order: left, right, top,
    /// bottom (0 where the edge does not cut the person).
    pub fn fade_bands(self) -> [f32; 4] {
        let band = |cut: bool, size: f32| if cut { size } else { 0.0 };
        [
            band(self.left, SIDE_FADE),
            band(self.right, SIDE_FADE),
            band(self.top, TOP_FADE),
            band(self.bottom, BOTTOM_FADE),
        ]
    }
}

/// Where the shadow under a person lies and how big it is (world units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShadowShape {
    /// Centre of the ellipse.
    pub centre: [f32; 2],
    /// Full width and height of the ellipse.
    pub size: [f32; 2],
}

/// The contact shadow of a person whose box spans `left..right` (world units) and
/// who stands on `floor_y`: an ellipse a little wider than the body, flattened by
/// perspective, mostly on the floor just under the floor line.
pub fn contact_shadow(left: f32, right: f32, floor_y: f32) -> ShadowShape {
    let width = (right - left).abs() * 1.15;
    let height = (width * 0.14).clamp(10.0, 60.0);
    ShadowShape {
        // Three quarters on the floor in front, a quarter behind the feet.
        centre: [(left + right) / 2.0, floor_y - height / 4.0],
        size: [width, height],
    }
}

/// Distance kept between the top of a head and the bottom of its name tag.
pub const TAG_GAP: f32 = 10.0;
/// Room kept at the scene's edges for a name tag (half a tag's height and a little).
pub const TAG_MARGIN: f32 = 24.0;

/// Where the bottom centre of a name tag goes for a person the top of whose head
/// is at (`crown`, `top`) (world units): just above the head, kept inside the
/// scene (a head at the top edge gets its tag beside the top, not off screen).
pub fn name_tag_anchor(crown: f32, top: f32, tag_width: f32) -> [f32; 2] {
    let half = tag_width / 2.0;
    let x_min = -SCENE_WIDTH / 2.0 + TAG_MARGIN + half;
    let x_max = SCENE_WIDTH / 2.0 - TAG_MARGIN - half;
    let x = if x_min <= x_max {
        crown.clamp(x_min, x_max)
    } else {
        0.0
    };
    let y = (top + TAG_GAP).min(SCENE_HEIGHT / 2.0 - 2.0 * TAG_MARGIN);
    [x, y]
}

/// Space between a name tag and a mark beside it (the muted badge).
pub const BESIDE_TAG_GAP: f32 = 6.0;

/// Where the centre of a square mark of side `side` goes beside a name tag whose
/// bottom centre is `tag_anchor` and whose size is `tag_size` (world units): left
/// of the tag at its middle height, or right of it when the left would leave the
/// scene. The tag's words stay readable, whatever the mark.
pub fn beside_name_tag(tag_anchor: [f32; 2], tag_size: [f32; 2], side: f32) -> [f32; 2] {
    let [x, bottom] = tag_anchor;
    let [w, h] = tag_size;
    let reach = w / 2.0 + BESIDE_TAG_GAP + side / 2.0;
    let left = x - reach;
    let x = if left - side / 2.0 >= -SCENE_WIDTH / 2.0 {
        left
    } else {
        x + reach
    };
    [x, bottom + h / 2.0]
}

/// The smallest box holding every pixel of an RGBA picture that is not fully
/// transparent, grown by `margin` pixels on each side and kept inside the frame:
/// `[left, top, right, bottom]`, right and bottom exclusive. `None` when nothing
/// shows. Only this part of a cutout is drawn: a software rasteriser shades
/// every pixel of a quad, and the person fills a fraction of their frame.
pub fn drawn_box(rgba: &[u8], width: u32, height: u32, margin: u32) -> Option<[u32; 4]> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || rgba.len() < w * h * 4 {
        return None;
    }
    let rows = rgba[..w * h * 4].chunks_exact(w * 4);
    let shows = |row: &[u8]| row.chunks_exact(4).any(|px| px[3] != 0);
    let top = rows.clone().position(shows)?;
    let bottom = h - 1 - rows.clone().rev().position(shows)?;
    let (mut left, mut right) = (w, 0);
    for row in rows.skip(top).take(bottom + 1 - top) {
        let mut px = row.chunks_exact(4);
        if let Some(l) = px.clone().position(|p| p[3] != 0) {
            left = left.min(l);
        }
        if let Some(r) = px.rposition(|p| p[3] != 0) {
            right = right.max(r);
        }
    }
    let m = margin as usize;
    Some([
        left.saturating_sub(m) as u32,
        top.saturating_sub(m) as u32,
        (right + 1 + m).min(w) as u32,
        (bottom + 1 + m).min(h) as u32,
    ])
}

/// The part of a `width x height` cutout's quad to draw, in the quad's own
/// texture coordinates as shown (u across, v down, after mirroring):
/// `[u0, v0, u1, v1]`. `None` (nothing drawn yet, or an effect that draws
/// outside the person) is the whole quad.
pub fn shown_crop(drawn: Option<[u32; 4]>, width: u32, height: u32, mirrored: bool) -> [f32; 4] {
    let Some([l, t, r, b]) = drawn else {
        return [0.0, 0.0, 1.0, 1.0];
    };
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let (u0, u1) = (l as f32 / w, r as f32 / w);
    let (u0, u1) = if mirrored {
        (1.0 - u1, 1.0 - u0)
    } else {
        (u0, u1)
    };
    [u0, t as f32 / h, u1, b as f32 / h]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_beside_a_tag_does_not_cover_it_and_stays_in_the_scene() {
        let side = 40.0;
        let (size, bottom) = ([80.0, 30.0], 100.0);
        let overlaps = |c: [f32; 2], tag_x: f32| {
            (c[0] - tag_x).abs() < (size[0] + side) / 2.0
                && (c[1] - (bottom + size[1] / 2.0)).abs() < (size[1] + side) / 2.0
        };
        let mid = beside_name_tag([0.0, bottom], size, side);
        assert!(mid[0] < -size[0] / 2.0, "left of the tag: {mid:?}");
        assert!(!overlaps(mid, 0.0));
        assert_eq!(mid[1], bottom + size[1] / 2.0);
        let edge_x = -SCENE_WIDTH / 2.0 + TAG_MARGIN + size[0] / 2.0;
        let edge = beside_name_tag([edge_x, bottom], size, side);
        assert!(
            edge[0] > edge_x,
            "right of a tag at the left edge: {edge:?}"
        );
        assert!(!overlaps(edge, edge_x));
        assert!(edge[0] - side / 2.0 >= -SCENE_WIDTH / 2.0);
    }

    #[test]
    fn a_person_cut_at_the_chest_touches_the_bottom_edge_only() {
        let (w, h) = (64usize, 48usize);
        let mut m = vec![0u8; w * h];
        for y in 10..h {
            for x in 20..44 {
                m[y * w + x] = 255;
            }
        }
        let e = cut_edges(&m, w as u32, h as u32);
        assert_eq!(
            e,
            CutEdges {
                bottom: true,
                ..CutEdges::default()
            }
        );
        assert_eq!(e.fade_bands(), [0.0, 0.0, 0.0, BOTTOM_FADE]);
        // Leaning out of the frame on the left, head cut at the top.
        for y in 0..h {
            m[y * w] = 255;
            m[y * w + 1] = 255;
        }
        m[20..44].fill(255);
        let e = cut_edges(&m, w as u32, h as u32);
        assert!(e.left && e.top && e.bottom && !e.right);
        // A few stray pixels are not a cut; an empty or malformed mask cuts nothing.
        let mut stray = vec![0u8; w * h];
        stray[(h - 1) * w + 5] = 255;
        assert_eq!(cut_edges(&stray, w as u32, h as u32), CutEdges::default());
        assert_eq!(cut_edges(&[1, 2, 3], 2, 2), CutEdges::default());
    }

    #[test]
    fn the_shadow_is_centred_under_the_person_on_the_floor_and_scales_with_them() {
        let s = contact_shadow(-100.0, 100.0, -300.0);
        assert_eq!(s.centre[0], 0.0);
        // It covers the floor line, mostly below it.
        let (top, bottom) = (s.centre[1] + s.size[1] / 2.0, s.centre[1] - s.size[1] / 2.0);
        assert!(
            top > -300.0 && -300.0 - bottom > 2.0 * (top + 300.0),
            "{top} {bottom}"
        );
        assert!(s.size[0] > 200.0 && s.size[0] < 260.0);
        assert!(s.size[1] < s.size[0] / 4.0);
        let small = contact_shadow(200.0, 260.0, -300.0);
        assert_eq!(small.centre[0], 230.0);
        assert!(small.size[0] < s.size[0] / 3.0);
    }

    #[test]
    fn name_tags_sit_above_heads_and_stay_inside_the_scene() {
        let [x, y] = name_tag_anchor(12.0, 50.0, 80.0);
        assert_eq!((x, y), (12.0, 50.0 + TAG_GAP));
        // A person at the left edge: the tag is pushed in.
        let [x, _] = name_tag_anchor(-630.0, 50.0, 120.0);
        assert!(x - 60.0 >= -SCENE_WIDTH / 2.0, "{x}");
        // A head at the top of the scene: the tag stays on screen.
        let [_, y] = name_tag_anchor(0.0, SCENE_HEIGHT / 2.0, 80.0);
        assert!(y + TAG_MARGIN <= SCENE_HEIGHT / 2.0, "{y}");
    }

    fn picture(w: u32, h: u32, shown: &[(u32, u32)]) -> Vec<u8> {
        let mut rgba = vec![0u8; (w * h * 4) as usize];
        for &(x, y) in shown {
            rgba[((y * w + x) * 4 + 3) as usize] = 1;
        }
        rgba
    }

    #[test]
    fn the_drawn_box_holds_every_pixel_that_shows_and_its_margin() {
        let rgba = picture(20, 10, &[(5, 2), (12, 7), (3, 6)]);
        assert_eq!(drawn_box(&rgba, 20, 10, 0), Some([3, 2, 13, 8]));
        assert_eq!(drawn_box(&rgba, 20, 10, 1), Some([2, 1, 14, 9]));
        // The margin stops at the frame.
        assert_eq!(drawn_box(&rgba, 20, 10, 5), Some([0, 0, 18, 10]));
        let corner = picture(20, 10, &[(19, 9)]);
        assert_eq!(drawn_box(&corner, 20, 10, 1), Some([18, 8, 20, 10]));
    }

    #[test]
    fn nothing_showing_or_a_short_picture_has_no_drawn_box() {
        assert_eq!(drawn_box(&picture(8, 8, &[]), 8, 8, 1), None);
        assert_eq!(drawn_box(&[0, 0, 0, 255], 8, 8, 1), None);
        assert_eq!(drawn_box(&[], 0, 0, 1), None);
    }

    #[test]
    fn the_shown_crop_mirrors_with_the_picture() {
        let drawn = Some([10, 20, 30, 60]);
        assert_eq!(shown_crop(drawn, 100, 80, false), [0.1, 0.25, 0.3, 0.75]);
        let m = shown_crop(drawn, 100, 80, true);
        assert!((m[0] - 0.7).abs() < 1e-6 && (m[2] - 0.9).abs() < 1e-6);
        assert_eq!((m[1], m[3]), (0.25, 0.75));
        assert_eq!(shown_crop(None, 100, 80, true), [0.0, 0.0, 1.0, 1.0]);
    }
}
