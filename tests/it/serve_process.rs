//! `samespace serve` as its own process: its memory under clients that stop reading,
//! and `samespace demo` joining it over `wss://` with a secret.

use std::collections::HashSet;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use samespace::net::protocol::{ClientToServer, PeerId, RoomCode, ServerToClient};
use samespace::net::protocol::{SdpKind, SessionDescription, SignalPayload};
use samespace::net::signaling::client::SignalingClient;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{TestCa, read_json, temp_dir, text};

/// `samespace serve` killed when dropped.
struct ServeProcess {
    child: Child,
    port: u16,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    /// Starts `samespace serve` on a free loopback port with `extra` arguments and
    /// waits until it accepts connections.
    fn start(dir: &Path, extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("serve.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_samespace"))
            .args(["serve", "--bind", &addr])
            .args(extra)
            .env("RUST_LOG", "samespace=info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start samespace serve");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "server did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// A `VmRSS`-style line of `/proc/PID/status`, in kB.
    fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }
}

const STEP: Duration = Duration::from_secs(5);

async fn joined(url: &str, room: RoomCode, name: &str) -> (SignalingClient, PeerId) {
    let mut client = SignalingClient::connect(url).await.expect("connect");
    let welcome = client.join(room, name, None).await.expect("join");
    (client, welcome.you)
}

/// One sender of a room: signals 60 KB offers, 40 a second (inside the rate limit),
/// round robin to the room's stalled readers until each is reported gone (or
/// `limit`); returns when each went, after the first signal.
async fn send_until_dropped(
    mut client: SignalingClient,
    stalled: usize,
    limit: Duration,
) -> Vec<Duration> {
    let big = SignalPayload::Sdp(SessionDescription {
        kind: SdpKind::Offer,
        sdp: "x".repeat(60_000),
    });
    let mut targets: Vec<PeerId> = Vec::new();
    let mut gone: HashSet<PeerId> = HashSet::new();
    let mut dropped_after = Vec::new();
    let mut next_target = 0;
    let mut started: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    let begin = Instant::now();
    while (targets.len() < stalled || gone.len() < stalled) && begin.elapsed() < limit {
        tokio::select! {
            msg = client.recv() => match msg.expect("the sender stays connected") {
                ServerToClient::PeerJoined { id, name } if name.starts_with("stalled") => {
                    targets.push(id);
                }
                ServerToClient::PeerLeft { id, .. } if targets.contains(&id) && gone.insert(id) => {
                    dropped_after.push(started.map_or(Duration::ZERO, |s| s.elapsed()));
                }
                _ => {}
            },
            _ = tick.tick() => {
                let live: Vec<PeerId> =
                    targets.iter().copied().filter(|id| !gone.contains(id)).collect();
                if live.len() + gone.len() == stalled && !live.is_empty() {
                    let to = live[next_target % live.len()];
                    next_target += 1;
                    started.get_or_insert_with(Instant::now);
                    client
                        .send(&ClientToServer::Signal { to, attempt: 0, payload: big.clone() })
                        .await
                        .expect("send");
                }
            }
        }
    }
    assert_eq!(gone.len(), stalled, "not every stalled reader was dropped");
    dropped_after
}

