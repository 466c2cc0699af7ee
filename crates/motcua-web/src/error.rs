//! API errors as RFC 9457 `application/problem+json`, with a stable machine `code` and, for
//! bad input, `errors` naming each field.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use motcua_domain::FieldError;
use motcua_registry::RegistryError;
use serde::Serialize;

/// Every problem the platform answers with, in one flat list. Each has its HTTP status, its
/// stable machine code (a problem's `code`, and the last segment of its `type` URI), an
/// English title for API callers, and the key of its message in `messages/{vi,en}.txt` for
/// pages. Domain errors become one of these; only a server fault becomes [`ErrorCode::Internal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ValidationFailed,
    InvalidJson,
    BodyUnreadable,
    UnsupportedMediaType,
    BodyTooLarge,
    Unauthorized,
    InsufficientScope,
    CsrfRejected,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Timeout,
    RateLimited,
    VerificationThrottled,
    VerificationQuotaExceeded,
    Overloaded,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::ValidationFailed,
        ErrorCode::InvalidJson,
        ErrorCode::BodyUnreadable,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::BodyTooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::InsufficientScope,
        ErrorCode::CsrfRejected,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::Timeout,
        ErrorCode::RateLimited,
        ErrorCode::VerificationThrottled,
        ErrorCode::VerificationQuotaExceeded,
        ErrorCode::Overloaded,
        ErrorCode::Internal,
    ];

    /// (status, code, title) of each problem.
    fn parts(self) -> (StatusCode, &'static str, &'static str) {
        use ErrorCode::*;
        match self {
            ValidationFailed => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "The request has invalid fields",
            ),
            InvalidJson => (
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "The body is not valid JSON of the expected shape",
            ),
            BodyUnreadable => (
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                "The request body could not be read",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as application/json",
            ),
            BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "The request body is too large",
            ),
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            InsufficientScope => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "The client lacks the required scope",
            ),
            CsrfRejected => (
                StatusCode::FORBIDDEN,
                "csrf_rejected",
                "The form's security token is missing or out of date",
            ),
            NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This route does not accept that method",
            ),
            Conflict => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "The request took too long",
            ),
            RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            VerificationThrottled => (
                StatusCode::TOO_MANY_REQUESTS,
                "verification.throttled",
                "Too many non-matching verifications of this personal identification number",
            ),
            VerificationQuotaExceeded => (
                StatusCode::TOO_MANY_REQUESTS,
                "verification.quota_exceeded",
                "The client's daily verification quota is used up",
            ),
            Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "The server is busy; try again shortly",
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    pub fn status(self) -> StatusCode {
        self.parts().0
    }

    /// The stable machine code.
    pub fn code(self) -> &'static str {
        self.parts().1
    }

    /// The English title API callers get.
    pub fn title(self) -> &'static str {
        self.parts().2
    }

    /// The key of the message shown on pages, in `messages/{vi,en}.txt`.
    pub fn message_key(self) -> String {
        format!("problem.{}", self.code())
    }
}

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
    /// The problem `code`, without detail yet.
    pub fn of(code: ErrorCode) -> Problem {
        Problem {
            type_uri: format!("https://motcua.example/problems/{}", code.code()),
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            code: code.code().to_owned(),
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
        Problem::of(ErrorCode::VerificationThrottled)
            .detail(format!(
            "this client may verify this personal identification number again in {retry_after_secs} s"
        ))
        .retry_after(retry_after_secs)
    }

    /// The client's daily quota is used up: `verification.quota_exceeded` (429).
    pub fn verification_quota_exceeded(retry_after_secs: u64) -> Problem {
        Problem::of(ErrorCode::VerificationQuotaExceeded)
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
        let mut p = Problem::of(ErrorCode::ValidationFailed);
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
        Problem::of(ErrorCode::Unauthorized)
            .detail("send HTTP Basic credentials client_id:client_secret")
    }

    pub fn forbidden(scope: &str) -> Problem {
        Problem::of(ErrorCode::InsufficientScope)
            .detail(format!("this call needs the scope {scope}"))
    }

    pub fn not_found(what: &str) -> Problem {
        Problem::of(ErrorCode::NotFound).detail(what.to_owned())
    }

    pub fn internal() -> Problem {
        Problem::of(ErrorCode::Internal)
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
            RegistryError::Conflict(what) => Problem::of(ErrorCode::Conflict).detail(what),
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
            motcua_identity::IdentityError::Conflict(what) => {
                Problem::of(ErrorCode::Conflict).detail(what)
            }
            motcua_identity::IdentityError::NotFound => Problem::of(ErrorCode::NotFound),
            motcua_identity::IdentityError::Busy { retry_after_secs } => {
                Problem::of(ErrorCode::Overloaded).retry_after(retry_after_secs)
            }
            other => {
                tracing::error!(error = %other, "identity error");
                Problem::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use crate::i18n::Lang;

    #[test]
    fn every_code_is_unique_and_has_a_message_in_both_languages() {
        let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            for lang in [Lang::Vi, Lang::En] {
                let key = code.message_key();
                assert_ne!(lang.messages().get(&key), key, "{key} missing in {lang:?}");
            }
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }
}
