//! Person segmentation: frames in, [`Cutout`]s out.
//!
//! - [`model`]: the MediaPipe selfie-segmentation models on ONNX Runtime (loaded at
//!   run time, see [`runtime`]) or tract (pure Rust, slower fallback).
//! - [`preprocess`] / [`postprocess`]: pure functions (model choice, letterbox, resize;
//!   temporal smoothing, speck removal, feathered upsampling).
//! - [`pipeline`]: frame → cutout, synchronous. [`worker`]: the same on the
//!   `samespace-segment` thread, fed by the capture channel and feeding a bounded
//!   channel of capacity [`SEGMENT_TO_WORLD_CAPACITY`] (newest wins).
//!
//! Invariant: a cutout's background pixels have alpha 0 and colour 0.

pub mod cutout;
pub mod error;
pub mod model;
pub mod pipeline;
pub mod postprocess;
pub mod preprocess;
pub mod runtime;
pub mod worker;

pub use cutout::Cutout;
pub use error::SegmentError;
pub use model::{BackendChoice, BackendKind, ModelChoice, ModelKind, Segmenter};
pub use pipeline::{CutoutPipeline, SegmentConfig, StageTimings};
pub use worker::{SEGMENT_TO_WORLD_CAPACITY, SegmentStats, SegmentWorker};

/// Encodes a cutout as an RGBA PNG file.
pub fn save_cutout_png(cutout: &Cutout, path: &std::path::Path) -> Result<(), image::ImageError> {
    image::save_buffer(
        path,
        &cutout.rgba,
        cutout.width,
        cutout.height,
        image::ExtendedColorType::Rgba8,
    )
}
