//! Fitting pictures to the pipeline: every frame that leaves a source opened
//! by [`open_source`](super::open_source) has even sides (H.264's 4:2:0
//! needs them; a 910x1137 photo would otherwise never encode and its person
//! would never reach the room) and fits the pipeline's size, aspect kept.
//! [`fitted_size`] and [`fit_frame`] are pure; [`Fitted`] wraps a source.

use super::error::CaptureError;
use super::frame::Frame;
use super::source::{FrameSource, SourceInfo};

/// The size a `width`x`height` picture takes in a pipeline of at most
/// `max_width`x`max_height`: scaled down (never up) with its aspect kept,
/// then made even: an odd side loses its last row or column, a side of one
/// pixel is doubled.
pub fn fitted_size(width: u32, height: u32, max_width: u32, max_height: u32) -> (u32, u32) {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let scale = (f64::from(max_width.max(2)) / w)
        .min(f64::from(max_height.max(2)) / h)
        .min(1.0);
    let even = |v: f64| {
        let v = v.round() as u32;
        if v < 2 { 2 } else { v & !1 }
    };
    (even(w * scale), even(h * scale))
}

/// `frame` at `size`: cropped by a row or column where that is all it takes,
/// resized (bilinear) otherwise. Sequence number and capture time are kept.
pub fn fit_frame(frame: Frame, size: (u32, u32)) -> Frame {
    let (tw, th) = size;
    if (frame.width, frame.height) == (tw, th) {
        return frame;
    }
    let (w, h) = (frame.width as usize, frame.height as usize);
    let rgb = if tw <= frame.width
        && th <= frame.height
        && w - tw as usize <= 1
        && h - th as usize <= 1
    {
        let row = tw as usize * 3;
        let mut out = Vec::with_capacity(row * th as usize);
        for y in 0..th as usize {
            let start = y * w * 3;
            out.extend_from_slice(&frame.rgb[start..start + row]);
        }
        out
    } else {
        match image::RgbImage::from_raw(frame.width, frame.height, frame.rgb) {
            Some(img) => {
                image::imageops::resize(&img, tw, th, image::imageops::FilterType::Triangle)
                    .into_raw()
            }
            // `Frame::new` checked the length; a grey picture keeps the stream going.
            None => vec![128; tw as usize * th as usize * 3],
        }
    };
    Frame {
        seq: frame.seq,
        captured_at: frame.captured_at,
        width: tw,
        height: th,
        rgb,
        // A fitted frame is cut by the model.
        coverage: None,
    }
}

/// A source whose frames are fitted to the pipeline (see [`fitted_size`]).
pub struct Fitted {
    inner: Box<dyn FrameSource>,
    max: (u32, u32),
}

impl Fitted {
    /// Wraps `inner`, fitting its frames into `max_width`x`max_height`.
    pub fn new(inner: Box<dyn FrameSource>, max_width: u32, max_height: u32) -> Self {
        Self {
            inner,
            max: (max_width, max_height),
        }
    }
}

impl FrameSource for Fitted {
    fn info(&self) -> SourceInfo {
        let mut info = self.inner.info();
        (info.width, info.height) = fitted_size(info.width, info.height, self.max.0, self.max.1);
        info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        Ok(self.inner.next_frame()?.map(|f| {
            let size = fitted_size(f.width, f.height, self.max.0, self.max.1);
            fit_frame(f, size)
        }))
    }

    fn self_paced(&self) -> bool {
        self.inner.self_paced()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn frame(w: u32, h: u32) -> Frame {
        let rgb = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
        Frame::new(4, Instant::now(), w, h, rgb).expect("frame")
    }

    #[test]
    fn odd_sides_lose_a_row_or_column_and_big_pictures_shrink_to_fit() {
        assert_eq!(fitted_size(640, 480, 640, 480), (640, 480));
        assert_eq!(fitted_size(161, 121, 640, 480), (160, 120));
        assert_eq!(fitted_size(1, 1, 640, 480), (2, 2));
        assert_eq!(fitted_size(910, 1137, 640, 480), (384, 480));
        assert_eq!(fitted_size(1920, 1080, 640, 480), (640, 360));
        assert_eq!(fitted_size(7000, 3, 640, 480), (640, 2));
    }

    #[test]
    fn an_odd_frame_is_cropped_without_changing_the_pixels_kept() {
        let f = frame(5, 3);
        let original = f.rgb.clone();
        let fitted = fit_frame(f, fitted_size(5, 3, 640, 480));
        assert_eq!((fitted.width, fitted.height), (4, 2));
        assert_eq!(fitted.rgb.len(), 4 * 2 * 3);
        assert_eq!(&fitted.rgb[..12], &original[..12]);
        assert_eq!(&fitted.rgb[12..24], &original[15..27], "second row");
        assert_eq!(fitted.seq, 4);
    }

    #[test]
    fn a_large_portrait_frame_is_resized_to_an_even_size() {
        let fitted = fit_frame(frame(910, 1137), fitted_size(910, 1137, 640, 480));
        assert_eq!((fitted.width, fitted.height), (384, 480));
        assert_eq!(fitted.rgb.len(), 384 * 480 * 3);
        let tiny = fit_frame(frame(1, 1), (2, 2));
        assert_eq!(tiny.rgb.len(), 12);
    }
}
