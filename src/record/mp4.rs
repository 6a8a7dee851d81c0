//! A hand-written fragmented MP4 (ISO BMFF) muxer: H.264 video (`avc1` + `avcC`)
//! and optional Opus audio (`Opus` + `dOps`, 48 kHz).
//!
//! Layout: `ftyp`, `moov` (empty sample tables, `mvex` with `mehd`/`trex`), then
//! one `moof`+`mdat` pair per [`Fragment`]. Every fragment is self-contained, so a
//! file cut off after any fragment (a killed process, a full disk) plays up to
//! there. Video samples are AVCC (4-byte length prefixes, no SPS/PPS in-band),
//! timed in 90 kHz; audio in 48 kHz. Both tracks' decode times come from one
//! clock (the recording origin), which is what keeps them in sync.
//!
//! [`init_segment`] and [`media_segment`] are pure byte builders;
//! [`Mp4Writer`] drives them over a [`RecordSink`] and, where the sink can seek,
//! writes the final durations into the header on [`Mp4Writer::finish`].

use super::error::RecordError;
use super::sink::RecordSink;
use crate::media::h264::{nal_type, nal_unit_type, split_annex_b};

/// Timescale of the video track (ticks per second).
pub const VIDEO_TIMESCALE: u32 = 90_000;
/// Timescale of the audio track (= the Opus sample rate).
pub const AUDIO_TIMESCALE: u32 = 48_000;
/// Timescale of the movie header (milliseconds).
const MOVIE_TIMESCALE: u32 = 1_000;
/// Track ID of the video track.
pub const VIDEO_TRACK_ID: u32 = 1;
/// Track ID of the audio track.
pub const AUDIO_TRACK_ID: u32 = 2;

/// Sample flags: a sync sample that depends on no other.
const FLAGS_SYNC: u32 = 0x0200_0000;
/// Sample flags: depends on others, not a sync sample.
const FLAGS_NON_SYNC: u32 = 0x0101_0000;

const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// The video track's description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoTrack {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Sequence parameter set (one NAL unit, no start code).
    pub sps: Vec<u8>,
    /// Picture parameter set (one NAL unit, no start code).
    pub pps: Vec<u8>,
}

impl VideoTrack {
    /// Takes SPS and PPS from a keyframe's Annex-B bytes; `None` if either is missing.
    pub fn from_keyframe(width: u16, height: u16, annex_b: &[u8]) -> Option<Self> {
        let units = split_annex_b(annex_b);
        let sps = units.iter().find(|n| nal_unit_type(n) == nal_type::SPS)?;
        let pps = units.iter().find(|n| nal_unit_type(n) == nal_type::PPS)?;
        if sps.len() < 4 {
            return None;
        }
        Some(Self {
            width,
            height,
            sps: sps.to_vec(),
            pps: pps.to_vec(),
        })
    }
}

/// The audio track's description (Opus, 48 kHz).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioTrack {
    /// Channel count (1 or 2).
    pub channels: u16,
    /// Samples the decoder discards at the start (the encoder's lookahead).
    pub pre_skip: u16,
}

/// What the file contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracks {
    /// The H.264 track (always present, track ID 1).
    pub video: VideoTrack,
    /// The Opus track (track ID 2), if recording audio.
    pub audio: Option<AudioTrack>,
}

/// One coded sample of a track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// AVCC (length-prefixed NAL units) for video; one Opus packet for audio.
    pub data: Vec<u8>,
    /// Decode time in the track's timescale, from the recording origin.
    pub dts: u64,
    /// Duration in the track's timescale.
    pub duration: u32,
    /// True for a sample a decoder can start at (keyframes; every audio packet).
    pub is_sync: bool,
}

/// The samples of one `moof`+`mdat` pair; each track's samples are contiguous in time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fragment {
    /// Video samples in decode order.
    pub video: Vec<Sample>,
    /// Audio samples in order.
    pub audio: Vec<Sample>,
}

