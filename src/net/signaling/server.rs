//! The signaling server: WebSocket + JSON rooms that relay WebRTC signals.
//!
//! [`serve`] accepts connections on a bound [`TcpListener`] until the future is
//! dropped. Each connection is one tokio task that owns its socket; rooms live in one
//! shared [`Hub`] behind a `std` mutex that is never held across an `.await`.
//!
//! Limits (see [`ServerConfig`]): room capacity, WebSocket message and frame size,
//! a per-connection token-bucket rate limit, an idle timeout, a connection cap and an
//! optional shared secret. A misbehaving connection only ever receives an `error`
//! and, for fatal codes, is closed; other connections and rooms are unaffected.
//!
//! Each joined connection has an outbox ([`PEER_OUTBOX_CAPACITY`]) that the room
//! writes into. The room holds the only sender of that outbox, so removing a member
//! from its room closes the connection's task. Host = oldest member; when the host
//! leaves, the next oldest becomes host, announced in `peer-left`.
//!
//! No Bevy here: this file can move to its own crate unchanged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::net::protocol::{
    ClientToServer, ErrorCode, PROTOCOL_VERSION, PeerId, PeerInfo, RoomCode, ServerToClient,
    SignalPayload, validate_name,
};

/// Outbox of one joined connection. Producer: the room (relayed signals,
/// `peer-joined`/`peer-left`) from any connection task; consumer: that connection's
/// task, which writes to its socket. Full-policy: the recipient is a slow consumer and
/// is dropped from its room (it gets `error slow-consumer` and is closed), so one stuck
/// client never stalls a room.
pub const PEER_OUTBOX_CAPACITY: usize = 256;

/// How long a fatally-failed connection is drained before the socket closes, so the
/// final `error` reaches the client instead of being lost to a TCP reset.
const LINGER: Duration = Duration::from_millis(500);

/// Token-bucket rate limit for the messages of one connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Messages allowed in a burst.
    pub burst: u32,
    /// Sustained messages per second.
    pub per_second: f64,
}

impl Default for RateLimit {
    /// 100 messages at once (a full 8-peer mesh negotiation), 50 per second sustained.
    fn default() -> Self {
        Self {
            burst: 100,
            per_second: 50.0,
        }
    }
}

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
    /// (default 60 s). Also bounds the WebSocket handshake.
    pub idle_timeout: Duration,
    /// Shared secret every `join` must carry, if set.
    pub secret: Option<String>,
    /// Most simultaneous connections (default 4096).
    pub max_connections: usize,
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
        }
    }
}

impl ServerConfig {
    fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message_bytes))
            .max_frame_size(Some(self.max_message_bytes))
    }
}

/// Accepts WebSocket clients on `listener` and serves rooms until the returned
/// future is dropped (or accepting fails persistently).
pub async fn serve(listener: TcpListener, config: ServerConfig) -> std::io::Result<()> {
    let config = Arc::new(config);
    let hub = Arc::new(Hub::default());
    let permits = Arc::new(Semaphore::new(config.max_connections));
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "signaling server listening");
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
        let permit = permits.clone().try_acquire_owned().ok();
        let hub = hub.clone();
        let config = config.clone();
        tasks.spawn(
            async move {
                let admitted = permit.is_some();
                let _permit = permit;
                run_connection(tcp, hub, config, admitted).await;
            }
            .instrument(info_span!("conn", %addr)),
        );
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
    outbox: mpsc::Sender<ServerToClient>,
}

/// A room: members in join order, so `members[0]` is the host.
#[derive(Default)]
struct Room {
    members: Vec<Member>,
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

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding the lock cannot leave rooms half-updated in a way that
        // matters more than losing the server, so recover the data.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn join(
        &self,
        room: RoomCode,
        name: String,
        capacity: usize,
        outbox: mpsc::Sender<ServerToClient>,
    ) -> Result<(PeerId, Vec<PeerInfo>, PeerId), Refusal> {
        let mut state = self.lock();
        let occupancy = state.rooms.get(&room).map_or(0, |r| r.members.len());
        if occupancy >= capacity {
            return Err(Refusal(
                ErrorCode::RoomFull,
                format!("room {room} is full ({capacity} peers)"),
            ));
        }
        state.next_id += 1;
        let id = PeerId(state.next_id);
        let members = &mut state.rooms.entry(room).or_default().members;
        let peers: Vec<PeerInfo> = members
            .iter()
            .map(|m| PeerInfo {
                id: m.id,
                name: m.name.clone(),
            })
            .collect();
        let host = members.first().map_or(id, |m| m.id);
        let mut slow = Vec::new();
        for member in members.iter() {
            let msg = ServerToClient::PeerJoined {
                id,
                name: name.clone(),
            };
            if member.outbox.try_send(msg).is_err() {
                slow.push(member.id);
            }
        }
        members.push(Member { id, name, outbox });
        let mut pending = slow;
        while let Some(victim) = pending.pop() {
            pending.extend(remove_member(&mut state, room, victim));
        }
        Ok((id, peers, host))
    }

    fn leave(&self, room: RoomCode, id: PeerId) {
        let mut state = self.lock();
        let mut pending = vec![id];
        while let Some(victim) = pending.pop() {
            pending.extend(remove_member(&mut state, room, victim));
        }
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
        if target
            .outbox
            .try_send(ServerToClient::Signal {
                from,
                attempt,
                payload,
            })
            .is_err()
        {
            let mut pending = vec![to];
            while let Some(victim) = pending.pop() {
                pending.extend(remove_member(&mut state, room, victim));
            }
        }
        None
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
    if removed.outbox.capacity() == 0 {
        // Its outbox is full: tell it why it is being dropped if there is any room.
        let _ = removed.outbox.try_send(ServerToClient::error(
            ErrorCode::SlowConsumer,
            "too many messages queued for this connection",
        ));
    }
    drop(removed);
    let mut slow = Vec::new();
    match room.host() {
        None => {
            state.rooms.remove(&room_code);
            debug!(room = %room_code, "room closed");
        }
        Some(host) => {
            for member in &room.members {
                if member
                    .outbox
                    .try_send(ServerToClient::PeerLeft { id, host })
                    .is_err()
                {
                    slow.push(member.id);
                }
            }
        }
    }
    slow
}

