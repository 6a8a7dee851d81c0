//! Video files as cameras, through FFmpeg's libraries (`ffmpeg-next` over the
//! system's libavformat/libavcodec/libswscale): MP4, MKV, WebM, MOV and raw
//! `.h264`, with whatever decoders the system has (H.264 of any profile, VP8,
//! VP9, AV1, ...).
//!
//! [`VideoFileSource::open`] starts a `samespace-video` thread that owns the
//! FFmpeg state (the scaler cannot leave the thread that made it), decodes
//! the first picture before it returns (a file that cannot be decoded is an
//! error at start, never a silent freeze), then decodes ahead into a bounded
//! channel of [`VIDEO_DECODE_AHEAD`] frames. Pictures are scaled to the
//! pipeline's size with even sides ([`fitted_size`]) and played on the file's
//! own clock (each picture at its timestamp, so variable-rate files keep their
//! timing), looping. A decoder error in the middle of the file skips to the
//! next keyframe, with one warning per file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, bounded};
use ffmpeg::format::Pixel;
use ffmpeg::media::Type;
use ffmpeg::software::scaling::{context::Context as Scaler, flag::Flags};
use ffmpeg::util::frame::video::Video as VideoFrame;
use ffmpeg_next as ffmpeg;

use super::error::CaptureError;
use super::fit::fitted_size;
use super::frame::Frame;
use super::source::{FrameSource, SourceInfo};

/// Decode thread → capture worker: pictures decoded ahead. Full policy: the
/// decoder waits (it is a file; nothing is lost by waiting), checking every
/// 100 ms whether the source was dropped.
pub const VIDEO_DECODE_AHEAD: usize = 2;

/// Consecutive unreadable packets after which a file counts as broken.
const MAX_READ_ERRORS: u32 = 64;

/// The longest wait for one picture: a jump in the file's timestamps does not
/// stall the camera.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// A decoded picture and its time on the file's clock, in seconds (growing
/// across loops).
type Timed = (Frame, f64);

/// A video file played as a camera.
pub struct VideoFileSource {
    info: SourceInfo,
    frames: Receiver<Result<Timed, CaptureError>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    seq: u64,
    /// The instant that media time 0 plays at.
    clock: Option<Instant>,
    /// Decoder errors met (each skipped to the next keyframe).
    errors: Arc<AtomicU64>,
}