/// Converts an Annex-B access unit into an AVCC sample, leaving out parameter sets
/// and access-unit delimiters (they live in `avcC`).
pub fn annex_b_to_avcc(annex_b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(annex_b.len() + 8);
    for nal in split_annex_b(annex_b) {
        let kind = nal_unit_type(nal);
        if nal.is_empty() || kind == nal_type::SPS || kind == nal_type::PPS || kind == nal_type::AUD
        {
            continue;
        }
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// A byte buffer with big-endian writers and nested-box bookkeeping.
#[derive(Default)]
struct BoxWriter {
    buf: Vec<u8>,
}

impl BoxWriter {
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }
    fn pos(&self) -> usize {
        self.buf.len()
    }
    /// Opens a box; returns where its size goes.
    fn open(&mut self, kind: &[u8; 4]) -> usize {
        let at = self.pos();
        self.u32(0);
        self.bytes(kind);
        at
    }
    /// Opens a full box (version + flags).
    fn open_full(&mut self, kind: &[u8; 4], version: u8, flags: u32) -> usize {
        let at = self.open(kind);
        self.u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
        at
    }
    fn close(&mut self, at: usize) {
        let size = (self.buf.len() - at) as u32;
        self.buf[at..at + 4].copy_from_slice(&size.to_be_bytes());
    }
    fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
}

/// Where the header's duration fields sit in the file, for the final patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DurationFields {
    /// `mvhd.duration` (u64, movie timescale).
    pub mvhd: u64,
    /// `mehd.fragment_duration` (u64, movie timescale).
    pub mehd: u64,
    /// Per track: (`tkhd.duration` in movie timescale, `mdhd.duration` in the
    /// track's timescale, the track's timescale).
    pub tracks: Vec<(u64, u64, u32)>,
}

/// The `ftyp` + `moov` header bytes and where its durations are.
pub fn init_segment(tracks: &Tracks) -> (Vec<u8>, DurationFields) {
    let mut w = BoxWriter::default();
    let mut fields = DurationFields::default();

    let ftyp = w.open(b"ftyp");
    w.bytes(b"isom");
    w.u32(0x200);
    for brand in [b"isom", b"iso2", b"iso6", b"avc1", b"mp41"] {
        w.bytes(brand);
    }
    w.close(ftyp);

    let moov = w.open(b"moov");
    let mvhd = w.open_full(b"mvhd", 1, 0);
    w.u64(0); // creation
    w.u64(0); // modification
    w.u32(MOVIE_TIMESCALE);
    fields.mvhd = w.pos() as u64;
    w.u64(0); // duration
    w.u32(0x0001_0000); // rate 1.0
    w.u16(0x0100); // volume 1.0
    w.zeros(2 + 8);
    for m in UNITY_MATRIX {
        w.u32(m);
    }
    w.zeros(24); // pre_defined
    w.u32(if tracks.audio.is_some() { 3 } else { 2 }); // next_track_ID
    w.close(mvhd);

    let video = &tracks.video;
    let (tkhd, mdhd) = write_trak(&mut w, VIDEO_TRACK_ID, VIDEO_TIMESCALE, Some(video), None);
    fields.tracks.push((tkhd, mdhd, VIDEO_TIMESCALE));
    if let Some(audio) = &tracks.audio {
        let (tkhd, mdhd) = write_trak(&mut w, AUDIO_TRACK_ID, AUDIO_TIMESCALE, None, Some(audio));
        fields.tracks.push((tkhd, mdhd, AUDIO_TIMESCALE));
    }

    let mvex = w.open(b"mvex");
    let mehd = w.open_full(b"mehd", 1, 0);
    fields.mehd = w.pos() as u64;
    w.u64(0);
    w.close(mehd);
    let mut ids = vec![VIDEO_TRACK_ID];
    if tracks.audio.is_some() {
        ids.push(AUDIO_TRACK_ID);
    }
    for id in ids {
        let trex = w.open_full(b"trex", 0, 0);
        w.u32(id);
        w.u32(1); // default_sample_description_index
        w.u32(0); // default_sample_duration
        w.u32(0); // default_sample_size
        w.u32(0); // default_sample_flags
        w.close(trex);
    }
    w.close(mvex);
    w.close(moov);
    (w.buf, fields)
}

