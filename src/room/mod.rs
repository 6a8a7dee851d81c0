//! Rooms: the screens ([`Screen`]: `Lobby → Connecting → Room → Lobby`), creating and
//! joining a room, and what a room owns.
//!
//! - The lobby (or a test, or the command line) sends [`CreateRoom`] or [`JoinRoom`];
//!   [`RoomSettings`] turns it into a [`ConnectPlan`] and the app enters
//!   `Connecting`. A plan with no server configured starts the embedded signaling
//!   server ([`EmbeddedServer`], port [`RoomSettings::port`]) and creates the room there.
//! - `Connecting` runs the blocking part (binding the embedded server, the WebSocket,
//!   `join`/`welcome`, starting the [`NetBridge`] threads) on the thread
//!   `samespace-connect`; `poll_connecting` looks at its answer once per frame, so the
//!   frame loop never waits. [`CancelConnecting`], a failure (worded by
//!   [`target::describe_failure`]) or [`RoomSettings::connect_limit`] go back to
//!   `Lobby` with the reason in [`LobbyNotice`] (or quit with an error when
//!   [`RoomSettings::exit_on_failure`]). A late answer after a cancel is dropped on
//!   that thread, which leaves the room.
//! - Entering `Room` inserts what the room owns: [`NetLink`] (the bridge and its
//!   threads), [`RoomInfo`] (code, join link, the embedded server), the game
//!   authority. Leaving it ([`LeaveRoom`]) tears all of it down in `OnExit(Room)`:
//!   remote participants despawned (their decoder threads joined), entities marked
//!   `DespawnOnExit(Screen::Room)` despawned, the link dropped on the thread
//!   `samespace-leave` (it says goodbye to the peers, up to 2 s) and the embedded
//!   server stopped.
//!
//! The local participant's cutouts reach the room's encoder through [`LocalTee`], a
//! channel that outlives rooms (the local segmentation thread feeds it from start).
//!
//! The room composes the transport (`crate::net`, which knows nothing of what it
//! carries) with the world and the games: [`peers`] makes each peer's entity a
//! participant (names, placements, the local slot, shown-picture figures, remote
//! voices into the recording), [`sync`] shares the game (authority, the host's
//! snapshots and events, sending placements and the game).

pub mod control;
pub mod error;
pub mod figures;
pub mod peers;
pub mod settings;
pub mod sync;
pub mod target;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use crossbeam_channel::Receiver;

use crate::Screen;
use crate::games::plugin::{GameAuthority, RemoteGame};
use crate::net::bridge::{BridgeConfig, LOCAL_CUTOUT_CAPACITY, NetBridge};
use crate::net::error::NetError;
use crate::net::peer::NetConfig;
use crate::net::plugin::{NetLink, RemotePeer};
use crate::net::protocol::{RoomCode, validate_name};
use crate::net::signaling::embedded::EmbeddedServer;
use crate::net::signaling::server::ServerConfig;
use crate::segment::worker::CutoutTee;
use error::RoomError;
use target::{DEFAULT_PORT, describe_failure, is_loopback_url, join_link, parse_join_target};

/// How long `Connecting` may take before it gives up (the WebSocket and the
/// `welcome` have 10 s each on their own).
pub const CONNECT_LIMIT: Duration = Duration::from_secs(25);

/// Create a room: on [`CreateRoom::server`], or with none on the embedded server.
#[derive(Message, Debug, Clone, Default)]
pub struct CreateRoom {
    /// Your name in the room.
    pub name: String,
    /// Signaling server (`ws://HOST:PORT`); `None`: start one in the app.
    pub server: Option<String>,
    /// The server's shared secret (for the embedded server: the secret it asks for).
    pub secret: Option<String>,
}

/// Join an existing room by code or link.
#[derive(Message, Debug, Clone, Default)]
pub struct JoinRoom {
    /// A code (`K7Q-4MZ`) or a join link (`ws://HOST:PORT/CODE`).
    pub target: String,
    /// Your name in the room.
    pub name: String,
    /// The server a bare code is on; `None`: this computer's embedded port.
    pub server: Option<String>,
    /// The server's shared secret.
    pub secret: Option<String>,
}

/// Leave the room (back to the lobby; everything the room owns is torn down).
#[derive(Message, Debug, Clone, Copy, Default)]
pub struct LeaveRoom;

/// Stop connecting (back to the lobby).
#[derive(Message, Debug, Clone, Copy, Default)]
pub struct CancelConnecting;

