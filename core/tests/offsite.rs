//! Off-site acceptance and temporary papers (A1-A12, T1-T5, N5, N6).

mod common;

use common::*;
use idcard::engine::{EngineError, InPerson};
use idcard::index::{BlacklistEntry, BlacklistReasons, CardStatus};
use idcard::policy::Policy;
use idcard::station::{Actor, Officer, Station, StationKind};
use idcard::workflow::Commands;
use idcard::workflow::loss::{CardRef, LossRequest};
use idcard::workflow::offsite::{
    Appearance, ApplicationKind, ApplicationRequest, ApplicationState, FeeRelief, Materials,
};
use idcard::workflow::temporary::{
    CertificateCheck, IssueTemporaryCertificate, MissingCard, TempCardMaterials, TempCardState,
    Trip,
};
use idcard::{DivisionCode, ValidityPeriod};

/// The world plus Bob's hukou bureau (Guangzhou 440106) and its officer.
fn setup(dir: &std::path::Path) -> (World, Actor) {
    let w = world(dir);
    w.engine
        .register_station(
            &w.ministry,
            Station {
                id: "GZ-PSB".parse().unwrap(),
                kind: StationKind::CountyBureau,
                division: DivisionCode::new(440106).unwrap(),
                name: "天河分局".into(),
            },
        )
        .unwrap();
    w.engine
        .register_officer(
            &w.ministry,
            Officer {
                id: "G1".parse().unwrap(),
                name: "g".into(),
                station: "GZ-PSB".parse().unwrap(),
                active: true,
                key: Some(common::public_key_of("G1")),
            },
        )
        .unwrap();
    (w, signed("G1", "GZ-PSB"))
}

fn bob_renewal(w: &World) -> ApplicationRequest {
    ApplicationRequest {
        kind: ApplicationKind::Renewal,
        card: CardRef::newest(w.bob),
        present: InPerson::holder(w.bob),
        appearance: Appearance::Matches,
        materials: Materials::complete(ApplicationKind::Renewal),
        fingerprints: true,
        guardian: None,
        hardship_certificate: false,
        unit_application: false,
    }
}

#[test]
fn a1_a4_a11_n5_renewal_from_application_to_issue_supersedes_the_old_card() {
    let dir = tempfile::tempdir().unwrap();
    let (w, gz) = setup(dir.path());
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    let app = w.engine.apply_offsite(&point, &bob_renewal(&w)).unwrap();
    assert_eq!(app.state, ApplicationState::Accepted);
    assert_eq!(
        app.hukou_bureau.as_str(),
        "GZ-PSB",
        "A4: to the hukou-place county bureau"
    );
    assert_eq!(app.fee_fen, 2000, "A7: 20 yuan for a renewal");
    assert_eq!(
        app.deadline,
        app.accepted_on + chrono::Days::new(60),
        "A4: 60 days"
    );
    assert_eq!(app.period, ValidityPeriod::LongTerm, "N5: Bob is 56");
    // Only the hukou-place bureau reviews (A11, S1: outside Chaoyang's jurisdiction);
    // production only after sign-off.
    assert_eq!(
        refused(w.engine.review_application(&w.bureau, app.id, true, "")),
        "outside_jurisdiction"
    );
    assert_eq!(
        refused(w.engine.produce_card(&point, app.id)),
        "wrong_state"
    );
    w.engine
        .review_application(&gz, app.id, true, "identity confirmed")
        .unwrap();
    w.clock.advance(chrono::Duration::days(10));
    let new_card = w.engine.produce_card(&point, app.id).unwrap();
    let receipt = w
        .engine
        .with_state(|s| s.applications[&app.id].pickup_receipt.clone());
    // Collect: the receipt, in person, the old card handed back (A4).
    assert_eq!(
        refused(w.engine.issue_card(
            &point,
            app.id,
            "R0-000000",
            &InPerson::holder(w.bob),
            true,
            false
        )),
        "wrong_receipt"
    );
    assert_eq!(
        refused(w.engine.issue_card(
            &point,
            app.id,
            &receipt,
            &InPerson::holder(w.alice),
            true,
            false
        )),
        "not_the_holder"
    );
    assert_eq!(
        refused(w.engine.issue_card(
            &point,
            app.id,
            &receipt,
            &InPerson::holder(w.bob),
            false,
            false
        )),
        "items_not_returned"
    );
    w.engine
        .issue_card(
            &point,
            app.id,
            &receipt,
            &InPerson::holder(w.bob),
            true,
            false,
        )
        .unwrap();
    w.engine.with_state(|s| {
        assert_eq!(
            s.cards.get(w.bob_card).unwrap().unwrap().status,
            CardStatus::Superseded
        );
        assert_eq!(
            s.cards.get(new_card).unwrap().unwrap().status,
            CardStatus::Valid
        );
        assert!(
            s.cards.get(new_card).unwrap().unwrap().fingerprints,
            "N6: fingerprints registered on the new card"
        );
        assert_eq!(s.cards.current(w.bob).unwrap().unwrap().key, new_card);
        assert_eq!(s.applications[&app.id].state, ApplicationState::Issued);
    });
}

