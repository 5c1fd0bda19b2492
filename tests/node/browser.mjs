// browser.mjs -- opens test pages in Debian's Chromium (headless, through playwright-core) and reports what each page did
//
// Usage: node browser.mjs SPEC.json      (or the spec on standard input)
//
// SPEC: { "chromium": "/usr/bin/chromium",          (optional)
//         "pages": [ { "name": "allowed", "url": "http://...", "timeoutMs": 60000 } ],
//         "screenshotDir": "/tmp/..." }               (optional: a PNG per page)
//
// Each page must end by setting window.miasOutcome (tests/browser/page.html
// does).  For every page one JSON line goes to standard output:
//   { name, outcome, dom: { state, text }, console: [{type, text}],
//     pageErrors: [...], requests: [{method, url, origin, status, failure}] }
// Exit status: 0 when every page was run (whatever its outcome), 2 when the
// browser could not be started or driven (the reason on standard error).
//
// Playwright never downloads a browser here: playwright-core is the driver
// only, and the browser is the system's Chromium, started with a fresh
// profile directory that is removed afterwards.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const spec = JSON.parse(readFileSync(process.argv[2] ?? 0, 'utf8'));
const executablePath = spec.chromium || process.env.MIAS_CHROMIUM || '/usr/bin/chromium';
const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // containers often have a tiny /dev/shm, which crashes renderers
  '--disable-dev-shm-usage',
];

const profile = mkdtempSync(join(tmpdir(), 'mias-chromium-'));
let context;
try {
  // launchPersistentContext is how Playwright takes a --user-data-dir
  context = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true, args, timeout: 60000,
  });
} catch (e) {
  rmSync(profile, { recursive: true, force: true });
  process.stderr.write(`cannot start ${executablePath}: ${e.message}\n`);
  process.exit(2);
}

let status = 0;
try {
  for (const p of spec.pages) {
    const page = await context.newPage();
    const rec = { name: p.name, outcome: null, dom: null, console: [], pageErrors: [], requests: [] };
    const pending = [];
    page.on('console', (m) => rec.console.push({ type: m.type(), text: m.text() }));
    page.on('pageerror', (e) => rec.pageErrors.push(String(e)));
    const note = (req, failure) => {
      if (req.resourceType() !== 'fetch') return;
      pending.push((async () => {
        const h = await req.allHeaders().catch(() => ({}));
        const resp = failure === null ? await req.response().catch(() => null) : null;
        rec.requests.push({
          method: req.method(), url: req.url(), origin: h.origin ?? null,
          status: resp ? resp.status() : null, failure,
        });
      })());
    };
    page.on('requestfinished', (req) => note(req, null));
    page.on('requestfailed', (req) => note(req, req.failure()?.errorText ?? 'failed'));
    try {
      await page.goto(p.url, { waitUntil: 'load', timeout: 30000 });
      await page.waitForFunction(() => window.miasOutcome !== undefined, null,
        { timeout: p.timeoutMs ?? 60000, polling: 100 });
      rec.outcome = await page.evaluate(() => window.miasOutcome);
    } catch (e) {
      rec.outcome = { state: 'driver-error', message: e.message };
    }
    rec.dom = await page.evaluate(() => {
      const el = document.getElementById('outcome');
      return el ? { state: el.dataset.state, text: el.textContent } : null;
    }).catch(() => null);
    if (spec.screenshotDir) {
      await page.screenshot({ path: join(spec.screenshotDir, `${p.name}.png`), fullPage: true })
        .catch(() => {});
    }
    await Promise.all(pending);
    await page.close();
    process.stdout.write(JSON.stringify(rec) + '\n');
  }
} catch (e) {
  process.stderr.write(`browser: ${e.stack || e}\n`);
  status = 2;
} finally {
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(status);
