//! Registry APIs: identity verification and record lookup. Every call that touches a citizen
//! is written to the access log (client, purpose, citizen, outcome) before the answer leaves.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use motcua_db::access_log::{AccessEntry, ActorKind};
use motcua_domain::Pid;
use motcua_identity::clients::ApiClient;
use motcua_registry::throttle::Verdict;
use motcua_registry::verify::{self, VerificationRequest};
use motcua_registry::{FieldError, citizens};

use super::JsonBody;
use crate::AppState;
use crate::auth::ApiClientAuth;
use crate::error::Problem;
use crate::middleware::RequestIdText;

fn entry(
    client: &ApiClient,
    action: &str,
    purpose: &str,
    pid: Pid,
    outcome: &str,
    rid: Option<String>,
) -> AccessEntry {
    AccessEntry {
        at: motcua_db::clock::now_us(),
        actor_kind: ActorKind::Client,
        actor_id: client.id.clone(),
        actor_name: client.name.clone(),
        action: action.to_owned(),
        purpose: purpose.to_owned(),
        reference: None,
        subject_pid: Some(pid.as_i64()),
        outcome: outcome.to_owned(),
        request_id: rid,
    }
}

/// `POST /api/v1/registry/verifications` (scope `registry.verify`).
pub async fn verify(
    State(state): State<AppState>,
    RequestIdText(rid): RequestIdText,
    ApiClientAuth(client): ApiClientAuth,
    body: Result<JsonBody<VerificationRequest>, Response>,
) -> Result<Response, Problem> {
    if !client.has_scope("registry.verify") {
        return Err(Problem::forbidden("registry.verify"));
    }
    let JsonBody(req) = match body {
        Ok(b) => b,
        Err(resp) => return Ok(resp),
    };
    let v = req.check().map_err(Problem::invalid)?;
    let now = motcua_db::clock::now_us();
    let verdict = state
        .verification_throttle
        .verify(&state.db, &client.id, &v, now)
        .await?;
    let (outcome, answer) = match verdict {
        Verdict::Answered(result) => (
            if result.matched { "match" } else { "no_match" },
            Ok(result),
        ),
        Verdict::Throttled { retry_after_secs } => (
            "throttled",
            Err(Problem::verification_throttled(retry_after_secs)),
        ),
        Verdict::QuotaExceeded { retry_after_secs } => (
            "quota_exceeded",
            Err(Problem::verification_quota_exceeded(retry_after_secs)),
        ),
    };
    // Refused calls are recorded too: they are how an enumeration shows in the log.
    state
        .access_log
        .record(entry(&client, "verify", &v.purpose, v.pid, outcome, rid))
        .await?;
    Ok(Json(answer?).into_response())
}

/// The lookup's one query parameter, `purpose`. Any other parameter, or `purpose` twice, is
/// refused by name: a misspelt `purpse=` must not read as a lookup without a purpose, and a
/// client learns of its mistake instead of having it ignored.
fn lookup_purpose(pairs: &[(String, String)], errors: &mut Vec<FieldError>) -> Option<String> {
    let mut purpose = None;
    let mut well_formed = true;
    for (name, value) in pairs {
        if name != "purpose" {
            let shown = if name.is_empty() {
                "(empty name)"
            } else {
                name
            };
            errors.push(FieldError::new(
                shown,
                "query.unknown_parameter",
                "is not a parameter of this operation (only purpose is)",
            ));
            well_formed = false;
        } else if purpose.replace(value.as_str()).is_some() {
            errors.push(FieldError::new(
                "purpose",
                "query.repeated",
                "must be given once",
            ));
            well_formed = false;
        }
    }
    let checked = verify::check_purpose(purpose)
        .map_err(|e| errors.push(e))
        .ok();
    checked.filter(|_| well_formed)
}

/// `GET /api/v1/registry/citizens/{pid}?purpose=…` (scope `registry.lookup`).
pub async fn lookup(
    State(state): State<AppState>,
    RequestIdText(rid): RequestIdText,
    ApiClientAuth(client): ApiClientAuth,
    Path(pid): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    if !client.has_scope("registry.lookup") {
        return Err(Problem::forbidden("registry.lookup"));
    }
    let mut errors = Vec::new();
    let pid = Pid::parse(&pid)
        .map_err(|e| errors.push(FieldError::new("pid", e.code(), e.to_string())))
        .ok();
    let purpose = lookup_purpose(&pairs, &mut errors);
    let (Some(pid), Some(purpose)) = (pid, purpose) else {
        return Err(Problem::invalid(errors));
    };
    let citizen = citizens::get(&state.db, pid).await?;
    let outcome = if citizen.is_some() {
        "found"
    } else {
        "not_found"
    };
    state
        .access_log
        .record(entry(&client, "lookup", &purpose, pid, outcome, rid))
        .await?;
    match citizen {
        Some(c) => Ok(Json(c).into_response()),
        None => Err(Problem::not_found(
            "no citizen has this personal identification number",
        )),
    }
}
