//! WebRTC mesh over the real signaling server, all on loopback, in one process.

use std::time::{Duration, Instant};

use bytes::Bytes;
use samespace::net::peer::{EncodedMedia, NetCommand, NetConfig, NetEvent, NetHandle};
use samespace::net::protocol::{Chat, PeerId, PeerToPeer, RoomCode};
use samespace::net::signaling::embedded::EmbeddedServer;
use samespace::net::signaling::server::ServerConfig;
use samespace::world::placement::Placement;

const CONNECT: Duration = Duration::from_secs(20);

/// An in-process signaling server on loopback (the peers bring their own runtimes).
fn server() -> EmbeddedServer {
    crate::common::init_logging();
    EmbeddedServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        ServerConfig::default(),
    )
    .expect("embedded server")
}

/// A peer plus everything it has seen so far.
struct Probe {
    net: NetHandle,
    events: Vec<NetEvent>,
    media: Vec<NetEvent>,
}

impl Probe {
    fn join(server: &EmbeddedServer, room: RoomCode, name: &str) -> Self {
        let config = NetConfig::new(server.url(), room, name).loopback_only();
        Self {
            net: NetHandle::connect(config).expect("join the room"),
            events: Vec::new(),
            media: Vec::new(),
        }
    }

    fn me(&self) -> PeerId {
        self.net.me()
    }

    fn pump(&mut self) {
        self.events.extend(self.net.events().try_iter());
        self.media.extend(self.net.media().try_iter());
    }

    /// Waits until `done` holds for what was seen, up to `limit`.
    fn wait(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let until = Instant::now() + limit;
        loop {
            self.pump();
            if done(self) {
                return true;
            }
            if Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn connected_to(&self, id: PeerId) -> bool {
        let last_up = self
            .events
            .iter()
            .rposition(|e| matches!(e, NetEvent::PeerConnected { id: p } if *p == id));
        let last_down = self
            .events
            .iter()
            .rposition(|e| matches!(e, NetEvent::PeerLeft { id: p } if *p == id));
        match (last_up, last_down) {
            (Some(up), Some(down)) => up > down,
            (Some(_), None) => true,
            _ => false,
        }
    }

    fn left(&self, id: PeerId) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, NetEvent::PeerLeft { id: p } if *p == id))
    }

    fn chats_from(&self, from: PeerId) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                NetEvent::World {
                    from: f,
                    message: PeerToPeer::Chat(Chat::Text { text }),
                } if *f == from => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn video_from(&self, from: PeerId) -> Vec<Bytes> {
        self.media
            .iter()
            .filter_map(|e| match e {
                NetEvent::Video(m) if m.from == from => Some(m.data.clone()),
                _ => None,
            })
            .collect()
    }

    fn audio_count_from(&self, from: PeerId) -> usize {
        self.media
            .iter()
            .filter(|e| matches!(e, NetEvent::Audio(m) if m.from == from))
            .count()
    }

    fn chat(&self, text: &str) {
        self.net
            .send(NetCommand::World {
                to: None,
                message: PeerToPeer::Chat(Chat::Text { text: text.into() }),
            })
            .expect("queue chat");
    }
}

/// User + system CPU time of this process so far (Linux, from `/proc/self/stat`,
/// assuming the usual 100 clock ticks per second).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// An Annex-B access unit: SPS-like, PPS-like and a large IDR-like NAL (so it is
/// fragmented into FU-A packets), tagged with `n`. No NAL ends in a zero byte, which
/// Annex-B cannot carry (it would merge into the next start code).
fn access_unit(n: u8) -> Bytes {
    let mut au = Vec::new();
    for nal in [
        vec![0x67, 0x42, 0xc0, 0x1f, n | 0x80],
        vec![0x68, 0xce, 0x3c, 0x80],
        std::iter::once(0x65)
            .chain((0..3000u32).map(|i| (i as u8) ^ n | 1))
            .collect(),
    ] {
        au.extend_from_slice(&[0, 0, 0, 1]);
        au.extend_from_slice(&nal);
    }
    Bytes::from(au)
}

