//! Citizen identity numbers (GB 11643-1999) — requirements N1, N2, N3.
//!
//! An [`IdNumber`] is a validated 18-character number: six-digit division code (N3), eight-digit
//! birth date, three-digit sequence (odd: male, even: female) and the ISO 7064 MOD 11-2 check
//! character. It is stored as a compact `u64` ([`IdNumber::to_u64`]) and formats back to the
//! canonical 18 characters.
//!
//! ```
//! use idcard::{IdNumber, Sex};
//! let n: IdNumber = " 11010519491231002x ".parse()?;
//! assert_eq!(n.to_string(), "11010519491231002X");
//! assert_eq!(n.sex(), Sex::Female);
//! assert_eq!(n.birth_date().to_string(), "1949-12-31");
//! assert_eq!(IdNumber::from_u64(n.to_u64())?, n);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Legacy 15-digit numbers (N2) upgrade to 18 digits; [`Parser::parse`] says so:
//!
//! ```
//! let p = idcard::Parser::new().parse("110105491231002")?;
//! assert!(p.upgraded_from_15);
//! assert_eq!(p.number.to_string(), "11010519491231002X");
//! # Ok::<(), idcard::NumberError>(())
//! ```

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::division::{Division, DivisionCode, DivisionMode, DivisionTable};

/// ISO 7064:1983 MOD 11-2 weights for the 17 body digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check value (0..=10, 10 written `X`) by weighted sum modulo 11.
const CHECK_BY_SUM: [u8; 11] = [1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2];

/// The earliest birth date a number may carry (no person born before it is alive).
pub const EARLIEST_BIRTH: NaiveDate = match NaiveDate::from_ymd_opt(1850, 1, 1) {
    Some(d) => d,
    None => panic!(),
};

pub(crate) const SEQ_BITS: u32 = 10;
pub(crate) const BIRTH_BITS: u32 = 17;
const DIVISION_BITS: u32 = 20;
/// Number of bits [`IdNumber::to_u64`] uses.
pub const COMPACT_BITS: u32 = SEQ_BITS + BIRTH_BITS + DIVISION_BITS;

/// The check character (`'0'..='9'` or `'X'`) of 17 body digits given as values `0..=9`.
///
/// ```
/// assert_eq!(idcard::check_character(&[1,1,0,1,0,5,1,9,4,9,1,2,3,1,0,0,2]), 'X');
/// ```
pub fn check_character(body: &[u8; 17]) -> char {
    check_char_of(check_value(body))
}

#[inline]
fn check_value(body: &[u8; 17]) -> u8 {
    let mut sum = 0u32;
    for i in 0..17 {
        sum += body[i] as u32 * WEIGHTS[i];
    }
    CHECK_BY_SUM[(sum % 11) as usize]
}

#[inline]
fn check_char_of(v: u8) -> char {
    if v == 10 { 'X' } else { (b'0' + v) as char }
}

/// What kind of holder an 18-character number of the GB 11643 layout belongs to. They share the
/// layout (17 digits and a MOD 11-2 check character, birth date at positions 7-14, sex from the
/// parity of the 17th digit) but not the first six digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberKind {
    /// A citizen's identity number (N1): the division code of first registration. The only kind
    /// that has a resident identity card.
    Citizen,
    /// The 2023 Foreign Permanent Resident ID Card (外国人永久居留身份证, issued since
    /// 2023-12-01 by the National Immigration Administration): `9`, the two-digit province code
    /// of the place that accepted the application, the three-digit ISO 3166-1 numeric code of
    /// the nationality, birth date, sequence, check (NIA, 新版外国人永久居留身份证适配性改造要点,
    /// 2023; samples 932682198501010017 and 911124198108030024).
    ForeignPermanentResident,
    /// A Hong Kong resident's residence permit (港澳台居民居住证, since 2018-09-01): address code
    /// 810000 (国办发〔2018〕81号 art. 3).
    HongKongResident,
    /// A Macao resident's residence permit: address code 820000.
    MacaoResident,
    /// A Taiwan resident's residence permit: address code 830000.
    TaiwanResident,
}

impl NumberKind {
    /// `citizen`, `foreign_permanent_resident`, `hong_kong_resident`, `macao_resident`,
    /// `taiwan_resident`.
    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::Citizen => "citizen",
            NumberKind::ForeignPermanentResident => "foreign_permanent_resident",
            NumberKind::HongKongResident => "hong_kong_resident",
            NumberKind::MacaoResident => "macao_resident",
            NumberKind::TaiwanResident => "taiwan_resident",
        }
    }

    /// The document a number of this kind is printed on, in words.
    pub fn describe(self) -> &'static str {
        match self {
            NumberKind::Citizen => "citizen's identity number (resident identity card)",
            NumberKind::ForeignPermanentResident => {
                "foreign permanent resident ID card number (2023 version)"
            }
            NumberKind::HongKongResident => "Hong Kong resident's residence permit number",
            NumberKind::MacaoResident => "Macao resident's residence permit number",
            NumberKind::TaiwanResident => "Taiwan resident's residence permit number",
        }
    }

    /// The kind of a number whose first six digits are `code`.
    #[inline]
    pub const fn of_code(code: u32) -> NumberKind {
        match code {
            810000 => NumberKind::HongKongResident,
            820000 => NumberKind::MacaoResident,
            830000 => NumberKind::TaiwanResident,
            900000.. => NumberKind::ForeignPermanentResident,
            _ => NumberKind::Citizen,
        }
    }
}

