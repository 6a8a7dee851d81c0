//! Participants as entities: a textured quad whose texture is overwritten in place
//! from the newest [`Cutout`] (no new asset per frame), its [`Placement`], and the
//! feed that delivers its cutouts (a local capture → segment pipeline, or any
//! channel of cutouts such as a remote peer's decoder).

use std::sync::Arc;
use std::time::Instant;

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use crossbeam_channel::Receiver;

use super::arrange::{ArrangeParams, Extent, arrange, person_extent};
use super::grounding::{CutEdges, cut_edges, drawn_box, shown_crop};
use super::light::Grade;
use super::material::{CutoutMaterial, CutoutParams};
use super::placement::Placement;
use super::scene::ActiveTheme;
use super::theme::{Effect, Theme};
use crate::capture::{CaptureWorker, SyntheticParams, open_source};
use crate::segment::{Cutout, CutoutPipeline, SegmentConfig, SegmentWorker};

/// Who a participant is.
#[derive(Component, Debug, Clone)]
pub struct Participant {
    /// Stable id within the room.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Whether this is the person at this machine.
    pub local: bool,
}

/// Where the participant stands; shared over the network.
#[derive(Component, Debug, Clone, Copy, Deref, DerefMut, PartialEq)]
pub struct ParticipantPlacement(pub Placement);

/// Marks a participant placed by hand: automatic arrangement leaves it alone.
#[derive(Component, Debug, Clone, Copy)]
pub struct Pinned;

/// The newest cutout shown, with the person's box in it.
#[derive(Component, Debug, Default, Clone)]
pub struct LatestCutout {
    /// The cutout on screen.
    pub cutout: Option<Arc<Cutout>>,
    /// The person's box in it.
    pub extent: Option<Extent>,
    /// The union of the boxes seen so far: where this person moves within the frame.
    pub envelope: Option<Extent>,
    /// The edges of the frame that cut the person (they fade out).
    pub cut: CutEdges,
    /// Cutouts shown so far.
    pub frames: u64,
    /// Where the cutout on screen is not fully transparent, with a pixel to
    /// spare for filtering (`grounding::drawn_box`): the part of the quad drawn.
    pub drawn: Option<[u32; 4]>,
}

/// The texture and material that draw a participant.
#[derive(Component, Debug, Clone)]
pub struct CutoutTexture {
    /// Texture updated in place.
    pub image: Handle<Image>,
    /// The participant's material.
    pub material: Handle<CutoutMaterial>,
    /// Current texture size.
    pub size: (u32, u32),
    /// Colour multiplier for this participant.
    pub tint: Vec4,
}

/// A local pipeline feeding a participant; dropping it stops and joins its threads.
#[derive(Component)]
pub struct LocalFeed {
    /// Capture thread.
    pub capture: CaptureWorker,
    /// Segmentation thread.
    pub segment: SegmentWorker,
}

/// The description of a participant's source, for the report.
#[derive(Component, Debug, Clone)]
pub struct SourceName(pub String);

/// Any other source of cutouts (a remote peer's decoder thread).
#[derive(Component)]
pub struct CutoutInbox(pub Receiver<Arc<Cutout>>);

/// Per-frame upload timing, for the stats overlay and the report.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct UploadStats {
    /// Texture uploads done.
    pub uploads: u64,
    /// Exponential average ms per upload.
    pub avg_ms: f32,
    /// Exponential average age (capture → shown) in ms.
    pub avg_age_ms: f32,
}

/// Settings for automatic arrangement.
#[derive(Resource, Debug, Clone, Copy)]
pub struct ArrangeSettings(pub ArrangeParams);

/// Which participants the last automatic arrangement placed, with the widths it used.
#[derive(Resource, Debug, Default)]
pub struct ArrangedSet(Vec<(u32, u32)>);

impl ArrangedSet {
    /// Whether the last arrangement placed participant `id`.
    pub fn contains(&self, id: u32) -> bool {
        self.0.iter().any(|&(placed, _)| placed == id)
    }
}

/// A new blank texture for a participant.
pub fn blank_texture(width: u32, height: u32) -> Image {
    Image::new_fill(
        Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        &[0, 0, 0, 0],
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD | RenderAssetUsages::MAIN_WORLD,
    )
}

