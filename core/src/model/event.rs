//! Events: the facts the journal records, one per accepted change (and one per refusal, S1).
//!
//! Each kind of event has a payload type of its own holding exactly what happened: never a state
//! row, never a placeholder for something the state works out (an application's identifier is the
//! sequence number of its record; its pickup receipt follows from that). The payload types below
//! *are* the journal's format (`docs/FORMAT.md` §8): postcard encodes their fields by position and
//! their enums by variant index, so
//!
//! - [`Event`] and every enum a payload holds only ever grow at the end;
//! - a payload that needs another field becomes a new variant at the end (`FooV2`), the old one
//!   stays decodable and is upcast on read ([`Record::decode`]) so the state sees only current
//!   payloads;
//! - a change of the record's envelope is a new record version, and the previous version's types
//!   are frozen in a module of their own (see [`super::event_v1`]) with an upcast.
//!
//! The golden journals in `core/tests/golden/` hold one record of every kind per version; the test
//! that reads them fails on any change of these types, so a format change is a visible decision.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::card::{CardKey, ValidityPeriod};
use crate::division::DivisionCode;
use crate::index::{BlacklistEntry, CardReason, CardStatus, Profile};
use crate::number::IdNumber;
pub use crate::policy::{ApplicationKind, FeeRelief};
use crate::population::{FingerprintCheck, PersonCategory, TemplateDigest};
use crate::station::{Actor, CommandKind, OfficerId, StationId, StationKind, SubscriberId};

/// The version byte this library writes in front of every record (3: the record carries the
/// acting officer's signature, [`CommandAuth`]).
pub const RECORD_VERSION: u8 = 3;

/// What a command or a read was about (S2: refusals and reads name their subject; analysts see
/// it pseudonymised).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Subject {
    /// A card.
    Card(CardKey),
    /// A person.
    Person(IdNumber),
    /// An off-site application (its sequence number).
    Application(u64),
    /// A temporary resident card (its sequence number).
    TemporaryCard(u64),
    /// A temporary identity certificate (its sequence number).
    TemporaryCertificate(u64),
    /// A station.
    Station(StationId),
    /// An officer.
    Officer(OfficerId),
    /// Many records at once (a list, an import): what kind.
    Many(String),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Card(k) => write!(f, "card {} from {}", k.number(), k.valid_from()),
            Subject::Person(n) => write!(f, "person {n}"),
            Subject::Application(a) => write!(f, "application {a}"),
            Subject::TemporaryCard(t) => write!(f, "temporary card {t}"),
            Subject::TemporaryCertificate(t) => write!(f, "temporary certificate {t}"),
            Subject::Station(s) => write!(f, "station {s}"),
            Subject::Officer(o) => write!(f, "officer {o}"),
            Subject::Many(what) => write!(f, "{what}"),
        }
    }
}

/// The acting officer's signature over a command (S1: non-repudiation), kept with each record
/// the command wrote. The signed message is described in `idcard::engine::auth`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandAuth {
    /// The signing key's id.
    pub key_id: [u8; 8],
    /// When the officer signed (Unix ms, the officer's clock).
    pub at_ms: i64,
    /// A one-time value: a replayed command is refused.
    pub nonce: [u8; 16],
    /// BLAKE3 of the command's payload (its postcard encoding).
    pub payload: [u8; 32],
    /// The signature.
    pub signature: Vec<u8>,
}

/// A station was registered (S1, A2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationRegistered {
    /// Identifier.
    pub id: StationId,
    /// Kind.
    pub kind: StationKind,
    /// The division it serves.
    pub division: DivisionCode,
    /// Display name.
    pub name: String,
}

/// An officer was registered at a station (S1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerRegistered {
    /// Identifier (badge).
    pub id: OfficerId,
    /// Name.
    pub name: String,
    /// The station they work at.
    pub station: StationId,
}

/// An officer may no longer act.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerDeactivated {
    /// The officer.
    pub officer: OfficerId,
}

