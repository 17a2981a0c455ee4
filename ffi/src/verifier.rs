//! The verifier through C: open a snapshot, verify cards one at a time or in batches, check the
//! blacklist, apply deltas and swap snapshots while other threads verify.

use std::ffi::{CStr, c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use idcard_core::index::{
    CardStatus, OpenOptions, Signature, SignaturePolicy, Verifier, VerifierOptions,
};
use idcard_core::trust::TrustStore;

use crate::error::*;
use crate::number::bytes;

/// The card is not listed: not reported lost, stolen, superseded or invalidated.
pub const IDC_CARD_VALID: u8 = 0;
/// Reported lost.
pub const IDC_CARD_LOST: u8 = 1;
/// Reported stolen.
pub const IDC_CARD_STOLEN: u8 = 2;
/// Replaced by a newer card on renewal.
pub const IDC_CARD_SUPERSEDED: u8 = 3;
/// Invalidated.
pub const IDC_CARD_INVALIDATED: u8 = 4;
/// Not listed, but the data is older than the configured maximum age: do not rely on it.
pub const IDC_CARD_STALE: u8 = 5;
/// The number or the validity date is not valid, or the number is not a citizen's (a foreign
/// permanent resident's or a residence permit's: no resident identity card has it).
pub const IDC_CARD_INVALID_NUMBER: u8 = 6;
/// Not listed, but past its validity end today in China (the period follows from the holder's
/// age at the validity start; long-term cards never expire; first-generation cards, valid from
/// before 2004, are invalid from 2013-01-01).
pub const IDC_CARD_EXPIRED: u8 = 7;

/// Snapshot profile: cards only.
pub const IDC_PROFILE_BANK: u8 = 1;
/// Snapshot profile: cards and the blacklist.
pub const IDC_PROFILE_POLICE: u8 = 2;

/// A verifier: a snapshot plus applied deltas. Opaque; share one pointer between threads.
pub struct idc_verifier {
    _private: [u8; 0],
}

/// The maximum age a verifier allows unless told otherwise: a day.
pub const IDC_DEFAULT_MAX_AGE_SECONDS: i64 = 86_400;

/// Options of `idc_verifier_open_with`. Zero-initialise, then set `trust_file`: the defaults
/// fail closed (signatures required, a day's maximum age).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct idc_verifier_options {
    /// The platform's trust file (its pinned root keys), NUL-terminated; every snapshot, delta
    /// and timestamp must be signed by a key it pins or certifies. NULL: no trust file (then
    /// only `allow_unsigned` opens anything).
    pub trust_file: *const c_char,
    /// Answer `IDC_CARD_STALE` for unlisted cards when the newest signed time reached is older
    /// than this many seconds. 0: the default, `IDC_DEFAULT_MAX_AGE_SECONDS`; negative: never
    /// (only for data that cannot go stale, an analyst's own snapshot).
    pub max_age_seconds: i64,
    /// 1: accept unsigned files (and signed ones without a trust file); `idc_verifier_info`
    /// says so. For files this process or its owner made, never for what the platform
    /// publishes.
    pub allow_unsigned: u8,
    /// 1: skip the full checksum pass over an unsigned file at open (only for a file this
    /// process verified itself). Signed files are checked by their signature.
    pub skip_checksums: u8,
    /// A state file keeping the verifier's high-water mark across restarts (an older snapshot
    /// is then refused with `IDC_ERR_ROLLBACK`), NUL-terminated; NULL: none.
    pub state_file: *const c_char,
    /// Largest delta file read, in bytes; 0: the default (256 MiB).
    pub max_delta_bytes: u64,
}

impl Default for idc_verifier_options {
    fn default() -> Self {
        idc_verifier_options {
            trust_file: std::ptr::null(),
            max_age_seconds: 0,
            allow_unsigned: 0,
            skip_checksums: 0,
            state_file: std::ptr::null(),
            max_delta_bytes: 0,
        }
    }
}

