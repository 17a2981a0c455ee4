//! Cards — requirements N4, N5, N6.
//!
//! A card is identified by its holder's number and its validity start date ([`CardKey`], N4): one
//! person holds a sequence of cards over a lifetime, and reporting one lost does not touch the
//! replacement issued after it. The validity period follows the age at application (N5), and a
//! second-generation card may carry registered fingerprints (N6).
//!
//! ```
//! use idcard::{Card, CardKey, IdNumber, ValidityPeriod};
//! use chrono::NaiveDate;
//! let n: IdNumber = "11010519491231002X".parse()?;
//! let applied = NaiveDate::from_ymd_opt(1990, 3, 1).unwrap();       // aged 40
//! let card = Card::issue(n, applied, applied, true)?;
//! assert_eq!(card.period(), ValidityPeriod::TwentyYears);
//! assert_eq!(card.valid_until(), NaiveDate::from_ymd_opt(2010, 3, 1));
//! let key = card.key();
//! assert_eq!(CardKey::from_u64(key.to_u64())?, key);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use chrono::{Months, NaiveDate};

use crate::number::{IdNumber, NumberError};

/// The first validity start date a [`CardKey`] can hold (the compact form counts days from it).
pub const VALID_FROM_EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!(),
};
const VALID_FROM_BITS: u32 = 16;

/// Why a card or card key cannot be formed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The validity start is before the holder's birth.
    #[error("validity start {valid_from} is before the holder's birth date {birth}")]
    ValidFromBeforeBirth {
        /// The validity start.
        valid_from: NaiveDate,
        /// The birth date.
        birth: NaiveDate,
    },
    /// The validity start is outside the representable range.
    #[error(
        "validity start {valid_from} is outside {VALID_FROM_EPOCH}..={}",
        valid_from_max()
    )]
    ValidFromOutOfRange {
        /// The validity start.
        valid_from: NaiveDate,
    },
    /// The application date is before the holder's birth.
    #[error("application date {applied_on} is before the holder's birth date")]
    AppliedBeforeBirth {
        /// The application date.
        applied_on: NaiveDate,
    },
    /// The compact key has an invalid number part.
    #[error("compact card key: {0}")]
    Number(#[from] NumberError),
}

/// The last validity start date a [`CardKey`] can hold.
pub fn valid_from_max() -> NaiveDate {
    VALID_FROM_EPOCH + chrono::Days::new((1 << VALID_FROM_BITS) - 1)
}

/// A card's identity (N4): the holder's number and the validity start date.
///
/// Held in its compact form (see [`CardKey::to_u64`]): 8 bytes, `Copy`, ordered by number then
/// validity start.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CardKey(u64);

const VALID_FROM_MAX_DAYS: i32 = (1 << VALID_FROM_BITS) - 1;

impl CardKey {
    /// A key, checking that the validity start is not before birth and is representable.
    pub fn new(number: IdNumber, valid_from: NaiveDate) -> Result<CardKey, CardError> {
        Self::from_days(number, crate::civil::from_naive(valid_from)).map_err(|e| match e {
            DaysError::BeforeBirth => CardError::ValidFromBeforeBirth {
                valid_from,
                birth: number.birth_date(),
            },
            DaysError::OutOfRange => CardError::ValidFromOutOfRange { valid_from },
        })
    }

    /// The hot-path constructor: validity start as days since 1970-01-01.
    #[inline]
    pub(crate) fn from_days(number: IdNumber, days: i32) -> Result<CardKey, DaysError> {
        if days < number.birth_days() {
            return Err(DaysError::BeforeBirth);
        }
        if !(0..=VALID_FROM_MAX_DAYS).contains(&days) {
            return Err(DaysError::OutOfRange);
        }
        Ok(CardKey((number.to_u64() << VALID_FROM_BITS) | days as u64))
    }

