//! Social-insurance code (mã số BHXH), one per person for life, printed on the health
//! insurance card and used to log in to Vietnam Social Security services.
//!
//! Only the length is known: exactly 10 digits (CONFIRMED as the rule many applications
//! apply). The internal structure (province or year digits, any check digit) is
//! UNCONFIRMED, so nothing beyond the 10 digits is checked.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 10-digit social-insurance code. Serialized as its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocialInsuranceCode(String);

/// Why a social-insurance code was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The social-insurance code must be exactly 10 digits.")]
pub struct SocialInsuranceCodeError;

impl SocialInsuranceCodeError {
    /// Stable machine code for API errors.
    pub fn code(&self) -> &'static str {
        "social_insurance.bad_format"
    }
}

impl SocialInsuranceCode {
    /// Accepts exactly 10 ASCII digits; nothing is trimmed.
    pub fn parse(s: &str) -> Result<SocialInsuranceCode, SocialInsuranceCodeError> {
        if s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(SocialInsuranceCode(s.to_owned()))
        } else {
            Err(SocialInsuranceCodeError)
        }
    }

    /// The 10 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SocialInsuranceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SocialInsuranceCode {
    type Err = SocialInsuranceCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SocialInsuranceCode::parse(s)
    }
}

impl Serialize for SocialInsuranceCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SocialInsuranceCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        SocialInsuranceCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_ten_digits() {
        assert_eq!(
            SocialInsuranceCode::parse("0123456789")
                .map(|c| c.to_string())
                .as_deref(),
            Ok("0123456789")
        );
        for bad in [
            "",
            "012345678",
            "01234567890",
            " 123456789",
            "012345678a",
            "０123456789",
        ] {
            assert_eq!(
                SocialInsuranceCode::parse(bad),
                Err(SocialInsuranceCodeError),
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<SocialInsuranceCode>("\"12345\"").is_err());
    }
}
