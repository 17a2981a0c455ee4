//! Writes the data the C and C++ test suites run against (tests/c, tests/cpp):
//!
//! `cargo run -p idcard-ffi --example make_test_data -- DIR`
//!
//! - `bank.idcs`, `police.idcs`: snapshots at journal sequence 100;
//! - `bank-dNN.idcd` (NN = 01..=20): a chain of deltas on `bank.idcs`, delta NN listing card NN
//!   of `chain.txt` as lost;
//! - `police-d01.idcd`: a delta on `police.idcs` (for out-of-order tests on the bank verifier);
//! - `deltas/`: a publish folder: `bank-d01..=10.idcd` under other names, out of name order,
//!   and `police-d01.idcd` (another snapshot's, skipped by a bank verifier);
//! - `bank-newer.idcs`: a snapshot at sequence 200 (swap target);
//! - `cards.txt`: `number valid_from_yyyymmdd expected_status` per line (against `bank.idcs`);
//! - `chain.txt`: the 20 card keys listed by the delta chain, in order;
//! - `blacklist.txt`: `number reason_bits` of the police blacklist.
//! - `platform.trust`: the trust file pinning the test root key; every file above is signed by
//!   a publishing key that root certified (2020-2100), dated now (so a day's maximum age holds);
//! - `old-bank.idcs`: `bank.idcs` as of two days ago (stale); `unsigned-bank.idcs`: `bank.idcs`
//!   unsigned; `forged-d01.idcd`: `bank-d01.idcd` unsigned
//!   (what an attacker can make from the bank's own snapshot); `evil-d01.idcd`: the same signed
//!   by a key nobody certified; `timestamp.idct`: a signed timestamp for `bank.idcs` up to
//!   sequence 120 (also in `deltas/`); `timestamp-110.idct` the same up to sequence 110
//!   (deltas past it are refused).

use chrono::{DateTime, NaiveDate};
use idcard_core::index::*;
use idcard_core::trust::{Algorithm, KeyCertificate, Roles, SecretKey, TrustStore};
use idcard_core::{CardKey, IdNumber};
use std::fmt::Write as _;

