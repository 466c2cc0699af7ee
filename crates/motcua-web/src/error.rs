//! API errors as RFC 9457 `application/problem+json`, with a stable machine `code` and, for
//! bad input, `errors` naming each field.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use motcua_registry::{FieldError, RegistryError};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Sent as the `Retry-After` header (seconds), not in the body.
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, title: &str) -> Problem {
        Problem {
            type_uri: format!("https://motcua.example/problems/{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail: None,
            errors: Vec::new(),
            request_id: None,
            retry_after_secs: None,
        }
    }

    pub fn retry_after(mut self, secs: u64) -> Problem {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Too many non-matching answers for one PID: `verification.throttled` (429).
    pub fn verification_throttled(retry_after_secs: u64) -> Problem {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "verification.throttled",
            "Too many verifications of this PID did not match",
        )
        .detail(format!(
            "this client may verify this personal identification number again in {retry_after_secs} s"
        ))
        .retry_after(retry_after_secs)
    }

    /// The client's daily quota is used up: `verification.quota_exceeded` (429).
    pub fn verification_quota_exceeded(retry_after_secs: u64) -> Problem {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "verification.quota_exceeded",
            "The daily verification quota of this client is used up",
        )
        .detail(format!(
            "the quota starts again at midnight (Asia/Ho_Chi_Minh), in {retry_after_secs} s"
        ))
        .retry_after(retry_after_secs)
    }

    pub fn detail(mut self, d: impl Into<String>) -> Problem {
        self.detail = Some(d.into());
        self
    }

    pub fn invalid(errors: Vec<FieldError>) -> Problem {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The request has invalid fields",
        );
        p.detail = Some(
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        );
        p.errors = errors;
        p
    }

    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .detail("send HTTP Basic credentials client_id:client_secret")
    }

    pub fn forbidden(scope: &str) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The client lacks the required scope",
        )
        .detail(format!("this call needs the scope {scope}"))
    }

    pub fn not_found(what: &str) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "Not found").detail(what.to_owned())
    }

    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"motcua\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}

impl From<RegistryError> for Problem {
    fn from(e: RegistryError) -> Problem {
        match e {
            RegistryError::Invalid(errors) => Problem::invalid(errors),
            RegistryError::NotFound(what) => Problem::not_found(&what),
            RegistryError::Conflict(what) => {
                Problem::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(what)
            }
            other => {
                tracing::error!(error = %other, "registry error");
                Problem::internal()
            }
        }
    }
}

impl From<motcua_db::DbError> for Problem {
    fn from(e: motcua_db::DbError) -> Problem {
        tracing::error!(error = %e, "storage error");
        Problem::internal()
    }
}

impl From<motcua_identity::IdentityError> for Problem {
    fn from(e: motcua_identity::IdentityError) -> Problem {
        match e {
            motcua_identity::IdentityError::Invalid { field, message } => {
                Problem::invalid(vec![FieldError::new(field, "invalid", message)])
            }
            motcua_identity::IdentityError::Busy { retry_after_secs } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Too many requests are waiting; try again shortly",
            )
            .retry_after(retry_after_secs),
            other => {
                tracing::error!(error = %other, "identity error");
                Problem::internal()
            }
        }
    }
}
