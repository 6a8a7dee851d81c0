//! The DTLS handshake under loss, driven sans-IO through rtc's `dtls::Endpoint` on a
//! virtual clock: the regression test for the retransmission fix carried in
//! `vendor/rtc-dtls` (see `vendor/README.md`).
//!
//! rtc-dtls 0.21.1 cleared a waiting side's retransmission timer whenever handshake
//! records arrived, also when they were only the other side's retransmission of its
//! previous flight. Both sides retransmit every second from nearly the same moment,
//! so when the client's flight 5 was lost, the server's repeated flight 4 usually
//! reached the client just before the client's own timer fired: the client's timer
//! was gone, flight 5 was never sent again, and the connection hung until the app
//! gave up on it (8 s in the lossy namespace test, seen in about 1 run in 15).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::dtls::config::{ConfigBuilder, HandshakeConfig};
use rtc::dtls::crypto::Certificate;
use rtc::dtls::endpoint::{Endpoint, EndpointEvent};
use rtc::shared::TransportProtocol;

const CLIENT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5001);
const SERVER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5002);

/// A WebRTC-like configuration: each side holds a self-signed certificate, and the
/// fingerprint check happens elsewhere (as in a peer connection).
fn config(is_client: bool) -> Arc<HandshakeConfig> {
    let provider = rtc::crypto::default_provider().expect("a crypto provider");
    let certificate =
        Certificate::generate_self_signed(vec!["samespace".to_owned()], provider.crypto())
            .expect("a certificate");
    let built = ConfigBuilder::default()
        .with_crypto_provider(provider)
        .with_certificates(vec![certificate])
        .with_insecure_skip_verify(true)
        .build(is_client, None)
        .expect("a DTLS configuration");
    Arc::new(built)
}

/// Both ends of one association and what each has finished.
struct Pair {
    client: Endpoint,
    server: Endpoint,
    client_done: bool,
    server_done: bool,
}

impl Pair {
    fn new() -> Self {
        Self {
            client: Endpoint::new(CLIENT, TransportProtocol::UDP, None),
            server: Endpoint::new(SERVER, TransportProtocol::UDP, Some(config(false))),
            client_done: false,
            server_done: false,
        }
    }

    /// The datagrams the client has queued.
    fn sent_by_client(&mut self) -> Vec<BytesMut> {
        std::iter::from_fn(|| self.client.poll_transmit())
            .map(|t| t.message)
            .collect()
    }

    /// The datagrams the server has queued.
    fn sent_by_server(&mut self) -> Vec<BytesMut> {
        std::iter::from_fn(|| self.server.poll_transmit())
            .map(|t| t.message)
            .collect()
    }

    fn deliver_to_server(&mut self, now: Instant, datagrams: Vec<BytesMut>) {
        for datagram in datagrams {
            let events = self
                .server
                .read(now, CLIENT, None, datagram)
                .expect("server read");
            self.server_done |= events
                .iter()
                .any(|e| matches!(e, EndpointEvent::HandshakeComplete));
        }
    }

    fn deliver_to_client(&mut self, now: Instant, datagrams: Vec<BytesMut>) {
        for datagram in datagrams {
            let events = self
                .client
                .read(now, SERVER, None, datagram)
                .expect("client read");
            self.client_done |= events
                .iter()
                .any(|e| matches!(e, EndpointEvent::HandshakeComplete));
        }
    }

    /// Delivers everything queued, both ways, until nothing is left in flight.
    fn deliver_all(&mut self, now: Instant) {
        loop {
            let (up, down) = (self.sent_by_client(), self.sent_by_server());
            if up.is_empty() && down.is_empty() {
                return;
            }
            self.deliver_to_server(now, up);
            self.deliver_to_client(now, down);
        }
    }
}

#[test]
fn a_lost_final_client_flight_is_sent_again_when_the_servers_repeat_arrives_first() {
    let start = Instant::now();
    let mut pair = Pair::new();
    pair.client
        .connect(start, SERVER, config(true), None)
        .expect("connect");
    // ClientHello → HelloVerifyRequest → ClientHello with the cookie → flight 4.
    for _ in 0..2 {
        let hello = pair.sent_by_client();
        pair.deliver_to_server(start, hello);
        let reply = pair.sent_by_server();
        pair.deliver_to_client(start, reply);
    }
    // The client's flight 5 (certificate, key exchange, verify, Finished) is lost.
    let flight5 = pair.sent_by_client();
    assert!(!flight5.is_empty(), "the client answered flight 4");
    assert!(!pair.client_done && !pair.server_done);

    // A second later both retransmission timers are due. The server's fires first and
    // its repeated flight 4 reaches the client before the client handles its own.
    let mut now = start + Duration::from_secs(1);
    pair.server
        .handle_timeout(CLIENT, now)
        .expect("server timer");
    let repeat = pair.sent_by_server();
    assert!(!repeat.is_empty(), "the server repeated flight 4");
    pair.deliver_to_client(now, repeat);
    pair.client
        .handle_timeout(SERVER, now)
        .expect("client timer");

    // From here nothing is lost. Each side's timers drive it, as a driver's loop would.
    let deadline = start + Duration::from_secs(6);
    while !(pair.client_done && pair.server_done) && now < deadline {
        pair.deliver_all(now);
        let next = [
            pair.client.poll_timeout(&SERVER),
            pair.server.poll_timeout(&CLIENT),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        now = next.max(now);
        pair.server
            .handle_timeout(CLIENT, now)
            .expect("server timer");
        pair.client
            .handle_timeout(SERVER, now)
            .expect("client timer");
    }
    pair.deliver_all(now);
    assert!(
        pair.client_done && pair.server_done,
        "handshake completed within 6 s of virtual time (client {}, server {})",
        pair.client_done,
        pair.server_done
    );
}
