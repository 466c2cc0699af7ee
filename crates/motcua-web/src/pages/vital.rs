//! Officer pages for vital events: registering a birth (a new PID) and a death (the record is
//! closed). The rules live in `motcua_registry::vital`; these pages parse the forms.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use motcua_domain::{Gender, Pid, ethnicity};
use motcua_registry::citizens::Change;
use motcua_registry::record::{self, DEFAULT_NATIONALITY};
use motcua_registry::vital::{self, BirthRegistration};
use motcua_registry::{FieldError, RegistryError};
use serde::Deserialize;

use super::{Chrome, render};
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::kit::CsrfForm;

/// Today in Vietnam (UTC+7): births and deaths may not be dated after it.
fn today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Deserialize, Default, Clone)]
pub struct BirthForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    gender: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    registration_province: String,
    #[serde(default)]
    ethnicity_code: String,
    #[serde(default)]
    nationality: String,
    #[serde(default)]
    father_pid: String,
    #[serde(default)]
    mother_pid: String,
    #[serde(default)]
    household_id: String,
    #[serde(default)]
    reason: String,
}

#[derive(Template)]
#[template(path = "birth.html")]
struct BirthPage {
    c: Chrome,
    errors: Vec<(String, String)>,
    f: BirthForm,
    provinces: Vec<(String, String, bool)>,
    ethnicities: Vec<(String, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "birth_done.html")]
struct BirthDone {
    c: Chrome,
    pid: String,
    reason_q: String,
}

fn birth_page(
    ctx: &Ctx,
    status: StatusCode,
    f: BirthForm,
    errors: Vec<(String, String)>,
) -> Response {
    let chosen: u16 = f.registration_province.parse().unwrap_or(1);
    let provinces = motcua_domain::provinces::provinces()
        .iter()
        .map(|p| (p.code.to_string(), p.name.to_owned(), p.code == chosen))
        .collect();
    let chosen: u8 = f.ethnicity_code.trim().parse().unwrap_or(ethnicity::KINH);
    let ethnicities = ethnicity::ethnicities()
        .iter()
        .map(|e| (format!("{:02}", e.code), e.name, e.code == chosen))
        .collect();
    render(
        status,
        &BirthPage {
            c: Chrome::new(ctx, "birth.title"),
            errors,
            f,
            provinces,
            ethnicities,
        },
    )
}

pub async fn birth_form(Staff(ctx, _): Staff) -> Response {
    let f = BirthForm {
        ethnicity_code: format!("{:02}", ethnicity::KINH),
        nationality: DEFAULT_NATIONALITY.to_owned(),
        ..BirthForm::default()
    };
    birth_page(&ctx, StatusCode::OK, f, Vec::new())
}

fn required(ctx: &Ctx, errors: &mut Vec<FieldError>, field: &str, value: &str) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            ctx.t().get("error.required"),
        ));
    }
}

fn optional_pid(errors: &mut Vec<FieldError>, field: &str, value: &str) -> Option<Pid> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    Pid::parse(v)
        .map_err(|e| errors.push(FieldError::new(field, e.code(), e.to_string())))
        .ok()
}

fn reason_ok(ctx: &Ctx, errors: &mut Vec<FieldError>, reason: &str) {
    required(ctx, errors, "reason", reason);
    if reason.chars().count() > 200 || reason.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "reason",
            "text.invalid",
            "must be at most 200 characters, without control characters",
        ));
    }
}

fn as_pairs(errors: Vec<FieldError>) -> Vec<(String, String)> {
    errors
        .into_iter()
        .map(|e| (e.field.clone(), e.to_string()))
        .collect()
}

