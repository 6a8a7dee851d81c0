//! What lies under the scene and how the finished scene reaches its image, as
//! texture copies instead of full-frame draws.
//!
//! The theme's painted background covers every pixel of every frame and never
//! moves (the scene camera is fixed). Drawn as a sprite, a software rasteriser
//! (lavapipe, on machines without a GPU) shades and blends each of its pixels
//! anew every frame, and Bevy then blits the camera's main texture to the scene
//! image in a second full-frame pass. Here both are copies:
//! - before the main pass, [`lay_backdrop`] copies the background image into the
//!   scene camera's main texture (the camera clears nothing itself);
//! - after post-processing, [`deliver_scene`] copies the main texture into the
//!   scene image, in place of Bevy's blit (which other cameras keep, and the
//!   scene camera too on a frame whose output a screenshot has swapped).
//!
//! Measured with `samespace demo --headless --seconds 6 --participants 0
//! --report r.json` (1280x720, lavapipe, 2 cores, dev build): the empty world
//! took 1.07 cores at 29.5 frames a second with the sprite and the blit
//! (`cpu_threads`: 0.86 of it lavapipe's), 0.21–0.23 cores at 29.7–29.9 with the
//! copies (lavapipe 0.02).
//! See docs/ARCHITECTURE.md, World ("What a frame costs on a software
//! rasteriser").

use bevy::camera::CameraMainTextureUsages;
use bevy::core_pipeline::upscaling::upscaling;
use bevy::core_pipeline::{Core2d, Core2dSystems};
use bevy::ecs::schedule::ScheduleCleanupPolicy;
use bevy::prelude::*;
use bevy::render::RenderApp;
use bevy::render::extract_component::{ExtractComponent, ExtractComponentPlugin};
use bevy::render::extract_resource::{ExtractResource, ExtractResourcePlugin};
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{
    Extent3d, LoadOp, Operations, RenderPassColorAttachment, RenderPassDescriptor, StoreOp,
    Texture, TextureFormat, TextureUsages,
};
use bevy::render::renderer::{CurrentView, RenderContext, ViewQuery};
use bevy::render::texture::GpuImage;
use bevy::render::view::ViewTarget;

/// The scene's backdrop, for the render world.
#[derive(Resource, ExtractResource, Debug, Clone)]
pub struct SceneBackdrop {
    /// The theme's painted background, at the scene image's size in pixels.
    pub image: Handle<Image>,
    /// What the main texture is cleared to while the background is not on the
    /// GPU yet (the theme's background colour).
    pub clear: LinearRgba,
}

/// Marks the camera whose main texture gets the backdrop and whose frame is
/// copied into the scene image (the scene camera).
#[derive(Component, ExtractComponent, Debug, Clone, Copy, Default)]
pub struct BackdropCamera;

/// Main-texture usages a [`BackdropCamera`] needs: the default ones, and being
/// the destination of the backdrop copy.
pub fn main_texture_usages() -> CameraMainTextureUsages {
    CameraMainTextureUsages::default().with(TextureUsages::COPY_DST)
}

/// Extracts the backdrop and adds the two copies to the 2D render schedule
/// (nothing without a renderer, as in tests on minimal plugins).
pub struct BackdropPlugin;

impl Plugin for BackdropPlugin {
    fn build(&self, app: &mut App) {
        if app.get_sub_app(RenderApp).is_none() {
            return;
        }
        app.add_plugins((
            ExtractResourcePlugin::<SceneBackdrop>::default(),
            ExtractComponentPlugin::<BackdropCamera>::default(),
        ));
        let Some(render) = app.get_sub_app_mut(RenderApp) else {
            return;
        };
        render.add_systems(Core2d, lay_backdrop.before(Core2dSystems::MainPass));
        // Bevy's blit of the main texture to the camera's output stays for every
        // other camera (the window's); the scene camera's frame is copied instead.
        match render.remove_systems_in_set(
            Core2d,
            upscaling,
            ScheduleCleanupPolicy::RemoveSystemsOnly,
        ) {
            Ok(_) => {
                render.add_systems(
                    Core2d,
                    (
                        upscaling.run_if(not(copies_frame)),
                        deliver_scene.run_if(copies_frame),
                    )
                        .after(Core2dSystems::PostProcess),
                );
            }
            Err(e) => {
                warn!(error = %e, "scene frames are blitted, not copied");
            }
        }
    }
}

/// Whether the view being rendered is a [`BackdropCamera`] whose output can
/// take a copy of its main texture: same size and format, and copyable into. A
/// screenshot swaps the output for a capture texture that cannot: that frame
/// is blitted.
fn copies_frame(
    view: Res<CurrentView>,
    backdrops: Query<&ViewTarget, With<BackdropCamera>>,
) -> bool {
    let Ok(target) = backdrops.get(view.0) else {
        return false;
    };
    target.out_texture().is_some_and(|v| {
        let out = v.texture();
        out.usage().contains(TextureUsages::COPY_DST)
            && same_shape(out.size(), out.format(), target.main_texture())
    })
}

/// Whether a whole-texture copy between a texture of this size and format and
/// `other` fits: the same size and format.
fn same_shape(size: Extent3d, format: TextureFormat, other: &Texture) -> bool {
    size == other.size() && format == other.format()
}

/// Copies the background into the main texture, or clears it to the theme's
/// colour until the background is on the GPU (or if its size does not match).
fn lay_backdrop(
    view: ViewQuery<&ViewTarget, With<BackdropCamera>>,
    backdrop: Option<Res<SceneBackdrop>>,
    images: Res<RenderAssets<GpuImage>>,
    mut ctx: RenderContext,
) {
    let target = view.into_inner();
    let main = target.main_texture();
    let image = backdrop
        .as_ref()
        .and_then(|b| images.get(&b.image))
        .filter(|g| same_shape(g.texture.size(), g.texture.format(), main));
    match image {
        Some(gpu) => ctx.command_encoder().copy_texture_to_texture(
            gpu.texture.as_image_copy(),
            main.as_image_copy(),
            main.size(),
        ),
        None => {
            let clear = backdrop.map_or(LinearRgba::BLACK, |b| b.clear);
            ctx.command_encoder()
                .begin_render_pass(&RenderPassDescriptor {
                    label: Some("scene backdrop clear"),
                    color_attachments: &[Some(RenderPassColorAttachment {
                        view: target.main_texture_view(),
                        depth_slice: None,
                        resolve_target: None,
                        ops: Operations {
                            load: LoadOp::Clear(clear.into()),
                            store: StoreOp::Store,
                        },
                    })],
                    depth_stencil_attachment: None,
                    timestamp_writes: None,
                    occlusion_query_set: None,
                    multiview_mask: None,
                });
        }
    }
}

/// Copies the finished main texture into the camera's output (the scene image).
fn deliver_scene(view: ViewQuery<&ViewTarget, With<BackdropCamera>>, mut ctx: RenderContext) {
    let target = view.into_inner();
    let Some(out) = target.out_texture() else {
        return;
    };
    let main = target.main_texture();
    ctx.command_encoder().copy_texture_to_texture(
        main.as_image_copy(),
        out.texture().as_image_copy(),
        main.size(),
    );
}
