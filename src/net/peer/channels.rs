//! What crosses between the app and the net tasks: commands, events, media and
//! counters, the capacities of those channels (see the table in [`super::handle`]),
//! and [`EventSink`], through which every task hands events to the app.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::net::peer::reorder::ReorderStats;
use crate::net::protocol::{ClientToServer, PeerId, PeerToPeer, ServerToClient};

/// Control commands (world messages, keyframe requests, leave). Producer: the app;
/// consumer: the room task. Full: [`NetHandle::send`] returns [`NetError::Backlog`].
pub const CONTROL_IN_CAPACITY: usize = 256;
/// Encoded video access units to send. Producer: the encoder; consumer: the room task.
/// Full: the oldest unit is dropped (latest wins).
pub const VIDEO_IN_CAPACITY: usize = 2;
/// Encoded audio packets to send. Producer: the audio encoder; consumer: the room task.
/// Full: the oldest packet is dropped.
pub const AUDIO_IN_CAPACITY: usize = 16;
/// Events for the app (peers, world messages, stats). Producer: the net tasks;
/// consumer: the app. Full: the oldest event is dropped and counted.
pub const EVENTS_OUT_CAPACITY: usize = 1024;
/// Received video and audio. Producer: the track readers; consumer: the app's decoders.
/// Full: the oldest item is dropped and counted.
pub const MEDIA_OUT_CAPACITY: usize = 64;
/// Frames queued for one peer's track writer. Producer: the room task; consumer: that
/// peer's writer task. Full: the new frame is dropped for that peer and counted.
pub const PEER_MEDIA_CAPACITY: usize = 8;

/// An encoded media unit to send: an H.264 access unit (Annex-B) or one Opus packet.
#[derive(Clone, Debug)]
pub struct EncodedMedia {
    /// The bitstream.
    pub data: Bytes,
    /// Its duration (frame interval, or 20 ms of audio).
    pub duration: Duration,
    /// When the content was captured (for latency measurement).
    pub captured_at: Instant,
}

/// A received media unit.
#[derive(Clone, Debug)]
pub struct ReceivedMedia {
    /// Sender.
    pub from: PeerId,
    /// An Annex-B H.264 access unit, or one Opus packet.
    pub data: Bytes,
    /// RTP timestamp (90 kHz video, 48 kHz audio).
    pub rtp_timestamp: u32,
    /// When the last packet of the unit arrived.
    pub received_at: Instant,
    /// Sender's capture time, µs since the Unix epoch (video: of the picture, from
    /// its SEI; audio: of the packet's first sample, from `abs-capture-time`; see
    /// [`super::capture_time`]).
    pub captured_unix_us: Option<u64>,
    /// The sender's picture number (video only), to count pictures that never came.
    pub frame_number: Option<u32>,
    /// How long the unit waited for a lost packet's repair before it was complete
    /// (video; zero when it arrived whole and in order).
    pub repair_wait: Duration,
    /// Our wall clock at `received_at`, µs since the Unix epoch.
    pub received_unix_us: u64,
}

impl ReceivedMedia {
    /// Capture-to-receive latency, when the sender stamped the unit (meaningful on
    /// one machine, or with synchronised clocks).
    pub fn network_latency(&self) -> Option<Duration> {
        self.captured_unix_us
            .map(|c| Duration::from_micros(self.received_unix_us.saturating_sub(c)))
    }
}

/// What the app asks of the network.
#[derive(Clone, Debug)]
pub enum NetCommand {
    /// Send a `world` message to one peer, or to all when `to` is `None`.
    World {
        /// Recipient, or everyone.
        to: Option<PeerId>,
        /// The message.
        message: PeerToPeer,
    },
    /// Send a video access unit to every connected peer.
    Video(EncodedMedia),
    /// Send an audio packet to every connected peer.
    Audio(EncodedMedia),
    /// Ask `from` for a keyframe (e.g. the decoder failed).
    RequestKeyframe {
        /// The sender whose stream is broken.
        from: PeerId,
    },
    /// Send a room control to the signaling server (`lock`, `unlock`, `remove`:
    /// host only; the server answers with [`NetEvent::FromServer`]).
    Server(ClientToServer),
    /// Leave the room (also done on drop).
    Leave,
}

