//! Errors of the room capability: join targets and the settings file.

use std::path::PathBuf;

use crate::net::protocol::RoomCodeError;

/// Everything that can go wrong in `room` before a connection is tried.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    /// The code typed (or the code at the end of a link) is not a room code.
    #[error("not a room code: {0}")]
    Code(#[from] RoomCodeError),
    /// A join link without a room code after the address.
    #[error("the link has no room code: ws://HOST:PORT/CODE")]
    LinkWithoutCode,
    /// The settings file could not be read or written.
    #[error("settings file {path}")]
    SettingsIo {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The settings file is not valid JSON of the expected shape.
    #[error("settings file {path} is malformed")]
    SettingsFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
}
