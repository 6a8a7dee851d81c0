//! The signaling server: WebSocket + JSON rooms that relay WebRTC signals.
//!
//! [`serve`] accepts connections on a bound [`TcpListener`] until the future is
//! dropped. Each connection is one tokio task that owns its socket; rooms live in one
//! shared [`Hub`] behind a `std` mutex that is never held across an `.await`. With
//! [`ServerConfig::tls`] the server speaks `wss://` itself (rustls); a plain-HTTP
//! client at such a port is answered `400` in clear text, saying to use `wss://`.
//!
//! Limits (see [`ServerConfig`]): room capacity, WebSocket message and frame size,
//! a per-connection token-bucket rate limit, a per-address join rate
//! ([`JoinRate`]), an idle timeout, a write timeout, a byte-bounded outbox per
//! connection, a connection cap (connections over it get HTTP 503 before the
//! WebSocket upgrade) and an optional shared secret, compared in constant time (its
//! SHA-256 digest; neither its content nor its length shows in the timing). A
//! misbehaving connection only ever receives an `error` and, for fatal codes, is
//! closed with that code and message as the close frame's reason; other
//! connections and rooms are unaffected.
//!
//! Each joined connection has an [`Outbox`] that the room writes into. The room
//! holds the only sender of that outbox, so removing a member from its room closes
//! the connection's task. Host = oldest member; when the host leaves, the next
//! oldest becomes host, announced in `peer-left`.
//!
//! # Memory per connection
//! Bounded, whatever a client does: the outbox holds at most
//! [`ServerConfig::outbox_bytes`] (256 KiB by default; each message counts its JSON
//! length plus [`MESSAGE_OVERHEAD_BYTES`](crate::net::signaling::outbox::MESSAGE_OVERHEAD_BYTES));
//! the WebSocket keeps one incoming message of at most
//! [`ServerConfig::max_message_bytes`] (64 KiB) plus a 16 KiB read buffer, and a
//! write buffer of at most 16 KiB plus two messages. That is about 0.5 MiB per
//! connection at the defaults (TLS adds rustls's buffers, some tens of KiB), plus the
//! kernel's socket buffers. A client that stops reading is
//! dropped as soon as its outbox overflows, and in any case when one write to it has
//! been blocked for [`ServerConfig::write_timeout`] (5 s by default).
//!
//! No Bevy here: this file can move to its own crate unchanged.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::net::protocol::{
    ClientToServer, ErrorCode, PROTOCOL_VERSION, PeerId, PeerInfo, RoomCode, ServerToClient,
    SignalPayload, validate_name,
};
use crate::net::signaling::limit::{JoinLimiter, TokenBucket};
pub use crate::net::signaling::limit::{JoinRate, RateLimit};
use crate::net::signaling::outbox::{Outbox, OutboxEnd, OutboxReceiver, encode, outbox};
use crate::net::signaling::tls::{BoxedIo, TLS_HANDSHAKE_BYTE};

/// Default of [`ServerConfig::outbox_bytes`]: room for a few of the largest
/// messages, or a full 8-peer negotiation many times over.
pub const DEFAULT_OUTBOX_BYTES: usize = 256 * 1024;

/// Default of [`ServerConfig::write_timeout`].
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The WebSocket's read buffer and its write buffer threshold, per connection.
const SOCKET_BUFFER_BYTES: usize = 16 * 1024;

/// How long a fatally-failed connection is drained before the socket closes, so the
/// final `error` reaches the client instead of being lost to a TCP reset.
const LINGER: Duration = Duration::from_millis(500);

/// Most connections being refused (HTTP 503) at once; beyond that an over-cap
/// connection is closed without an answer.
const MAX_REFUSALS: usize = 256;

