//! `idcard key`: generate keys, certify publishing keys, write trust files, show any of them.

use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use idcard::trust::{Algorithm, KeyCertificate, PublicKey, SecretKey, TrustStore};
use serde_json::json;

use crate::args::key::KeyCommand;

pub fn key(cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Generate { name, output, json } => {
            let key = SecretKey::generate(Algorithm::Ed25519, name)?;
            let public_path = key.write_files(&output)?;
            let p = key.public();
            if json {
                println!(
                    "{}",
                    json!({"key_id": p.id(), "name": p.name(), "algorithm": p.algorithm().as_str(),
                        "private": output.display().to_string(), "public": public_path.display().to_string()})
                );
            } else {
                println!(
                    "key {} ({}, {}): private key {} (keep it offline), public key {}",
                    p.id(),
                    p.name(),
                    p.algorithm().as_str(),
                    output.display(),
                    public_path.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::Certify {
            root,
            key,
            roles,
            valid_from,
            valid_until,
            days,
            output,
            json,
        } => {
            let root = SecretKey::read(&root)?;
            let key = PublicKey::read(&key)?;
            let from = valid_from.unwrap_or_else(Utc::now);
            let until = valid_until.unwrap_or(from + Duration::days(i64::from(days)));
            let cert = KeyCertificate::issue(&root, &key, roles, from, until)?;
            if output.exists() {
                bail!("{} exists; not overwritten", output.display());
            }
            std::fs::write(&output, cert.as_bytes())
                .with_context(|| format!("writing {}", output.display()))?;
            print_certificate(&cert, json, Some(&output.display().to_string()));
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::Trust { keys, output } => {
            let roots = keys
                .iter()
                .map(PublicKey::read)
                .collect::<Result<Vec<_>, _>>()?;
            let store = TrustStore::new(roots);
            std::fs::write(&output, store.to_text())
                .with_context(|| format!("writing {}", output.display()))?;
            for r in store.roots() {
                println!("pinned root {} ({})", r.id(), r.name());
            }
            println!("wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::Show { file, json } => show(&file, json),
    }
}

fn print_certificate(cert: &KeyCertificate, json: bool, path: Option<&str>) {
    if json {
        println!(
            "{}",
            json!({"kind": "certificate", "file": path, "key_id": cert.key().id(), "name": cert.key().name(),
                "roles": cert.roles().names(), "valid_from": cert.valid_from(),
                "valid_until": cert.valid_until(), "issuer": cert.issuer()})
        );
    } else {
        println!(
            "certificate for key {} ({}): may sign {}, valid {} to {}, issued by root {}",
            cert.key().id(),
            cert.key().name(),
            cert.roles().names().join(", "),
            cert.valid_from().to_rfc3339(),
            cert.valid_until().to_rfc3339(),
            cert.issuer()
        );
    }
}

fn show(file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file.display().to_string();
    if let Ok(cert) = KeyCertificate::parse(&bytes) {
        print_certificate(&cert, json, Some(&name));
        return Ok(ExitCode::SUCCESS);
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{name}: not a key, certificate or trust file"))?;
    let (kind, keys) = if let Ok(k) = SecretKey::from_file_text(&text, &name) {
        ("private key", vec![k.public()])
    } else if let Ok(store) = TrustStore::from_text(&text, &name) {
        let kind = if store.roots().len() == 1 {
            "public key"
        } else {
            "trust file"
        };
        (kind, store.roots().to_vec())
    } else {
        bail!("{name}: not a key, certificate or trust file");
    };
    for k in keys {
        if json {
            println!(
                "{}",
                json!({"kind": kind, "file": name, "key_id": k.id(), "name": k.name(), "algorithm": k.algorithm().as_str()})
            );
        } else {
            println!(
                "{kind}: key {} ({}, {})",
                k.id(),
                k.name(),
                k.algorithm().as_str()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
