//! Headless rendering on Mesa's software Vulkan: cutouts land where their placement
//! says, the theme shows around them, nothing of the photo's background survives,
//! and themes change the picture.

use std::path::Path;

use crate::common::{read_json, samespace, temp_dir, text};

struct Snapshot {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Snapshot {
    fn load(path: &Path) -> Self {
        let img = image::open(path).expect("snapshot png").into_rgb8();
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
}

fn demo(dir: &Path, tag: &str, theme: &str, participants: &str) -> (Snapshot, serde_json::Value) {
    demo_with(dir, tag, theme, participants, &[])
}

/// A 3 s headless demo with extra arguments; its snapshot and report.
fn demo_with(
    dir: &Path,
    tag: &str,
    theme: &str,
    participants: &str,
    extra: &[&str],
) -> (Snapshot, serde_json::Value) {
    let snap = dir.join(format!("{tag}.png"));
    let report = dir.join(format!("{tag}.json"));
    let run = samespace(
        &[
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
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect::<Vec<_>>(),
    );
    assert!(run.status.success(), "{}", text(&run));
    (Snapshot::load(&snap), read_json(&report))
}

/// Pixels whose colour differs by more than a little between two pictures.
fn differing_pixels(a: &Snapshot, b: &Snapshot) -> usize {
    a.rgb
        .chunks_exact(3)
        .zip(b.rgb.chunks_exact(3))
        .filter(|(p, q)| {
            (0..3)
                .map(|k| (p[k] as i32 - q[k] as i32).abs())
                .sum::<i32>()
                > 30
        })
        .count()
}

fn is_orange(p: [u8; 3]) -> bool {
    let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
    r > 120 && r - b > 100 && (g as f32) < 0.65 * r as f32
}

/// The sprite's box in snapshot pixels: (x0, y0, x1, y1).
fn sprite_box(p: &serde_json::Value, frame: (f32, f32), snap: &Snapshot) -> (i64, i64, i64, i64) {
    let f = |k: &str| p["placement"][k].as_f64().expect("placement field") as f32;
    let (x, y, s) = (f("x"), f("y"), f("scale"));
    let sx = snap.width as f32 / 1280.0;
    let (w, h) = (frame.0 * s, frame.1 * s);
    let left = (x - w / 2.0 + 640.0) * sx;
    let right = (x + w / 2.0 + 640.0) * sx;
    let top = (360.0 - (y + h)) * sx;
    let bottom = (360.0 - y) * sx;
    (
        left.floor() as i64,
        top.floor() as i64,
        right.ceil() as i64,
        bottom.ceil() as i64,
    )
}

#[test]
fn cutouts_stand_where_placed_with_the_theme_around_and_no_photo_background() {
    let dir = temp_dir("render-probe");
    let (empty, _) = demo(&dir, "empty", "beach", "0");
    let (snap, report) = demo(&dir, "people", "beach", "2");
    assert_eq!((snap.width, snap.height), (1280, 720));
    let people = report["participants"].as_array().expect("participants");
    assert_eq!(people.len(), 2);
    let boxes: Vec<_> = people
        .iter()
        .map(|p| {
            assert!(p["cutouts_shown"].as_u64().unwrap_or(0) > 0, "{p}");
            let side = |k: &str| p[k].as_f64().expect("frame size") as f32;
            sprite_box(p, (side("frame_width"), side("frame_height")), &snap)
        })
        .collect();
    // What belongs to a person beyond their picture: the contact shadow on the
    // floor under it (and a name tag pushed over its top).
    let beside = |x: u32, y: u32| {
        boxes.iter().any(|b| {
            (x as i64) >= b.0 && (x as i64) < b.2 && (y as i64) >= b.1 - 40 && (y as i64) < b.3 + 40
        })
    };
    let differs = |x: u32, y: u32| {
        let (a, b) = (snap.px(x, y), empty.px(x, y));
        (0..3)
            .map(|k| (a[k] as i32 - b[k] as i32).abs())
            .sum::<i32>()
            > 30
    };
    // Outside every sprite box (and its shadow) the picture is the theme alone.
    let mut outside_diff = 0;
    for y in 0..snap.height {
        for x in 0..snap.width {
            if !beside(x, y) && differs(x, y) {
                outside_diff += 1;
            }
        }
    }
    assert!(
        outside_diff < 50,
        "{outside_diff} pixels outside the sprites differ from the theme"
    );
    for b in &boxes {
        let (mut n, mut changed, mut orange) = (0u32, 0u32, 0u32);
        for y in b.1.max(0)..b.3.min(snap.height as i64) {
            for x in b.0.max(0)..b.2.min(snap.width as i64) {
                n += 1;
                changed += differs(x as u32, y as u32) as u32;
                orange += is_orange(snap.px(x as u32, y as u32)) as u32;
            }
        }
        let changed = changed as f32 / n as f32;
        // A person, not a rectangle: the photo's wall and flag would fill the whole box.
        assert!(
            changed > 0.2 && changed < 0.8,
            "box {b:?}: {changed} of it differs from the theme"
        );
        let _ = orange;
    }
    // The local participant (the first demo character) wears an orange hoodie,
    // seen inside its own box only.
    let b = boxes[0];
    let mut orange = 0;
    for y in b.1.max(0)..b.3.min(snap.height as i64) {
        for x in b.0.max(0)..b.2.min(snap.width as i64) {
            orange += is_orange(snap.px(x as u32, y as u32)) as u32;
        }
    }
    assert!(
        orange > 2000,
        "only {orange} orange hoodie pixels in the local sprite"
    );
}

#[test]
fn two_themes_differ_on_most_pixels() {
    let dir = temp_dir("render-themes");
    let (a, _) = demo(&dir, "beach", "beach", "1");
    let (b, _) = demo(&dir, "space", "space", "1");
    let n = (a.width * a.height) as usize;
    let differ = differing_pixels(&a, &b);
    assert!(differ > n / 2, "only {differ} of {n} pixels differ");
}

#[test]
fn themes_command_lists_at_least_five_names_first() {
    let run = samespace(&["themes"]);
    assert!(run.status.success(), "{}", text(&run));
    let out = String::from_utf8_lossy(&run.stdout);
    let names: Vec<&str> = out.lines().filter_map(|l| l.split('\t').next()).collect();
    assert!(names.len() >= 5, "{out}");
    for required in ["hologram", "space", "beach"] {
        assert!(names.contains(&required), "{out}");
    }
}

#[test]
fn every_theme_renders_headless() {
    let run = samespace(&["themes"]);
    let out = String::from_utf8_lossy(&run.stdout).to_string();
    let dir = temp_dir("render-all");
    for name in out.lines().filter_map(|l| l.split('\t').next()) {
        let snap = dir.join(format!("{name}.png"));
        let run = samespace(&[
            "demo",
            "--headless",
            "--seconds",
            "1.5",
            "--participants",
            "1",
            "--theme",
            name,
            "--snapshot",
            snap.to_str().expect("utf8"),
        ]);
        assert!(run.status.success(), "{name}: {}", text(&run));
        assert!(snap.exists(), "{name}: no snapshot");
    }
}

#[test]
fn switching_the_theme_at_run_time_changes_the_frame() {
    let dir = temp_dir("render-switch");
    let (fixed, _) = demo(&dir, "fixed", "beach", "1");
    let (switched, json) = demo_with(&dir, "switched", "beach", "1", &["--theme-cycle", "1"]);
    assert_ne!(json["theme"], "beach", "the theme never changed");
    let n = (fixed.width * fixed.height) as usize;
    let differ = differing_pixels(&fixed, &switched);
    assert!(
        differ > n / 2,
        "only {differ} of {n} pixels changed after switching to {}",
        json["theme"]
    );
}