/// Longest a refused connection may take over its TLS handshake.
const REFUSAL_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the signaling server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Most peers in one room (default 8).
    pub room_capacity: usize,
    /// Largest WebSocket message and frame, in bytes (default 64 KiB).
    pub max_message_bytes: usize,
    /// Per-connection message rate limit.
    pub rate_limit: RateLimit,
    /// A connection that sends nothing (no message, no ping) for this long is closed
    /// (default 60 s). Also bounds the TLS and WebSocket handshakes.
    pub idle_timeout: Duration,
    /// Shared secret every `join` must carry, if set.
    pub secret: Option<String>,
    /// Most simultaneous connections (default 4096); more get HTTP 503.
    pub max_connections: usize,
    /// Most bytes queued for one connection (default [`DEFAULT_OUTBOX_BYTES`]); a
    /// connection whose queue would grow past it is dropped as `slow-consumer`.
    pub outbox_bytes: usize,
    /// Longest one write to a client may block (default [`DEFAULT_WRITE_TIMEOUT`]);
    /// then the client is taken to have stopped reading and is disconnected.
    pub write_timeout: Duration,
    /// `join`s allowed per client address (IPv6: per /64); `None`: no limit.
    /// Default: 20 per 10 s.
    pub join_rate: Option<JoinRate>,
    /// Serve `wss://` with this TLS configuration (see
    /// [`server_tls`](crate::net::signaling::tls::server_tls)); `None`: plain `ws://`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            room_capacity: 8,
            max_message_bytes: 64 * 1024,
            rate_limit: RateLimit::default(),
            idle_timeout: Duration::from_secs(60),
            secret: None,
            max_connections: 4096,
            outbox_bytes: DEFAULT_OUTBOX_BYTES,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            join_rate: Some(JoinRate::default()),
            tls: None,
        }
    }
}

impl ServerConfig {
    fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message_bytes))
            .max_frame_size(Some(self.max_message_bytes))
            .read_buffer_size(SOCKET_BUFFER_BYTES)
            .write_buffer_size(SOCKET_BUFFER_BYTES)
            // One message being written and the next one fit; more is a stuck client.
            .max_write_buffer_size(SOCKET_BUFFER_BYTES + 2 * self.max_message_bytes + 1024)
    }
}

/// The server's shared secret, kept only as its SHA-256 digest. A candidate is
/// hashed and the two digests compared without an early exit, so the time taken
/// depends on neither the secret's content nor its length (only on the length of
/// the candidate, which its sender knows anyway).
struct SecretCheck {
    digest: [u8; 32],
}

impl SecretCheck {
    fn new(secret: &str) -> Self {
        Self {
            digest: sha256(secret.as_bytes()),
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        let other = sha256(candidate.as_bytes());
        let diff = self
            .digest
            .iter()
            .zip(&other)
            .fold(0u8, |acc, (x, y)| acc | (x ^ y));
        std::hint::black_box(diff) == 0
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// What every connection task shares.
struct Shared {
    config: ServerConfig,
    hub: Hub,
    secret: Option<SecretCheck>,
    joins: Option<Mutex<JoinLimiter>>,
}

/// Accepts WebSocket clients on `listener` and serves rooms until the returned
/// future is dropped (or accepting fails persistently).
pub async fn serve(listener: TcpListener, config: ServerConfig) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let shared = Arc::new(Shared {
        secret: config.secret.as_deref().map(SecretCheck::new),
        joins: config
            .join_rate
            .map(|rate| Mutex::new(JoinLimiter::new(rate))),
        hub: Hub::default(),
        config,
    });
    if let Ok(addr) = listener.local_addr() {
        let scheme = if shared.config.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        info!(%addr, scheme, "signaling server listening");
    }
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and similar: back off instead of spinning.
                warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Reap finished connection tasks so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let span = info_span!("conn", %addr);
        if let Ok(permit) = permits.clone().try_acquire_owned() {
            tasks.spawn(
                async move {
                    let _permit = permit;
                    run_connection(tcp, addr, shared).await;
                }
                .instrument(span),
            );
        } else if let Ok(permit) = refusals.clone().try_acquire_owned() {
            warn!(%addr, "connection refused: server full");
            tasks.spawn(
                async move {
                    let _permit = permit;
                    refuse_full(tcp, &shared).await;
                }
                .instrument(span),
            );
        } else {
            debug!(%addr, "connection dropped: server full");
        }
    }
}

/// Binds `addr` and serves; a convenience for `samespace serve`.
pub async fn bind_and_serve(addr: SocketAddr, config: ServerConfig) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve(listener, config).await
}

/// One member of a room.
struct Member {
    id: PeerId,
    name: String,
    outbox: Outbox,
}

/// A room: members in join order, so `members[0]` is the host.
#[derive(Default)]
struct Room {
    members: Vec<Member>,
    /// The host locked it: joins are refused with `room-locked`.
    locked: bool,
}

impl Room {
    fn host(&self) -> Option<PeerId> {
        self.members.first().map(|m| m.id)
    }
}

/// All rooms of one server.
#[derive(Default)]
struct Hub {
    state: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    rooms: HashMap<RoomCode, Room>,
    next_id: u64,
}

/// Why a join was refused.
struct Refusal(ErrorCode, String);

