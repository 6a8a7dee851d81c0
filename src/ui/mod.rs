//! egui interface (windowed runs only), one screen per [`Screen`] state:
//! - `Lobby`: name, camera (with a live preview of your cutout), theme, server and
//!   secret; **Create room**, or a code/link and **Join** ([`lobby::lobby_form`]).
//!   The buttons send `room::CreateRoom` / `room::JoinRoom` and save the choices
//!   ([`Settings`]); a failure's reason (`room::LobbyNotice`) is shown under them.
//! - `Connecting`: what is being done, the seconds, **Cancel** (`room::CancelConnecting`).
//! - `Room`: the room panel (`F1` shows/hides it): the code large with **Copy**, the
//!   join link with **Copy**, the people, **Leave** (`room::LeaveRoom`), theme,
//!   snapshot, recording, stats.
//!
//! Placement input: drag to move, wheel to scale, `[`/`]` z-order, `M` mirror, `T`
//! next theme, `P` snapshot, `R` record, `F3` stats, `F1` room panel, `V` mute
//! yourself, `Space` held to talk (push-to-talk on); shortcuts never fire while an
//! egui text field has focus. The room panel's voice controls are in [`voices`]. The
//! game HUD, names and the recording badge are drawn in the world
//! (`games::scene_hud`, `world::hud`, `record::badge`), and so are the speaking ring
//! and the mute badge (`voice`), so snapshots and recordings show them too; egui is
//! for controls.

pub mod host;
pub mod lobby;
pub mod toast;
pub mod voices;

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::EguiWantsInput;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

use crate::AppSystems;
use crate::Screen;
use crate::demo::DemoRun;
use crate::record::plugin::{Recording, StartRecording, StopRecording};
use crate::room::settings::Settings;
use crate::room::{
    CancelConnecting, ConnectTask, CreateRoom, JoinRoom, LeaveRoom, LobbyNotice, LocalTee,
    RoomInfo, RoomSettings,
};
use crate::world::participant::{
    CutoutTexture, LatestCutout, LocalFeed, Participant, ParticipantPlacement, Pinned, UploadStats,
};
use crate::world::placement::{SCENE_HEIGHT, SCENE_WIDTH};
use crate::world::scene::{ActiveTheme, SwitchTheme, TakeSnapshot, ThemesDir};
use crate::world::theme::list_themes;
use lobby::{LobbyAction, LobbyForm, connecting_panel, lobby_form};

/// UI state.
#[derive(Resource, Debug, Default)]
pub struct UiState {
    /// The lobby's fields.
    pub form: LobbyForm,
    /// Camera specs matching `form.cameras` (`synthetic`, `0`, …).
    pub camera_specs: Vec<String>,
    /// Microphone specs matching `form.mics` (`none`, `default`, names).
    pub mic_specs: Vec<String>,
    /// Speaker specs matching `form.speakers`.
    pub speaker_specs: Vec<String>,
    /// Room panel shown (`F1`).
    pub show_panel: bool,
    /// Stats overlay on.
    pub show_stats: bool,
    /// Theme names, cached.
    pub themes: Vec<String>,
    /// Participant selected for keyboard placement.
    pub selected: Option<Entity>,
    /// Participant being dragged, with the grab offset.
    pub dragging: Option<(Entity, Vec2)>,
    /// Message line.
    pub status: String,
}

/// The system clipboard, opened on first use and kept open (on X11 the copied text
/// is served only while it lives).
#[derive(Resource, Default)]
pub struct UiClipboard(std::sync::Mutex<Option<arboard::Clipboard>>);