impl fmt::Display for NumberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ISO 3166-1 numeric country codes (from Debian's iso-codes), China (156) excepted: the
/// nationalities a foreign permanent resident number may carry.
const ISO_3166_NUMERIC: [u16; 248] = [
    4, 8, 10, 12, 16, 20, 24, 28, 31, 32, 36, 40, 44, 48, 50, 51, 52, 56, 60, 64, 68, 70, 72, 74,
    76, 84, 86, 90, 92, 96, 100, 104, 108, 112, 116, 120, 124, 132, 136, 140, 144, 148, 152, 158,
    162, 166, 170, 174, 175, 178, 180, 184, 188, 191, 192, 196, 203, 204, 208, 212, 214, 218, 222,
    226, 231, 232, 233, 234, 238, 239, 242, 246, 248, 250, 254, 258, 260, 262, 266, 268, 270, 275,
    276, 288, 292, 296, 300, 304, 308, 312, 316, 320, 324, 328, 332, 334, 336, 340, 344, 348, 352,
    356, 360, 364, 368, 372, 376, 380, 384, 388, 392, 398, 400, 404, 408, 410, 414, 417, 418, 422,
    426, 428, 430, 434, 438, 440, 442, 446, 450, 454, 458, 462, 466, 470, 474, 478, 480, 484, 492,
    496, 498, 499, 500, 504, 508, 512, 516, 520, 524, 528, 531, 533, 534, 535, 540, 548, 554, 558,
    562, 566, 570, 574, 578, 580, 581, 583, 584, 585, 586, 591, 598, 600, 604, 608, 612, 616, 620,
    624, 626, 630, 634, 638, 642, 643, 646, 652, 654, 659, 660, 662, 663, 666, 670, 674, 678, 682,
    686, 688, 690, 694, 702, 703, 704, 705, 706, 710, 716, 724, 728, 729, 732, 740, 744, 748, 752,
    756, 760, 762, 764, 768, 772, 776, 780, 784, 788, 792, 795, 796, 798, 800, 804, 807, 818, 826,
    831, 832, 833, 834, 840, 850, 854, 858, 860, 862, 876, 882, 887, 894,
];

/// Whether `code` is an ISO 3166-1 numeric code of a country other than China.
pub fn is_nationality_code(code: u16) -> bool {
    ISO_3166_NUMERIC.binary_search(&code).is_ok()
}

/// Sex, from the parity of the sequence number (N1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Odd sequence.
    Male,
    /// Even sequence.
    Female,
}

impl Sex {
    /// `"male"` or `"female"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an input is not a valid identity number. Positions are 1-based character positions in the
/// input after surrounding blanks are removed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// Not 18 (or legacy 15) characters.
    #[error(
        "has {found} character(s) after trimming blanks; expected 18 (or 15 for a legacy number)"
    )]
    Length {
        /// Characters found.
        found: usize,
    },
    /// The bytes are not UTF-8 text.
    #[error("is not valid UTF-8 text (byte {position})")]
    NotUtf8 {
        /// 1-based byte position of the first bad byte.
        position: usize,
    },
    /// A character that is not a digit (or `X` in the last position of an 18-character number).
    #[error("character {found:?} at position {position} is not {expected}")]
    Character {
        /// 1-based position.
        position: usize,
        /// The character found.
        found: char,
        /// What is allowed there.
        expected: &'static str,
    },
    /// The check character does not match the first 17 digits (N1).
    #[error("check character is {found:?}, expected {expected:?} for the first 17 digits")]
    CheckCharacter {
        /// The check character computed from the first 17 digits.
        expected: char,
        /// The check character given.
        found: char,
    },
    /// The birth date digits are not a calendar date.
    #[error("birth date {year:04}-{month:02}-{day:02} does not exist")]
    ImpossibleBirthDate {
        /// Year digits.
        year: u32,
        /// Month digits.
        month: u32,
        /// Day digits.
        day: u32,
    },
    /// The birth date is before [`EARLIEST_BIRTH`].
    #[error("birth date {date} is before {EARLIEST_BIRTH}")]
    BirthDateTooEarly {
        /// The birth date.
        date: NaiveDate,
    },
    /// The birth date is after today.
    #[error("birth date {date} is in the future (today is {today})")]
    FutureBirthDate {
        /// The birth date.
        date: NaiveDate,
        /// The date taken as today.
        today: NaiveDate,
    },
    /// The division code never existed in GB/T 2260 (N3).
    #[error("division code {code} is not in the division table")]
    UnknownDivision {
        /// The code.
        code: DivisionCode,
    },
    /// Strict mode: the division code was not in force in the birth year (N3).
    #[error("division code {code} was not in force in {year} (strict mode)")]
    DivisionNotInForce {
        /// The code.
        code: DivisionCode,
        /// The birth year.
        year: i32,
    },
    /// A field out of range when building a number from parts or from its compact form.
    #[error("{0}")]
    OutOfRange(&'static str),
    /// A foreign permanent resident number whose digits 2-3 are not a province code.
    #[error("foreign permanent resident number: {code:02} at positions 2-3 is not a province code")]
    UnknownProvince {
        /// The two digits.
        code: u8,
    },
    /// A foreign permanent resident number whose digits 4-6 are not a nationality code.
    #[error(
        "foreign permanent resident number: {code:03} at positions 4-6 is not an ISO 3166-1 numeric nationality code"
    )]
    UnknownNationality {
        /// The three digits.
        code: u16,
    },
    /// A 15-character number of a kind that only has 18-character numbers.
    #[error("a {kind} number has 18 characters; there is no 15-character form")]
    NoLegacyForm {
        /// The kind.
        kind: NumberKind,
    },
}

impl NumberError {
    /// A stable machine-readable name for the kind of error (used in JSON output and bindings).
    pub fn kind(&self) -> &'static str {
        match self {
            NumberError::Length { .. } => "length",
            NumberError::NotUtf8 { .. } => "encoding",
            NumberError::Character { .. } => "character",
            NumberError::CheckCharacter { .. } => "check_character",
            NumberError::ImpossibleBirthDate { .. } => "birth_date",
            NumberError::BirthDateTooEarly { .. } => "birth_date_too_early",
            NumberError::FutureBirthDate { .. } => "future_birth_date",
            NumberError::UnknownDivision { .. } => "unknown_division",
            NumberError::DivisionNotInForce { .. } => "division_not_in_force",
            NumberError::OutOfRange(_) => "out_of_range",
            NumberError::UnknownProvince { .. } => "unknown_province",
            NumberError::UnknownNationality { .. } => "unknown_nationality",
            NumberError::NoLegacyForm { .. } => "no_legacy_form",
        }
    }

    /// The 1-based position the error points at, when it points at one.
    pub fn position(&self) -> Option<usize> {
        match self {
            NumberError::Character { position, .. } | NumberError::NotUtf8 { position } => {
                Some(*position)
            }
            NumberError::CheckCharacter { .. } => Some(18),
            _ => None,
        }
    }
}

