//! Issue 15: nobody without an officer's private key can make the record act in that
//! officer's name (S1), every action is provably theirs (non-repudiation), and every read of
//! personal data is recorded with its subject and purpose (S2).

mod common;

use common::*;
use idcard::engine::auth::{self, payload_hash};
use idcard::engine::{Clock, EngineError, InPerson};
use idcard::model::{Event, Record, Subject};
use idcard::station::{Actor, CommandKind, StationKind};
use idcard::workflow::Commands;
use idcard::workflow::loss::{CardRef, LossRequest};

fn bob_loss(w: &World) -> LossRequest {
    LossRequest {
        card: CardRef::card(w.bob_card),
        stolen: false,
        present: InPerson::holder(w.bob),
    }
}

fn records(w: &World) -> Vec<(u64, Record)> {
    w.engine.records(1).unwrap().map(Result::unwrap).collect()
}

/// The last `authentication_failed` record: who it is recorded under, the claimed officer, the
/// code.
fn last_failure(w: &World) -> (Actor, String, String) {
    records(w)
        .into_iter()
        .rev()
        .find_map(|(_, r)| match r.event {
            Event::AuthenticationFailed(f) => {
                Some((r.actor, f.claimed_officer.to_string(), f.code))
            }
            _ => None,
        })
        .expect("a failure is recorded")
}

/// S1: a command without a signature, with another officer's key, or with a signature over
/// another command is refused before anything else, and the attempt is recorded as
/// unauthenticated — not in the claimed officer's name, and nothing else happens.
#[test]
fn s1_unsigned_or_wrongly_signed_commands_are_refused_and_recorded_as_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let before = w
        .engine
        .with_state(|s| s.cards.get(w.bob_card).unwrap().unwrap().status);
    // No signer: the officer's id alone is not enough.
    let claimed = Actor::new(hr.officer.as_str(), hr.station.as_str()).unwrap();
    assert_eq!(
        refused(w.engine.report_loss(&claimed, &bob_loss(&w))),
        "no_signature"
    );
    assert_eq!(
        last_failure(&w),
        (
            Actor::unauthenticated(),
            hr.officer.to_string(),
            "no_signature".into()
        )
    );
    // Another officer's key (the bureau chief's, say).
    let forged = claimed.clone().with_key(key_of("B0001"));
    assert_eq!(
        refused(w.engine.report_loss(&forged, &bob_loss(&w))),
        "wrong_key"
    );
    // A key nobody registered, claiming the right key id is not possible: the id is the key's.
    let mallory = claimed.clone().with_key(key_of("MALLORY"));
    assert_eq!(
        refused(w.engine.report_loss(&mallory, &bob_loss(&w))),
        "wrong_key"
    );
    // A valid signature by the officer, but over another command: the payload does not match.
    let other = LossRequest {
        stolen: true,
        ..bob_loss(&w)
    };
    let now = w.clock.now().timestamp_millis();
    let auth = auth::sign(&hr, CommandKind::ReportLoss, payload_hash(&other), now);
    assert_eq!(
        refused(w.engine.execute_signed(&claimed, &bob_loss(&w), auth)),
        "bad_signature"
    );
    // None of this changed the card, and no refusal is in the officer's name.
    w.engine
        .with_state(|s| assert_eq!(s.cards.get(w.bob_card).unwrap().unwrap().status, before));
    assert!(records(&w).iter().all(|(_, r)| {
        !matches!(r.event, Event::LossReported(_) | Event::CommandRefusedV2(_)) || r.actor != hr
    }));
    // The real officer's signature works.
    w.engine.report_loss(&hr, &bob_loss(&w)).unwrap();
}

/// S1: a signed command replayed is refused (its nonce was seen); one signed too long ago or
/// in the future is refused by its time.
#[test]
fn s1_a_replayed_or_stale_signed_command_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let req = bob_loss(&w);
    let now = w.clock.now().timestamp_millis();
    let auth = auth::sign(&hr, CommandKind::ReportLoss, payload_hash(&req), now);
    let first = auth.clone();
    let bare = Actor::new(hr.officer.as_str(), hr.station.as_str()).unwrap();
    w.engine
        .execute_signed(&bare, &req, auth.clone())
        .expect("the first time");
    assert_eq!(
        refused(w.engine.execute_signed(&bare, &req, auth)),
        "replayed"
    );
    assert_eq!(last_failure(&w).2, "replayed");
    let cancel = idcard::workflow::loss::CancelLoss {
        card: CardRef::card(w.bob_card),
        present: InPerson::holder(w.bob),
    };
    let old = auth::sign(
        &hr,
        CommandKind::CancelLoss,
        payload_hash(&cancel),
        now - auth::MAX_SKEW_MS - 1_000,
    );
    assert_eq!(
        refused(w.engine.execute_signed(&bare, &cancel, old)),
        "clock_skew"
    );
    let future = auth::sign(
        &hr,
        CommandKind::CancelLoss,
        payload_hash(&cancel),
        now + auth::MAX_SKEW_MS + 1_000,
    );
    assert_eq!(
        refused(w.engine.execute_signed(&bare, &cancel, future)),
        "clock_skew"
    );
    // Replays stay refused after a restart (the nonces are part of the state, and of the
    // checkpoint).
    w.engine.checkpoint().unwrap();
    let World { engine, clock, .. } = w;
    drop(engine);
    let again = open(dir.path(), clock);
    assert_eq!(
        refused(again.execute_signed(&bare, &req, first)),
        "replayed",
        "the nonce is remembered across the restart"
    );
}

