//! `Cutout`: a person cut out of a frame (RGBA8, background alpha 0 with colour zeroed).

use std::time::Instant;

/// The result of segmentation: what leaves the machine and what the world shows.
///
/// Invariant: wherever `mask` is 0, the RGBA pixel is `[0, 0, 0, 0]`, so nothing of
/// the room behind the person survives. `rgba`'s alpha channel equals `mask`.
#[derive(Clone, Debug)]
pub struct Cutout {
    /// Sequence number of the source frame.
    pub seq: u64,
    /// Capture time of the source frame.
    pub captured_at: Instant,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes, premultiplied-free straight alpha.
    pub rgba: Vec<u8>,
    /// `width * height` bytes of alpha (0 = background, 255 = person).
    pub mask: Vec<u8>,
}

impl Cutout {
    /// Builds a cutout from an RGB8 picture and an alpha mask of the same size,
    /// zeroing the colour wherever the mask is 0.
    pub fn from_rgb_and_mask(
        seq: u64,
        captured_at: Instant,
        width: u32,
        height: u32,
        rgb: &[u8],
        mask: Vec<u8>,
    ) -> Self {
        let n = width as usize * height as usize;
        debug_assert_eq!(rgb.len(), n * 3);
        debug_assert_eq!(mask.len(), n);
        let mut rgba = vec![0u8; n * 4];
        for ((dst, src), &a) in rgba
            .chunks_exact_mut(4)
            .zip(rgb.chunks_exact(3))
            .zip(mask.iter())
        {
            if a != 0 {
                dst[0] = src[0];
                dst[1] = src[1];
                dst[2] = src[2];
                dst[3] = a;
            }
        }
        Self {
            seq,
            captured_at,
            width,
            height,
            rgba,
            mask,
        }
    }

    /// The person over a plain `background` colour: `width * height * 3` bytes
    /// of RGB, blended by alpha.
    pub fn flattened(&self, background: [u8; 3]) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(self.rgba.len() / 4 * 3);
        for px in self.rgba.chunks_exact(4) {
            let a = u32::from(px[3]);
            for c in 0..3 {
                let v = u32::from(px[c]) * a + u32::from(background[c]) * (255 - a);
                rgb.push(((v + 127) / 255) as u8);
            }
        }
        rgb
    }

    /// Fraction of pixels that belong to the person (mask ≥ 128).
    pub fn coverage(&self) -> f32 {
        if self.mask.is_empty() {
            return 0.0;
        }
        self.mask.iter().filter(|&&a| a >= 128).count() as f32 / self.mask.len() as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_colour_is_zeroed() {
        let rgb = vec![200u8; 2 * 3];
        let c = Cutout::from_rgb_and_mask(0, Instant::now(), 2, 1, &rgb, vec![0, 255]);
        assert_eq!(&c.rgba[..4], &[0, 0, 0, 0]);
        assert_eq!(&c.rgba[4..], &[200, 200, 200, 255]);
        assert!((c.coverage() - 0.5).abs() < 1e-6);
    }

    #[test]
    fn flattening_blends_the_person_onto_the_background_by_alpha() {
        let rgb = vec![200u8, 100, 0, 200, 100, 0, 200, 100, 0];
        let c = Cutout::from_rgb_and_mask(0, Instant::now(), 3, 1, &rgb, vec![0, 255, 128]);
        let flat = c.flattened([255, 255, 255]);
        assert_eq!(
            &flat[..3],
            &[255, 255, 255],
            "background shows where alpha is 0"
        );
        assert_eq!(&flat[3..6], &[200, 100, 0], "the person where alpha is 255");
        assert_eq!(&flat[6..], &[227, 177, 127], "half and half between");
    }
}
