//! Wire types shared by the signaling client, the signaling server and the peers.
//!
//! Pure data: serde only, no Bevy, no tokio. Everything here is JSON on the wire; the
//! exact shapes are specified in `docs/PROTOCOL.md`, which is the contract for clients
//! written in other languages. Bump [`PROTOCOL_VERSION`] on any incompatible change.
//!
//! - [`ClientToServer`] / [`ServerToClient`]: WebSocket text frames between a client
//!   and the signaling server (`samespace serve`).
//! - [`PeerToPeer`]: messages on the WebRTC data channel `world`.
//! - [`RoomCode`]: short human-friendly room codes such as `K7Q-4MZ`.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod game;

use game::{GameKind, GameSnapshot, StampedEvent};

/// Version of the wire protocol described in `docs/PROTOCOL.md`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest participant name the server accepts, in Unicode scalar values.
pub const MAX_NAME_CHARS: usize = 32;

/// Label of the reliable, ordered WebRTC data channel that carries [`PeerToPeer`]
/// messages.
pub const WORLD_CHANNEL_LABEL: &str = "world";

/// Label of the unordered data channel without retransmissions that carries the
/// [`PeerToPeer`] messages a lost copy of which is not worth repeating
/// ([`PeerToPeer::may_be_lost`]).
pub const WORLD_FAST_CHANNEL_LABEL: &str = "world-fast";

/// Identifier the signaling server gives a connection when it joins a room.
///
/// Unique per server process and increasing with join time, so comparing two ids
/// tells which peer joined first. Serialized as a plain JSON number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// Characters a room code is made of: digits and capitals without the look-alikes
/// `0 O 1 I L`.
pub const ROOM_CODE_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Why a string is not a room code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomCodeError {
    /// The code does not have six code characters (an optional dash after the third).
    #[error("a room code has six characters like K7Q-4MZ, got {0} characters")]
    Length(usize),
    /// The code contains a character outside [`ROOM_CODE_ALPHABET`].
    #[error("character {0:?} is not allowed in a room code")]
    Character(char),
}

/// A room code such as `K7Q-4MZ`: six characters from [`ROOM_CODE_ALPHABET`], shown
/// with a dash after the third.
///
/// Parsing is forgiving: lower case is upper-cased, and the dash and surrounding
/// white space are optional (`k7q4mz` is `K7Q-4MZ`). On the wire it is the canonical
/// dashed form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomCode([u8; 6]);

impl RoomCode {
    /// Draws a code from a 64-bit random value (`31^6` ≈ 8.9e8 codes).
    pub fn from_random(mut value: u64) -> Self {
        let mut code = [0u8; 6];
        for slot in &mut code {
            *slot = ROOM_CODE_ALPHABET[(value % ROOM_CODE_ALPHABET.len() as u64) as usize];
            value /= ROOM_CODE_ALPHABET.len() as u64;
        }
        Self(code)
    }

    /// A fresh random code, seeded from the operating system's randomness (through
    /// the standard library's hash keys).
    pub fn random() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x5eed);
        Self::from_random(hasher.finish())
    }

    /// The canonical form, `XXX-XXX`.
    pub fn as_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for RoomCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |part: &[u8]| part.iter().map(|&b| b as char).collect::<String>();
        write!(f, "{}-{}", text(&self.0[..3]), text(&self.0[3..]))
    }
}

impl FromStr for RoomCode {
    type Err = RoomCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let mut chars: Vec<char> = trimmed.chars().collect();
        if chars.get(3) == Some(&'-') {
            chars.remove(3);
        }
        if chars.len() != 6 {
            return Err(RoomCodeError::Length(chars.len()));
        }
        let mut code = [0u8; 6];
        for (slot, c) in code.iter_mut().zip(chars) {
            let upper = c.to_ascii_uppercase();
            if !upper.is_ascii() || !ROOM_CODE_ALPHABET.contains(&(upper as u8)) {
                return Err(RoomCodeError::Character(c));
            }
            *slot = upper as u8;
        }
        Ok(Self(code))
    }
}

impl Serialize for RoomCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RoomCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Checks a participant name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control
/// characters. Returns the trimmed name.
pub fn validate_name(name: &str) -> Option<&str> {
    let trimmed = name.trim();
    let count = trimmed.chars().count();
    if count == 0 || count > MAX_NAME_CHARS || trimmed.chars().any(char::is_control) {
        return None;
    }
    Some(trimmed)
}

/// A participant as the server announces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// The peer's id in this server.
    pub id: PeerId,
    /// Display name given in its `join`.
    pub name: String,
}

/// Kind of a session description, as in the W3C `RTCSdpType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpKind {
    /// An offer.
    Offer,
    /// A provisional answer.
    Pranswer,
    /// A final answer.
    Answer,
    /// A rollback of the pending local offer.
    Rollback,
}

