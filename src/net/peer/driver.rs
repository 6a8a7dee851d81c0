//! tokio + webrtc-rs driver: the full mesh of one room behind a thread-friendly handle.
//!
//! [`NetHandle::connect`] starts a multi-thread tokio runtime (threads named
//! `samespace-net`), joins the room through the signaling server and then runs one
//! *room task* that owns every [`PeerConnection`] and its [`PeerSession`]. The rest of
//! the program talks to it only through bounded crossbeam channels:
//!
//! | channel | producer → consumer | capacity | full-policy |
//! | --- | --- | --- | --- |
//! | control in | app → room task | [`CONTROL_IN_CAPACITY`] | `send` returns [`NetError::Backlog`] (drop newest) |
//! | video in | app → room task | [`VIDEO_IN_CAPACITY`] | drop oldest (latest wins) |
//! | audio in | app → room task | [`AUDIO_IN_CAPACITY`] | drop oldest |
//! | events out | room/peer tasks → app | [`EVENTS_OUT_CAPACITY`] | drop oldest, counted |
//! | media out | track readers → app | [`MEDIA_OUT_CAPACITY`] | drop oldest, counted |
//! | per-peer writer | room task → one peer's track | [`PEER_MEDIA_CAPACITY`] | drop newest, counted |
//!
//! Per remote peer: one peer connection (UDP sockets on [`NetConfig::udp_addrs`],
//! loopback candidates enabled, ICE servers from [`NetConfig::ice_servers`], none by
//! default), a reliable ordered data channel `world`, an unordered no-retransmit
//! channel `world-fast` for latest-wins messages ([`PeerToPeer::is_latest_wins`]), an
//! H.264 video track and an Opus audio track each way. The lower peer id offers (see [`super::session`]).
//!
//! Keyframes: a receiver that starts a stream or detects loss sends an RTCP PLI (at
//! most every [`KEYFRAME_REQUEST_INTERVAL`]); [`super::rtcp`] lets it through to the
//! sender, whose app sees [`NetEvent::KeyframeRequested`] and should encode an IDR
//! next. A [`PeerToPeer::KeyframeRequest`] on `world` has the same effect, for peers
//! that cannot send RTCP.
//!
//! Leak watch: [`NetCounters::live_peer_connections`] counts peer connections whose
//! event handler is still alive; it must fall back after peers leave (webrtc-rs issue
//! 906 reported closed connections with transceivers never being freed).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use rtc::interceptor::{NackResponderBuilder, Slot};
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{Notify, mpsc};
use tracing::{Instrument, debug, info, info_span, trace, warn};
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceServer, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::net::error::{NetError, NetResult};
use crate::net::peer::capture_time::{FrameStamp, prepend_capture_time, unix_micros};
use crate::net::peer::impair::{LOSSY_LINK_SLOT, LossyLink};
use crate::net::peer::reorder::ReorderStats;
use crate::net::peer::rtcp::{
    KEYFRAME_FORWARDER_SLOT, KeyframeRequestForwarder, is_keyframe_request,
};
use crate::net::peer::session::{
    Connectivity, PeerSession, SessionEvent, SessionInput, SessionOutput, SessionTimeouts,
};
use crate::net::protocol::{
    ClientToServer, IceCandidate, PeerId, PeerInfo, PeerToPeer, RoomCode, SdpKind, ServerToClient,
    SessionDescription, WORLD_CHANNEL_LABEL, WORLD_FAST_CHANNEL_LABEL,
};
use crate::net::signaling::client::{SignalingClient, SignalingTask, Welcome};

/// Control commands (world messages, keyframe requests, leave). Producer: the app;
/// consumer: the room task. Full: [`NetHandle::send`] returns [`NetError::Backlog`].
pub const CONTROL_IN_CAPACITY: usize = 256;
/// Encoded video access units to send. Producer: the encoder; consumer: the room task.
/// Full: the oldest unit is dropped (latest wins).
pub const VIDEO_IN_CAPACITY: usize = 2;
/// Encoded audio packets to send. Producer: the audio encoder; consumer: the room task.
/// Full: the oldest packet is dropped.
pub const AUDIO_IN_CAPACITY: usize = 16;
/// Events for the app (peers, world messages, stats). Producer: the net tasks;
/// consumer: the app. Full: the oldest event is dropped and counted.
pub const EVENTS_OUT_CAPACITY: usize = 1024;
/// Received video and audio. Producer: the track readers; consumer: the app's decoders.
/// Full: the oldest item is dropped and counted.
pub const MEDIA_OUT_CAPACITY: usize = 64;
/// Frames queued for one peer's track writer. Producer: the room task; consumer: that
/// peer's writer task. Full: the new frame is dropped for that peer and counted.
pub const PEER_MEDIA_CAPACITY: usize = 8;
/// Largest `world` message, in bytes of JSON (what webrtc-rs delivers in one piece).
pub const MAX_WORLD_MESSAGE_BYTES: usize = 16 * 1024;
/// Interval of RTT probes and [`NetEvent::Stats`].
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Connection attempts to one peer (the first and the retries after a connection
/// that never came up) before it is reported gone.
pub const MAX_CONNECT_ATTEMPTS: u32 = 5;
/// Minimum time between two keyframe requests to one sender.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);
/// Data-channel send buffer per channel; a peer that falls this far behind loses
/// `world` messages (counted) instead of growing memory.
const DATA_CHANNEL_SEND_BUFFER: usize = 1024 * 1024;
/// Internal events of the peer connections for the room task.
const INTERNAL_CAPACITY: usize = 1024;
/// RTP payload type of H.264 (constrained baseline, packetization mode 1).
const H264_PAYLOAD_TYPE: u8 = 102;
/// RTP payload type of Opus.
const OPUS_PAYLOAD_TYPE: u8 = 111;

/// A STUN or TURN server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceServer {
    /// `stun:host:port` / `turn:host:port?transport=udp` URLs.
    pub urls: Vec<String>,
    /// TURN user name (empty for STUN).
    pub username: String,
    /// TURN credential (empty for STUN).
    pub credential: String,
}

impl IceServer {
    /// A server from its URL (`stun:`, `stuns:`, `turn:` or `turns:` and a host);
    /// TURN needs `username` and `credential`, STUN takes none.
    pub fn from_url(url: &str, username: &str, credential: &str) -> NetResult<Self> {
        let bad = |reason| NetError::IceServer {
            url: url.to_string(),
            reason,
        };
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| bad("expected stun:HOST[:PORT] or turn:HOST[:PORT]"))?;
        let host = rest.split(['?', ':']).next().unwrap_or_default();
        if host.is_empty() || host.starts_with('/') {
            return Err(bad("no host"));
        }
        let (username, credential) = match scheme {
            "stun" | "stuns" => (String::new(), String::new()),
            "turn" | "turns" if username.is_empty() || credential.is_empty() => {
                return Err(bad("a TURN server needs a user name and a credential"));
            }
            "turn" | "turns" => (username.to_string(), credential.to_string()),
            _ => return Err(bad("the scheme must be stun, stuns, turn or turns")),
        };
        Ok(Self {
            urls: vec![url.to_string()],
            username,
            credential,
        })
    }
}

