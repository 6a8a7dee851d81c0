//! Sans-IO playout of one remote voice on the sender's capture clock: a jitter
//! buffer that plays each sample a set delay after it was captured, so the voice can
//! be held to the same delay as its person's pictures (lip sync).
//!
//! - Decoded packets are kept by RTP timestamp (48 kHz samples, unwrapped), so the
//!   voice stays sample-continuous whatever order or rhythm the packets came in.
//! - The *mapping* from RTP time to capture time (Unix µs on the sender's clock)
//!   comes from the packets' `abs-capture-time`: the smallest capture − RTP offset
//!   seen, restarted when it grows by more than [`MAPPING_JUMP_US`] (the sender
//!   paused its RTP clock: muted, or stalled). A sender that does not stamp its
//!   packets is mapped by arrival time instead (a plain jitter buffer behind the
//!   fastest packet), and cannot be synchronised.
//! - The voice's own *need* is the smallest recent transit (arrival − capture) plus
//!   the [`JITTER_QUANTILE`] of the transits above it, plus [`MARGIN_US`]: on time
//!   for all but the latest few packets.
//! - The *target* delay is the need, or the sync floor when that is larger (the
//!   delay of the person's pictures, set by the app). The applied delay stays put
//!   while the target is within [`DEADBAND_US`] of it; beyond, it moves all the
//!   way to the target by *splices* that keep the pitch (as WSOLA time stretching
//!   does): a stretch of one or more of the voice's periods is cut out (the delay
//!   shrinks) or played twice (it grows), at the lag where the audio is most like
//!   itself, cross-faded over [`SPLICE_WINDOW`] samples. Splices take at most
//!   [`SPLICE_SHARE`] of the audio played, so a change of 100 ms takes 0.4 s. Reading
//!   faster or slower instead shifts the pitch (5 % is almost a semitone), and a
//!   machine whose pictures' delay wanders keeps the voice off its pitch for
//!   seconds. A change over [`JUMP_US`] is taken at once only where the voice is
//!   silent (or beyond [`MAX_SPLICED_US`]).
//!
//! A sample is played at `capture + delay` (receiver wall clock, in Unix µs; the
//! difference between the two machines' clocks is part of every delay alike).

use std::collections::{BTreeMap, VecDeque};

use crate::media::audio::SAMPLE_RATE;

/// Packets whose transit informs the need (5 s of 20 ms packets).
pub const WINDOW: usize = 250;
/// Packets whose transit informs the *recent* need (2 s): what the pictures are
/// held for (lip sync), so that a burst of late audio (a link that just slowed
/// down) holds the pictures for 2 s at most, while the voice itself keeps the
/// longer memory.
pub const RECENT_WINDOW: usize = 100;
/// Share of recent packets that should be in time.
pub const JITTER_QUANTILE: f64 = 0.97;
/// Added to the need: the output takes samples in blocks (a device period, or
/// the receive thread's mixing step).
pub const MARGIN_US: i64 = 20_000;
/// The applied delay follows a target only once it is this far away.
pub const DEADBAND_US: i64 = 25_000;
/// A target this far from the applied delay is taken at once where the voice is
/// silent there (a gap, a new mapping).
pub const JUMP_US: i64 = 120_000;
/// A target this far from the applied delay is taken at once whatever plays.
pub const MAX_SPLICED_US: i64 = 1_000_000;
/// Share of the audio played that splices may cut out or repeat.
pub const SPLICE_SHARE: f64 = 0.25;
/// Samples compared to find a splice, and cross-faded at it (5 ms).
pub const SPLICE_WINDOW: usize = 240;
/// The shortest splice, samples (1 ms: about a period of a high voice).
pub const MIN_SPLICE: usize = 48;
/// The longest splice, samples (15 ms: two periods of a low voice).
pub const MAX_SPLICE: usize = 720;
/// Normalised correlation a splice needs between the audio it leaves and the audio
/// it joins (1: the same waveform, one or more periods apart).
pub const SPLICE_SIMILARITY: f32 = 0.7;
/// Blocks without a spot that similar after which the most similar one is taken
/// (noise-like sounds are never periodic).
pub const SPLICE_PATIENCE: u32 = 25;
/// RMS level at or below which audio is quiet (−60 dBFS): a splice there is
/// inaudible anyway.
pub const QUIET_RMS: f32 = 1e-3;
/// The capture − RTP offset grew by more than this: the sender's RTP clock paused
/// (muted, or its audio thread stalled); the mapping starts over.
pub const MAPPING_JUMP_US: i64 = 20_000;
/// The same, for a voice mapped by arrival time (its arrivals jitter).
pub const ARRIVAL_MAPPING_JUMP_US: i64 = 1_000_000;
/// RTP time further than this from the last packet is a new stream.
const NEW_STREAM_SAMPLES: i64 = 2 * SAMPLE_RATE as i64;
/// The longest delay played.
pub const MAX_DELAY_US: i64 = 1_500_000;

