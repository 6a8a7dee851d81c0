//! games: party games on a deterministic rapier2d simulation, without the engine.
//!
//! What it owns: [`GameSim`], one physics world (fixed timestep [`TICK_SECONDS`],
//! seeded RNG) with a floor, walls and a ceiling, one kinematic body per
//! participant whose colliders are the convex pieces of their silhouette
//! (see [`crate::bodies`]), and the game objects (balloons, meteors, stars, a
//! volleyball, bubbles) as dynamic balls. No Bevy, no threads, no clock: a driver
//! calls [`GameSim::step`] (or [`GameSim::advance`] with elapsed time) and feeds
//! silhouettes with [`GameSim::set_body`] / [`GameSim::set_body_from_silhouette`];
//! so the network host can run the same code headless.
//!
//! Every game shares the phase machine [`GamePhase`]: `Lobby → Countdown → Play →
//! Results` (and, with [`GameConfig::auto_restart`], back to `Countdown` for the
//! next round). The rules of each game live in their own file behind the
//! crate-private `GameRules` trait (`rules.rs`): `balloon_keepup.rs`,
//! `meteor_dodge.rs`, `star_catch.rs`, `volleyball.rs`, `photo_booth.rs`; the
//! physics arena is `physics.rs`.
//!
//! Outputs: [`StampedEvent`]s ([`GameSim::drain_events`]), per-participant scores
//! ([`GameSim::scores`]), the count of silhouette–object contact *starts*
//! ([`GameSim::body_contacts`]) and a serde [`GameSnapshot`] for the HUD and the
//! network.
//!
//! Bodies move objects believably: a body's kinematic velocity follows its
//! placement anchor, and on every silhouette update each touching object gets at
//! least the speed at which the outline's boundary advanced towards it
//! (distance from the new boundary to the old outline / time between updates), so
//! a fast swipe hits harder than a slow push.
//!
//! | game | countdown | play | ends early when | winners |
//! | --- | --- | --- | --- | --- |
//! | balloon-keepup | 2 s | 14 s | a balloon touches the floor | everyone, if it survived |
//! | meteor-dodge | 2 s | 14 s | one (or, alone, no) person has lives left | last standing / most lives |
//! | star-catch | 2 s | 14 s | — | highest score |
//! | volleyball | 2 s | 14 s | a side reaches 5 points | side with more points |
//! | photo-booth | 3 s | 1 s (`TakePhoto` at its start) | — | — |
//!
//! Results stay 4 s, then the next round counts down ([`GameConfig`] overrides all).
//!
//! Driving it (what a Bevy plugin or the network host does):
//! ```
//! use samespace::bodies::{SilhouetteParams, silhouette_from_mask};
//! use samespace::games::{GameConfig, GameKind, GameSim};
//! use samespace::world::placement::Placement;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kind: GameKind = "meteor-dodge".parse()?;
//! let mut sim = GameSim::new(kind, GameConfig::default());
//! let ana = sim.add_participant("Ana");
//! // Each camera frame: mask → silhouette → body.
//! let mask = vec![0u8; 64 * 48];
//! let silhouette = silhouette_from_mask(&mask, 64, 48, &SilhouetteParams::default())?;
//! sim.set_body_from_silhouette(ana, &silhouette, &Placement::default())?;
//! // Each render frame: run the fixed ticks the elapsed time covers.
//! sim.advance(1.0 / 60.0);
//! for event in sim.drain_events() {
//!     let _json = serde_json::to_string(&event)?;
//! }
//! let _hud = sim.snapshot();
//! # Ok(())
//! # }
//! ```
//!
//! Invariants: same seed, same participants and same inputs at the same ticks give
//! the same events, scores and snapshots (no hash-ordered iteration, no wall clock).

pub mod autoplay;
mod balloon_keepup;
pub mod bench;
pub mod error;
pub mod hud;
mod meteor_dodge;
mod photo_booth;
mod physics;
pub mod plugin;
mod rules;
pub mod scene_hud;
mod sim;
mod star_catch;
mod volleyball;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use bench::{BenchResult, bench_physics};
pub use error::GameError;
pub use sim::{GameConfig, GameSim, MAX_PIECE_VERTICES, MAX_PIECES};

/// Seconds per simulation tick (60 Hz).
pub const TICK_SECONDS: f32 = 1.0 / 60.0;

/// The games, in the order [`list`] shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GameKind {
    /// Team keeps every balloon off the floor.
    BalloonKeepup,
    /// Dodge meteors; each person has lives.
    MeteorDodge,
    /// Touch falling stars to collect them.
    StarCatch,
    /// Two sides, a net, one ball.
    Volleyball,
    /// Countdown, then a group photo.
    PhotoBooth,
}