    /// The compact key ([`CardKey::to_u64`]) of a compact number and a validity start, not
    /// checked (a hint to prefetch on: see `Parser::parse_bytes_hinted`).
    #[inline(always)]
    pub(crate) fn compose_unchecked(compact_number: u64, valid_from_days: i32) -> u64 {
        (compact_number << VALID_FROM_BITS)
            | (valid_from_days as u64 & ((1 << VALID_FROM_BITS) - 1))
    }

    /// The holder's number.
    #[inline]
    pub fn number(self) -> IdNumber {
        IdNumber::from_u64(self.0 >> VALID_FROM_BITS).expect("checked on construction")
    }

    /// The validity start date.
    pub fn valid_from(self) -> NaiveDate {
        crate::civil::to_naive(self.valid_from_days())
    }

    /// The validity start as days since 1970-01-01.
    #[inline]
    pub(crate) fn valid_from_days(self) -> i32 {
        (self.0 & ((1 << VALID_FROM_BITS) - 1)) as i32
    }

    /// Compact encoding in 63 bits: the number's compact form (see [`IdNumber::to_u64`]) shifted
    /// left by 16, or'ed with the days from 1970-01-01 to the validity start.
    #[inline]
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// The range of [`CardKey::to_u64`] values of `number`'s cards (inclusive): keys are
    /// number-major, so a person's cards are adjacent, oldest first.
    pub fn range_of(number: IdNumber) -> (u64, u64) {
        let lo = number.to_u64() << VALID_FROM_BITS;
        (lo, lo | ((1u64 << VALID_FROM_BITS) - 1))
    }

    /// Decode [`CardKey::to_u64`], checking every field.
    pub fn from_u64(v: u64) -> Result<CardKey, CardError> {
        let number = IdNumber::from_u64(v >> VALID_FROM_BITS)?;
        let key = CardKey(v);
        CardKey::new(number, key.valid_from())
    }
}

/// Second-generation cards are issued from this day (Resident Identity Card Law in force
/// 2004-01-01): a card valid from an earlier day is a first-generation card.
pub const SECOND_GENERATION_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2004, 1, 1) {
    Some(d) => d,
    None => panic!(),
};

/// First-generation cards are no longer valid from this day (Resident Identity Card Law art.
/// 17 as amended in 2011; MPS notice: 第一代居民身份证 stopped being valid on 2013-01-01).
pub const FIRST_GENERATION_INVALID_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2013, 1, 1) {
    Some(d) => d,
    None => panic!(),
};

const SECOND_GENERATION_DAYS: i32 = crate::civil::days_from_civil(2004, 1, 1);
const FIRST_GENERATION_INVALID_DAYS: i32 = crate::civil::days_from_civil(2013, 1, 1);

impl CardKey {
    /// A placeholder for unused slots of fixed-size buffers (the batch pipeline): never a card,
    /// never looked up.
    pub(crate) const ZERO: CardKey = CardKey(0);

    /// The card's last day of validity as the key alone tells it (N5): the period of the age at
    /// the validity start, which is never shorter than the period of the age at application (a
    /// few weeks earlier), so a card is never answered expired before its printed end; `None`
    /// for long-term cards. A first-generation card (valid from before 2004) ends on
    /// 2012-12-31 at the latest.
    ///
    /// ```
    /// use idcard::{CardKey, IdNumber};
    /// use chrono::NaiveDate;
    /// let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
    /// let n: IdNumber = "11010519491231002X".parse()?;
    /// // Aged 60 at the start: long-term.
    /// assert_eq!(CardKey::new(n, d(2010, 1, 1))?.valid_until(), None);
    /// // Aged 40: twenty years.
    /// assert_eq!(CardKey::new(n, d(1990, 3, 1))?.valid_until(), Some(d(2010, 3, 1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn valid_until(self) -> Option<NaiveDate> {
        let end = self.end_days();
        (end != i32::MAX).then(|| crate::civil::to_naive(end))
    }

    /// Whether the holder's number is a citizen's (the only kind a resident identity card has;
    /// [`crate::NumberKind`]).
    #[inline(always)]
    pub(crate) fn is_citizens(self) -> bool {
        let division = (self.0 >> (VALID_FROM_BITS + 27)) as u32;
        division < 810_000
            || crate::number::NumberKind::of_code(division) == crate::number::NumberKind::Citizen
    }

    /// The holder's birth date in days since 1970-01-01, straight from the compact form.
    #[inline(always)]
    pub(crate) fn birth_days_fast(self) -> i32 {
        // The compact number is bits 16.. of the key; its birth days are bits 10..27 of it.
        crate::number::birth_days_of_compact(self.0 >> VALID_FROM_BITS)
    }

    /// The last day of validity in days since 1970-01-01; `i32::MAX` for long-term.
    fn end_days(self) -> i32 {
        let v = self.valid_from_days();
        let age = age_exact(self.birth_days_fast(), v);
        let end = match ValidityPeriod::for_age(age.max(0) as u32).years() {
            None => i32::MAX,
            Some(years) => end_of_period(v, years as i32),
        };
        if v < SECOND_GENERATION_DAYS {
            end.min(FIRST_GENERATION_INVALID_DAYS - 1)
        } else {
            end
        }
    }
}

