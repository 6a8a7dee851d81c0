//! Sans-IO reassembly of H.264 access units from RTP packets (RFC 6184).
//!
//! Unlike a jitter-buffering sample builder, [`AccessUnitAssembler`] emits a frame as
//! soon as the packet with the marker bit arrives, so it adds no frame of latency.
//! A sequence gap inside a frame drops that frame and asks for a keyframe: decoding
//! on from a damaged reference would only smear errors until the next IDR. Until
//! that keyframe arrives (and at the start of a stream) frames without an IDR slice
//! are held back too, so the decoder never sees a picture whose reference is gone.

use bytes::{Bytes, BytesMut};
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::packetizer::Depacketizer;

/// Largest access unit accepted (a 640x960 packed frame is far below this).
pub const MAX_ACCESS_UNIT_BYTES: usize = 4 * 1024 * 1024;

/// What one RTP packet produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assembled {
    /// Nothing complete yet.
    Pending,
    /// A complete Annex-B access unit with its RTP timestamp (90 kHz).
    Frame {
        /// Annex-B NAL units (start code before each).
        data: Bytes,
        /// RTP timestamp shared by the frame's packets.
        rtp_timestamp: u32,
    },
    /// Packets were lost or malformed: the current frame was dropped and the decoder
    /// needs a keyframe.
    NeedKeyframe,
}

/// Reassembles Annex-B access units from in-order RTP packets of one stream.
#[derive(Debug)]
pub struct AccessUnitAssembler {
    depacketizer: H264Packet,
    buffer: BytesMut,
    timestamp: Option<u32>,
    next_sequence: Option<u16>,
    damaged: bool,
    /// Frames are dropped until one with an IDR slice.
    awaiting_keyframe: bool,
}

impl Default for AccessUnitAssembler {
    fn default() -> Self {
        Self {
            depacketizer: H264Packet::default(),
            buffer: BytesMut::new(),
            timestamp: None,
            next_sequence: None,
            damaged: false,
            awaiting_keyframe: true,
        }
    }
}

/// Whether an Annex-B access unit holds an IDR slice (NAL type 5).
pub fn has_idr_slice(annex_b: &[u8]) -> bool {
    annex_b
        .windows(4)
        .any(|w| w[0] == 0 && w[1] == 0 && w[2] == 1 && w[3] & 0x1F == 5)
}

/// Whether an RTP payload (RFC 6184, packetization mode 1) starts a sequence
/// parameter set or an IDR slice: from it on, the stream decodes without anything
/// sent before it. A single NAL unit, each unit of a STAP-A, or the first
/// fragment of an FU-A.
pub fn starts_fresh(payload: &[u8]) -> bool {
    const SPS: u8 = 7;
    const IDR: u8 = 5;
    const STAP_A: u8 = 24;
    const FU_A: u8 = 28;
    let fresh = |nal_type: u8| nal_type == SPS || nal_type == IDR;
    let Some(&header) = payload.first() else {
        return false;
    };
    match header & 0x1F {
        STAP_A => {
            let mut rest = &payload[1..];
            while rest.len() >= 3 {
                let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                if fresh(rest[2] & 0x1F) {
                    return true;
                }
                rest = rest.get(2 + size..).unwrap_or(&[]);
            }
            false
        }
        FU_A => payload
            .get(1)
            .is_some_and(|&fu| fu & 0x80 != 0 && fresh(fu & 0x1F)),
        nal_type => fresh(nal_type),
    }
}

/// H.264 NAL unit type of supplemental enhancement information.
const SEI_NAL_TYPE: u8 = 6;

impl AccessUnitAssembler {
    /// A fresh assembler (waiting for the stream's first keyframe).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether frames are being held back until a keyframe.
    pub fn awaiting_keyframe(&self) -> bool {
        self.awaiting_keyframe
    }

