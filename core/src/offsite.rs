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
use crate::engine::{CardRegistration, Ctx, Engine, EngineError, Event, InPerson};
use crate::index::{CardReason, CardStatus};
use crate::number::IdNumber;
use crate::population::FingerprintCheck;
use crate::station::{Actor, CommandKind, StationId, StationKind};

/// What the applicant asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationKind {
    /// Renewal of a card that expires or has expired (换领, 20 yuan).
    Renewal,
    /// Renewal of a damaged card (换领, 40 yuan).
    DamagedRenewal,
    /// Replacement of a lost or stolen card (补领, 40 yuan).
    Replacement,
}

impl ApplicationKind {
    /// Name used in the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationKind::Renewal => "renewal",
            ApplicationKind::DamagedRenewal => "damaged_renewal",
            ApplicationKind::Replacement => "replacement",
        }
    }

    fn is_renewal(self) -> bool {
        self != ApplicationKind::Replacement
    }
}

impl std::str::FromStr for ApplicationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "renewal" => Ok(ApplicationKind::Renewal),
            "damaged_renewal" => Ok(ApplicationKind::DamagedRenewal),
            "replacement" => Ok(ApplicationKind::Replacement),
            _ => Err(format!(
                "unknown application kind {s:?}: renewal, damaged_renewal or replacement"
            )),
        }
    }
}

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

/// Where an application stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    /// Accepted; at the hukou-place bureau for review (A4).
    Accepted,
    /// Signed off; to be produced.
    Approved,
    /// Refused at review, with the reason (A11).
    Rejected(String),
    /// Produced and checked; ready for pickup at the point.
    Produced,
    /// Collected by the applicant.
    Issued,
}

/// An off-site application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Identifier: the sequence number of its acceptance.
    pub id: u64,
    /// Renewal, damaged renewal, replacement.
    pub kind: ApplicationKind,
    /// The applicant.
    pub number: IdNumber,
    /// The card renewed or replaced.
    pub old_card: CardKey,
    /// The acceptance point.
    pub point: StationId,
    /// The county bureau of the household registration place that reviews it (A4, A11).
    pub hukou_bureau: StationId,
    /// Date of the registration form.
    pub accepted_on: NaiveDate,
    /// Date by which the card must be issued (A4).
    pub deadline: NaiveDate,
    /// Days added for a remote area so far (at most the policy's maximum, 30).
    pub extended_days: u32,
    /// The fee charged, in fen (A7).
    pub fee_fen: u32,
    /// Why the fee was waived, if it was (Resident Identity Card Law art. 20).
    pub fee_exempt: bool,
    /// Validity period of the new card, from the age on the application date (N5).
    pub period: ValidityPeriod,
    /// Fingerprints registered on the new card (N6).
    pub fingerprints: bool,
    /// The receipt code the applicant collects with.
    pub pickup_receipt: String,
    /// The new card, once produced.
    pub new_card: Option<CardKey>,
    /// Where it stands.
    pub state: ApplicationState,
}

/// An application at the counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationRequest {
    /// What is asked for.
    pub kind: ApplicationKind,
    /// The applicant's card renewed or replaced (`None`: the newest).
    pub card: crate::loss::CardRef,
    /// The person present.
    pub present: InPerson,
    /// The officer's comparison with the population system's photograph.
    pub appearance: Appearance,
    /// The papers presented.
    pub materials: Materials,
    /// Register fingerprints on the new card.
    pub fingerprints: bool,
}

/// The receipt code of an application (printed on the pickup receipt).
fn receipt(id: u64, number: IdNumber) -> String {
    let h = xxhash_rust::xxh3::xxh3_64(&[id.to_le_bytes(), number.to_u64().to_le_bytes()].concat());
    format!("R{id}-{:06}", h % 1_000_000)
}

