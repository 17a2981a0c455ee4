//! Off-site acceptance of renewals and replacements (异地受理) — requirements A1-A7, A9-A12, N5,
//! N6.
//!
//! An application is accepted at an off-site acceptance point, in person (A3, A10); it goes to
//! the county bureau of the applicant's household registration place for review and sign-off
//! (A4, A11); the accepting side produces and checks the card, and the applicant collects it
//! at the point against the pickup receipt, handing back the old card on renewal (A4). Deadline:
//! 60 days from the registration form, shortened by policy, extended in remote areas by at most
//! 30 days (A4). Fees at the national standard, in fen, computed (never entered) (A7).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::card::{CardKey, ValidityPeriod};
pub use crate::engine::CardRef;
use crate::engine::{Command, Ctx, EngineError, InPerson};
use crate::index::{CardReason, CardStatus};
pub use crate::model::{Application, ApplicationKind, ApplicationState};
use crate::model::{
    ApplicationAccepted, ApplicationCardIssued, ApplicationCardProduced, ApplicationReviewed,
    CardRegistration, CardStatusChanged, CardsRegistered, DeadlineExtended, Event,
    FoundCardDestroyed, LossReported, State, TempCardState, TemporaryCardReturned,
};
use crate::population::FingerprintCheck;
use crate::station::CommandKind;

/// The officer's comparison of the applicant with the population system's photograph (A5, A9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Appearance {
    /// The applicant matches.
    Matches,
    /// Changed greatly: acceptable only if fingerprints registered on the card match (A5).
    ChangedGreatly,
    /// Does not match (A9).
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

/// The papers presented (A3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Materials {
    /// The off-site acceptance registration form (异地受理登记表), filled in.
    pub registration_form: bool,
    /// The current card, handed in (renewal).
    pub current_card: bool,
    /// The household register booklet (replacement: booklet or residence permit).
    pub household_booklet: bool,
    /// A residence permit (居住证).
    pub residence_permit: bool,
}

impl Materials {
    /// Everything an applicant of `kind` needs.
    pub fn complete(kind: ApplicationKind) -> Materials {
        Materials {
            registration_form: true,
            current_card: kind.is_renewal(),
            household_booklet: !kind.is_renewal(),
            residence_permit: false,
        }
    }

    /// Every missing item, at once (A3).
    pub fn missing(&self, kind: ApplicationKind) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.registration_form {
            out.push("the off-site acceptance registration form");
        }
        if kind.is_renewal() && !self.current_card {
            out.push("the current card (handed in on renewal)");
        }
        if !kind.is_renewal() && !self.household_booklet && !self.residence_permit {
            out.push("the household register booklet or a residence permit");
        }
        out
    }
}

/// An application at the counter.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApplicationRequest {
    /// What is asked for.
    pub kind: ApplicationKind,
    /// The applicant's card renewed or replaced (`None`: the newest).
    pub card: CardRef,
    /// The person present.
    pub present: InPerson,
    /// The officer's comparison with the population system's photograph.
    pub appearance: Appearance,
    /// The papers presented.
    pub materials: Materials,
    /// Register fingerprints on the new card.
    pub fingerprints: bool,
}

impl Command for ApplicationRequest {
    const KIND: CommandKind = CommandKind::ApplyOffsite;
    type Decided = ();
    type Output = Application;

