//! Async signaling client: one WebSocket to the server, typed messages both ways.
//!
//! [`SignalingClient::connect`] + [`SignalingClient::join`] give a joined client;
//! [`SignalingClient::spawn`] then moves it into a tokio task that keeps the connection
//! alive (a `ping` every [`KEEPALIVE_INTERVAL`]) and talks to the rest of the program
//! through two bounded tokio channels.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{debug, warn};

use crate::net::error::{NetError, NetResult};
use crate::net::protocol::{
    ClientToServer, PROTOCOL_VERSION, PeerId, PeerInfo, RoomCode, ServerToClient,
};

/// Interval of the keep-alive `ping`, well below the server's default idle timeout.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Largest message accepted from the server (its own messages are at most 64 KiB
/// plus a few bytes of envelope).
pub const MAX_SERVER_MESSAGE_BYTES: usize = 256 * 1024;

/// Messages queued from the program to the signaling task. Producer: the peer driver;
/// consumer: the signaling task. Full-policy: the producer waits (signals are few and
/// must not be lost).
pub const SIGNALING_OUTBOX_CAPACITY: usize = 256;

/// Messages queued from the signaling task to the program. Producer: the signaling
/// task; consumer: the peer driver. Full-policy: the task waits, which back-pressures
/// the socket (the server then drops us as a slow consumer rather than growing memory).
pub const SIGNALING_INBOX_CAPACITY: usize = 256;

/// How long [`SignalingClient::join`] waits for `welcome`.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's answer to a successful join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// The room joined.
    pub room: RoomCode,
    /// Our id.
    pub you: PeerId,
    /// Peers already there, oldest first.
    pub peers: Vec<PeerInfo>,
    /// The room's host.
    pub host: PeerId,
}

/// A WebSocket connection to a signaling server.
pub struct SignalingClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl SignalingClient {
    /// Opens a WebSocket to `url` (`ws://host:port`).
    pub async fn connect(url: &str) -> NetResult<Self> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_SERVER_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_SERVER_MESSAGE_BYTES));
        let connecting = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
        let (ws, _response) = tokio::time::timeout(JOIN_TIMEOUT, connecting)
            .await
            .map_err(|_| NetError::Timeout("connecting to the signaling server"))??;
        Ok(Self { ws })
    }

    /// Sends `join` and waits for `welcome` (or the server's `error`); an unknown
    /// room is created.
    pub async fn join(
        &mut self,
        room: RoomCode,
        name: &str,
        secret: Option<&str>,
    ) -> NetResult<Welcome> {
        self.join_room(room, name, secret, true).await
    }

    /// Like [`SignalingClient::join`]; with `create` false an unknown room is refused
    /// (`room-not-found`) instead of created. A `welcome` of another protocol version
    /// is [`NetError::Version`].
    pub async fn join_room(
        &mut self,
        room: RoomCode,
        name: &str,
        secret: Option<&str>,
        create: bool,
    ) -> NetResult<Welcome> {
        self.send(&ClientToServer::Join {
            room,
            name: name.to_owned(),
            secret: secret.map(str::to_owned),
            create,
        })
        .await?;
        let answer = tokio::time::timeout(JOIN_TIMEOUT, self.recv())
            .await
            .map_err(|_| NetError::Timeout("waiting for welcome"))??;
        match answer {
            ServerToClient::Welcome { version, .. } if version != PROTOCOL_VERSION => {
                Err(NetError::Version {
                    server: version,
                    ours: PROTOCOL_VERSION,
                })
            }
            ServerToClient::Welcome {
                room,
                you,
                peers,
                host,
                ..
            } => Ok(Welcome {
                room,
                you,
                peers,
                host,
            }),
            ServerToClient::Error { code, message } => Err(NetError::Server { code, message }),
            other => Err(NetError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &ClientToServer) -> NetResult<()> {
        let text = serde_json::to_string(msg)?;
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// Receives the next server message; [`NetError::Closed`] when the server closed.
    pub async fn recv(&mut self) -> NetResult<ServerToClient> {
        loop {
            match self.ws.next().await {
                None => return Err(NetError::Closed),
                Some(Err(err)) => return Err(err.into()),
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(text.as_str())?),
                Some(Ok(Message::Close(_))) => return Err(NetError::Closed),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Closes the connection politely (`leave`, then a close frame).
    pub async fn close(mut self) {
        let _ = self.send(&ClientToServer::Leave).await;
        let _ = self.ws.close(None).await;
    }

    /// Moves the connection into a tokio task; see [`SignalingTask`].
    pub fn spawn(self) -> SignalingTask {
        let (out_tx, out_rx) = mpsc::channel(SIGNALING_OUTBOX_CAPACITY);
        let (in_tx, in_rx) = mpsc::channel(SIGNALING_INBOX_CAPACITY);
        let task = tokio::spawn(run(self, out_rx, in_tx));
        SignalingTask {
            outbox: out_tx,
            inbox: in_rx,
            task,
        }
    }
}

/// A joined signaling connection running in its own task. Dropping `outbox` makes
/// the task send `leave` and close; when the server closes, `inbox` ends.
pub struct SignalingTask {
    /// Messages to the server.
    pub outbox: mpsc::Sender<ClientToServer>,
    /// Messages from the server (`pong`s are filtered out).
    pub inbox: mpsc::Receiver<ServerToClient>,
    /// The task; it ends when either side closes.
    pub task: JoinHandle<()>,
}

async fn run(
    mut client: SignalingClient,
    mut outbox: mpsc::Receiver<ClientToServer>,
    inbox: mpsc::Sender<ServerToClient>,
) {
    let mut keepalive = tokio::time::interval(KEEPALIVE_INTERVAL);
    keepalive.reset();
    loop {
        tokio::select! {
            msg = outbox.recv() => match msg {
                Some(msg) => {
                    if let Err(err) = client.send(&msg).await {
                        warn!(%err, "signaling send failed");
                        break;
                    }
                }
                None => {
                    client.close().await;
                    return;
                }
            },
            incoming = client.recv() => match incoming {
                Ok(ServerToClient::Pong) => {}
                Ok(msg) => {
                    if inbox.send(msg).await.is_err() {
                        client.close().await;
                        return;
                    }
                }
                Err(NetError::Json(err)) => warn!(%err, "ignoring a malformed server message"),
                Err(err) => {
                    debug!(%err, "signaling connection ended");
                    break;
                }
            },
            _ = keepalive.tick() => {
                if client.send(&ClientToServer::Ping).await.is_err() {
                    break;
                }
            }
        }
    }
}