/// What the host does to its room.
#[derive(Clone, Copy, Debug)]
enum RoomControl {
    /// Lock (`true`) or unlock it.
    Lock(bool),
    /// Remove this member.
    Remove(PeerId),
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding the lock cannot leave rooms half-updated in a way that
        // matters more than losing the server, so recover the data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a member to `room` (created if new). It gets the id `resume` asks for
    /// when no member of any room holds it, otherwise the next free one.
    fn join(
        &self,
        room: RoomCode,
        name: String,
        capacity: usize,
        outbox: Outbox,
        resume: Option<PeerId>,
    ) -> Result<(PeerId, Vec<PeerInfo>, PeerId), Refusal> {
        let mut state = self.lock();
        if state.rooms.get(&room).is_some_and(|r| r.locked) {
            return Err(Refusal(
                ErrorCode::RoomLocked,
                format!("room {room} is locked by its host"),
            ));
        }
        let occupancy = state.rooms.get(&room).map_or(0, |r| r.members.len());
        if occupancy >= capacity {
            return Err(Refusal(
                ErrorCode::RoomFull,
                format!("room {room} is full ({capacity} peers)"),
            ));
        }
        let free = |id: PeerId| {
            id.0 > 0
                && !state
                    .rooms
                    .values()
                    .any(|r| r.members.iter().any(|m| m.id == id))
        };
        let id = match resume.filter(|&id| free(id)) {
            Some(id) => {
                // Later ids stay above it, so no one else is given it.
                state.next_id = state.next_id.max(id.0);
                id
            }
            None => {
                state.next_id += 1;
                PeerId(state.next_id)
            }
        };
        let members = &mut state.rooms.entry(room).or_default().members;
        let peers: Vec<PeerInfo> = members
            .iter()
            .map(|m| PeerInfo {
                id: m.id,
                name: m.name.clone(),
            })
            .collect();
        let host = members.first().map_or(id, |m| m.id);
        let announcement = encode(&ServerToClient::PeerJoined {
            id,
            name: name.clone(),
        });
        let slow: Vec<PeerId> = members
            .iter()
            .filter(|member| !member.outbox.push_text(announcement.clone()))
            .map(|member| member.id)
            .collect();
        members.push(Member { id, name, outbox });
        remove_all(&mut state, room, slow);
        Ok((id, peers, host))
    }

    fn leave(&self, room: RoomCode, id: PeerId) {
        remove_all(&mut self.lock(), room, vec![id]);
    }

    /// The host's room controls: `lock`/`unlock` (told to every member) and
    /// `remove`. Returns the error to send back to the sender, if any.
    fn control(
        &self,
        room_code: RoomCode,
        by: PeerId,
        control: RoomControl,
    ) -> Option<ServerToClient> {
        let mut state = self.lock();
        let room = state.rooms.get_mut(&room_code)?;
        if room.host() != Some(by) {
            return Some(ServerToClient::error(
                ErrorCode::NotHost,
                "only the room's host can lock it or remove people",
            ));
        }
        match control {
            RoomControl::Lock(locked) => {
                room.locked = locked;
                info!(room = %room_code, locked, "room lock changed");
                let announcement = encode(&ServerToClient::RoomLock { locked });
                let slow: Vec<PeerId> = room
                    .members
                    .iter()
                    .filter(|member| !member.outbox.push_text(announcement.clone()))
                    .map(|member| member.id)
                    .collect();
                remove_all(&mut state, room_code, slow);
            }
            RoomControl::Remove(id) if id == by => {
                return Some(ServerToClient::error(
                    ErrorCode::BadMessage,
                    "the host leaves with leave, not remove",
                ));
            }
            RoomControl::Remove(id) => {
                let Some(victim) = room.members.iter().find(|m| m.id == id) else {
                    return Some(ServerToClient::error(
                        ErrorCode::UnknownPeer,
                        format!("no peer {} in room {room_code}", id.0),
                    ));
                };
                info!(room = %room_code, peer = %id, "removed by the host");
                victim.outbox.mark_removed();
                remove_all(&mut state, room_code, vec![id]);
            }
        }
        None
    }

    /// Relays a signal; returns the error to send back to the sender, if any.
    fn relay(
        &self,
        room: RoomCode,
        from: PeerId,
        to: PeerId,
        attempt: u32,
        payload: SignalPayload,
    ) -> Option<ServerToClient> {
        let mut state = self.lock();
        let Some(target) = state
            .rooms
            .get(&room)
            .and_then(|r| r.members.iter().find(|m| m.id == to))
        else {
            return Some(ServerToClient::error(
                ErrorCode::UnknownPeer,
                format!("no peer {} in room {room}", to.0),
            ));
        };
        let delivered = target.outbox.push(&ServerToClient::Signal {
            from,
            attempt,
            payload,
        });
        if !delivered {
            remove_all(&mut state, room, vec![to]);
        }
        None
    }
}

