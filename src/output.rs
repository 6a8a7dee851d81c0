//! Output files are written whole or not at all.
//!
//! Every file samespace writes for the user (cutout, snapshot, report, bench
//! JSON, recording) goes through [`PendingFile`]: the bytes go to a temporary
//! file in the target's own folder, and only a complete file is renamed over
//! the target. A failure (bad encoder input, full disk, crash) leaves an
//! existing file exactly as it was. Recordings use a visible `NAME.part`
//! temporary ([`PendingFile::part`]): it is itself a playable fragmented MP4,
//! so a crash keeps what was recorded.
//!
//! A target that exists and is not a regular file (a device such as
//! `/dev/full` or `/dev/stdout`, a pipe) is written directly: there is nothing
//! to keep, and it cannot be renamed over. [`check_writable`] tells at start,
//! without leaving anything behind, whether a path can be written at all.
//! No threads; plain `std::fs`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an output file cannot be (or was not) written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file-system call failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The output asked for.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The path cannot hold a file (a folder, or a folder that is a file).
    #[error("cannot write {path}: {reason}")]
    Unwritable {
        /// The output asked for.
        path: PathBuf,
        /// What is in the way.
        reason: String,
    },
}

impl OutputError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Numbers temporary names within this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The hidden temporary name used beside `target`: `.NAME.PID-N.tmp`.
pub fn temp_name(target: &Path, pid: u32, n: u64) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    target.with_file_name(format!(".{name}.{pid}-{n}.tmp"))
}

/// The visible in-progress name of a recording: `NAME.part`, or `NAME.K.part`
/// (K = 2, 3, ...) when `taken` says a lower one is in use.
pub fn part_name(target: &Path, taken: impl Fn(&Path) -> bool) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let first = target.with_file_name(format!("{name}.part"));
    if !taken(&first) {
        return first;
    }
    (2..)
        .map(|k| target.with_file_name(format!("{name}.{k}.part")))
        .find(|p| !taken(p))
        .unwrap_or(first)
}

