//! Pictures no faster than the receivers draw them (pure).
//!
//! A receiver shows a remote person's newest picture each time it draws a frame,
//! so a screen that draws 24 frames a second cannot show 30 pictures a second: a
//! fifth of them are decoded and replaced unseen, which costs both machines CPU
//! and the link bits for nothing. Each receiver measures how many frames a second
//! it draws ([`DrawRateMeter`]) and tells the others every second (the
//! `draw-rate` message, docs/PROTOCOL.md). The sender lets through at most
//! [`DRAW_SHARE`] of the slowest receiver's rate ([`PictureGate`]), spread as
//! evenly as the camera's pictures allow; the slack keeps two pictures from
//! landing between the same two frames when either side's timing jitters.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The share of the slowest receiver's draw rate that is sent.
pub const DRAW_SHARE: f32 = 0.95;
/// The frames a receiver's rate is measured over.
pub const DRAW_RATE_WINDOW: Duration = Duration::from_secs(2);

/// Whether `fps` is a rate at all: finite and above zero (a `draw-rate` from the
/// wire, a limit, a configured frame rate).
pub fn is_rate(fps: f32) -> bool {
    fps.is_finite() && fps > 0.0
}

/// The most pictures a second worth sending to receivers the slowest of which
/// draws `slowest_draw_fps` (`None`: nobody said; no limit).
pub fn receivers_fps(slowest_draw_fps: Option<f32>) -> Option<f32> {
    slowest_draw_fps
        .filter(|&fps| is_rate(fps))
        .map(|fps| fps * DRAW_SHARE)
}

/// The bit rate to configure an encoder of `fps` pictures a second with, so that
/// the pictures the receivers' `limit` lets through carry `video_bps` together.
/// OpenH264's rate control gives each picture the bit rate over its configured
/// frame rate, so held to 8 pictures a second a 30 fps encoder at 600 kbit/s sent
/// 156 kbit/s (three peers on this machine). At most four times the plan (a
/// quarter of the rate or less gets no more per picture).
pub fn encoder_bitrate(video_bps: u32, fps: f32, limit: Option<f32>) -> u32 {
    if !is_rate(fps) {
        return video_bps;
    }
    let sent = limit
        .filter(|&l| is_rate(l))
        .map_or(fps, |l| l.clamp(fps / 4.0, fps));
    (f64::from(video_bps) * f64::from(fps / sent)).round() as u32
}

/// Frames drawn over the last [`DRAW_RATE_WINDOW`].
#[derive(Clone, Debug, Default)]
pub struct DrawRateMeter {
    frames: VecDeque<Instant>,
}

impl DrawRateMeter {
    /// A frame was drawn at `now`.
    pub fn frame(&mut self, now: Instant) {
        self.frames.push_back(now);
        while self
            .frames
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) > DRAW_RATE_WINDOW)
        {
            self.frames.pop_front();
        }
    }

    /// Frames a second over the window, once it spans at least half of it.
    pub fn fps(&self) -> Option<f32> {
        let (first, last) = (self.frames.front()?, self.frames.back()?);
        let span = last.saturating_duration_since(*first);
        if span < DRAW_RATE_WINDOW / 2 {
            return None;
        }
        Some((self.frames.len() - 1) as f32 / span.as_secs_f32())
    }
}

/// Lets pictures through at most `fps` a second on average, each as soon as it is
/// due: a picture up to a quarter of an interval early counts as on time (camera
/// jitter), and the schedule carries over from picture to picture, so 27 of a 30
/// fps camera's pictures go, not every other one.
#[derive(Clone, Debug, Default)]
pub struct PictureGate {
    next_due: Option<Instant>,
}

