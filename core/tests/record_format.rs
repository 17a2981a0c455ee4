//! The journal's and the checkpoints' formats, held by golden files (docs/FORMAT.md §8, §9):
//! one data directory per format version under `core/tests/golden/`, read back by today's code.
//! A change of an event payload, of an enum's variant order or of the record envelope fails
//! here; a format change is a decision made by adding a version (and its golden files), never a
//! side effect.
//!
//! `core/tests/golden/data-vN/` holds a data directory as each format generation wrote it:
//! `data-v1` (record version 1, checkpoint format 1, main up to c5b267a), `data-v2` (record
//! version 2, checkpoint format 2), `data-v3` (record version 2 with the payloads added since,
//! checkpoint format 3, journal segments of format 1), `data-v4` (journal segments of format 2
//! with the hash chain, checkpoint format 4), `data-v5` (record version 3 with officers'
//! signatures, officers' keys, checkpoint format 5), `data-v6` (applications at home, guardians
//! and escalations, checkpoint format 6), `data-v7` (the current: the same journal, checkpoint
//! format 7 without people and cards, which are in the population store — not kept here: the
//! store is rebuilt from the journal at open, docs/FORMAT.md §10). The older ones are frozen; `IDCARD_BLESS=1 cargo test -p
//! idcard --test record_format` rewrites the current one from the scenario (only when the format
//! is meant to change: then first freeze it as the next `data-vN`).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use idcard::DivisionCode;
use idcard::engine::{Engine, InPerson};
use idcard::index::{BlacklistEntry, BlacklistReasons, Profile};
use idcard::model::Record;
use idcard::policy::Policy;
use idcard::station::{Actor, CommandKind, Officer, Station, StationKind};
use idcard::workflow::Commands;
use idcard::workflow::blacklist::CsvCreditFeed;
use idcard::workflow::loss::{CardRef, LossRequest};
use idcard::workflow::offsite::{Appearance, ApplicationKind, ApplicationRequest, Materials};
use idcard::workflow::temporary::{MissingCard, TempCardMaterials, Trip};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Copy a golden directory (the engine writes its lock and secrets into what it opens).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Every kind of event at least once: the world of `common`, then loss and withdrawal, a hit
/// and its acknowledgement, found cards returned and destroyed, blacklist entries and a push,
/// a policy, applications renewed, replaced and rejected, a temporary card, temporary
/// certificates, publications, an officer deactivated, a checkpoint, one record after it.
fn scenario(dir: &Path) -> World {
    // Fixed secrets, so what they derive (subscribers' seeds) is the same every run.
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/pseudonym.key"), [7u8; 32]).unwrap();
    std::fs::write(dir.join("secrets/subscriber.key"), [8u8; 32]).unwrap();
    // A fixed journal-head key, so the signed checkpoint is the same every run.
    idcard::trust::SecretKey::from_seed(idcard::trust::Algorithm::Ed25519, [9; 32], "test head")
        .write_files(dir.join("secrets/journal-head.key"))
        .unwrap();
    let w = world(dir);
    let div = |c| DivisionCode::new(c).unwrap();
    let st = |id: &str, kind, d: u32, officer: &str| {
        let station = Station {
            id: id.parse().unwrap(),
            kind,
            division: div(d),
            name: id.into(),
        };
        w.engine.register_station(&w.ministry, station).unwrap();
        let o = Officer {
            id: officer.parse().unwrap(),
            name: officer.into(),
            station: id.parse().unwrap(),
            active: true,
            key: Some(common::public_key_of(officer)),
        };
        w.engine.register_officer(&w.ministry, o).unwrap();
        signed_counting(officer, id)
    };
    let gz = st("GZ-PSB", StationKind::CountyBureau, 440106, "G1");
    let gz_point = st(
        "GZ-POINT",
        StationKind::OffsiteAcceptancePoint,
        440106,
        "G2",
    );
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let point = w.actor(StationKind::OffsiteAcceptancePoint).clone();
    let window = w.actor(StationKind::LostAndFoundWindow).clone();
    let unit = w.actor(StationKind::CheckingUnit).clone();
    let airport = w.actor(StationKind::AirportPolice).clone();
    let e = &w.engine;
    let loss = |card, stolen, present| LossRequest {
        card,
        stolen,
        present,
    };
    // A refusal (Carl died in world()).
    e.report_loss(
        &hr,
        &loss(CardRef::newest(w.carl), false, InPerson::holder(w.carl)),
    )
    .unwrap_err();
    w.clock.advance(chrono::Duration::minutes(5));
    let alice_fp = || InPerson::holder(w.alice).with_fingerprint("alice-fp");
    e.report_loss(&hr, &loss(CardRef::card(w.alice_card), true, alice_fp()))
        .unwrap();
    e.cancel_loss(&hr, CardRef::card(w.alice_card), &alice_fp())
        .unwrap();
    let hit = e
        .report_hit(&unit, w.dan_card, "presented by someone else")
        .unwrap();
    let routed = w
        .by_kind
        .iter()
        .find(|(_, a)| a.station == hit.routed_to)
        .map(|(_, a)| a.clone())
        .unwrap();
    e.acknowledge_hit(&routed, hit.id, "followed up").unwrap();
    e.intake_found(&window, w.dan_card, Some("a finder"))
        .unwrap();
    e.return_found(&window, w.dan_card, &InPerson::holder(w.dan), "IMG-0001")
        .unwrap();
    e.add_blacklist(
        &w.bureau,
        w.alice,
        BlacklistEntry::new(BlacklistReasons::FORGED_STATE_CERTIFICATE),
    )
    .unwrap();
    let csv = format!(
        "number,reason,source,listed_on\n{},bad_credit,,2025-12-01\n{},bad_credit,,\n",
        number("11010519800101001"),
        number("11010519800101002")
    );
    e.import_credit_push(
        &w.ministry,
        &mut CsvCreditFeed::new(csv.as_bytes()),
        &mut |_| {},
    )
    .unwrap();
    e.remove_blacklist(&w.bureau, w.alice, "appeal upheld")
        .unwrap();
    let mut p = Policy {
        processing_days: 30,
        ..Policy::default()
    };
    p.rollout.intra_province.push((44, date(2016, 7, 1)));
    e.set_policy(&w.ministry, p).unwrap();
    // Bob (hukou 440106) renews off-site in Beijing: accepted, approved, extended, produced, issued.
    let request = |kind, holder, present| ApplicationRequest {
        kind,
        card: CardRef::newest(holder),
        present,
        appearance: Appearance::Matches,
        materials: Materials::complete(kind),
        fingerprints: kind != ApplicationKind::Replacement,
        guardian: None,
        hardship_certificate: false,
        unit_application: false,
    };
    let bob_app = e
        .apply_offsite(
            &point,
            &request(ApplicationKind::Renewal, w.bob, InPerson::holder(w.bob)),
        )
        .unwrap();
    e.review_application(&gz, bob_app.id, true, "identity confirmed")
        .unwrap();
    e.extend_deadline(&gz, bob_app.id, 10, "remote area")
        .unwrap();
    w.clock.advance(chrono::Duration::days(2));
    e.produce_card(&point, bob_app.id).unwrap();
    let receipt = e.with_state(|s| s.applications[&bob_app.id].pickup_receipt.clone());
    e.issue_card(
        &point,
        bob_app.id,
        &receipt,
        &InPerson::holder(w.bob),
        true,
        false,
    )
    .unwrap();
    // Bob's old card handed in afterwards: destroyed (F2).
    e.intake_found(&window, w.bob_card, None).unwrap();
    // Dan (hukou 110105, an active serviceman: never off-site, L5) replaces at home, takes a
    // temporary card there.
    let dan_app = e
        .apply_offsite(
            &hr,
            &request(ApplicationKind::Replacement, w.dan, InPerson::holder(w.dan)),
        )
        .unwrap();
    let t = e
        .apply_temporary_card(
            &hr,
            w.dan,
            &InPerson::holder(w.dan),
            None,
            TempCardMaterials::COMPLETE,
        )
        .unwrap();
    e.issue_temporary_card(&w.bureau, t.id).unwrap();
    e.review_application(&w.bureau, dan_app.id, true, "ok")
        .unwrap();
    w.clock.advance(chrono::Duration::days(1));
    e.produce_card(&hr, dan_app.id).unwrap();
    let receipt = e.with_state(|s| s.applications[&dan_app.id].pickup_receipt.clone());
    e.issue_card(
        &hr,
        dan_app.id,
        &receipt,
        &InPerson::holder(w.dan),
        false,
        true,
    )
    .unwrap();
    // Alice: a damaged renewal rejected at review.
    let mut alice_req = request(ApplicationKind::DamagedRenewal, w.alice, alice_fp());
    alice_req.appearance = Appearance::ChangedGreatly;
    let alice_app = e.apply_offsite(&gz_point, &alice_req).unwrap();
    e.review_application(&w.bureau, alice_app.id, false, "photo does not match")
        .unwrap();
    // Temporary certificates: one issued and used, two more.
    let c = e
        .issue_temporary_certificate(
            &airport,
            w.bob,
            MissingCard::Forgotten,
            Trip::Flight("CA1831 2026-01-18".into()),
        )
        .unwrap();
    e.use_temporary_certificate(&unit, c.id, w.bob, "CA1831 2026-01-18")
        .unwrap();
    e.issue_temporary_certificate(
        &airport,
        w.alice,
        MissingCard::Lost,
        Trip::Flight("MU5101 2026-01-19".into()),
    )
    .unwrap();
    e.issue_temporary_certificate(
        &airport,
        w.alice,
        MissingCard::Stolen,
        Trip::Flight("CZ3101 2026-01-19".into()),
    )
    .unwrap();
    // Publications (a refusal between them: the fingerprint does not match).
    let out = tempfile::tempdir().unwrap();
    e.publish_snapshot(&w.ministry, Profile::Police, out.path().join("police.idcs"))
        .unwrap();
    let bad = InPerson::holder(w.bob).with_fingerprint("no-fp");
    e.report_loss(&hr, &loss(CardRef::newest(w.bob), false, bad))
        .unwrap_err();
    e.publish_delta(
        &w.ministry,
        out.path().join("police.idcs"),
        out.path().join("police-1.idcd"),
    )
    .unwrap();
    e.deactivate_officer(&w.ministry, &"G2".parse().unwrap())
        .unwrap();
    e.checkpoint().unwrap();
    e.report_loss(&hr, &loss(CardRef::card(w.alice_card), false, alice_fp()))
        .unwrap();
    w
}

