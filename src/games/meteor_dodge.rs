//! Meteor dodge: meteors rain down aimed at people. Each person has three lives;
//! a hit costs one and gives a short invulnerability. The last one standing wins
//! (alone: survive the clock); at time-up the survivors with the most lives win
//! and everyone alive scores a point per life left.

use super::physics::{ObjectSpec, StepContacts};
use super::rules::{Ctx, GameRules, RoundOutcome};
use super::{GameEvent, GameKind, ObjectKind, ParticipantId, TICK_SECONDS};

/// Lives at the start of a round.
pub(crate) const LIVES: u32 = 3;
/// Invulnerability after a hit, in seconds.
pub(crate) const INVULNERABLE_SECONDS: f32 = 1.5;
/// Just above the visible scene (its top is y = 360), below the ceiling.
const SPAWN_Y: f32 = 410.0;
const GRAVITY_SCALE: f32 = 0.4;
/// Seconds between meteors at the start and at the end of play.
const INTERVAL_START: f32 = 1.0;
const INTERVAL_END: f32 = 0.4;

/// Rules and round state of meteor dodge.
#[derive(Default)]
pub(crate) struct MeteorDodge {
    next_spawn: f32,
    gravity: f32,
}

impl MeteorDodge {
    fn spawn_meteor(&mut self, ctx: &mut Ctx<'_>) {
        let alive: Vec<[f32; 2]> = ctx
            .centres()
            .into_iter()
            .filter(|(id, _)| ctx.board.entries.get(id).is_some_and(|e| !e.eliminated()))
            .map(|(_, c)| c)
            .collect();
        let target_x = if alive.is_empty() {
            ctx.uniform(-500.0, 500.0)
        } else {
            let k = (ctx.uniform(0.0, alive.len() as f32) as usize).min(alive.len() - 1);
            alive[k][0] + ctx.uniform(-130.0, 130.0)
        };
        let target_y = ctx.arena.floor_y() + ctx.uniform(150.0, 330.0);
        let x0 = (target_x + ctx.uniform(-260.0, 260.0)).clamp(-600.0, 600.0);
        let flight = ctx.uniform(0.8, 1.15);
        let g = self.gravity * GRAVITY_SCALE;
        let vx = (target_x - x0) / flight;
        let vy = (target_y - SPAWN_Y - 0.5 * g * flight * flight) / flight;
        let radius = ctx.uniform(28.0, 42.0);
        ctx.arena.spawn(&ObjectSpec {
            gravity_scale: GRAVITY_SCALE,
            restitution: 0.3,
            ..ObjectSpec::ball(ObjectKind::Meteor, radius, [x0, SPAWN_Y], [vx, vy])
        });
    }

    fn alive(ctx: &Ctx<'_>) -> Vec<ParticipantId> {
        ctx.board
            .entries
            .iter()
            .filter(|(_, e)| !e.eliminated())
            .map(|(&id, _)| id)
            .collect()
    }

    fn award_survivors(ctx: &mut Ctx<'_>, alive: &[ParticipantId]) {
        for &id in alive {
            let lives = ctx
                .board
                .entries
                .get(&id)
                .and_then(|e| e.lives)
                .unwrap_or(0);
            if lives > 0 {
                ctx.score(id, i64::from(lives));
            }
        }
    }
}

impl GameRules for MeteorDodge {
    fn kind(&self) -> GameKind {
        GameKind::MeteorDodge
    }

    fn start_countdown(&mut self, ctx: &mut Ctx<'_>) {
        for e in ctx.board.entries.values_mut() {
            e.lives = Some(LIVES);
        }
    }

    fn start_play(&mut self, ctx: &mut Ctx<'_>) {
        self.next_spawn = 0.2;
        self.gravity = ctx.arena.gravity();
    }

