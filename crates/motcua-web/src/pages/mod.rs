//! Server-rendered pages. Every page works without JavaScript.

pub mod account;
pub mod admin;
pub mod level2;
pub mod login;
pub mod passkeys;
pub mod portal_auth;
pub mod register;
pub mod registry;
pub mod reset;
pub mod vital;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::auth::Ctx;
use crate::i18n::{Lang, Messages};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/staff", get(registry::staff_home))
        .route(
            "/registry/search",
            get(registry::search_form).post(registry::search),
        )
        .route(
            "/registry/citizens/{pid}",
            get(registry::citizen_form).post(registry::citizen),
        )
        .route(
            "/registry/households/{id}",
            get(registry::household_form).post(registry::household),
        )
        .route("/registry/births/new", get(vital::birth_form))
        .route("/registry/births", post(vital::register_birth))
        .route(
            "/registry/citizens/{pid}/death",
            get(vital::death_form).post(vital::register_death),
        )
        .route("/registry/quality", get(registry::quality))
        .route(
            "/registry/quality/{check}",
            get(registry::worklist_form).post(registry::worklist),
        )
        .route(
            "/admin/clients",
            get(admin::clients).post(admin::create_client),
        )
        .route("/admin/clients/{id}/disable", post(admin::disable_client))
        .route(
            "/admin/staff",
            get(admin::staff::accounts).post(admin::staff::create_account),
        )
        .route(
            "/admin/staff/{id}/disable",
            post(admin::staff::disable_account),
        )
        .route(
            "/admin/staff/{id}/enable",
            post(admin::staff::enable_account),
        )
        .route("/admin/jobs", get(admin::jobs::list))
        .route("/admin/jobs/{id}/retry", post(admin::jobs::retry))
        .route("/admin/jobs/{id}/cancel", post(admin::jobs::cancel))
        .route("/admin/mailbox", get(admin::mailbox::list))
        .route(
            "/admin/relying-parties",
            get(admin::relying_parties::list).post(admin::relying_parties::create),
        )
        .route(
            "/admin/organisations",
            get(admin::organisations::list).post(admin::organisations::register),
        )
        .route(
            "/admin/organisations/{tax_code}/representatives",
            post(admin::organisations::add_representative),
        )
        .route(
            "/identity/accounts/{pid}/level2",
            get(level2::form).post(level2::raise),
        )
        .route("/auth/login", get(portal_auth::login))
        .route("/auth/callback", get(portal_auth::callback))
        .route("/account", get(account::overview))
        .route("/account/reset", get(reset::form).post(reset::start))
        .route(
            "/account/reset/{id}",
            get(reset::complete_form).post(reset::complete),
        )
        .route(
            "/account/register",
            get(register::form).post(register::submit),
        )
        .route(
            "/account/register/{id}",
            get(register::confirm_form).post(register::confirm),
        )
        .route("/account/sessions", get(account::sessions_page))
        .route("/account/sessions/{sid}/end", post(account::end_session))
        .route(
            "/account/consents/{client_id}/withdraw",
            post(account::withdraw_consent),
        )
        .route("/account/logins", get(account::logins))
        .route("/account/passkeys", post(passkeys::register))
        .route(
            "/account/passkeys/options",
            post(passkeys::registration_options),
        )
        .route("/account/passkeys/{id}/remove", post(passkeys::remove))
        .route("/static/passkeys.js", get(passkeys_script))
        .route("/account/accesses", get(account::accesses))
        .route("/account/logout", post(account::logout))
        .route("/static/app.css", get(stylesheet))
}

/// What the page layout shows around every page.
pub struct Chrome {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub t: &'static Messages,
    pub title: String,
    pub switch_href: String,
    pub user_name: Option<String>,
    pub csrf: String,
    pub is_admin: bool,
}

impl Chrome {
    pub fn new(ctx: &Ctx, title_key: &str) -> Chrome {
        Chrome::titled(ctx, ctx.t().get(title_key).to_owned())
    }

    pub fn titled(ctx: &Ctx, title: String) -> Chrome {
        Chrome {
            lang: ctx.lang.code(),
            other_lang: ctx.lang.other().code(),
            t: ctx.t(),
            title,
            switch_href: ctx.switch_href(),
            user_name: ctx.session.as_ref().map(|s| s.user.display_name.clone()),
            csrf: ctx.csrf().to_owned(),
            is_admin: ctx.is_admin(),
        }
    }
}

/// Renders a template as an HTML response with `status`.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub c: Chrome,
    pub heading: String,
    pub body: String,
}

pub fn message(ctx: &Ctx, status: StatusCode, heading_key: &str, body_key: &str) -> Response {
    let t = ctx.t();
    render(
        status,
        &MessagePage {
            c: Chrome::new(ctx, heading_key),
            heading: t.get(heading_key).to_owned(),
            body: t.get(body_key).to_owned(),
        },
    )
}

pub(crate) fn bare_ctx(lang: Lang, path: &str) -> Ctx {
    Ctx {
        lang,
        session: None,
        path: path.to_owned(),
        query: None,
        request_id: None,
    }
}

pub fn server_error(lang: Lang, detail: &str) -> Response {
    tracing::error!(detail, "server error");
    message(
        &bare_ctx(lang, "/"),
        StatusCode::INTERNAL_SERVER_ERROR,
        "error.server",
        "error.server_body",
    )
}

pub fn forbidden(ctx: &Ctx) -> Response {
    message(
        ctx,
        StatusCode::FORBIDDEN,
        "error.forbidden",
        "error.forbidden_body",
    )
}

pub fn not_found_page(req: &Request) -> Response {
    let lang = Lang::of_request(req.uri(), req.headers());
    message(
        &bare_ctx(lang, req.uri().path()),
        StatusCode::NOT_FOUND,
        "error.not_found",
        "error.not_found_body",
    )
}

async fn home(ctx: Ctx) -> Redirect {
    if ctx.session.is_some() {
        Redirect::to("/staff")
    } else {
        Redirect::to("/login")
    }
}

async fn passkeys_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/passkeys.js"),
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}

/// Times are stored in UTC and shown in Vietnam's time zone (UTC+7, no daylight saving).
pub fn local_time(us: i64) -> String {
    let offset = chrono::FixedOffset::east_opt(7 * 3600);
    match (chrono::DateTime::from_timestamp_micros(us), offset) {
        (Some(t), Some(tz)) => t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string(),
        _ => String::new(),
    }
}

/// `YYYY-MM-DD` → `DD/MM/YYYY` as written in Vietnam; partial dates keep their precision.
pub fn local_date(iso: &str) -> String {
    let parts: Vec<&str> = iso.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        [y, m] => format!("{m}/{y}"),
        _ => iso.to_owned(),
    }
}
