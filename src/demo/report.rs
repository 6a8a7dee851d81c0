//! The JSON report of a demo run (`--report`): the run, its participants, the
//! game, CPU, the recording, and in a networked room this peer's figures and one
//! line per other peer. Its field names are read by tests and documented: keep
//! them.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bevy::prelude::*;
use serde::Serialize;

use super::DemoRun;
use crate::world::Placement;
use crate::world::participant::{LatestCutout, LocalFeed, Participant, SourceName, UploadStats};
use crate::world::scene::{ActiveTheme, SnapshotTracker};

/// The report written with `--report`.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// Theme used at the end.
    pub theme: String,
    /// Wall-clock seconds run.
    pub seconds: f32,
    /// Frames rendered.
    pub frames_rendered: u64,
    /// Frames per second rendered.
    pub render_fps: f32,
    /// Scene size.
    pub width: u32,
    /// Scene size.
    pub height: u32,
    /// Average ms per stage.
    pub stages_ms: StageReport,
    /// Average age of a cutout when shown (capture → upload), ms.
    pub frame_age_ms: f32,
    /// Who was there.
    pub participants: Vec<ParticipantReport>,
    /// Snapshot written, if any.
    pub snapshot: Option<PathBuf>,
    /// The game played, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game: Option<crate::games::GameReport>,
    /// CPU cores used on average over the run (user + system time / wall time).
    pub cpu_cores: Option<f64>,
    /// CPU cores per thread name over the run (names cut to 15 bytes; a thread's
    /// time counts from its start, which is about the start of the run).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub cpu_threads: std::collections::BTreeMap<String, f64>,
    /// The other peers in a networked room (empty offline).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerLine>,
    /// This peer's side of a networked room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<NetReport>,
    /// The recording, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingReport>,
}

/// This peer's own figures in a networked room.
#[derive(Debug, Clone, Serialize)]
pub struct NetReport {
    /// Room code.
    pub room: String,
    /// Our peer id.
    pub me: u64,
    /// The host at the end.
    pub host: u64,
    /// Whether we were the host at the end.
    pub is_host: bool,
    /// The tone our synthetic voice sends.
    pub tone_hz: f32,
    /// Pictures encoded and sent.
    pub video_frames_sent: u64,
    /// Pictures the rate control skipped.
    pub video_frames_skipped: u64,
    /// Keyframes sent.
    pub keyframes_sent: u64,
    /// Sent video bit rate, kbit/s (per stream; every peer gets the same stream).
    pub video_kbit_s_sent: f64,
    /// `world` messages handed to the data channels, kbit/s of JSON summed over
    /// the peers (placements, outlines, game snapshots and events, pings).
    pub world_kbit_s_sent: f64,
    /// Average H.264 encode time per picture (640x960 packed), ms.
    pub encode_ms: f64,
    /// Opus packets sent.
    pub audio_packets_sent: u64,
    /// Game snapshots received from the host.
    pub game_snapshots_received: u64,
    /// Game events received from the host.
    pub game_events_received: u64,
    /// The game being followed or run, and its newest tick and object count.
    pub game: Option<String>,
    /// Newest game tick seen.
    pub game_tick: Option<u64>,
    /// Objects in the newest game state.
    pub game_objects: Option<usize>,
    /// Units the mesh dropped (video out, audio out, events in, world messages).
    pub dropped: [u64; 4],
    /// Microphone and speaker in use (`null`: synthetic).
    pub audio: crate::net::bridge::AudioInUse,
    /// Connections started over (one never came up, or one that was up got lost).
    pub reconnects: u64,
    /// ICE restarts this side began on connections that were up and went down
    /// (the connection, its DTLS and data channels go on with new ICE pairs).
    pub ice_restarts: u64,
    /// Second by second: the slowest peer's send estimate, the video target, what
    /// was sent, the ladder's rung and picture size.
    pub send_series: Vec<crate::net::send_rate::SendSecond>,
}

