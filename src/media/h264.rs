//! H.264 through OpenH264: [`H264Encoder`] (RGB/RGBA/I420 in, Annex-B out) and
//! [`H264Decoder`] (Annex-B in, [`I420Frame`] out, with RGB/RGBA conversion).
//!
//! RGB ⇄ YUV conversion goes through `yuvutils-rs` (SIMD); OpenH264's own
//! converter is about 3x slower and was the bottleneck when choosing the stack.
//! Everything here is synchronous and owns its buffers: callers keep one encoder
//! per stream on their own thread.

use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    VuiConfig,
};
use openh264::formats::YUVSource;
use yuvutils_rs::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

use super::error::MediaError;

/// Largest side OpenH264 accepts (level 5.2).
const MAX_SIDE: u32 = 3840;

/// Which YUV matrix the encoder converts with and signals in the stream (VUI).
/// Both are limited range (luma 16–235), as every browser and player expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorMatrix {
    /// BT.601, for SD and for the alpha-packed cutout track (browsers assume it).
    #[default]
    Bt601,
    /// BT.709, for HD recordings.
    Bt709,
}

impl ColorMatrix {
    pub(crate) fn yuv(self) -> YuvStandardMatrix {
        match self {
            Self::Bt601 => YuvStandardMatrix::Bt601,
            Self::Bt709 => YuvStandardMatrix::Bt709,
        }
    }

    fn vui(self) -> VuiConfig {
        match self {
            Self::Bt601 => VuiConfig::bt601(),
            Self::Bt709 => VuiConfig::bt709(),
        }
    }
}

/// Byte layout of packed 8-bit pixels handed to the encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PixelFormat {
    /// R, G, B.
    Rgb8,
    /// R, G, B, A (alpha ignored).
    #[default]
    Rgba8,
    /// B, G, R, A (alpha ignored): what many GPU swapchains and readbacks use.
    Bgra8,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            Self::Rgb8 => 3,
            Self::Rgba8 | Self::Bgra8 => 4,
        }
    }
}

/// Settings of one H.264 stream.
#[derive(Clone, Debug, PartialEq)]
pub struct H264Config {
    /// Picture width in pixels (even).
    pub width: u32,
    /// Picture height in pixels (even).
    pub height: u32,
    /// Nominal frame rate, used by the rate control.
    pub fps: f32,
    /// Target bit rate in bits per second.
    pub bitrate_bps: u32,
    /// A keyframe at least every this many frames (0 = only on request).
    pub keyframe_interval: u32,
    /// Colour matrix for conversion and signalling.
    pub matrix: ColorMatrix,
    /// Encoder threads (0 = OpenH264 decides, 1 = single-threaded).
    pub threads: u16,
    /// Let the rate control skip pictures to hold the bit rate (live network
    /// video). Off, every input gives a picture (recordings); OpenH264 then logs
    /// once that the bit rate is only a target.
    pub allow_frame_skip: bool,
}

impl H264Config {
    /// A config for `width`x`height` at 30 fps, a keyframe every 2 s and a bit rate
    /// of about 0.1 bit per pixel per frame (≈ 2.8 Mbit/s at 720p, 0.9 at 480p).
    pub fn new(width: u32, height: u32) -> Self {
        let fps = 30.0;
        let bits = (width as f64 * height as f64 * fps * 0.1).round();
        Self {
            width,
            height,
            fps: fps as f32,
            bitrate_bps: bits.clamp(100_000.0, 20_000_000.0) as u32,
            keyframe_interval: 60,
            matrix: ColorMatrix::Bt601,
            threads: 1,
            allow_frame_skip: false,
        }
    }

    fn validate(&self) -> Result<(), MediaError> {
        check_size(self.width, self.height)
    }
}

/// Checks that a picture can go through the I420 encoder path.
pub fn check_size(width: u32, height: u32) -> Result<(), MediaError> {
    let reason = if width == 0 || height == 0 {
        Some("empty")
    } else if !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        Some("width and height must be even for 4:2:0")
    } else if width.max(height) > MAX_SIDE || width.min(height) > 2160 {
        Some("larger than 3840x2160")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(MediaError::InvalidSize {
            width,
            height,
            reason,
        }),
        None => Ok(()),
    }
}

fn check_len(expected: usize, actual: usize) -> Result<(), MediaError> {
    if expected == actual {
        Ok(())
    } else {
        Err(MediaError::BufferLength { expected, actual })
    }
}

