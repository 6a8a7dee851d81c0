//! The same place, in real rendered frames: names above people, the game's HUD and
//! the recording badge in recordings, cutouts that fade where the camera frame cut
//! them, and a contact shadow on the floor. Words are read back with Tesseract OCR (Debian package
//! `tesseract-ocr`, installed by `scripts/setup.sh`).

use std::path::Path;
use std::process::Command;

use crate::common::{read_json, samespace, temp_dir, text};

/// An RGB picture.
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn load(path: &Path) -> Self {
        let img = image::open(path).expect("a picture").into_rgb8();
        let (width, height) = img.dimensions();
        Self {
            width,
            height,
            rgb: img.into_raw(),
        }
    }

    fn px(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Mean luma difference `self - other` over a rectangle (x0..x1, y0..y1).
    fn mean_luma_diff(&self, other: &Picture, x0: u32, x1: u32, y0: u32, y1: u32) -> f32 {
        let luma = |p: [u8; 3]| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
        let mut sum = 0.0;
        let mut n = 0.0;
        for y in y0..y1 {
            for x in x0..x1 {
                sum += luma(self.px(x, y)) - luma(other.px(x, y));
                n += 1.0;
            }
        }
        sum / n
    }

    /// Mean absolute colour difference over one row segment.
    fn row_diff(&self, other: &Picture, y: u32, x0: u32, x1: u32) -> f32 {
        let mut sum = 0.0;
        for x in x0..x1 {
            let (a, b) = (self.px(x, y), other.px(x, y));
            sum += (0..3)
                .map(|k| (a[k] as f32 - b[k] as f32).abs())
                .sum::<f32>();
        }
        sum / (x1 - x0) as f32
    }
}

/// A word Tesseract read, with its box in picture pixels.
#[derive(Debug)]
struct Word {
    text: String,
    left: u32,
    top: u32,
    width: u32,
    height: u32,
}

/// Reads the white words of a picture: white, neutral pixels become black ink on
/// white paper (HUD words are white on a dark box), scaled up twice, then OCR.
fn read_white_words(picture: &Picture, dir: &Path, tag: &str) -> Vec<Word> {
    let scale = 2;
    let mut paper = image::GrayImage::from_pixel(
        picture.width * scale,
        picture.height * scale,
        image::Luma([255]),
    );
    for y in 0..picture.height {
        for x in 0..picture.width {
            let p = picture.px(x, y);
            let (lo, hi) = (p.iter().min().copied(), p.iter().max().copied());
            let ink = lo.zip(hi).is_some_and(|(lo, hi)| lo > 200 && hi - lo < 30);
            if ink {
                for dy in 0..scale {
                    for dx in 0..scale {
                        paper.put_pixel(x * scale + dx, y * scale + dy, image::Luma([0]));
                    }
                }
            }
        }
    }
    let path = dir.join(format!("{tag}-ink.png"));
    paper.save(&path).expect("save the ink picture");
    let out = Command::new("tesseract")
        .args([path.to_str().expect("utf8"), "stdout", "--psm", "11", "tsv"])
        .output()
        .unwrap_or_else(|e| panic!("tesseract must be installed (Debian tesseract-ocr): {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let word = f.get(11)?.trim();
            let n = |i: usize| f.get(i)?.parse::<u32>().ok();
            if word.is_empty() {
                return None;
            }
            Some(Word {
                text: word.to_owned(),
                left: n(6)? / scale,
                top: n(7)? / scale,
                width: n(8)? / scale,
                height: n(9)? / scale,
            })
        })
        .collect()
}

/// Whether OCR read `needle` (letters and digits only, case-insensitive) in the words.
fn read_contains(words: &[Word], needle: &str) -> bool {
    let clean = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let all = clean(&words.iter().map(|w| w.text.as_str()).collect::<String>());
    all.contains(&clean(needle))
}

