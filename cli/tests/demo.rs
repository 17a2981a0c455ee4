//! End to end: a small `idcard demo`, its report checked against the journal it wrote and
//! against a bank verifier rebuilt from the files it published.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use idcard::engine::read_records;
use idcard::index::{CardStatus, Verifier};
use idcard::model::{CommandRefusedV2, Event, State};
use serde_json::Value;

fn demo(dir: &Path, people: u32, days: u32, seed: u64) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_idcard"))
        .args([
            "demo",
            "--people",
            &people.to_string(),
            "--days",
            &days.to_string(),
        ])
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--data")
        .arg(dir)
        .args(["--json", "--quiet", "--threads", "1"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "demo failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn l3_s1_demo_report_agrees_with_the_journal_and_every_lost_card_is_lost_at_the_bank() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let report = demo(&dir, 60_000, 10, 7);

    // Replay the journal: event counts, refusals, and the state.
    let mut events: BTreeMap<String, u64> = BTreeMap::new();
    let mut refusals: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut state = State::default();
    for item in read_records(dir.join("record"), 1).unwrap() {
        let (seq, record) = item.unwrap();
        *events.entry(record.event.kind().to_string()).or_default() += 1;
        if let Event::CommandRefusedV2(CommandRefusedV2 { command, code, .. }) = &record.event {
            *refusals.entry((name(command), code.clone())).or_default() += 1;
        }
        // Every record is signed by its officer (S1), but the first ones (the bootstrap).
        assert!(
            record.auth.is_some() || seq <= 2,
            "record {seq} is unsigned"
        );
        state.apply(seq, &record);
    }

    // The report's events by kind are the journal's.
    let reported: BTreeMap<String, u64> = serde_json::from_value(report["events"].clone()).unwrap();
    assert_eq!(reported, events);
    assert_eq!(report["journal"]["records"], state.last_seq);

    // What the counters saw: every refusal they were told of is in the journal, and nothing
    // else was refused; the accepted commands match the events they record (S1).
    let mut seen_refused: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut accepted: BTreeMap<String, u64> = BTreeMap::new();
    for c in report["commands"].as_array().unwrap() {
        let command = c["command"].as_str().unwrap().to_string();
        accepted.insert(command.clone(), c["accepted"].as_u64().unwrap());
        for (code, n) in c["reasons"].as_object().unwrap() {
            seen_refused.insert((command.clone(), code.clone()), n.as_u64().unwrap());
        }
    }
    assert_eq!(seen_refused, refusals);
    assert!(
        refusals.len() >= 8,
        "the demo exercises many refusal reasons: {refusals:?}"
    );
    for (command, event) in [
        ("cancel_loss", "loss_cancelled"),
        ("report_hit", "hit_reported"),
        ("acknowledge_hit", "hit_acknowledged"),
        ("intake_found_card", "found_card_taken_in"),
        ("return_found_card", "found_card_returned"),
        ("apply_offsite", "application_accepted"),
        ("produce_card", "application_card_produced"),
        ("issue_card", "application_card_issued"),
        ("extend_deadline", "deadline_extended"),
        (
            "issue_temporary_certificate",
            "temporary_certificate_issued",
        ),
        ("use_temporary_certificate", "temporary_certificate_used"),
        ("apply_temporary_card", "temporary_card_applied"),
        ("issue_temporary_card", "temporary_card_issued"),
        ("record_death", "person_died"),
    ] {
        assert_eq!(
            accepted.get(command).copied().unwrap_or(0),
            events.get(event).copied().unwrap_or(0),
            "{command} accepted vs {event} recorded"
        );
    }
    assert!(events["loss_reported"] >= accepted["report_loss"]);
    assert!(accepted["apply_offsite"] > 0 && accepted["report_loss"] > 0);

    // The bank: the published snapshot plus every delta, in order, answers what the record
    // says for every card that is not valid — in particular every lost card is lost.
    let publish = dir.join("publish");
    // It pins the platform's root (the demo's clock is simulated: no maximum age), and every
    // file checks out: the snapshot and every delta signed by the certified publisher.
    let trust = idcard::trust::TrustStore::read(publish.join("platform.trust")).unwrap();
    let verifier = Verifier::open_with(
        publish.join("bank.idcs"),
        idcard::index::VerifierOptions {
            max_age: None,
            ..idcard::index::VerifierOptions::trusting(trust)
        },
    )
    .unwrap();
    assert!(verifier.info().snapshot.signature.is_verified());
    let mut deltas: Vec<_> = std::fs::read_dir(publish.join("bank-deltas"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "idcd"))
        .collect();
    deltas.sort();
    assert_eq!(deltas.len() as u64, report["publishing"]["bank_deltas"]);
    for d in &deltas {
        verifier.apply_delta_file(d).unwrap();
    }
    assert_eq!(verifier.info().deltas_verified, deltas.len() as u64);
    // Every card, valid ones included: a withdrawn loss or a returned card must answer valid
    // (or expired, past its validity end: N5); and no living person holds two valid cards.
    let mut count: std::collections::HashMap<CardStatus, u64> = Default::default();
    let today = idcard::time::china_today();
    let mut valid_of: std::collections::HashMap<idcard::IdNumber, u32> = Default::default();
    let mut all_cards = Vec::new();
    state.cards.for_each(|c| all_cards.push(c.clone())).unwrap();
    for c in &all_cards {
        let want = if c.status == CardStatus::Valid
            && c.key.valid_until().is_some_and(|end| end < today)
        {
            CardStatus::Expired
        } else {
            c.status
        };
        assert_eq!(verifier.verify(c.key), want, "{:?}", c.key);
        *count.entry(c.status).or_default() += 1;
        if c.status == CardStatus::Valid
            && state
                .people
                .get(c.key.number())
                .unwrap()
                .is_some_and(|p| !p.deceased)
        {
            *valid_of.entry(c.key.number()).or_default() += 1;
        }
    }
    assert!(
        valid_of.values().all(|&n| n == 1),
        "a person with two valid cards"
    );
    assert!(count.get(&CardStatus::Valid).copied().unwrap_or(0) > 1000);
    let lost = count.get(&CardStatus::Lost).copied().unwrap_or(0)
        + count.get(&CardStatus::Stolen).copied().unwrap_or(0);
    assert!(lost > 20, "{count:?}");

    // The same through the command line, as a user tries it: `--delta` naming the directory.
    let changed: Vec<_> = all_cards
        .iter()
        .filter(|c| c.status != CardStatus::Valid)
        .take(200)
        .collect();
    let csv: String = changed
        .iter()
        .map(|c| format!("{},{}\n", c.key.number(), c.key.valid_from()))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_idcard"))
        .arg("verify")
        .arg("--snapshot")
        .arg(publish.join("bank.idcs"))
        .arg("--delta")
        .arg(publish.join("bank-deltas"))
        .arg("--trust")
        .arg(publish.join("platform.trust"))
        .args(["--max-age", "never"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), csv.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "not every card is valid");
    let answers: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("number,"))
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    let expected: Vec<String> = changed.iter().map(|c| name(c.status)).collect();
    assert_eq!(answers, expected);
    for s in [CardStatus::Superseded, CardStatus::Invalidated] {
        assert!(
            count.get(&s).is_some_and(|n| *n > 0),
            "no {s} card: {count:?}"
        );
    }
    let withdrawn = events.get("loss_cancelled").copied().unwrap_or(0)
        + events.get("found_card_returned").copied().unwrap_or(0);
    assert!(withdrawn > 0, "the run withdraws some losses");
    assert_eq!(
        report["consistency"]["lost_or_stolen_in_record"].as_u64(),
        Some(lost)
    );
    assert_eq!(
        report["consistency"]["cards_checked"].as_u64(),
        Some(all_cards.len() as u64)
    );
    assert!(report["verification"]["checks"].as_u64().unwrap() > 0);
    let latency = &report["loss_to_bank"]["latency_ms"];
    assert!(latency["count"].as_u64().unwrap() > 0);
}

