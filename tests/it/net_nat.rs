//! Two peers behind NATs that a direct path cannot cross, meeting through a TURN
//! relay. Network namespaces: a "public" one (a bridge, 203.0.113.0/24) holding
//! coturn and `samespace serve`, and per peer a NAT router namespace (nftables
//! `masquerade random,fully-random`: a new public port for every destination, so
//! the mapping is port-dependent, "symmetric") in front of the peer's own private
//! namespace. The private networks reach nothing but their router; the routers
//! forward only what went out (or answers to it), and the public namespace routes
//! nothing. Skips with a message where namespaces cannot be made or coturn
//! (`turnserver`) is not installed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::common::{temp_dir, wait_for_log};
use crate::net_netns::{
    assert_media_from, finish, log_path, peer, peer_line, run, serve, wait_in_room,
};

/// The public address of the TURN and signaling servers (TEST-NET-3).
const PUBLIC_IP: &str = "203.0.113.1";
/// coturn's port (STUN and TURN over UDP).
const TURN_PORT: u16 = 3478;
/// coturn's long-term credential (`lt-cred-mech`).
const TURN_USER: &str = "samespace";
const TURN_CREDENTIAL: &str = "through-the-nat";

/// Namespaces deleted when dropped (their links go with them).
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            run(&["ip", "netns", "del", ns]);
        }
    }
}

/// One peer's side: its private namespace behind its NAT router's namespace.
struct Site {
    /// The NAT router's namespace (`lan` inside, `wan` on the public bridge).
    nat: String,
    /// The peer's namespace (`eth0`, default route via the router).
    host: String,
    /// The peer's private address.
    private_ip: String,
    /// The router's public address (what the peer's traffic leaves as).
    public_ip: String,
}

/// The public namespace and the two sites.
struct NatTopology {
    public: String,
    sites: [Site; 2],
    _namespaces: Namespaces,
}

/// Runs `words` (split on white space); `true` on success.
fn sh(words: &str) -> bool {
    let args: Vec<&str> = words.split_whitespace().collect();
    run(&args)
}

/// The NAT router's rules: outgoing traffic leaves with the `wan` address and a
/// random port per flow (`fully-random`: a new 5-tuple gets a new port whatever the
/// inside port was), and only what went out, or answers to it, is forwarded.
fn nat_rules() -> &'static str {
    "table ip samespace_nat {
  chain outbound {
    type nat hook postrouting priority 100;
    oifname \"wan\" masquerade random,fully-random
  }
  chain through {
    type filter hook forward priority 0; policy drop;
    iifname \"lan\" oifname \"wan\" accept
    ct state established,related accept
  }
}
"
}