/// Signature states in `idc_verifier_info::signature`.
/// The snapshot is not signed (opened with `allow_unsigned`).
pub const IDC_SIGNATURE_UNSIGNED: u8 = 0;
/// Signed, not checked (no trust file; `allow_unsigned`).
pub const IDC_SIGNATURE_UNCHECKED: u8 = 1;
/// Signed by a key the trust file pins or certifies: checked.
pub const IDC_SIGNATURE_VERIFIED: u8 = 2;

/// What a verifier holds (`idc_verifier_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct idc_verifier_info {
    /// The snapshot's identity.
    pub snapshot_id: u64,
    /// `IDC_PROFILE_BANK` or `IDC_PROFILE_POLICE`.
    pub profile: u8,
    /// 1 when unlisted cards answer `IDC_CARD_STALE` now.
    pub stale: u8,
    /// The snapshot's as-of time, Unix seconds.
    pub as_of_unix: i64,
    /// The newer of the as-of time and the last applied delta's creation time, Unix seconds.
    pub fresh_as_of_unix: i64,
    /// The journal sequence reached (the snapshot's, advanced by each delta).
    pub journal_seq: u64,
    /// Deltas applied since the snapshot.
    pub deltas_applied: u64,
    /// Cards listed in the snapshot.
    pub card_count: u64,
    /// People on the snapshot's blacklist (0 for the bank profile).
    pub blacklist_count: u64,
    /// `IDC_SIGNATURE_*`: whether the snapshot's signature was checked.
    pub signature: u8,
    /// 1 when the verifier needs a newer snapshot (a timestamp names one, or the changes held
    /// reached the limit).
    pub needs_snapshot: u8,
    /// Deltas applied since the snapshot whose signature was checked.
    pub deltas_verified: u64,
    /// The newest sequence a signed timestamp vouches for; 0 when none was read.
    pub timestamp_seq: u64,
    /// The maximum age in seconds; negative: none.
    pub max_age_seconds: i64,
}

/// Ties the opaque C type to its Rust owner: a `Box<Verifier>`.
trait Castable {
    type Rust;
}

impl Castable for idc_verifier {
    type Rust = Verifier;
}

fn into_raw(v: Verifier) -> *mut idc_verifier {
    Box::into_raw(Box::new(v)).cast()
}

/// # Safety
/// `p` must come from `into_raw` and not be freed.
unsafe fn as_ref<'a, T: Castable>(p: *const T) -> Option<&'a T::Rust> {
    // SAFETY: per the contract, `p` is NULL or points to a live `T::Rust`.
    unsafe { p.cast::<T::Rust>().as_ref() }
}

/// # Safety
/// `path` must be NULL or a NUL-terminated string.
unsafe fn path_arg<'a>(path: *const c_char, what: &str) -> Result<&'a Path, c_int> {
    if path.is_null() {
        return Err(fail(IDC_ERR_NULL_ARGUMENT, format!("{what}: path is NULL")));
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let c = unsafe { CStr::from_ptr(path) };
    Ok(Path::new(std::ffi::OsStr::from_bytes(c.to_bytes())))
}

/// Open a snapshot file with the default options. The defaults require a trust file, so this
/// fails with `IDC_ERR_TRUST_REQUIRED`: a bank calls `idc_verifier_open_trusted`, anyone else
/// `idc_verifier_open_with`. It stays so that programs written for the unsigned files of
/// earlier versions fail closed, with a message saying what to do. `*out` is unchanged.
///
/// # Safety
/// `path` must be a NUL-terminated string; `out` must point to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verifier_open(
    path: *const c_char,
    out: *mut *mut idc_verifier,
) -> c_int {
    // SAFETY: same contract.
    unsafe { idc_verifier_open_with(path, std::ptr::null(), out) }
}

