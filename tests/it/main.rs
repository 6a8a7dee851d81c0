//! The one integration-test binary: one module per capability.

mod common;
mod peer_mesh;
mod process_mesh;
mod signaling;