/// A tightly packed I420 (YUV 4:2:0 planar) picture: Y is `width*height`, U and V
/// are `width/2 * height/2` each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct I420Frame {
    width: u32,
    height: u32,
    /// Luma plane, `width * height` bytes.
    pub y: Vec<u8>,
    /// Cb plane, `width/2 * height/2` bytes.
    pub u: Vec<u8>,
    /// Cr plane, `width/2 * height/2` bytes.
    pub v: Vec<u8>,
}

impl I420Frame {
    /// A black (limited-range) picture of the given size.
    pub fn new(width: u32, height: u32) -> Result<Self, MediaError> {
        check_size(width, height)?;
        let (w, h) = (width as usize, height as usize);
        Ok(Self {
            width,
            height,
            y: vec![16; w * h],
            u: vec![128; w / 2 * h / 2],
            v: vec![128; w / 2 * h / 2],
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Converts packed pixels into this picture (same size). `stride` is the bytes
    /// per row (at least `width * bytes_per_pixel`; GPU readbacks pad rows), so
    /// padded buffers convert without a copy.
    pub fn fill_from(
        &mut self,
        pixels: &[u8],
        format: PixelFormat,
        stride: usize,
        matrix: ColorMatrix,
    ) -> Result<(), MediaError> {
        let row = self.width as usize * format.bytes_per_pixel();
        if stride < row {
            return Err(MediaError::BufferLength {
                expected: row,
                actual: stride,
            });
        }
        let needed = stride * (self.height as usize - 1) + row;
        if pixels.len() < needed {
            return Err(MediaError::BufferLength {
                expected: needed,
                actual: pixels.len(),
            });
        }
        let stride = u32::try_from(stride).map_err(|_| MediaError::BufferLength {
            expected: row,
            actual: stride,
        })?;
        let mut planar = self.planar_mut();
        let convert = match format {
            PixelFormat::Rgb8 => yuvutils_rs::rgb_to_yuv420,
            PixelFormat::Rgba8 => yuvutils_rs::rgba_to_yuv420,
            PixelFormat::Bgra8 => yuvutils_rs::bgra_to_yuv420,
        };
        convert(
            &mut planar,
            pixels,
            stride,
            YuvRange::Limited,
            matrix.yuv(),
            YuvConversionMode::Balanced,
        )?;
        Ok(())
    }

    /// Converts tightly packed RGB8 into this picture (same size).
    pub fn fill_from_rgb(&mut self, rgb: &[u8], matrix: ColorMatrix) -> Result<(), MediaError> {
        check_len(self.width as usize * self.height as usize * 3, rgb.len())?;
        let width = self.width;
        let mut planar = self.planar_mut();
        yuvutils_rs::rgb_to_yuv420(
            &mut planar,
            rgb,
            width * 3,
            YuvRange::Limited,
            matrix.yuv(),
            YuvConversionMode::Balanced,
        )?;
        Ok(())
    }

    /// Converts tightly packed RGBA8 into this picture (same size); alpha is ignored.
    pub fn fill_from_rgba(&mut self, rgba: &[u8], matrix: ColorMatrix) -> Result<(), MediaError> {
        check_len(self.width as usize * self.height as usize * 4, rgba.len())?;
        let width = self.width;
        let mut planar = self.planar_mut();
        yuvutils_rs::rgba_to_yuv420(
            &mut planar,
            rgba,
            width * 4,
            YuvRange::Limited,
            matrix.yuv(),
            YuvConversionMode::Balanced,
        )?;
        Ok(())
    }

    /// Builds a picture from tightly packed RGB8.
    pub fn from_rgb(
        rgb: &[u8],
        width: u32,
        height: u32,
        matrix: ColorMatrix,
    ) -> Result<Self, MediaError> {
        let mut frame = Self::new(width, height)?;
        frame.fill_from_rgb(rgb, matrix)?;
        Ok(frame)
    }

    /// Builds a picture from tightly packed RGBA8 (alpha ignored).
    pub fn from_rgba(
        rgba: &[u8],
        width: u32,
        height: u32,
        matrix: ColorMatrix,
    ) -> Result<Self, MediaError> {
        let mut frame = Self::new(width, height)?;
        frame.fill_from_rgba(rgba, matrix)?;
        Ok(frame)
    }

    /// Converts to tightly packed RGB8 (limited range in, full swing out).
    pub fn to_rgb(&self, matrix: ColorMatrix) -> Result<Vec<u8>, MediaError> {
        let mut out = vec![0u8; self.width as usize * self.height as usize * 3];
        yuvutils_rs::yuv420_to_rgb(
            &self.planar(),
            &mut out,
            self.width * 3,
            YuvRange::Limited,
            matrix.yuv(),
        )?;
        Ok(out)
    }

    /// Converts to tightly packed RGBA8 with alpha 255.
    pub fn to_rgba(&self, matrix: ColorMatrix) -> Result<Vec<u8>, MediaError> {
        let mut out = vec![0u8; self.width as usize * self.height as usize * 4];
        yuvutils_rs::yuv420_to_rgba(
            &self.planar(),
            &mut out,
            self.width * 4,
            YuvRange::Limited,
            matrix.yuv(),
        )?;
        Ok(out)
    }

    fn planar(&self) -> YuvPlanarImage<'_, u8> {
        YuvPlanarImage {
            y_plane: &self.y,
            y_stride: self.width,
            u_plane: &self.u,
            u_stride: self.width / 2,
            v_plane: &self.v,
            v_stride: self.width / 2,
            width: self.width,
            height: self.height,
        }
    }

    fn planar_mut(&mut self) -> YuvPlanarImageMut<'_, u8> {
        YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(self.y.as_mut_slice()),
            y_stride: self.width,
            u_plane: BufferStoreMut::Borrowed(self.u.as_mut_slice()),
            u_stride: self.width / 2,
            v_plane: BufferStoreMut::Borrowed(self.v.as_mut_slice()),
            v_stride: self.width / 2,
            width: self.width,
            height: self.height,
        }
    }

