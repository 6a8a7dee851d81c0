//! The physics arena under every game: a rapier2d world with a floor, side walls
//! and a ceiling, one kinematic body per participant (convex silhouette pieces)
//! and dynamic ball-shaped game objects. Tracks contact starts between bodies
//! and objects and gives touched objects the speed of the advancing outline.

use std::collections::{BTreeMap, BTreeSet};

use rapier2d::prelude::*;

use super::{ObjectId, ObjectKind, ObjectState, ParticipantId, TICK_SECONDS};
use crate::world::placement::{SCENE_HEIGHT, SCENE_WIDTH};

/// World units per "metre" for rapier's tolerances (a person is ~4 m... of pixels).
const LENGTH_UNIT: f32 = 100.0;
/// Fastest speed an outline update may impart, in world units per second.
const MAX_PUSH_SPEED: f32 = 2400.0;
/// Outline advances below this (world units per update) are segmentation jitter,
/// not motion: they give no push (rapier still keeps objects out of the body).
const MIN_ADVANCE: f32 = 4.0;
/// Bounce of an object off a moving outline.
const PUSH_RESTITUTION: f32 = 0.5;
/// A body's velocity is zeroed when no update came for this many ticks.
const STALE_TICKS: u64 = 8;
/// Objects this far outside the scene are removed.
const ESCAPE_MARGIN: f32 = 400.0;
/// Bottom of the ceiling, above the top of the scene (meteors appear below it, off screen).
pub(crate) const CEILING_Y: f32 = SCENE_HEIGHT / 2.0 + 120.0;

const TAG_BODY: u128 = 1;
const TAG_OBJECT: u128 = 2;
const TAG_FLOOR: u128 = 3;
const TAG_WALL: u128 = 4;

fn tag(kind: u128, id: u32) -> u128 {
    (kind << 64) | u128::from(id)
}

/// Who a collider belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Body(ParticipantId),
    Object(ObjectId),
    Floor,
    Wall,
}

fn owner_of(user_data: u128) -> Option<Owner> {
    let id = (user_data & u128::from(u64::MAX)) as u32;
    match user_data >> 64 {
        TAG_BODY => Some(Owner::Body(ParticipantId(id))),
        TAG_OBJECT => Some(Owner::Object(ObjectId(id))),
        TAG_FLOOR => Some(Owner::Floor),
        TAG_WALL => Some(Owner::Wall),
        _ => None,
    }
}

/// How to make a game object.
#[derive(Clone, Debug)]
pub(crate) struct ObjectSpec {
    pub kind: ObjectKind,
    pub radius: f32,
    pub position: [f32; 2],
    pub velocity: [f32; 2],
    /// Multiplies the world gravity.
    pub gravity_scale: f32,
    pub restitution: f32,
    pub linear_damping: f32,
    /// Sensors detect touches but are not pushed (stars).
    pub sensor: bool,
    /// Speed cap in world units per second (a balloon never flies like a bullet).
    pub max_speed: f32,
}

impl ObjectSpec {
    /// A solid ball with the given look and feel.
    pub fn ball(kind: ObjectKind, radius: f32, position: [f32; 2], velocity: [f32; 2]) -> Self {
        Self {
            kind,
            radius,
            position,
            velocity,
            gravity_scale: 1.0,
            restitution: 0.6,
            linear_damping: 0.0,
            sensor: false,
            max_speed: MAX_PUSH_SPEED,
        }
    }
}

pub(crate) struct GameObject {
    pub kind: ObjectKind,
    pub radius: f32,
    max_speed: f32,
    body: RigidBodyHandle,
}

struct BodySlot {
    body: RigidBodyHandle,
    colliders: Vec<ColliderHandle>,
    /// Current pieces in world coordinates.
    pieces: Vec<Vec<[f32; 2]>>,
    /// Pieces before the latest update, in world coordinates.
    prev_pieces: Vec<Vec<[f32; 2]>>,
    origin: [f32; 2],
    last_update: Option<u64>,
    /// Seconds between the two latest updates.
    interval: f32,
    /// Updated since the last step: touching objects get the outline's speed.
    fresh: bool,
}

/// What the latest step found.
#[derive(Clone, Debug, Default)]
pub(crate) struct StepContacts {
    /// Body–object pairs that started touching this step, sorted.
    pub body_starts: Vec<(ParticipantId, ObjectId)>,
    /// Objects touching the floor.
    pub floor: BTreeSet<ObjectId>,
}

