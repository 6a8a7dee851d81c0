//! Errors of the games capability.

use thiserror::Error;

use super::ParticipantId;

/// What can go wrong when driving a game.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GameError {
    /// The name is not one of [`super::list`].
    #[error(
        "unknown game {0:?} (try: balloon-keepup, meteor-dodge, star-catch, volleyball, photo-booth)"
    )]
    UnknownGame(String),
    /// No participant with this id is in the game.
    #[error("no participant {0:?} in the game")]
    UnknownParticipant(ParticipantId),
    /// A body's anchor is not a finite point.
    #[error("body anchor is not finite")]
    InvalidBody,
}
