//! Integration tests, one binary: one module per capability.

mod capture;
mod cli;
mod common;
mod games_demo;
mod gui;
mod net_demo;
mod net_nat;
mod net_netns;
mod notices;
mod peer_mesh;
mod process_mesh;
mod record;
mod room;
mod same_place;
mod segment_model;
mod serve_process;
mod signaling;
mod talk;
mod video_file;
mod voices;
mod world_memory;
mod world_render;
