//! The recorder thread: RGBA frames and PCM chunks in, fragmented MP4 out.
//!
//! [`Recorder::start`] opens the file and spawns the `samespace-record` thread,
//! returning a [`RecorderHandle`]. The handle's `push_*` methods never block:
//! they `try_send` into bounded channels and count what did not fit. The thread
//! converts and encodes each frame (H.264, yuvutils + OpenH264), aligns and
//! encodes audio (Opus, 20 ms), interleaves both on the recording's one clock
//! ([`Interleaver`]) and writes a fragment about every
//! [`RecorderConfig::fragment_duration`]. A write error (disk full) stops the
//! thread cleanly: the file is cut back to its last whole fragment, a
//! [`RecorderStatus::Failed`] goes to the status channel, and the caller goes on.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, select};

use super::error::RecordError;
use super::mp4::{AUDIO_TIMESCALE, AudioTrack, Mp4Writer, Tracks, VideoTrack, annex_b_to_avcc};
use super::sink::RecordSink;
use super::timeline::{AudioAligner, Interleaver, missed_slots, to_ticks};
use crate::media::h264::{ColorMatrix, H264Config, H264Encoder, PixelFormat, check_size};
use crate::media::opus::{FRAME_SAMPLES, OpusEncoder, PcmFramer};
use crate::output::{OutputError, PendingFile};

/// Render readback → recorder thread: RGBA frames. Full policy: the new frame is
/// dropped and counted in [`RecordStats::frames_dropped`]; the render loop never
/// waits. Small on purpose: a 720p RGBA frame is 3.7 MB, and a recorder that
/// falls behind should shed frames, not memory.
pub const RECORDER_VIDEO_CAPACITY: usize = 4;
/// Audio mixer → recorder thread: PCM chunks (typically 10–20 ms each). Full
/// policy: the chunk is dropped and counted; the gap becomes silence in the file.
pub const RECORDER_AUDIO_CAPACITY: usize = 256;
/// Recorder thread → UI: progress and failure. Full policy: the *oldest* message
/// is dropped to make room (the newest progress supersedes older ones, and a
/// failure always gets in); the final outcome is also returned by
/// [`RecorderHandle::stop`].
pub const RECORDER_STATUS_CAPACITY: usize = 32;

/// Audio track settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioSettings {
    /// Interleaved channels of the pushed PCM (1 or 2), 48 kHz i16.
    pub channels: u16,
    /// Opus bit rate in bits per second.
    pub bitrate_bps: u32,
}

/// How to record.
#[derive(Clone, Debug, PartialEq)]
pub struct RecorderConfig {
    /// Video width (even); pushed frames must have this size.
    pub width: u32,
    /// Video height (even).
    pub height: u32,
    /// Nominal frame rate (rate control and the last frame's duration).
    pub fps: f32,
    /// H.264 target bit rate.
    pub video_bitrate_bps: u32,
    /// A keyframe at least every this many frames.
    pub keyframe_interval: u32,
    /// The audio track, if any.
    pub audio: Option<AudioSettings>,
    /// Target media time per fragment; a crash loses at most about this much.
    pub fragment_duration: Duration,
    /// OpenH264 threads (1 leaves the other core to rendering).
    pub encoder_threads: u16,
}

impl Default for RecorderConfig {
    /// 1280x720 at 30 fps, 4 Mbit/s, a keyframe per second, stereo Opus at
    /// 128 kbit/s, half-second fragments.
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            fps: 30.0,
            video_bitrate_bps: 4_000_000,
            keyframe_interval: 30,
            audio: Some(AudioSettings {
                channels: 2,
                bitrate_bps: 128_000,
            }),
            fragment_duration: Duration::from_millis(500),
            encoder_threads: 1,
        }
    }
}

