//! What a peer measures about each other peer: frames, audio, the sender's tone,
//! latency percentiles, bit rate, alpha fidelity; and the report lines built from it.
//! Pure (callers pass times in), apart from [`process_cpu_seconds`].

use std::time::{Duration, Instant};

use serde::Serialize;

use super::peer::reorder::ReorderStats;
use super::probe::ProbeMatcher;
use super::protocol::WirePlacement;
use crate::media::audio::{SAMPLE_RATE, tone_amplitude};

/// Tone frequencies a synthetic voice may use (Hz): far apart, so a Goertzel filter
/// on one hardly sees another, and above Opus' low-pass-free band edge issues.
pub const TONE_CANDIDATES: [f32; 12] = [
    400.0, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0, 1100.0, 1200.0, 1300.0, 1400.0, 1500.0,
];
/// Samples per tone decision (250 ms at 48 kHz).
pub const TONE_WINDOW: usize = SAMPLE_RATE as usize / 4;
/// A window's strongest candidate counts only above this amplitude (of 1.0).
pub const TONE_MIN_AMPLITUDE: f32 = 0.05;

/// The tone a peer named `name` sends (FNV-1a of the name picks a candidate).
pub fn tone_for_name(name: &str) -> f32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    TONE_CANDIDATES[(hash % TONE_CANDIDATES.len() as u32) as usize]
}

/// Finds the dominant candidate tone of a stream, window by window.
#[derive(Debug, Clone, Default)]
pub struct ToneDetector {
    buffer: Vec<f32>,
    votes: [u32; TONE_CANDIDATES.len()],
    windows: u32,
}

impl ToneDetector {
    /// Adds decoded mono samples at 48 kHz.
    pub fn push(&mut self, samples: &[f32]) {
        self.buffer.extend_from_slice(samples);
        while self.buffer.len() >= TONE_WINDOW {
            let window: Vec<f32> = self.buffer.drain(..TONE_WINDOW).collect();
            self.windows += 1;
            let best = TONE_CANDIDATES
                .iter()
                .enumerate()
                .map(|(i, &f)| (i, tone_amplitude(&window, SAMPLE_RATE, f)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, amp)) = best
                && amp >= TONE_MIN_AMPLITUDE
            {
                self.votes[i] += 1;
            }
        }
    }

    /// The candidate that won most windows, if any window had a clear tone.
    pub fn dominant(&self) -> Option<f32> {
        let (i, &votes) = self.votes.iter().enumerate().max_by_key(|(_, v)| **v)?;
        (votes > 0).then_some(TONE_CANDIDATES[i])
    }

    /// Share of analysed windows won by `frequency` (0 when none analysed).
    pub fn share_of(&self, frequency: f32) -> f32 {
        let Some(i) = TONE_CANDIDATES.iter().position(|&f| f == frequency) else {
            return 0.0;
        };
        if self.windows == 0 {
            0.0
        } else {
            self.votes[i] as f32 / self.windows as f32
        }
    }
}

/// The `q`-quantile (0–1) of `samples` by nearest rank; `None` when empty.
pub fn percentile(samples: &[f32], q: f32) -> Option<f32> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f32::total_cmp);
    let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f32).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Latency samples kept per peer (a 20 s run at 30 fps needs 600).
pub const LATENCY_HISTORY: usize = 8192;

