//! The room's shared game: who simulates ([`GameAuthority`] from the transport's
//! [`HostChanged`]), the host's snapshots and events for followers
//! ([`RemoteGame`]), and what this app sends: its placement and outline (~10 Hz,
//! everyone) and the game (host only: snapshots ~30 Hz, latest wins, and every
//! event, reliably).
//!
//! Systems (only while a `NetLink` exists): `follow_host` and `take_game_state` in
//! `AppSystems::Ingest` after `NetSystems::Drain`; `send_placement`,
//! `send_game_state` and `announce_draw_rate` in `AppSystems::Egress`. [`GameSync`] (the send clocks) is
//! inserted fresh with each room.

use std::time::{Duration, Instant};

use bevy::prelude::*;

use crate::AppSystems;
use crate::bodies::{SilhouetteParams, silhouette_from_mask};
use crate::games::plugin::{ActiveGame, GameAuthority, RemoteGame};
use crate::media::draw_rate::DrawRateMeter;
use crate::net::plugin::{HostChanged, NetLink, NetSystems, PeerConnected, PeerMessageReceived};
use crate::net::protocol::{PeerToPeer, WirePlacement};
use crate::world::participant::{LatestCutout, Participant, ParticipantPlacement};

/// Placement announcements per second.
pub const PLACEMENT_INTERVAL: Duration = Duration::from_millis(100);
/// Game snapshots per second (host).
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(33);
/// How often this app tells the others how many frames a second it draws.
pub const DRAW_RATE_INTERVAL: Duration = Duration::from_secs(1);

/// When this app last sent its placement and a game snapshot, and how many game
/// events it has sent, in this room.
#[derive(Resource, Debug, Default)]
pub struct GameSync {
    last_placement: Option<Instant>,
    /// The placement last announced (a change goes at the fast interval even on a
    /// slow link; only the outline's refresh slows down).
    placement_sent: Option<WirePlacement>,
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
            (send_placement, send_game_state, announce_draw_rate)
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
    // The fast interval is the shortest: nothing to work out before it passed.
    if sync
        .last_placement
        .is_some_and(|t| now - t < PLACEMENT_INTERVAL)
    {
        return;
    }
    let Some((_, placement, latest)) = people.iter().find(|(p, _, _)| p.local) else {
        return;
    };
    let mut wire: WirePlacement = placement.0.into();
    // The scale is per pixel of our cutout as captured, whatever size the send
    // ladder encodes it at.
    wire.frame_width = latest.cutout.as_ref().map(|c| c.width);
    let estimates = &link.bridge.net().counters().send_estimates;
    // A queue our sending built stands towards someone: this placement would wait
    // behind it and slow its draining; the next one after it replaces it.
    if estimates.any_queue_stands() {
        return;
    }
    let slowest = estimates.slowest_bps();
    let slow = slowest.is_some_and(|bps| bps < SLOW_LINK_BPS);
    let interval = if slow && sync.placement_sent.as_ref() == Some(&wire) {
        PLACEMENT_INTERVAL_SLOW_LINK
    } else {
        PLACEMENT_INTERVAL
    };
    if sync.last_placement.is_some_and(|t| now - t < interval) {
        return;
    }
    sync.last_placement = Some(now);
    sync.placement_sent = Some(wire);
    let outline = latest
        .cutout
        .as_ref()
        .and_then(|c| {
            silhouette_from_mask(&c.mask, c.width, c.height, &SilhouetteParams::default()).ok()
        })
        .map(|s| s.outlines)
        .unwrap_or_default();
    // Whole pixels: a tenth of a pixel is nothing to the physics, but printed in
    // full it doubled the message (about 1 kB ten times a second).
    let outline = outline
        .into_iter()
        .map(|ring| {
            ring.into_iter()
                .map(|[x, y]| [x.round(), y.round()])
                .collect()
        })
        .collect();
    let message = PeerToPeer::Placement {
        placement: wire,
        outline,
    };
    if let Err(e) = link.broadcast(message) {
        debug!(error = %e, "placement not sent");
    }
}

