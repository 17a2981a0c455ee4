//! Time in China: the one place that turns an instant into a date in China Standard Time
//! (UTC+8, no daylight saving), and the injectable [`Clock`] the engine stamps records with and
//! the rules read dates from (ages, deadlines). Tests and the demo use a [`ManualClock`].
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use idcard::time::{china_date, end_of_china_day};
//! // 17:00 UTC on 31 December is already 1 January in Beijing.
//! let t = Utc.with_ymd_and_hms(2025, 12, 31, 17, 0, 0).unwrap();
//! assert_eq!(china_date(t).to_string(), "2026-01-01");
//! // The last millisecond of that day, in UTC.
//! assert_eq!(end_of_china_day(china_date(t)).to_rfc3339(), "2026-01-01T15:59:59.999+00:00");
//! ```

use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};

/// China Standard Time's offset from UTC.
const CHINA_OFFSET: chrono::Duration = chrono::Duration::hours(8);

/// The date in China at instant `t`.
pub fn china_date(t: DateTime<Utc>) -> NaiveDate {
    (t + CHINA_OFFSET).date_naive()
}

/// Today's date in China, by the system clock (the "today" of birth-date checks and of
/// verifiers that are not given a date).
pub fn china_today() -> NaiveDate {
    china_date(Utc::now())
}

/// The last millisecond of `date` in China, as a UTC instant.
pub fn end_of_china_day(date: NaiveDate) -> DateTime<Utc> {
    let next_midnight = (date + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists");
    next_midnight.and_utc() - CHINA_OFFSET - chrono::Duration::milliseconds(1)
}

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in China.
    fn china_today(&self) -> NaiveDate {
        china_date(self.now())
    }
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to (never backwards).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(t))
    }

    /// Move to `t` (ignored if `t` is earlier than now).
    pub fn set(&self, t: DateTime<Utc>) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if t > *now {
            *now = t;
        }
    }

    /// Move forward.
    pub fn advance(&self, d: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn china_day_boundaries() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        let end = end_of_china_day(d);
        assert_eq!(china_date(end), d);
        assert_eq!(
            china_date(end + chrono::Duration::milliseconds(1)),
            d.succ_opt().unwrap()
        );
        let t = Utc.with_ymd_and_hms(2026, 1, 14, 16, 0, 0).unwrap();
        assert_eq!(
            china_date(t),
            d,
            "midnight in Beijing is 16:00 UTC the day before"
        );
    }
}
