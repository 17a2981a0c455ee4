//! Read views of the state: what the command line prints, what Python and the C++ bridge hand
//! out. Each returns plain `Serialize` values, so every adapter shows the same fields under the
//! same names (the CLI's `--json` prints them as they are). Views that read people or cards
//! may fail with the population store's error ([`crate::store`]).
//!
//! ```
//! use idcard::model::{State, view};
//! let state = State::default();
//! assert!(view::losses(&state, None)?.is_empty());
//! # Ok::<(), idcard::store::StoreError>(())
//! ```

use chrono::NaiveDate;
use serde::Serialize;

use crate::store::StoreError;

use super::state::{Application, FoundOutcome, Hit, State, TempCard, TempCertificate};
use crate::card::CardKey;
use crate::division::DivisionCode;
use crate::index::CardStatus;
use crate::number::IdNumber;
use crate::station::{Officer, Station, StationId, StationKind};

/// A card of the register (`idcard card show`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CardView {
    /// The holder's number.
    pub number: String,
    /// Validity start (N4).
    pub valid_from: NaiveDate,
    /// Validity end; `None` for long-term (N5).
    pub valid_until: Option<NaiveDate>,
    /// Fingerprints registered (N6).
    pub fingerprints: bool,
    /// `valid`, `expired` (valid, but past its validity end on the day asked), `lost`,
    /// `stolen`, `superseded`, `invalidated`.
    pub status: &'static str,
    /// Why (a reason name).
    pub reason: String,
    /// When the status last changed.
    pub changed_on: Option<NaiveDate>,
}

/// A person's cards, oldest first, as they stand on `today` (a valid card past its validity
/// end shows as `expired`, N5).
pub fn cards_of(
    state: &State,
    number: IdNumber,
    today: NaiveDate,
) -> Result<Vec<CardView>, StoreError> {
    Ok(state
        .cards
        .of(number)?
        .into_iter()
        .map(|c| CardView {
            number: number.to_string(),
            valid_from: c.key.valid_from(),
            valid_until: c.card().valid_until(),
            fingerprints: c.fingerprints,
            status: match c.card().valid_until() {
                Some(end) if c.status == CardStatus::Valid && end < today => {
                    CardStatus::Expired.as_str()
                }
                _ => c.status.as_str(),
            },
            reason: c.reason.to_string(),
            changed_on: c.changed_on,
        })
        .collect())
}

/// A loss report on record (`idcard loss list`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LossView {
    /// The holder's number.
    pub number: String,
    /// The card's validity start.
    pub valid_from: NaiveDate,
    /// `lost` or `stolen`.
    pub status: &'static str,
    /// When (Unix ms).
    pub at_ms: i64,
    /// Where it was reported.
    pub station: String,
    /// By which officer.
    pub officer: String,
    /// At the household registration place (L1).
    pub at_hukou_place: bool,
}

/// The loss reports in force, oldest first, optionally those taken at one station.
///
/// Reads every card (from the population store, streamed): an audit listing, not a counter's
/// query.
pub fn losses(state: &State, at: Option<&StationId>) -> Result<Vec<LossView>, StoreError> {
    let mut v: Vec<LossView> = Vec::new();
    state.cards.for_each(|c| {
        if let Some(l) = &c.loss
            && at.is_none_or(|a| &l.by.station == a)
        {
            v.push(LossView {
                number: c.key.number().to_string(),
                valid_from: c.key.valid_from(),
                status: c.status.as_str(),
                at_ms: l.at_ms,
                station: l.by.station.to_string(),
                officer: l.by.officer.to_string(),
                at_hukou_place: l.at_hukou_place,
            });
        }
    })?;
    v.sort_by(|a, b| (a.at_ms, &a.number).cmp(&(b.at_ms, &b.number)));
    Ok(v)
}

/// Hit reports, optionally those routed to one station, optionally only the open ones.
pub fn hits(state: &State, routed_to: Option<&StationId>, only_open: bool) -> Vec<Hit> {
    state
        .hits
        .values()
        .filter(|h| routed_to.is_none_or(|r| &h.routed_to == r))
        .filter(|h| !only_open || h.acknowledged.is_none())
        .cloned()
        .collect()
}

/// A card in the found-card database (`idcard found list`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FoundView {
    /// The holder's number.
    pub number: String,
    /// The card's validity start.
    pub valid_from: NaiveDate,
    /// The window that took it in.
    pub window: String,
    /// When (Unix ms).
    pub at_ms: i64,
    /// `held`, `destroyed` or `returned`.
    pub state: &'static str,
    /// The contact the owner was notified through.
    pub notified: Option<String>,
}

