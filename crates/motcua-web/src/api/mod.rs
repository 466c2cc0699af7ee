//! The JSON API for agency systems, under `/api/v1`.

pub mod openapi;
pub mod registry;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::{ErrorCode, Problem};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/registry/verifications", post(registry::verify))
        .route("/api/v1/registry/citizens/{pid}", get(registry::lookup))
        .fallback(fallback)
}

async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        Problem::not_found("no such API route").into_response()
    } else {
        crate::pages::not_found_page(&req).into_response()
    }
}

/// A JSON body whose every failure is a problem+json: wrong content type (415), malformed or
/// mistyped JSON (400, with the parser's position and reason).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let ct = ct.split(';').next().unwrap_or("").trim();
                ct.eq_ignore_ascii_case("application/json") || ct.ends_with("+json")
            });
        if !is_json {
            return Err(Problem::of(ErrorCode::UnsupportedMediaType).into_response());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorCode::BodyTooLarge
            } else {
                ErrorCode::BodyUnreadable
            };
            Problem::of(code).detail(e.body_text()).into_response()
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            Problem::of(ErrorCode::InvalidJson)
                .detail(e.to_string())
                .into_response()
        })
    }
}