    fn play_tick(&mut self, ctx: &mut Ctx<'_>, contacts: &StepContacts) -> Option<RoundOutcome> {
        // Late joiners play with full lives.
        for e in ctx.board.entries.values_mut() {
            e.lives.get_or_insert(LIVES);
        }
        for &(pid, oid) in &contacts.body_starts {
            if ctx.arena.kind(oid) != Some(ObjectKind::Meteor) {
                continue;
            }
            ctx.arena.despawn(oid);
            let tick = ctx.tick;
            let Some(e) = ctx.board.entries.get_mut(&pid) else {
                continue;
            };
            if e.eliminated() || e.invulnerable_until > tick {
                continue;
            }
            let lives = e.lives.unwrap_or(LIVES).saturating_sub(1);
            e.lives = Some(lives);
            e.invulnerable_until = tick + (INVULNERABLE_SECONDS / TICK_SECONDS) as u64;
            let name = e.name.clone();
            ctx.emit(GameEvent::LifeLost {
                participant: pid,
                name: name.clone(),
                lives_left: lives,
            });
            if lives == 0 {
                ctx.emit(GameEvent::Eliminated {
                    participant: pid,
                    name,
                });
            }
        }
        for &oid in &contacts.floor {
            if ctx.arena.kind(oid) == Some(ObjectKind::Meteor) {
                ctx.arena.despawn(oid);
            }
        }

        let total = ctx.board.entries.len();
        let alive = Self::alive(ctx);
        if total >= 2 && alive.len() <= 1 {
            Self::award_survivors(ctx, &alive);
            let summary = if alive.is_empty() {
                "Everyone got hit".to_owned()
            } else {
                "Last one standing".to_owned()
            };
            return Some(RoundOutcome {
                winners: alive,
                summary,
            });
        }
        if total == 1 && alive.is_empty() {
            return Some(RoundOutcome {
                winners: Vec::new(),
                summary: format!("Out of lives after {:.1} s", ctx.elapsed),
            });
        }

        if ctx.elapsed >= self.next_spawn {
            let progress = (ctx.elapsed / ctx.play_seconds.max(1.0)).clamp(0.0, 1.0);
            self.next_spawn += INTERVAL_START + (INTERVAL_END - INTERVAL_START) * progress;
            self.spawn_meteor(ctx);
        }
        None
    }

    fn time_up(&mut self, ctx: &mut Ctx<'_>) -> RoundOutcome {
        let alive = Self::alive(ctx);
        let best = alive
            .iter()
            .filter_map(|id| ctx.board.entries.get(id).and_then(|e| e.lives))
            .max()
            .unwrap_or(0);
        let winners: Vec<ParticipantId> = alive
            .iter()
            .copied()
            .filter(|id| ctx.board.entries.get(id).and_then(|e| e.lives) == Some(best))
            .collect();
        Self::award_survivors(ctx, &alive);
        RoundOutcome {
            winners,
            summary: format!("{} survived the meteor shower", alive.len()),
        }
    }

    fn play_banner(&self, time_left: f32) -> String {
        format!("Dodge the meteors! {:.0} s", time_left.ceil())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::sim::tests::sim_in_play;

    fn drop_meteor_on(sim: &mut crate::games::GameSim, x: f32) {
        sim.arena_mut().spawn(&ObjectSpec {
            gravity_scale: 0.0,
            ..ObjectSpec::ball(ObjectKind::Meteor, 35.0, [x, 200.0], [0.0, -700.0])
        });
    }

    #[test]
    fn a_meteor_hit_costs_a_life_then_gives_a_moment_of_invulnerability() {
        let (mut sim, ids) = sim_in_play(GameKind::MeteorDodge, &[-300.0, 300.0]);
        drop_meteor_on(&mut sim, -300.0);
        let mut events = Vec::new();
        for _ in 0..25 {
            sim.step();
            events.extend(sim.drain_events());
        }
        let scores = sim.scores();
        assert_eq!(scores[0].lives, Some(LIVES - 1));
        assert!(scores[0].invulnerable);
        assert_eq!(scores[1].lives, Some(LIVES));
        assert!(events.iter().any(|e| matches!(
            e.event,
            GameEvent::LifeLost { participant, lives_left, .. } if participant == ids[0] && lives_left == LIVES - 1
        )));
        // A second hit right away is forgiven.
        drop_meteor_on(&mut sim, -300.0);
        for _ in 0..25 {
            sim.step();
        }
        assert_eq!(sim.scores()[0].lives, Some(LIVES - 1));
    }

    #[test]
    fn the_last_one_standing_wins() {
        let (mut sim, ids) = sim_in_play(GameKind::MeteorDodge, &[-300.0, 300.0]);
        let mut events = Vec::new();
        for _ in 0..LIVES {
            drop_meteor_on(&mut sim, -300.0);
            for _ in 0..((INVULNERABLE_SECONDS / TICK_SECONDS) as u32 + 10) {
                sim.step();
                events.extend(sim.drain_events());
                if sim.phase() != crate::games::GamePhase::Play {
                    break;
                }
            }
        }
        assert!(events.iter().any(|e| matches!(
            e.event,
            GameEvent::Eliminated { participant, .. } if participant == ids[0]
        )));
        assert_eq!(sim.phase(), crate::games::GamePhase::Results);
        let ended = events.iter().find_map(|e| match &e.event {
            GameEvent::RoundEnded { winners, .. } => Some(winners.clone()),
            _ => None,
        });
        assert_eq!(ended, Some(vec!["p1".to_owned()]));
    }
}
