//! Voices in the room, the Bevy side (`VoicePlugin`): each person's gains from where
//! they stand (for the speaker's mix and the recording's), the speaking ring drawn in
//! the scene, self-mute (sent to the others on `world` as `voice`), per-person volume
//! and mute, and the mute badge ([`badge`]).
//!
//! The audio maths (panning, voice activity, the L/R meter, the stereo voice mixer)
//! is Bevy-free in `crate::media::voice`.

pub mod badge;
pub mod plugin;

pub use plugin::VoicePlugin;
