//! Opus at 48 kHz in 20 ms frames: [`OpusEncoder`], [`OpusDecoder`] and a
//! [`PcmFramer`] that cuts arbitrary-length PCM into whole frames.

use opus::{Application, Bitrate, Channels};

use super::audio::SAMPLE_RATE;
use super::error::MediaError;

/// Samples per channel in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
/// Largest Opus packet we allocate for (the format's own limit is 1275 bytes per frame).
const MAX_PACKET: usize = 1500;

fn opus_channels(channels: u16) -> Result<Channels, MediaError> {
    match channels {
        1 => Ok(Channels::Mono),
        2 => Ok(Channels::Stereo),
        other => Err(MediaError::Channels(other)),
    }
}

/// A libopus encoder for 20 ms frames of 48 kHz interleaved PCM.
pub struct OpusEncoder {
    encoder: opus::Encoder,
    channels: u16,
    pre_skip: u16,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("channels", &self.channels)
            .field("pre_skip", &self.pre_skip)
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// An encoder for `channels` (1 or 2) at `bitrate_bps`, tuned for general audio.
    pub fn new(channels: u16, bitrate_bps: u32) -> Result<Self, MediaError> {
        let mut encoder =
            opus::Encoder::new(SAMPLE_RATE, opus_channels(channels)?, Application::Audio)?;
        encoder.set_bitrate(Bitrate::Bits(bitrate_bps.min(i32::MAX as u32) as i32))?;
        let pre_skip = u16::try_from(encoder.get_lookahead()?).unwrap_or(312);
        Ok(Self {
            encoder,
            channels,
            pre_skip,
        })
    }

    /// An encoder for a live voice over a lossy network: VoIP tuning, and in-band
    /// forward error correction sized for `expected_loss_percent` (each packet also
    /// carries a coarse copy of the previous frame, so one lost packet can be
    /// rebuilt from the next: [`OpusDecoder::decode_after_loss`]).
    pub fn for_voice(
        channels: u16,
        bitrate_bps: u32,
        expected_loss_percent: u8,
    ) -> Result<Self, MediaError> {
        let mut encoder =
            opus::Encoder::new(SAMPLE_RATE, opus_channels(channels)?, Application::Voip)?;
        encoder.set_bitrate(Bitrate::Bits(bitrate_bps.min(i32::MAX as u32) as i32))?;
        encoder.set_inband_fec(true)?;
        encoder.set_packet_loss_perc(i32::from(expected_loss_percent.min(100)))?;
        let pre_skip = u16::try_from(encoder.get_lookahead()?).unwrap_or(312);
        Ok(Self {
            encoder,
            channels,
            pre_skip,
        })
    }

    /// Interleaved channels per sample.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Samples the decoder must discard at the start (the encoder's lookahead).
    pub fn pre_skip(&self) -> u16 {
        self.pre_skip
    }

    /// Interleaved samples in one frame (960 × channels).
    pub fn frame_len(&self) -> usize {
        FRAME_SAMPLES * usize::from(self.channels)
    }

    /// Encodes exactly one 20 ms frame of i16 PCM into one packet.
    pub fn encode_i16(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        self.check(pcm.len())?;
        Ok(self.encoder.encode_vec(pcm, MAX_PACKET)?)
    }

    /// Encodes exactly one 20 ms frame of f32 PCM into one packet.
    pub fn encode_f32(&mut self, pcm: &[f32]) -> Result<Vec<u8>, MediaError> {
        self.check(pcm.len())?;
        Ok(self.encoder.encode_vec_float(pcm, MAX_PACKET)?)
    }

    fn check(&self, len: usize) -> Result<(), MediaError> {
        if len == self.frame_len() {
            Ok(())
        } else {
            Err(MediaError::BufferLength {
                expected: self.frame_len(),
                actual: len,
            })
        }
    }
}

/// A libopus decoder producing 48 kHz interleaved PCM.
pub struct OpusDecoder {
    decoder: opus::Decoder,
    channels: u16,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// A decoder for `channels` (1 or 2).
    pub fn new(channels: u16) -> Result<Self, MediaError> {
        let decoder = opus::Decoder::new(SAMPLE_RATE, opus_channels(channels)?)?;
        Ok(Self { decoder, channels })
    }

