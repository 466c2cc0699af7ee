//! Administration of the OpenID Connect provider's clients: the portals that log citizens in
//! and the agency systems that take `client_credentials` tokens. The rules are
//! `motcua_identity::relying_parties`'; the secret, when there is one, is shown once.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use motcua_identity::IdentityError;
use motcua_identity::relying_parties::{self, AGENCY_SCOPES, CITIZEN_SCOPES, Registration};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Ctx;
use crate::kit::{AdminRole, CsrfForm, FormErrors, SignedIn};
use crate::pages::{Chrome, local_time, render};

struct RpView {
    id: String,
    name: String,
    kind: String,
    redirect_uris: String,
    scopes: String,
    created: String,
}

#[derive(Template)]
#[template(path = "relying_parties.html")]
struct ListPage {
    c: Chrome,
    errors: FormErrors,
    parties: Vec<RpView>,
    scopes: Vec<&'static str>,
    f: RpForm,
}

#[derive(Template)]
#[template(path = "relying_party_created.html")]
struct CreatedPage {
    c: Chrome,
    name: String,
    client_id: String,
    client_secret: Option<String>,
}

/// The registration form, all text (checkboxes are `on` or absent).
#[derive(Deserialize, Default, Clone)]
pub struct RpForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    #[serde(default)]
    backchannel_logout_uri: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    jwks: String,
    #[serde(default)]
    scope: String,
    require_par: Option<String>,
    require_dpop: Option<String>,
}

async fn list_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    errors: FormErrors,
    f: RpForm,
) -> Response {
    let parties = match relying_parties::list(&state.db).await {
        Ok(l) => l,
        Err(e) => return crate::pages::server_error(ctx.lang, &e.to_string()),
    };
    let t = ctx.t();
    let parties = parties
        .into_iter()
        .map(|p| {
            let kind = if p.has_grant("client_credentials") {
                "rp.kind.agency"
            } else if p.is_public() {
                "rp.kind.public"
            } else {
                "rp.kind.confidential"
            };
            RpView {
                kind: format!("{} ({})", t.get(kind), p.auth_method),
                redirect_uris: p.redirect_uris.join(" "),
                scopes: p.scopes.join(" "),
                created: local_time(p.created_at),
                id: p.client_id,
                name: p.name,
            }
        })
        .collect();
    render(
        status,
        &ListPage {
            c: Chrome::new(ctx, "rp.title"),
            errors,
            parties,
            scopes: CITIZEN_SCOPES
                .iter()
                .chain(AGENCY_SCOPES)
                .copied()
                .collect(),
            f,
        },
    )
}

/// `GET /admin/relying-parties`.
pub async fn list(
    State(state): State<AppState>,
    SignedIn(ctx, _, _): SignedIn<AdminRole>,
) -> Response {
    list_page(
        &state,
        &ctx,
        StatusCode::OK,
        FormErrors::new(),
        RpForm::default(),
    )
    .await
}

fn lines(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// `POST /admin/relying-parties`.
pub async fn create(
    State(state): State<AppState>,
    CsrfForm {
        ctx,
        session,
        form: f,
        ..
    }: CsrfForm<RpForm, AdminRole>,
) -> Response {
    let (public, auth_method, grants) = match f.kind.as_str() {
        "public" => (true, None, vec![]),
        "private_key_jwt" => (false, Some("private_key_jwt".to_owned()), vec![]),
        "agency" => (false, None, vec!["client_credentials".to_owned()]),
        _ => (false, None, vec![]),
    };
    let registration = Registration {
        name: f.name.clone(),
        redirect_uris: lines(&f.redirect_uris),
        public,
        auth_method,
        jwks: Some(f.jwks.trim().to_owned()).filter(|j| !j.is_empty()),
        grants,
        scopes: lines(&f.scope),
        post_logout_redirect_uris: lines(&f.post_logout_redirect_uris),
        backchannel_logout_uri: Some(f.backchannel_logout_uri.trim().to_owned())
            .filter(|u| !u.is_empty()),
        require_par: f.require_par.is_some(),
        require_dpop: f.require_dpop.is_some(),
    };
    let actor = format!("staff:{}", session.user.username);
    match relying_parties::create(&state.db, &registration, &actor).await {
        Ok(issued) => {
            let mut resp = render(
                StatusCode::OK,
                &CreatedPage {
                    c: Chrome::new(&ctx, "rp.created_title"),
                    name: registration.name.clone(),
                    client_id: issued.client_id,
                    client_secret: issued.client_secret,
                },
            );
            resp.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            resp
        }
        Err(problems) => {
            let mut errors = FormErrors::new();
            for p in problems {
                match p {
                    IdentityError::Invalid { field, message } => {
                        let id = match field {
                            "redirect_uri" => "redirect_uris",
                            "post_logout_redirect_uri" => "post_logout_redirect_uris",
                            "auth_method" | "grant" => "kind",
                            other => other,
                        };
                        errors.add(id, format!("{field}: {message}"));
                    }
                    other => return crate::pages::server_error(ctx.lang, &other.to_string()),
                }
            }
            list_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, errors, f).await
        }
    }
}
