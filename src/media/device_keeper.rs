//! Keeping a call's sound going when a device goes away: [`DeviceKeeper`] notices
//! a microphone or speaker whose stream failed (an error from the sound system, or
//! no callback for [`STALL_AFTER`] after it had started), drops it, opens the default device in its
//! place, and while there is none tries again every [`REOPEN_INTERVAL`]. Each
//! change is a [`DeviceNotice`] for the log and the screen.
//!
//! The stream side reports through [`StreamHealth`] (written by cpal's callbacks);
//! the keeper reaches devices only through [`AudioEndpoint`] and an `open`
//! function, so its rules are tested with simulated devices.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::audio_device::AudioDeviceError;

/// A stream without a callback for this long is taken as gone (an unplugged
/// device behind a sound server often just goes quiet). Long enough that a
/// machine busy for a moment does not count: on a loaded 2-core machine the
/// callbacks of a healthy stream were seen to pause for over 2 s.
pub const STALL_AFTER: Duration = Duration::from_secs(5);
/// While no device can be opened, the keeper tries again this often.
pub const REOPEN_INTERVAL: Duration = Duration::from_secs(2);

/// How a running stream is doing, written by its callbacks.
#[derive(Debug)]
pub struct StreamHealth {
    started: Instant,
    /// Milliseconds from `started` to the latest data callback, plus one (0: none yet).
    last_callback_ms: AtomicU64,
    error: Mutex<Option<String>>,
}

impl Default for StreamHealth {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

impl StreamHealth {
    /// A stream opened at `now` (the stall clock starts there).
    pub fn new(now: Instant) -> Self {
        Self {
            started: now,
            last_callback_ms: AtomicU64::new(0),
            error: Mutex::new(None),
        }
    }

    /// A data callback ran at `now`.
    pub fn beat(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.started).as_millis() as u64;
        self.last_callback_ms.store(ms + 1, Ordering::Relaxed);
    }

    /// The sound system reported `error` on the stream (the first one is kept);
    /// returns whether it was the first (a failing ALSA stream repeats its error
    /// thousands of times a second, so only the first is worth logging).
    pub fn report(&self, error: impl std::fmt::Display) -> bool {
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        let first = slot.is_none();
        if first {
            *slot = Some(error.to_string());
        }
        first
    }

    /// Why the stream is to be given up at `now`, if it is: an error, or callbacks
    /// that started and then stopped for [`STALL_AFTER`] (a stream slow to start is
    /// left alone).
    pub fn failure(&self, now: Instant) -> Option<String> {
        if let Some(e) = self.error.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Some(e);
        }
        let last = self
            .last_callback_ms
            .load(Ordering::Relaxed)
            .checked_sub(1)?;
        let last = self.started + Duration::from_millis(last);
        (now.saturating_duration_since(last) >= STALL_AFTER)
            .then(|| format!("no sound from the device for {} s", STALL_AFTER.as_secs()))
    }
}

/// A microphone or speaker as the keeper sees it.
pub trait AudioEndpoint {
    /// The device's name.
    fn name(&self) -> &str;
    /// Why its stream is to be given up at `now`, if it is.
    fn failure(&self, now: Instant) -> Option<String>;
}

/// Which side a keeper looks after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// The input.
    Microphone,
    /// The output.
    Speaker,
}

impl DeviceKind {
    fn label(self) -> &'static str {
        match self {
            Self::Microphone => "microphone",
            Self::Speaker => "speaker",
        }
    }

    fn meanwhile(self) -> &'static str {
        match self {
            Self::Microphone => "the others hear silence until a microphone is back",
            Self::Speaker => "voices are not played until a speaker is back",
        }
    }
}

/// A change of device during a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceNotice {
    /// The device failed and another one took over.
    Switched {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// The device given up.
        lost: String,
        /// Why.
        error: String,
        /// The device now in use.
        now_using: String,
    },
    /// The device failed and none could be opened; retrying.
    Lost {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// The device given up.
        lost: String,
        /// Why.
        error: String,
    },
    /// After a loss, a device could be opened again.
    Restored {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// The device now in use.
        now_using: String,
    },
}

impl std::fmt::Display for DeviceNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Switched {
                kind,
                lost,
                error,
                now_using,
            } => write!(
                f,
                "{} {lost:?} stopped ({error}); now using {now_using:?}",
                kind.label()
            ),
            Self::Lost { kind, lost, error } => write!(
                f,
                "{} {lost:?} stopped ({error}); {}",
                kind.label(),
                kind.meanwhile()
            ),
            Self::Restored { kind, now_using } => {
                write!(f, "{} back: using {now_using:?}", kind.label())
            }
        }
    }
}

