//! The system-of-record commands end to end through the CLI (L1-L4, F1-F2, A6, S1).

use std::path::Path;
use std::process::{Command, Output};

/// A command line split at blanks; `'single quotes'` keep blanks inside one argument.
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut cur: Option<String> = None;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.get_or_insert_with(String::new);
            }
            ' ' if !quoted => out.extend(cur.take()),
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(cur);
    out
}

/// Run `idcard` with a command line in `dir`, as is.
fn raw(dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_idcard"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Officer `id`'s key files in `dir` (`{id}.key`, `{id}.pub`), made on first use.
fn officer_key(dir: &Path, id: &str) {
    if !dir.join(format!("{id}.key")).exists() {
        let o = raw(
            dir,
            &split(&format!("key generate --name {id} -o {id}.key")),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// Run `idcard` with a command line in `dir`. Officers sign with their keys (S1): an acting
/// officer (`--officer X`, `--as X`) gets `--key X.key`, a new one (`officer add --id X`,
/// `init --officer-id X`) `--public-key X.pub` / `--officer-key X.pub`.
fn run(dir: &Path, line: &str) -> Output {
    let mut args = split(line);
    let value_of = |flag: &str, args: &[String]| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    // `journal show --as X` reads as X (its `--officer` names whose trail).
    let acting = if args.first().is_some_and(|a| a == "journal") {
        value_of("--as", &args)
    } else {
        value_of("--officer", &args)
    };
    if let Some(id) = acting
        && !args.iter().any(|a| a == "--key")
    {
        officer_key(dir, &id);
        args.extend(["--key".into(), format!("{id}.key")]);
    }
    if args.starts_with(&["officer".into(), "add".into()])
        && let Some(id) = value_of("--id", &args)
    {
        officer_key(dir, &id);
        args.extend(["--public-key".into(), format!("{id}.pub")]);
    }
    if args.first().is_some_and(|a| a == "init")
        && let Some(id) = value_of("--officer-id", &args)
    {
        officer_key(dir, &id);
        args.extend(["--officer-key".into(), format!("{id}.pub")]);
    }
    raw(dir, &args)
}

/// Run a command on the record `d` with `--json`; it must succeed; its JSON.
fn ok(dir: &Path, line: &str) -> serde_json::Value {
    let o = run(dir, &format!("{line} --data d --json"));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{line}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
}

const BUREAU: &str = "--officer B1 --station PSB";
/// The ministry (the record's first station): national commands, and stations outside Chaoyang.
const MINISTRY: &str = "--officer M1 --station MPS";
const HR: &str = "--officer P1 --station HR1";
const WIN: &str = "--officer W1 --station WIN";

/// A new record: the ministry (bootstrapped), which registers Chaoyang's county bureau `PSB`
/// (110105) and its officer `B1`.
fn init(dir: &Path) {
    ok(
        dir,
        "init --kind ministry --station-id MPS --division 110000 --name ministry --officer-id M1 --officer-name M",
    );
    ok(
        dir,
        &with(
            MINISTRY,
            "station add --id PSB --kind county_bureau --division 110105 --name bureau",
        ),
    );
    ok(
        dir,
        &with(MINISTRY, "officer add --id B1 --name W --at PSB"),
    );
}

/// A command line run by `who`.
fn with(who: &str, line: &str) -> String {
    format!("{line} {who}")
}

/// `root.key`, `pub.key` certified by it (`pub.cert`), `platform.trust` pinning the root.
fn keys(dir: &Path) {
    for line in [
        "key generate --name root -o root.key",
        "key generate --name publisher -o pub.key",
        "key certify --root root.key --key pub.pub -o pub.cert --days 30",
        "key trust root.pub -o platform.trust",
    ] {
        let o = run(dir, line);
        assert!(
            o.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn l1_f1_a6_record_flow_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(dir);
    ok(
        dir,
        &with(
            BUREAU,
            "station add --id HR1 --kind household_registration_station --division 110105 --name hr",
        ),
    );
    ok(
        dir,
        &with(
            BUREAU,
            "station add --id WIN --kind lost_and_found_window --division 110105 --name win",
        ),
    );
    ok(dir, &with(BUREAU, "officer add --id P1 --name p --at HR1"));
    ok(dir, &with(BUREAU, "officer add --id W1 --name w --at WIN"));
    std::fs::write(dir.join("P.csv"), "number,name,hukou_division,fingerprint,contact\n11010519491231002X,Zhang,110105,,138\n440524188001010014,Li,440524,lfp,\n").unwrap();
    std::fs::write(dir.join("I.csv"), "number,valid_from,fingerprints\n11010519491231002X,2010-05-01,false\n440524188001010014,1990-01-02,true\n").unwrap();
    assert_eq!(
        ok(dir, &with(MINISTRY, "population import --file P.csv"))["imported"],
        2
    );
    assert_eq!(
        ok(dir, &with(MINISTRY, "card import --file I.csv"))["imported"],
        2
    );

    // A refusal: exit 1, JSON says why, and it is recorded.
    let o = run(
        dir,
        &with(
            HR,
            "loss report --number 440524188001010014 --present 440524188001010014 --data d --json",
        ),
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["refused"]["code"], "fingerprint_required");
    let v = ok(
        dir,
        &with(
            HR,
            "loss report --number 11010519491231002X --present 11010519491231002X",
        ),
    );
    assert_eq!(
        (v["status"].as_str(), v["at_hukou_place"].as_bool()),
        (Some("lost"), Some(true))
    );

    // The platform's keys: an offline root, a publishing key it certifies, the trust file
    // banks pin.
    keys(dir);
    // Publish (signed), then a found card comes back: a delta clears it.
    ok(
        dir,
        &with(
            MINISTRY,
            "publish snapshot --profile bank -o bank.idcs --sign-key pub.key --sign-cert pub.cert",
        ),
    );
    let v = ok(
        dir,
        &with(
            WIN,
            "found intake --number 11010519491231002X --finder taxi",
        ),
    );
    assert_eq!(v["held"]["notified"], "138");
    let q = run(
        dir,
        "found query --number 11010519491231002X --officer W1 --station WIN --purpose test --data d --json",
    );
    assert_eq!(q.status.code(), Some(0));
    let q: serde_json::Value = serde_json::from_slice(&q.stdout).unwrap();
    assert_eq!(
        (q["state"].as_str(), q["window"].as_str()),
        (Some("held"), Some("WIN"))
    );
    // The citizen learns the window and the day, nothing about the finder.
    assert!(q.get("finder").is_none() && q["since"].is_string());
    let none = run(
        dir,
        "found query --number 440524188001010014 --officer W1 --station WIN --purpose test --data d",
    );
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stdout).contains("no found card"));
    ok(
        dir,
        &with(
            WIN,
            "found return --number 11010519491231002X --present 11010519491231002X --photo img-1",
        ),
    );
    let d = ok(
        dir,
        &with(
            MINISTRY,
            "publish delta --base bank.idcs -o d1.idcd --sign-key pub.key --sign-cert pub.cert",
        ),
    );
    assert_eq!(d["cards"], 1);
    let o = run(
        dir,
        "verify --snapshot bank.idcs --trust platform.trust 11010519491231002X 2010-05-01",
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains(",lost"));
    let o = run(
        dir,
        "verify --snapshot bank.idcs --trust platform.trust --delta d1.idcd 11010519491231002X 2010-05-01",
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // Blacklist upkeep and a police snapshot.
    ok(
        dir,
        &with(
            MINISTRY,
            "blacklist add --number 440524188001010014 --reason forged|passport",
        ),
    );
    ok(
        dir,
        &with(
            MINISTRY,
            "publish snapshot --profile police -o police.idcs --sign-key pub.key --sign-cert pub.cert",
        ),
    );
    let o = run(
        dir,
        "blacklist check --snapshot police.idcs --trust platform.trust 440524188001010014",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("forged|passport"));

    // The journal checks out and counts the refusal.
    assert_eq!(ok(dir, "journal verify")["ok"], true);
    let s = ok(dir, "journal stats");
    assert_eq!(s["refusals"][0]["code"], "fingerprint_required");
}

#[test]
fn a1_a4_a8_offsite_flow_and_policy_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(dir);
    ok(
        dir,
        &with(
            MINISTRY,
            "station add --id GZP --kind offsite_acceptance_point --division 440106 --name gz",
        ),
    );
    ok(
        dir,
        &with(
            MINISTRY,
            "station add --id AIR --kind airport_police --division 440106 --name airport",
        ),
    );
    ok(
        dir,
        &with(MINISTRY, "officer add --id G1 --name g --at GZP"),
    );
    ok(
        dir,
        &with(MINISTRY, "officer add --id A1 --name a --at AIR"),
    );
    std::fs::write(
        dir.join("P.csv"),
        "number,name,hukou_division\n11010519491231002X,Zhang,110105\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("I.csv"),
        "number,valid_from\n11010519491231002X,2010-05-01\n",
    )
    .unwrap();
    ok(dir, &with(MINISTRY, "population import --file P.csv"));
    ok(dir, &with(MINISTRY, "card import --file I.csv"));
    let point = "--officer G1 --station GZP";
    // Incomplete papers: every missing item at once, exit 1.
    let o = run(
        dir,
        &with(
            point,
            "offsite apply --kind renewal --number 11010519491231002X --present 11010519491231002X --appearance matches --data d --json",
        ),
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["refused"]["code"], "materials_incomplete");
    let app = ok(
        dir,
        &with(
            point,
            "application apply --kind renewal --number 11010519491231002X --present 11010519491231002X --appearance matches --form --current-card",
        ),
    );
    assert_eq!(
        (app["fee_fen"].as_u64(), app["hukou_bureau"].as_str()),
        (Some(2000), Some("PSB"))
    );
    let id = app["id"].as_u64().unwrap().to_string();
    ok(
        dir,
        &with(BUREAU, &format!("offsite review --id {id} --approve")),
    );
    ok(dir, &with(point, &format!("offsite produce --id {id}")));
    let receipt = app["pickup_receipt"].as_str().unwrap();
    ok(
        dir,
        &with(
            point,
            &format!(
                "offsite issue --id {id} --receipt {receipt} --present 11010519491231002X --old-card-returned"
            ),
        ),
    );
    let cards = run(
        dir,
        "card show --number 11010519491231002X --officer G1 --station GZP --purpose test --data d",
    );
    assert!(String::from_utf8_lossy(&cards.stdout).contains("superseded"));
    // A8 at the airport.
    let c = ok(
        dir,
        &with(
            "--officer A1 --station AIR",
            "temporary certificate --number 11010519491231002X --present 11010519491231002X --missing forgotten --flight CZ3101",
        ),
    );
    let cid = c["id"].as_u64().unwrap().to_string();
    let o = run(
        dir,
        &format!("temporary check --data d --id {cid} --number 11010519491231002X --trip CZ3101"),
    );
    assert_eq!(o.status.code(), Some(0));
    // The policy round-trips through JSON.
    let p = run(dir, "policy show --data d");
    std::fs::write(dir.join("policy.json"), &p.stdout).unwrap();
    ok(dir, &with(MINISTRY, "policy set --file policy.json"));
}

#[test]
fn commands_other_than_init_refuse_a_directory_without_a_record() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        "journal stats --data typo",
        "journal verify --data typo",
        "loss list --officer X --station Y --purpose test --data typo",
        "station list --data typo",
    ] {
        let o = run(tmp.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("typo holds no record") && err.contains("idcard init"),
            "{args:?}: {err}"
        );
        assert!(!tmp.path().join("typo").exists(), "{args:?} created it");
    }
}

/// Issue 14 as a bank and the platform try it: keys, a subscriber's own signed snapshot,
/// deltas and a timestamp in a folder, a verifier that pins the root and refuses what is not
/// signed by it; a leaked copy names its subscriber.
#[test]
fn l3_s2_signed_publication_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(dir);
    ok(
        dir,
        &with(
            BUREAU,
            "station add --id HR1 --kind household_registration_station --division 110105 --name hr",
        ),
    );
    ok(dir, &with(BUREAU, "officer add --id P1 --name p --at HR1"));
    std::fs::write(
        dir.join("P.csv"),
        "number,name,hukou_division\n11010519491231002X,Zhang,110105\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("I.csv"),
        "number,valid_from\n11010519491231002X,2010-05-01\n",
    )
    .unwrap();
    ok(dir, &with(MINISTRY, "population import --file P.csv"));
    ok(dir, &with(MINISTRY, "card import --file I.csv"));
    keys(dir);
    // Keys never overwrite, and the private key is the owner's alone.
    assert!(
        !run(dir, "key generate --name again -o root.key")
            .status
            .success()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("root.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let v = ok(
        dir,
        &with(MINISTRY, "subscriber add --id BANK-1 --name 'a bank'"),
    );
    assert_eq!(v["subscriber"], "BANK-1");
    let v = ok(
        dir,
        &with(MINISTRY, "subscriber add --id BANK-2 --name 'another bank'"),
    );
    assert_eq!(v["subscriber"], "BANK-2");
    std::fs::create_dir(dir.join("feed")).unwrap();
    let sign = "--sign-key pub.key --sign-cert pub.cert";
    let p = ok(
        dir,
        &with(
            MINISTRY,
            &format!("publish snapshot --profile bank --subscriber BANK-1 -o b1.idcs {sign}"),
        ),
    );
    assert_eq!(p["subscriber"], "BANK-1");
    assert!(p["signed_by"].is_string());
    ok(
        dir,
        &with(
            MINISTRY,
            &format!("publish snapshot --profile bank --subscriber BANK-2 -o b2.idcs {sign}"),
        ),
    );
    ok(
        dir,
        &with(
            HR,
            "loss report --number 11010519491231002X --present 11010519491231002X",
        ),
    );
    let d = ok(
        dir,
        &with(
            MINISTRY,
            &format!("publish delta --base b1.idcs -o feed/d1.idcd {sign}"),
        ),
    );
    assert_eq!(d["cards"], 1);
    let t = ok(
        dir,
        &with(
            MINISTRY,
            "publish timestamp --base b1.idcs --sign-key pub.key --sign-cert pub.cert -o feed/now.idct",
        ),
    );
    assert_eq!(t["journal_seq"], d["to_seq"]);

    // The bank: snapshot, the folder (delta and timestamp), the root pinned.
    let verify = "verify --snapshot b1.idcs --trust platform.trust --delta feed 11010519491231002X 2010-05-01";
    let o = run(dir, verify);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(",lost"),
        "{o:?}"
    );
    assert_eq!(o.status.code(), Some(1));
    // No trust file: refused, not answered.
    let o = run(
        dir,
        "verify --snapshot b1.idcs 11010519491231002X 2010-05-01",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no trust file"));
    // Another root's trust file: refused.
    run(dir, "key generate --name other -o other.key");
    run(dir, "key trust other.pub -o other.trust");
    let o = run(
        dir,
        "verify --snapshot b1.idcs --trust other.trust 11010519491231002X 2010-05-01",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not trusted"),
        "{o:?}"
    );
    // An unsigned delta dropped into the folder is skipped and named, never applied.
    ok(
        dir,
        &with(
            HR,
            "loss cancel --number 11010519491231002X --present 11010519491231002X",
        ),
    );
    ok(
        dir,
        &with(MINISTRY, "publish delta --base b1.idcs -o feed/d2.idcd"),
    );
    let o = run(dir, verify);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(",lost"),
        "{o:?}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("skipped") && err.contains("d2.idcd") && err.contains("not signed"),
        "{err}"
    );
    // inspect shows the signer, and checks it against a trust file.
    let o = run(
        dir,
        "snapshot inspect b1.idcs --trust platform.trust --json",
    );
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["signature"]["verified"], true);
    assert_eq!(v["signature"]["key_name"], "publisher");
    assert!(
        !run(dir, "snapshot inspect b1.idcs --trust other.trust")
            .status
            .success()
    );

    // A leaked copy names its subscriber; the two banks' files differ.
    let a = run(dir, "snapshot inspect --attribute b2.idcs --data d --json");
    let a: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(a["attribution"]["subscriber"], "BANK-2");
    // A delta for BANK-2 on BANK-1's snapshot is refused.
    let o = run(
        dir,
        &with(
            MINISTRY,
            "publish delta --base b1.idcs --subscriber BANK-2 -o x.idcd --data d --json",
        ),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("not_subscribers_snapshot"));
    assert_ne!(
        std::fs::read(dir.join("b1.idcs")).unwrap(),
        std::fs::read(dir.join("b2.idcs")).unwrap()
    );
    let o = run(dir, "subscriber list --data d");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let o = run(dir, "publish list --data d --json");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
}

