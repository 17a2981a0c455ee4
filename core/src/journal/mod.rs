//! The append-only journal: every accepted command becomes a record here, durable before the
//! command is acknowledged (requirements S1-S2: every action attributable and kept; the brief:
//! nothing acknowledged is ever lost).
//!
//! A journal is a directory of segment files `{first_seq:020}.log`. A segment (format 2) is a
//! 64-byte header, then frames (`docs/FORMAT.md` §7): `u32` length, `u64` xxh3-64 of the body,
//! body = `u64` sequence number + the chain hash + payload. Sequence numbers start at 1 and
//! increase by one across segments.
//!
//! - **A hash chain.** Every record carries the chain hash after it,
//!   `chain(n) = BLAKE3("idcard-journal-chain-v1\0" ‖ chain(n-1) ‖ n ‖ payload(n))` from 32 zero
//!   bytes ([`chain_next`]); a segment's header carries the chain before its first record. An
//!   edit of a record after the fact, even with its checksum recomputed, no longer fits the
//!   chain ([`JournalError::ChainBroken`]); an edit that recomputes the chain to the end no
//!   longer fits a signed head ([`head`]) anyone holds. Segments of format 1 (no header, no
//!   chain in the frames) are still read: their records' chain is computed as they are read.
//!
//! - **Group commit.** [`Journal::enqueue`] assigns the next sequence number and buffers the frame;
//!   [`Journal::wait_durable`] returns once the frame is written and `fdatasync`ed. Concurrent
//!   writers share one sync: the first waiter becomes the leader and syncs everything buffered,
//!   the others wait for it.
//! - **Recovery.** Opening checks every frame of the last segment: a torn last frame (cut short,
//!   or failing its checksum with nothing valid after it) is cut off and reported in
//!   [`Recovery`]; a bad frame anywhere else is [`JournalError::Corrupt`] naming the segment and
//!   offset, never skipped. Older segments are checked when read.
//! - **Failure.** After a write or sync error the journal refuses further appends (what is in
//!   memory may not be on disk): reopen it.
//!
//! ```
//! use idcard::journal::{Journal, JournalOptions};
//! let dir = tempfile::tempdir()?;
//! let (j, _) = Journal::open(dir.path(), JournalOptions::default())?;
//! let seq = j.enqueue(b"hello")?;
//! j.wait_durable(seq)?;
//! drop(j);
//! let (j, recovery) = Journal::open(dir.path(), JournalOptions::default())?;
//! assert_eq!(recovery.last_seq, 1);
//! let records: Vec<_> = j.read_from(1)?.collect::<Result<_, _>>()?;
//! assert_eq!(records, vec![(1, b"hello".to_vec())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use xxhash_rust::xxh3::xxh3_64;

pub mod head;

/// Bytes before a frame's body: length and checksum.
const FRAME_HEAD: usize = 12;
/// Largest payload accepted (a record is small; bulk imports are batched below this).
pub const MAX_BODY: usize = 64 << 20;
/// A format-2 segment's header: magic, first sequence number, the chain before it, reserved,
/// checksum.
const SEG_HEAD: usize = 64;
const SEG_MAGIC: [u8; 8] = *b"IDCJSEG2";

/// A chain hash (see the module documentation).
pub type Chain = [u8; 32];

/// The chain before the first record.
pub const GENESIS: Chain = [0; 32];

/// The chain hash after record `seq` with `payload`, following `prev`.
pub fn chain_next(prev: &Chain, seq: u64, payload: &[u8]) -> Chain {
    let mut h = blake3::Hasher::new();
    h.update(b"idcard-journal-chain-v1\0");
    h.update(prev);
    h.update(&seq.to_le_bytes());
    h.update(payload);
    *h.finalize().as_bytes()
}

/// A chain hash as hex, for people.
pub fn chain_hex(c: &Chain) -> String {
    c.iter().map(|b| format!("{b:02x}")).collect()
}

/// A segment's frame format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// No header; body = sequence number + payload.
    V1,
    /// A header; body = sequence number + chain hash + payload.
    V2,
}

impl Format {
    fn body_prefix(self) -> usize {
        match self {
            Format::V1 => 8,
            Format::V2 => 8 + 32,
        }
    }
}

/// A format-2 segment header.
fn encode_seg_header(first_seq: u64, prev: &Chain) -> [u8; SEG_HEAD] {
    let mut h = [0u8; SEG_HEAD];
    h[..8].copy_from_slice(&SEG_MAGIC);
    h[8..16].copy_from_slice(&first_seq.to_le_bytes());
    h[16..48].copy_from_slice(prev);
    let sum = xxh3_64(&h[..56]);
    h[56..64].copy_from_slice(&sum.to_le_bytes());
    h
}

