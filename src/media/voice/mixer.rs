//! The room's voices mixed for the output: one queue per person, placed in stereo
//! ([`StereoGains`]), measured ([`LrMeter`]) and watched for speech
//! ([`VoiceActivity`]) as they are mixed. No Bevy, no device.
//!
//! [`VoiceBus`] shares one [`VoiceMixer`] between the thread that decodes voices
//! (`samespace-media-rx` pushes 20 ms packets), the output (the speaker's device
//! callback, or without a speaker the receive thread on its clock: the mix is then
//! computed and measured, not played) and the app (sets each person's gains, reads
//! who is speaking).
//!
//! A remote voice pushed with its RTP and capture times ([`VoiceMixer::push_timed`])
//! plays through its [`VoicePlayout`]: each sample a set delay after its capture,
//! which the app holds to the delay of that person's pictures
//! ([`VoiceMixer::set_sync_floor`]). A voice pushed without times (local ones) is
//! a plain queue.
//!
//! | queue | producer → consumer | bound | full-policy |
//! | --- | --- | --- | --- |
//! | one per untimed voice | `push` → `render` | [`MAX_QUEUED`] samples (200 ms) | the oldest dropped |
//! | one per timed voice | `push_timed` → `render_at` | 2 s of RTP time | the oldest dropped |

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::activity::VoiceActivity;
use super::meter::LrMeter;
use super::playout::{PlayoutStatus, VoicePlayout};
use super::spatial::StereoGains;
use crate::media::audio::SAMPLE_RATE;
use crate::media::audio_device::Playback;

/// At most this much of one voice (200 ms) waits for the output.
pub const MAX_QUEUED: usize = SAMPLE_RATE as usize / 5;

/// One voice in the mix.
#[derive(Debug, Clone)]
struct Voice {
    queue: VecDeque<f32>,
    /// The gains asked for.
    target: StereoGains,
    /// The gains the last mixed sample had (moved to `target` over one block, so a
    /// change never clicks).
    applied: StereoGains,
    /// Where its person stands, −1…1, when known.
    x: Option<f32>,
    meter: LrMeter,
    activity: VoiceActivity,
    /// Samples dropped because the output was behind.
    dropped: u64,
    /// Played on the sender's capture clock (pushed with times, lip sync on).
    playout: Option<VoicePlayout>,
    /// Lip sync off: the queue's capture times, to measure what it plays.
    marks: FifoMarks,
}

/// Capture times along a plain voice queue (lip sync off), so that the delay of
/// what it plays is still measured.
#[derive(Debug, Clone, Default)]
struct FifoMarks {
    /// Samples ever queued and ever taken (played or dropped).
    pushed: u64,
    taken: u64,
    /// (queue position of a packet's first sample, its capture time µs).
    marks: VecDeque<(u64, f64)>,
    /// End of the last block with audio (Unix µs) and the delay of its last sample.
    playing: Option<(i64, f64)>,
}

impl FifoMarks {
    fn pushed(&mut self, samples: usize, captured_unix_us: Option<u64>) {
        if let Some(c) = captured_unix_us {
            self.marks.push_back((self.pushed, c as f64));
        }
        self.pushed += samples as u64;
    }

    /// `samples` left the queue, the last of them played at `end_unix_us` (or
    /// dropped: `None`).
    fn taken(&mut self, samples: usize, end_unix_us: Option<i64>) {
        if samples == 0 {
            return;
        }
        self.taken += samples as u64;
        let last = self.taken - 1;
        while self.marks.len() > 1 && self.marks[1].0 <= last {
            self.marks.pop_front();
        }
        if let (Some(end), Some(&(at, capture))) = (end_unix_us, self.marks.front())
            && at <= last
        {
            let captured = capture + (last - at) as f64 * 1_000_000.0 / SAMPLE_RATE as f64;
            self.playing = Some((end, end as f64 - captured));
        }
    }
}

impl Default for Voice {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            target: StereoGains::UNITY,
            applied: StereoGains::UNITY,
            x: None,
            meter: LrMeter::default(),
            activity: VoiceActivity::default(),
            dropped: 0,
            playout: None,
            marks: FifoMarks::default(),
        }
    }
}

