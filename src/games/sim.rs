//! `GameSim`: the phase machine, the physics arena and one game's rules, stepped at
//! a fixed 60 Hz with a seeded RNG (sans-IO: no clock, no threads).

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use super::physics::{Arena, StepContacts};
use super::rules::{Ctx, Entry, GameRules, RoundOutcome, Scoreboard, winners_line};
use super::{
    GameError, GameEvent, GameKind, GamePhase, GameReport, GameSnapshot, ParticipantId, ScoreLine,
    StampedEvent, TICK_SECONDS, balloon_keepup, meteor_dodge, photo_booth, star_catch, volleyball,
};
use crate::bodies::Silhouette;
use crate::world::placement::Placement;

/// Most ticks [`GameSim::advance`] runs per call (a stalled frame does not spiral).
const MAX_TICKS_PER_ADVANCE: u32 = 8;
/// Most pieces one body may have (more are ignored).
pub const MAX_PIECES: usize = 64;
/// Most vertices one piece may have (larger pieces are ignored).
pub const MAX_PIECE_VERTICES: usize = 32;
/// Largest coordinate magnitude accepted for a body, in world units.
const MAX_COORDINATE: f32 = 100_000.0;

/// Settings of a game simulation (plain data; the theme decides gravity).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameConfig {
    /// Seed of every random choice (spawns, serves).
    pub seed: u64,
    /// Vertical gravity in world units/s² (negative is down; ≈ -900 on earth, less in space).
    pub gravity: f32,
    /// Top of the floor in world units (people stand on it).
    pub floor_y: f32,
    /// Seconds in the lobby before the first countdown when `auto_start`.
    pub lobby_seconds: f32,
    /// Countdown length; `None` uses the game's own (2 s, photo booth 3 s).
    pub countdown_seconds: Option<f32>,
    /// Play length; `None` uses the game's own (≈ 14 s).
    pub play_seconds: Option<f32>,
    /// Seconds the results stay up.
    pub results_seconds: f32,
    /// Leave the lobby by itself after `lobby_seconds`.
    pub auto_start: bool,
    /// Start the next round by itself after the results.
    pub auto_restart: bool,
}

impl Default for GameConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            gravity: -900.0,
            floor_y: -300.0,
            lobby_seconds: 0.5,
            countdown_seconds: None,
            play_seconds: None,
            results_seconds: 4.0,
            auto_start: true,
            auto_restart: true,
        }
    }
}

/// One game: physics, participants, phases, scores and events.
pub struct GameSim {
    kind: GameKind,
    config: GameConfig,
    rules: Box<dyn GameRules>,
    arena: Arena,
    board: Scoreboard,
    rng: SmallRng,
    phase: GamePhase,
    /// Ticks since the current phase began.
    phase_ticks: u64,
    round: u32,
    tick: u64,
    next_participant: u32,
    events: Vec<StampedEvent>,
    body_contacts: u64,
    last_outcome: Option<String>,
    accumulator: f32,
}

impl GameSim {
    /// A new game in the lobby.
    pub fn new(kind: GameKind, config: GameConfig) -> Self {
        let rules: Box<dyn GameRules> = match kind {
            GameKind::BalloonKeepup => Box::new(balloon_keepup::BalloonKeepup::default()),
            GameKind::MeteorDodge => Box::new(meteor_dodge::MeteorDodge::default()),
            GameKind::StarCatch => Box::new(star_catch::StarCatch::default()),
            GameKind::Volleyball => Box::new(volleyball::Volleyball::default()),
            GameKind::PhotoBooth => Box::new(photo_booth::PhotoBooth::default()),
        };
        debug_assert_eq!(rules.kind(), kind);
        tracing::info!(game = %kind, seed = config.seed, "game created");
        Self {
            kind,
            arena: Arena::new(config.gravity, config.floor_y),
            rng: SmallRng::seed_from_u64(config.seed),
            config,
            rules,
            board: Scoreboard::default(),
            phase: GamePhase::Lobby,
            phase_ticks: 0,
            round: 0,
            tick: 0,
            next_participant: 1,
            events: Vec::new(),
            body_contacts: 0,
            last_outcome: None,
            accumulator: 0.0,
        }
    }

    /// Which game this is.
    pub fn kind(&self) -> GameKind {
        self.kind
    }

    /// The settings it runs with.
    pub fn config(&self) -> &GameConfig {
        &self.config
    }

