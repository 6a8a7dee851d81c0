//! The scene: an offscreen camera rendering the world (without UI) into an image,
//! the theme's background and ambient effect, theme switching, and snapshots.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bevy::camera::{RenderTarget, ScalingMode};
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

use super::backdrop::{self, BackdropCamera, SceneBackdrop};
use super::placement::{SCENE_HEIGHT, SCENE_WIDTH};
use super::theme::{Effect, Rgba, Theme, load_theme, render_background};

/// The image the scene camera renders into, and its size in pixels.
#[derive(Resource, Debug, Clone)]
pub struct SceneTarget {
    /// The render target.
    pub image: Handle<Image>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The theme in use.
#[derive(Resource, Debug, Clone)]
pub struct ActiveTheme(pub Theme);

/// Where themes are loaded from.
#[derive(Resource, Debug, Clone)]
pub struct ThemesDir(pub PathBuf);

/// Asks for another theme by name.
#[derive(Message, Debug, Clone)]
pub struct SwitchTheme(pub String);

/// Asks for a PNG of the scene (no UI) at a path.
#[derive(Message, Debug, Clone)]
pub struct TakeSnapshot(pub PathBuf);

/// Snapshots requested but not yet written, and the paths written.
#[derive(Resource, Debug, Clone, Default)]
pub struct SnapshotTracker {
    /// Requested and not yet saved.
    pub pending: Arc<AtomicUsize>,
    /// Saved files, in order.
    pub saved: Arc<std::sync::Mutex<Vec<PathBuf>>>,
    /// Files that could not be saved, with the reason.
    pub failed: Arc<std::sync::Mutex<Vec<(PathBuf, String)>>>,
}

/// Marks the scene camera.
#[derive(Component)]
pub struct SceneCamera;

/// An ambient particle (confetti, snow, bubbles, drifting stars).
#[derive(Component, Debug, Clone, Copy)]
pub struct EffectParticle {
    velocity: Vec2,
    spin: f32,
    sway: f32,
}

fn colour(c: Rgba) -> Color {
    Color::srgba_u8(c.0[0], c.0[1], c.0[2], c.0[3])
}

/// Creates the render-target image and the scene camera.
pub fn spawn_scene_camera(
    commands: &mut Commands,
    images: &mut Assets<Image>,
    width: u32,
    height: u32,
) -> SceneTarget {
    let mut target = Image::new_target_texture(width, height, TextureFormat::Rgba8UnormSrgb, None);
    target.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    let image = images.add(target);
    commands.spawn((
        Name::new("scene camera"),
        SceneCamera,
        BackdropCamera,
        Camera2d,
        Camera {
            order: -1,
            // The backdrop copy covers every pixel, and the finished frame is
            // copied into the image (see `backdrop`): no clear, no blit.
            clear_color: ClearColorConfig::None,
            ..default()
        },
        backdrop::main_texture_usages(),
        // 2D sprites need no multisampling; on a software rasteriser it costs much of the frame.
        bevy::render::view::Msaa::Off,
        RenderTarget::Image(image.clone().into()),
        Projection::Orthographic(OrthographicProjection {
            scaling_mode: ScalingMode::Fixed {
                width: SCENE_WIDTH,
                height: SCENE_HEIGHT,
            },
            ..OrthographicProjection::default_2d()
        }),
    ));
    SceneTarget {
        image,
        width,
        height,
    }
}

/// The theme's background painted at `w`x`h` pixels, ready to be copied into the
/// scene camera's texture.
fn background_image(theme: &Theme, w: u32, h: u32) -> Image {
    let pixels = render_background(theme, w, h).unwrap_or_else(|e| {
        error!(error = %e, "theme background");
        vec![40; (w * h * 4) as usize]
    });
    let mut image = super::texture::rgba_image(w, h, pixels);
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    image
}

/// The scene image's size in pixels, or the world's size before there is one.
fn backdrop_size(target: Option<&SceneTarget>) -> (u32, u32) {
    target.map_or((SCENE_WIDTH as u32, SCENE_HEIGHT as u32), |t| {
        (t.width.max(1), t.height.max(1))
    })
}

/// Paints the active theme's background (the scene's backdrop) and spawns its
/// ambient effect.
pub fn spawn_theme(
    mut commands: Commands,
    theme: Res<ActiveTheme>,
    target: Option<Res<SceneTarget>>,
    mut images: ResMut<Assets<Image>>,
    mut clear: ResMut<ClearColor>,
) {
    clear.0 = colour(theme.0.palette.background);
    let (w, h) = backdrop_size(target.as_deref());
    commands.insert_resource(SceneBackdrop {
        image: images.add(background_image(&theme.0, w, h)),
        clear: clear.0.to_linear(),
    });
    spawn_effect(&mut commands, &theme.0);
}

/// Keeps the backdrop at the scene image's size (the scene image may come
/// after the theme, or be replaced).
pub fn fit_backdrop(
    target: Option<Res<SceneTarget>>,
    backdrop: Option<Res<SceneBackdrop>>,
    theme: Res<ActiveTheme>,
    mut images: ResMut<Assets<Image>>,
) {
    let (Some(target), Some(backdrop)) = (target, backdrop) else {
        return;
    };
    let (w, h) = backdrop_size(Some(&target));
    let fits = images
        .get(&backdrop.image)
        .is_some_and(|i| i.width() == w && i.height() == h);
    if !fits && let Some(mut img) = images.get_mut(&backdrop.image) {
        *img = background_image(&theme.0, w, h);
    }
}

fn spawn_effect(commands: &mut Commands, theme: &Theme) {
    let mut seed = 0x5EED_u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f32 / (1u64 << 53) as f32
    };
    let (count, kind) = match theme.effect {
        Effect::Confetti { count } => (count, 0),
        Effect::Snow { count } => (count, 1),
        Effect::Bubbles { count } => (count, 2),
        Effect::Drift { count } => (count, 3),
        Effect::None | Effect::Hologram { .. } => (0, 0),
    };
    let confetti = [
        Color::srgb(1.0, 0.3, 0.4),
        Color::srgb(1.0, 0.85, 0.2),
        Color::srgb(0.3, 0.9, 0.5),
        Color::srgb(0.3, 0.7, 1.0),
        Color::srgb(0.8, 0.4, 1.0),
    ];
    for i in 0..count {
        let x = (rnd() - 0.5) * SCENE_WIDTH;
        let y = (rnd() - 0.5) * SCENE_HEIGHT;
        let (size, col, vel, z) = match kind {
            0 => (
                Vec2::new(8.0, 14.0),
                confetti[i as usize % confetti.len()],
                Vec2::new(0.0, -60.0 - 60.0 * rnd()),
                5.0,
            ),
            1 => (
                Vec2::splat(3.0 + 5.0 * rnd()),
                Color::srgba(1.0, 1.0, 1.0, 0.9),
                Vec2::new(0.0, -30.0 - 40.0 * rnd()),
                5.0,
            ),
            2 => (
                Vec2::splat(6.0 + 12.0 * rnd()),
                Color::srgba(0.8, 0.95, 1.0, 0.45),
                Vec2::new(0.0, 25.0 + 30.0 * rnd()),
                0.5,
            ),
            _ => (
                Vec2::splat(2.0 + 2.5 * rnd()),
                Color::srgba(1.0, 1.0, 0.9, 0.8),
                Vec2::new(-20.0 - 30.0 * rnd(), 0.0),
                -5.0,
            ),
        };
        commands.spawn((
            Name::new("effect particle"),
            EffectParticle {
                velocity: vel,
                spin: (rnd() - 0.5) * 6.0,
                sway: rnd() * std::f32::consts::TAU,
            },
            Sprite::from_color(col, size),
            Transform::from_xyz(x, y, z)
                .with_rotation(Quat::from_rotation_z(rnd() * std::f32::consts::TAU)),
        ));
    }
}

