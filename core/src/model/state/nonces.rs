//! The nonces of recently signed commands (S1: a replayed command is refused). Kept for
//! [`NONCE_WINDOW_MS`] of record time; a command signed longer ago than the allowed clock skew
//! ([`MAX_SKEW_MS`]) is refused by its time anyway.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::CommandAuth;

/// How far a command's signing time may be from the engine's clock.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// How long nonces are remembered (twice the skew: an older command is refused by its time).
pub const NONCE_WINDOW_MS: i64 = 2 * MAX_SKEW_MS;

/// Recently seen nonces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nonces {
    by_time: BTreeMap<i64, Vec<[u8; 16]>>,
    seen: HashSet<[u8; 16]>,
}

impl Nonces {
    /// Whether a nonce was used recently.
    pub fn contains(&self, nonce: &[u8; 16]) -> bool {
        self.seen.contains(nonce)
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    pub(super) fn apply(&mut self, at_ms: i64, auth: Option<&CommandAuth>) {
        if let Some(a) = auth
            && self.seen.insert(a.nonce)
        {
            self.by_time.entry(a.at_ms).or_default().push(a.nonce);
        }
        let horizon = at_ms - NONCE_WINDOW_MS;
        while let Some(entry) = self.by_time.first_entry() {
            if *entry.key() >= horizon {
                break;
            }
            for n in entry.remove() {
                self.seen.remove(&n);
            }
        }
    }
}