#[test]
fn two_peers_exchange_world_messages_video_and_audio() {
    let server = server();
    let room = RoomCode::random();
    let mut a = Probe::join(&server, room, "Ada");
    let mut b = Probe::join(&server, room, "Bob");
    let (ida, idb) = (a.me(), b.me());
    assert!(a.wait(CONNECT, |p| p.connected_to(idb)), "a connects to b");
    assert!(b.wait(CONNECT, |p| p.connected_to(ida)), "b connects to a");

    // The world channel opens shortly after the connection; resend until it arrives.
    let got_chat = b.wait(CONNECT, |p| {
        a.chat("hello from a");
        !p.chats_from(ida).is_empty()
    });
    assert!(got_chat, "b got a's chat");
    assert!(
        b.events.iter().any(|e| matches!(e,
            NetEvent::World { from, message: PeerToPeer::Hello { name } } if *from == ida && name == "Ada")),
        "b got a's hello"
    );

    // Placements travel on the unreliable `world-fast` channel.
    let placement = PeerToPeer::Placement {
        placement: Placement::default().into(),
        outline: vec![vec![[0.0, 0.0], [10.0, 0.0], [5.0, 8.0]]],
    };
    let got_placement = b.wait(CONNECT, |p| {
        a.net
            .send(NetCommand::World {
                to: Some(idb),
                message: placement.clone(),
            })
            .expect("queue placement");
        p.events.iter().any(|e| {
            matches!(e, NetEvent::World { from, message } if *from == ida && *message == placement)
        })
    });
    assert!(got_placement, "b got a's placement");

    // 60 access units at ~30 fps, with audio packets alongside.
    let started = Instant::now();
    let cpu_before = process_cpu();
    for n in 0..60u8 {
        let now = Instant::now();
        a.net
            .send(NetCommand::Video(EncodedMedia {
                data: access_unit(n),
                duration: Duration::from_millis(33),
                captured_at: now,
            }))
            .expect("queue video");
        a.net
            .send(NetCommand::Audio(EncodedMedia {
                data: Bytes::from(vec![0xfc, n, 1, 2, 3, 4, 5, 6]),
                duration: Duration::from_millis(20),
                captured_at: now,
            }))
            .expect("queue audio");
        std::thread::sleep(Duration::from_millis(33));
        b.pump();
    }
    if let (Some(before), Some(after)) = (cpu_before, process_cpu()) {
        let wall = started.elapsed();
        eprintln!(
            "CPU of the whole process while one peer streams ~0.75 Mbit/s video + audio \
             to the other: {:.3} cores ({:?} over {:?})",
            (after - before).as_secs_f64() / wall.as_secs_f64(),
            after - before,
            wall
        );
    }
    assert!(
        b.wait(Duration::from_secs(5), |p| p.video_from(ida).len() >= 30
            && p.audio_count_from(ida) >= 30),
        "b received video ({}) and audio ({}) in {:?}",
        b.video_from(ida).len(),
        b.audio_count_from(ida),
        started.elapsed()
    );
    let mut latencies: Vec<Duration> = b
        .media
        .iter()
        .filter_map(|e| match e {
            NetEvent::Video(m) if m.from == ida => m.network_latency(),
            _ => None,
        })
        .collect();
    assert_eq!(
        latencies.len(),
        b.video_from(ida).len(),
        "every frame carries its capture time"
    );
    latencies.sort();
    eprintln!(
        "capture-to-receive on loopback: p50 {:?}, p95 {:?}, max {:?} over {} frames",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 95 / 100],
        latencies[latencies.len() - 1],
        latencies.len()
    );
    // The answering side sends too: b's video and audio reach a.
    for n in 0..20u8 {
        b.net
            .send(NetCommand::Video(EncodedMedia {
                data: access_unit(n),
                duration: Duration::from_millis(33),
                captured_at: Instant::now(),
            }))
            .expect("queue video");
        b.net
            .send(NetCommand::Audio(EncodedMedia {
                data: Bytes::from(vec![0xfc, n, 9, 9]),
                duration: Duration::from_millis(20),
                captured_at: Instant::now(),
            }))
            .expect("queue audio");
        std::thread::sleep(Duration::from_millis(33));
    }
    assert!(
        a.wait(Duration::from_secs(5), |p| p.video_from(idb).len() >= 10
            && p.audio_count_from(idb) >= 10),
        "a received b's video ({}) and audio ({})",
        a.video_from(idb).len(),
        a.audio_count_from(idb)
    );
    let frames = b.video_from(ida);
    let last = frames.last().expect("a frame");
    assert!(
        (0..60u8).any(|n| access_unit(n) == *last),
        "a received access unit equals a sent one, byte for byte"
    );
    assert!(
        a.wait(Duration::from_secs(5), |p| p.events.iter().any(
            |e| matches!(e, NetEvent::KeyframeRequested { by } if *by == idb)
        )),
        "b asked a for a keyframe when its stream started"
    );
    assert!(
        b.wait(Duration::from_secs(5), |p| p.events.iter().any(
            |e| matches!(e, NetEvent::Stats { peer, rtt: Some(_), .. } if *peer == ida)
        )),
        "b measures the round-trip time to a"
    );
    let stats: Vec<String> = b
        .events
        .iter()
        .filter_map(|e| match e {
            NetEvent::Stats { rtt, kbit_s, .. } => Some(format!("rtt {rtt:?} {kbit_s:.0} kbit/s")),
            _ => None,
        })
        .collect();
    eprintln!("b's link stats from a: {stats:?}");
}