/// A valid citizen identity number (N1), canonical 18-character form.
///
/// Stored as its compact encoding (see [`IdNumber::to_u64`]); `Copy`, 8 bytes, and
/// `Option<IdNumber>` is 8 bytes too. `Debug` masks the birth date and sequence (S2: numbers do
/// not end up in logs by accident); `Display` prints the full number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdNumber(NonZeroU64);

/// The result of [`Parser::parse`]: the number and how it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedNumber {
    /// The valid number.
    pub number: IdNumber,
    /// The input was a legacy 15-digit number, upgraded to 18 (N2).
    pub upgraded_from_15: bool,
}

/// The birth date, as days since 1970-01-01, of a compact number ([`IdNumber::to_u64`]).
#[inline(always)]
pub(crate) fn birth_days_of_compact(v: u64) -> i32 {
    ((v >> SEQ_BITS) & ((1 << BIRTH_BITS) - 1)) as i32 + EARLIEST_BIRTH_DAYS
}

/// Days from 1970-01-01 to [`EARLIEST_BIRTH`].
pub(crate) const EARLIEST_BIRTH_DAYS: i32 = crate::civil::days_from_civil(1850, 1, 1);

fn days_from_epoch(date: NaiveDate) -> i64 {
    (crate::civil::from_naive(date) - EARLIEST_BIRTH_DAYS) as i64
}

impl IdNumber {
    /// Parse with the built-in division table in lenient mode, today's date in China.
    /// See [`Parser`] for strict mode, another table or another "today".
    pub fn parse(input: &str) -> Result<IdNumber, NumberError> {
        Parser::new().parse(input).map(|p| p.number)
    }

    /// Build a number from its parts, checking ranges (sequence `0..=999`, birth date not before
    /// [`EARLIEST_BIRTH`]) but not the division table: use [`Parser`] for validation of input.
    ///
    /// ```
    /// use idcard::{DivisionCode, IdNumber};
    /// use chrono::NaiveDate;
    /// let n = IdNumber::from_parts(DivisionCode::new(110105).unwrap(),
    ///     NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(), 2).unwrap();
    /// assert_eq!(n.to_string(), "11010519491231002X");
    /// ```
    pub fn from_parts(
        division: DivisionCode,
        birth: NaiveDate,
        sequence: u16,
    ) -> Result<IdNumber, NumberError> {
        if sequence > 999 {
            return Err(NumberError::OutOfRange("sequence must be 0..=999"));
        }
        let days = days_from_epoch(birth);
        if days < 0 {
            return Err(NumberError::BirthDateTooEarly { date: birth });
        }
        if days >= 1 << BIRTH_BITS || birth.year() > 9999 {
            return Err(NumberError::OutOfRange(
                "birth date is too far in the future",
            ));
        }
        Ok(Self::pack(division.get(), days as u64, sequence as u64))
    }

    #[inline]
    fn pack(division: u32, birth_days: u64, seq: u64) -> IdNumber {
        let v = ((division as u64) << (BIRTH_BITS + SEQ_BITS)) | (birth_days << SEQ_BITS) | seq;
        // Birth days ≥ 0 and division ≥ 0; the value is zero only for division 000000, sequence 0,
        // born on EARLIEST_BIRTH — set the tag bit 63 so it never is.
        IdNumber(NonZeroU64::new(v | 1 << 63).expect("tag bit set"))
    }

    /// The compact encoding: bits 27..47 division code, bits 10..27 days since 1850-01-01,
    /// bits 0..10 sequence. Ordering of the encodings is the ordering of the 18-character
    /// numbers; the value fits in [`COMPACT_BITS`] bits and round-trips through
    /// [`IdNumber::from_u64`].
    #[inline]
    pub fn to_u64(self) -> u64 {
        self.0.get() & !(1 << 63)
    }

    /// Decode [`IdNumber::to_u64`]; every field is range-checked.
    pub fn from_u64(v: u64) -> Result<IdNumber, NumberError> {
        if v >> COMPACT_BITS != 0 {
            return Err(NumberError::OutOfRange(
                "compact identity number has bits above 47 set",
            ));
        }
        let seq = v & ((1 << SEQ_BITS) - 1);
        let days = (v >> SEQ_BITS) & ((1 << BIRTH_BITS) - 1);
        let division = (v >> (SEQ_BITS + BIRTH_BITS)) as u32;
        if seq > 999 {
            return Err(NumberError::OutOfRange("compact sequence above 999"));
        }
        if division >= 1_000_000 {
            return Err(NumberError::OutOfRange(
                "compact division code above 999999",
            ));
        }
        Ok(Self::pack(division, days, seq))
    }

    /// What kind of holder the number belongs to (a citizen, a foreign permanent resident, a
    /// Hong Kong, Macao or Taiwan resident with a residence permit).
    ///
    /// ```
    /// use idcard::{IdNumber, NumberKind};
    /// let k = |s: &str| s.parse::<IdNumber>().unwrap().kind();
    /// assert_eq!(k("11010519491231002X"), NumberKind::Citizen);
    /// assert_eq!(k("932682198501010017"), NumberKind::ForeignPermanentResident);
    /// assert_eq!(k("810000199408230021"), NumberKind::HongKongResident);
    /// ```
    #[inline]
    pub fn kind(self) -> NumberKind {
        NumberKind::of_code((self.to_u64() >> (BIRTH_BITS + SEQ_BITS)) as u32)
    }

    /// For a foreign permanent resident's number: the province code of the place that accepted
    /// the application and the ISO 3166-1 numeric nationality code.
    pub fn foreign_resident_fields(self) -> Option<(DivisionCode, u16)> {
        if self.kind() != NumberKind::ForeignPermanentResident {
            return None;
        }
        let code = self.division().get();
        Some((
            DivisionCode::new(code / 1000 % 100 * 10_000)?,
            (code % 1000) as u16,
        ))
    }

    /// The division code of the place of first registration (for other kinds of number: their
    /// first six digits, see [`IdNumber::kind`]).
    #[inline]
    pub fn division(self) -> DivisionCode {
        DivisionCode::new((self.to_u64() >> (BIRTH_BITS + SEQ_BITS)) as u32)
            .expect("checked on construction")
    }

    /// The birth date.
    #[inline]
    pub fn birth_date(self) -> NaiveDate {
        crate::civil::to_naive(self.birth_days())
    }

