//! Administration pages: agency API clients here, staff accounts in [`staff`].

pub mod jobs;
pub mod mailbox;
pub mod organisations;
pub mod relying_parties;
pub mod staff;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::IdentityError;
use motcua_identity::clients::{self, ApiClient};
use serde::Deserialize;

use super::{Chrome, local_time, render};
use crate::AppState;
use crate::auth::Ctx;
use crate::kit::{AdminRole, CsrfForm, NoFields, SignedIn};

pub struct ClientView {
    id: String,
    name: String,
    scopes: String,
    created: String,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage {
    c: Chrome,
    errors: Vec<(String, String)>,
    clients: Vec<ClientView>,
    name: String,
}

#[derive(Template)]
#[template(path = "client_created.html")]
struct CreatedPage {
    c: Chrome,
    name: String,
    client_id: String,
    client_secret: String,
}

fn view(c: &ApiClient) -> ClientView {
    ClientView {
        id: c.id.clone(),
        name: c.name.clone(),
        scopes: c.scopes.join(", "),
        created: local_time(c.created_at),
        disabled: c.disabled,
    }
}

async fn list_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    errors: Vec<(String, String)>,
    name: String,
) -> Response {
    match clients::list(&state.db).await {
        Ok(list) => render(
            status,
            &ClientsPage {
                c: Chrome::new(ctx, "clients.title"),
                errors,
                clients: list.iter().map(view).collect(),
                name,
            },
        ),
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}

pub async fn clients(
    State(state): State<AppState>,
    SignedIn(ctx, _, _): SignedIn<AdminRole>,
) -> Response {
    list_page(&state, &ctx, StatusCode::OK, Vec::new(), String::new()).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    name: Option<String>,
    scope_verify: Option<String>,
    scope_lookup: Option<String>,
}

pub async fn create_client(
    State(state): State<AppState>,
    CsrfForm {
        ctx,
        session: s,
        form: f,
        ..
    }: CsrfForm<CreateForm, AdminRole>,
) -> Response {
    let name = f.name.unwrap_or_default();
    let mut scopes = Vec::new();
    if f.scope_verify.is_some() {
        scopes.push("registry.verify".to_owned());
    }
    if f.scope_lookup.is_some() {
        scopes.push("registry.lookup".to_owned());
    }
    let actor = format!("staff:{}", s.user.username);
    match clients::create(&state.db, &name, &scopes, &actor).await {
        Ok(issued) => render(
            StatusCode::CREATED,
            &CreatedPage {
                c: Chrome::new(&ctx, "clients.created_title"),
                name: name.trim().to_owned(),
                client_id: issued.client_id,
                client_secret: issued.client_secret,
            },
        ),
        Err(IdentityError::Invalid { field, message }) => {
            let label = ctx.t().get(if field == "name" {
                "clients.name"
            } else {
                "clients.scopes"
            });
            list_page(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![(field.to_owned(), format!("{label}: {message}"))],
                name,
            )
            .await
        }
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}

pub async fn disable_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm {
        ctx, session: s, ..
    }: CsrfForm<NoFields, AdminRole>,
) -> Response {
    match clients::disable(&state.db, &id, &format!("staff:{}", s.user.username)).await {
        Ok(()) | Err(IdentityError::NotFound) => Redirect::to("/admin/clients").into_response(),
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}
