//! Command line: `samespace <subcommand>` parsed with clap into plain data.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::segment::{BackendChoice, ModelChoice};

/// Friends far apart, together in one themed world as live webcam cutouts.
#[derive(Debug, Parser)]
#[command(name = "samespace", version, about)]
pub struct Cli {
    /// What to do; with none, the lobby opens (create a room, or join one).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Lobby options (with no subcommand).
    #[command(flatten)]
    pub lobby: LobbyArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once at start; boxing would only add noise to every match"
)]
pub enum Command {
    /// Cut the person out of an image (or every image in a folder) into an RGBA PNG.
    Cutout(CutoutArgs),
    /// Measure per-stage times of the pipeline and print a table.
    Bench(BenchArgs),
    /// List the attached cameras.
    Cameras,
    /// Open a room with you (or the demo participant) and demo participants.
    Demo(DemoArgs),
    /// List the themed worlds, one per line, name first.
    Themes,
    /// List the party games, one per line, name first.
    Games,
    /// Record a synthetic clip (moving square, flash + beep) for tests.
    #[command(hide = true)]
    RecordSynthetic(RecordSyntheticArgs),
    /// Run the signaling server (WebSocket + JSON rooms).
    Serve(ServeArgs),
    /// Open the window straight into a room: a code (on `--server`, else on this
    /// computer) or a join link `ws://HOST:PORT/CODE`.
    Join(JoinArgs),
}

/// Arguments of `samespace serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9470")]
    pub bind: std::net::SocketAddr,
    /// Shared secret every client must send in `join`.
    #[arg(long)]
    pub secret: Option<String>,
    /// Most peers in one room.
    #[arg(long, default_value_t = 8)]
    pub room_capacity: usize,
    /// Seconds of silence after which a connection is closed.
    #[arg(long, default_value_t = 60)]
    pub idle_timeout_s: u64,
    /// Joins allowed from one address (IPv6: one /64), as JOINS/SECONDS, e.g.
    /// `20/10s`; `off` for no limit. Refused joins get `too-many-joins`.
    #[arg(long, default_value = "20/10s", value_parser = parse_join_rate)]
    pub join_rate: JoinRateArg,
    /// Most simultaneous connections; more are refused with HTTP 503.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Serve wss:// with this certificate chain (PEM, server certificate first).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// A parsed `--join-rate` (`None`: no limit).
pub type JoinRateArg = Option<crate::net::signaling::server::JoinRate>;

fn parse_join_rate(s: &str) -> Result<JoinRateArg, String> {
    crate::net::signaling::limit::parse_join_rate(s).map_err(|e| e.to_string())
}

impl ServeArgs {
    /// The server configuration these arguments describe (the TLS files are read
    /// here, so a bad one is an error before the server starts).
    pub fn server_config(
        &self,
    ) -> Result<crate::net::signaling::server::ServerConfig, crate::net::error::NetError> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::net::signaling::tls::server_tls(cert, key)?),
            _ => None,
        };
        Ok(crate::net::signaling::server::ServerConfig {
            room_capacity: self.room_capacity,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_s),
            secret: self.secret.clone(),
            join_rate: self.join_rate,
            max_connections: self.max_connections,
            tls,
            ..crate::net::signaling::server::ServerConfig::default()
        })
    }
}

/// `samespace record-synthetic` (hidden; used by the crash-safety test).
#[derive(Debug, Args)]
pub struct RecordSyntheticArgs {
    /// Output MP4.
    pub output: PathBuf,
    /// Length in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Frame width.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Frame height.
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Render as fast as encoding allows instead of in real time.
    #[arg(long)]
    pub offline: bool,
}