impl PictureGate {
    /// Whether the picture captured at `captured_at` goes, at most `fps` a second
    /// (`None`: no limit; every picture goes).
    pub fn admit(&mut self, captured_at: Instant, fps: Option<f32>) -> bool {
        let Some(fps) = fps.filter(|&f| is_rate(f)) else {
            self.next_due = None;
            return true;
        };
        let interval = Duration::from_secs_f32(1.0 / fps);
        let base = match self.next_due {
            Some(due) if captured_at + interval / 4 < due => return false,
            // A picture after a real gap (no camera picture, a pause) starts the
            // schedule again instead of letting a burst through to catch up.
            Some(due) if captured_at <= due + interval => due,
            _ => captured_at,
        };
        self.next_due = Some(base + interval);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_counts_frames_a_second_over_its_window() {
        let t0 = Instant::now();
        let mut meter = DrawRateMeter::default();
        meter.frame(t0);
        assert_eq!(meter.fps(), None, "one frame is no rate");
        for i in 1..=120 {
            meter.frame(t0 + Duration::from_millis(i * 40));
        }
        let fps = meter.fps().expect("a rate");
        assert!((fps - 25.0).abs() < 0.01, "{fps}");
        // Slower now: the window forgets the fast frames.
        let t1 = t0 + Duration::from_millis(120 * 40);
        for i in 1..=60 {
            meter.frame(t1 + Duration::from_millis(i * 100));
        }
        let fps = meter.fps().expect("a rate");
        assert!((fps - 10.0).abs() < 0.01, "{fps}");
    }

    /// Pictures of a 30 fps camera, `n` of them, each `jitter_ms` late every other time.
    fn camera(t0: Instant, n: u64, jitter_ms: u64) -> Vec<Instant> {
        (0..n)
            .map(|i| t0 + Duration::from_micros(i * 33_333 + (i % 2) * jitter_ms * 1000))
            .collect()
    }

    fn admitted(gate: &mut PictureGate, pictures: &[Instant], fps: Option<f32>) -> usize {
        pictures.iter().filter(|&&t| gate.admit(t, fps)).count()
    }

    #[test]
    fn the_gate_lets_through_the_asked_rate_of_a_faster_camera() {
        let t0 = Instant::now();
        for (fps, jitter) in [
            (27.0, 0),
            (27.0, 6),
            (24.0, 3),
            (20.0, 0),
            (15.0, 5),
            (10.0, 0),
        ] {
            let mut gate = PictureGate::default();
            let sent = admitted(&mut gate, &camera(t0, 300, jitter), Some(fps));
            let expected = fps * 10.0;
            assert!(
                (sent as f32 - expected).abs() <= 0.02 * expected + 1.0,
                "{fps} fps, {jitter} ms jitter: {sent} of 300 in 10 s"
            );
        }
    }

    #[test]
    fn without_a_limit_or_above_the_camera_every_picture_goes() {
        let t0 = Instant::now();
        let pictures = camera(t0, 90, 7);
        assert_eq!(admitted(&mut PictureGate::default(), &pictures, None), 90);
        assert_eq!(
            admitted(&mut PictureGate::default(), &pictures, Some(60.0)),
            90
        );
        assert_eq!(
            admitted(&mut PictureGate::default(), &pictures, Some(30.0)),
            90
        );
    }

    #[test]
    fn after_a_gap_the_gate_does_not_burst_to_catch_up() {
        let t0 = Instant::now();
        let mut gate = PictureGate::default();
        assert!(gate.admit(t0, Some(10.0)));
        // A second without pictures, then the camera again at 30 fps.
        let later: Vec<Instant> = camera(t0 + Duration::from_secs(1), 9, 0);
        let sent: Vec<bool> = later.iter().map(|&t| gate.admit(t, Some(10.0))).collect();
        assert_eq!(
            sent,
            [true, false, false, true, false, false, true, false, false]
        );
    }

    #[test]
    fn held_to_fewer_pictures_each_gets_a_larger_share_of_the_same_rate() {
        assert_eq!(encoder_bitrate(600_000, 30.0, None), 600_000);
        assert_eq!(encoder_bitrate(600_000, 30.0, Some(60.0)), 600_000);
        assert_eq!(encoder_bitrate(600_000, 30.0, Some(15.0)), 1_200_000);
        assert_eq!(encoder_bitrate(600_000, 30.0, Some(1.0)), 2_400_000);
        assert_eq!(encoder_bitrate(600_000, 30.0, Some(f32::NAN)), 600_000);
        assert_eq!(encoder_bitrate(600_000, 0.0, Some(10.0)), 600_000);
        let per_picture = f64::from(encoder_bitrate(300_000, 20.0, Some(8.0))) / 20.0;
        assert!((per_picture * 8.0 - 300_000.0).abs() < 1.0, "{per_picture}");
    }

    #[test]
    fn the_receivers_rate_keeps_a_margin_and_ignores_nonsense() {
        assert_eq!(receivers_fps(None), None);
        assert_eq!(receivers_fps(Some(f32::NAN)), None);
        assert_eq!(receivers_fps(Some(0.0)), None);
        let fps = receivers_fps(Some(24.0)).expect("a limit");
        assert!((fps - 22.8).abs() < 1e-4, "{fps}");
    }
}