/// What the mix knows about one voice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceStatus {
    /// Speaking now (voice activity with hangover).
    pub speaking: bool,
    /// Left minus right energy of the voice at the output, dB.
    pub lr_db: Option<f32>,
    /// Where its person stands, −1…1.
    pub x: Option<f32>,
    /// The gains it is mixed with.
    pub gains: StereoGains,
    /// Output frames in which it was measured.
    pub frames_measured: u64,
}

/// Per-voice queues summed into a mono or stereo output.
#[derive(Debug)]
pub struct VoiceMixer {
    voices: BTreeMap<u64, Voice>,
    /// Timed voices play on the sender's capture clock (else as they come).
    lip_sync: bool,
    /// What timed voices played (mono, before their gains), oldest first, for the
    /// room's recording; at most [`PLAYED_KEPT`] blocks.
    played: VecDeque<(u64, Vec<f32>)>,
}

/// Played blocks of timed voices kept for the recording (the oldest go beyond:
/// nobody is taking them).
pub const PLAYED_KEPT: usize = 600;

impl Default for VoiceMixer {
    fn default() -> Self {
        Self {
            voices: BTreeMap::new(),
            lip_sync: true,
            played: VecDeque::new(),
        }
    }
}

impl VoiceMixer {
    /// Queues 48 kHz mono samples of voice `id`.
    pub fn push(&mut self, id: u64, pcm: &[f32]) {
        self.push_queued(id, pcm, None);
    }

    fn push_queued(&mut self, id: u64, pcm: &[f32], captured_unix_us: Option<u64>) {
        let voice = self.voices.entry(id).or_default();
        voice.queue.extend(pcm.iter().copied());
        voice.marks.pushed(pcm.len(), captured_unix_us);
        let excess = voice.queue.len().saturating_sub(MAX_QUEUED);
        if excess > 0 {
            voice.queue.drain(..excess);
            voice.dropped += excess as u64;
            voice.marks.taken(excess, None);
        }
    }

    /// Timed voices pushed from now on play on the sender's capture clock, held to
    /// their pictures (`true`, the default), or as they come, as untimed voices do
    /// (`false`: no lip sync; their delay is still measured).
    pub fn set_lip_sync(&mut self, on: bool) {
        self.lip_sync = on;
    }

    /// Whether timed voices play on the sender's capture clock.
    pub fn lip_sync(&self) -> bool {
        self.lip_sync
    }

    /// What timed voices played since the last call (voice id, mono samples before
    /// their gains), oldest first: each voice as heard, in step with its pictures.
    pub fn take_played(&mut self) -> Vec<(u64, Vec<f32>)> {
        self.played.drain(..).collect()
    }

    /// Queues a decoded packet of voice `id` with its times: `pcm` ends with the
    /// packet of RTP timestamp `rtp`, after `rebuilt` samples rebuilt for lost ones;
    /// `captured_unix_us` is its first sample's capture time (sender's clock, when
    /// it says), `arrived_unix_us` when it came (see [`VoicePlayout::push`]).
    pub fn push_timed(
        &mut self,
        id: u64,
        rtp: u32,
        pcm: &[f32],
        rebuilt: usize,
        captured_unix_us: Option<u64>,
        arrived_unix_us: u64,
    ) {
        if !self.lip_sync {
            let first = captured_unix_us
                .map(|c| c.saturating_sub((rebuilt as u64 * 1_000_000) / u64::from(SAMPLE_RATE)));
            self.push_queued(id, pcm, first);
            return;
        }
        let voice = self.voices.entry(id).or_default();
        voice.playout.get_or_insert_with(VoicePlayout::new).push(
            rtp,
            pcm,
            rebuilt,
            captured_unix_us,
            arrived_unix_us,
        );
    }

    /// Holds timed voice `id` at least `floor_us` behind its capture (the delay of
    /// its person's pictures), or lets it play at its own need (`None`).
    pub fn set_sync_floor(&mut self, id: u64, floor_us: Option<i64>) {
        if let Some(playout) = self.voices.get_mut(&id).and_then(|v| v.playout.as_mut()) {
            playout.set_floor(floor_us);
        }
    }

    /// The delays of timed voice `id` as of `now_unix_us`.
    pub fn playout_status(&self, id: u64, now_unix_us: i64) -> Option<PlayoutStatus> {
        let voice = self.voices.get(&id)?;
        if let Some(playout) = &voice.playout {
            return Some(playout.status(now_unix_us));
        }
        let marks = &voice.marks;
        Some(PlayoutStatus {
            playing_delay_us: marks
                .playing
                .filter(|(end, _)| now_unix_us - end < 200_000)
                .map(|(_, d)| d.round() as i64),
            need_us: None,
            recent_need_us: None,
            stamped: !marks.marks.is_empty(),
        })
    }