/// The rapier world and everything in it.
pub(crate) struct Arena {
    world: PhysicsWorld,
    floor_y: f32,
    bodies: BTreeMap<ParticipantId, BodySlot>,
    objects: BTreeMap<ObjectId, GameObject>,
    next_object: u32,
    touching: BTreeSet<(ParticipantId, ObjectId)>,
    net: Option<(ColliderHandle, [f32; 2])>,
    statics: RigidBodyHandle,
    tick: u64,
}

impl Arena {
    /// An empty arena with the floor's top at `floor_y` and `gravity` (units/s², negative is down).
    pub fn new(gravity: f32, floor_y: f32) -> Self {
        let mut world = PhysicsWorld::new();
        world.gravity = Vector::new(0.0, gravity);
        world.integration_parameters.dt = TICK_SECONDS;
        world.integration_parameters.length_unit = LENGTH_UNIT;
        let statics = world.insert_body(RigidBodyBuilder::fixed());
        let half_w = SCENE_WIDTH / 2.0;
        let thick = 100.0;
        let floor = ColliderBuilder::cuboid(SCENE_WIDTH, thick)
            .translation(Vector::new(0.0, floor_y - thick))
            .friction(0.6)
            .user_data(tag(TAG_FLOOR, 0));
        world.insert_collider(floor, Some(statics));
        for sign in [-1.0f32, 1.0] {
            let wall = ColliderBuilder::cuboid(thick, SCENE_HEIGHT * 2.0)
                .translation(Vector::new(sign * (half_w + thick), 0.0))
                .user_data(tag(TAG_WALL, 0));
            world.insert_collider(wall, Some(statics));
        }
        let ceiling = ColliderBuilder::cuboid(SCENE_WIDTH, thick)
            .translation(Vector::new(0.0, CEILING_Y + thick))
            .user_data(tag(TAG_WALL, 1));
        world.insert_collider(ceiling, Some(statics));
        Self {
            world,
            floor_y,
            bodies: BTreeMap::new(),
            objects: BTreeMap::new(),
            next_object: 1,
            touching: BTreeSet::new(),
            net: None,
            statics,
            tick: 0,
        }
    }

    /// Vertical gravity in units/s².
    pub fn gravity(&self) -> f32 {
        self.world.gravity.y
    }

    /// Top of the floor.
    pub fn floor_y(&self) -> f32 {
        self.floor_y
    }

    /// Adds (or replaces) a net at x = 0 from the floor up to `top_y`.
    pub fn set_net(&mut self, top_y: Option<f32>) {
        if let Some((h, _)) = self.net.take() {
            self.world.remove_collider(h);
        }
        if let Some(top) = top_y {
            let half_h = ((top - self.floor_y) / 2.0).max(1.0);
            let net = ColliderBuilder::cuboid(6.0, half_h)
                .translation(Vector::new(0.0, self.floor_y + half_h))
                .restitution(0.3)
                .user_data(tag(TAG_WALL, 2));
            let h = self.world.insert_collider(net, Some(self.statics));
            self.net = Some((h, [0.0, top]));
        }
    }

    /// The net's x and top y, if any.
    pub fn net(&self) -> Option<[f32; 2]> {
        self.net.map(|(_, n)| n)
    }

    /// Creates a body slot for `id` (no colliders until `set_body`).
    pub fn add_participant(&mut self, id: ParticipantId) {
        if self.bodies.contains_key(&id) {
            return;
        }
        let body = self.world.insert_body(
            RigidBodyBuilder::kinematic_velocity_based().user_data(tag(TAG_BODY, id.0)),
        );
        self.bodies.insert(
            id,
            BodySlot {
                body,
                colliders: Vec::new(),
                pieces: Vec::new(),
                prev_pieces: Vec::new(),
                origin: [0.0, 0.0],
                last_update: None,
                interval: TICK_SECONDS * 2.0,
                fresh: false,
            },
        );
    }

    /// Removes `id`'s body and colliders.
    pub fn remove_participant(&mut self, id: ParticipantId) {
        if let Some(slot) = self.bodies.remove(&id) {
            self.world.remove_body(slot.body);
        }
        self.touching.retain(|(p, _)| *p != id);
    }

    /// A point just above the top of `id`'s outline, centred on its body.
    pub fn label_anchor(&self, id: ParticipantId) -> Option<[f32; 2]> {
        let slot = self.bodies.get(&id)?;
        let top = slot
            .pieces
            .iter()
            .flatten()
            .map(|p| p[1])
            .fold(f32::MIN, f32::max);
        let centre = self.body_centre(id)?;
        Some([centre[0], top + 24.0])
    }

