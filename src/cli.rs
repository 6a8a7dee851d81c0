//! Command line: `samespace serve` (the signaling server).
//!
//! net: only the `serve` subcommand lives here for now; the lead reconciles the rest.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::net::signaling::server::ServerConfig;

/// samespace: friends far apart, together in one themed world.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the signaling server (WebSocket + JSON rooms).
    Serve(ServeArgs),
}

/// Arguments of `samespace serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9470")]
    pub bind: SocketAddr,
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
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            room_capacity: self.room_capacity,
            idle_timeout: Duration::from_secs(self.idle_timeout_s),
            secret: self.secret.clone(),
            ..ServerConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
