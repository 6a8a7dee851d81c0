//! What each synthetic character looks like (pure data): skin, hair, clothes,
//! build, and how the camera frames them.

use super::motion::Build;

/// Hair styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hair {
    /// Long, past the shoulders, parted in the middle.
    Long,
    /// Short and close to the head.
    Crop,
    /// Pulled back into a bun on top.
    Bun,
    /// Big and curly.
    Curly,
    /// Short with volume, parted on one side.
    SidePart,
    /// Long and tied back, sides framing the face.
    Bob,
}

/// Tops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Top {
    /// A plain T-shirt or jumper.
    Plain,
    /// Horizontal stripes in the second colour.
    Stripes,
    /// A hoodie: hood behind the neck, drawstrings.
    Hoodie,
    /// A shirt with a collar and buttons (second colour: the collar).
    Collar,
}

/// How a webcam frames its person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Head and shoulders, cut at the chest.
    Close,
    /// Head to the hips.
    Half,
    /// The whole body, standing back from the camera.
    Far,
}

impl Framing {
    /// The framing of demo participant `variant`: half body, close-up, far away, ...
    pub fn of_variant(variant: u32) -> Self {
        match variant % 3 {
            0 => Framing::Half,
            1 => Framing::Close,
            _ => Framing::Far,
        }
    }

    /// Pixels per head unit and the crown's height (pixels from the top) for a
    /// frame `height` pixels high and a character `body` head units tall.
    pub fn scale_and_crown(self, height: f32, body: f32) -> (f32, f32) {
        match self {
            Framing::Close => (0.33 * height, 0.1 * height),
            Framing::Half => (0.2 * height, 0.08 * height),
            Framing::Far => {
                let scale = 0.83 * height / 7.8;
                (scale, 0.93 * height - body * scale)
            }
        }
    }

    /// Share of the requested sideways step this framing shows (close-ups lean
    /// rather than step).
    pub fn step_share(self) -> f32 {
        match self {
            Framing::Close => 0.4,
            Framing::Half => 0.8,
            Framing::Far => 1.0,
        }
    }
}

/// One character's appearance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    /// Skin colour (sRGB).
    pub skin: [u8; 3],
    /// Hair colour.
    pub hair: [u8; 3],
    /// Hair style.
    pub hair_style: Hair,
    /// Iris colour.
    pub iris: [u8; 3],
    /// Lip colour.
    pub lips: [u8; 3],
    /// Top's main colour.
    pub top: [u8; 3],
    /// Top's second colour (stripes, collar, strings).
    pub top2: [u8; 3],
    /// Kind of top.
    pub top_style: Top,
    /// Sleeves to the wrist (else to the middle of the upper arm).
    pub long_sleeves: bool,
    /// Trousers or skirt colour.
    pub trousers: [u8; 3],
    /// Shoe colour.
    pub shoes: [u8; 3],
    /// Body proportions.
    pub build: Build,
    /// Half the head's width in head units (0.34–0.4).
    pub head_width: f32,
    /// Jaw width relative to the head (0.8–1.1).
    pub jaw: f32,
    /// A beard and moustache in the hair colour.
    pub beard: bool,
    /// Glasses.
    pub glasses: bool,
}

