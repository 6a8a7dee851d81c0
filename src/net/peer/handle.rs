//! The app's end of the tokio + webrtc-rs driver: the full mesh of one room behind a
//! thread-friendly handle.
//!
//! [`NetHandle::connect`] starts a multi-thread tokio runtime (threads named
//! `samespace-net`), joins the room through the signaling server and then runs one
//! *room task* that owns every `PeerConnection` and its `PeerSession`. The rest of
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
//! channel `world-fast` for messages not worth repeating (`PeerToPeer::may_be_lost`), an
//! H.264 video track and an Opus audio track each way. The lower peer id offers (see [`super::session`]).
//!
//! Keyframes: a receiver that starts a stream or detects loss sends an RTCP PLI (at
//! most every `KEYFRAME_REQUEST_INTERVAL`); [`super::rtcp`] lets it through to the
//! sender, whose app sees [`NetEvent::KeyframeRequested`] and should encode an IDR
//! next. A `PeerToPeer::KeyframeRequest` on `world` has the same effect, for peers
//! that cannot send RTCP.
//!
//! Leak watch: [`NetCounters::live_peer_connections`] counts peer connections whose
//! event handler is still alive; it must fall back after peers leave (webrtc-rs issue
//! 906 reported closed connections with transceivers never being freed).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use tokio::sync::{Notify, mpsc};
use tracing::{Instrument, info, info_span};

use super::channels::*;
use super::config::*;
use super::internal::*;
use super::room::*;
use crate::net::error::{NetError, NetResult};
use crate::net::protocol::PeerId;
use crate::net::signaling::client::{Rejoin, SignalingClient, Welcome};

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
            let rejoin = Rejoin {
                url: config.server_url.clone(),
                ca: config.ca_file.clone(),
                room: welcome.room,
                name: config.name.clone(),
                secret: config.secret.clone(),
                me: welcome.you,
            };
            Ok::<_, NetError>((client.spawn_rejoining(rejoin), welcome))
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

    pub(super) fn shut_down(&mut self, polite: bool) {
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