/// Removes `victims` from `room`, and with them anyone who turns out to be a slow
/// consumer while their departure is announced.
fn remove_all(state: &mut HubState, room: RoomCode, mut victims: Vec<PeerId>) {
    while let Some(victim) = victims.pop() {
        victims.extend(remove_member(state, room, victim));
    }
}

/// Removes `id` from `room`, announces `peer-left` to the rest, deletes an empty room.
/// Returns members that turned out to be slow consumers while announcing.
fn remove_member(state: &mut HubState, room_code: RoomCode, id: PeerId) -> Vec<PeerId> {
    let Some(room) = state.rooms.get_mut(&room_code) else {
        return Vec::new();
    };
    let Some(index) = room.members.iter().position(|m| m.id == id) else {
        return Vec::new();
    };
    let removed = room.members.remove(index);
    if removed.outbox.overflowed() {
        warn!(room = %room_code, peer = %id, "slow consumer dropped from its room");
    }
    // Dropping its outbox ends its connection task.
    drop(removed);
    let Some(host) = room.host() else {
        state.rooms.remove(&room_code);
        debug!(room = %room_code, "room closed");
        return Vec::new();
    };
    let announcement = encode(&ServerToClient::PeerLeft { id, host });
    room.members
        .iter()
        .filter(|member| !member.outbox.push_text(announcement.clone()))
        .map(|member| member.id)
        .collect()
}

/// What the read loop decided after one incoming frame.
enum Step {
    Continue,
    /// Close the connection after sending this (fatal) error, if any.
    Close(Option<ServerToClient>),
}

/// How a connection ends.
enum End {
    /// The client closed, or asked to leave: answer with a close frame.
    Quiet,
    /// A fatal error: send it, then a close frame giving it as the reason.
    Error(ServerToClient),
    /// The socket failed: nothing more can be written.
    Gone,
    /// A write was blocked for the write timeout: the client stopped reading.
    Stalled,
}

/// Per-connection state.
struct Connection {
    shared: Arc<Shared>,
    ip: IpAddr,
    joined: Option<(RoomCode, PeerId)>,
    /// The receiving end of the outbox a successful join just gave the room, for the
    /// connection loop to take.
    joined_outbox: Option<OutboxReceiver>,
}

impl Connection {
    /// Handles one text message; returns replies for this client and what to do next.
    fn handle_text(&mut self, text: &str, replies: &mut Vec<ServerToClient>) -> Step {
        let msg: ClientToServer = match serde_json::from_str(text) {
            Ok(msg) => msg,
            Err(err) => {
                replies.push(ServerToClient::error(
                    ErrorCode::BadMessage,
                    format!("not a valid message: {err}"),
                ));
                return Step::Continue;
            }
        };
        match msg {
            ClientToServer::Ping => replies.push(ServerToClient::Pong),
            ClientToServer::Leave => return Step::Close(None),
            ClientToServer::Join {
                room,
                name,
                secret,
                create,
                resume,
            } => {
                let join = JoinRequest {
                    room,
                    name: &name,
                    secret: secret.as_deref(),
                    create,
                    resume,
                };
                return self.handle_join(join, replies);
            }
            ClientToServer::Lock => self.control(RoomControl::Lock(true), replies),
            ClientToServer::Unlock => self.control(RoomControl::Lock(false), replies),
            ClientToServer::Remove { id } => self.control(RoomControl::Remove(id), replies),
            ClientToServer::Signal {
                to,
                attempt,
                payload,
            } => match self.joined {
                None => replies.push(ServerToClient::error(
                    ErrorCode::NotJoined,
                    "join a room before signaling",
                )),
                Some((room, me)) => {
                    if let Some(err) = self.shared.hub.relay(room, me, to, attempt, payload) {
                        replies.push(err);
                    }
                }
            },
        }
        Step::Continue
    }

    fn control(&mut self, control: RoomControl, replies: &mut Vec<ServerToClient>) {
        match self.joined {
            None => replies.push(ServerToClient::error(
                ErrorCode::NotJoined,
                "join a room before controlling it",
            )),
            Some((room, me)) => replies.extend(self.shared.hub.control(room, me, control)),
        }
    }