#[test]
fn a3_replacement_checks_loss_and_found_records_and_the_lost_card_stays_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (w, gz) = setup(dir.path());
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    let mut req = bob_renewal(&w);
    req.kind = ApplicationKind::Replacement;
    req.materials = Materials {
        registration_form: true,
        residence_permit: true,
        ..Default::default()
    };
    // The card is with a lost-and-found window: collect it rather than replace it.
    w.engine
        .intake_found(w.actor(StationKind::LostAndFoundWindow), w.bob_card, None)
        .unwrap();
    assert_eq!(refused(w.engine.apply_offsite(&point, &req)), "card_found");
    w.engine
        .return_found(
            w.actor(StationKind::LostAndFoundWindow),
            w.bob_card,
            &InPerson::holder(w.bob),
            "img",
        )
        .unwrap();
    // Not reported lost yet: the acceptance reports it (the loss-report system is checked).
    let app = w.engine.apply_offsite(&point, &req).unwrap();
    assert_eq!(app.fee_fen, 4000, "A7: 40 yuan to replace");
    assert_eq!(
        w.engine
            .with_state(|s| s.cards.get(w.bob_card).unwrap().unwrap().status),
        CardStatus::Lost
    );
    w.engine.review_application(&gz, app.id, true, "").unwrap();
    w.clock.advance(chrono::Duration::days(1));
    let new_card = w.engine.produce_card(&point, app.id).unwrap();
    let receipt = w
        .engine
        .with_state(|s| s.applications[&app.id].pickup_receipt.clone());
    w.engine
        .issue_card(
            &point,
            app.id,
            &receipt,
            &InPerson::holder(w.bob),
            false,
            false,
        )
        .unwrap();
    w.engine.with_state(|s| {
        assert_eq!(
            s.cards.get(w.bob_card).unwrap().unwrap().status,
            CardStatus::Lost,
            "a lost card stays lost"
        );
        assert_eq!(
            s.cards.get(new_card).unwrap().unwrap().status,
            CardStatus::Valid
        );
    });
}

/// Table-driven eligibility: every refusal reason, each with its code.
#[test]
fn a1_a3_a5_a6_a9_a10_a12_every_refusal_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (w, gz) = setup(dir.path());
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    // A person without any card (first-time applicant) and Alice, whose hukou is the point's.
    let eve = number("44010620000101002");
    w.engine
        .register_people(
            &w.ministry,
            vec![idcard::population::Person {
                number: eve,
                name: "Eve".into(),
                hukou_division: DivisionCode::new(440106).unwrap(),
                category: Default::default(),
                fingerprint: None,
                contact: None,
                deceased: false,
                fee_exempt: false,
            }],
        )
        .unwrap();
    let base = bob_renewal(&w);
    type Tweak = fn(&World, &mut ApplicationRequest);
    let cases: Vec<(&str, Tweak)> = vec![
        ("not_the_holder", |w, r| {
            r.present = InPerson::holder(w.alice)
        }),
        ("first_time_applicant", |_, r| {
            let eve = number("44010620000101002");
            r.card = CardRef::newest(eve);
            r.present = InPerson::holder(eve);
        }),
        ("appearance_mismatch", |_, r| {
            r.appearance = Appearance::DoesNotMatch
        }),
        ("appearance_changed_no_fingerprints", |_, r| {
            r.appearance = Appearance::ChangedGreatly
        }),
        ("materials_incomplete", |_, r| {
            r.materials = Materials::default()
        }),
        ("person_deceased", |w, r| {
            r.card = CardRef::newest(w.carl);
            r.present = InPerson::holder(w.carl);
        }),
    ];
    for (want, tweak) in cases {
        let mut r = base.clone();
        tweak(&w, &mut r);
        assert_eq!(refused(w.engine.apply_offsite(&point, &r)), want);
    }
    // Someone registered in the point's own county is not off-site: the point takes the
    // application as the hall of their household registration place (no rollout applies).
    let mut home = base.clone();
    home.card = CardRef::newest(w.alice);
    home.present = InPerson::holder(w.alice).with_fingerprint("alice-fp");
    let app = w.engine.apply_offsite(&point, &home).unwrap();
    assert_eq!(app.place, idcard::model::Place::Home);
    // A3: every missing item at once.
    let mut r = base.clone();
    r.materials = Materials::default();
    match w.engine.apply_offsite(&point, &r) {
        Err(EngineError::Refused(e)) => {
            assert!(
                e.message.contains("registration form") && e.message.contains("current card"),
                "{}",
                e.message
            )
        }
        other => panic!("{other:?}"),
    }
    // A5: changed appearance is fine when fingerprints confirm identity (Dan has none; use a
    // fingerprinted card: Alice's, at a point away from her hukou).
    // A6: blacklisted people are refused.
    // (Bob's hukou is in Guangzhou: Chaoyang's bureau may not list him, Tianhe's may.)
    assert_eq!(
        refused(w.engine.add_blacklist(
            &w.bureau,
            w.bob,
            BlacklistEntry::new(BlacklistReasons::BAD_CREDIT),
        )),
        "outside_jurisdiction"
    );
    w.engine
        .add_blacklist(
            &gz,
            w.bob,
            BlacklistEntry::new(BlacklistReasons::BAD_CREDIT),
        )
        .unwrap();
    assert_eq!(
        refused(w.engine.apply_offsite(&point, &base)),
        "blacklisted"
    );
    w.engine.remove_blacklist(&gz, w.bob, "test").unwrap();
    // A12: before the rollout reached this pair, refused.
    let mut early = Policy::default();
    early.rollout.nationwide_from = None;
    early.rollout.cities.clear();
    w.engine.set_policy(&w.ministry, early).unwrap();
    assert_eq!(
        refused(w.engine.apply_offsite(&point, &base)),
        "outside_rollout"
    );
    w.engine.set_policy(&w.ministry, Policy::default()).unwrap();
    // Renewal of a lost card: apply for a replacement instead.
    w.engine
        .report_loss(
            w.actor(StationKind::HouseholdRegistrationStation),
            &LossRequest {
                card: CardRef::card(w.bob_card),
                stolen: false,
                present: InPerson::holder(w.bob),
            },
        )
        .unwrap();
    assert_eq!(
        refused(w.engine.apply_offsite(&point, &base)),
        "card_not_valid"
    );
    // Only acceptance points accept off-site (A2); a station away from home refuses.
    assert_eq!(
        refused(
            w.engine
                .apply_offsite(w.actor(StationKind::HouseholdRegistrationStation), &base)
        ),
        "not_hukou_place"
    );
    assert_eq!(
        refused(
            w.engine
                .apply_offsite(w.actor(StationKind::CheckingUnit), &base)
        ),
        "station_kind_not_allowed"
    );
}