/// How to join a room.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Signaling server, `ws://host:port` or `wss://host:port`.
    pub server_url: String,
    /// A PEM file of certificates to trust for `wss://` besides the system's roots
    /// (a private CA or a self-signed server).
    pub ca_file: Option<std::path::PathBuf>,
    /// Room to join.
    pub room: RoomCode,
    /// Whether an unknown room is created (the default) or refused (`room-not-found`).
    pub create: bool,
    /// Display name.
    pub name: String,
    /// Shared secret of the server, if it has one.
    pub secret: Option<String>,
    /// STUN/TURN servers; none by default (host candidates only).
    pub ice_servers: Vec<IceServer>,
    /// Local UDP addresses for ICE. `0.0.0.0:0` means every non-loopback interface;
    /// `127.0.0.1:0` adds loopback. Default: both.
    pub udp_addrs: Vec<String>,
    /// Negotiation and liveness limits.
    pub timeouts: SessionTimeouts,
    /// Probability of dropping each outgoing RTP packet, to test recovery on a
    /// perfect network (0 = off, the default); see [`super::impair`].
    pub simulated_loss: f64,
    /// One-way delay added to every outgoing RTP/RTCP packet, to test on a perfect
    /// network (zero = off, the default); see [`super::impair`].
    pub simulated_delay: Duration,
    /// How long received video with a missing packet waits for its retransmission
    /// (NACK) before the frame is given up and a keyframe requested; see
    /// [`super::reorder`]. `None` (the default): four measured media round trips
    /// plus 100 ms, 100 ms–1 s. Packets that arrive in order are never held.
    pub recovery_window: Option<Duration>,
}

impl NetConfig {
    /// A configuration with defaults: no ICE servers, LAN and loopback candidates.
    pub fn new(server_url: impl Into<String>, room: RoomCode, name: impl Into<String>) -> Self {
        Self {
            server_url: server_url.into(),
            ca_file: None,
            room,
            create: true,
            name: name.into(),
            secret: None,
            ice_servers: Vec::new(),
            udp_addrs: vec!["0.0.0.0:0".into(), "127.0.0.1:0".into()],
            timeouts: SessionTimeouts::default(),
            simulated_loss: 0.0,
            simulated_delay: Duration::ZERO,
            recovery_window: None,
        }
    }

    /// Restricts ICE to loopback (tests, one machine): no traffic leaves the host.
    pub fn loopback_only(mut self) -> Self {
        self.udp_addrs = vec!["127.0.0.1:0".into()];
        self.ice_servers.clear();
        self
    }
}

/// An encoded media unit to send: an H.264 access unit (Annex-B) or one Opus packet.
#[derive(Clone, Debug)]
pub struct EncodedMedia {
    /// The bitstream.
    pub data: Bytes,
    /// Its duration (frame interval, or 20 ms of audio).
    pub duration: Duration,
    /// When the content was captured (for latency measurement).
    pub captured_at: Instant,
}

/// A received media unit.
#[derive(Clone, Debug)]
pub struct ReceivedMedia {
    /// Sender.
    pub from: PeerId,
    /// An Annex-B H.264 access unit, or one Opus packet.
    pub data: Bytes,
    /// RTP timestamp (90 kHz video, 48 kHz audio).
    pub rtp_timestamp: u32,
    /// When the last packet of the unit arrived.
    pub received_at: Instant,
    /// Sender's capture time, µs since the Unix epoch (video only; see
    /// [`super::capture_time`]).
    pub captured_unix_us: Option<u64>,
    /// The sender's picture number (video only), to count pictures that never came.
    pub frame_number: Option<u32>,
    /// How long the unit waited for a lost packet's repair before it was complete
    /// (video; zero when it arrived whole and in order).
    pub repair_wait: Duration,
    /// Our wall clock at `received_at`, µs since the Unix epoch.
    pub received_unix_us: u64,
}

impl ReceivedMedia {
    /// Capture-to-receive latency, when the sender stamped the unit (meaningful on
    /// one machine, or with synchronised clocks).
    pub fn network_latency(&self) -> Option<Duration> {
        self.captured_unix_us
            .map(|c| Duration::from_micros(self.received_unix_us.saturating_sub(c)))
    }
}

/// What the app asks of the network.
#[derive(Clone, Debug)]
pub enum NetCommand {
    /// Send a `world` message to one peer, or to all when `to` is `None`.
    World {
        /// Recipient, or everyone.
        to: Option<PeerId>,
        /// The message.
        message: PeerToPeer,
    },
    /// Send a video access unit to every connected peer.
    Video(EncodedMedia),
    /// Send an audio packet to every connected peer.
    Audio(EncodedMedia),
    /// Ask `from` for a keyframe (e.g. the decoder failed).
    RequestKeyframe {
        /// The sender whose stream is broken.
        from: PeerId,
    },
    /// Send a room control to the signaling server (`lock`, `unlock`, `remove`:
    /// host only; the server answers with [`NetEvent::FromServer`]).
    Server(ClientToServer),
    /// Leave the room (also done on drop).
    Leave,
}

/// What the network tells the app.
#[derive(Clone, Debug)]
pub enum NetEvent {
    /// Another peer is in the room (from `welcome` or `peer-joined`).
    PeerJoined {
        /// Its id.
        id: PeerId,
        /// Its name.
        name: String,
    },
    /// The WebRTC connection to a peer is up.
    PeerConnected {
        /// Its id.
        id: PeerId,
    },
    /// A peer left, vanished or could not be reached.
    PeerLeft {
        /// Its id.
        id: PeerId,
    },
    /// The room's host changed.
    HostChanged {
        /// The new host.
        host: PeerId,
    },
    /// A `world` message from a peer.
    World {
        /// Sender.
        from: PeerId,
        /// The message.
        message: PeerToPeer,
    },
    /// A video access unit from a peer (on the media channel).
    Video(ReceivedMedia),
    /// An audio packet from a peer (on the media channel).
    Audio(ReceivedMedia),
    /// A peer asks us for a keyframe.
    KeyframeRequested {
        /// Who asks.
        by: PeerId,
    },
    /// Link figures for one peer, every [`STATS_INTERVAL`].
    Stats {
        /// The peer.
        peer: PeerId,
        /// Round-trip time over the data channel, once measured.
        rtt: Option<Duration>,
        /// Media received from it over the last interval, kbit/s.
        kbit_s: f64,
        /// Loss repair on its video so far.
        video_repair: ReorderStats,
    },
    /// A server message about the room that the mesh does not act on itself
    /// (`room-lock`, `error`: e.g. `removed` just before the server closes).
    FromServer(ServerToClient),
    /// The signaling connection ended; no new peers can join us.
    SignalingClosed {
        /// Why.
        reason: String,
    },
}

/// Counters of dropped items, for the stats overlay.
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Video units dropped before sending (queue full, per peer or global).
    pub video_dropped_out: AtomicU64,
    /// Audio packets dropped before sending.
    pub audio_dropped_out: AtomicU64,
    /// Events or media dropped because the app did not drain them.
    pub dropped_in: AtomicU64,
    /// `world` messages dropped (too large, or a peer's send buffer full).
    pub world_dropped: AtomicU64,
    /// Peer connections not yet freed (their handler is alive); see the module docs.
    pub live_peer_connections: AtomicI64,
    /// Connections replaced by a new attempt because they never came up.
    pub reconnects: AtomicU64,
}