/// Issue 15 through the command line: a command needs the officer's key (without it, or with
/// another's, it is refused and recorded as unauthenticated); reads of personal data need a
/// purpose and are recorded; `journal show --officer` gives one officer's whole trail; the data
/// directory is the owner's alone.
#[test]
fn s1_s2_signed_commands_and_audited_reads_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(dir);
    ok(
        dir,
        &with(
            BUREAU,
            "station add --id HR1 --kind household_registration_station --division 110105 --name hr",
        ),
    );
    ok(dir, &with(BUREAU, "officer add --id P1 --name p --at HR1"));
    std::fs::write(
        dir.join("P.csv"),
        "number,name,hukou_division\n11010519491231002X,Zhang,110105\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("I.csv"),
        "number,valid_from\n11010519491231002X,2010-05-01\n",
    )
    .unwrap();
    ok(dir, &with(BUREAU, "population import --file P.csv"));
    ok(dir, &with(BUREAU, "card import --file I.csv"));
    // No key: refused, exit 1, recorded.
    let bare = raw(
        dir,
        &split(
            "loss report --number 11010519491231002X --present 11010519491231002X --officer P1 --station HR1 --data d --json",
        ),
    );
    assert_eq!(bare.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&bare.stdout).unwrap();
    assert_eq!(v["refused"]["code"], "no_signature");
    // Another officer's key (the bureau chief's file, say).
    let forged = raw(
        dir,
        &split(
            "loss report --number 11010519491231002X --present 11010519491231002X --officer P1 --station HR1 --key B1.key --data d --json",
        ),
    );
    let v: serde_json::Value = serde_json::from_slice(&forged.stdout).unwrap();
    assert_eq!(v["refused"]["code"], "wrong_key");
    // With the officer's own key it works.
    ok(
        dir,
        &with(
            HR,
            "loss report --number 11010519491231002X --present 11010519491231002X",
        ),
    );
    // A read: the purpose is required, and it is recorded.
    let o = run(
        dir,
        "card show --number 11010519491231002X --officer P1 --station HR1 --data d",
    );
    assert_eq!(o.status.code(), Some(2), "--purpose is required");
    let o = run(
        dir,
        "card show --number 11010519491231002X --officer P1 --station HR1 --purpose 'counter inquiry' --data d",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The officer's trail: what they did, read and were refused, and what was tried in their
    // name (under UNAUTHENTICATED).
    let o = run(
        dir,
        "journal show --as M1 --at MPS --purpose 'audit of P1' --officer P1 --data d --json",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let trail: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = trail.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "authentication_failed",
            "authentication_failed",
            "loss_reported",
            "personal_data_read"
        ],
        "{trail:?}"
    );
    assert_eq!(trail[0]["officer"], "UNAUTHENTICATED");
    assert!(trail[2]["signed_by"].is_string());
    // The audit itself is recorded, as M1's read.
    let o = run(
        dir,
        "journal show --as M1 --at MPS --purpose 'who audits' --officer M1 --data d --json",
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("journal_show"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("d")), 0o700);
        assert_eq!(mode(&dir.join("d/journal")), 0o700);
    }
}
