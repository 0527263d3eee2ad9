// End-to-end test of Vigil's web dashboard in a real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core). Builds nothing: it runs the binary
// named by VIGIL_BIN.
//
//   1. `vigil demo --exit-when-done` plays the bundled crisis scenario into a temp dir;
//   2. `vigil run` on that config with no tokens: the dashboard skips sign-in;
//   3. `vigil run` again with a responder and a viewer token (from the environment):
//      sign-in through `/api/whoami` (wrong token → clear message; the header names the
//      token and its role); search → highlighted hits; overview → the chart's peak bucket
//      is the crisis hour, also in a custom from/to range kept in the URL (a reversed
//      range → message); incidents → countdown; detail → the response script as
//      `/api/incidents/{id}` renders it, copied to the clipboard, notifications and a
//      timeline; acknowledge → the timeline names the responder; sources; a viewer sees
//      no responder buttons (no 403 needed), and a stale role still ends in a clear 403
//      message; a bad stored token → back to sign-in; a phone-sized screen and Chinese;
//   4. `vigil incidents list --format json` shows the ack by the token's name.
//
// Screenshots of every page (desktop and 390x844) go to VIGIL_E2E_OUTPUT (default
// tests/dashboard/output/). Exit code 0 on success, 1 on the first failed check.
//
//   VIGIL_BIN=target/debug/vigil node tests/dashboard/e2e.mjs

import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, rmSync, appendFileSync, createWriteStream, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const vigilBin = path.resolve(process.env.VIGIL_BIN || path.join(repo, 'target/debug/vigil'));
const output = path.resolve(process.env.VIGIL_E2E_OUTPUT || path.join(here, 'output'));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
/// Exactly the flags of issue 8, plus a fresh profile and Playwright's control pipe.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];
const RESPONDER = { name: 'pat-responder', token: 'e2e-responder-5d1c0a' };
const VIEWER = { name: 'vic-viewer', token: 'e2e-viewer-93b7f2' };

const work = mkdtempSync(path.join(os.tmpdir(), 'vigil-dashboard-e2e-'));
const demoDir = path.join(work, 'demo');
const config = path.join(demoDir, 'vigil.toml');
const children = new Set();
let checks = 0;
let step = 'start';
/// Open pages, screenshotted if a check fails.
const watched = new Set();

function log(message) {
  console.log(`[e2e] ${message}`);
}

function check(condition, message) {
  checks += 1;
  if (!condition) throw new Error(`check failed (${step}): ${message}`);
  log(`ok: ${message}`);
}

async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/// Starts the binary with its output in `<output>/<name>.log`.
function start(name, args, env = {}) {
  const logFile = createWriteStream(path.join(output, `${name}.log`));
  const child = spawn(vigilBin, args, { env: { ...process.env, VIGIL_LOG: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(logFile);
  child.stderr.pipe(logFile);
  child.stdoutText = '';
  child.stdout.on('data', (chunk) => { child.stdoutText += chunk; });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
  await once(child, 'exit');
  clearTimeout(timer);
}

async function waitForHealth(base, child) {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (child.exitCode !== null) throw new Error(`vigil exited with ${child.exitCode} before serving; see its log in ${output}`);
    try {
      const response = await fetch(`${base}/healthz`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${base}/healthz did not answer within 60 s`);
}

async function shot(page, name) {
  await page.evaluate(() => document.fonts.ready);
  const file = path.join(output, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${path.relative(process.cwd(), file)}`);
}

/// Fails on script errors and failed requests other than the expected 401/403s.
function watch(page, label) {
  watched.add(page);
  page.on('close', () => watched.delete(page));
  page.on('pageerror', (error) => {
    page.consoleErrors = [...(page.consoleErrors || []), `${label}: page error: ${error.message}`];
  });
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) {
      page.consoleErrors = [...(page.consoleErrors || []), message.text()];
    }
  });
}

async function noHorizontalScroll(page, label) {
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(widths[0] <= widths[1] + 1, `${label}: no sideways scrolling at ${widths[1]} px (content ${widths[0]} px)`);
}

async function signIn(page, token) {
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: /Sign in|登录/ }).click();
  await page.locator('#topbar').waitFor({ state: 'visible' });
}

