//! An RTCP interceptor that hands keyframe requests (PLI, FIR) to the application.
//!
//! webrtc-rs 0.21 ends the inbound RTCP path at the end of its interceptor chain;
//! only packets marked [`Attribute::DeliverToApplication`] reach
//! `TrackLocal::poll`. [`KeyframeRequestForwarder`] sits last in the chain
//! ([`KEYFRAME_FORWARDER_SLOT`]), after the interceptors that consume reports and
//! NACKs, keeps only PLI/FIR and marks them. Pattern from webrtc-rs's own
//! `rtcp-processing` example.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Chain position: after every default interceptor.
pub const KEYFRAME_FORWARDER_SLOT: Slot = Slot::Custom(14_000);

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// Passes inbound PLI/FIR to the application; drops other inbound RTCP (which the
/// earlier interceptors already consumed); leaves outbound traffic alone.
#[derive(Default)]
pub struct KeyframeRequestForwarder {
    read_queue: VecDeque<TaggedPacket>,
    write_queue: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestForwarder {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let requests: Vec<Box<dyn rtc::rtcp::Packet>> = packets
                .iter()
                .filter(|packet| is_keyframe_request(packet.as_ref()))
                .cloned()
                .collect();
            tracing::debug!(n = packets.len(), keyframe = requests.len(), "rtcp in");
            if requests.is_empty() {
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_queue.pop_front()
    }
}

impl Interceptor for KeyframeRequestForwarder {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pli_and_fir_count_as_keyframe_requests() {
        let pli = PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 2,
        };
        assert!(is_keyframe_request(&pli));
        let fir = FullIntraRequest::default();
        assert!(is_keyframe_request(&fir));
        let rr = rtc::rtcp::receiver_report::ReceiverReport::default();
        assert!(!is_keyframe_request(&rr));
    }
}