/// Everything the transport measures about one remote peer: written by the net
/// threads and the transport's Bevy glue only (its fields are private to `net`);
/// the app reads it as a [`LinkReport`] on the peer's entity (`plugin::LinkFigures`).
#[derive(Debug, Clone)]
pub struct PeerStats {
    /// Its display name.
    pub(super) name: String,
    /// Whether it has left.
    pub(super) left: bool,
    /// When the app learnt of it (`PeerJoined`).
    pub(super) joined_at: Option<Instant>,
    /// When it left.
    pub(super) left_at: Option<Instant>,
    /// Video access units received.
    pub(super) video_units: u64,
    /// Pictures decoded.
    pub(super) video_frames: u64,
    /// Access units the decoder rejected.
    pub(super) decode_errors: u64,
    /// Video payload bytes received.
    pub(super) video_bytes: u64,
    /// Audio payload bytes received.
    pub(super) audio_bytes: u64,
    /// First and last media arrival.
    pub(super) first_media: Option<Instant>,
    /// Last media arrival.
    pub(super) last_media: Option<Instant>,
    /// Milliseconds of audio decoded.
    pub(super) audio_ms: f64,
    /// Milliseconds of lost audio rebuilt (forward error correction, concealment).
    pub(super) audio_rebuilt_ms: f64,
    /// The sender's dominant tone.
    pub(super) tone: ToneDetector,
    /// Newest data-channel round-trip time.
    pub(super) rtt_ms: Option<f32>,
    /// The ICE candidate pair in use ("local/remote" candidate types).
    pub(super) candidate_pair: Option<String>,
    /// Capture (at the sender) → access unit received here, ms.
    pub(super) network_ms: Vec<f32>,
    /// Sent vs decoded masks.
    pub(super) probes: ProbeMatcher,
    /// Messages received on its `world` data channel.
    pub(super) world_messages: u64,
    /// The sender's picture numbers seen (how many pictures it sent us).
    pub(super) frame_span: FrameSpan,
    /// Loss repair on its video (from the transport).
    pub(super) video_repair: ReorderStats,
    /// Delay its pictures currently get to keep their rhythm, ms.
    pub(super) playout_delay_ms: f32,
    /// Extra delay of its pictures so that its voice can keep up (lip sync).
    pub(super) video_hold: std::time::Duration,
    /// Where it last placed itself (from its `world` messages).
    pub(super) placement: Option<WirePlacement>,
    /// Our congestion controller's latest estimate of what we may send it, kbit/s.
    pub(super) send_estimate_kbit: Option<f64>,
    /// Its last audio packet's arrival.
    last_audio: Option<Instant>,
    /// The longest time between two of its audio packets.
    longest_audio_gap: Duration,
    /// The frames a second this peer last said its screen draws, and when.
    pub draw_fps: Option<(Instant, f32)>,
}

/// The range of a sender's picture numbers seen so far: pictures it sent between
/// the first and the newest that reached us.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpan {
    first: Option<u32>,
    newest: Option<u32>,
}

impl FrameSpan {
    /// A picture numbered `n` arrived (numbers wrap; an older one changes nothing).
    pub fn see(&mut self, n: u32) {
        self.first.get_or_insert(n);
        match self.newest {
            Some(newest) if n.wrapping_sub(newest) > u32::MAX / 2 => {}
            _ => self.newest = Some(n),
        }
    }

    /// Pictures sent from the first seen to the newest seen, both included.
    pub fn count(&self) -> u64 {
        match (self.first, self.newest) {
            (Some(a), Some(b)) => u64::from(b.wrapping_sub(a)) + 1,
            _ => 0,
        }
    }
}

