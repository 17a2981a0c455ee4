//! Parsing + validating identity numbers (issue: ≥ 20 M numbers/s on one core).
//!
//! `cargo bench -p idcard-benches --bench number`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idcard::Parser;
use idcard_benches::random_numbers;
use std::hint::black_box;

const N: usize = 100_000;

fn bench(c: &mut Criterion) {
    let numbers = random_numbers(N, 1);
    let packed: Vec<u8> = numbers.iter().flat_map(|n| n.to_ascii()).collect();
    let legacy: Vec<String> = numbers.iter().filter_map(|n| n.to_legacy15()).collect();
    let wide: Vec<String> = numbers[..N / 10]
        .iter()
        .map(|n| {
            n.to_string()
                .chars()
                .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
                .collect()
        })
        .collect();

    // Strict mode on numbers whose division was in force in the birth year.
    let strict = Parser::new().strict(true);
    let strict_packed: Vec<u8> = packed
        .chunks_exact(18)
        .filter(|c| strict.parse_bytes(c).is_ok())
        .flatten()
        .copied()
        .collect();

    let mut g = c.benchmark_group("parse");
    for (name, parser, input) in [
        ("lenient", Parser::new(), &packed),
        ("strict", strict, &strict_packed),
    ] {
        let n = input.len() / 18;
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("18_ascii_{name}"), |b| {
            b.iter(|| {
                let mut ok = 0usize;
                for chunk in input.chunks_exact(18) {
                    ok += parser.parse_bytes(black_box(chunk)).is_ok() as usize;
                }
                assert_eq!(ok, n);
                ok
            })
        });
    }
    g.throughput(Throughput::Elements(legacy.len() as u64));
    g.bench_function("15_legacy_upgrade", |b| {
        let parser = Parser::new();
        b.iter(|| {
            legacy
                .iter()
                .filter(|s| parser.parse(black_box(s)).is_ok())
                .count()
        })
    });
    g.throughput(Throughput::Elements(wide.len() as u64));
    g.bench_function("18_fullwidth", |b| {
        let parser = Parser::new();
        b.iter(|| {
            wide.iter()
                .filter(|s| parser.parse(black_box(s)).is_ok())
                .count()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("format");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("to_ascii", |b| {
        b.iter(|| {
            numbers
                .iter()
                .map(|n| black_box(n.to_ascii())[17] as usize)
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
