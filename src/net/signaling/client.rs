//! Async signaling client: one WebSocket to the server, typed messages both ways.
//!
//! [`SignalingClient::connect`] + [`SignalingClient::join`] give a joined client;
//! [`SignalingClient::spawn`] then moves it into a tokio task that keeps the connection
//! alive (a `ping` every [`KEEPALIVE_INTERVAL`]) and talks to the rest of the program
//! through two bounded tokio channels.
//!
//! [`SignalingClient::spawn_rejoining`] also survives the server going away: the task
//! reconnects with backoff ([`reconnect_delay`]), rejoins the same room asking for
//! its old id (`join` with `resume`), and hands the new `welcome` to the program
//! through the inbox. Meanwhile what the program sends is dropped (signals for a
//! server that is gone are stale), so the peer connections keep running untouched.
//!
//! `ws://` runs over plain TCP, `wss://` over TLS ([`super::tls::client_tls`]: the
//! system's roots plus an optional CA file). Failures say their cause: connection
//! refused, the TLS error, the HTTP status of a refused upgrade, or the reason in the
//! server's close frame.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{debug, info, warn};

use crate::net::error::{NetError, NetResult};
use crate::net::protocol::{
    ClientToServer, ErrorCode, PROTOCOL_VERSION, PeerId, PeerInfo, RoomCode, ServerToClient,
};
use crate::net::signaling::tls::{BoxedIo, client_tls};

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

/// First wait before reconnecting to a signaling server that went away.
pub const RECONNECT_FIRST_DELAY: Duration = Duration::from_millis(500);
/// Longest wait between two reconnection tries (the delay doubles up to it).
pub const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(8);

/// The wait before reconnection try number `failures` + 1 (`failures` tries having
/// failed since the connection dropped): [`RECONNECT_FIRST_DELAY`] doubled per
/// failure up to [`RECONNECT_MAX_DELAY`], then scaled by 0.75 to 1.25 from `jitter`
/// (0 to 1), so that the clients of a restarted server do not all come back at
/// once.
pub fn reconnect_delay(failures: u32, jitter: f64) -> Duration {
    let doubled = RECONNECT_FIRST_DELAY.saturating_mul(1 << failures.min(16));
    doubled
        .min(RECONNECT_MAX_DELAY)
        .mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// What a [`SignalingTask`] needs to rejoin its room after the server went away.
#[derive(Clone, Debug)]
pub struct Rejoin {
    /// The server's URL.
    pub url: String,
    /// A CA file to trust for `wss://`.
    pub ca: Option<PathBuf>,
    /// The room.
    pub room: RoomCode,
    /// Our display name.
    pub name: String,
    /// The server's secret.
    pub secret: Option<String>,
    /// Our id, asked for again (`resume`).
    pub me: PeerId,
}

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
    ws: WebSocketStream<BoxedIo>,
}

/// Where to connect, read from a `ws://` or `wss://` URL.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    tls: bool,
}

fn parse_target(url: &str) -> NetResult<Target> {
    let bad = |reason: &str| NetError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: tungstenite::http::Uri = url
        .parse()
        .map_err(|e: tungstenite::http::uri::InvalidUri| bad(&e.to_string()))?;
    let tls = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err(bad("the scheme must be ws:// or wss://")),
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    // An IPv6 literal comes bracketed.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(Target { host, port, tls })
}

/// Words for a failed TLS handshake, with a hint where the cause is likely elsewhere.
fn tls_failure(err: &std::io::Error) -> String {
    let text = err.to_string();
    let hint = match err.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
            " (the server closed the connection during the TLS handshake: does it \
             serve wss://, i.e. was it started with --tls-cert?)"
        }
        _ if text.contains("UnknownIssuer") => {
            " (the server's certificate is not signed by a trusted authority: pass the \
             CA's certificate with --ca FILE)"
        }
        _ if text.contains("NotValidForName") => {
            " (the certificate does not name this host: connect with the name it was \
             issued for)"
        }
        _ => "",
    };
    format!("{text}{hint}")
}

