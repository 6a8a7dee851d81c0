//! `NetPlugin`: the Bevy glue of a networked room.
//!
//! Works on the [`NetLink`] resource (the [`NetBridge`]: mesh handle plus encode,
//! audio and receive threads), which `crate::room` inserts on entering a room and
//! removes on leaving it; every system runs only while it exists. Systems, none of
//! which blocks:
//! - `drain_net_events` (`AppSystems::Ingest`): peers joining (a participant entity
//!   with a `CutoutInbox` fed by its [`RemoteDecoder`] thread) and leaving (despawned;
//!   the thread is joined), host changes ([`GameAuthority`]), `world` messages
//!   (placements, names, game snapshots/events, mask probes), keyframe requests, link
//!   stats.
//! - `drain_audio_notices` (`AppSystems::Ingest`): a microphone or speaker that
//!   failed mid-call and what replaced it, as [`AudioDeviceNotice`] messages (logged
//!   by the audio threads; shown by `ui`).
//! - `record_shown_cutouts` (`AppSystems::Sync`, after the cutouts were drained):
//!   capture → shown latency of remote cutouts. (The local cutouts reach the encoder
//!   straight from the segmentation thread: `NetBridge::cutout_tee`.)
//! - `send_placement` (~10 Hz) and `send_game_state` (host only, ~30 Hz snapshots plus
//!   every event reliably) in `AppSystems::Egress`.
//!
//! Remote participants get the room id [`REMOTE_PARTICIPANT_BASE`] + their peer id;
//! their placement is whatever they last announced (they are [`Pinned`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::bridge::{NetBridge, RemoteDecoder};
use super::peer::{NetCommand, NetEvent};
use super::probe::ProbeMask;
use super::protocol::{PeerId, PeerToPeer, RoomCode};
use super::stats::PeerStats;
use crate::AppSystems;
use crate::bodies::{SilhouetteParams, silhouette_from_mask};
use crate::games::GameSnapshot;
use crate::games::plugin::{ActiveGame, GameAuthority, RemoteGame};
use crate::world::Placement;
use crate::world::material::CutoutMaterial;
use crate::world::participant::{
    CutoutInbox, LatestCutout, Participant, ParticipantPlacement, Pinned, participant_bundle,
};

/// Room ids of remote participants start here (local ones count from 0).
pub const REMOTE_PARTICIPANT_BASE: u32 = 1000;
/// Placement announcements per second.
pub const PLACEMENT_INTERVAL: Duration = Duration::from_millis(100);
/// Game snapshots per second (host).
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(33);

/// Carries this app's participant over the network while a [`NetLink`] exists
/// (inserted when a room is entered, removed when it is left: see `crate::room`).
pub struct NetPlugin;

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
    last_placement: Option<Instant>,
    last_snapshot: Option<Instant>,
    events_sent: usize,
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
            last_placement: None,
            last_snapshot: None,
            events_sent: 0,
        }
    }
}

/// A participant who is another peer.
#[derive(Component, Debug, Clone, Copy)]
pub struct RemotePeer(pub PeerId);

/// The decoder thread of a remote participant (joined when the entity goes).
#[derive(Component)]
pub struct RemoteVideo(pub RemoteDecoder);

impl Plugin for NetPlugin {
    fn build(&self, app: &mut App) {
        let linked = resource_exists::<NetLink>;
        app.init_resource::<RemoteGame>()
            .init_resource::<GameAuthority>()
            .add_message::<AudioDeviceNotice>()
            .add_systems(
                Update,
                (drain_net_events, mix_remote_audio, drain_audio_notices)
                    .run_if(linked)
                    .in_set(AppSystems::Ingest),
            )
            .add_systems(
                Update,
                spread_by_room_order
                    .run_if(linked)
                    .after(crate::world::participant::auto_arrange)
                    .in_set(AppSystems::Simulate),
            )
            .add_systems(
                Update,
                record_shown_cutouts.run_if(linked).in_set(AppSystems::Sync),
            )
            .add_systems(
                Update,
                (send_placement, send_game_state)
                    .run_if(linked)
                    .in_set(AppSystems::Egress),
            );
    }
}

