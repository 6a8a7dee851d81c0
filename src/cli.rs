//! Command line: `samespace <subcommand>` parsed with clap into plain data.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Friends far apart, together in one themed world as live webcam cutouts.
#[derive(Debug, Parser)]
#[command(name = "samespace", version, about)]
pub struct Cli {
    /// What to do; with none, the demo room opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record a synthetic clip (moving square, flash + beep) for tests.
    #[command(hide = true)]
    RecordSynthetic(RecordSyntheticArgs),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
