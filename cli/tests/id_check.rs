//! The `idcard id check` contract (N1-N3): JSON fields, stdin, exit codes.

use std::io::Write;
use std::process::{Command, Stdio};

fn idcard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_idcard"))
}

fn run_stdin(args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = idcard()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn n1_valid_arguments_exit_zero_with_json_fields() {
    let out = idcard()
        .args([
            "id",
            "check",
            "--json",
            "11010519491231002x",
            "110105491231002",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json_lines(std::str::from_utf8(&out.stdout).unwrap());
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["input"], "11010519491231002x");
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[0]["number"], "11010519491231002X");
    assert_eq!(v[0]["upgraded_from_15"], false);
    assert_eq!(v[0]["division_code"], "110105");
    assert_eq!(v[0]["division_name"], "朝阳区");
    assert_eq!(v[0]["birth_date"], "1949-12-31");
    assert_eq!(v[0]["sex"], "female");
    assert!(v[0]["error"].is_null());
    assert_eq!(v[1]["upgraded_from_15"], true);
    assert_eq!(v[1]["number"], "11010519491231002X");
}

#[test]
fn n1_stdin_one_object_per_line_and_exit_one_on_invalid() {
    let (code, out) = run_stdin(
        &["id", "check", "--json"],
        "11010519491231002X\r\n110105194912310021\n\nabc\n",
    );
    assert_eq!(code, 1);
    let v = json_lines(&out);
    assert_eq!(v.len(), 4);
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[1]["valid"], false);
    assert_eq!(v[1]["error"]["kind"], "check_character");
    assert!(
        v[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected 'X'")
    );
    assert!(v[1]["number"].is_null());
    assert_eq!(v[2]["error"]["kind"], "length");
    assert_eq!(v[3]["error"]["kind"], "length");
}

#[test]
fn n3_strict_flag_and_operator_table() {
    // 110118 (密云区) exists from 2015: a 1990 birth fails strictly.
    let (code, _) = run_stdin(&["id", "check", "--strict"], "110118199001010012\n");
    assert_eq!(code, 1);
    let (code, _) = run_stdin(&["id", "check"], "110118199001010012\n");
    assert_eq!(code, 0);
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("newer.csv");
    std::fs::write(&table, "code,name,start_year,end_year\n659099,新区,2020,\n").unwrap();
    // 65909920210101001 + check character.
    let body = "65909920210101001";
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = body
        .bytes()
        .zip(w)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    let number = format!("{body}{}", b"10X98765432"[(s % 11) as usize] as char);
    let (code, _) = run_stdin(&["id", "check"], &number);
    assert_eq!(code, 1, "unknown without the newer table");
    let (code, out) = run_stdin(
        &[
            "id",
            "check",
            "--json",
            "--divisions",
            table.to_str().unwrap(),
        ],
        &number,
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(json_lines(&out)[0]["division_name"], "新区");
}

#[test]
fn usage_errors_exit_two() {
    let out = idcard().args(["id", "check", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = idcard()
        .args([
            "id",
            "check",
            "--divisions",
            "/nonexistent.csv",
            "11010519491231002X",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.csv"));
}

#[test]
fn help_on_every_command() {
    for args in [
        &["--help"][..],
        &["id", "--help"],
        &["id", "check", "--help"],
    ] {
        let out = idcard().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
}
