//! Issue 15: edits of the record after the fact are detected (S1, S2). The journal is a hash
//! chain whose heads are signed; checkpoints are signed and carry the chain hash; the data
//! directory is the owner's alone.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use idcard::engine::{Engine, EngineError, verify_journal};
use idcard::journal::{JournalError, chain_next};
use idcard::workflow::Commands;

/// The format-2 segments of a data directory.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// A frame of a format-2 segment: offset, sequence number, chain, payload range.
struct Frame {
    at: usize,
    seq: u64,
    payload: std::ops::Range<usize>,
}

fn frames(bytes: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut at = 64;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let seq = u64::from_le_bytes(bytes[at + 12..at + 20].try_into().unwrap());
        out.push(Frame {
            at,
            seq,
            payload: at + 12 + 40..at + 12 + len,
        });
        at += 12 + len;
    }
    out
}

/// Rewrite a segment after changing record `seq`'s payload with `edit`: its checksum is
/// recomputed (what an editor with a hex editor and the format description would do), and,
/// with `rechain`, the chain hash of it and of every record after it too.
fn tamper(segment: &Path, seq: u64, edit: impl Fn(&mut [u8]), rechain: bool) {
    let mut bytes = std::fs::read(segment).unwrap();
    let mut prev: [u8; 32] = bytes[16..48].try_into().unwrap();
    let mut found = false;
    for f in frames(&bytes) {
        if f.seq == seq {
            edit(&mut bytes[f.payload.clone()]);
            found = true;
        }
        if f.seq == seq || (rechain && found) {
            if rechain {
                let c = chain_next(&prev, f.seq, &bytes[f.payload.clone()]);
                bytes[f.at + 20..f.at + 52].copy_from_slice(&c);
            }
            let sum = xxhash_rust::xxh3::xxh3_64(&bytes[f.at + 12..f.payload.end]);
            bytes[f.at + 4..f.at + 12].copy_from_slice(&sum.to_le_bytes());
        }
        prev = bytes[f.at + 20..f.at + 52].try_into().unwrap();
    }
    assert!(found, "record {seq} is in {}", segment.display());
    std::fs::write(segment, bytes).unwrap();
}

/// Change a loss report's actor from one officer to another of the same length: a false
/// report credited to someone else (the issue's `MALLORY@EVIL-HR` → `A0001@110105-PSB`).
fn reattribute(payload: &mut [u8]) {
    let from = b"P00";
    let at = payload
        .windows(from.len())
        .position(|w| w == from)
        .expect("the officer's id is in the record");
    payload[at..at + 3].copy_from_slice(b"P01");
}

/// A world with loss reports; returns the sequence number of one of them.
fn with_losses(dir: &Path) -> u64 {
    let w = world(dir);
    let hr = w.actor(idcard::station::StationKind::HouseholdRegistrationStation);
    assert_eq!(hr.officer.as_str(), "P00");
    let seq = w
        .engine
        .report_loss(
            hr,
            &idcard::workflow::loss::LossRequest {
                card: idcard::workflow::loss::CardRef {
                    number: w.bob,
                    valid_from: None,
                },
                present: idcard::engine::InPerson {
                    number: w.bob,
                    fingerprint: None,
                },
                stolen: false,
            },
        )
        .map(|_| w.engine.last_seq())
        .unwrap();
    w.engine.checkpoint().unwrap();
    seq
}

/// S1: one record edited and its xxh3 recomputed: `journal verify` names that record, and an
/// engine refuses to open on it.
#[test]
fn s1_an_edited_record_with_its_checksum_recomputed_is_named_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let seq = with_losses(dir.path());
    // The checkpoint was written after the record: remove it, so the engine must replay.
    std::fs::remove_dir_all(dir.path().join("checkpoints")).unwrap();
    let seg = segments(dir.path()).pop().unwrap();
    tamper(&seg, seq, reattribute, false);
    let check = verify_journal(dir.path(), None, &[]).unwrap();
    let problem = check.problem.expect("the edit is found");
    assert!(problem.contains(&format!("record {seq} ")), "{problem}");
    match Engine::open(
        dir.path(),
        options(std::sync::Arc::new(idcard::engine::ManualClock::new(
            start_time(),
        ))),
    ) {
        Err(EngineError::Journal(JournalError::ChainBroken { seq: s, .. })) => assert_eq!(s, seq),
        other => panic!("opened an edited journal: {:?}", other.err()),
    }
}