/// Open a snapshot file signed by a key the trust file pins, with the default maximum age (a
/// bank's call).
///
/// # Safety
/// `path` and `trust_file` NUL-terminated strings; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verifier_open_trusted(
    path: *const c_char,
    trust_file: *const c_char,
    out: *mut *mut idc_verifier,
) -> c_int {
    if trust_file.is_null() {
        return boundary(|| {
            fail(
                IDC_ERR_NULL_ARGUMENT,
                "idc_verifier_open_trusted: trust_file is NULL",
            )
        });
    }
    let options = idc_verifier_options {
        trust_file,
        ..Default::default()
    };
    // SAFETY: same contract.
    unsafe { idc_verifier_open_with(path, &options, out) }
}

/// Open a snapshot file with options (`options` may be NULL for the defaults, which require a
/// trust file). The signature block is checked first, then the content is read into memory
/// private to the process and hashed; another process changing the file later changes nothing.
///
/// # Safety
/// As `idc_verifier_open`; `options` NULL or pointing to an `idc_verifier_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verifier_open_with(
    path: *const c_char,
    options: *const idc_verifier_options,
    out: *mut *mut idc_verifier,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract.
        let path = match unsafe { path_arg(path, "idc_verifier_open") } {
            Ok(p) => p,
            Err(code) => return code,
        };
        if out.is_null() {
            return fail(IDC_ERR_NULL_ARGUMENT, "idc_verifier_open: out is NULL");
        }
        // SAFETY: NULL or a valid idc_verifier_options (caller contract).
        let o = unsafe { options.as_ref() }.copied().unwrap_or_default();
        // SAFETY: the strings in the options are NULL or NUL-terminated (caller contract).
        let opts = match unsafe { verifier_options(&o) } {
            Ok(opts) => opts,
            Err(code) => return code,
        };
        match Verifier::open_with(path, opts) {
            Ok(v) => {
                // SAFETY: `out` is non-NULL and writable (caller contract).
                unsafe { out.write(into_raw(v)) };
                IDC_OK
            }
            Err(e) => index_error(&e),
        }
    })
}

/// The library's options from the C ones.
///
/// # Safety
/// `o.trust_file` and `o.state_file` NULL or NUL-terminated.
unsafe fn verifier_options(o: &idc_verifier_options) -> Result<VerifierOptions, c_int> {
    let trust = if o.trust_file.is_null() {
        None
    } else {
        // SAFETY: caller contract.
        let p = unsafe { path_arg(o.trust_file, "trust_file") }?;
        Some(Arc::new(
            TrustStore::read(p).map_err(|e| fail(IDC_ERR_TRUST_FILE, e.to_string()))?,
        ))
    };
    let state_file = if o.state_file.is_null() {
        None
    } else {
        // SAFETY: caller contract.
        Some(unsafe { path_arg(o.state_file, "state_file") }?.to_path_buf())
    };
    let defaults = VerifierOptions::default();
    Ok(VerifierOptions {
        open: OpenOptions {
            signatures: SignaturePolicy {
                trust,
                allow_unsigned: o.allow_unsigned != 0,
            },
            verify_checksums: o.skip_checksums == 0,
            ..OpenOptions::default()
        },
        max_age: match o.max_age_seconds {
            0 => defaults.max_age,
            s if s < 0 => None,
            s => Some(Duration::from_secs(s as u64)),
        },
        state_file,
        max_delta_bytes: if o.max_delta_bytes == 0 {
            defaults.max_delta_bytes
        } else {
            o.max_delta_bytes
        },
        ..defaults
    })
}

/// Release a verifier (NULL is ignored). No other call may use it at the same time or after.
///
/// # Safety
/// `v` must be NULL or a verifier from `idc_verifier_open*`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verifier_free(v: *mut idc_verifier) {
    let _ = boundary(|| {
        if !v.is_null() {
            // SAFETY: `v` came from `into_raw` (a Box<Verifier>) and is freed once (contract).
            drop(unsafe { Box::from_raw(v.cast::<Verifier>()) });
        }
        IDC_OK
    });
}

fn status_code(s: CardStatus) -> u8 {
    s as u8
}

