//! The media bridge between the app and the mesh: encode, send, receive, decode.
//!
//! [`NetBridge::start`] joins the room ([`NetHandle::connect`]) and starts:
//! - `samespace-encode`: the local participant's newest [`Cutout`] → alpha-packed
//!   (colour over alpha, [`pack_cutout_into`]) → H.264 (OpenH264, frame skipping on,
//!   IDR on request) → [`NetCommand::Video`] with the capture time; every
//!   [`PROBE_EVERY_FRAMES`] sent pictures also a [`PeerToPeer::MaskProbe`].
//! - `samespace-audio-tx`: the microphone ([`Microphone`], when
//!   [`AudioDevices::Devices`] and one opens) or a synthetic voice (a sine at this
//!   peer's [`tone_for_name`]) → [`VoiceProcessor`] (echo cancellation against what
//!   the speaker plays, noise suppression, gain control) → Opus 20 ms packets →
//!   [`NetCommand::Audio`], paced by the clock; nothing is sent while muted. A
//!   microphone that fails mid-call is replaced by the default one, or by silence
//!   until one is back ([`DeviceKeeper`]; a [`DeviceNotice`] for the screen).
//! - `samespace-media-rx`: drains the mesh's media channel; video goes to that
//!   peer's decoder thread, audio is Opus-decoded here, measured (ms, tone) and
//!   queued on the room's [`VoiceBus`], which the [`Speaker`] plays (in stereo,
//!   each voice placed) when one is open (kept like the microphone); without one
//!   this thread mixes the bus on its clock, so the placed mix is still computed and
//!   measured. Either way the mix at 48 kHz is the far-end reference of the echo
//!   canceller ([`FarEndTap`]).
//! - per remote peer, `samespace-decode-<id>` ([`RemoteDecoder`]): access unit →
//!   H.264 decode → unpack → [`Cutout`] (capture time carried over) → paced by
//!   [`Playout`] (pictures released together after a loss repair are spread back to
//!   their capture rhythm) → that peer's `CutoutInbox`. Owned by the peer's entity;
//!   dropping it joins the thread.
//!
//! | channel | producer → consumer | capacity | full-policy |
//! | --- | --- | --- | --- |
//! | local cutouts | app → encode | [`LOCAL_CUTOUT_CAPACITY`] | drop oldest (latest wins) |
//! | per-peer video | media-rx → decode | [`DECODE_IN_CAPACITY`] | drop all queued and what follows up to the next keyframe ([`DecodeFeed`]); keyframe requested |
//! | per-peer cutouts | decode → app (`CutoutInbox`) | [`DECODED_CUTOUT_CAPACITY`] | the next picture waits until the app took the last one, at most [`DISPLAY_SLACK`](super::playout::DISPLAY_SLACK) past its time; then drop oldest |
//! | far-end reference | speaker callback (or media-rx without a speaker) → audio-tx | [`FAR_END_CAPACITY`](crate::talk::FAR_END_CAPACITY) | the new piece dropped, counted |
//! | device notices | audio-tx, media-rx → app | [`AUDIO_NOTICE_CAPACITY`] | drop oldest |
//!
//! Measurements land in per-peer [`PeerStats`] behind one mutex inside `net`, held
//! only for counter updates; the transport's Bevy glue copies them twice a second
//! onto each peer's entity as its `LinkFigures` component, which is all the app
//! reads.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use tracing::{debug, info, info_span, trace, warn};

use super::error::{NetError, NetResult};
use super::lipsync::LipSync;
use super::peer::assembler::has_idr_slice;
use super::peer::capture_time::unix_micros;
use super::peer::{EncodedMedia, NetCommand, NetConfig, NetEvent, NetHandle, ReceivedMedia};
use super::playout::Playout;
use super::probe::{PROBE_STEP, ProbeMask};
use super::protocol::{PeerId, PeerToPeer};
use super::send_rate::{SendSecond, SendSeries, rung_size, scaled_cutout};
use super::stats::{LinkReport, PeerStats, tone_for_name};
use crate::media::alpha_pack::{pack_cutout_into, unpack_i420};
use crate::media::audio::{AudioSource, GatedSource, SineSource};
use crate::media::audio_device::{Microphone, Speaker};
use crate::media::device_keeper::{DeviceKeeper, DeviceKind, DeviceNotice};
use crate::media::draw_rate::{PictureGate, encoder_bitrate, receivers_fps};
use crate::media::h264::{ColorMatrix, H264Config, H264Decoder, H264Encoder, I420Frame};
use crate::media::ladder::{Ladder, LadderConfig, SendPlan};
use crate::media::opus::{FRAME_SAMPLES, OpusDecoder, OpusEncoder};
use crate::media::voice::mixer::{VoiceBus, now_unix_us};
use crate::segment::Cutout;
use crate::talk::{FarEnd, FarEndTap, TalkSettings, TalkStats, VoiceProcessor, far_end_channel};

/// Local cutouts waiting for the encoder. Producer: the app (once per new cutout);
/// consumer: `samespace-encode`. Full: the oldest is dropped (latest wins).
pub const LOCAL_CUTOUT_CAPACITY: usize = 1;
/// Access units waiting for one peer's decoder. Producer: `samespace-media-rx`;
/// consumer: that peer's decode thread. A repair releases the pictures that waited
/// for it at once (up to a second of them), and the decoder takes them in tens of
/// milliseconds, so a burst fits. Full: see [`DecodeFeed`].
pub const DECODE_IN_CAPACITY: usize = 32;
/// Decoded cutouts waiting for the app. Producer: a decode thread; consumer: the
/// app's `drain_cutouts`. Full: the oldest is dropped (latest wins).
pub const DECODED_CUTOUT_CAPACITY: usize = 2;
/// A mask probe goes with every this many sent pictures.
pub const PROBE_EVERY_FRAMES: u64 = 20;
/// No mask probes while the slowest peer's send estimate is under this.
pub const PROBE_MIN_ESTIMATE_BPS: u64 = 500_000;
/// How long a worker waits on its channel before checking its stop flag.
const POLL: Duration = Duration::from_millis(100);
/// A pause in a peer's audio packets this long is logged (with how many were
/// lost and how old the next one is): it is heard as a dropout.
const AUDIO_GAP_WORTH_A_LOG: Duration = Duration::from_millis(120);
/// How often the encode thread looks whether the drain pause ended while it holds
/// a picture back.
const PAUSE_POLL: Duration = Duration::from_millis(10);
/// How often a decode thread looks whether the display took its last picture while
/// the next one is due.
const DISPLAY_POLL: Duration = Duration::from_millis(4);
/// Packet loss the voice's forward error correction is sized for.
pub const EXPECTED_AUDIO_LOSS_PERCENT: u8 = 10;
/// At most this many missing 20 ms voice frames are rebuilt; a longer gap (the
/// sender muted, or an outage) is left silent.
pub const MAX_REBUILT_AUDIO_FRAMES: usize = 5;
/// What 50 Opus packets a second cost on the wire beyond their payload (RTP,
/// SRTP tag, header extensions, UDP, IPv4): kept out of the video's share of the
/// send estimate with the Opus rate itself.
pub const AUDIO_PACKET_OVERHEAD_BPS: u32 = 24_000;

