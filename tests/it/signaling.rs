//! Signaling server over real WebSockets on loopback.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use samespace::net::error::NetError;
use samespace::net::protocol::{
    ClientToServer, ErrorCode, IceCandidate, PeerId, RoomCode, SdpKind, ServerToClient,
    SessionDescription, SignalPayload,
};
use samespace::net::signaling::client::{Rejoin, SignalingClient, Welcome};
use samespace::net::signaling::server::{JoinRate, RateLimit, ServerConfig};
use samespace::net::signaling::tls::server_tls;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{TestCa, TestServer, temp_dir};

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

/// A raw connection that has sent `join` to `room` (and read nothing).
async fn raw_joined(server: &TestServer, room: &str, name: &str) -> RawWs {
    let mut ws = raw(server).await;
    let join = format!(r#"{{"type":"join","room":"{room}","name":"{name}"}}"#);
    ws.send(Message::text(join)).await.expect("join");
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

/// The reason in the server's close frame, reading up to it.
async fn raw_close_reason(ws: &mut RawWs) -> String {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => return frame.reason.to_string(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame with a reason, got {other:?}"),
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
        // The retries below are joins too.
        join_rate: None,
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

    let mut flood = raw_joined(&server, "FXD-DDD", "f").await;
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
    // The close frame says why, too.
    assert!(
        raw_close_reason(&mut flood)
            .await
            .starts_with("rate-limited: ")
    );

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
    let mut sleeper = raw_joined(&server, "DZZ-EEE", "z").await;
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

/// A client of `server` that rejoins `room` as `name`, asking for id `me`.
async fn rejoined(
    server: &TestServer,
    room: &str,
    name: &str,
    me: PeerId,
) -> (SignalingClient, Welcome) {
    let mut client = SignalingClient::connect(&server.url())
        .await
        .expect("connect");
    let rejoin = Rejoin {
        url: server.url(),
        ca: None,
        room: code(room),
        name: name.into(),
        secret: None,
        me,
    };
    let welcome = client.rejoin(&rejoin).await.expect("rejoin");
    (client, welcome)
}

#[tokio::test]
async fn a_rejoining_peer_gets_its_old_id_when_free_and_the_room_relays_to_it() {
    // A restarted server: its rooms are gone and it numbers from 1 again.
    let server = TestServer::start(ServerConfig::default()).await;
    let (mut a, wa) = rejoined(&server, "RSM-RSM", "a", PeerId(7)).await;
    assert_eq!((wa.you, wa.host), (PeerId(7), PeerId(7)));
    assert!(wa.peers.is_empty(), "the room was made again: {wa:?}");
    let (mut b, wb) = rejoined(&server, "RSM-RSM", "b", PeerId(3)).await;
    assert_eq!(wb.you, PeerId(3));
    assert_eq!(wb.host, PeerId(7), "the first back hosts");
    assert_eq!(
        next(&mut a).await,
        ServerToClient::PeerJoined {
            id: PeerId(3),
            name: "b".into()
        }
    );
    assert_relay_works(&mut a, &mut b, wb.you).await;
    // An id someone holds is not given twice; a newcomer's id is above every id
    // given so far.
    let (_c, wc) = rejoined(&server, "RSM-RSM", "c", PeerId(7)).await;
    assert_eq!(wc.you, PeerId(8));
    let (_d, wd) = joined(&server, "RSM-RSM", "d").await;
    assert_eq!(wd.you, PeerId(9));
    // Once its holder left, the id is free again.
    a.close().await;
    let _ = next(&mut b).await; // c joined
    let _ = next(&mut b).await; // d joined
    assert!(matches!(
        next(&mut b).await,
        ServerToClient::PeerLeft { id: PeerId(7), .. }
    ));
    let (_a2, wa2) = rejoined(&server, "RSM-RSM", "a", PeerId(7)).await;
    assert_eq!(wa2.you, PeerId(7));
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
    // Every client comes from 127.0.0.1: no per-address join limit here.
    let server = TestServer::start(ServerConfig {
        join_rate: None,
        ..ServerConfig::default()
    })
    .await;
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

#[tokio::test]
async fn a_signal_with_both_sdp_and_candidate_is_refused_not_relayed() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (mut b, wb) = joined(&server, "AMB-GGG", "b").await;
    let mut sender = raw_joined(&server, "AMB-GGG", "s").await;
    assert!(matches!(
        next(&mut b).await,
        ServerToClient::PeerJoined { .. }
    ));
    let both = format!(
        r#"{{"type":"signal","to":{},"sdp":{{"type":"offer","sdp":"v=0"}},
            "candidate":{{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}}}"#,
        wb.you.0
    );
    sender.send(Message::text(both)).await.expect("send");
    assert_eq!(raw_error(&mut sender).await, ErrorCode::BadMessage);
    silent(&mut b, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn connections_over_the_cap_get_http_503_before_the_upgrade() {
    let server = TestServer::start(ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    })
    .await;
    let (first, _) = joined(&server, "CAP-PPP", "first").await;
    match SignalingClient::connect(&server.url()).await {
        Err(NetError::Http {
            status: 503,
            detail,
        }) => {
            assert!(detail.contains("full"), "{detail}");
        }
        Err(other) => panic!("expected HTTP 503, got {other}"),
        Ok(_) => panic!("a connection over the cap was upgraded"),
    }
    // Once the first leaves, there is room again.
    first.close().await;
    let mut admitted = None;
    for _ in 0..50 {
        match SignalingClient::connect(&server.url()).await {
            Ok(client) => {
                admitted = Some(client);
                break;
            }
            Err(NetError::Http { status: 503, .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    let mut client = admitted.expect("admitted once the first left");
    client
        .join(code("CAP-PPP"), "second", None)
        .await
        .expect("join");
}

#[tokio::test]
async fn joins_from_one_address_are_rate_limited_with_a_clear_code() {
    let server = TestServer::start(ServerConfig {
        join_rate: Some(JoinRate {
            joins: 5,
            window: Duration::from_secs(10),
        }),
        ..ServerConfig::default()
    })
    .await;
    let mut members = Vec::new();
    for i in 0..5 {
        // Guessing: a different room code each time.
        let room = RoomCode::from_random(1000 + i);
        let mut client = SignalingClient::connect(&server.url())
            .await
            .expect("connect");
        client.join(room, "guesser", None).await.expect("joined");
        members.push(client);
    }
    let mut sixth = SignalingClient::connect(&server.url())
        .await
        .expect("connect");
    match sixth
        .join(RoomCode::from_random(2000), "guesser", None)
        .await
    {
        Err(NetError::Server {
            code: ErrorCode::TooManyJoins,
            message,
        }) => assert!(message.contains("try again in"), "{message}"),
        other => panic!("expected too-many-joins, got {other:?}"),
    }
    // The connection stays open and usable.
    sixth.send(&ClientToServer::Ping).await.expect("ping");
    assert_eq!(next(&mut sixth).await, ServerToClient::Pong);
}

#[tokio::test]
async fn a_client_flooding_signals_is_closed_and_its_room_mate_is_not_flooded() {
    let limit = RateLimit {
        burst: 30,
        per_second: 10.0,
    };
    let server = TestServer::start(ServerConfig {
        rate_limit: limit,
        ..ServerConfig::default()
    })
    .await;
    let (mut victim, wv) = joined(&server, "FWD-DDD", "victim").await;
    let (mut a, _) = joined(&server, "QQQ-ETT", "a").await;
    let (mut b, wb) = joined(&server, "QQQ-ETT", "b").await;
    let _ = next(&mut a).await; // peer-joined
    let mut flood = raw_joined(&server, "FWD-DDD", "flood").await;
    let signal = format!(
        r#"{{"type":"signal","to":{},"sdp":{{"type":"offer","sdp":"v=0"}}}}"#,
        wv.you.0
    );
    // As fast as it can, until the server stops it.
    let mut sent = 0;
    while sent < 500 && flood.send(Message::text(signal.clone())).await.is_ok() {
        sent += 1;
    }
    assert_eq!(raw_error(&mut flood).await, ErrorCode::RateLimited);
    // The victim got at most the burst, then saw the flooder leave, and is still served.
    let mut relayed = 0;
    loop {
        match next(&mut victim).await {
            ServerToClient::Signal { .. } => relayed += 1,
            ServerToClient::PeerJoined { .. } => {}
            ServerToClient::PeerLeft { .. } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        relayed <= limit.burst as usize,
        "{relayed} signals passed a burst of {}",
        limit.burst
    );
    victim.send(&ClientToServer::Ping).await.expect("ping");
    assert_eq!(next(&mut victim).await, ServerToClient::Pong);
    assert_relay_works(&mut a, &mut b, wb.you).await;
}

#[tokio::test]
async fn a_stalled_reader_is_dropped_within_the_write_timeout_and_its_room_goes_on() {
    let server = TestServer::start(ServerConfig {
        write_timeout: Duration::from_millis(1500),
        outbox_bytes: 128 * 1024,
        ..ServerConfig::default()
    })
    .await;
    let (mut a, wa) = joined(&server, "STK-KKK", "a").await;
    let (mut b, wb) = joined(&server, "STK-KKK", "b").await;
    let _ = next(&mut a).await;
    // Joins and never reads again.
    let mut stalled = raw_joined(&server, "STK-KKK", "stalled").await;
    let stalled_id = match next(&mut a).await {
        ServerToClient::PeerJoined { id, .. } => id,
        other => panic!("expected peer-joined, got {other:?}"),
    };
    let _ = next(&mut b).await;
    let big = offer(&"x".repeat(60_000));
    let started = Instant::now();
    let mut left = false;
    // 25 signals a second, within the rate limit; the room reports the stalled peer gone.
    while !left && started.elapsed() < Duration::from_secs(30) {
        a.send(&ClientToServer::Signal {
            attempt: 0,
            to: stalled_id,
            payload: big.clone(),
        })
        .await
        .expect("send");
        let until = tokio::time::Instant::now() + Duration::from_millis(40);
        while let Ok(msg) = tokio::time::timeout_at(until, a.recv()).await {
            match msg.expect("a stays connected") {
                ServerToClient::PeerLeft { id, .. } => left |= id == stalled_id,
                ServerToClient::Error {
                    code: ErrorCode::UnknownPeer,
                    ..
                } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(left, "the stalled reader was never dropped");
    eprintln!(
        "stalled reader dropped after {:.1?} of 60 KB signals at 25/s",
        started.elapsed()
    );
    assert_eq!(
        next(&mut b).await,
        ServerToClient::PeerLeft {
            id: stalled_id,
            host: wa.you
        }
    );
    assert_relay_works(&mut a, &mut b, wb.you).await;
    // Reading now, it finds the reason after what the kernel had buffered (or a reset).
    let mut reason = None;
    while let Ok(Some(frame)) = tokio::time::timeout(STEP, stalled.next()).await {
        match frame {
            Ok(Message::Text(text)) => {
                if let Ok(ServerToClient::Error { code, .. }) = serde_json::from_str(text.as_str())
                {
                    reason = Some(code);
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(
        matches!(reason, None | Some(ErrorCode::SlowConsumer)),
        "{reason:?}"
    );
}

#[tokio::test]
async fn client_errors_name_their_cause() {
    // Nothing listens on this port.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("ws://127.0.0.1:{port}");
    let err = SignalingClient::connect(&url)
        .await
        .err()
        .expect("nothing listens");
    let text = err.to_string();
    assert!(
        text.contains(&url) && text.to_lowercase().contains("refused"),
        "{text}"
    );
    let err = SignalingClient::connect("http://127.0.0.1:1")
        .await
        .err()
        .expect("not a ws URL");
    assert!(err.to_string().contains("ws:// or wss://"), "{err}");
}

#[tokio::test]
async fn wss_works_with_a_test_ca_and_plain_ws_gets_a_clear_error() {
    let dir = temp_dir("wss-ca");
    let ca = TestCa::create(&dir);
    let server = TestServer::start(ServerConfig {
        tls: Some(server_tls(&ca.cert, &ca.key).expect("server TLS")),
        secret: Some("sesame".into()),
        ..ServerConfig::default()
    })
    .await;
    // With the test CA trusted, wss:// joins (by name and by address).
    let mut a = SignalingClient::connect_with_ca(&server.wss_url(), Some(ca.ca.as_path()))
        .await
        .expect("wss connect");
    let wa = a
        .join(code("TSS-SSS"), "a", Some("sesame"))
        .await
        .expect("join over TLS");
    let by_ip = format!("wss://127.0.0.1:{}", server.addr.port());
    let mut b = SignalingClient::connect_with_ca(&by_ip, Some(ca.ca.as_path()))
        .await
        .expect("wss connect by address");
    let wb = b
        .join(code("TSS-SSS"), "b", Some("sesame"))
        .await
        .expect("join");
    assert!(matches!(
        next(&mut a).await,
        ServerToClient::PeerJoined { .. }
    ));
    assert_relay_works(&mut b, &mut a, wa.you).await;
    assert_ne!(wa.you, wb.you);

    // Without the CA the certificate is not trusted, and the error says what to do.
    let err = SignalingClient::connect(&server.wss_url())
        .await
        .err()
        .expect("untrusted");
    assert!(matches!(err, NetError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("--ca"), "{err}");

    // Plain ws:// at the TLS port: HTTP 400 that says to use wss://.
    let err = SignalingClient::connect(&server.url())
        .await
        .err()
        .expect("plain ws refused");
    match &err {
        NetError::Http {
            status: 400,
            detail,
        } => assert!(detail.contains("wss://"), "{err}"),
        other => panic!("expected HTTP 400, got {other}"),
    }

    // A wrong secret over TLS is refused with the reason.
    let mut wrong = SignalingClient::connect_with_ca(&server.wss_url(), Some(ca.ca.as_path()))
        .await
        .expect("connect");
    match wrong.join(code("TSS-SSS"), "w", Some("open")).await {
        Err(NetError::Server {
            code: ErrorCode::Unauthorized,
            message,
        }) => assert!(message.contains("wrong secret"), "{message}"),
        other => panic!("expected unauthorized, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn wss_to_a_plain_server_fails_with_a_hint() {
    let dir = temp_dir("wss-plain");
    let ca = TestCa::create(&dir);
    let server = TestServer::start(ServerConfig::default()).await;
    let err = SignalingClient::connect_with_ca(&server.wss_url(), Some(ca.ca.as_path()))
        .await
        .err()
        .expect("no TLS there");
    assert!(matches!(err, NetError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("--tls-cert"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Joins `room` on a fresh connection; the server's refusal, if any.
async fn try_join(server: &TestServer, room: &str, name: &str) -> Result<Welcome, NetError> {
    let mut client = SignalingClient::connect(&server.url())
        .await
        .expect("connect");
    client.join_room(code(room), name, None, false).await
}

#[tokio::test]
async fn only_the_host_locks_the_room_and_a_locked_room_refuses_joiners_until_unlocked() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (mut host, _) = joined(&server, "KCK-222", "Ada").await;
    let (mut guest, _) = joined(&server, "KCK-222", "Bob").await;
    assert!(matches!(
        next(&mut host).await,
        ServerToClient::PeerJoined { .. }
    ));

    // A guest cannot lock: not-host, and the room stays open.
    guest.send(&ClientToServer::Lock).await.expect("send");
    assert!(matches!(
        next(&mut guest).await,
        ServerToClient::Error {
            code: ErrorCode::NotHost,
            ..
        }
    ));
    let (mut cleo, _) = joined(&server, "KCK-222", "Cleo").await;
    assert!(matches!(
        next(&mut host).await,
        ServerToClient::PeerJoined { .. }
    ));
    assert!(matches!(
        next(&mut guest).await,
        ServerToClient::PeerJoined { .. }
    ));

    // The host locks: everyone hears it, and a joiner gets room-locked (and may retry).
    host.send(&ClientToServer::Lock).await.expect("send");
    for member in [&mut host, &mut guest, &mut cleo] {
        assert_eq!(
            next(member).await,
            ServerToClient::RoomLock { locked: true }
        );
    }
    match try_join(&server, "KCK-222", "Dan").await {
        Err(NetError::Server {
            code: ErrorCode::RoomLocked,
            message,
        }) => assert!(message.contains("locked"), "{message}"),
        other => panic!("a locked room let Dan in: {other:?}"),
    }
    silent(&mut host, Duration::from_millis(300)).await;

    host.send(&ClientToServer::Unlock).await.expect("send");
    assert_eq!(
        next(&mut host).await,
        ServerToClient::RoomLock { locked: false }
    );
    let dan = try_join(&server, "KCK-222", "Dan")
        .await
        .expect("open again");
    assert_eq!(dan.peers.len(), 3);
}

#[tokio::test]
async fn the_host_removes_a_member_who_is_told_and_closed_while_the_others_see_them_leave() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (mut host, wa) = joined(&server, "RMV-333", "Ada").await;
    let (mut guest, wb) = joined(&server, "RMV-333", "Bob").await;
    let (mut cleo, wc) = joined(&server, "RMV-333", "Cleo").await;
    for _ in 0..2 {
        assert!(matches!(
            next(&mut host).await,
            ServerToClient::PeerJoined { .. }
        ));
    }
    assert!(matches!(
        next(&mut guest).await,
        ServerToClient::PeerJoined { .. }
    ));

    // Only the host removes, and not itself, and only members.
    guest
        .send(&ClientToServer::Remove { id: wc.you })
        .await
        .expect("send");
    assert!(matches!(
        next(&mut guest).await,
        ServerToClient::Error {
            code: ErrorCode::NotHost,
            ..
        }
    ));
    host.send(&ClientToServer::Remove {
        id: PeerId(999_999),
    })
    .await
    .expect("send");
    assert!(matches!(
        next(&mut host).await,
        ServerToClient::Error {
            code: ErrorCode::UnknownPeer,
            ..
        }
    ));
    host.send(&ClientToServer::Remove { id: wa.you })
        .await
        .expect("send");
    assert!(matches!(
        next(&mut host).await,
        ServerToClient::Error {
            code: ErrorCode::BadMessage,
            ..
        }
    ));

    host.send(&ClientToServer::Remove { id: wb.you })
        .await
        .expect("send");
    // Bob: the reason, then the connection closes with it.
    match next(&mut guest).await {
        ServerToClient::Error {
            code: ErrorCode::Removed,
            message,
        } => assert!(message.contains("removed"), "{message}"),
        other => panic!("Bob was not told: {other:?}"),
    }
    match tokio::time::timeout(STEP, guest.recv()).await {
        Ok(Err(NetError::ClosedWith(reason))) => {
            assert!(reason.starts_with("removed:"), "{reason}");
        }
        other => panic!("Bob's connection did not close with the reason: {other:?}"),
    }
    // Everyone else sees Bob leave; the host stays host.
    for member in [&mut host, &mut cleo] {
        assert_eq!(
            next(member).await,
            ServerToClient::PeerLeft {
                id: wb.you,
                host: wa.you
            }
        );
    }
    // A signal to Bob finds nobody.
    host.send(&ClientToServer::Signal {
        to: wb.you,
        attempt: 0,
        payload: offer("gone"),
    })
    .await
    .expect("send");
    assert!(matches!(
        next(&mut host).await,
        ServerToClient::Error {
            code: ErrorCode::UnknownPeer,
            ..
        }
    ));
}
