//! What a command's decision sees ([`Ctx`]): the state, the authorised actor and station, the
//! time, the outside systems — and the checks every workflow shares, in one place: who a person
//! is (S1), whether they are alive (A10), whether the holder is present in person with matching
//! fingerprints (A10, L2, N6), which card a request names, which county bureau serves a division.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Engine, EngineError, Refusal};
use crate::card::CardKey;
use crate::division::DivisionCode;
use crate::model::{Application, CardRecord, Record, State};
use crate::number::IdNumber;
use crate::population::{FingerprintCheck, Person, TemplateDigest};
use crate::station::{Actor, CommandKind, Station, StationId, StationKind};

/// The person present at the counter: their number (as read from their papers) and, when
/// needed, a fingerprint sample.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InPerson {
    /// Who is present.
    pub number: IdNumber,
    /// A fingerprint sample, when taken.
    pub fingerprint: Option<Vec<u8>>,
}

impl InPerson {
    /// The holder present, without a fingerprint sample.
    pub fn holder(number: IdNumber) -> InPerson {
        InPerson {
            number,
            fingerprint: None,
        }
    }

    /// With a fingerprint sample.
    pub fn with_fingerprint(mut self, sample: impl Into<Vec<u8>>) -> InPerson {
        self.fingerprint = Some(sample.into());
        self
    }
}

/// Which card: the holder's number and the card's validity start; without a date, the holder's
/// newest card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CardRef {
    /// The holder.
    pub number: IdNumber,
    /// The card's validity start (N4), or `None` for the newest card.
    pub valid_from: Option<NaiveDate>,
}

impl CardRef {
    /// A specific card.
    pub fn card(key: CardKey) -> CardRef {
        CardRef {
            number: key.number(),
            valid_from: Some(key.valid_from()),
        }
    }

    /// The holder's newest card.
    pub fn newest(number: IdNumber) -> CardRef {
        CardRef {
            number,
            valid_from: None,
        }
    }

    /// What a command on this card concerns (for its refusal): the card when named, else the
    /// holder.
    pub fn subject(&self) -> crate::model::Subject {
        match self
            .valid_from
            .and_then(|d| CardKey::new(self.number, d).ok())
        {
            Some(k) => crate::model::Subject::Card(k),
            None => crate::model::Subject::Person(self.number),
        }
    }
}

/// What a decision sees (see the module documentation).
pub struct Ctx<'a> {
    /// The state, as of the last applied record.
    pub state: &'a State,
    /// The authorised actor.
    pub actor: &'a Actor,
    /// The actor's station.
    pub station: &'a Station,
    /// Now.
    pub now: DateTime<Utc>,
    /// Today in China.
    pub today: NaiveDate,
    /// The command being decided.
    pub command: CommandKind,
    pub(super) engine: &'a Engine,
}

