#!/usr/bin/env python3
"""motcua's OpenID Connect provider seen by Python's authlib, an independent client library.

Usage: oidc_authlib.py BASE_URL DATA_DIR MOTCUA_BIN (or env MOTCUA_URL, MOTCUA_DATA_DIR,
MOTCUA_BIN), against a running `motcua demo`; on PostgreSQL, MOTCUA_DATABASE_URL in the
environment reaches the CLI. The script registers its own clients with the CLI and checks:
  (a) a confidential portal authenticating with private_key_jwt (ES256) through authlib's
      OAuth2Session and PrivateKeyJWT: code flow with PKCE, the ID token (signature against the
      JWKS, iss, aud, nonce), userinfo, refresh, introspection, revocation, assertion replay;
  (b) an agency system with client_credentials (registry.verify): the bearer token at the
      registry API, and the scope it lacks refused at the token endpoint and at the API;
  (c) PAR: authlib's client authentication on a POST to /oidc/par, the authorization with
      request_uri, and a --require-par client refusing an unpushed request;
  (d) DPoP: proofs signed with joserfc (authlib's JOSE engine) on the token request and at
      userinfo for a --require-dpop client; proofs for another URL, replayed proofs, missing
      proofs and bearer use of a bound token are refused.
The citizen's login and consent pages are driven with requests (the level-1 demo citizen, so
its TOTP steps never collide with the Node tests' level-2 citizen). Prints one line per check
passed; exits non-zero at the first failure.
"""

import base64
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

CITIZEN_PID = "001195012346"  # level 1
CITIZEN_NAME = "Trần Thị Bình"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}


class CheckFailed(Exception):
    pass


PASSED = []


def ok(what):
    PASSED.append(what)
    print(f"ok {len(PASSED)} - {what}", flush=True)


def check(cond, what, detail=""):
    if not cond:
        raise CheckFailed(f"{what}{': ' + detail if detail else ''}")


def expect_status(resp, status, what):
    check(
        resp.status_code == status,
        what,
        f"expected {status}, got {resp.status_code} {resp.headers.get('location', '')} {resp.text[:300]}",
    )


def expect_oauth_error(resp, status, error, what):
    expect_status(resp, status, what)
    body = resp.json()
    check(body.get("error") == error, what, f"expected error {error}, got {body}")


def expect_raises_oauth(fn, error, what):
    try:
        fn()
    except OAuthError as e:
        check(e.error == error, what, f"expected {error}, got {e.error}: {e.description}")
        return
    raise CheckFailed(f"{what}: no error raised")


# ---- TOTP (RFC 6238, SHA-1, 6 digits, 30 s) ----

_last_step = {}


def totp(secret_b32, step):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    n = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{n:06d}"


