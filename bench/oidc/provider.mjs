// The baseline of bench/oidc.sh: panva's oidc-provider (the version pinned in package.json),
// configured as close to motcua's provider as it allows, in one Node process.
//
//   node provider.mjs PORT SECRETS_FILE
//
// SECRETS_FILE (JSON, written by the caller) holds the two clients' secrets:
// {"agency_secret": "...", "portal_secret": "..."}.
//
// - "agency": client_credentials only, client_secret_basic, scope registry.verify. Its access
//   tokens are JWTs signed with ES256 (resource indicators: every request falls back to one
//   resource server whose tokens are JWTs), like motcua's, which are ES256 JWTs and never
//   stored.
// - "portal": authorization_code + refresh_token, client_secret_basic, PKCE S256, scope
//   openid profile offline_access; ID tokens signed with ES256. Every refresh token is
//   rotated (rotateRefreshToken: true): the old one is consumed, a new one issued, with a new
//   JWT access token (ES256, same resource server) and a new ID token.
// - Storage: oidc-provider's default in-memory adapter (an LRU of 1,000 entries, no durable
//   store); motcua commits every rotation to SQLite.
// - Login and consent: its development interactions (any login name is accepted), driven by
//   tokens.mjs to obtain refresh tokens.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 18300);
const secrets = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const issuer = `http://127.0.0.1:${port}`;
const resource = `${issuer}/api`;

const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const configuration = {
  clients: [
    {
      client_id: 'agency',
      client_secret: secrets.agency_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'registry.verify',
    },
    {
      client_id: 'portal',
      client_secret: secrets.portal_secret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${issuer}/cb`],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: 'openid profile offline_access',
    },
  ],
  jwks: { keys: [{ ...signing, alg: 'ES256', use: 'sig', kid: 'bench-es256' }] },
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  cookies: { keys: ['motcua-bench-cookie-key-not-secret'] },
  scopes: ['openid', 'offline_access', 'profile', 'registry.verify'],
  claims: { openid: ['sub'], profile: ['name'] },
  async findAccount(_ctx, sub) {
    return { accountId: sub, async claims() { return { sub, name: `Citizen ${sub}` }; } };
  },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'registry.verify profile',
        audience: resource,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 300,
    ClientCredentials: 300,
    IdToken: 300,
    AuthorizationCode: 60,
    RefreshToken: 30 * 24 * 3600,
    Grant: 30 * 24 * 3600,
    Session: 24 * 3600,
    Interaction: 3600,
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider on ${issuer}`));