/// S1: the same edit with the chain recomputed to the end fits the chain, but not the head the
/// engine signed at its checkpoint, nor a head published earlier and held outside.
#[test]
fn s1_a_journal_rewritten_to_its_end_fails_the_signed_heads() {
    let dir = tempfile::tempdir().unwrap();
    let seq = with_losses(dir.path());
    let held = dir.path().join("held.idch");
    {
        let e = open(
            dir.path(),
            std::sync::Arc::new(idcard::engine::ManualClock::new(start_time())),
        );
        e.sign_head(Some(&held)).unwrap();
    }
    let seg = segments(dir.path()).pop().unwrap();
    tamper(&seg, seq, reattribute, true);
    match Engine::open(
        dir.path(),
        options(std::sync::Arc::new(idcard::engine::ManualClock::new(
            start_time(),
        ))),
    ) {
        Err(EngineError::HeadMismatch { seq: s, .. }) => assert!(s >= seq),
        other => panic!("opened a rewritten journal: {:?}", other.err()),
    }
    let check = verify_journal(dir.path(), None, &[]).unwrap();
    assert!(
        check
            .problem
            .unwrap()
            .contains("changed after the head was signed")
    );
    // Even with the record's own heads removed, a head held outside catches it.
    std::fs::remove_dir_all(dir.path().join("heads")).unwrap();
    std::fs::remove_dir_all(dir.path().join("checkpoints")).unwrap();
    let clean = verify_journal(dir.path(), None, &[]).unwrap();
    assert!(
        clean.ok(),
        "the chain itself is consistent: {:?}",
        clean.problem
    );
    let check = verify_journal(dir.path(), None, &[held]).unwrap();
    assert!(!check.ok());
    assert!(check.heads.iter().any(|h| !h.ok));
}

/// A checkpoint edited after it was written (its state changed and its checksum recomputed, or
/// its chain hash changed) is not loaded: the journal is replayed instead, giving the true
/// state; `journal verify` reports it.
#[test]
fn s1_a_checkpoint_edited_or_off_the_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    with_losses(dir.path());
    let clock = || std::sync::Arc::new(idcard::engine::ManualClock::new(start_time()));
    let truth = open(dir.path(), clock()).with_state(|s| s.to_memory().unwrap());
    let ckpt = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "ckpt"))
        .unwrap();
    let original = std::fs::read(&ckpt).unwrap();
    // The chain hash (bytes 40..72) changed.
    let mut bad = original.clone();
    bad[50] ^= 1;
    std::fs::write(&ckpt, &bad).unwrap();
    let (e, report) = Engine::open(dir.path(), options(clock())).unwrap();
    assert_eq!(
        report.checkpoint_seq, None,
        "{:?}",
        report.checkpoints_skipped
    );
    assert!(report.checkpoints_skipped[0].contains("signature"));
    e.with_state(|s| assert_eq!(s.to_memory().unwrap(), truth));
    drop(e);
    assert!(!verify_journal(dir.path(), None, &[]).unwrap().ok());
    // A byte of the state changed and the body's checksum recomputed.
    let mut bad = original.clone();
    let body_len = u64::from_le_bytes(bad[24..32].try_into().unwrap()) as usize;
    bad[72 + body_len / 2] ^= 1;
    let sum = xxhash_rust::xxh3::xxh3_64(&bad[72..72 + body_len]);
    bad[32..40].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(&ckpt, &bad).unwrap();
    let (e, report) = Engine::open(dir.path(), options(clock())).unwrap();
    assert_eq!(
        report.checkpoint_seq, None,
        "{:?}",
        report.checkpoints_skipped
    );
    e.with_state(|s| assert_eq!(s.to_memory().unwrap(), truth));
    drop(e);
    // The original checks out, chain and state.
    std::fs::write(&ckpt, &original).unwrap();
    let check = verify_journal(dir.path(), None, &[]).unwrap();
    assert!(check.ok(), "{:?}", check.problem);
    assert!(check.checkpoints.iter().all(|(_, ok)| *ok));
}

