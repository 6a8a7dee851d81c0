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
