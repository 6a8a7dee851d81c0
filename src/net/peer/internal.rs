//! The room task's inbox: what peer-connection callbacks and helper tasks report.

use std::sync::Arc;

use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;

use crate::net::peer::session::Connectivity;
use crate::net::protocol::{IceCandidate, PeerId, WORLD_CHANNEL_LABEL, WORLD_FAST_CHANNEL_LABEL};

/// Internal events of the peer connections for the room task.
pub(super) const INTERNAL_CAPACITY: usize = 1024;

/// Events from peer-connection callbacks and helper tasks to the room task.
pub(super) enum Internal {
    Candidate(PeerId, IceCandidate),
    State(PeerId, Connectivity),
    Channel(PeerId, ChannelKind, Arc<dyn DataChannel>),
    ChannelOpen(PeerId, ChannelKind),
    Pong(PeerId, u64),
    RemoteVideo(PeerId, Arc<dyn TrackRemote>),
    NeedKeyframe(PeerId),
    /// Replace the connection to the peer with this attempt (the current one failed).
    Retry(PeerId, u32),
    /// Check that the peer answered this attempt (one we started after a loss).
    AnswerDue(PeerId, u32),
}

/// The two data channels to each peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ChannelKind {
    /// `world`: ordered and reliable (events, chat, names, RTT probes).
    Reliable,
    /// `world-fast`: unordered, no retransmissions (snapshots, placements: latest wins,
    /// so a lost packet never holds up newer ones; mask probes, samples of a figure).
    Fast,
}

impl ChannelKind {
    pub(super) fn from_label(label: &str) -> Option<Self> {
        match label {
            WORLD_CHANNEL_LABEL => Some(Self::Reliable),
            WORLD_FAST_CHANNEL_LABEL => Some(Self::Fast),
            _ => None,
        }
    }
}
