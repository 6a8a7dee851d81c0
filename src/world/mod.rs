//! The shared world.
pub mod placement;
pub use placement::Placement;
