//! `NetPlugin`: the network as a transport for Bevy (matchbox's socket-as-resource
//! shape). It knows nothing of what it carries: no world, games, recording or UI.
//!
//! Works on the [`NetLink`] resource (the [`NetBridge`]: mesh handle plus encode,
//! audio and receive threads), which the room (`room` module) inserts on entering it and
//! removes on leaving it; every system runs only while it exists.
//! - `drain_audio_notices` (`AppSystems::Ingest`): a microphone or speaker that
//!   failed mid-call and what replaced it, as [`crate::Notice`]s (logged by the audio
//!   threads; shown by `ui` as a toast).
//!
//! - `drain_net_events` (`AppSystems::Ingest`, [`NetSystems::Drain`]) turns the
//!   mesh's events into typed Messages: [`PeerJoined`], [`PeerConnected`],
//!   [`PeerLeft`], [`HostChanged`], [`PeerMessageReceived`] (the `world` messages
//!   the app acts on: `hello`, `placement`, `chat`, game snapshots and events) and
//!   [`SignalingClosed`]. What only the transport needs it handles itself:
//!   keyframe requests, link figures, mask probes, pings.
//! - Each remote peer is an entity that this plugin spawns on [`PeerJoined`] (a
//!   [`RemotePeer`] with its decoder thread, [`RemoteVideo`], and its link figures,
//!   [`LinkFigures`], refreshed by `refresh_link_figures`) and despawns on
//!   [`PeerLeft`]; others add to it (the room makes it a participant and measures
//!   what it shows of it).
//! - Sending: [`NetLink::broadcast`] (no system here blocks; the mesh queues).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use crossbeam_channel::Receiver;

use super::bridge::{NetBridge, RemoteDecoder};
use super::error::NetResult;
use super::peer::{NetCommand, NetEvent};
use super::probe::ProbeMask;
use super::protocol::{PeerId, PeerToPeer, RoomCode};
use super::stats::LinkReport;
use crate::AppSystems;
use crate::segment::Cutout;

/// Carries this app's media and messages over the network while a [`NetLink`]
/// exists (inserted when a room is entered, removed when it is left: see
/// the `room` module).
pub struct NetPlugin;

/// The order of the transport's systems inside [`AppSystems::Ingest`].
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetSystems {
    /// The network's events become Messages; peer entities are spawned and
    /// despawned. Readers of the Messages run after it.
    Drain,
}

/// The running network link.
#[derive(Resource)]
pub struct NetLink {
    /// Threads and the mesh handle.
    pub bridge: NetBridge,
    /// Our id.
    pub me: PeerId,
    /// The room's host.
    pub host: PeerId,
    /// The room.
    pub room: RoomCode,
    /// The entity of each remote peer in the room.
    peers: HashMap<PeerId, Entity>,
}

impl NetLink {
    /// The link of a joined bridge (room, our id and the host from its welcome).
    pub fn new(bridge: NetBridge) -> Self {
        let welcome = bridge.net().welcome().clone();
        Self {
            bridge,
            me: welcome.you,
            host: welcome.host,
            room: welcome.room,
            peers: HashMap::new(),
        }
    }

    /// Whether this app is the room's host.
    pub fn is_host(&self) -> bool {
        self.host == self.me
    }

    /// Sends a `world` message to every peer (queued; never blocks).
    pub fn broadcast(&self, message: PeerToPeer) -> NetResult<()> {
        self.bridge
            .net()
            .send(NetCommand::World { to: None, message })
    }
}

/// A remote peer's entity (spawned by this plugin when it joins).
#[derive(Component, Debug, Clone, Copy)]
pub struct RemotePeer(pub PeerId);

/// What the transport measured of a remote peer's link, on its entity: refreshed
/// every [`LINK_FIGURES_INTERVAL`], and a last time (with `left` set) just before
/// the entity goes, so that whoever keeps departed peers' figures sees the final
/// ones on its removal.
#[derive(Component, Debug, Clone, Default)]
pub struct LinkFigures(pub LinkReport);

/// How often [`LinkFigures`] are refreshed (they sort latency samples).
pub const LINK_FIGURES_INTERVAL: Duration = Duration::from_millis(500);

/// The decoder thread of a remote peer (joined when the entity goes) and the
/// cutouts it decodes.
#[derive(Component)]
pub struct RemoteVideo {
    /// The thread.
    pub decoder: RemoteDecoder,
    /// Its decoded cutouts, paced for showing.
    pub cutouts: Receiver<Arc<Cutout>>,
}

/// Another peer is in the room; its entity has a [`RemotePeer`] and a
/// [`RemoteVideo`].
#[derive(Message, Debug, Clone)]
pub struct PeerJoined {
    /// Its id.
    pub id: PeerId,
    /// The name it joined with.
    pub name: String,
    /// Its entity.
    pub entity: Entity,
}

/// The WebRTC connection to a peer is up (media and messages flow).
#[derive(Message, Debug, Clone, Copy)]
pub struct PeerConnected {
    /// Its id.
    pub id: PeerId,
}

