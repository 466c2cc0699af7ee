// Login/logout helpers and checks shared by every page of the contract.
import assert from 'node:assert/strict';
import { url } from './config.mjs';

export const pathOf = (page) => new URL(page.url()).pathname;

/** Fills and submits the login form on the current page; returns the POST /login response. */
export async function submitLogin(page, { username, password }) {
  const form = page.locator('form[action="/login"][method="post" i]');
  await form.locator('input[name="username"]').fill(username);
  await form.locator('input[name="password"]').fill(password);
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login',
    ),
    form.locator('button[type="submit"]').click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

/** Opens /login (optionally with a query string) and logs in; ends on /staff. */
export async function login(page, credentials, { query = '' } = {}) {
  await page.goto(url('/login' + query));
  const response = await submitLogin(page, credentials);
  await page.waitForURL((u) => u.pathname === '/staff');
  assert.equal(pathOf(page), '/staff', `login should land on /staff (status ${response.status()}), at ${page.url()}`);
  return response;
}

/** Submits the logout form of the current page; ends on /login. */
export async function logout(page) {
  const button = page.locator('form[action="/logout"][method="post" i] [type="submit"]').first();
  await Promise.all([page.waitForURL((u) => u.pathname === '/login'), button.click()]);
}

/**
 * The response that redirected to the final page, if the last navigation was a redirect
 * chain: { status, from } of the first hop.
 */
export async function firstRedirect(response) {
  let req = response.request();
  while (req.redirectedFrom()) req = req.redirectedFrom();
  if (req === response.request()) return null;
  const first = await req.response();
  return { status: first ? first.status() : null, from: req.url() };
}

/** Checks shared by every page: html lang, <main id="main">, skip link, language switch. */
export async function assertPageBasics(page, lang) {
  const where = page.url();
  assert.equal(await page.locator('html').getAttribute('lang'), lang, `<html lang> should be "${lang}" on ${where}`);
  assert.equal(await page.locator('main#main').count(), 1, `exactly one <main id="main"> expected on ${where}`);
  assert.ok((await page.locator('a[href="#main"]').count()) >= 1, `skip link a[href="#main"] missing on ${where}`);
  const other = lang === 'vi' ? 'en' : 'vi';
  assert.ok(
    (await page.locator(`a[href*="lang=${other}"]`).count()) >= 1,
    `language switch link (href containing "lang=${other}") missing on ${where}`,
  );
}
