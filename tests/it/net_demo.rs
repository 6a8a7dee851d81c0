//! Networked demo rooms end to end: `samespace serve` plus several `samespace demo
//! --headless --server ..` processes on loopback, judged by their JSON reports.
//!
//! The runs are serialised (one room at a time) so that the two cores are not shared
//! by six peers at once.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One networked room at a time.
pub(crate) static ROOM: Mutex<()> = Mutex::new(());

/// A child process killed (SIGKILL) when dropped, unless it already ended.
pub(crate) struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `samespace serve` on a free loopback port, ready for connections.
pub(crate) fn serve(dir: &Path) -> (Proc, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("serve.log")).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_samespace"))
        .args(["serve", "--bind", &addr])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start samespace serve");
    let proc = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "server did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (proc, format!("ws://{addr}"))
}

/// One headless peer with the synthetic voice (its tone identifies it); its report
/// goes to `dir/<name>.json`.
pub(crate) fn peer(
    dir: &Path,
    url: &str,
    room: &str,
    name: &str,
    seconds: u32,
    extra: &[&str],
) -> Proc {
    let mut command = peer_command(dir, url, room, name, seconds);
    command.args(["--audio", "synthetic"]).args(extra);
    Proc(command.spawn().expect("start samespace demo"))
}

/// The command line of one headless peer, without its audio choice.
fn peer_command(dir: &Path, url: &str, room: &str, name: &str, seconds: u32) -> Command {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
    let report = dir.join(format!("{name}.json"));
    let snapshot = dir.join(format!("{name}.png"));
    let seconds = seconds.to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_samespace"));
    command
        .args([
            "demo",
            "--headless",
            "--server",
            url,
            "--room",
            room,
            "--name",
            name,
        ])
        .args(["--participants", "1", "--seconds", &seconds])
        .args(["--width", "640", "--height", "360"])
        .arg("--report")
        .arg(&report)
        .arg("--snapshot")
        .arg(&snapshot)
        .current_dir(crate::common::root())
        .env("RUST_LOG", "samespace=info")
        .stdout(Stdio::null())
        .stderr(log);
    command
}

/// Waits for a peer to exit by itself, killing it after `limit`.
pub(crate) fn finish(mut proc: Proc, limit: Duration, dir: &Path, name: &str) {
    let deadline = Instant::now() + limit;
    loop {
        match proc.0.try_wait() {
            Ok(Some(status)) => {
                assert!(status.success(), "{name} failed: {}", log_tail(dir, name));
                return;
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => panic!(
                "{name} did not finish in {limit:?}: {}",
                log_tail(dir, name)
            ),
        }
    }
}

/// Waits until peer `name` has logged that it is in the room.
pub(crate) fn wait_in_room(dir: &Path, name: &str) {
    let path = dir.join(format!("{name}.log"));
    assert!(
        crate::common::wait_for_log(&path, "in the room"),
        "{name} did not join: {}",
        log_tail(dir, name)
    );
}

pub(crate) fn log_tail(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
    let start = text.len().saturating_sub(3000);
    text.get(start..).unwrap_or_default().to_string()
}

pub(crate) fn report(dir: &Path, name: &str) -> Value {
    let path: PathBuf = dir.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{name} wrote no report ({e}): {}", log_tail(dir, name)));
    serde_json::from_str(&text).expect("report is JSON")
}

/// The report's lines about peers called `name`, oldest id first.
pub(crate) fn peers_named<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["peers"]
        .as_array()
        .map(|a| a.iter().filter(|p| p["name"] == name).collect())
        .unwrap_or_default()
}

pub(crate) fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(0.0)
}

