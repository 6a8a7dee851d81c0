//! Frame sources: still images, sequences, H.264 files, the synthetic participant, bad input.

use std::time::Duration;

use samespace::capture::h264_file::H264FileSource;
use samespace::capture::still::{ImageSequenceSource, StillImageSource};
use samespace::capture::{
    CaptureError, CaptureStatus, CaptureWorker, Frame, FrameSource, SyntheticParams,
    SyntheticParticipant,
};
use samespace::segment::postprocess::iou;
use samespace::segment::{BackendChoice, CutoutPipeline, SegmentConfig};

use crate::common::{data, root, temp_dir};

fn mask_of(pipeline: &mut CutoutPipeline, frame: &Frame) -> Vec<u8> {
    pipeline.process(frame).expect("segment").mask
}

fn centroid_x(mask: &[u8], width: u32) -> f32 {
    let (mut sum, mut n) = (0f64, 0f64);
    for (i, &a) in mask.iter().enumerate() {
        if a >= 128 {
            sum += (i % width as usize) as f64;
            n += 1.0;
        }
    }
    (sum / n.max(1.0)) as f32
}

#[test]
fn synthetic_participant_mask_moves_over_a_few_seconds() {
    let p = SyntheticParticipant::new(SyntheticParams::default());
    let mut config = SegmentConfig::new(root().join("models"));
    config.backend = BackendChoice::Tract;
    config.temporal = false;
    let mut pipeline = CutoutPipeline::new(config);
    let mk =
        |t: f32| Frame::new(0, std::time::Instant::now(), 640, 480, p.render(t)).expect("frame");
    let masks: Vec<Vec<u8>> = (0..7)
        .map(|s| mask_of(&mut pipeline, &mk(s as f32)))
        .collect();
    for m in &masks {
        let coverage = m.iter().filter(|&&v| v >= 128).count() as f32 / m.len() as f32;
        assert!(
            coverage > 0.08 && coverage < 0.8,
            "person covers {coverage}"
        );
    }
    // A person standing and talking moves a little from second to second, and
    // over a few seconds gestures or steps: some pair of masks a second apart
    // differs clearly.
    let least = masks
        .windows(2)
        .map(|w| iou(&w[0], &w[1], 128))
        .fold(f32::MAX, f32::min);
    assert!(least < 0.95, "masks barely moved: IoU at least {least}");
    let xs: Vec<f32> = masks.iter().map(|m| centroid_x(m, 640)).collect();
    let spread =
        xs.iter().copied().fold(f32::MIN, f32::max) - xs.iter().copied().fold(f32::MAX, f32::min);
    assert!(spread > 5.0, "centroid moved {spread}px: {xs:?}");
}

#[test]
fn synthetic_source_produces_paced_frames_on_its_thread() {
    let p = SyntheticParticipant::new(SyntheticParams {
        fps: 20.0,
        ..SyntheticParams::default()
    });
    let worker = CaptureWorker::spawn(Box::new(p), "test-synthetic").expect("spawn");
    let f1 = worker
        .frames
        .recv_timeout(Duration::from_secs(5))
        .expect("frame");
    let f2 = worker
        .frames
        .recv_timeout(Duration::from_secs(5))
        .expect("frame");
    assert!(f2.seq > f1.seq);
    assert!(f2.captured_at > f1.captured_at);
    assert_eq!((f1.width, f1.height), (640, 480));
}

#[test]
fn a_still_image_repeats() {
    let mut s = StillImageSource::open(&data("astronaut.png")).expect("open");
    let a = s.next_frame().expect("ok").expect("frame");
    let b = s.next_frame().expect("ok").expect("frame");
    assert_eq!((a.width, a.height), (512, 512));
    assert_eq!(a.rgb, b.rgb);
    assert_eq!(b.seq, 1);
}

#[test]
fn an_image_sequence_plays_in_order_and_ends() {
    let dir = temp_dir("sequence");
    for (i, v) in [10u8, 20, 30].iter().enumerate() {
        image::save_buffer(
            dir.join(format!("f{i}.png")),
            &[*v; 4 * 4 * 3],
            4,
            4,
            image::ExtendedColorType::Rgb8,
        )
        .expect("write");
    }
    std::fs::write(dir.join("notes.txt"), "not an image").expect("write");
    let mut s = ImageSequenceSource::open(&dir, 30.0, false).expect("open");
    let firsts: Vec<u8> = (0..3)
        .map(|_| s.next_frame().expect("ok").expect("frame").rgb[0])
        .collect();
    assert_eq!(firsts, vec![10, 20, 30]);
    assert!(s.next_frame().expect("ok").is_none());
}