#[test]
fn a5_a9_fingerprints_confirm_a_changed_appearance() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = setup(dir.path());
    // An acceptance point in Guangzhou, for Alice (hukou Beijing, fingerprints registered).
    w.engine
        .register_station(
            &w.ministry,
            Station {
                id: "GZ-POINT".parse().unwrap(),
                kind: StationKind::OffsiteAcceptancePoint,
                division: DivisionCode::new(440106).unwrap(),
                name: "gz".into(),
            },
        )
        .unwrap();
    w.engine
        .register_officer(
            &w.ministry,
            Officer {
                id: "GP1".parse().unwrap(),
                name: "p".into(),
                station: "GZ-POINT".parse().unwrap(),
                active: true,
                key: Some(common::public_key_of("GP1")),
            },
        )
        .unwrap();
    let gz_point = signed("GP1", "GZ-POINT");
    let mut req = ApplicationRequest {
        kind: ApplicationKind::DamagedRenewal,
        card: CardRef::newest(w.alice),
        present: InPerson::holder(w.alice),
        appearance: Appearance::ChangedGreatly,
        materials: Materials::complete(ApplicationKind::DamagedRenewal),
        fingerprints: true,
        guardian: None,
        hardship_certificate: false,
        unit_application: false,
    };
    assert_eq!(
        refused(w.engine.apply_offsite(&gz_point, &req)),
        "fingerprint_required"
    );
    req.present = InPerson::holder(w.alice).with_fingerprint("not-alice");
    assert_eq!(
        refused(w.engine.apply_offsite(&gz_point, &req)),
        "fingerprint_mismatch"
    );
    req.present = InPerson::holder(w.alice).with_fingerprint("alice-fp");
    let app = w.engine.apply_offsite(&gz_point, &req).unwrap();
    assert_eq!(
        (app.fee_fen, app.hukou_bureau.as_str()),
        (4000, "110105-PSB"),
        "A7: 40 yuan for a damaged card"
    );
}

#[test]
fn a7_fee_cases_and_exemptions() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = setup(dir.path());
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    // Bob on minimum living allowance: renewal free (law art. 20) ...
    let mut bob = w
        .engine
        .with_state(|s| s.people.get(w.bob).unwrap().unwrap().clone());
    bob.fee_exempt = true;
    w.engine.register_people(&w.ministry, vec![bob]).unwrap();
    let app = w.engine.apply_offsite(&point, &bob_renewal(&w)).unwrap();
    assert_eq!((app.fee_fen, app.fee_relief), (0, FeeRelief::Waived));
    // ... a replacement is not (new data dir to start over).
    let dir2 = tempfile::tempdir().unwrap();
    let (w2, _) = setup(dir2.path());
    let mut bob = w2
        .engine
        .with_state(|s| s.people.get(w2.bob).unwrap().unwrap().clone());
    bob.fee_exempt = true;
    w2.engine.register_people(&w2.ministry, vec![bob]).unwrap();
    let mut req = bob_renewal(&w2);
    req.kind = ApplicationKind::Replacement;
    req.materials = Materials::complete(ApplicationKind::Replacement);
    let app = w2
        .engine
        .apply_offsite(w2.actor(StationKind::OffsiteAcceptancePoint), &req)
        .unwrap();
    assert_eq!((app.fee_fen, app.fee_relief), (4000, FeeRelief::None));
    // The schedule is data.
    let mut p = Policy::default();
    p.fees.renewal_fen = 1500;
    w2.engine.set_policy(&w2.ministry, p.clone()).unwrap();
    assert_eq!(w2.engine.with_state(|s| s.policy.fees.renewal_fen), 1500);
    // A7: nothing above the national standard (a 999-yuan renewal fee is refused).
    p.fees.renewal_fen = 99_900;
    assert_eq!(
        refused(w2.engine.set_policy(&w2.ministry, p)),
        "invalid_policy"
    );
}

