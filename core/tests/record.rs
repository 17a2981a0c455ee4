//! The system of record (issue: journal, stations and officers, loss reporting, lost-and-found,
//! blacklist, publishing). Tests are named after the requirement they check.

mod common;

use common::*;
use idcard::engine::{Engine, EngineError, EngineOptions, InPerson};
use idcard::index::{
    BlacklistEntry, BlacklistReasons, BlacklistSource, CardStatus, Profile, Verifier,
    VerifierOptions,
};
use idcard::model::FoundOutcome;
use idcard::station::{Actor, CommandKind, Officer, StationKind, allowed};
use idcard::workflow::Commands;
use idcard::workflow::blacklist::CsvCreditFeed;
use idcard::workflow::found::IntakeOutcome;
use idcard::workflow::loss::{CardRef, LossRequest};
use idcard::{CardKey, IdNumber};

fn loss(card: CardKey, present: InPerson) -> LossRequest {
    LossRequest {
        card: CardRef::card(card),
        stolen: false,
        present,
    }
}

#[test]
fn l1_loss_report_at_hukou_place_and_away() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    // Bob's hukou is Guangzhou 440106: at the Beijing station he reports away from home.
    let r = w
        .engine
        .report_loss(
            w.actor(StationKind::HouseholdRegistrationStation),
            &loss(w.bob_card, InPerson::holder(w.bob)),
        )
        .unwrap();
    assert_eq!(r.status, CardStatus::Lost);
    assert!(!r.at_hukou_place);
    // Dan, at the registration hall in Guangzhou: also away; stolen.
    let r = w
        .engine
        .report_loss(
            w.actor(StationKind::RegistrationHall),
            &LossRequest {
                card: CardRef::newest(w.dan),
                stolen: true,
                present: InPerson::holder(w.dan),
            },
        )
        .unwrap();
    assert_eq!(
        (r.card, r.status, r.at_hukou_place),
        (w.dan_card, CardStatus::Stolen, false)
    );
    w.engine.with_state(|s| {
        assert_eq!(
            s.cards.get(w.bob_card).unwrap().unwrap().status,
            CardStatus::Lost
        );
        assert_eq!(
            s.cards.get(w.dan_card).unwrap().unwrap().status,
            CardStatus::Stolen
        );
        assert_eq!(
            s.cards
                .get(w.dan_card)
                .unwrap()
                .unwrap()
                .loss
                .as_ref()
                .unwrap()
                .by
                .station
                .as_str(),
            "S01-registration-hall"
        );
    });
    // Nowhere else: an acceptance point may not take loss reports (L1).
    let r = w.engine.report_loss(
        w.actor(StationKind::OffsiteAcceptancePoint),
        &loss(w.alice_card, InPerson::holder(w.alice)),
    );
    assert_eq!(refused(r), "station_kind_not_allowed");
    // Reporting twice is refused.
    let r = w.engine.report_loss(
        w.actor(StationKind::HouseholdRegistrationStation),
        &loss(w.bob_card, InPerson::holder(w.bob)),
    );
    assert_eq!(refused(r), "card_not_valid");
}

#[test]
fn l2_n6_registered_fingerprints_are_compared_on_the_spot() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation);
    let r = w
        .engine
        .report_loss(hr, &loss(w.alice_card, InPerson::holder(w.alice)));
    assert_eq!(refused(r), "fingerprint_required");
    let r = w.engine.report_loss(
        hr,
        &loss(
            w.alice_card,
            InPerson::holder(w.alice).with_fingerprint("someone-else"),
        ),
    );
    assert_eq!(refused(r), "fingerprint_mismatch");
    let r = w
        .engine
        .report_loss(
            hr,
            &loss(
                w.alice_card,
                InPerson::holder(w.alice).with_fingerprint("alice-fp"),
            ),
        )
        .unwrap();
    assert!(
        r.at_hukou_place,
        "Alice's hukou is 110105, the station's division"
    );
    // Cancelling needs the fingerprint too.
    assert_eq!(
        refused(
            w.engine
                .cancel_loss(hr, CardRef::card(w.alice_card), &InPerson::holder(w.alice))
        ),
        "fingerprint_required"
    );
    w.engine
        .cancel_loss(
            hr,
            CardRef::card(w.alice_card),
            &InPerson::holder(w.alice).with_fingerprint("alice-fp"),
        )
        .unwrap();
    assert_eq!(
        w.engine
            .with_state(|s| s.cards.get(w.alice_card).unwrap().unwrap().status),
        CardStatus::Valid
    );
    assert_eq!(
        refused(w.engine.cancel_loss(
            hr,
            CardRef::card(w.alice_card),
            &InPerson::holder(w.alice).with_fingerprint("alice-fp")
        )),
        "not_reported_lost"
    );
}

#[test]
fn a10_only_the_holder_in_person_and_never_the_dead() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation);
    // Bob reporting Alice's card: refused (false loss reports, S1).
    let r = w
        .engine
        .report_loss(hr, &loss(w.alice_card, InPerson::holder(w.bob)));
    assert_eq!(refused(r), "not_the_holder");
    // Someone presenting the papers of the late Carl.
    let carl_card = w
        .engine
        .with_state(|s| s.cards.current(w.carl).unwrap().unwrap().key);
    let r = w
        .engine
        .report_loss(hr, &loss(carl_card, InPerson::holder(w.carl)));
    assert_eq!(refused(r), "person_deceased");
    // Both refusals are on record (S1).
    w.engine.with_state(|s| {
        assert_eq!(
            s.stats.refusals[&(CommandKind::ReportLoss, "not_the_holder".to_string())],
            1
        );
        assert_eq!(
            s.stats.refusals[&(CommandKind::ReportLoss, "person_deceased".to_string())],
            1
        );
    });
}