/// A person as entered in the embedded population directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonEntry {
    /// Identity number.
    pub number: IdNumber,
    /// Name.
    pub name: String,
    /// Division of household registration (户籍地).
    pub hukou_division: DivisionCode,
    /// Civilian, serviceman, armed police (L5).
    pub category: PersonCategory,
    /// Digest of the enrolled fingerprint (N6).
    pub fingerprint: Option<TemplateDigest>,
    /// Contact for notifications (F2).
    pub contact: Option<String>,
    /// Registered as deceased at entry (A10).
    pub deceased: bool,
    /// Card fees exempt (A7).
    pub fee_exempt: bool,
}

/// People entered in the embedded population directory (in batches).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeopleRegistered {
    /// The people.
    pub people: Vec<PersonEntry>,
}

/// A person died (A10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDied {
    /// The person.
    pub number: IdNumber,
}

/// A card entered in the card register (imported, or issued by a workflow).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRegistration {
    /// The card.
    pub key: CardKey,
    /// Its validity period (N5).
    pub period: ValidityPeriod,
    /// Whether fingerprints are registered on it (N6).
    pub fingerprints: bool,
}

/// Cards entered in the card register (in batches).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardsRegistered {
    /// The cards.
    pub cards: Vec<CardRegistration>,
}

/// A card was reported lost or stolen, in person (L1, L2, A10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossReported {
    /// The card.
    pub card: CardKey,
    /// Stolen rather than lost.
    pub stolen: bool,
    /// Reported at the household registration place (else away from it, L1).
    pub at_hukou_place: bool,
    /// The on-the-spot fingerprint comparison (L2).
    pub fingerprint: FingerprintCheck,
}

/// A loss report was withdrawn: the holder has the card again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossCancelled {
    /// The card.
    pub card: CardKey,
    /// The on-the-spot fingerprint comparison.
    pub fingerprint: FingerprintCheck,
}

/// A unit reported a card used by someone else (L4); routed to a police station. The hit's
/// identifier is this record's sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HitReported {
    /// The card presented.
    pub card: CardKey,
    /// The police station the report goes to.
    pub routed_to: StationId,
    /// What happened.
    pub note: String,
}

/// The police station acknowledged a hit report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HitAcknowledged {
    /// The hit (the sequence number of its `HitReported` record).
    pub hit: u64,
    /// Notes of the follow-up.
    pub note: String,
}

/// A found card was handed in at the acting station's lost-and-found window (F1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundCardTakenIn {
    /// The card.
    pub card: CardKey,
    /// Who found it, if they left a name.
    pub finder: Option<String>,
}

/// A found card whose owner already has a replacement was destroyed (F2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundCardDestroyed {
    /// The card.
    pub card: CardKey,
}

/// The owner of a found card was notified (F2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerNotified {
    /// The card.
    pub card: CardKey,
    /// How (the contact on record).
    pub contact: String,
}

/// A found card was returned to its owner after identity checks, photographed (F2). The owner
/// has the card again: a loss report on it no longer holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundCardReturned {
    /// The card.
    pub card: CardKey,
    /// The person it was handed to (the holder, A10).
    pub claimant: IdNumber,
    /// Reference of the photograph taken (F2: the image record is kept).
    pub photo_ref: String,
    /// The fingerprint comparison.
    pub fingerprint: FingerprintCheck,
}

/// A person was blacklisted or their entry changed (A6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistAdded {
    /// The person.
    pub number: IdNumber,
    /// Reasons, source, date.
    pub entry: BlacklistEntry,
}

/// Several people blacklisted at once (a credit platform push, A6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistBulkAdded {
    /// The people and their entries.
    pub entries: Vec<(IdNumber, BlacklistEntry)>,
}

/// A person was removed from the blacklist (A6), with the reason (audit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistRemoved {
    /// The person.
    pub number: IdNumber,
    /// Why.
    pub reason: String,
}

/// What was published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishedKind {
    /// A full snapshot.
    Snapshot,
    /// A delta on a snapshot.
    Delta,
}

impl PublishedKind {
    /// `snapshot` or `delta`.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishedKind::Snapshot => "snapshot",
            PublishedKind::Delta => "delta",
        }
    }
}

/// A snapshot or delta was published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Snapshot or delta.
    pub kind: PublishedKind,
    /// Bank or police.
    pub profile: Profile,
    /// The journal sequence it reflects.
    pub journal_seq: u64,
    /// The snapshot it is or applies to.
    pub snapshot_id: u64,
}

