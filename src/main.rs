//! samespace binary entry point.

use anyhow::Context;
use clap::Parser;
use samespace::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(&args),
        None => Ok(()),
    }
}

fn serve(args: &samespace::cli::ServeArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("samespace=info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("samespace-net")
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        let server =
            samespace::net::signaling::server::bind_and_serve(args.bind, args.server_config());
        tokio::select! {
            result = server => result.with_context(|| format!("serving on {}", args.bind)),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
