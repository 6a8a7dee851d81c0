//! `CutoutMaterial`: the 2D material every participant is drawn with (texture, tint,
//! mirror, edge fade, grading towards the theme's light with a rim, and the hologram
//! effect, done on the GPU in `assets/shaders/cutout.wgsl`).

use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, ShaderType};
use bevy::shader::ShaderRef;
use bevy::sprite_render::{AlphaMode2d, Material2d};

/// Uniform block of [`CutoutMaterial`]; see the shader for the meaning of each lane.
#[derive(Clone, Copy, Debug, Default, ShaderType, PartialEq)]
pub struct CutoutParams {
    /// Colour multiplier.
    pub tint: Vec4,
    /// Hologram strength, scanlines, ghost offset, time.
    pub hologram: Vec4,
    /// Hologram colour; `w > 0.5` mirrors the picture.
    pub holo_color: Vec4,
    /// Fade bands at the cut edges (left, right, top, bottom), texture fractions.
    pub fade: Vec4,
    /// Grading gain (rgb, linear).
    pub gain: Vec4,
    /// Grading lift of the shadows (rgb, linear).
    pub lift: Vec4,
    /// Rim colour (rgb) and strength (w).
    pub rim: Vec4,
    /// Texture offset towards the light (xy).
    pub light: Vec4,
    /// The part of the picture the quad covers, as shown (u0, v0, u1, v1; see
    /// `grounding::shown_crop`).
    pub crop: Vec4,
}

impl CutoutParams {
    /// Untouched: no fade, no grading, no rim, no hologram.
    pub fn plain(tint: Vec4) -> Self {
        Self {
            tint,
            gain: Vec4::ONE,
            crop: Vec4::new(0.0, 0.0, 1.0, 1.0),
            holo_color: Vec4::new(0.3, 0.85, 1.0, 0.0),
            ..Self::default()
        }
    }
}

/// A participant's live cutout texture with its look.
#[derive(Asset, AsBindGroup, TypePath, Debug, Clone)]
pub struct CutoutMaterial {
    /// Look parameters.
    #[uniform(0)]
    pub params: CutoutParams,
    /// The cutout texture, updated in place each camera frame.
    #[texture(1)]
    #[sampler(2)]
    pub texture: Handle<Image>,
}

impl Material2d for CutoutMaterial {
    fn fragment_shader() -> ShaderRef {
        "shaders/cutout.wgsl".into()
    }

    fn alpha_mode(&self) -> AlphaMode2d {
        AlphaMode2d::Blend
    }
}
