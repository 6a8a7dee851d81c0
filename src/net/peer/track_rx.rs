//! Readers of one peer's remote tracks, one tokio task each.
//!
//! - [`VideoReader`]: RTP → [`ReorderBuffer`] (reorders, sends NACKs, gives up) →
//!   [`AccessUnitAssembler`] (frames; keyframe gate) → [`NetEvent::Video`] with the
//!   capture stamp from the SEI and how long the frame waited for a repair; asks the
//!   room task for a keyframe ([`Internal::NeedKeyframe`]).
//! - [`read_audio`]: RTP → one Opus packet per [`NetEvent::Audio`], with its capture
//!   time when the sender stamps it (`abs-capture-time`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    TransportLayerNack, nack_pairs_from_sequence_numbers,
};
use tokio::sync::mpsc;
use tracing::{debug, trace};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use super::assembler::{AccessUnitAssembler, Assembled};
use super::capture_time::{
    ABS_CAPTURE_TIME_URI, read_abs_capture_time, strip_capture_time, unix_micros,
};
use super::channels::{EventSink, NetEvent, ReceivedMedia};
use super::internal::Internal;
use super::reorder::{Released, ReorderBuffer, ReorderStats};
use crate::net::protocol::PeerId;

/// Reads one remote video track: reorders and repairs ([`ReorderBuffer`], NACKs
/// sent from here), assembles access units, asks for keyframes, and hands frames on.
pub(super) struct VideoReader {
    pub(super) peer: PeerId,
    pub(super) sink: EventSink,
    pub(super) internal: mpsc::Sender<Internal>,
    pub(super) bytes_in: Arc<AtomicU64>,
    pub(super) repair: Arc<std::sync::Mutex<ReorderStats>>,
    pub(super) recovery_window: Option<Duration>,
    pub(super) fec_rebuilt: super::fec::RebuiltPackets,
}

/// A missing packet is given up when a keyframe arrives that was captured at least
/// this long after the frame held just after it, or after this long without
/// pictures. Longer than a NACK's round trip and two retries on the links the
/// lossy tests use (150 ms), shorter than the 1 s bound a standing queue stretches
/// the recovery window to.
const STALE_BEFORE_KEYFRAME: Duration = Duration::from_millis(500);
/// [`STALE_BEFORE_KEYFRAME`] in RTP ticks (90 kHz video clock).
const STALE_BEFORE_KEYFRAME_TICKS: i32 = STALE_BEFORE_KEYFRAME.as_millis() as i32 * 90;

/// How long the sender sent no picture before the newest one whose capture-time
/// SEI arrived (RTP timestamps cannot tell: the packetizer advances them by a
/// unit's duration after sending it, so a keyframe after a pause carries the
/// timestamp of the picture before the pause).
#[derive(Debug, Default)]
struct PictureGaps {
    /// Sequence number and capture time (µs) of the newest SEI seen.
    newest: Option<(u16, u64)>,
    /// Sequence number of the newest SEI and the capture time between it and the
    /// one seen before it.
    gap: Option<(u16, u64)>,
}

impl PictureGaps {
    /// An SEI with capture time `captured_us` arrived in packet `sequence`.
    fn seen(&mut self, sequence: u16, captured_us: u64) {
        if let Some((newest, newest_us)) = self.newest {
            if sequence.wrapping_sub(newest) as i16 <= 0 {
                return;
            }
            self.gap = Some((sequence, captured_us.saturating_sub(newest_us)));
        }
        self.newest = Some((sequence, captured_us));
    }

    /// Whether the picture that packet `sequence` belongs to (its SEI at most two
    /// packets before: SEI, then SPS and PPS, then the IDR slice) came after at
    /// least `silence_us` without pictures.
    fn after_silence(&self, sequence: u16, silence_us: u64) -> bool {
        self.gap.is_some_and(|(sei, gap)| {
            (1..=2).contains(&sequence.wrapping_sub(sei)) && gap >= silence_us
        })
    }
}

