//! The `FrameSource` interface and the capture worker thread that drives one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use super::error::CaptureError;
use super::frame::Frame;

/// Capture thread → segmentation thread. Only the newest frame matters for live video:
/// when full, the producer drops the *oldest* queued frame and counts it.
pub const CAPTURE_TO_SEGMENT_CAPACITY: usize = 1;

/// What a source says about itself.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// Human-readable name (camera name, file path, "synthetic participant 2").
    pub name: String,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Nominal frames per second; the worker paces to it.
    pub fps: f32,
}

/// Anything that produces timestamped frames: camera, file, synthetic participant.
pub trait FrameSource: Send {
    /// Size, rate and name.
    fn info(&self) -> SourceInfo;
    /// The next frame; `Ok(None)` at the end of a finite source. May block until a
    /// frame is available (a camera), but not for much longer than a frame interval.
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError>;
    /// Whether the source paces itself (a camera blocks until the next frame); if
    /// not, the worker sleeps to keep `info().fps`.
    fn self_paced(&self) -> bool {
        false
    }
}

/// How a capture worker ended or is doing.
#[derive(Debug)]
pub enum CaptureStatus {
    /// The source ran out of frames (end of a file).
    Ended,
    /// The source failed (camera unplugged, unreadable file); the worker stopped cleanly.
    Failed(CaptureError),
}

/// Sends into a bounded channel, dropping the oldest queued item when it is full.
/// Returns false when the receiver is gone.
pub fn send_latest<T>(tx: &Sender<T>, drain: &Receiver<T>, item: T, dropped: &AtomicU64) -> bool {
    let mut item = item;
    loop {
        match tx.try_send(item) {
            Ok(()) => return true,
            Err(TrySendError::Disconnected(_)) => return false,
            Err(TrySendError::Full(back)) => {
                if drain.try_recv().is_ok() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                item = back;
            }
        }
    }
}

/// Owns a capture thread; dropping it stops and joins the thread.
pub struct CaptureWorker {
    /// Frames, newest wins (capacity [`CAPTURE_TO_SEGMENT_CAPACITY`]).
    pub frames: Receiver<Frame>,
    /// End or failure of the source.
    pub status: Receiver<CaptureStatus>,
    info: SourceInfo,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    /// Exponential average ms spent producing a frame, as `f32` bits.
    produce_ms: Arc<std::sync::atomic::AtomicU32>,
    handle: Option<JoinHandle<()>>,
}

impl CaptureWorker {
    /// Starts a thread that pulls frames from `source` at its rate.
    pub fn spawn(source: Box<dyn FrameSource>, thread_name: &str) -> std::io::Result<Self> {
        Self::spawn_with_capacity(source, thread_name, CAPTURE_TO_SEGMENT_CAPACITY)
    }

    /// As [`CaptureWorker::spawn`], with another queue capacity (tests, recording).
    pub fn spawn_with_capacity(
        mut source: Box<dyn FrameSource>,
        thread_name: &str,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let info = source.info();
        let (tx, rx) = bounded(capacity.max(1));
        let (status_tx, status_rx) = bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let drain = rx.clone();
        let (stop_t, dropped_t) = (stop.clone(), dropped.clone());
        let produce_ms = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let produce_t = produce_ms.clone();
        let interval = Duration::from_secs_f32(1.0 / info.fps.max(1.0));
        let handle = std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || {
                let mut next = Instant::now();
                while !stop_t.load(Ordering::Relaxed) {
                    if !source.self_paced() {
                        let now = Instant::now();
                        if next > now {
                            std::thread::sleep(next - now);
                        }
                        next = next.max(now - interval) + interval;
                    }
                    let t0 = Instant::now();
                    let next_frame = source.next_frame();
                    if !source.self_paced() {
                        let ms = t0.elapsed().as_secs_f32() * 1000.0;
                        let old = f32::from_bits(produce_t.load(Ordering::Relaxed));
                        let avg = if old == 0.0 {
                            ms
                        } else {
                            old + (ms - old) * 0.1
                        };
                        produce_t.store(avg.to_bits(), Ordering::Relaxed);
                    }
                    match next_frame {
                        Ok(Some(frame)) => {
                            if !send_latest(&tx, &drain, frame, &dropped_t) {
                                break;
                            }
                        }
                        Ok(None) => {
                            let _ = status_tx.try_send(CaptureStatus::Ended);
                            break;
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "frame source stopped");
                            let _ = status_tx.try_send(CaptureStatus::Failed(err));
                            break;
                        }
                    }
                }
            })?;
        Ok(Self {
            frames: rx,
            status: status_rx,
            info,
            stop,
            dropped,
            produce_ms,
            handle: Some(handle),
        })
    }

    /// Average ms the source takes to produce a frame (decode, synthesis); 0 for
    /// self-paced sources such as cameras, whose wait is not work.
    pub fn produce_ms(&self) -> f32 {
        f32::from_bits(self.produce_ms.load(Ordering::Relaxed))
    }

    /// The source's description.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Frames dropped because the consumer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether the thread has finished (source ended, failed or stopped).
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }
}

impl Drop for CaptureWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Unblock a producer waiting on nothing: the channel is never blocking-sent.
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting {
        n: u64,
        fail_after: u64,
    }

    impl FrameSource for Counting {
        fn info(&self) -> SourceInfo {
            SourceInfo {
                name: "counting".into(),
                width: 2,
                height: 2,
                fps: 500.0,
            }
        }
        fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
            if self.n == self.fail_after {
                return Err(CaptureError::Camera {
                    camera: "test".into(),
                    message: "device disappeared".into(),
                });
            }
            self.n += 1;
            Ok(Some(Frame::new(self.n, Instant::now(), 2, 2, vec![0; 12])?))
        }
    }

    #[test]
    fn full_queue_drops_the_oldest_frame() {
        let (tx, rx) = bounded(1);
        let dropped = AtomicU64::new(0);
        assert!(send_latest(&tx, &rx, 1, &dropped));
        assert!(send_latest(&tx, &rx, 2, &dropped));
        assert_eq!(rx.try_recv().ok(), Some(2));
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_source_that_fails_mid_stream_stops_the_worker_cleanly() {
        let worker = CaptureWorker::spawn(
            Box::new(Counting {
                n: 0,
                fail_after: 5,
            }),
            "test-capture",
        )
        .expect("spawn");
        let status = worker
            .status
            .recv_timeout(Duration::from_secs(5))
            .expect("status");
        assert!(matches!(
            status,
            CaptureStatus::Failed(CaptureError::Camera { .. })
        ));
        std::thread::sleep(Duration::from_millis(20));
        assert!(worker.is_finished());
    }
}
