//! `VoicePlugin`: the Bevy glue of the room's voices.
//!
//! - `place_voices` (`AppSystems::Present`): each remote person's gains from where
//!   they stand (the middle of their person box, not of their frame) and where the
//!   local person stands, their [`Listening`] volume and mute, and the placement
//!   switch ([`VoiceSettings`]); into the [`VoiceBus`] (speaker) and, under the
//!   same key, into the recording's [`AudioInbox`].
//! - `show_speaking` (`AppSystems::Present`): [`Speaking`] from the bus's voice
//!   activity, and the speaking ring (a soft green ring and halo behind the
//!   cutout, children of the participant on the scene's render layer, so snapshots
//!   and recordings show them) and the muted badge beside the name tag.
//! - `apply_self_mute` (`AppSystems::Sync`): [`SelfMute`] (the room panel, the `V`
//!   key, push-to-talk on `Space`) to the microphone, and `voice` messages to the
//!   others when it changes and every [`VOICE_STATE_INTERVAL`].
//!
//! Every participant gets [`Speaking`] (the local person: what this peer sends,
//! nothing while muted), remote ones [`Listening`] too, when they appear; a `voice`
//! message from a peer sets its [`PeerVoice`] (`net::plugin`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::badge::{BADGE_SIZE, muted_badge};
use crate::AppSystems;
use crate::media::voice::activity::Glow;
use crate::media::voice::mixer::VoiceBus;
use crate::media::voice::spatial::{Placing, normalised_x};
use crate::net::peer::NetCommand;
use crate::net::plugin::{NetLink, RemotePeer};
use crate::net::protocol::PeerToPeer;
use crate::record::plugin::AudioInbox;
use crate::world::grounding::beside_name_tag;
use crate::world::hud::NameTag;
use crate::world::participant::{
    CutoutTexture, LatestCutout, Participant, ParticipantPlacement, quad_rect,
};
use crate::world::placement::{SCENE_HEIGHT, SCENE_WIDTH};
use crate::world::scene::ActiveTheme;

/// The speaking ring's colour (sRGB): a green no theme paints.
pub const RING_COLOUR: [u8; 3] = [64, 255, 115];
/// How often the self-mute state is sent again (a peer that missed it learns it).
pub const VOICE_STATE_INTERVAL: Duration = Duration::from_secs(1);
/// The muted badge's size in world units.
const BADGE_WORLD: f32 = 40.0;

/// Places the room's voices, shows who speaks, and carries self-mute.
pub struct VoicePlugin {
    /// Voices placed where their people stand (`false`: all in the middle).
    pub spatial: bool,
}

/// Switches of the voices.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceSettings {
    /// Voices placed where their people stand.
    pub spatial: bool,
}

/// How this listener hears one person (the room panel's volume and mute).
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct Listening {
    /// 1 = as sent; 0–2.
    pub volume: f32,
    /// Not heard at all.
    pub muted: bool,
}

impl Default for Listening {
    fn default() -> Self {
        Self {
            volume: 1.0,
            muted: false,
        }
    }
}

/// What a peer said about its own microphone (`voice` messages).
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerVoice {
    /// It muted itself.
    pub self_muted: bool,
}

/// Whether a person is speaking, and the glow of their ring.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Speaking {
    /// Speaking now (voice activity with hangover).
    pub now: bool,
    /// The ring's intensity, 0–1.
    pub glow: Glow,
}

/// This app's microphone switch.
#[derive(Resource, Debug, Clone, Default)]
pub struct SelfMute {
    /// Muted by the user.
    pub muted: bool,
    /// Push-to-talk: the microphone is open only while [`SelfMute::talk_held`].
    pub push_to_talk: bool,
    /// The push-to-talk key is held.
    pub talk_held: bool,
    last_sent: Option<(bool, Instant)>,
    synced: bool,
}

impl SelfMute {
    /// Whether the microphone sends nothing now.
    pub fn silent(&self) -> bool {
        self.muted || (self.push_to_talk && !self.talk_held)
    }
}

/// The ring or halo behind a participant.
#[derive(Component, Debug, Clone, Copy)]
struct SpeakingRing {
    /// Share of the glow this part shows.
    strength: f32,
    /// Radius factor around the person box.
    grow: f32,
}

/// The muted badge beside a participant's name tag.
#[derive(Component, Debug, Clone, Copy)]
struct MutedBadge;

/// Meshes and materials the rings and badges share.
#[derive(Resource)]
struct VoiceAssets {
    ring: Handle<Mesh>,
    halo: Handle<Mesh>,
    badge: Handle<Mesh>,
    badge_material: Handle<ColorMaterial>,
}