impl RecorderConfig {
    fn validate(&self) -> Result<(), RecordError> {
        if check_size(self.width, self.height).is_err() {
            return Err(RecordError::Config(
                "width and height must be even and at most 3840x2160",
            ));
        }
        if self.width > u32::from(u16::MAX) || self.height > u32::from(u16::MAX) {
            return Err(RecordError::Config("size does not fit the MP4 header"));
        }
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= 240.0) {
            return Err(RecordError::Config("fps must be in (0, 240]"));
        }
        if let Some(audio) = &self.audio
            && !(audio.channels == 1 || audio.channels == 2)
        {
            return Err(RecordError::Config("audio must be mono or stereo"));
        }
        if self.fragment_duration < Duration::from_millis(100)
            || self.fragment_duration > Duration::from_secs(10)
        {
            return Err(RecordError::Config(
                "fragment duration must be between 100 ms and 10 s",
            ));
        }
        Ok(())
    }

    fn h264(&self) -> H264Config {
        H264Config {
            width: self.width,
            height: self.height,
            fps: self.fps,
            bitrate_bps: self.video_bitrate_bps,
            keyframe_interval: self.keyframe_interval,
            matrix: ColorMatrix::Bt709,
            threads: self.encoder_threads,
            allow_frame_skip: false,
        }
    }
}

/// One rendered frame for the recording.
#[derive(Clone, Debug)]
pub struct VideoFrame {
    /// Packed pixels, top row first, `stride` bytes per row.
    pub pixels: Vec<u8>,
    /// Byte layout of a pixel.
    pub format: PixelFormat,
    /// Bytes per row (GPU readbacks pad rows to 256 bytes).
    pub stride: usize,
    /// Width in pixels (must equal the config's).
    pub width: u32,
    /// Height in pixels (must equal the config's).
    pub height: u32,
    /// Presentation time since the recording's origin.
    pub pts: Duration,
}

impl VideoFrame {
    /// A tightly packed RGBA8 frame.
    pub fn rgba(rgba: Vec<u8>, width: u32, height: u32, pts: Duration) -> Self {
        Self {
            pixels: rgba,
            format: PixelFormat::Rgba8,
            stride: width as usize * 4,
            width,
            height,
            pts,
        }
    }

    /// True if the buffer holds `height` rows of `stride` bytes (the last row may
    /// be unpadded) and the stride fits a row of `width` pixels.
    pub fn is_consistent(&self) -> bool {
        let row = self.width as usize * self.format.bytes_per_pixel();
        self.height > 0
            && self.stride >= row
            && self.pixels.len() >= self.stride * (self.height as usize - 1) + row
    }
}

/// One chunk of the audio mix.
#[derive(Clone, Debug)]
pub struct AudioChunk {
    /// Interleaved 48 kHz i16 samples with the configured channel count.
    pub samples: Vec<i16>,
    /// Time of the first sample since the recording's origin.
    pub pts: Duration,
}

/// What the recorder thread reports while it runs.
#[derive(Clone, Debug)]
pub enum RecorderStatus {
    /// The MP4 header is written (the first keyframe arrived).
    Started,
    /// A fragment was written.
    Progress {
        /// Bytes in the file.
        bytes_written: u64,
        /// Media time in the file.
        duration: Duration,
    },
    /// The recording stopped early; the file holds everything up to the failure.
    Failed(RecordError),
}

/// The outcome of a recording.
#[derive(Clone, Debug, Default)]
pub struct RecordStats {
    /// Frames that reached the recorder thread.
    pub frames_received: u64,
    /// Frames in the file (whole fragments written).
    pub frames_written: u64,
    /// Frames dropped because the queue was full (or the recorder had stopped).
    pub frames_dropped: u64,
    /// Frames refused: wrong size, or a time not after the previous frame's.
    pub frames_rejected: u64,
    /// Frame slots that rendering missed, filled with the frame before them (so
    /// the file plays at its frame rate, never faster).
    pub frames_repeated: u64,
    /// Audio chunks dropped because the queue was full.
    pub audio_chunks_dropped: u64,
    /// Opus packets in the file.
    pub audio_packets_written: u64,
    /// Media time in the file.
    pub duration: Duration,
    /// Size of the file.
    pub bytes_written: u64,
    /// Mean time per frame for RGBA→YUV conversion plus H.264 encoding.
    pub encode_ms_per_frame: f64,
    /// Why the recording ended early, if it did.
    pub error: Option<RecordError>,
    /// Where the recording is, for a recording to a path: the path asked for
    /// after a complete recording, the `.part` file after a failure, `None`
    /// when nothing was recorded (the `.part` file is then removed).
    pub path: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct Counters {
    frames_dropped: AtomicU64,
    audio_dropped: AtomicU64,
}

/// Starts recordings.
#[derive(Debug)]
pub struct Recorder;

impl Recorder {
    /// Starts recording for `path` (its parent folders are made). The bytes go
    /// to `PATH.part` beside it (see [`PendingFile::part`]), itself a playable
    /// fragmented MP4 at every fragment; a recording that ends well is renamed
    /// to `path`, so an existing file there is replaced only by a complete one.
    /// A failed recording stays in the `.part` file ([`RecordStats::path`]).
    pub fn start(
        path: impl AsRef<Path>,
        config: RecorderConfig,
    ) -> Result<RecorderHandle, RecordError> {
        let path = path.as_ref().to_path_buf();
        config.validate()?;
        let create_error = |e: OutputError| RecordError::Create {
            path: path.clone(),
            source: Arc::new(match e {
                OutputError::Io { source, .. } => source,
                OutputError::Unwritable { reason, .. } => std::io::Error::other(reason),
            }),
        };
        let output = PendingFile::part(&path).map_err(create_error)?;
        let file: File = output.try_clone_file().map_err(create_error)?;
        let mut handle = Self::start_inner(Box::new(file), config, Some(output))?;
        handle.path = Some(path);
        Ok(handle)
    }

