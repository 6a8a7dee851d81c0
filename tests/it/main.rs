//! Integration tests, one binary: one module per capability.

mod capture;
mod cli;
mod common;
mod record;
mod segment_model;
mod world_render;
