//! The README's "A day at the counter" runs as written: the block between the walkthrough
//! markers, in an empty directory, with `idcard` the binary under test.

use std::process::Command;

#[test]
fn a1_a9_l1_n5_readme_walkthrough_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("<!-- walkthrough:begin -->")
        .expect("walkthrough begins");
    let end = readme
        .find("<!-- walkthrough:end -->")
        .expect("walkthrough ends");
    let block = &readme[start..end];
    let body = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .map(|(b, _)| b)
        .expect("a sh block");
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "set -e\nidcard() {{ \"{}\" \"$@\"; }}\n{body}",
        env!("CARGO_BIN_EXE_idcard")
    );
    std::fs::write(dir.path().join("walk.sh"), script).unwrap();
    let out = Command::new("sh")
        .arg("walk.sh")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for want in [
        "110105198503120020,2015-03-01,lost",
        "110105197001010038,2005-06-01,expired",
        "(first_application, home) accepted",
        "fee 0.00 yuan (first application: free)",
        "(renewal, home) accepted",
        "no found card",
        "foreign_permanent_resident",
        "hong_kong_resident",
    ] {
        assert!(stdout.contains(want), "{want:?} not in:\n{stdout}");
    }
    assert!(stderr.contains("replacement_in_progress"), "{stderr}");
}

/// Counter papercuts: "in person" and the review's decision are never defaults; a closed pipe
/// ends the command quietly.
#[test]
fn s1_a10_required_flags_and_a_closed_pipe() {
    let bin = env!("CARGO_BIN_EXE_idcard");
    let usage = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let who = ["--data", "d", "--officer", "X", "--station", "Y"];
    let with = |rest: &[&'static str]| -> Vec<&'static str> {
        let mut v: Vec<&str> = rest.to_vec();
        v.extend(who);
        v
    };
    assert!(usage(&with(&["application", "review", "--id", "1"])).contains("--approve"));
    assert!(
        usage(&with(&[
            "application",
            "apply",
            "--kind",
            "renewal",
            "--number",
            "11010519491231002X",
            "--appearance",
            "matches"
        ]))
        .contains("--present")
    );
    assert!(
        usage(&with(&[
            "application",
            "apply",
            "--kind",
            "renewal",
            "--number",
            "11010519491231002X",
            "--present",
            "11010519491231002X"
        ]))
        .contains("--appearance")
    );
    assert!(
        usage(&with(&["loss", "report", "--number", "11010519491231002X"])).contains("--present")
    );
    // A closed pipe: far more output than a pipe holds, read one line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("many.txt"),
        "11010519491231002X\n".repeat(200_000),
    )
    .unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "\"{bin}\" id check < many.txt 2> err.txt | head -1"
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap();
    assert!(!err.contains("panicked"), "{err}");
}