/// The `recording` section of the report.
#[derive(Debug, Clone, Serialize)]
pub struct RecordingReport {
    /// The MP4 written.
    pub path: Option<PathBuf>,
    /// Video frames in the file.
    pub frames_written: u64,
    /// Frames dropped because the encoder was behind.
    pub frames_dropped: u64,
    /// Frame slots that rendering missed, filled by repeating the frame before.
    pub frames_repeated: u64,
    /// Share of the file's frames that are fresh renders, not repeats (1.0: all).
    pub distinct_share: f64,
    /// Media duration in seconds.
    pub duration_s: f32,
    /// Average encode time per frame.
    pub encode_ms_per_frame: f64,
    /// What stopped it early, if anything.
    pub error: Option<String>,
}

/// Per-stage averages.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StageReport {
    /// Producing a camera/synthetic frame.
    pub capture: f32,
    /// Frame → cutout.
    pub segmentation: f32,
    /// Cutout → texture.
    pub upload: f32,
}

/// One participant in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantReport {
    /// Room id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Local or remote.
    pub local: bool,
    /// Cutouts shown.
    pub cutouts_shown: u64,
    /// Where the cutouts came from.
    pub source: String,
    /// Segmentation backend.
    pub backend: Option<String>,
    /// Final placement.
    pub placement: Placement,
    /// Width of the newest cutout shown, pixels (0 before the first).
    pub frame_width: u32,
    /// Its height.
    pub frame_height: u32,
}
/// One other peer in the report: its link, what was shown of it, and its voice as
/// heard here.
#[derive(Debug, Clone, Serialize)]
pub struct PeerLine {
    /// Frames, audio, latency, bit rate… of its link.
    #[serde(flatten)]
    pub link: crate::net::stats::LinkReport,
    /// Pictures shown, capture → shown latency, freezes.
    #[serde(flatten)]
    pub shown: crate::room::figures::ShownReport,
    /// Where it stands and where its voice came out.
    #[serde(flatten)]
    pub voice: crate::voice::plugin::VoiceLine,
}

pub(super) fn net_report(
    link: &crate::net::plugin::NetLink,
    figures: &crate::room::figures::PeerFigures,
    game: Option<&crate::games::plugin::ActiveGame>,
    remote: Option<&crate::games::plugin::RemoteGame>,
    elapsed: f32,
) -> (Vec<PeerLine>, NetReport) {
    let shared = link.bridge.shared();
    let peers = figures
        .all()
        .into_iter()
        .map(|line| PeerLine {
            voice: line.voice,
            link: line.link,
            shown: line.shown,
        })
        .collect();
    let sent = &shared.sent;
    let frames = sent.video_frames.load(Ordering::Relaxed);
    let skipped = sent.video_skipped.load(Ordering::Relaxed);
    let encode_us = sent.encode_us.load(Ordering::Relaxed);
    let counters = link.bridge.net().counters();
    let (game_name, tick, objects) = match (game, remote.and_then(|r| r.snapshot.as_ref())) {
        (Some(g), _) if link.host == link.me => {
            let s = g.sim.snapshot();
            (
                Some(s.game.name().to_string()),
                Some(s.tick),
                Some(s.objects.len()),
            )
        }
        (_, Some(s)) => (
            Some(s.game.name().to_string()),
            Some(s.tick),
            Some(s.objects.len()),
        ),
        (Some(g), None) => {
            let s = g.sim.snapshot();
            (
                Some(s.game.name().to_string()),
                Some(s.tick),
                Some(s.objects.len()),
            )
        }
        (None, None) => (None, None, None),
    };
    let report = NetReport {
        room: link.room.to_string(),
        me: link.me.0,
        host: link.host.0,
        is_host: link.host == link.me,
        tone_hz: link.bridge.tone_hz(),
        video_frames_sent: frames,
        video_frames_skipped: skipped,
        keyframes_sent: sent.keyframes.load(Ordering::Relaxed),
        video_kbit_s_sent: sent.video_bytes.load(Ordering::Relaxed) as f64 * 8.0
            / 1000.0
            / f64::from(elapsed.max(1e-3)),
        world_kbit_s_sent: counters.world_bytes_sent.load(Ordering::Relaxed) as f64 * 8.0
            / 1000.0
            / f64::from(elapsed.max(1e-3)),
        encode_ms: encode_us as f64 / 1000.0 / (frames + skipped).max(1) as f64,
        audio_packets_sent: sent.audio_packets.load(Ordering::Relaxed),
        game_snapshots_received: remote.map_or(0, |r| r.snapshots_received),
        game_events_received: remote.map_or(0, |r| r.events_received),
        game: game_name,
        game_tick: tick,
        game_objects: objects,
        dropped: [
            counters.video_dropped_out.load(Ordering::Relaxed),
            counters.audio_dropped_out.load(Ordering::Relaxed),
            counters.dropped_in.load(Ordering::Relaxed),
            counters.world_dropped.load(Ordering::Relaxed),
        ],
        audio: link.bridge.shared().audio_in_use(),
        reconnects: counters.reconnects.load(Ordering::Relaxed),
        ice_restarts: counters.ice_restarts.load(Ordering::Relaxed),
        send_series: shared.send_series(),
    };
    (peers, report)
}
pub(super) fn elapsed_since(start: Instant, now: Instant) -> f32 {
    (now - start).as_secs_f32()
}
/// Who the report lists: each participant with its newest cutout, placement, and
/// (local ones) its feed and source name.
pub(super) type ReportedPeople<'w, 's> = Query<
    'w,
    's,
    (
        &'static Participant,
        &'static LatestCutout,
        &'static crate::world::participant::ParticipantPlacement,
        Option<&'static LocalFeed>,
        Option<&'static SourceName>,
    ),