/// `samespace demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// No window: render offscreen (automatic when there is no display).
    #[arg(long)]
    pub headless: bool,
    /// Stop after this many seconds (headless default: 6).
    #[arg(long)]
    pub seconds: Option<f32>,
    /// People in the room, you included; the others are demo participants (0: the
    /// empty world). Default: 3, or one per `--camera` when more are given.
    #[arg(long)]
    pub participants: Option<usize>,
    /// Theme name (see `samespace themes`).
    #[arg(long, default_value = "beach")]
    pub theme: String,
    /// Save a PNG of the scene at the end.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Write a JSON report at the end.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Your camera: an index or name (`0`, `webcam:usb`), an image, a folder of
    /// images, a video file, or `synthetic`. Default: the demo participant.
    /// Repeatable: each further `--camera` replaces the next demo participant, in
    /// order (a scene made from files of several people).
    #[arg(long)]
    pub camera: Vec<String>,
    /// Your name.
    #[arg(long)]
    pub name: Option<String>,
    /// Scene width in pixels.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Scene height in pixels.
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Frame rate of the demo participants (lower saves CPU).
    #[arg(long, default_value_t = 15.0)]
    pub demo_fps: f32,
    /// Most frames a second a headless run draws (0: as many as it can). Drawing
    /// faster than the recording's 30 fps only takes CPU from the room's other work.
    #[arg(long, default_value_t = 30.0)]
    pub max_fps: f32,
    /// Play a party game (see `samespace games`); demo participants play along.
    #[arg(long, value_parser = parse_game)]
    pub game: Option<crate::games::GameKind>,
    /// Seed of the game's random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Join a room on this signaling server (`ws://host:port`, or `wss://host:port`
    /// for TLS).
    #[arg(long)]
    pub server: Option<String>,
    /// The signaling server's shared secret (`serve --secret`).
    #[arg(long, requires = "server")]
    pub secret: Option<String>,
    /// Also trust the certificates in this PEM file for `wss://` (a private CA or
    /// a self-signed server); the system's roots are always trusted.
    #[arg(long, requires = "server")]
    pub ca: Option<PathBuf>,
    /// Room code to join or create (with `--server`; default: a fresh code, printed).
    #[arg(long, requires = "server")]
    pub room: Option<String>,
    /// Send no audio.
    #[arg(long)]
    pub mute: bool,
    /// Voice in a networked room: `device` (the microphone and speaker; a side with
    /// no device falls back to a synthetic tone / measuring only) or `synthetic`.
    #[arg(long, value_enum, default_value_t = AudioMode::Device)]
    pub audio: AudioMode,
    /// Hear every voice in the middle, unchanged, rather than where its person
    /// stands (panned left/right and softened with distance).
    #[arg(long)]
    pub no_voice_placement: bool,
    /// Play each remote voice as its packets come, not held to its person's
    /// pictures (no lip sync; the A/V offset is still measured).
    #[arg(long)]
    pub no_lip_sync: bool,
    /// The synthetic voice alternates this many ms of its tone with as many of
    /// silence (a voice that speaks and pauses).
    #[arg(long, value_parser = clap::value_parser!(u64).range(20..=60_000))]
    pub tone_gate_ms: Option<u64>,
    /// Microphone to use by name (default: the system's default input).
    #[arg(long)]
    pub audio_in: Option<String>,
    /// Speaker to use by name (default: the system's default output).
    #[arg(long)]
    pub audio_out: Option<String>,
    /// Send the voice as captured: no echo cancellation, noise suppression or gain control.
    #[arg(long)]
    pub no_voice_processing: bool,
    /// Video bit rate target for the network stream, kbit/s.
    #[arg(long, default_value_t = 600)]
    pub video_kbit: u32,
    /// Video frame rate sent to the room (the local demo participant moves at it).
    #[arg(long, default_value_t = 30.0)]
    pub video_fps: f32,
    /// STUN and TURN servers.
    #[command(flatten)]
    pub ice: IceArgs,
    /// Seconds a connection to a peer may take to come up before it is started
    /// over (up to 5 attempts).
    #[arg(long, default_value_t = 20)]
    pub connect_timeout_secs: u64,
    /// Local address(es) for ICE candidates (e.g. `10.0.0.5:0`); default: every
    /// interface plus loopback, or loopback only for a server on this machine.
    #[arg(long)]
    pub ice_bind: Vec<String>,
    /// How long received video with a missing packet waits for its retransmission
    /// (NACK) before asking for a keyframe, ms; default: four measured round trips
    /// plus 100 ms (100–1000). Video that arrives whole is never held.
    #[arg(long)]
    pub recovery_ms: Option<u64>,
    /// Hold outgoing media back this many ms (a slow link where the kernel has no netem).
    #[arg(long, default_value_t = 0)]
    pub sim_delay_ms: u64,
    /// Vary that delay by up to ± this many ms per packet (packets keep their order).
    #[arg(long, default_value_t = 0)]
    pub sim_jitter_ms: u64,
    /// FlexFEC on the video sent: `auto` sends repair packets while the link
    /// loses packets (and rebuilds received video from a peer's), `MEDIA:REPAIR`
    /// (for example `10:2`) always sends REPAIR repair packets per MEDIA media
    /// packets, `off` repairs by retransmission only. A peer with `off` has none
    /// either way.
    #[arg(long, value_name = "auto|off|MEDIA:REPAIR", default_value = "auto",
          value_parser = crate::net::peer::VideoFecSetting::parse)]
    pub video_fec: crate::net::peer::VideoFecSetting,
    /// Drop this fraction of outgoing media packets (a lossy link without netem).
    #[arg(long, default_value_t = 0.0)]
    pub sim_loss: f64,
    /// Switch to the next theme every this many seconds (a tour of the worlds).
    #[arg(long)]
    pub theme_cycle: Option<f32>,
    /// Record the scene and the room's audio to this MP4 (fragmented: a crash keeps what was recorded).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Segmentation options.
    #[command(flatten)]
    pub segment: SegmentArgs,
}

