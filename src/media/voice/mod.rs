//! The room's voices as audio maths, without Bevy: where each one is heard, who is
//! speaking, and how loud each person is for this listener.
//!
//! - [`spatial`]: equal-power panning by the speaker's horizontal position in the
//!   world, softening with the distance to the listener, per-person volume and mute,
//!   and the switch that turns placement off ([`spatial::Placing`]).
//! - [`activity`]: voice activity (a level with a hangover) and the glow that shows it.
//! - [`meter`]: left/right energy of one voice at the output.
//! - [`mixer`]: [`mixer::VoiceBus`], the room's voices mixed in stereo for the
//!   speaker (or, with no speaker, mixed and measured only), placed, measured and
//!   watched for speech as they are mixed.
//! - [`playout`]: one remote voice played a set delay after its capture (jitter
//!   buffer on the sender's capture clock; held to its person's pictures for lip
//!   sync).
//!
//! The Bevy side (each person's gains from where they stand, the speaking ring, the
//! mute badge, self-mute) is `crate::voice`.

pub mod activity;
pub mod meter;
pub mod mixer;
pub mod playout;
pub mod spatial;