/// How rooms are created and joined.
#[derive(Resource, Debug, Clone)]
pub struct RoomSettings {
    /// Media and ICE settings of every room; the room, server, name and secret are
    /// filled in per request.
    pub bridge: BridgeConfig,
    /// Port of the embedded signaling server (0: any free port); a busy port falls
    /// back to a free one.
    pub port: u16,
    /// The embedded server listens on every interface (friends on the same network
    /// join) rather than on loopback only (this computer only).
    pub lan: bool,
    /// Quit with an error when connecting fails (headless runs) instead of going back
    /// to the lobby.
    pub exit_on_failure: bool,
    /// How long `Connecting` may take.
    pub connect_limit: Duration,
    /// The configured signaling server (the lobby's server field starts with it;
    /// `None`: rooms you create are served by the app).
    pub server: Option<String>,
    /// The lobby's secret field starts with it.
    pub secret: Option<String>,
}

impl Default for RoomSettings {
    fn default() -> Self {
        Self {
            bridge: BridgeConfig::new(NetConfig::new(
                String::new(),
                RoomCode::from_random(0),
                String::new(),
            )),
            port: DEFAULT_PORT,
            lan: true,
            exit_on_failure: false,
            connect_limit: CONNECT_LIMIT,
            server: None,
            secret: None,
        }
    }
}

/// What `Connecting` does.
#[derive(Debug, Clone)]
pub struct ConnectPlan {
    /// The room to join and how (its `net.server_url` is set once the embedded
    /// server is up, for a plan that starts one).
    pub config: BridgeConfig,
    /// Start the embedded signaling server on this address first.
    pub embedded: Option<SocketAddr>,
    /// What the Connecting screen says.
    pub what: String,
}

impl ConnectPlan {
    /// Join (or create, as `config.net.create` says) on `config.net.server_url`.
    pub fn server(config: BridgeConfig) -> Self {
        let what = format!("Joining {} on {}", config.net.room, config.net.server_url);
        Self {
            config,
            embedded: None,
            what,
        }
    }
}

impl RoomSettings {
    /// The server a bare code is looked for on when none is configured: this
    /// computer's embedded-server port.
    pub fn local_server(&self) -> String {
        let port = if self.port == 0 {
            DEFAULT_PORT
        } else {
            self.port
        };
        format!("ws://127.0.0.1:{port}")
    }

    fn room_config(
        &self,
        server: &str,
        room: RoomCode,
        name: &str,
        secret: Option<String>,
        create: bool,
    ) -> BridgeConfig {
        let mut config = self.bridge.clone();
        config.net.server_url = server.to_string();
        config.net.room = room;
        config.net.name = name.to_string();
        config.net.secret = secret;
        config.net.create = create;
        if is_loopback_url(server) {
            config.net = config.net.loopback_only();
        }
        config
    }

    /// The plan for [`CreateRoom`]: a fresh code, on the given server or on the
    /// embedded one.
    pub fn plan_create(&self, request: &CreateRoom) -> Result<ConnectPlan, String> {
        let name = checked_name(&request.name)?;
        let room = RoomCode::random();
        let secret = non_empty(request.secret.as_deref());
        match non_empty(request.server.as_deref()) {
            Some(server) => {
                let config = self.room_config(&server, room, name, secret, true);
                Ok(ConnectPlan {
                    what: format!("Creating room {room} on {server}"),
                    config,
                    embedded: None,
                })
            }
            None => {
                let ip = if self.lan {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                };
                let mut config = self.room_config("", room, name, secret, true);
                if !self.lan {
                    config.net = config.net.loopback_only();
                }
                Ok(ConnectPlan {
                    what: format!("Creating room {room} on this computer (port {})", self.port),
                    config,
                    embedded: Some(SocketAddr::new(ip, self.port)),
                })
            }
        }
    }

    /// The plan for [`JoinRoom`]: the link's server, else the request's, else this
    /// computer's; the room must exist.
    pub fn plan_join(&self, request: &JoinRoom) -> Result<ConnectPlan, String> {
        let name = checked_name(&request.name)?;
        let target = parse_join_target(&request.target).map_err(|e: RoomError| e.to_string())?;
        let server = target
            .server
            .or_else(|| non_empty(request.server.as_deref()))
            .unwrap_or_else(|| self.local_server());
        let config = self.room_config(
            &server,
            target.room,
            name,
            non_empty(request.secret.as_deref()),
            false,
        );
        Ok(ConnectPlan::server(config))
    }
}

