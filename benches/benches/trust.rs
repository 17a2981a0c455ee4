//! The cost of trust (issue 14): checking a signed delta and applying it, checking a signed
//! timestamp, and the signature primitives themselves.
//!
//! `cargo bench -p idcard-benches --bench trust`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use idcard::index::{
    CardEntry, CardStatus, Delta, DeltaBuilder, OpenOptions, Profile, Snapshot, SnapshotBuilder,
    Timestamp, Verifier, VerifierOptions,
};
use idcard::trust::{FileKind, signed};
use idcard_benches::card_set;

fn bench(c: &mut Criterion) {
    let (signer, trust) = idcard_benches::test_platform();
    let set = card_set(100_000, 1_000, 1.0, 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("base.idcs");
    let mut b = SnapshotBuilder::new(Profile::Bank);
    b.extend_cards(set.listed.iter().copied())
        .journal_seq(100)
        .signer(signer.clone());
    let info = b.write(&path).unwrap();
    let options = VerifierOptions::trusting(trust.clone());
    // Checked once here; each iteration below maps it again in O(1).
    Snapshot::open_with(&path, &options.open).unwrap();
    let in_place = OpenOptions {
        verify_checksums: false,
        map_in_place: true,
        ..OpenOptions::unsigned()
    };

    // One delta of 1,000 changes (cards listed lost), signed.
    let mut d = DeltaBuilder::new(&info, 100, 101);
    for k in set.queries.iter().take(1000) {
        d.set_card(*k, CardEntry::new(CardStatus::Lost)).unwrap();
    }
    d.created_at(chrono::Utc::now().timestamp());
    let delta_path = dir.path().join("d.idcd");
    d.build().write(&delta_path, Some(signer.as_ref())).unwrap();
    let delta_bytes = std::fs::read(&delta_path).unwrap();

    let mut g = c.benchmark_group("signed_delta_1000_changes");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("check_and_decode", |b| {
        b.iter(|| Delta::decode_file("d.idcd", black_box(&delta_bytes), &options.open.signatures))
    });
    g.bench_function("read_check_decode", |b| {
        b.iter(|| Delta::read(&delta_path, &options.open.signatures, u64::MAX).unwrap())
    });
    let decoded = Delta::decode_file("d.idcd", &delta_bytes, &options.open.signatures).unwrap();
    g.bench_function("apply_decoded", |b| {
        b.iter_batched(
            || {
                Verifier::from_snapshot(
                    Snapshot::open_with(&path, &in_place).unwrap(),
                    VerifierOptions::trusting(trust.clone()),
                )
                .unwrap()
            },
            |v| {
                v.apply_delta(&decoded).unwrap();
                v
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("read_check_decode_apply", |b| {
        b.iter_batched(
            || {
                Verifier::from_snapshot(
                    Snapshot::open_with(&path, &in_place).unwrap(),
                    VerifierOptions::trusting(trust.clone()),
                )
                .unwrap()
            },
            |v| {
                v.apply_delta_file(&delta_path).unwrap();
                v
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let ts_path = dir.path().join("t.idct");
    Timestamp::new(Profile::Bank, info.snapshot_id, 101, chrono::Utc::now())
        .write(&ts_path, signer.as_ref())
        .unwrap();
    let mut g = c.benchmark_group("signed_timestamp");
    g.bench_function("read_and_check", |b| {
        b.iter(|| Timestamp::read(&ts_path, &options.open.signatures).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("signature");
    let mut file = vec![7u8; 4096];
    signed::append(&mut file, FileKind::Delta, signer.as_ref()).unwrap();
    let now = chrono::Utc::now();
    g.bench_function("ed25519_verify_certified_4k", |b| {
        b.iter(|| {
            trust
                .verify(FileKind::Delta, black_box(&file), now)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