#[test]
fn a4_deadlines_60_extended_by_at_most_30_or_shortened() {
    let dir = tempfile::tempdir().unwrap();
    let (w, gz) = setup(dir.path());
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    let app = w.engine.apply_offsite(&point, &bob_renewal(&w)).unwrap();
    let d0 = app.accepted_on;
    assert_eq!(app.deadline, d0 + chrono::Days::new(60));
    assert_eq!(
        refused(w.engine.extend_deadline(&gz, app.id, 31, "mountains")),
        "extension_too_long"
    );
    assert_eq!(
        w.engine
            .extend_deadline(&gz, app.id, 20, "mountains")
            .unwrap(),
        d0 + chrono::Days::new(80)
    );
    assert_eq!(
        refused(w.engine.extend_deadline(&gz, app.id, 11, "more")),
        "extension_too_long"
    );
    assert_eq!(
        w.engine.extend_deadline(&gz, app.id, 10, "more").unwrap(),
        d0 + chrono::Days::new(90)
    );
    assert_eq!(
        refused(w.engine.extend_deadline(&gz, app.id, 1, "again")),
        "extension_too_long"
    );
    // Overdue: not on day 90, on day 91.
    assert!(
        w.engine
            .overdue_applications(d0 + chrono::Days::new(90), None)
            .is_empty()
    );
    let late = w
        .engine
        .overdue_applications(d0 + chrono::Days::new(91), Some(&point.station));
    assert_eq!(late.len(), 1);
    assert_eq!(
        w.engine
            .overdue_applications(d0 + chrono::Days::new(91), Some(&"GZ-PSB".parse().unwrap()))
            .len(),
        1
    );
    // Shortened by policy (A4: "may be shortened"); never beyond 60.
    let mut p = Policy {
        processing_days: 30,
        ..Default::default()
    };
    w.engine.set_policy(&w.ministry, p.clone()).unwrap();
    p.processing_days = 61;
    assert_eq!(
        refused(w.engine.set_policy(&w.ministry, p)),
        "invalid_policy"
    );
    let dir2 = tempfile::tempdir().unwrap();
    let (w2, _) = setup(dir2.path());
    let short = Policy {
        processing_days: 30,
        ..Default::default()
    };
    w2.engine.set_policy(&w2.ministry, short).unwrap();
    let app2 = w2
        .engine
        .apply_offsite(
            w2.actor(StationKind::OffsiteAcceptancePoint),
            &bob_renewal(&w2),
        )
        .unwrap();
    assert_eq!(app2.deadline, app2.accepted_on + chrono::Days::new(30));
}

