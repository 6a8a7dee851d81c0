//! Shared helpers for the integration tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;

use samespace::net::signaling::server::{ServerConfig, serve};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `tests/data`.
pub fn data(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

/// A fresh, empty temporary folder for one test.
pub fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("samespace-it-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Waits (at most 30 s) until the log file at `path` contains `needle`; `false`
/// if it never did.
pub fn wait_for_log(path: &Path, needle: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(path).is_ok_and(|log| log.contains(needle)) {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    true
}

/// Runs the `samespace` binary with arguments.
pub fn samespace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_samespace"))
        .args(args)
        .current_dir(root())
        .env("RUST_LOG", "samespace=info")
        .output()
        .expect("run samespace")
}

/// Runs `samespace demo --headless --seconds S --participants N` plus `extra`.
pub fn headless_demo(seconds: &str, participants: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "demo",
        "--headless",
        "--seconds",
        seconds,
        "--participants",
        participants,
    ];
    args.extend_from_slice(extra);
    samespace(&args)
}

/// stderr and stdout of a run, for messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An 8-bit grey mask from a PNG (any colour type; the first channel or luma).
pub fn load_mask(path: &Path) -> (u32, u32, Vec<u8>) {
    let img = image::open(path).expect("open mask").into_luma8();
    let (w, h) = img.dimensions();
    (w, h, img.into_raw())
}

/// The alpha channel of an RGBA PNG.
pub fn load_alpha(path: &Path) -> (u32, u32, Vec<u8>) {
    let img = image::open(path).expect("open png").into_rgba8();
    let (w, h) = img.dimensions();
    (w, h, img.pixels().map(|p| p.0[3]).collect())
}

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

    /// The server's `wss://` URL by name (`localhost`, as the test certificate says).
    pub fn wss_url(&self) -> String {
        format!("wss://localhost:{}", self.addr.port())
    }
}

/// A certificate authority made for one test, and a server certificate it signed for
/// `localhost` and `127.0.0.1`, as PEM files in a folder.
pub struct TestCa {
    /// The CA's certificate (what `--ca` takes).
    pub ca: PathBuf,
    /// The server's certificate chain (server certificate, then the CA).
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

impl TestCa {
    /// Makes the CA and the server certificate under `dir`.
    pub fn create(dir: &Path) -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "samespace test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");
        let server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        let server_key = KeyPair::generate().expect("server key");
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");
        let ca = dir.join("ca.pem");
        let cert = dir.join("server.pem");
        let key = dir.join("server-key.pem");
        std::fs::write(&ca, issuer.pem()).expect("write CA");
        std::fs::write(&cert, format!("{}{}", server_cert.pem(), issuer.pem()))
            .expect("write certificate");
        std::fs::write(&key, server_key.serialize_pem()).expect("write key");
        Self { ca, cert, key }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A JSON file (a `--report`), parsed.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}
