//! Rooms from the app: two headless app instances in this process, driven by the
//! messages the lobby's buttons send (`CreateRoom`, `JoinRoom`, `LeaveRoom`). The
//! first creates a room on its embedded signaling server (loopback only), the second
//! joins it by code; each sends synthetic cutouts and must show the other's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use samespace::games::GameKind;
use samespace::games::plugin::{ChooseGame, GamesPlugin, RemoteGame};
use samespace::media::audio_device::DeviceChoice;
use samespace::net::bridge::AudioDevices;
use samespace::net::plugin::{NetLink, NetPlugin, RemotePeer};
use samespace::room::control::{LockRoom, RemovePerson, RoomChoice};
use samespace::room::{
    CreateRoom, JoinRoom, LeaveRoom, LobbyNotice, LocalTee, RoomInfo, RoomPlugin, RoomSettings,
};
use samespace::segment::Cutout;
use samespace::world::material::CutoutMaterial;
use samespace::world::participant::{LatestCutout, Participant, UploadStats, drain_cutouts};
use samespace::world::scene::{ActiveTheme, SwitchTheme};
use samespace::world::theme::load_theme;
use samespace::{Notice, Screen};

/// One room test at a time (each runs two media pipelines).
static ROOMS: Mutex<()> = Mutex::new(());

/// A headless app with the room, network and games plugins, no window, no
/// renderer.
struct Peer {
    app: App,
    seq: u64,
}

/// What an app was told: its notices and theme switches, every frame's.
#[derive(Resource, Default)]
struct Heard {
    notices: Vec<Notice>,
    themes: Vec<String>,
}

fn listen(
    mut heard: ResMut<Heard>,
    mut notices: MessageReader<Notice>,
    mut themes: MessageReader<SwitchTheme>,
) {
    heard.notices.extend(notices.read().cloned());
    heard.themes.extend(themes.read().map(|t| t.0.clone()));
}

impl Peer {
    fn new() -> Self {
        crate::common::init_logging();
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, AssetPlugin::default(), StatesPlugin))
            .init_asset::<Image>()
            .init_asset::<Mesh>()
            .init_asset::<CutoutMaterial>()
            .init_resource::<UploadStats>();
        let mut rooms = RoomSettings {
            port: 0,
            lan: false,
            ..RoomSettings::default()
        };
        rooms.bridge.audio = AudioDevices::Synthetic;
        let themes = crate::common::root().join("assets/themes");
        let beach = load_theme(&themes, "beach").expect("the beach theme");
        app.insert_resource(rooms)
            .insert_resource(ActiveTheme(beach))
            .init_resource::<Heard>()
            .add_message::<samespace::world::scene::TakeSnapshot>()
            .add_plugins(RoomPlugin {
                start: Screen::Lobby,
            })
            .add_plugins(NetPlugin)
            .add_plugins(GamesPlugin {
                kind: None,
                seed: 1,
                photo_dir: crate::common::temp_dir("room-photos"),
            })
            .add_systems(Update, drain_cutouts)
            .add_systems(Last, listen);
        Self { app, seq: 0 }
    }

    fn screen(&self) -> Screen {
        *self.app.world().resource::<State<Screen>>().get()
    }

    fn send<M: Message>(&mut self, message: M) {
        self.app.world_mut().write_message(message);
    }

    /// One frame: a new local cutout for the room's encoder, then the app's update.
    fn step(&mut self) {
        self.seq += 1;
        let (w, h) = (160u32, 128u32);
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|i| (i as u64 * 7 + self.seq * 3) as u8)
            .collect();
        let mask: Vec<u8> = (0..w * h)
            .map(|i| {
                if (i % w) > w / 4 && (i % w) < 3 * w / 4 {
                    255
                } else {
                    0
                }
            })
            .collect();
        let cutout = Arc::new(Cutout::from_rgb_and_mask(
            self.seq,
            Instant::now(),
            w,
            h,
            &rgb,
            mask,
        ));
        let tee = self.app.world().resource::<LocalTee>().0.clone();
        if tee.0.try_send(cutout.clone()).is_err() {
            let _ = tee.1.try_recv();
            let _ = tee.0.try_send(cutout);
        }
        self.app.update();
    }

    /// The other people here: name and cutouts shown.
    fn remotes(&mut self) -> Vec<(String, u64)> {
        let world = self.app.world_mut();
        let mut q = world.query_filtered::<(&Participant, &LatestCutout), With<RemotePeer>>();
        q.iter(world)
            .map(|(p, l)| (p.name.clone(), l.frames))
            .collect()
    }

    fn sees(&mut self, name: &str) -> bool {
        self.remotes()
            .iter()
            .any(|(n, frames)| n == name && *frames > 0)
    }

    fn notice(&self) -> Option<String> {
        self.app.world().resource::<LobbyNotice>().error.clone()
    }

    fn room(&self) -> (String, String, String) {
        let info = self.app.world().resource::<RoomInfo>();
        (
            info.code.to_string(),
            info.server.clone(),
            info.link.clone(),
        )
    }
}

