//! Record version 1, frozen: the types the journal held before events had payload types of
//! their own (main up to commit c5b267a). They are read, never written: [`Record::upcast`] turns a
//! version-1 record into the current [`super::event::Record`]. Nothing here may change; the golden
//! journal `core/tests/golden/record-v1/` holds one record of every kind.
//!
//! Version 1 embedded the state rows of the time (an application with `id: 0` and an empty pickup
//! receipt, a temporary certificate with its station and time, an officer with `active`); the
//! upcast keeps what happened and drops what the state works out. Station, time and actor are the
//! record's own, as in version 2.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::event as v2;
use super::event::{ApplicationKind, MissingCard, Trip};
use crate::card::{CardKey, ValidityPeriod};
use crate::division::DivisionCode;
use crate::index::{BlacklistReasons, BlacklistSource, CardReason, CardStatus, Profile};
use crate::number::IdNumber;
use crate::population::{FingerprintCheck, PersonCategory, TemplateDigest};
use crate::station::{Actor, CommandKind, OfficerId, StationId, StationKind};

#[derive(Deserialize)]
pub(super) struct Record {
    at_ms: i64,
    actor: Actor,
    event: Event,
}

#[derive(Deserialize)]
struct Station {
    id: StationId,
    kind: StationKind,
    division: DivisionCode,
    name: String,
}

#[derive(Deserialize)]
struct Officer {
    id: OfficerId,
    name: String,
    station: StationId,
    #[allow(dead_code)] // always true: commands registered active officers
    active: bool,
}

#[derive(Deserialize)]
struct Person {
    number: IdNumber,
    name: String,
    hukou_division: DivisionCode,
    category: PersonCategory,
    fingerprint: Option<TemplateDigest>,
    contact: Option<String>,
    deceased: bool,
    fee_exempt: bool,
}

#[derive(Deserialize)]
struct CardRegistration {
    key: CardKey,
    period: ValidityPeriod,
    fingerprints: bool,
}

#[derive(Clone, Copy, Deserialize)]
struct BlacklistEntry {
    reasons: BlacklistReasons,
    source: BlacklistSource,
    listed_on: Option<NaiveDate>,
}

impl From<BlacklistEntry> for crate::index::BlacklistEntry {
    fn from(e: BlacklistEntry) -> Self {
        crate::index::BlacklistEntry {
            reasons: e.reasons,
            source: e.source,
            listed_on: e.listed_on,
        }
    }
}

/// The policy as version 1 encoded it; re-expressed as the JSON document of FORMAT.md §10.
#[derive(Deserialize, Serialize)]
struct Policy {
    rollout: Rollout,
    fees: FeeSchedule,
    processing_days: u32,
    max_extension_days: u32,
}

#[derive(Deserialize, Serialize)]
struct Rollout {
    pilot_pairs: Vec<(u8, u8)>,
    pilots_from: NaiveDate,
    cities: Vec<DivisionCode>,
    cities_from: NaiveDate,
    intra_province: Vec<(u8, NaiveDate)>,
    nationwide_from: Option<NaiveDate>,
}

#[derive(Deserialize, Serialize)]
struct FeeSchedule {
    renewal_fen: u32,
    replacement_fen: u32,
    temporary_card_fen: u32,
}

#[derive(Deserialize)]
#[allow(dead_code)] // the state of the application, always `Accepted` in an acceptance event
enum ApplicationState {
    Accepted,
    Approved,
    Rejected(String),
    Produced,
    Issued,
}

#[derive(Deserialize)]
#[allow(dead_code)] // placeholders the version-1 state filled in
struct Application {
    id: u64,
    kind: ApplicationKind,
    number: IdNumber,
    old_card: CardKey,
    point: StationId,
    hukou_bureau: StationId,
    accepted_on: NaiveDate,
    deadline: NaiveDate,
    extended_days: u32,
    fee_fen: u32,
    fee_exempt: bool,
    period: ValidityPeriod,
    fingerprints: bool,
    pickup_receipt: String,
    new_card: Option<CardKey>,
    state: ApplicationState,
}

