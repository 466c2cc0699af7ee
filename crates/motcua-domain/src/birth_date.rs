//! Date of birth as the population registry holds it: a full date, or only year and month,
//! or only the year.
//!
//! Older civil-status records often lack the day or month, and the population database
//! carries them over as they are (practice REPORTED; no rule text at hand). The value
//! therefore keeps its precision instead of inventing a day.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Earliest year accepted (older living people are not expected in the registry).
pub const MIN_YEAR: i32 = 1850;
/// Latest year accepted: the last one a personal identification number can encode.
pub const MAX_YEAR: i32 = 2399;

/// A date of birth known to the day, the month or only the year.
///
/// Canonical text: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`; serialized as that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BirthDate {
    /// Day, month and year known.
    Full(NaiveDate),
    /// Only year and month known.
    YearMonth {
        /// Year of birth.
        year: i32,
        /// Month of birth, 1–12.
        month: u32,
    },
    /// Only the year known.
    Year(i32),
}

/// Why a date-of-birth text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirthDateError {
    /// Not one of the three zero-padded forms.
    #[error("The date of birth must be written YYYY-MM-DD, YYYY-MM or YYYY.")]
    BadFormat,
    /// Year outside 1850–2399.
    #[error("The year of birth must be between 1850 and 2399.")]
    YearOutOfRange,
    /// Month outside 1–12.
    #[error("The month of birth must be between 01 and 12.")]
    BadMonth,
    /// Day that does not exist in that month.
    #[error("The date of birth is not a real calendar date.")]
    BadDay,
}

impl BirthDateError {
    /// Stable machine code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            BirthDateError::BadFormat => "birth_date.bad_format",
            BirthDateError::YearOutOfRange => "birth_date.year_out_of_range",
            BirthDateError::BadMonth => "birth_date.bad_month",
            BirthDateError::BadDay => "birth_date.bad_day",
        }
    }
}

fn digits(s: &str) -> Result<u32, BirthDateError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BirthDateError::BadFormat);
    }
    s.parse().map_err(|_| BirthDateError::BadFormat)
}

fn check_year(year: i32) -> Result<i32, BirthDateError> {
    if (MIN_YEAR..=MAX_YEAR).contains(&year) {
        Ok(year)
    } else {
        Err(BirthDateError::YearOutOfRange)
    }
}

fn check_month(month: u32) -> Result<u32, BirthDateError> {
    if (1..=12).contains(&month) {
        Ok(month)
    } else {
        Err(BirthDateError::BadMonth)
    }
}

impl BirthDate {
    /// Parses the canonical forms strictly: zero-padded, no spaces, real calendar dates,
    /// year 1850–2399.
    pub fn parse(s: &str) -> Result<BirthDate, BirthDateError> {
        let b = s.as_bytes();
        let year_part = s.get(..4).ok_or(BirthDateError::BadFormat)?;
        let year =
            check_year(i32::try_from(digits(year_part)?).map_err(|_| BirthDateError::BadFormat)?);
        match b.len() {
            4 => Ok(BirthDate::Year(year?)),
            7 if b[4] == b'-' => {
                let month = digits(s.get(5..7).ok_or(BirthDateError::BadFormat)?)?;
                Ok(BirthDate::YearMonth {
                    year: year?,
                    month: check_month(month)?,
                })
            }
            10 if b[4] == b'-' && b[7] == b'-' => {
                let month = digits(s.get(5..7).ok_or(BirthDateError::BadFormat)?)?;
                let day = digits(s.get(8..10).ok_or(BirthDateError::BadFormat)?)?;
                let year = year?;
                check_month(month)?;
                NaiveDate::from_ymd_opt(year, month, day)
                    .map(BirthDate::Full)
                    .ok_or(BirthDateError::BadDay)
            }
            _ => Err(BirthDateError::BadFormat),
        }
    }

    /// Builds a year-and-month value, validating both.
    pub fn year_month(year: i32, month: u32) -> Result<BirthDate, BirthDateError> {
        Ok(BirthDate::YearMonth {
            year: check_year(year)?,
            month: check_month(month)?,
        })
    }

    /// Year of birth, known in every precision.
    pub fn year(&self) -> i32 {
        match self {
            BirthDate::Full(date) => date.year(),
            BirthDate::YearMonth { year, .. } | BirthDate::Year(year) => *year,
        }
    }

