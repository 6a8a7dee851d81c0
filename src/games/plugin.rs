//! Bevy glue for the games: feeds each participant's silhouette into the
//! [`GameSim`], steps it with the frame time, draws the objects from its snapshot,
//! turns `TakePhoto` into a scene snapshot, and draws the HUD in the world
//! ([`super::scene_hud`]).
//!
//! In a networked room only the host simulates ([`GameAuthority::Host`]); a
//! follower draws the host's snapshots ([`RemoteGame`], filled by the net plugin,
//! interpolated one snapshot interval behind) and simulates nothing. A follower that
//! becomes host takes the game over from the last snapshot's kind (`take_over_game`).

use std::collections::HashMap;
use std::path::PathBuf;

use bevy::prelude::*;

use super::art::Shape;
use super::autoplay::Autoplayer;
use super::{
    GameConfig, GameEvent, GameKind, GameSim, ObjectId, ObjectKind, ParticipantId, StampedEvent,
};
use crate::AppSystems;
use crate::bodies::{SilhouetteParams, silhouette_from_mask};
use crate::world::depth;
use crate::world::participant::{ArrangedSet, LatestCutout, Participant, ParticipantPlacement};
use crate::world::scene::{ActiveTheme, TakeSnapshot};
use crate::world::texture::rgba_image;

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

/// Makes a participant move by itself to play (demo participants). Empty until the
/// automatic arrangement has placed them (their scale and where they stand come
/// from it); from then on the game moves their `x`, from where they were placed.
#[derive(Component, Debug, Clone, Default)]
pub struct Autoplay(pub Option<Autoplayer>);

/// A drawn game object.
#[derive(Component, Debug, Clone, Copy)]
pub struct GameObjectSprite(pub ObjectId);

/// The volleyball net.
#[derive(Component, Debug, Clone, Copy)]
pub struct NetSprite;

/// Who runs the game simulation here.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GameAuthority {
    /// This app simulates (alone, or as the room's host) and others follow it.
    #[default]
    Host,
    /// Another peer is the host: draw its snapshots, simulate nothing.
    Follower,
}

impl GameAuthority {
    /// Run condition: this app simulates and has a game.
    pub fn simulates(authority: Res<GameAuthority>, game: Option<Res<ActiveGame>>) -> bool {
        *authority == GameAuthority::Host && game.is_some()
    }
}

/// The host's newest game state, as a follower received it.
#[derive(Resource, Debug, Default, Clone)]
pub struct RemoteGame {
    /// The newest snapshot (by tick).
    pub snapshot: Option<super::GameSnapshot>,
    /// When the newest snapshot arrived.
    received_at: Option<std::time::Instant>,
    /// The snapshot before it, and when that arrived (for interpolation).
    previous: Option<(super::GameSnapshot, std::time::Instant)>,
    /// Snapshots received.
    pub snapshots_received: u64,
    /// Reliable game events received.
    pub events_received: u64,
}

impl RemoteGame {
    /// Keeps `snapshot`, received at `now`, if it is newer than the one held (or from
    /// another game).
    pub fn offer(&mut self, snapshot: super::GameSnapshot, now: std::time::Instant) {
        self.snapshots_received += 1;
        let newer = self
            .snapshot
            .as_ref()
            .is_none_or(|s| s.game != snapshot.game || snapshot.tick > s.tick);
        if !newer {
            return;
        }
        self.previous = match (self.snapshot.take(), self.received_at) {
            (Some(old), Some(at)) if old.game == snapshot.game => Some((old, at)),
            _ => None,
        };
        self.snapshot = Some(snapshot);
        self.received_at = Some(now);
    }

