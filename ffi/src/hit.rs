//! Hit reports (L4) for the platform: a bank's counter software that caught a card used by
//! someone else signs a `report_hit` command with its officer's key, and sends the JSON to the
//! platform's `POST /v1/commands` with its own HTTP client (the library holds no network code:
//! TLS, proxies and retries stay the bank's; docs/FORMAT.md §13 is the wire form).

use std::ffi::{CStr, c_char, c_int};

use idcard_core::CardKey;
use idcard_core::station::{Actor, CommandKind};
use idcard_core::trust::SecretKey;
use idcard_core::workflow::remote;

use crate::error::{
    IDC_ERR_BUFFER_TOO_SMALL, IDC_ERR_INVALID_ARGUMENT, IDC_ERR_INVALID_NUMBER,
    IDC_ERR_NULL_ARGUMENT, IDC_OK, boundary, fail, trust_code,
};

/// # Safety
/// `s` NULL or a NUL-terminated string.
unsafe fn text<'a>(s: *const c_char, what: &str) -> Result<&'a str, c_int> {
    if s.is_null() {
        return Err(fail(IDC_ERR_NULL_ARGUMENT, format!("{what} is NULL")));
    }
    // SAFETY: caller contract.
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| fail(IDC_ERR_INVALID_ARGUMENT, format!("{what} is not UTF-8")))
}

/// Sign a hit report (L4) for the platform: the card presented (`number`, `number_len` bytes,
/// and its validity start `valid_from` as `yyyymmdd`) and what happened (`note`), as officer
/// `officer` of unit `station` with the private key in `key_file` (`idcard key generate`). The
/// result is the JSON body of `POST /v1/commands` (docs/FORMAT.md §13), NUL-terminated, in `buf`
/// of `cap` bytes; `*out_len` is its length without the NUL. The platform checks the signature,
/// that the officer is registered and active at that unit, and that the signing time is within
/// five minutes of its clock: send it at once. A buffer too small gives
/// `IDC_ERR_BUFFER_TOO_SMALL` and the size needed in the message (4,096 bytes always suffice
/// for a note under 2,000 bytes).
///
/// # Safety
/// `key_file`, `officer`, `station`, `note` NUL-terminated strings; `number` valid for
/// `number_len` bytes; `buf` writable for `cap` bytes; `out_len` writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn idc_hit_report_sign(
    key_file: *const c_char,
    officer: *const c_char,
    station: *const c_char,
    number: *const c_char,
    number_len: usize,
    valid_from: u32,
    note: *const c_char,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract, for each argument.
        let args = unsafe {
            (
                text(key_file, "key_file"),
                text(officer, "officer"),
                text(station, "station"),
                text(note, "note"),
                crate::number::bytes(number, number_len),
            )
        };
        let (key_file, officer, station, note, number) = match args {
            (Ok(k), Ok(o), Ok(s), Ok(n), Some(num)) => (k, o, s, n, num),
            (Err(c), ..) | (_, Err(c), ..) | (_, _, Err(c), ..) | (_, _, _, Err(c), _) => return c,
            (.., None) => return fail(IDC_ERR_NULL_ARGUMENT, "number is NULL"),
        };
        if buf.is_null() || out_len.is_null() {
            return fail(IDC_ERR_NULL_ARGUMENT, "buf or out_len is NULL");
        }
        let number = match std::str::from_utf8(number)
            .ok()
            .and_then(|s| s.parse::<idcard_core::IdNumber>().ok())
        {
            Some(n) => n,
            None => {
                return fail(
                    IDC_ERR_INVALID_NUMBER,
                    "the number is not a valid identity number",
                );
            }
        };
        let date = chrono::NaiveDate::from_ymd_opt(
            (valid_from / 10_000) as i32,
            valid_from / 100 % 100,
            valid_from % 100,
        );
        let Some(card) = date.and_then(|d| CardKey::new(number, d).ok()) else {
            return fail(
                IDC_ERR_INVALID_ARGUMENT,
                format!("valid_from {valid_from} is not a card's date (yyyymmdd)"),
            );
        };
        let key = match SecretKey::read(key_file) {
            Ok(k) => k,
            Err(e) => return fail(trust_code(&e), e.to_string()),
        };
        let actor = match Actor::new(officer, station) {
            Ok(a) => a.with_key(key),
            Err(e) => return fail(IDC_ERR_INVALID_ARGUMENT, e),
        };
        let request = serde_json::json!({
            "card": {"number": card.number().to_string(), "valid_from": card.valid_from().to_string()},
            "note": note,
        });
        let now = chrono::Utc::now().timestamp_millis();
        let json = match remote::sign(&actor, CommandKind::ReportHit, request, now)
            .map_err(|e| e.to_string())
            .and_then(|sc| serde_json::to_string(&sc).map_err(|e| e.to_string()))
        {
            Ok(j) => j,
            Err(e) => return fail(IDC_ERR_INVALID_ARGUMENT, e),
        };
        if json.len() + 1 > cap {
            return fail(
                IDC_ERR_BUFFER_TOO_SMALL,
                format!(
                    "the report needs {} bytes, the buffer has {cap}",
                    json.len() + 1
                ),
            );
        }
        // SAFETY: `buf` is writable for `cap` bytes (caller contract), `json.len() + 1 <= cap`.
        unsafe {
            std::ptr::copy_nonoverlapping(json.as_ptr(), buf.cast::<u8>(), json.len());
            *buf.add(json.len()) = 0;
            *out_len = json.len();
        }
        IDC_OK
    })
}
