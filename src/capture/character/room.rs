//! The room behind a synthetic character (pure): a lit wall with a window, a
//! bookshelf, a framed picture and a plant, and the floor where the camera sees it,
//! drawn slightly out of focus like a webcam's background.

use std::ops::{Add, Mul, Sub};

use super::look::Framing;
use super::paint::{
    Bounds, Canvas, Hit, Light, V2, capsule, circle, ellipse, hash2, lin, mix, noise2, v2,
};

/// A room's colours.
struct Palette {
    wall: [u8; 3],
    floor: [u8; 3],
    shelf: [u8; 3],
    plant: [u8; 3],
}

const PALETTES: [Palette; 4] = [
    Palette {
        wall: [214, 204, 186],
        floor: [150, 104, 68],
        shelf: [120, 84, 56],
        plant: [58, 104, 52],
    },
    Palette {
        wall: [176, 190, 200],
        floor: [120, 118, 112],
        shelf: [226, 226, 220],
        plant: [70, 120, 60],
    },
    Palette {
        wall: [196, 204, 176],
        floor: [170, 130, 90],
        shelf: [90, 64, 44],
        plant: [50, 96, 70],
    },
    Palette {
        wall: [226, 214, 206],
        floor: [96, 80, 70],
        shelf: [60, 60, 66],
        plant: [66, 112, 48],
    },
];

