//! The cost of the C ABI (issue: at most 10% on one-at-a-time verification against the Rust
//! call). Both paths verify the same presented cards (number text + yyyymmdd date) against the
//! same snapshot, one call per card.
//!
//! `cargo bench -p idcard-benches --bench ffi`

use std::ffi::CString;
use std::hint::black_box;

use chrono::Datelike;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idcard::index::{Profile, SnapshotBuilder, Verifier};
use idcard_benches::card_set;

fn bench(c: &mut Criterion) {
    let set = card_set(1_000_000, 200_000, 1.0, 11);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ffi.idcs");
    let mut b = SnapshotBuilder::new(Profile::Bank);
    b.extend_cards(set.listed.iter().copied());
    let (signer, trust) = idcard_benches::test_platform();
    b.signer(signer);
    b.write(&path).unwrap();
    let trust_path = dir.path().join("platform.trust");
    std::fs::write(&trust_path, trust.to_text()).unwrap();
    let numbers: Vec<[u8; 18]> = set.queries.iter().map(|k| k.number().to_ascii()).collect();
    let dates: Vec<u32> = set
        .queries
        .iter()
        .map(|k| {
            let d = k.valid_from();
            d.year() as u32 * 10_000 + d.month() * 100 + d.day()
        })
        .collect();
    let rust = Verifier::open(&path, trust).unwrap();
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    let ctrust = CString::new(trust_path.to_str().unwrap()).unwrap();
    let mut handle = std::ptr::null_mut();
    // SAFETY: valid paths and out pointer.
    assert_eq!(
        unsafe {
            idcard_c::idc_verifier_open_trusted(cpath.as_ptr(), ctrust.as_ptr(), &mut handle)
        },
        idcard_c::IDC_OK
    );

    let mut g = c.benchmark_group("verify_one_from_text");
    g.throughput(Throughput::Elements(numbers.len() as u64));
    g.bench_function("rust_call", |b| {
        b.iter(|| {
            let mut lost = 0usize;
            for (n, d) in numbers.iter().zip(&dates) {
                lost += rust.verify_number_yyyymmdd(black_box(n), *d) as usize;
            }
            lost
        })
    });
    g.bench_function("c_abi_call", |b| {
        b.iter(|| {
            let mut lost = 0usize;
            for (n, d) in numbers.iter().zip(&dates) {
                let mut s = 0u8;
                // SAFETY: a live handle, 18 readable bytes, a writable status.
                unsafe {
                    idcard_c::idc_verify(handle, black_box(n.as_ptr().cast()), 18, *d, &mut s)
                };
                lost += s as usize;
            }
            lost
        })
    });
    g.finish();
    // SAFETY: the handle from idc_verifier_open, freed once.
    unsafe { idcard_c::idc_verifier_free(handle) };
}

criterion_group!(benches, bench);
criterion_main!(benches);