    /// Area-weighted centre of `id`'s pieces, if it has any.
    pub fn body_centre(&self, id: ParticipantId) -> Option<[f32; 2]> {
        let slot = self.bodies.get(&id)?;
        let (mut ax, mut ay, mut total) = (0.0f32, 0.0f32, 0.0f32);
        for piece in &slot.pieces {
            let (c, a) = centroid(piece);
            ax += c[0] * a;
            ay += c[1] * a;
            total += a;
        }
        (total > 0.0).then(|| [ax / total, ay / total])
    }

    /// Replaces `id`'s outline: `pieces` are convex polygons in world coordinates and
    /// `origin` the anchor whose motion is the body's rigid velocity (its placement).
    pub fn set_body(&mut self, id: ParticipantId, origin: [f32; 2], pieces: &[Vec<[f32; 2]>]) {
        let tick = self.tick;
        let Some(slot) = self.bodies.get_mut(&id) else {
            return;
        };
        let interval = match slot.last_update {
            Some(t) if tick > t => (tick - t) as f32 * TICK_SECONDS,
            Some(_) => slot.interval,
            None => TICK_SECONDS * 2.0,
        };
        let linvel = if slot.last_update.is_some() {
            let v = [
                (origin[0] - slot.origin[0]) / interval,
                (origin[1] - slot.origin[1]) / interval,
            ];
            clamp_speed(v, MAX_PUSH_SPEED)
        } else {
            [0.0, 0.0]
        };
        if let Some(rb) = self.world.bodies.get_mut(slot.body) {
            rb.set_translation(Vector::new(origin[0], origin[1]), true);
            rb.set_linvel(Vector::new(linvel[0], linvel[1]), true);
        }

        // Pieces whose hull cannot be built (degenerate, collinear) are dropped.
        let (kept, shapes): (Vec<Vec<[f32; 2]>>, Vec<SharedShape>) = pieces
            .iter()
            .filter_map(|piece| {
                let hull = convex_hull(piece)?;
                let local: Vec<Vector> = hull
                    .iter()
                    .map(|p| Vector::new(p[0] - origin[0], p[1] - origin[1]))
                    .collect();
                SharedShape::convex_polyline(local).map(|shape| (hull, shape))
            })
            .unzip();
        // Reuse collider handles where possible; add or remove the difference.
        for (k, shape) in shapes.iter().enumerate() {
            if let Some(&h) = slot.colliders.get(k) {
                if let Some(c) = self.world.colliders.get_mut(h) {
                    c.set_shape(shape.clone());
                }
            } else {
                let c = ColliderBuilder::new(shape.clone())
                    .friction(0.5)
                    .restitution(0.4)
                    .density(0.0)
                    .user_data(tag(TAG_BODY, id.0));
                let h = self.world.insert_collider(c, Some(slot.body));
                slot.colliders.push(h);
            }
        }
        while slot.colliders.len() > shapes.len() {
            if let Some(h) = slot.colliders.pop() {
                self.world.remove_collider(h);
            }
        }

        slot.prev_pieces = std::mem::take(&mut slot.pieces);
        if slot.last_update.is_none() {
            slot.prev_pieces = kept.clone();
        }
        slot.pieces = kept;
        slot.origin = origin;
        slot.interval = interval;
        slot.last_update = Some(tick);
        slot.fresh = true;
    }

    /// Spawns a game object and returns its id.
    pub fn spawn(&mut self, spec: &ObjectSpec) -> ObjectId {
        let id = ObjectId(self.next_object);
        self.next_object += 1;
        let rb = RigidBodyBuilder::dynamic()
            .translation(Vector::new(spec.position[0], spec.position[1]))
            .linvel(Vector::new(spec.velocity[0], spec.velocity[1]))
            .gravity_scale(spec.gravity_scale)
            .linear_damping(spec.linear_damping)
            .angular_damping(0.5)
            .ccd_enabled(!spec.sensor)
            .user_data(tag(TAG_OBJECT, id.0));
        let rb = if spec.sensor {
            rb.additional_mass(1.0)
        } else {
            rb
        };
        let body = self.world.insert_body(rb);
        let collider = ColliderBuilder::ball(spec.radius)
            .restitution(spec.restitution)
            .friction(0.4)
            .density(0.001)
            .sensor(spec.sensor)
            .user_data(tag(TAG_OBJECT, id.0));
        self.world.insert_collider(collider, Some(body));
        self.objects.insert(
            id,
            GameObject {
                kind: spec.kind,
                radius: spec.radius,
                max_speed: spec.max_speed,
                body,
            },
        );
        id
    }

