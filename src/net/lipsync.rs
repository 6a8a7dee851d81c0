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
//! [`LipSync::shown`] records that offset for each shown picture and returns the
//! delay the voice should be held to: the median video delay of the last
//! [`VIDEO_WINDOW`] pictures plus [`AUDIO_LEAD_US`] (the middle of the accepted
//! −40…+60 ms). The voice never plays earlier than its own jitter needs; where that
//! is later than the pictures, the offset stays positive (the pictures are not
//! held back for the voice).

use std::collections::VecDeque;

use super::stats::percentile;

/// Pictures whose delay sets the voice's (2 s at 15 fps).
pub const VIDEO_WINDOW: usize = 30;
/// The voice is held this much behind the pictures: the middle of the accepted
/// window, −40 ms (audio early) to +60 ms (audio late).
pub const AUDIO_LEAD_US: i64 = 10_000;
/// Offsets kept for the median (beyond, the oldest go).
pub const OFFSET_HISTORY: usize = 4096;

/// One remote person's picture delays and A/V offsets.
#[derive(Debug, Clone, Default)]
pub struct LipSync {
    recent_video_us: VecDeque<i64>,
    offsets_ms: VecDeque<f32>,
}

impl LipSync {
    /// A picture was shown `video_delay_us` after its capture while the voice
    /// played `audio_delay_us` after its capture (`None`: silent, or a voice
    /// without capture times). Returns the delay to hold the voice to, µs.
    pub fn shown(&mut self, video_delay_us: i64, audio_delay_us: Option<i64>) -> i64 {
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
        recent[recent.len() / 2] + AUDIO_LEAD_US
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

    #[test]
    fn the_offset_is_audio_minus_video_and_its_median_is_reported() {
        let mut sync = LipSync::default();
        assert_eq!(sync.av_offset_ms(), None);
        // Audio played 300 ms after capture, pictures 100 ms: audio 200 ms late.
        sync.shown(100_000, Some(300_000));
        sync.shown(120_000, Some(300_000));
        sync.shown(90_000, None);
        sync.shown(100_000, Some(60_000));
        assert_eq!(sync.measured(), 3);
        assert_eq!(sync.av_offset_ms(), Some(180.0));
    }

    #[test]
    fn the_voice_is_held_to_the_median_picture_delay_plus_the_lead() {
        let mut sync = LipSync::default();
        let mut floor = 0;
        // Pictures at 200 ms, one in five late by a render hiccup.
        for i in 0..60 {
            let video = if i % 5 == 0 { 280_000 } else { 200_000 };
            floor = sync.shown(video, None);
        }
        assert_eq!(floor, 200_000 + AUDIO_LEAD_US);
        // The pictures' delay grows (a repair raised their playout): the voice follows
        // within a window.
        for _ in 0..VIDEO_WINDOW / 2 + 1 {
            floor = sync.shown(400_000, None);
        }
        assert_eq!(floor, 400_000 + AUDIO_LEAD_US);
    }

    #[test]
    fn offsets_are_bounded_and_the_newest_kept() {
        let mut sync = LipSync::default();
        for _ in 0..OFFSET_HISTORY {
            sync.shown(0, Some(500_000));
        }
        for _ in 0..OFFSET_HISTORY / 2 + 1 {
            sync.shown(0, Some(10_000));
        }
        assert_eq!(sync.measured(), OFFSET_HISTORY);
        assert_eq!(sync.av_offset_ms(), Some(10.0));
    }
}
