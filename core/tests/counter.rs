//! The counter's daily work (issue 16): applications at home as well as off-site, one valid card
//! per person, expiry at the verifier, numbers that are not citizens', servicemen (L5) and
//! overdue applications (A4). The property test at the end drives random command sequences and
//! checks, after every step, that a living person never holds two valid cards — in the record,
//! at the live verifier, and at a verifier fed the published deltas.

mod common;

use chrono::NaiveDate;
use common::*;
use idcard::engine::{CardRef, Clock, EngineError, InPerson};
use idcard::index::{CardStatus, Profile, Verifier, VerifierOptions};
use idcard::model::{CardRegistration, Place};
use idcard::population::{Person, PersonCategory};
use idcard::station::{Actor, StationKind};
use idcard::workflow::Commands;
use idcard::workflow::loss::LossRequest;
use idcard::workflow::offsite::{
    ApplicationKind, ApplicationRequest, EscalateOverdue, FeeRelief, Materials,
};
use idcard::workflow::registry::RecordGuardians;
use idcard::{CardKey, DivisionCode, IdNumber, ValidityPeriod};

fn person(number: IdNumber, hukou: u32) -> Person {
    Person {
        number,
        name: "p".into(),
        hukou_division: DivisionCode::new(hukou).unwrap(),
        category: PersonCategory::Civilian,
        fingerprint: None,
        contact: None,
        deceased: false,
        fee_exempt: false,
    }
}

fn valid_cards(w: &World, n: IdNumber) -> Vec<CardKey> {
    w.engine.with_state(|s| {
        s.cards
            .of(n)
            .unwrap()
            .into_iter()
            .filter(|c| c.status == CardStatus::Valid)
            .map(|c| c.key)
            .collect()
    })
}

fn loss(card: CardKey) -> LossRequest {
    LossRequest {
        card: CardRef::card(card),
        stolen: false,
        present: InPerson::holder(card.number()),
    }
}

/// Review, produce and issue an application at `point`, the hukou bureau `bureau` signing off.
fn complete(w: &World, point: &Actor, bureau: &Actor, id: u64, old_returned: bool) -> CardKey {
    w.engine.review_application(bureau, id, true, "ok").unwrap();
    w.clock.advance(chrono::Duration::days(1));
    w.engine.produce_card(point, id).unwrap();
    let (receipt, number) = w.engine.with_state(|s| {
        let a = &s.applications[&id];
        (a.pickup_receipt.clone(), a.number)
    });
    w.engine
        .issue_card(
            point,
            id,
            &receipt,
            &InPerson::holder(number),
            old_returned,
            false,
        )
        .unwrap()
}

/// The sequence review found: report card A lost, apply off-site for a replacement, withdraw the
/// loss report while the application is open, review, produce, issue. The withdrawal is refused
/// (and so is returning the card from a lost-and-found window); the new card is the only valid
/// one, at the record and at a bank.
#[test]
fn l1_a4_f2_the_two_valid_cards_sequence_leaves_one_valid_card() {
    let dir = tempfile::tempdir().unwrap();
    let w = world_with(dir.path(), |mut o| {
        o.live_verifier = Some(Profile::Bank);
        o
    });
    let gz_bureau = w.station(StationKind::CountyBureau, 440106);
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    let window = w.actor(StationKind::LostAndFoundWindow).clone();
    // Bob (hukou Guangzhou) lives in Beijing: he reports card A lost there and applies off-site.
    w.engine.report_loss(&hr, &loss(w.bob_card)).unwrap();
    let app = w
        .engine
        .apply_offsite(
            &point,
            &ApplicationRequest::new(ApplicationKind::Replacement, CardRef::card(w.bob_card)),
        )
        .unwrap();
    assert_eq!(app.place, Place::Offsite);
    assert_eq!(
        refused(
            w.engine
                .cancel_loss(&hr, CardRef::card(w.bob_card), &InPerson::holder(w.bob))
        ),
        "replacement_in_progress"
    );
    // Found and handed in meanwhile: held, but not returned while the replacement runs.
    w.engine.intake_found(&window, w.bob_card, None).unwrap();
    assert_eq!(
        refused(
            w.engine
                .return_found(&window, w.bob_card, &InPerson::holder(w.bob), "photo-1")
        ),
        "replacement_in_progress"
    );
    let new = complete(&w, &point, &gz_bureau, app.id, false);
    assert_eq!(valid_cards(&w, w.bob), [new]);
    let v = w.engine.live_verifier().unwrap();
    assert_eq!(v.verify(w.bob_card), CardStatus::Lost);
    assert_eq!(v.verify(new), CardStatus::Valid);
    // The held card was destroyed at issue (F2).
    assert!(w.engine.with_state(|s| s.found.held(w.bob_card).is_none()));
}