impl Plugin for VoicePlugin {
    fn build(&self, app: &mut App) {
        let linked = resource_exists::<NetLink>;
        app.insert_resource(VoiceSettings {
            spatial: self.spatial,
        })
        .init_resource::<SelfMute>()
        .add_systems(Startup, load_voice_assets)
        .add_systems(
            Update,
            (
                apply_self_mute.run_if(linked),
                reset_self_mute.run_if(resource_removed::<NetLink>),
            )
                .in_set(AppSystems::Sync),
        )
        .add_systems(
            Update,
            (attach_voice_parts, place_voices, show_speaking)
                .chain()
                .in_set(AppSystems::Present),
        );
    }
}

fn load_voice_assets(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut images: ResMut<Assets<Image>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let badge_image = images.add(crate::world::texture::rgba_image(
        BADGE_SIZE,
        BADGE_SIZE,
        muted_badge(),
    ));
    commands.insert_resource(VoiceAssets {
        ring: meshes.add(Annulus::new(0.93, 1.0)),
        halo: meshes.add(Annulus::new(1.0, 1.12)),
        badge: meshes.add(Rectangle::new(1.0, 1.0)),
        badge_material: materials.add(ColorMaterial {
            texture: Some(badge_image),
            ..default()
        }),
    });
}

/// Gives each new participant its ring, halo and badge (children, hidden until
/// needed), and each remote one its [`Listening`] and [`Speaking`].
fn attach_voice_parts(
    mut commands: Commands,
    assets: Option<Res<VoiceAssets>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
    new: Query<(Entity, Has<RemotePeer>), Added<Participant>>,
) {
    let Some(assets) = assets else { return };
    for (entity, remote) in &new {
        let colour = Color::srgba_u8(RING_COLOUR[0], RING_COLOUR[1], RING_COLOUR[2], 0);
        let parts = [(&assets.ring, 1.0, 1.0), (&assets.halo, 0.35, 1.0)];
        commands.entity(entity).with_children(|c| {
            for (mesh, strength, grow) in parts {
                c.spawn((
                    Name::new("speaking ring"),
                    SpeakingRing { strength, grow },
                    Mesh2d(mesh.clone()),
                    MeshMaterial2d(materials.add(ColorMaterial::from_color(colour))),
                    Transform::default(),
                    Visibility::Hidden,
                ));
            }
            c.spawn((
                Name::new("muted badge"),
                MutedBadge,
                Mesh2d(assets.badge.clone()),
                MeshMaterial2d(assets.badge_material.clone()),
                Transform::default(),
                Visibility::Hidden,
            ));
        });
        if remote {
            commands.entity(entity).insert(Listening::default());
        }
        commands.entity(entity).insert(Speaking::default());
    }
}

/// Where a participant's person stands: the middle of the person box (of the
/// frame while no box is known), in world x.
fn person_x(placement: &ParticipantPlacement, latest: &LatestCutout) -> f32 {
    match latest.extent {
        Some(e) => {
            let mid = (e.left + e.right + 1) as f32 / 2.0;
            placement.cutout_to_world(mid, e.frame_h as f32, e.frame_w, e.frame_h)[0]
        }
        None => placement.x,
    }
}

/// A person as `place_voices` sees them.
type PlacedVoice = (
    &'static Participant,
    &'static ParticipantPlacement,
    &'static LatestCutout,
    Option<&'static RemotePeer>,
    Option<&'static Listening>,
);

/// Each remote voice's gains, into the speaker's mix and the recording's.
fn place_voices(
    settings: Res<VoiceSettings>,
    link: Option<Res<NetLink>>,
    inbox: Option<ResMut<AudioInbox>>,
    people: Query<PlacedVoice>,
) {
    let listener = people
        .iter()
        .find(|(p, ..)| p.local)
        .map(|(_, pl, latest, ..)| normalised_x(person_x(pl, latest), SCENE_WIDTH));
    let bus = link.as_ref().map(|l| l.bridge.voices().clone());
    if let Some(bus) = &bus
        && bus.spatial() != settings.spatial
    {
        bus.set_spatial(settings.spatial);
    }
    let mut inbox = inbox;
    if let Some(inbox) = inbox.as_mut()
        && inbox.unplaced == settings.spatial
    {
        inbox.unplaced = !settings.spatial;
    }
    for (_, placement, latest, remote, listening) in &people {
        let Some(remote) = remote else { continue };
        let x = normalised_x(person_x(placement, latest), SCENE_WIDTH);
        let listening = listening.copied().unwrap_or_default();
        let gains = Placing {
            speaker: Some(x),
            listener,
            volume: listening.volume,
            muted: listening.muted,
            spatial: settings.spatial,
        }
        .gains();
        if let Some(bus) = &bus {
            bus.mixer().set_gains(remote.0.0, gains, Some(x));
        }
        if let Some(inbox) = inbox.as_mut() {
            inbox.set_gains(&remote_audio_key(remote.0.0), gains);
        }
    }
}

