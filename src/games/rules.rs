//! Shared scoring and the contract each game's rules implement (pure).

use std::collections::BTreeMap;

use rand::rngs::SmallRng;

use super::physics::{Arena, StepContacts};
use super::{
    GameEvent, GameKind, ParticipantId, ScoreLine, Side, StampedEvent, TICK_SECONDS, TeamScore,
};

/// One participant's standing, kept across rounds.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub total: i64,
    pub round: i64,
    pub lives: Option<u32>,
    pub invulnerable_until: u64,
    pub side: Option<Side>,
}

impl Entry {
    pub fn eliminated(&self) -> bool {
        self.lives == Some(0)
    }
}

/// Scores, lives and names of every participant, ordered by id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scoreboard {
    pub entries: BTreeMap<ParticipantId, Entry>,
}

impl Scoreboard {
    pub fn ids(&self) -> Vec<ParticipantId> {
        self.entries.keys().copied().collect()
    }

    pub fn name(&self, id: ParticipantId) -> String {
        self.entries
            .get(&id)
            .map(|e| e.name.clone())
            .unwrap_or_default()
    }

    /// Clears round scores, lives and sides for a new round.
    pub fn reset_round(&mut self) {
        for e in self.entries.values_mut() {
            e.round = 0;
            e.lives = None;
            e.invulnerable_until = 0;
            e.side = None;
        }
    }

    pub fn lines(&self, tick: u64) -> Vec<ScoreLine> {
        self.entries
            .iter()
            .map(|(&id, e)| ScoreLine {
                id,
                name: e.name.clone(),
                total: e.total,
                round: e.round,
                lives: e.lives,
                eliminated: e.eliminated(),
                invulnerable: e.invulnerable_until > tick,
                side: e.side,
                label_at: None,
            })
            .collect()
    }
}

/// How a round ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RoundOutcome {
    pub winners: Vec<ParticipantId>,
    pub summary: String,
}

impl RoundOutcome {
    /// A round that has no winners to announce (the photo booth).
    pub fn without_winners(summary: impl Into<String>) -> Self {
        Self {
            winners: Vec::new(),
            summary: summary.into(),
        }
    }
}

/// What the rules may touch while the simulation runs.
pub(crate) struct Ctx<'a> {
    pub arena: &'a mut Arena,
    pub board: &'a mut Scoreboard,
    pub rng: &'a mut SmallRng,
    pub events: &'a mut Vec<StampedEvent>,
    pub tick: u64,
    pub round: u32,
    /// Seconds since the current phase began.
    pub elapsed: f32,
    /// Length of the play phase.
    pub play_seconds: f32,
}

impl Ctx<'_> {
    pub fn emit(&mut self, event: GameEvent) {
        self.events.push(StampedEvent {
            tick: self.tick,
            time: self.tick as f32 * TICK_SECONDS,
            event,
        });
    }

    /// Adds `points` to `id`'s round and total scores and emits `Scored`.
    pub fn score(&mut self, id: ParticipantId, points: i64) {
        let Some(e) = self.board.entries.get_mut(&id) else {
            return;
        };
        e.round += points;
        e.total += points;
        let (name, total) = (e.name.clone(), e.total);
        self.emit(GameEvent::Scored {
            participant: id,
            name,
            points,
            total,
        });
    }

    /// Uniform sample in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        use rand::Rng;
        if hi <= lo {
            return lo;
        }
        self.rng.random_range(lo..hi)
    }

    /// Participants' body centres (those with a body), ordered by id.
    pub fn centres(&self) -> Vec<(ParticipantId, [f32; 2])> {
        self.board
            .entries
            .keys()
            .filter_map(|&id| self.arena.body_centre(id).map(|c| (id, c)))
            .collect()
    }
}

/// The rules of one game. The simulation owns phases and time; the rules react.
pub(crate) trait GameRules: Send + Sync {
    fn kind(&self) -> GameKind;

    /// Default play length in seconds.
    fn play_seconds(&self) -> f32 {
        14.0
    }

    /// Default countdown length in seconds.
    fn countdown_seconds(&self) -> f32 {
        2.0
    }

    /// A round's countdown begins: objects are cleared, round scores reset.
    fn start_countdown(&mut self, ctx: &mut Ctx<'_>);

    /// Every tick of the countdown, after physics.
    fn countdown_tick(&mut self, _ctx: &mut Ctx<'_>, _contacts: &StepContacts) {}

    /// Play begins.
    fn start_play(&mut self, ctx: &mut Ctx<'_>);

    /// Every tick of play, after physics; `Some` ends the round early.
    fn play_tick(&mut self, ctx: &mut Ctx<'_>, contacts: &StepContacts) -> Option<RoundOutcome>;

    /// Play time ran out.
    fn time_up(&mut self, ctx: &mut Ctx<'_>) -> RoundOutcome;

    /// The HUD line during play.
    fn play_banner(&self, time_left: f32) -> String;

    /// Whether the results line names winners ("Ana wins").
    fn announces_winners(&self) -> bool {
        true
    }

    /// Team scores, if the game has teams.
    fn teams(&self) -> Vec<TeamScore> {
        Vec::new()
    }
}

/// Participants with the highest round score, if it is positive.
pub(crate) fn top_scorers(board: &Scoreboard) -> Vec<ParticipantId> {
    let best = board.entries.values().map(|e| e.round).max().unwrap_or(0);
    if best <= 0 {
        return Vec::new();
    }
    board
        .entries
        .iter()
        .filter(|(_, e)| e.round == best)
        .map(|(&id, _)| id)
        .collect()
}

/// "Alice wins", "Alice and Bob win", "Nobody wins".
pub(crate) fn winners_line(names: &[String]) -> String {
    match names {
        [] => "Nobody wins".to_owned(),
        [one] => format!("{one} wins"),
        [init @ .., last] => format!("{} and {last} win", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winners_line_reads_naturally() {
        assert_eq!(winners_line(&[]), "Nobody wins");
        assert_eq!(winners_line(&["Ana".into()]), "Ana wins");
        assert_eq!(
            winners_line(&["Ana".into(), "Bo".into(), "Cy".into()]),
            "Ana, Bo and Cy win"
        );
    }

    #[test]
    fn top_scorers_are_empty_when_nobody_scored() {
        let mut b = Scoreboard::default();
        for (i, r) in [0i64, 0].into_iter().enumerate() {
            b.entries.insert(
                ParticipantId(i as u32),
                Entry {
                    name: format!("p{i}"),
                    total: r,
                    round: r,
                    lives: None,
                    invulnerable_until: 0,
                    side: None,
                },
            );
        }
        assert!(top_scorers(&b).is_empty());
        if let Some(e) = b.entries.get_mut(&ParticipantId(1)) {
            e.round = 2;
        }
        assert_eq!(top_scorers(&b), vec![ParticipantId(1)]);
    }
}