fn checked_name(name: &str) -> Result<&str, String> {
    validate_name(name).ok_or_else(|| "type your name first (1 to 32 characters)".to_string())
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The local participant's cutouts on their way to a room's encoder (capacity
/// [`LOCAL_CUTOUT_CAPACITY`], latest wins). Producer: the local segmentation thread,
/// from start; consumer: `samespace-encode` while in a room.
#[derive(Resource, Clone)]
pub struct LocalTee(pub CutoutTee);

impl Default for LocalTee {
    fn default() -> Self {
        Self(crossbeam_channel::bounded(LOCAL_CUTOUT_CAPACITY))
    }
}

/// The plan `Connecting` carries out when entered.
#[derive(Resource, Debug, Clone)]
pub struct PendingConnect(pub ConnectPlan);

/// What the lobby shows after coming back: why connecting failed.
#[derive(Resource, Debug, Default, Clone)]
pub struct LobbyNotice {
    /// The reason of the last failure (cleared by the next attempt).
    pub error: Option<String>,
}

/// The room as its panel shows it. Owns the embedded signaling server, if the room
/// is on it.
#[derive(Resource)]
pub struct RoomInfo {
    /// The room's code.
    pub code: RoomCode,
    /// The server address friends use.
    pub server: String,
    /// The join link: `SERVER/CODE`.
    pub link: String,
    /// Whether the room's server runs in this app (it stops when you leave).
    pub hosted_here: bool,
    /// The host locked the room: nobody new can join (from the server's `room-lock`).
    pub locked: bool,
    _embedded: Option<EmbeddedServer>,
}

/// A joined room, from the connect thread.
struct Joined {
    bridge: NetBridge,
    info: RoomInfo,
}

/// The connect thread at work.
#[derive(Resource)]
pub struct ConnectTask {
    answer: Receiver<Result<Joined, String>>,
    started: Instant,
    /// The name joined with (the local participant takes it on entering the room).
    name: String,
    /// What is being done, for the screen.
    pub what: String,
}

impl ConnectTask {
    /// Seconds since connecting began.
    pub fn elapsed(&self) -> f32 {
        self.started.elapsed().as_secs_f32()
    }
}

/// The screens, the connect thread, and the room's lifetime.
pub struct RoomPlugin {
    /// The screen to start on.
    pub start: Screen,
}

impl Plugin for RoomPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<RoomSettings>()
            .init_resource::<LocalTee>()
            .init_resource::<LobbyNotice>()
            .insert_state(self.start)
            .add_message::<CreateRoom>()
            .add_message::<JoinRoom>()
            .add_message::<LeaveRoom>()
            .add_message::<CancelConnecting>()
            .add_message::<control::LockRoom>()
            .add_message::<control::RemovePerson>()
            .add_message::<crate::Notice>()
            .add_message::<crate::world::scene::SwitchTheme>()
            .add_message::<crate::games::plugin::ChooseGame>()
            .add_message::<crate::net::plugin::ServerMessage>()
            .add_message::<crate::net::plugin::SignalingClosed>()
            .add_message::<crate::net::plugin::SignalingBack>()
            .add_message::<crate::net::plugin::PeerMessageReceived>()
            .add_message::<crate::net::plugin::PeerConnected>()
            .add_message::<crate::net::plugin::PeerInterrupted>()
            .add_message::<crate::net::plugin::PeerJoined>()
            .add_message::<crate::net::plugin::PeerLeft>()
            .init_resource::<control::RoomChoice>()
            .add_plugins((peers::plugin, sync::plugin))
            .add_observer(figures::keep_departed_figures)
            .add_systems(OnEnter(Screen::Connecting), start_connecting)
            .add_systems(OnEnter(Screen::Lobby), |mut commands: Commands| {
                commands.insert_resource(PendingTrim(Instant::now() + TRIM_AFTER_LEAVING));
            })
            .add_systems(OnExit(Screen::Room), tear_down_room)
            .add_systems(
                Update,
                (
                    take_requests.run_if(in_state(Screen::Lobby)),
                    trim_after_leaving.run_if(resource_exists::<PendingTrim>),
                    poll_connecting.run_if(in_state(Screen::Connecting)),
                    take_leave.run_if(in_state(Screen::Room)),
                )
                    .in_set(crate::AppSystems::Ingest),
            )
            .add_systems(
                Update,
                (
                    control::take_room_news,
                    control::tell_peer_links,
                    control::send_room_controls,
                    control::share_room_choice,
                )
                    .chain()
                    .run_if(in_state(Screen::Room).and_then(resource_exists::<NetLink>))
                    .in_set(crate::AppSystems::Sync),
            );
    }
}