/// Options shared by everything that segments.
#[derive(Debug, Clone, Args)]
pub struct SegmentArgs {
    /// Inference backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Segmentation model.
    #[arg(long, value_enum, default_value_t = ModelChoice::Auto)]
    pub model: ModelChoice,
    /// Folder with the ONNX models (default: the bundled `models/`).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// `samespace cutout`.
#[derive(Debug, Args)]
pub struct CutoutArgs {
    /// An image file (png, jpg) or a folder of them.
    pub input: PathBuf,
    /// Output picture: `.png` keeps the transparency, `.jpg`/`.jpeg` is
    /// flattened onto `--background`. For a folder input, a folder of PNGs.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Colour behind the person (`#rrggbb`): makes the picture opaque. JPEG
    /// output always has one (default white).
    #[arg(long, value_parser = parse_colour)]
    pub background: Option<[u8; 3]>,
    /// Segmentation options.
    #[command(flatten)]
    pub segment: SegmentArgs,
}

/// `samespace bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Frames measured per case (after warm-up).
    #[arg(long, default_value_t = 60)]
    pub frames: usize,
    /// Backends to measure: all available, or one.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Folder with the ONNX models (default: the bundled `models/`).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Which measurements: all, or one of segmentation, edges, render, physics, encode,
    /// ladder, audio, participants.
    #[arg(long, default_value = "all")]
    pub only: String,
    /// Segmentation frames from this picture (stretched to each size, new camera
    /// noise on every frame) instead of the synthetic participant; the edge
    /// measurements use it at its own size.
    #[arg(long)]
    pub still: Option<PathBuf>,
    /// The still's reference mask (grey PNG of its size), for the edge measurements.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Seconds of audio through the audio chain.
    #[arg(long, default_value_t = 20.0)]
    pub audio_seconds: f32,
    /// Seconds per headless render run.
    #[arg(long, default_value_t = 6.0)]
    pub render_seconds: f32,
    /// Seconds of video per send-ladder row (rung × bit rate).
    #[arg(long, default_value_t = 6.0)]
    pub ladder_seconds: f32,
}

/// Smallest scene side, in pixels.
pub const MIN_SIDE: u32 = 16;
/// Largest scene side, in pixels (the H.264 encoder's limit).
pub const MAX_SIDE: u32 = 3840;
/// People in a demo room when neither `--participants` nor several `--camera`s say.
pub const DEFAULT_PARTICIPANTS: usize = 3;

/// Largest shorter side, in pixels (the encoder takes at most 3840x2160).
pub const MAX_SHORT_SIDE: u32 = 2160;

/// A flag of `demo` that cannot work, found before anything starts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArgError {
    /// A number outside the range that works.
    #[error("--{flag} {value} is out of range: {expected}")]
    OutOfRange {
        /// The flag, without dashes.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What would work.
        expected: &'static str,
    },
    /// More people than a room holds.
    #[error(
        "{given} participants (--participants, or one per --camera) is more than a room holds: at most {capacity} people, you included"
    )]
    TooManyParticipants {
        /// The number given.
        given: usize,
        /// The room capacity.
        capacity: usize,
    },
    /// More `--camera`s than people asked for: each camera is one person.
    #[error(
        "{cameras} cameras for --participants {participants}: each --camera is one person (you first, then the demo participants in order); give --participants {cameras} or more, or leave it out"
    )]
    MoreCamerasThanParticipants {
        /// The `--camera`s given.
        cameras: usize,
        /// The `--participants` given.
        participants: usize,
    },
    /// No theme was found at all: the bundled assets are not where we looked.
    #[error(
        "no themes found: the assets folder is missing (run from the project folder, or set SAMESPACE_ASSETS to its assets/ folder)"
    )]
    NoThemes,
    /// A name that is not one of the choices.
    #[error("unknown {what} {given:?}; choose one of: {choices}")]
    Unknown {
        /// What kind of name (theme, camera).
        what: &'static str,
        /// The name given.
        given: String,
        /// The valid names, comma-separated.
        choices: String,
    },
    /// Two outputs that would overwrite each other.
    #[error("--{first} and --{second} name the same file {path}")]
    SameFile {
        /// One flag.
        first: &'static str,
        /// The other flag.
        second: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A picture file name whose extension is not png, jpg or jpeg.
    #[error("--{flag} {path}: the file name must end in .png, .jpg or .jpeg")]
    Extension {
        /// The flag.
        flag: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// An output that an untimed windowed run never reaches.
    #[error("--{flag} is written at the end of a timed run: add --seconds (or --headless)")]
    NeedsSeconds {
        /// The flag.
        flag: &'static str,
    },
}

/// The picture format a file name asks for: PNG or JPEG, by extension
/// (case-insensitive); `None` for anything else.
pub fn image_format(path: &std::path::Path) -> Option<image::ImageFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some(image::ImageFormat::Png),
        "jpg" | "jpeg" => Some(image::ImageFormat::Jpeg),
        _ => None,
    }
}

