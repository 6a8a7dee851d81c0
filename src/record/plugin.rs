//! Bevy glue for recording: reads the scene image back from the GPU every frame
//! (off the render thread, via `Readback`), hands frames to the recorder thread at
//! up to the recording rate, mixes the room's audio on the same clock, and
//! starts/stops on [`StartRecording`] / [`StopRecording`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use bevy::prelude::*;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};

use super::{
    AudioSettings, RecordStats, Recorder, RecorderConfig, RecorderHandle, RecorderStatus,
    VideoFrame, recordings_dir, timestamped_name,
};
use crate::AppSystems;
use crate::media::PixelFormat;
use crate::media::audio::{AudioSource, SpeechLikeSource};
use crate::media::voice::spatial::{Placing, StereoGains, normalised_x};
use crate::world::participant::ParticipantPlacement;
use crate::world::participant::{LatestCutout, LocalFeed, Participant};
use crate::world::placement::SCENE_WIDTH;
use crate::world::scene::SceneTarget;

/// Frame rate of recordings.
pub const RECORD_FPS: f64 = 30.0;

/// How long a recording waits for every participant's first cutout before its
/// first frame: the file starts with the scene, never with an empty or black one.
pub const SCENE_READY_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a recording waits for the scene's first drawn (not blank) frame.
pub const FIRST_DRAW_TIMEOUT: Duration = Duration::from_secs(15);

/// Rendered frames skipped once the scene is ready, so that the first frame read
/// back was drawn with every cutout uploaded.
const SETTLE_FRAMES: u32 = 2;

/// Audio sample rate of the room mix.
pub const MIX_RATE: u32 = 48_000;

/// Channels of the recording's audio: stereo, so voices keep their places.
pub const MIX_CHANNELS: u16 = 2;

/// Asks to start recording, to a path or a timestamped file in the recordings folder.
#[derive(Message, Debug, Clone)]
pub struct StartRecording(pub Option<PathBuf>);

/// Asks to stop recording and finalise the file.
#[derive(Message, Debug, Clone)]
pub struct StopRecording;

/// The recording in progress, if any, and the outcome of the last one.
#[derive(Resource, Default)]
pub struct Recording {
    handle: Option<RecorderHandle>,
    /// File being written (or last written).
    pub path: Option<PathBuf>,
    /// Wall-clock start.
    pub started: Option<Instant>,
    /// When the file's first frame was rendered: time zero of its video and audio.
    origin: Option<Instant>,
    /// Rendered frames since the scene became ready.
    settled: u32,
    readback: Option<Entity>,
    last_pts: Option<Duration>,
    samples_pushed: u64,
    /// Outcome of the last finished recording.
    pub last: Option<RecordStats>,
    /// Error shown to the user (disk full...).
    pub error: Option<String>,
    /// Frames handed to the recorder.
    pub frames_pushed: u64,
}

impl Recording {
    /// Whether a recording is running.
    pub fn is_active(&self) -> bool {
        self.handle.is_some()
    }

    /// When the file's first frame was rendered (its time zero), once it was.
    pub fn first_frame_at(&self) -> Option<Instant> {
        self.origin
    }

    /// Seconds recorded so far.
    pub fn elapsed(&self) -> f32 {
        self.started
            .map(|s| s.elapsed().as_secs_f32())
            .unwrap_or(0.0)
    }
}

/// Extra mono audio at [`MIX_RATE`] other capabilities add to the room mix
/// (remote participants' voices, game sounds), consumed by the recorder. Each
/// source has its own queue, so sources are mixed, not played one after another,
/// and its own place in the stereo mix ([`AudioInbox::set_gains`]; the same in both
/// channels unless set).
#[derive(Resource, Default, Debug)]
pub struct AudioInbox {
    /// Samples in [-1, 1] per source, oldest first.
    pub sources: std::collections::BTreeMap<String, VecDeque<f32>>,
    /// Where each source is heard (the voices' placement).
    pub gains: std::collections::BTreeMap<String, StereoGains>,
    /// Whether the local voices too are placed where their people stand (the voice
    /// settings' switch; on unless the voice plugin turns it off).
    pub unplaced: bool,
}

