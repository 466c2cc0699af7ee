// Officer journey through motcua in a real browser, with axe (WCAG 2.x A/AA) on every page.
// Needs the server running with demo data at MOTCUA_URL (default http://127.0.0.1:8080).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN, BASE_URL, OFFICER, url } from '../lib/config.mjs';
import { launchBrowser, withPage } from '../lib/browser.mjs';
import { assertAccessible } from '../lib/axe.mjs';
import { assertPageBasics, firstRedirect, login, logout, pathOf, submitLogin } from '../lib/pages.mjs';

const CITIZEN_NAME = 'Nguyễn Văn An';
const CITIZEN_PID = '001095012345';
const CITIZEN_HREF = `/registry/citizens/${CITIZEN_PID}`;
const TEST_TIMEOUT = 90_000;

let browser;

before(async () => {
  try {
    await fetch(url('/login'), { redirect: 'manual' });
  } catch (err) {
    throw new Error(
      `motcua is not reachable at ${BASE_URL} (${err.cause?.code ?? err.message}). ` +
        'Start the server with its demo data, or set MOTCUA_URL.',
    );
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** A node:test test that runs in a fresh browser context, with screenshot-on-failure. */
function browserTest(name, fn) {
  test(name, { timeout: TEST_TIMEOUT }, () => withPage(browser, name, fn));
}

browserTest('officer searches a citizen without diacritics and opens the record', async (page) => {
  // Login page.
  await page.goto(url('/login'));
  await assertPageBasics(page, 'vi');
  await assertAccessible(page, 'login page');

  // Staff home.
  await submitLogin(page, OFFICER);
  await page.waitForURL((u) => u.pathname === '/staff');
  await assertPageBasics(page, 'vi');
  assert.ok((await page.locator('h1').count()) >= 1, `staff home has no h1 at ${page.url()}`);
  await assertAccessible(page, 'staff home');

  // Search form, reached through the staff home link.
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/registry/search'),
    page.locator('a[href="/registry/search"]').first().click(),
  ]);
  const form = page.locator('form[role="search"]');
  await form.waitFor({ state: 'visible' });
  for (const sel of ['input[name="q"]', 'input[name="birth_year"]', 'select[name="province"]', 'button[type="submit"]']) {
    assert.equal(await form.locator(sel).count(), 1, `search form lacks ${sel} at ${page.url()}`);
  }
  assert.equal(
    await form.locator('select[name="purpose"] option[value="case_processing"]').count(),
    1,
    `the search form asks for a purpose (option "case_processing") at ${page.url()}`,
  );
  await assertAccessible(page, 'search form');
  await form.locator('input[name="q"]').fill('nguyen van an');
  await form.locator('select[name="purpose"]').selectOption('case_processing');
  await form.locator('input[name="reference"]').fill('HS-2026-0001');
  const resultButton = page.locator(`table button[formaction="${CITIZEN_HREF}"]`);
  await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/registry/search',
    ),
    form.locator('button[type="submit"]').click(),
  ]);
  await page.waitForLoadState('load');

  // Results: every citizen shown is an access; the record opens with the same purpose.
  await assertPageBasics(page, 'vi');
  await resultButton.first().waitFor({ state: 'visible' }).catch(() => {});
  assert.ok(
    await resultButton.first().isVisible(),
    `no visible result row opening ${CITIZEN_HREF} for "nguyen van an" at ${page.url()}`,
  );
  const row = page.locator('table tr', { has: page.locator(`button[formaction="${CITIZEN_HREF}"]`) });
  assert.match(await row.first().innerText(), new RegExp(CITIZEN_PID), `result row lacks the PID at ${page.url()}`);
  await assertAccessible(page, 'search results');

  await Promise.all([
    page.waitForURL((u) => u.pathname === CITIZEN_HREF),
    resultButton.first().click(),
  ]);

  // Record page.
  await assertPageBasics(page, 'vi');
  const h1 = await page.locator('h1').first().innerText();
  assert.ok(h1.includes(CITIZEN_NAME), `h1 "${h1}" should contain "${CITIZEN_NAME}" at ${page.url()}`);
  assert.ok((await page.locator('main').innerText()).includes(CITIZEN_PID), `PID ${CITIZEN_PID} not shown at ${page.url()}`);
  assert.ok(await page.locator('#household').isVisible(), `#household section not visible at ${page.url()}`);
  const accessLog = page.locator('#access-log');
  assert.ok(await accessLog.isVisible(), `#access-log section not visible at ${page.url()}`);
  const logText = await accessLog.innerText();
  assert.ok(
    logText.includes(OFFICER.username) && logText.includes('list.search') && logText.includes('HS-2026-0001'),
    `#access-log should list "${OFFICER.username}", the listing and the view just made at ${page.url()}; it reads:\n${logText}`,
  );
  await assertAccessible(page, 'citizen record');

  // Opened directly, the record first asks why, in a POST form.
  await page.goto(url(CITIZEN_HREF));
  await assertPageBasics(page, 'vi');
  const purposeForm = page.locator('form[method="post" i]', { has: page.locator('select[name="purpose"]') });
  await purposeForm.waitFor({ state: 'visible' });
  assert.equal(
    await page.locator('#access-log').count(),
    0,
    `the record (access log) must not be shown before a purpose is given, at ${page.url()}`,
  );
  await assertAccessible(page, 'purpose page');
  await purposeForm.locator('select[name="purpose"]').selectOption('verification');
  await purposeForm.locator('button[type="submit"]').click();
  await page.locator('#access-log').waitFor({ state: 'visible' });
  assert.ok(
    (await page.locator('h1').first().innerText()).includes(CITIZEN_NAME),
    `the record is shown after the purpose is given, at ${page.url()}`,
  );
});