/// Checks a scene side and makes it even (H.264 works on 2x2 blocks).
fn scene_side(flag: &'static str, value: u32) -> Result<u32, ArgError> {
    if !(MIN_SIDE..=MAX_SIDE).contains(&value) {
        return Err(ArgError::OutOfRange {
            flag,
            value: value.to_string(),
            expected: "16 to 3840 pixels",
        });
    }
    Ok(value & !1)
}

/// Checks that a number of seconds or frames per second is finite and positive.
fn positive(flag: &'static str, value: f64, max: f64) -> Result<(), ArgError> {
    if value.is_finite() && value > 0.0 && value <= max {
        return Ok(());
    }
    Err(ArgError::OutOfRange {
        flag,
        value: value.to_string(),
        expected: if max >= 1e9 {
            "a finite number above 0"
        } else {
            "a finite number above 0 and at most 120"
        },
    })
}

/// What `demo`'s flags come to, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedDemo {
    /// People in the room, you included: `--participants`, or by default 3 or
    /// one per `--camera`, whichever is more.
    pub participants: usize,
    /// Scene width, even.
    pub width: u32,
    /// Scene height, even.
    pub height: u32,
}

impl DemoArgs {
    /// Checks every flag that needs no file system or device, so that a wrong
    /// one stops the run before anything starts. `themes` are the theme names
    /// there are; `headless` says whether the run has no window; a room holds
    /// `room_capacity` people.
    pub fn check(
        &self,
        themes: &[String],
        headless: bool,
        room_capacity: usize,
    ) -> Result<CheckedDemo, ArgError> {
        let width = scene_side("width", self.width)?;
        let height = scene_side("height", self.height)?;
        if width.min(height) > MAX_SHORT_SIDE {
            return Err(ArgError::OutOfRange {
                flag: "height",
                value: self.height.to_string(),
                expected: "at most 3840x2160 (or 2160x3840) in all",
            });
        }
        if let Some(s) = self.seconds {
            positive("seconds", f64::from(s), f64::MAX)?;
        }
        if let Some(s) = self.theme_cycle {
            positive("theme-cycle", f64::from(s), f64::MAX)?;
        }
        positive("demo-fps", f64::from(self.demo_fps), 120.0)?;
        if self.max_fps != 0.0 {
            positive("max-fps", f64::from(self.max_fps), 1000.0)?;
        }
        positive("video-fps", f64::from(self.video_fps), 120.0)?;
        if !(0.0..=1.0).contains(&self.sim_loss) {
            return Err(ArgError::OutOfRange {
                flag: "sim-loss",
                value: self.sim_loss.to_string(),
                expected: "a fraction from 0 to 1",
            });
        }
        let participants = match self.participants {
            Some(given) if given < self.camera.len() => {
                return Err(ArgError::MoreCamerasThanParticipants {
                    cameras: self.camera.len(),
                    participants: given,
                });
            }
            Some(given) => given,
            None => DEFAULT_PARTICIPANTS.max(self.camera.len()),
        };
        if participants > room_capacity {
            return Err(ArgError::TooManyParticipants {
                given: participants,
                capacity: room_capacity,
            });
        }
        if themes.is_empty() {
            return Err(ArgError::NoThemes);
        }
        if !themes.contains(&self.theme) {
            return Err(ArgError::Unknown {
                what: "theme",
                given: self.theme.clone(),
                choices: themes.join(", "),
            });
        }
        let outputs = [
            ("record", &self.record),
            ("snapshot", &self.snapshot),
            ("report", &self.report),
        ];
        for (i, &(first, a)) in outputs.iter().enumerate() {
            for &(second, b) in &outputs[i + 1..] {
                if let (Some(a), Some(b)) = (a, b)
                    && a == b
                {
                    return Err(ArgError::SameFile {
                        first,
                        second,
                        path: a.clone(),
                    });
                }
            }
        }
        if let Some(path) = &self.snapshot
            && image_format(path).is_none()
        {
            return Err(ArgError::Extension {
                flag: "snapshot",
                path: path.clone(),
            });
        }
        if !headless && self.seconds.is_none() {
            for (flag, path) in [("snapshot", &self.snapshot), ("report", &self.report)] {
                if path.is_some() {
                    return Err(ArgError::NeedsSeconds { flag });
                }
            }
        }
        Ok(CheckedDemo {
            participants,
            width,
            height,
        })
    }
}

