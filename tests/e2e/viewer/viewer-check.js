#!/usr/bin/env node
// Drives Debian's chromium (through playwright-core, which brings no browser
// of its own) through the built-in trace viewer, as a person would:
//   node viewer-check.js <base-url> <trace-id> <out-dir>
// The list must show <trace-id>; a click opens its waterfall, which must draw
// every span that /api/traces/<trace-id> returns (fetched here, compared by
// name and count); a click on a span must show its attributes and events,
// and its events must be marks on its bar. The deep link
// /#trace=<id> must draw the same waterfall. The page must make no request
// off its own origin, raise no error and run no dialog (the mock's untrusted
// strings try to). Saves <out-dir>/list.png and waterfall.png. Exits 0 when all holds,
// otherwise prints what failed and exits 1; gives up after 60 s.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const OVERALL_MS = 60000;
const STEP_MS = 15000;

function fail(msg) {
  const e = new Error(msg);
  e.check = true;
  throw e;
}

const shown = (s) => String(s.name || '(unnamed)');
const sorted = (a) => [...a].sort();

async function waterfallNames(page, want) {
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=span-row]').length === n, want,
    { timeout: STEP_MS }).catch(async () => {
    const got = await page.locator('[data-testid=span-row]').count();
    const st = await page.locator('[data-testid=trace-status]').textContent();
    fail(`waterfall has ${got} span rows, the API returned ${want} spans (page says: ${JSON.stringify(st)})`);
  });
  return page.locator('[data-testid=span-name]').allTextContents();
}