    /// Starts recording into any sink (tests use failing or in-memory writers).
    pub fn start_with_sink(
        sink: Box<dyn RecordSink>,
        config: RecorderConfig,
    ) -> Result<RecorderHandle, RecordError> {
        Self::start_inner(sink, config, None)
    }

    fn start_inner(
        sink: Box<dyn RecordSink>,
        config: RecorderConfig,
        output: Option<PendingFile>,
    ) -> Result<RecorderHandle, RecordError> {
        config.validate()?;
        let (video_tx, video_rx) = bounded(RECORDER_VIDEO_CAPACITY);
        let (audio_tx, audio_rx) = bounded(RECORDER_AUDIO_CAPACITY);
        let (stop_tx, stop_rx) = bounded(1);
        let (status_tx, status_rx) = bounded(RECORDER_STATUS_CAPACITY);
        let counters = Arc::new(Counters::default());
        let status = StatusSender {
            tx: status_tx,
            rx: status_rx.clone(),
        };
        let mut core = Core::new(config, sink, status)?;
        core.output = output;
        let thread = std::thread::Builder::new()
            .name("samespace-record".into())
            .spawn(move || run(core, &video_rx, &audio_rx, &stop_rx))
            .map_err(|err| RecordError::Spawn(Arc::new(err)))?;
        tracing::info!("recording started");
        Ok(RecorderHandle {
            video_tx,
            audio_tx,
            stop_tx,
            status_rx,
            counters,
            thread: Some(thread),
            origin: Instant::now(),
            path: None,
        })
    }
}

/// The caller's side of a running recording. Dropping it stops the recording
/// (and waits for the file to be finalised); prefer [`stop`](Self::stop) to get
/// the stats.
#[derive(Debug)]
pub struct RecorderHandle {
    video_tx: Sender<VideoFrame>,
    audio_tx: Sender<AudioChunk>,
    stop_tx: Sender<()>,
    status_rx: Receiver<RecorderStatus>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<RecordStats>>,
    origin: Instant,
    path: Option<PathBuf>,
}

impl RecorderHandle {
    /// When the recording started: `pts` values are measured from here.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The file being written, if recording to a path.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Offers a frame with its presentation time since [`origin`](Self::origin).
    /// Never blocks: returns false (and counts a drop) if the queue is full or the
    /// recorder has stopped.
    pub fn push_video(&self, rgba: Vec<u8>, width: u32, height: u32, pts: Duration) -> bool {
        self.push_frame(VideoFrame::rgba(rgba, width, height, pts))
    }

