//! The whole web application over a real socket: pages, the `/api/v1` JSON API and the
//! operations endpoints, on SQLite or PostgreSQL (`TEST_DATABASE_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use motcua_db::access_log::{AccessLog, AccessRecord};
use motcua_db::testing::{self, TestDb};
use motcua_db::{on_read, sqlx};
use motcua_identity::clients::{self, IssuedClient};
use motcua_identity::password::ArgonParams;
use motcua_identity::staff::{self, Role};
use motcua_registry::csv_io::{self, ImportOptions, NoProgress};
use motcua_web::{AppState, WebConfig};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};

#[path = "http/oidc.rs"]
mod oidc;

const HEADER: &str = "pid,full_name,gender,date_of_birth,province_code,household_id,relation_to_head,hometown_province,ethnicity_code\n";
const CSV_ROWS: &str = "\
001095012345,Nguyễn Văn An,M,1995-03-14,001,1,head,036,01
001195012346,Trần Thị Bình,F,1995-07-02,001,1,spouse,001,01
001220000001,Nguyễn Minh Khang,M,2020-01-05,001,1,child,036,01
079085000777,Lê Văn Ánh,M,1985,079,2,head,079,
";

/// Nguyễn Văn An.
const AN: &str = "001095012345";
const AN_I64: i64 = 1_095_012_345;
/// The members of household 1.
const HOUSEHOLD_1: [i64; 3] = [1_095_012_345, 1_195_012_346, 1_220_000_001];
/// Lê Văn Ánh, household 2.
const ANH_I64: i64 = 79_085_000_777;

const ADMIN: (&str, &str, &str) = ("admin", "Quản trị viên Thử", "admin-password-123");
const OFFICER: (&str, &str, &str) = ("officer", "Cán bộ Phạm Thu Hà", "officer-password-123");

