//! Webcam source through nokhwa (V4L2 on Linux).

use std::time::Instant;

use nokhwa::Camera;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use super::error::CaptureError;
use super::frame::Frame;
use super::source::{FrameSource, SourceInfo};

/// One camera the system offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraDescription {
    /// Index to open it by.
    pub index: u32,
    /// Human-readable name.
    pub name: String,
}

/// Lists the attached cameras (empty when there are none).
pub fn list_cameras() -> Result<Vec<CameraDescription>, CaptureError> {
    let cams = nokhwa::query(ApiBackend::Auto).map_err(|e| CaptureError::Camera {
        camera: "query".into(),
        message: e.to_string(),
    })?;
    Ok(cams
        .into_iter()
        .enumerate()
        .map(|(i, c)| CameraDescription {
            index: match c.index() {
                CameraIndex::Index(n) => *n,
                CameraIndex::String(_) => i as u32,
            },
            name: c.human_name(),
        })
        .collect())
}

/// Picks a camera by index ("0") or by a case-insensitive part of its name.
pub fn select_camera(cameras: &[CameraDescription], selector: &str) -> Result<u32, CaptureError> {
    if cameras.is_empty() {
        return Err(CaptureError::NoCamera(
            " (no video devices; use --camera synthetic or an image/folder path)".into(),
        ));
    }
    if let Ok(n) = selector.parse::<u32>() {
        return cameras
            .iter()
            .find(|c| c.index == n)
            .map(|c| c.index)
            .ok_or_else(|| CaptureError::NoCamera(format!(" with index {n}")));
    }
    let needle = selector.to_lowercase();
    cameras
        .iter()
        .find(|c| c.name.to_lowercase().contains(&needle))
        .map(|c| c.index)
        .ok_or_else(|| CaptureError::NoCamera(format!(" named like {selector:?}")))
}

/// A live webcam. nokhwa's camera is not `Send`, so it lives on its own thread
/// (`samespace-webcam`) and hands decoded frames over a bounded channel.
pub struct WebcamSource {
    frames: crossbeam_channel::Receiver<Result<Frame, CaptureError>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    name: String,
    width: u32,
    height: u32,
    fps: u32,
}

/// Camera thread → webcam source: one decoded frame; when full the camera thread
/// drops its new frame (the consumer is behind anyway).
const WEBCAM_CAPACITY: usize = 1;

fn open_camera(
    index: u32,
    name: &str,
    width: u32,
    height: u32,
    fps: u32,
) -> Result<Camera, CaptureError> {
    let wanted = CameraFormat::new(Resolution::new(width, height), FrameFormat::MJPEG, fps);
    let request = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted));
    let err = |e: nokhwa::NokhwaError| CaptureError::Camera {
        camera: name.to_string(),
        message: e.to_string(),
    };
    let mut camera = Camera::new(CameraIndex::Index(index), request).map_err(err)?;
    camera.open_stream().map_err(err)?;
    Ok(camera)
}

fn grab(camera: &mut Camera, name: &str, seq: u64) -> Result<Frame, CaptureError> {
    let err = |e: nokhwa::NokhwaError| CaptureError::Camera {
        camera: name.to_string(),
        message: e.to_string(),
    };
    let buffer = camera.frame().map_err(err)?;
    let captured_at = Instant::now();
    let img = buffer.decode_image::<RgbFormat>().map_err(err)?;
    let (w, h) = img.dimensions();
    Ok(Frame::new(seq, captured_at, w, h, img.into_raw())?)
}

impl WebcamSource {
    /// Opens the camera chosen by `selector` at the closest format to the request.
    pub fn open(selector: &str, width: u32, height: u32, fps: u32) -> Result<Self, CaptureError> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let cams = list_cameras()?;
        let index = select_camera(&cams, selector)?;
        let name = cams
            .iter()
            .find(|c| c.index == index)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let (tx, rx) = crossbeam_channel::bounded(WEBCAM_CAPACITY);
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stop_t = stop.clone();
        let name_t = name.clone();
        let handle = std::thread::Builder::new()
            .name("samespace-webcam".into())
            .spawn(move || {
                let mut camera = match open_camera(index, &name_t, width, height, fps) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let f = camera.camera_format();
                let _ = ready_tx.send(Ok((
                    f.resolution().width_x,
                    f.resolution().height_y,
                    f.frame_rate(),
                )));
                let mut seq = 0;
                while !stop_t.load(Ordering::Relaxed) {
                    let frame = grab(&mut camera, &name_t, seq);
                    seq += 1;
                    let failed = frame.is_err();
                    match tx.try_send(frame) {
                        Err(crossbeam_channel::TrySendError::Disconnected(_)) => break,
                        _ if failed => break,
                        _ => {}
                    }
                }
                let _ = camera.stop_stream();
            })
            .map_err(|e| CaptureError::Camera {
                camera: name.clone(),
                message: e.to_string(),
            })?;
        let (w, h, f) = ready_rx.recv().map_err(|_| CaptureError::Camera {
            camera: name.clone(),
            message: "camera thread ended before opening".into(),
        })??;
        Ok(Self {
            frames: rx,
            stop,
            handle: Some(handle),
            name,
            width: w,
            height: h,
            fps: f,
        })
    }
}

impl FrameSource for WebcamSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: self.name.clone(),
            width: self.width,
            height: self.height,
            fps: self.fps as f32,
        }
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        match self.frames.recv_timeout(std::time::Duration::from_secs(3)) {
            Ok(frame) => frame.map(Some),
            Err(_) => Err(CaptureError::Camera {
                camera: self.name.clone(),
                message: "no frame for 3 s (camera disconnected?)".into(),
            }),
        }
    }

    fn self_paced(&self) -> bool {
        true
    }
}

impl Drop for WebcamSource {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selecting_from_no_cameras_says_there_is_none() {
        let err = select_camera(&[], "0").unwrap_err();
        assert!(err.to_string().contains("no camera found"));
    }

    #[test]
    fn cameras_are_chosen_by_index_or_name() {
        let cams = vec![
            CameraDescription {
                index: 0,
                name: "Integrated Webcam".into(),
            },
            CameraDescription {
                index: 2,
                name: "USB Capture HD".into(),
            },
        ];
        assert_eq!(select_camera(&cams, "2").ok(), Some(2));
        assert_eq!(select_camera(&cams, "usb").ok(), Some(2));
        assert!(select_camera(&cams, "7").is_err());
    }
}