impl PeerStats {
    /// Nothing measured yet about `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            left: false,
            joined_at: None,
            left_at: None,
            video_units: 0,
            video_frames: 0,
            decode_errors: 0,
            video_bytes: 0,
            audio_bytes: 0,
            first_media: None,
            last_media: None,
            audio_ms: 0.0,
            audio_rebuilt_ms: 0.0,
            tone: ToneDetector::default(),
            rtt_ms: None,
            candidate_pair: None,
            network_ms: Vec::new(),
            probes: ProbeMatcher::default(),
            world_messages: 0,
            frame_span: FrameSpan::default(),
            video_repair: ReorderStats::default(),
            playout_delay_ms: 0.0,
            video_hold: std::time::Duration::ZERO,
            placement: None,
            send_estimate_kbit: None,
            last_audio: None,
            longest_audio_gap: Duration::ZERO,
            draw_fps: None,
        }
    }

    /// One of its audio packets arrived at `now`; returns the time since the
    /// one before (zero for the first).
    pub fn audio_arrived(&mut self, now: Instant) -> Duration {
        let gap = self
            .last_audio
            .map_or(Duration::ZERO, |last| now.saturating_duration_since(last));
        self.longest_audio_gap = self.longest_audio_gap.max(gap);
        self.last_audio = Some(now);
        gap
    }

    /// Media arrived at `now`.
    pub fn touch(&mut self, now: Instant) {
        self.first_media.get_or_insert(now);
        self.last_media = Some(now);
    }

    /// Records a latency sample, bounded.
    pub fn push_latency(samples: &mut Vec<f32>, ms: f32) {
        if samples.len() < LATENCY_HISTORY {
            samples.push(ms);
        }
    }

    /// Its link figures as of `now`.
    pub fn report(&self, id: u64, now: Instant) -> LinkReport {
        let seconds = match (self.first_media, self.last_media) {
            (Some(a), Some(b)) => (b - a).as_secs_f64(),
            _ => 0.0,
        };
        let kbit = |bytes: u64| {
            if seconds > 0.5 {
                bytes as f64 * 8.0 / 1000.0 / seconds
            } else {
                0.0
            }
        };
        let expected = tone_for_name(&self.name);
        let ious = &self.probes.ious;
        LinkReport {
            id,
            name: self.name.clone(),
            left: self.left,
            present_s: self
                .joined_at
                .map(|j| (self.left_at.unwrap_or(now) - j).as_secs_f32()),
            video_frames: self.video_frames,
            video_units: self.video_units,
            decode_errors: self.decode_errors,
            audio_ms: self.audio_ms.round(),
            audio_rebuilt_ms: self.audio_rebuilt_ms.round(),
            tone_hz_expected: expected,
            tone_hz_detected: self.tone.dominant(),
            tone_detected: self.tone.dominant() == Some(expected),
            tone_share: self.tone.share_of(expected),
            rtt_ms: self.rtt_ms,
            candidate_pair: self.candidate_pair.clone(),
            network_p50_ms: percentile(&self.network_ms, 0.5),
            kbit_s: kbit(
                self.video_bytes + self.audio_bytes + self.video_repair.fec_bytes_received,
            ),
            video_kbit_s: kbit(self.video_bytes),
            alpha_iou: (!ious.is_empty()).then(|| ious.iter().sum::<f64>() / ious.len() as f64),
            alpha_iou_min: ious.iter().copied().reduce(f64::min),
            alpha_probes_matched: ious.len(),
            alpha_probes_received: self.probes.received,
            world_messages: self.world_messages,
            frames_sent_to_us: self.frame_span.count(),
            packets_received: self.video_repair.received,
            packets_recovered: self.video_repair.recovered,
            packets_lost: self.video_repair.lost,
            packets_nacked: self.video_repair.nacked,
            packets_fec_received: self.video_repair.fec_received,
            packets_fec_rebuilt: self.video_repair.fec_rebuilt,
            playout_delay_ms: self.playout_delay_ms,
            placement: self.placement,
            send_estimate_kbit: self.send_estimate_kbit,
            longest_audio_gap_ms: self.longest_audio_gap.as_secs_f32() * 1000.0,
            draw_fps: self.draw_fps.map(|(_, fps)| fps),
        }
    }
}

