//! Voices in the room: where each one is heard, who is speaking, and how loud each
//! person is for this listener.
//!
//! Pure, Bevy-free parts:
//! - [`spatial`]: equal-power panning by the speaker's horizontal position in the
//!   world, softening with the distance to the listener, per-person volume and mute,
//!   and the switch that turns placement off ([`spatial::Placing`]).
//! - [`activity`]: voice activity (a level with a hangover) and the glow that shows it.
//! - [`meter`]: left/right energy of one voice at the output.
//! - [`mixer`]: [`mixer::VoiceBus`], the room's voices mixed in stereo for the
//!   speaker (or, with no speaker, mixed and measured only), placed, measured and
//!   watched for speech as they are mixed.
//!
//! Bevy glue in [`plugin`] (`VoicePlugin`): each person's gains from where they
//! stand, the speaking ring drawn in the scene, self-mute (sent to the others on
//! `world` as `voice`), per-person volume and mute, the mute badge, and the same
//! placement for the recording's mix.

pub mod activity;
pub mod badge;
pub mod meter;
pub mod mixer;
pub mod plugin;
pub mod spatial;

pub use plugin::VoicePlugin;
