//! Sequences of C API calls (libidcard, `ffi/`) as a bank's program might make them: open a
//! good, damaged or missing snapshot, verify numbers of any bytes (one and in batches), check
//! the blacklist, apply deltas and swap snapshots (good ones and fuzzed bytes), read the info
//! and the last error, free. Every call keeps the C contract (no dangling pointers), NULLs
//! included where the header allows them. Invariants: no panic escapes (`IDC_ERR_PANIC` never
//! comes back), every failure has a message, out-parameters are written only on success.
#![no_main]

use std::ffi::{CStr, CString, c_char};
use std::path::PathBuf;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use idcard::index::{
    BlacklistEntry, BlacklistReasons, CardEntry, CardStatus, DeltaBuilder, Profile,
    SnapshotBuilder, Timestamp, fuzzing,
};
use idcard::trust::FileKind;
use idcard::{CardKey, IdNumber};
use idcard_ffi::*;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Open {
        file: u8,
        skip_checksums: bool,
        max_age: i8,
        /// 0: the trust file; 1: unsigned allowed; 2: unsigned allowed and the trust file;
        /// 3: neither (refused).
        trust: u8,
        /// Re-sign fuzzed bytes with the test key (so their structure is reached).
        sign: bool,
        bytes: Vec<u8>,
    },
    Timestamp {
        file: u8,
        bytes: Vec<u8>,
        sign: bool,
    },
    Verify {
        number: Vec<u8>,
        valid_from: u32,
        null_out: bool,
    },
    VerifyBatch {
        numbers: Vec<u8>,
        count: u8,
        valid_from: u32,
    },
    Blacklist {
        number: Vec<u8>,
    },
    ApplyDelta {
        file: u8,
        bytes: Vec<u8>,
    },
    Swap {
        file: u8,
        bytes: Vec<u8>,
    },
    Info,
    NumberCheck {
        number: Vec<u8>,
        strict: bool,
    },
    ResultName {
        code: i32,
    },
    Free,
    ApplyDeltaDir {
        /// Files of the folder: the good delta (`true`) or fuzzed bytes.
        files: Vec<(bool, Vec<u8>)>,
        null_out: bool,
    },
}

struct Files {
    _dir: tempfile::TempDir,
    police: CString,
    bank: CString,
    newer: CString,
    delta: CString,
    missing: CString,
    timestamp: CString,
    trust: CString,
    scratch: PathBuf,
    delta_path: PathBuf,
    folder: PathBuf,
}

fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let n: IdNumber = "11010519491231002X".parse().unwrap();
        let key = CardKey::new(n, chrono::NaiveDate::from_ymd_opt(2010, 1, 1).unwrap()).unwrap();
        let write = |name: &str, profile, seq| {
            let mut b = SnapshotBuilder::new(profile);
            b.journal_seq(seq);
            b.signer(fuzzing::signer());
            b.extend_cards([(key, CardEntry::new(CardStatus::Lost))]);
            if profile == Profile::Police {
                b.extend_blacklist([(n, BlacklistEntry::new(BlacklistReasons::FORGED))]);
            }
            let path = dir.path().join(name);
            let info = b.write(&path).unwrap();
            (path, info)
        };
        let (police, info) = write("police.idcs", Profile::Police, 5);
        let (bank, _) = write("bank.idcs", Profile::Bank, 5);
        let (newer, _) = write("newer.idcs", Profile::Police, 9);
        let mut d = DeltaBuilder::new(&info, 5, 6);
        d.clear_card(key);
        let delta = dir.path().join("d.idcd");
        d.build()
            .write(&delta, Some(fuzzing::signer().as_ref()))
            .unwrap();
        let timestamp = dir.path().join("t.idct");
        Timestamp::new(Profile::Police, info.snapshot_id, 6, chrono::Utc::now())
            .write(&timestamp, fuzzing::signer().as_ref())
            .unwrap();
        let trust = dir.path().join("platform.trust");
        std::fs::write(&trust, fuzzing::trust().to_text()).unwrap();
        let c = |p: &std::path::Path| CString::new(p.to_str().unwrap()).unwrap();
        Files {
            police: c(&police),
            bank: c(&bank),
            newer: c(&newer),
            delta: c(&delta),
            missing: c(&dir.path().join("missing.idcs")),
            timestamp: c(&timestamp),
            trust: c(&trust),
            scratch: dir.path().join("scratch"),
            folder: dir.path().join("deltas"),
            delta_path: delta,
            _dir: dir,
        }
    })
}

