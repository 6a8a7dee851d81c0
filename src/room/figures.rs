//! What the room measures of each remote peer, and the figures of peers that left.
//!
//! Each remote peer's entity carries two figure Components: the transport's
//! [`LinkFigures`] (media received, latency to arrival, loss repair, round trip) and
//! the room's [`ShownFigures`] (pictures shown, capture → shown latency, the longest
//! freeze), kept by `record_shown_cutouts`. When a peer leaves, its entity goes and
//! an observer keeps both as a [`PeerFiguresLine`] in [`DepartedPeers`], so the demo
//! report still lists everyone who was in the room. [`PeerFigures::all`] gives both,
//! departed peers included, ordered by peer id.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use serde::Serialize;

use crate::net::lipsync::LipSync;
use crate::net::plugin::{LinkFigures, NetLink, RemotePeer};
use crate::net::stats::{LATENCY_HISTORY, LinkReport, percentile};
use crate::voice::plugin::VoiceLine;

/// What was shown of a remote peer's pictures (pure: callers pass the times).
#[derive(Component, Debug, Clone, Default)]
pub struct ShownFigures {
    frames: u64,
    last: Option<Instant>,
    longest_freeze: Duration,
    /// Capture (at the sender) → shown here, ms; at most [`LATENCY_HISTORY`].
    glass_to_glass_ms: Vec<f32>,
    /// The participant's picture count when last looked at.
    looked_at: Option<u64>,
    /// A/V offsets at its shown pictures, and the delay its voice is held to.
    pub lip: LipSync,
    /// Second by second, the newest [`SHOWN_SERIES_CAPACITY`].
    seconds: std::collections::VecDeque<ShownSecond>,
}

/// Seconds of [`ShownSecond`]s kept per peer (the newest; 15 minutes).
pub const SHOWN_SERIES_CAPACITY: usize = 900;

/// A wait for a picture this long or longer is logged (debug) when it ends.
const FREEZE_LOGGED: Duration = Duration::from_millis(300);

/// What was shown of a peer in one second.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShownSecond {
    /// The second (Unix time, whole seconds).
    pub unix_s: u64,
    /// Pictures shown in it.
    pub frames: u32,
    /// The largest capture → shown latency in it, ms.
    pub glass_to_glass_max_ms: f32,
    /// The longest wait for a picture that ended in it, ms.
    pub longest_gap_ms: f32,
}

impl ShownFigures {
    /// Whether the participant's picture count `frames` is new since the last call
    /// (a picture shown since).
    pub fn is_new(&mut self, frames: u64) -> bool {
        let new = self.looked_at != Some(frames);
        self.looked_at = Some(frames);
        new
    }

    /// One of its pictures was shown at `now` (`unix_ms` on the wall clock),
    /// `glass_to_glass_ms` after capture.
    pub fn shown(&mut self, now: Instant, unix_ms: u64, glass_to_glass_ms: f32) {
        self.frames += 1;
        let gap = self.last.map(|last| now.saturating_duration_since(last));
        if let Some(gap) = gap {
            self.longest_freeze = self.longest_freeze.max(gap);
            if gap >= FREEZE_LOGGED {
                tracing::debug!(
                    gap_ms = gap.as_millis() as u64,
                    glass_to_glass_ms,
                    "a picture after a freeze"
                );
            }
        }
        self.last = Some(now);
        let unix_s = unix_ms / 1000;
        if self.seconds.back().is_none_or(|s| s.unix_s != unix_s) {
            if self.seconds.len() >= SHOWN_SERIES_CAPACITY {
                self.seconds.pop_front();
            }
            self.seconds.push_back(ShownSecond {
                unix_s,
                ..ShownSecond::default()
            });
        }
        if let Some(second) = self.seconds.back_mut() {
            second.frames += 1;
            second.glass_to_glass_max_ms = second.glass_to_glass_max_ms.max(glass_to_glass_ms);
            let gap_ms = gap.map_or(0.0, |g| g.as_secs_f32() * 1000.0);
            second.longest_gap_ms = second.longest_gap_ms.max(gap_ms);
        }
        if self.glass_to_glass_ms.len() < LATENCY_HISTORY {
            self.glass_to_glass_ms.push(glass_to_glass_ms);
        }
    }

    /// The figures as reported.
    pub fn report(&self) -> ShownReport {
        ShownReport {
            frames_shown: self.frames,
            glass_to_glass_ms: percentile(&self.glass_to_glass_ms, 0.5),
            glass_to_glass_p95_ms: percentile(&self.glass_to_glass_ms, 0.95),
            longest_freeze_ms: self.longest_freeze.as_secs_f32() * 1000.0,
            av_offset_ms: self.lip.av_offset_ms(),
            shown_series: self.seconds.iter().cloned().collect(),
        }
    }
}