/// Issuing a card supersedes every other valid card of the person, and importing a person's
/// cards leaves only the newest valid.
#[test]
fn a4_n4_issuing_or_importing_a_card_leaves_one_valid_card() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let p = number("11010519800101011");
    w.engine
        .register_people(&w.bureau, vec![person(p, 110105)])
        .unwrap();
    let card = |y| CardRegistration {
        key: CardKey::new(p, date(y, 1, 1)).unwrap(),
        period: ValidityPeriod::TwentyYears,
        fingerprints: false,
    };
    // Two cards in one import: the older is superseded.
    w.engine
        .register_cards(&w.bureau, vec![card(2005), card(2015)])
        .unwrap();
    assert_eq!(valid_cards(&w, p), [card(2015).key]);
    // An older one imported later: registered, superseded at once.
    w.engine
        .register_cards(&w.bureau, vec![card(2000)])
        .unwrap();
    assert_eq!(valid_cards(&w, p), [card(2015).key]);
    // A newer one: the 2015 card is superseded.
    w.engine
        .register_cards(&w.bureau, vec![card(2020)])
        .unwrap();
    assert_eq!(valid_cards(&w, p), [card(2020).key]);
    w.engine.with_state(|s| {
        assert_eq!(
            s.cards.get(card(2015).key).unwrap().unwrap().status,
            CardStatus::Superseded
        );
    });
}

/// L1 "then replacement", A9, law art. 7-11: first applications, renewals and replacements at
/// the household registration place, through the same review, production and pickup.
#[test]
fn a9_l1_first_application_renewal_and_replacement_at_home() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    // A 16-year-old's first card: at home, in person; never off-site.
    let teen = number("11010520090601001");
    w.engine
        .register_people(&w.bureau, vec![person(teen, 110105)])
        .unwrap();
    let first = ApplicationRequest::new(ApplicationKind::FirstApplication, CardRef::newest(teen));
    let gz_point = w.station(StationKind::OffsiteAcceptancePoint, 440106);
    assert_eq!(
        refused(w.engine.apply_offsite(&gz_point, &first)),
        "first_time_applicant"
    );
    // An acceptance point in one's own county works as a hall: Bob (hukou Guangzhou) renews
    // at a Guangzhou point at home.
    w.station(StationKind::CountyBureau, 440106);
    let bob = w
        .engine
        .apply_offsite(
            &gz_point,
            &ApplicationRequest::new(ApplicationKind::Renewal, CardRef::newest(w.bob)),
        )
        .unwrap();
    assert_eq!(bob.place, Place::Home);
    let mut no_booklet = first.clone();
    no_booklet.materials = Materials {
        household_booklet: false,
        ..Materials::complete(ApplicationKind::FirstApplication)
    };
    let err = w.engine.apply_offsite(&hr, &no_booklet).unwrap_err();
    assert!(
        err.refusal()
            .unwrap()
            .message
            .contains("household register booklet"),
        "{err}"
    );
    let app = w.engine.apply_offsite(&hr, &first).unwrap();
    assert_eq!(
        (
            app.place,
            app.old_card,
            app.period,
            app.fee_fen,
            app.fee_relief
        ),
        (
            Place::Home,
            None,
            ValidityPeriod::TenYears,
            0,
            FeeRelief::FirstApplicationFree
        )
    );
    let new = complete(&w, &hr, &w.bureau, app.id, false);
    assert_eq!(valid_cards(&w, teen), [new]);
    // A second first application: the register knows a card.
    assert_eq!(refused(w.engine.apply_offsite(&hr, &first)), "has_card");
    // Renewal at home: the old card is handed back and superseded.
    let mut renewal = ApplicationRequest::new(ApplicationKind::Renewal, CardRef::newest(w.alice));
    renewal.present = InPerson::holder(w.alice).with_fingerprint("alice-fp");
    renewal.hardship_certificate = true;
    let app = w.engine.apply_offsite(&hr, &renewal).unwrap();
    assert_eq!((app.fee_fen, app.fee_relief), (1000, FeeRelief::Reduced));
    let new = complete(&w, &hr, &w.bureau, app.id, true);
    assert_eq!(valid_cards(&w, w.alice), [new]);
    // A loss reported at home, then the replacement there (L1).
    w.engine.report_loss(&hr, &loss(w.dan_card)).unwrap();
    let app = w
        .engine
        .apply_offsite(
            &hr,
            &ApplicationRequest::new(ApplicationKind::Replacement, CardRef::newest(w.dan)),
        )
        .unwrap();
    assert_eq!((app.place, app.fee_fen), (Place::Home, 4000));
    let new = complete(&w, &hr, &w.bureau, app.id, false);
    assert_eq!(valid_cards(&w, w.dan), [new]);
    // Bob's household is in Guangzhou: a Beijing station is not his home, and only an
    // acceptance point takes him off-site.
    assert_eq!(
        refused(w.engine.apply_offsite(
            &hr,
            &ApplicationRequest::new(ApplicationKind::Renewal, CardRef::newest(w.bob))
        )),
        "not_hukou_place"
    );
    // A change of particulars is made at home only.
    assert_eq!(
        refused(w.engine.apply_offsite(
            &point,
            &ApplicationRequest::new(ApplicationKind::ParticularsChanged, CardRef::newest(w.bob))
        )),
        "not_offsite_kind"
    );
}

