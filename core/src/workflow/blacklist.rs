//! Blacklist upkeep (不予受理 list) — requirement A6.
//!
//! People who forged, altered, bought, sold, fraudulently collected or obtained, or used someone
//! else's household booklet, identity card, passport or driving licence, or bought, sold or used
//! forged state certificates; and people with bad credit records pushed by the national credit
//! information sharing platform. Entries carry reason categories, source and date; removal is
//! recorded with its reason. The credit platform's push is an outside system
//! ([`CreditFeed`]); a CSV file is one ([`CsvCreditFeed`]).

use std::io::Read;

use crate::engine::{Command, Ctx, Engine, EngineError};
use crate::index::{BlacklistCsv, BlacklistEntry, BlacklistReasons, BlacklistSource, ImportError};
use crate::model::{BlacklistAdded, BlacklistBulkAdded, BlacklistRemoved, Event, State};
use crate::number::IdNumber;
use crate::population::ExternalError;
use crate::station::{Actor, CommandKind};

/// Entries per event when importing a push.
const BATCH: usize = 10_000;

/// The national credit platform's feed of bad credit records.
pub trait CreditFeed {
    /// The next batch of the push (`None` at the end).
    fn next_batch(&mut self) -> Result<Option<Vec<(IdNumber, BlacklistEntry)>>, ExternalError>;
}

/// A push delivered as a CSV file (`BLACKLIST.csv` columns, `docs/FORMAT.md` §6).
pub struct CsvCreditFeed<R> {
    rows: BlacklistCsv<R>,
    batch: usize,
}

impl<R: Read> CsvCreditFeed<R> {
    /// A feed reading `input`.
    pub fn new(input: R) -> CsvCreditFeed<R> {
        CsvCreditFeed {
            rows: BlacklistCsv::new(input),
            batch: BATCH,
        }
    }
}

impl<R: Read> CreditFeed for CsvCreditFeed<R> {
    fn next_batch(&mut self) -> Result<Option<Vec<(IdNumber, BlacklistEntry)>>, ExternalError> {
        let mut out = Vec::new();
        for row in self.rows.by_ref() {
            out.push(row.map_err(|e: ImportError| ExternalError {
                system: "credit platform push".into(),
                message: e.to_string(),
            })?);
            if out.len() == self.batch {
                break;
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportSummary {
    /// Entries recorded.
    pub imported: u64,
    /// Records appended.
    pub records: u64,
}

/// Blacklist a person or change their entry (A6). A county bureau officer; an entry without a
/// source is recorded as from public security, without a date as of today.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddBlacklist {
    /// The person.
    pub number: IdNumber,
    /// Reasons, source, date.
    pub entry: BlacklistEntry,
}

impl Command for AddBlacklist {
    const KIND: CommandKind = CommandKind::AddBlacklist;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let mut entry = self.entry;
        if entry.reasons.is_empty() {
            return Err(ctx.refuse("reason_required", "give at least one reason category (A6)"));
        }
        if entry.source == BlacklistSource::Unknown {
            entry.source = BlacklistSource::PublicSecurity;
        }
        entry.listed_on.get_or_insert(ctx.today);
        let event = Event::BlacklistAdded(BlacklistAdded {
            number: self.number,
            entry,
        });
        Ok((vec![event], ()))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<crate::DivisionCode>, EngineError> {
        Ok(vec![ctx.hukou_of(self.number)?])
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Person(self.number))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Remove a person from the blacklist, with the reason (recorded for audit, A6).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoveBlacklist {
    /// The person.
    pub number: IdNumber,
    /// Why.
    pub reason: String,
}

impl Command for RemoveBlacklist {
    const KIND: CommandKind = CommandKind::RemoveBlacklist;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let number = self.number;
        if !ctx.state.blacklist.contains_key(&number) {
            return Err(ctx.refuse(
                "not_blacklisted",
                format!("{number} is not on the blacklist"),
            ));
        }
        if self.reason.trim().is_empty() {
            return Err(ctx.refuse("reason_required", "give the reason for the removal"));
        }
        let event = Event::BlacklistRemoved(BlacklistRemoved {
            number,
            reason: self.reason.trim().to_string(),
        });
        Ok((vec![event], ()))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<crate::DivisionCode>, EngineError> {
        Ok(vec![ctx.hukou_of(self.number)?])
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Person(self.number))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// One batch of a push of the national credit platform (A6): every entry is a bad credit
/// record (source: credit platform). See [`import_credit_push`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportCreditBatch(pub Vec<(IdNumber, BlacklistEntry)>);

impl Command for ImportCreditBatch {
    const KIND: CommandKind = CommandKind::ImportCreditPush;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let entries = self
            .0
            .iter()
            .map(|&(number, mut e)| {
                e.reasons |= BlacklistReasons::BAD_CREDIT;
                e.source = BlacklistSource::CreditPlatform;
                e.listed_on.get_or_insert(ctx.today);
                (number, e)
            })
            .collect();
        let event = Event::BlacklistBulkAdded(BlacklistBulkAdded { entries });
        Ok((vec![event], ()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Apply a push of the national credit platform: each batch of the feed is one command and one
/// record; `progress` gets the running count.
pub fn import_credit_push(
    engine: &Engine,
    actor: &Actor,
    feed: &mut dyn CreditFeed,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportSummary, EngineError> {
    let mut summary = ImportSummary::default();
    while let Some(batch) = feed.next_batch()? {
        let n = batch.len() as u64;
        engine.execute(actor, &ImportCreditBatch(batch))?;
        summary.imported += n;
        summary.records += 1;
        progress(summary.imported);
    }
    Ok(summary)
}
