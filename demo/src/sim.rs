//! The people's doings, day by day, through the engine's real commands: every step below is a
//! command an officer runs at a counter, accepted or refused by the rules in `idcard`.
//!
//! A [`Job`] is one person's errand on one day; it may schedule follow-ups on later days (the
//! review of an application, collecting a found card …). Jobs of different people are
//! independent, so a day's jobs run concurrently (the engine's group commit serves them) and the
//! outcomes do not depend on the interleaving: the same seed gives the same people, the same
//! commands and the same outcomes (event counts, refusals). Identifiers that are journal
//! sequence numbers (applications, hits, certificates) depend on the order commands arrive.

use idcard::workflow::Commands;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use idcard::engine::{Engine, EngineError, InPerson};
use idcard::index::CardStatus;
use idcard::station::{Actor, CommandKind};
use idcard::workflow::loss::{CardRef, LossRequest};
use idcard::workflow::offsite::{Appearance, ApplicationKind, ApplicationRequest, Materials};
use idcard::workflow::temporary::{MissingCard, TempCardMaterials, Trip};
use idcard::{CardKey, DivisionCode, IdNumber};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::bank::Bank;
use crate::world::{PROVINCES, fingerprint_sample};

/// Where a person stands, as far as the demo's people know (the record is the engine's).
#[derive(Clone, Debug)]
pub struct Folk {
    pub number: IdNumber,
    pub hukou: DivisionCode,
    /// Province index (into [`PROVINCES`]) where they live and work.
    pub work: u8,
    /// The current card's key ([`CardKey::to_u64`]; 0: none): 8 bytes, not an `Option`'s 16
    /// (ten million people).
    card: u64,
    pub card_fp: bool,
    /// Fingerprints enrolled in the population system (new cards carry them, N6).
    pub enrolled: bool,
    /// The current card is reported lost or stolen.
    pub lost: bool,
    pub app: Option<Box<App>>,
    /// A temporary card applied for (its id) and whether it was issued.
    /// Boxed: one person in hundreds has one, and an empty box costs 8 bytes, not 16.
    pub temp: Option<Box<(u64, bool)>>,
    pub dead: bool,
    pub blacklisted: bool,
    /// Lives and works away from the household registration county (a migrant worker).
    pub migrant: bool,
}

impl Folk {
    /// A person as the demo follows them, holding `card`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        number: IdNumber,
        hukou: DivisionCode,
        work: u8,
        card: Option<CardKey>,
        card_fp: bool,
        enrolled: bool,
        migrant: bool,
    ) -> Folk {
        Folk {
            number,
            hukou,
            work,
            card: card.map_or(0, CardKey::to_u64),
            card_fp,
            enrolled,
            lost: false,
            app: None,
            temp: None,
            dead: false,
            blacklisted: false,
            migrant,
        }
    }

    /// The current card.
    pub fn card(&self) -> Option<CardKey> {
        (self.card != 0).then(|| CardKey::from_u64(self.card).expect("a key the demo stored"))
    }

    /// Change the current card.
    pub fn set_card(&mut self, card: Option<CardKey>) {
        self.card = card.map_or(0, CardKey::to_u64);
    }
    fn present(&self) -> InPerson {
        InPerson::holder(self.number).with_fingerprint(fingerprint_sample(self.number))
    }

    /// Where they report a loss: the registration hall of the work province when away from
    /// home, else the household registration station at home.
    fn loss_station(&self) -> Actor {
        if self.migrant {
            provincial(self.work, "HALL")
        } else {
            local(self.hukou, "HR")
        }
    }

    /// Free for a new errand (with nothing scheduled either).
    pub fn idle(&self) -> bool {
        !self.dead && self.app.is_none() && self.temp.is_none()
    }
}

/// An open off-site application.
#[derive(Clone, Debug)]
pub struct App {
    pub id: u64,
    pub kind: ApplicationKind,
    pub point: Actor,
    pub bureau: Actor,
    pub receipt: String,
    pub new_card: Option<CardKey>,
    /// Fingerprints registered on the new card.
    pub fingerprints: bool,
}

