//! Fixed-size records appended to an unnamed temporary file and read back in order, as often as
//! needed: how a snapshot builder keeps national-scale input out of memory (docs/FORMAT.md §4.3,
//! "Building in bounded memory").

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes buffered before a write, and read at a time.
const CHUNK: usize = 1 << 20;

/// Records of `R` bytes in an unnamed temporary file (deleted when dropped, or when the process
/// dies), with the last partial chunk kept in memory. Reading takes `&self` and positioned reads,
/// so several threads can read at once.
pub(crate) struct SpillFile<const R: usize> {
    file: File,
    dir: PathBuf,
    /// Records written to the file (whole chunks).
    flushed: u64,
    /// Records not yet written.
    tail: Vec<u8>,
    /// The first write error: reported when the records are read.
    error: Option<io::Error>,
}

impl<const R: usize> SpillFile<R> {
    /// An empty spill file in `dir`.
    pub(crate) fn new(dir: &Path) -> io::Result<Self> {
        Ok(SpillFile {
            file: tempfile::tempfile_in(dir)?,
            dir: dir.to_path_buf(),
            flushed: 0,
            tail: Vec::with_capacity(CHUNK),
            error: None,
        })
    }

    /// The directory the file is in (for errors).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of records.
    pub(crate) fn len(&self) -> u64 {
        self.flushed + (self.tail.len() / R) as u64
    }

    /// Append a record. A write error is kept and returned by every later read.
    pub(crate) fn push(&mut self, record: [u8; R]) {
        self.tail.extend_from_slice(&record);
        if self.tail.len() + R > CHUNK {
            if self.error.is_none()
                && let Err(e) = self.file.write_all_at(&self.tail, self.flushed * R as u64)
            {
                self.error = Some(e);
            }
            self.flushed += (self.tail.len() / R) as u64;
            self.tail.clear();
        }
    }

    fn check(&self) -> io::Result<()> {
        match &self.error {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    /// Call `f` with each chunk of whole records in order, with the index of its first record.
    pub(crate) fn for_each_chunk(&self, mut f: impl FnMut(u64, &[u8])) -> io::Result<()> {
        self.check()?;
        let per_chunk = (CHUNK / R) as u64;
        let mut buf = vec![0u8; per_chunk as usize * R];
        let mut at = 0u64;
        while at < self.flushed {
            let n = per_chunk.min(self.flushed - at) as usize;
            self.file.read_exact_at(&mut buf[..n * R], at * R as u64)?;
            f(at, &buf[..n * R]);
            at += n as u64;
        }
        if !self.tail.is_empty() {
            f(self.flushed, &self.tail);
        }
        Ok(())
    }

    /// Call `f` with each record in order, with its index.
    pub(crate) fn for_each(&self, mut f: impl FnMut(u64, &[u8; R])) -> io::Result<()> {
        self.for_each_chunk(|first, chunk| {
            for (j, r) in chunk.chunks_exact(R).enumerate() {
                f(first + j as u64, r.try_into().expect("R bytes"));
            }
        })
    }

    /// The record at `index`.
    pub(crate) fn get(&self, index: u64) -> io::Result<[u8; R]> {
        self.check()?;
        let mut r = [0u8; R];
        if index < self.flushed {
            self.file.read_exact_at(&mut r, index * R as u64)?;
        } else {
            let at = (index - self.flushed) as usize * R;
            let Some(bytes) = self.tail.get(at..at + R) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("record {index} of {}", self.len()),
                ));
            };
            r.copy_from_slice(bytes);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SpillFile::<12>::new(dir.path()).unwrap();
        let n = 3 * CHUNK / 12 + 17;
        for i in 0..n as u64 {
            let mut r = [0u8; 12];
            r[..8].copy_from_slice(&i.to_le_bytes());
            r[8..].copy_from_slice(&((i * 7) as u32).to_le_bytes());
            s.push(r);
        }
        assert_eq!(s.len(), n as u64);
        let mut seen = 0u64;
        s.for_each(|i, r| {
            assert_eq!(i, seen);
            assert_eq!(u64::from_le_bytes(r[..8].try_into().unwrap()), i);
            assert_eq!(
                u32::from_le_bytes(r[8..].try_into().unwrap()),
                (i * 7) as u32
            );
            seen += 1;
        })
        .unwrap();
        assert_eq!(seen, n as u64);
        for i in [0u64, 1, (CHUNK / 12) as u64, n as u64 - 1] {
            assert_eq!(
                u64::from_le_bytes(s.get(i).unwrap()[..8].try_into().unwrap()),
                i
            );
        }
        assert!(s.get(n as u64).is_err());
        // Nothing is left in the directory: the file has no name.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
