//! The recording badge drawn in the world while a recording runs ("● REC 0:12", top
//! left, where the window's room panel, top right, does not cover it): the window,
//! snapshots and the recording itself show that it is on.

use bevy::prelude::*;
use bevy::sprite::Anchor;

use super::plugin::Recording;
use crate::world::depth;
use crate::world::hud::SceneText;
use crate::world::placement::{SCENE_HEIGHT, SCENE_WIDTH};
use crate::world::text::TextStyle;

/// Marks the recording badge.
#[derive(Component, Debug, Clone, Copy)]
pub struct RecordingBadge;

/// Distance of the badge from the scene's top-left corner.
const INSET: f32 = 14.0;

/// The badge's words after `seconds` of recording (empty when not recording).
pub fn badge_text(recording: bool, seconds: f32) -> String {
    if !recording {
        return String::new();
    }
    let s = seconds.max(0.0) as u32;
    format!("● REC {}:{:02}", s / 60, s % 60)
}

/// Spawns the (empty) badge.
pub fn spawn_badge(mut commands: Commands) {
    commands.spawn((
        Name::new("recording badge"),
        RecordingBadge,
        SceneText::new(
            "",
            TextStyle {
                size: 20.0,
                colour: [255, 70, 70, 255],
                background: Some([10, 12, 20, 170]),
                shadow: false,
                ..TextStyle::default()
            },
        ),
        Anchor::TOP_LEFT,
        Transform::from_xyz(
            -SCENE_WIDTH / 2.0 + INSET,
            SCENE_HEIGHT / 2.0 - INSET,
            depth::PANEL,
        ),
    ));
}

/// Shows the badge with the time recorded while a recording runs.
pub fn update_badge(rec: Res<Recording>, mut badge: Query<&mut SceneText, With<RecordingBadge>>) {
    let text = badge_text(rec.is_active(), rec.elapsed());
    for mut b in &mut badge {
        SceneText::set(&mut b, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_badge_shows_minutes_and_seconds_only_while_recording() {
        assert_eq!(badge_text(true, 72.9), "● REC 1:12");
        assert_eq!(badge_text(true, 0.2), "● REC 0:00");
        assert_eq!(badge_text(false, 10.0), "");
    }
}