impl UiClipboard {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut arboard::Clipboard) -> Result<T, arboard::Error>,
    ) -> Result<T, String> {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(arboard::Clipboard::new().map_err(|e| e.to_string())?);
        }
        let clipboard = guard.as_mut().ok_or_else(|| "no clipboard".to_string())?;
        f(clipboard).map_err(|e| e.to_string())
    }

    /// Puts `text` on the clipboard.
    pub fn copy(&self, text: &str) -> Result<(), String> {
        self.with(|c| c.set_text(text.to_owned()))
    }

    /// The clipboard's text.
    pub fn paste(&self) -> Result<String, String> {
        self.with(|c| c.get_text())
    }
}

/// The choices of one audio side: labels to show and the specs they stand for —
/// no device, the system's default, each attached device, and `current` if it is
/// none of these (a saved device that is not attached now). Returns the index of
/// `current` too.
pub fn audio_choices(
    devices: &[String],
    none_label: &str,
    current: &str,
) -> (Vec<String>, Vec<String>, usize) {
    use crate::media::audio_device::{DEFAULT_DEVICE, NO_DEVICE};
    let mut labels = vec![none_label.to_string(), "System default".to_string()];
    let mut specs = vec![NO_DEVICE.to_string(), DEFAULT_DEVICE.to_string()];
    for d in devices {
        labels.push(d.clone());
        specs.push(d.clone());
    }
    if !specs.iter().any(|s| s == current) {
        labels.push(format!("{current} (not attached)"));
        specs.push(current.to_string());
    }
    let index = specs.iter().position(|s| s == current).unwrap_or(0);
    (labels, specs, index)
}

impl UiState {
    /// The chosen microphone and speaker, and mute, as the room's audio.
    fn audio(&self) -> (crate::net::bridge::AudioDevices, bool) {
        use crate::media::audio_device::DeviceChoice;
        let spec = |specs: &[String], i: usize| {
            DeviceChoice::parse(specs.get(i).map_or("default", String::as_str))
        };
        (
            crate::net::bridge::AudioDevices::Each {
                input: spec(&self.mic_specs, self.form.mic),
                output: spec(&self.speaker_specs, self.form.speaker),
            },
            self.form.muted,
        )
    }

    /// The chosen camera's spec.
    fn camera_spec(&self) -> String {
        self.camera_specs
            .get(self.form.camera)
            .cloned()
            .unwrap_or_else(|| "synthetic".into())
    }
}

/// What the window camera carries so that egui draws on the window and gets its
/// pointer and keyboard.
///
/// bevy_egui would otherwise put its context on the first camera spawned, which is
/// the scene camera rendering into an image: the UI then landed in the scene image
/// (snapshots, recordings) and, that target having no window, received no input at
/// all (hover, clicks and typing from a real mouse or from `xdotool` were lost).
pub fn window_camera_ui() -> impl Bundle {
    bevy_egui::PrimaryEguiContext
}

/// Lobby, connecting screen, room panel, stats and placement input.
pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(EguiPlugin::default())
            .insert_resource(bevy_egui::EguiGlobalSettings {
                auto_create_primary_context: false,
                ..default()
            })
            .init_resource::<UiState>()
            .init_resource::<UiClipboard>()
            .init_resource::<toast::ToastQueue>()
            .add_message::<crate::Notice>()
            .add_systems(Startup, init_ui)
            .add_systems(
                EguiPrimaryContextPass,
                (
                    lobby_ui.run_if(in_state(Screen::Lobby)),
                    connecting_ui.run_if(in_state(Screen::Connecting)),
                    room_ui.run_if(in_state(Screen::Room)),
                    stats_ui,
                    toast::draw_toasts,
                ),
            )
            .add_systems(
                Update,
                (keyboard_shortcuts, drag_and_scale, apply_camera_choice).in_set(AppSystems::Input),
            )
            .add_systems(Update, toast::collect_notices.in_set(AppSystems::Present));
    }
}

