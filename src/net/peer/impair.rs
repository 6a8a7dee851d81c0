//! Simulated packet loss on outgoing RTP, for tests and demos on a perfect network.
//!
//! [`LossyLink`] is an interceptor placed next to the wire ([`LOSSY_LINK_SLOT`], below
//! the NACK responder), so it behaves like a lossy network: the original packets and
//! their retransmissions are dropped with the same probability, and the receiver's
//! NACK, PLI and keyframe-recovery paths are exercised for real. The random sequence is
//! seeded, so a run is repeatable. Enable it with [`super::NetConfig::simulated_loss`].

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Chain position: closer to the wire than every default interceptor.
pub const LOSSY_LINK_SLOT: Slot = Slot::Custom(500);

/// Drops outgoing RTP packets with a fixed probability.
pub struct LossyLink {
    loss: f64,
    state: u64,
    write_queue: VecDeque<TaggedPacket>,
    read_queue: VecDeque<TaggedPacket>,
}

impl LossyLink {
    /// Drops each outgoing RTP packet with probability `loss` (clamped to 0..=1),
    /// using a generator seeded with `seed`.
    pub fn new(loss: f64, seed: u64) -> Self {
        Self {
            loss: loss.clamp(0.0, 1.0),
            state: seed | 1,
            write_queue: VecDeque::new(),
            read_queue: VecDeque::new(),
        }
    }

    /// Whether the next packet is lost (xorshift64*).
    pub fn next_is_lost(&mut self) -> bool {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let value = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (value as f64 / (1u64 << 53) as f64) < self.loss
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
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_queue.pop_front()
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
}
