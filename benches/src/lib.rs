//! Shared data generators for the benchmarks and the peer comparison.

use chrono::NaiveDate;
use idcard::index::{CardEntry, CardStatus};
use idcard::{CardKey, DivisionTable, IdNumber};

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
    let mut g = KeyGen::new(seed);
    (0..n).map(|_| g.number()).collect()
}

/// Generates random valid identity numbers and card keys.
pub struct KeyGen {
    codes: Vec<idcard::DivisionCode>,
    rng: SplitMix64,
    base: NaiveDate,
}

impl KeyGen {
    /// A generator from a seed.
    pub fn new(seed: u64) -> KeyGen {
        KeyGen {
            // Citizens' codes only: the residence permits' 810000-830000 have no card.
            codes: DivisionTable::builtin()
                .codes()
                .filter(|c| idcard::NumberKind::of_code(c.get()) == idcard::NumberKind::Citizen)
                .collect(),
            rng: SplitMix64(seed),
            base: NaiveDate::from_ymd_opt(1930, 1, 1).unwrap(),
        }
    }

    /// A random number.
    pub fn number(&mut self) -> IdNumber {
        let code = self.codes[self.rng.below(self.codes.len() as u64) as usize];
        let birth = self.base + chrono::Days::new(self.rng.below(90 * 365));
        IdNumber::from_parts(code, birth, self.rng.below(1000) as u16).expect("in range")
    }

    /// A random card key: a random holder, a validity start after 16 and after 1985, and the
    /// card still in force (as presented at a counter: an expired card answers `expired`, which
    /// the peers' membership tests do not model).
    pub fn card(&mut self) -> CardKey {
        let soon = chrono::Utc::now().date_naive() + chrono::Days::new(60);
        loop {
            let n = self.number();
            let earliest = (n.birth_date() + chrono::Days::new(16 * 365))
                .max(NaiveDate::from_ymd_opt(1985, 1, 1).unwrap());
            let from = earliest + chrono::Days::new(self.rng.below(30 * 365));
            let Ok(k) = CardKey::new(n, from) else {
                continue;
            };
            if k.valid_until().is_none_or(|end| end > soon) {
                return k;
            }
        }
    }
}

/// A benchmark card set: `n` distinct listed cards with statuses, and `queries` presented cards
/// of which `hit_pct` percent are listed.
pub struct CardSet {
    /// Listed cards and their entries (distinct keys).
    pub listed: Vec<(CardKey, CardEntry)>,
    /// Presented cards.
    pub queries: Vec<CardKey>,
}

/// Build a [`CardSet`] deterministically.
pub fn card_set(n: usize, queries: usize, hit_pct: f64, seed: u64) -> CardSet {
    let mut g = KeyGen::new(seed);
    let mut keys: Vec<u64> = (0..n).map(|_| g.card().to_u64()).collect();
    keys.sort_unstable();
    keys.dedup();
    while keys.len() < n {
        for _ in keys.len()..n {
            keys.push(g.card().to_u64());
        }
        keys.sort_unstable();
        keys.dedup();
    }
    let statuses = [
        CardStatus::Lost,
        CardStatus::Lost,
        CardStatus::Lost,
        CardStatus::Stolen,
        CardStatus::Superseded,
        CardStatus::Invalidated,
    ];
    // Shuffle-free: hashing makes the order irrelevant, but mix for the query picks.
    let listed: Vec<(CardKey, CardEntry)> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            (
                CardKey::from_u64(k).expect("generated"),
                CardEntry::new(statuses[i % statuses.len()]),
            )
        })
        .collect();
    let mut rng = SplitMix64(seed ^ 0xABCD);
    let mut qg = KeyGen::new(seed ^ 0x5151);
    let qs = (0..queries)
        .map(|_| {
            if (rng.below(1_000_000) as f64) < hit_pct * 10_000.0 && !listed.is_empty() {
                listed[rng.below(listed.len() as u64) as usize].0
            } else {
                qg.card()
            }
        })
        .collect();
    CardSet {
        listed,
        queries: qs,
    }
}

/// Median of measurements.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The benchmarks' platform: a root pinned by verifiers and a publishing key it certified
/// (fixed seeds, valid 2020-2100), so benchmarks open files the way a bank does: signed and
/// checked.
pub fn test_platform() -> (
    std::sync::Arc<idcard::trust::Signer>,
    idcard::trust::TrustStore,
) {
    use idcard::trust::{Algorithm, KeyCertificate, Roles, SecretKey, TrustStore};
    let root = SecretKey::from_seed(Algorithm::Ed25519, [31; 32], "bench root");
    let publisher = SecretKey::from_seed(Algorithm::Ed25519, [32; 32], "bench publisher");
    let year = |y| {
        chrono::NaiveDate::from_ymd_opt(y, 1, 1)
            .expect("date")
            .and_hms_opt(0, 0, 0)
            .expect("time")
            .and_utc()
    };
    let cert = KeyCertificate::issue(
        &root,
        &publisher.public(),
        Roles::PUBLISH,
        year(2020),
        year(2100),
    )
    .expect("certificate");
    (
        std::sync::Arc::new(publisher.signer(Some(cert))),
        TrustStore::new(vec![root.public()]),
    )
}