/// Voice frames missing between two packets with RTP timestamps `last` and `now`
/// (48 kHz, 20 ms frames): 0 for a packet in sequence, a duplicate or a late one,
/// and for a gap longer than [`MAX_REBUILT_AUDIO_FRAMES`].
pub fn voice_frames_missing(last: Option<u32>, now: u32) -> usize {
    let Some(last) = last else {
        return 0;
    };
    let step = FRAME_SAMPLES as u32;
    let diff = now.wrapping_sub(last);
    if diff == 0 || !rtp_not_older(last, now) || diff % step != 0 {
        return 0;
    }
    let missing = (diff / step) as usize - 1;
    if missing > MAX_REBUILT_AUDIO_FRAMES {
        0
    } else {
        missing
    }
}

/// Whether RTP timestamp `now` is not behind `last` (with wrap-around).
fn rtp_not_older(last: u32, now: u32) -> bool {
    now.wrapping_sub(last) < u32::MAX / 2
}

/// One remote peer's voice decoder and where its stream stands.
struct VoiceIn {
    decoder: OpusDecoder,
    last_rtp: Option<u32>,
}

/// The most [`Playout`] delays a remote picture to keep the stream smooth.
pub const MAX_PLAYOUT_DELAY: Duration = Duration::from_millis(500);
/// Opus frame length.
const AUDIO_FRAME: Duration = Duration::from_millis(20);

/// Where voices come from and go to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AudioDevices {
    /// A synthetic tone out; received voices are measured, not played.
    #[default]
    Synthetic,
    /// The microphone and speaker (the default ones, or those named); a side whose
    /// device cannot be opened falls back to the synthetic behaviour, logged.
    Devices {
        /// Input device name (`None`: the default).
        input: Option<String>,
        /// Output device name (`None`: the default).
        output: Option<String>,
    },
    /// Each side as chosen in the lobby; a side with no device is synthetic (tone
    /// out / voices measured, not played), a device that cannot be opened falls back
    /// to that too, logged.
    Each {
        /// The microphone.
        input: crate::media::audio_device::DeviceChoice,
        /// The speaker.
        output: crate::media::audio_device::DeviceChoice,
    },
}

impl AudioDevices {
    /// The microphone to open: `None` for the synthetic tone, `Some(None)` for the
    /// default device.
    pub fn input_device(&self) -> Option<Option<String>> {
        match self {
            Self::Synthetic => None,
            Self::Devices { input, .. } => Some(input.clone()),
            Self::Each { input, .. } => input.device(),
        }
    }

    /// The speaker to open: `None` for none (voices measured only).
    pub fn output_device(&self) -> Option<Option<String>> {
        match self {
            Self::Synthetic => None,
            Self::Devices { output, .. } => Some(output.clone()),
            Self::Each { output, .. } => output.device(),
        }
    }
}

/// How the bridge encodes.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    /// The room to join.
    pub net: NetConfig,
    /// Video target bit rate (the packed 640x960 picture).
    pub video_bitrate_bps: u32,
    /// Nominal video frame rate (rate control and unit duration).
    pub video_fps: f32,
    /// A keyframe at least every this many pictures besides requests; 0 (the
    /// default): only when a peer asks for one (or the encoder is rebuilt for a
    /// new rung). A receiver that misses a packet asks again with every picture
    /// until a keyframe comes, so a periodic one repairs nothing, and on a slow
    /// link each is a burst of a third of a second that stands in its queue.
    pub keyframe_interval: u32,
    /// Opus bit rate.
    pub audio_bitrate_bps: u32,
    /// Start muted.
    pub muted: bool,
    /// Microphone and speaker, or synthetic audio.
    pub audio: AudioDevices,
    /// The synthetic voice alternates this long of its tone with as long a silence
    /// (`None`: a steady tone).
    pub tone_gate: Option<Duration>,
    /// Where received voices are mixed (shared with the app, which places them).
    pub voices: Arc<VoiceBus>,
    /// Echo cancellation, noise suppression and gain control on the outgoing voice.
    pub talk: TalkSettings,
}

impl BridgeConfig {
    /// Defaults for a room: 600 kbit/s video at 30 fps, keyframes on request, 32
    /// kbit/s Opus, unmuted.
    pub fn new(net: NetConfig) -> Self {
        Self {
            net,
            video_bitrate_bps: 600_000,
            video_fps: 30.0,
            keyframe_interval: 0,
            audio_bitrate_bps: 32_000,
            muted: false,
            audio: AudioDevices::Synthetic,
            tone_gate: None,
            voices: Arc::new(VoiceBus::new(true)),
            talk: TalkSettings::default(),
        }
    }
}

/// Counters of the sending side.
#[derive(Debug, Default)]
pub struct SendCounters {
    /// Pictures encoded and handed to the mesh.
    pub video_frames: AtomicU64,
    /// Pictures skipped to hold the bit rate (by the encoder's rate control), or
    /// held back while a queue our sending built drains.
    pub video_skipped: AtomicU64,
    /// Keyframes sent.
    pub keyframes: AtomicU64,
    /// Video bytes handed to the mesh.
    pub video_bytes: AtomicU64,
    /// Audio packets handed to the mesh.
    pub audio_packets: AtomicU64,
    /// Total encode time, µs (for the per-picture average).
    pub encode_us: AtomicU64,
}

/// Which audio devices are in use (for the report and the stats overlay).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct AudioInUse {
    /// The microphone's name, or `None` for the synthetic tone.
    pub input: Option<String>,
    /// The speaker's name, or `None` when received voices are not played.
    pub output: Option<String>,
    /// Voice samples (48 kHz) handed to the speaker.
    pub played_samples: u64,
    /// The outgoing voice's processing (echo canceller figures, samples seen).
    pub talk: TalkStats,
}

/// Both ends of one peer's decoder input (the sender side drops the oldest when full).
type DecoderQueue = (Sender<ReceivedMedia>, Receiver<ReceivedMedia>);

/// State shared by the bridge's threads and the app.
#[derive(Default)]
pub struct Shared {
    /// Per remote peer measurements (kept after it leaves, for the report).
    stats: Mutex<HashMap<PeerId, PeerStats>>,
    /// Where `samespace-media-rx` sends each peer's video.
    decoders: Mutex<HashMap<PeerId, DecoderQueue>>,
    /// Peers whose stream needs a keyframe (decoder error or dropped unit).
    keyframe_wanted: Mutex<HashSet<PeerId>>,
    /// Sending-side counters.
    pub sent: SendCounters,
    /// Decoded remote voices waiting for the room mix (recording), oldest first;
    /// at most [`REMOTE_AUDIO_CAPACITY`] packets, the oldest dropped beyond.
    remote_audio: Mutex<std::collections::VecDeque<(PeerId, Vec<f32>)>>,
    /// The audio devices in use.
    audio: Mutex<AudioInUse>,
    /// Device changes for the screen, oldest first; at most [`AUDIO_NOTICE_CAPACITY`].
    notices: Mutex<std::collections::VecDeque<DeviceNotice>>,
    /// What the encoder sent each second, with the estimate it fitted.
    send_series: Mutex<SendSeries>,
}

