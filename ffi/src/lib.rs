//! The C library of idcard: card verification for bank and airline counters (requirement L3).
//!
//! A thin adapter over the `idcard` crate: every rule lives there. Conventions (also at the top
//! of the generated `idcard.h`):
//!
//! - Every function returns an `int` result code (`IDC_OK` = 0, errors in numbered ranges) or,
//!   for `_free` and the string getters, nothing that can fail.
//! - Out-parameters come last and are written only on success: a call either succeeds fully or
//!   changes nothing.
//! - `const` pointers are never written through. Pointers must be valid for the lengths given;
//!   NULL is answered with `IDC_ERR_NULL_ARGUMENT`.
//! - A verifier is created by `idc_verifier_open*` and released by `idc_verifier_free`; every other
//!   function may be called on one verifier from any number of threads at once, including
//!   `idc_verifier_apply_delta` and `idc_verifier_swap_snapshot`.
//! - No panic crosses the boundary: every entry point catches it and returns `IDC_ERR_PANIC`.
//! - After a failure, `idc_last_error_message()` describes it (what and where), for this thread.

#![allow(non_camel_case_types)]

mod error;
mod hit;
mod number;
mod verifier;

pub use error::*;
pub use hit::*;
pub use number::*;
pub use verifier::*;

/// The library version, e.g. `"0.1.0"` (from the crate version at build time). Never NULL;
/// the string is static.
#[unsafe(no_mangle)]
pub extern "C" fn idc_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
