//! `bench_physics`: cost per frame of the collider update (mask → silhouette →
//! shapes) plus one physics step, with synthetic waving people. A driver-side
//! measurement (it reads the clock); the lead wires it into `samespace bench`.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{GameConfig, GameKind, GameSim};
use crate::bodies::synthetic::{SyntheticPose, synthetic_person_mask};
use crate::bodies::{SilhouetteParams, silhouette_from_mask};
use crate::world::placement::Placement;

/// Mask size used by the benchmark (a typical camera cutout).
pub const BENCH_MASK_WIDTH: u32 = 640;
/// Mask height used by the benchmark.
pub const BENCH_MASK_HEIGHT: u32 = 480;
/// Distinct poses per participant, cycled through (pre-rendered, not timed).
const POSES: usize = 12;

/// Timings of [`bench_physics`], in milliseconds per frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// Participants simulated.
    pub participants: usize,
    /// Frames measured.
    pub frames: usize,
    /// Mask → silhouette for all participants: mean.
    pub silhouette_ms_mean: f64,
    /// Silhouette → colliders + one 60 Hz physics step: mean.
    pub physics_ms_mean: f64,
    /// Whole frame (both of the above): mean.
    pub frame_ms_mean: f64,
    /// Whole frame: 95th percentile.
    pub frame_ms_p95: f64,
    /// Convex pieces per participant, mean.
    pub pieces_mean: f64,
    /// Game objects alive at the end.
    pub objects: usize,
    /// Silhouette–object contacts started during the run.
    pub body_contacts: u64,
}

/// Runs meteor dodge (the busiest game) with `participants` synthetic people for
/// `frames` frames, each frame updating every silhouette from a 640x480 mask and
/// stepping the physics once.
pub fn bench_physics(participants: usize, frames: usize) -> BenchResult {
    let params = SilhouetteParams::default();
    let masks: Vec<Vec<Vec<u8>>> = (0..participants)
        .map(|p| {
            (0..POSES)
                .map(|k| {
                    let pose = SyntheticPose::waving(k as f32 * 0.12, p as f32 * 0.9);
                    synthetic_person_mask(BENCH_MASK_WIDTH, BENCH_MASK_HEIGHT, &pose)
                })
                .collect()
        })
        .collect();
    let mut sim = GameSim::new(
        GameKind::MeteorDodge,
        GameConfig {
            lobby_seconds: 0.0,
            countdown_seconds: Some(0.0),
            play_seconds: Some(3600.0),
            ..GameConfig::default()
        },
    );
    let ids: Vec<_> = (0..participants)
        .map(|p| sim.add_participant(format!("bench{p}")))
        .collect();
    let scale = 380.0 / BENCH_MASK_HEIGHT as f32;
    let mut sil_ms = Vec::with_capacity(frames);
    let mut phys_ms = Vec::with_capacity(frames);
    let mut pieces = 0usize;
    for f in 0..frames {
        let t0 = Instant::now();
        let sils: Vec<_> = masks
            .iter()
            .map(|m| {
                let mask = &m[f % POSES];
                silhouette_from_mask(mask, BENCH_MASK_WIDTH, BENCH_MASK_HEIGHT, &params)
            })
            .collect();
        let t1 = Instant::now();
        for (i, (id, sil)) in ids.iter().zip(&sils).enumerate() {
            let Ok(sil) = sil else {
                continue;
            };
            pieces += sil.pieces.len();
            let spread = if participants > 1 {
                -540.0 + 1080.0 * i as f32 / (participants - 1) as f32
            } else {
                0.0
            };
            let placement = Placement {
                x: spread,
                y: -300.0,
                scale,
                z: 0,
                mirrored: false,
            };
            if let Err(err) = sim.set_body_from_silhouette(*id, sil, &placement) {
                tracing::warn!(%err, "bench participant rejected");
            }
        }
        sim.step();
        let t2 = Instant::now();
        sil_ms.push((t1 - t0).as_secs_f64() * 1000.0);
        phys_ms.push((t2 - t1).as_secs_f64() * 1000.0);
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let mut total: Vec<f64> = sil_ms.iter().zip(&phys_ms).map(|(a, b)| a + b).collect();
    total.sort_by(f64::total_cmp);
    let p95 = if total.is_empty() {
        0.0
    } else {
        total[((total.len() as f64 * 0.95) as usize).min(total.len() - 1)]
    };
    BenchResult {
        participants,
        frames,
        silhouette_ms_mean: mean(&sil_ms),
        physics_ms_mean: mean(&phys_ms),
        frame_ms_mean: mean(&total),
        frame_ms_p95: p95,
        pieces_mean: pieces as f64 / (frames.max(1) * participants.max(1)) as f64,
        objects: sim.object_count(),
        body_contacts: sim.body_contacts(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmark_runs_and_reports_sane_numbers() {
        let r = bench_physics(2, 30);
        assert_eq!(r.frames, 30);
        assert!(r.frame_ms_mean > 0.0);
        assert!(r.frame_ms_p95 >= r.frame_ms_mean * 0.5);
        assert!(r.pieces_mean >= 3.0, "{r:?}");
    }
}
