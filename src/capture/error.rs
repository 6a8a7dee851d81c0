//! Errors of the capture capability.

use std::path::PathBuf;

/// Why a frame source could not be opened or stopped producing frames.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// A path given as a source does not exist.
    #[error("no such file or folder: {0}")]
    NotFound(PathBuf),
    /// An image file could not be decoded (corrupt, truncated or not an image).
    #[error("cannot decode image {path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        #[source]
        source: image::ImageError,
    },
    /// An image file that ends before its picture does (a cut-off download or copy).
    #[error("image {0} is truncated: it ends before the picture does")]
    Truncated(PathBuf),
    /// An image decoded to zero width or height.
    #[error("image {0} is empty (zero width or height)")]
    EmptyImage(PathBuf),
    /// A folder holds no readable images.
    #[error("folder {0} holds no images (png, jpg)")]
    EmptyFolder(PathBuf),
    /// A file format this source cannot read.
    #[error("unsupported input {path}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading a file or folder failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No camera is attached (or none can be opened).
    #[error("no camera found{0}")]
    NoCamera(String),
    /// The camera failed: it could not open, or it disappeared mid-stream.
    #[error("camera {camera}: {message}")]
    Camera {
        /// Which camera.
        camera: String,
        /// What the camera backend said.
        message: String,
    },
    /// A video file could not be decoded.
    #[error("cannot decode video {path}: {message}")]
    Video {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// A frame had an impossible size.
    #[error(transparent)]
    FrameSize(#[from] super::frame::FrameSizeError),
}
