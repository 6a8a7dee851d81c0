//! Connection setup: a peer connection with its codecs, tracks, interceptors (NACK,
//! congestion control and pacing, the lossy-link impairment, RTCP keyframe
//! requests), UDP ports and mDNS mode, and
//! its event handler (ICE candidates, connectivity, remote data channels and
//! tracks), which reports to the room task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtc::interceptor::{
    FlexFec03ReceiveBuilder, FlexFec03SendBuilder, NackResponderBuilder, Slot, TwccReceiverBuilder,
};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::{
    CongestionFeedback, configure_congestion_control, configure_rtcp_reports,
    configure_simulcast_extension_headers,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_FLEX_FEC03, MIME_TYPE_H264, MIME_TYPE_OPUS,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpFecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info_span, warn};
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceServer, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    Registry, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

use super::channels::*;
use super::config::*;
use super::internal::*;
use crate::net::peer::capture_time::ABS_CAPTURE_TIME_URI;
use crate::net::peer::congestion::{
    MediaPacer, PublishedGcc, SendEstimate, TWCC_FEEDBACK_INTERVAL,
};
use crate::net::peer::fec::{
    FEC_ENCODER_SLOT, FEC_MARKER_SLOT, FecEncoderGate, FecRebuiltMarker, FecSwitch, RebuiltPackets,
};
use crate::net::peer::impair::{LOSSY_LINK_SLOT, LossyLink};
use crate::net::peer::read_hook::OnRead;
use crate::net::peer::reorder::ReorderStats;
use crate::net::peer::rtcp::{KEYFRAME_FORWARDER_SLOT, KeyframeRequestForwarder};
use crate::net::peer::session::Connectivity;
use crate::net::protocol::{IceCandidate, PeerId};

/// Data-channel send buffer per channel; a peer that falls this far behind loses
/// `world` messages (counted) instead of growing memory.
pub(super) const DATA_CHANNEL_SEND_BUFFER: usize = 1024 * 1024;
/// RTP payload type of H.264 (constrained baseline, packetization mode 1).
pub(super) const H264_PAYLOAD_TYPE: u8 = 102;
/// RTP payload type of Opus.
pub(super) const OPUS_PAYLOAD_TYPE: u8 = 111;
/// RTP payload type of FlexFEC-03 repair packets (with `--video-fec`).
pub(super) const FLEXFEC_PAYLOAD_TYPE: u8 = 49;

/// How ICE treats mDNS (`.local`) candidates: resolved where this host can join the
/// mDNS multicast group (browsers hide their host addresses behind such names), and
/// ignored where it cannot: a host with no multicast route (a namespace with only
/// `lo`, a locked-down container) still connects over IP candidates, instead of
/// failing every connection with the group join's `ENODEV`. Probed once per process.
pub(super) fn multicast_dns_mode() -> rtc::ice::mdns::MulticastDnsMode {
    use rtc::ice::mdns::MulticastDnsMode;
    static MODE: std::sync::OnceLock<MulticastDnsMode> = std::sync::OnceLock::new();
    *MODE.get_or_init(|| match rtc::mdns::MulticastSocket::new().into_std() {
        Ok(_) => MulticastDnsMode::QueryOnly,
        Err(err) => {
            warn!(%err, "no mDNS here: .local candidates are ignored, IP candidates still connect");
            MulticastDnsMode::Disabled
        }
    })
}

pub(super) fn h264_codec() -> RTCRtpCodec {
    let feedback = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
            .to_owned(),
        rtcp_feedback: vec![
            feedback("nack", ""),
            feedback("nack", "pli"),
            feedback("ccm", "fir"),
            feedback("goog-remb", ""),
        ],
    }
}