/// A snapshot or delta was published (payload version 2: for whom, and where a delta starts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedV2 {
    /// Snapshot or delta.
    pub kind: PublishedKind,
    /// Bank or police.
    pub profile: Profile,
    /// The journal sequence a delta starts after (a snapshot: its own sequence).
    pub from_seq: u64,
    /// The journal sequence it reflects.
    pub journal_seq: u64,
    /// The snapshot it is or applies to.
    pub snapshot_id: u64,
    /// The subscriber whose file it is (`None`: the common file).
    pub subscriber: Option<SubscriberId>,
    /// The key that signed it (`None`: unsigned).
    pub signed_by: Option<[u8; 8]>,
}

/// A subscriber was registered: a unit that receives snapshots and deltas of its own (S2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberRegistered {
    /// Identifier.
    pub id: SubscriberId,
    /// Name (the bank, the airline).
    pub name: String,
    /// The profile its files have.
    pub profile: Profile,
}

/// A command was refused; the refusal is audited too (S1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRefused {
    /// The command.
    pub command: CommandKind,
    /// Stable reason code.
    pub code: String,
    /// The message given.
    pub message: String,
}

/// An officer was registered at a station with their public key (payload version 2; version-1
/// `OfficerRegistered` payloads are read as this, without a key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerRegisteredV2 {
    /// Identifier (badge).
    pub id: OfficerId,
    /// Name.
    pub name: String,
    /// The station they work at.
    pub station: StationId,
    /// Their public key (commands are signed with its private half).
    pub key: Option<crate::station::OfficerKey>,
}

/// An officer's key was replaced (a new certificate): the old one no longer signs, from this
/// record on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerKeySet {
    /// The officer.
    pub officer: OfficerId,
    /// The new key.
    pub key: crate::station::OfficerKey,
}

/// A command or read whose authentication failed (no signature, a wrong one, a key not the
/// officer's, a replay, an inactive officer): recorded under [`Actor::unauthenticated`], never
/// in the name the attempt claimed, which is kept here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationFailed {
    /// The officer the attempt claimed to be.
    pub claimed_officer: OfficerId,
    /// The station it claimed.
    pub claimed_station: StationId,
    /// The command.
    pub command: CommandKind,
    /// Stable reason code (`no_signature`, `bad_signature`, `replayed` …).
    pub code: String,
    /// The message given.
    pub message: String,
}

/// A refusal, with what it concerned (payload version 2; version-1 `CommandRefused` payloads
/// are read as this, without a subject).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRefusedV2 {
    /// The command.
    pub command: CommandKind,
    /// Stable reason code.
    pub code: String,
    /// The message given.
    pub message: String,
    /// The card, person, application … it concerned.
    pub subject: Option<Subject>,
}

/// Personal data was read (S2): what, about whom, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataRead {
    /// The read (`card_show`, `loss_list`, `found_query` …).
    pub what: String,
    /// Whose data (or what list).
    pub subject: Option<Subject>,
    /// The purpose the officer stated.
    pub purpose: String,
    /// Items returned.
    pub items: u64,
}

/// A card's status was set by a workflow (superseded on renewal, invalidated …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardStatusChanged {
    /// The card.
    pub card: CardKey,
    /// The new status (superseded or invalidated).
    pub status: CardStatus,
    /// Why.
    pub reason: CardReason,
}

/// The policy in force changed (A7, A12). The policy is carried as its JSON document
/// (`docs/FORMAT.md` §10), which evolves by adding fields with defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySet {
    /// The policy, as JSON.
    pub policy_json: String,
}

/// An application was accepted at the acting station (A1-A7, A9-A12). Its identifier is this
/// record's sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationAccepted {
    /// Renewal, damaged renewal, replacement.
    pub kind: ApplicationKind,
    /// The applicant.
    pub number: IdNumber,
    /// The card renewed or replaced.
    pub old_card: CardKey,
    /// The county bureau of the household registration place that reviews it (A4, A11).
    pub hukou_bureau: StationId,
    /// Date of the registration form.
    pub accepted_on: NaiveDate,
    /// Date by which the card must be issued (A4).
    pub deadline: NaiveDate,
    /// The fee charged, in fen (A7).
    pub fee_fen: u32,
    /// Whether the fee was waived (A7).
    pub fee_exempt: bool,
    /// Validity period of the new card (N5).
    pub period: ValidityPeriod,
    /// Fingerprints registered on the new card (N6).
    pub fingerprints: bool,
}