#[test]
fn a_vanished_peer_is_reported_left_and_can_rejoin() {
    let server = server();
    let room = RoomCode::random();
    let mut a = Probe::join(&server, room, "a");
    let mut b = Probe::join(&server, room, "b");
    let c = Probe::join(&server, room, "c");
    let (ida, idb, idc) = (a.me(), b.me(), c.me());
    assert!(a.wait(CONNECT, |p| p.connected_to(idb) && p.connected_to(idc)));
    assert!(b.wait(CONNECT, |p| p.connected_to(ida) && p.connected_to(idc)));

    // c dies without a goodbye.
    let vanished = Instant::now();
    c.net.abandon();
    assert!(
        a.wait(Duration::from_secs(5), |p| p.left(idc)),
        "a sees c leave"
    );
    assert!(
        b.wait(Duration::from_secs(5), |p| p.left(idc)),
        "b sees c leave"
    );
    eprintln!("vanished peer reported left after {:?}", vanished.elapsed());
    // a and b carry on.
    assert!(a.connected_to(idb) && b.connected_to(ida));

    // c comes back under a new id and meets both again.
    let mut c2 = Probe::join(&server, room, "c");
    let idc2 = c2.me();
    assert_ne!(idc2, idc);
    assert!(c2.wait(CONNECT, |p| p.connected_to(ida) && p.connected_to(idb)));
    assert!(a.wait(CONNECT, |p| p.connected_to(idc2)));
    let delivered = a.wait(CONNECT, |p| {
        c2.chat("back again");
        !p.chats_from(idc2).is_empty()
    });
    assert!(delivered, "a hears the rejoined c");
}