impl VideoReader {
    pub(super) async fn run(self, track: Arc<dyn TrackRemote>) {
        let mut reorder: ReorderBuffer<rtc::rtp::Packet> = ReorderBuffer::new(self.recovery_window);
        let mut assembler = AccessUnitAssembler::new();
        let mut media_ssrc: Option<u32> = None;
        // The longest wait of any packet of the frame being assembled.
        let mut frame_wait = Duration::ZERO;
        let mut gaps = PictureGaps::default();
        loop {
            let timer = reorder.poll_timeout();
            let event = tokio::select! {
                event = track.poll() => match event {
                    Some(event) => Some(event),
                    None => break,
                },
                () = sleep_until_or_forever(timer) => None,
            };
            match event {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                    self.bytes_in
                        .fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
                    media_ssrc = Some(packet.header.ssrc);
                    let sequence = packet.header.sequence_number;
                    if let Some(stamp) = super::capture_time::stamp_of_sei_payload(&packet.payload)
                    {
                        gaps.seen(sequence, stamp.captured_unix_us);
                    }
                    if self.fec_rebuilt.take(packet.header.ssrc, sequence) {
                        reorder.push_rebuilt(Instant::now(), sequence, packet);
                    } else if super::assembler::starts_fresh(&packet.payload) {
                        // What the sender sent long before this keyframe and is
                        // still missing would only be shown late, then replaced.
                        let captured = packet.header.timestamp;
                        let stale = |before: u32| {
                            captured.wrapping_sub(before) as i32 >= STALE_BEFORE_KEYFRAME_TICKS
                        };
                        // It came after a silence of the sender (it paused while a
                        // queue drained, or the path was down): everything still
                        // missing before it is from before the silence.
                        let after_silence =
                            gaps.after_silence(sequence, STALE_BEFORE_KEYFRAME.as_micros() as u64);
                        tracing::debug!(sequence, after_silence, "a keyframe starts");
                        reorder.push_fresh_start(Instant::now(), sequence, packet, |held| {
                            after_silence || stale(held.header.timestamp)
                        });
                    } else {
                        reorder.push(Instant::now(), sequence, packet);
                    }
                }
                Some(TrackRemoteEvent::OnEnded | TrackRemoteEvent::OnError) => break,
                _ => {}
            }
            let now = Instant::now();
            let nacks = reorder.nacks(now);
            if let (false, Some(media_ssrc)) = (nacks.is_empty(), media_ssrc) {
                let nack = TransportLayerNack {
                    sender_ssrc: 0,
                    media_ssrc,
                    nacks: nack_pairs_from_sequence_numbers(&nacks),
                };
                if let Err(err) = track.write_rtcp(vec![Box::new(nack)]).await {
                    debug!(%err, "nack not sent");
                }
            }
            if reorder.keyframe_due(now) {
                debug!(peer = %self.peer, rtt = ?reorder.rtt(), "a repair is late: keyframe asked for");
                let _ = self.internal.try_send(Internal::NeedKeyframe(self.peer));
            }
            while let Some(released) = reorder.pop(now) {
                match released {
                    Released::Packet(packet) => {
                        frame_wait = frame_wait.max(reorder.last_wait());
                        if self.assemble(&mut assembler, &packet, frame_wait) {
                            frame_wait = Duration::ZERO;
                        }
                    }
                    Released::Lost(count) => {
                        debug!(peer = %self.peer, count, rtt = ?reorder.rtt(), "video packets lost");
                    }
                }
            }
            *self.repair.lock().unwrap_or_else(|e| e.into_inner()) = reorder.stats();
        }
    }

    /// Feeds one packet; `true` when a frame ended with it (emitted or dropped).
    fn assemble(
        &self,
        assembler: &mut AccessUnitAssembler,
        packet: &rtc::rtp::Packet,
        repair_wait: Duration,
    ) -> bool {
        let header = &packet.header;
        match assembler.push(
            header.sequence_number,
            header.timestamp,
            header.marker,
            &packet.payload,
        ) {
            Assembled::Pending => header.marker,
            Assembled::Frame {
                data,
                rtp_timestamp,
            } => {
                trace!(bytes = data.len(), "video access unit");
                let received_at = Instant::now();
                let (stamp, data) = match strip_capture_time(&data) {
                    Some((stamp, rest)) => (Some(stamp), rest),
                    None => (None, data),
                };
                self.sink.media(NetEvent::Video(ReceivedMedia {
                    from: self.peer,
                    data,
                    rtp_timestamp,
                    received_at,
                    captured_unix_us: stamp.map(|s| s.captured_unix_us),
                    frame_number: stamp.map(|s| s.frame_number),
                    repair_wait,
                    received_unix_us: unix_micros(received_at),
                }));
                true
            }
            Assembled::NeedKeyframe => {
                let _ = self.internal.try_send(Internal::NeedKeyframe(self.peer));
                true
            }
        }
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until_or_forever(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await,
        None => std::future::pending().await,
    }
}