/// Where an application is made: at the household registration place (the county of the
/// applicant's hukou: a household registration station or hall) or off-site (an acceptance
/// point elsewhere, A1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// At the household registration place.
    Home,
    /// At an off-site acceptance point (异地受理, A1-A12).
    Offsite,
}

impl Place {
    /// `home` or `offsite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Home => "home",
            Place::Offsite => "offsite",
        }
    }
}

/// An application was accepted at the acting station (payload version 2 of
/// [`ApplicationAccepted`]: the place, first applications, guardians and fee relief). Its
/// identifier is this record's sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationAcceptedV2 {
    /// What is asked for.
    pub kind: ApplicationKind,
    /// At home or off-site.
    pub place: Place,
    /// The applicant.
    pub number: IdNumber,
    /// The card renewed or replaced (`None` for a first application).
    pub old_card: Option<CardKey>,
    /// The guardian who applied for an under-16 (law art. 7).
    pub guardian: Option<IdNumber>,
    /// The county bureau of the household registration place that reviews it (A4, A11).
    pub hukou_bureau: StationId,
    /// Date of the registration form.
    pub accepted_on: NaiveDate,
    /// Date by which the card must be issued (A4).
    pub deadline: NaiveDate,
    /// The fee charged, in fen (A7).
    pub fee_fen: u32,
    /// Why it is below the schedule, if it is.
    pub fee_relief: FeeRelief,
    /// Validity period of the new card (N5).
    pub period: ValidityPeriod,
    /// Fingerprints registered on the new card (N6).
    pub fingerprints: bool,
}

/// Guardians on record in the embedded population directory (law art. 7, T2: an under-16 applies
/// through a guardian).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardiansRecorded {
    /// (child, guardian) pairs.
    pub pairs: Vec<(IdNumber, IdNumber)>,
}

/// An open application passed its deadline and was escalated to the county bureau that
/// reviews it (A4: 60 days, extensions included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationEscalated {
    /// The application.
    pub application: u64,
    /// The deadline it missed.
    pub deadline: NaiveDate,
    /// The bureau it is escalated to.
    pub to: StationId,
}

/// The hukou-place county bureau signed off or rejected an application (A4, A11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationReviewed {
    /// The application.
    pub application: u64,
    /// Signed off.
    pub approved: bool,
    /// Notes (the reason of a rejection).
    pub note: String,
}

/// The new card was produced and checked (A4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationCardProduced {
    /// The application.
    pub application: u64,
    /// The new card.
    pub card: CardKey,
}

/// The applicant collected the new card (A4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationCardIssued {
    /// The application.
    pub application: u64,
}

/// A deadline was extended for a remote area (A4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineExtended {
    /// The application.
    pub application: u64,
    /// Days added.
    pub days: u32,
    /// Why.
    pub reason: String,
}

/// Why a traveller has no card with them (A8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingCard {
    /// Lost.
    Lost,
    /// Stolen.
    Stolen,
    /// Forgotten.
    Forgotten,
}

impl MissingCard {
    /// `lost`, `stolen` or `forgotten`.
    pub fn as_str(self) -> &'static str {
        match self {
            MissingCard::Lost => "lost",
            MissingCard::Stolen => "stolen",
            MissingCard::Forgotten => "forgotten",
        }
    }
}

impl std::str::FromStr for MissingCard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lost" => Ok(MissingCard::Lost),
            "stolen" => Ok(MissingCard::Stolen),
            "forgotten" => Ok(MissingCard::Forgotten),
            _ => Err(format!("{s:?}: lost, stolen or forgotten")),
        }
    }
}

/// The one trip a temporary identity certificate is for (A8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trip {
    /// A flight, e.g. `CA1831 2026-01-15`.
    Flight(String),
    /// A train, e.g. `G101 2026-01-15`.
    Train(String),
    /// A hotel stay, e.g. `Hotel name, 2026-01-15`.
    HotelStay(String),
}

impl Trip {
    /// The reference printed on the certificate.
    pub fn reference(&self) -> &str {
        match self {
            Trip::Flight(r) | Trip::Train(r) | Trip::HotelStay(r) => r,
        }
    }
}

