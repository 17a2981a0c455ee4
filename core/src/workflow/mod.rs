//! The workflows: the commands of the system of record, each a request type with its one
//! decision ([`crate::engine::Command::decide`]) — the place to read a rule.
//!
//! | module | commands | requirements |
//! |---|---|---|
//! | [`registry`] | stations, officers, people, guardians, deaths, cards (one valid card per person) | S1, A2, A10, N4-N6 |
//! | [`loss`] | loss reports, withdrawals, hit reports | L1-L5, A10 |
//! | [`found`] | found cards taken in, returned, destroyed | F1, F2 |
//! | [`blacklist`] | blacklist entries, credit platform pushes | A6 |
//! | [`offsite`] | applications at home and off-site: acceptance, review, production, issue, deadlines, escalation | A1-A12, N5, L5 |
//! | [`temporary`] | temporary certificates and temporary cards | A8, T1-T5 |
//! | [`policy`] | rollout and fees as data | A7, A12 |
//! | [`publish`] | subscribers, signed snapshots, deltas and timestamps | L3, A6, S2 |
//!
//! Run a command with [`Engine::execute`]; [`Commands`] gives the same as methods of the
//! engine with plain arguments.
//!
//! ```
//! use idcard::engine::{Engine, EngineOptions};
//! use idcard::station::{Actor, Officer, OfficerKey, Station, StationKind};
//! use idcard::trust::{Algorithm, SecretKey};
//! use idcard::workflow::{Commands, registry::RegisterStation};
//! use idcard::DivisionCode;
//! let dir = tempfile::tempdir()?;
//! let (engine, _) = Engine::open(dir.path(), EngineOptions::default())?;
//! let station = |id: &str, kind| Station { id: id.parse().unwrap(), kind,
//!     division: DivisionCode::new(110105).unwrap(), name: id.into() };
//! let key = SecretKey::generate(Algorithm::Ed25519, "A1")?;
//! engine.bootstrap(station("PSB", StationKind::CountyBureau),
//!     Officer { id: "A1".parse()?, name: "王".into(), station: "PSB".parse()?, active: true,
//!               key: Some(OfficerKey::of(&key.public())) })?;
//! // Every command is signed with the officer's key (S1).
//! let chief = Actor::new("A1", "PSB")?.with_key(key);
//! engine.execute(&chief, &RegisterStation(station("HR-1", StationKind::HouseholdRegistrationStation)))?;
//! // The same through the extension trait:
//! engine.register_station(&chief, station("HR-2", StationKind::HouseholdRegistrationStation))?;
//! assert_eq!(engine.with_state(|s| s.stations.len()), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod blacklist;
pub mod found;
pub mod loss;
pub mod offsite;
pub mod policy;
pub mod publish;
pub mod registry;
pub mod remote;
pub mod temporary;

use std::path::Path;

use chrono::NaiveDate;

use crate::card::CardKey;
use crate::engine::{CardRef, Engine, EngineError, InPerson};
use crate::index::{BlacklistEntry, Profile};
use crate::model::view::{self, CertificateCheck, FoundAnswer};
use crate::model::{Application, CardRegistration, TempCard, TempCertificate};
use crate::number::IdNumber;
use crate::population::Person;
use crate::station::{Actor, Officer, OfficerId, Station, StationId, SubscriberId};