/// The spawn bundle of a participant (its feed is inserted separately).
pub fn participant_bundle(
    participant: Participant,
    placement: Placement,
    tint: Vec4,
    images: &mut Assets<Image>,
    materials: &mut Assets<CutoutMaterial>,
    quad: Handle<Mesh>,
) -> impl Bundle + use<> {
    let image = images.add(blank_texture(640, 480));
    let material = materials.add(CutoutMaterial {
        params: CutoutParams::plain(tint),
        texture: image.clone(),
    });
    (
        Name::new(format!("participant {}", participant.name)),
        participant,
        ParticipantPlacement(placement),
        LatestCutout::default(),
        CutoutTexture {
            image,
            material: material.clone(),
            size: (640, 480),
            tint,
        },
        Mesh2d(quad),
        MeshMaterial2d(material),
        Transform::default(),
        Visibility::Hidden,
    )
}

/// Tells the person (a [`Notice`](crate::Notice)) when a local feed stops or
/// slows: the camera failed or its file ended, the segmentation failed, or it runs
/// on tract because ONNX Runtime is unavailable (once per run: that is the
/// process's, not the feed's).
pub fn watch_local_feeds(
    feeds: Query<(&LocalFeed, &Participant)>,
    mut notices: MessageWriter<crate::Notice>,
    mut told_fallback: Local<bool>,
) {
    for (feed, person) in &feeds {
        let whose = if person.local {
            "your camera".to_string()
        } else {
            format!("{}'s camera", person.name)
        };
        if let Ok(status) = feed.capture.status.try_recv() {
            notices.write(match status {
                crate::capture::CaptureStatus::Failed(e) => {
                    crate::Notice::error(format!("{whose} stopped: {e}"))
                }
                crate::capture::CaptureStatus::Ended => {
                    crate::Notice::info(format!("{whose} ended (the end of its file)"))
                }
            });
        }
        if let Ok(e) = feed.segment.failures.try_recv() {
            notices.write(crate::Notice::error(format!(
                "the cutout of {whose} stopped: {e}"
            )));
        }
        if !*told_fallback
            && feed.segment.stats().backend == Some(crate::segment::BackendKind::Tract)
            && let Err(why) = crate::segment::runtime::ensure_onnxruntime()
        {
            *told_fallback = true;
            notices.write(crate::Notice::warning(format!(
                "segmentation runs on tract, several times slower: ONNX Runtime is unavailable ({why})"
            )));
        }
    }
}

/// Copies the newest cutout of every participant into its texture, in place.
pub fn drain_cutouts(
    mut q: Query<(
        &mut LatestCutout,
        &mut CutoutTexture,
        Option<&LocalFeed>,
        Option<&CutoutInbox>,
        &mut Visibility,
    )>,
    mut images: ResMut<Assets<Image>>,
    mut stats: ResMut<UploadStats>,
) {
    for (mut latest, mut tex, feed, inbox, mut vis) in &mut q {
        let newest = match (feed, inbox) {
            (Some(f), _) => f.segment.cutouts.try_iter().last(),
            (None, Some(i)) => i.0.try_iter().last(),
            (None, None) => None,
        };
        let Some(cutout) = newest else { continue };
        let t0 = Instant::now();
        let Some(mut image) = images.get_mut(&tex.image) else {
            continue;
        };
        if tex.size != (cutout.width, cutout.height) {
            *image = blank_texture(cutout.width, cutout.height);
            tex.size = (cutout.width, cutout.height);
        }
        match image.data.as_mut() {
            Some(data) if data.len() == cutout.rgba.len() => data.copy_from_slice(&cutout.rgba),
            _ => image.data = Some(cutout.rgba.clone()),
        }
        drop(image);
        let ms = t0.elapsed().as_secs_f32() * 1000.0;
        let age = cutout.captured_at.elapsed().as_secs_f32() * 1000.0;
        let k = if stats.uploads == 0 { 1.0 } else { 0.05 };
        stats.uploads += 1;
        stats.avg_ms += (ms - stats.avg_ms) * k;
        stats.avg_age_ms += (age - stats.avg_age_ms) * k;
        if latest.frames % 5 == 0 || latest.extent.is_none() {
            latest.extent =
                person_extent(&cutout.mask, cutout.width, cutout.height).or(latest.extent);
            latest.cut = cut_edges(&cutout.mask, cutout.width, cutout.height);
            latest.envelope = match (latest.envelope, latest.extent) {
                (Some(env), Some(e)) if (env.frame_w, env.frame_h) == (e.frame_w, e.frame_h) => {
                    Some(union(env, e))
                }
                (_, e) => e,
            };
        }
        latest.frames += 1;
        latest.drawn = drawn_box(&cutout.rgba, cutout.width, cutout.height, 1);
        latest.cutout = Some(cutout);
        *vis = Visibility::Inherited;
    }
}