/// The scenario, then what came after record version 2 began: a subscriber registered and a
/// signed snapshot of its own published (after the checkpoint).
fn scenario_current(dir: &Path) -> World {
    let w = scenario(dir);
    let sub: idcard::station::SubscriberId = "BANK-ICBC".parse().unwrap();
    w.engine
        .register_subscriber(&w.ministry, sub.clone(), "a bank", Profile::Bank)
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let root = idcard::trust::SecretKey::from_seed(
        idcard::trust::Algorithm::Ed25519,
        [1; 32],
        "test root",
    );
    let options = idcard::workflow::publish::PublishOptions {
        signer: Some(std::sync::Arc::new(root.signer(None))),
        subscriber: Some(sub),
    };
    w.engine
        .publish_snapshot_with(
            &w.ministry,
            Profile::Bank,
            out.path().join("bank.idcs"),
            &options,
        )
        .unwrap();
    // Record version 3: an officer's new key, an attempt that fails authentication, a read of
    // personal data (every record signed). Since data-v6: a child and her guardian on record,
    // a first application at home through the guardian, overdue applications escalated (A4).
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    w.engine
        .set_officer_key(
            &w.ministry,
            &"G1".parse().unwrap(),
            public_key_of("G1 again"),
        )
        .unwrap();
    let unsigned = Actor::new(hr.officer.as_str(), hr.station.as_str()).unwrap();
    assert!(w.engine.record_death(&unsigned, w.alice).is_err());
    w.engine
        .read_personal(
            &hr,
            "card_show",
            Some(idcard::model::Subject::Person(w.alice)),
            "golden scenario",
            |s| ((), s.cards.of(w.alice).unwrap().len() as u64),
        )
        .unwrap();
    let child = number("11010520150601002");
    w.engine
        .register_people(
            &w.bureau,
            vec![idcard::population::Person {
                number: child,
                name: "Eve".into(),
                hukou_division: DivisionCode::new(110105).unwrap(),
                category: idcard::population::PersonCategory::Civilian,
                fingerprint: None,
                contact: None,
                deceased: false,
                fee_exempt: false,
            }],
        )
        .unwrap();
    w.engine
        .execute(
            &w.bureau,
            &idcard::workflow::registry::RecordGuardians(vec![(child, w.alice)]),
        )
        .unwrap();
    let mut first = ApplicationRequest::new(
        ApplicationKind::FirstApplication,
        idcard::engine::CardRef::newest(child),
    );
    first.present = InPerson::holder(w.alice);
    first.guardian = Some(w.alice);
    w.engine.apply_offsite(&hr, &first).unwrap();
    w.clock.advance(chrono::Duration::days(61));
    w.engine
        .execute(&w.bureau, &idcard::workflow::offsite::EscalateOverdue)
        .unwrap();
    w
}

