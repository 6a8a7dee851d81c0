//! Two peers on separate network stacks: network namespaces joined by a veth pair,
//! 5% of all UDP dropped by nftables in each namespace (real loss on every packet:
//! ICE, DTLS, RTP, RTCP, retransmissions, data channels) and 100 ms added to
//! outgoing media inside the app (this kernel has no `netem` qdisc, so the delay
//! cannot come from `tc`). Outages: all UDP between the namespaces cut for a while
//! (the server stays reachable over TCP), or the server killed and restarted. Skips
//! with a message where namespaces cannot be created (not root, no `ip`/`nft`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{read_json, temp_dir};

pub(crate) fn run(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Namespaces and the veth pair, removed when dropped.
struct Link {
    a: String,
    b: String,
}

impl Drop for Link {
    fn drop(&mut self) {
        run(&["ip", "netns", "del", &self.a]);
        run(&["ip", "netns", "del", &self.b]);
    }
}

fn make_link(tag: u32) -> Option<(Link, String, String)> {
    let (a, b) = (format!("ss-a-{tag}"), format!("ss-b-{tag}"));
    if !run(&["ip", "netns", "add", &a]) {
        return None;
    }
    let link = Link {
        a: a.clone(),
        b: b.clone(),
    };
    let (va, vb) = (format!("ssva{tag}"), format!("ssvb{tag}"));
    let net = 16 + tag % 200;
    let (ip_a, ip_b) = (format!("10.77.{net}.1"), format!("10.77.{net}.2"));
    let steps: Vec<Vec<String>> = vec![
        vec!["ip", "netns", "add", &b],
        vec![
            "ip", "link", "add", &va, "type", "veth", "peer", "name", &vb,
        ],
        vec!["ip", "link", "set", &va, "netns", &a],
        vec!["ip", "link", "set", &vb, "netns", &b],
        vec![
            "ip",
            "-n",
            &a,
            "addr",
            "add",
            &format!("{ip_a}/24"),
            "dev",
            &va,
        ],
        vec![
            "ip",
            "-n",
            &b,
            "addr",
            "add",
            &format!("{ip_b}/24"),
            "dev",
            &vb,
        ],
        vec!["ip", "-n", &a, "link", "set", &va, "up"],
        vec!["ip", "-n", &b, "link", "set", &vb, "up"],
        vec!["ip", "-n", &a, "link", "set", "lo", "up"],
        vec!["ip", "-n", &b, "link", "set", "lo", "up"],
        // A default route: without one, joining the ICE stack's multicast (mDNS) group fails with ENODEV.
        vec!["ip", "-n", &a, "route", "add", "default", "dev", &va],
        vec!["ip", "-n", &b, "route", "add", "default", "dev", &vb],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    for step in &steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        if !run(&args) {
            return None;
        }
    }
    Some((link, ip_a, ip_b))
}

/// Drops `percent` of the UDP packets arriving in namespace `ns` (an nftables table
/// of its own, `table`, so it can be lifted again with [`lift`]).
fn drop_udp(ns: &str, table: &str, percent: u32) -> bool {
    let nft = |args: &[&str]| {
        let mut all = vec!["ip", "netns", "exec", ns, "nft"];
        all.extend_from_slice(args);
        run(&all)
    };
    let share = percent.to_string();
    let rule: Vec<&str> = if percent >= 100 {
        vec![
            "add", "rule", "inet", table, "in", "meta", "l4proto", "udp", "drop",
        ]
    } else {
        vec![
            "add", "rule", "inet", table, "in", "meta", "l4proto", "udp", "numgen", "random",
            "mod", "100", "<", &share, "drop",
        ]
    };
    nft(&["add", "table", "inet", table])
        && nft(&[
            "add",
            "chain",
            "inet",
            table,
            "in",
            "{ type filter hook input priority 0; }",
        ])
        && nft(&rule)
}

/// Removes what [`drop_udp`] added.
fn lift(ns: &str, table: &str) -> bool {
    run(&[
        "ip", "netns", "exec", ns, "nft", "delete", "table", "inet", table,
    ])
}

/// Two linked namespaces (the `n`th pair of this test process) with `rules` applied,
/// or `None` after a message saying why the test is skipped.
fn namespaces(n: u32, rules: impl FnOnce(&Link) -> bool) -> Option<(Link, String, String)> {
    let tag = std::process::id() % 10_000 * 2 + n;
    let made = make_link(tag).filter(|(link, _, _)| rules(link));
    if made.is_none() {
        eprintln!(
            "skipping a network-namespace test: cannot create namespaces, veth or nftables rules here (needs root, iproute2 and nftables)"
        );
    }
    made
}

/// The log of the peer whose report goes to `report`.
pub(crate) fn log_path(report: &Path) -> std::path::PathBuf {
    report.with_extension("log")
}

/// Waits until the peer reporting to `report` has logged that it is in the room,
/// so that a peer started after it cannot take the room (and the host's role) first
/// on a busy machine.
pub(crate) fn wait_in_room(report: &Path) {
    assert!(
        crate::common::wait_for_log(&log_path(report), "in the room"),
        "{} never joined",
        report.display()
    );
}

/// The report line about peer `name`.
pub(crate) fn peer_line<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["peers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{name} missing: {report}"))
}