    /// Removes an object (no-op when already gone).
    pub fn despawn(&mut self, id: ObjectId) {
        if let Some(obj) = self.objects.remove(&id) {
            self.world.remove_body(obj.body);
        }
        self.touching.retain(|(_, o)| *o != id);
    }

    /// Removes every object.
    pub fn clear_objects(&mut self) {
        let ids: Vec<ObjectId> = self.objects.keys().copied().collect();
        for id in ids {
            self.despawn(id);
        }
    }

    /// Whether `id` still exists.
    #[cfg(test)]
    pub fn has(&self, id: ObjectId) -> bool {
        self.objects.contains_key(&id)
    }

    /// The object's kind.
    pub fn kind(&self, id: ObjectId) -> Option<ObjectKind> {
        self.objects.get(&id).map(|o| o.kind)
    }

    /// Ids of the objects of `kind`, ascending.
    pub fn ids_of(&self, kind: ObjectKind) -> Vec<ObjectId> {
        self.objects
            .iter()
            .filter(|(_, o)| o.kind == kind)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Number of objects.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// Snapshot of one object.
    pub fn object_state(&self, id: ObjectId) -> Option<ObjectState> {
        let obj = self.objects.get(&id)?;
        let rb = self.world.bodies.get(obj.body)?;
        let t = rb.translation();
        let v = rb.linvel();
        Some(ObjectState {
            id,
            kind: obj.kind,
            radius: obj.radius,
            position: [t.x, t.y],
            angle: rb.rotation().angle(),
            velocity: [v.x, v.y],
            angular_velocity: rb.angvel(),
        })
    }

    /// Snapshots of every object, ordered by id.
    pub fn object_states(&self) -> Vec<ObjectState> {
        self.objects
            .keys()
            .filter_map(|&id| self.object_state(id))
            .collect()
    }

    /// Advances one tick: stale bodies stop, rapier steps, then contacts are read,
    /// outline pushes applied and escaped objects removed.
    pub fn step(&mut self) -> StepContacts {
        let tick = self.tick;
        for slot in self.bodies.values() {
            let stale = slot
                .last_update
                .is_none_or(|t| tick.saturating_sub(t) > STALE_TICKS);
            if stale && let Some(rb) = self.world.bodies.get_mut(slot.body) {
                rb.set_linvel(Vector::ZERO, false);
            }
        }
        self.world.step();
        self.tick += 1;

        let mut now: BTreeSet<(ParticipantId, ObjectId)> = BTreeSet::new();
        let mut floor = BTreeSet::new();
        let mut note = |a: Option<Owner>, b: Option<Owner>| match (a, b) {
            (Some(Owner::Body(p)), Some(Owner::Object(o)))
            | (Some(Owner::Object(o)), Some(Owner::Body(p))) => {
                now.insert((p, o));
            }
            (Some(Owner::Floor), Some(Owner::Object(o)))
            | (Some(Owner::Object(o)), Some(Owner::Floor)) => {
                floor.insert(o);
            }
            _ => {}
        };
        let colliders = &self.world.colliders;
        let owner = |h: ColliderHandle| colliders.get(h).and_then(|c| owner_of(c.user_data));
        for pair in self.world.narrow_phase.contact_pairs() {
            if pair.has_any_active_contact() {
                note(owner(pair.collider1), owner(pair.collider2));
            }
        }
        for (h1, h2, hit) in self.world.narrow_phase.intersection_pairs() {
            if hit {
                note(owner(h1), owner(h2));
            }
        }

        self.push_touching(&now);
        self.cap_speeds();
        for slot in self.bodies.values_mut() {
            slot.fresh = false;
        }

        let body_starts: Vec<(ParticipantId, ObjectId)> =
            now.difference(&self.touching).copied().collect();
        self.touching = now;
        self.remove_escaped();
        StepContacts { body_starts, floor }
    }

    /// Gives every object touched by a freshly updated outline at least the speed at
    /// which that outline's boundary advanced towards it.
    fn push_touching(&mut self, touching: &BTreeSet<(ParticipantId, ObjectId)>) {
        for &(pid, oid) in touching {
            let (Some(slot), Some(obj)) = (self.bodies.get(&pid), self.objects.get(&oid)) else {
                continue;
            };
            if !slot.fresh || slot.pieces.is_empty() {
                continue;
            }
            let Some(rb) = self.world.bodies.get(obj.body) else {
                continue;
            };
            if rb
                .colliders()
                .first()
                .and_then(|&h| self.world.colliders.get(h))
                .is_some_and(|c| c.is_sensor())
            {
                continue;
            }
            let c = rb.translation();
            let centre = [c.x, c.y];
            let Some((n, advance)) = outline_push(&slot.prev_pieces, &slot.pieces, centre) else {
                continue;
            };
            if advance < MIN_ADVANCE {
                continue;
            }
            let speed = (advance / slot.interval.max(TICK_SECONDS)).min(MAX_PUSH_SPEED);
            let v = rb.linvel();
            let vn = v.x * n[0] + v.y * n[1];
            let target = speed + PUSH_RESTITUTION * (speed - vn).max(0.0);
            if vn < target {
                let dv = target - vn;
                let nv = Vector::new(v.x + dv * n[0], v.y + dv * n[1]);
                let body = obj.body;
                if let Some(rb) = self.world.bodies.get_mut(body) {
                    rb.set_linvel(nv, true);
                }
            }
        }
    }

    fn cap_speeds(&mut self) {
        for obj in self.objects.values() {
            if let Some(rb) = self.world.bodies.get_mut(obj.body) {
                let v = rb.linvel();
                let capped = clamp_speed([v.x, v.y], obj.max_speed);
                if capped != [v.x, v.y] {
                    rb.set_linvel(Vector::new(capped[0], capped[1]), true);
                }
            }
        }
    }

    fn remove_escaped(&mut self) {
        let half_w = SCENE_WIDTH / 2.0 + ESCAPE_MARGIN;
        let low = self.floor_y - ESCAPE_MARGIN;
        let high = SCENE_HEIGHT / 2.0 + ESCAPE_MARGIN * 2.0;
        let gone: Vec<ObjectId> = self
            .objects
            .iter()
            .filter(|(_, o)| {
                self.world.bodies.get(o.body).is_none_or(|rb| {
                    let t = rb.translation();
                    !(t.x.abs() < half_w && t.y > low && t.y < high)
                })
            })
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.despawn(id);
        }
    }
}

