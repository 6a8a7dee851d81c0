//! Video-file source: a raw H.264 Annex-B elementary stream (`.h264`), decoded with openh264.

use std::path::{Path, PathBuf};
use std::time::Instant;

use openh264::decoder::Decoder;
use openh264::formats::YUVSource;

use super::error::CaptureError;
use super::frame::Frame;
use super::source::{FrameSource, SourceInfo};

/// Plays an H.264 Annex-B file at a fixed rate, looping if asked.
pub struct H264FileSource {
    path: PathBuf,
    data: Vec<u8>,
    /// Byte offsets of NAL units (start code included) in `data`.
    nals: Vec<(usize, usize)>,
    next: usize,
    decoder: Decoder,
    fps: f32,
    looping: bool,
    size: (u32, u32),
    seq: u64,
}

impl H264FileSource {
    /// Reads the file and decodes up to the first picture to learn the size.
    pub fn open(path: &Path, fps: f32, looping: bool) -> Result<Self, CaptureError> {
        if !path.exists() {
            return Err(CaptureError::NotFound(path.to_path_buf()));
        }
        let data = std::fs::read(path).map_err(|source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let nals = split_annex_b(&data);
        if nals.is_empty() {
            return Err(CaptureError::Video {
                path: path.to_path_buf(),
                message: "no H.264 start codes found (an Annex-B .h264 stream is expected)".into(),
            });
        }
        let decoder = Self::new_decoder(path)?;
        let mut source = Self {
            path: path.to_path_buf(),
            data,
            nals,
            next: 0,
            decoder,
            fps,
            looping,
            size: (0, 0),
            seq: 0,
        };
        let first = source.decode_next()?.ok_or_else(|| CaptureError::Video {
            path: path.to_path_buf(),
            message: "the stream holds no decodable picture".into(),
        })?;
        source.size = (first.width, first.height);
        source.next = 0;
        source.seq = 0;
        source.decoder = Self::new_decoder(path)?;
        Ok(source)
    }

    fn new_decoder(path: &Path) -> Result<Decoder, CaptureError> {
        Decoder::new().map_err(|e| CaptureError::Video {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    fn decode_next(&mut self) -> Result<Option<Frame>, CaptureError> {
        while self.next < self.nals.len() {
            let (a, b) = self.nals[self.next];
            self.next += 1;
            let decoded =
                self.decoder
                    .decode(&self.data[a..b])
                    .map_err(|e| CaptureError::Video {
                        path: self.path.clone(),
                        message: e.to_string(),
                    })?;
            if let Some(yuv) = decoded {
                let (w, h) = yuv.dimensions();
                let mut rgb = vec![0u8; w * h * 3];
                yuv.write_rgb8(&mut rgb);
                let frame = Frame::new(self.seq, Instant::now(), w as u32, h as u32, rgb)?;
                self.seq += 1;
                return Ok(Some(frame));
            }
        }
        Ok(None)
    }
}

/// Finds the NAL units of an Annex-B stream, as (start, end) byte ranges that
/// include their start codes.
pub fn split_annex_b(data: &[u8]) -> Vec<(usize, usize)> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            let s = if i > 0 && data[i - 1] == 0 { i - 1 } else { i };
            starts.push(s);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| (s, starts.get(k + 1).copied().unwrap_or(data.len())))
        .collect()
}

impl FrameSource for H264FileSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: format!("video {}", self.path.display()),
            width: self.size.0,
            height: self.size.1,
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        if let Some(f) = self.decode_next()? {
            return Ok(Some(f));
        }
        if !self.looping {
            return Ok(None);
        }
        self.next = 0;
        self.decoder = Self::new_decoder(&self.path)?;
        self.decode_next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_units_are_split_at_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9,
        ];
        let units = split_annex_b(&data);
        assert_eq!(units, vec![(0, 7), (7, 12), (12, 18)]);
    }

    #[test]
    fn bytes_without_start_codes_are_refused() {
        let dir = std::env::temp_dir().join(format!("samespace-h264-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("noise.h264");
        std::fs::write(&p, [7u8; 64]).expect("write");
        let err = H264FileSource::open(&p, 30.0, false)
            .err()
            .expect("must fail");
        assert!(err.to_string().contains("no H.264 start codes"));
    }
}