fn init_ui(
    mut ui: ResMut<UiState>,
    dir: Res<ThemesDir>,
    run: Res<DemoRun>,
    rooms: Res<RoomSettings>,
    theme: Res<ActiveTheme>,
) {
    ui.themes = list_themes(&dir.0).into_iter().map(|t| t.name).collect();
    let mut labels = vec!["Demo participant".to_string()];
    let mut specs = vec!["synthetic".to_string()];
    if let Ok(cams) = crate::capture::webcam::list_cameras() {
        for c in cams {
            labels.push(format!("{}: {}", c.index, c.name));
            specs.push(c.index.to_string());
        }
    }
    let configured = run
        .config
        .camera
        .clone()
        .unwrap_or_else(|| "synthetic".into());
    if !specs.contains(&configured) {
        labels.push(configured.clone());
        specs.push(configured.clone());
    }
    let spec_of = |device: Option<Option<String>>| {
        crate::media::audio_device::DeviceChoice::from_device(device).spec()
    };
    let (mics, mic_specs, mic) = audio_choices(
        &crate::media::audio_device::list_devices(true),
        "None (a synthetic tone)",
        &spec_of(rooms.bridge.audio.input_device()),
    );
    let (speakers, speaker_specs, speaker) = audio_choices(
        &crate::media::audio_device::list_devices(false),
        "None (voices not played)",
        &spec_of(rooms.bridge.audio.output_device()),
    );
    ui.mic_specs = mic_specs;
    ui.speaker_specs = speaker_specs;
    ui.form = LobbyForm {
        mics,
        mic,
        speakers,
        speaker,
        muted: rooms.bridge.muted,
        name: run.config.name.clone(),
        server: rooms.server.clone().unwrap_or_default(),
        secret: rooms.secret.clone().unwrap_or_default(),
        code: String::new(),
        camera: specs.iter().position(|s| *s == configured).unwrap_or(0),
        cameras: labels,
        themes: ui.themes.clone(),
        theme: theme.0.name.clone(),
        port: rooms.port,
        error: None,
    };
    ui.camera_specs = specs;
    // The stats overlay is for looking into the machinery: off until F3.
    ui.show_stats = false;
    ui.show_panel = true;
}

#[expect(clippy::too_many_arguments, reason = "Bevy system parameters")]
fn lobby_ui(
    mut contexts: EguiContexts,
    mut ui: ResMut<UiState>,
    notice: Res<LobbyNotice>,
    mut rooms: ResMut<RoomSettings>,
    theme: Res<ActiveTheme>,
    clipboard: Res<UiClipboard>,
    local: Query<(&CutoutTexture, &Participant)>,
    mut switch: MessageWriter<SwitchTheme>,
    mut create: MessageWriter<CreateRoom>,
    mut join: MessageWriter<JoinRoom>,
) -> Result {
    if notice.is_changed() {
        ui.form.error = notice.error.clone();
    }
    let preview = local
        .iter()
        .find(|(_, p)| p.local)
        .map(|(t, _)| t.image.clone());
    let preview_id =
        preview.map(|h| contexts.add_image(bevy_egui::EguiTextureHandle::Weak(h.id())));
    let ctx = contexts.ctx_mut()?;
    let mut action = None;
    egui::Window::new("samespace")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |w| action = lobby_form(w, &mut ui.form, preview_id));
    if ui.form.theme != theme.0.name && !ui.form.theme.is_empty() {
        switch.write(SwitchTheme(ui.form.theme.clone()));
    }
    let Some(action) = action else {
        return Ok(());
    };
    if action == LobbyAction::Paste {
        match clipboard.paste() {
            Ok(text) => ui.form.code = text.trim().to_string(),
            Err(e) => ui.form.error = Some(format!("clipboard: {e}")),
        }
        return Ok(());
    }
    // The room's audio is what the lobby shows.
    let (audio, muted) = ui.audio();
    let form = &ui.form;
    let server = Some(form.server.trim().to_string()).filter(|s| !s.is_empty());
    let secret = Some(form.secret.clone()).filter(|s| !s.is_empty());
    let spec = |specs: &[String], i: usize| specs.get(i).cloned();
    Settings {
        name: Some(form.name.trim().to_string()),
        camera: Some(ui.camera_spec()),
        theme: Some(form.theme.clone()),
        server: server.clone(),
        port: Some(rooms.port),
        mic: spec(&ui.mic_specs, form.mic),
        speaker: spec(&ui.speaker_specs, form.speaker),
        muted: Some(muted),
    }
    .save();
    rooms.bridge.audio = audio;
    rooms.bridge.muted = muted;
    match action {
        LobbyAction::Create => {
            create.write(CreateRoom {
                name: form.name.clone(),
                server,
                secret,
            });
        }
        LobbyAction::Join | LobbyAction::Paste => {
            join.write(JoinRoom {
                target: form.code.clone(),
                name: form.name.clone(),
                server,
                secret,
            });
        }
    }
    Ok(())
}

