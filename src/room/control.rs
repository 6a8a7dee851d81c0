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
//! - So is a connection to people in the room that went down while it is being
//!   restarted, and its return ([`PeerLinks`]).

use bevy::prelude::*;

use super::{LobbyNotice, RoomInfo};
use crate::games::GameKind;
use crate::games::plugin::{ActiveGame, ChooseGame};
use crate::net::peer::NetCommand;
use crate::net::plugin::{
    NetLink, PeerConnected, PeerInterrupted, PeerJoined, PeerLeft, PeerMessageReceived,
    ServerMessage, SignalingBack, SignalingClosed,
};
use crate::net::protocol::{ClientToServer, ErrorCode, PeerId, PeerToPeer, ServerToClient};
use crate::world::scene::{ActiveTheme, SwitchTheme};
use crate::{Notice, Screen};

/// The subject of the notices about the connection to the room's server: its
/// return replaces the notice of its loss on screen.
const SIGNALING_NOTICE: &str = "signaling";

/// The subject of the notices about connections to people in the room.
const PEER_LINK_NOTICE: &str = "peer-links";

/// Whose connection is down, and what to say when that changes (pure).
#[derive(Debug, Default)]
pub struct PeerLinks {
    names: std::collections::HashMap<PeerId, String>,
    down: std::collections::BTreeSet<PeerId>,
}

impl PeerLinks {
    /// Someone joined the room under `name`.
    pub fn joined(&mut self, id: PeerId, name: &str) {
        self.names.insert(id, name.to_string());
    }

    /// `id`'s connection went down: the notice to show.
    pub fn down(&mut self, id: PeerId) -> Option<Notice> {
        self.down.insert(id).then(|| self.still_down())
    }

    /// `id`'s connection is up: the notice to show if it had been down.
    pub fn up(&mut self, id: PeerId) -> Option<Notice> {
        if !self.down.remove(&id) {
            return None;
        }
        if self.down.is_empty() {
            Some(
                Notice::info(format!("connection to {} is back", self.name(id)))
                    .about(PEER_LINK_NOTICE),
            )
        } else {
            Some(self.still_down())
        }
    }

    /// `id` left the room (its own notice says so): nothing to show when it was
    /// the last one down but a cleared line.
    pub fn left(&mut self, id: PeerId) -> Option<Notice> {
        self.names.remove(&id);
        if !self.down.remove(&id) {
            return None;
        }
        Some(if self.down.is_empty() {
            Notice::info("").about(PEER_LINK_NOTICE)
        } else {
            self.still_down()
        })
    }

    fn name(&self, id: PeerId) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("peer {}", id.0))
    }

    fn still_down(&self) -> Notice {
        let names: Vec<String> = self.down.iter().map(|&id| self.name(id)).collect();
        Notice::warning(format!(
            "lost the connection to {}: reconnecting…",
            names.join(", ")
        ))
        .about(PEER_LINK_NOTICE)
    }
}

/// Says on screen whose connection is down (restarting) and when it is back.
pub fn tell_peer_links(
    mut joined: MessageReader<PeerJoined>,
    mut interrupted: MessageReader<PeerInterrupted>,
    mut connected: MessageReader<PeerConnected>,
    mut left: MessageReader<PeerLeft>,
    mut links: Local<PeerLinks>,
    mut notices: MessageWriter<Notice>,
) {
    for PeerJoined { id, name, .. } in joined.read() {
        links.joined(*id, name);
    }
    let mut said = Vec::new();
    said.extend(interrupted.read().filter_map(|m| links.down(m.id)));
    said.extend(connected.read().filter_map(|m| links.up(m.id)));
    said.extend(left.read().filter_map(|m| links.left(m.id)));
    // Only the last one counts: each replaces the one before on screen.
    if let Some(notice) = said.pop() {
        notices.write(notice);
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_that_goes_down_and_comes_back_is_said_by_name() {
        let mut links = PeerLinks::default();
        links.joined(PeerId(2), "Ada");
        links.joined(PeerId(3), "Grace");
        let down = links.down(PeerId(2)).expect("said");
        assert_eq!(down.text, "lost the connection to Ada: reconnecting…");
        assert_eq!(down.subject, Some(PEER_LINK_NOTICE));
        assert!(links.down(PeerId(2)).is_none(), "said once");
        let both = links.down(PeerId(3)).expect("said");
        assert_eq!(
            both.text,
            "lost the connection to Ada, Grace: reconnecting…"
        );
        let one = links.up(PeerId(2)).expect("said");
        assert_eq!(one.text, "lost the connection to Grace: reconnecting…");
        let back = links.up(PeerId(3)).expect("said");
        assert_eq!(back.text, "connection to Grace is back");
        assert!(
            links.up(PeerId(3)).is_none(),
            "a first connection says nothing"
        );
    }

    #[test]
    fn someone_who_leaves_while_down_clears_the_line() {
        let mut links = PeerLinks::default();
        links.joined(PeerId(2), "Ada");
        links.down(PeerId(2));
        let cleared = links.left(PeerId(2)).expect("cleared");
        assert!(cleared.text.is_empty());
        assert!(links.left(PeerId(4)).is_none());
    }
}
