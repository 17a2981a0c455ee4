//! Result codes, the panic boundary and the thread-local last error message.

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_int};

use idcard_core::engine::EngineError;
use idcard_core::index::IndexError;
use idcard_core::trust::TrustError;

/// Success.
pub const IDC_OK: c_int = 0;

/// A required pointer argument is NULL (range 100: arguments).
pub const IDC_ERR_NULL_ARGUMENT: c_int = 100;
/// An argument is out of range: a length, a date, a count.
pub const IDC_ERR_INVALID_ARGUMENT: c_int = 101;
/// An output buffer is too small; the message says the size needed.
pub const IDC_ERR_BUFFER_TOO_SMALL: c_int = 102;

/// The identity number is not valid (range 200: numbers); the message says why.
pub const IDC_ERR_INVALID_NUMBER: c_int = 200;

/// An I/O error (range 300: files); the message names the file.
pub const IDC_ERR_IO: c_int = 300;
/// A file larger than the verifier reads (checked before reading it).
pub const IDC_ERR_TOO_LARGE: c_int = 301;

/// The file is damaged: truncated, a checksum mismatch, a field out of range (range 400:
/// formats); the message names the file, the part and the byte offset.
pub const IDC_ERR_CORRUPT_FILE: c_int = 400;
/// The file is not an idcard snapshot or delta.
pub const IDC_ERR_NOT_A_SNAPSHOT: c_int = 401;
/// The file's format version is not one this library reads.
pub const IDC_ERR_UNSUPPORTED_VERSION: c_int = 402;

/// The delta does not follow what the verifier has applied, or the snapshot is older than it
/// (range 500: verifier state). Nothing was changed.
pub const IDC_ERR_OUT_OF_ORDER: c_int = 500;
/// The snapshot carries no blacklist (bank profile).
pub const IDC_ERR_NO_BLACKLIST: c_int = 501;
/// The file would take the verifier back: a snapshot older than the state file records.
pub const IDC_ERR_ROLLBACK: c_int = 502;
/// A time in the file is in the future (beyond the allowed clock skew).
pub const IDC_ERR_FUTURE: c_int = 503;
/// The delta goes past the newest sequence a signed timestamp vouches for.
pub const IDC_ERR_BEYOND_TIMESTAMP: c_int = 504;
/// The changes held on this snapshot reached the limit: open a newer snapshot.
pub const IDC_ERR_NEEDS_SNAPSHOT: c_int = 505;

/// The file is not signed (range 600: trust). Unsigned files open only with
/// `allow_unsigned`.
pub const IDC_ERR_UNSIGNED: c_int = 600;
/// The signature does not verify, or the content does not match what was signed.
pub const IDC_ERR_BAD_SIGNATURE: c_int = 601;
/// The signer's key is not in the trust file and not certified by a key in it, or may not
/// sign this kind of file.
pub const IDC_ERR_UNTRUSTED_KEY: c_int = 602;
/// The signer's key certificate is outside its validity window (expired or not yet valid).
pub const IDC_ERR_KEY_EXPIRED: c_int = 603;
/// No trust file was given and unsigned files are not allowed.
pub const IDC_ERR_TRUST_REQUIRED: c_int = 604;
/// The trust file cannot be read or is not a trust file.
pub const IDC_ERR_TRUST_FILE: c_int = 605;

