//! The card filter: a split-block Bloom filter (the layout of Apache Parquet's bloom filters) in
//! front of the card table. About 98% of presented cards are not listed; the filter, 13 times
//! smaller than the table, answers them from the CPU cache when it fits there, and with fewer
//! TLB and cache misses when it does not.
//!
//! Each 256-bit block is eight 32-bit words; a key sets one bit in each word. The block is chosen
//! by the hash's high 32 bits, the bits by its low 32 bits times eight odd salts. No false
//! negatives: every listed card is in the filter, so answers stay exact.

/// Bits of filter per listed card (false-positive rate about 1.2%).
pub(crate) const FILTER_BITS_PER_CARD: usize = 10;

const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// Number of 32-byte blocks for `n` cards (even, so the section is whole cache lines).
pub(crate) fn blocks_for(n: usize) -> usize {
    (n * FILTER_BITS_PER_CARD)
        .div_ceil(256)
        .max(1)
        .next_multiple_of(2)
}

#[inline(always)]
pub(crate) fn block_of(h: u64, blocks: u64) -> usize {
    (((h >> 32) * blocks) >> 32) as usize
}

/// Add a hash.
pub(crate) fn insert(blocks: &mut [[u32; 8]], h: u64) {
    let b = block_of(h, blocks.len() as u64);
    let key = h as u32;
    for (w, salt) in blocks[b].iter_mut().zip(SALT) {
        *w |= (1u32 << (key.wrapping_mul(salt) >> 27)).to_le();
    }
}

/// Whether a hash may have been added (no false negatives).
#[inline(always)]
pub(crate) fn may_contain(blocks: &[[u32; 8]], h: u64) -> bool {
    let Some(block) = blocks.get(block_of(h, blocks.len() as u64)) else {
        return true;
    };
    let key = h as u32;
    let mut ok = true;
    for (w, salt) in block.iter().zip(SALT) {
        ok &= u32::from_le(*w) & (1u32 << (key.wrapping_mul(salt) >> 27)) != 0;
    }
    ok
}

/// [`may_contain`] with AVX2. Only called from functions compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
#[inline(always)]
pub(crate) unsafe fn may_contain_avx2(blocks: &[[u32; 8]], h: u64) -> bool {
    use std::arch::x86_64::*;
    let Some(block) = blocks.get(block_of(h, blocks.len() as u64)) else {
        return true;
    };
    // SAFETY: the caller guarantees AVX2; `block` is 32 readable bytes.
    unsafe {
        let salt = _mm256_loadu_si256(SALT.as_ptr() as *const __m256i);
        let key = _mm256_set1_epi32(h as u32 as i32);
        let bits = _mm256_srli_epi32::<27>(_mm256_mullo_epi32(key, salt));
        let mask = _mm256_sllv_epi32(_mm256_set1_epi32(1), bits);
        let data = _mm256_loadu_si256(block.as_ptr() as *const __m256i);
        _mm256_testc_si256(data, mask) != 0
    }
}

/// Address of the block a hash reads, for prefetching.
#[inline(always)]
pub(crate) fn block_address(blocks: &[[u32; 8]], h: u64) -> *const u8 {
    blocks
        .as_ptr()
        .wrapping_add(block_of(h, blocks.len() as u64)) as *const u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_about_one_percent_false_positives() {
        let n = 200_000;
        let mut blocks = vec![[0u32; 8]; blocks_for(n)];
        let mut x = 7u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x ^ (x >> 29)
        };
        let keys: Vec<u64> = (0..n).map(|_| next()).collect();
        for &h in &keys {
            insert(&mut blocks, h);
        }
        assert!(keys.iter().all(|&h| may_contain(&blocks, h)));
        let fp = (0..1_000_000)
            .filter(|_| may_contain(&blocks, next()))
            .count();
        let rate = fp as f64 / 1e6;
        assert!(rate < 0.02, "false-positive rate {rate}");
        #[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
        if crate::index::hash::have_avx2() {
            #[target_feature(enable = "avx2")]
            fn avx2(blocks: &[[u32; 8]], h: u64) -> bool {
                // SAFETY: compiled for AVX2, called after detecting it.
                unsafe { may_contain_avx2(blocks, h) }
            }
            for _ in 0..100_000 {
                let h = next();
                // SAFETY: AVX2 detected.
                assert_eq!(may_contain(&blocks, h), unsafe { avx2(&blocks, h) });
            }
        }
    }
}
