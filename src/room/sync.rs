//! The room's shared game: who simulates ([`GameAuthority`] from the transport's
//! [`HostChanged`]), the host's snapshots and events for followers
//! ([`RemoteGame`]), and what this app sends: its placement and outline (~10 Hz,
//! everyone) and the game (host only: snapshots ~30 Hz, latest wins, and every
//! event, reliably).
//!
//! Systems (only while a `NetLink` exists): `follow_host` and `take_game_state` in
//! `AppSystems::Ingest` after `NetSystems::Drain`; `send_placement` and
//! `send_game_state` in `AppSystems::Egress`. [`GameSync`] (the send clocks) is
//! inserted fresh with each room.

use std::time::{Duration, Instant};

use bevy::prelude::*;

use crate::AppSystems;
use crate::bodies::{SilhouetteParams, silhouette_from_mask};
use crate::games::plugin::{ActiveGame, GameAuthority, RemoteGame};
use crate::net::plugin::{HostChanged, NetLink, NetSystems, PeerConnected, PeerMessageReceived};
use crate::net::protocol::{PeerToPeer, WirePlacement};
use crate::world::participant::{LatestCutout, Participant, ParticipantPlacement};

/// Placement announcements per second.
pub const PLACEMENT_INTERVAL: Duration = Duration::from_millis(100);
/// Game snapshots per second (host).
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(33);

/// When this app last sent its placement and a game snapshot, and how many game
/// events it has sent, in this room.
#[derive(Resource, Debug, Default)]
pub struct GameSync {
    last_placement: Option<Instant>,
    last_snapshot: Option<Instant>,
    events_sent: usize,
}

pub(super) fn plugin(app: &mut App) {
    let linked = resource_exists::<NetLink>;
    app.init_resource::<RemoteGame>()
        .init_resource::<GameAuthority>()
        .init_resource::<GameSync>()
        .add_systems(
            Update,
            (follow_host, take_game_state)
                .run_if(linked)
                .after(NetSystems::Drain)
                .in_set(AppSystems::Ingest),
        )
        .add_systems(
            Update,
            (send_placement, send_game_state)
                .run_if(linked)
                .in_set(AppSystems::Egress),
        );
}

/// The host simulates; the others follow its snapshots.
pub fn follow_host(mut changed: MessageReader<HostChanged>, mut authority: ResMut<GameAuthority>) {
    for change in changed.read() {
        *authority = if change.is_me {
            GameAuthority::Host
        } else {
            GameAuthority::Follower
        };
    }
}

/// Keeps the host's snapshots and counts its events; a newly connected peer gets
/// the full game state at once.
pub fn take_game_state(
    mut received: MessageReader<PeerMessageReceived>,
    mut connected: MessageReader<PeerConnected>,
    mut remote_game: ResMut<RemoteGame>,
    mut sync: ResMut<GameSync>,
) {
    for PeerMessageReceived { message, .. } in received.read() {
        match message {
            PeerToPeer::GameSnapshot { state, .. } => {
                remote_game.offer(state.clone(), Instant::now());
            }
            PeerToPeer::GameEvent { event, .. } => {
                remote_game.events_received += 1;
                debug!(?event, "game event");
            }
            _ => {}
        }
    }
    if connected.read().count() > 0 {
        sync.last_snapshot = None;
    }
}

/// Announces the local participant's placement and outline about 10 times a second.
pub fn send_placement(
    link: Res<NetLink>,
    mut sync: ResMut<GameSync>,
    people: Query<(&Participant, &ParticipantPlacement, &LatestCutout)>,
) {
    let now = Instant::now();
    if sync
        .last_placement
        .is_some_and(|t| now - t < PLACEMENT_INTERVAL)
    {
        return;
    }
    sync.last_placement = Some(now);
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
    let mut placement: WirePlacement = placement.0.into();
    // The scale is per pixel of our cutout as captured, whatever size the send
    // ladder encodes it at.
    placement.frame_width = latest.cutout.as_ref().map(|c| c.width);
    let message = PeerToPeer::Placement { placement, outline };
    if let Err(e) = link.broadcast(message) {
        debug!(error = %e, "placement not sent");
    }
}

/// The host sends game snapshots (~30 Hz, latest wins) and every event (reliable).
pub fn send_game_state(
    link: Res<NetLink>,
    mut sync: ResMut<GameSync>,
    authority: Res<GameAuthority>,
    game: Option<Res<ActiveGame>>,
) {
    if *authority != GameAuthority::Host {
        return;
    }
    let Some(game) = game else { return };
    let kind = game.sim.kind();
    let new_events = game.events.get(sync.events_sent..).unwrap_or_default();
    for ev in new_events {
        let message = PeerToPeer::GameEvent {
            game: kind,
            tick: ev.tick,
            event: ev.clone(),
        };
        if let Err(e) = link.broadcast(message) {
            warn!(error = %e, "game event not sent");
        }
    }
    sync.events_sent = game.events.len();
    let now = Instant::now();
    if sync
        .last_snapshot
        .is_some_and(|t| now - t < SNAPSHOT_INTERVAL)
    {
        return;
    }
    sync.last_snapshot = Some(now);
    let state = game.sim.snapshot();
    let message = PeerToPeer::GameSnapshot {
        game: kind,
        tick: state.tick,
        state,
    };
    if let Err(e) = link.broadcast(message) {
        debug!(error = %e, "game snapshot not sent");
    }
}
