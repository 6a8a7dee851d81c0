//! The lobby and connecting screens as plain egui (no Bevy): [`lobby_form`] draws
//! the form and says which button was pressed; [`connecting_panel`] draws the
//! progress and says whether Cancel was pressed. `ui/mod.rs` turns the answers into
//! `room` messages; tests drive the same functions with egui input events.

use bevy_egui::egui;

/// What the lobby's fields hold.
#[derive(Debug, Clone, Default)]
pub struct LobbyForm {
    /// Your name.
    pub name: String,
    /// Signaling server (empty: rooms you create are served by the app).
    pub server: String,
    /// The server's shared secret (optional).
    pub secret: String,
    /// A code or a join link.
    pub code: String,
    /// Camera choices, the demo participant first.
    pub cameras: Vec<String>,
    /// Index into `cameras`.
    pub camera: usize,
    /// Theme names.
    pub themes: Vec<String>,
    /// The chosen theme.
    pub theme: String,
    /// Microphone choices: no device, the default, then each attached one.
    pub mics: Vec<String>,
    /// Index into `mics`.
    pub mic: usize,
    /// Speaker choices, likewise.
    pub speakers: Vec<String>,
    /// Index into `speakers`.
    pub speaker: usize,
    /// Join rooms muted.
    pub muted: bool,
    /// Port of the app's own server (for the hint under the server field).
    pub port: u16,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// A lobby button pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LobbyAction {
    /// **Create room**.
    Create,
    /// **Join** (or Enter in the code field).
    Join,
    /// **Paste**: the clipboard into the code field.
    Paste,
}

/// Draws the lobby into `ui`; `preview` is the live cutout of the local camera.
pub fn lobby_form(
    ui: &mut egui::Ui,
    form: &mut LobbyForm,
    preview: Option<egui::TextureId>,
) -> Option<LobbyAction> {
    let mut action = None;
    ui.heading("Hang out in the same place");
    egui::Grid::new("lobby-choices")
        .num_columns(2)
        .spacing([12.0, 6.0])
        .show(ui, |g| {
            g.label("Your name");
            g.add(egui::TextEdit::singleline(&mut form.name).hint_text("how friends see you"));
            g.end_row();
            g.label("Camera");
            let current = form.cameras.get(form.camera).cloned().unwrap_or_default();
            egui::ComboBox::from_id_salt("lobby-camera")
                .selected_text(current)
                .show_ui(g, |c| {
                    for (i, cam) in form.cameras.iter().enumerate() {
                        c.selectable_value(&mut form.camera, i, cam);
                    }
                });
            g.end_row();
            g.label("Theme");
            egui::ComboBox::from_id_salt("lobby-theme")
                .selected_text(form.theme.clone())
                .show_ui(g, |c| {
                    for t in &form.themes {
                        c.selectable_value(&mut form.theme, t.clone(), t);
                    }
                });
            g.end_row();
            g.label("Microphone");
            g.horizontal(|h| {
                pick(h, "lobby-mic", &form.mics, &mut form.mic);
                h.checkbox(&mut form.muted, "Mute");
            });
            g.end_row();
            g.label("Speaker");
            pick(g, "lobby-speaker", &form.speakers, &mut form.speaker);
            g.end_row();
        });
    if let Some(id) = preview {
        ui.label("Your cutout (live):");
        ui.image(egui::load::SizedTexture::new(id, [256.0, 192.0]));
    }
    ui.separator();
    ui.label(egui::RichText::new("Start a room and share its code").strong());
    egui::Grid::new("lobby-server")
        .num_columns(2)
        .spacing([12.0, 6.0])
        .show(ui, |g| {
            g.label("Server");
            g.add(
                egui::TextEdit::singleline(&mut form.server)
                    .hint_text(format!("empty: this computer, port {}", form.port)),
            );
            g.end_row();
            g.label("Secret");
            g.add(
                egui::TextEdit::singleline(&mut form.secret)
                    .password(true)
                    .hint_text("optional"),
            );
            g.end_row();
        });
    if ui
        .add(egui::Button::new(
            egui::RichText::new("Create room").size(18.0),
        ))
        .clicked()
    {
        action = Some(LobbyAction::Create);
    }
    ui.separator();
    ui.label(egui::RichText::new("Join a friend").strong());
    ui.horizontal(|h| {
        let field = h.add(
            egui::TextEdit::singleline(&mut form.code)
                .hint_text("code (K7Q-4MZ) or link (ws://…/K7Q-4MZ)")
                .desired_width(260.0),
        );
        let entered = field.lost_focus() && h.input(|i| i.key_pressed(egui::Key::Enter));
        if h.button("Paste").clicked() {
            action = Some(LobbyAction::Paste);
        }
        if h.button("Join").clicked() || entered {
            action = Some(LobbyAction::Join);
        }
    });
    if let Some(error) = &form.error {
        ui.label(egui::RichText::new(error).color(egui::Color32::from_rgb(255, 110, 110)));
    }
    action
}

