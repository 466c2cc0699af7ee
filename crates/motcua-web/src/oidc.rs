//! The OpenID Connect provider's published documents: discovery (OpenID Connect Discovery
//! 1.0 §4, at `/.well-known/openid-configuration` on the server's own origin) and the JWK Set
//! of its signing keys (`/oidc/jwks`), with the keys that are about to sign and those whose
//! tokens may still be in use (`motcua_identity::signing_keys`).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::error::Problem;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oidc/jwks", get(jwks))
}

/// The issuer: the configured public URL, else this request's own origin (development).
pub fn issuer(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn discovery(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let issuer = issuer(&state, &headers);
    let document = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/oidc/jwks"),
        "id_token_signing_alg_values_supported": [motcua_identity::jose::ALG],
        "acr_values_supported": ["1", "2"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
    });
    cached(Json(document).into_response(), 3600)
}

async fn jwks(State(state): State<AppState>) -> Response {
    let now = motcua_db::clock::now_us();
    // Make the first key now rather than with the first token, so the set is never empty.
    if let Err(e) = motcua_identity::signing_keys::signing_key(&state.db, now).await {
        return Problem::from(e).into_response();
    }
    match motcua_identity::signing_keys::jwks(&state.db, now).await {
        Ok(set) => {
            let mut resp = Json(set).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            // Short: a rotation publishes its key an hour before it signs.
            cached(resp, 300)
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

fn cached(mut resp: Response, secs: u32) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={secs}")) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    resp
}