/// A peer's `draw-rate` counts this long after it came (it is sent every second).
pub const DRAW_RATE_FRESH: Duration = Duration::from_secs(3);

/// How often `samespace-media-rx` lets go of the Opus decoders of peers that left.
const VOICE_SWEEP_INTERVAL: Duration = Duration::from_secs(2);

/// Device notices kept for the app; beyond it the oldest is dropped.
pub const AUDIO_NOTICE_CAPACITY: usize = 8;

/// Decoded 20 ms packets kept for the room mix (2 s for three peers); beyond it
/// the oldest is dropped (the app is not draining: no recording).
pub const REMOTE_AUDIO_CAPACITY: usize = 300;

impl Shared {
    /// The stats map (a poisoned lock still holds valid counters).
    pub(super) fn stats(&self) -> MutexGuard<'_, HashMap<PeerId, PeerStats>> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fewest frames a second that a peer in the room draws, of those that
    /// said so within [`DRAW_RATE_FRESH`] (a peer that left stops saying it).
    pub fn slowest_draw_fps(&self, now: Instant) -> Option<f32> {
        self.stats()
            .values()
            .filter_map(|s| s.draw_fps)
            .filter(|&(at, _)| now.saturating_duration_since(at) <= DRAW_RATE_FRESH)
            .map(|(_, fps)| fps)
            .reduce(f32::min)
    }

    /// What the encoder sent each second (estimate, target, rung), oldest first.
    pub fn send_series(&self) -> Vec<SendSecond> {
        self.send_series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seconds()
    }

    /// `peer`'s link figures as of `now` (`None` for a peer never seen).
    pub(super) fn link_report(&self, peer: PeerId, now: Instant) -> Option<LinkReport> {
        self.stats().get(&peer).map(|s| s.report(peer.0, now))
    }

    /// Updates the measurements of `peer` (one that joined and has not left; late
    /// media from a departed peer is not counted).
    fn with_peer(&self, peer: PeerId, f: impl FnOnce(&mut PeerStats)) {
        if let Some(s) = self.stats().get_mut(&peer) {
            f(s);
        }
    }

    /// Takes the decoded remote audio received since the last call (lip sync off;
    /// see [`NetBridge::take_remote_audio`]).
    pub fn take_remote_audio(&self) -> Vec<(PeerId, Vec<f32>)> {
        self.remote_audio
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }

