//! Lost-and-found (丢失招领) — requirements F1, F2, A10, S2.
//!
//! - F1: police stations and registration halls run a lost-and-found window; found cards handed
//!   in enter the found-card database, which citizens who lost a card can query.
//! - F2: a found card whose owner already has a replacement is destroyed and the destruction
//!   recorded; otherwise it is held and the owner notified where contact details exist. It is
//!   returned only after verifying the claimant's identity and photographing them.

use crate::card::CardKey;
use crate::engine::{Engine, EngineError, Event, FoundOutcome, InPerson};
use crate::station::{Actor, CommandKind, StationId};

/// What happened to a card handed in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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

/// What a citizen learns when asking about their lost cards (S2: where to collect, nothing
/// more).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FoundAnswer {
    /// Validity start of the card (the citizen knows their own cards).
    pub valid_from: chrono::NaiveDate,
    /// `held`, `destroyed` or `returned`.
    pub state: &'static str,
    /// Where to collect it, when held.
    pub window: Option<StationId>,
}

impl Engine {
    /// Take in a found card at a lost-and-found window (F1, F2).
    pub fn intake_found(
        &self,
        actor: &Actor,
        card: CardKey,
        finder: Option<&str>,
    ) -> Result<IntakeOutcome, EngineError> {
        self.run(actor, CommandKind::IntakeFoundCard, |ctx| {
            if !ctx.state.cards.contains_key(&card) {
                return Err(ctx.refuse(
                    "unknown_card",
                    "the card is not in the card register (forged? report it as a hit)",
                ));
            }
            if let Some(f) = ctx.state.found.get(&card)
                && f.outcome == FoundOutcome::Held
            {
                return Err(ctx.refuse(
                    "already_held",
                    format!("the card is already held at {}", f.window),
                ));
            }
            let mut events = vec![Event::FoundCardTakenIn {
                card,
                finder: finder.map(str::to_string),
            }];
            if ctx.state.has_newer_card(card) {
                events.push(Event::FoundCardDestroyed { card });
                return Ok((events, IntakeOutcome::Destroyed));
            }
            let contact = ctx.person(card.number())?.and_then(|p| p.contact);
            if let Some(c) = &contact {
                events.push(Event::OwnerNotified {
                    card,
                    contact: c.clone(),
                });
            }
            Ok((events, IntakeOutcome::Held { notified: contact }))
        })
    }

    /// Return a held card to its owner: the holder in person (A10), identity verified (and
    /// fingerprints when registered), photographed (F2: `photo_ref` names the image record).
    /// A loss report on the card is withdrawn: it answers valid again.
    pub fn return_found(
        &self,
        actor: &Actor,
        card: CardKey,
        present: &InPerson,
        photo_ref: &str,
    ) -> Result<(), EngineError> {
        self.run(actor, CommandKind::ReturnFoundCard, |ctx| {
            let held = ctx
                .state
                .found
                .get(&card)
                .filter(|f| f.outcome == FoundOutcome::Held)
                .ok_or_else(|| ctx.refuse("not_held", "the card is not held at any window"))?;
            if held.window != ctx.actor.station {
                return Err(ctx.refuse(
                    "held_elsewhere",
                    format!("the card is held at {}", held.window),
                ));
            }
            let record = ctx.state.cards.get(&card).ok_or_else(|| {
                ctx.refuse("unknown_card", "the card is not in the card register")
            })?;
            if ctx.state.has_newer_card(card) {
                // Replaced while it was held: like one handed in after the replacement (F2).
                return Err(ctx.refuse(
                    "card_replaced",
                    "the owner has a newer card since: destroy this one, do not return it (F2)",
                ));
            }
            let fingerprint = ctx.in_person(card.number(), present, record.fingerprints)?;
            if photo_ref.trim().is_empty() {
                return Err(ctx.refuse(
                    "photo_required",
                    "photograph the claimant and give the image reference (F2)",
                ));
            }
            Ok((
                vec![Event::FoundCardReturned {
                    card,
                    claimant: present.number,
                    photo_ref: photo_ref.trim().to_string(),
                    fingerprint,
                }],
                (),
            ))
        })
    }

    /// A citizen's query (F1): were any of my cards found, and where can I collect them?
    pub fn found_query(&self, number: crate::IdNumber) -> Vec<FoundAnswer> {
        self.with_state(|s| {
            let mut out: Vec<FoundAnswer> = s
                .cards_of
                .get(&number)
                .into_iter()
                .flatten()
                .filter_map(|k| s.found.get(k))
                .map(|f| FoundAnswer {
                    valid_from: f.card.valid_from(),
                    state: match f.outcome {
                        FoundOutcome::Held => "held",
                        FoundOutcome::Destroyed { .. } => "destroyed",
                        FoundOutcome::Returned { .. } => "returned",
                    },
                    window: (f.outcome == FoundOutcome::Held).then(|| f.window.clone()),
                })
                .collect();
            out.sort_by_key(|a| a.valid_from);
            out
        })
    }
}
