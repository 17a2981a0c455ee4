//! The verification index (L3, A6, S2): snapshots, deltas and the verifier against simple models,
//! damaged files, golden files, concurrency.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use idcard::index::*;
use idcard::{CardKey, DivisionTable, IdNumber};
use proptest::prelude::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A deterministic population of card keys: `n` distinct people, each with up to three cards.
fn keys(n: usize, seed: u64) -> Vec<CardKey> {
    // Citizens' division codes (not the residence permits' 810000-830000: no card has those).
    let codes: Vec<_> = DivisionTable::builtin()
        .codes()
        .filter(|c| idcard::NumberKind::of_code(c.get()) == idcard::NumberKind::Citizen)
        .collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while out.len() < n {
        let code = codes[(next() % codes.len() as u64) as usize];
        let birth = date(1940, 1, 1) + chrono::Days::new(next() % (60 * 365));
        let Ok(num) = IdNumber::from_parts(code, birth, (next() % 1000) as u16) else {
            continue;
        };
        let from = birth.max(date(1985, 1, 1)) + chrono::Days::new(next() % 9000);
        let Ok(k) = CardKey::new(num, from) else {
            continue;
        };
        // Cards still valid (an expired card answers `expired`, tested on its own).
        let soon = chrono::Utc::now().date_naive() + chrono::Days::new(30);
        if k.valid_until().is_some_and(|u| u < soon) {
            continue;
        }
        if seen.insert(k) {
            out.push(k);
        }
    }
    out
}

fn entry(i: usize) -> CardEntry {
    let status = [
        CardStatus::Lost,
        CardStatus::Stolen,
        CardStatus::Superseded,
        CardStatus::Invalidated,
    ][i % 4];
    CardEntry {
        status,
        reason: CardReason::new((i % 32) as u8).unwrap(),
        changed_on: if i.is_multiple_of(3) {
            None
        } else {
            Some(date(2010, 1, 1) + chrono::Days::new(i as u64 % 5000))
        },
    }
}

fn as_of() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn build(
    dir: &Path,
    name: &str,
    profile: Profile,
    cards: &[(CardKey, CardEntry)],
    bl: &[(IdNumber, BlacklistEntry)],
    seq: u64,
) -> (PathBuf, SnapshotInfo) {
    let path = dir.join(name);
    let mut b = SnapshotBuilder::new(profile);
    b.as_of(as_of()).journal_seq(seq);
    b.extend_cards(cards.iter().copied());
    b.extend_blacklist(bl.iter().copied());
    let info = b.write(&path).unwrap();
    (path, info)
}

#[test]
fn l3_listed_cards_answer_their_entry_and_others_valid() {
    for mode in [FilterMode::Always, FilterMode::Never] {
        listed_cards_answer_their_entry(mode);
    }
}

fn listed_cards_answer_their_entry(mode: FilterMode) {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(5000, 1);
    let cards: Vec<_> = ks[..2500]
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, entry(i)))
        .collect();
    let path = dir.path().join("s.idcs");
    // The police profile keeps reasons and dates (a bank's holds the status only:
    // s2_a_bank_snapshot_holds_statuses_only).
    let mut b = SnapshotBuilder::new(Profile::Police);
    b.extend_cards(cards.iter().copied()).filter(mode);
    let info = b.write(&path).unwrap();
    assert_eq!(info.card_count, 2500);
    assert_eq!(
        info.sections.iter().any(|s| s.kind == "filter"),
        mode == FilterMode::Always
    );
    assert!(info.bytes_per_card() <= 16.5, "{}", info.bytes_per_card());
    let v = Verifier::open_with(&path, VerifierOptions::unsigned()).unwrap();
    for (k, e) in &cards {
        assert_eq!(v.verify(*k), e.status);
        assert_eq!(v.card_entry(*k), Some(*e));
    }
    for k in &ks[2500..] {
        assert_eq!(v.verify(*k), CardStatus::Valid);
        assert_eq!(v.card_entry(*k), None);
    }
    // Batch paths agree with the one-at-a-time path.
    let mut out = vec![CardStatus::Valid; ks.len()];
    v.verify_batch(&ks, &mut out);
    let one: Vec<_> = ks.iter().map(|k| v.verify(*k)).collect();
    assert_eq!(out, one);
    let packed: Vec<u8> = ks.iter().flat_map(|k| k.number().to_ascii()).collect();
    let dates: Vec<u32> = ks
        .iter()
        .map(|k| k.valid_from().format("%Y%m%d").to_string().parse().unwrap())
        .collect();
    let mut out2 = vec![CardStatus::Valid; ks.len()];
    v.verify_batch_packed(&packed, &dates, &mut out2);
    assert_eq!(out2, one);
    let strs: Vec<String> = ks
        .iter()
        .map(|k| k.number().to_string().to_lowercase())
        .collect();
    let froms: Vec<NaiveDate> = ks.iter().map(|k| k.valid_from()).collect();
    let mut out3 = vec![CardStatus::Valid; ks.len()];
    v.verify_batch_str(&strs, &froms, &mut out3);
    assert_eq!(out3, one);
}

#[test]
fn n4_reporting_one_card_lost_leaves_the_replacement_valid() {
    let dir = tempfile::tempdir().unwrap();
    let n: IdNumber = "11010519491231002X".parse().unwrap();
    let old = CardKey::new(n, date(2005, 6, 1)).unwrap();
    let new = CardKey::new(n, date(2015, 6, 1)).unwrap();
    let (path, _) = build(
        dir.path(),
        "s.idcs",
        Profile::Bank,
        &[(old, CardEntry::new(CardStatus::Lost))],
        &[],
        0,
    );
    let v = Verifier::open_with(path, VerifierOptions::unsigned()).unwrap();
    assert_eq!(v.verify(old), CardStatus::Lost);
    assert_eq!(v.verify(new), CardStatus::Valid);
}

