//! Officer pages of the population registry: search, citizen record, household, data quality.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use motcua_db::access_log::{AccessEntry, ActorKind};
use motcua_domain::{Pid, ethnicity};
use motcua_identity::sessions::Session;
use motcua_registry::admin_units::province_names;
use motcua_registry::quality::{self, CHECKS, Check};
use motcua_registry::search::{self, SearchQuery, SearchRow};
use motcua_registry::{ACCESS_PURPOSES, Citizen, RegistryError, citizens};
use serde::Deserialize;

use super::{Chrome, local_date, local_time, render};
use crate::AppState;
use crate::auth::{Ctx, Staff};

fn fail(ctx: &Ctx, e: impl std::fmt::Display) -> Response {
    super::server_error(ctx.lang, &e.to_string())
}

fn province_text(code: Option<i32>) -> String {
    match code.and_then(province_names) {
        Some((name, Some(now))) => format!("{name} ({now})"),
        Some((name, None)) => name.to_owned(),
        None => String::new(),
    }
}

#[derive(Template)]
#[template(path = "staff_home.html")]
struct HomePage {
    c: Chrome,
    display_name: String,
    citizens: String,
}

pub async fn staff_home(State(state): State<AppState>, Staff(ctx, s): Staff) -> Response {
    let n = match citizens::count(&state.db).await {
        Ok(n) => n,
        Err(e) => return fail(&ctx, e),
    };
    render(
        StatusCode::OK,
        &HomePage {
            c: Chrome::new(&ctx, "home.title"),
            display_name: s.user.display_name,
            citizens: group_digits(n),
        },
    )
}

/// 1234567 → "1.234.567" (Vietnamese) — the same grouping reads fine in English pages.
fn group_digits(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    out
}

pub struct RowView {
    pid: String,
    name: String,
    gender: String,
    dob: String,
    province: String,
    status: String,
}

