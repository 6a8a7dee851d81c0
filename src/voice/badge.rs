//! The muted badge: a red disc with a white microphone struck through, painted
//! into RGBA pixels. Pure.

/// Side of the badge picture, pixels.
pub const BADGE_SIZE: u32 = 64;
/// The badge's disc colour (sRGB).
pub const BADGE_RED: [u8; 3] = [220, 40, 40];

/// The badge as `BADGE_SIZE`² RGBA8 pixels (transparent outside the disc).
pub fn muted_badge() -> Vec<u8> {
    let n = BADGE_SIZE as usize;
    let c = (n as f32 - 1.0) / 2.0;
    let mut px = vec![0u8; n * n * 4];
    for y in 0..n {
        for x in 0..n {
            let (fx, fy) = (x as f32 - c, y as f32 - c);
            let r = (fx * fx + fy * fy).sqrt();
            if r > c {
                continue;
            }
            // Microphone head: a capsule; its holder: an arc below; a stand.
            let capsule = fx.abs() <= 7.0 && (-20.0..=4.0).contains(&fy) && {
                let cy = fy.clamp(-13.0, -3.0);
                let d = (fx * fx + (fy - cy) * (fy - cy)).sqrt();
                d <= 7.0
            };
            let arc_r =
                ((fx * fx + (fy + 2.0) * (fy + 2.0)).sqrt() - 13.0).abs() <= 2.0 && fy >= -2.0;
            let stand = fx.abs() <= 2.0 && (11.0..=18.0).contains(&fy)
                || fx.abs() <= 8.0 && (17.0..=20.0).contains(&fy);
            // The slash, top left to bottom right.
            let slash = ((fx - fy) / std::f32::consts::SQRT_2).abs() <= 3.0 && r <= c - 6.0;
            let white = capsule || arc_r || stand || slash;
            let edge = (c - r).clamp(0.0, 1.0);
            let i = (y * n + x) * 4;
            let rgb = if white { [255, 255, 255] } else { BADGE_RED };
            px[i..i + 3].copy_from_slice(&rgb);
            px[i + 3] = (edge * 255.0) as u8;
        }
    }
    px
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_badge_is_a_red_disc_with_white_marks_and_clear_corners() {
        let px = muted_badge();
        let n = BADGE_SIZE as usize;
        assert_eq!(px.len(), n * n * 4);
        let at = |x: usize, y: usize| &px[(y * n + x) * 4..(y * n + x) * 4 + 4];
        assert_eq!(at(0, 0)[3], 0, "corner transparent");
        let (mut red, mut white) = (0, 0);
        for p in px.chunks_exact(4) {
            if p[3] == 255 && p[..3] == BADGE_RED {
                red += 1;
            } else if p[3] == 255 && p[..3] == [255, 255, 255] {
                white += 1;
            }
        }
        assert!(red > white && white > 200, "red {red}, white {white}");
    }
}
