//! Reading a snapshot into private memory while hashing it, on every core.
//!
//! A verifier must not answer from bytes another process can change after the signature was
//! checked, so a snapshot is copied into private anonymous memory and hashed as it is copied
//! (docs/FORMAT.md §4.6). What bounds the speed is the kernel handing out fresh pages (measured
//! here at 1.2-1.3 GB/s on one core for a 1.6 GB file), so the copy runs on several threads, each
//! filling and hashing its own part: BLAKE3 is a tree, and parts that are whole subtrees are
//! hashed independently and merged ([`blake3::hazmat`]); the result equals `blake3::hash` of the
//! whole (a property test holds this for lengths around every boundary).
//!
//! Threads are scoped: none outlives the call (a bank's process keeps no pool of ours).

use std::fs::File;
use std::os::unix::fs::FileExt;

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, left_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};

/// Bytes read per call, then hashed while they are still in the core's cache (measured at 10 M
/// cards, medians of 15 opens: 8 MiB 4.25-4.33 GB/s, 1 MiB 4.55-4.93, 256 KiB 4.72-4.78).
const COPY_CHUNK: usize = 1 << 20;
/// The smallest part a thread copies and hashes.
const MIN_PIECE: usize = 8 << 20;
/// Below this a file is copied on one thread (spawning costs more than it saves).
const PARALLEL_FROM: usize = 64 << 20;

/// Read `file[offset..offset + dst.len()]` into `dst`, feeding `hasher` (if any) as it comes.
fn read_into(
    file: &File,
    dst: &mut [u8],
    offset: u64,
    mut hasher: Option<&mut blake3::Hasher>,
) -> std::io::Result<()> {
    let mut at = 0;
    while at < dst.len() {
        let end = (at + COPY_CHUNK).min(dst.len());
        file.read_exact_at(&mut dst[at..end], offset + at as u64)?;
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&dst[at..end]);
        }
        at = end;
    }
    Ok(())
}

/// A part of the input the tree hash splits between threads: bytes being read from a file into
/// memory, or bytes already in memory.
trait Part: Send + Sized {
    fn len(&self) -> usize;
    fn split_at(self, at: usize) -> (Self, Self);
    /// Feed the part (at `offset` in the whole) to `h`, reading it in first if it is a file's.
    fn feed(self, offset: u64, h: &mut blake3::Hasher) -> std::io::Result<()>;
}

/// `file[offset..]` to be read into `dst`.
struct FromFile<'a> {
    file: &'a File,
    dst: &'a mut [u8],
}

impl Part for FromFile<'_> {
    fn len(&self) -> usize {
        self.dst.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let (a, b) = self.dst.split_at_mut(at);
        let file = self.file;
        (FromFile { file, dst: a }, FromFile { file, dst: b })
    }
    fn feed(self, offset: u64, h: &mut blake3::Hasher) -> std::io::Result<()> {
        read_into(self.file, self.dst, offset, Some(h))
    }
}

impl Part for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        <[u8]>::split_at(self, at)
    }
    fn feed(self, _: u64, h: &mut blake3::Hasher) -> std::io::Result<()> {
        h.update(self);
        Ok(())
    }
}

/// Hash (and, for a file, copy) a whole subtree starting at `offset` (a multiple of its size,
/// as BLAKE3's tree requires), splitting it until the parts are at most `piece` bytes.
fn subtree(part: impl Part, offset: u64, piece: usize) -> std::io::Result<ChainingValue> {
    if part.len() <= piece {
        let mut h = blake3::Hasher::new();
        h.set_input_offset(offset);
        part.feed(offset, &mut h)?;
        return Ok(h.finalize_non_root());
    }
    let (left, right) = split(part, offset, piece)?;
    Ok(merge_subtrees_non_root(&left, &right, Mode::Hash))
}

/// The two children of the subtree `part` (at `offset`): the right one on a new thread.
fn split(
    part: impl Part,
    offset: u64,
    piece: usize,
) -> std::io::Result<(ChainingValue, ChainingValue)> {
    let l = left_subtree_len(part.len() as u64) as usize;
    let (a, b) = part.split_at(l);
    std::thread::scope(|s| {
        let right = s.spawn(|| subtree(b, offset + l as u64, piece));
        let left = subtree(a, offset, piece);
        let right = right
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("a hashing thread panicked")));
        Ok((left?, right?))
    })
}

