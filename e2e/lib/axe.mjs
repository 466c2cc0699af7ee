// Injects axe-core into a page and fails on any WCAG 2.x A/AA violation.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const AXE_PATH = require.resolve('axe-core/axe.min.js');

export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/** Runs axe on the current document and returns its raw results. */
export async function runAxe(page) {
  const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!loaded) await page.addScriptTag({ path: AXE_PATH });
  return page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }),
    WCAG_TAGS,
  );
}

/** Human-readable report of axe violations, one block per rule, one line per node. */
export function formatViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .map((n) => {
          const summary = (n.failureSummary || '')
            .split('\n')
            .map((line) => line.trim())
            .filter(Boolean)
            .map((line) => (/:$/.test(line) ? `        ${line}` : `          * ${line}`))
            .join('\n');
          return `      - target: ${JSON.stringify(n.target)}\n        html: ${n.html}\n${summary}`;
        })
        .join('\n');
      return `  [${v.impact ?? 'n/a'}] ${v.id}: ${v.help}\n    ${v.helpUrl}\n${nodes}`;
    })
    .join('\n');
}

/** Asserts the page has no axe violations for the WCAG 2.0/2.1/2.2 A and AA tags. */
export async function assertAccessible(page, label = '') {
  const results = await runAxe(page);
  const { violations } = results;
  const where = `${label ? label + ' ' : ''}(${page.url()})`;
  assert.equal(
    violations.length,
    0,
    `axe found ${violations.length} accessibility violation(s) on ${where}:\n${formatViolations(violations)}`,
  );
  return results;
}
