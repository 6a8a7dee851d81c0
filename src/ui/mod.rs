//! egui interface (windowed runs only): lobby, in-room panel, stats overlay, and
//! mouse/keyboard placement (drag to move, wheel to scale, `[`/`]` z-order, `M` mirror,
//! `T` next theme, `P` snapshot, `R` record, `F3` stats, `Tab` lobby), and the game HUD.

pub mod hud;

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

use crate::AppSystems;
use crate::app::DemoRun;
use crate::record::plugin::{Recording, StartRecording, StopRecording};
use crate::world::participant::{
    CutoutTexture, LatestCutout, LocalFeed, Participant, ParticipantPlacement, Pinned, UploadStats,
};
use crate::world::placement::{SCENE_HEIGHT, SCENE_WIDTH};
use crate::world::scene::{ActiveTheme, SwitchTheme, TakeSnapshot, ThemesDir};
use crate::world::theme::list_themes;

/// Which screen the UI shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// Name, camera, model; create or join a room.
    #[default]
    Lobby,
    /// In the room.
    Room,
}

/// UI state.
#[derive(Resource, Debug, Default)]
pub struct UiState {
    /// Current screen.
    pub screen: Screen,
    /// The name typed in the lobby.
    pub name: String,
    /// Room code typed or created.
    pub room_code: String,
    /// Cameras found at start.
    pub cameras: Vec<String>,
    /// Chosen camera index in `cameras` (0 = demo participant).
    pub camera: usize,
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

/// Lobby, room panel, stats and placement input.
pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(EguiPlugin::default())
            .init_resource::<UiState>()
            .add_systems(Startup, init_ui)
            .add_systems(
                EguiPrimaryContextPass,
                (lobby_ui, room_ui, stats_ui, hud::game_hud),
            )
            .add_systems(
                Update,
                (keyboard_shortcuts, drag_and_scale).in_set(AppSystems::Input),
            );
    }
}

fn init_ui(mut ui: ResMut<UiState>, dir: Res<ThemesDir>, run: Res<DemoRun>) {
    ui.name = run.config.name.clone();
    ui.themes = list_themes(&dir.0).into_iter().map(|t| t.name).collect();
    ui.cameras = vec!["Demo participant".to_string()];
    if let Ok(cams) = crate::capture::webcam::list_cameras() {
        ui.cameras
            .extend(cams.into_iter().map(|c| format!("{}: {}", c.index, c.name)));
    }
    ui.show_stats = true;
    ui.screen = if run.config.seconds.is_some() || run.config.participants > 1 {
        Screen::Room
    } else {
        Screen::Lobby
    };
}

fn room_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(7) as u64;
    let mut s = String::new();
    for i in 0..6 {
        if i == 3 {
            s.push('-');
        }
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s.push(ALPHABET[(n >> 33) as usize % ALPHABET.len()] as char);
    }
    s
}

fn lobby_ui(
    mut contexts: EguiContexts,
    ui: ResMut<UiState>,
    local: Query<(&CutoutTexture, &Participant)>,
) -> Result {
    if ui.screen != Screen::Lobby {
        return Ok(());
    }
    let preview = local
        .iter()
        .find(|(_, p)| p.local)
        .map(|(t, _)| t.image.clone());
    let preview_id =
        preview.map(|h| contexts.add_image(bevy_egui::EguiTextureHandle::Weak(h.id())));
    let ctx = contexts.ctx_mut()?;
    let mut ui_state = ui;
    egui::Window::new("samespace").collapsible(false).anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0]).show(ctx, |w| {
        w.heading("Hang out in the same place");
        w.horizontal(|h| {
            h.label("Your name");
            h.text_edit_singleline(&mut ui_state.name);
        });
        let current = ui_state.cameras.get(ui_state.camera).cloned().unwrap_or_default();
        egui::ComboBox::from_label("Camera").selected_text(current).show_ui(w, |c| {
            let cams = ui_state.cameras.clone();
            for (i, cam) in cams.iter().enumerate() {
                c.selectable_value(&mut ui_state.camera, i, cam);
            }
        });
        if let Some(id) = preview_id {
            w.label("Your cutout (live):");
            w.image(egui::load::SizedTexture::new(id, [256.0, 192.0]));
        }
        w.separator();
        w.horizontal(|h| {
            if h.button("Create room").clicked() {
                ui_state.room_code = room_code();
                ui_state.screen = Screen::Room;
                ui_state.status = format!("Room {} created — share the code", ui_state.room_code);
            }
            h.text_edit_singleline(&mut ui_state.room_code);
            if h.button("Join").clicked() {
                ui_state.status = "Joining needs a signaling server: samespace demo --server ws://HOST:PORT --room CODE".into();
            }
        });
        if !ui_state.status.is_empty() {
            w.label(&ui_state.status);
        }
    });
    Ok(())
}

