//! Sans-IO timing for recordings: one clock for audio and video, cut into
//! fragments by timestamp.
//!
//! - [`AudioAligner`] turns timestamped PCM chunks into one gap-free stream:
//!   small jitter is absorbed, larger gaps become silence, overlaps are trimmed,
//!   so audio never drifts more than [`AUDIO_TOLERANCE_SAMPLES`] from the clock.
//! - [`Interleaver`] takes encoded video samples (decode time from the recording
//!   origin) and audio packets (sample positions), gives every video sample the
//!   duration up to the next one, and hands out [`Fragment`]s covering about
//!   `fragment_duration` of media, audio and video cut at the same instant.
//!
//! Nothing here reads a clock, spawns a thread or touches a file.

use std::collections::VecDeque;
use std::time::Duration;

use super::mp4::{AUDIO_TIMESCALE, Fragment, Sample, VIDEO_TIMESCALE};

/// Audio within this many samples (20 ms at 48 kHz) of where the stream expects
/// it is treated as contiguous; beyond that a gap is filled or an overlap trimmed.
pub const AUDIO_TOLERANCE_SAMPLES: u64 = 960;

/// Converts a time since the origin into ticks of `timescale` (rounded).
pub fn to_ticks(time: Duration, timescale: u32) -> u64 {
    let nanos = time.as_nanos() * u128::from(timescale);
    ((nanos + 500_000_000) / 1_000_000_000) as u64
}

/// Converts ticks of `timescale` into a time since the origin.
pub fn from_ticks(ticks: u64, timescale: u32) -> Duration {
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(timescale.max(1));
    Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
}

/// Most frame slots filled in one gap (2 s at 30 fps): a longer stall is shown
/// as a held frame by the sample's duration instead of as many repeats.
pub const MAX_FILLED_SLOTS: u64 = 60;

/// The frame slots of a `fps` grid strictly between a frame at `last` and the
/// next one at `next` (both on the grid, give or take rounding), at most
/// [`MAX_FILLED_SLOTS`]: where a recording repeats the last frame so that it
/// plays at its frame rate.
pub fn missed_slots(last: Duration, next: Duration, fps: f32) -> impl Iterator<Item = Duration> {
    let fps = f64::from(fps.max(1.0));
    let slot = |t: Duration| (t.as_secs_f64() * fps).round() as u64;
    let (first, end) = (slot(last) + 1, slot(next));
    let end = end.min(first + MAX_FILLED_SLOTS);
    (first..end).map(move |k| Duration::from_secs_f64(k as f64 / fps))
}

/// Makes one continuous interleaved PCM stream out of timestamped chunks.
#[derive(Clone, Debug)]
pub struct AudioAligner {
    channels: usize,
    start: Option<u64>,
    next: u64,
}

impl AudioAligner {
    /// An aligner for `channels` interleaved channels.
    pub fn new(channels: u16) -> Self {
        Self {
            channels: usize::from(channels.max(1)),
            start: None,
            next: 0,
        }
    }

    /// The sample position (per channel) of the stream's first sample, once known.
    pub fn start(&self) -> Option<u64> {
        self.start
    }

    /// The position the next output sample will have.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    /// Takes a chunk whose first sample belongs at `pts` (samples per channel since
    /// the origin) and returns what to append to the stream, which continues at the
    /// position [`next_position`](Self::next_position) had before this call.
    pub fn push(&mut self, pts: u64, samples: &[i16]) -> Vec<i16> {
        let frames = (samples.len() / self.channels) as u64;
        let samples = &samples[..frames as usize * self.channels];
        if self.start.is_none() {
            self.start = Some(pts);
            self.next = pts + frames;
            return samples.to_vec();
        }
        let expected = self.next;
        let mut out = Vec::with_capacity(samples.len());
        if pts > expected + AUDIO_TOLERANCE_SAMPLES {
            let gap = (pts - expected) as usize * self.channels;
            out.resize(gap, 0);
            out.extend_from_slice(samples);
        } else if pts + AUDIO_TOLERANCE_SAMPLES < expected {
            let overlap = ((expected - pts).min(frames)) as usize * self.channels;
            out.extend_from_slice(&samples[overlap..]);
        } else {
            out.extend_from_slice(samples);
        }
        self.next = expected + (out.len() / self.channels) as u64;
        out
    }
}

/// Video samples waiting for their duration, and finished samples waiting for a
/// fragment, for one recording.
#[derive(Debug)]
pub struct Interleaver {
    fragment_ticks: u64,
    has_audio: bool,
    held_video: Option<Sample>,
    last_video_duration: u32,
    video: VecDeque<Sample>,
    audio: VecDeque<Sample>,
}

impl Interleaver {
    /// An interleaver cutting fragments of about `fragment_duration`; video without
    /// a known successor is given `nominal_frame` as its duration at the end.
    pub fn new(fragment_duration: Duration, nominal_frame: Duration, has_audio: bool) -> Self {
        Self {
            fragment_ticks: to_ticks(fragment_duration, VIDEO_TIMESCALE).max(1),
            has_audio,
            held_video: None,
            last_video_duration: to_ticks(nominal_frame, VIDEO_TIMESCALE)
                .clamp(1, u64::from(u32::MAX)) as u32,
            video: VecDeque::new(),
            audio: VecDeque::new(),
        }
    }

