//! Signaling: how peers find each other and exchange WebRTC offers, answers and ICE
//! candidates before any peer-to-peer connection exists.
//!
//! - [`server`]: the WebSocket + JSON room server (`samespace serve`, or embedded in
//!   the app). No Bevy; one tokio task per connection.
//! - [`embedded`]: the server on its own small runtime inside the app.
//! - [`client`]: the async client the peer driver uses, one task per connection.
//!
//! The wire format is [`crate::net::protocol`], specified in `docs/PROTOCOL.md`.

pub mod client;
pub mod embedded;
pub mod server;
