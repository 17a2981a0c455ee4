//! The layers of `core/src` (see the crate documentation): a module uses only modules of a
//! lower layer, so a reader following the `use` lines only ever goes down — no module of the
//! domain imports the engine, the engine imports no workflow.
//!
//! `cargo test -p idcard --test layers` prints every upward reference it finds.

use std::collections::BTreeMap;
use std::path::Path;

/// Top-level modules by layer, lowest first.
const LAYERS: &[&[&str]] = &[
    &["civil", "time", "fsutil"],
    &["trust"],
    &["division"],
    &["number"],
    &["card"],
    &["index", "journal"],
    &["station", "population", "policy", "store"],
    &["model"],
    &["projection"],
    &["engine"],
    &["workflow", "analyst"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `crate::NAME` for names the crate root re-exports (`pub use card::{Card, …}`).
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let text = lib.replace('\n', " ");
    for stmt in text.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        for name in names
            .trim_matches(|c| c == '{' || c == '}' || c == ' ')
            .split(',')
        {
            let name = name.trim();
            if !name.is_empty() {
                out.insert(name.to_string(), module.trim().to_string());
            }
        }
    }
    out
}

#[test]
fn core_modules_only_use_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let reexports = root_reexports(&lib);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    let mut modules_seen = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            panic!(
                "{}: module {module} is in no layer of this test",
                rel.display()
            );
        };
        modules_seen += 1;
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let target = reexports.get(&name).cloned().unwrap_or(name);
                if target == module {
                    continue;
                }
                let Some(theirs) = layer_of(&target) else {
                    continue;
                };
                if theirs >= own {
                    upward.push(format!(
                        "{}:{}: {module} (layer {own}) uses {target} (layer {theirs})",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(modules_seen > 30, "read {modules_seen} files");
    assert!(
        upward.is_empty(),
        "references that do not go down:\n{}",
        upward.join("\n")
    );
}