/// Verify one card: the holder's number (`number_len` bytes, 18 characters or a legacy 15, blanks,
/// lower-case `x` and full-width characters accepted) and the card's validity start as
/// `yyyymmdd`. `*out_status` receives an `IDC_CARD_*` value; an invalid number or date is
/// `IDC_CARD_INVALID_NUMBER` (with `IDC_OK`). Thread-safe; never blocks.
///
/// # Safety
/// `v` a live verifier; `number` valid for `number_len` bytes; `out_status` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verify(
    v: *const idc_verifier,
    number: *const c_char,
    number_len: usize,
    valid_from_yyyymmdd: u32,
    out_status: *mut u8,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract.
        let Some(v) = (unsafe { as_ref(v) }) else {
            return fail(IDC_ERR_NULL_ARGUMENT, "idc_verify: verifier is NULL");
        };
        // SAFETY: caller contract.
        let Some(number) = (unsafe { bytes(number, number_len) }) else {
            return fail(IDC_ERR_NULL_ARGUMENT, "idc_verify: number is NULL");
        };
        if out_status.is_null() {
            return fail(IDC_ERR_NULL_ARGUMENT, "idc_verify: out_status is NULL");
        }
        let s = v.verify_number_yyyymmdd(number, valid_from_yyyymmdd);
        // SAFETY: non-NULL and writable (caller contract).
        unsafe { out_status.write(status_code(s)) };
        IDC_OK
    })
}

/// Verify `n` cards: `numbers` is `n` packed 18-byte numbers (no separators),
/// `valid_from_yyyymmdd[i]` the validity start of card `i`, `out_status[i]` receives its status.
/// Faster than `n` calls of `idc_verify` (a prefetching pipeline). `n` may be 0.
///
/// # Safety
/// `numbers` valid for `18 * n` bytes, `valid_from_yyyymmdd` for `n` values, `out_status`
/// writable for `n` bytes; they may not overlap `out_status`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verify_batch(
    v: *const idc_verifier,
    numbers: *const c_char,
    n: usize,
    valid_from_yyyymmdd: *const u32,
    out_status: *mut u8,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract.
        let Some(v) = (unsafe { as_ref(v) }) else {
            return fail(IDC_ERR_NULL_ARGUMENT, "idc_verify_batch: verifier is NULL");
        };
        if n == 0 {
            return IDC_OK;
        }
        if numbers.is_null() || valid_from_yyyymmdd.is_null() || out_status.is_null() {
            return fail(
                IDC_ERR_NULL_ARGUMENT,
                "idc_verify_batch: numbers, valid_from_yyyymmdd or out_status is NULL",
            );
        }
        let Some(len) = n.checked_mul(18) else {
            return fail(
                IDC_ERR_INVALID_ARGUMENT,
                format!("idc_verify_batch: n = {n} is too large"),
            );
        };
        // SAFETY: the caller guarantees the lengths. `out_status` is first zeroed as bytes, so
        // every byte is a valid `CardStatus` (repr(u8); 0 is `Valid`) before it is viewed as one.
        let (numbers, dates, out) = unsafe {
            std::slice::from_raw_parts_mut(out_status, n).fill(0);
            (
                std::slice::from_raw_parts(numbers.cast::<u8>(), len),
                std::slice::from_raw_parts(valid_from_yyyymmdd, n),
                std::slice::from_raw_parts_mut(out_status.cast::<CardStatus>(), n),
            )
        };
        v.verify_batch_packed(numbers, dates, out);
        IDC_OK
    })
}