    /// Feeds one RTP packet's sequence number, timestamp, marker bit and payload.
    pub fn push(
        &mut self,
        sequence: u16,
        rtp_timestamp: u32,
        marker: bool,
        payload: &Bytes,
    ) -> Assembled {
        let mut gap = false;
        if let Some(expected) = self.next_sequence
            && sequence != expected
        {
            // Late or duplicate packets (behind `expected`) are ignored.
            if sequence.wrapping_sub(expected) > u16::MAX / 2 {
                return Assembled::Pending;
            }
            gap = true;
        }
        self.next_sequence = Some(sequence.wrapping_add(1));
        // Every access unit the app sends starts with its capture-time SEI, sent
        // as a single NAL unit: a new frame that starts with one after a gap is
        // whole from its start. What the gap took is before it, so a keyframe
        // asked for now would only repeat the one that may be arriving (the
        // sender's keyframe after a drain pause or an outage); if this frame is
        // not one, its end asks.
        let new_frame = self.timestamp != Some(rtp_timestamp);
        let whole_start = new_frame && payload.first().is_some_and(|&b| b & 0x1F == SEI_NAL_TYPE);
        let mut result = if gap && !whole_start {
            Assembled::NeedKeyframe
        } else {
            Assembled::Pending
        };

        if !new_frame {
            self.damaged |= gap;
        } else {
            // A new frame starts; an unfinished previous one (its marker was lost) is dropped.
            if self.timestamp.is_some() && !whole_start {
                result = Assembled::NeedKeyframe;
            }
            if gap || self.timestamp.is_some() {
                // Whatever was lost, only a keyframe decodes from here on.
                self.awaiting_keyframe = true;
            }
            self.buffer.clear();
            self.depacketizer = H264Packet::default();
            // The gap may have eaten this frame's first packets.
            self.damaged = gap && !whole_start;
            self.timestamp = Some(rtp_timestamp);
        }

        match self.depacketizer.depacketize(payload) {
            Ok(nal) => {
                if self.buffer.len() + nal.len() > MAX_ACCESS_UNIT_BYTES {
                    self.damaged = true;
                } else {
                    self.buffer.extend_from_slice(&nal);
                }
            }
            Err(_) => self.damaged = true,
        }

        if marker {
            let data = self.buffer.split().freeze();
            let damaged = std::mem::take(&mut self.damaged);
            self.timestamp = None;
            self.depacketizer = H264Packet::default();
            if damaged {
                self.awaiting_keyframe = true;
                return Assembled::NeedKeyframe;
            }
            if !data.is_empty() {
                if self.awaiting_keyframe {
                    if !has_idr_slice(&data) {
                        return Assembled::NeedKeyframe;
                    }
                    self.awaiting_keyframe = false;
                }
                return Assembled::Frame {
                    data,
                    rtp_timestamp,
                };
            }
        }
        if result == Assembled::NeedKeyframe {
            self.awaiting_keyframe = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &[u8] = &[0, 0, 0, 1];

    fn single_nal(nal: &[u8]) -> Bytes {
        Bytes::copy_from_slice(nal)
    }

    /// Splits one NAL into FU-A fragments of `chunk` payload bytes.
    fn fu_a(nal: &[u8], chunk: usize) -> Vec<Bytes> {
        let header = nal[0];
        let indicator = (header & 0xE0) | 28;
        let body = &nal[1..];
        let pieces: Vec<&[u8]> = body.chunks(chunk).collect();
        pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| {
                let mut fu_header = header & 0x1F;
                if i == 0 {
                    fu_header |= 0x80;
                }
                if i == pieces.len() - 1 {
                    fu_header |= 0x40;
                }
                let mut out = vec![indicator, fu_header];
                out.extend_from_slice(piece);
                Bytes::from(out)
            })
            .collect()
    }

    #[test]
    fn a_frame_is_emitted_when_its_marker_packet_arrives() {
        let mut asm = AccessUnitAssembler::new();
        let sps = [0x67, 1, 2, 3];
        let idr: Vec<u8> = std::iter::once(0x65)
            .chain((0..100).map(|i| i as u8))
            .collect();
        assert_eq!(
            asm.push(10, 900, false, &single_nal(&sps)),
            Assembled::Pending
        );
        let fragments = fu_a(&idr, 30);
        let last = fragments.len() - 1;
        let mut out = Assembled::Pending;
        for (i, f) in fragments.iter().enumerate() {
            out = asm.push(11 + i as u16, 900, i == last, f);
        }
        let mut expected = Vec::new();
        expected.extend_from_slice(START);
        expected.extend_from_slice(&sps);
        expected.extend_from_slice(START);
        expected.extend_from_slice(&idr);
        assert_eq!(
            out,
            Assembled::Frame {
                data: Bytes::from(expected),
                rtp_timestamp: 900
            }
        );
    }

    #[test]
    fn a_lost_packet_drops_the_frame_and_frames_wait_for_the_next_keyframe() {
        let mut asm = AccessUnitAssembler::new();
        let idr: Vec<u8> = std::iter::once(0x65).chain(0..90).collect();
        assert!(matches!(
            asm.push(0, 0, true, &single_nal(&idr)),
            Assembled::Frame { .. }
        ));
        let fragments = fu_a(&idr, 30);
        assert_eq!(asm.push(1, 3000, false, &fragments[0]), Assembled::Pending);
        // fragments[1] is lost.
        assert_eq!(
            asm.push(3, 3000, true, &fragments[2]),
            Assembled::NeedKeyframe
        );
        assert!(asm.awaiting_keyframe());
        // A whole P frame still cannot be decoded: held back.
        let p = [0x41, 9, 9];
        assert_eq!(
            asm.push(4, 6000, true, &single_nal(&p)),
            Assembled::NeedKeyframe
        );
        // The next keyframe resumes the stream, and P frames follow it.
        assert!(matches!(
            asm.push(5, 9000, true, &single_nal(&idr)),
            Assembled::Frame {
                rtp_timestamp: 9000,
                ..
            }
        ));
        assert!(matches!(
            asm.push(6, 12000, true, &single_nal(&p)),
            Assembled::Frame { .. }
        ));
    }

    #[test]
    fn a_keyframe_whose_start_follows_a_gap_whole_is_shown_without_asking_again() {
        let mut asm = AccessUnitAssembler::new();
        let sei = [0x06, 0x05, 1, 2, 0x80];
        let idr: Vec<u8> = std::iter::once(0x65).chain(0..90).collect();
        let p = [0x41, 9, 9];
        assert!(matches!(
            asm.push(0, 0, true, &single_nal(&idr)),
            Assembled::Frame { .. }
        ));
        // A P frame loses its end (2-3), then packets 4-9 are lost whole; 10
        // starts a keyframe with its SEI.
        assert_eq!(
            asm.push(1, 3000, false, &single_nal(&sei)),
            Assembled::Pending
        );
        assert_eq!(
            asm.push(10, 9000, false, &single_nal(&sei)),
            Assembled::Pending
        );
        assert!(asm.awaiting_keyframe());
        assert!(matches!(
            asm.push(11, 9000, true, &single_nal(&idr)),
            Assembled::Frame {
                rtp_timestamp: 9000,
                ..
            }
        ));
        // A P frame after such a gap still waits for a keyframe, and asks at its end.
        assert_eq!(
            asm.push(14, 12000, false, &single_nal(&sei)),
            Assembled::Pending
        );
        assert_eq!(
            asm.push(15, 12000, true, &single_nal(&p)),
            Assembled::NeedKeyframe
        );
        // Without the SEI, the gap may have taken the frame's start: asked at once.
        assert_eq!(
            asm.push(17, 15000, true, &single_nal(&p)),
            Assembled::NeedKeyframe
        );
    }

    #[test]
    fn a_stream_starts_at_its_first_keyframe() {
        let mut asm = AccessUnitAssembler::new();
        let p = [0x41, 1, 2];
        assert_eq!(
            asm.push(7, 0, true, &single_nal(&p)),
            Assembled::NeedKeyframe
        );
        let idr = [0x65, 1, 2];
        assert!(matches!(
            asm.push(8, 3000, true, &single_nal(&idr)),
            Assembled::Frame { .. }
        ));
        assert!(has_idr_slice(&[0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x65, 2]));
        assert!(!has_idr_slice(&[0, 0, 0, 1, 0x41, 0x65]));
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let mut asm = AccessUnitAssembler::new();
        let idr = [0x65, 1, 2];
        assert!(matches!(
            asm.push(u16::MAX - 1, 0, true, &single_nal(&idr)),
            Assembled::Frame { .. }
        ));
        let p = [0x41, 1, 2];
        assert!(matches!(
            asm.push(u16::MAX, 1500, true, &single_nal(&p)),
            Assembled::Frame { .. }
        ));
        assert!(matches!(
            asm.push(0, 3000, true, &single_nal(&p)),
            Assembled::Frame { .. }
        ));
        // A duplicate of an old packet is ignored.
        assert_eq!(asm.push(0, 3000, true, &single_nal(&p)), Assembled::Pending);
    }

    #[test]
    fn payloads_that_start_a_keyframe_are_told_apart() {
        // Single NAL units: SPS, IDR slice, non-IDR slice, SEI.
        assert!(starts_fresh(&[0x67, 0x42]));
        assert!(starts_fresh(&[0x65, 0x88]));
        assert!(!starts_fresh(&[0x41, 0x9a]));
        assert!(!starts_fresh(&[0x06, 0x05]));
        // STAP-A of an SEI (3 bytes) then an SPS (2 bytes).
        assert!(starts_fresh(&[0x78, 0, 3, 0x06, 1, 2, 0, 2, 0x67, 0x42]));
        assert!(!starts_fresh(&[0x78, 0, 3, 0x06, 1, 2, 0, 2, 0x41, 0x9a]));
        // FU-A: the first fragment of an IDR slice, not a later one.
        assert!(starts_fresh(&[0x7c, 0x85, 0xb8]));
        assert!(!starts_fresh(&[0x7c, 0x05, 0xb8]));
        assert!(!starts_fresh(&[0x7c, 0x81, 0x9a]));
        assert!(!starts_fresh(&[]));
        assert!(!starts_fresh(&[0x78, 0]));
    }
}
