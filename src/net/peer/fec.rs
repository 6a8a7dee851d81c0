//! FlexFEC (`--video-fec`) under congestion control.
//!
//! **Sending.** The FEC encoder ([`FecEncoderGate`] around rtc's
//! `FlexFec03SendInterceptor`) sits at [`FEC_ENCODER_SLOT`], wire-ward of the TWCC
//! sender, not at rtc's own `Slot::FecEncoder`. A draft-03 repair packet is the
//! XOR of its media packets past their first 12 bytes, header extensions
//! included; at rtc's slot the encoder protected each packet before the TWCC
//! sender stamped its transport-wide sequence number on it, so what arrived no
//! longer matched what was protected and the decoder rebuilt nothing (377 repair
//! packets received, 0 packets rebuilt). Protected as they leave, the packets
//! match. The repair packets then pass neither the pacer nor the TWCC sender: the
//! estimate does not see them, so a connection with FEC publishes only the media's
//! share of its estimate (`congestion::PublishedGcc::with_media_share`). The gate
//! keeps retransmissions (NACK answers, which reuse the media's sequence numbers)
//! away from the encoder, whose block must be consecutive packets.
//!
//! **When.** With `--video-fec auto` (the default, [`super::VideoFec::AUTO`]) FEC is
//! negotiated on every connection but repair packets go only while the link loses
//! packets without a queue standing ([`FecPolicy`], fed by the congestion
//! controller's smoothed loss); the [`FecSwitch`] carries that decision from the
//! estimator to the gate. With `MEDIA:REPAIR` they always go.
//!
//! **Receiving.** The FEC decoder marks the packets it rebuilt
//! ([`Attribute::RecoveredByFec`]), but the track hands the application bare RTP.
//! [`FecRebuiltMarker`] sits just after the decoder and notes them in
//! [`RebuiltPackets`], which the video reader asks, so a rebuilt packet is not
//! taken for a retransmission: its NACK → arrival time is the FEC block's wait,
//! not a round trip, and counted as one it shrank the recovery window below the
//! real round trip (retransmissions then came too late and frames were given up;
//! docs/NET.md, "FlexFEC"). It also takes the transport-wide sequence number off a
//! rebuilt packet, so the TWCC receiver reports it lost, as the network did,
//! instead of arrived a block's wait late (a delay the sender's estimator would
//! take for a queue).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::sdp::extmap::TRANSPORT_CC_URI;
use rtc::shared::error::Error;

#[cfg(doc)]
use super::read_hook::OnRead;
use super::read_hook::ReadHook;

/// Chain position of the FEC decoder's marker: after the FEC decoder (6 000),
/// before the NACK generator and the TWCC receiver.
pub const FEC_MARKER_SLOT: Slot = Slot::Custom(6_500);

/// Chain position of the FEC encoder: wire-ward of the TWCC sender (2 000) and the
/// pacer (3 000), before the send history (1 000) and the lossy-link stand-in
/// (500).
pub const FEC_ENCODER_SLOT: Slot = Slot::Custom(1_500);

/// Smoothed loss (the congestion controller's share of packets reported lost)
/// from which an adaptive connection sends repair packets, while no queue stands.
/// FEC 10:2 shortened glass-to-glass at 5 % loss already (docs/NET.md); below a
/// few per cent NACK repairs within one round trip and FEC is a fifth more bytes
/// for nothing.
pub const FEC_ON_LOSS: f64 = 0.03;
/// Smoothed loss under which an adaptive connection stops sending repair packets.
pub const FEC_OFF_LOSS: f64 = 0.01;
/// How long the loss must stay past a threshold before FEC switches, so a burst
/// does not switch it on and a lucky second does not switch it off.
pub const FEC_SWITCH_HOLD: Duration = Duration::from_secs(2);

/// Whether repair packets go out on one connection: written by its congestion
/// controller ([`FecPolicy`]), read by its [`FecEncoderGate`].
#[derive(Clone, Debug, Default)]
pub struct FecSwitch(Arc<AtomicBool>);

impl FecSwitch {
    /// A switch that starts `on`.
    pub fn new(on: bool) -> Self {
        Self(Arc::new(AtomicBool::new(on)))
    }

    /// Whether repair packets go out.
    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Switches them on or off.
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }
}