/// [`ShownFigures`] as reported (beside the link's figures in a peer's line).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShownReport {
    /// Pictures shown.
    pub frames_shown: u64,
    /// Capture → shown, median ms.
    pub glass_to_glass_ms: Option<f32>,
    /// Capture → shown, 95th percentile ms.
    pub glass_to_glass_p95_ms: Option<f32>,
    /// Longest time between two of its shown pictures, ms.
    pub longest_freeze_ms: f32,
    /// Median A/V offset at its shown pictures, ms: the delay (capture → played)
    /// of the voice playing when a picture was shown minus that picture's (capture →
    /// shown); positive when the audio plays late. `None` while its voice carries no
    /// capture times or was silent.
    pub av_offset_ms: Option<f32>,
    /// Second by second: pictures shown, worst latency, longest wait.
    pub shown_series: Vec<ShownSecond>,
}

/// A peer's figures as a whole: its link and what was shown of it.
#[derive(Debug, Clone)]
pub struct PeerFiguresLine {
    /// The transport's figures, as of its departure.
    pub link: LinkReport,
    /// What was shown of it.
    pub shown: ShownReport,
    /// Where it stood and how its voice came out here.
    pub voice: VoiceLine,
}

impl PeerFiguresLine {
    /// One line for the stats overlay: link quality as the user feels it.
    pub fn overlay_line(&self) -> String {
        let (link, shown) = (&self.link, &self.shown);
        let ms = |v: Option<f32>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
        let missing = link.packets_recovered + link.packets_lost;
        format!(
            "{}: {}  {} kbit/s  send est {} kbit/s  draws {} fps  rtt {} ms  glass-to-glass {} ms  a/v {} ms  repaired {}/{}  playout +{:.0} ms  freeze {:.0} ms",
            link.name,
            link.candidate_pair.as_deref().unwrap_or("connecting"),
            link.kbit_s.round(),
            link.send_estimate_kbit
                .map_or("–".to_string(), |v| format!("{v:.0}")),
            ms(link.draw_fps),
            ms(link.rtt_ms),
            ms(shown.glass_to_glass_ms),
            shown
                .av_offset_ms
                .map_or("–".to_string(), |v| format!("{v:+.0}")),
            link.packets_recovered,
            missing,
            link.playout_delay_ms,
            shown.longest_freeze_ms,
        )
    }
}

/// The figures of peers that left this room (cleared on entering a room), the
/// newest [`DEPARTED_KEPT`].
#[derive(Resource, Debug, Default)]
pub struct DepartedPeers(pub std::collections::VecDeque<PeerFiguresLine>);

/// Departed peers whose figures a room keeps (a room that people come and go from
/// all day stays small).
pub const DEPARTED_KEPT: usize = 256;

/// Keeps a leaving peer's figures (its entity is despawned with the final
/// [`LinkFigures`] just inserted).
pub fn keep_departed_figures(
    removed: On<Remove, LinkFigures>,
    peers: Query<(&LinkFigures, Option<&ShownFigures>)>,
    departed: Option<ResMut<DepartedPeers>>,
    link: Option<Res<NetLink>>,
) {
    let (Ok((figures, shown)), Some(mut departed)) = (peers.get(removed.entity), departed) else {
        return;
    };
    if departed.0.len() >= DEPARTED_KEPT {
        departed.0.pop_front();
    }
    departed.0.push_back(PeerFiguresLine {
        voice: voice_line(link.as_deref(), figures.0.id),
        link: figures.0.clone(),
        shown: shown.map(ShownFigures::report).unwrap_or_default(),
    });
}

/// What the room's mix knows of voice `id` (nothing out of a room).
fn voice_line(link: Option<&NetLink>, id: u64) -> VoiceLine {
    link.map_or_else(VoiceLine::default, |l| VoiceLine::of(l.bridge.voices(), id))
}

/// Every remote peer's figures, read from their entities and [`DepartedPeers`].
#[derive(bevy::ecs::system::SystemParam)]
pub struct PeerFigures<'w, 's> {
    live: Query<'w, 's, (&'static LinkFigures, Option<&'static ShownFigures>), With<RemotePeer>>,
    departed: Option<Res<'w, DepartedPeers>>,
    link: Option<Res<'w, NetLink>>,
}

impl PeerFigures<'_, '_> {
    /// Those in the room now, then those that left, ordered by peer id.
    pub fn all(&self) -> Vec<PeerFiguresLine> {
        let mut lines: Vec<PeerFiguresLine> = self
            .live
            .iter()
            .map(|(link, shown)| PeerFiguresLine {
                voice: voice_line(self.link.as_deref(), link.0.id),
                link: link.0.clone(),
                shown: shown.map(ShownFigures::report).unwrap_or_default(),
            })
            .chain(self.departed.iter().flat_map(|d| d.0.iter().cloned()))
            .collect();
        lines.sort_by_key(|l| l.link.id);
        lines
    }