/// Writes one `trak`; returns the offsets of its `tkhd` and `mdhd` durations.
fn write_trak(
    w: &mut BoxWriter,
    track_id: u32,
    timescale: u32,
    video: Option<&VideoTrack>,
    audio: Option<&AudioTrack>,
) -> (u64, u64) {
    let trak = w.open(b"trak");
    let tkhd = w.open_full(b"tkhd", 1, 0x000003); // enabled, in movie
    w.u64(0);
    w.u64(0);
    w.u32(track_id);
    w.u32(0);
    let tkhd_duration = w.pos() as u64;
    w.u64(0);
    w.zeros(8);
    w.u16(0); // layer
    w.u16(0); // alternate_group
    w.u16(if audio.is_some() { 0x0100 } else { 0 }); // volume
    w.u16(0);
    for m in UNITY_MATRIX {
        w.u32(m);
    }
    let (width, height) = video.map_or((0, 0), |v| (u32::from(v.width), u32::from(v.height)));
    w.u32(width << 16);
    w.u32(height << 16);
    w.close(tkhd);

    let mdia = w.open(b"mdia");
    let mdhd = w.open_full(b"mdhd", 1, 0);
    w.u64(0);
    w.u64(0);
    w.u32(timescale);
    let mdhd_duration = w.pos() as u64;
    w.u64(0);
    w.u16(0x55c4); // language "und"
    w.u16(0);
    w.close(mdhd);

    let hdlr = w.open_full(b"hdlr", 0, 0);
    w.u32(0);
    w.bytes(if video.is_some() { b"vide" } else { b"soun" });
    w.zeros(12);
    w.bytes(if video.is_some() {
        b"samespace video\0"
    } else {
        b"samespace audio\0"
    });
    w.close(hdlr);

    let minf = w.open(b"minf");
    if video.is_some() {
        let vmhd = w.open_full(b"vmhd", 0, 1);
        w.zeros(8);
        w.close(vmhd);
    } else {
        let smhd = w.open_full(b"smhd", 0, 0);
        w.zeros(4);
        w.close(smhd);
    }
    let dinf = w.open(b"dinf");
    let dref = w.open_full(b"dref", 0, 0);
    w.u32(1);
    let url = w.open_full(b"url ", 0, 1); // media in this file
    w.close(url);
    w.close(dref);
    w.close(dinf);

    let stbl = w.open(b"stbl");
    let stsd = w.open_full(b"stsd", 0, 0);
    w.u32(1);
    if let Some(v) = video {
        write_avc1(w, v);
    }
    if let Some(a) = audio {
        write_opus(w, a);
    }
    w.close(stsd);
    for kind in [b"stts", b"stsc", b"stco"] {
        let b = w.open_full(kind, 0, 0);
        w.u32(0);
        w.close(b);
    }
    let stsz = w.open_full(b"stsz", 0, 0);
    w.u32(0);
    w.u32(0);
    w.close(stsz);
    w.close(stbl);
    w.close(minf);
    w.close(mdia);
    w.close(trak);
    (tkhd_duration, mdhd_duration)
}

fn write_avc1(w: &mut BoxWriter, v: &VideoTrack) {
    let avc1 = w.open(b"avc1");
    w.zeros(6);
    w.u16(1); // data_reference_index
    w.zeros(16); // pre_defined, reserved
    w.u16(v.width);
    w.u16(v.height);
    w.u32(0x0048_0000); // 72 dpi
    w.u32(0x0048_0000);
    w.u32(0);
    w.u16(1); // frame_count
    let mut name = [0u8; 32];
    let label = b"samespace h264";
    name[0] = label.len() as u8;
    name[1..=label.len()].copy_from_slice(label);
    w.bytes(&name);
    w.u16(0x0018); // depth
    w.u16(0xffff); // pre_defined = -1

    let avcc = w.open(b"avcC");
    w.u8(1); // configurationVersion
    w.u8(v.sps.get(1).copied().unwrap_or(66)); // profile
    w.u8(v.sps.get(2).copied().unwrap_or(0)); // compatibility
    w.u8(v.sps.get(3).copied().unwrap_or(31)); // level
    w.u8(0xfc | 3); // 4-byte NAL lengths
    w.u8(0xe0 | 1); // one SPS
    w.u16(v.sps.len() as u16);
    w.bytes(&v.sps);
    w.u8(1); // one PPS
    w.u16(v.pps.len() as u16);
    w.bytes(&v.pps);
    w.close(avcc);
    w.close(avc1);
}