fn room_ui(
    mut contexts: EguiContexts,
    mut ui: ResMut<UiState>,
    theme: Res<ActiveTheme>,
    mut switch: MessageWriter<SwitchTheme>,
    mut snap: MessageWriter<TakeSnapshot>,
    mut people: Query<(
        Entity,
        &Participant,
        &mut ParticipantPlacement,
        &LatestCutout,
    )>,
    mut commands: Commands,
    recording: Res<Recording>,
    mut start_rec: MessageWriter<StartRecording>,
    mut stop_rec: MessageWriter<StopRecording>,
) -> Result {
    if ui.screen != Screen::Room {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("Room")
        .anchor(egui::Align2::RIGHT_TOP, [-8.0, 8.0])
        .default_width(230.0)
        .resizable(false)
        .show(ctx, |w| {
            if !ui.room_code.is_empty() {
                w.heading(format!("Room {}", ui.room_code));
            }
            w.label("People");
            for (e, p, mut pl, latest) in &mut people {
                w.horizontal(|h| {
                    let selected = ui.selected == Some(e);
                    if h.selectable_label(
                        selected,
                        format!(
                            "{}{}",
                            p.name,
                            if p.local && p.name != "You" {
                                " (you)"
                            } else {
                                ""
                            }
                        ),
                    )
                    .clicked()
                    {
                        ui.selected = Some(e);
                    }
                    if h.checkbox(&mut pl.mirrored, "mirror").changed() {
                        commands.entity(e).insert(Pinned);
                    }
                    h.label(format!("{} frames", latest.frames));
                });
            }
            w.separator();
            let mut chosen = theme.0.name.clone();
            egui::ComboBox::from_label("Theme")
                .selected_text(&theme.0.title)
                .show_ui(w, |c| {
                    for t in &ui.themes {
                        c.selectable_value(&mut chosen, t.clone(), t);
                    }
                });
            if chosen != theme.0.name {
                switch.write(SwitchTheme(chosen));
            }
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
                    egui::RichText::new(format!("● REC {:.0}s  {name}", recording.elapsed()))
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
        });
    Ok(())
}

fn stats_ui(
    mut contexts: EguiContexts,
    ui: Res<UiState>,
    time: Res<Time>,
    feeds: Query<&LocalFeed>,
    uploads: Res<UploadStats>,
    link: Option<Res<crate::net::plugin::NetLink>>,
    mut peer_lines: Local<(Option<std::time::Instant>, Vec<String>)>,
) -> Result {
    if !ui.show_stats {
        return Ok(());
    }
    // The remote peers' lines, refreshed twice a second (percentiles sort samples).
    let now = std::time::Instant::now();
    if let Some(link) = &link
        && peer_lines
            .0
            .is_none_or(|t| now.duration_since(t).as_secs_f32() > 0.5)
    {
        let stats = link.bridge.shared().stats();
        let mut lines: Vec<(u64, String)> = stats
            .iter()
            .filter(|(_, s)| !s.left)
            .map(|(id, s)| (id.0, s.report(id.0, now).overlay_line()))
            .collect();
        lines.sort();
        *peer_lines = (Some(now), lines.into_iter().map(|(_, l)| l).collect());
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

fn keyboard_shortcuts(
    keys: Res<ButtonInput<KeyCode>>,
    mut ui: ResMut<UiState>,
    theme: Res<ActiveTheme>,
    mut switch: MessageWriter<SwitchTheme>,
    mut snap: MessageWriter<TakeSnapshot>,
    mut people: Query<&mut ParticipantPlacement>,
    mut commands: Commands,
    recording: Res<Recording>,
    mut start_rec: MessageWriter<StartRecording>,
    mut stop_rec: MessageWriter<StopRecording>,
) {
    if keys.just_pressed(KeyCode::F3) {
        ui.show_stats = !ui.show_stats;
    }
    if keys.just_pressed(KeyCode::Tab) {
        ui.screen = if ui.screen == Screen::Lobby {
            Screen::Room
        } else {
            Screen::Lobby
        };
    }
    if keys.just_pressed(KeyCode::KeyT) && !ui.themes.is_empty() {
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
