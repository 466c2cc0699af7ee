//! The citizen record: the validated form written to storage ([`CitizenRecord`]) and the
//! read model shown to officers and agency systems ([`Citizen`]).

use chrono::NaiveDate;
use motcua_domain::generator::Relation;
use motcua_domain::social_insurance::SocialInsuranceCode;
use motcua_domain::tax_code::TaxCode;
use motcua_domain::text_limits::{self, MAX_ADDRESS_CHARS, MAX_RELIGION_CHARS};
use motcua_domain::{BirthDate, Gender, Pid, ethnicity, fold, pid, provinces};
use serde::Serialize;

use crate::error::FieldError;

/// The columns a citizen CSV may carry, in export order. The first six are required.
pub const COLUMNS: &[&str] = &[
    "pid",
    "full_name",
    "gender",
    "date_of_birth",
    "province_code",
    "household_id",
    "relation_to_head",
    "birth_province",
    "hometown_province",
    "ethnicity_code",
    "religion",
    "nationality",
    "father_pid",
    "mother_pid",
    "spouse_pid",
    "address",
    "phone",
    "email",
    "tax_code",
    "social_insurance_code",
    "status",
    "date_of_death",
];
pub const REQUIRED_COLUMNS: usize = 6;

/// The nationality recorded when none is given: Việt Nam.
pub const DEFAULT_NATIONALITY: &str = "VN";

/// A validated citizen, ready to store. `province_code` is the province of permanent
/// residence (pre-2025 code); the birth-registration province is the PID's first three digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenRecord {
    pub pid: Pid,
    pub full_name: String,
    pub name_folded: String,
    pub gender: Gender,
    pub date_of_birth: BirthDate,
    pub residence_province: Option<u16>,
    pub household_id: Option<i64>,
    pub relation_to_head: Option<Relation>,
    pub birth_province: u16,
    pub hometown_province: Option<u16>,
    pub ethnicity_code: Option<u8>,
    pub religion: Option<String>,
    pub nationality: String,
    pub father_pid: Option<Pid>,
    pub mother_pid: Option<Pid>,
    pub spouse_pid: Option<Pid>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub tax_code: Option<String>,
    pub social_insurance_code: Option<String>,
    pub deceased: bool,
    pub date_of_death: Option<NaiveDate>,
}

fn opt(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

fn province_field(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>) -> Option<u16> {
    let v = opt(value)?;
    match v.parse::<u16>() {
        Ok(code) if v.len() <= 3 && provinces::province(code).is_some() => Some(code),
        _ => {
            errors.push(FieldError::new(
                field,
                "province.unknown",
                format!("{v:?} is not a province code of the 63-province table"),
            ));
            None
        }
    }
}

fn pid_field(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>) -> Option<Pid> {
    let v = opt(value)?;
    match Pid::parse(v) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(FieldError::new(field, e.code(), e.to_string()));
            None
        }
    }
}

fn text_field(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Option<String> {
    let v = opt(value)?;
    match text_limits::check_text(v, max) {
        Ok(()) => Some(v.to_owned()),
        Err(e) => {
            errors.push(FieldError::new(field, e.code(), e.to_string()));
            None
        }
    }
}

fn unknown_ethnicity(v: &str) -> FieldError {
    FieldError::new(
        "ethnicity_code",
        "ethnicity.unknown",
        format!("{v:?} is not one of the 54 ethnic-group codes (01–54)"),
    )
}

/// An ethnic-group code: one of the 54 (1–54).
pub fn check_ethnicity_code(code: u8) -> Result<(), FieldError> {
    match ethnicity::ethnicity(code) {
        Some(_) => Ok(()),
        None => Err(unknown_ethnicity(&format!("{code:02}"))),
    }
}

/// An ethnic-group code as written in a CSV or a form: "01"–"54" (the leading zero is optional).
pub fn parse_ethnicity_code(v: &str) -> Result<u8, FieldError> {
    v.parse::<u8>()
        .ok()
        .filter(|c| check_ethnicity_code(*c).is_ok())
        .ok_or_else(|| unknown_ethnicity(v))
}

/// A nationality: a two-letter ISO 3166 country code in capitals, such as VN. Only the shape
/// is checked; there is no country table.
pub fn check_nationality(v: &str) -> Result<(), FieldError> {
    if v.len() == 2 && v.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(FieldError::new(
            "nationality",
            "nationality.invalid",
            format!("{v:?} is not a two-letter ISO 3166 country code such as VN"),
        ))
    }
}