/// A combo box choosing one of `choices` by index.
fn pick(ui: &mut egui::Ui, id: &str, choices: &[String], chosen: &mut usize) {
    let current = choices.get(*chosen).cloned().unwrap_or_default();
    egui::ComboBox::from_id_salt(id)
        .selected_text(current)
        .width(220.0)
        .show_ui(ui, |c| {
            for (i, label) in choices.iter().enumerate() {
                c.selectable_value(chosen, i, label);
            }
        });
}

/// Draws the connecting screen; true when **Cancel** was pressed.
pub fn connecting_panel(ui: &mut egui::Ui, what: &str, seconds: f32) -> bool {
    ui.horizontal(|h| {
        h.spinner();
        h.label(what);
    });
    ui.label(format!("{seconds:.0} s"));
    ui.button("Cancel").clicked()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One frame of the lobby with `events` as this frame's input; returns the action
    /// and where each text was drawn.
    fn frame(
        ctx: &egui::Context,
        form: &mut LobbyForm,
        events: Vec<egui::Event>,
    ) -> (Option<LobbyAction>, Vec<(String, egui::Rect)>) {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1280.0, 800.0),
            )),
            events,
            ..Default::default()
        };
        let mut action = None;
        let mut output = ctx.run_ui(input, |ui| {
            action = lobby_form(ui, form, None);
        });
        let clipped = std::mem::take(&mut output.shapes);
        // Nothing is painted here: the font atlas updates are not uploaded anywhere.
        output.drop_without_applying_deltas();
        let mut texts = Vec::new();
        let mut shapes: Vec<egui::epaint::Shape> = clipped.into_iter().map(|c| c.shape).collect();
        while let Some(shape) = shapes.pop() {
            match shape {
                egui::epaint::Shape::Text(t) => {
                    let rect = t.galley.rect.translate(t.pos.to_vec2());
                    texts.push((t.galley.text().to_string(), rect));
                }
                egui::epaint::Shape::Vec(inner) => shapes.extend(inner),
                _ => {}
            }
        }
        (action, texts)
    }

    /// Lays the lobby out (egui sizes grids on the first frame) and returns the texts.
    fn settle(ctx: &egui::Context, form: &mut LobbyForm) -> Vec<(String, egui::Rect)> {
        frame(ctx, form, Vec::new());
        let (action, texts) = frame(ctx, form, Vec::new());
        assert_eq!(action, None, "no button pressed without input");
        texts
    }

    fn find(texts: &[(String, egui::Rect)], label: &str) -> egui::Pos2 {
        texts
            .iter()
            .find(|(t, _)| t == label)
            .map(|(_, r)| r.center())
            .unwrap_or_else(|| panic!("{label:?} is not on screen: {texts:?}"))
    }

    fn click(at: egui::Pos2) -> [Vec<egui::Event>; 2] {
        let button = |pressed| egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        };
        [
            vec![egui::Event::PointerMoved(at), button(true)],
            vec![button(false)],
        ]
    }

    #[test]
    fn clicking_create_room_and_typing_a_code_then_join_press_those_buttons() {
        let ctx = egui::Context::default();
        let mut form = LobbyForm {
            name: "Ada".into(),
            port: 9470,
            ..LobbyForm::default()
        };
        let texts = settle(&ctx, &mut form);
        let create = find(&texts, "Create room");
        let [down, up] = click(create);
        assert_eq!(frame(&ctx, &mut form, down).0, None);
        assert_eq!(frame(&ctx, &mut form, up).0, Some(LobbyAction::Create));

        // Click into the code field (its hint text marks it), type, press Join.
        let texts = settle(&ctx, &mut form);
        let field = find(&texts, "code (K7Q-4MZ) or link (ws://…/K7Q-4MZ)");
        let [down, up] = click(field);
        frame(&ctx, &mut form, down);
        frame(&ctx, &mut form, up);
        frame(&ctx, &mut form, vec![egui::Event::Text("k7q4mz".into())]);
        assert_eq!(form.code, "k7q4mz");
        assert!(ctx.egui_wants_keyboard_input(), "the code field has focus");
        let texts = settle(&ctx, &mut form);
        let join = find(&texts, "Join");
        let [down, up] = click(join);
        frame(&ctx, &mut form, down);
        assert_eq!(frame(&ctx, &mut form, up).0, Some(LobbyAction::Join));
    }

    #[test]
    fn the_reason_of_a_failure_is_on_screen() {
        let ctx = egui::Context::default();
        let mut form = LobbyForm {
            error: Some("room not found".into()),
            ..LobbyForm::default()
        };
        let texts = settle(&ctx, &mut form);
        find(&texts, "room not found");
    }
}
