//! Applications for a card — first application (申领), renewal (换领) and replacement (补领) —
//! at the household registration place or off-site (异地受理): one pipeline whose place is
//! [`Place::Home`] or [`Place::Offsite`]. Requirements A1-A12, N5, N6, L5 and the Resident
//! Identity Card Law (art. 7-12, 21).
//!
//! - Where: a household registration station or hall of the applicant's hukou county takes
//!   every kind (home); an off-site acceptance point takes renewals and replacements of people
//!   registered elsewhere, within the rollout (A1, A12), never a first application (A9).
//! - Who: the applicant in person (A10); an under-16 at home through a guardian on record (law
//!   art. 7); an active serviceman or armed policeman through their unit, at home only (L5:
//!   State Council/CMC Order 510, art. 5).
//! - Then: the hukou county bureau reviews and signs off (A4, A11); the accepting station
//!   produces and checks the card and the applicant collects it there against the pickup
//!   receipt, handing back the old card on renewal (A4). Issuing a card supersedes every other
//!   valid card of the person: one valid card per person, always.
//! - Deadline: 60 days from the registration form, shortened by policy, extended in remote
//!   areas by at most 30 days; overdue applications are escalated (A4). Fees at the national
//!   standard with the law's waivers, computed (never entered) (A7).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::card::{CardKey, ValidityPeriod};
pub use crate::engine::CardRef;
use crate::engine::{Command, Ctx, EngineError, InPerson};
use crate::index::{CardReason, CardStatus};
pub use crate::model::{Application, ApplicationKind, ApplicationState, FeeRelief, Place};
use crate::model::{
    ApplicationAcceptedV2, ApplicationCardIssued, ApplicationCardProduced, ApplicationEscalated,
    ApplicationReviewed, CardRegistration, CardsRegistered, DeadlineExtended, Event,
    FoundCardDestroyed, LossReported, State, TempCardState, TemporaryCardReturned,
};
use crate::population::{FingerprintCheck, PersonCategory};
use crate::station::{CommandKind, StationKind};

/// The officer's comparison of the applicant with the population system's photograph (A5, A9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Appearance {
    /// The applicant matches.
    Matches,
    /// Changed greatly: acceptable off-site only if fingerprints registered on the card match
    /// (A5); at home the household register confirms identity.
    ChangedGreatly,
    /// Does not match (A9, S1).
    DoesNotMatch,
}

impl std::str::FromStr for Appearance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "matches" => Ok(Appearance::Matches),
            "changed_greatly" => Ok(Appearance::ChangedGreatly),
            "does_not_match" => Ok(Appearance::DoesNotMatch),
            _ => Err(format!(
                "appearance {s:?}: matches, changed_greatly or does_not_match"
            )),
        }
    }
}

/// The papers presented (A3; law art. 10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Materials {
    /// The registration form, filled in: the off-site acceptance registration form
    /// (异地受理登记表) off-site, the application registration form (申领登记表) at home.
    pub registration_form: bool,
    /// The current card, handed in (renewal).
    pub current_card: bool,
    /// The household register booklet (at home always; off-site for a replacement: booklet or
    /// residence permit).
    pub household_booklet: bool,
    /// A residence permit (居住证).
    pub residence_permit: bool,
}

impl Materials {
    /// Everything an applicant of `kind` needs, wherever they apply.
    pub fn complete(kind: ApplicationKind) -> Materials {
        Materials {
            registration_form: true,
            current_card: kind.is_renewal(),
            household_booklet: true,
            residence_permit: false,
        }
    }

    /// Every missing item, at once (A3). `unit` is an application filed by a serviceman's unit
    /// (L5: the unit's form and the military papers stand for the household booklet).
    pub fn missing(&self, kind: ApplicationKind, place: Place, unit: bool) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.registration_form {
            out.push(match place {
                Place::Offsite => "the off-site acceptance registration form",
                Place::Home => "the resident identity card application registration form",
            });
        }
        if kind.is_renewal() && !self.current_card {
            out.push("the current card (handed in on renewal)");
        }
        match place {
            Place::Home if !unit && !self.household_booklet => {
                out.push("the household register booklet")
            }
            Place::Offsite
                if !kind.is_renewal() && !self.household_booklet && !self.residence_permit =>
            {
                out.push("the household register booklet or a residence permit")
            }
            _ => {}
        }
        out
    }
}

