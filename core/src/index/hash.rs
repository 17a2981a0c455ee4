//! Keyed fingerprints and the slot encodings of the two tables (see `docs/FORMAT.md`).

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::{BlacklistEntry, BlacklistReasons, BlacklistSource, CardEntry, CardReason, CardStatus};
use super::{date_to_days, days_to_date};

/// Slots per 64-byte bucket of the card table (8-byte slots).
pub(crate) const CARD_SLOTS: usize = 8;
/// Slots per 64-byte bucket of the blacklist (16-byte slots).
pub(crate) const BLACKLIST_SLOTS: usize = 4;
/// Bits of the fingerprint kept in a card slot.
pub(crate) const FP_BITS: u32 = 40;
const FP_MASK: u64 = (1 << FP_BITS) - 1;
/// Seed tweak separating blacklist fingerprints (of numbers) from card fingerprints (of card
/// keys): `"blacklst"` in ASCII.
const BLACKLIST_DOMAIN: u64 = 0x626c_6163_6b6c_7374;

/// xxh3-64 with a seed, of one 8-byte little-endian word: the specialisation of xxh3's 4-to-8
/// byte path with the seed-dependent constant computed once per snapshot rather than per key
/// (a quarter of the instructions of a lookup went there). Bit-identical to
/// `xxh3_64_with_seed(&k.to_le_bytes(), seed)`; a test checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WordHasher {
    flip: u64,
}

impl WordHasher {
    /// `read64le(kSecret, 8) ^ read64le(kSecret, 16)` of xxh3's default secret.
    const SECRET_8_XOR_16: u64 = 0xc73a_b174_c5ec_d5a2;
    const PRIME_MX2: u64 = 0x9FB2_1C65_1E98_DF25;

    pub(crate) fn new(seed: u64) -> WordHasher {
        let seed = seed ^ (((seed as u32).swap_bytes() as u64) << 32);
        WordHasher {
            flip: Self::SECRET_8_XOR_16.wrapping_sub(seed),
        }
    }

    /// The hash, never zero (zero marks empty slots).
    #[inline(always)]
    pub(crate) fn hash(self, k: u64) -> u64 {
        // input64 = read32le(input + 4) + (read32le(input) << 32), i.e. the word rotated by 32.
        let mut h = k.rotate_left(32) ^ self.flip;
        h ^= h.rotate_left(49) ^ h.rotate_left(24);
        h = h.wrapping_mul(Self::PRIME_MX2);
        h ^= (h >> 35).wrapping_add(8);
        h = h.wrapping_mul(Self::PRIME_MX2);
        nonzero(h ^ (h >> 28))
    }
}

/// The keyed 64-bit hash of a compact card key. Never zero (zero marks empty slots).
#[inline(always)]
pub(crate) fn card_hash(key: u64, seed: u64) -> u64 {
    WordHasher::new(seed).hash(key)
}

/// The keyed 64-bit hash of a compact identity number, for the blacklist. Never zero.
#[inline(always)]
pub(crate) fn blacklist_hash(number: u64, seed: u64) -> u64 {
    nonzero(xxh3_64_with_seed(
        &number.to_le_bytes(),
        seed ^ BLACKLIST_DOMAIN,
    ))
}

#[inline(always)]
fn nonzero(h: u64) -> u64 {
    h | (h == 0) as u64
}

/// The home bucket of a hash among `buckets` (multiply-shift range reduction on the high bits).
#[inline(always)]
pub(crate) fn home_bucket(h: u64, buckets: u64) -> usize {
    ((h as u128 * buckets as u128) >> 64) as usize
}

/// The fingerprint kept in a card slot: the low 40 bits of the hash (independent of the bucket),
/// or 1 when those are all zero, so that no fingerprint is zero and an empty slot (all zero)
/// never matches.
#[inline(always)]
pub(crate) fn fingerprint(h: u64) -> u64 {
    let fp = h & FP_MASK;
    fp | (fp == 0) as u64
}

/// The 24-bit payload of a card entry: date (16 bits), status (3 bits), reason (5 bits).
#[inline]
pub(crate) fn card_payload(e: &CardEntry) -> u64 {
    (date_to_days(e.changed_on) as u64)
        | ((e.status as u64 & 0x7) << 16)
        | ((e.reason.code() as u64 & 0x1f) << 19)
}

/// The status bits of a payload or slot (0 in the overlay: cleared).
#[inline(always)]
pub(crate) fn payload_status(p: u64) -> u8 {
    ((p >> 16) & 0x7) as u8
}