/// The format of a segment from its first bytes, and for format 2 its header (first sequence
/// number, chain before it), or what is wrong with the header.
fn parse_seg_header(bytes: &[u8]) -> Result<(Format, Option<(u64, Chain)>), String> {
    if bytes.len() < 8 || bytes[..8] != SEG_MAGIC {
        return Ok((Format::V1, None));
    }
    if bytes.len() < SEG_HEAD {
        return Err("segment header cut short".into());
    }
    let sum = u64::from_le_bytes(bytes[56..64].try_into().expect("8"));
    if xxh3_64(&bytes[..56]) != sum {
        return Err("segment header checksum mismatch".into());
    }
    if bytes[48..56] != [0; 8] {
        return Err("segment header reserved bytes are not zero".into());
    }
    let first = u64::from_le_bytes(bytes[8..16].try_into().expect("8"));
    let prev: Chain = bytes[16..48].try_into().expect("32");
    Ok((Format::V2, Some((first, prev))))
}

/// Errors of the journal. Corruption names the segment file and byte offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// An I/O error.
    #[error("journal {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A damaged frame that is not a torn tail.
    #[error("journal segment {segment} is corrupt at byte {offset}: {what}")]
    Corrupt {
        /// The segment file.
        segment: String,
        /// Byte offset of the frame.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A record that does not fit the hash chain: edited after it was written (its checksum
    /// may have been recomputed), or a segment that does not continue the one before.
    #[error(
        "journal segment {segment}: record {seq} at byte {offset} does not fit the hash chain ({what}): the journal was changed after it was written"
    )]
    ChainBroken {
        /// The segment file.
        segment: String,
        /// Byte offset of the frame (or 0 for the segment's header).
        offset: u64,
        /// The record's sequence number.
        seq: u64,
        /// What does not fit.
        what: String,
    },
    /// A write or sync failed earlier: what is in memory may not be on disk.
    #[error("the journal failed earlier ({0}) and accepts nothing more; reopen it")]
    Failed(String),
    /// A payload too large for one frame.
    #[error("record of {0} bytes exceeds the {MAX_BODY}-byte limit")]
    TooLarge(usize),
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Options of a journal.
#[derive(Clone, Copy, Debug)]
pub struct JournalOptions {
    /// Start a new segment once the current one holds this many bytes.
    pub segment_bytes: u64,
    /// `fdatasync` before acknowledging (the default). Turning it off keeps durability only
    /// against process crashes, not power loss: for tests and throwaway data.
    pub sync: bool,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            segment_bytes: 64 << 20,
            sync: true,
        }
    }
}

/// What opening found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recovery {
    /// Segment files.
    pub segments: usize,
    /// The last durable sequence number (0: empty journal).
    pub last_seq: u64,
    /// Frames checked at open (those of the last segment).
    pub frames_checked: u64,
    /// A torn tail that was cut off.
    pub truncated: Option<TornTail>,
}

/// A torn last frame, cut off at open.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TornTail {
    /// The segment file.
    pub segment: String,
    /// Where the torn frame started (the new end of the file).
    pub offset: u64,
    /// Bytes cut.
    pub bytes: u64,
}

struct Segment {
    file: File,
    path: PathBuf,
    len: u64,
}

struct Inner {
    next_seq: u64,
    pending: Vec<u8>,
    pending_last: u64,
    /// The chain after `pending_last`.
    chain: Chain,
    durable: u64,
    /// The chain after `durable`.
    durable_chain: Chain,
    syncing: bool,
    failed: Option<String>,
}

/// See the module documentation. `Send + Sync`: share it between writer threads.
pub struct Journal {
    dir: PathBuf,
    options: JournalOptions,
    inner: Mutex<Inner>,
    synced: Condvar,
    /// Held by the one leader writing and syncing a batch.
    segment: Mutex<Segment>,
    /// Where some records start (sequence, segment, byte offset): one at least every
    /// [`MARK_EVERY`] bytes written by this process, so readers seek instead of scanning a
    /// segment from its start.
    marks: Mutex<Vec<(u64, PathBuf, u64)>>,
}

/// Bytes between two read marks.
const MARK_EVERY: u64 = 1 << 20;

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("dir", &self.dir).finish()
    }
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.log")
}

/// Segment files of a directory, by first sequence number.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".log")
            && stem.len() == 20
            && let Ok(seq) = stem.parse::<u64>()
        {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// One frame parsed from a segment's bytes at `at`.
enum Parsed<'a> {
    Frame {
        seq: u64,
        /// The chain hash stored in the frame (format 2).
        chain: Option<Chain>,
        payload: &'a [u8],
        next: usize,
    },
    /// The bytes end inside the frame.
    Short,
    /// Damaged: the message says how.
    Bad(String),
}

fn parse_frame(bytes: &[u8], at: usize, format: Format) -> Parsed<'_> {
    let rest = &bytes[at..];
    if rest.len() < FRAME_HEAD {
        return Parsed::Short;
    }
    let len = u32::from_le_bytes(rest[0..4].try_into().expect("4")) as usize;
    let sum = u64::from_le_bytes(rest[4..12].try_into().expect("8"));
    let prefix = format.body_prefix();
    if !(prefix..=MAX_BODY + prefix).contains(&len) {
        return Parsed::Bad(format!("frame length {len} is out of range"));
    }
    let Some(body) = rest.get(FRAME_HEAD..FRAME_HEAD + len) else {
        return Parsed::Short;
    };
    if xxh3_64(body) != sum {
        return Parsed::Bad("checksum mismatch".into());
    }
    let seq = u64::from_le_bytes(body[0..8].try_into().expect("8"));
    let chain = (format == Format::V2).then(|| body[8..40].try_into().expect("32"));
    Parsed::Frame {
        seq,
        chain,
        payload: &body[prefix..],
        next: at + FRAME_HEAD + len,
    }
}