/// Turns the lobby's requests into a plan and enters `Connecting`.
fn take_requests(
    mut commands: Commands,
    settings: Res<RoomSettings>,
    mut creates: MessageReader<CreateRoom>,
    mut joins: MessageReader<JoinRoom>,
    mut notice: ResMut<LobbyNotice>,
    mut next: ResMut<NextState<Screen>>,
) {
    let plans: Vec<Result<ConnectPlan, String>> = creates
        .read()
        .map(|c| settings.plan_create(c))
        .chain(joins.read().map(|j| settings.plan_join(j)))
        .collect();
    let Some(plan) = plans.into_iter().last() else {
        return;
    };
    match plan {
        Ok(plan) => {
            notice.error = None;
            commands.insert_resource(PendingConnect(plan));
            next.set(Screen::Connecting);
        }
        Err(reason) => {
            warn!(%reason, "cannot connect");
            notice.error = Some(reason);
        }
    }
}

/// Starts the connect thread for the pending plan.
fn start_connecting(
    mut commands: Commands,
    pending: Option<Res<PendingConnect>>,
    tee: Res<LocalTee>,
    mut notice: ResMut<LobbyNotice>,
    mut next: ResMut<NextState<Screen>>,
) {
    let Some(plan) = pending.map(|p| p.0.clone()) else {
        next.set(Screen::Lobby);
        return;
    };
    commands.remove_resource::<PendingConnect>();
    info!(what = %plan.what, "connecting");
    let (tx, rx) = crossbeam_channel::bounded(1);
    let what = plan.what.clone();
    let name = plan.config.net.name.clone();
    let local = tee.0.clone();
    let spawned = std::thread::Builder::new()
        .name("samespace-connect".into())
        .spawn(move || {
            // After a cancel nobody listens: the room is left when `Joined` drops here.
            let _ = tx.send(connect(plan, local));
        });
    match spawned {
        Ok(_) => commands.insert_resource(ConnectTask {
            answer: rx,
            started: Instant::now(),
            name,
            what,
        }),
        Err(e) => {
            notice.error = Some(format!("cannot start connecting: {e}"));
            next.set(Screen::Lobby);
        }
    }
}

/// The blocking part of connecting (on `samespace-connect`).
fn connect(plan: ConnectPlan, local: CutoutTee) -> Result<Joined, String> {
    let mut config = plan.config;
    let mut embedded = None;
    let mut share = config.net.server_url.clone();
    if let Some(bind) = plan.embedded {
        let server = start_embedded(bind, config.net.secret.clone())?;
        let port = server.addr().port();
        config.net.server_url = format!("ws://127.0.0.1:{port}");
        let ip = if bind.ip().is_unspecified() {
            lan_ip().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
        } else {
            bind.ip()
        };
        share = format!("ws://{}", SocketAddr::new(ip, port));
        embedded = Some(server);
    }
    let server_url = config.net.server_url.clone();
    let bridge = NetBridge::start_with_input(config, local)
        .map_err(|e| describe_failure(&e, &server_url))?;
    let code = bridge.net().welcome().room;
    Ok(Joined {
        bridge,
        info: RoomInfo {
            code,
            link: join_link(&share, code),
            server: share,
            hosted_here: embedded.is_some(),
            locked: false,
            _embedded: embedded,
        },
    })
}

/// The embedded signaling server on `bind`, or on a free port when that one is taken.
fn start_embedded(bind: SocketAddr, secret: Option<String>) -> Result<EmbeddedServer, String> {
    let config = ServerConfig {
        secret,
        ..ServerConfig::default()
    };
    match EmbeddedServer::start(bind, config.clone()) {
        Err(NetError::Io(e)) if e.kind() == std::io::ErrorKind::AddrInUse && bind.port() != 0 => {
            warn!(
                port = bind.port(),
                "port taken: the room's server uses a free port"
            );
            EmbeddedServer::start(SocketAddr::new(bind.ip(), 0), config)
        }
        other => other,
    }
    .map_err(|e| format!("cannot start the room's server on {bind}: {e}"))
}

