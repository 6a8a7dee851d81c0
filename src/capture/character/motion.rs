//! Procedural human motion for the synthetic characters (pure: a pose is a
//! function of time and the character's seed).
//!
//! A 2D skeleton (feet, knees, hips, pelvis, spine, shoulders, elbows, wrists,
//! neck and head) in head units (`hu`: crown to chin), origin on the floor between
//! the feet, y down. Everything is eased and overlapping: the body breathes, shifts
//! its weight from foot to foot and holds it, now and then steps sideways (the
//! leading foot first, the pelvis after, the trailing foot last); the head turns,
//! nods while talking and tilts; the eyes blink at irregular moments; the mouth moves
//! in syllables while talking; each arm now and then waves, gestures, rests a hand on
//! the hip, raises a hand or touches the chin, its elbow and hand following the
//! shoulder a little late. Timings (periods, slots, choices) come from a seed, so
//! no two characters move in step.

use std::f32::consts::PI;
use std::ops::{Add, Mul, Sub};

use super::paint::{V2, hash2, smoothstep, v2};

/// Body proportions that motion needs (head units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Build {
    /// Standing height, crown to sole, in head units (about 7–7.8).
    pub height: f32,
    /// Half the distance between the shoulder joints.
    pub shoulder: f32,
    /// Half the distance between the hip joints.
    pub hip: f32,
}

/// What one arm is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gesture {
    /// Hanging at the side.
    Rest,
    /// Waving with the forearm swinging at the elbow.
    Wave,
    /// Explaining in front of the body, in beats.
    Explain,
    /// Hand on the hip.
    Hip,
    /// Hand raised high.
    Raise,
    /// Hand at the chin.
    Chin,
}

/// The skeleton at one moment, in head units (origin on the floor, y down).
/// Sides are indexed as seen: 0 is the viewer's left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Midpoint of the hip joints.
    pub pelvis: V2,
    /// Base of the neck (middle of the shoulder line).
    pub chest: V2,
    /// Torso lean in radians (positive leans to the viewer's right at the top).
    pub lean: f32,
    /// Shoulder joints.
    pub shoulders: [V2; 2],
    /// Elbows.
    pub elbows: [V2; 2],
    /// Wrists.
    pub wrists: [V2; 2],
    /// Direction the hand points, radians from straight down (clockwise on screen).
    pub hand_dir: [f32; 2],
    /// How open the hand is, 0 (relaxed) to 1 (fingers spread).
    pub hand_open: [f32; 2],
    /// Hip joints.
    pub hips: [V2; 2],
    /// Knees.
    pub knees: [V2; 2],
    /// Ankles.
    pub ankles: [V2; 2],
    /// Top of the neck, where the head pivots.
    pub neck: V2,
    /// Head turn (radians, positive turns towards the viewer's right).
    pub yaw: f32,
    /// Head nod (radians, positive looks down).
    pub pitch: f32,
    /// Head tilt (radians, clockwise on screen).
    pub roll: f32,
    /// Eyelids, 0 open to 1 closed.
    pub blink: f32,
    /// Mouth opening, 0 closed to 1 wide.
    pub mouth: f32,
    /// Smile, 0 neutral to 1.
    pub smile: f32,
    /// Eyebrow raise, 0 to 1.
    pub brows: f32,
    /// What each arm is doing (the strongest gesture in its blend).
    pub gestures: [Gesture; 2],
}

/// A character's motion: its seed and the timings drawn from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Motion {
    seed: u32,
    build: Build,
    /// Sideways step size in head units.
    step: f32,
    breath_period: f32,
    weight_period: f32,
    arm_slot: [f32; 2],
    talk_slot: f32,
    blink_slot: f32,
    glance_slot: f32,
    step_slot: f32,
    phase: f32,
}

/// A value in `[0, 1)` from a seed and two integers.
fn rnd(seed: u32, a: i32, b: i32) -> f32 {
    hash2(a, b, seed)
}

/// Smooth 1D value noise in `[-1, 1]`.
fn noise1(t: f32, seed: u32, channel: i32) -> f32 {
    let f = t.floor();
    let i = f as i32;
    let x = t - f;
    let s = x * x * (3.0 - 2.0 * x);
    let a = hash2(i, channel, seed);
    let b = hash2(i + 1, channel, seed);
    (a + (b - a) * s) * 2.0 - 1.0
}

/// An envelope that rises over `rise` seconds from `start` and falls over `fall`
/// seconds to 0 at `end`.
fn envelope(t: f32, start: f32, end: f32, rise: f32, fall: f32) -> f32 {
    smoothstep(start, start + rise, t) * (1.0 - smoothstep(end - fall, end, t))
}

