//! The 12-digit personal identification number (số định danh cá nhân), printed on the
//! citizen ID card and used as the key of the national population database.
//!
//! Structure `PPP G YY RRRRRR` (Circular 07/2016/TT-BCA; the number remains the citizen's
//! identifier under the Law on Identification 2023):
//! * `PPP` — code of the province where the birth was registered (63-code table of
//!   [`crate::provinces`]);
//! * `G` — sex and century of birth: even = male, odd = female; 0/1 = 1900s, 2/3 = 2000s,
//!   4/5 = 2100s, 6/7 = 2200s, 8/9 = 2300s;
//! * `YY` — last two digits of the year of birth;
//! * `RRRRRR` — a random sequence. There is no check digit.
//!
//! Numbers issued to people whose birth was registered abroad use a country code in
//! `PPP`; that scheme is UNCONFIRMED, so such numbers are rejected as unknown provinces.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::gender::Gender;
use crate::provinces;

/// Largest value a 12-digit number can hold.
const MAX_VALUE: u64 = 999_999_999_999;
/// Number of distinct serials `RRRRRR`.
pub const SERIAL_LIMIT: u32 = 1_000_000;
/// First birth year the gender/century digit can express.
pub const MIN_BIRTH_YEAR: i32 = 1900;
/// Last birth year the gender/century digit can express.
pub const MAX_BIRTH_YEAR: i32 = 2399;

/// A valid personal identification number. Serialized as its 12-digit string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(u64);

/// Why a personal identification number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PidError {
    /// Not exactly 12 characters.
    #[error(
        "The personal identification number must be exactly 12 digits; {len} characters were given."
    )]
    WrongLength {
        /// Number of characters received.
        len: usize,
    },
    /// A character other than an ASCII digit (including spaces and signs).
    #[error("The personal identification number must contain only the digits 0-9.")]
    NotDigits,
    /// Digits 1–3 are not one of the 63 province codes.
    #[error(
        "The personal identification number starts with {code:03}, which is not a known province code."
    )]
    UnknownProvince {
        /// The 3-digit code found.
        code: u16,
    },
    /// Digit 4 says male but the person is female, or the reverse.
    #[error(
        "The gender digit (4th) of the personal identification number does not match the stated gender."
    )]
    GenderMismatch,
    /// Digit 4 encodes another century than the stated year of birth.
    #[error(
        "The century digit (4th) of the personal identification number does not match the stated year of birth."
    )]
    CenturyMismatch,
    /// Digits 5–6 differ from the last two digits of the stated year of birth.
    #[error(
        "Digits 5-6 of the personal identification number do not match the stated year of birth."
    )]
    YearMismatch,
    /// A serial of 1,000,000 or more was asked for.
    #[error("The serial part of a personal identification number must be below 1000000.")]
    SerialOutOfRange,
    /// A year of birth outside 1900–2399, which the number cannot encode.
    #[error(
        "The year of birth must be between 1900 and 2399 to be encoded in a personal identification number."
    )]
    YearOutOfRange,
}

impl PidError {
    /// Stable machine code for API errors, e.g. `"pid.wrong_length"`.
    pub fn code(&self) -> &'static str {
        match self {
            PidError::WrongLength { .. } => "pid.wrong_length",
            PidError::NotDigits => "pid.not_digits",
            PidError::UnknownProvince { .. } => "pid.unknown_province",
            PidError::GenderMismatch => "pid.gender_mismatch",
            PidError::CenturyMismatch => "pid.century_mismatch",
            PidError::YearMismatch => "pid.year_mismatch",
            PidError::SerialOutOfRange => "pid.serial_out_of_range",
            PidError::YearOutOfRange => "pid.year_out_of_range",
        }
    }
}

/// Digit 4 for a sex and year of birth, or `None` outside 1900–2399.
fn gender_century_digit(gender: Gender, birth_year: i32) -> Option<u8> {
    if !(MIN_BIRTH_YEAR..=MAX_BIRTH_YEAR).contains(&birth_year) {
        return None;
    }
    let century_index = u8::try_from((birth_year - MIN_BIRTH_YEAR) / 100).ok()?;
    Some(century_index * 2 + u8::from(gender == Gender::Female))
}

