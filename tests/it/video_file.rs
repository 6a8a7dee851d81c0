//! Video files as cameras (FFmpeg's libraries): containers and codecs made
//! here with the `ffmpeg` command, odd sizes, looping at the file's rate,
//! broken files, and a recording of the demo fed back as a camera.

use std::path::{Path, PathBuf};
use std::process::Command;

use samespace::capture::video_file::VideoFileSource;
use samespace::capture::{CaptureError, FrameSource, SyntheticParams, open_source};
use samespace::segment::{BackendChoice, CutoutPipeline, SegmentConfig};

use crate::common::{headless_demo, root, samespace, temp_dir, text};

/// Makes a 1-second, 10 fps test clip with `ffmpeg`; `None` when this
/// system's ffmpeg has no such encoder (AV1 is optional).
fn make_clip(dir: &Path, name: &str, size: &str, codec_args: &[&str]) -> Option<PathBuf> {
    let path = dir.join(name);
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=10:duration=1"))
        .args(codec_args)
        .arg(&path)
        .output()
        .expect("ffmpeg must be installed (scripts/setup.sh)");
    if !out.status.success() {
        eprintln!(
            "{name}: ffmpeg could not make it: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(path)
}

fn open(path: &Path) -> Result<Box<dyn FrameSource>, CaptureError> {
    open_source(
        path.to_str().expect("utf8"),
        SyntheticParams::default(),
        640,
        480,
        30,
    )
}

/// Reads `n` frames, checking each has the size the source announced.
fn read_frames(source: &mut dyn FrameSource, n: usize) -> usize {
    let info = source.info();
    let mut got = 0;
    for _ in 0..n {
        let Some(f) = source.next_frame().expect("decodes") else {
            break;
        };
        assert_eq!((f.width, f.height), (info.width, info.height));
        assert_eq!(f.rgb.len(), (f.width * f.height * 3) as usize);
        got += 1;
    }
    got
}

#[test]
fn common_containers_and_codecs_play_at_the_file_rate_and_loop() {
    let dir = temp_dir("video-formats");
    let h264_high = [
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
    ];
    let cases: Vec<(&str, Vec<&str>, bool)> = vec![
        ("high.mp4", h264_high.to_vec(), true),
        ("high.mkv", h264_high.to_vec(), true),
        ("high.mov", h264_high.to_vec(), true),
        ("high.h264", h264_high.to_vec(), true),
        ("vp8.webm", vec!["-c:v", "libvpx", "-b:v", "300k"], true),
        ("vp9.webm", vec!["-c:v", "libvpx-vp9", "-b:v", "300k"], true),
        (
            "av1.mkv",
            vec!["-c:v", "libaom-av1", "-cpu-used", "8", "-b:v", "200k"],
            false,
        ),
    ];
    for (name, args, required) in cases {
        let Some(path) = make_clip(&dir, name, "320x240", &args) else {
            assert!(!required, "{name} could not be made");
            continue;
        };
        let mut source = match open(&path) {
            Ok(s) => s,
            Err(e) if !required => {
                eprintln!("{name}: no decoder on this system: {e}");
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        let info = source.info();
        assert_eq!((info.width, info.height), (320, 240), "{name}");
        if !name.ends_with(".h264") {
            // A raw stream carries no rate of its own; containers say 10 fps.
            assert!((info.fps - 10.0).abs() < 0.01, "{name}: {} fps", info.fps);
        }
        // 25 frames from a 10-frame file: it loops.
        assert_eq!(read_frames(source.as_mut(), 25), 25, "{name}");
    }
}

#[test]
fn any_frame_size_is_fitted_to_the_pipeline_with_even_sides() {
    let dir = temp_dir("video-sizes");
    // FFV1 takes odd sizes (x264's 4:2:0 does not).
    for (size, codec, expected) in [
        ("161x121", "ffv1", (160, 120)),
        ("1280x720", "libx264", (640, 360)),
    ] {
        let path = make_clip(&dir, &format!("{size}.mkv"), size, &["-c:v", codec]).expect("clip");
        let mut source = open(&path).expect("open");
        assert_eq!((source.info().width, source.info().height), expected);
        assert_eq!(read_frames(source.as_mut(), 3), 3);
    }
}

#[test]
fn a_file_that_cannot_be_decoded_is_an_error_at_start_naming_it() {
    let dir = temp_dir("video-bad");
    let noise = dir.join("noise.mp4");
    std::fs::write(
        &noise,
        (0..20_000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .expect("write");
    let err = VideoFileSource::open(&noise, 640, 480, true)
        .err()
        .expect("noise is refused");
    assert!(err.to_string().contains("noise.mp4"), "{err}");
    let run = samespace(&[
        "demo",
        "--headless",
        "--camera",
        noise.to_str().expect("utf8"),
    ]);
    assert!(!run.status.success());
    assert!(text(&run).contains("noise.mp4"), "{}", text(&run));
}

#[test]
fn a_damaged_middle_is_skipped_and_the_video_plays_on() {
    let dir = temp_dir("video-damaged");
    let path = make_clip(
        &dir,
        "damaged.h264",
        "320x240",
        &["-c:v", "libx264", "-g", "3", "-bf", "0"],
    )
    .expect("clip");
    let mut bytes = std::fs::read(&path).expect("read");
    let mid = bytes.len() / 2;
    for (i, b) in bytes[mid..mid + 400].iter_mut().enumerate() {
        *b = (i * 37 % 256) as u8;
    }
    std::fs::write(&path, &bytes).expect("write");
    let mut source = VideoFileSource::open(&path, 640, 480, true).expect("the start is intact");
    assert_eq!(
        read_frames(&mut source, 30),
        30,
        "plays past the damage and loops"
    );
    assert!(
        source.decoder_errors() > 0,
        "the damage was noticed and skipped"
    );
}

/// The acceptance: a recording of the demo, fed back as a camera,
/// shows the scene, and its person is found again.
#[test]
fn a_demo_recording_fed_back_as_a_camera_shows_the_scene() {
    let dir = temp_dir("video-feedback");
    let record = dir.join("room.mp4");
    let run = headless_demo("3", "1", &["--record", record.to_str().expect("utf8")]);
    assert!(run.status.success(), "{}", text(&run));
    let mut source = open(&record).expect("the recording opens as a camera");
    // The recording starts black, then shows the beach before the first
    // cutout arrives: look at the pictures as they play until the person is in.
    let mut config = SegmentConfig::new(root().join("models"));
    config.backend = BackendChoice::Tract;
    config.temporal = false;
    let mut pipeline = CutoutPipeline::new(config);
    let mut coverage = 0.0f32;
    for _ in 0..40 {
        let frame = source.next_frame().expect("decodes").expect("a frame");
        let mean = frame.rgb.iter().map(|&v| u64::from(v)).sum::<u64>() / frame.rgb.len() as u64;
        if mean < 40 {
            continue;
        }
        coverage = pipeline.process(&frame).expect("segment").coverage();
        if coverage > 0.02 {
            break;
        }
    }
    assert!(
        coverage > 0.02,
        "person covers {coverage} of the recorded scene"
    );

    let report = dir.join("again.json");
    let run = headless_demo(
        "2",
        "1",
        &[
            "--camera",
            record.to_str().expect("utf8"),
            "--report",
            report.to_str().expect("utf8"),
        ],
    );
    assert!(run.status.success(), "{}", text(&run));
    let json = crate::common::read_json(&report);
    let me = &json["participants"][0];
    assert!(
        me["source"]
            .as_str()
            .unwrap_or_default()
            .contains("room.mp4"),
        "{json}"
    );
    assert!(me["cutouts_shown"].as_u64().unwrap_or(0) > 0, "{json}");
}