#[test]
fn n1_invalid_numbers_and_dates_answer_invalid_number() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(dir.path(), "s.idcs", Profile::Bank, &[], &[], 0);
    let v = Verifier::open_with(path, VerifierOptions::unsigned()).unwrap();
    assert_eq!(
        v.verify_number_yyyymmdd(b"110105194912310021", 20050601),
        CardStatus::InvalidNumber
    );
    assert_eq!(
        v.verify_number_yyyymmdd(b"11010519491231002X", 20050631),
        CardStatus::InvalidNumber
    );
    assert_eq!(
        v.verify_number_yyyymmdd(b"11010519491231002X", 19400101),
        CardStatus::InvalidNumber
    );
    assert_eq!(
        v.verify_number_yyyymmdd(b"\xff\xfe", 20050601),
        CardStatus::InvalidNumber
    );
    assert_eq!(
        v.verify_number_yyyymmdd(b"11010519491231002x", 20050601),
        CardStatus::Valid
    );
    assert_eq!(
        v.verify_number(" 110105491231002 ".as_bytes(), date(2005, 6, 1)),
        CardStatus::Valid
    );
    let mut out = [CardStatus::Valid; 2];
    v.verify_batch_packed(
        b"110105194912310021\xff10105194912310021",
        &[20050601, 20050601],
        &mut out,
    );
    assert_eq!(out, [CardStatus::InvalidNumber; 2]);
}

#[test]
fn a6_police_blacklist_and_bank_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(300, 2);
    let bl: Vec<_> = ks[..100]
        .iter()
        .enumerate()
        .map(|(i, k)| {
            (
                k.number(),
                BlacklistEntry {
                    reasons: if i % 2 == 0 {
                        BlacklistReasons::BAD_CREDIT
                    } else {
                        BlacklistReasons::FORGED | BlacklistReasons::PASSPORT
                    },
                    source: if i % 2 == 0 {
                        BlacklistSource::CreditPlatform
                    } else {
                        BlacklistSource::PublicSecurity
                    },
                    listed_on: Some(date(2018, 1, 1)),
                },
            )
        })
        .collect();
    let (path, info) = build(dir.path(), "p.idcs", Profile::Police, &[], &bl, 0);
    assert_eq!(info.blacklist_count, 100);
    let v = Verifier::open_with(&path, VerifierOptions::unsigned()).unwrap();
    for (n, e) in &bl {
        assert_eq!(v.blacklist_check(*n).unwrap(), Some(*e));
    }
    for k in &ks[100..] {
        assert_eq!(v.blacklist_check(k.number()).unwrap(), None);
    }
    // Bank: no blacklist section, and asking is a typed error.
    let (bank, info) = build(dir.path(), "b.idcs", Profile::Bank, &[], &[], 0);
    assert!(info.sections.iter().all(|s| s.kind != "blacklist"));
    let v = Verifier::open_with(bank, VerifierOptions::unsigned()).unwrap();
    assert!(matches!(
        v.blacklist_check(ks[0].number()),
        Err(IndexError::NoBlacklist {
            profile: Profile::Bank
        })
    ));
    // A bank builder given blacklist entries refuses.
    let mut b = SnapshotBuilder::new(Profile::Bank);
    b.extend_blacklist(bl.iter().copied());
    assert!(matches!(
        b.write(dir.path().join("x.idcs")),
        Err(IndexError::InvalidInput(_))
    ));
    assert!(!dir.path().join("x.idcs").exists());
}

#[test]
fn l3_builder_is_deterministic_and_order_independent() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(3000, 3);
    let mut cards: Vec<_> = ks.iter().enumerate().map(|(i, k)| (*k, entry(i))).collect();
    let (a, _) = build(dir.path(), "a.idcs", Profile::Bank, &cards, &[], 1);
    cards.reverse();
    let (b, _) = build(dir.path(), "b.idcs", Profile::Bank, &cards, &[], 1);
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

