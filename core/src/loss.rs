//! Loss reporting (挂失申报) — requirements L1-L5, A10, N6, S1.
//!
//! - L1: any household registration police station or registration hall, nationwide, at the
//!   household registration place or away from it.
//! - L2, A10, N6: the holder in person, identity verified against the population directory;
//!   when the card has registered fingerprints they are compared on the spot.
//! - The card becomes `lost` or `stolen` at once (and at the engine's live verifier, L3).
//! - L4: a unit that catches a card used by someone else files a hit, routed to the police.
//! - L5: servicemen and armed police follow the same flow.

use chrono::NaiveDate;

use crate::card::CardKey;
use crate::engine::{Ctx, Engine, EngineError, Event, InPerson};
use crate::index::CardStatus;
use crate::number::IdNumber;
use crate::station::{Actor, CommandKind, StationId, StationKind};

/// Which card: the holder's number and the card's validity start; without a date, the holder's
/// newest card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardRef {
    /// The holder.
    pub number: IdNumber,
    /// The card's validity start (N4), or `None` for the newest card.
    pub valid_from: Option<NaiveDate>,
}

impl CardRef {
    /// A specific card.
    pub fn card(key: CardKey) -> CardRef {
        CardRef {
            number: key.number(),
            valid_from: Some(key.valid_from()),
        }
    }

    /// The holder's newest card.
    pub fn newest(number: IdNumber) -> CardRef {
        CardRef {
            number,
            valid_from: None,
        }
    }
}

impl Ctx<'_> {
    /// The registered card a reference names.
    pub(crate) fn card(&self, r: CardRef) -> Result<&crate::engine::CardRecord, EngineError> {
        let found = match r.valid_from {
            Some(d) => CardKey::new(r.number, d)
                .ok()
                .and_then(|k| self.state.cards.get(&k)),
            None => self.state.current_card(r.number),
        };
        found.ok_or_else(|| {
            self.refuse(
                "unknown_card",
                match r.valid_from {
                    Some(d) => format!("no card of {} valid from {d} is registered", r.number),
                    None => format!("no card of {} is registered", r.number),
                },
            )
        })
    }
}

/// A loss report at the counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LossRequest {
    /// The card.
    pub card: CardRef,
    /// Stolen rather than lost.
    pub stolen: bool,
    /// The person present (must be the holder).
    pub present: InPerson,
}

/// What an accepted loss report did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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

/// A hit report: who filed it, where it went.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HitReceipt {
    /// The hit's identifier.
    pub id: u64,
    /// The police station it was routed to.
    pub routed_to: StationId,
}

impl Engine {
    /// Report a card lost or stolen (L1, L2, A10). The card's answer changes at once.
    pub fn report_loss(
        &self,
        actor: &Actor,
        req: &LossRequest,
    ) -> Result<LossReceipt, EngineError> {
        let (receipt, seq) = self.run_seq(actor, CommandKind::ReportLoss, |ctx| {
            let card = ctx.card(req.card)?;
            let fingerprint = ctx.in_person(card.key.number(), &req.present, card.fingerprints)?;
            if card.status != CardStatus::Valid {
                return Err(ctx.refuse(
                    "card_not_valid",
                    format!("the card is already {}; nothing to report", card.status),
                ));
            }
            let person = ctx.living_person(card.key.number())?;
            let at_hukou_place = ctx.station.division == person.hukou_division;
            let status = if req.stolen {
                CardStatus::Stolen
            } else {
                CardStatus::Lost
            };
            Ok((
                vec![Event::LossReported {
                    card: card.key,
                    stolen: req.stolen,
                    at_hukou_place,
                    fingerprint,
                }],
                LossReceipt {
                    card: card.key,
                    status,
                    at_hukou_place,
                    seq: 0,
                },
            ))
        })?;
        Ok(LossReceipt { seq, ..receipt })
    }

    /// Withdraw a loss report: the holder, in person, has the card again.
    pub fn cancel_loss(
        &self,
        actor: &Actor,
        card: CardRef,
        present: &InPerson,
    ) -> Result<CardKey, EngineError> {
        self.run(actor, CommandKind::CancelLoss, |ctx| {
            let card = ctx.card(card)?;
            let fingerprint = ctx.in_person(card.key.number(), present, card.fingerprints)?;
            if card.loss.is_none() {
                return Err(ctx.refuse(
                    "not_reported_lost",
                    format!("the card is {}, not reported lost", card.status),
                ));
            }
            if ctx.state.has_newer_card(card.key) {
                return Err(ctx.refuse(
                    "card_replaced",
                    "the card has been replaced by a newer one: it stays invalid (A4)",
                ));
            }
            Ok((
                vec![Event::LossCancelled {
                    card: card.key,
                    fingerprint,
                }],
                card.key,
            ))
        })
    }

    /// File a hit report (L4): a card presented by someone other than its holder. Routed to a
    /// household registration police station of the unit's county (else prefecture, province),
    /// else to the county bureau of the holder's household registration.
    pub fn report_hit(
        &self,
        actor: &Actor,
        card: CardKey,
        note: &str,
    ) -> Result<HitReceipt, EngineError> {
        let (routed_to, id) = self.run_seq(actor, CommandKind::ReportHit, |ctx| {
            let routed_to = route_hit(ctx, card).ok_or_else(|| {
                ctx.refuse(
                    "no_police_station",
                    "no police station is registered to receive the report",
                )
            })?;
            Ok((
                vec![Event::HitReported {
                    card,
                    routed_to: routed_to.clone(),
                    note: note.to_string(),
                }],
                routed_to,
            ))
        })?;
        Ok(HitReceipt { id, routed_to })
    }

    /// Acknowledge a hit report at the station it was routed to.
    pub fn acknowledge_hit(&self, actor: &Actor, hit: u64, note: &str) -> Result<(), EngineError> {
        self.run(actor, CommandKind::AcknowledgeHit, |ctx| {
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
            Ok((
                vec![Event::HitAcknowledged {
                    hit,
                    note: note.to_string(),
                }],
                (),
            ))
        })
    }
}

/// The police station a hit goes to (see [`Engine::report_hit`]).
fn route_hit(ctx: &Ctx<'_>, card: CardKey) -> Option<StationId> {
    let unit = ctx.station.division.get();
    let stations = ctx.state.stations.values();
    let pick = |same: &dyn Fn(u32) -> bool| {
        stations
            .clone()
            .filter(|s| {
                s.kind == StationKind::HouseholdRegistrationStation && same(s.division.get())
            })
            .map(|s| s.id.clone())
            .min()
    };
    pick(&|d| d == unit)
        .or_else(|| pick(&|d| d / 100 == unit / 100))
        .or_else(|| pick(&|d| d / 10_000 == unit / 10_000))
        .or_else(|| {
            let hukou = ctx
                .state
                .people
                .get(&card.number())
                .map(|p| p.hukou_division.get())?;
            stations
                .clone()
                .filter(|s| s.kind == StationKind::CountyBureau && s.division.get() == hukou)
                .map(|s| s.id.clone())
                .min()
        })
}