/// Law art. 7, T2: an under-16 applies through a guardian on record, not through any adult who
/// names themself.
#[test]
fn t2_under_16s_apply_through_a_guardian_on_record() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let child = number("11010520150601002");
    w.engine
        .register_people(&w.bureau, vec![person(child, 110105)])
        .unwrap();
    let mut req =
        ApplicationRequest::new(ApplicationKind::FirstApplication, CardRef::newest(child));
    req.present = InPerson::holder(w.dan);
    req.guardian = Some(w.dan);
    assert_eq!(
        refused(w.engine.apply_offsite(&hr, &req)),
        "not_the_guardian"
    );
    req.guardian = None;
    assert_eq!(refused(w.engine.apply_offsite(&hr, &req)), "not_the_holder");
    w.engine
        .execute(&w.bureau, &RecordGuardians(vec![(child, w.alice)]))
        .unwrap();
    req.present = InPerson::holder(w.alice);
    req.guardian = Some(w.alice);
    let app = w.engine.apply_offsite(&hr, &req).unwrap();
    assert_eq!(
        (app.guardian, app.period),
        (Some(w.alice), ValidityPeriod::FiveYears)
    );
    // A guardian must be of age.
    assert_eq!(
        refused(
            w.engine
                .execute(&w.bureau, &RecordGuardians(vec![(w.alice, child)]))
        ),
        "guardian_minor"
    );
    // The temporary card follows the application at home (T1, T2).
    let t = w
        .engine
        .apply_temporary_card(
            &hr,
            child,
            &InPerson::holder(w.alice),
            Some(w.alice),
            idcard::workflow::temporary::TempCardMaterials::COMPLETE,
        )
        .unwrap();
    assert_eq!(t.number, child);
}

/// L5: an active serviceman's or armed policeman's card is applied for by their unit at the
/// county bureau of their fixed address, never off-site; the category is read (a civilian's
/// "unit application" is refused, a serviceman off-site is refused).
#[test]
fn l5_servicemen_apply_through_their_unit_never_offsite() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let gz_point = w.station(StationKind::OffsiteAcceptancePoint, 440106);
    let renewal = ApplicationRequest::new(ApplicationKind::Renewal, CardRef::newest(w.dan));
    assert_eq!(
        refused(w.engine.apply_offsite(&gz_point, &renewal)),
        "serviceman_applies_through_unit"
    );
    // Bob, a civilian, may apply there.
    assert!(
        w.engine
            .apply_offsite(
                &gz_point,
                &ApplicationRequest::new(ApplicationKind::Renewal, CardRef::newest(w.alice))
            )
            .is_err_and(|e| e
                .refusal()
                .is_some_and(|r| r.code == "fingerprint_required"))
    );
    // The unit files it: Dan need not be present, the unit's papers stand for the booklet.
    let mut by_unit = renewal.clone();
    by_unit.unit_application = true;
    by_unit.present = InPerson::holder(w.alice);
    by_unit.materials.household_booklet = false;
    let app = w.engine.apply_offsite(&hr, &by_unit).unwrap();
    assert_eq!(app.place, Place::Home);
    let mut civilian = ApplicationRequest::new(ApplicationKind::Renewal, CardRef::newest(w.alice));
    civilian.unit_application = true;
    assert_eq!(
        refused(w.engine.apply_offsite(&hr, &civilian)),
        "not_a_serviceman"
    );
}