#[test]
fn l3_duplicates_and_unlistable_statuses_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(3, 4);
    let mut b = SnapshotBuilder::new(Profile::Bank);
    b.add_card(ks[0], entry(0))
        .add_card(ks[1], entry(1))
        .add_card(ks[0], entry(2));
    match b.write(dir.path().join("d.idcs")) {
        Err(IndexError::InvalidInput(m)) => assert!(m.contains("#1 and #3"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut b = SnapshotBuilder::new(Profile::Bank);
    b.add_card(ks[0], CardEntry::new(CardStatus::Valid));
    assert!(matches!(
        b.write(dir.path().join("v.idcs")),
        Err(IndexError::InvalidInput(_))
    ));
}

#[test]
fn l3_known_cards_are_proven_valid() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(20_000, 5);
    let mut b = SnapshotBuilder::new(Profile::Bank);
    b.extend_cards(ks[..200].iter().enumerate().map(|(i, k)| (*k, entry(i))));
    b.known_cards(ks.iter().copied());
    let path = dir.path().join("k.idcs");
    b.write(&path).unwrap();
    let v = Verifier::open_with(path, VerifierOptions::unsigned()).unwrap();
    assert!(ks[200..].iter().all(|k| v.verify(*k) == CardStatus::Valid));
}

#[test]
fn l3_a_directory_of_deltas_applies_in_sequence_order_skipping_others() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(100, 7);
    let (path, info) = build(dir.path(), "s.idcs", Profile::Bank, &[], &[], 10);
    let (_, other) = build(
        dir.path(),
        "o.idcs",
        Profile::Bank,
        &[(ks[9], CardEntry::new(CardStatus::Lost))],
        &[],
        10,
    );
    assert_ne!(info.snapshot_id, other.snapshot_id);
    let deltas = dir.path().join("deltas");
    std::fs::create_dir(&deltas).unwrap();
    let write = |name: &str, base: &SnapshotInfo, from: u64, to: u64, k: usize, s: CardStatus| {
        let mut d = DeltaBuilder::new(base, from, to);
        d.set_card(ks[k], CardEntry::new(s)).unwrap();
        d.build().write(deltas.join(name), None).unwrap();
    };
    // Names out of sequence order on purpose; one for another snapshot; one already covered
    // by the snapshot (to 10); a file that is not a delta.
    write("b.idcd", &info, 12, 15, 0, CardStatus::Superseded);
    write("a.idcd", &info, 10, 12, 0, CardStatus::Lost);
    write("c.idcd", &other, 10, 11, 1, CardStatus::Stolen);
    write("old.idcd", &info, 9, 10, 2, CardStatus::Stolen);
    std::fs::write(deltas.join("README.txt"), "not a delta").unwrap();
    let v = Verifier::open_with(&path, VerifierOptions::unsigned()).unwrap();
    assert_eq!(v.apply_delta_dir(&deltas).unwrap().applied, 2);
    assert_eq!(
        v.verify(ks[0]),
        CardStatus::Superseded,
        "a then b, not b then a"
    );
    assert_eq!(
        v.verify(ks[1]),
        CardStatus::Valid,
        "another snapshot's delta skipped"
    );
    assert_eq!(
        v.verify(ks[2]),
        CardStatus::Valid,
        "a covered delta skipped"
    );
    assert_eq!(v.info().journal_seq, 15);
    // Again: everything is covered now.
    assert_eq!(v.apply_delta_dir(&deltas).unwrap().applied, 0);

    // A gap: the file that does not follow is reported by name with the reason; what came
    // before is applied.
    write("e.idcd", &info, 16, 17, 3, CardStatus::Lost);
    let r = v.apply_delta_dir(&deltas).unwrap();
    assert_eq!(r.applied, 0);
    assert_eq!(r.skipped.len(), 1, "{r:?}");
    assert_eq!(r.skipped[0].name, "e.idcd");
    assert!(r.skipped[0].reason.contains("out of order"), "{r:?}");
    // A damaged file is reported by name, and the good files after it still apply.
    std::fs::write(deltas.join("f.idcd"), b"IDCD broken").unwrap();
    let v2 = Verifier::open_with(&path, VerifierOptions::unsigned()).unwrap();
    let r = v2.apply_delta_dir(&deltas).unwrap();
    assert_eq!(r.applied, 2, "{r:?}");
    assert!(r.skipped.iter().any(|s| s.name == "f.idcd"), "{r:?}");
    // Not a directory.
    assert!(matches!(
        v.apply_delta_dir(dir.path().join("missing")),
        Err(IndexError::Io { .. })
    ));
}

#[test]
fn l3_deltas_apply_in_order_and_refuse_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(100, 6);
    let (path, info) = build(
        dir.path(),
        "s.idcs",
        Profile::Police,
        &[(ks[0], CardEntry::new(CardStatus::Lost))],
        &[],
        10,
    );
    let v = Verifier::open_with(&path, VerifierOptions::unsigned()).unwrap();
    let mut d1 = DeltaBuilder::new(&info, 10, 12);
    d1.clear_card(ks[0]); // recovered through lost-and-found
    d1.set_card(ks[1], CardEntry::new(CardStatus::Stolen))
        .unwrap();
    d1.set_blacklist(
        ks[2].number(),
        BlacklistEntry::new(BlacklistReasons::BAD_CREDIT),
    )
    .unwrap();
    let d1 = d1.build();
    let mut d2 = DeltaBuilder::new(&info, 12, 13);
    d2.clear_blacklist(ks[2].number()).unwrap();
    let d2 = d2.build();
    // d2 before d1: refused, nothing changes.
    assert!(matches!(
        v.apply_delta(&d2),
        Err(IndexError::DeltaOutOfOrder {
            expected_from: 10,
            found_from: 12,
            ..
        })
    ));
    assert_eq!(v.verify(ks[0]), CardStatus::Lost);
    v.apply_delta(&d1).unwrap();
    assert_eq!(v.verify(ks[0]), CardStatus::Valid);
    assert_eq!(v.verify(ks[1]), CardStatus::Stolen);
    assert!(v.blacklist_check(ks[2].number()).unwrap().is_some());
    // d1 again: refused.
    assert!(matches!(
        v.apply_delta(&d1),
        Err(IndexError::DeltaOutOfOrder { .. })
    ));
    let p2 = dir.path().join("d2.idcd");
    d2.write(&p2, None).unwrap();
    v.apply_delta_file(&p2).unwrap();
    assert_eq!(v.blacklist_check(ks[2].number()).unwrap(), None);
    let info = v.info();
    assert_eq!((info.journal_seq, info.deltas_applied), (13, 2));
    // A delta for another snapshot is refused.
    let (_, other) = build(dir.path(), "o.idcs", Profile::Police, &[], &[], 13);
    let d3 = DeltaBuilder::new(&other, 13, 14).build();
    assert!(matches!(
        v.apply_delta(&d3),
        Err(IndexError::DeltaOutOfOrder { .. })
    ));
    // Bank deltas cannot carry blacklist changes.
    let (_, bank) = build(dir.path(), "b.idcs", Profile::Bank, &[], &[], 0);
    let mut db = DeltaBuilder::new(&bank, 0, 1);
    assert!(
        db.set_blacklist(
            ks[0].number(),
            BlacklistEntry::new(BlacklistReasons::FORGED)
        )
        .is_err()
    );
}

