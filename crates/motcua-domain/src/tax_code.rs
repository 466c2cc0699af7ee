//! Tax identification number (mã số thuế, MST).
//!
//! * 10 digits `N1…N10`, N10 a check digit: `N10 = 10 − (Σ Ni·Wi mod 11)` with weights
//!   `31 29 23 19 17 13 7 5 3` (CONFIRMED by several validators, attributed to Circular
//!   105/2020/TT-BTC). When the remainder is 0 the formula gives 10, which is not a digit;
//!   implementations differ, and this one treats such numbers as invalid (never issued).
//! * 13 characters `NNNNNNNNNN-NNN` for dependent units (branches): a valid 10-digit parent
//!   code and a 3-digit suffix without checksum.
//! * From 2025 an individual's tax code is their 12-digit personal identification number
//!   (REPORTED; Law on Identification 2023 era rules). That form is accepted only through
//!   the explicit [`TaxCode::from_pid`] / [`TaxCode::parse_allowing_pid`], so callers
//!   decide where a PID may stand in for a tax code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pid::{Pid, PidError};

const WEIGHTS: [u32; 9] = [31, 29, 23, 19, 17, 13, 7, 5, 3];

/// A validated tax code, stored in its canonical text form. Serialized as that text;
/// deserializing accepts all three forms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaxCode(String);

/// Which form a tax code has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaxCodeKind {
    /// 10 digits with a check digit (enterprise, organisation or individual before 2025).
    TenDigit,
    /// `NNNNNNNNNN-NNN`, a dependent unit of a 10-digit taxpayer.
    DependentUnit,
    /// A 12-digit personal identification number used as an individual's tax code.
    PersonalId,
}

/// Why a tax code was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxCodeError {
    /// Not 10 digits or `NNNNNNNNNN-NNN` (nor 12 digits where a PID is allowed).
    #[error(
        "The tax code must be 10 digits, or 10 digits, a hyphen and 3 digits for a dependent unit."
    )]
    BadFormat,
    /// The 10th digit does not match the checksum of the first nine.
    #[error("The tax code's check digit (10th digit) is wrong; please check the number.")]
    BadCheckDigit,
    /// A 12-digit value that is not a valid personal identification number.
    #[error("The 12-digit tax code is not a valid personal identification number: {0}")]
    InvalidPid(PidError),
}

impl TaxCodeError {
    /// Stable machine code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            TaxCodeError::BadFormat => "tax_code.bad_format",
            TaxCodeError::BadCheckDigit => "tax_code.bad_check_digit",
            TaxCodeError::InvalidPid(_) => "tax_code.invalid_pid",
        }
    }
}

