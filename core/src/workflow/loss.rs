//! Loss reporting (挂失申报) — requirements L1-L5, A10, N6, S1.
//!
//! - L1: any household registration police station or registration hall, nationwide, at the
//!   household registration place or away from it.
//! - L2, A10, N6: the holder in person, identity verified against the population directory;
//!   when the card has registered fingerprints they are compared on the spot.
//! - The card becomes `lost` or `stolen` at once (and at the engine's live verifier, L3).
//! - L4: a unit that catches a card used by someone else files a hit, routed to the police.
//! - L5: servicemen and armed police follow the same flow.

use crate::card::CardKey;
pub use crate::engine::CardRef;
use crate::engine::{Command, Ctx, EngineError, InPerson};
use crate::index::CardStatus;
use crate::model::{Event, HitAcknowledged, HitReported, LossCancelled, LossReported, State};
use crate::station::{CommandKind, StationId, StationKind};

/// A loss report at the counter (L1, L2, A10). The card's answer changes at once.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LossRequest {
    /// The card.
    pub card: CardRef,
    /// Stolen rather than lost.
    pub stolen: bool,
    /// The person present (must be the holder).
    pub present: InPerson,
}

/// What an accepted loss report did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LossReceipt {
    /// The card now listed.
    pub card: CardKey,
    /// `lost` or `stolen`.
    pub status: CardStatus,
    /// Reported at the household registration place.
    pub at_hukou_place: bool,
    /// The journal sequence of the report.
    pub seq: u64,
}

impl Command for LossRequest {
    const KIND: CommandKind = CommandKind::ReportLoss;
    type Decided = LossReported;
    type Output = LossReceipt;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, LossReported), EngineError> {
        let card = ctx.card(self.card)?;
        let fingerprint = ctx.in_person(card.key.number(), &self.present, card.fingerprints)?;
        if card.status != CardStatus::Valid {
            return Err(ctx.refuse(
                "card_not_valid",
                format!("the card is already {}; nothing to report", card.status),
            ));
        }
        let person = ctx.living_person(card.key.number())?;
        let report = LossReported {
            card: card.key,
            stolen: self.stolen,
            at_hukou_place: ctx.station.division == person.hukou_division,
            fingerprint,
        };
        Ok((vec![Event::LossReported(report.clone())], report))
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(self.card.subject())
    }

    fn finish(r: LossReported, seq: u64, _: &State) -> LossReceipt {
        LossReceipt {
            card: r.card,
            status: if r.stolen {
                CardStatus::Stolen
            } else {
                CardStatus::Lost
            },
            at_hukou_place: r.at_hukou_place,
            seq,
        }
    }
}

/// Withdraw a loss report: the holder, in person, has the card again. A card replaced by a
/// newer one stays listed (A4, F2).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CancelLoss {
    /// The card.
    pub card: CardRef,
    /// The person present (must be the holder).
    pub present: InPerson,
}

impl Command for CancelLoss {
    const KIND: CommandKind = CommandKind::CancelLoss;
    type Decided = CardKey;
    type Output = CardKey;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, CardKey), EngineError> {
        let card = ctx.card(self.card)?;
        let fingerprint = ctx.in_person(card.key.number(), &self.present, card.fingerprints)?;
        if card.loss.is_none() {
            return Err(ctx.refuse(
                "not_reported_lost",
                format!("the card is {}, not reported lost", card.status),
            ));
        }
        if ctx.state.cards.has_newer(card.key)? {
            return Err(ctx.refuse(
                "card_replaced",
                "the card has been replaced by a newer one: it stays invalid (A4)",
            ));
        }
        ctx.no_replacement_in_progress(card.key)?;
        let event = Event::LossCancelled(LossCancelled {
            card: card.key,
            fingerprint,
        });
        Ok((vec![event], card.key))
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(self.card.subject())
    }

    fn finish(key: CardKey, _: u64, _: &State) -> CardKey {
        key
    }
}

/// A hit report (L4): a card presented by someone other than its holder. Routed to a household
/// registration police station of the unit's county (else prefecture, province), else to the
/// county bureau of the holder's household registration.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReportHit {
    /// The card presented.
    pub card: CardKey,
    /// What happened.
    pub note: String,
}

/// A hit report: who filed it, where it went.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HitReceipt {
    /// The hit's identifier.
    pub id: u64,
    /// The police station it was routed to.
    pub routed_to: StationId,
}

impl Command for ReportHit {
    const KIND: CommandKind = CommandKind::ReportHit;
    type Decided = StationId;
    type Output = HitReceipt;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, StationId), EngineError> {
        let hukou = match ctx.state.people.get(self.card.number())? {
            Some(p) => Some(p.hukou_division),
            None => None,
        };
        let routed_to = ctx
            .nearest_station(
                StationKind::HouseholdRegistrationStation,
                ctx.station.division,
            )
            .or_else(|| {
                let hukou = hukou?;
                ctx.state
                    .stations
                    .values()
                    .filter(|s| s.kind == StationKind::CountyBureau && s.division == hukou)
                    .map(|s| s.id.clone())
                    .min()
            })
            .ok_or_else(|| {
                ctx.refuse(
                    "no_police_station",
                    "no police station is registered to receive the report",
                )
            })?;
        let event = Event::HitReported(HitReported {
            card: self.card,
            routed_to: routed_to.clone(),
            note: self.note.clone(),
        });
        Ok((vec![event], routed_to))
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Card(self.card))
    }

    fn finish(routed_to: StationId, seq: u64, _: &State) -> HitReceipt {
        HitReceipt { id: seq, routed_to }
    }
}

/// Acknowledge a hit report at the station it was routed to (L4).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AcknowledgeHit {
    /// The hit.
    pub hit: u64,
    /// Notes of the follow-up.
    pub note: String,
}

impl Command for AcknowledgeHit {
    const KIND: CommandKind = CommandKind::AcknowledgeHit;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let hit = self.hit;
        let h = ctx
            .state
            .hits
            .get(&hit)
            .ok_or_else(|| ctx.refuse("unknown_hit", format!("no hit report {hit}")))?;
        if h.routed_to != ctx.actor.station {
            return Err(ctx.refuse(
                "not_routed_here",
                format!("hit {hit} was routed to {}", h.routed_to),
            ));
        }
        if h.acknowledged.is_some() {
            return Err(ctx.refuse(
                "already_acknowledged",
                format!("hit {hit} is already acknowledged"),
            ));
        }
        let event = Event::HitAcknowledged(HitAcknowledged {
            hit,
            note: self.note.clone(),
        });
        Ok((vec![event], ()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}