/// A4: an application past its deadline is escalated once to the bureau that reviews it, and
/// is on that bureau's list until it is closed.
#[test]
fn a4_overdue_applications_are_escalated_to_the_reviewing_bureau() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let mut renewal = ApplicationRequest::new(ApplicationKind::Renewal, CardRef::newest(w.alice));
    renewal.present = InPerson::holder(w.alice).with_fingerprint("alice-fp");
    let app = w.engine.apply_offsite(&hr, &renewal).unwrap();
    let gz_bureau = w.station(StationKind::CountyBureau, 440106);
    assert_eq!(
        w.engine.execute(&w.bureau, &EscalateOverdue).unwrap(),
        Vec::<u64>::new()
    );
    w.clock.advance(chrono::Duration::days(61));
    assert_eq!(
        w.engine.execute(&gz_bureau, &EscalateOverdue).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        w.engine.execute(&w.bureau, &EscalateOverdue).unwrap(),
        [app.id]
    );
    assert_eq!(
        w.engine.execute(&w.bureau, &EscalateOverdue).unwrap(),
        Vec::<u64>::new()
    );
    let list = w
        .engine
        .with_state(|s| idcard::model::view::escalated_applications(s, &w.bureau.station));
    assert_eq!(list.len(), 1);
    assert!(list[0].escalated);
    complete(&w, &hr, &w.bureau, app.id, true);
    let list = w
        .engine
        .with_state(|s| idcard::model::view::escalated_applications(s, &w.bureau.station));
    assert!(list.is_empty());
}

/// N5: a card past its validity end answers `expired` (the period of the age at its start);
/// long-term cards never expire; first-generation cards expired on 2013-01-01; a listed card
/// answers its listing.
#[test]
fn n5_cards_past_their_validity_end_answer_expired() {
    let dir = tempfile::tempdir().unwrap();
    let w = world_with(dir.path(), |mut o| {
        o.live_verifier = Some(Profile::Bank);
        o
    });
    let young = number("11010519900101013"); // 20 at 2010-01-01: ten years
    let old = number("11010519500101015"); // 60 at 2010-01-01: long-term
    w.engine
        .register_people(&w.bureau, vec![person(young, 110105), person(old, 110105)])
        .unwrap();
    let k = |n, y| CardKey::new(n, date(y, 1, 1)).unwrap();
    let v = w.engine.live_verifier().unwrap();
    assert_eq!(k(young, 2010).valid_until(), Some(date(2020, 1, 1)));
    assert_eq!(v.verify(k(young, 2010)), CardStatus::Expired);
    assert_eq!(
        v.verify_on(k(young, 2010), date(2020, 1, 1)),
        CardStatus::Valid
    );
    assert_eq!(
        v.verify_on(k(young, 2010), date(2020, 1, 2)),
        CardStatus::Expired
    );
    assert_eq!(v.verify(k(old, 2010)), CardStatus::Valid);
    // First generation (valid from before 2004): invalid from 2013-01-01, even long-term.
    assert_eq!(v.verify(k(old, 2000)), CardStatus::Expired);
    assert_eq!(
        v.verify_on(k(old, 2000), date(2012, 12, 31)),
        CardStatus::Valid
    );
    // A listed card answers its listing, expired or not.
    w.engine
        .register_cards(
            &w.bureau,
            vec![CardRegistration {
                key: k(young, 2010),
                period: ValidityPeriod::TenYears,
                fingerprints: false,
            }],
        )
        .unwrap();
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    w.engine.report_loss(&hr, &loss(k(young, 2010))).unwrap();
    assert_eq!(v.verify(k(young, 2010)), CardStatus::Lost);
    // Text input too, with the date as the card prints it.
    assert_eq!(
        v.verify_number(young.to_string().as_bytes(), date(2012, 6, 1)),
        CardStatus::Expired
    );
}

