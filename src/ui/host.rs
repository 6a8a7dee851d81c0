//! The room panel's host section as plain egui (no Bevy): the theme and game for
//! everyone, and the room's lock. Only the host can change them; the others see the
//! host's choices, greyed out. `ui/mod.rs` turns the answer into messages
//! (`SwitchTheme`, `ChooseGame`, `room::control::LockRoom`).

use bevy_egui::egui;

use crate::games::GameKind;

/// What the host section shows.
#[derive(Debug, Clone)]
pub struct HostView<'a> {
    /// Whether this app is the host (the pickers are enabled).
    pub is_host: bool,
    /// Whether the room is networked (the lock exists only there).
    pub networked: bool,
    /// Theme names.
    pub themes: &'a [String],
    /// The room's theme.
    pub theme: &'a str,
    /// The room's game.
    pub game: Option<GameKind>,
    /// Whether the room is locked.
    pub locked: bool,
}

/// A change the host made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAction {
    /// Another theme for everyone.
    Theme(String),
    /// Another game for everyone (`None`: no game).
    Game(Option<GameKind>),
    /// Lock (`true`) or unlock the room.
    Lock(bool),
}

/// The label of a game choice.
pub fn game_label(game: Option<GameKind>) -> &'static str {
    game.map_or("no game", GameKind::name)
}

/// Draws the host section; returns what the host changed.
pub fn host_section(ui: &mut egui::Ui, view: &HostView<'_>) -> Option<HostAction> {
    let mut action = None;
    ui.label(
        egui::RichText::new(if view.is_host {
            "For everyone (you are the host)"
        } else {
            "Chosen by the host"
        })
        .strong(),
    );
    ui.add_enabled_ui(view.is_host, |ui| {
        egui::Grid::new("host-choices")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |g| {
                g.label("Theme");
                let mut theme = view.theme.to_string();
                egui::ComboBox::from_id_salt("room-theme")
                    .selected_text(&theme)
                    .show_ui(g, |c| {
                        for t in view.themes {
                            c.selectable_value(&mut theme, t.clone(), t);
                        }
                    });
                if theme != view.theme {
                    action = Some(HostAction::Theme(theme));
                }
                g.end_row();
                g.label("Game");
                let mut game = view.game;
                egui::ComboBox::from_id_salt("room-game")
                    .selected_text(game_label(game))
                    .show_ui(g, |c| {
                        c.selectable_value(&mut game, None, game_label(None));
                        for kind in GameKind::ALL {
                            c.selectable_value(&mut game, Some(kind), game_label(Some(kind)));
                        }
                    });
                if game != view.game {
                    action = Some(HostAction::Game(game));
                }
                g.end_row();
            });
        if view.networked {
            let mut locked = view.locked;
            if ui
                .checkbox(&mut locked, "Lock the room (nobody new can join)")
                .changed()
            {
                action = Some(HostAction::Lock(locked));
            }
        }
    });
    if !view.is_host && view.locked {
        ui.label("The host locked the room.");
    }
    action
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(
        ctx: &egui::Context,
        view: &HostView<'_>,
        events: Vec<egui::Event>,
    ) -> (Option<HostAction>, Vec<(String, egui::Rect)>) {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(800.0, 600.0),
            )),
            events,
            ..Default::default()
        };
        let mut action = None;
        let mut output = ctx.run_ui(input, |ui| action = host_section(ui, view));
        let clipped = std::mem::take(&mut output.shapes);
        output.drop_without_applying_deltas();
        let mut found = Vec::new();
        let mut shapes: Vec<egui::epaint::Shape> = clipped.into_iter().map(|c| c.shape).collect();
        while let Some(shape) = shapes.pop() {
            match shape {
                egui::epaint::Shape::Text(t) => {
                    found.push((
                        t.galley.text().to_string(),
                        t.galley.rect.translate(t.pos.to_vec2()),
                    ));
                }
                egui::epaint::Shape::Vec(inner) => shapes.extend(inner),
                _ => {}
            }
        }
        (action, found)
    }

    fn click_on(ctx: &egui::Context, view: &HostView<'_>, label: &str) -> Option<HostAction> {
        texts(ctx, view, Vec::new());
        let (_, found) = texts(ctx, view, Vec::new());
        let at = found
            .iter()
            .find(|(t, _)| t == label)
            .map(|(_, r)| r.center())
            .unwrap_or_else(|| panic!("{label:?} not on screen: {found:?}"));
        let button = |pressed| egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        };
        texts(ctx, view, vec![egui::Event::PointerMoved(at), button(true)]);
        texts(ctx, view, vec![button(false)]).0
    }

    #[test]
    fn the_host_locks_the_room_and_a_guest_cannot() {
        let themes = ["beach".to_string(), "space".to_string()];
        let host = HostView {
            is_host: true,
            networked: true,
            themes: &themes,
            theme: "beach",
            game: None,
            locked: false,
        };
        let label = "Lock the room (nobody new can join)";
        assert_eq!(
            click_on(&egui::Context::default(), &host, label),
            Some(HostAction::Lock(true))
        );
        let guest = HostView {
            is_host: false,
            ..host.clone()
        };
        assert_eq!(click_on(&egui::Context::default(), &guest, label), None);
        // The guest sees the host's choices.
        let ctx = egui::Context::default();
        let (_, found) = texts(&ctx, &guest, Vec::new());
        assert!(found.iter().any(|(t, _)| t == "Chosen by the host"));
        assert!(found.iter().any(|(t, _)| t == "beach"));
        assert!(found.iter().any(|(t, _)| t == "no game"));
    }
}
