//! Volleyball: a net at x = 0 splits the court; everyone plays for the side
//! their body stands on. When the ball touches the floor the *other* side scores
//! (each of its players gets a point). First side to five, or the most points at
//! time-up, wins. The ball is served above the side that conceded.

use super::physics::{ObjectSpec, StepContacts};
use super::rules::{Ctx, GameRules, RoundOutcome};
use super::{GameEvent, GameKind, ObjectId, ObjectKind, ParticipantId, Side, TeamScore};

/// Points that win a round.
const WINNING_POINTS: u32 = 5;
/// Height of the net's top above the floor.
const NET_HEIGHT: f32 = 230.0;
const RADIUS: f32 = 40.0;
/// Pause before a serve, in seconds.
const SERVE_PAUSE: f32 = 0.8;
/// A ball slower than this for `STUCK_SECONDS` is served again.
const STUCK_SPEED: f32 = 25.0;
const STUCK_SECONDS: f32 = 2.0;

/// Rules and round state of volleyball.
#[derive(Default)]
pub(crate) struct Volleyball {
    points: [u32; 2],
    ball: Option<ObjectId>,
    serve_at: Option<(f32, Side)>,
    slow_since: Option<f32>,
}

fn index(side: Side) -> usize {
    match side {
        Side::Left => 0,
        Side::Right => 1,
    }
}

impl Volleyball {
    fn serve(&mut self, ctx: &mut Ctx<'_>, side: Side) {
        let x = side.sign() * ctx.uniform(220.0, 380.0);
        let vx = -side.sign() * ctx.uniform(20.0, 70.0);
        let id = ctx.arena.spawn(&ObjectSpec {
            gravity_scale: 0.45,
            restitution: 0.8,
            linear_damping: 0.05,
            ..ObjectSpec::ball(ObjectKind::Ball, RADIUS, [x, 230.0], [vx, 60.0])
        });
        self.ball = Some(id);
        self.slow_since = None;
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
        self.ball = None;
        self.serve_at = None;
        self.slow_since = None;
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
        let Some(ball) = self.ball else {
            return None;
        };
        let Some(state) = ctx.arena.object_state(ball) else {
            // Escaped the court: serve again on the same half.
            self.ball = None;
            self.serve_at = Some((ctx.elapsed + SERVE_PAUSE, Side::Left));
            return None;
        };
        if contacts.floor.contains(&ball) {
            let landed = Side::of_x(state.position[0]);
            ctx.emit(GameEvent::BallLanded {
                side: landed,
                x: state.position[0],
            });
            let scorer = landed.other();
            self.points[index(scorer)] += 1;
            for id in Self::side_members(ctx, scorer) {
                ctx.score(id, 1);
            }
            ctx.arena.despawn(ball);
            self.ball = None;
            if self.points[index(scorer)] >= WINNING_POINTS {
                return Some(self.outcome(ctx, "Match point"));
            }
            self.serve_at = Some((ctx.elapsed + SERVE_PAUSE, landed));
            return None;
        }
        let speed = (state.velocity[0].powi(2) + state.velocity[1].powi(2)).sqrt();
        if speed < STUCK_SPEED {
            let since = *self.slow_since.get_or_insert(ctx.elapsed);
            if ctx.elapsed - since > STUCK_SECONDS {
                ctx.arena.despawn(ball);
                self.ball = None;
                self.serve_at = Some((ctx.elapsed + SERVE_PAUSE, Side::of_x(state.position[0])));
            }
        } else {
            self.slow_since = None;
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