fn number(body: &str) -> IdNumber {
    let w = [7u32, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = body
        .bytes()
        .zip(w)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    format!("{body}{}", b"10X98765432"[(s % 11) as usize] as char)
        .parse()
        .unwrap()
}

fn yyyymmdd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: make_test_data DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let as_of = DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let root = SecretKey::from_seed(Algorithm::Ed25519, [21; 32], "test platform root");
    let key = SecretKey::from_seed(Algorithm::Ed25519, [22; 32], "test publisher");
    let year = |y| {
        DateTime::parse_from_rfc3339(&format!("{y}-01-01T00:00:00Z"))
            .unwrap()
            .to_utc()
    };
    let cert = KeyCertificate::issue(&root, &key.public(), Roles::PUBLISH, year(2020), year(2100))
        .unwrap();
    let signer = std::sync::Arc::new(key.signer(Some(cert)));
    std::fs::write(
        dir.join("platform.trust"),
        TrustStore::new(vec![root.public()]).to_text(),
    )
    .unwrap();
    // A bank officer's key for the hit report (L4) test.
    let _ = std::fs::remove_file(dir.join("officer.key"));
    let _ = std::fs::remove_file(dir.join("officer.pub"));
    SecretKey::from_seed(Algorithm::Ed25519, [23; 32], "U1")
        .write_files(dir.join("officer.key"))
        .unwrap();
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    // 60 people in 110105, born 1960.., one card each valid from 2010-01-01 + i days.
    let keys: Vec<CardKey> = (0..60)
        .map(|i| {
            let n = number(&format!(
                "110105{}{:02}{:02}{:03}",
                1960 + i / 12,
                1 + i % 12,
                1 + i % 28,
                10 + i
            ));
            CardKey::new(n, date(2010, 1, 1) + chrono::Days::new(i as u64)).unwrap()
        })
        .collect();
    let statuses = [
        CardStatus::Lost,
        CardStatus::Stolen,
        CardStatus::Superseded,
        CardStatus::Invalidated,
    ];
    let listed: Vec<(CardKey, CardEntry)> = keys[..20]
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, CardEntry::new(statuses[i % 4])))
        .collect();
    let chain = &keys[20..40];
    let blacklisted: Vec<(IdNumber, BlacklistEntry)> = keys[40..45]
        .iter()
        .map(|k| {
            (
                k.number(),
                BlacklistEntry::new(BlacklistReasons::FORGED | BlacklistReasons::IDENTITY_CARD),
            )
        })
        .collect();
    let build = |profile, seq, name: &str, cards: &[(CardKey, CardEntry)]| {
        let mut b = SnapshotBuilder::new(profile);
        b.as_of(as_of).journal_seq(seq).signer(signer.clone());
        b.extend_cards(cards.iter().copied());
        if profile == Profile::Police {
            b.extend_blacklist(blacklisted.iter().copied());
        }
        b.write(dir.join(name)).unwrap()
    };
    let bank = build(Profile::Bank, 100, "bank.idcs", &listed);
    {
        // Two days old: a verifier with the default maximum age answers stale.
        let mut b = SnapshotBuilder::new(Profile::Bank);
        b.as_of(as_of - chrono::Duration::days(2))
            .journal_seq(100)
            .extend_cards(listed.iter().copied())
            .signer(signer.clone());
        b.write(dir.join("old-bank.idcs")).unwrap();
    }
    {
        let mut b = SnapshotBuilder::new(Profile::Bank);
        b.as_of(as_of)
            .journal_seq(100)
            .extend_cards(listed.iter().copied());
        b.write(dir.join("unsigned-bank.idcs")).unwrap();
    }
    let police = build(Profile::Police, 100, "police.idcs", &listed);
    let mut newer = listed.clone();
    newer.extend(chain.iter().map(|k| (*k, CardEntry::new(CardStatus::Lost))));
    build(Profile::Bank, 200, "bank-newer.idcs", &newer);
    for (i, k) in chain.iter().enumerate() {
        let mut d = DeltaBuilder::new(&bank, 100 + i as u64, 101 + i as u64);
        d.set_card(*k, CardEntry::new(CardStatus::Lost)).unwrap();
        d.created_at(as_of.timestamp());
        let delta = d.build();
        delta
            .write(
                dir.join(format!("bank-d{:02}.idcd", i + 1)),
                Some(signer.as_ref()),
            )
            .unwrap();
        if i == 0 {
            delta.write(dir.join("forged-d01.idcd"), None).unwrap();
            let evil = SecretKey::from_seed(Algorithm::Ed25519, [66; 32], "nobody").signer(None);
            delta.write(dir.join("evil-d01.idcd"), Some(&evil)).unwrap();
        }
    }
    let mut d = DeltaBuilder::new(&police, 100, 101);
    d.clear_card(keys[0]).created_at(as_of.timestamp());
    d.build()
        .write(dir.join("police-d01.idcd"), Some(signer.as_ref()))
        .unwrap();
    Timestamp::new(Profile::Bank, bank.snapshot_id, 120, as_of)
        .write(dir.join("timestamp.idct"), signer.as_ref())
        .unwrap();
    Timestamp::new(Profile::Bank, bank.snapshot_id, 110, as_of)
        .write(dir.join("timestamp-110.idct"), signer.as_ref())
        .unwrap();
    let folder = dir.join("deltas");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 1..=10 {
        // Names that sort against the sequence: the folder is applied by sequence.
        std::fs::copy(
            dir.join(format!("bank-d{i:02}.idcd")),
            folder.join(format!("{:02}-bank.idcd", 11 - i)),
        )
        .unwrap();
    }
    std::fs::copy(dir.join("police-d01.idcd"), folder.join("police-d01.idcd")).unwrap();
    std::fs::copy(dir.join("timestamp.idct"), folder.join("timestamp.idct")).unwrap();

    let mut cards = String::new();
    for (i, k) in keys.iter().enumerate() {
        let s = if i < 20 {
            statuses[i % 4]
        } else {
            CardStatus::Valid
        };
        writeln!(
            cards,
            "{} {} {}",
            k.number(),
            yyyymmdd(k.valid_from()),
            s as u8
        )
        .unwrap();
    }
    std::fs::write(dir.join("cards.txt"), cards).unwrap();
    let chain_txt: String = chain
        .iter()
        .map(|k| format!("{} {}\n", k.number(), yyyymmdd(k.valid_from())))
        .collect();
    std::fs::write(dir.join("chain.txt"), chain_txt).unwrap();
    let bl: String = blacklisted
        .iter()
        .map(|(n, e)| format!("{n} {}\n", e.reasons.bits()))
        .collect();
    std::fs::write(dir.join("blacklist.txt"), bl).unwrap();
    println!("test data in {}", dir.display());
}