    /// Those in the room now, ordered by peer id.
    pub fn present(&self) -> Vec<PeerFiguresLine> {
        let mut lines = self.all();
        lines.retain(|l| !l.link.left);
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_freeze_is_the_widest_gap_between_shown_pictures() {
        let mut s = ShownFigures::default();
        let t = Instant::now();
        for (ms, latency) in [
            (0u64, 90.0),
            (66, 100.0),
            (133, 110.0),
            (600, 120.0),
            (666, 400.0),
        ] {
            s.shown(t + Duration::from_millis(ms), 10_000 + ms, latency);
        }
        let r = s.report();
        assert_eq!(r.frames_shown, 5);
        assert_eq!(r.shown_series.len(), 1);
        assert_eq!(r.shown_series[0].frames, 5);
        assert_eq!(r.shown_series[0].glass_to_glass_max_ms, 400.0);
        assert!((r.shown_series[0].longest_gap_ms - 467.0).abs() < 0.01);
        assert!((r.longest_freeze_ms - 467.0).abs() < 0.01, "{r:?}");
        assert_eq!(r.glass_to_glass_ms, Some(110.0));
        assert_eq!(r.glass_to_glass_p95_ms, Some(400.0));
    }

    #[test]
    fn latency_samples_are_bounded() {
        let mut s = ShownFigures::default();
        let t = Instant::now();
        for i in 0..LATENCY_HISTORY + 10 {
            s.shown(t + Duration::from_millis(i as u64), i as u64 * 1000, 50.0);
        }
        assert_eq!(s.glass_to_glass_ms.len(), LATENCY_HISTORY);
        assert_eq!(
            s.seconds.len(),
            SHOWN_SERIES_CAPACITY.min(LATENCY_HISTORY + 10)
        );
        assert_eq!(s.report().frames_shown, (LATENCY_HISTORY + 10) as u64);
    }

    #[test]
    fn the_overlay_line_names_the_peer_and_its_link() {
        let line = PeerFiguresLine {
            link: LinkReport {
                name: "Ada".into(),
                rtt_ms: Some(12.4),
                candidate_pair: Some("relay/srflx".into()),
                send_estimate_kbit: Some(512.3),
                draw_fps: Some(11.9),
                packets_recovered: 3,
                packets_lost: 1,
                ..LinkReport::default()
            },
            shown: ShownReport::default(),
            voice: VoiceLine::default(),
        }
        .overlay_line();
        assert!(line.starts_with("Ada: relay/srflx  "), "{line}");
        assert!(line.contains("rtt 12 ms"), "{line}");
        assert!(line.contains("send est 512 kbit/s"), "{line}");
        assert!(line.contains("draws 12 fps"), "{line}");
        assert!(line.contains("repaired 3/4"), "{line}");
        assert!(line.contains("glass-to-glass – ms"), "{line}");
    }

    /// A peer's entity goes (as the transport despawns it): its figures stay.
    #[test]
    fn a_departed_peers_figures_are_kept_and_listed_with_the_present_ones() {
        let mut app = App::new();
        app.init_resource::<DepartedPeers>()
            .add_observer(keep_departed_figures);
        let figures = |id: u64, name: &str| {
            LinkFigures(LinkReport {
                id,
                name: name.into(),
                ..LinkReport::default()
            })
        };
        let mut shown = ShownFigures::default();
        shown.shown(Instant::now(), 0, 80.0);
        let gone = app
            .world_mut()
            .spawn((
                RemotePeer(crate::net::protocol::PeerId(2)),
                figures(2, "Bo"),
                shown,
            ))
            .id();
        app.world_mut().spawn((
            RemotePeer(crate::net::protocol::PeerId(1)),
            figures(1, "Ada"),
        ));
        let mut last = figures(2, "Bo");
        last.0.left = true;
        let mut entity = app.world_mut().entity_mut(gone);
        entity.insert(last);
        entity.despawn();
        let all = app
            .world_mut()
            .run_system_once(|f: PeerFigures| (f.all(), f.present()))
            .expect("run");
        let names: Vec<(&str, bool, u64)> = all
            .0
            .iter()
            .map(|l| (l.link.name.as_str(), l.link.left, l.shown.frames_shown))
            .collect();
        assert_eq!(names, [("Ada", false, 0), ("Bo", true, 1)]);
        assert_eq!(all.1.len(), 1);
        assert_eq!(all.1[0].link.name, "Ada");
    }

    use bevy::ecs::system::RunSystemOnce;
}