/// This computer's address on its network (the one friends reach), if it has one.
/// Connecting a UDP socket only picks the route: no packet is sent.
pub fn lan_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// Looks at the connect thread's answer; enters `Room`, or goes back to `Lobby`.
#[expect(clippy::too_many_arguments, reason = "Bevy system parameters")]
fn poll_connecting(
    mut commands: Commands,
    task: Option<Res<ConnectTask>>,
    mut people: Query<&mut crate::world::participant::Participant>,
    settings: Res<RoomSettings>,
    mut cancel: MessageReader<CancelConnecting>,
    mut notice: ResMut<LobbyNotice>,
    mut next: ResMut<NextState<Screen>>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(task) = task else { return };
    let failure = if cancel.read().count() > 0 {
        info!("connecting cancelled");
        Some(None)
    } else {
        match task.answer.try_recv() {
            Ok(Ok(joined)) => {
                // The others see the lobby's name: so do you.
                for mut person in &mut people {
                    if person.local && person.name != task.name {
                        person.name = task.name.clone();
                    }
                }
                enter_room(&mut commands, joined);
                commands.remove_resource::<ConnectTask>();
                next.set(Screen::Room);
                return;
            }
            Ok(Err(reason)) => Some(Some(reason)),
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                Some(Some("the connect thread stopped".to_string()))
            }
            Err(crossbeam_channel::TryRecvError::Empty) => {
                (task.started.elapsed() > settings.connect_limit).then(|| {
                    Some(format!(
                        "timed out after {} s",
                        settings.connect_limit.as_secs()
                    ))
                })
            }
        }
    };
    let Some(reason) = failure else { return };
    commands.remove_resource::<ConnectTask>();
    if let Some(reason) = &reason {
        error!(%reason, what = %task.what, "could not connect");
        if settings.exit_on_failure {
            exit.write(AppExit::error());
        }
    }
    notice.error = reason;
    next.set(Screen::Lobby);
}

/// Inserts what a room owns.
fn enter_room(commands: &mut Commands, joined: Joined) {
    let Joined { bridge, info } = joined;
    let link = NetLink::new(bridge);
    info!(
        room = %info.code,
        link = %info.link,
        me = link.me.0,
        host = link.host.0,
        "in the room; friends join with the code or the link"
    );
    commands.insert_resource(if link.host == link.me {
        GameAuthority::Host
    } else {
        GameAuthority::Follower
    });
    commands.insert_resource(RemoteGame::default());
    commands.insert_resource(sync::GameSync::default());
    commands.insert_resource(figures::DepartedPeers::default());
    commands.insert_resource(link);
    commands.insert_resource(info);
}

fn take_leave(mut leave: MessageReader<LeaveRoom>, mut next: ResMut<NextState<Screen>>) {
    if leave.read().count() > 0 {
        info!("leaving the room");
        next.set(Screen::Lobby);
    }
}

/// How long after coming back to the lobby the memory the room freed is given
/// back once more: by then the goodbyes are over and the room's textures freed.
pub const TRIM_AFTER_LEAVING: Duration = Duration::from_secs(3);

/// When to give freed memory back (see [`TRIM_AFTER_LEAVING`]).
#[derive(Resource)]
struct PendingTrim(Instant);

fn trim_after_leaving(mut commands: Commands, pending: Res<PendingTrim>) {
    if Instant::now() >= pending.0 {
        commands.remove_resource::<PendingTrim>();
        crate::memory::release_freed_memory();
    }
}

/// Tears down what the room owns (`OnExit(Room)`).
fn tear_down_room(
    mut commands: Commands,
    remotes: Query<Entity, With<RemotePeer>>,
    link: Option<Res<NetLink>>,
) {
    for entity in &remotes {
        commands.entity(entity).despawn();
    }
    commands.remove_resource::<figures::DepartedPeers>();
    if link.is_some() {
        commands.queue(|world: &mut World| {
            let Some(link) = world.remove_resource::<NetLink>() else {
                return;
            };
            let info = world.remove_resource::<RoomInfo>();
            // Leaving says goodbye to every peer and may take up to 2 s: not on the
            // frame loop. The room's server (if here) stops after the goodbyes;
            // then what the room freed goes back to the system.
            let leaving = std::thread::Builder::new()
                .name("samespace-leave".into())
                .spawn(move || {
                    drop(link);
                    drop(info);
                    crate::memory::release_freed_memory();
                });
            if let Err(e) = leaving {
                warn!(error = %e, "leaving on the main thread");
            }
        });
    }
    commands.remove_resource::<RoomInfo>();
    commands.insert_resource(GameAuthority::Host);
    commands.insert_resource(RemoteGame::default());
}