pub(super) fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// A local track with a random SSRC, in the media stream `stream_id`.
///
/// Track ids must differ from the remote side's: webrtc-rs 0.21 routes inbound RTCP
/// (PLI, FIR, reports) by track id and tries received tracks first, so a local
/// "video" track facing a remote "video" track never sees its keyframe requests.
/// Each id therefore carries the SSRC.
pub(super) fn local_track(
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
    stream_id: &str,
    fec_ssrc: Option<u32>,
) -> webrtc::error::Result<Arc<TrackLocalStaticSample>> {
    let ssrc = random_u32();
    let label = match kind {
        RtpCodecKind::Video => "video",
        _ => "audio",
    };
    let track = MediaStreamTrack::new(
        stream_id.to_owned(),
        format!("samespace-{label}-{ssrc:08x}"),
        format!("samespace-{label}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                fec: fec_ssrc.map(|ssrc| RTCRtpFecParameters { ssrc }),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    );
    Ok(Arc::new(TrackLocalStaticSample::new(
        Instant::now(),
        track,
    )?))
}

/// A random 32-bit value (for SSRCs), from the standard library's OS-seeded hash keys.
pub(super) fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    hasher.finish() as u32
}

pub(super) type BuiltPeer = (
    Arc<dyn PeerConnection>,
    SendEstimate,
    Arc<TrackLocalStaticSample>,
    Arc<dyn RtpSender>,
    Arc<TrackLocalStaticSample>,
    Arc<dyn RtpSender>,
);

pub(super) async fn build_peer_connection(
    config: &NetConfig,
    handler: Arc<PcHandler>,
) -> webrtc::error::Result<BuiltPeer> {
    let mut media_engine = MediaEngine::default();
    media_engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: h264_codec(),
            payload_type: H264_PAYLOAD_TYPE,
        },
        RtpCodecKind::Video,
    )?;
    media_engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus_codec(),
            payload_type: OPUS_PAYLOAD_TYPE,
        },
        RtpCodecKind::Audio,
    )?;
    // The default chain's NACK responder (retransmits what the remote asks for) and
    // RTCP reports. NACKs are generated by the video reader's [`ReorderBuffer`],
    // which knows when a frame still waits for a packet; the chain's generator would
    // re-ask for every gap every interval, forever. Congestion control: TWCC both
    // ways, GCC publishing its estimate, and our pacer in the pacer's slot
    // (`congestion`: audio never waits behind video).
    configure_simulcast_extension_headers(&mut media_engine)?;
    // Each Opus packet's capture time, for lip sync (docs/PROTOCOL.md).
    media_engine.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: ABS_CAPTURE_TIME_URI.to_owned(),
        },
        RtpCodecKind::Audio,
        None,
    )?;
    let mut registry =
        Registry::new().with(Slot::NackResponder, NackResponderBuilder::new().build());
    let fec_switch = FecSwitch::default();
    if let Some(fec) = config.video_fec {
        // The repair stream is a codec of its own; both ends register it, so the
        // offer's `a=ssrc-group:FEC-FR` is answered (docs/PROTOCOL.md).
        media_engine.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_FLEX_FEC03.to_owned(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: "repair-window=10000000".to_owned(),
                    rtcp_feedback: vec![],
                },
                payload_type: FLEXFEC_PAYLOAD_TYPE,
            },
            RtpCodecKind::Video,
        )?;
        registry = registry
            .with(
                FEC_ENCODER_SLOT,
                FecEncoderGate::new(
                    FlexFec03SendBuilder::new()
                        .with_num_media_packets(fec.media_packets)
                        .with_num_fec_packets(fec.repair_packets)
                        .build(),
                    fec_switch.clone(),
                ),
            )
            .with(Slot::FecDecoder, FlexFec03ReceiveBuilder::new().build())
            .with(
                FEC_MARKER_SLOT,
                OnRead::new(FecRebuiltMarker::new(handler.fec_rebuilt.clone())),
            );
    }
    let estimate = SendEstimate::default();
    // The estimator switches the repair packets (`fec`), and leaves room for them.
    let mut estimator = PublishedGcc::new(config.send_estimate, estimate.clone());
    if let Some(fec) = config.video_fec {
        estimator = estimator.with_fec(fec, fec_switch.clone());
    }
    let registry = configure_congestion_control(
        registry,
        estimator,
        CongestionFeedback::Twcc,
        &mut media_engine,
    )?
    .with(
        Slot::Pacer,
        MediaPacer::new(estimate.clone(), OPUS_PAYLOAD_TYPE),
    )
    .with(
        Slot::TwccReceiver,
        TwccReceiverBuilder::new()
            .with_interval(TWCC_FEEDBACK_INTERVAL)
            .build(),
    );
    let mut registry = configure_rtcp_reports(registry).with(
        KEYFRAME_FORWARDER_SLOT,
        OnRead::new(KeyframeRequestForwarder),
    );
    if config.simulated_loss > 0.0 || !config.simulated_delay.is_zero() {
        registry = registry.with(
            LOSSY_LINK_SLOT,
            LossyLink::new(config.simulated_loss, u64::from(random_u32()))
                .with_delay(config.simulated_delay)
                .with_jitter(config.simulated_jitter),
        );
    }
    let ice_servers = config
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect();
    let setting_engine = SettingEngineBuilder::new()
        .with_multicast_dns_mode(multicast_dns_mode())
        .with_include_loopback_candidate(true)
        // An ICE restart (session.rs) gathers again on fresh sockets: after a
        // network change the old addresses may be gone.
        .with_discard_local_candidates_during_ice_restart(true)
        .with_ice_timeouts(
            Some(Duration::from_secs(2)),
            Some(Duration::from_secs(6)),
            Some(Duration::from_millis(500)),
        )
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new()
                .with_ice_servers(ice_servers)
                .build(),
        )
        .with_media_engine(media_engine)
        .with_interceptor_registry(registry)
        .with_setting_engine(setting_engine)
        .with_handler(handler)
        .with_udp_addrs(config.udp_addrs.clone())
        .with_data_channel_send_buffer_limit(DATA_CHANNEL_SEND_BUFFER)
        .build()
        .await?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    // One stream per connection: the receiver groups its audio and video.
    let stream_id = format!("samespace-{:08x}", random_u32());
    let fec_ssrc = config.video_fec.map(|_| random_u32());
    let video_track = local_track(RtpCodecKind::Video, h264_codec(), &stream_id, fec_ssrc)?;
    let video_sender = pc
        .add_track(video_track.clone() as Arc<dyn TrackLocal>)
        .await?;
    let audio_track = local_track(RtpCodecKind::Audio, opus_codec(), &stream_id, None)?;
    let audio_sender = pc
        .add_track(audio_track.clone() as Arc<dyn TrackLocal>)
        .await?;
    Ok((
        pc,
        estimate,
        video_track,
        video_sender,
        audio_track,
        audio_sender,
    ))
}

