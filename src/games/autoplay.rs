//! Autoplay for synthetic demo participants (pure): where a scripted person
//! steps next so that play really happens. It reads only a [`GameSnapshot`], so
//! the same code can drive demo placements locally or on a headless host.
//!
//! - balloon-keepup, star-catch, photo-booth: walk under the nearest falling object;
//! - volleyball: the same, but never across the net;
//! - meteor-dodge: step away from meteors heading for you, otherwise drift home.

use super::{GameKind, GameSnapshot, ObjectKind, ObjectState};

/// Furthest a scripted person walks from the scene centre.
const MAX_X: f32 = 560.0;
/// Keep this far from the net when playing volleyball.
const NET_MARGIN: f32 = 90.0;

/// One scripted person's feet position along the floor.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoplayer {
    x: f32,
    home: f32,
    /// Walking speed in world units per second.
    pub speed: f32,
}

impl Autoplayer {
    /// A scripted person standing at `home_x`.
    pub fn new(home_x: f32) -> Self {
        Self {
            x: home_x,
            home: home_x,
            speed: 320.0,
        }
    }

    /// Where they stand now.
    pub fn x(&self) -> f32 {
        self.x
    }

    /// Walks for `dt` seconds towards what the game in `snapshot` asks for and
    /// returns the new x (use it as the placement's x).
    pub fn update(&mut self, snapshot: &GameSnapshot, dt: f32) -> f32 {
        let target = self.target(snapshot);
        let step = self.speed * dt.max(0.0);
        self.x += (target - self.x).clamp(-step, step);
        self.x
    }

    fn target(&self, snapshot: &GameSnapshot) -> f32 {
        let (lo, hi) = match snapshot.game {
            GameKind::Volleyball if self.home < 0.0 => (-MAX_X, -NET_MARGIN),
            GameKind::Volleyball => (NET_MARGIN, MAX_X),
            _ => (-MAX_X, MAX_X),
        };
        let wanted = |o: &&ObjectState| match snapshot.game {
            GameKind::BalloonKeepup => o.kind == ObjectKind::Balloon,
            GameKind::StarCatch => matches!(o.kind, ObjectKind::Star | ObjectKind::GoldStar),
            GameKind::Volleyball => o.kind == ObjectKind::Ball,
            GameKind::PhotoBooth => o.kind == ObjectKind::Bubble,
            GameKind::MeteorDodge => false,
        };
        if snapshot.game == GameKind::MeteorDodge {
            // The meteor that will pass closest to our head soon, if any.
            let threat = snapshot
                .objects
                .iter()
                .filter(|o| o.kind == ObjectKind::Meteor && o.velocity[1] < 0.0)
                .map(|o| {
                    let t = ((o.position[1] + 100.0) / -o.velocity[1]).clamp(0.0, 1.5);
                    o.position[0] + o.velocity[0] * t
                })
                .min_by(|a, b| (a - self.x).abs().total_cmp(&(b - self.x).abs()));
            return match threat {
                Some(x) if (x - self.x).abs() < 180.0 => {
                    let away = if x > self.x { -1.0 } else { 1.0 };
                    let t = self.x + away * 260.0;
                    if t.abs() > MAX_X {
                        self.x - away * 260.0
                    } else {
                        t
                    }
                }
                _ => self.home,
            }
            .clamp(lo, hi);
        }
        // Share the work: chase only what is (about) nearer to us than to anyone else.
        let others: Vec<f32> = snapshot
            .scores
            .iter()
            .filter_map(|s| s.label_at.map(|p| p[0]))
            .collect();
        let mine = |x: &f32| {
            let nearest = others
                .iter()
                .map(|o| (o - x).abs())
                .fold(f32::MAX, f32::min);
            (x - self.x).abs() <= nearest + 60.0
        };
        snapshot
            .objects
            .iter()
            .filter(wanted)
            .map(|o| o.position[0] + o.velocity[0] * 0.4)
            .filter(mine)
            .filter(|x| (lo..=hi).contains(x) || snapshot.game != GameKind::Volleyball)
            .min_by(|a, b| (a - self.x).abs().total_cmp(&(b - self.x).abs()))
            .unwrap_or(self.home)
            .clamp(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bodies::synthetic::{SyntheticPose, synthetic_person_mask};
    use crate::bodies::{SilhouetteParams, silhouette_from_mask};
    use crate::games::{GameConfig, GameSim, TICK_SECONDS};
    use crate::world::placement::Placement;

    /// Plays `kind` for `seconds` with three waving people; returns body contacts.
    fn play(kind: GameKind, autoplay: bool, seconds: f32) -> (u64, GameSim) {
        let mut sim = GameSim::new(kind, GameConfig::default());
        let homes = [-420.0, 0.0, 420.0];
        let ids: Vec<_> = (0..3)
            .map(|i| sim.add_participant(format!("p{i}")))
            .collect();
        let mut players: Vec<Autoplayer> = homes.iter().map(|&x| Autoplayer::new(x)).collect();
        let (w, h) = (160u32, 120u32);
        let ticks = (seconds / TICK_SECONDS) as u32;
        for tick in 0..ticks {
            if tick % 2 == 0 {
                let t = tick as f32 * TICK_SECONDS;
                let snap = sim.snapshot();
                for (i, (id, player)) in ids.iter().zip(&mut players).enumerate() {
                    let x = if autoplay {
                        player.update(&snap, 2.0 * TICK_SECONDS)
                    } else {
                        player.x()
                    };
                    let pose = SyntheticPose::waving(t, i as f32 * 1.7);
                    let mask = synthetic_person_mask(w, h, &pose);
                    let sil = silhouette_from_mask(&mask, w, h, &SilhouetteParams::default())
                        .expect("sized mask");
                    let placement = Placement {
                        x,
                        y: -300.0,
                        scale: 400.0 / h as f32,
                        z: 0,
                        mirrored: false,
                    };
                    sim.set_body_from_silhouette(*id, &sil, &placement)
                        .expect("known participant");
                }
            }
            sim.step();
        }
        (sim.body_contacts(), sim)
    }

    #[test]
    fn autoplayers_touch_more_stars_than_people_standing_still() {
        let (idle, _) = play(GameKind::StarCatch, false, 12.0);
        let (auto, sim) = play(GameKind::StarCatch, true, 12.0);
        assert!(auto > idle, "autoplay {auto} vs idle {idle}");
        assert!(sim.scores().iter().map(|s| s.total).sum::<i64>() > 0);
    }

    #[test]
    fn volleyball_autoplayers_stay_on_their_side() {
        let mut p = Autoplayer::new(-300.0);
        let snap = GameSnapshot {
            game: GameKind::Volleyball,
            phase: crate::games::GamePhase::Play,
            round: 1,
            tick: 0,
            time_left: 10.0,
            banner: String::new(),
            objects: vec![ObjectState {
                id: crate::games::ObjectId(1),
                kind: ObjectKind::Ball,
                radius: 40.0,
                position: [300.0, 100.0],
                angle: 0.0,
                velocity: [0.0, -100.0],
                angular_velocity: 0.0,
            }],
            scores: Vec::new(),
            teams: Vec::new(),
            net: Some([0.0, -70.0]),
        };
        for _ in 0..100 {
            p.update(&snap, 0.05);
        }
        assert!(p.x() <= -NET_MARGIN + 1e-3, "{}", p.x());
    }
}
