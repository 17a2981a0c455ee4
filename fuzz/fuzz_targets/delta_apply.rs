//! Delta decode + apply (L3) on arbitrary bytes. The input's header is pointed at a fixed base
//! snapshot (its id and sequence), its checksums recomputed and the whole signed with the fuzz
//! key, so decoding and applying behind a valid signature are reached; the raw bytes are
//! decoded too (under a trust store and unsigned). Never a panic; an applied delta moves the
//! verifier to its `to_seq`.
#![no_main]

use std::sync::OnceLock;

use idcard::index::{
    BlacklistEntry, BlacklistReasons, CardEntry, CardStatus, Delta, Profile, SignaturePolicy,
    Snapshot, SnapshotBuilder, Verifier, VerifierOptions, fuzzing,
};
use idcard::trust::FileKind;
use idcard::{CardKey, IdNumber};
use libfuzzer_sys::fuzz_target;

fn base() -> &'static (Vec<u8>, u64, u64) {
    static BASE: OnceLock<(Vec<u8>, u64, u64)> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.idcs");
        let n: IdNumber = "11010519491231002X".parse().unwrap();
        let key = CardKey::new(n, chrono::NaiveDate::from_ymd_opt(2010, 1, 1).unwrap()).unwrap();
        let mut b = SnapshotBuilder::new(Profile::Police);
        b.journal_seq(7);
        b.extend_cards([(key, CardEntry::new(CardStatus::Lost))]);
        b.extend_blacklist([(n, BlacklistEntry::new(BlacklistReasons::FORGED))]);
        let info = b.write(&path).unwrap();
        (
            std::fs::read(&path).unwrap(),
            info.snapshot_id,
            info.journal_seq,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let policy = SignaturePolicy::trusting(fuzzing::trust());
    let _ = Delta::decode("fuzz", data);
    let _ = Delta::decode_file("fuzz", data, &policy);
    let (snapshot, id, seq) = base();
    let mut bytes = data.to_vec();
    if bytes.len() >= 64 && bytes.first().is_some_and(|b| b & 1 == 1) {
        bytes[16..24].copy_from_slice(&id.to_le_bytes());
        bytes[24..32].copy_from_slice(&seq.to_le_bytes());
    }
    fuzzing::reseal_delta(&mut bytes);
    fuzzing::sign(&mut bytes, FileKind::Delta);
    let Ok(delta) = Delta::decode_file("fuzz", &bytes, &policy) else {
        return;
    };
    assert!(delta.signature.is_verified());
    let v = Verifier::from_snapshot(
        Snapshot::from_bytes(snapshot).unwrap(),
        VerifierOptions {
            max_age: None,
            ..VerifierOptions::trusting(fuzzing::trust())
        },
    )
    .unwrap();
    if v.apply_delta(&delta).is_ok() {
        let info = v.info();
        assert_eq!(info.journal_seq, delta.to_seq);
        assert_eq!(info.deltas_applied, 1);
        // Applying the same delta again is out of order unless it is empty of sequence.
        if delta.to_seq != delta.from_seq {
            assert!(v.apply_delta(&delta).is_err());
        }
    }
    let n: IdNumber = "11010519491231002X".parse().unwrap();
    let _ =
        v.verify(CardKey::new(n, chrono::NaiveDate::from_ymd_opt(2010, 1, 1).unwrap()).unwrap());
    let _ = v.blacklist_check(n);
});
