//! Signaling: how peers find each other and exchange WebRTC offers, answers and ICE
//! candidates before any peer-to-peer connection exists.
//!
//! - [`server`]: the WebSocket + JSON room server (`samespace serve`, or embedded in
//!   the app). No Bevy; one tokio task per connection.
//! - [`embedded`]: the server on its own small runtime inside the app.
//! - [`client`]: the async client the peer driver uses, one task per connection.
//! - [`limit`]: the server's rate limits (messages per connection, joins per address).
//! - [`outbox`]: the byte-bounded queue between a room and one connection.
//! - [`tls`]: rustls configurations for `wss://`, on both sides.
//!
//! The wire format is [`crate::net::protocol`], specified in `docs/PROTOCOL.md`.

pub mod client;
pub mod embedded;
pub mod limit;
pub mod outbox;
pub mod server;
pub mod tls;