/// Sends into a bounded crossbeam channel, dropping the oldest item when full.
fn push_drop_oldest<T>(tx: &Sender<T>, rx: &Receiver<T>, item: T, dropped: &AtomicU64) {
    match tx.try_send(item) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => {}
        Err(TrySendError::Full(item)) => {
            let _ = rx.try_recv();
            dropped.fetch_add(1, Ordering::Relaxed);
            let _ = tx.try_send(item);
        }
    }
}

/// Where the net tasks put events for the app.
#[derive(Clone)]
pub(super) struct EventSink {
    events: (Sender<NetEvent>, Receiver<NetEvent>),
    media: (Sender<NetEvent>, Receiver<NetEvent>),
    counters: Arc<NetCounters>,
}

impl EventSink {
    fn event(&self, event: NetEvent) {
        push_drop_oldest(
            &self.events.0,
            &self.events.1,
            event,
            &self.counters.dropped_in,
        );
    }

    pub(super) fn media(&self, event: NetEvent) {
        push_drop_oldest(
            &self.media.0,
            &self.media.1,
            event,
            &self.counters.dropped_in,
        );
    }
}

/// The app's end of the network: owns the tokio runtime and the room task.
///
/// Dropping it leaves the room politely (closing every peer connection) and stops the
/// runtime; [`NetHandle::abandon`] stops without any goodbye, like a crash.
pub struct NetHandle {
    welcome: Welcome,
    control: Sender<NetCommand>,
    video: (Sender<EncodedMedia>, Receiver<EncodedMedia>),
    audio: (Sender<EncodedMedia>, Receiver<EncodedMedia>),
    wake: Arc<Notify>,
    stop: Arc<AtomicBool>,
    events: Receiver<NetEvent>,
    media: Receiver<NetEvent>,
    counters: Arc<NetCounters>,
    room_task: Option<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl NetHandle {
    /// Starts the runtime, joins the room and returns once the server welcomed us
    /// (errors such as `room-full` or a wrong secret come back here).
    ///
    /// Call it from a plain thread, not from inside a tokio runtime.
    pub fn connect(config: NetConfig) -> NetResult<Self> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(NetError::InsideRuntime);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("samespace-net")
            .enable_all()
            .build()?;
        let (signaling, welcome) = runtime.block_on(async {
            let mut client =
                SignalingClient::connect_with_ca(&config.server_url, config.ca_file.as_deref())
                    .await?;
            let welcome = client
                .join_room(
                    config.room,
                    &config.name,
                    config.secret.as_deref(),
                    config.create,
                )
                .await?;
            Ok::<_, NetError>((client.spawn(), welcome))
        })?;
        info!(room = %welcome.room, you = %welcome.you, peers = welcome.peers.len(), "joined room");

        let (control_tx, control_rx) = crossbeam_channel::bounded(CONTROL_IN_CAPACITY);
        let video = crossbeam_channel::bounded(VIDEO_IN_CAPACITY);
        let audio = crossbeam_channel::bounded(AUDIO_IN_CAPACITY);
        let events = crossbeam_channel::bounded(EVENTS_OUT_CAPACITY);
        let media = crossbeam_channel::bounded(MEDIA_OUT_CAPACITY);
        let counters = Arc::new(NetCounters::default());
        let sink = EventSink {
            events: events.clone(),
            media: media.clone(),
            counters: counters.clone(),
        };
        let wake = Arc::new(Notify::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (internal_tx, internal_rx) = mpsc::channel(INTERNAL_CAPACITY);
        let room = Room {
            me: welcome.you,
            host: welcome.host,
            config: Arc::new(config),
            signaling,
            peers: HashMap::new(),
            internal_tx,
            sink,
            started: Instant::now(),
            video_frame_number: 0,
            control: control_rx,
            video: video.1.clone(),
            audio: audio.1.clone(),
        };
        let span = info_span!("room", room = %welcome.room, me = %welcome.you);
        let room_task = runtime.spawn(
            room.run(
                welcome.peers.clone(),
                internal_rx,
                wake.clone(),
                stop.clone(),
            )
            .instrument(span),
        );
        Ok(Self {
            welcome,
            control: control_tx,
            video,
            audio,
            wake,
            stop,
            events: events.1,
            media: media.1,
            counters,
            room_task: Some(room_task),
            runtime: Some(runtime),
        })
    }

    /// Our id in the room.
    pub fn me(&self) -> PeerId {
        self.welcome.you
    }

    /// The server's welcome: room, our id, the peers present when we joined, host.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Queues a command without blocking; see the module table for full-policies.
    pub fn send(&self, command: NetCommand) -> NetResult<()> {
        match command {
            NetCommand::Video(unit) => push_drop_oldest(
                &self.video.0,
                &self.video.1,
                unit,
                &self.counters.video_dropped_out,
            ),
            NetCommand::Audio(packet) => push_drop_oldest(
                &self.audio.0,
                &self.audio.1,
                packet,
                &self.counters.audio_dropped_out,
            ),
            other => match self.control.try_send(other) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(NetError::Backlog),
                Err(TrySendError::Disconnected(_)) => return Err(NetError::WorkerStopped),
            },
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Peer, world and stats events. Drain with `try_iter()` once per frame.
    pub fn events(&self) -> &Receiver<NetEvent> {
        &self.events
    }

    /// Received video and audio ([`NetEvent::Video`], [`NetEvent::Audio`]).
    pub fn media(&self) -> &Receiver<NetEvent> {
        &self.media
    }

    /// Drop counters.
    pub fn counters(&self) -> &NetCounters {
        &self.counters
    }

    /// Leaves the room politely and waits (briefly) for the goodbyes to go out.
    pub fn leave(mut self) {
        self.shut_down(true);
    }

    /// Stops at once without any goodbye, as if the process had died: peers learn of
    /// it from the server noticing the closed socket, or from ICE timing out.
    pub fn abandon(mut self) {
        self.shut_down(false);
    }

    fn shut_down(&mut self, polite: bool) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if polite {
            self.stop.store(true, Ordering::SeqCst);
            self.wake.notify_one();
            if let Some(task) = self.room_task.take()
                && tokio::runtime::Handle::try_current().is_err()
            {
                let _ = runtime
                    .block_on(async { tokio::time::timeout(Duration::from_secs(2), task).await });
            }
        }
        runtime.shutdown_background();
    }
}

impl Drop for NetHandle {
    fn drop(&mut self) {
        self.shut_down(true);
    }
}

/// Events from peer-connection callbacks and helper tasks to the room task.
pub(super) enum Internal {
    Candidate(PeerId, IceCandidate),
    State(PeerId, Connectivity),
    Channel(PeerId, ChannelKind, Arc<dyn DataChannel>),
    ChannelOpen(PeerId, ChannelKind),
    Pong(PeerId, u64),
    RemoteVideo(PeerId, Arc<dyn TrackRemote>),
    NeedKeyframe(PeerId),
    /// Replace the connection to the peer with this attempt (the current one failed).
    Retry(PeerId, u32),
}

/// The two data channels to each peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ChannelKind {
    /// `world`: ordered and reliable (events, chat, names, RTT probes).
    Reliable,
    /// `world-fast`: unordered, no retransmissions (snapshots, placements: latest wins,
    /// so a lost packet never holds up newer ones).
    Fast,
}