impl Ctx<'_> {
    /// The county bureau of a household registration division: the county's, else the
    /// prefecture's, else the province's.
    fn bureau_of(&self, hukou: crate::DivisionCode) -> Option<StationId> {
        let h = hukou.get();
        let pick = |same: &dyn Fn(u32) -> bool| {
            self.state
                .stations
                .values()
                .filter(|s| s.kind == StationKind::CountyBureau && same(s.division.get()))
                .map(|s| s.id.clone())
                .min()
        };
        pick(&|d| d == h)
            .or_else(|| pick(&|d| d / 100 == h / 100))
            .or_else(|| pick(&|d| d / 10_000 == h / 10_000))
    }

    fn application(&self, id: u64) -> Result<&Application, EngineError> {
        self.state
            .applications
            .get(&id)
            .ok_or_else(|| self.refuse("unknown_application", format!("no application {id}")))
    }
}

impl Engine {
    /// Accept an off-site application (A1-A7, A9-A12). Each refusal says why; missing papers are
    /// listed all at once (A3). A replacement checks the loss-report system (the card is marked
    /// lost if it was not yet) and the found-card database (a found card is collected, not
    /// replaced).
    pub fn apply_offsite(
        &self,
        actor: &Actor,
        req: &ApplicationRequest,
    ) -> Result<Application, EngineError> {
        let (app, id) = self.run_seq(actor, CommandKind::ApplyOffsite, |ctx| {
            // A9: first-time applicants apply at home (the register knows no card of them).
            if ctx.state.cards_of.get(&req.card.number).is_none_or(|l| l.is_empty()) {
                return Err(ctx.refuse("first_time_applicant", "first-time applicants are not accepted off-site (A9)"));
            }
            let card = ctx.card(req.card)?.clone();
            let number = card.key.number();
            if req.present.number != number {
                return Err(ctx.refuse("not_the_holder", "only the applicant in person may apply (A10)"));
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
                        return Err(ctx.refuse("fingerprint_mismatch", "the fingerprints do not match those registered (A9)"));
                    }
                    FingerprintCheck::Matched
                }
                (None, true) => return Err(ctx.refuse("fingerprint_required", "the card has registered fingerprints: compare them (A9)")),
                (_, false) => FingerprintCheck::NotRegistered,
            };
            match (req.appearance, fingerprint) {
                (Appearance::DoesNotMatch, _) => {
                    return Err(ctx.refuse("appearance_mismatch", "the applicant does not match the population system's photograph (A9)"));
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
            if ctx.state.applications_of(number).any(|a| !matches!(a.state, ApplicationState::Issued | ApplicationState::Rejected(_))) {
                return Err(ctx.refuse("application_open", "an application of this person is already in progress"));
            }
            // The card asked about.
            let mut events = Vec::new();
            match req.kind {
                ApplicationKind::Renewal | ApplicationKind::DamagedRenewal => {
                    if card.status != CardStatus::Valid {
                        return Err(ctx.refuse(
                            "card_not_valid",
                            format!("the card is {}: renewal needs the current card (for a lost card, apply for a replacement)", card.status),
                        ));
                    }
                }
                ApplicationKind::Replacement => {
                    if let Some(f) = ctx.state.found.get(&card.key)
                        && f.outcome == crate::engine::FoundOutcome::Held
                    {
                        return Err(ctx.refuse("card_found", format!("the card was found and is held at {}: collect it there (F1)", f.window)));
                    }
                    match card.status {
                        CardStatus::Lost | CardStatus::Stolen => {}
                        CardStatus::Valid => events.push(Event::LossReported {
                            card: card.key,
                            stolen: false,
                            at_hukou_place: false,
                            fingerprint,
                        }),
                        other => {
                            return Err(ctx.refuse("card_not_valid", format!("the card is {other}: nothing to replace")));
                        }
                    }
                }
            }
            // A3: every missing item at once.
            let missing = req.materials.missing(req.kind);
            if !missing.is_empty() {
                return Err(ctx.refuse("materials_incomplete", format!("missing: {}", missing.join("; "))));
            }
            let hukou_bureau = ctx
                .bureau_of(person.hukou_division)
                .ok_or_else(|| ctx.refuse("no_hukou_bureau", format!("no county bureau is registered for {}", person.hukou_division)))?;
            // A7 and law art. 20: renewals free for people on minimum living allowance or in
            // rural hardship; replacements always paid.
            let policy = &ctx.state.policy;
            let fee_exempt = person.fee_exempt && req.kind == ApplicationKind::Renewal;
            let fee_fen = match (req.kind, fee_exempt) {
                (_, true) => 0,
                (ApplicationKind::Renewal, false) => policy.fees.renewal_fen,
                (_, false) => policy.fees.replacement_fen,
            };
            let age = number.age_on(ctx.today).unwrap_or(0);
            let app = Application {
                id: 0,
                kind: req.kind,
                number,
                old_card: card.key,
                point: ctx.actor.station.clone(),
                hukou_bureau,
                accepted_on: ctx.today,
                deadline: ctx.today + chrono::Days::new(policy.processing_days as u64),
                extended_days: 0,
                fee_fen,
                fee_exempt,
                period: ValidityPeriod::for_age(age),
                fingerprints: req.fingerprints,
                pickup_receipt: String::new(),
                new_card: None,
                state: ApplicationState::Accepted,
            };
            events.push(Event::ApplicationAccepted(Box::new(app.clone())));
            Ok((events, app))
        })?;
        // The identifier is the sequence number of the acceptance record (the last one).
        Ok(self
            .with_state(|s| s.applications.get(&id).cloned())
            .unwrap_or(app))
    }