/// What the transport measured of one remote peer's link: its media, latency to
/// arrival, loss repair, round trip and bit rate (what the app shows of it is the
/// room's to measure). A Component on the peer's entity (`plugin::LinkFigures`) and
/// part of its line in the demo report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkReport {
    /// Its id in the room.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Whether it left before the end.
    pub left: bool,
    /// Seconds from its arrival to its departure (or to the end of the run).
    pub present_s: Option<f32>,
    /// Pictures decoded from it.
    pub video_frames: u64,
    /// Access units received from it.
    pub video_units: u64,
    /// Units the decoder rejected.
    pub decode_errors: u64,
    /// Audio decoded from it, ms.
    pub audio_ms: f64,
    /// Its lost audio that was rebuilt, ms.
    pub audio_rebuilt_ms: f64,
    /// The tone its name implies.
    pub tone_hz_expected: f32,
    /// The tone found in its audio.
    pub tone_hz_detected: Option<f32>,
    /// Whether the two agree.
    pub tone_detected: bool,
    /// Share of 250 ms windows in which the expected tone dominated.
    pub tone_share: f32,
    /// Data-channel round trip, ms.
    pub rtt_ms: Option<f32>,
    /// The ICE candidate pair in use: local/remote candidate types, e.g.
    /// `"host/host"`, or `"relay/host"` through a TURN server.
    pub candidate_pair: Option<String>,
    /// Capture → received, median ms.
    pub network_p50_ms: Option<f32>,
    /// Received media bit rate, kbit/s: video, audio and FlexFEC's repair packets
    /// (`--video-fec`).
    pub kbit_s: f64,
    /// Our congestion controller's latest estimate of what we may send it (TWCC
    /// feedback, GCC), kbit/s; `None` before the first figures.
    pub send_estimate_kbit: Option<f64>,
    /// Received video bit rate, kbit/s.
    pub video_kbit_s: f64,
    /// Mean alpha IoU of decoded vs sent masks.
    pub alpha_iou: Option<f64>,
    /// Worst alpha IoU.
    pub alpha_iou_min: Option<f64>,
    /// Probe pairs compared.
    pub alpha_probes_matched: usize,
    /// The sender's probes that arrived.
    pub alpha_probes_received: u64,
    /// Messages received on its `world` data channel.
    pub world_messages: u64,
    /// Pictures it sent between the first and the newest that reached us.
    pub frames_sent_to_us: u64,
    /// Its video RTP packets received.
    pub packets_received: u64,
    /// Missing video packets that a retransmission (or late arrival) filled.
    pub packets_recovered: u64,
    /// Video packets given up.
    pub packets_lost: u64,
    /// Sequence numbers asked for in NACKs.
    pub packets_nacked: u64,
    /// FlexFEC repair packets received for its video (`--video-fec`).
    pub packets_fec_received: u64,
    /// Missing video packets that FlexFEC rebuilt (part of `packets_recovered`).
    pub packets_fec_rebuilt: u64,
    /// Playout delay added to its pictures at the end, ms.
    pub playout_delay_ms: f32,
    /// Where it last placed itself, as received.
    pub placement: Option<WirePlacement>,
    /// The longest time between two of its audio packets arriving, ms.
    pub longest_audio_gap_ms: f32,
    /// The frames a second it last said its screen draws (`draw-rate`).
    pub draw_fps: Option<f32>,
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`
/// (clock ticks at the Linux default of 100 Hz). `None` off Linux.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds (user + system) per thread name of this process, from
/// `/proc/self/task/*/stat` (names are cut to 15 bytes by the kernel; threads of one
/// name are summed; threads that already ended are missing). Empty off Linux.
pub fn thread_cpu_seconds() -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        if let (Some(u), Some(s)) = (ticks(11), ticks(12)) {
            *out.entry(name).or_insert(0.0) += (u + s) / 100.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::audio::{AudioSource, SineSource};

    #[test]
    fn the_test_peers_get_distinct_tones() {
        let tones: Vec<f32> = ["P0", "P1", "P2"]
            .iter()
            .map(|n| tone_for_name(n))
            .collect();
        assert_ne!(tones[0], tones[1]);
        assert_ne!(tones[1], tones[2]);
        assert_ne!(tones[0], tones[2]);
    }

    #[test]
    fn detector_finds_the_tone_that_was_sent() {
        let mut d = ToneDetector::default();
        let mut src = SineSource::new(700.0, 0.3);
        d.push(&src.next_chunk(SAMPLE_RATE as usize));
        assert_eq!(d.dominant(), Some(700.0));
        assert!((d.share_of(700.0) - 1.0).abs() < 1e-6);
        let mut silent = ToneDetector::default();
        silent.push(&vec![0.0; SAMPLE_RATE as usize]);
        assert_eq!(silent.dominant(), None);
    }

    #[test]
    fn the_frame_span_counts_what_was_sent_and_survives_wrapping() {
        let mut span = FrameSpan::default();
        assert_eq!(span.count(), 0);
        for n in [u32::MAX - 2, u32::MAX, u32::MAX - 1, 3] {
            span.see(n);
        }
        assert_eq!(span.count(), 7, "MAX-2 ..= 3 across the wrap");
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let s: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        assert_eq!(percentile(&s, 0.5), Some(50.0));
        assert_eq!(percentile(&s, 0.95), Some(95.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let cpu = process_cpu_seconds().expect("linux /proc");
        assert!(cpu >= 0.0);
        assert!(!thread_cpu_seconds().is_empty(), "at least this thread");
    }
}