impl AudioInbox {
    /// Most samples a source may queue (1 s); older ones are dropped.
    pub const MAX_QUEUED: usize = MIX_RATE as usize;

    /// Appends samples of one source.
    pub fn push(&mut self, source: &str, samples: impl IntoIterator<Item = f32>) {
        let q = self.sources.entry(source.to_string()).or_default();
        q.extend(samples);
        let excess = q.len().saturating_sub(Self::MAX_QUEUED);
        q.drain(..excess);
    }

    /// At most this much of a live voice (60 ms) waits after a mix; older samples
    /// are dropped. Packets that arrive late would otherwise push the voice later
    /// and later behind the picture, since each late arrival leaves a gap of
    /// silence in the mix and shifts what follows.
    pub const LIVE_LAG: usize = MIX_RATE as usize * 60 / 1000;

    /// Sets where a source is heard in the recording's stereo mix. A placed source
    /// is a live voice: it is kept within [`AudioInbox::LIVE_LAG`] of the mix.
    pub fn set_gains(&mut self, source: &str, gains: StereoGains) {
        if self.gains.get(source) != Some(&gains) {
            self.gains.insert(source.to_string(), gains);
        }
    }

    /// Samples queued by one source.
    pub fn queued(&self, source: &str) -> usize {
        self.sources.get(source).map_or(0, VecDeque::len)
    }
}

/// The voices of local participants (synthetic speech for demo participants).
#[derive(Resource, Default)]
struct Voices(Vec<(u32, SpeechLikeSource)>);

/// Recording of the scene with the room's audio.
pub struct RecordPlugin {
    /// Start recording at once to this file.
    pub record_to: Option<PathBuf>,
}

impl Plugin for RecordPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Recording>()
            .init_resource::<AudioInbox>()
            .init_resource::<Voices>()
            .add_message::<StartRecording>()
            .add_message::<StopRecording>()
            .add_systems(Startup, super::badge::spawn_badge)
            .add_message::<crate::Notice>()
            .add_systems(
                Update,
                (
                    control_recording,
                    watch_scene,
                    watch_recorder,
                    announce_recording_failure,
                    mix_audio,
                )
                    .chain()
                    .in_set(AppSystems::Egress),
            )
            .add_systems(
                Update,
                super::badge::update_badge.in_set(AppSystems::Present),
            );
        if let Some(path) = self.record_to.clone() {
            app.add_systems(
                PostStartup,
                move |mut start: MessageWriter<StartRecording>| {
                    start.write(StartRecording(Some(path.clone())));
                },
            );
        }
    }
}

fn control_recording(
    mut commands: Commands,
    mut starts: MessageReader<StartRecording>,
    mut stops: MessageReader<StopRecording>,
    mut rec: ResMut<Recording>,
    target: Option<Res<SceneTarget>>,
) {
    if stops.read().count() > 0 {
        finish_recording(&mut commands, &mut rec);
    }
    let Some(req) = starts.read().last().cloned() else {
        return;
    };
    let Some(target) = target else { return };
    if rec.is_active() {
        return;
    }
    let path = req.0.unwrap_or_else(|| {
        recordings_dir().join(timestamped_name("samespace", SystemTime::now(), "mp4"))
    });
    let config = RecorderConfig {
        width: target.width & !1,
        height: target.height & !1,
        audio: Some(AudioSettings {
            channels: MIX_CHANNELS,
            bitrate_bps: 128_000,
        }),
        ..RecorderConfig::default()
    };
    match Recorder::start(&path, config) {
        Ok(handle) => {
            info!(path = %path.display(), "recording started");
            let entity = commands
                .spawn((
                    Name::new("recording readback"),
                    Readback::texture(target.image.clone()),
                ))
                .observe(push_readback)
                .id();
            *rec = Recording {
                handle: Some(handle),
                path: Some(path),
                started: Some(Instant::now()),
                readback: Some(entity),
                last: rec.last.take(),
                ..default()
            };
        }
        Err(e) => {
            rec.error = Some(error_chain(&e));
            error!(error = %error_chain(&e), "cannot start recording");
        }
    }
}

