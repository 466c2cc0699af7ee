//! Sex as recorded in the national population database.
//!
//! The registry records two values ("giới tính" is part of a citizen's identity data under
//! the Law on Identification 2023); the personal identification number encodes it in digit 4
//! (Circular 07/2016/TT-BCA), so [`crate::pid`] depends on it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::fold::fold;

/// Sex of a citizen. Serialized as its code, `"M"` or `"F"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Gender {
    /// Nam.
    Male,
    /// Nữ.
    Female,
}

/// Rejected text for a sex field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The gender \"{0}\" is not recognised; use M or F (male/female, nam/nữ).")]
pub struct GenderError(pub String);

impl GenderError {
    /// Stable machine code for API errors.
    pub fn code(&self) -> &'static str {
        "gender.invalid"
    }
}

impl Gender {
    /// Both values, in the order used by forms.
    pub const ALL: [Gender; 2] = [Gender::Male, Gender::Female];

    /// Stable one-letter code: `"M"` or `"F"`.
    pub fn as_code(&self) -> &'static str {
        match self {
            Gender::Male => "M",
            Gender::Female => "F",
        }
    }

    /// Accepts `M`/`F`, `male`/`female` and `nam`/`nữ` (also `nu`) in any case, with or
    /// without diacritics and surrounding spaces.
    pub fn parse(s: &str) -> Result<Gender, GenderError> {
        match fold(s).as_str() {
            "m" | "male" | "nam" => Ok(Gender::Male),
            "f" | "female" | "nu" => Ok(Gender::Female),
            _ => Err(GenderError(s.to_owned())),
        }
    }

    /// Vietnamese label as printed on the ID card: "Nam" / "Nữ".
    pub fn label_vi(&self) -> &'static str {
        match self {
            Gender::Male => "Nam",
            Gender::Female => "Nữ",
        }
    }

    /// English label: "Male" / "Female".
    pub fn label_en(&self) -> &'static str {
        match self {
            Gender::Male => "Male",
            Gender::Female => "Female",
        }
    }
}

impl fmt::Display for Gender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_code())
    }
}

impl FromStr for Gender {
    type Err = GenderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Gender::parse(s)
    }
}

impl Serialize for Gender {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_code())
    }
}

impl<'de> Deserialize<'de> for Gender {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Gender::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_accepted_spellings() {
        for s in ["M", "m", "male", "MALE", "Nam", "NAM", " nam "] {
            assert_eq!(Gender::parse(s), Ok(Gender::Male), "{s}");
        }
        for s in ["F", "f", "Female", "nữ", "NỮ", "Nữ", "nu"] {
            assert_eq!(Gender::parse(s), Ok(Gender::Female), "{s}");
        }
    }

    #[test]
    fn rejects_other_text_with_a_clear_message() {
        for s in ["", "x", "man", "nam nu", "0"] {
            assert!(Gender::parse(s).is_err(), "{s}");
        }
        let err = Gender::parse("x").unwrap_err();
        assert!(err.to_string().contains("\"x\""));
        assert_eq!(err.code(), "gender.invalid");
    }

    #[test]
    fn codes_and_labels_round_trip() {
        for g in Gender::ALL {
            assert_eq!(Gender::parse(g.as_code()), Ok(g));
            assert_eq!(Gender::parse(g.label_vi()), Ok(g));
            assert_eq!(Gender::parse(g.label_en()), Ok(g));
        }
        assert_eq!(Gender::Female.label_vi(), "Nữ");
    }
}