    /// The audio devices in use.
    pub fn audio_in_use(&self) -> AudioInUse {
        self.audio.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_audio(&self, f: impl FnOnce(&mut AudioInUse)) {
        f(&mut self.audio.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Device changes since the last call, oldest first.
    pub fn take_audio_notices(&self) -> Vec<DeviceNotice> {
        self.notices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }

    fn notice(&self, notice: DeviceNotice) {
        warn!(%notice, "audio device changed");
        let mut queue = self.notices.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() >= AUDIO_NOTICE_CAPACITY {
            queue.pop_front();
        }
        queue.push_back(notice);
    }

    fn want_keyframe(&self, peer: PeerId) {
        self.keyframe_wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(peer);
    }
}

/// The running bridge; dropping it stops and joins its threads, then leaves the room.
pub struct NetBridge {
    net: Arc<NetHandle>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    keyframe: Arc<AtomicBool>,
    muted: Arc<AtomicBool>,
    tone_hz: f32,
    voices: Arc<VoiceBus>,
    local: (Sender<Arc<Cutout>>, Receiver<Arc<Cutout>>),
    threads: Vec<JoinHandle<()>>,
}

impl NetBridge {
    /// Joins the room and starts the encode, audio and receive threads.
    pub fn start(config: BridgeConfig) -> NetResult<Self> {
        Self::start_with_input(config, crossbeam_channel::bounded(LOCAL_CUTOUT_CAPACITY))
    }

    /// Like [`NetBridge::start`], with the encoder reading the local cutouts from
    /// `local` (a channel of capacity [`LOCAL_CUTOUT_CAPACITY`] that outlives rooms:
    /// the local segmentation worker feeds it before, during and after a room).
    pub fn start_with_input(
        config: BridgeConfig,
        local: crate::segment::worker::CutoutTee,
    ) -> NetResult<Self> {
        let tone_hz = tone_for_name(&config.net.name);
        let net = Arc::new(NetHandle::connect(config.net.clone())?);
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let keyframe = Arc::new(AtomicBool::new(true));
        let muted = Arc::new(AtomicBool::new(config.muted));
        // Voices of an earlier room are forgotten (peer ids are per room).
        config.voices.mixer().clear();
        let mut bridge = Self {
            net,
            shared,
            stop,
            keyframe,
            muted,
            tone_hz,
            voices: config.voices.clone(),
            local,
            threads: Vec::new(),
        };
        let encode = EncodeLoop {
            net: bridge.net.clone(),
            shared: bridge.shared.clone(),
            stop: bridge.stop.clone(),
            keyframe: bridge.keyframe.clone(),
            cutouts: bridge.local.1.clone(),
            config: config.clone(),
        };
        bridge.spawn("samespace-encode", move || encode.run())?;
        let (far_end_tap, far_end) = far_end_channel();
        let audio = AudioLoop {
            net: bridge.net.clone(),
            shared: bridge.shared.clone(),
            stop: bridge.stop.clone(),
            muted: bridge.muted.clone(),
            tone_hz,
            tone_gate: config.tone_gate,
            bitrate: config.audio_bitrate_bps,
            voices: bridge.voices.clone(),
            device: config.audio.input_device(),
            far_end,
            talk: config.talk,
        };
        bridge.spawn("samespace-audio-tx", move || audio.run())?;
        let receive = ReceiveLoop {
            media: bridge.net.media().clone(),
            shared: bridge.shared.clone(),
            stop: bridge.stop.clone(),
            voices: bridge.voices.clone(),
            device: config.audio.output_device(),
            far_end_tap,
        };
        bridge.spawn("samespace-media-rx", move || receive.run())?;
        info!(tone_hz, "net bridge started");
        Ok(bridge)
    }

    fn spawn(&mut self, name: &str, f: impl FnOnce() + Send + 'static) -> NetResult<()> {
        let handle = std::thread::Builder::new().name(name.into()).spawn(f)?;
        self.threads.push(handle);
        Ok(())
    }

    /// The mesh handle (events, welcome, commands).
    pub fn net(&self) -> &NetHandle {
        &self.net
    }

    /// Measurements and counters.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// This peer's synthetic tone.
    pub fn tone_hz(&self) -> f32 {
        self.tone_hz
    }

    /// The room's voices as mixed for this listener.
    pub fn voices(&self) -> &Arc<VoiceBus> {
        &self.voices
    }

    /// Mutes or unmutes the outgoing audio.
    pub fn set_muted(&self, muted: bool) {
        self.muted.store(muted, Ordering::Relaxed);
    }

    /// Whether outgoing audio is muted.
    pub fn muted(&self) -> bool {
        self.muted.load(Ordering::Relaxed)
    }

    /// The encoder's input, for the local segmentation worker to feed directly
    /// ([`crate::segment::SegmentWorker::spawn_with_tee`]).
    pub fn cutout_tee(&self) -> crate::segment::worker::CutoutTee {
        self.local.clone()
    }

    /// Hands the local participant's newest cutout to the encoder (latest wins).
    /// (Not needed when the segmentation worker feeds [`NetBridge::cutout_tee`].)
    pub fn send_cutout(&self, cutout: Arc<Cutout>) {
        if let Err(TrySendError::Full(cutout)) = self.local.0.try_send(cutout) {
            let _ = self.local.1.try_recv();
            let _ = self.local.0.try_send(cutout);
        }
    }

    /// Makes the next encoded picture a keyframe.
    pub fn request_keyframe(&self) {
        self.keyframe.store(true, Ordering::Relaxed);
    }

    /// Records a new remote peer and starts its decoder; the returned receiver is the
    /// peer's cutout inbox.
    pub fn add_peer(
        &self,
        peer: PeerId,
        name: &str,
    ) -> NetResult<(RemoteDecoder, Receiver<Arc<Cutout>>)> {
        {
            let mut stats = self.shared.stats();
            let s = stats
                .entry(peer)
                .or_insert_with(|| PeerStats::new(name.to_string()));
            s.name = name.to_string();
            s.left = false;
            s.joined_at.get_or_insert_with(Instant::now);
        }
        RemoteDecoder::spawn(peer, self.shared.clone())
    }

    /// A peer is gone: its final link figures (its decoder stops when its entity
    /// drops it). Nothing of it stays here: its measurements (with up to
    /// [`PROBE_HISTORY`](super::probe::PROBE_HISTORY) probe masks) go now, its Opus
    /// decoder and its voice in the mix once `samespace-media-rx` sees its decoder
    /// queue gone (within [`VOICE_SWEEP_INTERVAL`], after the app has read its voice
    /// figures); the app keeps the figures it wants (`room::figures::DepartedPeers`).
    pub fn peer_left(&self, peer: PeerId) -> Option<LinkReport> {
        let mut stats = self.shared.stats();
        let s = stats.get_mut(&peer)?;
        s.left = true;
        let now = Instant::now();
        s.left_at.get_or_insert(now);
        let last = s.report(peer.0, now);
        stats.remove(&peer);
        Some(last)
    }

    /// A picture of `peer` was shown `video_delay` after its capture: records the
    /// A/V offset at that moment in `lip` and holds the peer's voice to the delay
    /// of its pictures ([`super::lipsync`]).
    pub fn picture_shown(&self, peer: PeerId, video_delay: Duration, lip: &mut LipSync) {
        let mut mixer = self.voices.mixer();
        let status = mixer
            .playout_status(peer.0, now_unix_us())
            .filter(|s| s.stamped);
        let steer = lip.shown(
            Instant::now(),
            video_delay.as_micros() as i64,
            status.and_then(|s| s.playing_delay_us),
            status.and_then(|s| s.recent_need_us),
        );
        mixer.set_sync_floor(peer.0, Some(steer.audio_floor_us));
        drop(mixer);
        let hold = Duration::from_micros(steer.video_hold_us.max(0) as u64);
        self.shared.with_peer(peer, |s| s.video_hold = hold);
    }

    /// The remote voices for the room's recording since the last call, oldest
    /// first: as played, in step with their pictures (lip sync), or as decoded
    /// (`--no-lip-sync`).
    pub fn take_remote_audio(&self) -> Vec<(PeerId, Vec<f32>)> {
        let mut voices = self.shared.take_remote_audio();
        let played = self.voices.mixer().take_played();
        voices.extend(played.into_iter().map(|(id, pcm)| (PeerId(id), pcm)));
        voices
    }

    /// Keyframe requests raised by the decoders since the last call.
    pub fn take_keyframe_requests(&self) -> Vec<PeerId> {
        let mut set = self
            .shared
            .keyframe_wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        set.drain().collect()
    }
}

impl Drop for NetBridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
        // The last `Arc<NetHandle>` goes here: it leaves the room politely.
    }
}

/// One remote peer's decoder thread; dropping it stops and joins the thread.
pub struct RemoteDecoder {
    peer: PeerId,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RemoteDecoder {
    fn spawn(peer: PeerId, shared: Arc<Shared>) -> NetResult<(Self, Receiver<Arc<Cutout>>)> {
        let (units_tx, units_rx) = crossbeam_channel::bounded(DECODE_IN_CAPACITY);
        let (cutouts_tx, cutouts_rx) = crossbeam_channel::bounded(DECODED_CUTOUT_CAPACITY);
        shared
            .decoders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(peer, (units_tx, units_rx.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let worker = DecodeLoop {
            peer,
            shared: shared.clone(),
            stop: stop.clone(),
            units: units_rx,
            cutouts: (cutouts_tx, cutouts_rx.clone()),
        };
        let thread = std::thread::Builder::new()
            .name(format!("samespace-decode-{}", peer.0))
            .spawn(move || worker.run())?;
        Ok((
            Self {
                peer,
                shared,
                stop,
                thread: Some(thread),
            },
            cutouts_rx,
        ))
    }
}

impl Drop for RemoteDecoder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.shared
            .decoders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.peer);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What reaches one peer's decoder. Every access unit but a keyframe references
/// the ones before it, so when the decoder's queue is full the units are not
/// dropped one by one (each later unit would fail to decode: on the lossy-link
/// namespace tests 4–24 "undecodable" units a run, in bursts of eight right after
/// a unit was dropped): everything queued goes, and so does every unit up to the
/// next keyframe, which is asked for.
#[derive(Debug, Default)]
struct DecodeFeed {
    awaiting_keyframe: bool,
}

impl DecodeFeed {
    /// Queues `unit` for the decoder; returns whether the queue overflowed, in
    /// which case a keyframe is needed. `is_keyframe` (the unit has an IDR slice)
    /// is asked only while a keyframe is awaited or the queue is full.
    fn feed<T>(
        &mut self,
        tx: &Sender<T>,
        rx: &Receiver<T>,
        unit: T,
        is_keyframe: impl Fn(&T) -> bool,
    ) -> bool {
        if self.awaiting_keyframe {
            if !is_keyframe(&unit) {
                return false;
            }
            self.awaiting_keyframe = false;
        }
        match tx.try_send(unit) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => false,
            Err(TrySendError::Full(unit)) => {
                while rx.try_recv().is_ok() {}
                if is_keyframe(&unit) {
                    let _ = tx.try_send(unit);
                } else {
                    self.awaiting_keyframe = true;
                }
                true
            }
        }
    }
}

/// Pushes into a bounded channel, dropping the oldest item when full; `true` if
/// something was dropped.
fn push_drop_oldest<T>(tx: &Sender<T>, rx: &Receiver<T>, item: T) -> bool {
    match tx.try_send(item) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => false,
        Err(TrySendError::Full(item)) => {
            let _ = rx.try_recv();
            let _ = tx.try_send(item);
            true
        }
    }
}

/// The `Instant` at which a wall-clock time (µs since the epoch) was, on this machine.
fn instant_of_unix_us(unix_us: u64) -> Instant {
    let now = Instant::now();
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    now.checked_sub(Duration::from_micros(now_unix.saturating_sub(unix_us)))
        .unwrap_or(now)
}

struct EncodeLoop {
    net: Arc<NetHandle>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    keyframe: Arc<AtomicBool>,
    cutouts: Receiver<Arc<Cutout>>,
    config: BridgeConfig,
}

impl EncodeLoop {
    fn run(self) {
        let _span = info_span!("encode").entered();
        let start = Instant::now();
        let mut encoder: Option<(H264Encoder, I420Frame)> = None;
        let mut sent = 0u64;
        let mut ladder = Ladder::new(LadderConfig {
            audio_reserve_bps: self.config.audio_bitrate_bps + AUDIO_PACKET_OVERHEAD_BPS,
            ..LadderConfig::new(self.config.video_bitrate_bps)
        });
        let mut last_capture: Option<Instant> = None;
        let mut was_paused = false;
        let mut draw_gate = PictureGate::default();
        let mut limited = false;
        // The newest picture not sent while paused: when the pause ends between
        // two captures, it goes at once (as the keyframe) instead of at the next
        // capture, up to a frame interval later, all of it frozen at the receiver.
        let mut held = None;
        while !self.stop.load(Ordering::Relaxed) {
            let poll = if held.is_some() { PAUSE_POLL } else { POLL };
            let (cutout, resumed) = match self.cutouts.recv_timeout(poll) {
                Ok(c) => (c, false),
                Err(RecvTimeoutError::Timeout) => match held.take() {
                    Some(c) if !self.net.counters().send_estimates.any_queue_stands() => (c, true),
                    waiting => {
                        held = waiting;
                        continue;
                    }
                },
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // The estimate is of what the RTP streams may send next to everything
            // else on the path (the data channels' game state and placements
            // included: they are in the queue the estimate reacts to), so the
            // video takes it as it is.
            let estimate = self.net.counters().send_estimates.slowest_bps();
            let full_pixels = f64::from(cutout.width)
                * f64::from(cutout.height)
                * f64::from(self.config.video_fps);
            // A queue our sending built stands towards someone: pictures would
            // only wait behind it and slow its draining (`QueueGuard::queue_stands`).
            // The queue had dropped what came before it, so the first picture after
            // it is a keyframe (a receiver would otherwise wait out its repair
            // window first, then ask for one).
            let paused = self.net.counters().send_estimates.any_queue_stands();
            if was_paused && !paused {
                self.keyframe.store(true, Ordering::Relaxed);
            }
            was_paused = paused;
            let keyframe_due = self.keyframe.load(Ordering::Relaxed);
            let plan = ladder.update(Instant::now(), estimate, full_pixels, keyframe_due);
            // Pacing: at most the rung's share of `video_fps` pictures a second (a
            // 10 % early margin absorbs capture jitter).
            let fps = self.fps(plan);
            let min_interval = Duration::from_secs_f32(0.9 / fps);
            if !resumed
                && last_capture
                    .is_some_and(|t| cutout.captured_at.saturating_duration_since(t) < min_interval)
            {
                continue;
            }
            // And no more than the slowest receiver draws.
            let slowest_draw = self.shared.slowest_draw_fps(Instant::now());
            let limit = receivers_fps(slowest_draw).filter(|&limit| limit < fps);
            if limit.is_some() != limited {
                limited = limit.is_some();
                info!(
                    fps,
                    limit,
                    slowest_draw,
                    "pictures a second {} what the receivers draw",
                    if limited {
                        "fitted to"
                    } else {
                        "no longer held to"
                    }
                );
            }
            if !resumed && !draw_gate.admit(cutout.captured_at, limit) {
                continue;
            }
            last_capture = Some(cutout.captured_at);
            // A held picture that a newer one replaces is skipped.
            let skipped = if paused {
                held.replace(cutout.clone()).is_some()
            } else {
                held.take().is_some()
            };
            if skipped {
                self.shared
                    .sent
                    .video_skipped
                    .fetch_add(1, Ordering::Relaxed);
            }
            if paused {
                continue;
            }
            let size = rung_size(cutout.width, cutout.height, plan.rung());
            let scaled = scaled_cutout(&cutout, size.0, size.1);
            let picture = scaled.as_ref().unwrap_or(&cutout);
            let result = self.encode(picture, &mut encoder, start, plan, limit);
            let bytes = *result.as_ref().unwrap_or(&0);
            self.shared
                .send_series
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(
                    unix_micros(Instant::now()) / 1000,
                    plan,
                    estimate,
                    bytes,
                    size,
                );
            match result {
                Ok(0) => {}
                Ok(_) => {
                    sent += 1;
                    if sent % PROBE_EVERY_FRAMES == 1 {
                        self.send_probe(picture);
                    }
                }
                Err(e) => {
                    warn!(error = %e, "cannot encode the local cutout; resetting the encoder");
                    encoder = None;
                }
            }
        }
        debug!("encode thread stopped");
    }

    /// The frame rate of `plan`'s rung.
    fn fps(&self, plan: SendPlan) -> f32 {
        (self.config.video_fps * plan.rung().fps_share).max(1.0)
    }

    /// Encodes and sends one cutout at `plan`'s rate; the bytes sent, 0 when the
    /// rate control skipped it. A new picture size (another rung) starts a new
    /// encoder and so a keyframe with the new size; the bit rate alone changes in
    /// place.
    fn encode(
        &self,
        cutout: &Cutout,
        encoder: &mut Option<(H264Encoder, I420Frame)>,
        start: Instant,
        plan: SendPlan,
        receivers_limit: Option<f32>,
    ) -> NetResult<usize> {
        let (w, h) = (cutout.width, cutout.height);
        let fps = self.fps(plan);
        let bitrate_bps = encoder_bitrate(plan.video_bps, fps, receivers_limit);
        let fits = matches!(encoder, Some((e, _)) if e.config().width == w
            && e.config().height == h * 2
            && e.config().fps == fps);
        if !fits {
            let config = H264Config {
                fps,
                bitrate_bps,
                keyframe_interval: self.config.keyframe_interval,
                allow_frame_skip: true,
                threads: 1,
                ..H264Config::new(w, h * 2)
            };
            info!(
                width = w,
                height = h * 2,
                fps,
                kbit = plan.video_bps / 1000,
                rung = plan.rung,
                "video encoder (packed cutout)"
            );
            *encoder = Some((H264Encoder::new(config)?, I420Frame::new(w, h * 2)?));
            self.keyframe.store(true, Ordering::Relaxed);
        }
        let Some((enc, frame)) = encoder.as_mut() else {
            return Ok(0);
        };
        let current = enc.config().bitrate_bps;
        if current.abs_diff(bitrate_bps) > current / 50 {
            debug!(
                kbit = bitrate_bps / 1000,
                plan_kbit = plan.video_bps / 1000,
                "video bit rate"
            );
            enc.set_bitrate(bitrate_bps)?;
        }
        pack_cutout_into(&cutout.rgba, w, h, ColorMatrix::Bt601, frame)?;
        if self.keyframe.swap(false, Ordering::Relaxed) {
            enc.force_keyframe();
        }
        let t0 = Instant::now();
        let pts_ms = cutout
            .captured_at
            .saturating_duration_since(start)
            .as_millis() as u64;
        let out = enc.encode_i420(frame, pts_ms)?;
        let counters = &self.shared.sent;
        counters
            .encode_us
            .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
        if out.annex_b.is_empty() {
            counters.video_skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(0);
        }
        counters.video_frames.fetch_add(1, Ordering::Relaxed);
        counters
            .video_bytes
            .fetch_add(out.annex_b.len() as u64, Ordering::Relaxed);
        if out.is_keyframe {
            counters.keyframes.fetch_add(1, Ordering::Relaxed);
        }
        trace!(bytes = out.annex_b.len(), key = out.is_keyframe, "encoded");
        let bytes = out.annex_b.len();
        self.net.send(NetCommand::Video(EncodedMedia {
            data: Bytes::from(out.annex_b),
            duration: Duration::from_secs_f32(1.0 / fps),
            captured_at: cutout.captured_at,
        }))?;
        Ok(bytes)
    }

    fn send_probe(&self, cutout: &Cutout) {
        // A probe is ~5 kB of diagnostics on the reliable channel: not on a slow
        // link, where it would stand in the queue in front of the pictures.
        if self
            .net
            .counters()
            .send_estimates
            .slowest_bps()
            .is_some_and(|bps| bps < PROBE_MIN_ESTIMATE_BPS)
        {
            return;
        }
        let Some(probe) = ProbeMask::sample(&cutout.mask, cutout.width, cutout.height, PROBE_STEP)
        else {
            return;
        };
        let message = PeerToPeer::MaskProbe {
            captured_unix_us: unix_micros(cutout.captured_at),
            width: probe.width,
            height: probe.height,
            step: PROBE_STEP,
            bits: probe.to_hex(),
        };
        if let Err(e) = self.net.send(NetCommand::World { to: None, message }) {
            debug!(error = %e, "mask probe not sent");
        }
    }
}

struct AudioLoop {
    net: Arc<NetHandle>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    muted: Arc<AtomicBool>,
    tone_hz: f32,
    tone_gate: Option<Duration>,
    bitrate: u32,
    /// Where this peer's own voice activity is followed (its speaking ring).
    voices: Arc<VoiceBus>,
    /// `Some(name)`: try the microphone (`None` name: the default one).
    device: Option<Option<String>>,
    /// What the speaker plays, for the echo canceller.
    far_end: FarEnd,
    talk: TalkSettings,
}

/// Where the outgoing voice comes from.
struct VoiceSource {
    /// The microphone, kept through failures.
    microphone: DeviceKeeper<Microphone>,
    /// The synthetic tone, when the call started without a microphone.
    synthetic: Option<Box<dyn AudioSource + Send>>,
}

impl VoiceSource {
    /// The next 20 ms: the microphone, the synthetic tone, or silence while a lost
    /// microphone is being waited for.
    fn next_frame(&mut self) -> Vec<f32> {
        if let Some(mic) = self.microphone.device_mut() {
            mic.next_chunk(FRAME_SAMPLES)
        } else if let Some(tone) = &mut self.synthetic {
            tone.next_chunk(FRAME_SAMPLES)
        } else {
            vec![0.0; FRAME_SAMPLES]
        }
    }
}

impl AudioLoop {
    /// The microphone when asked for and available, else the synthetic tone.
    fn source(&self) -> VoiceSource {
        let wanted = self.device.clone().flatten();
        if let Some(name) = &self.device {
            match Microphone::open(name.as_deref()) {
                Ok(mic) => {
                    let device = mic.name().to_string();
                    self.shared.set_audio(|a| a.input = Some(device));
                    return VoiceSource {
                        microphone: DeviceKeeper::new(DeviceKind::Microphone, wanted, Some(mic)),
                        synthetic: None,
                    };
                }
                Err(e) => info!(error = %e, "no microphone: sending a synthetic tone"),
            }
        }
        let tone = SineSource::new(self.tone_hz, 0.3);
        let synthetic: Box<dyn AudioSource + Send> = match self.tone_gate {
            Some(gate) => Box::new(GatedSource::new(tone, gate)),
            None => Box::new(tone),
        };
        VoiceSource {
            microphone: DeviceKeeper::new(DeviceKind::Microphone, wanted, None),
            synthetic: Some(synthetic),
        }
    }