/// Moves ambient particles and wraps them around the scene.
pub fn animate_effect(mut q: Query<(&EffectParticle, &mut Transform)>, time: Res<Time>) {
    let dt = time.delta_secs();
    let t = time.elapsed_secs();
    for (p, mut tr) in &mut q {
        tr.translation.x += (p.velocity.x + 20.0 * (t * 1.3 + p.sway).sin()) * dt;
        tr.translation.y += p.velocity.y * dt;
        tr.rotate_z(p.spin * dt);
        let (hw, hh) = (SCENE_WIDTH / 2.0 + 20.0, SCENE_HEIGHT / 2.0 + 20.0);
        if tr.translation.y < -hh {
            tr.translation.y = hh;
        } else if tr.translation.y > hh {
            tr.translation.y = -hh;
        }
        if tr.translation.x < -hw {
            tr.translation.x = hw;
        } else if tr.translation.x > hw {
            tr.translation.x = -hw;
        }
    }
}

/// Applies [`SwitchTheme`] requests: repaints the backdrop in place and respawns the effect.
pub fn switch_theme(
    mut commands: Commands,
    mut requests: MessageReader<SwitchTheme>,
    dir: Res<ThemesDir>,
    mut theme: ResMut<ActiveTheme>,
    mut images: ResMut<Assets<Image>>,
    mut clear: ResMut<ClearColor>,
    mut backdrop: Option<ResMut<SceneBackdrop>>,
    particles: Query<Entity, With<EffectParticle>>,
) {
    let Some(req) = requests.read().last().cloned() else {
        return;
    };
    let new = match load_theme(&dir.0, &req.0) {
        Ok(t) => t,
        Err(e) => {
            error!(error = %e, "cannot switch theme");
            return;
        }
    };
    info!(theme = %new.name, "theme switched");
    if let Some(backdrop) = backdrop.as_deref_mut()
        && let Some(mut img) = images.get_mut(&backdrop.image)
    {
        let (w, h) = (img.width(), img.height());
        *img = background_image(&new, w, h);
        backdrop.clear = colour(new.palette.background).to_linear();
    }
    for e in &particles {
        commands.entity(e).despawn();
    }
    clear.0 = colour(new.palette.background);
    spawn_effect(&mut commands, &new);
    theme.0 = new;
}

