//! Frame sources: webcam, still image, image sequence, video file (FFmpeg: MP4, MKV,
//! WebM, MOV, raw H.264; [`video_file`]), synthetic participant. `h264_file` is the
//! OpenH264-only reader of Annex-B streams (constrained baseline), kept for tests.
//!
//! Every source implements [`FrameSource`] and is driven by a [`CaptureWorker`] on its
//! own named thread, which hands [`Frame`]s (RGB8 + capture `Instant` + sequence number)
//! to the segmentation stage through a bounded channel of capacity
//! [`CAPTURE_TO_SEGMENT_CAPACITY`] where the newest frame wins. A source that fails
//! (a camera unplugged mid-stream) ends the worker cleanly with [`CaptureStatus::Failed`].

pub mod character;
pub mod error;
pub mod fit;
pub mod frame;
pub mod h264_file;
pub mod source;
pub mod still;
pub mod synthetic;
pub mod video_file;
pub mod webcam;

use std::path::Path;

pub use error::CaptureError;
pub use frame::Frame;
pub use source::{
    CAPTURE_TO_SEGMENT_CAPACITY, CaptureStatus, CaptureWorker, FrameSource, SourceInfo,
};
pub use synthetic::{SyntheticParams, SyntheticParticipant};

/// File extensions read as video through FFmpeg (lower case).
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mkv", "webm", "mov", "avi", "ivf", "h264", "264",
];

/// Opens a source from a command-line spec:
/// `synthetic` (or `demo`: an animated person, [`SyntheticParticipant`]), a camera
/// index or name (`0`, `webcam:0`, `webcam:usb`), an image file, a folder of images,
/// or a video file ([`VIDEO_EXTENSIONS`]).
///
/// Frames come out fitted to `width`x`height` with even sides ([`fit`]).
pub fn open_source(
    spec: &str,
    synthetic: SyntheticParams,
    width: u32,
    height: u32,
    fps: u32,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    let source = open_unfitted(spec, synthetic, width, height, fps)?;
    Ok(Box::new(fit::Fitted::new(source, width, height)))
}

fn open_unfitted(
    spec: &str,
    synthetic: SyntheticParams,
    width: u32,
    height: u32,
    fps: u32,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    if spec == "synthetic" || spec == "demo" {
        return Ok(Box::new(SyntheticParticipant::new(synthetic)));
    }
    if let Some(sel) = spec.strip_prefix("webcam:") {
        return Ok(Box::new(webcam::WebcamSource::open(
            sel, width, height, fps,
        )?));
    }
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(Box::new(still::ImageSequenceSource::open(
            path, fps as f32, true,
        )?));
    }
    if path.exists() {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
            return Ok(Box::new(video_file::VideoFileSource::open(
                path, width, height, true,
            )?));
        }
        return Ok(Box::new(still::StillImageSource::open(path)?));
    }
    if spec.parse::<u32>().is_ok() {
        return Ok(Box::new(webcam::WebcamSource::open(
            spec, width, height, fps,
        )?));
    }
    Err(CaptureError::NotFound(path.to_path_buf()))
}
