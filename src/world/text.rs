//! Text painted into RGBA pixels (pure): the words drawn in the world (names over
//! people, scores, countdown, the game's instruction, results, REC). They are
//! painted on the CPU into a sprite texture, so the scene image, and with it
//! snapshots and recordings, carries them like any other part of the world.
//!
//! The font is DejaVu Sans Bold (`assets/fonts/`, bundled into the binary): it has
//! the glyphs the HUD uses (Latin, Greek, Cyrillic, ♥, ●), which the engine's
//! default font does not.

use std::sync::LazyLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

/// The bundled font file.
const FONT_DATA: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

static FONT: LazyLock<FontRef<'static>> = LazyLock::new(|| {
    FontRef::try_from_slice(FONT_DATA).expect("the bundled DejaVu font is a valid TrueType file")
});

/// How lines line up with each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Align {
    /// Each line centred.
    #[default]
    Centre,
    /// Each line starts at the left padding.
    Left,
}

/// How a piece of text looks.
#[derive(Clone, Debug, PartialEq)]
pub struct TextStyle {
    /// Glyph height (the font's em) in pixels.
    pub size: f32,
    /// Text colour, sRGB with alpha.
    pub colour: [u8; 4],
    /// A rounded box behind the text, if any.
    pub background: Option<[u8; 4]>,
    /// A dark shadow under the glyphs (readable on any background).
    pub shadow: bool,
    /// Alignment of multi-line text.
    pub align: Align,
}

impl Default for TextStyle {
    fn default() -> Self {
        Self {
            size: 20.0,
            colour: [255, 255, 255, 255],
            background: None,
            shadow: true,
            align: Align::Centre,
        }
    }
}

/// Painted text: straight (not premultiplied) sRGB RGBA, `width * height * 4` bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Painted {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The pixels, row by row from the top.
    pub rgba: Vec<u8>,
}

/// Line height as a multiple of the size.
const LINE_HEIGHT: f32 = 1.25;

/// Lays out one line: each glyph's id and pen x, and the line's advance width.
fn layout_line(text: &str, size: f32) -> (Vec<(ab_glyph::GlyphId, f32)>, f32) {
    let font = FONT.as_scaled(PxScale::from(size));
    let mut glyphs = Vec::new();
    let mut x = 0.0;
    let mut previous = None;
    for ch in text.chars() {
        let id = font.glyph_id(ch);
        if let Some(prev) = previous {
            x += font.kern(prev, id);
        }
        glyphs.push((id, x));
        x += font.h_advance(id);
        previous = Some(id);
    }
    (glyphs, x)
}

/// Padding around the text, in pixels, for a size.
fn padding(style: &TextStyle) -> (f32, f32) {
    if style.background.is_some() {
        (style.size * 0.5, style.size * 0.25)
    } else {
        (style.size * 0.12, style.size * 0.12)
    }
}

/// Composites `colour` with coverage `cover` over the pixel at `i` (straight alpha).
fn blend(rgba: &mut [u8], i: usize, colour: [u8; 4], cover: f32) {
    let a = colour[3] as f32 / 255.0 * cover.clamp(0.0, 1.0);
    if a <= 0.0 {
        return;
    }
    let da = rgba[i + 3] as f32 / 255.0;
    let out_a = a + da * (1.0 - a);
    for k in 0..3 {
        let src = colour[k] as f32;
        let dst = rgba[i + k] as f32;
        rgba[i + k] = ((src * a + dst * da * (1.0 - a)) / out_a).round() as u8;
    }
    rgba[i + 3] = (out_a * 255.0).round() as u8;
}

/// Paints `text` (lines separated by `\n`) in `style`.
pub fn paint(text: &str, style: &TextStyle) -> Painted {
    let size = style.size.max(1.0);
    let lines: Vec<(Vec<(ab_glyph::GlyphId, f32)>, f32)> =
        text.split('\n').map(|l| layout_line(l, size)).collect();
    let widest = lines.iter().map(|l| l.1).fold(0.0f32, f32::max);
    let (pad_x, pad_y) = padding(style);
    let line_h = size * LINE_HEIGHT;
    let width = (widest + 2.0 * pad_x).ceil().max(1.0) as u32;
    let height = (line_h * lines.len() as f32 + 2.0 * pad_y).ceil().max(1.0) as u32;
    let mut rgba = vec![0u8; (width * height * 4) as usize];
    if let Some(bg) = style.background {
        rounded_box(
            &mut rgba,
            width,
            height,
            (size * 0.4).min(height as f32 / 2.0),
            bg,
        );
    }
    let font = FONT.as_scaled(PxScale::from(size));
    // The baseline sits so that ascent and descent are centred in the line.
    let baseline = (line_h - (font.ascent() - font.descent())) / 2.0 + font.ascent();
    let shadow_offset = (size / 14.0).max(1.0);
    let passes: &[(f32, [u8; 4])] = if style.shadow {
        &[(shadow_offset, [0, 0, 0, 170]), (0.0, style.colour)]
    } else {
        &[(0.0, style.colour)]
    };
    for &(offset, colour) in passes {
        for (row, (glyphs, line_w)) in lines.iter().enumerate() {
            let x0 = match style.align {
                Align::Centre => pad_x + (widest - line_w) / 2.0,
                Align::Left => pad_x,
            };
            let y = pad_y + row as f32 * line_h + baseline;
            for &(id, gx) in glyphs {
                let glyph = id.with_scale_and_position(size, point(x0 + gx + offset, y + offset));
                let Some(outlined) = FONT.outline_glyph(glyph) else {
                    continue;
                };
                let b = outlined.px_bounds();
                outlined.draw(|px, py, cover| {
                    let (x, y) = (b.min.x as i64 + px as i64, b.min.y as i64 + py as i64);
                    if x >= 0 && y >= 0 && (x as u32) < width && (y as u32) < height {
                        let i = ((y as u32 * width + x as u32) * 4) as usize;
                        blend(&mut rgba, i, colour, cover);
                    }
                });
            }
        }
    }
    Painted {
        width,
        height,
        rgba,
    }
}