#[test]
fn l3_live_verifier_answers_lost_as_soon_as_the_report_returns() {
    let dir = tempfile::tempdir().unwrap();
    let w = world_with(dir.path(), |o| EngineOptions {
        live_verifier: Some(Profile::Bank),
        ..o
    });
    let v = w.engine.live_verifier().unwrap();
    assert_eq!(v.verify(w.bob_card), CardStatus::Valid);
    let started = std::time::Instant::now();
    w.engine
        .report_loss(
            w.actor(StationKind::HouseholdRegistrationStation),
            &loss(w.bob_card, InPerson::holder(w.bob)),
        )
        .unwrap();
    // Already applied when the command returns (the latency figure is in the bench).
    assert_eq!(v.verify(w.bob_card), CardStatus::Lost);
    let _ = started.elapsed();
    w.engine
        .cancel_loss(
            w.actor(StationKind::HouseholdRegistrationStation),
            CardRef::card(w.bob_card),
            &InPerson::holder(w.bob),
        )
        .unwrap();
    assert_eq!(v.verify(w.bob_card), CardStatus::Valid);
}

#[test]
fn l4_hit_reports_reach_the_police() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let bank = w.actor(StationKind::CheckingUnit);
    let hit = w
        .engine
        .report_hit(
            bank,
            w.alice_card,
            "presented by a man; the card is a woman's",
        )
        .unwrap();
    assert_eq!(hit.routed_to.as_str(), "S00-household-registration-station");
    // Only the station it went to acknowledges it, once.
    assert_eq!(
        refused(
            w.engine
                .acknowledge_hit(w.actor(StationKind::RegistrationHall), hit.id, "x")
        ),
        "not_routed_here"
    );
    assert_eq!(
        refused(w.engine.acknowledge_hit(bank, hit.id, "x")),
        "station_kind_not_allowed"
    );
    w.engine
        .acknowledge_hit(
            w.actor(StationKind::HouseholdRegistrationStation),
            hit.id,
            "detained",
        )
        .unwrap();
    assert_eq!(
        refused(w.engine.acknowledge_hit(
            w.actor(StationKind::HouseholdRegistrationStation),
            hit.id,
            "again"
        )),
        "already_acknowledged"
    );
    w.engine.with_state(|s| {
        let h = &s.hits[&hit.id];
        assert_eq!(h.by.station, bank.station);
        assert_eq!(h.acknowledged.as_ref().unwrap().note, "detained");
    });
}

#[test]
fn l5_servicemen_and_armed_police_use_the_same_flows() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation);
    w.engine
        .report_loss(hr, &loss(w.dan_card, InPerson::holder(w.dan)))
        .unwrap();
    let window = w.actor(StationKind::LostAndFoundWindow);
    assert_eq!(
        w.engine.intake_found(window, w.dan_card, None).unwrap(),
        IntakeOutcome::Held {
            notified: Some("138-0000-0004".into())
        }
    );
    w.engine
        .return_found(
            window,
            w.dan_card,
            &InPerson::holder(w.dan),
            "photo://dan-1",
        )
        .unwrap();
    assert_eq!(
        w.engine
            .with_state(|s| s.cards.get(w.dan_card).unwrap().unwrap().status),
        CardStatus::Valid
    );
}

#[test]
fn f1_f2_found_cards_held_notified_returned_or_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation);
    let window = w.actor(StationKind::LostAndFoundWindow);
    w.engine
        .report_loss(
            hr,
            &loss(
                w.alice_card,
                InPerson::holder(w.alice).with_fingerprint("alice-fp"),
            ),
        )
        .unwrap();
    // Handed in: held, owner notified (F2).
    let out = w
        .engine
        .intake_found(window, w.alice_card, Some("a taxi driver"))
        .unwrap();
    assert_eq!(
        out,
        IntakeOutcome::Held {
            notified: Some("138-0000-0001".into())
        }
    );
    assert_eq!(
        refused(w.engine.intake_found(window, w.alice_card, None)),
        "already_held"
    );
    // The citizen's query (F1).
    let q = w.engine.found_query(w.alice).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].state, q[0].window.as_ref().unwrap()),
        ("held", &window.station)
    );
    // Return: the holder, fingerprints, a photograph.
    assert_eq!(
        refused(
            w.engine
                .return_found(window, w.alice_card, &InPerson::holder(w.bob), "photo://1")
        ),
        "not_the_holder"
    );
    assert_eq!(
        refused(w.engine.return_found(
            window,
            w.alice_card,
            &InPerson::holder(w.alice),
            "photo://1"
        )),
        "fingerprint_required"
    );
    assert_eq!(
        refused(w.engine.return_found(
            window,
            w.alice_card,
            &InPerson::holder(w.alice).with_fingerprint("alice-fp"),
            " "
        )),
        "photo_required"
    );
    assert_eq!(
        refused(w.engine.return_found(
            hr,
            w.alice_card,
            &InPerson::holder(w.alice).with_fingerprint("alice-fp"),
            "photo://1"
        )),
        "held_elsewhere"
    );
    w.engine
        .return_found(
            window,
            w.alice_card,
            &InPerson::holder(w.alice).with_fingerprint("alice-fp"),
            "photo://alice-2026-01-15",
        )
        .unwrap();
    w.engine.with_state(|s| {
        assert_eq!(s.cards.get(w.alice_card).unwrap().unwrap().status, CardStatus::Valid, "the loss report no longer holds");
        assert!(matches!(&s.found[&w.alice_card].outcome, FoundOutcome::Returned { photo_ref, .. } if photo_ref == "photo://alice-2026-01-15"));
    });
    assert_eq!(w.engine.found_query(w.alice).unwrap()[0].state, "returned");
    // Bob lost his card and already got a replacement: a found old card is destroyed (F2).
    w.engine
        .report_loss(hr, &loss(w.bob_card, InPerson::holder(w.bob)))
        .unwrap();
    let replacement = CardKey::new(w.bob, date(2025, 6, 1)).unwrap();
    w.engine
        .register_cards(
            &w.ministry,
            vec![idcard::model::CardRegistration {
                key: replacement,
                period: idcard::ValidityPeriod::LongTerm,
                fingerprints: false,
            }],
        )
        .unwrap();
    assert_eq!(
        w.engine.intake_found(window, w.bob_card, None).unwrap(),
        IntakeOutcome::Destroyed
    );
    w.engine.with_state(|s| {
        assert!(matches!(
            s.found[&w.bob_card].outcome,
            FoundOutcome::Destroyed { .. }
        ));
        assert_eq!(
            s.cards.get(w.bob_card).unwrap().unwrap().status,
            CardStatus::Lost,
            "the old card stays lost"
        );
        assert_eq!(
            s.cards.get(replacement).unwrap().unwrap().status,
            CardStatus::Valid,
            "N4: the replacement is unaffected"
        );
    });
    // A card that is not in the register.
    let forged = CardKey::new(w.bob, date(2024, 1, 1)).unwrap();
    assert_eq!(
        refused(w.engine.intake_found(window, forged, None)),
        "unknown_card"
    );
}