    /// Review and sign off (or reject) an application at the hukou-place county bureau (A4,
    /// A11: verification stays with it).
    pub fn review_application(
        &self,
        actor: &Actor,
        id: u64,
        approve: bool,
        note: &str,
    ) -> Result<(), EngineError> {
        self.run(actor, CommandKind::ReviewApplication, |ctx| {
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
            if !approve && note.trim().is_empty() {
                return Err(ctx.refuse("reason_required", "give the reason for the rejection"));
            }
            Ok((
                vec![Event::ApplicationReviewed {
                    application: id,
                    approved: approve,
                    note: note.trim().to_string(),
                }],
                (),
            ))
        })
    }

    /// Produce and check the new card at the accepting point (A4). The card is valid from the
    /// production date; its period follows the age at application (N5).
    pub fn produce_card(&self, actor: &Actor, id: u64) -> Result<CardKey, EngineError> {
        self.run(actor, CommandKind::ProduceCard, |ctx| {
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
            Ok((
                vec![Event::ApplicationCardProduced {
                    application: id,
                    card: key,
                }],
                key,
            ))
        })
    }

    /// Hand the new card to the applicant at the point, against the pickup receipt (A4). On
    /// renewal the old card is handed back and becomes superseded; a replaced (lost) card stays
    /// lost. A temporary card still out must be handed back too (T5).
    pub fn issue_card(
        &self,
        actor: &Actor,
        id: u64,
        receipt_code: &str,
        present: &InPerson,
        old_card_returned: bool,
        temporary_card_returned: bool,
    ) -> Result<CardKey, EngineError> {
        self.run(actor, CommandKind::IssueCard, |ctx| {
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
            if receipt_code.trim() != app.pickup_receipt {
                return Err(ctx.refuse(
                    "wrong_receipt",
                    "the pickup receipt does not match the application",
                ));
            }
            if present.number != app.number {
                return Err(ctx.refuse(
                    "not_the_holder",
                    "the card is handed to the applicant in person (A10)",
                ));
            }
            let mut missing = Vec::new();
            if app.kind.is_renewal() && !old_card_returned {
                missing.push("the old card (handed back on renewal, A4)");
            }
            let temp = ctx
                .state
                .temp_cards_of(app.number)
                .find(|t| t.state == crate::temporary::TempCardState::Issued);
            if temp.is_some() && !temporary_card_returned {
                missing.push("the temporary resident identity card (handed back now, T5)");
            }
            if !missing.is_empty() {
                return Err(ctx.refuse(
                    "items_not_returned",
                    format!("not handed back: {}", missing.join("; ")),
                ));
            }
            let key = app.new_card.expect("produced applications have a card");
            let mut events = vec![Event::CardsRegistered(vec![CardRegistration {
                key,
                period: app.period,
                fingerprints: app.fingerprints,
            }])];
            if app.kind.is_renewal() {
                events.push(Event::CardStatusChanged {
                    card: app.old_card,
                    status: CardStatus::Superseded,
                    reason: CardReason::RENEWED,
                });
            }
            if let Some(t) = temp {
                events.push(Event::TemporaryCardReturned { temp_card: t.id });
            }
            // F2: a replaced card held at a lost-and-found window is destroyed, not returned.
            if ctx
                .state
                .found
                .get(&app.old_card)
                .is_some_and(|f| f.outcome == crate::engine::FoundOutcome::Held)
            {
                events.push(Event::FoundCardDestroyed { card: app.old_card });
            }
            events.push(Event::ApplicationCardIssued { application: id });
            Ok((events, key))
        })
    }