fn connecting_ui(
    mut contexts: EguiContexts,
    task: Option<Res<ConnectTask>>,
    mut cancel: MessageWriter<CancelConnecting>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let (what, seconds) = task.as_ref().map_or(("Connecting…".to_string(), 0.0), |t| {
        (t.what.clone(), t.elapsed())
    });
    egui::Window::new("Connecting")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |w| {
            if connecting_panel(w, &what, seconds) {
                cancel.write(CancelConnecting);
            }
        });
    Ok(())
}

/// Restarts the local participant's feed when the lobby's camera choice changes.
fn apply_camera_choice(
    mut commands: Commands,
    mut ui: ResMut<UiState>,
    mut last: Local<Option<usize>>,
    run: Res<DemoRun>,
    tee: Res<LocalTee>,
    people: Query<(Entity, &Participant)>,
    mut notices: MessageWriter<crate::Notice>,
) {
    let chosen = ui.form.camera;
    let Some(previous) = last.replace(chosen) else {
        return;
    };
    if previous == chosen {
        return;
    }
    let spec = ui.camera_spec();
    let Some((entity, _)) = people.iter().find(|(_, p)| p.local) else {
        return;
    };
    let synthetic = crate::capture::SyntheticParams {
        fps: run.config.net.as_ref().map_or(30.0, |n| n.video_fps),
        walk_px: 60.0,
        ..crate::capture::SyntheticParams::default()
    };
    match crate::world::participant::start_feed(
        &spec,
        synthetic,
        &run.config.segment,
        0,
        Some(tee.0.clone()),
    ) {
        Ok((feed, source)) => {
            info!(camera = %spec, "camera switched");
            commands
                .entity(entity)
                .insert((feed, crate::world::participant::SourceName(source)));
        }
        Err(e) => {
            warn!(camera = %spec, error = %e, "camera unavailable");
            ui.form.error = Some(format!("camera {spec}: {e}"));
            notices.write(crate::Notice::error(format!(
                "camera {spec} did not start: {e:#}"
            )));
        }
    }
}

/// The host section's inputs that `room_ui` does not need otherwise.
#[derive(bevy::ecs::system::SystemParam)]
struct HostInputs<'w> {
    link: Option<Res<'w, crate::net::plugin::NetLink>>,
    choice: Res<'w, crate::room::control::RoomChoice>,
    game: Option<Res<'w, crate::games::plugin::ActiveGame>>,
    choose_game: MessageWriter<'w, crate::games::plugin::ChooseGame>,
    lock: MessageWriter<'w, crate::room::control::LockRoom>,
    remove: MessageWriter<'w, crate::room::control::RemovePerson>,
}