/// The error for a failed WebSocket upgrade: the HTTP status and body when the server
/// answered with one, and a hint for a TLS server reached with `ws://`.
fn upgrade_failure(err: tungstenite::Error, url: &str, tls: bool) -> NetError {
    match err {
        tungstenite::Error::Http(response) => {
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .map(|b| b.trim().to_owned())
                .unwrap_or_default();
            NetError::Http {
                status: response.status().as_u16(),
                detail: if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                },
            }
        }
        tungstenite::Error::HttpFormat(_) | tungstenite::Error::Protocol(_) if !tls => {
            NetError::Url {
                url: url.to_owned(),
                reason: format!(
                    "the server's answer is not HTTP ({err}); if it serves TLS, use wss://"
                ),
            }
        }
        other => NetError::WebSocket(other),
    }
}

impl SignalingClient {
    /// Opens a WebSocket to `url` (`ws://host:port` or `wss://host:port`), trusting
    /// the system's root certificates for `wss://`.
    pub async fn connect(url: &str) -> NetResult<Self> {
        Self::connect_with_ca(url, None).await
    }

    /// Like [`SignalingClient::connect`], also trusting the certificates in the PEM
    /// file `ca` (a private CA, or a self-signed server certificate).
    pub async fn connect_with_ca(url: &str, ca: Option<&Path>) -> NetResult<Self> {
        let target = parse_target(url)?;
        let request = url.into_client_request()?;
        let tls = if target.tls {
            Some(client_tls(ca)?)
        } else {
            None
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_SERVER_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_SERVER_MESSAGE_BYTES));
        let connecting = async {
            let tcp = TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|source| NetError::Connect {
                    url: url.to_owned(),
                    source,
                })?;
            let _ = tcp.set_nodelay(true);
            let stream: BoxedIo = match tls {
                None => Box::new(tcp),
                Some(tls) => {
                    let name =
                        ServerName::try_from(target.host.clone()).map_err(|e| NetError::Url {
                            url: url.to_owned(),
                            reason: e.to_string(),
                        })?;
                    let stream = tokio_rustls::TlsConnector::from(tls)
                        .connect(name, tcp)
                        .await
                        .map_err(|e| NetError::Tls {
                            url: url.to_owned(),
                            reason: tls_failure(&e),
                        })?;
                    Box::new(stream)
                }
            };
            tokio_tungstenite::client_async_with_config(request, stream, Some(config))
                .await
                .map_err(|e| upgrade_failure(e, url, target.tls))
        };
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
        self.send_join(ClientToServer::Join {
            room,
            name: name.to_owned(),
            secret: secret.map(str::to_owned),
            create,
            resume: None,
        })
        .await
    }

    /// Rejoins `rejoin`'s room (creating it again where the server restarted),
    /// asking for the old id.
    pub async fn rejoin(&mut self, rejoin: &Rejoin) -> NetResult<Welcome> {
        self.send_join(ClientToServer::Join {
            room: rejoin.room,
            name: rejoin.name.clone(),
            secret: rejoin.secret.clone(),
            create: true,
            resume: Some(rejoin.me),
        })
        .await
    }

    /// Sends a `join` and waits for the answer.
    async fn send_join(&mut self, join: ClientToServer) -> NetResult<Welcome> {
        self.send(&join).await?;
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

    /// Receives the next server message; [`NetError::ClosedWith`] (the server's
    /// reason) or [`NetError::Closed`] when the server closed.
    pub async fn recv(&mut self) -> NetResult<ServerToClient> {
        loop {
            match self.ws.next().await {
                None => return Err(NetError::Closed),
                Some(Err(err)) => return Err(err.into()),
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(text.as_str())?),
                Some(Ok(Message::Close(Some(frame)))) if !frame.reason.is_empty() => {
                    return Err(NetError::ClosedWith(format!(
                        "{} ({})",
                        frame.reason,
                        u16::from(frame.code)
                    )));
                }
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
        self.spawn_with(None)
    }

    /// Like [`SignalingClient::spawn`], and when the connection drops (not when the
    /// server ended it with a fatal error such as `removed`), the task reconnects
    /// and rejoins; each rejoin's `welcome` comes through the inbox.
    pub fn spawn_rejoining(self, rejoin: Rejoin) -> SignalingTask {
        self.spawn_with(Some(rejoin))
    }

    fn spawn_with(self, rejoin: Option<Rejoin>) -> SignalingTask {
        let (out_tx, out_rx) = mpsc::channel(SIGNALING_OUTBOX_CAPACITY);
        let (in_tx, in_rx) = mpsc::channel(SIGNALING_INBOX_CAPACITY);
        let (status_tx, status_rx) = mpsc::channel(SIGNALING_STATUS_CAPACITY);
        let task = tokio::spawn(run(self, rejoin, out_rx, in_tx, status_tx));
        SignalingTask {
            outbox: out_tx,
            inbox: in_rx,
            status: status_rx,
            task,
        }
    }
}

/// Pending [`SignalingStatus`] changes at most (the newest are dropped when full:
/// the room reads them as they come).
pub const SIGNALING_STATUS_CAPACITY: usize = 4;

/// What a rejoining task says about its connection, beside the server's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingStatus {
    /// The connection dropped; the task is reconnecting with backoff. The room's
    /// peer connections go on; nobody new can join meanwhile.
    Reconnecting,
}

