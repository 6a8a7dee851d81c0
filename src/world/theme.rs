//! Themes as data (pure): `assets/themes/<name>/theme.ron` describes background
//! layers, floor line, light ([`Light`]: direction, colour, ambient, exposure, rim),
//! palette, gravity, ambient effect and music. The background is
//! painted procedurally from the layers (or taken from an image in the theme folder),
//! so adding a theme needs no recompilation.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use super::light::Light;

/// A colour written as `"#RRGGBB"` or `"#RRGGBBAA"` in theme files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rgba(pub [u8; 4]);

impl TryFrom<String> for Rgba {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let hex = s
            .strip_prefix('#')
            .ok_or_else(|| format!("colour {s:?} must start with #"))?;
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16);
        match hex.len() {
            6 | 8 => {
                let a = if hex.len() == 8 { byte(6) } else { Ok(255) };
                match (byte(0), byte(2), byte(4), a) {
                    (Ok(r), Ok(g), Ok(b), Ok(a)) => Ok(Rgba([r, g, b, a])),
                    _ => Err(format!("colour {s:?} is not hex")),
                }
            }
            _ => Err(format!("colour {s:?} must be #RRGGBB or #RRGGBBAA")),
        }
    }
}

impl From<Rgba> for String {
    fn from(c: Rgba) -> String {
        let [r, g, b, a] = c.0;
        if a == 255 {
            format!("#{r:02X}{g:02X}{b:02X}")
        } else {
            format!("#{r:02X}{g:02X}{b:02X}{a:02X}")
        }
    }
}

/// The theme's colours, used by the UI and the HUD too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Palette {
    /// Main background colour (also the clear colour).
    pub background: Rgba,
    /// Ground colour.
    pub ground: Rgba,
    /// Highlight colour (HUD, labels).
    pub accent: Rgba,
    /// Text colour on the background.
    pub text: Rgba,
}

/// One painted background layer, back to front. Positions are world units
/// (origin at the scene centre, y up, 1280x720 visible).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Layer {
    /// Vertical gradient over the whole scene.
    Gradient { top: Rgba, bottom: Rgba },
    /// A glowing disc (sun, moon).
    Sun {
        x: f32,
        y: f32,
        radius: f32,
        color: Rgba,
        glow: f32,
    },
    /// A planet with an optional ring.
    Planet {
        x: f32,
        y: f32,
        radius: f32,
        color: Rgba,
        ring: Option<Rgba>,
    },
    /// Scattered dots, deterministic from the seed.
    Stars {
        count: u32,
        seed: u64,
        color: Rgba,
        max_size: f32,
    },
    /// Rolling hills: a sum of sines above `base_y`.
    Hills {
        base_y: f32,
        amplitude: f32,
        wavelength: f32,
        color: Rgba,
        seed: u64,
    },
    /// A water band with a wavy top edge.
    Waves {
        top_y: f32,
        bottom_y: f32,
        amplitude: f32,
        wavelength: f32,
        color: Rgba,
    },
    /// Horizontal and vertical lines (a deck, a dance floor) between two heights.
    Grid {
        from_y: f32,
        to_y: f32,
        spacing: f32,
        color: Rgba,
    },
    /// Vertical stripes (wallpaper, curtains).
    Stripes {
        width: f32,
        color: Rgba,
        from_y: f32,
        to_y: f32,
    },
    /// Building silhouettes with lit windows.
    Skyline {
        base_y: f32,
        max_height: f32,
        color: Rgba,
        window: Rgba,
        seed: u64,
    },
    /// The ground: everything below `y`, with a line on top.
    Ground { y: f32, color: Rgba, line: Rgba },
    /// An image file from the theme folder, stretched over the scene.
    Image { path: String },
}

/// An ambient effect drawn over or under the people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    /// Nothing.
    None,
    /// Blue holographic people: tint, scanlines, ghosting (a shader material).
    Hologram {
        tint: Rgba,
        scanlines: f32,
        ghost: f32,
    },
    /// Falling confetti.
    Confetti { count: u32 },
    /// Falling snow.
    Snow { count: u32 },
    /// Rising bubbles.
    Bubbles { count: u32 },
    /// Twinkling stars drifting by.
    Drift { count: u32 },
}