    /// Replaces a failed microphone (or waits for one), telling the app.
    fn keep_microphone(&self, source: &mut VoiceSource) {
        let Some(notice) = source.microphone.poll(Instant::now(), Microphone::open) else {
            return;
        };
        let input = source.microphone.device().map(|m| m.name().to_string());
        self.shared.set_audio(|a| a.input = input);
        self.shared.notice(notice);
    }

    fn run(self) {
        let _span = info_span!("audio-tx").entered();
        let mut encoder = match OpusEncoder::for_voice(1, self.bitrate, EXPECTED_AUDIO_LOSS_PERCENT)
        {
            Ok(e) => e,
            Err(e) => {
                warn!(error = %e, "no opus encoder: sending no audio");
                return;
            }
        };
        let mut source = self.source();
        // A steady synthetic tone is exactly what a noise suppressor removes (it
        // falls by 20 dB within 2 s): for it, echo cancellation and gain control only.
        let settings = if source.synthetic.is_some() {
            TalkSettings {
                noise_suppression: false,
                ..self.talk
            }
        } else {
            self.talk
        };
        let mut processor = match VoiceProcessor::new(settings) {
            Ok(p) => p,
            Err(e) => {
                // Unprocessed voice rather than none.
                warn!(error = %e, "no echo canceller: sending the microphone unprocessed");
                match VoiceProcessor::new(TalkSettings::off()) {
                    Ok(p) => p,
                    Err(e) => {
                        warn!(error = %e, "no voice processing: sending no audio");
                        return;
                    }
                }
            }
        };
        let mut frames = 0u64;
        let mut next = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            next += AUDIO_FRAME;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else if now - next > Duration::from_millis(200) {
                // Far behind (the machine stalled): resume from now, no burst.
                next = now;
            }
            // The frame taken now spans the last 20 ms: its first sample was
            // captured one frame ago (a microphone's own buffering not counted).
            let captured_at = next.checked_sub(AUDIO_FRAME).unwrap_or(next);
            self.keep_microphone(&mut source);
            let mut pcm = source.next_frame();
            // Processing runs while muted too, so the canceller stays converged.
            let processed = self
                .far_end
                .drain_into(&mut processor)
                .and_then(|_| processor.process_capture(&mut pcm));
            if let Err(e) = processed {
                debug!(error = %e, "voice processing skipped");
            }
            frames += 1;
            if frames.is_multiple_of(50) {
                let stats = processor.stats();
                self.shared.set_audio(|a| a.talk = stats);
            }
            if self.muted.load(Ordering::Relaxed) {
                self.voices.own_silence(FRAME_SAMPLES);
                continue;
            }
            self.voices.own_voice(&pcm);
            match encoder.encode_f32(&pcm) {
                Ok(packet) => {
                    self.shared
                        .sent
                        .audio_packets
                        .fetch_add(1, Ordering::Relaxed);
                    let media = EncodedMedia {
                        data: Bytes::from(packet),
                        duration: AUDIO_FRAME,
                        captured_at,
                    };
                    if let Err(e) = self.net.send(NetCommand::Audio(media)) {
                        debug!(error = %e, "audio not sent");
                    }
                }
                Err(e) => warn!(error = %e, "opus encode failed"),
            }
        }
    }
}

struct ReceiveLoop {
    media: Receiver<NetEvent>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    /// Where received voices are mixed.
    voices: Arc<VoiceBus>,
    /// `Some(name)`: play received voices on the speaker (`None` name: the default).
    device: Option<Option<String>>,
    /// Where the mix goes as the echo canceller's reference.
    far_end_tap: FarEndTap,
}

impl ReceiveLoop {
    fn run(self) {
        let _span = info_span!("media-rx").entered();
        let mut voices: HashMap<PeerId, VoiceIn> = HashMap::new();
        let mut feeds: HashMap<PeerId, DecodeFeed> = HashMap::new();
        let open = |name: Option<&str>| {
            Speaker::open_with_reference(name, self.voices.clone(), Some(self.far_end_tap.clone()))
        };
        let speaker = self
            .device
            .as_ref()
            .and_then(|name| match open(name.as_deref()) {
                Ok(speaker) => {
                    let device = speaker.name().to_string();
                    self.shared.set_audio(|a| a.output = Some(device));
                    Some(speaker)
                }
                Err(e) => {
                    info!(error = %e, "no speaker: received voices are measured only");
                    None
                }
            });
        let wanted = self.device.clone().flatten();
        let mut speaker = DeviceKeeper::new(DeviceKind::Speaker, wanted, speaker);
        // Without a speaker the mix runs on this thread's clock: computed and
        // measured as if played, and handed over as the far-end reference.
        let mut started = Instant::now();
        let mut mixed = 0u64;
        let mut swept = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            if swept.elapsed() >= VOICE_SWEEP_INTERVAL {
                // The voices of peers that left (their decoder queue is gone).
                swept = Instant::now();
                let present = self
                    .shared
                    .decoders
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                voices.retain(|peer, _| present.contains_key(peer));
                feeds.retain(|peer, _| present.contains_key(peer));
                let mut mixer = self.voices.mixer();
                for id in mixer.ids() {
                    if !present.contains_key(&PeerId(id)) {
                        mixer.forget(id);
                    }
                }
            }
            if let Some(notice) = speaker.poll(Instant::now(), open) {
                let output = speaker.device().map(|s| s.name().to_string());
                self.shared.set_audio(|a| a.output = output);
                self.shared.notice(notice);
                (started, mixed) = (Instant::now(), 0);
            }
            if speaker.device().is_none() {
                let due = (started.elapsed().as_secs_f64()
                    * f64::from(crate::media::audio::SAMPLE_RATE)) as u64;
                if due > mixed {
                    self.mix_unplayed((due - mixed) as usize);
                    mixed = due;
                }
            }
            let event = match self.media.recv_timeout(POLL) {
                Ok(e) => e,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match event {
                NetEvent::Video(unit) => self.video(unit, &mut feeds),
                NetEvent::Audio(packet) => self.audio(packet, &mut voices),
                _ => {}
            }
            if let Some(speaker) = speaker.device() {
                let played = speaker.played_samples();
                self.shared.set_audio(|a| a.played_samples = played);
            }
        }
    }

