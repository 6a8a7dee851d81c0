//! The real window on a virtual display, driven with xdotool as a person would use
//! it: `scripts/gui-check.sh` (create in one window, join by code in another, both
//! people on both screens, leave, join again, a wrong code on screen; then the
//! host's game picker reaching the guest, the lock, and removing the guest). See
//! docs/GUI-TESTING.md. `scripts/setup.sh` installs the tools; without them the
//! test says which are missing and passes without running.

use std::process::Command;

use crate::common::{root, temp_dir};

/// The programs the check drives the display with.
const TOOLS: [&str; 6] = ["Xvfb", "xdotool", "import", "convert", "tesseract", "bc"];

fn missing_tools() -> Vec<&'static str> {
    TOOLS
        .into_iter()
        .filter(|tool| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect()
}

#[test]
fn two_windows_create_join_leave_and_show_a_wrong_code() {
    let missing = missing_tools();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED the window test: {} not installed (run scripts/setup.sh)",
            missing.join(", ")
        );
        return;
    }
    let out = temp_dir("gui");
    let status = Command::new("bash")
        .arg(root().join("scripts/gui-check.sh"))
        .arg(env!("CARGO_BIN_EXE_samespace"))
        .env("OUT", &out)
        // A loaded machine renders two software windows slowly: generous limits,
        // every wait polls for its condition.
        .env("LIMIT", "30")
        .current_dir(root())
        .status()
        .expect("run scripts/gui-check.sh");
    assert!(
        status.success(),
        "scripts/gui-check.sh failed; screenshots and logs in {}",
        out.display()
    );
}