/// When an adaptive connection sends repair packets (pure): on once the smoothed
/// loss has been [`FEC_ON_LOSS`] or more for [`FEC_SWITCH_HOLD`] with no queue
/// standing (loss with a queue is a full buffer, which more bytes would not
/// help), off once it has been under [`FEC_OFF_LOSS`] that long. Rebuilt packets
/// still count as lost (the marker takes their transport-wide number off), so FEC
/// repairing the loss does not hide it and switch itself off.
#[derive(Clone, Debug, Default)]
pub struct FecPolicy {
    on: bool,
    /// Since when the loss has asked for the other state.
    asked_since: Option<Instant>,
}

impl FecPolicy {
    /// Whether repair packets should go, given the smoothed `loss` (none yet:
    /// no change) and whether a queue stands.
    pub fn update(&mut self, now: Instant, loss: Option<f64>, queue_stands: bool) -> bool {
        let wanted = match loss {
            None => self.on,
            Some(loss) if self.on => loss >= FEC_OFF_LOSS,
            Some(loss) => loss >= FEC_ON_LOSS && !queue_stands,
        };
        if wanted == self.on {
            self.asked_since = None;
        } else {
            let since = *self.asked_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= FEC_SWITCH_HOLD {
                self.on = wanted;
                self.asked_since = None;
            }
        }
        self.on
    }
}

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

/// Notes the RTP packets the FEC decoder rebuilt and takes their transport-wide
/// sequence number off; passes every packet on (run as [`OnRead`]`<FecRebuiltMarker>`).
#[derive(Debug)]
pub struct FecRebuiltMarker {
    rebuilt: RebuiltPackets,
    /// The transport-wide CC header extension id of each inbound stream that
    /// negotiated it.
    twcc_ids: HashMap<u32, u8>,
}

impl FecRebuiltMarker {
    /// A marker noting into `rebuilt`.
    pub fn new(rebuilt: RebuiltPackets) -> Self {
        Self {
            rebuilt,
            twcc_ids: HashMap::new(),
        }
    }
}

impl ReadHook for FecRebuiltMarker {
    fn read(&mut self, mut msg: TaggedPacket) -> Option<TaggedPacket> {
        if msg.message.has(&Attribute::RecoveredByFec)
            && let Packet::Rtp(rtp) = &mut msg.message.packet
        {
            let ssrc = rtp.header.ssrc;
            self.rebuilt.note(ssrc, rtp.header.sequence_number);
            if let Some(&id) = self.twcc_ids.get(&ssrc) {
                // Absent already is fine: then there is nothing to report.
                let _ = rtp.header.del_extension(id);
            }
        }
        Some(msg)
    }

    fn bind_remote(&mut self, info: &StreamInfo) {
        if let Some(ext) = info
            .rtp_header_extensions
            .iter()
            .find(|e| e.uri == TRANSPORT_CC_URI)
            && let Ok(id) = u8::try_from(ext.id)
        {
            self.twcc_ids.insert(info.ssrc, id);
        }
    }

    fn unbind_remote(&mut self, info: &StreamInfo) {
        self.twcc_ids.remove(&info.ssrc);
    }
}

/// Whether `seq` comes after `last` in a 16-bit sequence space.
fn is_newer(seq: u16, last: u16) -> bool {
    (seq.wrapping_sub(last) as i16) > 0
}

/// Runs the FEC encoder `I` on each media packet the first time it leaves while
/// its [`FecSwitch`] is on; a packet whose sequence number was already seen (a
/// retransmission) passes by it, as does everything while the switch is off.
/// Everything else is the encoder's.
pub struct FecEncoderGate<I> {
    encoder: I,
    switch: FecSwitch,
    /// The newest sequence number handed to the encoder, per SSRC.
    newest: HashMap<u32, u16>,
    /// Retransmissions, sent on before the encoder's output.
    passed: VecDeque<TaggedPacket>,
}

impl<I> FecEncoderGate<I> {
    /// The gate around `encoder`, open while `switch` is on.
    pub fn new(encoder: I, switch: FecSwitch) -> Self {
        Self {
            encoder,
            switch,
            newest: HashMap::new(),
            passed: VecDeque::new(),
        }
    }
}

