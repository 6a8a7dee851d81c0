//! The composition root: `AppPlugin` puts the capabilities together (windowed or
//! headless: world, record, games, `room::RoomPlugin` with the screens,
//! `net::plugin::NetPlugin`, the demo driver, and `ui` in a window), sets up the
//! scene camera and the window's view of it, and `run_demo` runs it to the end.

use std::path::PathBuf;
use std::time::Duration;

use bevy::app::{AppExit, ScheduleRunnerPlugin};
use bevy::camera::visibility::RenderLayers;
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::window::{ExitCondition, WindowResolution};
use bevy::winit::WinitPlugin;

use crate::AppSystems;
use crate::demo::{
    DemoConfig, DemoPlugin, DemoRun, OutputReport, Outputs, spawn_demo_participants,
};
use crate::paths::assets_dir;
use crate::world::WorldPlugin;
use crate::world::scene::spawn_scene_camera;
use crate::world::theme::load_theme;

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
        .add_plugins(crate::net::plugin::NetPlugin)
        .add_plugins(crate::voice::VoicePlugin {
            spatial: c.net.as_ref().unwrap_or(&c.rooms.bridge).voices.spatial(),
        });
        if let Some(plan) = c.start_plan() {
            app.insert_resource(crate::room::PendingConnect(plan));
        }
        app.add_plugins(DemoPlugin)
            .add_systems(Startup, (setup_scene, spawn_demo_participants).chain())
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
            crate::ui::SceneView,
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
/// The shortest frame of a headless run drawing at most `max_fps` (0: no limit,
/// only a millisecond's rest between frames).
fn headless_frame_time(max_fps: f32) -> Duration {
    if max_fps > 0.0 && max_fps.is_finite() {
        Duration::from_secs_f64(1.0 / f64::from(max_fps))
    } else {
        Duration::from_millis(1)
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
