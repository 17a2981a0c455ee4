//! Integer calendar arithmetic for the hot paths (parsing numbers, forming card keys), after
//! Howard Hinnant's `days_from_civil`. chrono stays the public date type; these functions only
//! spare the hot paths its general-purpose date code (measured: date arithmetic through chrono
//! was a third of the time of a batch verification from text).

use chrono::NaiveDate;

/// chrono's `num_days_from_ce` of 1970-01-01.
const CE_TO_UNIX: i32 = 719_163;

/// Days from 1970-01-01 to the given proleptic Gregorian date (negative before). The date must
/// be valid (see [`is_valid`]).
#[inline]
pub(crate) const fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of `days` after 1970-01-01 (the inverse
/// of [`days_from_civil`]).
#[inline]
pub(crate) const fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether `y-m-d` is a calendar date.
#[inline]
pub(crate) const fn is_valid(y: i32, m: u32, d: u32) -> bool {
    if m < 1 || m > 12 || d < 1 {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = match m {
        2 => {
            if leap {
                29
            } else {
                28
            }
        }
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= dim
}

/// Days since 1970-01-01 of a chrono date.
#[inline]
pub(crate) fn from_naive(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - CE_TO_UNIX
}

/// The chrono date `days` after 1970-01-01.
#[inline]
pub(crate) fn to_naive(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + CE_TO_UNIX).expect("days in chrono's range")
}

/// `yyyymmdd` → days since 1970-01-01, if a valid date.
#[inline]
pub(crate) fn days_from_yyyymmdd(v: u32) -> Option<i32> {
    days_of((v / 10_000) as i32, (v / 100) % 100, v % 100)
}

/// The first year of [`days_of`]'s tables.
const TABLE_FROM: i32 = 1850;
/// Years in [`days_of`]'s tables (1850-2249: every birth date a number may carry and every
/// validity start a card key may hold).
const TABLE_YEARS: usize = 400;

/// Days from 1970-01-01 to 1 January of each year from [`TABLE_FROM`], and one more.
static YEAR_START: [i32; TABLE_YEARS + 1] = {
    let mut t = [0; TABLE_YEARS + 1];
    let mut i = 0;
    while i <= TABLE_YEARS {
        t[i] = days_from_civil(TABLE_FROM + i as i32, 1, 1);
        i += 1;
    }
    t
};

/// Days before each month (index 1-12) in a common and in a leap year.
const MONTH_START: [[u16; 13]; 2] = [
    [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334],
    [0, 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335],
];
/// Length of each month (index 1-12; index 0 is no month) in a common and in a leap year.
const MONTH_LEN: [[u8; 13]; 2] = [
    [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
    [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
];

/// Days since 1970-01-01 of a date given as year, month and day, if it is a valid date: the
/// same answers as [`is_valid`] and [`days_from_civil`] (a test compares every day of six
/// centuries), by table lookups for 1850-2249 (a number's text is read millions of times a
/// second: no divisions on the way).
#[inline(always)]
pub(crate) fn days_of(y: i32, m: u32, d: u32) -> Option<i32> {
    let i = y.wrapping_sub(TABLE_FROM) as u32 as usize;
    if i >= TABLE_YEARS || m.wrapping_sub(1) >= 12 {
        return days_of_slow(y, m, d);
    }
    let start = YEAR_START[i];
    let leap = (YEAR_START[i + 1] - start - 365) as usize & 1;
    if d.wrapping_sub(1) >= MONTH_LEN[leap][m as usize] as u32 {
        return None;
    }
    Some(start + MONTH_START[leap][m as usize] as i32 + d as i32 - 1)
}

/// [`days_of`] without a check: the same answer for a valid date in 1850-2249, some day
/// otherwise (never a panic). For prefetching on a guess, never for an answer.
#[inline(always)]
pub(crate) fn days_of_guess(y: i32, m: u32, d: u32) -> i32 {
    let i = (y.wrapping_sub(TABLE_FROM) as u32 as usize).min(TABLE_YEARS - 1);
    let start = YEAR_START[i];
    let leap = (YEAR_START[i + 1] - start - 365) as usize & 1;
    (start + MONTH_START[leap][(m as usize).min(12)] as i32)
        .wrapping_add(d as i32)
        .wrapping_sub(1)
}

#[cold]
fn days_of_slow(y: i32, m: u32, d: u32) -> Option<i32> {
    is_valid(y, m, d).then(|| days_from_civil(y, m, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn days_of_guess_is_days_of_for_every_valid_date_of_the_tables() {
        for y in TABLE_FROM..TABLE_FROM + TABLE_YEARS as i32 {
            for m in 1..=12 {
                for d in 1..=31 {
                    if let Some(days) = days_of(y, m, d) {
                        assert_eq!(days_of_guess(y, m, d), days, "{y}-{m}-{d}");
                    }
                }
            }
        }
        // Anything else answers some day, without a panic.
        for (y, m, d) in [
            (0, 0, 0),
            (-5, 99, 99),
            (i32::MAX, u32::MAX, u32::MAX),
            (2300, 13, 0),
            (1850, 1, 0x8000_0000),
            (i32::MIN, 0, 0x7fff_ffff),
        ] {
            let _ = days_of_guess(y, m, d);
        }
    }

    #[test]
    fn days_of_agrees_with_the_formula_over_six_centuries() {
        for y in 1750..2350 {
            for m in 0..=14 {
                for d in 0..=33 {
                    let want = is_valid(y, m, d).then(|| days_from_civil(y, m, d));
                    assert_eq!(days_of(y, m, d), want, "{y}-{m}-{d}");
                }
            }
        }
        assert_eq!(
            days_from_yyyymmdd(20240229),
            Some(days_from_civil(2024, 2, 29))
        );
        assert_eq!(days_from_yyyymmdd(20230229), None);
        assert_eq!(days_from_yyyymmdd(0), None);
    }

    #[test]
    fn agrees_with_chrono_over_four_centuries() {
        let mut d = NaiveDate::from_ymd_opt(1800, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2210, 1, 1).unwrap();
        while d < end {
            let days = days_from_civil(d.year(), d.month(), d.day());
            assert_eq!(days, from_naive(d), "{d}");
            assert_eq!(to_naive(days), d);
            assert!(is_valid(d.year(), d.month(), d.day()));
            d = d.succ_opt().unwrap();
        }
        for (y, m, dd) in [
            (1900, 2, 29),
            (2001, 2, 29),
            (2000, 4, 31),
            (2000, 13, 1),
            (2000, 0, 1),
            (2000, 1, 0),
        ] {
            assert!(!is_valid(y, m, dd), "{y}-{m}-{dd}");
            assert_eq!(NaiveDate::from_ymd_opt(y, m, dd), None);
        }
        assert!(is_valid(2000, 2, 29));
        assert_eq!(days_from_yyyymmdd(19700101), Some(0));
        assert_eq!(days_from_yyyymmdd(20250230), None);
    }
}

#[cfg(test)]
mod civil_tests {
    use super::*;

    #[test]
    fn civil_from_days_inverts_days_from_civil() {
        for days in (-80_000..80_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert!(is_valid(y, m, d));
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            assert_eq!(to_naive(days), NaiveDate::from_ymd_opt(y, m, d).unwrap());
        }
    }
}