    /// The birth date as days since 1970-01-01 (negative before).
    #[inline]
    pub(crate) fn birth_days(self) -> i32 {
        ((self.to_u64() >> SEQ_BITS) & ((1 << BIRTH_BITS) - 1)) as i32 + EARLIEST_BIRTH_DAYS
    }

    /// The birth date as `yyyymmdd` (for C and columnar data).
    pub fn birth_yyyymmdd(self) -> u32 {
        let b = self.birth_date();
        b.year() as u32 * 10_000 + b.month() * 100 + b.day()
    }

    /// The three-digit sequence number.
    #[inline]
    pub fn sequence(self) -> u16 {
        (self.to_u64() & ((1 << SEQ_BITS) - 1)) as u16
    }

    /// Sex from the parity of the sequence.
    pub fn sex(self) -> Sex {
        if self.sequence() % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Age in whole years on `date`; `None` if `date` is before the birth date.
    ///
    /// ```
    /// let n: idcard::IdNumber = "11010519491231002X".parse().unwrap();
    /// let d = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    /// assert_eq!(n.age_on(d(1959, 12, 30)), Some(9));
    /// assert_eq!(n.age_on(d(1959, 12, 31)), Some(10));
    /// assert_eq!(n.age_on(d(1940, 1, 1)), None);
    /// ```
    pub fn age_on(self, date: NaiveDate) -> Option<u32> {
        let birth = self.birth_date();
        if date < birth {
            return None;
        }
        let mut age = date.year() - birth.year();
        if (date.month(), date.day()) < (birth.month(), birth.day()) {
            age -= 1;
        }
        Some(age as u32)
    }

    /// The 17 body digits as values `0..=9`.
    pub fn body_digits(self) -> [u8; 17] {
        let mut out = [0u8; 17];
        let division = self.division().get();
        let birth = self.birth_date();
        let seq = self.sequence() as u32;
        write_digits(&mut out[0..6], division);
        write_digits(&mut out[6..10], birth.year() as u32);
        write_digits(&mut out[10..12], birth.month());
        write_digits(&mut out[12..14], birth.day());
        write_digits(&mut out[14..17], seq);
        out
    }

    /// The canonical 18 ASCII characters.
    pub fn to_ascii(self) -> [u8; 18] {
        let body = self.body_digits();
        let mut out = [0u8; 18];
        for (o, d) in out.iter_mut().zip(body) {
            *o = b'0' + d;
        }
        out[17] = check_char_of(check_value(&body)) as u8;
        out
    }

    /// The check character.
    pub fn check_character(self) -> char {
        check_char_of(check_value(&self.body_digits()))
    }

    /// The legacy 15-digit form, for people born 1900–1999 (N2); `None` otherwise.
    pub fn to_legacy15(self) -> Option<String> {
        let year = self.birth_date().year();
        if !(1900..=1999).contains(&year) {
            return None;
        }
        let s = self.to_string();
        Some(format!("{}{}", &s[0..6], &s[8..17]))
    }

    /// The division of first registration, with names as of `date`, from the built-in table.
    pub fn division_on(self, date: NaiveDate) -> Option<Division<'static>> {
        DivisionTable::builtin().division_on(self.division(), date)
    }
}

fn write_digits(out: &mut [u8], mut v: u32) {
    for o in out.iter_mut().rev() {
        *o = (v % 10) as u8;
        v /= 10;
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.to_ascii();
        f.write_str(std::str::from_utf8(&a).expect("ASCII"))
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.to_ascii();
        let s = std::str::from_utf8(&a).expect("ASCII");
        write!(f, "IdNumber({}********{})", &s[..6], &s[14..])
    }
}

impl FromStr for IdNumber {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, NumberError> {
        IdNumber::parse(s)
    }
}

impl serde::Serialize for IdNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u64(self.to_u64())
        }
    }
}

impl<'de> serde::Deserialize<'de> for IdNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            // Structural parse: the division table at deserialisation time may differ.
            Parser::new()
                .with_today(NaiveDate::MAX)
                .parse_structure(s.as_bytes())
                .map(|(p, _)| p.number)
                .map_err(D::Error::custom)
        } else {
            IdNumber::from_u64(u64::deserialize(d)?).map_err(D::Error::custom)
        }
    }
}

/// The latest "today" a parser takes (later dates are clamped; no birth date can be later than
/// the compact encoding allows anyway).
const MAX_TODAY: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(d) => d,
    None => panic!(),
};

use crate::time::china_today;

/// Validates input as identity numbers: which division table, which mode, which "today".
/// Cheap to copy; build once and reuse for bulk input.
///
/// ```
/// use idcard::{Parser, NumberError};
/// let strict = Parser::new().strict(true);
/// // 110103 (崇文区) was abolished in 2010: fine leniently, refused strictly for a 2015 birth.
/// assert!(Parser::new().parse("110103201501010014").is_ok());
/// assert!(matches!(strict.parse("110103201501010014"),
///     Err(NumberError::DivisionNotInForce { year: 2015, .. })));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Parser<'t> {
    table: &'t DivisionTable,
    mode: DivisionMode,
    today: NaiveDate,
    today_days: i32,
}

impl Default for Parser<'static> {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser<'static> {
    /// Built-in table, lenient, today in China.
    pub fn new() -> Self {
        Parser::with_table(DivisionTable::builtin())
    }
}

impl<'t> Parser<'t> {
    /// A parser over another division table (lenient, today in China).
    pub fn with_table(table: &'t DivisionTable) -> Self {
        Parser {
            table,
            mode: DivisionMode::Lenient,
            today: NaiveDate::MIN,
            today_days: 0,
        }
        .with_today(china_today())
    }

    /// Strict (`true`) or lenient (`false`) division check.
    pub fn strict(self, strict: bool) -> Self {
        self.mode(if strict {
            DivisionMode::Strict
        } else {
            DivisionMode::Lenient
        })
    }

    /// Set the division mode.
    pub fn mode(mut self, mode: DivisionMode) -> Self {
        self.mode = mode;
        self
    }

    /// Take `today` as the current date (birth dates after it are refused).
    pub fn with_today(mut self, today: NaiveDate) -> Self {
        self.today = today;
        self.today_days = crate::civil::from_naive(today.min(MAX_TODAY));
        self
    }

