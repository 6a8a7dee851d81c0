//! Errors of the segmentation capability.

use std::path::PathBuf;

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The model file does not exist.
    #[error("model file not found: {0}")]
    ModelNotFound(PathBuf),
    /// The file exists but is not a usable ONNX model (truncated, corrupt, another format).
    #[error(
        "model {path} cannot be loaded ({backend}): {reason}; expected an ONNX selfie-segmentation model with input `input_1` float32 {expected}"
    )]
    ModelInvalid {
        /// The file.
        path: PathBuf,
        /// Backend that tried.
        backend: &'static str,
        /// What the backend said.
        reason: String,
        /// Expected input shape, e.g. `[1,256,256,3]`.
        expected: String,
    },
    /// The model loads but its input or output has another shape than expected.
    #[error("model {path} has {found}, expected {expected}")]
    ModelShape {
        /// The file.
        path: PathBuf,
        /// What was expected.
        expected: String,
        /// What the model has.
        found: String,
    },
    /// ONNX Runtime was asked for but its library is not available.
    #[error("ONNX Runtime is not available: {0}")]
    RuntimeUnavailable(String),
    /// Running the model failed.
    #[error("inference failed ({backend}): {reason}")]
    Inference {
        /// Backend that ran.
        backend: &'static str,
        /// What it said.
        reason: String,
    },
    /// The frame is too small to segment.
    #[error("frame {width}x{height} is too small to segment")]
    FrameTooSmall {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// A buffer handed to a post-processing step has the wrong length.
    #[error("{what} has {found} values, expected {expected}")]
    SizeMismatch {
        /// Which buffer.
        what: &'static str,
        /// Length needed.
        expected: usize,
        /// Length given.
        found: usize,
    },
}