const US_PER_SAMPLE: f64 = 1_000_000.0 / SAMPLE_RATE as f64;

/// One remote voice's playout.
#[derive(Debug, Default, Clone)]
pub struct VoicePlayout {
    /// Decoded samples by their first sample's unwrapped RTP time.
    packets: BTreeMap<i64, Vec<f32>>,
    /// The newest RTP timestamp and its unwrapped value.
    last_rtp: Option<(u32, i64)>,
    /// Capture µs minus RTP time in µs (the mapping), and whether it came from
    /// the sender's stamps.
    offset_us: Option<(f64, bool)>,
    /// Recent transits (arrival − capture of the packet's first sample), µs.
    transits: VecDeque<i64>,
    /// The voice's own need, µs.
    need_us: Option<i64>,
    /// The least delay the app asks for (its pictures' delay), µs.
    floor_us: Option<i64>,
    /// The delay applied to the last sample played, µs.
    delay_us: Option<f64>,
    /// The RTP position the output reads next.
    read_pos: Option<f64>,
    /// The delay is moving to its target (it left the dead band).
    moving: bool,
    /// Samples splices may take now ([`SPLICE_SHARE`] of what played, at most
    /// [`MAX_SPLICE`]).
    splice_credit: f64,
    /// Blocks that looked for a splice and found no similar spot.
    splice_wait: u32,
    /// Output samples that found no audio although the voice was playing.
    missing: u64,
    /// End of the last block that had audio in it (Unix µs) and its delay.
    playing: Option<(i64, f64)>,
}

/// Capture → receiver-clock delay of what one voice plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayoutStatus {
    /// The delay of the audio playing now, µs (`None` while silent).
    pub playing_delay_us: Option<i64>,
    /// The delay the voice needs for its own jitter, µs.
    pub need_us: Option<i64>,
    /// The same need over the last [`RECENT_WINDOW`] packets only, µs.
    pub recent_need_us: Option<i64>,
    /// Whether the sender stamps its capture times (it can be synchronised).
    pub stamped: bool,
}

impl VoicePlayout {
    /// A voice with nothing received yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Unwraps an RTP timestamp against the newest one; `None` starts a new
    /// stream (a jump of more than two seconds).
    fn unwrap_rtp(&mut self, rtp: u32) -> i64 {
        let value = match self.last_rtp {
            Some((last, value)) => value + i64::from(rtp.wrapping_sub(last) as i32),
            None => i64::from(rtp),
        };
        if self
            .last_rtp
            .is_some_and(|(_, last)| (value - last).abs() > NEW_STREAM_SAMPLES)
        {
            // A new stream (a new connection): nothing of the old one is kept.
            *self = Self {
                floor_us: self.floor_us,
                missing: self.missing,
                ..Self::default()
            };
            self.last_rtp = Some((rtp, i64::from(rtp)));
            return i64::from(rtp);
        }
        if self.last_rtp.is_none_or(|(_, last)| value > last) {
            self.last_rtp = Some((rtp, value));
        }
        value
    }

