//! Capture timestamps and frame numbers carried inside the H.264 stream, for
//! glass-to-glass latency and counting lost pictures.
//!
//! RTP timestamps only count media time from a random start, so a receiver cannot
//! tell when a frame was captured. The sender therefore prefixes each access unit
//! with an SEI NAL unit (`user_data_unregistered`, payload type 5) holding
//! [`CAPTURE_TIME_UUID`], the capture time as microseconds since the Unix epoch and
//! the sender's picture number (both big endian). Decoders ignore it; a gap in the
//! picture numbers tells the receiver how many pictures never reached it; the receiver strips it before handing the unit
//! on, so the app gets exactly the bytes the encoder produced. Comparing with the
//! receiver's own wall clock gives end-to-end latency between processes on one
//! machine (or across machines with synchronised clocks).
//!
//! Pure functions; Annex-B emulation prevention is applied and removed.
//!
//! Audio has no such in-band room, so each Opus packet carries its capture time in
//! the RTP header extension `abs-capture-time` ([`ABS_CAPTURE_TIME_URI`], libwebrtc's
//! format): the capture time of the packet's first sample as a 64-bit NTP
//! timestamp (seconds since 1900 in the high 32 bits, the fraction in the low 32),
//! optionally followed by an 8-byte clock-offset estimate, which the app neither
//! sends nor uses. [`AbsCaptureTime`] writes it, [`read_abs_capture_time`] reads it.

use bytes::Bytes;

/// Identifies our SEI payload (no zero bytes, so it never needs escaping).
pub const CAPTURE_TIME_UUID: [u8; 16] = *b"samespace-cptime";

const START_CODE: [u8; 4] = [0, 0, 0, 1];
const SEI_NAL_HEADER: u8 = 0x06;
const USER_DATA_UNREGISTERED: u8 = 5;
const PAYLOAD_LEN: u8 = 16 + 8 + 4;

/// URI of the RTP header extension with a packet's capture time (negotiated by SDP
/// `a=extmap` on the audio m-line).
pub const ABS_CAPTURE_TIME_URI: &str =
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time";
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// Unix µs → 64-bit NTP timestamp (32.32 fixed point seconds since 1900).
pub fn ntp_of_unix_us(unix_us: u64) -> u64 {
    let seconds = unix_us / 1_000_000 + NTP_UNIX_OFFSET_S;
    let fraction = ((unix_us % 1_000_000) << 32) / 1_000_000;
    (seconds << 32) | fraction
}

/// 64-bit NTP timestamp → Unix µs (0 before 1970).
pub fn unix_us_of_ntp(ntp: u64) -> u64 {
    let seconds = (ntp >> 32).saturating_sub(NTP_UNIX_OFFSET_S);
    let fraction = ((ntp & 0xffff_ffff) * 1_000_000 + (1 << 31)) >> 32;
    seconds * 1_000_000 + fraction
}

/// The `abs-capture-time` extension's value as sent: the capture time only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbsCaptureTime {
    /// Capture time of the packet's first sample, µs since the Unix epoch.
    pub captured_unix_us: u64,
}

impl rtc::shared::marshal::MarshalSize for AbsCaptureTime {
    fn marshal_size(&self) -> usize {
        8
    }
}

impl rtc::shared::marshal::Marshal for AbsCaptureTime {
    fn marshal_to(&self, buf: &mut [u8]) -> rtc::shared::error::Result<usize> {
        let out = buf
            .get_mut(..8)
            .ok_or(rtc::shared::error::Error::ErrBufferTooSmall)?;
        out.copy_from_slice(&ntp_of_unix_us(self.captured_unix_us).to_be_bytes());
        Ok(8)
    }
}

/// The capture time (Unix µs) in an `abs-capture-time` extension's payload (8
/// bytes, or 16 with the clock-offset estimate); `None` for any other length.
pub fn read_abs_capture_time(payload: &[u8]) -> Option<u64> {
    if payload.len() != 8 && payload.len() != 16 {
        return None;
    }
    let mut ntp = [0u8; 8];
    ntp.copy_from_slice(&payload[..8]);
    Some(unix_us_of_ntp(u64::from_be_bytes(ntp)))
}