impl ChannelKind {
    fn from_label(label: &str) -> Option<Self> {
        match label {
            WORLD_CHANNEL_LABEL => Some(Self::Reliable),
            WORLD_FAST_CHANNEL_LABEL => Some(Self::Fast),
            _ => None,
        }
    }
}

/// One remote peer.
struct Peer {
    name: String,
    session: PeerSession,
    pc: Arc<dyn PeerConnection>,
    world: Option<Arc<dyn DataChannel>>,
    world_open: bool,
    fast: Option<Arc<dyn DataChannel>>,
    fast_open: bool,
    video_out: mpsc::Sender<EncodedMedia>,
    audio_out: mpsc::Sender<EncodedMedia>,
    remote_video: Option<Arc<dyn TrackRemote>>,
    bytes_in: Arc<AtomicU64>,
    last_bytes_in: u64,
    /// Loss repair counters of its video (written by the track reader).
    video_repair: Arc<std::sync::Mutex<ReorderStats>>,
    rtt: Option<Duration>,
    last_keyframe_request: Option<Instant>,
    /// Which connection attempt to this peer this is (carried in every signal).
    attempt: u32,
    /// Whether this attempt ever connected (a connection lost after that means the
    /// peer went away; one that never came up is tried again).
    ever_connected: bool,
    /// Set when this connection is replaced or closed: its callbacks go quiet, so a
    /// late state change cannot reach the next attempt's session.
    retired: Arc<AtomicBool>,
}

/// The room task's state.
struct Room {
    me: PeerId,
    host: PeerId,
    config: Arc<NetConfig>,
    signaling: SignalingTask,
    peers: HashMap<PeerId, Peer>,
    internal_tx: mpsc::Sender<Internal>,
    sink: EventSink,
    started: Instant,
    /// Number of the next video picture sent (carried in its capture-time SEI).
    video_frame_number: u32,
    control: Receiver<NetCommand>,
    video: Receiver<EncodedMedia>,
    audio: Receiver<EncodedMedia>,
}