/// What [`scan`] found in a segment.
struct Scan {
    format: Format,
    /// The last good sequence number (`first_seq - 1` when there is none).
    last: u64,
    /// The end of the last good frame.
    end: usize,
    frames: u64,
    /// The chain after the last good frame (format 2: from the header on; format 1: `None`).
    chain: Option<Chain>,
    /// A damaged or short frame at `offset`: `(offset, what, is_tail, broken_chain_seq)`.
    problem: Option<(usize, String, bool, Option<u64>)>,
}

/// Check a segment's frames, expecting sequence `first_seq` first. A damaged or short frame is
/// returned in [`Scan::problem`], with whether it is a torn tail.
///
/// `is_tail` tells a torn write from damage: a crash can leave anything after the last synced
/// frame (a short frame, garbage, zeros, pages of a later write), but nothing after it was ever
/// acknowledged, and before it everything was synced. So a bad frame is a torn tail exactly when
/// no valid frame continuing the sequence starts anywhere after it; if one does, the bad frame
/// is damage inside acknowledged data. (A damaged last frame cannot be told from a torn one and
/// is cut: see docs/FORMAT.md §7.) A frame whose checksum holds but whose chain hash does not
/// follow is never a tail: it was written whole, then changed.
fn scan(bytes: &[u8], first_seq: u64) -> Scan {
    let (format, header) = match parse_seg_header(bytes) {
        Ok(h) => h,
        Err(what) => {
            // Headers are written whole (a new segment is renamed into place), so a short one
            // was cut afterwards: it holds no record, and is cut like a torn tail (the header is
            // written again). A whole header that is damaged is not a tail.
            let is_tail = bytes.len() < SEG_HEAD;
            return Scan {
                format: Format::V2,
                last: first_seq - 1,
                end: 0,
                frames: 0,
                chain: None,
                problem: Some((0, what, is_tail, None)),
            };
        }
    };
    let mut chain = None;
    let mut at = 0;
    if let Some((first, prev)) = header {
        if first != first_seq {
            return Scan {
                format,
                last: first_seq - 1,
                end: 0,
                frames: 0,
                chain: None,
                problem: Some((
                    0,
                    format!("the header says the segment starts at {first}, its name {first_seq}"),
                    false,
                    None,
                )),
            };
        }
        chain = Some(prev);
        at = SEG_HEAD;
    }
    let mut expected = first_seq;
    let mut frames = 0;
    while at < bytes.len() {
        let what = match parse_frame(bytes, at, format) {
            Parsed::Frame {
                seq,
                chain: stored,
                payload,
                next,
            } => {
                if seq != expected {
                    return Scan {
                        format,
                        last: expected - 1,
                        end: at,
                        frames,
                        chain,
                        problem: Some((
                            at,
                            format!("sequence {seq} where {expected} was expected"),
                            false,
                            None,
                        )),
                    };
                }
                if let (Some(prev), Some(stored)) = (chain, stored) {
                    if chain_next(&prev, seq, payload) != stored {
                        return Scan {
                            format,
                            last: expected - 1,
                            end: at,
                            frames,
                            chain,
                            problem: Some((
                                at,
                                "its chain hash is not the hash of the one before and its content"
                                    .into(),
                                false,
                                Some(seq),
                            )),
                        };
                    }
                    chain = Some(stored);
                }
                expected += 1;
                frames += 1;
                at = next;
                continue;
            }
            Parsed::Short => "frame cut short".to_string(),
            Parsed::Bad(what) => what,
        };
        let later_valid = (at + 1..bytes.len()).any(|p| {
            matches!(parse_frame(bytes, p, format), Parsed::Frame { seq, .. } if seq >= expected && seq < expected + (1 << 32))
        });
        return Scan {
            format,
            last: expected - 1,
            end: at,
            frames,
            chain,
            problem: Some((at, what, !later_valid, None)),
        };
    }
    Scan {
        format,
        last: expected - 1,
        end: at,
        frames,
        chain,
        problem: None,
    }
}