    /// A decoded packet: `pcm` (48 kHz mono) whose last `pcm.len() - rebuilt`
    /// samples are the packet with RTP timestamp `rtp` (the first `rebuilt` were
    /// rebuilt for packets lost before it), captured at `captured_unix_us` (its
    /// first sample; `None` when the sender does not say), arrived at
    /// `arrived_unix_us` (this machine's clock).
    pub fn push(
        &mut self,
        rtp: u32,
        pcm: &[f32],
        rebuilt: usize,
        captured_unix_us: Option<u64>,
        arrived_unix_us: u64,
    ) {
        let start = self.unwrap_rtp(rtp);
        let stamped = captured_unix_us.is_some();
        if self.offset_us.is_some_and(|(_, was)| was != stamped) {
            // Stamps appeared or vanished: a different mapping from here on.
            self.offset_us = None;
            self.transits.clear();
        }
        let at = captured_unix_us.unwrap_or(arrived_unix_us) as f64;
        let offset = at - start as f64 * US_PER_SAMPLE;
        let jump = if stamped {
            MAPPING_JUMP_US
        } else {
            ARRIVAL_MAPPING_JUMP_US
        } as f64;
        match self.offset_us {
            Some((current, _)) if offset < current => self.offset_us = Some((offset, stamped)),
            Some((current, _)) if offset > current + jump => {
                self.offset_us = Some((offset, stamped));
                self.transits.clear();
            }
            Some(_) => {}
            None => self.offset_us = Some((offset, stamped)),
        }
        if let Some(capture) = self.capture_of(start) {
            let transit = arrived_unix_us as i64 - capture.round() as i64;
            if self.transits.len() >= WINDOW {
                self.transits.pop_front();
            }
            self.transits.push_back(transit);
            self.need_us = Some(need_of(self.transits.iter().copied()));
        }
        let first = start - rebuilt.min(pcm.len()) as i64;
        self.packets.insert(first, pcm.to_vec());
        // Bounded: at most two seconds ahead of the newest packet are kept.
        while let Some((&oldest, _)) = self.packets.first_key_value() {
            if oldest < start - NEW_STREAM_SAMPLES {
                self.packets.pop_first();
            } else {
                break;
            }
        }
    }

    /// Sets the least delay wanted (the person's pictures' delay), µs; `None`: no
    /// floor (the voice plays at its own need).
    pub fn set_floor(&mut self, floor_us: Option<i64>) {
        self.floor_us = floor_us;
    }

    /// The capture time (Unix µs) of RTP sample `sample`, once mapped.
    fn capture_of(&self, sample: i64) -> Option<f64> {
        self.offset_us
            .map(|(offset, _)| offset + sample as f64 * US_PER_SAMPLE)
    }

    /// The RTP sample captured at `capture_us`, once mapped.
    fn sample_of(&self, capture_us: f64) -> Option<f64> {
        self.offset_us
            .map(|(offset, _)| (capture_us - offset) / US_PER_SAMPLE)
    }

    /// The delay to play at: the need, or the floor when larger.
    pub fn target_us(&self) -> Option<i64> {
        let need = self.need_us?;
        let synced = if self.is_stamped() {
            self.floor_us.map_or(need, |floor| need.max(floor))
        } else {
            need
        };
        Some(synced.min(MAX_DELAY_US))
    }

    fn is_stamped(&self) -> bool {
        self.offset_us.is_some_and(|(_, stamped)| stamped)
    }

    /// The sample at (fractional) RTP position `pos`, or `None` where nothing was
    /// received.
    fn sample_at(&self, pos: f64) -> Option<f32> {
        let i = pos.floor() as i64;
        let frac = (pos - i as f64) as f32;
        let a = self.raw(i)?;
        let b = self.raw(i + 1).unwrap_or(a);
        Some(a + (b - a) * frac)
    }

    fn raw(&self, i: i64) -> Option<f32> {
        let (&first, pcm) = self.packets.range(..=i).next_back()?;
        pcm.get(usize::try_from(i - first).ok()?).copied()
    }