    /// Month of birth, if known.
    pub fn month(&self) -> Option<u32> {
        match self {
            BirthDate::Full(date) => Some(date.month()),
            BirthDate::YearMonth { month, .. } => Some(*month),
            BirthDate::Year(_) => None,
        }
    }

    /// The full date, if the day is known.
    pub fn full_date(&self) -> Option<NaiveDate> {
        match self {
            BirthDate::Full(date) => Some(*date),
            _ => None,
        }
    }

    /// Whether two records state the same date of birth with the same precision: equality
    /// of the canonical forms ("1990" does not match "1990-05-01"), because identity
    /// matching must not guess the unknown part.
    pub fn matches(&self, other: &BirthDate) -> bool {
        self == other
    }

    /// First day the value can denote.
    pub fn earliest(&self) -> Option<NaiveDate> {
        match *self {
            BirthDate::Full(date) => Some(date),
            BirthDate::YearMonth { year, month } => NaiveDate::from_ymd_opt(year, month, 1),
            BirthDate::Year(year) => NaiveDate::from_ymd_opt(year, 1, 1),
        }
    }

    /// Age in completed years on `on`, only when the full date is known; `None` before
    /// birth. Birthdays follow [`anniversary`]: a 29 February birthday is reached on
    /// 28 February in common years.
    pub fn age_on(&self, on: NaiveDate) -> Option<u32> {
        let BirthDate::Full(born) = *self else {
            return None;
        };
        if on < born {
            return None;
        }
        let mut age = u32::try_from(on.year() - born.year()).ok()?;
        if anniversary(born, age).is_some_and(|birthday| on < birthday) {
            age -= 1;
        }
        Some(age)
    }

    /// True when every day the value can denote is after `on`; the caller passes the
    /// current date (this crate never reads the clock).
    pub fn is_in_future(&self, on: NaiveDate) -> bool {
        self.earliest().is_some_and(|first| first > on)
    }
}

/// The date `years` years after `date`, e.g. the birthday at a given age.
///
/// When that year has no 29 February, the anniversary of a 29 February is 28 February:
/// a period counted in months or years ends on the last day of the month when the month
/// has no corresponding day (Civil Code 2015, Art. 148 — applied here by analogy to ages;
/// our reading, UNCONFIRMED for ages specifically). `None` only past chrono's date range.
pub fn anniversary(date: NaiveDate, years: u32) -> Option<NaiveDate> {
    let year = date.year().checked_add(i32::try_from(years).ok()?)?;
    NaiveDate::from_ymd_opt(year, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, date.month(), 28))
}

impl BirthDate {
    /// Appends the form [`fmt::Display`] writes, digit by digit: a bulk import writes a million
    /// of these, and the formatting machinery was most of the cost.
    pub fn push_iso(&self, out: &mut String) {
        let (year, month, day) = match *self {
            BirthDate::Full(date) => (date.year(), Some(date.month()), Some(date.day())),
            BirthDate::YearMonth { year, month } => (year, Some(month), None),
            BirthDate::Year(year) => (year, None, None),
        };
        let Ok(year @ 0..=9999) = u32::try_from(year) else {
            use fmt::Write as _;
            let _ = write!(out, "{self}");
            return;
        };
        push_digits(out, year, 4);
        for part in [month, day].into_iter().flatten() {
            out.push('-');
            push_digits(out, part, 2);
        }
    }
}

/// Appends the last `width` decimal digits of `n`, zero-padded.
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (n / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BirthDate::Full(date) => write!(
                f,
                "{:04}-{:02}-{:02}",
                date.year(),
                date.month(),
                date.day()
            ),
            BirthDate::YearMonth { year, month } => write!(f, "{year:04}-{month:02}"),
            BirthDate::Year(year) => write!(f, "{year:04}"),
        }
    }
}

impl FromStr for BirthDate {
    type Err = BirthDateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BirthDate::parse(s)
    }
}

impl From<NaiveDate> for BirthDate {
    fn from(date: NaiveDate) -> Self {
        BirthDate::Full(date)
    }
}

