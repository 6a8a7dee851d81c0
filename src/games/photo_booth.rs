//! Photo booth: soap bubbles float around during a three-second countdown (touch
//! one to pop it for a point), then [`GameEvent::TakePhoto`] tells the renderer to
//! save a PNG of the scene; a short flash later the round ends.

use super::physics::{ObjectSpec, StepContacts};
use super::rules::{Ctx, GameRules, RoundOutcome};
use super::{GameEvent, GameKind, ObjectKind};

const BUBBLES: usize = 6;
/// Seconds before a popped bubble is replaced.
const RESPAWN_AFTER: f32 = 1.0;

/// Rules and round state of the photo booth.
#[derive(Default)]
pub(crate) struct PhotoBooth {
    /// Phase times at which a popped bubble comes back.
    respawn: Vec<f32>,
}

fn spawn_bubble(ctx: &mut Ctx<'_>) {
    let x = ctx.uniform(-560.0, 560.0);
    let y = ctx.uniform(-60.0, 300.0);
    let v = [ctx.uniform(-140.0, 140.0), ctx.uniform(-100.0, 120.0)];
    let r = ctx.uniform(26.0, 42.0);
    ctx.arena.spawn(&ObjectSpec {
        gravity_scale: 0.05,
        restitution: 0.95,
        linear_damping: 0.05,
        max_speed: 700.0,
        ..ObjectSpec::ball(ObjectKind::Bubble, r, [x, y], v)
    });
}

impl PhotoBooth {
    fn pop_and_refill(&mut self, ctx: &mut Ctx<'_>, contacts: &StepContacts) {
        for &(pid, oid) in &contacts.body_starts {
            if ctx.arena.kind(oid) == Some(ObjectKind::Bubble) {
                ctx.arena.despawn(oid);
                ctx.score(pid, 1);
                self.respawn.push(ctx.elapsed + RESPAWN_AFTER);
            }
        }
        let now = ctx.elapsed;
        let due = self.respawn.iter().filter(|&&t| t <= now).count();
        self.respawn.retain(|&t| t > now);
        for _ in 0..due {
            spawn_bubble(ctx);
        }
    }
}

impl GameRules for PhotoBooth {
    fn kind(&self) -> GameKind {
        GameKind::PhotoBooth
    }

    fn countdown_seconds(&self) -> f32 {
        3.0
    }

    fn play_seconds(&self) -> f32 {
        1.0
    }

    fn start_countdown(&mut self, ctx: &mut Ctx<'_>) {
        self.respawn.clear();
        for _ in 0..BUBBLES {
            spawn_bubble(ctx);
        }
    }

    fn countdown_tick(&mut self, ctx: &mut Ctx<'_>, contacts: &StepContacts) {
        self.pop_and_refill(ctx, contacts);
    }

    fn start_play(&mut self, ctx: &mut Ctx<'_>) {
        // Respawn timers restart with the phase clock.
        self.respawn.clear();
        ctx.emit(GameEvent::TakePhoto { round: ctx.round });
    }

    fn play_tick(&mut self, ctx: &mut Ctx<'_>, contacts: &StepContacts) -> Option<RoundOutcome> {
        self.pop_and_refill(ctx, contacts);
        None
    }

    fn time_up(&mut self, _ctx: &mut Ctx<'_>) -> RoundOutcome {
        RoundOutcome::without_winners("Photo taken")
    }

    fn announces_winners(&self) -> bool {
        false
    }

    fn play_banner(&self, _time_left: f32) -> String {
        "Click!".to_owned()
    }
}
