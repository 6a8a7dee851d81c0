//! Recording end to end: real MP4 files in a temp dir, checked with ffprobe/ffmpeg
//! (Debian `ffmpeg` package): streams and duration, error-free decoding, A/V sync
//! of a flash and a beep, crash safety under SIGKILL, and write failures.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{read_json, temp_dir};
use samespace::media::audio::{SAMPLE_RATE, find_tone_onset, i16_to_f32};
use samespace::record::sink::FullAfter;
use samespace::record::synthetic::SyntheticScene;
use samespace::record::{
    AudioChunk, AudioSettings, RecordError, Recorder, RecorderConfig, SyntheticOptions, VideoFrame,
    record_synthetic,
};

fn run_tool(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{program} must be installed (Debian package ffmpeg): {err}"))
}

fn ffprobe_json(path: &Path) -> serde_json::Value {
    let out = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,codec_type,width,height,nb_read_frames,duration,start_time:format=duration",
            "-of",
            "json",
            path.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe json")
}

fn stream<'a>(probe: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    probe["streams"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["codec_type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} stream in {probe}"))
}

fn number(v: &serde_json::Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `ffmpeg -v error -i FILE -f null -`: (success, everything it printed).
fn decode_errors(path: &Path) -> (bool, String) {
    let out = run_tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            path.to_str().expect("utf-8 path"),
            "-f",
            "null",
            "-",
        ],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Presentation times of the decoded video frames, with their mean luma.
fn video_frames(path: &Path) -> Vec<(f64, f64)> {
    let graph = format!("movie={},signalstats", path.to_str().expect("utf-8 path"));
    let out = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            &graph,
            "-show_entries",
            "frame=best_effort_timestamp_time:frame_tags=lavfi.signalstats.YAVG",
            "-of",
            "csv=p=0",
        ],
    );
    assert!(
        out.status.success(),
        "ffprobe lavfi failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(',');
            let t = parts.next()?.trim().parse().ok()?;
            let y = parts.next()?.trim().parse().ok()?;
            Some((t, y))
        })
        .collect()
}

/// Decoded audio as mono f32, with the presentation time of its first sample.
fn audio_samples(path: &Path) -> (f64, Vec<f32>) {
    let p = path.to_str().expect("utf-8 path");
    let first = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
            "-read_intervals",
            "%+#1",
            "-of",
            "csv=p=0",
            p,
        ],
    );
    let start: f64 = String::from_utf8_lossy(&first.stdout)
        .lines()
        .next()
        .and_then(|l| l.trim().trim_end_matches(',').parse().ok())
        .expect("first audio frame time");
    let out = run_tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            p,
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-f",
            "s16le",
            "-acodec",
            "pcm_s16le",
            "-",
        ],
    );
    assert!(out.status.success(), "audio decode failed");
    let pcm: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    (start, i16_to_f32(&pcm))
}