/// The commands as methods of the engine (each builds its request and calls
/// [`Engine::execute`]), and the reads the workflows offer.
pub trait Commands {
    /// [`registry::RegisterStation`].
    fn register_station(&self, actor: &Actor, station: Station) -> Result<(), EngineError>;
    /// [`registry::RegisterOfficer`].
    fn register_officer(&self, actor: &Actor, officer: Officer) -> Result<(), EngineError>;
    /// [`registry::DeactivateOfficer`].
    fn deactivate_officer(&self, actor: &Actor, officer: &OfficerId) -> Result<(), EngineError>;
    /// [`registry::SetOfficerKey`].
    fn set_officer_key(
        &self,
        actor: &Actor,
        officer: &OfficerId,
        key: crate::station::OfficerKey,
    ) -> Result<(), EngineError>;
    /// [`registry::RegisterPeople`].
    fn register_people(&self, actor: &Actor, people: Vec<Person>) -> Result<usize, EngineError>;
    /// [`registry::RecordDeath`].
    fn record_death(&self, actor: &Actor, number: IdNumber) -> Result<(), EngineError>;
    /// [`registry::RegisterCards`].
    fn register_cards(
        &self,
        actor: &Actor,
        cards: Vec<CardRegistration>,
    ) -> Result<usize, EngineError>;
    /// [`loss::LossRequest`].
    fn report_loss(
        &self,
        actor: &Actor,
        req: &loss::LossRequest,
    ) -> Result<loss::LossReceipt, EngineError>;
    /// [`loss::CancelLoss`].
    fn cancel_loss(
        &self,
        actor: &Actor,
        card: CardRef,
        present: &InPerson,
    ) -> Result<CardKey, EngineError>;
    /// [`loss::ReportHit`].
    fn report_hit(
        &self,
        actor: &Actor,
        card: CardKey,
        note: &str,
    ) -> Result<loss::HitReceipt, EngineError>;
    /// [`loss::AcknowledgeHit`].
    fn acknowledge_hit(&self, actor: &Actor, hit: u64, note: &str) -> Result<(), EngineError>;
    /// [`found::IntakeFoundCard`].
    fn intake_found(
        &self,
        actor: &Actor,
        card: CardKey,
        finder: Option<&str>,
    ) -> Result<found::IntakeOutcome, EngineError>;
    /// [`found::ReturnFoundCard`].
    fn return_found(
        &self,
        actor: &Actor,
        card: CardKey,
        present: &InPerson,
        photo_ref: &str,
    ) -> Result<(), EngineError>;
    /// A citizen's query (F1): [`view::found_query`].
    fn found_query(&self, number: IdNumber) -> Result<Vec<FoundAnswer>, EngineError>;
    /// [`blacklist::AddBlacklist`].
    fn add_blacklist(
        &self,
        actor: &Actor,
        number: IdNumber,
        entry: BlacklistEntry,
    ) -> Result<(), EngineError>;
    /// [`blacklist::RemoveBlacklist`].
    fn remove_blacklist(
        &self,
        actor: &Actor,
        number: IdNumber,
        reason: &str,
    ) -> Result<(), EngineError>;
    /// [`blacklist::import_credit_push`].
    fn import_credit_push(
        &self,
        actor: &Actor,
        feed: &mut dyn blacklist::CreditFeed,
        progress: &mut dyn FnMut(u64),
    ) -> Result<blacklist::ImportSummary, EngineError>;
    /// [`offsite::ApplicationRequest`].
    fn apply_offsite(
        &self,
        actor: &Actor,
        req: &offsite::ApplicationRequest,
    ) -> Result<Application, EngineError>;
    /// [`offsite::ReviewApplication`].
    fn review_application(
        &self,
        actor: &Actor,
        id: u64,
        approve: bool,
        note: &str,
    ) -> Result<(), EngineError>;
    /// [`offsite::ProduceCard`].
    fn produce_card(&self, actor: &Actor, id: u64) -> Result<CardKey, EngineError>;
    /// [`offsite::IssueCard`].
    fn issue_card(
        &self,
        actor: &Actor,
        id: u64,
        receipt: &str,
        present: &InPerson,
        old_card_returned: bool,
        temporary_card_returned: bool,
    ) -> Result<CardKey, EngineError>;
    /// [`offsite::ExtendDeadline`].
    fn extend_deadline(
        &self,
        actor: &Actor,
        id: u64,
        days: u32,
        reason: &str,
    ) -> Result<NaiveDate, EngineError>;
    /// [`view::overdue_applications`].
    fn overdue_applications(
        &self,
        today: NaiveDate,
        station: Option<&StationId>,
    ) -> Vec<Application>;
    /// [`temporary::IssueTemporaryCertificate`].
    fn issue_temporary_certificate(
        &self,
        actor: &Actor,
        number: IdNumber,
        missing: temporary::MissingCard,
        trip: temporary::Trip,
    ) -> Result<TempCertificate, EngineError>;
    /// [`view::check_certificate`] now (anyone may check: nothing is recorded).
    fn check_temporary_certificate(
        &self,
        id: u64,
        number: IdNumber,
        trip_reference: &str,
    ) -> CertificateCheck;
    /// [`temporary::UseTemporaryCertificate`].
    fn use_temporary_certificate(
        &self,
        actor: &Actor,
        id: u64,
        number: IdNumber,
        trip_reference: &str,
    ) -> Result<(), EngineError>;
    /// [`temporary::ApplyTemporaryCard`].
    fn apply_temporary_card(
        &self,
        actor: &Actor,
        number: IdNumber,
        present: &InPerson,
        guardian: Option<IdNumber>,
        materials: temporary::TempCardMaterials,
    ) -> Result<TempCard, EngineError>;
    /// [`temporary::IssueTemporaryCard`].
    fn issue_temporary_card(&self, actor: &Actor, id: u64) -> Result<TempCard, EngineError>;
    /// [`temporary::ReturnTemporaryCard`].
    fn return_temporary_card(&self, actor: &Actor, id: u64) -> Result<(), EngineError>;
    /// [`view::temp_cards_overdue`].
    fn temporary_cards_overdue(&self, today: NaiveDate) -> view::TempCardsOverdue;
    /// [`policy::SetPolicy`].
    fn set_policy(&self, actor: &Actor, policy: crate::policy::Policy) -> Result<(), EngineError>;
    /// [`publish::publish_snapshot`].
    fn publish_snapshot(
        &self,
        actor: &Actor,
        profile: Profile,
        path: impl AsRef<Path>,
    ) -> Result<publish::Published, EngineError>;
    /// [`publish::publish_snapshot`] with options (signed, for a subscriber).
    fn publish_snapshot_with(
        &self,
        actor: &Actor,
        profile: Profile,
        path: impl AsRef<Path>,
        options: &publish::PublishOptions,
    ) -> Result<publish::Published, EngineError>;
    /// [`publish::publish_delta`] with options (signed).
    fn publish_delta_with(
        &self,
        actor: &Actor,
        base: impl AsRef<Path>,
        since: Option<u64>,
        path: impl AsRef<Path>,
        options: &publish::PublishOptions,
    ) -> Result<publish::Published, EngineError>;
    /// [`publish::RegisterSubscriber`].
    fn register_subscriber(
        &self,
        actor: &Actor,
        id: SubscriberId,
        name: &str,
        profile: Profile,
    ) -> Result<(), EngineError>;
    /// [`publish::publish_delta`], unsigned, continuing the chain on `base`.
    fn publish_delta(
        &self,
        actor: &Actor,
        base: impl AsRef<Path>,
        path: impl AsRef<Path>,
    ) -> Result<publish::Published, EngineError>;
    /// [`publish::publish_delta`] from `since`.
    fn publish_delta_since(
        &self,
        actor: &Actor,
        base: impl AsRef<Path>,
        since: Option<u64>,
        path: impl AsRef<Path>,
    ) -> Result<publish::Published, EngineError>;
}