/// An error with its causes, for people: "writing … failed: No space left on device".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Stops the recording, if any, and keeps its stats.
pub fn finish_recording(commands: &mut Commands, rec: &mut Recording) {
    if let Some(e) = rec.readback.take() {
        commands.entity(e).despawn();
    }
    if let Some(handle) = rec.handle.take() {
        let stats = handle.stop();
        info!(
            path = %rec.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            frames = stats.frames_written,
            dropped = stats.frames_dropped,
            repeated = stats.frames_repeated,
            seconds = stats.duration.as_secs_f32(),
            "recording finished"
        );
        if let Some(e) = &stats.error {
            rec.error = Some(error_chain(e));
        }
        rec.last = Some(stats);
    }
}

/// Counts rendered frames once every participant has a cutout on screen (or the
/// wait for them ran out), so that the file's first frame shows the scene.
fn watch_scene(mut rec: ResMut<Recording>, people: Query<&LatestCutout, With<Participant>>) {
    if !rec.is_active() || rec.origin.is_some() {
        return;
    }
    let waited = rec
        .started
        .is_some_and(|s| s.elapsed() >= SCENE_READY_TIMEOUT);
    if waited || people.iter().all(|p| p.cutout.is_some()) {
        rec.settled += 1;
    }
}

fn push_readback(
    readback: On<ReadbackComplete>,
    mut rec: ResMut<Recording>,
    target: Option<Res<SceneTarget>>,
) {
    let Some(target) = target else { return };
    if rec.handle.is_none() || rec.settled <= SETTLE_FRAMES {
        return;
    }
    let rows = target.height.max(1) as usize;
    let stride = readback.data.len() / rows;
    // Until its render pipelines are compiled (seconds on a software renderer),
    // the scene is drawn as the bare clear colour: the file starts after that.
    let compiling = rec
        .started
        .is_some_and(|s| s.elapsed() < FIRST_DRAW_TIMEOUT);
    if rec.origin.is_none()
        && compiling
        && is_blank(&readback.data, stride, target.width, target.height)
    {
        return;
    }
    // The first frame read back once the scene is ready is time zero of the file,
    // for its audio as well: both start together.
    let origin = *rec.origin.get_or_insert_with(Instant::now);
    let Some(handle) = &rec.handle else { return };
    // Frames sit on the recording's 30 fps grid (players and muxers expect a
    // regular time base); a second frame in the same slot is skipped, and slots a
    // slow render missed are filled by the recorder with the frame before them.
    let slot = (origin.elapsed().as_secs_f64() * RECORD_FPS).round();
    let pts = Duration::from_secs_f64(slot / RECORD_FPS);
    if rec.last_pts.is_some_and(|last| pts <= last) {
        return;
    }
    let (w, h) = (target.width & !1, target.height & !1);
    if stride < w as usize * 4 {
        return;
    }
    let frame = VideoFrame {
        pixels: readback.data.clone(),
        format: PixelFormat::Rgba8,
        stride,
        width: w,
        height: h,
        pts,
    };
    if handle.push_frame(frame) {
        rec.frames_pushed += 1;
    }
    rec.last_pts = Some(pts);
}

/// Whether an RGBA8 picture (`stride` bytes a row) is black everywhere on a
/// 16x9 grid of samples: nothing but the clear colour drawn yet. Every theme's
/// background has some colour, the darkest included.
fn is_blank(rgba: &[u8], stride: usize, width: u32, height: u32) -> bool {
    let (cols, rows) = (16u32, 9u32);
    (0..rows).all(|gy| {
        let y = (gy * height / rows + height / rows / 2) as usize;
        (0..cols).all(|gx| {
            let x = (gx * width / cols + width / cols / 2) as usize;
            let at = y * stride + x * 4;
            rgba.get(at..at + 3).is_none_or(|px| px == [0, 0, 0])
        })
    })
}

fn watch_recorder(mut commands: Commands, mut rec: ResMut<Recording>) {
    let mut failed = None;
    if let Some(handle) = &rec.handle {
        for status in handle.status().try_iter() {
            if let RecorderStatus::Failed(e) = status {
                failed = Some(error_chain(&e));
            }
        }
    }
    if let Some(msg) = failed {
        error!(error = %msg, "recording stopped; the file keeps everything up to the failure");
        finish_recording(&mut commands, &mut rec);
        rec.error = Some(msg);
    }
}