/// Slot index and time inside a slot of `len` seconds.
fn slot(t: f32, len: f32) -> (i32, f32) {
    let k = (t / len).floor();
    (k as i32, t - k * len)
}

/// Arm joint angles: upper arm from straight down (outwards positive), forearm
/// relative to the upper arm, forearm foreshortening, hand relative to the forearm,
/// hand openness.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ArmAngles {
    upper: f32,
    fore: f32,
    reach: f32,
    hand: f32,
    open: f32,
}

impl ArmAngles {
    fn lerp(self, o: ArmAngles, t: f32) -> Self {
        let l = |a: f32, b: f32| a + (b - a) * t;
        Self {
            upper: l(self.upper, o.upper),
            fore: l(self.fore, o.fore),
            reach: l(self.reach, o.reach),
            hand: l(self.hand, o.hand),
            open: l(self.open, o.open),
        }
    }
}

/// Shoulder to elbow, head units.
pub const UPPER_ARM: f32 = 1.3;
/// Elbow to wrist (arm outstretched), head units.
pub const FOREARM: f32 = 1.1;

impl Motion {
    /// The motion of the character with this seed and build; `step` is how far
    /// (head units) it steps sideways now and then.
    pub fn new(seed: u32, build: Build, step: f32) -> Self {
        let r = |i: i32| rnd(seed, 1000, i);
        Self {
            seed,
            build,
            step,
            breath_period: 3.4 + 1.2 * r(0),
            weight_period: 7.0 + 4.0 * r(1),
            arm_slot: [4.6 + 2.2 * r(2), 5.3 + 2.4 * r(3)],
            talk_slot: 2.2 + 1.0 * r(4),
            blink_slot: 2.6 + 1.4 * r(5),
            glance_slot: 4.5 + 2.5 * r(6),
            step_slot: 8.5 + 4.0 * r(7),
            phase: 100.0 * r(8),
        }
    }

    /// How much the character is talking at `t` (0..1, eased).
    fn talking(&self, t: f32) -> f32 {
        let (k, tl) = slot(t, self.talk_slot);
        let on = |k: i32| rnd(self.seed, 1, k) < 0.6;
        let len = self.talk_slot;
        let here = if on(k) {
            envelope(tl, 0.0, len, 0.25, 0.25)
        } else {
            0.0
        };
        // Runs of talk slots join without a pause.
        let joined_prev = on(k) && on(k - 1) && tl < 0.25;
        let joined_next = on(k) && on(k + 1) && tl > len - 0.25;
        if joined_prev || joined_next {
            1.0
        } else {
            here
        }
    }

    fn mouth(&self, t: f32, talk: f32) -> f32 {
        if talk <= 0.0 {
            return 0.0;
        }
        let syllable = (PI * 4.2 * t + 2.5 * noise1(t * 1.7, self.seed, 2))
            .sin()
            .abs();
        let loud = 0.55 + 0.45 * noise1(t * 1.1, self.seed, 3);
        (talk * syllable.powf(0.8) * loud).clamp(0.0, 1.0)
    }

    fn blink(&self, t: f32) -> f32 {
        let (k, tl) = slot(t, self.blink_slot);
        let mut closed: f32 = 0.0;
        for (kk, tt) in [(k, tl), (k - 1, tl + self.blink_slot)] {
            if rnd(self.seed, 2, kk) > 0.9 {
                continue;
            }
            let at = rnd(self.seed, 3, kk) * (self.blink_slot - 0.4);
            let double = rnd(self.seed, 4, kk) < 0.15;
            for start in [at, at + 0.32] {
                let x = tt - start;
                let c = if (0.0..0.07).contains(&x) {
                    x / 0.07
                } else if (0.07..0.22).contains(&x) {
                    1.0 - (x - 0.07) / 0.15
                } else {
                    0.0
                };
                closed = closed.max(c * c * (3.0 - 2.0 * c));
                if !double {
                    break;
                }
            }
        }
        closed
    }