/// Whether `path` exists and is something other than a regular file or a
/// folder (a device, a pipe): such targets are written in place.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// `path`, with a symbolic link followed so that the link keeps pointing at
/// the new file.
fn resolve(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks, before any work starts, that `target` can be written: it is not a
/// folder, its folder exists or can be made, and a file can be created there.
/// Creates nothing that stays (a probe file is made and removed).
pub fn check_writable(target: &Path) -> Result<(), OutputError> {
    let target = resolve(target);
    let unwritable = |reason: String| OutputError::Unwritable {
        path: target.clone(),
        reason,
    };
    if target.as_os_str().is_empty() || target.file_name().is_none() {
        return Err(unwritable("not a file name".into()));
    }
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => return Err(unwritable("it is a folder".into())),
        Ok(m) if !m.is_file() => {
            return OpenOptions::new()
                .write(true)
                .open(&target)
                .map(drop)
                .map_err(|e| OutputError::io(&target, e));
        }
        _ => {}
    }
    // The nearest folder that exists: the file or its missing folders go there.
    let mut dir = parent_of(&target).to_path_buf();
    while !dir.exists() {
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
            _ => {
                dir = PathBuf::from(".");
                break;
            }
        }
    }
    if !dir.is_dir() {
        return Err(unwritable(format!("{} is not a folder", dir.display())));
    }
    let probe = temp_name(
        &dir.join("probe"),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
    );
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| OutputError::io(&target, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// A file being written for `target`. [`commit`](Self::commit) renames it
/// into place; dropping it uncommitted removes the temporary (a `.part`
/// recording is kept: see [`PendingFile::part`]).
#[derive(Debug)]
pub struct PendingFile {
    target: PathBuf,
    /// Where the bytes go; equal to `target` for a device.
    temp: PathBuf,
    file: Option<File>,
    keep_on_drop: bool,
}

impl PendingFile {
    fn open(target: &Path, temp: impl FnOnce(&Path) -> PathBuf) -> Result<Self, OutputError> {
        let target = resolve(target);
        if is_special(&target) {
            let file = OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(|e| OutputError::io(&target, e))?;
            return Ok(Self {
                temp: target.clone(),
                target,
                file: Some(file),
                keep_on_drop: true,
            });
        }
        if target.is_dir() {
            return Err(OutputError::Unwritable {
                path: target,
                reason: "it is a folder".into(),
            });
        }
        let dir = parent_of(&target);
        std::fs::create_dir_all(dir).map_err(|e| OutputError::io(&target, e))?;
        let temp = temp(&target);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| OutputError::io(&target, e))?;
        Ok(Self {
            target,
            temp,
            file: Some(file),
            keep_on_drop: false,
        })
    }

    /// Starts writing `target` through a hidden temporary in its folder
    /// (made if missing).
    pub fn create(target: &Path) -> Result<Self, OutputError> {
        Self::open(target, |t| {
            temp_name(
                t,
                std::process::id(),
                TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
            )
        })
    }

    /// Starts writing `target` through a visible `NAME.part` beside it that
    /// stays if the file is never committed (a crash, a failed recording).
    pub fn part(target: &Path) -> Result<Self, OutputError> {
        let mut pending = Self::open(target, |t| part_name(t, |p| p.exists()))?;
        pending.keep_on_drop = true;
        Ok(pending)
    }

    /// The file asked for.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Where the bytes are going until the commit.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Whether the target is written in place (a device or a pipe).
    pub fn is_direct(&self) -> bool {
        self.temp == self.target
    }

    /// The open file, to hand to a writer (it stays open in `self` too).
    pub fn try_clone_file(&self) -> Result<File, OutputError> {
        match &self.file {
            Some(f) => f.try_clone().map_err(|e| OutputError::io(&self.target, e)),
            None => Err(OutputError::Unwritable {
                path: self.target.clone(),
                reason: "already closed".into(),
            }),
        }
    }

    /// The open file.
    pub fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("the file is open until commit or drop")
    }

    /// Flushes the file to disk and renames it over the target.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        let file = self
            .file
            .take()
            .expect("the file is open until commit or drop");
        if self.is_direct() {
            drop(file);
            return Ok(self.target.clone());
        }
        let synced = file.sync_all();
        drop(file);
        synced
            .and_then(|()| std::fs::rename(&self.temp, &self.target))
            .map_err(|e| OutputError::io(&self.target, e))?;
        self.keep_on_drop = true;
        Ok(self.target.clone())
    }

    /// Gives up: removes the temporary (even a `.part`), leaving the target as it was.
    pub fn discard(mut self) {
        self.file.take();
        if !self.is_direct() {
            let _ = std::fs::remove_file(&self.temp);
        }
        self.keep_on_drop = true;
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        self.file.take();
        if !self.keep_on_drop {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes `target` whole or not at all: `write` fills a buffered temporary,
/// which replaces the target only if `write` and the flush succeed.
pub fn write_file<E>(
    target: &Path,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> Result<(), E>,
) -> Result<(), WriteError<E>> {
    let mut pending = PendingFile::create(target).map_err(WriteError::Output)?;
    let path = pending.target().to_path_buf();
    {
        let mut writer = BufWriter::new(pending.file());
        write(&mut writer).map_err(WriteError::Content)?;
        writer
            .flush()
            .map_err(|e| WriteError::Output(OutputError::io(&path, e)))?;
    }
    pending.commit().map_err(WriteError::Output)?;
    Ok(())
}

/// Writes `bytes` to `target` whole or not at all.
pub fn write_bytes(target: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_file(target, |w| w.write_all(bytes)).map_err(|e| match e {
        WriteError::Output(e) => e,
        WriteError::Content(source) => OutputError::io(target, source),
    })
}

/// A failure of [`write_file`]: of the file, or of the content's encoder.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    /// Creating, flushing or renaming the file failed.
    #[error(transparent)]
    Output(OutputError),
    /// The content could not be produced (an encoder error).
    #[error("{0}")]
    Content(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("samespace-output-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn temp_names_sit_beside_the_target_and_are_hidden() {
        let t = temp_name(Path::new("out/a.png"), 7, 3);
        assert_eq!(t, PathBuf::from("out/.a.png.7-3.tmp"));
    }

    #[test]
    fn part_names_skip_the_ones_taken() {
        let target = Path::new("r/demo.mp4");
        assert_eq!(
            part_name(target, |_| false),
            PathBuf::from("r/demo.mp4.part")
        );
        let taken = |p: &Path| p.ends_with("demo.mp4.part") || p.ends_with("demo.mp4.2.part");
        assert_eq!(part_name(target, taken), PathBuf::from("r/demo.mp4.3.part"));
    }

    #[test]
    fn a_failed_write_leaves_the_existing_file_untouched_and_no_temporary() {
        let dir = scratch("failed");
        let target = dir.join("keep.txt");
        std::fs::write(&target, b"precious").expect("seed");
        let result = write_file(&target, |w| {
            w.write_all(b"half of it")?;
            Err::<(), io::Error>(io::Error::other("encoder refused"))
        });
        assert!(matches!(result, Err(WriteError::Content(_))));
        assert_eq!(std::fs::read(&target).expect("read"), b"precious");
        assert_eq!(entries(&dir), vec!["keep.txt".to_string()]);
    }

    #[test]
    fn a_complete_write_replaces_the_file_and_makes_missing_folders() {
        let dir = scratch("complete");
        let target = dir.join("a/b/out.txt");
        write_bytes(&target, b"one").expect("write");
        write_bytes(&target, b"two").expect("rewrite");
        assert_eq!(std::fs::read(&target).expect("read"), b"two");
        assert_eq!(entries(&dir.join("a/b")), vec!["out.txt".to_string()]);
    }

    #[test]
    fn a_part_file_stays_when_not_committed_and_is_renamed_when_committed() {
        let dir = scratch("part");
        let target = dir.join("r.mp4");
        std::fs::write(&target, b"old recording").expect("seed");
        let mut pending = PendingFile::part(&target).expect("part");
        pending.file().write_all(b"new").expect("write");
        drop(pending);
        assert_eq!(std::fs::read(&target).expect("read"), b"old recording");
        assert_eq!(std::fs::read(dir.join("r.mp4.part")).expect("part"), b"new");
        let mut second = PendingFile::part(&target).expect("second part");
        assert_eq!(second.temp_path(), dir.join("r.mp4.2.part"));
        second.file().write_all(b"newer").expect("write");
        second.commit().expect("commit");
        assert_eq!(std::fs::read(&target).expect("read"), b"newer");
    }

    #[test]
    fn writability_is_checked_without_leaving_anything_behind() {
        let dir = scratch("check");
        check_writable(&dir.join("new/deeper/out.mp4")).expect("a missing folder can be made");
        assert!(!dir.join("new").exists(), "the check made no folder");
        check_writable(&dir.join("out.png")).expect("writable");
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        std::fs::write(dir.join("file"), b"x").expect("seed");
        let under_a_file = check_writable(&dir.join("file/out.mp4")).expect_err("refused");
        assert!(
            under_a_file.to_string().contains("not a folder"),
            "{under_a_file}"
        );
        let folder = check_writable(&dir).expect_err("a folder is refused");
        assert!(folder.to_string().contains("folder"), "{folder}");
        check_writable(Path::new("/dev/null")).expect("a device is written in place");
    }

    #[test]
    fn a_device_is_written_in_place() {
        let pending = PendingFile::create(Path::new("/dev/null")).expect("open");
        assert!(pending.is_direct());
        pending.commit().expect("nothing to rename");
        assert!(Path::new("/dev/null").exists());
    }
}
