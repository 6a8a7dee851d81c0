//! The `samespace` binary: parses the command line and runs the chosen job.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Parser;
use samespace::app::run_demo;
use samespace::bench;
use samespace::capture::Frame;
use samespace::capture::still::{list_images, load_rgb};
use samespace::cli::{BenchArgs, Cli, Command, CutoutArgs, DemoArgs, LobbyArgs, SegmentArgs};
use samespace::demo::DemoConfig;
use samespace::net::bridge::BridgeConfig;
use samespace::net::peer::NetConfig;
use samespace::net::protocol::RoomCode;
use samespace::paths::{assets_dir, models_dir};
use samespace::room::settings::Settings;
use samespace::room::target::DEFAULT_PORT;
use samespace::room::{JoinRoom, RoomSettings};
use samespace::segment::{self, BackendChoice, CutoutPipeline, SegmentConfig};

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("samespace=info,ort=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn segment_config(args: &SegmentArgs, temporal: bool) -> SegmentConfig {
    let mut c = SegmentConfig::new(args.models.clone().unwrap_or_else(models_dir));
    c.backend = args.backend;
    c.model = args.model;
    c.threads = args.threads;
    c.temporal = temporal;
    c
}

fn cutout_one(
    pipeline: &mut CutoutPipeline,
    input: &Path,
    output: &Path,
    format: image::ImageFormat,
    background: Option<[u8; 3]>,
) -> anyhow::Result<f32> {
    let (w, h, rgb) = load_rgb(input)?;
    let frame = Frame::new(0, std::time::Instant::now(), w, h, rgb)?;
    let cutout = pipeline
        .process(&frame)
        .with_context(|| format!("segmenting {}", input.display()))?;
    segment::save_cutout(&cutout, output, format, background)
        .with_context(|| format!("writing {}", output.display()))?;
    Ok(cutout.coverage())
}

/// White, behind a JPEG cutout when no `--background` is given.
const WHITE: [u8; 3] = [255, 255, 255];