/// The expiry rule (N5) for one day: for each period of 5, 10 and 20 years, the earliest
/// validity start whose period has not ended by `today`. A card valid from on or after the 5-year
/// cutoff has not expired whatever its period; before it, the holder's age at the validity start
/// decides, which [`ExpiryDay::birth_bound`] turns into one comparison of birth days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExpiryDay {
    /// The day, as days since 1970-01-01.
    pub(crate) today: i32,
    c5: i32,
    c10: i32,
    c20: i32,
}

impl ExpiryDay {
    /// The cutoffs of `today` (days since 1970-01-01).
    pub(crate) fn new(today: i32) -> ExpiryDay {
        ExpiryDay {
            today,
            c5: cutoff(today, 5),
            c10: cutoff(today, 10),
            c20: cutoff(today, 20),
        }
    }

    /// The rule for a card valid from day `v`, as a bound on the holder's birth day: the card
    /// has expired on this day exactly when the holder was born after the bound. `i32::MAX`:
    /// not expired whoever holds it; `i32::MIN`: expired whoever holds it (first generation).
    ///
    /// Valid from before the 5-year cutoff, a card has expired when its period is 5 years
    /// (under 16 at the start); before the 10-year cutoff, when it is 5 or 10 (under 26); before
    /// the 20-year cutoff, when it is not long-term (under 46). "Under `y` at day `v`" is "born
    /// after the same calendar day `y` years before `v`" (29 February: the 28th in a common year),
    /// the age [`age_exact`] computes.
    pub(crate) fn birth_bound(&self, v: i32) -> i32 {
        if v < SECOND_GENERATION_DAYS && self.today >= FIRST_GENERATION_INVALID_DAYS {
            return i32::MIN;
        }
        let years = if v >= self.c5 {
            return i32::MAX;
        } else if v >= self.c10 {
            16
        } else if v >= self.c20 {
            26
        } else {
            46
        };
        same_day_years_later(v, -years)
    }

    /// Whether `key` is past its validity end on this day (computed on the spot: for one-off
    /// days; a verifier keeps an [`ExpiryTable`] for today).
    pub(crate) fn is_expired(&self, key: CardKey) -> bool {
        key.birth_days_fast() > self.birth_bound(key.valid_from_days())
    }
}

/// [`ExpiryDay::birth_bound`] for every validity start a key can hold, so that the expiry check
/// of a verifier's query is one load and one comparison (the day's rule computed once, not per
/// card: the calendar arithmetic per query cost a quarter of the lookup rate). Each bound is kept
/// as the key rotated to put its birth field on top would compare with it, so a key is compared
/// without extracting its birth date (one rotation: the division code above the birth field
/// wraps to the bottom bits).
pub(crate) struct ExpiryTable {
    day: ExpiryDay,
    bound: Box<[u64; 1 << VALID_FROM_BITS]>,
}