/// Validates a citizen given as named text fields (a CSV row, a form, a JSON body).
/// `get(column)` returns the raw value or `None` when the column is absent. `today` bounds
/// dates (no births or deaths in the future). Every problem is reported, not just the first.
pub fn validate<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    today: NaiveDate,
) -> Result<CitizenRecord, Vec<FieldError>> {
    let values: [Option<&'a str>; COLUMNS.len()] = std::array::from_fn(|i| get(COLUMNS[i]));
    validate_columns(&values, today)
}

/// The position of `name` in [`COLUMNS`], computed at compile time.
pub const fn column(name: &str) -> usize {
    let mut i = 0;
    while i < COLUMNS.len() {
        let c = COLUMNS[i].as_bytes();
        let n = name.as_bytes();
        if c.len() == n.len() {
            let mut j = 0;
            while j < c.len() && c[j] == n[j] {
                j += 1;
            }
            if j == c.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("unknown column")
}

/// [`validate`] with the values already in [`COLUMNS`] order (the CSV import's fast path).
pub fn validate_columns<'a>(
    values: &[Option<&'a str>; COLUMNS.len()],
    today: NaiveDate,
) -> Result<CitizenRecord, Vec<FieldError>> {
    let mut errors = Vec::new();
    // Columns by index, fixed when compiling: looking each one up by name, for every row of an
    // import, showed in its profiles.
    let required = |errors: &mut Vec<FieldError>, k: usize| -> Option<&'a str> {
        let field = COLUMNS[k];
        let v = opt(values[k]);
        if v.is_none() {
            errors.push(FieldError::new(field, "required", "is required"));
        }
        v
    };

    let pid = required(&mut errors, const { column("pid") })
        .and_then(|v| pid_field(&mut errors, "pid", Some(v)));
    let full_name = required(&mut errors, const { column("full_name") }).and_then(|v| {
        match text_limits::check_name(v) {
            Ok(()) => Some(v.split_whitespace().collect::<Vec<_>>().join(" ")),
            Err(e) => {
                errors.push(FieldError::new("full_name", e.code(), e.to_string()));
                None
            }
        }
    });
    let gender =
        required(&mut errors, const { column("gender") }).and_then(|v| match Gender::parse(v) {
            Ok(g) => Some(g),
            Err(e) => {
                errors.push(FieldError::new("gender", e.code(), e.to_string()));
                None
            }
        });
    let date_of_birth =
        required(&mut errors, const { column("date_of_birth") }).and_then(
            |v| match BirthDate::parse(v) {
                Ok(d) if d.is_in_future(today) => {
                    errors.push(FieldError::new(
                        "date_of_birth",
                        "date.future",
                        "must not be in the future",
                    ));
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    errors.push(FieldError::new("date_of_birth", e.code(), e.to_string()));
                    None
                }
            },
        );
    let residence_province = province_field(
        &mut errors,
        "province_code",
        values[const { column("province_code") }],
    );
    let household_id =
        opt(values[const { column("household_id") }]).and_then(|v| match v.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                errors.push(FieldError::new(
                    "household_id",
                    "household_id.invalid",
                    "must be a positive whole number",
                ));
                None
            }
        });
    let relation_to_head =
        opt(values[const { column("relation_to_head") }]).and_then(|v| match Relation::parse(v) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(FieldError::new(
                    "relation_to_head",
                    "relation.unknown",
                    e.to_string(),
                ));
                None
            }
        });
    if relation_to_head.is_some() && household_id.is_none() {
        errors.push(FieldError::new(
            "relation_to_head",
            "relation.without_household",
            "is given but household_id is empty",
        ));
    }

    // The PID encodes gender, century and year of birth (Circular 07/2016/TT-BCA, Art. 7).
    if let (Some(p), Some(g), Some(d)) = (pid, gender, date_of_birth.as_ref())
        && let Err(e) = pid::check_consistency(p, g, d.year())
    {
        errors.push(FieldError::new("pid", e.code(), e.to_string()));
    }
    let birth_province = match province_field(
        &mut errors,
        "birth_province",
        values[const { column("birth_province") }],
    ) {
        Some(code) => code,
        None => pid.map(|p| p.province_code()).unwrap_or(0),
    };
    let hometown_province = province_field(
        &mut errors,
        "hometown_province",
        values[const { column("hometown_province") }],
    );
    let ethnicity_code = opt(values[const { column("ethnicity_code") }])
        .and_then(|v| parse_ethnicity_code(v).map_err(|e| errors.push(e)).ok());
    let religion = text_field(
        &mut errors,
        "religion",
        values[const { column("religion") }],
        MAX_RELIGION_CHARS,
    );
    let nationality = match opt(values[const { column("nationality") }]) {
        None => DEFAULT_NATIONALITY.to_owned(),
        Some(v) => match check_nationality(v) {
            Ok(()) => v.to_owned(),
            Err(e) => {
                errors.push(e);
                DEFAULT_NATIONALITY.to_owned()
            }
        },
    };
    let father_pid = pid_field(
        &mut errors,
        "father_pid",
        values[const { column("father_pid") }],
    );
    let mother_pid = pid_field(
        &mut errors,
        "mother_pid",
        values[const { column("mother_pid") }],
    );
    let spouse_pid = pid_field(
        &mut errors,
        "spouse_pid",
        values[const { column("spouse_pid") }],
    );
    for (field, other) in [
        ("father_pid", father_pid),
        ("mother_pid", mother_pid),
        ("spouse_pid", spouse_pid),
    ] {
        if other.is_some() && other == pid {
            errors.push(FieldError::new(
                field,
                "pid.self_link",
                "must not be the citizen's own PID",
            ));
        }
    }
    let address = text_field(
        &mut errors,
        "address",
        values[const { column("address") }],
        MAX_ADDRESS_CHARS,
    );
    let phone =
        opt(values[const { column("phone") }]).and_then(|v| match text_limits::check_phone(v) {
            Ok(()) => Some(v.to_owned()),
            Err(e) => {
                errors.push(FieldError::new("phone", e.code(), e.to_string()));
                None
            }
        });
    let email =
        opt(values[const { column("email") }]).and_then(|v| match text_limits::check_email(v) {
            Ok(()) => Some(v.to_owned()),
            Err(e) => {
                errors.push(FieldError::new("email", e.code(), e.to_string()));
                None
            }
        });
    let tax_code = opt(values[const { column("tax_code") }]).and_then(|v| {
        match TaxCode::parse_allowing_pid(v) {
            Ok(t) => Some(t.as_str().to_owned()),
            Err(e) => {
                errors.push(FieldError::new("tax_code", e.code(), e.to_string()));
                None
            }
        }
    });
    let social_insurance_code =
        opt(values[const { column("social_insurance_code") }]).and_then(|v| {
            match SocialInsuranceCode::parse(v) {
                Ok(c) => Some(c.as_str().to_owned()),
                Err(e) => {
                    errors.push(FieldError::new(
                        "social_insurance_code",
                        e.code(),
                        e.to_string(),
                    ));
                    None
                }
            }
        });
    let deceased = match opt(values[const { column("status") }]) {
        None | Some("alive") => false,
        Some("deceased") => true,
        Some(v) => {
            errors.push(FieldError::new(
                "status",
                "status.invalid",
                format!("{v:?} must be alive or deceased"),
            ));
            false
        }
    };
    let date_of_death =
        opt(values[const { column("date_of_death") }]).and_then(
            |v| match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                Ok(d) if d > today => {
                    errors.push(FieldError::new(
                        "date_of_death",
                        "date.future",
                        "must not be in the future",
                    ));
                    None
                }
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(FieldError::new(
                        "date_of_death",
                        "date.invalid",
                        format!("{v:?} is not a calendar date YYYY-MM-DD"),
                    ));
                    None
                }
            },
        );
    if date_of_death.is_some() && !deceased {
        errors.push(FieldError::new(
            "date_of_death",
            "death.status_mismatch",
            "is given but status is not deceased",
        ));
    }
    if let (Some(death), Some(birth)) = (date_of_death, date_of_birth.as_ref())
        && birth.earliest().is_some_and(|b| death < b)
    {
        errors.push(FieldError::new(
            "date_of_death",
            "death.before_birth",
            "is before the date of birth",
        ));
    }

    match (pid, full_name, gender, date_of_birth) {
        (Some(pid), Some(full_name), Some(gender), Some(date_of_birth)) if errors.is_empty() => {
            Ok(CitizenRecord {
                name_folded: fold(&full_name),
                pid,
                full_name,
                gender,
                date_of_birth,
                residence_province,
                household_id,
                relation_to_head,
                birth_province,
                hometown_province,
                ethnicity_code,
                religion,
                nationality,
                father_pid,
                mother_pid,
                spouse_pid,
                address,
                phone,
                email,
                tax_code,
                social_insurance_code,
                deceased,
                date_of_death,
            })
        }
        _ => Err(errors),
    }
}