/// Token bucket for one connection.
struct TokenBucket {
    tokens: f64,
    limit: RateLimit,
    last: Instant,
}

impl TokenBucket {
    fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: f64::from(limit.burst),
            limit,
            last: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            (self.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the read loop decided after one incoming frame.
enum Step {
    Continue,
    /// Close the connection after sending this (fatal) error, if any.
    Close(Option<ServerToClient>),
}

/// Per-connection state.
struct Connection {
    hub: Arc<Hub>,
    config: Arc<ServerConfig>,
    joined: Option<(RoomCode, PeerId)>,
    outbox: Option<mpsc::Sender<ServerToClient>>,
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
            } => {
                return self.handle_join(room, &name, secret.as_deref(), create, replies);
            }
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
                    if let Some(err) = self.hub.relay(room, me, to, attempt, payload) {
                        replies.push(err);
                    }
                }
            },
        }
        Step::Continue
    }

    fn handle_join(
        &mut self,
        room: RoomCode,
        name: &str,
        secret: Option<&str>,
        create: bool,
        replies: &mut Vec<ServerToClient>,
    ) -> Step {
        if let Some(expected) = &self.config.secret
            && !constant_time_eq(expected.as_bytes(), secret.unwrap_or("").as_bytes())
        {
            return Step::Close(Some(ServerToClient::error(
                ErrorCode::Unauthorized,
                "missing or wrong secret",
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
        if !create && !self.hub.lock().rooms.contains_key(&room) {
            replies.push(ServerToClient::error(
                ErrorCode::RoomNotFound,
                format!("there is no room {room}"),
            ));
            return Step::Continue;
        }
        let Some(outbox) = self.outbox.clone() else {
            return Step::Close(None);
        };
        match self
            .hub
            .join(room, name.to_owned(), self.config.room_capacity, outbox)
        {
            Err(Refusal(code, message)) => replies.push(ServerToClient::error(code, message)),
            Ok((you, peers, host)) => {
                info!(room = %room, peer = %you, name, "peer joined");
                self.joined = Some((room, you));
                // The room now owns the only sender: dropping it from the room ends us.
                self.outbox = None;
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

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some((room, id)) = self.joined.take() {
            info!(room = %room, peer = %id, "peer left");
            self.hub.leave(room, id);
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn encode(msg: &ServerToClient) -> Message {
    // Serializing our own enum cannot fail: it has only string keys and plain data.
    Message::text(serde_json::to_string(msg).unwrap_or_default())
}

async fn run_connection(tcp: TcpStream, hub: Arc<Hub>, config: Arc<ServerConfig>, admitted: bool) {
    let handshake =
        tokio_tungstenite::accept_async_with_config(tcp, Some(config.websocket_config()));
    let ws = match tokio::time::timeout(config.idle_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(err)) => {
            debug!(%err, "websocket handshake failed");
            return;
        }
        Err(_) => {
            debug!("websocket handshake timed out");
            return;
        }
    };
    if !admitted {
        warn!("connection refused: server full");
        let final_error = ServerToClient::error(ErrorCode::ServerFull, "too many connections");
        close_with(ws, Some(final_error)).await;
        return;
    }
    let (outbox_tx, mut outbox_rx) = mpsc::channel(PEER_OUTBOX_CAPACITY);
    let mut conn = Connection {
        hub,
        config: config.clone(),
        joined: None,
        outbox: Some(outbox_tx),
    };
    let mut ws = ws;
    let mut bucket = TokenBucket::new(config.rate_limit, Instant::now());
    let mut last_activity = Instant::now();
    let mut replies = Vec::new();
    let final_error: Option<ServerToClient> = loop {
        let idle_deadline = last_activity + config.idle_timeout;
        tokio::select! {
            incoming = ws.next() => {
                let now = Instant::now();
                let frame = match incoming {
                    None => break None,
                    Some(Ok(frame)) => frame,
                    Some(Err(tungstenite::Error::Capacity(err))) => {
                        warn!(%err, "oversized message");
                        break Some(ServerToClient::error(
                            ErrorCode::TooLarge,
                            format!("message exceeds {} bytes", config.max_message_bytes),
                        ));
                    }
                    Some(Err(err)) => {
                        debug!(%err, "websocket read failed");
                        break None;
                    }
                };
                last_activity = now;
                if matches!(frame, Message::Close(_)) {
                    break None;
                }
                if !bucket.take(now) {
                    warn!("rate limit exceeded");
                    break Some(ServerToClient::error(
                        ErrorCode::RateLimited,
                        format!("more than {} messages per second", config.rate_limit.per_second),
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
                let mut failed = false;
                for reply in replies.drain(..) {
                    if ws.feed(encode(&reply)).await.is_err() {
                        failed = true;
                        break;
                    }
                }
                if failed || ws.flush().await.is_err() {
                    break None;
                }
                if let Step::Close(err) = step {
                    break err;
                }
            }
            outgoing = outbox_rx.recv(), if conn.joined.is_some() => {
                match outgoing {
                    Some(msg) => {
                        let fatal = matches!(&msg, ServerToClient::Error { code, .. } if code.is_fatal());
                        if ws.send(encode(&msg)).await.is_err() {
                            break None;
                        }
                        if fatal {
                            break None;
                        }
                    }
                    // Dropped from the room (slow consumer): the room released our outbox.
                    None => break Some(ServerToClient::error(
                        ErrorCode::SlowConsumer,
                        "dropped from the room: too many messages queued",
                    )),
                }
            }
            () = tokio::time::sleep_until(idle_deadline) => {
                debug!("idle timeout");
                break Some(ServerToClient::error(
                    ErrorCode::IdleTimeout,
                    format!("nothing received for {} ms", config.idle_timeout.as_millis()),
                ));
            }
        }
    };
    // Leave the room before lingering, so the others learn of it at once.
    drop(conn);
    close_with(ws, final_error).await;
}

/// Sends an optional final error and a close frame, then drains what the client
/// still sends for [`LINGER`] so the kernel does not reset the connection (which would
/// discard the error before the client reads it).
async fn close_with(mut ws: WebSocketStream<TcpStream>, final_error: Option<ServerToClient>) {
    if let Some(err) = &final_error {
        let _ = ws.feed(encode(err)).await;
    }
    let _ = ws.close(None).await;
    let mut tcp = ws.into_inner();
    let mut scratch = [0u8; 4096];
    let deadline = Instant::now() + LINGER;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tcp.read(&mut scratch)).await {
        if n == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_a_burst_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(
            RateLimit {
                burst: 3,
                per_second: 10.0,
            },
            start,
        );
        assert!((0..3).all(|_| bucket.take(start)));
        assert!(!bucket.take(start));
        assert!(bucket.take(start + Duration::from_millis(110)));
        assert!(!bucket.take(start + Duration::from_millis(110)));
    }

    #[test]
    fn host_passes_to_the_next_oldest_member() {
        let hub = Hub::default();
        let room: RoomCode = "AAA-AAA".parse().expect("valid");
        let (tx1, _rx1) = mpsc::channel(8);
        let (tx2, mut rx2) = mpsc::channel(8);
        let (tx3, _rx3) = mpsc::channel(8);
        let Ok((first, _, host1)) = hub.join(room, "a".into(), 8, tx1) else {
            panic!("first join refused");
        };
        assert_eq!(first, host1);
        let Ok((second, peers, host2)) = hub.join(room, "b".into(), 8, tx2) else {
            panic!("second join refused");
        };
        assert_eq!(peers.len(), 1);
        assert_eq!(host2, first);
        let Ok(_) = hub.join(room, "c".into(), 8, tx3) else {
            panic!("third join refused");
        };
        hub.leave(room, first);
        let mut saw = None;
        while let Ok(msg) = rx2.try_recv() {
            if let ServerToClient::PeerLeft { id, host } = msg {
                saw = Some((id, host));
            }
        }
        assert_eq!(saw, Some((first, second)));
    }

    #[test]
    fn a_full_room_refuses_and_an_empty_room_disappears() {
        let hub = Hub::default();
        let room: RoomCode = "BBB-BBB".parse().expect("valid");
        let (tx1, _rx1) = mpsc::channel(8);
        let (tx2, _rx2) = mpsc::channel(8);
        let Ok((first, _, _)) = hub.join(room, "a".into(), 1, tx1) else {
            panic!("first join refused");
        };
        assert!(matches!(
            hub.join(room, "b".into(), 1, tx2),
            Err(Refusal(ErrorCode::RoomFull, _))
        ));
        hub.leave(room, first);
        assert!(hub.lock().rooms.is_empty());
    }
}
