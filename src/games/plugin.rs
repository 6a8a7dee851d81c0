//! Bevy glue for the games: feeds each participant's silhouette into the
//! [`GameSim`], steps it with the frame time, draws the objects from its snapshot,
//! turns `TakePhoto` into a scene snapshot, and (windowed) shows the HUD.

use std::collections::HashMap;
use std::path::PathBuf;

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};

use super::autoplay::Autoplayer;
use super::{
    GameConfig, GameEvent, GameKind, GameSim, ObjectId, ObjectKind, ParticipantId, StampedEvent,
};
use crate::AppSystems;
use crate::bodies::{SilhouetteParams, silhouette_from_mask};
use crate::world::participant::{LatestCutout, Participant, ParticipantPlacement, Pinned};
use crate::world::scene::{ActiveTheme, TakeSnapshot};

/// The game being played, with its bookkeeping.
#[derive(Resource)]
pub struct ActiveGame {
    /// The simulation.
    pub sim: GameSim,
    /// Room participant id → game participant id.
    pub ids: HashMap<u32, ParticipantId>,
    /// Every event so far, oldest first (for the report).
    pub events: Vec<StampedEvent>,
    /// Last cutout sequence fed per participant.
    fed: HashMap<u32, u64>,
    /// Where group photos go.
    pub photo_dir: PathBuf,
    /// Photos written by the photo booth.
    pub photos: Vec<PathBuf>,
}

/// Makes a participant move by itself to play (demo participants).
#[derive(Component, Debug, Clone)]
pub struct Autoplay(pub Autoplayer);

/// A drawn game object.
#[derive(Component, Debug, Clone, Copy)]
pub struct GameObjectSprite(pub ObjectId);

/// The volleyball net.
#[derive(Component, Debug, Clone, Copy)]
pub struct NetSprite;

/// The disc texture game objects are drawn with.
#[derive(Resource, Debug, Clone)]
struct DiscTexture(Handle<Image>);

/// Runs one game in the world.
pub struct GamesPlugin {
    /// Which game.
    pub kind: GameKind,
    /// Seed of the simulation.
    pub seed: u64,
    /// Where the photo booth saves pictures.
    pub photo_dir: PathBuf,
}

impl Plugin for GamesPlugin {
    fn build(&self, app: &mut App) {
        let (kind, seed, photo_dir) = (self.kind, self.seed, self.photo_dir.clone());
        app.add_systems(
            Startup,
            move |mut commands: Commands,
                  theme: Res<ActiveTheme>,
                  mut images: ResMut<Assets<Image>>| {
                let config = GameConfig {
                    seed,
                    gravity: theme.0.gravity,
                    floor_y: theme.0.floor_y,
                    ..GameConfig::default()
                };
                info!(game = kind.name(), "game started");
                commands.insert_resource(ActiveGame {
                    sim: GameSim::new(kind, config),
                    ids: HashMap::new(),
                    events: Vec::new(),
                    fed: HashMap::new(),
                    photo_dir: photo_dir.clone(),
                    photos: Vec::new(),
                });
                commands.insert_resource(DiscTexture(images.add(disc_image(64))));
            },
        )
        .add_systems(
            Update,
            (join_game, feed_bodies, autoplay, step_game)
                .chain()
                .in_set(AppSystems::Simulate),
        )
        .add_systems(Update, draw_objects.in_set(AppSystems::Present));
    }
}