/// A session description, shaped like the browser's `RTCSessionDescriptionInit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    /// Offer, answer, ...
    #[serde(rename = "type")]
    pub kind: SdpKind,
    /// The SDP text.
    pub sdp: String,
}

/// An ICE candidate, shaped like the browser's `RTCIceCandidateInit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    /// The `candidate:` attribute line (without the `a=`).
    pub candidate: String,
    /// Media stream id the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// Index of the m-line the candidate belongs to.
    #[serde(
        default,
        rename = "sdpMLineIndex",
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_mline_index: Option<u16>,
    /// ICE username fragment of the generation the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// What a `signal` message carries: exactly one of `sdp` or `candidate`. A message
/// with both, or neither, does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SignalFields", into = "SignalFields")]
pub enum SignalPayload {
    /// A session description (offer or answer).
    Sdp(SessionDescription),
    /// A trickled ICE candidate.
    Candidate(IceCandidate),
}

/// The payload fields of a `signal` as they are on the wire; [`SignalPayload`] is
/// read through it so that a message naming both fields is refused, not guessed at.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SignalFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sdp: Option<SessionDescription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    candidate: Option<IceCandidate>,
}

impl TryFrom<SignalFields> for SignalPayload {
    type Error = &'static str;

    fn try_from(fields: SignalFields) -> Result<Self, Self::Error> {
        match (fields.sdp, fields.candidate) {
            (Some(sdp), None) => Ok(Self::Sdp(sdp)),
            (None, Some(candidate)) => Ok(Self::Candidate(candidate)),
            (Some(_), Some(_)) => Err("a signal carries sdp or candidate, not both"),
            (None, None) => Err("a signal carries sdp or candidate"),
        }
    }
}

impl From<SignalPayload> for SignalFields {
    fn from(payload: SignalPayload) -> Self {
        match payload {
            SignalPayload::Sdp(sdp) => Self {
                sdp: Some(sdp),
                candidate: None,
            },
            SignalPayload::Candidate(candidate) => Self {
                sdp: None,
                candidate: Some(candidate),
            },
        }
    }
}

/// Serde helper: leave a zero attempt out of the JSON.
fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Serde helper: `create` is true unless the JSON says otherwise.
fn yes() -> bool {
    true
}

/// Serde helper: leave the default `create: true` out of the JSON.
fn is_true(v: &bool) -> bool {
    *v
}

/// Messages a client sends to the signaling server (JSON text frames, tagged by `type`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClientToServer {
    /// Enter a room, creating it if it does not exist (unless `create` is false).
    Join {
        /// Room code.
        room: RoomCode,
        /// Display name.
        name: String,
        /// Shared secret, required when the server was started with one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
        /// Whether an unknown code creates the room (the default). `false` joins only
        /// an existing room; an unknown code gets `error room-not-found`.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        create: bool,
        /// The id this client had before its signaling connection dropped (it
        /// rejoins with its peer connections still up). The server grants it when no
        /// member holds it; otherwise the client gets a fresh id as for any join.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<PeerId>,
    },
    /// Relay a WebRTC signal to another peer in the same room.
    Signal {
        /// Recipient.
        to: PeerId,
        /// Which connection attempt between the two peers this belongs to (0, the
        /// default, is the first). A peer that receives a higher one replaces its
        /// connection to the sender; lower ones are stale and ignored.
        #[serde(default, skip_serializing_if = "is_zero")]
        attempt: u32,
        /// The description or candidate.
        #[serde(flatten)]
        payload: SignalPayload,
    },
    /// Keep-alive; the server answers `pong`.
    Ping,
    /// Leave the room and close the connection.
    Leave,
    /// Host only: refuse new joiners (`room-locked`) until `unlock`. Every member
    /// gets `room-lock`.
    Lock,
    /// Host only: let new joiners in again. Every member gets `room-lock`.
    Unlock,
    /// Host only: take a member out of the room. It gets `error removed` and its
    /// connection closes; the others get `peer-left`.
    Remove {
        /// The member to remove.
        id: PeerId,
    },
}

/// Error codes the server sends in `error` messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known message (connection stays open).
    BadMessage,
    /// A frame or message was larger than the server's limit (connection closes).
    TooLarge,
    /// The client sent faster than its rate limit (connection closes).
    RateLimited,
    /// No message arrived within the idle timeout (connection closes).
    IdleTimeout,
    /// The shared secret was missing or wrong (connection closes).
    Unauthorized,
    /// The room already holds its maximum number of peers (connection stays open).
    RoomFull,
    /// `join` with `create: false` named a room that does not exist (stays open).
    RoomNotFound,
    /// The room code is malformed (connection stays open).
    BadRoom,
    /// The name is empty, too long or contains control characters (stays open).
    BadName,
    /// `join` on a connection that already joined (stays open).
    AlreadyJoined,
    /// `signal` before `join` (stays open).
    NotJoined,
    /// `signal` to a peer that is not in the sender's room (stays open).
    UnknownPeer,
    /// The connection could not keep up with its incoming messages (connection closes).
    SlowConsumer,
    /// The server has too many connections (connection closes). Servers of this
    /// version refuse such connections with HTTP 503 before the WebSocket upgrade.
    ServerFull,
    /// Too many `join`s from the client's address in a short time (stays open; the
    /// message says when to retry).
    TooManyJoins,
    /// `join` to a room its host has locked (stays open).
    RoomLocked,
    /// `lock`, `unlock` or `remove` from a member that is not the room's host (stays
    /// open).
    NotHost,
    /// The host removed this member from the room (connection closes).
    Removed,
}