    /// Copies a decoder picture (with strides) into a tight frame.
    fn from_source(src: &impl YUVSource) -> Result<Self, MediaError> {
        let (w, h) = src.dimensions();
        let mut frame = Self::new(w as u32, h as u32)?;
        let (ys, us, vs) = src.strides();
        copy_plane(src.y(), ys, &mut frame.y, w, h);
        copy_plane(src.u(), us, &mut frame.u, w / 2, h / 2);
        copy_plane(src.v(), vs, &mut frame.v, w / 2, h / 2);
        Ok(frame)
    }
}

fn copy_plane(src: &[u8], stride: usize, dst: &mut [u8], width: usize, height: usize) {
    for (row, out) in dst.chunks_exact_mut(width).take(height).enumerate() {
        let start = row * stride;
        if let Some(line) = src.get(start..start + width) {
            out.copy_from_slice(line);
        }
    }
}

impl YUVSource for I420Frame {
    fn dimensions(&self) -> (usize, usize) {
        (self.width as usize, self.height as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let w = self.width as usize;
        (w, w / 2, w / 2)
    }

    fn y(&self) -> &[u8] {
        &self.y
    }

    fn u(&self) -> &[u8] {
        &self.u
    }

    fn v(&self) -> &[u8] {
        &self.v
    }
}

/// NAL unit types that matter to muxing and packetisation.
pub mod nal_type {
    /// Coded slice of a non-IDR picture.
    pub const SLICE: u8 = 1;
    /// Coded slice of an IDR picture (a keyframe).
    pub const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
}

/// The NAL unit type (low 5 bits of the first byte); 0 for an empty unit.
pub fn nal_unit_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Splits an Annex-B byte stream into NAL units (without their start codes).
/// Bytes before the first start code are ignored.
pub fn split_annex_b(data: &[u8]) -> Vec<&[u8]> {
    let mut units = Vec::new();
    let mut i = 0;
    let mut start: Option<usize> = None;
    while i + 2 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            if let Some(s) = start {
                let mut end = i;
                // A 4-byte start code's leading zero belongs to it, not to the unit.
                while end > s && data[end - 1] == 0 {
                    end -= 1;
                }
                units.push(&data[s..end]);
            }
            i += 3;
            start = Some(i);
        } else {
            i += 1;
        }
    }
    if let Some(s) = start
        && s < data.len()
    {
        units.push(&data[s..]);
    }
    units
}

/// One encoded picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Annex-B NAL units (start codes included); a keyframe carries SPS and PPS first.
    pub annex_b: Vec<u8>,
    /// True for an IDR picture that a decoder can start from.
    pub is_keyframe: bool,
}