#[test]
fn a6_blacklist_add_remove_and_credit_push() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let reasons = BlacklistReasons::FORGED | BlacklistReasons::HOUSEHOLD_BOOKLET;
    assert_eq!(
        refused(w.engine.add_blacklist(
            &w.bureau,
            w.alice,
            BlacklistEntry::new(BlacklistReasons::default())
        )),
        "reason_required"
    );
    w.engine
        .add_blacklist(&w.bureau, w.alice, BlacklistEntry::new(reasons))
        .unwrap();
    w.engine.with_state(|s| {
        let e = s.blacklist[&w.alice].entry;
        assert_eq!(
            (e.reasons, e.source, e.listed_on),
            (
                reasons,
                BlacklistSource::PublicSecurity,
                Some(date(2026, 1, 15))
            )
        );
    });
    // S1: the hukou county's bureau (Bob's is in Guangzhou).
    assert_eq!(
        refused(
            w.engine
                .add_blacklist(&w.bureau, w.bob, BlacklistEntry::new(reasons))
        ),
        "outside_jurisdiction"
    );
    // Only county bureaus keep the blacklist.
    assert_eq!(
        refused(w.engine.add_blacklist(
            w.actor(StationKind::HouseholdRegistrationStation),
            w.carl,
            BlacklistEntry::new(reasons)
        )),
        "station_kind_not_allowed"
    );
    assert_eq!(
        refused(w.engine.remove_blacklist(&w.bureau, w.alice, "")),
        "reason_required"
    );
    assert_eq!(
        refused(w.engine.remove_blacklist(&w.bureau, w.carl, "no")),
        "not_blacklisted"
    );
    w.engine
        .remove_blacklist(&w.bureau, w.alice, "court ruling 2026-3")
        .unwrap();
    // A credit platform push: every entry a bad credit record from the platform.
    let push = format!(
        "number,reason\n{},traded|identity_card\n{},bad_credit\n",
        w.alice, w.dan
    );
    let mut feed = CsvCreditFeed::new(push.as_bytes());
    let mut seen = 0;
    let s = w
        .engine
        .import_credit_push(&w.ministry, &mut feed, &mut |n| seen = n)
        .unwrap();
    assert_eq!((s.imported, seen), (2, 2));
    w.engine.with_state(|s| {
        let e = s.blacklist[&w.alice].entry;
        assert!(
            e.reasons
                .contains(BlacklistReasons::BAD_CREDIT | BlacklistReasons::TRADED)
        );
        assert_eq!(e.source, BlacklistSource::CreditPlatform);
        assert!(!s.blacklist.contains_key(&w.bob));
    });
    // A bad push row stops the import with the line.
    let bad = "number,reason\n110105194912310021,bad_credit\n";
    let e = w
        .engine
        .import_credit_push(
            &w.ministry,
            &mut CsvCreditFeed::new(bad.as_bytes()),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

/// The authorization matrix: every command × every station kind. A command a kind may not run
/// is refused as such (and audited); one it may run is never refused for the kind.
#[test]
fn s1_authorization_matrix_every_command_every_station_kind() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let mut checked = 0;
    for &(kind, ref actor) in &w.by_kind {
        for command in CommandKind::ALL {
            let Some(result) = try_command(&w, actor, command) else {
                continue;
            };
            let refused_for_kind = matches!(&result, Err(EngineError::Refused(r)) if r.code == "station_kind_not_allowed");
            assert_eq!(
                refused_for_kind,
                !allowed(command, kind),
                "{command:?} at a {kind}: {result:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, StationKind::ALL.len() * CommandKind::ALL.len());
    let refused: u64 = w.engine.with_state(|s| {
        s.stats
            .refusals
            .iter()
            .filter(|((_, c), _)| c == "station_kind_not_allowed")
            .map(|(_, n)| n)
            .sum()
    });
    assert!(refused > 0);
}

/// Run one command with harmless arguments (refused for a reason other than the station kind when
/// the kind may run it).
fn try_command(w: &World, actor: &Actor, command: CommandKind) -> Option<Result<(), EngineError>> {
    let e = &w.engine;
    let unknown: IdNumber = "11010519491231002X".parse().unwrap();
    Some(match command {
        CommandKind::RegisterStation => e
            .register_station(
                actor,
                idcard::station::Station {
                    id: "S00-household-registration-station".parse().unwrap(),
                    kind: StationKind::RegistrationHall,
                    division: idcard::DivisionCode::new(110105).unwrap(),
                    name: "dup".into(),
                },
            )
            .map(drop),
        CommandKind::RegisterOfficer => e
            .register_officer(
                actor,
                Officer {
                    id: "P00".parse().unwrap(),
                    name: "dup".into(),
                    station: actor.station.clone(),
                    active: true,
                    key: Some(common::public_key_of("P00")),
                },
            )
            .map(drop),
        CommandKind::DeactivateOfficer => e.deactivate_officer(actor, &"NOBODY".parse().unwrap()),
        CommandKind::RegisterPeople => e.register_people(actor, vec![]).map(drop),
        CommandKind::RecordDeath => e.record_death(actor, unknown),
        CommandKind::RegisterCards => e.register_cards(actor, vec![]).map(drop),
        CommandKind::ReportLoss => e
            .report_loss(actor, &loss(w.alice_card, InPerson::holder(w.bob)))
            .map(drop),
        CommandKind::CancelLoss => e
            .cancel_loss(actor, CardRef::card(w.alice_card), &InPerson::holder(w.bob))
            .map(drop),
        CommandKind::ReportHit => e.report_hit(actor, w.alice_card, "test").map(drop),
        CommandKind::AcknowledgeHit => e.acknowledge_hit(actor, u64::MAX, "x"),
        CommandKind::IntakeFoundCard => e
            .intake_found(
                actor,
                CardKey::new(unknown, date(2000, 1, 1)).unwrap(),
                None,
            )
            .map(drop),
        CommandKind::ReturnFoundCard => {
            e.return_found(actor, w.alice_card, &InPerson::holder(w.bob), "p")
        }
        CommandKind::AddBlacklist => e.add_blacklist(
            actor,
            unknown,
            BlacklistEntry::new(BlacklistReasons::default()),
        ),
        CommandKind::RemoveBlacklist => e.remove_blacklist(actor, unknown, "x"),
        CommandKind::ImportCreditPush => {
            let csv = format!("number,reason\n{unknown},bad_credit\n");
            e.import_credit_push(actor, &mut CsvCreditFeed::new(csv.as_bytes()), &mut |_| {})
                .map(drop)
        }
        CommandKind::Publish => e
            .publish_snapshot(actor, Profile::Bank, w.engine.dir().join("matrix.idcs"))
            .map(drop),
        CommandKind::RegisterSubscriber => e.register_subscriber(
            actor,
            format!("SUB-{}", actor.station).parse().unwrap(),
            "a bank",
            Profile::Bank,
        ),
        CommandKind::ApplyOffsite => e
            .apply_offsite(
                actor,
                &idcard::workflow::offsite::ApplicationRequest {
                    kind: idcard::workflow::offsite::ApplicationKind::Renewal,
                    card: CardRef::card(w.alice_card),
                    present: InPerson::holder(w.bob),
                    appearance: idcard::workflow::offsite::Appearance::Matches,
                    materials: Default::default(),
                    fingerprints: false,
                    guardian: None,
                    hardship_certificate: false,
                    unit_application: false,
                },
            )
            .map(drop),
        CommandKind::ReviewApplication => e.review_application(actor, u64::MAX, true, ""),
        CommandKind::ProduceCard => e.produce_card(actor, u64::MAX).map(drop),
        CommandKind::IssueCard => e
            .issue_card(actor, u64::MAX, "", &InPerson::holder(w.bob), false, false)
            .map(drop),
        CommandKind::ExtendDeadline => e.extend_deadline(actor, u64::MAX, 1, "x").map(drop),
        CommandKind::IssueTemporaryCertificate => e
            .issue_temporary_certificate(
                actor,
                w.carl,
                idcard::workflow::temporary::MissingCard::Lost,
                idcard::workflow::temporary::Trip::Flight("X".into()),
            )
            .map(drop),
        CommandKind::UseTemporaryCertificate => {
            e.use_temporary_certificate(actor, u64::MAX, w.bob, "x")
        }
        CommandKind::ApplyTemporaryCard => e
            .apply_temporary_card(
                actor,
                w.carl,
                &InPerson::holder(w.carl),
                None,
                Default::default(),
            )
            .map(drop),
        CommandKind::IssueTemporaryCard => e.issue_temporary_card(actor, u64::MAX).map(drop),
        CommandKind::ReturnTemporaryCard => e.return_temporary_card(actor, u64::MAX),
        CommandKind::SetOfficerKey => {
            e.set_officer_key(actor, &"NOBODY".parse().unwrap(), public_key_of("NOBODY"))
        }
        CommandKind::RecordGuardians => e
            .execute(
                actor,
                &idcard::workflow::registry::RecordGuardians(vec![(w.carl, w.alice)]),
            )
            .map(drop),
        CommandKind::EscalateOverdue => e
            .execute(actor, &idcard::workflow::offsite::EscalateOverdue)
            .map(drop),
        CommandKind::ReadPersonalData => {
            e.read_personal(actor, "test", None, "matrix", |_| ((), 0))
        }
        CommandKind::VerifyOnline | CommandKind::CheckTemporaryCertificate => {
            let payload = idcard::engine::auth::payload_hash(&"matrix");
            let at = e.clock().now().timestamp_millis();
            let signed = idcard::engine::auth::sign(actor, command, payload, at);
            e.authenticate(actor, command, payload, signed)
        }
        CommandKind::SetPolicy => e.set_policy(
            actor,
            idcard::policy::Policy {
                processing_days: 0,
                ..Default::default()
            },
        ),
    })
}

#[test]
fn s1_unknown_inactive_and_foreign_officers_are_refused_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let req = loss(w.bob_card, InPerson::holder(w.bob));
    let stranger = signed("NOBODY", hr.station.as_str());
    assert_eq!(
        refused(w.engine.report_loss(&stranger, &req)),
        "unknown_officer"
    );
    let elsewhere = signed(hr.officer.as_str(), "S01-registration-hall");
    assert_eq!(
        refused(w.engine.report_loss(&elsewhere, &req)),
        "officer_not_at_station"
    );
    let nowhere = signed(hr.officer.as_str(), "NOWHERE");
    assert_eq!(
        refused(w.engine.report_loss(&nowhere, &req)),
        "unknown_station"
    );
    w.engine.deactivate_officer(&w.bureau, &hr.officer).unwrap();
    assert_eq!(refused(w.engine.report_loss(&hr, &req)), "officer_inactive");
    // A refusal of an authenticated officer names the officer and station (S2); an attempt that
    // failed authentication (an unknown officer, a deactivated one) is recorded as such, under
    // UNAUTHENTICATED, with the names it claimed — never in an officer's name.
    let records: Vec<_> = w
        .engine
        .records(1)
        .unwrap()
        .map(Result::unwrap)
        .map(|(_, r)| r)
        .collect();
    let refusals: Vec<_> = records
        .iter()
        .filter(|r| matches!(r.event, idcard::model::Event::CommandRefusedV2(_)))
        .map(|r| r.actor.clone())
        .collect();
    assert_eq!(refusals, vec![elsewhere, nowhere]);
    let failed: Vec<_> = records
        .iter()
        .filter_map(|r| match &r.event {
            idcard::model::Event::AuthenticationFailed(f) => {
                Some((r.actor.clone(), f.claimed_officer.clone(), f.code.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        vec![
            (
                Actor::unauthenticated(),
                stranger.officer,
                "unknown_officer".into()
            ),
            (
                Actor::unauthenticated(),
                hr.officer,
                "officer_inactive".into()
            ),
        ]
    );
    // The bootstrap is for empty systems only.
    let again = w.engine.with_state(|s| {
        (
            s.stations.values().next().unwrap().clone(),
            s.officers.values().next().unwrap().clone(),
        )
    });
    assert_eq!(refused(w.engine.bootstrap(again.0, again.1)), "not_empty");
}

/// The state is a pure function of the journal: reopening (replay from the start, or from a
/// checkpoint) rebuilds every registry exactly.
#[test]
fn journal_replay_and_checkpoint_rebuild_the_state_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    w.engine
        .report_loss(&hr, &loss(w.bob_card, InPerson::holder(w.bob)))
        .unwrap();
    w.engine
        .report_hit(w.actor(StationKind::CheckingUnit), w.dan_card, "x")
        .unwrap();
    let _ = w
        .engine
        .report_loss(&hr, &loss(w.alice_card, InPerson::holder(w.bob)));
    let before = w.engine.with_state(|s| s.to_memory().unwrap());
    let clock = w.clock.clone();
    drop(w);
    let (e, report) = Engine::open(dir.path(), options(clock.clone())).unwrap();
    assert_eq!(report.checkpoint_seq, None);
    assert_eq!(report.replayed, before.last_seq);
    assert_eq!(e.with_state(|s| s.to_memory().unwrap()), before);
    e.checkpoint().unwrap();
    e.add_blacklist(
        &signed("B0001", "110105-PSB"),
        "11010519491231002X".parse().unwrap(),
        BlacklistEntry::new(BlacklistReasons::PASSPORT | BlacklistReasons::FORGED),
    )
    .unwrap();
    let after = e.with_state(|s| s.to_memory().unwrap());
    drop(e);
    let (e, report) = Engine::open(dir.path(), options(clock.clone())).unwrap();
    assert_eq!(report.checkpoint_seq, Some(before.last_seq));
    assert_eq!(report.replayed, 1);
    assert_eq!(e.with_state(|s| s.to_memory().unwrap()), after);
    drop(e);
    // A damaged checkpoint is skipped (and reported); replay from the start gives the same.
    let ckpt = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&ckpt, bytes).unwrap();
    let (e, report) = Engine::open(dir.path(), options(clock)).unwrap();
    assert_eq!(report.checkpoint_seq, None);
    assert_eq!(
        report.checkpoints_skipped.len(),
        1,
        "{:?}",
        report.checkpoints_skipped
    );
    assert_eq!(e.with_state(|s| s.to_memory().unwrap()), after);
}

/// A population store rebuilt behind a checkpoint (set aside, or an empty PostgreSQL schema)
/// and written while the journal replays — every change here — tags each write with the record
/// it reflects: every person and card is there, and reopening on it replays nothing twice or
/// skips nothing. (The first version tagged mid-replay writes with the checkpoint's sequence and
/// then skipped the records up to it.)
#[test]
fn a_store_rebuilt_behind_a_checkpoint_while_replaying_misses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    w.engine
        .report_loss(&hr, &loss(w.bob_card, InPerson::holder(w.bob)))
        .unwrap();
    w.engine.checkpoint().unwrap();
    let before = w.engine.with_state(|s| s.to_memory().unwrap());
    let clock = w.clock.clone();
    drop(w);
    let provider = test_store().unwrap_or_else(|| std::sync::Arc::new(idcard::store::Embedded));
    idcard::store::StoreProvider::set_aside(provider.as_ref(), dir.path()).unwrap();
    let every_change = |clock| EngineOptions {
        store_flush_every: 1,
        ..options(clock)
    };
    let (e, report) = Engine::open(dir.path(), every_change(clock.clone())).unwrap();
    assert_eq!(report.store_seq, 0);
    assert_eq!(report.checkpoint_seq, Some(before.last_seq));
    assert_eq!(e.with_state(|s| s.to_memory().unwrap()), before);
    drop(e);
    let (e, report) = Engine::open(dir.path(), every_change(clock)).unwrap();
    assert_eq!(report.store_seq, before.last_seq);
    assert_eq!(report.replayed, 0);
    assert_eq!(e.with_state(|s| s.to_memory().unwrap()), before);
    drop(e);
    let check = idcard::engine::verify_journal_with(dir.path(), None, &[], test_store().as_deref())
        .unwrap();
    assert!(check.ok(), "{check:?}");
}

#[test]
fn s1_data_directory_is_locked_against_a_second_writer() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    match Engine::open(dir.path(), options(w.clock.clone())) {
        Err(EngineError::Locked(_)) => {}
        other => panic!("{other:?}"),
    }
}

/// Publishing: a bank snapshot (no blacklist) and a delta since it; the verifier then answers
/// what the record says, for every card.
#[test]
fn l3_a6_publish_snapshot_and_delta() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    w.engine
        .report_loss(&hr, &loss(w.bob_card, InPerson::holder(w.bob)))
        .unwrap();
    w.engine
        .add_blacklist(
            &w.bureau,
            w.dan,
            BlacklistEntry::new(BlacklistReasons::FORGED_STATE_CERTIFICATE),
        )
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let bank = w
        .engine
        .publish_snapshot(&w.ministry, Profile::Bank, out.path().join("bank.idcs"))
        .unwrap();
    let police = w
        .engine
        .publish_snapshot(&w.ministry, Profile::Police, out.path().join("police.idcs"))
        .unwrap();
    // Bob's lost card, and Carl's: registered after his death, it was registered invalidated.
    assert_eq!((bank.cards, bank.blacklist, police.blacklist), (2, 0, 1));
    assert_eq!(
        refused(
            w.engine
                .publish_snapshot(&hr, Profile::Bank, out.path().join("x.idcs"))
        ),
        "station_kind_not_allowed"
    );
    // More changes, then deltas.
    w.engine
        .cancel_loss(&hr, CardRef::card(w.bob_card), &InPerson::holder(w.bob))
        .unwrap();
    w.engine
        .report_loss(
            &hr,
            &LossRequest {
                card: CardRef::card(w.dan_card),
                stolen: true,
                present: InPerson::holder(w.dan),
            },
        )
        .unwrap();
    w.engine
        .remove_blacklist(&w.bureau, w.dan, "appeal")
        .unwrap();
    let d = w
        .engine
        .publish_delta(
            &w.ministry,
            out.path().join("bank.idcs"),
            out.path().join("bank-1.idcd"),
        )
        .unwrap();
    assert_eq!((d.from_seq, d.cards, d.blacklist), (bank.to_seq, 2, 0));
    let dp = w
        .engine
        .publish_delta(
            &w.ministry,
            out.path().join("police.idcs"),
            out.path().join("police-1.idcd"),
        )
        .unwrap();
    assert_eq!(dp.blacklist, 1);
    let v = Verifier::open_with(out.path().join("bank.idcs"), VerifierOptions::unsigned()).unwrap();
    assert_eq!(v.verify(w.bob_card), CardStatus::Lost);
    v.apply_delta_file(out.path().join("bank-1.idcd")).unwrap();
    let vp =
        Verifier::open_with(out.path().join("police.idcs"), VerifierOptions::unsigned()).unwrap();
    assert!(vp.blacklist_check(w.dan).unwrap().is_some());
    vp.apply_delta_file(out.path().join("police-1.idcd"))
        .unwrap();
    assert_eq!(vp.blacklist_check(w.dan).unwrap(), None);
    w.engine.with_state(|s| {
        s.cards
            .for_each(|card| {
                let key = card.key;
                assert_eq!(v.verify(key), card.status, "{key:?}");
                assert_eq!(vp.verify(key), card.status, "{key:?}");
            })
            .unwrap();
    });
}

/// S1: no station acts outside its jurisdiction. For every command of territorial jurisdiction
/// whose subject is named directly (a station, an officer, a person, a card), run by a county
/// bureau in Chaoyang (110105), by the Beijing provincial department and by the ministry: a
/// subject in Chaoyang is inside all three, one in Guangzhou (440106) outside the first two —
/// refused as `outside_jurisdiction` exactly then, and the refusal recorded. (The commands that
/// name an application or a temporary card are held by `tests/offsite.rs`: reviewing Bob's
/// application from Chaoyang, issuing Dan's temporary card from Guangzhou.)
#[test]
fn s1_jurisdiction_every_territorial_command_inside_and_outside() {
    use idcard::station::{Jurisdiction, Station, jurisdiction};
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let beijing = {
        let a = w.station(StationKind::ProvincialDepartment, 110000);
        assert_eq!(a.station.as_str(), "110000-provincial-department");
        a
    };
    let div = |c| idcard::DivisionCode::new(c).unwrap();
    let mut n = 0;
    let mut run = |who: &Actor, command: CommandKind, inside: bool| -> Result<(), EngineError> {
        n += 1;
        let (d, person, officer_station, officer) = if inside {
            (110105, w.alice, "S00-household-registration-station", "P00")
        } else {
            (440106, w.bob, "S01-registration-hall", "P01")
        };
        let e = &w.engine;
        match command {
            CommandKind::RegisterStation => e.register_station(
                who,
                Station {
                    id: format!("NEW-{n}").parse().unwrap(),
                    kind: StationKind::LostAndFoundWindow,
                    division: div(d),
                    name: "new".into(),
                },
            ),
            CommandKind::RegisterOfficer => e.register_officer(
                who,
                Officer {
                    id: format!("NEW-{n}").parse().unwrap(),
                    name: "new".into(),
                    station: officer_station.parse().unwrap(),
                    active: true,
                    key: Some(public_key_of(format!("NEW-{n}"))),
                },
            ),
            CommandKind::SetOfficerKey => e.set_officer_key(
                who,
                &officer.parse().unwrap(),
                public_key_of(format!("{officer} key {n}")),
            ),
            // (Deactivated once inside: later cases are refused as already inactive, which is
            // not a jurisdiction refusal.)
            CommandKind::DeactivateOfficer => e.deactivate_officer(who, &officer.parse().unwrap()),
            CommandKind::RegisterPeople => e
                .register_people(
                    who,
                    vec![idcard::population::Person {
                        number: number(&format!("{d}19900101{:03}", n % 1000)),
                        name: "new".into(),
                        hukou_division: div(d),
                        category: idcard::population::PersonCategory::Civilian,
                        fingerprint: None,
                        contact: None,
                        deceased: false,
                        fee_exempt: false,
                    }],
                )
                .map(drop),
            CommandKind::RecordDeath => e.record_death(who, person),
            CommandKind::RegisterCards => e
                .register_cards(
                    who,
                    vec![idcard::model::CardRegistration {
                        key: CardKey::new(person, date(2000, 1, 1) + chrono::Days::new(n)).unwrap(),
                        period: idcard::ValidityPeriod::TwentyYears,
                        fingerprints: false,
                    }],
                )
                .map(drop),
            CommandKind::AddBlacklist => {
                e.add_blacklist(who, person, BlacklistEntry::new(BlacklistReasons::FORGED))
            }
            CommandKind::RemoveBlacklist => e.remove_blacklist(who, person, "test"),
            CommandKind::RecordGuardians => e
                .execute(
                    who,
                    &idcard::workflow::registry::RecordGuardians(vec![(person, w.dan)]),
                )
                .map(drop),
            _ => unreachable!(),
        }
    };
    let direct = [
        CommandKind::RegisterStation,
        CommandKind::RegisterOfficer,
        CommandKind::SetOfficerKey,
        CommandKind::DeactivateOfficer,
        CommandKind::RegisterPeople,
        CommandKind::RecordDeath,
        CommandKind::RegisterCards,
        CommandKind::AddBlacklist,
        CommandKind::RemoveBlacklist,
        CommandKind::RecordGuardians,
    ];
    let named_elsewhere = [
        CommandKind::ReviewApplication,
        CommandKind::ApplyTemporaryCard,
        CommandKind::IssueTemporaryCard,
        CommandKind::ReturnTemporaryCard,
    ];
    for c in CommandKind::ALL {
        let territorial = jurisdiction(c) == Jurisdiction::Territorial;
        assert_eq!(
            territorial,
            direct.contains(&c) || named_elsewhere.contains(&c),
            "{c:?}: a territorial command is tested here or in tests/offsite.rs"
        );
    }
    for c in direct {
        for (who, reach_outside) in [(&w.bureau, false), (&beijing, false), (&w.ministry, true)] {
            let kind = w.engine.with_state(|s| s.stations[&who.station].kind);
            if !allowed(c, kind) {
                continue;
            }
            for inside in [true, false] {
                let r = run(who, c, inside);
                let code = r.as_ref().err().and_then(|e| e.refusal()).map(|r| r.code);
                let want_refused = !inside && !reach_outside;
                assert_eq!(
                    code == Some("outside_jurisdiction"),
                    want_refused,
                    "{c:?} by {} on a subject {}: {r:?}",
                    who.station,
                    if inside { "inside" } else { "outside" }
                );
            }
        }
    }
    let refusals: u64 = w.engine.with_state(|s| {
        s.stats
            .refusals
            .iter()
            .filter(|((_, c), _)| c == "outside_jurisdiction")
            .map(|(_, n)| n)
            .sum()
    });
    assert!(
        refusals >= 8,
        "every outside attempt is recorded: {refusals}"
    );
}

/// `docs/AUTHORIZATION.md` is the matrix as the code has it (regenerate with IDCARD_BLESS=1).
#[test]
fn s1_authorization_doc_matches_the_code() {
    let mut md = String::from(
        "# Who may run what (S1)\n\nGenerated from `idcard::station::allowed` and \
         `idcard::station::jurisdiction` by the test `s1_authorization_doc_matches_the_code` \
         (`IDCARD_BLESS=1` regenerates it). Besides the station kind, every command needs a \
         registered, active officer of that station; anything else is refused and the refusal \
         recorded.\n\n**Jurisdiction.** A command marked *territorial* acts on something with a \
         division (a registered station, an officer's station, a person's household \
         registration, an application's hukou place), which must lie within the acting \
         station's territory: the nation for the ministry, its province for a provincial \
         department, its own division for any other station (a county; a prefecture-level code \
         covers the prefecture). Otherwise it is refused as `outside_jurisdiction`. \
         *Nationwide* commands may act anywhere (L1, F1, L4, A8; off-site acceptance within the \
         rollout). Stations are registered from above: the ministry registers provincial \
         departments and anything below, a provincial department county bureaus and below, a \
         county bureau the other kinds (`StationKind::may_register`).\n\n| command | jurisdiction |",
    );
    for k in StationKind::ALL {
        md.push_str(&format!(" {} |", k.as_str()));
    }
    md.push_str("\n|---|---|");
    for _ in StationKind::ALL {
        md.push_str("---|");
    }
    md.push('\n');
    for c in CommandKind::ALL {
        let j = match idcard::station::jurisdiction(c) {
            idcard::station::Jurisdiction::Nationwide => "nationwide",
            idcard::station::Jurisdiction::Territorial => "territorial",
        };
        md.push_str(&format!("| {c:?} | {j} |"));
        for k in StationKind::ALL {
            md.push_str(if allowed(c, k) { " yes |" } else { " |" });
        }
        md.push('\n');
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/AUTHORIZATION.md");
    if std::env::var_os("IDCARD_BLESS").is_some() {
        std::fs::write(&path, &md).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        md,
        "docs/AUTHORIZATION.md is out of date"
    );
}

/// Issue 19: a record that runs for months without closing opens in seconds whatever its
/// journal's length: the command that crosses `checkpoint_every` records writes a checkpoint
/// (and the population store), so an engine dropped without closing replays only the tail.
#[test]
fn a_checkpoint_is_written_while_running_once_checkpoint_every_records_are_added() {
    let dir = tempfile::tempdir().unwrap();
    let w = world_with(dir.path(), |o| EngineOptions {
        checkpoint_every: 20,
        ..o
    });
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let bank = w.actor(StationKind::CheckingUnit).clone();
    for i in 0..30 {
        w.engine
            .report_hit(&bank, w.dan_card, &format!("hit {i}"))
            .unwrap();
    }
    w.engine
        .report_loss(&hr, &loss(w.bob_card, InPerson::holder(w.bob)))
        .unwrap();
    let last = w.engine.last_seq();
    let (clock, bob_card) = (w.clock.clone(), w.bob_card);
    drop(w); // no close: as after a crash
    let (e, report) = Engine::open(dir.path(), options(clock)).unwrap();
    let at = report
        .checkpoint_seq
        .expect("a checkpoint written while running");
    assert!(at + 20 > last, "checkpoint at {at}, last record {last}");
    assert!(report.replayed < 20, "{report:?}");
    assert_eq!(
        e.with_state(|s| s.cards.status(bob_card)).unwrap(),
        idcard::index::CardStatus::Lost
    );
}

/// L3 at national scale: a full snapshot's cards are read from the population store's view
/// taken under the engine's lock, after the lock is released (issue 19: at 10^8 people the
/// read takes most of a minute, and commands go on meanwhile). Commands and a flush of the store
/// after the start do not change what the snapshot holds: the record as of its start.
#[test]
fn l3_a_snapshot_holds_the_record_as_of_its_start_while_commands_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    // Bob's card reported lost and written to the store: in the store's view.
    w.engine
        .report_loss(&hr, &loss(w.bob_card, InPerson::holder(w.bob)))
        .unwrap();
    w.engine.checkpoint().unwrap();
    // Dan's card reported lost, not yet written to the store: in the changes copied with the
    // view.
    w.engine
        .report_loss(&hr, &loss(w.dan_card, InPerson::holder(w.dan)))
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let source = w
        .engine
        .with_state(|s| {
            idcard::projection::files::snapshot_source(s, Profile::Bank, start_time(), out.path())
        })
        .unwrap();
    // After the start: Alice's card reported lost (her fingerprints compared: L2) and the
    // store written.
    w.engine
        .report_loss(
            &hr,
            &loss(
                w.alice_card,
                InPerson::holder(w.alice).with_fingerprint("alice-fp"),
            ),
        )
        .unwrap();
    w.engine.checkpoint().unwrap();
    let path = out.path().join("bank.idcs");
    source.finish().unwrap().write(&path).unwrap();
    let v = Verifier::open_with(&path, VerifierOptions::unsigned()).unwrap();
    assert_eq!(v.verify(w.bob_card), CardStatus::Lost);
    assert_eq!(v.verify(w.dan_card), CardStatus::Lost);
    assert_eq!(v.verify(w.alice_card), CardStatus::Valid);
    // A snapshot started now has all three.
    let now = out.path().join("now.idcs");
    w.engine
        .with_state(|s| {
            idcard::projection::files::snapshot_builder(s, Profile::Bank, start_time(), out.path())
        })
        .unwrap()
        .write(&now)
        .unwrap();
    let v = Verifier::open_with(&now, VerifierOptions::unsigned()).unwrap();
    assert_eq!(v.verify(w.alice_card), CardStatus::Lost);
}
