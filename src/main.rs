//! `samespace`: parses the command line and runs the chosen subcommand.

use anyhow::Context;
use clap::Parser;
use samespace::cli::{Cli, Command};
use samespace::record::{SyntheticOptions, record_synthetic};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("samespace=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Some(Command::RecordSynthetic(args)) => {
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
        None => Ok(()),
    }
}