/// A relay between two members of a quiet room, within [`STEP`].
async fn relay(a: &mut SignalingClient, b: &mut SignalingClient, b_id: PeerId) {
    let probe = SignalPayload::Sdp(SessionDescription {
        kind: SdpKind::Offer,
        sdp: "v=0".into(),
    });
    a.send(&ClientToServer::Signal {
        to: b_id,
        attempt: 0,
        payload: probe.clone(),
    })
    .await
    .expect("send");
    match tokio::time::timeout(STEP, b.recv()).await {
        Ok(Ok(ServerToClient::Signal { payload, .. })) => assert_eq!(payload, probe),
        other => panic!("the quiet room stopped working: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_stalled_readers_keep_the_server_small_and_other_rooms_working() {
    const ROOMS: usize = 4;
    const STALLED_PER_ROOM: usize = 5;
    const SENDERS_PER_ROOM: usize = 2;
    let dir = temp_dir("stalled-readers");
    // Every client comes from 127.0.0.1: no per-address join limit here.
    let server = ServeProcess::start(&dir, &["--join-rate", "off"]);
    let url = format!("ws://127.0.0.1:{}", server.port);
    let idle_kb = server.memory_kb("VmRSS");
    let idle_anon_kb = server.memory_kb("RssAnon");

    let quiet: RoomCode = "QQQ-RRR".parse().expect("room code");
    let (mut qa, _) = joined(&url, quiet, "qa").await;
    let (mut qb, qb_id) = joined(&url, quiet, "qb").await;
    let _ = tokio::time::timeout(STEP, qa.recv()).await; // qb joined

    let mut senders = tokio::task::JoinSet::new();
    let mut stalled = Vec::new();
    for r in 0..ROOMS {
        let room = RoomCode::from_random(r as u64 * 7919 + 11);
        let mut members = Vec::new();
        for s in 0..SENDERS_PER_ROOM {
            members.push(joined(&url, room, &format!("sender-{r}-{s}")).await.0);
        }
        // They join and then never read again.
        for i in 0..STALLED_PER_ROOM {
            let (mut ws, _) = tokio_tungstenite::connect_async(&url)
                .await
                .expect("raw connect");
            let join = format!(r#"{{"type":"join","room":"{room}","name":"stalled-{i}"}}"#);
            ws.send(Message::text(join)).await.expect("join");
            stalled.push(ws);
        }
        for member in members {
            senders.spawn(send_until_dropped(
                member,
                STALLED_PER_ROOM,
                Duration::from_secs(60),
            ));
        }
    }

    // Meanwhile the quiet room relays, and the server's memory is sampled.
    let mut peak_sampled_kb = 0;
    let mut peak_anon_kb = 0;
    let mut relays = 0;
    while !senders.is_empty() {
        relay(&mut qa, &mut qb, qb_id).await;
        relays += 1;
        peak_sampled_kb = peak_sampled_kb.max(server.memory_kb("VmRSS"));
        peak_anon_kb = peak_anon_kb.max(server.memory_kb("RssAnon"));
        let wait = tokio::time::sleep(Duration::from_millis(300));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                done = senders.join_next() => match done {
                    Some(result) => {
                        let dropped_after = result.expect("sender task");
                        let slowest = dropped_after.iter().max().copied().unwrap_or_default();
                        eprintln!("a sender saw its stalled readers dropped, the last after {slowest:.1?}");
                    }
                    None => break,
                },
                () = &mut wait => break,
            }
        }
    }
    relay(&mut qa, &mut qb, qb_id).await;
    let peak_kb = server.memory_kb("VmHWM");
    let end_kb = server.memory_kb("VmRSS");
    let anon_kb = server.memory_kb("RssAnon");
    eprintln!(
        "serve with {} stalled readers: VmRSS idle {idle_kb} kB (heap {idle_anon_kb} kB), \
         peak sampled {peak_sampled_kb} kB (heap {peak_anon_kb} kB), VmHWM {peak_kb} kB, at the \
         end {end_kb} kB (heap {anon_kb} kB); the quiet room relayed {relays} times",
        stalled.len()
    );
    // What the server holds is its anonymous memory (heap, stacks, buffers). The
    // resident total adds the pages of the binary and its shared libraries that
    // were touched (tens of MB for a debug build that also links FFmpeg and the
    // renderer), which no number of clients changes.
    assert!(
        peak_anon_kb.max(anon_kb) < 50 * 1024,
        "the server held {peak_anon_kb} kB with {} stalled readers",
        stalled.len()
    );
    drop(stalled);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `samespace demo` headless against `url` with `extra` arguments.
fn demo(dir: &Path, url: &str, name: &str, extra: &[&str]) -> std::process::Output {
    let report = dir.join(format!("{name}.json"));
    let snapshot = dir.join(format!("{name}.png"));
    Command::new(env!("CARGO_BIN_EXE_samespace"))
        .args([
            "demo",
            "--headless",
            "--seconds",
            "3",
            "--participants",
            "1",
        ])
        .args(["--width", "320", "--height", "180", "--audio", "synthetic"])
        .args(["--server", url, "--room", "TSK-DEM", "--name", name])
        .arg("--report")
        .arg(&report)
        .arg("--snapshot")
        .arg(&snapshot)
        .args(extra)
        .current_dir(crate::common::root())
        .env("RUST_LOG", "samespace=info")
        .output()
        .expect("run samespace demo")
}

#[test]
fn demo_joins_a_tls_room_with_its_secret_and_a_wrong_secret_fails_with_the_reason() {
    let dir = temp_dir("demo-wss");
    let ca = TestCa::create(&dir);
    let cert = ca.cert.display().to_string();
    let key = ca.key.display().to_string();
    let server = ServeProcess::start(
        &dir,
        &["--tls-cert", &cert, "--tls-key", &key, "--secret", "S3cret"],
    );
    let url = format!("wss://localhost:{}", server.port);
    let ca_file = ca.ca.display().to_string();

    let out = demo(
        &dir,
        &url,
        "right",
        &["--ca", &ca_file, "--secret", "S3cret"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report = read_json(&dir.join("right.json"));
    assert_eq!(report["net"]["room"], "TSK-DEM", "{report}");

    let out = demo(
        &dir,
        &url,
        "wrong",
        &["--ca", &ca_file, "--secret", "guess"],
    );
    assert!(!out.status.success(), "a wrong secret was let in");
    let said = text(&out);
    assert!(
        said.contains("unauthorized") && said.contains("wrong secret"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
