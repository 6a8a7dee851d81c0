//! What a room connection is configured with: the signaling server, the room, the
//! name, ICE servers and UDP ports.

use std::time::Duration;

use crate::net::error::{NetError, NetResult};
use crate::net::peer::session::SessionTimeouts;
use crate::net::protocol::RoomCode;

/// A STUN or TURN server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceServer {
    /// `stun:host:port` / `turn:host:port?transport=udp` URLs.
    pub urls: Vec<String>,
    /// TURN user name (empty for STUN).
    pub username: String,
    /// TURN credential (empty for STUN).
    pub credential: String,
}

impl IceServer {
    /// A server from its URL (`stun:`, `stuns:`, `turn:` or `turns:` and a host);
    /// TURN needs `username` and `credential`, STUN takes none.
    pub fn from_url(url: &str, username: &str, credential: &str) -> NetResult<Self> {
        let bad = |reason| NetError::IceServer {
            url: url.to_string(),
            reason,
        };
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| bad("expected stun:HOST[:PORT] or turn:HOST[:PORT]"))?;
        let host = rest.split(['?', ':']).next().unwrap_or_default();
        if host.is_empty() || host.starts_with('/') {
            return Err(bad("no host"));
        }
        let (username, credential) = match scheme {
            "stun" | "stuns" => (String::new(), String::new()),
            "turn" | "turns" if username.is_empty() || credential.is_empty() => {
                return Err(bad("a TURN server needs a user name and a credential"));
            }
            "turn" | "turns" => (username.to_string(), credential.to_string()),
            _ => return Err(bad("the scheme must be stun, stuns, turn or turns")),
        };
        Ok(Self {
            urls: vec![url.to_string()],
            username,
            credential,
        })
    }
}

/// FlexFEC-03 protection of the outgoing video: `repair_packets` repair packets
/// for each block of `media_packets` RTP packets, sent on their own SSRC
/// (`a=ssrc-group:FEC-FR`). A receiver rebuilds up to `repair_packets` losses per
/// block without waiting a round trip for a retransmission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoFec {
    /// Media packets per block.
    pub media_packets: u32,
    /// Repair packets per block.
    pub repair_packets: u32,
    /// Whether repair packets go only while the link loses packets (`auto`), or
    /// always.
    pub adaptive: bool,
}

impl VideoFec {
    /// What `auto` protects with: 10:2, the shape measured best for its bytes
    /// (docs/NET.md, *FlexFEC against retransmission*), while the link loses.
    pub const AUTO: Self = Self {
        media_packets: 10,
        repair_packets: 2,
        adaptive: true,
    };

    /// The share of what goes out that is media (the rest is repair).
    pub fn media_share(&self) -> f64 {
        f64::from(self.media_packets) / f64::from(self.media_packets + self.repair_packets)
    }

    /// Parses `MEDIA:REPAIR` (for example `10:2`), at most 48 media and 12 repair
    /// packets (the draft-03 masks' limits in `rtc-interceptor`): always on.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (media, repair) = text
            .split_once(':')
            .ok_or_else(|| format!("{text:?}: expected MEDIA:REPAIR, for example 10:2"))?;
        let number = |s: &str, what: &str, max: u32| -> Result<u32, String> {
            match s.trim().parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "{text:?}: {what} must be a whole number from 1 to {max}"
                )),
            }
        };
        Ok(Self {
            media_packets: number(media, "MEDIA", 48)?,
            repair_packets: number(repair, "REPAIR", 12)?,
            adaptive: false,
        })
    }
}

/// The `--video-fec` setting: `auto` (FEC negotiated, sent while the link loses
/// packets), `off`, or `MEDIA:REPAIR` (always).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoFecSetting(pub Option<VideoFec>);

impl VideoFecSetting {
    /// Parses `auto`, `off` or `MEDIA:REPAIR`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "auto" => Ok(Self(Some(VideoFec::AUTO))),
            "off" => Ok(Self(None)),
            shape => VideoFec::parse(shape)
                .map(|fec| Self(Some(fec)))
                .map_err(|e| format!("{e} (or auto, or off)")),
        }
    }
}