impl Pid {
    /// Parses exactly 12 ASCII digits (nothing is trimmed) and checks the province code.
    pub fn parse(s: &str) -> Result<Pid, PidError> {
        let bytes = s.as_bytes();
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(PidError::NotDigits);
        }
        if bytes.len() != 12 {
            return Err(PidError::WrongLength {
                len: s.chars().count(),
            });
        }
        let value = bytes
            .iter()
            .fold(0u64, |acc, &b| acc * 10 + u64::from(b - b'0'));
        Pid::from_value(value)
    }

    fn from_value(value: u64) -> Result<Pid, PidError> {
        if value > MAX_VALUE {
            return Err(PidError::WrongLength { len: 13 });
        }
        let pid = Pid(value);
        let code = pid.province_code();
        if provinces::province(code).is_none() {
            return Err(PidError::UnknownProvince { code });
        }
        Ok(pid)
    }

    /// Builds a number from its parts; the gender/century digit is derived from `gender`
    /// and `birth_year`.
    pub fn compose(
        province_code: u16,
        gender: Gender,
        birth_year: i32,
        serial: u32,
    ) -> Result<Pid, PidError> {
        if serial >= SERIAL_LIMIT {
            return Err(PidError::SerialOutOfRange);
        }
        let digit = gender_century_digit(gender, birth_year).ok_or(PidError::YearOutOfRange)?;
        if provinces::province(province_code).is_none() {
            return Err(PidError::UnknownProvince {
                code: province_code,
            });
        }
        let yy = u64::try_from(birth_year.rem_euclid(100)).unwrap_or(0);
        let value = u64::from(province_code) * 1_000_000_000
            + u64::from(digit) * 100_000_000
            + yy * 1_000_000
            + u64::from(serial);
        Ok(Pid(value))
    }

    /// The number as a signed integer, for databases without unsigned 64-bit columns.
    pub fn as_i64(&self) -> i64 {
        // At most 999_999_999_999, far below i64::MAX.
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// Inverse of [`Pid::as_i64`]; re-validates, since the integer may come from storage.
    pub fn from_i64(value: i64) -> Result<Pid, PidError> {
        let value = u64::try_from(value).map_err(|_| PidError::NotDigits)?;
        Pid::from_value(value)
    }

    /// Digits 1–3: province where the birth was registered.
    pub fn province_code(&self) -> u16 {
        // Below 1000 because the value has at most 12 digits.
        u16::try_from(self.0 / 1_000_000_000).unwrap_or(u16::MAX)
    }

    /// Digit 4 (0–9).
    pub fn gender_century_digit(&self) -> u8 {
        ((self.0 / 100_000_000) % 10) as u8
    }

    /// Sex encoded in digit 4 (even = male).
    pub fn gender(&self) -> Gender {
        if self.gender_century_digit().is_multiple_of(2) {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// Year of birth: century from digit 4 plus digits 5–6.
    pub fn birth_year(&self) -> i32 {
        let century = i32::from(self.gender_century_digit() / 2);
        let yy = ((self.0 / 1_000_000) % 100) as i32;
        MIN_BIRTH_YEAR + century * 100 + yy
    }

    /// Digits 7–12.
    pub fn serial(&self) -> u32 {
        (self.0 % 1_000_000) as u32
    }
}

/// Checks that the number agrees with a person's stated sex and year of birth, as the
/// registry must before accepting a record (structure per Circular 07/2016/TT-BCA).
///
/// Reports, in this order: [`PidError::YearOutOfRange`], [`PidError::GenderMismatch`],
/// [`PidError::CenturyMismatch`], [`PidError::YearMismatch`].
pub fn check_consistency(pid: Pid, gender: Gender, birth_year: i32) -> Result<(), PidError> {
    let expected = gender_century_digit(gender, birth_year).ok_or(PidError::YearOutOfRange)?;
    let actual = pid.gender_century_digit();
    if pid.gender() != gender {
        return Err(PidError::GenderMismatch);
    }
    if actual != expected {
        return Err(PidError::CenturyMismatch);
    }
    if pid.birth_year() != birth_year {
        return Err(PidError::YearMismatch);
    }
    Ok(())
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

impl FromStr for Pid {
    type Err = PidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pid::parse(s)
    }
}

impl Serialize for Pid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Pid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Pid::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes_the_parts() {
        let pid = Pid::parse("079303001234").unwrap();
        assert_eq!(pid.province_code(), 79);
        assert_eq!(pid.gender(), Gender::Female);
        assert_eq!(pid.birth_year(), 2003);
        assert_eq!(pid.serial(), 1234);
        assert_eq!(pid.to_string(), "079303001234");
        assert_eq!(
            Pid::parse("079203001234").map(|p| p.gender()),
            Ok(Gender::Male)
        );

        let pid = Pid::parse("001085999999").unwrap();
        assert_eq!((pid.gender(), pid.birth_year()), (Gender::Male, 1985));
        let pid = Pid::parse("096999000000").unwrap();
        assert_eq!((pid.gender(), pid.birth_year()), (Gender::Female, 2399));
    }

    #[test]
    fn rejects_wrong_length_and_non_digits_without_trimming() {
        assert_eq!(
            Pid::parse("07920300123"),
            Err(PidError::WrongLength { len: 11 })
        );
        assert_eq!(
            Pid::parse("0792030012345"),
            Err(PidError::WrongLength { len: 13 })
        );
        assert_eq!(Pid::parse(""), Err(PidError::WrongLength { len: 0 }));
        assert_eq!(Pid::parse(" 079203001234"), Err(PidError::NotDigits));
        assert_eq!(Pid::parse("079203001234 "), Err(PidError::NotDigits));
        assert_eq!(Pid::parse("07920300123a"), Err(PidError::NotDigits));
        assert_eq!(Pid::parse("+79203001234"), Err(PidError::NotDigits));
        assert_eq!(Pid::parse("０79203001234"), Err(PidError::NotDigits));
    }

    #[test]
    fn rejects_unknown_province_codes() {
        for code in ["000", "003", "097", "100", "999"] {
            let s = format!("{code}085000001");
            assert!(
                matches!(Pid::parse(&s), Err(PidError::UnknownProvince { .. })),
                "{s}"
            );
        }
        let err = Pid::parse("003085000001").unwrap_err();
        assert_eq!(err, PidError::UnknownProvince { code: 3 });
        assert!(err.to_string().contains("003"));
    }

    #[test]
    fn compose_round_trips_and_validates() {
        let pid = Pid::compose(1, Gender::Male, 1990, 42).unwrap();
        assert_eq!(pid.to_string(), "001090000042");
        let pid = Pid::compose(96, Gender::Female, 2024, 999_999).unwrap();
        assert_eq!(pid.to_string(), "096324999999");
        assert_eq!(Pid::parse(&pid.to_string()), Ok(pid));
        let pid = Pid::compose(31, Gender::Female, 2150, 7).unwrap();
        assert_eq!(pid.gender_century_digit(), 5);
        assert_eq!(pid.birth_year(), 2150);

        assert_eq!(
            Pid::compose(1, Gender::Male, 1990, 1_000_000),
            Err(PidError::SerialOutOfRange)
        );
        assert_eq!(
            Pid::compose(1, Gender::Male, 1899, 1),
            Err(PidError::YearOutOfRange)
        );
        assert_eq!(
            Pid::compose(1, Gender::Male, 2400, 1),
            Err(PidError::YearOutOfRange)
        );
        assert_eq!(
            Pid::compose(3, Gender::Male, 1990, 1),
            Err(PidError::UnknownProvince { code: 3 })
        );
    }

    #[test]
    fn every_century_digit_decodes() {
        for year in [1900, 1999, 2000, 2099, 2100, 2250, 2399] {
            for gender in Gender::ALL {
                let pid = Pid::compose(48, gender, year, 5).unwrap();
                assert_eq!((pid.gender(), pid.birth_year()), (gender, year));
                assert_eq!(check_consistency(pid, gender, year), Ok(()));
            }
        }
    }

    #[test]
    fn i64_round_trip_revalidates() {
        let pid = Pid::parse("079203001234").unwrap();
        assert_eq!(pid.as_i64(), 79_203_001_234);
        assert_eq!(Pid::from_i64(pid.as_i64()), Ok(pid));
        assert_eq!(Pid::from_i64(-1), Err(PidError::NotDigits));
        assert_eq!(
            Pid::from_i64(1_000_000_000_000),
            Err(PidError::WrongLength { len: 13 })
        );
        assert_eq!(
            Pid::from_i64(3_085_000_001),
            Err(PidError::UnknownProvince { code: 3 })
        );
    }

    #[test]
    fn consistency_reports_each_kind_of_mismatch() {
        let pid = Pid::parse("001085000001").unwrap(); // male, 1985
        assert_eq!(check_consistency(pid, Gender::Male, 1985), Ok(()));
        assert_eq!(
            check_consistency(pid, Gender::Female, 1985),
            Err(PidError::GenderMismatch)
        );
        assert_eq!(
            check_consistency(pid, Gender::Male, 2085),
            Err(PidError::CenturyMismatch)
        );
        assert_eq!(
            check_consistency(pid, Gender::Male, 1986),
            Err(PidError::YearMismatch)
        );
        assert_eq!(
            check_consistency(pid, Gender::Male, 1850),
            Err(PidError::YearOutOfRange)
        );
    }

    #[test]
    fn error_codes_are_stable_and_messages_name_the_field() {
        let errors = [
            PidError::WrongLength { len: 3 },
            PidError::NotDigits,
            PidError::UnknownProvince { code: 3 },
            PidError::GenderMismatch,
            PidError::CenturyMismatch,
            PidError::YearMismatch,
            PidError::SerialOutOfRange,
            PidError::YearOutOfRange,
        ];
        let codes: std::collections::HashSet<_> = errors.iter().map(PidError::code).collect();
        assert_eq!(codes.len(), errors.len());
        assert_eq!(PidError::WrongLength { len: 3 }.code(), "pid.wrong_length");
        for e in &errors {
            let message = e.to_string();
            assert!(message.ends_with('.'), "{message}");
            assert!(message.contains("identification number") || message.contains("year of birth"));
        }
    }

    #[test]
    fn serde_uses_the_twelve_digit_string() {
        let pid = Pid::parse("001085000001").unwrap();
        assert_eq!(serde_json::to_string(&pid).unwrap(), "\"001085000001\"");
        assert_eq!(
            serde_json::from_str::<Pid>("\"001085000001\"").unwrap(),
            pid
        );
        assert!(serde_json::from_str::<Pid>("\"1085000001\"").is_err());
        assert!(serde_json::from_str::<Pid>("1085000001").is_err());
    }
}