/// The state, one fact per line, in the form `golden/data-v1/expected.tsv` was written in.
fn summary(engine: &Engine) -> Vec<String> {
    let mut lines = Vec::new();
    for item in engine.records(1).unwrap() {
        let (seq, r) = item.unwrap();
        lines.push(format!(
            "record\t{seq}\t{}\t{}@{}\t{}",
            r.at_ms,
            r.actor.officer,
            r.actor.station,
            r.event.kind()
        ));
    }
    engine.with_state(|s| {
        let mut cards = Vec::new();
        s.cards.for_each(|c| cards.push(c.clone())).unwrap();
        cards.sort_by_key(|c| c.key);
        for c in cards {
            lines.push(format!(
                "card\t{}\t{}\t{:?}\t{}\t{}\t{:?}\t{}",
                c.key.number(),
                c.key.valid_from(),
                c.period,
                c.fingerprints,
                c.status.as_str(),
                c.changed_on,
                c.reason
            ));
        }
        for a in s.applications.values() {
            lines.push(format!(
                "application\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:?}\t{}\t{:?}\t{:?}",
                a.id,
                a.kind.as_str(),
                a.number,
                a.old_card
                    .map_or("-".to_string(), |k| k.valid_from().to_string()),
                a.point,
                a.hukou_bureau,
                a.accepted_on,
                a.deadline,
                a.extended_days,
                a.fee_fen,
                a.period,
                a.pickup_receipt,
                a.new_card.map(|k| k.valid_from()),
                a.state
            ));
            // Since data-v6 (absent from older records).
            if a.place == idcard::model::Place::Home || a.guardian.is_some() || a.escalated {
                lines.push(format!(
                    "application_v2\t{}\t{}\t{:?}\t{:?}\t{}",
                    a.id,
                    a.place.as_str(),
                    a.guardian,
                    a.fee_relief,
                    a.escalated
                ));
            }
        }
        for t in s.temp_cards.values() {
            lines.push(format!(
                "temp_card\t{}\t{}\t{:?}\t{}\t{}\t{}\t{}\t{:?}\t{:?}",
                t.id,
                t.number,
                t.guardian,
                t.station,
                t.applied_on,
                t.issue_by,
                t.fee_fen,
                t.issued,
                t.state
            ));
        }
        for c in s.temp_certs.values() {
            lines.push(format!(
                "temp_cert\t{}\t{}\t{:?}\t{:?}\t{}\t{}\t{}\t{:?}",
                c.id, c.number, c.missing, c.trip, c.station, c.issued_ms, c.valid_until_ms, c.used
            ));
        }
        let mut found: Vec<_> = s.found.values().collect();
        found.sort_by_key(|f| f.card);
        for f in found {
            lines.push(format!(
                "found\t{}\t{}\t{}\t{}\t{:?}\t{:?}\t{:?}",
                f.card.number(),
                f.card.valid_from(),
                f.window,
                f.at_ms,
                f.finder,
                f.outcome,
                f.notified
            ));
        }
        for h in s.hits.values() {
            let ack = h
                .acknowledged
                .as_ref()
                .map(|a| (a.at_ms, a.officer.clone(), a.note.clone()));
            lines.push(format!(
                "hit\t{}\t{}\t{}@{}\t{}\t{}\t{}\t{:?}",
                h.id,
                h.card.number(),
                h.by.officer,
                h.by.station,
                h.routed_to,
                h.at_ms,
                h.note,
                ack
            ));
        }
        let mut bl: Vec<_> = s.blacklist.iter().collect();
        bl.sort_by_key(|(n, _)| **n);
        for (n, b) in bl {
            lines.push(format!(
                "blacklist\t{n}\t{}\t{}\t{:?}\t{}@{}",
                b.entry.reasons,
                b.entry.source.as_str(),
                b.entry.listed_on,
                b.by.officer,
                b.by.station
            ));
        }
        for st in s.stations.values() {
            lines.push(format!(
                "station\t{}\t{}\t{}\t{}",
                st.id, st.kind, st.division, st.name
            ));
        }
        for o in s.officers.values() {
            lines.push(format!(
                "officer\t{}\t{}\t{}\t{}",
                o.id, o.name, o.station, o.active
            ));
        }
        let mut people = Vec::new();
        s.people.for_each(|p| people.push(p.clone())).unwrap();
        people.sort_by_key(|p| p.number);
        for p in people {
            lines.push(format!(
                "person\t{}\t{}\t{}\t{}\t{}\t{:?}\t{}\t{}",
                p.number,
                p.name,
                p.hukou_division,
                p.category.as_str(),
                p.fingerprint.is_some(),
                p.contact,
                p.deceased,
                p.fee_exempt
            ));
        }
        lines.push(format!(
            "policy\t{}",
            serde_json::to_string(&s.policy).unwrap()
        ));
        for (k, n) in &s.stats.events {
            lines.push(format!("event_count\t{k}\t{n}"));
        }
        for ((c, code), n) in &s.stats.refusals {
            lines.push(format!("refusal_count\t{c:?}\t{code}\t{n}"));
        }
        lines.push(format!("last\t{}\t{}", s.last_seq, s.last_at_ms));
    });
    lines
}