/// A8's loose ends: each issuer its own kind of trip; the traveller present; a trip booked ahead
/// gets a certificate valid on its date (not expired on arrival), none for a past trip or one
/// more than 15 days ahead; two counters using a one-trip certificate at once: one succeeds.
#[test]
fn a8_trip_kinds_by_issuer_trip_date_presence_and_one_use_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = setup(dir.path());
    let airport = w.actor(StationKind::AirportPolice).clone();
    let hotel = w.actor(StationKind::HotelPrecinctStation).clone();
    let railway = w.actor(StationKind::RailwayPolice).clone();
    let stay = Trip::HotelStay("Hotel B".into());
    // Airport police issued a hotel-stay certificate: refused.
    assert_eq!(
        refused(w.engine.issue_temporary_certificate(
            &airport,
            w.bob,
            MissingCard::Lost,
            stay.clone()
        )),
        "trip_kind_not_issued_here"
    );
    assert_eq!(
        refused(w.engine.issue_temporary_certificate(
            &hotel,
            w.bob,
            MissingCard::Lost,
            Trip::Train("G1".into())
        )),
        "trip_kind_not_issued_here"
    );
    assert!(
        w.engine
            .issue_temporary_certificate(
                &railway,
                w.bob,
                MissingCard::Lost,
                Trip::Train("G1".into())
            )
            .is_ok()
    );
    // Someone else present for Bob: refused.
    let mut req = IssueTemporaryCertificate::new(w.bob, MissingCard::Lost, stay.clone());
    req.present = InPerson::holder(w.alice);
    assert_eq!(refused(w.engine.execute(&hotel, &req)), "not_the_holder");
    // A stay booked two days ahead: valid on arrival and the day after, expired later.
    req.present = InPerson::holder(w.bob);
    req.trip_date = Some(idcard::engine::Clock::now(&*w.clock).date_naive() + chrono::Days::new(2));
    let cert = w.engine.execute(&hotel, &req).unwrap();
    w.clock.advance(chrono::Duration::days(2));
    assert_eq!(
        w.engine
            .check_temporary_certificate(cert.id, w.bob, "Hotel B"),
        CertificateCheck::Valid
    );
    w.clock.advance(chrono::Duration::days(2));
    assert_eq!(
        w.engine
            .check_temporary_certificate(cert.id, w.bob, "Hotel B"),
        CertificateCheck::Expired
    );
    req.trip_date = Some(idcard::engine::Clock::now(&*w.clock).date_naive() - chrono::Days::new(1));
    assert_eq!(refused(w.engine.execute(&hotel, &req)), "trip_in_the_past");
    req.trip_date =
        Some(idcard::engine::Clock::now(&*w.clock).date_naive() + chrono::Days::new(16));
    assert_eq!(
        refused(w.engine.execute(&hotel, &req)),
        "trip_too_far_ahead"
    );
    // Two counters at once: exactly one use succeeds.
    let cert = w
        .engine
        .issue_temporary_certificate(
            &airport,
            w.bob,
            MissingCard::Forgotten,
            Trip::Flight("CA1".into()),
        )
        .unwrap();
    let unit = w.actor(StationKind::CheckingUnit).clone();
    let ok = std::thread::scope(|s| {
        let uses: Vec<_> = (0..8)
            .map(|_| {
                let (e, unit) = (&w.engine, unit.clone());
                s.spawn(move || {
                    e.use_temporary_certificate(&unit, cert.id, w.bob, "CA1")
                        .is_ok()
                })
            })
            .collect();
        uses.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count()
    });
    assert_eq!(ok, 1);
}

#[test]
fn a8_temporary_certificate_for_one_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = setup(dir.path());
    let airport = w.actor(StationKind::AirportPolice).clone();
    let cert = w
        .engine
        .issue_temporary_certificate(
            &airport,
            w.bob,
            MissingCard::Forgotten,
            Trip::Flight("CA1831 2026-01-15".into()),
        )
        .unwrap();
    assert_eq!(
        w.engine
            .check_temporary_certificate(cert.id, w.bob, "CA1831 2026-01-15"),
        CertificateCheck::Valid
    );
    assert_eq!(
        w.engine
            .check_temporary_certificate(cert.id, w.alice, "CA1831 2026-01-15"),
        CertificateCheck::Mismatch
    );
    assert_eq!(
        w.engine
            .check_temporary_certificate(cert.id, w.bob, "CA1832 2026-01-15"),
        CertificateCheck::Mismatch
    );
    assert_eq!(
        w.engine
            .check_temporary_certificate(cert.id + 1000, w.bob, "x"),
        CertificateCheck::Unknown
    );
    // The airline uses it; then it is used up.
    w.engine
        .use_temporary_certificate(
            w.actor(StationKind::CheckingUnit),
            cert.id,
            w.bob,
            "CA1831 2026-01-15",
        )
        .unwrap();
    assert_eq!(
        w.engine
            .check_temporary_certificate(cert.id, w.bob, "CA1831 2026-01-15"),
        CertificateCheck::Used
    );
    assert_eq!(
        refused(w.engine.use_temporary_certificate(
            w.actor(StationKind::CheckingUnit),
            cert.id,
            w.bob,
            "CA1831 2026-01-15"
        )),
        "certificate_not_valid"
    );
    // Expiry: a certificate not used by the end of the day after the trip. Dan is an active
    // serviceman: his unit's letter is needed (L5).
    let hotel = w.actor(StationKind::HotelPrecinctStation).clone();
    let mut stay = IssueTemporaryCertificate::new(
        w.dan,
        MissingCard::Lost,
        Trip::HotelStay("Hotel A 2026-01-15".into()),
    );
    assert_eq!(
        refused(w.engine.execute(&hotel, &stay)),
        "unit_letter_required"
    );
    stay.unit_letter = true;
    let c2 = w.engine.execute(&hotel, &stay).unwrap();
    w.clock.advance(chrono::Duration::days(3));
    assert_eq!(
        w.engine
            .check_temporary_certificate(c2.id, w.dan, "Hotel A 2026-01-15"),
        CertificateCheck::Expired
    );
    // Only airport, railway and hotel police issue them; only after a population check.
    assert_eq!(
        refused(w.engine.issue_temporary_certificate(
            w.actor(StationKind::HouseholdRegistrationStation),
            w.bob,
            MissingCard::Lost,
            Trip::Train("G1".into())
        )),
        "station_kind_not_allowed"
    );
    assert_eq!(
        refused(w.engine.issue_temporary_certificate(
            &airport,
            w.carl,
            MissingCard::Lost,
            Trip::Flight("X".into())
        )),
        "person_deceased"
    );
}

