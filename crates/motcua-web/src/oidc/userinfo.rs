//! The userinfo endpoint (OpenID Connect Core §5.3): the citizen's claims from the population
//! registry, only those her grant's scopes cover (§5.4). Each answer is a read of her
//! personal data by a relying party, so it goes into the access log, where she sees it.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use motcua_db::access_log::{AccessEntry, ActorKind};
use motcua_domain::Gender;
use motcua_identity::citizen_accounts;
use motcua_identity::oidc::access_tokens::{self, AccessClaims};
use motcua_identity::oidc::dpop;
use serde_json::{Map, Value, json};

use super::{issuer, no_store};
use crate::AppState;
use crate::middleware::REQUEST_ID;

/// An error of a protected resource (RFC 6750 §3, RFC 9449 §7.1), in `WWW-Authenticate`.
fn challenge(status: StatusCode, scheme: &str, error: &str, description: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    let value = format!("{scheme} error=\"{error}\", error_description=\"{description}\"");
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    no_store(&mut resp);
    resp
}

/// The access token of a request to a protected resource at `url`, verified: bearer, or
/// DPoP-bound with a proof of its key (RFC 9449 §7). `Err` is the answer to send.
pub async fn access_token(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    url: &str,
) -> Result<AccessClaims, Response> {
    let unauthorized = |scheme: &str, error: &str, why: &str| {
        challenge(StatusCode::UNAUTHORIZED, scheme, error, why)
    };
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        // No credentials at all: a bare challenge, without an error code (RFC 6750 §3.1).
        let mut resp = StatusCode::UNAUTHORIZED.into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"motcua\", DPoP algs=\"ES256\""),
        );
        no_store(&mut resp);
        return Err(resp);
    };
    let (scheme, token) = match value.split_once(' ') {
        Some((s, t)) if s.eq_ignore_ascii_case("bearer") => ("Bearer", t.trim()),
        Some((s, t)) if s.eq_ignore_ascii_case("dpop") => ("DPoP", t.trim()),
        _ => {
            return Err(unauthorized(
                "Bearer",
                "invalid_request",
                "use the Bearer or DPoP scheme",
            ));
        }
    };
    let now = motcua_db::clock::now_us();
    let iss = issuer(state, headers);
    let claims = match access_tokens::verify(&state.db, &state.keys, &iss, token, now).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(unauthorized(
                scheme,
                "invalid_token",
                "the access token is not valid",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "access token check failed");
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    };
    match (&claims.jkt, scheme) {
        (Some(jkt), "DPoP") => {
            let Ok(Some(proof)) = super::token::dpop_header(headers) else {
                return Err(unauthorized(
                    "DPoP",
                    "invalid_dpop_proof",
                    "a DPoP proof is required",
                ));
            };
            match dpop::verify_proof(&state.db, proof, method.as_str(), url, Some(token), now).await
            {
                Ok(k) if &k == jkt => Ok(claims),
                Ok(_) => Err(unauthorized(
                    "DPoP",
                    "invalid_token",
                    "the proof is not signed by the token's key",
                )),
                Err(e) => Err(unauthorized("DPoP", "invalid_dpop_proof", &e.to_string())),
            }
        }
        (Some(_), _) => Err(unauthorized(
            "DPoP",
            "invalid_token",
            "this token is bound to a DPoP key: use the DPoP scheme",
        )),
        (None, "DPoP") => Err(unauthorized(
            "Bearer",
            "invalid_token",
            "this token is a bearer token",
        )),
        (None, _) => Ok(claims),
    }
}

