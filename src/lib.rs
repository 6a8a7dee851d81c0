//! samespace: friends far apart, together in one themed 2D world as live webcam cutouts.
//!
//! Capabilities, one folder each (see `docs/ARCHITECTURE.md`):
//! - [`capture`]: frame sources (webcam, still image, image sequence, synthetic participant).
//! - [`segment`]: person segmentation (ONNX Runtime or tract) and mask post-processing.
//! - [`world`]: the Bevy world: participants as cutout sprites, themes, placement.
//! - [`bodies`]: silhouette contours and colliders from masks (pure).
//! - [`games`]: party games on rapier2d physics, rules without the engine.
//! - [`net`]: signaling protocol and server, WebRTC peers.
//! - [`media`]: H.264 and Opus coding, alpha packing, audio sources.
//! - [`record`]: MP4 recording of the combined scene.
//! - [`ui`]: egui lobby, room panel and stats overlay.

pub mod bodies;
pub mod capture;
pub mod cli;
pub mod games;
pub mod media;
pub mod net;
pub mod record;
pub mod segment;
pub mod ui;
pub mod world;
