// Obtains refresh tokens for the refresh benchmark of bench/oidc.sh by driving a provider's
// login and consent forms without a browser, then redeeming each code (PKCE S256, HTTP Basic).
// Prints one refresh token per line; each starts a chain of its own (its own grant).
//
//   node tokens.mjs motcua ISSUER CLIENT_ID SECRET COUNT PID PASSWORD TOTP_SECRET
//     one login (PID, password, the current TOTP code), then COUNT authorizations in the same
//     cookie jar: the later ones skip login and consent, and each code starts its own grant.
//   node tokens.mjs oidc-provider ISSUER CLIENT_ID SECRET COUNT
//     COUNT logins through its development interactions (any login name; a new browser, so a
//     new session and grant, each time), consent with prompt=consent (oidc-provider drops
//     offline_access without it).
import { createHash, createHmac, randomBytes } from 'node:crypto';

const [kind, issuer, clientId, secret, countText, pid, password, totpSecret] = process.argv.slice(2);
const count = Number(countText);
const redirectUri = `${issuer}/cb`;
const basic = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;

class Jar {
  cookies = new Map();

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function go(jar, url, init = {}) {
  const headers = { ...(init.headers ?? {}), cookie: jar.header() };
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(new URL(url, issuer), { method: init.form ? 'POST' : 'GET', redirect: 'manual', headers, body: init.body });
  jar.store(res);
  const text = await res.text();
  return { status: res.status, location: res.headers.get('location'), text };
}

function unescapeHtml(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no field ${name} in ${html.slice(0, 400)}`);
  return unescapeHtml(m[1]);
}

function totp(base32, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const key = [];
  for (const ch of base32.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      key.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', Buffer.from(key)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(path, challenge, extra = {}) {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid profile offline_access',
    state: randomBytes(8).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return `${path}?${q}`;
}

async function redeem(tokenPath, code, verifier) {
  const res = await fetch(new URL(tokenPath, issuer), {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }).toString(),
  });
  const body = await res.json();
  if (!body.refresh_token) throw new Error(`no refresh token: ${res.status} ${JSON.stringify(body)}`);
  return body.refresh_token;
}

function codeOf(location) {
  if (!location?.startsWith(redirectUri)) throw new Error(`expected a redirect to the client, got ${location}`);
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`no code in ${location}`);
  return code;
}

async function motcua() {
  const jar = new Jar();
  const out = [];
  for (let i = 0; i < count; i += 1) {
    const { verifier, challenge } = pkce();
    let r = await go(jar, authorizeUrl('/oidc/authorize', challenge));
    if (r.status === 200 && r.text.includes('/oidc/authorize/login')) {
      const step = Math.floor(Date.now() / 30_000);
      r = await go(jar, '/oidc/authorize/login', {
        form: {
          csrf: jar.cookies.get('motcua_login_csrf'),
          authz: hidden(r.text, 'authz'),
          pid,
          password,
          totp: totp(totpSecret, step),
        },
      });
    }
    if (r.status === 200 && r.text.includes('/oidc/authorize/consent')) {
      r = await go(jar, '/oidc/authorize/consent', {
        form: { csrf: hidden(r.text, 'csrf'), authz: hidden(r.text, 'authz'), decision: 'allow' },
      });
    }
    if (r.status !== 303) throw new Error(`authorization ${i}: ${r.status} ${r.text.slice(0, 600)}`);
    out.push(await redeem('/oidc/token', codeOf(r.location), verifier));
  }
  return out;
}

async function oidcProvider() {
  const out = [];
  for (let i = 0; i < count; i += 1) {
    const jar = new Jar();
    const { verifier, challenge } = pkce();
    let r = await go(jar, authorizeUrl('/auth', challenge, { prompt: 'consent' }));
    for (let hops = 0; hops < 12 && !r.location?.startsWith(redirectUri); hops += 1) {
      if (r.status === 303 || r.status === 302) {
        r = await go(jar, r.location);
      } else if (r.status === 200 && r.text.includes('name="prompt" value="login"')) {
        const action = r.text.match(/action="([^"]+)"/)[1];
        r = await go(jar, unescapeHtml(action), { form: { prompt: 'login', login: `citizen-${i}`, password: 'any' } });
      } else if (r.status === 200 && r.text.includes('name="prompt" value="consent"')) {
        const action = r.text.match(/action="([^"]+)"/)[1];
        r = await go(jar, unescapeHtml(action), { form: { prompt: 'consent' } });
      } else {
        throw new Error(`authorization ${i}: ${r.status} ${r.text.slice(0, 600)}`);
      }
    }
    out.push(await redeem('/token', codeOf(r.location), verifier));
  }
  return out;
}

const tokens = kind === 'motcua' ? await motcua() : await oidcProvider();
process.stdout.write(`${tokens.join('\n')}\n`);
