//! `MediaError`: everything that can go wrong while converting, encoding or decoding media.

/// An error from the media layer (colour conversion, H.264, Opus, audio buffers).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// A picture size the codec path cannot take (zero, odd, or too large).
    #[error("unsupported picture size {width}x{height}: {reason}")]
    InvalidSize {
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
        /// Why the size was refused.
        reason: &'static str,
    },
    /// A pixel or sample buffer whose length does not match its declared shape.
    #[error("buffer has {actual} elements, expected {expected}")]
    BufferLength {
        /// Elements expected from the shape.
        expected: usize,
        /// Elements given.
        actual: usize,
    },
    /// RGB ⇄ YUV conversion failed in `yuvutils-rs`.
    #[error("colour conversion failed")]
    Convert(#[from] yuvutils_rs::YuvError),
    /// The OpenH264 encoder or decoder reported an error.
    #[error("h264 codec error")]
    H264(#[from] openh264::Error),
    /// OpenH264 refused a setting changed on a running encoder.
    #[error("openh264 refused {option} (code {code})")]
    H264Option {
        /// Which setting.
        option: &'static str,
        /// OpenH264's return code.
        code: i32,
    },
    /// libopus reported an error.
    #[error("opus codec error")]
    Opus(#[from] opus::Error),
    /// The voice processing could not be set up.
    #[error("voice processing: {0}")]
    Talk(#[from] crate::talk::TalkError),
    /// An audio layout this code does not handle (only mono and stereo are supported).
    #[error("unsupported channel count {0}, expected 1 or 2")]
    Channels(u16),
}
