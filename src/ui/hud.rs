//! The game HUD: round banner (with the time left), name labels with scores above heads
//! (with 🔇 by the name of whoever muted their microphone), team scores, and the
//! results board.

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, egui};

use crate::games::GamePhase;
use crate::games::plugin::{ActiveGame, GameAuthority, RemoteGame};
use crate::world::placement::{SCENE_HEIGHT, SCENE_WIDTH};

/// Draws the HUD of the game in play, if any: the local simulation's, or in a
/// networked room where another peer hosts, the host's newest snapshot.
pub fn game_hud(
    mut contexts: EguiContexts,
    game: Option<Res<ActiveGame>>,
    authority: Option<Res<GameAuthority>>,
    remote: Option<Res<RemoteGame>>,
    window: Query<&Window, With<PrimaryWindow>>,
    people: Query<(
        &crate::world::participant::Participant,
        Option<&crate::voice::plugin::PeerVoice>,
    )>,
    self_mute: Option<Res<crate::voice::plugin::SelfMute>>,
) -> Result {
    let hosting = authority.is_none_or(|a| *a == GameAuthority::Host);
    let snap = match (&game, hosting) {
        (Some(game), true) => game.sim.snapshot(),
        _ => match remote.and_then(|r| r.snapshot.clone()) {
            Some(snapshot) => snapshot,
            None => return Ok(()),
        },
    };
    let Ok(win) = window.single() else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let to_screen = |p: [f32; 2]| {
        egui::pos2(
            (p[0] / SCENE_WIDTH + 0.5) * win.width(),
            (0.5 - p[1] / SCENE_HEIGHT) * win.height(),
        )
    };
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::new("hud"),
    ));
    // Banner and timer, top centre.
    let top = egui::pos2(win.width() / 2.0, 40.0);
    painter.text(
        top,
        egui::Align2::CENTER_CENTER,
        &snap.banner,
        egui::FontId::proportional(30.0),
        egui::Color32::WHITE,
    );
    // Name labels above heads, with score and lives.
    for s in &snap.scores {
        let Some(at) = s.label_at else { continue };
        let lives = s
            .lives
            .map(|l| format!("  {}", "♥".repeat(l as usize)))
            .unwrap_or_default();
        let muted = people.iter().any(|(p, voice)| {
            p.name == s.name
                && self_mute
                    .as_deref()
                    .is_some_and(|m| crate::voice::plugin::shows_muted(p.local, m, voice))
        });
        let icon = if muted {
            format!(" {}", super::voices::MUTED_ICON)
        } else {
            String::new()
        };
        let text = format!("{}{icon}  {}{}", s.name, s.total, lives);
        let colour = if s.eliminated {
            egui::Color32::GRAY
        } else {
            egui::Color32::WHITE
        };
        let pos = to_screen(at) - egui::vec2(0.0, 14.0);
        let galley = painter.layout_no_wrap(text, egui::FontId::proportional(18.0), colour);
        let rect = egui::Rect::from_center_size(pos, galley.size() + egui::vec2(12.0, 6.0));
        painter.rect_filled(rect, 6.0, egui::Color32::from_black_alpha(150));
        painter.galley(rect.min + egui::vec2(6.0, 3.0), galley, colour);
    }
    // Team scores.
    if !snap.teams.is_empty() {
        let line = snap
            .teams
            .iter()
            .map(|t| format!("{} {}", t.name, t.points))
            .collect::<Vec<_>>()
            .join("   ");
        painter.text(
            egui::pos2(win.width() / 2.0, 100.0),
            egui::Align2::CENTER_CENTER,
            line,
            egui::FontId::proportional(22.0),
            egui::Color32::from_rgb(180, 230, 255),
        );
    }
    // Results board.
    if snap.phase == GamePhase::Results {
        egui::Window::new("Results")
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .collapsible(false)
            .resizable(false)
            .show(ctx, |w| {
                let mut rows = snap.scores.clone();
                rows.sort_by(|a, b| b.total.cmp(&a.total));
                for (i, r) in rows.iter().enumerate() {
                    w.label(
                        egui::RichText::new(format!("{}. {}  {} pts", i + 1, r.name, r.total))
                            .size(18.0),
                    );
                }
            });
    }
    Ok(())
}
