//! Microphone and speaker through cpal (ALSA on Linux, and through it PulseAudio
//! or PipeWire where they run).
//!
//! Our side is f32 at [`SAMPLE_RATE`]: mono from the microphone; to the speaker a
//! [`Playback`] mixed in stereo (mono on a one-channel device). The device's own
//! rate and channel count are converted here ([`Resampler`], down-mix). Each cpal stream
//! lives on its own thread (`samespace-mic`, `samespace-speaker`), because a cpal
//! `Stream` is not `Send`; dropping the handle stops the stream and joins it.
//!
//! | queue | producer → consumer | bound | full-policy |
//! | --- | --- | --- | --- |
//! | mic chunks | device callback → [`Microphone::fill`] | [`MIC_CHUNKS`] | newest dropped, counted |
//! | mic backlog | inside [`Microphone`] | [`MAX_BACKLOG_SAMPLES`] | oldest dropped (latency stays low) |
//!
//! With no device (this build machine has none), [`Microphone::open`] and
//! [`Speaker::open`] return [`AudioDeviceError::NoDevice`] and callers fall back to
//! synthetic audio.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Resampler as _};
use tracing::{debug, info, warn};

use super::audio::{AudioSource, SAMPLE_RATE};
use super::device_keeper::{AudioEndpoint, StreamHealth};
use crate::talk::FarEndTap;

/// Captured chunks waiting for the reader.
pub const MIC_CHUNKS: usize = 64;
/// At most this much audio (200 ms) waits in a backlog; older samples are dropped.
pub const MAX_BACKLOG_SAMPLES: usize = SAMPLE_RATE as usize / 5;
/// How long opening a device may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an audio device could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AudioDeviceError {
    /// No such device (none at all, or none of that name).
    #[error("no {kind} audio device{}", .name.as_ref().map(|n| format!(" named {n:?}")).unwrap_or_default())]
    NoDevice {
        /// "input" or "output".
        kind: &'static str,
        /// The name asked for, if any.
        name: Option<String>,
    },
    /// The device exists but refused a stream.
    #[error("audio device {name:?}: {message}")]
    Device {
        /// The device.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// The device thread could not start or did not answer.
    #[error("audio device thread: {0}")]
    Thread(String),
    /// No resampler between the device's rate and ours.
    #[error("cannot resample {from} Hz to {to} Hz: {message}")]
    Resample {
        /// Rate converted from.
        from: u32,
        /// Rate converted to.
        to: u32,
        /// Why.
        message: String,
    },
}

/// One side's choice (microphone or speaker): no device, the system's default, or
/// one by name. Written as text in settings and flags: `none`, `default`, or the
/// device's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// No device: a synthetic tone goes out (microphone), received voices are
    /// measured but not played (speaker).
    None,
    /// The system's default device.
    #[default]
    Default,
    /// The device of this name (as [`list_devices`] gives it).
    Named(String),
}

/// The spelling of [`DeviceChoice::None`].
pub const NO_DEVICE: &str = "none";
/// The spelling of [`DeviceChoice::Default`].
pub const DEFAULT_DEVICE: &str = "default";

impl DeviceChoice {
    /// Reads `none` (or `synthetic`), `default` (or nothing), or a device name.
    pub fn parse(text: &str) -> Self {
        match text.trim() {
            "" | DEFAULT_DEVICE => Self::Default,
            NO_DEVICE | "synthetic" => Self::None,
            name => Self::Named(name.to_string()),
        }
    }

    /// The text [`DeviceChoice::parse`] reads back.
    pub fn spec(&self) -> String {
        match self {
            Self::None => NO_DEVICE.into(),
            Self::Default => DEFAULT_DEVICE.into(),
            Self::Named(name) => name.clone(),
        }
    }

    /// The choice that opens `device` (see [`DeviceChoice::device`]).
    pub fn from_device(device: Option<Option<String>>) -> Self {
        match device {
            None => Self::None,
            Some(None) => Self::Default,
            Some(Some(name)) => Self::Named(name),
        }
    }

