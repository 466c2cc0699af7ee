// Launches the system Chromium through playwright-core (never a downloaded browser).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ACTION_TIMEOUT } from './config.mjs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Directory (git-ignored) where failure screenshots go: e2e/test-results/. */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results');

export async function launchBrowser() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install it with "apt-get install -y chromium" ` +
        'or point CHROMIUM_PATH at a Chromium binary (Playwright must not download one).',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A fresh, isolated context (no cookies) with one page.
 * bypassCSP lets the axe script be injected even under a strict Content-Security-Policy;
 * the locale is Vietnamese so "Vietnamese by default" holds whatever the server does
 * with Accept-Language.
 */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({
    bypassCSP: true,
    locale: 'vi-VN',
    timezoneId: 'Asia/Ho_Chi_Minh',
    viewport: { width: 1280, height: 900 },
    ...options,
  });
  context.setDefaultTimeout(ACTION_TIMEOUT);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT);
  const page = await context.newPage();
  return { context, page };
}

function slug(name) {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 120) || 'test';
}

/**
 * Runs `fn(page, context)` in a fresh context. On failure saves a full-page screenshot to
 * test-results/<test-name>.png and appends the page URL and screenshot path to the error message.
 */
export async function withPage(browser, testName, fn, options = {}) {
  const { context, page } = await newPage(browser, options);
  try {
    await fn(page, context);
  } catch (err) {
    let extra = `\n    page URL: ${safeUrl(page)}`;
    try {
      mkdirSync(RESULTS_DIR, { recursive: true });
      const file = join(RESULTS_DIR, `${slug(testName)}.png`);
      await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
      extra += `\n    screenshot: ${file}`;
    } catch (shotErr) {
      extra += `\n    (screenshot failed: ${shotErr.message.split('\n')[0]})`;
    }
    throw annotate(err, extra);
  } finally {
    await context.close().catch(() => {});
  }
}

function safeUrl(page) {
  try {
    return page.url();
  } catch {
    return '(unknown)';
  }
}

/** Appends text to an error's message (and to its stack, which is what reporters print). */
function annotate(err, extra) {
  if (!(err instanceof Error)) return new Error(String(err) + extra);
  const original = err.message;
  err.message = original + extra;
  if (typeof err.stack === 'string') {
    err.stack = err.stack.includes(original)
      ? err.stack.replace(original, err.message)
      : `${err.message}\n${err.stack}`;
  }
  return err;
}