    /// What to draw at `now`: one snapshot interval behind, object positions and angles
    /// interpolated between the two newest snapshots (objects in only the newest one
    /// appear where it puts them).
    pub fn view(&self, now: std::time::Instant) -> Option<super::GameSnapshot> {
        let newest = self.snapshot.as_ref()?;
        let (Some((prev, prev_at)), Some(at)) = (&self.previous, self.received_at) else {
            return Some(newest.clone());
        };
        let interval = at.saturating_duration_since(*prev_at).as_secs_f32();
        if interval <= 0.0 {
            return Some(newest.clone());
        }
        let t = (now.saturating_duration_since(at).as_secs_f32() / interval).clamp(0.0, 1.0);
        let mut view = newest.clone();
        for o in &mut view.objects {
            if let Some(p) = prev.objects.iter().find(|p| p.id == o.id) {
                o.position = [
                    p.position[0] + (o.position[0] - p.position[0]) * t,
                    p.position[1] + (o.position[1] - p.position[1]) * t,
                ];
                o.angle = p.angle + (o.angle - p.angle) * t;
            }
        }
        Some(view)
    }
}

/// The game picker: start `Some(kind)` afresh, or end the game (`None`). On the
/// host it starts or ends the simulation; on a follower it drops a snapshot of
/// another game (the host's snapshots of the new one follow).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChooseGame(pub Option<GameKind>);

/// The pictures game objects are drawn with ([`super::art`]), one per shape.
#[derive(Resource, Debug, Clone)]
struct GameArt(HashMap<Shape, Handle<Image>>);

/// Side in pixels of each game object's picture.
const ART_SIZE: u32 = 96;

/// Runs one game in the world (or, as a network follower, draws the host's).
pub struct GamesPlugin {
    /// Which game to simulate; `None` for a follower that learns it from snapshots.
    pub kind: Option<GameKind>,
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
            |mut commands: Commands, mut images: ResMut<Assets<Image>>| {
                let pictures = Shape::ALL
                    .into_iter()
                    .map(|shape| {
                        let rgba = super::art::paint(shape, ART_SIZE);
                        (shape, images.add(rgba_image(ART_SIZE, ART_SIZE, rgba)))
                    })
                    .collect();
                commands.insert_resource(GameArt(pictures));
            },
        )
        // The game belongs to the room: it starts on entering and ends on leaving.
        .add_systems(
            OnEnter(crate::Screen::Room),
            move |mut commands: Commands, theme: Res<ActiveTheme>| {
                if let Some(kind) = kind {
                    commands.insert_resource(new_game(kind, seed, &theme, photo_dir.clone()));
                }
            },
        )
        .add_systems(OnExit(crate::Screen::Room), end_game)
        .add_message::<ChooseGame>()
        .init_resource::<GameAuthority>()
        .init_resource::<RemoteGame>()
        .insert_resource(GameSeed {
            seed,
            photo_dir: self.photo_dir.clone(),
        })
        .add_systems(
            Update,
            (
                choose_game,
                take_over_game,
                (
                    join_game,
                    feed_bodies,
                    autoplay.after(crate::world::participant::auto_arrange),
                    step_game,
                )
                    .chain()
                    .run_if(GameAuthority::simulates),
            )
                .chain()
                .in_set(AppSystems::Simulate),
        )
        .add_systems(Startup, super::scene_hud::spawn_game_hud)
        .add_systems(
            Update,
            (draw_objects, super::scene_hud::draw_game_hud).in_set(AppSystems::Present),
        );
    }
}

/// The entities a game draws.
type GameSprites = Or<(With<GameObjectSprite>, With<NetSprite>)>;

/// Ends the game on leaving the room: the simulation and its sprites go.
fn end_game(mut commands: Commands, sprites: Query<Entity, GameSprites>) {
    commands.remove_resource::<ActiveGame>();
    for entity in &sprites {
        commands.entity(entity).despawn();
    }
}

/// Carries out the game picker's [`ChooseGame`] (the last one of the frame).
#[expect(clippy::too_many_arguments, reason = "Bevy system parameters")]
fn choose_game(
    mut commands: Commands,
    mut choices: MessageReader<ChooseGame>,
    authority: Res<GameAuthority>,
    game: Option<Res<ActiveGame>>,
    mut remote: ResMut<RemoteGame>,
    seed: Res<GameSeed>,
    theme: Res<ActiveTheme>,
    sprites: Query<Entity, GameSprites>,
) {
    let Some(ChooseGame(choice)) = choices.read().last().copied() else {
        return;
    };
    let playing = match *authority {
        GameAuthority::Host => game.as_ref().map(|g| g.sim.kind()),
        GameAuthority::Follower => remote.snapshot.as_ref().map(|s| s.game),
    };
    if playing == choice {
        return;
    }
    for entity in &sprites {
        commands.entity(entity).despawn();
    }
    *remote = RemoteGame::default();
    commands.remove_resource::<ActiveGame>();
    match (choice, *authority) {
        (Some(kind), GameAuthority::Host) => {
            commands.insert_resource(new_game(kind, seed.seed, &theme, seed.photo_dir.clone()));
        }
        (None, GameAuthority::Host) => info!("game ended"),
        (_, GameAuthority::Follower) => {}
    }
}