    /// Adds an encoded video sample decoded at `time` since the origin. Returns
    /// false (and drops it) unless its time is after the previous sample's.
    pub fn push_video(&mut self, time: Duration, data: Vec<u8>, is_sync: bool) -> bool {
        let dts = to_ticks(time, VIDEO_TIMESCALE);
        if let Some(mut held) = self.held_video.take() {
            if dts <= held.dts {
                self.held_video = Some(held);
                return false;
            }
            let duration = (dts - held.dts).min(u64::from(u32::MAX)) as u32;
            held.duration = duration;
            self.last_video_duration = duration;
            self.video.push_back(held);
        }
        self.held_video = Some(Sample {
            data,
            dts,
            duration: 0,
            is_sync,
        });
        true
    }

    /// Adds an audio packet starting at sample `position` lasting `duration` samples.
    pub fn push_audio(&mut self, position: u64, duration: u32, data: Vec<u8>) {
        self.audio.push_back(Sample {
            data,
            dts: position,
            duration,
            is_sync: true,
        });
    }

    /// The next fragment, once enough media is ready: about `fragment_duration` of
    /// video, with the audio up to the same instant.
    pub fn poll_fragment(&mut self) -> Option<Fragment> {
        let video_span = match (self.video.front(), self.video.back()) {
            (Some(first), Some(last)) => last.dts + u64::from(last.duration) - first.dts,
            _ => 0,
        };
        let audio_span = match (self.audio.front(), self.audio.back()) {
            (Some(first), Some(last)) => {
                audio_to_video_ticks(last.dts + u64::from(last.duration) - first.dts)
            }
            _ => 0,
        };
        if video_span >= self.fragment_ticks {
            let cut = self
                .video
                .back()
                .map(|s| s.dts + u64::from(s.duration))
                .unwrap_or(0);
            Some(self.take_until(cut))
        } else if self.has_audio && audio_span >= 4 * self.fragment_ticks {
            // Video stalled (no frames for a while): keep the audio flowing.
            Some(Fragment {
                video: self.video.drain(..).collect(),
                audio: self.audio.drain(..).collect(),
            })
        } else {
            None
        }
    }

    /// Everything left, the last video sample given the previous frame's duration.
    pub fn finish(&mut self) -> Option<Fragment> {
        if let Some(mut held) = self.held_video.take() {
            held.duration = self.last_video_duration;
            self.video.push_back(held);
        }
        if self.video.is_empty() && self.audio.is_empty() {
            return None;
        }
        Some(Fragment {
            video: self.video.drain(..).collect(),
            audio: self.audio.drain(..).collect(),
        })
    }

    /// All ready video, and the audio packets that start before `cut` (90 kHz).
    fn take_until(&mut self, cut: u64) -> Fragment {
        let video = self.video.drain(..).collect();
        let mut audio = Vec::new();
        while let Some(first) = self.audio.front() {
            if audio_to_video_ticks(first.dts) >= cut {
                break;
            }
            if let Some(sample) = self.audio.pop_front() {
                audio.push(sample);
            }
        }
        Fragment { video, audio }
    }
}