/// The check digit for the first nine digits, or `None` when the formula yields 10.
pub fn check_digit(first_nine: &[u8; 9]) -> Option<u8> {
    let sum: u32 = first_nine
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    let digit = 10 - (sum % 11);
    u8::try_from(digit).ok().filter(|&d| d <= 9)
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn check_ten(s: &str) -> Result<(), TaxCodeError> {
    let bytes = s.as_bytes();
    if bytes.len() != 10 || !all_digits(s) {
        return Err(TaxCodeError::BadFormat);
    }
    let mut first_nine = [0u8; 9];
    for (slot, b) in first_nine.iter_mut().zip(bytes) {
        *slot = b - b'0';
    }
    match check_digit(&first_nine) {
        Some(d) if d == bytes[9] - b'0' => Ok(()),
        _ => Err(TaxCodeError::BadCheckDigit),
    }
}

impl TaxCode {
    /// Parses a 10-digit code or a 13-character dependent-unit code (nothing trimmed).
    pub fn parse(s: &str) -> Result<TaxCode, TaxCodeError> {
        match s.len() {
            10 => check_ten(s).map(|()| TaxCode(s.to_owned())),
            14 if s.as_bytes()[10] == b'-' => {
                let (parent, suffix) = (s.get(..10), s.get(11..));
                let (Some(parent), Some(suffix)) = (parent, suffix) else {
                    return Err(TaxCodeError::BadFormat);
                };
                if !all_digits(suffix) {
                    return Err(TaxCodeError::BadFormat);
                }
                check_ten(parent).map(|()| TaxCode(s.to_owned()))
            }
            _ => Err(TaxCodeError::BadFormat),
        }
    }

    /// Like [`TaxCode::parse`], but also accepts a 12-digit personal identification
    /// number as an individual's tax code (the 2025 rule, REPORTED).
    pub fn parse_allowing_pid(s: &str) -> Result<TaxCode, TaxCodeError> {
        if s.len() == 12 && all_digits(s) {
            return Pid::parse(s)
                .map(TaxCode::from_pid)
                .map_err(TaxCodeError::InvalidPid);
        }
        TaxCode::parse(s)
    }

    /// An individual's tax code that is their personal identification number.
    pub fn from_pid(pid: Pid) -> TaxCode {
        TaxCode(pid.to_string())
    }

    /// The form of this code.
    pub fn kind(&self) -> TaxCodeKind {
        match self.0.len() {
            10 => TaxCodeKind::TenDigit,
            12 => TaxCodeKind::PersonalId,
            _ => TaxCodeKind::DependentUnit,
        }
    }

    /// The 10-digit code of the parent taxpayer of a dependent unit, or of itself.
    pub fn parent(&self) -> Option<&str> {
        match self.kind() {
            TaxCodeKind::TenDigit | TaxCodeKind::DependentUnit => self.0.get(..10),
            TaxCodeKind::PersonalId => None,
        }
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TaxCode {
    type Err = TaxCodeError;

    /// Same as [`TaxCode::parse`] (PIDs are not accepted implicitly).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaxCode::parse(s)
    }
}

impl Serialize for TaxCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TaxCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        TaxCode::parse_allowing_pid(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends the computed check digit to nine digits.
    fn with_check(first_nine: &str) -> Option<String> {
        let mut digits = [0u8; 9];
        for (slot, b) in digits.iter_mut().zip(first_nine.bytes()) {
            *slot = b - b'0';
        }
        check_digit(&digits).map(|d| format!("{first_nine}{d}"))
    }

    #[test]
    fn check_digit_matches_the_formula_by_hand() {
        // 0·31 + 1·29 + 0·23 + 0·19 + 1·17 + 0·13 + 9·7 + 1·5 + 0·3 = 114;
        // 114 mod 11 = 4; 10 − 4 = 6.
        assert_eq!(with_check("010010910").as_deref(), Some("0100109106"));
        assert!(TaxCode::parse("0100109106").is_ok());
        assert_eq!(
            TaxCode::parse("0100109107"),
            Err(TaxCodeError::BadCheckDigit)
        );
    }

    #[test]
    fn remainder_zero_is_invalid() {
        // Weighted sums 0 and 31 + 29 + 23 + 19 + 5 + 3 = 110 are ≡ 0 (mod 11).
        assert_eq!(with_check("111100011"), None);
        assert_eq!(with_check("000000000"), None);
        for last in 0..=9 {
            let code = format!("000000000{last}");
            assert_eq!(
                TaxCode::parse(&code),
                Err(TaxCodeError::BadCheckDigit),
                "{code}"
            );
        }
    }

    #[test]
    fn dependent_units() {
        let code = TaxCode::parse("0100109106-001").unwrap();
        assert_eq!(code.kind(), TaxCodeKind::DependentUnit);
        assert_eq!(code.parent(), Some("0100109106"));
        assert_eq!(
            TaxCode::parse("0100109107-001"),
            Err(TaxCodeError::BadCheckDigit)
        );
        for bad in [
            "0100109106-01",
            "0100109106-0a1",
            "0100109106_001",
            "0100109106001",
        ] {
            assert_eq!(TaxCode::parse(bad), Err(TaxCodeError::BadFormat), "{bad}");
        }
    }

    #[test]
    fn formats_are_strict() {
        for bad in [
            "",
            "010010910",
            " 0100109106",
            "0100109106 ",
            "01001091O6",
            "01001091066",
        ] {
            assert!(TaxCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pid_is_accepted_only_explicitly() {
        assert_eq!(TaxCode::parse("001085000001"), Err(TaxCodeError::BadFormat));
        let code = TaxCode::parse_allowing_pid("001085000001").unwrap();
        assert_eq!(code.kind(), TaxCodeKind::PersonalId);
        assert_eq!(code.parent(), None);
        let pid = Pid::parse("001085000001").unwrap();
        assert_eq!(TaxCode::from_pid(pid), code);
        assert_eq!(
            TaxCode::parse_allowing_pid("003085000001"),
            Err(TaxCodeError::InvalidPid(PidError::UnknownProvince {
                code: 3
            }))
        );
        assert_eq!(
            TaxCode::parse_allowing_pid("0100109106").map(|c| c.kind()),
            Ok(TaxCodeKind::TenDigit)
        );
    }

    #[test]
    fn serde_round_trip() {
        let code = TaxCode::parse("0100109106-001").unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, "\"0100109106-001\"");
        assert_eq!(serde_json::from_str::<TaxCode>(&json).unwrap(), code);
        assert!(serde_json::from_str::<TaxCode>("\"0100109107\"").is_err());
    }
}