impl Ctx<'_> {
    /// A refusal of this command.
    pub fn refuse(&self, code: &'static str, message: impl Into<String>) -> EngineError {
        EngineError::Refused(Refusal {
            command: self.command,
            code,
            message: message.into(),
        })
    }

    /// The person from the population directory (S1: identity verified against it).
    pub fn person(&self, number: IdNumber) -> Result<Option<Person>, EngineError> {
        match &self.engine.options.directory {
            Some(d) => Ok(d.person(number)?),
            None => Ok(self.state.people.get(number)?),
        }
    }

    /// Where a person's household registration is: the population directory's entry, else the
    /// division coded in the number (the place of first registration). The subject of
    /// territorial jurisdiction for commands about a person.
    pub fn hukou_of(&self, number: IdNumber) -> Result<crate::DivisionCode, EngineError> {
        Ok(self
            .person(number)?
            .map_or(number.division(), |p| p.hukou_division))
    }

    /// The person, who must exist and be alive (A10: the papers of the dead).
    pub fn living_person(&self, number: IdNumber) -> Result<Person, EngineError> {
        let p = self.person(number)?.ok_or_else(|| {
            self.refuse(
                "unknown_person",
                format!("{number} is not in the population directory"),
            )
        })?;
        if p.deceased {
            return Err(self.refuse(
                "person_deceased",
                format!("{number} is registered as deceased"),
            ));
        }
        Ok(p)
    }

    /// Refuse when an application in progress will replace `card` (one valid card per person:
    /// a withdrawn loss or a returned found card cannot revive a card a new one replaces; the
    /// card stays listed and, if held at a window, is destroyed at issue, F2).
    pub fn no_replacement_in_progress(&self, card: CardKey) -> Result<(), EngineError> {
        match self.state.applications.open_of(card.number()) {
            Some(a) if a.old_card == Some(card) && !a.kind.is_renewal() => Err(self.refuse(
                "replacement_in_progress",
                format!(
                    "application {} replaces this card: it stays listed, and the new card is issued as applied for",
                    a.id
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The guardians on record of `child` (law art. 7, T2): those recorded here
    /// (`RecordGuardians`) and those the population directory knows.
    pub fn guardians_of(&self, child: IdNumber) -> Result<Vec<IdNumber>, EngineError> {
        let mut all = self.state.people.guardians_of(child)?;
        if let Some(d) = &self.engine.options.directory {
            for g in d.guardians(child)? {
                if !all.contains(&g) {
                    all.push(g);
                }
            }
        }
        Ok(all)
    }

    /// In-person identity (A10, L2): the person present must be `holder`, alive, and, when
    /// fingerprints are registered, give a matching sample.
    pub fn in_person(
        &self,
        holder: IdNumber,
        present: &InPerson,
        fingerprints_registered: bool,
    ) -> Result<FingerprintCheck, EngineError> {
        if present.number != holder {
            return Err(self.refuse(
                "not_the_holder",
                "only the holder in person may do this (A10); the person present is someone else",
            ));
        }
        self.living_person(holder)?;
        if !fingerprints_registered {
            return Ok(FingerprintCheck::NotRegistered);
        }
        let Some(sample) = &present.fingerprint else {
            return Err(self.refuse(
                "fingerprint_required",
                "the card has registered fingerprints: compare them on the spot (L2)",
            ));
        };
        if self.fingerprint_matches(holder, sample)? {
            Ok(FingerprintCheck::Matched)
        } else {
            Err(self.refuse(
                "fingerprint_mismatch",
                "the fingerprint does not match the one registered",
            ))
        }
    }

    /// Compare a sample with the enrolled fingerprint.
    pub fn fingerprint_matches(
        &self,
        number: IdNumber,
        sample: &[u8],
    ) -> Result<bool, EngineError> {
        match &self.engine.options.matcher {
            Some(m) => Ok(m.matches(number, sample)?),
            None => Ok(self
                .person(number)?
                .and_then(|p| p.fingerprint)
                .is_some_and(|t| t == TemplateDigest::of(sample))),
        }
    }

    /// The registered card a reference names.
    pub fn card(&self, r: CardRef) -> Result<CardRecord, EngineError> {
        let found = match r.valid_from {
            Some(d) => match CardKey::new(r.number, d) {
                Ok(k) => self.state.cards.get(k)?,
                Err(_) => None,
            },
            None => self.state.cards.current(r.number)?,
        };
        found.ok_or_else(|| {
            self.refuse(
                "unknown_card",
                match r.valid_from {
                    Some(d) => format!("no card of {} valid from {d} is registered", r.number),
                    None => format!("no card of {} is registered", r.number),
                },
            )
        })
    }

    /// An application on record.
    pub fn application(&self, id: u64) -> Result<&Application, EngineError> {
        self.state
            .applications
            .get(&id)
            .ok_or_else(|| self.refuse("unknown_application", format!("no application {id}")))
    }

    /// The county bureau whose jurisdiction holds `division` (A4: the hukou place's county-level
    /// bureau): the one registered for the county itself, else a city bureau registered at
    /// the prefecture-level code (a city without districts). None when there is none: a bureau
    /// elsewhere in the prefecture or province has no jurisdiction there.
    pub fn county_bureau_of(&self, division: DivisionCode) -> Option<StationId> {
        let of = |code: DivisionCode| {
            self.state
                .stations
                .values()
                .filter(|s| s.kind == StationKind::CountyBureau && s.division == code)
                .map(|s| s.id.clone())
                .min()
        };
        of(division)
            .or_else(|| of(division.prefecture()).filter(|_| division.prefecture() != division))
    }

    /// The nearest station of `kind` to `division`: in the same county, else the same
    /// prefecture, else the same province (the lowest identifier where several serve).
    pub fn nearest_station(&self, kind: StationKind, division: DivisionCode) -> Option<StationId> {
        let tiers: [&dyn Fn(DivisionCode) -> bool; 3] = [
            &|d| d == division,
            &|d| d.prefecture() == division.prefecture(),
            &|d| d.province() == division.province(),
        ];
        tiers.into_iter().find_map(|same| {
            self.state
                .stations
                .values()
                .filter(|s| s.kind == kind && same(s.division))
                .map(|s| s.id.clone())
                .min()
        })
    }

    /// The journal's records from `from` on, after making everything applied durable (so they
    /// reach the state's last sequence).
    pub fn durable_records(
        &self,
        from: u64,
    ) -> Result<impl Iterator<Item = Result<(u64, Record), EngineError>> + use<>, EngineError> {
        self.engine.journal.wait_durable(self.state.last_seq)?;
        self.engine.records(from)
    }
}