/// Paints the room for demo participant `variant` seen with `framing` into a
/// `width` x `height` linear RGB buffer.
pub fn paint(width: u32, height: u32, variant: u32, framing: Framing) -> Vec<f32> {
    let (w, h) = (width as f32, height as f32);
    let pal = &PALETTES[variant as usize % PALETTES.len()];
    let seed = variant.wrapping_mul(7919).wrapping_add(17);
    // How large the room's things look: closer cameras see them bigger and blurrier.
    let (zoom, blur, horizon) = match framing {
        Framing::Close => (1.5, 4.0, 2.0),
        Framing::Half => (1.15, 2.5, 0.97),
        Framing::Far => (0.85, 1.5, 0.62),
    };
    let window_left = variant.is_multiple_of(2);
    let wall = lin(pal.wall);
    let mut rgb = vec![0.0; (width * height * 3) as usize];
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (x as f32 / w, y as f32 / h);
            // Light falls off away from the window side and towards the floor.
            let side = if window_left { fx } else { 1.0 - fx };
            let k = 1.08 - 0.35 * side - 0.12 * fy
                + 0.03 * (noise2(v2(x as f32 / 90.0, y as f32 / 90.0), seed) - 0.5);
            let c = if fy > horizon {
                let floor = lin(pal.floor);
                let depth = (fy - horizon) / (1.0 - horizon).max(1e-3);
                let plank = noise2(v2(x as f32 / (14.0 + 40.0 * depth), fy * 3.0), seed + 1);
                let k = (0.75 + 0.25 * depth) * (0.9 + 0.2 * plank);
                [floor[0] * k, floor[1] * k, floor[2] * k]
            } else {
                [wall[0] * k, wall[1] * k, wall[2] * k]
            };
            let i = ((y * width + x) * 3) as usize;
            rgb[i..i + 3].copy_from_slice(&c);
        }
    }
    let mut canvas = Canvas::new(width, height, rgb, Light::default());
    let soft = |d: f32| d / blur;
    let s = h * zoom;
    // Skirting board along the floor.
    if horizon < 1.0 {
        let y = horizon * h;
        canvas.fill(
            Bounds {
                min: v2(0.0, y - 0.03 * s),
                max: v2(w, y + 2.0),
            },
            0.0,
            false,
            |p| soft((p.y - y).max(y - 0.025 * s - p.y)),
            |_| mix(wall, [1.0, 1.0, 1.0], 0.3),
        );
    }
    // Window: bright sky, a frame and a sash bar.
    let wx = if window_left { 0.12 * w } else { 0.88 * w };
    let wc = v2(wx, 0.3 * h * zoom.min(1.2));
    let half = v2(0.16 * s, 0.22 * s);
    panel(
        &mut canvas,
        wc,
        half.add(v2(0.025 * s, 0.025 * s)),
        blur,
        |_| [0.92, 0.92, 0.9],
    );
    panel(&mut canvas, wc, half, blur, |hit| {
        let t = ((hit.p.y - (wc.y - half.y)) / (2.0 * half.y)).clamp(0.0, 1.0);
        let tree = noise2(hit.p.mul(1.0 / (0.05 * s)), seed + 2);
        let sky = mix([0.62, 0.78, 0.95], [0.85, 0.9, 0.95], t);
        if t > 0.55 + 0.25 * tree {
            mix(sky, [0.2, 0.35, 0.18], 0.8)
        } else {
            sky
        }
    });
    canvas.fill(
        Bounds::around(wc, half),
        0.0,
        false,
        |p| soft((p.x - wc.x).abs().min((p.y - wc.y).abs()) - 0.012 * s),
        |_| [0.9, 0.9, 0.88],
    );
    // Bookshelf on the other side: boards and books of many colours.
    let bx = if window_left { 0.86 * w } else { 0.14 * w };
    let shelf = lin(pal.shelf);
    for row in 0..3 {
        let y = (0.18 + 0.2 * row as f32) * h * zoom.min(1.2);
        let bw = 0.17 * s;
        let mut x = bx - bw;
        let mut i = 0;
        while x < bx + bw - 0.02 * s {
            let r = hash2(row, i, seed);
            let book_w = (0.025 + 0.02 * r) * s;
            let book_h = (0.1 + 0.04 * hash2(i, row, seed + 3)) * s;
            let colour = lin([
                (60.0 + 170.0 * hash2(i, row * 3, seed + 4)) as u8,
                (50.0 + 140.0 * hash2(i, row * 3 + 1, seed + 4)) as u8,
                (40.0 + 150.0 * hash2(i, row * 3 + 2, seed + 4)) as u8,
            ]);
            let c = v2(x + book_w / 2.0, y - book_h / 2.0);
            let half = v2(book_w / 2.0 - 1.0, book_h / 2.0);
            panel(&mut canvas, c, half, blur, |hit| {
                let k = 0.8 + 0.2 * ((hit.p.x - c.x) / half.x.max(1.0)).cos();
                [colour[0] * k, colour[1] * k, colour[2] * k]
            });
            x += book_w;
            i += 1;
        }
        let c = v2(bx, y + 0.01 * s);
        let half = v2(0.18 * s, 0.012 * s);
        panel(&mut canvas, c, half, blur, |_| shelf);
    }
    // A framed picture high on the wall in the middle.
    let pc = v2(
        0.5 * w + 0.22 * s * if window_left { 1.0 } else { -1.0 },
        0.1 * h,
    );
    let ph = v2(0.1 * s, 0.07 * s);
    panel(
        &mut canvas,
        pc,
        ph.add(v2(0.015 * s, 0.015 * s)),
        blur,
        |_| [0.08, 0.06, 0.05],
    );
    panel(&mut canvas, pc, ph, blur, |hit| {
        let q = hit.p.sub(pc);
        let hill = q.y > 0.02 * s * (q.x / (0.05 * s)).sin();
        if hill {
            [0.25, 0.4, 0.3]
        } else {
            [0.75, 0.55, 0.4]
        }
    });
    // A plant in a pot, standing on the floor, at the edge of the picture. Not in
    // close-ups, where it would be big and next to the person (segmentation takes
    // leaves touching a person for part of them).
    if framing != Framing::Close {
        let plant = lin(pal.plant);
        let px = if window_left { 0.06 * w } else { 0.94 * w };
        let base_y = if horizon < 1.0 {
            horizon * h + 0.05 * s
        } else {
            h
        };
        let pot = v2(px, base_y - 0.06 * s);
        canvas.fill(
            Bounds::around(pot, v2(0.07 * s, 0.07 * s)),
            0.0,
            false,
            |p| {
                soft(capsule(
                    p,
                    pot.add(v2(0.0, -0.03 * s)),
                    pot.add(v2(0.0, 0.03 * s)),
                    0.06 * s,
                    0.045 * s,
                ))
            },
            |_| [0.45, 0.18, 0.1],
        );
        for leaf in 0..9 {
            let a = -1.3 + 2.6 * leaf as f32 / 8.0 + 0.2 * hash2(leaf, 0, seed);
            let len = (0.16 + 0.1 * hash2(leaf, 1, seed)) * s;
            let tip = pot.add(v2(a.sin() * len, -a.cos().abs() * len - 0.05 * s));
            let from = pot.add(v2(0.0, -0.06 * s));
            let mid = from.lerp(tip, 0.55);
            canvas.fill(
                Bounds::segment(from, tip, 0.05 * s),
                0.0,
                false,
                |p| soft(ellipse(p, mid, v2(0.025 * s, len * 0.5), -a * 0.9)),
                |hit| {
                    let k = 0.8 + 0.3 * noise2(hit.p.mul(0.1), seed + 5);
                    [plant[0] * k, plant[1] * k, plant[2] * k]
                },
            );
        }
    }
    // A ceiling lamp's glow on the wall.
    let glow = v2(0.5 * w, -0.1 * h);
    let r = 0.5 * s;
    canvas.shadow_all(Bounds::around(glow, v2(r, r)), [1.15, 1.1, 1.0], |p| {
        1.0 - (circle(p, glow, 0.0) / r).clamp(0.0, 1.0)
    });
    // Vignette.
    let centre = v2(w / 2.0, h / 2.0);
    let reach = centre.len();
    canvas.shadow_all(Bounds::around(centre, centre), [0.7, 0.7, 0.72], |p| {
        let d = p.sub(centre).len() / reach;
        (d - 0.55).max(0.0) * 1.6
    });
    canvas.rgb
}

/// Fills an axis-aligned rectangle (centre, half sizes) with edges `blur` pixels soft.
fn panel(canvas: &mut Canvas, c: V2, half: V2, blur: f32, shade: impl Fn(&Hit) -> [f32; 3]) {
    let margin = v2(blur, blur);
    canvas.fill(
        Bounds::around(c, half + margin),
        0.0,
        false,
        |p| rect(p, c, half) / blur,
        shade,
    );
}

/// Signed distance to an axis-aligned rectangle.
fn rect(p: V2, c: V2, half: V2) -> f32 {
    let q = v2((p.x - c.x).abs() - half.x, (p.y - c.y).abs() - half.y);
    let outside = v2(q.x.max(0.0), q.y.max(0.0)).len();
    outside + q.x.max(q.y).min(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_differ_between_participants_and_are_not_flat() {
        let a = paint(64, 48, 0, Framing::Half);
        let b = paint(64, 48, 1, Framing::Half);
        assert_eq!(a.len(), 64 * 48 * 3);
        let diff: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
        assert!(diff / a.len() as f32 > 0.02, "rooms alike: {diff}");
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / a.len() as f32;
        assert!(var > 0.001, "a flat wall: {var}");
    }
}