fn write_opus(w: &mut BoxWriter, a: &AudioTrack) {
    let opus = w.open(b"Opus");
    w.zeros(6);
    w.u16(1); // data_reference_index
    w.zeros(8);
    w.u16(a.channels);
    w.u16(16); // samplesize
    w.u16(0);
    w.u16(0);
    w.u32(AUDIO_TIMESCALE << 16);
    let dops = w.open(b"dOps");
    w.u8(0); // version
    w.u8(a.channels as u8);
    w.u16(a.pre_skip);
    w.u32(AUDIO_TIMESCALE); // input sample rate
    w.u16(0); // output gain
    w.u8(0); // channel mapping family 0 (mono/stereo)
    w.close(dops);
    w.close(opus);
}

/// The `moof` + `mdat` bytes of one fragment with sequence number `sequence` (from 1).
pub fn media_segment(sequence: u32, fragment: &Fragment) -> Result<Vec<u8>, RecordError> {
    let tracks: Vec<(u32, &[Sample])> = [
        (VIDEO_TRACK_ID, fragment.video.as_slice()),
        (AUDIO_TRACK_ID, fragment.audio.as_slice()),
    ]
    .into_iter()
    .filter(|(_, s)| !s.is_empty())
    .collect();
    let payload: u64 = tracks
        .iter()
        .flat_map(|(_, s)| s.iter())
        .map(|s| s.data.len() as u64)
        .sum();
    if payload + 8 > u64::from(u32::MAX) {
        return Err(RecordError::FragmentTooLarge(payload));
    }

    let mut w = BoxWriter::default();
    let moof = w.open(b"moof");
    let mfhd = w.open_full(b"mfhd", 0, 0);
    w.u32(sequence);
    w.close(mfhd);
    let mut offset_slots = Vec::new();
    for (track_id, samples) in &tracks {
        let traf = w.open(b"traf");
        let tfhd = w.open_full(b"tfhd", 0, 0x02_0000); // default-base-is-moof
        w.u32(*track_id);
        w.close(tfhd);
        let tfdt = w.open_full(b"tfdt", 1, 0);
        w.u64(samples[0].dts);
        w.close(tfdt);
        // data-offset, sample duration, size and flags present.
        let trun = w.open_full(b"trun", 0, 0x000701);
        w.u32(samples.len() as u32);
        offset_slots.push(w.pos());
        w.u32(0);
        for s in *samples {
            w.u32(s.duration);
            w.u32(s.data.len() as u32);
            w.u32(if s.is_sync {
                FLAGS_SYNC
            } else {
                FLAGS_NON_SYNC
            });
        }
        w.close(trun);
        w.close(traf);
    }
    w.close(moof);
    let moof_len = w.pos() - moof;
    let mut data_offset = moof_len + 8;
    for ((_, samples), slot) in tracks.iter().zip(offset_slots) {
        w.patch_u32(slot, data_offset as u32);
        data_offset += samples.iter().map(|s| s.data.len()).sum::<usize>();
    }
    w.u32((payload + 8) as u32);
    w.bytes(b"mdat");
    for (_, samples) in &tracks {
        for s in *samples {
            w.bytes(&s.data);
        }
    }
    Ok(w.buf)
}

/// Writes a fragmented MP4 to a sink, one whole fragment per write.
pub struct Mp4Writer {
    sink: Box<dyn RecordSink>,
    fields: DurationFields,
    sequence: u32,
    written: u64,
    /// Per track (video, audio): first decode time and end time, track timescale.
    extents: [Option<(u64, u64)>; 2],
}