    /// Mixes `frames` that no device plays, handing them on as the far-end
    /// reference (mono: the mean of left and right).
    fn mix_unplayed(&self, frames: usize) {
        let mut stereo = vec![0.0; frames * 2];
        // These frames are the ones due since the last mix: they end now.
        let span_us = frames as i64 * 1_000_000 / i64::from(crate::media::audio::SAMPLE_RATE);
        self.voices
            .render_at(&mut stereo, 2, now_unix_us() - span_us);
        let mono: Vec<f32> = stereo
            .chunks_exact(2)
            .map(|f| 0.5 * (f[0] + f[1]))
            .collect();
        self.far_end_tap.push(&mono);
    }

    fn video(&self, unit: ReceivedMedia, feeds: &mut HashMap<PeerId, DecodeFeed>) {
        let peer = unit.from;
        let latency = unit.network_latency();
        self.shared.with_peer(peer, |s| {
            s.touch(unit.received_at);
            s.video_units += 1;
            s.video_bytes += unit.data.len() as u64;
            if let Some(n) = unit.frame_number {
                s.frame_span.see(n);
            }
            if let Some(l) = latency {
                PeerStats::push_latency(&mut s.network_ms, l.as_secs_f32() * 1000.0);
            }
        });
        let queue = self
            .shared
            .decoders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&peer)
            .cloned();
        let is_keyframe = |unit: &ReceivedMedia| has_idr_slice(&unit.data);
        if let Some((tx, rx)) = queue
            && feeds
                .entry(peer)
                .or_default()
                .feed(&tx, &rx, unit, is_keyframe)
        {
            debug!(peer = %peer.0, "decoder behind: dropped its queue up to the next keyframe");
            self.shared.want_keyframe(peer);
        }
    }

