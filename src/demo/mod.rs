//! The demo driver: what a `samespace demo` (or the windowed app) runs besides the
//! room. [`DemoConfig`] (plain data from the command line), [`DemoRun`] (its
//! resource), the demo participants (`spawn_demo_participants`: the local one and
//! synthetic friends), `--theme-cycle`, and the timed end of a headless run with its
//! snapshot, recording and JSON report ([`report`]), whose files are noted in
//! [`Outputs`].
//!
//! [`DemoPlugin`] adds `finish_demo` and `settle_recording_on_exit` (`Last`) and
//! `cycle_themes` (`AppSystems::Input`); the app's composition root runs
//! `spawn_demo_participants` at start-up, after the scene camera.

pub mod report;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bevy::app::AppExit;
use bevy::prelude::*;

use crate::AppSystems;
use crate::capture::SyntheticParams;
use crate::segment::SegmentConfig;
use crate::world::Placement;
use crate::world::material::CutoutMaterial;
use crate::world::participant::{
    Participant, SourceName, UploadStats, participant_bundle, start_feed,
};
use crate::world::scene::{ActiveTheme, SceneTarget, SnapshotTracker, TakeSnapshot};
use report::{RecordingReport, build_report, distinct_share, elapsed_since, net_report};

/// Names given to the demo participants after the local one.
pub const DEMO_NAMES: [&str; 8] = [
    "Ada",
    "Grace",
    "Linus",
    "Mae",
    "Neil",
    "Sally",
    "Yuri",
    "Valentina",
];

/// Everything a demo run needs, from the command line.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// No window: render offscreen.
    pub headless: bool,
    /// Stop after this many seconds (headless default: 5).
    pub seconds: Option<f32>,
    /// People in the room, the local one included.
    pub participants: usize,
    /// Theme name.
    pub theme: String,
    /// Write a PNG of the scene at the end.
    pub snapshot: Option<PathBuf>,
    /// Write a JSON report at the end.
    pub report: Option<PathBuf>,
    /// Camera spec for the local participant (`None`: the demo participant).
    pub camera: Option<String>,
    /// Camera specs for the demo participants after the local one, in order; the
    /// ones left over are synthetic.
    pub demo_cameras: Vec<String>,
    /// The local participant's name.
    pub name: String,
    /// Segmentation settings.
    pub segment: SegmentConfig,
    /// Scene render size.
    pub width: u32,
    /// Scene render size.
    pub height: u32,
    /// Frame rate of the extra demo participants.
    pub demo_fps: f32,
    /// Most frames a second a headless run draws (0: no limit).
    pub max_fps: f32,
    /// Party game to play.
    pub game: Option<crate::games::GameKind>,
    /// Seed of the game's random choices.
    pub seed: u64,
    /// Join a room over the network (`--server`): the local participant goes out,
    /// the other peers come in as participants.
    pub net: Option<crate::net::bridge::BridgeConfig>,
    /// Record the scene and the room's audio to this MP4 from the start.
    pub record: Option<PathBuf>,
    /// Switch to the next theme every this many seconds.
    pub theme_cycle: Option<f32>,
    /// Open the lobby (windowed `samespace`) rather than the room.
    pub lobby: bool,
    /// Connect at start (`samespace join`); `net` (`demo --server`) does too.
    pub connect: Option<crate::room::ConnectPlan>,
    /// How rooms are created and joined from the lobby.
    pub rooms: crate::room::RoomSettings,
}

impl DemoConfig {
    /// The connection to make at start, if any.
    pub fn start_plan(&self) -> Option<crate::room::ConnectPlan> {
        self.connect
            .clone()
            .or_else(|| self.net.clone().map(crate::room::ConnectPlan::server))
    }

    /// The screen the app opens on.
    pub fn start_screen(&self) -> crate::Screen {
        if self.start_plan().is_some() {
            crate::Screen::Connecting
        } else if self.lobby {
            crate::Screen::Lobby
        } else {
            crate::Screen::Room
        }
    }
}

/// Settings and state of the run, as a resource.
#[derive(Resource, Debug, Clone)]
pub struct DemoRun {
    /// The configuration.
    pub config: DemoConfig,
    /// First update.
    pub started: Option<Instant>,
    /// Frames rendered since the start.
    pub frames: u64,
    /// Whether the end sequence (snapshot, report) has begun.
    pub finishing: bool,
    /// CPU seconds this process had used at the first update.
    pub cpu_at_start: Option<f64>,
}