impl std::fmt::Debug for Mp4Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mp4Writer")
            .field("sequence", &self.sequence)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl Mp4Writer {
    /// Writes the header to `sink`. On failure the sink is cut back to empty.
    pub fn new(mut sink: Box<dyn RecordSink>, tracks: &Tracks) -> Result<Self, RecordError> {
        let (header, fields) = init_segment(tracks);
        if let Err(source) = sink.write_all(&header).and_then(|()| sink.flush()) {
            rollback(sink.as_mut(), 0);
            return Err(RecordError::write(0, source));
        }
        Ok(Self {
            sink,
            fields,
            sequence: 0,
            written: header.len() as u64,
            extents: [None, None],
        })
    }

    /// Bytes in the file so far (all complete boxes).
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Media time covered so far, as (first decode time, end) per track in seconds.
    pub fn duration_secs(&self) -> f64 {
        let scales = [VIDEO_TIMESCALE, AUDIO_TIMESCALE];
        let mut start = f64::MAX;
        let mut end: f64 = 0.0;
        for (extent, scale) in self.extents.iter().zip(scales) {
            if let Some((s, e)) = extent {
                start = start.min(*s as f64 / f64::from(scale));
                end = end.max(*e as f64 / f64::from(scale));
            }
        }
        if start == f64::MAX {
            0.0
        } else {
            (end - start).max(0.0)
        }
    }

    /// Writes one fragment and flushes it. On a write error the sink is cut back to
    /// the end of the previous fragment, so the file stays playable.
    pub fn write_fragment(&mut self, fragment: &Fragment) -> Result<(), RecordError> {
        if fragment.video.is_empty() && fragment.audio.is_empty() {
            return Ok(());
        }
        let bytes = media_segment(self.sequence + 1, fragment)?;
        if let Err(source) = self.sink.write_all(&bytes).and_then(|()| self.sink.flush()) {
            rollback(self.sink.as_mut(), self.written);
            return Err(RecordError::write(self.written, source));
        }
        self.sequence += 1;
        self.written += bytes.len() as u64;
        for (i, samples) in [&fragment.video, &fragment.audio].into_iter().enumerate() {
            if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
                let end = last.dts + u64::from(last.duration);
                let extent = self.extents[i].get_or_insert((first.dts, end));
                extent.1 = extent.1.max(end);
            }
        }
        Ok(())
    }

    /// Writes the durations into the header (where the sink can seek), flushes and
    /// returns the sink. The file is complete either way.
    pub fn finish(mut self) -> Result<Box<dyn RecordSink>, RecordError> {
        let movie_ms = (self.duration_secs() * f64::from(MOVIE_TIMESCALE)).round() as u64;
        let mut patches = vec![(self.fields.mvhd, movie_ms), (self.fields.mehd, movie_ms)];
        for (i, (tkhd, mdhd, scale)) in self.fields.tracks.iter().enumerate() {
            if let Some((start, end)) = self.extents.get(i).copied().flatten() {
                let ticks = end.saturating_sub(start);
                let ms = ticks * u64::from(MOVIE_TIMESCALE) / u64::from(*scale);
                patches.push((*tkhd, ms));
                patches.push((*mdhd, ticks));
            }
        }
        for (offset, value) in patches {
            if let Err(source) = self.sink.patch(offset, &value.to_be_bytes()) {
                return Err(RecordError::write(self.written, source));
            }
        }
        self.sink
            .flush()
            .map_err(|source| RecordError::write(self.written, source))?;
        Ok(self.sink)
    }
}

