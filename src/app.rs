//! App composition: `DemoConfig` (plain data from the command line), `AppPlugin`
//! (windowed or headless: world, games, record, `room::RoomPlugin` with the screens,
//! `net::plugin::NetPlugin`, and `ui` in a window), the local and demo participants,
//! the timed headless run with its snapshot and JSON report (counted from entering
//! `Screen::Room`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bevy::app::{AppExit, ScheduleRunnerPlugin};
use bevy::camera::visibility::RenderLayers;
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::window::{ExitCondition, WindowResolution};
use bevy::winit::WinitPlugin;
use serde::Serialize;

use crate::AppSystems;
use crate::capture::{CaptureWorker, SyntheticParams, open_source};
use crate::paths::assets_dir;
use crate::segment::{CutoutPipeline, SegmentConfig, SegmentWorker};
use crate::world::material::CutoutMaterial;
use crate::world::participant::{
    LatestCutout, LocalFeed, Participant, UploadStats, participant_bundle,
};
use crate::world::scene::{
    ActiveTheme, SceneTarget, SnapshotTracker, TakeSnapshot, spawn_scene_camera,
};
use crate::world::theme::load_theme;
use crate::world::{Placement, WorldPlugin};

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

/// The report written with `--report`.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// Theme used at the end.
    pub theme: String,
    /// Wall-clock seconds run.
    pub seconds: f32,
    /// Frames rendered.
    pub frames_rendered: u64,
    /// Frames per second rendered.
    pub render_fps: f32,
    /// Scene size.
    pub width: u32,
    /// Scene size.
    pub height: u32,
    /// Average ms per stage.
    pub stages_ms: StageReport,
    /// Average age of a cutout when shown (capture → upload), ms.
    pub frame_age_ms: f32,
    /// Who was there.
    pub participants: Vec<ParticipantReport>,
    /// Snapshot written, if any.
    pub snapshot: Option<PathBuf>,
    /// The game played, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game: Option<crate::games::GameReport>,
    /// CPU cores used on average over the run (user + system time / wall time).
    pub cpu_cores: Option<f64>,
    /// CPU cores per thread name over the run (names cut to 15 bytes; a thread's
    /// time counts from its start, which is about the start of the run).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub cpu_threads: std::collections::BTreeMap<String, f64>,
    /// The other peers in a networked room (empty offline).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<crate::net::stats::PeerReport>,
    /// This peer's side of a networked room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<NetReport>,
    /// The recording, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingReport>,
}

/// This peer's own figures in a networked room.
#[derive(Debug, Clone, Serialize)]
pub struct NetReport {
    /// Room code.
    pub room: String,
    /// Our peer id.
    pub me: u64,
    /// The host at the end.
    pub host: u64,
    /// Whether we were the host at the end.
    pub is_host: bool,
    /// The tone our synthetic voice sends.
    pub tone_hz: f32,
    /// Pictures encoded and sent.
    pub video_frames_sent: u64,
    /// Pictures the rate control skipped.
    pub video_frames_skipped: u64,
    /// Keyframes sent.
    pub keyframes_sent: u64,
    /// Sent video bit rate, kbit/s (per stream; every peer gets the same stream).
    pub video_kbit_s_sent: f64,
    /// Average H.264 encode time per picture (640x960 packed), ms.
    pub encode_ms: f64,
    /// Opus packets sent.
    pub audio_packets_sent: u64,
    /// Game snapshots received from the host.
    pub game_snapshots_received: u64,
    /// Game events received from the host.
    pub game_events_received: u64,
    /// The game being followed or run, and its newest tick and object count.
    pub game: Option<String>,
    /// Newest game tick seen.
    pub game_tick: Option<u64>,
    /// Objects in the newest game state.
    pub game_objects: Option<usize>,
    /// Units the mesh dropped (video out, audio out, events in, world messages).
    pub dropped: [u64; 4],
    /// Microphone and speaker in use (`null`: synthetic).
    pub audio: crate::net::bridge::AudioInUse,
    /// Connections started over because they never came up.
    pub reconnects: u64,
}

/// The `recording` section of the report.
#[derive(Debug, Clone, Serialize)]
pub struct RecordingReport {
    /// The MP4 written.
    pub path: Option<PathBuf>,
    /// Video frames in the file.
    pub frames_written: u64,
    /// Frames dropped because the encoder was behind.
    pub frames_dropped: u64,
    /// Media duration in seconds.
    pub duration_s: f32,
    /// Average encode time per frame.
    pub encode_ms_per_frame: f64,
    /// What stopped it early, if anything.
    pub error: Option<String>,
}