#[expect(clippy::too_many_arguments, reason = "Bevy system parameters")]
fn room_ui(
    mut contexts: EguiContexts,
    mut ui: ResMut<UiState>,
    info: Option<Res<RoomInfo>>,
    clipboard: Res<UiClipboard>,
    mut leave: MessageWriter<LeaveRoom>,
    theme: Res<ActiveTheme>,
    mut switch: MessageWriter<SwitchTheme>,
    mut snap: MessageWriter<TakeSnapshot>,
    mut people: Query<(
        Entity,
        &Participant,
        &mut ParticipantPlacement,
        &LatestCutout,
        PersonVoice,
        Option<&crate::net::plugin::RemotePeer>,
    )>,
    mut commands: Commands,
    recording: Res<Recording>,
    mut start_rec: MessageWriter<StartRecording>,
    mut stop_rec: MessageWriter<StopRecording>,
    mut voice: voices::VoiceControls,
    mut host: HostInputs,
) -> Result {
    if !ui.show_panel {
        return Ok(());
    }
    let is_host = crate::room::control::is_host(host.link.as_deref());
    let networked = host.link.is_some();
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("Room")
        .anchor(egui::Align2::RIGHT_TOP, [-8.0, 8.0])
        .default_width(260.0)
        .resizable(false)
        .show(ctx, |w| {
            match &info {
                Some(info) => {
                    if let Some(status) = room_share(w, info, &clipboard) {
                        ui.status = status;
                    }
                }
                None => {
                    w.heading("Demo room (offline)");
                }
            }
            if w.button("Leave room").clicked() {
                leave.write(LeaveRoom);
            }
            w.separator();
            w.label("People");
            for (e, p, mut pl, latest, (listening, peer_voice, speaking), remote) in &mut people {
                w.horizontal(|h| {
                    let selected = ui.selected == Some(e);
                    let name = format!(
                        "{}{}",
                        p.name,
                        if p.local && p.name != "You" {
                            " (you)"
                        } else {
                            ""
                        }
                    );
                    let muted = voices::shows_muted(p.local, &voice.self_mute, peer_voice);
                    let name = voices::name_text(&name, muted, voices::is_speaking(speaking));
                    if h.selectable_label(selected, name).clicked() {
                        ui.selected = Some(e);
                    }
                    if h.checkbox(&mut pl.mirrored, "mirror").changed() {
                        commands.entity(e).insert(Pinned);
                    }
                    h.label(format!("{} frames", latest.frames));
                    voices::person_controls(h, p.local, listening, &mut voice);
                    if let Some(remote) = remote
                        && is_host
                        && h.button("Remove").clicked()
                    {
                        host.remove
                            .write(crate::room::control::RemovePerson(remote.0));
                    }
                });
            }
            voices::voice_switches(w, &mut voice);
            w.separator();
            // Networked, a guest shows the host's choice; the host (or the offline
            // room) what it runs.
            let (theme_name, game) = if networked && !is_host {
                (host.choice.theme.clone(), host.choice.game)
            } else {
                (
                    theme.0.name.clone(),
                    host.game.as_ref().map(|g| g.sim.kind()),
                )
            };
            let view = host::HostView {
                is_host,
                networked,
                themes: &ui.themes,
                theme: &theme_name,
                game,
                locked: info.as_ref().is_some_and(|i| i.locked),
            };
            match host::host_section(w, &view) {
                Some(host::HostAction::Theme(t)) => {
                    switch.write(SwitchTheme(t));
                }
                Some(host::HostAction::Game(g)) => {
                    host.choose_game.write(crate::games::plugin::ChooseGame(g));
                }
                Some(host::HostAction::Lock(l)) => {
                    host.lock.write(crate::room::control::LockRoom(l));
                }
                None => {}
            }
            w.separator();
            if w.button("Snapshot (P)").clicked() {
                snap.write(TakeSnapshot(snapshot_path()));
            }
            if recording.is_active() {
                let name = recording
                    .path
                    .as_ref()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                w.label(
                    egui::RichText::new(format!("REC {:.0}s  {name}", recording.elapsed()))
                        .color(egui::Color32::RED),
                );
                if w.button("Stop recording (R)").clicked() {
                    stop_rec.write(StopRecording);
                }
            } else if w.button("Record (R)").clicked() {
                start_rec.write(StartRecording(None));
            }
            if let Some(e) = &recording.error {
                w.label(
                    egui::RichText::new(format!("recording: {e}")).color(egui::Color32::LIGHT_RED),
                );
            } else if let (Some(stats), Some(path)) = (&recording.last, &recording.path)
                && !recording.is_active()
            {
                w.label(format!(
                    "saved {} ({:.0} s)",
                    path.display(),
                    stats.duration.as_secs_f32()
                ));
            }
            w.checkbox(&mut ui.show_stats, "Stats (F3)");
            if !ui.status.is_empty() {
                w.label(&ui.status);
            }
            w.label(egui::RichText::new("F1 hides this panel").weak());
        });
    Ok(())
}

