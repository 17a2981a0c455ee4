//! The card filter: a register-blocked Bloom filter in front of the card table (docs/FORMAT.md
//! §4.4). About 98% of presented cards are not listed; the filter, about 10 times smaller than
//! the table, answers them with one memory access to one 64-bit word.
//!
//! Built for a card checked one at a time (a bank's counter calls the library once per card):
//! the test is about ten instructions and no call, so the processor keeps several cards' memory
//! accesses in flight at once on its own. A card is hashed for the filter with one folded
//! multiplication of its key (not the table's xxh3, which only the ~2% of cards the filter passes
//! need); the word is chosen by the hash's high bits, and the bits to test are one of 1,024
//! fixed patterns of five bits, chosen by its low ten bits. No false negatives: every listed card
//! is in the filter, so answers stay exact.

/// Bits of filter per listed card (false-positive rate about 1.5%).
pub(crate) const FILTER_BITS_PER_CARD: usize = 12;
/// Bits set per card (in one 64-bit word).
const BITS_PER_KEY: u32 = 5;
/// Number of bit patterns (the hash's low ten bits choose one).
const PATTERNS: usize = 1024;
/// Seed tweak separating the filter's hash from the table's: `"cfilter\0"` in ASCII.
const FILTER_DOMAIN: u64 = 0x6366_696c_7465_7200;
/// The multiplier of the filter hash (2^64 divided by the golden ratio, odd).
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// The 1,024 patterns of five distinct bits: drawn from SplitMix64 started at zero, each output's
/// top six bits naming a bit, until five distinct bits are set (docs/FORMAT.md §4.4).
/// A `const`, not a `static`: each use is addressed directly, not through the global offset
/// table (one instruction fewer on the hot path of a caller in another crate).
const PATTERN: [u64; PATTERNS] = patterns();

const fn patterns() -> [u64; PATTERNS] {
    let mut out = [0u64; PATTERNS];
    let mut state = 0u64;
    let mut i = 0;
    while i < PATTERNS {
        let mut p = 0u64;
        while p.count_ones() < BITS_PER_KEY {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            p |= 1 << (z >> 58);
        }
        out[i] = p;
        i += 1;
    }
    out
}

/// Number of 64-bit words for `n` cards (a multiple of eight: whole cache lines).
pub(crate) fn words_for(n: usize) -> usize {
    (n * FILTER_BITS_PER_CARD)
        .div_ceil(64)
        .max(1)
        .next_multiple_of(8)
}

/// The filter's seed for a snapshot's hash seed.
#[inline]
pub(crate) fn filter_seed(hash_seed: u64) -> u64 {
    hash_seed ^ FILTER_DOMAIN
}

/// The filter hash of a compact card key: the two halves of the 128-bit product of
/// `key XOR seed` and [`MULTIPLIER`], XORed.
#[inline(always)]
pub(crate) fn filter_hash(key: u64, seed: u64) -> u64 {
    let p = (key ^ seed) as u128 * MULTIPLIER as u128;
    (p as u64) ^ ((p >> 64) as u64)
}

/// The word a filter hash reads among `words`.
#[inline(always)]
pub(crate) fn word_of(f: u64, words: u64) -> usize {
    ((f as u128 * words as u128) >> 64) as usize
}

/// The bits a filter hash sets and tests.
#[inline(always)]
pub(crate) fn pattern_of(f: u64) -> u64 {
    PATTERN[(f & (PATTERNS as u64 - 1)) as usize]
}

/// Add a card (by its filter hash).
pub(crate) fn insert(words: &mut [u64], f: u64) {
    let w = word_of(f, words.len() as u64);
    words[w] |= pattern_of(f).to_le();
}

/// A snapshot's filter: its words (never empty) and seed. `Copy`; it points into the snapshot's
/// memory and is only handed out by reference to the snapshot (see `Snapshot::filter`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Filter<'a> {
    words: &'a [u64],
    seed: u64,
}

impl<'a> Filter<'a> {
    /// A filter over `words`; `None` when there are none.
    pub(crate) fn new(words: &'a [u64], seed: u64) -> Option<Filter<'a>> {
        (!words.is_empty()).then_some(Filter { words, seed })
    }

    /// Whether the card may be listed (no false negatives).
    #[inline(always)]
    pub(crate) fn may_contain(self, key: u64) -> bool {
        self.test(self.hash(key))
    }

    /// The filter hash of a card key under this filter's seed.
    #[inline(always)]
    pub(crate) fn hash(self, key: u64) -> u64 {
        filter_hash(key, self.seed)
    }

    /// [`Filter::may_contain`] given the card's [`Filter::hash`].
    #[inline(always)]
    pub(crate) fn test(self, f: u64) -> bool {
        let i = word_of(f, self.words.len() as u64);
        // SAFETY: `(f × len) >> 64 < len` for any 64-bit `f` and `len > 0` (`new` refuses an
        // empty filter): the index is in bounds without a check on the hot path.
        let w = unsafe { *self.words.get_unchecked(i) };
        let p = pattern_of(f);
        u64::from_le(w) & p == p
    }

    /// The address of the word a filter hash reads, for prefetching.
    #[inline(always)]
    pub(crate) fn address_of(self, f: u64) -> *const u64 {
        self.words
            .as_ptr()
            .wrapping_add(word_of(f, self.words.len() as u64))
    }

    /// The words' address and count, and the seed (for a thread's cached copy).
    pub(crate) fn parts(self) -> (*const u64, u64, u64) {
        (self.words.as_ptr(), self.words.len() as u64, self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_have_five_distinct_bits_and_are_fixed() {
        assert!(PATTERN.iter().all(|p| p.count_ones() == BITS_PER_KEY));
        // The first patterns, as docs/FORMAT.md §4.4 derives them: a change is a format change.
        let distinct: std::collections::HashSet<u64> = PATTERN.iter().copied().collect();
        assert!(
            distinct.len() > 1000,
            "{} distinct patterns",
            distinct.len()
        );
        let digest = PATTERN
            .iter()
            .fold(0u64, |a, p| a.rotate_left(7) ^ p.wrapping_mul(MULTIPLIER));
        assert_eq!(digest, PATTERN_DIGEST, "{digest:#x}");
    }

    const PATTERN_DIGEST: u64 = 0xc304_812c_8881_f52e;

    #[test]
    fn no_false_negatives_and_about_one_and_a_half_percent_false_positives() {
        let n = 200_000;
        let mut words = vec![0u64; words_for(n)];
        let seed = filter_seed(0x1dca_4d00);
        // Structured keys, like card keys: consecutive numbers and validity starts.
        let keys: Vec<u64> = (0..n as u64)
            .map(|i| ((110_105_000_000 + i * 7) << 16) | (12_000 + i % 5000))
            .collect();
        for &k in &keys {
            insert(&mut words, filter_hash(k, seed));
        }
        let filter = Filter::new(&words, seed).unwrap();
        assert!(keys.iter().all(|&k| filter.may_contain(k)));
        let fp = (0..1_000_000u64)
            .filter(|i| filter.may_contain(((220_000_000_000 + i * 3) << 16) | (i % 9000)))
            .count();
        let rate = fp as f64 / 1e6;
        assert!(rate < 0.02, "false-positive rate {rate}");
    }
}
