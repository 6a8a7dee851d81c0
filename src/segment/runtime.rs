//! Finding and loading the ONNX Runtime shared library (`ort` with `load-dynamic`).
//!
//! Search order: `ORT_DYLIB_PATH`; beside the executable; the project cache dir
//! (`$SAMESPACE_CACHE`, else `$XDG_CACHE_HOME/samespace`, else `~/.cache/samespace`)
//! under `onnxruntime/`, which the README set-up fills from the PyPI wheel; an
//! installed `onnxruntime` Python package. The library is loaded once per process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static LOADED: OnceLock<Result<(PathBuf, ort::environment::Environment), String>> = OnceLock::new();

/// The project's cache directory.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("SAMESPACE_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("samespace");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("samespace")
}

fn library_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("libonnxruntime.so")
                    || n == "libonnxruntime.dylib"
                    || n == "onnxruntime.dll"
            })
        })
        .collect();
    // Prefer the most specific (versioned) name.
    found.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    found.into_iter().next()
}

fn python_package_dir() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, onnxruntime; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(s.trim()))
}

/// Where the ONNX Runtime library would be loaded from, without loading it.
pub fn find_onnxruntime() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        && let Some(p) = library_in(&dir)
    {
        return Some(p);
    }
    if let Some(p) = library_in(&cache_dir().join("onnxruntime")) {
        return Some(p);
    }
    python_package_dir().and_then(|d| library_in(&d))
}

/// Loads ONNX Runtime once for this process; later calls return the first result.
pub fn ensure_onnxruntime() -> Result<PathBuf, String> {
    onnxruntime_environment().map(|(p, _)| p)
}

/// The process's ONNX Runtime environment (loading the library on first use).
pub fn onnxruntime_environment() -> Result<(PathBuf, ort::environment::Environment), String> {
    LOADED
        .get_or_init(|| {
            let path = find_onnxruntime().ok_or_else(|| {
                "libonnxruntime not found (set ORT_DYLIB_PATH, or run the README set-up to fetch it)".to_string()
            })?;
            let builder = ort::init_from(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let env = builder
                .with_name("samespace")
                .build()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            tracing::debug!(path = %path.display(), "ONNX Runtime loaded");
            Ok((path, env))
        })
        .clone()
}
