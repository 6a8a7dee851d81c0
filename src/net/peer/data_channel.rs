//! The `world` data channels: each channel's reader task parses [`PeerToPeer`]
//! messages, answers pings on the channel they came on and hands the rest to the
//! app.

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{Instrument, debug, info_span};
use webrtc::data_channel::{DataChannel, DataChannelEvent};

use super::channels::*;
use super::internal::*;
use crate::net::protocol::{PeerId, PeerToPeer};

pub(super) fn spawn_world_reader(
    peer: PeerId,
    kind: ChannelKind,
    channel: Arc<dyn DataChannel>,
    internal: mpsc::Sender<Internal>,
    sink: EventSink,
) {
    let span = info_span!("world", peer = %peer);
    tokio::spawn(
        async move {
            while let Some(event) = channel.poll().await {
                match event {
                    DataChannelEvent::OnOpen => {
                        let _ = internal.send(Internal::ChannelOpen(peer, kind)).await;
                    }
                    DataChannelEvent::OnMessage(msg) => {
                        let message: PeerToPeer = match serde_json::from_slice(&msg.data) {
                            Ok(message) => message,
                            Err(err) => {
                                debug!(%err, "ignoring an unknown world message");
                                continue;
                            }
                        };
                        match message {
                            PeerToPeer::Ping { nonce } => {
                                if let Ok(text) = serde_json::to_string(&PeerToPeer::Pong { nonce })
                                {
                                    let _ = channel.try_send_text(&text).await;
                                }
                            }
                            PeerToPeer::Pong { nonce } => {
                                let _ = internal.send(Internal::Pong(peer, nonce)).await;
                            }
                            PeerToPeer::KeyframeRequest => {
                                sink.event(NetEvent::KeyframeRequested { by: peer });
                            }
                            message => sink.event(NetEvent::World {
                                from: peer,
                                message,
                            }),
                        }
                    }
                    DataChannelEvent::OnClose => break,
                    _ => {}
                }
            }
        }
        .instrument(span),
    );
}