/// A joined signaling connection running in its own task. Dropping `outbox` makes
/// the task send `leave` and close; when the server closes (and the task does not
/// rejoin, or gives up rejoining), `inbox` ends.
pub struct SignalingTask {
    /// Messages to the server.
    pub outbox: mpsc::Sender<ClientToServer>,
    /// Messages from the server (`pong`s are filtered out); a rejoin's `welcome`
    /// says the connection is back.
    pub inbox: mpsc::Receiver<ServerToClient>,
    /// The connection dropped and is being made again (only with
    /// [`SignalingClient::spawn_rejoining`]).
    pub status: mpsc::Receiver<SignalingStatus>,
    /// The task; it ends when either side closes.
    pub task: JoinHandle<()>,
}

/// How one connection's loop in [`run`] ended.
enum Ended {
    /// The program is done with signaling (the task has left politely).
    Program,
    /// The connection dropped; rejoining may help.
    Dropped,
    /// The server ended it for a reason rejoining would not change.
    Refused,
}

async fn run(
    mut client: SignalingClient,
    mut rejoin: Option<Rejoin>,
    mut outbox: mpsc::Receiver<ClientToServer>,
    inbox: mpsc::Sender<ServerToClient>,
    status: mpsc::Sender<SignalingStatus>,
) {
    loop {
        match serve_connection(client, &mut outbox, &inbox).await {
            Ended::Program | Ended::Refused => return,
            Ended::Dropped => {}
        }
        let Some(again) = rejoin.as_mut() else {
            return;
        };
        warn!("signaling connection lost; rejoining with backoff");
        if status.try_send(SignalingStatus::Reconnecting).is_err() {
            debug!("signaling status not taken (full or no reader)");
        }
        let Some((next, welcome)) = reconnect(again, &mut outbox).await else {
            return;
        };
        info!(room = %welcome.room, you = %welcome.you, peers = welcome.peers.len(), "rejoined the room");
        let message = ServerToClient::Welcome {
            version: PROTOCOL_VERSION,
            room: welcome.room,
            you: welcome.you,
            peers: welcome.peers,
            host: welcome.host,
        };
        if inbox.send(message).await.is_err() {
            next.close().await;
            return;
        }
        client = next;
    }
}