/// A bug: the library caught a panic (range 900). The process lives on; the verifier is
/// unchanged.
pub const IDC_ERR_PANIC: c_int = 900;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Record the message of a failure on this thread.
pub(crate) fn set_error(message: impl Into<String>) {
    let mut m = message.into().into_bytes();
    m.retain(|&b| b != 0);
    let c = CString::new(m).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Fail with `code` and `message`.
pub(crate) fn fail(code: c_int, message: impl Into<String>) -> c_int {
    set_error(message);
    code
}

/// The code and message of an index error.
pub(crate) fn index_error(e: &IndexError) -> c_int {
    let code = match e {
        IndexError::Io { .. } => IDC_ERR_IO,
        IndexError::BadMagic { .. } => IDC_ERR_NOT_A_SNAPSHOT,
        IndexError::UnsupportedVersion { .. } => IDC_ERR_UNSUPPORTED_VERSION,
        IndexError::Corrupt { .. } => IDC_ERR_CORRUPT_FILE,
        IndexError::DeltaOutOfOrder { .. } => IDC_ERR_OUT_OF_ORDER,
        IndexError::NoBlacklist { .. } => IDC_ERR_NO_BLACKLIST,
        IndexError::TooLarge { .. } => IDC_ERR_TOO_LARGE,
        IndexError::Rollback { .. } => IDC_ERR_ROLLBACK,
        IndexError::Future { .. } => IDC_ERR_FUTURE,
        IndexError::BeyondTimestamp { .. } => IDC_ERR_BEYOND_TIMESTAMP,
        IndexError::OverlayFull { .. } => IDC_ERR_NEEDS_SNAPSHOT,
        IndexError::TrustRequired { .. } => IDC_ERR_TRUST_REQUIRED,
        IndexError::Trust { source, .. } => trust_code(source),
        _ => IDC_ERR_INVALID_ARGUMENT,
    };
    fail(code, e.to_string())
}

/// The code of a trust error.
pub(crate) fn trust_code(e: &TrustError) -> c_int {
    match e {
        TrustError::Unsigned => IDC_ERR_UNSIGNED,
        TrustError::UnknownKey(_) | TrustError::WrongRole { .. } => IDC_ERR_UNTRUSTED_KEY,
        TrustError::KeyNotValid { .. } => IDC_ERR_KEY_EXPIRED,
        TrustError::KeyFile { .. } => IDC_ERR_TRUST_FILE,
        _ => IDC_ERR_BAD_SIGNATURE,
    }
}

#[allow(dead_code)]
pub(crate) fn engine_error(e: &EngineError) -> c_int {
    match e {
        EngineError::Index(i) => index_error(i),
        other => fail(IDC_ERR_IO, other.to_string()),
    }
}

/// The message of the last failed call on this thread, or `""` if none failed. Valid until the
/// next failing call on this thread; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn idc_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The name of a result code, e.g. `"IDC_ERR_CORRUPT_FILE"`; `"IDC_UNKNOWN"` for others. Never
/// NULL; the string is static.
#[unsafe(no_mangle)]
pub extern "C" fn idc_result_name(code: c_int) -> *const c_char {
    let s: &'static str = match code {
        IDC_OK => "IDC_OK\0",
        IDC_ERR_NULL_ARGUMENT => "IDC_ERR_NULL_ARGUMENT\0",
        IDC_ERR_INVALID_ARGUMENT => "IDC_ERR_INVALID_ARGUMENT\0",
        IDC_ERR_BUFFER_TOO_SMALL => "IDC_ERR_BUFFER_TOO_SMALL\0",
        IDC_ERR_INVALID_NUMBER => "IDC_ERR_INVALID_NUMBER\0",
        IDC_ERR_IO => "IDC_ERR_IO\0",
        IDC_ERR_CORRUPT_FILE => "IDC_ERR_CORRUPT_FILE\0",
        IDC_ERR_NOT_A_SNAPSHOT => "IDC_ERR_NOT_A_SNAPSHOT\0",
        IDC_ERR_UNSUPPORTED_VERSION => "IDC_ERR_UNSUPPORTED_VERSION\0",
        IDC_ERR_OUT_OF_ORDER => "IDC_ERR_OUT_OF_ORDER\0",
        IDC_ERR_NO_BLACKLIST => "IDC_ERR_NO_BLACKLIST\0",
        IDC_ERR_TOO_LARGE => "IDC_ERR_TOO_LARGE\0",
        IDC_ERR_ROLLBACK => "IDC_ERR_ROLLBACK\0",
        IDC_ERR_FUTURE => "IDC_ERR_FUTURE\0",
        IDC_ERR_BEYOND_TIMESTAMP => "IDC_ERR_BEYOND_TIMESTAMP\0",
        IDC_ERR_NEEDS_SNAPSHOT => "IDC_ERR_NEEDS_SNAPSHOT\0",
        IDC_ERR_UNSIGNED => "IDC_ERR_UNSIGNED\0",
        IDC_ERR_BAD_SIGNATURE => "IDC_ERR_BAD_SIGNATURE\0",
        IDC_ERR_UNTRUSTED_KEY => "IDC_ERR_UNTRUSTED_KEY\0",
        IDC_ERR_KEY_EXPIRED => "IDC_ERR_KEY_EXPIRED\0",
        IDC_ERR_TRUST_REQUIRED => "IDC_ERR_TRUST_REQUIRED\0",
        IDC_ERR_TRUST_FILE => "IDC_ERR_TRUST_FILE\0",
        IDC_ERR_PANIC => "IDC_ERR_PANIC\0",
        _ => "IDC_UNKNOWN\0",
    };
    s.as_ptr().cast()
}

/// Run `body` inside the panic boundary: a panic becomes `IDC_ERR_PANIC` with its message.
pub(crate) fn boundary(body: impl FnOnce() -> c_int) -> c_int {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(code) => code,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            fail(IDC_ERR_PANIC, format!("internal error (panic): {what}"))
        }
    }
}

/// For integration tests of the panic boundary: panics inside the library and returns
/// `IDC_ERR_PANIC`, leaving the process and every verifier as they were.
#[unsafe(no_mangle)]
pub extern "C" fn idc_debug_panic() -> c_int {
    boundary(|| panic!("idc_debug_panic was called"))
}
