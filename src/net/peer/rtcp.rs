//! An RTCP interceptor that hands keyframe requests (PLI, FIR) to the application.
//!
//! webrtc-rs 0.21 ends the inbound RTCP path at the end of its interceptor chain;
//! only packets marked [`Attribute::DeliverToApplication`] reach
//! `TrackLocal::poll`. [`KeyframeRequestForwarder`] sits last in the chain
//! ([`KEYFRAME_FORWARDER_SLOT`]), after the interceptors that consume reports and
//! NACKs, keeps only PLI/FIR and marks them. Pattern from webrtc-rs's own
//! `rtcp-processing` example.

use rtc::interceptor::{Attribute, Packet, Slot, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;

use super::read_hook::ReadHook;

/// Chain position: after every default interceptor.
pub const KEYFRAME_FORWARDER_SLOT: Slot = Slot::Custom(14_000);

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// Passes inbound PLI/FIR to the application; drops other inbound RTCP (which the
/// earlier interceptors already consumed); leaves outbound traffic alone (run as
/// [`OnRead`](super::read_hook::OnRead)`<KeyframeRequestForwarder>`).
#[derive(Debug, Default)]
pub struct KeyframeRequestForwarder;

impl ReadHook for KeyframeRequestForwarder {
    fn read(&mut self, mut msg: TaggedPacket) -> Option<TaggedPacket> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let requests: Vec<Box<dyn rtc::rtcp::Packet>> = packets
                .iter()
                .filter(|packet| is_keyframe_request(packet.as_ref()))
                .cloned()
                .collect();
            tracing::debug!(n = packets.len(), keyframe = requests.len(), "rtcp in");
            if requests.is_empty() {
                return None;
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        Some(msg)
    }
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
