//! `RecordError`: why a recording could not start or had to stop.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::media::MediaError;

/// An error of the recorder. Cloneable so it can go both to the status channel
/// and into the final [`RecordStats`](super::RecordStats).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecordError {
    /// The output file could not be created.
    #[error("cannot create recording file {path}")]
    Create {
        /// The path asked for.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },
    /// Writing to the output failed (disk full, device gone); everything before
    /// the failed fragment is kept and playable.
    #[error("writing the recording failed after {written} bytes")]
    Write {
        /// Bytes of whole boxes in the file when the write failed.
        written: u64,
        /// The OS error (for a full disk, `StorageFull` / ENOSPC).
        #[source]
        source: Arc<io::Error>,
    },
    /// Encoding audio or video failed.
    #[error("encoding the recording failed")]
    Media(#[source] Arc<MediaError>),
    /// A fragment too large for 32-bit box sizes (bit rate far beyond any setting).
    #[error("fragment payload of {0} bytes does not fit a 32-bit mdat box")]
    FragmentTooLarge(u64),
    /// The configuration cannot be recorded (size, frame rate, channels).
    #[error("invalid recorder configuration: {0}")]
    Config(&'static str),
    /// The recorder thread could not be started.
    #[error("cannot start the recorder thread")]
    Spawn(#[source] Arc<io::Error>),
    /// The recording ended before any frame reached the file; nothing was kept.
    #[error("the recording ended before any frame was recorded")]
    Empty,
    /// The finished recording could not be moved from its `.part` file to the
    /// path asked for (the `.part` file keeps it).
    #[error("cannot move the finished recording to {path}")]
    Rename {
        /// The path asked for.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The recorder thread panicked; the file holds what was written before.
    #[error("the recorder thread panicked")]
    Panicked,
}

impl RecordError {
    /// A write failure after `written` good bytes.
    pub fn write(written: u64, source: io::Error) -> Self {
        Self::Write {
            written,
            source: Arc::new(source),
        }
    }
}

impl From<MediaError> for RecordError {
    fn from(err: MediaError) -> Self {
        Self::Media(Arc::new(err))
    }
}