/// Where the birth field sits in a compact card key ([`CardKey::to_u64`]).
const BIRTH_SHIFT: u32 = VALID_FROM_BITS + crate::number::SEQ_BITS;
/// Rotating a key left by this puts its birth field in the top bits.
const BIRTH_TO_TOP: u32 = 64 - BIRTH_SHIFT - crate::number::BIRTH_BITS;

impl ExpiryTable {
    /// The table of `today` (days since 1970-01-01): 512 KiB, built in about a millisecond.
    pub(crate) fn new(today: i32) -> ExpiryTable {
        let day = ExpiryDay::new(today);
        let bound: Vec<u64> = (0..1 << VALID_FROM_BITS)
            .map(|v| {
                // Born after `raw` (as a birth field): expired. The bound is the smallest
                // rotated key whose birth field is past it: 0 below the earliest birth day
                // (every holder is born after it), u64::MAX when no holder can be (a rotated
                // key of all ones would need a birth field of all ones, past 2200, and the key's
                // top bit, which is always 0).
                let raw = day.birth_bound(v) as i64 - crate::number::EARLIEST_BIRTH_DAYS as i64;
                if raw < 0 {
                    0
                } else if raw + 1 >= 1 << crate::number::BIRTH_BITS {
                    u64::MAX
                } else {
                    ((raw + 1) as u64) << (64 - crate::number::BIRTH_BITS)
                }
            })
            .collect();
        ExpiryTable {
            day,
            bound: bound
                .into_boxed_slice()
                .try_into()
                .expect("one per day count"),
        }
    }

    /// The day of the table.
    pub(crate) fn today(&self) -> i32 {
        self.day.today
    }

    /// Whether `key` is past its validity end on the table's day.
    #[inline(always)]
    pub(crate) fn is_expired(&self, key: CardKey) -> bool {
        Self::is_expired_in(&self.bound, key)
    }

    /// The table's bounds, for a thread's cached copy of the pointer.
    pub(crate) fn bounds(&self) -> &[u64; 1 << VALID_FROM_BITS] {
        &self.bound
    }

    /// [`ExpiryTable::is_expired`] given [`ExpiryTable::bounds`].
    #[inline(always)]
    pub(crate) fn is_expired_in(bounds: &[u64; 1 << VALID_FROM_BITS], key: CardKey) -> bool {
        key.0.rotate_left(BIRTH_TO_TOP) >= bounds[(key.0 & 0xffff) as usize]
    }
}

/// Day `v` moved by `years` calendar years (29 February to the 28th in a common year).
fn same_day_years_later(v: i32, years: i32) -> i32 {
    let (vy, vm, vd) = crate::civil::civil_from_days(v);
    let y = vy + years;
    let d = if vm == 2 && vd == 29 && !crate::civil::is_valid(y, 2, 29) {
        28
    } else {
        vd
    };
    crate::civil::days_from_civil(y, vm, d)
}

fn age_exact(b: i32, v: i32) -> i32 {
    let (by, bm, bd) = crate::civil::civil_from_days(b);
    let (vy, vm, vd) = crate::civil::civil_from_days(v);
    vy - by - i32::from((vm, vd) < (bm, bd))
}

/// The last day of a `years` period valid from day `v` (the same calendar day later; 29
/// February ends on 28 February in a common year).
fn end_of_period(v: i32, years: i32) -> i32 {
    same_day_years_later(v, years)
}

/// The earliest validity start whose `years` period has not ended by `today`.
fn cutoff(today: i32, years: i32) -> i32 {
    // Start near it (a period spans about 365.2425 days a year), then step to the exact day.
    let mut v = today - (years * 365 + years / 4);
    while end_of_period(v, years) >= today {
        v -= 1;
    }
    while end_of_period(v, years) < today {
        v += 1;
    }
    v
}

/// Why [`CardKey::from_days`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DaysError {
    BeforeBirth,
    OutOfRange,
}

