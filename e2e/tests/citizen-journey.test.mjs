// A citizen's journey in a real browser, with axe (WCAG 2.x A/AA) on every page: she
// registers a level-1 electronic identity, confirms the code an administrator finds in the
// development mailbox, logs in to the portal through its OpenID Connect provider with her
// password and TOTP code, consents, lands on her account, sees in "who read my data" the
// agency verification made a moment before, adds a passkey through Chromium's virtual
// authenticator and logs in again with it alone.
// Needs `motcua demo` at MOTCUA_URL, and MOTCUA_DATA_DIR for the demo's API client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ADMIN, BASE_URL, url } from '../lib/config.mjs';

// The citizen's pages run on `localhost`: a browser refuses an IP address as a passkey's
// relying party, and the demo registers its portal under both names.
const local = (path) => url(path).replace('://127.0.0.1:', '://localhost:');
import { launchBrowser, withPage } from '../lib/browser.mjs';
import { assertAccessible } from '../lib/axe.mjs';
import { assertPageBasics, login, pathOf } from '../lib/pages.mjs';
import { totp } from '../lib/oidc.mjs';

// A showcase adult of the demo without an account.
const CUC = {
  pid: '001190004321',
  name: 'Lê Thị Cúc',
  dob: '1990-11-20',
  email: 'cuc.le@example.com',
  password: 'cuc-password-2026',
};
const DATA_DIR = process.env.MOTCUA_DATA_DIR;
const TEST_TIMEOUT = 120_000;

let browser;

before(async () => {
  try {
    await fetch(url('/readyz'));
  } catch (err) {
    throw new Error(`motcua is not reachable at ${BASE_URL} (${err.cause?.code ?? err.message})`);
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** The code in the newest message to `to` in the development mailbox, as an admin sees it. */
async function codeFromMailbox(page, to) {
  await login(page, ADMIN);
  for (let i = 0; i < 40; i++) {
    await page.goto(url('/admin/mailbox'));
    const mail = page.locator('article.mail', { hasText: to }).first();
    if ((await mail.count()) > 0) {
      const text = await mail.locator('pre').innerText();
      const m = text.match(/\b(\d{6})\b/);
      assert.ok(m, `no 6-digit code in the message to ${to}: ${text}`);
      return m[1];
    }
    // The job worker delivers within a moment.
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no message to ${to} reached the development mailbox`);
}

test('a citizen registers, logs in through the provider and sees who read her data', { timeout: TEST_TIMEOUT, skip: DATA_DIR ? false : 'MOTCUA_DATA_DIR is not set (the demo data directory)' }, () =>
  withPage(browser, 'citizen journey', async (page, context) => {
    // Registration, matched against the registry.
    await page.goto(local('/account/register'));
    await assertPageBasics(page, 'vi');
    await assertAccessible(page, 'registration page');
    await page.fill('#pid', CUC.pid);
    await page.fill('#full_name', CUC.name);
    await page.fill('#date_of_birth', CUC.dob);
    await page.fill('#email', CUC.email);
    await page.fill('#password', CUC.password);
    await page.fill('#password_again', CUC.password);
    await Promise.all([
      page.waitForURL((u) => u.pathname.startsWith('/account/register/')),
      page.click('form[action="/account/register"] button[type="submit"]'),
    ]);
    await assertAccessible(page, 'code confirmation page');
    const confirmUrl = page.url();

    // The code, from the development mailbox, read by an administrator in another context.
    const admin = await context.browser().newContext({ locale: 'vi-VN', bypassCSP: true });
    const adminPage = await admin.newPage();
    const code = await codeFromMailbox(adminPage, CUC.email);
    await admin.close();

    await page.goto(confirmUrl);
    await page.fill('#code', code);
    await page.click('form button[type="submit"]');
    await page.locator('#totp-secret').waitFor();
    await assertAccessible(page, 'account created page');
    const secret = (await page.locator('#totp-secret').innerText()).trim();
    assert.match(secret, /^[A-Z2-7]{16,}$/);

    // An agency verifies her a moment before she looks.
    const clients = JSON.parse(readFileSync(join(DATA_DIR, 'demo-clients.json'), 'utf8'));
    const agency = clients.verify_only;
    const basic = Buffer.from(`${agency.client_id}:${agency.client_secret}`).toString('base64');
    const verified = await fetch(url('/api/v1/registry/verifications'), {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pid: CUC.pid, full_name: CUC.name, date_of_birth: CUC.dob, purpose: 'Xác minh hồ sơ đăng ký' }),
    });
    assert.equal(verified.status, 200, await verified.text());

    // Log in to the portal through its OpenID Connect provider.
    await page.goto(local('/account'));
    await page.waitForURL((u) => u.pathname === '/oidc/authorize');
    await assertPageBasics(page, 'vi');
    await assertAccessible(page, 'citizen login page');
    await page.fill('#pid', CUC.pid);
    await page.fill('#password', CUC.password);
    await page.fill('#totp', totp(secret, Math.floor(Date.now() / 30_000)));
    await page.click('form[action="/oidc/authorize/login"] button[type="submit"]');
    await page.locator('form[action="/oidc/authorize/consent"]').waitFor();
    await assertAccessible(page, 'consent page');
    assert.ok((await page.locator('li[data-scope="pid"]').count()) === 1, 'the consent page lists the pid scope');
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/account'),
      page.click('button[name="decision"][value="allow"]'),
    ]);
    assert.equal(pathOf(page), '/account');
    await assertAccessible(page, 'account page');
    assert.ok((await page.locator('main').innerText()).includes(CUC.name));
    assert.equal(await page.locator('dd[data-level="1"]').count(), 1, 'a self-registered account is level 1');

    // Who read my data: the agency's verification, a moment ago.
    await page.click('a[href="/account/accesses"]');
    await page.waitForURL((u) => u.pathname === '/account/accesses');
    await assertAccessible(page, 'who read my data page');
    const table = await page.locator('#accesses').innerText();
    assert.ok(table.includes('Cổng dịch vụ công tỉnh (demo)'), `the agency is listed: ${table}`);

    // Sessions and consents page.
    await page.click('a[href="/account/sessions"]');
    await page.waitForURL((u) => u.pathname === '/account/sessions');
    await assertAccessible(page, 'sessions and consents page');

    // A passkey, through Chromium's virtual authenticator (user verification included).
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await page.goto(local('/account'));
    await page.locator('#passkey-add').waitFor({ state: 'visible' });
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/account/passkeys'),
      page.click('#passkey-add'),
    ]);
    // The form's POST answers with a redirect back to the account page, now listing it.
    await page.locator('#passkeys tbody tr').first().waitFor();
    assert.equal(await page.locator('#passkeys tbody tr').count(), 1, 'the passkey is listed');
    await assertAccessible(page, 'account page with a passkey');

    // Log out, then log in again with the passkey alone.
    // Logging out goes home, which sends a visitor on to the sign-in page.
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/login'),
      page.click('form[action="/account/logout"] button[type="submit"]'),
    ]);
    await page.goto(local('/account'));
    await page.waitForURL((u) => u.pathname === '/oidc/authorize');
    await page.locator('#passkey-login').waitFor({ state: 'visible' });
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/account'),
      page.click('#passkey-login'),
    ]);
    assert.ok((await page.locator('main').innerText()).includes(CUC.name), 'logged in with the passkey');
  }),
);
