//! What the scene draws around people, in the world itself (so the window, snapshots
//! and recordings all show it): words as sprites ([`SceneText`], painted by
//! [`super::text`]), a name tag above each person (with what a game adds, such as a
//! score: [`NameTagDetail`]), and a soft contact shadow on the floor under them.

use bevy::prelude::*;
use bevy::sprite::Anchor;

use super::arrange::person_box;
use super::depth;
use super::grounding::{contact_shadow, name_tag_anchor};
use super::participant::{CutoutTexture, LatestCutout, Participant, ParticipantPlacement};
use super::placement::SCENE_WIDTH;
use super::scene::SceneTarget;
use super::text::{TextStyle, paint};
use super::texture::rgba_image;

/// Words drawn in the scene: a sprite whose texture is painted from the text
/// whenever the text or its style changes. Set `Sprite`'s anchor and the
/// `Transform` to place it; sizes are in world units.
#[derive(Component, Debug, Clone, PartialEq)]
#[require(Sprite)]
pub struct SceneText {
    /// The words (lines separated by `\n`; empty draws nothing).
    pub text: String,
    /// How they look (`size` in world units).
    pub style: TextStyle,
}

impl SceneText {
    /// Text in a style.
    pub fn new(text: impl Into<String>, style: TextStyle) -> Self {
        Self {
            text: text.into(),
            style,
        }
    }

    /// Changes the words, touching the component only when they differ (so the
    /// texture is painted again only then).
    pub fn set(this: &mut Mut<Self>, text: &str) {
        if this.text != text {
            this.text = text.to_owned();
        }
    }
}

/// What a game (or anything else) shows after a person's name, e.g. "12 ♥♥".
#[derive(Component, Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTagDetail(pub String);

/// The name tag of a participant (a separate entity: the participant's transform is
/// scaled to its picture).
#[derive(Component, Debug, Clone, Copy)]
pub struct NameTag {
    /// The participant.
    pub owner: Entity,
}

/// The contact shadow of a participant.
#[derive(Component, Debug, Clone, Copy)]
pub struct ContactShadow {
    /// The participant.
    pub owner: Entity,
}

/// Marks a participant whose tag and shadow exist.
#[derive(Component, Debug, Clone, Copy)]
pub struct Adorned;

/// The soft ellipse texture shadows are drawn with.
#[derive(Resource, Debug, Clone)]
pub struct ShadowTexture(pub Handle<Image>);

/// How dark a shadow is at its centre (alpha).
const SHADOW_ALPHA: f32 = 0.5;

/// The style of name tags: white on a dark rounded box.
pub fn name_tag_style() -> TextStyle {
    TextStyle {
        size: 20.0,
        background: Some([10, 12, 20, 205]),
        shadow: false,
        ..TextStyle::default()
    }
}

/// A soft elliptical shadow texture: dark in the middle, fading to nothing at the
/// rim (alpha falls as (1 - r²)²).
pub fn shadow_image(size: u32) -> Image {
    let mut rgba = vec![0u8; (size * size * 4) as usize];
    let c = size as f32 / 2.0;
    for y in 0..size {
        for x in 0..size {
            let (dx, dy) = ((x as f32 + 0.5 - c) / c, (y as f32 + 0.5 - c) / c);
            let r2 = (dx * dx + dy * dy).min(1.0);
            let a = (1.0 - r2).powi(2) * SHADOW_ALPHA;
            rgba[((y * size + x) * 4 + 3) as usize] = (a * 255.0).round() as u8;
        }
    }
    rgba_image(size, size, rgba)
}

/// Creates the shadow texture.
pub fn init_shadow_texture(mut commands: Commands, mut images: ResMut<Assets<Image>>) {
    commands.insert_resource(ShadowTexture(images.add(shadow_image(64))));
}

/// Scene pixels per world unit: text is painted at the scene image's resolution.
fn pixels_per_unit(target: Option<&SceneTarget>) -> f32 {
    target
        .map_or(1.0, |t| t.width as f32 / SCENE_WIDTH)
        .max(0.25)
}

/// Paints each changed [`SceneText`] into its sprite's texture.
pub fn paint_scene_texts(
    mut q: Query<(&SceneText, &mut Sprite), Changed<SceneText>>,
    mut images: ResMut<Assets<Image>>,
    target: Option<Res<SceneTarget>>,
) {
    let ppu = pixels_per_unit(target.as_deref());
    for (text, mut sprite) in &mut q {
        let style = TextStyle {
            size: text.style.size * ppu,
            ..text.style.clone()
        };
        let painted = paint(&text.text, &style);
        let image = rgba_image(painted.width, painted.height, painted.rgba);
        // Replace the old texture in place when there is one (no asset per change;
        // never the default texture, which every plain sprite shares).
        let own = sprite.image != Handle::default() && images.contains(&sprite.image);
        if own {
            if let Some(mut old) = images.get_mut(&sprite.image) {
                *old = image;
            }
        } else {
            sprite.image = images.add(image);
        }
        sprite.custom_size = Some(Vec2::new(
            painted.width as f32 / ppu,
            painted.height as f32 / ppu,
        ));
        sprite.color = if text.text.is_empty() {
            Color::NONE
        } else {
            Color::WHITE
        };
    }
}