/// Holds one device through a call, replacing it when it fails.
#[derive(Debug)]
pub struct DeviceKeeper<D> {
    kind: DeviceKind,
    /// The device asked for by name (`None`: the default).
    wanted: Option<String>,
    device: Option<D>,
    /// After a loss with nothing to replace it: when to try again.
    retry_at: Option<Instant>,
}

impl<D: AudioEndpoint> DeviceKeeper<D> {
    /// Keeps `device` (opened from `wanted`), or none: a keeper that starts without
    /// a device does not look for one (the call was set up without it).
    pub fn new(kind: DeviceKind, wanted: Option<String>, device: Option<D>) -> Self {
        Self {
            kind,
            wanted,
            device,
            retry_at: None,
        }
    }

    /// The device in use.
    pub fn device(&self) -> Option<&D> {
        self.device.as_ref()
    }

    /// The device in use, mutably.
    pub fn device_mut(&mut self) -> Option<&mut D> {
        self.device.as_mut()
    }

    /// Whether a lost device is being waited for.
    pub fn is_waiting(&self) -> bool {
        self.retry_at.is_some()
    }

    /// Looks at the device at `now`: a failed one is dropped and replaced through
    /// `open` (the device asked for first, then the default); with none to be had,
    /// tries again after [`REOPEN_INTERVAL`]. Returns what changed.
    pub fn poll(
        &mut self,
        now: Instant,
        mut open: impl FnMut(Option<&str>) -> Result<D, AudioDeviceError>,
    ) -> Option<DeviceNotice> {
        let kind = self.kind;
        if let Some(device) = &self.device {
            let error = device.failure(now)?;
            let lost = device.name().to_string();
            // Dropping the old stream before opening: some systems allow one at a time.
            self.device = None;
            return Some(match self.reopen(&mut open) {
                Ok(device) => {
                    let now_using = device.name().to_string();
                    self.device = Some(device);
                    DeviceNotice::Switched {
                        kind,
                        lost,
                        error,
                        now_using,
                    }
                }
                Err(_) => {
                    self.retry_at = Some(now + REOPEN_INTERVAL);
                    DeviceNotice::Lost { kind, lost, error }
                }
            });
        }
        let due = self.retry_at.is_some_and(|at| now >= at);
        if !due {
            return None;
        }
        match self.reopen(&mut open) {
            Ok(device) => {
                let now_using = device.name().to_string();
                self.device = Some(device);
                self.retry_at = None;
                Some(DeviceNotice::Restored { kind, now_using })
            }
            Err(_) => {
                self.retry_at = Some(now + REOPEN_INTERVAL);
                None
            }
        }
    }