fn row_view(ctx: &Ctx, r: &SearchRow) -> RowView {
    let t = ctx.t();
    RowView {
        pid: r.pid_text(),
        name: r.full_name.clone(),
        gender: t.get(&format!("gender.{}", r.gender)).to_owned(),
        dob: local_date(&r.date_of_birth),
        province: province_text(r.residence_province),
        status: t.get(&format!("status.{}", r.status)).to_owned(),
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    c: Chrome,
    errors: Vec<(String, String)>,
    q: String,
    birth_year: String,
    provinces: Vec<(String, String, bool)>,
    searched: bool,
    rows: Vec<RowView>,
    next_href: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SearchParams {
    q: Option<String>,
    birth_year: Option<String>,
    province: Option<String>,
    after: Option<String>,
}

const PAGE_SIZE: i64 = 50;

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn search(
    State(state): State<AppState>,
    Staff(ctx, _): Staff,
    Query(p): Query<SearchParams>,
) -> Response {
    let t = ctx.t();
    let q = p.q.unwrap_or_default();
    let year_text = p.birth_year.unwrap_or_default().trim().to_owned();
    let province_text_in = p.province.unwrap_or_default();
    let mut errors = Vec::new();
    let this_year = chrono::Datelike::year(&chrono::Utc::now().date_naive());
    let birth_year = if year_text.is_empty() {
        None
    } else {
        match year_text.parse::<i32>() {
            Ok(y) if year_text.len() == 4 && (1850..=this_year).contains(&y) => Some(y),
            _ => {
                errors.push(("birth_year".to_owned(), t.get("search.bad_year").to_owned()));
                None
            }
        }
    };
    let province = if province_text_in.is_empty() {
        None
    } else {
        match province_text_in.parse::<u16>() {
            Ok(c) if motcua_domain::provinces::province(c).is_some() => Some(c),
            _ => {
                errors.push((
                    "province".to_owned(),
                    t.get("search.bad_province").to_owned(),
                ));
                None
            }
        }
    };
    let after = p.after.as_deref().and_then(|a| {
        let (pid, name) = a.split_once(':')?;
        Some((name.to_owned(), pid.parse::<i64>().ok()?))
    });
    let searched = !q.trim().is_empty() && errors.is_empty();
    let mut rows = Vec::new();
    let mut next_href = None;
    if searched {
        let query = SearchQuery {
            text: q.clone(),
            birth_year,
            province,
            after,
            limit: PAGE_SIZE,
        };
        match search::search(&state.db, &query).await {
            Ok(found) => {
                if found.len() as i64 == PAGE_SIZE
                    && let Some(last) = found.last()
                {
                    next_href = Some(format!(
                        "/registry/search?q={}&birth_year={}&province={}&after={}",
                        encode(&q),
                        encode(&year_text),
                        encode(&province_text_in),
                        encode(&format!("{}:{}", last.pid, last.name_folded))
                    ));
                }
                rows = found.iter().map(|r| row_view(&ctx, r)).collect();
            }
            Err(RegistryError::Invalid(errs)) => {
                errors.extend(errs.into_iter().map(|e| (e.field, e.message)));
            }
            Err(e) => return fail(&ctx, e),
        }
    }
    let provinces = motcua_domain::provinces::provinces()
        .iter()
        .map(|p| {
            (
                p.code.to_string(),
                p.name.to_owned(),
                Some(p.code) == province,
            )
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(
        status,
        &SearchPage {
            c: Chrome::new(&ctx, "search.title"),
            errors,
            q,
            birth_year: year_text,
            provinces,
            searched: searched && status == StatusCode::OK,
            rows,
            next_href,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct PurposeParams {
    purpose: Option<String>,
    reference: Option<String>,
}

#[derive(Template)]
#[template(path = "purpose.html")]
struct PurposePage {
    c: Chrome,
    errors: Vec<(String, String)>,
    action: String,
    purposes: Vec<(String, String)>,
    reference: String,
}

/// The stated purpose, or the page asking for it. Every view of personal data needs a reason
/// (Decree 13/2023/NĐ-CP: purpose limitation).
fn purpose_or_ask(ctx: &Ctx, p: &PurposeParams) -> Result<(String, Option<String>), Box<Response>> {
    let t = ctx.t();
    let reference = p
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let mut errors = Vec::new();
    if reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > 100 || r.chars().any(char::is_control))
    {
        errors.push((
            "reference".to_owned(),
            t.get("purpose.reference_too_long").to_owned(),
        ));
    }
    match p.purpose.as_deref() {
        // A valid purpose with a bad reference: only the reference is in error.
        Some(code) if ACCESS_PURPOSES.contains(&code) && errors.is_empty() => {
            return Ok((code.to_owned(), reference));
        }
        Some(code) if ACCESS_PURPOSES.contains(&code) => {}
        Some(_) => errors.insert(
            0,
            ("purpose".to_owned(), t.get("purpose.required").to_owned()),
        ),
        None => {}
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Err(Box::new(render(
        status,
        &PurposePage {
            c: Chrome::new(ctx, "purpose.title"),
            errors,
            action: ctx.path.clone(),
            purposes: ACCESS_PURPOSES
                .iter()
                .map(|p| ((*p).to_owned(), t.get(&format!("purpose.{p}")).to_owned()))
                .collect(),
            reference: reference.unwrap_or_default(),
        },
    )))
}

fn staff_access(
    s: &Session,
    ctx: &Ctx,
    action: &str,
    purpose: &str,
    reference: &Option<String>,
    pid: i64,
    outcome: &str,
) -> AccessEntry {
    AccessEntry {
        at: motcua_db::clock::now_us(),
        actor_kind: ActorKind::Staff,
        actor_id: s.user.id.clone(),
        actor_name: s.user.username.clone(),
        action: action.to_owned(),
        purpose: purpose.to_owned(),
        reference: reference.clone(),
        subject_pid: Some(pid),
        outcome: outcome.to_owned(),
        request_id: ctx.request_id.clone(),
    }
}

pub struct MemberView {
    pid: String,
    name: String,
    relation: String,
    dob: String,
    status: String,
}

fn member_view(ctx: &Ctx, m: &Citizen) -> MemberView {
    let t = ctx.t();
    MemberView {
        pid: m.pid.clone(),
        name: m.full_name.clone(),
        relation: m
            .relation_to_head
            .as_deref()
            .and_then(|r| motcua_domain::generator::Relation::parse(r).ok())
            .map(|r| match ctx.lang {
                crate::i18n::Lang::Vi => r.label_vi().to_owned(),
                crate::i18n::Lang::En => r.as_code().replace('_', " "),
            })
            .unwrap_or_default(),
        dob: local_date(&m.date_of_birth),
        status: t.get(&format!("status.{}", m.status)).to_owned(),
    }
}

pub struct HouseholdBlock {
    id: i64,
    address: String,
    members: Vec<MemberView>,
}

#[derive(Template)]
#[template(path = "citizen.html")]
struct CitizenPage {
    c: Chrome,
    p: Citizen,
    purpose: String,
    facts: Vec<(String, String)>,
    household: Option<HouseholdBlock>,
    residences: Vec<(String, String, String)>,
    cards: Vec<(String, String, String)>,
    history: Vec<(String, String, String, String)>,
    accesses: Vec<(String, String, String, String, String)>,
}

pub async fn citizen(
    State(state): State<AppState>,
    Staff(ctx, s): Staff,
    Path(pid_text): Path<String>,
    Query(p): Query<PurposeParams>,
) -> Response {
    let Ok(pid) = Pid::parse(&pid_text) else {
        return super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "citizen.not_found",
        );
    };
    let (purpose, reference) = match purpose_or_ask(&ctx, &p) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let found = match citizens::get(&state.db, pid).await {
        Ok(c) => c,
        Err(e) => return fail(&ctx, e),
    };
    let outcome = if found.is_some() {
        "found"
    } else {
        "not_found"
    };
    // The view is recorded before anything is shown.
    if let Err(e) = state
        .access_log
        .record(staff_access(
            &s,
            &ctx,
            "view",
            &purpose,
            &reference,
            pid.as_i64(),
            outcome,
        ))
        .await
    {
        return fail(&ctx, e);
    }
    let Some(person) = found else {
        return super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "citizen.not_found",
        );
    };
    // The record shows the other household members' names and dates of birth: those are
    // reads of their data too.
    if let Some(id) = person.household_id {
        let members = match citizens::household(&state.db, id).await {
            Ok(h) => h.map(|h| h.members).unwrap_or_default(),
            Err(e) => return fail(&ctx, e),
        };
        for m in members.iter().filter(|m| m.pid != person.pid) {
            let Ok(other) = Pid::parse(&m.pid) else {
                continue;
            };
            let entry = staff_access(
                &s,
                &ctx,
                "view_household",
                &purpose,
                &reference,
                other.as_i64(),
                "found",
            );
            if let Err(e) = state.access_log.record(entry).await {
                return fail(&ctx, e);
            }
        }
    }
    match citizen_page(&state, &ctx, pid, person, purpose).await {
        Ok(r) => r,
        Err(e) => fail(&ctx, e),
    }
}

async fn citizen_page(
    state: &AppState,
    ctx: &Ctx,
    pid: Pid,
    person: Citizen,
    purpose: String,
) -> Result<Response, RegistryError> {
    let t = ctx.t();
    let none = t.get("citizen.none").to_owned();
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| none.clone());
    let mut facts = vec![
        (
            t.get("col.gender").to_owned(),
            t.get(&format!("gender.{}", person.gender)).to_owned(),
        ),
        (
            t.get("col.dob").to_owned(),
            local_date(&person.date_of_birth),
        ),
        (
            t.get("citizen.birth_province").to_owned(),
            province_text(Some(person.birth_province)),
        ),
        (
            t.get("citizen.hometown").to_owned(),
            province_text(person.hometown_province),
        ),
        (
            t.get("citizen.ethnicity").to_owned(),
            person
                .ethnicity_code
                .and_then(|c| u8::try_from(c).ok())
                .and_then(ethnicity::ethnicity)
                .map(|e| e.name.to_owned())
                .unwrap_or_else(|| none.clone()),
        ),
        (t.get("citizen.religion").to_owned(), opt(&person.religion)),
        (
            t.get("citizen.nationality").to_owned(),
            person.nationality.clone(),
        ),
        (t.get("citizen.father").to_owned(), opt(&person.father_pid)),
        (t.get("citizen.mother").to_owned(), opt(&person.mother_pid)),
        (t.get("citizen.spouse").to_owned(), opt(&person.spouse_pid)),
        (t.get("citizen.residence").to_owned(), {
            let place = province_text(person.residence_province);
            match &person.residence_address {
                Some(a) if !a.is_empty() => format!("{a}, {place}"),
                _ if place.is_empty() => none.clone(),
                _ => place,
            }
        }),
        (t.get("citizen.phone").to_owned(), opt(&person.phone)),
        (t.get("citizen.email").to_owned(), opt(&person.email)),
        (t.get("citizen.tax_code").to_owned(), opt(&person.tax_code)),
        (
            t.get("citizen.si_code").to_owned(),
            opt(&person.social_insurance_code),
        ),
        (
            t.get("col.status").to_owned(),
            t.get(&format!("status.{}", person.status)).to_owned(),
        ),
    ];
    if let Some(d) = &person.date_of_death {
        facts.push((t.get("citizen.date_of_death").to_owned(), local_date(d)));
    }
    let household = match person.household_id {
        Some(id) => citizens::household(&state.db, id)
            .await?
            .map(|h| HouseholdBlock {
                id: h.id,
                address: h.address.clone(),
                members: h.members.iter().map(|m| member_view(ctx, m)).collect(),
            }),
        None => None,
    };
    let residences = citizens::residences(&state.db, pid)
        .await?
        .into_iter()
        .map(|r| {
            let period = format!(
                "{} – {}",
                r.valid_from.as_deref().map(local_date).unwrap_or_default(),
                r.valid_to.as_deref().map(local_date).unwrap_or_default()
            );
            (
                t.get(&format!("kind.{}", r.kind)).to_owned(),
                format!("{}, {}", r.address, province_text(Some(r.province_code))),
                period,
            )
        })
        .collect();
    let cards = citizens::id_cards(&state.db, pid)
        .await?
        .into_iter()
        .map(|c| {
            (
                local_date(&c.issued_on),
                c.expires_on
                    .as_deref()
                    .map(local_date)
                    .unwrap_or_else(|| t.get("citizen.no_expiry").to_owned()),
                c.status,
            )
        })
        .collect();
    let history =
        motcua_db::events::for_aggregate(&state.db, citizens::AGGREGATE, &pid.to_string())
            .await?
            .into_iter()
            .rev()
            .map(|e| (local_time(e.occurred_at), e.event_type, e.actor, e.reason))
            .collect();
    let accesses = state
        .access_log
        .by_subject(pid.as_i64(), 20)
        .await?
        .into_iter()
        .map(|a| {
            let purpose = if ACCESS_PURPOSES.contains(&a.purpose.as_str()) {
                t.get(&format!("purpose.{}", a.purpose)).to_owned()
            } else {
                a.purpose
            };
            (
                local_time(a.at),
                format!("{} ({})", a.actor_name, a.actor_kind),
                a.action,
                purpose,
                a.reference.unwrap_or_default(),
            )
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &CitizenPage {
            c: Chrome::titled(ctx, person.full_name.clone()),
            p: person,
            purpose,
            facts,
            household,
            residences,
            cards,
            history,
            accesses,
        },
    ))
}

#[derive(Template)]
#[template(path = "household.html")]
struct HouseholdPage {
    c: Chrome,
    id: i64,
    address: String,
    head: String,
    purpose: String,
    members: Vec<MemberView>,
}

pub async fn household(
    State(state): State<AppState>,
    Staff(ctx, s): Staff,
    Path(id): Path<String>,
    Query(p): Query<PurposeParams>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "error.not_found_body",
        );
    };
    let (purpose, reference) = match purpose_or_ask(&ctx, &p) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let h = match citizens::household(&state.db, id).await {
        Ok(Some(h)) => h,
        Ok(None) => {
            return super::message(
                &ctx,
                StatusCode::NOT_FOUND,
                "error.not_found",
                "error.not_found_body",
            );
        }
        Err(e) => return fail(&ctx, e),
    };
    // Viewing a household shows each member's data: each member's access is recorded.
    for m in &h.members {
        if let Ok(pid) = Pid::parse(&m.pid)
            && let Err(e) = state
                .access_log
                .record(staff_access(
                    &s,
                    &ctx,
                    "view_household",
                    &purpose,
                    &reference,
                    pid.as_i64(),
                    "found",
                ))
                .await
        {
            return fail(&ctx, e);
        }
    }
    let head = h
        .members
        .iter()
        .find(|m| Some(&m.pid) == h.head_pid.as_ref())
        .map(|m| format!("{} ({})", m.full_name, m.pid))
        .unwrap_or_default();
    render(
        StatusCode::OK,
        &HouseholdPage {
            c: Chrome::titled(&ctx, format!("{} {}", ctx.t().get("household.title"), h.id)),
            id: h.id,
            address: format!("{}, {}", h.address, province_text(Some(h.province_code))),
            head,
            purpose,
            members: h.members.iter().map(|m| member_view(&ctx, m)).collect(),
        },
    )
}

/// How stale the data-quality counts may be; the page says when they were taken.
const QUALITY_REPORT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Template)]
#[template(path = "quality.html")]
struct QualityPage {
    c: Chrome,
    total: String,
    computed_at: String,
    checks: Vec<(String, String, String)>,
}