/// Read the first `dst.len()` bytes of `file` into `dst`; with `hash`, also return their BLAKE3
/// hash. Large files are copied and hashed on up to `threads` threads.
pub(crate) fn read_hashed(
    file: &File,
    dst: &mut [u8],
    hash: bool,
    threads: usize,
) -> std::io::Result<Option<[u8; 32]>> {
    if threads <= 1 || dst.len() < PARALLEL_FROM.max(2 * blake3::CHUNK_LEN) {
        if !hash {
            read_into(file, dst, 0, None)?;
            return Ok(None);
        }
        let mut h = blake3::Hasher::new();
        read_into(file, dst, 0, Some(&mut h))?;
        return Ok(Some(*h.finalize().as_bytes()));
    }
    // Parts of at most a half of a thread's share, so the uneven subtrees of BLAKE3's tree still
    // keep every thread busy.
    let piece = dst.len().div_ceil(2 * threads).max(MIN_PIECE);
    let (left, right) = split(FromFile { file, dst }, 0, piece)?;
    Ok(hash.then(|| *merge_subtrees_root(&left, &right, Mode::Hash).as_bytes()))
}

/// BLAKE3 of bytes already in memory, on up to `threads` threads: the same tree split as
/// [`read_hashed`] (a builder hashes the snapshot it wrote before signing it).
pub(crate) fn hash_bytes(bytes: &[u8], threads: usize) -> std::io::Result<[u8; 32]> {
    if threads <= 1 || bytes.len() < PARALLEL_FROM {
        return Ok(*blake3::hash(bytes).as_bytes());
    }
    let piece = bytes.len().div_ceil(2 * threads).max(MIN_PIECE);
    let (l, r) = split(bytes, 0, piece)?;
    Ok(*merge_subtrees_root(&l, &r, Mode::Hash).as_bytes())
}

/// Threads to copy with: the cores, at most 8.
pub(crate) fn copy_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        let file = File::open(f.path()).unwrap();
        (f, file)
    }

    /// The parallel tree hash against `blake3::hash` (the model), with the parallel path forced
    /// on small inputs through a small piece size.
    fn check(len: usize, threads: usize) {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let (_keep, file) = file_of(&bytes);
        let mut dst = vec![0u8; len];
        let got = if len >= 2 * blake3::CHUNK_LEN {
            let piece = len.div_ceil(2 * threads).max(blake3::CHUNK_LEN);
            let (l, r) = split(
                FromFile {
                    file: &file,
                    dst: &mut dst,
                },
                0,
                piece,
            )
            .unwrap();
            *merge_subtrees_root(&l, &r, Mode::Hash).as_bytes()
        } else {
            read_hashed(&file, &mut dst, true, threads)
                .unwrap()
                .unwrap()
        };
        assert_eq!(&got, blake3::hash(&bytes).as_bytes(), "len {len}");
        assert_eq!(dst, bytes);
    }

    #[test]
    fn the_tree_hash_of_bytes_in_memory_equals_blake3() {
        for len in [2048usize, 2049, 5000, 65_537, 300_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let piece = len.div_ceil(4).max(blake3::CHUNK_LEN);
            let (l, r) = split(&bytes[..], 0, piece).unwrap();
            assert_eq!(
                merge_subtrees_root(&l, &r, Mode::Hash).as_bytes(),
                blake3::hash(&bytes).as_bytes(),
                "len {len}"
            );
        }
        let big: Vec<u8> = (0..PARALLEL_FROM + 4097).map(|i| (i % 241) as u8).collect();
        assert_eq!(&hash_bytes(&big, 3).unwrap(), blake3::hash(&big).as_bytes());
    }

    #[test]
    fn the_tree_hash_equals_blake3_around_every_boundary() {
        for len in [
            0, 1, 1023, 1024, 1025, 2047, 2048, 2049, 4096, 5000, 65_536, 65_537, 300_000,
        ] {
            for threads in [2, 3, 8] {
                check(len, threads);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_tree_hash_equals_blake3(len in 0usize..200_000, threads in 2usize..9) {
            check(len, threads);
        }
    }

    #[test]
    fn a_large_file_is_copied_on_several_threads_and_hashed_the_same() {
        let len = PARALLEL_FROM + 12_345;
        let bytes: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        let (_keep, file) = file_of(&bytes);
        let mut dst = vec![0u8; len];
        let got = read_hashed(&file, &mut dst, true, 4).unwrap().unwrap();
        assert_eq!(&got, blake3::hash(&bytes).as_bytes());
        assert!(dst == bytes);
        let mut dst = vec![0u8; len];
        assert_eq!(read_hashed(&file, &mut dst, false, 4).unwrap(), None);
        assert!(dst == bytes);
    }

    #[test]
    fn a_short_file_is_an_error() {
        let (_keep, file) = file_of(&[1, 2, 3]);
        let mut dst = vec![0u8; PARALLEL_FROM + 1];
        assert!(read_hashed(&file, &mut dst, true, 4).is_err());
    }
}