/// S1: deactivating an officer revokes their key from that record on; a new key (a new
/// certificate) replaces the old one, which no longer signs.
#[test]
fn s1_deactivation_and_a_new_key_revoke_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let lf = w.actor(StationKind::LostAndFoundWindow).clone();
    w.engine
        .set_officer_key(&w.bureau, &hr.officer, public_key_of("new key of P00"))
        .unwrap();
    assert_eq!(
        refused(w.engine.report_loss(&hr, &bob_loss(&w))),
        "wrong_key"
    );
    let renewed = Actor::new(hr.officer.as_str(), hr.station.as_str())
        .unwrap()
        .with_key(key_of("new key of P00"));
    w.engine.report_loss(&renewed, &bob_loss(&w)).unwrap();
    // Only whoever may register the officer sets their key.
    assert_eq!(
        refused(
            w.engine
                .set_officer_key(&lf, &hr.officer, public_key_of("x"))
        ),
        "station_kind_not_allowed"
    );
    w.engine.deactivate_officer(&w.bureau, &lf.officer).unwrap();
    assert_eq!(
        refused(w.engine.intake_found(&lf, w.alice_card, None)),
        "officer_inactive"
    );
    assert_eq!(last_failure(&w).0, Actor::unauthenticated());
}

/// S2: non-repudiation: every record of an accepted command carries the officer's signature,
/// and anyone with the officer's public key checks it from the journal alone.
#[test]
fn s2_every_record_carries_a_signature_anyone_can_check() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    w.engine.report_loss(&hr, &bob_loss(&w)).unwrap();
    let officers = w.engine.with_state(|s| s.officers.clone());
    let mut checked = 0;
    for (seq, r) in records(&w) {
        if r.actor == Actor::system() || r.actor == Actor::unauthenticated() {
            assert!(r.auth.is_none(), "record {seq}");
            continue;
        }
        let a = r
            .auth
            .as_ref()
            .unwrap_or_else(|| panic!("record {seq} is unsigned"));
        let key = officers[&r.actor.officer]
            .key
            .as_ref()
            .unwrap()
            .public()
            .unwrap();
        let kind = match &r.event {
            Event::LossReported(_) => CommandKind::ReportLoss,
            _ => continue,
        };
        let m = auth::message(
            &r.actor.officer,
            &r.actor.station,
            kind,
            a.at_ms,
            &a.nonce,
            &a.payload,
        );
        key.verify(&m, &a.signature)
            .expect("the officer's signature");
        assert_eq!(
            a.payload,
            payload_hash(&bob_loss(&w)),
            "over this very command"
        );
        checked += 1;
    }
    assert_eq!(checked, 1);
}

/// S2: a read of personal data needs an authenticated officer of a police station and a stated
/// purpose, and is recorded with its subject; a refusal records what it concerned.
#[test]
fn s2_reads_are_recorded_with_subject_and_purpose_and_refusals_with_their_subject() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let bank = w.actor(StationKind::CheckingUnit).clone();
    let n = w
        .engine
        .read_personal(
            &hr,
            "card_show",
            Some(Subject::Person(w.bob)),
            "loss report at the counter",
            |s| {
                let cards = s.cards.of(w.bob).unwrap().len() as u64;
                (cards, cards)
            },
        )
        .unwrap();
    assert_eq!(n, 1);
    let (_, r) = records(&w).pop().unwrap();
    match &r.event {
        Event::PersonalDataRead(e) => {
            assert_eq!(
                (e.what.as_str(), &e.subject, e.purpose.as_str(), e.items),
                (
                    "card_show",
                    &Some(Subject::Person(w.bob)),
                    "loss report at the counter",
                    1
                )
            );
            assert_eq!(r.actor, hr);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        refused(
            w.engine
                .read_personal(&hr, "card_show", None, " ", |_| ((), 0))
        ),
        "purpose_required"
    );
    assert_eq!(
        refused(
            w.engine
                .read_personal(&bank, "card_show", None, "curious", |_| ((), 0))
        ),
        "station_kind_not_allowed"
    );
    let unsigned = Actor::new(hr.officer.as_str(), hr.station.as_str()).unwrap();
    assert!(matches!(
        w.engine
            .read_personal(&unsigned, "card_show", None, "x", |_| ((), 0)),
        Err(EngineError::Refused(_))
    ));
    assert_eq!(last_failure(&w).2, "no_signature");
    // A refusal names the card it concerned.
    let stranger = InPerson::holder(w.alice);
    let req = LossRequest {
        present: stranger,
        ..bob_loss(&w)
    };
    assert_eq!(refused(w.engine.report_loss(&hr, &req)), "not_the_holder");
    let (_, r) = records(&w).pop().unwrap();
    match r.event {
        Event::CommandRefusedV2(e) => {
            assert_eq!(e.subject, Some(Subject::Card(w.bob_card)));
        }
        other => panic!("{other:?}"),
    }
}