/// Builds the topology (the `n`th of this test process), or `None` after a message
/// saying why the test is skipped.
fn nat_topology(n: u32, dir: &Path) -> Option<NatTopology> {
    let tag = std::process::id() % 10_000 * 4 + n;
    let public = format!("ss-pub-{tag}");
    let names: Vec<String> = [
        public.clone(),
        format!("ss-nat1-{tag}"),
        format!("ss-nat2-{tag}"),
        format!("ss-peer1-{tag}"),
        format!("ss-peer2-{tag}"),
    ]
    .into();
    let sites = [1, 2].map(|i| Site {
        nat: names[i].clone(),
        host: names[i + 2].clone(),
        private_ip: format!("10.71.{i}.2"),
        public_ip: format!("203.0.113.{}", 10 + i),
    });
    let rules = dir.join("nat.nft");
    let made = std::fs::write(&rules, nat_rules()).is_ok() && sh(&format!("ip netns add {public}"));
    if !made {
        eprintln!(
            "skipping a NAT test: cannot create network namespaces here (needs root, iproute2 and nftables)"
        );
        return None;
    }
    let topology = NatTopology {
        public: public.clone(),
        sites,
        _namespaces: Namespaces(names.clone()),
    };
    let mut steps: Vec<String> = names[1..]
        .iter()
        .map(|ns| format!("ip netns add {ns}"))
        .collect();
    steps.extend(names.iter().map(|ns| format!("ip -n {ns} link set lo up")));
    steps.extend([
        format!("ip -n {public} link add br0 type bridge"),
        format!("ip -n {public} addr add {PUBLIC_IP}/24 dev br0"),
        format!("ip -n {public} link set br0 up"),
    ]);
    for (i, site) in topology.sites.iter().enumerate() {
        let (nat, host) = (&site.nat, &site.host);
        let port = format!("nat{}", i + 1);
        let lan_ip = format!("10.71.{}.1", i + 1);
        steps.extend([
            // The router's public side on the bridge; no route to the other site.
            format!("ip link add wan netns {nat} type veth peer name {port} netns {public}"),
            format!("ip -n {public} link set {port} master br0"),
            format!("ip -n {public} link set {port} up"),
            format!("ip -n {nat} addr add {}/24 dev wan", site.public_ip),
            format!("ip -n {nat} link set wan up"),
            format!("ip -n {nat} route add default via {PUBLIC_IP}"),
            // Its private side and the peer behind it.
            format!("ip link add lan netns {nat} type veth peer name eth0 netns {host}"),
            format!("ip -n {nat} addr add {lan_ip}/24 dev lan"),
            format!("ip -n {nat} link set lan up"),
            format!("ip -n {host} addr add {}/24 dev eth0", site.private_ip),
            format!("ip -n {host} link set eth0 up"),
            format!("ip -n {host} route add default via {lan_ip}"),
            format!("ip netns exec {nat} sysctl -qw net.ipv4.ip_forward=1"),
            format!("ip netns exec {nat} nft -f {}", rules.display()),
        ]);
    }
    if steps.iter().all(|step| sh(step)) {
        Some(topology)
    } else {
        eprintln!("skipping a NAT test: cannot build the namespaces, links or nftables rules here");
        None
    }
}

/// A server process, killed when dropped (also when an assertion fails first).
struct Reaped(Option<Child>);

