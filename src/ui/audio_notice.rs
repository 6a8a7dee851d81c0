//! On-screen notices about the sound devices: a microphone or speaker that failed
//! during a call and what took over ([`AudioDeviceNotice`]), each shown for
//! [`NOTICE_SECONDS`] at the bottom of the window, at most [`MAX_SHOWN`] at once.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use crate::AppSystems;
use crate::net::plugin::AudioDeviceNotice;

/// How long a notice stays on screen.
pub const NOTICE_SECONDS: f32 = 8.0;
/// Notices shown at once (the newest).
pub const MAX_SHOWN: usize = 3;

/// The notices on screen, with the time (app seconds) each goes away.
#[derive(Resource, Debug, Default)]
pub struct AudioNotices {
    shown: Vec<(String, f32)>,
}

impl AudioNotices {
    /// Shows `text` from `now` (app seconds) on.
    pub fn push(&mut self, text: String, now: f32) {
        self.shown.push((text, now + NOTICE_SECONDS));
        let excess = self.shown.len().saturating_sub(MAX_SHOWN);
        self.shown.drain(..excess);
    }

    /// The notices still on screen at `now`, oldest first.
    pub fn current(&mut self, now: f32) -> impl Iterator<Item = &str> {
        self.shown.retain(|(_, until)| *until > now);
        self.shown.iter().map(|(t, _)| t.as_str())
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<AudioNotices>()
        .add_message::<AudioDeviceNotice>()
        .add_systems(Update, collect_audio_notices.in_set(AppSystems::Ingest))
        .add_systems(EguiPrimaryContextPass, show_audio_notices);
}

fn collect_audio_notices(
    mut incoming: MessageReader<AudioDeviceNotice>,
    time: Res<Time>,
    mut notices: ResMut<AudioNotices>,
) {
    for AudioDeviceNotice(text) in incoming.read() {
        notices.push(text.clone(), time.elapsed_secs());
    }
}

fn show_audio_notices(
    mut contexts: EguiContexts,
    time: Res<Time>,
    mut notices: ResMut<AudioNotices>,
) -> Result {
    let lines: Vec<String> = notices
        .current(time.elapsed_secs())
        .map(str::to_string)
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    egui::Area::new(egui::Id::new("audio-notices"))
        .anchor(egui::Align2::CENTER_BOTTOM, [0.0, -16.0])
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style())
                .fill(egui::Color32::from_rgb(60, 40, 20))
                .show(ui, |ui| {
                    for line in &lines {
                        ui.label(
                            egui::RichText::new(format!("🔈 {line}"))
                                .color(egui::Color32::from_rgb(255, 220, 160)),
                        );
                    }
                });
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_go_away_after_their_time_and_only_the_newest_are_kept() {
        let mut n = AudioNotices::default();
        n.push("a".into(), 0.0);
        n.push("b".into(), 1.0);
        assert_eq!(n.current(2.0).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(n.current(NOTICE_SECONDS + 0.5).collect::<Vec<_>>(), ["b"]);
        for k in 0..5 {
            n.push(format!("c{k}"), 10.0);
        }
        assert_eq!(n.current(11.0).collect::<Vec<_>>(), ["c2", "c3", "c4"]);
        assert_eq!(n.current(100.0).count(), 0);
    }
}
