//! Identity verification for agency systems: does this PID belong to a person with this name
//! and date of birth? The answer is per field and never says whether the PID exists: an
//! unknown PID is simply no match.

use motcua_db::Db;
use motcua_domain::{BirthDate, Pid};
use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Result};

pub const MAX_PURPOSE_CHARS: usize = 200;

#[derive(Debug, Clone, Deserialize)]
pub struct VerificationRequest {
    pub pid: Option<String>,
    pub full_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub purpose: Option<String>,
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct Verification {
    pub pid: Pid,
    pub full_name: String,
    pub date_of_birth: BirthDate,
    pub purpose: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FieldMatches {
    pub full_name: bool,
    pub date_of_birth: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VerificationResult {
    #[serde(rename = "match")]
    pub matched: bool,
    pub fields: FieldMatches,
}

/// Checks the purpose an agency states for reading personal data.
/// Its length is counted as sent, before surrounding spaces are trimmed, as the OpenAPI
/// document's `maxLength` counts it.
pub fn check_purpose(purpose: Option<&str>) -> std::result::Result<String, FieldError> {
    match purpose {
        Some(p) if p.chars().count() > MAX_PURPOSE_CHARS => Err(FieldError::new(
            "purpose",
            "text.too_long",
            format!("must be at most {MAX_PURPOSE_CHARS} characters"),
        )),
        Some(p) if p.chars().any(char::is_control) => Err(FieldError::new(
            "purpose",
            "text.control_char",
            "must not contain control characters",
        )),
        Some(p) if !p.trim().is_empty() => Ok(p.trim().to_owned()),
        _ => Err(FieldError::new(
            "purpose",
            "required",
            "is required: state why the data is needed",
        )),
    }
}

impl VerificationRequest {
    /// Every problem with the request, each naming its field.
    pub fn check(&self) -> std::result::Result<Verification, Vec<FieldError>> {
        let mut errors = Vec::new();
        let pid = match self.pid.as_deref() {
            None | Some("") => {
                errors.push(FieldError::new("pid", "required", "is required"));
                None
            }
            Some(p) => match Pid::parse(p) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.push(FieldError::new("pid", e.code(), e.to_string()));
                    None
                }
            },
        };
        // The length counts what was sent, as the OpenAPI document's `maxLength` does.
        let full_name = match self.full_name.as_deref() {
            None => {
                errors.push(FieldError::new("full_name", "required", "is required"));
                None
            }
            Some(n) if n.chars().count() > motcua_domain::text_limits::MAX_NAME_CHARS => {
                errors.push(FieldError::new(
                    "full_name",
                    "text.too_long",
                    format!(
                        "must be at most {} characters",
                        motcua_domain::text_limits::MAX_NAME_CHARS
                    ),
                ));
                None
            }
            Some(n) if n.trim().is_empty() => {
                errors.push(FieldError::new("full_name", "required", "is required"));
                None
            }
            Some(n) => Some(n.trim().to_owned()),
        };
        let date_of_birth = match self.date_of_birth.as_deref() {
            None | Some("") => {
                errors.push(FieldError::new("date_of_birth", "required", "is required"));
                None
            }
            Some(d) => match BirthDate::parse(d) {
                Ok(d) => Some(d),
                Err(e) => {
                    errors.push(FieldError::new("date_of_birth", e.code(), e.to_string()));
                    None
                }
            },
        };
        let purpose = check_purpose(self.purpose.as_deref())
            .map_err(|e| errors.push(e))
            .ok();
        match (pid, full_name, date_of_birth, purpose) {
            (Some(pid), Some(full_name), Some(date_of_birth), Some(purpose))
                if errors.is_empty() =>
            {
                Ok(Verification {
                    pid,
                    full_name,
                    date_of_birth,
                    purpose,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Names compare case-insensitively with whitespace collapsed, but with their diacritics:
/// "Nguyễn Văn An" and "Nguyễn Văn Ân" are different people.
pub fn normalise_name(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn verify(db: &Db, v: &Verification) -> Result<VerificationResult> {
    let row = crate::store::citizens::name_and_birth_date(db, v.pid).await?;
    let fields = match row {
        None => FieldMatches {
            full_name: false,
            date_of_birth: false,
        },
        Some((name, dob)) => FieldMatches {
            full_name: normalise_name(&name) == normalise_name(&v.full_name),
            date_of_birth: BirthDate::parse(&dob).is_ok_and(|d| d.matches(&v.date_of_birth)),
        },
    };
    Ok(VerificationResult {
        matched: fields.full_name && fields.date_of_birth,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_with_diacritics_but_not_case() {
        assert_eq!(
            normalise_name("  NGUYỄN  Văn an "),
            normalise_name("Nguyễn Văn An")
        );
        assert_ne!(
            normalise_name("Nguyễn Văn Ân"),
            normalise_name("Nguyễn Văn An")
        );
    }

    #[test]
    fn a_malformed_request_names_each_field() {
        let r = VerificationRequest {
            pid: Some("12345".into()),
            full_name: None,
            date_of_birth: Some("1995-13-01".into()),
            purpose: Some(" ".into()),
        };
        let errs = r.check().unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["pid", "full_name", "date_of_birth", "purpose"]);
    }
}