/// An application at the counter, at home or off-site (the place follows from the station).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApplicationRequest {
    /// What is asked for.
    pub kind: ApplicationKind,
    /// The applicant, and the card renewed or replaced (`valid_from: None`: the newest; a first
    /// application names the applicant only).
    pub card: CardRef,
    /// The person present: the applicant, or the guardian of an under-16 at home.
    pub present: InPerson,
    /// The guardian applying for an under-16 (must be on record as the applicant's guardian).
    pub guardian: Option<crate::IdNumber>,
    /// The officer's comparison with the population system's photograph.
    pub appearance: Appearance,
    /// The papers presented.
    pub materials: Materials,
    /// Register fingerprints on the new card.
    pub fingerprints: bool,
    /// A certificate of hardship from the township or street office was shown (law art. 21:
    /// the fee of a first application or renewal may be halved).
    pub hardship_certificate: bool,
    /// Filed by the unit of an active serviceman or armed policeman on their behalf (L5).
    pub unit_application: bool,
}

impl ApplicationRequest {
    /// A request of `kind` for `card`, the holder present, matching the photograph, with every
    /// paper (the common case; change the fields for the others).
    pub fn new(kind: ApplicationKind, card: CardRef) -> ApplicationRequest {
        ApplicationRequest {
            kind,
            card,
            present: InPerson::holder(card.number),
            guardian: None,
            appearance: Appearance::Matches,
            materials: Materials::complete(kind),
            fingerprints: true,
            hardship_certificate: false,
            unit_application: false,
        }
    }
}

/// Where an application made at `station` by someone registered in `hukou` is made, or why it
/// cannot be made there.
fn place_of(ctx: &Ctx<'_>, hukou: crate::DivisionCode) -> Result<Place, EngineError> {
    let st = ctx.station;
    match st.kind {
        // A point in the applicant's own county works as the registration hall it usually is.
        StationKind::OffsiteAcceptancePoint
        | StationKind::HouseholdRegistrationStation
        | StationKind::RegistrationHall
            if st.division.contains(hukou) =>
        {
            Ok(Place::Home)
        }
        StationKind::OffsiteAcceptancePoint => Ok(Place::Offsite),
        _ => Err(ctx.refuse(
            "not_hukou_place",
            format!(
                "the applicant's household is registered in {hukou}: apply at a household registration station or hall there, or at an off-site acceptance point"
            ),
        )),
    }
}

impl Command for ApplicationRequest {
    const KIND: CommandKind = CommandKind::ApplyOffsite;
    type Decided = ();
    type Output = Application;