/// One peer's voice in the report.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct VoiceLine {
    /// Where that person stands: −1 at the left edge of the world … 1 at the right.
    pub x: Option<f32>,
    /// Left minus right energy of that person's voice at this output, dB.
    pub audio_lr_db: Option<f32>,
    /// Output frames (48 kHz) in which its voice was measured.
    pub audio_frames_mixed: u64,
}

impl VoiceLine {
    /// What `bus` knows of voice `id`.
    pub fn of(bus: &VoiceBus, id: u64) -> Self {
        bus.mixer().status(id).map_or_else(Self::default, |s| Self {
            x: s.x,
            audio_lr_db: s.lr_db,
            audio_frames_mixed: s.frames_measured,
        })
    }
}

/// The recording's key for a remote peer's voice (as `net::plugin` pushes it).
pub fn remote_audio_key(peer: u64) -> String {
    format!("peer-{peer}")
}

/// The muted state this participant shows: its own switch for the local person,
/// what it said for a peer.
pub fn shows_muted(local: bool, self_mute: &SelfMute, peer: Option<&PeerVoice>) -> bool {
    if local {
        self_mute.muted
    } else {
        peer.is_some_and(|v| v.self_muted)
    }
}

/// Speaking from the bus, the ring's glow, and the ring and badge in place.
#[expect(clippy::type_complexity, reason = "Bevy queries")]
fn show_speaking(
    time: Res<Time>,
    link: Option<Res<NetLink>>,
    self_mute: Res<SelfMute>,
    mut people: Query<(
        Entity,
        &Participant,
        &ParticipantPlacement,
        &CutoutTexture,
        &LatestCutout,
        &Children,
        Option<&RemotePeer>,
        Option<&mut Speaking>,
        Option<&PeerVoice>,
    )>,
    mut rings: Query<
        (
            &SpeakingRing,
            &MeshMaterial2d<ColorMaterial>,
            &mut Transform,
            &mut Visibility,
        ),
        Without<MutedBadge>,
    >,
    mut badges: Query<(&mut Transform, &mut Visibility), With<MutedBadge>>,
    tags: Query<(&NameTag, &Transform, &Sprite), (Without<MutedBadge>, Without<SpeakingRing>)>,
    mut materials: ResMut<Assets<ColorMaterial>>,
    theme: Res<ActiveTheme>,
) {
    let dt = time.delta_secs();
    let bus: Option<std::sync::Arc<VoiceBus>> = link.as_ref().map(|l| l.bridge.voices().clone());
    // Each person's name tag: bottom centre and size (the badge goes beside it).
    let tag_of: HashMap<Entity, ([f32; 2], [f32; 2])> = tags
        .iter()
        .filter_map(|(tag, t, sprite)| {
            let size = sprite.custom_size?;
            Some((
                tag.owner,
                ([t.translation.x, t.translation.y], size.to_array()),
            ))
        })
        .collect();
    for (owner, participant, placement, tex, latest, children, remote, speaking, peer_voice) in
        &mut people
    {
        let glow = match (speaking, remote, &bus) {
            (Some(mut speaking), Some(remote), Some(bus)) => {
                let now = bus.mixer().status(remote.0.0).is_some_and(|s| s.speaking);
                speaking.now = now;
                speaking.glow.step(now, dt)
            }
            // The local person: what this peer sends (nothing while muted).
            (Some(mut speaking), None, Some(bus)) if participant.local => {
                let now = bus.own_speaking();
                speaking.now = now;
                speaking.glow.step(now, dt)
            }
            (Some(mut speaking), ..) => {
                speaking.now = false;
                speaking.glow.step(false, dt)
            }
            _ => 0.0,
        };
        // The person's quad: centre and size in world units (as `apply_placements`;
        // the ring and badge are its children).
        let (centre, size) = quad_rect(placement, tex, latest, &theme.0);
        let (w, h) = (size.x, size.y);
        if w <= 0.0 || h <= 0.0 {
            continue;
        }
        let to_local = |world: Vec2| (world - centre) / Vec2::new(w, h);
        let (box_min, box_max) = match latest.extent {
            Some(e) => {
                let a =
                    placement.cutout_to_world(e.left as f32, e.top as f32, e.frame_w, e.frame_h);
                let b = placement.cutout_to_world(
                    (e.right + 1) as f32,
                    e.frame_h as f32,
                    e.frame_w,
                    e.frame_h,
                );
                (
                    Vec2::new(a[0].min(b[0]), b[1]),
                    Vec2::new(a[0].max(b[0]), a[1]),
                )
            }
            None => (
                centre - Vec2::new(w, h) / 2.0,
                centre + Vec2::new(w, h) / 2.0,
            ),
        };
        let box_centre = (box_min + box_max) / 2.0;
        let radii = (box_max - box_min) / 2.0 * Vec2::new(1.15, 1.08);
        let muted = shows_muted(participant.local, &self_mute, peer_voice);
        for child in children.iter() {
            if let Ok((ring, material, mut transform, mut visibility)) = rings.get_mut(child) {
                let alpha = glow * ring.strength;
                *visibility = if alpha > 0.01 {
                    Visibility::Inherited
                } else {
                    Visibility::Hidden
                };
                if let Some(mut m) = materials.get_mut(&material.0) {
                    m.color = m.color.with_alpha(alpha);
                }
                let local = to_local(box_centre);
                // Just behind the person (participants are 0.01 apart in z).
                transform.translation = local.extend(-0.004);
                transform.scale = (radii * ring.grow / Vec2::new(w, h)).extend(1.0);
            }
            if let Ok((mut transform, mut visibility)) = badges.get_mut(child) {
                *visibility = if muted {
                    Visibility::Inherited
                } else {
                    Visibility::Hidden
                };
                // Beside the name tag (above the head before the tag is drawn).
                let at = match tag_of.get(&owner) {
                    Some(&(anchor, size)) => {
                        Vec2::from_array(beside_name_tag(anchor, size, BADGE_WORLD))
                    }
                    None => Vec2::new(
                        box_centre.x,
                        (box_max.y + BADGE_WORLD * 0.8).min(SCENE_HEIGHT / 2.0 - BADGE_WORLD * 0.6),
                    ),
                };
                transform.translation = to_local(at).extend(0.004);
                transform.scale = (Vec2::splat(BADGE_WORLD) / Vec2::new(w, h)).extend(1.0);
            }
        }
    }
}