    /// Fills `out` with the samples that play from `start_unix_us` on (one per
    /// output sample at 48 kHz); silence where nothing was received in time.
    pub fn render(&mut self, out: &mut [f32], start_unix_us: i64) {
        out.fill(0.0);
        let Some(target) = self.target_us() else {
            return;
        };
        let n = out.len();
        if n == 0 {
            return;
        }
        let start = start_unix_us as f64;
        let Some(on_target) = self.sample_of(start - target as f64) else {
            return;
        };
        // The output reads on from where it stopped, so blocks join without a seam
        // whatever the jitter of the output's own timing; the wall clock only
        // tells how far the delay is from its target.
        let p0 = match self.read_pos {
            Some(p) if !self.jumps(p, on_target) => p,
            _ => on_target,
        };
        // Positive: reading ahead of the target (the delay is short of it).
        let error = p0 - on_target;
        let error_us = error.abs() * US_PER_SAMPLE;
        if error_us > DEADBAND_US as f64 {
            self.moving = true;
        } else if error.abs() < MIN_SPLICE as f64 {
            self.moving = false;
        }
        self.splice_credit = (self.splice_credit + n as f64 * SPLICE_SHARE).min(MAX_SPLICE as f64);
        let shift = if self.moving {
            self.splice(p0, n, error)
        } else {
            0
        };
        let fade = if shift == 0 { 0 } else { SPLICE_WINDOW.min(n) };
        let oldest = self.packets.first_key_value().map(|(&first, _)| first);
        let newest = self
            .packets
            .last_key_value()
            .map(|(&first, pcm)| first + pcm.len() as i64);
        let received = |pos: f64| {
            oldest.zip(newest).is_some_and(|(from, to)| {
                let i = pos as i64;
                from <= i && i < to
            })
        };
        let mut heard = 0usize;
        for (k, slot) in out.iter_mut().enumerate() {
            let pos = p0 + (shift + k as i64) as f64;
            let sample = if k < fade {
                // Cross-fade from the audio before the splice to the audio after.
                let w = (k as f32 + 0.5) / fade as f32;
                match (self.sample_at(p0 + k as f64), self.sample_at(pos)) {
                    (Some(a), Some(b)) => Some(a + (b - a) * w),
                    (a, b) => b.or(a),
                }
            } else {
                self.sample_at(pos)
            };
            match sample {
                Some(s) => {
                    *slot = s;
                    heard += 1;
                }
                // Not received (yet) although the stream around it was.
                None if received(pos) => self.missing += 1,
                None => {}
            }
        }
        let p1 = p0 + (shift + n as i64) as f64;
        self.read_pos = Some(p1);
        let end = start + n as f64 * US_PER_SAMPLE;
        let d1 = self.offset_us.map_or(target as f64, |(offset, _)| {
            end - (offset + p1 * US_PER_SAMPLE)
        });
        self.delay_us = Some(d1);
        if heard * 2 >= n {
            self.playing = Some((end as i64, d1));
        }
        // What has been played is let go (a splice may repeat the last
        // [`MAX_SPLICE`] samples).
        let keep_from = p1.floor() as i64 - SAMPLE_RATE as i64 / 10;
        while let Some((&first, pcm)) = self.packets.first_key_value() {
            if first + (pcm.len() as i64) < keep_from {
                self.packets.pop_first();
            } else {
                break;
            }
        }
    }

    /// Whether the read position `p` jumps to `on_target` rather than splice its
    /// way there: a change beyond [`MAX_SPLICED_US`], or one beyond [`JUMP_US`]
    /// where the voice is silent.
    fn jumps(&self, p: f64, on_target: f64) -> bool {
        let distance_us = (on_target - p).abs() * US_PER_SAMPLE;
        if distance_us <= JUMP_US as f64 {
            return false;
        }
        distance_us > MAX_SPLICED_US as f64 || self.quiet(p, SPLICE_WINDOW)
    }

    /// Whether the `len` samples from `pos` are silent or were never received.
    fn quiet(&self, pos: f64, len: usize) -> bool {
        let samples: Option<Vec<f32>> = (0..len).map(|k| self.sample_at(pos + k as f64)).collect();
        samples.is_none_or(|s| is_quiet(&s))
    }

