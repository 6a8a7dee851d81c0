//! Sans-IO playout pacing of one remote peer's decoded pictures.
//!
//! Loss repair ([`super::peer::reorder`]) holds a stream while a packet is
//! retransmitted, then releases the waiting pictures together. Shown as they come,
//! such a burst collapses into one visible picture (the app shows the newest per
//! rendered frame) followed by a jump. [`Playout`] spreads pictures back out to
//! their capture rhythm behind an adaptive delay:
//!
//! - each picture's *transit* is its arrival wall time minus its capture wall time
//!   (the sender's clock: any constant offset between machines cancels out below);
//! - the *extra* delay of a picture is its transit minus the smallest transit of
//!   the last [`WINDOW`] pictures of the last [`WINDOW_TIME`];
//! - the target delay is the [`QUANTILE`] of the recent extras of pictures that
//!   waited for a repair, each counted at most as long as it waited (the others
//!   count as zero: smoothing the sender's own CPU jitter would only add latency),
//!   at most `max_delay`. Without that bound a picture repaired while a queue stood
//!   on the path counted the queue's delay too, and after the queue drained the
//!   target kept it for the whole window (seen on a link that slowed to 300
//!   kbit/s: glass-to-glass over 400 ms for 10 s after the sender had adapted);
//! - a picture is released when it has been late by the target: at
//!   `arrival - extra + target`. On a clean link the extras, and so the added
//!   delay, are a few milliseconds; under loss the target grows to cover the
//!   repairs and the pictures keep their rhythm.
//!
//! A *hold* ([`Playout::set_hold`]) adds to the target: the pictures wait for a
//! voice that cannot play as early as they could (lip sync).
//!
//! Release order is arrival order (decode order), and two pictures are released at
//! least half their capture interval apart (a late picture released at once must
//! not land in the same rendered frame as the next one, which would hide one of
//! them). The queue is bounded by [`MAX_QUEUED`], beyond which the oldest picture
//! is released at once.
//!
//! The display shows the newest picture it finds at each rendered frame, so a
//! picture released before the display took the previous one would hide that one.
//! [`Playout::pop_for_display`] therefore holds a due picture until the display is
//! ready for it, for at most [`DISPLAY_SLACK`]: a render loop that hiccups (a busy
//! machine, a slow software renderer) delays pictures a little instead of dropping
//! them, and one that is persistently slower than the stream still gets the newest.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Pictures whose transit informs the target (10 s at 15 fps).
pub const WINDOW: usize = 150;
/// Pictures older than this no longer inform the target, so a burst of repairs
/// (a link that just slowed down) is forgotten within seconds, not after
/// [`WINDOW`] more pictures (20 s at the send ladder's 7.5 fps).
pub const WINDOW_TIME: Duration = Duration::from_secs(4);
/// Share of recent pictures that should arrive before their playout time.
pub const QUANTILE: f64 = 0.95;
/// Pictures held at most.
pub const MAX_QUEUED: usize = 16;
/// How long past its time a picture waits for the display to take the previous one.
pub const DISPLAY_SLACK: Duration = Duration::from_millis(150);

/// Paces pictures (`T`) to their capture rhythm behind an adaptive delay.
#[derive(Debug)]
pub struct Playout<T> {
    max_delay: Duration,
    queue: VecDeque<(Instant, T)>,
    /// Recent pictures: arrival, transit, and how long each waited for a repair.
    transits_us: VecDeque<(Instant, i64, Duration)>,
    target: Duration,
    /// Added to the target (lip sync).
    hold: Duration,
    /// Release time and capture time of the newest picture queued.
    last: Option<(Instant, u64)>,
}

impl<T> Playout<T> {
    /// Adds at most `max_delay` to any picture.
    pub fn new(max_delay: Duration) -> Self {
        Self {
            max_delay,
            queue: VecDeque::new(),
            transits_us: VecDeque::new(),
            target: Duration::ZERO,
            hold: Duration::ZERO,
            last: None,
        }
    }

    /// The delay currently added to an on-time picture (the hold included).
    pub fn target(&self) -> Duration {
        self.target + self.hold
    }

    /// Holds every picture this much longer (lip sync: the voice needs more delay
    /// than the pictures).
    pub fn set_hold(&mut self, hold: Duration) {
        self.hold = hold;
    }