fn live_connections(probe: &Probe) -> i64 {
    probe
        .net
        .counters()
        .live_peer_connections
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// Resident memory of this process in KiB (Linux), for the leak report.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Join/leave cycles (`SAMESPACE_SOAK_CYCLES`, default 6): every closed peer
/// connection is freed, and RSS is printed for the report.
#[test]
fn peer_connections_are_freed_after_join_leave_cycles() {
    let cycles: usize = std::env::var("SAMESPACE_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let server = server();
    let room = RoomCode::random();
    let mut a = Probe::join(&server, room, "stayer");
    let mut rss = Vec::new();
    for cycle in 0..cycles {
        let mut b = Probe::join(&server, room, "visitor");
        let idb = b.me();
        let ida = a.me();
        assert!(
            a.wait(CONNECT, |p| p.connected_to(idb)),
            "cycle {cycle}: connect"
        );
        assert!(
            b.wait(CONNECT, |p| p.connected_to(ida)),
            "cycle {cycle}: connect back"
        );
        assert_eq!(live_connections(&a), 1);
        b.net.leave();
        assert!(
            a.wait(Duration::from_secs(5), |p| p.left(idb)),
            "cycle {cycle}: left"
        );
        let freed = a.wait(Duration::from_secs(5), |p| live_connections(p) == 0);
        assert!(
            freed,
            "cycle {cycle}: the closed peer connection is freed (live: {})",
            live_connections(&a)
        );
        rss.extend(rss_kib());
    }
    if rss.len() > 20 {
        let first = rss[..5].iter().sum::<u64>() / 5;
        let last = rss[rss.len() - 5..].iter().sum::<u64>() / 5;
        let every_tenth: Vec<u64> = rss.iter().step_by(10).copied().collect();
        eprintln!(
            "join/leave cycles: {cycles}; RSS KiB mean of first 5 {first}, of last 5 {last} \
             ({:+.1} %); every 10th: {every_tenth:?}",
            (last as f64 - first as f64) * 100.0 / first as f64
        );
    } else {
        eprintln!("join/leave cycles: RSS KiB after each: {rss:?}");
    }
}

/// What a receiver saw of 90 frames sent over an impaired link.
struct LinkReport {
    whole_frames: usize,
    keyframe_requests: usize,
    latency_p50: Duration,
    longest_gap: Duration,
}

/// Sends 90 frames at 30 fps from a sender whose RTP is impaired (`loss`, `delay`) to
/// a receiver with the given recovery window (`None`: adaptive; zero: no NACK).
fn run_impaired_link(loss: f64, delay: Duration, recovery: Option<Duration>) -> LinkReport {
    let server = server();
    let room = RoomCode::random();
    let mut lossy = NetConfig::new(server.url(), room, "lossy").loopback_only();
    lossy.simulated_loss = loss;
    lossy.simulated_delay = delay;
    let mut a = Probe {
        net: NetHandle::connect(lossy).expect("join"),
        events: Vec::new(),
        media: Vec::new(),
    };
    let mut receiver = NetConfig::new(server.url(), room, "b").loopback_only();
    receiver.recovery_window = recovery;
    let mut b = Probe {
        net: NetHandle::connect(receiver).expect("join"),
        events: Vec::new(),
        media: Vec::new(),
    };
    let (ida, idb) = (a.me(), b.me());
    assert!(a.wait(CONNECT, |p| p.connected_to(idb)));
    assert!(b.wait(CONNECT, |p| p.connected_to(ida)));

    const FRAMES: u8 = 90;
    for n in 0..FRAMES {
        a.net
            .send(NetCommand::Video(EncodedMedia {
                data: access_unit(n),
                duration: Duration::from_millis(33),
                captured_at: Instant::now(),
            }))
            .expect("queue video");
        std::thread::sleep(Duration::from_millis(33));
        a.pump();
        b.pump();
    }
    b.wait(Duration::from_millis(1500) + delay, |_| false);
    a.pump();
    let received = b.video_from(ida);
    let keyframe_requests = a
        .events
        .iter()
        .filter(|e| matches!(e, NetEvent::KeyframeRequested { by } if *by == idb))
        .count();
    let damaged: Vec<String> = received
        .iter()
        .filter(|f| !(0..FRAMES).any(|n| access_unit(n) == **f))
        .map(|f| format!("{} bytes {:02x?}", f.len(), &f[..f.len().min(40)]))
        .collect();
    assert!(
        damaged.is_empty(),
        "no damaged frame is delivered: {damaged:#?}"
    );
    let arrivals: Vec<(Instant, Duration)> = b
        .media
        .iter()
        .filter_map(|e| match e {
            NetEvent::Video(m) if m.from == ida => Some((m.received_at, m.network_latency()?)),
            _ => None,
        })
        .collect();
    let mut latencies: Vec<Duration> = arrivals.iter().map(|(_, l)| *l).collect();
    latencies.sort();
    let longest_gap = arrivals
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0))
        .max()
        .unwrap_or_default();
    let report = LinkReport {
        whole_frames: received.len(),
        keyframe_requests,
        latency_p50: latencies
            .get(latencies.len() / 2)
            .copied()
            .unwrap_or_default(),
        longest_gap,
    };
    eprintln!(
        "{:.0}% RTP loss, {delay:?} delay, recovery window {recovery:?}: {} of {FRAMES} \
         frames whole, {} keyframe requests, latency p50 {:?}, longest gap {:?}",
        loss * 100.0,
        report.whole_frames,
        report.keyframe_requests,
        report.latency_p50,
        report.longest_gap
    );
    report
}