    /// The splice for the block of `n` samples read from `p0`, `error` samples
    /// ahead of the target: the signed shift of the read position (negative: a
    /// stretch played again, the delay grows), or 0 (no similar spot yet, no
    /// credit, or audio missing).
    fn splice(&mut self, p0: f64, n: usize, error: f64) -> i64 {
        let want = error.abs().min(self.splice_credit).min(MAX_SPLICE as f64) as usize;
        if want < MIN_SPLICE {
            return 0;
        }
        let window = SPLICE_WINDOW.min(n);
        // Ahead of the target: go back (repeat); behind: skip forward.
        let back = error > 0.0;
        let lo = if back { -(want as i64) } else { 0 };
        let hi = if back {
            window as i64
        } else {
            (want + window) as i64
        };
        let mut audio = Vec::with_capacity((hi - lo) as usize);
        for j in lo..hi {
            match self.sample_at(p0 + j as f64) {
                Some(s) => audio.push(s),
                // A gap: nothing to splice with (yet).
                None => return 0,
            }
        }
        let from = |j: i64| (j - lo) as usize;
        let leaving = &audio[from(0)..from(0) + window];
        let (lag, similarity) = if is_quiet(leaving) {
            (want, 1.0)
        } else {
            best_lag(&audio, from(0), window, MIN_SPLICE, want, back)
        };
        if similarity < SPLICE_SIMILARITY && self.splice_wait < SPLICE_PATIENCE {
            self.splice_wait += 1;
            return 0;
        }
        self.splice_wait = 0;
        self.splice_credit -= lag as f64;
        if back { -(lag as i64) } else { lag as i64 }
    }

    /// Samples the output wanted while later audio had already come: the
    /// packets that came too late for the delay.
    pub fn missing_samples(&self) -> u64 {
        self.missing
    }

    /// The delays, as of `now_unix_us` (the audio playing counts as playing for
    /// 200 ms after its block).
    pub fn status(&self, now_unix_us: i64) -> PlayoutStatus {
        PlayoutStatus {
            playing_delay_us: self
                .playing
                .filter(|(end, _)| now_unix_us - end < 200_000)
                .map(|(_, d)| d.round() as i64),
            need_us: self.need_us,
            recent_need_us: (!self.transits.is_empty()).then(|| {
                let skip = self.transits.len().saturating_sub(RECENT_WINDOW);
                need_of(self.transits.range(skip..).copied())
            }),
            stamped: self.is_stamped(),
        }
    }
}

/// The smallest transit plus the [`JITTER_QUANTILE`] of those above it, plus
/// [`MARGIN_US`].
fn need_of(transits: impl Iterator<Item = i64> + Clone) -> i64 {
    let base = transits.clone().min().unwrap_or(0);
    let mut extra: Vec<i64> = transits.map(|t| t - base).collect();
    extra.sort_unstable();
    let rank = ((extra.len().saturating_sub(1)) as f64 * JITTER_QUANTILE).round() as usize;
    base + extra.get(rank).copied().unwrap_or(0) + MARGIN_US
}

/// Whether `samples` are at or below [`QUIET_RMS`].
fn is_quiet(samples: &[f32]) -> bool {
    crate::media::audio::rms(samples) <= QUIET_RMS
}