    fn audio(&self, packet: ReceivedMedia, voices: &mut HashMap<PeerId, VoiceIn>) {
        let peer = packet.from;
        let present = self
            .shared
            .decoders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&peer);
        if !present {
            // Not (or no longer) in the room here: nothing is kept for it.
            return;
        }
        let voice = match voices.entry(peer) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => match OpusDecoder::new(1) {
                Ok(decoder) => v.insert(VoiceIn {
                    decoder,
                    last_rtp: None,
                }),
                Err(e) => {
                    warn!(error = %e, "no opus decoder");
                    return;
                }
            },
        };
        // Lost packets before this one are rebuilt (FEC for the last, concealment
        // before it), so the voice keeps its timing and has no clicks.
        let missing = voice_frames_missing(voice.last_rtp, packet.rtp_timestamp);
        if voice
            .last_rtp
            .is_none_or(|last| rtp_not_older(last, packet.rtp_timestamp))
        {
            voice.last_rtp = Some(packet.rtp_timestamp);
        }
        let pcm = match voice.decoder.decode_after_loss(&packet.data, missing) {
            Ok(pcm) => pcm,
            Err(e) => {
                debug!(peer = %peer.0, error = %e, "opus packet rejected");
                return;
            }
        };
        let rate = f64::from(crate::media::audio::SAMPLE_RATE);
        let rebuilt = (missing * FRAME_SAMPLES).min(pcm.len());
        let mut gap = Duration::ZERO;
        self.shared.with_peer(peer, |s| {
            s.touch(packet.received_at);
            gap = s.audio_arrived(packet.received_at);
            s.audio_bytes += packet.data.len() as u64;
            s.audio_ms += (pcm.len() - rebuilt) as f64 * 1000.0 / rate;
            s.audio_rebuilt_ms += rebuilt as f64 * 1000.0 / rate;
            s.tone.push(&pcm);
        });
        if gap >= AUDIO_GAP_WORTH_A_LOG {
            let sent_ms_ago = packet.network_latency().map(|d| d.as_millis() as u64);
            info!(
                peer = %peer.0,
                gap_ms = gap.as_millis() as u64,
                missing,
                sent_ms_ago,
                "audio paused"
            );
        }
        let mut mixer = self.voices.mixer();
        mixer.push_timed(
            peer.0,
            packet.rtp_timestamp,
            &pcm,
            rebuilt,
            packet.captured_unix_us,
            packet.received_unix_us,
        );
        if mixer.lip_sync() {
            // The recording takes the voice as played (`NetBridge::take_remote_audio`).
            return;
        }
        drop(mixer);
        let mut queue = self
            .shared
            .remote_audio
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if queue.len() >= REMOTE_AUDIO_CAPACITY {
            queue.pop_front();
        }
        queue.push_back((peer, pcm));
    }
}

