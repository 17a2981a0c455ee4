//! The in-memory overlay of applied deltas: a single-writer, lock-free-reader hash table from a
//! 64-bit keyed hash to a 64-bit value.
//!
//! Readers do two atomic loads per probe and never wait. The one writer (the verifier holds a
//! mutex around it) publishes a new slot by storing the value before the key (release), so a
//! reader that sees the key (acquire) sees its value; an update of an existing key is one atomic
//! store of the value. When the table fills past half, the writer copies it into a table twice the
//! size and the verifier publishes that in a new generation; readers still holding the old one
//! keep a consistent (older) view.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

struct Slot {
    key: AtomicU64,
    value: AtomicU64,
}

/// See the module documentation.
pub(crate) struct Overlay {
    slots: Box<[Slot]>,
    mask: usize,
    len: AtomicUsize,
}

impl Overlay {
    /// An empty overlay with room for `capacity` entries before it must grow.
    pub(crate) fn with_capacity(capacity: usize) -> Overlay {
        let size = (capacity.max(8) * 2).next_power_of_two();
        let slots = (0..size)
            .map(|_| Slot {
                key: AtomicU64::new(0),
                value: AtomicU64::new(0),
            })
            .collect();
        Overlay {
            slots,
            mask: size - 1,
            len: AtomicUsize::new(0),
        }
    }

    /// Number of keys.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    #[inline(always)]
    fn start(&self, h: u64) -> usize {
        // The hash's high bits pick the bucket in the snapshot tables; use the middle bits here.
        (h >> 24) as usize & self.mask
    }

    /// The value for `h` (never zero), if present.
    #[inline]
    pub(crate) fn get(&self, h: u64) -> Option<u64> {
        let mut i = self.start(h);
        loop {
            let slot = &self.slots[i];
            let k = slot.key.load(Ordering::Acquire);
            if k == h {
                return Some(slot.value.load(Ordering::Acquire));
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Address of the first slot `get(h)` reads, for prefetching.
    #[inline(always)]
    pub(crate) fn slot_address(&self, h: u64) -> *const u8 {
        &self.slots[self.start(h)] as *const Slot as *const u8
    }

    /// Whether `insert` of one more new key would need [`Overlay::grown`] first.
    pub(crate) fn needs_growth(&self, extra: usize) -> bool {
        (self.len() + extra) * 2 > self.slots.len()
    }

    /// Insert or update (writer only: the caller serialises writers). The table must have room
    /// (see [`Overlay::needs_growth`]).
    pub(crate) fn insert(&self, h: u64, value: u64) {
        debug_assert!(h != 0);
        let mut i = self.start(h);
        loop {
            let slot = &self.slots[i];
            let k = slot.key.load(Ordering::Relaxed);
            if k == h {
                slot.value.store(value, Ordering::Release);
                return;
            }
            if k == 0 {
                slot.value.store(value, Ordering::Relaxed);
                slot.key.store(h, Ordering::Release);
                self.len.fetch_add(1, Ordering::Release);
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// A copy with room for `extra` more keys (writer only).
    pub(crate) fn grown(&self, extra: usize) -> Overlay {
        let next = Overlay::with_capacity((self.len() + extra).max(self.slots.len()));
        for s in self.slots.iter() {
            let k = s.key.load(Ordering::Relaxed);
            if k != 0 {
                next.insert(k, s.value.load(Ordering::Relaxed));
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn overlay_matches_hashmap_model() {
        let mut o = Overlay::with_capacity(4);
        let mut model = HashMap::new();
        let mut x = 0x1234_5678_9abc_def0u64;
        for i in 0..5000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let h = (x % 3000) + 1; // many repeats and updates
            if o.needs_growth(1) {
                o = o.grown(1);
            }
            o.insert(h, i + 1);
            model.insert(h, i + 1);
        }
        assert_eq!(o.len(), model.len());
        for h in 1..4000 {
            assert_eq!(o.get(h), model.get(&h).copied(), "{h}");
        }
    }
}
