//! Star catch: stars drift down; touching one collects it for the toucher
//! (gold stars count triple). Highest score when the clock runs out wins.

use super::physics::{ObjectSpec, StepContacts};
use super::rules::{Ctx, GameRules, RoundOutcome, top_scorers};
use super::{GameKind, ObjectKind};

/// Stars kept on screen.
const STARS_ON_SCREEN: usize = 5;
/// Seconds between refills.
const SPAWN_EVERY: f32 = 0.45;
const GOLD_CHANCE: f32 = 0.12;

/// Rules and round state of star catch.
#[derive(Default)]
pub(crate) struct StarCatch {
    next_spawn: f32,
}

fn star_count(ctx: &Ctx<'_>) -> usize {
    ctx.arena.ids_of(ObjectKind::Star).len() + ctx.arena.ids_of(ObjectKind::GoldStar).len()
}

fn spawn_star(ctx: &mut Ctx<'_>, y: f32) {
    let gold = ctx.uniform(0.0, 1.0) < GOLD_CHANCE;
    let (kind, radius) = if gold {
        (ObjectKind::GoldStar, 38.0)
    } else {
        (ObjectKind::Star, 32.0)
    };
    let x = ctx.uniform(-560.0, 560.0);
    let vx = ctx.uniform(-50.0, 50.0);
    ctx.arena.spawn(&ObjectSpec {
        gravity_scale: 0.12,
        sensor: true,
        ..ObjectSpec::ball(kind, radius, [x, y], [vx, -30.0])
    });
}

impl GameRules for StarCatch {
    fn kind(&self) -> GameKind {
        GameKind::StarCatch
    }

    fn start_countdown(&mut self, _ctx: &mut Ctx<'_>) {
        self.next_spawn = 0.0;
    }

    fn start_play(&mut self, ctx: &mut Ctx<'_>) {
        for _ in 0..STARS_ON_SCREEN - 1 {
            let y = ctx.uniform(60.0, 330.0);
            spawn_star(ctx, y);
        }
        self.next_spawn = SPAWN_EVERY;
    }

    fn play_tick(&mut self, ctx: &mut Ctx<'_>, contacts: &StepContacts) -> Option<RoundOutcome> {
        for &(pid, oid) in &contacts.body_starts {
            // The first toucher (lowest id on a tie) takes it; then it is gone.
            let points = match ctx.arena.kind(oid) {
                Some(ObjectKind::Star) => 1,
                Some(ObjectKind::GoldStar) => 3,
                _ => continue,
            };
            ctx.arena.despawn(oid);
            ctx.score(pid, points);
        }
        let floor_y = ctx.arena.floor_y();
        for kind in [ObjectKind::Star, ObjectKind::GoldStar] {
            for oid in ctx.arena.ids_of(kind) {
                let low = ctx.arena.object_state(oid).is_none_or(|s| {
                    s.position[1] < floor_y + s.radius * 0.5 || s.position[0].abs() > 700.0
                });
                if low || contacts.floor.contains(&oid) {
                    ctx.arena.despawn(oid);
                }
            }
        }
        if ctx.elapsed >= self.next_spawn {
            self.next_spawn += SPAWN_EVERY;
            if star_count(ctx) < STARS_ON_SCREEN {
                spawn_star(ctx, 340.0);
            }
        }
        None
    }

    fn time_up(&mut self, ctx: &mut Ctx<'_>) -> RoundOutcome {
        let winners = top_scorers(ctx.board);
        let best = ctx
            .board
            .entries
            .values()
            .map(|e| e.round)
            .max()
            .unwrap_or(0);
        let summary = if winners.is_empty() {
            "No stars caught".to_owned()
        } else {
            format!("Most stars: {best}")
        };
        RoundOutcome { winners, summary }
    }

    fn play_banner(&self, time_left: f32) -> String {
        format!("Catch the stars! {:.0} s", time_left.ceil())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::GameEvent;
    use crate::games::sim::tests::sim_in_play;

    #[test]
    fn a_touched_star_scores_for_the_person_touching_it() {
        let (mut sim, ids) = sim_in_play(GameKind::StarCatch, &[-300.0, 300.0]);
        // A star drifting into the right-hand person's chest.
        sim.arena_mut().spawn(&ObjectSpec {
            gravity_scale: 0.0,
            sensor: true,
            ..ObjectSpec::ball(ObjectKind::Star, 32.0, [200.0, 0.0], [300.0, 0.0])
        });
        let mut events = Vec::new();
        for _ in 0..30 {
            sim.step();
            events.extend(sim.drain_events());
        }
        let scores = sim.scores();
        assert_eq!(scores[0].round, 0, "left person did not touch it");
        assert_eq!(scores[1].round, 1, "right person caught it");
        assert!(events.iter().any(|e| matches!(
            e.event,
            GameEvent::Scored { participant, points: 1, .. } if participant == ids[1]
        )));
        assert!(sim.body_contacts() >= 1);
    }
}