fn clamp_speed(v: [f32; 2], max: f32) -> [f32; 2] {
    let s = (v[0] * v[0] + v[1] * v[1]).sqrt();
    if s > max && s > 0.0 {
        [v[0] / s * max, v[1] / s * max]
    } else {
        v
    }
}

/// Counter-clockwise convex hull (Andrew's monotone chain) without collinear or
/// duplicate vertices; `None` for non-finite input or a hull thinner than
/// 0.01 unit² (parry's own hull panics on such degenerate clouds).
pub(crate) fn convex_hull(points: &[[f32; 2]]) -> Option<Vec<[f32; 2]>> {
    if points.len() < 3 || !points.iter().flatten().all(|v| v.is_finite()) {
        return None;
    }
    let mut pts = points.to_vec();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup_by(|a, b| (a[0] - b[0]).abs() < 1e-4 && (a[1] - b[1]).abs() < 1e-4);
    if pts.len() < 3 {
        return None;
    }
    let cross = |o: [f32; 2], a: [f32; 2], b: [f32; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f32; 2]> = Vec::with_capacity(pts.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f32; 2]>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    if hull.len() < 3 || centroid(&hull).1 < 0.01 {
        return None;
    }
    Some(hull)
}

/// Centroid and area of a polygon (area is absolute).
pub(crate) fn centroid(poly: &[[f32; 2]]) -> ([f32; 2], f32) {
    let n = poly.len();
    let (mut cx, mut cy, mut a2) = (0.0f32, 0.0f32, 0.0f32);
    for i in 0..n {
        let [x0, y0] = poly[i];
        let [x1, y1] = poly[(i + 1) % n];
        let cross = x0 * y1 - x1 * y0;
        a2 += cross;
        cx += (x0 + x1) * cross;
        cy += (y0 + y1) * cross;
    }
    if a2.abs() < 1e-6 {
        let k = n.max(1) as f32;
        let sx = poly.iter().map(|p| p[0]).sum::<f32>() / k;
        let sy = poly.iter().map(|p| p[1]).sum::<f32>() / k;
        return ([sx, sy], 0.0);
    }
    ([cx / (3.0 * a2), cy / (3.0 * a2)], (a2 / 2.0).abs())
}

