//! Events: what the journal records, one per accepted change (and one per refusal, S1).
//! Encoding: `docs/FORMAT.md` §8 (a version byte, then postcard).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::card::{CardKey, ValidityPeriod};
use crate::index::{BlacklistEntry, CardReason, CardStatus};
use crate::number::IdNumber;
use crate::population::{FingerprintCheck, Person};
use crate::station::{Actor, CommandKind, Officer, OfficerId, Station};

/// The version byte in front of every encoded record.
pub const RECORD_VERSION: u8 = 1;

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

/// One change of the system of record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A station was registered (S1).
    StationRegistered(Station),
    /// An officer was registered (S1).
    OfficerRegistered(Officer),
    /// An officer may no longer act.
    OfficerDeactivated {
        /// The officer.
        officer: OfficerId,
    },
    /// People entered in the embedded population directory.
    PeopleRegistered(Vec<Person>),
    /// A person died (A10).
    PersonDied {
        /// The person.
        number: IdNumber,
    },
    /// Cards entered in the card register.
    CardsRegistered(Vec<CardRegistration>),
    /// A card was reported lost or stolen, in person (L1, L2, A10).
    LossReported {
        /// The card.
        card: CardKey,
        /// Stolen rather than lost.
        stolen: bool,
        /// Reported at the household registration place (else away from it, L1).
        at_hukou_place: bool,
        /// The on-the-spot fingerprint comparison (L2).
        fingerprint: FingerprintCheck,
    },
    /// A loss report was withdrawn: the holder has the card again.
    LossCancelled {
        /// The card.
        card: CardKey,
        /// The on-the-spot fingerprint comparison.
        fingerprint: FingerprintCheck,
    },
    /// A unit reported a card used by someone else (L4); routed to a police station.
    HitReported {
        /// The card presented.
        card: CardKey,
        /// The police station the report goes to.
        routed_to: crate::station::StationId,
        /// What happened.
        note: String,
    },
    /// The police station acknowledged a hit report.
    HitAcknowledged {
        /// The hit (the sequence number of its `HitReported` record).
        hit: u64,
        /// Notes of the follow-up.
        note: String,
    },
    /// A found card was handed in at a lost-and-found window (F1).
    FoundCardTakenIn {
        /// The card.
        card: CardKey,
        /// Who found it, if they left a name.
        finder: Option<String>,
    },
    /// A found card whose owner already has a replacement was destroyed (F2).
    FoundCardDestroyed {
        /// The card.
        card: CardKey,
    },
    /// The owner of a found card was notified (F2).
    OwnerNotified {
        /// The card.
        card: CardKey,
        /// How (the contact on record).
        contact: String,
    },
    /// A found card was returned to its owner after identity checks, photographed (F2).
    FoundCardReturned {
        /// The card.
        card: CardKey,
        /// The person it was handed to (the holder, A10).
        claimant: IdNumber,
        /// Reference of the photograph taken (F2: the image record is kept).
        photo_ref: String,
        /// The fingerprint comparison.
        fingerprint: FingerprintCheck,
    },
    /// A person was blacklisted or their entry changed (A6).
    BlacklistAdded {
        /// The person.
        number: IdNumber,
        /// Reasons, source, date.
        entry: BlacklistEntry,
    },
    /// Several people blacklisted at once (a credit platform push, A6).
    BlacklistBulkAdded(Vec<(IdNumber, BlacklistEntry)>),
    /// A person was removed from the blacklist (A6), with the reason (audit).
    BlacklistRemoved {
        /// The person.
        number: IdNumber,
        /// Why.
        reason: String,
    },
    /// A snapshot or delta was published.
    Published {
        /// `snapshot` or `delta`.
        what: String,
        /// Bank or police.
        profile: crate::index::Profile,
        /// The journal sequence it reflects.
        journal_seq: u64,
        /// The snapshot it is or applies to.
        snapshot_id: u64,
    },
    /// A command was refused; the refusal is audited too (S1).
    CommandRefused {
        /// The command.
        command: CommandKind,
        /// Stable reason code.
        code: String,
        /// The message given.
        message: String,
    },
    /// A card's status was set by a workflow (superseded on renewal, invalidated …).
    CardStatusChanged {
        /// The card.
        card: CardKey,
        /// The new status (superseded or invalidated).
        status: CardStatus,
        /// Why.
        reason: CardReason,
    },
    /// The policy in force changed (A7, A12).
    PolicySet(Box<crate::policy::Policy>),
    /// An off-site application was accepted (A1-A7, A9-A12); its id is this record's sequence.
    ApplicationAccepted(Box<crate::offsite::Application>),
    /// The hukou-place county bureau signed off or rejected an application (A4, A11).
    ApplicationReviewed {
        /// The application.
        application: u64,
        /// Signed off.
        approved: bool,
        /// Notes (the reason of a rejection).
        note: String,
    },
    /// The new card was produced and checked (A4).
    ApplicationCardProduced {
        /// The application.
        application: u64,
        /// The new card.
        card: CardKey,
    },
    /// The applicant collected the new card (A4).
    ApplicationCardIssued {
        /// The application.
        application: u64,
    },
    /// A deadline was extended for a remote area (A4).
    DeadlineExtended {
        /// The application.
        application: u64,
        /// Days added.
        days: u32,
        /// Why.
        reason: String,
    },
    /// A temporary identity certificate was issued (A8); its id is this record's sequence.
    TemporaryCertificateIssued(Box<crate::temporary::TempCertificate>),
    /// A temporary identity certificate was used for its trip (A8).
    TemporaryCertificateUsed {
        /// The certificate.
        certificate: u64,
    },
    /// A temporary resident card was applied for (T1-T3); its id is this record's sequence.
    TemporaryCardApplied(Box<crate::temporary::TempCard>),
    /// A temporary resident card was issued (T3-T5).
    TemporaryCardIssued {
        /// The temporary card.
        temp_card: u64,
        /// Valid until (3 months, T5).
        valid_until: NaiveDate,
    },
    /// A temporary resident card was handed back (T5).
    TemporaryCardReturned {
        /// The temporary card.
        temp_card: u64,
    },
}

