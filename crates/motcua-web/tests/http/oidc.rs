//! The OpenID Connect provider end to end: a citizen logs in through the authorization
//! endpoint (PID, password, TOTP), consents, and the relying party exchanges the code, reads
//! userinfo, refreshes, introspects, revokes and logs her out; and every refusal the
//! specifications ask for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use motcua_identity::citizen_accounts::{self, Level};
use motcua_identity::password::{ArgonParams, HashingLimits, PasswordService};
use motcua_identity::relying_parties::{self, IssuedRelyingParty, Registration};
use motcua_identity::{jose, totp};
use sha2::{Digest, Sha256};

use super::*;

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const BYE: &str = "http://127.0.0.1:9/bye";
const PASSWORD: &str = "citizen-password-123";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct Citizen {
    account_id: String,
    totp_secret: String,
}

async fn citizen(app: &App, pid: &str, level: Level) -> Citizen {
    let passwords = PasswordService::with_limits(
        ArgonParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        HashingLimits::default(),
    )
    .unwrap();
    let pid = motcua_domain::Pid::parse(pid).unwrap();
    let now = motcua_db::clock::now_us();
    let created = citizen_accounts::create(&app.db, &passwords, pid, level, PASSWORD, "test", now)
        .await
        .unwrap();
    Citizen {
        account_id: created.account_id,
        totp_secret: created.totp_secret,
    }
}

async fn portal(app: &App, public: bool) -> IssuedRelyingParty {
    let r = Registration {
        name: "Cổng dịch vụ công tỉnh".into(),
        redirect_uris: vec![REDIRECT.into()],
        public,
        scopes: [
            "openid",
            "profile",
            "pid",
            "birthdate",
            "address",
            "offline_access",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        post_logout_redirect_uris: vec![BYE.into()],
        ..Registration::default()
    };
    relying_parties::create(&app.db, &r, "test").await.unwrap()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn authorize_url(app: &App, rp: &IssuedRelyingParty, extra: &[(&str, &str)]) -> String {
    let mut params: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), rp.client_id.clone()),
        ("redirect_uri".into(), REDIRECT.into()),
        ("scope".into(), "openid profile pid".into()),
        ("state".into(), "st-1".into()),
        ("nonce".into(), "n-1".into()),
        ("code_challenge".into(), challenge(VERIFIER)),
        ("code_challenge_method".into(), "S256".into()),
    ];
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            params.push(((*k).into(), (*v).into()));
        }
    }
    format!(
        "{}?{}",
        app.url("/oidc/authorize"),
        serde_urlencoded::to_string(&params).unwrap()
    )
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let len = html[start..].find('"').unwrap();
    unescape(&html[start..start + len])
}

/// Decodes the character references Askama writes in attribute values, as a browser would.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').unwrap() + i;
        let entity = &rest[i + 1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                char::from_u32(u32::from_str_radix(&entity[2..], 16).unwrap()).unwrap()
            }
            _ => char::from_u32(entity[1..].parse().unwrap()).unwrap(),
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn totp_now(c: &Citizen) -> String {
    totp::code_at(&c.totp_secret, chrono::Utc::now().timestamp()).unwrap()
}

/// Logs in on the login page the authorization endpoint showed; the response that follows.
async fn log_in(
    app: &App,
    b: &reqwest::Client,
    page: &str,
    pid: &str,
    c: &Citizen,
) -> reqwest::Response {
    post_form(
        b,
        app.url("/oidc/authorize/login"),
        &[
            ("csrf", &hidden(page, "csrf")),
            ("authz", &hidden(page, "authz")),
            ("pid", pid),
            ("password", PASSWORD),
            ("totp", &totp_now(c)),
        ],
    )
    .await
}

fn query_of(location: &str) -> std::collections::BTreeMap<String, String> {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .unwrap()
        .into_iter()
        .collect()
}

/// A browser logged in and having consented; the code of the first authorization.
async fn authorized(app: &App, rp: &IssuedRelyingParty, c: &Citizen) -> (reqwest::Client, String) {
    let b = browser();
    let resp = b.get(authorize_url(app, rp, &[])).send().await.unwrap();
    let csp = resp
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9;"),
        "the form may lead to the client: {csp}"
    );
    let status = resp.status();
    let page = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("name=\"pid\""), "the login page: {page}");
    let resp = log_in(app, &b, &page, AN, c).await;
    let status = resp.status();
    let consent = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{consent}");
    assert!(consent.contains("data-scope=\"pid\""), "{consent}");
    let resp = post_form(
        &b,
        app.url("/oidc/authorize/consent"),
        &[
            ("csrf", &hidden(&consent, "csrf")),
            ("authz", &hidden(&consent, "authz")),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = location(&resp).to_owned();
    assert!(to.starts_with(REDIRECT), "{to}");
    let q = query_of(&to);
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], app.base, "RFC 9207 iss");
    (b, q["code"].clone())
}