impl Room {
    async fn run(
        mut self,
        initial: Vec<PeerInfo>,
        mut internal: mpsc::Receiver<Internal>,
        wake: Arc<Notify>,
        stop: Arc<AtomicBool>,
    ) {
        for info in initial {
            self.sink.event(NetEvent::PeerJoined {
                id: info.id,
                name: info.name.clone(),
            });
            self.add_peer(info.id, info.name).await;
        }
        let mut stats = tokio::time::interval(STATS_INTERVAL);
        stats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut signaling_open = true;
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let deadline = self
                .peers
                .values()
                .filter_map(|p| p.session.poll_timeout())
                .min()
                .map(tokio::time::Instant::from_std);
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                msg = self.signaling.inbox.recv(), if signaling_open => match msg {
                    Some(msg) => self.on_server(msg).await,
                    None => {
                        signaling_open = false;
                        warn!("signaling connection closed");
                        self.sink.event(NetEvent::SignalingClosed {
                            reason: "the signaling server closed the connection".into(),
                        });
                    }
                },
                Some(event) = internal.recv() => self.on_internal(event).await,
                () = wake.notified() => {
                    if self.drain_commands().await {
                        break;
                    }
                }
                () = tokio::time::sleep_until(deadline.unwrap_or(far)) => {
                    let now = Instant::now();
                    let due: Vec<PeerId> = self.peers.iter()
                        .filter(|(_, p)| p.session.poll_timeout().is_some_and(|t| t <= now))
                        .map(|(id, _)| *id)
                        .collect();
                    for id in due {
                        if let Some(peer) = self.peers.get_mut(&id) {
                            peer.session.handle_timeout(now);
                        }
                        self.drive(id).await;
                    }
                }
                _ = stats.tick() => self.on_stats_tick().await,
            }
        }
        self.close_all().await;
    }

    /// Handles queued commands; returns true on `Leave`.
    async fn drain_commands(&mut self) -> bool {
        while let Ok(command) = self.control.try_recv() {
            match command {
                NetCommand::Leave => return true,
                NetCommand::World { to, message } => self.send_world(to, &message).await,
                NetCommand::RequestKeyframe { from } => self.request_keyframe(from).await,
                NetCommand::Video(unit) => self.fan_out_video(unit),
                NetCommand::Audio(packet) => self.fan_out_audio(packet),
                NetCommand::Server(msg) => {
                    if self.signaling.outbox.send(msg).await.is_err() {
                        warn!("room control not sent: the signaling connection is closed");
                    }
                }
            }
        }
        while let Ok(unit) = self.video.try_recv() {
            self.fan_out_video(unit);
        }
        while let Ok(packet) = self.audio.try_recv() {
            self.fan_out_audio(packet);
        }
        false
    }

    fn fan_out_video(&mut self, mut unit: EncodedMedia) {
        let stamp = FrameStamp {
            captured_unix_us: unix_micros(unit.captured_at),
            frame_number: self.video_frame_number,
        };
        self.video_frame_number = self.video_frame_number.wrapping_add(1);
        unit.data = prepend_capture_time(&unit.data, stamp);
        for peer in self.peers.values().filter(|p| p.session.is_connected()) {
            if peer.video_out.try_send(unit.clone()).is_err() {
                self.sink
                    .counters
                    .video_dropped_out
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn fan_out_audio(&self, packet: EncodedMedia) {
        for peer in self.peers.values().filter(|p| p.session.is_connected()) {
            if peer.audio_out.try_send(packet.clone()).is_err() {
                self.sink
                    .counters
                    .audio_dropped_out
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn send_world(&self, to: Option<PeerId>, message: &PeerToPeer) {
        let text = match serde_json::to_string(message) {
            Ok(text) => text,
            Err(err) => {
                warn!(%err, "world message not serializable");
                return;
            }
        };
        if text.len() > MAX_WORLD_MESSAGE_BYTES {
            warn!(bytes = text.len(), "world message too large, dropped");
            self.sink
                .counters
                .world_dropped
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        for (id, peer) in &self.peers {
            if to.is_some_and(|t| t != *id) {
                continue;
            }
            let channel = if message.is_latest_wins() && peer.fast_open {
                peer.fast.as_ref()
            } else if peer.world_open {
                peer.world.as_ref()
            } else {
                None
            };
            if let Some(channel) = channel
                && channel.try_send_text(&text).await.is_err()
            {
                self.sink
                    .counters
                    .world_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn request_keyframe(&mut self, from: PeerId) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let now = Instant::now();
        if peer
            .last_keyframe_request
            .is_some_and(|t| now.duration_since(t) < KEYFRAME_REQUEST_INTERVAL)
        {
            return;
        }
        peer.last_keyframe_request = Some(now);
        if let Some(track) = &peer.remote_video
            && let Some(media_ssrc) = track.ssrcs().await.first().copied()
        {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            match track.write_rtcp(vec![Box::new(pli)]).await {
                Err(err) => debug!(%err, "pli not sent"),
                Ok(()) => debug!(peer = %from, media_ssrc, "pli sent"),
            }
        }
    }

    async fn on_stats_tick(&mut self) {
        let nonce = self.started.elapsed().as_micros() as u64;
        self.send_world(None, &PeerToPeer::Ping { nonce }).await;
        let seconds = STATS_INTERVAL.as_secs_f64();
        for (id, peer) in &mut self.peers {
            if !peer.session.is_connected() {
                continue;
            }
            let total = peer.bytes_in.load(Ordering::Relaxed);
            let kbit_s = (total - peer.last_bytes_in) as f64 * 8.0 / 1000.0 / seconds;
            peer.last_bytes_in = total;
            let video_repair = *peer.video_repair.lock().unwrap_or_else(|e| e.into_inner());
            self.sink.event(NetEvent::Stats {
                peer: *id,
                rtt: peer.rtt,
                kbit_s,
                video_repair,
            });
        }
    }

    async fn on_server(&mut self, msg: ServerToClient) {
        match msg {
            ServerToClient::PeerJoined { id, name } => {
                info!(peer = %id, name, "peer joined");
                self.sink.event(NetEvent::PeerJoined {
                    id,
                    name: name.clone(),
                });
                self.add_peer(id, name).await;
            }
            ServerToClient::PeerLeft { id, host } => {
                info!(peer = %id, "peer left");
                self.remove_peer(id).await;
                if host != self.host {
                    info!(host = %host, "host changed");
                    self.host = host;
                    self.sink.event(NetEvent::HostChanged { host });
                }
            }
            ServerToClient::Signal {
                from,
                attempt,
                payload,
            } => match self.peers.get(&from).map(|p| p.attempt) {
                None => debug!(peer = %from, "signal from an unknown peer ignored"),
                Some(current) if attempt < current => {
                    debug!(peer = %from, attempt, current, "signal of an older attempt ignored");
                }
                Some(current) => {
                    if attempt > current {
                        // The other side started over: so do we, on the same attempt.
                        self.reconnect(from, attempt).await;
                    }
                    self.input(from, SessionInput::Remote(payload)).await;
                }
            },
            ServerToClient::Error { code, message } => {
                warn!(%code, message, "signaling error");
                self.sink.event(NetEvent::FromServer(ServerToClient::Error {
                    code,
                    message,
                }));
            }
            lock @ ServerToClient::RoomLock { .. } => self.sink.event(NetEvent::FromServer(lock)),
            ServerToClient::Welcome { .. } | ServerToClient::Pong => {}
        }
    }

    async fn on_internal(&mut self, event: Internal) {
        match event {
            Internal::Candidate(id, candidate) => {
                self.input(id, SessionInput::LocalCandidate(candidate))
                    .await;
            }
            Internal::State(id, state) => self.input(id, SessionInput::Connectivity(state)).await,
            Internal::Channel(id, kind, channel) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    spawn_world_reader(
                        id,
                        kind,
                        channel.clone(),
                        self.internal_tx.clone(),
                        self.sink.clone(),
                    );
                    match kind {
                        ChannelKind::Reliable => peer.world = Some(channel),
                        ChannelKind::Fast => peer.fast = Some(channel),
                    }
                }
            }
            Internal::ChannelOpen(id, ChannelKind::Fast) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.fast_open = true;
                }
            }
            Internal::ChannelOpen(id, ChannelKind::Reliable) => {
                // Reported twice where the other side created the channel (when it
                // is announced and when it opens): one `hello` per connection.
                if let Some(peer) = self.peers.get_mut(&id)
                    && !peer.world_open
                {
                    peer.world_open = true;
                    debug!(peer = %id, "world channel open");
                    let hello = PeerToPeer::Hello {
                        name: self.config.name.clone(),
                    };
                    self.send_world(Some(id), &hello).await;
                }
            }
            Internal::Pong(id, nonce) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    let now = self.started.elapsed().as_micros() as u64;
                    peer.rtt = Some(Duration::from_micros(now.saturating_sub(nonce)));
                }
            }
            Internal::RemoteVideo(id, track) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.remote_video = Some(track);
                }
                self.request_keyframe(id).await;
            }
            Internal::NeedKeyframe(id) => self.request_keyframe(id).await,
            Internal::Retry(id, attempt) => {
                // Only if nothing newer happened meanwhile (the other side's retry).
                if self.peers.get(&id).is_some_and(|p| p.attempt < attempt) {
                    self.reconnect(id, attempt).await;
                }
            }
        }
    }

    async fn add_peer(&mut self, id: PeerId, name: String) {
        if self.peers.contains_key(&id) || id == self.me {
            return;
        }
        self.connect_peer(id, name, 0).await;
    }

    /// A connection to `id` failed before it came up. The peer is still in the room
    /// (signaling says so), so a fresh connection is queued (through the room task's
    /// queue: reconnecting from inside `drive` would recurse), until the attempts
    /// run out.
    async fn retry_or_remove(&mut self, id: PeerId, attempt: u32, reason: &str) {
        if attempt + 1 < MAX_CONNECT_ATTEMPTS
            && self
                .internal_tx
                .try_send(Internal::Retry(id, attempt + 1))
                .is_ok()
        {
            warn!(peer = %id, reason, attempt, "peer connection failed; trying again");
        } else {
            warn!(peer = %id, reason, attempt, "peer connection failed; giving up");
            self.remove_peer(id).await;
        }
    }

    /// Replaces the connection to `id` with a fresh one for `attempt`.
    async fn reconnect(&mut self, id: PeerId, attempt: u32) {
        let Some(old) = self.peers.remove(&id) else {
            return;
        };
        info!(peer = %id, attempt, "connecting again");
        let name = old.name.clone();
        close_in_background(id, old);
        self.sink
            .counters
            .reconnects
            .fetch_add(1, Ordering::Relaxed);
        self.connect_peer(id, name, attempt).await;
    }

    /// Builds the peer connection, session and tasks for `id`'s `attempt`.
    async fn connect_peer(&mut self, id: PeerId, name: String, attempt: u32) {
        let retired = Arc::new(AtomicBool::new(false));
        let bytes_in = Arc::new(AtomicU64::new(0));
        let video_repair = Arc::new(std::sync::Mutex::new(ReorderStats::default()));
        self.sink
            .counters
            .live_peer_connections
            .fetch_add(1, Ordering::Relaxed);
        let handler = Arc::new(PcHandler {
            peer: id,
            internal: self.internal_tx.clone(),
            sink: self.sink.clone(),
            bytes_in: bytes_in.clone(),
            video_repair: video_repair.clone(),
            recovery_window: self.config.recovery_window,
            retired: retired.clone(),
        });
        let built = build_peer_connection(&self.config, handler).await;
        let (pc, video_track, video_sender, audio_track, audio_sender) = match built {
            Ok(parts) => parts,
            Err(err) => {
                warn!(peer = %id, %err, "could not create a peer connection");
                self.sink.event(NetEvent::PeerLeft { id });
                return;
            }
        };
        let session = PeerSession::new(self.me, id, self.config.timeouts);
        let (mut world, mut fast) = (None, None);
        if session.role() == crate::net::peer::session::Role::Impolite {
            let fast_init = RTCDataChannelInit {
                ordered: false,
                max_retransmits: Some(0),
                ..Default::default()
            };
            for (kind, label, init) in [
                (ChannelKind::Reliable, WORLD_CHANNEL_LABEL, None),
                (ChannelKind::Fast, WORLD_FAST_CHANNEL_LABEL, Some(fast_init)),
            ] {
                match pc.create_data_channel(label, init).await {
                    Ok(channel) => {
                        spawn_world_reader(
                            id,
                            kind,
                            channel.clone(),
                            self.internal_tx.clone(),
                            self.sink.clone(),
                        );
                        match kind {
                            ChannelKind::Reliable => world = Some(channel),
                            ChannelKind::Fast => fast = Some(channel),
                        }
                    }
                    Err(err) => warn!(peer = %id, %err, label, "could not create a data channel"),
                }
            }
        }
        let span = info_span!("peer", peer = %id);
        tokio::spawn(
            watch_keyframe_requests(id, video_track.clone(), self.sink.clone())
                .instrument(span.clone()),
        );
        let (video_out, video_rx) = mpsc::channel(PEER_MEDIA_CAPACITY);
        tokio::spawn(
            write_media(video_track, video_sender, video_rx, MediaClock::Capture)
                .instrument(span.clone()),
        );
        let (audio_out, audio_rx) = mpsc::channel(PEER_MEDIA_CAPACITY);
        tokio::spawn(
            write_media(audio_track, audio_sender, audio_rx, MediaClock::Nominal).instrument(span),
        );
        self.peers.insert(
            id,
            Peer {
                name,
                session,
                pc,
                world,
                world_open: false,
                fast,
                fast_open: false,
                video_out,
                audio_out,
                remote_video: None,
                bytes_in,
                last_bytes_in: 0,
                video_repair,
                rtt: None,
                last_keyframe_request: None,
                attempt,
                ever_connected: false,
                retired,
            },
        );
        self.input(id, SessionInput::Start).await;
    }

    /// Forgets `id`: the departure is announced at once, and the connection is
    /// closed in the background. Closing waits on the stack (DTLS close alert, SCTP
    /// shutdown, ICE agent) and on a busy machine takes seconds; neither the
    /// departure nor the rest of the room may wait for it.
    async fn remove_peer(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.remove(&id) {
            self.sink.event(NetEvent::PeerLeft { id });
            debug!(peer = %id, name = peer.name, "closing peer connection");
            close_in_background(id, peer);
        }
    }

    async fn close_all(&mut self) {
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            if let Some(peer) = self.peers.remove(&id) {
                close_peer(peer).await;
            }
        }
        let _ = self.signaling.outbox.send(ClientToServer::Leave).await;
    }

    async fn input(&mut self, id: PeerId, input: SessionInput) {
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.session.handle_input(Instant::now(), input);
            self.drive(id).await;
        }
    }

    /// Executes the session's outputs in order.
    async fn drive(&mut self, id: PeerId) {
        loop {
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            let Some(output) = peer.session.poll_output() else {
                return;
            };
            let pc = peer.pc.clone();
            let attempt = peer.attempt;
            let ever_connected = peer.ever_connected;
            let result: Result<Option<SessionInput>, String> = match output {
                SessionOutput::Send(payload) => {
                    let msg = ClientToServer::Signal {
                        to: id,
                        attempt,
                        payload,
                    };
                    if self.signaling.outbox.send(msg).await.is_err() {
                        debug!("signaling gone; signal not sent");
                    }
                    Ok(None)
                }
                SessionOutput::CreateOffer => make_local(&*pc, true).await,
                SessionOutput::CreateAnswer => make_local(&*pc, false).await,
                SessionOutput::Rollback => match RTCSessionDescription::rollback(None) {
                    Ok(desc) => pc
                        .set_local_description(desc)
                        .await
                        .map(|()| None)
                        .map_err(|e| format!("rollback: {e}")),
                    Err(e) => Err(format!("rollback: {e}")),
                },
                SessionOutput::ApplyRemote(desc) => match to_rtc_description(&desc) {
                    Ok(desc) => pc
                        .set_remote_description(desc)
                        .await
                        .map(|()| None)
                        .map_err(|e| format!("remote description: {e}")),
                    Err(e) => Err(format!("remote description: {e}")),
                },
                SessionOutput::AddCandidate(candidate) => {
                    let init = RTCIceCandidateInit {
                        candidate: candidate.candidate,
                        sdp_mid: candidate.sdp_mid,
                        sdp_mline_index: candidate.sdp_mline_index,
                        username_fragment: candidate.username_fragment,
                        ..Default::default()
                    };
                    if let Err(err) = pc.add_ice_candidate(init).await {
                        // One bad candidate is not fatal; ICE uses the others.
                        debug!(%err, "remote candidate rejected");
                    }
                    Ok(None)
                }
                SessionOutput::Event(SessionEvent::Connected) => {
                    if let Some(peer) = self.peers.get_mut(&id) {
                        peer.ever_connected = true;
                    }
                    info!(peer = %id, "peer connected");
                    self.sink.event(NetEvent::PeerConnected { id });
                    Ok(None)
                }
                SessionOutput::Event(SessionEvent::Lost) if !ever_connected => {
                    // ICE gave up before the connection ever came up: as for Failed.
                    self.retry_or_remove(id, attempt, "no connection (ICE failed)")
                        .await;
                    return;
                }
                SessionOutput::Event(SessionEvent::Lost) => {
                    info!(peer = %id, "peer lost");
                    self.remove_peer(id).await;
                    return;
                }
                SessionOutput::Event(SessionEvent::Failed(reason)) => {
                    self.retry_or_remove(id, attempt, &reason).await;
                    return;
                }
            };
            let next = match result {
                Ok(next) => next,
                Err(reason) => Some(SessionInput::OperationFailed(reason)),
            };
            if let Some(next) = next
                && let Some(peer) = self.peers.get_mut(&id)
            {
                peer.session.handle_input(Instant::now(), next);
            }
        }
    }
}

