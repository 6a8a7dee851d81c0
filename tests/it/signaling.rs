//! Signaling server over real WebSockets on loopback.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use samespace::net::error::NetError;
use samespace::net::protocol::{
    ClientToServer, ErrorCode, IceCandidate, PeerId, RoomCode, SdpKind, ServerToClient,
    SessionDescription, SignalPayload,
};
use samespace::net::signaling::client::{SignalingClient, Welcome};
use samespace::net::signaling::server::{RateLimit, ServerConfig};
use tokio_tungstenite::tungstenite::Message;

use crate::common::TestServer;

const STEP: Duration = Duration::from_secs(5);

fn code(s: &str) -> RoomCode {
    s.parse().expect("valid room code")
}

async fn joined(server: &TestServer, room: &str, name: &str) -> (SignalingClient, Welcome) {
    let mut client = SignalingClient::connect(&server.url())
        .await
        .expect("connect");
    let welcome = client.join(code(room), name, None).await.expect("join");
    (client, welcome)
}

/// Next message from `client`, failing the test after [`STEP`].
async fn next(client: &mut SignalingClient) -> ServerToClient {
    tokio::time::timeout(STEP, client.recv())
        .await
        .expect("a message in time")
        .expect("a message")
}

/// Asserts that nothing arrives within `wait`.
async fn silent(client: &mut SignalingClient, wait: Duration) {
    if let Ok(msg) = tokio::time::timeout(wait, client.recv()).await {
        panic!("expected silence, got {msg:?}");
    }
}

fn offer(text: &str) -> SignalPayload {
    SignalPayload::Sdp(SessionDescription {
        kind: SdpKind::Offer,
        sdp: text.to_owned(),
    })
}

/// A relay in `room` works: `a` signals `b` and `b` receives it.
async fn assert_relay_works(a: &mut SignalingClient, b: &mut SignalingClient, b_id: PeerId) {
    a.send(&ClientToServer::Signal {
        attempt: 0,
        to: b_id,
        payload: offer("still-alive"),
    })
    .await
    .expect("send");
    match next(b).await {
        ServerToClient::Signal { payload, .. } => assert_eq!(payload, offer("still-alive")),
        other => panic!("expected a signal, got {other:?}"),
    }
}

type RawWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn raw(server: &TestServer) -> RawWs {
    let (ws, _) = tokio_tungstenite::connect_async(server.url())
        .await
        .expect("raw connect");
    ws
}

/// Reads raw frames until an `error` arrives; returns its code.
async fn raw_error(ws: &mut RawWs) -> ErrorCode {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("an error in time")
            .expect("connection open until the error")
            .expect("a readable frame");
        if let Message::Text(text) = frame
            && let Ok(ServerToClient::Error { code, .. }) = serde_json::from_str(text.as_str())
        {
            return code;
        }
    }
}

/// True when the raw connection ends (close frame, end of stream or reset) in time.
async fn raw_closes(ws: &mut RawWs) -> bool {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

#[tokio::test]
async fn signals_are_relayed_between_peers_of_one_room() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (mut a, wa) = joined(&server, "K7Q-4MZ", "Ada").await;
    assert!(wa.peers.is_empty());
    assert_eq!(wa.host, wa.you, "the creator hosts the room");

    let (mut b, wb) = joined(&server, "k7q4mz", "Bob").await;
    assert_eq!(wb.room, code("K7Q-4MZ"));
    assert_eq!(wb.peers.len(), 1);
    assert_eq!(wb.peers[0].id, wa.you);
    assert_eq!(wb.peers[0].name, "Ada");
    assert_eq!(wb.host, wa.you);
    assert!(wb.you > wa.you, "ids grow with join order");

    match next(&mut a).await {
        ServerToClient::PeerJoined { id, name } => {
            assert_eq!((id, name.as_str()), (wb.you, "Bob"));
        }
        other => panic!("expected peer-joined, got {other:?}"),
    }

    let candidate = SignalPayload::Candidate(IceCandidate {
        candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
        username_fragment: None,
    });
    b.send(&ClientToServer::Signal {
        attempt: 0,
        to: wa.you,
        payload: offer("v=0"),
    })
    .await
    .expect("send offer");
    // A later connection attempt's signal carries its number through the relay.
    b.send(&ClientToServer::Signal {
        attempt: 2,
        to: wa.you,
        payload: candidate.clone(),
    })
    .await
    .expect("send candidate");
    assert_eq!(
        next(&mut a).await,
        ServerToClient::Signal {
            from: wb.you,
            attempt: 0,
            payload: offer("v=0")
        }
    );
    assert_eq!(
        next(&mut a).await,
        ServerToClient::Signal {
            from: wb.you,
            attempt: 2,
            payload: candidate
        }
    );

    b.close().await;
    match next(&mut a).await {
        ServerToClient::PeerLeft { id, host } => assert_eq!((id, host), (wb.you, wa.you)),
        other => panic!("expected peer-left, got {other:?}"),
    }
}

