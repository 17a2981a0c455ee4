//! The index commands (L3, A6): snapshot build/inspect, verify, blacklist check.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn idcard(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idcard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const CARDS: &str = "number,valid_from,status,reason\n\
11010519491231002X,2005-06-01,lost,reported_away\n\
440524188001010014,1990-01-02,superseded,renewed\n";

/// Run `idcard` in `dir`; it must succeed.
fn ok_in(dir: &Path, args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_idcard"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", err(&o));
}

/// The platform's keys in `dir` (root.key certifies pub.key; platform.trust pins the root), a
/// signed bank and police snapshot, and the trust file's path.
fn setup(dir: &Path) -> (String, String) {
    ok_in(
        dir,
        &["key", "generate", "--name", "root", "-o", "root.key"],
    );
    ok_in(
        dir,
        &["key", "generate", "--name", "publisher", "-o", "pub.key"],
    );
    ok_in(
        dir,
        &[
            "key", "certify", "--root", "root.key", "--key", "pub.pub", "-o", "pub.cert",
        ],
    );
    ok_in(dir, &["key", "trust", "root.pub", "-o", "platform.trust"]);
    let key = dir.join("pub.key").display().to_string();
    let cert = dir.join("pub.cert").display().to_string();
    std::fs::write(dir.join("CARDS.csv"), CARDS).unwrap();
    std::fs::write(
        dir.join("BLACKLIST.csv"),
        "number,reason,source\n440524188001010014,forged|identity_card,public_security\n",
    )
    .unwrap();
    let bank = dir.join("bank.idcs").display().to_string();
    let police = dir.join("police.idcs").display().to_string();
    let cards = dir.join("CARDS.csv").display().to_string();
    let bl = dir.join("BLACKLIST.csv").display().to_string();
    let o = idcard(
        &[
            "snapshot",
            "build",
            "--cards",
            &cards,
            "-o",
            &bank,
            "--json",
            "--sign-key",
            &key,
            "--sign-cert",
            &cert,
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["cards"], 2);
    assert_eq!(v["profile"], "bank");
    let o = idcard(
        &[
            "snapshot",
            "build",
            "--cards",
            &cards,
            "--blacklist",
            &bl,
            "--profile",
            "police",
            "-o",
            &police,
            "--sign-key",
            &key,
            "--sign-cert",
            &cert,
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    (bank, police)
}

#[test]
fn l3_build_inspect_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, _) = setup(dir.path());
    let o = idcard(&["snapshot", "inspect", &bank, "--json"], "");
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["checksums_ok"], true);
    assert_eq!(v["card_count"], 2);
    assert_eq!(v["blacklist_count"], 0);
    assert_eq!(v["format_version"], 3);
    assert_eq!(v["signature"]["signed"], true);
    assert_eq!(v["signature"]["verified"], false, "no trust file given");
    let trust = dir.path().join("platform.trust").display().to_string();
    let trust = trust.as_str();

    // One card from arguments.
    let o = idcard(
        &[
            "verify",
            "--snapshot",
            &bank,
            "--trust",
            trust,
            "11010519491231002x",
            "2005-06-01",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1), "a lost card is not valid");
    assert_eq!(
        out(&o),
        "number,valid_from,status\n11010519491231002x,2005-06-01,lost\n"
    );
    let o = idcard(
        &[
            "verify",
            "--snapshot",
            &bank,
            "--trust",
            trust,
            "11010519491231002X",
            "2015-06-01",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0));
    // CSV on stdin, with and without header, JSON out.
    let o = idcard(
        &["verify", "--snapshot", &bank, "--trust", trust, "--json"],
        "number,valid_from\n11010519491231002X,2005-06-01\n11010519491231002X,2015-06-01\nnot-a-number,2015-06-01\n440524188001010014,1990-01-02\n11010519491231002X,2015-13-01\n",
    );
    let statuses: Vec<String> = out(&o)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "lost",
            "valid",
            "invalid_number",
            "superseded",
            "invalid_number"
        ]
    );
}

#[test]
fn l3_bad_rows_name_the_line_or_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let cards = dir.path().join("CARDS.csv");
    std::fs::write(
        &cards,
        format!("{CARDS}110105194912310021,2005-06-01,lost,\n"),
    )
    .unwrap();
    let c = cards.display().to_string();
    let o_path = dir.path().join("s.idcs").display().to_string();
    let o = idcard(&["snapshot", "build", "--cards", &c, "-o", &o_path], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("line 4") && err(&o).contains("check character"),
        "{}",
        err(&o)
    );
    assert!(!Path::new(&o_path).exists(), "nothing written on error");
    let o = idcard(
        &[
            "snapshot",
            "build",
            "--cards",
            &c,
            "-o",
            &o_path,
            "--skip-bad",
            "--json",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["skipped_rows"], 1);
    assert_eq!(v["cards"], 2);
}

