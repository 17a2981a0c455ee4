//! Lost-and-found (丢失招领) — requirements F1, F2, A10, S2.
//!
//! - F1: police stations and registration halls run a lost-and-found window; found cards handed
//!   in enter the found-card database, which citizens who lost a card can query
//!   ([`crate::model::view::found_query`]).
//! - F2: a found card whose owner already has a replacement is destroyed and the destruction
//!   recorded; otherwise it is held and the owner notified where contact details exist. It is
//!   returned only after verifying the claimant's identity and photographing them.

use crate::card::CardKey;
use crate::engine::{Command, Ctx, EngineError, InPerson};
use crate::model::{
    Event, FoundCardDestroyed, FoundCardReturned, FoundCardTakenIn, OwnerNotified, State,
};
use crate::station::CommandKind;

/// Take in a found card at a lost-and-found window (F1, F2).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IntakeFoundCard {
    /// The card.
    pub card: CardKey,
    /// The finder, if they left a name.
    pub finder: Option<String>,
}

/// What happened to a card handed in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakeOutcome {
    /// Held at the window; `notified` is the contact the owner was told through, if any.
    Held {
        /// The contact used.
        notified: Option<String>,
    },
    /// Destroyed: the owner already had a replacement (F2).
    Destroyed,
}

impl Command for IntakeFoundCard {
    const KIND: CommandKind = CommandKind::IntakeFoundCard;
    type Decided = IntakeOutcome;
    type Output = IntakeOutcome;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, IntakeOutcome), EngineError> {
        let card = self.card;
        if !ctx.state.cards.contains(card)? {
            return Err(ctx.refuse(
                "unknown_card",
                "the card is not in the card register (forged? report it as a hit)",
            ));
        }
        if let Some(f) = ctx.state.found.held(card) {
            return Err(ctx.refuse(
                "already_held",
                format!("the card is already held at {}", f.window),
            ));
        }
        let mut events = vec![Event::FoundCardTakenIn(FoundCardTakenIn {
            card,
            finder: self.finder.clone(),
        })];
        if ctx.state.cards.has_newer(card)? {
            events.push(Event::FoundCardDestroyed(FoundCardDestroyed { card }));
            return Ok((events, IntakeOutcome::Destroyed));
        }
        let contact = ctx.person(card.number())?.and_then(|p| p.contact);
        if let Some(c) = &contact {
            events.push(Event::OwnerNotified(OwnerNotified {
                card,
                contact: c.clone(),
            }));
        }
        Ok((events, IntakeOutcome::Held { notified: contact }))
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Card(self.card))
    }

    fn finish(o: IntakeOutcome, _: u64, _: &State) -> IntakeOutcome {
        o
    }
}

/// Return a held card to its owner: the holder in person (A10), identity verified (and
/// fingerprints when registered), photographed (F2: `photo_ref` names the image record). A loss
/// report on the card is withdrawn: it answers valid again.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReturnFoundCard {
    /// The card.
    pub card: CardKey,
    /// The person present (must be the holder).
    pub present: InPerson,
    /// The reference of the photograph taken.
    pub photo_ref: String,
}

impl Command for ReturnFoundCard {
    const KIND: CommandKind = CommandKind::ReturnFoundCard;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let card = self.card;
        let held = ctx
            .state
            .found
            .held(card)
            .ok_or_else(|| ctx.refuse("not_held", "the card is not held at any window"))?;
        if held.window != ctx.actor.station {
            return Err(ctx.refuse(
                "held_elsewhere",
                format!("the card is held at {}", held.window),
            ));
        }
        let record =
            ctx.state.cards.get(card)?.ok_or_else(|| {
                ctx.refuse("unknown_card", "the card is not in the card register")
            })?;
        if ctx.state.cards.has_newer(card)? {
            // Replaced while it was held: like one handed in after the replacement (F2).
            return Err(ctx.refuse(
                "card_replaced",
                "the owner has a newer card since: destroy this one, do not return it (F2)",
            ));
        }
        ctx.no_replacement_in_progress(card)?;
        let fingerprint = ctx.in_person(card.number(), &self.present, record.fingerprints)?;
        if self.photo_ref.trim().is_empty() {
            return Err(ctx.refuse(
                "photo_required",
                "photograph the claimant and give the image reference (F2)",
            ));
        }
        let event = Event::FoundCardReturned(FoundCardReturned {
            card,
            claimant: self.present.number,
            photo_ref: self.photo_ref.trim().to_string(),
            fingerprint,
        });
        Ok((vec![event], ()))
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Card(self.card))
    }

    fn finish(_: (), _: u64, _: &State) {}
}
