//! Sans-IO receive-side reordering and loss repair for one video stream.
//!
//! [`ReorderBuffer`] sits between the network and the
//! [`super::assembler::AccessUnitAssembler`]. Packets that arrive in order pass
//! straight through, so a clean network adds no latency. When a sequence number is
//! missing, the packets behind it are held (head-of-line) while the buffer asks for
//! the missing one (RTCP NACK, RFC 4585) and waits for its retransmission:
//!
//! - the first NACK goes out at once, a second [`SECOND_NACK_AFTER`] later (either
//!   the request or the retransmission may itself be lost), then one every
//!   1.25 round trips while time remains;
//! - the round trip is measured from the NACKs this buffer sent to the
//!   retransmissions that answered them (the media path's own round trip, which a
//!   data-channel ping does not see): the median of the last [`RTT_SAMPLES`], so a
//!   packet that was merely reordered (back 1 ms after its NACK) cannot shrink the
//!   window below a real retransmission's time;
//! - after the recovery window (fixed, or four round trips plus 100 ms) the missing
//!   packets are given up: the buffer releases [`Released::Lost`] and moves on,
//!   and the assembler then drops the damaged frame and asks for a keyframe.
//!
//! Compared with a fixed-depth jitter buffer (every packet held for the same
//! time), latency is added only while a frame actually waits for a repair.
//! Everything is bounded: [`MAX_HELD_PACKETS`] held, gaps over [`MAX_GAP`] restart
//! the stream instead of being waited out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Round-trip estimate before the first retransmission has been timed.
pub const INITIAL_RTT: Duration = Duration::from_millis(100);
/// NACK → repair times kept for the round-trip median.
pub const RTT_SAMPLES: usize = 9;
/// The second NACK for a packet follows the first after this long.
pub const SECOND_NACK_AFTER: Duration = Duration::from_millis(30);
/// Re-NACKs are never closer together than this.
pub const MIN_RENACK_INTERVAL: Duration = Duration::from_millis(20);
/// At most this many NACKs per missing packet.
pub const MAX_NACKS_PER_PACKET: u32 = 8;
/// Adaptive recovery window bounds.
pub const MIN_RECOVERY_WINDOW: Duration = Duration::from_millis(100);
/// Upper bound of the adaptive recovery window.
pub const MAX_RECOVERY_WINDOW: Duration = Duration::from_millis(1000);
/// Packets held at most; beyond it the oldest gap is given up at once.
pub const MAX_HELD_PACKETS: usize = 2048;
/// A forward jump in sequence numbers larger than this restarts the stream.
pub const MAX_GAP: u64 = 1024;

/// What the buffer hands on, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released<P> {
    /// The next packet.
    Packet(P),
    /// This many packets were given up (the next packet is not contiguous).
    Lost(u64),
}

/// Counters for reports and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReorderStats {
    /// Packets received (duplicates excluded).
    pub received: u64,
    /// Missing packets that arrived later (retransmitted or reordered).
    pub recovered: u64,
    /// Packets given up.
    pub lost: u64,
    /// Sequence numbers put into NACKs (a packet may be asked for more than once).
    pub nacked: u64,
    /// Duplicates and packets that came after they were given up.
    pub discarded: u64,
    /// FlexFEC repair packets received (`--video-fec`; from the connection's stats,
    /// not counted by the buffer: a packet they rebuild counts as recovered).
    pub fec_received: u64,
    /// Their bytes (RTP payload), from the same stats.
    pub fec_bytes_received: u64,
    /// Missing packets that FlexFEC rebuilt (part of `recovered`).
    pub fec_rebuilt: u64,
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    detected: Instant,
    first_nack: Option<Instant>,
    last_nack: Option<Instant>,
    nacks: u32,
    /// Given up before its time (too much held behind it).
    abandoned: bool,
    /// A keyframe was asked for because of it ([`ReorderBuffer::keyframe_due`]).
    keyframe_asked: bool,
}