/// Check a person against the blacklist (A6; police snapshots only). `*out_reasons` receives the
/// reason bit set (0: not listed; bits as in docs/FORMAT.md §4.5). A bank snapshot answers
/// `IDC_ERR_NO_BLACKLIST`; an invalid number `IDC_ERR_INVALID_NUMBER`.
///
/// # Safety
/// `v` a live verifier; `number` valid for `number_len` bytes; `out_reasons` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_blacklist_check(
    v: *const idc_verifier,
    number: *const c_char,
    number_len: usize,
    out_reasons: *mut u32,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract.
        let Some(v) = (unsafe { as_ref(v) }) else {
            return fail(
                IDC_ERR_NULL_ARGUMENT,
                "idc_blacklist_check: verifier is NULL",
            );
        };
        // SAFETY: caller contract.
        let Some(number) = (unsafe { bytes(number, number_len) }) else {
            return fail(IDC_ERR_NULL_ARGUMENT, "idc_blacklist_check: number is NULL");
        };
        if out_reasons.is_null() {
            return fail(
                IDC_ERR_NULL_ARGUMENT,
                "idc_blacklist_check: out_reasons is NULL",
            );
        }
        let n = match idcard_core::Parser::new().parse_bytes(number) {
            Ok(p) => p.number,
            Err(e) => {
                return fail(
                    IDC_ERR_INVALID_NUMBER,
                    format!("invalid identity number ({}): {e}", e.kind()),
                );
            }
        };
        match v.blacklist_check(n) {
            Ok(entry) => {
                // SAFETY: non-NULL and writable (caller contract).
                unsafe { out_reasons.write(entry.map_or(0, |e| e.reasons.bits())) };
                IDC_OK
            }
            Err(e) => index_error(&e),
        }
    })
}

/// The verifier and the path of a call that takes both (`what`: the function, for the messages).
///
/// # Safety
/// `v` NULL or a live verifier; `path` NULL or a NUL-terminated string.
unsafe fn verifier_and_path<'a>(
    v: *const idc_verifier,
    path: *const c_char,
    what: &str,
) -> Result<(&'a Verifier, &'a Path), c_int> {
    // SAFETY: caller contract.
    let Some(v) = (unsafe { as_ref(v) }) else {
        return Err(fail(
            IDC_ERR_NULL_ARGUMENT,
            format!("{what}: verifier is NULL"),
        ));
    };
    // SAFETY: caller contract.
    let path = unsafe { path_arg(path, what) }?;
    Ok((v, path))
}

/// Apply a delta file. Safe while other threads verify; every verification that starts after it
/// returns sees all of it. A delta that does not follow what was applied is refused with
/// `IDC_ERR_OUT_OF_ORDER` and changes nothing.
///
/// # Safety
/// `v` a live verifier; `path` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verifier_apply_delta(
    v: *const idc_verifier,
    path: *const c_char,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract.
        let (v, path) = match unsafe { verifier_and_path(v, path, "idc_verifier_apply_delta") } {
            Ok(vp) => vp,
            Err(code) => return code,
        };
        match v.apply_delta_file(path) {
            Ok(()) => IDC_OK,
            Err(e) => index_error(&e),
        }
    })
}

/// Apply what a publish folder holds that follows on from where the verifier is: its timestamps
/// (`.idct`) and its deltas (`.idcd`) for the snapshot in use, from the verifier's journal
/// sequence on, in sequence order (other snapshots' deltas and those already applied are passed
/// over). Symbolic links are not followed; sizes are checked before reading. A file that fails
/// (unsigned, wrongly signed, damaged, too large, out of order) is skipped, the good ones after
/// it still apply: `*out_applied` is how many deltas were applied, `*out_skipped` (may be NULL)
/// how many files were skipped, and when any was, `idc_last_error_message()` names each with
/// its reason (the call still returns `IDC_OK`).
///
/// # Safety
/// `v` a live verifier; `dir` a NUL-terminated string; `out_applied` writable; `out_skipped`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verifier_apply_delta_dir(
    v: *const idc_verifier,
    dir: *const c_char,
    out_applied: *mut usize,
    out_skipped: *mut usize,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract.
        let (v, dir) = match unsafe { verifier_and_path(v, dir, "idc_verifier_apply_delta_dir") } {
            Ok(vd) => vd,
            Err(code) => return code,
        };
        if out_applied.is_null() {
            return fail(
                IDC_ERR_NULL_ARGUMENT,
                "idc_verifier_apply_delta_dir: out_applied is NULL",
            );
        }
        match v.apply_delta_dir(dir) {
            Ok(report) => {
                if !report.skipped.is_empty() {
                    let list: Vec<String> = report
                        .skipped
                        .iter()
                        .map(|s| format!("{}: {}", s.name, s.reason))
                        .collect();
                    set_error(format!("skipped: {}", list.join("; ")));
                }
                // SAFETY: non-NULL and writable (caller contract).
                unsafe { out_applied.write(report.applied) };
                if !out_skipped.is_null() {
                    // SAFETY: non-NULL and writable (caller contract).
                    unsafe { out_skipped.write(report.skipped.len()) };
                }
                IDC_OK
            }
            Err(e) => index_error(&e),
        }
    })
}

