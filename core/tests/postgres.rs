//! Issue 19: what only the PostgreSQL store does — every command's journal records in an
//! `events` table partitioned by province, in the same transaction as the state they make and
//! before the command returns; one engine per schema; an edited event found by `journal
//! verify`. Run under `scripts/with-postgres.sh` (a throwaway cluster, `IDCARD_TEST_POSTGRES`);
//! without it these tests say so and check nothing (the rest of the suites run on both stores).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use idcard::engine::{Engine, EngineError, InPerson, verify_journal_with};
use idcard::store::StoreProvider;
use idcard::workflow::Commands;
use idcard::workflow::loss::{CardRef, LossRequest};
use idcard_postgres::Postgres;

/// The provider and the schema of the record in `dir`, when the suite runs on PostgreSQL.
fn postgres(dir: &Path) -> Option<(Postgres, String)> {
    let Ok(conn) = std::env::var("IDCARD_TEST_POSTGRES") else {
        eprintln!("not run: IDCARD_TEST_POSTGRES is not set (scripts/with-postgres.sh sets it)");
        return None;
    };
    let p = Postgres::per_directory(&conn, "t").unwrap();
    let schema = p.schema_for(dir);
    Some((p, schema))
}

/// Bob's card reported lost, by him, at his household registration station.
fn bob_lost(w: &World) -> Result<u64, EngineError> {
    let hr = w.actor(idcard::station::StationKind::HouseholdRegistrationStation);
    let request = LossRequest {
        card: CardRef {
            number: w.bob,
            valid_from: None,
        },
        present: InPerson {
            number: w.bob,
            fingerprint: None,
        },
        stolen: false,
    };
    w.engine
        .report_loss(hr, &request)
        .map(|_| w.engine.last_seq())
}

fn report_bob_lost(w: &World) {
    bob_lost(w).unwrap();
}

fn psql(sql: &str) -> Vec<postgres::Row> {
    let conn = std::env::var("IDCARD_TEST_POSTGRES").unwrap();
    let mut c = postgres::Client::connect(&conn, postgres::NoTls).unwrap();
    c.query(sql, &[]).unwrap()
}

/// Every record is in `events` with the journal's chain hash once the command has returned —
/// before any flush, checkpoint or close — and in its province's partition.
#[test]
fn s2_every_acknowledged_record_is_in_postgresql_before_the_command_returns() {
    let dir = tempfile::tempdir().unwrap();
    let Some((provider, schema)) = postgres(dir.path()) else {
        return;
    };
    let w = world(dir.path());
    report_bob_lost(&w);
    let (last, chain) = w.engine.head();
    // Read from outside the engine, while it runs.
    let rows = psql(&format!(
        "SELECT seq, chain FROM {schema}.events ORDER BY seq DESC LIMIT 1"
    ));
    assert_eq!(rows[0].get::<_, i64>(0) as u64, last);
    assert_eq!(rows[0].get::<_, Vec<u8>>(1), chain.to_vec());
    let count: i64 = psql(&format!("SELECT count(*) FROM {schema}.events"))[0].get(0);
    assert_eq!(count as u64, last, "one row per record, none missing");
    // The loss report was made at a Beijing station: it is in the partition of province 11.
    let loss = psql(&format!(
        "SELECT count(*) FROM {schema}.events_11 WHERE seq = {last}"
    ));
    assert_eq!(loss[0].get::<_, i64>(0), 1);
    let tag = psql(&format!("SELECT v FROM {schema}.meta WHERE k = 'seq'"));
    assert_eq!(
        tag[0].get::<_, Vec<u8>>(0),
        last.to_le_bytes().to_vec(),
        "the state tables reflect the same record"
    );
    drop(w);
    let check = verify_journal_with(dir.path(), None, &[], Some(&provider)).unwrap();
    assert!(check.ok(), "{check:?}");
    assert_eq!(check.store, Some((last, true)));
}

/// S1: an event's payload edited in the database (a loss report's note, say) is found by
/// `journal verify`: each row must be the journal's record with the journal's chain hash.
#[test]
fn s1_an_edited_event_in_postgresql_is_found_by_journal_verify() {
    let dir = tempfile::tempdir().unwrap();
    let Some((provider, schema)) = postgres(dir.path()) else {
        return;
    };
    let w = world(dir.path());
    report_bob_lost(&w);
    let last = w.engine.last_seq();
    w.engine.close().unwrap();
    assert!(
        verify_journal_with(dir.path(), None, &[], Some(&provider))
            .unwrap()
            .ok()
    );
    psql(&format!(
        "UPDATE {schema}.events SET payload = payload || '\\x00'::bytea WHERE seq = {last}"
    ));
    let check = verify_journal_with(dir.path(), None, &[], Some(&provider)).unwrap();
    assert!(
        check
            .problem
            .as_deref()
            .is_some_and(|p| p.contains(&format!("record {last}")) && p.contains("events")),
        "{check:?}"
    );
    assert_eq!(check.store, Some((last, false)));
    // A deleted event too.
    psql(&format!("DELETE FROM {schema}.events WHERE seq = 3"));
    let check = verify_journal_with(dir.path(), None, &[], Some(&provider)).unwrap();
    assert!(!check.ok(), "{check:?}");
}