/// Carries [`SelfMute`] to the microphone and tells the others.
fn apply_self_mute(link: Res<NetLink>, mut self_mute: ResMut<SelfMute>) {
    if !self_mute.synced {
        // A room starts with the bridge's setting (`--mute`).
        self_mute.synced = true;
        self_mute.muted = link.bridge.muted();
    }
    let silent = self_mute.silent();
    if link.bridge.muted() != silent {
        link.bridge.set_muted(silent);
        info!(muted = silent, "microphone");
    }
    let now = Instant::now();
    let due = match self_mute.last_sent {
        Some((sent, at)) => sent != self_mute.muted || now - at >= VOICE_STATE_INTERVAL,
        None => true,
    };
    if !due {
        return;
    }
    self_mute.last_sent = Some((self_mute.muted, now));
    let message = PeerToPeer::Voice {
        muted: self_mute.muted,
    };
    if let Err(e) = link
        .bridge
        .net()
        .send(NetCommand::World { to: None, message })
    {
        debug!(error = %e, "voice state not sent");
    }
}

/// Forgets the room's self-mute sync when the link goes (the next room starts
/// from its own setting).
pub fn reset_self_mute(mut self_mute: ResMut<SelfMute>) {
    self_mute.synced = false;
    self_mute.last_sent = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::voice::spatial::StereoGains;
    use crate::net::protocol::PeerId;
    use crate::world::Placement;

    fn person(id: u32, x: f32, local: bool) -> impl Bundle {
        (
            Participant {
                id,
                name: format!("p{id}"),
                local,
            },
            ParticipantPlacement(Placement {
                x,
                ..Placement::default()
            }),
            LatestCutout::default(),
        )
    }

    #[test]
    fn each_remote_voice_gets_its_place_volume_and_mute_in_the_recording_mix() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(VoiceSettings { spatial: true })
            .init_resource::<AudioInbox>()
            .add_systems(Update, place_voices);
        app.world_mut().spawn(person(0, 0.0, true));
        let left = app
            .world_mut()
            .spawn((person(1003, -480.0, false), RemotePeer(PeerId(3))))
            .insert(Listening {
                volume: 0.5,
                muted: false,
            })
            .id();
        app.update();
        let gains = |app: &App| app.world().resource::<AudioInbox>().gains[&remote_audio_key(3)];
        let g = gains(&app);
        assert!(20.0 * (g.left / g.right).log10() > 6.0, "{g:?}");
        assert!(
            g.mono < 0.5 && g.mono > 0.3,
            "half volume, a little softer: {g:?}"
        );
        app.world_mut().entity_mut(left).insert(Listening {
            volume: 1.0,
            muted: true,
        });
        app.update();
        assert_eq!(gains(&app), StereoGains::SILENT);
        app.world_mut()
            .entity_mut(left)
            .insert(Listening::default());
        app.world_mut().resource_mut::<VoiceSettings>().spatial = false;
        app.update();
        assert_eq!(gains(&app), StereoGains::UNITY);
    }
}