/// The lag in `min..=max` at which the `window` samples of `audio` from `at` are
/// most like those `lag` earlier (`back`) or later, by normalised correlation: a
/// coarse search on 4-sample means, refined around its best at full rate. Returns
/// the lag and its correlation.
fn best_lag(
    audio: &[f32],
    at: usize,
    window: usize,
    min: usize,
    max: usize,
    back: bool,
) -> (usize, f32) {
    let other = |lag: usize| if back { at - lag } else { at + lag };
    let correlation = |lag: usize, step: usize| {
        let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
        let mut k = 0;
        while k + step <= window {
            let a: f32 = audio[at + k..at + k + step].iter().sum();
            let b: f32 = audio[other(lag) + k..other(lag) + k + step].iter().sum();
            ab += a * b;
            aa += a * a;
            bb += b * b;
            k += step;
        }
        if aa <= 0.0 || bb <= 0.0 {
            0.0
        } else {
            ab / (aa * bb).sqrt()
        }
    };
    let mut coarse = (min, f32::MIN);
    for lag in (min..=max).step_by(4) {
        let c = correlation(lag, 4);
        if c > coarse.1 {
            coarse = (lag, c);
        }
    }
    let mut best = (min, f32::MIN);
    for lag in coarse.0.saturating_sub(3).max(min)..=(coarse.0 + 3).min(max) {
        let c = correlation(lag, 1);
        if c > best.1 {
            best = (lag, c);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: usize = 960;
    const FRAME_US: i64 = 20_000;
    const T0: i64 = 1_800_000_000_000_000;

    /// A ramp that tells each sample's RTP time: sample `i` of the stream is
    /// `(i % 1000) as f32 / 1000`.
    fn frame(k: i64) -> Vec<f32> {
        (0..FRAME as i64)
            .map(|i| ((k * FRAME as i64 + i) % 1000) as f32 / 1000.0)
            .collect()
    }

    /// Sends `frames` packets captured every 20 ms from `T0`, arriving after
    /// `transit(k)` µs (in order), stamped or not; renders in 10 ms blocks from
    /// `T0` and returns, per block, the (block start, first sample's value).
    fn play(
        playout: &mut VoicePlayout,
        frames: i64,
        stamped: bool,
        transit: impl Fn(i64) -> i64,
    ) -> Vec<(i64, Option<f32>)> {
        // Wraps after 70 packets.
        let rtp0 = 4_294_900_000u32;
        let mut arrivals: Vec<(i64, i64)> = (0..frames)
            .map(|k| (T0 + k * FRAME_US + transit(k), k))
            .collect();
        for i in 1..arrivals.len() {
            arrivals[i].0 = arrivals[i].0.max(arrivals[i - 1].0);
        }
        let mut out = Vec::new();
        let mut next = 0;
        let mut now = T0;
        while now < T0 + frames * FRAME_US + 1_000_000 {
            while next < arrivals.len() && arrivals[next].0 <= now {
                let (at, k) = arrivals[next];
                let rtp = rtp0.wrapping_add((k * FRAME as i64) as u32);
                let captured = stamped.then_some((T0 + k * FRAME_US) as u64);
                playout.push(rtp, &frame(k), 0, captured, at as u64);
                next += 1;
            }
            let mut block = vec![0.0; FRAME / 2];
            playout.render(&mut block, now);
            let heard = block.iter().any(|&s| s != 0.0).then_some(block[1]);
            out.push((now, heard));
            now += FRAME_US / 2;
        }
        out
    }

    /// The capture time (µs after T0) of a rendered value, given the block it
    /// was played in: the ramp repeats every 1000 samples (20.8 ms), so the value
    /// tells the RTP position within a period; the block time picks the period.
    fn delay_of(block_start: i64, value: f32, approx_delay: i64) -> i64 {
        let pos_in_period = (value * 1000.0).round() as i64 - 1;
        let guess = (block_start - approx_delay - T0) as f64 / US_PER_SAMPLE;
        let period = ((guess - pos_in_period as f64) / 1000.0).round() as i64;
        let sample = period * 1000 + pos_in_period;
        block_start - T0 - (sample as f64 * US_PER_SAMPLE) as i64
    }

    #[test]
    fn a_steady_stream_plays_its_transit_plus_the_margin_and_is_continuous() {
        let mut p = VoicePlayout::new();
        let blocks = play(&mut p, 200, true, |_| 30_000);
        let need = p.status(T0).need_us.expect("need");
        assert_eq!(need, 30_000 + MARGIN_US);
        let played: Vec<_> = blocks
            .iter()
            .filter_map(|(t, v)| v.map(|v| (*t, v)))
            .collect();
        assert!(played.len() > 350, "{}", played.len());
        for &(t, v) in &played[10..300] {
            let d = delay_of(t, v, need);
            assert!((d - need).abs() < 100, "delay {d} at {t}");
        }
        assert_eq!(p.missing_samples(), 0);
    }

    #[test]
    fn jitter_raises_the_need_so_nothing_comes_too_late() {
        let mut p = VoicePlayout::new();
        // 100 ms ± 30 ms, in order.
        let transit = |k: i64| 100_000 + ((k * 7919) % 61 - 30) * 1000;
        play(&mut p, 500, true, transit);
        let need = p.status(T0).need_us.expect("need");
        assert!((140_000..=185_000).contains(&need), "{need}");
        let missed_after_warmup = p.missing_samples();
        // The first packets come before the window knows the jitter; after that
        // only the odd packet beyond the quantile is late.
        assert!(
            missed_after_warmup < 500 * FRAME as u64 / 20,
            "{missed_after_warmup}"
        );
    }

    #[test]
    fn a_floor_delays_a_stamped_voice_smoothly_and_an_unstamped_one_not_at_all() {
        let mut p = VoicePlayout::new();
        p.set_floor(Some(150_000));
        let blocks = play(&mut p, 300, true, |_| 10_000);
        let status = p.status(T0 + 300 * FRAME_US + 1_000_000);
        assert!(status.stamped);
        // Played at the floor (the need is 30 ms).
        let last = blocks.iter().rev().find_map(|(t, v)| v.map(|v| (*t, v)));
        let (t, v) = last.expect("played");
        assert!((delay_of(t, v, 150_000) - 150_000).abs() < 100);
        // A floor raised by 100 ms is reached by repeating stretches of the voice,
        // without a gap.
        let mut q = VoicePlayout::new();
        q.set_floor(Some(50_000));
        let rtp0 = 1000u32;
        let mut delays = Vec::new();
        let mut gaps = 0;
        for k in 0..400i64 {
            let at = T0 + k * FRAME_US + 10_000;
            let rtp = rtp0 + (k * FRAME as i64) as u32;
            q.push(
                rtp,
                &vec![0.5; FRAME],
                0,
                Some((T0 + k * FRAME_US) as u64),
                at as u64,
            );
            if k == 100 {
                q.set_floor(Some(150_000));
            }
            for half in 0..2 {
                let now = at + half * FRAME_US / 2;
                let mut block = vec![0.0; FRAME / 2];
                q.render(&mut block, now);
                if k > 10 && block.contains(&0.0) {
                    gaps += 1;
                }
                delays.push((k, q.delay_us.unwrap_or(0.0)));
            }
        }
        assert_eq!(gaps, 0, "no silence while slowing down");
        let at = |k: i64| delays.iter().find(|(j, _)| *j == k).map(|(_, d)| *d);
        assert!(at(99).is_some_and(|d| (d - 50_000.0).abs() < 1.0));
        // Splices take at most a quarter of what plays: 100 ms in about 0.4 s.
        assert!(at(105).is_some_and(|d| d > 55_000.0 && d < 145_000.0));
        assert!(at(150).is_some_and(|d| (d - 150_000.0).abs() < 1500.0));
        assert!(at(300).is_some_and(|d| (d - 150_000.0).abs() < 1500.0));
        // Without stamps the floor is ignored: the voice cannot be synchronised.
        let mut r = VoicePlayout::new();
        r.set_floor(Some(400_000));
        play(&mut r, 100, false, |_| 10_000);
        let status = r.status(T0);
        assert!(!status.stamped);
        assert_eq!(r.target_us(), status.need_us);
    }

    #[test]
    fn a_tone_keeps_its_pitch_while_its_delay_follows_steps_of_the_floor() {
        const HZ: f32 = 1300.0;
        let tone =
            |i: i64| 0.5 * (std::f32::consts::TAU * HZ * i as f32 / SAMPLE_RATE as f32).sin();
        let mut p = VoicePlayout::new();
        p.set_floor(Some(100_000));
        let mut played = Vec::new();
        let mut delays = Vec::new();
        for k in 0..500i64 {
            let at = T0 + k * FRAME_US + 10_000;
            let pcm: Vec<f32> = (0..FRAME as i64)
                .map(|i| tone(k * FRAME as i64 + i))
                .collect();
            p.push(
                (k * FRAME as i64) as u32,
                &pcm,
                0,
                Some((T0 + k * FRAME_US) as u64),
                at as u64,
            );
            // The pictures' delay steps up by 300 ms (a stall), then back down.
            match k {
                100 => p.set_floor(Some(400_000)),
                300 => p.set_floor(Some(100_000)),
                _ => {}
            }
            for half in 0..2 {
                let mut block = vec![0.0; FRAME / 2];
                p.render(&mut block, at + half * FRAME_US / 2);
                if k >= 10 {
                    played.extend_from_slice(&block);
                }
            }
            delays.push(p.delay_us.unwrap_or(0.0));
        }
        // 300 ms at a quarter of the time: 1.2 s; both steps are reached.
        assert!((delays[190] - 400_000.0).abs() < 1500.0, "{}", delays[190]);
        assert!((delays[390] - 100_000.0).abs() < 1500.0, "{}", delays[390]);
        assert!(
            delays[120] > 150_000.0 && delays[120] < 350_000.0,
            "moves gradually: {}",
            delays[120]
        );
        // Every 20 ms of what played is the tone at its pitch and level: no gap,
        // no silence, no frequency shift.
        let weakest = played
            .chunks_exact(FRAME)
            .map(|w| crate::media::audio::tone_amplitude(w, SAMPLE_RATE, HZ))
            .fold(f32::MAX, f32::min);
        assert!(weakest > 0.45, "weakest 20 ms: {weakest}");
        assert_eq!(p.missing_samples(), 0);
    }

    #[test]
    fn a_floor_that_wanders_within_the_dead_band_leaves_the_pitch_alone() {
        let mut p = VoicePlayout::new();
        p.set_floor(Some(200_000));
        for k in 0..300i64 {
            let at = T0 + k * FRAME_US + 10_000;
            let captured = Some((T0 + k * FRAME_US) as u64);
            p.push((k * FRAME as i64) as u32, &frame(k), 0, captured, at as u64);
            // The pictures' delay wobbles by ± 20 ms.
            p.set_floor(Some(200_000 + ((k * 37) % 41 - 20) * 1000));
            let mut block = vec![0.0; FRAME];
            p.render(&mut block, at);
            if k > 0 {
                let d = p.delay_us.unwrap_or(0.0);
                assert!((d - 200_000.0).abs() < 21_000.0, "{d} at {k}");
            }
        }
        // Played at its own speed throughout: consecutive samples step by one.
        let mut block = vec![0.0; FRAME];
        p.render(&mut block, T0 + 300 * FRAME_US);
        let steps = block
            .windows(2)
            .filter(|w| (w[1] - w[0] - 0.001).abs() > 1e-4)
            .count();
        assert!(steps <= 2, "{steps} (only where the ramp wraps)");
    }

    #[test]
    fn blocks_join_without_a_seam_when_the_output_is_called_unevenly() {
        let mut p = VoicePlayout::new();
        let mut played = Vec::new();
        for k in 0..200i64 {
            let at = T0 + k * FRAME_US + 5_000;
            let captured = Some((T0 + k * FRAME_US) as u64);
            p.push((k * FRAME as i64) as u32, &frame(k), 0, captured, at as u64);
            // A device asks for 20 ms every 20 ms, give or take 4 ms.
            let called = at + ((k * 53) % 9 - 4) * 1000;
            let mut block = vec![0.0; FRAME];
            p.render(&mut block, called);
            if k > 5 {
                played.extend(block);
            }
        }
        let seams = played
            .windows(2)
            .filter(|w| (w[1] - w[0] - 0.001).abs() > 1e-4 && w[1] > 0.002)
            .count();
        assert_eq!(seams, 0, "one continuous ramp");
    }

    #[test]
    fn a_paused_sender_clock_restarts_the_mapping_and_a_new_stream_the_buffer() {
        let mut p = VoicePlayout::new();
        let pcm = vec![0.25; FRAME];
        for k in 0..50i64 {
            let at = (T0 + k * FRAME_US + 5_000) as u64;
            p.push(
                (k * 960) as u32,
                &pcm,
                0,
                Some((T0 + k * FRAME_US) as u64),
                at,
            );
        }
        // Muted for 3 s: RTP goes on from where it was, capture time 3 s later.
        let later = T0 + 50 * FRAME_US + 3_000_000;
        p.push(
            50 * 960,
            &pcm,
            0,
            Some(later as u64),
            (later + 5_000) as u64,
        );
        let mut block = vec![0.0; 480];
        p.render(&mut block, later + 5_000 + MARGIN_US);
        assert!(block.iter().all(|&s| s == 0.25), "the new packet plays");
        assert_eq!(p.status(later).need_us, Some(5_000 + MARGIN_US));
        // A new connection: another random RTP base.
        p.push(
            123_456_789,
            &[0.75; FRAME],
            0,
            Some(later as u64 + 20_000),
            later as u64 + 26_000,
        );
        assert_eq!(p.packets.len(), 1);
        let mut block = vec![0.0; 480];
        p.render(&mut block, later + 26_000 + MARGIN_US);
        assert!(block.iter().all(|&s| s == 0.75));
    }
}