impl EncodedFrame {
    /// The NAL units without start codes.
    pub fn nal_units(&self) -> Vec<&[u8]> {
        split_annex_b(&self.annex_b)
    }
}

/// An OpenH264 encoder with a reused I420 buffer.
pub struct H264Encoder {
    encoder: Encoder,
    config: H264Config,
    yuv: I420Frame,
    /// Whether a picture went through (OpenH264 is initialised on the first one,
    /// and only then takes options).
    started: bool,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl H264Encoder {
    /// Creates an encoder. Unless `allow_frame_skip` is set, every input gives a picture.
    pub fn new(config: H264Config) -> Result<Self, MediaError> {
        config.validate()?;
        Ok(Self {
            encoder: Self::openh264(&config)?,
            yuv: I420Frame::new(config.width, config.height)?,
            config,
            started: false,
        })
    }

    fn openh264(config: &H264Config) -> Result<Encoder, MediaError> {
        let period = if config.keyframe_interval == 0 {
            IntraFramePeriod::auto()
        } else {
            IntraFramePeriod::from_num_frames(config.keyframe_interval)
        };
        let enc_config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(config.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(config.fps))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(config.allow_frame_skip)
            .intra_frame_period(period)
            .num_threads(config.threads)
            .vui(config.matrix.vui());
        Ok(Encoder::with_api_config(
            OpenH264API::from_source(),
            enc_config,
        )?)
    }

    /// Changes the target bit rate from the next picture on (no keyframe, no new
    /// stream: OpenH264's rate control takes the new target).
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), MediaError> {
        if bitrate_bps == self.config.bitrate_bps {
            return Ok(());
        }
        let raising = bitrate_bps > self.config.bitrate_bps;
        self.config.bitrate_bps = bitrate_bps;
        if !self.started {
            // Not initialised yet: the new settings apply from the first picture.
            self.encoder = Self::openh264(&self.config)?;
            return Ok(());
        }
        // The ceiling first when raising, last when lowering, so the target never
        // sits above it.
        let bps = i32::try_from(bitrate_bps).unwrap_or(i32::MAX);
        let options: [i32; 2] = if raising {
            [openh264_option::MAX_BITRATE, openh264_option::BITRATE]
        } else {
            [openh264_option::BITRATE, openh264_option::MAX_BITRATE]
        };
        for option in options {
            for layer in [
                openh264_option::SPATIAL_LAYER_ALL,
                openh264_option::SPATIAL_LAYER_0,
            ] {
                if option == openh264_option::BITRATE && layer == openh264_option::SPATIAL_LAYER_0 {
                    // The whole-stream target is shared out over the layers.
                    continue;
                }
                openh264_option::set_bitrate(&mut self.encoder, option, layer, bps)?;
            }
        }
        Ok(())
    }

    /// The settings this encoder was made with.
    pub fn config(&self) -> &H264Config {
        &self.config
    }

    /// Makes the next encoded picture a keyframe (IDR with SPS/PPS).
    pub fn force_keyframe(&mut self) {
        self.encoder.force_intra_frame();
    }

    /// Encodes packed pixels of the configured size with `stride` bytes per row.
    /// With frame skipping allowed, a skipped picture comes back with empty `annex_b`.
    pub fn encode_pixels(
        &mut self,
        pixels: &[u8],
        format: PixelFormat,
        stride: usize,
        pts_ms: u64,
    ) -> Result<EncodedFrame, MediaError> {
        let matrix = self.config.matrix;
        self.yuv.fill_from(pixels, format, stride, matrix)?;
        self.encode_buffered(pts_ms)
    }

    /// Encodes tightly packed RGBA8 of the configured size (alpha ignored). With
    /// frame skipping allowed, a skipped picture comes back with empty `annex_b`.
    pub fn encode_rgba(&mut self, rgba: &[u8], pts_ms: u64) -> Result<EncodedFrame, MediaError> {
        let matrix = self.config.matrix;
        self.yuv.fill_from_rgba(rgba, matrix)?;
        self.encode_buffered(pts_ms)
    }

    /// Encodes tightly packed RGB8 of the configured size.
    pub fn encode_rgb(&mut self, rgb: &[u8], pts_ms: u64) -> Result<EncodedFrame, MediaError> {
        let matrix = self.config.matrix;
        self.yuv.fill_from_rgb(rgb, matrix)?;
        self.encode_buffered(pts_ms)
    }