impl Commands for Engine {
    fn register_station(&self, actor: &Actor, station: Station) -> Result<(), EngineError> {
        self.execute(actor, &registry::RegisterStation(station))
    }

    fn register_officer(&self, actor: &Actor, officer: Officer) -> Result<(), EngineError> {
        self.execute(actor, &registry::RegisterOfficer(officer))
    }

    fn deactivate_officer(&self, actor: &Actor, officer: &OfficerId) -> Result<(), EngineError> {
        self.execute(actor, &registry::DeactivateOfficer(officer.clone()))
    }

    fn set_officer_key(
        &self,
        actor: &Actor,
        officer: &OfficerId,
        key: crate::station::OfficerKey,
    ) -> Result<(), EngineError> {
        self.execute(
            actor,
            &registry::SetOfficerKey {
                officer: officer.clone(),
                key,
            },
        )
    }

    fn register_people(&self, actor: &Actor, people: Vec<Person>) -> Result<usize, EngineError> {
        self.execute(actor, &registry::RegisterPeople(people))
    }

    fn record_death(&self, actor: &Actor, number: IdNumber) -> Result<(), EngineError> {
        self.execute(actor, &registry::RecordDeath(number))
    }

    fn register_cards(
        &self,
        actor: &Actor,
        cards: Vec<CardRegistration>,
    ) -> Result<usize, EngineError> {
        self.execute(actor, &registry::RegisterCards(cards))
    }

