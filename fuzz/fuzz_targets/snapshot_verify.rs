//! Snapshot open + verify (L3) on arbitrary bytes: the raw bytes (under a trust store, so the
//! signature block parser sees them, and unsigned), then the same bytes with their checksums
//! recomputed and signed with the fuzz key, so the structural checks behind a valid signature
//! are reached (a signed file is not checksummed again: its structure alone must hold). Never a
//! panic; an accepted snapshot answers every lookup.
#![no_main]

use idcard::CardKey;
use idcard::index::{OpenOptions, Snapshot, Verifier, VerifierOptions, fuzzing};
use idcard::trust::FileKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let trusting = OpenOptions::trusting(fuzzing::trust());
    let _ = Snapshot::from_bytes_with(data, &trusting);
    let _ = Snapshot::from_bytes(data);
    let mut bytes = data.to_vec();
    fuzzing::reseal_snapshot(&mut bytes);
    let signed = data.first().is_some_and(|b| b & 1 == 0);
    let opened = if signed {
        fuzzing::sign(&mut bytes, FileKind::Snapshot);
        Snapshot::from_bytes_with(&bytes, &trusting)
    } else {
        Snapshot::from_bytes(&bytes)
    };
    let Ok(snapshot) = opened else {
        return;
    };
    assert_eq!(snapshot.info().signature.is_verified(), signed);
    let info = snapshot.info().clone();
    let options = VerifierOptions {
        max_age: None,
        ..VerifierOptions::trusting(fuzzing::trust())
    };
    let Ok(v) = Verifier::from_snapshot(snapshot, options) else {
        return; // a time in the future
    };
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