    /// Encodes an I420 picture of the configured size.
    pub fn encode_i420(
        &mut self,
        frame: &I420Frame,
        pts_ms: u64,
    ) -> Result<EncodedFrame, MediaError> {
        if frame.width != self.config.width || frame.height != self.config.height {
            return Err(MediaError::InvalidSize {
                width: frame.width,
                height: frame.height,
                reason: "differs from the encoder's configured size",
            });
        }
        self.started = true;
        encode_with(&mut self.encoder, frame, pts_ms)
    }

    fn encode_buffered(&mut self, pts_ms: u64) -> Result<EncodedFrame, MediaError> {
        self.started = true;
        encode_with(&mut self.encoder, &self.yuv, pts_ms)
    }
}

/// OpenH264's bit-rate options, which the `openh264` crate does not wrap
/// (values from `codec_app_def.h`, as in `openh264-sys2`).
mod openh264_option {
    use std::ffi::c_int;

    use openh264::encoder::Encoder;

    use super::MediaError;

    /// `ENCODER_OPTION_BITRATE`: the target.
    pub(super) const BITRATE: c_int = 5;
    /// `ENCODER_OPTION_MAX_BITRATE`: the ceiling.
    pub(super) const MAX_BITRATE: c_int = 6;
    /// `SPATIAL_LAYER_0`.
    pub(super) const SPATIAL_LAYER_0: c_int = 0;
    /// `SPATIAL_LAYER_ALL`.
    pub(super) const SPATIAL_LAYER_ALL: c_int = 4;

    /// `SBitrateInfo`.
    #[repr(C)]
    struct BitrateInfo {
        layer: c_int,
        bitrate: c_int,
    }

    /// Sets bit-rate `option` of `layer` on an initialised encoder.
    #[allow(
        unsafe_code,
        reason = "the openh264 crate has no safe setter for the bit rate"
    )]
    pub(super) fn set_bitrate(
        encoder: &mut Encoder,
        option: c_int,
        layer: c_int,
        bitrate: c_int,
    ) -> Result<(), MediaError> {
        let mut info = BitrateInfo { layer, bitrate };
        // SAFETY: `option` is ENCODER_OPTION_BITRATE or ENCODER_OPTION_MAX_BITRATE,
        // for which OpenH264's SetOption reads exactly one `SBitrateInfo` (two
        // ints, the layout above) through the pointer and keeps nothing; `info`
        // outlives the call. The encoder is initialised (a picture went through),
        // and neither option changes anything the crate relies on (size, format,
        // threads): the rate control reads the new target on the next picture.
        let code = unsafe {
            encoder
                .raw_api()
                .set_option(option, std::ptr::addr_of_mut!(info).cast())
        };
        if code == 0 {
            Ok(())
        } else {
            Err(MediaError::H264Option {
                option: "the bit rate",
                code,
            })
        }
    }
}

fn encode_with(
    encoder: &mut Encoder,
    frame: &I420Frame,
    pts_ms: u64,
) -> Result<EncodedFrame, MediaError> {
    let bitstream = encoder.encode_at(frame, openh264::Timestamp::from_millis(pts_ms))?;
    let is_keyframe = matches!(bitstream.frame_type(), FrameType::IDR);
    Ok(EncodedFrame {
        annex_b: bitstream.to_vec(),
        is_keyframe,
    })
}

/// An OpenH264 decoder producing tight I420 pictures.
pub struct H264Decoder {
    decoder: Decoder,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Decoder").finish_non_exhaustive()
    }
}

