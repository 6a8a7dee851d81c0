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

pub mod art;
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

pub use crate::net::protocol::game::{
    GameEvent, GameKind, GamePhase, GameSnapshot, ObjectId, ObjectKind, ObjectState, ParticipantId,
    ScoreLine, Side, StampedEvent, TeamScore,
};
pub use bench::{BenchResult, bench_physics};
pub use error::GameError;
pub use sim::{GameConfig, GameSim, MAX_PIECE_VERTICES, MAX_PIECES};

/// Seconds per simulation tick (60 Hz).
pub const TICK_SECONDS: f32 = 1.0 / 60.0;

/// How the HUD and `samespace games` present a game (the type itself is wire
/// vocabulary: `net::protocol::game`).
impl GameKind {
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