#[test]
fn a6_blacklist_check_police_only() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, police) = setup(dir.path());
    let trust = dir.path().join("platform.trust").display().to_string();
    let o = idcard(
        &[
            "blacklist",
            "check",
            "--snapshot",
            &police,
            "--trust",
            &trust,
            "--json",
            "440524188001010014",
            "11010519491231002X",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1), "someone is listed");
    let lines: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["listed"], true);
    assert_eq!(
        lines[0]["reasons"],
        serde_json::json!(["forged", "identity_card"])
    );
    assert_eq!(lines[0]["source"], "public_security");
    assert_eq!(lines[1]["listed"], false);
    let o = idcard(
        &[
            "blacklist",
            "check",
            "--snapshot",
            &bank,
            "--trust",
            &trust,
            "440524188001010014",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("bank profile"), "{}", err(&o));
}

#[test]
fn l3_damaged_snapshot_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, _) = setup(dir.path());
    let trust = dir.path().join("platform.trust").display().to_string();
    // A signed snapshot with one byte changed: its content no longer matches the signed hash.
    let mut bytes = std::fs::read(&bank).unwrap();
    bytes[300] ^= 0x40;
    std::fs::write(&bank, &bytes).unwrap();
    let o = idcard(&["snapshot", "inspect", &bank, "--trust", &trust], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("FAILED"), "{}", out(&o));
    let o = idcard(
        &[
            "verify",
            "--snapshot",
            &bank,
            "--trust",
            &trust,
            "11010519491231002X",
            "2005-06-01",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("signed hash"), "{}", err(&o));
    // An unsigned snapshot (opened only when allowed) is still held by its checksums.
    let cards = dir.path().join("CARDS.csv").display().to_string();
    let unsigned = dir.path().join("unsigned.idcs").display().to_string();
    ok_in(
        dir.path(),
        &["snapshot", "build", "--cards", &cards, "-o", &unsigned],
    );
    let mut bytes = std::fs::read(&unsigned).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    std::fs::write(&unsigned, &bytes).unwrap();
    let o = idcard(&["snapshot", "inspect", &unsigned], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("FAILED"), "{}", out(&o));
    let o = idcard(
        &[
            "verify",
            "--snapshot",
            &unsigned,
            "--allow-unsigned",
            "11010519491231002X",
            "2005-06-01",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("checksum"), "{}", err(&o));
    let o = idcard(
        &[
            "verify",
            "--snapshot",
            "/nonexistent.idcs",
            "--trust",
            &trust,
            "11010519491231002X",
            "2005-06-01",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("/nonexistent.idcs"));
}

/// The attacks of issue 14 through the command line: a snapshot built by anyone (the CLI
/// builds snapshots from any CSV) with an as-of far in the future, unsigned or signed by a key
/// the trust file does not know, never answers for the platform.
#[test]
fn l3_forged_snapshots_are_refused_by_a_verifier_that_pins_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = setup(dir.path());
    let d = dir.path();
    let trust = d.join("platform.trust").display().to_string();
    std::fs::write(d.join("EMPTY.csv"), "number,valid_from,status\n").unwrap();
    ok_in(
        d,
        &["key", "generate", "--name", "mallory", "-o", "evil.key"],
    );
    for (name, extra) in [
        ("unsigned.idcs", vec![]),
        ("evil.idcs", vec!["--sign-key", "evil.key"]),
    ] {
        let mut args = vec![
            "snapshot",
            "build",
            "--cards",
            "EMPTY.csv",
            "--as-of",
            "2099-01-01T00:00:00Z",
            "-o",
            name,
        ];
        args.extend(extra);
        ok_in(d, &args);
        let o = Command::new(env!("CARGO_BIN_EXE_idcard"))
            .current_dir(d)
            .args([
                "verify",
                "--snapshot",
                name,
                "--trust",
                &trust,
                "11010519491231002X",
                "2005-06-01",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: {}", out(&o));
        assert!(out(&o).is_empty() || !out(&o).contains(",valid"), "{name}");
    }
    // Signed by the platform but dated 2099: refused as from the future.
    ok_in(
        d,
        &[
            "snapshot",
            "build",
            "--cards",
            "EMPTY.csv",
            "--as-of",
            "2099-01-01T00:00:00Z",
            "-o",
            "future.idcs",
            "--sign-key",
            "pub.key",
            "--sign-cert",
            "pub.cert",
        ],
    );
    let o = idcard(
        &[
            "verify",
            "--snapshot",
            &d.join("future.idcs").display().to_string(),
            "--trust",
            &trust,
            "11010519491231002X",
            "2005-06-01",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("future"), "{}", err(&o));
}