fn union(a: Extent, b: Extent) -> Extent {
    Extent {
        // The head's size moves slowly: leaning in must not pump the scale.
        head: match (a.head, b.head) {
            (Some(old), Some(new)) => Some(old * 0.8 + new * 0.2),
            (old, new) => old.or(new),
        },
        top: a.top.min(b.top),
        bottom: a.bottom.max(b.bottom),
        left: a.left.min(b.left),
        right: a.right.max(b.right),
        ..a
    }
}

/// Keeps materials in step with their textures and the theme (edge fade, grading
/// towards the theme's light, rim, hologram look, time).
pub fn update_materials(
    q: Query<(&CutoutTexture, &ParticipantPlacement, &LatestCutout)>,
    mut materials: ResMut<Assets<CutoutMaterial>>,
    theme: Res<ActiveTheme>,
    time: Res<Time>,
) {
    let hologram = match &theme.0.effect {
        Effect::Hologram {
            tint,
            scanlines,
            ghost,
        } => Some((
            Vec4::new(
                tint.0[0] as f32 / 255.0,
                tint.0[1] as f32 / 255.0,
                tint.0[2] as f32 / 255.0,
                0.0,
            ),
            *scanlines,
            *ghost,
        )),
        _ => None,
    };
    let grade = Grade::from_light(&theme.0.light);
    for (tex, placement, latest) in &q {
        let Some(mut m) = materials.get_mut(&tex.material) else {
            continue;
        };
        m.params.tint = tex.tint;
        m.params.crop = Vec4::from_array(quad_crop(latest, tex, placement.mirrored, &theme.0));
        m.params.fade = Vec4::from_array(latest.cut.fade_bands());
        m.params.gain = Vec3::from_array(grade.gain).extend(1.0);
        m.params.lift = Vec3::from_array(grade.lift).extend(0.0);
        m.params.rim = Vec4::from_array(grade.rim);
        // Towards the light in texture space (v grows downwards; mirrored flips u),
        // as far as the rim is wide.
        let [lx, ly] = grade.towards_light;
        let (w, h) = (tex.size.0.max(1) as f32, tex.size.1.max(1) as f32);
        let u = if placement.mirrored { -lx } else { lx };
        m.params.light = Vec4::new(u * RIM_PX / w, -ly * RIM_PX / h, 0.0, 0.0);
        let mirror = if placement.mirrored { 1.0 } else { 0.0 };
        match hologram {
            Some((colour, lines, ghost)) => {
                m.params.hologram = Vec4::new(1.0, lines, ghost, time.elapsed_secs());
                m.params.holo_color = colour.with_w(mirror);
            }
            None => {
                m.params.hologram = Vec4::ZERO;
                m.params.holo_color.w = mirror;
            }
        }
    }
}

/// Width of the rim light, in cutout pixels.
const RIM_PX: f32 = 6.0;

/// The part of a participant's picture their quad covers, as shown
/// (`grounding::shown_crop`): where the person is, or the whole picture under an
/// effect that draws beside them (the hologram's ghost).
fn quad_crop(
    latest: &LatestCutout,
    tex: &CutoutTexture,
    mirrored: bool,
    theme: &Theme,
) -> [f32; 4] {
    let drawn = match theme.effect {
        Effect::Hologram { .. } => None,
        _ => latest.drawn,
    };
    shown_crop(drawn, tex.size.0, tex.size.1, mirrored)
}

