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
use crate::kit::{CsrfForm, FormErrors};

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
    errors: FormErrors,
    q: String,
    birth_year: String,
    province: String,
    provinces: Vec<(String, String, bool)>,
    purposes: Vec<(String, String, bool)>,
    reference: String,
    /// The purpose as stated for the listing shown, carried by its forms.
    purpose: String,
    searched: bool,
    rows: Vec<RowView>,
    next_after: Option<String>,
}

/// The fields of the search form; the listing is a POST, since it reads personal data.
#[derive(Deserialize, Default)]
pub struct SearchFields {
    q: Option<String>,
    birth_year: Option<String>,
    province: Option<String>,
    after: Option<String>,
    purpose: Option<String>,
    reference: Option<String>,
}

const PAGE_SIZE: i64 = 50;

/// `GET /registry/search`: the search form. Query parameters prefill it (a bookmarked or
/// shared link), but nothing is listed until the officer submits it with a purpose.
pub async fn search_form(Staff(ctx, _): Staff, Query(p): Query<SearchFields>) -> Response {
    render_search(&ctx, &p, FormErrors::new(), None)
}

/// `POST /registry/search`: lists the citizens found. Each citizen shown is an access to her
/// data, recorded with the stated purpose before the page is sent.
pub async fn search(
    State(state): State<AppState>,
    CsrfForm {
        ctx, session, form, ..
    }: CsrfForm<SearchFields>,
) -> Response {
    let q = form.q.clone().unwrap_or_default();
    let year_text = form.birth_year.clone().unwrap_or_default();
    let year_text = year_text.trim();
    let province_in = form.province.clone().unwrap_or_default();
    let mut errors = FormErrors::new();
    if q.trim().is_empty() {
        errors.add_key(&ctx, "q", "search.q_required");
    }
    let this_year = chrono::Datelike::year(&chrono::Utc::now().date_naive());
    let birth_year = if year_text.is_empty() {
        None
    } else {
        match year_text.parse::<i32>() {
            Ok(y) if year_text.len() == 4 && (1850..=this_year).contains(&y) => Some(y),
            _ => {
                errors.add_key(&ctx, "birth_year", "search.bad_year");
                None
            }
        }
    };
    let province = if province_in.is_empty() {
        None
    } else {
        match province_in.parse::<u16>() {
            Ok(c) if motcua_domain::provinces::province(c).is_some() => Some(c),
            _ => {
                errors.add_key(&ctx, "province", "search.bad_province");
                None
            }
        }
    };
    let stated = stated_purpose(&ctx, form.purpose.as_deref(), form.reference.as_deref());
    let stated = match stated {
        Ok(s) => Some(s),
        Err(e) => {
            errors.append(e);
            None
        }
    };
    let after = form.after.as_deref().and_then(|a| {
        let (pid, name) = a.split_once(':')?;
        Some((name.to_owned(), pid.parse::<i64>().ok()?))
    });
    let (Some(stated), true) = (stated, errors.is_empty()) else {
        return render_search(&ctx, &form, errors, None);
    };
    let query = SearchQuery {
        text: q,
        birth_year,
        province,
        after,
        limit: PAGE_SIZE,
    };
    let found = match search::search(&state.db, &query).await {
        Ok(found) => found,
        Err(RegistryError::Invalid(errs)) => {
            errors.extend_fields(errs);
            return render_search(&ctx, &form, errors, None);
        }
        Err(e) => return fail(&ctx, e),
    };
    let entries = found
        .iter()
        .map(|r| staff_access(&session, &ctx, "list.search", &stated, r.pid, "listed"))
        .collect();
    if let Err(e) = state.access_log.record_all(entries).await {
        return fail(&ctx, e);
    }
    let next_after = (found.len() as i64 == PAGE_SIZE)
        .then(|| found.last().map(|l| format!("{}:{}", l.pid, l.name_folded)))
        .flatten();
    let rows = found.iter().map(|r| row_view(&ctx, r)).collect();
    render_search(&ctx, &form, errors, Some((stated, rows, next_after)))
}

fn render_search(
    ctx: &Ctx,
    form: &SearchFields,
    errors: FormErrors,
    listed: Option<(Stated, Vec<RowView>, Option<String>)>,
) -> Response {
    let province = form.province.clone().unwrap_or_default();
    let provinces = motcua_domain::provinces::provinces()
        .iter()
        .map(|p| {
            let code = p.code.to_string();
            let selected = code == province;
            (code, p.name.to_owned(), selected)
        })
        .collect();
    let status = errors.status();
    let (searched, purpose, rows, next_after) = match listed {
        Some((stated, rows, next)) => (true, stated.purpose, rows, next),
        None => (false, String::new(), Vec::new(), None),
    };
    render(
        status,
        &SearchPage {
            c: Chrome::new(ctx, "search.title"),
            errors,
            q: form.q.clone().unwrap_or_default(),
            birth_year: form
                .birth_year
                .clone()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            province,
            provinces,
            purposes: purpose_options(ctx, form.purpose.as_deref()),
            reference: form.reference.clone().unwrap_or_default(),
            purpose,
            searched,
            rows,
            next_after,
        },
    )
}