/// The demo driver's systems (see the module docs).
pub struct DemoPlugin;

impl Plugin for DemoPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Outputs>()
            .add_systems(
                Last,
                (
                    finish_demo.run_if(in_state(crate::Screen::Room)),
                    settle_recording_on_exit,
                )
                    .chain(),
            )
            .add_systems(Update, cycle_themes.in_set(AppSystems::Input));
    }
}

/// The frame size of a drawn demo friend: the video ladder's middle rung, as a
/// remote friend's picture often arrives (docs/ARCHITECTURE.md, *Demo friends come
/// cut out*).
pub const FRIEND_FRAME: (u32, u32) = (480, 360);

/// Spawns the local participant and the demo friends (`DemoConfig::participants`).
pub fn spawn_demo_participants(
    mut commands: Commands,
    run: Res<DemoRun>,
    mut images: ResMut<Assets<Image>>,
    mut materials: ResMut<Assets<CutoutMaterial>>,
    mut meshes: ResMut<Assets<Mesh>>,
    tee: Res<crate::room::LocalTee>,
    outputs: Res<Outputs>,
    mut exit: MessageWriter<AppExit>,
) {
    let c = &run.config;
    let quad = meshes.add(Rectangle::new(1.0, 1.0));
    // In a room the local demo participant moves at the network video rate.
    let local_fps = c.net.as_ref().map_or(30.0, |n| n.video_fps);
    for i in 0..c.participants {
        let local = i == 0;
        // The local participant also feeds the room's encoder (whenever there is one).
        let tee = local.then(|| tee.0.clone());
        let synthetic = SyntheticParams {
            fps: if local { local_fps } else { c.demo_fps },
            phase: i as f32 * 1.7,
            variant: i as u32,
            walk_px: 60.0,
            // A demo friend stands in for a remote person, whose cutout comes
            // made from their machine: drawn friends bring their coverage. You
            // are cut out by the real segmentation.
            precut: !local,
            width: if local { 640 } else { FRIEND_FRAME.0 },
            height: if local { 480 } else { FRIEND_FRAME.1 },
        };
        let spec = camera_spec(c, i);
        // No stand-in for a camera that does not start: the run ends with the reason.
        let (feed, source) = match start_feed(&spec, synthetic, &c.segment, i, tee) {
            Ok(f) => f,
            Err(e) => {
                let message = format!("cannot start camera {spec:?}: {e:#}");
                error!("{message}");
                outputs.error(message);
                exit.write(AppExit::error());
                return;
            }
        };
        let name = if local {
            c.name.clone()
        } else {
            DEMO_NAMES[(i - 1) % DEMO_NAMES.len()].to_string()
        };
        let placement = Placement {
            x: -400.0 + 250.0 * i as f32,
            mirrored: local,
            ..Placement::default()
        };
        let mut person = commands.spawn(participant_bundle(
            Participant {
                id: i as u32,
                name,
                local,
            },
            placement,
            Vec4::ONE,
            &mut images,
            &mut materials,
            quad.clone(),
        ));
        person.insert((feed, SourceName(source)));
        if !local {
            // Demo participants belong to the (offline) room, and in a game they
            // walk to play it (`games::autoplay`); you stay where you stand.
            person.insert((
                DespawnOnExit(crate::Screen::Room),
                crate::games::plugin::Autoplay::default(),
            ));
        }
    }
}
/// The camera of participant `i` (0: the local one): its `--camera`, else the
/// synthetic demo participant.
fn camera_spec(config: &DemoConfig, i: usize) -> String {
    let given = match i {
        0 => config.camera.as_ref(),
        _ => config.demo_cameras.get(i - 1),
    };
    given.cloned().unwrap_or_else(|| "synthetic".into())
}