/// A participant's quad in the world: its centre and size. The whole picture
/// spans x ± w/2 and y..y+h (feet at y); the quad covers the part of it where
/// the person is (`quad_crop`, whose v grows downwards).
pub fn quad_rect(
    p: &Placement,
    tex: &CutoutTexture,
    latest: &LatestCutout,
    theme: &Theme,
) -> (Vec2, Vec2) {
    let (w, h) = (tex.size.0 as f32 * p.scale, tex.size.1 as f32 * p.scale);
    let [u0, v0, u1, v1] = quad_crop(latest, tex, p.mirrored, theme);
    (
        Vec2::new(
            p.x + ((u0 + u1) / 2.0 - 0.5) * w,
            p.y + (1.0 - (v0 + v1) / 2.0) * h,
        ),
        Vec2::new((u1 - u0).max(1e-4) * w, (v1 - v0).max(1e-4) * h),
    )
}

/// Places each participant's quad from its placement and texture size, over the
/// part of the picture where the person is.
pub fn apply_placements(
    mut q: Query<(
        &ParticipantPlacement,
        &CutoutTexture,
        &LatestCutout,
        &mut Transform,
    )>,
    theme: Res<ActiveTheme>,
) {
    for (p, tex, latest, mut t) in &mut q {
        let (centre, size) = quad_rect(p, tex, latest, &theme.0);
        t.translation = centre.extend(super::depth::PEOPLE + p.z as f32 * 0.01);
        t.scale = size.extend(1.0);
    }
}

/// Arranges the participants that are not pinned whenever the set of people with a
/// known outline changes (someone arrives or leaves), or someone's envelope (where
/// they have moved within their frame) grows by more than 8%, so people never
/// walk into each other.
pub fn auto_arrange(
    mut q: Query<(&Participant, &LatestCutout, &mut ParticipantPlacement), Without<Pinned>>,
    settings: Res<ArrangeSettings>,
    theme: Res<ActiveTheme>,
    mut arranged: ResMut<ArrangedSet>,
) {
    let mut ready: Vec<(u32, Extent, bool)> = q
        .iter()
        .filter_map(|(p, l, pl)| l.envelope.map(|e| (p.id, e, pl.mirrored)))
        .collect();
    ready.sort_by_key(|r| r.0);
    let ids: Vec<u32> = ready.iter().map(|r| r.0).collect();
    let widths: Vec<u32> = ready.iter().map(|r| r.1.right + 1 - r.1.left).collect();
    let same_people =
        ids.len() == arranged.0.len() && ids.iter().zip(&arranged.0).all(|(a, b)| *a == b.0);
    let grown = ids.len() == arranged.0.len()
        && widths
            .iter()
            .zip(&arranged.0)
            .any(|(w, b)| *w as f32 > b.1 as f32 * 1.08);
    if same_people && !grown {
        return;
    }
    let extents: Vec<Extent> = ready.iter().map(|r| r.1).collect();
    let mirrored: Vec<bool> = ready.iter().map(|r| r.2).collect();
    let params = ArrangeParams {
        floor_y: theme.0.floor_y,
        ..settings.0
    };
    let placed = arrange(&extents, &params, &mirrored);
    for (p, _, mut pl) in &mut q {
        if let Some(i) = ids.iter().position(|&id| id == p.id) {
            pl.0 = placed[i];
        }
    }
    arranged.0 = ids.into_iter().zip(widths).collect();
}

/// Starts the capture and segmentation threads of one local participant.
/// `tee`, if given, also receives every cutout as soon as it is ready (the network
/// encoder).
pub fn start_feed(
    spec: &str,
    synthetic: SyntheticParams,
    segment: &SegmentConfig,
    index: usize,
    tee: Option<crate::segment::worker::CutoutTee>,
) -> anyhow::Result<(LocalFeed, String)> {
    let source = open_source(spec, synthetic, 640, 480, 30)?;
    let name = source.info().name;
    let capture = CaptureWorker::spawn(source, &format!("samespace-capture-{index}"))?;
    let pipeline = CutoutPipeline::new(segment.clone());
    let segment = SegmentWorker::spawn_with_tee(
        capture.frames.clone(),
        pipeline,
        &format!("samespace-segment-{index}"),
        tee,
    )?;
    Ok((LocalFeed { capture, segment }, name))
}