/// One errand.
#[derive(Clone, Debug)]
pub enum Job {
    /// Report the current card lost (at the hall of the work province when away from home).
    Loss { stolen: bool },
    /// Withdraw the loss report: the card turned up.
    CancelLoss { card: CardKey, station: Actor },
    /// Apply: at home, or off-site at the work province's acceptance point for migrants.
    Apply { kind: ApplicationKind },
    /// The hukou-place bureau reviews the application.
    Review,
    /// The point produces the new card.
    Produce,
    /// The applicant collects the new card.
    Issue,
    /// The bureau extends the deadline (remote area).
    Extend,
    /// Apply for a temporary card at home.
    TempCardApply,
    /// The bureau issues the temporary card.
    TempCardIssue,
    /// The temporary card is handed back at home.
    TempCardReturn,
    /// Someone hands the lost card in at a lost-and-found window.
    FoundHandIn { card: CardKey, province: u8 },
    /// The owner collects the found card.
    FoundCollect { card: CardKey, window: Actor },
    /// Someone presents the lost card at a bank counter.
    Impostor { card: CardKey, province: u8 },
    /// The police station follows up a hit report.
    AckHit { hit: u64, station: Actor },
    /// A traveller without their card asks for a temporary certificate.
    TempCert { province: u8 },
    /// The certificate is shown at boarding (or too late, or twice).
    UseCert {
        id: u64,
        trip: String,
        station: Actor,
        twice: bool,
    },
    /// A death is recorded.
    Death,
    /// Someone uses a dead person's papers to apply.
    DeadApplicant,
    /// Someone who never had a card applies off-site.
    FirstTimer,
}

impl Job {
    /// Stations this errand needs at the person's home county (created before it runs).
    pub fn needs_local_office(&self, migrant: bool) -> bool {
        matches!(
            self,
            Job::TempCardApply | Job::TempCardIssue | Job::TempCardReturn
        ) || matches!(self, Job::Loss { .. } if !migrant)
            // The hukou county's bureau reviews applications and records deaths (A4, S1).
            || matches!(self, Job::Apply { .. } | Job::Death)
    }
}

/// The actor of a station: its first officer, signing with their key (S1).
pub fn actor(station: &str) -> Actor {
    let officer = format!("{station}.1");
    let key = officer_key(&officer);
    Actor::new(&officer, station)
        .expect("valid identifiers")
        .with_signer(key)
}

/// The demo's officers' keys: each derived from the officer's id (a demo has no USB keys to
/// hand out; a real bureau registers the public half of a key the officer holds), cached.
pub fn officer_key(officer: &str) -> std::sync::Arc<idcard::trust::SecretKey> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static KEYS: OnceLock<Mutex<HashMap<String, Arc<idcard::trust::SecretKey>>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let mut keys = keys.lock().expect("not poisoned");
    keys.entry(officer.to_string())
        .or_insert_with(|| {
            let seed =
                *blake3::hash(format!("idcard demo officer {officer}").as_bytes()).as_bytes();
            Arc::new(idcard::trust::SecretKey::from_seed(
                idcard::trust::Algorithm::Ed25519,
                seed,
                officer,
            ))
        })
        .clone()
}

/// The public key a bureau registers for a demo officer.
pub fn officer_public_key(officer: &str) -> idcard::station::OfficerKey {
    idcard::station::OfficerKey::of(&officer_key(officer).public())
}

/// Station of a province (`kind`: PSB, HR, HALL, POINT, AIR, RAIL, HOTEL, LF, BANK).
pub fn provincial(province: u8, kind: &str) -> Actor {
    actor(&format!("{}-{kind}", PROVINCES[province as usize].0))
}

/// Station of a county (`kind`: HR or PSB), created on demand.
pub fn local(county: DivisionCode, kind: &str) -> Actor {
    actor(&format!("{county}-{kind}"))
}

/// Client-side counts: what the counters saw for each command (accepted, or the refusal code).
#[derive(Default)]
pub struct Tally {
    outcomes: Mutex<BTreeMap<(CommandKind, String), u64>>,
    /// Impostors presenting a lost card whom the bank verifier caught / did not catch.
    pub impostors_caught: AtomicU64,
    pub impostors_missed: AtomicU64,
    /// … and those whose card was valid again by then (found, returned, loss withdrawn).
    pub impostors_card_valid_again: AtomicU64,
    /// Found cards destroyed at intake because the owner already had a new card (F2).
    pub found_destroyed: AtomicU64,
}

impl Tally {
    fn add(&self, command: CommandKind, outcome: &str) {
        *self
            .outcomes
            .lock()
            .expect("not poisoned")
            .entry((command, outcome.to_string()))
            .or_default() += 1;
    }

    /// The counts.
    pub fn outcomes(&self) -> BTreeMap<(CommandKind, String), u64> {
        self.outcomes.lock().expect("not poisoned").clone()
    }
}

/// What a job runs against.
pub struct Sim<'a> {
    pub engine: &'a Engine,
    pub folk: &'a [Mutex<Folk>],
    pub tally: &'a Tally,
    pub bank: &'a Bank,
    pub today: NaiveDate,
    /// Everyone's number (never changes; read without locking anyone).
    pub numbers: &'a [IdNumber],
    /// Adults' indexes (guardians for the under-16s).
    pub adults: &'a [u32],
}

