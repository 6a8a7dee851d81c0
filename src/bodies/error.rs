//! Errors of the bodies capability.

use thiserror::Error;

/// Why a silhouette could not be built from a mask.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BodiesError {
    /// The mask's byte count is not `width * height`.
    #[error("mask has {len} bytes but {width}x{height} needs {expected}")]
    MaskSizeMismatch {
        /// Bytes given.
        len: usize,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// `width * height`.
        expected: usize,
    },
}