    fn handle_join(&mut self, join: JoinRequest<'_>, replies: &mut Vec<ServerToClient>) -> Step {
        let JoinRequest {
            room,
            name,
            secret,
            create,
            resume,
        } = join;
        // Counted first, so neither room codes nor the secret can be tried quickly.
        if let Some(joins) = &self.shared.joins {
            let verdict = joins
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .check(self.ip, Instant::now());
            if let Err(wait) = verdict {
                warn!(ip = %self.ip, "join rate exceeded");
                let rate = self.shared.config.join_rate.unwrap_or_default();
                replies.push(ServerToClient::error(
                    ErrorCode::TooManyJoins,
                    format!(
                        "more than {} joins in {} s from your address; try again in {:.1} s",
                        rate.joins,
                        rate.window.as_secs_f64(),
                        wait.as_secs_f64()
                    ),
                ));
                return Step::Continue;
            }
        }
        if let Some(expected) = &self.shared.secret
            && !expected.matches(secret.unwrap_or(""))
        {
            return Step::Close(Some(ServerToClient::error(
                ErrorCode::Unauthorized,
                if secret.is_none() {
                    "this server needs a secret (--secret)"
                } else {
                    "wrong secret"
                },
            )));
        }
        if self.joined.is_some() {
            replies.push(ServerToClient::error(
                ErrorCode::AlreadyJoined,
                "this connection already joined a room",
            ));
            return Step::Continue;
        }
        let Some(name) = validate_name(name) else {
            replies.push(ServerToClient::error(
                ErrorCode::BadName,
                "a name has 1 to 32 characters and no control characters",
            ));
            return Step::Continue;
        };
        if !create && !self.shared.hub.lock().rooms.contains_key(&room) {
            replies.push(ServerToClient::error(
                ErrorCode::RoomNotFound,
                format!("there is no room {room}"),
            ));
            return Step::Continue;
        }
        let (outbox, receiver) = outbox(self.shared.config.outbox_bytes);
        let capacity = self.shared.config.room_capacity;
        match self
            .shared
            .hub
            .join(room, name.to_owned(), capacity, outbox, resume)
        {
            Err(Refusal(code, message)) => replies.push(ServerToClient::error(code, message)),
            Ok((you, peers, host)) => {
                let resumed = resume == Some(you);
                info!(room = %room, peer = %you, name, resumed, "peer joined");
                self.joined = Some((room, you));
                self.joined_outbox = Some(receiver);
                replies.push(ServerToClient::Welcome {
                    version: PROTOCOL_VERSION,
                    room,
                    you,
                    peers,
                    host,
                });
            }
        }
        Step::Continue
    }
}

/// The fields of a `join`.
struct JoinRequest<'a> {
    room: RoomCode,
    name: &'a str,
    secret: Option<&'a str>,
    create: bool,
    resume: Option<PeerId>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some((room, id)) = self.joined.take() {
            info!(room = %room, peer = %id, "peer left");
            self.shared.hub.leave(room, id);
        }
    }
}

/// The next message queued for a joined connection; never ready before the join.
async fn next_queued(
    receiver: &mut Option<OutboxReceiver>,
) -> Result<tungstenite::Utf8Bytes, OutboxEnd> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// Why a write did not happen.
enum WriteFailure {
    /// The socket failed.
    Broken,
    /// It did not finish within the write timeout.
    Stalled,
}

/// Writes `messages` and flushes, giving up after `limit`.
async fn write_all<S>(
    ws: &mut WebSocketStream<S>,
    messages: Vec<Message>,
    limit: Duration,
) -> Result<(), WriteFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let writing = async {
        for message in messages {
            ws.feed(message).await?;
        }
        ws.flush().await
    };
    match tokio::time::timeout(limit, writing).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => {
            debug!(%err, "websocket write failed");
            Err(WriteFailure::Broken)
        }
        Err(_) => Err(WriteFailure::Stalled),
    }
}

/// TLS under the connection when the server has it. A client that does not start
/// with a TLS handshake (plain `ws://`) gets a clear-text HTTP 400 saying so.
async fn open_stream(tcp: TcpStream, shared: &Shared) -> Option<BoxedIo> {
    let mut first = [0u8; 1];
    let Some(tls) = &shared.config.tls else {
        // A TLS client at a plain port: nothing to say that it could read; closing at
        // once lets it report the failed handshake instead of waiting.
        if matches!(tcp.peek(&mut first).await, Ok(1)) && first[0] == TLS_HANDSHAKE_BYTE {
            debug!("a TLS client at a plain ws:// server");
            return None;
        }
        return Some(Box::new(tcp));
    };
    match tcp.peek(&mut first).await {
        Ok(1) if first[0] == TLS_HANDSHAKE_BYTE => {}
        Ok(1) => {
            debug!("a plain-text client at the TLS port");
            respond(
                Box::new(tcp),
                "400 Bad Request",
                "this signaling server speaks TLS only: connect with wss://",
                shared.config.write_timeout,
            )
            .await;
            return None;
        }
        _ => return None,
    }
    match tokio_rustls::TlsAcceptor::from(tls.clone())
        .accept(tcp)
        .await
    {
        Ok(stream) => Some(Box::new(stream)),
        Err(err) => {
            debug!(%err, "TLS handshake failed");
            None
        }
    }
}