/// Take in a signed timestamp file: it vouches for the chain on the snapshot in use up to its
/// sequence (no delta may go further) and, once the verifier has reached that sequence, keeps it
/// fresh as of its time. One in the future is refused with `IDC_ERR_FUTURE`.
///
/// # Safety
/// `v` a live verifier; `path` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verifier_apply_timestamp(
    v: *const idc_verifier,
    path: *const c_char,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract.
        let (v, path) = match unsafe { verifier_and_path(v, path, "idc_verifier_apply_timestamp") }
        {
            Ok(vp) => vp,
            Err(code) => return code,
        };
        match v.apply_timestamp_file(path) {
            Ok(()) => IDC_OK,
            Err(e) => index_error(&e),
        }
    })
}

/// Swap in a newer snapshot file (verified first). Safe while other threads verify; a snapshot
/// older than what the verifier has reached is refused with `IDC_ERR_OUT_OF_ORDER`.
///
/// # Safety
/// `v` a live verifier; `path` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verifier_swap_snapshot(
    v: *const idc_verifier,
    path: *const c_char,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract.
        let (v, path) = match unsafe { verifier_and_path(v, path, "idc_verifier_swap_snapshot") } {
            Ok(vp) => vp,
            Err(code) => return code,
        };
        match v.swap_snapshot(path) {
            Ok(()) => IDC_OK,
            Err(e) => index_error(&e),
        }
    })
}

/// What the verifier holds now.
///
/// # Safety
/// `v` a live verifier; `out` pointing to an `idc_verifier_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_verifier_info_get(
    v: *const idc_verifier,
    out: *mut idc_verifier_info,
) -> c_int {
    boundary(|| {
        // SAFETY: caller contract.
        let Some(v) = (unsafe { as_ref(v) }) else {
            return fail(
                IDC_ERR_NULL_ARGUMENT,
                "idc_verifier_info_get: verifier is NULL",
            );
        };
        if out.is_null() {
            return fail(IDC_ERR_NULL_ARGUMENT, "idc_verifier_info_get: out is NULL");
        }
        let i = v.info();
        let info = idc_verifier_info {
            snapshot_id: i.snapshot.snapshot_id,
            profile: i.snapshot.profile as u8,
            stale: i.stale as u8,
            as_of_unix: i.snapshot.as_of.timestamp(),
            fresh_as_of_unix: i.fresh_as_of.timestamp(),
            journal_seq: i.journal_seq,
            deltas_applied: i.deltas_applied,
            card_count: i.snapshot.card_count,
            blacklist_count: i.snapshot.blacklist_count,
            signature: match i.snapshot.signature {
                Signature::Unsigned => IDC_SIGNATURE_UNSIGNED,
                Signature::Unchecked => IDC_SIGNATURE_UNCHECKED,
                Signature::Verified(_) => IDC_SIGNATURE_VERIFIED,
            },
            needs_snapshot: i.needs_snapshot as u8,
            deltas_verified: i.deltas_verified,
            timestamp_seq: i.timestamp_seq.unwrap_or(0),
            max_age_seconds: i.max_age_seconds.map_or(-1, |s| s as i64),
        };
        // SAFETY: non-NULL and writable (caller contract).
        unsafe { out.write(info) };
        IDC_OK
    })
}