/// How to join a room.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Signaling server, `ws://host:port` or `wss://host:port`.
    pub server_url: String,
    /// A PEM file of certificates to trust for `wss://` besides the system's roots
    /// (a private CA or a self-signed server).
    pub ca_file: Option<std::path::PathBuf>,
    /// Room to join.
    pub room: RoomCode,
    /// Whether an unknown room is created (the default) or refused (`room-not-found`).
    pub create: bool,
    /// Display name.
    pub name: String,
    /// Shared secret of the server, if it has one.
    pub secret: Option<String>,
    /// STUN/TURN servers; none by default (host candidates only).
    pub ice_servers: Vec<IceServer>,
    /// Local UDP addresses for ICE. `0.0.0.0:0` means every non-loopback interface;
    /// `127.0.0.1:0` adds loopback. Default: both.
    pub udp_addrs: Vec<String>,
    /// Negotiation and liveness limits.
    pub timeouts: SessionTimeouts,
    /// Probability of dropping each outgoing RTP packet, to test recovery on a
    /// perfect network (0 = off, the default); see [`super::impair`].
    pub simulated_loss: f64,
    /// One-way delay added to every outgoing RTP/RTCP packet, to test on a perfect
    /// network (zero = off, the default); see [`super::impair`].
    pub simulated_delay: Duration,
    /// Each packet's simulated delay varies within ± this (at most the delay; zero =
    /// a fixed delay); packets keep their order. See [`super::impair`].
    pub simulated_jitter: Duration,
    /// How long received video with a missing packet waits for its retransmission
    /// (NACK) before the frame is given up and a keyframe requested; see
    /// [`super::reorder`]. `None` (the default): four measured media round trips
    /// plus 100 ms, 100 ms–1 s. Packets that arrive in order are never held.
    pub recovery_window: Option<Duration>,
    /// FlexFEC on the video this peer sends, and the repair of video it receives
    /// (both ends must have it for it to be negotiated); by default
    /// [`VideoFec::AUTO`]; `None`: retransmission (NACK) only. See docs/NET.md for
    /// what it costs and gains.
    pub video_fec: Option<VideoFec>,
    /// Where the send estimate towards each peer starts and its bounds; see
    /// [`super::congestion`].
    pub send_estimate: super::congestion::EstimateBounds,
}

impl NetConfig {
    /// A configuration with defaults: no ICE servers, LAN and loopback candidates.
    pub fn new(server_url: impl Into<String>, room: RoomCode, name: impl Into<String>) -> Self {
        Self {
            server_url: server_url.into(),
            ca_file: None,
            room,
            create: true,
            name: name.into(),
            secret: None,
            ice_servers: Vec::new(),
            udp_addrs: vec!["0.0.0.0:0".into(), "127.0.0.1:0".into()],
            timeouts: SessionTimeouts::default(),
            simulated_loss: 0.0,
            simulated_delay: Duration::ZERO,
            simulated_jitter: Duration::ZERO,
            recovery_window: None,
            video_fec: Some(VideoFec::AUTO),
            send_estimate: super::congestion::EstimateBounds::default(),
        }
    }

    /// Restricts ICE to loopback (tests, one machine): no traffic leaves the host.
    pub fn loopback_only(mut self) -> Self {
        self.udp_addrs = vec!["127.0.0.1:0".into()];
        self.ice_servers.clear();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_servers_are_checked_when_configured() {
        let stun = IceServer::from_url("stun:stun.example.org:3478", "", "").expect("stun");
        assert_eq!(stun.urls, vec!["stun:stun.example.org:3478".to_string()]);
        assert!(stun.username.is_empty());
        let turn = IceServer::from_url("turn:10.0.0.1:3478?transport=udp", "u", "p").expect("turn");
        assert_eq!(
            (turn.username.as_str(), turn.credential.as_str()),
            ("u", "p")
        );
        for (url, user) in [
            ("turn:10.0.0.1", ""),
            ("http://x", ""),
            ("stun:", ""),
            ("stun.example.org", ""),
        ] {
            assert!(
                matches!(
                    IceServer::from_url(url, user, ""),
                    Err(NetError::IceServer { .. })
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn loopback_only_keeps_ice_on_this_machine() {
        let config =
            NetConfig::new("ws://127.0.0.1:1", RoomCode::from_random(1), "a").loopback_only();
        assert_eq!(config.udp_addrs, vec!["127.0.0.1:0".to_string()]);
        assert!(config.ice_servers.is_empty());
    }

    #[test]
    fn the_fec_setting_is_auto_off_or_a_shape() {
        assert_eq!(
            VideoFecSetting::parse("auto"),
            Ok(VideoFecSetting(Some(VideoFec::AUTO)))
        );
        assert_eq!(VideoFecSetting::parse("off"), Ok(VideoFecSetting(None)));
        let fixed = VideoFecSetting::parse("4:2")
            .expect("a shape")
            .0
            .expect("on");
        assert_eq!(
            (fixed.media_packets, fixed.repair_packets, fixed.adaptive),
            (4, 2, false)
        );
        assert!((fixed.media_share() - 4.0 / 6.0).abs() < 1e-9);
        for bad in ["", "on", "10", "0:2", "10:13", "49:1"] {
            assert!(VideoFecSetting::parse(bad).is_err(), "{bad:?}");
        }
    }
}