/// What the SEI carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameStamp {
    /// Capture time, µs since the Unix epoch.
    pub captured_unix_us: u64,
    /// The sender's picture counter (wraps).
    pub frame_number: u32,
}

/// Inserts emulation-prevention bytes (`00 00 0x` → `00 00 03 0x` for x ≤ 3).
fn escape(raw: &[u8], out: &mut Vec<u8>) {
    let mut zeros = 0;
    for &b in raw {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
}

/// Removes emulation-prevention bytes.
fn unescape(escaped: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut zeros = 0;
    for &b in escaped {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// Returns `access_unit` with a capture-time SEI NAL in front.
pub fn prepend_capture_time(access_unit: &[u8], stamp: FrameStamp) -> Bytes {
    let mut rbsp = Vec::with_capacity(2 + PAYLOAD_LEN as usize + 1);
    rbsp.push(USER_DATA_UNREGISTERED);
    rbsp.push(PAYLOAD_LEN);
    rbsp.extend_from_slice(&CAPTURE_TIME_UUID);
    rbsp.extend_from_slice(&stamp.captured_unix_us.to_be_bytes());
    rbsp.extend_from_slice(&stamp.frame_number.to_be_bytes());
    rbsp.push(0x80); // rbsp_trailing_bits
    let mut out = Vec::with_capacity(access_unit.len() + 40);
    out.extend_from_slice(&START_CODE);
    out.push(SEI_NAL_HEADER);
    escape(&rbsp, &mut out);
    out.extend_from_slice(access_unit);
    Bytes::from(out)
}

/// If `access_unit` starts with our capture-time SEI, returns the stamp and the rest
/// of the unit (from its next start code); otherwise `None`.
pub fn strip_capture_time(access_unit: &Bytes) -> Option<(FrameStamp, Bytes)> {
    let body = access_unit.strip_prefix(&START_CODE[..])?;
    if body.first() != Some(&SEI_NAL_HEADER) {
        return None;
    }
    // The SEI ends where the next start code (00 00 01) begins.
    let sei_end = (1..body.len().saturating_sub(2))
        .find(|&i| body[i] == 0 && body[i + 1] == 0 && body[i + 2] == 1)
        .unwrap_or(body.len());
    let rbsp = unescape(&body[1..sei_end]);
    if rbsp.len() < 2 + PAYLOAD_LEN as usize
        || rbsp[0] != USER_DATA_UNREGISTERED
        || rbsp[1] != PAYLOAD_LEN
        || rbsp[2..18] != CAPTURE_TIME_UUID
    {
        return None;
    }
    let mut time = [0u8; 8];
    time.copy_from_slice(&rbsp[18..26]);
    let mut number = [0u8; 4];
    number.copy_from_slice(&rbsp[26..30]);
    // Keep the 4-byte start code of the next NAL: back up over a leading zero.
    let mut rest_start = 4 + sei_end;
    if rest_start > 4 && access_unit.get(rest_start - 1) == Some(&0) {
        rest_start -= 1;
    }
    let rest = if rest_start >= access_unit.len() {
        Bytes::new()
    } else {
        access_unit.slice(rest_start..)
    };
    let stamp = FrameStamp {
        captured_unix_us: u64::from_be_bytes(time),
        frame_number: u32::from_be_bytes(number),
    };
    Some((stamp, rest))
}

/// The stamp in an RTP payload (RFC 6184) that is our capture-time SEI sent as a
/// single NAL unit, as the H.264 packetizer sends the SEI that starts each
/// access unit; `None` for any other payload.
pub fn stamp_of_sei_payload(payload: &[u8]) -> Option<FrameStamp> {
    if payload.first() != Some(&SEI_NAL_HEADER) {
        return None;
    }
    let mut unit = Vec::with_capacity(START_CODE.len() + payload.len());
    unit.extend_from_slice(&START_CODE);
    unit.extend_from_slice(payload);
    strip_capture_time(&Bytes::from(unit)).map(|(stamp, _)| stamp)
}

/// Microseconds since the Unix epoch of `instant`, using the current offset between
/// the monotonic and the wall clock.
pub fn unix_micros(instant: std::time::Instant) -> u64 {
    let now_wall = std::time::SystemTime::now();
    let age = std::time::Instant::now().saturating_duration_since(instant);
    now_wall
        .checked_sub(age)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abs_capture_time_is_ntp_and_reads_back_to_the_microsecond() {
        use rtc::shared::marshal::Marshal;
        // 2026-01-01T00:00:00.25 UTC.
        let unix_us = 1_767_225_600_250_000u64;
        let ntp = ntp_of_unix_us(unix_us);
        assert_eq!(ntp >> 32, 1_767_225_600 + 2_208_988_800);
        assert_eq!(ntp & 0xffff_ffff, 1 << 30, "a quarter second");
        let mut buf = [0u8; 8];
        let ext = AbsCaptureTime {
            captured_unix_us: unix_us + 17,
        };
        assert_eq!(ext.marshal_to(&mut buf), Ok(8));
        assert_eq!(read_abs_capture_time(&buf), Some(unix_us + 17));
        // With the (ignored) clock-offset estimate.
        let long: Vec<u8> = buf.iter().copied().chain([0u8; 8]).collect();
        assert_eq!(read_abs_capture_time(&long), Some(unix_us + 17));
        assert_eq!(read_abs_capture_time(&buf[..3]), None);
        assert!(ext.marshal_to(&mut [0u8; 4]).is_err());
    }

    fn annex_b(nals: &[&[u8]]) -> Bytes {
        let mut out = Vec::new();
        for nal in nals {
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(nal);
        }
        Bytes::from(out)
    }

    #[test]
    fn the_stamp_is_read_from_the_sei_packet_alone() {
        let stamp = FrameStamp {
            captured_unix_us: 1_700_000_000_123_456,
            frame_number: 42,
        };
        let unit = prepend_capture_time(&[0, 0, 0, 1, 0x65, 0x88], stamp);
        // The SEI NAL unit without its start code, up to the next one.
        let sei_end = (4..unit.len() - 3)
            .find(|&i| unit[i..i + 4] == [0, 0, 0, 1])
            .expect("next start code");
        assert_eq!(stamp_of_sei_payload(&unit[4..sei_end]), Some(stamp));
        assert_eq!(stamp_of_sei_payload(&[0x65, 0x88]), None);
        assert_eq!(stamp_of_sei_payload(&[0x06, 0x05, 0x01]), None);
    }

    #[test]
    fn a_capture_time_survives_the_round_trip_and_the_unit_is_unchanged() {
        let au = annex_b(&[&[0x67, 1, 2], &[0x65, 0, 0, 0, 9]]);
        // A time whose bytes need emulation prevention (00 00 01 inside).
        for (time, frame_number) in [
            (0x0000_0001_0000_0102u64, 0x0000_0100),
            (1_764_000_000_123_456, u32::MAX),
            (0, 0),
        ] {
            let stamp = FrameStamp {
                captured_unix_us: time,
                frame_number,
            };
            let tagged = prepend_capture_time(&au, stamp);
            let (got, rest) = strip_capture_time(&tagged).expect("our SEI");
            assert_eq!(got, stamp);
            assert_eq!(rest, au);
            // No start code is emulated inside the SEI.
            let sei = &tagged[4..tagged.len() - au.len()];
            assert!(!sei.windows(3).any(|w| w == [0, 0, 1]), "time {time:#x}");
        }
    }

    #[test]
    fn units_without_our_sei_are_left_alone() {
        let au = annex_b(&[&[0x06, 5, 1, 2, 0x80], &[0x65, 1, 2]]);
        assert_eq!(strip_capture_time(&au), None);
        assert_eq!(strip_capture_time(&annex_b(&[&[0x65, 1, 2]])), None);
    }

    #[test]
    fn unix_micros_of_now_is_close_to_the_wall_clock() {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let ours = unix_micros(std::time::Instant::now());
        assert!(ours.abs_diff(wall) < 50_000);
    }
}