/// The cast: distinct people for demo participants 0, 1, 2, ... (after the local
/// participant, in the order of the demo's names: Ada, Grace, Linus, Mae, Neil).
pub const CAST: [Look; 6] = [
    // Deep brown skin, short black hair, beard, orange hoodie, broad.
    Look {
        skin: [112, 72, 50],
        hair: [22, 18, 16],
        hair_style: Hair::Crop,
        iris: [48, 30, 20],
        lips: [110, 60, 52],
        top: [216, 100, 52],
        top2: [235, 235, 235],
        top_style: Top::Hoodie,
        long_sleeves: true,
        trousers: [40, 44, 52],
        shoes: [225, 225, 222],
        build: Build {
            height: 7.7,
            shoulder: 0.86,
            hip: 0.31,
        },
        head_width: 0.38,
        jaw: 1.05,
        beard: true,
        glasses: false,
    },
    // Long dark-brown hair, olive skin, teal jumper.
    Look {
        skin: [222, 172, 136],
        hair: [62, 38, 24],
        hair_style: Hair::Long,
        iris: [92, 60, 34],
        lips: [190, 104, 98],
        top: [34, 118, 128],
        top2: [230, 226, 210],
        top_style: Top::Plain,
        long_sleeves: true,
        trousers: [50, 56, 74],
        shoes: [40, 36, 34],
        build: Build {
            height: 7.3,
            shoulder: 0.7,
            hip: 0.3,
        },
        head_width: 0.36,
        jaw: 0.88,
        beard: false,
        glasses: false,
    },
    // Fair skin, black hair in a bun, navy and white stripes, jeans, short.
    Look {
        skin: [240, 206, 182],
        hair: [20, 18, 22],
        hair_style: Hair::Bun,
        iris: [40, 28, 22],
        lips: [206, 110, 112],
        top: [30, 42, 92],
        top2: [236, 232, 224],
        top_style: Top::Stripes,
        long_sleeves: false,
        trousers: [58, 78, 120],
        shoes: [170, 60, 50],
        build: Build {
            height: 7.0,
            shoulder: 0.68,
            hip: 0.29,
        },
        head_width: 0.35,
        jaw: 0.86,
        beard: false,
        glasses: false,
    },
    // Tan skin, curly brown hair, glasses, green T-shirt.
    Look {
        skin: [196, 140, 102],
        hair: [58, 36, 22],
        hair_style: Hair::Curly,
        iris: [70, 46, 26],
        lips: [170, 96, 84],
        top: [82, 130, 62],
        top2: [230, 220, 190],
        top_style: Top::Plain,
        long_sleeves: false,
        trousers: [60, 70, 90],
        shoes: [90, 60, 40],
        build: Build {
            height: 7.5,
            shoulder: 0.8,
            hip: 0.31,
        },
        head_width: 0.37,
        jaw: 0.97,
        beard: false,
        glasses: true,
    },
    // Brown skin, black hair tied back, magenta top.
    Look {
        skin: [160, 106, 76],
        hair: [16, 14, 14],
        hair_style: Hair::Bob,
        iris: [36, 24, 18],
        lips: [150, 76, 74],
        top: [170, 40, 100],
        top2: [240, 200, 90],
        top_style: Top::Plain,
        long_sleeves: true,
        trousers: [30, 30, 36],
        shoes: [30, 30, 30],
        build: Build {
            height: 7.2,
            shoulder: 0.72,
            hip: 0.31,
        },
        head_width: 0.35,
        jaw: 0.9,
        beard: false,
        glasses: false,
    },
    // Pale freckled skin, ginger hair parted to the side, ginger beard, white shirt.
    Look {
        skin: [238, 192, 170],
        hair: [170, 84, 36],
        hair_style: Hair::SidePart,
        iris: [70, 110, 140],
        lips: [200, 116, 110],
        top: [232, 234, 238],
        top2: [200, 210, 225],
        top_style: Top::Collar,
        long_sleeves: true,
        trousers: [44, 50, 60],
        shoes: [60, 40, 30],
        build: Build {
            height: 7.8,
            shoulder: 0.84,
            hip: 0.32,
        },
        head_width: 0.37,
        jaw: 1.0,
        beard: true,
        glasses: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cast_are_distinct_people() {
        for (i, a) in CAST.iter().enumerate() {
            for b in &CAST[i + 1..] {
                assert_ne!(a.skin, b.skin);
                assert_ne!(a.top, b.top);
                assert!(a.hair_style != b.hair_style || a.hair != b.hair);
            }
        }
    }

    #[test]
    fn framings_cycle_close_half_far_and_far_shows_the_feet() {
        let all: Vec<Framing> = (0..3).map(Framing::of_variant).collect();
        assert!(all.contains(&Framing::Close) && all.contains(&Framing::Half));
        let (scale, crown) = Framing::Far.scale_and_crown(480.0, 7.5);
        assert!(crown > 0.0 && crown + 7.5 * scale < 480.0);
        let (close, _) = Framing::Close.scale_and_crown(480.0, 7.5);
        assert!(close > 2.5 * scale);
    }
}