impl Missing {
    /// When it is given up: `window` after it went missing, or at once when
    /// abandoned.
    fn expires_at(&self, window: Duration) -> Instant {
        if self.abandoned {
            self.detected
        } else {
            self.detected + window
        }
    }

    /// When it is next due to be asked for (`renack` after the second NACK), or
    /// `None` once no more NACKs go out for it.
    fn next_nack(&self, renack: Duration) -> Option<Instant> {
        if self.abandoned || self.nacks >= MAX_NACKS_PER_PACKET {
            return None;
        }
        Some(match (self.nacks, self.last_nack) {
            (0, _) | (_, None) => self.detected,
            (1, Some(last)) => last + SECOND_NACK_AFTER,
            (_, Some(last)) => last + renack,
        })
    }
}

/// Reorders one stream's packets by sequence number and schedules NACKs for the
/// missing ones. `P` is the packet (the driver's RTP packet, plain values in tests).
#[derive(Debug)]
pub struct ReorderBuffer<P> {
    window: Option<Duration>,
    /// Packets waiting, with their arrival time when a missing packet was ahead of
    /// them (`None`: only waiting for the next `pop`).
    held: BTreeMap<u64, (Option<Instant>, P)>,
    /// How long the packet popped last had waited.
    last_wait: Duration,
    missing: BTreeMap<u64, Missing>,
    /// The extended sequence number released next.
    next: Option<u64>,
    /// The highest extended sequence number seen.
    highest: Option<u64>,
    /// Packets given up by a restart, reported before anything else.
    pending_loss: u64,
    rtt: Duration,
    rtt_samples: std::collections::VecDeque<Duration>,
    stats: ReorderStats,
}