/// Per-stage averages.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StageReport {
    /// Producing a camera/synthetic frame.
    pub capture: f32,
    /// Frame → cutout.
    pub segmentation: f32,
    /// Cutout → texture.
    pub upload: f32,
}

/// One participant in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantReport {
    /// Room id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Local or remote.
    pub local: bool,
    /// Cutouts shown.
    pub cutouts_shown: u64,
    /// Where the cutouts came from.
    pub source: String,
    /// Segmentation backend.
    pub backend: Option<String>,
    /// Final placement.
    pub placement: Placement,
}

/// Builds the whole app for a demo run.
pub struct AppPlugin {
    /// Run settings.
    pub config: DemoConfig,
}

impl Plugin for AppPlugin {
    fn build(&self, app: &mut App) {
        let c = &self.config;
        let assets = assets_dir();
        let defaults = DefaultPlugins
            .set(AssetPlugin {
                file_path: assets.to_string_lossy().into_owned(),
                ..default()
            })
            .set(LogPlugin {
                filter: "wgpu=error,naga=warn,samespace=info,ort=error".into(),
                ..default()
            });
        if c.headless {
            // Headless runs exist to write snapshots and recordings: every frame is
            // drawn whole, never with pipelines still compiling in the background
            // (seconds on a software renderer, when only the sky would show).
            app.add_plugins(
                defaults
                    .set(bevy::render::RenderPlugin {
                        synchronous_pipeline_compilation: true,
                        ..default()
                    })
                    .set(WindowPlugin {
                        primary_window: None,
                        exit_condition: ExitCondition::DontExit,
                        ..default()
                    })
                    .disable::<WinitPlugin>(),
            )
            .add_plugins(ScheduleRunnerPlugin::run_loop(headless_frame_time(
                c.max_fps,
            )));
        } else {
            app.add_plugins(defaults.set(WindowPlugin {
                primary_window: Some(Window {
                    title: "samespace".into(),
                    resolution: WindowResolution::new(c.width, c.height),
                    ..default()
                }),
                ..default()
            }));
            app.add_plugins(crate::ui::UiPlugin);
        }
        let themes_dir = assets.join("themes");
        // `samespace demo` checks the theme before it starts; a theme that breaks
        // in between is said loudly, and the run fails at its end.
        let theme = load_theme(&themes_dir, &c.theme).unwrap_or_else(|e| {
            error!(error = %e, "cannot load the theme; showing the beach theme");
            if let Some(outputs) = app.world().get_resource::<Outputs>() {
                outputs.error(format!("theme {}: {e}", c.theme));
            }
            load_theme(&themes_dir, "beach").expect("the bundled beach theme loads")
        });
        app.configure_sets(
            Update,
            (
                AppSystems::Ingest,
                AppSystems::Input,
                AppSystems::Simulate,
                AppSystems::Sync,
                AppSystems::Present,
                AppSystems::Egress,
            )
                .chain(),
        )
        .init_resource::<Outputs>()
        .insert_resource(ClearColor(Color::BLACK))
        .insert_resource(DemoRun {
            config: c.clone(),
            started: None,
            frames: 0,
            finishing: false,
            cpu_at_start: None,
        })
        .add_plugins(WorldPlugin { theme, themes_dir })
        .add_plugins(crate::record::plugin::RecordPlugin {
            record_to: c.record.clone(),
        });
        let photo_dir = c
            .snapshot
            .as_ref()
            .and_then(|p| p.parent())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("out"));
        app.add_plugins(crate::games::plugin::GamesPlugin {
            kind: c.game,
            seed: c.seed,
            photo_dir,
        })
        .insert_resource(c.rooms.clone())
        .add_plugins(crate::room::RoomPlugin {
            start: c.start_screen(),
        })
        .add_plugins(crate::net::plugin::NetPlugin);
        if let Some(plan) = c.start_plan() {
            app.insert_resource(crate::room::PendingConnect(plan));
        }
        app.add_systems(Startup, (setup_scene, spawn_demo_participants).chain())
            .add_systems(
                Last,
                (
                    finish_demo.run_if(in_state(crate::Screen::Room)),
                    settle_recording_on_exit,
                )
                    .chain(),
            )
            .add_systems(Update, cycle_themes.in_set(AppSystems::Input))
            .add_message::<crate::Notice>()
            .add_systems(Last, crate::log_notices);
    }
}

