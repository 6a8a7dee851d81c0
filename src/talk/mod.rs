//! Talking in one room: the capture-side voice processing.
//!
//! The microphone signal goes through echo cancellation (AEC3 tuned for a room,
//! [`echo`], with what the speaker plays as the far-end reference), noise suppression and automatic gain
//! control (AGC2) before it is Opus-encoded ([`VoiceProcessor`], 10 ms frames at 48
//! kHz). Pure, no Bevy, no threads: the audio thread (`samespace-audio-tx` in
//! `crate::net::bridge`) drives it.
//!
//! - [`processor`]: [`VoiceProcessor`] and [`TalkSettings`].
//! - [`reference`]: the far-end reference from the speaker's callback (or from the
//!   mix that would be played, without a speaker) to the processor: a bounded
//!   channel, [`FAR_END_CAPACITY`] pieces, the newest dropped and counted when full.
//! - [`measure`]: ERLE, correlation (of waveforms, and of short-time spectral
//!   envelopes, phase-blind), SNR.
//! - [`room_sim`]: a simulated room (impulse response, fan noise) for the tests and
//!   `samespace bench`.
//!
//! Invariants: mono f32 at 48 kHz; capture audio in whole 10 ms frames; the far-end
//! reference is the signal actually handed to the speaker.

/// The one sample rate of the app's audio (Opus' native rate): what the processing
/// runs at, and what `crate::media::audio` re-exports for everything else (talk is
/// the lower layer: media's devices feed it the far-end reference).
pub const SAMPLE_RATE: u32 = 48_000;

pub mod echo;
pub mod error;
pub mod measure;
pub mod processor;
pub mod reference;
pub mod room_sim;

pub use error::TalkError;
pub use processor::{FRAME_10MS, TalkSettings, TalkStats, VoiceProcessor};
pub use reference::{FAR_END_CAPACITY, FarEnd, FarEndTap, far_end_channel};
