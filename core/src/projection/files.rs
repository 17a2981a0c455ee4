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
/// holds the file being made and one group of hashes. This reads every card while `state` is
/// borrowed; [`snapshot_source`] reads them after.
pub fn snapshot_builder(
    state: &State,
    profile: Profile,
    now: DateTime<Utc>,
    spill_dir: &std::path::Path,
) -> Result<SnapshotBuilder, FileError> {
    snapshot_source(state, profile, now, spill_dir)?.finish()
}

/// What a snapshot of `state` needs, taken while the state is held (under the engine's lock),
/// the cards read after it is released ([`SnapshotSource::finish`]): the metadata, the
/// blacklist and the population store's consistent view with the card changes not yet written
/// to it ([`crate::model::Cards::view`]). At 10^8 people reading the cards takes most of a
/// minute, during which commands go on. A store without views has its cards read
/// here, under the lock, as [`snapshot_builder`] does.
pub fn snapshot_source(
    state: &State,
    profile: Profile,
    now: DateTime<Utc>,
    spill_dir: &std::path::Path,
) -> Result<SnapshotSource, FileError> {
    let mut b = SnapshotBuilder::new(profile);
    b.as_of(now).journal_seq(state.last_seq);
    b.spill_to(spill_dir)?;
    if profile == Profile::Police {
        b.extend_blacklist(state.blacklist.iter().map(|(n, r)| (*n, r.entry)));
    }
    let view = state.cards.view()?;
    if view.is_none() {
        add_cards(&mut b, |f| state.cards.for_each(f))?;
    }
    Ok(SnapshotSource { builder: b, view })
}

/// A snapshot's input taken from the state ([`snapshot_source`]), the cards still to read.
pub struct SnapshotSource {
    builder: SnapshotBuilder,
    view: Option<crate::model::CardsView>,
}

impl SnapshotSource {
    /// Read the cards (when they were not read under the lock) and give the builder.
    pub fn finish(self) -> Result<SnapshotBuilder, FileError> {
        let mut b = self.builder;
        if let Some(view) = &self.view {
            add_cards(&mut b, |f| view.for_each(f))?;
        }
        Ok(b)
    }
}

/// Every card to the builder: listed ones with their entries, the others as known.
fn add_cards(
    b: &mut SnapshotBuilder,
    each: impl FnOnce(&mut dyn FnMut(&crate::model::CardRecord)) -> Result<(), crate::store::StoreError>,
) -> Result<(), FileError> {
    each(&mut |c| {
        if c.status.is_listable() {
            b.add_card(c.key, c.entry());
        } else {
            b.known_cards(std::iter::once(c.key));
        }
    })?;
    Ok(())
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
