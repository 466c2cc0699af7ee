// motcua's OpenID Connect provider seen by an independent relying-party library used as it is:
// panva's openid-client (v6, on oauth4webapi). The library does the protocol checks a real
// relying party relies on (iss in the authorization response, state, PKCE, the ID token's
// signature against the JWKS, nonce, aud, exp, the userinfo sub); the citizen's login and
// consent pages are driven with plain fetch and a cookie jar (no browser is needed).
//
// Needs the demo at MOTCUA_URL, its data dir in MOTCUA_DATA_DIR (demo-accounts.json, and the CLI
// registers clients and rotates keys there) and the motcua binary in MOTCUA_BIN.
// The tests run in order and share one citizen session (the single sign-on cookie): the provider
// accepts a TOTP code once per 30-second step, so logging in once keeps the file fast. Logout,
// which ends that session, is last.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';

import { BASE_URL } from '../lib/config.mjs';
import {
  CookieJar,
  authorizeAsCitizen,
  ecThumbprint,
  hiddenFields,
  jarFetch,
  jwtParts,
  motcuaCli,
  readDemoAccounts,
} from '../lib/oidc.mjs';

const DATA_DIR = process.env.MOTCUA_DATA_DIR;
const BIN = process.env.MOTCUA_BIN || fileURLToPath(new URL('../../target/debug/motcua', import.meta.url));
const REDIRECT_URI = `${BASE_URL}/auth/callback`;
const CITIZEN_PID = '001095012345';
const TEST_TIMEOUT = 120_000;

// http on the loopback: openid-client refuses plain http unless told otherwise.
const INSECURE = { execute: [client.allowInsecureRequests] };

const skip = DATA_DIR
  ? false
  : 'MOTCUA_DATA_DIR is not set: these tests need the demo data dir (demo-accounts.json and the CLI); CI sets it';

/** Expects `promise` to fail with the OAuth error `code` in a JSON body (ResponseBodyError). */
async function rejectsWith(promise, code, status = 400) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof client.ResponseBodyError, `expected a ResponseBodyError, got ${err}`);
    assert.equal(err.error, code, `error ${err.error}: ${err.error_description}`);
    assert.equal(err.status, status);
    return true;
  });
}