/// Decode a payload; `None` when the status bits are not a listable status.
pub(crate) fn decode_card_payload(p: u64) -> Option<CardEntry> {
    let status = CardStatus::from_u8(payload_status(p)).filter(|s| s.is_listable())?;
    Some(CardEntry {
        status,
        reason: CardReason::new(((p >> 19) & 0x1f) as u8).expect("five bits"),
        changed_on: days_to_date((p & 0xffff) as u16),
    })
}

/// Find a card slot in the card table: `Some(slot)` on a fingerprint match, `None` at the first
/// bucket whose last slot is empty (the builder fills each bucket from its start, so a bucket
/// with room ends with an empty slot). Bounds-checked, so a damaged table cannot make it read
/// out of range. Matches are rare (about 1% of presented cards): one predictable branch per slot
/// is cheaper than a branch-free merge, which the compiler turns into slow SSE2 code.
#[inline(always)]
pub(crate) fn find_card(slots: &[u64], buckets: u64, h: u64) -> Option<u64> {
    let tag = fingerprint(h) << 24;
    let mut b = home_bucket(h, buckets);
    loop {
        let bucket: &[u64; CARD_SLOTS] = slots
            .get(b * CARD_SLOTS..b * CARD_SLOTS + CARD_SLOTS)?
            .try_into()
            .ok()?;
        for &s in bucket {
            let s = u64::from_le(s);
            // The fingerprint bits equal the tag: the slot XOR the tag is below 2^24.
            if (s ^ tag) < (1 << 24) {
                return Some(s);
            }
        }
        if bucket[CARD_SLOTS - 1] == 0 {
            return None;
        }
        b += 1;
    }
}

/// [`find_card`] comparing four slots per instruction (AVX2). Same answers. Always inlined, and
/// only called from functions compiled with `#[target_feature(enable = "avx2")]` (so that the
/// intrinsics inline too), which are entered after [`have_avx2`].
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
#[inline(always)]
pub(crate) unsafe fn find_card_avx2(slots: &[u64], buckets: u64, h: u64) -> Option<u64> {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees AVX2.
    let fp = unsafe { _mm256_set1_epi64x(fingerprint(h) as i64) };
    let mut b = home_bucket(h, buckets);
    loop {
        let bucket: &[u64; CARD_SLOTS] = slots
            .get(b * CARD_SLOTS..b * CARD_SLOTS + CARD_SLOTS)?
            .try_into()
            .ok()?;
        let p = bucket.as_ptr() as *const __m256i;
        // SAFETY: `bucket` is 64 readable bytes (unaligned loads need no alignment); the caller
        // guarantees AVX2.
        let mask = unsafe {
            let (lo, hi) = (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)));
            let m_lo = _mm256_cmpeq_epi64(_mm256_srli_epi64::<24>(lo), fp);
            let m_hi = _mm256_cmpeq_epi64(_mm256_srli_epi64::<24>(hi), fp);
            (_mm256_movemask_pd(_mm256_castsi256_pd(m_lo)) as u32)
                | ((_mm256_movemask_pd(_mm256_castsi256_pd(m_hi)) as u32) << 4)
        };
        if mask != 0 {
            return Some(bucket[mask.trailing_zeros() as usize]);
        }
        if bucket[CARD_SLOTS - 1] == 0 {
            return None;
        }
        b += 1;
    }
}

/// Whether [`find_card_avx2`] may be used (detected once).
#[inline(always)]
pub(crate) fn have_avx2() -> bool {
    #[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
    {
        use std::sync::atomic::{AtomicU8, Ordering};
        static STATE: AtomicU8 = AtomicU8::new(0);
        match STATE.load(Ordering::Relaxed) {
            1 => false,
            2 => true,
            _ => {
                let yes = std::is_x86_feature_detected!("avx2")
                    && std::env::var_os("IDCARD_NO_AVX2").is_none();
                STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_endian = "little", not(miri))))]
    {
        false
    }
}

/// What `find_card` sees for a hash: the number of fingerprint matches in the bucket where it
/// stops (the first with a match, or the first whose last slot is empty), and the position of
/// the first. The builder uses it to prove every answer exact (exactly one match, at the key's
/// own slot).
pub(crate) fn card_matches(slots: &[u64], buckets: u64, h: u64) -> (usize, Option<usize>) {
    let (count, first, _) = card_probe(slots, buckets, h);
    (count, first)
}

