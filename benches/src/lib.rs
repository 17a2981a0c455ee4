//! Shared data generators for the benchmarks and the peer comparison.

use chrono::NaiveDate;
use idcard::{DivisionTable, IdNumber};

/// A small deterministic generator (SplitMix64), so every run sees the same data.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// `n` random valid identity numbers (real division codes, births 1930-2020).
pub fn random_numbers(n: usize, seed: u64) -> Vec<IdNumber> {
    let codes: Vec<_> = DivisionTable::builtin().codes().collect();
    let base = NaiveDate::from_ymd_opt(1930, 1, 1).unwrap();
    let mut rng = SplitMix64(seed);
    (0..n)
        .map(|_| {
            let code = codes[rng.below(codes.len() as u64) as usize];
            let birth = base + chrono::Days::new(rng.below(90 * 365));
            IdNumber::from_parts(code, birth, rng.below(1000) as u16).expect("in range")
        })
        .collect()
}
