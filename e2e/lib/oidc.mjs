// Helpers for driving motcua's OpenID Connect provider without a browser: the citizen's login
// and consent forms over plain fetch with a small cookie jar, RFC 6238 TOTP codes, the demo
// accounts file, and the `motcua` CLI that registers clients and rotates keys.
import { createHmac, createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The demo's citizens and relying party (`motcua demo` writes this file, mode 0600). */
export function readDemoAccounts(dataDir) {
  return JSON.parse(readFileSync(join(dataDir, 'demo-accounts.json'), 'utf8'));
}

/**
 * Runs a motcua CLI command (e.g. ['oidc', 'client', 'create']) on the demo's data dir and
 * parses the JSON it prints. When the demo runs on PostgreSQL, the database URL comes from
 * MOTCUA_DATABASE_URL in the environment, which the child inherits.
 */
export async function motcuaCli(bin, dataDir, command, flags) {
  const { stdout } = await run(bin, [...command, '--data-dir', dataDir, ...flags], { timeout: 60_000 });
  return JSON.parse(stdout);
}

// ---- TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) ----

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function totp(secretBase32, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

const currentStep = () => Math.floor(Date.now() / 30_000);
// The provider accepts a code once per account and step, so a second login of the same account
// waits for the next step.
const lastStepUsed = new Map();

async function freshTotp(secret) {
  while (lastStepUsed.get(secret) === currentStep()) {
    await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 100));
  }
  const step = currentStep();
  lastStepUsed.set(secret, step);
  return totp(secret, step);
}

// ---- A cookie jar for one host ----

export class CookieJar {
  #cookies = new Map();

  /** Takes the Set-Cookie headers of a response; Max-Age=0 deletes. */
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) || value === '';
      if (gone) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  get(name) {
    return this.#cookies.get(name);
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** fetch without following redirects, sending and keeping the jar's cookies. */
export async function jarFetch(jar, url, init = {}) {
  const headers = new Headers(init.headers);
  const cookies = jar.header();
  if (cookies) headers.set('cookie', cookies);
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(response);
  return response;
}

// ---- The provider's HTML forms ----

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** The hidden fields of the form posting to `action` in `html`, or null when there is none. */
export function hiddenFields(html, action) {
  const forms = html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi);
  for (const [, attrs, body] of forms) {
    if (decodeEntities(/action="([^"]*)"/i.exec(attrs)?.[1] ?? '') !== action) continue;
    const fields = {};
    for (const [tag] of body.matchAll(/<input\b[^>]*>/gi)) {
      const attr = (n) => {
        const m = new RegExp(`\\s${n}="([^"]*)"`, 'i').exec(tag);
        return m ? decodeEntities(m[1]) : undefined;
      };
      if (attr('type') === 'hidden') fields[attr('name')] = attr('value') ?? '';
    }
    return fields;
  }
  return null;
}

function describe(response, body) {
  return `${response.status} ${response.headers.get('location') ?? ''} ${body.slice(0, 300)}`;
}

/**
 * Follows an authorization request as the citizen's browser would: logs in (PID, password,
 * TOTP) if the provider asks, agrees (or declines) on the consent page, and returns the URL of
 * the redirect back to the client. `jar` keeps the single sign-on cookie between calls.
 */
export async function authorizeAsCitizen(jar, authorizationUrl, citizen, { decision = 'allow' } = {}) {
  const origin = new URL(authorizationUrl).origin;
  let response = await jarFetch(jar, authorizationUrl);
  for (let round = 0; round < 3; round++) {
    if (response.status === 303 || response.status === 302) {
      return new URL(response.headers.get('location'), origin);
    }
    const html = await response.text();
    if (response.status !== 200) {
      throw new Error(`the authorization endpoint answered ${describe(response, html)}`);
    }
    const login = hiddenFields(html, '/oidc/authorize/login');
    const consent = hiddenFields(html, '/oidc/authorize/consent');
    if (login) {
      // The login form's csrf must equal the cookie set with the page (double submit).
      if (login.csrf !== jar.get('motcua_login_csrf')) {
        throw new Error('the login form csrf is not the motcua_login_csrf cookie');
      }
      const body = new URLSearchParams({
        ...login,
        pid: citizen.pid,
        password: citizen.password,
        totp: await freshTotp(citizen.totp_secret),
      });
      response = await jarFetch(jar, `${origin}/oidc/authorize/login`, { method: 'POST', body });
      if (response.status !== 200 && response.status !== 303) {
        throw new Error(`login failed: ${describe(response, await response.text())}`);
      }
    } else if (consent) {
      const body = new URLSearchParams({ ...consent, decision });
      response = await jarFetch(jar, `${origin}/oidc/authorize/consent`, { method: 'POST', body });
    } else {
      throw new Error(`neither a login nor a consent page: ${describe(response, html)}`);
    }
  }
  throw new Error(`no redirect back to the client after login and consent (last: ${response.status})`);
}

// ---- JWTs and keys ----

export function jwtParts(jwt) {
  const [h, p] = jwt.split('.');
  const decode = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return { header: decode(h), payload: decode(p) };
}

/** The RFC 7638 thumbprint of an EC public JWK. */
export function ecThumbprint(jwk) {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}
