//! The verification index (L3): one-at-a-time and batched verification, with std `HashMap` and
//! hashbrown as baselines in the same groups, at realistic hit rates (about 1%).
//!
//! `cargo bench -p idcard-benches --bench index` (sizes: IDCARD_BENCH_CARDS, default 1 M).
//! The 10 M and 100 M figures come from the peer comparison binary (`--bin peers`).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idcard::index::{CardStatus, Profile, SnapshotBuilder, Verifier};
use idcard_benches::card_set;

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("IDCARD_BENCH_CARDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let q = 100_000;
    let set = card_set(n, q, 1.0, 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.idcs");
    let mut b = SnapshotBuilder::new(Profile::Bank);
    b.extend_cards(set.listed.iter().copied());
    let (signer, trust) = idcard_benches::test_platform();
    b.signer(signer);
    b.write(&path).unwrap();
    let v = Verifier::open(&path, trust).unwrap();
    let snap = v.snapshot();
    let hb: hashbrown::HashMap<u64, u8> = set
        .listed
        .iter()
        .map(|(k, e)| (k.to_u64(), e.status as u8))
        .collect();
    let std: std::collections::HashMap<u64, u8> = set
        .listed
        .iter()
        .map(|(k, e)| (k.to_u64(), e.status as u8))
        .collect();
    let qu: Vec<u64> = set.queries.iter().map(|k| k.to_u64()).collect();

    let mut g = c.benchmark_group(format!("verify_{n}"));
    g.throughput(Throughput::Elements(q as u64));
    let mut out = vec![CardStatus::Valid; q];
    g.bench_function("idcard_batch", |b| {
        b.iter(|| {
            v.verify_batch(&set.queries, &mut out);
            black_box(&out);
        })
    });
    g.bench_function("idcard_one", |b| {
        b.iter(|| {
            set.queries
                .iter()
                .filter(|k| v.verify(black_box(**k)) != CardStatus::Valid)
                .count()
        })
    });
    g.bench_function("idcard_snapshot_one", |b| {
        b.iter(|| {
            set.queries
                .iter()
                .filter(|k| snap.status(black_box(**k)) != CardStatus::Valid)
                .count()
        })
    });
    g.bench_function("hashbrown", |b| {
        b.iter(|| qu.iter().filter(|k| hb.contains_key(black_box(*k))).count())
    });
    g.bench_function("std_hashmap", |b| {
        b.iter(|| {
            qu.iter()
                .filter(|k| std.contains_key(black_box(*k)))
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