    fn report_loss(
        &self,
        actor: &Actor,
        req: &loss::LossRequest,
    ) -> Result<loss::LossReceipt, EngineError> {
        self.execute(actor, req)
    }

    fn cancel_loss(
        &self,
        actor: &Actor,
        card: CardRef,
        present: &InPerson,
    ) -> Result<CardKey, EngineError> {
        self.execute(
            actor,
            &loss::CancelLoss {
                card,
                present: present.clone(),
            },
        )
    }

    fn report_hit(
        &self,
        actor: &Actor,
        card: CardKey,
        note: &str,
    ) -> Result<loss::HitReceipt, EngineError> {
        self.execute(
            actor,
            &loss::ReportHit {
                card,
                note: note.to_string(),
            },
        )
    }

    fn acknowledge_hit(&self, actor: &Actor, hit: u64, note: &str) -> Result<(), EngineError> {
        self.execute(
            actor,
            &loss::AcknowledgeHit {
                hit,
                note: note.to_string(),
            },
        )
    }

    fn intake_found(
        &self,
        actor: &Actor,
        card: CardKey,
        finder: Option<&str>,
    ) -> Result<found::IntakeOutcome, EngineError> {
        self.execute(
            actor,
            &found::IntakeFoundCard {
                card,
                finder: finder.map(str::to_string),
            },
        )
    }

    fn return_found(
        &self,
        actor: &Actor,
        card: CardKey,
        present: &InPerson,
        photo_ref: &str,
    ) -> Result<(), EngineError> {
        self.execute(
            actor,
            &found::ReturnFoundCard {
                card,
                present: present.clone(),
                photo_ref: photo_ref.to_string(),
            },
        )
    }

    fn found_query(&self, number: IdNumber) -> Result<Vec<FoundAnswer>, EngineError> {
        Ok(self.with_state(|s| view::found_query(s, number))?)
    }

    fn add_blacklist(
        &self,
        actor: &Actor,
        number: IdNumber,
        entry: BlacklistEntry,
    ) -> Result<(), EngineError> {
        self.execute(actor, &blacklist::AddBlacklist { number, entry })
    }

    fn remove_blacklist(
        &self,
        actor: &Actor,
        number: IdNumber,
        reason: &str,
    ) -> Result<(), EngineError> {
        self.execute(
            actor,
            &blacklist::RemoveBlacklist {
                number,
                reason: reason.to_string(),
            },
        )
    }

    fn import_credit_push(
        &self,
        actor: &Actor,
        feed: &mut dyn blacklist::CreditFeed,
        progress: &mut dyn FnMut(u64),
    ) -> Result<blacklist::ImportSummary, EngineError> {
        blacklist::import_credit_push(self, actor, feed, progress)
    }

    fn apply_offsite(
        &self,
        actor: &Actor,
        req: &offsite::ApplicationRequest,
    ) -> Result<Application, EngineError> {
        self.execute(actor, req)
    }

    fn review_application(
        &self,
        actor: &Actor,
        id: u64,
        approve: bool,
        note: &str,
    ) -> Result<(), EngineError> {
        self.execute(
            actor,
            &offsite::ReviewApplication {
                application: id,
                approve,
                note: note.to_string(),
            },
        )
    }

    fn produce_card(&self, actor: &Actor, id: u64) -> Result<CardKey, EngineError> {
        self.execute(actor, &offsite::ProduceCard { application: id })
    }

    fn issue_card(
        &self,
        actor: &Actor,
        id: u64,
        receipt: &str,
        present: &InPerson,
        old_card_returned: bool,
        temporary_card_returned: bool,
    ) -> Result<CardKey, EngineError> {
        self.execute(
            actor,
            &offsite::IssueCard {
                application: id,
                receipt: receipt.to_string(),
                present: present.clone(),
                old_card_returned,
                temporary_card_returned,
            },
        )
    }

    fn extend_deadline(
        &self,
        actor: &Actor,
        id: u64,
        days: u32,
        reason: &str,
    ) -> Result<NaiveDate, EngineError> {
        self.execute(
            actor,
            &offsite::ExtendDeadline {
                application: id,
                days,
                reason: reason.to_string(),
            },
        )
    }

    fn overdue_applications(
        &self,
        today: NaiveDate,
        station: Option<&StationId>,
    ) -> Vec<Application> {
        self.with_state(|s| view::overdue_applications(s, today, station))
    }