impl GameKind {
    /// All games.
    pub const ALL: [GameKind; 5] = [
        GameKind::BalloonKeepup,
        GameKind::MeteorDodge,
        GameKind::StarCatch,
        GameKind::Volleyball,
        GameKind::PhotoBooth,
    ];

    /// The command-line name (`--game NAME`).
    pub fn name(self) -> &'static str {
        match self {
            GameKind::BalloonKeepup => "balloon-keepup",
            GameKind::MeteorDodge => "meteor-dodge",
            GameKind::StarCatch => "star-catch",
            GameKind::Volleyball => "volleyball",
            GameKind::PhotoBooth => "photo-booth",
        }
    }

    /// A human title for the HUD.
    pub fn title(self) -> &'static str {
        match self {
            GameKind::BalloonKeepup => "Balloon keep-up",
            GameKind::MeteorDodge => "Meteor dodge",
            GameKind::StarCatch => "Star catch",
            GameKind::Volleyball => "Volleyball",
            GameKind::PhotoBooth => "Photo booth",
        }
    }

    /// One line saying how to play.
    pub fn description(self) -> &'static str {
        match self {
            GameKind::BalloonKeepup => {
                "team game: keep every balloon off the floor for as long as you can"
            }
            GameKind::MeteorDodge => {
                "dodge the falling meteors: three lives each, last one standing wins"
            }
            GameKind::StarCatch => {
                "touch the falling stars to collect them; gold stars count triple"
            }
            GameKind::Volleyball => "two sides and a net: land the ball on the other side to score",
            GameKind::PhotoBooth => "strike a pose: a countdown, then a group photo of the scene",
        }
    }
}

impl fmt::Display for GameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GameKind {
    type Err = GameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        GameKind::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or_else(|| GameError::UnknownGame(s.to_owned()))
    }
}

/// `(name, one-line description)` of every game, for `samespace games`.
pub fn list() -> Vec<(&'static str, &'static str)> {
    GameKind::ALL
        .into_iter()
        .map(|k| (k.name(), k.description()))
        .collect()
}

/// A participant in a game (assigned by [`GameSim::add_participant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParticipantId(pub u32);

/// A game object (balloon, meteor, ...), unique within one [`GameSim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectId(pub u32);

/// The shared state machine of every game.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GamePhase {
    /// Waiting to start (no objects).
    Lobby,
    /// "3, 2, 1": objects may be shown, nothing scores yet (photo booth: bubbles pop).
    Countdown,
    /// The round is on.
    Play,
    /// The round is over; scores and winners shown.
    Results,
}

/// What a game object is (decides how the renderer draws it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A light, floaty balloon (balloon keep-up).
    Balloon,
    /// A fast falling rock (meteor dodge).
    Meteor,
    /// A slowly falling star worth one point (star catch; a sensor).
    Star,
    /// A rarer star worth three points (star catch; a sensor).
    GoldStar,
    /// The volleyball.
    Ball,
    /// A soap bubble that pops on touch (photo booth).
    Bubble,
}

/// A side of the volleyball court (split at x = 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// x < 0.
    Left,
    /// x ≥ 0.
    Right,
}

impl Side {
    /// The side a world x coordinate is on.
    pub fn of_x(x: f32) -> Side {
        if x < 0.0 { Side::Left } else { Side::Right }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// -1 for left, +1 for right.
    pub fn sign(self) -> f32 {
        match self {
            Side::Left => -1.0,
            Side::Right => 1.0,
        }
    }
}

/// Something that happened in a game, for the HUD, the report and the network
/// (reliable channel).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GameEvent {
    /// A round's countdown began.
    CountdownStarted {
        /// Round number, from 1.
        round: u32,
        /// Countdown length.
        seconds: f32,
    },
    /// Play began.
    RoundStarted {
        /// Round number, from 1.
        round: u32,
    },
    /// A participant scored.
    Scored {
        /// Who.
        participant: ParticipantId,
        /// Their name.
        name: String,
        /// Points gained.
        points: i64,
        /// Their total over all rounds.
        total: i64,
    },
    /// A participant was hit and lost a life.
    LifeLost {
        /// Who.
        participant: ParticipantId,
        /// Their name.
        name: String,
        /// Lives left.
        lives_left: u32,
    },
    /// A participant ran out of lives.
    Eliminated {
        /// Who.
        participant: ParticipantId,
        /// Their name.
        name: String,
    },
    /// Balloon keep-up: a balloon touched the floor.
    BalloonDropped {
        /// Seconds of play survived.
        survived_seconds: f32,
    },
    /// Volleyball: the ball touched the floor.
    BallLanded {
        /// The side it landed on (that side concedes the point).
        side: Side,
        /// Where.
        x: f32,
    },
    /// Volleyball: one side touched the ball more than three times in a row
    /// (that side concedes the point).
    Fault {
        /// The side at fault.
        side: Side,
        /// Touches in a row.
        touches: u32,
    },
    /// Photo booth: take the group photo now (the renderer saves a PNG).
    TakePhoto {
        /// Round number, from 1.
        round: u32,
    },
    /// A round finished.
    RoundEnded {
        /// Round number, from 1.
        round: u32,
        /// Names of the winners (empty: nobody won).
        winners: Vec<String>,
        /// Ids of the winners, in the same order.
        winner_ids: Vec<ParticipantId>,
        /// One line for the results screen.
        summary: String,
    },
}