/// A citizen as stored, for officers and agency systems. In JSON, province and ethnicity
/// codes are their official code strings (`"001"` for Hà Nội, `"01"` for Kinh), as in the
/// PID and the national tables, not numbers that lose the leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Citizen {
    pub pid: String,
    pub full_name: String,
    pub gender: String,
    pub date_of_birth: String,
    pub birth_year: i32,
    #[serde(serialize_with = "official_code::province")]
    pub birth_province: i32,
    #[serde(serialize_with = "official_code::optional_province")]
    pub hometown_province: Option<i32>,
    #[serde(serialize_with = "official_code::optional_ethnicity")]
    pub ethnicity_code: Option<i32>,
    pub religion: Option<String>,
    pub nationality: String,
    pub father_pid: Option<String>,
    pub mother_pid: Option<String>,
    pub spouse_pid: Option<String>,
    pub status: String,
    pub date_of_death: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub tax_code: Option<String>,
    pub social_insurance_code: Option<String>,
    pub household_id: Option<i64>,
    pub relation_to_head: Option<String>,
    #[serde(serialize_with = "official_code::optional_province")]
    pub residence_province: Option<i32>,
    pub residence_address: Option<String>,
    pub version: i32,
}

/// Codes written as the national tables write them: provinces with three digits, ethnic
/// groups with two.
mod official_code {
    use serde::Serializer;