/// Seed and photo folder for a game started later (host handover).
#[derive(Resource, Debug, Clone)]
struct GameSeed {
    seed: u64,
    photo_dir: PathBuf,
}

/// A fresh game of `kind` in the current theme.
fn new_game(kind: GameKind, seed: u64, theme: &ActiveTheme, photo_dir: PathBuf) -> ActiveGame {
    let config = GameConfig {
        seed,
        gravity: theme.0.gravity,
        floor_y: theme.0.floor_y,
        ..GameConfig::default()
    };
    info!(game = kind.name(), "game started");
    ActiveGame {
        sim: GameSim::new(kind, config),
        ids: HashMap::new(),
        events: Vec::new(),
        fed: HashMap::new(),
        photo_dir,
        photos: Vec::new(),
    }
}

/// A follower that became host restarts the game it was following (the old host's
/// physics state is not transferable; scores start again).
fn take_over_game(
    mut commands: Commands,
    authority: Res<GameAuthority>,
    game: Option<Res<ActiveGame>>,
    remote: Res<RemoteGame>,
    seed: Res<GameSeed>,
    theme: Res<ActiveTheme>,
) {
    if *authority != GameAuthority::Host || game.is_some() {
        return;
    }
    if let Some(snapshot) = &remote.snapshot {
        info!(
            game = snapshot.game.name(),
            "taking the game over as the new host"
        );
        commands.insert_resource(new_game(
            snapshot.game,
            seed.seed,
            &theme,
            seed.photo_dir.clone(),
        ));
    }
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

/// Runs after the automatic arrangement, so that the `x` it may just have set is
/// replaced before anything is drawn; the arrangement keeps their scale and floor.
fn autoplay(
    game: Res<ActiveGame>,
    // Absent in an app without the world's arrangement (nobody is then placed by
    // it, and autoplay waits).
    arranged: Option<Res<ArrangedSet>>,
    mut q: Query<(&Participant, &mut Autoplay, &mut ParticipantPlacement)>,
    time: Res<Time>,
) {
    let snapshot = game.sim.snapshot();
    let placed = |id: u32| arranged.as_ref().is_some_and(|a| a.contains(id));
    for (p, mut auto, mut placement) in &mut q {
        match &mut auto.0 {
            Some(player) => placement.x = player.update(&snapshot, time.delta_secs()),
            None if placed(p.id) => auto.0 = Some(Autoplayer::new(placement.x)),
            None => {}
        }
    }
}

/// A short sine beep appended to the room's audio.
fn beep(inbox: &mut crate::record::plugin::AudioInbox, frequency: f32, seconds: f32) {
    let rate = crate::record::plugin::MIX_RATE as f32;
    let n = (seconds * rate) as usize;
    inbox.push(
        "game",
        (0..n).map(|i| {
            let t = i as f32 / rate;
            let envelope = (1.0 - t / seconds).max(0.0);
            0.25 * envelope * (std::f32::consts::TAU * frequency * t).sin()
        }),
    );
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
                if let (Some(f), Some(inbox)) = (tone, audio.as_deref_mut())
                    && inbox.queued("game") < crate::record::plugin::MIX_RATE as usize / 2
                {
                    beep(inbox, f, 0.12);
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

#[expect(clippy::too_many_arguments, reason = "Bevy system parameters")]
fn draw_objects(
    mut commands: Commands,
    game: Option<Res<ActiveGame>>,
    authority: Res<GameAuthority>,
    remote: Res<RemoteGame>,
    theme: Res<ActiveTheme>,
    art: Option<Res<GameArt>>,
    mut sprites: Query<(Entity, &GameObjectSprite, &mut Transform)>,
    net: Query<Entity, With<NetSprite>>,
) {
    let Some(art) = art else { return };
    let snapshot = match (*authority, &game) {
        (GameAuthority::Host, Some(game)) => game.sim.snapshot(),
        _ => match remote.view(std::time::Instant::now()) {
            Some(s) => s,
            None => return,
        },
    };
    let mut seen = std::collections::HashSet::new();
    let mut existing: HashMap<ObjectId, Entity> = HashMap::new();
    for (e, s, mut t) in &mut sprites {
        if let Some(o) = snapshot.objects.iter().find(|o| o.id == s.0) {
            t.translation = Vec3::new(o.position[0], o.position[1], depth::GAME_OBJECTS);
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
        let Some(picture) = art.0.get(&Shape::of(o.kind)) else {
            continue;
        };
        commands.spawn((
            Name::new(format!("game object {:?}", o.kind)),
            GameObjectSprite(o.id),
            Sprite {
                image: picture.clone(),
                color: object_colour(o.kind, o.id),
                custom_size: Some(Vec2::splat(o.radius * 2.0)),
                ..default()
            },
            Transform::from_xyz(o.position[0], o.position[1], depth::GAME_OBJECTS),
        ));
    }
    match (snapshot.net, net.iter().next()) {
        (Some([x, top]), None) => {
            let floor = game
                .as_ref()
                .map_or(theme.0.floor_y, |g| g.sim.config().floor_y);
            commands.spawn((
                Name::new("volleyball net"),
                NetSprite,
                Sprite::from_color(
                    Color::srgba(1.0, 1.0, 1.0, 0.85),
                    Vec2::new(8.0, top - floor),
                ),
                // Behind people: the net never crosses a face.
                Transform::from_xyz(x, (top + floor) / 2.0, depth::GAME_SCENERY),
            ));
        }
        (None, Some(e)) => commands.entity(e).despawn(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_after(ticks: u32) -> super::super::GameSnapshot {
        let mut sim = GameSim::new(GameKind::BalloonKeepup, GameConfig::default());
        sim.add_participant("Ada");
        sim.start();
        for _ in 0..ticks {
            sim.step();
        }
        sim.snapshot()
    }

    #[test]
    fn a_follower_keeps_the_newest_snapshot_and_survives_the_json_round_trip() {
        let older = snapshot_after(5);
        let newer = snapshot_after(10);
        assert!(newer.tick > older.tick);
        let wire = serde_json::to_value(&newer).expect("snapshot serializes");
        let back: super::super::GameSnapshot =
            serde_json::from_value(wire).expect("snapshot parses");
        let t0 = std::time::Instant::now();
        let mut remote = RemoteGame::default();
        remote.offer(back, t0);
        remote.offer(older, t0);
        assert_eq!(remote.snapshots_received, 2);
        assert_eq!(remote.snapshot.as_ref().map(|s| s.tick), Some(newer.tick));
    }

    #[test]
    fn a_follower_draws_objects_between_the_two_newest_snapshots() {
        use std::time::{Duration, Instant};
        let ball = |position: [f32; 2]| super::super::ObjectState {
            id: ObjectId(7),
            kind: ObjectKind::Balloon,
            radius: 30.0,
            position,
            angle: 0.0,
            velocity: [0.0, 0.0],
            angular_velocity: 0.0,
        };
        let mut a = snapshot_after(1);
        a.objects = vec![ball([0.0, 0.0])];
        let mut b = a.clone();
        b.tick += 1;
        b.objects = vec![ball([10.0, 20.0])];
        let t0 = Instant::now();
        let interval = Duration::from_millis(100);
        let mut remote = RemoteGame::default();
        remote.offer(a, t0);
        remote.offer(b, t0 + interval);
        let at = |d: Duration| remote.view(t0 + interval + d).expect("a view").objects[0].position;
        assert_eq!(at(Duration::ZERO), [0.0, 0.0]);
        let mid = at(interval / 2);
        assert!(
            (mid[0] - 5.0).abs() < 0.01 && (mid[1] - 10.0).abs() < 0.01,
            "{mid:?}"
        );
        assert_eq!(at(interval * 3), [10.0, 20.0]);
    }
}