/// A [`GameEvent`] with the tick and time it happened at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StampedEvent {
    /// Simulation tick.
    pub tick: u64,
    /// Simulation time in seconds (`tick * TICK_SECONDS`).
    pub time: f32,
    /// What happened.
    #[serde(flatten)]
    pub event: GameEvent,
}

/// The `game` section of `samespace demo --report`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameReport {
    /// The game's name (`balloon-keepup`, ...).
    pub name: String,
    /// Contacts that started between a silhouette and a game object.
    pub body_contacts: u64,
    /// Every event of the run, oldest first.
    pub events: Vec<StampedEvent>,
    /// Total score per participant name.
    pub scores: std::collections::BTreeMap<String, i64>,
}

/// One game object in a [`GameSnapshot`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectState {
    /// Stable id.
    pub id: ObjectId,
    /// What it is.
    pub kind: ObjectKind,
    /// Radius in world units.
    pub radius: f32,
    /// Centre in world units.
    pub position: [f32; 2],
    /// Rotation in radians.
    pub angle: f32,
    /// Linear velocity in world units per second.
    pub velocity: [f32; 2],
    /// Angular velocity in radians per second.
    pub angular_velocity: f32,
}

/// One participant's standing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreLine {
    /// Who.
    pub id: ParticipantId,
    /// Their name.
    pub name: String,
    /// Points over all rounds.
    pub total: i64,
    /// Points in the current (or last) round.
    pub round: i64,
    /// Lives left, in games with lives.
    pub lives: Option<u32>,
    /// Out of lives this round.
    pub eliminated: bool,
    /// Briefly immune after a hit.
    pub invulnerable: bool,
    /// Volleyball side.
    pub side: Option<Side>,
    /// Where the HUD puts the name label: just above the top of the body's
    /// outline, in world units (`None` before the first silhouette).
    pub label_at: Option<[f32; 2]>,
}

/// A team's score (volleyball sides, the keep-up team).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamScore {
    /// Team name.
    pub name: String,
    /// Points (keep-up: whole seconds survived).
    pub points: i64,
}

/// Everything a remote peer or the HUD needs to draw the game.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameSnapshot {
    /// Which game.
    pub game: GameKind,
    /// Phase.
    pub phase: GamePhase,
    /// Round number (0 before the first countdown).
    pub round: u32,
    /// Simulation tick.
    pub tick: u64,
    /// Seconds left in the current phase (0 in a lobby without auto-start).
    pub time_left: f32,
    /// Round message for the HUD ("3", "Keep them up!", "Alice wins").
    pub banner: String,
    /// Objects, ordered by id.
    pub objects: Vec<ObjectState>,
    /// Participants, ordered by id.
    pub scores: Vec<ScoreLine>,
    /// Team scores, if the game has teams.
    pub teams: Vec<TeamScore>,
    /// Volleyball: x of the net and its top y.
    pub net: Option<[f32; 2]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_game_parses_back_from_its_name() {
        let names: Vec<&str> = list().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "balloon-keepup",
                "meteor-dodge",
                "star-catch",
                "volleyball",
                "photo-booth"
            ]
        );
        for (name, desc) in list() {
            assert_eq!(name.parse::<GameKind>().map(|k| k.name()), Ok(name));
            assert!(!desc.is_empty());
        }
        assert!(matches!(
            "chess".parse::<GameKind>(),
            Err(GameError::UnknownGame(_))
        ));
    }

    #[test]
    fn a_game_can_live_in_a_bevy_resource() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<GameSim>();
    }

    #[test]
    fn events_serialise_with_a_type_tag() {
        let e = StampedEvent {
            tick: 3,
            time: 0.05,
            event: GameEvent::TakePhoto { round: 1 },
        };
        let json = serde_json::to_string(&e).expect("serialises");
        assert!(json.contains("\"type\":\"take_photo\""), "{json}");
        let back: StampedEvent = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, e);
    }
}