/// How ICE treats mDNS (`.local`) candidates: resolved where this host can join the
/// mDNS multicast group (browsers hide their host addresses behind such names), and
/// ignored where it cannot: a host with no multicast route (a namespace with only
/// `lo`, a locked-down container) still connects over IP candidates, instead of
/// failing every connection with the group join's `ENODEV`. Probed once per process.
fn multicast_dns_mode() -> rtc::ice::mdns::MulticastDnsMode {
    use rtc::ice::mdns::MulticastDnsMode;
    static MODE: std::sync::OnceLock<MulticastDnsMode> = std::sync::OnceLock::new();
    *MODE.get_or_init(|| match rtc::mdns::MulticastSocket::new().into_std() {
        Ok(_) => MulticastDnsMode::QueryOnly,
        Err(err) => {
            warn!(%err, "no mDNS here: .local candidates are ignored, IP candidates still connect");
            MulticastDnsMode::Disabled
        }
    })
}

/// Retires `peer` now (its callbacks go quiet) and closes it on its own task.
fn close_in_background(id: PeerId, peer: Peer) {
    peer.retired.store(true, Ordering::Relaxed);
    tokio::spawn(close_peer(peer).instrument(info_span!("close", peer = %id)));
}

async fn close_peer(peer: Peer) {
    peer.retired.store(true, Ordering::Relaxed);
    for channel in [&peer.world, &peer.fast].into_iter().flatten() {
        let _ = channel.close().await;
    }
    if let Err(err) = peer.pc.close().await {
        debug!(%err, "closing peer connection");
    }
}