/// Create a format-2 segment holding only its header, atomically (written to a temporary file,
/// synced, renamed into place, the directory synced): a segment file always has a whole header.
fn create_segment(dir: &Path, first_seq: u64, prev: &Chain) -> Result<Segment, JournalError> {
    let path = dir.join(segment_name(first_seq));
    let tmp = dir.join(format!("{}.tmp", segment_name(first_seq)));
    {
        let mut f = private_file(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&encode_seg_header(first_seq, prev))
            .and_then(|_| f.sync_all())
            .map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    crate::fsutil::sync_dir(dir).map_err(io_err(dir))?;
    let file = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(io_err(&path))?;
    Ok(Segment {
        file,
        path,
        len: SEG_HEAD as u64,
    })
}

/// A new file readable and writable by its owner only (S2: the journal holds personal data).
fn private_file(path: &Path) -> std::io::Result<File> {
    crate::fsutil::private_file(path)
}

impl Journal {
    /// Open (or create) the journal in `dir`, recovering a torn tail. A journal whose last
    /// segment is of format 1 gets a new format-2 segment for what is appended next (its
    /// records' chain is computed once, by reading them).
    pub fn open(
        dir: impl AsRef<Path>,
        options: JournalOptions,
    ) -> Result<(Journal, Recovery), JournalError> {
        let dir = dir.as_ref().to_path_buf();
        crate::fsutil::create_private_dir(&dir).map_err(io_err(&dir))?;
        let segments = list_segments(&dir)?;
        let mut recovery = Recovery {
            segments: segments.len(),
            ..Default::default()
        };
        let (segment, chain) = match segments.last() {
            None => {
                recovery.segments = 1;
                (create_segment(&dir, 1, &GENESIS)?, GENESIS)
            }
            Some((first_seq, path)) => {
                let mut bytes = Vec::new();
                File::open(path)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
                    .map_err(io_err(path))?;
                let scanned = scan(&bytes, *first_seq);
                recovery.frames_checked = scanned.frames;
                recovery.last_seq = scanned.last;
                if let Some((offset, what, is_tail, broken)) = scanned.problem {
                    if let Some(seq) = broken {
                        return Err(JournalError::ChainBroken {
                            segment: path.display().to_string(),
                            offset: offset as u64,
                            seq,
                            what,
                        });
                    }
                    if !is_tail {
                        return Err(JournalError::Corrupt {
                            segment: path.display().to_string(),
                            offset: offset as u64,
                            what,
                        });
                    }
                    let file = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(io_err(path))?;
                    file.set_len(scanned.end as u64).map_err(io_err(path))?;
                    file.sync_all().map_err(io_err(path))?;
                    recovery.truncated = Some(TornTail {
                        segment: path.display().to_string(),
                        offset: scanned.end as u64,
                        bytes: (bytes.len() - scanned.end) as u64,
                    });
                }
                match (scanned.format, scanned.chain) {
                    (Format::V2, Some(chain)) => {
                        let mut file = OpenOptions::new()
                            .append(true)
                            .open(path)
                            .map_err(io_err(path))?;
                        // Records written by a process killed before its fsync may still be
                        // only in the page cache: they count as durable from here (a store may
                        // be written from them), so they are made so.
                        file.sync_all().map_err(io_err(path))?;
                        let len = file.seek(SeekFrom::End(0)).map_err(io_err(path))?;
                        (
                            Segment {
                                file,
                                path: path.clone(),
                                len,
                            },
                            chain,
                        )
                    }
                    _ => {
                        // Format 1: the chain over everything so far, then a format-2 segment
                        // (replacing the last one if it is empty: it holds nothing).
                        let chain = chain_from_start(&dir)?;
                        let next = recovery.last_seq + 1;
                        recovery.segments += usize::from(next != *first_seq);
                        (create_segment(&dir, next, &chain)?, chain)
                    }
                }
            }
        };
        // An empty last segment (a rotation, then a crash) starts right after the previous
        // one's end: `scan` returns `first_seq - 1` for it.
        let next_seq = recovery.last_seq + 1;
        let journal = Journal {
            dir,
            options,
            inner: Mutex::new(Inner {
                next_seq,
                pending: Vec::new(),
                pending_last: recovery.last_seq,
                chain,
                durable: recovery.last_seq,
                durable_chain: chain,
                syncing: false,
                failed: None,
            }),
            synced: Condvar::new(),
            segment: Mutex::new(segment),
            marks: Mutex::new(Vec::new()),
        };
        Ok((journal, recovery))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }

    /// The last durable sequence number.
    pub fn durable_seq(&self) -> u64 {
        self.lock().durable
    }

    /// The last record enqueued and the chain hash after it (`(0, GENESIS)` for an empty
    /// journal). Once [`Journal::wait_durable`] has returned for it, it is the durable head.
    pub fn last(&self) -> (u64, Chain) {
        let inner = self.lock();
        (inner.pending_last, inner.chain)
    }

    /// Buffer a record and return its sequence number. Not durable until
    /// [`Journal::wait_durable`] returns for it. Records are numbered, and chained, in the order
    /// of the calls.
    pub fn enqueue(&self, payload: &[u8]) -> Result<u64, JournalError> {
        if payload.len() > MAX_BODY {
            return Err(JournalError::TooLarge(payload.len()));
        }
        let mut inner = self.lock();
        if let Some(f) = &inner.failed {
            return Err(JournalError::Failed(f.clone()));
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let chain = chain_next(&inner.chain, seq, payload);
        let len = (payload.len() + Format::V2.body_prefix()) as u32;
        let start = inner.pending.len();
        inner.pending.extend_from_slice(&len.to_le_bytes());
        inner.pending.extend_from_slice(&[0; 8]);
        inner.pending.extend_from_slice(&seq.to_le_bytes());
        inner.pending.extend_from_slice(&chain);
        inner.pending.extend_from_slice(payload);
        let sum = xxh3_64(&inner.pending[start + FRAME_HEAD..]);
        inner.pending[start + 4..start + 12].copy_from_slice(&sum.to_le_bytes());
        inner.pending_last = seq;
        inner.chain = chain;
        Ok(seq)
    }

    /// Block until record `seq` is durable (written and synced). The first waiter syncs for
    /// everyone buffered so far; the others wait for it.
    pub fn wait_durable(&self, seq: u64) -> Result<(), JournalError> {
        let mut inner = self.lock();
        loop {
            if inner.durable >= seq {
                return Ok(());
            }
            if let Some(f) = &inner.failed {
                return Err(JournalError::Failed(f.clone()));
            }
            if inner.syncing {
                inner = self.synced.wait(inner).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Lead: take what is buffered, write and sync it without holding the lock.
            inner.syncing = true;
            let batch = std::mem::take(&mut inner.pending);
            let batch_last = inner.pending_last;
            let batch_chain = inner.chain;
            let batch_first = inner.durable + 1;
            let batch_prev = inner.durable_chain;
            drop(inner);
            let result = self.write_batch(&batch, batch_first, &batch_prev);
            inner = self.lock();
            inner.syncing = false;
            match result {
                Ok(()) => {
                    inner.durable = batch_last;
                    inner.durable_chain = batch_chain;
                }
                Err(e) => inner.failed = Some(e.to_string()),
            }
            self.synced.notify_all();
        }
    }

    /// `enqueue` and `wait_durable`.
    pub fn append(&self, payload: &[u8]) -> Result<u64, JournalError> {
        let seq = self.enqueue(payload)?;
        self.wait_durable(seq)?;
        Ok(seq)
    }

    fn write_batch(&self, batch: &[u8], first_seq: u64, prev: &Chain) -> Result<(), JournalError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut seg = self.segment.lock().unwrap_or_else(|p| p.into_inner());
        if seg.len > SEG_HEAD as u64 && seg.len + batch.len() as u64 > self.options.segment_bytes {
            // Rotate: the new segment is named by the first sequence number it holds, and its
            // header carries the chain before it.
            *seg = create_segment(&self.dir, first_seq, prev)?;
        }
        let path = seg.path.clone();
        {
            let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
            let due = match marks.last() {
                Some((_, p, at)) => *p != path || seg.len >= at + MARK_EVERY,
                None => true,
            };
            if due && seg.len > SEG_HEAD as u64 {
                marks.push((first_seq, path.clone(), seg.len));
            }
        }
        seg.file.write_all(batch).map_err(io_err(&path))?;
        if self.options.sync {
            seg.file.sync_data().map_err(io_err(&path))?;
        }
        seg.len += batch.len() as u64;
        Ok(())
    }

    /// Records from sequence `from` on, checked frame by frame (a damaged frame is an error
    /// naming the segment and offset; a record that does not fit the chain is
    /// [`JournalError::ChainBroken`]). Reads durable records only.
    pub fn read_from(&self, from: u64) -> Result<JournalReader, JournalError> {
        let upto = self.durable_seq();
        let segments = list_segments(&self.dir)?;
        // Skip segments that end before `from`.
        let mut start = 0;
        for (i, (first, _)) in segments.iter().enumerate() {
            if *first <= from {
                start = i;
            }
        }
        // Seek to the last mark at or before `from` in that segment, if there is one.
        let seek = segments.get(start).and_then(|(_, path)| {
            let marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
            let i = marks.partition_point(|(seq, _, _)| *seq <= from);
            i.checked_sub(1)
                .map(|i| marks[i].clone())
                .filter(|(_, p, _)| p == path)
        });
        Ok(JournalReader {
            segments: segments[start..].to_vec(),
            current: None,
            from,
            upto,
            expected: None,
            tolerate_tail: false,
            seek: seek.map(|(seq, _, offset)| (seq, offset)),
            base: 0,
            chain: None,
            before_from: None,
            seen_v2: false,
        })
    }
}

/// Read the journal in `dir` without opening it for writing (another process may be appending):
/// records from `from` on, every frame checked, and the chain from the first record on; a
/// cut-short frame at the very end (a write in progress, or a torn tail not yet recovered) ends
/// the iteration.
pub fn read_dir(dir: impl AsRef<Path>, from: u64) -> Result<JournalReader, JournalError> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(io_err(dir)(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no journal directory",
        )));
    }
    let segments = list_segments(dir)?;
    let mut start = 0;
    for (i, (first, _)) in segments.iter().enumerate() {
        if *first <= from {
            start = i;
        }
    }
    Ok(JournalReader {
        chain: (start == 0).then_some(GENESIS),
        segments: segments[start..].to_vec(),
        current: None,
        from,
        upto: u64::MAX,
        expected: None,
        tolerate_tail: true,
        seek: None,
        base: 0,
        before_from: None,
        seen_v2: false,
    })
}

