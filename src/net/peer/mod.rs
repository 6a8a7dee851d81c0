//! WebRTC peers: a full mesh of peer connections, one per other member of the room.
//!
//! - [`session`]: the sans-IO negotiation core (perfect negotiation, candidate
//!   buffering, liveness deadlines). Pure, unit-tested.
//! - [`capture_time`]: capture timestamps in an SEI NAL, for glass-to-glass latency.
//! - [`reorder`]: sans-IO reordering and NACK-driven loss repair of RTP packets.
//! - [`assembler`]: sans-IO reassembly of H.264 access units from RTP.
//! - [`rtcp`]: the interceptor that lets PLI/FIR reach the sender's app.
//! - `track_rx`: the tasks reading one peer's remote video and audio tracks.
//! - [`congestion`]: the send estimate per peer (GCC over TWCC feedback, published
//!   for the encoder) and the pacer that never holds audio.
//! - [`queue_guard`]: the standing-queue guard over GCC (pure).
//! - [`impair`]: simulated RTP loss for recovery tests.
//! - [`handle`]: [`NetHandle`] owns the tokio runtime and is the only thing the app
//!   touches (bounded crossbeam channels in and out, capacities and full-policies
//!   documented there); [`channels`] holds what crosses them, [`config`] the
//!   settings.
//! - The tokio + webrtc-rs driver, one role per file: `room` (the room task:
//!   sessions, negotiation, fan-out, link figures, reconnects), `connection`
//!   (building a peer connection and its event handler: ICE candidates, mDNS mode,
//!   remote channels and tracks), `data_channel` (the `world` readers), `media_tx`
//!   (track writers, RTCP keyframe requests), `track_rx` (track readers), `internal`
//!   (the room task's inbox). Imports go one way: `handle → room → connection →
//!   {data_channel, media_tx, track_rx} → {internal, channels, config}`.
//!
//! Threads: the `samespace-net` tokio runtime (2 workers). Invariants: no Bevy type
//! crosses into this module; the app never blocks on it.

pub mod assembler;
pub mod candidate_pair;
pub mod capture_time;
pub mod channels;
pub mod config;
pub mod congestion;
mod connection;
mod data_channel;
#[cfg(test)]
mod dtls_handshake_tests;
pub mod fec;
pub mod handle;
pub mod impair;
mod internal;
mod media_tx;
pub mod queue_guard;
pub mod read_hook;
pub mod reorder;
mod room;
pub mod rtcp;
pub mod session;
mod track_rx;

pub use channels::{EncodedMedia, NetCommand, NetCounters, NetEvent, ReceivedMedia};
pub use config::{IceServer, NetConfig, VideoFec, VideoFecSetting};
pub use handle::NetHandle;