    /// Extend an application's deadline for a remote area with poor transport, by at most the
    /// policy's maximum in all (A4: 30 days).
    pub fn extend_deadline(
        &self,
        actor: &Actor,
        id: u64,
        days: u32,
        reason: &str,
    ) -> Result<NaiveDate, EngineError> {
        self.run(actor, CommandKind::ExtendDeadline, |ctx| {
            let app = ctx.application(id)?;
            let reviewing = app.hukou_bureau == ctx.actor.station;
            let accepting_side = ctx
                .state
                .stations
                .get(&app.point)
                .is_some_and(|p| p.division.get() / 100 == ctx.station.division.get() / 100);
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
            if reason.trim().is_empty() {
                return Err(ctx.refuse(
                    "reason_required",
                    "give the reason (remote area with poor transport)",
                ));
            }
            if matches!(
                app.state,
                ApplicationState::Issued | ApplicationState::Rejected(_)
            ) {
                return Err(ctx.refuse("wrong_state", "the application is closed"));
            }
            let deadline = app.deadline + chrono::Days::new(days as u64);
            Ok((
                vec![Event::DeadlineExtended {
                    application: id,
                    days,
                    reason: reason.trim().to_string(),
                }],
                deadline,
            ))
        })
    }

    /// Applications not issued by their deadline on `today`, optionally of one acceptance point
    /// or reviewing bureau (A4).
    pub fn overdue_applications(
        &self,
        today: NaiveDate,
        station: Option<&StationId>,
    ) -> Vec<Application> {
        self.with_state(|s| {
            s.applications
                .values()
                .filter(|a| {
                    !matches!(
                        a.state,
                        ApplicationState::Issued | ApplicationState::Rejected(_)
                    )
                })
                .filter(|a| a.deadline < today)
                .filter(|a| station.is_none_or(|st| &a.point == st || &a.hukou_bureau == st))
                .cloned()
                .collect()
        })
    }
}

/// State changes of applications (called by `State::apply`).
pub(crate) fn apply(state: &mut crate::engine::State, seq: u64, event: &Event) {
    match event {
        Event::ApplicationAccepted(app) => {
            let mut app = (**app).clone();
            app.id = seq;
            app.pickup_receipt = receipt(seq, app.number);
            state
                .applications_of
                .entry(app.number)
                .or_default()
                .push(seq);
            state.applications.insert(seq, app);
        }
        Event::ApplicationReviewed {
            application,
            approved,
            note,
        } => {
            if let Some(a) = state.applications.get_mut(application) {
                a.state = if *approved {
                    ApplicationState::Approved
                } else {
                    ApplicationState::Rejected(note.clone())
                };
            }
        }
        Event::ApplicationCardProduced { application, card } => {
            if let Some(a) = state.applications.get_mut(application) {
                a.state = ApplicationState::Produced;
                a.new_card = Some(*card);
            }
        }
        Event::ApplicationCardIssued { application } => {
            if let Some(a) = state.applications.get_mut(application) {
                a.state = ApplicationState::Issued;
            }
        }
        Event::DeadlineExtended {
            application, days, ..
        } => {
            if let Some(a) = state.applications.get_mut(application) {
                a.extended_days += days;
                a.deadline = a.deadline + chrono::Days::new(*days as u64);
            }
        }
        _ => {}
    }
}