/// A white disc with a soft rim, tinted per object.
pub fn disc_image(size: u32) -> Image {
    let mut data = vec![0u8; (size * size * 4) as usize];
    let r = size as f32 / 2.0;
    for y in 0..size {
        for x in 0..size {
            let d = ((x as f32 + 0.5 - r).powi(2) + (y as f32 + 0.5 - r).powi(2)).sqrt();
            let a = ((r - d) / 1.5).clamp(0.0, 1.0);
            // A highlight towards the top left gives a bit of volume.
            let hl = 1.0
                - 0.25
                    * (((x as f32 - r * 0.6).powi(2) + (y as f32 - r * 0.6).powi(2)).sqrt() / r)
                        .min(1.0);
            let i = ((y * size + x) * 4) as usize;
            let v = (255.0 * hl) as u8;
            data[i..i + 4].copy_from_slice(&[v, v, v, (a * 255.0) as u8]);
        }
    }
    Image::new(
        Extent3d {
            width: size,
            height: size,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    )
}

fn join_game(mut game: ResMut<ActiveGame>, people: Query<&Participant>) {
    for p in &people {
        if !game.ids.contains_key(&p.id) {
            let gid = game.sim.add_participant(p.name.clone());
            game.ids.insert(p.id, gid);
        }
    }
    // Someone left: take them out of the game.
    let present: Vec<u32> = people.iter().map(|p| p.id).collect();
    let gone: Vec<u32> = game
        .ids
        .keys()
        .filter(|id| !present.contains(id))
        .copied()
        .collect();
    for id in gone {
        if let Some(gid) = game.ids.remove(&id) {
            let _ = game.sim.remove_participant(gid);
        }
    }
}

fn feed_bodies(
    mut game: ResMut<ActiveGame>,
    people: Query<(&Participant, &LatestCutout, &ParticipantPlacement)>,
) {
    let params = SilhouetteParams::default();
    for (p, latest, placement) in &people {
        let Some(cutout) = &latest.cutout else {
            continue;
        };
        if game.fed.get(&p.id) == Some(&cutout.seq) {
            continue;
        }
        let Some(&gid) = game.ids.get(&p.id) else {
            continue;
        };
        match silhouette_from_mask(&cutout.mask, cutout.width, cutout.height, &params) {
            Ok(sil) => {
                if let Err(e) = game.sim.set_body_from_silhouette(gid, &sil, &placement.0) {
                    warn!(error = %e, "body update refused");
                }
            }
            Err(e) => warn!(error = %e, "silhouette"),
        }
        game.fed.insert(p.id, cutout.seq);
    }
}

fn autoplay(
    mut commands: Commands,
    game: Res<ActiveGame>,
    mut q: Query<(
        Entity,
        &mut Autoplay,
        &mut ParticipantPlacement,
        Option<&Pinned>,
    )>,
    time: Res<Time>,
) {
    let snapshot = game.sim.snapshot();
    for (e, mut auto, mut placement, pinned) in &mut q {
        if pinned.is_none() {
            // Arrangement placed them first; from now on the game moves them.
            auto.0 = Autoplayer::new(placement.x);
            commands.entity(e).insert(Pinned);
            continue;
        }
        placement.x = auto.0.update(&snapshot, time.delta_secs());
    }
}

/// A short sine beep appended to the room's audio.
fn beep(inbox: &mut crate::record::plugin::AudioInbox, frequency: f32, seconds: f32) {
    let rate = crate::record::plugin::MIX_RATE as f32;
    let n = (seconds * rate) as usize;
    for i in 0..n {
        let t = i as f32 / rate;
        let envelope = (1.0 - t / seconds).max(0.0);
        inbox
            .samples
            .push_back(0.25 * envelope * (std::f32::consts::TAU * frequency * t).sin());
    }
}

fn step_game(
    mut game: ResMut<ActiveGame>,
    time: Res<Time>,
    mut snapshots: MessageWriter<TakeSnapshot>,
    mut audio: Option<ResMut<crate::record::plugin::AudioInbox>>,
) {
    game.sim.advance(time.delta_secs());
    let events = game.sim.drain_events();
    for ev in &events {
        match &ev.event {
            GameEvent::TakePhoto { round } => {
                let path = game.photo_dir.join(format!("group-photo-{round}.png"));
                info!(path = %path.display(), "group photo");
                game.photos.push(path.clone());
                snapshots.write(TakeSnapshot(path));
            }
            other => {
                debug!(event = ?other, "game event");
                let tone = match other {
                    GameEvent::Scored { .. } => Some(880.0),
                    GameEvent::LifeLost { .. } => Some(220.0),
                    GameEvent::RoundStarted { .. } => Some(660.0),
                    _ => None,
                };
                if let (Some(f), Some(inbox)) = (tone, audio.as_deref_mut()) {
                    if inbox.samples.len() < crate::record::plugin::MIX_RATE as usize {
                        beep(inbox, f, 0.12);
                    }
                }
            }
        }
    }
    game.events.extend(events);
}

fn object_colour(kind: ObjectKind, id: ObjectId) -> Color {
    match kind {
        ObjectKind::Balloon => [
            Color::srgb(0.95, 0.25, 0.35),
            Color::srgb(1.0, 0.8, 0.2),
            Color::srgb(0.3, 0.6, 1.0),
            Color::srgb(0.5, 0.9, 0.4),
        ][id.0 as usize % 4],
        ObjectKind::Meteor => Color::srgb(0.55, 0.32, 0.2),
        ObjectKind::Star => Color::srgb(1.0, 0.95, 0.45),
        ObjectKind::GoldStar => Color::srgb(1.0, 0.7, 0.1),
        ObjectKind::Ball => Color::srgb(0.98, 0.98, 0.95),
        ObjectKind::Bubble => Color::srgba(0.75, 0.92, 1.0, 0.55),
    }
}

fn draw_objects(
    mut commands: Commands,
    game: Res<ActiveGame>,
    disc: Res<DiscTexture>,
    mut sprites: Query<(Entity, &GameObjectSprite, &mut Transform)>,
    net: Query<Entity, With<NetSprite>>,
) {
    let snapshot = game.sim.snapshot();
    let mut seen = std::collections::HashSet::new();
    let mut existing: HashMap<ObjectId, Entity> = HashMap::new();
    for (e, s, mut t) in &mut sprites {
        if let Some(o) = snapshot.objects.iter().find(|o| o.id == s.0) {
            t.translation = Vec3::new(o.position[0], o.position[1], 4.0);
            t.rotation = Quat::from_rotation_z(o.angle);
            existing.insert(s.0, e);
        } else {
            commands.entity(e).despawn();
        }
    }
    for o in &snapshot.objects {
        seen.insert(o.id);
        if existing.contains_key(&o.id) {
            continue;
        }
        commands.spawn((
            Name::new(format!("game object {:?}", o.kind)),
            GameObjectSprite(o.id),
            Sprite {
                image: disc.0.clone(),
                color: object_colour(o.kind, o.id),
                custom_size: Some(Vec2::splat(o.radius * 2.0)),
                ..default()
            },
            Transform::from_xyz(o.position[0], o.position[1], 4.0),
        ));
    }
    match (snapshot.net, net.iter().next()) {
        (Some([x, top]), None) => {
            let floor = game.sim.config().floor_y;
            commands.spawn((
                Name::new("volleyball net"),
                NetSprite,
                Sprite::from_color(
                    Color::srgba(1.0, 1.0, 1.0, 0.85),
                    Vec2::new(8.0, top - floor),
                ),
                Transform::from_xyz(x, (top + floor) / 2.0, 3.0),
            ));
        }
        (None, Some(e)) => commands.entity(e).despawn(),
        _ => {}
    }
}