#[test]
fn three_peers_see_and_hear_each_other_and_follow_the_hosts_game() {
    let _room = ROOM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = crate::common::temp_dir("net-three");
    let (_server, url) = serve(&dir);
    let room = "NET-333";
    // P0 joins first and hosts the game; the others learn it from its snapshots.
    let p0 = peer(&dir, &url, room, "P0", 12, &["--game", "balloon-keepup"]);
    // The others join only once P0 is in: the server makes the first member host,
    // whatever the start-up time of each process on a busy machine.
    wait_in_room(&dir, "P0");
    let p1 = peer(&dir, &url, room, "P1", 12, &[]);
    // P2 after P1, so that the slots by id put P0 left, P1 in the middle, P2 right.
    wait_in_room(&dir, "P1");
    let p2 = peer(&dir, &url, room, "P2", 12, &[]);
    let limit = Duration::from_secs(45);
    finish(p0, limit, &dir, "P0");
    finish(p1, limit, &dir, "P1");
    finish(p2, limit, &dir, "P2");

    let names = ["P0", "P1", "P2"];
    for me in names {
        let r = report(&dir, me);
        for other in names.iter().filter(|n| **n != me) {
            let lines = peers_named(&r, other);
            assert_eq!(lines.len(), 1, "{me} should list {other} once: {r}");
            let p = lines[0];
            assert!(num(p, "video_frames") > 50.0, "{me} <- {other} video: {p}");
            assert!(num(p, "audio_ms") > 3000.0, "{me} <- {other} audio: {p}");
            assert_eq!(p["tone_detected"], true, "{me} <- {other} tone: {p}");
            // On one machine the peers meet directly: host candidates, or a
            // peer-reflexive one where a check arrived before the candidate did.
            let pair = p["candidate_pair"].as_str().unwrap_or("none");
            assert!(
                ["host/host", "host/prflx", "prflx/host"].contains(&pair),
                "{me} <- {other}: {p}"
            );
            assert!(
                num(p, "alpha_probes_matched") >= 3.0,
                "{me} <- {other} probes: {p}"
            );
            assert!(
                num(p, "alpha_iou_min") >= 0.9,
                "{me} <- {other} alpha IoU: {p}"
            );
            // FlexFEC is negotiated (`--video-fec auto`), but a link that loses
            // nothing gets no repair packets.
            assert_eq!(
                num(p, "packets_fec_received"),
                0.0,
                "{me} <- {other} FEC on a clean link: {p}"
            );
        }
        if me == "P1" {
            // P1 stands in the middle, P0 at the left, P2 at the right (slots by id):
            // P0's voice comes out at least 6 dB louder on the left, P2's on the right.
            let left = peers_named(&r, "P0")[0];
            let right = peers_named(&r, "P2")[0];
            assert!(num(left, "x") < -0.3, "P0 stands left: {left}");
            assert!(num(right, "x") > 0.3, "P2 stands right: {right}");
            assert!(num(left, "audio_lr_db") >= 6.0, "P0 heard left: {left}");
            assert!(num(right, "audio_lr_db") <= -6.0, "P2 heard right: {right}");
        }
        let net = &r["net"];
        assert_eq!(
            net["game"], "balloon-keepup",
            "{me} plays the host's game: {net}"
        );
        if me == "P0" {
            assert_eq!(net["is_host"], true, "P0 created the room: {net}");
        } else {
            // P0 started first and so ends first: the next oldest then takes the game
            // over (host handover), so `is_host` at the end may be true here.
            assert!(
                num(net, "game_snapshots_received") > 50.0,
                "{me} receives the host's snapshots: {net}"
            );
        }
    }
}

#[test]
fn a_killed_peer_leaves_for_the_others_who_go_on_and_it_can_rejoin() {
    let _room = ROOM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = crate::common::temp_dir("net-kill");
    let (_server, url) = serve(&dir);
    let room = "NET-777";
    let p0 = peer(&dir, &url, room, "P0", 18, &[]);
    std::thread::sleep(Duration::from_millis(1000));
    let p1 = peer(&dir, &url, room, "P1", 17, &[]);
    let doomed = peer(&dir, &url, room, "P2", 60, &[]);
    wait_in_room(&dir, "P2");
    std::thread::sleep(Duration::from_secs(5));
    drop(doomed); // SIGKILL: no goodbye.
    std::thread::sleep(Duration::from_millis(500));
    // The rejoin is muted: the others must then hear nothing from it.
    let again = peer(&dir, &url, room, "P2", 5, &["--mute"]);
    let limit = Duration::from_secs(45);
    finish(again, limit, &dir, "P2");
    finish(p0, limit, &dir, "P0");
    finish(p1, limit, &dir, "P1");

    for me in ["P0", "P1"] {
        let r = report(&dir, me);
        let p2 = peers_named(&r, "P2");
        assert_eq!(p2.len(), 2, "{me} saw P2 twice (killed, rejoined): {r}");
        assert_eq!(p2[0]["left"], true, "{me}: the killed P2 left: {r}");
        // Killed 5 s after it joined: gone for the others within a few seconds. Detection by ICE timeouts alone (2 s
        // disconnected + 4 s grace) would keep it present for more than 9 s.
        let present = num(p2[0], "present_s");
        assert!(
            present > 0.0 && present < 9.0,
            "{me}: killed P2 present {present} s"
        );
        assert!(
            num(p2[1], "audio_ms") < 1.0,
            "{me}: the muted P2 sent audio: {r}"
        );
        assert!(
            num(p2[0], "video_frames") > 0.0,
            "{me} saw the first P2: {r}"
        );
        assert!(
            num(p2[1], "video_frames") > 10.0,
            "{me} sees the rejoined P2: {r}"
        );
        let other = if me == "P0" { "P1" } else { "P0" };
        let o = peers_named(&r, other);
        assert_eq!(o.len(), 1, "{me} lists {other}: {r}");
        assert!(
            num(o[0], "video_frames") > 50.0,
            "{me} kept receiving {other}: {r}"
        );
        // Only the live participants remain in the world at the end.
        let shown: Vec<&str> = r["participants"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            shown.iter().filter(|n| **n == "P2").count() <= 1,
            "{me}: {shown:?}"
        );
    }
    let rejoined = report(&dir, "P2");
    for other in ["P0", "P1"] {
        let o = peers_named(&rejoined, other);
        assert_eq!(o.len(), 1, "the rejoined P2 lists {other}: {rejoined}");
        assert!(
            num(o[0], "video_frames") > 10.0,
            "P2 <- {other}: {rejoined}"
        );
    }
}