def fresh_totp(secret):
    # The provider accepts a code once per account and step: a second login waits for the next.
    while _last_step.get(secret) == int(time.time() // 30):
        time.sleep(30 - time.time() % 30 + 0.1)
    step = int(time.time() // 30)
    _last_step[secret] = step
    return totp(secret, step)


# ---- The citizen's browser ----


def hidden_fields(page, action):
    for attrs, body in re.findall(r"<form\b([^>]*)>(.*?)</form>", page, re.S | re.I):
        m = re.search(r'action="([^"]*)"', attrs)
        if not m or html.unescape(m.group(1)) != action:
            continue
        fields = {}
        for tag in re.findall(r"<input\b[^>]*>", body, re.I):
            a = {k.lower(): html.unescape(v) for k, v in re.findall(r'\s([\w-]+)="([^"]*)"', tag)}
            if a.get("type") == "hidden":
                fields[a.get("name")] = a.get("value", "")
        return fields
    return None


class Browser:
    """A cookie-keeping user agent that logs the citizen in once and reuses the session."""

    def __init__(self, base, citizen):
        self.base = base
        self.citizen = citizen
        self.http = requests.Session()

    def get(self, url):
        return self.http.get(url, allow_redirects=False, timeout=30)

    def authorize(self, url, decision="allow"):
        """Follows an authorization request to the redirect back to the client; returns it."""
        resp = self.get(url)
        for _ in range(3):
            if resp.status_code in (302, 303):
                return resp.headers["location"]
            check(resp.status_code == 200, "the authorization endpoint answers", f"{resp.status_code} {resp.text[:300]}")
            login = hidden_fields(resp.text, "/oidc/authorize/login")
            consent = hidden_fields(resp.text, "/oidc/authorize/consent")
            if login is not None:
                check(
                    login.get("csrf") == self.http.cookies.get("motcua_login_csrf"),
                    "the login form's csrf is the motcua_login_csrf cookie",
                )
                form = dict(login, pid=self.citizen["pid"], password=self.citizen["password"])
                form["totp"] = fresh_totp(self.citizen["totp_secret"])
                resp = self.http.post(f"{self.base}/oidc/authorize/login", data=form, allow_redirects=False, timeout=30)
                check(resp.status_code in (200, 303), "the citizen logs in", f"{resp.status_code} {resp.text[:300]}")
            elif consent is not None:
                form = dict(consent, decision=decision)
                resp = self.http.post(f"{self.base}/oidc/authorize/consent", data=form, allow_redirects=False, timeout=30)
            else:
                raise CheckFailed(f"neither a login nor a consent page: {resp.status_code} {resp.text[:300]}")
        raise CheckFailed("no redirect back to the client after login and consent")


def query_of(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def jwt_payload(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# ---- The provider ----


class Provider:
    def __init__(self, base, data_dir, binary):
        self.base = base
        self.data_dir = data_dir
        self.binary = binary
        r = requests.get(f"{base}/.well-known/openid-configuration", timeout=30)
        expect_status(r, 200, "discovery")
        self.meta = r.json()
        check(self.meta["issuer"] == base, "the issuer is the base URL", self.meta["issuer"])
        self.redirect_uri = f"{base}/auth/callback"

    def __getattr__(self, name):  # provider.token_endpoint etc.
        try:
            return self.meta[name]
        except KeyError:
            raise AttributeError(name) from None

    def register(self, *flags):
        out = subprocess.run(
            [self.binary, "oidc", "client", "create", "--data-dir", self.data_dir, *flags],
            capture_output=True,
            text=True,
            timeout=60,
        )
        check(out.returncode == 0, "motcua oidc client create", out.stderr[-500:])
        return json.loads(out.stdout)

    def key_set(self):
        r = requests.get(self.jwks_uri, timeout=30)
        expect_status(r, 200, "the JWKS")
        return KeySet.import_key_set(r.json())

    def verify_id_token(self, id_token, client_id, nonce, access_token):
        """The ID token's signature against the JWKS, then its claims as authlib checks them."""
        token = jwt.decode(id_token, self.key_set(), algorithms=["ES256"])
        claims = CodeIDToken(
            token.claims,
            token.header,
            {"iss": {"essential": True, "value": self.base}, "nonce": {"essential": True}},
            {"client_id": client_id, "nonce": nonce, "access_token": access_token},
        )
        claims.validate(leeway=60)
        return claims


def fresh_assertion(token_endpoint=None):
    """authlib's PrivateKeyJWT with ES256 and a 5-minute assertion.

    A new instance per request: authlib signs with exp = iat + 3600 unless `claims` gives exp,
    and it writes its generated jti into that same `claims` dict, so a reused instance would
    send the same jti twice (refused as a replay).
    """
    return PrivateKeyJWT(token_endpoint, claims={"exp": int(time.time()) + 300}, alg="ES256")


def code_flow_params(session, provider, scope):
    verifier = generate_token(64)
    nonce = generate_token(24)
    url, state = session.create_authorization_url(
        provider.authorization_endpoint, code_verifier=verifier, nonce=nonce, scope=scope
    )
    return url, state, verifier, nonce


def check_callback(provider, callback, state, what):
    q = query_of(callback)
    check(callback.startswith(provider.redirect_uri + "?"), what, f"redirect to {callback}")
    check("error" not in q, what, f"error {q.get('error')}: {q.get('error_description')}")
    # RFC 9207: authlib does not check iss in the authorization response, so it is checked here.
    check(q.get("iss") == provider.base, f"{what}: iss in the authorization response", str(q.get("iss")))
    check(q.get("state") == state, f"{what}: state returned", str(q.get("state")))
    return q


# ---- (a) private_key_jwt portal ----


def portal_private_key_jwt(provider, browser, citizen, tmp):
    key = ECKey.generate_key("P-256", parameters={"kid": "portal-2026"})
    jwks_file = os.path.join(tmp, "portal-jwks.json")
    with open(jwks_file, "w") as f:
        json.dump({"keys": [key.as_dict(private=False)]}, f)
    portal = provider.register(
        "--name", "authlib portal (private_key_jwt)",
        "--redirect-uri", provider.redirect_uri,
        "--auth-method", "private_key_jwt",
        "--jwks-file", jwks_file,
        "--scope", "openid", "profile", "pid", "birthdate", "offline_access",
    )
    client_id = portal["client_id"]
    check("client_secret" not in portal, "a private_key_jwt client has no secret")
    session = OAuth2Session(
        client_id,
        key,
        token_endpoint_auth_method=fresh_assertion(),
        redirect_uri=provider.redirect_uri,
        code_challenge_method="S256",
    )
    url, state, verifier, nonce = code_flow_params(session, provider, "openid profile pid birthdate offline_access")
    check("code_challenge=" in url and "code_challenge_method=S256" in url, "authlib puts a PKCE challenge in the URL")
    callback = browser.authorize(url)
    check_callback(provider, callback, state, "private_key_jwt portal: authorization")

    # authlib's default assertion lives an hour; the provider takes at most 10 minutes (RFC 7523
    # §3 lets it refuse an exp unreasonably far ahead). Client authentication comes before the
    # code is looked at, so the code stays usable.
    code = query_of(callback)["code"]
    default_auth = session.client_auth(PrivateKeyJWT(None, alg="ES256"))
    r = session.post(
        provider.token_endpoint,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": provider.redirect_uri, "code_verifier": verifier},
        headers=FORM_HEADERS,
        auth=default_auth,
        withhold_token=True,
    )
    expect_oauth_error(r, 401, "invalid_client", "an assertion valid for an hour is refused")
    ok("private_key_jwt: an assertion living an hour (authlib's default) is refused with invalid_client")

    token = session.fetch_token(
        provider.token_endpoint, authorization_response=callback, state=state, code_verifier=verifier
    )
    check(token["token_type"] == "Bearer", "token_type", token["token_type"])
    claims = provider.verify_id_token(token["id_token"], client_id, nonce, token["access_token"])
    check(claims["sub"] == citizen["account_id"], "ID token sub", claims["sub"])
    check(claims["acr"] == "1", "the level-1 citizen's acr", str(claims["acr"]))
    check(claims["aud"] == client_id or claims["aud"] == [client_id], "ID token aud", str(claims["aud"]))
    ok("private_key_jwt: code + PKCE exchanged by OAuth2Session; ID token verified (ES256, iss, aud, nonce, acr 1)")

    r = session.get(provider.userinfo_endpoint)
    expect_status(r, 200, "userinfo")
    info = r.json()
    check(info.get("pid") == CITIZEN_PID, "userinfo pid", str(info))
    check(info.get("name") == CITIZEN_NAME, "userinfo name", str(info))
    check(info.get("sub") == citizen["account_id"], "userinfo sub", str(info))
    check("birthdate" in info, "userinfo birthdate for scope birthdate", str(info))
    ok("private_key_jwt: userinfo with the bearer token (sub, name, pid, birthdate)")

    old_refresh = token["refresh_token"]
    session.token_endpoint_auth_method = fresh_assertion()
    new = session.refresh_token(provider.token_endpoint)
    check(new.get("refresh_token") and new["refresh_token"] != old_refresh, "a rotated refresh token")
    ok("private_key_jwt: refresh through authlib rotates the refresh token")

    introspected = session.introspect_token(
        provider.introspection_endpoint, token=new["access_token"], auth=session.client_auth(fresh_assertion())
    )
    expect_status(introspected, 200, "introspection")
    body = introspected.json()
    check(body.get("active") is True and body.get("client_id") == client_id, "introspection active", str(body))
    revoked = session.revoke_token(
        provider.revocation_endpoint, token=new["refresh_token"], auth=session.client_auth(fresh_assertion())
    )
    expect_status(revoked, 200, "revocation")
    introspected = session.introspect_token(
        provider.introspection_endpoint, token=new["access_token"], auth=session.client_auth(fresh_assertion())
    )
    check(introspected.json().get("active") is False, "revoking the refresh token ends its grant's access token", introspected.text)
    ok("private_key_jwt: introspection active, then inactive once the refresh token is revoked (aud = endpoint URL)")

    # One assertion twice: its jti is remembered, so the second use is refused (RFC 7523 §3).
    assertion = private_key_jwt_sign(
        key, client_id, provider.issuer, alg="ES256", claims={"exp": int(time.time()) + 300}
    )
    form = {
        "token": new["access_token"],
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    first = requests.post(provider.introspection_endpoint, data=form, timeout=30)
    expect_status(first, 200, "an assertion with aud = the issuer")
    second = requests.post(provider.introspection_endpoint, data=form, timeout=30)
    expect_oauth_error(second, 401, "invalid_client", "a replayed client assertion")
    ok("private_key_jwt: an assertion (aud = issuer) works once; replayed, it is refused with invalid_client")
    return client_id, key


# ---- (b) client_credentials agency ----


def agency_client_credentials(provider):
    agency = provider.register(
        "--name", "authlib agency (client_credentials)",
        "--grant", "client_credentials",
        "--scope", "registry.verify",
    )
    session = OAuth2Session(agency["client_id"], agency["client_secret"], scope="registry.verify")
    token = session.fetch_token(provider.token_endpoint, grant_type="client_credentials")
    check(token["token_type"] == "Bearer", "client_credentials token_type", token["token_type"])
    check(token.get("scope") == "registry.verify", "client_credentials scope", str(token.get("scope")))
    check("refresh_token" not in token and "id_token" not in token, "no refresh or ID token for client_credentials")
    ok("client_credentials: authlib fetches a bearer token with scope registry.verify")

    body = {"pid": "001095012345", "full_name": "Nguyễn Văn An", "date_of_birth": "1995-03-14", "purpose": "authlib CI check"}
    r = session.post(f"{provider.base}/api/v1/registry/verifications", json=body)
    expect_status(r, 200, "registry verification with the bearer token")
    answer = r.json()
    check(answer.get("match") is True or answer.get("matched") is True or answer.get("result") == "match", "the verification matches", str(answer))
    ok(f"client_credentials: POST /api/v1/registry/verifications with the bearer token answers 200 ({json.dumps(answer, ensure_ascii=False)[:80]})")

    r = session.get(f"{provider.base}/api/v1/registry/citizens/001095012345", params={"purpose": "authlib CI check"})
    expect_status(r, 403, "registry lookup without registry.lookup")
    ok("client_credentials: GET /api/v1/registry/citizens/{pid} without scope registry.lookup answers 403")

    other = OAuth2Session(agency["client_id"], agency["client_secret"], scope="registry.lookup")
    expect_raises_oauth(
        lambda: other.fetch_token(provider.token_endpoint, grant_type="client_credentials"),
        "invalid_scope",
        "a token for a scope the client lacks",
    )
    ok("client_credentials: a token for scope registry.lookup (not registered) is refused with invalid_scope")

    r = requests.post(
        f"{provider.base}/api/v1/registry/verifications",
        json=body,
        headers={"Authorization": f"Bearer {token['access_token'][:-4]}AAAA"},
        timeout=30,
    )
    expect_status(r, 401, "a tampered bearer token")
    ok("client_credentials: a tampered bearer token is refused with 401")


# ---- (c) PAR ----


def pushed_requests(provider, browser, portal_id, portal_key):
    client = provider.register(
        "--name", "authlib PAR client",
        "--redirect-uri", provider.redirect_uri,
        "--require-par",
        "--scope", "openid", "profile", "pid",
    )
    session = OAuth2Session(
        client["client_id"], client["client_secret"], redirect_uri=provider.redirect_uri, code_challenge_method="S256"
    )
    check(session.token_endpoint_auth_method == "client_secret_basic", "authlib defaults to client_secret_basic")

    # Unpushed, the request is sent back to the client with invalid_request (with state and iss).
    url, state, verifier, nonce = code_flow_params(session, provider, "openid profile pid")
    r = browser.get(url)
    expect_status(r, 303, "an unpushed request from a --require-par client")
    q = query_of(r.headers["location"])
    check(r.headers["location"].startswith(provider.redirect_uri + "?"), "the refusal goes to the redirect URI", r.headers["location"])
    check(q.get("error") == "invalid_request", "error=invalid_request", str(q))
    check(q.get("state") == state and q.get("iss") == provider.base, "state and iss on the error", str(q))
    check("code" not in q, "no code", str(q))
    ok("PAR: a --require-par client's unpushed request is redirected back with error=invalid_request")

    # Pushed with authlib's client authentication (HTTP Basic) on the POST to /oidc/par.
    params = dict(query_of(url))
    r = session.post(
        provider.pushed_authorization_request_endpoint,
        data=params,
        auth=session.client_auth(session.token_endpoint_auth_method),
        withhold_token=True,
    )
    expect_status(r, 201, "the pushed request")
    pushed = r.json()
    check(pushed["request_uri"].startswith("urn:ietf:params:oauth:request_uri:"), "request_uri", str(pushed))
    check(isinstance(pushed.get("expires_in"), int) and pushed["expires_in"] > 0, "expires_in", str(pushed))
    ok(f"PAR: POST /oidc/par with authlib's client_secret_basic answers 201 (expires_in {pushed['expires_in']})")

    url = f"{provider.authorization_endpoint}?{urlencode({'client_id': client['client_id'], 'request_uri': pushed['request_uri']})}"
    callback = browser.authorize(url)
    check_callback(provider, callback, state, "PAR: authorization with request_uri")
    token = session.fetch_token(provider.token_endpoint, authorization_response=callback, state=state, code_verifier=verifier)
    claims = provider.verify_id_token(token["id_token"], client["client_id"], nonce, token["access_token"])
    check(claims["sub"] == browser.citizen["account_id"], "PAR ID token sub")
    ok("PAR: the authorization with request_uri returns a code; authlib exchanges it; the ID token carries the pushed nonce")

    # No client authentication, no push; and the private_key_jwt portal may push too (its
    # assertion's aud is the PAR endpoint itself, as authlib sets it by default).
    r = requests.post(provider.pushed_authorization_request_endpoint, data=params, timeout=30)
    expect_oauth_error(r, 401, "invalid_client", "an unauthenticated push")
    portal = OAuth2Session(portal_id, portal_key, redirect_uri=provider.redirect_uri, code_challenge_method="S256")
    purl, _, _, _ = code_flow_params(portal, provider, "openid pid")
    r = portal.post(
        provider.pushed_authorization_request_endpoint,
        data=query_of(purl),
        auth=portal.client_auth(fresh_assertion()),
        withhold_token=True,
    )
    expect_status(r, 201, "a push authenticated with private_key_jwt")
    ok("PAR: an unauthenticated push is refused (401 invalid_client); a private_key_jwt push is accepted")


# ---- (d) DPoP ----


def dpop_proof(key, method, url, access_token=None, **extra):
    claims = {"htm": method, "htu": url, "iat": int(time.time()), "jti": secrets.token_urlsafe(18), **extra}
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode()).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


def dpop(provider, browser):
    client = provider.register(
        "--name", "authlib DPoP client",
        "--redirect-uri", provider.redirect_uri,
        "--require-dpop",
        "--scope", "openid", "profile", "pid",
    )
    key = ECKey.generate_key("P-256")
    jkt = key.thumbprint()
    session = OAuth2Session(
        client["client_id"], client["client_secret"], redirect_uri=provider.redirect_uri, code_challenge_method="S256"
    )
    # A --require-dpop client binds its code to its key at authorization (dpop_jkt, RFC 9449 §10).
    verifier = generate_token(64)
    nonce = generate_token(24)
    url, state = session.create_authorization_url(
        provider.authorization_endpoint, code_verifier=verifier, nonce=nonce, scope="openid profile pid", dpop_jkt=jkt
    )
    callback = browser.authorize(url)
    check_callback(provider, callback, state, "DPoP: authorization with dpop_jkt")

    token_url = provider.token_endpoint
    userinfo_url = provider.userinfo_endpoint

    def exchange(proof):
        headers = dict(FORM_HEADERS)
        if proof is not None:
            headers["DPoP"] = proof
        return session.fetch_token(
            token_url, authorization_response=callback, state=state, code_verifier=verifier, headers=headers
        )

    # Refusals come before the code is spent (the proof is checked with client authentication).
    expect_raises_oauth(lambda: exchange(None), "invalid_dpop_proof", "a --require-dpop client's token request without a proof")
    ok("DPoP: a --require-dpop client's token request without a proof is refused with invalid_dpop_proof")
    r = session.post(
        token_url,
        data={"grant_type": "authorization_code", "code": query_of(callback)["code"], "redirect_uri": provider.redirect_uri, "code_verifier": verifier},
        headers={**FORM_HEADERS, "DPoP": dpop_proof(key, "POST", userinfo_url)},
        auth=session.client_auth(session.token_endpoint_auth_method),
        withhold_token=True,
    )
    expect_oauth_error(r, 400, "invalid_dpop_proof", "a proof for another URL at the token endpoint")
    ok("DPoP: a proof whose htu is another URL is refused at the token endpoint (400 invalid_dpop_proof)")

    proof = dpop_proof(key, "POST", token_url)
    token = exchange(proof)
    check(token["token_type"] == "DPoP", "token_type DPoP", token["token_type"])
    check(jwt_payload(token["access_token"]).get("cnf", {}).get("jkt") == jkt, "cnf.jkt is the key's thumbprint")
    provider.verify_id_token(token["id_token"], client["client_id"], nonce, None)
    ok("DPoP: authlib's code exchange with a joserfc proof gives token_type DPoP with cnf.jkt = the key's thumbprint")

    r = session.post(
        token_url,
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        headers={**FORM_HEADERS, "DPoP": proof},
        auth=session.client_auth(session.token_endpoint_auth_method),
        withhold_token=True,
    )
    expect_oauth_error(r, 400, "invalid_dpop_proof", "a replayed proof at the token endpoint")
    ok("DPoP: a replayed proof at the token endpoint is refused (400 invalid_dpop_proof)")

    # A code bound to one key, exchanged with a proof by another: refused, and the code is spent
    # (a stolen code is useless to the thief and cannot be retried).
    other_key = ECKey.generate_key("P-256")
    url2, state2 = session.create_authorization_url(
        provider.authorization_endpoint, code_verifier=verifier, nonce=nonce, scope="openid profile pid", dpop_jkt=jkt
    )
    callback2 = browser.authorize(url2)
    check_callback(provider, callback2, state2, "DPoP: a second authorization")

    def exchange2(k):
        return session.fetch_token(
            token_url,
            authorization_response=callback2,
            state=state2,
            code_verifier=verifier,
            headers={**FORM_HEADERS, "DPoP": dpop_proof(k, "POST", token_url)},
        )

    expect_raises_oauth(lambda: exchange2(other_key), "invalid_dpop_proof", "a proof by a key other than dpop_jkt")
    expect_raises_oauth(lambda: exchange2(key), "invalid_grant", "the code after a wrong-key attempt")
    ok("DPoP: a proof by a key other than the code's dpop_jkt is refused (invalid_dpop_proof) and spends the code")

    at = token["access_token"]

    def userinfo(scheme="DPoP", proof=None):
        headers = {"Authorization": f"{scheme} {at}"}
        if proof is not None:
            headers["DPoP"] = proof
        return requests.get(userinfo_url, headers=headers, timeout=30)

    good = dpop_proof(key, "GET", userinfo_url, access_token=at)
    r = userinfo(proof=good)
    expect_status(r, 200, "userinfo with a DPoP proof")
    check(r.json().get("pid") == CITIZEN_PID, "DPoP userinfo pid", r.text)
    ok("DPoP: userinfo with Authorization: DPoP and a proof carrying ath answers 200")

    def refused(resp, error, what):
        expect_oauth_error(resp, 401, error, what)
        challenge = resp.headers.get("www-authenticate", "")
        check(challenge.startswith("DPoP ") or error == "invalid_token", f"{what}: WWW-Authenticate", challenge)

    refused(userinfo(proof=good), "invalid_dpop_proof", "a replayed proof at userinfo")
    ok("DPoP: the same proof replayed at userinfo is refused (401 invalid_dpop_proof)")
    refused(userinfo(proof=dpop_proof(key, "GET", token_url, access_token=at)), "invalid_dpop_proof", "a proof for another URL at userinfo")
    ok("DPoP: a proof for another URL at userinfo is refused (401 invalid_dpop_proof)")
    refused(userinfo(proof=dpop_proof(key, "GET", userinfo_url)), "invalid_dpop_proof", "a proof without ath")
    ok("DPoP: a proof without ath at userinfo is refused (401 invalid_dpop_proof)")
    refused(userinfo(proof=dpop_proof(other_key, "GET", userinfo_url, access_token=at)), "invalid_token", "a proof by another key")
    ok("DPoP: a proof signed by another key at userinfo is refused (401 invalid_token)")
    r = requests.get(userinfo_url, timeout=30)
    expect_status(r, 401, "userinfo without any token")
    # RFC 6750 §3.1: a request without any authentication gets a challenge without an error code.
    check("error=" not in r.headers.get("www-authenticate", ""), "a bare challenge", r.headers.get("www-authenticate"))
    ok("DPoP: userinfo without any token answers 401")
    r = userinfo(scheme="Bearer")
    expect_oauth_error(r, 401, "invalid_token", "the bound token as a bearer token")
    ok("DPoP: the bound token presented as Bearer is refused (401 invalid_token)")
    r = userinfo()
    expect_oauth_error(r, 401, "invalid_dpop_proof", "the DPoP scheme without a proof")
    ok("DPoP: the DPoP scheme without a proof is refused (401 invalid_dpop_proof)")


def main():
    args = sys.argv[1:]
    base = (args[0] if len(args) > 0 else os.environ.get("MOTCUA_URL", "")).rstrip("/")
    data_dir = args[1] if len(args) > 1 else os.environ.get("MOTCUA_DATA_DIR", "")
    binary = args[2] if len(args) > 2 else os.environ.get("MOTCUA_BIN", "")
    if not (base and data_dir and binary):
        print("usage: oidc_authlib.py BASE_URL DATA_DIR MOTCUA_BIN (or MOTCUA_URL, MOTCUA_DATA_DIR, MOTCUA_BIN)", file=sys.stderr)
        return 2
    with open(os.path.join(data_dir, "demo-accounts.json")) as f:
        accounts = json.load(f)
    citizen = next(c for c in accounts["citizens"] if c["pid"] == CITIZEN_PID)
    try:
        provider = Provider(base, data_dir, binary)
        ok("discovery: issuer and endpoints from /.well-known/openid-configuration")
        browser = Browser(base, citizen)
        with tempfile.TemporaryDirectory() as tmp:
            portal_id, portal_key = portal_private_key_jwt(provider, browser, citizen, tmp)
        agency_client_credentials(provider)
        pushed_requests(provider, browser, portal_id, portal_key)
        dpop(provider, browser)
    except Exception as e:  # noqa: BLE001 - any failure, reported with what had passed
        if not isinstance(e, CheckFailed):
            traceback.print_exc()
        print(f"not ok {len(PASSED) + 1} - {type(e).__name__}: {e}", file=sys.stderr)
        print(f"authlib: {len(PASSED)} passed, 1 failed")
        return 1
    print(f"authlib: {len(PASSED)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
