//! Torn and corrupt journal files, byte by byte (the brief: nothing acknowledged is ever lost,
//! bad input gets a typed error saying what and where, never a panic or a silent skip).
//!
//! The snapshot and delta files have the same treatment in `tests/index.rs`
//! (`l3_every_byte_flip_and_truncation_of_a_*`); checkpoints in `tests/record.rs`.

mod common;
#[allow(unused_imports)]
use common::*;

use idcard::workflow::Commands;
use std::path::{Path, PathBuf};

use idcard::engine::{Engine, EngineError, EngineOptions};
use idcard::journal::{Journal, JournalError, JournalOptions, read_dir};

const RECORDS: u8 = 6;
const PAYLOAD: usize = 23;

fn options() -> JournalOptions {
    JournalOptions {
        segment_bytes: 1 << 20,
        sync: false,
    }
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// A journal of `RECORDS` frames in one segment; returns the segment's bytes.
fn small_journal(dir: &Path) -> Vec<u8> {
    let (j, _) = Journal::open(dir, options()).unwrap();
    for i in 0..RECORDS {
        j.append(&[i; PAYLOAD]).unwrap();
    }
    drop(j);
    std::fs::read(&segments(dir)[0]).unwrap()
}

/// The segment header's length (format 2 segments start with one).
const HEADER: usize = 64;

fn frame_len(full: &[u8]) -> usize {
    (full.len() - HEADER) / RECORDS as usize
}

/// Every truncation of the segment, at every byte offset: opening keeps exactly the complete
/// frames before the cut, reports what it cut, and the journal takes new records after them.
#[test]
fn journal_truncated_at_every_offset_keeps_every_complete_frame() {
    let dir = tempfile::tempdir().unwrap();
    let full = small_journal(dir.path());
    let frame = frame_len(&full);
    let seg = segments(dir.path())[0].clone();
    for cut in 0..=full.len() {
        std::fs::write(&seg, &full[..cut]).unwrap();
        let (j, r) =
            Journal::open(dir.path(), options()).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        // A cut inside the header holds no record: the header is written again.
        let framed = cut.saturating_sub(HEADER);
        let complete = (framed / frame) as u64;
        assert_eq!(r.last_seq, complete, "cut at {cut}");
        match &r.truncated {
            Some(t) if cut < HEADER => {
                assert!(cut > 0, "an empty file is no cut");
                assert_eq!((t.offset, t.bytes), (0, cut as u64), "cut at {cut}");
            }
            Some(t) => {
                assert_ne!(framed % frame, 0, "cut at {cut} reported a torn tail");
                assert_eq!(t.offset, (HEADER + complete as usize * frame) as u64);
                assert_eq!(t.bytes, (framed % frame) as u64);
            }
            None => assert!(
                cut == 0 || (cut >= HEADER && framed % frame == 0),
                "cut at {cut}: torn tail not reported"
            ),
        }
        let records: Vec<_> = j.read_from(1).unwrap().map(Result::unwrap).collect();
        assert_eq!(records.len() as u64, complete);
        for (i, (seq, payload)) in records.iter().enumerate() {
            assert_eq!((*seq, payload[0]), (i as u64 + 1, i as u8));
        }
        assert_eq!(j.append(b"after").unwrap(), complete + 1, "cut at {cut}");
        drop(j);
        std::fs::write(&seg, &full).unwrap();
    }
}

/// Every single-byte change of the segment (three patterns per byte): damage inside
/// acknowledged frames is an error naming the segment and the frame's offset; damage to the
/// last frame cannot be told from a torn write and is cut — and reported, never silent.
#[test]
fn journal_every_byte_flip_is_an_error_or_a_reported_cut() {
    let dir = tempfile::tempdir().unwrap();
    let full = small_journal(dir.path());
    let frame = frame_len(&full);
    let last = full.len() - frame;
    let seg = segments(dir.path())[0].clone();
    for byte in 0..full.len() {
        for pattern in [0x01u8, 0x80, 0xff] {
            let mut bad = full.clone();
            bad[byte] ^= pattern;
            std::fs::write(&seg, &bad).unwrap();
            let outcome = std::panic::catch_unwind(|| Journal::open(dir.path(), options()));
            let result = outcome.unwrap_or_else(|_| panic!("byte {byte} ^ {pattern:#x} panicked"));
            match result {
                Err(JournalError::Corrupt {
                    segment, offset, ..
                }) => {
                    assert!(byte < last, "byte {byte}: the last frame is a tail");
                    assert!(segment.ends_with(".log"), "{segment}");
                    let want = if byte < HEADER {
                        0
                    } else {
                        HEADER + (byte - HEADER) / frame * frame
                    };
                    assert_eq!(offset as usize, want, "byte {byte}");
                }
                Ok((j, r)) => {
                    assert!(byte >= last, "byte {byte} ^ {pattern:#x}: damage accepted");
                    let t = r.truncated.expect("the cut is reported");
                    assert_eq!(t.offset as usize, last);
                    assert_eq!(r.last_seq, RECORDS as u64 - 1);
                    assert_eq!(j.read_from(1).unwrap().count(), RECORDS as usize - 1);
                }
                Err(other) => panic!("byte {byte}: unexpected {other}"),
            }
        }
    }
}

/// Older segments are checked when read: damage there is an error for the reader and for an
/// engine replaying the journal, naming the file and offset — the state is never built from a
/// journal with a hole.
#[test]
fn damage_in_an_older_segment_is_an_error_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let small = JournalOptions {
        segment_bytes: 256,
        sync: false,
    };
    let (j, _) = Journal::open(dir.path(), small).unwrap();
    for i in 0..40u8 {
        j.append(&[i; PAYLOAD]).unwrap();
    }
    drop(j);
    let segs = segments(dir.path());
    assert!(segs.len() >= 3);
    let first = std::fs::read(&segs[0]).unwrap();
    for byte in 0..first.len() {
        let mut bad = first.clone();
        bad[byte] ^= 0x10;
        std::fs::write(&segs[0], &bad).unwrap();
        // Opening checks only the last segment ...
        let (j, _) = Journal::open(dir.path(), small).unwrap();
        // ... reading through the damage fails, for the writer's reader and the offline one.
        let err = j.read_from(1).unwrap().find_map(Result::err);
        assert!(
            matches!(&err, Some(JournalError::Corrupt { segment, .. }) if segment.contains("00000000000000000001.log")),
            "byte {byte}: {err:?}"
        );
        drop(j);
        let err = read_dir(dir.path(), 1).unwrap().find_map(Result::err);
        assert!(
            err.is_some(),
            "byte {byte}: offline reader skipped the damage"
        );
        std::fs::write(&segs[0], &first).unwrap();
    }
}

