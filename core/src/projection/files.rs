//! Snapshots and deltas from the state, in the index's formats (L3, A6; S2: a bank gets no
//! blacklist). Extraction reads the state (under the engine's lock); building and writing the
//! file happens afterwards, outside it.

use chrono::{DateTime, Utc};

use crate::card::CardKey;
use crate::index::{DeltaBuilder, IndexError, Profile, SnapshotBuilder};
use crate::model::State;
use crate::number::IdNumber;

/// A snapshot builder loaded with `state`: every listed card, every registered card passed as
/// known (so the snapshot is exact for every real card, docs/FORMAT.md §4.3), the blacklist for
/// the police profile. Write it with [`SnapshotBuilder::write`] once the state is released.
pub fn snapshot_builder(state: &State, profile: Profile, now: DateTime<Utc>) -> SnapshotBuilder {
    let mut b = SnapshotBuilder::new(profile);
    b.as_of(now).journal_seq(state.last_seq);
    b.extend_cards(
        state
            .cards
            .values()
            .filter(|c| c.status.is_listable())
            .map(|c| (c.key, c.entry())),
    );
    b.known_cards(state.cards.keys().copied());
    if profile == Profile::Police {
        b.extend_blacklist(state.blacklist.iter().map(|(n, r)| (*n, r.entry)));
    }
    b
}

/// Add to `d` the changes that bring a verifier's answers for `cards` and `people` to what
/// `state` says.
pub fn delta_ops(
    state: &State,
    profile: Profile,
    d: &mut DeltaBuilder,
    cards: &[CardKey],
    people: &[IdNumber],
) -> Result<(), IndexError> {
    for key in cards {
        match state.cards.get(key) {
            Some(c) if c.status.is_listable() => {
                d.set_card(*key, c.entry())?;
            }
            _ => {
                d.clear_card(*key);
            }
        }
    }
    if profile == Profile::Police {
        for n in people {
            match state.blacklist.get(n) {
                Some(r) => {
                    d.set_blacklist(*n, r.entry)?;
                }
                None => {
                    d.clear_blacklist(*n)?;
                }
            }
        }
    }
    Ok(())
}