async fn token(app: &App, rp: &IssuedRelyingParty, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut form = form.to_vec();
    if rp.client_secret.is_none() {
        form.push(("client_id", &rp.client_id));
    }
    let mut req = api().post(app.url("/oidc/token")).form(&form);
    if let Some(secret) = &rp.client_secret {
        req = req.basic_auth(&rp.client_id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    assert_eq!(
        resp.headers().get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    (status, resp.json().await.unwrap())
}

async fn redeem(app: &App, rp: &IssuedRelyingParty, code: &str) -> (StatusCode, Value) {
    token(
        app,
        rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn userinfo(app: &App, access_token: &str) -> reqwest::Response {
    api()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_citizen_logs_in_consents_and_the_portal_gets_verified_tokens() {
    let app = spawn_app().await;
    let an = citizen(&app, AN, Level::One).await;
    let rp = portal(&app, false).await;
    let (b, code) = authorized(&app, &rp, &an).await;

    let (status, tokens) = redeem(&app, &rp, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let keys = published_keys(&app).await;
    let id = jose::verify(tokens["id_token"].as_str().unwrap(), &keys).unwrap();
    let c = &id.claims;
    assert_eq!(c["iss"], app.base);
    assert_eq!(c["aud"], rp.client_id.as_str());
    assert_eq!(c["sub"], an.account_id.as_str());
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["acr"], "1");
    assert_eq!(c["amr"], json!(["pwd", "otp"]));
    assert!(c["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(c["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());

    // Userinfo gives the registry's claims for the scopes, and the read is in her log.
    let access = tokens["access_token"].as_str().unwrap();
    let resp = userinfo(&app, access).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["sub"], an.account_id.as_str());
    assert_eq!(info["name"], "Nguyễn Văn An");
    assert_eq!(info["family_name"], "Nguyễn");
    assert_eq!(info["given_name"], "An");
    assert_eq!(info["pid"], AN);
    assert!(
        info.get("birthdate").is_none(),
        "birthdate was not asked for"
    );
    let log = accesses(&app, AN_I64).await;
    assert!(
        log.iter()
            .any(|e| e.action == "view.userinfo" && e.actor_id == rp.client_id),
        "{log:?}"
    );

    // A tampered access token is refused.
    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("openid profile pid birthdate");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let resp = userinfo(&app, &parts.join(".")).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // Introspection by the client: active, with the scopes; revocation ends it.
    let introspect = |t: String| {
        api()
            .post(app.url("/oidc/introspect"))
            .basic_auth(&rp.client_id, rp.client_secret.as_ref())
            .form(&[("token", t)])
            .send()
    };
    let active: Value = introspect(access.to_owned())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["scope"], "openid profile pid");
    assert_eq!(active["sub"], an.account_id.as_str());

    // Refresh rotates; the old refresh token replayed revokes the whole family.
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    let refreshed_id = jose::verify(second["id_token"].as_str().unwrap(), &keys).unwrap();
    assert_eq!(refreshed_id.claims["sub"], an.account_id.as_str());
    let second_access = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        userinfo(&app, &second_access).await.status(),
        StatusCode::OK
    );
    let (status, replay) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(replay["error"], "invalid_grant");
    let (status, after) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &second_refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, after["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        userinfo(&app, &second_access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let inactive: Value = introspect(second_access.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inactive, json!({ "active": false }));

    // The consent is remembered: the next authorization goes straight back with a code.
    let resp = b
        .get(authorize_url(&app, &rp, &[("state", "st-2")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let q = query_of(location(&resp));
    assert_eq!(q["state"], "st-2");
    let code = q["code"].clone();
    // A wrong PKCE verifier fails, and spends the code.
    let (status, wrong) = token(
        &app,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"x".repeat(43)),
        ],
    )
    .await;
    assert_eq!(
        (status, wrong["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, spent) = redeem(&app, &rp, &code).await;
    assert_eq!(
        (status, spent["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // A code redeemed twice: the second fails and the tokens of the first stop working.
    let resp = b.get(authorize_url(&app, &rp, &[])).send().await.unwrap();
    let code = query_of(location(&resp))["code"].clone();
    let (status, ok) = redeem(&app, &rp, &code).await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    let access = ok["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &access).await.status(), StatusCode::OK);
    let (status, again) = redeem(&app, &rp, &code).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        userinfo(&app, &access).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A wrong redirect_uri at the token endpoint fails.
    let resp = b.get(authorize_url(&app, &rp, &[])).send().await.unwrap();
    let code = query_of(location(&resp))["code"].clone();
    let (status, bad) = token(
        &app,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Revocation of an access token (RFC 7009): 200, and the token is dead.
    let resp = b.get(authorize_url(&app, &rp, &[])).send().await.unwrap();
    let code = query_of(location(&resp))["code"].clone();
    let (_, fresh) = redeem(&app, &rp, &code).await;
    let access = fresh["access_token"].as_str().unwrap().to_owned();
    let resp = api()
        .post(app.url("/oidc/revoke"))
        .basic_auth(&rp.client_id, rp.client_secret.as_ref())
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        userinfo(&app, &access).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // RP-initiated logout with the ID token as hint: back to the registered URI, session gone.
    let hint = fresh["id_token"].as_str().unwrap();
    let url = format!(
        "{}?{}",
        app.url("/oidc/logout"),
        serde_urlencoded::to_string([
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", BYE),
            ("state", "bye-1"),
        ])
        .unwrap()
    );
    let resp = b.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), format!("{BYE}?state=bye-1"));
    let refresh = fresh["refresh_token"].as_str().unwrap();
    let (status, _) = token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "logout ended the session's grants"
    );
    let resp = b
        .get(authorize_url(&app, &rp, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(query_of(location(&resp))["error"], "login_required");

    // A week after they ended, the grants are swept with their codes and refresh tokens.
    let now = motcua_db::clock::now_us();
    assert_eq!(
        motcua_identity::oidc::sweep_now(&app.db, now)
            .await
            .unwrap(),
        0,
        "kept a week"
    );
    let later = now + motcua_identity::oidc::KEEP_ENDED_GRANTS_US + 1;
    assert!(
        motcua_identity::oidc::sweep_now(&app.db, later)
            .await
            .unwrap()
            >= 4
    );
    let (status, gone) = token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, gone["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn bad_authorization_requests_are_refused_where_the_specifications_say() {
    let app = spawn_app().await;
    let an = citizen(&app, AN, Level::One).await;
    let rp = portal(&app, false).await;
    let public = portal(&app, true).await;
    let b = browser();

    // An unregistered redirect URI or unknown client: shown, never redirected.
    for url in [
        authorize_url(&app, &rp, &[("redirect_uri", "http://127.0.0.1:9/evil")]),
        authorize_url(&app, &rp, &[("client_id", "rp_unknown")]),
        authorize_url(&app, &rp, &[("redirect_uri", "")]),
        format!("{}&state=twice", authorize_url(&app, &rp, &[])),
    ] {
        let resp = b.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(resp.headers().get(header::LOCATION).is_none());
    }
    // Errors after the redirect URI is trusted go back to it, with state and iss.
    for (extra, error) in [
        (vec![("scope", "openid registry.lookup")], "invalid_scope"),
        (vec![("scope", "profile")], "invalid_scope"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let resp = b
            .get(authorize_url(&app, &rp, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{extra:?}");
        let q = query_of(location(&resp));
        assert_eq!(q["error"], error, "{extra:?}");
        assert_eq!(q["state"], "st-1");
        assert_eq!(q["iss"], app.base);
    }
    // A public client must use PKCE.
    let resp = b
        .get(authorize_url(
            &app,
            &public,
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(query_of(location(&resp))["error"], "invalid_request");

    // CSRF on the login form: without the cookie's token, refused.
    let (_, page) = get_page(&b, authorize_url(&app, &rp, &[])).await;
    let resp = post_form(
        &api(),
        app.url("/oidc/authorize/login"),
        &[
            ("csrf", &hidden(&page, "csrf")),
            ("authz", &hidden(&page, "authz")),
            ("pid", AN),
            ("password", PASSWORD),
            ("totp", &totp_now(&an)),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // A wrong code or password: one message, no session.
    let resp = post_form(
        &b,
        app.url("/oidc/authorize/login"),
        &[
            ("csrf", &hidden(&page, "csrf")),
            ("authz", &hidden(&page, "authz")),
            ("pid", AN),
            ("password", "wrong-password"),
            ("totp", &totp_now(&an)),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // acr_values above the session's level: a step-up login, then the refusal, since the
    // account itself is at level 1.
    let (_, page) = get_page(&b, authorize_url(&app, &rp, &[])).await;
    assert_eq!(
        log_in(&app, &b, &page, AN, &an).await.status(),
        StatusCode::OK
    );
    let (status, page) = get_page(&b, authorize_url(&app, &rp, &[("acr_values", "2")])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("class=\"notice\""),
        "the step-up notice: {page}"
    );
    // The next step's code: the one just used cannot be used again.
    let next = totp::code_at(&an.totp_secret, chrono::Utc::now().timestamp() + 30).unwrap();
    let resp = post_form(
        &b,
        app.url("/oidc/authorize/login"),
        &[
            ("csrf", &hidden(&page, "csrf")),
            ("authz", &hidden(&page, "authz")),
            ("pid", AN),
            ("password", PASSWORD),
            ("totp", &next),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let q = query_of(location(&resp));
    assert_eq!(q["error"], "unmet_authentication_requirements");
    let events = motcua_db::events::for_aggregate(&app.db, "citizen_account", &an.account_id)
        .await
        .unwrap();
    let step_up = events
        .iter()
        .find(|e| e.event_type == "citizen_account.stepped_up")
        .expect("the step-up login is recorded");
    assert!(
        step_up.payload.contains("\"required_acr\":\"2\""),
        "{}",
        step_up.payload
    );

    // CSRF on the consent form: another token is refused.
    let (status, consent) = get_page(&b, authorize_url(&app, &rp, &[])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(consent.contains("data-scope"), "{consent}");
    let resp = post_form(
        &b,
        app.url("/oidc/authorize/consent"),
        &[
            ("csrf", "forged"),
            ("authz", &hidden(&consent, "authz")),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Denying sends access_denied back.
    let resp = post_form(
        &b,
        app.url("/oidc/authorize/consent"),
        &[
            ("csrf", &hidden(&consent, "csrf")),
            ("authz", &hidden(&consent, "authz")),
            ("decision", "deny"),
        ],
    )
    .await;
    assert_eq!(query_of(location(&resp))["error"], "access_denied");

    // Token endpoint: a wrong secret, an unknown grant type.
    let resp = api()
        .post(app.url("/oidc/token"))
        .basic_auth(&rp.client_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get(header::WWW_AUTHENTICATE).is_some());
    let (status, e) = token(&app, &rp, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (status, e) = token(&app, &rp, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = spawn_app_with(|c| c.oidc.code_us = 200_000).await;
    let an = citizen(&app, AN, Level::One).await;
    let rp = portal(&app, true).await;
    let (_, code) = authorized(&app, &rp, &an).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, e) = redeem(&app, &rp, &code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(
        e["error_description"].as_str().unwrap().contains("expired"),
        "{e}"
    );
}

#[tokio::test]
async fn agency_systems_call_the_registry_with_client_credentials_tokens() {
    let app = spawn_app().await;
    let agency = relying_parties::create(
        &app.db,
        &Registration {
            name: "Hệ thống BHXH".into(),
            grants: vec!["client_credentials".into()],
            scopes: vec!["registry.verify".into()],
            ..Registration::default()
        },
        "test",
    )
    .await
    .unwrap();
    let secret = agency.client_secret.clone().unwrap();
    let get_token = |scope: Option<&'static str>| {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        api()
            .post(app.url("/oidc/token"))
            .basic_auth(&agency.client_id, Some(&secret))
            .form(&form)
            .send()
    };
    let resp = get_token(Some("registry.lookup")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );
    let tokens: Value = get_token(None).await.unwrap().json().await.unwrap();
    assert_eq!(tokens["scope"], "registry.verify");
    assert!(tokens.get("refresh_token").is_none());
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let verify = |t: String| {
        api()
            .post(app.url("/api/v1/registry/verifications"))
            .bearer_auth(t)
            .json(&an_request())
            .send()
    };
    let resp = verify(access.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let log = accesses(&app, AN_I64).await;
    assert!(
        log.iter()
            .any(|e| e.actor_id == agency.client_id && e.action == "verify"),
        "{log:?}"
    );
    // The token's scopes are the client's: no lookup.
    let resp = api()
        .get(app.url(&format!("/api/v1/registry/citizens/{AN}")))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // A tampered or revoked token is refused.
    let resp = verify(format!("{access}x")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = api()
        .post(app.url("/oidc/revoke"))
        .basic_auth(&agency.client_id, Some(&secret))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        verify(access).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_portal_logs_a_citizen_in_through_the_provider_and_shows_who_read_her_data() {
    let app = spawn_app().await;
    let an = citizen(&app, AN, Level::One).await;
    // A second node on the same database, knowing the portal's client: registered first,
    // with the redirect URI on this node's address.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let portal = format!("http://{}", listener.local_addr().unwrap());
    let portal_client = relying_parties::create(
        &app.db,
        &Registration {
            name: "Cổng dịch vụ công".into(),
            redirect_uris: vec![format!("{portal}/auth/callback")],
            scopes: ["openid", "profile", "pid", "birthdate", "address"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ..Registration::default()
        },
        "test",
    )
    .await
    .unwrap();
    let config = WebConfig {
        argon: ArgonParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        portal_client_id: Some(portal_client.client_id.clone()),
        ..Default::default()
    };
    let state = AppState::new(app.db.db.clone(), config).unwrap();
    tokio::spawn(motcua_web::serve(listener, state));

    // An agency verifies her a moment before.
    let resp = verify_as(&app, &app.reader, an_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // The first node's journal is copied into the shared database, where the second reads.
    app.access_log.flush().await.unwrap();

    let b = browser();
    let resp = b.get(format!("{portal}/account")).send().await.unwrap();
    assert_eq!(location(&resp), "/auth/login");
    let resp = b.get(format!("{portal}/auth/login")).send().await.unwrap();
    let to = location(&resp).to_owned();
    assert!(to.starts_with(&format!("{portal}/oidc/authorize?")), "{to}");
    let (status, page) = get_page(&b, to).await;
    assert_eq!(status, StatusCode::OK);
    let resp = post_form(
        &b,
        format!("{portal}/oidc/authorize/login"),
        &[
            ("csrf", &hidden(&page, "csrf")),
            ("authz", &hidden(&page, "authz")),
            ("pid", AN),
            ("password", PASSWORD),
            ("totp", &totp_now(&an)),
        ],
    )
    .await;
    let consent = resp.text().await.unwrap();
    let resp = post_form(
        &b,
        format!("{portal}/oidc/authorize/consent"),
        &[
            ("csrf", &hidden(&consent, "csrf")),
            ("authz", &hidden(&consent, "authz")),
            ("decision", "allow"),
        ],
    )
    .await;
    let callback = location(&resp).to_owned();
    assert!(
        callback.starts_with(&format!("{portal}/auth/callback?")),
        "{callback}"
    );
    let resp = b.get(callback.clone()).send().await.unwrap();
    assert_eq!(location(&resp), "/account");
    // The callback cannot be replayed: the flow cookie is spent and the code used.
    let resp = b.get(callback).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let (status, html) = get_page(&b, format!("{portal}/account")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Nguyễn Văn An") && html.contains(AN),
        "{html}"
    );
    // Her son under 14, in her household with her as his father in the registry, is attached.
    assert!(
        !html.contains("id=\"children\""),
        "no child is recorded as his yet"
    );
    let _: u64 = motcua_db::on_write!(&app.db, c => {
        sqlx::query("UPDATE citizens SET father_pid = $1 WHERE pid = 1220000001")
            .bind(AN_I64)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })
    .unwrap();
    let (_, html) = get_page(&b, format!("{portal}/account")).await;
    let children = html
        .split("id=\"children\"")
        .nth(1)
        .expect("the children list");
    assert!(children.contains("Nguyễn Minh Khang"), "{html}");
    let (status, html) = get_page(&b, format!("{portal}/account/accesses")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Cơ quan thuế"),
        "the agency's verification is listed: {html}"
    );

    // Her consent is listed and can be withdrawn; her session can be ended.
    let (_, html) = get_page(&b, format!("{portal}/account/sessions")).await;
    assert!(html.contains("data-client=\"rp_"), "{html}");
    let csrf = csrf_field(&html);
    let client_id = html
        .split("data-client=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let resp = post_form(
        &b,
        format!("{portal}/account/consents/{client_id}/withdraw"),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = post_form(
        &b,
        format!("{portal}/account/consents/{client_id}/withdraw"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, html) = get_page(&b, format!("{portal}/account/sessions")).await;
    assert!(!html.contains("data-client=\"rp_"), "{html}");
    let resp = post_form(&b, format!("{portal}/account/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = b.get(format!("{portal}/account")).send().await.unwrap();
    assert_eq!(location(&resp), "/auth/login");
}

#[tokio::test]
async fn who_read_my_data_pages_newest_first() {
    use motcua_db::access_log::{AccessEntry, ActorKind};
    let app = spawn_app().await;
    let entries: Vec<AccessEntry> = (0..120)
        .map(|i| AccessEntry {
            at: 1_700_000_000_000_000 + i * 1_000_000,
            actor_kind: ActorKind::Client,
            actor_id: "c".into(),
            actor_name: format!("agency-{i:03}"),
            action: "verify".into(),
            purpose: "test".into(),
            reference: None,
            subject_pid: Some(AN_I64),
            outcome: "match".into(),
            request_id: None,
        })
        .collect();
    app.access_log.record_all(entries).await.unwrap();
    let first = app
        .access_log
        .by_subject_before(AN_I64, None, 50)
        .await
        .unwrap();
    assert_eq!(first.len(), 50);
    assert_eq!(first[0].actor_name, "agency-119");
    let last = first.last().unwrap();
    let second = app
        .access_log
        .by_subject_before(AN_I64, Some((last.at, last.id)), 50)
        .await
        .unwrap();
    assert_eq!(second[0].actor_name, "agency-069");
    let last = second.last().unwrap();
    let third = app
        .access_log
        .by_subject_before(AN_I64, Some((last.at, last.id)), 50)
        .await
        .unwrap();
    assert_eq!(third.len(), 20);
    assert_eq!(third.last().unwrap().actor_name, "agency-000");
}

/// The code in the newest registration e-mail queued for `to`.
async fn mailed_code(app: &App, to: &str) -> String {
    // The test's server runs no worker: take the message as the mail worker would.
    let now = motcua_db::clock::now_us();
    let jobs = motcua_db::jobs::claim(&app.db, "mail.send", "test", 50, 60_000_000, now)
        .await
        .unwrap();
    let message = jobs
        .iter()
        .map(|j| serde_json::from_str::<Value>(&j.payload).unwrap())
        .find(|m| m["to"] == to)
        .expect("a message to the address");
    let text = message["text"].as_str().unwrap();
    let start = text.find(|c: char| c.is_ascii_digit()).unwrap();
    text[start..start + 6].to_owned()
}

#[tokio::test]
async fn a_citizen_registers_level_one_after_matching_the_registry_and_confirming_her_email() {
    let app = spawn_app().await;
    let b = browser();
    let (status, page) = get_page(&b, app.url("/account/register")).await;
    assert_eq!(status, StatusCode::OK);
    let register = |fields: Vec<(&'static str, String)>| {
        let b = b.clone();
        let url = app.url("/account/register");
        async move {
            let (_, page) = get_page(&b, url.clone()).await;
            let mut form = vec![("csrf", hidden(&page, "csrf"))];
            form.extend(fields);
            b.post(url).form(&form).send().await.unwrap()
        }
    };
    let binh = |dob: &str| {
        vec![
            ("pid", "001195012346".to_owned()),
            ("full_name", "Trần Thị Bình".to_owned()),
            ("date_of_birth", dob.to_owned()),
            ("email", "binh@example.vn".to_owned()),
            ("password", "binh-password-123".to_owned()),
            ("password_again", "binh-password-123".to_owned()),
        ]
    };
    // Without the form's token: refused.
    let resp = post_form(
        &api(),
        app.url("/account/register"),
        &[("csrf", &hidden(&page, "csrf"))],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Bad fields are named; a wrong date of birth does not match the registry.
    let mut bad = binh("1995-07-02");
    bad[3].1 = "not-an-email".into();
    bad[5].1 = "other-password-123".into();
    let resp = register(bad).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("href=\"#email\"") && html.contains("href=\"#password_again\""),
        "{html}"
    );
    let resp = register(binh("1995-07-03")).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("href=\"#pid\""));
    // A child under 14 cannot hold her own account.
    let resp = register(vec![
        ("pid", "001220000001".to_owned()),
        ("full_name", "Nguyễn Minh Khang".to_owned()),
        ("date_of_birth", "2020-01-05".to_owned()),
        ("email", "khang@example.vn".to_owned()),
        ("password", "khang-password-123".to_owned()),
        ("password_again", "khang-password-123".to_owned()),
    ])
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let resp = register(binh("1995-07-02")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let confirm_url = app.url(location(&resp));
    let code = mailed_code(&app, "binh@example.vn").await;
    let (status, page) = get_page(&b, confirm_url.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("binh@example.vn"));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let resp = post_form(
        &b,
        confirm_url.clone(),
        &[("csrf", &hidden(&page, "csrf")), ("code", wrong)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, page) = get_page(&b, confirm_url.clone()).await;
    let resp = post_form(
        &b,
        confirm_url.clone(),
        &[("csrf", &hidden(&page, "csrf")), ("code", &code)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let secret = html
        .split("id=\"totp-secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let account =
        citizen_accounts::by_pid(&app.db, motcua_domain::Pid::parse("001195012346").unwrap())
            .await
            .unwrap()
            .expect("the account");
    assert_eq!(account.level, Level::One);
    // The code is spent; the account logs in with its password and TOTP.
    let (status, _) = get_page(&b, confirm_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let passwords = PasswordService::with_limits(
        ArgonParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        HashingLimits::default(),
    )
    .unwrap();
    let code = totp::code_at(&secret, chrono::Utc::now().timestamp()).unwrap();
    let ok = citizen_accounts::authenticate(
        &app.db,
        &passwords,
        Default::default(),
        "001195012346",
        "binh-password-123",
        &code,
        motcua_db::clock::now_us(),
    )
    .await
    .unwrap();
    assert!(ok.is_ok(), "{ok:?}");

    // Password reset through the proved address; another address gets the same answer and no mail.
    let reset = |email: &'static str| {
        let b = b.clone();
        let url = app.url("/account/reset");
        async move {
            let (_, page) = get_page(&b, url.clone()).await;
            let form = [
                ("csrf", hidden(&page, "csrf")),
                ("pid", "001195012346".to_owned()),
                ("email", email.to_owned()),
            ];
            let resp = b.post(url).form(&form).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            location(&resp).to_owned()
        }
    };
    let _ = reset("someone@example.vn").await;
    let now = motcua_db::clock::now_us();
    assert!(
        motcua_db::jobs::claim(&app.db, "mail.send", "test", 50, 60_000_000, now)
            .await
            .unwrap()
            .is_empty()
    );
    let to = reset("BINH@example.vn").await;
    let code = mailed_code(&app, "binh@example.vn").await;
    let (_, page) = get_page(&b, app.url(&to)).await;
    let resp = post_form(
        &b,
        app.url(&to),
        &[
            ("csrf", &hidden(&page, "csrf")),
            ("code", &code),
            ("password", "binh-new-password-1"),
            ("password_again", "binh-new-password-1"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, page) = get_page(&b, app.url(&to)).await;
    let resp = post_form(
        &b,
        app.url(&to),
        &[
            ("csrf", &hidden(&page, "csrf")),
            ("code", &code),
            ("password", "binh-other-password-1"),
            ("password_again", "binh-other-password-1"),
        ],
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a code works once"
    );
    let events = motcua_db::events::for_aggregate(&app.db, "citizen_account", &account.id)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.event_type == "citizen_account.password_reset")
    );
}

#[tokio::test]
async fn an_officer_raises_an_account_to_level_two_after_seeing_the_citizen() {
    let app = spawn_app().await;
    let an = citizen(&app, AN, Level::One).await;
    let b = signed_in(&app, OFFICER).await;
    let url = app.url(&format!("/identity/accounts/{AN}/level2"));
    let (status, page) = get_page(&b, url.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_field(&page);
    let resp = post_form(
        &b,
        url.clone(),
        &[
            ("csrf", &csrf),
            ("place", " "),
            ("document_seen", "căn cước"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("href=\"#place\""));
    let resp = post_form(
        &b,
        url.clone(),
        &[
            ("csrf", &csrf),
            ("place", "Bộ phận một cửa phường Hoàn Kiếm"),
            ("document_seen", "căn cước 001095012345"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let account = citizen_accounts::by_id(&app.db, &an.account_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.level, Level::Two);
    let events = motcua_db::events::for_aggregate(&app.db, "citizen_account", &an.account_id)
        .await
        .unwrap();
    let raised = events
        .iter()
        .find(|e| e.event_type == "citizen_account.level_raised")
        .unwrap();
    assert_eq!(raised.actor, "staff:officer");
    assert!(raised.payload.contains("Hoàn Kiếm"));
    let (_, page) = get_page(&b, url).await;
    assert!(page.contains("data-level=\"2\""));
    // Anonymous visitors are sent to the staff login.
    let resp = browser()
        .get(app.url(&format!("/identity/accounts/{AN}/level2")))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), "/login");
}

/// A valid 10-digit tax code starting with `nine`.
fn tax_code(nine: [u8; 9]) -> String {
    let check = motcua_domain::tax_code::check_digit(&nine).expect("a digit");
    nine.iter()
        .chain([check].iter())
        .map(|d| char::from(b'0' + d))
        .collect()
}

#[tokio::test]
async fn a_citizen_logs_in_with_her_social_insurance_code_and_represents_an_organisation() {
    use motcua_identity::organisations;
    let app = spawn_app().await;
    // Her registry record carries a social-insurance code when her account is made.
    let _: u64 = motcua_db::on_write!(&app.db, c => {
        sqlx::query("UPDATE citizens SET social_insurance_code = '0195012345' WHERE pid = $1")
            .bind(AN_I64)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })
    .unwrap();
    let an = citizen(&app, AN, Level::One).await;
    let rp = portal(&app, false).await;
    let b = browser();
    let (_, page) = get_page(&b, authorize_url(&app, &rp, &[])).await;
    let resp = log_in(&app, &b, &page, "0195012345", &an).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "logged in by the social-insurance code"
    );
    assert!(resp.text().await.unwrap().contains("data-scope"));

    // Organisations: the tax code's check digit is checked; representatives are accounts.
    let now = motcua_db::clock::now_us();
    let code = tax_code([0, 1, 0, 0, 1, 0, 9, 1, 2]);
    let mut wrong = code.clone().into_bytes();
    wrong[9] = b'0' + (wrong[9] - b'0' + 1) % 10;
    let wrong = String::from_utf8(wrong).unwrap();
    let e = organisations::register(&app.db, &wrong, "Công ty TNHH Một Cửa", "admin", now)
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("tax_code:"), "{e}");
    organisations::register(&app.db, &code, "Công ty TNHH Một Cửa", "admin", now)
        .await
        .unwrap();
    let e = organisations::add_representative(
        &app.db,
        &code,
        "001195012346",
        "authorised",
        "admin",
        now,
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().starts_with("pid:"),
        "Bình has no account: {e}"
    );
    organisations::add_representative(&app.db, &code, AN, "legal_representative", "admin", now)
        .await
        .unwrap();
    let acting = organisations::represented_by(&app.db, &an.account_id)
        .await
        .unwrap();
    assert_eq!(acting.len(), 1);
    assert_eq!(
        (acting[0].tax_code.as_str(), acting[0].role.as_str()),
        (code.as_str(), "legal_representative")
    );
}

#[tokio::test]
async fn administrators_register_organisations_and_their_representatives() {
    let app = spawn_app().await;
    let _an = citizen(&app, AN, Level::One).await;
    let code = tax_code([0, 3, 1, 2, 3, 4, 5, 6, 7]);
    let officer = signed_in(&app, OFFICER).await;
    let (status, _) = get_page(&officer, app.url("/admin/organisations")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let b = signed_in(&app, ADMIN).await;
    let (status, page) = get_page(&b, app.url("/admin/organisations")).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_field(&page);
    let resp = post_form(
        &b,
        app.url("/admin/organisations"),
        &[
            ("csrf", &csrf),
            ("tax_code", "0312345678x"),
            ("name", "Công ty"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("href=\"#tax_code\""));
    let resp = post_form(
        &b,
        app.url("/admin/organisations"),
        &[
            ("csrf", &csrf),
            ("tax_code", &code),
            ("name", "Công ty Cổ phần Phố Hiến"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = post_form(
        &b,
        app.url(&format!("/admin/organisations/{code}/representatives")),
        &[
            ("csrf", &csrf),
            ("pid", AN),
            ("role", "legal_representative"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, page) = get_page(&b, app.url("/admin/organisations")).await;
    assert!(
        page.contains("Công ty Cổ phần Phố Hiến") && page.contains(AN),
        "{page}"
    );
}

#[tokio::test]
async fn administrators_register_openid_connect_clients_on_a_page() {
    let app = spawn_app().await;
    let b = signed_in(&app, ADMIN).await;
    let (status, page) = get_page(&b, app.url("/admin/relying-parties")).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_field(&page);
    let resp = post_form(
        &b,
        app.url("/admin/relying-parties"),
        &[
            ("csrf", &csrf),
            ("name", "Cổng tỉnh"),
            ("kind", "confidential"),
            ("redirect_uris", "http://dvc.example.vn/cb"),
            ("scope", "openid profile"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("href=\"#redirect_uris\"")
    );
    let resp = post_form(
        &b,
        app.url("/admin/relying-parties"),
        &[
            ("csrf", &csrf),
            ("name", "Cổng tỉnh"),
            ("kind", "confidential"),
            ("redirect_uris", "https://dvc.example.vn/cb"),
            ("post_logout_redirect_uris", "https://dvc.example.vn/"),
            ("scope", "openid profile pid"),
            ("require_par", "on"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let id = html
        .split("id=\"client-id\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert!(html.contains("id=\"client-secret\""));
    let rp = relying_parties::by_id(&app.db, id).await.unwrap().unwrap();
    assert!(rp.require_par && !rp.require_dpop);
    assert_eq!(
        rp.post_logout_redirect_uris,
        vec!["https://dvc.example.vn/".to_owned()]
    );
    let (_, page) = get_page(&b, app.url("/admin/relying-parties")).await;
    assert!(page.contains(id));
}

/// A software authenticator for the passkey ceremonies: one P-256 key, CTAP2 encodings.
struct Authenticator {
    key: p256::ecdsa::SigningKey,
    credential: Vec<u8>,
}

impl Authenticator {
    fn new() -> Authenticator {
        Authenticator {
            key: p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap(),
            credential: vec![7u8; 16],
        }
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> String {
        URL_SAFE_NO_PAD.encode(
            json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false })
                .to_string(),
        )
    }

    fn auth_data(
        rp_id: &str,
        flags: u8,
        counter: u32,
        attested: bool,
        key: &p256::ecdsa::SigningKey,
        credential: &[u8],
    ) -> Vec<u8> {
        let mut out = Sha256::digest(rp_id.as_bytes()).to_vec();
        out.push(flags);
        out.extend(counter.to_be_bytes());
        if attested {
            out.extend([0u8; 16]);
            out.extend((credential.len() as u16).to_be_bytes());
            out.extend(credential);
            let point = key.verifying_key().to_encoded_point(false);
            out.extend([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]);
            out.extend(point.x().unwrap());
            out.extend([0x22, 0x58, 0x20]);
            out.extend(point.y().unwrap());
        }
        out
    }

    fn register(
        &self,
        ceremony: &motcua_identity::passkeys::Ceremony,
        origin: &str,
    ) -> motcua_identity::passkeys::Answer {
        let rp_id = ceremony.options["rp"]["id"].as_str().unwrap();
        let auth = Self::auth_data(rp_id, 0x45, 0, true, &self.key, &self.credential);
        let mut object = vec![0xa3, 0x63];
        object.extend(b"fmt");
        object.push(0x64);
        object.extend(b"none");
        object.push(0x67);
        object.extend(b"attStmt");
        object.push(0xa0);
        object.push(0x68);
        object.extend(b"authData");
        object.extend([0x58, auth.len() as u8]);
        object.extend(&auth);
        motcua_identity::passkeys::Answer {
            ceremony_id: ceremony.id.clone(),
            credential_id: URL_SAFE_NO_PAD.encode(&self.credential),
            client_data_json: Self::client_data(
                "webauthn.create",
                ceremony.options["challenge"].as_str().unwrap(),
                origin,
            ),
            attestation_object: URL_SAFE_NO_PAD.encode(object),
            ..Default::default()
        }
    }

    fn assert(
        &self,
        ceremony: &motcua_identity::passkeys::Ceremony,
        origin: &str,
        counter: u32,
    ) -> motcua_identity::passkeys::Answer {
        use p256::ecdsa::signature::Signer;
        let rp_id = ceremony.options["rpId"].as_str().unwrap();
        let auth = Self::auth_data(rp_id, 0x05, counter, false, &self.key, &self.credential);
        let client_data = Self::client_data(
            "webauthn.get",
            ceremony.options["challenge"].as_str().unwrap(),
            origin,
        );
        let mut signed = auth.clone();
        signed.extend(Sha256::digest(
            URL_SAFE_NO_PAD.decode(&client_data).unwrap(),
        ));
        let signature: p256::ecdsa::Signature = self.key.sign(&signed);
        motcua_identity::passkeys::Answer {
            ceremony_id: ceremony.id.clone(),
            credential_id: URL_SAFE_NO_PAD.encode(&self.credential),
            client_data_json: client_data,
            authenticator_data: URL_SAFE_NO_PAD.encode(auth),
            signature: URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
            ..Default::default()
        }
    }
}

#[tokio::test]
async fn passkey_ceremonies_refuse_what_webauthn_says_a_relying_party_must() {
    use motcua_identity::passkeys::{self, RelyingParty};
    let app = spawn_app().await;
    let an = citizen(&app, AN, Level::One).await;
    let account = citizen_accounts::by_id(&app.db, &an.account_id)
        .await
        .unwrap()
        .unwrap();
    let rp = RelyingParty::of_issuer("http://localhost:8080", "motcua");
    let origin = "http://localhost:8080";
    let device = Authenticator::new();
    let now = motcua_db::clock::now_us();

    // Registration: another origin, then a replayed ceremony, are refused; the right one passes.
    let c = passkeys::start_registration(&app.db, &rp, &account, now)
        .await
        .unwrap();
    let err = passkeys::finish_registration(
        &app.db,
        &rp,
        &account,
        &device.register(&c, "http://evil.example"),
        now,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("origin"), "{err}");
    let err =
        passkeys::finish_registration(&app.db, &rp, &account, &device.register(&c, origin), now)
            .await
            .unwrap_err();
    assert!(
        err.to_string().contains("already used"),
        "a ceremony is used once: {err}"
    );
    let c = passkeys::start_registration(&app.db, &rp, &account, now)
        .await
        .unwrap();
    let credential =
        passkeys::finish_registration(&app.db, &rp, &account, &device.register(&c, origin), now)
            .await
            .unwrap();
    assert_eq!(
        passkeys::list(&app.db, &account.id).await.unwrap()[0].0,
        credential
    );

    // Login: the right signature passes and names the account.
    let c = passkeys::start_login(&app.db, &rp, now).await.unwrap();
    let who = passkeys::finish_login(&app.db, &rp, &device.assert(&c, origin, 1), now)
        .await
        .unwrap();
    assert_eq!(who.id, account.id);
    // Changed content fails the signature.
    let c = passkeys::start_login(&app.db, &rp, now).await.unwrap();
    let mut answer = device.assert(&c, origin, 2);
    let mut auth = URL_SAFE_NO_PAD.decode(&answer.authenticator_data).unwrap();
    auth[36] ^= 1;
    answer.authenticator_data = URL_SAFE_NO_PAD.encode(auth);
    let err = passkeys::finish_login(&app.db, &rp, &answer, now)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("signature"), "{err}");
    // Another key under the registered credential id fails too.
    let c = passkeys::start_login(&app.db, &rp, now).await.unwrap();
    let thief = Authenticator {
        key: p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap(),
        credential: device.credential.clone(),
    };
    let err = passkeys::finish_login(&app.db, &rp, &thief.assert(&c, origin, 5), now)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("signature"), "{err}");
    // A counter that does not grow means a cloned authenticator.
    let c = passkeys::start_login(&app.db, &rp, now).await.unwrap();
    let err = passkeys::finish_login(&app.db, &rp, &device.assert(&c, origin, 1), now)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("counter"), "{err}");
    // Another relying party's credential (RP ID hash) is refused.
    let other = RelyingParty::of_issuer("http://other.example", "x");
    let c = passkeys::start_login(&app.db, &other, now).await.unwrap();
    let err = passkeys::finish_login(&app.db, &rp, &device.assert(&c, origin, 9), now)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("RP ID"), "{err}");
}

#[tokio::test]
async fn the_second_factor_can_be_a_code_sent_to_the_proved_email() {
    let app = spawn_app().await;
    let an = citizen(&app, AN, Level::One).await;
    let rp = portal(&app, false).await;
    let b = browser();
    let login_by_email = |page: String| {
        let b = b.clone();
        let url = app.url("/oidc/authorize/login");
        async move {
            let form = [
                ("csrf", hidden(&page, "csrf")),
                ("authz", hidden(&page, "authz")),
                ("pid", AN.to_owned()),
                ("password", PASSWORD.to_owned()),
                ("second", "email".to_owned()),
            ];
            b.post(url).form(&form).send().await.unwrap()
        }
    };
    // Without a proved address there is no code to send.
    let (_, page) = get_page(&b, authorize_url(&app, &rp, &[])).await;
    let resp = login_by_email(page).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("href=\"#totp\""));

    let _: u64 = motcua_db::on_write!(&app.db, c => {
        sqlx::query("UPDATE citizen_accounts SET email = 'an@example.vn', email_verified_at = 1 WHERE id = $1")
            .bind(&an.account_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })
    .unwrap();
    let (_, page) = get_page(&b, authorize_url(&app, &rp, &[])).await;
    let resp = login_by_email(page).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(page.contains("a•••n@example.vn"), "{page}");
    let code = mailed_code(&app, "an@example.vn").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let post_code = |page: String, code: String| {
        let b = b.clone();
        let url = app.url("/oidc/authorize/email-code");
        async move {
            let form = [
                ("csrf", hidden(&page, "csrf")),
                ("authz", hidden(&page, "authz")),
                ("code_id", hidden(&page, "code_id")),
                ("masked_email", hidden(&page, "masked_email")),
                ("code", code),
            ];
            b.post(url).form(&form).send().await.unwrap()
        }
    };
    let resp = post_code(page, wrong.to_owned()).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    let resp = post_code(page.clone(), code.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text().await.unwrap().contains("data-scope"),
        "logged in: the consent page"
    );
    // The code is spent.
    let again = motcua_identity::login_codes::confirm(
        &app.db,
        &hidden(&page, "code_id"),
        &code,
        motcua_db::clock::now_us(),
    )
    .await;
    assert!(again.unwrap_err().to_string().starts_with("code:"));
}

#[tokio::test]
async fn logout_posts_a_signed_logout_token_to_the_back_channel() {
    use motcua_db::jobs::worker::{self, Registry, WorkerConfig};
    let app = spawn_app().await;
    let an = citizen(&app, AN, Level::One).await;
    // The relying party's back-channel endpoint: keeps what it is sent.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let receiver = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let rp = relying_parties::create(
        &app.db,
        &Registration {
            name: "Cổng có đăng xuất".into(),
            redirect_uris: vec![REDIRECT.into()],
            scopes: vec!["openid".into(), "profile".into(), "pid".into()],
            backchannel_logout_uri: Some(receiver_url),
            ..Registration::default()
        },
        "test",
    )
    .await
    .unwrap();
    let (b, code) = authorized(&app, &rp, &an).await;
    let (_, tokens) = redeem(&app, &rp, &code).await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let keys = published_keys(&app).await;
    let sid = jose::verify(&id_token, &keys).unwrap().claims["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    // The citizen logs out at the provider, confirming on its page.
    let (_, page) = get_page(&b, app.url("/oidc/logout")).await;
    let resp = post_form(&b, app.url("/oidc/logout"), &[("csrf", &csrf_field(&page))]).await;
    assert_eq!(resp.status(), StatusCode::OK);

    let mut registry = Registry::new();
    motcua_identity::oidc::backchannel::register(
        &mut registry,
        app.db.db.clone(),
        app.base.clone(),
    );
    let handle = worker::start(app.db.db.clone(), registry, WorkerConfig::default());
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a logout token within 10 s")
        .unwrap();
    handle.shutdown().await;
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let token = &form.iter().find(|(k, _)| k == "logout_token").unwrap().1;
    let verified = jose::verify(token, &keys).unwrap();
    assert_eq!(verified.header["typ"], "logout+jwt");
    let c = &verified.claims;
    assert_eq!(c["iss"], app.base);
    assert_eq!(c["aud"], rp.client_id.as_str());
    assert_eq!(c["sid"], sid.as_str());
    assert_eq!(c["sub"], an.account_id.as_str());
    assert!(c["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(c.get("nonce").is_none(), "a logout token carries no nonce");
}