/// The connection to a peer went down and is being restarted; a
/// [`PeerConnected`] follows when it is back, a [`PeerLeft`] if it is not.
#[derive(Message, Debug, Clone, Copy)]
pub struct PeerInterrupted {
    /// Its id.
    pub id: PeerId,
}

/// A peer left, vanished or could not be reached; its entity is despawned.
#[derive(Message, Debug, Clone, Copy)]
pub struct PeerLeft {
    /// Its id.
    pub id: PeerId,
}

/// The room's host changed ([`NetLink::host`] is already the new one).
#[derive(Message, Debug, Clone, Copy)]
pub struct HostChanged {
    /// The new host.
    pub host: PeerId,
    /// Whether that is this app.
    pub is_me: bool,
}

/// A `world` message for the app from a peer (`hello`, `placement`, `chat`,
/// `game-snapshot`, `game-event`; the transport's own kinds are not raised).
#[derive(Message, Debug, Clone)]
pub struct PeerMessageReceived {
    /// Sender.
    pub from: PeerId,
    /// The message.
    pub message: PeerToPeer,
}

/// The signaling connection ended or dropped: peers in the room stay, no new ones
/// can join (until [`SignalingBack`], where it is being made again).
#[derive(Message, Debug, Clone)]
pub struct SignalingClosed {
    /// Why.
    pub reason: String,
}

/// The signaling connection is back after a drop: the room is open to new peers
/// again.
#[derive(Message, Debug, Clone)]
pub struct SignalingBack;

/// A signaling-server message about the room that the mesh does not act on
/// itself (`room-lock`, `error`, e.g. `removed` before the server closes).
#[derive(Message, Debug, Clone)]
pub struct ServerMessage(pub super::protocol::ServerToClient);

impl Plugin for NetPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<PeerJoined>()
            .add_message::<ServerMessage>()
            .add_message::<PeerConnected>()
            .add_message::<PeerLeft>()
            .add_message::<PeerInterrupted>()
            .add_message::<HostChanged>()
            .add_message::<PeerMessageReceived>()
            .add_message::<SignalingClosed>()
            .add_message::<SignalingBack>()
            .add_message::<crate::Notice>()
            .configure_sets(Update, NetSystems::Drain.in_set(AppSystems::Ingest))
            .add_systems(
                Update,
                (drain_net_events, drain_audio_notices, refresh_link_figures)
                    .run_if(resource_exists::<NetLink>)
                    .in_set(NetSystems::Drain),
            );
    }
}

/// The Messages `drain_net_events` writes.
#[derive(bevy::ecs::system::SystemParam)]
pub struct NetMessages<'w> {
    joined: MessageWriter<'w, PeerJoined>,
    connected: MessageWriter<'w, PeerConnected>,
    interrupted: MessageWriter<'w, PeerInterrupted>,
    left: MessageWriter<'w, PeerLeft>,
    host: MessageWriter<'w, HostChanged>,
    received: MessageWriter<'w, PeerMessageReceived>,
    closed: MessageWriter<'w, SignalingClosed>,
    back: MessageWriter<'w, SignalingBack>,
    server: MessageWriter<'w, ServerMessage>,
}