    /// The device to open: `None` for no device, `Some(None)` for the default.
    pub fn device(&self) -> Option<Option<String>> {
        match self {
            Self::None => None,
            Self::Default => Some(None),
            Self::Named(name) => Some(Some(name.clone())),
        }
    }
}

/// The names of the attached input (`input`) or output devices, as cpal lists them
/// (empty when there are none, as on a machine without sound hardware).
pub fn list_devices(input: bool) -> Vec<String> {
    quiet_sound_library();
    let host = cpal::default_host();
    let devices = if input {
        host.input_devices()
    } else {
        host.output_devices()
    };
    match devices {
        Ok(devices) => devices.filter_map(|d| d.name().ok()).collect(),
        Err(e) => {
            debug!(error = %e, input, "cannot list audio devices");
            Vec::new()
        }
    }
}

/// Sample-rate conversion of one mono stream, continuous across pieces of any
/// length: rubato's FFT resampler (fixed ratio, anti-aliased) on 10 ms chunks.
/// Adds up to 10 ms of buffering plus the resampler's own delay.
pub struct Resampler {
    inner: Option<Fft<f32>>,
    /// Input short of a whole chunk, waiting for the rest.
    pending: Vec<f32>,
    /// One chunk of output.
    chunk_out: Vec<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("identity", &self.inner.is_none())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Resampler {
    /// Converts from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, AudioDeviceError> {
        if from == to {
            return Ok(Self {
                inner: None,
                pending: Vec::new(),
                chunk_out: Vec::new(),
            });
        }
        let chunk = (from as usize / 100).max(1);
        let inner = Fft::<f32>::new(from as usize, to as usize, chunk, 1, FixedSync::Both)
            .map_err(|e| AudioDeviceError::Resample {
                from,
                to,
                message: e.to_string(),
            })?;
        let chunk_out = vec![0.0; inner.output_frames_max()];
        Ok(Self {
            pending: Vec::with_capacity(inner.input_frames_max()),
            inner: Some(inner),
            chunk_out,
        })
    }

    /// Whether the rates are equal (then [`Self::process`] copies).
    pub fn is_identity(&self) -> bool {
        self.inner.is_none()
    }