#[test]
fn t1_t2_t3_t4_t5_temporary_resident_card_from_application_to_return() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = setup(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    // Dan (hukou 110105 = the station's division) has no application in progress yet (T1).
    let all = TempCardMaterials::COMPLETE;
    assert_eq!(
        refused(
            w.engine
                .apply_temporary_card(&hr, w.dan, &InPerson::holder(w.dan), None, all)
        ),
        "no_application_in_progress"
    );
    // Dan (an active serviceman: never off-site, L5) applies for a renewal at home; a point
    // away from home (Guangzhou) refuses him.
    w.engine
        .register_station(
            &w.ministry,
            Station {
                id: "GZ-POINT".parse().unwrap(),
                kind: StationKind::OffsiteAcceptancePoint,
                division: DivisionCode::new(440106).unwrap(),
                name: "gz".into(),
            },
        )
        .unwrap();
    w.engine
        .register_officer(
            &w.ministry,
            Officer {
                id: "GP1".parse().unwrap(),
                name: "p".into(),
                station: "GZ-POINT".parse().unwrap(),
                active: true,
                key: Some(common::public_key_of("GP1")),
            },
        )
        .unwrap();
    let gz_point = signed("GP1", "GZ-POINT");
    assert_eq!(
        refused(w.engine.apply_offsite(
            &gz_point,
            &ApplicationRequest::new(ApplicationKind::Renewal, CardRef::newest(w.dan))
        )),
        "serviceman_applies_through_unit"
    );
    let app = w
        .engine
        .apply_offsite(
            &hr,
            &ApplicationRequest {
                kind: ApplicationKind::Renewal,
                card: CardRef::newest(w.dan),
                present: InPerson::holder(w.dan),
                appearance: Appearance::Matches,
                materials: Materials::complete(ApplicationKind::Renewal),
                fingerprints: false,
                guardian: None,
                hardship_certificate: false,
                unit_application: false,
            },
        )
        .unwrap();
    // T3: papers, all missing items at once.
    match w.engine.apply_temporary_card(
        &hr,
        w.dan,
        &InPerson::holder(w.dan),
        None,
        TempCardMaterials::default(),
    ) {
        Err(EngineError::Refused(r)) => assert!(
            r.code == "materials_incomplete"
                && r.message.contains("photograph")
                && r.message.contains("booklet"),
            "{r:?}"
        ),
        other => panic!("{other:?}"),
    }
    // T2: at the station of permanent residence only.
    assert_eq!(
        refused(w.engine.apply_temporary_card(
            w.actor(StationKind::RegistrationHall),
            w.dan,
            &InPerson::holder(w.dan),
            None,
            all
        )),
        "station_kind_not_allowed"
    );
    let t = w
        .engine
        .apply_temporary_card(&hr, w.dan, &InPerson::holder(w.dan), None, all)
        .unwrap();
    assert_eq!(
        (t.fee_fen, t.issue_by),
        (1000, t.applied_on + chrono::Days::new(3)),
        "A7: 10 yuan; T4: 3 days"
    );
    // T4: overdue after 3 days.
    assert!(
        w.engine
            .temporary_cards_overdue(t.applied_on + chrono::Days::new(3))
            .not_issued_in_3_days
            .is_empty()
    );
    assert_eq!(
        w.engine
            .temporary_cards_overdue(t.applied_on + chrono::Days::new(4))
            .not_issued_in_3_days
            .len(),
        1
    );
    // T3: issued by the county bureau; valid 3 months (T5).
    let issued = w.engine.issue_temporary_card(&w.bureau, t.id).unwrap();
    let (on, until) = issued.issued.unwrap();
    assert_eq!(
        until,
        on.checked_add_months(chrono::Months::new(3)).unwrap()
    );
    assert_eq!(
        w.engine
            .temporary_cards_overdue(until + chrono::Days::new(1))
            .expired_not_returned
            .len(),
        1
    );
    // T5: handed back when the resident card is collected.
    let gz = signed("B0001", "110105-PSB");
    w.engine.review_application(&gz, app.id, true, "").unwrap();
    w.engine.produce_card(&hr, app.id).unwrap();
    let receipt = w
        .engine
        .with_state(|s| s.applications[&app.id].pickup_receipt.clone());
    assert_eq!(
        refused(
            w.engine
                .issue_card(&hr, app.id, &receipt, &InPerson::holder(w.dan), true, false)
        ),
        "items_not_returned"
    );
    w.engine
        .issue_card(&hr, app.id, &receipt, &InPerson::holder(w.dan), true, true)
        .unwrap();
    assert_eq!(
        w.engine.with_state(|s| s.temp_cards[&t.id].state),
        TempCardState::Returned
    );
}

