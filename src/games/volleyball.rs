//! Volleyball: a net at x = 0 splits the court; everyone plays for the side
//! their body stands on. When the ball touches the floor the *other* side scores
//! (each of its players gets a point); a side touching the ball more than three
//! times in a row also concedes. First side to five, or the most points at
//! time-up, wins. The ball is served above one of the players of the side that
//! conceded.

use std::collections::BTreeMap;

use super::physics::{ObjectSpec, StepContacts};
use super::rules::{Ctx, GameRules, RoundOutcome};
use super::{GameEvent, GameKind, ObjectKind, ParticipantId, Side, TeamScore};

/// Points that win a round.
const WINNING_POINTS: u32 = 5;
/// Touches a side may make before the ball must cross.
const MAX_TOUCHES: u32 = 3;
/// Height of the net's top above the floor.
pub(crate) const NET_HEIGHT: f32 = 230.0;
const RADIUS: f32 = 40.0;
/// How near the net, and how far from it, a serve may start.
const SERVE_FROM_NET: f32 = 120.0;
const SERVE_FROM_NET_MAX: f32 = 560.0;
/// Pause before a serve, in seconds.
const SERVE_PAUSE: f32 = 0.8;
/// A ball slower than this for `STUCK_SECONDS` is served again.
const STUCK_SPEED: f32 = 25.0;
const STUCK_SECONDS: f32 = 2.0;
/// The same person touching again within this many ticks is one touch.
const TOUCH_GAP_TICKS: u64 = 12;

/// Rules and round state of volleyball.
#[derive(Default)]
pub(crate) struct Volleyball {
    points: [u32; 2],
    serve_at: Option<(f32, Side)>,
    slow_since: Option<f32>,
    /// Side that touched last and how many times in a row.
    touches: Option<(Side, u32)>,
    last_touch: BTreeMap<ParticipantId, u64>,
}

fn index(side: Side) -> usize {
    match side {
        Side::Left => 0,
        Side::Right => 1,
    }
}

impl Volleyball {
    fn serve(&mut self, ctx: &mut Ctx<'_>, side: Side) {
        // Above one of that side's players, picked by chance, a little to their
        // back (the ball drifts towards the net): every point starts with a ball
        // someone can play, also one who stands still. Nobody there: anywhere on
        // that side.
        let players: Vec<f32> = Self::side_members(ctx, side)
            .into_iter()
            .filter_map(|id| ctx.arena.body_centre(id).map(|c| c[0]))
            .collect();
        let x = if players.is_empty() {
            side.sign() * ctx.uniform(220.0, 380.0)
        } else {
            let pick = (ctx.uniform(0.0, players.len() as f32) as usize).min(players.len() - 1);
            let from_net = players[pick] * side.sign() + ctx.uniform(0.0, 70.0);
            side.sign() * from_net.clamp(SERVE_FROM_NET, SERVE_FROM_NET_MAX)
        };
        let vx = -side.sign() * ctx.uniform(20.0, 70.0);
        ctx.arena.spawn(&ObjectSpec {
            gravity_scale: 0.45,
            restitution: 0.8,
            linear_damping: 0.05,
            max_speed: 1400.0,
            ..ObjectSpec::ball(ObjectKind::Ball, RADIUS, [x, 230.0], [vx, 60.0])
        });
        self.slow_since = None;
        self.touches = None;
    }

    fn assign_sides(ctx: &mut Ctx<'_>) {
        let ids = ctx.board.ids();
        for id in ids {
            let side = ctx.arena.body_centre(id).map(|c| Side::of_x(c[0]));
            if let Some(e) = ctx.board.entries.get_mut(&id) {
                e.side = side;
            }
        }
    }

    fn side_members(ctx: &Ctx<'_>, side: Side) -> Vec<ParticipantId> {
        ctx.board
            .entries
            .iter()
            .filter(|(_, e)| e.side == Some(side))
            .map(|(&id, _)| id)
            .collect()
    }

    /// `loser` concedes a point; returns the outcome when it decides the round.
    fn concede(&mut self, ctx: &mut Ctx<'_>, loser: Side) -> Option<RoundOutcome> {
        for id in ctx.arena.ids_of(ObjectKind::Ball) {
            ctx.arena.despawn(id);
        }
        let scorer = loser.other();
        self.points[index(scorer)] += 1;
        for id in Self::side_members(ctx, scorer) {
            ctx.score(id, 1);
        }
        if self.points[index(scorer)] >= WINNING_POINTS {
            return Some(self.outcome(ctx, "Match point"));
        }
        self.serve_at = Some((ctx.elapsed + SERVE_PAUSE, loser));
        None
    }

    fn outcome(&self, ctx: &Ctx<'_>, summary_prefix: &str) -> RoundOutcome {
        let [l, r] = self.points;
        let winners = match l.cmp(&r) {
            std::cmp::Ordering::Greater => Self::side_members(ctx, Side::Left),
            std::cmp::Ordering::Less => Self::side_members(ctx, Side::Right),
            std::cmp::Ordering::Equal => Vec::new(),
        };
        RoundOutcome {
            winners,
            summary: format!("{summary_prefix}: left {l}, right {r}"),
        }
    }
}