/// Turns what the network reported since the last frame into Messages.
pub fn drain_net_events(mut commands: Commands, mut link: ResMut<NetLink>, mut out: NetMessages) {
    let events: Vec<NetEvent> = link.bridge.net().events().try_iter().collect();
    for event in events {
        match event {
            NetEvent::PeerJoined { id, name } => {
                if link.peers.contains_key(&id) {
                    continue;
                }
                let (decoder, cutouts) = match link.bridge.add_peer(id, &name) {
                    Ok(d) => d,
                    Err(e) => {
                        error!(peer = id.0, error = %e, "cannot start the peer's decoder");
                        continue;
                    }
                };
                info!(peer = id.0, %name, "peer joined");
                let figures = link.bridge.shared().link_report(id, Instant::now());
                let entity = commands
                    .spawn((
                        Name::new(format!("peer {}", id.0)),
                        RemotePeer(id),
                        RemoteVideo { decoder, cutouts },
                        LinkFigures(figures.unwrap_or_default()),
                    ))
                    .id();
                link.peers.insert(id, entity);
                out.joined.write(PeerJoined { id, name, entity });
            }
            NetEvent::PeerConnected { id } => {
                info!(peer = id.0, "peer connected");
                link.bridge.request_keyframe();
                out.connected.write(PeerConnected { id });
            }
            NetEvent::PeerInterrupted { id } => {
                info!(peer = id.0, "peer's connection down; restarting it");
                out.interrupted.write(PeerInterrupted { id });
            }
            NetEvent::PeerLeft { id } => {
                info!(peer = id.0, "peer left");
                let last = link.bridge.peer_left(id);
                if let Some(entity) = link.peers.remove(&id) {
                    let mut peer = commands.entity(entity);
                    if let Some(last) = last {
                        peer.insert(LinkFigures(last));
                    }
                    peer.despawn();
                }
                out.left.write(PeerLeft { id });
            }
            NetEvent::HostChanged { host } => {
                info!(host = host.0, "room host changed");
                link.host = host;
                out.host.write(HostChanged {
                    host,
                    is_me: host == link.me,
                });
            }
            NetEvent::World { from, message } => {
                if let Some(message) = take_world_message(&link, from, message) {
                    out.received.write(PeerMessageReceived { from, message });
                }
            }
            NetEvent::KeyframeRequested { by } => {
                debug!(peer = by.0, "keyframe requested");
                link.bridge.request_keyframe();
            }
            NetEvent::Stats {
                peer,
                rtt,
                video_repair,
                candidate_pair,
                send_estimate_kbit,
                ..
            } => {
                let mut stats = link.bridge.shared().stats();
                if let Some(s) = stats.get_mut(&peer) {
                    s.send_estimate_kbit = send_estimate_kbit;
                    if let Some(rtt) = rtt {
                        s.rtt_ms = Some(rtt.as_secs_f32() * 1000.0);
                    }
                    s.video_repair = video_repair;
                    if candidate_pair.is_some() {
                        s.candidate_pair = candidate_pair;
                    }
                }
            }
            NetEvent::SignalingClosed { reason } => {
                warn!(%reason, "signaling closed: no new peers can join");
                out.closed.write(SignalingClosed { reason });
            }
            NetEvent::SignalingReconnecting => {
                out.closed.write(SignalingClosed {
                    reason: "the connection dropped; reconnecting".into(),
                });
            }
            NetEvent::SignalingBack => {
                out.back.write(SignalingBack);
            }
            NetEvent::FromServer(message) => {
                out.server.write(ServerMessage(message));
            }
            NetEvent::Video(_) | NetEvent::Audio(_) => {}
        }
    }
    for from in link.bridge.take_keyframe_requests() {
        if let Err(e) = link.bridge.net().send(NetCommand::RequestKeyframe { from }) {
            debug!(error = %e, "keyframe request not sent");
        }
    }
}

/// Counts a `world` message and takes what the transport measures from it; returns
/// it when the app should see it.
/// Copies the transport's measurements onto the peers' entities, every
/// [`LINK_FIGURES_INTERVAL`].
fn refresh_link_figures(
    link: Res<NetLink>,
    mut peers: Query<(&RemotePeer, &mut LinkFigures)>,
    mut last: Local<Option<Instant>>,
) {
    let now = Instant::now();
    if last.is_some_and(|t| now.duration_since(t) < LINK_FIGURES_INTERVAL) {
        return;
    }
    *last = Some(now);
    let shared = link.bridge.shared();
    for (peer, mut figures) in &mut peers {
        if let Some(report) = shared.link_report(peer.0, now) {
            figures.0 = report;
        }
    }
}

fn take_world_message(link: &NetLink, from: PeerId, message: PeerToPeer) -> Option<PeerToPeer> {
    let mut stats = link.bridge.shared().stats();
    if let Some(s) = stats.get_mut(&from) {
        s.world_messages += 1;
    }
    match &message {
        PeerToPeer::Hello { name } => {
            if let Some(s) = stats.get_mut(&from) {
                s.name = name.clone();
            }
        }
        PeerToPeer::Placement { placement, .. } => {
            if placement.is_sane()
                && let Some(s) = stats.get_mut(&from)
            {
                s.placement = Some(*placement);
            }
        }
        PeerToPeer::MaskProbe {
            captured_unix_us,
            width,
            height,
            step,
            bits,
        } => {
            if let Some(probe) = ProbeMask::from_hex(*width, *height, *step, bits)
                && let Some(s) = stats.get_mut(&from)
            {
                s.probes.add_sent(*captured_unix_us, probe);
            }
            return None;
        }
        PeerToPeer::DrawRate { fps } => {
            if crate::media::draw_rate::is_rate(*fps)
                && let Some(s) = stats.get_mut(&from)
            {
                s.draw_fps = Some((Instant::now(), *fps));
            }
            return None;
        }
        PeerToPeer::KeyframeRequest | PeerToPeer::Ping { .. } | PeerToPeer::Pong { .. } => {
            return None;
        }
        PeerToPeer::Chat(_)
        | PeerToPeer::Voice { .. }
        | PeerToPeer::RoomChoice { .. }
        | PeerToPeer::GameSnapshot { .. }
        | PeerToPeer::GameEvent { .. } => {}
    }
    Some(message)
}

/// Re-emits the audio threads' device notices (a microphone or speaker changed during
/// the call: it failed; another one, or none, took over) as on-screen [`crate::Notice`]s.
pub fn drain_audio_notices(link: Res<NetLink>, mut notices: MessageWriter<crate::Notice>) {
    for notice in link.bridge.shared().take_audio_notices() {
        notices.write(crate::Notice::warning(notice.to_string()));
    }
}
