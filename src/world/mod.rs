//! The shared world: participants as live cutout quads in a themed 2D scene.
//!
//! - Pure: [`placement`] (where someone stands), [`arrange`] (automatic spreading and
//!   sizing, feet on the floor line), [`theme`] (theme data and background painting),
//!   [`light`] (a theme's light and the grading towards it), [`grounding`] (cut edges
//!   that fade, contact shadows, name tag positions), [`text`] (words painted into
//!   pixels with the bundled font); [`texture`] turns painted pixels into images.
//! - Bevy: [`participant`] (entities, in-place texture upload from the newest cutout),
//!   [`scene`] (offscreen scene camera, background, effects, theme switching,
//!   snapshots), [`backdrop`] (the background copied under each frame and the
//!   frame copied into the scene image, instead of full-frame draws), [`material`]
//!   (the cutout shader material: fade, grading, rim, hologram), [`hud`] (words as
//!   scene sprites, name tags, contact shadows).
//!
//! Everything players need to read is drawn by the scene camera (render layer 0),
//! never only by egui on the window, so snapshots and recordings show it too.
//!
//! Inputs: cutouts from each participant's `LocalFeed` (capture → segment threads) or
//! `CutoutInbox` channel, drained once per frame in `AppSystems::Ingest`; messages
//! [`scene::SwitchTheme`] and [`scene::TakeSnapshot`]. Output: the scene image
//! ([`scene::SceneTarget`]), which the window shows and the recorder reads.

pub mod arrange;
pub mod backdrop;
pub mod grounding;
pub mod hud;
pub mod light;
pub mod material;
pub mod participant;
pub mod placement;
pub mod scene;
pub mod text;
pub mod texture;
pub mod theme;

/// Draw depths (z) in the scene, back to front.
pub mod depth {
    /// Contact shadows on the floor.
    pub const SHADOW: f32 = 0.6;
    /// Game scenery that stands behind people (the volleyball net).
    pub const GAME_SCENERY: f32 = 0.8;
    /// People (plus 0.01 per placement `z`).
    pub const PEOPLE: f32 = 1.0;
    /// Game objects (balls, balloons, stars), in front of people.
    pub const GAME_OBJECTS: f32 = 4.0;
    /// Name tags above heads.
    pub const NAME_TAGS: f32 = 6.0;
    /// Banner, scores, instruction.
    pub const HUD: f32 = 7.0;
    /// Panels over everything (results, the recording badge).
    pub const PANEL: f32 = 8.0;
}

use bevy::prelude::*;
use bevy::sprite_render::Material2dPlugin;

pub use placement::Placement;

use crate::AppSystems;
use arrange::ArrangeParams;
use material::CutoutMaterial;
use participant::{ArrangeSettings, ArrangedSet, UploadStats};
use scene::{ActiveTheme, SnapshotTracker, SwitchTheme, TakeSnapshot, ThemesDir};
use theme::Theme;

/// Participants, themes and the scene.
pub struct WorldPlugin {
    /// The theme to start with.
    pub theme: Theme,
    /// Where themes are loaded from at run time.
    pub themes_dir: std::path::PathBuf,
}

impl Plugin for WorldPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(ActiveTheme(self.theme.clone()))
            .insert_resource(ThemesDir(self.themes_dir.clone()))
            .insert_resource(ArrangeSettings(ArrangeParams::default()))
            .init_resource::<ArrangedSet>()
            .init_resource::<UploadStats>()
            .init_resource::<SnapshotTracker>()
            .add_message::<SwitchTheme>()
            .add_message::<TakeSnapshot>()
            .add_message::<crate::Notice>()
            .add_plugins((
                Material2dPlugin::<CutoutMaterial>::default(),
                backdrop::BackdropPlugin,
            ))
            .add_systems(Startup, (scene::spawn_theme, hud::init_shadow_texture))
            .add_systems(
                Update,
                (participant::drain_cutouts, participant::watch_local_feeds)
                    .in_set(AppSystems::Ingest),
            )
            .add_systems(
                Update,
                (scene::switch_theme, participant::auto_arrange)
                    .chain()
                    .in_set(AppSystems::Simulate),
            )
            .add_systems(
                Update,
                (
                    participant::update_materials,
                    participant::apply_placements,
                    (hud::adorn_participants, hud::place_adornments).chain(),
                    scene::animate_effect,
                    scene::fit_backdrop,
                    scene::take_snapshots,
                )
                    .in_set(AppSystems::Present),
            )
            // After every writer of scene text in `Update`.
            .add_systems(PostUpdate, hud::paint_scene_texts);
    }
}
