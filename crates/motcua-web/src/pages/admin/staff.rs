//! Staff accounts: administrators list them, create officers and administrators, and disable
//! or enable them. The rules (username, display name, password policy, no disabling oneself)
//! live in `motcua_identity::staff`; this page parses the forms and names the fields.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::IdentityError;
use motcua_identity::password::MIN_PASSWORD_CHARS;
use motcua_identity::sessions::Session;
use motcua_identity::staff::{self, Role, StaffAccount};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Ctx;
use crate::kit::{AdminRole, CsrfForm, NoFields, SignedIn};
use crate::pages::{Chrome, local_time, render, server_error};

/// The form's fields in page order, so the error summary follows the form.
const FIELDS: [&str; 4] = ["username", "display_name", "role", "password"];

pub struct AccountView {
    id: String,
    username: String,
    display_name: String,
    role: String,
    state: String,
    created: String,
    disabled: bool,
    is_self: bool,
}

#[derive(Template)]
#[template(path = "staff_accounts.html")]
struct AccountsPage {
    c: Chrome,
    errors: Vec<(String, String)>,
    accounts: Vec<AccountView>,
    /// The username just created, confirmed above the list.
    created: Option<String>,
    f: AccountForm,
    password_hint: String,
}

/// The create form. The password is never sent back into the page.
#[derive(Deserialize, Default)]
pub struct AccountForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

fn view(ctx: &Ctx, me: &Session, a: &StaffAccount) -> AccountView {
    let t = ctx.t();
    let state = if a.disabled {
        "accounts.disabled"
    } else if a.locked {
        "accounts.locked"
    } else {
        "accounts.active"
    };
    AccountView {
        id: a.user.id.clone(),
        username: a.user.username.clone(),
        display_name: a.user.display_name.clone(),
        role: t.get(&format!("role.{}", a.user.role.as_str())).to_owned(),
        state: t.get(state).to_owned(),
        created: local_time(a.created_at),
        disabled: a.disabled,
        is_self: a.user.id == me.user.id,
    }
}

async fn list_page(
    state: &AppState,
    ctx: &Ctx,
    me: &Session,
    status: StatusCode,
    errors: Vec<(String, String)>,
    f: AccountForm,
    created: Option<String>,
) -> Response {
    let accounts = match staff::list(&state.db, motcua_db::clock::now_us()).await {
        Ok(list) => list,
        Err(e) => return server_error(ctx.lang, &e.to_string()),
    };
    // Only a username that is in the list is confirmed, so the query cannot make the page
    // announce an account that does not exist.
    let created = created.filter(|u| accounts.iter().any(|a| &a.user.username == u));
    render(
        status,
        &AccountsPage {
            c: Chrome::new(ctx, "accounts.title"),
            errors,
            accounts: accounts.iter().map(|a| view(ctx, me, a)).collect(),
            created,
            f,
            password_hint: ctx
                .t()
                .get("accounts.password_hint")
                .replace("{min}", &MIN_PASSWORD_CHARS.to_string()),
        },
    )
}

#[derive(Deserialize)]
pub struct ListParams {
    created: Option<String>,
}

pub async fn accounts(
    State(state): State<AppState>,
    SignedIn(ctx, s, _): SignedIn<AdminRole>,
    Query(p): Query<ListParams>,
) -> Response {
    let f = AccountForm {
        role: Role::Officer.as_str().to_owned(),
        ..AccountForm::default()
    };
    list_page(&state, &ctx, &s, StatusCode::OK, Vec::new(), f, p.created).await
}

/// An identity error as a line of the error summary: the field's label and the reason.
fn field_error(ctx: &Ctx, e: &IdentityError) -> (String, String) {
    match e {
        IdentityError::Invalid { field, message } => {
            let key = format!("accounts.{field}");
            let label = ctx.t().get(&key);
            ((*field).to_owned(), format!("{label}: {message}"))
        }
        other => ("username".to_owned(), other.to_string()),
    }
}

pub async fn create_account(
    State(state): State<AppState>,
    CsrfForm {
        ctx,
        session: s,
        form: f,
        ..
    }: CsrfForm<AccountForm, AdminRole>,
) -> Response {
    let username = f.username.trim().to_owned();
    let mut problems = staff::check_new_account(&username, &f.display_name, &f.password);
    let role = Role::parse(f.role.trim())
        .map_err(|e| problems.push(e))
        .ok();
    let mut errors: Vec<(String, String)> = problems.iter().map(|e| field_error(&ctx, e)).collect();
    errors.sort_by_key(|(field, _)| FIELDS.iter().position(|known| known == field));
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return list_page(
            &state,
            &ctx,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            f,
            None,
        )
        .await;
    };
    let actor = format!("staff:{}", s.user.username);
    let created = staff::create(
        &state.db,
        &state.passwords,
        &username,
        &f.display_name,
        role,
        &f.password,
        &actor,
    )
    .await;
    match created {
        // Usernames are lower-case letters, digits, '.', '_' and '-': safe in a query as is.
        Ok(user) => {
            Redirect::to(&format!("/admin/staff?created={}", user.username)).into_response()
        }
        Err(e @ IdentityError::Invalid { .. }) => {
            let errors = vec![field_error(&ctx, &e)];
            list_page(
                &state,
                &ctx,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                f,
                None,
            )
            .await
        }
        Err(IdentityError::Conflict(_)) => {
            let t = ctx.t();
            let errors = vec![(
                "username".to_owned(),
                format!(
                    "{}: {}",
                    t.get("accounts.username"),
                    t.get("accounts.taken")
                ),
            )];
            list_page(&state, &ctx, &s, StatusCode::CONFLICT, errors, f, None).await
        }
        Err(e) => server_error(ctx.lang, &e.to_string()),
    }
}

pub async fn disable_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm {
        ctx, session: s, ..
    }: CsrfForm<NoFields, AdminRole>,
) -> Response {
    set_disabled(&state, ctx, s, &id, true).await
}

pub async fn enable_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm {
        ctx, session: s, ..
    }: CsrfForm<NoFields, AdminRole>,
) -> Response {
    set_disabled(&state, ctx, s, &id, false).await
}

async fn set_disabled(
    state: &AppState,
    ctx: Ctx,
    s: Session,
    id: &str,
    disabled: bool,
) -> Response {
    let outcome = if disabled {
        staff::disable(&state.db, id, &s.user).await
    } else {
        staff::enable(&state.db, id, &s.user).await
    };
    match outcome {
        // Already in the wanted state (or gone): the list shows how things are.
        Ok(()) | Err(IdentityError::NotFound) => Redirect::to("/admin/staff").into_response(),
        Err(IdentityError::Conflict(_)) => {
            let errors = vec![(
                "accounts".to_owned(),
                ctx.t().get("accounts.self_disable").to_owned(),
            )];
            let f = AccountForm {
                role: Role::Officer.as_str().to_owned(),
                ..AccountForm::default()
            };
            list_page(state, &ctx, &s, StatusCode::CONFLICT, errors, f, None).await
        }
        Err(e) => server_error(ctx.lang, &e.to_string()),
    }
}