    /// Adds a participant (no collider until their first silhouette).
    pub fn add_participant(&mut self, name: impl Into<String>) -> ParticipantId {
        let id = ParticipantId(self.next_participant);
        self.next_participant += 1;
        let name = name.into();
        tracing::info!(participant = id.0, %name, "participant joined the game");
        self.board.entries.insert(
            id,
            Entry {
                name,
                total: 0,
                round: 0,
                lives: None,
                invulnerable_until: 0,
                side: None,
            },
        );
        self.arena.add_participant(id);
        id
    }

    /// Removes a participant and their body.
    pub fn remove_participant(&mut self, id: ParticipantId) -> Result<(), GameError> {
        self.board
            .entries
            .remove(&id)
            .ok_or(GameError::UnknownParticipant(id))?;
        self.arena.remove_participant(id);
        Ok(())
    }

    /// Replaces a participant's outline: convex, counter-clockwise `pieces` in world
    /// coordinates, and the `origin` (placement anchor) whose motion is the body's
    /// rigid velocity. Takes effect from the next step; call it at camera rate.
    pub fn set_body(
        &mut self,
        id: ParticipantId,
        origin: [f32; 2],
        pieces: &[Vec<[f32; 2]>],
    ) -> Result<(), GameError> {
        if !self.board.entries.contains_key(&id) {
            return Err(GameError::UnknownParticipant(id));
        }
        if !origin.iter().all(|v| v.is_finite()) {
            return Err(GameError::InvalidBody);
        }
        // Outlines may come from the network: keep only sane pieces, within budget.
        let sane = |piece: &&Vec<[f32; 2]>| {
            (3..=MAX_PIECE_VERTICES).contains(&piece.len())
                && piece
                    .iter()
                    .flatten()
                    .all(|v| v.is_finite() && v.abs() < MAX_COORDINATE)
        };
        let kept: Vec<Vec<[f32; 2]>> = pieces
            .iter()
            .filter(sane)
            .take(MAX_PIECES)
            .cloned()
            .collect();
        if kept.len() != pieces.len() {
            tracing::debug!(
                participant = id.0,
                given = pieces.len(),
                kept = kept.len(),
                "dropped invalid body pieces"
            );
        }
        self.arena.set_body(id, origin, &kept);
        Ok(())
    }

    /// [`Self::set_body`] from a silhouette in cutout pixels and its placement.
    pub fn set_body_from_silhouette(
        &mut self,
        id: ParticipantId,
        silhouette: &Silhouette,
        placement: &Placement,
    ) -> Result<(), GameError> {
        let pieces = silhouette.to_world(placement);
        self.set_body(id, [placement.x, placement.y], &pieces)
    }

    /// Leaves the lobby (or the results) and starts a round's countdown now.
    pub fn start(&mut self) {
        if matches!(self.phase, GamePhase::Lobby | GamePhase::Results) {
            self.enter_countdown();
        }
    }

    /// Runs as many fixed ticks as `seconds` of wall time cover (at most 8 per
    /// call; the remainder carries over). Returns the ticks run.
    pub fn advance(&mut self, seconds: f32) -> u32 {
        self.accumulator += seconds.max(0.0);
        let mut n = 0;
        while self.accumulator >= TICK_SECONDS && n < MAX_TICKS_PER_ADVANCE {
            self.accumulator -= TICK_SECONDS;
            self.step();
            n += 1;
        }
        if n == MAX_TICKS_PER_ADVANCE {
            self.accumulator = self.accumulator.min(TICK_SECONDS);
        }
        n
    }

    /// Advances the simulation by one tick of [`TICK_SECONDS`].
    pub fn step(&mut self) {
        let contacts = self.arena.step();
        self.tick += 1;
        self.phase_ticks += 1;
        self.body_contacts += contacts.body_starts.len() as u64;
        match self.phase {
            GamePhase::Countdown => {
                let (mut ctx, rules) = self.split();
                rules.countdown_tick(&mut ctx, &contacts);
            }
            GamePhase::Play => self.play_tick(&contacts),
            GamePhase::Lobby | GamePhase::Results => {}
        }

        let elapsed = self.elapsed();
        match self.phase {
            GamePhase::Lobby if self.config.auto_start && elapsed >= self.config.lobby_seconds => {
                self.enter_countdown();
            }
            GamePhase::Countdown if elapsed >= self.countdown_seconds() => self.enter_play(),
            GamePhase::Play if elapsed >= self.play_seconds() => {
                let outcome = {
                    let (mut ctx, rules) = self.split();
                    rules.time_up(&mut ctx)
                };
                self.finish(outcome);
            }
            GamePhase::Results
                if self.config.auto_restart && elapsed >= self.config.results_seconds =>
            {
                self.enter_countdown();
            }
            _ => {}
        }
    }

