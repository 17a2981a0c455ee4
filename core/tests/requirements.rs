//! Requirement ids (N1…, A1…, L1…, F1…, T1…, S1…) are cited in code, tests and docs; each
//! must resolve in `docs/REQUIREMENTS.md`, and each must have a test named after it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The ids `docs/REQUIREMENTS.md` defines: lines `- **A6.** …`.
fn defined() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("docs/REQUIREMENTS.md")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("- **"))
        .filter_map(|l| l.split_once(".**"))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Requirement-shaped tokens in `text`: an upper-case N, A, L, F, T or S and one or two digits,
/// standing alone.
fn ids_in(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len() {
        if !matches!(b[i], b'N' | b'A' | b'L' | b'F' | b'T' | b'S') {
            continue;
        }
        if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
            continue;
        }
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 2 || b[i + 1] == b'0' {
            continue;
        }
        let end = i + 1 + digits;
        if end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            continue;
        }
        out.push(text[i..end].to_string());
    }
    out
}

/// Tokens of that shape that are something else: NumPy's fixed-width byte-string dtypes.
const NOT_REQUIREMENTS: &[&str] = &["S17", "S18"];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            if !matches!(
                name.as_str(),
                "target"
                    | ".git"
                    | ".venv"
                    | "corpus"
                    | "artifacts"
                    | "golden"
                    | "data"
                    | "fixtures"
                    | "vectors"
            ) {
                files(&p, out);
            }
        } else if [
            "rs", "md", "py", "pyi", "c", "cpp", "h", "hpp", "sh", "toml",
        ]
        .iter()
        .any(|x| name.ends_with(&format!(".{x}")))
        {
            out.push(p);
        }
    }
}

#[test]
fn every_cited_requirement_id_is_defined() {
    let defined = defined();
    assert_eq!(
        defined.len(),
        32,
        "N1-N6, A1-A12, L1-L5, F1-F2, T1-T5, S1-S2: {defined:?}"
    );
    let mut all = Vec::new();
    files(&root(), &mut all);
    let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cited = 0;
    for f in &all {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for id in ids_in(&text) {
            cited += 1;
            if !defined.contains(&id) && !NOT_REQUIREMENTS.contains(&id.as_str()) {
                unknown
                    .entry(id)
                    .or_default()
                    .push(f.strip_prefix(root()).unwrap().display().to_string());
            }
        }
    }
    assert!(cited > 500, "found only {cited} citations");
    assert!(
        unknown.is_empty(),
        "ids not in docs/REQUIREMENTS.md: {unknown:?}"
    );
}

#[test]
fn every_requirement_has_a_test_named_after_it() {
    let mut all = Vec::new();
    files(&root(), &mut all);
    let mut named = BTreeSet::new();
    for f in &all {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let test_names = text.lines().filter_map(|l| {
            let l = l.trim_start();
            l.strip_prefix("fn ")
                .or_else(|| l.strip_prefix("def test_"))
                .or_else(|| l.strip_prefix("static void test_"))
        });
        for name in test_names {
            let name: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            for part in name.split('_') {
                let upper = part.to_ascii_uppercase();
                if ids_in(&upper) == [upper.clone()] {
                    named.insert(upper);
                }
            }
        }
    }
    let missing: Vec<_> = defined().difference(&named).cloned().collect();
    assert!(
        missing.is_empty(),
        "requirements with no test named after them: {missing:?}"
    );
}