impl ErrorCode {
    /// Whether the server closes the connection after sending this error.
    pub fn is_fatal(self) -> bool {
        matches!(
            self,
            Self::TooLarge
                | Self::RateLimited
                | Self::IdleTimeout
                | Self::Unauthorized
                | Self::SlowConsumer
                | Self::ServerFull
                | Self::Removed
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&text)
    }
}

/// Messages the signaling server sends to a client (JSON text frames, tagged by `type`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerToClient {
    /// Reply to a successful `join`.
    Welcome {
        /// Protocol version of the server.
        version: u32,
        /// The room joined (canonical form).
        room: RoomCode,
        /// The id given to this connection.
        you: PeerId,
        /// The other peers already in the room, oldest first.
        peers: Vec<PeerInfo>,
        /// The room's host: its oldest member (this client if it created the room).
        host: PeerId,
    },
    /// Another peer entered the room.
    PeerJoined {
        /// Its id.
        id: PeerId,
        /// Its name.
        name: String,
    },
    /// A peer left the room (goodbye, closed connection, or dropped by the server).
    PeerLeft {
        /// Its id.
        id: PeerId,
        /// The room's host after the departure (changes when the host left).
        host: PeerId,
    },
    /// A WebRTC signal relayed from another peer.
    Signal {
        /// Sender.
        from: PeerId,
        /// The sender's connection attempt (see [`ClientToServer::Signal`]).
        #[serde(default, skip_serializing_if = "is_zero")]
        attempt: u32,
        /// The description or candidate.
        #[serde(flatten)]
        payload: SignalPayload,
    },
    /// Answer to `ping`.
    Pong,
    /// The host locked or unlocked the room (sent to every member, the host too).
    RoomLock {
        /// Whether new joiners are refused.
        locked: bool,
    },
    /// Something went wrong; see [`ErrorCode::is_fatal`] for whether the connection closes.
    Error {
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
}

impl ServerToClient {
    /// Builds an `error` message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
        }
    }
}

/// A chat line or an emote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Chat {
    /// A text message.
    Text {
        /// The text.
        text: String,
    },
    /// A short reaction shown above the sender (an emoji or an emote name).
    Emote {
        /// The emote.
        emote: String,
    },
}

/// Where a peer's cutout stands, as its `placement` message announces it (world
/// units; the world's `Placement` converts to and from it).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WirePlacement {
    /// Horizontal position of the cutout's bottom centre.
    pub x: f32,
    /// Vertical position of the cutout's bottom edge.
    pub y: f32,
    /// World units per cutout pixel.
    pub scale: f32,
    /// Draw order: higher is in front.
    pub z: i32,
    /// Mirrored horizontally (selfie view).
    pub mirrored: bool,
    /// Width in pixels of the picture `scale` is per pixel of (the sender's cutout
    /// as captured). The sender may send smaller pictures when its link is slow; a
    /// receiver shows a picture `w` wide at `scale * frame_width / w`, so the person
    /// keeps their size. Absent: the pictures as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_width: Option<u32>,
}

impl WirePlacement {
    /// World units per pixel of a received picture `shown_width` pixels wide.
    pub fn scale_for_width(&self, shown_width: u32) -> f32 {
        match self.frame_width {
            Some(frame) if frame > 0 && shown_width > 0 => {
                self.scale * frame as f32 / shown_width as f32
            }
            _ => self.scale,
        }
    }

    /// Whether its numbers are finite and modest (a placement from the network is
    /// used only then).
    pub fn is_sane(&self) -> bool {
        [self.x, self.y, self.scale]
            .iter()
            .all(|v| v.is_finite() && v.abs() < 1.0e5)
            && self.scale > 0.0
    }
}

