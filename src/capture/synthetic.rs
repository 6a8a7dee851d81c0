//! The synthetic demo participants: animated people in their rooms, as a webcam
//! would film them.
//!
//! Each variant is a distinct person from [`character::look::CAST`] (skin, hair,
//! clothes, build), framed like a real webcam would frame them (close-up, half
//! body, or standing back: [`Framing::of_variant`]) in front of a room of their
//! own, and moved by procedural human motion ([`character::motion`]): breathing,
//! weight shifts, steps, head turns, nods, blinks, talking, waving and gestures.
//! The result is an ordinary camera-like frame *with* background and sensor
//! noise, so the real segmentation has to cut the person out. Frames are a pure
//! function of time ([`SyntheticParticipant::render`]), and the drawn person's exact
//! coverage comes with them ([`SyntheticParticipant::render_with_alpha`]).

use std::time::Instant;

use super::character::look::{CAST, Framing, Look};
use super::character::motion::{Motion, Pose};
use super::character::paint::{Canvas, Light, hash2, srgb, v2};
use super::character::{self, Placement, room};
use super::error::CaptureError;
use super::frame::Frame;
use super::source::{FrameSource, SourceInfo};

/// How one synthetic participant looks and moves.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticParams {
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub fps: f32,
    /// Motion phase offset in seconds, so several participants don't move in step.
    pub phase: f32,
    /// Which person: an index into [`CAST`] (wrapping), which also picks the
    /// framing and the room.
    pub variant: u32,
    /// How far the participant steps to each side now and then, in pixels of a
    /// full-body framing (close-ups sway less).
    pub walk_px: f32,
}

impl Default for SyntheticParams {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            fps: 30.0,
            phase: 0.0,
            variant: 0,
            walk_px: 60.0,
        }
    }
}

/// Camera sensor noise: standard deviation in 8-bit levels.
const NOISE_SIGMA: f32 = 2.2;

/// A moving person in a room, filmed.
pub struct SyntheticParticipant {
    params: SyntheticParams,
    look: Look,
    framing: Framing,
    motion: Motion,
    placement: Placement,
    /// The room, linear RGB.
    room: Vec<f32>,
    /// The room as the camera delivers it (RGB8, before noise).
    room_rgb: Vec<u8>,
    /// Sensor noise, one value per pixel plus slack to shift it each frame.
    grain: Vec<f32>,
    seed: u32,
    start: Instant,
    seq: u64,
}

impl SyntheticParticipant {
    /// The participant of `params.variant`, ready to film.
    pub fn new(params: SyntheticParams) -> Self {
        let look = CAST[params.variant as usize % CAST.len()];
        let framing = Framing::of_variant(params.variant);
        let (w, h) = (params.width as f32, params.height as f32);
        let (scale, crown) = framing.scale_and_crown(h, look.build.height);
        let placement = Placement {
            origin: v2(w / 2.0, crown + look.build.height * scale),
            scale,
        };
        let seed = params
            .variant
            .wrapping_mul(0x9e37_79b9)
            .wrapping_add(params.phase.to_bits());
        let step = params.walk_px * framing.step_share() / scale.max(1e-3);
        let motion = Motion::new(seed, look.build, step);
        let room = room::paint(params.width, params.height, params.variant, framing);
        let room_rgb = room
            .chunks_exact(3)
            .flat_map(|c| srgb([c[0], c[1], c[2]]))
            .collect();
        let pixels = (params.width * params.height) as usize;
        // Roughly Gaussian (sum of three uniforms), unit variance times sigma.
        let grain = (0..pixels + 4096)
            .map(|i| {
                let i = i as i32;
                let u = hash2(i, 0, seed) + hash2(i, 1, seed) + hash2(i, 2, seed) - 1.5;
                u * 2.0 * NOISE_SIGMA
            })
            .collect();
        Self {
            params,
            look,
            framing,
            motion,
            placement,
            room,
            room_rgb,
            grain,
            seed,
            start: Instant::now(),
            seq: 0,
        }
    }

    /// Who this participant is.
    pub fn look(&self) -> &Look {
        &self.look
    }

    /// How the camera frames them.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The pose at `t` seconds into the participant's motion.
    pub fn pose(&self, t: f32) -> Pose {
        self.motion.pose(t + self.params.phase)
    }