/// S2: the data directory is its owner's alone: 0700 directories, 0600 files, from the first
/// open on (journal segments, checkpoints, heads, secrets, the lock).
#[cfg(unix)]
#[test]
fn s2_the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("record");
    with_losses(&data);
    fn walk(p: &Path, out: &mut Vec<(PathBuf, u32, bool)>) {
        let m = std::fs::metadata(p).unwrap();
        out.push((p.to_path_buf(), m.permissions().mode() & 0o777, m.is_dir()));
        if m.is_dir() {
            for e in std::fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path(), out);
            }
        }
    }
    let mut all = Vec::new();
    walk(&data, &mut all);
    assert!(
        all.iter()
            .any(|(p, _, _)| p.extension().is_some_and(|e| e == "idch"))
    );
    for (path, mode, is_dir) in all {
        let public_key = path.extension().is_some_and(|e| e == "pub");
        let want = if is_dir { 0o700 } else { 0o600 };
        if public_key {
            continue;
        }
        assert_eq!(mode, want, "{} is {mode:o}", path.display());
    }
}

/// Issue 19: the population store is not signed; a row edited in it (a lost card made valid
/// again, the store's tag left as it was) is found by `journal verify`, which compares the store
/// with the journal's replay. Reopening the engine on a store tagged with another journal's
/// chain sets it aside and rebuilds it.
#[test]
fn s1_an_edited_population_store_is_found_by_journal_verify_and_rebuilt_when_off_the_chain() {
    use idcard::engine::verify_journal_with;
    use idcard::store::{Batch, Embedded, StoreProvider, Table};
    // The store the suite runs on (embedded, or PostgreSQL under scripts/with-postgres.sh).
    let provider: std::sync::Arc<dyn StoreProvider> =
        common::test_store().unwrap_or_else(|| std::sync::Arc::new(Embedded));
    let verify = |dir: &std::path::Path| {
        verify_journal_with(dir, None, &[], Some(provider.as_ref())).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    with_losses(dir.path());
    let check = verify(dir.path());
    assert!(check.ok(), "{check:?}");
    let seq = check.store.expect("the store was compared").0;
    let (bob_card, tag) = {
        let store = provider.open(dir.path(), 1 << 20).unwrap();
        let tag = store.tag().unwrap().unwrap();
        assert_eq!(tag.0, seq);
        let mut lost = None;
        store
            .for_each(Table::Cards, |_, c: idcard::model::CardRecord| {
                if c.status == idcard::index::CardStatus::Lost {
                    lost = Some(c);
                }
                Ok(())
            })
            .unwrap();
        let mut card = lost.expect("Bob's card is lost");
        let key = card.key;
        card.status = idcard::index::CardStatus::Valid;
        card.loss = None;
        let mut batch = Batch::default();
        batch.put(Table::Cards, key.to_u64(), &card).unwrap();
        store.write(&batch, tag.0, &tag.1).unwrap();
        (key, tag)
    };
    let check = verify(dir.path());
    assert_eq!(check.store, Some((seq, false)), "{check:?}");
    assert!(
        check
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("population store") && p.contains("differs")),
        "{check:?}"
    );
    // A store tagged with a chain hash the journal does not have: set aside, rebuilt.
    {
        let store = provider.open(dir.path(), 1 << 20).unwrap();
        let mut other = tag.1;
        other[0] ^= 1;
        store.write(&Batch::default(), tag.0, &other).unwrap();
    }
    let clock = std::sync::Arc::new(idcard::engine::ManualClock::new(start_time()));
    let (e, report) = Engine::open(dir.path(), options(clock)).unwrap();
    assert!(
        report
            .store_rebuilt
            .as_deref()
            .is_some_and(|r| r.contains("chain hash") && r.contains("set aside")),
        "{report:?}"
    );
    assert_eq!(report.store_seq, 0);
    if !common::on_postgres() {
        let path = idcard::engine::store_path(dir.path());
        assert!(path.with_extension("redb.set-aside").exists());
    }
    assert_eq!(
        e.with_state(|s| s.cards.status(bob_card)).unwrap(),
        idcard::index::CardStatus::Lost,
        "rebuilt from the journal"
    );
    e.close().unwrap();
    assert!(verify(dir.path()).ok());
}