#[test]
fn l3_swap_to_newer_snapshot_and_refuse_older() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(10, 7);
    let (p1, info1) = build(
        dir.path(),
        "1.idcs",
        Profile::Bank,
        &[(ks[0], CardEntry::new(CardStatus::Lost))],
        &[],
        5,
    );
    let (p2, _) = build(
        dir.path(),
        "2.idcs",
        Profile::Bank,
        &[(ks[1], CardEntry::new(CardStatus::Lost))],
        &[],
        9,
    );
    let v = Verifier::open_with(&p1, VerifierOptions::unsigned()).unwrap();
    v.apply_delta(&DeltaBuilder::new(&info1, 5, 7).build())
        .unwrap();
    v.swap_snapshot(&p2).unwrap();
    assert_eq!(v.verify(ks[0]), CardStatus::Valid);
    assert_eq!(v.verify(ks[1]), CardStatus::Lost);
    assert!(matches!(
        v.swap_snapshot(&p1),
        Err(IndexError::DeltaOutOfOrder { .. })
    ));
    assert_eq!(v.verify(ks[1]), CardStatus::Lost);
}

#[test]
fn l3_stale_snapshot_answers_stale_for_unlisted_cards() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(2, 8);
    let path = dir.path().join("old.idcs");
    let mut b = SnapshotBuilder::new(Profile::Bank);
    b.as_of(Utc::now() - chrono::Duration::days(2));
    b.add_card(ks[0], CardEntry::new(CardStatus::Lost));
    let info = b.write(&path).unwrap();
    let opts = VerifierOptions {
        max_age: Some(Duration::from_secs(86_400)),
        ..VerifierOptions::unsigned()
    };
    let v = Verifier::open_with(&path, opts).unwrap();
    assert!(v.info().stale);
    assert_eq!(
        v.verify(ks[0]),
        CardStatus::Lost,
        "listed cards keep their status"
    );
    assert_eq!(v.verify(ks[1]), CardStatus::Stale);
    let mut out = [CardStatus::Valid; 2];
    v.verify_batch(&ks, &mut out);
    assert_eq!(out, [CardStatus::Lost, CardStatus::Stale]);
    // A fresh delta makes the data fresh again.
    v.apply_delta(&DeltaBuilder::new(&info, 0, 1).build())
        .unwrap();
    assert!(!v.info().stale);
    assert_eq!(v.verify(ks[1]), CardStatus::Valid);
    // Without a maximum age, never stale.
    let v = Verifier::open_with(&path, VerifierOptions::unsigned()).unwrap();
    assert_eq!(v.verify(ks[1]), CardStatus::Valid);
}

/// Every single-byte flip and every truncation of a small snapshot is a typed error (S1: a
/// damaged file is never read as data), never a panic.
#[test]
fn l3_every_byte_flip_and_truncation_of_a_snapshot_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(40, 9);
    let cards: Vec<_> = ks[..20]
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, entry(i)))
        .collect();
    let bl: Vec<_> = ks[20..30]
        .iter()
        .map(|k| {
            (
                k.number(),
                BlacklistEntry::new(BlacklistReasons::BAD_CREDIT),
            )
        })
        .collect();
    let (path, _) = build(dir.path(), "s.idcs", Profile::Police, &cards, &bl, 3);
    let bytes = std::fs::read(&path).unwrap();
    assert!(Snapshot::from_bytes(&bytes).is_ok());
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            let r = std::panic::catch_unwind(|| Snapshot::from_bytes(&b));
            match r {
                Ok(Err(_)) => {}
                Ok(Ok(_)) => panic!("flip of byte {i} bit {bit:#x} was accepted"),
                Err(_) => panic!("flip of byte {i} panicked"),
            }
        }
    }
    for len in 0..bytes.len() {
        let e = Snapshot::from_bytes(&bytes[..len]).unwrap_err();
        let msg = e.to_string();
        assert!(!msg.is_empty());
    }
    // On disk too, through the mmap path: truncated files.
    for len in [0, 7, 8, 100, 255, 256, bytes.len() - 1] {
        let p = dir.path().join(format!("t{len}.idcs"));
        std::fs::write(&p, &bytes[..len]).unwrap();
        assert!(
            Snapshot::open(&p, &OpenOptions::unsigned()).is_err(),
            "{len}"
        );
    }
    // The error names the file and the place.
    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    let p = dir.path().join("flipped.idcs");
    std::fs::write(&p, &b).unwrap();
    let msg = Snapshot::open(&p, &OpenOptions::unsigned())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("flipped.idcs") && msg.contains("blacklist") && msg.contains("checksum"),
        "{msg}"
    );
    // A foreign file and a newer version.
    std::fs::write(&p, b"PK\x03\x04 not a snapshot").unwrap();
    assert!(matches!(
        Snapshot::open(&p, &OpenOptions::unsigned()),
        Err(IndexError::BadMagic { .. })
    ));
    let mut b = bytes.clone();
    b[8] = 4;
    std::fs::write(&p, &b).unwrap();
    assert!(matches!(
        Snapshot::open(&p, &OpenOptions::unsigned()),
        Err(IndexError::UnsupportedVersion { found: 4, .. })
    ));
}

#[test]
fn l3_every_byte_flip_and_truncation_of_a_delta_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(10, 10);
    let (_, info) = build(dir.path(), "s.idcs", Profile::Police, &[], &[], 0);
    let mut d = DeltaBuilder::new(&info, 0, 5);
    d.created_at(1_700_000_000);
    d.set_card(ks[0], entry(1)).unwrap().clear_card(ks[1]);
    d.set_blacklist(
        ks[2].number(),
        BlacklistEntry::new(BlacklistReasons::TRADED | BlacklistReasons::IDENTITY_CARD),
    )
    .unwrap();
    d.clear_blacklist(ks[3].number()).unwrap();
    let bytes = d.build().encode();
    assert!(Delta::decode("d", &bytes).is_ok());
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            assert!(
                Delta::decode("d", &b).is_err(),
                "flip of byte {i} bit {bit:#x} accepted"
            );
        }
    }
    for len in 0..bytes.len() {
        assert!(
            Delta::decode("d", &bytes[..len]).is_err(),
            "truncation to {len} accepted"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Delta::decode("d", &longer).is_err());
}