/// The chain hash after the last record of the journal in `dir`, computed from the first record
/// of the first segment (every frame checked on the way).
fn chain_from_start(dir: &Path) -> Result<Chain, JournalError> {
    let mut reader = JournalReader {
        chain: Some(GENESIS),
        segments: list_segments(dir)?,
        current: None,
        // Past every record: nothing is returned, every frame is read and chained.
        from: u64::MAX,
        upto: u64::MAX,
        expected: None,
        tolerate_tail: true,
        seek: None,
        base: 0,
        before_from: None,
        seen_v2: false,
    };
    for item in reader.by_ref() {
        item?;
    }
    Ok(reader.chain_hash().unwrap_or(GENESIS))
}

/// Iterator over `(seq, payload)` records (see [`Journal::read_from`]). It checks the hash
/// chain as far as it knows it: from the first record when it starts at the beginning, from a
/// format-2 segment's header or first frame otherwise, and from the chain given to
/// [`JournalReader::expect_chain_before`].
pub struct JournalReader {
    segments: Vec<(u64, PathBuf)>,
    /// Start the first segment at this record (sequence, byte offset) instead of its start.
    seek: Option<(u64, u64)>,
    /// Byte offset in its segment of the buffer being read.
    base: u64,
    current: Option<(Vec<u8>, usize, PathBuf, Format)>,
    from: u64,
    upto: u64,
    expected: Option<u64>,
    /// Read-only readers stop at a cut-short frame at the end of the last segment.
    tolerate_tail: bool,
    /// The chain after the last record read, when known.
    chain: Option<Chain>,
    /// The chain the caller says comes before record `from` (a checkpoint's).
    before_from: Option<Chain>,
    seen_v2: bool,
}