/// A temporary identity certificate was issued at the acting station (A8). Its identifier is
/// this record's sequence number; it was issued at the record's time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemporaryCertificateIssued {
    /// Who it identifies.
    pub number: IdNumber,
    /// Why they have no card.
    pub missing: MissingCard,
    /// The one trip it is for.
    pub trip: Trip,
    /// Last valid moment (Unix ms).
    pub valid_until_ms: i64,
}

/// A temporary identity certificate was used for its trip by the acting station or unit (A8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemporaryCertificateUsed {
    /// The certificate.
    pub certificate: u64,
}

/// A temporary resident card was applied for at the acting station (T1-T3). Its identifier is
/// this record's sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemporaryCardApplied {
    /// The holder.
    pub number: IdNumber,
    /// The guardian who applied, for an under-16 (T2).
    pub guardian: Option<IdNumber>,
    /// Applied on.
    pub applied_on: NaiveDate,
    /// To be issued by (T4: 3 days).
    pub issue_by: NaiveDate,
    /// Fee in fen (A7).
    pub fee_fen: u32,
}

/// A temporary resident card was issued on the record's date (T3-T5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemporaryCardIssued {
    /// The temporary card.
    pub temp_card: u64,
    /// Valid until (3 months, T5).
    pub valid_until: NaiveDate,
}

/// A temporary resident card was handed back (T5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemporaryCardReturned {
    /// The temporary card.
    pub temp_card: u64,
}

/// One change of the system of record. Variants are encoded by their index: only ever add new
/// ones at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A station was registered.
    StationRegistered(StationRegistered),
    /// An officer was registered.
    OfficerRegistered(OfficerRegistered),
    /// An officer was deactivated.
    OfficerDeactivated(OfficerDeactivated),
    /// People entered in the embedded population directory.
    PeopleRegistered(PeopleRegistered),
    /// A person died.
    PersonDied(PersonDied),
    /// Cards entered in the card register.
    CardsRegistered(CardsRegistered),
    /// A loss report.
    LossReported(LossReported),
    /// A loss report withdrawn.
    LossCancelled(LossCancelled),
    /// A hit report.
    HitReported(HitReported),
    /// A hit report acknowledged.
    HitAcknowledged(HitAcknowledged),
    /// A found card handed in.
    FoundCardTakenIn(FoundCardTakenIn),
    /// A found card destroyed.
    FoundCardDestroyed(FoundCardDestroyed),
    /// A found card's owner notified.
    OwnerNotified(OwnerNotified),
    /// A found card returned.
    FoundCardReturned(FoundCardReturned),
    /// A blacklist entry.
    BlacklistAdded(BlacklistAdded),
    /// Blacklist entries from a push.
    BlacklistBulkAdded(BlacklistBulkAdded),
    /// A blacklist removal.
    BlacklistRemoved(BlacklistRemoved),
    /// A publication.
    Published(Published),
    /// A refusal.
    CommandRefused(CommandRefused),
    /// A card status set by a workflow.
    CardStatusChanged(CardStatusChanged),
    /// A policy put in force.
    PolicySet(PolicySet),
    /// An application accepted.
    ApplicationAccepted(ApplicationAccepted),
    /// An application reviewed.
    ApplicationReviewed(ApplicationReviewed),
    /// A new card produced.
    ApplicationCardProduced(ApplicationCardProduced),
    /// A new card collected.
    ApplicationCardIssued(ApplicationCardIssued),
    /// A deadline extended.
    DeadlineExtended(DeadlineExtended),
    /// A temporary certificate issued.
    TemporaryCertificateIssued(TemporaryCertificateIssued),
    /// A temporary certificate used.
    TemporaryCertificateUsed(TemporaryCertificateUsed),
    /// A temporary card applied for.
    TemporaryCardApplied(TemporaryCardApplied),
    /// A temporary card issued.
    TemporaryCardIssued(TemporaryCardIssued),
    /// A temporary card handed back.
    TemporaryCardReturned(TemporaryCardReturned),
    /// A subscriber registered.
    SubscriberRegistered(SubscriberRegistered),
    /// A publication (payload version 2; version-1 `Published` payloads are read as this).
    PublishedV2(PublishedV2),
    /// An officer registered with a key (payload version 2).
    OfficerRegisteredV2(OfficerRegisteredV2),
    /// An officer's key replaced.
    OfficerKeySet(OfficerKeySet),
    /// An attempt that failed authentication.
    AuthenticationFailed(AuthenticationFailed),
    /// A refusal with its subject (payload version 2).
    CommandRefusedV2(CommandRefusedV2),
    /// A read of personal data.
    PersonalDataRead(PersonalDataRead),
    /// An application accepted at home or off-site (payload version 2).
    ApplicationAcceptedV2(ApplicationAcceptedV2),
    /// Guardians recorded.
    GuardiansRecorded(GuardiansRecorded),
    /// An overdue application escalated (A4).
    ApplicationEscalated(ApplicationEscalated),
}