#[test]
fn an_h264_file_decodes_to_frames() {
    let mut s =
        H264FileSource::open(&data("testsrc_160x120_10fps.h264"), 10.0, false).expect("open");
    assert_eq!((s.info().width, s.info().height), (160, 120));
    let mut n = 0;
    while let Some(f) = s.next_frame().expect("decode") {
        assert_eq!(f.rgb.len(), 160 * 120 * 3);
        n += 1;
    }
    assert_eq!(n, 10);
}

#[test]
fn a_finite_source_ends_its_worker_with_ended() {
    let s = H264FileSource::open(&data("testsrc_160x120_10fps.h264"), 200.0, false).expect("open");
    let worker = CaptureWorker::spawn_with_capacity(Box::new(s), "test-h264", 16).expect("spawn");
    let status = worker
        .status
        .recv_timeout(Duration::from_secs(5))
        .expect("status");
    assert!(matches!(status, CaptureStatus::Ended));
}

#[test]
fn bad_images_give_clear_errors() {
    for name in [
        "truncated.png",
        "zero_size.png",
        "random_bytes.png",
        "tiny.gif",
    ] {
        let err = StillImageSource::open(&data(name))
            .err()
            .unwrap_or_else(|| panic!("{name} must fail"));
        let msg = err.to_string();
        assert!(msg.contains(name), "{name}: {msg}");
    }
    let missing = StillImageSource::open(&data("no-such.png"))
        .err()
        .expect("must fail");
    assert!(matches!(missing, CaptureError::NotFound(_)));
    let empty = temp_dir("emptyfolder");
    assert!(matches!(
        ImageSequenceSource::open(&empty, 30.0, false),
        Err(CaptureError::EmptyFolder(_))
    ));
}

#[test]
fn a_zero_sized_frame_is_refused() {
    assert!(Frame::new(0, std::time::Instant::now(), 0, 10, vec![]).is_err());
    assert!(Frame::new(0, std::time::Instant::now(), 2, 2, vec![0; 5]).is_err());
}

/// A photo with odd sides (910x1137) reaches the room: the source fits it to
/// an even size, and its cutout packs, encodes and decodes like a camera's.
#[test]
fn an_odd_sized_photo_is_fitted_and_its_cutout_encodes_for_the_room() {
    use samespace::media::alpha_pack::{pack_cutout_into, unpack_i420};
    use samespace::media::h264::{ColorMatrix, H264Config, H264Decoder, H264Encoder, I420Frame};

    let dir = temp_dir("odd-photo");
    let photo = dir.join("odd.png");
    let astronaut = image::open(data("astronaut.png"))
        .expect("open")
        .into_rgb8();
    image::imageops::resize(&astronaut, 910, 1137, image::imageops::FilterType::Triangle)
        .save(&photo)
        .expect("save");
    let mut source = samespace::capture::open_source(
        photo.to_str().expect("utf8"),
        SyntheticParams::default(),
        640,
        480,
        30,
    )
    .expect("open");
    let frame = source.next_frame().expect("ok").expect("frame");
    let (w, h) = (frame.width, frame.height);
    assert!(w % 2 == 0 && h % 2 == 0, "{w}x{h}");
    assert_eq!((source.info().width, source.info().height), (w, h));

    let mut config = SegmentConfig::new(root().join("models"));
    config.backend = BackendChoice::Tract;
    config.temporal = false;
    let cutout = CutoutPipeline::new(config)
        .process(&frame)
        .expect("segment");
    let mut packed = I420Frame::new(w, h * 2).expect("packed frame");
    pack_cutout_into(&cutout.rgba, w, h, ColorMatrix::Bt601, &mut packed).expect("packs");
    let mut encoder = H264Encoder::new(H264Config::new(w, h * 2)).expect("encoder");
    let encoded = encoder.encode_i420(&packed, 0).expect("encodes");
    assert!(!encoded.annex_b.is_empty());
    let decoded = H264Decoder::new()
        .expect("decoder")
        .decode(&encoded.annex_b)
        .expect("decodes")
        .expect("a picture");
    let person = unpack_i420(&decoded, ColorMatrix::Bt601)
        .expect("unpacks")
        .alpha()
        .iter()
        .filter(|&&a| a >= 128)
        .count() as f32
        / (w * h) as f32;
    assert!(
        person > 0.1,
        "the person covers {person} of the received picture"
    );
}