/// Found cards, oldest first, optionally those of one window.
pub fn found(state: &State, window: Option<&StationId>) -> Vec<FoundView> {
    let mut v: Vec<FoundView> = state
        .found
        .values()
        .filter(|f| window.is_none_or(|w| &f.window == w))
        .map(|f| FoundView {
            number: f.card.number().to_string(),
            valid_from: f.card.valid_from(),
            window: f.window.to_string(),
            at_ms: f.at_ms,
            state: f.outcome.as_str(),
            notified: f.notified.clone(),
        })
        .collect();
    v.sort_by(|a, b| (a.at_ms, &a.number).cmp(&(b.at_ms, &b.number)));
    v
}

/// What a citizen learns when asking about their own lost cards (F1; S2: where to collect and
/// since when, nothing more — not the finder, not the contact used, not who took it in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FoundAnswer {
    /// Validity start of the card (the citizen knows their own cards).
    pub valid_from: NaiveDate,
    /// `held`, `destroyed` or `returned`.
    pub state: &'static str,
    /// Where to collect it, when held.
    pub window: Option<StationId>,
    /// The window's name, when held.
    pub window_name: Option<String>,
    /// The day (in China) it was handed in.
    pub since: NaiveDate,
}

/// A citizen's query (F1): were any of my cards found, where can I collect them, since when?
pub fn found_query(state: &State, number: IdNumber) -> Result<Vec<FoundAnswer>, StoreError> {
    Ok(state
        .cards
        .of(number)?
        .iter()
        .filter_map(|c| state.found.get(&c.key))
        .map(|f| {
            let held = f.outcome == FoundOutcome::Held;
            FoundAnswer {
                valid_from: f.card.valid_from(),
                state: f.outcome.as_str(),
                window: held.then(|| f.window.clone()),
                window_name: held
                    .then(|| state.stations.get(&f.window).map(|s| s.name.clone()))
                    .flatten(),
                since: crate::time::china_date(
                    chrono::DateTime::from_timestamp_millis(f.at_ms).unwrap_or_default(),
                ),
            }
        })
        .collect())
}

/// A blacklist entry (`idcard blacklist list`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlacklistView {
    /// The person.
    pub number: String,
    /// Reason names.
    pub reasons: Vec<&'static str>,
    /// `public_security`, `credit_platform` or `unknown`.
    pub source: &'static str,
    /// When listed.
    pub listed_on: Option<NaiveDate>,
    /// The station that listed them.
    pub by_station: String,
}

/// The blacklist, by number.
pub fn blacklist(state: &State) -> Vec<BlacklistView> {
    let mut v: Vec<BlacklistView> = state
        .blacklist
        .iter()
        .map(|(n, r)| BlacklistView {
            number: n.to_string(),
            reasons: r.entry.reasons.names().collect(),
            source: r.entry.source.as_str(),
            listed_on: r.entry.listed_on,
            by_station: r.by.station.to_string(),
        })
        .collect();
    v.sort_by(|a, b| a.number.cmp(&b.number));
    v
}

/// Stations, optionally of one kind and within one division (`110000` lists all of Beijing).
pub fn stations(
    state: &State,
    kind: Option<StationKind>,
    within: Option<DivisionCode>,
) -> Vec<Station> {
    state
        .stations
        .values()
        .filter(|s| kind.is_none_or(|k| s.kind == k))
        .filter(|s| within.is_none_or(|d| d.contains(s.division)))
        .cloned()
        .collect()
}

/// Subscribers (banks, airlines), by identifier.
pub fn subscribers(state: &State) -> Vec<super::state::Subscriber> {
    state.subscribers.values().cloned().collect()
}

