//! Person segmentation.
pub mod cutout;
pub use cutout::Cutout;