/// Applies what the network reported since the last frame.
#[expect(clippy::too_many_arguments, reason = "Bevy system parameters")]
pub fn drain_net_events(
    mut commands: Commands,
    mut link: ResMut<NetLink>,
    mut authority: ResMut<GameAuthority>,
    mut remote_game: ResMut<RemoteGame>,
    mut peers: Query<(
        Entity,
        &RemotePeer,
        &mut Participant,
        &mut ParticipantPlacement,
    )>,
    mut images: ResMut<Assets<Image>>,
    mut materials: ResMut<Assets<CutoutMaterial>>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    let events: Vec<NetEvent> = link.bridge.net().events().try_iter().collect();
    for event in events {
        match event {
            NetEvent::PeerJoined { id, name } => {
                if peers.iter().any(|(_, p, _, _)| p.0 == id) {
                    continue;
                }
                let (decoder, inbox) = match link.bridge.add_peer(id, &name) {
                    Ok(d) => d,
                    Err(e) => {
                        error!(peer = id.0, error = %e, "cannot start the peer's decoder");
                        continue;
                    }
                };
                info!(peer = id.0, %name, "peer joined");
                let quad = meshes.add(Rectangle::new(1.0, 1.0));
                commands
                    .spawn(participant_bundle(
                        Participant {
                            id: REMOTE_PARTICIPANT_BASE + id.0 as u32,
                            name,
                            local: false,
                        },
                        Placement::default(),
                        Vec4::ONE,
                        &mut images,
                        &mut materials,
                        quad,
                    ))
                    .insert((
                        CutoutInbox(inbox),
                        RemoteVideo(decoder),
                        RemotePeer(id),
                        crate::app::SourceName(format!("peer {}", id.0)),
                    ));
            }
            NetEvent::PeerConnected { id } => {
                info!(peer = id.0, "peer connected");
                link.bridge.request_keyframe();
                // A late joiner gets the full game state at once.
                link.last_snapshot = None;
            }
            NetEvent::PeerLeft { id } => {
                info!(peer = id.0, "peer left");
                link.bridge.peer_left(id);
                for (entity, p, _, _) in &peers {
                    if p.0 == id {
                        commands.entity(entity).despawn();
                    }
                }
            }
            NetEvent::HostChanged { host } => {
                info!(host = host.0, "room host changed");
                link.host = host;
                *authority = if host == link.me {
                    GameAuthority::Host
                } else {
                    GameAuthority::Follower
                };
            }
            NetEvent::World { from, message } => apply_world_message(
                &link,
                from,
                message,
                &mut peers,
                &mut remote_game,
                &mut commands,
            ),
            NetEvent::KeyframeRequested { by } => {
                debug!(peer = by.0, "keyframe requested");
                link.bridge.request_keyframe();
            }
            NetEvent::Stats {
                peer,
                rtt,
                video_repair,
                ..
            } => {
                let mut stats = link.bridge.shared().stats();
                if let Some(s) = stats.get_mut(&peer) {
                    if let Some(rtt) = rtt {
                        s.rtt_ms = Some(rtt.as_secs_f32() * 1000.0);
                    }
                    s.video_repair = video_repair;
                }
            }
            NetEvent::SignalingClosed { reason } => {
                warn!(%reason, "signaling closed: no new peers can join");
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

fn apply_world_message(
    link: &NetLink,
    from: PeerId,
    message: PeerToPeer,
    peers: &mut Query<(
        Entity,
        &RemotePeer,
        &mut Participant,
        &mut ParticipantPlacement,
    )>,
    remote_game: &mut RemoteGame,
    commands: &mut Commands,
) {
    if let Some(s) = link.bridge.shared().stats().get_mut(&from) {
        s.world_messages += 1;
    }
    match message {
        PeerToPeer::Hello { name } => {
            for (_, p, mut participant, _) in peers.iter_mut() {
                if p.0 == from {
                    participant.name = name.clone();
                }
            }
            let mut stats = link.bridge.shared().stats();
            stats
                .entry(from)
                .or_insert_with(|| PeerStats::new(String::new()))
                .name = name;
        }
        PeerToPeer::Placement { placement, .. } => {
            if sane(&placement)
                && let Some(s) = link.bridge.shared().stats().get_mut(&from)
            {
                s.placement = Some(placement);
            }
            for (entity, p, _, mut current) in peers.iter_mut() {
                if p.0 == from && sane(&placement) {
                    current.0 = placement;
                    commands.entity(entity).insert(Pinned);
                }
            }
        }
        PeerToPeer::GameSnapshot { state, .. } => {
            match serde_json::from_value::<GameSnapshot>(state) {
                Ok(snapshot) => remote_game.offer(snapshot, Instant::now()),
                Err(e) => debug!(error = %e, "unreadable game snapshot"),
            }
        }
        PeerToPeer::GameEvent { event, .. } => {
            remote_game.events_received += 1;
            debug!(%event, "game event");
        }
        PeerToPeer::MaskProbe {
            captured_unix_us,
            width,
            height,
            bits,
            ..
        } => {
            if let Some(probe) = ProbeMask::from_hex(width, height, &bits) {
                let mut stats = link.bridge.shared().stats();
                if let Some(s) = stats.get_mut(&from) {
                    s.probes.add_sent(captured_unix_us, probe);
                }
            }
        }
        PeerToPeer::Chat(chat) => info!(peer = from.0, ?chat, "chat"),
        PeerToPeer::KeyframeRequest | PeerToPeer::Ping { .. } | PeerToPeer::Pong { .. } => {}
    }
}

/// A placement from the network is used only if its numbers are finite and modest.
fn sane(p: &Placement) -> bool {
    [p.x, p.y, p.scale]
        .iter()
        .all(|v| v.is_finite() && v.abs() < 1.0e5)
        && p.scale > 0.0
}

/// Gives the local participant its own slot across the scene, by the order of peer
/// ids in the room, so that every peer announces a different spot and all agree.
pub fn spread_by_room_order(
    link: Res<NetLink>,
    remotes: Query<&RemotePeer>,
    mut people: Query<(&Participant, &mut ParticipantPlacement)>,
) {
    let mut ids: Vec<PeerId> = remotes.iter().map(|r| r.0).collect();
    ids.push(link.me);
    ids.sort();
    let rank = ids.iter().position(|&id| id == link.me).unwrap_or(0);
    let slot = crate::world::placement::SCENE_WIDTH / ids.len() as f32;
    let x = -crate::world::placement::SCENE_WIDTH / 2.0 + slot * (rank as f32 + 0.5);
    for (p, mut placement) in &mut people {
        if p.local && (placement.x - x).abs() > 0.5 {
            placement.x = x;
        }
    }
}

/// Records capture → shown latency and shown frames of remote participants.
pub fn record_shown_cutouts(
    link: Res<NetLink>,
    people: Query<(&RemotePeer, &LatestCutout)>,
    mut last: Local<HashMap<PeerId, u64>>,
) {
    for (peer, latest) in &people {
        let Some(cutout) = &latest.cutout else {
            continue;
        };
        if last.get(&peer.0) == Some(&latest.frames) {
            continue;
        }
        last.insert(peer.0, latest.frames);
        let ms = cutout.captured_at.elapsed().as_secs_f32() * 1000.0;
        let mut stats = link.bridge.shared().stats();
        if let Some(s) = stats.get_mut(&peer.0) {
            s.shown(Instant::now());
            PeerStats::push_latency(&mut s.glass_to_glass_ms, ms);
        }
    }
}

/// Announces the local participant's placement and outline about 10 times a second.
pub fn send_placement(
    mut link: ResMut<NetLink>,
    people: Query<(&Participant, &ParticipantPlacement, &LatestCutout)>,
) {
    let now = Instant::now();
    if link
        .last_placement
        .is_some_and(|t| now - t < PLACEMENT_INTERVAL)
    {
        return;
    }
    link.last_placement = Some(now);
    let Some((_, placement, latest)) = people.iter().find(|(p, _, _)| p.local) else {
        return;
    };
    let outline = latest
        .cutout
        .as_ref()
        .and_then(|c| {
            silhouette_from_mask(&c.mask, c.width, c.height, &SilhouetteParams::default()).ok()
        })
        .map(|s| s.outlines)
        .unwrap_or_default();
    let message = PeerToPeer::Placement {
        placement: placement.0,
        outline,
    };
    if let Err(e) = link
        .bridge
        .net()
        .send(NetCommand::World { to: None, message })
    {
        debug!(error = %e, "placement not sent");
    }
}

/// The host sends game snapshots (~30 Hz, latest wins) and every event (reliable).
pub fn send_game_state(
    mut link: ResMut<NetLink>,
    authority: Res<GameAuthority>,
    game: Option<Res<ActiveGame>>,
) {
    if *authority != GameAuthority::Host {
        return;
    }
    let Some(game) = game else { return };
    let kind = game.sim.kind().name().to_string();
    let new_events = game.events.get(link.events_sent..).unwrap_or_default();
    for ev in new_events {
        match serde_json::to_value(ev) {
            Ok(event) => {
                let message = PeerToPeer::GameEvent {
                    game: kind.clone(),
                    tick: ev.tick,
                    event,
                };
                if let Err(e) = link
                    .bridge
                    .net()
                    .send(NetCommand::World { to: None, message })
                {
                    warn!(error = %e, "game event not sent");
                }
            }
            Err(e) => warn!(error = %e, "game event not serializable"),
        }
    }
    link.events_sent = game.events.len();
    let now = Instant::now();
    if link
        .last_snapshot
        .is_some_and(|t| now - t < SNAPSHOT_INTERVAL)
    {
        return;
    }
    link.last_snapshot = Some(now);
    let snapshot = game.sim.snapshot();
    match serde_json::to_value(&snapshot) {
        Ok(state) => {
            let message = PeerToPeer::GameSnapshot {
                game: kind,
                tick: snapshot.tick,
                state,
            };
            if let Err(e) = link
                .bridge
                .net()
                .send(NetCommand::World { to: None, message })
            {
                debug!(error = %e, "game snapshot not sent");
            }
        }
        Err(e) => warn!(error = %e, "game snapshot not serializable"),
    }
}

/// A microphone or speaker changed during the call (it failed; another one, or
/// none, took over), in words for the screen.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
pub struct AudioDeviceNotice(pub String);

/// Re-emits the audio threads' device notices as [`AudioDeviceNotice`]s.
pub fn drain_audio_notices(link: Res<NetLink>, mut notices: MessageWriter<AudioDeviceNotice>) {
    for notice in link.bridge.shared().take_audio_notices() {
        notices.write(AudioDeviceNotice(notice.to_string()));
    }
}

/// Hands decoded remote voices to the room mix (heard in recordings).
pub fn mix_remote_audio(
    link: Res<NetLink>,
    inbox: Option<ResMut<crate::record::plugin::AudioInbox>>,
) {
    let packets = link.bridge.shared().take_remote_audio();
    let Some(mut inbox) = inbox else { return };
    for (peer, pcm) in packets {
        inbox.push(&format!("peer-{}", peer.0), pcm);
    }
}