/// A published snapshot and its chain of deltas.
#[derive(Clone, Debug, Serialize)]
pub struct PublicationView {
    /// The snapshot id (hex, as `idcard snapshot inspect` shows it).
    pub snapshot_id: String,
    /// `bank` or `police`.
    pub profile: crate::index::Profile,
    /// Whose file it is (`None`: the common file).
    pub subscriber: Option<String>,
    /// The journal sequence the snapshot reflects.
    pub journal_seq: u64,
    /// Where the next delta on it starts.
    pub next_from: u64,
    /// Deltas published on it.
    pub deltas: u64,
    /// When it was published.
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Published snapshots, oldest first.
pub fn publications(state: &State) -> Vec<PublicationView> {
    let mut v: Vec<PublicationView> = state
        .publications
        .values()
        .map(|p| PublicationView {
            snapshot_id: format!("{:016x}", p.snapshot_id),
            profile: p.profile,
            subscriber: p.subscriber.as_ref().map(|s| s.to_string()),
            journal_seq: p.journal_seq,
            next_from: p.next_from(),
            deltas: p.deltas,
            published_at: chrono::DateTime::from_timestamp_millis(p.published_ms),
        })
        .collect();
    v.sort_by_key(|p| (p.published_at, p.journal_seq));
    v
}

/// Officers.
pub fn officers(state: &State) -> Vec<Officer> {
    state.officers.values().cloned().collect()
}

/// Applications, oldest first.
pub fn applications(state: &State) -> Vec<Application> {
    state.applications.values().cloned().collect()
}

/// Applications not issued by their deadline on `today`, optionally of one acceptance point or
/// reviewing bureau (A4).
pub fn overdue_applications(
    state: &State,
    today: NaiveDate,
    station: Option<&StationId>,
) -> Vec<Application> {
    state
        .applications
        .values()
        .filter(|a| a.is_overdue(today))
        .filter(|a| station.is_none_or(|st| &a.point == st || &a.hukou_bureau == st))
        .cloned()
        .collect()
}

/// The escalated applications still open that `bureau` reviews (A4): its list to chase.
pub fn escalated_applications(state: &State, bureau: &StationId) -> Vec<Application> {
    state
        .applications
        .values()
        .filter(|a| a.escalated && a.is_open() && &a.hukou_bureau == bureau)
        .cloned()
        .collect()
}

/// Temporary cards overdue on `today`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TempCardsOverdue {
    /// Applied for and not issued within 3 days (T4).
    pub not_issued_in_3_days: Vec<TempCard>,
    /// Issued, past their validity and not handed back (T5).
    pub expired_not_returned: Vec<TempCard>,
}

/// Temporary cards not issued within 3 days (T4), and issued ones past their validity that were
/// not handed back (T5), on `today`.
pub fn temp_cards_overdue(state: &State, today: NaiveDate) -> TempCardsOverdue {
    use super::state::TempCardState as S;
    TempCardsOverdue {
        not_issued_in_3_days: state
            .temp_cards
            .values()
            .filter(|t| t.state == S::Applied && t.issue_by < today)
            .cloned()
            .collect(),
        expired_not_returned: state
            .temp_cards
            .values()
            .filter(|t| t.state == S::Issued && t.issued.is_some_and(|(_, until)| until < today))
            .cloned()
            .collect(),
    }
}

/// How a check of a temporary identity certificate came out (A8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateCheck {
    /// Good for this person and trip now.
    Valid,
    /// No such certificate.
    Unknown,
    /// Issued to someone else or for another trip.
    Mismatch,
    /// Already used.
    Used,
    /// Expired.
    Expired,
}

/// Check a certificate presented for a trip at `now_ms` (A8).
pub fn check_certificate(
    state: &State,
    id: u64,
    number: IdNumber,
    trip_reference: &str,
    now_ms: i64,
) -> CertificateCheck {
    let ok = |c: &TempCertificate| c.number == number && c.trip.reference() == trip_reference;
    match state.temp_certs.get(&id) {
        None => CertificateCheck::Unknown,
        Some(c) if !ok(c) => CertificateCheck::Mismatch,
        Some(c) if c.used.is_some() => CertificateCheck::Used,
        Some(c) if now_ms > c.valid_until_ms => CertificateCheck::Expired,
        Some(_) => CertificateCheck::Valid,
    }
}

/// One refusal count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusalCount {
    /// The command (snake_case name).
    pub command: crate::station::CommandKind,
    /// The reason code.
    pub code: String,
    /// How many.
    pub count: u64,
}

/// Counts of events and refusals (`idcard journal stats`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatsView {
    /// Records by event kind.
    pub events: std::collections::BTreeMap<String, u64>,
    /// Refusals by command and reason.
    pub refusals: Vec<RefusalCount>,
}

/// The journal's counters.
pub fn stats(state: &State) -> StatsView {
    StatsView {
        events: state.stats.events.clone(),
        refusals: state
            .stats
            .refusals
            .iter()
            .map(|((command, code), n)| RefusalCount {
                command: *command,
                code: code.clone(),
                count: *n,
            })
            .collect(),
    }
}

/// A card's status at the record (valid when not registered), for the platform bridge.
pub fn card_status(state: &State, card: CardKey) -> Result<crate::index::CardStatus, StoreError> {
    state.cards.status(card)
}