/// A path for `file`: a prepared file, or the fuzzed `bytes` written to a scratch file
/// (signed with the test key as a `kind` file when `sign`).
fn path_signed(file: u8, bytes: &[u8], sign: Option<FileKind>) -> CString {
    let f = files();
    match file % 7 {
        0 => f.police.clone(),
        1 => f.bank.clone(),
        2 => f.newer.clone(),
        3 => f.delta.clone(),
        4 => f.missing.clone(),
        5 => f.timestamp.clone(),
        _ => {
            let mut bytes = bytes.to_vec();
            if let Some(kind) = sign {
                fuzzing::sign(&mut bytes, kind);
            }
            std::fs::write(&f.scratch, bytes).unwrap();
            CString::new(f.scratch.to_str().unwrap()).unwrap()
        }
    }
}

fn path(file: u8, bytes: &[u8]) -> CString {
    path_signed(file, bytes, None)
}

fn check(rc: i32) {
    assert_ne!(rc, IDC_ERR_PANIC, "a panic reached the C boundary");
    if rc != IDC_OK {
        let msg = idc_last_error_message();
        assert!(!msg.is_null());
        // SAFETY: the library returns a NUL-terminated string valid until the next call.
        let msg = unsafe { CStr::from_ptr(msg) };
        assert!(!msg.to_bytes().is_empty(), "failure {rc} without a message");
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut v: *mut idc_verifier = std::ptr::null_mut();
    for op in ops.into_iter().take(24) {
        // SAFETY (every call below): pointers are NULL, or point to live buffers of the stated
        // lengths, or to the live verifier `v`; `v` is freed once and reset to NULL.
        unsafe {
            match op {
                Op::Open {
                    file,
                    skip_checksums,
                    max_age,
                    trust,
                    sign,
                    bytes,
                } => {
                    let p = path_signed(file, &bytes, sign.then_some(FileKind::Snapshot));
                    let f = files();
                    let options = idc_verifier_options {
                        trust_file: if trust % 4 == 0 || trust % 4 == 2 {
                            f.trust.as_ptr()
                        } else {
                            std::ptr::null()
                        },
                        max_age_seconds: i64::from(max_age),
                        allow_unsigned: u8::from(trust % 4 == 1 || trust % 4 == 2),
                        skip_checksums: skip_checksums as u8,
                        state_file: std::ptr::null(),
                        max_delta_bytes: 0,
                    };
                    let mut out: *mut idc_verifier = std::ptr::null_mut();
                    let rc = idc_verifier_open_with(p.as_ptr(), &options, &mut out);
                    check(rc);
                    assert_eq!(rc == IDC_OK, !out.is_null(), "out written only on success");
                    if rc == IDC_OK {
                        idc_verifier_free(v);
                        v = out;
                    }
                }
                Op::Verify {
                    number,
                    valid_from,
                    null_out,
                } => {
                    let mut status = 0xEEu8;
                    let out = if null_out {
                        std::ptr::null_mut()
                    } else {
                        &mut status as *mut u8
                    };
                    let rc = idc_verify(
                        v,
                        number.as_ptr().cast::<c_char>(),
                        number.len(),
                        valid_from,
                        out,
                    );
                    check(rc);
                    if rc == IDC_OK {
                        assert!(status <= 6, "status {status}");
                    } else {
                        assert_eq!(status, 0xEE, "out written on failure");
                    }
                }
                Op::VerifyBatch {
                    numbers,
                    count,
                    valid_from,
                } => {
                    let n = (count as usize).min(numbers.len() / 18);
                    let dates = vec![valid_from; n];
                    let mut out = vec![0xEEu8; n];
                    let rc = idc_verify_batch(
                        v,
                        numbers.as_ptr().cast::<c_char>(),
                        n,
                        dates.as_ptr(),
                        out.as_mut_ptr(),
                    );
                    check(rc);
                    if rc == IDC_OK {
                        assert!(out.iter().all(|&s| s <= 6));
                    }
                }
                Op::Blacklist { number } => {
                    let mut reasons = 0xDEADu32;
                    let rc = idc_blacklist_check(
                        v,
                        number.as_ptr().cast::<c_char>(),
                        number.len(),
                        &mut reasons,
                    );
                    check(rc);
                    if rc != IDC_OK {
                        assert_eq!(reasons, 0xDEAD, "out written on failure");
                    }
                }
                Op::Timestamp { file, bytes, sign } => {
                    let p = path_signed(file, &bytes, sign.then_some(FileKind::Timestamp));
                    check(idc_verifier_apply_timestamp(v, p.as_ptr()));
                }
                Op::ApplyDelta { file, bytes } => {
                    let p = path(file, &bytes);
                    check(idc_verifier_apply_delta(v, p.as_ptr()));
                }
                Op::ApplyDeltaDir {
                    files: list,
                    null_out,
                } => {
                    let f = files();
                    let _ = std::fs::remove_dir_all(&f.folder);
                    std::fs::create_dir(&f.folder).unwrap();
                    for (i, (good, bytes)) in list.iter().take(4).enumerate() {
                        let p = f.folder.join(format!("{i}.idcd"));
                        if *good {
                            std::fs::copy(&f.delta_path, p).unwrap();
                        } else {
                            std::fs::write(p, bytes).unwrap();
                        }
                    }
                    let dir = CString::new(f.folder.to_str().unwrap()).unwrap();
                    let mut n: usize = 0xDEAD;
                    let mut skipped: usize = 0xDEAD;
                    let out = if null_out {
                        std::ptr::null_mut()
                    } else {
                        &mut n as *mut usize
                    };
                    let rc = idc_verifier_apply_delta_dir(v, dir.as_ptr(), out, &mut skipped);
                    check(rc);
                    if rc == IDC_OK {
                        assert!(n <= list.len().min(4), "{n} applied");
                        assert!(skipped <= list.len().min(4), "{skipped} skipped");
                    } else {
                        assert_eq!(n, 0xDEAD, "out written on failure");
                        assert_eq!(skipped, 0xDEAD, "out written on failure");
                    }
                }
                Op::Swap { file, bytes } => {
                    let p = path(file, &bytes);
                    check(idc_verifier_swap_snapshot(v, p.as_ptr()));
                }
                Op::Info => {
                    let mut info = idc_verifier_info::default();
                    let rc = idc_verifier_info_get(v, &mut info);
                    check(rc);
                    assert_eq!(rc == IDC_OK, !v.is_null());
                }
                Op::NumberCheck { number, strict } => {
                    let mut info = idc_number_info::default();
                    let flags = if strict { IDC_CHECK_STRICT } else { 0 };
                    let rc = idc_number_check_ex(
                        number.as_ptr().cast::<c_char>(),
                        number.len(),
                        flags,
                        &mut info,
                    );
                    check(rc);
                    if rc == IDC_OK {
                        let text = CStr::from_ptr(info.number.as_ptr()).to_str().unwrap();
                        assert_eq!(text.len(), 18);
                        assert!(text.parse::<IdNumber>().is_ok());
                    }
                }
                Op::ResultName { code } => {
                    let name = idc_result_name(code);
                    assert!(!name.is_null());
                }
                Op::Free => {
                    idc_verifier_free(v);
                    v = std::ptr::null_mut();
                }
            }
        }
    }
    // SAFETY: `v` is NULL or live.
    unsafe { idc_verifier_free(v) };
});