#[derive(Deserialize)]
#[allow(dead_code)] // station and time are the record's own
struct TempCertificate {
    id: u64,
    number: IdNumber,
    missing: MissingCard,
    trip: Trip,
    station: StationId,
    issued_ms: i64,
    valid_until_ms: i64,
    used: Option<(i64, StationId)>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
enum TempCardState {
    Applied,
    Issued,
    Returned,
}

#[derive(Deserialize)]
#[allow(dead_code)] // placeholders the version-1 state filled in
struct TempCard {
    id: u64,
    number: IdNumber,
    guardian: Option<IdNumber>,
    station: StationId,
    applied_on: NaiveDate,
    issue_by: NaiveDate,
    fee_fen: u32,
    issued: Option<(NaiveDate, NaiveDate)>,
    state: TempCardState,
}

#[derive(Deserialize)]
enum Event {
    StationRegistered(Station),
    OfficerRegistered(Officer),
    OfficerDeactivated {
        officer: OfficerId,
    },
    PeopleRegistered(Vec<Person>),
    PersonDied {
        number: IdNumber,
    },
    CardsRegistered(Vec<CardRegistration>),
    LossReported {
        card: CardKey,
        stolen: bool,
        at_hukou_place: bool,
        fingerprint: FingerprintCheck,
    },
    LossCancelled {
        card: CardKey,
        fingerprint: FingerprintCheck,
    },
    HitReported {
        card: CardKey,
        routed_to: StationId,
        note: String,
    },
    HitAcknowledged {
        hit: u64,
        note: String,
    },
    FoundCardTakenIn {
        card: CardKey,
        finder: Option<String>,
    },
    FoundCardDestroyed {
        card: CardKey,
    },
    OwnerNotified {
        card: CardKey,
        contact: String,
    },
    FoundCardReturned {
        card: CardKey,
        claimant: IdNumber,
        photo_ref: String,
        fingerprint: FingerprintCheck,
    },
    BlacklistAdded {
        number: IdNumber,
        entry: BlacklistEntry,
    },
    BlacklistBulkAdded(Vec<(IdNumber, BlacklistEntry)>),
    BlacklistRemoved {
        number: IdNumber,
        reason: String,
    },
    Published {
        what: String,
        profile: Profile,
        journal_seq: u64,
        snapshot_id: u64,
    },
    CommandRefused {
        command: CommandKind,
        code: String,
        message: String,
    },
    CardStatusChanged {
        card: CardKey,
        status: CardStatus,
        reason: CardReason,
    },
    PolicySet(Box<Policy>),
    ApplicationAccepted(Box<Application>),
    ApplicationReviewed {
        application: u64,
        approved: bool,
        note: String,
    },
    ApplicationCardProduced {
        application: u64,
        card: CardKey,
    },
    ApplicationCardIssued {
        application: u64,
    },
    DeadlineExtended {
        application: u64,
        days: u32,
        reason: String,
    },
    TemporaryCertificateIssued(Box<TempCertificate>),
    TemporaryCertificateUsed {
        certificate: u64,
    },
    TemporaryCardApplied(Box<TempCard>),
    TemporaryCardIssued {
        temp_card: u64,
        valid_until: NaiveDate,
    },
    TemporaryCardReturned {
        temp_card: u64,
    },
}

impl Record {
    /// The version-2 record saying the same.
    pub(super) fn upcast(self) -> v2::Record {
        v2::Record {
            at_ms: self.at_ms,
            actor: self.actor,
            event: self.event.upcast(),
            auth: None,
        }
    }
}

impl Event {
    fn upcast(self) -> v2::Event {
        use v2::Event as E;
        match self {
            Event::StationRegistered(s) => E::StationRegistered(v2::StationRegistered {
                id: s.id,
                kind: s.kind,
                division: s.division,
                name: s.name,
            }),
            Event::OfficerRegistered(o) => E::OfficerRegistered(v2::OfficerRegistered {
                id: o.id,
                name: o.name,
                station: o.station,
            }),
            Event::OfficerDeactivated { officer } => {
                E::OfficerDeactivated(v2::OfficerDeactivated { officer })
            }
            Event::PeopleRegistered(people) => E::PeopleRegistered(v2::PeopleRegistered {
                people: people
                    .into_iter()
                    .map(|p| v2::PersonEntry {
                        number: p.number,
                        name: p.name,
                        hukou_division: p.hukou_division,
                        category: p.category,
                        fingerprint: p.fingerprint,
                        contact: p.contact,
                        deceased: p.deceased,
                        fee_exempt: p.fee_exempt,
                    })
                    .collect(),
            }),
            Event::PersonDied { number } => E::PersonDied(v2::PersonDied { number }),
            Event::CardsRegistered(cards) => E::CardsRegistered(v2::CardsRegistered {
                cards: cards
                    .into_iter()
                    .map(|c| v2::CardRegistration {
                        key: c.key,
                        period: c.period,
                        fingerprints: c.fingerprints,
                    })
                    .collect(),
            }),
            Event::LossReported {
                card,
                stolen,
                at_hukou_place,
                fingerprint,
            } => E::LossReported(v2::LossReported {
                card,
                stolen,
                at_hukou_place,
                fingerprint,
            }),
            Event::LossCancelled { card, fingerprint } => {
                E::LossCancelled(v2::LossCancelled { card, fingerprint })
            }
            Event::HitReported {
                card,
                routed_to,
                note,
            } => E::HitReported(v2::HitReported {
                card,
                routed_to,
                note,
            }),
            Event::HitAcknowledged { hit, note } => {
                E::HitAcknowledged(v2::HitAcknowledged { hit, note })
            }
            Event::FoundCardTakenIn { card, finder } => {
                E::FoundCardTakenIn(v2::FoundCardTakenIn { card, finder })
            }
            Event::FoundCardDestroyed { card } => {
                E::FoundCardDestroyed(v2::FoundCardDestroyed { card })
            }
            Event::OwnerNotified { card, contact } => {
                E::OwnerNotified(v2::OwnerNotified { card, contact })
            }
            Event::FoundCardReturned {
                card,
                claimant,
                photo_ref,
                fingerprint,
            } => E::FoundCardReturned(v2::FoundCardReturned {
                card,
                claimant,
                photo_ref,
                fingerprint,
            }),
            Event::BlacklistAdded { number, entry } => E::BlacklistAdded(v2::BlacklistAdded {
                number,
                entry: entry.into(),
            }),
            Event::BlacklistBulkAdded(list) => E::BlacklistBulkAdded(v2::BlacklistBulkAdded {
                entries: list.into_iter().map(|(n, e)| (n, e.into())).collect(),
            }),
            Event::BlacklistRemoved { number, reason } => {
                E::BlacklistRemoved(v2::BlacklistRemoved { number, reason })
            }
            Event::Published {
                what,
                profile,
                journal_seq,
                snapshot_id,
            } => E::Published(v2::Published {
                kind: if what == "delta" {
                    v2::PublishedKind::Delta
                } else {
                    v2::PublishedKind::Snapshot
                },
                profile,
                journal_seq,
                snapshot_id,
            }),
            Event::CommandRefused {
                command,
                code,
                message,
            } => E::CommandRefused(v2::CommandRefused {
                command,
                code,
                message,
            }),
            Event::CardStatusChanged {
                card,
                status,
                reason,
            } => E::CardStatusChanged(v2::CardStatusChanged {
                card,
                status,
                reason,
            }),
            Event::PolicySet(p) => E::PolicySet(v2::PolicySet {
                policy_json: serde_json::to_string(&*p).expect("a policy encodes as JSON"),
            }),
            Event::ApplicationAccepted(a) => E::ApplicationAccepted(v2::ApplicationAccepted {
                kind: a.kind,
                number: a.number,
                old_card: a.old_card,
                hukou_bureau: a.hukou_bureau,
                accepted_on: a.accepted_on,
                deadline: a.deadline,
                fee_fen: a.fee_fen,
                fee_exempt: a.fee_exempt,
                period: a.period,
                fingerprints: a.fingerprints,
            }),
            Event::ApplicationReviewed {
                application,
                approved,
                note,
            } => E::ApplicationReviewed(v2::ApplicationReviewed {
                application,
                approved,
                note,
            }),
            Event::ApplicationCardProduced { application, card } => {
                E::ApplicationCardProduced(v2::ApplicationCardProduced { application, card })
            }
            Event::ApplicationCardIssued { application } => {
                E::ApplicationCardIssued(v2::ApplicationCardIssued { application })
            }
            Event::DeadlineExtended {
                application,
                days,
                reason,
            } => E::DeadlineExtended(v2::DeadlineExtended {
                application,
                days,
                reason,
            }),
            Event::TemporaryCertificateIssued(c) => {
                E::TemporaryCertificateIssued(v2::TemporaryCertificateIssued {
                    number: c.number,
                    missing: c.missing,
                    trip: c.trip,
                    valid_until_ms: c.valid_until_ms,
                })
            }
            Event::TemporaryCertificateUsed { certificate } => {
                E::TemporaryCertificateUsed(v2::TemporaryCertificateUsed { certificate })
            }
            Event::TemporaryCardApplied(t) => E::TemporaryCardApplied(v2::TemporaryCardApplied {
                number: t.number,
                guardian: t.guardian,
                applied_on: t.applied_on,
                issue_by: t.issue_by,
                fee_fen: t.fee_fen,
            }),
            Event::TemporaryCardIssued {
                temp_card,
                valid_until,
            } => E::TemporaryCardIssued(v2::TemporaryCardIssued {
                temp_card,
                valid_until,
            }),
            Event::TemporaryCardReturned { temp_card } => {
                E::TemporaryCardReturned(v2::TemporaryCardReturned { temp_card })
            }
        }
    }
}