    /// Sets how voice `id` is heard, and where its person stands (for the report).
    pub fn set_gains(&mut self, id: u64, gains: StereoGains, x: Option<f32>) {
        let voice = self.voices.entry(id).or_default();
        voice.target = gains;
        if voice.meter.frames() == 0 {
            // Nothing mixed yet: start at these gains rather than ramp to them.
            voice.applied = gains;
        }
        voice.x = x;
    }

    /// Forgets voice `id` (its person left).
    pub fn forget(&mut self, id: u64) {
        self.voices.remove(&id);
    }

    /// Forgets every voice (a new room).
    pub fn clear(&mut self) {
        self.voices.clear();
        self.played.clear();
    }

    /// The voices known.
    pub fn ids(&self) -> Vec<u64> {
        self.voices.keys().copied().collect()
    }

    /// What the mix knows about voice `id`.
    pub fn status(&self, id: u64) -> Option<VoiceStatus> {
        self.voices.get(&id).map(|v| VoiceStatus {
            speaking: v.activity.speaking(),
            lr_db: v.meter.lr_db(),
            x: v.x,
            gains: v.target,
            frames_measured: v.meter.frames(),
        })
    }

    /// Mixes the next `out.len() / channels` frames into `out` (interleaved,
    /// overwritten), to be played from now on. See [`Self::render_at`].
    pub fn render(&mut self, out: &mut [f32], channels: usize) {
        self.render_at(out, channels, now_unix_us());
    }

    /// Mixes the next `out.len() / channels` frames into `out` (interleaved,
    /// overwritten), whose first frame plays at `start_unix_us` (this machine's
    /// wall clock: a timed voice plays what was captured its delay before). One
    /// channel gets every voice's mono gain (no panning); two or more get left and
    /// right in the first two, silence in the rest. A voice with nothing queued is
    /// silent (and counts as silence for its activity).
    pub fn render_at(&mut self, out: &mut [f32], channels: usize, start_unix_us: i64) {
        let channels = channels.max(1);
        let frames = out.len() / channels;
        out.fill(0.0);
        let mut samples = Vec::with_capacity(frames);
        for (id, voice) in &mut self.voices {
            samples.clear();
            let have = match voice.playout.as_mut() {
                Some(playout) => {
                    samples.resize(frames, 0.0);
                    playout.render(&mut samples, start_unix_us);
                    if self.played.len() >= PLAYED_KEPT {
                        self.played.pop_front();
                    }
                    self.played.push_back((*id, samples.clone()));
                    frames
                }
                None => {
                    let have = voice.queue.len().min(frames);
                    samples.extend(voice.queue.drain(..have));
                    let end = start_unix_us + (have as i64 * 1_000_000) / i64::from(SAMPLE_RATE);
                    voice.marks.taken(have, Some(end));
                    have
                }
            };
            voice.activity.push(&samples);
            voice.activity.push_silence(frames - have);
            voice.meter.age(frames);
            let (from, to) = (voice.applied, voice.target);
            for (i, &s) in samples.iter().enumerate() {
                let g = from.lerp(to, (i + 1) as f32 / frames as f32);
                let frame = &mut out[i * channels..(i + 1) * channels];
                if channels == 1 {
                    frame[0] += s * g.mono;
                    voice.meter.add(s * g.mono, s * g.mono);
                } else {
                    frame[0] += s * g.left;
                    frame[1] += s * g.right;
                    voice.meter.add(s * g.left, s * g.right);
                }
            }
            voice.applied = to;
        }
        for s in out.iter_mut() {
            *s = s.clamp(-1.0, 1.0);
        }
    }
}

/// This machine's wall clock, µs since the Unix epoch.
pub fn now_unix_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// The mixer shared by the receive thread, the output and the app.
#[derive(Default)]
pub struct VoiceBus {
    mixer: Mutex<VoiceMixer>,
    spatial: AtomicBool,
    /// This peer's own voice as sent (nothing while muted), for its own ring.
    own: Mutex<VoiceActivity>,
}

impl std::fmt::Debug for VoiceBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceBus")
            .field("spatial", &self.spatial())
            .finish_non_exhaustive()
    }
}