/// A headless demo's snapshot and report.
fn demo(
    dir: &Path,
    tag: &str,
    theme: &str,
    participants: &str,
    extra: &[&str],
) -> (Picture, serde_json::Value) {
    let snap = dir.join(format!("{tag}.png"));
    let report = dir.join(format!("{tag}.json"));
    let mut args = vec![
        "demo",
        "--headless",
        "--seconds",
        "3",
        "--participants",
        participants,
        "--theme",
        theme,
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--report",
        report.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    let run = samespace(&args);
    assert!(run.status.success(), "{}", text(&run));
    (Picture::load(&snap), read_json(&report))
}

/// A participant's cutout quad in snapshot pixels (x0, y0, x1, y1), for 640x480 cutouts.
fn cutout_box(p: &serde_json::Value, pic: &Picture) -> (u32, u32, u32, u32) {
    let f = |k: &str| p["placement"][k].as_f64().expect("placement field") as f32;
    let (x, y, s) = (f("x"), f("y"), f("scale"));
    let k = pic.width as f32 / 1280.0;
    let (w, h) = (640.0 * s, 480.0 * s);
    let px = |v: f32, max: u32| (v * k).round().clamp(0.0, max as f32) as u32;
    (
        px(x - w / 2.0 + 640.0, pic.width),
        px(360.0 - (y + h), pic.height),
        px(x + w / 2.0 + 640.0, pic.width),
        px(360.0 - y, pic.height),
    )
}

#[test]
fn each_persons_name_is_drawn_above_them_in_the_snapshot() {
    let dir = temp_dir("same-place-names");
    let (pic, report) = demo(&dir, "names", "beach", "3", &[]);
    let words = read_white_words(&pic, &dir, "names");
    let people = report["participants"].as_array().expect("participants");
    assert_eq!(people.len(), 3);
    for p in people {
        let name = p["name"].as_str().expect("a name");
        let (x0, y0, x1, y1) = cutout_box(p, &pic);
        let word = words
            .iter()
            .find(|w| read_contains(std::slice::from_ref(*w), name))
            .unwrap_or_else(|| panic!("{name:?} not read in the snapshot; read {words:?}"));
        let centre = word.left + word.width / 2;
        assert!(
            (x0..x1).contains(&centre),
            "{name}: read at x {centre}, the person spans {x0}..{x1}"
        );
        // Above the person: in the upper part of their picture (or just over it),
        // well above the floor where their picture ends.
        let bottom = word.top + word.height;
        assert!(
            bottom + 10 < y0 + (y1 - y0) / 2 && word.top + 60 > y0,
            "{name}: read at y {}..{bottom}, the picture spans {y0}..{y1}",
            word.top
        );
    }
}

#[test]
fn a_cutout_fades_where_the_frame_cut_it_and_casts_a_shadow_on_the_floor() {
    let dir = temp_dir("same-place-ground");
    let (empty, _) = demo(&dir, "empty", "beach", "0", &[]);
    let (pic, report) = demo(&dir, "one", "beach", "1", &[]);
    let p = &report["participants"][0];
    let (x0, _, x1, floor) = cutout_box(p, &pic);
    // The middle of the body, where the frame cuts the chest.
    let (c0, c1) = (x0 + (x1 - x0) * 2 / 5, x0 + (x1 - x0) * 3 / 5);
    let diff = |y: u32| pic.row_diff(&empty, y, c0, c1);
    let body = diff(floor - 80);
    assert!(body > 60.0, "no person above the cut: {body}");
    // Fading: going down to the cut, the person gives way to the theme gradually;
    // the last row is nearly the theme (a hard cut would be as strong as the body).
    let profile: Vec<f32> = [48, 24, 12, 6, 1]
        .iter()
        .map(|&up| diff(floor - up))
        .collect();
    assert!(
        profile[4] < body * 0.4,
        "a hard cut: {profile:?}, body {body}"
    );
    // (The last row also holds the top of the contact shadow, so it is left out.)
    assert!(
        profile[..4].windows(2).all(|w| w[1] <= w[0] * 1.1 + 2.0),
        "no gradient down to the cut: {profile:?}"
    );
    // Half way through the band the person is partly there: neither body nor theme.
    assert!(
        profile[1] < body * 0.8 && profile[1] > profile[3] + 15.0,
        "no gradient: {profile:?}, body {body}"
    );
    // A shadow: the floor just under the person is darker than the theme's floor,
    // and not far beside them.
    let under = pic.mean_luma_diff(&empty, c0, c1, floor + 2, floor + 8);
    assert!(
        under < -12.0,
        "the floor under the person is not darker: {under}"
    );
    let far = pic.mean_luma_diff(&empty, 0, 40, floor + 2, floor + 8);
    assert!(far.abs() < 3.0, "the floor far away changed: {far}");
}

#[test]
fn a_recorded_game_shows_the_countdown_score_and_instruction_in_its_frames() {
    let dir = temp_dir("same-place-game");
    let video = dir.join("game.mp4");
    let run = samespace(&[
        "demo",
        "--headless",
        "--seconds",
        "16",
        "--participants",
        "2",
        "--theme",
        "space",
        "--game",
        "star-catch",
        "--record",
        video.to_str().expect("utf8"),
    ]);
    assert!(run.status.success(), "{}", text(&run));
    let frames = dir.join("frame-%02d.png");
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            video.to_str().expect("utf8"),
            "-vf",
            "fps=1",
        ])
        .arg(&frames)
        .output()
        .expect("ffmpeg must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The recording badge, red, in the top-left corner.
    let first = Picture::load(&dir.join("frame-02.png"));
    let mut red = 0;
    for y in 0..60 {
        for x in 0..220 {
            let [r, g, b] = first.px(x, y);
            red += usize::from(r > 200 && g < 120 && b < 120);
        }
    }
    assert!(
        red > 40,
        "no recording badge in the recording ({red} red pixels)"
    );
    let mut seen_countdown = false;
    let mut seen_play = false;
    let mut seen_instruction = false;
    let mut seen_score = false;
    for i in 1..=18 {
        let path = dir.join(format!("frame-{i:02}.png"));
        if !path.exists() {
            break;
        }
        let words = read_white_words(&Picture::load(&path), &dir, &format!("frame-{i}"));
        seen_countdown |= read_contains(&words, "starts in");
        // The round in play: its banner and the round's clock ("Round 1 · 0:14 left").
        seen_play |= read_contains(&words, "Catch the stars") && read_contains(&words, "Round 1");
        seen_instruction |= read_contains(&words, "falling stars");
        // A score after a name: "Ana 0", "You 3"...
        seen_score |= words
            .windows(2)
            .any(|w| w[1].text.chars().all(|c| c.is_ascii_digit()) && w[0].text.len() >= 2);
    }
    assert!(seen_countdown, "no countdown in the recording");
    assert!(seen_play, "no round in play in the recording");
    assert!(seen_score, "no score after a name in the recording");
    assert!(seen_instruction, "no instruction in the recording");
}