fn expected(name: &str) -> Vec<String> {
    std::fs::read_to_string(golden(name).join("expected.tsv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn assert_same(got: &[String], want: &[String]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    assert_eq!(got.len(), want.len(), "number of lines");
}

fn segments(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir.join("journal"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A record written by main before payload types (record version 1) opens with the state that
/// code had; its format-1 checkpoint is skipped with the reason and the journal replayed.
#[test]
fn record_v1_from_the_previous_main_opens_with_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden("data-v1"), dir.path());
    let (engine, report) = Engine::open(dir.path(), options(clock())).unwrap();
    assert_eq!(report.checkpoint_seq, None);
    assert_eq!(report.replayed, 66);
    assert_eq!(
        report.checkpoints_skipped.len(),
        1,
        "{:?}",
        report.checkpoints_skipped
    );
    assert!(
        report.checkpoints_skipped[0].contains("format version 1"),
        "{:?}",
        report.checkpoints_skipped
    );
    assert_same(&summary(&engine), &expected("data-v1"));
    // Every version-1 payload decodes; the upcast records read as version-2 records.
    for item in engine.records(1).unwrap() {
        let (_, r) = item.unwrap();
        assert_eq!(Record::decode(&r.encode()).unwrap(), r);
    }
}

/// A record written by record version 2's first code (checkpoint format 2, the `Published`
/// payload before subscribers) opens with the state that code had; its checkpoint is skipped.
#[test]
fn data_v2_opens_with_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden("data-v2"), dir.path());
    let (engine, report) = Engine::open(dir.path(), options(clock())).unwrap();
    assert_eq!((report.checkpoint_seq, report.replayed), (None, 66));
    assert!(
        report.checkpoints_skipped[0].contains("format version 2"),
        "{:?}",
        report.checkpoints_skipped
    );
    assert_same(&summary(&engine), &expected("data-v2"));
}