    pub fn province<S: Serializer>(code: &i32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{code:03}"))
    }

    pub fn optional_province<S: Serializer>(code: &Option<i32>, s: S) -> Result<S::Ok, S::Error> {
        match code {
            Some(c) => province(c, s),
            None => s.serialize_none(),
        }
    }

    pub fn optional_ethnicity<S: Serializer>(code: &Option<i32>, s: S) -> Result<S::Ok, S::Error> {
        match code {
            Some(c) => s.serialize_str(&format!("{c:02}")),
            None => s.serialize_none(),
        }
    }
}

/// The storage row of `citizens`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CitizenRow {
    pub pid: i64,
    pub full_name: String,
    pub gender: String,
    pub date_of_birth: String,
    pub birth_year: i32,
    pub birth_province: i32,
    pub hometown_province: Option<i32>,
    pub ethnicity_code: Option<i32>,
    pub religion: Option<String>,
    pub nationality: String,
    pub father_pid: Option<i64>,
    pub mother_pid: Option<i64>,
    pub spouse_pid: Option<i64>,
    pub status: String,
    pub date_of_death: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub tax_code: Option<String>,
    pub social_insurance_code: Option<String>,
    pub household_id: Option<i64>,
    pub relation_to_head: Option<String>,
    pub residence_province: Option<i32>,
    pub residence_address: Option<String>,
    pub version: i32,
}

