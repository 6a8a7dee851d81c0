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

use std::sync::Mutex;
use std::time::Instant;

use super::character::cutout::Layer;
use super::character::figure::Figure;
use super::character::look::{CAST, Framing, Look};
use super::character::motion::{Motion, Pose};
use super::character::paint::{hash2, srgb, v2};
use super::character::{Placement, room};
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
    /// Whether frames carry the drawn person's coverage ([`Frame::coverage`]), so
    /// that they need no segmentation: a demo friend stands in for a remote
    /// person, whose cutout is made on their own machine. Off for the local
    /// participant, which the real segmentation cuts out.
    pub precut: bool,
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
            precut: false,
        }
    }
}

/// Camera sensor noise: standard deviation in 8-bit levels.
const NOISE_SIGMA: f32 = 2.2;

/// How many noisy copies of the room are kept; frames cycle through them, so the
/// room's noise changes every frame without being added anew.
const NOISY_ROOMS: usize = 7;

/// A moving person in a room, filmed.
pub struct SyntheticParticipant {
    params: SyntheticParams,
    look: Look,
    framing: Framing,
    motion: Motion,
    placement: Placement,
    /// The room, linear RGB.
    room: Vec<f32>,
    /// The room as the camera delivers it (RGB8), with sensor noise, a few times.
    noisy_rooms: Vec<Vec<u8>>,
    /// Sensor noise, one value per pixel plus slack to shift it each frame.
    grain: Vec<f32>,
    /// The character's parts and the layer they are composed on, reused.
    cutout: Mutex<(Figure, Layer)>,
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
        let room_rgb: Vec<u8> = room
            .chunks_exact(3)
            .flat_map(|c| srgb([c[0], c[1], c[2]]))
            .collect();
        let pixels = (params.width * params.height) as usize;
        // Roughly Gaussian (sum of three uniforms), unit variance times sigma.
        let grain: Vec<f32> = (0..pixels + 4096)
            .map(|i| {
                let i = i as i32;
                let u = hash2(i, 0, seed) + hash2(i, 1, seed) + hash2(i, 2, seed) - 1.5;
                u * 2.0 * NOISE_SIGMA
            })
            .collect();
        let noisy_rooms = (0..NOISY_ROOMS)
            .map(|k| {
                let offset = (hash2(k as i32, 11, seed) * 4096.0) as usize;
                room_rgb
                    .chunks_exact(3)
                    .zip(&grain[offset..offset + pixels])
                    .flat_map(|(c, g)| c.iter().map(move |&v| noisy(v, *g)))
                    .collect()
            })
            .collect();
        let figure = Figure::new(&look, scale, seed);
        let layer = Layer::new(params.width, params.height);
        Self {
            params,
            look,
            framing,
            motion,
            placement,
            room,
            noisy_rooms,
            grain,
            cutout: Mutex::new((figure, layer)),
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
        self.film(t, None)
    }

    /// The frame at `t` seconds (RGB8) and the drawn person's coverage (one byte a
    /// pixel, 255 where the person is): what a perfect segmentation would cut.
    pub fn render_with_alpha(&self, t: f32) -> (Vec<u8>, Vec<u8>) {
        let (w, h) = (self.params.width as usize, self.params.height as usize);
        let mut alpha = vec![0u8; w * h];
        let rgb = self.film(t, Some(&mut alpha));
        (rgb, alpha)
    }

    /// The frame at `t` seconds (RGB8), writing the person's coverage into `alpha`
    /// (one byte a pixel, zeroed by the caller) when asked for.
    fn film(&self, t: f32, mut alpha: Option<&mut Vec<u8>>) -> Vec<u8> {
        let (w, h) = (self.params.width as usize, self.params.height as usize);
        let pose = self.pose(t);
        let frame_no = (t * self.params.fps.max(1.0)).floor() as i32;
        // The room with this frame's noise; the person goes over it.
        let mut rgb = self.noisy_rooms[frame_no.rem_euclid(NOISY_ROOMS as i32) as usize].clone();
        let mut cutout = self.cutout.lock().unwrap_or_else(|e| e.into_inner());
        let (figure, layer) = &mut *cutout;
        layer.clear();
        figure.compose(&pose, self.placement.origin, layer);
        // Sensor noise on the person, shifted every frame.
        let offset = (hash2(frame_no, 7, self.seed) * 4096.0) as usize;
        let grain = &self.grain[offset..offset + w * h];
        let (x0, y0, x1, y1) = layer.drawn();
        for y in y0..y1 {
            for i in y * w + x0..y * w + x1 {
                let a = layer.alpha[i];
                if a <= 0.0 {
                    continue;
                }
                let (p, r) = (layer.rgb[i], &self.room[i * 3..i * 3 + 3]);
                let (keep, g) = (1.0 - a, grain[i]);
                let out = &mut rgb[i * 3..i * 3 + 3];
                out[0] = filmed(p[0] + r[0] * keep, g);
                out[1] = filmed(p[1] + r[1] * keep, g);
                out[2] = filmed(p[2] + r[2] * keep, g);
                if let Some(alpha) = alpha.as_deref_mut() {
                    alpha[i] = (a * 255.0 + 0.5) as u8;
                }
            }
        }
        rgb
    }
}

/// A byte with sensor noise `g` (levels) added.
fn noisy(v: u8, g: f32) -> u8 {
    // Float to integer casts saturate: below 0 gives 0, above 255 gives 255.
    (v as f32 + g + 0.5) as u8
}

/// A linear channel as the camera delivers it (gamma 2) with sensor noise `g`.
fn filmed(linear: f32, g: f32) -> u8 {
    (linear.max(0.0).sqrt() * 255.0 + g + 0.5) as u8
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
        let (w, h) = (self.params.width, self.params.height);
        let frame = if self.params.precut {
            let (rgb, coverage) = self.render_with_alpha(t);
            Frame::new(self.seq, now, w, h, rgb)?.with_coverage(coverage)?
        } else {
            Frame::new(self.seq, now, w, h, self.render(t))?
        };
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
    fn a_precut_friend_is_cut_out_by_its_drawn_coverage_without_a_model() {
        let mut source = SyntheticParticipant::new(SyntheticParams {
            width: 240,
            height: 180,
            variant: 1,
            precut: true,
            ..SyntheticParams::default()
        });
        let frame = source
            .next_frame()
            .expect("a frame")
            .expect("not at the end");
        let coverage = frame.coverage.clone().expect("coverage comes along");
        assert_eq!(coverage.len(), 240 * 180);
        let person = coverage.iter().filter(|&&a| a == 255).count();
        assert!(person > coverage.len() / 20, "{person} person pixels");
        // No model could load from here: the cutout is the coverage.
        let config = crate::segment::SegmentConfig::new("/nonexistent-models".into());
        let mut pipeline = crate::segment::pipeline::CutoutPipeline::new(config);
        let cutout = pipeline.process(&frame).expect("cut out without a model");
        assert_eq!(cutout.mask, coverage);
        assert_eq!(pipeline.backend(), None);
        for (i, &a) in coverage.iter().enumerate() {
            if a == 0 {
                assert_eq!(&cutout.rgba[i * 4..i * 4 + 4], &[0, 0, 0, 0]);
            }
        }
        // Without `precut` the frame is a camera's: no coverage.
        let mut camera = participant(1);
        assert!(
            camera
                .next_frame()
                .expect("frame")
                .expect("frame")
                .coverage
                .is_none()
        );
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