impl fmt::Debug for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardKey({:?}, {})", self.number(), self.valid_from())
    }
}

impl serde::Serialize for CardKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            use serde::ser::SerializeStruct;
            let mut st = s.serialize_struct("CardKey", 2)?;
            st.serialize_field("number", &self.number())?;
            st.serialize_field("valid_from", &self.valid_from())?;
            st.end()
        } else {
            s.serialize_u64(self.to_u64())
        }
    }
}

impl<'de> serde::Deserialize<'de> for CardKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        if d.is_human_readable() {
            #[derive(serde::Deserialize)]
            struct Human {
                number: IdNumber,
                valid_from: NaiveDate,
            }
            let h = Human::deserialize(d)?;
            CardKey::new(h.number, h.valid_from).map_err(D::Error::custom)
        } else {
            CardKey::from_u64(u64::deserialize(d)?).map_err(D::Error::custom)
        }
    }
}

/// Validity period of a card by age at application (N5; Resident Identity Card Law art. 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidityPeriod {
    /// Under 16.
    FiveYears,
    /// 16 to 25.
    TenYears,
    /// 26 to 45.
    TwentyYears,
    /// 46 and over.
    LongTerm,
}

impl ValidityPeriod {
    /// The period for an applicant of `age` full years (N5).
    ///
    /// ```
    /// use idcard::ValidityPeriod as V;
    /// assert_eq!([15, 16, 25, 26, 45, 46].map(V::for_age),
    ///     [V::FiveYears, V::TenYears, V::TenYears, V::TwentyYears, V::TwentyYears, V::LongTerm]);
    /// ```
    pub fn for_age(age: u32) -> ValidityPeriod {
        match age {
            0..=15 => ValidityPeriod::FiveYears,
            16..=25 => ValidityPeriod::TenYears,
            26..=45 => ValidityPeriod::TwentyYears,
            _ => ValidityPeriod::LongTerm,
        }
    }

    /// The period of a card applied for by `number` on `applied_on` (N5: the age on the day of
    /// application decides). The one place the age rule is applied to a person.
    ///
    /// ```
    /// use idcard::{IdNumber, ValidityPeriod};
    /// use chrono::NaiveDate;
    /// let n: IdNumber = "11010519491231002X".parse()?;
    /// let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
    /// assert_eq!(ValidityPeriod::on_application(n, d(1965, 12, 30))?, ValidityPeriod::FiveYears);
    /// assert_eq!(ValidityPeriod::on_application(n, d(1965, 12, 31))?, ValidityPeriod::TenYears);
    /// assert!(ValidityPeriod::on_application(n, d(1949, 1, 1)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_application(
        number: IdNumber,
        applied_on: NaiveDate,
    ) -> Result<ValidityPeriod, CardError> {
        number
            .age_on(applied_on)
            .map(ValidityPeriod::for_age)
            .ok_or(CardError::AppliedBeforeBirth { applied_on })
    }

    /// Length in years; `None` for long-term.
    pub fn years(self) -> Option<u32> {
        match self {
            ValidityPeriod::FiveYears => Some(5),
            ValidityPeriod::TenYears => Some(10),
            ValidityPeriod::TwentyYears => Some(20),
            ValidityPeriod::LongTerm => None,
        }
    }

    /// The last day of validity for a card valid from `from` (the same calendar day `years`
    /// later, as printed on cards; 29 February ends on 28 February); `None` for long-term.
    pub fn valid_until(self, from: NaiveDate) -> Option<NaiveDate> {
        self.years()
            .and_then(|y| from.checked_add_months(Months::new(12 * y)))
    }
}

/// A card: its key, validity period, and whether fingerprints are registered on it (N4-N6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Card {
    key: CardKey,
    period: ValidityPeriod,
    fingerprints_registered: bool,
}