/// `GET` or `POST /oidc/userinfo`.
pub async fn userinfo(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let url = format!("{}/oidc/userinfo", issuer(&state, &headers));
    let claims = match access_token(&state, &headers, &method, &url).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let scheme = if claims.jkt.is_some() {
        "DPoP"
    } else {
        "Bearer"
    };
    if claims.grant_id.is_none() || !claims.has_scope("openid") {
        return challenge(
            StatusCode::FORBIDDEN,
            scheme,
            "insufficient_scope",
            "userinfo needs a citizen's token with openid",
        );
    }
    match claims_of(&state, &headers, &claims).await {
        Ok(Some(body)) => {
            let mut resp = Json(body).into_response();
            no_store(&mut resp);
            resp
        }
        Ok(None) => challenge(
            StatusCode::UNAUTHORIZED,
            scheme,
            "invalid_token",
            "the account is closed",
        ),
        Err(e) => {
            tracing::error!(error = %e, "userinfo failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn claims_of(
    state: &AppState,
    headers: &HeaderMap,
    claims: &AccessClaims,
) -> Result<Option<Value>, Box<dyn std::error::Error + Send + Sync>> {
    let Some(account) = citizen_accounts::by_id(&state.db, &claims.sub).await? else {
        return Ok(None);
    };
    if account.closed {
        return Ok(None);
    }
    let mut out = Map::new();
    out.insert("sub".into(), json!(account.id));
    let wants_registry = ["profile", "pid", "birthdate", "address", "phone", "email"]
        .iter()
        .any(|s| claims.has_scope(s));
    if wants_registry {
        let Some(person) = motcua_registry::citizens::get(&state.db, account.pid).await? else {
            return Ok(Some(Value::Object(out)));
        };
        if claims.has_scope("profile") {
            let parts: Vec<&str> = person.full_name.split_whitespace().collect();
            out.insert("name".into(), json!(person.full_name));
            // A Vietnamese name is family name first, given name last (Nguyễn Văn An).
            if let (Some(first), Some(last)) = (parts.first(), parts.last()) {
                out.insert("family_name".into(), json!(first));
                out.insert("given_name".into(), json!(last));
                if parts.len() > 2 {
                    out.insert(
                        "middle_name".into(),
                        json!(parts[1..parts.len() - 1].join(" ")),
                    );
                }
            }
            if let Ok(g) = Gender::parse(&person.gender) {
                let gender = match g {
                    Gender::Male => "male",
                    Gender::Female => "female",
                };
                out.insert("gender".into(), json!(gender));
            }
            out.insert("locale".into(), json!("vi-VN"));
        }
        if claims.has_scope("pid") {
            out.insert("pid".into(), json!(person.pid));
        }
        if claims.has_scope("birthdate") {
            out.insert("birthdate".into(), json!(person.date_of_birth));
        }
        if claims.has_scope("address")
            && let Some(address) = &person.residence_address
        {
            let region = person
                .residence_province
                .and_then(motcua_registry::admin_units::province_names)
                .map(|(vi, _)| vi);
            out.insert(
                "address".into(),
                json!({ "formatted": address, "region": region, "country": "VN" }),
            );
        }
        if claims.has_scope("phone")
            && let Some(phone) = &person.phone
        {
            out.insert("phone_number".into(), json!(phone));
            out.insert("phone_number_verified".into(), json!(false));
        }
        if claims.has_scope("email")
            && let Some(email) = &person.email
        {
            out.insert("email".into(), json!(email));
            out.insert("email_verified".into(), json!(false));
        }
        let client_name = state
            .relying_parties
            .get(&state.db, &claims.client_id, motcua_db::clock::now_us())
            .await?
            .map(|c| c.name.clone())
            .unwrap_or_else(|| claims.client_id.clone());
        state
            .access_log
            .record(AccessEntry {
                at: motcua_db::clock::now_us(),
                actor_kind: ActorKind::Client,
                actor_id: claims.client_id.clone(),
                actor_name: client_name,
                action: "view.userinfo".into(),
                purpose: format!("OpenID Connect userinfo: {}", claims.scopes.join(" ")),
                reference: claims.grant_id.clone(),
                subject_pid: Some(account.pid.as_i64()),
                outcome: "found".into(),
                request_id: headers
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            })
            .await?;
    }
    Ok(Some(Value::Object(out)))
}
