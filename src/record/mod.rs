//! Recording the combined scene to MP4, without Bevy.
//!
//! The Bevy side reads back an offscreen render and the audio mix, and pushes
//! both into a [`RecorderHandle`] from [`Recorder::start`]:
//!
//! ```text
//! render readback ──VideoFrame (RGBA, pts)──▶ ┐  RECORDER_VIDEO_CAPACITY, drop + count
//! audio mixer ─────AudioChunk (i16, pts)────▶ ├─▶ samespace-record thread
//!                                             │     H.264 (openh264) + Opus → Interleaver → fragmented MP4 → file
//! UI ◀──────────RecorderStatus (progress, failure)── RECORDER_STATUS_CAPACITY
//! ```
//!
//! - [`mp4`]: hand-written fragmented MP4 boxes (`avc1`/`avcC`, `Opus`/`dOps`) and
//!   the writer; [`timeline`]: sans-IO audio alignment and A/V fragment cutting;
//!   [`recorder`]: the thread and its handle; [`synthetic`]: a flash-and-beep test
//!   source and [`bench_encode`]; [`sink`]: files and test writers; [`path`]:
//!   the recordings folder and timestamped file names; [`badge`]: the "● REC"
//!   badge drawn in the world while recording.
//!
//! Invariants: all timestamps are durations since the handle's [`origin`]
//! (one clock for audio and video); the render loop never blocks on the
//! recorder; every fragment is self-contained, so a killed process or a full
//! disk leaves a file that plays up to its last whole fragment (about
//! [`RecorderConfig::fragment_duration`] of loss at most).
//!
//! [`origin`]: RecorderHandle::origin

pub mod badge;
pub mod error;
pub mod mp4;
pub mod path;
pub mod plugin;
pub mod recorder;
pub mod sink;
pub mod synthetic;
pub mod timeline;

pub use crate::media::PixelFormat;
pub use error::RecordError;
pub use path::{recordings_dir, timestamped_name};
pub use recorder::{
    AudioChunk, AudioSettings, RECORDER_AUDIO_CAPACITY, RECORDER_STATUS_CAPACITY,
    RECORDER_VIDEO_CAPACITY, RecordStats, Recorder, RecorderConfig, RecorderHandle, RecorderStatus,
    VideoFrame,
};
pub use sink::RecordSink;
pub use synthetic::{EncodeBench, SyntheticOptions, bench_encode, record_synthetic};