/// A themed world.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Theme {
    /// Folder name (filled in by the loader).
    #[serde(default)]
    pub name: String,
    /// Display title.
    pub title: String,
    /// One line for `samespace themes`.
    pub description: String,
    /// Gravity for game objects, world units per second² (negative is down).
    pub gravity: f32,
    /// Height of the floor line where people stand.
    pub floor_y: f32,
    /// The light people are graded towards (neutral when left out).
    #[serde(default)]
    pub light: Light,
    /// Colours.
    pub palette: Palette,
    /// Background layers, back to front.
    pub layers: Vec<Layer>,
    /// Ambient effect.
    pub effect: Effect,
    /// Optional music file in the theme folder (played where audio output exists).
    #[serde(default)]
    pub music: Option<String>,
    /// Folder the theme came from (filled in by the loader).
    #[serde(skip)]
    pub folder: PathBuf,
}

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// The theme folder or file is missing.
    #[error("no theme named {name:?} (looked for {path})")]
    NotFound {
        /// Requested name.
        name: String,
        /// Where it looked.
        path: PathBuf,
    },
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// The RON is malformed.
    #[error("theme file {path} is malformed: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Parser message with position.
        message: String,
    },
    /// A referenced image could not be read.
    #[error("theme image {path}: {message}")]
    Image {
        /// The image.
        path: PathBuf,
        /// Decoder message.
        message: String,
    },
}

/// Loads `themes_dir/<name>/theme.ron`.
pub fn load_theme(themes_dir: &Path, name: &str) -> Result<Theme, ThemeError> {
    let folder = themes_dir.join(name);
    let path = folder.join("theme.ron");
    if !path.is_file() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(ThemeError::NotFound {
            name: name.to_string(),
            path,
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|source| ThemeError::Io {
        path: path.clone(),
        source,
    })?;
    let mut theme: Theme = ron::from_str(&text).map_err(|e| ThemeError::Parse {
        path: path.clone(),
        message: e.to_string(),
    })?;
    theme.name = name.to_string();
    theme.folder = folder;
    Ok(theme)
}

/// Lists the loadable themes in `themes_dir`, sorted by name (broken ones are skipped
/// with a warning).
pub fn list_themes(themes_dir: &Path) -> Vec<Theme> {
    let mut names: Vec<String> = std::fs::read_dir(themes_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("theme.ron").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| match load_theme(themes_dir, &n) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "skipping theme");
                None
            }
        })
        .collect()
}

/// Maps world coordinates to pixel coordinates of a `w x h` image of the scene.
fn to_px(x: f32, y: f32, w: u32, h: u32) -> (f32, f32) {
    (x + w as f32 / 2.0, h as f32 / 2.0 - y)
}

fn blend(dst: &mut [u8], c: Rgba, cover: f32) {
    let a = (c.0[3] as f32 / 255.0) * cover.clamp(0.0, 1.0);
    for (d, &s) in dst.iter_mut().zip(&c.0[..3]) {
        *d = (*d as f32 * (1.0 - a) + s as f32 * a).round() as u8;
    }
    dst[3] = 255;
}

