//! samespace: friends far apart, together in one themed 2D world as live webcam cutouts.
//!
//! Capabilities, one folder each (see `docs/ARCHITECTURE.md`):
//! - [`capture`]: frame sources (webcam, still image, image sequence, synthetic participant).
//! - [`segment`]: person segmentation (ONNX Runtime or tract) and mask post-processing.
//! - [`world`]: the Bevy world: participants as cutout sprites, themes, placement.
//! - [`bodies`]: silhouette contours and colliders from masks (pure).
//! - [`games`]: party games on rapier2d physics, rules without the engine.
//! - [`net`]: signaling protocol and server, WebRTC peers.
//! - [`media`]: H.264 and Opus coding, alpha packing, audio sources.
//! - [`record`]: MP4 recording of the combined scene.
//! - [`room`]: the screens ([`Screen`]: lobby → connecting → room), creating and
//!   joining rooms (the embedded signaling server), what a room owns, settings.
//! - [`ui`]: egui lobby, connecting screen, room panel and stats overlay.
//! - [`demo`]: the demo driver (demo participants, the timed headless run) and its
//!   JSON report.
//! - [`app`]: the composition root ([`app::AppPlugin`], [`app::run_demo`]).
//! - [`voice`]: voices placed where people stand, who is speaking, volume and mute.

pub mod bench;
pub mod bodies;
pub mod capture;
pub mod cli;
pub mod demo;
pub mod games;
pub mod media;
#[allow(
    unsafe_code,
    reason = "glibc's malloc settings and trim are reached through FFI (libc)"
)]
pub mod memory;
pub mod net;
pub mod output;
pub mod paths;
pub mod record;
pub mod room;
pub mod segment;
pub mod talk;
pub mod ui;
pub mod voice;
pub mod world;

pub mod app;

use bevy::prelude::{Message, MessageReader, States, SystemSet};

/// The app's screens: `Lobby → Connecting → Room → Lobby` (a failed or cancelled
/// `Connecting` goes back to `Lobby`). What a room owns (the network link, remote
/// participants, the game) exists only in `Room`; see [`room`].
#[derive(States, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Screen {
    /// Name, camera, theme; create or join a room.
    #[default]
    Lobby,
    /// Joining a room (and, for a created room, starting the embedded server) on a
    /// worker thread; the frame loop keeps running.
    Connecting,
    /// In a room (a networked one, or the offline demo room).
    Room,
}

/// The frame's system order, chained once in [`app::AppPlugin`]: every capability
/// puts its systems in one of these sets.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppSystems {
    /// Drain worker channels (cutouts, network events) into the world.
    Ingest,
    /// Keyboard, mouse and UI input.
    Input,
    /// Game rules, physics, arrangement.
    Simulate,
    /// Share state with peers.
    Sync,
    /// Update what is drawn (transforms, materials, HUD).
    Present,
    /// Hand frames to the recorder and the encoder.
    Egress,
}

/// Something the person at the screen should know: a failure (camera, recording,
/// connection) or a change they did not cause (the segmentation fell back to the
/// slower backend, the host removed someone). Any capability writes it; the window
/// shows it as a toast (`ui::toast`), and every notice is logged where it is
/// written. Register it with `app.add_message::<Notice>()` (idempotent) in the
/// plugin that writes it.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// How serious it is.
    pub level: NoticeLevel,
    /// What to show, one line (empty, with a subject: take the notice about that
    /// subject off the screen).
    pub text: String,
    /// What it is about, where a newer notice on the same subject replaces the
    /// older on screen ("back in touch" replaces "lost the connection").
    pub subject: Option<&'static str>,
}

/// How a [`Notice`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    /// Something changed; nothing is broken.
    Info,
    /// Something works less well than asked (a slower backend).
    Warning,
    /// Something the person asked for failed.
    Error,
}

impl Notice {
    /// An informational notice.
    pub fn info(text: impl Into<String>) -> Self {
        Self {
            level: NoticeLevel::Info,
            text: text.into(),
            subject: None,
        }
    }

    /// A warning.
    pub fn warning(text: impl Into<String>) -> Self {
        Self {
            level: NoticeLevel::Warning,
            text: text.into(),
            subject: None,
        }
    }

    /// An error.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            level: NoticeLevel::Error,
            text: text.into(),
            subject: None,
        }
    }

    /// The same notice, about `subject`: it replaces an on-screen notice about the
    /// same subject.
    pub fn about(self, subject: &'static str) -> Self {
        Self {
            subject: Some(subject),
            ..self
        }
    }
}

/// Logs every [`Notice`] (the window also shows them; a headless run only logs).
pub fn log_notices(mut notices: MessageReader<Notice>) {
    for notice in notices.read().filter(|n| !n.text.is_empty()) {
        match notice.level {
            NoticeLevel::Info => tracing::info!(text = %notice.text, "notice"),
            NoticeLevel::Warning => tracing::warn!(text = %notice.text, "notice"),
            NoticeLevel::Error => tracing::error!(text = %notice.text, "notice"),
        }
    }
}