fn audio_to_video_ticks(audio_ticks: u64) -> u64 {
    (u128::from(audio_ticks) * u128::from(VIDEO_TIMESCALE) / u128::from(AUDIO_TIMESCALE)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_nanos(33_333_333);

    #[test]
    fn missed_slots_lie_strictly_between_two_frames() {
        let ms = |v: u64| Duration::from_millis(v);
        let fill: Vec<Duration> = missed_slots(ms(100), ms(200), 30.0).collect();
        // 100 ms is slot 3, 200 ms slot 6: slots 4 and 5 were missed.
        assert_eq!(fill.len(), 2);
        assert!((fill[0].as_secs_f64() - 4.0 / 30.0).abs() < 1e-9);
        assert!((fill[1].as_secs_f64() - 5.0 / 30.0).abs() < 1e-9);
        assert_eq!(missed_slots(ms(100), ms(133), 30.0).count(), 0, "next slot");
        assert_eq!(missed_slots(ms(500), ms(100), 30.0).count(), 0, "backwards");
        assert_eq!(
            missed_slots(ms(0), ms(60_000), 30.0).count() as u64,
            MAX_FILLED_SLOTS
        );
    }

    #[test]
    fn ticks_round_trip_through_durations() {
        assert_eq!(to_ticks(Duration::from_secs(2), VIDEO_TIMESCALE), 180_000);
        assert_eq!(to_ticks(Duration::from_millis(20), AUDIO_TIMESCALE), 960);
        assert_eq!(from_ticks(90_000, VIDEO_TIMESCALE), Duration::from_secs(1));
    }

    #[test]
    fn aligner_passes_contiguous_audio_through() {
        let mut a = AudioAligner::new(1);
        assert_eq!(a.push(480, &[1, 2, 3]), vec![1, 2, 3]);
        assert_eq!(a.start(), Some(480));
        // 10 samples of jitter is inside the tolerance: still contiguous.
        assert_eq!(a.push(493, &[4, 5]), vec![4, 5]);
        assert_eq!(a.next_position(), 485);
    }

    #[test]
    fn aligner_fills_gaps_with_silence_and_trims_overlaps() {
        let mut a = AudioAligner::new(2);
        a.push(0, &[1, 1, 2, 2]);
        let gap = AUDIO_TOLERANCE_SAMPLES + 10;
        let out = a.push(2 + gap, &[3, 3]);
        assert_eq!(out.len(), (gap as usize + 1) * 2);
        assert!(out[..gap as usize * 2].iter().all(|&s| s == 0));
        assert_eq!(a.next_position(), 3 + gap);
        // A chunk far in the past overlaps entirely and is dropped.
        assert!(a.push(0, &[9, 9, 9, 9]).is_empty());
        assert_eq!(a.next_position(), 3 + gap);
    }

    #[test]
    fn a_skewed_audio_clock_never_drifts_past_the_tolerance_over_ten_minutes() {
        // The device delivers 0.1% more samples than wall time (fast clock), and
        // then a device 0.1% slow: in both, the stream position stays within
        // the tolerance of the chunk timestamps.
        for (samples_per_chunk, label) in [(481usize, "fast"), (479usize, "slow")] {
            let mut a = AudioAligner::new(1);
            let chunk = vec![0i16; samples_per_chunk];
            let mut worst = 0i64;
            for i in 0..60_000u64 {
                let pts = i * 480; // 10 ms of wall time per chunk
                let start = a.next_position();
                a.push(pts, &chunk);
                if i > 0 {
                    worst = worst.max((start as i64 - pts as i64).abs());
                }
            }
            assert!(
                worst <= AUDIO_TOLERANCE_SAMPLES as i64 + samples_per_chunk as i64,
                "{label}: worst offset {worst} samples"
            );
            let end_error = a.next_position() as i64 - 60_000 * 480;
            assert!(
                end_error.unsigned_abs() <= AUDIO_TOLERANCE_SAMPLES + 481,
                "{label}: {end_error}"
            );
        }
    }

    #[test]
    fn video_samples_get_the_duration_up_to_the_next_one() {
        let mut il = Interleaver::new(Duration::from_secs(10), FRAME, false);
        assert!(il.push_video(Duration::ZERO, vec![1], true));
        assert!(il.push_video(Duration::from_millis(40), vec![2], false));
        assert!(
            !il.push_video(Duration::from_millis(40), vec![3], false),
            "same time refused"
        );
        assert!(il.push_video(Duration::from_millis(100), vec![4], false));
        let frag = il.finish().expect("fragment");
        let durations: Vec<u32> = frag.video.iter().map(|s| s.duration).collect();
        assert_eq!(durations, vec![3600, 5400, 5400]);
        assert_eq!(frag.video[0].dts, 0);
        assert!(frag.video[0].is_sync && !frag.video[1].is_sync);
    }

    #[test]
    fn fragments_cut_audio_and_video_at_the_same_instant() {
        let mut il = Interleaver::new(Duration::from_millis(500), FRAME, true);
        let mut fragments = Vec::new();
        // 2 s of 30 fps video and 20 ms audio packets, pushed in time order.
        let mut audio_pos = 0u64;
        for i in 0..60u32 {
            let t = FRAME * i;
            il.push_video(t, vec![0; 10], i % 30 == 0);
            while from_ticks(audio_pos, AUDIO_TIMESCALE) <= t {
                il.push_audio(audio_pos, 960, vec![0; 3]);
                audio_pos += 960;
            }
            while let Some(f) = il.poll_fragment() {
                fragments.push(f);
            }
        }
        fragments.extend(il.finish());
        assert!(fragments.len() >= 3, "{} fragments", fragments.len());
        let total_video: usize = fragments.iter().map(|f| f.video.len()).sum();
        let total_audio: usize = fragments.iter().map(|f| f.audio.len()).sum();
        assert_eq!(total_video, 60);
        assert_eq!(total_audio as u64, audio_pos / 960);
        for f in &fragments[..fragments.len() - 1] {
            let video_end = f
                .video
                .last()
                .map(|s| s.dts + u64::from(s.duration))
                .unwrap_or(0);
            for a in &f.audio {
                assert!(audio_to_video_ticks(a.dts) < video_end);
            }
            let span = video_end - f.video[0].dts;
            assert!((45_000..=50_000).contains(&span), "span {span}");
        }
    }

    #[test]
    fn audio_keeps_flowing_when_video_stalls() {
        let mut il = Interleaver::new(Duration::from_millis(500), FRAME, true);
        il.push_video(Duration::ZERO, vec![1], true);
        for i in 0..120u64 {
            il.push_audio(i * 960, 960, vec![0]);
        }
        let frag = il.poll_fragment().expect("audio-only fragment");
        assert_eq!(frag.audio.len(), 120);
        assert!(frag.video.is_empty());
    }
}