impl Event {
    /// A short stable name, for statistics and analysts (never changes for a kind).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::StationRegistered(_) => "station_registered",
            Event::OfficerRegistered(_) => "officer_registered",
            Event::OfficerDeactivated(_) => "officer_deactivated",
            Event::PeopleRegistered(_) => "people_registered",
            Event::PersonDied(_) => "person_died",
            Event::CardsRegistered(_) => "cards_registered",
            Event::LossReported(_) => "loss_reported",
            Event::LossCancelled(_) => "loss_cancelled",
            Event::HitReported(_) => "hit_reported",
            Event::HitAcknowledged(_) => "hit_acknowledged",
            Event::FoundCardTakenIn(_) => "found_card_taken_in",
            Event::FoundCardDestroyed(_) => "found_card_destroyed",
            Event::OwnerNotified(_) => "owner_notified",
            Event::FoundCardReturned(_) => "found_card_returned",
            Event::BlacklistAdded(_) => "blacklist_added",
            Event::BlacklistBulkAdded(_) => "blacklist_bulk_added",
            Event::BlacklistRemoved(_) => "blacklist_removed",
            Event::Published(_) => "published",
            Event::CommandRefused(_) => "command_refused",
            Event::CardStatusChanged(_) => "card_status_changed",
            Event::PolicySet(_) => "policy_set",
            Event::ApplicationAccepted(_) => "application_accepted",
            Event::ApplicationReviewed(e) if e.approved => "application_approved",
            Event::ApplicationReviewed(_) => "application_rejected",
            Event::ApplicationCardProduced(_) => "application_card_produced",
            Event::ApplicationCardIssued(_) => "application_card_issued",
            Event::DeadlineExtended(_) => "deadline_extended",
            Event::TemporaryCertificateIssued(_) => "temporary_certificate_issued",
            Event::TemporaryCertificateUsed(_) => "temporary_certificate_used",
            Event::TemporaryCardApplied(_) => "temporary_card_applied",
            Event::TemporaryCardIssued(_) => "temporary_card_issued",
            Event::TemporaryCardReturned(_) => "temporary_card_returned",
            Event::SubscriberRegistered(_) => "subscriber_registered",
            Event::PublishedV2(_) => "published",
            Event::OfficerRegisteredV2(_) => "officer_registered",
            Event::OfficerKeySet(_) => "officer_key_set",
            Event::AuthenticationFailed(_) => "authentication_failed",
            Event::CommandRefusedV2(_) => "command_refused",
            Event::PersonalDataRead(_) => "personal_data_read",
            Event::ApplicationAcceptedV2(_) => "application_accepted",
            Event::GuardiansRecorded(_) => "guardians_recorded",
            Event::ApplicationEscalated(_) => "application_escalated",
        }
    }

    /// The cards and people whose answers in a snapshot this event may change (for deltas and
    /// the live verifier).
    pub fn touches(&self, cards: &mut Vec<CardKey>, people: &mut Vec<IdNumber>) {
        match self {
            Event::LossReported(LossReported { card, .. })
            | Event::LossCancelled(LossCancelled { card, .. })
            | Event::FoundCardReturned(FoundCardReturned { card, .. })
            | Event::FoundCardDestroyed(FoundCardDestroyed { card })
            | Event::CardStatusChanged(CardStatusChanged { card, .. }) => cards.push(*card),
            Event::CardsRegistered(e) => cards.extend(e.cards.iter().map(|c| c.key)),
            Event::BlacklistAdded(BlacklistAdded { number, .. })
            | Event::BlacklistRemoved(BlacklistRemoved { number, .. }) => people.push(*number),
            Event::BlacklistBulkAdded(e) => people.extend(e.entries.iter().map(|(n, _)| *n)),
            _ => {}
        }
    }
}