impl VideoFileSource {
    /// Opens `path` and decodes its first picture; frames come out fitted
    /// into `max_width`x`max_height`. With `looping`, the file starts over at
    /// its end.
    pub fn open(
        path: &Path,
        max_width: u32,
        max_height: u32,
        looping: bool,
    ) -> Result<Self, CaptureError> {
        if !path.exists() {
            return Err(CaptureError::NotFound(path.to_path_buf()));
        }
        let (ready_tx, ready_rx) = bounded::<Result<SourceInfo, CaptureError>>(1);
        let (tx, rx) = bounded(VIDEO_DECODE_AHEAD);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_t = stop.clone();
        let errors = Arc::new(AtomicU64::new(0));
        let errors_t = errors.clone();
        let path_t = path.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("samespace-video".into())
            .spawn(move || {
                let span = tracing::info_span!("video", path = %path_t.display());
                let _guard = span.enter();
                let max = (max_width, max_height);
                decode_loop(&path_t, max, looping, &ready_tx, &tx, &stop_t, errors_t);
            })
            .map_err(|source| CaptureError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let info = ready_rx.recv().unwrap_or_else(|_| {
            Err(CaptureError::Video {
                path: path.to_path_buf(),
                message: "the decoder stopped before the first picture".into(),
            })
        })?;
        Ok(Self {
            info,
            frames: rx,
            stop,
            handle: Some(handle),
            seq: 0,
            clock: None,
            errors,
        })
    }

    /// Decoder errors met so far; each one skipped to the next keyframe.
    pub fn decoder_errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Waits until the picture at media time `t` is due.
    fn wait_for(&mut self, t: f64) {
        let now = Instant::now();
        let at = |t: f64| Duration::from_secs_f64(t.max(0.0));
        let clock = *self
            .clock
            .get_or_insert_with(|| now.checked_sub(at(t)).unwrap_or(now));
        let due = clock + at(t);
        if due > now + MAX_WAIT || now > due + MAX_WAIT {
            // A jump in the timestamps, or far behind: start the clock again here.
            self.clock = Some(now.checked_sub(at(t)).unwrap_or(now));
        } else if due > now {
            std::thread::sleep(due - now);
        }
    }
}

impl FrameSource for VideoFileSource {
    fn info(&self) -> SourceInfo {
        self.info.clone()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        match self.frames.recv() {
            Ok(Ok((mut frame, t))) => {
                self.wait_for(t);
                frame.seq = self.seq;
                frame.captured_at = Instant::now();
                self.seq += 1;
                Ok(Some(frame))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// The source keeps the file's clock itself.
    fn self_paced(&self) -> bool {
        true
    }
}

impl Drop for VideoFileSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Sends, waiting while the channel is full; false once the source is gone.
fn send<T>(tx: &Sender<T>, item: T, stop: &AtomicBool) -> bool {
    let mut item = item;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        match tx.send_timeout(item, Duration::from_millis(100)) {
            Ok(()) => return true,
            Err(SendTimeoutError::Timeout(back)) => item = back,
            Err(SendTimeoutError::Disconnected(_)) => return false,
        }
    }
}

fn decode_loop(
    path: &Path,
    max: (u32, u32),
    looping: bool,
    ready: &Sender<Result<SourceInfo, CaptureError>>,
    tx: &Sender<Result<Timed, CaptureError>>,
    stop: &AtomicBool,
    errors: Arc<AtomicU64>,
) {
    let mut decoding = match Decoding::open(path, max, looping) {
        Ok(d) => Decoding { errors, ..d },
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let first = match decoding.next() {
        Ok(Some(f)) => f,
        Ok(None) => {
            let _ = ready.send(Err(
                decoding.error("no picture in the file could be decoded")
            ));
            return;
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let info = SourceInfo {
        name: format!("video {}", path.display()),
        width: first.0.width,
        height: first.0.height,
        fps: decoding.fps,
    };
    tracing::info!(
        width = info.width,
        height = info.height,
        fps = info.fps,
        codec = %decoding.codec,
        "video file opened"
    );
    if ready.send(Ok(info)).is_err() || !send(tx, Ok(first), stop) {
        return;
    }
    loop {
        let next = decoding.next();
        let end = !matches!(next, Ok(Some(_)));
        let item = match next {
            Ok(Some(f)) => Ok(f),
            Ok(None) => return,
            Err(e) => Err(e),
        };
        if !send(tx, item, stop) || end {
            return;
        }
    }
}

/// The FFmpeg state of one file: demuxer, decoder, scaler.
struct Decoding {
    path: PathBuf,
    input: ffmpeg::format::context::Input,
    stream: usize,
    decoder: ffmpeg::decoder::Video,
    scaler: Option<(Scaler, (Pixel, u32, u32))>,
    max: (u32, u32),
    looping: bool,
    fps: f32,
    codec: String,
    decoded: VideoFrame,
    scaled: VideoFrame,
    /// Seconds per timestamp unit of the stream.
    time_base: f64,
    /// The first timestamp of this pass through the file.
    pass_start: Option<i64>,
    /// Media time at which this pass starts (the length of the passes before).
    pass_offset: f64,
    /// Media time of the last picture.
    last_time: f64,
    eof_sent: bool,
    /// After a decoder error: packets are dropped until the next keyframe.
    skipping: bool,
    warned: bool,
    errors: Arc<AtomicU64>,
    read_errors: u32,
    /// Pictures decoded since the file was (re)started.
    pictures_this_pass: u64,
}

impl Decoding {
    fn open(path: &Path, max: (u32, u32), looping: bool) -> Result<Self, CaptureError> {
        let video_error = |message: String| CaptureError::Video {
            path: path.to_path_buf(),
            message,
        };
        ffmpeg::init().map_err(|e| video_error(format!("FFmpeg did not start: {e}")))?;
        // FFmpeg's own log goes to stderr; its errors reach the user through ours.
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
        let input = ffmpeg::format::input(path)
            .map_err(|e| video_error(format!("not a video file FFmpeg can read ({e})")))?;
        let stream = input
            .streams()
            .best(Type::Video)
            .ok_or_else(|| video_error("the file has no video stream".into()))?;
        let index = stream.index();
        let time_base = f64::from(stream.time_base());
        let fps = [stream.avg_frame_rate(), stream.rate()]
            .into_iter()
            .find(|r| r.numerator() > 0 && r.denominator() > 0)
            .map_or(30.0, |r| (f64::from(r) as f32).clamp(1.0, 120.0));
        let parameters = stream.parameters();
        let codec_id = parameters.id();
        let context = ffmpeg::codec::context::Context::from_parameters(parameters)
            .map_err(|e| video_error(format!("cannot read the stream's parameters ({e})")))?;
        let no_decoder = |e: String| {
            video_error(format!(
                "this system has no decoder for its {codec_id:?} video{e}"
            ))
        };
        let codec = ffmpeg::decoder::find(codec_id).ok_or_else(|| no_decoder(String::new()))?;
        // A damaged picture is an error, not a smear: the source skips to the
        // next keyframe instead of showing FFmpeg's concealment.
        let mut options = ffmpeg::Dictionary::new();
        options.set("err_detect", "+explode");
        let decoder = context
            .decoder()
            .open_as_with(codec, options)
            .and_then(|opened| opened.video())
            .map_err(|e| no_decoder(format!(" ({e})")))?;
        Ok(Self {
            path: path.to_path_buf(),
            input,
            stream: index,
            decoder,
            scaler: None,
            max,
            looping,
            fps,
            codec: format!("{codec_id:?}").to_lowercase(),
            decoded: VideoFrame::empty(),
            scaled: VideoFrame::empty(),
            time_base: if time_base > 0.0 { time_base } else { 0.0 },
            pass_start: None,
            pass_offset: 0.0,
            last_time: 0.0,
            eof_sent: false,
            skipping: false,
            warned: false,
            errors: Arc::new(AtomicU64::new(0)),
            read_errors: 0,
            pictures_this_pass: 0,
        })
    }

    fn error(&self, message: impl Into<String>) -> CaptureError {
        CaptureError::Video {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// A decoder error: skip to the next keyframe, saying so once per file.
    fn fault(&mut self, what: &str) {
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                error = what,
                "video decoder error; skipping to the next keyframe (said once per file)"
            );
        }
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.skipping = true;
        self.decoder.flush();
    }

    /// The media time of the picture just decoded: its timestamp on the
    /// file's clock, or one frame after the last when it has none.
    fn picture_time(&mut self) -> f64 {
        let step = 1.0 / f64::from(self.fps);
        let stamped = self.decoded.timestamp().filter(|_| self.time_base > 0.0);
        let t = match stamped {
            Some(ts) => {
                let start = *self.pass_start.get_or_insert(ts);
                self.pass_offset + (ts - start) as f64 * self.time_base
            }
            None if self.pictures_this_pass == 1 => self.pass_offset,
            None => self.last_time + step,
        };
        // Never backwards (reordered or repeated stamps).
        let t = t.max(self.last_time);
        self.last_time = t;
        t
    }

    /// The next picture and its media time, or `None` at the end of a file
    /// that does not loop.
    fn next(&mut self) -> Result<Option<Timed>, CaptureError> {
        loop {
            match self.decoder.receive_frame(&mut self.decoded) {
                Ok(()) => {
                    if self.decoded.is_corrupt() {
                        self.fault("a corrupt picture");
                        continue;
                    }
                    self.pictures_this_pass += 1;
                    let t = self.picture_time();
                    return self.convert().map(|f| Some((f, t)));
                }
                Err(ffmpeg::Error::Other {
                    errno: ffmpeg::util::error::EAGAIN,
                }) => {}
                Err(ffmpeg::Error::Eof) => {
                    if !self.looping {
                        return Ok(None);
                    }
                    if self.pictures_this_pass == 0 {
                        return Err(self.error("no picture in the file could be decoded"));
                    }
                    self.rewind()?;
                    continue;
                }
                Err(e) => {
                    self.fault(&e.to_string());
                    continue;
                }
            }
            self.feed()?;
        }
    }

    /// Gives the decoder the next packet of the video stream (or the end).
    fn feed(&mut self) -> Result<(), CaptureError> {
        let mut packet = ffmpeg::Packet::empty();
        match packet.read(&mut self.input) {
            Ok(()) => {
                self.read_errors = 0;
                if packet.stream() != self.stream {
                    return Ok(());
                }
                if self.skipping {
                    if !packet.is_key() {
                        return Ok(());
                    }
                    self.skipping = false;
                }
                if let Err(e) = self.decoder.send_packet(&packet) {
                    self.fault(&e.to_string());
                }
                Ok(())
            }
            Err(ffmpeg::Error::Eof) => {
                if !self.eof_sent {
                    self.eof_sent = true;
                    // Errors here only mean the decoder is already drained.
                    let _ = self.decoder.send_eof();
                }
                Ok(())
            }
            Err(e) => {
                self.read_errors += 1;
                if self.read_errors > MAX_READ_ERRORS {
                    return Err(self.error(format!("the file cannot be read on ({e})")));
                }
                self.fault(&e.to_string());
                Ok(())
            }
        }
    }

    /// Starts the file over: a fresh demuxer, the decoder flushed.
    fn rewind(&mut self) -> Result<(), CaptureError> {
        self.input = ffmpeg::format::input(&self.path)
            .map_err(|e| self.error(format!("cannot reopen to loop ({e})")))?;
        self.decoder.flush();
        self.eof_sent = false;
        self.skipping = false;
        self.pictures_this_pass = 0;
        self.pass_start = None;
        self.pass_offset = self.last_time + 1.0 / f64::from(self.fps);
        Ok(())
    }

    /// The decoded picture as a tightly packed RGB frame of the fitted size.
    fn convert(&mut self) -> Result<Frame, CaptureError> {
        let (format, w, h) = (
            self.decoded.format(),
            self.decoded.width(),
            self.decoded.height(),
        );
        let (tw, th) = fitted_size(w, h, self.max.0, self.max.1);
        if self
            .scaler
            .as_ref()
            .is_none_or(|(_, key)| *key != (format, w, h))
        {
            let scaler = Scaler::get(format, w, h, Pixel::RGB24, tw, th, Flags::BILINEAR)
                .map_err(|e| self.error(format!("cannot convert {format:?} pictures ({e})")))?;
            self.scaler = Some((scaler, (format, w, h)));
            self.scaled = VideoFrame::empty();
        }
        let Some((scaler, _)) = self.scaler.as_mut() else {
            return Err(self.error("no scaler"));
        };
        scaler
            .run(&self.decoded, &mut self.scaled)
            .map_err(|e| CaptureError::Video {
                path: self.path.clone(),
                message: format!("cannot convert a picture ({e})"),
            })?;
        let stride = self.scaled.stride(0);
        let row = tw as usize * 3;
        let data = self.scaled.data(0);
        let mut rgb = Vec::with_capacity(row * th as usize);
        for y in 0..th as usize {
            let start = y * stride;
            match data.get(start..start + row) {
                Some(line) => rgb.extend_from_slice(line),
                None => return Err(self.error("a converted picture is shorter than its size")),
            }
        }
        Ok(Frame::new(0, Instant::now(), tw, th, rgb)?)
    }
}