>;

pub(super) fn build_report(
    run: &DemoRun,
    elapsed: f32,
    people: &ReportedPeople,
    uploads: &UploadStats,
    theme: &ActiveTheme,
    tracker: &SnapshotTracker,
) -> DemoReport {
    let mut stages = StageReport {
        upload: uploads.avg_ms,
        ..default()
    };
    let mut participants = Vec::new();
    let (mut n_local, mut n_segmented) = (0.0, 0.0);
    for (p, latest, placement, feed, source) in people.iter() {
        let mut backend = None;
        if let Some(f) = feed {
            let s = f.segment.stats();
            stages.capture += f.capture.produce_ms();
            n_local += 1.0;
            backend = s.backend.map(|b| b.name().to_string());
            // A feed that brings its own cutouts (a drawn demo friend) loads no
            // model: the average is the segmentation's.
            if backend.is_some() {
                stages.segmentation += s.avg_total_ms;
                n_segmented += 1.0;
            }
        }
        let (frame_width, frame_height) = latest
            .cutout
            .as_ref()
            .map_or((0, 0), |c| (c.width, c.height));
        participants.push(ParticipantReport {
            id: p.id,
            name: p.name.clone(),
            local: p.local,
            cutouts_shown: latest.frames,
            source: source
                .map(|s| s.0.clone())
                .unwrap_or_else(|| "remote".into()),
            backend,
            placement: placement.0,
            frame_width,
            frame_height,
        });
    }
    participants.sort_by_key(|p| p.id);
    if n_local > 0.0 {
        stages.capture /= n_local;
    }
    if n_segmented > 0.0 {
        stages.segmentation /= n_segmented;
    }
    DemoReport {
        theme: theme.0.name.clone(),
        seconds: elapsed,
        frames_rendered: run.frames,
        render_fps: run.frames as f32 / elapsed.max(1e-3),
        width: run.config.width,
        height: run.config.height,
        stages_ms: stages,
        frame_age_ms: uploads.avg_age_ms,
        participants,
        snapshot: run
            .config
            .snapshot
            .clone()
            .filter(|p| tracker.saved.lock().is_ok_and(|s| s.contains(p))),
        game: None,
        cpu_cores: None,
        cpu_threads: std::collections::BTreeMap::new(),
        peers: Vec::new(),
        net: None,
        recording: None,
    }
}

/// The share of a recording's `written` frames that are fresh renders rather than
/// `repeated` copies of the frame before (1.0 for an empty file: nothing repeated).
pub fn distinct_share(written: u64, repeated: u64) -> f64 {
    if written == 0 {
        return 1.0;
    }
    written.saturating_sub(repeated) as f64 / written as f64
}

#[cfg(test)]
mod tests {
    use super::distinct_share;

    #[test]
    fn distinct_share_counts_the_frames_that_are_not_repeats() {
        assert_eq!(distinct_share(0, 0), 1.0);
        assert_eq!(distinct_share(240, 0), 1.0);
        assert!((distinct_share(240, 24) - 0.9).abs() < 1e-12);
        // More repeats than frames (a count that ran ahead) never goes negative.
        assert_eq!(distinct_share(10, 12), 0.0);
    }
}