    /// Accept an off-site application (A1-A7, A9-A12). Each refusal says why; missing papers are
    /// listed all at once (A3). A replacement checks the loss-report system (the card is marked
    /// lost if it was not yet) and the found-card database (a found card is collected, not
    /// replaced).
    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let req = self;
        // A9: first-time applicants apply at home (the register knows no card of them).
        if !ctx.state.cards.has_any(req.card.number) {
            return Err(ctx.refuse(
                "first_time_applicant",
                "first-time applicants are not accepted off-site (A9)",
            ));
        }
        let card = ctx.card(req.card)?.clone();
        let number = card.key.number();
        if req.present.number != number {
            return Err(ctx.refuse(
                "not_the_holder",
                "only the applicant in person may apply (A10)",
            ));
        }
        let person = ctx.living_person(number)?;
        // A12 and A1: may this point accept someone registered there, today?
        ctx.state
            .policy
            .rollout
            .may_accept(person.hukou_division, ctx.station.division, ctx.today)
            .map_err(|n| ctx.refuse(n.code, n.message))?;
        // A5, A9: identity against the population system.
        let fingerprint = match (&req.present.fingerprint, card.fingerprints) {
            (Some(sample), true) => {
                if !ctx.fingerprint_matches(number, sample)? {
                    return Err(ctx.refuse(
                        "fingerprint_mismatch",
                        "the fingerprints do not match those registered (A9)",
                    ));
                }
                FingerprintCheck::Matched
            }
            (None, true) => {
                return Err(ctx.refuse(
                    "fingerprint_required",
                    "the card has registered fingerprints: compare them (A9)",
                ));
            }
            (_, false) => FingerprintCheck::NotRegistered,
        };
        match (req.appearance, fingerprint) {
            (Appearance::DoesNotMatch, _) => {
                return Err(ctx.refuse(
                    "appearance_mismatch",
                    "the applicant does not match the population system's photograph (A9)",
                ));
            }
            (Appearance::ChangedGreatly, FingerprintCheck::NotRegistered) => {
                return Err(ctx.refuse(
                    "appearance_changed_no_fingerprints",
                    "appearance changed greatly and the card has no fingerprints to confirm identity (A5)",
                ));
            }
            _ => {}
        }
        // A6.
        if ctx.state.blacklist.contains_key(&number) {
            return Err(ctx.refuse("blacklisted", "the applicant is on the list of people refused off-site applications (A6): apply at the household registration place"));
        }
        if ctx.state.applications.open_of(number).is_some() {
            return Err(ctx.refuse(
                "application_open",
                "an application of this person is already in progress",
            ));
        }
        // The card asked about.
        let mut events = Vec::new();
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
                    at_hukou_place: false,
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
        // A3: every missing item at once.
        let missing = req.materials.missing(req.kind);
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
        // A7 and law art. 20: renewals free for people on minimum living allowance or in
        // rural hardship; replacements always paid.
        let policy = &ctx.state.policy;
        let fee_exempt = person.fee_exempt && req.kind == ApplicationKind::Renewal;
        let fee_fen = match (req.kind, fee_exempt) {
            (_, true) => 0,
            (ApplicationKind::Renewal, false) => policy.fees.renewal_fen,
            (_, false) => policy.fees.replacement_fen,
        };
        let period = ValidityPeriod::on_application(number, ctx.today)
            .map_err(|e| ctx.refuse("invalid_card", e.to_string()))?;
        events.push(Event::ApplicationAccepted(ApplicationAccepted {
            kind: req.kind,
            number,
            old_card: card.key,
            hukou_bureau,
            accepted_on: ctx.today,
            deadline: ctx.today + chrono::Days::new(policy.processing_days as u64),
            fee_fen,
            fee_exempt,
            period,
            fingerprints: req.fingerprints,
        }));
        Ok((events, ()))
    }

    /// The application as recorded: its identifier is the sequence number of the acceptance
    /// record (the last one).
    fn subject(&self) -> Option<crate::model::Subject> {
        Some(
            match self
                .card
                .valid_from
                .and_then(|d| crate::card::CardKey::new(self.card.number, d).ok())
            {
                Some(k) => crate::model::Subject::Card(k),
                None => crate::model::Subject::Person(self.card.number),
            },
        )
    }

    fn finish(_: (), seq: u64, state: &State) -> Application {
        state.applications[&seq].clone()
    }
}

/// Review and sign off (or reject) an application at the hukou-place county bureau (A4, A11:
/// verification stays with it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
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
        let key = CardKey::new(app.number, ctx.today)
            .map_err(|e| ctx.refuse("invalid_card", e.to_string()))?;
        if ctx.state.cards.contains_key(&key) {
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
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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
        if self.present.number != app.number {
            return Err(ctx.refuse(
                "not_the_holder",
                "the card is handed to the applicant in person (A10)",
            ));
        }
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
        if app.kind.is_renewal() {
            events.push(Event::CardStatusChanged(CardStatusChanged {
                card: app.old_card,
                status: CardStatus::Superseded,
                reason: CardReason::RENEWED,
            }));
        }
        if let Some(t) = temp {
            events.push(Event::TemporaryCardReturned(TemporaryCardReturned {
                temp_card: t.id,
            }));
        }
        // F2: a replaced card held at a lost-and-found window is destroyed, not returned.
        if ctx.state.found.held(app.old_card).is_some() {
            events.push(Event::FoundCardDestroyed(FoundCardDestroyed {
                card: app.old_card,
            }));
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
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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