impl JournalReader {
    /// Check that the chain before record `from` is `chain` (a checkpoint's): the first record
    /// read must follow it ([`JournalError::ChainBroken`] otherwise).
    pub fn expect_chain_before(mut self, chain: Chain) -> JournalReader {
        self.before_from = Some(chain);
        self
    }

    /// The chain hash after the last record returned (or passed over), when the reader knows it.
    pub fn chain_hash(&self) -> Option<Chain> {
        self.chain
    }

    fn open_next(&mut self) -> Result<bool, JournalError> {
        if self.segments.is_empty() {
            return Ok(false);
        }
        let (first, path) = self.segments.remove(0);
        let (first, offset) = self.seek.take().unwrap_or((first, 0));
        let mut bytes = Vec::new();
        let mut head = [0u8; SEG_HEAD];
        let head_len = File::open(&path)
            .and_then(|mut f| {
                let n = f.read(&mut head)?;
                f.seek(std::io::SeekFrom::Start(offset))?;
                f.read_to_end(&mut bytes)?;
                Ok(n)
            })
            .map_err(io_err(&path))?;
        let corrupt = |what: String| JournalError::Corrupt {
            segment: path.display().to_string(),
            offset: 0,
            what,
        };
        let (format, header) = parse_seg_header(&head[..head_len]).map_err(corrupt)?;
        if format == Format::V1 && self.seen_v2 {
            return Err(corrupt("a format-1 segment after a format-2 one".into()));
        }
        self.seen_v2 |= format == Format::V2;
        if self.expected.is_some_and(|e| e != first) {
            return Err(corrupt(format!(
                "segment starts at sequence {first}, the previous one ended before {}",
                self.expected.unwrap_or(0)
            )));
        }
        let mut at = 0;
        if offset == 0 {
            if let Some((hfirst, prev)) = header {
                if hfirst != first {
                    return Err(corrupt(format!(
                        "the header says the segment starts at {hfirst}, its name {first}"
                    )));
                }
                if let Some(c) = self.chain
                    && c != prev
                {
                    return Err(JournalError::ChainBroken {
                        segment: path.display().to_string(),
                        offset: 0,
                        seq: first,
                        what: "the segment's header does not continue the chain of the one before"
                            .into(),
                    });
                }
                self.chain = Some(prev);
                at = SEG_HEAD;
            }
        } else {
            // Started at a mark: the chain is picked up from the next format-2 frame.
            self.chain = None;
        }
        self.base = offset;
        self.expected = Some(first);
        self.current = Some((bytes, at, path, format));
        Ok(true)
    }
}

