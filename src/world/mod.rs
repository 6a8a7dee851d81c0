//! The shared world: participants as live cutout quads in a themed 2D scene.
//!
//! - Pure: [`placement`] (where someone stands), [`arrange`] (automatic spreading and
//!   sizing), [`theme`] (theme data and background painting).
//! - Bevy: [`participant`] (entities, in-place texture upload from the newest cutout),
//!   [`scene`] (offscreen scene camera, background, effects, theme switching,
//!   snapshots), [`material`] (the cutout/hologram shader material).
//!
//! Inputs: cutouts from each participant's `LocalFeed` (capture → segment threads) or
//! `CutoutInbox` channel, drained once per frame in `AppSystems::Ingest`; messages
//! [`scene::SwitchTheme`] and [`scene::TakeSnapshot`]. Output: the scene image
//! ([`scene::SceneTarget`]), which the window shows and the recorder reads.

pub mod arrange;
pub mod material;
pub mod participant;
pub mod placement;
pub mod scene;
pub mod theme;

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
            .add_plugins(Material2dPlugin::<CutoutMaterial>::default())
            .add_systems(Startup, scene::spawn_theme)
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
                    scene::animate_effect,
                    scene::take_snapshots,
                )
                    .in_set(AppSystems::Present),
            );
    }
}