    /// Accept an application (A1-A12, L5, law art. 7-12, 21). Each refusal says why; missing
    /// papers are listed all at once (A3). A replacement checks the loss-report system (the card
    /// is marked lost if it was not yet) and the found-card database (a found card is
    /// collected, not replaced).
    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let req = self;
        let number = req.card.number;
        if number.kind() != crate::number::NumberKind::Citizen {
            return Err(ctx.refuse(
                "not_a_citizen",
                format!(
                    "{number} is a {}: such holders have no resident identity card",
                    number.kind().describe()
                ),
            ));
        }
        // Who applies comes first: nothing about the person (alive, where registered, whether
        // they have a card, their category) is told to someone who may not apply for them.
        let age = number.age_on(ctx.today).unwrap_or(0);
        let mut guardian = None;
        if !req.unit_application && req.present.number != number {
            match req.guardian {
                Some(g) if age < 16 && req.present.number == g => {
                    if !ctx.guardians_of(number)?.contains(&g) {
                        return Err(ctx.refuse(
                            "not_the_guardian",
                            "the person present is not on record as the applicant's guardian (law art. 7)",
                        ));
                    }
                    ctx.living_person(g)?;
                    guardian = Some(g);
                }
                Some(_) if age >= 16 => {
                    return Err(ctx.refuse(
                        "not_the_holder",
                        "an applicant of 16 or over applies in person (A10)",
                    ));
                }
                Some(_) => {
                    return Err(ctx.refuse(
                        "not_the_guardian",
                        "the guardian named must be the person present",
                    ));
                }
                None => {
                    return Err(ctx.refuse(
                        "not_the_holder",
                        "only the applicant in person may apply (A10); an under-16's guardian names themself",
                    ));
                }
            }
        }
        let person = ctx.living_person(number)?;
        let serviceman = matches!(
            person.category,
            PersonCategory::Serviceman | PersonCategory::ArmedPolice
        );
        if req.unit_application && !serviceman {
            return Err(ctx.refuse(
                "not_a_serviceman",
                "only an active serviceman's or armed policeman's unit applies on their behalf (L5)",
            ));
        }
        let place = place_of(ctx, person.hukou_division)?;
        if guardian.is_some() && place == Place::Offsite {
            return Err(ctx.refuse(
                "not_the_holder",
                "only the applicant in person may apply off-site (A10); a guardian applies at the household registration place",
            ));
        }
        let first = req.kind == ApplicationKind::FirstApplication;
        let has_card = ctx.state.cards.has_any(number)?;
        if place == Place::Offsite {
            // A9: first-time applicants apply at home (the register knows no card of them).
            if first || !has_card {
                return Err(ctx.refuse(
                    "first_time_applicant",
                    "first-time applicants are not accepted off-site (A9): apply at the household registration place",
                ));
            }
            if !req.kind.offsite_possible() {
                return Err(ctx.refuse(
                    "not_offsite_kind",
                    format!(
                        "a {} is made at the household registration place",
                        req.kind.as_str()
                    ),
                ));
            }
            // L5: a serviceman's unit applies to the county bureau of the fixed address.
            if serviceman {
                return Err(ctx.refuse(
                    "serviceman_applies_through_unit",
                    "active servicemen and armed police apply through their unit at the county bureau of their long-term fixed address, not off-site (L5; Order 510 art. 5)",
                ));
            }
        }
        if first && has_card {
            return Err(ctx.refuse(
                "has_card",
                "the register knows a card of this person: renew or replace it",
            ));
        }
        let card = if first {
            None
        } else {
            Some(ctx.card(req.card)?.clone())
        };
        // A5, A9: identity against the population system (fingerprints on the current card).
        let present_is_applicant = req.present.number == number && !req.unit_application;
        let fingerprint = match (card.as_ref().map(|c| c.fingerprints), present_is_applicant) {
            (Some(true), true) => match &req.present.fingerprint {
                Some(sample) => {
                    if !ctx.fingerprint_matches(number, sample)? {
                        return Err(ctx.refuse(
                            "fingerprint_mismatch",
                            "the fingerprints do not match those registered (A9)",
                        ));
                    }
                    FingerprintCheck::Matched
                }
                None => {
                    return Err(ctx.refuse(
                        "fingerprint_required",
                        "the card has registered fingerprints: compare them (A9)",
                    ));
                }
            },
            _ => FingerprintCheck::NotRegistered,
        };
        match (req.appearance, fingerprint, place) {
            (Appearance::DoesNotMatch, _, _) => {
                return Err(ctx.refuse(
                    "appearance_mismatch",
                    "the applicant does not match the population system's photograph (A9)",
                ));
            }
            (Appearance::ChangedGreatly, FingerprintCheck::NotRegistered, Place::Offsite) => {
                return Err(ctx.refuse(
                    "appearance_changed_no_fingerprints",
                    "appearance changed greatly and the card has no fingerprints to confirm identity (A5): apply at the household registration place",
                ));
            }
            _ => {}
        }
        if place == Place::Offsite {
            // A12 and A1: may this point accept someone registered there, today?
            ctx.state
                .policy
                .rollout
                .may_accept(person.hukou_division, ctx.station.division, ctx.today)
                .map_err(|n| ctx.refuse(n.code, n.message))?;
            // A6.
            if ctx.state.blacklist.contains_key(&number) {
                return Err(ctx.refuse("blacklisted", "the applicant is on the list of people refused off-site applications (A6): apply at the household registration place"));
            }
        }
        if ctx.state.applications.open_of(number).is_some() {
            return Err(ctx.refuse(
                "application_open",
                "an application of this person is already in progress",
            ));
        }
        // The card asked about.
        let mut events = Vec::new();
        if let Some(card) = &card {
            // Only the current card is renewed or replaced: an older one was replaced already.
            if ctx.state.cards.has_newer(card.key)? {
                return Err(ctx.refuse(
                    "card_replaced",
                    "the card was replaced by a newer one: renew or replace the current card",
                ));
            }
            if req.kind.is_renewal() {
                if card.status != CardStatus::Valid {
                    return Err(ctx.refuse(
                        "card_not_valid",
                        format!("the card is {}: renewal needs the current card (for a lost card, apply for a replacement)", card.status),
                    ));
                }
            } else {
                if let Some(f) = ctx.state.found.held(card.key) {
                    return Err(ctx.refuse(
                        "card_found",
                        format!(
                            "the card was found and is held at {}: collect it there (F1)",
                            f.window
                        ),
                    ));
                }
                match card.status {
                    CardStatus::Lost | CardStatus::Stolen => {}
                    CardStatus::Valid => events.push(Event::LossReported(LossReported {
                        card: card.key,
                        stolen: false,
                        at_hukou_place: place == Place::Home,
                        fingerprint,
                    })),
                    other => {
                        return Err(ctx.refuse(
                            "card_not_valid",
                            format!("the card is {other}: nothing to replace"),
                        ));
                    }
                }
            }
        }
        // A3: every missing item at once.
        let missing = req.materials.missing(req.kind, place, req.unit_application);
        if !missing.is_empty() {
            return Err(ctx.refuse(
                "materials_incomplete",
                format!("missing: {}", missing.join("; ")),
            ));
        }
        let hukou_bureau = ctx.county_bureau_of(person.hukou_division).ok_or_else(|| {
            ctx.refuse(
                "no_hukou_bureau",
                format!(
                    "no county bureau is registered for {}",
                    person.hukou_division
                ),
            )
        })?;
        let policy = &ctx.state.policy;
        let (fee_fen, fee_relief) = policy.fees.fee(
            req.kind,
            ctx.today,
            person.fee_exempt,
            req.hardship_certificate,
        );
        let period = ValidityPeriod::on_application(number, ctx.today)
            .map_err(|e| ctx.refuse("invalid_card", e.to_string()))?;
        events.push(Event::ApplicationAcceptedV2(ApplicationAcceptedV2 {
            kind: req.kind,
            place,
            number,
            old_card: card.map(|c| c.key),
            guardian,
            hukou_bureau,
            accepted_on: ctx.today,
            deadline: ctx.today + chrono::Days::new(policy.processing_days as u64),
            fee_fen,
            fee_relief,
            period,
            fingerprints: req.fingerprints,
        }));
        Ok((events, ()))
    }

    /// The application as recorded: its identifier is the sequence number of the acceptance
    /// record (the last one).
    fn subject(&self) -> Option<crate::model::Subject> {
        Some(self.card.subject())
    }

    fn finish(_: (), seq: u64, state: &State) -> Application {
        state.applications[&seq].clone()
    }
}