#[test]
fn a_synthetic_recording_has_h264_video_and_an_audio_stream_of_the_expected_duration() {
    let dir = temp_dir("record-probe");
    let path = dir.join("out.mp4");
    let options = SyntheticOptions {
        seconds: 3.0,
        ..SyntheticOptions::default()
    };
    let stats = record_synthetic(&path, &options).expect("record");
    assert!(stats.error.is_none(), "{:?}", stats.error);
    assert_eq!(stats.frames_written, 90);
    assert_eq!(stats.frames_dropped, 0);
    let probe = ffprobe_json(&path);
    let video = stream(&probe, "video");
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["width"], 1280);
    assert_eq!(video["height"], 720);
    assert_eq!(number(&video["nb_read_frames"]), 90.0);
    let audio = stream(&probe, "audio");
    assert_eq!(audio["codec_name"], "opus");
    let duration = number(&probe["format"]["duration"]);
    assert!(
        (2.9..=3.2).contains(&duration),
        "format duration {duration}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ffmpeg_decodes_a_recording_without_printing_any_error() {
    let dir = temp_dir("record-clean");
    let path = dir.join("out.mp4");
    let options = SyntheticOptions {
        seconds: 2.0,
        width: 640,
        height: 360,
        ..SyntheticOptions::default()
    };
    let stats = record_synthetic(&path, &options).expect("record");
    assert!(stats.error.is_none());
    let (ok, text) = decode_errors(&path);
    assert!(ok && text.trim().is_empty(), "ffmpeg said: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flash_and_a_beep_issued_together_land_within_40_ms_of_each_other() {
    let dir = temp_dir("record-sync");
    let path = dir.join("out.mp4");
    let flash_at = Duration::from_millis(1500);
    let options = SyntheticOptions {
        seconds: 3.0,
        width: 640,
        height: 360,
        flash_at: Some(flash_at),
        ..SyntheticOptions::default()
    };
    let stats = record_synthetic(&path, &options).expect("record");
    assert!(stats.error.is_none());

    let frames = video_frames(&path);
    assert!(frames.len() >= 80, "{} frames", frames.len());
    let flash = frames
        .iter()
        .find(|(_, luma)| *luma > 200.0)
        .map(|(t, _)| *t)
        .expect("a white frame");
    let (audio_start, samples) = audio_samples(&path);
    let onset = find_tone_onset(&samples, SAMPLE_RATE, 1000.0, 480, 24, 0.2).expect("beep found");
    let beep = audio_start + onset as f64 / f64::from(SAMPLE_RATE);
    let offset_ms = (beep - flash) * 1000.0;
    eprintln!("flash at {flash:.4} s, beep at {beep:.4} s, audio after video by {offset_ms:.1} ms");
    assert!(offset_ms.abs() <= 40.0, "A/V offset {offset_ms:.1} ms");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_recording_killed_with_sigkill_after_3_s_still_decodes_at_least_2_s() {
    let dir = temp_dir("record-kill");
    let path = dir.join("killed.mp4");
    // An older file under the same name survives the crash untouched.
    std::fs::write(&path, b"an older recording").expect("seed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_samespace"))
        .args([
            "record-synthetic",
            "--seconds",
            "30",
            "--width",
            "640",
            "--height",
            "360",
        ])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn samespace");
    std::thread::sleep(Duration::from_secs(3));
    // `Child::kill` sends SIGKILL on Unix: no destructor, no finalisation.
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the child was killed, not finished");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        b"an older recording",
        "the existing file is replaced only by a finished recording"
    );
    // What was recorded is in the `.part` file, itself a fragmented MP4.
    let path = dir.join("killed.mp4.part");

    let out = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
            "-of",
            "csv=p=0",
            path.to_str().expect("utf-8 path"),
        ],
    );
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    let (first, last) = (
        times.first().copied().unwrap_or(0.0),
        times.last().copied().unwrap_or(0.0),
    );
    let decoded = last - first + 1.0 / 30.0;
    eprintln!(
        "killed recording: {} frames, {decoded:.2} s decodable",
        times.len()
    );
    assert!(decoded >= 2.0, "only {decoded:.2} s decodable");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recording_to_a_full_device_reports_a_write_error_without_panicking() {
    let options = SyntheticOptions {
        seconds: 1.0,
        width: 320,
        height: 240,
        ..SyntheticOptions::default()
    };
    let stats = record_synthetic(Path::new("/dev/full"), &options).expect("start");
    match stats.error {
        Some(RecordError::Write { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(28), "ENOSPC: {source}");
        }
        other => panic!("expected a write error, got {other:?}"),
    }
}