impl Iterator for JournalReader {
    type Item = Result<(u64, Vec<u8>), JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.current.is_none() {
                match self.open_next() {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => {
                        self.segments.clear();
                        return Some(Err(e));
                    }
                }
            }
            let (bytes, at, path, format) = self.current.as_mut().expect("set above");
            let format = *format;
            if *at >= bytes.len() {
                self.current = None;
                continue;
            }
            let expected = self.expected.expect("set");
            if expected > self.upto {
                return None;
            }
            let offset = self.base + *at as u64;
            let fail = |e: JournalError| Some(Err(e));
            match parse_frame(bytes, *at, format) {
                Parsed::Frame {
                    seq,
                    chain: stored,
                    payload,
                    next,
                } => {
                    if seq != expected {
                        let e = JournalError::Corrupt {
                            segment: path.display().to_string(),
                            offset,
                            what: format!("sequence {seq} where {expected} was expected"),
                        };
                        self.current = None;
                        self.segments.clear();
                        return fail(e);
                    }
                    let prev = if seq == self.from {
                        self.before_from.or(self.chain)
                    } else {
                        self.chain
                    };
                    let computed = prev.map(|p| chain_next(&p, seq, payload));
                    match (computed, stored) {
                        (Some(c), Some(s)) if c != s => {
                            let what = if seq == self.from && self.before_from.is_some() {
                                "it does not follow the chain the checkpoint recorded"
                            } else {
                                "its chain hash is not the hash of the one before and its content"
                            };
                            let e = JournalError::ChainBroken {
                                segment: path.display().to_string(),
                                offset,
                                seq,
                                what: what.into(),
                            };
                            self.current = None;
                            self.segments.clear();
                            return fail(e);
                        }
                        (_, Some(s)) => self.chain = Some(s),
                        (c, None) => self.chain = c,
                    }
                    let payload = payload.to_vec();
                    *at = next;
                    self.expected = Some(seq + 1);
                    if seq >= self.from {
                        return Some(Ok((seq, payload)));
                    }
                }
                Parsed::Short if self.tolerate_tail && self.segments.is_empty() => {
                    self.current = None;
                    return None;
                }
                Parsed::Short => {
                    let e = JournalError::Corrupt {
                        segment: path.display().to_string(),
                        offset,
                        what: "frame cut short".into(),
                    };
                    self.current = None;
                    self.segments.clear();
                    return fail(e);
                }
                Parsed::Bad(what) => {
                    let e = JournalError::Corrupt {
                        segment: path.display().to_string(),
                        offset,
                        what,
                    };
                    self.current = None;
                    self.segments.clear();
                    return fail(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> JournalOptions {
        JournalOptions {
            segment_bytes: 256,
            sync: true,
        }
    }

    /// Readers seek to the nearest mark instead of scanning a segment from its start; what
    /// they return is the same as a full scan.
    #[test]
    fn read_from_seeks_to_marks_and_returns_the_same_records() {
        let dir = tempfile::tempdir().unwrap();
        let options = JournalOptions {
            segment_bytes: 3 << 20,
            sync: false,
        };
        let (j, _) = Journal::open(dir.path(), options).unwrap();
        for i in 0..5000u32 {
            let payload = vec![(i % 251) as u8; 1000 + (i % 7) as usize];
            assert_eq!(j.append(&payload).unwrap(), i as u64 + 1);
        }
        let marks = j.marks.lock().unwrap().clone();
        assert!(marks.len() >= 3, "{} marks", marks.len());
        for from in [1u64, 2, 1000, 1048, 1049, 2500, 3333, 4999, 5000, 5001] {
            let got: Vec<(u64, Vec<u8>)> = j.read_from(from).unwrap().map(Result::unwrap).collect();
            let full: Vec<(u64, Vec<u8>)> = read_dir(dir.path(), from)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(got, full, "from {from}");
            assert_eq!(got.len() as u64, 5001 - from.min(5001), "from {from}");
            if let Some((seq, p)) = got.first() {
                assert_eq!(*seq, from);
                assert_eq!(p[0], ((from - 1) % 251) as u8);
            }
        }
    }

    /// A journal written before the hash chain (format-1 segments, several of them) continues
    /// in a format-2 segment whose header carries the chain over every old record, computed from
    /// the first one; the whole journal then checks out.
    #[test]
    fn a_format_1_journal_of_several_segments_continues_the_chain_from_its_first_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut chain = GENESIS;
        let mut seq = 1u64;
        for (first, n) in [(1u64, 3u64), (4, 2)] {
            let mut bytes = Vec::new();
            for _ in 0..n {
                let payload = seq.to_le_bytes().repeat(3);
                let mut body = seq.to_le_bytes().to_vec();
                body.extend_from_slice(&payload);
                bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
                bytes.extend_from_slice(&xxh3_64(&body).to_le_bytes());
                bytes.extend_from_slice(&body);
                chain = chain_next(&chain, seq, &payload);
                seq += 1;
            }
            std::fs::write(dir.path().join(segment_name(first)), bytes).unwrap();
        }
        let (j, r) = Journal::open(dir.path(), opts()).unwrap();
        assert_eq!(r.last_seq, 5);
        assert_eq!(j.last(), (5, chain), "the chain over the old records");
        j.append(b"after the upgrade").unwrap();
        drop(j);
        let mut reader = read_dir(dir.path(), 1).unwrap();
        let all: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
        assert_eq!(all.len(), 6);
        assert_eq!(
            reader.chain_hash(),
            Some(chain_next(&chain, 6, b"after the upgrade"))
        );
    }

    #[test]
    fn appends_survive_reopen_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (j, r) = Journal::open(dir.path(), opts()).unwrap();
        assert_eq!(r.last_seq, 0);
        for i in 0..100u32 {
            assert_eq!(j.append(&i.to_le_bytes()).unwrap(), i as u64 + 1);
        }
        drop(j);
        let (j, r) = Journal::open(dir.path(), opts()).unwrap();
        assert_eq!(r.last_seq, 100);
        assert!(r.segments > 5, "{r:?}");
        assert_eq!(r.truncated, None);
        let all: Vec<_> = j.read_from(1).unwrap().map(Result::unwrap).collect();
        assert_eq!(all.len(), 100);
        for (i, (seq, p)) in all.iter().enumerate() {
            assert_eq!(*seq, i as u64 + 1);
            assert_eq!(p, &(i as u32).to_le_bytes());
        }
        let tail: Vec<_> = j.read_from(95).unwrap().map(|r| r.unwrap().0).collect();
        assert_eq!(tail, vec![95, 96, 97, 98, 99, 100]);
        assert_eq!(j.append(b"next").unwrap(), 101);
    }

    #[test]
    fn concurrent_writers_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let j = &j;
                s.spawn(move || {
                    for i in 0..50u8 {
                        j.append(&[t, i]).unwrap();
                    }
                });
            }
        });
        let (j, r) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        assert_eq!(r.last_seq, 400);
        let mut seen: Vec<_> = j.read_from(1).unwrap().map(|r| r.unwrap().1).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 400);
    }

    /// Torn tail: cut the last segment at every byte offset inside its last frame; opening
    /// recovers every earlier record and reports the cut.
    #[test]
    fn torn_tail_at_every_offset_of_the_last_frame_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(
            dir.path(),
            JournalOptions {
                segment_bytes: 1 << 20,
                sync: false,
            },
        )
        .unwrap();
        for i in 0..5u8 {
            j.append(&[i; 30]).unwrap();
        }
        drop(j);
        let seg = dir.path().join(segment_name(1));
        let full = std::fs::read(&seg).unwrap();
        let frame = FRAME_HEAD + 40 + 30;
        let last_start = full.len() - frame;
        for cut in last_start..full.len() {
            std::fs::write(&seg, &full[..cut]).unwrap();
            let (j, r) = Journal::open(dir.path(), opts()).unwrap();
            assert_eq!(r.last_seq, 4, "cut at {cut}");
            if cut > last_start {
                let t = r.truncated.clone().unwrap();
                assert_eq!(
                    (t.offset, t.bytes),
                    (last_start as u64, (cut - last_start) as u64)
                );
            } else {
                assert_eq!(r.truncated, None);
            }
            assert_eq!(std::fs::metadata(&seg).unwrap().len(), last_start as u64);
            assert_eq!(j.read_from(1).unwrap().count(), 4);
        }
        // A torn frame whose bytes are garbage to the end of the file is cut too.
        let mut torn = full.clone();
        for b in &mut torn[last_start + FRAME_HEAD + 3..] {
            *b ^= 0x5a;
        }
        std::fs::write(&seg, &torn).unwrap();
        let (_, r) = Journal::open(dir.path(), opts()).unwrap();
        assert_eq!(r.last_seq, 4);
        assert!(r.truncated.is_some());
        // Zero-filled tail (an extended file whose data never arrived).
        let mut zeros = full[..last_start].to_vec();
        zeros.extend_from_slice(&[0u8; 100]);
        std::fs::write(&seg, &zeros).unwrap();
        let (_, r) = Journal::open(dir.path(), opts()).unwrap();
        assert_eq!((r.last_seq, r.truncated.unwrap().bytes), (4, 100));
    }

    /// Corruption anywhere but the tail is an error naming the segment and offset, never
    /// skipped.
    #[test]
    fn corruption_before_the_tail_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(
            dir.path(),
            JournalOptions {
                segment_bytes: 1 << 20,
                sync: false,
            },
        )
        .unwrap();
        for i in 0..5u8 {
            j.append(&[i; 30]).unwrap();
        }
        drop(j);
        let seg = dir.path().join(segment_name(1));
        let full = std::fs::read(&seg).unwrap();
        let frame = FRAME_HEAD + 40 + 30;
        for byte in 0..full.len() - frame {
            let mut bad = full.clone();
            bad[byte] ^= 0x01;
            std::fs::write(&seg, &bad).unwrap();
            let want = if byte < SEG_HEAD {
                0
            } else {
                SEG_HEAD + (byte - SEG_HEAD) / frame * frame
            };
            match Journal::open(dir.path(), opts()) {
                Err(JournalError::Corrupt {
                    segment, offset, ..
                }) => {
                    assert!(segment.ends_with(".log"));
                    assert_eq!(offset as usize, want, "byte {byte}");
                }
                other => panic!("flip at {byte}: {other:?}"),
            }
        }
    }
}
