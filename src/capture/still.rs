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
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
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