struct DecodeLoop {
    peer: PeerId,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    units: Receiver<ReceivedMedia>,
    cutouts: (Sender<Arc<Cutout>>, Receiver<Arc<Cutout>>),
}

impl DecodeLoop {
    fn run(self) {
        let _span = info_span!("decode", peer = %self.peer.0).entered();
        let mut decoder = match H264Decoder::new() {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "no h264 decoder: this peer's video stays blank");
                return;
            }
        };
        let mut seq = 0u64;
        let mut playout = Playout::new(MAX_PLAYOUT_DELAY);
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            // The display takes the newest picture per rendered frame: hand it the
            // next one once it took the last (or that one waited too long).
            while let Some(cutout) = playout.pop_for_display(now, self.cutouts.0.is_empty()) {
                push_drop_oldest(&self.cutouts.0, &self.cutouts.1, cutout);
            }
            let wait = playout.next_due().map_or(POLL, |due| {
                if due <= now {
                    DISPLAY_POLL
                } else {
                    due.saturating_duration_since(now).min(POLL)
                }
            });
            let unit = match self.units.recv_timeout(wait) {
                Ok(u) => u,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match self.decode(&mut decoder, &unit, seq) {
                Ok(Some(cutout)) => {
                    seq += 1;
                    if let Some(hold) = self.shared.stats().get(&self.peer).map(|s| s.video_hold) {
                        playout.set_hold(hold);
                    }
                    playout.push(
                        Arc::new(cutout),
                        unit.received_at,
                        unit.received_unix_us,
                        unit.captured_unix_us,
                        unit.repair_wait,
                    );
                    self.shared.with_peer(self.peer, |s| {
                        s.playout_delay_ms = playout.target().as_secs_f32() * 1000.0;
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    debug!(error = %e, "undecodable unit; asking for a keyframe");
                    self.shared.with_peer(self.peer, |s| s.decode_errors += 1);
                    self.shared.want_keyframe(self.peer);
                }
            }
        }
        debug!("decode thread stopped");
    }

    fn decode(
        &self,
        decoder: &mut H264Decoder,
        unit: &ReceivedMedia,
        seq: u64,
    ) -> Result<Option<Cutout>, NetError> {
        let Some(frame) = decoder.decode(&unit.data)? else {
            return Ok(None);
        };
        let unpacked = unpack_i420(&frame, ColorMatrix::Bt601)?;
        let mask = unpacked.alpha();
        let captured_at = unit
            .captured_unix_us
            .map_or(unit.received_at, instant_of_unix_us);
        if let Some(t) = unit.captured_unix_us {
            self.shared.with_peer(self.peer, |s| {
                s.probes
                    .add_decoded(t, &mask, unpacked.width, unpacked.height);
            });
        }
        self.shared.with_peer(self.peer, |s| s.video_frames += 1);
        Ok(Some(Cutout {
            seq,
            captured_at,
            width: unpacked.width,
            height: unpacked.height,
            rgba: unpacked.rgba,
            mask,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_decoder_queue_drops_everything_up_to_the_next_keyframe() {
        // Units 0 and 5 are keyframes.
        let key = |n: &i32| [0, 5].contains(n);
        let (tx, rx) = crossbeam_channel::bounded(3);
        let mut feed = DecodeFeed::default();
        // A keyframe and two units that reference it fill the queue.
        for n in [0, 1, 2] {
            assert!(!feed.feed(&tx, &rx, n, key));
        }
        // The next one finds it full: all three go, and so does it.
        assert!(feed.feed(&tx, &rx, 3, key));
        assert!(rx.is_empty());
        // Units before the next keyframe would not decode: none reaches the decoder.
        assert!(!feed.feed(&tx, &rx, 4, key));
        assert!(rx.is_empty());
        // The keyframe starts it again, with what follows it.
        assert!(!feed.feed(&tx, &rx, 5, key));
        assert!(!feed.feed(&tx, &rx, 6, key));
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![5, 6]);
    }

    #[test]
    fn a_keyframe_that_finds_the_queue_full_goes_in_alone() {
        let key = |n: &i32| [0, 2].contains(n);
        let (tx, rx) = crossbeam_channel::bounded(2);
        let mut feed = DecodeFeed::default();
        assert!(!feed.feed(&tx, &rx, 0, key));
        assert!(!feed.feed(&tx, &rx, 1, key));
        assert!(feed.feed(&tx, &rx, 2, key));
        assert!(!feed.feed(&tx, &rx, 3, key));
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn missing_voice_frames_are_counted_from_rtp_timestamps() {
        let step = FRAME_SAMPLES as u32;
        assert_eq!(voice_frames_missing(None, 5), 0, "the first packet");
        assert_eq!(
            voice_frames_missing(Some(1000), 1000 + step),
            0,
            "in sequence"
        );
        assert_eq!(voice_frames_missing(Some(1000), 1000 + 3 * step), 2);
        assert_eq!(
            voice_frames_missing(Some(u32::MAX - 10), (u32::MAX - 10).wrapping_add(2 * step)),
            1,
            "across the wrap"
        );
        assert_eq!(voice_frames_missing(Some(1000), 1000), 0, "a duplicate");
        assert_eq!(
            voice_frames_missing(Some(5000), 5000 - step),
            0,
            "a late one"
        );
        assert_eq!(
            voice_frames_missing(Some(0), (MAX_REBUILT_AUDIO_FRAMES as u32 + 2) * step),
            0,
            "a long gap stays silent"
        );
        assert_eq!(
            voice_frames_missing(Some(0), step + 7),
            0,
            "off the frame grid"
        );
    }
}
