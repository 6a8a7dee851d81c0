//! Lip sync of one remote person, measured and steered where their pictures are
//! shown (pure: callers pass the delays).
//!
//! Both streams carry the sender's capture times: each picture in its SEI
//! ([`super::peer::capture_time`]), each voice packet in `abs-capture-time`, which
//! the voice's playout maps onto its RTP timestamps
//! ([`crate::media::voice::playout`]). So at the moment a picture is shown, its
//! delay (capture → shown) and the delay of the voice playing at that moment
//! (capture → played) are both known on one pair of clocks, and
//!
//! `offset = audio delay − video delay` (positive: the audio plays late).
//!
//! [`LipSync::shown`] records that offset for each shown picture and steers both
//! streams to the later one ([`Steer`]):
//! - the voice is held to the median video delay of the last [`VIDEO_WINDOW`]
//!   pictures plus [`AUDIO_LEAD_US`] (the middle of the accepted −40…+60 ms);
//! - the voice never plays earlier than its own jitter needs: where that need is
//!   later than the pictures (plus the lead), the pictures are held back by as
//!   much, the hold closing the difference at [`HOLD_RATE_PER_S`] and letting go
//!   at [`LET_GO_RATE_PER_S`] once the pictures are the later stream again. The
//!   need is the voice's recent one (2 s of packets): a burst of late audio holds
//!   the pictures briefly, if at all.

use std::collections::VecDeque;

use super::stats::percentile;

/// Pictures whose delay sets the voice's (2 s at 15 fps).
pub const VIDEO_WINDOW: usize = 30;
/// The voice is held this much behind the pictures: the middle of the accepted
/// window, −40 ms (audio early) to +60 ms (audio late).
pub const AUDIO_LEAD_US: i64 = 10_000;
/// Offsets kept for the median (beyond, the oldest go).
pub const OFFSET_HISTORY: usize = 4096;
/// Rate (per second) at which the pictures' hold closes the difference between
/// the voice's recent need and the pictures' delay while it grows: about 3 s to
/// come most of the way, whatever the frame rate (a per-picture gain took 4.4 s
/// at the send ladder's 7.5 fps).
pub const HOLD_RATE_PER_S: f64 = 0.3;
/// Rate at which the hold lets go once the pictures are the later stream again:
/// quickly, so a burst of late audio does not keep the pictures late.
pub const LET_GO_RATE_PER_S: f64 = 2.0;
/// The most the pictures are held for the voice.
pub const MAX_VIDEO_HOLD_US: i64 = 400_000;

/// What [`LipSync::shown`] asks of the two streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steer {
    /// Hold the voice at least this long after its capture, µs.
    pub audio_floor_us: i64,
    /// Hold the pictures this much longer than their own playout needs, µs.
    pub video_hold_us: i64,
}

/// One remote person's picture delays and A/V offsets.
#[derive(Debug, Clone, Default)]
pub struct LipSync {
    recent_video_us: VecDeque<i64>,
    offsets_ms: VecDeque<f32>,
    video_hold_us: f64,
    last_shown: Option<std::time::Instant>,
}

impl LipSync {
    /// A picture was shown `video_delay_us` after its capture while the voice
    /// played `audio_delay_us` after its capture (`None`: silent, or a voice
    /// without capture times); the voice needs `audio_need_us` for its own jitter
    /// (`None`: unknown, or a voice that cannot be synchronised).
    pub fn shown(
        &mut self,
        now: std::time::Instant,
        video_delay_us: i64,
        audio_delay_us: Option<i64>,
        audio_need_us: Option<i64>,
    ) -> Steer {
        if self.recent_video_us.len() >= VIDEO_WINDOW {
            self.recent_video_us.pop_front();
        }
        self.recent_video_us.push_back(video_delay_us);
        if let Some(audio) = audio_delay_us {
            if self.offsets_ms.len() >= OFFSET_HISTORY {
                self.offsets_ms.pop_front();
            }
            self.offsets_ms
                .push_back((audio - video_delay_us) as f32 / 1000.0);
        }
        let mut recent: Vec<i64> = self.recent_video_us.iter().copied().collect();
        recent.sort_unstable();
        let video = recent[recent.len() / 2];
        let behind = audio_need_us.map_or(0, |need| need - AUDIO_LEAD_US - video);
        let dt = self.last_shown.map_or(0.0, |at| {
            now.saturating_duration_since(at).as_secs_f64().min(0.5)
        });
        self.last_shown = Some(now);
        let rate = if behind > 0 {
            HOLD_RATE_PER_S
        } else {
            LET_GO_RATE_PER_S
        };
        let gain = 1.0 - (-rate * dt).exp();
        self.video_hold_us = if behind > 0 || self.video_hold_us > 0.0 {
            (self.video_hold_us + gain * behind as f64).clamp(0.0, MAX_VIDEO_HOLD_US as f64)
        } else {
            0.0
        };
        Steer {
            audio_floor_us: video + AUDIO_LEAD_US,
            video_hold_us: self.video_hold_us.round() as i64,
        }
    }

