//! Which received video packets FlexFEC rebuilt (`--video-fec`): the FEC decoder
//! marks them ([`Attribute::RecoveredByFec`]) on the interceptor chain, but the
//! track hands the application bare RTP. [`FecRebuiltMarker`] sits just after the
//! decoder and notes them in [`RebuiltPackets`], which the video reader asks, so
//! a rebuilt packet is not taken for a retransmission: its NACK → arrival time is
//! the FEC block's wait, not a round trip, and counted as one it shrank the
//! recovery window below the real round trip (retransmissions then came too late
//! and frames were given up; docs/NET.md, "FlexFEC").

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rtc::interceptor::{Attribute, Packet, Slot, TaggedPacket};

#[cfg(doc)]
use super::read_hook::OnRead;
use super::read_hook::ReadHook;

/// Chain position: after the FEC decoder (6 000), before the NACK generator.
pub const FEC_MARKER_SLOT: Slot = Slot::Custom(6_500);

/// Rebuilt packets remembered until the reader takes them (the newest win).
pub const REBUILT_KEPT: usize = 512;

/// The (SSRC, sequence number) of packets FlexFEC rebuilt and the reader has not
/// yet seen; shared by the marker and the video reader of one connection.
#[derive(Debug, Clone, Default)]
pub struct RebuiltPackets(Arc<Mutex<VecDeque<(u32, u16)>>>);

impl RebuiltPackets {
    /// Notes a rebuilt packet.
    pub fn note(&self, ssrc: u32, sequence: u16) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= REBUILT_KEPT {
            kept.pop_front();
        }
        kept.push_back((ssrc, sequence));
    }

    /// Whether the packet was rebuilt (forgetting it).
    pub fn take(&self, ssrc: u32, sequence: u16) -> bool {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match kept.iter().position(|&p| p == (ssrc, sequence)) {
            Some(i) => {
                kept.remove(i);
                true
            }
            None => false,
        }
    }
}

/// Notes the RTP packets the FEC decoder rebuilt; passes every packet on (run as
/// [`OnRead`]`<FecRebuiltMarker>`).
#[derive(Debug)]
pub struct FecRebuiltMarker(pub RebuiltPackets);

impl ReadHook for FecRebuiltMarker {
    fn read(&mut self, msg: TaggedPacket) -> Option<TaggedPacket> {
        if let Packet::Rtp(rtp) = &msg.message.packet
            && msg.message.has(&Attribute::RecoveredByFec)
        {
            self.0.note(rtp.header.ssrc, rtp.header.sequence_number);
        }
        Some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_noted_packet_is_taken_once_and_the_record_stays_bounded() {
        let rebuilt = RebuiltPackets::default();
        rebuilt.note(7, 100);
        assert!(!rebuilt.take(8, 100), "another stream");
        assert!(rebuilt.take(7, 100));
        assert!(!rebuilt.take(7, 100), "taken once");
        for s in 0..(REBUILT_KEPT as u16 + 10) {
            rebuilt.note(1, s);
        }
        assert!(!rebuilt.take(1, 0), "the oldest went");
        assert!(rebuilt.take(1, REBUILT_KEPT as u16 + 9));
    }
}