    /// Offers a frame in any [`PixelFormat`] and row stride (a GPU readback as
    /// it comes). Never blocks; returns false and counts a drop if it did not fit.
    pub fn push_frame(&self, frame: VideoFrame) -> bool {
        match self.video_tx.try_send(frame) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::trace!("recorder queue full, frame dropped");
                false
            }
        }
    }

    /// Like [`push_video`](Self::push_video) with a capture instant on the
    /// recording's clock (instants before the origin count as the origin).
    pub fn push_video_at(
        &self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        captured_at: Instant,
    ) -> bool {
        let pts = captured_at.saturating_duration_since(self.origin);
        self.push_video(rgba, width, height, pts)
    }

    /// For offline sources only (tests, exports): waits for room in the queue
    /// instead of dropping. Returns false if the recorder has stopped.
    pub fn push_video_wait(&self, frame: VideoFrame) -> bool {
        self.video_tx.send(frame).is_ok()
    }

    /// Offers an audio chunk whose first sample plays at `pts` since the origin.
    /// Never blocks: returns false (and counts a drop) if the queue is full.
    pub fn push_audio(&self, samples: Vec<i16>, pts: Duration) -> bool {
        match self.audio_tx.try_send(AudioChunk { samples, pts }) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.audio_dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// For offline sources only: waits for room in the audio queue.
    pub fn push_audio_wait(&self, chunk: AudioChunk) -> bool {
        self.audio_tx.send(chunk).is_ok()
    }

    /// Progress and failures, for the UI to drain with `try_iter()`.
    pub fn status(&self) -> &Receiver<RecorderStatus> {
        &self.status_rx
    }

    /// Frames dropped so far because the queue was full.
    pub fn frames_dropped(&self) -> u64 {
        self.counters.frames_dropped.load(Ordering::Relaxed)
    }

    /// True once the recorder thread has ended (after a failure, or a stop).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops, writes what is queued, finalises the file and returns the stats.
    pub fn stop(mut self) -> RecordStats {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> RecordStats {
        let _ = self.stop_tx.try_send(());
        let mut stats = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(stats)) => stats,
            Some(Err(_)) => RecordStats {
                error: Some(RecordError::Panicked),
                ..RecordStats::default()
            },
            None => RecordStats::default(),
        };
        stats.frames_dropped = self.counters.frames_dropped.load(Ordering::Relaxed);
        stats.audio_chunks_dropped = self.counters.audio_dropped.load(Ordering::Relaxed);
        tracing::info!(
            frames = stats.frames_written,
            dropped = stats.frames_dropped,
            seconds = stats.duration.as_secs_f64(),
            failed = stats.error.is_some(),
            "recording stopped"
        );
        stats
    }
}

impl Drop for RecorderHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_inner();
        }
    }
}

enum Event {
    Video(VideoFrame),
    Audio(AudioChunk),
    Stop,
}

fn run(
    mut core: Core,
    video_rx: &Receiver<VideoFrame>,
    audio_rx: &Receiver<AudioChunk>,
    stop_rx: &Receiver<()>,
) -> RecordStats {
    let span = tracing::info_span!("recorder");
    let _guard = span.enter();
    loop {
        let event = select! {
            recv(video_rx) -> msg => msg.map_or(Event::Stop, Event::Video),
            recv(audio_rx) -> msg => msg.map_or(Event::Stop, Event::Audio),
            recv(stop_rx) -> _ => Event::Stop,
        };
        let result = match event {
            Event::Video(frame) => core.on_video(frame),
            Event::Audio(chunk) => core.on_audio(chunk),
            Event::Stop => break,
        };
        if let Err(err) = result {
            return core.fail(err);
        }
    }
    // Whatever was queued before the stop still goes in.
    let drained: Result<(), RecordError> = video_rx
        .try_iter()
        .try_for_each(|frame| core.on_video(frame))
        .and_then(|()| {
            audio_rx
                .try_iter()
                .try_for_each(|chunk| core.on_audio(chunk))
        });
    match drained {
        Ok(()) => core.finish(),
        Err(err) => core.fail(err),
    }
}

/// Audio encoding state: aligner → framer → Opus.
struct AudioPath {
    encoder: OpusEncoder,
    aligner: AudioAligner,
    framer: PcmFramer,
    /// Sample position of the next packet.
    next_packet: Option<u64>,
}