    /// The division table in use.
    pub fn table(&self) -> &'t DivisionTable {
        self.table
    }

    /// The division mode in use.
    pub fn division_mode(&self) -> DivisionMode {
        self.mode
    }

    /// Parse and validate one number (N1, N2, N3).
    #[inline]
    pub fn parse(&self, input: &str) -> Result<ParsedNumber, NumberError> {
        self.parse_bytes(input.as_bytes())
    }

    /// Parse and validate bytes (which need not be UTF-8: bad encodings are an error, not a
    /// panic).
    #[inline]
    pub fn parse_bytes(&self, input: &[u8]) -> Result<ParsedNumber, NumberError> {
        self.parse_bytes_hinted(input, |_| ())
    }

    /// [`Parser::parse_bytes`], calling `hint` on the way with the compact form
    /// ([`IdNumber::to_u64`]) that 18 plain characters spell, before any of them is checked:
    /// the number's if they are valid, some value otherwise (never an answer). A verifier starts
    /// fetching the card's memory with it while the checks run.
    #[inline(always)]
    pub(crate) fn parse_bytes_hinted(
        &self,
        input: &[u8],
        hint: impl FnOnce(u64),
    ) -> Result<ParsedNumber, NumberError> {
        if let Ok(text) = <&[u8; 18]>::try_from(input)
            && let Some(n) = self.parse_plain_18(text, hint)
        {
            return Ok(ParsedNumber {
                number: n,
                upgraded_from_15: false,
            });
        }
        self.parse_general(input)
    }

    /// The common case, fast: 18 ASCII characters (17 digits and a digit or `X`/`x`) of a
    /// valid citizen's number in lenient mode, read eight digits at a time in a 64-bit word
    /// (SWAR). `None` for anything else, valid or not: [`Parser::parse_general`] then decides,
    /// with the precise error. Both apply the same rules (N1, N3); a property test holds them
    /// to the same answers.
    #[inline]
    fn parse_plain_18(&self, text: &[u8; 18], hint: impl FnOnce(u64)) -> Option<IdNumber> {
        if self.mode != DivisionMode::Lenient {
            return None;
        }
        let a = u64::from_le_bytes(text[0..8].try_into().expect("8 bytes"));
        let b = u64::from_le_bytes(text[8..16].try_into().expect("8 bytes"));
        let (c16, c17) = (text[16].wrapping_sub(b'0'), text[17]);
        // The fields first, unchecked (wrapping: any bytes give some value), for the hint.
        let (da, db) = (a.wrapping_sub(swar::ZEROS), b.wrapping_sub(swar::ZEROS));
        // Pairs of digits in bytes 0, 2, 4 and 6: digits 0-7 are the division and the century,
        // 8-15 the rest of the year, the month, the day and two digits of the sequence.
        let (pa, pb) = (swar::pairs(da), swar::pairs(db));
        let pair = |p: u64, i: u32| ((p >> (16 * i)) & 0xff) as u32;
        let division = (pair(pa, 0) * 100 + pair(pa, 1)) * 100 + pair(pa, 2);
        let year = pair(pa, 3) * 100 + pair(pb, 0);
        let seq = pair(pb, 3) * 10 + c16 as u32;
        let (month, day) = (pair(pb, 1), pair(pb, 2));
        let birth_guess =
            crate::civil::days_of_guess(year as i32, month, day).wrapping_sub(EARLIEST_BIRTH_DAYS);
        hint(
            ((division as u64) << (BIRTH_BITS + SEQ_BITS))
                | ((birth_guess as u64 & ((1 << BIRTH_BITS) - 1)) << SEQ_BITS)
                | (seq as u64 & ((1 << SEQ_BITS) - 1)),
        );
        if !(swar::all_digits(a) & swar::all_digits(b) & (c16 <= 9)) {
            return None;
        }
        let check = match c17 {
            b'0'..=b'9' => c17 - b'0',
            b'X' | b'x' => 10,
            _ => return None,
        };
        let sum = swar::weighted(da, swar::WEIGHTS_0_8)
            + swar::weighted(db, swar::WEIGHTS_8_16)
            + c16 as u32 * WEIGHTS[16];
        if CHECK_BY_SUM[(sum % 11) as usize] != check {
            return None;
        }
        if division >= 810_000 {
            return None;
        }
        let birth_days = crate::civil::days_of(year as i32, month, day)?;
        let days = birth_days - EARLIEST_BIRTH_DAYS;
        if !(0..1 << BIRTH_BITS).contains(&days) || birth_days > self.today_days {
            return None;
        }
        let code = DivisionCode::new(division)?;
        if !self.table.contains(code) {
            return None;
        }
        Some(IdNumber::pack(division, days as u64, seq as u64))
    }

    /// Every form N1 accepts (blanks, full-width digits, 15 digits), with the precise error.
    fn parse_general(&self, input: &[u8]) -> Result<ParsedNumber, NumberError> {
        let (p, year) = self.parse_structure(input)?;
        let code = p.number.division();
        let kind = NumberKind::of_code(code.get());
        if kind != NumberKind::Citizen {
            return self.check_other_kind(p, kind);
        }
        if !self.table.contains(code) {
            return Err(NumberError::UnknownDivision { code });
        }
        if self.mode == DivisionMode::Strict && !self.table.in_force(code, year) {
            return Err(NumberError::DivisionNotInForce { code, year });
        }
        Ok(p)
    }

    /// The first six digits of a number that is not a citizen's: a permit's fixed address code,
    /// or a foreign permanent resident's province and nationality.
    #[cold]
    fn check_other_kind(
        &self,
        p: ParsedNumber,
        kind: NumberKind,
    ) -> Result<ParsedNumber, NumberError> {
        if p.upgraded_from_15 {
            return Err(NumberError::NoLegacyForm { kind });
        }
        if kind == NumberKind::ForeignPermanentResident {
            let code = p.number.division().get();
            let province = (code / 1000 % 100) as u8;
            let province_code = DivisionCode::new(province as u32 * 10_000);
            if province < 11 || !province_code.is_some_and(|c| self.table.contains(c)) {
                return Err(NumberError::UnknownProvince { code: province });
            }
            let nationality = (code % 1000) as u16;
            if !is_nationality_code(nationality) {
                return Err(NumberError::UnknownNationality { code: nationality });
            }
        }
        Ok(p)
    }

    /// Everything but the division table: characters, length, check character, birth date.
    /// Returns the birth year too.
    fn parse_structure(&self, input: &[u8]) -> Result<(ParsedNumber, i32), NumberError> {
        let mut d = [0u8; 18];
        let len = normalise(input, &mut d)?;
        let (year, md, body_seq, upgraded) = if len == 18 {
            let mut body = [0u8; 17];
            body.copy_from_slice(&d[..17]);
            let expected = check_value(&body);
            if d[17] != expected {
                return Err(NumberError::CheckCharacter {
                    expected: check_char_of(expected),
                    found: check_char_of(d[17]),
                });
            }
            (num(&d[6..10]), 10, 14, false)
        } else {
            (1900 + num(&d[6..8]), 8, 12, true)
        };
        let month = num(&d[md..md + 2]);
        let day = num(&d[md + 2..md + 4]);
        let birth_days = crate::civil::days_of(year as i32, month, day)
            .ok_or(NumberError::ImpossibleBirthDate { year, month, day })?;
        if birth_days < EARLIEST_BIRTH_DAYS {
            return Err(NumberError::BirthDateTooEarly {
                date: crate::civil::to_naive(birth_days),
            });
        }
        if birth_days > self.today_days {
            return Err(NumberError::FutureBirthDate {
                date: crate::civil::to_naive(birth_days),
                today: self.today,
            });
        }
        let division = num(&d[0..6]);
        let seq = num(&d[body_seq..body_seq + 3]);
        let days = (birth_days - EARLIEST_BIRTH_DAYS) as u64;
        if days >= 1 << BIRTH_BITS {
            return Err(NumberError::OutOfRange(
                "birth date is too far in the future",
            ));
        }
        Ok((
            ParsedNumber {
                number: IdNumber::pack(division, days, seq as u64),
                upgraded_from_15: upgraded,
            },
            year as i32,
        ))
    }
}