/// Review and sign off (or reject) an application at the hukou-place county bureau (A4, A11:
/// verification stays with it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReviewApplication {
    /// The application.
    pub application: u64,
    /// Sign off (else reject).
    pub approve: bool,
    /// Notes; the reason is required for a rejection.
    pub note: String,
}

impl Command for ReviewApplication {
    const KIND: CommandKind = CommandKind::ReviewApplication;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let id = self.application;
        let app = ctx.application(id)?;
        if app.hukou_bureau != ctx.actor.station {
            return Err(ctx.refuse(
                "not_hukou_bureau",
                format!("application {id} is reviewed by {}", app.hukou_bureau),
            ));
        }
        if app.state != ApplicationState::Accepted {
            return Err(ctx.refuse(
                "wrong_state",
                format!(
                    "application {id} is {:?}, not waiting for review",
                    app.state
                ),
            ));
        }
        if !self.approve && self.note.trim().is_empty() {
            return Err(ctx.refuse("reason_required", "give the reason for the rejection"));
        }
        let event = Event::ApplicationReviewed(ApplicationReviewed {
            application: id,
            approved: self.approve,
            note: self.note.trim().to_string(),
        });
        Ok((vec![event], ()))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<crate::DivisionCode>, EngineError> {
        match ctx.state.applications.get(&self.application) {
            Some(a) => Ok(vec![ctx.hukou_of(a.number)?]),
            None => Ok(Vec::new()),
        }
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Application(self.application))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Produce and check the new card at the accepting point (A4). The card is valid from the
/// production date; its period follows the age at application (N5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProduceCard {
    /// The application.
    pub application: u64,
}

