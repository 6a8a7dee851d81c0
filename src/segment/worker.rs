//! The segmentation thread: frames in, cutouts out, newest wins at both ends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::cutout::Cutout;
use super::error::SegmentError;
use super::pipeline::{CutoutPipeline, StageTimings};
use crate::capture::Frame;
use crate::capture::source::send_latest;

/// Segmentation thread → consumers (the Bevy world, the encoder). Latest wins:
/// when full, the oldest cutout is dropped and counted.
pub const SEGMENT_TO_WORLD_CAPACITY: usize = 2;

/// A second consumer of a worker's cutouts (e.g. the network encoder): the sending
/// end and, for dropping the oldest when full, a receiving end of one bounded channel.
/// Latest wins; a closed tee is ignored.
pub type CutoutTee = (Sender<Arc<Cutout>>, Receiver<Arc<Cutout>>);

/// Running figures of a segmentation worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct SegmentStats {
    /// Cutouts produced.
    pub frames: u64,
    /// Stage times of the last frame.
    pub last: StageTimings,
    /// Exponential average of the total ms per frame.
    pub avg_total_ms: f32,
    /// Exponential average of capture → cutout-ready latency in ms.
    pub avg_latency_ms: f32,
    /// Backend in use once the model is loaded.
    pub backend: Option<super::model::BackendKind>,
}

/// Owns the segmentation thread; dropping it stops and joins the thread.
pub struct SegmentWorker {
    /// Cutouts, newest wins (capacity [`SEGMENT_TO_WORLD_CAPACITY`]).
    pub cutouts: Receiver<Arc<Cutout>>,
    /// The error that stopped the worker, if any.
    pub failures: Receiver<SegmentError>,
    stats: Arc<Mutex<SegmentStats>>,
    dropped: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl SegmentWorker {
    /// Starts the thread on `frames` with a ready pipeline.
    pub fn spawn(
        frames: Receiver<Frame>,
        pipeline: CutoutPipeline,
        thread_name: &str,
    ) -> std::io::Result<Self> {
        Self::spawn_with_tee(frames, pipeline, thread_name, None)
    }

    /// Like [`SegmentWorker::spawn`], also handing every cutout to `tee` as soon as it
    /// is ready (no wait for the next rendered frame).
    pub fn spawn_with_tee(
        frames: Receiver<Frame>,
        mut pipeline: CutoutPipeline,
        thread_name: &str,
        tee: Option<CutoutTee>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = bounded(SEGMENT_TO_WORLD_CAPACITY);
        let (fail_tx, fail_rx) = bounded(1);
        let stats = Arc::new(Mutex::new(SegmentStats::default()));
        let dropped = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (stats_t, dropped_t, stop_t, drain) =
            (stats.clone(), dropped.clone(), stop.clone(), rx.clone());
        let tee_dropped = AtomicU64::new(0);
        let handle = std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || {
                while !stop_t.load(Ordering::Relaxed) {
                    let frame = match frames.recv_timeout(Duration::from_millis(100)) {
                        Ok(f) => f,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    match pipeline.process(&frame) {
                        Ok(cutout) => {
                            let latency = cutout.captured_at.elapsed().as_secs_f32() * 1000.0;
                            let t = pipeline.timings();
                            if let Ok(mut s) = stats_t.lock() {
                                let k = if s.frames == 0 { 1.0 } else { 0.1 };
                                s.frames += 1;
                                s.last = t;
                                s.backend = pipeline.backend();
                                s.avg_total_ms += (t.total_ms() - s.avg_total_ms) * k;
                                s.avg_latency_ms += (latency - s.avg_latency_ms) * k;
                            }
                            let cutout = Arc::new(cutout);
                            if let Some((tee_tx, tee_rx)) = &tee {
                                let _ = send_latest(tee_tx, tee_rx, cutout.clone(), &tee_dropped);
                            }
                            if !send_latest(&tx, &drain, cutout, &dropped_t) {
                                break;
                            }
                        }
                        Err(err) => {
                            tracing::error!(error = %err, "segmentation stopped");
                            let _ = fail_tx.try_send(err);
                            break;
                        }
                    }
                }
            })?;
        Ok(Self {
            cutouts: rx,
            failures: fail_rx,
            stats,
            dropped,
            stop,
            handle: Some(handle),
        })
    }

    /// Current figures.
    pub fn stats(&self) -> SegmentStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Cutouts dropped because the consumer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for SegmentWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