#[test]
fn t2_under_16_through_a_guardian() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = setup(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let kid = number("11010520150601001");
    w.engine
        .register_people(
            &w.ministry,
            vec![idcard::population::Person {
                number: kid,
                name: "Kid".into(),
                hukou_division: DivisionCode::new(110105).unwrap(),
                category: Default::default(),
                fingerprint: None,
                contact: None,
                deceased: false,
                fee_exempt: false,
            }],
        )
        .unwrap();
    let all = TempCardMaterials::COMPLETE;
    assert_eq!(
        refused(
            w.engine
                .apply_temporary_card(&hr, kid, &InPerson::holder(kid), None, all)
        ),
        "guardian_required"
    );
    assert_eq!(
        refused(w.engine.apply_temporary_card(
            &hr,
            kid,
            &InPerson::holder(w.dan),
            Some(w.alice),
            all
        )),
        "not_the_guardian"
    );
    // With a guardian present, the rule moves on to T1 (no application in progress).
    assert_eq!(
        refused(w.engine.apply_temporary_card(
            &hr,
            kid,
            &InPerson::holder(w.alice),
            Some(w.alice),
            all
        )),
        "no_application_in_progress"
    );
}

/// The per-person indexes of applications and temporary cards are not stored in checkpoints:
/// they are rebuilt when one is loaded, so "already in progress" still holds after a restart.
#[test]
fn a4_open_applications_are_known_after_reloading_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _gz) = setup(dir.path());
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    let req = bob_renewal(&w);
    w.engine.apply_offsite(&point, &req).unwrap();
    w.engine.checkpoint().unwrap();
    // People and cards are in the population store, the rest in the checkpoint.
    let before = w.engine.with_state(|s| s.without_population());
    assert_eq!(before.applications.of(w.bob).count(), 1);
    let clock = w.clock.clone();
    drop(w);
    let (e, report) = idcard::engine::Engine::open(dir.path(), options(clock)).unwrap();
    assert_eq!(report.checkpoint_seq, Some(before.last_seq));
    assert_eq!((report.store_seq, report.replayed), (before.last_seq, 0));
    assert_eq!(e.with_state(|s| s.without_population()), before);
    assert_eq!(refused(e.apply_offsite(&point, &req)), "application_open");
}

/// F2, A4: a lost card found and held while its replacement is in production is destroyed when
/// the replacement is issued — never handed back as a second valid card — and a loss report on
/// a replaced card cannot be withdrawn.
#[test]
fn f2_a4_a_replaced_card_held_at_a_window_is_destroyed_at_issue() {
    let dir = tempfile::tempdir().unwrap();
    let (w, gz) = setup(dir.path());
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    let window = w.actor(StationKind::LostAndFoundWindow).clone();
    let mut req = bob_renewal(&w);
    req.kind = ApplicationKind::Replacement;
    req.materials = Materials::complete(ApplicationKind::Replacement);
    let app = w.engine.apply_offsite(&point, &req).unwrap();
    w.engine.review_application(&gz, app.id, true, "").unwrap();
    // Someone hands the old card in while the new one is being made: held, owner not known to
    // have a newer card yet.
    let outcome = w.engine.intake_found(&window, w.bob_card, None).unwrap();
    assert!(matches!(
        outcome,
        idcard::workflow::found::IntakeOutcome::Held { .. }
    ));
    let new_card = w.engine.produce_card(&point, app.id).unwrap();
    let receipt = w
        .engine
        .with_state(|s| s.applications[&app.id].pickup_receipt.clone());
    w.engine
        .issue_card(
            &point,
            app.id,
            &receipt,
            &InPerson::holder(w.bob),
            false,
            false,
        )
        .unwrap();
    w.engine.with_state(|s| {
        assert!(matches!(
            s.found[&w.bob_card].outcome,
            idcard::model::FoundOutcome::Destroyed { .. }
        ));
        assert_eq!(
            s.cards.get(w.bob_card).unwrap().unwrap().status,
            CardStatus::Lost
        );
        assert_eq!(
            s.cards.get(new_card).unwrap().unwrap().status,
            CardStatus::Valid
        );
    });
    assert_eq!(
        refused(
            w.engine
                .return_found(&window, w.bob_card, &InPerson::holder(w.bob), "img")
        ),
        "not_held"
    );
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    assert_eq!(
        refused(
            w.engine
                .cancel_loss(&hr, CardRef::card(w.bob_card), &InPerson::holder(w.bob))
        ),
        "card_replaced"
    );
}

