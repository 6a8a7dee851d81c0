//! Errors of the network capability: signaling client, signaling server, peers.

use crate::net::protocol::{ErrorCode, RoomCodeError};

/// Everything that can go wrong in `net`.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The room code is malformed.
    #[error("invalid room code")]
    RoomCode(#[from] RoomCodeError),
    /// A socket operation failed (bind, accept, connect).
    #[error("network i/o failed: {0}")]
    Io(#[from] std::io::Error),
    /// The signaling server could not be reached (refused, unreachable, unknown host).
    #[error("cannot reach the signaling server {url}: {source}")]
    Connect {
        /// The server's URL.
        url: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The URL is not a `ws://` or `wss://` URL with a host.
    #[error("signaling server URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS handshake with the signaling server failed (untrusted certificate,
    /// wrong name, a server without TLS, ...).
    #[error("TLS with the signaling server {url} failed: {reason}")]
    Tls {
        /// The server's URL.
        url: String,
        /// The cause, with a hint where one helps.
        reason: String,
    },
    /// A certificate, key or CA file could not be used.
    #[error("TLS setup: {context}: {reason}")]
    TlsSetup {
        /// Which file or setting.
        context: String,
        /// What is wrong.
        reason: String,
    },
    /// The server answered the WebSocket upgrade with an HTTP error (503 when it is
    /// full, 400 for a plain `ws://` client at a TLS port).
    #[error("the signaling server refused the connection: HTTP {status}{detail}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// `: ` and the response body, if it had one.
        detail: String,
    },
    /// The WebSocket layer failed (handshake, framing, closed stream).
    #[error("websocket failed: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// A message could not be encoded or decoded as JSON.
    #[error("malformed json message: {0}")]
    Json(#[from] serde_json::Error),
    /// The signaling server answered with an `error` message.
    #[error("signaling server refused: {code}: {message}")]
    Server {
        /// The server's error code.
        code: ErrorCode,
        /// The server's detail text.
        message: String,
    },
    /// The server speaks another version of the wire protocol.
    #[error("protocol version mismatch: the server speaks version {server}, this app {ours}")]
    Version {
        /// The server's `welcome.version`.
        server: u32,
        /// [`crate::net::protocol::PROTOCOL_VERSION`].
        ours: u32,
    },
    /// The server sent something the client did not expect at this point.
    #[error("unexpected message from the signaling server: {0}")]
    Unexpected(String),
    /// The signaling connection closed.
    #[error("signaling connection closed")]
    Closed,
    /// The signaling server closed the connection and said why.
    #[error("the signaling server closed the connection: {0}")]
    ClosedWith(String),
    /// An operation did not finish in time.
    #[error("timed out while {0}")]
    Timeout(&'static str),
    /// WebRTC (peer connection, data channel, track) failed.
    #[error("webrtc failed: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    /// A bounded queue to the network thread is full; the command was not queued.
    #[error("network command queue is full")]
    Backlog,
    /// A blocking entry point (`NetHandle::connect`, `EmbeddedServer::start`) was called
    /// from inside a tokio runtime, where it would deadlock or panic.
    #[error("called from inside a tokio runtime; call it from a plain thread")]
    InsideRuntime,
    /// The network thread or one of its channels is gone.
    #[error("network worker stopped")]
    WorkerStopped,
    /// A STUN/TURN server given in the configuration is not usable.
    #[error("ICE server {url:?}: {reason}")]
    IceServer {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Encoding or decoding the media that goes over the network failed.
    #[error("network media codec failed: {0}")]
    Media(#[from] crate::media::MediaError),
}

/// Result alias for `net`.
pub type NetResult<T> = Result<T, NetError>;
