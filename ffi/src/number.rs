//! Identity numbers (N1-N3) through C.

use std::ffi::{c_char, c_int};

use idcard_core::{NumberError, Parser, Sex};

use crate::error::{IDC_ERR_INVALID_NUMBER, IDC_ERR_NULL_ARGUMENT, IDC_OK, boundary, fail};

/// Sex from the sequence number: male (odd).
pub const IDC_SEX_MALE: u8 = 1;
/// Sex from the sequence number: female (even).
pub const IDC_SEX_FEMALE: u8 = 2;

/// Flag of `idc_number_check_ex`: the division code must have been in force in the birth year
/// (strict mode, N3).
pub const IDC_CHECK_STRICT: u32 = 1;

/// What a valid identity number says.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct idc_number_info {
    /// The normalised 18-character number, NUL-terminated.
    pub number: [c_char; 19],
    /// Division code of first registration (GB/T 2260).
    pub division_code: u32,
    /// Birth date as yyyymmdd.
    pub birth_date_yyyymmdd: u32,
    /// `IDC_SEX_MALE` or `IDC_SEX_FEMALE`.
    pub sex: u8,
    /// 1 when the input was a legacy 15-digit number, upgraded (N2).
    pub upgraded_from_15: u8,
}

/// The bytes `number[0..len]`, or `None` for NULL (NULL with length 0 is an empty input).
///
/// # Safety
/// `number` must be valid for `len` bytes when not NULL.
pub(crate) unsafe fn bytes<'a>(number: *const c_char, len: usize) -> Option<&'a [u8]> {
    if number.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `len` readable bytes.
    Some(unsafe { std::slice::from_raw_parts(number.cast::<u8>(), len) })
}

/// Check an identity number (N1-N3, lenient division mode); see `idc_number_check_ex`.
///
/// # Safety
/// `number` must be valid for `number_len` bytes; `out` must point to an `idc_number_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_number_check(
    number: *const c_char,
    number_len: usize,
    out: *mut idc_number_info,
) -> c_int {
    // SAFETY: same contract.
    unsafe { idc_number_check_ex(number, number_len, 0, out) }
}

/// Check an identity number: normalises blanks, lower-case `x` and full-width characters,
/// upgrades legacy 15-digit numbers (N2). `flags`: `IDC_CHECK_STRICT`. On success fills `*out`;
/// an invalid number returns `IDC_ERR_INVALID_NUMBER` (the message says why and where) and
/// leaves `*out` unchanged.
///
/// # Safety
/// `number` must be valid for `number_len` bytes; `out` must point to an `idc_number_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn idc_number_check_ex(
    number: *const c_char,
    number_len: usize,
    flags: u32,
    out: *mut idc_number_info,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller guarantees `number_len` readable bytes.
        let Some(input) = (unsafe { bytes(number, number_len) }) else {
            return fail(IDC_ERR_NULL_ARGUMENT, "idc_number_check: number is NULL");
        };
        if out.is_null() {
            return fail(IDC_ERR_NULL_ARGUMENT, "idc_number_check: out is NULL");
        }
        let parser = Parser::new().strict(flags & IDC_CHECK_STRICT != 0);
        match parser.parse_bytes(input) {
            Ok(p) => {
                let n = p.number;
                let mut info = idc_number_info::default();
                for (o, b) in info.number.iter_mut().zip(n.to_ascii()) {
                    *o = b as c_char;
                }
                info.division_code = n.division().get();
                info.birth_date_yyyymmdd = n.birth_yyyymmdd();
                info.sex = match n.sex() {
                    Sex::Male => IDC_SEX_MALE,
                    Sex::Female => IDC_SEX_FEMALE,
                };
                info.upgraded_from_15 = p.upgraded_from_15 as u8;
                // SAFETY: `out` is non-NULL and points to an idc_number_info (caller contract).
                unsafe { out.write(info) };
                IDC_OK
            }
            Err(e) => fail(IDC_ERR_INVALID_NUMBER, describe(&e)),
        }
    })
}

fn describe(e: &NumberError) -> String {
    format!("invalid identity number ({}): {e}", e.kind())
}