/// Creates an offer or answer, applies it locally and returns it as session input.
async fn make_local(pc: &dyn PeerConnection, offer: bool) -> Result<Option<SessionInput>, String> {
    let desc = if offer {
        pc.create_offer(None).await
    } else {
        pc.create_answer(None).await
    }
    .map_err(|e| format!("create description: {e}"))?;
    pc.set_local_description(desc.clone())
        .await
        .map_err(|e| format!("local description: {e}"))?;
    let kind = if offer {
        SdpKind::Offer
    } else {
        SdpKind::Answer
    };
    Ok(Some(SessionInput::LocalDescription(SessionDescription {
        kind,
        sdp: desc.sdp,
    })))
}

fn to_rtc_description(desc: &SessionDescription) -> webrtc::error::Result<RTCSessionDescription> {
    match desc.kind {
        SdpKind::Offer => RTCSessionDescription::offer(desc.sdp.clone()),
        SdpKind::Answer => RTCSessionDescription::answer(desc.sdp.clone()),
        SdpKind::Pranswer => RTCSessionDescription::pranswer(desc.sdp.clone()),
        SdpKind::Rollback => RTCSessionDescription::rollback(None),
    }
}

fn h264_codec() -> RTCRtpCodec {
    let feedback = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
            .to_owned(),
        rtcp_feedback: vec![
            feedback("nack", ""),
            feedback("nack", "pli"),
            feedback("ccm", "fir"),
            feedback("goog-remb", ""),
        ],
    }
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// A local track with a random SSRC, in the media stream `stream_id`.
///
/// Track ids must differ from the remote side's: webrtc-rs 0.21 routes inbound RTCP
/// (PLI, FIR, reports) by track id and tries received tracks first, so a local
/// "video" track facing a remote "video" track never sees its keyframe requests.
/// Each id therefore carries the SSRC.
fn local_track(
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
    stream_id: &str,
) -> webrtc::error::Result<Arc<TrackLocalStaticSample>> {
    let ssrc = random_u32();
    let label = match kind {
        RtpCodecKind::Video => "video",
        _ => "audio",
    };
    let track = MediaStreamTrack::new(
        stream_id.to_owned(),
        format!("samespace-{label}-{ssrc:08x}"),
        format!("samespace-{label}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    );
    Ok(Arc::new(TrackLocalStaticSample::new(
        Instant::now(),
        track,
    )?))
}

/// A random 32-bit value (for SSRCs), from the standard library's OS-seeded hash keys.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    hasher.finish() as u32
}

type BuiltPeer = (
    Arc<dyn PeerConnection>,
    Arc<TrackLocalStaticSample>,
    Arc<dyn RtpSender>,
    Arc<TrackLocalStaticSample>,
    Arc<dyn RtpSender>,
);

async fn build_peer_connection(
    config: &NetConfig,
    handler: Arc<PcHandler>,
) -> webrtc::error::Result<BuiltPeer> {
    let mut media_engine = MediaEngine::default();
    media_engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: h264_codec(),
            payload_type: H264_PAYLOAD_TYPE,
        },
        RtpCodecKind::Video,
    )?;
    media_engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus_codec(),
            payload_type: OPUS_PAYLOAD_TYPE,
        },
        RtpCodecKind::Audio,
    )?;
    // The default chain's NACK responder (retransmits what the remote asks for),
    // TWCC receiver and RTCP reports. NACKs are generated by the video reader's
    // [`ReorderBuffer`], which knows when a frame still waits for a packet; the
    // chain's generator would re-ask for every gap every interval, forever.
    configure_simulcast_extension_headers(&mut media_engine)?;
    let registry = Registry::new().with(Slot::NackResponder, NackResponderBuilder::new().build());
    let registry = configure_twcc_receiver_only(registry, &mut media_engine)?;
    let mut registry = configure_rtcp_reports(registry)
        .with(KEYFRAME_FORWARDER_SLOT, KeyframeRequestForwarder::default());
    if config.simulated_loss > 0.0 || !config.simulated_delay.is_zero() {
        registry = registry.with(
            LOSSY_LINK_SLOT,
            LossyLink::new(config.simulated_loss, u64::from(random_u32()))
                .with_delay(config.simulated_delay),
        );
    }
    let ice_servers = config
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect();
    let setting_engine = SettingEngineBuilder::new()
        .with_multicast_dns_mode(multicast_dns_mode())
        .with_include_loopback_candidate(true)
        .with_ice_timeouts(
            Some(Duration::from_secs(2)),
            Some(Duration::from_secs(6)),
            Some(Duration::from_millis(500)),
        )
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new()
                .with_ice_servers(ice_servers)
                .build(),
        )
        .with_media_engine(media_engine)
        .with_interceptor_registry(registry)
        .with_setting_engine(setting_engine)
        .with_handler(handler)
        .with_udp_addrs(config.udp_addrs.clone())
        .with_data_channel_send_buffer_limit(DATA_CHANNEL_SEND_BUFFER)
        .build()
        .await?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    // One stream per connection: the receiver groups its audio and video.
    let stream_id = format!("samespace-{:08x}", random_u32());
    let video_track = local_track(RtpCodecKind::Video, h264_codec(), &stream_id)?;
    let video_sender = pc
        .add_track(video_track.clone() as Arc<dyn TrackLocal>)
        .await?;
    let audio_track = local_track(RtpCodecKind::Audio, opus_codec(), &stream_id)?;
    let audio_sender = pc
        .add_track(audio_track.clone() as Arc<dyn TrackLocal>)
        .await?;
    Ok((pc, video_track, video_sender, audio_track, audio_sender))
}

/// Peer-connection callbacks, forwarded to the room task.
struct PcHandler {
    peer: PeerId,
    internal: mpsc::Sender<Internal>,
    sink: EventSink,
    bytes_in: Arc<AtomicU64>,
    video_repair: Arc<std::sync::Mutex<ReorderStats>>,
    recovery_window: Option<Duration>,
    /// The connection was replaced or closed: report nothing more.
    retired: Arc<AtomicBool>,
}

