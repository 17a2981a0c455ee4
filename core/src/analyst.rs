//! The journal as analysts see it (S2: least data): one row per record with when, which station
//! and officer, what kind of event and its reason — and never an identity number. A card appears
//! as a keyed pseudonym, a person by the division of first registration their number carries.
//!
//! What a holder of these rows can learn: counts and timings of losses, refusals, found cards by
//! station, division and reason; that the same (pseudonymous) card appears in several rows. What
//! they cannot: who a card belongs to. The pseudonym is BLAKE3 keyed with the data directory's
//! secret ([`crate::engine::secrets`]), which is not in the source and not in the rows, so trying
//! every identity number does not reverse it without the key. The key is read from the data
//! directory: whoever can read that directory can read the journal itself, identity numbers
//! included — the protection is for the rows (and the DataFrames made from them) once they leave
//! it. Pseudonyms are stable within a data directory and differ between directories.
//!
//! ```
//! use idcard::analyst::Pseudonymizer;
//! let p = Pseudonymizer::new([7; 32]);
//! let card = idcard::CardKey::new("11010519491231002X".parse()?,
//!     chrono::NaiveDate::from_ymd_opt(2015, 3, 1).unwrap())?;
//! assert_eq!(p.card(card).len(), 16);
//! assert_ne!(p.card(card), Pseudonymizer::new([8; 32]).card(card), "keyed");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::card::CardKey;
use crate::engine::{EngineError, read_records, secrets};
use crate::model::Subject;
use crate::model::{Event, Record};
use crate::number::IdNumber;

/// Turns card keys into pseudonyms with a secret key.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: [u8; 32],
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(..)")
    }
}

impl Pseudonymizer {
    /// With the given secret key.
    pub fn new(key: [u8; 32]) -> Pseudonymizer {
        Pseudonymizer { key }
    }

    /// With the secret of data directory `dir`.
    pub fn of_data_dir(dir: &Path) -> Result<Pseudonymizer, EngineError> {
        Ok(Pseudonymizer::new(secrets::pseudonym_key(dir)?))
    }

    /// A card's pseudonym: 16 hex digits of BLAKE3 keyed with the secret over the card's compact
    /// key.
    pub fn card(&self, key: CardKey) -> String {
        let h = blake3::keyed_hash(&self.key, &key.to_u64().to_le_bytes());
        let mut out = String::with_capacity(16);
        for b in &h.as_bytes()[..8] {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// One journal record as an analyst sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnalystEvent {
    /// Sequence number.
    pub seq: u64,
    /// Time (UTC).
    pub at: DateTime<Utc>,
    /// Officer.
    pub officer: String,
    /// Station.
    pub station: String,
    /// The station's division, when the station is registered.
    pub station_division: Option<String>,
    /// The station's kind, when the station is registered.
    pub station_kind: Option<String>,
    /// Event kind, e.g. `loss_reported`.
    pub kind: &'static str,
    /// Reason or outcome: a refusal's code, `lost`/`stolen`, an application's kind, blacklist
    /// reasons, a status.
    pub reason: Option<String>,
    /// The refused command, for refusals.
    pub command: Option<String>,
    /// Pseudonym of the card concerned, if any.
    pub card: Option<String>,
    /// Division of first registration of the person concerned, if any.
    pub holder_division: Option<String>,
    /// For an attempt that failed authentication (recorded under `UNAUTHENTICATED`): the
    /// officer it claimed to be.
    pub claimed_officer: Option<String>,
}

/// Redact one record (see the module documentation).
pub fn redact(seq: u64, r: &Record, p: &Pseudonymizer) -> AnalystEvent {
    let (mut reason, mut command, mut card, mut holder) = (None, None, None, None);
    let mut claimed = None;
    let mut set_card = |k: CardKey| {
        card = Some(p.card(k));
        holder = Some(k.number().division().to_string());
    };
    let division = |n: IdNumber| Some(n.division().to_string());
    match &r.event {
        Event::LossReported(e) => {
            set_card(e.card);
            reason = Some(if e.stolen { "stolen" } else { "lost" }.to_string());
        }
        Event::LossCancelled(e) => set_card(e.card),
        Event::FoundCardTakenIn(e) => set_card(e.card),
        Event::FoundCardDestroyed(e) => set_card(e.card),
        Event::OwnerNotified(e) => set_card(e.card),
        Event::FoundCardReturned(e) => set_card(e.card),
        Event::HitReported(e) => set_card(e.card),
        Event::CardStatusChanged(e) => {
            set_card(e.card);
            reason = Some(e.status.to_string());
        }
        Event::CommandRefused(e) => {
            command = Some(format!("{:?}", e.command));
            reason = Some(e.code.clone());
        }
        Event::CommandRefusedV2(e) => {
            command = Some(format!("{:?}", e.command));
            reason = Some(e.code.clone());
            match &e.subject {
                Some(Subject::Card(k)) => set_card(*k),
                Some(Subject::Person(n)) => holder = division(*n),
                _ => {}
            }
        }
        Event::AuthenticationFailed(e) => {
            command = Some(format!("{:?}", e.command));
            reason = Some(e.code.clone());
            claimed = Some(e.claimed_officer.to_string());
        }
        Event::PersonalDataRead(e) => {
            reason = Some(e.what.clone());
            match &e.subject {
                Some(Subject::Card(k)) => set_card(*k),
                Some(Subject::Person(n)) => holder = division(*n),
                _ => {}
            }
        }
        Event::ApplicationAccepted(e) => {
            set_card(e.old_card);
            reason = Some(e.kind.as_str().to_string());
        }
        Event::ApplicationAcceptedV2(e) => {
            match e.old_card {
                Some(k) => set_card(k),
                None => holder = division(e.number),
            }
            reason = Some(format!("{} ({})", e.kind.as_str(), e.place.as_str()));
        }
        Event::BlacklistAdded(e) => {
            holder = division(e.number);
            reason = Some(e.entry.reasons.to_string());
        }
        Event::BlacklistRemoved(e) => holder = division(e.number),
        Event::TemporaryCertificateIssued(e) => {
            holder = division(e.number);
            reason = Some(e.missing.as_str().to_string());
        }
        _ => {}
    }
    AnalystEvent {
        seq,
        at: r.at(),
        officer: r.actor.officer.to_string(),
        station: r.actor.station.to_string(),
        station_division: None,
        station_kind: None,
        kind: r.event.kind(),
        reason,
        command,
        card,
        holder_division: holder,
        claimed_officer: claimed,
    }
}

/// Read a data directory's journal as analysts' rows (read-only: an engine may be writing it),
/// each with its station's division and kind.
pub fn read(dir: impl AsRef<Path>) -> Result<Vec<AnalystEvent>, EngineError> {
    let dir = dir.as_ref();
    let p = Pseudonymizer::of_data_dir(dir)?;
    let mut stations: HashMap<String, (String, String)> = HashMap::new();
    let mut out = Vec::new();
    for item in read_records(dir, 1)? {
        let (seq, r) = item?;
        if let Event::StationRegistered(s) = &r.event {
            stations.insert(
                s.id.to_string(),
                (s.division.to_string(), s.kind.to_string()),
            );
        }
        let mut e = redact(seq, &r, &p);
        if let Some((d, k)) = stations.get(&e.station) {
            e.station_division = Some(d.clone());
            e.station_kind = Some(k.clone());
        }
        out.push(e);
    }
    Ok(out)
}