    /// The median A/V offset, ms (positive: audio late); `None` before any.
    pub fn av_offset_ms(&self) -> Option<f32> {
        let offsets: Vec<f32> = self.offsets_ms.iter().copied().collect();
        percentile(&offsets, 0.5)
    }

    /// How many offsets were measured.
    pub fn measured(&self) -> usize {
        self.offsets_ms.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next shown picture's instant in this test: one every 66.7 ms (15 fps).
    fn tick() -> std::time::Instant {
        thread_local! {
            static CLOCK: std::cell::Cell<(std::time::Instant, u64)> =
                std::cell::Cell::new((std::time::Instant::now(), 0));
        }
        CLOCK.with(|clock| {
            let (t0, n) = clock.get();
            clock.set((t0, n + 1));
            t0 + std::time::Duration::from_micros(n * 66_667)
        })
    }

    #[test]
    fn the_offset_is_audio_minus_video_and_its_median_is_reported() {
        let mut sync = LipSync::default();
        assert_eq!(sync.av_offset_ms(), None);
        // Audio played 300 ms after capture, pictures 100 ms: audio 200 ms late.
        sync.shown(tick(), 100_000, Some(300_000), None);
        sync.shown(tick(), 120_000, Some(300_000), None);
        sync.shown(tick(), 90_000, None, None);
        sync.shown(tick(), 100_000, Some(60_000), None);
        assert_eq!(sync.measured(), 3);
        assert_eq!(sync.av_offset_ms(), Some(180.0));
    }

    #[test]
    fn the_voice_is_held_to_the_median_picture_delay_plus_the_lead() {
        let mut sync = LipSync::default();
        let mut steer = sync.shown(tick(), 0, None, None);
        // Pictures at 200 ms, one in five late by a render hiccup; the voice could
        // play after 60 ms.
        for i in 0..60 {
            let video = if i % 5 == 0 { 280_000 } else { 200_000 };
            steer = sync.shown(tick(), video, None, Some(60_000));
        }
        assert_eq!(steer.audio_floor_us, 200_000 + AUDIO_LEAD_US);
        assert_eq!(steer.video_hold_us, 0, "the pictures are the later stream");
        // The pictures' delay grows (a repair raised their playout): the voice follows
        // within a window.
        for _ in 0..VIDEO_WINDOW / 2 + 1 {
            steer = sync.shown(tick(), 400_000, None, Some(60_000));
        }
        assert_eq!(steer.audio_floor_us, 400_000 + AUDIO_LEAD_US);
    }

    /// Pictures that could be shown `natural` µs after capture, held as asked,
    /// against a voice that needs `need` µs: the offsets of `frames` shown pictures
    /// (the voice playing at its floor or its need, whichever is later).
    fn settle(sync: &mut LipSync, frames: usize, natural: i64, need: i64) -> Vec<i64> {
        let mut hold = 0;
        let mut floor = need;
        let mut offsets = Vec::new();
        for _ in 0..frames {
            let video = natural + hold;
            let audio = floor.max(need);
            offsets.push(audio - video);
            let steer = sync.shown(tick(), video, Some(audio), Some(need));
            (hold, floor) = (steer.video_hold_us, steer.audio_floor_us);
        }
        offsets
    }

    #[test]
    fn pictures_are_held_for_a_voice_that_needs_longer_and_let_go_after() {
        let mut sync = LipSync::default();
        // A jittery link: the voice needs 250 ms, the pictures could show after 100.
        let offsets = settle(&mut sync, 450, 100_000, 250_000);
        assert!(offsets[0] > 100_000, "far apart at first: {}", offsets[0]);
        let last = &offsets[300..];
        assert!(
            last.iter().all(|o| (-40_000..=60_000).contains(o)),
            "in sync after 20 s: {:?}",
            &last[..5]
        );
        let hold = sync
            .shown(tick(), 240_000, None, Some(250_000))
            .video_hold_us;
        assert!((120_000..=160_000).contains(&hold), "{hold}");
        // The voice's need falls back (the jitter is gone): the pictures let go.
        let offsets = settle(&mut sync, 600, 100_000, 40_000);
        assert!(
            offsets[599].abs() <= AUDIO_LEAD_US + 1000,
            "{}",
            offsets[599]
        );
        assert_eq!(
            sync.shown(tick(), 100_000, None, Some(40_000))
                .video_hold_us,
            0
        );
    }

    #[test]
    fn offsets_are_bounded_and_the_newest_kept() {
        let mut sync = LipSync::default();
        for _ in 0..OFFSET_HISTORY {
            sync.shown(tick(), 0, Some(500_000), None);
        }
        for _ in 0..OFFSET_HISTORY / 2 + 1 {
            sync.shown(tick(), 0, Some(10_000), None);
        }
        assert_eq!(sync.measured(), OFFSET_HISTORY);
        assert_eq!(sync.av_offset_ms(), Some(10.0));
    }
}