impl Card {
    /// The card issued to `number` on an application made on `applied_on`, valid from
    /// `valid_from`; the period follows the age on the application date (N5).
    pub fn issue(
        number: IdNumber,
        applied_on: NaiveDate,
        valid_from: NaiveDate,
        fingerprints_registered: bool,
    ) -> Result<Card, CardError> {
        Ok(Card {
            key: CardKey::new(number, valid_from)?,
            period: ValidityPeriod::on_application(number, applied_on)?,
            fingerprints_registered,
        })
    }

    /// A card with an explicitly given period (for records imported from elsewhere).
    pub fn from_parts(key: CardKey, period: ValidityPeriod, fingerprints_registered: bool) -> Card {
        Card {
            key,
            period,
            fingerprints_registered,
        }
    }

    /// The card's key.
    pub fn key(&self) -> CardKey {
        self.key
    }

    /// The validity period.
    pub fn period(&self) -> ValidityPeriod {
        self.period
    }

    /// Whether fingerprints are registered on the card (N6: changes the rules of A5 and L2).
    pub fn fingerprints_registered(&self) -> bool {
        self.fingerprints_registered
    }

    /// Last day of validity as printed; `None` for long-term. A first-generation card (valid
    /// from before 2004) ends on 2012-12-31 at the latest, whatever is printed.
    pub fn valid_until(&self) -> Option<NaiveDate> {
        let printed = self.period.valid_until(self.key.valid_from());
        if self.key.valid_from() < SECOND_GENERATION_FROM {
            let last = FIRST_GENERATION_INVALID_FROM
                .pred_opt()
                .expect("a day before");
            Some(printed.map_or(last, |p| p.min(last)))
        } else {
            printed
        }
    }

