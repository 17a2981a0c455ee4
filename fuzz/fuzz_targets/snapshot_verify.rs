//! Snapshot open + verify (L3) on arbitrary bytes: the raw bytes, then the same bytes with
//! their checksums recomputed (so the structural checks behind them are reached). Never a
//! panic; an accepted snapshot answers every lookup.
#![no_main]

use idcard::CardKey;
use idcard::index::{Snapshot, Verifier, VerifierOptions, fuzzing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Snapshot::from_bytes(data);
    let mut bytes = data.to_vec();
    fuzzing::reseal_snapshot(&mut bytes);
    let Ok(snapshot) = Snapshot::from_bytes(&bytes) else {
        return;
    };
    let info = snapshot.info().clone();
    let v = Verifier::from_snapshot(snapshot, VerifierOptions::default());
    assert_eq!(v.info().journal_seq, info.journal_seq);
    for chunk in data.chunks_exact(8).take(64) {
        let raw = u64::from_le_bytes(chunk.try_into().unwrap());
        if let Ok(key) = CardKey::from_u64(raw) {
            let status = v.verify(key);
            let entry = v.card_entry(key);
            if let Some(e) = entry {
                assert_eq!(e.status, status);
            }
            let _ = v.blacklist_check(key.number());
        }
    }
    let text = String::from_utf8_lossy(&data[..data.len().min(18)]);
    let _ = v.verify_number(
        text.as_bytes(),
        chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
    );
});
