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

impl VideoReader {
    pub(super) async fn run(self, track: Arc<dyn TrackRemote>) {
        let mut reorder: ReorderBuffer<rtc::rtp::Packet> = ReorderBuffer::new(self.recovery_window);
        let mut assembler = AccessUnitAssembler::new();
        let mut media_ssrc: Option<u32> = None;
        // The longest wait of any packet of the frame being assembled.
        let mut frame_wait = Duration::ZERO;
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
                    if self.fec_rebuilt.take(packet.header.ssrc, sequence) {
                        reorder.push_rebuilt(Instant::now(), sequence, packet);
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