/// A PulseAudio server of its own (a sine "microphone" and, if asked for, a null
/// "speaker"), stopped when dropped.
struct SoundServer {
    _daemon: Proc,
    socket: PathBuf,
}

/// The microphone's tone: none of the peers' synthetic tones below.
const MIC_HZ: f32 = 900.0;

/// The PulseAudio command that adds the sine "microphone" (at `MIC_HZ`).
const PLUG_MICROPHONE: &str =
    "load-module module-sine-source source_name=mic frequency=900 rate=48000";

impl SoundServer {
    /// `None` (with a message) where PulseAudio or its ALSA plugin is missing.
    fn start(dir: &Path, with_speaker: bool) -> Option<Self> {
        let plugin = [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib",
        ]
        .iter()
        .any(|d| {
            Path::new(d)
                .join("alsa-lib/libasound_module_pcm_pulse.so")
                .exists()
        });
        let daemon = Command::new("pulseaudio").arg("--version").output();
        if !plugin || !daemon.is_ok_and(|o| o.status.success()) {
            eprintln!(
                "skipping the sound-device test: needs pulseaudio and libasound2-plugins (scripts/setup.sh installs them)"
            );
            return None;
        }
        let socket = dir.join("pulse.sock");
        let config = dir.join("pulse.pa");
        let speaker = if with_speaker {
            "load-module module-null-sink sink_name=speaker rate=48000\n\
             set-default-sink speaker\n"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!(
                "load-module module-native-protocol-unix socket={} auth-anonymous=1\n\
                 {speaker}{PLUG_MICROPHONE}\n\
                 set-default-source mic\n",
                socket.display()
            ),
        )
        .expect("write the pulseaudio script");
        let log = std::fs::File::create(dir.join("pulse.log")).expect("log file");
        let child = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
            ])
            .args(["--use-pid-file=no", "--disable-shm=yes", "-F"])
            .arg(&config)
            .env("HOME", dir)
            .env("XDG_RUNTIME_DIR", dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start pulseaudio");
        let server = Self {
            _daemon: Proc(child),
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "pulseaudio did not start: {}",
                std::fs::read_to_string(dir.join("pulse.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// The `PULSE_SERVER` value for clients.
    fn address(&self) -> String {
        format!("unix:{}", self.socket.display())
    }
}

#[test]
fn a_peer_talks_through_its_microphone_and_hears_the_others_on_its_speaker() {
    let _room = ROOM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = crate::common::temp_dir("net-sound");
    let Some(sound) = SoundServer::start(&dir, true) else {
        return;
    };
    // Whatever reaches the speaker, recorded from the null sink's monitor.
    let heard = dir.join("speaker.f32");
    let recorder = Proc(
        Command::new("parec")
            .args(["-d", "speaker.monitor", "--raw", "--format=float32le"])
            .args(["--rate=48000", "--channels=1"])
            .env("PULSE_SERVER", sound.address())
            .stdout(std::fs::File::create(&heard).expect("recording file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start parec"),
    );
    let (_server, url) = serve(&dir);
    let room = "SND-234";
    // Mika uses the sound devices (ALSA's default goes to this PulseAudio server);
    // Noor has none and sends her synthetic tone.
    let mut mika = peer_command(&dir, &url, room, "Mika", 10);
    mika.args(["--audio", "device"])
        .env("PULSE_SERVER", sound.address());
    let mika = Proc(mika.spawn().expect("start samespace demo"));
    let noor = peer(&dir, &url, room, "Noor", 10, &[]);
    let limit = Duration::from_secs(40);
    finish(mika, limit, &dir, "Mika");
    finish(noor, limit, &dir, "Noor");
    drop(recorder);

    let (mika_report, noor_report) = (report(&dir, "Mika"), report(&dir, "Noor"));
    let audio = &mika_report["net"]["audio"];
    assert!(
        audio["input"].is_string() && audio["output"].is_string(),
        "Mika opened both devices: {audio}\n{}",
        log_tail(&dir, "Mika")
    );
    assert!(num(audio, "played_samples") > 48_000.0 * 3.0, "{audio}");
    // What the speaker played reached the echo canceller as its reference, and the
    // microphone went through the voice processing.
    assert!(
        num(&audio["talk"], "far_end_samples") > 48_000.0 * 3.0,
        "far-end reference: {audio}"
    );
    assert!(
        num(&audio["talk"], "capture_samples") > 48_000.0 * 3.0,
        "{audio}"
    );
    // Noor heard Mika's microphone, not Mika's synthetic tone.
    let from_mika = peers_named(&noor_report, "Mika");
    assert_eq!(from_mika.len(), 1, "{noor_report}");
    assert!(num(from_mika[0], "audio_ms") > 3000.0, "{}", from_mika[0]);
    assert_eq!(
        from_mika[0]["tone_hz_detected"].as_f64(),
        Some(f64::from(MIC_HZ)),
        "Noor hears the microphone's tone: {}",
        from_mika[0]
    );
    let synthetic = samespace::net::stats::tone_for_name("Mika");
    assert_ne!(synthetic, MIC_HZ);
    // Mika's speaker played Noor's voice.
    let bytes = std::fs::read(&heard).expect("the recording");
    let samples: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let noor_hz = samespace::net::stats::tone_for_name("Noor");
    let loud = samples
        .chunks(12_000)
        .filter(|w| {
            w.len() == 12_000 && samespace::media::audio::tone_amplitude(w, 48_000, noor_hz) > 0.1
        })
        .count();
    assert!(
        loud >= 8,
        "Noor's {noor_hz} Hz tone is on Mika's speaker in {loud} quarter seconds of {}",
        samples.len() / 12_000
    );
}

/// A microphone unplugged mid-call and plugged in again. Mika talks through
/// PulseAudio's sine "microphone" (through ALSA's PulseAudio plugin, as a desktop
/// does), the server's only input (Mika has no speaker: a sink's monitor would be
/// another input, to which PulseAudio would quietly move the stream). Two seconds
/// into the call the source is removed (`pactl unload-module`, what unplugging a USB
/// microphone does): the server ends Mika's stream, the audio thread's device keeper
/// gives it up, finds no input to open and says so; the change reaches the app as
/// an on-screen `Notice` (logged by every run, a toast in the window). Mika keeps
/// sending (silence) meanwhile. The source comes back: the keeper, retrying, opens
/// it, and says so too. Noor receives Mika's voice packets throughout.
#[test]
fn a_microphone_unplugged_mid_call_is_said_on_screen_and_the_call_goes_on() {
    let _room = ROOM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = crate::common::temp_dir("net-unplug");
    let Some(sound) = SoundServer::start(&dir, false) else {
        return;
    };
    let pactl = |args: &str| {
        let out = Command::new("pactl")
            .args(args.split(' '))
            .env("PULSE_SERVER", sound.address())
            .output()
            .expect("run pactl");
        assert!(
            out.status.success(),
            "pactl {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (_server, url) = serve(&dir);
    let room = "UNP-234";
    let seconds = 20;
    let mut mika = peer_command(&dir, &url, room, "Mika", seconds);
    // NO_COLOR: plain log lines, to find the notices' fields in.
    mika.args(["--audio", "device"])
        .env("PULSE_SERVER", sound.address())
        .env("NO_COLOR", "1");
    let mika = Proc(mika.spawn().expect("start samespace demo"));
    let noor = peer(&dir, &url, room, "Noor", seconds, &[]);
    wait_in_room(&dir, "Mika");
    std::thread::sleep(Duration::from_secs(2));
    let unplugged_at = Instant::now();
    pactl("unload-module module-sine-source");
    let log = dir.join("Mika.log");
    let notice = |needle: &str| {
        assert!(
            crate::common::wait_for_log(&log, needle),
            "no notice {needle:?}: {}",
            log_tail(&dir, "Mika")
        );
        let text = std::fs::read_to_string(&log).expect("Mika's log");
        let line = text
            .lines()
            .find(|l| l.contains(needle))
            .expect("the notice line")
            .to_string();
        assert!(line.contains("WARN"), "a warning: {line}");
        line
    };
    let lost = notice("notice text=microphone");
    let lost_after = unplugged_at.elapsed();
    assert!(lost.contains("stopped"), "{lost}");
    std::thread::sleep(Duration::from_secs(1));
    pactl(PLUG_MICROPHONE);
    pactl("set-default-source mic");
    let restored = notice("notice text=microphone back");
    let restored_after = unplugged_at.elapsed();
    eprintln!("{lost_after:?} after the unplug: {lost}\n{restored_after:?} after it: {restored}");
    let limit = Duration::from_secs(40);
    finish(mika, limit, &dir, "Mika");
    finish(noor, limit, &dir, "Noor");
    // Mika's packets reached Noor for the whole call (`seconds` in the room), while
    // the microphone was gone too: had they stopped at the unplug, about 2 s.
    let noor_report = report(&dir, "Noor");
    let from_mika = peers_named(&noor_report, "Mika");
    assert_eq!(from_mika.len(), 1, "{noor_report}");
    let heard_ms = num(from_mika[0], "audio_ms");
    eprintln!("Noor received {heard_ms} ms of Mika's voice in a {seconds} s call");
    assert!(
        heard_ms >= 0.8 * f64::from(seconds) * 1000.0,
        "Noor received {heard_ms} ms of Mika's voice in a {seconds} s call: {}",
        from_mika[0]
    );
}

/// A and B in room `room` on a fresh server, each with `args`, A for `seconds` and
/// B for two less; returns the folder with their logs and reports.
fn pair_call(dir_name: &str, room: &str, seconds: u32, args: &[&str]) -> PathBuf {
    let dir = crate::common::temp_dir(dir_name);
    let (_server, url) = serve(&dir);
    let a = peer(&dir, &url, room, "A", seconds, args);
    wait_in_room(&dir, "A");
    let b = peer(&dir, &url, room, "B", seconds - 2, args);
    let limit = Duration::from_secs(45);
    finish(b, limit, &dir, "B");
    finish(a, limit, &dir, "A");
    dir
}

#[test]
fn flexfec_switches_itself_on_where_the_link_loses_packets() {
    let _room = ROOM.lock().unwrap_or_else(|e| e.into_inner());
    // Each side drops 10 % of its outgoing RTP; FEC is left at its default (auto).
    // 20 s: the switch may come seconds late on a busy machine (a standing queue
    // measured from late wake-ups holds it off), and the share below counts the
    // whole call.
    let dir = pair_call("net-fec-auto", "FEC-AUT", 20, &["--sim-loss", "0.10"]);
    for (me, other) in [("A", "B"), ("B", "A")] {
        let r = report(&dir, me);
        let line = peers_named(&r, other)[0];
        // 10:2 once switched on: a repair packet for every 5 video packets, less
        // the seconds before the switch (loss measured, then held 2 s).
        assert!(
            num(line, "packets_fec_received") > 0.08 * num(line, "packets_received"),
            "{other} switched FEC on towards {me}: {line}"
        );
        assert!(
            num(line, "packets_fec_rebuilt") >= 5.0,
            "{me} rebuilt lost video: {line}"
        );
        let log = std::fs::read_to_string(dir.join(format!("{other}.log"))).unwrap_or_default();
        assert!(
            log.contains("FlexFEC repair packets on"),
            "{other} logged the switch: {}",
            log_tail(&dir, other)
        );
    }
}

#[test]
fn flexfec_repair_packets_flow_and_lost_video_is_rebuilt_between_two_peers_under_congestion_control()
 {
    let _room = ROOM.lock().unwrap_or_else(|e| e.into_inner());
    // Each side drops 5 % of its outgoing RTP (repair packets too) and protects
    // every 4 video packets with 2 repair packets.
    let fec = ["--video-fec", "4:2", "--sim-loss", "0.05"];
    let dir = pair_call("net-fec", "FEC-234", 12, &fec);
    for (me, other) in [("A", "B"), ("B", "A")] {
        let r = report(&dir, me);
        let line = peers_named(&r, other)[0];
        let repair = num(line, "packets_fec_received");
        let video = num(line, "packets_received");
        // Half as many repair packets as media packets are sent; 5 % are lost.
        assert!(
            repair > video * 0.3,
            "{me} received repair packets from {other}: {line}"
        );
        // About 5 % of ~700 video packets are lost; FEC rebuilds most (the rest
        // come back by NACK).
        assert!(
            num(line, "packets_fec_rebuilt") >= 5.0,
            "{me} rebuilt lost video from the repair packets: {line}"
        );
        assert!(
            num(line, "packets_lost") <= 2.0,
            "{me} gave up almost nothing: {line}"
        );
        assert!(
            num(line, "frames_shown") >= 0.9 * num(line, "frames_sent_to_us"),
            "{me} showed nearly every picture of {other}: {line}"
        );
        // The repair packets' bytes count in what was received: 2 for every 4
        // video packets is far more than the voice's ~35 kbit/s beside the video.
        let video_kbit = num(line, "video_kbit_s");
        assert!(
            num(line, "kbit_s") - video_kbit >= 0.3 * video_kbit,
            "{me} counted the repair bytes in kbit_s: {line}"
        );
        // Congestion control runs beside FEC: the sender towards us estimated.
        let theirs = peers_named(&report(&dir, other), me)[0].clone();
        assert!(
            theirs["send_estimate_kbit"]
                .as_f64()
                .is_some_and(|k| k >= 100.0),
            "{other} estimated its sending to {me} with FEC on: {theirs}"
        );
    }
}

#[test]
fn a_peer_that_draws_slowly_is_sent_no_more_pictures_than_it_shows() {
    let _room = ROOM.lock().unwrap_or_else(|e| e.into_inner());
    // Slow draws at most 12 frames a second; Fast as many as a headless run does
    // (30). Each tells the other its rate every second.
    let dir = crate::common::temp_dir("net-draw-rate");
    let (_server, url) = serve(&dir);
    let slow = peer(&dir, &url, "DRW-234", "Slow", 14, &["--max-fps", "12"]);
    wait_in_room(&dir, "Slow");
    let fast = peer(&dir, &url, "DRW-234", "Fast", 12, &[]);
    let limit = Duration::from_secs(45);
    finish(fast, limit, &dir, "Fast");
    finish(slow, limit, &dir, "Slow");
    let (slow_report, fast_report) = (report(&dir, "Slow"), report(&dir, "Fast"));
    let told = num(peers_named(&fast_report, "Slow")[0], "draw_fps");
    assert!(
        (9.0..=12.5).contains(&told),
        "Slow said it draws about 12 frames a second: {told}"
    );
    // Fast's pictures a second while Slow was in the room: after the first
    // seconds (Slow's first rate comes once it has drawn for a second), at most
    // 95 % of 12, spread so that Slow shows them.
    let seconds: Vec<f64> = fast_report["net"]["send_series"]
        .as_array()
        .map(|a| a.iter().map(|s| num(s, "frames")).collect())
        .unwrap_or_default();
    assert!(seconds.len() >= 8, "Fast sent for 8 s or more: {seconds:?}");
    let settled = &seconds[3..seconds.len() - 1];
    assert!(
        settled.iter().all(|&f| (8.0..=13.0).contains(&f)),
        "Fast sent Slow about 11 pictures a second: {seconds:?}"
    );
    let seen = peers_named(&slow_report, "Fast")[0];
    assert!(
        num(seen, "frames_shown") >= 0.9 * num(seen, "frames_sent_to_us"),
        "Slow showed what Fast sent: {seen}"
    );
    // Slow's own pictures still go to Fast at the full rate.
    let full: Vec<f64> = slow_report["net"]["send_series"]
        .as_array()
        .map(|a| a.iter().map(|s| num(s, "frames")).collect())
        .unwrap_or_default();
    assert!(
        full.iter().any(|&f| f >= 24.0),
        "Slow sent Fast its full rate: {full:?}"
    );
}