impl Reaped {
    /// The process, no longer killed on drop (for [`finish`]).
    fn take(&mut self) -> Child {
        self.0.take().expect("taken once")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// coturn on [`PUBLIC_IP`]:[`TURN_PORT`] in namespace `ns` (STUN and TURN over UDP
/// only, one long-term user, 20 relay ports, no peers in 10/8), its files and log
/// in `dir`; `None` after a message when coturn is not installed.
fn turn_server(ns: &str, dir: &Path) -> Option<Reaped> {
    let installed = Command::new("turnserver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("skipping a NAT test: coturn is not installed (apt-get install coturn)");
        return None;
    }
    let log = dir.join("coturn.log");
    let user = format!("{TURN_USER}:{TURN_CREDENTIAL}");
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "turnserver", "-n"])
        .args(["--listening-ip", PUBLIC_IP, "--relay-ip", PUBLIC_IP])
        .args(["--listening-port", &TURN_PORT.to_string()])
        .args(["--min-port", "49160", "--max-port", "49179"])
        .args([
            "--realm",
            "samespace.test",
            "--lt-cred-mech",
            "--user",
            &user,
        ])
        .args(["--no-tls", "--no-dtls", "--no-cli", "--fingerprint"])
        // No relaying into private networks (docs/DEPLOY.md). Here it is also needed:
        // the public namespace has no route to 10/8, a relayed check towards a peer's
        // private host candidate fails in coturn ("udp send: Network is unreachable"),
        // and coturn 4.6.1 then relays nothing more for that allocation (seen: ICE
        // failed on every attempt without this line).
        .args(["--denied-peer-ip", "10.0.0.0-10.255.255.255"])
        .arg("--pidfile")
        .arg(dir.join("turnserver.pid"))
        .arg("--userdb")
        .arg(dir.join("turndb"))
        .args(["--log-file", "stdout", "--simple-log"])
        .stdout(std::fs::File::create(&log).expect("coturn log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start coturn");
    let server = Reaped(Some(child));
    assert!(
        wait_for_log(&log, "Total General servers"),
        "coturn did not start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Some(server)
}

/// The demo's ICE flags: coturn as STUN server (server-reflexive candidates, the
/// direct path through the NATs) and, with `relay`, as TURN server too.
fn ice_flags(relay: bool) -> Vec<String> {
    let mut flags = vec![
        "--ice-server".to_string(),
        format!("stun:{PUBLIC_IP}:{TURN_PORT}"),
    ];
    if relay {
        flags.extend([
            "--ice-server".to_string(),
            format!("turn:{PUBLIC_IP}:{TURN_PORT}"),
            "--ice-username".to_string(),
            TURN_USER.to_string(),
            "--ice-credential".to_string(),
            TURN_CREDENTIAL.to_string(),
        ]);
    }
    flags
}

/// One UDP flow through a NAT, from its conntrack entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flow {
    /// The inside address and port.
    inside: String,
    /// Where it went.
    towards: String,
    /// The public address and port the NAT gave it.
    mapped: String,
}

/// The translated UDP flows in a conntrack table (`/proc/net/nf_conntrack`): each
/// line holds the original direction's `src dst sport dport`, then the reply's;
/// the reply's destination is the mapping.
fn udp_flows(table: &str) -> Vec<Flow> {
    table
        .lines()
        .filter(|line| line.split_whitespace().nth(2) == Some("udp"))
        .filter_map(|line| {
            let fields: Vec<(&str, &str)> = line
                .split_whitespace()
                .filter_map(|word| word.split_once('='))
                .collect();
            let value = |key: &str, nth: usize| {
                fields
                    .iter()
                    .filter(|(k, _)| *k == key)
                    .nth(nth)
                    .map(|(_, v)| *v)
            };
            let flow = Flow {
                inside: format!("{}:{}", value("src", 0)?, value("sport", 0)?),
                towards: format!("{}:{}", value("dst", 0)?, value("dport", 0)?),
                mapped: format!("{}:{}", value("dst", 1)?, value("dport", 1)?),
            };
            (flow.inside != flow.mapped).then_some(flow)
        })
        .collect()
}

/// The flows of `site`'s peer through its NAT, by inside address.
fn flows_through(site: &Site) -> BTreeMap<String, Vec<Flow>> {
    let out = Command::new("ip")
        .args(["netns", "exec", &site.nat, "cat", "/proc/net/nf_conntrack"])
        .output()
        .expect("read the NAT's conntrack table");
    let mut by_inside: BTreeMap<String, Vec<Flow>> = BTreeMap::new();
    for flow in udp_flows(&String::from_utf8_lossy(&out.stdout)) {
        if flow.inside.starts_with(&format!("{}:", site.private_ip)) {
            by_inside.entry(flow.inside.clone()).or_default().push(flow);
        }
    }
    by_inside
}

/// Seconds from the room task's first `first` line to its next `then` line in a
/// peer's log (tracing's UTC timestamps, colours stripped).
fn seconds_between(log: &str, first: &str, then: &str) -> Option<f64> {
    let room_lines = log
        .lines()
        .filter(|line| line.contains("net::peer::room"))
        .map(|line| {
            let mut parts = line.split('\u{1b}');
            let mut plain = parts.next().unwrap_or_default().to_string();
            for part in parts {
                plain.push_str(part.split_once('m').map_or(part, |(_, rest)| rest));
            }
            plain
        });
    let at = |line: &str| -> Option<f64> {
        let time = line.split_whitespace().next()?.split_once('T')?.1;
        let time = time.trim_end_matches('Z');
        let mut parts = time.split(':');
        let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
        Some(
            h.parse::<f64>().ok()? * 3600.0
                + m.parse::<f64>().ok()? * 60.0
                + s.parse::<f64>().ok()?,
        )
    };
    let mut start = None;
    for line in room_lines {
        match start {
            None if line.contains(first) => start = at(&line),
            Some(t0) if line.contains(then) => {
                return at(&line).map(|t| (t - t0).rem_euclid(86_400.0));
            }
            _ => {}
        }
    }
    None
}

/// Two peers behind their own NATs in a room on the public side: the signaling
/// server and its children are killed, and the namespaces removed, in that order
/// when dropped (fields drop in declaration order).
struct NatRoom {
    server: Reaped,
    _turn: Reaped,
    net: NatTopology,
    /// Alba (site 1) and Bruno (site 2).
    peers: [Child; 2],
    reports: [std::path::PathBuf; 2],
}

/// Topology `n` with coturn and `serve` (on `port`) on the public side; Alba
/// joins, then Bruno, both with ICE bound to their private address and coturn as
/// their TURN relay (`relay`) or only as their STUN server. `None` after a message
/// where namespaces or coturn are missing.
fn nat_room(tag: &str, n: u32, port: u16, relay: bool, seconds: (&str, &str)) -> Option<NatRoom> {
    let dir = temp_dir(tag);
    let net = nat_topology(n, &dir)?;
    let turn = turn_server(&net.public, &dir)?;
    let (server, url) = serve(&net.public, &format!("{PUBLIC_IP}:{port}"));
    let server = Reaped(Some(server));
    let ice = ice_flags(relay);
    let reports = [dir.join("alba.json"), dir.join("bruno.json")];
    let start = |i: usize, name: &str, seconds: &str| {
        let site = &net.sites[i];
        let mut extra: Vec<&str> = ice.iter().map(String::as_str).collect();
        let bind = format!("{}:0", site.private_ip);
        extra.extend(["--ice-bind", &bind, "--connect-timeout-secs", "10"]);
        peer(&site.host, &url, name, seconds, &reports[i], &extra)
    };
    let alba = start(0, "Alba", seconds.0);
    wait_in_room(&reports[0]);
    let bruno = start(1, "Bruno", seconds.1);
    Some(NatRoom {
        server,
        _turn: turn,
        net,
        peers: [alba, bruno],
        reports,
    })
}

#[test]
fn peers_behind_symmetric_nats_exchange_media_through_a_turn_relay() {
    let Some(mut room) = nat_room("nat-turn", 0, 9491, true, ("24", "22")) else {
        return;
    };
    let [ra, rb] = room.reports.clone();
    let net = &room.net;
    for report in [&ra, &rb] {
        assert!(
            wait_for_log(&log_path(report), "peer connected"),
            "{} never connected:\n{}",
            report.display(),
            std::fs::read_to_string(log_path(report)).unwrap_or_default()
        );
    }
    // While the connection is up: each NAT gave the peer's ICE socket a different
    // public port for each destination (the TURN server, the other side's
    // candidates), so what a STUN server saw is no use to the other peer.
    std::thread::sleep(std::time::Duration::from_secs(2));
    for site in &net.sites {
        let flows = flows_through(site);
        let multi: Vec<&Vec<Flow>> = flows.values().filter(|f| f.len() >= 2).collect();
        assert!(
            !multi.is_empty(),
            "no inside address of {} reached two destinations: {flows:?}",
            site.nat
        );
        for flows in multi {
            let mapped: std::collections::BTreeSet<&str> =
                flows.iter().map(|f| f.mapped.as_str()).collect();
            assert_eq!(
                mapped.len(),
                flows.len(),
                "{} reused a mapping for two destinations: {flows:?}",
                site.nat
            );
            for f in flows {
                eprintln!(
                    "{}: {} -> {} leaves as {}",
                    site.nat, f.inside, f.towards, f.mapped
                );
            }
            assert!(flows.iter().all(|f| f.mapped.starts_with(&site.public_ip)));
        }
    }
    let [alba, bruno] = room.peers;
    let ((la, ja), (lb, jb)) = finish([(alba, &ra), (bruno, &rb)], room.server.take());
    assert_media_from(&ja, "Bruno", &la);
    assert_media_from(&jb, "Alba", &lb);
    // Alba's room task: Bruno announced by signaling, then his connection up (ICE
    // with its TURN allocations and relayed checks, then DTLS).
    let connect = seconds_between(&la, "peer joined", "peer connected");
    eprintln!(
        "Alba: Bruno's connection up {:.2} s after he joined",
        connect.unwrap_or(f64::NAN)
    );
    assert!(
        connect.is_some(),
        "no join and connection in Alba's log:\n{la}"
    );
    let mut pairs = Vec::new();
    for (json, me, other) in [(&ja, "Alba", "Bruno"), (&jb, "Bruno", "Alba")] {
        let p = peer_line(json, other);
        let pair = p["candidate_pair"].as_str().unwrap_or("none").to_string();
        eprintln!(
            "{me} <- {other}: candidate pair {pair}, {} pictures shown, {:.0} ms of audio, \
             rtt {} ms",
            p["frames_shown"],
            p["audio_ms"].as_f64().unwrap_or(0.0),
            p["rtt_ms"],
        );
        assert!(
            p["frames_shown"].as_u64().unwrap_or(0) > 30,
            "{other}'s cutouts shown: {p}"
        );
        pairs.push(pair);
    }
    assert!(
        pairs
            .iter()
            .any(|pair| pair.split('/').any(|t| t == "relay")),
        "neither side's connection runs through the relay: {pairs:?}"
    );
}

#[test]
fn peers_behind_symmetric_nats_do_not_connect_without_a_turn_relay() {
    // coturn only as a STUN server: each peer learns its NAT's public address.
    let Some(mut room) = nat_room("nat-no-turn", 1, 9492, false, ("13", "12")) else {
        return;
    };
    let [ra, rb] = room.reports.clone();
    let net = &room.net;
    // Checks towards the other NAT's public address were sent (the
    // server-reflexive candidates were exchanged and tried) ...
    std::thread::sleep(std::time::Duration::from_secs(8));
    for (site, other) in [
        (&net.sites[0], &net.sites[1]),
        (&net.sites[1], &net.sites[0]),
    ] {
        let tried = flows_through(site)
            .values()
            .flatten()
            .any(|f| f.towards.starts_with(&format!("{}:", other.public_ip)));
        assert!(
            tried,
            "{} never tried {}'s public address",
            site.host, other.nat
        );
    }
    let [alba, bruno] = room.peers;
    let ((la, ja), (lb, jb)) = finish([(alba, &ra), (bruno, &rb)], room.server.take());
    // ... and none got through: no media, no pair.
    for (json, log, other) in [(&ja, &la, "Bruno"), (&jb, &lb, "Alba")] {
        let p = peer_line(json, other);
        eprintln!(
            "{other}: {} pictures, pair {}",
            p["video_frames"], p["candidate_pair"]
        );
        assert_eq!(p["video_frames"].as_u64(), Some(0), "{p}\n{log}");
        assert!(p["candidate_pair"].is_null(), "{p}");
        assert!(!log.contains("peer connected"), "{log}");
    }
}

#[test]
fn conntrack_lines_give_each_flows_mapping() {
    let table = "\
ipv4     2 udp      17 119 src=10.71.1.2 dst=203.0.113.1 sport=36661 dport=3478 src=203.0.113.1 dst=203.0.113.11 sport=3478 dport=27090 [ASSURED] mark=0 zone=0 use=2
ipv4     2 tcp      6 431999 ESTABLISHED src=10.71.1.2 dst=203.0.113.1 sport=40000 dport=9491 src=203.0.113.1 dst=203.0.113.11 sport=9491 dport=5000 [ASSURED] mark=0 zone=0 use=2
ipv4     2 udp      17 25 src=203.0.113.11 dst=203.0.113.1 sport=5353 dport=5353 [UNREPLIED] src=203.0.113.1 dst=203.0.113.11 sport=5353 dport=5353 mark=0 zone=0 use=2
";
    assert_eq!(
        udp_flows(table),
        vec![Flow {
            inside: "10.71.1.2:36661".into(),
            towards: "203.0.113.1:3478".into(),
            mapped: "203.0.113.11:27090".into(),
        }],
        "TCP and untranslated flows are left out"
    );
}

#[test]
fn the_room_tasks_lines_are_timed_across_colours() {
    let log = "\
\u{1b}[2m2026-12-02T23:59:59.500000Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \u{1b}[2msamespace::net::peer::room\u{1b}[0m\u{1b}[2m:\u{1b}[0m peer joined \u{1b}[3mpeer\u{1b}[0m\u{1b}[2m=\u{1b}[0mp2
\u{1b}[2m2026-12-03T00:00:00.100000Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \u{1b}[2msamespace::net::plugin\u{1b}[0m\u{1b}[2m:\u{1b}[0m peer connected peer=2
\u{1b}[2m2026-12-03T00:00:01.250000Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \u{1b}[2msamespace::net::peer::room\u{1b}[0m\u{1b}[2m:\u{1b}[0m peer connected \u{1b}[3mpeer\u{1b}[0m\u{1b}[2m=\u{1b}[0mp2
";
    let seconds = seconds_between(log, "peer joined", "peer connected").expect("timed");
    assert!((seconds - 1.75).abs() < 1e-6, "{seconds}");
    assert_eq!(seconds_between(log, "peer left", "peer connected"), None);
}