/// A small deterministic generator (splitmix64) so backgrounds are the same everywhere.
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Paints the theme's background into an opaque RGBA8 image of `w x h` pixels, where
/// `w x h` covers the 1280x720 world scaled.
pub fn render_background(theme: &Theme, w: u32, h: u32) -> Result<Vec<u8>, ThemeError> {
    let mut img = vec![0u8; (w * h * 4) as usize];
    let bg = theme.palette.background;
    for px in img.chunks_exact_mut(4) {
        px.copy_from_slice(&[bg.0[0], bg.0[1], bg.0[2], 255]);
    }
    let s = w as f32 / crate::world::placement::SCENE_WIDTH;
    let (wf, hf) = (w as f32, h as f32);
    let idx = |x: u32, y: u32| ((y * w + x) * 4) as usize;
    for layer in &theme.layers {
        match layer {
            Layer::Gradient { top, bottom } => {
                for y in 0..h {
                    let t = y as f32 / (hf - 1.0).max(1.0);
                    let c = Rgba(std::array::from_fn(|k| {
                        (top.0[k] as f32 * (1.0 - t) + bottom.0[k] as f32 * t) as u8
                    }));
                    for x in 0..w {
                        blend(&mut img[idx(x, y)..][..4], c, 1.0);
                    }
                }
            }
            Layer::Sun {
                x,
                y,
                radius,
                color,
                glow,
            } => {
                let (cx, cy) = to_px(x * s, y * s, w, h);
                let (r, g) = (radius * s, glow * s);
                let ext = r + g;
                for py in ((cy - ext).max(0.0) as u32)..((cy + ext).min(hf) as u32) {
                    for px in ((cx - ext).max(0.0) as u32)..((cx + ext).min(wf) as u32) {
                        let d = ((px as f32 + 0.5 - cx).powi(2) + (py as f32 + 0.5 - cy).powi(2))
                            .sqrt();
                        let cover = if d <= r {
                            1.0
                        } else if g > 0.0 {
                            0.5 * (1.0 - (d - r) / g).max(0.0).powi(2)
                        } else {
                            0.0
                        };
                        if cover > 0.0 {
                            blend(&mut img[idx(px, py)..][..4], *color, cover);
                        }
                    }
                }
            }
            Layer::Planet {
                x,
                y,
                radius,
                color,
                ring,
            } => {
                let (cx, cy) = to_px(x * s, y * s, w, h);
                let r = radius * s;
                let ext = r * 2.2;
                for py in ((cy - ext).max(0.0) as u32)..((cy + ext).min(hf) as u32) {
                    for px in ((cx - ext).max(0.0) as u32)..((cx + ext).min(wf) as u32) {
                        let (dx, dy) = (px as f32 + 0.5 - cx, py as f32 + 0.5 - cy);
                        let d = (dx * dx + dy * dy).sqrt();
                        if d <= r {
                            // Lit from the top left.
                            let shade = 1.0 - 0.45 * ((dx + dy) / (2.0 * r) + 0.5).clamp(0.0, 1.0);
                            let c = Rgba(std::array::from_fn(|k| {
                                if k < 3 {
                                    (color.0[k] as f32 * shade) as u8
                                } else {
                                    255
                                }
                            }));
                            blend(&mut img[idx(px, py)..][..4], c, 1.0);
                        } else if let Some(rc) = ring {
                            let e = (dx / (2.0 * r)).powi(2) + (dy / (0.45 * r)).powi(2);
                            if (0.7..1.0).contains(&e) && !(dy < 0.0 && d < r) {
                                blend(&mut img[idx(px, py)..][..4], *rc, 0.8);
                            }
                        }
                    }
                }
            }
            Layer::Stars {
                count,
                seed,
                color,
                max_size,
            } => {
                let mut rng = Mix(*seed);
                for _ in 0..*count {
                    let (x, y) = (rng.next() * wf, rng.next() * hf);
                    let size = (0.6 + rng.next() * max_size) * s;
                    let bright = 0.4 + 0.6 * rng.next();
                    for py in ((y - size).max(0.0) as u32)..((y + size).min(hf) as u32) {
                        for px in ((x - size).max(0.0) as u32)..((x + size).min(wf) as u32) {
                            let d = ((px as f32 + 0.5 - x).powi(2) + (py as f32 + 0.5 - y).powi(2))
                                .sqrt();
                            if d <= size {
                                blend(
                                    &mut img[idx(px, py)..][..4],
                                    *color,
                                    bright * (1.0 - d / size).sqrt(),
                                );
                            }
                        }
                    }
                }
            }
            Layer::Hills {
                base_y,
                amplitude,
                wavelength,
                color,
                seed,
            } => {
                let mut rng = Mix(*seed);
                let phases = [
                    rng.next() * std::f32::consts::TAU,
                    rng.next() * std::f32::consts::TAU,
                    rng.next() * std::f32::consts::TAU,
                ];
                for px in 0..w {
                    let x = px as f32 / s;
                    let t = x / wavelength * std::f32::consts::TAU;
                    let hgt = base_y
                        + amplitude
                            * (0.6 * (t + phases[0]).sin()
                                + 0.3 * (2.3 * t + phases[1]).sin()
                                + 0.1 * (5.1 * t + phases[2]).sin());
                    let (_, top) = to_px(0.0, hgt * s, w, h);
                    for py in (top.max(0.0) as u32)..h {
                        blend(&mut img[idx(px, py)..][..4], *color, 1.0);
                    }
                }
            }
            Layer::Waves {
                top_y,
                bottom_y,
                amplitude,
                wavelength,
                color,
            } => {
                for px in 0..w {
                    let x = px as f32 / s;
                    let edge = top_y + amplitude * (x / wavelength * std::f32::consts::TAU).sin();
                    let (_, a) = to_px(0.0, edge * s, w, h);
                    let (_, b) = to_px(0.0, bottom_y * s, w, h);
                    for py in (a.max(0.0) as u32)..(b.min(hf) as u32) {
                        // Light crest lines every few pixels.
                        let crest =
                            ((py as f32 - a) as u32).is_multiple_of((12.0 * s).max(2.0) as u32);
                        blend(
                            &mut img[idx(px, py)..][..4],
                            *color,
                            if crest { 0.7 } else { 1.0 },
                        );
                    }
                }
            }
            Layer::Grid {
                from_y,
                to_y,
                spacing,
                color,
            } => {
                let (_, a) = to_px(0.0, to_y * s, w, h);
                let (_, b) = to_px(0.0, from_y * s, w, h);
                let step = (spacing * s).max(2.0);
                for py in (a.max(0.0) as u32)..(b.min(hf) as u32) {
                    for px in 0..w {
                        let on = (px as f32 % step) < s.max(1.0)
                            || ((py as f32 - a) % step) < s.max(1.0);
                        if on {
                            blend(&mut img[idx(px, py)..][..4], *color, 1.0);
                        }
                    }
                }
            }
            Layer::Stripes {
                width,
                color,
                from_y,
                to_y,
            } => {
                let (_, a) = to_px(0.0, to_y * s, w, h);
                let (_, b) = to_px(0.0, from_y * s, w, h);
                let sw = (width * s).max(1.0);
                for py in (a.max(0.0) as u32)..(b.min(hf) as u32) {
                    for px in 0..w {
                        if ((px as f32 / sw) as u32).is_multiple_of(2) {
                            blend(&mut img[idx(px, py)..][..4], *color, 1.0);
                        }
                    }
                }
            }
            Layer::Skyline {
                base_y,
                max_height,
                color,
                window,
                seed,
            } => {
                let mut rng = Mix(*seed);
                let mut x = 0.0;
                while x < wf {
                    let bw = (50.0 + rng.next() * 90.0) * s;
                    let bh = (0.3 + 0.7 * rng.next()) * max_height * s;
                    let (_, base) = to_px(0.0, base_y * s, w, h);
                    let top = base - bh;
                    for py in (top.max(0.0) as u32)..(base.min(hf) as u32) {
                        for px in (x as u32)..((x + bw - 4.0 * s).min(wf) as u32) {
                            let (lx, ly) = (px as f32 - x, py as f32 - top);
                            let lit = (lx % (14.0 * s)) > 5.0 * s
                                && (ly % (18.0 * s)) > 8.0 * s
                                && !((lx / (14.0 * s)) as u32
                                    + (ly / (18.0 * s)) as u32 * 7
                                    + *seed as u32)
                                    .is_multiple_of(3);
                            blend(
                                &mut img[idx(px, py)..][..4],
                                if lit { *window } else { *color },
                                1.0,
                            );
                        }
                    }
                    x += bw;
                }
            }
            Layer::Ground { y, color, line } => {
                let (_, top) = to_px(0.0, y * s, w, h);
                for py in (top.max(0.0) as u32)..h {
                    let c = if (py as f32) < top + 4.0 * s {
                        *line
                    } else {
                        *color
                    };
                    for px in 0..w {
                        blend(&mut img[idx(px, py)..][..4], c, 1.0);
                    }
                }
            }
            Layer::Image { path } => {
                let p = theme.folder.join(path);
                let src = image::open(&p).map_err(|e| ThemeError::Image {
                    path: p.clone(),
                    message: e.to_string(),
                })?;
                let resized = src
                    .resize_exact(w, h, image::imageops::FilterType::Triangle)
                    .into_rgba8();
                for (d, sp) in img.chunks_exact_mut(4).zip(resized.pixels()) {
                    blend(d, Rgba(sp.0), 1.0);
                }
            }
        }
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn themes_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/themes")
    }

    #[test]
    fn colours_parse_from_hex() {
        assert_eq!(
            Rgba::try_from("#FF8000".to_string()),
            Ok(Rgba([255, 128, 0, 255]))
        );
        assert_eq!(
            Rgba::try_from("#00000080".to_string()),
            Ok(Rgba([0, 0, 0, 128]))
        );
        assert!(Rgba::try_from("FF8000".to_string()).is_err());
        assert!(Rgba::try_from("#GG0000".to_string()).is_err());
    }

    #[test]
    fn at_least_five_bundled_themes_load_and_paint() {
        let themes = list_themes(&themes_dir());
        assert!(themes.len() >= 5, "{} themes", themes.len());
        for t in &themes {
            let img = render_background(t, 320, 180).expect("paint");
            assert_eq!(img.len(), 320 * 180 * 4);
            assert!(img.chunks_exact(4).all(|p| p[3] == 255));
        }
        assert!(
            themes
                .iter()
                .any(|t| matches!(t.effect, Effect::Hologram { .. }))
        );
        let space = themes
            .iter()
            .find(|t| t.name == "space")
            .expect("space theme");
        let normal = themes
            .iter()
            .find(|t| t.name == "beach")
            .expect("beach theme");
        assert!(space.gravity.abs() < normal.gravity.abs() / 2.0);
    }

    #[test]
    fn every_bundled_theme_has_a_floor_on_its_ground_and_a_light() {
        for t in list_themes(&themes_dir()) {
            let ground = t.layers.iter().find_map(|l| match l {
                Layer::Ground { y, .. } => Some(*y),
                _ => None,
            });
            assert_eq!(
                ground,
                Some(t.floor_y),
                "{}: the floor line is the ground's top",
                t.name
            );
            if matches!(t.effect, Effect::Hologram { .. }) {
                continue;
            }
            assert!(
                t.light.strength > 0.0 && t.light.rim > 0.0,
                "{}: {:?}",
                t.name,
                t.light
            );
        }
    }

    #[test]
    fn a_theme_without_a_light_is_lit_neutrally_and_a_light_parses() {
        let base = r##"(title: "T", description: "d", gravity: -900.0, floor_y: -250.0,
            palette: (background: "#000000", ground: "#111111", accent: "#222222", text: "#FFFFFF"),
            layers: [], effect: None"##;
        let plain: Theme = ron::from_str(&format!("{base})")).expect("theme without a light");
        assert_eq!(plain.light, Light::default());
        assert_eq!(plain.floor_y, -250.0);
        let lit: Theme = ron::from_str(&format!(
            r##"{base}, light: (direction: (-1.0, 0.5), color: "#FFC890", ambient: "#101020", rim: 0.6))"##
        ))
        .expect("theme with a light");
        assert_eq!(lit.light.direction, (-1.0, 0.5));
        assert_eq!(lit.light.color, Rgba([0xFF, 0xC8, 0x90, 255]));
        assert_eq!(lit.light.rim, 0.6);
        // Fields left out keep their neutral values.
        assert_eq!(lit.light.exposure, 1.0);
    }

    #[test]
    fn a_missing_or_malformed_theme_is_a_clear_error() {
        assert!(matches!(
            load_theme(&themes_dir(), "nope"),
            Err(ThemeError::NotFound { .. })
        ));
        assert!(matches!(
            load_theme(&themes_dir(), "../themes"),
            Err(ThemeError::NotFound { .. })
        ));
        let dir = std::env::temp_dir().join(format!("samespace-theme-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bad")).expect("mkdir");
        std::fs::write(dir.join("bad/theme.ron"), "(title: \"x\", gravity: oops)").expect("write");
        let err = load_theme(&dir, "bad").expect_err("must fail");
        assert!(err.to_string().contains("malformed"), "{err}");
    }

    #[test]
    fn the_ground_is_painted_below_the_floor_line() {
        let mut t = load_theme(&themes_dir(), "beach").expect("beach");
        t.layers = vec![Layer::Ground {
            y: -300.0,
            color: Rgba([10, 20, 30, 255]),
            line: Rgba([1, 2, 3, 255]),
        }];
        let img = render_background(&t, 1280, 720).expect("paint");
        let px = |x: u32, y: u32| &img[((y * 1280 + x) * 4) as usize..][..3];
        assert_eq!(px(100, 700), &[10, 20, 30]);
        assert_eq!(px(100, 100), &t.palette.background.0[..3]);
    }
}
