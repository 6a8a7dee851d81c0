//! Media send: one writer task per peer and track, RTP timestamps from the capture
//! clock (video) or the nominal packet length (audio), each audio packet's capture
//! time in the `abs-capture-time` header extension, and RTCP keyframe requests from
//! the receivers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::media::Sample;
use rtc::rtp::extension::HeaderExtension;
use tokio::sync::mpsc;
use tracing::{debug, trace};
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::rtp_transceiver::RtpSender;

use super::channels::*;
use crate::net::peer::capture_time::{ABS_CAPTURE_TIME_URI, AbsCaptureTime, unix_micros};
use crate::net::peer::rtcp::is_keyframe_request;
use crate::net::protocol::PeerId;

/// Turns PLI/FIR from `peer` about our video into [`NetEvent::KeyframeRequested`].
pub(super) async fn watch_keyframe_requests(
    peer: PeerId,
    track: Arc<TrackLocalStaticSample>,
    sink: EventSink,
) {
    while let Some(TrackLocalEvent::OnRtcpPacket(packets)) = track.poll().await {
        if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
            debug!(peer = %peer, "keyframe requested");
            sink.event(NetEvent::KeyframeRequested { by: peer });
        }
    }
}

/// How a track's RTP timestamps advance from one unit to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MediaClock {
    /// By each unit's nominal duration (audio: contiguous 20 ms packets).
    Nominal,
    /// By the capture clock (video: the rate control skips pictures and the
    /// capture rate varies, and the receiver's jitter buffer plays packets out by
    /// RTP time, so timestamps that drift from real time erode its depth).
    Capture,
}

/// The RTP advance after `unit`, given the previous unit's capture instant. The
/// packetizer adds a unit's duration *after* sending it, so under
/// [`MediaClock::Capture`] each unit carries the interval that led up to it: every
/// timestamp is then the capture time one interval late, which never drifts.
pub(super) fn rtp_advance(
    clock: MediaClock,
    unit: &EncodedMedia,
    previous: Option<Instant>,
) -> Duration {
    match (clock, previous) {
        (MediaClock::Capture, Some(previous)) => unit
            .captured_at
            .saturating_duration_since(previous)
            .clamp(Duration::from_millis(1), Duration::from_secs(5)),
        _ => unit.duration,
    }
}

/// Writes queued units to one peer's track once the codec is negotiated; with
/// `stamp_capture`, each packet carries its unit's capture time (`abs-capture-time`,
/// left out by the stack when the remote did not negotiate it).
pub(super) async fn write_media(
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    mut queue: mpsc::Receiver<EncodedMedia>,
    clock: MediaClock,
    stamp_capture: bool,
) {
    let mut target: Option<(u32, u8)> = None;
    let mut previous_capture: Option<Instant> = None;
    while let Some(unit) = queue.recv().await {
        if target.is_none() {
            let ssrc = track.ssrcs().await.first().copied();
            let payload_type = match sender.get_parameters().await {
                Ok(params) => params.rtp_parameters.codecs.first().map(|c| c.payload_type),
                Err(_) => None,
            };
            target = ssrc.zip(payload_type);
        }
        let Some((ssrc, payload_type)) = target else {
            trace!("codec not negotiated yet; unit dropped");
            continue;
        };
        let duration = rtp_advance(clock, &unit, previous_capture);
        previous_capture = Some(unit.captured_at);
        let sample = Sample {
            data: unit.data,
            duration,
            ..Sample::new(unit.captured_at)
        };
        let mut writer = track.sample_writer(ssrc, payload_type);
        if stamp_capture {
            writer = writer.with_extension(HeaderExtension::Custom {
                uri: ABS_CAPTURE_TIME_URI.into(),
                extension: Box::new(AbsCaptureTime {
                    captured_unix_us: unix_micros(sample.timestamp),
                }),
            });
        }
        if let Err(err) = writer.write_sample(&sample).await {
            trace!(%err, "sample not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn video_timestamps_follow_the_capture_clock_and_audio_its_nominal_length() {
        let start = Instant::now();
        let unit = |ms: u64| EncodedMedia {
            data: Bytes::new(),
            duration: Duration::from_millis(66),
            captured_at: start + Duration::from_millis(ms),
        };
        // Capture at 0, 66, 200 (a skipped picture), 266: the sum of advances
        // tracks the capture clock instead of counting 66 ms per picture.
        let mut previous = None;
        let mut total = Duration::ZERO;
        for ms in [0, 66, 200, 266] {
            let u = unit(ms);
            total += rtp_advance(MediaClock::Capture, &u, previous);
            previous = Some(u.captured_at);
        }
        assert_eq!(total, Duration::from_millis(66 + 266));
        assert_eq!(
            rtp_advance(MediaClock::Nominal, &unit(200), Some(start)),
            Duration::from_millis(66)
        );
    }
}
