//! Frame sources.
pub mod frame;
pub use frame::Frame;
