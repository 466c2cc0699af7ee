//! Background jobs for administrators: the jobs of each status with their kind, attempts,
//! next run and last error; a dead job (or one waiting for its retry) can be run again, a
//! queued one cancelled. The rules live in `motcua_db::jobs`; each action is an event.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use motcua_db::jobs::{self, AdminOutcome, JobRow, View};
use motcua_identity::sessions::Session;
use motcua_identity::staff::Role;
use motcua_identity::token::constant_time_eq;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::pages::{Chrome, forbidden, local_time, message, render, server_error};

/// Jobs per page.
const PAGE: i64 = 50;

pub struct Tab {
    view: &'static str,
    label: String,
    count: i64,
    current: bool,
}

pub struct JobView {
    id: String,
    kind: String,
    attempts: String,
    next_run: String,
    last_error: String,
    can_retry: bool,
    can_cancel: bool,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    c: Chrome,
    tabs: Vec<Tab>,
    view: &'static str,
    jobs: Vec<JobView>,
    /// The id to continue after, when there may be more.
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ListParams {
    status: Option<String>,
    before: Option<String>,
}

fn view_of(ctx: &Ctx, view: View, j: &JobRow) -> JobView {
    let next_run = match view {
        View::Queued | View::Retrying => local_time(j.run_at),
        View::Running => j
            .lease_until
            .map(|t| format!("{} {}", ctx.t().get("jobs.lease_until"), local_time(t)))
            .unwrap_or_default(),
        _ => String::new(),
    };
    JobView {
        id: j.id.clone(),
        kind: j.queue.clone(),
        attempts: format!("{}/{}", j.attempts, j.max_attempts),
        next_run,
        last_error: j.last_error.clone().unwrap_or_default(),
        can_retry: matches!(view, View::Dead | View::Retrying),
        can_cancel: matches!(view, View::Queued | View::Retrying),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Staff(ctx, s): Staff,
    Query(p): Query<ListParams>,
) -> Response {
    if s.user.role != Role::Admin {
        return forbidden(&ctx);
    }
    let view = p
        .status
        .as_deref()
        .and_then(View::parse)
        .unwrap_or(View::Queued);
    let counts = match jobs::view_counts(&state.db).await {
        Ok(c) => c,
        Err(e) => return server_error(ctx.lang, &e.to_string()),
    };
    let rows = match jobs::list(&state.db, view, p.before.as_deref(), PAGE).await {
        Ok(r) => r,
        Err(e) => return server_error(ctx.lang, &e.to_string()),
    };
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|j| j.id.clone()))
        .flatten();
    let t = ctx.t();
    render(
        StatusCode::OK,
        &JobsPage {
            c: Chrome::new(&ctx, "jobs.title"),
            tabs: counts
                .iter()
                .map(|(v, n)| Tab {
                    view: v.as_str(),
                    label: t.get(&format!("jobs.view.{}", v.as_str())).to_owned(),
                    count: *n,
                    current: *v == view,
                })
                .collect(),
            view: view.as_str(),
            jobs: rows.iter().map(|j| view_of(&ctx, view, j)).collect(),
            next,
        },
    )
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: Option<String>,
    /// The list to return to.
    status: Option<String>,
}

/// Refuses a non-administrator or a forged form token.
fn refused(ctx: &Ctx, s: &Session, csrf: Option<&str>) -> Option<Response> {
    if s.user.role != Role::Admin {
        return Some(forbidden(ctx));
    }
    if !constant_time_eq(&s.csrf_token, csrf.unwrap_or("")) {
        return Some(message(
            ctx,
            StatusCode::FORBIDDEN,
            "error.forbidden",
            "error.csrf",
        ));
    }
    None
}

fn outcome_page(
    ctx: &Ctx,
    status: Option<&str>,
    outcome: motcua_db::DbResult<AdminOutcome>,
) -> Response {
    let back = status
        .and_then(View::parse)
        .unwrap_or(View::Queued)
        .as_str();
    match outcome {
        Ok(AdminOutcome::Done) => {
            Redirect::to(&format!("/admin/jobs?status={back}")).into_response()
        }
        Ok(AdminOutcome::NotFound) => message(
            ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "jobs.not_found",
        ),
        Ok(AdminOutcome::WrongStatus) => {
            message(ctx, StatusCode::CONFLICT, "jobs.title", "jobs.wrong_status")
        }
        Err(e) => server_error(ctx.lang, &e.to_string()),
    }
}

pub async fn retry(
    State(state): State<AppState>,
    Staff(ctx, s): Staff,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Some(refusal) = refused(&ctx, &s, f.csrf.as_deref()) {
        return refusal;
    }
    let actor = format!("staff:{}", s.user.username);
    let outcome = jobs::retry(&state.db, &id, &actor, motcua_db::clock::now_us()).await;
    outcome_page(&ctx, f.status.as_deref(), outcome)
}

pub async fn cancel(
    State(state): State<AppState>,
    Staff(ctx, s): Staff,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Some(refusal) = refused(&ctx, &s, f.csrf.as_deref()) {
        return refusal;
    }
    let actor = format!("staff:{}", s.user.username);
    let outcome = jobs::cancel(&state.db, &id, &actor, motcua_db::clock::now_us()).await;
    outcome_page(&ctx, f.status.as_deref(), outcome)
}