/// A person's voice parts in the room panel: the listener's volume and mute, what
/// they said of their microphone, whether they speak.
type PersonVoice = (
    Option<&'static mut crate::voice::plugin::Listening>,
    Option<&'static crate::voice::plugin::PeerVoice>,
    Option<&'static crate::voice::plugin::Speaking>,
);

/// The room's code (large) and join link, each with **Copy**; returns what a Copy
/// did, for the status line.
fn room_share(w: &mut egui::Ui, info: &RoomInfo, clipboard: &UiClipboard) -> Option<String> {
    let code = info.code.to_string();
    let mut copied = None;
    w.horizontal(|h| {
        h.label(egui::RichText::new(&code).size(34.0).monospace().strong());
        if h.button("Copy").clicked() {
            copied = Some(code.clone());
        }
    });
    w.horizontal(|h| {
        h.label(egui::RichText::new(&info.link).monospace());
        if h.button("Copy link").clicked() {
            copied = Some(info.link.clone());
        }
    });
    w.label(format!(
        "Friends type the code in their lobby (server {}), or paste the link, or run: samespace join {}",
        info.server, info.link
    ));
    if info.hosted_here {
        w.label(egui::RichText::new("This app serves the room: it closes when you leave.").weak());
    }
    let text = copied?;
    Some(match clipboard.copy(&text) {
        Ok(()) => {
            info!(%text, "copied to the clipboard");
            format!("copied {text}")
        }
        Err(e) => {
            warn!(error = %e, "clipboard unavailable");
            format!("clipboard: {e}")
        }
    })
}

fn stats_ui(
    mut contexts: EguiContexts,
    ui: Res<UiState>,
    time: Res<Time>,
    feeds: Query<&LocalFeed>,
    uploads: Res<UploadStats>,
    link: Option<Res<crate::net::plugin::NetLink>>,
    figures: crate::room::figures::PeerFigures,
    mut peer_lines: Local<(Option<std::time::Instant>, Vec<String>)>,
) -> Result {
    if !ui.show_stats {
        return Ok(());
    }
    // The remote peers' lines, refreshed twice a second (percentiles sort samples).
    let now = std::time::Instant::now();
    if link.is_none() {
        // Out of the room: no peers to show.
        peer_lines.1.clear();
    }
    if link.is_some()
        && peer_lines
            .0
            .is_none_or(|t| now.duration_since(t).as_secs_f32() > 0.5)
    {
        let lines = figures.present().iter().map(|l| l.overlay_line()).collect();
        *peer_lines = (Some(now), lines);
    }
    let ctx = contexts.ctx_mut()?;
    let fps = 1.0 / time.delta_secs().max(1e-4);
    let seg: Vec<f32> = feeds
        .iter()
        .map(|f| f.segment.stats().avg_total_ms)
        .collect();
    let seg_ms = if seg.is_empty() {
        0.0
    } else {
        seg.iter().sum::<f32>() / seg.len() as f32
    };
    egui::Area::new(egui::Id::new("stats"))
        .anchor(egui::Align2::LEFT_TOP, [8.0, 8.0])
        .show(ctx, |w| {
            w.label(
                egui::RichText::new(format!(
                    "{fps:.0} fps   segmentation {seg_ms:.1} ms   frame age {:.0} ms",
                    uploads.avg_age_ms
                ))
                .monospace()
                .color(egui::Color32::WHITE)
                .background_color(egui::Color32::from_black_alpha(140)),
            );
            for line in &peer_lines.1 {
                w.label(
                    egui::RichText::new(line)
                        .monospace()
                        .color(egui::Color32::WHITE)
                        .background_color(egui::Color32::from_black_alpha(140)),
                );
            }
        });
    Ok(())
}