/// Gives each new participant a name tag and a contact shadow.
pub fn adorn_participants(
    mut commands: Commands,
    people: Query<(Entity, &Participant), Without<Adorned>>,
    shadow: Option<Res<ShadowTexture>>,
) {
    let Some(shadow) = shadow else { return };
    for (owner, p) in &people {
        commands.entity(owner).insert(Adorned);
        commands.spawn((
            Name::new(format!("name tag {}", p.name)),
            NameTag { owner },
            SceneText::new(p.name.clone(), name_tag_style()),
            Anchor::BOTTOM_CENTER,
            Transform::from_xyz(0.0, 0.0, depth::NAME_TAGS),
            Visibility::Hidden,
        ));
        commands.spawn((
            Name::new(format!("contact shadow {}", p.name)),
            ContactShadow { owner },
            Sprite {
                image: shadow.0.clone(),
                color: Color::BLACK,
                ..default()
            },
            Transform::from_xyz(0.0, 0.0, depth::SHADOW),
            Visibility::Hidden,
        ));
    }
}

/// The parts of a participant that tags and shadows follow.
type Followed<'a> = (
    &'a Participant,
    &'a ParticipantPlacement,
    &'a LatestCutout,
    &'a Visibility,
    Option<&'a NameTagDetail>,
);

/// A name tag as `place_adornments` moves it.
type TagParts<'a> = (
    Entity,
    &'a NameTag,
    &'a mut SceneText,
    &'a Sprite,
    &'a mut Transform,
    &'a mut Visibility,
);

/// A contact shadow as `place_adornments` moves it.
type ShadowParts<'a> = (
    Entity,
    &'a ContactShadow,
    &'a mut Sprite,
    &'a mut Transform,
    &'a mut Visibility,
);

/// Neither a participant nor a name tag (a shadow's query stays apart from both).
type NotPersonNorTag = (Without<Participant>, Without<NameTag>, Without<SceneText>);

/// Keeps tags above heads and shadows under people; removes those whose person left.
pub fn place_adornments(
    mut commands: Commands,
    people: Query<Followed, With<CutoutTexture>>,
    mut tags: Query<TagParts, (Without<Participant>, Without<ContactShadow>)>,
    mut shadows: Query<ShadowParts, NotPersonNorTag>,
) {
    // The person's box (left, right, top) and lowest point, when they are on screen.
    let body = |owner: Entity| {
        let (p, placement, latest, vis, detail) = people.get(owner).ok()?;
        let extent = latest.extent.filter(|_| *vis != Visibility::Hidden)?;
        let (left, right, top) = person_box(placement, &extent);
        let (fw, fh) = (extent.frame_w, extent.frame_h);
        let bottom = placement.cutout_to_world(0.0, (extent.bottom + 1) as f32, fw, fh)[1];
        let crown = placement.cutout_to_world(extent.crown, 0.0, fw, fh)[0];
        let label = match detail.filter(|d| !d.0.is_empty()) {
            Some(d) => format!("{}  {}", p.name, d.0),
            None => p.name.clone(),
        };
        Some((left, right, top, bottom, crown, label))
    };
    for (e, tag, mut text, sprite, mut t, mut vis) in &mut tags {
        if people.get(tag.owner).is_err() {
            commands.entity(e).despawn();
            continue;
        }
        let Some((_, _, top, _, crown, label)) = body(tag.owner) else {
            *vis = Visibility::Hidden;
            continue;
        };
        SceneText::set(&mut text, &label);
        let width = sprite.custom_size.map_or(0.0, |s| s.x);
        let [x, y] = name_tag_anchor(crown, top, width);
        t.translation = Vec3::new(x, y, depth::NAME_TAGS);
        *vis = Visibility::Inherited;
    }
    for (e, shadow, mut sprite, mut t, mut vis) in &mut shadows {
        if people.get(shadow.owner).is_err() {
            commands.entity(e).despawn();
            continue;
        }
        let Some((left, right, _, bottom, _, _)) = body(shadow.owner) else {
            *vis = Visibility::Hidden;
            continue;
        };
        let shape = contact_shadow(left, right, bottom);
        sprite.custom_size = Some(Vec2::from_array(shape.size));
        t.translation = Vec3::new(shape.centre[0], shape.centre[1], depth::SHADOW);
        *vis = Visibility::Inherited;
    }
}