/// A record written before the hash chain (journal segments of format 1, checkpoint format 3)
/// opens with the same state; its checkpoint is skipped; the next record goes into a format-2
/// segment whose header carries the chain computed over the old records, and the whole journal
/// then checks out from the first record.
#[test]
fn data_v3_opens_with_the_same_state_and_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden("data-v3"), dir.path());
    let (engine, report) = Engine::open(dir.path(), options(clock())).unwrap();
    assert_eq!((report.checkpoint_seq, report.replayed), (None, 68));
    assert!(
        report.checkpoints_skipped[0].contains("format version 3"),
        "{:?}",
        report.checkpoints_skipped
    );
    assert_same(&summary(&engine), &expected("data-v3"));
    let (seq, chain) = engine.head();
    // The chain over the old records is computed as they are read.
    let mut reader = idcard::journal::read_dir(golden("data-v3").join("journal"), 1).unwrap();
    for item in reader.by_ref() {
        item.unwrap();
    }
    assert_eq!((seq, Some(chain)), (68, reader.chain_hash()));
    engine.checkpoint().unwrap();
    drop(engine);
    let check = idcard::engine::verify_journal(dir.path(), None, &[]).unwrap();
    assert!(check.ok(), "{:?}", check.problem);
    assert_eq!(check.records, 68);
    assert_eq!(check.checkpoints, vec![(68, true)]);
    assert!(check.heads.iter().all(|h| h.ok) && check.heads.len() == 1);
}