/// What the network tells the app.
#[derive(Clone, Debug)]
pub enum NetEvent {
    /// Another peer is in the room (from `welcome` or `peer-joined`).
    PeerJoined {
        /// Its id.
        id: PeerId,
        /// Its name.
        name: String,
    },
    /// The WebRTC connection to a peer is up.
    PeerConnected {
        /// Its id.
        id: PeerId,
    },
    /// The connection to a peer that was up went down; it is being restarted
    /// (`PeerConnected` again when it is back, `PeerLeft` if it is not).
    PeerInterrupted {
        /// Its id.
        id: PeerId,
    },
    /// A peer left, vanished or could not be reached.
    PeerLeft {
        /// Its id.
        id: PeerId,
    },
    /// The room's host changed.
    HostChanged {
        /// The new host.
        host: PeerId,
    },
    /// A `world` message from a peer.
    World {
        /// Sender.
        from: PeerId,
        /// The message.
        message: PeerToPeer,
    },
    /// A video access unit from a peer (on the media channel).
    Video(ReceivedMedia),
    /// An audio packet from a peer (on the media channel).
    Audio(ReceivedMedia),
    /// A peer asks us for a keyframe.
    KeyframeRequested {
        /// Who asks.
        by: PeerId,
    },
    /// Link figures for one peer, every [`STATS_INTERVAL`].
    Stats {
        /// The peer.
        peer: PeerId,
        /// Round-trip time over the data channel, once measured.
        rtt: Option<Duration>,
        /// Media received from it over the last interval, kbit/s.
        kbit_s: f64,
        /// The congestion controller's estimate of what we may send it, kbit/s
        /// (while FlexFEC repair packets go, the media's share of it; `None` before
        /// the first figures).
        send_estimate_kbit: Option<f64>,
        /// Loss repair on its video so far.
        video_repair: ReorderStats,
        /// The ICE candidate pair in use, "local/remote" types (`"host/host"`,
        /// `"relay/host"`…), once one is selected.
        candidate_pair: Option<String>,
    },
    /// A server message about the room that the mesh does not act on itself
    /// (`room-lock`, `error`: e.g. `removed` just before the server closes).
    FromServer(ServerToClient),
    /// The signaling connection ended; no new peers can join us.
    SignalingClosed {
        /// Why.
        reason: String,
    },
    /// The signaling connection dropped and is being made again; meanwhile no
    /// new peers can join us.
    SignalingReconnecting,
    /// The signaling connection is back: rejoined the room under our id.
    SignalingBack,
}

/// Framing each `world` message carries on the wire besides its JSON (SCTP DATA
/// chunk and common header, DTLS record, UDP and IPv4 headers), bytes.
pub const WORLD_FRAMING_BYTES: u64 = 16 + 12 + 29 + 8 + 20;

/// Counters of dropped items, for the stats overlay.
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Video units dropped before sending (queue full, per peer or global).
    pub video_dropped_out: AtomicU64,
    /// Audio packets dropped before sending.
    pub audio_dropped_out: AtomicU64,
    /// Events or media dropped because the app did not drain them.
    pub dropped_in: AtomicU64,
    /// `world` messages dropped (too large, or a peer's send buffer full).
    pub world_dropped: AtomicU64,
    /// Bytes of `world` messages handed to the data channels, every peer counted:
    /// the JSON plus [`WORLD_FRAMING_BYTES`] each (SCTP, DTLS, UDP, IP).
    pub world_bytes_sent: AtomicU64,
    /// Peer connections not yet freed (their handler is alive); see the module docs.
    pub live_peer_connections: AtomicI64,
    /// Connections replaced by a new attempt because they never came up.
    pub reconnects: AtomicU64,
    /// ICE restarts begun on connections that were up (the same connection goes on).
    pub ice_restarts: AtomicU64,
    /// The send estimate towards each connected peer (the encoder fits the slowest).
    pub send_estimates: crate::net::peer::congestion::SendEstimates,
}

/// Sends into a bounded crossbeam channel, dropping the oldest item when full.
pub(super) fn push_drop_oldest<T>(tx: &Sender<T>, rx: &Receiver<T>, item: T, dropped: &AtomicU64) {
    match tx.try_send(item) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => {}
        Err(TrySendError::Full(item)) => {
            let _ = rx.try_recv();
            dropped.fetch_add(1, Ordering::Relaxed);
            let _ = tx.try_send(item);
        }
    }
}

/// Where the net tasks put events for the app.
#[derive(Clone)]
pub(super) struct EventSink {
    pub(super) events: (Sender<NetEvent>, Receiver<NetEvent>),
    pub(super) media: (Sender<NetEvent>, Receiver<NetEvent>),
    pub(super) counters: Arc<NetCounters>,
}

impl EventSink {
    pub(super) fn event(&self, event: NetEvent) {
        push_drop_oldest(
            &self.events.0,
            &self.events.1,
            event,
            &self.counters.dropped_in,
        );
    }

    pub(super) fn media(&self, event: NetEvent) {
        push_drop_oldest(
            &self.media.0,
            &self.media.1,
            event,
            &self.counters.dropped_in,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_its_oldest_item() {
        let (tx, rx) = crossbeam_channel::bounded(2);
        let dropped = AtomicU64::new(0);
        for i in 0..5 {
            push_drop_oldest(&tx, &rx, i, &dropped);
        }
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(dropped.load(Ordering::Relaxed), 3);
    }
}