#[test]
fn a_write_failure_mid_recording_stops_cleanly_and_keeps_a_decodable_file() {
    let dir = temp_dir("record-fail");
    let data = Arc::new(Mutex::new(Vec::new()));
    let sink = FullAfter {
        data: Arc::clone(&data),
        limit: 40_000,
    };
    let config = RecorderConfig {
        width: 320,
        height: 240,
        video_bitrate_bps: 1_000_000,
        audio: Some(AudioSettings {
            channels: 1,
            bitrate_bps: 48_000,
        }),
        ..RecorderConfig::default()
    };
    let handle = Recorder::start_with_sink(Box::new(sink), config).expect("start");
    let scene = SyntheticScene::new(320, 240);
    let mut sent = 0;
    for i in 0..600u64 {
        let pts = Duration::from_millis(i * 100 / 3);
        let audio = AudioChunk {
            samples: vec![0; 1600],
            pts,
        };
        let frame = VideoFrame::rgba(scene.frame(i), 320, 240, pts);
        if !handle.push_audio_wait(audio) || !handle.push_video_wait(frame) {
            break;
        }
        sent += 1;
    }
    assert!(
        sent < 600,
        "the recorder stopped taking frames after the failure"
    );
    let failed = handle
        .status()
        .try_iter()
        .any(|s| matches!(s, samespace::record::RecorderStatus::Failed(_)));
    let stats = handle.stop();
    eprintln!("write failure: {stats:?}");
    assert!(failed, "a Failed status was reported");
    let err = stats.error.clone().expect("an error in the stats");
    assert!(matches!(err, RecordError::Write { .. }), "{err:?}");
    assert!(err.to_string().contains("writing the recording failed"));

    let path = dir.join("partial.mp4");
    let bytes = data.lock().expect("lock").clone();
    std::fs::write(&path, &bytes).expect("write partial file");
    let (ok, text) = decode_errors(&path);
    assert!(ok && text.trim().is_empty(), "ffmpeg said: {text}");
    let probe = ffprobe_json(&path);
    let frames = number(&stream(&probe, "video")["nb_read_frames"]);
    assert!(frames >= 15.0, "{frames} frames kept");
    assert_eq!(
        frames as u64, stats.frames_written,
        "stats count what the file holds"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The acceptance run: the demo room recorded for 8 s.
#[test]
fn a_recorded_demo_room_has_h264_video_and_audio_that_ffmpeg_decodes() {
    let dir = temp_dir("demo-record");
    let out = dir.join("r.mp4");
    let run = crate::common::samespace(&[
        "demo",
        "--headless",
        "--seconds",
        "8",
        "--participants",
        "3",
        "--record",
        out.to_str().expect("utf8"),
    ]);
    assert!(run.status.success(), "{}", crate::common::text(&run));
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name:format=duration",
            "-of",
            "json",
        ])
        .arg(&out)
        .output()
        .expect("ffprobe");
    let json: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe json");
    let streams = json["streams"].as_array().expect("streams");
    assert!(
        streams
            .iter()
            .any(|s| s["codec_type"] == "video" && s["codec_name"] == "h264"),
        "{json}"
    );
    assert!(streams.iter().any(|s| s["codec_type"] == "audio"), "{json}");
    let duration: f64 = json["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("duration");
    assert!((7.0..=9.0).contains(&duration), "duration {duration}");
    // It plays at real speed at 30 fps: slots the software renderer missed hold
    // the frame before them, so the frame count follows the duration.
    let counted = ffprobe_json(&out);
    let video = stream(&counted, "video");
    let frames = number(&video["nb_read_frames"]);
    let video_seconds = number(&video["duration"]);
    assert!(
        (frames - 30.0 * video_seconds).abs() <= 0.05 * 30.0 * video_seconds,
        "{frames} frames in {video_seconds} s: {counted}"
    );
    // Audio and video start together, and the first frame is the scene.
    let audio = stream(&counted, "audio");
    let offset = number(&audio["start_time"]) - number(&video["start_time"]);
    assert!(offset.abs() <= 0.040, "audio starts {offset} s after video");
    let luma = video_frames(&out);
    assert!(
        luma.first().is_some_and(|&(_, y)| y > 30.0),
        "first frame not the scene: {:?}",
        &luma[..luma.len().min(3)]
    );
    let decode = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&out)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(decode.status.success());
    assert!(
        decode.stderr.is_empty() && decode.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&decode.stderr)
    );
}

/// A full disk while recording: the recording stops with an error, the room
/// runs on to its end, and the exit status says the recording is missing.
#[test]
fn a_demo_recording_to_a_full_disk_reports_the_error_and_the_room_keeps_running() {
    let dir = temp_dir("demo-full");
    let report = dir.join("r.json");
    let run = crate::common::samespace(&[
        "demo",
        "--headless",
        "--seconds",
        "3",
        "--participants",
        "1",
        "--record",
        "/dev/full",
        "--report",
        report.to_str().expect("utf8"),
    ]);
    let msg = crate::common::text(&run);
    assert!(
        !run.status.success(),
        "the recording asked for is missing: {msg}"
    );
    assert!(msg.contains("not written: recording /dev/full"), "{msg}");
    let json = read_json(&report);
    let error = json["recording"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(error.contains("space") || error.contains("write"), "{json}");
    assert!(
        json["frames_rendered"].as_u64().unwrap_or(0) > 10,
        "the room stopped: {json}"
    );
}