/// A record of journal format 2 with record version 2 (no signatures, officers without keys)
/// opens with the same state; its checkpoint (format 4) is skipped and the journal replayed, the
/// chain checked.
#[test]
fn data_v4_opens_with_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden("data-v4"), dir.path());
    let (engine, report) = Engine::open(dir.path(), options(clock())).unwrap();
    assert_eq!(report.checkpoint_seq, None);
    assert!(
        report.checkpoints_skipped[0].contains("format version 4"),
        "{:?}",
        report.checkpoints_skipped
    );
    assert_same(&summary(&engine), &expected("data-v4"));
    // Its officers have no keys: one of them is enrolled (only while none has one), and signs.
    let chief = Actor::new("B0001", "110105-PSB").unwrap();
    assert_eq!(
        refused(engine.record_death(&signed("B0001", "110105-PSB"), w_alice())),
        "no_key"
    );
    engine
        .enroll_first_key(&chief.officer, public_key_of("B0001"))
        .unwrap();
    assert_eq!(
        refused(engine.enroll_first_key(&"M0001".parse().unwrap(), public_key_of("M0001"))),
        "keys_in_use"
    );
    engine
        .register_station(
            &signed("B0001", "110105-PSB"),
            Station {
                id: "AFTER-UPGRADE".parse().unwrap(),
                kind: StationKind::LostAndFoundWindow,
                division: DivisionCode::new(110105).unwrap(),
                name: "after".into(),
            },
        )
        .unwrap();
}

/// A record of record version 3 and checkpoint format 5 (before applications at home) opens
/// with the same state; its checkpoint is skipped and the journal replayed.
#[test]
fn data_v5_opens_with_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden("data-v5"), dir.path());
    let (engine, report) = Engine::open(dir.path(), options(clock())).unwrap();
    assert_eq!(report.checkpoint_seq, None);
    assert!(
        report.checkpoints_skipped[0].contains("format version 5"),
        "{:?}",
        report.checkpoints_skipped
    );
    assert_same(&summary(&engine), &expected("data-v5"));
}

/// Alice of the common world (her number).
fn w_alice() -> idcard::IdNumber {
    number("11010519850312002")
}

