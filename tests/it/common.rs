//! Shared helpers for the integration tests.

use std::net::SocketAddr;
use std::sync::Once;

use samespace::net::signaling::server::{ServerConfig, serve};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Turns on logging once, off unless `RUST_LOG` is set.
pub fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}

/// A signaling server on `127.0.0.1:0`, stopped when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Starts a server with `config`.
    pub async fn start(config: ServerConfig) -> Self {
        init_logging();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(serve(listener, config));
        Self { addr, task }
    }

    /// The server's `ws://` URL.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