#[tokio::test]
async fn rooms_are_isolated_from_each_other() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (mut a, wa) = joined(&server, "AAA-AAA", "a").await;
    let (mut c, _) = joined(&server, "CCC-CCC", "c").await;
    let (_d, wd) = joined(&server, "CCC-CCC", "d").await;
    // c sees d join; a sees nothing of room CCC-CCC.
    assert!(matches!(next(&mut c).await, ServerToClient::PeerJoined { id, .. } if id == wd.you));
    c.send(&ClientToServer::Signal {
        attempt: 0,
        to: wa.you,
        payload: offer("cross-room"),
    })
    .await
    .expect("send");
    assert!(matches!(
        next(&mut c).await,
        ServerToClient::Error {
            code: ErrorCode::UnknownPeer,
            ..
        }
    ));
    silent(&mut a, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_full_room_refuses_the_next_peer_until_someone_leaves() {
    let server = TestServer::start(ServerConfig {
        room_capacity: 2,
        ..ServerConfig::default()
    })
    .await;
    let (a, _) = joined(&server, "FUW-WWW", "a").await;
    let (_b, _) = joined(&server, "FUW-WWW", "b").await;
    let mut c = SignalingClient::connect(&server.url())
        .await
        .expect("connect");
    match c.join(code("FUW-WWW"), "c", None).await {
        Err(NetError::Server {
            code: ErrorCode::RoomFull,
            ..
        }) => {}
        other => panic!("expected room-full, got {other:?}"),
    }
    // The refused connection stays usable: it joins once there is space.
    a.close().await;
    let mut welcome = None;
    for _ in 0..50 {
        match c.join(code("FUW-WWW"), "c", None).await {
            Ok(w) => {
                welcome = Some(w);
                break;
            }
            Err(NetError::Server {
                code: ErrorCode::RoomFull,
                ..
            }) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(err) => panic!("unexpected {err}"),
        }
    }
    let welcome = welcome.expect("joined after a leave");
    assert_eq!(welcome.peers.len(), 1);
}

#[tokio::test]
async fn malformed_json_gets_an_error_and_the_connection_stays_usable() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (mut a, _) = joined(&server, "BKR-KKM", "a").await;
    let (mut b, wb) = joined(&server, "BKR-KKM", "b").await;
    let _ = next(&mut a).await; // peer-joined

    let mut bad = raw(&server).await;
    for junk in [
        "{not json",
        r#"{"type":"teleport"}"#,
        r#"{"type":"join","room":"K7Q"}"#,
    ] {
        bad.send(Message::text(junk)).await.expect("send junk");
        assert_eq!(raw_error(&mut bad).await, ErrorCode::BadMessage);
    }
    bad.send(Message::binary(vec![1u8, 2, 3]))
        .await
        .expect("send binary");
    assert_eq!(raw_error(&mut bad).await, ErrorCode::BadMessage);
    bad.send(Message::text(r#"{"type":"ping"}"#))
        .await
        .expect("ping");
    let pong = tokio::time::timeout(STEP, bad.next())
        .await
        .expect("pong in time");
    assert!(matches!(pong, Some(Ok(Message::Text(t))) if t.as_str() == r#"{"type":"pong"}"#));

    assert_relay_works(&mut a, &mut b, wb.you).await;
}

#[tokio::test]
async fn an_oversized_message_gets_too_large_and_only_that_connection_closes() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (mut a, _) = joined(&server, "BGG-RMM", "a").await;
    let (mut b, wb) = joined(&server, "BGG-RMM", "b").await;
    let _ = next(&mut a).await;

    let mut big = raw(&server).await;
    big.send(Message::text(
        r#"{"type":"join","room":"BGG-RMM","name":"big"}"#,
    ))
    .await
    .expect("join");
    let huge = format!(
        r#"{{"type":"signal","to":{},"sdp":{{"type":"offer","sdp":"{}"}}}}"#,
        wb.you.0,
        "x".repeat(100 * 1024)
    );
    big.send(Message::text(huge)).await.expect("send huge");
    assert_eq!(raw_error(&mut big).await, ErrorCode::TooLarge);
    assert!(raw_closes(&mut big).await);

    // b saw big join and leave, and never got the oversized signal.
    let mut saw_left = false;
    while !saw_left {
        match next(&mut b).await {
            ServerToClient::PeerLeft { .. } => saw_left = true,
            ServerToClient::PeerJoined { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_relay_works(&mut a, &mut b, wb.you).await;
}

#[tokio::test]
async fn a_flood_is_rate_limited_without_disturbing_other_rooms() {
    let server = TestServer::start(ServerConfig {
        rate_limit: RateLimit {
            burst: 20,
            per_second: 10.0,
        },
        ..ServerConfig::default()
    })
    .await;
    let (mut a, _) = joined(&server, "CAT-MMM", "a").await;
    let (mut b, wb) = joined(&server, "CAT-MMM", "b").await;
    let _ = next(&mut a).await;
    let (mut neighbour, _) = joined(&server, "FXD-DDD", "n").await;

    let mut flood = raw(&server).await;
    flood
        .send(Message::text(
            r#"{"type":"join","room":"FXD-DDD","name":"f"}"#,
        ))
        .await
        .expect("join");
    for _ in 0..200 {
        if flood
            .feed(Message::text(r#"{"type":"ping"}"#))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = flood.flush().await;
    assert_eq!(raw_error(&mut flood).await, ErrorCode::RateLimited);
    assert!(raw_closes(&mut flood).await);

    // Its room-mate sees it come and go; the other room carries on.
    assert!(matches!(
        next(&mut neighbour).await,
        ServerToClient::PeerJoined { .. }
    ));
    assert!(matches!(
        next(&mut neighbour).await,
        ServerToClient::PeerLeft { .. }
    ));
    assert_relay_works(&mut a, &mut b, wb.you).await;
}

#[tokio::test]
async fn idle_connections_time_out_and_their_room_is_told() {
    let server = TestServer::start(ServerConfig {
        idle_timeout: Duration::from_millis(400),
        ..ServerConfig::default()
    })
    .await;
    let (mut a, _) = joined(&server, "DZZ-EEE", "a").await;
    let mut sleeper = raw(&server).await;
    sleeper
        .send(Message::text(
            r#"{"type":"join","room":"DZZ-EEE","name":"z"}"#,
        ))
        .await
        .expect("join");
    assert!(matches!(
        next(&mut a).await,
        ServerToClient::PeerJoined { .. }
    ));
    // `a` keeps itself alive with pings while `sleeper` says nothing.
    let started = Instant::now();
    let mut left = false;
    while !left && started.elapsed() < STEP {
        a.send(&ClientToServer::Ping).await.expect("ping");
        let until = tokio::time::Instant::now() + Duration::from_millis(100);
        while let Ok(msg) = tokio::time::timeout_at(until, a.recv()).await {
            match msg {
                Ok(ServerToClient::PeerLeft { .. }) => left = true,
                Ok(_) => {}
                Err(err) => panic!("a was disconnected: {err}"),
            }
        }
    }
    assert!(left, "the idle peer was reported as left");
    assert_eq!(raw_error(&mut sleeper).await, ErrorCode::IdleTimeout);
}

#[tokio::test]
async fn the_host_passes_to_the_next_oldest_peer() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (a, wa) = joined(&server, "HST-HHH", "a").await;
    let (mut b, wb) = joined(&server, "HST-HHH", "b").await;
    let (mut c, wc) = joined(&server, "HST-HHH", "c").await;
    assert_eq!(wc.host, wa.you);
    a.close().await;
    let _ = next(&mut b).await; // c joined
    assert_eq!(
        next(&mut b).await,
        ServerToClient::PeerLeft {
            id: wa.you,
            host: wb.you
        }
    );
    assert_eq!(
        next(&mut c).await,
        ServerToClient::PeerLeft {
            id: wa.you,
            host: wb.you
        }
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_the_right_one_admitted() {
    let server = TestServer::start(ServerConfig {
        secret: Some("sesame".into()),
        ..ServerConfig::default()
    })
    .await;
    let mut wrong = SignalingClient::connect(&server.url())
        .await
        .expect("connect");
    assert!(matches!(
        wrong.join(code("SEC-RET"), "w", Some("open")).await,
        Err(NetError::Server {
            code: ErrorCode::Unauthorized,
            ..
        })
    ));
    let mut right = SignalingClient::connect(&server.url())
        .await
        .expect("connect");
    right
        .join(code("SEC-RET"), "r", Some("sesame"))
        .await
        .expect("admitted");
}

/// Reads a positive count from the environment, or `default`.
fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Hundreds of clients in tens of rooms: all join, every one relays a signal to a
/// room-mate, and the figures are printed (`--nocapture` shows them). Scale it with
/// `SAMESPACE_LOAD_ROOMS` and `SAMESPACE_LOAD_PER_ROOM` (at most 8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_clients_in_tens_of_rooms_join_and_relay() {
    let rooms_count = env_count("SAMESPACE_LOAD_ROOMS", 50);
    let per_room = env_count("SAMESPACE_LOAD_PER_ROOM", 8).min(8);
    const ROUNDS: usize = 5;
    let server = TestServer::start(ServerConfig::default()).await;
    let rooms: Vec<RoomCode> = (0..rooms_count)
        .map(|i| RoomCode::from_random(i as u64 * 7919 + 1))
        .collect();

    let join_started = Instant::now();
    let mut joins = tokio::task::JoinSet::new();
    for (r, room) in rooms.iter().copied().enumerate() {
        let url = server.url();
        joins.spawn(async move {
            let mut members = Vec::new();
            for i in 0..per_room {
                let mut client = SignalingClient::connect(&url).await.expect("connect");
                let welcome = client
                    .join(room, &format!("r{r}p{i}"), None)
                    .await
                    .expect("join");
                members.push((client, welcome.you));
            }
            members
        });
    }
    let mut all_rooms = Vec::new();
    while let Some(members) = tokio::time::timeout(Duration::from_secs(60), joins.join_next())
        .await
        .expect("joins finish in time")
    {
        all_rooms.push(members.expect("join task"));
    }
    let join_elapsed = join_started.elapsed();
    let clients = rooms_count * per_room;

    // Drain the peer-joined announcements, then each peer signals the next one.
    let relay_started = Instant::now();
    let mut relays = tokio::task::JoinSet::new();
    for members in all_rooms {
        relays.spawn(async move {
            let mut members = members;
            for (client, _) in &mut members {
                while let Ok(Ok(_)) =
                    tokio::time::timeout(Duration::from_millis(50), client.recv()).await
                {
                }
            }
            let ids: Vec<PeerId> = members.iter().map(|(_, id)| *id).collect();
            let mut latencies = Vec::new();
            for round in 0..ROUNDS {
                for i in 0..ids.len() {
                    let to = ids[(i + 1) % ids.len()];
                    let sent = Instant::now();
                    members[i]
                        .0
                        .send(&ClientToServer::Signal {
                            attempt: 0,
                            to,
                            payload: offer(&format!("{round}")),
                        })
                        .await
                        .expect("send");
                    let receiver = &mut members[(i + 1) % ids.len()].0;
                    match tokio::time::timeout(STEP, receiver.recv()).await {
                        Ok(Ok(ServerToClient::Signal { .. })) => latencies.push(sent.elapsed()),
                        other => panic!("expected a relayed signal, got {other:?}"),
                    }
                }
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(result) = tokio::time::timeout(Duration::from_secs(60), relays.join_next())
        .await
        .expect("relays finish in time")
    {
        latencies.extend(result.expect("relay task"));
    }
    let relay_elapsed = relay_started.elapsed();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    eprintln!(
        "load: {clients} clients in {rooms_count} rooms joined in {:.2?} ({:.0} joins/s); \
         {} relays in {:.2?}, p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        join_elapsed,
        clients as f64 / join_elapsed.as_secs_f64(),
        latencies.len(),
        relay_elapsed,
        p(0.5),
        p(0.99),
        p(1.0)
    );
    assert_eq!(latencies.len(), clients * ROUNDS);
}