/// The current version's golden journal is what the scenario writes today, byte for byte, and
/// every record in it decodes and encodes back to the same bytes.
#[test]
fn current_golden_journal_is_what_the_scenario_writes() {
    let dir = tempfile::tempdir().unwrap();
    let w = scenario_current(dir.path());
    drop(w);
    let golden_dir = golden("data-v7");
    if std::env::var_os("IDCARD_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&golden_dir);
        std::fs::create_dir_all(golden_dir.join("journal")).unwrap();
        std::fs::create_dir_all(golden_dir.join("checkpoints")).unwrap();
        for (name, bytes) in segments(dir.path()) {
            std::fs::write(golden_dir.join("journal").join(name), bytes).unwrap();
        }
        for e in std::fs::read_dir(dir.path().join("checkpoints")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), golden_dir.join("checkpoints").join(e.file_name())).unwrap();
        }
        // The test head key that signed the checkpoint (a test key, public in the source).
        std::fs::create_dir_all(golden_dir.join("secrets")).unwrap();
        for name in ["journal-head.key", "journal-head.pub"] {
            std::fs::copy(
                dir.path().join("secrets").join(name),
                golden_dir.join("secrets").join(name),
            )
            .unwrap();
        }
        let (engine, _) = Engine::open(dir.path(), options(clock())).unwrap();
        std::fs::write(
            golden_dir.join("expected.tsv"),
            summary(&engine).join("\n") + "\n",
        )
        .unwrap();
    }
    let (got, want) = (segments(dir.path()), segments(&golden_dir));
    assert_eq!(got.len(), want.len(), "number of segments");
    for ((name, g), (_, w)) in got.iter().zip(&want) {
        let first = g.iter().zip(w).position(|(a, b)| a != b);
        assert!(
            g == w,
            "{name}: the journal's bytes changed (lengths {} and {}, first difference at byte {first:?}): a format change needs a new record version (FORMAT.md §8)",
            g.len(),
            w.len()
        );
    }
    for item in idcard::journal::read_dir(golden_dir.join("journal"), 1).unwrap() {
        let (seq, bytes) = item.unwrap();
        let r = Record::decode(&bytes).unwrap_or_else(|e| panic!("record {seq}: {e}"));
        assert_eq!(r.encode(), bytes, "record {seq} re-encodes differently");
    }
}

/// A record of checkpoint format 6 (people and cards in the checkpoint) opens with the same
/// state; its checkpoint is skipped, the journal replayed and the population store built.
#[test]
fn data_v6_opens_with_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden("data-v6"), dir.path());
    let (engine, report) = Engine::open(dir.path(), options(clock())).unwrap();
    assert_eq!(report.checkpoint_seq, None);
    assert!(
        report.checkpoints_skipped[0].contains("format version 6"),
        "{:?}",
        report.checkpoints_skipped
    );
    assert_same(&summary(&engine), &expected("data-v6"));
}

/// The current version's golden checkpoint loads, and with the population store rebuilt from
/// the journal (the golden directory keeps none) it is the state the journal replays to.
#[test]
fn current_golden_checkpoint_is_the_replayed_state() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden("data-v7"), dir.path());
    let (engine, report) = Engine::open(dir.path(), options(clock())).unwrap();
    assert_eq!(
        report.checkpoint_seq,
        Some(70),
        "{:?}",
        report.checkpoints_skipped
    );
    // People and cards from the first record (no store), the rest after the checkpoint.
    assert_eq!((report.store_seq, report.replayed), (0, 80));
    let from_checkpoint = engine.with_state(|s| s.to_memory().unwrap());
    assert_same(&summary(&engine), &expected("data-v7"));
    drop(engine);
    std::fs::remove_dir_all(dir.path().join("checkpoints")).unwrap();
    // The population store too (set aside: the next open starts it empty).
    let store =
        common::test_store().unwrap_or_else(|| std::sync::Arc::new(idcard::store::Embedded));
    idcard::store::StoreProvider::set_aside(store.as_ref(), dir.path()).unwrap();
    let (engine, _) = Engine::open(dir.path(), options(clock())).unwrap();
    engine.with_state(|s| assert_eq!(s.to_memory().unwrap(), from_checkpoint));
}