/// Golden files: version 1 (main up to c5b267a) and version 2 (signed, with the split-block
/// filter, main up to b5db3c1) still read; version 3 (the one-word filter) is what the builder
/// writes for a fixed input, byte for byte. A change of format is a decision: bump the version,
/// add a golden file; regenerate the current one with IDCARD_BLESS=1.
#[test]
fn golden_snapshot_and_delta_v1_v2_read_and_v3_written() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let n1: IdNumber = "11010519491231002X".parse().unwrap();
    let n2: IdNumber = "440524188001010014".parse().unwrap();
    let k1 = CardKey::new(n1, date(2005, 6, 1)).unwrap();
    let k2 = CardKey::new(n1, date(2015, 6, 1)).unwrap();
    let k3 = CardKey::new(n2, date(1990, 1, 2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.idcs");
    let mut b = SnapshotBuilder::new(Profile::Police);
    b.as_of(as_of()).journal_seq(42).seed(0x1dca_4d00);
    b.add_card(
        k1,
        CardEntry {
            status: CardStatus::Lost,
            reason: CardReason::REPORTED_AWAY,
            changed_on: Some(date(2016, 3, 4)),
        },
    );
    b.add_card(k3, CardEntry::new(CardStatus::Superseded));
    b.add_blacklist(
        n2,
        BlacklistEntry {
            reasons: BlacklistReasons::FORGED | BlacklistReasons::IDENTITY_CARD,
            source: BlacklistSource::PublicSecurity,
            listed_on: Some(date(2017, 7, 1)),
        },
    );
    let info = b.write(&path).unwrap();
    let mut d = DeltaBuilder::new(&info, 42, 43);
    d.created_at(1_700_000_100);
    let _ = &path;
    d.clear_card(k1)
        .set_card(k2, CardEntry::new(CardStatus::Stolen))
        .unwrap();
    let delta = d.build();
    // Version 1 files (main up to c5b267a) are read as they are: unsigned, so only with
    // unsigned files allowed.
    let v =
        Verifier::open_with(golden.join("snapshot-v1.idcs"), VerifierOptions::unsigned()).unwrap();
    assert_eq!(v.info().snapshot.format_version, 1);
    assert_eq!(v.info().snapshot.journal_seq, 42);
    assert_eq!(v.verify(k1), CardStatus::Lost);
    assert_eq!(v.card_entry(k1).unwrap().changed_on, Some(date(2016, 3, 4)));
    assert_eq!(v.verify(k3), CardStatus::Superseded);
    assert_eq!(
        v.blacklist_check(n2).unwrap().unwrap().source,
        BlacklistSource::PublicSecurity
    );
    v.apply_delta_file(golden.join("delta-v1.idcd")).unwrap();
    assert_eq!(v.verify(k1), CardStatus::Valid);
    assert_eq!(v.verify(k2), CardStatus::Stolen);
    let trust = VerifierOptions::trusting(test_trust());
    assert!(matches!(
        Verifier::open_with(golden.join("snapshot-v1.idcs"), trust.clone()),
        Err(IndexError::Trust {
            source: idcard::trust::TrustError::Unsigned,
            ..
        })
    ));

    // Version 2, signed, with the split-block filter (read, not used): the same answers.
    let trust = VerifierOptions {
        max_age: None,
        ..trust
    };
    // A signed golden snapshot of a version, with its filter's kind, and the delta on it: the
    // same answers before and after the delta.
    let check_signed = |snapshot: &str, version: u32, filter: &str, delta: &str| {
        let v = Verifier::open_with(golden.join(snapshot), trust.clone()).unwrap();
        assert_eq!(v.info().snapshot.format_version, version);
        assert!(v.info().snapshot.signature.is_verified());
        assert!(v.info().snapshot.sections.iter().any(|s| s.kind == filter));
        assert_eq!(v.verify(k1), CardStatus::Lost);
        assert_eq!(v.verify(k3), CardStatus::Superseded);
        assert_eq!(v.verify(k2), CardStatus::Valid);
        assert_eq!(
            v.blacklist_check(n2).unwrap().unwrap().source,
            BlacklistSource::PublicSecurity
        );
        v.apply_delta_file(golden.join(delta)).unwrap();
        assert_eq!(v.verify(k1), CardStatus::Valid);
        assert_eq!(v.verify(k2), CardStatus::Stolen);
        assert_eq!(v.info().deltas_verified, 1);
    };
    check_signed("snapshot-v2.idcs", 2, "filter-v2", "delta-v2.idcd");

    // Version 3, signed: the same content with the one-word filter. The delta format is
    // unchanged (version 2); its golden file for this snapshot differs from delta-v2.idcd only
    // in the snapshot id it names.
    b.signer(std::sync::Arc::new(test_signer()));
    b.write(&path).unwrap();
    let snap = std::fs::read(&path).unwrap();
    let delta = delta.encode_signed(Some(&test_signer())).unwrap();
    if std::env::var_os("IDCARD_BLESS").is_some() {
        std::fs::write(golden.join("snapshot-v3.idcs"), &snap).unwrap();
        std::fs::write(golden.join("delta-on-snapshot-v3.idcd"), &delta).unwrap();
    }
    let want_snap = std::fs::read(golden.join("snapshot-v3.idcs"))
        .expect("golden snapshot (IDCARD_BLESS=1 to create)");
    let want_delta = std::fs::read(golden.join("delta-on-snapshot-v3.idcd")).expect("golden delta");
    assert_eq!(
        snap, want_snap,
        "snapshot bytes changed: a format change needs a new version"
    );
    assert_eq!(
        delta, want_delta,
        "delta bytes changed: a format change needs a new version"
    );
    check_signed("snapshot-v3.idcs", 3, "filter", "delta-on-snapshot-v3.idcd");
}

/// The test root key (fixed seed, so golden files are deterministic).
fn test_root() -> idcard::trust::SecretKey {
    idcard::trust::SecretKey::from_seed(idcard::trust::Algorithm::Ed25519, [1; 32], "test root")
}

/// The trust file pinning the test root.
fn test_trust() -> idcard::trust::TrustStore {
    idcard::trust::TrustStore::new(vec![test_root().public()])
}

/// The test publishing key, certified by the test root for 2020-2100.
fn test_signer() -> idcard::trust::Signer {
    use idcard::trust::*;
    let key = SecretKey::from_seed(Algorithm::Ed25519, [2; 32], "test publisher");
    let t = |y| chrono::TimeZone::with_ymd_and_hms(&Utc, y, 1, 1, 0, 0, 0).unwrap();
    let cert = KeyCertificate::issue(
        &test_root(),
        &key.public(),
        Roles::PUBLISH,
        t(2020),
        t(2100),
    )
    .unwrap();
    key.signer(Some(cert))
}

/// S2: no plaintext identity number in a bank snapshot or a delta: neither the 18 ASCII
/// characters nor the compact encodings of numbers and card keys appear in the bytes.
#[test]
fn s2_no_plaintext_numbers_in_snapshots_or_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(500, 11);
    let cards: Vec<_> = ks.iter().enumerate().map(|(i, k)| (*k, entry(i))).collect();
    let (path, info) = build(dir.path(), "b.idcs", Profile::Bank, &cards, &[], 0);
    let mut d = DeltaBuilder::new(&info, 0, 1);
    for (k, _) in &cards[..50] {
        d.clear_card(*k);
    }
    let delta = d.build().encode();
    for bytes in [std::fs::read(&path).unwrap(), delta] {
        for k in &ks {
            let n = k.number();
            let needles: [Vec<u8>; 4] = [
                n.to_ascii().to_vec(),
                n.to_ascii()[..17].to_vec(),
                n.to_u64().to_le_bytes()[..6].to_vec(),
                k.to_u64().to_le_bytes().to_vec(),
            ];
            for needle in &needles {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == &needle[..]),
                    "found {needle:?}"
                );
            }
        }
    }
}

