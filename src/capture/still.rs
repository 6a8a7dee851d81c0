//! Still-image and image-sequence sources: a photo repeated, or a folder played in order.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::error::CaptureError;
use super::frame::Frame;
use super::source::{FrameSource, SourceInfo};

/// Decodes an image file into RGB8, with clear errors for missing, corrupt or empty files.
pub fn load_rgb(path: &Path) -> Result<(u32, u32, Vec<u8>), CaptureError> {
    if !path.exists() {
        return Err(CaptureError::NotFound(path.to_path_buf()));
    }
    let bytes = std::fs::read(path).map_err(|source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes.as_slice()))
        .with_guessed_format()
        .map_err(|source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if reader.format().is_none() {
        return Err(CaptureError::Unsupported {
            path: path.to_path_buf(),
            reason: "not a recognised image format (png or jpeg expected)".into(),
        });
    }
    let format = reader.format();
    if format == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(&bytes) {
        // The JPEG decoder fills a cut-off picture with grey and calls it done.
        return Err(CaptureError::Truncated(path.to_path_buf()));
    }
    let img = reader.decode().map_err(|source| CaptureError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(CaptureError::EmptyImage(path.to_path_buf()));
    }
    let rgb = img.into_rgb8();
    let (w, h) = rgb.dimensions();
    Ok((w, h, rgb.into_raw()))
}

/// Whether a JPEG's bytes reach its end-of-image marker. Walks the marker
/// segments to the first start-of-scan, then looks for `FF D9` after it:
/// inside entropy-coded data `FF` is always followed by `00` or a restart
/// marker, so `FF D9` there is the real end, and a thumbnail in the EXIF
/// segment (with its own end marker) is skipped with its segment.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return false;
    }
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of fill bytes (FF).
        while i + 1 < bytes.len() && bytes[i] == 0xFF && bytes[i + 1] == 0xFF {
            i += 1;
        }
        if i + 4 > bytes.len() || bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        match marker {
            // End of image before any scan: no picture at all.
            0xD9 => return false,
            // Stand-alone markers carry no length.
            0x01 | 0xD0..=0xD7 => {
                i += 2;
                continue;
            }
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if len < 2 {
            return false;
        }
        let end = i + 2 + len;
        if marker == 0xDA {
            return bytes
                .get(end..)
                .is_some_and(|rest| rest.windows(2).any(|w| w == [0xFF, 0xD9]));
        }
        i = end;
    }
}

/// Lists the image files (png, jpg, jpeg) in a folder, sorted by name.
pub fn list_images(folder: &Path) -> Result<Vec<PathBuf>, CaptureError> {
    let entries = std::fs::read_dir(folder).map_err(|source| CaptureError::Io {
        path: folder.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .map(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
                .unwrap_or(false)
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CaptureError::EmptyFolder(folder.to_path_buf()));
    }
    Ok(files)
}

/// A single photo, produced again and again.
pub struct StillImageSource {
    path: PathBuf,
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    seq: u64,
}

impl StillImageSource {
    /// Opens and decodes the photo.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let (width, height, rgb) = load_rgb(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            width,
            height,
            rgb,
            seq: 0,
        })
    }
}

impl FrameSource for StillImageSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: format!("image {}", self.path.display()),
            width: self.width,
            height: self.height,
            fps: 30.0,
        }
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let frame = Frame::new(
            self.seq,
            Instant::now(),
            self.width,
            self.height,
            self.rgb.clone(),
        )?;
        self.seq += 1;
        Ok(Some(frame))
    }
}

/// A folder of images played in name order, looping if asked.
pub struct ImageSequenceSource {
    folder: PathBuf,
    files: Vec<PathBuf>,
    index: usize,
    looping: bool,
    fps: f32,
    size: (u32, u32),
    seq: u64,
}

impl ImageSequenceSource {
    /// Lists the folder and decodes its first image to learn the size.
    pub fn open(folder: &Path, fps: f32, looping: bool) -> Result<Self, CaptureError> {
        if !folder.exists() {
            return Err(CaptureError::NotFound(folder.to_path_buf()));
        }
        let files = list_images(folder)?;
        let (w, h, _) = load_rgb(&files[0])?;
        Ok(Self {
            folder: folder.to_path_buf(),
            files,
            index: 0,
            looping,
            fps,
            size: (w, h),
            seq: 0,
        })
    }

    /// The image files in play order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl FrameSource for ImageSequenceSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: format!("image sequence {}", self.folder.display()),
            width: self.size.0,
            height: self.size.1,
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        if self.index >= self.files.len() {
            if !self.looping {
                return Ok(None);
            }
            self.index = 0;
        }
        let path = &self.files[self.index];
        self.index += 1;
        let (w, h, rgb) = load_rgb(path)?;
        let frame = Frame::new(self.seq, Instant::now(), w, h, rgb)?;
        self.seq += 1;
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg_bytes() -> Vec<u8> {
        let rgb: Vec<u8> = (0..64 * 48 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = std::io::Cursor::new(Vec::new());
        image::write_buffer_with_format(
            &mut out,
            &rgb,
            64,
            48,
            image::ExtendedColorType::Rgb8,
            image::ImageFormat::Jpeg,
        )
        .expect("encode");
        out.into_inner()
    }

    #[test]
    fn a_whole_jpeg_is_complete_and_a_cut_one_is_not() {
        let whole = jpeg_bytes();
        assert!(jpeg_is_complete(&whole));
        let mut trailing = whole.clone();
        trailing.extend_from_slice(b"extra bytes some cameras append");
        assert!(jpeg_is_complete(&trailing));
        for keep in [whole.len() - 2, whole.len() * 2 / 3, 300, 20, 3] {
            assert!(!jpeg_is_complete(&whole[..keep]), "cut at {keep}");
        }
        assert!(!jpeg_is_complete(b"not a jpeg at all"));
    }

    #[test]
    fn a_truncated_jpeg_is_an_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("samespace-still-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let whole = jpeg_bytes();
        let path = dir.join("cut.jpg");
        std::fs::write(&path, &whole[..whole.len() * 2 / 3]).expect("write");
        let err = load_rgb(&path).expect_err("a cut JPEG is refused");
        assert!(matches!(err, CaptureError::Truncated(_)), "{err}");
        assert!(err.to_string().contains("cut.jpg"), "{err}");
        let good = dir.join("whole.jpg");
        std::fs::write(&good, &whole).expect("write");
        assert_eq!(load_rgb(&good).expect("decodes").0, 64);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