impl Command for ProduceCard {
    const KIND: CommandKind = CommandKind::ProduceCard;
    type Decided = CardKey;
    type Output = CardKey;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, CardKey), EngineError> {
        let id = self.application;
        let app = ctx.application(id)?;
        if app.point != ctx.actor.station {
            return Err(ctx.refuse(
                "not_accepting_point",
                format!("application {id} was accepted at {}", app.point),
            ));
        }
        if app.state != ApplicationState::Approved {
            return Err(ctx.refuse(
                "wrong_state",
                format!("application {id} is {:?}, not signed off", app.state),
            ));
        }
        ctx.living_person(app.number)?;
        let key = CardKey::new(app.number, ctx.today)
            .map_err(|e| ctx.refuse("invalid_card", e.to_string()))?;
        if ctx.state.cards.contains(key)? {
            return Err(ctx.refuse(
                "already_exists",
                "a card of this person valid from today already exists",
            ));
        }
        let event = Event::ApplicationCardProduced(ApplicationCardProduced {
            application: id,
            card: key,
        });
        Ok((vec![event], key))
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Application(self.application))
    }

    fn finish(key: CardKey, _: u64, _: &State) -> CardKey {
        key
    }
}

/// Hand the new card to the applicant at the point, against the pickup receipt (A4). On
/// renewal the old card is handed back and becomes superseded; a replaced (lost) card stays
/// lost. A temporary card still out must be handed back too (T5).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssueCard {
    /// The application.
    pub application: u64,
    /// The code on the pickup receipt.
    pub receipt: String,
    /// The person present (must be the applicant).
    pub present: InPerson,
    /// The old card was handed back (renewal).
    pub old_card_returned: bool,
    /// The temporary card was handed back (T5).
    pub temporary_card_returned: bool,
}

impl Command for IssueCard {
    const KIND: CommandKind = CommandKind::IssueCard;
    type Decided = CardKey;
    type Output = CardKey;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, CardKey), EngineError> {
        let id = self.application;
        let app = ctx.application(id)?;
        if app.point != ctx.actor.station {
            return Err(ctx.refuse(
                "not_accepting_point",
                format!("collect the card at {}", app.point),
            ));
        }
        if app.state != ApplicationState::Produced {
            return Err(ctx.refuse(
                "wrong_state",
                format!("application {id} is {:?}, not ready for pickup", app.state),
            ));
        }
        if self.receipt.trim() != app.pickup_receipt {
            return Err(ctx.refuse(
                "wrong_receipt",
                "the pickup receipt does not match the application",
            ));
        }
        // The applicant in person (A10), or the guardian who applied for an under-16.
        if self.present.number != app.number && Some(self.present.number) != app.guardian {
            return Err(ctx.refuse(
                "not_the_holder",
                "the card is handed to the applicant in person (A10), or to the guardian who applied",
            ));
        }
        ctx.living_person(app.number)?;
        let mut missing = Vec::new();
        if app.kind.is_renewal() && !self.old_card_returned {
            missing.push("the old card (handed back on renewal, A4)");
        }
        let temp = ctx
            .state
            .temp_cards
            .of(app.number)
            .find(|t| t.state == TempCardState::Issued);
        if temp.is_some() && !self.temporary_card_returned {
            missing.push("the temporary resident identity card (handed back now, T5)");
        }
        if !missing.is_empty() {
            return Err(ctx.refuse(
                "items_not_returned",
                format!("not handed back: {}", missing.join("; ")),
            ));
        }
        let Some(key) = app.new_card else {
            return Err(ctx.refuse(
                "wrong_state",
                format!("application {id} has no card produced"),
            ));
        };
        let mut events = vec![Event::CardsRegistered(CardsRegistered {
            cards: vec![CardRegistration {
                key,
                period: app.period,
                fingerprints: app.fingerprints,
            }],
        })];
        // One valid card per person: every other valid card of the person is superseded (the
        // renewed card handed back, and any card whose loss report was withdrawn meanwhile); a
        // replaced card stays lost or stolen.
        events.extend(super::registry::supersede_all_but(
            ctx.state,
            app.number,
            key,
            if app.kind.is_renewal() {
                CardReason::RENEWED
            } else {
                CardReason::REPLACED
            },
        )?);
        if let Some(t) = temp {
            events.push(Event::TemporaryCardReturned(TemporaryCardReturned {
                temp_card: t.id,
            }));
        }
        // F2: a replaced card held at a lost-and-found window is destroyed, not returned.
        if let Some(old) = app.old_card
            && ctx.state.found.held(old).is_some()
        {
            events.push(Event::FoundCardDestroyed(FoundCardDestroyed { card: old }));
        }
        events.push(Event::ApplicationCardIssued(ApplicationCardIssued {
            application: id,
        }));
        Ok((events, key))
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Application(self.application))
    }

    fn finish(key: CardKey, _: u64, _: &State) -> CardKey {
        key
    }
}

