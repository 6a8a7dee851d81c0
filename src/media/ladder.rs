//! The send-quality ladder (pure): from the congestion controller's estimate to
//! the video encoder's bit rate, picture size and frame rate.
//!
//! One encoding serves every peer, so the caller passes the slowest peer's
//! estimate. The video gets [`LadderConfig::headroom`] of it less the audio
//! reserve, at most the configured rate. Then the rung: each [`RUNGS`] entry
//! scales the capture size and the configured frame rate (640x480@30 →
//! 480x360@20 → 320x240@15). A rung is left downwards when the video budget has
//! given it fewer than [`LadderConfig::down_bpp`] bits per pixel for
//! [`LadderConfig::down_after`]: the bit rate falls at once, the picture size a
//! moment later, because each change of size costs a keyframe, and a keyframe
//! sent into the queue that made the estimate fall stood there and froze the
//! picture (measured: docs/NET.md, *Congestion control*); a keyframe that a peer
//! asked for meanwhile takes the step with it. Upwards only when the rung above would get at
//! least [`LadderConfig::up_bpp`] for [`LadderConfig::up_after`] without a break and
//! [`LadderConfig::hold`] has passed since the last change, so the ladder does not
//! oscillate around a threshold (each change costs a keyframe).

use std::time::{Duration, Instant};

/// One step of the ladder, relative to the capture size and the configured rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rung {
    /// Width and height as a share of the capture's.
    pub scale: f32,
    /// Frame rate as a share of the configured one.
    pub fps_share: f32,
}

/// The rungs, best first: 640x480@30 → 480x360@20 → 320x240@15 for a 640x480
/// camera at 30 fps.
pub const RUNGS: [Rung; 3] = [
    Rung {
        scale: 1.0,
        fps_share: 1.0,
    },
    Rung {
        scale: 0.75,
        fps_share: 2.0 / 3.0,
    },
    Rung {
        scale: 0.5,
        fps_share: 0.5,
    },
];

/// What the ladder is fitted to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LadderConfig {
    /// The most video ever sent (`--video-kbit`), bits per second.
    pub max_video_bps: u32,
    /// The least video sent however low the estimate, bits per second.
    pub min_video_bps: u32,
    /// Kept for the audio (Opus, its packet overhead), bits per second.
    pub audio_reserve_bps: u32,
    /// Share of the estimate the media may use (the rate control overshoots, and
    /// retransmissions need room).
    pub headroom: f32,
    /// A rung is left downwards below this many bits per pixel.
    pub down_bpp: f32,
    /// How long the budget must have been under [`Self::down_bpp`] before
    /// stepping down (the queue that made the estimate fall drains meanwhile).
    pub down_after: Duration,
    /// The rung above is taken when it would get at least this many.
    pub up_bpp: f32,
    /// How long the rung above must have been affordable before stepping up.
    pub up_after: Duration,
    /// The least time on a rung before stepping up.
    pub hold: Duration,
}

impl LadderConfig {
    /// Defaults for `max_video_bps` (thresholds: docs/NET.md, *Congestion control*).
    pub fn new(max_video_bps: u32) -> Self {
        Self {
            max_video_bps,
            min_video_bps: 30_000,
            audio_reserve_bps: 48_000,
            headroom: 0.9,
            down_bpp: 0.02,
            down_after: Duration::from_secs(1),
            up_bpp: 0.05,
            up_after: Duration::from_secs(2),
            hold: Duration::from_secs(4),
        }
    }
}

/// What to encode now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SendPlan {
    /// Index into [`RUNGS`].
    pub rung: usize,
    /// Video bit rate for the encoder, bits per second.
    pub video_bps: u32,
}

impl SendPlan {
    /// The rung's scale and frame-rate share.
    pub fn rung(&self) -> Rung {
        RUNGS[self.rung]
    }
}

/// The ladder's state: the rung in use and since when.
#[derive(Clone, Debug)]
pub struct Ladder {
    config: LadderConfig,
    rung: usize,
    changed_at: Option<Instant>,
    up_since: Option<Instant>,
    down_since: Option<Instant>,
}

