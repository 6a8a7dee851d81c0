//! The voice controls of the room panel: per person 🔊 while speaking, the muted
//! icon by the name (🔇: that person muted their microphone), and for the others
//! **Mute** and a volume slider; for yourself **Mute me (V)** and push-to-talk
//! (hold `Space`); and the switch for voices placed where people stand.

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::egui;

pub use crate::voice::plugin::shows_muted;
use crate::voice::plugin::{Listening, SelfMute, Speaking, VoiceSettings};

/// The icon shown by the name of someone whose microphone is off.
pub const MUTED_ICON: &str = "🔇";
/// The icon shown before the name of someone speaking.
pub const SPEAKING_ICON: &str = "🔊";

/// The voice switches the room panel and the keys change.
#[derive(SystemParam)]
pub struct VoiceControls<'w> {
    /// This app's microphone.
    pub self_mute: ResMut<'w, SelfMute>,
    /// Placement on or off.
    pub settings: ResMut<'w, VoiceSettings>,
}

/// The name of one person with its speaking and muted icons.
pub fn name_text(name: &str, muted: bool, speaking: bool) -> String {
    format!(
        "{}{name}{}",
        if speaking {
            format!("{SPEAKING_ICON} ")
        } else {
            String::new()
        },
        if muted {
            format!(" {MUTED_ICON}")
        } else {
            String::new()
        }
    )
}

/// Whether a person speaks now (yourself: what your microphone sends).
pub fn is_speaking(speaking: Option<&Speaking>) -> bool {
    speaking.is_some_and(|s| s.now)
}

/// The controls after one person's name: yours, or another's volume and mute.
pub fn person_controls(
    h: &mut egui::Ui,
    local: bool,
    listening: Option<Mut<Listening>>,
    controls: &mut VoiceControls,
) {
    if local {
        let label = if controls.self_mute.muted {
            "Unmute me (V)"
        } else {
            "Mute me (V)"
        };
        if h.button(label).clicked() {
            controls.self_mute.muted = !controls.self_mute.muted;
        }
        return;
    }
    let Some(mut listening) = listening else {
        return;
    };
    let mut muted = listening.muted;
    if h.checkbox(&mut muted, "Mute").changed() {
        listening.muted = muted;
    }
    let mut percent = listening.volume * 100.0;
    if h.add(
        egui::Slider::new(&mut percent, 0.0..=200.0)
            .suffix(" %")
            .integer(),
    )
    .changed()
    {
        listening.volume = percent / 100.0;
    }
}

/// Placement and push-to-talk switches.
pub fn voice_switches(w: &mut egui::Ui, controls: &mut VoiceControls) {
    let mut spatial = controls.settings.spatial;
    if w.checkbox(&mut spatial, "Voices where people stand")
        .changed()
    {
        controls.settings.spatial = spatial;
    }
    let mut ptt = controls.self_mute.push_to_talk;
    if w.checkbox(&mut ptt, "Push to talk (hold Space)").changed() {
        controls.self_mute.push_to_talk = ptt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::plugin::PeerVoice;

    #[test]
    fn the_name_carries_the_speaking_and_muted_icons() {
        assert_eq!(name_text("Ada", false, false), "Ada");
        assert_eq!(name_text("Ada", true, false), "Ada 🔇");
        assert_eq!(name_text("Ada", false, true), "🔊 Ada");
        let mut me = SelfMute::default();
        me.muted = true;
        assert!(shows_muted(true, &me, None));
        assert!(!shows_muted(false, &me, None));
        assert!(shows_muted(
            false,
            &SelfMute::default(),
            Some(&PeerVoice { self_muted: true })
        ));
    }
}