browserTest('wrong password shows an error summary', async (page) => {
  await page.goto(url('/login'));
  const response = await submitLogin(page, { username: OFFICER.username, password: 'not-the-password' });
  assert.equal(response.status(), 401, `wrong password should answer 401, got ${response.status()} at ${page.url()}`);
  assert.equal(pathOf(page), '/login', `wrong password should stay on /login, at ${page.url()}`);

  const summary = page.locator('.error-summary');
  assert.ok(await summary.first().isVisible(), `.error-summary not visible at ${page.url()}`);
  assert.equal(await summary.first().getAttribute('role'), 'alert', `.error-summary should have role="alert" at ${page.url()}`);
  assert.notEqual((await summary.first().innerText()).trim(), '', `.error-summary is empty at ${page.url()}`);
  assert.equal(
    await page.locator('input[name="password"]').inputValue(),
    '',
    `the password must not be echoed back into the form at ${page.url()}`,
  );
  await assertPageBasics(page, 'vi');
  await assertAccessible(page, 'login page with error');

  // Still not logged in.
  await page.goto(url('/registry/search'));
  assert.equal(pathOf(page), '/login', `after a failed login /registry/search should land on /login, at ${page.url()}`);
});

browserTest('English pages', async (page, context) => {
  await page.goto(url('/login'));
  assert.equal(await page.locator('html').getAttribute('lang'), 'vi', `default language should be vi at ${page.url()}`);
  const viText = (await page.locator('body').innerText()).trim();

  await page.goto(url('/login?lang=en'));
  await assertPageBasics(page, 'en');
  const enText = (await page.locator('body').innerText()).trim();
  assert.notEqual(enText, viText, `/login?lang=en shows the same text as the Vietnamese page at ${page.url()}`);
  const langCookie = (await context.cookies(BASE_URL)).find((c) => c.name === 'lang');
  assert.equal(langCookie?.value, 'en', `?lang=en should set cookie lang=en (cookies at ${page.url()})`);
  await assertAccessible(page, 'English login page');

  // The choice sticks after logging in (the form posts to /login, without ?lang).
  await submitLogin(page, OFFICER);
  await page.waitForURL((u) => u.pathname === '/staff');
  await assertPageBasics(page, 'en');
  await assertAccessible(page, 'English staff home');
});

browserTest('logout ends the session', async (page) => {
  await login(page, OFFICER);
  await logout(page);
  assert.equal(pathOf(page), '/login', `logout should land on /login, at ${page.url()}`);

  const response = await page.goto(url('/registry/search'));
  assert.equal(pathOf(page), '/login', `after logout /registry/search should land on /login, at ${page.url()}`);
  const redirect = await firstRedirect(response);
  assert.ok(redirect, `expected a redirect from /registry/search after logout, at ${page.url()}`);
  assert.ok([302, 303].includes(redirect.status), `redirect status should be 302/303, got ${redirect.status} at ${page.url()}`);
});

/** Submits the search form on /registry/search with a purpose; waits for the answer. */
async function searchFor(page, q) {
  await page.goto(url('/registry/search'));
  const form = page.locator('form[role="search"]');
  await form.locator('input[name="q"]').fill(q);
  await form.locator('select[name="purpose"]').selectOption('verification');
  await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/registry/search',
    ),
    form.locator('button[type="submit"]').click(),
  ]);
  await page.waitForLoadState('load');
}

browserTest('search by exact PID finds the citizen; nonsense finds nothing', async (page) => {
  await login(page, OFFICER);

  await searchFor(page, CITIZEN_PID);
  assert.ok(
    await page.locator(`table button[formaction="${CITIZEN_HREF}"]`).first().isVisible(),
    `searching the PID ${CITIZEN_PID} should list ${CITIZEN_HREF} at ${page.url()}`,
  );

  await searchFor(page, 'zzzzqqq');
  assert.ok(await page.locator('.empty-result').first().isVisible(), `.empty-result not shown for "zzzzqqq" at ${page.url()}`);
  assert.equal(
    await page.locator('table button[formaction^="/registry/citizens/"]').count(),
    0,
    `"zzzzqqq" should list no citizen at ${page.url()}`,
  );
  await assertAccessible(page, 'empty search result');
});