impl GameRules for Volleyball {
    fn kind(&self) -> GameKind {
        GameKind::Volleyball
    }

    fn start_countdown(&mut self, ctx: &mut Ctx<'_>) {
        self.points = [0, 0];
        self.serve_at = None;
        self.slow_since = None;
        self.touches = None;
        self.last_touch.clear();
        let top = ctx.arena.floor_y() + NET_HEIGHT;
        ctx.arena.set_net(Some(top));
        Self::assign_sides(ctx);
    }

    fn start_play(&mut self, ctx: &mut Ctx<'_>) {
        let side = if ctx.uniform(0.0, 1.0) < 0.5 {
            Side::Left
        } else {
            Side::Right
        };
        self.serve(ctx, side);
    }

    fn play_tick(&mut self, ctx: &mut Ctx<'_>, contacts: &StepContacts) -> Option<RoundOutcome> {
        Self::assign_sides(ctx);
        if let Some((at, side)) = self.serve_at
            && ctx.elapsed >= at
        {
            self.serve_at = None;
            self.serve(ctx, side);
        }

        // Touches: more than three in a row by one side is a fault.
        for &(pid, oid) in &contacts.body_starts {
            if ctx.arena.kind(oid) != Some(ObjectKind::Ball) {
                continue;
            }
            let last = self.last_touch.insert(pid, ctx.tick);
            if last.is_some_and(|t| ctx.tick.saturating_sub(t) <= TOUCH_GAP_TICKS) {
                continue;
            }
            let Some(side) = ctx.board.entries.get(&pid).and_then(|e| e.side) else {
                continue;
            };
            let count = match self.touches {
                Some((s, n)) if s == side => n + 1,
                _ => 1,
            };
            self.touches = Some((side, count));
            if count > MAX_TOUCHES {
                ctx.emit(GameEvent::Fault {
                    side,
                    touches: count,
                });
                return self.concede(ctx, side);
            }
        }

        let landed = contacts
            .floor
            .iter()
            .find(|&&oid| ctx.arena.kind(oid) == Some(ObjectKind::Ball))
            .and_then(|&oid| ctx.arena.object_state(oid));
        if let Some(state) = landed {
            let side = Side::of_x(state.position[0]);
            ctx.emit(GameEvent::BallLanded {
                side,
                x: state.position[0],
            });
            return self.concede(ctx, side);
        }

        let balls = ctx.arena.ids_of(ObjectKind::Ball);
        if balls.is_empty() {
            // Escaped the court (or never served): serve again.
            if self.serve_at.is_none() {
                self.serve_at = Some((ctx.elapsed + SERVE_PAUSE, Side::Left));
            }
            return None;
        }
        if let Some(state) = balls.first().and_then(|&b| ctx.arena.object_state(b)) {
            let speed = (state.velocity[0].powi(2) + state.velocity[1].powi(2)).sqrt();
            if speed < STUCK_SPEED {
                let since = *self.slow_since.get_or_insert(ctx.elapsed);
                if ctx.elapsed - since > STUCK_SECONDS {
                    ctx.arena.despawn(state.id);
                    self.serve_at =
                        Some((ctx.elapsed + SERVE_PAUSE, Side::of_x(state.position[0])));
                }
            } else {
                self.slow_since = None;
            }
        }
        None
    }

    fn time_up(&mut self, ctx: &mut Ctx<'_>) -> RoundOutcome {
        self.outcome(ctx, "Time")
    }

    fn play_banner(&self, time_left: f32) -> String {
        format!(
            "Left {} : {} Right   {:.0} s",
            self.points[0],
            self.points[1],
            time_left.ceil()
        )
    }

    fn teams(&self) -> Vec<TeamScore> {
        vec![
            TeamScore {
                name: "Left".to_owned(),
                points: i64::from(self.points[0]),
            },
            TeamScore {
                name: "Right".to_owned(),
                points: i64::from(self.points[1]),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::sim::tests::sim_in_play;

    #[test]
    fn a_ball_landing_on_the_left_scores_for_the_right() {
        let (mut sim, ids) = sim_in_play(GameKind::Volleyball, &[-300.0, 300.0]);
        sim.arena_mut().spawn(&ObjectSpec::ball(
            ObjectKind::Ball,
            RADIUS,
            [-520.0, -150.0],
            [0.0, -300.0],
        ));
        let mut events = Vec::new();
        for _ in 0..60 {
            sim.step();
            events.extend(sim.drain_events());
        }
        assert!(events.iter().any(|e| matches!(
            e.event,
            GameEvent::BallLanded {
                side: Side::Left,
                ..
            }
        )));
        let scores = sim.scores();
        assert_eq!(scores[0].side, Some(Side::Left));
        assert_eq!((scores[0].round, scores[1].round), (0, 1));
        assert!(events.iter().any(|e| matches!(
            e.event,
            GameEvent::Scored { participant, .. } if participant == ids[1]
        )));
        assert_eq!(sim.snapshot().teams[1].points, 1);
        assert!(sim.snapshot().net.is_some());
    }
}