/// N1: numbers that are not citizens' — a foreign permanent resident's, a Hong Kong resident's
/// residence permit — are their own kinds: the household and card registers refuse them, and the
/// verifier answers `invalid_number` (no resident identity card has such a number).
#[test]
fn n1_numbers_of_other_kinds_are_not_citizens() {
    let dir = tempfile::tempdir().unwrap();
    let w = world_with(dir.path(), |mut o| {
        o.live_verifier = Some(Profile::Bank);
        o
    });
    for s in ["932682198501010017", "810000199408230021"] {
        let n: IdNumber = s.parse().unwrap();
        assert_eq!(
            refused(
                w.engine
                    .register_people(&w.ministry, vec![person(n, 110105)])
            ),
            "not_a_citizen"
        );
        assert_eq!(
            w.engine
                .live_verifier()
                .unwrap()
                .verify_number(s.as_bytes(), date(2024, 1, 1)),
            CardStatus::InvalidNumber
        );
        // By key too (a key can be formed from any number).
        let key = CardKey::new(n, date(2024, 1, 1)).unwrap();
        assert_eq!(
            w.engine.live_verifier().unwrap().verify(key),
            CardStatus::InvalidNumber
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The property: at most one valid card per living person, after every step.

#[derive(Clone, Debug)]
enum Op {
    ReportLoss {
        card: usize,
        stolen: bool,
    },
    CancelLoss {
        card: usize,
    },
    Apply {
        kind: usize,
        offsite: bool,
        card: usize,
    },
    Review {
        approve: bool,
    },
    Produce,
    Issue {
        old_returned: bool,
    },
    /// Review (approve), produce and issue the open application, each step if it can.
    Complete {
        old_returned: bool,
    },
    IntakeFound {
        card: usize,
    },
    ReturnFound {
        card: usize,
    },
    ImportCard {
        years_ago: u32,
    },
    Advance {
        days: u32,
    },
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..3usize, any::<bool>()).prop_map(|(card, stolen)| Op::ReportLoss { card, stolen }),
        (0..3usize).prop_map(|card| Op::CancelLoss { card }),
        (0..3usize, any::<bool>(), 0..3usize).prop_map(|(kind, offsite, card)| Op::Apply {
            kind,
            offsite,
            card
        }),
        any::<bool>().prop_map(|approve| Op::Review { approve }),
        Just(Op::Produce),
        any::<bool>().prop_map(|old_returned| Op::Issue { old_returned }),
        any::<bool>().prop_map(|old_returned| Op::Complete { old_returned }),
        any::<bool>().prop_map(|old_returned| Op::Complete { old_returned }),
        (0..3usize).prop_map(|card| Op::IntakeFound { card }),
        (0..3usize).prop_map(|card| Op::ReturnFound { card }),
        (1..12u32).prop_map(|years_ago| Op::ImportCard { years_ago }),
        (1..40u32).prop_map(|days| Op::Advance { days }),
    ]
}

struct Harness {
    w: World,
    point: Actor,
    hr: Actor,
    window: Actor,
    next: u32,
    dir: tempfile::TempDir,
    files: Verifier,
    published: Vec<IdNumber>,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let w = world_with(&dir.path().join("data"), |mut o| {
            o.live_verifier = Some(Profile::Bank);
            o.journal.sync = false;
            o
        });
        let point = w.station(StationKind::OffsiteAcceptancePoint, 440106);
        let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
        let window = w.actor(StationKind::LostAndFoundWindow).clone();
        let base = dir.path().join("bank.idcs");
        w.engine
            .publish_snapshot(&w.ministry, Profile::Bank, &base)
            .unwrap();
        let files = Verifier::open_with(&base, VerifierOptions::unsigned()).unwrap();
        Harness {
            w,
            point,
            hr,
            window,
            next: 0,
            dir,
            files,
            published: Vec::new(),
        }
    }

    /// A new person of Chaoyang with one card, valid from a recent date (not expired).
    fn person(&mut self) -> IdNumber {
        self.next += 1;
        let birth = date(1975, 1, 1) + chrono::Days::new(u64::from(self.next / 900));
        let n = IdNumber::from_parts(
            DivisionCode::new(110105).unwrap(),
            birth,
            (self.next % 900) as u16 + 50,
        )
        .unwrap();
        let e = &self.w.engine;
        e.register_people(&self.w.bureau, vec![person(n, 110105)])
            .unwrap();
        e.register_cards(
            &self.w.bureau,
            vec![CardRegistration {
                key: CardKey::new(n, self.today() - chrono::Days::new(400)).unwrap(),
                period: ValidityPeriod::TwentyYears,
                fingerprints: false,
            }],
        )
        .unwrap();
        n
    }

    fn today(&self) -> NaiveDate {
        idcard::time::china_date(self.w.clock.now())
    }

    fn cards(&self, n: IdNumber) -> Vec<CardKey> {
        self.w
            .engine
            .with_state(|s| s.cards.of(n).unwrap().into_iter().map(|c| c.key).collect())
    }

    fn open_application(&self, n: IdNumber) -> Option<u64> {
        self.w
            .engine
            .with_state(|s| s.applications.open_of(n).map(|a| a.id))
    }

    fn run(&self, n: IdNumber, op: &Op) -> Result<(), EngineError> {
        let nothing_open = |command| {
            Err(EngineError::Refused(idcard::engine::Refusal {
                command,
                code: "test_no_open_application",
                message: String::new(),
            }))
        };
        let e = &self.w.engine;
        let cards = self.cards(n);
        let pick = |i: usize| cards[i % cards.len()];
        let holder = InPerson::holder(n);
        match *op {
            Op::ReportLoss { card, stolen } => e
                .report_loss(
                    &self.hr,
                    &LossRequest {
                        card: CardRef::card(pick(card)),
                        stolen,
                        present: holder,
                    },
                )
                .map(drop),
            Op::CancelLoss { card } => e
                .cancel_loss(&self.hr, CardRef::card(pick(card)), &holder)
                .map(drop),
            Op::Apply {
                kind,
                offsite,
                card,
            } => {
                let kind = [
                    ApplicationKind::Renewal,
                    ApplicationKind::Replacement,
                    ApplicationKind::DamagedRenewal,
                ][kind];
                let at = if offsite { &self.point } else { &self.hr };
                e.apply_offsite(
                    at,
                    &ApplicationRequest::new(kind, CardRef::card(pick(card))),
                )
                .map(drop)
            }
            Op::Review { approve } => match self.open_application(n) {
                Some(id) => e.review_application(&self.w.bureau, id, approve, "r"),
                None => nothing_open(idcard::station::CommandKind::ReviewApplication),
            },
            Op::Produce => match self.open_application(n) {
                Some(id) => {
                    let point = self.point_of(id);
                    e.produce_card(point, id).map(drop)
                }
                None => nothing_open(idcard::station::CommandKind::ProduceCard),
            },
            Op::Issue { old_returned } => match self.open_application(n) {
                Some(id) => {
                    let receipt = e.with_state(|s| s.applications[&id].pickup_receipt.clone());
                    e.issue_card(
                        self.point_of(id),
                        id,
                        &receipt,
                        &holder,
                        old_returned,
                        false,
                    )
                    .map(drop)
                }
                None => nothing_open(idcard::station::CommandKind::IssueCard),
            },
            Op::Complete { old_returned } => {
                let _ = self.run(n, &Op::Review { approve: true });
                let _ = self.run(n, &Op::Produce);
                self.run(n, &Op::Issue { old_returned })
            }
            Op::IntakeFound { card } => e.intake_found(&self.window, pick(card), None).map(drop),
            Op::ReturnFound { card } => e.return_found(&self.window, pick(card), &holder, "photo"),
            Op::ImportCard { years_ago } => {
                let from = self.today() - chrono::Days::new(u64::from(years_ago) * 365);
                match CardKey::new(n, from) {
                    Ok(key) => e
                        .register_cards(
                            &self.w.bureau,
                            vec![CardRegistration {
                                key,
                                period: ValidityPeriod::TwentyYears,
                                fingerprints: false,
                            }],
                        )
                        .map(drop),
                    Err(_) => Ok(()),
                }
            }
            Op::Advance { days } => {
                // Never past the real clock: the live verifier refuses files from the future.
                let cap = chrono::Utc::now() - chrono::Duration::days(1);
                let to = self.w.clock.now() + chrono::Duration::days(i64::from(days));
                if to < cap {
                    self.w.clock.set(to);
                }
                Ok(())
            }
        }
    }

    fn point_of(&self, id: u64) -> &Actor {
        let place = self.w.engine.with_state(|s| s.applications[&id].place);
        if place == Place::Home {
            &self.hr
        } else {
            &self.point
        }
    }

    /// At most one valid card of `n`; if one, it is the newest; the live verifier agrees with
    /// the record on every card of `n`.
    fn check(&self, n: IdNumber, step: &str) {
        let (statuses, newest) = self.w.engine.with_state(|s| {
            let list: Vec<(CardKey, CardStatus)> = s
                .cards
                .of(n)
                .unwrap()
                .into_iter()
                .map(|c| (c.key, c.status))
                .collect();
            (list, s.cards.current(n).unwrap().map(|c| c.key))
        });
        let valid: Vec<_> = statuses
            .iter()
            .filter(|(_, st)| *st == CardStatus::Valid)
            .collect();
        assert!(valid.len() <= 1, "{step}: two valid cards {statuses:?}");
        if let Some((k, _)) = valid.first() {
            assert_eq!(Some(*k), newest, "{step}: the valid card is not the newest");
        }
        let live = self.w.engine.live_verifier().unwrap();
        for (k, st) in &statuses {
            let want = if *st == CardStatus::Valid && live.verify(*k) == CardStatus::Expired {
                CardStatus::Expired
            } else {
                *st
            };
            assert_eq!(live.verify(*k), want, "{step}: live verifier on {k:?}");
        }
    }

    /// Publish a delta from the last and apply it to the file verifier; check every person so
    /// far: at most one card answers valid there, the one the record holds valid.
    fn publish_and_check(&mut self) {
        let path = self.dir.path().join("bank-next.idcd");
        self.w
            .engine
            .publish_delta(&self.w.ministry, self.dir.path().join("bank.idcs"), &path)
            .unwrap();
        self.files.apply_delta_file(&path).unwrap();
        for &n in &self.published {
            let cards = self.cards(n);
            let at_bank: Vec<_> = cards
                .iter()
                .filter(|k| self.files.verify(**k) == CardStatus::Valid)
                .collect();
            assert!(
                at_bank.len() <= 1,
                "two valid cards at the bank: {at_bank:?}"
            );
            let in_record: Vec<_> = valid_cards(&self.w, n)
                .into_iter()
                .filter(|k| self.files.verify(*k) != CardStatus::Expired)
                .collect();
            assert_eq!(
                at_bank.into_iter().copied().collect::<Vec<_>>(),
                in_record,
                "the bank and the record disagree"
            );
        }
        self.published.clear();
    }
}