#[test]
fn demo_is_deterministic_from_its_seed_and_refuses_a_used_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let a = demo(&tmp.path().join("a"), 5000, 6, 11);
    let b = demo(&tmp.path().join("b"), 5000, 6, 11);
    assert_eq!(a["events"], b["events"]);
    assert_eq!(a["commands"], b["commands"]);
    assert_eq!(a["population"], b["population"]);
    let c = demo(&tmp.path().join("c"), 5000, 6, 12);
    assert_ne!(a["events"], c["events"], "another seed, another nation");

    // The record is never overwritten.
    let out = Command::new(env!("CARGO_BIN_EXE_idcard"))
        .args([
            "demo", "--people", "1000", "--days", "1", "--quiet", "--data",
        ])
        .arg(tmp.path().join("a"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn demo_table_shows_every_figure_it_names() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_idcard"))
        .args([
            "demo", "--people", "5000", "--days", "6", "--seed", "11", "--quiet",
        ])
        .args(["--threads", "1", "--data"])
        .arg(tmp.path().join("t"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(!table.contains("(missing)"), "{table}");
    let end = table
        .lines()
        .find(|l| l.trim_start().starts_with("at the end"))
        .unwrap_or_else(|| panic!("no consistency line: {table}"));
    assert!(end.contains("agrees with the record on"), "{end}");
    // The count of cards checked is the whole record, never zero.
    let checked: u64 = end
        .split("record on ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap();
    assert!(checked > 1000, "{end}");
}

#[test]
fn gen_writes_datasets_the_cli_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("data");
    let bin = env!("CARGO_BIN_EXE_idcard");
    let r = Command::new(bin)
        .args([
            "gen",
            "--people",
            "5000",
            "--lost-rate",
            "0.05",
            "--json",
            "-q",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let summary: Value = serde_json::from_slice(&r.stdout).unwrap();
    let lost =
        summary["listed_lost"].as_u64().unwrap() + summary["listed_stolen"].as_u64().unwrap();
    let issued = summary["issued_cards"].as_u64().unwrap();
    // 5 % of the issued cards, within a wide margin.
    assert!(
        lost * 100 > issued * 3 && lost * 100 < issued * 7,
        "{lost} of {issued}"
    );
    // The snapshot builder and the record read what gen wrote.
    let snap = tmp.path().join("p.idcs");
    let r = Command::new(bin)
        .args(["snapshot", "build", "--profile", "police", "-q", "--cards"])
        .arg(out.join("CARDS.csv"))
        .arg("--blacklist")
        .arg(out.join("BLACKLIST.csv"))
        .arg("-o")
        .arg(&snap)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let queries = std::fs::read(out.join("QUERIES.csv")).unwrap();
    let mut child = Command::new(bin)
        .args(["verify", "--allow-unsigned", "--snapshot"])
        .arg(&snap)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&queries).unwrap();
    let r = child.wait_with_output().unwrap();
    let text = String::from_utf8(r.stdout).unwrap();
    let count = |s: &str| text.lines().filter(|l| l.ends_with(s)).count();
    assert!(
        count(",valid") > count(",lost") && count(",lost") > 0,
        "{text:.300}"
    );
    assert_eq!(count(",invalid_number"), 0);
    let data = tmp.path().join("record");
    let run = |args: &[&str]| {
        let r = Command::new(bin).args(args).output().unwrap();
        assert!(
            r.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    };
    let d = data.to_str().unwrap();
    let key = tmp.path().join("o.key");
    let k = key.to_str().unwrap();
    let pubkey = tmp.path().join("o.pub");
    run(&["key", "generate", "--name", "o", "-o", k]);
    run(&[
        "init",
        "--data",
        d,
        "--kind",
        "ministry",
        "--bureau-id",
        "B",
        "--division",
        "110000",
        "--name",
        "b",
        "--officer-id",
        "O",
        "--officer-name",
        "o",
        "--officer-key",
        pubkey.to_str().unwrap(),
    ]);
    let people = out.join("PEOPLE.csv");
    let issued_csv = out.join("ISSUED.csv");
    run(&[
        "population",
        "import",
        "--data",
        d,
        "--officer",
        "O",
        "--station",
        "B",
        "--key",
        k,
        "--file",
        people.to_str().unwrap(),
    ]);
    run(&[
        "card",
        "import",
        "--data",
        d,
        "--officer",
        "O",
        "--station",
        "B",
        "--key",
        k,
        "--file",
        issued_csv.to_str().unwrap(),
    ]);
}