/// The purpose (and optional case reference) an officer states before personal data is shown.
#[derive(Deserialize, Default)]
pub struct PurposeFields {
    purpose: Option<String>,
    reference: Option<String>,
}

/// A checked purpose: one of [`ACCESS_PURPOSES`], with a short reference if given.
#[derive(Debug, Clone)]
pub struct Stated {
    purpose: String,
    reference: Option<String>,
}

/// Every view of personal data needs a reason (Decree 13/2023/NĐ-CP: purpose limitation).
fn stated_purpose(
    ctx: &Ctx,
    purpose: Option<&str>,
    reference: Option<&str>,
) -> Result<Stated, FormErrors> {
    let mut errors = FormErrors::new();
    let reference = reference
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    match purpose {
        Some(code) if ACCESS_PURPOSES.contains(&code) => {}
        _ => errors.add_key(ctx, "purpose", "purpose.required"),
    }
    if reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > 100 || r.chars().any(char::is_control))
    {
        errors.add_key(ctx, "reference", "purpose.reference_too_long");
    }
    match purpose {
        Some(code) if errors.is_empty() => Ok(Stated {
            purpose: code.to_owned(),
            reference,
        }),
        _ => Err(errors),
    }
}

/// The purposes offered, in the page's language, with `chosen` selected.
fn purpose_options(ctx: &Ctx, chosen: Option<&str>) -> Vec<(String, String, bool)> {
    let t = ctx.t();
    ACCESS_PURPOSES
        .iter()
        .map(|p| {
            (
                (*p).to_owned(),
                t.get(&format!("purpose.{p}")).to_owned(),
                chosen == Some(*p),
            )
        })
        .collect()
}

#[derive(Template)]
#[template(path = "purpose.html")]
struct PurposePage {
    c: Chrome,
    errors: FormErrors,
    action: String,
    submit_key: &'static str,
    purposes: Vec<(String, String, bool)>,
    reference: String,
}

/// The page asking why, whose form posts to the current path with the session's CSRF token.
fn purpose_page(
    ctx: &Ctx,
    errors: FormErrors,
    fields: &PurposeFields,
    submit_key: &'static str,
) -> Response {
    render(
        errors.status(),
        &PurposePage {
            c: Chrome::new(ctx, "purpose.title"),
            errors,
            action: ctx.path.clone(),
            submit_key,
            purposes: purpose_options(ctx, fields.purpose.as_deref()),
            reference: fields.reference.clone().unwrap_or_default(),
        },
    )
}

fn staff_access(
    s: &Session,
    ctx: &Ctx,
    action: &str,
    stated: &Stated,
    pid: i64,
    outcome: &str,
) -> AccessEntry {
    AccessEntry {
        at: motcua_db::clock::now_us(),
        actor_kind: ActorKind::Staff,
        actor_id: s.user.id.clone(),
        actor_name: s.user.username.clone(),
        action: action.to_owned(),
        purpose: stated.purpose.clone(),
        reference: stated.reference.clone(),
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
    reference: String,
    facts: Vec<(String, String)>,
    household: Option<HouseholdBlock>,
    residences: Vec<(String, String, String)>,
    cards: Vec<(String, String, String)>,
    history: Vec<(String, String, String, String)>,
    accesses: Vec<(String, String, String, String, String)>,
}

/// `GET /registry/citizens/{pid}`: asks why the record is opened. `?purpose=` preselects
/// a purpose (links back to a record after a change), but only the POST shows the record.
pub async fn citizen_form(Staff(ctx, _): Staff, Query(p): Query<PurposeFields>) -> Response {
    purpose_page(&ctx, FormErrors::new(), &p, "purpose.submit")
}

/// `POST /registry/citizens/{pid}`: the record, after the view is recorded.
pub async fn citizen(
    State(state): State<AppState>,
    Path(pid_text): Path<String>,
    CsrfForm {
        ctx,
        session: s,
        form: p,
        ..
    }: CsrfForm<PurposeFields>,
) -> Response {
    let Ok(pid) = Pid::parse(&pid_text) else {
        return super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "citizen.not_found",
        );
    };
    let stated = match stated_purpose(&ctx, p.purpose.as_deref(), p.reference.as_deref()) {
        Ok(x) => x,
        Err(errors) => return purpose_page(&ctx, errors, &p, "purpose.submit"),
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
            &stated,
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
        let entries = members
            .iter()
            .filter(|m| m.pid != person.pid)
            .filter_map(|m| Pid::parse(&m.pid).ok())
            .map(|other| staff_access(&s, &ctx, "view_household", &stated, other.as_i64(), "found"))
            .collect();
        if let Err(e) = state.access_log.record_all(entries).await {
            return fail(&ctx, e);
        }
    }
    match citizen_page(&state, &ctx, pid, person, stated).await {
        Ok(r) => r,
        Err(e) => fail(&ctx, e),
    }
}