/// After every step of ≥ 10,000 random sequences (`IDCARD_PROPTEST_CASES` sets how many), no
/// living person holds two valid cards — in the record, at the live verifier — and every 200
/// sequences a verifier fed the published delta agrees.
#[test]
fn a4_l1_f2_property_at_most_one_valid_card_per_person() {
    use proptest::test_runner::{Config, TestRunner};
    let cases: u32 = std::env::var("IDCARD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let harness = std::cell::RefCell::new(Harness::new());
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(op(), 1..14);
    let ran = std::cell::Cell::new(0u32);
    let succeeded = std::cell::RefCell::new(std::collections::BTreeMap::<String, u32>::new());
    runner
        .run(&strategy, |ops| {
            let mut h = harness.borrow_mut();
            let n = h.person();
            h.check(n, "registered");
            for (i, op) in ops.iter().enumerate() {
                match h.run(n, op) {
                    Ok(()) => {
                        let name = format!("{op:?}");
                        let name = name.split([' ', '{']).next().unwrap_or("").to_string();
                        *succeeded.borrow_mut().entry(name).or_default() += 1;
                    }
                    Err(EngineError::Refused(_)) => {}
                    Err(e) => panic!("step {i} {op:?}: not a refusal: {e}"),
                }
                h.check(n, &format!("step {i} {op:?}"));
            }
            h.published.push(n);
            ran.set(ran.get() + 1);
            if ran.get().is_multiple_of(200) {
                h.publish_and_check();
            }
            Ok(())
        })
        .unwrap();
    harness.borrow_mut().publish_and_check();
    // The sequences reach every command, not only its refusals.
    let succeeded = succeeded.into_inner();
    eprintln!("commands that succeeded: {succeeded:?}");
    if cases >= 200 {
        for name in [
            "ReportLoss",
            "CancelLoss",
            "Apply",
            "Review",
            "Produce",
            "Issue",
            "IntakeFound",
            "ReturnFound",
            "ImportCard",
        ] {
            assert!(
                succeeded.get(name).is_some_and(|&c| c > 0),
                "{name} never succeeded"
            );
        }
    }
}

/// A10: a death closes the applicant's application (no card is made for the dead), and a card
/// imported for a dead person is registered invalidated; a card already replaced cannot be
/// replaced again (its replacement would supersede the holder's real current card); a
/// guardian who applied for an under-16 collects the card.
#[test]
fn a10_death_closes_applications_replaced_cards_stay_replaced_guardians_collect() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let mut renewal = ApplicationRequest::new(ApplicationKind::Renewal, CardRef::newest(w.alice));
    renewal.present = InPerson::holder(w.alice).with_fingerprint("alice-fp");
    let app = w.engine.apply_offsite(&hr, &renewal).unwrap();
    w.engine
        .review_application(&w.bureau, app.id, true, "ok")
        .unwrap();
    w.engine.record_death(&w.bureau, w.alice).unwrap();
    assert_eq!(refused(w.engine.produce_card(&hr, app.id)), "wrong_state");
    assert!(valid_cards(&w, w.alice).is_empty());
    let late = CardRegistration {
        key: CardKey::new(w.alice, date(2020, 1, 1)).unwrap(),
        period: ValidityPeriod::TwentyYears,
        fingerprints: false,
    };
    w.engine.register_cards(&w.bureau, vec![late]).unwrap();
    assert!(valid_cards(&w, w.alice).is_empty());

    // Dan's card is lost and replaced; the old card cannot be "replaced" again.
    w.engine.report_loss(&hr, &loss(w.dan_card)).unwrap();
    let app = w
        .engine
        .apply_offsite(
            &hr,
            &ApplicationRequest::new(ApplicationKind::Replacement, CardRef::card(w.dan_card)),
        )
        .unwrap();
    let new = complete(&w, &hr, &w.bureau, app.id, false);
    assert_eq!(
        refused(w.engine.apply_offsite(
            &hr,
            &ApplicationRequest::new(ApplicationKind::Replacement, CardRef::card(w.dan_card))
        )),
        "card_replaced"
    );
    assert_eq!(valid_cards(&w, w.dan), [new]);

    // A child's first card, applied for and collected by her guardian.
    let child = number("11010520150601002");
    w.engine
        .register_people(&w.bureau, vec![person(child, 110105)])
        .unwrap();
    w.engine
        .execute(&w.bureau, &RecordGuardians(vec![(child, w.dan)]))
        .unwrap();
    let mut first =
        ApplicationRequest::new(ApplicationKind::FirstApplication, CardRef::newest(child));
    first.present = InPerson::holder(w.dan);
    first.guardian = Some(w.dan);
    let app = w.engine.apply_offsite(&hr, &first).unwrap();
    w.engine
        .review_application(&w.bureau, app.id, true, "ok")
        .unwrap();
    w.clock.advance(chrono::Duration::days(1));
    w.engine.produce_card(&hr, app.id).unwrap();
    assert_eq!(
        refused(w.engine.issue_card(
            &hr,
            app.id,
            &app.pickup_receipt,
            &InPerson::holder(w.bob),
            false,
            false
        )),
        "not_the_holder"
    );
    let card = w
        .engine
        .issue_card(
            &hr,
            app.id,
            &app.pickup_receipt,
            &InPerson::holder(w.dan),
            false,
            false,
        )
        .unwrap();
    assert_eq!(valid_cards(&w, child), [card]);
}