/// Applies [`TakeSnapshot`] requests: a screenshot of the scene target, saved as PNG.
pub fn take_snapshots(
    mut commands: Commands,
    mut requests: MessageReader<TakeSnapshot>,
    target: Res<SceneTarget>,
    tracker: Res<SnapshotTracker>,
) {
    for req in requests.read() {
        tracker.pending.fetch_add(1, Ordering::SeqCst);
        let path = req.0.clone();
        let t = tracker.clone();
        commands
            .spawn(Screenshot::image(target.image.clone()))
            .observe(move |captured: On<ScreenshotCaptured>| {
                match save_png(&captured.image, &path) {
                    Ok(()) => {
                        info!(path = %path.display(), "snapshot saved");
                        if let Ok(mut s) = t.saved.lock() {
                            s.push(path.clone());
                        }
                    }
                    Err(e) => {
                        error!(path = %path.display(), error = %e, "cannot save snapshot");
                        if let Ok(mut f) = t.failed.lock() {
                            f.push((path.clone(), e));
                        }
                    }
                }
                t.pending.fetch_sub(1, Ordering::SeqCst);
            });
    }
}

/// Writes a captured image as an RGB picture in the format its extension
/// names (PNG or JPEG), whole or not at all (see [`crate::output`]).
pub fn save_png(image: &Image, path: &Path) -> Result<(), String> {
    let format = image::ImageFormat::from_path(path).map_err(|e| e.to_string())?;
    let dynamic = image
        .clone()
        .try_into_dynamic()
        .map_err(|e| e.to_string())?;
    let rgb = dynamic.to_rgb8();
    crate::output::write_file(path, |w| rgb.write_to(w, format)).map_err(|e| e.to_string())
}
