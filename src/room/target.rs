//! Where a room is: join links (`ws://HOST:PORT/CODE`), codes, server addresses, and
//! why joining failed, in words for the lobby. Pure: no Bevy, no sockets.

use crate::net::error::NetError;
use crate::net::protocol::{ErrorCode, RoomCode};

use super::error::RoomError;

/// The port of the signaling server the app starts for a created room, and the one a
/// bare code is looked for on this computer when no server is configured.
pub const DEFAULT_PORT: u16 = 9470;

/// What the lobby's code field (or `samespace join`) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTarget {
    /// The server from a link (`None` for a bare code: the configured server).
    pub server: Option<String>,
    /// The room.
    pub room: RoomCode,
}

/// Reads a bare code (`K7Q-4MZ`, `k7q4mz`) or a join link (`ws://HOST:PORT/CODE`,
/// `wss://…`).
pub fn parse_join_target(input: &str) -> Result<JoinTarget, RoomError> {
    let text = input.trim();
    let Some(rest) = text
        .strip_prefix("ws://")
        .or_else(|| text.strip_prefix("wss://"))
    else {
        return Ok(JoinTarget {
            server: None,
            room: text.parse()?,
        });
    };
    let scheme = &text[..text.len() - rest.len()];
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let code = path.trim_matches('/');
    if authority.is_empty() || code.is_empty() {
        return Err(RoomError::LinkWithoutCode);
    }
    Ok(JoinTarget {
        server: Some(format!("{scheme}{authority}")),
        room: code.parse()?,
    })
}

/// The link friends paste to join: `SERVER/CODE`.
pub fn join_link(server: &str, room: RoomCode) -> String {
    format!("{}/{room}", server.trim_end_matches('/'))
}

/// The host part of a `ws://` or `wss://` URL (`[::1]` keeps its brackets).
pub fn url_host(url: &str) -> &str {
    let rest = url.trim_start_matches("ws://").trim_start_matches("wss://");
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or_default()
}

/// Whether the server is on this computer, so that its peers are too: then ICE uses
/// loopback candidates only and no traffic leaves the machine.
pub fn is_loopback_url(url: &str) -> bool {
    matches!(url_host(url), "127.0.0.1" | "localhost" | "[::1]")
}

/// Why connecting failed, in the words the lobby shows.
pub fn describe_failure(err: &NetError, server: &str) -> String {
    match err {
        NetError::Server {
            code: ErrorCode::RoomNotFound,
            ..
        } => "room not found".into(),
        NetError::Server {
            code: ErrorCode::RoomFull,
            ..
        } => "room full".into(),
        NetError::Server {
            code: ErrorCode::RoomLocked,
            ..
        } => "room locked: its host lets nobody new in".into(),
        NetError::Server {
            code: ErrorCode::Unauthorized,
            message,
        } => format!("wrong secret (the server said: unauthorized: {message})"),
        NetError::Server { code, message } => format!("the server refused: {message} ({code})"),
        NetError::Version { server, ours } => format!(
            "protocol version mismatch: the server speaks version {server}, this app {ours}"
        ),
        NetError::Timeout(what) => format!("timed out {what}"),
        NetError::Io(_) | NetError::WebSocket(_) => format!("server unreachable: {server}"),
        NetError::Connect { source, .. } => format!("server unreachable: {server} ({source})"),
        NetError::ClosedWith(reason) => {
            format!("the server at {server} closed the connection: {reason}")
        }
        NetError::Closed => format!("the server at {server} closed the connection"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> RoomCode {
        s.parse().expect("a valid code")
    }

    #[test]
    fn a_bare_code_names_no_server() {
        assert_eq!(
            parse_join_target(" k7q4mz ").expect("parses"),
            JoinTarget {
                server: None,
                room: code("K7Q-4MZ")
            }
        );
    }

    #[test]
    fn a_link_names_its_server_and_code() {
        let t = parse_join_target("ws://192.168.1.20:9470/K7Q-4MZ").expect("parses");
        assert_eq!(t.server.as_deref(), Some("ws://192.168.1.20:9470"));
        assert_eq!(t.room, code("K7Q-4MZ"));
        let t = parse_join_target("wss://rooms.example:443/k7q-4mz/").expect("parses");
        assert_eq!(t.server.as_deref(), Some("wss://rooms.example:443"));
        assert_eq!(
            join_link("ws://192.168.1.20:9470/", code("K7Q-4MZ")),
            "ws://192.168.1.20:9470/K7Q-4MZ"
        );
    }

    #[test]
    fn a_link_without_a_code_or_a_bad_code_is_refused() {
        assert!(matches!(
            parse_join_target("ws://host:9470"),
            Err(RoomError::LinkWithoutCode)
        ));
        assert!(matches!(
            parse_join_target("ws://host:9470/"),
            Err(RoomError::LinkWithoutCode)
        ));
        assert!(matches!(
            parse_join_target("hello"),
            Err(RoomError::Code(_))
        ));
        assert!(matches!(
            parse_join_target("ws://h:1/K0Q-4MZ"),
            Err(RoomError::Code(_))
        ));
    }

    #[test]
    fn loopback_servers_are_recognised() {
        assert!(is_loopback_url("ws://127.0.0.1:9470"));
        assert!(is_loopback_url("ws://localhost:9470/K7Q-4MZ"));
        assert!(is_loopback_url("ws://[::1]:9470"));
        assert!(!is_loopback_url("ws://192.168.1.20:9470"));
        assert_eq!(url_host("wss://rooms.example/x"), "rooms.example");
    }

    #[test]
    fn failures_read_as_the_lobby_shows_them() {
        let refused = |code| NetError::Server {
            code,
            message: String::new(),
        };
        let s = "ws://127.0.0.1:1";
        assert_eq!(
            describe_failure(&refused(ErrorCode::RoomNotFound), s),
            "room not found"
        );
        assert_eq!(
            describe_failure(&refused(ErrorCode::RoomFull), s),
            "room full"
        );
        assert!(describe_failure(&refused(ErrorCode::Unauthorized), s).starts_with("wrong secret"));
        assert!(describe_failure(&refused(ErrorCode::RoomLocked), s).starts_with("room locked"));
        let io = NetError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            describe_failure(&io, s),
            "server unreachable: ws://127.0.0.1:1"
        );
        assert!(
            describe_failure(&NetError::Version { server: 2, ours: 1 }, s)
                .starts_with("protocol version mismatch")
        );
        assert!(
            describe_failure(&NetError::Timeout("waiting for welcome"), s).starts_with("timed out")
        );
    }
}