impl<I: Interceptor> Protocol<TaggedPacket, TaggedPacket, ()> for FecEncoderGate<I> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.encoder.handle_read(msg)
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.encoder.poll_read()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(rtp) = &msg.message.packet {
            let (ssrc, seq) = (rtp.header.ssrc, rtp.header.sequence_number);
            let retransmission = self
                .newest
                .get(&ssrc)
                .is_some_and(|&newest| !is_newer(seq, newest));
            if !retransmission {
                self.newest.insert(ssrc, seq);
            }
            // Switched off, the encoder keeps its unfinished block; the packets
            // after the pause do not follow on from it, so the encoder refuses
            // that one block (no repair for it) and starts the next afresh.
            if retransmission || !self.switch.is_on() {
                self.passed.push_back(msg);
                return Ok(());
            }
        }
        self.encoder.handle_write(msg)
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.passed
            .pop_front()
            .or_else(|| self.encoder.poll_write())
    }

    fn handle_event(&mut self, evt: ()) -> Result<(), Self::Error> {
        self.encoder.handle_event(evt)
    }

    fn poll_event(&mut self) -> Option<Self::Eout> {
        self.encoder.poll_event()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.encoder.handle_timeout(now)
    }

    fn poll_timeout(&mut self) -> Option<Self::Time> {
        self.encoder.poll_timeout()
    }

    fn close(&mut self) -> Result<(), Self::Error> {
        self.encoder.close()
    }
}