/// Answers a connection over the cap with HTTP 503 instead of upgrading it.
async fn refuse_full(tcp: TcpStream, shared: &Shared) {
    let limit = shared.config.idle_timeout.min(REFUSAL_HANDSHAKE_TIMEOUT);
    if let Ok(Some(stream)) = tokio::time::timeout(limit, open_stream(tcp, shared)).await {
        respond(
            stream,
            "503 Service Unavailable",
            "the signaling server is full (too many connections); try again later",
            shared.config.write_timeout,
        )
        .await;
    }
}

/// Sends a small HTTP response without reading the request, then lingers so that
/// the client reads it before the connection goes.
async fn respond(mut stream: BoxedIo, status: &str, body: &str, write_timeout: Duration) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let writing = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    if matches!(
        tokio::time::timeout(write_timeout, writing).await,
        Ok(Ok(()))
    ) {
        linger(&mut stream).await;
    }
}

/// Reads and discards what the client still sends, for at most [`LINGER`], so the
/// kernel does not reset the connection (which would discard our last words before
/// the client reads them).
async fn linger(stream: &mut BoxedIo) {
    let mut scratch = [0u8; 4096];
    let deadline = Instant::now() + LINGER;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read(&mut scratch)).await {
        if n == 0 {
            break;
        }
    }
}

async fn run_connection(tcp: TcpStream, addr: SocketAddr, shared: Arc<Shared>) {
    let config = &shared.config;
    let handshake = async {
        let stream = open_stream(tcp, &shared).await?;
        tokio_tungstenite::accept_async_with_config(stream, Some(config.websocket_config()))
            .await
            .map_err(|err| debug!(%err, "websocket handshake failed"))
            .ok()
    };
    let mut ws = match tokio::time::timeout(config.idle_timeout, handshake).await {
        Ok(Some(ws)) => ws,
        Ok(None) => return,
        Err(_) => {
            debug!("handshake timed out");
            return;
        }
    };
    let mut conn = Connection {
        shared: shared.clone(),
        ip: addr.ip(),
        joined: None,
        joined_outbox: None,
    };
    let mut outbox_rx: Option<OutboxReceiver> = None;
    let mut bucket = TokenBucket::new(config.rate_limit, Instant::now());
    let mut last_activity = Instant::now();
    let mut replies = Vec::new();
    let end = loop {
        let idle_deadline = last_activity + config.idle_timeout;
        tokio::select! {
            incoming = ws.next() => {
                let now = Instant::now();
                let frame = match incoming {
                    None => break End::Gone,
                    Some(Ok(frame)) => frame,
                    Some(Err(tungstenite::Error::Capacity(err))) => {
                        warn!(%err, "oversized message");
                        break End::Error(ServerToClient::error(
                            ErrorCode::TooLarge,
                            format!("message exceeds {} bytes", config.max_message_bytes),
                        ));
                    }
                    Some(Err(err)) => {
                        debug!(%err, "websocket read failed");
                        break End::Gone;
                    }
                };
                last_activity = now;
                if matches!(frame, Message::Close(_)) {
                    break End::Quiet;
                }
                if !bucket.take(now) {
                    warn!("rate limit exceeded");
                    break End::Error(ServerToClient::error(
                        ErrorCode::RateLimited,
                        format!(
                            "more than {} messages at once or {} per second",
                            config.rate_limit.burst, config.rate_limit.per_second
                        ),
                    ));
                }
                let step = match frame {
                    Message::Text(text) => conn.handle_text(text.as_str(), &mut replies),
                    Message::Binary(_) => {
                        replies.push(ServerToClient::error(
                            ErrorCode::BadMessage,
                            "binary frames are not part of the protocol; send JSON text",
                        ));
                        Step::Continue
                    }
                    // Pings are answered by tungstenite itself; pongs only count as activity.
                    _ => Step::Continue,
                };
                if let Some(receiver) = conn.joined_outbox.take() {
                    outbox_rx = Some(receiver);
                }
                if !replies.is_empty() {
                    let messages = replies.drain(..).map(|r| Message::Text(encode(&r))).collect();
                    match write_all(&mut ws, messages, config.write_timeout).await {
                        Ok(()) => {}
                        Err(WriteFailure::Broken) => break End::Gone,
                        Err(WriteFailure::Stalled) => break End::Stalled,
                    }
                }
                if let Step::Close(err) = step {
                    break err.map_or(End::Quiet, End::Error);
                }
            }
            queued = next_queued(&mut outbox_rx) => {
                let text = match queued {
                    Ok(text) => text,
                    Err(OutboxEnd::Removed) => {
                        // Out of the room already: nothing to leave on drop.
                        conn.joined = None;
                        break End::Error(ServerToClient::error(
                            ErrorCode::Removed,
                            "the host removed you from the room",
                        ));
                    }
                    // Dropped from the room as a slow consumer.
                    Err(OutboxEnd::Overflowed | OutboxEnd::Closed) => {
                        break End::Error(ServerToClient::error(
                            ErrorCode::SlowConsumer,
                            format!(
                                "dropped from the room: more than {} bytes queued for you",
                                config.outbox_bytes
                            ),
                        ));
                    }
                };
                match write_all(&mut ws, vec![Message::Text(text)], config.write_timeout).await {
                    Ok(()) => {}
                    Err(WriteFailure::Broken) => break End::Gone,
                    Err(WriteFailure::Stalled) => break End::Stalled,
                }
            }
            () = tokio::time::sleep_until(idle_deadline) => {
                debug!("idle timeout");
                break End::Error(ServerToClient::error(
                    ErrorCode::IdleTimeout,
                    format!("nothing received for {} ms", config.idle_timeout.as_millis()),
                ));
            }
        }
    };
    // Leave the room (and free the outbox) before lingering, so the others learn of
    // it at once.
    drop(conn);
    drop(outbox_rx);
    match end {
        End::Quiet => close_with(ws, None, config.write_timeout).await,
        End::Error(err) => close_with(ws, Some(err), config.write_timeout).await,
        End::Gone => {}
        End::Stalled => info!(
            "disconnected: the client stopped reading (a write was blocked for {} ms)",
            config.write_timeout.as_millis()
        ),
    }
}