/// Messages between peers on the `world` data channel (JSON text, tagged by `type`).
///
/// Game payloads are the typed vocabulary of [`game`]; this transport only routes
/// them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PeerToPeer {
    /// The sender's display name (sent on open and on change).
    Hello {
        /// Display name.
        name: String,
    },
    /// The sender's placement and simplified silhouette.
    Placement {
        /// Where and how big the sender's cutout stands.
        placement: WirePlacement,
        /// Silhouette polygons in cutout pixel coordinates, possibly empty.
        /// Whole numbers are written without a fraction (`320`, not `320.0`).
        #[serde(default, serialize_with = "whole_numbers_short")]
        outline: Vec<Vec<[f32; 2]>>,
    },
    /// Chat or emote.
    Chat(Chat),
    /// The host's authoritative game state (about 30 Hz).
    GameSnapshot {
        /// The game (e.g. `balloon-keepup`).
        game: GameKind,
        /// Simulation tick the snapshot describes.
        tick: u64,
        /// The game's state.
        state: GameSnapshot,
    },
    /// A reliable game event (score, round start, ...).
    GameEvent {
        /// The game.
        game: GameKind,
        /// Simulation tick of the event.
        tick: u64,
        /// What happened.
        event: StampedEvent,
    },
    /// Please send a keyframe (IDR) of your video next: the receiver starts or lost data.
    KeyframeRequest,
    /// A coarse copy of the alpha mask the sender encoded into one video frame, so a
    /// receiver can measure how faithfully the cutout arrived (alpha IoU). Sent on
    /// the reliable channel every few frames; ignorable.
    MaskProbe {
        /// Capture time of that frame, µs since the Unix epoch (the same value the
        /// frame's capture-time SEI carries, to within a few µs).
        captured_unix_us: u64,
        /// Probe grid width (the mask sampled every `step` pixels).
        width: u32,
        /// Probe grid height.
        height: u32,
        /// Sampling step in mask pixels.
        step: u32,
        /// Row-major bits (1 = person, mask ≥ 128), packed LSB first, as hex.
        bits: String,
    },
    /// The sender's microphone state: `muted` when it muted itself (it then sends
    /// no audio). Sent on change and every second; receivers show a muted badge.
    Voice {
        /// The sender muted itself.
        muted: bool,
    },
    /// How many frames a second the sender's screen draws (measured over the last
    /// 2 s), sent every second. A peer sends it no more pictures a second than
    /// that ([`crate::media::draw_rate`]); ignorable.
    DrawRate {
        /// Frames drawn a second.
        fps: f32,
    },
    /// Round-trip probe; the receiver answers [`PeerToPeer::Pong`] with the same `nonce`.
    Ping {
        /// Opaque value echoed back.
        nonce: u64,
    },
    /// Answer to [`PeerToPeer::Ping`].
    Pong {
        /// The nonce of the ping.
        nonce: u64,
    },
    /// The host's choices for the whole room: the theme and the game. Sent by the
    /// host when it changes one and whenever a peer connects; other senders are
    /// ignored.
    RoomChoice {
        /// Theme name (`assets/themes/<name>`).
        theme: String,
        /// Game name (`samespace games`), `null` for none.
        game: Option<String>,
    },
}