/// Eight ASCII digits in a little-endian 64-bit word (byte 0 the first digit).
mod swar {
    /// `'0'` in every byte.
    pub(super) const ZEROS: u64 = 0x3030_3030_3030_3030;
    const HIGH_NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;

    /// Whether every byte is `'0'..='9'` (no carry crosses a byte: each is at most 0x3f + 6).
    #[inline(always)]
    pub(super) fn all_digits(x: u64) -> bool {
        (x & HIGH_NIBBLES) == ZEROS && ((x + 0x0606_0606_0606_0606) & HIGH_NIBBLES) == ZEROS
    }

    /// Eight digit values (`0..=9` per byte, the first in byte 0) as four two-digit values in
    /// bytes 0, 2, 4 and 6 (`10 × first + second`; the odd bytes hold garbage). Any bytes give
    /// some value (wrapping), so it may run before they are checked.
    #[inline(always)]
    pub(super) fn pairs(d: u64) -> u64 {
        d.wrapping_mul(10).wrapping_add(d >> 8)
    }

    /// Weights for the dot product of eight digit values, laid out for [`weighted`]: the even
    /// positions' weights in 16-bit lanes in reverse order, then the odd positions'.
    pub(super) const WEIGHTS_0_8: (u64, u64) = lanes(0);
    pub(super) const WEIGHTS_8_16: (u64, u64) = lanes(8);

    /// The layout of [`super::WEIGHTS`]`[at..at + 8]`.
    const fn lanes(at: usize) -> (u64, u64) {
        let (mut even, mut odd, mut i) = (0u64, 0u64, 0);
        while i < 4 {
            // Digit `2i` (`2i + 1`) goes to lane `3 - i`: the product's top lane sums them.
            even |= (super::WEIGHTS[at + 2 * i] as u64) << (16 * (3 - i));
            odd |= (super::WEIGHTS[at + 2 * i + 1] as u64) << (16 * (3 - i));
            i += 1;
        }
        (even, odd)
    }

    /// The weighted sum of eight digit values: the even and the odd digits spread into 16-bit
    /// lanes, each multiplied by its reversed weights, so the top lane of the product collects
    /// the four products (at most 4 × 9 × 10 = 360: no lane overflows into the next).
    #[inline(always)]
    pub(super) fn weighted(d: u64, (even, odd): (u64, u64)) -> u32 {
        const LANES: u64 = 0x00ff_00ff_00ff_00ff;
        let e = (d & LANES).wrapping_mul(even) >> 48;
        let o = ((d >> 8) & LANES).wrapping_mul(odd) >> 48;
        (e + o) as u32
    }
}

#[inline]
fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |a, &x| a * 10 + x as u32)
}

/// Turn input into digit values (`X` = 10) in `out`; returns 15 or 18.
#[inline]
fn normalise(input: &[u8], out: &mut [u8; 18]) -> Result<usize, NumberError> {
    // Fast path: 18 ASCII characters, digits with an optional X/x last.
    if input.len() == 18 {
        let mut ok = true;
        for i in 0..17 {
            let v = input[i].wrapping_sub(b'0');
            out[i] = v;
            ok &= v <= 9;
        }
        let last = input[17];
        out[17] = match last {
            b'0'..=b'9' => last - b'0',
            b'X' | b'x' => 10,
            _ => 255,
        };
        if ok && out[17] != 255 {
            return Ok(18);
        }
    } else if input.len() == 15 {
        let mut ok = true;
        for i in 0..15 {
            let v = input[i].wrapping_sub(b'0');
            out[i] = v;
            ok &= v <= 9;
        }
        if ok {
            return Ok(15);
        }
    }
    normalise_slow(input, out)
}