impl Ladder {
    /// Starting on the best rung.
    pub fn new(config: LadderConfig) -> Self {
        Self {
            config,
            rung: 0,
            changed_at: None,
            up_since: None,
            down_since: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &LadderConfig {
        &self.config
    }

    /// The video budget for an estimate (`None`: nobody to send to, or no estimate
    /// yet: the configured rate).
    pub fn video_bps(&self, estimate_bps: Option<u64>) -> u32 {
        let c = &self.config;
        let Some(estimate) = estimate_bps else {
            return c.max_video_bps;
        };
        let usable = estimate as f64 * f64::from(c.headroom) - f64::from(c.audio_reserve_bps);
        usable
            .round()
            .clamp(f64::from(c.min_video_bps), f64::from(c.max_video_bps)) as u32
    }

    /// Bits per pixel that `video_bps` gives rung `rung` when the best rung shows
    /// `full_pixels_per_s` (capture width × height × configured fps).
    pub fn bits_per_pixel(video_bps: u32, rung: usize, full_pixels_per_s: f64) -> f32 {
        let r = RUNGS[rung];
        let pixels =
            full_pixels_per_s * f64::from(r.scale) * f64::from(r.scale) * f64::from(r.fps_share);
        if pixels <= 0.0 {
            return f32::INFINITY;
        }
        (f64::from(video_bps) / pixels) as f32
    }

    /// The plan at `now` for the slowest peer's `estimate_bps`. With
    /// `keyframe_due` (a peer asked for one), a pending step down is taken at once:
    /// the keyframe it costs is sent anyway.
    pub fn update(
        &mut self,
        now: Instant,
        estimate_bps: Option<u64>,
        full_pixels_per_s: f64,
        keyframe_due: bool,
    ) -> SendPlan {
        let video_bps = self.video_bps(estimate_bps);
        let bpp = |rung| Self::bits_per_pixel(video_bps, rung, full_pixels_per_s);
        let mut rung = self.rung;
        while rung + 1 < RUNGS.len() && bpp(rung) < self.config.down_bpp {
            rung += 1;
        }
        if rung != self.rung {
            let since = *self.down_since.get_or_insert(now);
            if keyframe_due || now.saturating_duration_since(since) >= self.config.down_after {
                self.change(now, rung);
            }
        } else if rung > 0 && bpp(rung - 1) >= self.config.up_bpp {
            let since = *self.up_since.get_or_insert(now);
            let held = self
                .changed_at
                .is_none_or(|t| now.saturating_duration_since(t) >= self.config.hold);
            if held && now.saturating_duration_since(since) >= self.config.up_after {
                self.change(now, rung - 1);
            }
        } else {
            self.up_since = None;
        }
        if rung == self.rung {
            self.down_since = None;
        }
        SendPlan {
            rung: self.rung,
            video_bps,
        }
    }

    fn change(&mut self, now: Instant, rung: usize) {
        self.rung = rung;
        self.changed_at = Some(now);
        self.up_since = None;
        self.down_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 640x480 at 30 fps.
    const FULL: f64 = 640.0 * 480.0 * 30.0;

    fn ladder() -> Ladder {
        Ladder::new(LadderConfig::new(600_000))
    }

    #[test]
    fn the_video_gets_the_estimate_less_headroom_and_audio_within_the_configured_rate() {
        let l = ladder();
        assert_eq!(l.video_bps(None), 600_000);
        assert_eq!(l.video_bps(Some(5_000_000)), 600_000);
        assert_eq!(l.video_bps(Some(300_000)), 300_000 * 9 / 10 - 48_000);
        assert_eq!(l.video_bps(Some(10_000)), 30_000);
    }

    #[test]
    fn a_falling_estimate_steps_down_after_a_moment_and_as_far_as_needed() {
        let mut l = ladder();
        let t = Instant::now();
        let later = t + Duration::from_secs(1);
        assert_eq!(l.update(t, Some(700_000), FULL, false).rung, 0);
        // 300 kbit/s: 222 kbit/s of video is 0.024 bpp on the best rung.
        assert_eq!(l.update(t, Some(300_000), FULL, false).rung, 0);
        // 200 kbit/s: 132 kbit/s is 0.014 bpp there, 0.038 one rung down: the bit
        // rate falls at once, the picture size after `down_after`.
        let plan = l.update(t, Some(200_000), FULL, false);
        assert_eq!((plan.rung, plan.video_bps), (0, 132_000));
        assert_eq!(l.update(later, Some(200_000), FULL, false).rung, 1);
        let mut l = ladder();
        // 110 kbit/s: 51 kbit/s is 0.015 bpp on the middle rung, 0.044 below.
        l.update(t, Some(110_000), FULL, false);
        assert_eq!(l.update(later, Some(110_000), FULL, false).rung, 2);
    }

    #[test]
    fn a_dip_shorter_than_the_wait_keeps_the_picture_size() {
        let mut l = ladder();
        let t = Instant::now();
        let at = |ms: u64| t + Duration::from_millis(ms);
        assert_eq!(l.update(t, Some(110_000), FULL, false).rung, 0);
        assert_eq!(l.update(at(900), Some(110_000), FULL, false).rung, 0);
        // Back over the threshold before the wait is over: the wait starts again.
        assert_eq!(l.update(at(950), Some(700_000), FULL, false).rung, 0);
        assert_eq!(l.update(at(1_100), Some(110_000), FULL, false).rung, 0);
        assert_eq!(l.update(at(2_050), Some(110_000), FULL, false).rung, 0);
        assert_eq!(l.update(at(2_100), Some(110_000), FULL, false).rung, 2);
    }

    #[test]
    fn a_keyframe_asked_for_takes_the_pending_step_down_with_it() {
        let mut l = ladder();
        let t = Instant::now();
        let at = |ms: u64| t + Duration::from_millis(ms);
        assert_eq!(l.update(t, Some(110_000), FULL, false).rung, 0);
        assert_eq!(l.update(at(300), Some(110_000), FULL, true).rung, 2);
        // Without a step pending, a keyframe changes nothing.
        assert_eq!(l.update(at(400), Some(110_000), FULL, true).rung, 2);
        assert_eq!(l.update(at(500), Some(5_000_000), FULL, true).rung, 2);
    }

    #[test]
    fn a_rising_estimate_steps_up_only_after_the_hold() {
        let mut l = ladder();
        let t0 = Instant::now();
        l.update(t0, Some(110_000), FULL, false);
        let t = t0 + Duration::from_secs(1);
        assert_eq!(l.update(t, Some(110_000), FULL, false).rung, 2);
        let at = |s: u64| t + Duration::from_millis(s);
        // Back to plenty: the lowest rung is kept until both waits are over.
        assert_eq!(l.update(at(1_000), Some(1_000_000), FULL, false).rung, 2);
        assert_eq!(l.update(at(3_500), Some(1_000_000), FULL, false).rung, 2);
        assert_eq!(l.update(at(4_000), Some(1_000_000), FULL, false).rung, 1);
        // One more rung needs another hold.
        assert_eq!(l.update(at(6_500), Some(1_000_000), FULL, false).rung, 1);
        assert_eq!(l.update(at(8_000), Some(1_000_000), FULL, false).rung, 1);
        assert_eq!(l.update(at(8_500), Some(1_000_000), FULL, false).rung, 0);
    }

    #[test]
    fn an_estimate_between_the_thresholds_keeps_the_rung_either_way() {
        let t = Instant::now();
        // 270-280 kbit/s: 195-204 kbit/s of video is 0.021-0.022 bpp on the best
        // rung: above the 0.02 that leaves it, below the 0.05 that takes it again.
        let mut from_top = ladder();
        from_top.update(t, Some(280_000), FULL, false);
        let mut from_below = ladder();
        from_below.update(t - Duration::from_secs(1), Some(110_000), FULL, false);
        assert_eq!(from_below.update(t, Some(110_000), FULL, false).rung, 2);
        for s in 1..60 {
            let now = t + Duration::from_secs(s);
            let estimate = if s % 2 == 0 { 280_000 } else { 270_000 };
            assert_eq!(from_top.update(now, Some(estimate), FULL, false).rung, 0);
        }
        let mut seen = Vec::new();
        for s in 1..60 {
            let now = t + Duration::from_secs(s);
            seen.push(from_below.update(now, Some(280_000), FULL, false).rung);
        }
        assert!(
            seen.windows(2).all(|w| w[1] <= w[0]),
            "only upwards: {seen:?}"
        );
        assert_eq!(seen.last(), Some(&1), "the middle rung, not the best");
    }

    #[test]
    fn a_brief_dip_in_the_estimate_restarts_the_wait_to_step_up() {
        let mut l = ladder();
        let t = Instant::now();
        l.update(t - Duration::from_secs(1), Some(110_000), FULL, false);
        l.update(t, Some(110_000), FULL, false);
        let at = |ms: u64| t + Duration::from_millis(ms);
        l.update(at(3_000), Some(1_000_000), FULL, false);
        // A dip that keeps the rung but makes the rung above unaffordable.
        assert_eq!(l.update(at(4_500), Some(150_000), FULL, false).rung, 2);
        assert_eq!(l.update(at(5_000), Some(1_000_000), FULL, false).rung, 2);
        assert_eq!(l.update(at(6_900), Some(1_000_000), FULL, false).rung, 2);
        assert_eq!(l.update(at(7_000), Some(1_000_000), FULL, false).rung, 1);
    }
}
