//! Three peers in three processes (this test binary re-run as children) on loopback.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use samespace::net::peer::{EncodedMedia, NetCommand, NetConfig, NetEvent, NetHandle};
use samespace::net::protocol::{Chat, PeerToPeer, RoomCode};
use samespace::net::signaling::embedded::EmbeddedServer;
use samespace::net::signaling::server::ServerConfig;
use serde_json::{Value, json};

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The report entry for peer `id`.
fn slot(peers: &mut BTreeMap<u64, Value>, id: u64) -> &mut Value {
    peers
        .entry(id)
        .or_insert_with(|| json!({"frames": 0, "chats": 0}))
}

/// Adds one to a counter of a report entry.
fn bump(entry: &mut Value, counter: &str) {
    entry[counter] = json!(entry[counter].as_u64().unwrap_or(0) + 1);
}

/// One peer: joins, streams a small video unit every 33 ms and a chat line once a
/// second for `SAMESPACE_CHILD_SECONDS`, then writes what it saw to
/// `SAMESPACE_CHILD_REPORT` as JSON. Run by
/// `three_processes_see_each_other_and_a_killed_one_disappears`.
#[test]
#[ignore = "a child process of three_processes_see_each_other_and_a_killed_one_disappears"]
fn child_peer() {
    let (Ok(url), Ok(room), Ok(name), Ok(report)) = (
        std::env::var("SAMESPACE_CHILD_URL"),
        std::env::var("SAMESPACE_CHILD_ROOM"),
        std::env::var("SAMESPACE_CHILD_NAME"),
        std::env::var("SAMESPACE_CHILD_REPORT"),
    ) else {
        return;
    };
    let seconds: u64 = std::env::var("SAMESPACE_CHILD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let room: RoomCode = room.parse().expect("room code");
    let net =
        NetHandle::connect(NetConfig::new(url, room, name.clone()).loopback_only()).expect("join");
    let mut peers: BTreeMap<u64, Value> = BTreeMap::new();
    let started = Instant::now();
    let mut n: u32 = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let mut unit = vec![0, 0, 0, 1, 0x65];
        unit.extend(std::iter::repeat_n((n as u8) | 1, 1500));
        let _ = net.send(NetCommand::Video(EncodedMedia {
            data: Bytes::from(unit),
            duration: Duration::from_millis(33),
            captured_at: Instant::now(),
        }));
        if n.is_multiple_of(30) {
            let _ = net.send(NetCommand::World {
                to: None,
                message: PeerToPeer::Chat(Chat::Text {
                    text: format!("{name} #{n}"),
                }),
            });
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(33));
        for event in net.events().try_iter() {
            match event {
                NetEvent::PeerJoined { id, name } => slot(&mut peers, id.0)["name"] = json!(name),
                NetEvent::PeerConnected { id } => slot(&mut peers, id.0)["connected"] = json!(true),
                NetEvent::PeerLeft { id } => {
                    slot(&mut peers, id.0)["left_at_unix_ms"] = json!(unix_ms());
                }
                NetEvent::World {
                    from,
                    message: PeerToPeer::Chat(_),
                } => bump(slot(&mut peers, from.0), "chats"),
                _ => {}
            }
        }
        for media in net.media().try_iter() {
            if let NetEvent::Video(unit) = media {
                bump(slot(&mut peers, unit.from.0), "frames");
            }
        }
    }
    let out = json!({
        "me": net.me().0,
        "name": name,
        "peers": peers.into_values().collect::<Vec<_>>(),
    });
    std::fs::write(&report, out.to_string()).expect("write report");
    net.leave();
}