async function check(base, id, out, browser) {
  const url = `${base}/api/traces/${encodeURIComponent(id)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(STEP_MS) })
    .catch((e) => fail(`GET ${url}: ${(e.cause && e.cause.message) || e.message}`));
  if (!res.ok) fail(`GET /api/traces/${id}: HTTP ${res.status}`);
  const spans = (await res.json()).spans;
  if (!Array.isArray(spans) || !spans.length) fail(`GET /api/traces/${id}: no spans`);
  const wantNames = sorted(spans.map(shown));

  const problems = [];
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: 'light' });
  ctx.setDefaultTimeout(STEP_MS);
  const origin = new URL(base).origin;
  ctx.on('request', (r) => {
    if (!r.url().startsWith(origin + '/') && !r.url().startsWith('data:')) problems.push(`request off the page's origin: ${r.url()}`);
  });
  const newPage = async () => {
    const p = await ctx.newPage();
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    p.on('dialog', (d) => { problems.push(`page opened a ${d.type()} dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
    p.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
    return p;
  };
  const page = await newPage();

  // 1. the list shows the trace
  await page.goto(`${base}/`, { timeout: STEP_MS });
  const row = page.locator(`[data-testid=trace-row][data-trace-id="${id}"]`);
  await row.waitFor({ state: 'visible' }).catch(async () => {
    const st = await page.locator('[data-testid=list-status]').textContent();
    fail(`the list does not show trace ${id} (page says: ${JSON.stringify(st)})`);
  });

  fs.mkdirSync(out, { recursive: true });
  await page.screenshot({ path: path.join(out, 'list.png') });

  // 2. a click opens the waterfall with every span of the API's answer
  await row.locator('[data-testid=trace-root]').click();
  const names = await waterfallNames(page, spans.length);
  if (JSON.stringify(sorted(names)) !== JSON.stringify(wantNames))
    fail(`span names differ: waterfall ${JSON.stringify(sorted(names))}, API ${JSON.stringify(wantNames)}`);
  const ids = await page.locator('[data-testid=span-row]').evaluateAll((rs) => rs.map((r) => r.dataset.spanId));
  for (const s of spans) if (!ids.includes(String(s.spanId))) fail(`span ${s.spanId} (${shown(s)}) has no row`);
  const shownId = (await page.locator('[data-testid=trace-id]').textContent()).trim();
  if (shownId !== id) fail(`trace id shown as ${JSON.stringify(shownId)}`);
  if (!page.url().endsWith(`#trace=${id}`)) fail(`the URL after the click is ${page.url()}`);
  const nErr = spans.filter((s) => s.status === 'ERROR').length;
  const redRows = await page.locator('[data-testid=span-row].err').count();
  if (redRows !== nErr) fail(`${redRows} rows drawn as errors, the API has ${nErr} ERROR spans`);

  // 3. a click on a span shows its attributes and events (a span with events if any, else the
  //    one with the most attributes)
  const score = (s) => Object.keys(s.attributes || {}).length + (Array.isArray(s.events) && s.events.length ? 1000 : 0);
  const pick = spans.reduce((a, b) => (score(b) > score(a) ? b : a));
  const attrs = Object.entries(pick.attributes || {});
  if (!attrs.length) fail('no span of this trace has attributes to check');
  await page.locator(`[data-testid=span-row][data-span-id="${pick.spanId}"] [data-testid=span-name]`).click();
  const table = page.locator('[data-testid=detail-attributes]');
  await table.waitFor({ state: 'visible' }).catch(() => fail(`no attribute table after clicking span ${shownI(pick)}`));
  const cells = await table.locator('tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  for (const [k, v] of attrs) {
    const want = typeof v === 'string' ? v : JSON.stringify(v);
    if (!cells.some(([ck, cv]) => ck === k && cv === want))
      fail(`attribute ${k}=${JSON.stringify(want)} of span ${shownI(pick)} is not shown (shown: ${JSON.stringify(cells)})`);
  }
  const evWant = sorted((pick.events || []).map((e) => String(e.name)));
  if (evWant.length) {
    const evShown = sorted(await page.locator('[data-testid=detail-events] tr td:first-child').allTextContents());
    if (JSON.stringify(evShown) !== JSON.stringify(evWant))
      fail(`events of span ${shownI(pick)}: shown ${JSON.stringify(evShown)}, API ${JSON.stringify(evWant)}`);
    const marks = await page.locator(`[data-testid=span-row][data-span-id="${pick.spanId}"] [data-testid=event-mark]`).count();
    if (marks !== evWant.length) fail(`span ${shownI(pick)} has ${marks} event marks on its bar, the API ${evWant.length} events`);
  }
  const png = path.join(out, 'waterfall.png');
  await page.screenshot({ path: png, fullPage: true });

  // 4. the deep link draws the same waterfall in a fresh page
  const deep = await newPage();
  await deep.goto(`${base}/#trace=${id}`, { timeout: STEP_MS });
  const deepNames = await waterfallNames(deep, spans.length);
  if (JSON.stringify(sorted(deepNames)) !== JSON.stringify(wantNames)) fail('the deep link /#trace=<id> shows other spans');

  if (problems.length) fail(problems.join('\n  '));
  await ctx.close();
  return { spans: spans.length, attrs: attrs.length, events: evWant.length, png };
}

function shownI(s) { return `${s.spanId} (${shown(s)})`; }

async function main() {
  const [baseArg, id, out] = process.argv.slice(2);
  if (!baseArg || !id || !out) {
    console.error('usage: node viewer-check.js <base-url> <trace-id> <out-dir>');
    return 1;
  }
  const base = baseArg.replace(/\/+$/, '');
  let browser = null;
  const timer = setTimeout(() => {
    console.error(`viewer-check: FAIL: gave up after ${OVERALL_MS / 1000} s`);
    if (browser) browser.close().catch(() => {});
    process.exit(1);
  }, OVERALL_MS);
  try {
    // launch() gives the browser a fresh temporary profile and removes it on close
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      timeout: STEP_MS,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const r = await check(base, id, out, browser);
    console.log(`viewer-check: ok: trace ${id}: list row, ${r.spans} spans in the waterfall and by deep link, ` +
      `${r.attrs} attributes and ${r.events} events of one span shown; screenshot ${r.png}`);
    return 0;
  } catch (e) {
    console.error(`viewer-check: FAIL: ${e.check ? e.message : e.stack || e}`);
    return 1;
  } finally {
    clearTimeout(timer);
    if (browser) await browser.close().catch(() => {});
  }
}

main().then((code) => process.exit(code));
