//! The game HUD drawn in the world (scene sprites, so snapshots and recordings show
//! it as the window does): banner and countdown, round and time left, team scores,
//! how to play, each player's score after their name tag, and the results board.
//! The words come from [`super::hud::HudLines`].

use std::collections::HashMap;

use bevy::prelude::*;
use bevy::sprite::Anchor;

use super::hud::HudLines;
use super::plugin::{ActiveGame, GameAuthority, RemoteGame};
use crate::world::depth;
use crate::world::hud::{NameTagDetail, SceneText};
use crate::world::participant::Participant;
use crate::world::placement::SCENE_HEIGHT;
use crate::world::scene::ActiveTheme;
use crate::world::text::{Align, TextStyle};

/// One piece of the game HUD.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GameHudText {
    /// The big line at the top.
    Banner,
    /// Round and time left.
    Status,
    /// Team scores.
    Teams,
    /// How to play.
    Instruction,
    /// The results board.
    Results,
}

/// Translucent dark box behind HUD words (readable on light and dark themes).
const HUD_BOX: [u8; 4] = [10, 12, 20, 150];

impl GameHudText {
    const ALL: [GameHudText; 5] = [
        GameHudText::Banner,
        GameHudText::Status,
        GameHudText::Teams,
        GameHudText::Instruction,
        GameHudText::Results,
    ];

    fn style(self) -> TextStyle {
        let boxed = |size: f32| TextStyle {
            size,
            background: Some(HUD_BOX),
            shadow: false,
            ..TextStyle::default()
        };
        match self {
            GameHudText::Banner => boxed(34.0),
            GameHudText::Status => boxed(18.0),
            GameHudText::Teams => TextStyle {
                colour: [180, 230, 255, 255],
                ..boxed(22.0)
            },
            GameHudText::Instruction => boxed(17.0),
            // Nearly opaque: name tags and game objects behind it do not show through.
            GameHudText::Results => TextStyle {
                background: Some([14, 16, 26, 245]),
                align: Align::Left,
                ..boxed(24.0)
            },
        }
    }

    /// Where its centre goes (world units) for a floor line at `floor_y`.
    fn position(self, floor_y: f32) -> Vec3 {
        let top = SCENE_HEIGHT / 2.0;
        let bottom = -SCENE_HEIGHT / 2.0;
        match self {
            // Stacked with a small gap: the banner's box is about 60 units tall, the
            // status line's 32, the teams' 39.
            GameHudText::Banner => Vec3::new(0.0, top - 42.0, depth::HUD),
            GameHudText::Status => Vec3::new(0.0, top - 92.0, depth::HUD),
            GameHudText::Teams => Vec3::new(0.0, top - 132.0, depth::HUD),
            // On the ground strip under the floor line, in front of the people's feet.
            GameHudText::Instruction => Vec3::new(
                0.0,
                ((floor_y + bottom) / 2.0).max(bottom + 18.0),
                depth::HUD,
            ),
            GameHudText::Results => Vec3::new(0.0, 30.0, depth::PANEL),
        }
    }

    fn text(self, lines: &HudLines) -> &str {
        match self {
            GameHudText::Banner => &lines.banner,
            GameHudText::Status => &lines.status,
            GameHudText::Teams => &lines.teams,
            GameHudText::Instruction => &lines.instruction,
            GameHudText::Results => lines.results.as_deref().unwrap_or(""),
        }
    }
}

/// Spawns the HUD's pieces (empty until a game draws into them).
pub fn spawn_game_hud(mut commands: Commands, theme: Res<ActiveTheme>) {
    for piece in GameHudText::ALL {
        commands.spawn((
            Name::new(format!("game hud {piece:?}")),
            piece,
            SceneText::new("", piece.style()),
            Anchor::CENTER,
            Transform::from_translation(piece.position(theme.0.floor_y)),
        ));
    }
}

/// Writes the game's state into the HUD and the players' name tags: the local
/// simulation's, or in a networked room where another peer hosts, the host's newest
/// snapshot. Without a game the HUD is empty.
pub fn draw_game_hud(
    mut commands: Commands,
    game: Option<Res<ActiveGame>>,
    authority: Res<GameAuthority>,
    remote: Res<RemoteGame>,
    theme: Res<ActiveTheme>,
    mut pieces: Query<(&GameHudText, &mut SceneText, &mut Transform)>,
    people: Query<(Entity, &Participant, Option<&NameTagDetail>)>,
) {
    let snapshot = match (*authority, &game) {
        (GameAuthority::Host, Some(game)) => Some(game.sim.snapshot()),
        (GameAuthority::Follower, _) => remote.snapshot.clone(),
        _ => None,
    };
    let lines = snapshot.as_ref().map(HudLines::from_snapshot);
    for (piece, mut text, mut t) in &mut pieces {
        SceneText::set(&mut text, lines.as_ref().map_or("", |l| piece.text(l)));
        t.translation = piece.position(theme.0.floor_y);
    }
    // Scores after names: the host knows which game player each participant is;
    // a follower goes by the names the host's snapshot carries.
    let by_room_id: HashMap<u32, String> = match (&lines, &game, *authority) {
        (Some(lines), Some(game), GameAuthority::Host) => {
            let detail: HashMap<_, _> = lines.scores.iter().map(|(id, _, d)| (*id, d)).collect();
            game.ids
                .iter()
                .filter_map(|(room, gid)| detail.get(gid).map(|d| (*room, (*d).clone())))
                .collect()
        }
        (Some(lines), _, _) => people
            .iter()
            .filter_map(|(_, p, _)| {
                lines
                    .scores
                    .iter()
                    .find(|(_, name, _)| *name == p.name)
                    .map(|(_, _, d)| (p.id, d.clone()))
            })
            .collect(),
        (None, _, _) => HashMap::new(),
    };
    for (entity, p, current) in &people {
        match (by_room_id.get(&p.id), current) {
            (Some(d), Some(c)) if c.0 == *d => {}
            (Some(d), _) => {
                commands.entity(entity).insert(NameTagDetail(d.clone()));
            }
            (None, Some(_)) => {
                commands.entity(entity).remove::<NameTagDetail>();
            }
            (None, None) => {}
        }
    }
}