pub async fn register_birth(
    State(state): State<AppState>,
    CsrfForm {
        ctx,
        session: s,
        form: f,
        ..
    }: CsrfForm<BirthForm>,
) -> Response {
    let mut errors = Vec::new();
    required(&ctx, &mut errors, "full_name", &f.full_name);
    let gender = Gender::parse(&f.gender)
        .map_err(|e| errors.push(FieldError::new("gender", e.code(), e.to_string())))
        .ok();
    let date = NaiveDate::parse_from_str(f.date_of_birth.trim(), "%Y-%m-%d")
        .map_err(|_| {
            errors.push(FieldError::new(
                "date_of_birth",
                "date.invalid",
                "is not a calendar date YYYY-MM-DD",
            ))
        })
        .ok();
    let province = f
        .registration_province
        .parse::<u16>()
        .map_err(|_| {
            errors.push(FieldError::new(
                "registration_province",
                "province.unknown",
                "choose a province",
            ))
        })
        .ok();
    // Both are chosen on the form (Kinh and VN preselected), so an empty value is an omission
    // rather than "unknown".
    required(&ctx, &mut errors, "ethnicity_code", &f.ethnicity_code);
    let ethnicity_code = Some(f.ethnicity_code.trim())
        .filter(|v| !v.is_empty())
        .and_then(|v| {
            record::parse_ethnicity_code(v)
                .map_err(|e| errors.push(e))
                .ok()
        });
    required(&ctx, &mut errors, "nationality", &f.nationality);
    let nationality = Some(f.nationality.trim())
        .filter(|v| !v.is_empty())
        .and_then(|v| {
            record::check_nationality(v)
                .map(|()| v.to_owned())
                .map_err(|e| errors.push(e))
                .ok()
        });
    let father_pid = optional_pid(&mut errors, "father_pid", &f.father_pid);
    let mother_pid = optional_pid(&mut errors, "mother_pid", &f.mother_pid);
    let household_id = match f.household_id.trim() {
        "" => None,
        v => v.parse::<i64>().ok().filter(|n| *n > 0).or_else(|| {
            errors.push(FieldError::new(
                "household_id",
                "household_id.invalid",
                "must be a positive whole number",
            ));
            None
        }),
    };
    reason_ok(&ctx, &mut errors, &f.reason);
    let (Some(gender), Some(date_of_birth), Some(registration_province)) = (gender, date, province)
    else {
        return birth_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, f, as_pairs(errors));
    };
    if !errors.is_empty() {
        return birth_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, f, as_pairs(errors));
    }
    let b = BirthRegistration {
        full_name: f.full_name.trim().to_owned(),
        gender,
        date_of_birth,
        registration_province,
        father_pid,
        mother_pid,
        ethnicity_code,
        nationality,
        household_id,
    };
    let actor = format!("staff:{}", s.user.username);
    let change = Change {
        actor: &actor,
        reason: f.reason.trim(),
        at: motcua_db::clock::now_us(),
    };
    let outcome = async {
        let mut tx = state.db.begin().await?;
        let pid = vital::register_birth(&mut tx, &b, today(), &change).await?;
        tx.commit().await?;
        Ok::<Pid, RegistryError>(pid)
    }
    .await;
    match outcome {
        Ok(pid) => render(
            StatusCode::CREATED,
            &BirthDone {
                c: Chrome::new(&ctx, "birth.done"),
                pid: pid.to_string(),
                reason_q: encode(f.reason.trim()),
            },
        ),
        Err(RegistryError::Invalid(errs)) => {
            birth_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, f, as_pairs(errs))
        }
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}

#[derive(Template)]
#[template(path = "death.html")]
struct DeathPage {
    c: Chrome,
    errors: Vec<(String, String)>,
    pid: String,
    date_of_death: String,
    reason: String,
}

#[derive(Deserialize, Default)]
pub struct DeathForm {
    #[serde(default)]
    date_of_death: String,
    #[serde(default)]
    reason: String,
}

/// Only the PID is shown: opening the form is not a read of the person's data.
fn death_page(
    ctx: &Ctx,
    status: StatusCode,
    pid: &Pid,
    f: &DeathForm,
    errors: Vec<(String, String)>,
) -> Response {
    render(
        status,
        &DeathPage {
            c: Chrome::new(ctx, "death.title"),
            errors,
            pid: pid.to_string(),
            date_of_death: f.date_of_death.clone(),
            reason: f.reason.clone(),
        },
    )
}

pub async fn death_form(Staff(ctx, _): Staff, Path(pid): Path<String>) -> Response {
    match Pid::parse(&pid) {
        Ok(pid) => death_page(
            &ctx,
            StatusCode::OK,
            &pid,
            &DeathForm::default(),
            Vec::new(),
        ),
        Err(_) => super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "citizen.not_found",
        ),
    }
}

pub async fn register_death(
    State(state): State<AppState>,
    Path(pid): Path<String>,
    CsrfForm {
        ctx,
        session: s,
        form: f,
        ..
    }: CsrfForm<DeathForm>,
) -> Response {
    let Ok(pid) = Pid::parse(&pid) else {
        return super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "citizen.not_found",
        );
    };
    let mut errors = Vec::new();
    let date = NaiveDate::parse_from_str(f.date_of_death.trim(), "%Y-%m-%d")
        .map_err(|_| {
            errors.push(FieldError::new(
                "date_of_death",
                "date.invalid",
                "is not a calendar date YYYY-MM-DD",
            ))
        })
        .ok();
    reason_ok(&ctx, &mut errors, &f.reason);
    let Some(date) = date.filter(|_| errors.is_empty()) else {
        return death_page(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &pid,
            &f,
            as_pairs(errors),
        );
    };
    let actor = format!("staff:{}", s.user.username);
    let change = Change {
        actor: &actor,
        reason: f.reason.trim(),
        at: motcua_db::clock::now_us(),
    };
    let outcome = async {
        let mut tx = state.db.begin().await?;
        vital::register_death(&mut tx, pid, date, today(), &change).await?;
        // Her electronic-identity account closes with the same commit (Decree 69/2024/NĐ-CP).
        motcua_identity::citizen_accounts::close_on_death(&mut tx, pid, change.actor, change.at)
            .await
            .map_err(|e| match e {
                motcua_identity::IdentityError::Db(db) => RegistryError::Db(db),
                other => RegistryError::Db(motcua_db::DbError::Conflict(other.to_string())),
            })?;
        tx.commit().await?;
        Ok::<(), RegistryError>(())
    }
    .await;
    match outcome {
        Ok(()) => Redirect::to(&format!(
            "/registry/citizens/{pid}?purpose=case_processing&reference={}",
            encode(f.reason.trim())
        ))
        .into_response(),
        Err(RegistryError::Invalid(errs)) => death_page(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &pid,
            &f,
            as_pairs(errs),
        ),
        Err(RegistryError::NotFound(_)) => super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "citizen.not_found",
        ),
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}
