//! WebRTC peers: a full mesh of peer connections, one per other member of the room.
//!
//! - [`session`]: the sans-IO negotiation core (perfect negotiation, candidate
//!   buffering, liveness deadlines). Pure, unit-tested.
//! - [`capture_time`]: capture timestamps in an SEI NAL, for glass-to-glass latency.
//! - [`reorder`]: sans-IO reordering and NACK-driven loss repair of RTP packets.
//! - [`assembler`]: sans-IO reassembly of H.264 access units from RTP.
//! - [`rtcp`]: the interceptor that lets PLI/FIR reach the sender's app.
//! - `track_rx`: the tasks reading one peer's remote video and audio tracks.
//! - [`impair`]: simulated RTP loss for recovery tests.
//! - [`driver`]: tokio + webrtc-rs; [`NetHandle`] owns the runtime and is the only
//!   thing the app touches (bounded crossbeam channels in and out, capacities and
//!   full-policies documented there).
//!
//! Threads: the `samespace-net` tokio runtime (2 workers). Invariants: no Bevy type
//! crosses into this module; the app never blocks on it.

pub mod assembler;
pub mod capture_time;
pub mod driver;
pub mod impair;
pub mod reorder;
pub mod rtcp;
pub mod session;
mod track_rx;

pub use driver::{
    EncodedMedia, IceServer, NetCommand, NetConfig, NetCounters, NetEvent, NetHandle, ReceivedMedia,
};