    /// Sideways offset of the body and of each foot, in head units, at `t`.
    fn steps(&self, t: f32) -> (f32, [f32; 2], [f32; 2]) {
        let (k, tl) = slot(t, self.step_slot);
        // Where the character stands in each slot: -1, 0 or 1 step from the middle.
        let place = |k: i32| -> f32 {
            let r = rnd(self.seed, 5, k);
            if r < 0.3 {
                -1.0
            } else if r < 0.65 {
                0.0
            } else {
                1.0
            }
        };
        let (from, to) = (place(k - 1) * self.step, place(k) * self.step);
        let dir = (to - from).signum();
        // The leading foot is the one on the side the step goes to (0 is left).
        let lead = usize::from(dir > 0.0);
        let t0 = 0.3;
        let foot = |delay: f32| smoothstep(t0 + delay, t0 + delay + 0.55, tl);
        let lift = |delay: f32| {
            let x = ((tl - t0 - delay) / 0.55).clamp(0.0, 1.0);
            (PI * x).sin() * 0.12 * (to - from).abs().min(1.0)
        };
        let body = from + (to - from) * smoothstep(t0 + 0.15, t0 + 1.0, tl);
        let mut feet = [0.0; 2];
        let mut lifts = [0.0; 2];
        for (i, (f, l)) in feet.iter_mut().zip(lifts.iter_mut()).enumerate() {
            let delay = if i == lead { 0.0 } else { 0.5 };
            *f = from + (to - from) * foot(delay);
            *l = lift(delay);
        }
        (body, feet, lifts)
    }

    fn arm(&self, t: f32, side: usize, lag: f32) -> (ArmAngles, Gesture) {
        let len = self.arm_slot[side];
        let tt = t + self.phase * (1.0 + side as f32 * 0.37) - lag;
        let (k, tl) = slot(tt, len);
        let sway = 0.03 * noise1(t * 0.4, self.seed, 10 + side as i32);
        let rest = ArmAngles {
            upper: 0.1 + sway,
            fore: -0.12 - 0.05 * noise1(t * 0.3, self.seed, 12 + side as i32),
            reach: 1.0,
            hand: 0.05,
            open: 0.15,
        };
        let channel = 20 + side as i32 * 7;
        let r = rnd(self.seed, channel, k);
        // The left arm (person's right, seen on the viewer's left) waves a bit more.
        let gesture = match (r * 100.0) as u32 {
            0..=37 => Gesture::Rest,
            38..=54 => Gesture::Wave,
            55..=74 => Gesture::Explain,
            75..=84 => Gesture::Hip,
            85..=92 => Gesture::Raise,
            _ => Gesture::Chin,
        };
        if gesture == Gesture::Rest {
            return (rest, Gesture::Rest);
        }
        let start = rnd(self.seed, channel + 1, k) * 0.3 * len;
        let end = start + (0.45 + 0.25 * rnd(self.seed, channel + 2, k)) * len;
        let env = envelope(tl, start, end, 0.7, 0.8);
        let w = t * 2.0 * PI;
        let target = match gesture {
            Gesture::Wave => {
                let f = 1.6 + 0.5 * rnd(self.seed, channel + 3, k);
                ArmAngles {
                    upper: 2.0 + 0.06 * (w * 0.3).sin(),
                    fore: 0.75 + 0.42 * (w * f).sin(),
                    reach: 1.0,
                    hand: 0.2 * (w * f - 0.9).sin(),
                    open: 1.0,
                }
            }
            Gesture::Explain => {
                let beat = noise1(t * 2.2, self.seed, channel + 4);
                ArmAngles {
                    upper: 0.32 + 0.12 * beat,
                    fore: -1.35 + 0.35 * noise1(t * 1.6, self.seed, channel + 5),
                    reach: 0.62,
                    hand: -0.4 + 0.3 * beat,
                    open: 0.7,
                }
            }
            Gesture::Hip => ArmAngles {
                upper: 0.78,
                fore: -1.75,
                reach: 0.8,
                hand: -0.5,
                open: 0.1,
            },
            Gesture::Raise => ArmAngles {
                upper: 2.65 + 0.05 * noise1(t, self.seed, channel + 6),
                fore: 0.2,
                reach: 1.0,
                hand: 0.0,
                open: 0.9,
            },
            Gesture::Chin | Gesture::Rest => ArmAngles {
                upper: 0.35,
                fore: -2.55,
                reach: 0.95,
                hand: -0.2,
                open: 0.3,
            },
        };
        (
            rest.lerp(target, env),
            if env > 0.3 { gesture } else { Gesture::Rest },
        )
    }

