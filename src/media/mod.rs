//! Media coding without Bevy: H.264 (OpenH264 + SIMD colour conversion), alpha
//! packing of cutouts into ordinary video frames, Opus, synthetic audio sources,
//! a mixer and a tone detector.
//!
//! - [`h264`]: [`H264Encoder`] takes RGB8/RGBA8/I420 frames and returns Annex-B
//!   NAL units with a keyframe flag; [`H264Decoder`] turns Annex-B back into
//!   [`I420Frame`]s (and RGB/RGBA).
//! - [`alpha_pack`]: a `w`x`h` RGBA cutout ⇄ a `w`x`2h` I420 frame (colour on top,
//!   alpha as limited-range luma below). Used by the network video track.
//! - [`ladder`]: the send-quality ladder (send estimate → video bit rate, picture
//!   size and frame rate), pure.
//! - [`draw_rate`]: a receiver's frames drawn a second, and the sender's gate that
//!   sends no receiver more pictures than it draws, pure.
//! - [`opus`]: 48 kHz Opus in 20 ms frames, and a framer for arbitrary chunks.
//! - [`audio`]: tone / speech-like / beep sources, [`Mixer`], Goertzel detector.
//! - [`voice`]: the room's voices placed in stereo, voice activity, L/R meter.
//! - [`audio_device`]: microphone and speaker through cpal, converted to and from
//!   mono 48 kHz (each stream on its own thread; the one exception to the rule below).
//!
//! Threads: none. Every type here is driven synchronously by its owner (an encode,
//! decode or recorder thread); encoders and decoders are `Send` so they can live on
//! such a thread. Invariants: pictures are even-sized (4:2:0), YUV is limited range,
//! audio is 48 kHz interleaved.

pub mod alpha_pack;
pub mod audio;
#[allow(
    unsafe_code,
    reason = "on Linux, alsa-lib's error handler is set through FFI (`quiet_sound_library`)"
)]
pub mod audio_device;
pub mod device_keeper;
pub mod draw_rate;
pub mod error;
pub mod h264;
pub mod ladder;
pub mod opus;
pub mod voice;

pub use audio::Mixer;
pub use error::MediaError;
pub use h264::{
    ColorMatrix, EncodedFrame, H264Config, H264Decoder, H264Encoder, I420Frame, PixelFormat,
};