    fn play_tick(&mut self, contacts: &StepContacts) {
        let outcome = {
            let (mut ctx, rules) = self.split();
            rules.play_tick(&mut ctx, contacts)
        };
        if let Some(outcome) = outcome {
            self.finish(outcome);
        }
    }

    /// The rules and what they may touch, borrowed side by side.
    fn split(&mut self) -> (Ctx<'_>, &mut dyn GameRules) {
        let play_seconds = self.play_seconds();
        let elapsed = self.elapsed();
        let ctx = Ctx {
            arena: &mut self.arena,
            board: &mut self.board,
            rng: &mut self.rng,
            events: &mut self.events,
            tick: self.tick,
            round: self.round,
            elapsed,
            play_seconds,
        };
        (ctx, self.rules.as_mut())
    }

    fn elapsed(&self) -> f32 {
        self.phase_ticks as f32 * TICK_SECONDS
    }

    fn countdown_seconds(&self) -> f32 {
        self.config
            .countdown_seconds
            .unwrap_or_else(|| self.rules.countdown_seconds())
    }

    fn play_seconds(&self) -> f32 {
        self.config
            .play_seconds
            .unwrap_or_else(|| self.rules.play_seconds())
    }

    fn enter_countdown(&mut self) {
        self.round += 1;
        self.phase = GamePhase::Countdown;
        self.phase_ticks = 0;
        self.last_outcome = None;
        self.arena.clear_objects();
        self.board.reset_round();
        let seconds = self.countdown_seconds();
        tracing::info!(game = %self.kind, round = self.round, "countdown");
        let (mut ctx, rules) = self.split();
        ctx.emit(GameEvent::CountdownStarted {
            round: ctx.round,
            seconds,
        });
        rules.start_countdown(&mut ctx);
    }

    fn enter_play(&mut self) {
        self.phase = GamePhase::Play;
        self.phase_ticks = 0;
        tracing::info!(game = %self.kind, round = self.round, "play");
        let (mut ctx, rules) = self.split();
        ctx.emit(GameEvent::RoundStarted { round: ctx.round });
        rules.start_play(&mut ctx);
    }

    fn finish(&mut self, outcome: RoundOutcome) {
        self.phase = GamePhase::Results;
        self.phase_ticks = 0;
        let winners: Vec<String> = outcome
            .winners
            .iter()
            .map(|&id| self.board.name(id))
            .collect();
        let line = if self.rules.announces_winners() {
            format!("{} · {}", outcome.summary, winners_line(&winners))
        } else {
            outcome.summary.clone()
        };
        tracing::info!(game = %self.kind, round = self.round, result = %line, "round ended");
        self.last_outcome = Some(line);
        let (mut ctx, _) = self.split();
        ctx.emit(GameEvent::RoundEnded {
            round: ctx.round,
            winners,
            winner_ids: outcome.winners,
            summary: outcome.summary,
        });
    }

    /// Current phase.
    pub fn phase(&self) -> GamePhase {
        self.phase
    }

    /// Current round (0 before the first countdown).
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Ticks run so far.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Simulation time in seconds.
    pub fn time(&self) -> f32 {
        self.tick as f32 * TICK_SECONDS
    }

    /// Seconds left in the current phase (0 in a lobby without auto-start).
    pub fn time_left(&self) -> f32 {
        let total = match self.phase {
            GamePhase::Lobby if self.config.auto_start => self.config.lobby_seconds,
            GamePhase::Lobby => return 0.0,
            GamePhase::Countdown => self.countdown_seconds(),
            GamePhase::Play => self.play_seconds(),
            GamePhase::Results if self.config.auto_restart => self.config.results_seconds,
            GamePhase::Results => return 0.0,
        };
        (total - self.elapsed()).max(0.0)
    }

    /// Takes the events since the last call, oldest first.
    pub fn drain_events(&mut self) -> Vec<StampedEvent> {
        std::mem::take(&mut self.events)
    }

    /// Contacts that *started* between a silhouette and a game object, so far.
    pub fn body_contacts(&self) -> u64 {
        self.body_contacts
    }

    /// Every participant's standing, ordered by id.
    pub fn scores(&self) -> Vec<ScoreLine> {
        let mut lines = self.board.lines(self.tick);
        for line in &mut lines {
            line.label_at = self.arena.label_anchor(line.id);
        }
        lines
    }

    /// Total scores by name (for the `--report` JSON).
    pub fn scores_by_name(&self) -> BTreeMap<String, i64> {
        self.board
            .entries
            .values()
            .map(|e| (e.name.clone(), e.total))
            .collect()
    }