    /// The pose at `t` seconds.
    pub fn pose(&self, t: f32) -> Pose {
        let s = self.seed;
        let b = self.build;
        let h = b.height;
        let tp = t + self.phase;
        let breath = (2.0 * PI * tp / self.breath_period).sin();
        let weight = {
            let x = (2.0 * PI * tp / self.weight_period).sin();
            (2.2 * x).tanh() / 2.2f32.tanh() + 0.15 * noise1(tp * 0.3, s, 30)
        };
        let (body_x, feet_x, lifts) = self.steps(tp);
        let stepping = (feet_x[0] - feet_x[1]).abs();

        // Legs: ankles on the floor, the pelvis over the standing foot.
        let stance = 0.26 * b.hip / 0.3;
        let ankles = [
            v2(feet_x[0] - stance, -0.3 - lifts[0]),
            v2(feet_x[1] + stance, -0.3 - lifts[1]),
        ];
        let hip_y = -0.52 * h;
        let pelvis = v2(
            body_x + 0.13 * weight,
            hip_y + 0.025 * weight.abs() + 0.04 * stepping.min(1.0),
        );
        let hip_tilt = -0.05 * weight;
        let hips = [
            pelvis.add(v2(-b.hip, 0.0).rot(hip_tilt)),
            pelvis.add(v2(b.hip, 0.0).rot(hip_tilt)),
        ];
        let thigh = 0.245 * h;
        let shin = 0.235 * h;
        let knees = [
            knee(hips[0], ankles[0], thigh, shin, -1.0),
            knee(hips[1], ankles[1], thigh, shin, 1.0),
        ];

        // Spine: counter-leans the weight shift, breathes.
        let lean = -0.035 * weight + 0.02 * noise1(tp * 0.25, s, 31);
        let torso = (1.0 - 0.52) * h - 1.33;
        let chest = pelvis.add(v2(0.0, -torso - 0.015 * breath).rot(lean));
        let shoulder_tilt = lean + 0.03 * weight;
        let shrug = 0.012 * breath;
        let shoulders = [
            chest.add(v2(-b.shoulder, 0.1 - shrug).rot(shoulder_tilt)),
            chest.add(v2(b.shoulder, 0.1 - shrug).rot(shoulder_tilt)),
        ];

        // Arms, each joint a little later than the one above it.
        let mut elbows = [V2::default(); 2];
        let mut wrists = [V2::default(); 2];
        let mut hand_dir = [0.0; 2];
        let mut hand_open = [0.0; 2];
        let mut gestures = [Gesture::Rest; 2];
        for side in 0..2 {
            let out = if side == 0 { -1.0 } else { 1.0 };
            let (upper, g) = self.arm(tp, side, 0.0);
            let (fore, _) = self.arm(tp, side, 0.09);
            let (hand, _) = self.arm(tp, side, 0.17);
            gestures[side] = g;
            let a = upper.upper + 0.04 * weight * out;
            let dir = |ang: f32| v2(out * ang.sin(), ang.cos());
            elbows[side] = shoulders[side].add(dir(a).mul(UPPER_ARM));
            let fa = a + fore.fore;
            wrists[side] = elbows[side].add(dir(fa).mul(FOREARM * fore.reach));
            let ha = fa + hand.hand;
            hand_dir[side] = -out * ha;
            hand_open[side] = hand.open;
        }

        // Head: wandering gaze, glances aside, nods while talking, tilts.
        let talk = self.talking(tp);
        let (gk, gl) = slot(tp, self.glance_slot);
        let glance = if rnd(s, 40, gk) < 0.45 {
            let to = if rnd(s, 41, gk) < 0.5 { -0.5 } else { 0.5 };
            let at = rnd(s, 42, gk) * (self.glance_slot - 2.0);
            to * envelope(gl, at, at + 1.2 + 0.6 * rnd(s, 43, gk), 0.35, 0.45)
        } else {
            0.0
        };
        let yaw = 0.22 * noise1(tp * 0.3, s, 44) + glance;
        let pitch =
            0.07 * talk * (2.0 * PI * 1.6 * tp).sin().max(-0.3) + 0.06 * noise1(tp * 0.35, s, 45);
        let roll = 0.08 * noise1(tp * 0.22, s, 46) + 0.04 * weight;
        let neck = chest.add(v2(0.0, -0.3).rot(lean * 0.5));
        let smile = (0.5 + 0.5 * noise1(tp * 0.15, s, 47)) * (1.0 - 0.5 * talk);
        let brows = (talk * (0.5 + 0.5 * noise1(tp * 1.5, s, 48))).max(0.0);
        Pose {
            pelvis,
            chest,
            lean,
            shoulders,
            elbows,
            wrists,
            hand_dir,
            hand_open,
            hips,
            knees,
            ankles,
            neck,
            yaw,
            pitch,
            roll,
            blink: self.blink(tp),
            mouth: self.mouth(tp, talk),
            smile,
            brows,
            gestures,
        }
    }
}

