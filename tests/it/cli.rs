//! The `samespace` command line, end to end.

use samespace::segment::postprocess::iou;

use crate::common::{data, load_alpha, load_mask, samespace, temp_dir, text};

fn cutout_iou(backend: &str) -> f32 {
    let dir = temp_dir(&format!("cli-cutout-{backend}"));
    let out = dir.join("out.png");
    let run = samespace(&[
        "cutout",
        data("astronaut.png").to_str().expect("utf8"),
        "-o",
        out.to_str().expect("utf8"),
        "--backend",
        backend,
    ]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(
        text(&run).contains(&format!("backend {backend}")),
        "{}",
        text(&run)
    );
    let (_, _, alpha) = load_alpha(&out);
    let (_, _, reference) = load_mask(&data("astronaut_mask_mediapipe.png"));
    iou(&alpha, &reference, 128)
}

#[test]
fn cutout_command_matches_mediapipe_with_onnx_runtime() {
    let v = cutout_iou("ort");
    assert!(v >= 0.97, "IoU {v}");
}

#[test]
fn cutout_command_matches_mediapipe_with_tract() {
    let v = cutout_iou("tract");
    assert!(v >= 0.97, "IoU {v}");
}

#[test]
fn cutout_command_handles_a_folder() {
    let dir = temp_dir("cli-folder");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    std::fs::copy(data("astronaut.png"), input.join("a.png")).expect("copy");
    std::fs::copy(data("astronaut.png"), input.join("b.png")).expect("copy");
    let out = dir.join("out");
    let run = samespace(&[
        "cutout",
        input.to_str().expect("utf8"),
        "-o",
        out.to_str().expect("utf8"),
        "--backend",
        "tract",
    ]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(out.join("a.png").exists() && out.join("b.png").exists());
}

#[test]
fn bad_inputs_exit_non_zero_with_a_message_and_no_panic() {
    let dir = temp_dir("cli-bad");
    let out = dir.join("out.png");
    let cases = [
        "random_bytes.png",
        "truncated.png",
        "zero_size.png",
        "tiny.gif",
        "does-not-exist.png",
    ];
    for name in cases {
        let run = samespace(&[
            "cutout",
            data(name).to_str().expect("utf8"),
            "-o",
            out.to_str().expect("utf8"),
            "--backend",
            "tract",
        ]);
        let msg = text(&run);
        assert!(!run.status.success(), "{name} must fail");
        assert!(msg.contains("Error") && msg.contains(name), "{name}: {msg}");
        assert!(!msg.contains("panicked"), "{name}: {msg}");
    }
}

#[test]
fn a_wrong_models_folder_names_the_file() {
    let dir = temp_dir("cli-badmodels");
    std::fs::write(dir.join("selfie_segmentation.onnx"), b"definitely not onnx").expect("write");
    let run = samespace(&[
        "cutout",
        data("astronaut.png").to_str().expect("utf8"),
        "-o",
        dir.join("o.png").to_str().expect("utf8"),
        "--backend",
        "tract",
        "--models",
        dir.to_str().expect("utf8"),
    ]);
    let msg = text(&run);
    assert!(!run.status.success());
    assert!(
        msg.contains("selfie_segmentation.onnx") && msg.contains("[1,256,256,3]"),
        "{msg}"
    );
    assert!(!msg.contains("panicked"), "{msg}");
}

/// A `demo` whose flags are refused: non-zero, the message, no panic, and
/// nothing started (the headless start line is never printed).
fn refused_demo(args: &[&str], expected: &[&str]) {
    let mut all = vec!["demo", "--headless"];
    all.extend_from_slice(args);
    let run = samespace(&all);
    let msg = text(&run);
    assert!(!run.status.success(), "{args:?} must fail: {msg}");
    for e in expected {
        assert!(msg.contains(e), "{args:?}: expected {e:?} in {msg}");
    }
    assert!(!msg.contains("panicked"), "{args:?}: {msg}");
    assert!(!msg.contains("running headless"), "{args:?} started: {msg}");
}

#[test]
fn demo_refuses_a_zero_scene_size_before_starting() {
    refused_demo(
        &["--width", "0", "--height", "0"],
        &["--width 0", "16 to 3840"],
    );
}

#[test]
fn demo_refuses_seconds_that_are_not_a_finite_positive_number() {
    refused_demo(&["--seconds", "nan"], &["--seconds NaN"]);
    refused_demo(&["--seconds", "0"], &["--seconds 0"]);
}

#[test]
fn demo_refuses_more_participants_than_a_room_holds() {
    refused_demo(&["--participants", "1000"], &["1000", "at most 8 people"]);
}

#[test]
fn demo_refuses_more_cameras_than_participants_and_a_bad_later_camera() {
    let photo = data("astronaut.png");
    let photo = photo.to_str().expect("utf8");
    refused_demo(
        &["--participants", "1", "--camera", photo, "--camera", photo],
        &["2 cameras for --participants 1", "give --participants 2"],
    );
    // Every camera is checked, not only yours.
    refused_demo(
        &["--camera", photo, "--camera", "no-such-friend.png"],
        &["unknown camera", "no-such-friend.png"],
    );
}

#[test]
fn demo_refuses_an_unknown_camera_theme_or_game_and_lists_the_choices() {
    refused_demo(
        &["--camera", "no-such-camera.png"],
        &[
            "unknown camera",
            "no-such-camera.png",
            "synthetic",
            "a folder of images",
        ],
    );
    refused_demo(
        &["--theme", "moon"],
        &["unknown theme \"moon\"", "beach", "space"],
    );
    refused_demo(&["--game", "chess"], &["chess", "meteor-dodge"]);
}

#[test]
fn demo_refuses_an_unwritable_record_path_at_once() {
    let dir = temp_dir("cli-unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let record = file.join("out.mp4");
    refused_demo(
        &["--seconds", "2", "--record", record.to_str().expect("utf8")],
        &["recording", "not a folder"],
    );
}

#[test]
fn demo_exits_non_zero_when_an_output_asked_for_is_not_written() {
    let dir = temp_dir("cli-report-full");
    let snapshot = dir.join("s.png");
    let run = samespace(&[
        "demo",
        "--headless",
        "--seconds",
        "1",
        "--participants",
        "0",
        "--snapshot",
        snapshot.to_str().expect("utf8"),
        "--report",
        "/dev/full",
    ]);
    let msg = text(&run);
    assert!(!run.status.success(), "{msg}");
    assert!(msg.contains("not written: report /dev/full"), "{msg}");
    assert!(
        snapshot.exists(),
        "the other output is still written: {msg}"
    );
    assert!(!msg.contains("panicked"), "{msg}");
}

fn cutout(
    input: &std::path::Path,
    output: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "cutout",
        input.to_str().expect("utf8"),
        "-o",
        output.to_str().expect("utf8"),
        "--backend",
        "tract",
    ];
    args.extend_from_slice(extra);
    samespace(&args)
}

#[test]
fn a_jpeg_cutout_is_flattened_onto_the_background_colour() {
    let dir = temp_dir("cli-jpeg");
    let out = dir.join("existing.jpg");
    std::fs::write(&out, b"an older picture").expect("seed");
    let run = cutout(&data("astronaut.png"), &out, &["--background", "#00ff00"]);
    assert!(run.status.success(), "{}", text(&run));
    let img = image::open(&out).expect("a JPEG now").into_rgb8();
    assert_eq!(img.dimensions(), (512, 512));
    // The corner is background: green, give or take JPEG's rounding.
    let corner = img.get_pixel(2, 2).0;
    assert!(
        corner[0] < 40 && corner[1] > 215 && corner[2] < 40,
        "{corner:?}"
    );
    let white = dir.join("white.jpeg");
    let run = cutout(&data("astronaut.png"), &white, &[]);
    assert!(run.status.success(), "{}", text(&run));
    let corner = image::open(&white)
        .expect("jpeg")
        .into_rgb8()
        .get_pixel(2, 2)
        .0;
    assert!(
        corner.iter().all(|&c| c > 235),
        "white by default: {corner:?}"
    );
}

#[test]
fn a_cutout_that_fails_leaves_the_existing_file_untouched() {
    let dir = temp_dir("cli-keep");
    let bmp = dir.join("existing.bmp");
    std::fs::write(&bmp, b"precious").expect("seed");
    let run = cutout(&data("astronaut.png"), &bmp, &[]);
    assert!(!run.status.success());
    assert!(text(&run).contains(".png"), "{}", text(&run));
    assert_eq!(std::fs::read(&bmp).expect("read"), b"precious");

    let png = dir.join("existing.png");
    std::fs::write(&png, b"precious").expect("seed");
    let run = cutout(&data("truncated.png"), &png, &[]);
    assert!(!run.status.success());
    assert_eq!(std::fs::read(&png).expect("read"), b"precious");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary left behind: {names:?}");
}

/// Half of a JPEG: the decoder would fill the rest with grey.
fn truncated_jpeg(path: &std::path::Path) {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::open(data("astronaut.png"))
        .expect("open")
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .expect("encode");
    let bytes = bytes.into_inner();
    std::fs::write(path, &bytes[..bytes.len() / 2]).expect("write");
}

#[test]
fn a_truncated_jpeg_is_an_error_naming_the_file() {
    let dir = temp_dir("cli-truncated-jpeg");
    let input = dir.join("half.jpg");
    truncated_jpeg(&input);
    let out = dir.join("out.png");
    let run = cutout(&input, &out, &[]);
    let msg = text(&run);
    assert!(!run.status.success(), "{msg}");
    assert!(
        msg.contains("half.jpg") && msg.contains("truncated"),
        "{msg}"
    );
    assert!(!out.exists());
}

#[test]
fn cutout_of_a_folder_goes_on_past_bad_files_and_lists_them() {
    let dir = temp_dir("cli-folder-bad");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    std::fs::copy(data("truncated.png"), input.join("a-bad.png")).expect("copy");
    truncated_jpeg(&input.join("b-half.jpg"));
    std::fs::copy(data("astronaut.png"), input.join("c-good.png")).expect("copy");
    let out = dir.join("out");
    let run = cutout(&input, &out, &[]);
    let msg = text(&run);
    assert!(!run.status.success(), "{msg}");
    assert!(msg.contains("2 of 3 images"), "{msg}");
    assert!(
        msg.contains("a-bad.png") && msg.contains("b-half.jpg"),
        "{msg}"
    );
    assert!(
        out.join("c-good.png").exists(),
        "the good one after the bad ones: {msg}"
    );
}