struct Core {
    config: RecorderConfig,
    encoder: H264Encoder,
    audio: Option<AudioPath>,
    interleaver: Interleaver,
    sink: Option<Box<dyn RecordSink>>,
    writer: Option<Mp4Writer>,
    last_pts: Option<Duration>,
    /// The last frame encoded, repeated into the frame slots after it that no
    /// frame arrived for.
    last_frame: Option<VideoFrame>,
    /// Added to every video time: the Opus pre-skip. Players drop the first
    /// `pre_skip` decoded samples and present the rest from the first packet's
    /// time *plus* the pre-skip, so video moves by the same amount to stay in sync.
    video_offset: Duration,
    stats: RecordStats,
    encode_time: Duration,
    frames_encoded: u64,
    status: StatusSender,
    /// The file being written for a path, renamed into place when complete.
    output: Option<PendingFile>,
}

/// The thread's end of the status channel, with drop-oldest on full.
struct StatusSender {
    tx: Sender<RecorderStatus>,
    rx: Receiver<RecorderStatus>,
}

impl StatusSender {
    fn send(&self, status: RecorderStatus) {
        let mut status = status;
        for _ in 0..RECORDER_STATUS_CAPACITY {
            match self.tx.try_send(status) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    status = back;
                    let _ = self.rx.try_recv();
                }
            }
        }
    }
}

impl Core {
    fn new(
        config: RecorderConfig,
        sink: Box<dyn RecordSink>,
        status: StatusSender,
    ) -> Result<Self, RecordError> {
        let encoder = H264Encoder::new(config.h264())?;
        let audio = match &config.audio {
            Some(settings) => {
                let encoder = OpusEncoder::new(settings.channels, settings.bitrate_bps)?;
                let frame_len = encoder.frame_len();
                Some(AudioPath {
                    encoder,
                    aligner: AudioAligner::new(settings.channels),
                    framer: PcmFramer::new(frame_len),
                    next_packet: None,
                })
            }
            None => None,
        };
        let nominal = Duration::from_secs_f64(1.0 / f64::from(config.fps));
        let video_offset = audio.as_ref().map_or(Duration::ZERO, |a| {
            Duration::from_nanos(
                u64::from(a.encoder.pre_skip()) * 1_000_000_000 / u64::from(AUDIO_TIMESCALE),
            )
        });
        let interleaver = Interleaver::new(config.fragment_duration, nominal, audio.is_some());
        Ok(Self {
            config,
            encoder,
            audio,
            interleaver,
            sink: Some(sink),
            writer: None,
            last_pts: None,
            last_frame: None,
            video_offset,
            stats: RecordStats::default(),
            encode_time: Duration::ZERO,
            frames_encoded: 0,
            status,
            output: None,
        })
    }

    fn on_video(&mut self, frame: VideoFrame) -> Result<(), RecordError> {
        self.stats.frames_received += 1;
        if frame.width != self.config.width
            || frame.height != self.config.height
            || !frame.is_consistent()
            || self.last_pts.is_some_and(|last| frame.pts <= last)
        {
            self.stats.frames_rejected += 1;
            tracing::debug!(
                width = frame.width,
                height = frame.height,
                "frame refused: wrong size or out of order"
            );
            return Ok(());
        }
        // Slots the render loop missed show the frame before them.
        self.hold_last_frame(frame.pts)?;
        self.encode(&frame)?;
        self.last_frame = Some(frame);
        Ok(())
    }

    /// Repeats the last frame encoded into each frame slot after it and before
    /// `until` (see [`missed_slots`]); the last frame is forgotten.
    fn hold_last_frame(&mut self, until: Duration) -> Result<(), RecordError> {
        let Some(mut last) = self.last_frame.take() else {
            return Ok(());
        };
        for pts in missed_slots(last.pts, until, self.config.fps) {
            last.pts = pts;
            self.encode(&last)?;
            self.stats.frames_repeated += 1;
        }
        Ok(())
    }