impl Event {
    /// A short stable name, for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::StationRegistered(_) => "station_registered",
            Event::OfficerRegistered(_) => "officer_registered",
            Event::OfficerDeactivated { .. } => "officer_deactivated",
            Event::PeopleRegistered(_) => "people_registered",
            Event::PersonDied { .. } => "person_died",
            Event::CardsRegistered(_) => "cards_registered",
            Event::LossReported { .. } => "loss_reported",
            Event::LossCancelled { .. } => "loss_cancelled",
            Event::HitReported { .. } => "hit_reported",
            Event::HitAcknowledged { .. } => "hit_acknowledged",
            Event::FoundCardTakenIn { .. } => "found_card_taken_in",
            Event::FoundCardDestroyed { .. } => "found_card_destroyed",
            Event::OwnerNotified { .. } => "owner_notified",
            Event::FoundCardReturned { .. } => "found_card_returned",
            Event::BlacklistAdded { .. } => "blacklist_added",
            Event::BlacklistBulkAdded(_) => "blacklist_bulk_added",
            Event::BlacklistRemoved { .. } => "blacklist_removed",
            Event::Published { .. } => "published",
            Event::CommandRefused { .. } => "command_refused",
            Event::CardStatusChanged { .. } => "card_status_changed",
            Event::PolicySet(_) => "policy_set",
            Event::ApplicationAccepted(_) => "application_accepted",
            Event::ApplicationReviewed { approved: true, .. } => "application_approved",
            Event::ApplicationReviewed {
                approved: false, ..
            } => "application_rejected",
            Event::ApplicationCardProduced { .. } => "application_card_produced",
            Event::ApplicationCardIssued { .. } => "application_card_issued",
            Event::DeadlineExtended { .. } => "deadline_extended",
            Event::TemporaryCertificateIssued(_) => "temporary_certificate_issued",
            Event::TemporaryCertificateUsed { .. } => "temporary_certificate_used",
            Event::TemporaryCardApplied(_) => "temporary_card_applied",
            Event::TemporaryCardIssued { .. } => "temporary_card_issued",
            Event::TemporaryCardReturned { .. } => "temporary_card_returned",
        }
    }

    /// The cards and people whose answers in a snapshot this event may change (for deltas).
    pub fn touches(&self, cards: &mut Vec<CardKey>, people: &mut Vec<IdNumber>) {
        match self {
            Event::LossReported { card, .. }
            | Event::LossCancelled { card, .. }
            | Event::FoundCardReturned { card, .. }
            | Event::FoundCardDestroyed { card }
            | Event::CardStatusChanged { card, .. } => cards.push(*card),
            Event::CardsRegistered(list) => cards.extend(list.iter().map(|c| c.key)),
            Event::BlacklistAdded { number, .. } | Event::BlacklistRemoved { number, .. } => {
                people.push(*number)
            }
            Event::BlacklistBulkAdded(list) => people.extend(list.iter().map(|(n, _)| *n)),
            _ => {}
        }
    }
}

/// A journal record: when, who, what. The sequence number is the journal's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Unix time in milliseconds.
    pub at_ms: i64,
    /// Who (S2).
    pub actor: Actor,
    /// What.
    pub event: Event,
}

impl Record {
    /// Encode: the version byte, then postcard.
    pub fn encode(&self) -> Vec<u8> {
        let out = vec![RECORD_VERSION];
        postcard::to_extend(self, out).expect("encoding to memory cannot fail")
    }

    /// Decode a journal payload.
    pub fn decode(bytes: &[u8]) -> Result<Record, String> {
        match bytes.split_first() {
            Some((&RECORD_VERSION, body)) => postcard::from_bytes(body).map_err(|e| e.to_string()),
            Some((v, _)) => Err(format!(
                "record version {v} is not supported (this library reads {RECORD_VERSION})"
            )),
            None => Err("empty record".into()),
        }
    }

    /// The time as a date-time.
    pub fn at(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.at_ms).unwrap_or_default()
    }

    /// The date in China (UTC+8) at the time of the record.
    pub fn china_date(&self) -> NaiveDate {
        (self.at() + chrono::Duration::hours(8)).date_naive()
    }
}