#[test]
fn without_retransmission_keyframe_requests_keep_video_flowing_through_loss() {
    let report = run_impaired_link(0.05, Duration::ZERO, Some(Duration::ZERO));
    assert!(
        report.whole_frames >= 45,
        "most frames still arrive ({} of 90)",
        report.whole_frames
    );
    assert!(
        report.keyframe_requests >= 2,
        "loss triggers keyframe requests beyond the first"
    );
}

#[test]
fn nack_retransmissions_repair_packet_loss() {
    let report = run_impaired_link(0.05, Duration::ZERO, None);
    assert!(
        report.whole_frames >= 85,
        "NACK recovers nearly every frame ({} of 90)",
        report.whole_frames
    );
}

#[test]
fn video_keeps_flowing_with_loss_and_delay() {
    let delay = Duration::from_millis(100);
    let report = run_impaired_link(0.05, delay, None);
    assert!(report.latency_p50 >= delay, "the delay is applied");
    assert!(
        report.whole_frames >= 81,
        "most frames still arrive ({} of 90)",
        report.whole_frames
    );
    assert!(
        report.longest_gap < Duration::from_millis(500),
        "no freeze longer than 500 ms ({:?})",
        report.longest_gap
    );
}

#[tokio::test]
async fn connecting_from_inside_a_tokio_runtime_is_refused_not_a_panic() {
    let config = NetConfig::new("ws://127.0.0.1:9", RoomCode::random(), "x").loopback_only();
    assert!(matches!(
        NetHandle::connect(config),
        Err(samespace::net::error::NetError::InsideRuntime)
    ));
}

/// A minimal STUN server on loopback: answers every Binding request with the
/// sender's address (XOR-MAPPED-ADDRESS) and counts the requests.
struct StunServer {
    port: u16,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StunServer {
    fn start() -> Self {
        use rtc::stun::fingerprint::FINGERPRINT;
        use rtc::stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Message, Setter};
        use rtc::stun::xoraddr::XorMappedAddress;
        use std::sync::atomic::Ordering;

        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a stun port");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let port = socket.local_addr().expect("stun address").port();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (count, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let mut request = Message::new();
                if request.unmarshal_binary(&buf[..n]).is_err() || request.typ != BINDING_REQUEST {
                    continue;
                }
                count.fetch_add(1, Ordering::Relaxed);
                let mapped = XorMappedAddress {
                    ip: from.ip(),
                    port: from.port(),
                };
                let setters: Vec<Box<dyn Setter>> = vec![
                    Box::new(request.transaction_id),
                    Box::new(BINDING_SUCCESS),
                    Box::new(mapped),
                    Box::new(FINGERPRINT),
                ];
                let mut response = Message::new();
                if response.build(&setters).is_ok() {
                    let _ = socket.send_to(&response.raw, from);
                }
            }
        });
        Self {
            port,
            requests,
            stop,
        }
    }
}

impl Drop for StunServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_configured_stun_server_is_asked_and_peers_still_connect() {
    let stun = StunServer::start();
    let server = server();
    let room = RoomCode::random();
    let url = format!("stun:127.0.0.1:{}", stun.port);
    let join = |name: &str| {
        let mut config = NetConfig::new(server.url(), room, name).loopback_only();
        config
            .ice_servers
            .push(samespace::net::peer::IceServer::from_url(&url, "", "").expect("stun url"));
        Probe {
            net: NetHandle::connect(config).expect("join the room"),
            events: Vec::new(),
            media: Vec::new(),
        }
    };
    let (mut a, mut b) = (join("a"), join("b"));
    let (ida, idb) = (a.me(), b.me());
    assert!(a.wait(CONNECT, |p| p.connected_to(idb)));
    assert!(b.wait(CONNECT, |p| p.connected_to(ida)));
    let asked = stun.requests.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        asked >= 2,
        "both peers gathered through the STUN server ({asked} requests)"
    );
}
