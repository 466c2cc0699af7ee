//! Administration of organisations: register one by its tax code, and make a citizen's
//! account its representative (`motcua_identity::organisations`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::IdentityError;
use motcua_identity::organisations;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Ctx;
use crate::kit::{AdminRole, CsrfForm, FormErrors, SignedIn};
use crate::pages::{Chrome, local_time, render};

struct OrgView {
    tax_code: String,
    name: String,
    created: String,
    representatives: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "organisations.html")]
struct OrganisationsPage {
    c: Chrome,
    errors: FormErrors,
    organisations: Vec<OrgView>,
    tax_code: String,
    name: String,
}

async fn page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    errors: FormErrors,
    f: &OrgForm,
) -> Response {
    let list = match organisations::list(&state.db).await {
        Ok(l) => l,
        Err(e) => return crate::pages::server_error(ctx.lang, &e.to_string()),
    };
    let mut views = Vec::with_capacity(list.len());
    for o in list {
        let reps = match organisations::representatives(&state.db, &o.tax_code).await {
            Ok(r) => r.into_iter().map(|(_, pid, role)| (pid, role)).collect(),
            Err(e) => return crate::pages::server_error(ctx.lang, &e.to_string()),
        };
        views.push(OrgView {
            created: local_time(o.created_at),
            tax_code: o.tax_code,
            name: o.name,
            representatives: reps,
        });
    }
    render(
        status,
        &OrganisationsPage {
            c: Chrome::new(ctx, "orgs.title"),
            errors,
            organisations: views,
            tax_code: f.tax_code.clone().unwrap_or_default(),
            name: f.name.clone().unwrap_or_default(),
        },
    )
}

#[derive(Deserialize, Default)]
pub struct OrgForm {
    tax_code: Option<String>,
    name: Option<String>,
}

/// `GET /admin/organisations`.
pub async fn list(
    State(state): State<AppState>,
    SignedIn(ctx, _, _): SignedIn<AdminRole>,
) -> Response {
    page(
        &state,
        &ctx,
        StatusCode::OK,
        FormErrors::new(),
        &OrgForm::default(),
    )
    .await
}

fn into_errors(e: IdentityError, errors: &mut FormErrors, fallback: &str) -> Option<IdentityError> {
    match e {
        IdentityError::Invalid { field, message } => errors.add(field, message),
        IdentityError::Conflict(m) => {
            let (field, message) = m.split_once(": ").unwrap_or((fallback, m.as_str()));
            errors.add(field, message.to_owned());
        }
        other => return Some(other),
    }
    None
}

/// `POST /admin/organisations`.
pub async fn register(
    State(state): State<AppState>,
    CsrfForm {
        ctx,
        session,
        form: f,
        ..
    }: CsrfForm<OrgForm, AdminRole>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let actor = format!("staff:{}", session.user.username);
    let outcome = organisations::register(
        &state.db,
        f.tax_code.as_deref().unwrap_or(""),
        f.name.as_deref().unwrap_or(""),
        &actor,
        now,
    )
    .await;
    match outcome {
        Ok(_) => Redirect::to("/admin/organisations").into_response(),
        Err(e) => {
            let mut errors = FormErrors::new();
            if let Some(e) = into_errors(e, &mut errors, "tax_code") {
                return crate::pages::server_error(ctx.lang, &e.to_string());
            }
            page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, errors, &f).await
        }
    }
}

#[derive(Deserialize)]
pub struct RepresentativeForm {
    pid: Option<String>,
    role: Option<String>,
}

/// `POST /admin/organisations/{tax_code}/representatives`.
pub async fn add_representative(
    State(state): State<AppState>,
    Path(tax_code): Path<String>,
    CsrfForm {
        ctx,
        session,
        form: f,
        ..
    }: CsrfForm<RepresentativeForm, AdminRole>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let actor = format!("staff:{}", session.user.username);
    let outcome = organisations::add_representative(
        &state.db,
        &tax_code,
        f.pid.as_deref().unwrap_or(""),
        f.role.as_deref().unwrap_or("authorised"),
        &actor,
        now,
    )
    .await;
    match outcome {
        Ok(()) => Redirect::to("/admin/organisations").into_response(),
        Err(e) => {
            let mut errors = FormErrors::new();
            if let Some(e) = into_errors(e, &mut errors, "pid") {
                return crate::pages::server_error(ctx.lang, &e.to_string());
            }
            page(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                &OrgForm::default(),
            )
            .await
        }
    }
}