async fn citizen_page(
    state: &AppState,
    ctx: &Ctx,
    pid: Pid,
    person: Citizen,
    stated: Stated,
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
            purpose: stated.purpose,
            reference: stated.reference.unwrap_or_default(),
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
    reference: String,
    members: Vec<MemberView>,
}

/// `GET /registry/households/{id}`: asks why, as for a record.
pub async fn household_form(Staff(ctx, _): Staff, Query(p): Query<PurposeFields>) -> Response {
    purpose_page(&ctx, FormErrors::new(), &p, "purpose.submit")
}

/// `POST /registry/households/{id}`: the household, after each member's access is recorded.
pub async fn household(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm {
        ctx,
        session: s,
        form: p,
        ..
    }: CsrfForm<PurposeFields>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "error.not_found_body",
        );
    };
    let stated = match stated_purpose(&ctx, p.purpose.as_deref(), p.reference.as_deref()) {
        Ok(x) => x,
        Err(errors) => return purpose_page(&ctx, errors, &p, "purpose.submit"),
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
    let entries = h
        .members
        .iter()
        .filter_map(|m| Pid::parse(&m.pid).ok())
        .map(|pid| staff_access(&s, &ctx, "view_household", &stated, pid.as_i64(), "found"))
        .collect();
    if let Err(e) = state.access_log.record_all(entries).await {
        return fail(&ctx, e);
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
            purpose: stated.purpose,
            reference: stated.reference.unwrap_or_default(),
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
    path: String,
    purpose: String,
    reference: String,
    rows: Vec<RowView>,
    next_after: Option<i64>,
}

/// The fields of a worklist request: the purpose, and where the page starts.
#[derive(Deserialize, Default)]
pub struct WorklistFields {
    purpose: Option<String>,
    reference: Option<String>,
    after: Option<String>,
}

fn worklist_check(check: &str) -> Option<Check> {
    Check::parse(check).filter(|c| CHECKS.contains(c))
}

/// `GET /registry/quality/{check}`: asks why before a worklist of citizens is shown.
pub async fn worklist_form(
    Staff(ctx, _): Staff,
    Path(check): Path<String>,
    Query(p): Query<PurposeFields>,
) -> Response {
    if worklist_check(&check).is_none() {
        return super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "error.not_found_body",
        );
    }
    purpose_page(&ctx, FormErrors::new(), &p, "purpose.submit_list")
}

/// `POST /registry/quality/{check}`: one page of the worklist; every citizen shown is an
/// access recorded with the stated purpose.
pub async fn worklist(
    State(state): State<AppState>,
    Path(check): Path<String>,
    CsrfForm {
        ctx,
        session: s,
        form,
        ..
    }: CsrfForm<WorklistFields>,
) -> Response {
    let Some(check) = worklist_check(&check) else {
        return super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "error.not_found_body",
        );
    };
    let fields = PurposeFields {
        purpose: form.purpose.clone(),
        reference: form.reference.clone(),
    };
    let stated = match stated_purpose(&ctx, form.purpose.as_deref(), form.reference.as_deref()) {
        Ok(x) => x,
        Err(errors) => return purpose_page(&ctx, errors, &fields, "purpose.submit_list"),
    };
    let after = form
        .after
        .as_deref()
        .and_then(|a| a.parse::<i64>().ok())
        .unwrap_or(0);
    let rows = match quality::worklist(&state.db, check, after, 100).await {
        Ok(r) => r,
        Err(e) => return fail(&ctx, e),
    };
    let action = format!("list.worklist.{}", check.code());
    let entries = rows
        .iter()
        .map(|r| staff_access(&s, &ctx, &action, &stated, r.pid, "listed"))
        .collect();
    if let Err(e) = state.access_log.record_all(entries).await {
        return fail(&ctx, e);
    }
    let next_after = (rows.len() == 100)
        .then(|| rows.last().map(|r| r.pid))
        .flatten();
    let heading = ctx.t().get(&format!("quality.{}", check.code())).to_owned();
    render(
        StatusCode::OK,
        &WorklistPage {
            c: Chrome::titled(&ctx, heading.clone()),
            heading,
            path: format!("/registry/quality/{}", check.code()),
            purpose: stated.purpose,
            reference: stated.reference.unwrap_or_default(),
            rows: rows.iter().map(|r| row_view(&ctx, r)).collect(),
            next_after,
        },
    )
}