/** Verifies an ES256 JWS against a JWK Set with node:crypto (independent of the library). */
function verifiesWith(jwt, jwks) {
  const { header } = jwtParts(jwt);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return false;
  const [h, p, s] = jwt.split('.');
  return verifySignature(
    'sha256',
    Buffer.from(`${h}.${p}`),
    { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
    Buffer.from(s, 'base64url'),
  );
}

async function fetchJwks() {
  const r = await fetch(`${BASE_URL}/oidc/jwks`);
  assert.equal(r.status, 200);
  return r.json();
}

describe('openid-client against the motcua OpenID Connect provider', { skip, timeout: 600_000 }, () => {
  let citizen;
  let rp; // the demo relying party: confidential, client_secret_basic
  let config;
  const jar = new CookieJar();

  /**
   * One authorization code flow with PKCE (S256), state and nonce, through the citizen's pages;
   * returns the library's token response and what it sent. `dpop` binds the tokens (RFC 9449),
   * `par` pushes the request first (RFC 9126).
   */
  async function codeFlow(cfg, { scope = 'openid profile pid', dpop, par = false } = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const params = {
      redirect_uri: REDIRECT_URI,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: client.randomState(),
      nonce: client.randomNonce(),
    };
    const options = dpop ? { DPoP: dpop } : undefined;
    const url = par
      ? await client.buildAuthorizationUrlWithPAR(cfg, params, options)
      : client.buildAuthorizationUrl(cfg, params);
    const callback = await authorizeAsCitizen(jar, url, citizen);
    const checks = {
      pkceCodeVerifier: verifier,
      expectedState: params.state,
      expectedNonce: params.nonce,
      idTokenExpected: true,
    };
    const tokens = await client.authorizationCodeGrant(cfg, callback, checks, undefined, options);
    return { tokens, url, callback, params, verifier };
  }

  before(async () => {
    const accounts = readDemoAccounts(DATA_DIR);
    citizen = accounts.citizens.find((c) => c.pid === CITIZEN_PID);
    assert.ok(citizen, `demo-accounts.json has no citizen ${CITIZEN_PID}`);
    rp = accounts.relying_party;
    config = await client.discovery(
      new URL(BASE_URL),
      rp.client_id,
      undefined,
      client.ClientSecretBasic(rp.client_secret),
      INSECURE,
    );
  });

  test('discovery: the metadata the library reads', () => {
    const m = config.serverMetadata();
    assert.equal(m.issuer, BASE_URL);
    for (const [key, path] of [
      ['authorization_endpoint', '/oidc/authorize'],
      ['token_endpoint', '/oidc/token'],
      ['userinfo_endpoint', '/oidc/userinfo'],
      ['jwks_uri', '/oidc/jwks'],
      ['revocation_endpoint', '/oidc/revoke'],
      ['introspection_endpoint', '/oidc/introspect'],
      ['end_session_endpoint', '/oidc/logout'],
      ['pushed_authorization_request_endpoint', '/oidc/par'],
    ]) {
      assert.equal(m[key], BASE_URL + path, key);
    }
    assert.ok(m.supportsPKCE(), 'S256 PKCE is advertised');
    assert.equal(m.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(m.id_token_signing_alg_values_supported, ['ES256']);
    assert.ok(m.dpop_signing_alg_values_supported.includes('ES256'));
    assert.ok(m.response_types_supported.includes('code'));
  });

  test('authorization code + PKCE: the library checks iss, state, the ID token and nonce', { timeout: TEST_TIMEOUT }, async () => {
    const { tokens, callback, params } = await codeFlow(config, { scope: 'openid profile pid offline_access' });
    // RFC 9207: the redirect names the issuer (the library refuses a mismatch; assert it is there).
    assert.equal(callback.searchParams.get('iss'), BASE_URL);
    assert.equal(callback.searchParams.get('state'), params.state);
    assert.equal(tokens.token_type, 'bearer');
    assert.ok(tokens.refresh_token, 'a refresh token');
    const claims = tokens.claims();
    assert.equal(claims.iss, BASE_URL);
    assert.equal(claims.sub, citizen.account_id);
    assert.deepEqual([claims.aud].flat(), [rp.client_id]);
    assert.equal(claims.nonce, params.nonce);
    assert.equal(claims.acr, '2', 'the level-2 citizen logs in at level 2');
    assert.ok(claims.amr.includes('pwd') && claims.amr.includes('otp'), `amr ${claims.amr}`);
    assert.equal(typeof claims.sid, 'string');
    assert.equal(typeof claims.auth_time, 'number');
    const { header } = jwtParts(tokens.id_token);
    assert.equal(header.alg, 'ES256');
    assert.ok(header.kid, 'the ID token names its key');
    // Access tokens are ES256 JWTs too, bound to no key here.
    const at = jwtParts(tokens.access_token);
    assert.equal(at.header.alg, 'ES256');
    assert.equal(at.payload.cnf, undefined);
  });

  test('single sign-on: with the session cookie and remembered consent the provider redirects at once', { timeout: TEST_TIMEOUT }, async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 'sso-check',
    });
    const r = await jarFetch(jar, url);
    assert.equal(r.status, 303, 'no login page, no consent page');
    const back = new URL(r.headers.get('location'));
    assert.equal(back.origin + back.pathname, REDIRECT_URI);
    assert.ok(back.searchParams.get('code'));
    assert.equal(back.searchParams.get('state'), 'sso-check');
  });

  test('a wrong PKCE verifier and a replayed code are refused with invalid_grant', { timeout: TEST_TIMEOUT }, async () => {
    // A code exchanged with another verifier: refused (RFC 7636 §4.6).
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile pid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = await authorizeAsCitizen(jar, url, citizen);
    await rejectsWith(
      client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: state,
      }),
      'invalid_grant',
    );

    // A code used twice: the second use is refused and the tokens of the first are revoked
    // (RFC 6749 §4.1.2).
    const first = await codeFlow(config);
    const again = client.authorizationCodeGrant(config, first.callback, {
      pkceCodeVerifier: first.verifier,
      expectedState: first.params.state,
      expectedNonce: first.params.nonce,
    });
    await rejectsWith(again, 'invalid_grant');
    const introspected = await client.tokenIntrospection(config, first.tokens.access_token);
    assert.equal(introspected.active, false, 'the first exchange\'s access token is revoked');
  });

  test('userinfo: name and pid for scopes openid profile pid', { timeout: TEST_TIMEOUT }, async () => {
    const { tokens } = await codeFlow(config, { scope: 'openid profile pid' });
    // The library checks that userinfo's sub is the ID token's.
    const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
    assert.equal(info.sub, citizen.account_id);
    assert.equal(info.name, 'Nguyễn Văn An');
    assert.equal(info.family_name, 'Nguyễn');
    assert.equal(info.given_name, 'An');
    assert.equal(info.pid, CITIZEN_PID);
    assert.equal(info.birthdate, undefined, 'no birthdate without the birthdate scope');
  });

  test('refresh tokens rotate; replaying the old one fails and revokes the family', { timeout: TEST_TIMEOUT }, async () => {
    const { tokens } = await codeFlow(config, { scope: 'openid profile pid offline_access' });
    const old = tokens.refresh_token;
    const next = await client.refreshTokenGrant(config, old);
    assert.ok(next.refresh_token, 'a new refresh token');
    assert.notEqual(next.refresh_token, old);
    assert.notEqual(next.access_token, tokens.access_token);
    // The refreshed ID token was validated by the library; it is the same citizen.
    assert.equal(next.claims().sub, citizen.account_id);

    await rejectsWith(client.refreshTokenGrant(config, old), 'invalid_grant');
    // Reuse means the token was copied: the newest token of the family is dead too (RFC 9700
    // §4.14.2), and so is its access token.
    await rejectsWith(client.refreshTokenGrant(config, next.refresh_token), 'invalid_grant');
    assert.equal((await client.tokenIntrospection(config, next.access_token)).active, false);
  });

  test('introspection is active until revocation (access and refresh tokens)', { timeout: TEST_TIMEOUT }, async () => {
    const { tokens } = await codeFlow(config, { scope: 'openid profile pid offline_access' });
    const active = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, rp.client_id);
    assert.equal(active.sub, citizen.account_id);
    assert.equal(active.iss, BASE_URL);
    assert.deepEqual(active.scope.split(' ').sort(), ['offline_access', 'openid', 'pid', 'profile']);
    assert.ok(active.exp > Date.now() / 1000);

    await client.tokenRevocation(config, tokens.access_token);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck), (err) => {
      assert.ok(err instanceof client.WWWAuthenticateChallengeError, `got ${err}`);
      assert.equal(err.status, 401);
      assert.equal(err.cause[0].parameters.error, 'invalid_token');
      return true;
    });

    assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, true);
    await client.tokenRevocation(config, tokens.refresh_token);
    assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, false);
    await rejectsWith(client.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant');
  });

  test('signing key rotation: new ID tokens carry the new kid and the library accepts them', { timeout: TEST_TIMEOUT }, async () => {
    const { tokens } = await codeFlow(config, { scope: 'openid profile pid offline_access' });
    const oldKid = jwtParts(tokens.id_token).header.kid;
    const rotated = await motcuaCli(BIN, DATA_DIR, ['oidc', 'keys', 'rotate'], [
      '--publish-ahead-secs', '0', '--overlap-secs', '86400',
    ]);
    assert.ok(rotated.kid && rotated.kid !== oldKid, `the CLI printed a new kid: ${JSON.stringify(rotated)}`);

    // Both keys are published at once (the old one for the overlap), and the old ID token still
    // verifies against the set.
    const jwks = await fetchJwks();
    const kids = jwks.keys.map((k) => k.kid);
    assert.ok(kids.includes(oldKid) && kids.includes(rotated.kid), `JWKS kids ${kids}`);
    assert.ok(verifiesWith(tokens.id_token, jwks), 'the pre-rotation ID token verifies against the JWKS');

    // A relying party that discovers the provider again (as after a restart). The configuration
    // used so far would not do: oauth4webapi re-fetches a JWKS for an unknown kid only when its
    // cached copy is 60 s old, and --publish-ahead-secs 0 gives caches no time (a real rotation
    // publishes an hour ahead, the CLI's default).
    const fresh = await client.discovery(
      new URL(BASE_URL),
      rp.client_id,
      undefined,
      client.ClientSecretBasic(rp.client_secret),
      INSECURE,
    );
    // The server reloads its keys within 30 s; until then it may still sign with the old key,
    // which the library accepts as well. Each refresh is validated by the library.
    let refreshToken = tokens.refresh_token;
    let latest;
    const deadline = Date.now() + 45_000;
    for (;;) {
      latest = await client.refreshTokenGrant(fresh, refreshToken);
      refreshToken = latest.refresh_token;
      if (jwtParts(latest.id_token).header.kid !== oldKid || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 3_000));
    }
    assert.equal(jwtParts(latest.id_token).header.kid, rotated.kid, 'the new key signs within 45 s');
    assert.equal(latest.claims().sub, citizen.account_id);
    assert.equal(latest.claims().iss, BASE_URL);
    // The pre-rotation access token (old kid) is still accepted at userinfo during the overlap.
    const info = await client.fetchUserInfo(fresh, tokens.access_token, citizen.account_id);
    assert.equal(info.pid, CITIZEN_PID);
    // And the library accepts new-key ID tokens through the code flow as well.
    const after = await codeFlow(fresh);
    assert.equal(jwtParts(after.tokens.id_token).header.kid, rotated.kid);
  });

  describe('a public client registered with the CLI', () => {
    let publicConfig;

    before(async () => {
      const registered = await motcuaCli(BIN, DATA_DIR, ['oidc', 'client', 'create'], [
        '--name', 'openid-client e2e (public)',
        '--redirect-uri', REDIRECT_URI,
        '--public',
        '--scope', 'openid', 'profile', 'pid',
      ]);
      assert.ok(registered.client_id);
      assert.equal(registered.client_secret, undefined, 'a public client has no secret');
      publicConfig = await client.discovery(new URL(BASE_URL), registered.client_id, undefined, client.None(), INSECURE);
    });

    test('PAR: buildAuthorizationUrlWithPAR, then the code flow with the request_uri', { timeout: TEST_TIMEOUT }, async () => {
      // New client: the citizen sees the consent page (already logged in), allows.
      const { tokens, url } = await codeFlow(publicConfig, { par: true });
      assert.match(url.searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:/);
      // Only client_id and request_uri travel through the browser.
      assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
      assert.equal(tokens.claims().sub, citizen.account_id);
      // The pushed request is spent once its code is issued (RFC 9126 §4: one-time use).
      const r = await jarFetch(jar, url);
      const body = await r.text();
      assert.equal(r.status, 400, `a spent request_uri: ${r.status} ${r.headers.get('location') ?? ''}`);
      assert.match(body, /invalid_request_uri/);
    });

    test('DPoP: getDPoPHandle binds the tokens; userinfo and refresh need the key', { timeout: TEST_TIMEOUT }, async () => {
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const dpop = client.getDPoPHandle(publicConfig, keyPair);
      const { tokens } = await codeFlow(publicConfig, { dpop });
      assert.equal(tokens.token_type, 'dpop');
      const jkt = ecThumbprint(await crypto.subtle.exportKey('jwk', keyPair.publicKey));
      assert.equal(jwtParts(tokens.access_token).payload.cnf?.jkt, jkt, 'the access token is bound to the key');

      const info = await client.fetchUserInfo(publicConfig, tokens.access_token, citizen.account_id, { DPoP: dpop });
      assert.equal(info.pid, CITIZEN_PID);
      // Presented as a bearer token, the bound token is refused.
      await assert.rejects(client.fetchUserInfo(publicConfig, tokens.access_token, client.skipSubjectCheck), (err) => {
        assert.ok(err instanceof client.WWWAuthenticateChallengeError, `got ${err}`);
        assert.equal(err.status, 401);
        assert.equal(err.cause[0].scheme, 'dpop');
        return true;
      });
      // A refresh with another key is refused; with the bound key it works and stays bound.
      const other = client.getDPoPHandle(publicConfig, await client.randomDPoPKeyPair('ES256'));
      await rejectsWith(
        client.refreshTokenGrant(publicConfig, tokens.refresh_token, undefined, { DPoP: other }),
        'invalid_dpop_proof',
      );
      const next = await client.refreshTokenGrant(publicConfig, tokens.refresh_token, undefined, { DPoP: dpop });
      assert.equal(next.token_type, 'dpop');
      assert.equal(jwtParts(next.access_token).payload.cnf?.jkt, jkt);
    });

    test('PAR with DPoP: the proof at /oidc/par binds the code to the key (RFC 9449 §10.1)', { timeout: TEST_TIMEOUT }, async () => {
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const dpop = client.getDPoPHandle(publicConfig, keyPair);
      const { tokens } = await codeFlow(publicConfig, { dpop, par: true });
      assert.equal(tokens.token_type, 'dpop');
      const jkt = ecThumbprint(await crypto.subtle.exportKey('jwk', keyPair.publicKey));
      assert.equal(jwtParts(tokens.access_token).payload.cnf?.jkt, jkt);

      // A code pushed with one key and exchanged with a proof by another is refused.
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = await client.buildAuthorizationUrlWithPAR(
        publicConfig,
        {
          redirect_uri: REDIRECT_URI,
          scope: 'openid profile pid',
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
        },
        { DPoP: dpop },
      );
      const callback = await authorizeAsCitizen(jar, url, citizen);
      const other = client.getDPoPHandle(publicConfig, await client.randomDPoPKeyPair('ES256'));
      await rejectsWith(
        client.authorizationCodeGrant(publicConfig, callback, { pkceCodeVerifier: verifier, expectedState: state }, undefined, {
          DPoP: other,
        }),
        'invalid_dpop_proof',
      );
    });
  });

  test('RP-initiated logout: buildEndSessionUrl answers 303 to the post-logout URI with state', { timeout: TEST_TIMEOUT }, async () => {
    // Two grants in the session: one for while the citizen is present, one for offline access.
    const offline = (await codeFlow(config, { scope: 'openid profile pid offline_access' })).tokens;
    const { tokens } = await codeFlow(config, { scope: 'openid profile pid' });
    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: `${BASE_URL}/`,
      state,
    });
    const r = await jarFetch(jar, url);
    assert.equal(r.status, 303);
    const to = new URL(r.headers.get('location'), BASE_URL);
    assert.equal(to.origin + to.pathname, `${BASE_URL}/`);
    assert.equal(to.searchParams.get('state'), state);
    // The session's grants end with it, except the offline_access one (OpenID Connect Core §11:
    // offline access is for when the citizen is not logged in) ...
    await rejectsWith(client.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant');
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
    const kept = await client.refreshTokenGrant(config, offline.refresh_token);
    assert.equal(kept.claims().sub, citizen.account_id);
    // ... and the browser is logged out: the next authorization shows the login page again.
    assert.equal(jar.get('motcua_citizen'), undefined, 'the session cookie is cleared');
    const again = await jarFetch(
      jar,
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }),
    );
    assert.equal(again.status, 200);
    assert.ok(hiddenFields(await again.text(), '/oidc/authorize/login'), 'the login form');
    // Silent authentication (prompt=none) now comes back with login_required, state and iss.
    const silent = await jarFetch(
      jar,
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        prompt: 'none',
        state: 'silent',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }),
    );
    assert.equal(silent.status, 303);
    const answer = new URL(silent.headers.get('location'));
    assert.equal(answer.searchParams.get('error'), 'login_required');
    assert.equal(answer.searchParams.get('state'), 'silent');
    assert.equal(answer.searchParams.get('iss'), BASE_URL);
  });
});