    /// The report section for a run whose drained events were collected in `events`.
    pub fn report(&self, events: Vec<StampedEvent>) -> GameReport {
        GameReport {
            name: self.kind.name().to_owned(),
            body_contacts: self.body_contacts,
            events,
            scores: self.scores_by_name(),
        }
    }

    /// The HUD's round message.
    pub fn banner(&self) -> String {
        match self.phase {
            GamePhase::Lobby => format!("{}: get ready", self.kind.title()),
            GamePhase::Countdown => {
                let n = self.time_left().ceil().max(1.0) as u32;
                if self.kind == GameKind::PhotoBooth {
                    format!("Say cheese! {n}")
                } else {
                    format!("{}: {n}", self.kind.title())
                }
            }
            GamePhase::Play => self.rules.play_banner(self.time_left()),
            GamePhase::Results => self.last_outcome.clone().unwrap_or_default(),
        }
    }

    /// A serialisable picture of the whole game.
    pub fn snapshot(&self) -> GameSnapshot {
        GameSnapshot {
            game: self.kind,
            phase: self.phase,
            round: self.round,
            tick: self.tick,
            time_left: self.time_left(),
            banner: self.banner(),
            objects: self.arena.object_states(),
            scores: self.scores(),
            teams: self.rules.teams(),
            net: self.arena.net(),
        }
    }

    /// Number of game objects now.
    pub fn object_count(&self) -> usize {
        self.arena.object_count()
    }