browserTest('unauthenticated access redirects to login', async (page) => {
  const response = await page.goto(url('/registry/search?q=nguyen+van+an'));
  assert.equal(pathOf(page), '/login', `unauthenticated /registry/search should land on /login, at ${page.url()}`);
  const redirect = await firstRedirect(response);
  assert.ok(redirect, `expected a redirect to /login, got a direct ${response.status()} at ${page.url()}`);
  assert.ok(redirect.status >= 300 && redirect.status < 400, `redirect status ${redirect.status} at ${page.url()}`);
  assert.equal(
    await page.locator('form[action="/login"] input[name="password"]').count(),
    1,
    `login form not shown at ${page.url()}`,
  );

  // A citizen record must never be shown without a session (redirect or 401/403 are fine).
  const record = await page.goto(url(`${CITIZEN_HREF}?purpose=case_processing`));
  const onLogin = pathOf(page) === '/login';
  assert.ok(
    onLogin || [401, 403].includes(record.status()),
    `unauthenticated record request answered ${record.status()} at ${page.url()}`,
  );
  assert.ok(
    !(await page.locator('body').innerText()).includes(CITIZEN_NAME),
    `citizen data leaked to an unauthenticated visitor at ${page.url()}`,
  );
});

browserTest('officer registers a birth and the child gets a new PID', async (page) => {
  await page.goto(url('/login'));
  await submitLogin(page, OFFICER);
  await page.waitForURL((u) => u.pathname === '/staff');
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/registry/births/new'),
    page.locator('a[href="/registry/births/new"]').first().click(),
  ]);
  await assertPageBasics(page, 'vi');
  await assertAccessible(page, 'birth form');

  // Submitting the empty form lists the problems at the top.
  await page.locator('form[action="/registry/births"] button[type="submit"]').click();
  await page.locator('.error-summary').waitFor({ state: 'visible' });
  await assertAccessible(page, 'birth form with errors');

  await page.fill('#full_name', 'Nguyễn Thị Thu');
  await page.selectOption('#gender', 'F');
  await page.fill('#date_of_birth', '2026-11-01');
  await page.selectOption('#registration_province', '1');
  await page.fill('#mother_pid', '001195012346');
  await page.fill('#reason', 'GCS-E2E-1');
  await page.locator('form[action="/registry/births"] button[type="submit"]').click();
  const pid = (await page.locator('#new-pid').textContent({ timeout: 10_000 }))?.trim() ?? '';
  assert.match(pid, /^001326\d{6}$/, `unexpected PID "${pid}" at ${page.url()}`);
  await assertAccessible(page, 'birth confirmation');
});

browserTest('admin creates an officer account on the staff accounts page', async (page) => {
  await login(page, ADMIN);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/admin/staff'),
    page.locator('main a[href="/admin/staff"]').first().click(),
  ]);
  await assertPageBasics(page, 'vi');
  await assertAccessible(page, 'staff accounts page');

  // The demo data directory is reused between runs: a fresh username each time.
  const username = `e2e.${Date.now().toString(36)}`;
  const form = page.locator('form[action="/admin/staff"]');
  await form.locator('#username').fill(username);
  await form.locator('#display_name').fill('Cán bộ thử nghiệm');
  await form.locator('#role').selectOption('officer');
  await form.locator('#password').fill('e2e-officer-password');
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/admin/staff' && u.searchParams.get('created') === username),
    form.locator('button[type="submit"]').click(),
  ]);
  const row = page.locator('#accounts tr', { has: page.locator(`code:text-is("${username}")`) });
  assert.equal(await row.count(), 1, `no row for the new account ${username} at ${page.url()}`);
  assert.ok(
    await page.locator('.notice[role="status"]').isVisible(),
    `the new account is not confirmed at ${page.url()}`,
  );
  await assertAccessible(page, 'staff accounts page after creating an account');
});

browserTest('admin reads the background jobs and the development mailbox', async (page) => {
  await login(page, ADMIN);
  for (const [path, what] of [
    ['/admin/jobs', 'jobs page'],
    ['/admin/jobs?status=dead', 'dead jobs'],
    ['/admin/mailbox', 'development mailbox'],
  ]) {
    const response = await page.goto(url(path));
    assert.equal(response.status(), 200, `${path} answered ${response.status()} at ${page.url()}`);
    await assertPageBasics(page, 'vi');
    await assertAccessible(page, what);
  }
});