    fn issue_temporary_certificate(
        &self,
        actor: &Actor,
        number: IdNumber,
        missing: temporary::MissingCard,
        trip: temporary::Trip,
    ) -> Result<TempCertificate, EngineError> {
        self.execute(
            actor,
            &temporary::IssueTemporaryCertificate::new(number, missing, trip),
        )
    }

    fn check_temporary_certificate(
        &self,
        id: u64,
        number: IdNumber,
        trip_reference: &str,
    ) -> CertificateCheck {
        let now = self.clock().now().timestamp_millis();
        self.with_state(|s| view::check_certificate(s, id, number, trip_reference, now))
    }

    fn use_temporary_certificate(
        &self,
        actor: &Actor,
        id: u64,
        number: IdNumber,
        trip_reference: &str,
    ) -> Result<(), EngineError> {
        self.execute(
            actor,
            &temporary::UseTemporaryCertificate {
                certificate: id,
                number,
                trip_reference: trip_reference.to_string(),
            },
        )
    }

    fn apply_temporary_card(
        &self,
        actor: &Actor,
        number: IdNumber,
        present: &InPerson,
        guardian: Option<IdNumber>,
        materials: temporary::TempCardMaterials,
    ) -> Result<TempCard, EngineError> {
        self.execute(
            actor,
            &temporary::ApplyTemporaryCard {
                number,
                present: present.clone(),
                guardian,
                materials,
            },
        )
    }

    fn issue_temporary_card(&self, actor: &Actor, id: u64) -> Result<TempCard, EngineError> {
        self.execute(actor, &temporary::IssueTemporaryCard { temp_card: id })
    }

    fn return_temporary_card(&self, actor: &Actor, id: u64) -> Result<(), EngineError> {
        self.execute(actor, &temporary::ReturnTemporaryCard { temp_card: id })
    }

    fn temporary_cards_overdue(&self, today: NaiveDate) -> view::TempCardsOverdue {
        self.with_state(|s| view::temp_cards_overdue(s, today))
    }

    fn set_policy(&self, actor: &Actor, policy: crate::policy::Policy) -> Result<(), EngineError> {
        self.execute(actor, &policy::SetPolicy(policy))
    }

    fn publish_snapshot(
        &self,
        actor: &Actor,
        profile: Profile,
        path: impl AsRef<Path>,
    ) -> Result<publish::Published, EngineError> {
        publish::publish_snapshot(self, actor, profile, path.as_ref(), &Default::default())
    }

    fn publish_snapshot_with(
        &self,
        actor: &Actor,
        profile: Profile,
        path: impl AsRef<Path>,
        options: &publish::PublishOptions,
    ) -> Result<publish::Published, EngineError> {
        publish::publish_snapshot(self, actor, profile, path.as_ref(), options)
    }

    fn publish_delta_with(
        &self,
        actor: &Actor,
        base: impl AsRef<Path>,
        since: Option<u64>,
        path: impl AsRef<Path>,
        options: &publish::PublishOptions,
    ) -> Result<publish::Published, EngineError> {
        publish::publish_delta(self, actor, base.as_ref(), since, path.as_ref(), options)
    }

    fn register_subscriber(
        &self,
        actor: &Actor,
        id: SubscriberId,
        name: &str,
        profile: Profile,
    ) -> Result<(), EngineError> {
        self.execute(
            actor,
            &publish::RegisterSubscriber {
                id,
                name: name.to_string(),
                profile,
            },
        )
    }

    fn publish_delta(
        &self,
        actor: &Actor,
        base: impl AsRef<Path>,
        path: impl AsRef<Path>,
    ) -> Result<publish::Published, EngineError> {
        publish::publish_delta(
            self,
            actor,
            base.as_ref(),
            None,
            path.as_ref(),
            &Default::default(),
        )
    }

    fn publish_delta_since(
        &self,
        actor: &Actor,
        base: impl AsRef<Path>,
        since: Option<u64>,
        path: impl AsRef<Path>,
    ) -> Result<publish::Published, EngineError> {
        publish::publish_delta(
            self,
            actor,
            base.as_ref(),
            since,
            path.as_ref(),
            &Default::default(),
        )
    }
}
