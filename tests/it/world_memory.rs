//! Participants' textures are overwritten in place: 10,000 cutouts later there is
//! still one image per participant and memory has not grown.

use std::sync::Arc;
use std::time::Instant;

use bevy::prelude::*;
use samespace::segment::Cutout;
use samespace::world::material::CutoutMaterial;
use samespace::world::participant::{
    CutoutInbox, CutoutTexture, LatestCutout, Participant, UploadStats, drain_cutouts,
    participant_bundle,
};
use samespace::world::placement::Placement;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("rss pages");
    pages * 4096
}

fn cutout(seq: u64) -> Arc<Cutout> {
    let (w, h) = (64u32, 48u32);
    let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i as u64 + seq) as u8).collect();
    let mask: Vec<u8> = (0..w * h)
        .map(|i| {
            if (i % w) > w / 3 && (i % w) < 2 * w / 3 {
                255
            } else {
                0
            }
        })
        .collect();
    Arc::new(Cutout::from_rgb_and_mask(
        seq,
        Instant::now(),
        w,
        h,
        &rgb,
        mask,
    ))
}

#[test]
fn ten_thousand_cutouts_reuse_one_texture_and_memory_stays_flat() {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default()))
        .init_asset::<Image>()
        .init_asset::<Mesh>()
        .init_asset::<CutoutMaterial>()
        .init_resource::<UploadStats>()
        .add_systems(Update, drain_cutouts);
    let (tx, rx) = crossbeam_channel::bounded(2);
    let world = app.world_mut();
    let quad = world
        .resource_mut::<Assets<Mesh>>()
        .add(Rectangle::new(1.0, 1.0));
    let bundle = world.resource_scope(|world, mut images: Mut<Assets<Image>>| {
        let mut materials = world.resource_mut::<Assets<CutoutMaterial>>();
        participant_bundle(
            Participant {
                id: 0,
                name: "t".into(),
                local: false,
            },
            Placement::default(),
            Vec4::ONE,
            &mut images,
            &mut materials,
            quad,
        )
    });
    let entity = world.spawn(bundle).insert(CutoutInbox(rx)).id();
    let mut baseline = 0;
    for i in 0..10_000u64 {
        tx.send(cutout(i)).expect("send");
        app.update();
        if i == 200 {
            baseline = resident_bytes();
        }
    }
    let grown = resident_bytes().saturating_sub(baseline);
    let world = app.world_mut();
    assert_eq!(
        world.resource::<Assets<Image>>().len(),
        1,
        "one texture for one participant"
    );
    let latest = world.get::<LatestCutout>(entity).expect("latest");
    assert_eq!(latest.frames, 10_000);
    let tex = world.get::<CutoutTexture>(entity).expect("texture");
    assert_eq!(tex.size, (64, 48));
    // 10,000 cutouts of 12 KiB would be 120 MiB if any were kept.
    assert!(
        grown < 16 * 1024 * 1024,
        "resident memory grew by {grown} bytes"
    );
}