/// An engine over a journal damaged before its tail refuses to open (typed error, the file
/// named) rather than serving a state with records missing.
#[test]
fn engine_refuses_to_open_a_damaged_journal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (e, _) = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        let bureau = idcard::station::Station {
            id: "B".parse().unwrap(),
            kind: idcard::station::StationKind::CountyBureau,
            division: idcard::DivisionCode::new(110105).unwrap(),
            name: "b".into(),
        };
        let chief = idcard::station::Officer {
            id: "O".parse().unwrap(),
            name: "o".into(),
            station: "B".parse().unwrap(),
            active: true,
            key: Some(common::public_key_of("O")),
        };
        e.bootstrap(bureau, chief).unwrap();
        let actor = signed("O", "B");
        for _ in 0..5 {
            e.add_blacklist(
                &actor,
                "11010519491231002X".parse().unwrap(),
                idcard::index::BlacklistEntry::new(idcard::index::BlacklistReasons::FORGED),
            )
            .unwrap();
        }
    }
    let seg = segments(&dir.path().join("journal"))[0].clone();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[30] ^= 0x04;
    std::fs::write(&seg, &bytes).unwrap();
    match Engine::open(dir.path(), EngineOptions::default()) {
        Err(EngineError::Journal(JournalError::Corrupt {
            segment, offset, ..
        })) => {
            assert!(segment.ends_with(".log"), "{segment}");
            assert_eq!(offset, 0);
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("opened a damaged journal"),
    }
}