/// The close frame's reason for an error: its code and message, cut to the 123
/// bytes a close frame can carry.
fn close_reason(code: ErrorCode, message: &str) -> String {
    let mut reason = format!("{code}: {message}");
    if reason.len() > 123 {
        let mut cut = 123;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    reason
}

/// Sends an optional final error and a close frame (whose reason repeats the error),
/// then lingers; gives up at once if the client does not take them within
/// `write_timeout`.
async fn close_with(
    mut ws: WebSocketStream<BoxedIo>,
    final_error: Option<ServerToClient>,
    write_timeout: Duration,
) {
    let frame = match &final_error {
        Some(ServerToClient::Error { code, message }) => CloseFrame {
            code: if *code == ErrorCode::TooLarge {
                CloseCode::Size
            } else {
                CloseCode::Policy
            },
            reason: close_reason(*code, message).into(),
        },
        _ => CloseFrame {
            code: CloseCode::Normal,
            reason: "goodbye".into(),
        },
    };
    let closing = async {
        if let Some(err) = &final_error {
            ws.feed(Message::Text(encode(err))).await?;
        }
        ws.close(Some(frame)).await
    };
    match tokio::time::timeout(write_timeout, closing).await {
        Ok(_) => linger(ws.get_mut()).await,
        Err(_) => debug!("the client did not take the close frame"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ServerToClient {
        serde_json::from_str(text).expect("a server message")
    }

    #[test]
    fn host_passes_to_the_next_oldest_member() {
        let hub = Hub::default();
        let room: RoomCode = "AAA-AAA".parse().expect("valid");
        let (tx1, _rx1) = outbox(4096);
        let (tx2, mut rx2) = outbox(4096);
        let (tx3, _rx3) = outbox(4096);
        let Ok((first, _, host1)) = hub.join(room, "a".into(), 8, tx1, None) else {
            panic!("first join refused");
        };
        assert_eq!(first, host1);
        let Ok((second, peers, host2)) = hub.join(room, "b".into(), 8, tx2, None) else {
            panic!("second join refused");
        };
        assert_eq!(peers.len(), 1);
        assert_eq!(host2, first);
        let Ok(_) = hub.join(room, "c".into(), 8, tx3, None) else {
            panic!("third join refused");
        };
        hub.leave(room, first);
        let mut saw = None;
        while let Some(text) = rx2.try_recv() {
            if let ServerToClient::PeerLeft { id, host } = parse(&text) {
                saw = Some((id, host));
            }
        }
        assert_eq!(saw, Some((first, second)));
    }

    #[test]
    fn a_resumed_id_is_granted_when_free_and_later_ids_stay_above_it() {
        let hub = Hub::default();
        let room: RoomCode = "DDD-DDD".parse().expect("valid");
        let (tx1, _rx1) = outbox(4096);
        let (tx2, _rx2) = outbox(4096);
        let (tx3, _rx3) = outbox(4096);
        let Ok((resumed, _, host)) = hub.join(room, "a".into(), 8, tx1, Some(PeerId(7))) else {
            panic!("resuming join refused");
        };
        assert_eq!((resumed, host), (PeerId(7), PeerId(7)));
        // Held already: a fresh id instead, above every id given so far.
        let Ok((taken, _, _)) = hub.join(room, "b".into(), 8, tx2, Some(PeerId(7))) else {
            panic!("second join refused");
        };
        assert_eq!(taken, PeerId(8));
        let Ok((fresh, peers, _)) = hub.join(room, "c".into(), 8, tx3, None) else {
            panic!("third join refused");
        };
        assert_eq!(fresh, PeerId(9));
        assert_eq!(peers.len(), 2);
    }

    #[test]
    fn a_full_room_refuses_and_an_empty_room_disappears() {
        let hub = Hub::default();
        let room: RoomCode = "BBB-BBB".parse().expect("valid");
        let (tx1, _rx1) = outbox(4096);
        let (tx2, _rx2) = outbox(4096);
        let Ok((first, _, _)) = hub.join(room, "a".into(), 1, tx1, None) else {
            panic!("first join refused");
        };
        assert!(matches!(
            hub.join(room, "b".into(), 1, tx2, None),
            Err(Refusal(ErrorCode::RoomFull, _))
        ));
        hub.leave(room, first);
        assert!(hub.lock().rooms.is_empty());
    }

    #[test]
    fn a_member_whose_outbox_overflows_is_dropped_and_the_room_told() {
        let hub = Hub::default();
        let room: RoomCode = "CCC-CCC".parse().expect("valid");
        let (tx1, mut rx1) = outbox(64 * 1024);
        let (tx2, rx2) = outbox(8 * 1024);
        let Ok((sender, _, _)) = hub.join(room, "a".into(), 8, tx1, None) else {
            panic!("join refused");
        };
        let Ok((reader, _, _)) = hub.join(room, "b".into(), 8, tx2, None) else {
            panic!("join refused");
        };
        let signal = SignalPayload::Sdp(crate::net::protocol::SessionDescription {
            kind: crate::net::protocol::SdpKind::Offer,
            sdp: "x".repeat(3000),
        });
        // Two 3 KB signals fit into 8 KiB, the third does not: the reader is dropped.
        for _ in 0..3 {
            assert!(hub.relay(room, sender, reader, 0, signal.clone()).is_none());
        }
        assert!(rx2.queued_bytes() <= 8 * 1024);
        let members: Vec<PeerId> = hub.lock().rooms[&room]
            .members
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(members, vec![sender]);
        let mut left = false;
        while let Some(text) = rx1.try_recv() {
            left |= matches!(parse(&text), ServerToClient::PeerLeft { id, .. } if id == reader);
        }
        assert!(left, "the room was told that the slow reader left");
        // A fourth signal finds nobody.
        assert!(matches!(
            hub.relay(room, sender, reader, 0, signal),
            Some(ServerToClient::Error {
                code: ErrorCode::UnknownPeer,
                ..
            })
        ));
    }

    #[test]
    fn the_secret_is_kept_as_a_fixed_size_digest_and_matched_exactly() {
        let check = SecretCheck::new("sesame");
        assert!(check.matches("sesame"));
        for wrong in [
            "",
            "s",
            "sesam",
            "sesame ",
            "sesamesesame",
            "Sesame",
            "sesamf",
        ] {
            assert!(!check.matches(wrong), "{wrong:?} must not match");
        }
        // What is compared has the same size for any secret, so its length cannot
        // show in the time taken.
        let long = SecretCheck::new(&"x".repeat(10_000));
        assert_eq!(long.digest.len(), check.digest.len());
        assert!(long.matches(&"x".repeat(10_000)));
        assert!(!long.matches(&"x".repeat(9_999)));
    }

    #[test]
    fn close_reasons_fit_a_close_frame_and_keep_whole_characters() {
        assert_eq!(
            close_reason(ErrorCode::RateLimited, "too fast"),
            "rate-limited: too fast"
        );
        let long = close_reason(ErrorCode::SlowConsumer, &"é".repeat(200));
        assert!(long.len() <= 123);
        assert!(long.starts_with("slow-consumer: é"));
    }
}
