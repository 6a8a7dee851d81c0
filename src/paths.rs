//! Where the bundled models and assets are found at run time.
//!
//! Order: `$SAMESPACE_MODELS` / `$SAMESPACE_ASSETS`; `models/` or `assets/` in the
//! current directory; beside the executable or in one of its ancestors (a cargo
//! `target/` tree inside the checkout); the checkout this binary was built from.

use std::path::{Path, PathBuf};

fn find(env: &str, name: &str, probe: &str) -> PathBuf {
    let found = find_relative(env, name, probe);
    std::fs::canonicalize(&found).unwrap_or(found)
}

fn find_relative(env: &str, name: &str, probe: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let ok = |d: &Path| d.join(probe).exists();
    let cwd = PathBuf::from(name);
    if ok(&cwd) {
        return cwd;
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            let cand = dir.join(name);
            if ok(&cand) {
                return cand;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// The folder with the ONNX models.
pub fn models_dir() -> PathBuf {
    find("SAMESPACE_MODELS", "models", "selfie_segmentation.onnx")
}

/// The folder with the bundled assets (portrait, themes).
pub fn assets_dir() -> PathBuf {
    find("SAMESPACE_ASSETS", "assets", "astronaut.png")
}
