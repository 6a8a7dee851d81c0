//! Networking: the signaling protocol and server, and the WebRTC peer mesh.
//!
//! - [`protocol`]: serde wire types (signaling messages, `world` data-channel
//!   messages with the games' typed snapshots and events, room codes). Pure data.
//! - [`signaling`]: the WebSocket room server and its async client.
//! - [`peer`]: the sans-IO negotiation core and the tokio + webrtc-rs driver behind a
//!   thread-friendly [`peer::NetHandle`].
//! - [`error`]: the error type, [`error::NetError`].
//! - [`bridge`]: the app's media bridge to the mesh: encode, audio, receive and
//!   per-peer decode threads ([`bridge::NetBridge`]).
//! - [`plugin`]: `NetPlugin`, the transport's Bevy glue: the [`plugin::NetLink`]
//!   resource, a peer entity per remote peer, and typed Messages (peer joined, left,
//!   connected, host changed, a `world` message received, signaling closed). It
//!   knows nothing of what it carries; the `room` module composes it with the world and
//!   the games.
//! - [`playout`]: sans-IO pacing of decoded pictures behind an adaptive delay.
//! - [`lipsync`]: the A/V offset of a remote person where their pictures are shown,
//!   and the delay their voice is held to.
//! - [`send_rate`]: the cutout scaled to the send ladder's rung, and the
//!   per-second send record (pure).
//! - [`probe`], [`stats`]: pure measurement helpers (alpha IoU probes, tone
//!   detection, latency percentiles).
//!
//! `net` imports no other capability of the app except `segment` (the cutout
//! type it encodes and decodes) and `media` (codecs).
//!
//! Threads: one multi-thread tokio runtime, owned by [`peer::NetHandle`] (or by the
//! caller of [`signaling::server::serve`]). The rest of the app talks to it only
//! through bounded crossbeam channels.

pub mod bridge;
pub mod error;
pub mod lipsync;
pub mod peer;
pub mod playout;
pub mod plugin;
pub mod probe;
pub mod protocol;
pub mod send_rate;
pub mod signaling;
pub mod stats;