fn run_cutout(args: CutoutArgs) -> anyhow::Result<()> {
    if !args.input.exists() {
        bail!("no such file or folder: {}", args.input.display());
    }
    let folder = args.input.is_dir();
    // Everything about the output is settled before any file is touched.
    let format = if folder {
        if args.output.exists() && !args.output.is_dir() {
            bail!(
                "{} is a file: a folder input needs an output folder",
                args.output.display()
            );
        }
        image::ImageFormat::Png
    } else {
        let format = samespace::cli::image_format(&args.output).with_context(|| {
            format!(
                "cannot write {}: the file name must end in .png (transparent) or .jpg/.jpeg (on --background)",
                args.output.display()
            )
        })?;
        samespace::output::check_writable(&args.output)?;
        format
    };
    let background = match (args.background, format) {
        (None, image::ImageFormat::Jpeg) => Some(WHITE),
        (bg, _) => bg,
    };
    let jobs: Vec<(PathBuf, PathBuf)> = if folder {
        list_images(&args.input)?
            .into_iter()
            .map(|p| {
                let name = p.file_stem().map(|s| s.to_os_string()).unwrap_or_default();
                let out = args.output.join(name).with_extension("png");
                (p, out)
            })
            .collect()
    } else {
        vec![(args.input.clone(), args.output.clone())]
    };
    let mut pipeline = CutoutPipeline::new(segment_config(&args.segment, false));
    let mut failed = Vec::new();
    let total = jobs.len();
    for (input, output) in jobs {
        match cutout_one(&mut pipeline, &input, &output, format, background) {
            Ok(coverage) => println!(
                "{} -> {} (backend {}, person {:.1}% of the picture)",
                input.display(),
                output.display(),
                pipeline.backend().map(|b| b.name()).unwrap_or("?"),
                coverage * 100.0
            ),
            // One picture: its error is the command's.
            Err(e) if !folder => return Err(e),
            // A folder goes on past bad files and lists them at the end.
            Err(e) => {
                tracing::error!(file = %input.display(), "{e:#}");
                failed.push(format!("  {}: {e:#}", input.display()));
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {total} images could not be cut out:\n{}",
            failed.len(),
            failed.join("\n")
        );
    }
    Ok(())
}

fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    let only = args.only.as_str();
    if ![
        "all",
        "segmentation",
        "edges",
        "render",
        "physics",
        "encode",
        "ladder",
        "audio",
        "participants",
    ]
    .contains(&only)
    {
        bail!(
            "--only must be all, segmentation, edges, render, physics, encode, ladder, audio or participants (got {only:?})"
        );
    }
    let want = |what: &str| only == "all" || only == what;
    let mut json = serde_json::Map::new();
    let still = match &args.still {
        Some(path) => {
            let (width, height, rgb) =
                load_rgb(path).with_context(|| format!("reading {}", path.display()))?;
            Some(bench::Still { width, height, rgb })
        }
        None => None,
    };
    if want("segmentation") {
        let models = args.models.clone().unwrap_or_else(models_dir);
        let mut backends = Vec::new();
        match args.backend {
            BackendChoice::Auto => {
                if samespace::segment::runtime::ensure_onnxruntime().is_ok() {
                    backends.push(BackendChoice::Ort);
                } else {
                    println!("ONNX Runtime not found: measuring tract only");
                }
                backends.push(BackendChoice::Tract);
            }
            one => backends.push(one),
        }
        let mut rows = Vec::new();
        for b in backends {
            // 640x480 also with the guided filter (off by default).
            for (w, h, guided) in [(640, 480, false), (640, 480, true), (1280, 720, false)] {
                let frames = if b == BackendChoice::Tract {
                    args.frames.min(20)
                } else {
                    args.frames
                };
                rows.push(bench::bench_segmentation(
                    &models,
                    b,
                    w,
                    h,
                    frames,
                    still.as_ref(),
                    guided,
                )?);
            }
        }
        let source = match &args.still {
            Some(path) => format!(
                "{} with camera noise (sigma {} levels)",
                path.display(),
                bench::STILL_NOISE_SIGMA
            ),
            None => "synthetic participant frames".into(),
        };
        println!("Segmentation (frame → cutout), {source}, ms/frame:");
        print!("{}", bench::segmentation_table(&rows));
        json.insert("segmentation".into(), serde_json::to_value(&rows)?);
    }
    if want("edges") {
        match (&still, &args.reference) {
            (Some(still), Some(reference)) => {
                let mask = image::open(reference)
                    .with_context(|| format!("reading {}", reference.display()))?
                    .into_luma8();
                let mut config = SegmentConfig::new(args.models.clone().unwrap_or_else(models_dir));
                config.backend = args.backend;
                let rows = bench::bench_edges(
                    &config,
                    still,
                    mask.as_raw(),
                    args.frames,
                    bench::STILL_NOISE_SIGMA,
                )?;
                println!(
                    "\nEdges: {} against {}, {} noisy frames:",
                    args.still.as_deref().unwrap_or(Path::new("")).display(),
                    reference.display(),
                    args.frames
                );
                print!("{}", bench::edges_table(&rows));
                json.insert("edges".into(), serde_json::to_value(&rows)?);
            }
            _ if only == "edges" => bail!("--only edges needs --still and --reference"),
            _ => println!("Edges: skipped (needs --still and --reference)"),
        }
    }
    if want("participants") {
        let fps = 15.0;
        let rows = bench::bench_participants(args.frames.max(30), fps);
        println!(
            "\nDemo participants, 640x480 frame drawn by the synthetic camera (room, person, noise), ms/frame:"
        );
        print!("{}", bench::participants_table(&rows));
        json.insert("participants".into(), serde_json::to_value(&rows)?);
    }
    if want("physics") {
        println!(
            "\nGame physics (meteor-dodge), 640x480 masks → silhouettes → colliders → 60 Hz step, ms/frame:"
        );
        println!("people  silhouettes  physics  frame mean  frame p95  pieces/person");
        let mut rows = Vec::new();
        for n in [2, 4, 8] {
            let r = samespace::games::bench_physics(n, 300);
            println!(
                "{:>6}  {:>11.2}  {:>7.2}  {:>10.2}  {:>9.2}  {:>13.1}",
                n,
                r.silhouette_ms_mean,
                r.physics_ms_mean,
                r.frame_ms_mean,
                r.frame_ms_p95,
                r.pieces_mean
            );
            rows.push(r);
        }
        json.insert("physics".into(), serde_json::to_value(&rows)?);
    }
    if want("encode") {
        let r = samespace::record::bench_encode(60)?;
        println!("\nVideo coding, ms/frame (mean of {} frames):", r.frames);
        println!(
            "  RGBA→I420 + H.264 encode 1280x720 (recording): {:.2}",
            r.encode_ms_per_frame_720p
        );
        println!(
            "  RGB→I420 640x480:                               {:.2}",
            r.rgb_to_yuv_ms_480p
        );
        println!(
            "  alpha-pack + encode 640x960 (network track):    {:.2}",
            r.packed_encode_ms_640x960
        );
        println!(
            "  decode 640x960:                                 {:.2}",
            r.packed_decode_ms_640x960
        );
        json.insert("encode".into(), serde_json::to_value(&r)?);
    }
    if want("ladder") {
        let rows = bench::bench_ladder(args.ladder_seconds)?;
        println!(
            "\nSend ladder: a moving 640x480 cutout captured at 30 fps, {:.0} s per row:",
            args.ladder_seconds
        );
        print!("{}", bench::ladder_table(&rows));
        json.insert("ladder".into(), serde_json::to_value(&rows)?);
    }
    if want("audio") {
        let r = bench::bench_audio(4, args.audio_seconds)?;
        println!(
            "\nAudio chain, {} remote people, {:.0} s of speech-like audio, ms per 10 ms (p50 / p95):",
            r.remote_people, r.seconds
        );
        for (stage, p) in [
            ("voice processing (AEC3 + NS + AGC2)", r.processing),
            ("Opus encode", r.encode),
            ("Opus decode, everyone", r.decode),
            ("speaker mix + reference", r.mix),
            ("whole chain", r.total),
        ] {
            println!("  {stage:<36} {:>6.3} / {:<6.3}", p.p50, p.p95);
        }
        println!(
            "  median cost: {:.3} of one core (target ≤ 0.1)",
            r.core_fraction
        );
        json.insert("audio".into(), serde_json::to_value(&r)?);
    }
    if want("render") {
        println!(
            "\nHeadless render 1280x720 (lavapipe), live demo participants, {} s runs:",
            args.render_seconds
        );
        println!("people  fps  fps recording  ratio");
        let exe = std::env::current_exe().context("locating the samespace binary")?;
        let dir = std::env::temp_dir().join(format!("samespace-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut rows = Vec::new();
        for n in [2usize, 4, 8] {
            let mut fps = [0f64; 2];
            for (k, record) in [false, true].into_iter().enumerate() {
                let report = dir.join(format!("r{n}{k}.json"));
                let mut cmd = std::process::Command::new(&exe);
                cmd.args([
                    "demo",
                    "--headless",
                    "--seconds",
                    &args.render_seconds.to_string(),
                    "--participants",
                    &n.to_string(),
                    "--max-fps",
                    "0",
                    "--report",
                ])
                .arg(&report);
                if record {
                    cmd.arg("--record").arg(dir.join(format!("r{n}.mp4")));
                }
                let out = cmd.output().context("running a headless demo")?;
                if !out.status.success() {
                    bail!(
                        "headless demo with {n} people failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                let r: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&report)?)?;
                fps[k] = r["render_fps"].as_f64().unwrap_or(0.0);
            }
            println!(
                "{:>6}  {:>4.1}  {:>13.1}  {:>5.2}",
                n,
                fps[0],
                fps[1],
                fps[1] / fps[0].max(1e-6)
            );
            rows.push(
                serde_json::json!({"participants": n, "fps": fps[0], "fps_recording": fps[1]}),
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        json.insert("render".into(), serde_json::Value::Array(rows));
    }
    if let Some(path) = args.json {
        samespace::output::write_bytes(&path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    }
    Ok(())
}

fn run_cameras() -> anyhow::Result<()> {
    let cams = samespace::capture::webcam::list_cameras()?;
    if cams.is_empty() {
        println!("no cameras found (the demo participant stands in: --camera synthetic)");
    }
    for c in cams {
        println!("{}\t{}", c.index, c.name);
    }
    Ok(())
}

fn has_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
}

/// The media and ICE settings of a room from the demo's flags (server, room and
/// name are filled in per room).
fn bridge_template(args: &DemoArgs, server: &str, name: &str) -> anyhow::Result<BridgeConfig> {
    let mut net = NetConfig::new(
        server.to_string(),
        RoomCode::from_random(0),
        name.to_string(),
    );
    net.ca_file = args.ca.clone();
    // A server on this machine means the peers are here too: loopback candidates only.
    if samespace::room::target::is_loopback_url(server) {
        net = net.loopback_only();
    }
    net.recovery_window = args.recovery_ms.map(std::time::Duration::from_millis);
    net.timeouts.connect = std::time::Duration::from_secs(args.connect_timeout_secs.max(1));
    for url in &args.ice.ice_server {
        net.ice_servers
            .push(samespace::net::peer::IceServer::from_url(
                url,
                &args.ice.ice_username,
                &args.ice.ice_credential,
            )?);
    }
    if !args.ice_bind.is_empty() {
        net.udp_addrs = args.ice_bind.clone();
    }
    net.simulated_delay = std::time::Duration::from_millis(args.sim_delay_ms);
    net.simulated_jitter = std::time::Duration::from_millis(args.sim_jitter_ms);
    net.simulated_loss = args.sim_loss.clamp(0.0, 1.0);
    net.video_fec = args.video_fec.0;
    let mut config = BridgeConfig::new(net);
    config.muted = args.mute;
    config.audio = match args.audio {
        samespace::cli::AudioMode::Device => samespace::net::bridge::AudioDevices::Devices {
            input: args.audio_in.clone(),
            output: args.audio_out.clone(),
        },
        samespace::cli::AudioMode::Synthetic => samespace::net::bridge::AudioDevices::Synthetic,
    };
    if args.no_voice_processing {
        config.talk = samespace::talk::TalkSettings::off();
    }
    config.voices = std::sync::Arc::new(samespace::media::voice::mixer::VoiceBus::new(
        !args.no_voice_placement,
    ));
    config.voices.set_lip_sync(!args.no_lip_sync);
    config.tone_gate = args.tone_gate_ms.map(std::time::Duration::from_millis);
    config.video_bitrate_bps = args.video_kbit.saturating_mul(1000);
    config.video_fps = args.video_fps.clamp(1.0, 60.0);
    Ok(config)
}

/// The network part of a demo: `None` without `--server`.
fn net_config(args: &DemoArgs, name: &str) -> anyhow::Result<Option<BridgeConfig>> {
    let Some(server) = &args.server else {
        return Ok(None);
    };
    let room: RoomCode = match &args.room {
        Some(code) => code
            .parse()
            .with_context(|| format!("room code {code:?}"))?,
        None => {
            let code = RoomCode::random();
            println!("room: {code} (created; others join with --room {code})");
            code
        }
    };
    let mut config = bridge_template(args, server, name)?;
    config.net.room = room;
    config.net.secret = args.secret.clone();
    Ok(Some(config))
}

/// Checks `--camera` by opening it once: a file must decode, a camera must
/// be attached. A name that is none of these lists the choices.
fn check_camera(spec: &str) -> anyhow::Result<()> {
    if spec == "synthetic" || spec == "demo" {
        return Ok(());
    }
    let synthetic = samespace::capture::SyntheticParams::default();
    match samespace::capture::open_source(spec, synthetic, 640, 480, 30) {
        Ok(_) => Ok(()),
        Err(
            e @ (samespace::capture::CaptureError::NotFound(_)
            | samespace::capture::CaptureError::NoCamera(_)),
        ) => {
            let cameras: Vec<(u32, String)> = samespace::capture::webcam::list_cameras()
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c.index, c.name))
                .collect();
            bail!(
                "unknown camera {spec:?} ({e}); choose one of: {}",
                samespace::cli::camera_choices(&cameras)
            )
        }
        Err(e) => Err(e).with_context(|| format!("camera {spec:?}")),
    }
}

fn demo_config(args: DemoArgs) -> anyhow::Result<DemoConfig> {
    let headless = args.headless || !has_display();
    let themes: Vec<String> = samespace::world::theme::list_themes(&assets_dir().join("themes"))
        .into_iter()
        .map(|t| t.name)
        .collect();
    let capacity = samespace::net::signaling::server::ServerConfig::default().room_capacity;
    let checked = args.check(&themes, headless, capacity)?;
    for spec in &args.camera {
        check_camera(spec)?;
    }
    let segment = segment_config(&args.segment, true);
    let name = args
        .name
        .clone()
        .or_else(|| {
            std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty() && u != "root")
        })
        .unwrap_or_else(|| "You".into());
    let net = net_config(&args, &name)?;
    let rooms = RoomSettings {
        bridge: bridge_template(&args, "", &name)?,
        exit_on_failure: headless,
        ..RoomSettings::default()
    };
    Ok(DemoConfig {
        headless,
        seconds: args.seconds.or(headless.then_some(6.0)),
        participants: checked.participants,
        theme: args.theme,
        // Headless with nothing asked for: show something — a snapshot and a short clip.
        record: args.record.clone().or_else(|| {
            (headless && args.snapshot.is_none() && args.report.is_none())
                .then(|| PathBuf::from("out/demo.mp4"))
        }),
        snapshot: args.snapshot.clone().or_else(|| {
            (headless && args.record.is_none()).then(|| PathBuf::from("out/demo-snapshot.png"))
        }),
        report: args.report,
        camera: args.camera.first().cloned(),
        demo_cameras: args.camera.iter().skip(1).cloned().collect(),
        name,
        segment,
        width: checked.width,
        height: checked.height,
        demo_fps: args.demo_fps,
        max_fps: args.max_fps,
        game: args.game,
        seed: args.seed,
        theme_cycle: args.theme_cycle,
        net,
        lobby: false,
        connect: None,
        rooms,
    })
}

fn run_demo_command(args: DemoArgs) -> anyhow::Result<()> {
    run_app(demo_config(args)?)
}

/// The window with the lobby (`samespace`), or straight into `Connecting`
/// (`samespace join TARGET`). The saved settings are the defaults; flags override.
fn run_lobby(lobby: LobbyArgs, join: Option<String>) -> anyhow::Result<()> {
    let Ok(Cli {
        command: Some(Command::Demo(mut args)),
        ..
    }) = Cli::try_parse_from(["samespace", "demo", "--participants", "1"])
    else {
        bail!("internal: default demo arguments do not parse");
    };
    let saved = Settings::load();
    args.name = lobby.name.or(saved.name);
    args.camera = lobby.camera.or(saved.camera).into_iter().collect();
    if let Some(theme) = lobby.theme.or(saved.theme) {
        args.theme = theme;
    }
    args.ice = lobby.ice;
    let mut config = demo_config(args)?;
    config.lobby = !config.headless;
    config.rooms.port = lobby.port.or(saved.port).unwrap_or(DEFAULT_PORT);
    config.rooms.lan = !lobby.local_only;
    config.rooms.server = lobby.server.or(saved.server);
    config.rooms.secret = lobby.secret;
    // Microphone, speaker and mute: flags (checked against the attached devices),
    // else the saved choice, else the default devices.
    let side = |flag: &'static str, given: Option<String>, saved: Option<String>, input| {
        if let Some(given) = &given {
            let devices = samespace::media::audio_device::list_devices(input);
            samespace::cli::check_audio_device(flag, given, &devices)?;
        }
        anyhow::Ok(samespace::media::audio_device::DeviceChoice::parse(
            given.or(saved).as_deref().unwrap_or("default"),
        ))
    };
    let input = side("microphone", lobby.audio_in, saved.mic, true)?;
    let output = side("speaker", lobby.audio_out, saved.speaker, false)?;
    config.rooms.bridge.audio = samespace::net::bridge::AudioDevices::Each { input, output };
    config.rooms.bridge.muted = lobby.mute || saved.muted.unwrap_or(false);
    if let Some(target) = join {
        let request = JoinRoom {
            target,
            name: config.name.clone(),
            server: config.rooms.server.clone(),
            secret: config.rooms.secret.clone(),
        };
        let plan = config
            .rooms
            .plan_join(&request)
            .map_err(|reason| anyhow::anyhow!("cannot join {:?}: {reason}", request.target))?;
        config.connect = Some(plan);
    }
    run_app(config)
}

fn run_app(config: DemoConfig) -> anyhow::Result<()> {
    let outputs = [
        ("snapshot", config.snapshot.clone()),
        ("recording", config.record.clone()),
        ("report", config.report.clone()),
    ];
    // An output that cannot be written fails now, not at the end of the run.
    for (name, path) in &outputs {
        if let Some(path) = path {
            samespace::output::check_writable(path).with_context(|| format!("the {name}"))?;
        }
    }
    if config.headless {
        println!(
            "no display: running headless for {:.0} s",
            config.seconds.unwrap_or(0.0)
        );
    }
    let outcome = run_demo(config);
    let requested: Vec<(&str, &PathBuf)> = outputs
        .iter()
        .filter_map(|(name, path)| path.as_ref().map(|p| (*name, p)))
        .collect();
    for &(name, path) in &requested {
        if outcome.outputs.written.contains(path) {
            println!("{name}: {}", path.display());
        }
    }
    let mut problems = outcome.outputs.errors.clone();
    problems.extend(
        outcome
            .outputs
            .missing(&requested)
            .into_iter()
            .map(|m| format!("not written: {m}")),
    );
    if !outcome.exit.is_success() && problems.is_empty() {
        problems.push(format!("the demo ended with an error ({:?})", outcome.exit));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

fn run_themes() -> anyhow::Result<()> {
    let themes = samespace::world::theme::list_themes(&assets_dir().join("themes"));
    if themes.is_empty() {
        bail!(
            "no themes found in {}",
            assets_dir().join("themes").display()
        );
    }
    for t in themes {
        println!("{}\t{} — {}", t.name, t.title, t.description);
    }
    Ok(())
}

fn run_record_synthetic(args: samespace::cli::RecordSyntheticArgs) -> anyhow::Result<()> {
    use samespace::record::{SyntheticOptions, record_synthetic};
    let options = SyntheticOptions {
        seconds: args.seconds,
        width: args.width,
        height: args.height,
        realtime: !args.offline,
        ..SyntheticOptions::default()
    };
    let stats = record_synthetic(&args.output, &options)
        .with_context(|| format!("recording {}", args.output.display()))?;
    tracing::info!(
        frames = stats.frames_written,
        dropped = stats.frames_dropped,
        seconds = stats.duration.as_secs_f64(),
        encode_ms = stats.encode_ms_per_frame,
        "synthetic recording done"
    );
    if let Some(err) = stats.error {
        return Err(err).context("recording failed");
    }
    Ok(())
}

fn serve(args: &samespace::cli::ServeArgs) -> anyhow::Result<()> {
    init_logging();
    // Relaying JSON needs little CPU; a few workers keep the memory (stacks, malloc
    // arenas) small on machines with many cores.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .thread_name("samespace-net")
        .build()
        .context("starting the tokio runtime")?;
    let config = args.server_config().context("the server's settings")?;
    runtime.block_on(async {
        let server = samespace::net::signaling::server::bind_and_serve(args.bind, config);
        tokio::select! {
            result = server => result.with_context(|| format!("serving on {}", args.bind)),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

fn main() -> anyhow::Result<()> {
    samespace::memory::tune_allocator();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Cutout(args)) => {
            init_logging();
            run_cutout(args)
        }
        Some(Command::Bench(args)) => {
            init_logging();
            run_bench(args)
        }
        Some(Command::Cameras) => {
            init_logging();
            run_cameras()
        }
        Some(Command::Demo(args)) => run_demo_command(args),
        Some(Command::Themes) => run_themes(),
        Some(Command::RecordSynthetic(args)) => {
            init_logging();
            run_record_synthetic(args)
        }
        Some(Command::Serve(args)) => serve(&args),
        Some(Command::Games) => {
            for (name, description) in samespace::games::list() {
                println!("{name}\t{description}");
            }
            Ok(())
        }
        Some(Command::Join(args)) => run_lobby(args.lobby, Some(args.target)),
        // The GUI: the lobby, or without a display a headless demo room.
        None => run_lobby(cli.lobby, None),
    }
}