    /// Encodes one frame at its time and hands it to the interleaver.
    fn encode(&mut self, frame: &VideoFrame) -> Result<(), RecordError> {
        let started = Instant::now();
        let pts_ms = u64::try_from(frame.pts.as_millis()).unwrap_or(u64::MAX);
        let encoded =
            self.encoder
                .encode_pixels(&frame.pixels, frame.format, frame.stride, pts_ms)?;
        self.encode_time += started.elapsed();
        self.frames_encoded += 1;
        if self.writer.is_none() {
            let track = VideoTrack::from_keyframe(
                self.config.width as u16,
                self.config.height as u16,
                &encoded.annex_b,
            );
            match (encoded.is_keyframe, track) {
                (true, Some(video)) => self.open_writer(video)?,
                _ => {
                    // A file must start at a keyframe with its parameter sets.
                    self.encoder.force_keyframe();
                    self.stats.frames_rejected += 1;
                    return Ok(());
                }
            }
        }
        let sample = annex_b_to_avcc(&encoded.annex_b);
        if sample.is_empty() {
            // The encoder skipped this picture; the previous one lasts longer.
            self.stats.frames_rejected += 1;
            return Ok(());
        }
        self.last_pts = Some(frame.pts);
        let time = frame.pts + self.video_offset;
        if !self
            .interleaver
            .push_video(time, sample, encoded.is_keyframe)
        {
            // Less than one 90 kHz tick after the previous frame.
            self.stats.frames_rejected += 1;
        }
        self.pump()
    }

    fn open_writer(&mut self, video: VideoTrack) -> Result<(), RecordError> {
        let Some(sink) = self.sink.take() else {
            return Ok(());
        };
        let audio = self.audio.as_ref().map(|a| AudioTrack {
            channels: a.encoder.channels(),
            pre_skip: a.encoder.pre_skip(),
        });
        self.writer = Some(Mp4Writer::new(sink, &Tracks { video, audio })?);
        self.status.send(RecorderStatus::Started);
        tracing::debug!("mp4 header written");
        Ok(())
    }

    fn on_audio(&mut self, chunk: AudioChunk) -> Result<(), RecordError> {
        let Some(audio) = self.audio.as_mut() else {
            return Ok(());
        };
        let position = to_ticks(chunk.pts, AUDIO_TIMESCALE);
        let before = audio.aligner.next_position();
        let pcm = audio.aligner.push(position, &chunk.samples);
        if audio.next_packet.is_none() {
            audio.next_packet = Some(audio.aligner.start().unwrap_or(before));
        }
        audio.framer.push(&pcm);
        while let Some(frame) = audio.framer.pop() {
            Self::encode_audio_frame(audio, &mut self.interleaver, &frame)?;
        }
        self.pump()
    }

    fn encode_audio_frame(
        audio: &mut AudioPath,
        interleaver: &mut Interleaver,
        frame: &[i16],
    ) -> Result<(), RecordError> {
        let packet = audio.encoder.encode_i16(frame)?;
        let position = audio.next_packet.unwrap_or(0);
        interleaver.push_audio(position, FRAME_SAMPLES as u32, packet);
        audio.next_packet = Some(position + FRAME_SAMPLES as u64);
        Ok(())
    }

