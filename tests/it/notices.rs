//! Failures reach the person at the screen: each source writes its [`Notice`]
//! (which the window shows as a toast, and every run logs). A camera folder whose
//! next picture is broken, a recording to a place that cannot be written, ONNX
//! Runtime unavailable (the slower backend), and the room's server going away
//! (`room::the_room_server_going_away_is_said_on_screen`).

use std::time::{Duration, Instant};

use bevy::prelude::*;
use samespace::Notice;
use samespace::NoticeLevel;
use samespace::capture::SyntheticParams;
use samespace::record::plugin::{RecordPlugin, Recording, StartRecording};
use samespace::segment::SegmentConfig;
use samespace::world::participant::{Participant, watch_local_feeds};
use samespace::world::scene::SceneTarget;

/// Every notice an app wrote.
#[derive(Resource, Default)]
struct Heard(Vec<Notice>);

fn listen(mut heard: ResMut<Heard>, mut notices: MessageReader<Notice>) {
    heard.0.extend(notices.read().cloned());
}

fn app() -> App {
    crate::common::init_logging();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_message::<Notice>()
        .init_resource::<Heard>()
        .add_systems(Last, listen);
    app
}

/// Updates `app` until a notice contains `needle` (at most `limit`).
fn wait_for_notice(app: &mut App, needle: &str, limit: Duration) -> Option<Notice> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        app.update();
        if let Some(n) = app
            .world()
            .resource::<Heard>()
            .0
            .iter()
            .find(|n| n.text.contains(needle))
        {
            return Some(n.clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn a_camera_folder_whose_next_picture_is_broken_is_said_on_screen() {
    let dir = crate::common::temp_dir("broken-camera");
    let rgb: Vec<u8> = (0..64 * 48 * 3).map(|i| (i % 251) as u8).collect();
    image::save_buffer(
        dir.join("a.png"),
        &rgb,
        64,
        48,
        image::ExtendedColorType::Rgb8,
    )
    .expect("first picture");
    std::fs::write(dir.join("b.png"), b"not a picture").expect("second picture");
    let mut app = app();
    app.add_systems(Update, watch_local_feeds);
    let spec = dir.to_string_lossy().into_owned();
    let segment = SegmentConfig::new(samespace::paths::models_dir());
    let (feed, _) = samespace::world::participant::start_feed(
        &spec,
        SyntheticParams::default(),
        &segment,
        0,
        None,
    )
    .expect("the folder opens: its first picture is fine");
    app.world_mut().spawn((
        Participant {
            id: 0,
            name: "Ada".into(),
            local: true,
        },
        feed,
    ));
    let notice = wait_for_notice(&mut app, "your camera stopped", Duration::from_secs(20))
        .expect("no notice of the failed camera");
    assert_eq!(notice.level, NoticeLevel::Error);
    assert!(notice.text.contains("b.png"), "{}", notice.text);
}

#[test]
fn a_recording_to_a_place_that_cannot_be_written_is_said_on_screen() {
    let dir = crate::common::temp_dir("unwritable-recording");
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").expect("a file");
    let mut app = app();
    app.add_plugins(RecordPlugin { record_to: None })
        .insert_resource(SceneTarget {
            image: Handle::default(),
            width: 320,
            height: 240,
        });
    // A folder inside a file: it cannot be made.
    app.world_mut()
        .write_message(StartRecording(Some(file.join("clip.mp4"))));
    let notice = wait_for_notice(&mut app, "recording failed", Duration::from_secs(5))
        .expect("no notice of the failed recording");
    assert_eq!(notice.level, NoticeLevel::Error);
    assert!(notice.text.contains("clip.mp4"), "{}", notice.text);
    assert!(app.world().resource::<Recording>().error.is_some());
    // Said once, not every frame.
    for _ in 0..5 {
        app.update();
    }
    let count = app
        .world()
        .resource::<Heard>()
        .0
        .iter()
        .filter(|n| n.text.contains("recording failed"))
        .count();
    assert_eq!(count, 1);
}

#[test]
fn segmentation_without_onnx_runtime_says_it_falls_back_to_the_slower_backend() {
    let dir = crate::common::temp_dir("no-ort");
    let bogus = dir.join("libonnxruntime.so");
    std::fs::write(&bogus, b"not a library").expect("bogus library");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_samespace"))
        .args([
            "demo",
            "--headless",
            "--seconds",
            "2",
            "--participants",
            "1",
            "--snapshot",
        ])
        .arg(dir.join("shot.png"))
        .env("ORT_DYLIB_PATH", &bogus)
        .env("RUST_LOG", "samespace=info")
        .current_dir(crate::common::root())
        .output()
        .expect("run samespace demo");
    let text = crate::common::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "segmentation runs on tract, several times slower: ONNX Runtime is unavailable"
        ),
        "no notice of the fallback: {text}"
    );
}
