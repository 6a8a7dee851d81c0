//! In a networked room: the host's controls and choices, and what the room's
//! server says.
//!
//! - [`LockRoom`] / [`RemovePerson`] (the room panel, or a test) become `lock`,
//!   `unlock` and `remove` to the signaling server, which enforces them (host only:
//!   others get `not-host`). Every member hears `room-lock` ([`RoomInfo::locked`]);
//!   a removed member gets `error removed` and goes back to the lobby with that
//!   reason.
//! - [`RoomChoice`]: the theme and game for everyone. The host sends its own
//!   (`room-choice` on `world`) when it changes, when a peer connects and every
//!   [`ROOM_CHOICE_INTERVAL`]; the
//!   others apply the host's ([`SwitchTheme`], [`ChooseGame`]) and ignore anyone
//!   else's.
//! - A closed signaling connection is said on screen ([`Notice`]): nobody new can
//!   join, the people already connected stay.

use bevy::prelude::*;

use super::{LobbyNotice, RoomInfo};
use crate::games::GameKind;
use crate::games::plugin::{ActiveGame, ChooseGame};
use crate::net::peer::NetCommand;
use crate::net::plugin::{
    NetLink, PeerConnected, PeerMessageReceived, ServerMessage, SignalingBack, SignalingClosed,
};
use crate::net::protocol::{ClientToServer, ErrorCode, PeerId, PeerToPeer, ServerToClient};
use crate::world::scene::{ActiveTheme, SwitchTheme};
use crate::{Notice, Screen};

/// The subject of the notices about the connection to the room's server: its
/// return replaces the notice of its loss on screen.
const SIGNALING_NOTICE: &str = "signaling";

/// Host: lock the room (`true`: nobody new can join) or unlock it.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRoom(pub bool);

/// Host: take this person out of the room.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovePerson(pub PeerId);

/// The room's theme and game: on the host what it runs, on the others the host's
/// last `room-choice`.
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomChoice {
    /// Theme name.
    pub theme: String,
    /// The game, if one is played.
    pub game: Option<GameKind>,
}

impl RoomChoice {
    /// The `room-choice` message carrying it.
    pub fn message(&self) -> PeerToPeer {
        PeerToPeer::RoomChoice {
            theme: self.theme.clone(),
            game: self.game.map(|g| g.name().to_string()),
        }
    }
}

/// Whether this app is the room's host (true outside a networked room).
pub fn is_host(link: Option<&NetLink>) -> bool {
    link.is_none_or(|l| l.host == l.me)
}

fn send(link: &NetLink, command: NetCommand) {
    if let Err(e) = link.bridge.net().send(command) {
        warn!(error = %e, "room control not sent");
    }
}

/// Sends the host's [`LockRoom`] and [`RemovePerson`] to the server.
pub fn send_room_controls(
    link: Res<NetLink>,
    mut locks: MessageReader<LockRoom>,
    mut removals: MessageReader<RemovePerson>,
    mut notices: MessageWriter<Notice>,
) {
    let controls: Vec<ClientToServer> = locks
        .read()
        .map(|LockRoom(lock)| {
            if *lock {
                ClientToServer::Lock
            } else {
                ClientToServer::Unlock
            }
        })
        .chain(
            removals
                .read()
                .map(|RemovePerson(id)| ClientToServer::Remove { id: *id }),
        )
        .collect();
    if controls.is_empty() {
        return;
    }
    if !is_host(Some(&link)) {
        // The server would refuse it too (`not-host`); say so without asking.
        notices.write(Notice::error(
            "only the room's host can lock it or remove people",
        ));
        return;
    }
    for control in controls {
        info!(?control, "room control");
        send(&link, NetCommand::Server(control));
    }
}

/// The network's words about the room, as `take_room_news` reads them.
#[derive(bevy::ecs::system::SystemParam)]
pub struct RoomNews<'w, 's> {
    server: MessageReader<'w, 's, ServerMessage>,
    closed: MessageReader<'w, 's, SignalingClosed>,
    back: MessageReader<'w, 's, SignalingBack>,
    received: MessageReader<'w, 's, PeerMessageReceived>,
}

