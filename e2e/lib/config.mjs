// Settings read from the environment, with the defaults of the demo server.
export const BASE_URL = (process.env.MOTCUA_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');

export const OFFICER = {
  username: process.env.E2E_USERNAME || 'officer',
  password: process.env.E2E_PASSWORD || 'motcua-officer-demo',
};

export const ADMIN = {
  username: process.env.E2E_ADMIN_USERNAME || 'admin',
  password: process.env.E2E_ADMIN_PASSWORD || 'motcua-admin-demo',
};

/** Absolute URL for a path on the server under test. */
export function url(path = '/') {
  return new URL(path, BASE_URL + '/').toString();
}

/** Default timeout (ms) for every Playwright action and wait. */
export const ACTION_TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 10_000);