    /// A picture arrived at `arrived` (our wall clock `arrived_unix_us`), captured at
    /// the sender's `captured_unix_us` (unknown: shown at once), after waiting
    /// `repair_wait` for a lost packet.
    pub fn push(
        &mut self,
        item: T,
        arrived: Instant,
        arrived_unix_us: u64,
        captured_unix_us: Option<u64>,
        repair_wait: Duration,
    ) {
        let due = match captured_unix_us {
            Some(captured) => {
                let transit = arrived_unix_us as i64 - captured as i64;
                self.transits_us.push_back((arrived, transit, repair_wait));
                while self.transits_us.len() > WINDOW
                    || self.transits_us.front().is_some_and(|&(at, _, _)| {
                        arrived.saturating_duration_since(at) > WINDOW_TIME
                    })
                {
                    self.transits_us.pop_front();
                }
                let base = self
                    .transits_us
                    .iter()
                    .map(|&(_, t, _)| t)
                    .min()
                    .unwrap_or(transit);
                let mut extras: Vec<i64> = self
                    .transits_us
                    .iter()
                    .map(|&(_, t, wait)| (t - base).min(wait.as_micros() as i64))
                    .collect();
                extras.sort_unstable();
                let rank = ((extras.len() - 1) as f64 * QUANTILE).round() as usize;
                let quantile = extras.get(rank).copied().unwrap_or(0).max(0) as u64;
                self.target = Duration::from_micros(quantile).min(self.max_delay);
                let extra = Duration::from_micros((transit - base).max(0) as u64);
                arrived + (self.target + self.hold).saturating_sub(extra)
            }
            None => arrived,
        };
        // Never before a picture that came earlier, and half a capture interval
        // after it.
        let due = match (self.last, captured_unix_us) {
            (Some((last_due, last_captured)), Some(captured)) => {
                let half = Duration::from_micros(captured.saturating_sub(last_captured) / 2)
                    .min(Duration::from_millis(100));
                due.max(last_due + half)
            }
            (Some((last_due, _)), None) => due.max(last_due),
            (None, _) => due,
        };
        if let Some(captured) = captured_unix_us {
            self.last = Some((due, captured));
        }
        self.queue.push_back((due, item));
    }