/// With `--theme-cycle`, moves to the next theme (by name order) every few seconds.
fn cycle_themes(
    run: Res<DemoRun>,
    time: Res<Time>,
    theme: Res<ActiveTheme>,
    dir: Res<crate::world::scene::ThemesDir>,
    mut last: Local<f32>,
    mut switch: MessageWriter<crate::world::scene::SwitchTheme>,
) {
    let Some(period) = run.config.theme_cycle.filter(|p| *p > 0.0) else {
        return;
    };
    let now = time.elapsed_secs();
    if now - *last < period {
        return;
    }
    *last = now;
    if now < period {
        return;
    }
    let names: Vec<String> = crate::world::theme::list_themes(&dir.0)
        .into_iter()
        .map(|t| t.name)
        .collect();
    if let Some(i) = names.iter().position(|n| *n == theme.0.name) {
        switch.write(crate::world::scene::SwitchTheme(
            names[(i + 1) % names.len()].clone(),
        ));
    }
}
fn finish_demo(
    mut run: ResMut<DemoRun>,
    mut snapshots: MessageWriter<TakeSnapshot>,
    tracker: Res<SnapshotTracker>,
    people: report::ReportedPeople,
    uploads: Res<UploadStats>,
    theme: Res<ActiveTheme>,
    target: Option<Res<SceneTarget>>,
    game: Option<Res<crate::games::plugin::ActiveGame>>,
    net: Option<Res<crate::net::plugin::NetLink>>,
    peer_figures: crate::room::figures::PeerFigures,
    remote_game: Option<Res<crate::games::plugin::RemoteGame>>,
    mut recording: ResMut<crate::record::plugin::Recording>,
    outputs: Res<Outputs>,
    mut commands: Commands,
    mut exit: MessageWriter<AppExit>,
) {
    let now = Instant::now();
    if run.started.is_none() {
        run.cpu_at_start = crate::net::stats::process_cpu_seconds();
    }
    let first = *run.started.get_or_insert(now);
    // A recorded demo lasts `seconds` of recording, whatever start-up took.
    let started = match (&run.config.record, recording.first_frame_at()) {
        (Some(_), Some(rec)) => rec,
        (Some(_), None) if recording.error.is_none() && elapsed_since(first, now) < 30.0 => {
            return;
        }
        _ => first,
    };
    run.frames += 1;
    let Some(limit) = run.config.seconds else {
        return;
    };
    let elapsed = (now - started).as_secs_f32();
    if elapsed < limit || target.is_none() {
        return;
    }
    if !run.finishing {
        run.finishing = true;
        // The clip ends now, not after the snapshot round trip.
        crate::record::plugin::finish_recording(&mut commands, &mut recording);
        if let Some(path) = run.config.snapshot.clone() {
            snapshots.write(TakeSnapshot(path));
        }
        return;
    }
    if tracker.pending.load(Ordering::SeqCst) > 0 {
        // Give up on a snapshot that never comes back after a few seconds.
        if elapsed < limit + 10.0 {
            return;
        }
        error!("snapshot did not complete");
    }
    if let Some(path) = &run.config.snapshot {
        let saved = tracker.saved.lock().is_ok_and(|s| s.contains(path));
        if saved {
            outputs.written(path);
        } else {
            let reason = tracker
                .failed
                .lock()
                .ok()
                .and_then(|f| f.iter().find(|(p, _)| p == path).map(|(_, e)| e.clone()))
                .unwrap_or_else(|| "the picture never came back from the GPU".into());
            outputs.failed(path, reason);
        }
    }
    crate::record::plugin::finish_recording(&mut commands, &mut recording);
    let mut report = build_report(&run, elapsed, &people, &uploads, &theme, &tracker);
    report.cpu_cores = crate::net::stats::process_cpu_seconds()
        .zip(run.cpu_at_start)
        .map(|(end, start)| (end - start) / f64::from(elapsed.max(1e-3)));
    report.cpu_threads = crate::net::stats::thread_cpu_seconds()
        .into_iter()
        .map(|(name, secs)| (name, secs / f64::from(elapsed.max(1e-3))))
        .filter(|(_, cores)| *cores >= 0.001)
        .collect();
    if let Some(link) = &net {
        let (peers, net_report) = net_report(
            link,
            &peer_figures,
            game.as_deref(),
            remote_game.as_deref(),
            elapsed,
        );
        report.peers = peers;
        report.net = Some(net_report);
    }
    report.recording = recording.last.as_ref().map(|s| RecordingReport {
        path: s.path.clone(),
        frames_written: s.frames_written,
        frames_dropped: s.frames_dropped,
        frames_repeated: s.frames_repeated,
        distinct_share: distinct_share(s.frames_written, s.frames_repeated),
        duration_s: s.duration.as_secs_f32(),
        encode_ms_per_frame: s.encode_ms_per_frame,
        error: recording.error.clone(),
    });
    report.game = game.map(|g| g.sim.report(g.events.clone()));
    if let Some(path) = &run.config.report {
        let written = serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|json| {
                crate::output::write_bytes(path, json.as_bytes()).map_err(|e| e.to_string())
            });
        match written {
            Ok(()) => outputs.written(path),
            Err(e) => {
                error!(path = %path.display(), error = %e, "cannot write report");
                outputs.failed(path, e);
            }
        }
    }
    info!(
        frames = report.frames_rendered,
        fps = report.render_fps,
        "demo finished"
    );
    exit.write(AppExit::Success);
}
/// When the app exits (the timed end, or a closed window), stops the recording
/// if it still runs and notes whether the file asked for was written.
fn settle_recording_on_exit(
    mut exits: MessageReader<AppExit>,
    run: Res<DemoRun>,
    mut recording: ResMut<crate::record::plugin::Recording>,
    outputs: Res<Outputs>,
    mut commands: Commands,
    mut settled: Local<bool>,
) {
    if exits.read().count() == 0 || *settled {
        return;
    }
    *settled = true;
    crate::record::plugin::finish_recording(&mut commands, &mut recording);
    let Some(path) = &run.config.record else {
        return;
    };
    let complete = recording
        .last
        .as_ref()
        .is_some_and(|s| s.error.is_none() && s.path.as_ref() == Some(path));
    if complete {
        outputs.written(path);
        return;
    }
    let mut reason = recording
        .error
        .clone()
        .unwrap_or_else(|| "the recording never started".into());
    if let Some(part) = recording.last.as_ref().and_then(|s| s.path.as_ref()) {
        reason.push_str(&format!(" (what was recorded is in {})", part.display()));
    }
    outputs.failed(path, reason);
}
/// What became of the files a demo run was asked to write, and the errors
/// that ended it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputReport {
    /// Files written whole.
    pub written: Vec<PathBuf>,
    /// Files not written, with the reason.
    pub failed: Vec<(PathBuf, String)>,
    /// Errors that ended or spoiled the run (a camera that did not start).
    pub errors: Vec<String>,
}

