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
}

impl ServeArgs {
    /// The server configuration these arguments describe.
    pub fn server_config(&self) -> crate::net::signaling::server::ServerConfig {
        crate::net::signaling::server::ServerConfig {
            room_capacity: self.room_capacity,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_s),
            secret: self.secret.clone(),
            ..crate::net::signaling::server::ServerConfig::default()
        }
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
    /// People in the room, you included; the others are demo participants (0: the empty world).
    #[arg(long, default_value_t = 3)]
    pub participants: usize,
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
    /// images, an `.h264` file, or `synthetic`. Default: the demo participant.
    #[arg(long)]
    pub camera: Option<String>,
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
    /// Play a party game (see `samespace games`); demo participants play along.
    #[arg(long, value_parser = parse_game)]
    pub game: Option<crate::games::GameKind>,
    /// Seed of the game's random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Join a room on this signaling server (`ws://host:port`).
    #[arg(long)]
    pub server: Option<String>,
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
    /// Microphone to use by name (default: the system's default input).
    #[arg(long)]
    pub audio_in: Option<String>,
    /// Speaker to use by name (default: the system's default output).
    #[arg(long)]
    pub audio_out: Option<String>,
    /// Video bit rate target for the network stream, kbit/s.
    #[arg(long, default_value_t = 600)]
    pub video_kbit: u32,
    /// Video frame rate sent to the room (the local demo participant moves at it).
    #[arg(long, default_value_t = 15.0)]
    pub video_fps: f32,
    /// A STUN or TURN server (`stun:HOST:PORT`, `turn:HOST:PORT`); repeatable.
    /// Default: none (LAN and loopback work without).
    #[arg(long)]
    pub ice_server: Vec<String>,
    /// User name for the TURN servers.
    #[arg(long, default_value = "")]
    pub ice_username: String,
    /// Credential for the TURN servers.
    #[arg(long, default_value = "")]
    pub ice_credential: String,
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
    /// Output PNG (or folder, when the input is a folder).
    #[arg(short, long)]
    pub output: PathBuf,
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
    /// Which measurements: all, or one of segmentation, render, physics, encode.
    #[arg(long, default_value = "all")]
    pub only: String,
    /// Seconds per headless render run.
    #[arg(long, default_value_t = 6.0)]
    pub render_seconds: f32,
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
                assert_eq!(d.participants, 3);
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
        let config = args.server_config();
        assert_eq!(config.secret.as_deref(), Some("s"));
        assert_eq!(config.room_capacity, 8);
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