/// Readers never see a change go back, while deltas apply and snapshots swap.
#[test]
fn l3_concurrent_readers_see_changes_monotonically() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(2000, 12);
    let (p0, info0) = build(dir.path(), "0.idcs", Profile::Bank, &[], &[], 0);
    let v = Arc::new(Verifier::open_with(&p0, VerifierOptions::unsigned()).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    // The writer lists card i in step i (a delta per card), swapping to a full snapshot every
    // 500 steps. Once a reader saw card i lost, it must keep seeing it lost. Readers query in
    // descending order, so a card read later was listed no later than one read earlier: the
    // lost cards always form a prefix.
    let readers: Vec<_> = (0..4)
        .map(|t| {
            let (v, done, ks) = (Arc::clone(&v), Arc::clone(&done), ks.clone());
            std::thread::spawn(move || {
                let mut seen_lost = vec![false; ks.len()];
                let mut out = vec![CardStatus::Valid; ks.len()];
                let reversed: Vec<CardKey> = ks.iter().rev().copied().collect();
                let mut rounds = 0u64;
                while !done.load(Ordering::Acquire) || rounds < 3 {
                    if (rounds + t).is_multiple_of(2) {
                        v.verify_batch(&reversed, &mut out);
                        out.reverse();
                    } else {
                        for (i, k) in ks.iter().enumerate().rev() {
                            out[i] = v.verify(*k);
                        }
                    }
                    // Listing happens in index order: the lost prefix can only grow.
                    let prefix = out.iter().take_while(|s| **s == CardStatus::Lost).count();
                    assert!(
                        out[prefix..].iter().all(|s| *s == CardStatus::Valid),
                        "a later card listed before an earlier one"
                    );
                    for (i, s) in out.iter().enumerate() {
                        if seen_lost[i] {
                            assert_eq!(*s, CardStatus::Lost, "card {i} went back to valid");
                        }
                        seen_lost[i] |= *s == CardStatus::Lost;
                    }
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();
    let mut info = info0;
    let mut seq = 0;
    for (i, k) in ks.iter().enumerate() {
        let mut d = DeltaBuilder::new(&info, seq, seq + 1);
        d.set_card(*k, CardEntry::new(CardStatus::Lost)).unwrap();
        v.apply_delta(&d.build()).unwrap();
        seq += 1;
        // An applied change is visible to every later read.
        assert_eq!(v.verify(*k), CardStatus::Lost);
        if (i + 1) % 500 == 0 {
            let cards: Vec<_> = ks[..=i]
                .iter()
                .map(|k| (*k, CardEntry::new(CardStatus::Lost)))
                .collect();
            let (p, new_info) = build(
                dir.path(),
                &format!("{i}.idcs"),
                Profile::Bank,
                &cards,
                &[],
                seq,
            );
            v.swap_snapshot(&p).unwrap();
            info = new_info;
        }
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() >= 3);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Set(usize, usize),
    Clear(usize),
    BlSet(usize, u8),
    BlClear(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..60, 0usize..4).prop_map(|(k, s)| Op::Set(k, s)),
        (0usize..60).prop_map(Op::Clear),
        (0usize..60, 1u8..4).prop_map(|(k, r)| Op::BlSet(k, r)),
        (0usize..60).prop_map(Op::BlClear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Snapshot + deltas answer exactly like a HashMap model of the same records and changes.
    #[test]
    fn l3_verifier_matches_hashmap_model(
        initial in proptest::collection::btree_map(0usize..60, 0usize..4, 0..40),
        initial_bl in proptest::collection::btree_map(0usize..60, 1u8..4, 0..20),
        deltas in proptest::collection::vec(proptest::collection::vec(op(), 0..20), 0..6),
    ) {
        let ks = keys(60, 13);
        let dir = tempfile::tempdir().unwrap();
        let cards: Vec<_> = initial.iter().map(|(&k, &s)| (ks[k], entry(s))).collect();
        let reasons = |r: u8| BlacklistReasons::from_bits(r as u32).unwrap();
        let bl: Vec<_> = initial_bl.iter().map(|(&k, &r)| (ks[k].number(), BlacklistEntry::new(reasons(r)))).collect();
        let (path, info) = build(dir.path(), "m.idcs", Profile::Police, &cards, &bl, 100);
        let v = Verifier::open_with(&path, VerifierOptions::unsigned()).unwrap();
        let mut model: HashMap<CardKey, CardEntry> = cards.iter().copied().collect();
        let mut bl_model: HashMap<IdNumber, BlacklistEntry> = bl.iter().copied().collect();
        for (seq, ops) in (100u64..).zip(deltas) {
            let mut d = DeltaBuilder::new(&info, seq, seq + 1);
            for op in ops {
                match op {
                    Op::Set(k, s) => { d.set_card(ks[k], entry(s)).unwrap(); model.insert(ks[k], entry(s)); }
                    Op::Clear(k) => { d.clear_card(ks[k]); model.remove(&ks[k]); }
                    Op::BlSet(k, r) => {
                        let e = BlacklistEntry::new(reasons(r));
                        d.set_blacklist(ks[k].number(), e).unwrap();
                        bl_model.insert(ks[k].number(), e);
                    }
                    Op::BlClear(k) => { d.clear_blacklist(ks[k].number()).unwrap(); bl_model.remove(&ks[k].number()); }
                }
            }
            v.apply_delta(&d.build()).unwrap();
        }
        let mut batch = vec![CardStatus::Valid; ks.len()];
        v.verify_batch(&ks, &mut batch);
        for (i, k) in ks.iter().enumerate() {
            let want = model.get(k).map_or(CardStatus::Valid, |e| e.status);
            prop_assert_eq!(v.verify(*k), want);
            prop_assert_eq!(batch[i], want);
            prop_assert_eq!(v.card_entry(*k), model.get(k).copied());
            prop_assert_eq!(v.blacklist_check(k.number()).unwrap(), bl_model.get(&k.number()).copied());
        }
    }
}

/// S2: a bank snapshot and a bank delta hold a card's status only — no reason, no date — while
/// the police profile keeps them.
#[test]
fn s2_a_bank_snapshot_holds_statuses_only() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keys(3, 21);
    let e = CardEntry {
        status: CardStatus::Lost,
        reason: CardReason::REPORTED_AWAY,
        changed_on: Some(date(2026, 1, 5)),
    };
    let (bank, info) = build(dir.path(), "b.idcs", Profile::Bank, &[(ks[0], e)], &[], 0);
    let (police, _) = build(dir.path(), "p.idcs", Profile::Police, &[(ks[0], e)], &[], 0);
    let vb = Verifier::open_with(&bank, VerifierOptions::unsigned()).unwrap();
    let vp = Verifier::open_with(&police, VerifierOptions::unsigned()).unwrap();
    assert_eq!(vb.card_entry(ks[0]), Some(CardEntry::new(CardStatus::Lost)));
    assert_eq!(vp.card_entry(ks[0]), Some(e));
    let mut d = DeltaBuilder::new(&info, 0, 1);
    d.set_card(ks[1], e).unwrap();
    vb.apply_delta(&d.build()).unwrap();
    assert_eq!(vb.card_entry(ks[1]), Some(CardEntry::new(CardStatus::Lost)));
}

/// The card keys the spilled-build property test draws from.
fn spill_pool() -> &'static [CardKey] {
    static POOL: std::sync::OnceLock<Vec<CardKey>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| keys(6000, 21))
}

/// Build the same input in memory and spilled (in groups of `group_bytes`), return both files'
/// bytes (or both errors' texts).
#[allow(clippy::too_many_arguments)]
fn in_memory_and_spilled(
    profile: Profile,
    mode: FilterMode,
    cards: &[(CardKey, CardEntry)],
    known: &[CardKey],
    bl: &[(IdNumber, BlacklistEntry)],
    group_bytes: usize,
    signed: bool,
) -> [Result<Vec<u8>, String>; 2] {
    let dir = tempfile::tempdir().unwrap();
    let spill_dir = tempfile::tempdir().unwrap();
    [false, true].map(|spill| {
        let mut b = SnapshotBuilder::new(profile);
        b.as_of(as_of()).journal_seq(9).filter(mode);
        if signed {
            b.signer(Arc::new(test_signer()));
        }
        // Half the cards before spilling starts: they move to the files.
        let (early, late) = cards.split_at(cards.len() / 2);
        b.extend_cards(early.iter().copied());
        if spill {
            b.spill_to(spill_dir.path()).unwrap();
            b.spill_group_bytes(group_bytes);
        }
        for (k, e) in late {
            b.add_card(*k, *e);
        }
        b.known_cards(known.iter().copied());
        b.extend_blacklist(bl.iter().copied());
        assert_eq!(b.card_count(), cards.len());
        let path = dir.path().join(if spill { "s.idcs" } else { "m.idcs" });
        let out = b
            .write(&path)
            .map(|_| std::fs::read(&path).unwrap())
            .map_err(|e| e.to_string());
        drop(b);
        // The spill files have no names: nothing is left behind.
        assert_eq!(std::fs::read_dir(spill_dir.path()).unwrap().count(), 0);
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// L3 at national scale: a build from spilled cards, in groups of any size, writes exactly
    /// the bytes of a build in memory (the model), and answers every card as listed.
    #[test]
    fn l3_a_spilled_build_writes_the_same_bytes_as_one_in_memory(
        listed in proptest::collection::btree_map(0usize..6000, 0usize..4, 0..2500),
        known in proptest::collection::btree_set(0usize..6000, 0..3000),
        blacklisted in proptest::collection::btree_set(0usize..6000, 0..50),
        group_entries in 1usize..3000,
        police in any::<bool>(),
        filter in any::<bool>(),
        signed in any::<bool>(),
    ) {
        let ks = spill_pool();
        let cards: Vec<_> = listed.iter().map(|(&k, &s)| (ks[k], entry(s))).collect();
        let known: Vec<_> = known.iter().map(|&k| ks[k]).collect();
        let profile = if police { Profile::Police } else { Profile::Bank };
        let bl: Vec<_> = if police {
            blacklisted.iter().map(|&k| (ks[k].number(), BlacklistEntry::new(BlacklistReasons::FORGED))).collect()
        } else {
            Vec::new()
        };
        let mode = if filter { FilterMode::Always } else { FilterMode::Never };
        let [memory, spilled] =
            in_memory_and_spilled(profile, mode, &cards, &known, &bl, group_entries * 16, signed);
        let memory = memory.unwrap();
        prop_assert!(spilled.as_ref() == Ok(&memory), "spilled build differs from the model");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.idcs");
        std::fs::write(&path, &memory).unwrap();
        let options = if signed {
            // The as-of time is fixed in the past: no maximum age here (staleness is tested
            // on its own).
            VerifierOptions { max_age: None, ..VerifierOptions::trusting(test_trust()) }
        } else {
            VerifierOptions::unsigned()
        };
        let v = Verifier::open_with(&path, options).unwrap();
        let model: HashMap<CardKey, CardStatus> = cards.iter().map(|(k, e)| (*k, e.status)).collect();
        for k in ks.iter().take(6000) {
            prop_assert_eq!(v.verify(*k), model.get(k).copied().unwrap_or(CardStatus::Valid));
        }
    }
}

#[test]
fn l3_a_spilled_build_refuses_duplicates_and_unlistable_statuses_as_in_memory() {
    let ks = keys(3, 4);
    let cards = [(ks[0], entry(0)), (ks[1], entry(1)), (ks[0], entry(2))];
    for group in [16, 1 << 20] {
        let [memory, spilled] = in_memory_and_spilled(
            Profile::Bank,
            FilterMode::Always,
            &cards,
            &[],
            &[],
            group,
            false,
        );
        let m = memory.unwrap_err();
        assert!(m.contains("#1 and #3"), "{m}");
        assert_eq!(spilled.unwrap_err(), m);
    }
    let cards = [
        (ks[0], entry(0)),
        (ks[1], CardEntry::new(CardStatus::Valid)),
    ];
    let [memory, spilled] = in_memory_and_spilled(
        Profile::Bank,
        FilterMode::Always,
        &cards,
        &[],
        &[],
        16,
        false,
    );
    let m = memory.unwrap_err();
    assert!(m.contains("card entry #2"), "{m}");
    assert_eq!(spilled.unwrap_err(), m);
    // A duplicate card and a duplicate blacklist entry: the card's is reported, both ways.
    let cards = [(ks[0], entry(0)), (ks[0], entry(1))];
    let bl = [
        (
            ks[1].number(),
            BlacklistEntry::new(BlacklistReasons::FORGED),
        ),
        (
            ks[1].number(),
            BlacklistEntry::new(BlacklistReasons::FORGED),
        ),
    ];
    let [memory, spilled] = in_memory_and_spilled(
        Profile::Police,
        FilterMode::Always,
        &cards,
        &[],
        &bl,
        16,
        false,
    );
    let m = memory.unwrap_err();
    assert!(m.contains("card entries #1 and #2"), "{m}");
    assert_eq!(spilled.unwrap_err(), m);
}

/// The spilled build at a size where its spill files span several chunks and the finished card
/// table is aligned otherwise than the largest it could have been (under 4 MiB, laid out for
/// more): it is moved into place, and the bytes are still those of the build in memory.
#[test]
fn l3_a_spilled_build_of_220_000_cards_writes_the_same_bytes() {
    let ks = keys(240_000, 22);
    let cards: Vec<_> = ks[..220_000]
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, entry(i)))
        .collect();
    // A police file has a blacklist after the filter: what the moved table leaves behind
    // must be cleared under its empty slots.
    let bl: Vec<_> = ks[..5000]
        .iter()
        .map(|k| (k.number(), BlacklistEntry::new(BlacklistReasons::FORGED)))
        .collect();
    for (profile, bl, group) in [
        (Profile::Bank, &[][..], 1 << 20),
        (Profile::Police, &bl[..], usize::MAX / 2),
    ] {
        let [memory, spilled] = in_memory_and_spilled(
            profile,
            FilterMode::Always,
            &cards,
            &ks[200_000..],
            bl,
            group,
            false,
        );
        assert!(memory.as_ref().unwrap() == spilled.as_ref().unwrap());
    }
}