impl<I: Interceptor> Interceptor for FecEncoderGate<I> {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.encoder.bind_local_stream(info);
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.newest.remove(&info.ssrc);
        self.encoder.unbind_local_stream(info);
    }

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.encoder.bind_remote_stream(info);
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.encoder.unbind_remote_stream(info);
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

    use rtc::interceptor::{
        AttributedPacket, FlexFec03ReceiveBuilder, FlexFec03SendBuilder, RTPHeaderExtension,
    };

    const MEDIA_SSRC: u32 = 0x1234;
    const REPAIR_SSRC: u32 = 0x5678;
    const TWCC_ID: u8 = 3;

    fn stream() -> StreamInfo {
        StreamInfo {
            ssrc: MEDIA_SSRC,
            ssrc_fec: Some(REPAIR_SSRC),
            payload_type: 102,
            payload_type_fec: Some(49),
            rtp_header_extensions: vec![RTPHeaderExtension {
                uri: TRANSPORT_CC_URI.to_owned(),
                id: u16::from(TWCC_ID),
            }],
            ..Default::default()
        }
    }

    /// A media packet as the TWCC sender leaves it: with its transport-wide
    /// sequence number in a header extension.
    fn stamped(seq: u16, twcc_seq: u16, now: Instant) -> TaggedPacket {
        let mut header = rtc::rtp::header::Header {
            version: 2,
            payload_type: 102,
            sequence_number: seq,
            timestamp: 9_000 * u32::from(seq),
            ssrc: MEDIA_SSRC,
            extension: true,
            extension_profile: 0xBEDE,
            ..Default::default()
        };
        header
            .set_extension(TWCC_ID, twcc_seq.to_be_bytes().to_vec().into())
            .expect("one-byte extension");
        let payload: Vec<u8> = (0..100 + usize::from(seq % 7))
            .map(|i| (i as u8) ^ (seq as u8))
            .collect();
        TaggedPacket {
            now,
            transport: Default::default(),
            message: AttributedPacket::from(Packet::Rtp(rtc::rtp::Packet {
                header,
                payload: payload.into(),
            })),
        }
    }

    fn rtp(p: &TaggedPacket) -> &rtc::rtp::Packet {
        match &p.message.packet {
            Packet::Rtp(rtp) => rtp,
            _ => panic!("not RTP"),
        }
    }

    #[test]
    fn a_packet_lost_after_its_twcc_stamp_is_rebuilt_and_reported_lost() {
        let now = Instant::now();
        let mut gate = FecEncoderGate::new(
            FlexFec03SendBuilder::new()
                .with_num_media_packets(4)
                .with_num_fec_packets(2)
                .build(),
            FecSwitch::new(true),
        );
        gate.bind_local_stream(&stream());
        // Media 100..104 with a retransmission of 101 among them (a NACK answer).
        let mut sent = Vec::new();
        for (seq, twcc) in [(100, 500), (101, 501), (101, 502), (102, 503), (103, 504)] {
            gate.handle_write(stamped(seq, twcc, now)).expect("written");
            sent.extend(std::iter::from_fn(|| gate.poll_write()));
        }
        let repairs = sent
            .iter()
            .filter(|p| rtp(p).header.ssrc == REPAIR_SSRC)
            .count();
        assert_eq!(
            repairs, 2,
            "the block of four was protected despite the retransmission"
        );
        assert_eq!(sent.len(), 7, "every media packet went on");

        // The receiver: the FEC decoder, then the marker; packet 102 is lost.
        let mut decoder = FlexFec03ReceiveBuilder::new().build();
        decoder.bind_remote_stream(&stream());
        let mut marker = FecRebuiltMarker::new(RebuiltPackets::default());
        marker.bind_remote(&stream());
        let mut arrived = Vec::new();
        for p in sent
            .into_iter()
            .filter(|p| rtp(p).header.sequence_number != 102 || rtp(p).header.ssrc != MEDIA_SSRC)
        {
            decoder.handle_read(p).expect("read");
            while let Some(out) = decoder.poll_read() {
                arrived.extend(marker.read(out));
            }
        }
        let rebuilt: Vec<_> = arrived
            .iter()
            .filter(|p| p.message.has(&Attribute::RecoveredByFec))
            .collect();
        assert_eq!(rebuilt.len(), 1, "one packet rebuilt");
        let original = stamped(102, 503, now);
        let (got, want) = (rtp(rebuilt[0]), rtp(&original));
        assert_eq!(got.header.sequence_number, 102);
        assert_eq!(got.payload, want.payload, "rebuilt exactly");
        assert_eq!(
            got.header.get_extension(TWCC_ID),
            None,
            "its transport-wide number is taken off: the TWCC receiver reports it lost"
        );
        assert!(
            marker.rebuilt.take(MEDIA_SSRC, 102),
            "noted for the video reader"
        );
        let live = arrived
            .iter()
            .find(|p| rtp(p).header.sequence_number == 103);
        assert!(
            live.is_some_and(|p| rtp(p).header.get_extension(TWCC_ID).is_some()),
            "packets that arrived keep their number"
        );
    }

    #[test]
    fn sequence_numbers_compare_across_the_wrap() {
        assert!(is_newer(1, 0));
        assert!(is_newer(0, u16::MAX));
        assert!(!is_newer(5, 5));
        assert!(!is_newer(u16::MAX, 0));
    }

    #[test]
    fn the_gate_sends_repair_only_while_switched_on() {
        let now = Instant::now();
        let switch = FecSwitch::new(false);
        let mut gate = FecEncoderGate::new(
            FlexFec03SendBuilder::new()
                .with_num_media_packets(4)
                .with_num_fec_packets(1)
                .build(),
            switch.clone(),
        );
        gate.bind_local_stream(&stream());
        let send = |gate: &mut FecEncoderGate<_>, seqs: std::ops::Range<u16>| {
            let mut out = Vec::new();
            for seq in seqs {
                gate.handle_write(stamped(seq, seq, now)).expect("written");
                out.extend(std::iter::from_fn(|| gate.poll_write()));
            }
            let repairs = out
                .iter()
                .filter(|p| rtp(p).header.ssrc == REPAIR_SSRC)
                .count();
            (out.len() - repairs, repairs)
        };
        assert_eq!(send(&mut gate, 0..6), (6, 0), "off: media only");
        switch.set(true);
        // The first block after the pause starts at the packet that reopened it.
        assert_eq!(send(&mut gate, 6..14), (8, 2), "on: one repair per 4");
        switch.set(false);
        assert_eq!(send(&mut gate, 14..22), (8, 0), "off again");
    }

    #[test]
    fn fec_switches_on_with_lasting_loss_without_a_queue_and_off_when_it_ends() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut policy = FecPolicy::default();
        assert!(
            !policy.update(at(0), None, false),
            "off until loss is known"
        );
        assert!(!policy.update(at(0), Some(0.005), false));
        // A short burst does not switch it on.
        assert!(!policy.update(at(100), Some(0.08), false));
        assert!(!policy.update(at(1_000), Some(0.002), false));
        assert!(!policy.update(at(3_500), Some(0.002), false));
        // Loss with a queue standing is a full buffer: no FEC.
        assert!(!policy.update(at(4_000), Some(0.08), true));
        assert!(!policy.update(at(7_000), Some(0.08), true));
        // Lasting loss without one switches it on after the hold.
        assert!(!policy.update(at(8_000), Some(0.05), false));
        assert!(!policy.update(at(9_900), Some(0.05), false));
        assert!(policy.update(at(10_000), Some(0.05), false));
        // Between the thresholds, and with a queue, it stays on.
        assert!(policy.update(at(20_000), Some(0.02), true));
        // Under the low threshold for the hold, it goes off.
        assert!(policy.update(at(21_000), Some(0.005), false));
        assert!(!policy.update(at(23_000), Some(0.005), false));
    }
}
