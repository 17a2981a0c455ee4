//! The index's code that reads file bytes — header and section parsing, slot decoding, lookups,
//! the filter, deltas — on small in-memory files, sized to run under Miri
//! (`scripts/miri.sh`: `cargo +nightly miri test -p idcard --test mapped_bytes`), which checks
//! the unsafe and `bytemuck` reads for undefined behaviour. It runs in the normal test run too.
//!
//! Memory mapping itself (`Snapshot::open`) is not reachable under Miri; `Snapshot::from_bytes`
//! runs the same parsing and lookups on an owned, aligned copy.

use std::collections::HashMap;

use chrono::NaiveDate;
use idcard::index::*;
use idcard::{CardKey, IdNumber};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn number(i: u32) -> IdNumber {
    let code = idcard::DivisionCode::new([110105, 440106, 310101, 510104][i as usize % 4]).unwrap();
    IdNumber::from_parts(
        code,
        date(1950, 1, 1) + chrono::Days::new(i as u64 * 37),
        (i % 1000) as u16,
    )
    .unwrap()
}

fn key(i: u32) -> CardKey {
    CardKey::new(
        number(i),
        date(2005, 1, 1) + chrono::Days::new(i as u64 * 11),
    )
    .unwrap()
}

/// The snapshot's bytes. The builder writes through a memory map, which Miri cannot run: the
/// bytes are committed under `tests/fixtures/` (the builder is deterministic); the normal run
/// builds them and checks they equal the fixture (`IDCARD_BLESS=1` rewrites it), Miri reads it.
fn bytes_of(
    name: &str,
    profile: Profile,
    cards: &[(CardKey, CardEntry)],
    bl: &[(IdNumber, BlacklistEntry)],
    filter: FilterMode,
    seq: u64,
) -> Vec<u8> {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    if cfg!(miri) {
        return std::fs::read(&fixture).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.idcs");
    let mut b = SnapshotBuilder::new(profile);
    b.as_of(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap())
        .journal_seq(seq)
        .filter(filter);
    b.extend_cards(cards.iter().copied());
    b.extend_blacklist(bl.iter().copied());
    b.write(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    if std::env::var_os("IDCARD_BLESS").is_some() {
        std::fs::create_dir_all(fixture.parent().unwrap()).unwrap();
        std::fs::write(&fixture, &bytes).unwrap();
    }
    assert!(
        std::fs::read(&fixture).is_ok_and(|f| f == bytes),
        "{name} differs from its fixture (IDCARD_BLESS=1 rewrites it)"
    );
    bytes
}

#[test]
fn l3_a6_parse_and_look_up_small_snapshots_from_bytes() {
    let statuses = [
        CardStatus::Lost,
        CardStatus::Stolen,
        CardStatus::Superseded,
        CardStatus::Invalidated,
    ];
    let cards: Vec<(CardKey, CardEntry)> = (0..48)
        .map(|i| (key(i), CardEntry::new(statuses[i as usize % 4])))
        .collect();
    let bl: Vec<(IdNumber, BlacklistEntry)> = (100..110)
        .map(|i| {
            (
                number(i),
                BlacklistEntry::new(BlacklistReasons::FORGED | BlacklistReasons::IDENTITY_CARD),
            )
        })
        .collect();
    let model: HashMap<CardKey, CardStatus> = cards.iter().map(|(k, e)| (*k, e.status)).collect();
    for filter in [FilterMode::Always, FilterMode::Never] {
        let name = format!("police-{filter:?}.idcs").to_lowercase();
        let bytes = bytes_of(&name, Profile::Police, &cards, &bl, filter, 3);
        // Aligned and unaligned input slices parse the same.
        let mut shifted = vec![0u8; bytes.len() + 1];
        shifted[1..].copy_from_slice(&bytes);
        for input in [&bytes[..], &shifted[1..]] {
            let v = Verifier::from_snapshot(
                Snapshot::from_bytes(input).unwrap(),
                VerifierOptions::unsigned(),
            )
            .unwrap();
            for i in 0..64 {
                let k = key(i);
                let want = model.get(&k).copied().unwrap_or(CardStatus::Valid);
                assert_eq!(v.verify(k), want, "card {i}");
                assert_eq!(v.card_entry(k).map(|e| e.status), model.get(&k).copied());
                if !cfg!(miri) {
                    // Parsing text builds the division table: slow under Miri, not mapped bytes.
                    let text = k.number().to_ascii();
                    assert_eq!(v.verify_number(&text, k.valid_from()), want);
                }
            }
            let ks: Vec<CardKey> = (0..64).map(key).collect();
            let mut out = vec![CardStatus::Valid; ks.len()];
            v.verify_batch(&ks, &mut out);
            for (k, s) in ks.iter().zip(&out) {
                assert_eq!(*s, model.get(k).copied().unwrap_or(CardStatus::Valid));
            }
            for i in 95..115 {
                let listed = (100..110).contains(&i);
                assert_eq!(
                    v.blacklist_check(number(i)).unwrap().is_some(),
                    listed,
                    "person {i}"
                );
            }
        }
    }
}

#[test]
fn l3_deltas_and_swaps_on_bytes() {
    let cards: Vec<(CardKey, CardEntry)> = (0..16)
        .map(|i| (key(i), CardEntry::new(CardStatus::Lost)))
        .collect();
    let bytes = bytes_of(
        "bank-10.idcs",
        Profile::Bank,
        &cards,
        &[],
        FilterMode::Always,
        10,
    );
    let snapshot = Snapshot::from_bytes(&bytes).unwrap();
    let info = snapshot.info().clone();
    let v = Verifier::from_snapshot(snapshot, VerifierOptions::unsigned()).unwrap();
    let mut d = DeltaBuilder::new(&info, 10, 12);
    d.clear_card(key(0));
    d.set_card(key(40), CardEntry::new(CardStatus::Stolen))
        .unwrap();
    let encoded = d.build().encode();
    let delta = Delta::decode("d", &encoded).unwrap();
    v.apply_delta(&delta).unwrap();
    assert_eq!(v.verify(key(0)), CardStatus::Valid);
    assert_eq!(v.verify(key(1)), CardStatus::Lost);
    assert_eq!(v.verify(key(40)), CardStatus::Stolen);
    assert!(v.apply_delta(&delta).is_err(), "out of order");
    // A bank snapshot has no blacklist to check.
    assert!(v.blacklist_check(number(1)).is_err());
    // Swap to a newer snapshot: the overlay is gone, the new file answers.
    let newer = bytes_of(
        "bank-20.idcs",
        Profile::Bank,
        &cards[8..],
        &[],
        FilterMode::Always,
        20,
    );
    v.swap(Snapshot::from_bytes(&newer).unwrap()).unwrap();
    assert_eq!(v.verify(key(1)), CardStatus::Valid);
    assert_eq!(v.verify(key(9)), CardStatus::Lost);
    assert_eq!(v.verify(key(40)), CardStatus::Valid);
    // Damaged bytes are errors (a sample of flips; every flip is in tests/index.rs).
    for at in [0, 9, 30, 100, 250, newer.len() / 2, newer.len() - 1] {
        let mut b = newer.clone();
        b[at] ^= 0x20;
        assert!(Snapshot::from_bytes(&b).is_err(), "flip at {at}");
    }
    for len in [0, 8, 200, newer.len() - 1] {
        assert!(
            Snapshot::from_bytes(&newer[..len]).is_err(),
            "truncated to {len}"
        );
    }
}
