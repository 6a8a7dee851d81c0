//! Two peers meet through an in-process signaling server on loopback and exchange chat and video.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use samespace::net::peer::{EncodedMedia, NetCommand, NetConfig, NetEvent, NetHandle};
use samespace::net::protocol::{Chat, PeerToPeer, RoomCode};
use samespace::net::signaling::embedded::EmbeddedServer;
use samespace::net::signaling::server::ServerConfig;
use tracing::info;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "samespace=info,peer_loopback=info",
        ))
        .init();
    let server = EmbeddedServer::start("127.0.0.1:0".parse()?, ServerConfig::default())?;
    let room = RoomCode::random();
    info!(url = server.url(), %room, "server up");
    let join =
        |name: &str| NetHandle::connect(NetConfig::new(server.url(), room, name).loopback_only());
    let ada = join("Ada").context("Ada joins")?;
    let bob = join("Bob").context("Bob joins")?;

    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut chats, mut frames) = (0, 0);
    let mut sent = 0u8;
    while Instant::now() < deadline && (chats == 0 || frames < 30) {
        ada.send(NetCommand::World {
            to: None,
            message: PeerToPeer::Chat(Chat::Text {
                text: "hi Bob".into(),
            }),
        })?;
        let mut unit = vec![0, 0, 0, 1, 0x65];
        unit.extend(std::iter::repeat_n(sent | 1, 2000));
        ada.send(NetCommand::Video(EncodedMedia {
            data: Bytes::from(unit),
            duration: Duration::from_millis(33),
            captured_at: Instant::now(),
        }))?;
        sent = sent.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(33));
        for event in bob.events().try_iter() {
            match event {
                NetEvent::World {
                    message: PeerToPeer::Chat(chat),
                    ..
                } => {
                    chats += 1;
                    info!(?chat, "Bob got a chat");
                }
                NetEvent::Stats { rtt, kbit_s, .. } => info!(?rtt, kbit_s, "Bob's link to Ada"),
                NetEvent::PeerConnected { id } => info!(%id, "Bob connected"),
                _ => {}
            }
        }
        for media in bob.media().try_iter() {
            if let NetEvent::Video(unit) = media {
                frames += 1;
                info!(bytes = unit.data.len(), latency = ?unit.network_latency(), "Bob got a frame");
            }
        }
    }
    info!(chats, frames, "done");
    ada.leave();
    bob.leave();
    Ok(())
}