/// Fills a box with rounded corners of `radius` (antialiased edges).
fn rounded_box(rgba: &mut [u8], width: u32, height: u32, radius: f32, colour: [u8; 4]) {
    let (w, h) = (width as f32, height as f32);
    for y in 0..height {
        for x in 0..width {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            // Distance outside the rounded rectangle (negative inside).
            let qx = (px - w / 2.0).abs() - (w / 2.0 - radius);
            let qy = (py - h / 2.0).abs() - (h / 2.0 - radius);
            let outside =
                (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt() + qx.max(qy).min(0.0) - radius;
            let cover = (0.5 - outside).clamp(0.0, 1.0);
            blend(rgba, ((y * width + x) * 4) as usize, colour, cover);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opaque_columns(p: &Painted, min_alpha: u8) -> Vec<u32> {
        (0..p.width)
            .filter(|&x| {
                (0..p.height).any(|y| p.rgba[((y * p.width + x) * 4 + 3) as usize] >= min_alpha)
            })
            .collect()
    }

    #[test]
    fn text_is_painted_in_its_colour_and_wider_text_is_wider() {
        let style = TextStyle {
            shadow: false,
            colour: [250, 20, 20, 255],
            ..TextStyle::default()
        };
        let short = paint("Ada", &style);
        let long = paint("Ada Lovelace", &style);
        assert!(
            long.width > short.width * 2,
            "{} vs {}",
            long.width,
            short.width
        );
        assert_eq!(short.height, long.height);
        // Some pixels are fully covered, in the text colour.
        let solid = short
            .rgba
            .chunks_exact(4)
            .filter(|p| p[3] == 255)
            .collect::<Vec<_>>();
        assert!(solid.len() > 50, "{} solid pixels", solid.len());
        assert!(
            solid
                .iter()
                .all(|p| p[0] == 250 && p[1] == 20 && p[2] == 20)
        );
        // Transparent around the glyphs (no box without a background).
        assert_eq!(short.rgba[3], 0);
    }

    #[test]
    fn the_heart_and_the_dot_have_glyphs_not_the_missing_glyph_box() {
        // A missing glyph is drawn as the font's .notdef box; the real glyphs differ.
        let style = TextStyle {
            shadow: false,
            ..TextStyle::default()
        };
        let notdef = paint("\u{E000}", &style);
        for s in ["♥", "●", "Ж", "é"] {
            let id = FONT.glyph_id(s.chars().next().expect("a char"));
            assert_ne!(id.0, 0, "{s} has no glyph");
            assert_ne!(paint(s, &style).rgba, notdef.rgba, "{s}");
        }
    }

    #[test]
    fn a_background_box_covers_the_whole_label_but_its_corners() {
        let p = paint(
            "12",
            &TextStyle {
                background: Some([0, 0, 0, 160]),
                ..TextStyle::default()
            },
        );
        let alpha = |x: u32, y: u32| p.rgba[((y * p.width + x) * 4 + 3) as usize];
        assert_eq!(alpha(0, 0), 0, "rounded corner");
        assert!(alpha(p.width / 2, 1) >= 150);
        assert_eq!(opaque_columns(&p, 100).len() as u32, p.width);
    }

    #[test]
    fn lines_stack_and_left_alignment_starts_every_line_at_the_padding() {
        let style = TextStyle {
            shadow: false,
            align: Align::Left,
            ..TextStyle::default()
        };
        let one = paint("1. Ada  12 pts", &style);
        let two = paint("1. Ada  12 pts\n2. Bo  3 pts", &style);
        assert!(two.height > one.height * 3 / 2);
        assert_eq!(two.width, one.width);
        let first_ink = |p: &Painted, y0: u32, y1: u32| {
            (0..p.width)
                .find(|&x| (y0..y1).any(|y| p.rgba[((y * p.width + x) * 4 + 3) as usize] > 128))
        };
        let half = two.height / 2;
        let (a, b) = (first_ink(&two, 0, half), first_ink(&two, half, two.height));
        assert!(a.is_some() && b.is_some());
        assert!(
            a.zip(b).is_some_and(|(a, b)| a.abs_diff(b) <= 2),
            "{a:?} {b:?}"
        );
    }
}
