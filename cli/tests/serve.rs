//! `idcard serve` killed with SIGKILL under load loses no acknowledged command, and
//! `idcard subscribe` killed with SIGKILL and restarted misses no delta (the brief: nothing
//! acknowledged is ever lost).
//!
//! Each round starts the server on a port it chooses, starts a subscriber on a folder, sends
//! loss reports from 16 concurrent station clients (a report is acknowledged when its answer
//! arrives: durable), kills the subscriber half-way and restarts it, then kills the server at a
//! moment that varies by round. At the end the record is reopened: every acknowledged report is
//! there; and the subscriber's folder, after one last sync, answers `lost` for every one of them
//! through a fresh verifier (as a bank's C library would read it).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idcard::engine::{CardRef, Engine, EngineOptions, InPerson};
use idcard::index::{CardStatus, Verifier, VerifierOptions};
use idcard::station::CommandKind;
use idcard::workflow::loss::LossRequest;
use idcard_server::client::Client;
use idcard_server::load::{derived_key, setup};

fn idcard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_idcard"))
}

/// A child process killed (SIGKILL) when dropped: also when the test fails.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        kill9(&mut self.0);
    }
}

/// The PostgreSQL store under `scripts/with-postgres.sh` (`IDCARD_TEST_POSTGRES`): the
/// record's schema, and the provider the test reopens the record with.
fn postgres(dir: &Path) -> Option<(String, String, idcard_postgres::Postgres)> {
    let conn = std::env::var("IDCARD_TEST_POSTGRES").ok()?;
    let p = idcard_postgres::Postgres::per_directory(&conn, "serve").unwrap();
    let schema = p.schema_for(&dir.join("data"));
    Some((
        conn.clone(),
        schema.clone(),
        idcard_postgres::Postgres::new(&conn, &schema).unwrap(),
    ))
}

fn serve(dir: &Path) -> (Proc, String) {
    let mut command = idcard();
    command.args(["serve", "--listen", "127.0.0.1:0", "--interval-ms", "20"]);
    if let Some((conn, schema, _)) = postgres(dir) {
        // `idcard serve --postgres`: every acknowledged command is in PostgreSQL too.
        command.args(["--postgres", &conn, "--postgres-schema", &schema]);
    }
    let mut child = command
        .arg("--data")
        .arg(dir.join("data"))
        .args(["--officer", "M0", "--station", "MPS", "--key"])
        .arg(dir.join("m0.key"))
        .arg("--sign-key")
        .arg(dir.join("root.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (Proc(child), url)
}

fn subscribe(dir: &Path, url: &str, once: bool) -> Command {
    let mut c = idcard();
    c.args([
        "subscribe",
        "--from",
        url,
        "--officer",
        "U0",
        "--station",
        "BANK0",
    ])
    .arg("--key")
    .arg(dir.join("u0.key"))
    .arg("--trust")
    .arg(dir.join("platform.trust"))
    .arg("--dir")
    .arg(dir.join("folder"))
    .stdout(Stdio::null());
    if once {
        c.arg("--once");
    }
    c
}

fn kill9(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SAFETY: sending a signal to our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
}

#[test]
fn kill_9_of_server_and_subscriber_under_load_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = setup(&dir.join("data"), 6_000, 4, 1).unwrap();
    derived_key("M0").write_files(dir.join("m0.key")).unwrap();
    derived_key("U0").write_files(dir.join("u0.key")).unwrap();
    derived_key("platform root")
        .write_files(dir.join("root.key"))
        .unwrap();
    std::fs::write(dir.join("platform.trust"), s.trust.to_text()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let acked: Arc<Mutex<Vec<idcard::CardKey>>> = Arc::default();
    let cards = Arc::new(s.cards.clone());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let rounds = 4;
    for round in 0..rounds {
        let (mut server, url) = serve(dir);
        let mut sub = Proc(subscribe(dir, &url, false).spawn().unwrap());
        let client = Client::new(&url, None).unwrap();
        let kill_after = Duration::from_millis(400 + 250 * round as u64);
        rt.block_on(async {
            let mut tasks = Vec::new();
            for t in 0..16 {
                let (client, acked, cards, next) = (
                    client.clone(),
                    Arc::clone(&acked),
                    Arc::clone(&cards),
                    Arc::clone(&next),
                );
                let actor = s.stations[t % s.stations.len()].clone();
                tasks.push(tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&card) = cards.get(i) else { return };
                        let req = serde_json::to_value(LossRequest {
                            card: CardRef::card(card),
                            stolen: false,
                            present: InPerson::holder(card.number()),
                        })
                        .unwrap();
                        match client.send(&actor, CommandKind::ReportLoss, req).await {
                            Ok(_) => acked.lock().unwrap().push(card),
                            // The server is gone: this round is over.
                            Err(_) => return,
                        }
                    }
                }));
            }
            tokio::time::sleep(kill_after / 2).await;
            kill9(&mut sub.0);
            sub = Proc(subscribe(dir, &url, false).spawn().unwrap());
            tokio::time::sleep(kill_after / 2).await;
            kill9(&mut server.0);
            for t in tasks {
                let _ = t.await;
            }
        });
        drop(sub);
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "only {} reports acknowledged",
        acked.len()
    );

    // The folder catches up from where it was killed, against a server restarted once more.
    let (server, url) = serve(dir);
    let status = subscribe(dir, &url, true).status().unwrap();
    assert!(status.success());
    drop(server);

    let folder = dir.join("folder");
    let v = Verifier::open_with(
        folder.join("snapshot.idcs"),
        VerifierOptions::trusting(s.trust.clone()),
    )
    .unwrap();
    let report = v.apply_delta_dir(&folder).unwrap();
    assert!(report.skipped.is_empty(), "{report:?}");
    let store = postgres(dir).map(|(_, _, p)| {
        std::sync::Arc::new(p) as std::sync::Arc<dyn idcard::store::StoreProvider>
    });
    if let Some(p) = &store {
        // Before anything replays the journal: PostgreSQL has every acknowledged loss report
        // (the server wrote it there before answering).
        let pg = p.open(&dir.join("data"), 0).unwrap();
        for card in &acked {
            let row: Option<idcard::model::CardRecord> =
                pg.get(idcard::store::Table::Cards, card.to_u64()).unwrap();
            assert_eq!(
                row.map(|r| r.status),
                Some(CardStatus::Lost),
                "an acknowledged loss report is not in PostgreSQL"
            );
        }
    }
    let options = EngineOptions {
        store: store.clone(),
        ..EngineOptions::default()
    };
    let (engine, report) = Engine::open_existing(dir.join("data"), options).unwrap();
    if store.is_some() {
        // PostgreSQL had every acknowledged command before the server answered: nothing of
        // the journal's end is missing from it but records that were never acknowledged.
        assert!(report.store_rebuilt.is_none(), "{report:?}");
    }
    for card in &acked {
        assert_eq!(
            engine
                .with_state(|st| idcard::model::view::card_status(st, *card))
                .unwrap(),
            CardStatus::Lost,
            "an acknowledged loss report is missing from the record"
        );
        assert_eq!(
            v.verify(*card),
            CardStatus::Lost,
            "the folder missed a delta: it is at {}, the record at {}",
            v.info().journal_seq,
            engine.last_seq()
        );
    }
    engine.close().unwrap();
    // The store (and, on PostgreSQL, every record it holds) is what the journal replays to.
    let check =
        idcard::engine::verify_journal_with(dir.join("data"), None, &[], store.as_deref()).unwrap();
    assert!(check.ok(), "{check:?}");
    assert!(check.store.is_some_and(|(_, agrees)| agrees), "{check:?}");
}