    /// Direct access to the physics, for scripted tests.
    #[cfg(test)]
    pub(crate) fn arena_mut(&mut self) -> &mut Arena {
        &mut self.arena
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bodies::synthetic::{SyntheticPose, synthetic_person_mask};
    use crate::bodies::{SilhouetteParams, silhouette_from_mask};
    use crate::games::{GameEvent, ObjectKind};

    /// A sim with `n` synthetic people standing still, spread across the floor.
    pub(crate) fn sim_with_idle_people(kind: GameKind, n: usize, seed: u64) -> GameSim {
        let mut sim = GameSim::new(
            kind,
            GameConfig {
                seed,
                ..GameConfig::default()
            },
        );
        let (w, h) = (320u32, 240u32);
        for i in 0..n {
            let id = sim.add_participant(format!("p{i}"));
            let pose = SyntheticPose::waving(0.4, i as f32);
            let mask = synthetic_person_mask(w, h, &pose);
            let sil = silhouette_from_mask(&mask, w, h, &SilhouetteParams::default())
                .expect("sized mask");
            let x = if n == 1 {
                0.0
            } else {
                -420.0 + 840.0 * i as f32 / (n - 1) as f32
            };
            let placement = Placement {
                x,
                y: -300.0,
                scale: 400.0 / h as f32,
                z: 0,
                mirrored: false,
            };
            sim.set_body_from_silhouette(id, &sil, &placement)
                .expect("known participant");
        }
        sim
    }

    /// An axis-aligned box as a counter-clockwise piece.
    pub(crate) fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<[f32; 2]> {
        vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    }

    /// A sim of `kind` already in play, with one box-shaped person per x in `xs`
    /// (120 wide, 380 tall, standing on the floor) and no objects.
    pub(crate) fn sim_in_play(kind: GameKind, xs: &[f32]) -> (GameSim, Vec<ParticipantId>) {
        let mut sim = GameSim::new(
            kind,
            GameConfig {
                lobby_seconds: 0.0,
                countdown_seconds: Some(0.0),
                ..GameConfig::default()
            },
        );
        let ids: Vec<ParticipantId> = xs
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let id = sim.add_participant(format!("p{i}"));
                sim.set_body(id, [x, -300.0], &[rect(x - 60.0, -300.0, x + 60.0, 80.0)])
                    .expect("known participant");
                id
            })
            .collect();
        for _ in 0..3 {
            sim.step();
        }
        assert_eq!(sim.phase(), GamePhase::Play);
        sim.arena_mut().clear_objects();
        sim.drain_events();
        (sim, ids)
    }

    fn run_until_results(sim: &mut GameSim, max_seconds: f32) -> Vec<StampedEvent> {
        let mut events = Vec::new();
        let max = (max_seconds / TICK_SECONDS) as u64;
        for _ in 0..max {
            sim.step();
            events.extend(sim.drain_events());
            if sim.phase() == GamePhase::Results {
                break;
            }
        }
        events
    }

    #[test]
    fn every_game_reaches_results_with_idle_participants() {
        for kind in GameKind::ALL {
            let mut sim = sim_with_idle_people(kind, 3, 7);
            let events = run_until_results(&mut sim, 20.0);
            assert_eq!(sim.phase(), GamePhase::Results, "{kind} did not end");
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e.event, GameEvent::RoundEnded { .. })),
                "{kind}: {events:?}"
            );
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e.event, GameEvent::RoundStarted { .. }))
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_game() {
        for kind in [
            GameKind::MeteorDodge,
            GameKind::StarCatch,
            GameKind::Volleyball,
        ] {
            let run = |seed: u64| {
                let mut sim = sim_with_idle_people(kind, 3, seed);
                let mut events = Vec::new();
                for _ in 0..600 {
                    sim.step();
                    events.extend(sim.drain_events());
                }
                let snap = serde_json::to_string(&sim.snapshot()).expect("serialises");
                (events, snap, sim.body_contacts())
            };
            let a = run(11);
            let b = run(11);
            assert_eq!(a.0, b.0, "{kind}");
            assert_eq!(a.1, b.1, "{kind}");
            assert_eq!(a.2, b.2, "{kind}");
        }
    }

    #[test]
    fn phases_run_lobby_countdown_play_results_and_restart() {
        let mut sim = GameSim::new(
            GameKind::StarCatch,
            GameConfig {
                play_seconds: Some(1.0),
                results_seconds: 0.5,
                ..GameConfig::default()
            },
        );
        assert_eq!(sim.phase(), GamePhase::Lobby);
        let mut seen = vec![sim.phase()];
        for _ in 0..(6.0 / TICK_SECONDS) as u32 {
            sim.step();
            if seen.last() != Some(&sim.phase()) {
                seen.push(sim.phase());
            }
        }
        assert_eq!(
            &seen[..5],
            &[
                GamePhase::Lobby,
                GamePhase::Countdown,
                GamePhase::Play,
                GamePhase::Results,
                GamePhase::Countdown
            ]
        );
        assert!(sim.round() >= 2);
    }

    #[test]
    fn a_snapshot_round_trips_through_json() {
        let mut sim = sim_with_idle_people(GameKind::BalloonKeepup, 2, 3);
        for _ in 0..200 {
            sim.step();
        }
        let snap = sim.snapshot();
        assert!(snap.objects.iter().any(|o| o.kind == ObjectKind::Balloon));
        let json = serde_json::to_string(&snap).expect("serialises");
        let back: GameSnapshot = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, snap);
    }

    #[test]
    fn advance_runs_whole_ticks_and_caps_a_stalled_frame() {
        let mut sim = GameSim::new(GameKind::StarCatch, GameConfig::default());
        assert_eq!(sim.advance(0.1), 6);
        assert_eq!(sim.advance(TICK_SECONDS * 0.5), 0);
        assert_eq!(sim.advance(TICK_SECONDS * 0.6), 1);
        assert_eq!(sim.advance(5.0), MAX_TICKS_PER_ADVANCE);
        assert_eq!(sim.advance(0.0), 1, "at most one tick of backlog is kept");
    }

    #[test]
    fn name_labels_sit_above_the_heads() {
        let (sim, _) = sim_in_play(GameKind::StarCatch, &[-300.0, 300.0]);
        let scores = sim.scores();
        let label = scores[1].label_at.expect("has a body");
        assert!(
            (label[0] - 300.0).abs() < 1.0 && label[1] > 80.0,
            "{label:?}"
        );
    }

    #[test]
    fn unknown_participants_are_errors() {
        let mut sim = GameSim::new(GameKind::PhotoBooth, GameConfig::default());
        let ghost = ParticipantId(99);
        assert_eq!(
            sim.set_body(ghost, [0.0, 0.0], &[]),
            Err(GameError::UnknownParticipant(ghost))
        );
        assert!(sim.remove_participant(ghost).is_err());
    }

    #[test]
    fn garbage_outlines_are_dropped_not_trusted() {
        let mut sim = GameSim::new(GameKind::StarCatch, GameConfig::default());
        let id = sim.add_participant("x");
        assert_eq!(
            sim.set_body(id, [f32::NAN, 0.0], &[]),
            Err(GameError::InvalidBody)
        );
        let pieces = vec![
            vec![[0.0, 0.0], [f32::NAN, 1.0], [1.0, 1.0]],
            vec![[0.0, 0.0], [1.0, 0.0]],
            vec![[0.0, 0.0], [1e9, 0.0], [0.0, 1.0]],
            vec![[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
            rect(-10.0, -300.0, 10.0, -100.0),
        ];
        assert_eq!(sim.set_body(id, [0.0, -300.0], &pieces), Ok(()));
        for _ in 0..10 {
            sim.step();
        }
        let label = sim.scores()[0].label_at.expect("the sane piece remains");
        assert!((label[1] - (-100.0 + 24.0)).abs() < 1.0, "{label:?}");
    }
}