    /// Samples of output delay the resampler adds (besides the waiting input).
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Appends `input` converted to the output rate onto `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            return;
        };
        self.pending.extend_from_slice(input);
        let mut used = 0;
        loop {
            let need = inner.input_frames_next();
            if self.pending.len() - used < need {
                break;
            }
            let frames_out = inner.output_frames_next();
            let converted = SequentialSlice::new(&self.pending[used..used + need], 1, need)
                .and_then(|chunk_in| {
                    SequentialSlice::new_mut(&mut self.chunk_out[..frames_out], 1, frames_out)
                        .map(|chunk_out| (chunk_in, chunk_out))
                })
                .map_err(|e| e.to_string())
                .and_then(|(chunk_in, mut chunk_out)| {
                    inner
                        .process_into_buffer(&chunk_in, &mut chunk_out, None)
                        .map_err(|e| e.to_string())
                });
            match converted {
                Ok((_, written)) => out.extend_from_slice(&self.chunk_out[..written]),
                // Buffers are sized from the resampler's own figures; should this
                // ever fail, the chunk becomes silence rather than a stopped stream.
                Err(e) => {
                    debug!(error = %e, "resampling failed");
                    out.extend(std::iter::repeat_n(0.0, frames_out));
                }
            }
            used += need;
        }
        self.pending.drain(..used);
    }
}

/// A whole clip converted from `from` Hz to `to` Hz (the resampler's delay trimmed,
/// so the result lines up with the input).
pub fn resample_clip(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioDeviceError> {
    if from == to {
        return Ok(samples.to_vec());
    }
    let err = |message: String| AudioDeviceError::Resample { from, to, message };
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| err(e.to_string()))?;
    let input = SequentialSlice::new(samples, 1, samples.len()).map_err(|e| err(e.to_string()))?;
    let out = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| err(e.to_string()))?;
    Ok(out.take_data())
}

/// Averages interleaved frames of `channels` into mono.
pub fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    let channels = channels.max(1);
    interleaved
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / frame.len() as f32)
        .collect()
}

/// Sends the ALSA library's messages from this thread to the log (debug) instead
/// of stderr: probing for a device on a machine without one makes it print a dozen
/// lines per attempt.
#[cfg(target_os = "linux")]
fn quiet_sound_library() {
    use std::ffi::CStr;
    use std::os::raw::{c_char, c_int};

    unsafe extern "C" fn to_log(
        _file: *const c_char,
        _line: c_int,
        function: *const c_char,
        err: c_int,
        fmt: *const c_char,
        _args: *mut alsa_sys::__va_list_tag,
    ) {
        let text = |p: *const c_char| {
            if p.is_null() {
                String::new()
            } else {
                // SAFETY: alsa-lib passes NUL-terminated strings (or null, handled).
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        debug!(function = %text(function), err, message = %text(fmt), "alsa");
    }
    // SAFETY: sets a thread-local function pointer in alsa-lib; `to_log` matches
    // `snd_local_error_handler_t` and only reads the strings it is given.
    unsafe {
        alsa_sys::snd_lib_error_set_local(Some(to_log));
    }
}

#[cfg(not(target_os = "linux"))]
fn quiet_sound_library() {}

/// Picks a device by name, or the host's default when `name` is `None`.
fn find_device(input: bool, name: Option<&str>) -> Result<cpal::Device, AudioDeviceError> {
    quiet_sound_library();
    let kind = if input { "input" } else { "output" };
    let none = || AudioDeviceError::NoDevice {
        kind,
        name: name.map(str::to_string),
    };
    let host = cpal::default_host();
    match name {
        None if input => host.default_input_device().ok_or_else(none),
        None => host.default_output_device().ok_or_else(none),
        Some(wanted) => {
            let devices = if input {
                host.input_devices()
            } else {
                host.output_devices()
            };
            devices
                .map_err(|_| none())?
                .find(|d| d.name().is_ok_and(|n| n == wanted))
                .ok_or_else(none)
        }
    }
}

/// A stream configuration at 48 kHz when the device offers it (f32 or i16),
/// otherwise the device's default.
fn pick_config(
    device: &cpal::Device,
    input: bool,
) -> Result<cpal::SupportedStreamConfig, AudioDeviceError> {
    let name = device.name().unwrap_or_default();
    let err = |message: String| AudioDeviceError::Device {
        name: name.clone(),
        message,
    };
    let rate = cpal::SampleRate(SAMPLE_RATE);
    let ranges: Vec<cpal::SupportedStreamConfigRange> = if input {
        device
            .supported_input_configs()
            .map(|c| c.collect())
            .unwrap_or_default()
    } else {
        device
            .supported_output_configs()
            .map(|c| c.collect())
            .unwrap_or_default()
    };
    let usable =
        |f: cpal::SampleFormat| matches!(f, cpal::SampleFormat::F32 | cpal::SampleFormat::I16);
    if let Some(range) = ranges.iter().find(|r| {
        usable(r.sample_format()) && r.min_sample_rate() <= rate && rate <= r.max_sample_rate()
    }) {
        return Ok(range.with_sample_rate(rate));
    }
    let default = if input {
        device.default_input_config()
    } else {
        device.default_output_config()
    }
    .map_err(|e| err(e.to_string()))?;
    if usable(default.sample_format()) {
        Ok(default)
    } else {
        Err(err(format!(
            "unsupported sample format {:?}",
            default.sample_format()
        )))
    }
}

/// The thread that owns a playing cpal stream; dropping it stops and joins it.
struct StreamThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `build` for `device` on a new thread that keeps the resulting stream
/// playing until the returned handle is dropped; returns once the stream plays (or
/// failed to), with the device's name.
fn spawn_stream(
    thread_name: &str,
    device: cpal::Device,
    config: cpal::SupportedStreamConfig,
    build: impl FnOnce(&cpal::Device, &cpal::SupportedStreamConfig) -> Result<cpal::Stream, String>
    + Send
    + 'static,
) -> Result<(StreamThread, String), AudioDeviceError> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
    let thread = std::thread::Builder::new()
        .name(thread_name.into())
        .spawn(move || {
            quiet_sound_library();
            let name = device.name().unwrap_or_default();
            let built = build(&device, &config).map_err(|message| AudioDeviceError::Device {
                name: name.clone(),
                message,
            });
            let stream = match built {
                Ok(stream) => match stream.play() {
                    Ok(()) => {
                        let _ = ready_tx.send(Ok(name));
                        stream
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(AudioDeviceError::Device {
                            name,
                            message: e.to_string(),
                        }));
                        return;
                    }
                },
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(stream);
        })
        .map_err(|e| AudioDeviceError::Thread(e.to_string()))?;
    match ready_rx.recv_timeout(OPEN_TIMEOUT) {
        Ok(Ok(name)) => Ok((
            StreamThread {
                stop,
                thread: Some(thread),
            },
            name,
        )),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(AudioDeviceError::Thread(
            "the device did not open in time".into(),
        )),
    }
}

/// The microphone: an [`AudioSource`] of what the input device captures.
pub struct Microphone {
    chunks: Receiver<Vec<f32>>,
    backlog: VecDeque<f32>,
    _stream: StreamThread,
    name: String,
    dropped: Arc<AtomicU64>,
    health: Arc<StreamHealth>,
    /// Samples filled with silence because the device had not delivered them yet.
    pub underrun_samples: u64,
}

impl Microphone {
    /// Opens the input device called `name`, or the default one.
    pub fn open(name: Option<&str>) -> Result<Self, AudioDeviceError> {
        let device = find_device(true, name)?;
        let config = pick_config(&device, true)?;
        let (tx, rx) = crossbeam_channel::bounded(MIC_CHUNKS);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        let health = Arc::new(StreamHealth::new(Instant::now()));
        let watch = health.clone();
        let (stream, name) = spawn_stream("samespace-mic", device, config, move |d, c| {
            build_input(d, c, tx, counter, watch)
        })?;
        info!(device = name, "microphone open");
        Ok(Self {
            chunks: rx,
            backlog: VecDeque::new(),
            _stream: stream,
            name,
            dropped,
            health,
            underrun_samples: 0,
        })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Chunks the reader was too slow for.
    pub fn dropped_chunks(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl AudioEndpoint for Microphone {
    fn name(&self) -> &str {
        &self.name
    }

    fn failure(&self, now: Instant) -> Option<String> {
        self.health.failure(now)
    }
}

impl AudioSource for Microphone {
    fn fill(&mut self, out: &mut [f32]) {
        while let Ok(chunk) = self.chunks.try_recv() {
            self.backlog.extend(chunk);
        }
        let excess = self.backlog.len().saturating_sub(MAX_BACKLOG_SAMPLES);
        self.backlog.drain(..excess);
        for s in out.iter_mut() {
            *s = match self.backlog.pop_front() {
                Some(v) => v,
                None => {
                    self.underrun_samples += 1;
                    0.0
                }
            };
        }
    }
}

/// Builds the cpal input stream: device frames → mono → 48 kHz → `tx`.
fn build_input(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    tx: Sender<Vec<f32>>,
    dropped: Arc<AtomicU64>,
    health: Arc<StreamHealth>,
) -> Result<cpal::Stream, String> {
    let channels = usize::from(config.channels());
    let mut resampler =
        Resampler::new(config.sample_rate().0, SAMPLE_RATE).map_err(|e| e.to_string())?;
    let beats = health.clone();
    let mut deliver = move |interleaved: &[f32]| {
        beats.beat(Instant::now());
        let mono = downmix(interleaved, channels);
        let mut out = Vec::with_capacity(mono.len() + 8);
        resampler.process(&mono, &mut out);
        if let Err(TrySendError::Full(_)) = tx.try_send(out) {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    };
    let on_error = move |e: cpal::StreamError| {
        let message = e.to_string();
        if health.report(&message) {
            warn!(error = %message, "microphone stream error");
        }
    };
    let stream_config = config.config();
    match config.sample_format() {
        cpal::SampleFormat::F32 => device.build_input_stream(
            &stream_config,
            move |data: &[f32], _: &_| deliver(data),
            on_error,
            None,
        ),
        _ => device.build_input_stream(
            &stream_config,
            move |data: &[i16], _: &_| {
                let floats: Vec<f32> = data.iter().map(|&s| f32::from(s) / 32768.0).collect();
                deliver(&floats);
            },
            on_error,
            None,
        ),
    }
    .map_err(|e| e.to_string())
}

/// What the speaker plays: the room's voices, mixed by their owner.
pub trait Playback: Send + Sync {
    /// Overwrites `out` with the next `out.len() / channels` frames at
    /// [`SAMPLE_RATE`], interleaved: 1 channel (mono) or 2 (left, right).
    fn render(&self, out: &mut [f32], channels: usize);
}

/// The speaker: plays a [`Playback`] on the output device, in stereo where the
/// device has two channels or more (left and right in the first two), in mono on a
/// one-channel device.
pub struct Speaker {
    _stream: StreamThread,
    name: String,
    played: Arc<AtomicU64>,
    health: Arc<StreamHealth>,
}

impl Speaker {
    /// Opens the output device called `name`, or the default one, playing `source`.
    pub fn open(name: Option<&str>, source: Arc<dyn Playback>) -> Result<Self, AudioDeviceError> {
        Self::open_with_reference(name, source, None)
    }

    /// Opens the output device called `name` (or the default one) playing
    /// `source`, handing the 48 kHz mix it plays (mono) to `far_end`, the echo
    /// canceller's reference.
    pub fn open_with_reference(
        name: Option<&str>,
        source: Arc<dyn Playback>,
        far_end: Option<FarEndTap>,
    ) -> Result<Self, AudioDeviceError> {
        let device = find_device(false, name)?;
        let config = pick_config(&device, false)?;
        let played = Arc::new(AtomicU64::new(0));
        let counter = played.clone();
        let health = Arc::new(StreamHealth::new(Instant::now()));
        let watch = health.clone();
        let (stream, name) = spawn_stream("samespace-speaker", device, config, move |d, c| {
            build_output(d, c, source, counter, far_end, watch)
        })?;
        info!(device = name, "speaker open");
        Ok(Self {
            _stream: stream,
            name,
            played,
            health,
        })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Frames (48 kHz) handed to the device so far.
    pub fn played_samples(&self) -> u64 {
        self.played.load(Ordering::Relaxed)
    }
}

impl AudioEndpoint for Speaker {
    fn name(&self) -> &str {
        &self.name
    }

    fn failure(&self, now: Instant) -> Option<String> {
        self.health.failure(now)
    }
}

/// Converts the 48 kHz mix to the device's rate, channel by channel, handing the
/// mix (mono) to the echo canceller's reference on the way.
struct OutputConverter {
    /// Channels rendered at 48 kHz (1 or 2).
    mixed: usize,
    resamplers: Vec<Resampler>,
    /// Converted frames, interleaved by `mixed`.
    pending: VecDeque<f32>,
    device_rate: u32,
    far_end: Option<FarEndTap>,
}

impl OutputConverter {
    fn new(
        device_channels: usize,
        device_rate: u32,
        far_end: Option<FarEndTap>,
    ) -> Result<Self, AudioDeviceError> {
        let mixed = device_channels.clamp(1, 2);
        Ok(Self {
            mixed,
            resamplers: (0..mixed)
                .map(|_| Resampler::new(SAMPLE_RATE, device_rate))
                .collect::<Result<_, _>>()?,
            pending: VecDeque::new(),
            device_rate,
            far_end,
        })
    }

    /// Fills `data` (interleaved, `channels` a frame) from `source`.
    fn fill(&mut self, source: &dyn Playback, data: &mut [f32], channels: usize) -> usize {
        let frames = data.len() / channels;
        let mixed = self.mixed;
        while self.pending.len() < frames * mixed {
            // Enough 48 kHz input for the frames still missing (+2 for interpolation).
            let missing = frames - self.pending.len() / mixed;
            let need = missing * SAMPLE_RATE as usize / self.device_rate.max(1) as usize + 2;
            let mut block = vec![0.0; need * mixed];
            source.render(&mut block, mixed);
            if let Some(tap) = &self.far_end {
                tap.push(&downmix(&block, mixed));
            }
            let mut converted: Vec<Vec<f32>> = Vec::with_capacity(mixed);
            for (c, resampler) in self.resamplers.iter_mut().enumerate() {
                let channel: Vec<f32> = block.iter().skip(c).step_by(mixed).copied().collect();
                let mut out = Vec::with_capacity(frames + 4);
                resampler.process(&channel, &mut out);
                converted.push(out);
            }
            let n = converted.iter().map(Vec::len).min().unwrap_or(0);
            for i in 0..n {
                for channel in &converted {
                    self.pending.push_back(channel[i]);
                }
            }
        }
        for frame in data.chunks_mut(channels) {
            for (c, slot) in frame.iter_mut().enumerate() {
                *slot = if c < mixed {
                    self.pending.pop_front().unwrap_or(0.0)
                } else {
                    0.0
                };
            }
        }
        frames
    }
}

/// Builds the cpal output stream: the 48 kHz mix → device rate → the device's
/// channels (mono on a one-channel device; left and right, then silence, on more).
fn build_output(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    source: Arc<dyn Playback>,
    played: Arc<AtomicU64>,
    far_end: Option<FarEndTap>,
    health: Arc<StreamHealth>,
) -> Result<cpal::Stream, String> {
    let channels = usize::from(config.channels()).max(1);
    let mut converter = OutputConverter::new(channels, config.sample_rate().0, far_end)
        .map_err(|e| e.to_string())?;
    let beats = health.clone();
    let on_error = move |e: cpal::StreamError| {
        let message = e.to_string();
        if health.report(&message) {
            warn!(error = %message, "speaker stream error");
        }
    };
    let stream_config = config.config();
    match config.sample_format() {
        cpal::SampleFormat::F32 => device.build_output_stream(
            &stream_config,
            move |data: &mut [f32], _: &_| {
                beats.beat(Instant::now());
                let frames = converter.fill(source.as_ref(), data, channels);
                played.fetch_add(frames as u64, Ordering::Relaxed);
            },
            on_error,
            None,
        ),
        _ => {
            let mut floats = Vec::new();
            device.build_output_stream(
                &stream_config,
                move |data: &mut [i16], _: &_| {
                    beats.beat(Instant::now());
                    floats.resize(data.len(), 0.0);
                    let frames = converter.fill(source.as_ref(), &mut floats, channels);
                    for (d, s) in data.iter_mut().zip(&floats) {
                        *d = (s.clamp(-1.0, 1.0) * 32767.0) as i16;
                    }
                    played.fetch_add(frames as u64, Ordering::Relaxed);
                },
                on_error,
                None,
            )
        }
    }
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_choices_read_and_write_as_text() {
        assert_eq!(DeviceChoice::parse("none"), DeviceChoice::None);
        assert_eq!(DeviceChoice::parse("synthetic"), DeviceChoice::None);
        assert_eq!(DeviceChoice::parse(" "), DeviceChoice::Default);
        assert_eq!(
            DeviceChoice::parse("USB Headset"),
            DeviceChoice::Named("USB Headset".into())
        );
        for choice in [
            DeviceChoice::None,
            DeviceChoice::Default,
            DeviceChoice::Named("pulse".into()),
        ] {
            assert_eq!(DeviceChoice::parse(&choice.spec()), choice);
        }
        assert_eq!(DeviceChoice::None.device(), None);
        assert_eq!(DeviceChoice::Default.device(), Some(None));
    }
    use crate::media::audio::{AudioSource, SineSource, tone_amplitude};

    #[test]
    fn resampling_keeps_the_tone_and_the_length() {
        // One second of a 1 kHz tone sampled at 44.1 kHz.
        let input: Vec<f32> = (0..44_100)
            .map(|i| 0.5 * (std::f32::consts::TAU * 1000.0 * i as f32 / 44_100.0).sin())
            .collect();
        let mut r = Resampler::new(44_100, SAMPLE_RATE).expect("resampler");
        let mut out = Vec::new();
        // In uneven chunks, as a device delivers them.
        for chunk in input.chunks(441 * 3 + 7) {
            r.process(chunk, &mut out);
        }
        // All but the last partial 10 ms chunk came out.
        assert!(
            out.len() <= 48_000 && out.len() >= 48_000 - 480,
            "{}",
            out.len()
        );
        assert!(r.delay() < 2_400, "delay {}", r.delay());
        // Still a 1 kHz tone, now at 48 kHz (after the resampler's delay).
        let settled = &out[r.delay() + 480..r.delay() + 480 + 40_000];
        let amp = tone_amplitude(settled, SAMPLE_RATE, 1000.0);
        assert!(amp > 0.45, "amplitude {amp}");
        assert!(tone_amplitude(settled, SAMPLE_RATE, 1100.0) < 0.05);
        let plain = SineSource::new(700.0, 0.3).next_chunk(100);
        let mut identity = Resampler::new(SAMPLE_RATE, SAMPLE_RATE).expect("resampler");
        assert!(identity.is_identity());
        let mut copy = Vec::new();
        identity.process(&plain, &mut copy);
        assert_eq!(copy, plain);
    }

    #[test]
    fn a_clip_is_resampled_in_line_with_its_input() {
        // A click at 0.5 s of a 22.05 kHz clip lands at 0.5 s at 48 kHz.
        let mut clip = vec![0.0f32; 22_050];
        clip[11_025] = 1.0;
        let out = resample_clip(&clip, 22_050, SAMPLE_RATE).expect("clip");
        assert!((out.len() as i64 - 48_000).abs() <= 3, "{}", out.len());
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .expect("samples");
        assert!((peak as i64 - 24_000).abs() <= 2, "peak at {peak}");
        assert!(Resampler::new(0, SAMPLE_RATE).is_err());
    }

    #[test]
    fn downmix_averages_channels() {
        assert_eq!(downmix(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
        assert_eq!(downmix(&[0.25, 0.75], 1), vec![0.25, 0.75]);
    }

    /// Left at 1, right at 0.5: a fixed stereo source.
    struct Fixed;

    impl Playback for Fixed {
        fn render(&self, out: &mut [f32], channels: usize) {
            for frame in out.chunks_mut(channels) {
                frame[0] = 1.0;
                if channels > 1 {
                    frame[1] = 0.5;
                }
            }
        }
    }

    #[test]
    fn the_output_keeps_left_and_right_through_resampling_and_extra_channels() {
        let (tap, far_end) = crate::talk::far_end_channel();
        let mut six = OutputConverter::new(6, 44_100, Some(tap)).expect("converter");
        let mut data = vec![9.0; 6 * 4410];
        assert_eq!(six.fill(&Fixed, &mut data, 6), 4410);
        // Past the resampler's delay (and its first ripple) the levels hold.
        let settled = six.resamplers[0].delay() + 200;
        for frame in data.chunks(6).skip(settled) {
            assert!((frame[0] - 1.0).abs() < 1e-2 && (frame[1] - 0.5).abs() < 1e-2);
            assert!(frame[2..].iter().all(|&s| s == 0.0));
        }
        // The 48 kHz mix went to the echo canceller's reference, in mono.
        let mut processor =
            crate::talk::VoiceProcessor::new(crate::talk::TalkSettings::off()).expect("processor");
        let fed = far_end.drain_into(&mut processor).expect("reference");
        assert!(fed >= 4800, "{fed}");
        let mut mono = OutputConverter::new(1, SAMPLE_RATE, None).expect("converter");
        let mut data = vec![0.0; 480];
        mono.fill(&Fixed, &mut data, 1);
        assert!(data.iter().all(|&s| (s - 1.0).abs() < 1e-6));
    }
}