/// One engine per schema, as one per data directory: a second one is refused while the first
/// is open (another host pointed at the same schema, say), and opens once it is closed.
#[test]
fn a_second_engine_on_the_same_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let Some((_, schema)) = postgres(dir.path()) else {
        return;
    };
    let w = world(dir.path());
    let provider =
        Arc::new(Postgres::new(&std::env::var("IDCARD_TEST_POSTGRES").unwrap(), &schema).unwrap());
    let options = |p: Arc<Postgres>| idcard::engine::EngineOptions {
        store: Some(p as Arc<dyn StoreProvider>),
        ..options(Arc::new(idcard::engine::ManualClock::new(start_time())))
    };
    match Engine::open(other.path(), options(provider.clone())) {
        Err(EngineError::Locked(_)) => {}
        other => panic!("expected Locked, got {:?}", other.map(|_| ())),
    }
    drop(w);
    // Closed: the schema is free, but it is another record's — its chain is not this
    // journal's, so it is set aside, never mixed in.
    let (e, report) = Engine::open(other.path(), options(provider.clone())).unwrap();
    assert!(
        report
            .store_rebuilt
            .as_deref()
            .is_some_and(|r| r.contains("beyond the journal's end") && r.contains("set aside")),
        "{report:?}"
    );
    drop(e);
    let aside = psql(&format!(
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '{schema}_aside_%'"
    ));
    assert_eq!(aside[0].get::<_, i64>(0), 1);
}

/// A schema lost (dropped, or a new database) is rebuilt from the journal with every record,
/// people and cards as they were.
#[test]
fn a_lost_schema_is_rebuilt_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let Some((provider, schema)) = postgres(dir.path()) else {
        return;
    };
    let w = world(dir.path());
    report_bob_lost(&w);
    let bob = w.bob;
    let last = w.engine.last_seq();
    let before = w.engine.with_state(|s| s.to_memory().unwrap());
    w.engine.close().unwrap();
    provider.drop_schema(&schema).unwrap();
    let (e, report) = Engine::open(
        dir.path(),
        options(Arc::new(idcard::engine::ManualClock::new(start_time()))),
    )
    .unwrap();
    assert_eq!(report.store_seq, 0);
    assert_eq!(e.with_state(|s| s.to_memory().unwrap()), before);
    assert!(
        e.with_state(|s| s.cards.of(bob))
            .unwrap()
            .iter()
            .any(|c| c.status == idcard::index::CardStatus::Lost)
    );
    e.close().unwrap();
    let store = provider.open(dir.path(), 0).unwrap();
    assert_eq!(store.tag().unwrap().map(|t| t.0), Some(last));
    drop(store);
    let check = verify_journal_with(dir.path(), None, &[], Some(&provider)).unwrap();
    assert!(check.ok(), "{check:?}");
}

/// A schema the engine cannot read as its own (here: another layout version; as well a lost
/// connection) stops the engine with the store's error: a national register is not renamed and
/// rebuilt from the journal because a read failed. (The embedded store, a damaged file, is.)
#[test]
fn an_unreadable_schema_stops_the_engine_and_is_not_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_, schema)) = postgres(dir.path()) else {
        return;
    };
    let w = world(dir.path());
    let clock = w.clock.clone();
    w.engine.close().unwrap();
    psql(&format!(
        "UPDATE {schema}.meta SET v = '\\x6300000000000000'::bytea WHERE k = 'version'"
    ));
    match Engine::open(dir.path(), options(clock)) {
        Err(EngineError::Store(e)) => assert!(e.what.contains("layout version 99"), "{e}"),
        other => panic!("expected the store's error, got {:?}", other.map(|_| ())),
    }
    let aside = psql(&format!(
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '{schema}_aside_%'"
    ));
    assert_eq!(aside[0].get::<_, i64>(0), 0, "nothing set aside");
}

/// The session holding an engine's lock on its schema ends (the server restarted it, an
/// operator terminated it): from then on another engine could take the schema, so this one
/// writes nothing more — its next command fails with the store's error, and reopening works.
#[test]
fn an_engine_that_lost_its_schema_lock_writes_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_, schema)) = postgres(dir.path()) else {
        return;
    };
    let w = world(dir.path());
    let key = idcard_postgres::lock_key(&schema) as u64;
    let ended = psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
         AND classid::bigint = {} AND objid::bigint = {}",
        key >> 32,
        key & 0xffff_ffff
    ));
    assert_eq!(ended.len(), 1, "one session held the lock");
    let r = bob_lost(&w);
    match r {
        Err(EngineError::Store(e)) => assert!(e.what.contains("lock"), "{e}"),
        other => panic!("expected the store's error, got {other:?}"),
    }
    let clock = w.clock.clone();
    drop(w);
    let (e, _) = Engine::open(dir.path(), options(clock)).unwrap();
    e.close().unwrap();
}