/// Runs one connection until it ends.
async fn serve_connection(
    mut client: SignalingClient,
    outbox: &mut mpsc::Receiver<ClientToServer>,
    inbox: &mpsc::Sender<ServerToClient>,
) -> Ended {
    let mut keepalive = tokio::time::interval(KEEPALIVE_INTERVAL);
    keepalive.reset();
    let mut refused = false;
    loop {
        tokio::select! {
            msg = outbox.recv() => match msg {
                // Leaving ends signaling for good (no rejoin after it).
                Some(ClientToServer::Leave) | None => {
                    client.close().await;
                    return Ended::Program;
                }
                Some(msg) => {
                    if let Err(err) = client.send(&msg).await {
                        warn!(%err, "signaling send failed");
                        break;
                    }
                }
            },
            incoming = client.recv() => match incoming {
                Ok(ServerToClient::Pong) => {}
                Ok(msg) => {
                    refused |= matches!(&msg, ServerToClient::Error { code, .. } if code.is_fatal());
                    if inbox.send(msg).await.is_err() {
                        client.close().await;
                        return Ended::Program;
                    }
                }
                Err(NetError::Json(err)) => warn!(%err, "ignoring a malformed server message"),
                Err(NetError::Closed) => {
                    debug!("signaling connection closed");
                    break;
                }
                Err(err @ NetError::ClosedWith(_)) => {
                    warn!(%err, "signaling connection ended by the server");
                    refused = true;
                    break;
                }
                Err(err) => {
                    warn!(%err, "signaling connection ended");
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
    if refused {
        Ended::Refused
    } else {
        Ended::Dropped
    }
}

/// Reconnects and rejoins under our old id with backoff, dropping what the program
/// sends meanwhile;
/// `None` when the program is done or the server refuses for good (a wrong secret,
/// another protocol version, a locked or full room).
async fn reconnect(
    rejoin: &Rejoin,
    outbox: &mut mpsc::Receiver<ClientToServer>,
) -> Option<(SignalingClient, Welcome)> {
    let mut failures = 0;
    loop {
        let wait = reconnect_delay(failures, rand::random::<f64>());
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        let attempt = async {
            (&mut sleep).await;
            let mut client =
                SignalingClient::connect_with_ca(&rejoin.url, rejoin.ca.as_deref()).await?;
            let welcome = client.rejoin(rejoin).await?;
            Ok::<_, NetError>((client, welcome))
        };
        tokio::pin!(attempt);
        let result = loop {
            tokio::select! {
                result = &mut attempt => break result,
                msg = outbox.recv() => match msg {
                    Some(msg) => debug!(?msg, "signaling down; message dropped"),
                    None => return None,
                },
            }
        };
        match result {
            Ok((client, welcome)) if welcome.you == rejoin.me => return Some((client, welcome)),
            Ok((client, welcome)) => {
                // The server still holds our old connection (it has not noticed
                // the drop yet): leave, and ask again once it has let the old one go.
                failures += 1;
                debug!(given = %welcome.you, failures, "our id is still taken; trying again");
                client.close().await;
            }
            Err(NetError::Server { code, message }) if code != ErrorCode::TooManyJoins => {
                warn!(%code, message, "the server refused the rejoin; signaling stays down");
                return None;
            }
            Err(err @ NetError::Version { .. }) => {
                warn!(%err, "signaling stays down");
                return None;
            }
            Err(err) => {
                failures += 1;
                debug!(%err, failures, "rejoin failed; trying again");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_double_from_half_a_second_to_eight_with_a_quarter_of_jitter() {
        let middle: Vec<u128> = (0..7)
            .map(|failures| reconnect_delay(failures, 0.5).as_millis())
            .collect();
        assert_eq!(middle, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(reconnect_delay(0, 0.0), Duration::from_millis(375));
        assert_eq!(reconnect_delay(0, 1.0), Duration::from_millis(625));
        assert_eq!(reconnect_delay(40, 1.0), Duration::from_secs(10));
        assert_eq!(reconnect_delay(3, 7.0), reconnect_delay(3, 1.0));
    }

    #[test]
    fn urls_give_host_port_and_scheme() {
        assert_eq!(
            parse_target("ws://127.0.0.1:9470").expect("valid"),
            Target {
                host: "127.0.0.1".into(),
                port: 9470,
                tls: false
            }
        );
        assert_eq!(
            parse_target("wss://example.org/room").expect("valid"),
            Target {
                host: "example.org".into(),
                port: 443,
                tls: true
            }
        );
        assert_eq!(parse_target("wss://[::1]:8443").expect("valid").host, "::1");
        for bad in ["http://x:1", "127.0.0.1:9470", "ws://", "not a url"] {
            let err = parse_target(bad).expect_err("refused");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn a_refused_upgrade_reports_status_and_body() {
        let response = tungstenite::http::Response::builder()
            .status(503)
            .body(Some(b"the signaling server is full".to_vec()))
            .expect("response");
        let err = upgrade_failure(
            tungstenite::Error::Http(Box::new(response)),
            "ws://x:1",
            false,
        );
        assert_eq!(
            err.to_string(),
            "the signaling server refused the connection: HTTP 503: the signaling server is full"
        );
    }
}
