//! Balloon keep-up (team): keep every balloon off the floor. A balloon touching
//! the floor ends the round; surviving the whole play time wins it for everyone.
//! Each touch of a balloon scores a point for the toucher; every few seconds
//! another balloon joins.

use std::collections::BTreeMap;

use super::physics::{ObjectSpec, StepContacts};
use super::rules::{Ctx, GameRules, RoundOutcome};
use super::{GameEvent, GameKind, ObjectId, ObjectKind, ParticipantId, TeamScore};

const RADIUS: f32 = 48.0;
const SPAWN_Y: f32 = 250.0;
/// Seconds between extra balloons.
const EXTRA_EVERY: f32 = 5.0;
const MAX_BALLOONS: usize = 4;
/// A person touching the same balloon again within this many ticks scores once.
const TOUCH_COOLDOWN_TICKS: u64 = 20;

/// Rules and round state of balloon keep-up.
#[derive(Default)]
pub(crate) struct BalloonKeepup {
    survived: f32,
    next_extra: f32,
    last_touch: BTreeMap<(ParticipantId, ObjectId), u64>,
}

fn balloon(position: [f32; 2], velocity: [f32; 2]) -> ObjectSpec {
    ObjectSpec {
        gravity_scale: 0.2,
        restitution: 0.8,
        linear_damping: 0.4,
        max_speed: 900.0,
        ..ObjectSpec::ball(ObjectKind::Balloon, RADIUS, position, velocity)
    }
}

impl BalloonKeepup {
    fn spawn_one(&mut self, ctx: &mut Ctx<'_>, x: f32) {
        let vx = ctx.uniform(-60.0, 60.0);
        let x = (x + ctx.uniform(-40.0, 40.0)).clamp(-560.0, 560.0);
        ctx.arena.spawn(&balloon([x, SPAWN_Y], [vx, 0.0]));
    }
}

impl GameRules for BalloonKeepup {
    fn kind(&self) -> GameKind {
        GameKind::BalloonKeepup
    }

    fn start_countdown(&mut self, _ctx: &mut Ctx<'_>) {
        self.survived = 0.0;
        self.next_extra = EXTRA_EVERY;
        self.last_touch.clear();
    }

    fn start_play(&mut self, ctx: &mut Ctx<'_>) {
        let centres = ctx.centres();
        let count = if centres.len() >= 3 { 2 } else { 1 };
        for k in 0..count {
            let x = if centres.is_empty() {
                0.0
            } else {
                // Above the people, spread out.
                centres[(k * centres.len()) / count].1[0]
            };
            self.spawn_one(ctx, x);
        }
    }

    fn play_tick(&mut self, ctx: &mut Ctx<'_>, contacts: &StepContacts) -> Option<RoundOutcome> {
        self.survived = ctx.elapsed;
        for &(pid, oid) in &contacts.body_starts {
            if ctx.arena.kind(oid) != Some(ObjectKind::Balloon) {
                continue;
            }
            let last = self.last_touch.insert((pid, oid), ctx.tick);
            if last.is_none_or(|t| ctx.tick.saturating_sub(t) > TOUCH_COOLDOWN_TICKS) {
                ctx.score(pid, 1);
            }
        }
        let dropped = contacts
            .floor
            .iter()
            .any(|&oid| ctx.arena.kind(oid) == Some(ObjectKind::Balloon));
        if dropped {
            ctx.emit(GameEvent::BalloonDropped {
                survived_seconds: self.survived,
            });
            return Some(RoundOutcome {
                winners: Vec::new(),
                summary: format!("A balloon hit the floor after {:.1} s", self.survived),
            });
        }
        if ctx.elapsed >= self.next_extra {
            self.next_extra += EXTRA_EVERY;
            if ctx.arena.ids_of(ObjectKind::Balloon).len() < MAX_BALLOONS {
                let x = ctx.uniform(-400.0, 400.0);
                self.spawn_one(ctx, x);
            }
        }
        // A balloon that escaped the scene (over a wall) counts as lost too.
        if ctx.arena.ids_of(ObjectKind::Balloon).is_empty() {
            return Some(RoundOutcome {
                winners: Vec::new(),
                summary: format!("The balloons got away after {:.1} s", self.survived),
            });
        }
        None
    }

    fn time_up(&mut self, ctx: &mut Ctx<'_>) -> RoundOutcome {
        self.survived = ctx.play_seconds;
        RoundOutcome {
            winners: ctx.board.ids(),
            summary: format!("Kept them up for all {:.0} s!", ctx.play_seconds),
        }
    }

    fn play_banner(&self, time_left: f32) -> String {
        format!("Keep the balloons up! {:.0} s to go", time_left.ceil())
    }

    fn teams(&self) -> Vec<TeamScore> {
        vec![TeamScore {
            name: "Team".to_owned(),
            points: self.survived as i64,
        }]
    }
}