struct App {
    base: String,
    db: TestDb,
    access_log: AccessLog,
    /// Scope `registry.verify` only.
    verifier: IssuedClient,
    /// Scopes `registry.verify` and `registry.lookup`.
    reader: IssuedClient,
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

/// The application with settings changed from the tests' defaults by `configure`.
async fn spawn_app_with(configure: impl FnOnce(&mut WebConfig)) -> App {
    let db = testing::fresh().await.unwrap();
    motcua_registry::admin_units::seed(&db).await.unwrap();
    let report = csv_io::import(
        &db,
        std::io::Cursor::new(format!("{HEADER}{CSV_ROWS}").into_bytes()),
        chrono::Utc::now().date_naive(),
        &ImportOptions::default(),
        Box::new(NoProgress),
    )
    .await
    .unwrap();
    assert!(report.is_complete(), "{:?}", report.errors);
    assert_eq!(report.rows_imported, 4);

    let mut config = WebConfig {
        argon: ArgonParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        job_kinds: vec!["mail.send"],
        ..Default::default()
    };
    configure(&mut config);
    let state = AppState::new(db.db.clone(), config).unwrap();
    for (username, name, password, role) in [
        (ADMIN.0, ADMIN.1, ADMIN.2, Role::Admin),
        (OFFICER.0, OFFICER.1, OFFICER.2, Role::Officer),
    ] {
        staff::create(
            &db,
            &state.passwords,
            username,
            name,
            role,
            password,
            "test",
        )
        .await
        .unwrap();
    }
    let verifier = clients::create(
        &db,
        "Cổng dịch vụ công tỉnh",
        &["registry.verify".into()],
        "test",
    )
    .await
    .unwrap();
    let reader = clients::create(
        &db,
        "Cơ quan thuế",
        &["registry.verify".into(), "registry.lookup".into()],
        "test",
    )
    .await
    .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let access_log = state.access_log.clone();
    tokio::spawn(motcua_web::serve(listener, state));
    App {
        base: format!("http://{addr}"),
        db,
        access_log,
        verifier,
        reader,
    }
}

/// A browser: keeps cookies, does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn location(resp: &reqwest::Response) -> &str {
    resp.headers()
        .get(header::LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_field(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_owned()
}

/// The `<code>` values of a page, in order.
fn code_values(html: &str) -> Vec<String> {
    html.split("<code>")
        .skip(1)
        .map(|s| s.split("</code>").next().unwrap().to_owned())
        .collect()
}

/// Posts the login form with the csrf token of a freshly fetched login page.
async fn post_login(
    app: &App,
    b: &reqwest::Client,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let page = b.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_field(&page.text().await.unwrap());
    b.post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// A browser signed in as `who` (`ADMIN` or `OFFICER`).
async fn signed_in(app: &App, who: (&str, &str, &str)) -> reqwest::Client {
    let b = browser();
    let resp = post_login(app, &b, who.0, who.2).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/staff");
    b
}

async fn get_page(b: &reqwest::Client, url: String) -> (StatusCode, String) {
    let resp = b.get(url).send().await.unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

async fn post_form(b: &reqwest::Client, url: String, form: &[(&str, &str)]) -> reqwest::Response {
    b.post(url).form(form).send().await.unwrap()
}

fn api() -> reqwest::Client {
    reqwest::Client::new()
}

async fn verify_as(app: &App, client: &IssuedClient, body: Value) -> reqwest::Response {
    api()
        .post(app.url("/api/v1/registry/verifications"))
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn an_request() -> Value {
    json!({
        "pid": AN,
        "full_name": "Nguyễn Văn An",
        "date_of_birth": "1995-03-14",
        "purpose": "hồ sơ đăng ký khai sinh HS-42",
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

/// Asserts a 422 problem whose `errors` name `field`.
async fn assert_invalid(resp: reqwest::Response, field: &str) {
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "field {field}"
    );
    assert_eq!(content_type(&resp), "application/problem+json");
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["status"], 422);
    assert_eq!(p["code"], "validation_failed");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .expect("errors[]")
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&field), "{field} not in {fields:?}");
}

async fn accesses(app: &App, pid: i64) -> Vec<AccessRecord> {
    app.access_log.by_subject(pid, 100).await.unwrap()
}

// ---------------------------------------------------------------------------------------
// Operations endpoints
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn healthz_and_readyz() {
    let app = spawn_app().await;
    let resp = api().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let resp = api().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(content_type(&resp).starts_with("application/json"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["migrations_current"], true);
    assert_eq!(body["database"], true);
    assert_eq!(body["status"], "ready");
    let engine = if testing::on_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert!(
        body["engine"].as_str().unwrap().starts_with(&engine[..4]),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_label_routes_not_raw_paths() {
    let app = spawn_app().await;
    assert_eq!(
        api()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // A page and an API call with a PID in the path.
    let b = browser();
    let resp = b
        .get(app.url(&format!("/registry/citizens/{AN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "anonymous → login");
    let resp = api()
        .get(app.url(&format!("/api/v1/registry/citizens/{AN}?purpose=audit")))
        .basic_auth(&app.reader.client_id, Some(&app.reader.client_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = api()
        .get(app.url(&format!("/no/such/{AN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let resp = api().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(content_type(&resp).starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    assert!(text.contains("# TYPE motcua_http_requests_total counter"));
    assert!(
        text.contains(
            "motcua_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "motcua_http_requests_total{method=\"GET\",route=\"/registry/citizens/{pid}\",status=\"303\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("route=\"/api/v1/registry/citizens/{pid}\",status=\"200\""),
        "{text}"
    );
    assert!(text.contains("motcua_http_request_duration_seconds_bucket{route=\"/healthz\""));
    assert!(
        !text.contains(AN),
        "a PID leaked into metric labels:\n{text}"
    );
}

#[tokio::test]
async fn openapi_describes_every_api_route() {
    let app = spawn_app().await;
    let resp = api()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // Every route registered under /api/v1 (see motcua_web::api::routes), with its method.
    let routes = [
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/registry/verifications", "post"),
        ("/api/v1/registry/citizens/{pid}", "get"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in routes {
        let op = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} undocumented"))[method];
        assert!(op.is_object(), "{method} {path} undocumented");
        assert!(op["responses"]["200"].is_object(), "{method} {path}");
    }
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    let registered: BTreeSet<&str> = routes.iter().map(|r| r.0).collect();
    assert_eq!(documented, registered);
    // The limits of the verification API are described with their codes and header.
    let refused = &paths["/api/v1/registry/verifications"]["post"]["responses"]["429"];
    assert!(refused["headers"]["Retry-After"].is_object(), "{refused}");
    let description = refused["description"].as_str().unwrap();
    assert!(
        description.contains("verification.throttled"),
        "{description}"
    );
    assert!(
        description.contains("verification.quota_exceeded"),
        "{description}"
    );
    // Every schema reference resolves.
    let text = doc.to_string();
    for part in text.split("\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
}

#[tokio::test]
async fn security_headers_and_request_ids() {
    let app = spawn_app().await;
    let b = browser();
    let unauthorised_api = api()
        .post(app.url("/api/v1/registry/verifications"))
        .json(&an_request())
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised_api.status(), StatusCode::UNAUTHORIZED);
    let responses = vec![
        b.get(app.url("/login")).send().await.unwrap(),
        b.get(app.url("/staff")).send().await.unwrap(),
        b.get(app.url("/no-such-page")).send().await.unwrap(),
        api()
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap(),
        unauthorised_api,
        verify_as(&app, &app.verifier, an_request()).await,
        api().get(app.url("/healthz")).send().await.unwrap(),
    ];
    let mut ids = BTreeSet::new();
    for resp in &responses {
        let h = resp.headers();
        let what = resp.url().path();
        let csp = h
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap_or_else(|| panic!("no CSP on {what}"))
            .to_str()
            .unwrap();
        assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{what}");
        let id = h
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on {what}"))
            .to_str()
            .unwrap();
        assert!(!id.is_empty());
        ids.insert(id.to_owned());
    }
    assert_eq!(ids.len(), responses.len(), "request ids are unique");

    // A client's own request id is echoed, on pages and on the API.
    for path in ["/login", "/api/v1/openapi.json", "/api/v1/nope"] {
        let resp = api()
            .get(app.url(path))
            .header("x-request-id", "test-trace-7f3a")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-request-id"], "test-trace-7f3a", "{path}");
    }
    // One that is too long or not plain visible text is replaced by the server's own.
    for given in ["x".repeat(129), "two words".to_owned()] {
        let resp = api()
            .get(app.url("/login"))
            .header("x-request-id", &given)
            .send()
            .await
            .unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap();
        assert!(!id.is_empty() && id != given, "{given:?} was kept");
    }
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let app = spawn_app().await;
    let resp = api().get(app.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(content_type(&resp), "application/problem+json");
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["status"], 404);
    assert_eq!(p["code"], "not_found");

    let resp = api().get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(content_type(&resp).starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("<html lang=\"vi\">"));
}

// ---------------------------------------------------------------------------------------
// Verification API
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn verification_answers_per_field() {
    let app = spawn_app().await;
    let answer = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(content_type(&resp).starts_with("application/json"));
        resp.json::<Value>().await.unwrap()
    };
    let yes = answer(verify_as(&app, &app.verifier, an_request()).await).await;
    assert_eq!(
        yes,
        json!({ "match": true, "fields": { "full_name": true, "date_of_birth": true } })
    );
    // Case and spacing of the name do not matter; its diacritics do.
    let upper = with(an_request(), "full_name", json!("  NGUYỄN  VĂN AN "));
    assert_eq!(
        answer(verify_as(&app, &app.verifier, upper).await).await["match"],
        true
    );
    let name_wrong = with(an_request(), "full_name", json!("Nguyễn Văn Ân"));
    assert_eq!(
        answer(verify_as(&app, &app.verifier, name_wrong).await).await,
        json!({ "match": false, "fields": { "full_name": false, "date_of_birth": true } })
    );
    let dob_wrong = with(an_request(), "date_of_birth", json!("1995-03-15"));
    assert_eq!(
        answer(verify_as(&app, &app.verifier, dob_wrong).await).await,
        json!({ "match": false, "fields": { "full_name": true, "date_of_birth": false } })
    );
    let both_wrong = with(
        with(an_request(), "date_of_birth", json!("1990-01-01")),
        "full_name",
        json!("Trần Văn Bảo"),
    );
    let both_wrong = answer(verify_as(&app, &app.verifier, both_wrong).await).await;
    assert_eq!(
        both_wrong,
        json!({ "match": false, "fields": { "full_name": false, "date_of_birth": false } })
    );
    // An unknown PID looks exactly like wrong data: nothing reveals whether it exists.
    let unknown = with(an_request(), "pid", json!("001095999999"));
    assert_eq!(
        answer(verify_as(&app, &app.verifier, unknown).await).await,
        both_wrong
    );
    // Lê Văn Ánh has only a year of birth.
    let anh = json!({ "pid": "079085000777", "full_name": "Lê Văn Ánh", "date_of_birth": "1985", "purpose": "x" });
    assert_eq!(
        answer(verify_as(&app, &app.verifier, anh).await).await["match"],
        true
    );
}

#[tokio::test]
async fn verification_rejects_bad_fields_with_problem_details() {
    let app = spawn_app().await;
    for bad_pid in [
        "00109501234",
        "00109501234a",
        "999095012345",
        "",
        "0010950123456",
    ] {
        let resp = verify_as(
            &app,
            &app.verifier,
            with(an_request(), "pid", json!(bad_pid)),
        )
        .await;
        assert_invalid(resp, "pid").await;
    }
    let resp = verify_as(
        &app,
        &app.verifier,
        with(an_request(), "date_of_birth", json!("1995-02-30")),
    )
    .await;
    assert_invalid(resp, "date_of_birth").await;
    let resp = verify_as(
        &app,
        &app.verifier,
        with(an_request(), "date_of_birth", json!("14/03/1995")),
    )
    .await;
    assert_invalid(resp, "date_of_birth").await;
    let resp = verify_as(&app, &app.verifier, without(an_request(), "purpose")).await;
    assert_invalid(resp, "purpose").await;
    let resp = verify_as(
        &app,
        &app.verifier,
        with(an_request(), "purpose", json!("   ")),
    )
    .await;
    assert_invalid(resp, "purpose").await;
    let resp = verify_as(
        &app,
        &app.verifier,
        with(an_request(), "full_name", json!("A".repeat(101))),
    )
    .await;
    assert_invalid(resp, "full_name").await;
    // 100 characters is still fine (no match, but valid).
    let resp = verify_as(
        &app,
        &app.verifier,
        with(an_request(), "full_name", json!("Â".repeat(100))),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Several problems are all reported at once.
    let resp = verify_as(
        &app,
        &app.verifier,
        json!({ "pid": "12", "full_name": "", "date_of_birth": "x" }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = resp.json().await.unwrap();
    let fields: BTreeSet<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["pid", "full_name", "date_of_birth", "purpose"])
    );

    // Malformed JSON.
    let resp = api()
        .post(app.url("/api/v1/registry/verifications"))
        .basic_auth(&app.verifier.client_id, Some(&app.verifier.client_secret))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"pid\": \"001095012345\",")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(content_type(&resp), "application/problem+json");
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "invalid_json");
    // Mistyped JSON is also a 400.
    let resp = verify_as(
        &app,
        &app.verifier,
        with(an_request(), "pid", json!(1095012345)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Not JSON at all.
    let resp = api()
        .post(app.url("/api/v1/registry/verifications"))
        .basic_auth(&app.verifier.client_id, Some(&app.verifier.client_secret))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(an_request().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(content_type(&resp), "application/problem+json");

    // Larger than 64 KiB.
    let huge = with(an_request(), "purpose", json!("x".repeat(70 * 1024)));
    let resp = verify_as(&app, &app.verifier, huge).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(resp.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    assert_eq!(content_type(&resp), "application/problem+json");
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["code"], "body_too_large");

    // A wrong method on an API route is a problem too, with the allowed methods.
    let resp = api()
        .get(app.url("/api/v1/registry/verifications"))
        .basic_auth(&app.verifier.client_id, Some(&app.verifier.client_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(content_type(&resp), "application/problem+json");
    assert!(
        resp.headers()[header::ALLOW]
            .to_str()
            .unwrap()
            .contains("POST")
    );

    // Only the one valid call (the 100-character name) was recorded.
    let log = accesses(&app, AN_I64).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].outcome, "no_match");
}

#[tokio::test]
async fn verification_authenticates_and_authorises_clients() {
    let app = spawn_app().await;
    let post = || {
        api()
            .post(app.url("/api/v1/registry/verifications"))
            .json(&an_request())
    };
    let assert_401 = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(content_type(&resp), "application/problem+json");
        let challenge = resp.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("Basic "), "{challenge}");
        let p: Value = resp.json().await.unwrap();
        assert_eq!(p["code"], "unauthorized");
    };
    assert_401(post().send().await.unwrap()).await;
    assert_401(
        post()
            .basic_auth(&app.verifier.client_id, Some("not-the-secret"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(
        post()
            .basic_auth(&app.verifier.client_id, None::<&str>)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(
        post()
            .basic_auth("mc_nosuchclient", Some(&app.verifier.client_secret))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(
        post()
            .header(header::AUTHORIZATION, "Bearer abc")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(
        post()
            .header(header::AUTHORIZATION, "Basic !!!not-base64")
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Authentication comes before the body is looked at.
    assert_401(
        api()
            .post(app.url("/api/v1/registry/verifications"))
            .header(header::CONTENT_TYPE, "text/plain")
            .body("hello")
            .send()
            .await
            .unwrap(),
    )
    .await;

    // A client without registry.verify.
    let lookup_only = clients::create(&app.db, "Chỉ tra cứu", &["registry.lookup".into()], "test")
        .await
        .unwrap();
    let resp = verify_as(&app, &lookup_only, an_request()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(content_type(&resp), "application/problem+json");
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "insufficient_scope");
    assert!(p["detail"].as_str().unwrap().contains("registry.verify"));

    // A disabled client (disabled before it was ever used, so no node has it cached).
    let retired = clients::create(&app.db, "Hệ thống cũ", &["registry.verify".into()], "test")
        .await
        .unwrap();
    clients::disable(&app.db, &retired.client_id, "test")
        .await
        .unwrap();
    assert_401(verify_as(&app, &retired, an_request()).await).await;

    // The right credentials work, and only that call was recorded.
    let resp = verify_as(&app, &app.verifier, an_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(accesses(&app, AN_I64).await.len(), 1);
}

#[tokio::test]
async fn every_verification_is_recorded() {
    let app = spawn_app().await;
    let calls = [
        (an_request(), "match"),
        (
            with(an_request(), "full_name", json!("nguyễn văn an")),
            "match",
        ),
        (
            with(an_request(), "full_name", json!("Nguyễn Văn Ân")),
            "no_match",
        ),
        // A year alone does not match a full date: matching never guesses the unknown part.
        (
            with(an_request(), "date_of_birth", json!("1995")),
            "no_match",
        ),
        (
            with(an_request(), "date_of_birth", json!("1996-03-14")),
            "no_match",
        ),
    ];
    for (i, (body, _)) in calls.iter().enumerate() {
        let resp = api()
            .post(app.url("/api/v1/registry/verifications"))
            .basic_auth(&app.verifier.client_id, Some(&app.verifier.client_secret))
            .header("x-request-id", format!("verify-{i}"))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // Refused calls leave no trace: 401, 403, 422.
    let resp = api()
        .post(app.url("/api/v1/registry/verifications"))
        .basic_auth(&app.verifier.client_id, Some("wrong"))
        .json(&an_request())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let lookup_only = clients::create(&app.db, "Chỉ tra cứu", &["registry.lookup".into()], "test")
        .await
        .unwrap();
    assert_eq!(
        verify_as(&app, &lookup_only, an_request()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        verify_as(&app, &app.verifier, without(an_request(), "full_name"))
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let log = accesses(&app, AN_I64).await;
    assert_eq!(log.len(), calls.len(), "{log:#?}");
    // Newest first.
    for (record, (i, (_, outcome))) in log.iter().rev().zip(calls.iter().enumerate()) {
        assert_eq!(record.actor_kind, "client");
        assert_eq!(record.actor_id, app.verifier.client_id);
        assert_eq!(record.actor_name, "Cổng dịch vụ công tỉnh");
        assert_eq!(record.action, "verify");
        assert_eq!(record.purpose, "hồ sơ đăng ký khai sinh HS-42");
        assert_eq!(record.subject_pid, Some(AN_I64));
        assert_eq!(record.outcome, *outcome);
        assert_eq!(
            record.request_id.as_deref(),
            Some(format!("verify-{i}").as_str())
        );
    }
    // Unknown PIDs are recorded too (as no_match), under their own number.
    let unknown = with(an_request(), "pid", json!("001095999999"));
    assert_eq!(
        verify_as(&app, &app.verifier, unknown).await.status(),
        StatusCode::OK
    );
    let log = accesses(&app, 1_095_999_999).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "no_match");
    assert_eq!(accesses(&app, AN_I64).await.len(), calls.len());
}

/// Asserts a 429 problem with `code` and a `Retry-After` within `(min, max]` seconds.
async fn assert_refused(resp: reqwest::Response, code: &str, min: u64, max: u64) {
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{code}");
    assert_eq!(content_type(&resp), "application/problem+json");
    let retry: u64 = resp
        .headers()
        .get(header::RETRY_AFTER)
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > min && retry <= max, "Retry-After {retry}");
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["status"], 429);
    assert_eq!(p["code"], code);
}

#[tokio::test]
async fn five_non_matches_throttle_that_pid_for_that_client() {
    let app = spawn_app().await;
    let guess = |i: u32| {
        with(
            an_request(),
            "date_of_birth",
            json!(format!("1990-01-{:02}", i + 1)),
        )
    };
    for i in 0..5 {
        let resp = verify_as(&app, &app.verifier, guess(i)).await;
        assert_eq!(resp.status(), StatusCode::OK, "guess {i}");
        assert_eq!(resp.json::<Value>().await.unwrap()["match"], false);
    }
    // The sixth is refused, and so is the right answer: the count is not reset by it.
    let day = 24 * 3600;
    assert_refused(
        verify_as(&app, &app.verifier, guess(5)).await,
        "verification.throttled",
        day - 120,
        day,
    )
    .await;
    assert_refused(
        verify_as(&app, &app.verifier, an_request()).await,
        "verification.throttled",
        day - 120,
        day,
    )
    .await;
    // Another PID for the same client, and the same PID for another client, are unaffected.
    let anh = json!({ "pid": "079085000777", "full_name": "Lê Văn Ánh", "date_of_birth": "1985", "purpose": "x" });
    let resp = verify_as(&app, &app.verifier, anh).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["match"], true);
    let resp = verify_as(&app, &app.reader, an_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["match"], true);
    // A match does not count: the other client still has its five.
    for i in 0..5 {
        assert_eq!(
            verify_as(&app, &app.reader, guess(i)).await.status(),
            StatusCode::OK,
            "reader guess {i}"
        );
    }
    assert_eq!(
        verify_as(&app, &app.reader, guess(5)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // Each refusal is in the access log, under the client that was refused.
    let log = accesses(&app, AN_I64).await;
    let of_verifier: Vec<&str> = log
        .iter()
        .rev()
        .filter(|r| r.actor_id == app.verifier.client_id)
        .map(|r| r.outcome.as_str())
        .collect();
    assert_eq!(
        of_verifier,
        [
            "no_match",
            "no_match",
            "no_match",
            "no_match",
            "no_match",
            "throttled",
            "throttled"
        ]
    );
    assert!(log.iter().all(|r| r.action == "verify"));
    let stored = motcua_registry::throttle::failures(&app.db, &app.verifier.client_id, AN_I64)
        .await
        .unwrap();
    assert_eq!(stored.len(), 5, "refused calls are not counted as failures");
}

#[tokio::test]
async fn the_daily_quota_is_per_client() {
    let app = spawn_app_with(|c| {
        c.verification = motcua_registry::throttle::ThrottleConfig {
            daily_quota: 3,
            ..Default::default()
        }
    })
    .await;
    for i in 0..3 {
        assert_eq!(
            verify_as(&app, &app.verifier, an_request()).await.status(),
            StatusCode::OK,
            "call {i}"
        );
    }
    assert_refused(
        verify_as(&app, &app.verifier, an_request()).await,
        "verification.quota_exceeded",
        0,
        24 * 3600,
    )
    .await;
    // Another client has its own quota.
    assert_eq!(
        verify_as(&app, &app.reader, an_request()).await.status(),
        StatusCode::OK
    );
    let outcomes: Vec<String> = accesses(&app, AN_I64)
        .await
        .into_iter()
        .rev()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(
        outcomes,
        ["match", "match", "match", "quota_exceeded", "match"]
    );
    let now = motcua_db::clock::now_us();
    let used = motcua_registry::throttle::quota_used(&app.db, &app.verifier.client_id, now)
        .await
        .unwrap();
    assert_eq!(used, 3, "the refused call is not counted");
}

// ---------------------------------------------------------------------------------------
// Lookup API
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn lookup_returns_the_record_and_is_recorded() {
    let app = spawn_app().await;
    let get = |client: &IssuedClient, path: &str| {
        api()
            .get(app.url(path))
            .basic_auth(&client.client_id, Some(&client.client_secret))
            .send()
    };
    let resp = get(
        &app.reader,
        "/api/v1/registry/citizens/001095012345?purpose=tax%20audit%202026",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let c: Value = resp.json().await.unwrap();
    assert_eq!(c["pid"], "001095012345", "a string with its leading zeros");
    assert_eq!(c["full_name"], "Nguyễn Văn An");
    assert_eq!(c["gender"], "M");
    assert_eq!(c["date_of_birth"], "1995-03-14");
    assert_eq!(c["household_id"], 1);
    assert_eq!(c["relation_to_head"], "head");

    // Verify-only client.
    let resp = get(
        &app.verifier,
        "/api/v1/registry/citizens/001095012345?purpose=x",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "insufficient_scope");

    // No credentials.
    let resp = api()
        .get(app.url("/api/v1/registry/citizens/001095012345?purpose=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // No purpose; malformed PID.
    let resp = get(&app.reader, "/api/v1/registry/citizens/001095012345")
        .await
        .unwrap();
    assert_invalid(resp, "purpose").await;
    let resp = get(
        &app.reader,
        "/api/v1/registry/citizens/001095012345?purpose=",
    )
    .await
    .unwrap();
    assert_invalid(resp, "purpose").await;
    let resp = get(
        &app.reader,
        "/api/v1/registry/citizens/99909501234?purpose=x",
    )
    .await
    .unwrap();
    assert_invalid(resp, "pid").await;
    // A parameter the operation does not take, or the purpose twice, is named and refused.
    for (query, field) in [
        ("purpose=x&purpse=y", "purpse"),
        ("purpose=0&=null", "(empty name)"),
        ("purpose=x&purpose=y", "purpose"),
    ] {
        let resp = get(
            &app.reader,
            &format!("/api/v1/registry/citizens/001095012345?{query}"),
        )
        .await
        .unwrap();
        assert_invalid(resp, field).await;
    }

    // Unknown citizen.
    let resp = get(
        &app.reader,
        "/api/v1/registry/citizens/001095999999?purpose=tax%20audit",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(content_type(&resp), "application/problem+json");
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "not_found");

    let log = accesses(&app, AN_I64).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].actor_kind, "client");
    assert_eq!(log[0].actor_id, app.reader.client_id);
    assert_eq!(log[0].action, "lookup");
    assert_eq!(log[0].purpose, "tax audit 2026");
    assert_eq!(log[0].outcome, "found");
    let log = accesses(&app, 1_095_999_999).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].outcome, "not_found");
    assert_eq!(log[0].purpose, "tax audit");
}

// ---------------------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn login_form_sets_a_csrf_cookie() {
    let app = spawn_app().await;
    let resp = browser().get(app.url("/login")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(content_type(&resp).starts_with("text/html"));
    let cookies = set_cookies(resp.headers());
    let csrf_cookie = cookies
        .iter()
        .find(|c| c.starts_with("motcua_login_csrf="))
        .expect("a login csrf cookie");
    assert!(csrf_cookie.contains("HttpOnly"));
    let value = csrf_cookie
        .trim_start_matches("motcua_login_csrf=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(value.len() >= 20);
    let html = resp.text().await.unwrap();
    assert!(html.contains("type=\"hidden\" name=\"csrf\""));
    assert_eq!(csrf_field(&html), value);
}

#[tokio::test]
async fn login_checks_csrf_and_password() {
    let app = spawn_app().await;
    let b = browser();
    // No cookie and no field.
    let resp = b
        .post(app.url("/login"))
        .form(&[("username", OFFICER.0), ("password", OFFICER.2)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // A cookie, but a field that does not match it.
    let page = b
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_field(&page);
    let resp = b
        .post(app.url("/login"))
        .form(&[
            ("csrf", format!("{csrf}x").as_str()),
            ("username", OFFICER.0),
            ("password", OFFICER.2),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(
        !set_cookies(resp.headers())
            .iter()
            .any(|c| c.starts_with("motcua_session="))
    );

    // Wrong password.
    let resp = post_login(&app, &b, OFFICER.0, "not-the-password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !set_cookies(resp.headers())
            .iter()
            .any(|c| c.starts_with("motcua_session="))
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-summary\""));
    assert!(
        !html.contains("not-the-password"),
        "the password is not echoed"
    );
    // Unknown user: same answer.
    let resp = post_login(&app, &b, "nobody", "not-the-password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Still anonymous.
    let resp = b.get(app.url("/staff")).send().await.unwrap();
    assert!(resp.status().is_redirection());
    assert_eq!(location(&resp), "/login");

    // The right password.
    let resp = post_login(&app, &b, OFFICER.0, OFFICER.2).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/staff");
    let cookies = set_cookies(resp.headers());
    let session = cookies
        .iter()
        .find(|c| c.starts_with("motcua_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    assert!(!session.contains("Secure"), "not configured for HTTPS");

    let (status, html) = get_page(&b, app.url("/staff")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(OFFICER.1), "display name shown");
    // An officer does not see the administration link.
    assert!(!html.contains("href=\"/admin/clients\""));
    // Signed in, the login page and / lead to the staff home.
    let resp = b.get(app.url("/login")).send().await.unwrap();
    assert_eq!(location(&resp), "/staff");
    let resp = b.get(app.url("/")).send().await.unwrap();
    assert_eq!(location(&resp), "/staff");
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_login() {
    let app = spawn_app().await;
    let b = browser();
    for path in [
        "/staff",
        "/registry/search?q=nguyen",
        "/registry/citizens/001095012345?purpose=verification",
        "/registry/households/1?purpose=verification",
        "/registry/quality",
        "/registry/quality/missing_fields",
        "/admin/clients",
        "/admin/staff",
        "/",
    ] {
        let resp = b.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&resp), "/login", "{path}");
    }
    assert!(accesses(&app, AN_I64).await.is_empty());
}

#[tokio::test]
async fn ten_wrong_passwords_lock_the_account() {
    let app = spawn_app().await;
    let b = browser();
    b.get(app.url("/login?lang=en")).send().await.unwrap();
    for i in 0..10 {
        let resp = post_login(&app, &b, OFFICER.0, &format!("wrong-password-{i}")).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let resp = post_login(&app, &b, OFFICER.0, OFFICER.2).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !set_cookies(resp.headers())
            .iter()
            .any(|c| c.starts_with("motcua_session="))
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-summary\""));
    // A locked account answers exactly as a wrong password does.
    assert!(
        html.contains("The username or password is not correct."),
        "{html}"
    );
    assert!(!html.contains("locked"), "{html}");
    let wrong = post_login(&app, &browser(), OFFICER.0, "wrong-password-x").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // The admin, on the same address, is not affected.
    let admin = browser();
    let resp = post_login(&app, &admin, ADMIN.0, ADMIN.2).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn logout_needs_the_session_csrf_token() {
    let app = spawn_app().await;
    let b = signed_in(&app, OFFICER).await;
    let (status, html) = get_page(&b, app.url("/staff")).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_field(&html);
    assert!(!csrf.is_empty());

    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (status, _) = get_page(&b, app.url("/staff")).await;
    assert_eq!(status, StatusCode::OK, "still signed in");

    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
    assert!(
        set_cookies(resp.headers())
            .iter()
            .any(|c| c.starts_with("motcua_session=;") && c.contains("Max-Age=0"))
    );
    let resp = b.get(app.url("/staff")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
}

#[tokio::test]
async fn an_ended_session_token_no_longer_works() {
    let app = spawn_app().await;
    let b = browser();
    let resp = post_login(&app, &b, OFFICER.0, OFFICER.2).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let token = set_cookies(resp.headers())
        .iter()
        .find_map(|c| c.strip_prefix("motcua_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // The bare token works from any client…
    let with_token = |t: &str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(app.url("/staff"))
            .header(header::COOKIE, format!("motcua_session={t}"))
            .send()
    };
    assert_eq!(with_token(&token).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        with_token("forged-token").await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    // …until the session ends.
    let (_, html) = get_page(&b, app.url("/staff")).await;
    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", csrf_field(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = with_token(&token).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = spawn_app().await;
    let host = app.base.trim_start_matches("http://").to_owned();
    let attempt = |extra: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let b = browser();
            let page = b
                .get(app.url("/login"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let csrf = csrf_field(&page);
            let mut req = b.post(app.url("/login")).form(&[
                ("csrf", csrf.as_str()),
                ("username", OFFICER.0),
                ("password", OFFICER.2),
            ]);
            for (k, v) in extra {
                req = req.header(k, v);
            }
            req.send().await.unwrap()
        }
    };
    for headers in [
        vec![("sec-fetch-site", "cross-site".to_owned())],
        vec![("sec-fetch-site", "same-site".to_owned())],
        vec![("origin", "https://evil.example".to_owned())],
        vec![("origin", "null".to_owned())],
        vec![("origin", format!("http://{host}.evil.example"))],
    ] {
        let resp = attempt(headers.clone()).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            !set_cookies(resp.headers())
                .iter()
                .any(|c| c.starts_with("motcua_session=")),
            "{headers:?}"
        );
    }
    // The same request from the same origin succeeds.
    let resp = attempt(vec![
        ("sec-fetch-site", "same-origin".to_owned()),
        ("origin", format!("http://{host}")),
    ])
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/staff");
}

// ---------------------------------------------------------------------------------------
// Officer pages
// ---------------------------------------------------------------------------------------

/// The session's CSRF token, read from a signed-in page.
async fn session_csrf(app: &App, b: &reqwest::Client) -> String {
    let (status, html) = get_page(b, app.url("/registry/search")).await;
    assert_eq!(status, StatusCode::OK);
    csrf_field(&html)
}

/// Posts a form with the session's CSRF token added; the status and page.
async fn post_page(
    app: &App,
    b: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let csrf = session_csrf(app, b).await;
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    let resp = post_form(b, app.url(path), &fields).await;
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

/// The links (as form buttons) to citizens' records on a listing page.
fn record_buttons(html: &str) -> Vec<String> {
    html.split("formaction=\"/registry/citizens/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_asks_for_a_purpose_and_records_each_citizen_listed() {
    let app = spawn_app().await;
    let b = signed_in(&app, OFFICER).await;
    // A link with the search terms fills the form; nothing is listed or recorded.
    let (status, html) = get_page(&b, app.url("/registry/search?q=nguyen+van+an")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("method=\"post\""));
    assert!(html.contains("value=\"nguyen van an\""));
    assert!(html.contains("<select id=\"purpose\" name=\"purpose\""));
    assert!(record_buttons(&html).is_empty(), "no results from a GET");
    assert!(!html.contains("1995"));
    assert!(accesses(&app, AN_I64).await.is_empty());

    // Without a purpose, the search is refused and names the field.
    let (status, html) = post_page(&app, &b, "/registry/search", &[("q", "nguyen van an")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("href=\"#purpose\""));
    assert!(record_buttons(&html).is_empty());
    assert!(accesses(&app, AN_I64).await.is_empty());

    let (status, html) = post_page(
        &app,
        &b,
        "/registry/search",
        &[
            ("q", "nguyen van an"),
            ("purpose", "verification"),
            ("reference", "HS-7"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record_buttons(&html), [AN]);
    assert!(html.contains("Nguyễn Văn An"));
    assert!(!html.contains("error-summary"));
    let log = accesses(&app, AN_I64).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].action, "list.search");
    assert_eq!(log[0].purpose, "verification");
    assert_eq!(log[0].reference.as_deref(), Some("HS-7"));
    assert_eq!(log[0].outcome, "listed");
    assert_eq!(log[0].actor_name, OFFICER.0);
    // The result's form carries the purpose on to the record.
    assert!(html.contains("name=\"purpose\" value=\"verification\""));

    let (status, html) = post_page(
        &app,
        &b,
        "/registry/search",
        &[("q", "nguyen"), ("purpose", "verification")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let shown = record_buttons(&html);
    assert!(shown.contains(&AN.to_owned()) && shown.contains(&"001220000001".to_owned()));
    for pid in [AN_I64, 1_220_000_001] {
        let listed = accesses(&app, pid)
            .await
            .iter()
            .filter(|e| e.action == "list.search")
            .count();
        assert!(listed >= 1, "{pid} was shown and must be recorded");
    }
    assert!(
        accesses(&app, ANH_I64).await.is_empty(),
        "not shown, not recorded"
    );
    assert!(
        accesses(&app, 1_195_012_346).await.is_empty(),
        "not a Nguyễn"
    );

    let (status, html) = post_page(
        &app,
        &b,
        "/registry/search",
        &[
            ("q", "nguyen"),
            ("birth_year", "2020"),
            ("purpose", "verification"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record_buttons(&html), ["001220000001"]);

    let before = accesses(&app, AN_I64).await.len();
    let (status, html) = post_page(
        &app,
        &b,
        "/registry/search",
        &[
            ("q", "nguyen"),
            ("birth_year", "19x5"),
            ("purpose", "verification"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("class=\"error-summary\""));
    assert!(html.contains("href=\"#birth_year\""));
    assert!(html.contains("value=\"19x5\""), "the input is kept");
    assert!(record_buttons(&html).is_empty(), "no results shown");

    let long = "a".repeat(101);
    let (status, html) = post_page(
        &app,
        &b,
        "/registry/search",
        &[("q", long.as_str()), ("purpose", "verification")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("href=\"#q\""));
    let (status, html) = post_page(
        &app,
        &b,
        "/registry/search",
        &[
            ("q", "nguyen"),
            ("province", "999"),
            ("purpose", "verification"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("href=\"#province\""));
    assert_eq!(
        accesses(&app, AN_I64).await.len(),
        before,
        "refused searches list no one"
    );

    // Without the session's token (a form on another site), nothing is searched or recorded.
    let resp = post_form(
        &b,
        app.url("/registry/search"),
        &[
            ("q", "nguyen"),
            ("purpose", "verification"),
            ("csrf", "forged"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = post_form(
        &b,
        app.url("/registry/search"),
        &[("q", "nguyen"), ("purpose", "verification")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(accesses(&app, AN_I64).await.len(), before);
}

#[tokio::test]
async fn citizen_page_asks_for_a_purpose_and_records_the_view() {
    let app = spawn_app().await;
    let b = signed_in(&app, OFFICER).await;
    let (status, html) = get_page(&b, app.url("/registry/citizens/001095012345")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<form method=\"post\" action=\"/registry/citizens/001095012345\""));
    assert!(html.contains("<select id=\"purpose\" name=\"purpose\""));
    assert!(html.contains("value=\"case_processing\""));
    assert!(
        !html.contains("1995"),
        "no personal data before a purpose is given"
    );
    // A GET with a purpose (a link from another site, too) only preselects it.
    let (status, html) = get_page(
        &b,
        app.url("/registry/citizens/001095012345?purpose=case_processing"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("value=\"case_processing\" selected"));
    assert!(!html.contains("1995"));
    assert!(accesses(&app, AN_I64).await.is_empty());

    let path = "/registry/citizens/001095012345";
    let (status, html) = post_page(&app, &b, path, &[("purpose", "gossip")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("class=\"error-summary\""));
    assert!(html.contains("href=\"#purpose\""));
    assert!(accesses(&app, AN_I64).await.is_empty());

    let long_ref = "R".repeat(101);
    let (status, html) = post_page(
        &app,
        &b,
        path,
        &[
            ("purpose", "case_processing"),
            ("reference", long_ref.as_str()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("href=\"#reference\""));
    assert!(
        !html.contains("href=\"#purpose\""),
        "the purpose given was valid"
    );
    assert!(accesses(&app, AN_I64).await.is_empty());

    // Without the session's token nothing is shown or recorded.
    let resp = post_form(&b, app.url(path), &[("purpose", "case_processing")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!resp.text().await.unwrap().contains("1995"));
    assert!(accesses(&app, AN_I64).await.is_empty());

    let (status, html) = post_page(
        &app,
        &b,
        path,
        &[("purpose", "case_processing"), ("reference", "HS-1")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Nguyễn Văn An"));
    assert!(html.contains("14/03/1995"), "date in Vietnamese order");
    // The household block opens the other members through a form carrying the purpose.
    assert!(record_buttons(&html).contains(&"001195012346".to_owned()));
    assert!(html.contains("name=\"reference\" value=\"HS-1\""));

    let log = accesses(&app, AN_I64).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    let entry = &log[0];
    assert_eq!(entry.actor_kind, "staff");
    assert_eq!(entry.actor_name, OFFICER.0);
    assert_eq!(entry.action, "view");
    assert_eq!(entry.purpose, "case_processing");
    assert_eq!(entry.reference.as_deref(), Some("HS-1"));
    assert_eq!(entry.outcome, "found");
    assert!(entry.request_id.as_deref().is_some_and(|r| !r.is_empty()));
    // The other members shown in the household block are recorded as read too.
    let spouse = accesses(&app, 1_195_012_346).await;
    assert_eq!(spouse.len(), 1, "{spouse:#?}");
    assert_eq!(spouse[0].action, "view_household");
    assert_eq!(spouse[0].purpose, "case_processing");

    // An unknown (well-formed) PID: 404 page, recorded as not_found.
    let (status, html) = post_page(
        &app,
        &b,
        "/registry/citizens/001095999999",
        &[("purpose", "verification")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<html"));
    let log = accesses(&app, 1_095_999_999).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "not_found");
    // A malformed PID: 404.
    let (status, _) = post_page(
        &app,
        &b,
        "/registry/citizens/12345",
        &[("purpose", "verification")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn household_page_records_one_access_per_member() {
    let app = spawn_app().await;
    let b = signed_in(&app, OFFICER).await;
    let (status, html) = get_page(&b, app.url("/registry/households/1?purpose=verification")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"purpose\""));
    assert!(!html.contains("Trần Thị Bình"), "a GET shows no member");
    for pid in HOUSEHOLD_1 {
        assert!(accesses(&app, pid).await.is_empty());
    }
    let resp = post_form(
        &b,
        app.url("/registry/households/1"),
        &[("purpose", "verification")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "no token, no view");

    let (status, html) = post_page(
        &app,
        &b,
        "/registry/households/1",
        &[("purpose", "verification")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for name in ["Nguyễn Văn An", "Trần Thị Bình", "Nguyễn Minh Khang"] {
        assert!(html.contains(name), "{name}");
    }
    assert!(!html.contains("Lê Văn Ánh"));
    for pid in HOUSEHOLD_1 {
        let log = accesses(&app, pid).await;
        assert_eq!(log.len(), 1, "{pid}: {log:#?}");
        assert_eq!(log[0].actor_kind, "staff");
        assert_eq!(log[0].action, "view_household");
        assert_eq!(log[0].purpose, "verification");
        assert_eq!(log[0].reference, None);
    }
    assert!(accesses(&app, ANH_I64).await.is_empty());

    let (status, _) = post_page(
        &app,
        &b,
        "/registry/households/424242",
        &[("purpose", "verification")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post_page(
        &app,
        &b,
        "/registry/households/abc",
        &[("purpose", "verification")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn quality_report_lists_the_four_checks_and_worklists_record_each_citizen() {
    let app = spawn_app().await;
    let b = signed_in(&app, OFFICER).await;
    let (status, html) = get_page(&b, app.url("/registry/quality")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Số liệu tính lúc"),
        "the page says when it counted"
    );
    let checks = [
        "suspected_duplicates",
        "missing_fields",
        "deceased_with_residence",
        "inconsistent_pid",
    ];
    for check in checks {
        assert!(
            html.contains(&format!("href=\"/registry/quality/{check}\"")),
            "{check}"
        );
    }
    assert_eq!(
        html.matches("href=\"/registry/quality/").count(),
        checks.len()
    );
    for check in checks {
        let path = format!("/registry/quality/{check}");
        let (status, html) = get_page(&b, app.url(&path)).await;
        assert_eq!(status, StatusCode::OK, "{check}");
        assert!(html.contains("name=\"purpose\""), "{check} asks why first");
        assert!(record_buttons(&html).is_empty());
        let (status, _) = post_page(&app, &b, &path, &[]).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{check} needs a purpose"
        );
        let (status, _) = post_page(&app, &b, &path, &[("purpose", "data_correction")]).await;
        assert_eq!(status, StatusCode::OK, "{check}");
    }
    // Lê Văn Ánh has no ethnicity: the missing-fields worklist shows her, and records it.
    let (_, html) = post_page(
        &app,
        &b,
        "/registry/quality/missing_fields",
        &[("purpose", "data_correction"), ("reference", "QA-1")],
    )
    .await;
    assert!(
        record_buttons(&html).contains(&"079085000777".to_owned()),
        "{html}"
    );
    let log = accesses(&app, ANH_I64).await;
    let listed: Vec<_> = log
        .iter()
        .filter(|e| e.action == "list.worklist.missing_fields")
        .collect();
    assert_eq!(listed.len(), 2, "once per worklist page shown: {log:#?}");
    assert_eq!(listed[0].purpose, "data_correction");
    assert!(
        listed
            .iter()
            .any(|e| e.reference.as_deref() == Some("QA-1"))
    );

    let (status, html) = get_page(&b, app.url("/registry/quality/nonsense")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<html"));
}

// ---------------------------------------------------------------------------------------
// Language
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn language_is_chosen_and_remembered() {
    let app = spawn_app().await;
    let b = browser();
    let (status, html) = get_page(&b, app.url("/login")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<html lang=\"vi\">"));
    assert!(html.contains("href=\"?lang=en\""), "the switch link");

    let resp = b.get(app.url("/login?lang=en")).send().await.unwrap();
    let cookies = set_cookies(resp.headers());
    assert!(
        cookies.iter().any(|c| c.starts_with("lang=en;")),
        "{cookies:?}"
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("Staff sign in"));

    let (_, html) = get_page(&b, app.url("/login")).await;
    assert!(html.contains("<html lang=\"en\">"), "kept by the cookie");
    // Error pages follow the cookie as well.
    let (status, html) = get_page(&b, app.url("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<html lang=\"en\">"));

    let resp = b.get(app.url("/login?lang=vi")).send().await.unwrap();
    assert!(
        set_cookies(resp.headers())
            .iter()
            .any(|c| c.starts_with("lang=vi;"))
    );
    let (_, html) = get_page(&b, app.url("/login")).await;
    assert!(html.contains("<html lang=\"vi\">"));

    // A language chosen on an error page applies to that page too.
    let (status, html) = get_page(&browser(), app.url("/nowhere?lang=en")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<html lang=\"en\">"));

    // Unknown languages fall back to Vietnamese and set nothing.
    let resp = browser()
        .get(app.url("/login?lang=fr"))
        .send()
        .await
        .unwrap();
    assert!(
        !set_cookies(resp.headers())
            .iter()
            .any(|c| c.starts_with("lang="))
    );
    assert!(resp.text().await.unwrap().contains("<html lang=\"vi\">"));
}

// ---------------------------------------------------------------------------------------
// Administration
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn officers_cannot_administer_clients() {
    let app = spawn_app().await;
    let b = signed_in(&app, OFFICER).await;
    let (status, html) = get_page(&b, app.url("/admin/clients")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains(&app.verifier.client_id));
    let (_, home) = get_page(&b, app.url("/staff")).await;
    let csrf = csrf_field(&home);
    let resp = b
        .post(app.url("/admin/clients"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Lén lút"),
            ("scope_verify", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = b
        .post(app.url(&format!(
            "/admin/clients/{}/disable",
            app.verifier.client_id
        )))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(clients::list(&app.db).await.unwrap().len(), 2);
    assert!(
        clients::list(&app.db)
            .await
            .unwrap()
            .iter()
            .all(|c| !c.disabled)
    );
}

#[tokio::test]
async fn admin_creates_a_working_client() {
    let app = spawn_app().await;
    let b = signed_in(&app, ADMIN).await;
    let (status, html) = get_page(&b, app.url("/admin/clients")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&app.verifier.client_id),
        "existing clients listed"
    );
    assert!(
        !html.contains(&app.verifier.client_secret),
        "secrets are never shown again"
    );
    let csrf = csrf_field(&html);

    // Without the form token.
    let resp = b
        .post(app.url("/admin/clients"))
        .form(&[
            ("csrf", "forged"),
            ("name", "Sở Tư pháp"),
            ("scope_verify", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let resp = b
        .post(app.url("/admin/clients"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Sở Tư pháp"),
            ("scope_verify", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Sở Tư pháp"));
    let codes = code_values(&html);
    assert_eq!(codes.len(), 2, "{html}");
    let issued = IssuedClient {
        client_id: codes[0].clone(),
        client_secret: codes[1].clone(),
    };
    assert!(issued.client_id.starts_with("mc_"));
    assert!(issued.client_secret.len() >= 32);

    let resp = verify_as(&app, &issued, an_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["match"], true);
    let log = accesses(&app, AN_I64).await;
    assert_eq!(log[0].actor_id, issued.client_id);
    assert_eq!(log[0].actor_name, "Sở Tư pháp");
    // Only the scopes ticked were granted.
    let resp = api()
        .get(app.url("/api/v1/registry/citizens/001095012345?purpose=x"))
        .basic_auth(&issued.client_id, Some(&issued.client_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Missing name.
    let resp = b
        .post(app.url("/admin/clients"))
        .form(&[("csrf", csrf.as_str()), ("scope_verify", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-summary\""));
    assert!(html.contains("href=\"#name\""));
    // No scopes; the name typed is kept.
    let resp = b
        .post(app.url("/admin/clients"))
        .form(&[("csrf", csrf.as_str()), ("name", "Sở Y tế")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-summary\""));
    assert!(html.contains("value=\"Sở Y tế\""));
    assert_eq!(clients::list(&app.db).await.unwrap().len(), 3);

    // Disabling from the page (a fresh client, not yet cached by the server).
    let spare = clients::create(&app.db, "Dự phòng", &["registry.verify".into()], "test")
        .await
        .unwrap();
    let resp = b
        .post(app.url(&format!("/admin/clients/{}/disable", spare.client_id)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/admin/clients");
    assert_eq!(
        verify_as(&app, &spare, an_request()).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn staff_passwords_are_stored_as_argon2id() {
    let app = spawn_app().await;
    let hashes: Vec<String> = on_read!(app.db.db, c => {
        sqlx::query_scalar("SELECT password_hash FROM staff_users ORDER BY username")
            .fetch_all(c)
            .await
    })
    .unwrap();
    assert_eq!(hashes.len(), 2);
    for h in &hashes {
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains(ADMIN.2) && !h.contains(OFFICER.2));
    }
    assert_ne!(hashes[0], hashes[1]);
    // And they work for signing in.
    signed_in(&app, ADMIN).await;
}

#[tokio::test]
async fn officers_cannot_administer_staff_accounts() {
    let app = spawn_app().await;
    let b = signed_in(&app, OFFICER).await;
    let (status, html) = get_page(&b, app.url("/admin/staff")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("action=\"/admin/staff"));
    let (_, home) = get_page(&b, app.url("/staff")).await;
    assert!(!home.contains("href=\"/admin/staff\""));
    let csrf = csrf_field(&home);
    let resp = post_form(
        &b,
        app.url("/admin/staff"),
        &[
            ("csrf", &csrf),
            ("username", "len.lut"),
            ("display_name", "Lén lút"),
            ("role", "admin"),
            ("password", "a long enough passphrase"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let admin = staff::by_username(&app.db, ADMIN.0).await.unwrap().unwrap();
    for action in ["disable", "enable"] {
        let resp = post_form(
            &b,
            app.url(&format!("/admin/staff/{}/{action}", admin.id)),
            &[("csrf", &csrf)],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{action}");
    }
    let accounts = staff::list(&app.db, 0).await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert!(accounts.iter().all(|a| !a.disabled));
}

#[tokio::test]
async fn admin_lists_and_creates_staff_accounts() {
    let app = spawn_app().await;
    let b = signed_in(&app, ADMIN).await;
    let (_, home) = get_page(&b, app.url("/staff")).await;
    assert!(home.contains("href=\"/admin/staff\""));
    let (status, html) = get_page(&b, app.url("/admin/staff")).await;
    assert_eq!(status, StatusCode::OK);
    for (username, name, role) in [
        (ADMIN.0, ADMIN.1, "Quản trị viên"),
        (OFFICER.0, OFFICER.1, "Cán bộ"),
    ] {
        let row = html
            .split("<tr>")
            .find(|r| r.contains(&format!("<code>{username}</code>")))
            .expect("a row per account");
        assert!(row.contains(name), "{row}");
        assert!(row.contains(&format!("<td>{role}</td>")), "{row}");
        assert!(row.contains("Đang hoạt động"), "{row}");
    }
    let csrf = csrf_field(&html);
    let url = app.url("/admin/staff");
    let good = [
        ("username", "lan.tran"),
        ("display_name", "Trần Thị Lan"),
        ("role", "officer"),
        ("password", "lan-password-2026"),
    ];
    let form_with = |field: &str, value: &'static str| {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(
            good.iter()
                .map(|&(k, v)| (k, if k == field { value } else { v })),
        );
        form
    };

    // Without the form token.
    let mut forged = form_with("", "");
    forged[0] = ("csrf", "forged");
    let resp = post_form(&b, url.clone(), &forged).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Every bad field is named at once; what was typed is kept, except the password.
    let resp = post_form(
        &b,
        url.clone(),
        &[
            ("csrf", &csrf),
            ("username", "Lan Trần"),
            ("display_name", " "),
            ("role", "superuser"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-summary\""));
    for field in ["username", "display_name", "role", "password"] {
        assert!(
            html.contains(&format!("href=\"#{field}\"")),
            "{field} not named"
        );
    }
    assert!(html.contains("value=\"Lan Trần\""));
    assert!(
        !html.contains("value=\"short\""),
        "the password is not echoed"
    );

    // A weak password alone: too short, or the username itself.
    let long_name = [
        ("csrf", csrf.as_str()),
        ("username", "tran.thi.lan.hcm"),
        ("display_name", "Trần Thị Lan"),
        ("role", "officer"),
        ("password", "TRAN.THI.LAN.HCM"),
    ];
    for form in [form_with("password", "short-pw"), long_name.to_vec()] {
        let resp = post_form(&b, url.clone(), &form).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("href=\"#password\""), "{form:?}");
        assert!(!html.contains("href=\"#username\""), "{form:?}");
    }
    // A role that does not exist.
    let resp = post_form(&b, url.clone(), &form_with("role", "root")).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("href=\"#role\""));
    assert!(!html.contains("href=\"#password\""));
    assert_eq!(
        staff::list(&app.db, 0).await.unwrap().len(),
        2,
        "nothing stored"
    );

    // A good account: back to the list, which confirms it.
    let resp = post_form(&b, url.clone(), &form_with("", "")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/admin/staff?created=lan.tran");
    let (status, html) = get_page(&b, app.url(location(&resp))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("role=\"status\""));
    assert!(html.contains("<code>lan.tran</code>") && html.contains("Trần Thị Lan"));
    let (_, html) = get_page(&b, app.url("/admin/staff?created=nobody")).await;
    assert!(
        !html.contains("role=\"status\""),
        "only existing accounts are confirmed"
    );
    let lan = staff::by_username(&app.db, "lan.tran")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lan.role, Role::Officer);
    let events = motcua_db::events::for_aggregate(&app.db, "staff_user", &lan.id)
        .await
        .unwrap();
    assert_eq!(events[0].event_type, "staff_user.created");
    assert_eq!(events[0].actor, format!("staff:{}", ADMIN.0));
    assert!(!events[0].payload.contains("lan-password-2026"));
    signed_in(&app, ("lan.tran", "Trần Thị Lan", "lan-password-2026")).await;

    // The same username again.
    let resp = post_form(&b, url.clone(), &form_with("display_name", "Trần Văn Lân")).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-summary\""));
    assert!(html.contains("href=\"#username\""));
    assert_eq!(staff::list(&app.db, 0).await.unwrap().len(), 3);
}

#[tokio::test]
async fn admin_disables_and_enables_staff_accounts() {
    let app = spawn_app().await;
    let officer_browser = signed_in(&app, OFFICER).await;
    let b = signed_in(&app, ADMIN).await;
    let admin = staff::by_username(&app.db, ADMIN.0).await.unwrap().unwrap();
    let officer = staff::by_username(&app.db, OFFICER.0)
        .await
        .unwrap()
        .unwrap();
    let (_, html) = get_page(&b, app.url("/admin/staff")).await;
    let csrf = csrf_field(&html);
    let path = |id: &str, action: &str| app.url(&format!("/admin/staff/{id}/{action}"));
    assert!(html.contains(&format!("action=\"/admin/staff/{}/disable\"", officer.id)));
    assert!(
        !html.contains(&format!("action=\"/admin/staff/{}/disable\"", admin.id)),
        "no button to disable oneself"
    );

    // Disabling oneself is refused even when posted directly.
    let resp = post_form(&b, path(&admin.id, "disable"), &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-summary\""));
    assert!(html.contains("href=\"#accounts\""));
    let (status, _) = get_page(&b, app.url("/admin/staff")).await;
    assert_eq!(status, StatusCode::OK, "still signed in");

    // A forged form token changes nothing.
    let resp = post_form(&b, path(&officer.id, "disable"), &[("csrf", "forged")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get_page(&officer_browser, app.url("/staff")).await.0,
        StatusCode::OK
    );

    // Disabling ends the officer's session and refuses their sign-in.
    let resp = post_form(&b, path(&officer.id, "disable"), &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/admin/staff");
    let resp = officer_browser.get(app.url("/staff")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
    let resp = post_login(&app, &browser(), OFFICER.0, OFFICER.2).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (_, html) = get_page(&b, app.url("/admin/staff")).await;
    assert!(html.contains("Đã vô hiệu hóa"));
    assert!(html.contains(&format!("action=\"/admin/staff/{}/enable\"", officer.id)));
    // A second request is a no-op.
    let resp = post_form(&b, path(&officer.id, "disable"), &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    // Enabled again, the account signs in with its password; the old session stays ended.
    let resp = post_form(&b, path(&officer.id, "enable"), &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        officer_browser
            .get(app.url("/staff"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    signed_in(&app, OFFICER).await;

    let events = motcua_db::events::for_aggregate(&app.db, "staff_user", &officer.id)
        .await
        .unwrap();
    let changes: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| {
            matches!(
                e.event_type.as_str(),
                "staff_user.disabled" | "staff_user.enabled"
            )
        })
        .map(|e| (e.event_type.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("staff_user.disabled", "staff:admin"),
            ("staff_user.enabled", "staff:admin")
        ]
    );
}

#[tokio::test]
async fn officers_register_a_birth_and_a_death() {
    let app = spawn_app().await;
    let b = signed_in(&app, OFFICER).await;
    let (status, html) = get_page(&b, app.url("/registry/births/new")).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_field(&html);

    // Missing and malformed fields are listed, each linked to its field; nothing is stored.
    let before = motcua_registry::citizens::count(&app.db).await.unwrap();
    let resp = b
        .post(app.url("/registry/births"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("full_name", ""),
            ("gender", "M"),
            ("date_of_birth", "2026-02-30"),
            ("registration_province", "1"),
            ("mother_pid", "12345"),
            ("reason", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-summary\""));
    for field in ["full_name", "date_of_birth", "mother_pid", "reason"] {
        assert!(
            html.contains(&format!("href=\"#{field}\"")),
            "{field} not named"
        );
    }
    assert_eq!(
        motcua_registry::citizens::count(&app.db).await.unwrap(),
        before
    );

    // A forged form token is refused.
    let resp = b
        .post(app.url("/registry/births"))
        .form(&[("csrf", "forged"), ("full_name", "Nguyễn Thị Mai")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // A good registration issues a structure-correct PID: Hà Nội, female born in the 2000s.
    let resp = b
        .post(app.url("/registry/births"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("full_name", "Nguyễn Thị Mai"),
            ("gender", "F"),
            ("date_of_birth", "2026-11-01"),
            ("registration_province", "1"),
            ("ethnicity_code", "01"),
            ("nationality", "VN"),
            ("father_pid", AN),
            ("mother_pid", "001195012346"),
            ("household_id", "1"),
            ("reason", "GCS-2026-118"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let html = resp.text().await.unwrap();
    let marker = "id=\"new-pid\">";
    let start = html.find(marker).unwrap() + marker.len();
    let pid = &html[start..start + 12];
    assert!(pid.starts_with("001326"), "{pid}");
    let child = motcua_registry::citizens::get(&app.db, motcua_domain::Pid::parse(pid).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.full_name, "Nguyễn Thị Mai");
    assert_eq!(child.household_id, Some(1));
    let events = motcua_db::events::for_aggregate(&app.db, "citizen", pid)
        .await
        .unwrap();
    assert_eq!(events[0].event_type, "citizen.birth_registered");
    assert_eq!(events[0].actor, format!("staff:{}", OFFICER.0));
    assert_eq!(events[0].reason, "GCS-2026-118");

    // An has an electronic-identity account, which her death registration closes.
    let an_pid = motcua_domain::Pid::parse(AN).unwrap();
    let passwords = motcua_identity::password::PasswordService::new(ArgonParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap();
    motcua_identity::citizen_accounts::create(
        &app.db,
        &passwords,
        an_pid,
        motcua_identity::citizen_accounts::Level::One,
        "a long enough password",
        "test",
        motcua_db::clock::now_us(),
    )
    .await
    .unwrap();

    // Death: a date in the future is refused; a good one closes the record.
    let (status, html) = get_page(&b, app.url(&format!("/registry/citizens/{AN}/death"))).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_field(&html);
    let resp = b
        .post(app.url(&format!("/registry/citizens/{AN}/death")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("date_of_death", "2999-01-01"),
            ("reason", "GBT-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = b
        .post(app.url(&format!("/registry/citizens/{AN}/death")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("date_of_death", "2026-11-02"),
            ("reason", "GBT-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).starts_with(&format!("/registry/citizens/{AN}?purpose=")));
    let an = motcua_registry::citizens::get(&app.db, motcua_domain::Pid::parse(AN).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(an.status, "deceased");
    assert_eq!(an.date_of_death.as_deref(), Some("2026-11-02"));
    let account = motcua_identity::citizen_accounts::by_pid(&app.db, an_pid)
        .await
        .unwrap()
        .unwrap();
    assert!(
        account.closed,
        "the account closes with the death registration"
    );
    // A second death registration is refused with the reason on the page.
    let resp = b
        .post(app.url(&format!("/registry/citizens/{AN}/death")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("date_of_death", "2026-11-02"),
            ("reason", "GBT-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn birth_form_records_the_chosen_ethnicity_and_nationality() {
    let app = spawn_app().await;
    let b = signed_in(&app, OFFICER).await;
    let (status, html) = get_page(&b, app.url("/registry/births/new")).await;
    assert_eq!(status, StatusCode::OK);
    // The 54 groups, Kinh preselected; Việt Nam by default.
    let select = html
        .split("<select id=\"ethnicity_code\"")
        .nth(1)
        .and_then(|s| s.split("</select>").next())
        .expect("an ethnicity select");
    assert_eq!(select.matches("<option").count(), 54);
    assert!(select.contains("<option value=\"01\" selected>Kinh</option>"));
    assert!(html.contains("id=\"nationality\" name=\"nationality\""));
    assert!(html.contains("value=\"VN\""));
    let csrf = csrf_field(&html);
    let form = |ethnicity: &'static str, nationality: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("full_name", "Thạch Thị Sa Rinh".to_owned()),
            ("gender", "F".to_owned()),
            ("date_of_birth", "2026-11-18".to_owned()),
            ("registration_province", "1".to_owned()),
            ("ethnicity_code", ethnicity.to_owned()),
            ("nationality", nationality.to_owned()),
            ("reason", "GCS-2026-207".to_owned()),
        ]
    };
    let before = motcua_registry::citizens::count(&app.db).await.unwrap();

    // Values outside the lists are refused, each named, the choices kept; nothing is stored.
    for (ethnicity, nationality) in [("55", "Việt Nam"), ("kinh", "vn"), ("", "")] {
        let resp = b
            .post(app.url("/registry/births"))
            .form(&form(ethnicity, nationality))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{ethnicity:?}"
        );
        let html = resp.text().await.unwrap();
        for field in ["ethnicity_code", "nationality"] {
            assert!(
                html.contains(&format!("href=\"#{field}\"")),
                "{field} not named for {ethnicity:?}/{nationality:?}"
            );
        }
        assert!(html.contains(&format!("value=\"{nationality}\"")));
    }
    assert_eq!(
        motcua_registry::citizens::count(&app.db).await.unwrap(),
        before
    );

    // Khmer, Lao nationality.
    let resp = b
        .post(app.url("/registry/births"))
        .form(&form("05", "LA"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let html = resp.text().await.unwrap();
    let marker = "id=\"new-pid\">";
    let start = html.find(marker).unwrap() + marker.len();
    let pid = motcua_domain::Pid::parse(&html[start..start + 12]).unwrap();
    let child = motcua_registry::citizens::get(&app.db, pid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.ethnicity_code, Some(5));
    assert_eq!(child.nationality, "LA");
    let events = motcua_db::events::for_aggregate(&app.db, "citizen", &pid.to_string())
        .await
        .unwrap();
    assert!(
        events[0].payload.contains("\"LA\""),
        "{}",
        events[0].payload
    );
}

// ---------------------------------------------------------------------------------------
// Connection hygiene, cookies and headers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn metrics_count_unknown_methods_as_other() {
    let app = spawn_app().await;
    for method in ["FOO", "BAR", "BAZ"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = api()
            .request(method, app.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let text = api()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "motcua_http_requests_total{method=\"other\",route=\"/healthz\",status=\"405\"} 3"
        ),
        "{text}"
    );
    assert!(!text.contains("FOO") && !text.contains("BAZ"), "{text}");
}

#[tokio::test]
async fn the_language_switch_never_links_off_site() {
    let app = spawn_app().await;
    // A path that would read as another host if put back into a link.
    let (status, html) = get_page(&browser(), app.url("//evil.example/x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let marker = "class=\"lang-switch\" href=\"";
    let start = html.find(marker).expect("a language switch") + marker.len();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    assert_eq!(href, "?lang=en");
    assert!(!html.contains("href=\"//"), "{html}");
}

#[tokio::test]
async fn personal_answers_are_never_stored() {
    let app = spawn_app().await;
    let no_store = |resp: &reqwest::Response| {
        resp.headers()
            .get(header::CACHE_CONTROL)
            .is_some_and(|v| v == "no-store")
    };
    let officer = signed_in(&app, OFFICER).await;
    for path in [
        "/staff".to_owned(),
        "/registry/search?q=nguyen".to_owned(),
        format!("/registry/citizens/{AN}"),
        "/no/such/page".to_owned(),
    ] {
        let resp = officer.get(app.url(&path)).send().await.unwrap();
        assert!(no_store(&resp), "{path}: {:?}", resp.headers());
    }
    let admin = signed_in(&app, ADMIN).await;
    let resp = admin.get(app.url("/admin/staff")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(no_store(&resp), "{:?}", resp.headers());

    let resp = verify_as(&app, &app.verifier, an_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(no_store(&resp), "{:?}", resp.headers());
    let resp = api()
        .get(app.url(&format!("/api/v1/registry/citizens/{AN}?purpose=audit")))
        .basic_auth(&app.reader.client_id, Some(&app.reader.client_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(no_store(&resp), "{:?}", resp.headers());
    // A refused call says nothing personal, but is not stored either.
    let resp = api()
        .get(app.url(&format!("/api/v1/registry/citizens/{AN}?purpose=audit")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(no_store(&resp));

    // Public answers keep their caching.
    for path in ["/healthz", "/api/v1/openapi.json", "/static/app.css"] {
        let resp = api().get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(!no_store(&resp), "{path}: {:?}", resp.headers());
    }
}

#[tokio::test]
async fn hsts_is_sent_only_when_configured() {
    let app = spawn_app().await;
    let resp = api().get(app.url("/healthz")).send().await.unwrap();
    assert!(
        resp.headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .is_none()
    );

    let app = spawn_app_with(|c| c.hsts_max_age_secs = Some(31_536_000)).await;
    for path in ["/healthz", "/login", "/no/such/page"] {
        let resp = api().get(app.url(path)).send().await.unwrap();
        assert_eq!(
            resp.headers()
                .get(header::STRICT_TRANSPORT_SECURITY)
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000; includeSubDomains"),
            "{path}"
        );
    }
}

/// The value of cookie `name` set by `headers`, and the whole `Set-Cookie` line.
fn set_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<(&'a str, &'a str)> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix('=')?;
            Some((value.split(';').next().unwrap(), line))
        })
}

#[tokio::test]
async fn secure_cookies_carry_the_host_prefix() {
    let app = spawn_app_with(|c| c.secure_cookies = true).await;
    // A browser keeps `Secure` cookies for HTTPS only, so the cookies travel by hand here.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let (csrf_cookie, line) =
        set_cookie(page.headers(), "__Host-motcua_login_csrf").expect("a __Host- sign-in cookie");
    for attribute in ["; Secure", "; Path=/", "; HttpOnly"] {
        assert!(line.contains(attribute), "{line}");
    }
    assert!(!line.to_ascii_lowercase().contains("domain"), "{line}");
    assert!(set_cookie(page.headers(), "motcua_login_csrf").is_none());
    let csrf_cookie = csrf_cookie.to_owned();
    let csrf = csrf_field(&page.text().await.unwrap());

    let resp = client
        .post(app.url("/login"))
        .header(
            header::COOKIE,
            format!("__Host-motcua_login_csrf={csrf_cookie}"),
        )
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", OFFICER.0),
            ("password", OFFICER.2),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (token, line) =
        set_cookie(resp.headers(), "__Host-motcua_session").expect("a __Host- session cookie");
    assert!(
        line.contains("; Secure") && line.contains("; Path=/"),
        "{line}"
    );
    let token = token.to_owned();

    let resp = client
        .get(app.url("/staff"))
        .header(header::COOKIE, format!("__Host-motcua_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the session is read back");
    // The unprefixed name, which a sibling site could plant, is not a session.
    let resp = client
        .get(app.url("/staff"))
        .header(header::COOKIE, format!("motcua_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
}

#[tokio::test]
async fn admin_retries_and_cancels_jobs_and_reads_the_dev_mailbox() {
    use motcua_db::jobs;
    let app = spawn_app().await;
    let officer = signed_in(&app, OFFICER).await;
    for path in ["/admin/jobs", "/admin/mailbox"] {
        assert_eq!(
            get_page(&officer, app.url(path)).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // A job scheduled for later (queued) and one that failed for good (dead).
    let mut tx = app.db.begin().await.unwrap();
    let queued = jobs::enqueue(&mut tx, "mail.send", &json!({}), i64::MAX / 2, 3)
        .await
        .unwrap();
    let dead = jobs::enqueue(&mut tx, "mail.send", &json!({}), 0, 3)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let now = motcua_db::clock::now_us();
    assert_eq!(
        jobs::claim_due(&app.db, "node-t", 10, 60_000_000, now)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        jobs::fail_permanently(&app.db, &dead, "node-t", "550 mailbox unavailable", now)
            .await
            .unwrap()
    );
    let message = motcua_mail::Message {
        to: "an.nguyen@example.com".into(),
        subject: "Mã xác thực".into(),
        text: "Mã của bạn: 135790".into(),
        html: None,
    };
    motcua_mail::dev_mailbox::deliver(
        &app.db,
        &dead,
        "node-t",
        "motcua <no-reply@motcua.invalid>",
        &message,
    )
    .await
    .unwrap();

    let b = signed_in(&app, ADMIN).await;
    let (status, html) = get_page(&b, app.url("/admin/jobs")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&queued) && !html.contains(&dead),
        "the queued tab: {html}"
    );
    assert!(html.contains(&format!("action=\"/admin/jobs/{queued}/cancel\"")));
    assert!(!html.contains(&format!("action=\"/admin/jobs/{queued}/retry\"")));
    let (_, html) = get_page(&b, app.url("/admin/jobs?status=dead&lang=en")).await;
    assert!(html.contains("550 mailbox unavailable"), "{html}");
    assert!(html.contains("Dead (1)"), "{html}");
    assert!(html.contains(&format!("action=\"/admin/jobs/{dead}/retry\"")));
    let csrf = csrf_field(&html);

    // A forged token, or an officer, changes nothing.
    let resp = post_form(
        &b,
        app.url(&format!("/admin/jobs/{dead}/retry")),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (_, officer_home) = get_page(&officer, app.url("/staff")).await;
    let officer_csrf = csrf_field(&officer_home);
    let resp = post_form(
        &officer,
        app.url(&format!("/admin/jobs/{queued}/cancel")),
        &[("csrf", &officer_csrf)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        jobs::get(&app.db, &dead).await.unwrap().unwrap().status,
        "dead"
    );
    assert_eq!(
        jobs::get(&app.db, &queued).await.unwrap().unwrap().status,
        "pending"
    );

    let resp = post_form(
        &b,
        app.url(&format!("/admin/jobs/{dead}/retry")),
        &[("csrf", &csrf), ("status", "dead")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/admin/jobs?status=dead");
    let row = jobs::get(&app.db, &dead).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 0));
    let resp = post_form(
        &b,
        app.url(&format!("/admin/jobs/{queued}/cancel")),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        jobs::get(&app.db, &queued).await.unwrap().unwrap().status,
        "cancelled"
    );
    // Twice: the job is no longer queued.
    let resp = post_form(
        &b,
        app.url(&format!("/admin/jobs/{queued}/cancel")),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = post_form(
        &b,
        app.url("/admin/jobs/no-such-job/retry"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    for (id, ty) in [(&dead, "job.retried"), (&queued, "job.cancelled")] {
        let evs = motcua_db::events::for_aggregate(&app.db, "job", id)
            .await
            .unwrap();
        let seen: Vec<(&str, &str)> = evs
            .iter()
            .map(|e| (e.event_type.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(seen, [(ty, "staff:admin")]);
    }

    let (status, html) = get_page(&b, app.url("/admin/mailbox")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Mã xác thực") && html.contains("Mã của bạn: 135790"),
        "{html}"
    );
    assert!(html.contains("an.nguyen@example.com"));

    let metrics = api()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("motcua_jobs{kind=\"mail.send\",status=\"cancelled\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("motcua_jobs{kind=\"mail.send\",status=\"pending\"} 1"),
        "{metrics}"
    );
}

// ---------------------------------------------------------------------------------------
// OpenID Connect: discovery and signing keys
// ---------------------------------------------------------------------------------------

async fn published_keys(app: &App) -> Vec<Value> {
    let resp = api().get(app.url("/oidc/jwks")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(content_type(&resp), "application/jwk-set+json");
    let set: Value = resp.json().await.unwrap();
    set["keys"].as_array().unwrap().clone()
}

#[tokio::test]
async fn discovery_names_the_issuer_and_its_keys_survive_a_rotation() {
    use motcua_identity::{jose, signing_keys};
    let app = spawn_app_with(|c| c.public_url = Some("https://dvc.example.vn".into())).await;
    let resp = api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["issuer"], "https://dvc.example.vn");
    assert_eq!(doc["jwks_uri"], "https://dvc.example.vn/oidc/jwks");
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );

    // The first key is made on first use; every published key is a public EC key only.
    let first = published_keys(&app).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0].get("d").is_none(),
        "no private member is published"
    );
    assert_eq!(
        (first[0]["kty"].as_str(), first[0]["alg"].as_str()),
        (Some("EC"), Some("ES256"))
    );
    let now = motcua_db::clock::now_us();
    let old = signing_keys::signing_key(&app.db, now).await.unwrap();
    assert_eq!(first[0]["kid"], old.kid.as_str());
    let old_token = old.sign("JWT", &json!({ "sub": "x" }));

    // A rotation publishes the new key before it signs; the old one keeps signing until then.
    let hour = 3_600_000_000;
    let timing = signing_keys::RotationTiming {
        publish_ahead_us: hour,
        overlap_us: 24 * hour,
    };
    let new_kid = signing_keys::rotate(&app.db, timing, now).await.unwrap();
    let both = published_keys(&app).await;
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(
        signing_keys::signing_key(&app.db, now + 1)
            .await
            .unwrap()
            .kid,
        old.kid
    );
    let later = now + hour + 1;
    let signer = signing_keys::signing_key(&app.db, later).await.unwrap();
    assert_eq!(signer.kid, new_kid);
    // A token of either key verifies against what is published.
    let new_token = signer.sign("JWT", &json!({ "sub": "y" }));
    assert_eq!(jose::verify(&old_token, &both).unwrap().claims["sub"], "x");
    assert_eq!(jose::verify(&new_token, &both).unwrap().claims["sub"], "y");
    // Once the overlap has passed, the old key is no longer published.
    let after = signing_keys::jwks(&app.db, now + 26 * hour).await.unwrap();
    let after = after["keys"].as_array().unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["kid"], new_kid.as_str());
    assert!(matches!(
        jose::verify(&old_token, after),
        Err(jose::JwsError::UnknownKey(_))
    ));
}
