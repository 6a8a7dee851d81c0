//! Simulated loss, delay and jitter on outgoing RTP/RTCP, for tests and demos on a perfect
//! network (this sandbox's kernel has no `netem`).
//!
//! [`LossyLink`] is an interceptor placed next to the wire ([`LOSSY_LINK_SLOT`], below
//! the NACK responder), so it behaves like a bad network: the original packets and
//! their retransmissions are dropped with the same probability and held back by the
//! same delay, and the receiver's NACK, PLI and keyframe-recovery paths are exercised
//! for real. Only RTP and RTCP pass through interceptors: ICE, DTLS and the data
//! channels are not impaired. The random sequence is seeded, so a run is repeatable.
//! Enable it with [`super::NetConfig::simulated_loss`],
//! [`super::NetConfig::simulated_delay`] and [`super::NetConfig::simulated_jitter`].
//!
//! Jitter varies each packet's delay uniformly within ± the jitter, and packets
//! leave in the order they were written (a packet drawn shorter than its
//! predecessor's leaves right after it), as through a queue whose depth varies:
//! the delay varies, the order stays.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtc::interceptor::{Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Chain position: closer to the wire than every default interceptor.
pub const LOSSY_LINK_SLOT: Slot = Slot::Custom(500);

/// Drops outgoing RTP packets with a fixed probability and delays outgoing RTP and
/// RTCP by a fixed time, plus or minus a random jitter.
pub struct LossyLink {
    loss: f64,
    delay: Duration,
    jitter: Duration,
    state: u64,
    now: Option<Instant>,
    /// Outgoing packets with the time they may leave, in order.
    write_queue: VecDeque<(Instant, TaggedPacket)>,
    read_queue: VecDeque<TaggedPacket>,
}

impl LossyLink {
    /// Drops each outgoing RTP packet with probability `loss` (clamped to 0..=1),
    /// using a generator seeded with `seed`.
    pub fn new(loss: f64, seed: u64) -> Self {
        Self {
            loss: loss.clamp(0.0, 1.0),
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            state: seed | 1,
            now: None,
            write_queue: VecDeque::new(),
            read_queue: VecDeque::new(),
        }
    }

    /// Also holds every outgoing RTP/RTCP packet for `delay` (one way).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Varies each packet's delay uniformly within ± `jitter` (at most the delay).
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// The next value of the generator in 0..1 (xorshift64*).
    fn next_unit(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let value = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        value as f64 / (1u64 << 53) as f64
    }

    /// Whether the next packet is lost.
    pub fn next_is_lost(&mut self) -> bool {
        self.next_unit() < self.loss
    }

    /// The delay of the next packet: the delay ± up to the jitter.
    pub fn next_delay(&mut self) -> Duration {
        if self.jitter.is_zero() {
            return self.delay;
        }
        let jitter = self.jitter.min(self.delay).as_secs_f64();
        let spread = (2.0 * self.next_unit() - 1.0) * jitter;
        Duration::from_secs_f64((self.delay.as_secs_f64() + spread).max(0.0))
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for LossyLink {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if matches!(msg.message.packet, Packet::Rtp(_)) && self.next_is_lost() {
            return Ok(());
        }
        self.now = Some(self.now.map_or(msg.now, |now| now.max(msg.now)));
        let due = msg.now + self.next_delay();
        // In order: never before the packet written before it.
        let due = self
            .write_queue
            .back()
            .map_or(due, |(last, _)| due.max(*last));
        self.write_queue.push_back((due, msg));
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        let (due, _) = self.write_queue.front()?;
        if self.delay.is_zero() || self.now.is_some_and(|now| now >= *due) {
            self.write_queue.pop_front().map(|(_, msg)| msg)
        } else {
            None
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.now = Some(self.now.map_or(now, |t| t.max(now)));
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Self::Time> {
        if self.delay.is_zero() {
            return None;
        }
        self.write_queue.front().map(|(due, _)| *due)
    }
}

impl Interceptor for LossyLink {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_rate_matches_the_setting_and_repeats_with_the_seed() {
        let mut link = LossyLink::new(0.05, 42);
        let lost = (0..100_000).filter(|_| link.next_is_lost()).count();
        assert!((4_500..5_500).contains(&lost), "lost {lost} of 100000");
        let mut a = LossyLink::new(0.3, 7);
        let mut b = LossyLink::new(0.3, 7);
        assert!((0..1000).all(|_| a.next_is_lost() == b.next_is_lost()));
        let mut none = LossyLink::new(0.0, 1);
        assert!((0..1000).all(|_| !none.next_is_lost()));
    }

    fn rtcp_at(now: Instant) -> TaggedPacket {
        let pli = rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 2,
        };
        TaggedPacket {
            now,
            transport: Default::default(),
            message: rtc::interceptor::AttributedPacket::new(Packet::Rtcp(vec![Box::new(pli)])),
        }
    }

    #[test]
    fn delayed_packets_leave_only_when_their_time_has_come() {
        let start = Instant::now();
        let delay = Duration::from_millis(100);
        let mut link = LossyLink::new(0.0, 1).with_delay(delay);
        link.handle_write(rtcp_at(start)).expect("queued");
        link.handle_write(rtcp_at(start + Duration::from_millis(10)))
            .expect("queued");
        assert!(link.poll_write().is_none(), "nothing leaves early");
        assert_eq!(link.poll_timeout(), Some(start + delay));
        link.handle_timeout(start + delay).expect("timeout");
        assert!(link.poll_write().is_some());
        assert!(link.poll_write().is_none(), "the second is not due yet");
        link.handle_timeout(start + delay + Duration::from_millis(10))
            .expect("timeout");
        assert!(link.poll_write().is_some());
    }

    #[test]
    fn jitter_spreads_the_delay_both_ways_and_keeps_the_order() {
        let delay = Duration::from_millis(100);
        let jitter = Duration::from_millis(30);
        let mut link = LossyLink::new(0.0, 9).with_delay(delay).with_jitter(jitter);
        let delays: Vec<Duration> = (0..10_000).map(|_| link.next_delay()).collect();
        let (low, high) = (delay - jitter, delay + jitter);
        assert!(delays.iter().all(|d| (low..=high).contains(d)));
        let near = |d: Duration| {
            delays
                .iter()
                .any(|x| x.abs_diff(d) < Duration::from_millis(2))
        };
        assert!(near(low) && near(high), "the whole range is used");
        let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
        assert!(mean.abs_diff(delay) < Duration::from_millis(2), "{mean:?}");
        // Packets written 1 ms apart leave in the order they were written.
        let start = Instant::now();
        let mut left = Vec::new();
        for ms in 0..400 {
            if ms < 200 {
                link.handle_write(rtcp_at(start + Duration::from_millis(ms)))
                    .expect("queued");
            }
            link.handle_timeout(start + Duration::from_millis(ms))
                .expect("timeout");
            while let Some(p) = link.poll_write() {
                left.push((ms, p.now));
            }
        }
        assert_eq!(left.len(), 200);
        assert!(left.windows(2).all(|w| w[0].1 <= w[1].1), "in order");
        assert!(
            left.iter()
                .all(|(ms, written)| start + Duration::from_millis(*ms) >= *written + low),
            "none before the shortest delay"
        );
    }
}
