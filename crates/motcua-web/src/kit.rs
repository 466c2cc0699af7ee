//! The web kit every page handler builds on: a signed-in staff member holding a role
//! ([`SignedIn`]), a form whose CSRF token has been checked ([`CsrfForm`]), and the errors of a
//! form ([`FormErrors`]), rendered by the `errors.html` summary partial.
//!
//! A state-changing request, and any request that reads personal data, is a POST whose form
//! carries the session's CSRF token: a link or form on another site must not act in an
//! officer's name (the middleware also refuses cross-site POSTs by their headers).

use std::marker::PhantomData;

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::sessions::Session;
use motcua_identity::staff::Role;
use motcua_identity::token::constant_time_eq;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::auth::Ctx;

/// Which staff roles may use a page.
pub trait RoleRequirement {
    fn allows(role: Role) -> bool;
}

/// Any signed-in staff member.
pub struct AnyRole;

impl RoleRequirement for AnyRole {
    fn allows(_: Role) -> bool {
        true
    }
}

/// Administrators only.
pub struct AdminRole;

impl RoleRequirement for AdminRole {
    fn allows(role: Role) -> bool {
        role == Role::Admin
    }
}

/// A signed-in staff member whose role `R` allows: anonymous visitors are sent to the login
/// page, other roles get the "forbidden" page.
pub struct SignedIn<R: RoleRequirement = AnyRole>(pub Ctx, pub Session, pub PhantomData<R>);

impl<R: RoleRequirement> FromRequestParts<AppState> for SignedIn<R> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        let Some(session) = ctx.session.clone() else {
            return Err(Redirect::to("/login").into_response());
        };
        if !R::allows(session.user.role) {
            return Err(crate::pages::forbidden(&ctx));
        }
        Ok(SignedIn(ctx, session, PhantomData))
    }
}

#[derive(Deserialize)]
struct WithToken<T> {
    csrf: Option<String>,
    #[serde(flatten)]
    fields: T,
}

/// A URL-encoded form posted by a signed-in staff member of role `R`, with the session's CSRF
/// token checked in constant time. The form's own fields must be text (`String` or
/// `Option<String>`): they are parsed after the token is taken out.
pub struct CsrfForm<T, R: RoleRequirement = AnyRole> {
    pub ctx: Ctx,
    pub session: Session,
    pub form: T,
    role: PhantomData<R>,
}

impl<T, R> FromRequest<AppState> for CsrfForm<T, R>
where
    T: DeserializeOwned,
    R: RoleRequirement,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let SignedIn(ctx, session, _) =
            SignedIn::<R>::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let refused = |ctx: &Ctx| {
            crate::pages::message(ctx, StatusCode::FORBIDDEN, "error.forbidden", "error.csrf")
        };
        let Form(WithToken { csrf, fields }) =
            match Form::<WithToken<T>>::from_request(req, state).await {
                Ok(f) => f,
                Err(e) => return Err((e.status(), e.body_text()).into_response()),
            };
        if !constant_time_eq(&session.csrf_token, csrf.as_deref().unwrap_or("")) {
            return Err(refused(&ctx));
        }
        Ok(CsrfForm {
            ctx,
            session,
            form: fields,
            role: PhantomData,
        })
    }
}

/// A form with nothing but its CSRF token (a button that acts on the resource in its path).
#[derive(Deserialize)]
pub struct NoFields {}

/// The errors of a submitted form, each naming the field (its element id, for the summary's
/// links) and a message in the page's language.
#[derive(Debug, Default, Clone)]
pub struct FormErrors(Vec<(String, String)>);

impl FormErrors {
    pub fn new() -> FormErrors {
        FormErrors::default()
    }

    /// Adds an error for `field` with a message already in the page's language.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }

    /// Adds an error for `field` with the message of `key` in the page's language.
    pub fn add_key(&mut self, ctx: &Ctx, field: &str, key: &str) {
        self.add(field, ctx.t().get(key));
    }

    /// Adds the errors a service reported, each already naming its field.
    pub fn extend_fields(&mut self, errors: Vec<motcua_registry::FieldError>) {
        self.0
            .extend(errors.into_iter().map(|e| (e.field, e.message)));
    }

    /// Adds every error of `other`, after this form's own.
    pub fn append(&mut self, other: FormErrors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }

    /// 200 for a clean form, 422 when it has errors.
    pub fn status(&self) -> StatusCode {
        if self.0.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, (String, String)> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a FormErrors {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A citizen logged in at the provider (the single sign-on cookie); anyone else is sent to
/// the portal's login, which goes through the OpenID Connect provider.
pub struct Citizen(pub Ctx, pub motcua_identity::oidc::sessions::CitizenSession);

impl FromRequestParts<AppState> for Citizen {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        match crate::auth::citizen_session(state, &parts.headers).await {
            Ok(Some(session)) => Ok(Citizen(ctx, session)),
            Ok(None) => Err(Redirect::to("/auth/login").into_response()),
            Err(e) => Err(crate::pages::server_error(ctx.lang, &e.to_string())),
        }
    }
}

/// A form posted by a logged-in citizen, with her session's CSRF token checked.
pub struct CitizenForm<T> {
    pub ctx: Ctx,
    pub session: motcua_identity::oidc::sessions::CitizenSession,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CitizenForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Citizen(ctx, session) = Citizen::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let Form(WithToken { csrf, fields }) =
            match Form::<WithToken<T>>::from_request(req, state).await {
                Ok(f) => f,
                Err(e) => return Err((e.status(), e.body_text()).into_response()),
            };
        if !constant_time_eq(&session.csrf_token, csrf.as_deref().unwrap_or("")) {
            return Err(crate::pages::message(
                &ctx,
                StatusCode::FORBIDDEN,
                "error.forbidden",
                "error.csrf",
            ));
        }
        Ok(CitizenForm {
            ctx,
            session,
            form: fields,
        })
    }
}

/// The CSRF token of a form shown before any session exists (login, registration): a random
/// value in a cookie and in the form, which another site can neither read nor set.
pub fn pre_session_csrf(state: &AppState) -> (String, axum::http::HeaderValue) {
    let token = motcua_identity::token::random_token(24);
    let cookie = crate::auth::cookie_header(
        state,
        crate::auth::login_csrf_cookie(&state.config),
        &token,
        Some(3600),
    );
    (token, cookie)
}

/// Whether a pre-session form carries the token of its cookie.
pub fn pre_session_csrf_ok(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    given: Option<&str>,
) -> bool {
    let expected =
        crate::auth::cookie(headers, crate::auth::login_csrf_cookie(&state.config)).unwrap_or("");
    !expected.is_empty() && constant_time_eq(expected, given.unwrap_or(""))
}
