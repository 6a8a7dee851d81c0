//! Person segmentation: frames in, [`Cutout`]s out.
//!
//! - [`model`]: the MediaPipe selfie-segmentation models on ONNX Runtime (loaded at
//!   run time, see [`runtime`]) or tract (pure Rust, slower fallback).
//! - [`preprocess`] / [`postprocess`]: pure functions (model choice, letterbox, resize;
//!   temporal smoothing, speck removal, feathered upsampling).
//! - [`guided`]: edge refinement of the upsampled mask against the full-resolution frame.
//! - [`pipeline`]: frame → cutout, synchronous. [`worker`]: the same on the
//!   `samespace-segment` thread, fed by the capture channel and feeding a bounded
//!   channel of capacity [`SEGMENT_TO_WORLD_CAPACITY`] (newest wins).
//!
//! Invariant: a cutout's background pixels have alpha 0 and colour 0.

pub mod cutout;
pub mod error;
pub mod guided;
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

/// Writes a cutout in `format` (PNG or JPEG), whole or not at all (see
/// [`crate::output`]): an RGBA PNG, or, with a `background` colour, the person
/// flattened onto it (JPEG has no alpha, so it always needs one).
pub fn save_cutout(
    cutout: &Cutout,
    path: &std::path::Path,
    format: image::ImageFormat,
    background: Option<[u8; 3]>,
) -> Result<(), crate::output::WriteError<image::ImageError>> {
    let (pixels, colour) = match background {
        Some(bg) => (cutout.flattened(bg), image::ExtendedColorType::Rgb8),
        None => (cutout.rgba.clone(), image::ExtendedColorType::Rgba8),
    };
    crate::output::write_file(path, |w| {
        image::write_buffer_with_format(w, &pixels, cutout.width, cutout.height, colour, format)
    })
}