/// Whether `p` is inside the counter-clockwise convex polygon.
fn inside_convex(poly: &[[f32; 2]], p: [f32; 2]) -> bool {
    let n = poly.len();
    n >= 3
        && (0..n).all(|i| {
            let a = poly[i];
            let b = poly[(i + 1) % n];
            (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0.0
        })
}

/// Nearest point on a polygon's boundary to `p`.
fn nearest_on_polygon(poly: &[[f32; 2]], p: [f32; 2]) -> ([f32; 2], f32) {
    let n = poly.len();
    let mut best = (poly.first().copied().unwrap_or(p), f32::MAX);
    for i in 0..n {
        let a = poly[i];
        let b = poly[(i + 1) % n];
        let (abx, aby) = (b[0] - a[0], b[1] - a[1]);
        let len2 = abx * abx + aby * aby;
        let t = if len2 > 0.0 {
            (((p[0] - a[0]) * abx + (p[1] - a[1]) * aby) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let q = [a[0] + t * abx, a[1] + t * aby];
        let d2 = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
        if d2 < best.1 {
            best = (q, d2);
        }
    }
    best
}

/// Nearest point on the union of convex `pieces` to a point outside them all.
fn nearest_on_pieces(pieces: &[Vec<[f32; 2]>], p: [f32; 2]) -> Option<([f32; 2], f32)> {
    pieces
        .iter()
        .map(|piece| nearest_on_polygon(piece, p))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(q, d2)| (q, d2.sqrt()))
}

/// How an outline that moved from `prev` to `now` pushes an object centred at
/// `centre`: the unit direction of the push and how far the boundary advanced.
///
/// Outside the new outline, the push is along the normal at the nearest boundary
/// point, as far as that point lies outside the old outline. When the outline
/// swept over the centre (a fast limb), the push points away from the old
/// outline, as far as the centre was from it, so a swipe never knocks an object
/// backwards. `None` when there is nothing to push (the object was already inside).
fn outline_push(
    prev: &[Vec<[f32; 2]>],
    now: &[Vec<[f32; 2]>],
    centre: [f32; 2],
) -> Option<([f32; 2], f32)> {
    if now.iter().any(|p| inside_convex(p, centre)) {
        if prev.iter().any(|p| inside_convex(p, centre)) {
            return None;
        }
        let (q, d) = nearest_on_pieces(prev, centre)?;
        if d < 1e-3 {
            return None;
        }
        return Some(([(centre[0] - q[0]) / d, (centre[1] - q[1]) / d], d));
    }
    let (q, d) = nearest_on_pieces(now, centre)?;
    if d < 1e-3 {
        return None;
    }
    let n = [(centre[0] - q[0]) / d, (centre[1] - q[1]) / d];
    Some((n, distance_outside(prev, q)))
}

/// Distance from `p` to the union of convex `pieces` (0 inside).
fn distance_outside(pieces: &[Vec<[f32; 2]>], p: [f32; 2]) -> f32 {
    if pieces.is_empty() {
        return 0.0;
    }
    if pieces.iter().any(|piece| inside_convex(piece, p)) {
        return 0.0;
    }
    pieces
        .iter()
        .map(|piece| nearest_on_polygon(piece, p).1)
        .fold(f32::MAX, f32::min)
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(cx: f32, cy: f32, h: f32) -> Vec<[f32; 2]> {
        vec![
            [cx - h, cy - h],
            [cx + h, cy - h],
            [cx + h, cy + h],
            [cx - h, cy + h],
        ]
    }

    #[test]
    fn the_hull_is_counter_clockwise_and_rejects_degenerate_clouds() {
        let h = convex_hull(&[[0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [1.0, 0.5], [0.0, 2.0]])
            .expect("a square");
        assert_eq!(h.len(), 4);
        assert!(centroid(&h).1 > 3.99);
        assert!(
            crate::bodies::contour::signed_area(&h) > 3.99,
            "counter-clockwise"
        );
        assert!(convex_hull(&[[1.0, 1.0]; 3]).is_none());
        assert!(convex_hull(&[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]).is_none());
        assert!(convex_hull(&[[0.0, 0.0], [f32::NAN, 1.0], [1.0, 0.0]]).is_none());
    }

    #[test]
    fn distance_outside_is_zero_inside_and_euclidean_outside() {
        let pieces = vec![square(0.0, 0.0, 10.0)];
        assert_eq!(distance_outside(&pieces, [1.0, 2.0]), 0.0);
        assert!((distance_outside(&pieces, [15.0, 0.0]) - 5.0).abs() < 1e-4);
    }

    #[test]
    fn an_advancing_outline_pushes_along_its_normal_by_its_advance() {
        let prev = vec![square(0.0, 0.0, 10.0)];
        let now = vec![square(0.0, 5.0, 10.0)];
        let (n, advance) = outline_push(&prev, &now, [0.0, 30.0]).expect("outside");
        assert!((n[1] - 1.0).abs() < 1e-4);
        assert!((advance - 5.0).abs() < 1e-4);
        // Receding: no advance.
        let (_, advance) = outline_push(&now, &prev, [0.0, 30.0]).expect("outside");
        assert_eq!(advance, 0.0);
    }

    #[test]
    fn an_outline_that_swept_over_the_centre_pushes_forwards() {
        // A thin bar jumped from left of the centre to just past it.
        let prev = vec![vec![
            [-40.0, -50.0],
            [-30.0, -50.0],
            [-30.0, 50.0],
            [-40.0, 50.0],
        ]];
        let now = vec![vec![[-5.0, -50.0], [5.0, -50.0], [5.0, 50.0], [-5.0, 50.0]]];
        let (n, advance) = outline_push(&prev, &now, [2.0, 0.0]).expect("swept");
        assert!(n[0] > 0.99, "{n:?}");
        assert!((advance - 32.0).abs() < 1e-3);
    }

    fn disc(cx: f32, cy: f32, r: f32) -> Vec<[f32; 2]> {
        (0..16)
            .map(|i| {
                let a = i as f32 / 16.0 * std::f32::consts::TAU;
                [cx + r * a.cos(), cy + r * a.sin()]
            })
            .collect()
    }

    /// A bar of `len` x 30 from `pivot` at `angle` (radians, counter-clockwise from +x).
    fn arm(pivot: [f32; 2], angle: f32, len: f32) -> Vec<[f32; 2]> {
        let (c, s) = (angle.cos(), angle.sin());
        let (nx, ny) = (-s * 15.0, c * 15.0);
        let tip = [pivot[0] + c * len, pivot[1] + s * len];
        vec![
            [pivot[0] - nx, pivot[1] - ny],
            [tip[0] - nx, tip[1] - ny],
            [tip[0] + nx, tip[1] + ny],
            [pivot[0] + nx, pivot[1] + ny],
        ]
    }

    fn speed(arena: &Arena, id: ObjectId) -> f32 {
        let s = arena.object_state(id).expect("ball exists");
        (s.velocity[0].powi(2) + s.velocity[1].powi(2)).sqrt()
    }

    #[test]
    fn a_disc_moving_into_a_ball_deflects_it() {
        let mut arena = Arena::new(0.0, -300.0);
        let p = ParticipantId(1);
        arena.add_participant(p);
        let ball = arena.spawn(&ObjectSpec::ball(
            ObjectKind::Ball,
            40.0,
            [0.0, 0.0],
            [0.0, 0.0],
        ));
        let mut contacts = 0;
        for tick in 0..30 {
            // A disc body coming from the left at 600 units/s, updated at 30 Hz.
            if tick % 2 == 0 {
                let x = -200.0 + 600.0 * tick as f32 * TICK_SECONDS;
                arena.set_body(p, [x, -60.0], &[disc(x, 0.0, 60.0)]);
            }
            contacts += arena.step().body_starts.len();
        }
        let s = arena.object_state(ball).expect("ball exists");
        assert!(contacts >= 1);
        assert!(s.velocity[0] > 300.0, "pushed along: {:?}", s.velocity);
        assert!(s.position[0] > 50.0, "moved away: {:?}", s.position);
    }

    /// Sweeps an arm at `omega` rad/s into a floating ball; returns the ball's top speed.
    fn sweep(omega: f32) -> f32 {
        let mut arena = Arena::new(0.0, -300.0);
        let p = ParticipantId(1);
        arena.add_participant(p);
        let pivot = [0.0, 0.0];
        let ball = arena.spawn(&ObjectSpec::ball(
            ObjectKind::Ball,
            40.0,
            [150.0 * (-0.3f32).cos(), 150.0 * (-0.3f32).sin()],
            [0.0, 0.0],
        ));
        let start = -std::f32::consts::FRAC_PI_2 - 0.2;
        let mut top = 0.0f32;
        let ticks = ((1.8 / omega) / TICK_SECONDS) as u32 + 30;
        for tick in 0..ticks {
            if tick % 2 == 0 {
                let angle = (start + omega * tick as f32 * TICK_SECONDS).min(0.9);
                arena.set_body(p, pivot, &[arm(pivot, angle, 220.0)]);
            }
            arena.step();
            if arena.has(ball) {
                top = top.max(speed(&arena, ball));
            }
        }
        top
    }

    #[test]
    fn a_fast_sweeping_arm_hits_harder_than_a_slow_one() {
        let slow = sweep(1.5);
        let fast = sweep(8.0);
        assert!(slow > 50.0, "even a slow arm moves the ball: {slow}");
        assert!(fast > slow * 2.0, "fast {fast} vs slow {slow}");
    }

    #[test]
    fn a_fast_thin_bar_never_knocks_a_ball_backwards() {
        for offset in 0..6 {
            let mut arena = Arena::new(0.0, -300.0);
            let p = ParticipantId(1);
            arena.add_participant(p);
            let ball = arena.spawn(&ObjectSpec::ball(
                ObjectKind::Ball,
                40.0,
                [0.0, 0.0],
                [0.0, 0.0],
            ));
            let mut touched = false;
            let (mut lowest, mut highest) = (0.0f32, 0.0f32);
            for tick in 0..14 {
                if tick % 2 == 0 {
                    // 30 units thick, 1800 units/s: 60 units per camera frame.
                    let x = -200.0 + offset as f32 * 10.0 + 1800.0 * tick as f32 * TICK_SECONDS;
                    arena.set_body(
                        p,
                        [x, -300.0],
                        &[vec![
                            [x - 15.0, -150.0],
                            [x + 15.0, -150.0],
                            [x + 15.0, 150.0],
                            [x - 15.0, 150.0],
                        ]],
                    );
                }
                touched |= !arena.step().body_starts.is_empty();
                let vx = arena.object_state(ball).expect("ball exists").velocity[0];
                lowest = lowest.min(vx);
                highest = highest.max(vx);
            }
            assert!(touched, "offset {offset}: the bar met the ball");
            assert!(
                lowest > -1.0,
                "offset {offset}: knocked backwards at {lowest}"
            );
            assert!(highest > 1000.0, "offset {offset}: only {highest}");
        }
    }

    #[test]
    fn outline_jitter_does_not_launch_a_resting_ball() {
        let mut arena = Arena::new(-900.0, -300.0);
        let p = ParticipantId(1);
        arena.add_participant(p);
        let ball = arena.spawn(&ObjectSpec {
            restitution: 0.0,
            ..ObjectSpec::ball(ObjectKind::Balloon, 40.0, [0.0, -55.0], [0.0, 0.0])
        });
        let mut top = 0.0f32;
        for tick in 0..180 {
            if tick % 2 == 0 {
                // Segmentation noise: the top edge wobbles by ±1.5 units.
                let wobble = if tick % 4 == 0 { 1.5 } else { -1.5 };
                arena.set_body(p, [0.0, -300.0], &[square(0.0, -200.0 + wobble, 100.0)]);
            }
            arena.step();
            if tick > 30 {
                top = top.max(speed(&arena, ball));
            }
        }
        assert!(top < 60.0, "jitter launched the ball at {top}");
    }

    #[test]
    fn a_ball_resting_on_a_body_is_one_contact_start() {
        let mut arena = Arena::new(-900.0, -300.0);
        let p = ParticipantId(1);
        arena.add_participant(p);
        arena.set_body(p, [0.0, -300.0], &[square(0.0, -200.0, 100.0)]);
        arena.spawn(&ObjectSpec {
            restitution: 0.0,
            ..ObjectSpec::ball(ObjectKind::Ball, 30.0, [0.0, -40.0], [0.0, 0.0])
        });
        let mut starts = 0;
        for tick in 0..120 {
            if tick % 2 == 0 {
                // Same outline every camera frame: rebuilding shapes must not re-count.
                arena.set_body(p, [0.0, -300.0], &[square(0.0, -200.0, 100.0)]);
            }
            starts += arena.step().body_starts.len();
        }
        assert_eq!(starts, 1);
    }

    #[test]
    fn a_ball_dropped_on_the_floor_comes_to_rest_on_it() {
        let mut arena = Arena::new(-900.0, -300.0);
        let id = arena.spawn(&ObjectSpec::ball(
            ObjectKind::Ball,
            40.0,
            [0.0, 0.0],
            [0.0, 0.0],
        ));
        let mut touched = false;
        for _ in 0..240 {
            touched |= arena.step().floor.contains(&id);
        }
        let s = arena.object_state(id).expect("still there");
        assert!(touched);
        assert!((s.position[1] - (-260.0)).abs() < 5.0, "{:?}", s.position);
    }
}