/// The storage row of `households`.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct HouseholdRow {
    pub id: i64,
    pub head_pid: Option<i64>,
    pub province_code: i32,
    pub address: String,
}

/// Shows a stored PID with its leading zeros.
pub fn pid_text(v: i64) -> String {
    format!("{v:012}")
}

impl From<CitizenRow> for Citizen {
    fn from(r: CitizenRow) -> Citizen {
        Citizen {
            pid: pid_text(r.pid),
            full_name: r.full_name,
            gender: r.gender,
            date_of_birth: r.date_of_birth,
            birth_year: r.birth_year,
            birth_province: r.birth_province,
            hometown_province: r.hometown_province,
            ethnicity_code: r.ethnicity_code,
            religion: r.religion,
            nationality: r.nationality,
            father_pid: r.father_pid.map(pid_text),
            mother_pid: r.mother_pid.map(pid_text),
            spouse_pid: r.spouse_pid.map(pid_text),
            status: r.status,
            date_of_death: r.date_of_death,
            phone: r.phone,
            email: r.email,
            tax_code: r.tax_code,
            social_insurance_code: r.social_insurance_code,
            household_id: r.household_id,
            relation_to_head: r.relation_to_head,
            residence_province: r.residence_province,
            residence_address: r.residence_address,
            version: r.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn row(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn check(m: &HashMap<String, String>) -> Result<CitizenRecord, Vec<FieldError>> {
        validate(|k| m.get(k).map(String::as_str), today())
    }

    fn good() -> HashMap<String, String> {
        row(&[
            ("pid", "001095012345"),
            ("full_name", "Nguyễn  Văn An"),
            ("gender", "M"),
            ("date_of_birth", "1995-03-14"),
            ("province_code", "1"),
            ("household_id", "42"),
        ])
    }

    #[test]
    fn accepts_a_good_row_and_normalises() {
        let r = check(&good()).unwrap();
        assert_eq!(r.full_name, "Nguyễn Văn An");
        assert_eq!(r.name_folded, "nguyen van an");
        assert_eq!(r.birth_province, 1);
        assert_eq!(r.residence_province, Some(1));
        assert_eq!(r.nationality, "VN");
    }

    #[test]
    fn inconsistent_pid_is_rejected_on_the_pid_field() {
        let mut m = good();
        m.insert("gender".into(), "F".into());
        let errs = check(&m).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "pid");
        let mut m = good();
        m.insert("date_of_birth".into(), "1996-03-14".into());
        assert_eq!(check(&m).unwrap_err()[0].field, "pid");
    }

    #[test]
    fn reports_every_bad_field() {
        let m = row(&[
            ("pid", "99909501234"),
            ("full_name", ""),
            ("gender", "X"),
            ("date_of_birth", "1995-02-30"),
            ("province_code", "999"),
            ("email", "not-an-email"),
        ]);
        let errs = check(&m).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "pid",
            "full_name",
            "gender",
            "date_of_birth",
            "province_code",
            "email",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn over_long_and_future_values_are_rejected() {
        let mut m = good();
        m.insert("full_name".into(), "A".repeat(101));
        assert_eq!(check(&m).unwrap_err()[0].field, "full_name");
        let mut m = good();
        m.insert("address".into(), "x".repeat(301));
        assert_eq!(check(&m).unwrap_err()[0].field, "address");
        let mut m = good();
        m.insert("pid".into(), "001227012345".into());
        m.insert("date_of_birth".into(), "2027-01-01".into());
        assert!(
            check(&m)
                .unwrap_err()
                .iter()
                .any(|e| e.code == "date.future")
        );
    }
}