impl H264Decoder {
    /// Creates a decoder.
    pub fn new() -> Result<Self, MediaError> {
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())?;
        Ok(Self { decoder })
    }

    /// Decodes one access unit (Annex-B); `None` while the decoder needs more data.
    pub fn decode(&mut self, annex_b: &[u8]) -> Result<Option<I420Frame>, MediaError> {
        match self.decoder.decode(annex_b)? {
            Some(picture) => Ok(Some(I420Frame::from_source(&picture)?)),
            None => Ok(None),
        }
    }

    /// Decodes one access unit straight to RGB8: `(rgb, width, height)`.
    pub fn decode_rgb(
        &mut self,
        annex_b: &[u8],
        matrix: ColorMatrix,
    ) -> Result<Option<(Vec<u8>, u32, u32)>, MediaError> {
        match self.decode(annex_b)? {
            Some(frame) => Ok(Some((frame.to_rgb(matrix)?, frame.width, frame.height))),
            None => Ok(None),
        }
    }

    /// Decodes one access unit straight to RGBA8 (alpha 255): `(rgba, width, height)`.
    pub fn decode_rgba(
        &mut self,
        annex_b: &[u8],
        matrix: ColorMatrix,
    ) -> Result<Option<(Vec<u8>, u32, u32)>, MediaError> {
        match self.decode(annex_b)? {
            Some(frame) => Ok(Some((frame.to_rgba(matrix)?, frame.width, frame.height))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient_rgb(width: u32, height: u32, shift: u32) -> Vec<u8> {
        let mut rgb = Vec::with_capacity((width * height * 3) as usize);
        for y in 0..height {
            for x in 0..width {
                rgb.push(((x + shift) * 255 / width) as u8);
                rgb.push((y * 255 / height) as u8);
                rgb.push(128);
            }
        }
        rgb
    }

    #[test]
    fn annex_b_splits_on_three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9, 9,
        ];
        let units = split_annex_b(&data);
        assert_eq!(
            units,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 9, 9][..]]
        );
        assert_eq!(nal_unit_type(units[0]), nal_type::SPS);
        assert_eq!(nal_unit_type(units[2]), nal_type::IDR);
    }

    #[test]
    fn padded_bgra_rows_convert_like_tight_rgb() {
        let (w, h) = (16u32, 8u32);
        let rgb = gradient_rgb(w, h, 3);
        let stride = 256;
        let mut bgra = vec![0u8; stride * h as usize];
        for y in 0..h as usize {
            for x in 0..w as usize {
                let s = (y * w as usize + x) * 3;
                let d = y * stride + x * 4;
                bgra[d..d + 4].copy_from_slice(&[rgb[s + 2], rgb[s + 1], rgb[s], 255]);
            }
        }
        let tight = I420Frame::from_rgb(&rgb, w, h, ColorMatrix::Bt709).expect("rgb");
        let mut padded = I420Frame::new(w, h).expect("frame");
        padded
            .fill_from(&bgra, PixelFormat::Bgra8, stride, ColorMatrix::Bt709)
            .expect("bgra");
        assert_eq!(tight, padded);
        assert!(
            padded
                .fill_from(&bgra[..100], PixelFormat::Bgra8, stride, ColorMatrix::Bt709)
                .is_err()
        );
    }

    /// A moving noisy picture, so the rate control has something to spend bits on.
    fn busy_rgb(width: u32, height: u32, frame: u32) -> Vec<u8> {
        let mut state = 0x9e37_79b9u32.wrapping_mul(frame + 1);
        let mut rgb = gradient_rgb(width, height, frame * 3);
        for v in &mut rgb {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *v = v.wrapping_add((state % 12) as u8);
        }
        rgb
    }

    fn bytes_over(enc: &mut H264Encoder, frames: std::ops::Range<u32>) -> usize {
        let (w, h) = (enc.config().width, enc.config().height);
        frames
            .map(|i| {
                let rgb = busy_rgb(w, h, i);
                let pts = u64::from(i) * 1000 / 15;
                enc.encode_rgb(&rgb, pts).expect("encode").annex_b.len()
            })
            .sum()
    }

    #[test]
    fn a_new_bit_rate_takes_effect_without_a_keyframe() {
        let config = H264Config {
            fps: 15.0,
            bitrate_bps: 800_000,
            keyframe_interval: 0,
            ..H264Config::new(320, 240)
        };
        // The same pictures through one encoder that keeps 800 kbit/s and one that
        // is lowered to 150 kbit/s after 3 s and raised again after 5 s.
        let mut kept = H264Encoder::new(config.clone()).expect("encoder");
        let mut changed = H264Encoder::new(config).expect("encoder");
        let window =
            |kept: &mut H264Encoder, changed: &mut H264Encoder, range: std::ops::Range<u32>| {
                (bytes_over(kept, range.clone()), bytes_over(changed, range))
            };
        window(&mut kept, &mut changed, 0..45);
        changed.set_bitrate(150_000).expect("lower");
        window(&mut kept, &mut changed, 45..60);
        let (high, low) = window(&mut kept, &mut changed, 60..75);
        assert!(
            (low as f64) < high as f64 * 0.6,
            "1 s at 800 kbit/s: {high} B, at 150 kbit/s: {low} B"
        );
        let (w, h) = (changed.config().width, changed.config().height);
        let next = changed
            .encode_rgb(&busy_rgb(w, h, 75), 5000)
            .expect("encode");
        assert!(!next.is_keyframe, "no keyframe for a new rate");
        changed.set_bitrate(800_000).expect("raise");
        kept.encode_rgb(&busy_rgb(w, h, 75), 5000).expect("encode");
        window(&mut kept, &mut changed, 76..91);
        let (high, again) = window(&mut kept, &mut changed, 91..106);
        assert!(
            again as f64 > high as f64 * 0.75,
            "raised again: {again} B against {high} B"
        );
    }

    #[test]
    fn the_decoder_follows_a_new_picture_size_mid_stream() {
        let mut dec = H264Decoder::new().expect("decoder");
        for (w, h) in [(320, 240), (160, 120), (320, 240)] {
            let mut enc = H264Encoder::new(H264Config::new(w, h)).expect("encoder");
            let mut sizes = Vec::new();
            for i in 0..3 {
                let frame = enc
                    .encode_rgb(&gradient_rgb(w, h, i), u64::from(i) * 66)
                    .expect("encode");
                if let Some(pic) = dec.decode(&frame.annex_b).expect("decode") {
                    sizes.push((pic.width, pic.height));
                }
            }
            assert_eq!(sizes, vec![(w, h); 3]);
        }
    }

    #[test]
    fn odd_sizes_are_refused() {
        assert!(matches!(
            I420Frame::new(63, 48),
            Err(MediaError::InvalidSize { .. })
        ));
        assert!(H264Encoder::new(H264Config::new(0, 48)).is_err());
    }

    #[test]
    fn rgb_survives_a_yuv_round_trip_within_a_few_levels() {
        let rgb = gradient_rgb(64, 48, 0);
        let frame = I420Frame::from_rgb(&rgb, 64, 48, ColorMatrix::Bt601).expect("convert");
        let back = frame.to_rgb(ColorMatrix::Bt601).expect("convert back");
        let max_err = rgb
            .iter()
            .zip(&back)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        assert!(max_err <= 12, "max error {max_err}");
    }

    #[test]
    fn encoded_frames_decode_back_to_a_similar_picture() {
        let (w, h) = (160, 96);
        let mut enc = H264Encoder::new(H264Config::new(w, h)).expect("encoder");
        let mut dec = H264Decoder::new().expect("decoder");
        let mut decoded = None;
        for i in 0..5u32 {
            let rgb = gradient_rgb(w, h, i * 2);
            let frame = enc.encode_rgb(&rgb, u64::from(i) * 33).expect("encode");
            assert_eq!(
                frame.is_keyframe,
                i == 0,
                "only the first frame is a keyframe"
            );
            if i == 0 {
                let types: Vec<u8> = frame.nal_units().iter().map(|n| nal_unit_type(n)).collect();
                assert!(types.contains(&nal_type::SPS) && types.contains(&nal_type::PPS));
            }
            if let Some(pic) = dec.decode(&frame.annex_b).expect("decode") {
                decoded = Some((pic, rgb));
            }
        }
        let (pic, rgb) = decoded.expect("a picture came out");
        assert_eq!((pic.width(), pic.height()), (w, h));
        let back = pic.to_rgb(ColorMatrix::Bt601).expect("to rgb");
        let mean_err: f64 = rgb
            .iter()
            .zip(&back)
            .map(|(a, b)| f64::from(a.abs_diff(*b)))
            .sum::<f64>()
            / rgb.len() as f64;
        assert!(mean_err < 8.0, "mean error {mean_err}");
    }

    #[test]
    fn force_keyframe_makes_the_next_frame_an_idr() {
        let mut enc = H264Encoder::new(H264Config::new(64, 48)).expect("encoder");
        let rgb = gradient_rgb(64, 48, 0);
        enc.encode_rgb(&rgb, 0).expect("first");
        assert!(!enc.encode_rgb(&rgb, 33).expect("second").is_keyframe);
        enc.force_keyframe();
        assert!(enc.encode_rgb(&rgb, 66).expect("forced").is_keyframe);
    }
}