/// Writes polygons with whole coordinates as JSON integers (half the bytes of an
/// outline rounded to pixels); any other coordinate as it is.
fn whole_numbers_short<S: serde::Serializer>(
    polygons: &[Vec<[f32; 2]>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Coordinate {
        Whole(i64),
        Fraction(f32),
    }
    let coordinate = |v: f32| {
        if v.fract() == 0.0 && v.abs() < 1e9 {
            Coordinate::Whole(v as i64)
        } else {
            Coordinate::Fraction(v)
        }
    };
    let mut seq = serializer.serialize_seq(Some(polygons.len()))?;
    for polygon in polygons {
        let points: Vec<[Coordinate; 2]> = polygon
            .iter()
            .map(|&[x, y]| [coordinate(x), coordinate(y)])
            .collect();
        seq.serialize_element(&points)?;
    }
    seq.end()
}

impl PeerToPeer {
    /// Whether a lost copy of this message is not worth repeating: only the newest
    /// snapshot or placement matters, and a mask probe is one sample of a quality
    /// figure. Such messages go on the unreliable `world-fast` channel when it is
    /// open. (A reliable mask probe, 4.9 kB in four SCTP fragments, was repeated
    /// into the very queue that dropped it when a link slowed: docs/NET.md.)
    pub fn may_be_lost(&self) -> bool {
        matches!(
            self,
            Self::GameSnapshot { .. }
                | Self::Placement { .. }
                | Self::MaskProbe { .. }
                | Self::DrawRate { .. }
        )
    }

    /// The message's kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::Placement { .. } => "placement",
            Self::Chat(_) => "chat",
            Self::GameSnapshot { .. } => "game-snapshot",
            Self::GameEvent { .. } => "game-event",
            Self::MaskProbe { .. } => "mask-probe",
            Self::Voice { .. } => "voice",
            Self::DrawRate { .. } => "draw-rate",
            Self::Ping { .. } => "ping",
            Self::Pong { .. } => "pong",
            Self::RoomChoice { .. } => "room-choice",
            Self::KeyframeRequest => "keyframe-request",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_codes_parse_forgivingly_and_print_canonically() {
        let code: RoomCode = " k7q4mz ".parse().expect("valid code");
        assert_eq!(code.to_string(), "K7Q-4MZ");
        assert_eq!("K7Q-4MZ".parse::<RoomCode>(), Ok(code));
        assert_eq!("K7Q-4M".parse::<RoomCode>(), Err(RoomCodeError::Length(5)));
        assert_eq!(
            "K7Q-4M0".parse::<RoomCode>(),
            Err(RoomCodeError::Character('0'))
        );
    }

    #[test]
    fn random_room_codes_are_valid_and_vary() {
        let a = RoomCode::random();
        let b = RoomCode::random();
        assert_eq!(a.to_string().parse::<RoomCode>(), Ok(a));
        assert_ne!(a, b, "two random codes should differ");
        assert_eq!(RoomCode::from_random(0).to_string(), "222-222");
    }

    #[test]
    fn join_and_signal_have_the_documented_json_shape() {
        let join: ClientToServer =
            serde_json::from_str(r#"{"type":"join","room":"k7q-4mz","name":"Ada"}"#)
                .expect("join parses");
        assert_eq!(
            join,
            ClientToServer::Join {
                room: "K7Q-4MZ".parse().expect("valid"),
                name: "Ada".into(),
                secret: None,
                create: true,
                resume: None,
            }
        );
        let existing = ClientToServer::Join {
            room: "K7Q-4MZ".parse().expect("valid"),
            name: "Bob".into(),
            secret: None,
            create: false,
            resume: None,
        };
        assert_eq!(
            serde_json::to_value(&existing).expect("serializes"),
            serde_json::json!({"type":"join","room":"K7Q-4MZ","name":"Bob","create":false})
        );
        let rejoin: ClientToServer =
            serde_json::from_str(r#"{"type":"join","room":"K7Q-4MZ","name":"Bob","resume":7}"#)
                .expect("a resuming join parses");
        assert!(matches!(
            rejoin,
            ClientToServer::Join {
                resume: Some(PeerId(7)),
                ..
            }
        ));
        assert_eq!(ErrorCode::RoomNotFound.to_string(), "room-not-found");
        let signal = ServerToClient::Signal {
            from: PeerId(3),
            attempt: 0,
            payload: SignalPayload::Candidate(IceCandidate {
                candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
                username_fragment: None,
            }),
        };
        let json = serde_json::to_value(&signal).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"type":"signal","from":3,"candidate":{
                "candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host",
                "sdpMid":"0","sdpMLineIndex":0}})
        );
        let sdp: ClientToServer =
            serde_json::from_str(r#"{"type":"signal","to":2,"sdp":{"type":"offer","sdp":"v=0"}}"#)
                .expect("sdp signal parses");
        assert!(matches!(
            sdp,
            ClientToServer::Signal {
                to: PeerId(2),
                attempt: 0,
                payload: SignalPayload::Sdp(SessionDescription {
                    kind: SdpKind::Offer,
                    ..
                })
            }
        ));
        // A later connection attempt says so; the first leaves it out.
        let retry: ClientToServer = serde_json::from_str(
            r#"{"type":"signal","to":2,"attempt":3,"sdp":{"type":"offer","sdp":"v=0"}}"#,
        )
        .expect("a signal with an attempt parses");
        assert!(matches!(retry, ClientToServer::Signal { attempt: 3, .. }));
        let again = serde_json::to_value(&retry).expect("serializes");
        assert_eq!(again["attempt"], 3);
    }

    #[test]
    fn a_signal_with_both_or_neither_payload_is_refused() {
        let both = r#"{"type":"signal","to":2,"sdp":{"type":"offer","sdp":"v=0"},
            "candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}"#;
        let err = serde_json::from_str::<ClientToServer>(both).expect_err("both refused");
        assert!(err.to_string().contains("not both"), "{err}");
        let neither = r#"{"type":"signal","to":2}"#;
        assert!(serde_json::from_str::<ClientToServer>(neither).is_err());
        let relayed_both = both.replace(r#""to":2"#, r#""from":2"#);
        assert!(serde_json::from_str::<ServerToClient>(&relayed_both).is_err());
    }

    #[test]
    fn error_codes_print_as_kebab_case() {
        assert_eq!(ErrorCode::RoomFull.to_string(), "room-full");
        let json = serde_json::to_string(&ServerToClient::error(ErrorCode::TooLarge, "x"))
            .expect("serializes");
        assert_eq!(json, r#"{"type":"error","code":"too-large","message":"x"}"#);
    }

    #[test]
    fn room_controls_have_the_documented_json_shape() {
        let shapes = [
            (ClientToServer::Lock, r#"{"type":"lock"}"#),
            (ClientToServer::Unlock, r#"{"type":"unlock"}"#),
            (
                ClientToServer::Remove { id: PeerId(4) },
                r#"{"type":"remove","id":4}"#,
            ),
        ];
        for (msg, json) in shapes {
            assert_eq!(serde_json::to_string(&msg).expect("serializes"), json);
            assert_eq!(
                serde_json::from_str::<ClientToServer>(json).expect("parses"),
                msg
            );
        }
        assert_eq!(
            serde_json::to_string(&ServerToClient::RoomLock { locked: true }).expect("ok"),
            r#"{"type":"room-lock","locked":true}"#
        );
        assert_eq!(ErrorCode::RoomLocked.to_string(), "room-locked");
        assert_eq!(ErrorCode::NotHost.to_string(), "not-host");
        assert!(ErrorCode::Removed.is_fatal() && !ErrorCode::RoomLocked.is_fatal());
        let choice = PeerToPeer::RoomChoice {
            theme: "space".into(),
            game: Some("volleyball".into()),
        };
        assert_eq!(
            serde_json::to_string(&choice).expect("serializes"),
            r#"{"type":"room-choice","theme":"space","game":"volleyball"}"#
        );
        let none: PeerToPeer =
            serde_json::from_str(r#"{"type":"room-choice","theme":"beach","game":null}"#)
                .expect("parses");
        assert!(matches!(none, PeerToPeer::RoomChoice { game: None, .. }));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  Ada "), Some("Ada"));
        assert_eq!(validate_name("   "), None);
        assert_eq!(validate_name("a\u{7}b"), None);
        assert_eq!(validate_name(&"x".repeat(MAX_NAME_CHARS + 1)), None);
    }

    #[test]
    fn peer_messages_round_trip() {
        let msg = PeerToPeer::Chat(Chat::Text { text: "hi".into() });
        let json = serde_json::to_string(&msg).expect("serializes");
        assert_eq!(json, r#"{"type":"chat","kind":"text","text":"hi"}"#);
        let back: PeerToPeer = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, msg);
    }

    #[test]
    fn the_draw_rate_has_the_documented_json_shape_and_may_be_lost() {
        let msg = PeerToPeer::DrawRate { fps: 28.5 };
        let json = serde_json::to_string(&msg).expect("serializes");
        assert_eq!(json, r#"{"type":"draw-rate","fps":28.5}"#);
        let back: PeerToPeer =
            serde_json::from_str(r#"{"type":"draw-rate","fps":28.5,"later":1}"#).expect("parses");
        assert_eq!(back, msg);
        assert!(msg.may_be_lost());
        assert_eq!(msg.kind(), "draw-rate");
    }

    #[test]
    fn an_outline_in_whole_pixels_is_written_as_integers_and_read_back() {
        let msg = PeerToPeer::Placement {
            placement: WirePlacement {
                x: 0.0,
                y: 0.0,
                scale: 1.0,
                z: 0,
                mirrored: false,
                frame_width: Some(640),
            },
            outline: vec![vec![[320.0, 38.0], [306.5, -48.0]]],
        };
        let json = serde_json::to_string(&msg).expect("serialises");
        assert!(
            json.ends_with(r#""outline":[[[320,38],[306.5,-48]]]}"#),
            "{json}"
        );
        let back: PeerToPeer = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, msg);
    }

    /// The placement as `docs/PROTOCOL.md` shows it, and as older senders send it.
    #[test]
    fn a_placement_keeps_its_size_on_a_smaller_picture() {
        let json = r#"{"type":"placement","placement":{"x":-320.0,"y":-300.0,"scale":0.95,"z":0,"mirrored":false,"frame_width":640},"outline":[]}"#;
        let msg: PeerToPeer = serde_json::from_str(json).expect("parses");
        assert_eq!(serde_json::to_string(&msg).expect("serialises"), json);
        let PeerToPeer::Placement { placement, .. } = msg else {
            panic!("a placement: {msg:?}");
        };
        assert_eq!(placement.scale_for_width(640), 0.95);
        assert!((placement.scale_for_width(320) - 1.9).abs() < 1e-6);
        let old = r#"{"type":"placement","placement":{"x":0.0,"y":0.0,"scale":0.5,"z":0,"mirrored":false}}"#;
        let PeerToPeer::Placement { placement, .. } = serde_json::from_str(old).expect("parses")
        else {
            panic!("a placement");
        };
        assert_eq!(placement.frame_width, None);
        assert_eq!(placement.scale_for_width(320), 0.5);
    }

    /// The game messages exactly as `docs/PROTOCOL.md` shows them.
    const GAME_EVENT_JSON: &str = r#"{"type":"game-event","game":"meteor-dodge","tick":240,"event":{"tick":240,"time":4.0,"type":"life_lost","participant":1,"name":"Bob","lives_left":2}}"#;
    const GAME_SNAPSHOT_JSON: &str = r#"{"type":"game-snapshot","game":"volleyball","tick":240,"state":{"game":"volleyball","phase":"play","round":1,"tick":240,"time_left":10.0,"banner":"Left 1 : 0 Right   10 s","objects":[{"id":7,"kind":"ball","radius":40.0,"position":[120.5,40.0],"angle":0.5,"velocity":[-80.0,150.0],"angular_velocity":1.25}],"scores":[{"id":0,"name":"Ada","total":1,"round":1,"lives":null,"eliminated":false,"invulnerable":false,"side":"left","label_at":[-300.0,95.5]}],"teams":[{"name":"Left","points":1},{"name":"Right","points":0}],"net":[0.0,-70.0]}}"#;

    #[test]
    fn game_messages_are_typed_and_keep_the_documented_json() {
        for json in [GAME_EVENT_JSON, GAME_SNAPSHOT_JSON] {
            let message: PeerToPeer = serde_json::from_str(json).expect("parses");
            assert_eq!(serde_json::to_string(&message).expect("serializes"), json);
        }
        let PeerToPeer::GameSnapshot { game, state, .. } =
            serde_json::from_str(GAME_SNAPSHOT_JSON).expect("parses")
        else {
            panic!("a game snapshot");
        };
        assert_eq!(game, GameKind::Volleyball);
        assert_eq!(state.objects[0].kind, game::ObjectKind::Ball);
        assert_eq!(state.scores[0].side, Some(game::Side::Left));
    }

    #[test]
    fn game_messages_ignore_unknown_fields_and_reject_unknown_games() {
        let newer = GAME_EVENT_JSON
            .replace(r#""lives_left":2"#, r#""lives_left":2,"shield":true"#)
            .replace(r#""tick":240,"event""#, r#""tick":240,"seed":9,"event""#);
        let message: PeerToPeer = serde_json::from_str(&newer).expect("unknown fields ignored");
        assert_eq!(
            message,
            serde_json::from_str::<PeerToPeer>(GAME_EVENT_JSON).expect("parses")
        );
        let chess = GAME_SNAPSHOT_JSON.replace("volleyball", "chess");
        assert!(serde_json::from_str::<PeerToPeer>(&chess).is_err());
    }

    #[test]
    fn the_voice_state_reads_with_unknown_fields_and_needs_muted() {
        let msg = PeerToPeer::Voice { muted: true };
        let json = serde_json::to_string(&msg).expect("serializes");
        assert_eq!(json, r#"{"type":"voice","muted":true}"#);
        let newer: PeerToPeer =
            serde_json::from_str(r#"{"type":"voice","muted":false,"push_to_talk":true}"#)
                .expect("unknown fields are ignored");
        assert_eq!(newer, PeerToPeer::Voice { muted: false });
        assert!(serde_json::from_str::<PeerToPeer>(r#"{"type":"voice"}"#).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// Any JSON value, a few levels deep.
        fn json_value() -> impl Strategy<Value = serde_json::Value> {
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::Bool),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<u64>().prop_map(serde_json::Value::from),
                any::<f64>().prop_map(serde_json::Value::from),
                ".{0,12}".prop_map(serde_json::Value::String),
                prop_oneof![
                    Just("join"),
                    Just("signal"),
                    Just("ping"),
                    Just("leave"),
                    Just("offer"),
                    Just("K7Q-4MZ"),
                ]
                .prop_map(|s| serde_json::Value::String(s.to_owned())),
            ];
            leaf.prop_recursive(3, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                    prop::collection::vec((field_name(), inner), 0..6)
                        .prop_map(|fields| serde_json::Value::Object(fields.into_iter().collect())),
                ]
            })
        }

        /// Field names of the protocol, and others.
        fn field_name() -> impl Strategy<Value = String> {
            prop_oneof![
                prop_oneof![
                    Just("type"),
                    Just("room"),
                    Just("name"),
                    Just("secret"),
                    Just("to"),
                    Just("from"),
                    Just("attempt"),
                    Just("sdp"),
                    Just("candidate"),
                    Just("sdpMid"),
                    Just("sdpMLineIndex"),
                    Just("code"),
                    Just("peers"),
                ]
                .prop_map(str::to_owned),
                "[a-zA-Z]{0,8}",
            ]
        }

        fn room_code() -> impl Strategy<Value = RoomCode> {
            any::<u64>().prop_map(RoomCode::from_random)
        }

        fn payload() -> impl Strategy<Value = SignalPayload> {
            let kind = prop_oneof![
                Just(SdpKind::Offer),
                Just(SdpKind::Answer),
                Just(SdpKind::Pranswer),
                Just(SdpKind::Rollback),
            ];
            prop_oneof![
                (kind, any::<String>())
                    .prop_map(|(kind, sdp)| SignalPayload::Sdp(SessionDescription { kind, sdp })),
                (
                    any::<String>(),
                    proptest::option::of(any::<String>()),
                    proptest::option::of(any::<u16>()),
                    proptest::option::of(any::<String>()),
                )
                    .prop_map(
                        |(candidate, sdp_mid, sdp_mline_index, username_fragment)| {
                            SignalPayload::Candidate(IceCandidate {
                                candidate,
                                sdp_mid,
                                sdp_mline_index,
                                username_fragment,
                            })
                        }
                    ),
            ]
        }

        fn client_message() -> impl Strategy<Value = ClientToServer> {
            prop_oneof![
                (
                    room_code(),
                    any::<String>(),
                    proptest::option::of(any::<String>()),
                    any::<bool>(),
                    proptest::option::of(any::<u64>()),
                )
                    .prop_map(|(room, name, secret, create, resume)| {
                        ClientToServer::Join {
                            room,
                            name,
                            secret,
                            create,
                            resume: resume.map(PeerId),
                        }
                    }),
                (any::<u64>(), any::<u32>(), payload()).prop_map(|(to, attempt, payload)| {
                    ClientToServer::Signal {
                        to: PeerId(to),
                        attempt,
                        payload,
                    }
                }),
                Just(ClientToServer::Ping),
                Just(ClientToServer::Leave),
                Just(ClientToServer::Lock),
                Just(ClientToServer::Unlock),
                any::<u64>().prop_map(|id| ClientToServer::Remove { id: PeerId(id) }),
            ]
        }

        fn server_message() -> impl Strategy<Value = ServerToClient> {
            let peer = (any::<u64>(), any::<String>()).prop_map(|(id, name)| PeerInfo {
                id: PeerId(id),
                name,
            });
            let code = prop_oneof![
                Just(ErrorCode::BadMessage),
                Just(ErrorCode::SlowConsumer),
                Just(ErrorCode::TooManyJoins),
                Just(ErrorCode::Unauthorized),
                Just(ErrorCode::RoomLocked),
                Just(ErrorCode::NotHost),
                Just(ErrorCode::Removed),
            ];
            prop_oneof![
                (
                    any::<u32>(),
                    room_code(),
                    any::<u64>(),
                    prop::collection::vec(peer, 0..8),
                    any::<u64>()
                )
                    .prop_map(|(version, room, you, peers, host)| {
                        ServerToClient::Welcome {
                            version,
                            room,
                            you: PeerId(you),
                            peers,
                            host: PeerId(host),
                        }
                    }),
                (any::<u64>(), any::<String>()).prop_map(|(id, name)| {
                    ServerToClient::PeerJoined {
                        id: PeerId(id),
                        name,
                    }
                }),
                (any::<u64>(), any::<u64>()).prop_map(|(id, host)| ServerToClient::PeerLeft {
                    id: PeerId(id),
                    host: PeerId(host),
                }),
                (any::<u64>(), any::<u32>(), payload()).prop_map(|(from, attempt, payload)| {
                    ServerToClient::Signal {
                        from: PeerId(from),
                        attempt,
                        payload,
                    }
                }),
                Just(ServerToClient::Pong),
                any::<bool>().prop_map(|locked| ServerToClient::RoomLock { locked }),
                (code, any::<String>())
                    .prop_map(|(code, message)| ServerToClient::Error { code, message }),
            ]
        }

        /// Runs every parser of the protocol over `text`; none may panic.
        fn parse_all(bytes: &[u8]) {
            let _ = serde_json::from_slice::<ClientToServer>(bytes);
            let _ = serde_json::from_slice::<ServerToClient>(bytes);
            let _ = serde_json::from_slice::<PeerToPeer>(bytes);
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            #[test]
            fn arbitrary_bytes_never_panic_the_parsers(
                bytes in prop::collection::vec(any::<u8>(), 0..256)
            ) {
                parse_all(&bytes);
            }

            #[test]
            fn arbitrary_json_never_panics_the_parsers(value in json_value()) {
                parse_all(value.to_string().as_bytes());
            }

            #[test]
            fn valid_messages_with_one_field_replaced_never_panic(
                msg in client_message(),
                field in field_name(),
                value in json_value(),
            ) {
                let mut json = serde_json::to_value(&msg).expect("serializes");
                if let Some(object) = json.as_object_mut() {
                    object.insert(field, value);
                }
                parse_all(json.to_string().as_bytes());
            }

            #[test]
            fn client_messages_round_trip(msg in client_message()) {
                let text = serde_json::to_string(&msg).expect("serializes");
                let back: ClientToServer = serde_json::from_str(&text).expect("parses");
                prop_assert_eq!(back, msg);
            }

            #[test]
            fn server_messages_round_trip(msg in server_message()) {
                let text = serde_json::to_string(&msg).expect("serializes");
                let back: ServerToClient = serde_json::from_str(&text).expect("parses");
                prop_assert_eq!(back, msg);
            }
        }
    }
}