    /// Writes every fragment the interleaver has ready (once the header is out).
    fn pump(&mut self) -> Result<(), RecordError> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        while let Some(fragment) = self.interleaver.poll_fragment() {
            writer.write_fragment(&fragment)?;
            self.stats.frames_written += fragment.video.len() as u64;
            self.stats.audio_packets_written += fragment.audio.len() as u64;
            self.status.send(RecorderStatus::Progress {
                bytes_written: writer.bytes_written(),
                duration: Duration::from_secs_f64(writer.duration_secs()),
            });
        }
        Ok(())
    }

    /// Writes the rest and finalises the header. Video that stopped before the
    /// audio (the render loop stalled at the end) is held on its last frame until
    /// the audio ends.
    fn finish(mut self) -> RecordStats {
        let audio_end = self.audio.as_ref().map(|a| {
            crate::record::timeline::from_ticks(a.aligner.next_position(), AUDIO_TIMESCALE)
        });
        if let Some(end) = audio_end
            && let Err(err) = self.hold_last_frame(end)
        {
            tracing::warn!(%err, "the last frame could not be held to the end");
        }
        if let Some(audio) = self.audio.as_mut()
            && let Some(tail) = audio.framer.flush()
            && let Err(err) = Self::encode_audio_frame(audio, &mut self.interleaver, &tail)
        {
            tracing::warn!(%err, "last audio frame lost");
        }
        let result = match (self.writer.as_mut(), self.interleaver.finish()) {
            (Some(writer), Some(fragment)) => writer.write_fragment(&fragment).map(|()| {
                self.stats.frames_written += fragment.video.len() as u64;
                self.stats.audio_packets_written += fragment.audio.len() as u64;
            }),
            _ => Ok(()),
        };
        if let Err(err) = result {
            self.report(err);
        }
        self.close()
    }

    /// Stops after an error: keeps the file as it is, patched if possible.
    fn fail(mut self, err: RecordError) -> RecordStats {
        self.report(err);
        self.close()
    }

    fn report(&mut self, err: RecordError) {
        tracing::error!(error = %err, "recording failed");
        self.status.send(RecorderStatus::Failed(err.clone()));
        if self.stats.error.is_none() {
            self.stats.error = Some(err);
        }
    }

    fn close(mut self) -> RecordStats {
        if let Some(writer) = self.writer.take() {
            self.stats.bytes_written = writer.bytes_written();
            self.stats.duration = Duration::from_secs_f64(writer.duration_secs());
            if let Err(err) = writer.finish() {
                tracing::warn!(%err, "could not write the final durations into the header");
            }
        } else if self.stats.error.is_none() {
            tracing::warn!("recording stopped before any frame: the file is empty");
        }
        self.sink.take();
        if self.frames_encoded > 0 {
            self.stats.encode_ms_per_frame =
                self.encode_time.as_secs_f64() * 1000.0 / self.frames_encoded as f64;
        }
        if let Some(output) = self.output.take() {
            self.settle_output(output);
        }
        self.stats
    }

    /// Puts the file where it belongs: a complete recording over the path
    /// asked for, a failed one left in its `.part` file, an empty one removed.
    fn settle_output(&mut self, output: PendingFile) {
        if self.stats.frames_written == 0 {
            if self.stats.error.is_none() {
                self.stats.error = Some(RecordError::Empty);
            }
            output.discard();
            return;
        }
        if self.stats.error.is_some() {
            let part = output.temp_path().to_path_buf();
            tracing::warn!(path = %part.display(), "the recording so far is kept in the .part file");
            self.stats.path = Some(part);
            return;
        }
        let part = output.temp_path().to_path_buf();
        match output.commit() {
            Ok(path) => self.stats.path = Some(path),
            Err(err) => {
                self.stats.path = Some(part);
                let (path, source) = match err {
                    OutputError::Io { path, source } => (path, source),
                    OutputError::Unwritable { path, reason } => {
                        (path, std::io::Error::other(reason))
                    }
                };
                self.report(RecordError::Rename {
                    path,
                    source: Arc::new(source),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::Mutex;

    use crate::record::sink::FullAfter;

    fn small_config() -> RecorderConfig {
        RecorderConfig {
            width: 64,
            height: 48,
            audio: Some(AudioSettings {
                channels: 1,
                bitrate_bps: 32_000,
            }),
            ..RecorderConfig::default()
        }
    }

    fn frame(i: u32) -> VideoFrame {
        let mut rgba = vec![0u8; 64 * 48 * 4];
        for (j, px) in rgba.chunks_exact_mut(4).enumerate() {
            px[0] = ((j as u32 + i * 7) % 251) as u8;
            px[1] = (j % 13 * 19) as u8;
        }
        VideoFrame::rgba(rgba, 64, 48, Duration::from_millis(u64::from(i) * 33 + 1))
    }

    #[test]
    fn an_uncreatable_path_is_a_create_error() {
        let err = Recorder::start("/dev/null/sub/out.mp4", small_config()).expect_err("refused");
        assert!(matches!(err, RecordError::Create { .. }), "{err:?}");
        assert!(err.to_string().contains("/dev/null/sub/out.mp4"));
    }

    #[test]
    fn an_existing_file_is_replaced_only_by_a_finished_recording() {
        let dir = std::env::temp_dir().join(format!("samespace-rec-part-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let target = dir.join("r.mp4");
        std::fs::write(&target, b"an older recording").expect("seed");
        let handle = Recorder::start(&target, small_config()).expect("start");
        for i in 0..20 {
            assert!(handle.push_video_wait(frame(i)));
        }
        assert_eq!(
            std::fs::read(&target).expect("read"),
            b"an older recording",
            "untouched while recording"
        );
        assert!(dir.join("r.mp4.part").exists(), "written beside it");
        let stats = handle.stop();
        assert!(stats.error.is_none(), "{:?}", stats.error);
        assert_eq!(stats.path.as_deref(), Some(target.as_path()));
        let bytes = std::fs::read(&target).expect("read");
        assert_eq!(&bytes[4..8], b"ftyp", "an MP4 now");
        assert!(!dir.join("r.mp4.part").exists());

        // Nothing recorded: an error, and the file stays as it was.
        let empty = Recorder::start(&target, small_config()).expect("start");
        let stats = empty.stop();
        assert!(
            matches!(stats.error, Some(RecordError::Empty)),
            "{:?}",
            stats.error
        );
        assert_eq!(stats.path, None);
        assert_eq!(std::fs::read(&target).expect("read"), bytes);
        assert!(!dir.join("r.mp4.part").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn invalid_configs_are_refused_before_any_thread_starts() {
        let sink = Box::new(io::Cursor::new(Vec::new()));
        let config = RecorderConfig {
            width: 65,
            ..small_config()
        };
        assert!(matches!(
            Recorder::start_with_sink(sink, config),
            Err(RecordError::Config(_))
        ));
    }

    #[test]
    fn a_full_disk_stops_the_recording_with_a_write_error_and_keeps_whole_fragments() {
        let data = Arc::new(Mutex::new(Vec::new()));
        let sink = Box::new(FullAfter {
            data: Arc::clone(&data),
            limit: 6_000,
        });
        let handle = Recorder::start_with_sink(sink, small_config()).expect("start");
        let mut failed = false;
        for i in 0..150 {
            if !handle.push_video_wait(frame(i)) {
                break;
            }
            let pcm = vec![0i16; 1600];
            handle.push_audio_wait(AudioChunk {
                samples: pcm,
                pts: Duration::from_millis(u64::from(i) * 33 + 1),
            });
            if let Ok(RecorderStatus::Failed(_)) = handle.status().try_recv() {
                failed = true;
            }
        }
        let stats = handle.stop();
        assert!(
            matches!(stats.error, Some(RecordError::Write { .. })),
            "{:?} (failed status seen: {failed})",
            stats.error
        );
        let bytes = data.lock().expect("lock").clone();
        assert_eq!(
            bytes.len() as u64,
            stats.bytes_written,
            "cut back to whole boxes"
        );
        // The kept bytes are a sequence of whole top-level boxes.
        let mut i = 0;
        while i + 8 <= bytes.len() {
            i += u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize;
        }
        assert_eq!(i, bytes.len());
    }

    #[test]
    fn frames_of_the_wrong_size_or_order_are_rejected_not_fatal() {
        let sink = Box::new(io::Cursor::new(Vec::new()));
        let handle = Recorder::start_with_sink(sink, small_config()).expect("start");
        assert!(handle.push_video_wait(frame(1)));
        assert!(handle.push_video_wait(frame(0)));
        assert!(handle.push_video_wait(VideoFrame::rgba(
            vec![0; 16],
            2,
            2,
            Duration::from_secs(1)
        )));
        let mut short = frame(3);
        short.pixels.truncate(100);
        assert!(handle.push_video_wait(short));
        assert!(handle.push_video_wait(frame(2)));
        let stats = handle.stop();
        assert_eq!(stats.frames_written, 2);
        assert_eq!(stats.frames_rejected, 3);
        assert!(stats.error.is_none());
    }

    #[test]
    fn pushing_never_blocks_and_counts_drops_when_the_queue_is_full() {
        let sink = Box::new(io::Cursor::new(Vec::new()));
        let handle = Recorder::start_with_sink(sink, RecorderConfig::default()).expect("start");
        // Detailed content: encoding takes several times longer than a push.
        let rgba = crate::record::synthetic::SyntheticScene::textured(1280, 720).frame(0);
        let started = Instant::now();
        let mut accepted = 0;
        for i in 0..40u64 {
            if handle.push_video(rgba.clone(), 1280, 720, Duration::from_millis(i * 33 + 1)) {
                accepted += 1;
            }
        }
        let pushing = started.elapsed();
        let stats = handle.stop();
        assert!(pushing < Duration::from_secs(2), "pushing took {pushing:?}");
        assert_eq!(stats.frames_dropped + accepted, 40);
        assert!(
            stats.frames_dropped > 0,
            "a 720p encoder cannot keep up with a tight loop"
        );
    }
}