impl VoiceBus {
    /// A bus with voices placed where their people stand (`spatial`), or all in
    /// the middle.
    pub fn new(spatial: bool) -> Self {
        Self {
            mixer: Mutex::default(),
            spatial: AtomicBool::new(spatial),
            own: Mutex::default(),
        }
    }

    /// The mixer (a poisoned lock still holds valid queues).
    pub fn mixer(&self) -> std::sync::MutexGuard<'_, VoiceMixer> {
        self.mixer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether voices are placed where their people stand.
    pub fn spatial(&self) -> bool {
        self.spatial.load(Ordering::Relaxed)
    }

    /// Switches placement on or off.
    pub fn set_spatial(&self, on: bool) {
        self.spatial.store(on, Ordering::Relaxed);
    }

    /// Queues samples of voice `id`.
    pub fn push(&self, id: u64, pcm: &[f32]) {
        self.mixer().push(id, pcm);
    }

    /// Whether timed voices play on the sender's capture clock ([`VoiceMixer::set_lip_sync`]).
    pub fn set_lip_sync(&self, on: bool) {
        self.mixer().set_lip_sync(on);
    }

    /// Mixes frames whose first plays at `start_unix_us` ([`VoiceMixer::render_at`]).
    pub fn render_at(&self, out: &mut [f32], channels: usize, start_unix_us: i64) {
        self.mixer().render_at(out, channels, start_unix_us);
    }

    /// Follows this peer's own voice as it is sent.
    pub fn own_voice(&self, pcm: &[f32]) {
        self.own.lock().unwrap_or_else(|e| e.into_inner()).push(pcm);
    }

    /// `n` samples of this peer sent nothing (muted).
    pub fn own_silence(&self, n: usize) {
        self.own
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_silence(n);
    }

    /// Whether this peer is speaking (what it sends).
    pub fn own_speaking(&self) -> bool {
        self.own
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .speaking()
    }
}

