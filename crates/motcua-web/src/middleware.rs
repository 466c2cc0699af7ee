//! Middleware: one frame around every request (request ids, security headers, the language
//! cookie, cross-site refusal, problem+json for API errors, `Cache-Control: no-store` on
//! personal data, HSTS, metrics), a timeout and a body limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::AppState;
use crate::error::{ErrorCode, Problem};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Largest request body accepted anywhere (raised only on upload routes, of which there are
/// none yet).
pub const BODY_LIMIT: usize = 64 * 1024;

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn wrap(router: Router<AppState>, state: AppState) -> Router {
    // One layer stack, applied once: every `Router::layer` call boxes each route again, and
    // each boxing costs a clone and an allocation per request. The body limit sits inside the
    // frame so its 413 answers carry the headers and, for API callers, problem+json.
    let stack = tower::ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(state.clone(), frame))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        // The timeout needs a response body it can make empty.
        .map_response(IntoResponse::into_response)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    router.layer(stack).with_state(state)
}

/// Headers every answer carries unless its handler set them.
const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
    (header::CONTENT_SECURITY_POLICY, CSP),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "same-origin"),
    (
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

/// Everything done around every request, in one pass: the request id (the caller's, when it
/// sends a usable one), the refusal of cross-site form posts, the handler, problem+json for
/// API errors raised below the handlers, security headers, the language cookie, metrics and
/// the log line of a failed request.
async fn frame(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Both clones share their text (an interned method, an `Arc<str>` route).
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let is_api = req.uri().path().starts_with("/api/");
    let request_id = match req.headers().get(REQUEST_ID) {
        Some(given) if usable_request_id(given) => given.clone(),
        _ => {
            let id = REQUEST_IDS.next();
            req.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let language = chosen_language(req.uri());
    let private = private_path(req.uri().path());
    let signed_in = !is_api
        && crate::auth::cookie(req.headers(), crate::auth::session_cookie(&state.config)).is_some();
    let resp = match refuse_cross_site(&req, is_api) {
        Some(refused) => refused,
        None => next.run(req).await,
    };
    let mut resp = if is_api {
        api_errors_as_problems(resp)
    } else {
        resp
    };
    let status = resp.status();
    let headers = resp.headers_mut();
    for (name, value) in &SECURITY_HEADERS {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
    }
    if private || (signed_in && is_html(headers)) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(hsts) = &state.hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    if let Some(lang) = language {
        let cookie = format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    let route = route.as_ref().map_or("unmatched", |m| m.as_str());
    if status.is_server_error() {
        tracing::error!(
            request_id = request_id.to_str().unwrap_or(""),
            method = method.as_str(),
            route,
            status = status.as_u16(),
            "request failed"
        );
    }
    headers.insert(REQUEST_ID, request_id);
    state.metrics.observe(
        method.as_str(),
        route,
        status.as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// Pages for staff and API answers about citizens are never stored by a browser or a shared
/// cache, so personal data does not outlive the session on a shared computer or in a proxy
/// (Decree 13/2023/NĐ-CP: personal data is kept confidential).
fn private_path(path: &str) -> bool {
    ["/staff", "/registry", "/admin", "/api/v1/registry"]
        .iter()
        .any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// Any page shown to a signed-in member of staff may name citizens or staff.
fn is_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"))
}

/// The request's id (given or made by [`frame`]), for records that point back to the request.
pub struct RequestIdText(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestIdText {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let id = parts.headers.get(REQUEST_ID).and_then(|v| v.to_str().ok());
        Ok(RequestIdText(id.map(str::to_owned)))
    }
}

/// A caller's request id is kept when it is short visible ASCII (it ends up in logs).
fn usable_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
}

static REQUEST_IDS: std::sync::LazyLock<NodeRequestIds> =
    std::sync::LazyLock::new(NodeRequestIds::new);

/// Request ids unique across nodes and restarts: a random prefix chosen at start and a
/// counter. A random UUID per request cost a `getrandom` system call on the hot path.
struct NodeRequestIds {
    prefix: String,
    next: std::sync::atomic::AtomicU64,
}

impl NodeRequestIds {
    fn new() -> NodeRequestIds {
        let random = uuid::Uuid::now_v7().simple().to_string();
        // The last 16 hex digits of a v7 UUID are random (the first 12 are the time).
        let prefix = random.get(16..).unwrap_or(&random).to_owned();
        NodeRequestIds {
            prefix,
            next: Default::default(),
        }
    }

    fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .unwrap_or_else(|_| HeaderValue::from_static("unnumbered"))
    }
}

const OPEN_TO_OTHER_SITES: &[&str] = &[
    "/oidc/authorize",
    "/oidc/token",
    "/oidc/par",
    "/oidc/revoke",
    "/oidc/introspect",
    "/oidc/userinfo",
];

/// State-changing requests from another site are refused (CSRF defence in depth, beside the
/// per-form tokens): browsers send `Sec-Fetch-Site` and `Origin`.
/// The OpenID Connect provider's endpoints that other sites call by design (relying parties'
/// back ends, browser apps, and a form post that starts an authorization) are not refused:
/// none acts on a browser's cookies alone.
fn refuse_cross_site(req: &Request, is_api: bool) -> Option<Response> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || is_api || OPEN_TO_OTHER_SITES.contains(&req.uri().path()) {
        return None;
    }
    let h = req.headers();
    let site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let cross_site = matches!(site, Some("cross-site") | Some("same-site"));
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_mismatch = match (h.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) != Some(host),
        _ => false,
    };
    (cross_site || origin_mismatch)
        .then(|| (StatusCode::FORBIDDEN, "cross-site request refused").into_response())
}

/// API callers get every error as problem+json, including the ones produced by the router and
/// by tower layers (wrong method, body too large, timeout), which come with a bare body.
fn api_errors_as_problems(resp: Response) -> Response {
    let bare = !resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/problem+json"));
    if !bare || resp.status().is_success() {
        return resp;
    }
    let problem = match resp.status() {
        StatusCode::METHOD_NOT_ALLOWED => Problem::of(ErrorCode::MethodNotAllowed),
        StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::of(ErrorCode::BodyTooLarge).detail(format!("the limit is {BODY_LIMIT} bytes"))
        }
        StatusCode::REQUEST_TIMEOUT => Problem::of(ErrorCode::Timeout),
        _ => return resp,
    };
    let allow = resp.headers().get(header::ALLOW).cloned();
    let mut out = problem.into_response();
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

/// `?lang=en|vi` on any page sets the `lang` cookie so the next pages keep the choice.
fn chosen_language(uri: &axum::http::Uri) -> Option<crate::i18n::Lang> {
    crate::i18n::Lang::from_query(uri)
}

/// A fixed-window limiter keyed by client address (per node; a shared limit belongs in the
/// reverse proxy).
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            limit,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// True if `ip` may make another attempt now.
    pub fn allow(&self, ip: IpAddr) -> bool {
        let Ok(mut hits) = self.hits.lock() else {
            return true;
        };
        let now = Instant::now();
        if hits.len() > 100_000 {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = hits.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.limit
    }
}

/// A 413/408/… from tower layers arrives as plain text; API callers get problem+json
/// from the handlers themselves, which covers the cases they can cause.
pub fn too_many_requests() -> Response {
    Problem::of(ErrorCode::RateLimited)
        .detail("wait a minute and try again")
        .into_response()
}
