//! The games' vocabulary on the wire: [`GameSnapshot`] (`game-snapshot.state`) and
//! [`StampedEvent`] (`game-event.event`), and the identifiers and kinds they use.
//!
//! Pure serde data, no Bevy: the `games` module runs the games and re-exports these
//! types; the transport only carries them. The JSON shapes are specified in
//! `docs/PROTOCOL.md` ("Game state"). Unknown fields are ignored.

use serde::{Deserialize, Serialize};

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
    /// Simulation time in seconds (`tick` / 60: `games::TICK_SECONDS` per tick).
    pub time: f32,
    /// What happened.
    #[serde(flatten)]
    pub event: GameEvent,
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
