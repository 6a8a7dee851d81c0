//! The room task: one per room, owning every peer connection and its
//! [`PeerSession`] (perfect negotiation), the signaling link, the fan-out of media
//! and `world` messages, keyframe requests, link figures, reconnects and goodbyes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use tokio::sync::{Notify, mpsc};
use tracing::{Instrument, debug, info, info_span, warn};
use webrtc::data_channel::{DataChannel, RTCDataChannelInit};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCSessionDescription};

use super::channels::*;
use super::config::*;
use super::connection::*;
use super::data_channel::*;
use super::internal::*;
use super::media_tx::*;
use crate::net::peer::capture_time::{FrameStamp, prepend_capture_time, unix_micros};
use crate::net::peer::congestion::SendEstimate;
use crate::net::peer::reorder::ReorderStats;
use crate::net::peer::session::{PeerSession, SessionEvent, SessionInput, SessionOutput};
use crate::net::protocol::{
    ClientToServer, PeerId, PeerInfo, PeerToPeer, SdpKind, ServerToClient, SessionDescription,
    WORLD_CHANNEL_LABEL, WORLD_FAST_CHANNEL_LABEL,
};
use crate::net::signaling::client::{SignalingStatus, SignalingTask};

/// Largest `world` message, in bytes of JSON (what webrtc-rs delivers in one piece).
pub const MAX_WORLD_MESSAGE_BYTES: usize = 16 * 1024;
/// Interval of RTT probes and [`NetEvent::Stats`].
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Connection attempts to one peer in a row (the first, or the one that replaced a
/// lost connection, and the retries after each that never came up) before it is
/// reported gone.
pub const MAX_CONNECT_ATTEMPTS: u32 = 5;
/// How long the other side may stay silent (no signal of the new attempt) after we,
/// the lower id, started over a connection that was up and got lost; a peer that
/// says nothing by then is gone (e.g. a frozen process whose signaling connection
/// stays open). The higher id answers our offer of the new attempt at once.
pub const RESTART_ANSWER_TIMEOUT: Duration = Duration::from_secs(3);
/// Minimum time between two keyframe requests to one sender.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);

/// One remote peer.
pub(super) struct Peer {
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
    /// The congestion controller's estimate of what we may send it.
    send_estimate: SendEstimate,
    /// Loss repair counters of its video (written by the track reader).
    video_repair: Arc<std::sync::Mutex<ReorderStats>>,
    rtt: Option<Duration>,
    last_keyframe_request: Option<Instant>,
    /// Which connection attempt to this peer this is (carried in every signal).
    attempt: u32,
    /// Whether this attempt ever connected (a connection lost after that is started
    /// over with a fresh run of [`MAX_CONNECT_ATTEMPTS`]).
    ever_connected: bool,
    /// The attempt that began the current run of attempts (0, or the one that
    /// replaced a lost connection).
    first_attempt: u32,
    /// Whether the other side sent a signal of this attempt.
    heard: bool,
    /// Set when this connection is replaced or closed: its callbacks go quiet, so a
    /// late state change cannot reach the next attempt's session.
    retired: Arc<AtomicBool>,
}

/// The room task's state.
pub(super) struct Room {
    pub(super) me: PeerId,
    pub(super) host: PeerId,
    pub(super) config: Arc<NetConfig>,
    pub(super) signaling: SignalingTask,
    pub(super) peers: HashMap<PeerId, Peer>,
    pub(super) internal_tx: mpsc::Sender<Internal>,
    pub(super) sink: EventSink,
    pub(super) started: Instant,
    /// Number of the next video picture sent (carried in its capture-time SEI).
    pub(super) video_frame_number: u32,
    pub(super) control: Receiver<NetCommand>,
    pub(super) video: Receiver<EncodedMedia>,
    pub(super) audio: Receiver<EncodedMedia>,
}

impl Room {
    pub(super) async fn run(
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
                Some(SignalingStatus::Reconnecting) = self.signaling.status.recv(), if signaling_open => {
                    self.sink.event(NetEvent::SignalingReconnecting);
                }
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
    pub(super) async fn drain_commands(&mut self) -> bool {
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

    pub(super) fn fan_out_video(&mut self, mut unit: EncodedMedia) {
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

    pub(super) fn fan_out_audio(&self, packet: EncodedMedia) {
        for peer in self.peers.values().filter(|p| p.session.is_connected()) {
            if peer.audio_out.try_send(packet.clone()).is_err() {
                self.sink
                    .counters
                    .audio_dropped_out
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(super) async fn send_world(&self, to: Option<PeerId>, message: &PeerToPeer) {
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
            let channel = if message.may_be_lost() && peer.fast_open {
                peer.fast.as_ref()
            } else if peer.world_open {
                peer.world.as_ref()
            } else {
                None
            };
            let Some(channel) = channel else { continue };
            tracing::debug!(kind = message.kind(), bytes = text.len(), "world message");
            if channel.try_send_text(&text).await.is_ok() {
                self.sink
                    .counters
                    .world_bytes_sent
                    .fetch_add(text.len() as u64 + WORLD_FRAMING_BYTES, Ordering::Relaxed);
            } else {
                self.sink
                    .counters
                    .world_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(super) async fn request_keyframe(&mut self, from: PeerId) {
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

    pub(super) async fn on_stats_tick(&mut self) {
        let nonce = self.started.elapsed().as_micros() as u64;
        self.send_world(None, &PeerToPeer::Ping { nonce }).await;
        let seconds = STATS_INTERVAL.as_secs_f64();
        for (id, peer) in &mut self.peers {
            if !peer.session.is_connected() {
                continue;
            }
            let mut video_repair = *peer.video_repair.lock().unwrap_or_else(|e| e.into_inner());
            let report = peer
                .pc
                .get_stats(Instant::now(), rtc::statistics::StatsSelector::None)
                .await;
            let (fec_packets, fec_bytes) = report
                .iter()
                .map(|entry| match entry {
                    rtc::statistics::report::RTCStatsReportEntry::InboundRtp(s) => {
                        (s.fec_packets_received, s.fec_bytes_received)
                    }
                    _ => (0, 0),
                })
                .fold((0, 0), |(p, b), (dp, db)| (p + dp, b + db));
            video_repair.fec_received = fec_packets;
            video_repair.fec_bytes_received = fec_bytes;
            // What arrived: the media the track readers took, and FlexFEC's repair
            // packets (they never reach a reader).
            let total = peer.bytes_in.load(Ordering::Relaxed) + fec_bytes;
            let kbit_s = total.saturating_sub(peer.last_bytes_in) as f64 * 8.0 / 1000.0 / seconds;
            peer.last_bytes_in = total;
            self.sink.event(NetEvent::Stats {
                peer: *id,
                rtt: peer.rtt,
                kbit_s,
                send_estimate_kbit: Some(peer.send_estimate.bps() as f64 / 1000.0),
                video_repair,
                candidate_pair: super::candidate_pair::selected_pair(&report),
            });
        }
    }

    pub(super) async fn on_server(&mut self, msg: ServerToClient) {
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
                    if let Some(peer) = self.peers.get_mut(&from) {
                        peer.heard = true;
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
            ServerToClient::Welcome { peers, host, .. } => self.on_rejoined(peers, host).await,
            ServerToClient::Pong => {}
        }
    }

    /// The signaling task reconnected and rejoined under our id: the connections
    /// to the peers we know go on untouched; peers we did not know are met; a peer
    /// that has not rejoined yet stays (it will, or its connection says it is gone).
    pub(super) async fn on_rejoined(&mut self, peers: Vec<PeerInfo>, host: PeerId) {
        info!(peers = peers.len(), %host, "signaling back: rejoined the room");
        self.sink.event(NetEvent::SignalingBack);
        for info in peers {
            if !self.peers.contains_key(&info.id) && info.id != self.me {
                self.sink.event(NetEvent::PeerJoined {
                    id: info.id,
                    name: info.name.clone(),
                });
                self.add_peer(info.id, info.name).await;
            }
        }
        if host != self.host {
            info!(%host, "host changed");
            self.host = host;
            self.sink.event(NetEvent::HostChanged { host });
        }
    }

    pub(super) async fn on_internal(&mut self, event: Internal) {
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
                    let restart = self.peers.get(&id).is_some_and(|p| p.ever_connected);
                    self.reconnect(id, attempt).await;
                    if restart {
                        self.expect_answer(id, attempt, RESTART_ANSWER_TIMEOUT);
                    }
                }
            }
            Internal::AnswerDue(id, attempt) => {
                if self
                    .peers
                    .get(&id)
                    .is_some_and(|p| p.attempt == attempt && !p.heard && !p.ever_connected)
                {
                    warn!(peer = %id, attempt, "no answer to the new attempt; the peer is gone");
                    self.remove_peer(id).await;
                }
            }
        }
    }

    pub(super) async fn add_peer(&mut self, id: PeerId, name: String) {
        if self.peers.contains_key(&id) || id == self.me {
            return;
        }
        self.connect_peer(id, name, 0, 0).await;
    }

    /// A connection to `id` failed before it came up. The peer is still in the room
    /// (signaling says so), so a fresh connection is queued (through the room task's
    /// queue: reconnecting from inside `drive` would recurse), until the attempts
    /// run out.
    pub(super) async fn retry_or_remove(&mut self, id: PeerId, attempt: u32, reason: &str) {
        let first = self.peers.get(&id).map_or(attempt, |p| {
            run_start(p.ever_connected, attempt + 1, p.first_attempt)
        });
        if may_start_over(first, attempt)
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

    /// Replaces the connection to `id` with a fresh one for `attempt`. The peer stays
    /// in the app meanwhile (no `PeerLeft`); the new connection's `PeerConnected`,
    /// `hello` and first keyframe request resync it.
    pub(super) async fn reconnect(&mut self, id: PeerId, attempt: u32) {
        let Some(old) = self.peers.remove(&id) else {
            return;
        };
        info!(peer = %id, attempt, restart = old.ever_connected, "connecting again");
        let name = old.name.clone();
        let first = run_start(old.ever_connected, attempt, old.first_attempt);
        close_in_background(id, old);
        self.sink
            .counters
            .reconnects
            .fetch_add(1, Ordering::Relaxed);
        self.connect_peer(id, name, attempt, first).await;
    }

    /// Has the room task check, `wait` from now, that the other side signalled in
    /// our new `attempt` to `id`.
    fn expect_answer(&self, id: PeerId, attempt: u32, wait: Duration) {
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = internal.send(Internal::AnswerDue(id, attempt)).await;
        });
    }

    /// Builds the peer connection, session and tasks for `id`'s `attempt`, the run
    /// of attempts having begun at `first`.
    pub(super) async fn connect_peer(
        &mut self,
        id: PeerId,
        name: String,
        attempt: u32,
        first: u32,
    ) {
        let retired = Arc::new(AtomicBool::new(false));
        let bytes_in = Arc::new(AtomicU64::new(0));
        let video_repair = Arc::new(std::sync::Mutex::new(ReorderStats::default()));
        self.sink
            .counters
            .live_peer_connections
            .fetch_add(1, Ordering::Relaxed);
        let audio_sender_slot = Arc::new(std::sync::OnceLock::new());
        let handler = Arc::new(PcHandler {
            peer: id,
            internal: self.internal_tx.clone(),
            sink: self.sink.clone(),
            bytes_in: bytes_in.clone(),
            video_repair: video_repair.clone(),
            recovery_window: self.config.recovery_window,
            fec_rebuilt: Default::default(),
            retired: retired.clone(),
            audio_sender: audio_sender_slot.clone(),
        });
        let built = build_peer_connection(&self.config, handler).await;
        // A new attempt: the old connection's estimate no longer counts.
        self.sink.counters.send_estimates.remove(id);
        let (pc, send_estimate, video_track, video_sender, audio_track, audio_sender) = match built
        {
            Ok(parts) => parts,
            Err(err) => {
                warn!(peer = %id, %err, "could not create a peer connection");
                self.sink.event(NetEvent::PeerLeft { id });
                return;
            }
        };
        let _ = audio_sender_slot.set(audio_sender.clone());
        // The lower id decides that a connection is lost (and announces the new
        // attempt with its offer); the higher id waits half as long again, so a
        // link back in time for one side is not torn down by the other.
        let mut timeouts = self.config.timeouts;
        if self.me > id {
            timeouts.disconnected_grace = match timeouts.restart {
                // The lower id restarts ICE every `every` while the link is down;
                // each restart offer renews this wait, so a silence this long means
                // the lower id stopped (it gave up, froze, or left).
                Some(restart) => restart.after + restart.every + restart.answer,
                None => timeouts.disconnected_grace + timeouts.disconnected_grace / 2,
            };
        }
        let session = PeerSession::new(self.me, id, timeouts);
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
            write_media(
                video_track,
                video_sender,
                video_rx,
                MediaClock::Capture,
                false,
            )
            .instrument(span.clone()),
        );
        let (audio_out, audio_rx) = mpsc::channel(PEER_MEDIA_CAPACITY);
        tokio::spawn(
            write_media(
                audio_track,
                audio_sender,
                audio_rx,
                MediaClock::Nominal,
                true,
            )
            .instrument(span),
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
                send_estimate,
                video_repair,
                rtt: None,
                last_keyframe_request: None,
                attempt,
                ever_connected: false,
                first_attempt: first,
                heard: false,
                retired,
            },
        );
        self.input(id, SessionInput::Start).await;
    }

    /// Forgets `id`: the departure is announced at once, and the connection is
    /// closed in the background. Closing waits on the stack (DTLS close alert, SCTP
    /// shutdown, ICE agent) and on a busy machine takes seconds; neither the
    /// departure nor the rest of the room may wait for it.
    pub(super) async fn remove_peer(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.remove(&id) {
            self.sink.counters.send_estimates.remove(id);
            self.sink.event(NetEvent::PeerLeft { id });
            debug!(peer = %id, name = peer.name, "closing peer connection");
            close_in_background(id, peer);
        }
    }

    pub(super) async fn close_all(&mut self) {
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            if let Some(peer) = self.peers.remove(&id) {
                close_peer(peer).await;
            }
        }
        let _ = self.signaling.outbox.send(ClientToServer::Leave).await;
    }

    pub(super) async fn input(&mut self, id: PeerId, input: SessionInput) {
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.session.handle_input(Instant::now(), input);
            self.drive(id).await;
        }
    }

    /// Executes the session's outputs in order.
    pub(super) async fn drive(&mut self, id: PeerId) {
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
                SessionOutput::CreateOffer => make_local(&*pc, Local::Offer).await,
                SessionOutput::CreateRestartOffer => {
                    info!(peer = %id, attempt, "connection down; restarting ICE");
                    self.sink
                        .counters
                        .ice_restarts
                        .fetch_add(1, Ordering::Relaxed);
                    make_local(&*pc, Local::RestartOffer).await
                }
                SessionOutput::CreateAnswer => make_local(&*pc, Local::Answer).await,
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
                        self.sink
                            .counters
                            .send_estimates
                            .insert(id, peer.send_estimate.clone());
                    }
                    info!(peer = %id, "peer connected");
                    self.sink.event(NetEvent::PeerConnected { id });
                    Ok(None)
                }
                SessionOutput::Event(SessionEvent::Down) => {
                    info!(peer = %id, "connection down");
                    self.sink.event(NetEvent::PeerInterrupted { id });
                    Ok(None)
                }
                SessionOutput::Event(SessionEvent::Lost) if !ever_connected => {
                    // ICE gave up before the connection ever came up: as for Failed.
                    self.retry_or_remove(id, attempt, "no connection (ICE failed)")
                        .await;
                    return;
                }
                SessionOutput::Event(SessionEvent::Lost) if self.me < id => {
                    // Signaling still lists the peer (its departure would have
                    // removed it): start over rather than report it gone.
                    info!(peer = %id, attempt, "connection lost; starting over");
                    self.retry_or_remove(id, attempt, "connection lost").await;
                    return;
                }
                SessionOutput::Event(SessionEvent::Lost) => {
                    // The lower id restarts ICE every 2 s while the link is down, and
                    // each restart offer renews our wait; none for this long (or no
                    // new attempt after its own give-up): it is gone.
                    info!(peer = %id, "connection lost and not started over; peer gone");
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

/// The attempt that begins the run `next` belongs to: `next` itself when it
/// replaces a connection that was up (a loss begins a fresh run), else the run's
/// `first` so far.
fn run_start(was_up: bool, next: u32, first: u32) -> u32 {
    if was_up { next } else { first }
}

/// Whether `attempt`, of the run that began at `first`, may be followed by another.
fn may_start_over(first: u32, attempt: u32) -> bool {
    attempt + 1 < first.saturating_add(MAX_CONNECT_ATTEMPTS)
}

/// Retires `peer` now (its callbacks go quiet) and closes it on its own task.
pub(super) fn close_in_background(id: PeerId, peer: Peer) {
    peer.retired.store(true, Ordering::Relaxed);
    tokio::spawn(close_peer(peer).instrument(info_span!("close", peer = %id)));
}

pub(super) async fn close_peer(peer: Peer) {
    peer.retired.store(true, Ordering::Relaxed);
    for channel in [&peer.world, &peer.fast].into_iter().flatten() {
        let _ = channel.close().await;
    }
    if let Err(err) = peer.pc.close().await {
        debug!(%err, "closing peer connection");
    }
}

/// Which local description [`make_local`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Local {
    Offer,
    /// An offer with new ICE credentials. Asked for through the offer's option
    /// rather than `restart_ice()`: that one regathers at once, and candidates
    /// trickled before the restart offer are dropped by the other side when it
    /// applies the offer. This way the stack regathers on fresh sockets
    /// (`with_discard_local_candidates_during_ice_restart`) when the offer is
    /// applied, and the new candidates follow the offer.
    RestartOffer,
    Answer,
}

/// Creates an offer or answer, applies it locally and returns it as session input.
pub(super) async fn make_local(
    pc: &dyn PeerConnection,
    local: Local,
) -> Result<Option<SessionInput>, String> {
    let desc = match local {
        Local::Offer => pc.create_offer(None).await,
        Local::RestartOffer => {
            pc.create_offer(Some(RTCOfferOptions { ice_restart: true }))
                .await
        }
        Local::Answer => pc.create_answer(None).await,
    }
    .map_err(|e| format!("create description: {e}"))?;
    pc.set_local_description(desc.clone())
        .await
        .map_err(|e| format!("local description: {e}"))?;
    let kind = if local == Local::Answer {
        SdpKind::Answer
    } else {
        SdpKind::Offer
    };
    Ok(Some(SessionInput::LocalDescription(SessionDescription {
        kind,
        sdp: desc.sdp,
    })))
}

pub(super) fn to_rtc_description(
    desc: &SessionDescription,
) -> webrtc::error::Result<RTCSessionDescription> {
    match desc.kind {
        SdpKind::Offer => RTCSessionDescription::offer(desc.sdp.clone()),
        SdpKind::Answer => RTCSessionDescription::answer(desc.sdp.clone()),
        SdpKind::Pranswer => RTCSessionDescription::pranswer(desc.sdp.clone()),
        SdpKind::Rollback => RTCSessionDescription::rollback(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_of_attempts_has_five_and_a_loss_begins_a_fresh_run() {
        // A first connection that never comes up: attempts 0 to 4, then gone.
        assert!((0..4).all(|a| may_start_over(0, a)));
        assert!(!may_start_over(0, 4));
        // Attempt 2 came up and was lost: attempt 3 begins a run of its own (3 to 7).
        let first = run_start(true, 3, 0);
        assert_eq!(first, 3);
        assert!((3..7).all(|a| may_start_over(first, a)));
        assert!(!may_start_over(first, 7));
        // A retry of a connection that never came up stays in its run.
        assert_eq!(run_start(false, 4, 3), 3);
    }
}