/// A journal record: when, who, what, and the officer's signature over the command that wrote it.
/// The sequence number is the journal's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Unix time in milliseconds (never decreasing along the journal).
    pub at_ms: i64,
    /// Who (S2).
    pub actor: Actor,
    /// What.
    pub event: Event,
    /// The acting officer's signature (S1; `None` for the bootstrap, for failed attempts and for
    /// records written before version 3).
    pub auth: Option<CommandAuth>,
}

/// Record version 2's envelope (no signature), read as version 3.
#[derive(Deserialize)]
struct RecordV2 {
    at_ms: i64,
    actor: Actor,
    event: Event,
}

/// Why a journal payload does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The payload is empty.
    #[error("empty record")]
    Empty,
    /// A record version this library does not read.
    #[error("record version {0} is not supported (this library reads versions 1 to 3)")]
    Version(u8),
    /// The body does not decode as its version says.
    #[error("record version {version}: {message}")]
    Body {
        /// The version byte.
        version: u8,
        /// postcard's complaint.
        message: String,
    },
}

impl Record {
    /// Encode: the version byte ([`RECORD_VERSION`]), then postcard.
    pub fn encode(&self) -> Vec<u8> {
        let out = vec![RECORD_VERSION];
        postcard::to_extend(self, out).expect("encoding to memory cannot fail")
    }

    /// Decode a journal payload of any supported version, upcast to the current types.
    ///
    /// ```
    /// use idcard::model::{Event, PersonDied, Record};
    /// use idcard::station::Actor;
    /// let r = Record {
    ///     at_ms: 1_700_000_000_000,
    ///     actor: Actor::new("A0001", "110105-PSB")?,
    ///     event: Event::PersonDied(PersonDied { number: "11010519491231002X".parse()? }),
    ///     auth: None,
    /// };
    /// let bytes = r.encode();
    /// assert_eq!(bytes[0], 3, "the record version");
    /// assert_eq!(Record::decode(&bytes)?, r);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        let body_err = |version: u8| {
            move |e: postcard::Error| DecodeError::Body {
                version,
                message: e.to_string(),
            }
        };
        let record = match bytes.split_first() {
            Some((&RECORD_VERSION, body)) => {
                postcard::from_bytes::<Record>(body).map_err(body_err(RECORD_VERSION))?
            }
            Some((&2, body)) => {
                let old: RecordV2 = postcard::from_bytes(body).map_err(body_err(2))?;
                Record {
                    at_ms: old.at_ms,
                    actor: old.actor,
                    event: old.event,
                    auth: None,
                }
            }
            Some((&1, body)) => {
                let old: super::event_v1::Record =
                    postcard::from_bytes(body).map_err(body_err(1))?;
                old.upcast()
            }
            Some((&v, _)) => return Err(DecodeError::Version(v)),
            None => return Err(DecodeError::Empty),
        };
        Ok(record.upcast_payloads())
    }

    /// Older payload versions as their newest: `Published` → `PublishedV2`.
    fn upcast_payloads(self) -> Record {
        let event = match self.event {
            Event::Published(p) => Event::PublishedV2(PublishedV2 {
                kind: p.kind,
                profile: p.profile,
                from_seq: 0,
                journal_seq: p.journal_seq,
                snapshot_id: p.snapshot_id,
                subscriber: None,
                signed_by: None,
            }),
            Event::OfficerRegistered(o) => Event::OfficerRegisteredV2(OfficerRegisteredV2 {
                id: o.id,
                name: o.name,
                station: o.station,
                key: None,
            }),
            Event::CommandRefused(r) => Event::CommandRefusedV2(CommandRefusedV2 {
                command: r.command,
                code: r.code,
                message: r.message,
                subject: None,
            }),
            other => other,
        };
        Record { event, ..self }
    }

    /// The time as a date-time.
    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.at_ms).unwrap_or_default()
    }

    /// The date in China at the time of the record.
    pub fn china_date(&self) -> NaiveDate {
        crate::time::china_date(self.at())
    }
}
