//! A signaling server inside the app, for *Create room* without a configured server.
//!
//! [`EmbeddedServer`] owns a one-worker tokio runtime (thread `samespace-signal`)
//! running [`serve`]; dropping it stops the server. Friends on the LAN join with the
//! URL of the machine's address and the bound port.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;
use tracing::warn;

use crate::net::error::{NetError, NetResult};
use crate::net::signaling::server::{ServerConfig, serve};

/// A running in-process signaling server.
pub struct EmbeddedServer {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl EmbeddedServer {
    /// Binds `bind` (port 0 picks a free port) and starts serving.
    ///
    /// Call it from a plain thread, not from inside a tokio runtime.
    pub fn start(bind: SocketAddr, config: ServerConfig) -> NetResult<Self> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(NetError::InsideRuntime);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("samespace-signal")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(bind))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            if let Err(err) = serve(listener, config).await {
                warn!(%err, "embedded signaling server stopped");
            }
        });
        Ok(Self {
            addr,
            runtime: Some(runtime),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A `ws://` URL for clients on this machine (a wildcard bind maps to loopback).
    pub fn url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        format!("ws://{addr}")
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