fn rollback(sink: &mut dyn RecordSink, len: u64) {
    if let Err(err) = sink.truncate(len) {
        tracing::warn!(%err, len, "could not cut the recording back to its last whole fragment");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Top-level boxes as (type, size).
    fn boxes(data: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i + 8 <= data.len() {
            let size =
                u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]) as usize;
            out.push((
                String::from_utf8_lossy(&data[i + 4..i + 8]).into_owned(),
                size,
            ));
            assert!(size >= 8, "box size {size}");
            i += size;
        }
        assert_eq!(i, data.len(), "boxes tile the buffer exactly");
        out
    }

    /// Children of the box starting at `at` (header `header` bytes long).
    fn children(data: &[u8], at: usize, header: usize) -> Vec<(String, usize)> {
        let size =
            u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        boxes(&data[at + header..at + size])
    }

    fn find(data: &[u8], kind: &[u8; 4]) -> Option<usize> {
        data.windows(4).position(|w| w == kind).map(|p| p - 4)
    }

    fn tracks() -> Tracks {
        Tracks {
            video: VideoTrack {
                width: 1280,
                height: 720,
                sps: vec![0x67, 0x42, 0xc0, 0x1f, 0xaa],
                pps: vec![0x68, 0xce, 0x3c, 0x80],
            },
            audio: Some(AudioTrack {
                channels: 2,
                pre_skip: 312,
            }),
        }
    }

    #[test]
    fn init_segment_is_ftyp_then_moov_with_two_traks_and_mvex() {
        let (data, fields) = init_segment(&tracks());
        let top = boxes(&data);
        assert_eq!(
            top.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            ["ftyp", "moov"]
        );
        let moov_at = top[0].1;
        let kids: Vec<String> = children(&data, moov_at, 8)
            .into_iter()
            .map(|b| b.0)
            .collect();
        assert_eq!(kids, ["mvhd", "trak", "trak", "mvex"]);
        assert_eq!(fields.tracks.len(), 2);
        assert_eq!(
            &data[fields.mvhd as usize..fields.mvhd as usize + 8],
            &[0; 8]
        );
    }

    #[test]
    fn avcc_carries_profile_level_and_parameter_sets() {
        let (data, _) = init_segment(&tracks());
        let at = find(&data, b"avcC").expect("avcC");
        let body = &data[at + 8..];
        assert_eq!(&body[..6], &[1, 0x42, 0xc0, 0x1f, 0xff, 0xe1]);
        assert_eq!(&body[6..8], &[0, 5]);
        assert_eq!(&body[8..13], &[0x67, 0x42, 0xc0, 0x1f, 0xaa]);
        assert_eq!(&body[13..16], &[1, 0, 4]);
        let dops = find(&data, b"dOps").expect("dOps");
        assert_eq!(
            &data[dops + 8..dops + 19],
            &[0, 2, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0]
        );
    }

    #[test]
    fn media_segment_offsets_point_at_each_tracks_data_in_mdat() {
        let frag = Fragment {
            video: vec![
                Sample {
                    data: vec![1; 10],
                    dts: 9000,
                    duration: 3000,
                    is_sync: true,
                },
                Sample {
                    data: vec![2; 5],
                    dts: 12000,
                    duration: 3000,
                    is_sync: false,
                },
            ],
            audio: vec![Sample {
                data: vec![3; 7],
                dts: 4800,
                duration: 960,
                is_sync: true,
            }],
        };
        let data = media_segment(7, &frag).expect("segment");
        let top = boxes(&data);
        assert_eq!(
            top.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            ["moof", "mdat"]
        );
        let truns: Vec<usize> = data
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == b"trun")
            .map(|(i, _)| i - 4)
            .collect();
        assert_eq!(truns.len(), 2);
        let offset = |at: usize| {
            u32::from_be_bytes([data[at + 16], data[at + 17], data[at + 18], data[at + 19]])
                as usize
        };
        assert_eq!(&data[offset(truns[0])..offset(truns[0]) + 10], &[1; 10]);
        assert_eq!(&data[offset(truns[1])..offset(truns[1]) + 7], &[3; 7]);
        // Second video sample is flagged non-sync.
        let flags2 = &data[truns[0] + 20 + 12 + 8..truns[0] + 20 + 12 + 12];
        assert_eq!(flags2, &FLAGS_NON_SYNC.to_be_bytes());
        let tfdt = find(&data, b"tfdt").expect("tfdt");
        assert_eq!(&data[tfdt + 12..tfdt + 20], &9000u64.to_be_bytes());
        let mfhd = find(&data, b"mfhd").expect("mfhd");
        assert_eq!(&data[mfhd + 12..mfhd + 16], &7u32.to_be_bytes());
    }

    #[test]
    fn a_track_without_samples_gets_no_traf() {
        let frag = Fragment {
            video: Vec::new(),
            audio: vec![Sample {
                data: vec![3; 7],
                dts: 0,
                duration: 960,
                is_sync: true,
            }],
        };
        let data = media_segment(1, &frag).expect("segment");
        assert_eq!(data.windows(4).filter(|w| *w == b"traf").count(), 1);
    }

    #[test]
    fn annex_b_becomes_length_prefixed_without_parameter_sets() {
        let annex_b = [
            0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x65, 7, 7, 7,
        ];
        assert_eq!(annex_b_to_avcc(&annex_b), vec![0, 0, 0, 4, 0x65, 7, 7, 7]);
        let track = VideoTrack::from_keyframe(2, 2, &annex_b);
        assert!(track.is_none(), "SPS shorter than 4 bytes is refused");
    }
}