/// Mean red minus blue over the pixels of a rectangle (x0..x1, y0..y1) where a
/// person covers the theme (the colour differs from the empty scene), and how
/// many such pixels there were.
fn person_red_minus_blue(pic: &Picture, empty: &Picture, rect: (u32, u32, u32, u32)) -> (f32, u32) {
    let (x0, y0, x1, y1) = rect;
    let (mut sum, mut n) = (0.0, 0);
    for y in y0..y1 {
        for x in x0..x1 {
            let (a, b) = (pic.px(x, y), empty.px(x, y));
            let change: i32 = (0..3).map(|k| (a[k] as i32 - b[k] as i32).abs()).sum();
            if change > 90 {
                sum += a[0] as f32 - a[2] as f32;
                n += 1;
            }
        }
    }
    (sum / n.max(1) as f32, n)
}

#[test]
fn each_camera_feeds_its_own_participant() {
    let dir = temp_dir("same-place-cameras");
    // Three different people as far as the cameras go: the photo, the photo with
    // red and blue swapped (the orange suit turns blue), and the photo in grey.
    let photo = image::open(crate::common::data("astronaut.png"))
        .expect("the test photo")
        .into_rgb8();
    let mut swapped = photo.clone();
    for p in swapped.pixels_mut() {
        p.0.swap(0, 2);
    }
    let grey = image::DynamicImage::ImageRgb8(photo.clone())
        .grayscale()
        .into_rgb8();
    let cams = [
        (dir.join("orange.png"), photo),
        (dir.join("blue.png"), swapped),
        (dir.join("grey.png"), grey),
    ];
    for (path, img) in &cams {
        img.save(path).expect("write a camera image");
    }
    let (empty, _) = demo(&dir, "empty", "beach", "0", &[]);
    let paths: Vec<&str> = cams
        .iter()
        .map(|(p, _)| p.to_str().expect("utf8"))
        .collect();
    let (pic, report) = demo(
        &dir,
        "three",
        "beach",
        "3",
        &[
            "--camera", paths[0], "--camera", paths[1], "--camera", paths[2],
        ],
    );
    let people = report["participants"].as_array().expect("participants");
    assert_eq!(people.len(), 3, "{report}");
    let mut tint = Vec::new();
    for (p, path) in people.iter().zip(&paths) {
        let source = p["source"].as_str().expect("a source");
        assert!(
            source.ends_with(path),
            "participant {} shows {source:?}, not {path}",
            p["id"]
        );
        assert!(p["cutouts_shown"].as_u64() > Some(0), "{p}");
        // The middle of each person, below the name and above the fade at the cut.
        let (x0, y0, x1, y1) = cutout_box(p, &pic);
        let rect = (
            x0 + (x1 - x0) * 3 / 10,
            y0 + (y1 - y0) / 4,
            x0 + (x1 - x0) * 7 / 10,
            y1 - (y1 - y0) / 8,
        );
        let (red_minus_blue, pixels) = person_red_minus_blue(&pic, &empty, rect);
        assert!(
            pixels > 500,
            "{source}: hardly anyone in {rect:?} ({pixels} px)"
        );
        tint.push(red_minus_blue);
    }
    // The orange suit is red over blue, the swapped one blue over red, the grey
    // one in between (the theme's light tints it a little).
    assert!(
        tint[0] > tint[2] + 15.0 && tint[2] > tint[1] + 15.0,
        "red minus blue of the orange, blue and grey cameras: {tint:?}"
    );
}
