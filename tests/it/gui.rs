//! The real window on a virtual display, driven with xdotool as a person would use
//! it: `scripts/gui-check.sh` (create in one window, join by code in another, both
//! people shown, leave, join again, a wrong code on screen). See docs/GUI-TESTING.md.

use std::process::Command;

use crate::common::{root, temp_dir};

#[test]
#[ignore = "needs Xvfb, xdotool, ImageMagick and tesseract (docs/GUI-TESTING.md)"]
fn two_windows_create_join_leave_and_show_a_wrong_code() {
    let out = temp_dir("gui");
    let status = Command::new("bash")
        .arg(root().join("scripts/gui-check.sh"))
        .arg(env!("CARGO_BIN_EXE_samespace"))
        .env("OUT", &out)
        .current_dir(root())
        .status()
        .expect("run scripts/gui-check.sh");
    assert!(
        status.success(),
        "scripts/gui-check.sh failed; screenshots and logs in {}",
        out.display()
    );
}