async function main() {
  mkdirSync(output, { recursive: true });
  // Screenshots of an earlier run would pass for this one's.
  for (const name of readdirSync(output)) {
    if (/^(desktop|phone|failure)-.*\.png$/.test(name)) rmSync(path.join(output, name));
  }
  log(`binary ${vigilBin}, chromium ${chromiumPath}, output ${output}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  step = 'demo';
  const demo = start('demo', ['demo', '--dir', demoDir, '--listen', `127.0.0.1:${port}`, '--exit-when-done']);
  const demoTimer = setTimeout(() => demo.kill('SIGKILL'), 240000);
  const [demoCode] = await once(demo, 'exit');
  clearTimeout(demoTimer);
  check(demoCode === 0, `vigil demo --exit-when-done exited 0 (got ${demoCode})`);
  check(demo.stdoutText.includes('Crisis detected'), 'the demo detected its crisis');

  const profile = path.join(work, 'chromium-profile');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    ignoreDefaultArgs: true,
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank'],
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
  });
  try {
    await browserChecks(context, base);
  } catch (error) {
    let n = 0;
    for (const page of watched) {
      n += 1;
      await page.screenshot({ path: path.join(output, `failure-${n}.png`), fullPage: true }).catch(() => {});
      console.error(`[e2e] page ${page.url()} errors: ${(page.consoleErrors || []).join(' | ') || 'none'}`);
    }
    throw error;
  } finally {
    await context.close();
  }
}

async function browserChecks(context, base) {
  const browser = context.browser();

  // --- No tokens configured: no sign-in. ---
  step = 'open API';
  let daemon = start('run-open', ['run', '--config', config]);
  await waitForHealth(base, daemon);
  const openPage = await context.newPage();
  watch(openPage, 'open');
  await openPage.goto(`${base}/`);
  await openPage.locator('#hits li').first().waitFor();
  check(await openPage.locator('#token').count() === 0, 'without tokens the dashboard shows no sign-in form');
  check((await openPage.locator('#session').innerText()).includes('Open API'), 'it says the API is open');
  await shot(openPage, 'desktop-00-open-api-search');
  await openPage.close();
  await stop(daemon);

  // --- Tokens configured. ---
  appendFileSync(config, `
[[server.tokens]]
name = "${RESPONDER.name}"
role = "responder"
token_env = "VIGIL_E2E_RESPONDER"

[[server.tokens]]
name = "${VIEWER.name}"
role = "viewer"
token_env = "VIGIL_E2E_VIEWER"
`);
  daemon = start('run-tokens', ['run', '--config', config], {
    VIGIL_E2E_RESPONDER: RESPONDER.token, VIGIL_E2E_VIEWER: VIEWER.token,
  });
  await waitForHealth(base, daemon);
  const api = async (route, token = RESPONDER.token) => {
    const response = await fetch(`${base}${route}`, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`${route}: ${response.status}`);
    return response.json();
  };

  const page = await context.newPage();
  watch(page, 'desktop');

  step = 'sign-in';
  const shell = await page.goto(`${base}/`);
  check(shell.headers()['content-type'].startsWith('text/html'), 'GET / is the HTML app shell');
  await page.locator('#token').waitFor();
  await shot(page, 'desktop-01-login');
  const probes = [];
  const onRequest = (request) => {
    if (new URL(request.url()).pathname.startsWith('/api/')) probes.push(new URL(request.url()).pathname);
  };
  page.on('request', onRequest);
  await page.locator('#token').fill('not-a-real-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#login-error').filter({ hasText: /unknown or expired token/i }).waitFor();
  check(await page.locator('#topbar').isHidden(), 'a wrong token keeps the sign-in page, with a clear message');
  check(probes.length === 1 && probes[0] === '/api/whoami', `the sign-in form checks the token with /api/whoami (${probes.join(', ')})`);
  await shot(page, 'desktop-02-login-wrong-token');
  await signIn(page, RESPONDER.token);
  page.off('request', onRequest);
  await page.locator('#who').waitFor();
  const who = await page.locator('#who').innerText();
  check(who.includes(RESPONDER.name) && /responder/.test(who) && await page.locator('#who').getAttribute('data-role') === 'responder',
    `the header names the token and its role (${who.replace(/\s+/g, ' ')})`);

  step = 'search';
  await page.locator('#q').fill('exploded OR 爆炸');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#search-summary').filter({ hasText: /mentions/ }).waitFor();
  await page.locator('#hits li mark').first().waitFor();
  const marks = await page.locator('#hits li mark').allInnerTexts();
  check(marks.length > 0 && marks.every((text) => /explod|爆炸/i.test(text)), `hits show the matched terms highlighted (${[...new Set(marks)].join(', ')})`);
  const expected = await api(`/api/search?${new URLSearchParams({ q: 'exploded OR 爆炸', from: '7d', limit: 1 })}`);
  check((await page.locator('#search-summary').innerText()).includes(String(expected.total)), `the summary gives the API's total (${expected.total})`);
  check(await page.locator('#hits li .badge').count() > 0, 'hits carry a sentiment badge');
  await shot(page, 'desktop-03-search');
  const download = page.waitForEvent('download');
  await page.locator('#export-csv').click();
  const csvPath = path.join(work, 'export.csv');
  await (await download).saveAs(csvPath);
  const csvLines = readFileSync(csvPath, 'utf8').trim().split(/\r\n/);
  check(csvLines[0].replace(/^\ufeff/, '').startsWith('id,published_at,source,brands,author,url'), 'the CSV export has the CLI\'s columns');
  check(csvLines.length - 1 === expected.total, `the CSV export has every hit (${csvLines.length - 1} rows)`);
  await page.locator('#s-range').selectOption('custom');
  await page.locator('#s-from').fill('2026-03-02T10:00');
  await page.locator('#s-to').fill('2026-03-01T10:00');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#s-range-error').filter({ hasText: 'The start of the range must be before its end.' }).waitFor();
  check((await page.locator('#search-summary').innerText()).includes(String(expected.total)), 'a reversed custom range on the search page gets a message and keeps the results');
  await page.locator('#s-range').selectOption('7d');

  step = 'overview';
  await page.locator('#nav').getByRole('link', { name: 'Overview', exact: true }).click();
  const chart = page.locator('#timeline-chart[data-peak-count]');
  await chart.waitFor();
  await page.locator('#timeline-chart canvas').first().waitFor();
  await page.locator('#top-terms table').waitFor();
  const peakStart = await chart.getAttribute('data-peak-start');
  const peakCount = Number(await chart.getAttribute('data-peak-count'));
  const timeline = await api('/api/timeline?interval=hour&from=48h');
  const ordinary = timeline.buckets.filter((bucket) => bucket.start !== peakStart).map((bucket) => bucket.count);
  const apiPeak = timeline.buckets.reduce((best, bucket) => (bucket.count > best.count ? bucket : best));
  check(peakStart === apiPeak.start && peakCount === apiPeak.count, `the chart's peak is the API's busiest hour (${peakCount} at ${peakStart})`);
  check(Date.now() - Date.parse(peakStart) < 3 * 3600 * 1000, 'the peak is the crisis hour (within the last 3 hours)');
  check(peakCount >= 3 * Math.max(...ordinary.slice(0, -2), 1), `the spike stands out (${peakCount} against at most ${Math.max(...ordinary.slice(0, -2))} in ordinary hours)`);
  const negativePeak = timeline.buckets.find((bucket) => bucket.start === peakStart).negative;
  check(negativePeak > peakCount / 2, `the spike is mostly negative (${negativePeak} of ${peakCount})`);
  check((await page.locator('#top-terms').innerText()).match(/explod|recall|爆炸/), 'top terms name what the spike is about');
  await page.locator('.chart-data summary').click();
  const tableCounts = (await page.locator('.chart-data tbody tr td:nth-child(2)').allInnerTexts()).map((text) => Number(text.replace(/\D/g, '')));
  check(Math.max(...tableCounts) === peakCount, `the chart's numbers are readable as a table (largest count ${Math.max(...tableCounts)})`);
  await shot(page, 'desktop-04-overview');

  step = 'custom range';
  // Two hours either side of the peak, typed as the browser's local time.
  const localValue = (ms) => page.evaluate((at) => {
    const date = new Date(at);
    const pad = (n) => String(n).padStart(2, '0');
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }, ms);
  const customFrom = Date.parse(peakStart) - 2 * 3600 * 1000;
  const customTo = Date.parse(peakStart) + 2 * 3600 * 1000;
  const fromValue = await localValue(customFrom);
  const toValue = await localValue(customTo);
  await page.locator('#o-range').selectOption('custom');
  await page.locator('#o-from').fill(toValue);
  await page.locator('#o-to').fill(fromValue);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('#range-error').filter({ hasText: 'The start of the range must be before its end.' }).waitFor();
  check(!page.url().includes('range=custom'), 'a reversed custom range is refused with a clear message, before any request');
  await shot(page, 'desktop-04b-overview-range-error');
  await page.locator('#o-from').fill(fromValue);
  await page.locator('#o-to').fill(toValue);
  await page.getByRole('button', { name: 'Apply' }).click();
  const customTimeline = await api(`/api/timeline?${new URLSearchParams({ interval: 'hour', from: new Date(customFrom).toISOString(), to: new Date(customTo).toISOString() })}`);
  await page.waitForFunction((total) => document.querySelector('#timeline-chart')?.dataset.total === String(total), customTimeline.total);
  const customChart = await page.locator('#timeline-chart').evaluate((box) => ({ ...box.dataset }));
  check(customChart.buckets === String(customTimeline.buckets.length) && customChart.buckets <= 5,
    `the custom range draws its own ${customChart.buckets} hours`);
  check(customChart.peakStart === peakStart && Number(customChart.peakCount) === peakCount, `the spike is the custom range's peak (${customChart.peakCount} at ${customChart.peakStart})`);
  check(/range=custom/.test(page.url()) && /from=/.test(page.url()) && /to=/.test(page.url()), 'the custom range is kept in the URL');
  await shot(page, 'desktop-04c-overview-custom-range');
  await page.reload();
  await page.locator('#timeline-chart canvas').first().waitFor();
  await page.waitForFunction((total) => document.querySelector('#timeline-chart')?.dataset.total === String(total), customTimeline.total);
  check(await page.locator('#o-range').inputValue() === 'custom' && await page.locator('#o-from').inputValue() === fromValue,
    'reloading the URL shows the same custom range');

  step = 'incidents';
  await page.locator('#nav').getByRole('link', { name: 'Incidents', exact: true }).click();
  await page.locator('.incidents-table tbody tr').first().waitFor();
  const deadline = page.locator('.incidents-table .deadline').first();
  await deadline.filter({ hasText: /left/ }).waitFor();
  const before = await deadline.innerText();
  check(/^2[0-3]h \d\dm left$/.test(before), `the 24-hour deadline counts down (${before})`);
  const age = page.locator('.incidents-table [data-since]').first();
  const firstAge = await age.innerText();
  await page.waitForFunction((previous) => document.querySelector('.incidents-table [data-since]').textContent !== previous, firstAge);
  check(true, `the clock ticks in the page (${firstAge} → ${await age.innerText()})`);
  await shot(page, 'desktop-05-incidents');

  const incidents = await api('/api/incidents');
  const target = incidents.find((incident) => incident.rule === 'acme-negative-surge' && incident.status === 'open');
  check(Boolean(target), 'the demo opened an acme-negative-surge incident');
  await page.locator(`a[href="#/incidents/${target.id}"]`).first().click();
  await page.locator('#incident-title').waitFor();
  check((await page.locator('#incident-title').innerText()).includes(`#${target.id}`), 'the detail page opens');
  check(await page.locator('.evidence li').count() === target.evidence.length, `it lists the ${target.evidence.length} evidence posts`);
  check((await page.locator('[data-testid=trigger-value]').innerText()).includes('%'), 'it shows the trigger numbers');
  const detail = await api(`/api/incidents/${target.id}`);
  check(Boolean(detail.script?.body), `the API renders a response script for #${target.id} (${detail.script?.name})`);
  const shownScript = await page.locator('#script-text').textContent();
  check(shownScript === detail.script.body, `the page shows the script exactly as /api/incidents/${target.id} renders it (${shownScript.length} characters)`);
  check((await page.locator('#script-subject').innerText()) === detail.script.subject, 'and the alert subject');
  check(await page.locator('#incident-timeline li[data-kind]').count() === detail.events.length,
    `the timeline lists the API's ${detail.events.length} events (${detail.events.map((e) => e.kind).join(', ')})`);
  check(await page.locator('.notifications-table tbody tr').count() === detail.notifications.length,
    `the notifications table lists the ${detail.notifications.length} notifications with their delivery state`);
  await shot(page, 'desktop-06-incident-detail');

  step = 'copy script';
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await page.evaluate(() => navigator.clipboard.writeText('nothing copied yet'));
  await page.locator('#copy-script').click();
  await page.locator('.copy-status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
  const clipboard = await page.evaluate(() => navigator.clipboard.readText());
  check(clipboard === detail.script.body, 'the copy button puts the script on the clipboard and says so');
  await shot(page, 'desktop-06b-script-copied');
  // Where the Clipboard API refuses (plain http on another host), the button falls
  // back to a textarea and execCommand('copy').
  await page.evaluate(async () => {
    window.realClipboard = navigator.clipboard;
    await navigator.clipboard.writeText('nothing copied yet');
    Object.defineProperty(navigator, 'clipboard', {
      configurable: true,
      value: { writeText: () => Promise.reject(new DOMException('refused', 'NotAllowedError')) },
    });
  });
  await page.locator('#copy-script').click();
  await page.waitForFunction(async (body) => (await window.realClipboard.readText()) === body, detail.script.body);
  check((await page.locator('.copy-status').innerText()) === 'Copied to the clipboard.', 'without the Clipboard API the fallback copies the script too');
  await page.evaluate(() => { delete navigator.clipboard; });

  step = 'acknowledge';
  await page.locator('#i-note').fill('Looking into it (e2e)');
  await page.getByRole('button', { name: `Acknowledge #${target.id}` }).click();
  await page.locator('.notice-success').filter({ hasText: `#${target.id} acknowledged` }).waitFor();
  await page.locator('.incident-head .status-acknowledged').waitFor();
  check((await page.locator('.incident-head').innerText()).includes(`Acknowledged by ${RESPONDER.name}`), 'the page shows who acknowledged');
  const ackEvent = page.locator('#incident-timeline li[data-kind=acknowledged]');
  await ackEvent.waitFor();
  const ackText = await ackEvent.innerText();
  check(ackText.includes(`Acknowledged by ${RESPONDER.name}`) && ackText.includes('Looking into it (e2e)'), `the timeline shows the acknowledgement by the responder, with the note (${ackText.replace(/\s+/g, ' ')})`);
  const afterAck = await api(`/api/incidents/${target.id}`);
  const lastKinds = (await page.locator('#incident-timeline li[data-kind]').evaluateAll((items) => items.map((item) => item.dataset.kind)));
  check(JSON.stringify(lastKinds) === JSON.stringify(afterAck.events.map((e) => e.kind)), 'the timeline matches the API\'s events, oldest first');
  await shot(page, 'desktop-07-incident-acknowledged');

  step = 'resolve';
  const spike = incidents.find((incident) => incident.rule === 'acme-volume-spike' && incident.status === 'open');
  check(Boolean(spike), 'the demo opened an acme-volume-spike incident');
  await page.locator('#nav').getByRole('link', { name: 'Incidents', exact: true }).click();
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: `Resolve #${spike.id}` }).click();
  await page.locator('.notice-success').filter({ hasText: `#${spike.id} resolved` }).waitFor();
  await page.locator(`.incidents-table tr:has(a[href="#/incidents/${spike.id}"]) .status-resolved`).waitFor();
  check(true, `a responder resolves #${spike.id} from the list`);

  step = 'sources';
  await page.locator('#nav').getByRole('link', { name: 'Sources', exact: true }).click();
  await page.locator('.sources-table tbody tr').first().waitFor();
  check(await page.locator('.sources-table tbody tr').count() === 3, 'the health table lists the demo\'s 3 sources');
  await shot(page, 'desktop-08-sources');

  step = 'viewer';
  const refusals = [];
  const onResponse = (response) => { if (response.status() === 403) refusals.push(response.url()); };
  page.on('response', onResponse);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, VIEWER.token);
  await page.locator('#who').filter({ hasText: VIEWER.name }).waitFor();
  check((await page.locator('#who').innerText()).includes('viewer'), 'the header says the viewer token is a viewer');
  await page.locator('#nav').getByRole('link', { name: 'Incidents', exact: true }).click();
  await page.locator('.incidents-table tbody tr').first().waitFor();
  check(await page.locator('.incidents-table button[data-action]').count() === 0, 'a viewer sees no acknowledge / resolve buttons in the list');
  await shot(page, 'desktop-09-viewer-incidents');
  await page.locator(`a[href="#/incidents/${target.id}"]`).first().click();
  await page.locator('#script-text').waitFor();
  check(await page.locator('#incident-detail button[data-action], #i-note').count() === 0, 'nor on the detail page (which still shows the script)');
  check(refusals.length === 0, 'without a single 403 from the API');
  await shot(page, 'desktop-09b-viewer-incident-detail');

  step = 'stale role';
  // The role as the page knew it says responder (a token demoted since sign-in): the
  // API's 403 still ends in a clear message and the buttons go.
  await page.evaluate(async (name) => {
    const { session } = await import('/assets/api.js');
    session.caller = { name, role: 'responder', tokens_configured: true };
  }, VIEWER.name);
  await page.locator('#nav').getByRole('link', { name: 'Incidents', exact: true }).click();
  const resolve = page.locator('.incidents-table button[data-action=resolve]').first();
  await resolve.waitFor();
  page.once('dialog', (dialog) => dialog.accept());
  await resolve.click();
  await page.locator('.notice-error').filter({ hasText: /may not do this/ }).waitFor();
  check(refusals.length === 1 && await page.locator('.incidents-table button[data-action]').count() === 0, 'after a 403 the responder buttons are gone');
  await page.locator('#who[data-role=viewer]').waitFor();
  check(true, 'and the header asks /api/whoami again: viewer');
  page.off('response', onResponse);
  await shot(page, 'desktop-10-viewer-forbidden');

  step = 'expired token';
  await page.evaluate(() => sessionStorage.setItem('vigil.token', 'revoked-token'));
  await page.reload();
  await page.locator('#login-error').filter({ hasText: /unknown or has expired/ }).waitFor();
  check(true, 'a stored token the daemon no longer knows leads back to sign-in with a message');
  await shot(page, 'desktop-11-expired-token');
  check(!(page.consoleErrors || []).length, `no console errors on desktop (${(page.consoleErrors || []).join(' | ')})`);
  await page.close();

  step = 'phone';
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, locale: 'en-GB' });
  const mobile = await phone.newPage();
  watch(mobile, 'phone');
  await mobile.goto(`${base}/`);
  await shot(mobile, 'phone-01-login');
  await signIn(mobile, RESPONDER.token);
  await mobile.locator('#hits li').first().waitFor();
  await noHorizontalScroll(mobile, 'search');
  await shot(mobile, 'phone-02-search');
  for (const [name, ready] of [['overview', '#timeline-chart canvas'], ['incidents', '.incidents-table tbody tr'], ['sources', '.sources-table tbody tr']]) {
    await mobile.goto(`${base}/#/${name}`);
    await mobile.locator(ready).first().waitFor();
    await mobile.waitForTimeout(300);
    await noHorizontalScroll(mobile, name);
    await shot(mobile, `phone-0${['overview', 'incidents', 'sources'].indexOf(name) + 3}-${name}`);
  }
  await mobile.goto(`${base}/#/incidents/${target.id}`);
  await mobile.locator('#script-text').waitFor();
  await noHorizontalScroll(mobile, 'incident detail');
  await shot(mobile, 'phone-06-incident-detail');
  await mobile.goto(`${base}/#/incidents/${spike.id}`);
  await mobile.locator('#script-text, #response-script, #incident-timeline').first().waitFor();
  await noHorizontalScroll(mobile, 'resolved incident detail');
  await shot(mobile, 'phone-07-incident-resolved');
  await mobile.goto(`${base}/#/overview?range=custom&from=${encodeURIComponent(fromValue)}&to=${encodeURIComponent(toValue)}`);
  await mobile.waitForFunction((total) => document.querySelector('#timeline-chart')?.dataset.total === String(total), customTimeline.total);
  await mobile.locator('#timeline-chart canvas').first().waitFor();
  await noHorizontalScroll(mobile, 'overview with a custom range');
  await shot(mobile, 'phone-08-overview-custom-range');
  check(!(mobile.consoleErrors || []).length, `no console errors on the phone (${(mobile.consoleErrors || []).join(' | ')})`);
  await phone.close();

  step = 'chinese';
  const chinese = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const zh = await chinese.newPage();
  watch(zh, 'zh');
  await zh.goto(`${base}/`);
  await zh.locator('#login-title').filter({ hasText: '登录 Vigil' }).waitFor();
  check(true, 'a Chinese browser gets the Chinese sign-in page');
  await signIn(zh, RESPONDER.token);
  await zh.locator('#hits li').first().waitFor();
  check((await zh.locator('nav').innerText()).includes('事件'), 'navigation is in Chinese');
  await shot(zh, 'desktop-zh-01-search');
  await zh.goto(`${base}/#/incidents`);
  await zh.locator('.incidents-table .deadline').filter({ hasText: /还剩|已完成/ }).first().waitFor();
  await shot(zh, 'desktop-zh-02-incidents');
  await zh.goto(`${base}/#/overview`);
  await zh.locator('#timeline-chart canvas').first().waitFor();
  await shot(zh, 'desktop-zh-03-overview');
  await zh.goto(`${base}/#/incidents/${target.id}`);
  await zh.locator('#script-text').waitFor();
  check((await zh.locator('#incident-timeline').innerText()).includes(`${RESPONDER.name} 确认`), 'the Chinese timeline names the responder');
  await shot(zh, 'desktop-zh-04-incident-detail');
  await zh.goto(`${base}/#/overview?range=custom&from=${encodeURIComponent(toValue)}&to=${encodeURIComponent(fromValue)}`);
  await zh.locator('#range-error').filter({ hasText: '开始时间必须早于结束时间' }).waitFor();
  check(true, 'a reversed range in the URL gets the Chinese message');
  await shot(zh, 'desktop-zh-05-overview-range-error');
  await chinese.close();

  step = 'cli';
  const { stdout } = await promisify(execFile)(vigilBin, ['incidents', 'list', '--format', 'json', '--config', config]);
  const listed = JSON.parse(stdout).find((incident) => incident.id === target.id);
  check(listed.status === 'acknowledged', `vigil incidents list shows #${target.id} acknowledged`);
  check(listed.acknowledged_by === RESPONDER.name, `acknowledged_by is the token's name (${listed.acknowledged_by})`);
  const resolved = JSON.parse(stdout).find((incident) => incident.id === spike.id);
  check(resolved.status === 'resolved' && resolved.resolved_by === RESPONDER.name, `vigil incidents list shows #${spike.id} resolved by ${resolved.resolved_by}`);
  await stop(daemon);
}

try {
  await main();
  log(`PASS: ${checks} checks; screenshots in ${output}`);
} catch (error) {
  console.error(`[e2e] FAIL: ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  for (const child of children) await stop(child);
  rmSync(work, { recursive: true, force: true });
}