/// A10: once a death is recorded, the person's valid cards are invalidated (reason
/// holder_deceased) and a bank verifier says so; a card already reported lost stays lost.
#[test]
fn a10_s2_a_death_invalidates_the_cards_at_the_bank() {
    let dir = tempfile::tempdir().unwrap();
    let (w, gz) = setup(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let snap = dir.path().join("bank.idcs");
    w.engine
        .publish_snapshot(&w.ministry, idcard::index::Profile::Bank, &snap)
        .unwrap();
    let bank =
        idcard::index::Verifier::open_with(&snap, idcard::index::VerifierOptions::unsigned())
            .unwrap();
    w.engine
        .report_loss(
            &hr,
            &LossRequest {
                card: CardRef::card(w.dan_card),
                stolen: false,
                present: InPerson::holder(w.dan),
            },
        )
        .unwrap();
    // S1: each death at the person's hukou bureau (Bob's is Tianhe's).
    assert_eq!(
        refused(w.engine.record_death(&w.bureau, w.bob)),
        "outside_jurisdiction"
    );
    w.engine.record_death(&gz, w.bob).unwrap();
    w.engine.record_death(&w.bureau, w.dan).unwrap();
    let delta = dir.path().join("d.idcd");
    w.engine.publish_delta(&w.ministry, &snap, &delta).unwrap();
    bank.apply_delta_file(&delta).unwrap();
    assert_eq!(bank.verify(w.bob_card), CardStatus::Invalidated);
    // The record keeps why; a bank learns the status only (S2).
    assert_eq!(
        w.engine
            .with_state(|s| s.cards.get(w.bob_card).unwrap().unwrap().reason),
        idcard::index::CardReason::HOLDER_DECEASED
    );
    assert_eq!(
        bank.card_entry(w.bob_card).unwrap().reason,
        idcard::index::CardReason::UNSPECIFIED
    );
    assert_eq!(bank.verify(w.dan_card), CardStatus::Lost);
    assert_eq!(bank.verify(w.alice_card), CardStatus::Valid);
}

/// A2: city and county bureaus designate acceptance points and publish them: the registry lists
/// the points of a division, and only a designated point accepts an off-site application.
#[test]
fn a2_acceptance_points_are_published_by_division_and_only_they_accept() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let tianhe = w.station(StationKind::OffsiteAcceptancePoint, 440106);
    let haizhu = w.station(StationKind::OffsiteAcceptancePoint, 440105);
    let points = |within: u32| {
        w.engine.with_state(|s| {
            idcard::model::view::stations(
                s,
                Some(StationKind::OffsiteAcceptancePoint),
                DivisionCode::new(within),
            )
            .into_iter()
            .map(|s| s.id.to_string())
            .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        points(440100),
        [haizhu.station.as_str(), tianhe.station.as_str()]
    );
    assert_eq!(points(440106), [tianhe.station.as_str()]);
    assert_eq!(points(110000), ["S02-offsite-acceptance-point"]);
    // Alice (hukou Beijing) applies in Guangzhou: at a registration hall she is refused, at a
    // designated point accepted.
    let req = ApplicationRequest {
        kind: ApplicationKind::Renewal,
        card: CardRef::newest(w.alice),
        present: InPerson::holder(w.alice).with_fingerprint("alice-fp"),
        appearance: Appearance::Matches,
        materials: Materials::complete(ApplicationKind::Renewal),
        fingerprints: true,
        guardian: None,
        hardship_certificate: false,
        unit_application: false,
    };
    let hall = w.actor(StationKind::RegistrationHall).clone();
    assert_eq!(
        refused(w.engine.apply_offsite(&hall, &req)),
        "not_hukou_place"
    );
    assert!(w.engine.apply_offsite(&tianhe, &req).is_ok());
}

/// T3: the temporary card is issued by the county-level bureau of the place of permanent
/// residence — not by a bureau elsewhere, not by the police station that took the application —
/// and only against the papers T3 lists, all missing ones named at once.
#[test]
fn t3_issued_by_the_bureau_of_permanent_residence_against_the_papers() {
    let dir = tempfile::tempdir().unwrap();
    let (w, gz_bureau) = setup(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let gz_point = w.station(StationKind::OffsiteAcceptancePoint, 440106);
    let renewal = ApplicationRequest {
        kind: ApplicationKind::Renewal,
        card: CardRef::newest(w.dan),
        present: InPerson::holder(w.dan),
        appearance: Appearance::Matches,
        materials: Materials::complete(ApplicationKind::Renewal),
        fingerprints: false,
        guardian: None,
        hardship_certificate: false,
        unit_application: false,
    };
    assert_eq!(
        refused(w.engine.apply_offsite(&gz_point, &renewal)),
        "serviceman_applies_through_unit"
    );
    w.engine.apply_offsite(&hr, &renewal).unwrap();
    let none = TempCardMaterials::default();
    let err = w
        .engine
        .apply_temporary_card(&hr, w.dan, &InPerson::holder(w.dan), None, none)
        .unwrap_err();
    let message = &err.refusal().unwrap().message;
    for item in [
        "household register booklet",
        "photograph",
        "application form",
    ] {
        assert!(message.contains(item), "{message}");
    }
    let t = w
        .engine
        .apply_temporary_card(
            &hr,
            w.dan,
            &InPerson::holder(w.dan),
            None,
            TempCardMaterials::COMPLETE,
        )
        .unwrap();
    assert_eq!(
        refused(w.engine.issue_temporary_card(&gz_bureau, t.id)),
        "outside_jurisdiction"
    );
    assert_eq!(
        refused(w.engine.issue_temporary_card(&hr, t.id)),
        "station_kind_not_allowed"
    );
    let issued = w.engine.issue_temporary_card(&w.bureau, t.id).unwrap();
    assert_eq!(issued.state, TempCardState::Issued);
}