    /// Decodes one packet to interleaved i16 (an empty packet conceals a lost one).
    pub fn decode_i16(&mut self, packet: &[u8]) -> Result<Vec<i16>, MediaError> {
        let mut out = vec![0i16; self.output_len(packet)];
        let n = self.decoder.decode(packet, &mut out, false)?;
        out.truncate(n * usize::from(self.channels));
        Ok(out)
    }

    /// Output room for `packet`: the longest Opus packet (120 ms), or one 20 ms frame
    /// when concealing (an empty packet: concealment fills whatever room it gets).
    fn output_len(&self, packet: &[u8]) -> usize {
        let samples = if packet.is_empty() {
            FRAME_SAMPLES
        } else {
            5760
        };
        samples * usize::from(self.channels)
    }

    /// Decodes one packet to interleaved f32 (an empty packet conceals a lost
    /// 20 ms frame).
    pub fn decode_f32(&mut self, packet: &[u8]) -> Result<Vec<f32>, MediaError> {
        let mut out = vec![0f32; self.output_len(packet)];
        let n = self.decoder.decode_float(packet, &mut out, false)?;
        out.truncate(n * usize::from(self.channels));
        Ok(out)
    }

    /// Decodes `packet`, which arrived after `lost` missing 20 ms frames, and
    /// returns the missing frames followed by its own: all but the last missing
    /// frame are concealed (Opus packet-loss concealment), the last is rebuilt from
    /// the forward error correction inside `packet` (concealed when it has none).
    pub fn decode_after_loss(
        &mut self,
        packet: &[u8],
        lost: usize,
    ) -> Result<Vec<f32>, MediaError> {
        let frame = FRAME_SAMPLES * usize::from(self.channels);
        let mut out = Vec::with_capacity((lost + 1) * frame);
        let mut buf = vec![0f32; frame];
        for k in 0..lost {
            let from_fec = k + 1 == lost;
            let input: &[u8] = if from_fec { packet } else { &[] };
            let n = self.decoder.decode_float(input, &mut buf, from_fec)?;
            out.extend_from_slice(&buf[..n * usize::from(self.channels)]);
        }
        out.extend(self.decode_f32(packet)?);
        Ok(out)
    }
}

/// Collects interleaved PCM of any length and hands out whole frames of
/// `frame_len` samples, keeping the remainder for the next push.
#[derive(Clone, Debug)]
pub struct PcmFramer {
    frame_len: usize,
    pending: Vec<i16>,
}

impl PcmFramer {
    /// A framer for frames of `frame_len` interleaved samples.
    pub fn new(frame_len: usize) -> Self {
        Self {
            frame_len: frame_len.max(1),
            pending: Vec::with_capacity(frame_len * 2),
        }
    }

    /// Appends samples.
    pub fn push(&mut self, samples: &[i16]) {
        self.pending.extend_from_slice(samples);
    }

    /// The next whole frame, if one is ready.
    pub fn pop(&mut self) -> Option<Vec<i16>> {
        if self.pending.len() < self.frame_len {
            return None;
        }
        let rest = self.pending.split_off(self.frame_len);
        Some(std::mem::replace(&mut self.pending, rest))
    }

    /// The remainder padded with silence to a whole frame, if any is left.
    pub fn flush(&mut self) -> Option<Vec<i16>> {
        if self.pending.is_empty() {
            return None;
        }
        let mut frame = std::mem::take(&mut self.pending);
        frame.resize(self.frame_len, 0);
        Some(frame)
    }