fn setup_scene(mut commands: Commands, mut images: ResMut<Assets<Image>>, run: Res<DemoRun>) {
    let target = spawn_scene_camera(
        &mut commands,
        &mut images,
        run.config.width,
        run.config.height,
    );
    if !run.config.headless {
        // The window shows the scene image; UI is drawn on top by this camera only.
        // egui lives on this camera, never on the scene camera: egui's input follows
        // its camera's render target, and an image target gets no pointer or keys.
        commands.spawn((
            Name::new("window camera"),
            Camera2d,
            Camera {
                order: 0,
                ..default()
            },
            bevy::render::view::Msaa::Off,
            RenderLayers::layer(1),
            crate::ui::window_camera_ui(),
        ));
        commands.spawn((
            Name::new("scene view"),
            Sprite {
                image: target.image.clone(),
                custom_size: Some(Vec2::new(run.config.width as f32, run.config.height as f32)),
                ..default()
            },
            RenderLayers::layer(1),
        ));
    }
    commands.insert_resource(target);
}

/// Starts the capture and segmentation threads of one local participant.
/// `tee`, if given, also receives every cutout as soon as it is ready (the network
/// encoder).
pub fn start_feed(
    spec: &str,
    synthetic: SyntheticParams,
    segment: &SegmentConfig,
    index: usize,
    tee: Option<crate::segment::worker::CutoutTee>,
) -> anyhow::Result<(LocalFeed, String)> {
    let source = open_source(spec, &assets_dir(), synthetic, 640, 480, 30)?;
    let name = source.info().name;
    let capture = CaptureWorker::spawn(source, &format!("samespace-capture-{index}"))?;
    let pipeline = CutoutPipeline::new(segment.clone());
    let segment = SegmentWorker::spawn_with_tee(
        capture.frames.clone(),
        pipeline,
        &format!("samespace-segment-{index}"),
        tee,
    )?;
    Ok((LocalFeed { capture, segment }, name))
}

/// The description of a participant's source, for the report.
#[derive(Component, Debug, Clone)]
pub struct SourceName(pub String);

fn spawn_demo_participants(
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
            ..SyntheticParams::default()
        };
        let spec = if local {
            c.camera.clone().unwrap_or_else(|| "synthetic".into())
        } else {
            "synthetic".into()
        };
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
            // Demo participants belong to the (offline) room.
            person.insert(DespawnOnExit(crate::Screen::Room));
        }
    }
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

/// The shortest frame of a headless run drawing at most `max_fps` (0: no limit,
/// only a millisecond's rest between frames).
fn headless_frame_time(max_fps: f32) -> Duration {
    if max_fps > 0.0 && max_fps.is_finite() {
        Duration::from_secs_f64(1.0 / f64::from(max_fps))
    } else {
        Duration::from_millis(1)
    }
}

