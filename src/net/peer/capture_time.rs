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

use bytes::Bytes;

/// Identifies our SEI payload (no zero bytes, so it never needs escaping).
pub const CAPTURE_TIME_UUID: [u8; 16] = *b"samespace-cptime";

const START_CODE: [u8; 4] = [0, 0, 0, 1];
const SEI_NAL_HEADER: u8 = 0x06;
const USER_DATA_UNREGISTERED: u8 = 5;
const PAYLOAD_LEN: u8 = 16 + 8 + 4;

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

    fn annex_b(nals: &[&[u8]]) -> Bytes {
        let mut out = Vec::new();
        for nal in nals {
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(nal);
        }
        Bytes::from(out)
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