/// Where the Snapshot button saves: `$XDG_PICTURES_DIR`-ish `~/Pictures/samespace`, else `./snapshots`.
pub fn snapshot_path() -> std::path::PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dir = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join("Pictures"))
        .filter(|p| p.is_dir())
        .map(|p| p.join("samespace"))
        .unwrap_or_else(|| std::path::PathBuf::from("snapshots"));
    dir.join(format!("samespace-{stamp}.png"))
}

#[expect(clippy::too_many_arguments, reason = "Bevy system parameters")]
fn keyboard_shortcuts(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<EguiWantsInput>,
    screen: Res<State<Screen>>,
    mut ui: ResMut<UiState>,
    theme: Res<ActiveTheme>,
    mut switch: MessageWriter<SwitchTheme>,
    mut snap: MessageWriter<TakeSnapshot>,
    mut people: Query<&mut ParticipantPlacement>,
    mut commands: Commands,
    recording: Res<Recording>,
    mut start_rec: MessageWriter<StartRecording>,
    mut stop_rec: MessageWriter<StopRecording>,
    mut self_mute: ResMut<crate::voice::plugin::SelfMute>,
    link: Option<Res<crate::net::plugin::NetLink>>,
) {
    // Keys typed into a text field (name, code, …) are text, not shortcuts.
    if typing.wants_any_keyboard_input() {
        self_mute.talk_held = false;
        return;
    }
    let talk = keys.pressed(KeyCode::Space) && *screen.get() == Screen::Room;
    if self_mute.talk_held != talk {
        self_mute.talk_held = talk;
    }
    if keys.just_pressed(KeyCode::F3) {
        ui.show_stats = !ui.show_stats;
    }
    if keys.just_pressed(KeyCode::F1) {
        ui.show_panel = !ui.show_panel;
    }
    if *screen.get() != Screen::Room {
        return;
    }
    // In a networked room only the host picks the theme (for everyone).
    if keys.just_pressed(KeyCode::KeyT)
        && !ui.themes.is_empty()
        && crate::room::control::is_host(link.as_deref())
    {
        let i = ui
            .themes
            .iter()
            .position(|t| *t == theme.0.name)
            .map(|i| (i + 1) % ui.themes.len())
            .unwrap_or(0);
        switch.write(SwitchTheme(ui.themes[i].clone()));
    }
    if keys.just_pressed(KeyCode::KeyP) {
        snap.write(TakeSnapshot(snapshot_path()));
    }
    if keys.just_pressed(KeyCode::KeyV) {
        self_mute.muted = !self_mute.muted;
    }
    if keys.just_pressed(KeyCode::KeyR) {
        if recording.is_active() {
            stop_rec.write(StopRecording);
        } else {
            start_rec.write(StartRecording(None));
        }
    }
    let Some(sel) = ui.selected else { return };
    let Ok(mut p) = people.get_mut(sel) else {
        return;
    };
    let mut changed = true;
    if keys.just_pressed(KeyCode::KeyM) {
        p.mirrored = !p.mirrored;
    } else if keys.just_pressed(KeyCode::BracketRight) {
        p.z += 1;
    } else if keys.just_pressed(KeyCode::BracketLeft) {
        p.z -= 1;
    } else {
        changed = false;
    }
    if changed {
        commands.entity(sel).insert(Pinned);
    }
}