#[cold]
fn normalise_slow(input: &[u8], out: &mut [u8; 18]) -> Result<usize, NumberError> {
    let text = std::str::from_utf8(input).map_err(|e| NumberError::NotUtf8 {
        position: e.valid_up_to() + 1,
    })?;
    // Surrounding blanks, a byte-order mark, and NUL padding (fixed-width C strings and NumPy
    // `S` arrays) are not part of the number.
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '\0');
    let len = text.chars().count();
    if len != 18 && len != 15 {
        return Err(NumberError::Length { found: len });
    }
    for (i, c) in text.chars().enumerate() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            '０'..='９' => c as u32 - '０' as u32,
            'X' | 'x' | 'Ｘ' | 'ｘ' if i == 17 => 10,
            _ => {
                return Err(NumberError::Character {
                    position: i + 1,
                    found: c,
                    expected: if len == 18 && i == 17 {
                        "a digit or X"
                    } else {
                        "a digit"
                    },
                });
            }
        };
        out[i] = v as u8;
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The hint a verifier prefetches on is the number itself for every valid number in
        /// plain digits (else its prefetch would fetch the wrong word, silently).
        #[test]
        fn n1_the_hint_from_18_plain_characters_is_the_number(
            code in 0usize..3000, days in 0i64..(90 * 365), seq in 0u16..1000,
        ) {
            let table = DivisionTable::builtin();
            let codes: Vec<DivisionCode> = table.codes().collect();
            let code = codes[code % codes.len()];
            let birth = NaiveDate::from_ymd_opt(1930, 1, 1).unwrap() + chrono::Days::new(days as u64);
            let n = IdNumber::from_parts(code, birth, seq).unwrap();
            let mut hinted = None;
            let _ = Parser::new().parse_bytes_hinted(&n.to_ascii(), |h| hinted = Some(h));
            proptest::prop_assert_eq!(hinted, Some(n.to_u64()));
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn parser() -> Parser<'static> {
        Parser::new().with_today(date(2026, 11, 22))
    }

    /// The standard's example number (GB 11643-1999 appendix): 11010519491231002X.
    const EXAMPLE: &str = "11010519491231002X";

    #[test]
    fn n1_parses_standard_example() {
        let p = parser().parse(EXAMPLE).unwrap();
        let n = p.number;
        assert!(!p.upgraded_from_15);
        assert_eq!(n.to_string(), EXAMPLE);
        assert_eq!(n.division().get(), 110105);
        assert_eq!(n.birth_date(), date(1949, 12, 31));
        assert_eq!(n.sequence(), 2);
        assert_eq!(n.sex(), Sex::Female);
        assert_eq!(n.check_character(), 'X');
    }

    #[test]
    fn n1_check_character_vectors() {
        // Vectors computed by hand with the MOD 11-2 weights.
        for (s, ok) in [
            ("110101199003074514", true),
            ("110101199003074515", false),
            ("440524188001010014", true),
            ("11010519491231002X", true),
            ("110105194912310021", false),
        ] {
            assert_eq!(parser().parse(s).is_ok(), ok, "{s}");
        }
        match parser().parse("110105194912310021") {
            Err(NumberError::CheckCharacter { expected, found }) => {
                assert_eq!((expected, found), ('X', '1'))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn n1_normalises_blanks_lowercase_x_and_fullwidth() {
        for s in [
            "11010519491231002x",
            "  11010519491231002X\t",
            "\u{3000}11010519491231002X\u{3000}",
            "１１０１０５１９４９１２３１００２Ｘ",
            "１１０１０５１９４９１２３１００２ｘ",
            "\u{feff}11010519491231002X\r\n",
        ] {
            assert_eq!(
                parser().parse(s).unwrap().number.to_string(),
                EXAMPLE,
                "{s:?}"
            );
        }
    }

    #[test]
    fn n1_rejects_with_reason() {
        let e = |s: &str| parser().parse(s).unwrap_err();
        assert_eq!(e(""), NumberError::Length { found: 0 });
        assert_eq!(e("1101051949123100"), NumberError::Length { found: 16 });
        assert_eq!(
            e("1101051949123100X2"),
            NumberError::Character {
                position: 17,
                found: 'X',
                expected: "a digit"
            }
        );
        assert_eq!(
            e("11010519491231002Y"),
            NumberError::Character {
                position: 18,
                found: 'Y',
                expected: "a digit or X"
            }
        );
        assert_eq!(
            e("11010519491-31002X"),
            NumberError::Character {
                position: 12,
                found: '-',
                expected: "a digit"
            }
        );
        assert_eq!(e("110105 19491231002X").kind(), "length");
        assert!(matches!(
            parser().parse_bytes(b"\xff10105194912310021"),
            Err(NumberError::NotUtf8 { position: 1 })
        ));
    }

    fn with_check(body: &str) -> String {
        let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        let c = check_character(&digits.try_into().unwrap());
        format!("{body}{c}")
    }

    #[test]
    fn n1_rejects_impossible_early_and_future_birth_dates() {
        let e = |body: &str| parser().parse(&with_check(body)).unwrap_err();
        assert_eq!(
            e("11010519900230001"),
            NumberError::ImpossibleBirthDate {
                year: 1990,
                month: 2,
                day: 30
            }
        );
        assert!(matches!(
            e("11010519001329001"),
            NumberError::ImpossibleBirthDate { month: 13, .. }
        ));
        assert!(matches!(
            e("11010518000101001"),
            NumberError::BirthDateTooEarly { .. }
        ));
        assert!(matches!(
            e("11010520261123001"),
            NumberError::FutureBirthDate { .. }
        ));
        assert!(parser().parse(&with_check("11010520261122001")).is_ok());
        assert!(parser().parse(&with_check("11010520000229001")).is_ok());
        assert!(parser().parse(&with_check("11010519000229001")).is_err());
    }

    #[test]
    fn n3_rejects_unknown_division() {
        let e = parser()
            .parse(&with_check("89999919900101001"))
            .unwrap_err();
        assert_eq!(
            e,
            NumberError::UnknownDivision {
                code: DivisionCode::new(899999).unwrap()
            }
        );
        assert_eq!(e.kind(), "unknown_division");
    }

    #[test]
    fn n1_number_kinds_foreign_permanent_residents_and_residence_permits() {
        // NIA's published samples (2023 foreign permanent resident ID card) and a validator's.
        for (s, province, nationality) in [
            ("932682198501010017", 320000, 682),
            ("911124198108030024", 110000, 124),
            ("911398199012310021", 110000, 398),
        ] {
            let n = parser().parse(s).unwrap().number;
            assert_eq!(n.kind(), NumberKind::ForeignPermanentResident, "{s}");
            assert_eq!(
                n.foreign_resident_fields(),
                Some((DivisionCode::new(province).unwrap(), nationality))
            );
            assert_eq!(n.to_string(), s);
        }
        assert_eq!(
            parser().parse("932682198501010017").unwrap().number.sex(),
            Sex::Male
        );
        // Beijing PSB's samples of residence permits.
        let k = |s: &str| parser().parse(s).unwrap().number.kind();
        assert_eq!(k("810000199408230021"), NumberKind::HongKongResident);
        assert_eq!(k("830000199201300022"), NumberKind::TaiwanResident);
        assert_eq!(
            k(&with_check("82000019900101002")),
            NumberKind::MacaoResident
        );
        assert_eq!(k("11010519491231002X"), NumberKind::Citizen);
        // A bad province or nationality is named as such, not as a division.
        let e = parser()
            .parse(&with_check("99968219850101001"))
            .unwrap_err();
        assert_eq!(e, NumberError::UnknownProvince { code: 99 });
        let e = parser()
            .parse(&with_check("93215619850101001"))
            .unwrap_err();
        assert_eq!(e, NumberError::UnknownNationality { code: 156 });
        assert_eq!(e.kind(), "unknown_nationality");
        // No 15-character form.
        assert!(matches!(
            parser().parse("932682850101001"),
            Err(NumberError::NoLegacyForm { .. })
        ));
    }

    #[test]
    fn n3_strict_mode_uses_birth_year() {
        let s = with_check("11011819900101001"); // 密云区 code from 2015
        assert!(parser().parse(&s).is_ok());
        assert!(matches!(
            parser().strict(true).parse(&s),
            Err(NumberError::DivisionNotInForce { year: 1990, .. })
        ));
        assert!(
            parser()
                .strict(true)
                .parse(&with_check("11011820160101001"))
                .is_ok()
        );
    }

    #[test]
    fn n3_permit_codes_accepted() {
        for body in [
            "81000019900101001",
            "82000019900101001",
            "83000019900101001",
        ] {
            assert!(
                parser().strict(true).parse(&with_check(body)).is_ok(),
                "{body}"
            );
        }
    }

    #[test]
    fn n2_legacy_15_digit_upgrades() {
        let p = parser().parse("110105491231002").unwrap();
        assert!(p.upgraded_from_15);
        assert_eq!(p.number.to_string(), EXAMPLE);
        assert_eq!(p.number.to_legacy15().as_deref(), Some("110105491231002"));
        // Full-width legacy input.
        assert!(
            parser()
                .parse("１１０１０５４９１２３１００２")
                .unwrap()
                .upgraded_from_15
        );
        // A legacy number has no check character: X is refused.
        assert!(matches!(
            parser().parse("11010549123100X"),
            Err(NumberError::Character { position: 15, .. })
        ));
    }

    #[test]
    fn n1_compact_roundtrip_and_order() {
        let a = parser().parse("110101199003074514").unwrap().number;
        let b = parser().parse(EXAMPLE).unwrap().number;
        assert_eq!(IdNumber::from_u64(a.to_u64()).unwrap(), a);
        assert!(a.to_u64() < 1 << COMPACT_BITS);
        assert_eq!(a.to_u64() < b.to_u64(), a.to_string() < b.to_string());
        assert!(IdNumber::from_u64(1 << 50).is_err());
        assert!(IdNumber::from_u64(1000).is_err());
        assert_eq!(std::mem::size_of::<Option<IdNumber>>(), 8);
    }

    #[test]
    fn s2_debug_masks_the_number() {
        let n = parser().parse(EXAMPLE).unwrap().number;
        let dbg = format!("{n:?}");
        assert!(!dbg.contains("19491231"), "{dbg}");
        assert!(dbg.contains("110105"));
    }

    #[test]
    fn n1_age_on_dates() {
        let n = parser().parse(EXAMPLE).unwrap().number;
        assert_eq!(n.age_on(date(1949, 12, 31)), Some(0));
        assert_eq!(n.age_on(date(2025, 12, 30)), Some(75));
        assert_eq!(n.age_on(date(2025, 12, 31)), Some(76));
        // Born on 29 February: a year older on 1 March in common years.
        let leap = parser()
            .parse(&with_check("11010520000229001"))
            .unwrap()
            .number;
        assert_eq!(leap.age_on(date(2001, 2, 28)), Some(0));
        assert_eq!(leap.age_on(date(2001, 3, 1)), Some(1));
    }

    /// N1, N3: the fast 18-character path takes the standard's example and the plain forms,
    /// and leaves everything it does not take to the general path.
    #[test]
    fn n1_fast_path_takes_plain_numbers() {
        let p = parser();
        let text: &[u8; 18] = EXAMPLE.as_bytes().try_into().unwrap();
        assert_eq!(
            p.parse_plain_18(text, |_| ()),
            Some(p.parse_general(EXAMPLE.as_bytes()).unwrap().number)
        );
        let lower: [u8; 18] = *b"11010519491231002x";
        assert_eq!(
            p.parse_plain_18(&lower, |_| ()),
            p.parse_plain_18(text, |_| ())
        );
        // A wrong check character, a strict parser: the general path decides.
        assert_eq!(p.parse_plain_18(b"110105194912310021", |_| ()), None);
        assert_eq!(p.strict(true).parse_plain_18(text, |_| ()), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// N1, N3: the fast path and the general path agree on every input of 18 bytes, valid
        /// or not: numbers built from real division codes and dates, then perturbed.
        #[test]
        fn n1_fast_and_general_paths_agree(
            code in proptest::sample::select(
                DivisionTable::builtin().codes().map(|c| c.get()).collect::<Vec<_>>()),
            days in 0u32..(1 << 17),
            seq in 0u16..1000,
            flip in proptest::option::of((0usize..18, proptest::num::u8::ANY)),
            today_after in 0i32..40_000,
        ) {
            let birth = EARLIEST_BIRTH + chrono::Days::new(days as u64);
            let today = EARLIEST_BIRTH + chrono::Days::new(today_after as u64 + 50_000);
            let p = Parser::new().with_today(today);
            let mut text = match IdNumber::from_parts(DivisionCode::new(code).unwrap(), birth, seq) {
                Ok(n) => n.to_ascii(),
                Err(_) => return Ok(()),
            };
            if let Some((i, b)) = flip {
                text[i] = b;
            }
            let general = p.parse_general(&text);
            let got = p.parse_bytes(&text);
            proptest::prop_assert_eq!(got.as_ref().ok(), general.as_ref().ok());
            proptest::prop_assert_eq!(got.is_err(), general.is_err());
            if let Some(n) = p.parse_plain_18(&text, |_| ()) {
                proptest::prop_assert_eq!(Some(&n), general.as_ref().ok().map(|p| &p.number));
            }
        }
    }
}