/// Steps both apps (about 100 frames a second) until `done` or `limit`.
fn pump(
    a: &mut Peer,
    b: &mut Peer,
    limit: Duration,
    mut done: impl FnMut(&mut Peer, &mut Peer) -> bool,
) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        a.step();
        b.step();
        if done(a, b) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn create(a: &mut Peer, b: &mut Peer, secret: Option<&str>) -> (String, String) {
    a.send(CreateRoom {
        name: "Ada".into(),
        server: None,
        secret: secret.map(str::to_string),
    });
    assert!(
        pump(a, b, Duration::from_secs(20), |a, _| a.screen()
            == Screen::Room),
        "the creator never reached the room: {:?}",
        a.notice()
    );
    let (code, server, link) = a.room();
    assert_eq!(link, format!("{server}/{code}"));
    assert!(a.app.world().resource::<RoomInfo>().hosted_here);
    (code, server)
}

fn join(b: &mut Peer, target: &str, server: &str, secret: Option<&str>) {
    b.send(JoinRoom {
        target: target.into(),
        name: "Bob".into(),
        server: Some(server.into()),
        secret: secret.map(str::to_string),
    });
}

#[test]
fn a_room_created_in_one_app_is_joined_by_code_in_another_left_and_joined_again() {
    let _one = ROOMS.lock().unwrap_or_else(|e| e.into_inner());
    let mut a = Peer::new();
    let mut b = Peer::new();
    let (code, server) = create(&mut a, &mut b, None);

    for round in 0..2 {
        join(&mut b, &code, &server, None);
        let both = pump(&mut a, &mut b, Duration::from_secs(30), |a, b| {
            b.screen() == Screen::Room && a.sees("Bob") && b.sees("Ada")
        });
        assert!(
            both,
            "round {round}: A sees {:?}, B ({:?}) sees {:?}, B's notice {:?}",
            a.remotes(),
            b.screen(),
            b.remotes(),
            b.notice()
        );

        b.send(LeaveRoom);
        let gone = pump(&mut a, &mut b, Duration::from_secs(20), |a, b| {
            b.screen() == Screen::Lobby
                && !b.app.world().contains_resource::<NetLink>()
                && !b.app.world().contains_resource::<RoomInfo>()
                && b.remotes().is_empty()
                && a.remotes().is_empty()
        });
        assert!(
            gone,
            "round {round}: after B left, B is in {:?} seeing {:?}, A sees {:?}",
            b.screen(),
            b.remotes(),
            a.remotes()
        );
        assert_eq!(a.screen(), Screen::Room, "the creator stays in the room");
    }
}

