//! `TalkError`: what can go wrong in the capture-side voice processing.

/// An error from the voice processing (echo cancellation, noise suppression, gain
/// control) or from the signal helpers around it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TalkError {
    /// A capture buffer that is not a whole number of 10 ms frames.
    #[error("capture buffer of {samples} samples is not a whole number of {frame}-sample frames")]
    FrameLength {
        /// Samples given.
        samples: usize,
        /// The frame length (10 ms at 48 kHz).
        frame: usize,
    },
    /// The audio processing module refused a frame or a setting.
    #[error("audio processing: {0}")]
    Processing(String),
    /// Two signals that must have the same length do not.
    #[error("signals differ in length: {left} and {right} samples")]
    LengthMismatch {
        /// Length of the first signal.
        left: usize,
        /// Length of the second signal.
        right: usize,
    },
    /// A measurement over a span that holds no signal to measure.
    #[error("nothing to measure: {0}")]
    Empty(&'static str),
}

impl From<sonora::Error> for TalkError {
    fn from(e: sonora::Error) -> Self {
        Self::Processing(e.to_string())
    }
}