    /// Samples waiting for a whole frame.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_error_correction_rebuilds_a_lost_voice_frame() {
        use crate::media::audio::{AudioSource, SpeechLikeSource};
        let mut source = SpeechLikeSource::new(0.4, 7);
        let frames: Vec<Vec<f32>> = (0..100).map(|_| source.next_chunk(FRAME_SAMPLES)).collect();
        let mut encoder = OpusEncoder::for_voice(1, 32_000, 10).expect("encoder");
        let packets: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| encoder.encode_f32(f).expect("encode"))
            .collect();
        let lost = |i: usize| i % 10 == 5;
        // Decoded with the repair, and with plain concealment, for comparison.
        let run = |repair: bool| -> Vec<f32> {
            let mut decoder = OpusDecoder::new(1).expect("decoder");
            let mut out = Vec::new();
            for (i, packet) in packets.iter().enumerate() {
                if lost(i) {
                    if !repair {
                        out.extend(decoder.decode_f32(&[]).expect("conceal"));
                    }
                    continue;
                }
                let missing = usize::from(repair && i > 0 && lost(i - 1));
                out.extend(decoder.decode_after_loss(packet, missing).expect("decode"));
            }
            out
        };
        let (repaired, concealed) = (run(true), run(false));
        assert_eq!(repaired.len(), 100 * FRAME_SAMPLES, "every frame is there");
        assert_eq!(concealed.len(), 100 * FRAME_SAMPLES);
        // Error against the original in the lost frames (the codec delays its
        // output by its lookahead, so compare with the input shifted by pre-skip).
        let delay = usize::from(encoder.pre_skip());
        let error = |decoded: &[f32]| -> f32 {
            (0..100)
                .filter(|&i| lost(i))
                .flat_map(|i| i * FRAME_SAMPLES..(i + 1) * FRAME_SAMPLES)
                .filter(|&n| n >= delay)
                .map(|n| {
                    let original = frames[(n - delay) / FRAME_SAMPLES][(n - delay) % FRAME_SAMPLES];
                    (decoded[n] - original).powi(2)
                })
                .sum()
        };
        let (with_fec, without) = (error(&repaired), error(&concealed));
        eprintln!("lost-frame error: FEC {with_fec:.2}, concealment {without:.2}");
        assert!(
            with_fec < without * 0.7,
            "FEC error {with_fec:.2} vs concealment {without:.2}"
        );
    }
    use crate::media::audio::{AudioSource, SineSource, f32_to_i16, i16_to_f32, tone_amplitude};

    #[test]
    fn a_tone_survives_opus_encode_and_decode() {
        let mut enc = OpusEncoder::new(1, 64_000).expect("encoder");
        let mut dec = OpusDecoder::new(1).expect("decoder");
        let mut src = SineSource::new(880.0, 0.5);
        let mut decoded = Vec::new();
        for _ in 0..25 {
            let pcm = f32_to_i16(&src.next_chunk(FRAME_SAMPLES));
            let packet = enc.encode_i16(&pcm).expect("encode");
            assert!(!packet.is_empty() && packet.len() < MAX_PACKET);
            decoded.extend(dec.decode_i16(&packet).expect("decode"));
        }
        assert_eq!(decoded.len(), 25 * FRAME_SAMPLES);
        let tail = i16_to_f32(&decoded[decoded.len() - 4800..]);
        let level = tone_amplitude(&tail, SAMPLE_RATE, 880.0);
        assert!((level - 0.5).abs() < 0.1, "level {level}");
        assert!(enc.pre_skip() > 0);
    }

    #[test]
    fn stereo_f32_frames_round_trip() {
        let mut enc = OpusEncoder::new(2, 96_000).expect("encoder");
        let mut dec = OpusDecoder::new(2).expect("decoder");
        let packet = enc
            .encode_f32(&vec![0.0; FRAME_SAMPLES * 2])
            .expect("encode");
        assert_eq!(
            dec.decode_f32(&packet).expect("decode").len(),
            FRAME_SAMPLES * 2
        );
    }

    #[test]
    fn a_wrong_frame_length_is_an_error_not_a_panic() {
        let mut enc = OpusEncoder::new(1, 32_000).expect("encoder");
        assert!(matches!(
            enc.encode_i16(&[0; 100]),
            Err(MediaError::BufferLength { .. })
        ));
        assert!(OpusEncoder::new(6, 32_000).is_err());
    }

    #[test]
    fn framer_cuts_whole_frames_and_pads_the_tail() {
        let mut framer = PcmFramer::new(4);
        framer.push(&[1, 2, 3]);
        assert_eq!(framer.pop(), None);
        framer.push(&[4, 5, 6, 7, 8, 9]);
        assert_eq!(framer.pop(), Some(vec![1, 2, 3, 4]));
        assert_eq!(framer.pop(), Some(vec![5, 6, 7, 8]));
        assert_eq!(framer.pop(), None);
        assert_eq!(framer.flush(), Some(vec![9, 0, 0, 0]));
        assert_eq!(framer.flush(), None);
    }
}