/// The valid `--camera` values, for an error message: the built-in participant,
/// each attached camera, and the kinds of file.
pub fn camera_choices(cameras: &[(u32, String)]) -> String {
    let mut choices = vec!["synthetic".to_string()];
    if cameras.is_empty() {
        choices.push("a camera number (none is attached now)".into());
    }
    choices.extend(cameras.iter().map(|(i, name)| format!("{i} ({name})")));
    choices.push("an image file (png, jpg)".into());
    choices.push("a folder of images".into());
    choices.push(format!(
        "a video file ({})",
        crate::capture::VIDEO_EXTENSIONS.join(", ")
    ));
    choices.join(", ")
}

/// Parses a colour written `#rrggbb` (the `#` may be left out).
pub fn parse_colour(s: &str) -> Result<[u8; 3], String> {
    let hex = s.strip_prefix('#').unwrap_or(s);
    let bad = || format!("colour {s:?} is not #rrggbb (for example #ffffff for white)");
    if hex.len() != 6 || !hex.is_ascii() {
        return Err(bad());
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
    Ok([channel(0)?, channel(2)?, channel(4)?])
}

fn parse_game(s: &str) -> Result<crate::games::GameKind, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = crate::games::list().into_iter().map(|(n, _)| n).collect();
        format!("unknown game {s:?}; choose one of: {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn cutout_arguments_parse() {
        let cli = Cli::try_parse_from([
            "samespace",
            "cutout",
            "a.png",
            "-o",
            "b.png",
            "--backend",
            "tract",
            "--model",
            "general",
        ])
        .expect("parses");
        match cli.command {
            Some(Command::Cutout(a)) => {
                assert_eq!(a.segment.backend, BackendChoice::Tract);
                assert_eq!(a.segment.model, ModelChoice::General);
                assert_eq!(a.output, PathBuf::from("b.png"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn demo_arguments_parse_with_defaults() {
        let cli = Cli::try_parse_from([
            "samespace",
            "demo",
            "--headless",
            "--seconds",
            "3",
            "--theme",
            "space",
        ])
        .expect("parses");
        match cli.command {
            Some(Command::Demo(d)) => {
                assert!(d.headless);
                assert_eq!(d.seconds, Some(3.0));
                assert_eq!(d.participants, None);
                assert!(d.camera.is_empty());
                assert_eq!(d.theme, "space");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn record_synthetic_parses_seconds_and_output() {
        let cli = Cli::parse_from(["samespace", "record-synthetic", "--seconds", "3", "out.mp4"]);
        match cli.command {
            Some(Command::RecordSynthetic(args)) => {
                assert_eq!(args.seconds, 3.0);
                assert_eq!(args.output, PathBuf::from("out.mp4"));
                assert!(!args.offline);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn serve_parses_bind_and_secret() {
        let cli = Cli::parse_from([
            "samespace",
            "serve",
            "--bind",
            "0.0.0.0:1234",
            "--secret",
            "s",
        ]);
        let Some(Command::Serve(args)) = cli.command else {
            panic!("expected serve");
        };
        assert_eq!(args.bind.port(), 1234);
        let config = args.server_config().expect("no TLS files to read");
        assert_eq!(config.secret.as_deref(), Some("s"));
        assert_eq!(config.room_capacity, 8);
        assert_eq!(
            config.join_rate,
            Some(crate::net::signaling::server::JoinRate::default())
        );
        assert!(config.tls.is_none());
    }

    #[test]
    fn serve_takes_a_join_rate_and_tls_files_in_pairs() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["samespace", "serve"];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args)
        };
        let Ok(Cli {
            command: Some(Command::Serve(args)),
            ..
        }) = parse(&["--join-rate", "off"])
        else {
            panic!("--join-rate off parses");
        };
        assert_eq!(args.join_rate, None);
        assert!(parse(&["--join-rate", "fast"]).is_err());
        assert!(
            parse(&["--tls-cert", "c.pem"]).is_err(),
            "a cert needs its key"
        );
        let Ok(Cli {
            command: Some(Command::Serve(args)),
            ..
        }) = parse(&["--tls-cert", "/nonexistent/c.pem", "--tls-key", "k.pem"])
        else {
            panic!("cert and key parse");
        };
        let err = args.server_config().expect_err("the files are missing");
        assert!(err.to_string().contains("/nonexistent/c.pem"), "{err}");
    }

    #[test]
    fn demo_takes_a_secret_and_a_ca_with_a_server() {
        let cli = Cli::try_parse_from([
            "samespace",
            "demo",
            "--server",
            "wss://localhost:9470",
            "--secret",
            "s",
            "--ca",
            "ca.pem",
        ])
        .expect("parses");
        let Some(Command::Demo(d)) = cli.command else {
            panic!("expected demo");
        };
        assert_eq!(d.secret.as_deref(), Some("s"));
        assert_eq!(d.ca, Some(PathBuf::from("ca.pem")));
        assert!(Cli::try_parse_from(["samespace", "demo", "--secret", "s"]).is_err());
    }

    fn demo(args: &[&str]) -> DemoArgs {
        let mut all = vec!["samespace", "demo"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).expect("parses").command {
            Some(Command::Demo(d)) => d,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn check(args: &[&str]) -> Result<CheckedDemo, ArgError> {
        let themes = ["beach".to_string(), "space".to_string()];
        demo(args).check(&themes, true, 8)
    }

    #[test]
    fn the_default_demo_flags_pass() {
        assert_eq!(
            check(&[]),
            Ok(CheckedDemo {
                participants: 3,
                width: 1280,
                height: 720
            })
        );
    }

    #[test]
    fn scene_sizes_must_be_sane_and_are_made_even() {
        assert!(matches!(
            check(&["--width", "0", "--height", "0"]),
            Err(ArgError::OutOfRange { flag: "width", .. })
        ));
        assert!(matches!(
            check(&["--height", "15"]),
            Err(ArgError::OutOfRange { flag: "height", .. })
        ));
        assert!(check(&["--width", "3841"]).is_err());
        assert!(check(&["--width", "3840", "--height", "3840"]).is_err());
        assert_eq!(
            check(&["--width", "641", "--height", "361"]),
            Ok(CheckedDemo {
                participants: 3,
                width: 640,
                height: 360
            })
        );
        assert!(check(&["--width", "16", "--height", "3840"]).is_ok());
    }

    #[test]
    fn seconds_and_rates_must_be_finite_and_positive() {
        for bad in ["nan", "inf", "0", "-1"] {
            let flag = format!("--seconds={bad}");
            let err = check(&[flag.as_str()]).expect_err(bad);
            assert!(err.to_string().contains("--seconds"), "{err}");
        }
        assert!(check(&["--demo-fps", "nan"]).is_err());
        assert!(check(&["--video-fps", "0"]).is_err());
        assert!(check(&["--theme-cycle=-2"]).is_err());
        assert!(check(&["--sim-loss", "1.5"]).is_err());
        assert!(check(&["--seconds", "0.5"]).is_ok());
    }

    #[test]
    fn participants_beyond_the_room_capacity_are_refused_with_the_capacity() {
        let err = check(&["--participants", "1000"]).expect_err("too many");
        assert!(err.to_string().contains("at most 8 people"), "{err}");
        assert!(check(&["--participants", "8"]).is_ok());
        assert!(check(&["--participants", "0"]).is_ok());
    }

    #[test]
    fn each_camera_is_one_participant_and_more_cameras_than_people_are_refused() {
        let cams = [
            "--camera", "a.png", "--camera", "b.png", "--camera", "c.png",
        ];
        let people = |args: &[&str]| check(args).map(|c| c.participants);
        assert_eq!(people(&cams[..2]), Ok(3), "one camera, the default room");
        assert_eq!(people(&cams), Ok(3));
        let five = [&cams[..], &["--camera", "d.png", "--camera", "e.png"]].concat();
        assert_eq!(people(&five), Ok(5), "the room grows to one per camera");
        assert_eq!(
            people(&[&cams[..], &["--participants", "4"]].concat()),
            Ok(4)
        );
        let err = check(&[&cams[..], &["--participants", "2"]].concat()).expect_err("3 > 2");
        assert_eq!(
            err,
            ArgError::MoreCamerasThanParticipants {
                cameras: 3,
                participants: 2
            }
        );
        assert!(err.to_string().contains("give --participants 3"), "{err}");
        let nine: Vec<&str> = (0..9).flat_map(|_| ["--camera", "a.png"]).collect();
        assert!(matches!(
            check(&nine),
            Err(ArgError::TooManyParticipants { given: 9, .. })
        ));
    }

    #[test]
    fn an_unknown_theme_lists_the_themes() {
        let err = check(&["--theme", "moon"]).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown theme \"moon\"; choose one of: beach, space"
        );
    }

    #[test]
    fn no_themes_at_all_says_the_assets_are_missing() {
        let err = demo(&[]).check(&[], true, 8).expect_err("no themes");
        assert_eq!(err, ArgError::NoThemes);
        assert!(err.to_string().contains("SAMESPACE_ASSETS"), "{err}");
    }

    #[test]
    fn colours_parse_from_hex() {
        assert_eq!(parse_colour("#ff8000"), Ok([255, 128, 0]));
        assert_eq!(parse_colour("00FF00"), Ok([0, 255, 0]));
        for bad in ["#fff", "#gg0000", "white", "#ff00001", "#ééé"] {
            assert!(parse_colour(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_snapshot_must_be_a_png_or_a_jpeg() {
        assert!(matches!(
            check(&["--snapshot", "shot.bmp"]),
            Err(ArgError::Extension { .. })
        ));
        assert!(check(&["--snapshot", "shot.JPG"]).is_ok());
        assert_eq!(
            image_format(Path::new("a.jpeg")),
            Some(image::ImageFormat::Jpeg)
        );
        assert_eq!(image_format(Path::new("a")), None);
    }

    #[test]
    fn two_outputs_on_one_file_are_refused() {
        let err = check(&["--snapshot", "a.png", "--report", "a.png"]).expect_err("same");
        assert!(matches!(err, ArgError::SameFile { .. }), "{err}");
    }

    #[test]
    fn a_window_without_seconds_cannot_promise_a_snapshot() {
        let themes = ["beach".to_string()];
        let err = demo(&["--snapshot", "a.png"])
            .check(&themes, false, 8)
            .expect_err("untimed");
        assert_eq!(err, ArgError::NeedsSeconds { flag: "snapshot" });
        assert!(
            demo(&["--snapshot", "a.png", "--seconds", "2"])
                .check(&themes, false, 8)
                .is_ok()
        );
    }

    #[test]
    fn an_unknown_game_lists_the_games() {
        let err = Cli::try_parse_from(["samespace", "demo", "--game", "chess"])
            .expect_err("unknown game");
        let text = err.to_string();
        assert!(
            text.contains("chess") && text.contains("meteor-dodge"),
            "{text}"
        );
    }

    #[test]
    fn camera_choices_name_the_cameras_and_the_kinds_of_file() {
        let text = camera_choices(&[(0, "Integrated Camera".into())]);
        assert!(
            text.starts_with("synthetic, 0 (Integrated Camera), an image file"),
            "{text}"
        );
        assert!(text.contains("mp4") && text.contains("webm"), "{text}");
        assert!(camera_choices(&[]).contains("none is attached"));
    }

    #[test]
    fn join_takes_a_link_and_lobby_options() {
        let cli = Cli::parse_from([
            "samespace",
            "join",
            "ws://10.0.0.2:9470/K7Q-4MZ",
            "--name",
            "Bo",
        ]);
        let Some(Command::Join(args)) = cli.command else {
            panic!("expected join");
        };
        assert_eq!(args.target, "ws://10.0.0.2:9470/K7Q-4MZ");
        assert_eq!(args.lobby.name.as_deref(), Some("Bo"));
        let cli = Cli::parse_from(["samespace", "--port", "9555", "--local-only"]);
        assert!(cli.command.is_none());
        assert_eq!(cli.lobby.port, Some(9555));
        assert!(cli.lobby.local_only);
    }

    #[test]
    fn the_lobby_and_the_demo_take_turn_servers() {
        let turn = [
            "--ice-server",
            "stun:turn.example.org:3478",
            "--ice-server",
            "turn:turn.example.org:3478?transport=udp",
            "--ice-username",
            "friends",
            "--ice-credential",
            "s3cret",
        ];
        let expect = |ice: &IceArgs| {
            assert_eq!(ice.ice_server.len(), 2);
            assert_eq!(
                ice.ice_server[1],
                "turn:turn.example.org:3478?transport=udp"
            );
            assert_eq!(
                (ice.ice_username.as_str(), ice.ice_credential.as_str()),
                ("friends", "s3cret")
            );
        };
        let cli = Cli::parse_from([&["samespace"][..], &turn].concat());
        expect(&cli.lobby.ice);
        let cli = Cli::parse_from([&["samespace", "join", "K7Q-4MZ"][..], &turn].concat());
        let Some(Command::Join(args)) = cli.command else {
            panic!("expected join");
        };
        expect(&args.lobby.ice);
        let cli = Cli::parse_from([&["samespace", "demo"][..], &turn].concat());
        let Some(Command::Demo(args)) = cli.command else {
            panic!("expected demo");
        };
        expect(&args.ice);
    }

    #[test]
    fn an_unknown_audio_device_lists_the_devices() {
        let devices = ["USB Headset".to_string()];
        assert!(check_audio_device("microphone", "none", &devices).is_ok());
        assert!(check_audio_device("microphone", "default", &devices).is_ok());
        assert!(check_audio_device("microphone", "USB Headset", &devices).is_ok());
        let err = check_audio_device("microphone", "Studio", &devices).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown microphone \"Studio\"; choose one of: none, default, USB Headset"
        );
        let err = check_audio_device("speaker", "x", &[]).expect_err("none attached");
        assert!(err.to_string().contains("none is attached"), "{err}");
        let cli = Cli::parse_from(["samespace", "--audio-in", "none", "--mute"]);
        assert_eq!(cli.lobby.audio_in.as_deref(), Some("none"));
        assert!(cli.lobby.mute);
    }

    #[test]
    fn unknown_backends_are_refused() {
        assert!(
            Cli::try_parse_from([
                "samespace",
                "cutout",
                "a.png",
                "-o",
                "b.png",
                "--backend",
                "gpu"
            ])
            .is_err()
        );
    }
}

/// Where a networked room's voices come from and go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AudioMode {
    /// Microphone and speaker when present.
    Device,
    /// A synthetic tone out; received voices measured only.
    Synthetic,
}

/// Options of the lobby (`samespace` with no subcommand) and of `samespace join`.
/// Each overrides the saved settings.
#[derive(Debug, Clone, Default, Args)]
pub struct LobbyArgs {
    /// Your name.
    #[arg(long)]
    pub name: Option<String>,
    /// Signaling server to create and join rooms on (`ws://HOST:PORT`); default: a
    /// room you create is served by the app itself.
    #[arg(long)]
    pub server: Option<String>,
    /// Port of the app's own signaling server for rooms you create (default 9470).
    #[arg(long)]
    pub port: Option<u16>,
    /// Rooms you create can be joined from this computer only (the app's server
    /// listens on loopback, and no traffic leaves the machine).
    #[arg(long)]
    pub local_only: bool,
    /// The server's shared secret (for a room you create: the secret it asks for).
    #[arg(long)]
    pub secret: Option<String>,
    /// Your camera (see `samespace demo --help`); default: the demo participant.
    #[arg(long)]
    pub camera: Option<String>,
    /// Theme name (see `samespace themes`).
    #[arg(long)]
    pub theme: Option<String>,
    /// Microphone: `none` (a synthetic tone is sent), `default`, or a device's name.
    #[arg(long)]
    pub audio_in: Option<String>,
    /// Speaker: `none` (voices are not played), `default`, or a device's name.
    #[arg(long)]
    pub audio_out: Option<String>,
    /// Join rooms muted.
    #[arg(long)]
    pub mute: bool,
    /// STUN and TURN servers (for friends behind NATs: docs/DEPLOY.md).
    #[command(flatten)]
    pub ice: IceArgs,
}

/// STUN and TURN servers for the connections to the other peers (docs/DEPLOY.md).
#[derive(Debug, Clone, Default, Args)]
pub struct IceArgs {
    /// A STUN or TURN server (`stun:HOST:PORT`, `turn:HOST:PORT?transport=udp`);
    /// repeatable. Default: none (LAN and loopback work without).
    #[arg(long)]
    pub ice_server: Vec<String>,
    /// User name for the TURN servers.
    #[arg(long, default_value = "")]
    pub ice_username: String,
    /// Credential for the TURN servers.
    #[arg(long, default_value = "")]
    pub ice_credential: String,
}

/// Checks a lobby `--audio-in`/`--audio-out` value against the attached devices:
/// `none`, `default` or one of `devices`; anything else lists the choices.
pub fn check_audio_device(
    flag: &'static str,
    given: &str,
    devices: &[String],
) -> Result<(), ArgError> {
    use crate::media::audio_device::{DEFAULT_DEVICE, DeviceChoice, NO_DEVICE};
    match DeviceChoice::parse(given) {
        DeviceChoice::Named(name) if !devices.contains(&name) => {
            let mut choices = vec![NO_DEVICE.to_string(), DEFAULT_DEVICE.to_string()];
            if devices.is_empty() {
                choices.push("a device name (none is attached now)".into());
            }
            choices.extend(devices.iter().cloned());
            Err(ArgError::Unknown {
                what: flag,
                given: name,
                choices: choices.join(", "),
            })
        }
        _ => Ok(()),
    }
}

/// `samespace join`.
#[derive(Debug, Clone, Args)]
pub struct JoinArgs {
    /// A room code (`K7Q-4MZ`) or a join link (`ws://HOST:PORT/CODE`).
    pub target: String,
    /// Lobby options.
    #[command(flatten)]
    pub lobby: LobbyArgs,
}