fn finish_demo(
    mut run: ResMut<DemoRun>,
    mut snapshots: MessageWriter<TakeSnapshot>,
    tracker: Res<SnapshotTracker>,
    people: Query<(
        &Participant,
        &LatestCutout,
        &crate::world::participant::ParticipantPlacement,
        Option<&LocalFeed>,
        Option<&SourceName>,
    )>,
    uploads: Res<UploadStats>,
    theme: Res<ActiveTheme>,
    target: Option<Res<SceneTarget>>,
    game: Option<Res<crate::games::plugin::ActiveGame>>,
    net: Option<Res<crate::net::plugin::NetLink>>,
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
        let (peers, net_report) =
            net_report(link, game.as_deref(), remote_game.as_deref(), elapsed);
        report.peers = peers;
        report.net = Some(net_report);
    }
    report.recording = recording.last.as_ref().map(|s| RecordingReport {
        path: s.path.clone(),
        frames_written: s.frames_written,
        frames_dropped: s.frames_dropped,
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

fn net_report(
    link: &crate::net::plugin::NetLink,
    game: Option<&crate::games::plugin::ActiveGame>,
    remote: Option<&crate::games::plugin::RemoteGame>,
    elapsed: f32,
) -> (Vec<crate::net::stats::PeerReport>, NetReport) {
    let shared = link.bridge.shared();
    let mut peers: Vec<_> = shared
        .stats()
        .iter()
        .map(|(id, s)| s.report(id.0, Instant::now()))
        .collect();
    peers.sort_by_key(|p| p.id);
    let sent = &shared.sent;
    let frames = sent.video_frames.load(Ordering::Relaxed);
    let skipped = sent.video_skipped.load(Ordering::Relaxed);
    let encode_us = sent.encode_us.load(Ordering::Relaxed);
    let counters = link.bridge.net().counters();
    let (game_name, tick, objects) = match (game, remote.and_then(|r| r.snapshot.as_ref())) {
        (Some(g), _) if link.host == link.me => {
            let s = g.sim.snapshot();
            (
                Some(s.game.name().to_string()),
                Some(s.tick),
                Some(s.objects.len()),
            )
        }
        (_, Some(s)) => (
            Some(s.game.name().to_string()),
            Some(s.tick),
            Some(s.objects.len()),
        ),
        (Some(g), None) => {
            let s = g.sim.snapshot();
            (
                Some(s.game.name().to_string()),
                Some(s.tick),
                Some(s.objects.len()),
            )
        }
        (None, None) => (None, None, None),
    };
    let report = NetReport {
        room: link.room.to_string(),
        me: link.me.0,
        host: link.host.0,
        is_host: link.host == link.me,
        tone_hz: link.bridge.tone_hz(),
        video_frames_sent: frames,
        video_frames_skipped: skipped,
        keyframes_sent: sent.keyframes.load(Ordering::Relaxed),
        video_kbit_s_sent: sent.video_bytes.load(Ordering::Relaxed) as f64 * 8.0
            / 1000.0
            / f64::from(elapsed.max(1e-3)),
        encode_ms: encode_us as f64 / 1000.0 / (frames + skipped).max(1) as f64,
        audio_packets_sent: sent.audio_packets.load(Ordering::Relaxed),
        game_snapshots_received: remote.map_or(0, |r| r.snapshots_received),
        game_events_received: remote.map_or(0, |r| r.events_received),
        game: game_name,
        game_tick: tick,
        game_objects: objects,
        dropped: [
            counters.video_dropped_out.load(Ordering::Relaxed),
            counters.audio_dropped_out.load(Ordering::Relaxed),
            counters.dropped_in.load(Ordering::Relaxed),
            counters.world_dropped.load(Ordering::Relaxed),
        ],
        audio: link.bridge.shared().audio_in_use(),
        reconnects: counters.reconnects.load(Ordering::Relaxed),
    };
    (peers, report)
}

fn elapsed_since(start: Instant, now: Instant) -> f32 {
    (now - start).as_secs_f32()
}

fn build_report(
    run: &DemoRun,
    elapsed: f32,
    people: &Query<(
        &Participant,
        &LatestCutout,
        &crate::world::participant::ParticipantPlacement,
        Option<&LocalFeed>,
        Option<&SourceName>,
    )>,
    uploads: &UploadStats,
    theme: &ActiveTheme,
    tracker: &SnapshotTracker,
) -> DemoReport {
    let mut stages = StageReport {
        upload: uploads.avg_ms,
        ..default()
    };
    let mut participants = Vec::new();
    let mut n_local = 0.0;
    for (p, latest, placement, feed, source) in people.iter() {
        let mut backend = None;
        if let Some(f) = feed {
            let s = f.segment.stats();
            stages.capture += f.capture.produce_ms();
            stages.segmentation += s.avg_total_ms;
            n_local += 1.0;
            backend = s.backend.map(|b| b.name().to_string());
        }
        participants.push(ParticipantReport {
            id: p.id,
            name: p.name.clone(),
            local: p.local,
            cutouts_shown: latest.frames,
            source: source
                .map(|s| s.0.clone())
                .unwrap_or_else(|| "remote".into()),
            backend,
            placement: placement.0,
        });
    }
    participants.sort_by_key(|p| p.id);
    if n_local > 0.0 {
        stages.capture /= n_local;
        stages.segmentation /= n_local;
    }
    DemoReport {
        theme: theme.0.name.clone(),
        seconds: elapsed,
        frames_rendered: run.frames,
        render_fps: run.frames as f32 / elapsed.max(1e-3),
        width: run.config.width,
        height: run.config.height,
        stages_ms: stages,
        frame_age_ms: uploads.avg_age_ms,
        participants,
        snapshot: run
            .config
            .snapshot
            .clone()
            .filter(|p| tracker.saved.lock().is_ok_and(|s| s.contains(p))),
        game: None,
        cpu_cores: None,
        cpu_threads: std::collections::BTreeMap::new(),
        peers: Vec::new(),
        net: None,
        recording: None,
    }
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

/// How a demo run ended.
#[derive(Debug)]
pub struct DemoOutcome {
    /// How the app exited.
    pub exit: AppExit,
    /// The files written and not written.
    pub outputs: OutputReport,
}

/// Runs a demo to the end.
pub fn run_demo(config: DemoConfig) -> DemoOutcome {
    let outputs = Outputs::default();
    let exit = App::new()
        .insert_resource(outputs.clone())
        .add_plugins(AppPlugin { config })
        .run();
    DemoOutcome {
        exit,
        outputs: outputs.report(),
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
