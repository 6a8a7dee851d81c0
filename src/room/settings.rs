//! The lobby's choices, remembered: `settings.json` in the platform's config folder
//! (`~/.config/samespace/` on Linux; `SAMESPACE_CONFIG_DIR` overrides it). Read at
//! start as defaults (command-line flags override them), written when a room is
//! created or joined.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::RoomError;

/// File name inside the config folder.
pub const SETTINGS_FILE: &str = "settings.json";

/// What the lobby remembers. Every field is optional: a missing one takes the
/// built-in default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Your name.
    pub name: Option<String>,
    /// Camera spec (`synthetic`, `0`, …).
    pub camera: Option<String>,
    /// Theme name.
    pub theme: Option<String>,
    /// Signaling server to create and join rooms on (`None`: this computer).
    pub server: Option<String>,
    /// Port of the signaling server the app starts for a created room.
    pub port: Option<u16>,
    /// Microphone: `none`, `default` or a device name.
    pub mic: Option<String>,
    /// Speaker: `none`, `default` or a device name.
    pub speaker: Option<String>,
    /// Join rooms muted.
    pub muted: Option<bool>,
}

impl Settings {
    /// Where the settings live: `$SAMESPACE_CONFIG_DIR/settings.json`, else the
    /// platform's config folder for samespace (`None` without a home folder).
    pub fn path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("SAMESPACE_CONFIG_DIR").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir).join(SETTINGS_FILE));
        }
        directories::ProjectDirs::from("", "", "samespace")
            .map(|d| d.config_dir().join(SETTINGS_FILE))
    }

    /// Reads `path`; a missing file is the defaults.
    pub fn load_from(path: &Path) -> Result<Self, RoomError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(RoomError::SettingsIo {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|source| RoomError::SettingsFormat {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes `path` (its folder is created; a temporary file is renamed over it, so
    /// a crash never leaves half a file).
    pub fn save_to(&self, path: &Path) -> Result<(), RoomError> {
        let io = |source| RoomError::SettingsIo {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text =
            serde_json::to_string_pretty(self).map_err(|source| RoomError::SettingsFormat {
                path: path.to_owned(),
                source,
            })?;
        let temp = path.with_extension("json.tmp");
        std::fs::write(&temp, text).map_err(io)?;
        std::fs::rename(&temp, path).map_err(io)
    }

    /// The saved settings, or the defaults (a problem is logged, never fatal).
    pub fn load() -> Self {
        let Some(path) = Self::path() else {
            return Self::default();
        };
        Self::load_from(&path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring the saved settings");
            Self::default()
        })
    }

    /// Saves to [`Settings::path`]; a failure is logged.
    pub fn save(&self) {
        let Some(path) = Self::path() else { return };
        match self.save_to(&path) {
            Ok(()) => tracing::debug!(path = %path.display(), "settings saved"),
            Err(e) => tracing::warn!(error = %e, "settings not saved"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("samespace-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("nested").join(SETTINGS_FILE)
    }

    #[test]
    fn settings_survive_a_save_and_load_and_a_missing_file_is_the_defaults() {
        let path = temp("roundtrip");
        assert_eq!(
            Settings::load_from(&path).expect("missing is fine"),
            Settings::default()
        );
        let s = Settings {
            name: Some("Ada".into()),
            camera: Some("synthetic".into()),
            theme: Some("space".into()),
            server: Some("ws://10.0.0.2:9470".into()),
            port: Some(9555),
            mic: Some("none".into()),
            speaker: Some("USB Headset".into()),
            muted: Some(true),
        };
        s.save_to(&path).expect("saves");
        assert_eq!(Settings::load_from(&path).expect("loads"), s);
    }

    #[test]
    fn unknown_and_missing_fields_are_tolerated_and_garbage_is_an_error() {
        let path = temp("partial");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
        std::fs::write(&path, r#"{"name":"Bo","future":1}"#).expect("write");
        let s = Settings::load_from(&path).expect("loads");
        assert_eq!(s.name.as_deref(), Some("Bo"));
        assert_eq!(s.port, None);
        std::fs::write(&path, "not json").expect("write");
        assert!(matches!(
            Settings::load_from(&path),
            Err(RoomError::SettingsFormat { .. })
        ));
    }
}
