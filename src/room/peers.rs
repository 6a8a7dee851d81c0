//! The room's remote participants: the transport's peer entities made into
//! participants of the world, their names and placements from their messages, the
//! local participant's slot by room order, and what the room measures of them.
//!
//! Systems (all only while a `NetLink` exists):
//! - `spawn_remote_participants` ([`PeerJoined`]) and `apply_peer_messages`
//!   ([`PeerMessageReceived`]: `hello`, `placement`, `chat`, `voice`) in `AppSystems::Ingest`,
//!   after the transport's `NetSystems::Drain`; `mix_remote_audio` beside them.
//! - `spread_by_room_order` in `AppSystems::Simulate`, after the arrangement.
//! - `record_shown_cutouts` in `AppSystems::Sync`: capture → shown latency.
//!
//! Remote participants get the room id [`REMOTE_PARTICIPANT_BASE`] + their peer id;
//! their placement is whatever they last announced (they are [`Pinned`]).

use std::time::Instant;

use bevy::prelude::*;

use super::figures::ShownFigures;
use crate::AppSystems;
use crate::net::plugin::{
    NetLink, NetSystems, PeerJoined, PeerMessageReceived, RemotePeer, RemoteVideo,
};
use crate::net::protocol::{PeerId, PeerToPeer, WirePlacement};
use crate::record::plugin::AudioInbox;
use crate::world::Placement;
use crate::world::material::CutoutMaterial;
use crate::world::participant::{
    CutoutInbox, CutoutTexture, LatestCutout, Participant, ParticipantPlacement, Pinned,
    SourceName, participant_bundle,
};

/// Room ids of remote participants start here (local ones count from 0).
pub const REMOTE_PARTICIPANT_BASE: u32 = 1000;

pub(super) fn plugin(app: &mut App) {
    let linked = resource_exists::<NetLink>;
    app.add_systems(
        Update,
        (
            (
                spawn_remote_participants,
                apply_peer_messages,
                fit_announced_placements.after(crate::world::participant::drain_cutouts),
            )
                .chain(),
            mix_remote_audio,
        )
            .run_if(linked)
            .after(NetSystems::Drain)
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
    );
}

/// A remote peer's placement as it announced it (its scale per pixel of its own
/// picture as captured).
#[derive(Component, Debug, Clone, Copy)]
pub struct AnnouncedPlacement(pub WirePlacement);

/// Keeps each remote person the size they announced whatever size their pictures
/// arrive at (a sender on a slow link sends smaller ones): the scale per pixel of
/// the texture shown is the announced one times their picture's width over the
/// texture's.
pub fn fit_announced_placements(
    mut peers: Query<(
        &AnnouncedPlacement,
        &CutoutTexture,
        &mut ParticipantPlacement,
    )>,
) {
    for (announced, texture, mut placement) in &mut peers {
        if texture.size.0 == 0 {
            continue;
        }
        let scale = announced.0.scale_for_width(texture.size.0);
        if (placement.0.scale - scale).abs() > f32::EPSILON * scale.abs().max(1.0) {
            placement.0.scale = scale;
        }
    }
}

/// Makes each new peer's entity a participant of the world, fed by its decoder.
pub fn spawn_remote_participants(
    mut commands: Commands,
    mut joined: MessageReader<PeerJoined>,
    videos: Query<&RemoteVideo>,
    mut images: ResMut<Assets<Image>>,
    mut materials: ResMut<Assets<CutoutMaterial>>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    for PeerJoined { id, name, entity } in joined.read() {
        // Gone again in the same frame: nothing to show.
        let Ok(video) = videos.get(*entity) else {
            continue;
        };
        let quad = meshes.add(Rectangle::new(1.0, 1.0));
        let participant = participant_bundle(
            Participant {
                id: REMOTE_PARTICIPANT_BASE + id.0 as u32,
                name: name.clone(),
                local: false,
            },
            Placement::default(),
            Vec4::ONE,
            &mut images,
            &mut materials,
            quad,
        );
        commands.entity(*entity).try_insert((
            participant,
            CutoutInbox(video.cutouts.clone()),
            SourceName(format!("peer {}", id.0)),
            ShownFigures::default(),
        ));
    }
}

/// Names, placements and chat from the peers' `world` messages.
pub fn apply_peer_messages(
    mut commands: Commands,
    mut received: MessageReader<PeerMessageReceived>,
    mut peers: Query<(
        Entity,
        &RemotePeer,
        &mut Participant,
        &mut ParticipantPlacement,
    )>,
) {
    for PeerMessageReceived { from, message } in received.read() {
        match message {
            PeerToPeer::Hello { name } => {
                for (_, p, mut participant, _) in &mut peers {
                    if p.0 == *from {
                        participant.name = name.clone();
                    }
                }
            }
            PeerToPeer::Placement { placement, .. } if placement.is_sane() => {
                for (entity, p, _, mut current) in &mut peers {
                    if p.0 == *from {
                        current.0 = Placement::from(*placement);
                        commands
                            .entity(entity)
                            .insert((Pinned, AnnouncedPlacement(*placement)));
                    }
                }
            }
            PeerToPeer::Chat(chat) => info!(peer = from.0, ?chat, "chat"),
            PeerToPeer::Voice { muted } => {
                for (entity, p, _, _) in &peers {
                    if p.0 == *from {
                        let state = crate::voice::plugin::PeerVoice { self_muted: *muted };
                        commands.entity(entity).insert(state);
                    }
                }
            }
            _ => {}
        }
    }
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

/// Records capture → shown latency and shown frames of remote participants, and
/// the A/V offset at each shown picture; holds each person's voice to the delay of
/// their pictures (lip sync, [`crate::net::lipsync`]).
pub fn record_shown_cutouts(
    link: Res<NetLink>,
    mut people: Query<(&RemotePeer, &LatestCutout, &mut ShownFigures)>,
) {
    let now = Instant::now();
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    for (peer, latest, mut figures) in &mut people {
        if let Some(cutout) = &latest.cutout
            && figures.is_new(latest.frames)
        {
            let age = cutout.captured_at.elapsed();
            figures.shown(now, unix_ms, age.as_secs_f32() * 1000.0);
            link.bridge.picture_shown(peer.0, age, &mut figures.lip);
        }
    }
}

/// Hands remote voices to the room mix (heard in recordings): as played, in step
/// with their pictures.
pub fn mix_remote_audio(link: Res<NetLink>, inbox: Option<ResMut<AudioInbox>>) {
    let packets = link.bridge.take_remote_audio();
    let Some(mut inbox) = inbox else { return };
    for (peer, pcm) in packets {
        inbox.push(&format!("peer-{}", peer.0), pcm);
    }
}