fn spawn_child(
    server: &EmbeddedServer,
    room: RoomCode,
    name: &str,
    seconds: u64,
) -> (Child, PathBuf) {
    let exe = std::env::current_exe().expect("test binary path");
    let report = std::env::temp_dir().join(format!(
        "samespace-child-{}-{}-{name}.json",
        std::process::id(),
        room
    ));
    let _ = std::fs::remove_file(&report);
    let child = Command::new(exe)
        .args([
            "--exact",
            "process_mesh::child_peer",
            "--ignored",
            "--test-threads=1",
        ])
        .env("SAMESPACE_CHILD_URL", server.url())
        .env("SAMESPACE_CHILD_ROOM", room.to_string())
        .env("SAMESPACE_CHILD_NAME", name)
        .env("SAMESPACE_CHILD_SECONDS", seconds.to_string())
        .env("SAMESPACE_CHILD_REPORT", &report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child peer");
    (child, report)
}

fn wait_for(child: &mut Child, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    false
}

fn peer_named<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["peers"]
        .as_array()
        .and_then(|peers| peers.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{} does not list {name}: {report}", report["name"]))
}

/// How the third peer goes away.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Vanish {
    /// SIGKILL: its sockets close, the server notices at once.
    Kill,
    /// SIGSTOP: its sockets stay open, so only ICE consent (2 s) plus the session's
    /// grace (4 s), then the 3 s the others wait for an answer to their new
    /// connection (`RESTART_ANSWER_TIMEOUT`), can tell.
    Freeze,
}

/// Runs ada and bob for `seconds`, and cat until it is made to vanish after 4 s;
/// returns how long after that each of ada and bob reported cat gone.
fn three_processes(vanish: Vanish, seconds: u64) -> Vec<u64> {
    crate::common::init_logging();
    let server = EmbeddedServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        ServerConfig::default(),
    )
    .expect("server");
    let room = RoomCode::random();
    let (mut ada, ada_report) = spawn_child(&server, room, "ada", seconds);
    let (mut bob, bob_report) = spawn_child(&server, room, "bob", seconds);
    let (mut cat, _) = spawn_child(&server, room, "cat", seconds + 30);

    std::thread::sleep(Duration::from_secs(4));
    let vanished_at = unix_ms();
    match vanish {
        Vanish::Kill => cat.kill().expect("kill cat"),
        Vanish::Freeze => {
            let status = Command::new("kill")
                .args(["-STOP", &cat.id().to_string()])
                .status()
                .expect("run kill -STOP");
            assert!(status.success(), "cat frozen");
        }
    }

    let ada_ok = wait_for(&mut ada, Duration::from_secs(seconds + 30));
    let bob_ok = wait_for(&mut bob, Duration::from_secs(seconds + 30));
    let _ = cat.kill();
    let _ = cat.wait();
    assert!(ada_ok && bob_ok, "ada and bob ran to the end");
    let mut noticed = Vec::new();
    for (path, me, other) in [(&ada_report, "ada", "bob"), (&bob_report, "bob", "ada")] {
        let text = std::fs::read_to_string(path).expect("child report");
        let _ = std::fs::remove_file(path);
        let report: Value = serde_json::from_str(&text).expect("report json");
        let friend = peer_named(&report, other);
        let cat = peer_named(&report, "cat");
        eprintln!("{vanish:?}: {me} saw {other}: {friend}, cat: {cat}");
        assert!(
            friend["frames"].as_u64().unwrap_or(0) > 100,
            "{me} got {other}'s video"
        );
        assert!(
            friend["chats"].as_u64().unwrap_or(0) >= 3,
            "{me} got {other}'s chat"
        );
        // Only when its run ended may it have left.
        let friend_left = friend["left_at_unix_ms"].as_u64();
        assert!(
            friend_left.is_none_or(|t| t > vanished_at + (seconds - 4) * 1000 - 1500),
            "{other} stayed for {me} while cat vanished"
        );
        assert!(
            cat["frames"].as_u64().unwrap_or(0) > 10,
            "{me} got cat's video before it vanished"
        );
        let left_at = cat["left_at_unix_ms"].as_u64().expect("cat reported left");
        noticed.push(left_at.saturating_sub(vanished_at));
    }
    eprintln!("{vanish:?}: ada and bob reported cat gone after {noticed:?} ms");
    noticed
}

#[test]
fn three_processes_see_each_other_and_a_killed_one_disappears() {
    let noticed = three_processes(Vanish::Kill, 8);
    assert!(
        noticed.iter().all(|&ms| ms < 3_000),
        "noticed within seconds"
    );
}

#[test]
fn a_frozen_process_is_reported_left_by_ice_within_seconds() {
    let noticed = three_processes(Vanish::Freeze, 20);
    assert!(
        noticed.iter().all(|&ms| ms < 13_000),
        "ICE liveness and the unanswered start-over noticed within 13 s"
    );
}
