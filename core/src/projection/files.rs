//! Snapshots and deltas from the state, in the index's formats (L3, A6; S2: a bank gets no
//! blacklist). Extraction reads the state (under the engine's lock); building and writing the
//! file happens afterwards, outside it.

use chrono::{DateTime, Utc};

use crate::card::CardKey;
use crate::index::{DeltaBuilder, IndexError, Profile, SnapshotBuilder};
use crate::model::{Event, State};
use crate::number::IdNumber;

/// A snapshot builder loaded with `state`: every listed card, every registered card passed as
/// known (so the snapshot is exact for every real card, docs/FORMAT.md §4.3), the blacklist for
/// the police profile. Write it with [`SnapshotBuilder::write`] once the state is released.
///
/// The cards are read from the population store in one pass and spilled to unnamed temporary
/// files in `spill_dir` ([`SnapshotBuilder::spill_to`]; put it beside the snapshot): memory
/// then holds neither the records nor the cards' keys, whatever the population, and the build
/// holds the file being made and one group of hashes.
pub fn snapshot_builder(
    state: &State,
    profile: Profile,
    now: DateTime<Utc>,
    spill_dir: &std::path::Path,
) -> Result<SnapshotBuilder, FileError> {
    let mut b = SnapshotBuilder::new(profile);
    b.as_of(now).journal_seq(state.last_seq);
    b.spill_to(spill_dir)?;
    state.cards.for_each(|c| {
        if c.status.is_listable() {
            b.add_card(c.key, c.entry());
        } else {
            b.known_cards(std::iter::once(c.key));
        }
    })?;
    if profile == Profile::Police {
        b.extend_blacklist(state.blacklist.iter().map(|(n, r)| (*n, r.entry)));
    }
    Ok(b)
}

/// An error making a file from the state: the index's, or the population store's.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The index refused an entry.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The population store failed while the cards were read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Whether a card could have been listed at a verifier just before `event` — the first event
/// of a delta's range that touches it. A card the event registers (a newly issued card), reports
/// lost or gives a status (superseded, invalidated) was valid, so unlisted, before it; after
/// anything else it may have been listed. A delta never clears a card that was not listed (S2:
/// deltas do not announce newly issued cards).
pub fn listed_before(event: &Event) -> bool {
    !matches!(
        event,
        Event::CardsRegistered(_) | Event::LossReported(_) | Event::CardStatusChanged(_)
    )
}

/// Add to `d` the changes that bring a verifier's answers for `cards` and `people` to what
/// `state` says. Each card comes with whether it may have been listed before the changes
/// ([`listed_before`]): one that is valid now and was not listed needs nothing.
pub fn delta_ops(
    state: &State,
    profile: Profile,
    d: &mut DeltaBuilder,
    cards: &[(CardKey, bool)],
    people: &[IdNumber],
) -> Result<(), FileError> {
    for &(key, may_have_been_listed) in cards {
        match state.cards.get(key)? {
            Some(c) if c.status.is_listable() => {
                d.set_card(key, c.entry())?;
            }
            _ if may_have_been_listed => {
                d.clear_card(key);
            }
            _ => {}
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
