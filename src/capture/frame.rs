//! `Frame`: one captured RGB8 picture with its capture timestamp (pure data).

use std::time::Instant;

/// One picture from a frame source, tightly packed RGB8, row-major, top row first.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Sequence number within its source, starting at 0.
    pub seq: u64,
    /// When the source produced the picture; carried end to end for latency.
    pub captured_at: Instant,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes of RGB.
    pub rgb: Vec<u8>,
    /// The person's coverage where the source already knows it (`width * height`
    /// bytes, 255 where the person is): a friend's cutout made on their own
    /// machine, as the demo's drawn friends are. Segmentation takes it as the mask
    /// instead of running the model. `None` for a camera.
    pub coverage: Option<Vec<u8>>,
}

impl Frame {
    /// Builds a frame, checking that the buffer matches the size.
    pub fn new(
        seq: u64,
        captured_at: Instant,
        width: u32,
        height: u32,
        rgb: Vec<u8>,
    ) -> Result<Self, FrameSizeError> {
        let expected = width as usize * height as usize * 3;
        if width == 0 || height == 0 {
            return Err(FrameSizeError::Empty { width, height });
        }
        if rgb.len() != expected {
            return Err(FrameSizeError::BufferLength {
                expected,
                actual: rgb.len(),
            });
        }
        Ok(Self {
            seq,
            captured_at,
            width,
            height,
            rgb,
            coverage: None,
        })
    }

    /// The same frame with the person's known coverage (see [`Frame::coverage`]).
    pub fn with_coverage(self, coverage: Vec<u8>) -> Result<Self, FrameSizeError> {
        let expected = self.width as usize * self.height as usize;
        if coverage.len() != expected {
            return Err(FrameSizeError::BufferLength {
                expected,
                actual: coverage.len(),
            });
        }
        Ok(Self {
            coverage: Some(coverage),
            ..self
        })
    }

    /// RGB of the pixel at (x, y); panics-free: out-of-range reads clamp to the edge.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let x = x.min(self.width - 1) as usize;
        let y = y.min(self.height - 1) as usize;
        let i = (y * self.width as usize + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// A frame whose size and buffer disagree.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameSizeError {
    /// Width or height is zero.
    #[error("frame is empty ({width}x{height})")]
    Empty {
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
    },
    /// The pixel buffer has the wrong length.
    #[error("frame buffer has {actual} bytes, expected {expected}")]
    BufferLength {
        /// Bytes expected from the size.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
}