/// Peer-connection callbacks, forwarded to the room task.
pub(super) struct PcHandler {
    pub(super) peer: PeerId,
    pub(super) internal: mpsc::Sender<Internal>,
    pub(super) sink: EventSink,
    pub(super) bytes_in: Arc<AtomicU64>,
    pub(super) video_repair: Arc<std::sync::Mutex<ReorderStats>>,
    pub(super) recovery_window: Option<Duration>,
    /// Video packets FlexFEC rebuilt (noted by the chain, asked by the reader).
    pub(super) fec_rebuilt: RebuiltPackets,
    /// The connection was replaced or closed: report nothing more.
    pub(super) retired: Arc<AtomicBool>,
    /// The audio sender, set once the connection is built: its negotiated
    /// parameters give the audio m-line's header extension ids, which the remote
    /// audio uses too.
    pub(super) audio_sender: Arc<std::sync::OnceLock<Arc<dyn RtpSender>>>,
}

impl Drop for PcHandler {
    fn drop(&mut self) {
        self.sink
            .counters
            .live_peer_connections
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PcHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        match event.candidate.to_json() {
            Ok(init) => {
                let candidate = IceCandidate {
                    candidate: init.candidate,
                    sdp_mid: init.sdp_mid,
                    sdp_mline_index: init.sdp_mline_index,
                    username_fragment: init.username_fragment,
                };
                let _ = self
                    .internal
                    .send(Internal::Candidate(self.peer, candidate))
                    .await;
            }
            Err(err) => debug!(%err, "local candidate not serializable"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        debug!(peer = %self.peer, %state, "connection state");
        let state = match state {
            RTCPeerConnectionState::Connected => Connectivity::Connected,
            RTCPeerConnectionState::Disconnected => Connectivity::Disconnected,
            RTCPeerConnectionState::Failed => Connectivity::Failed,
            RTCPeerConnectionState::Closed => Connectivity::Closed,
            _ => Connectivity::Connecting,
        };
        let _ = self.internal.send(Internal::State(self.peer, state)).await;
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        let label = channel.label().await.unwrap_or_default();
        let Some(kind) = ChannelKind::from_label(&label) else {
            debug!(label, "ignoring an unknown data channel");
            return;
        };
        let _ = self
            .internal
            .send(Internal::Channel(self.peer, kind, channel))
            .await;
        // A channel announced by the remote side is already open.
        let _ = self
            .internal
            .send(Internal::ChannelOpen(self.peer, kind))
            .await;
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        let kind = track.kind().await;
        let peer = self.peer;
        let sink = self.sink.clone();
        let internal = self.internal.clone();
        let bytes_in = self.bytes_in.clone();
        let video = super::track_rx::VideoReader {
            peer,
            sink: sink.clone(),
            internal: internal.clone(),
            bytes_in: bytes_in.clone(),
            repair: self.video_repair.clone(),
            recovery_window: self.recovery_window,
            fec_rebuilt: self.fec_rebuilt.clone(),
        };
        let audio_sender = self.audio_sender.clone();
        let span = info_span!("track", peer = %peer, ?kind);
        tokio::spawn(
            async move {
                match kind {
                    RtpCodecKind::Video => {
                        let _ = internal
                            .send(Internal::RemoteVideo(peer, track.clone()))
                            .await;
                        video.run(track).await;
                    }
                    RtpCodecKind::Audio => {
                        super::track_rx::read_audio(peer, track, sink, bytes_in, audio_sender)
                            .await;
                    }
                    _ => {}
                }
            }
            .instrument(span),
        );
    }
}