pub async fn quality(State(state): State<AppState>, Staff(ctx, _): Staff) -> Response {
    let report = match state
        .quality_reports
        .get(&state.db, QUALITY_REPORT_MAX_AGE)
        .await
    {
        Ok(r) => r,
        Err(e) => return fail(&ctx, e),
    };
    let t = ctx.t();
    render(
        StatusCode::OK,
        &QualityPage {
            c: Chrome::new(&ctx, "quality.title"),
            total: group_digits(report.total),
            computed_at: local_time(report.computed_at),
            checks: report
                .counts
                .iter()
                .map(|(c, n)| {
                    (
                        c.code().to_owned(),
                        t.get(&format!("quality.{}", c.code())).to_owned(),
                        group_digits(*n),
                    )
                })
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct WorklistPage {
    c: Chrome,
    heading: String,
    rows: Vec<RowView>,
    next_href: Option<String>,
}

#[derive(Deserialize)]
pub struct AfterParam {
    after: Option<i64>,
}

pub async fn worklist(
    State(state): State<AppState>,
    Staff(ctx, _): Staff,
    Path(check): Path<String>,
    Query(a): Query<AfterParam>,
) -> Response {
    let Some(check) = Check::parse(&check).filter(|c| CHECKS.contains(c)) else {
        return super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "error.not_found_body",
        );
    };
    let rows = match quality::worklist(&state.db, check, a.after.unwrap_or(0), 100).await {
        Ok(r) => r,
        Err(e) => return fail(&ctx, e),
    };
    let next_href = (rows.len() == 100)
        .then(|| {
            rows.last()
                .map(|r| format!("/registry/quality/{}?after={}", check.code(), r.pid))
        })
        .flatten();
    let heading = ctx.t().get(&format!("quality.{}", check.code())).to_owned();
    render(
        StatusCode::OK,
        &WorklistPage {
            c: Chrome::titled(&ctx, heading.clone()),
            heading,
            rows: rows.iter().map(|r| row_view(&ctx, r)).collect(),
            next_href,
        },
    )
}