/// Counts the frames this app draws and tells the others the rate every
/// [`DRAW_RATE_INTERVAL`], so that nobody sends us more pictures than we show
/// ([`crate::media::draw_rate`]).
pub fn announce_draw_rate(
    link: Res<NetLink>,
    mut meter: Local<DrawRateMeter>,
    mut last_sent: Local<Option<Instant>>,
) {
    let now = Instant::now();
    meter.frame(now);
    if last_sent.is_some_and(|t| now - t < DRAW_RATE_INTERVAL) {
        return;
    }
    let Some(fps) = meter.fps() else {
        return;
    };
    *last_sent = Some(now);
    // Tenths are plenty, and keep the message short.
    let fps = (fps * 10.0).round() / 10.0;
    if let Err(e) = link.broadcast(PeerToPeer::DrawRate { fps }) {
        debug!(error = %e, "draw rate not sent");
    }
}

/// How often the host sends a snapshot, given the slowest peer's send estimate
/// (bits per second): [`SNAPSHOT_INTERVAL`] on a fast link, less often on a slow
/// one, where the snapshots (~0.7 kB of JSON each) would otherwise take more of
/// the link than the video (docs/NET.md, *Congestion control*).
pub fn snapshot_interval(slowest_bps: Option<u64>) -> Duration {
    match slowest_bps {
        Some(bps) if bps < VERY_SLOW_LINK_BPS => 2 * SNAPSHOT_INTERVAL_SLOW_LINK,
        Some(bps) if bps < SLOW_LINK_BPS => SNAPSHOT_INTERVAL_SLOW_LINK,
        Some(bps) if bps < 2 * SLOW_LINK_BPS => 2 * SNAPSHOT_INTERVAL,
        _ => SNAPSHOT_INTERVAL,
    }
}

/// Below this send estimate a link counts as slow for the game state.
pub const SLOW_LINK_BPS: u64 = 500_000;
/// Below this one, snapshots go at 5 Hz (followers interpolate between the two
/// newest, so objects still move smoothly, a snapshot interval behind).
pub const VERY_SLOW_LINK_BPS: u64 = 300_000;
/// Placement interval on a slow link while the placement stays as it was (5 Hz;
/// each carries the outline, ~0.5 kB).
pub const PLACEMENT_INTERVAL_SLOW_LINK: Duration = Duration::from_millis(200);
/// Snapshot interval on a slow link (10 Hz).
pub const SNAPSHOT_INTERVAL_SLOW_LINK: Duration = Duration::from_millis(100);

/// The host sends game snapshots (~30 Hz, latest wins; fewer on a slow link, see
/// [`snapshot_interval`]) and every event (reliable).
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
    // The 30 Hz interval is the shortest: nothing to work out before it passed.
    if sync
        .last_snapshot
        .is_some_and(|t| now - t < SNAPSHOT_INTERVAL)
    {
        return;
    }
    let estimates = &link.bridge.net().counters().send_estimates;
    // As for placements: while a queue of ours drains, the next snapshot replaces
    // this one (events still go: each one counts).
    if estimates.any_queue_stands() {
        return;
    }
    let slowest = estimates.slowest_bps();
    if sync
        .last_snapshot
        .is_some_and(|t| now - t < snapshot_interval(slowest))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_link_gets_fewer_snapshots() {
        assert_eq!(snapshot_interval(None), SNAPSHOT_INTERVAL);
        assert_eq!(snapshot_interval(Some(2_000_000)), SNAPSHOT_INTERVAL);
        assert_eq!(snapshot_interval(Some(700_000)), 2 * SNAPSHOT_INTERVAL);
        assert_eq!(
            snapshot_interval(Some(400_000)),
            SNAPSHOT_INTERVAL_SLOW_LINK
        );
        assert_eq!(
            snapshot_interval(Some(250_000)),
            2 * SNAPSHOT_INTERVAL_SLOW_LINK
        );
    }
}