/// Acts on what the network says about the room.
#[expect(clippy::too_many_arguments, reason = "Bevy system parameters")]
pub fn take_room_news(
    mut news: RoomNews,
    link: Res<NetLink>,
    mut info: Option<ResMut<RoomInfo>>,
    mut choice: ResMut<RoomChoice>,
    mut notices: MessageWriter<Notice>,
    mut switch: MessageWriter<SwitchTheme>,
    mut games: MessageWriter<ChooseGame>,
    mut lobby: ResMut<LobbyNotice>,
    mut next: ResMut<NextState<Screen>>,
    mut removed: Local<bool>,
) {
    if link.is_added() {
        *removed = false;
    }
    for ServerMessage(message) in news.server.read() {
        match message {
            ServerToClient::RoomLock { locked } => {
                if let Some(info) = info.as_mut() {
                    info.locked = *locked;
                }
                notices.write(Notice::info(if *locked {
                    "the room is locked: nobody new can join"
                } else {
                    "the room is open again: friends can join"
                }));
            }
            ServerToClient::Error {
                code: ErrorCode::Removed,
                message,
            } => {
                warn!(%message, "removed from the room");
                *removed = true;
                lobby.error = Some(format!("removed from the room: {message}"));
                next.set(Screen::Lobby);
            }
            ServerToClient::Error { code, message } => {
                notices.write(Notice::error(format!(
                    "the room's server: {message} ({code})"
                )));
            }
            _ => {}
        }
    }
    for SignalingClosed { reason } in news.closed.read() {
        if !*removed {
            notices.write(
                Notice::error(format!(
                    "lost the connection to the room's server ({reason}): nobody new can join"
                ))
                .about(SIGNALING_NOTICE),
            );
        }
    }
    for SignalingBack in news.back.read() {
        if !*removed {
            notices.write(
                Notice::info("back in touch with the room's server: new people can join again")
                    .about(SIGNALING_NOTICE),
            );
        }
    }
    for PeerMessageReceived { from, message } in news.received.read() {
        let PeerToPeer::RoomChoice { theme, game } = message else {
            continue;
        };
        if *from != link.host || is_host(Some(&link)) {
            debug!(
                peer = from.0,
                "room-choice from someone other than the host ignored"
            );
            continue;
        }
        let game = match game.as_deref().map(str::parse::<GameKind>) {
            None => None,
            Some(Ok(kind)) => Some(kind),
            Some(Err(_)) => {
                warn!(?game, "the host chose a game this app does not know");
                None
            }
        };
        if *theme != choice.theme || game != choice.game {
            info!(%theme, game = ?game.map(GameKind::name), "the host's choice");
        }
        if *theme != choice.theme {
            switch.write(SwitchTheme(theme.clone()));
        }
        if game != choice.game {
            games.write(ChooseGame(game));
        }
        *choice = RoomChoice {
            theme: theme.clone(),
            game,
        };
    }
}

/// How often the host repeats its [`RoomChoice`]: a peer's `world` channel opens
/// a little after its connection, and a message sent before is lost, so a newcomer
/// has the host's choice within this long of its channel opening.
pub const ROOM_CHOICE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// The host: keeps [`RoomChoice`] to what it runs and sends it when it changes, a
/// peer connects, and every [`ROOM_CHOICE_INTERVAL`].
pub fn share_room_choice(
    link: Res<NetLink>,
    mut connected: MessageReader<PeerConnected>,
    theme: Option<Res<ActiveTheme>>,
    game: Option<Res<ActiveGame>>,
    mut choice: ResMut<RoomChoice>,
    mut last_sent: Local<Option<std::time::Instant>>,
) {
    let connected = connected.read().count() > 0;
    if !is_host(Some(&link)) {
        return;
    }
    let now = RoomChoice {
        theme: theme.map_or_else(|| choice.theme.clone(), |t| t.0.name.clone()),
        game: game.map(|g| g.sim.kind()),
    };
    let due = last_sent.is_none_or(|t| t.elapsed() >= ROOM_CHOICE_INTERVAL);
    if now == *choice && !connected && !due {
        return;
    }
    if now != *choice {
        info!(theme = %now.theme, game = ?now.game.map(GameKind::name), "room choice");
    }
    *last_sent = Some(std::time::Instant::now());
    send(
        &link,
        NetCommand::World {
            to: None,
            message: now.message(),
        },
    );
    *choice = now;
}