/// Video (over 30 pictures) and audio (over 2 s) came from peer `name`.
pub(crate) fn assert_media_from(report: &serde_json::Value, name: &str, log: &str) {
    let p = peer_line(report, name);
    assert!(
        p["video_frames"].as_u64().unwrap_or(0) > 30,
        "video from {name}: {p}\n{log}"
    );
    assert!(p["audio_ms"].as_f64().unwrap_or(0.0) > 2000.0, "{p}");
}

/// Waits for both peers (each must succeed), stops the server, and returns each
/// peer's log and report.
pub(crate) fn finish(
    peers: [(Child, &Path); 2],
    mut server: Child,
) -> ((String, serde_json::Value), (String, serde_json::Value)) {
    let [a, b] = peers.map(|(mut child, report)| {
        let status = child.wait().expect("a peer");
        (status, report)
    });
    let _ = server.kill();
    let _ = server.wait();
    let done = |(status, report): (std::process::ExitStatus, &Path)| {
        let log = std::fs::read_to_string(log_path(report)).unwrap_or_default();
        assert!(status.success(), "{log}");
        let json = read_json(report);
        (log, json)
    };
    (done(a), done(b))
}

/// `samespace serve` inside namespace `ns` on `addr`; returns it and its URL.
pub(crate) fn serve(ns: &str, addr: &str) -> (Child, String) {
    let server = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            env!("CARGO_BIN_EXE_samespace"),
            "serve",
        ])
        .args(["--bind", addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    std::thread::sleep(std::time::Duration::from_millis(500));
    (server, format!("ws://{addr}"))
}

pub(crate) fn peer(
    ns: &str,
    server: &str,
    name: &str,
    seconds: &str,
    report: &Path,
    extra: &[&str],
) -> Child {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            env!("CARGO_BIN_EXE_samespace"),
            "demo",
            "--headless",
            "--server",
            server,
            "--room",
            "NET-NSX",
            "--name",
            name,
        ])
        .args([
            "--participants",
            "1",
            "--seconds",
            seconds,
            "--audio",
            "synthetic",
            "--sim-delay-ms",
            "100",
            "--width",
            "640",
            "--height",
            "360",
            "--report",
        ])
        .arg(report)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log_path(report)).expect("log file"))
        .spawn()
        .expect("start a peer")
}

/// Alba (namespace a) joins first and hosts balloon keep-up; once she is in the
/// room, Bruno (namespace b) joins. ICE binds each to its namespace's one link
/// address; a connection not up in 8 s is started over. `seconds` and `reports`
/// are Alba's and Bruno's.
fn alba_hosts_and_bruno_follows(
    link: &Link,
    url: &str,
    seconds: (&str, &str),
    reports: (&Path, &Path),
    ips: (&str, &str),
) -> (Child, Child) {
    let (bind_a, bind_b) = (format!("{}:0", ips.0), format!("{}:0", ips.1));
    let pa = peer(
        &link.a,
        url,
        "Alba",
        seconds.0,
        reports.0,
        &[
            "--game",
            "balloon-keepup",
            "--ice-bind",
            &bind_a,
            "--connect-timeout-secs",
            "8",
        ],
    );
    wait_in_room(reports.0);
    let pb = peer(
        &link.b,
        url,
        "Bruno",
        seconds.1,
        reports.1,
        &["--ice-bind", &bind_b, "--connect-timeout-secs", "8"],
    );
    (pa, pb)
}