/// Extend an application's deadline for a remote area with poor transport, by at most the
/// policy's maximum in all (A4: 30 days). Returns the new deadline.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExtendDeadline {
    /// The application.
    pub application: u64,
    /// Days to add.
    pub days: u32,
    /// Why.
    pub reason: String,
}

impl Command for ExtendDeadline {
    const KIND: CommandKind = CommandKind::ExtendDeadline;
    type Decided = NaiveDate;
    type Output = NaiveDate;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, NaiveDate), EngineError> {
        let (id, days) = (self.application, self.days);
        let app = ctx.application(id)?;
        let reviewing = app.hukou_bureau == ctx.actor.station;
        let accepting_side = ctx
            .state
            .stations
            .get(&app.point)
            .is_some_and(|p| p.division.prefecture() == ctx.station.division.prefecture());
        if !(reviewing || accepting_side) {
            return Err(ctx.refuse(
                "not_responsible",
                "only the reviewing bureau or the accepting side's bureau extends a deadline",
            ));
        }
        let max = ctx.state.policy.max_extension_days;
        if days == 0 || app.extended_days + days > max {
            return Err(ctx.refuse(
                "extension_too_long",
                format!(
                    "extensions may add at most {max} days in all; {} already added",
                    app.extended_days
                ),
            ));
        }
        if self.reason.trim().is_empty() {
            return Err(ctx.refuse(
                "reason_required",
                "give the reason (remote area with poor transport)",
            ));
        }
        if !app.is_open() {
            return Err(ctx.refuse("wrong_state", "the application is closed"));
        }
        let deadline = app.deadline + chrono::Days::new(days as u64);
        let event = Event::DeadlineExtended(DeadlineExtended {
            application: id,
            days,
            reason: self.reason.trim().to_string(),
        });
        Ok((vec![event], deadline))
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Application(self.application))
    }

    fn finish(d: NaiveDate, _: u64, _: &State) -> NaiveDate {
        d
    }
}

/// Escalate every open application past its deadline that the acting county bureau reviews
/// and that was not escalated yet (A4): one [`ApplicationEscalated`] each, so the bureau's list
/// ([`crate::model::view::escalated_applications`]) shows what it must chase. Returns the
/// applications escalated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EscalateOverdue;

impl Command for EscalateOverdue {
    const KIND: CommandKind = CommandKind::EscalateOverdue;
    type Decided = Vec<u64>;
    type Output = Vec<u64>;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, Vec<u64>), EngineError> {
        let mut ids = Vec::new();
        let events = ctx
            .state
            .applications
            .values()
            .filter(|a| {
                a.is_overdue(ctx.today) && !a.escalated && a.hukou_bureau == ctx.actor.station
            })
            .map(|a| {
                ids.push(a.id);
                Event::ApplicationEscalated(ApplicationEscalated {
                    application: a.id,
                    deadline: a.deadline,
                    to: a.hukou_bureau.clone(),
                })
            })
            .collect();
        Ok((events, ids))
    }

    fn finish(ids: Vec<u64>, _: u64, _: &State) -> Vec<u64> {
        ids
    }
}