impl<P> ReorderBuffer<P> {
    /// A buffer whose recovery window is `window`, or adaptive when `None`.
    pub fn new(window: Option<Duration>) -> Self {
        Self {
            window,
            held: BTreeMap::new(),
            last_wait: Duration::ZERO,
            missing: BTreeMap::new(),
            next: None,
            highest: None,
            pending_loss: 0,
            rtt: INITIAL_RTT,
            rtt_samples: std::collections::VecDeque::with_capacity(RTT_SAMPLES),
            stats: ReorderStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ReorderStats {
        self.stats
    }

    /// How long the packet [`Self::pop`] returned last waited here (zero unless it
    /// was held behind a missing one).
    pub fn last_wait(&self) -> Duration {
        self.last_wait
    }

    /// The measured media round trip (NACK → retransmission).
    pub fn rtt(&self) -> Duration {
        self.rtt
    }

    /// How long a missing packet is waited for.
    pub fn recovery_window(&self) -> Duration {
        self.window.unwrap_or_else(|| {
            (self.rtt * 4 + Duration::from_millis(100))
                .clamp(MIN_RECOVERY_WINDOW, MAX_RECOVERY_WINDOW)
        })
    }

    /// The extended form of `sequence`, nearest to the highest seen.
    fn extend(&self, sequence: u16) -> Option<u64> {
        let Some(highest) = self.highest else {
            // Room below the first packet, so reordered early packets stay positive.
            return Some(u64::from(sequence) + (1 << 16));
        };
        let delta = i64::from(sequence.wrapping_sub(highest as u16) as i16);
        u64::try_from(highest as i64 + delta).ok()
    }

    /// A packet with RTP sequence number `sequence` arrived at `now`.
    pub fn push(&mut self, now: Instant, sequence: u16, packet: P) {
        self.arrive(now, sequence, packet, true);
    }

    /// A packet that FlexFEC rebuilt here: it fills its gap like an arrival, but
    /// its wait since the NACK was the FEC block's, not a round trip, so it does
    /// not inform the round trip.
    pub fn push_rebuilt(&mut self, now: Instant, sequence: u16, packet: P) {
        self.arrive(now, sequence, packet, false);
    }

    /// A packet from which the stream decodes on its own (it starts a keyframe).
    /// A run of packets still missing before it is given up at once when the
    /// packet held just after the run (this one, or another before it) is
    /// `stale`: the sender has long moved on past the run, and its repair has had
    /// every chance. Other runs are still waited for. On a link whose queue
    /// overflowed, the keyframe sent once the queue drained otherwise waited here
    /// behind the dropped packets until their recovery window (which the queue
    /// stretched to its 1 s bound) ran out. Giving up every missing packet
    /// instead cost frames that a retransmission would have repaired on a merely
    /// lossy link.
    pub fn push_fresh_start(
        &mut self,
        now: Instant,
        sequence: u16,
        packet: P,
        stale: impl Fn(&P) -> bool,
    ) {
        let ext = self.extend(sequence);
        self.arrive(now, sequence, packet, true);
        let Some(ext) = ext else {
            return;
        };
        // Everything from `next` to the highest seen is held or missing, so the
        // first held packet after a missing one is the one just after its run.
        for (&seq, m) in self.missing.range_mut(..ext) {
            if self
                .held
                .range(seq + 1..)
                .next()
                .is_some_and(|(_, (_, p))| stale(p))
            {
                m.abandoned = true;
            }
        }
    }

    fn arrive(&mut self, now: Instant, sequence: u16, packet: P, times_round_trip: bool) {
        let Some(ext) = self.extend(sequence) else {
            self.stats.discarded += 1;
            return;
        };
        let (Some(next), Some(highest)) = (self.next, self.highest) else {
            self.next = Some(ext);
            self.highest = Some(ext);
            self.held.insert(ext, (None, packet));
            self.stats.received += 1;
            return;
        };
        if ext < next || self.held.contains_key(&ext) {
            self.stats.discarded += 1;
            return;
        }
        if ext > highest {
            let gap = ext - highest - 1;
            if gap > MAX_GAP {
                // The sender restarted or a long outage: start over at this packet.
                // Everything not yet released (held or missing) and the gap itself.
                self.pending_loss += highest + 1 - next + gap;
                self.held.clear();
                self.missing.clear();
                self.next = Some(ext);
            } else {
                for s in highest + 1..ext {
                    self.missing.insert(
                        s,
                        Missing {
                            detected: now,
                            first_nack: None,
                            last_nack: None,
                            nacks: 0,
                            abandoned: false,
                            keyframe_asked: false,
                        },
                    );
                }
            }
            self.highest = Some(ext);
        } else if let Some(m) = self.missing.remove(&ext) {
            self.stats.recovered += 1;
            if !times_round_trip {
                self.stats.fec_rebuilt += 1;
            } else if let Some(asked) = m.first_nack {
                self.observe_rtt(now.saturating_duration_since(asked));
            }
        }
        self.stats.received += 1;
        let blocked = self.missing.keys().next().is_some_and(|&m| m < ext);
        self.held.insert(ext, (blocked.then_some(now), packet));
        if self.held.len() > MAX_HELD_PACKETS {
            self.give_up_head();
        }
    }

    /// Folds a NACK → repair time into the estimate: the median of recent ones.
    fn observe_rtt(&mut self, sample: Duration) {
        if self.rtt_samples.len() == RTT_SAMPLES {
            self.rtt_samples.pop_front();
        }
        self.rtt_samples.push_back(sample);
        let mut sorted: Vec<Duration> = self.rtt_samples.iter().copied().collect();
        sorted.sort_unstable();
        self.rtt = sorted[sorted.len() / 2];
    }

    /// Abandons the oldest run of missing packets: [`Self::pop`] gives it up as
    /// soon as it reaches it.
    fn give_up_head(&mut self) {
        let Some(&first) = self.missing.keys().next() else {
            return;
        };
        let mut at = first;
        while let Some(m) = self.missing.get_mut(&at) {
            m.abandoned = true;
            at += 1;
        }
    }

    /// Whether a missing packet is past hope at `now`.
    fn expired(&self, m: &Missing, now: Instant) -> bool {
        now >= m.expires_at(self.recovery_window())
    }

    /// Time between later NACKs for one packet: 1.25 round trips.
    fn renack_interval(&self) -> Duration {
        (self.rtt + self.rtt / 4).max(MIN_RENACK_INTERVAL)
    }

    /// The next packet in order, or a loss report, once it may go; `None` while
    /// waiting (or empty).
    pub fn pop(&mut self, now: Instant) -> Option<Released<P>> {
        if self.pending_loss > 0 {
            let lost = std::mem::take(&mut self.pending_loss);
            self.stats.lost += lost;
            return Some(Released::Lost(lost));
        }
        let next = self.next?;
        if let Some((arrived, packet)) = self.held.remove(&next) {
            self.next = Some(next + 1);
            self.last_wait = arrived.map_or(Duration::ZERO, |a| now.saturating_duration_since(a));
            return Some(Released::Packet(packet));
        }
        let missing = self.missing.get(&next)?;
        if !self.expired(missing, now) {
            return None;
        }
        // Give up every missing packet whose time is up, from the head on.
        let mut lost = 0;
        let mut at = next;
        while let Some(m) = self.missing.get(&at) {
            if !self.expired(m, now) {
                break;
            }
            self.missing.remove(&at);
            lost += 1;
            at += 1;
        }
        self.next = Some(at);
        self.stats.lost += lost;
        Some(Released::Lost(lost))
    }

    /// How long a missing packet is waited for before a keyframe is asked for
    /// while still waiting: two round trips (the NACK and its quick second both
    /// had their chance) and 100 ms. The recovery window waits about twice as
    /// long; asking only when it ran out added the whole keyframe round trip to
    /// that (freezes of 1.2-1.4 s under 5 % loss in the lossy namespace test).
    fn keyframe_after(&self) -> Duration {
        self.rtt * 2 + Duration::from_millis(100)
    }

    /// Whether a keyframe should be asked for now: a missing packet that
    /// retransmission has not repaired within [`Self::keyframe_after`] (once per
    /// packet). The keyframe that answers gives it up if it still misses
    /// ([`Self::push_fresh_start`]); a late repair still fills its gap.
    pub fn keyframe_due(&mut self, now: Instant) -> bool {
        let after = self.keyframe_after();
        let window = self.recovery_window();
        let mut due = false;
        for m in self.missing.values_mut() {
            if !m.keyframe_asked && m.detected + after <= now && m.detected + window > now {
                m.keyframe_asked = true;
                due = true;
            }
        }
        due
    }

    /// Sequence numbers to NACK now (each missing packet at its schedule).
    pub fn nacks(&mut self, now: Instant) -> Vec<u16> {
        let (window, renack) = (self.recovery_window(), self.renack_interval());
        let mut out = Vec::new();
        for (&seq, m) in &mut self.missing {
            if now >= m.expires_at(window) {
                continue;
            }
            if m.next_nack(renack).is_some_and(|due| now >= due) {
                m.first_nack.get_or_insert(now);
                m.last_nack = Some(now);
                m.nacks += 1;
                out.push(seq as u16);
            }
        }
        self.stats.nacked += out.len() as u64;
        out
    }

    /// When [`Self::pop`], [`Self::nacks`] or [`Self::keyframe_due`] next has
    /// something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (window, renack) = (self.recovery_window(), self.renack_interval());
        let give_up = self
            .next
            .and_then(|n| self.missing.get(&n))
            .map(|m| m.expires_at(window));
        let after = self.keyframe_after();
        let scheduled = self
            .missing
            .values()
            .filter_map(|m| m.next_nack(renack))
            .chain(
                self.missing
                    .values()
                    .filter(|m| !m.keyframe_asked)
                    .map(|m| m.detected + after),
            )
            .filter(|&due| due < give_up.unwrap_or(due + window))
            .min();
        match (give_up, scheduled) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<P>(buf: &mut ReorderBuffer<P>, now: Instant) -> Vec<Released<P>> {
        std::iter::from_fn(|| buf.pop(now)).collect()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn packets_in_order_pass_straight_through() {
        let t = Instant::now();
        let mut buf = ReorderBuffer::new(None);
        for s in 100..105u16 {
            buf.push(t, s, s);
            assert_eq!(drain(&mut buf, t), vec![Released::Packet(s)]);
        }
        assert!(buf.nacks(t).is_empty());
        assert_eq!(buf.poll_timeout(), None);
    }

    #[test]
    fn a_packet_rebuilt_by_fec_fills_its_gap_without_timing_the_round_trip() {
        let t = Instant::now();
        let mut buf = ReorderBuffer::new(None);
        buf.push(t, 1, 1);
        buf.push(t, 3, 3);
        assert_eq!(buf.nacks(t), vec![2]);
        let before = buf.rtt();
        // The FEC block completes 15 ms later and the decoder rebuilds 2.
        buf.push_rebuilt(t + ms(15), 2, 2);
        assert_eq!(
            drain(&mut buf, t + ms(15)),
            vec![
                Released::Packet(1),
                Released::Packet(2),
                Released::Packet(3)
            ]
        );
        assert_eq!(
            buf.rtt(),
            before,
            "15 ms is the block's wait, not a round trip"
        );
        let stats = buf.stats();
        assert_eq!((stats.recovered, stats.fec_rebuilt, stats.lost), (1, 1, 0));
    }

    #[test]
    fn a_gap_is_nacked_and_held_until_the_retransmission_fills_it() {
        let t = Instant::now();
        let mut buf = ReorderBuffer::new(None);
        buf.push(t, 1, 1);
        buf.push(t, 3, 3);
        buf.push(t, 4, 4);
        assert_eq!(
            drain(&mut buf, t),
            vec![Released::Packet(1)],
            "3 and 4 wait for 2"
        );
        assert_eq!(buf.nacks(t), vec![2], "asked for at once");
        assert!(buf.nacks(t + ms(10)).is_empty());
        assert_eq!(
            buf.nacks(t + SECOND_NACK_AFTER),
            vec![2],
            "and once more soon after"
        );
        assert!(
            buf.nacks(t + ms(60)).is_empty(),
            "then only after a round trip"
        );
        // The retransmission arrives 80 ms after the first NACK.
        buf.push(t + ms(80), 2, 2);
        assert_eq!(
            drain(&mut buf, t + ms(80)),
            vec![
                Released::Packet(2),
                Released::Packet(3),
                Released::Packet(4)
            ]
        );
        assert_eq!(buf.rtt(), ms(80), "the repair timed the round trip");
        assert_eq!(buf.last_wait(), ms(80), "4 waited behind the gap");
        buf.push(t + ms(90), 5, 5);
        assert_eq!(drain(&mut buf, t + ms(95)), vec![Released::Packet(5)]);
        assert_eq!(buf.last_wait(), Duration::ZERO, "5 came in order");
        let stats = buf.stats();
        assert_eq!((stats.recovered, stats.lost, stats.nacked), (1, 0, 2));
    }

    #[test]
    fn a_keyframe_gives_up_only_gaps_the_sender_has_long_moved_on_from() {
        let mut buf = ReorderBuffer::new(Some(ms(1_000)));
        let t = Instant::now();
        // Packets are their capture time in ms here. 11-12 are missing before a
        // packet captured at 100 ms, 15 before one captured at 900.
        buf.push(t, 10, 0);
        buf.push(t, 13, 100);
        buf.push(t, 14, 120);
        buf.push(t, 16, 900);
        assert_eq!(drain(&mut buf, t), vec![Released::Packet(0)]);
        // 17 starts a keyframe captured at 1000: what was held behind a gap
        // captured 500 ms or more before it is stale.
        buf.push_fresh_start(t + ms(5), 17, 1000, |&p| 1000 - p >= 500);
        assert_eq!(
            drain(&mut buf, t + ms(5)),
            vec![
                Released::Lost(2),
                Released::Packet(100),
                Released::Packet(120)
            ]
        );
        // 15 is still waited for (its repair may come), and then the rest goes.
        buf.push(t + ms(20), 15, 800);
        assert_eq!(
            drain(&mut buf, t + ms(20)),
            vec![
                Released::Packet(800),
                Released::Packet(900),
                Released::Packet(1000)
            ]
        );
        assert_eq!((buf.stats().lost, buf.stats().recovered), (2, 1));
        // 18-19 go missing right before a keyframe (20): given up when the
        // keyframe itself counts as stale (it followed a silence of the sender).
        let again = |keyframe_stale: bool| {
            let mut buf = ReorderBuffer::new(Some(ms(1_000)));
            buf.push(t, 17, 1000);
            drain(&mut buf, t);
            buf.push_fresh_start(t + ms(5), 20, 1900, |&p| keyframe_stale && p == 1900);
            drain(&mut buf, t + ms(5))
        };
        assert_eq!(again(false), vec![]);
        assert_eq!(again(true), vec![Released::Lost(2), Released::Packet(1900)]);
    }

    #[test]
    fn a_keyframe_is_asked_for_once_a_repair_is_two_round_trips_late() {
        let t = Instant::now();
        let mut buf = ReorderBuffer::new(Some(ms(1_000)));
        buf.push(t, 10, 10);
        buf.push(t, 12, 12);
        drain(&mut buf, t);
        // The round trip is the initial 100 ms: asked at 300 ms, once.
        assert!(!buf.keyframe_due(t + ms(299)));
        assert!(buf.poll_timeout().is_some_and(|at| at <= t + ms(300)));
        assert!(buf.keyframe_due(t + ms(300)));
        assert!(!buf.keyframe_due(t + ms(400)));
        // The packet is still waited for.
        assert_eq!(drain(&mut buf, t + ms(400)), vec![]);
    }

    #[test]
    fn an_unrepaired_gap_is_given_up_after_the_window() {
        let t = Instant::now();
        let mut buf = ReorderBuffer::new(Some(ms(200)));
        buf.push(t, 10, 10);
        buf.push(t, 13, 13);
        assert_eq!(drain(&mut buf, t), vec![Released::Packet(10)]);
        assert_eq!(buf.nacks(t), vec![11, 12]);
        assert_eq!(buf.poll_timeout(), Some(t + SECOND_NACK_AFTER));
        buf.nacks(t + SECOND_NACK_AFTER);
        assert!(drain(&mut buf, t + ms(199)).is_empty());
        assert_eq!(
            drain(&mut buf, t + ms(200)),
            vec![Released::Lost(2), Released::Packet(13)]
        );
        assert_eq!(buf.stats().lost, 2);
        // A retransmission that comes too late is discarded.
        buf.push(t + ms(300), 11, 11);
        assert!(drain(&mut buf, t + ms(300)).is_empty());
        assert_eq!(buf.stats().discarded, 1);
    }

    #[test]
    fn reordered_packets_are_put_back_in_order() {
        let t = Instant::now();
        let mut buf = ReorderBuffer::new(None);
        for s in [5u16, 7, 6, 9, 8] {
            buf.push(t, s, s);
        }
        assert_eq!(
            drain(&mut buf, t),
            (5..10).map(Released::Packet).collect::<Vec<_>>()
        );
    }

    #[test]
    fn sequence_numbers_wrap_and_duplicates_are_dropped() {
        let t = Instant::now();
        let mut buf = ReorderBuffer::new(None);
        for s in [65534u16, 65535, 1, 0, 1, 65535] {
            buf.push(t, s, s);
        }
        assert_eq!(
            drain(&mut buf, t),
            [65534u16, 65535, 0, 1].map(Released::Packet).to_vec()
        );
        assert_eq!(buf.stats().discarded, 2);
    }

    #[test]
    fn a_huge_jump_restarts_instead_of_waiting() {
        let t = Instant::now();
        let mut buf = ReorderBuffer::new(None);
        buf.push(t, 0, 0);
        assert_eq!(drain(&mut buf, t), vec![Released::Packet(0)]);
        buf.push(t, 2, 2);
        buf.push(t, 5000, 5000);
        assert_eq!(
            drain(&mut buf, t),
            vec![Released::Lost(5000 - 1), Released::Packet(5000)]
        );
        assert!(
            buf.nacks(t).is_empty(),
            "nothing from before the jump is asked for"
        );
    }

    #[test]
    fn the_adaptive_window_follows_the_measured_round_trip() {
        let t = Instant::now();
        let mut buf: ReorderBuffer<u16> = ReorderBuffer::new(None);
        assert_eq!(buf.recovery_window(), INITIAL_RTT * 4 + ms(100));
        buf.push(t, 1, 1);
        buf.push(t, 3, 3);
        buf.nacks(t);
        buf.push(t + ms(10), 2, 2);
        assert_eq!(
            buf.recovery_window(),
            ms(140),
            "fast link: 4 x 10 ms + 100 ms"
        );
        let mut slow: ReorderBuffer<u16> = ReorderBuffer::new(None);
        slow.push(t, 1, 1);
        for k in 0..20u16 {
            let at = t + ms(u64::from(k) * 1000);
            slow.push(at, 3 + 2 * k, 0);
            slow.nacks(at);
            slow.push(at + ms(400), 2 + 2 * k, 0);
        }
        assert_eq!(slow.rtt(), ms(400));
        assert_eq!(slow.recovery_window(), MAX_RECOVERY_WINDOW);
    }

    #[test]
    fn a_merely_reordered_packet_does_not_shrink_the_window() {
        let t = Instant::now();
        let mut buf: ReorderBuffer<u16> = ReorderBuffer::new(None);
        buf.push(t, 0, 0);
        let mut seq = 1u16;
        // Five real repairs of 200 ms, then one packet that was only reordered.
        for k in 0..6u64 {
            let at = t + ms(k * 1000);
            buf.push(at, seq + 1, 0);
            buf.nacks(at);
            let back = if k < 5 { ms(200) } else { ms(1) };
            buf.push(at + back, seq, 0);
            seq += 2;
        }
        assert_eq!(buf.rtt(), ms(200));
        assert_eq!(buf.recovery_window(), ms(900));
    }

    #[test]
    fn nacks_stop_after_the_cap() {
        let t = Instant::now();
        let mut buf: ReorderBuffer<u16> = ReorderBuffer::new(Some(ms(60_000)));
        buf.push(t, 1, 1);
        buf.push(t, 3, 3);
        let mut sent = 0;
        let mut now = t;
        for _ in 0..200 {
            sent += buf.nacks(now).len();
            now += ms(50);
        }
        assert_eq!(sent as u32, MAX_NACKS_PER_PACKET);
    }

    #[test]
    fn holding_is_bounded() {
        let t = Instant::now();
        let mut buf = ReorderBuffer::new(Some(ms(60_000)));
        buf.push(t, 0, 0u32);
        // Packet 1 never comes; everything behind it is held until the cap.
        for s in 2..(MAX_HELD_PACKETS as u32 + 10) {
            buf.push(t, s as u16, s);
        }
        let out = drain(&mut buf, t);
        assert_eq!(out[0], Released::Packet(0));
        assert_eq!(out[1], Released::Lost(1));
        assert_eq!(out[2], Released::Packet(2));
    }
}