#[test]
fn video_audio_and_state_cross_a_lossy_delayed_link_between_namespaces() {
    let Some((link, ip_a, ip_b)) = namespaces(0, |link| {
        drop_udp(&link.a, "impair", 5) && drop_udp(&link.b, "impair", 5)
    }) else {
        return;
    };
    let dir = temp_dir("netns");
    let (server, url) = serve(&link.a, &format!("{ip_a}:9481"));
    let (ra, rb) = (dir.join("a.json"), dir.join("b.json"));
    // Alba creates the room and hosts a game; Bruno follows it over the lossy link
    // and leaves first, so Alba's view of him is the last thing he did. ICE uses
    // each namespace's one link (not also its loopback). 20 s leave room for a slow
    // DTLS handshake (its flights are lost too, and webrtc-rs retries each after
    // 1 s); one that has not finished in 8 s is started over.
    let (pa, pb) =
        alba_hosts_and_bruno_follows(&link, &url, ("22", "20"), (&ra, &rb), (&ip_a, &ip_b));
    let ((oa, ja), (ob, jb)) = finish([(pa, &ra), (pb, &rb)], server);
    // The peers' own logs (connection states), for a failure message.
    let logs = [("Alba", &oa), ("Bruno", &ob)]
        .iter()
        .map(|(name, all)| {
            let lines: Vec<&str> = all.lines().filter(|l| !l.contains("duplicated")).collect();
            let from = lines.len().saturating_sub(40);
            format!("--- {name} ---\n{}", lines[from..].join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n");
    for (json, me, them, other) in [(&ja, "Alba", &jb, "Bruno"), (&jb, "Bruno", &ja, "Alba")] {
        let p = peer_line(json, other);
        let num = |key: &str| p[key].as_f64().unwrap_or(0.0);
        eprintln!(
            "{me} <- {other}: {} of {} pictures shown, longest freeze {:.0} ms, {} packets \
             repaired of {} missing, {} lost, playout delay {:.0} ms, glass-to-glass p50 {:.0} ms",
            num("frames_shown"),
            num("frames_sent_to_us"),
            num("longest_freeze_ms"),
            num("packets_recovered"),
            num("packets_recovered") + num("packets_lost"),
            num("packets_lost"),
            num("playout_delay_ms"),
            num("glass_to_glass_ms"),
        );
        // About 20 s at 15 fps were sent. Video keeps flowing through the loss:
        // NACK retransmissions repair it, keyframes recover what they cannot, and
        // the playout keeps the pictures' rhythm (DESIGN: >= 90% shown).
        assert!(num("frames_sent_to_us") > 100.0, "{other}: {p}\n{logs}");
        assert!(
            num("frames_shown") >= 0.9 * num("frames_sent_to_us"),
            "{me} shows at least 90% of {other}'s pictures: {p}"
        );
        assert!(
            num("packets_recovered") > 0.0,
            "retransmissions repaired lost packets: {p}"
        );
        assert!(num("present_s") > 10.0, "{other}: {p}");
        assert!(num("audio_ms") > 5000.0, "{other}: {p}");
        assert_eq!(p["tone_detected"], true, "{other}'s tone: {p}");
        assert!(num("alpha_probes_matched") >= 3.0, "{other}: {p}");
        assert!(num("alpha_iou_min") >= 0.9, "{other}: {p}");
        assert!(
            num("network_p50_ms") >= 100.0,
            "the delay was not applied: {p}"
        );
        // World state converges: each shows the other where they put themselves.
        let own = |report: &serde_json::Value| {
            report["participants"]
                .as_array()
                .and_then(|ps| ps.iter().find(|q| q["local"] == true))
                .map(|q| q["placement"].clone())
                .unwrap_or_default()
        };
        assert!(
            p["placement"].is_object(),
            "{me} got {other}'s placement: {p}"
        );
        if me == "Alba" {
            // Bruno left while Alba stayed: her view is his final placement.
            // (The wire placement also carries the sender's `frame_width`.)
            let theirs = own(them);
            let fields = theirs.as_object().cloned().unwrap_or_default();
            assert!(!fields.is_empty(), "{other}'s own placement: {theirs}");
            for (key, value) in fields {
                assert_eq!(p["placement"][&key], value, "{me}'s view of {other}: {key}");
            }
        } else {
            // Alba re-centred after Bruno left; while both were there they stood
            // side by side, not on top of each other.
            let (x_them, x_me) = (p["placement"]["x"].as_f64(), own(json)["x"].as_f64());
            assert!(
                x_them.zip(x_me).is_some_and(|(a, b)| (a - b).abs() > 100.0),
                "{me} at {x_me:?}, {other} at {x_them:?}"
            );
        }
    }
    // The game state crosses too: Bruno plays Alba's game from her snapshots.
    let net = &jb["net"];
    assert_eq!(
        net["game"], "balloon-keepup",
        "Bruno follows the game: {net}"
    );
    assert!(
        net["game_snapshots_received"].as_f64().unwrap_or(0.0) > 100.0,
        "snapshots keep arriving through the loss: {net}"
    );
}

#[test]
fn a_connection_that_cannot_come_up_is_started_over_until_it_does() {
    // No UDP reaches Bruno at first: ICE cannot succeed, whatever it tries.
    let Some((link, ip_a, ip_b)) = namespaces(1, |link| drop_udp(&link.b, "block", 100)) else {
        return;
    };
    let dir = temp_dir("netns-retry");
    let (server, url) = serve(&link.a, &format!("{ip_a}:9482"));
    let (ra, rb) = (dir.join("a.json"), dir.join("b.json"));
    let (bind_a, bind_b) = (format!("{ip_a}:0"), format!("{ip_b}:0"));
    let retry = ["--connect-timeout-secs", "3"];
    let pa = peer(
        &link.a,
        &url,
        "Alba",
        "16",
        &ra,
        &[&["--ice-bind", bind_a.as_str()][..], &retry].concat(),
    );
    let pb = peer(
        &link.b,
        &url,
        "Bruno",
        "16",
        &rb,
        &[&["--ice-bind", bind_b.as_str()][..], &retry].concat(),
    );
    // The first attempt times out after 3 s; the link opens at 5 s.
    std::thread::sleep(Duration::from_secs(5));
    assert!(lift(&link.b, "block"), "lift the block");
    let ((oa, ja), (ob, jb)) = finish([(pa, &ra), (pb, &rb)], server);
    let reconnects = |j: &serde_json::Value| j["net"]["reconnects"].as_u64().unwrap_or(0);
    assert!(
        reconnects(&ja) + reconnects(&jb) >= 1,
        "a connection was started over: {} / {}",
        ja["net"],
        jb["net"]
    );
    // Once connected, media flows.
    assert_media_from(&ja, "Bruno", &oa);
    assert_media_from(&jb, "Alba", &ob);
}

#[test]
fn peers_connect_in_a_namespace_with_only_loopback_and_no_multicast_route() {
    // One namespace, `lo` up and nothing else: no default route, so no multicast
    // route for the mDNS group. Signaling and both peers run inside it.
    let ns = format!("ss-lo-{}", std::process::id() % 10_000);
    if !(run(&["ip", "netns", "add", &ns]) && run(&["ip", "-n", &ns, "link", "set", "lo", "up"])) {
        run(&["ip", "netns", "del", &ns]);
        eprintln!("skipping a network-namespace test: cannot create namespaces here");
        return;
    }
    let _ns = Link {
        a: ns.clone(),
        b: String::new(),
    };
    let dir = temp_dir("netns-lo");
    let (server, url) = serve(&ns, "127.0.0.1:9483");
    let (ra, rb) = (dir.join("a.json"), dir.join("b.json"));
    let pa = peer(&ns, &url, "Alba", "9", &ra, &[]);
    wait_in_room(&ra);
    let pb = peer(&ns, &url, "Bruno", "8", &rb, &[]);
    let ((la, ja), (lb, jb)) = finish([(pa, &ra), (pb, &rb)], server);
    // Without a multicast route, media flows: each decoded and showed the other's
    // cutouts and heard the other.
    assert_media_from(&ja, "Bruno", &la);
    assert_media_from(&jb, "Alba", &lb);
    for (json, other) in [(&ja, "Bruno"), (&jb, "Alba")] {
        let p = peer_line(json, other);
        assert!(
            p["frames_shown"].as_u64().unwrap_or(0) > 30,
            "{other}'s cutouts shown: {p}"
        );
    }
    // ... and it was the case the test is about: the mDNS group could not be joined.
    for log in [&la, &lb] {
        assert!(
            log.contains("no mDNS here"),
            "the namespace had a multicast route after all:\n{log}"
        );
        assert!(!log.contains("could not create a peer connection"), "{log}");
    }
}

/// Two peers in a room across the link; after both are connected, all UDP between
/// them (ICE, DTLS, media, data channels: both directions) is dropped for `outage`,
/// then let through again. Signaling (TCP to the server in Alba's namespace) stays
/// up, so each still lists the other. Returns each side's report, log and the
/// measured outage (drop to lift).
fn through_an_outage(
    n: u32,
    port: u16,
    outage: Duration,
) -> Option<[(serde_json::Value, String); 2]> {
    let (link, ip_a, ip_b) = namespaces(n, |_| true)?;
    let dir = temp_dir("netns-outage");
    let (server, url) = serve(&link.a, &format!("{ip_a}:{port}"));
    let (ra, rb) = (dir.join("a.json"), dir.join("b.json"));
    // Alba hosts a game and stays 2 s longer, so Bruno follows her game to his end.
    let seconds = (outage.as_secs() + 24).to_string();
    let longer = (outage.as_secs() + 26).to_string();
    let (pa, pb) =
        alba_hosts_and_bruno_follows(&link, &url, (&longer, &seconds), (&ra, &rb), (&ip_a, &ip_b));
    for report in [&ra, &rb] {
        assert!(
            crate::common::wait_for_log(&log_path(report), "peer connected"),
            "{} never connected",
            report.display()
        );
    }
    // Pictures flow for a while first.
    std::thread::sleep(Duration::from_secs(3));
    let dropped = std::time::Instant::now();
    assert!(
        drop_udp(&link.a, "outage", 100) && drop_udp(&link.b, "outage", 100),
        "cut the link"
    );
    std::thread::sleep(outage);
    assert!(
        lift(&link.a, "outage") && lift(&link.b, "outage"),
        "lift the cut"
    );
    let measured = dropped.elapsed();
    let ((la, ja), (lb, jb)) = finish([(pa, &ra), (pb, &rb)], server);
    eprintln!("link down for {:.1} s", measured.as_secs_f64());
    Some([(ja, la, "Alba"), (jb, lb, "Bruno")].map(|(json, log, me)| {
        let cut = measured.as_secs_f64() * 1000.0;
        let freeze = json["peers"]
            .as_array()
            .and_then(|ps| ps.first())
            .and_then(|p| p["longest_freeze_ms"].as_f64())
            .unwrap_or(f64::MAX);
        eprintln!(
            "{me}: longest freeze {freeze:.0} ms, pictures back {:.0} ms after the lift, {} ICE restarts, {} reconnects",
            freeze - cut,
            json["net"]["ice_restarts"],
            json["net"]["reconnects"]
        );
        (json, log)
    }))
}

/// After the outage each shows the other's pictures again within 5 s of the link's
/// return, without a rejoin: the same peer throughout, never reported left.
fn assert_resumed_without_rejoin(sides: &[(serde_json::Value, String); 2], outage: Duration) {
    for ((json, log), other) in sides.iter().zip(["Bruno", "Alba"]) {
        let peers = json["peers"].as_array().map_or(0, Vec::len);
        assert_eq!(peers, 1, "one peer throughout, not a second one: {json}");
        let p = peer_line(json, other);
        // Met once; gone at most once, at the end, when the first of the two finishes.
        let said = |what: &str| {
            let what = format!("peer {what}");
            log.lines()
                .filter(|l| l.contains("net::plugin") && l.contains(&what))
                .count()
        };
        assert_eq!(said("joined"), 1, "{other} joined again:\n{log}");
        assert!(said("left") <= 1, "{other} left more than once:\n{log}");
        assert!(
            p["present_s"].as_f64().unwrap_or(0.0) > outage.as_secs_f64() + 8.0,
            "{other} stayed through the outage and after: {p}\n{log}"
        );
        let freeze = p["longest_freeze_ms"].as_f64().unwrap_or(f64::MAX);
        let limit = (outage + Duration::from_secs(5)).as_secs_f64() * 1000.0;
        assert!(
            freeze < limit,
            "{other}'s pictures came back more than 5 s after the link: {p}\n{log}"
        );
        assert!(
            p["frames_shown"].as_u64().unwrap_or(0) > 100,
            "{other}'s pictures shown: {p}"
        );
        // Said on screen (a headless run logs its notices): down, then back.
        for said in [
            format!("lost the connection to {other}: reconnecting"),
            format!("connection to {other} is back"),
        ] {
            assert!(log.contains(&said), "no notice {said:?}:\n{log}");
        }
    }
    // The game state resynced: Bruno's newest tick of Alba's game is from near his
    // end (Alba's last tick is at most her 2 s more, plus slack, ahead at 60 ticks
    // a second), not from before the cut.
    let (alba, bruno) = (&sides[0].0["net"], &sides[1].0["net"]);
    let tick = |net: &serde_json::Value| net["game_tick"].as_u64().unwrap_or(0);
    eprintln!(
        "game: Alba's last tick {}, Bruno's newest {} ({} snapshots)",
        tick(alba),
        tick(bruno),
        bruno["game_snapshots_received"]
    );
    assert_eq!(bruno["game"], "balloon-keepup", "Bruno follows: {bruno}");
    assert!(
        tick(bruno) + 6 * 60 > tick(alba),
        "Bruno's game state is stale after the outage: {bruno} / {alba}"
    );
}

/// The connection that was up comes back by ICE restarts on the same connection
/// (no fresh connection: `reconnects` 0), begun by the lower id only.
fn assert_restarted_ice(sides: &[(serde_json::Value, String); 2], at_least: u64) {
    let count = |json: &serde_json::Value, what: &str| json["net"][what].as_u64().unwrap_or(0);
    let restarts: Vec<u64> = sides
        .iter()
        .map(|(j, _)| count(j, "ice_restarts"))
        .collect();
    assert!(
        restarts.iter().sum::<u64>() >= at_least,
        "at least {at_least} ICE restarts: {restarts:?}"
    );
    assert!(
        restarts.contains(&0),
        "only one side (the lower id) restarts: {restarts:?}"
    );
    for (json, log) in sides {
        assert_eq!(
            count(json, "reconnects"),
            0,
            "the same connection came back, no fresh one:\n{log}"
        );
    }
}

#[test]
fn media_resumes_within_5_s_of_a_5_s_outage_without_a_rejoin() {
    let outage = Duration::from_secs(5);
    let Some(sides) = through_an_outage(2, 9484, outage) else {
        return;
    };
    assert_resumed_without_rejoin(&sides, outage);
    assert_restarted_ice(&sides, 1);
}

#[test]
fn a_12_s_outage_is_bridged_by_repeated_ice_restarts_and_the_peer_stays() {
    // 12 s: ICE is `disconnected` after 2 s and each restart's checks end after
    // 1.6 s, so the lower id restarts again and again until the link is back.
    let outage = Duration::from_secs(12);
    let Some(sides) = through_an_outage(3, 9485, outage) else {
        return;
    };
    assert_resumed_without_rejoin(&sides, outage);
    assert_restarted_ice(&sides, 3);
}

#[test]
fn peers_keep_their_media_while_signaling_is_down_and_rejoin_when_it_returns() {
    let Some((link, ip_a, ip_b)) = namespaces(4, |_| true) else {
        return;
    };
    let dir = temp_dir("netns-signaling-outage");
    let addr = format!("{ip_a}:9486");
    let (server, url) = serve(&link.a, &addr);
    let (ra, rb) = (dir.join("a.json"), dir.join("b.json"));
    let (bind_a, bind_b) = (format!("{ip_a}:0"), format!("{ip_b}:0"));
    let pa = peer(&link.a, &url, "Alba", "28", &ra, &["--ice-bind", &bind_a]);
    wait_in_room(&ra);
    let pb = peer(&link.b, &url, "Bruno", "26", &rb, &["--ice-bind", &bind_b]);
    for report in [&ra, &rb] {
        assert!(
            crate::common::wait_for_log(&log_path(report), "peer connected"),
            "{} never connected",
            report.display()
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    // The server goes away without a word; the peer connections stay up.
    let mut server = server;
    let _ = server.kill();
    let _ = server.wait();
    std::thread::sleep(Duration::from_secs(5));
    let (server, _) = serve(&link.a, &addr);
    let back = std::time::Instant::now();
    for report in [&ra, &rb] {
        assert!(
            crate::common::wait_for_log(&log_path(report), "rejoined the room"),
            "{} did not rejoin",
            report.display()
        );
    }
    eprintln!(
        "both rejoined {:.1} s after the server came back",
        back.elapsed().as_secs_f64()
    );
    let ((la, ja), (lb, jb)) = finish([(pa, &ra), (pb, &rb)], server);
    for (json, log, other) in [(&ja, &la, "Bruno"), (&jb, &lb, "Alba")] {
        let p = peer_line(json, other);
        let freeze = p["longest_freeze_ms"].as_f64().unwrap_or(f64::MAX);
        eprintln!(
            "{other}'s pictures: {} shown, longest freeze {freeze:.0} ms",
            p["frames_shown"]
        );
        // Media went on through the 5 s without signaling.
        assert!(
            freeze < 2000.0,
            "{other}'s pictures stopped while signaling was down: {p}"
        );
        assert_media_from(json, other, log);
        let peers = json["peers"].as_array().map_or(0, Vec::len);
        assert_eq!(
            peers, 1,
            "the same peer throughout, not a second one: {json}"
        );
        assert!(
            !log.contains("connecting again"),
            "the connection was kept, not replaced:\n{log}"
        );
        // Both changes were said to the person, not only logged.
        for said in [
            "lost the connection to the room's server",
            "back in touch with the room's server",
        ] {
            assert!(log.contains(said), "no notice {said:?}:\n{log}");
        }
    }
}

/// Alba and Bruno across the link (`loss` % of all UDP dropped in each namespace,
/// 100 ms ± `jitter_ms` added to outgoing media in the app), 20 s; returns each
/// one's report and log, after printing what each saw of the other's lip sync.
fn lip_sync_across(
    n: u32,
    port: u16,
    loss: u32,
    jitter_ms: &str,
) -> Option<[(serde_json::Value, String); 2]> {
    let (link, ip_a, ip_b) = namespaces(n, |link| {
        loss == 0 || (drop_udp(&link.a, "impair", loss) && drop_udp(&link.b, "impair", loss))
    })?;
    let dir = temp_dir("netns-lipsync");
    let (server, url) = serve(&link.a, &format!("{ip_a}:{port}"));
    let (ra, rb) = (dir.join("a.json"), dir.join("b.json"));
    let (bind_a, bind_b) = (format!("{ip_a}:0"), format!("{ip_b}:0"));
    let extra = |bind| {
        [
            "--ice-bind",
            bind,
            "--connect-timeout-secs",
            "8",
            "--sim-jitter-ms",
            jitter_ms,
        ]
    };
    let pa = peer(&link.a, &url, "Alba", "22", &ra, &extra(&bind_a));
    wait_in_room(&ra);
    let pb = peer(&link.b, &url, "Bruno", "20", &rb, &extra(&bind_b));
    let ((la, ja), (lb, jb)) = finish([(pa, &ra), (pb, &rb)], server);
    for (json, me, other) in [(&ja, "Alba", "Bruno"), (&jb, "Bruno", "Alba")] {
        let p = peer_line(json, other);
        let num = |key: &str| p[key].as_f64().unwrap_or(f64::NAN);
        eprintln!(
            "{me} <- {other} ({loss} % loss, 100 ± {jitter_ms} ms): A/V offset {:+.0} ms \
             (audio late), glass-to-glass p50 {:.0} ms, playout delay {:.0} ms, \
             {} of {} pictures shown, {:.0} ms of audio ({:.0} rebuilt)",
            num("av_offset_ms"),
            num("glass_to_glass_ms"),
            num("playout_delay_ms"),
            num("frames_shown"),
            num("frames_sent_to_us"),
            num("audio_ms"),
            num("audio_rebuilt_ms"),
        );
    }
    Some([(ja, la), (jb, lb)])
}

/// Each side heard and saw the other, in sync: the median A/V offset within
/// −40 ms (audio early) … +60 ms (audio late).
fn assert_in_sync(sides: &[(serde_json::Value, String); 2]) {
    for ((json, log), other) in sides.iter().zip(["Bruno", "Alba"]) {
        assert_media_from(json, other, log);
        let p = peer_line(json, other);
        assert_eq!(p["tone_detected"], true, "{other}'s tone: {p}");
        let offset = p["av_offset_ms"]
            .as_f64()
            .unwrap_or_else(|| panic!("no A/V offset measured for {other}: {p}"));
        assert!(
            (-40.0..=60.0).contains(&offset),
            "{other}'s audio and video {offset:+.0} ms apart: {p}"
        );
    }
}

#[test]
fn lip_sync_holds_under_loss_and_jitter_between_namespaces() {
    let Some(sides) = lip_sync_across(5, 9487, 5, "30") else {
        return;
    };
    assert_in_sync(&sides);
    // The impairment was there: the pictures waited for repairs.
    for ((json, _), other) in sides.iter().zip(["Bruno", "Alba"]) {
        let p = peer_line(json, other);
        assert!(
            p["packets_recovered"].as_f64().unwrap_or(0.0) > 0.0,
            "no loss was repaired: {p}"
        );
        assert!(p["network_p50_ms"].as_f64().unwrap_or(0.0) >= 70.0, "{p}");
    }
}

#[test]
fn lip_sync_holds_on_a_clean_link_between_namespaces() {
    let Some(sides) = lip_sync_across(6, 9488, 0, "0") else {
        return;
    };
    assert_in_sync(&sides);
}

/// The veth device of namespace `ns` (the one link [`make_link`] put there).
fn veth_of(ns: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", "type", "veth"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let name = text.split(':').nth(1)?.trim();
    Some(name.split('@').next()?.to_string())
}

/// Limits what namespace `ns` sends to `rate` (`tc` token bucket, a 10 KB burst, at
/// most 200 ms of queue); `None` lifts the limit (to 100 Mbit/s).
fn limit_rate(ns: &str, rate: Option<&str>) -> bool {
    let Some(dev) = veth_of(ns) else {
        return false;
    };
    let tc = |args: &[&str]| {
        let mut all = vec!["ip", "netns", "exec", ns, "tc", "qdisc"];
        all.extend_from_slice(args);
        run(&all)
    };
    match rate {
        Some(rate) => tc(&[
            "replace", "dev", &dev, "root", "tbf", "rate", rate, "burst", "10kb", "latency",
            "200ms",
        ]),
        // Lifted in place: deleting the qdisc would drop what stands in its queue,
        // which a link that gets faster does not do.
        None => tc(&[
            "replace", "dev", &dev, "root", "tbf", "rate", "100mbit", "burst", "1mb", "latency",
            "200ms",
        ]),
    }
}

fn unix_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Issue 14's rate-step acceptance test (docs/NET.md, *Congestion control*, with
/// the figures of its runs). It prints a per-second table of what Alba sent and
/// what Bruno saw of her.
#[test]
fn the_sender_fits_a_link_that_slows_from_2_mbit_to_300_kbit_and_recovers_after() {
    // Alba's sending is limited to 2 Mbit/s (more than her 600 kbit/s of video
    // needs), then to 300 kbit/s (less), then not at all.
    let Some((link, ip_a, ip_b)) = namespaces(7, |link| limit_rate(&link.a, Some("2mbit"))) else {
        return;
    };
    let dir = temp_dir("netns-rate");
    let (server, url) = serve(&link.a, &format!("{ip_a}:9489"));
    let (ra, rb) = (dir.join("a.json"), dir.join("b.json"));
    let (pa, pb) =
        alba_hosts_and_bruno_follows(&link, &url, ("54", "52"), (&ra, &rb), (&ip_a, &ip_b));
    for report in [&ra, &rb] {
        assert!(
            crate::common::wait_for_log(&log_path(report), "peer connected"),
            "{} never connected",
            report.display()
        );
    }
    std::thread::sleep(Duration::from_secs(10));
    let step = unix_now_s();
    assert!(limit_rate(&link.a, Some("300kbit")), "slow the link");
    std::thread::sleep(Duration::from_secs(16));
    let lifted = unix_now_s();
    assert!(limit_rate(&link.a, None), "lift the limit");
    let ((la, ja), (_, jb)) = finish([(pa, &ra), (pb, &rb)], server);
    let series = |json: &serde_json::Value, key: &str| -> Vec<serde_json::Value> {
        json[key].as_array().cloned().unwrap_or_default()
    };
    let sent = series(&ja["net"], "send_series");
    let seen = peer_line(&jb, "Alba");
    let shown = series(seen, "shown_series");
    let at = |s: &serde_json::Value| s["unix_s"].as_f64().unwrap_or(0.0);
    let num = |s: &serde_json::Value, key: &str| s[key].as_f64().unwrap_or(0.0);
    // What Alba put on the link each second: her video, 5 % of packet overhead on
    // it, and the voice (32 kbit/s of Opus and 24 of packet overhead).
    let rate = |s: &serde_json::Value| num(s, "video_kbit") * 1.05 + 56.0;
    eprintln!("second  estimate  target  sent  rung  size     | shown  worst-latency  gap");
    for s in &sent {
        let t = at(s);
        let view = shown.iter().find(|v| at(v) == t);
        eprintln!(
            "{:+6.0}  {:8.0}  {:6.0}  {:4.0}  {:4}  {}x{} | {:5}  {:13.0}  {:3.0}",
            t - step.floor(),
            num(s, "estimate_kbit"),
            num(s, "video_target_kbit"),
            rate(s),
            s["rung"],
            s["width"],
            s["height"],
            view.map_or(0.0, |v| num(v, "frames")),
            view.map_or(0.0, |v| num(v, "glass_to_glass_max_ms")),
            view.map_or(0.0, |v| num(v, "longest_gap_ms")),
        );
    }
    // Whole seconds after the step (and before the lift) from which on the rate
    // stays under the limit and the pictures' latency under 400 ms.
    let limited: Vec<&serde_json::Value> = sent
        .iter()
        .filter(|s| at(s) >= step.ceil() && at(s) + 1.0 <= lifted)
        .collect();
    let settled_after = |fits: &dyn Fn(f64) -> bool| -> Option<f64> {
        let last_bad = limited.iter().rev().find(|s| !fits(at(s)));
        match last_bad {
            None => limited.first().map(|s| at(s) - step),
            Some(s) => Some(at(s) + 1.0 - step),
        }
    };
    let rate_fits = |t: f64| {
        sent.iter()
            .find(|s| at(s) == t)
            .is_some_and(|s| rate(s) < 300.0)
    };
    let latency_fits = |t: f64| {
        shown
            .iter()
            .find(|v| at(v) == t)
            .is_some_and(|v| num(v, "glass_to_glass_max_ms") < 400.0)
    };
    let adapted = settled_after(&rate_fits);
    let calm = settled_after(&latency_fits);
    let freeze = num(seen, "longest_freeze_ms");
    let audio_gap = num(seen, "longest_audio_gap_ms");
    let recovered = sent
        .iter()
        .find(|s| {
            at(s) >= lifted.floor() && s["rung"] == 0 && num(s, "video_target_kbit") >= 0.95 * 600.0
        })
        .map(|s| at(s) - lifted);
    eprintln!(
        "rate under 300 kbit/s {adapted:?} s after the step, latency under 400 ms {calm:?} s \
         after it; longest freeze {freeze:.0} ms, longest audio gap {audio_gap:.0} ms; full \
         quality {recovered:?} s after the lift"
    );
    assert!(
        limited.len() >= 12,
        "the slow phase was recorded: {sent:?}\n{la}"
    );
    assert!(
        adapted.is_some_and(|t| t <= 5.0),
        "rate adapted: {adapted:?}"
    );
    assert!(calm.is_some_and(|t| t <= 5.0), "latency back: {calm:?}");
    assert!(freeze < 1000.0, "no freeze over 1 s: {seen}");
    assert!(audio_gap < 200.0, "no audio gap over 200 ms: {seen}");
    assert!(
        recovered.is_some_and(|t| t <= 20.0),
        "full quality within 20 s of the lift: {recovered:?}"
    );
}