/// A follow-up: `days` from today, for the same person.
pub type FollowUp = (u32, Job);

impl Sim<'_> {
    /// Count the outcome of a command; `Ok(None)` for a refusal, `Err` for a failure of the
    /// system (which stops the demo).
    pub fn note_public<T>(
        &self,
        command: CommandKind,
        r: Result<T, EngineError>,
    ) -> Result<Option<T>, EngineError> {
        self.note(command, r)
    }

    fn note<T>(
        &self,
        command: CommandKind,
        r: Result<T, EngineError>,
    ) -> Result<Option<T>, EngineError> {
        match r {
            Ok(v) => {
                self.tally.add(command, "accepted");
                Ok(Some(v))
            }
            Err(EngineError::Refused(refusal)) => {
                self.tally.add(command, refusal.code);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Run person `who`'s errand: one method per kind of counter work below.
    pub fn run(
        &self,
        who: usize,
        job: Job,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let mut guard = self.folk[who].lock().expect("not poisoned");
        let f = &mut *guard;
        match job {
            Job::Loss { stolen } => self.report_loss(who, f, rng, stolen),
            Job::CancelLoss { card, station } => self.withdraw_loss(f, card, station),
            Job::Apply { kind } => self.apply(who, f, rng, kind),
            Job::Review => self.review(f, rng),
            Job::Produce => self.produce(f, rng),
            Job::Issue => self.collect_new_card(f, rng),
            Job::Extend => self.extend_deadline(f, rng),
            Job::TempCardApply => self.temp_card_apply(who, f, rng),
            Job::TempCardIssue => self.temp_card_issue(f),
            Job::TempCardReturn => self.temp_card_return(f),
            Job::FoundHandIn { card, province } => self.hand_in_found(rng, card, province),
            Job::FoundCollect { card, window } => self.collect_found(who, f, rng, card, window),
            Job::Impostor { card, province } => self.impostor(rng, card, province),
            Job::AckHit { hit, station } => self.acknowledge_hit(hit, station),
            Job::TempCert { province } => self.temp_certificate(f, rng, province),
            Job::UseCert {
                id,
                trip,
                station,
                twice,
            } => self.use_certificate(f, id, trip, station, twice),
            Job::Death => self.death(f, rng),
            Job::DeadApplicant => self.dead_applicant(f),
            Job::FirstTimer => self.first_timer(f),
        }
    }

    /// Report the current card lost or stolen (L1, L2), with the irregular first attempts people make; schedule what follows.
    fn report_loss(
        &self,
        who: usize,
        f: &mut Folk,
        rng: &mut ChaCha8Rng,
        stolen: bool,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        let Some(card) = f.card().filter(|_| !f.lost && !f.dead) else {
            return Ok(next);
        };
        let away = f.migrant;
        let station = f.loss_station();
        let mut req = LossRequest {
            card: CardRef::card(card),
            stolen,
            present: f.present(),
        };
        // Irregular first attempts: a relative comes instead (A10), or the officer
        // forgets the fingerprint comparison or it fails (L2); then the holder, properly.
        let r: f64 = rng.random();
        if r < 0.015 {
            let other = InPerson::holder(self.other(who, rng));
            let first = LossRequest {
                present: other,
                ..req.clone()
            };
            self.note(CommandKind::ReportLoss, e.report_loss(&station, &first))?;
        } else if f.card_fp && r < 0.035 {
            let first = LossRequest {
                present: InPerson::holder(f.number),
                ..req.clone()
            };
            self.note(CommandKind::ReportLoss, e.report_loss(&station, &first))?;
        } else if f.card_fp && r < 0.045 {
            req.present = InPerson::holder(f.number).with_fingerprint(b"smudged".to_vec());
            self.note(CommandKind::ReportLoss, e.report_loss(&station, &req))?;
            req.present = f.present();
        }
        if self
            .note(CommandKind::ReportLoss, e.report_loss(&station, &req))?
            .is_some()
        {
            f.lost = true;
            self.bank.watch(card);
            if !away && rng.random_bool(0.02) {
                // Asks for a temporary card at the same counter, before any renewal or
                // replacement is applied for: refused (T1).
                let r = e.apply_temporary_card(
                    &station,
                    f.number,
                    &f.present(),
                    None,
                    TempCardMaterials::COMPLETE,
                );
                self.note(CommandKind::ApplyTemporaryCard, r)?;
            }
            // What happens next: a replacement (off-site when away, at home otherwise, L1).
            if rng.random_bool(0.6) {
                if rng.random_bool(0.04) {
                    // Asks to renew first: the card is lost, so that is refused.
                    next.push((
                        day(rng, 1, 5),
                        Job::Apply {
                            kind: ApplicationKind::Renewal,
                        },
                    ));
                }
                next.push((
                    day(rng, 1, 6),
                    Job::Apply {
                        kind: ApplicationKind::Replacement,
                    },
                ));
            }
            let province = if away {
                f.work
            } else {
                province_of(f.hukou) as u8
            };
            if rng.random_bool(0.25) {
                next.push((day(rng, 1, 20), Job::FoundHandIn { card, province }));
            } else if rng.random_bool(0.06) {
                next.push((day(rng, 1, 10), Job::CancelLoss { card, station }));
            }
            if rng.random_bool(0.04) {
                let province = rng.random_range(0..PROVINCES.len()) as u8;
                next.push((day(rng, 1, 15), Job::Impostor { card, province }));
            }
        }
        Ok(next)
    }

    /// Withdraw the loss report: the card turned up.
    fn withdraw_loss(
        &self,
        f: &mut Folk,
        card: CardKey,
        station: Actor,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let e = self.engine;
        if f.card() == Some(card) && f.lost && f.app.is_none() {
            let r = e.cancel_loss(&station, CardRef::card(card), &f.present());
            if self.note(CommandKind::CancelLoss, r)?.is_some() {
                f.lost = false;
                self.bank.changed(card);
            }
        }
        Ok(Vec::new())
    }

    /// Apply for a card — at home (the household registration station of the hukou county) for
    /// people who live there and for first applications, off-site at the work province's
    /// acceptance point for migrants (A1-A12) — with the mistakes people make.
    fn apply(
        &self,
        who: usize,
        f: &mut Folk,
        rng: &mut ChaCha8Rng,
        kind: ApplicationKind,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        if f.dead {
            return Ok(next);
        }
        let home = !f.migrant || kind == ApplicationKind::FirstApplication;
        let point = if home {
            local(f.hukou, "HR")
        } else {
            provincial(f.work, "POINT")
        };
        let mut req = ApplicationRequest {
            kind,
            card: match f.card() {
                Some(c) => CardRef::card(c),
                None => CardRef::newest(f.number),
            },
            present: f.present(),
            appearance: Appearance::Matches,
            materials: Materials::complete(kind),
            fingerprints: f.enrolled,
            guardian: None,
            hardship_certificate: false,
            unit_application: false,
        };
        let r: f64 = rng.random();
        if r < 0.005 {
            // Someone else with the person's papers (A10).
            req.present = InPerson::holder(self.other(who, rng));
            self.note(CommandKind::ApplyOffsite, e.apply_offsite(&point, &req))?;
            return Ok(next);
        } else if r < 0.01 {
            req.appearance = Appearance::DoesNotMatch;
            self.note(CommandKind::ApplyOffsite, e.apply_offsite(&point, &req))?;
            return Ok(next);
        } else if r < 0.04 {
            // Changed greatly: fingerprints on the card settle it, else refused (A5).
            req.appearance = Appearance::ChangedGreatly;
        } else if r < 0.07 {
            // Papers missing (A3): back another day with everything.
            req.materials = Materials {
                registration_form: true,
                ..Default::default()
            };
            self.note(CommandKind::ApplyOffsite, e.apply_offsite(&point, &req))?;
            next.push((day(rng, 1, 3), Job::Apply { kind }));
            return Ok(next);
        } else if f.card_fp && r < 0.09 {
            let first = ApplicationRequest {
                present: InPerson::holder(f.number),
                ..req.clone()
            };
            self.note(CommandKind::ApplyOffsite, e.apply_offsite(&point, &first))?;
        } else if f.card_fp && r < 0.10 {
            let first = ApplicationRequest {
                present: InPerson::holder(f.number).with_fingerprint(b"worn".to_vec()),
                ..req.clone()
            };
            self.note(CommandKind::ApplyOffsite, e.apply_offsite(&point, &first))?;
        }
        let was_lost = f.lost;
        let Some(app) = self.note(CommandKind::ApplyOffsite, e.apply_offsite(&point, &req))? else {
            if let Some(w) = self.held_at(f.card()) {
                // The card is at a lost-and-found window: collect it there (F1).
                let card = f.card().expect("held cards are cards");
                next.push((day(rng, 1, 3), Job::FoundCollect { card, window: w }));
            }
            return Ok(next);
        };
        if kind == ApplicationKind::Replacement && !was_lost {
            // Reported lost on the spot by the acceptance (the loss-report system).
            f.lost = true;
            if let Some(c) = f.card() {
                self.bank.watch(c);
            }
        }
        if rng.random_bool(0.01) {
            // Comes back the next hour, forgetting it is in progress.
            self.note(CommandKind::ApplyOffsite, e.apply_offsite(&point, &req))?;
        }
        f.app = Some(Box::new(App {
            id: app.id,
            kind,
            point,
            bureau: actor(app.hukou_bureau.as_str()),
            receipt: app.pickup_receipt.clone(),
            new_card: None,
            fingerprints: app.fingerprints,
        }));
        next.push((day(rng, 1, 3), Job::Review));
        let temp_rate = if kind == ApplicationKind::Replacement {
            0.25
        } else {
            0.08
        };
        if rng.random_bool(temp_rate) {
            next.push((day(rng, 1, 2), Job::TempCardApply));
        }
        if rng.random_bool(0.05) {
            next.push((day(rng, 1, 5), Job::Extend));
        }
        Ok(next)
    }

    /// The hukou-place bureau reviews the application (A4, A11).
    fn review(&self, f: &mut Folk, rng: &mut ChaCha8Rng) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        let Some(app) = f.app.clone() else {
            return Ok(next);
        };
        if rng.random_bool(0.03) {
            if rng.random_bool(0.3) {
                // A rejection needs its reason (A11).
                let r = e.review_application(&app.bureau, app.id, false, " ");
                self.note(CommandKind::ReviewApplication, r)?;
            }
            let r = e.review_application(
                &app.bureau,
                app.id,
                false,
                "identity could not be confirmed with the household register",
            );
            if self.note(CommandKind::ReviewApplication, r)?.is_some() {
                f.app = None;
                // No new card coming: the temporary card goes back at home (T5).
                if matches!(f.temp.as_deref(), Some((_, true))) {
                    next.push((day(rng, 1, 5), Job::TempCardReturn));
                }
            }
        } else {
            let r = e.review_application(&app.bureau, app.id, true, "confirmed");
            if self.note(CommandKind::ReviewApplication, r)?.is_some() {
                // A production backlog at some points makes a few late (A4 deadlines).
                let wait = if rng.random_bool(0.06) {
                    day(rng, 22, 40)
                } else {
                    day(rng, 2, 8)
                };
                next.push((wait, Job::Produce));
            }
        }
        Ok(next)
    }

    /// The point produces the new card (A4).
    fn produce(&self, f: &mut Folk, rng: &mut ChaCha8Rng) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        let Some(app) = f.app.as_mut() else {
            return Ok(next);
        };
        let r = e.produce_card(&app.point, app.id);
        if let Some(card) = self.note(CommandKind::ProduceCard, r)? {
            app.new_card = Some(card);
            next.push((day(rng, 1, 5), Job::Issue));
        }
        Ok(next)
    }

    /// The applicant collects the new card, handing back the old one and a temporary card (A4, T5).
    fn collect_new_card(
        &self,
        f: &mut Folk,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        let Some(app) = f.app.clone() else {
            return Ok(next);
        };
        let present = f.present();
        let temp_out = matches!(f.temp.as_deref(), Some((_, true)));
        if rng.random_bool(0.01) {
            let r = e.issue_card(&app.point, app.id, "R0-000000", &present, true, temp_out);
            self.note(CommandKind::IssueCard, r)?;
        }
        let renewal = app.kind.is_renewal();
        let forgot_old = renewal && rng.random_bool(0.03);
        let forgot_temp = temp_out && rng.random_bool(0.1);
        let r = e.issue_card(
            &app.point,
            app.id,
            &app.receipt,
            &present,
            !forgot_old,
            temp_out && !forgot_temp,
        );
        match self.note(CommandKind::IssueCard, r)? {
            Some(new_card) => {
                if let Some(old) = f.card() {
                    self.bank.changed(old);
                }
                f.set_card(Some(new_card));
                f.card_fp = app.fingerprints;
                f.lost = false;
                f.app = None;
                // A temporary card still out was handed back at the point (T5).
                if temp_out {
                    f.temp = None;
                }
            }
            None if forgot_old || forgot_temp => next.push((1, Job::Issue)),
            None => {}
        }
        Ok(next)
    }

    /// The bureau extends the deadline for a remote area (A4).
    fn extend_deadline(
        &self,
        f: &mut Folk,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let e = self.engine;
        let Some(app) = f.app.clone() else {
            return Ok(Vec::new());
        };
        let reason = "remote area with poor transport";
        if rng.random_bool(0.1) {
            let r = e.extend_deadline(&app.bureau, app.id, 45, reason);
            self.note(CommandKind::ExtendDeadline, r)?;
        }
        let r = e.extend_deadline(&app.bureau, app.id, 15, reason);
        self.note(CommandKind::ExtendDeadline, r)?;
        Ok(Vec::new())
    }

    /// Apply for a temporary card at home, a guardian for under-16s (T1-T3).
    fn temp_card_apply(
        &self,
        who: usize,
        f: &mut Folk,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        if f.app.is_none() || f.dead {
            return Ok(next);
        }
        let station = local(f.hukou, "HR");
        let age = f.number.age_on(self.today).unwrap_or(0);
        let guardian = (age < 16).then(|| {
            let g = self.adults[rng.random_range(0..self.adults.len())] as usize;
            self.number_of(g, who)
        });
        let present = match guardian {
            Some(g) => InPerson::holder(g),
            None => f.present(),
        };
        let complete = TempCardMaterials::COMPLETE;
        if f.migrant && guardian.is_none() && rng.random_bool(0.1) {
            // Tries where they live and work, not at home (T2).
            let r = e.apply_temporary_card(
                &provincial(f.work, "HR"),
                f.number,
                &present,
                None,
                complete,
            );
            self.note(CommandKind::ApplyTemporaryCard, r)?;
        }
        if let Some(g) = guardian.filter(|_| rng.random_bool(0.05)) {
            // The other parent comes, but the form names this guardian (T2).
            let other = InPerson::holder(self.other(who, rng));
            if other.number != g {
                let r = e.apply_temporary_card(&station, f.number, &other, guardian, complete);
                self.note(CommandKind::ApplyTemporaryCard, r)?;
            }
        }
        if guardian.is_some() && rng.random_bool(0.3) {
            // The child comes alone (T2).
            let r = e.apply_temporary_card(
                &station,
                f.number,
                &InPerson::holder(f.number),
                None,
                complete,
            );
            self.note(CommandKind::ApplyTemporaryCard, r)?;
        }
        if rng.random_bool(0.05) {
            let partial = TempCardMaterials {
                photo: false,
                ..complete
            };
            let r = e.apply_temporary_card(&station, f.number, &present, guardian, partial);
            self.note(CommandKind::ApplyTemporaryCard, r)?;
        }
        let r = e.apply_temporary_card(&station, f.number, &present, guardian, complete);
        if let Some(t) = self.note(CommandKind::ApplyTemporaryCard, r)? {
            f.temp = Some(Box::new((t.id, false)));
            next.push((day(rng, 1, 3), Job::TempCardIssue));
        }
        Ok(next)
    }

    /// The bureau issues the temporary card (T3, T4).
    fn temp_card_issue(&self, f: &mut Folk) -> Result<Vec<FollowUp>, EngineError> {
        let e = self.engine;
        if let Some(&(id, false)) = f.temp.as_deref() {
            let r = e.issue_temporary_card(&local(f.hukou, "PSB"), id);
            if self.note(CommandKind::IssueTemporaryCard, r)?.is_some() {
                f.temp = Some(Box::new((id, true)));
            }
        }
        Ok(Vec::new())
    }

    /// The temporary card is handed back at home (T5).
    fn temp_card_return(&self, f: &mut Folk) -> Result<Vec<FollowUp>, EngineError> {
        let e = self.engine;
        if let Some(&(id, true)) = f.temp.as_deref() {
            let r = e.return_temporary_card(&local(f.hukou, "HR"), id);
            if self.note(CommandKind::ReturnTemporaryCard, r)?.is_some() {
                f.temp = None;
            }
        }
        Ok(Vec::new())
    }

    /// Someone hands the lost card in at a lost-and-found window (F1, F2).
    fn hand_in_found(
        &self,
        rng: &mut ChaCha8Rng,
        card: CardKey,
        province: u8,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        let window = provincial(province, "LF");
        let finder = rng.random_bool(0.5).then_some("a passer-by");
        if let Some(outcome) = self.note(
            CommandKind::IntakeFoundCard,
            e.intake_found(&window, card, finder),
        )? {
            match outcome {
                idcard::workflow::found::IntakeOutcome::Destroyed => {
                    self.tally.found_destroyed.fetch_add(1, Ordering::Relaxed);
                }
                idcard::workflow::found::IntakeOutcome::Held { notified } => {
                    // Told by phone, or finds it by querying (F1).
                    if notified.is_some() || rng.random_bool(0.5) {
                        next.push((day(rng, 1, 5), Job::FoundCollect { card, window }));
                    }
                }
            }
        }
        Ok(next)
    }

    /// The owner collects the found card, identity checked and photographed (F2).
    fn collect_found(
        &self,
        who: usize,
        f: &mut Folk,
        rng: &mut ChaCha8Rng,
        card: CardKey,
        window: Actor,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let e = self.engine;
        if rng.random_bool(0.02) {
            let other = InPerson::holder(self.other(who, rng));
            let r = e.return_found(&window, card, &other, "IMG-claimant");
            self.note(CommandKind::ReturnFoundCard, r)?;
        }
        if rng.random_bool(0.02) {
            // The officer skips the claimant's photograph (F2).
            let r = e.return_found(&window, card, &f.present(), "");
            self.note(CommandKind::ReturnFoundCard, r)?;
        }
        let photo = format!("IMG-{}-{}", self.today.format("%Y%m%d"), f.number);
        let r = e.return_found(&window, card, &f.present(), &photo);
        if self.note(CommandKind::ReturnFoundCard, r)?.is_some() && f.card() == Some(card) {
            f.lost = false;
            self.bank.changed(card);
            if rng.random_bool(0.05) {
                // Also goes to withdraw the loss report; returning the card did (F2).
                let r = e.cancel_loss(&f.loss_station(), CardRef::card(card), &f.present());
                self.note(CommandKind::CancelLoss, r)?;
            }
        }
        Ok(Vec::new())
    }

    /// Someone presents the lost card at a bank counter; the bank checks and reports (L3, L4).
    fn impostor(
        &self,
        rng: &mut ChaCha8Rng,
        card: CardKey,
        province: u8,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        // A bank counter checks the card against its verifier (L3, L4).
        let status = self.bank.verifier().verify(card);
        if matches!(status, CardStatus::Lost | CardStatus::Stolen) {
            self.tally.impostors_caught.fetch_add(1, Ordering::Relaxed);
            let unit = provincial(province, "BANK");
            let note = "card reported lost presented at the counter by someone else";
            if let Some(hit) = self.note(CommandKind::ReportHit, e.report_hit(&unit, card, note))? {
                let station = actor(hit.routed_to.as_str());
                next.push((
                    day(rng, 1, 2),
                    Job::AckHit {
                        hit: hit.id,
                        station,
                    },
                ));
            }
        } else if matches!(
            self.engine.with_state(|s| s.cards.status(card)),
            Ok(CardStatus::Lost | CardStatus::Stolen)
        ) {
            // Lost in the record but not yet at the bank: a miss.
            self.tally.impostors_missed.fetch_add(1, Ordering::Relaxed);
        } else {
            // Found, returned or withdrawn since: the card is good again.
            self.tally
                .impostors_card_valid_again
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(next)
    }

    /// The police station follows up a hit report (L4).
    fn acknowledge_hit(&self, hit: u64, station: Actor) -> Result<Vec<FollowUp>, EngineError> {
        let e = self.engine;
        let r = e.acknowledge_hit(&station, hit, "followed up with the unit");
        self.note(CommandKind::AcknowledgeHit, r)?;
        Ok(Vec::new())
    }

    /// A traveller without their card asks for a temporary certificate (A8).
    fn temp_certificate(
        &self,
        f: &mut Folk,
        rng: &mut ChaCha8Rng,
        province: u8,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        let missing = if f.lost {
            MissingCard::Lost
        } else if rng.random_bool(0.1) {
            MissingCard::Stolen
        } else {
            MissingCard::Forgotten
        };
        let date = (self.today + chrono::Days::new(1)).format("%Y-%m-%d");
        let (station, trip) = match rng.random_range(0..20) {
            0..12 => (
                provincial(province, "AIR"),
                Trip::Flight(format!("CA{} {date}", rng.random_range(1000..9999))),
            ),
            12..17 => (
                provincial(province, "RAIL"),
                Trip::Train(format!("G{} {date}", rng.random_range(1..999))),
            ),
            _ => (
                provincial(province, "HOTEL"),
                Trip::HotelStay(format!("Hotel {} {date}", rng.random_range(1..99))),
            ),
        };
        if rng.random_bool(0.01) {
            let r = e.issue_temporary_certificate(
                &station,
                f.number,
                missing,
                Trip::Flight(String::new()),
            );
            self.note(CommandKind::IssueTemporaryCertificate, r)?;
        }
        let reference = trip.reference().to_string();
        let r = e.issue_temporary_certificate(&station, f.number, missing, trip);
        if let Some(cert) = self.note(CommandKind::IssueTemporaryCertificate, r)? {
            let use_job = |twice| Job::UseCert {
                id: cert.id,
                trip: reference.clone(),
                station: station.clone(),
                twice,
            };
            match rng.random_range(0..100) {
                0..85 => next.push((1, use_job(rng.random_bool(0.02)))),
                85..88 => next.push((3, use_job(false))),
                _ => {}
            }
        }
        Ok(next)
    }

    /// The certificate is shown at boarding or check-in (A8).
    fn use_certificate(
        &self,
        f: &mut Folk,
        id: u64,
        trip: String,
        station: Actor,
        twice: bool,
    ) -> Result<Vec<FollowUp>, EngineError> {
        let e = self.engine;
        for _ in 0..if twice { 2 } else { 1 } {
            let r = e.use_temporary_certificate(&station, id, f.number, &trip);
            self.note(CommandKind::UseTemporaryCertificate, r)?;
        }
        Ok(Vec::new())
    }

    /// A death is recorded (A10).
    fn death(&self, f: &mut Folk, rng: &mut ChaCha8Rng) -> Result<Vec<FollowUp>, EngineError> {
        let mut next = Vec::new();
        let e = self.engine;
        if !f.dead {
            let bureau = local(f.hukou, "PSB");
            if self
                .note(CommandKind::RecordDeath, e.record_death(&bureau, f.number))?
                .is_some()
            {
                f.dead = true;
                if let Some(card) = f.card()
                    && !f.lost
                {
                    // Invalidated now (holder deceased): presented at counters too.
                    self.bank.changed(card);
                }
                if f.card().is_some() && rng.random_bool(0.05) {
                    next.push((day(rng, 3, 20), Job::DeadApplicant));
                }
            }
        }
        Ok(next)
    }

    /// Someone uses a dead person's papers to apply (A10).
    fn dead_applicant(&self, f: &mut Folk) -> Result<Vec<FollowUp>, EngineError> {
        let e = self.engine;
        let point = provincial(f.work, "POINT");
        let req = ApplicationRequest {
            kind: ApplicationKind::Replacement,
            card: CardRef::newest(f.number),
            present: f.present(),
            appearance: Appearance::Matches,
            materials: Materials::complete(ApplicationKind::Replacement),
            fingerprints: false,
            guardian: None,
            hardship_certificate: false,
            unit_application: false,
        };
        self.note(CommandKind::ApplyOffsite, e.apply_offsite(&point, &req))?;
        Ok(Vec::new())
    }

    /// Someone who never had a card applies off-site (A9: refused), then applies for a first
    /// card at home.
    fn first_timer(&self, f: &mut Folk) -> Result<Vec<FollowUp>, EngineError> {
        let first_at_home = (
            1,
            Job::Apply {
                kind: ApplicationKind::FirstApplication,
            },
        );
        if !f.migrant {
            return Ok(vec![first_at_home]);
        }
        let e = self.engine;
        let point = provincial(f.work, "POINT");
        let req = ApplicationRequest {
            kind: ApplicationKind::Renewal,
            card: CardRef::newest(f.number),
            present: f.present(),
            appearance: Appearance::Matches,
            materials: Materials::complete(ApplicationKind::Renewal),
            fingerprints: false,
            guardian: None,
            hardship_certificate: false,
            unit_application: false,
        };
        self.note(CommandKind::ApplyOffsite, e.apply_offsite(&point, &req))?;
        Ok(vec![first_at_home])
    }

    /// Someone other than `who`.
    fn other(&self, who: usize, rng: &mut ChaCha8Rng) -> IdNumber {
        let i = rng.random_range(0..self.numbers.len());
        self.number_of(i, who)
    }

    /// The number of person `i`, or of the next one when `i` is `who`.
    fn number_of(&self, i: usize, who: usize) -> IdNumber {
        let i = if i == who {
            (i + 1) % self.numbers.len()
        } else {
            i
        };
        if i == who {
            // A world of one: present a number nobody has.
            return IdNumber::parse("11010519491231002X").expect("valid");
        }
        self.numbers[i]
    }

    /// The window holding a card, if it is held.
    fn held_at(&self, card: Option<CardKey>) -> Option<Actor> {
        let card = card?;
        self.engine.with_state(|s| {
            s.found
                .get(&card)
                .filter(|f| f.outcome == idcard::model::FoundOutcome::Held)
                .map(|f| actor(f.window.as_str()))
        })
    }
}

/// The province index of a division.
pub fn province_of(code: DivisionCode) -> usize {
    PROVINCES
        .iter()
        .position(|(n, _, _)| *n as u32 == code.get() / 10_000)
        .unwrap_or(0)
}

/// A follow-up's delay: `lo..=hi` days.
fn day(rng: &mut ChaCha8Rng, lo: u32, hi: u32) -> u32 {
    rng.random_range(lo..=hi)
}

#[cfg(test)]
mod size {
    /// Issue 19: the demo follows ten million people in memory; each costs this much while
    /// the days run (it was 72 bytes with the card and the temporary card as `Option`s).
    #[test]
    fn a_person_followed_costs_56_bytes() {
        assert_eq!(std::mem::size_of::<std::sync::Mutex<super::Folk>>(), 56);
    }
}
