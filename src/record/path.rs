//! Where recordings and snapshots go: the XDG videos folder (or `./recordings`)
//! and timestamped file names. The lookups are pure functions over their inputs;
//! [`recordings_dir`] reads the environment and `~/.config/user-dirs.dirs`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The folder for recordings: `<XDG videos dir>/samespace` when one is known,
/// else `./recordings`.
pub fn recordings_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let from_env = std::env::var_os("XDG_VIDEOS_DIR").map(PathBuf::from);
    let from_file = || {
        let home = home.as_deref()?;
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        let text = std::fs::read_to_string(config.join("user-dirs.dirs")).ok()?;
        videos_dir_from_user_dirs(&text, home)
    };
    match from_env.or_else(from_file) {
        Some(videos) if videos.is_dir() => videos.join("samespace"),
        _ => PathBuf::from("recordings"),
    }
}

/// The `XDG_VIDEOS_DIR` entry of a `user-dirs.dirs` file (`$HOME` expanded).
/// `None` when absent or when it points at the home folder itself (the XDG
/// convention for "disabled").
pub fn videos_dir_from_user_dirs(text: &str, home: &Path) -> Option<PathBuf> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("XDG_VIDEOS_DIR="))?;
    let value = line["XDG_VIDEOS_DIR=".len()..].trim().trim_matches('"');
    let path = match value.strip_prefix("$HOME") {
        Some(rest) => home.join(rest.trim_start_matches('/')),
        None => PathBuf::from(value),
    };
    (path.is_absolute() && path != home).then_some(path)
}

/// A file name such as `samespace-2026-11-26_10-41-06.mp4` for `time` (UTC).
pub fn timestamped_name(prefix: &str, time: SystemTime, extension: &str) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{prefix}-{year:04}-{month:02}-{day:02}_{:02}-{:02}-{:02}.{extension}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamped_names_use_the_utc_date_and_time() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_689_666);
        assert_eq!(
            timestamped_name("samespace", t, "mp4"),
            "samespace-2026-11-26_10-41-06.mp4"
        );
        assert_eq!(
            timestamped_name("snap", UNIX_EPOCH, "png"),
            "snap-1970-01-01_00-00-00.png"
        );
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert!(timestamped_name("x", leap, "mp4").starts_with("x-2000-02-29"));
    }

    #[test]
    fn user_dirs_videos_entry_expands_home() {
        let home = Path::new("/home/ana");
        let text =
            "# comment\nXDG_DESKTOP_DIR=\"$HOME/Desktop\"\nXDG_VIDEOS_DIR=\"$HOME/Videos\"\n";
        assert_eq!(
            videos_dir_from_user_dirs(text, home),
            Some(PathBuf::from("/home/ana/Videos"))
        );
        assert_eq!(
            videos_dir_from_user_dirs("XDG_VIDEOS_DIR=\"$HOME/\"", home),
            None,
            "pointing at home means disabled"
        );
        assert_eq!(videos_dir_from_user_dirs("", home), None);
    }
}