    /// The frame at `t` seconds into the participant's motion (RGB8).
    pub fn render(&self, t: f32) -> Vec<u8> {
        self.render_with_alpha(t).0
    }

    /// The frame at `t` seconds (RGB8) and the drawn person's coverage (one byte a
    /// pixel, 255 where the person is): what a perfect segmentation would cut.
    pub fn render_with_alpha(&self, t: f32) -> (Vec<u8>, Vec<u8>) {
        let (w, h) = (self.params.width, self.params.height);
        let mut canvas = Canvas::new(w, h, self.room.clone(), Light::default());
        let pose = self.pose(t);
        character::draw(&mut canvas, &self.look, &pose, self.placement, self.seed);
        // Sensor noise, shifted every frame.
        let frame_no = (t * self.params.fps.max(1.0)).floor() as i32;
        let offset = (hash2(frame_no, 7, self.seed) * 4096.0) as usize;
        let grain = &self.grain[offset..offset + (w * h) as usize];
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        // Only the person's pixels changed: the rest is the room as filmed.
        for (i, &g) in grain.iter().enumerate() {
            let c = if canvas.alpha[i] > 0.0 {
                let px = &canvas.rgb[i * 3..i * 3 + 3];
                srgb([px[0], px[1], px[2]])
            } else {
                let px = &self.room_rgb[i * 3..i * 3 + 3];
                [px[0], px[1], px[2]]
            };
            rgb.extend(c.map(|v| (v as f32 + g).round().clamp(0.0, 255.0) as u8));
        }
        let alpha = canvas
            .alpha
            .iter()
            .map(|a| (a * 255.0).round() as u8)
            .collect();
        (rgb, alpha)
    }
}

impl FrameSource for SyntheticParticipant {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: format!("demo participant {}", self.params.variant),
            width: self.params.width,
            height: self.params.height,
            fps: self.params.fps,
        }
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let now = Instant::now();
        let t = (now - self.start).as_secs_f32();
        let frame = Frame::new(
            self.seq,
            now,
            self.params.width,
            self.params.height,
            self.render(t),
        )?;
        self.seq += 1;
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(variant: u32) -> SyntheticParticipant {
        SyntheticParticipant::new(SyntheticParams {
            width: 320,
            height: 240,
            variant,
            ..SyntheticParams::default()
        })
    }

    #[test]
    fn frames_are_a_function_of_time_and_change_over_seconds() {
        let p = participant(0);
        assert_eq!(p.render(1.5), p.render(1.5));
        let a = p.render_with_alpha(0.0).1;
        let changed = (1..6)
            .map(|s| {
                let b = p.render_with_alpha(s as f32).1;
                a.iter()
                    .zip(&b)
                    .filter(|(x, y)| x.abs_diff(**y) > 128)
                    .count()
            })
            .max()
            .unwrap_or(0);
        assert!(changed > a.len() / 100, "only {changed} pixels changed");
    }

    #[test]
    fn variants_are_different_people_in_different_framings() {
        let people: Vec<SyntheticParticipant> = (0..3).map(participant).collect();
        assert_ne!(people[0].look(), people[1].look());
        assert_ne!(people[1].look(), people[2].look());
        let share = |p: &SyntheticParticipant| {
            let a = p.render_with_alpha(1.0).1;
            a.iter().filter(|&&v| v >= 128).count() as f32 / a.len() as f32
        };
        let (close, far) = (
            people
                .iter()
                .find(|p| p.framing() == Framing::Close)
                .map(share),
            people
                .iter()
                .find(|p| p.framing() == Framing::Far)
                .map(share),
        );
        let (Some(close), Some(far)) = (close, far) else {
            panic!("no close-up or no far framing among three variants");
        };
        assert!(close > 2.0 * far, "close-up {close}, far {far}");
    }

    #[test]
    fn the_frame_has_sensor_noise_but_the_room_stays_put() {
        let p = participant(1);
        let a = p.render(0.0);
        let b = p.render(0.5);
        // The top-left corner is room in both frames: only the noise differs there.
        let corner = |f: &[u8]| f[..30].to_vec();
        assert_ne!(corner(&a), corner(&b));
        let diff = corner(&a)
            .iter()
            .zip(corner(&b))
            .map(|(x, y)| x.abs_diff(y) as u32)
            .max()
            .unwrap_or(0);
        assert!(diff < 25, "the room moved: {diff}");
    }
}