    /// The next picture whose time has come at `now` (or the oldest, while more
    /// than [`MAX_QUEUED`] wait).
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        let over = self.queue.len() > MAX_QUEUED;
        match self.queue.front() {
            Some((due, _)) if over || *due <= now => self.queue.pop_front().map(|(_, item)| item),
            _ => None,
        }
    }

    /// The next picture to hand to a display that shows the newest picture it
    /// finds per rendered frame: as [`Self::pop_due`], but a due picture waits
    /// while the display has not taken the previous one (`display_ready` false),
    /// for at most [`DISPLAY_SLACK`] past its time.
    pub fn pop_for_display(&mut self, now: Instant, display_ready: bool) -> Option<T> {
        let over = self.queue.len() > MAX_QUEUED;
        match self.queue.front() {
            Some((due, _))
                if over || (*due <= now && (display_ready || *due + DISPLAY_SLACK <= now)) =>
            {
                self.queue.pop_front().map(|(_, item)| item)
            }
            _ => None,
        }
    }

    /// When the next picture is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|(due, _)| *due)
    }

    /// Pictures waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME_US: u64 = 66_667;

    /// Feeds pictures captured every 66.7 ms whose network delay is `delay_ms(i)`,
    /// and returns the release instants, in µs after the first capture. Delay
    /// beyond the smallest is a repair wait when `repairs`, sender jitter otherwise.
    fn run(frames: u64, repairs: bool, delay_ms: impl Fn(u64) -> u64) -> (Vec<u64>, Duration) {
        let fastest = (0..frames).map(&delay_ms).min().unwrap_or(0) * 1000;
        let t0 = Instant::now();
        let unix0 = 1_800_000_000_000_000u64;
        let mut playout = Playout::new(Duration::from_millis(500));
        let mut arrivals: Vec<(u64, u64)> = (0..frames)
            .map(|i| (i * FRAME_US + delay_ms(i) * 1000, i))
            .collect();
        // A repaired picture releases the ones queued behind it: arrival order is
        // decode order, so nothing arrives before its predecessor.
        for k in 1..arrivals.len() {
            arrivals[k].0 = arrivals[k].0.max(arrivals[k - 1].0);
        }
        let mut released = vec![0u64; frames as usize];
        let mut now_us = 0u64;
        let mut next = 0;
        while now_us < frames * FRAME_US + 3_000_000 {
            while next < arrivals.len() && arrivals[next].0 <= now_us {
                let (at, i) = arrivals[next];
                let wait = at - (i * FRAME_US + fastest);
                playout.push(
                    i,
                    t0 + Duration::from_micros(at),
                    unix0 + at,
                    Some(unix0 + i * FRAME_US),
                    Duration::from_micros(if repairs { wait } else { 0 }),
                );
                next += 1;
            }
            while let Some(i) = playout.pop_due(t0 + Duration::from_micros(now_us)) {
                released[i as usize] = now_us;
            }
            now_us += 1000;
        }
        (released, playout.target())
    }

    fn max_gap_ms(released: &[u64]) -> u64 {
        released.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0) / 1000
    }

    #[test]
    fn a_clean_stream_is_not_delayed() {
        let (released, target) = run(100, true, |_| 20);
        assert_eq!(target, Duration::ZERO);
        assert!(
            released[50] - (50 * FRAME_US + 20_000) < 1000,
            "shown on arrival"
        );
        assert!(max_gap_ms(&released) <= 68);
    }

    #[test]
    fn repair_bursts_are_spread_back_to_the_capture_rhythm() {
        // One picture in five waits 220 ms for a retransmission.
        let delay = |i: u64| if i % 5 == 2 { 320 } else { 100 };
        let (released, target) = run(150, true, delay);
        assert!(
            (Duration::from_millis(200)..=Duration::from_millis(240)).contains(&target),
            "{target:?}"
        );
        // Once the target has settled, every picture keeps its slot.
        let settled = &released[40..];
        assert!(max_gap_ms(settled) <= 70, "gap {} ms", max_gap_ms(settled));
        // Without pacing, the release would come in bursts: 4 pictures at once.
        let raw_gap = 220 + 66;
        assert!(max_gap_ms(settled) < raw_gap / 2);
    }

    #[test]
    fn a_burst_of_repairs_is_forgotten_within_the_window_time() {
        // Pictures 10-20 (two thirds of a second) wait up to 600 ms for repairs
        // (a link that just slowed down), then the stream runs clean for 6 s.
        let delay = |i: u64| {
            if (10..20).contains(&i) {
                100 + 60 * (20 - i)
            } else {
                100
            }
        };
        let (_, target) = run(20, true, delay);
        assert!(target >= Duration::from_millis(300), "{target:?}");
        let (_, target) = run(20 + 90, true, delay);
        assert_eq!(target, Duration::ZERO, "6 s later");
    }

    #[test]
    fn sender_jitter_without_repairs_adds_no_delay() {
        // Transit varies by up to 90 ms (a busy sender), but nothing was repaired.
        let (released, target) = run(100, false, |i| (i * 37) % 90);
        assert_eq!(target, Duration::ZERO);
        let arrival = |i: u64| i * FRAME_US + ((i * 37) % 90) * 1000;
        assert!(
            released[60] - arrival(60) < FRAME_US,
            "shown about when it came"
        );
    }

    #[test]
    fn a_hold_delays_every_picture_by_as_much() {
        let t0 = Instant::now();
        let unix0 = 1_800_000_000_000_000u64;
        let mut playout = Playout::new(Duration::from_millis(500));
        playout.set_hold(Duration::from_millis(80));
        for i in 0..10u64 {
            let at = i * FRAME_US;
            let arrived = t0 + Duration::from_micros(at);
            playout.push(i, arrived, unix0 + at, Some(unix0 + at), Duration::ZERO);
            assert_eq!(playout.pop_due(arrived + Duration::from_millis(79)), None);
            assert_eq!(
                playout.pop_due(arrived + Duration::from_millis(80)),
                Some(i)
            );
        }
        assert_eq!(playout.target(), Duration::from_millis(80));
    }

    #[test]
    fn a_late_picture_does_not_crowd_the_next_one() {
        // Picture 10 is 150 ms late, later than the (zero) target: it goes at once,
        // and picture 11 still follows it by half a capture interval.
        let (released, _) = run(30, true, |i| if i == 10 { 150 } else { 0 });
        assert!(released[11] - released[10] >= FRAME_US / 2, "{released:?}");
    }

    /// Pictures captured every 66.7 ms arrive on time; a display renders a frame
    /// after each of `frame_ms` in turn and shows the newest picture it finds.
    /// Returns how many pictures were shown, and the longest a shown picture
    /// waited past its arrival, in ms.
    fn display(pictures: u64, frame_ms: &[u64], gate: bool) -> (u64, u64) {
        let t0 = Instant::now();
        let unix0 = 1_800_000_000_000_000u64;
        let at = |us: u64| t0 + Duration::from_micros(us);
        let mut playout = Playout::new(Duration::from_millis(500));
        let mut handed: Option<(u64, u64)> = None; // (picture, released at)
        let (mut shown, mut worst) = (0, 0);
        let mut next_arrival = 0u64;
        let mut next_frame = frame_ms[0] * 1000;
        let mut k = 0;
        for now_us in (0..pictures * FRAME_US + 1_000_000).step_by(1000) {
            while next_arrival < pictures && next_arrival * FRAME_US <= now_us {
                let t = next_arrival * FRAME_US;
                playout.push(
                    next_arrival,
                    at(t),
                    unix0 + t,
                    Some(unix0 + t),
                    Duration::ZERO,
                );
                next_arrival += 1;
            }
            loop {
                let ready = handed.is_none();
                let next = if gate {
                    playout.pop_for_display(at(now_us), ready)
                } else {
                    playout.pop_due(at(now_us))
                };
                let Some(i) = next else { break };
                handed = Some((i, now_us));
            }
            if now_us >= next_frame {
                if let Some((i, _)) = handed.take() {
                    shown += 1;
                    worst = worst.max((now_us - i * FRAME_US) / 1000);
                }
                k += 1;
                next_frame += frame_ms[k % frame_ms.len()] * 1000;
            }
        }
        (shown, worst)
    }

    #[test]
    fn a_display_that_hiccups_still_shows_every_picture() {
        // 18 rendered frames a second on average, but unevenly: 30 to 90 ms apart.
        let frames = [30, 90, 40, 80, 35, 55, 60, 45];
        let (ungated, _) = display(150, &frames, false);
        let (gated, worst) = display(150, &frames, true);
        assert!(ungated < 145, "without waiting for the display: {ungated}");
        assert_eq!(gated, 150, "every picture shown");
        assert!(worst <= 150 + 90, "held at most the slack: {worst} ms");
    }

    #[test]
    fn a_display_slower_than_the_stream_gets_the_newest_pictures() {
        // 10 rendered frames a second for a 15 fps stream: a third cannot be shown,
        // and those shown are not held back ever longer.
        let (shown, worst) = display(150, &[100], true);
        assert!((95..=105).contains(&shown), "{shown}");
        assert!(worst <= 150 + 100, "{worst} ms");
    }

    #[test]
    fn the_delay_is_capped_and_the_queue_bounded() {
        // Clean at first, then a 1.5 s stall every 10 pictures.
        let (released, target) = run(60, true, |i| if i >= 20 && i % 10 == 0 { 1_500 } else { 0 });
        assert_eq!(target, Duration::from_millis(500));
        assert!(
            released[1..].iter().all(|&r| r > 0),
            "everything is released"
        );
        // A long hold: beyond MAX_QUEUED the oldest go at once, in order.
        let mut playout = Playout::new(Duration::from_secs(1));
        let t = Instant::now();
        let unix = 1_800_000_000_000_000u64;
        // Late pictures raise the target to 900 ms (and go at once themselves) ...
        for i in 0..20u64 {
            let transit = if i < 10 { 0 } else { 900_000 };
            let wait = Duration::from_micros(transit);
            playout.push(i, t, unix + transit, Some(unix), wait);
        }
        while playout.pop_due(t).is_some() {}
        assert_eq!(playout.target(), Duration::from_millis(900));
        // ... so on-time ones are held for it, and only the overflow leaves early.
        for i in 0..(MAX_QUEUED as u64 + 5) {
            playout.push(i, t, unix, Some(unix), Duration::ZERO);
        }
        let mut out = Vec::new();
        while let Some(i) = playout.pop_due(t) {
            out.push(i);
        }
        assert_eq!(
            out,
            (0..5).collect::<Vec<_>>(),
            "only the overflow, oldest first"
        );
        assert_eq!(playout.len(), MAX_QUEUED);
    }
}