/// The id the audio m-line negotiated for `abs-capture-time` (`None`: not
/// negotiated, or the connection has no audio sender yet).
async fn capture_time_extension_id(
    sender: &std::sync::OnceLock<Arc<dyn webrtc::rtp_transceiver::RtpSender>>,
) -> Option<u8> {
    let params = sender.get()?.get_parameters().await.ok()?;
    params
        .rtp_parameters
        .header_extensions
        .iter()
        .find(|ext| ext.uri == ABS_CAPTURE_TIME_URI)
        .and_then(|ext| u8::try_from(ext.id).ok())
}

/// Reads one remote audio track: each RTP payload is one Opus packet, with its
/// capture time when the packet carries `abs-capture-time`.
pub(super) async fn read_audio(
    peer: PeerId,
    track: Arc<dyn TrackRemote>,
    sink: EventSink,
    bytes_in: Arc<AtomicU64>,
    audio_sender: Arc<std::sync::OnceLock<Arc<dyn webrtc::rtp_transceiver::RtpSender>>>,
) {
    // Looked up at the first packet with an extension (negotiation is over by then).
    let mut extension_id: Option<Option<u8>> = None;
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnRtpPacket(packet) => {
                bytes_in.fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
                if packet.payload.is_empty() {
                    continue;
                }
                let received_at = Instant::now();
                if packet.header.extension && extension_id.is_none() && audio_sender.get().is_some()
                {
                    let id = capture_time_extension_id(&audio_sender).await;
                    debug!(?id, "abs-capture-time extension id");
                    extension_id = Some(id);
                }
                let captured_unix_us = extension_id
                    .flatten()
                    .and_then(|id| packet.header.get_extension(id))
                    .and_then(|payload| read_abs_capture_time(&payload));
                sink.media(NetEvent::Audio(ReceivedMedia {
                    from: peer,
                    data: packet.payload,
                    rtp_timestamp: packet.header.timestamp,
                    received_at,
                    captured_unix_us,
                    frame_number: None,
                    repair_wait: Duration::ZERO,
                    received_unix_us: unix_micros(received_at),
                }));
            }
            TrackRemoteEvent::OnEnded | TrackRemoteEvent::OnError => break,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyframe_after_half_a_second_without_pictures_is_told_apart() {
        let mut gaps = PictureGaps::default();
        gaps.seen(10, 1_000_000);
        gaps.seen(14, 1_066_000);
        // The IDR slice two packets after its SEI, 66 ms after the last picture.
        assert!(!gaps.after_silence(16, 500_000));
        // A pause of 800 ms, then a keyframe: SEI in 20, SPS and PPS in 21.
        gaps.seen(20, 1_866_000);
        assert!(gaps.after_silence(21, 500_000));
        assert!(gaps.after_silence(22, 500_000));
        // Not a packet of that picture; an older SEI changes nothing.
        assert!(!gaps.after_silence(25, 500_000));
        gaps.seen(12, 1_030_000);
        assert!(gaps.after_silence(21, 500_000));
    }
}