impl Serialize for BirthDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BirthDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        BirthDate::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_iso_writes_what_display_writes() {
        let dates = [
            BirthDate::Full(date(1976, 4, 14)),
            BirthDate::Full(date(2001, 12, 1)),
            BirthDate::YearMonth {
                year: 1850,
                month: 9,
            },
            BirthDate::Year(2399),
        ];
        for d in dates {
            let mut out = String::from("x");
            d.push_iso(&mut out);
            assert_eq!(out, format!("x{d}"));
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parses_the_three_forms_and_displays_them_back() {
        for text in [
            "1990-05-17",
            "1990-05",
            "1990",
            "1850",
            "2399-12-31",
            "2000-02-29",
        ] {
            let parsed = BirthDate::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(
            BirthDate::parse("1990-05-17"),
            Ok(BirthDate::Full(date(1990, 5, 17)))
        );
        assert_eq!(
            BirthDate::parse("1990-05"),
            Ok(BirthDate::YearMonth {
                year: 1990,
                month: 5
            })
        );
        assert_eq!(BirthDate::parse("1990"), Ok(BirthDate::Year(1990)));
    }

    #[test]
    fn rejects_loose_or_impossible_input() {
        use BirthDateError::*;
        let cases = [
            ("1990-5-17", BadFormat),
            ("1990-05-7", BadFormat),
            (" 1990", BadFormat),
            ("1990 ", BadFormat),
            ("90", BadFormat),
            ("", BadFormat),
            ("1990/05/17", BadFormat),
            ("+990-05", BadFormat),
            ("1990-0a", BadFormat),
            ("1849", YearOutOfRange),
            ("2400-01-01", YearOutOfRange),
            ("1990-13", BadMonth),
            ("1990-00-10", BadMonth),
            ("1990-02-29", BadDay),
            ("1990-04-31", BadDay),
            ("1990-04-00", BadDay),
            ("1990-05-17T00", BadFormat),
            ("Năm1", BadFormat),
        ];
        for (text, expected) in cases {
            assert_eq!(BirthDate::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn matches_is_exact_canonical_equality() {
        let full = BirthDate::parse("1990-05-17").unwrap();
        assert!(full.matches(&BirthDate::parse("1990-05-17").unwrap()));
        assert!(!full.matches(&BirthDate::parse("1990-05").unwrap()));
        assert!(!BirthDate::Year(1990).matches(&full));
        assert_eq!(full.year(), 1990);
        assert_eq!(BirthDate::Year(1990).month(), None);
    }

    #[test]
    fn age_only_for_full_dates_and_counts_completed_years() {
        let born = BirthDate::Full(date(2000, 6, 15));
        assert_eq!(born.age_on(date(2025, 6, 14)), Some(24));
        assert_eq!(born.age_on(date(2025, 6, 15)), Some(25));
        assert_eq!(born.age_on(date(2000, 6, 15)), Some(0));
        assert_eq!(born.age_on(date(2000, 6, 14)), None);
        assert_eq!(BirthDate::Year(2000).age_on(date(2025, 1, 1)), None);
        let leap = BirthDate::Full(date(2004, 2, 29));
        assert_eq!(leap.age_on(date(2005, 2, 27)), Some(0));
        assert_eq!(leap.age_on(date(2005, 2, 28)), Some(1));
        assert_eq!(leap.age_on(date(2008, 2, 28)), Some(3));
        assert_eq!(leap.age_on(date(2008, 2, 29)), Some(4));
    }

    #[test]
    fn anniversary_of_29_february_falls_on_28_february_in_common_years() {
        assert_eq!(anniversary(date(2004, 2, 29), 1), Some(date(2005, 2, 28)));
        assert_eq!(anniversary(date(2004, 2, 29), 4), Some(date(2008, 2, 29)));
        assert_eq!(
            anniversary(date(1990, 12, 31), 25),
            Some(date(2015, 12, 31))
        );
    }

    #[test]
    fn future_means_entirely_after_the_given_day() {
        let today = date(2025, 7, 10);
        assert!(!BirthDate::Full(today).is_in_future(today));
        assert!(BirthDate::Full(date(2025, 7, 11)).is_in_future(today));
        assert!(
            !BirthDate::YearMonth {
                year: 2025,
                month: 7
            }
            .is_in_future(today)
        );
        assert!(
            BirthDate::YearMonth {
                year: 2025,
                month: 8
            }
            .is_in_future(today)
        );
        assert!(!BirthDate::Year(2025).is_in_future(today));
        assert!(BirthDate::Year(2026).is_in_future(today));
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        let value = BirthDate::YearMonth {
            year: 1961,
            month: 3,
        };
        assert_eq!(serde_json::to_string(&value).unwrap(), "\"1961-03\"");
        assert_eq!(
            serde_json::from_str::<BirthDate>("\"1961-03\"").unwrap(),
            value
        );
        assert!(serde_json::from_str::<BirthDate>("\"1961-3\"").is_err());
    }
}