impl Playback for VoiceBus {
    fn render(&self, out: &mut [f32], channels: usize) {
        self.mixer().render(out, channels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::audio::{AudioSource, SineSource, tone_amplitude};
    use crate::media::voice::spatial::Placing;

    fn deinterleave(stereo: &[f32]) -> (Vec<f32>, Vec<f32>) {
        stereo.chunks_exact(2).map(|f| (f[0], f[1])).unzip()
    }

    #[test]
    fn two_voices_come_out_where_their_people_stand_and_the_meter_agrees() {
        let mut mixer = VoiceMixer::default();
        let place = |x: f32| Placing {
            speaker: Some(x),
            listener: Some(0.0),
            volume: 1.0,
            muted: false,
            spatial: true,
        };
        mixer.set_gains(1, place(-0.667).gains(), Some(-0.667));
        mixer.set_gains(3, place(0.667).gains(), Some(0.667));
        let (mut a, mut c) = (SineSource::new(500.0, 0.3), SineSource::new(900.0, 0.3));
        let mut out = Vec::new();
        for _ in 0..50 {
            mixer.push(1, &a.next_chunk(960));
            mixer.push(3, &c.next_chunk(960));
            let mut block = vec![0.0; 960 * 2];
            mixer.render(&mut block, 2);
            out.extend(block);
        }
        let (left, right) = deinterleave(&out[9600..]);
        let db = |l: f32, r: f32| 20.0 * (l / r).log10();
        let a_db = db(
            tone_amplitude(&left, SAMPLE_RATE, 500.0),
            tone_amplitude(&right, SAMPLE_RATE, 500.0),
        );
        let c_db = db(
            tone_amplitude(&left, SAMPLE_RATE, 900.0),
            tone_amplitude(&right, SAMPLE_RATE, 900.0),
        );
        assert!(a_db > 6.0, "A on the left: {a_db}");
        assert!(c_db < -6.0, "C on the right: {c_db}");
        let a = mixer.status(1).expect("A");
        let c = mixer.status(3).expect("C");
        assert!(
            (a.lr_db.expect("measured") - a_db).abs() < 0.5,
            "{a:?} vs {a_db}"
        );
        assert!(
            (c.lr_db.expect("measured") - c_db).abs() < 0.5,
            "{c:?} vs {c_db}"
        );
        assert!(a.speaking && c.speaking);
        assert_eq!(a.x, Some(-0.667));
    }

    #[test]
    fn a_mono_output_gets_every_voice_unpanned_and_switched_off_is_centred() {
        let mut mixer = VoiceMixer::default();
        let left = Placing {
            speaker: Some(-1.0),
            listener: Some(-1.0),
            volume: 1.0,
            muted: false,
            spatial: true,
        };
        mixer.set_gains(1, left.gains(), Some(-1.0));
        let tone = SineSource::new(600.0, 0.3).next_chunk(4800);
        // The first block ramps from unity to the placed gains; skip it.
        mixer.push(1, &tone[..960]);
        let mut warm = vec![0.0; 960];
        mixer.render(&mut warm, 1);
        mixer.push(1, &tone[960..]);
        let mut mono = vec![0.0; 3840];
        mixer.render(&mut mono, 1);
        let level = tone_amplitude(&mono, SAMPLE_RATE, 600.0);
        assert!((level - 0.3).abs() < 0.01, "full level in mono: {level}");
        let off = Placing {
            spatial: false,
            ..left
        };
        let mut centred = VoiceMixer::default();
        centred.set_gains(2, off.gains(), Some(-1.0));
        centred.push(2, &tone);
        let mut stereo = vec![0.0; 4800 * 2];
        centred.render(&mut stereo, 2);
        let db = centred.status(2).and_then(|s| s.lr_db).expect("measured");
        assert!(db.abs() < 0.01, "switched off: {db} dB");
    }

    #[test]
    fn the_delay_of_a_timed_voice_is_measured_with_lip_sync_on_and_off() {
        const T0: i64 = 1_800_000_000_000_000;
        let tone = SineSource::new(500.0, 0.3).next_chunk(960 * 20);
        for lip_sync in [true, false] {
            let mut mixer = VoiceMixer::default();
            mixer.set_lip_sync(lip_sync);
            mixer.set_gains(7, StereoGains::UNITY, None);
            // Packets captured every 20 ms arrive 30 ms later; the output mixes
            // 20 ms blocks as they come.
            for k in 0..20i64 {
                let captured = T0 + k * 20_000;
                let pcm = &tone[k as usize * 960..(k as usize + 1) * 960];
                mixer.push_timed(
                    7,
                    (k * 960) as u32,
                    pcm,
                    0,
                    Some(captured as u64),
                    (captured + 30_000) as u64,
                );
                mixer.set_sync_floor(7, Some(100_000));
                let mut out = vec![0.0; 960 * 2];
                mixer.render_at(&mut out, 2, captured + 30_000);
            }
            let now = T0 + 20 * 20_000 + 10_000;
            let status = mixer.playout_status(7, now).expect("a timed voice");
            assert!(status.stamped);
            let delay = status.playing_delay_us.expect("playing");
            if lip_sync {
                // Held to the floor (the voice alone needs 30 + 20 ms).
                assert!((delay - 100_000).abs() < 1000, "{delay}");
                assert_eq!(status.need_us, Some(50_000));
            } else {
                // As it comes: each packet plays from the moment it arrives,
                // its 30 ms of transit after its capture.
                assert!((delay - 30_000).abs() < 100, "{delay}");
                assert_eq!(status.need_us, None);
            }
            assert_eq!(
                mixer
                    .playout_status(7, now + 300_000)
                    .and_then(|s| s.playing_delay_us),
                None
            );
        }
        // An untimed voice has no playout to report on.
        let mut mixer = VoiceMixer::default();
        mixer.push(8, &tone[..960]);
        assert!(mixer.playout_status(8, T0).is_some_and(|s| !s.stamped));
    }

    #[test]
    fn a_muted_voice_is_silent_but_still_seen_speaking_and_queues_are_bounded() {
        let mut mixer = VoiceMixer::default();
        mixer.set_gains(5, StereoGains::SILENT, None);
        mixer.push(5, &SineSource::new(700.0, 0.3).next_chunk(MAX_QUEUED * 2));
        let mut out = vec![0.0; 2 * MAX_QUEUED];
        mixer.render(&mut out, 2);
        // The first block ramps down from unity; after it, nothing.
        let mut out = vec![0.0; 2 * 960];
        mixer.push(5, &SineSource::new(700.0, 0.3).next_chunk(960));
        mixer.render(&mut out, 2);
        assert!(out.iter().all(|&s| s == 0.0));
        assert!(mixer.status(5).expect("known").speaking);
        mixer.forget(5);
        assert_eq!(mixer.status(5), None);
    }
}