/// Enums in the journal are encoded by variant index: each keeps its index (new variants only
/// at the end).
#[test]
fn format_enums_keep_their_variant_indices() {
    fn index<T: serde::Serialize>(v: &T) -> u8 {
        postcard::to_allocvec(v).unwrap()[0]
    }
    let commands: Vec<_> = CommandKind::ALL
        .iter()
        .map(|c| (format!("{c:?}"), index(c)))
        .collect();
    let want = [
        "RegisterStation",
        "RegisterOfficer",
        "DeactivateOfficer",
        "RegisterPeople",
        "RecordDeath",
        "RegisterCards",
        "ReportLoss",
        "CancelLoss",
        "ReportHit",
        "AcknowledgeHit",
        "IntakeFoundCard",
        "ReturnFoundCard",
        "AddBlacklist",
        "RemoveBlacklist",
        "ImportCreditPush",
        "ApplyOffsite",
        "ReviewApplication",
        "ProduceCard",
        "IssueCard",
        "ExtendDeadline",
        "IssueTemporaryCertificate",
        "ApplyTemporaryCard",
        "IssueTemporaryCard",
        "ReturnTemporaryCard",
        "SetPolicy",
        "Publish",
        "UseTemporaryCertificate",
        "RegisterSubscriber",
        "SetOfficerKey",
        "ReadPersonalData",
        "RecordGuardians",
        "EscalateOverdue",
        "VerifyOnline",
        "CheckTemporaryCertificate",
    ];
    assert_eq!(commands.len(), want.len());
    for (i, ((name, idx), w)) in commands.iter().zip(want).enumerate() {
        assert_eq!((name.as_str(), *idx as usize), (w, i), "CommandKind");
    }
    for (i, k) in StationKind::ALL.iter().enumerate() {
        assert_eq!(index(k) as usize, i, "StationKind::{k:?}");
    }
    // Event variants, by the kind names of the records in the golden journal (application
    // reviews are one variant, named by their outcome).
    let want: [(&str, u8); 38] = [
        ("station_registered", 0),
        ("officer_registered", 33),
        ("officer_deactivated", 2),
        ("people_registered", 3),
        ("person_died", 4),
        ("cards_registered", 5),
        ("loss_reported", 6),
        ("loss_cancelled", 7),
        ("hit_reported", 8),
        ("hit_acknowledged", 9),
        ("found_card_taken_in", 10),
        ("found_card_destroyed", 11),
        ("owner_notified", 12),
        ("found_card_returned", 13),
        ("blacklist_added", 14),
        ("blacklist_bulk_added", 15),
        ("blacklist_removed", 16),
        ("published", 32),
        ("command_refused", 36),
        ("card_status_changed", 19),
        ("policy_set", 20),
        ("application_accepted", 38),
        ("application_approved", 22),
        ("application_rejected", 22),
        ("application_card_produced", 23),
        ("application_card_issued", 24),
        ("deadline_extended", 25),
        ("temporary_certificate_issued", 26),
        ("temporary_certificate_used", 27),
        ("temporary_card_applied", 28),
        ("temporary_card_issued", 29),
        ("temporary_card_returned", 30),
        ("subscriber_registered", 31),
        ("officer_key_set", 34),
        ("authentication_failed", 35),
        ("personal_data_read", 37),
        ("guardians_recorded", 39),
        ("application_escalated", 40),
    ];
    let mut seen = std::collections::BTreeMap::new();
    for item in idcard::journal::read_dir(golden("data-v7").join("journal"), 1).unwrap() {
        let (_, bytes) = item.unwrap();
        let r = Record::decode(&bytes).unwrap();
        seen.insert(r.event.kind(), postcard::to_allocvec(&r.event).unwrap()[0]);
    }
    for (kind, idx) in want {
        assert_eq!(seen.get(kind), Some(&idx), "Event variant of {kind}");
    }
    assert_eq!(
        seen.len(),
        want.len(),
        "every kind is in the golden journal"
    );
}

fn clock() -> std::sync::Arc<idcard::engine::ManualClock> {
    std::sync::Arc::new(idcard::engine::ManualClock::new(start_time()))
}