/// [`card_matches`], and the bucket where the scan stopped (a builder filling the table in
/// hash order knows the answer is final once every bucket up to that one is).
pub(crate) fn card_probe(slots: &[u64], buckets: u64, h: u64) -> (usize, Option<usize>, usize) {
    let tag = fingerprint(h) << 24;
    let mut b = home_bucket(h, buckets);
    loop {
        let Some(bucket) = slots.get(b * CARD_SLOTS..b * CARD_SLOTS + CARD_SLOTS) else {
            return (0, None, b);
        };
        let mut count = 0;
        let mut first = None;
        for (j, &s) in bucket.iter().enumerate() {
            if (u64::from_le(s) ^ tag) < (1 << 24) {
                count += 1;
                first.get_or_insert(b * CARD_SLOTS + j);
            }
        }
        if count > 0 || bucket[CARD_SLOTS - 1] == 0 {
            return (count, first, b);
        }
        b += 1;
    }
}

#[inline]
pub(crate) fn blacklist_value(e: &BlacklistEntry) -> u64 {
    e.reasons.bits() as u64
        | ((date_to_days(e.listed_on) as u64) << 32)
        | ((e.source as u64) << 48)
        | (1 << 63)
}

/// Decode a blacklist value; `None` when the presence bit is clear (removed in an overlay) or
/// the fields are out of range.
pub(crate) fn decode_blacklist_value(v: u64) -> Option<BlacklistEntry> {
    if v >> 63 == 0 {
        return None;
    }
    Some(BlacklistEntry {
        reasons: BlacklistReasons::from_bits(v as u32)?,
        source: BlacklistSource::from_u8((v >> 48) as u8)?,
        listed_on: days_to_date((v >> 32) as u16),
    })
}

/// Find a blacklist value by full hash; `None` at the first bucket with an empty slot.
#[inline]
pub(crate) fn find_blacklist(slots: &[[u64; 2]], buckets: u64, h: u64) -> Option<u64> {
    let mut b = home_bucket(h, buckets);
    loop {
        let bucket = slots.get(b * BLACKLIST_SLOTS..b * BLACKLIST_SLOTS + BLACKLIST_SLOTS)?;
        let mut empty = false;
        for s in bucket {
            let k = u64::from_le(s[0]);
            if k == h {
                return Some(u64::from_le(s[1]));
            }
            empty |= k == 0;
        }
        if empty {
            return None;
        }
        b += 1;
    }
}

/// Prefetch the cache line at `p` into all cache levels.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it never faults and does not dereference the pointer in the
    // language sense. SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_hasher_is_xxh3_with_seed() {
        let mut x = 0x0123_4567_89ab_cdefu64;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let seed = if i % 3 == 0 { i } else { x.rotate_left(17) };
            let want = xxh3_64_with_seed(&x.to_le_bytes(), seed);
            assert_eq!(
                WordHasher::new(seed).hash(x),
                want | (want == 0) as u64,
                "{x:#x} {seed:#x}"
            );
        }
    }

    #[test]
    fn avx2_and_scalar_find_agree() {
        if !have_avx2() {
            return;
        }
        // A small table with full buckets, overflow and collisions of the top bits.
        let buckets = 16u64;
        let mut slots = vec![0u64; (buckets as usize + 2) * CARD_SLOTS];
        let mut hs = Vec::new();
        let mut x = 99u64;
        for _ in 0..100 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            hs.push(x | 1);
        }
        hs.sort_unstable_by_key(|h| home_bucket(*h, buckets));
        let mut next = 0;
        for &h in &hs {
            let pos = usize::max(next, home_bucket(h, buckets) * CARD_SLOTS);
            slots[pos] = (fingerprint(h) << 24) | (1 << 16) | (pos as u64 & 0xffff);
            next = pos + 1;
        }
        #[target_feature(enable = "avx2")]
        fn avx2(slots: &[u64], buckets: u64, h: u64) -> Option<u64> {
            // SAFETY: compiled for AVX2, called after detecting it.
            unsafe { find_card_avx2(slots, buckets, h) }
        }
        for h in hs
            .iter()
            .copied()
            .chain((0..1000u64).map(|i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1))
        {
            // SAFETY: AVX2 detected above.
            assert_eq!(find_card(&slots, buckets, h), unsafe {
                avx2(&slots, buckets, h)
            });
        }
    }
}