    fn reopen(
        &self,
        open: &mut impl FnMut(Option<&str>) -> Result<D, AudioDeviceError>,
    ) -> Result<D, AudioDeviceError> {
        match &self.wanted {
            Some(name) => open(Some(name)).or_else(|_| open(None)),
            None => open(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A simulated device whose stream fails when the test says so.
    struct FakeDevice {
        name: String,
        failed: Arc<Mutex<Option<String>>>,
    }

    impl AudioEndpoint for FakeDevice {
        fn name(&self) -> &str {
            &self.name
        }
        fn failure(&self, _now: Instant) -> Option<String> {
            self.failed.lock().expect("lock").clone()
        }
    }

    /// Opens devices from a list of what is plugged in, recording each attempt.
    struct FakeSystem {
        plugged: Vec<&'static str>,
        default: Option<&'static str>,
        attempts: Vec<Option<String>>,
        failed: Arc<Mutex<Option<String>>>,
    }

    impl FakeSystem {
        fn open(&mut self, name: Option<&str>) -> Result<FakeDevice, AudioDeviceError> {
            self.attempts.push(name.map(str::to_string));
            let found = match name {
                Some(n) => self.plugged.iter().find(|p| **p == n).copied(),
                None => self.default.filter(|d| self.plugged.contains(d)),
            };
            let none = || AudioDeviceError::NoDevice {
                kind: "input",
                name: name.map(str::to_string),
            };
            let name = found.ok_or_else(none)?;
            // A new stream starts healthy.
            self.failed = Arc::new(Mutex::new(None));
            Ok(FakeDevice {
                name: name.to_string(),
                failed: self.failed.clone(),
            })
        }
    }

    #[test]
    fn an_unplugged_microphone_is_replaced_by_the_default_one() {
        let mut system = FakeSystem {
            plugged: vec!["USB headset", "Built-in"],
            default: Some("Built-in"),
            attempts: vec![],
            failed: Arc::new(Mutex::new(None)),
        };
        let first = system.open(Some("USB headset")).expect("open");
        system.attempts.clear();
        let mut keeper = DeviceKeeper::new(
            DeviceKind::Microphone,
            Some("USB headset".into()),
            Some(first),
        );
        let t0 = Instant::now();
        assert_eq!(
            keeper.poll(t0, |n| system.open(n)),
            None,
            "healthy: nothing to do"
        );
        assert!(system.attempts.is_empty());
        // Unplugged: the stream reports an error, the headset is gone from the list.
        *system.failed.lock().expect("lock") = Some("device not available".into());
        system.plugged.retain(|p| *p != "USB headset");
        let notice = keeper.poll(t0, |n| system.open(n));
        assert_eq!(
            notice,
            Some(DeviceNotice::Switched {
                kind: DeviceKind::Microphone,
                lost: "USB headset".into(),
                error: "device not available".into(),
                now_using: "Built-in".into(),
            })
        );
        assert_eq!(system.attempts, vec![Some("USB headset".into()), None]);
        assert_eq!(keeper.device().map(|d| d.name.as_str()), Some("Built-in"));
        assert!(
            notice
                .map(|n| n.to_string())
                .is_some_and(|t| t.contains("now using \"Built-in\"")),
        );
    }

    #[test]
    fn with_no_device_left_the_keeper_waits_and_retries_until_one_is_back() {
        let mut system = FakeSystem {
            plugged: vec!["Speakers"],
            default: Some("Speakers"),
            attempts: vec![],
            failed: Arc::new(Mutex::new(None)),
        };
        let first = system.open(None).expect("open");
        let mut keeper = DeviceKeeper::new(DeviceKind::Speaker, None, Some(first));
        let t0 = Instant::now();
        *system.failed.lock().expect("lock") = Some("no sound from the device for 5 s".into());
        system.plugged.clear();
        let notice = keeper.poll(t0, |n| system.open(n));
        assert!(
            matches!(&notice, Some(DeviceNotice::Lost { lost, .. }) if lost == "Speakers"),
            "{notice:?}"
        );
        assert!(keeper.device().is_none() && keeper.is_waiting());
        assert!(
            notice
                .map(|n| n.to_string())
                .is_some_and(|t| t.contains("voices are not played"))
        );
        // Not before the interval, and a failed retry says nothing new.
        system.attempts.clear();
        assert_eq!(
            keeper.poll(t0 + REOPEN_INTERVAL / 2, |n| system.open(n)),
            None
        );
        assert!(system.attempts.is_empty());
        assert_eq!(keeper.poll(t0 + REOPEN_INTERVAL, |n| system.open(n)), None);
        assert_eq!(system.attempts.len(), 1);
        // Plugged back in: the next retry opens it.
        system.plugged.push("Speakers");
        assert_eq!(
            keeper.poll(t0 + REOPEN_INTERVAL * 3 / 2, |n| system.open(n)),
            None
        );
        let back = keeper.poll(t0 + REOPEN_INTERVAL * 2, |n| system.open(n));
        assert_eq!(
            back,
            Some(DeviceNotice::Restored {
                kind: DeviceKind::Speaker,
                now_using: "Speakers".into()
            })
        );
        assert!(!keeper.is_waiting());
        assert_eq!(keeper.device().map(|d| d.name.as_str()), Some("Speakers"));
    }

    #[test]
    fn a_keeper_without_a_device_does_not_look_for_one() {
        let mut opened = 0;
        let mut keeper: DeviceKeeper<FakeDevice> =
            DeviceKeeper::new(DeviceKind::Microphone, None, None);
        let t0 = Instant::now();
        for k in 0..5 {
            let r = keeper.poll(t0 + REOPEN_INTERVAL * k, |_| {
                opened += 1;
                Err(AudioDeviceError::Thread("unused".into()))
            });
            assert_eq!(r, None);
        }
        assert_eq!(opened, 0);
    }

    #[test]
    fn a_stream_fails_on_an_error_or_when_its_callbacks_stop() {
        let t0 = Instant::now();
        let health = StreamHealth::new(t0);
        assert_eq!(
            health.failure(t0 + STALL_AFTER * 3),
            None,
            "a stream that has not started yet is left alone"
        );
        health.beat(t0 + Duration::from_secs(1));
        let after_beat = t0 + Duration::from_secs(1);
        assert_eq!(health.failure(after_beat + STALL_AFTER / 2), None);
        assert!(
            health
                .failure(after_beat + STALL_AFTER + Duration::from_millis(10))
                .is_some()
        );
        let broken = StreamHealth::new(t0);
        assert!(broken.report("device not available"));
        assert!(!broken.report("a later error"));
        assert_eq!(broken.failure(t0), Some("device not available".to_string()));
    }
}