/// The knee of a leg from `hip` to `ankle` (two-bone inverse kinematics); `out` is
/// the side the knee bends towards (-1 left, 1 right), a little outwards like
/// relaxed knees seen from the front.
fn knee(hip: V2, ankle: V2, thigh: f32, shin: f32, out: f32) -> V2 {
    let d = ankle.sub(hip);
    let len = d.len().clamp(1e-3, thigh + shin - 1e-3);
    let along = (thigh * thigh - shin * shin + len * len) / (2.0 * len);
    let across = (thigh * thigh - along * along).max(0.0).sqrt();
    let u = d.mul(1.0 / d.len().max(1e-3));
    let perp = v2(-u.y, u.x).mul(-out);
    // Seen from the front a bent knee mostly comes forward; only a third shows sideways.
    hip.add(u.mul(along)).add(perp.mul(across * 0.35))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build() -> Build {
        Build {
            height: 7.5,
            shoulder: 0.8,
            hip: 0.3,
        }
    }

    #[test]
    fn the_pose_is_a_function_of_time() {
        let m = Motion::new(7, build(), 1.0);
        assert_eq!(m.pose(3.25), m.pose(3.25));
        assert_ne!(m.pose(3.25), m.pose(3.5));
    }

    #[test]
    fn limbs_keep_their_length_and_feet_stay_near_the_floor() {
        let m = Motion::new(11, build(), 1.0);
        for i in 0..400 {
            let p = m.pose(i as f32 * 0.1);
            for s in 0..2 {
                let upper = p.elbows[s].sub(p.shoulders[s]).len();
                assert!((upper - UPPER_ARM).abs() < 1e-3, "upper arm {upper}");
                let thigh = p.knees[s].sub(p.hips[s]).len();
                assert!(thigh < 0.245 * 7.5 + 1e-3);
                assert!(p.ankles[s].y <= -0.29 && p.ankles[s].y > -0.5);
            }
            assert!(p.chest.y < p.pelvis.y && p.neck.y < p.chest.y);
        }
    }

    #[test]
    fn blinks_come_at_irregular_intervals() {
        let m = Motion::new(3, build(), 1.0);
        let mut starts = vec![];
        let mut was = false;
        for i in 0..6000 {
            let t = i as f32 / 100.0;
            let closed = m.blink(t) > 0.9;
            if closed && !was {
                starts.push(t);
            }
            was = closed;
        }
        assert!(starts.len() >= 12, "{} blinks in 60 s", starts.len());
        let gaps: Vec<f32> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        let min = gaps.iter().copied().fold(f32::MAX, f32::min);
        let max = gaps.iter().copied().fold(0.0, f32::max);
        assert!(max - min > 1.5, "gaps {gaps:?}");
    }

    #[test]
    fn arms_wave_and_rest_and_the_mouth_talks_over_a_minute() {
        let m = Motion::new(5, build(), 1.0);
        let mut seen = std::collections::HashSet::new();
        let mut talked = 0;
        let mut still = 0;
        for i in 0..1200 {
            let p = m.pose(i as f32 * 0.05);
            seen.insert(p.gestures[0]);
            seen.insert(p.gestures[1]);
            if p.mouth > 0.3 {
                talked += 1;
            }
            if p.mouth == 0.0 {
                still += 1;
            }
        }
        assert!(seen.contains(&Gesture::Wave) && seen.contains(&Gesture::Rest));
        assert!(seen.len() >= 4, "{seen:?}");
        assert!(
            talked > 100 && still > 100,
            "talked {talked}, still {still}"
        );
    }

    #[test]
    fn two_characters_do_not_move_in_step() {
        let a = Motion::new(1, build(), 1.0);
        let b = Motion::new(2, build(), 1.0);
        let differ = (0..100)
            .filter(|i| {
                let (pa, pb) = (a.pose(*i as f32 * 0.2), b.pose(*i as f32 * 0.2));
                (pa.wrists[1].sub(pb.wrists[1])).len() > 0.1 || (pa.yaw - pb.yaw).abs() > 0.05
            })
            .count();
        assert!(differ > 80, "{differ} of 100 moments differ");
    }

    #[test]
    fn a_waving_hand_is_above_the_shoulder_and_its_elbow_bends() {
        let m = Motion::new(9, build(), 1.0);
        let mut found = false;
        for i in 0..3000 {
            let p = m.pose(i as f32 * 0.05);
            for s in 0..2 {
                if p.gestures[s] == Gesture::Wave {
                    let up = p.elbows[s].sub(p.shoulders[s]);
                    let fore = p.wrists[s].sub(p.elbows[s]);
                    let bend = (up.dot(fore) / (up.len() * fore.len())).acos();
                    if p.wrists[s].y < p.shoulders[s].y && bend > 0.3 {
                        found = true;
                    }
                }
            }
        }
        assert!(found);
    }
}