impl Drop for PcHandler {
    fn drop(&mut self) {
        self.sink
            .counters
            .live_peer_connections
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PcHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        match event.candidate.to_json() {
            Ok(init) => {
                let candidate = IceCandidate {
                    candidate: init.candidate,
                    sdp_mid: init.sdp_mid,
                    sdp_mline_index: init.sdp_mline_index,
                    username_fragment: init.username_fragment,
                };
                let _ = self
                    .internal
                    .send(Internal::Candidate(self.peer, candidate))
                    .await;
            }
            Err(err) => debug!(%err, "local candidate not serializable"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        debug!(peer = %self.peer, %state, "connection state");
        let state = match state {
            RTCPeerConnectionState::Connected => Connectivity::Connected,
            RTCPeerConnectionState::Disconnected => Connectivity::Disconnected,
            RTCPeerConnectionState::Failed => Connectivity::Failed,
            RTCPeerConnectionState::Closed => Connectivity::Closed,
            _ => Connectivity::Connecting,
        };
        let _ = self.internal.send(Internal::State(self.peer, state)).await;
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        let label = channel.label().await.unwrap_or_default();
        let Some(kind) = ChannelKind::from_label(&label) else {
            debug!(label, "ignoring an unknown data channel");
            return;
        };
        let _ = self
            .internal
            .send(Internal::Channel(self.peer, kind, channel))
            .await;
        // A channel announced by the remote side is already open.
        let _ = self
            .internal
            .send(Internal::ChannelOpen(self.peer, kind))
            .await;
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        let kind = track.kind().await;
        let peer = self.peer;
        let sink = self.sink.clone();
        let internal = self.internal.clone();
        let bytes_in = self.bytes_in.clone();
        let video = super::track_rx::VideoReader {
            peer,
            sink: sink.clone(),
            internal: internal.clone(),
            bytes_in: bytes_in.clone(),
            repair: self.video_repair.clone(),
            recovery_window: self.recovery_window,
        };
        let span = info_span!("track", peer = %peer, ?kind);
        tokio::spawn(
            async move {
                match kind {
                    RtpCodecKind::Video => {
                        let _ = internal
                            .send(Internal::RemoteVideo(peer, track.clone()))
                            .await;
                        video.run(track).await;
                    }
                    RtpCodecKind::Audio => {
                        super::track_rx::read_audio(peer, track, sink, bytes_in).await
                    }
                    _ => {}
                }
            }
            .instrument(span),
        );
    }
}

fn spawn_world_reader(
    peer: PeerId,
    kind: ChannelKind,
    channel: Arc<dyn DataChannel>,
    internal: mpsc::Sender<Internal>,
    sink: EventSink,
) {
    let span = info_span!("world", peer = %peer);
    tokio::spawn(
        async move {
            while let Some(event) = channel.poll().await {
                match event {
                    DataChannelEvent::OnOpen => {
                        let _ = internal.send(Internal::ChannelOpen(peer, kind)).await;
                    }
                    DataChannelEvent::OnMessage(msg) => {
                        let message: PeerToPeer = match serde_json::from_slice(&msg.data) {
                            Ok(message) => message,
                            Err(err) => {
                                debug!(%err, "ignoring an unknown world message");
                                continue;
                            }
                        };
                        match message {
                            PeerToPeer::Ping { nonce } => {
                                if let Ok(text) = serde_json::to_string(&PeerToPeer::Pong { nonce })
                                {
                                    let _ = channel.try_send_text(&text).await;
                                }
                            }
                            PeerToPeer::Pong { nonce } => {
                                let _ = internal.send(Internal::Pong(peer, nonce)).await;
                            }
                            PeerToPeer::KeyframeRequest => {
                                sink.event(NetEvent::KeyframeRequested { by: peer });
                            }
                            message => sink.event(NetEvent::World {
                                from: peer,
                                message,
                            }),
                        }
                    }
                    DataChannelEvent::OnClose => break,
                    _ => {}
                }
            }
        }
        .instrument(span),
    );
}

/// Turns PLI/FIR from `peer` about our video into [`NetEvent::KeyframeRequested`].
async fn watch_keyframe_requests(
    peer: PeerId,
    track: Arc<TrackLocalStaticSample>,
    sink: EventSink,
) {
    while let Some(TrackLocalEvent::OnRtcpPacket(packets)) = track.poll().await {
        if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
            debug!(peer = %peer, "keyframe requested");
            sink.event(NetEvent::KeyframeRequested { by: peer });
        }
    }
}

/// How a track's RTP timestamps advance from one unit to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MediaClock {
    /// By each unit's nominal duration (audio: contiguous 20 ms packets).
    Nominal,
    /// By the capture clock (video: the rate control skips pictures and the
    /// capture rate varies, and the receiver's jitter buffer plays packets out by
    /// RTP time, so timestamps that drift from real time erode its depth).
    Capture,
}

/// The RTP advance after `unit`, given the previous unit's capture instant. The
/// packetizer adds a unit's duration *after* sending it, so under
/// [`MediaClock::Capture`] each unit carries the interval that led up to it: every
/// timestamp is then the capture time one interval late, which never drifts.
fn rtp_advance(clock: MediaClock, unit: &EncodedMedia, previous: Option<Instant>) -> Duration {
    match (clock, previous) {
        (MediaClock::Capture, Some(previous)) => unit
            .captured_at
            .saturating_duration_since(previous)
            .clamp(Duration::from_millis(1), Duration::from_secs(5)),
        _ => unit.duration,
    }
}

/// Writes queued units to one peer's track once the codec is negotiated.
async fn write_media(
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    mut queue: mpsc::Receiver<EncodedMedia>,
    clock: MediaClock,
) {
    let mut target: Option<(u32, u8)> = None;
    let mut previous_capture: Option<Instant> = None;
    while let Some(unit) = queue.recv().await {
        if target.is_none() {
            let ssrc = track.ssrcs().await.first().copied();
            let payload_type = match sender.get_parameters().await {
                Ok(params) => params.rtp_parameters.codecs.first().map(|c| c.payload_type),
                Err(_) => None,
            };
            target = ssrc.zip(payload_type);
        }
        let Some((ssrc, payload_type)) = target else {
            trace!("codec not negotiated yet; unit dropped");
            continue;
        };
        let duration = rtp_advance(clock, &unit, previous_capture);
        previous_capture = Some(unit.captured_at);
        let sample = Sample {
            data: unit.data,
            duration,
            ..Sample::new(unit.captured_at)
        };
        if let Err(err) = track
            .sample_writer(ssrc, payload_type)
            .write_sample(&sample)
            .await
        {
            trace!(%err, "sample not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_its_oldest_item() {
        let (tx, rx) = crossbeam_channel::bounded(2);
        let dropped = AtomicU64::new(0);
        for i in 0..5 {
            push_drop_oldest(&tx, &rx, i, &dropped);
        }
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn video_timestamps_follow_the_capture_clock_and_audio_its_nominal_length() {
        let start = Instant::now();
        let unit = |ms: u64| EncodedMedia {
            data: Bytes::new(),
            duration: Duration::from_millis(66),
            captured_at: start + Duration::from_millis(ms),
        };
        // Capture at 0, 66, 200 (a skipped picture), 266: the sum of advances
        // tracks the capture clock instead of counting 66 ms per picture.
        let mut previous = None;
        let mut total = Duration::ZERO;
        for ms in [0, 66, 200, 266] {
            let u = unit(ms);
            total += rtp_advance(MediaClock::Capture, &u, previous);
            previous = Some(u.captured_at);
        }
        assert_eq!(total, Duration::from_millis(66 + 266));
        assert_eq!(
            rtp_advance(MediaClock::Nominal, &unit(200), Some(start)),
            Duration::from_millis(66)
        );
    }

    #[test]
    fn ice_servers_are_checked_when_configured() {
        let stun = IceServer::from_url("stun:stun.example.org:3478", "", "").expect("stun");
        assert_eq!(stun.urls, vec!["stun:stun.example.org:3478".to_string()]);
        assert!(stun.username.is_empty());
        let turn = IceServer::from_url("turn:10.0.0.1:3478?transport=udp", "u", "p").expect("turn");
        assert_eq!(
            (turn.username.as_str(), turn.credential.as_str()),
            ("u", "p")
        );
        for (url, user) in [
            ("turn:10.0.0.1", ""),
            ("http://x", ""),
            ("stun:", ""),
            ("stun.example.org", ""),
        ] {
            assert!(
                matches!(
                    IceServer::from_url(url, user, ""),
                    Err(NetError::IceServer { .. })
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn loopback_only_keeps_ice_on_this_machine() {
        let config =
            NetConfig::new("ws://127.0.0.1:1", RoomCode::from_random(1), "a").loopback_only();
        assert_eq!(config.udp_addrs, vec!["127.0.0.1:0".to_string()]);
        assert!(config.ice_servers.is_empty());
    }
}