/// Puts a recording's failure (it could not start, or stopped on a write error)
/// on screen, once per failure.
fn announce_recording_failure(
    rec: Res<Recording>,
    mut told: Local<Option<String>>,
    mut notices: MessageWriter<crate::Notice>,
) {
    if rec.error == *told {
        return;
    }
    told.clone_from(&rec.error);
    if let Some(e) = &rec.error {
        notices.write(crate::Notice::error(format!("recording failed: {e}")));
    }
}

/// Mixes the room's audio for the recording, in stereo: the local voices placed
/// where their people stand (as remote voices are, through their gains in the
/// [`AudioInbox`]), on the recording's clock.
fn mix_audio(
    mut rec: ResMut<Recording>,
    mut voices: ResMut<Voices>,
    mut inbox: ResMut<AudioInbox>,
    people: Query<(&Participant, &ParticipantPlacement), With<LocalFeed>>,
) {
    for (p, _) in &people {
        if !voices.0.iter().any(|(id, _)| *id == p.id) {
            voices.0.push((p.id, SpeechLikeSource::new(0.18, 1 + p.id)));
        }
    }
    let spatial = !inbox.unplaced;
    let listener = people
        .iter()
        .find(|(p, _)| p.local)
        .map(|(_, pl)| normalised_x(pl.x, SCENE_WIDTH));
    let local_gains = |id: u32| {
        let x = people
            .iter()
            .find(|(p, _)| p.id == id)
            .map(|(_, pl)| normalised_x(pl.x, SCENE_WIDTH));
        Placing {
            speaker: x,
            listener,
            volume: 1.0,
            muted: false,
            spatial,
        }
        .gains()
    };
    let (Some(handle), Some(origin)) = (&rec.handle, rec.origin) else {
        inbox.sources.clear();
        return;
    };
    let due = (origin.elapsed().as_secs_f64() * MIX_RATE as f64) as u64;
    let n = due.saturating_sub(rec.samples_pushed) as usize;
    if n == 0 {
        return;
    }
    let mut mix = vec![0f32; n * 2];
    let mut add = |samples: &mut dyn Iterator<Item = f32>, g: StereoGains| {
        for (frame, s) in mix.chunks_exact_mut(2).zip(samples) {
            frame[0] += s * g.left;
            frame[1] += s * g.right;
        }
    };
    for (id, voice) in &mut voices.0 {
        add(&mut voice.next_chunk(n).into_iter(), local_gains(*id));
    }
    let AudioInbox { sources, gains, .. } = &mut *inbox;
    for (source, queue) in sources.iter_mut() {
        let placed = gains.get(source).copied();
        add(
            &mut queue.drain(..n.min(queue.len())),
            placed.unwrap_or(StereoGains::UNITY),
        );
        if placed.is_some() {
            let late = queue.len().saturating_sub(AudioInbox::LIVE_LAG);
            queue.drain(..late);
        }
    }
    let pts = Duration::from_secs_f64(rec.samples_pushed as f64 / MIX_RATE as f64);
    let samples = crate::media::audio::f32_to_i16(&mix);
    handle.push_audio(samples, pts);
    rec.samples_pushed += n as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_is_blank_only_when_nothing_but_black_was_drawn() {
        let (w, h) = (64u32, 36u32);
        let stride = w as usize * 4 + 32; // padded rows, as GPU readbacks have
        let mut rgba = vec![0u8; stride * h as usize];
        for px in rgba.chunks_exact_mut(4) {
            px[3] = 255;
        }
        assert!(is_blank(&rgba, stride, w, h));
        // The darkest theme's sky (#02030F) is not blank.
        for y in 0..h as usize {
            for x in 0..w as usize {
                rgba[y * stride + x * 4..y * stride + x * 4 + 3].copy_from_slice(&[2, 3, 15]);
            }
        }
        assert!(!is_blank(&rgba, stride, w, h));
    }
}