impl OutputReport {
    /// The files of `requested` (name of the output, path) that were not
    /// written, as `name path: reason` lines.
    pub fn missing(&self, requested: &[(&str, &PathBuf)]) -> Vec<String> {
        requested
            .iter()
            .filter(|entry| !self.written.contains(entry.1))
            .map(|(name, path)| {
                let reason = self
                    .failed
                    .iter()
                    .find(|(p, _)| p == *path)
                    .map_or("the run ended before it was written", |(_, r)| r.as_str());
                format!("{name} {}: {reason}", path.display())
            })
            .collect()
    }
}

/// The run's [`OutputReport`], shared with [`run_demo`]'s caller.
#[derive(Resource, Clone, Default, Debug)]
pub struct Outputs(pub std::sync::Arc<std::sync::Mutex<OutputReport>>);

impl Outputs {
    fn with(&self, f: impl FnOnce(&mut OutputReport)) {
        if let Ok(mut report) = self.0.lock() {
            f(&mut report);
        }
    }

    /// Notes a file written whole.
    pub fn written(&self, path: &std::path::Path) {
        self.with(|r| r.written.push(path.to_path_buf()));
    }

    /// Notes a file that was not written.
    pub fn failed(&self, path: &std::path::Path, reason: String) {
        self.with(|r| r.failed.push((path.to_path_buf(), reason)));
    }

    /// Notes an error that ends or spoils the run.
    pub fn error(&self, message: String) {
        self.with(|r| r.errors.push(message));
    }

    /// A copy of what has been noted.
    pub fn report(&self) -> OutputReport {
        self.0.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_outputs_are_named_with_their_reason() {
        let (rec, snap, report) = (
            PathBuf::from("r.mp4"),
            PathBuf::from("s.png"),
            PathBuf::from("j.json"),
        );
        let outputs = OutputReport {
            written: vec![report.clone()],
            failed: vec![(rec.clone(), "no space left".into())],
            errors: Vec::new(),
        };
        let missing = outputs.missing(&[
            ("recording", &rec),
            ("snapshot", &snap),
            ("report", &report),
        ]);
        assert_eq!(
            missing,
            vec![
                "recording r.mp4: no space left".to_string(),
                "snapshot s.png: the run ended before it was written".to_string(),
            ]
        );
    }
}