fn drag_and_scale(
    window: Query<&Window, With<PrimaryWindow>>,
    buttons: Res<ButtonInput<MouseButton>>,
    mut wheel: MessageReader<bevy::input::mouse::MouseWheel>,
    mut ui: ResMut<UiState>,
    mut people: Query<(
        Entity,
        &mut ParticipantPlacement,
        &CutoutTexture,
        &LatestCutout,
    )>,
    mut contexts: EguiContexts,
    mut commands: Commands,
) {
    let Ok(win) = window.single() else { return };
    let over_ui = contexts
        .ctx_mut()
        .map(|c| c.is_pointer_over_egui())
        .unwrap_or(false);
    let Some(cursor) = win.cursor_position() else {
        return;
    };
    let world = Vec2::new(
        (cursor.x / win.width() - 0.5) * SCENE_WIDTH,
        (0.5 - cursor.y / win.height()) * SCENE_HEIGHT,
    );
    if buttons.just_pressed(MouseButton::Left) && !over_ui {
        // Topmost participant whose person pixel is under the cursor.
        let mut best: Option<(i32, Entity, Vec2)> = None;
        for (e, p, tex, latest) in &people {
            let [px, py] = p.world_to_cutout(world.x, world.y, tex.size.0, tex.size.1);
            let inside =
                px >= 0.0 && py >= 0.0 && (px as u32) < tex.size.0 && (py as u32) < tex.size.1;
            let hit = inside
                && latest.cutout.as_ref().is_some_and(|c| {
                    c.mask
                        .get(py as usize * c.width as usize + px as usize)
                        .is_some_and(|&a| a >= 128)
                });
            if hit && best.is_none_or(|b| p.z > b.0) {
                best = Some((p.z, e, world - Vec2::new(p.x, p.y)));
            }
        }
        if let Some((_, e, offset)) = best {
            ui.dragging = Some((e, offset));
            ui.selected = Some(e);
        }
    }
    if !buttons.pressed(MouseButton::Left) {
        ui.dragging = None;
    }
    if let Some((e, offset)) = ui.dragging
        && let Ok((_, mut p, _, _)) = people.get_mut(e)
    {
        p.x = world.x - offset.x;
        p.y = (world.y - offset.y).min(SCENE_HEIGHT / 2.0);
        commands.entity(e).insert(Pinned);
    }
    let scroll: f32 = wheel.read().map(|w| w.y).sum();
    if scroll != 0.0
        && !over_ui
        && let Some(sel) = ui.selected
        && let Ok((_, mut p, _, _)) = people.get_mut(sel)
    {
        p.scale = (p.scale * (1.0 + 0.08 * scroll.signum())).clamp(0.15, 4.0);
        commands.entity(sel).insert(Pinned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_choices_offer_none_and_the_default_first_and_keep_an_unattached_saved_device() {
        let devices = ["USB Headset".to_string()];
        let (labels, specs, i) = audio_choices(&devices, "None (a synthetic tone)", "none");
        assert_eq!(specs, ["none", "default", "USB Headset"]);
        assert_eq!(labels[0], "None (a synthetic tone)");
        assert_eq!(i, 0);
        let (labels, specs, i) = audio_choices(&[], "None", "Studio");
        assert_eq!(specs, ["none", "default", "Studio"]);
        assert_eq!(labels[2], "Studio (not attached)");
        assert_eq!(i, 2);
        // What the lobby shows is what the room opens.
        let mut ui = UiState {
            mic_specs: vec!["none".into(), "default".into()],
            speaker_specs: vec!["none".into(), "default".into(), "USB Headset".into()],
            ..UiState::default()
        };
        ui.form.mic = 0;
        ui.form.speaker = 2;
        ui.form.muted = true;
        let (audio, muted) = ui.audio();
        assert!(muted);
        assert_eq!(audio.input_device(), None);
        assert_eq!(audio.output_device(), Some(Some("USB Headset".into())));
    }
}
