//! `idc_hit_report_sign` (L4): what the C library signs, the platform accepts as the unit
//! officer's hit report; altered, it is refused.

use std::ffi::CString;

use idcard::{IDC_OK, idc_hit_report_sign};
use idcard_core::engine::{Engine, EngineOptions};
use idcard_core::workflow::remote::{self, SignedCommand};
use idcard_server::load::{derived_key, setup};

fn sign(
    key: &std::path::Path,
    officer: &str,
    station: &str,
    number: &str,
    date: u32,
) -> (i32, String) {
    let c = |s: &str| CString::new(s).unwrap();
    let (k, o, s, n, note) = (
        c(key.to_str().unwrap()),
        c(officer),
        c(station),
        c(number),
        c("presented by someone else"),
    );
    let mut buf = vec![0u8; 4096];
    let mut len = 0usize;
    // SAFETY: valid strings and a buffer of its length.
    let rc = unsafe {
        idc_hit_report_sign(
            k.as_ptr(),
            o.as_ptr(),
            s.as_ptr(),
            n.as_ptr(),
            number.len(),
            date,
            note.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut len,
        )
    };
    (rc, String::from_utf8(buf[..len].to_vec()).unwrap())
}

#[test]
fn l4_a_hit_report_signed_by_the_c_library_is_accepted_by_the_platform() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(&dir.path().join("data"), 5, 1, 1).unwrap();
    derived_key("U0")
        .write_files(dir.path().join("u0.key"))
        .unwrap();
    let card = s.cards[0];
    let date = card
        .valid_from()
        .format("%Y%m%d")
        .to_string()
        .parse()
        .unwrap();
    let (rc, json) = sign(
        &dir.path().join("u0.key"),
        "U0",
        "BANK0",
        &card.number().to_string(),
        date,
    );
    assert_eq!(rc, IDC_OK);
    let sc: SignedCommand = serde_json::from_str(&json).unwrap();
    let (engine, _) = Engine::open_existing(&s.data, EngineOptions::default()).unwrap();
    let out = remote::execute(&engine, &sc).unwrap().unwrap();
    assert!(out["routed_to"].is_string(), "{out}");
    // The same report again is a replay; altered, it is not the officer's.
    let again = remote::execute(&engine, &sc).unwrap().unwrap_err();
    assert_eq!(again.refusal().unwrap().code, "replayed");
    let (_, json) = sign(
        &dir.path().join("u0.key"),
        "U0",
        "BANK0",
        &card.number().to_string(),
        date,
    );
    let mut altered: SignedCommand = serde_json::from_str(&json).unwrap();
    altered.request["note"] = serde_json::json!("nothing happened");
    let refused = remote::execute(&engine, &altered).unwrap().unwrap_err();
    assert_eq!(refused.refusal().unwrap().code, "bad_signature");
    // Signed with another officer's key: refused.
    derived_key("H0")
        .write_files(dir.path().join("h0.key"))
        .unwrap();
    let (_, json) = sign(
        &dir.path().join("h0.key"),
        "U0",
        "BANK0",
        &card.number().to_string(),
        date,
    );
    let other: SignedCommand = serde_json::from_str(&json).unwrap();
    let refused = remote::execute(&engine, &other).unwrap().unwrap_err();
    assert_eq!(refused.refusal().unwrap().code, "wrong_key");
    engine.close().unwrap();
}
