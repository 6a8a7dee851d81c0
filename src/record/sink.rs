//! [`RecordSink`]: where the MP4 bytes go. A `File` in the app; anything that can
//! `Write` in tests (for example a writer that fails after N bytes).

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

/// A byte destination for a recording. Besides appending, a sink may support
/// patching header fields in place and cutting a half-written fragment off after
/// a failed write; both default to doing nothing (the file stays playable
/// either way, just without a header duration or with a truncated last box).
pub trait RecordSink: Write + Send {
    /// Overwrites `bytes` at `offset` without changing the append position.
    fn patch(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let _ = (offset, bytes);
        Ok(())
    }

    /// Cuts the destination back to `len` bytes and appends from there.
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let _ = len;
        Ok(())
    }
}

impl RecordSink for File {
    fn patch(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let end = self.stream_position()?;
        self.seek(SeekFrom::Start(offset))?;
        let result = self.write_all(bytes);
        self.seek(SeekFrom::Start(end))?;
        result
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len))?;
        Ok(())
    }
}

/// An in-memory sink (for tests and benchmarks) that supports patch and truncate.
impl RecordSink for io::Cursor<Vec<u8>> {
    fn patch(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let buf = self.get_mut();
        let end = start + bytes.len();
        if end > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "patch past the end",
            ));
        }
        buf[start..end].copy_from_slice(bytes);
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let len_usize = usize::try_from(len).map_err(io::Error::other)?;
        self.get_mut().truncate(len_usize);
        self.set_position(len);
        Ok(())
    }
}

/// A sink that takes `limit` bytes into shared memory and then fails like a full
/// disk (`StorageFull`), for tests of the write-failure path.
pub struct FullAfter {
    /// What was written so far.
    pub data: Arc<Mutex<Vec<u8>>>,
    /// Bytes accepted before every write fails.
    pub limit: usize,
}

impl Write for FullAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut data = self.data.lock().map_err(|_| io::Error::other("poisoned"))?;
        let room = self.limit.saturating_sub(data.len());
        if room == 0 {
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        let n = room.min(buf.len());
        data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl RecordSink for FullAfter {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut data = self.data.lock().map_err(|_| io::Error::other("poisoned"))?;
        data.truncate(len as usize);
        Ok(())
    }
}