    /// Whether the card is within its validity period on `date`.
    pub fn is_within_validity(&self, date: NaiveDate) -> bool {
        date >= self.key.valid_from() && self.valid_until().is_none_or(|u| date <= u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// N5: the precomputed cutoffs agree with the calendar rule (the period of the age at
        /// the validity start, the same calendar day later; first generation to 2012-12-31).
        #[test]
        fn n5_expiry_cutoffs_agree_with_the_calendar(
            birth in 0i64..(200 * 365),
            start_after in 0i64..(90 * 365),
            today_after in 0i64..(100 * 365),
            seq in 0u16..1000,
        ) {
            let birth = date(1900, 1, 1) + chrono::Days::new(birth as u64);
            let n = IdNumber::from_parts(
                crate::DivisionCode::new(110105).unwrap(), birth, seq).unwrap();
            let from = (birth + chrono::Days::new(start_after as u64)).max(date(1970, 1, 1));
            let Ok(k) = CardKey::new(n, from) else { return Ok(()); };
            let today = crate::civil::from_naive(from) + today_after as i32;
            proptest::prop_assert_eq!(
                ExpiryDay::new(today).is_expired(k),
                today > k.end_days(),
                "{:?} on {}", k, crate::civil::to_naive(today)
            );
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// N5: a day's table holds the rule for every validity start, and decides as the rule
    /// does at the edges (first generation, long-term, the cutoffs).
    #[test]
    fn n5_expiry_table_is_the_rule_for_every_start() {
        for today in [
            crate::civil::days_from_civil(2012, 12, 31),
            crate::civil::days_from_civil(2013, 1, 1),
            crate::civil::days_from_civil(2024, 2, 29),
            crate::civil::days_from_civil(2026, 11, 29),
            crate::civil::days_from_civil(2100, 3, 1),
        ] {
            let day = ExpiryDay::new(today);
            let table = ExpiryTable::new(today);
            assert_eq!(table.today(), today);
            // Every start, with holders born on the bound and the day after.
            for v in 0..1i32 << VALID_FROM_BITS {
                let bound = day.birth_bound(v);
                for b in [bound, bound.saturating_add(1), v - 365 * 20, v - 1] {
                    let Some(b) = (b >= crate::number::EARLIEST_BIRTH_DAYS && b <= v)
                        .then(|| crate::civil::to_naive(b))
                    else {
                        continue;
                    };
                    // The lowest and the highest division code and sequence: the key is
                    // compared rotated, with the division in its lowest bits.
                    for (code, seq) in [(110000, 0), (999999, 999)] {
                        let code = crate::DivisionCode::new(code).unwrap();
                        let n = IdNumber::from_parts(code, b, seq).unwrap();
                        let Ok(k) = CardKey::from_days(n, v) else {
                            continue;
                        };
                        assert_eq!(table.is_expired(k), day.is_expired(k), "day {today} {k:?}");
                    }
                }
            }
        }
    }

    fn number() -> IdNumber {
        "11010519491231002X".parse().unwrap()
    }

    #[test]
    fn n5_period_by_age_at_application() {
        let n = number();
        let cases = [
            (date(1960, 1, 1), ValidityPeriod::FiveYears),     // 10
            (date(1965, 12, 30), ValidityPeriod::FiveYears),   // 15, a day before 16
            (date(1965, 12, 31), ValidityPeriod::TenYears),    // 16
            (date(1975, 12, 30), ValidityPeriod::TenYears),    // 25
            (date(1975, 12, 31), ValidityPeriod::TwentyYears), // 26
            (date(1995, 12, 30), ValidityPeriod::TwentyYears), // 45
            (date(1995, 12, 31), ValidityPeriod::LongTerm),    // 46
        ];
        for (applied, want) in cases {
            let valid_from = applied.max(VALID_FROM_EPOCH);
            let c = Card::issue(n, applied, valid_from, false).unwrap();
            assert_eq!(c.period(), want, "applied {applied}");
        }
    }

    #[test]
    fn n5_valid_until_same_day_and_long_term() {
        let n = number();
        let c = Card::issue(n, date(1970, 5, 1), date(1985, 5, 10), true).unwrap();
        assert_eq!(c.period(), ValidityPeriod::TenYears);
        assert_eq!(c.valid_until(), Some(date(1995, 5, 10)));
        assert!(c.is_within_validity(date(1995, 5, 10)));
        assert!(!c.is_within_validity(date(1995, 5, 11)));
        assert!(c.fingerprints_registered());
        let long = Card::issue(n, date(2005, 1, 1), date(2005, 1, 5), false).unwrap();
        assert_eq!(long.valid_until(), None);
        assert!(long.is_within_validity(date(2100, 1, 1)));
        // A first-generation card (before 2004), long-term as printed, ended on 2012-12-31.
        let first = Card::issue(n, date(2000, 1, 1), date(2000, 1, 5), false).unwrap();
        assert_eq!(first.period(), ValidityPeriod::LongTerm);
        assert_eq!(first.valid_until(), Some(date(2012, 12, 31)));
        assert!(!first.is_within_validity(date(2013, 1, 1)));
        assert_eq!(
            ValidityPeriod::FiveYears.valid_until(date(2000, 2, 29)),
            Some(date(2005, 2, 28))
        );
    }

    #[test]
    fn n4_card_key_checks_and_roundtrips() {
        let n = number();
        assert!(matches!(
            CardKey::new(n, date(1940, 1, 1)),
            Err(CardError::ValidFromBeforeBirth { .. })
        ));
        assert!(matches!(
            CardKey::new(n, date(1960, 1, 1)),
            Err(CardError::ValidFromOutOfRange { .. })
        ));
        let k1 = CardKey::new(n, date(2005, 6, 1)).unwrap();
        let k2 = CardKey::new(n, date(2015, 6, 1)).unwrap();
        assert_ne!(k1, k2, "two cards of one person are different cards (N4)");
        assert_ne!(k1.to_u64(), k2.to_u64());
        assert_eq!(CardKey::from_u64(k1.to_u64()).unwrap(), k1);
        assert!(k1.to_u64() < 1 << 63);
        let last = CardKey::new(n, valid_from_max()).unwrap();
        assert_eq!(CardKey::from_u64(last.to_u64()).unwrap(), last);
        assert!(CardKey::from_u64(u64::MAX).is_err());
    }
}