#[test]
fn wrong_codes_secrets_and_servers_bring_the_joiner_back_to_the_lobby_with_the_reason() {
    let _one = ROOMS.lock().unwrap_or_else(|e| e.into_inner());
    let mut a = Peer::new();
    let mut b = Peer::new();
    let (code, server) = create(&mut a, &mut b, Some("open sesame"));
    let wrong_code = if code == "ZZZ-ZZZ" {
        "YYY-YYY"
    } else {
        "ZZZ-ZZZ"
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let closed = format!("ws://{closed}");
    let cases = [
        (
            wrong_code,
            server.as_str(),
            Some("open sesame"),
            "room not found",
        ),
        (
            code.as_str(),
            server.as_str(),
            Some("guess"),
            "wrong secret",
        ),
        (
            code.as_str(),
            closed.as_str(),
            Some("open sesame"),
            "server unreachable",
        ),
    ];
    for (target, at, secret, reason) in cases {
        join(&mut b, target, at, secret);
        let back = pump(&mut a, &mut b, Duration::from_secs(20), |_, b| {
            b.screen() == Screen::Lobby && b.notice().is_some()
        });
        let notice = b.notice().unwrap_or_default();
        assert!(
            back && notice.starts_with(reason),
            "joining {target} on {at}: B is in {:?} with {notice:?}, expected {reason:?}",
            b.screen()
        );
    }
    // A bad code never leaves the lobby.
    join(&mut b, "hello", &server, None);
    pump(&mut a, &mut b, Duration::from_millis(200), |_, _| false);
    assert_eq!(b.screen(), Screen::Lobby);
    assert!(b.notice().is_some_and(|n| n.starts_with("not a room code")));

    // Retrying needs no restart.
    join(&mut b, &code, &server, Some("open sesame"));
    assert!(
        pump(&mut a, &mut b, Duration::from_secs(30), |a, b| a
            .sees("Bob")
            && b.sees("Ada")),
        "the right code and secret after failures: B is in {:?} with {:?}",
        b.screen(),
        b.notice()
    );
}

#[test]
fn samespace_join_with_no_display_connects_at_once_and_exits_with_the_reason() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let config = crate::common::temp_dir("join-cli");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_samespace"))
        .args(["join", &format!("ws://{closed}/K7Q-4MZ"), "--name", "Cli"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("SAMESPACE_CONFIG_DIR", &config)
        .current_dir(crate::common::root())
        .output()
        .expect("run samespace join");
    let text = crate::common::text(&out);
    assert!(
        !out.status.success(),
        "joining a closed port succeeded: {text}"
    );
    assert!(
        text.contains("server unreachable") && text.contains("could not connect"),
        "no reason given: {text}"
    );
    let bad = crate::common::samespace(&["join", "not-a-code"]);
    assert!(!bad.status.success());
    assert!(
        crate::common::text(&bad).contains("not a room code"),
        "{}",
        crate::common::text(&bad)
    );
}

fn heard(peer: &Peer) -> &Heard {
    peer.app.world().resource::<Heard>()
}

#[test]
fn the_host_locks_the_room_and_removes_a_guest_who_lands_in_the_lobby_with_the_reason() {
    let _one = ROOMS.lock().unwrap_or_else(|e| e.into_inner());
    let mut a = Peer::new();
    let mut b = Peer::new();
    let (code, server) = create(&mut a, &mut b, None);
    join(&mut b, &code, &server, None);
    assert!(
        pump(&mut a, &mut b, Duration::from_secs(30), |a, b| a
            .sees("Bob")
            && b.sees("Ada")),
        "B never joined: {:?}",
        b.notice()
    );

    // A guest's lock is refused before it reaches the server.
    b.send(LockRoom(true));
    pump(&mut a, &mut b, Duration::from_millis(300), |_, _| false);
    assert!(!a.app.world().resource::<RoomInfo>().locked);
    assert!(
        heard(&b)
            .notices
            .iter()
            .any(|n| n.text.contains("only the room's host")),
        "{:?}",
        heard(&b).notices
    );

    // The host locks: both panels know, and B cannot come back after leaving.
    a.send(LockRoom(true));
    assert!(
        pump(&mut a, &mut b, Duration::from_secs(10), |a, b| {
            a.app.world().resource::<RoomInfo>().locked
                && b.app.world().resource::<RoomInfo>().locked
        }),
        "the lock did not reach both"
    );
    assert!(heard(&b).notices.iter().any(|n| n.text.contains("locked")));
    b.send(LeaveRoom);
    assert!(pump(&mut a, &mut b, Duration::from_secs(20), |a, b| {
        b.screen() == Screen::Lobby && a.remotes().is_empty()
    }));
    join(&mut b, &code, &server, None);
    assert!(pump(&mut a, &mut b, Duration::from_secs(20), |_, b| {
        b.screen() == Screen::Lobby && b.notice().is_some()
    }));
    assert!(
        b.notice().is_some_and(|n| n.starts_with("room locked")),
        "{:?}",
        b.notice()
    );

    // Unlocked, B joins again; then the host removes B.
    a.send(LockRoom(false));
    pump(&mut a, &mut b, Duration::from_millis(500), |_, _| false);
    join(&mut b, &code, &server, None);
    assert!(
        pump(&mut a, &mut b, Duration::from_secs(30), |a, b| a
            .sees("Bob")
            && b.sees("Ada")),
        "B could not join the unlocked room: {:?}",
        b.notice()
    );
    let bob = {
        let world = a.app.world_mut();
        let mut q = world.query::<&RemotePeer>();
        q.iter(world).next().expect("Bob's peer").0
    };
    a.send(RemovePerson(bob));
    let removed = pump(&mut a, &mut b, Duration::from_secs(20), |a, b| {
        b.screen() == Screen::Lobby && a.remotes().is_empty() && b.remotes().is_empty()
    });
    assert!(
        removed,
        "B is in {:?} seeing {:?}; A sees {:?}",
        b.screen(),
        b.remotes(),
        a.remotes()
    );
    let reason = b.notice().unwrap_or_default();
    assert!(
        reason.starts_with("removed from the room") && reason.contains("host"),
        "{reason:?}"
    );
    assert_eq!(a.screen(), Screen::Room, "the host stays");
    // The removal closed B's link to the server; no stray "lost connection" for B.
    assert!(
        !heard(&b)
            .notices
            .iter()
            .any(|n| n.text.starts_with("lost the connection")),
        "{:?}",
        heard(&b).notices
    );
}

#[test]
fn the_hosts_theme_and_game_reach_the_guest_and_the_lobbys_audio_choice_reaches_the_room() {
    let _one = ROOMS.lock().unwrap_or_else(|e| e.into_inner());
    let mut a = Peer::new();
    let mut b = Peer::new();
    // B's lobby chose no microphone, no speaker, muted.
    {
        let mut rooms = b.app.world_mut().resource_mut::<RoomSettings>();
        rooms.bridge.audio = AudioDevices::Each {
            input: DeviceChoice::None,
            output: DeviceChoice::None,
        };
        rooms.bridge.muted = true;
    }
    let (code, server) = create(&mut a, &mut b, None);
    // The host picks a theme and a game before B comes: B gets them on connecting.
    let space = load_theme(&crate::common::root().join("assets/themes"), "space").expect("space");
    a.app.world_mut().insert_resource(ActiveTheme(space));
    a.send(ChooseGame(Some(GameKind::Volleyball)));
    join(&mut b, &code, &server, None);
    let choice = |p: &Peer| p.app.world().resource::<RoomChoice>().clone();
    let volleyball = RoomChoice {
        theme: "space".into(),
        game: Some(GameKind::Volleyball),
    };
    let synced = pump(&mut a, &mut b, Duration::from_secs(30), |_, b| {
        choice(b) == volleyball
            && b.app
                .world()
                .resource::<RemoteGame>()
                .snapshot
                .as_ref()
                .is_some_and(|s| s.game == GameKind::Volleyball)
    });
    assert!(
        synced,
        "B has {:?} and {:?} (A {:?})",
        choice(&b),
        b.app
            .world()
            .resource::<RemoteGame>()
            .snapshot
            .as_ref()
            .map(|s| s.game),
        choice(&a)
    );
    assert!(heard(&b).themes.contains(&"space".to_string()));

    // The host ends the game: B's copy goes too.
    a.send(ChooseGame(None));
    assert!(
        pump(&mut a, &mut b, Duration::from_secs(10), |_, b| {
            choice(b).game.is_none() && b.app.world().resource::<RemoteGame>().snapshot.is_none()
        }),
        "B still plays {:?}",
        choice(&b)
    );

    // B's audio: muted, no microphone (so nothing sent), no speaker; A's tone goes out.
    pump(&mut a, &mut b, Duration::from_secs(2), |_, _| false);
    let sent = |p: &Peer| {
        let link = p.app.world().resource::<NetLink>();
        (
            link.bridge.muted(),
            link.bridge
                .shared()
                .sent
                .audio_packets
                .load(std::sync::atomic::Ordering::Relaxed),
            link.bridge.shared().audio_in_use(),
        )
    };
    let (b_muted, b_packets, b_audio) = sent(&b);
    let (a_muted, a_packets, _) = sent(&a);
    assert!(b_muted && !a_muted);
    assert_eq!(b_packets, 0, "a muted guest sent audio");
    assert!(a_packets > 20, "the host sent {a_packets} audio packets");
    assert_eq!((b_audio.input, b_audio.output), (None, None));
}

#[test]
fn the_room_server_going_away_is_said_on_screen() {
    let _one = ROOMS.lock().unwrap_or_else(|e| e.into_inner());
    let mut a = Peer::new();
    let mut b = Peer::new();
    let (code, server) = create(&mut a, &mut b, None);
    join(&mut b, &code, &server, None);
    assert!(pump(&mut a, &mut b, Duration::from_secs(30), |a, b| a
        .sees("Bob")
        && b.sees("Ada")));
    // A served the room: leaving stops its server.
    a.send(LeaveRoom);
    let said = pump(&mut a, &mut b, Duration::from_secs(20), |_, b| {
        heard(b).notices.iter().any(|n| {
            n.text
                .starts_with("lost the connection to the room's server")
        })
    });
    assert!(said, "B heard {:?}", heard(&b).notices);
}

/// Threads, open file descriptors and resident memory (KiB) of this process.
fn process_figures() -> (usize, usize, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
    };
    let fds = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count();
    (field("Threads:") as usize, fds, field("VmRSS:"))
}

/// The allocator's bytes in use, KiB (0 where it does not say).
fn allocated_kib() -> u64 {
    samespace::memory::allocator_figures().map_or(0, |f| f.in_use / 1024)
}

/// B joins A's room by code, both see each other, and B leaves (back in the lobby,
/// A seeing nobody).
fn visit(a: &mut Peer, b: &mut Peer, code: &str, server: &str, round: usize) {
    join(b, code, server, None);
    assert!(
        pump(a, b, Duration::from_secs(30), |a, b| a.sees("Bob")
            && b.sees("Ada")),
        "visit {round}: A sees {:?}, B ({:?}) sees {:?}: {:?}",
        a.remotes(),
        b.screen(),
        b.remotes(),
        b.notice()
    );
    b.send(LeaveRoom);
    assert!(
        pump(a, b, Duration::from_secs(20), |a, b| b.screen()
            == Screen::Lobby
            && !b.app.world().contains_resource::<NetLink>()
            && a.remotes().is_empty()),
        "visit {round}: B did not leave"
    );
}

/// One cycle: A creates a room, B joins by code, both see each other, B leaves,
/// then A leaves (its server stops); both back in the lobby with nothing left.
fn create_join_leave(a: &mut Peer, b: &mut Peer, round: usize) {
    let (code, server) = create(a, b, None);
    visit(a, b, &code, &server, round);
    a.send(LeaveRoom);
    assert!(
        pump(a, b, Duration::from_secs(20), |a, b| {
            [a, b].iter().all(|p| {
                p.screen() == Screen::Lobby
                    && !p.app.world().contains_resource::<NetLink>()
                    && !p.app.world().contains_resource::<RoomInfo>()
            })
        }),
        "cycle {round}: A did not leave"
    );
}

/// The figures once the threads that leaving starts (goodbyes take up to 2 s) are
/// gone: the thread count no longer falls for 2 s in a row (at most 20 s), and
/// the lobby has given the room's freed memory back (`TRIM_AFTER_LEAVING`).
fn settled_figures(a: &mut Peer, b: &mut Peer) -> (usize, usize, u64) {
    let start = Instant::now();
    let end = start + Duration::from_secs(20);
    let mut lowest = process_figures().0;
    let mut since = Instant::now();
    while Instant::now() < end
        && (since.elapsed() < Duration::from_secs(2)
            || start.elapsed() < samespace::room::TRIM_AFTER_LEAVING + Duration::from_secs(1))
    {
        pump(a, b, Duration::from_millis(200), |_, _| false);
        let threads = process_figures().0;
        if threads < lowest {
            lowest = threads;
            since = Instant::now();
        }
    }
    process_figures()
}

/// Runs the test `name` in a child process of this test binary, alone, with the
/// allocator settings the app's `main` makes before any thread starts
/// (`samespace::memory`; set later, as this test's thread already has an arena,
/// they do not all take). Without them resident memory moves by 10-25 % between
/// cycles with no leak (the allocator's bytes in use, printed, stay flat). Returns
/// `true` in the parent (the child passed); `false` in the child, which goes on.
fn ran_in_a_child(name: &str) -> bool {
    const CHILD: &str = "SAMESPACE_CYCLES_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let _one = ROOMS.lock().unwrap_or_else(|e| e.into_inner());
    let out = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .envs(samespace::memory::allocator_environment())
        .output()
        .expect("run the cycles in a child");
    let text = crate::common::text(&out);
    eprintln!("{text}");
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
    true
}

/// Runs `step` `rounds` times and gives the settled figures after the first and
/// the last, printing them (and the allocator's bytes in use) every `every`.
fn figures_over(
    a: &mut Peer,
    b: &mut Peer,
    what: &str,
    rounds: usize,
    every: usize,
    mut step: impl FnMut(&mut Peer, &mut Peer, usize),
) -> ((usize, usize, u64), (usize, usize, u64)) {
    step(a, b, 1);
    let first = settled_figures(a, b);
    eprintln!("after {what} 1: {} KiB allocated", allocated_kib());
    for round in 2..=rounds {
        step(a, b, round);
        if round % every == 0 && round != rounds {
            let f = settled_figures(a, b);
            eprintln!(
                "after {what} {round}: {} threads, {} fds, {} KiB RSS, {} KiB allocated",
                f.0,
                f.1,
                f.2,
                allocated_kib()
            );
        }
    }
    let last = settled_figures(a, b);
    eprintln!(
        "after {what} 1: {} threads, {} fds, {} KiB RSS; after {what} {rounds}: {} threads, {} fds, {} KiB RSS, {} KiB allocated",
        first.0,
        first.1,
        first.2,
        last.0,
        last.1,
        last.2,
        allocated_kib()
    );
    (first, last)
}

/// Threads, descriptors and resident memory at the end within 10 % of the first.
fn assert_within_a_tenth(first: (usize, usize, u64), last: (usize, usize, u64)) {
    let within = |after: f64, before: f64| after <= before * 1.10;
    assert!(
        within(last.0 as f64, first.0 as f64),
        "threads grew from {} to {}",
        first.0,
        last.0
    );
    assert!(
        within(last.1 as f64, first.1 as f64),
        "file descriptors grew from {} to {}",
        first.1,
        last.1
    );
    assert!(
        within(last.2 as f64, first.2 as f64),
        "resident memory grew from {} to {} KiB",
        first.2,
        last.2
    );
}

#[test]
fn fifty_create_join_leave_cycles_leave_threads_descriptors_and_memory_as_after_the_first() {
    if ran_in_a_child(
        "room::fifty_create_join_leave_cycles_leave_threads_descriptors_and_memory_as_after_the_first",
    ) {
        return;
    }
    let mut a = Peer::new();
    let mut b = Peer::new();
    let (first, last) = figures_over(&mut a, &mut b, "cycle", 50, 10, create_join_leave);
    assert_within_a_tenth(first, last);
}

/// One peer stays in its room while another joins by code and leaves 100 times
/// (the soak of issue 14): every connection, decoder and voice of the visitor is
/// freed, so the process ends where it was after the first visit.
#[test]
fn a_peer_stays_while_another_joins_and_leaves_100_times_and_nothing_piles_up() {
    if ran_in_a_child(
        "room::a_peer_stays_while_another_joins_and_leaves_100_times_and_nothing_piles_up",
    ) {
        return;
    }
    let mut a = Peer::new();
    let mut b = Peer::new();
    let (code, server) = create(&mut a, &mut b, None);
    let (first, last) = figures_over(&mut a, &mut b, "visit", 100, 25, |a, b, round| {
        visit(a, b, &code, &server, round);
    });
    assert_eq!(a.screen(), Screen::Room, "A stayed in its room");
    assert_within_a_tenth(first, last);
}
