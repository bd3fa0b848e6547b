// The web console end to end: a real server on 127.0.0.1:0 (the local `allsource console` one,
// and the one-box `allsource serve --data` binary with tenant keys), events and a Prime graph
// written through the public APIs, and Debian's chromium driven by playwright-core through the
// console as a person would: scrub the time slider back and see the old state (and the diff), open
// a node of the graph, run a recall and read each hit's score parts, load 100k events into the
// virtualized list. Without chromium the suite is skipped with a warning, unless
// ALLSOURCE_REQUIRE_BROWSER=1 (CI), where it fails.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalConsole, type LocalConsole } from '../transports/localConsole.js';
import { seedConsoleDemo, type SeededTimeline } from './helpers/consoleSeed.js';
import { startAllsource, startCoreProcess, TEST_ADMIN_KEY, type AllsourceProcess } from './helpers/coreServer.js';
import { childEnvIn } from './helpers/runCli.js';
import { CHROMIUM, haveChromium, launchChromium } from './helpers/browser.js';

const haveBrowser = haveChromium();
if (!haveBrowser) {
  if (process.env.ALLSOURCE_REQUIRE_BROWSER === '1') throw new Error(`ALLSOURCE_REQUIRE_BROWSER=1 but there is no chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  console.warn(`\n*** console e2e SKIPPED: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH) ***\n`);
}

const BULK = 100_000;

describe.skipIf(!haveBrowser)('web console (chromium)', () => {
  let browser: Browser;
  let dataDir: string;
  let server: LocalConsole;
  let timeline: SeededTimeline;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'allsource-console-e2e-'));
    [browser, server] = await Promise.all([launchChromium(), startLocalConsole({ dataDir, tenant: 'default', port: 0, logger: false })]);
    timeline = await seedConsoleDemo(server.url, { bulkEvents: BULK });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => errors.push(err.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('opens with no key on a local server and shows live stats and integrity', async () => {
    await page.goto(`${server.url}/console/`);
    await expect.poll(() => page.getByTestId('tenant').textContent()).toBe('default');
    const stats = (await (await fetch(`${server.url}/api/v1/tenants/default/stats`)).json()) as { events: number };
    await expect.poll(() => page.getByTestId('stat-events').textContent()).toBe(stats.events.toLocaleString('en-US'));
    await expect.poll(() => page.getByTestId('integrity').textContent(), { timeout: 15_000 }).toContain('Chain intact');
    // Live: a new event shows without a reload.
    await fetch(`${server.url}/api/v1/tenants/default/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ entity_id: 'late', event_type: 'late.arrived', payload: {} }) });
    await expect.poll(() => page.getByTestId('stat-events').textContent(), { timeout: 5000 }).toBe((stats.events + 1).toLocaleString('en-US'));
  });

  it('scrubs the time slider back to an old state, and lists what changed since', async () => {
    await page.goto(`${server.url}/console/#/timeline/user-1`);
    const state = page.getByTestId('state-at');
    await expect.poll(() => state.textContent()).toContain('Lisbon');
    const slider = page.locator('#at');
    await slider.focus();
    await page.keyboard.press('Home');
    await expect.poll(async () => JSON.parse((await state.textContent()) ?? 'null')).toEqual(timeline.states[0].state);
    await page.keyboard.press('ArrowRight');
    await expect.poll(async () => JSON.parse((await state.textContent()) ?? 'null')).toEqual(timeline.states[1].state);
    // An exact instant before the first event: the entity did not exist yet.
    await page.locator('input[name=exact]').fill('2000-01-01T00:00:00.000');
    await expect.poll(() => page.getByRole('region', { name: /^State as of/ }).textContent()).toContain('did not exist yet');
    await slider.focus();
    await page.keyboard.press('End');
    await expect.poll(async () => JSON.parse((await state.textContent()) ?? 'null')).toEqual(timeline.states[2].state);
    await page.getByLabel('Compare with an earlier instant').check();
    await page.locator('#from').focus();
    await page.keyboard.press('Home');
    const diff = page.getByTestId('diff');
    await expect.poll(() => diff.textContent()).toContain('address.city: "London" → "Lisbon"');
    expect(await diff.textContent()).toContain('plan: "free" → "pro"');
  });

  it('draws the Prime graph and opens a node: details, neighbours, history', async () => {
    await page.goto(`${server.url}/console/#/graph`);
    const list = page.getByRole('list', { name: 'Nodes in the graph' });
    await expect.poll(() => list.getByRole('button').count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(5);
    await expect.poll(() => page.locator('.sigma canvas').count()).toBeGreaterThan(0);
    await list.getByRole('button', { name: 'Ada person', exact: true }).click();
    const details = page.getByTestId('node-details');
    await expect.poll(() => details.locator('h2').textContent()).toBe('Ada');
    expect(await details.locator('pre').textContent()).toContain('"role": "engineer"');
    await expect.poll(() => page.getByTestId('neighbors').textContent()).toContain('Lisbon');
    expect(await page.getByTestId('neighbors').textContent()).toContain('works_at');
    await expect.poll(() => page.getByTestId('history').textContent()).toContain('prime.node.updated');
  });

  it('runs a recall and shows each hit with its score parts and retrieval labels', async () => {
    await page.goto(`${server.url}/console/#/recall`);
    await page.getByLabel('Question').fill('where does Ada live now?');
    await page.getByRole('button', { name: 'Recall' }).click();
    const hits = page.getByTestId('recall-hits').locator('li.hit');
    await expect.poll(() => hits.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    const first = hits.first();
    const parts = await first.getByTestId('score-parts').locator('dt').allTextContents();
    expect(parts).toEqual(['semantic', 'lexical', 'graph', 'recency', 'importance']);
    expect(await first.locator('.tag').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('recall-hits').textContent()).toMatch(/Lisbon/);
  });

  it('queries by entity and payload, and keeps 100k events in a virtualized list', async () => {
    await page.goto(`${server.url}/console/#/events`);
    await page.getByLabel('Entity', { exact: true }).fill('order-7');
    await page.getByLabel('Path').fill('status');
    await page.getByLabel('Value').fill('"paid"');
    await page.getByRole('button', { name: 'Run query' }).click();
    let expected = 0;
    for (let i = 7; i < BULK; i += 500) if (i % 3 === 1) expected++;
    await expect.poll(() => page.getByTestId('result-count').textContent()).toBe(`${expected} events`);

    await page.getByRole('button', { name: 'Clear' }).click();
    const stats = (await (await fetch(`${server.url}/api/v1/tenants/default/stats`)).json()) as { events: number };
    const started = Date.now();
    await page.getByRole('button', { name: 'Load all' }).click();
    await expect.poll(() => page.getByTestId('result-count').textContent(), { timeout: 30_000 }).toBe(`${stats.events.toLocaleString('en-US')} events`);
    const loadMs = Date.now() - started;
    const list = page.getByRole('listbox');
    // Only what is in view is in the DOM, whatever the count.
    expect(await list.getByRole('option').count()).toBeLessThan(60);
    await list.focus();
    const t0 = Date.now();
    await page.keyboard.press('End');
    await expect.poll(() => list.locator('[aria-selected="true"]').getAttribute('aria-posinset')).toBe(String(stats.events));
    await page.keyboard.press('ArrowUp');
    await expect.poll(() => list.locator('[aria-selected="true"]').getAttribute('aria-posinset')).toBe(String(stats.events - 1));
    const jumpMs = Date.now() - t0;
    expect(await list.getByRole('option').count()).toBeLessThan(60);
    expect(await page.getByRole('complementary', { name: 'Selected event' }).textContent()).toContain('position');
    expect(jumpMs).toBeLessThan(2000);
    console.log(`console e2e: ${stats.events} events loaded into the list in ${loadMs} ms; End + ArrowUp answered in ${jumpMs} ms`);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe.skipIf(!haveBrowser)('web console on a hosted server (chromium)', () => {
  let browser: Browser;
  let dataDir: string;
  let serve: AllsourceProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'allsource-console-hosted-'));
    [browser, serve] = await Promise.all([launchChromium(), startAllsource(['--data', dataDir, 'serve', '--port', '0'], { ...childEnvIn(dataDir), ALLSOURCE_ADMIN_KEY: TEST_ADMIN_KEY }, (stderr) => /MCP on (http:\/\/\S+)\/mcp/.exec(stderr)?.[1])]);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    serve?.child.kill('SIGTERM');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('signs in with a tenant key (a wrong one is refused) and reads that tenant through REST and MCP', async () => {
    const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' };
    await fetch(`${serve.url}/api/v1/admin/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ tenant: 'acme' }) });
    const created = (await (await fetch(`${serve.url}/api/v1/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ tenant: 'acme' }) })).json()) as { key: string };
    expect(created.key).toMatch(/^as_live_/);
    await seedConsoleDemo(serve.url, { key: created.key, tenant: 'acme', bulkEvents: 10 });

    const page = await browser.newPage();
    await page.goto(`${serve.url}/console/`);
    await page.getByLabel('Key', { exact: true }).fill('as_live_not-a-real-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
    await page.getByLabel('Key', { exact: true }).fill(created.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByTestId('tenant').textContent()).toBe('acme');
    await expect.poll(() => page.getByTestId('prime-nodes').textContent()).toBe('6');
    await page.goto(`${serve.url}/console/#/timeline/user-1`);
    await expect.poll(() => page.getByTestId('state-at').textContent()).toContain('Lisbon');
    await page.close();
  });
});

describe.skipIf(!haveBrowser)('web console on MCP-only and REST-only servers (chromium)', () => {
  let browser: Browser;
  const dirs: string[] = [];
  const children: AllsourceProcess[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    for (const child of children) child.child.kill('SIGTERM');
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const dataDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allsource-console-modes-'));
    dirs.push(dir);
    return dir;
  };

  it('on `serve --local` (no REST API) reads the log through the MCP event tools', async () => {
    const dir = await dataDir();
    const serve = await startAllsource(['--data', dir, 'serve', '--local', '--port', '0'], childEnvIn(dir), (stderr) => /MCP on (http:\/\/\S+)\/mcp/.exec(stderr)?.[1]);
    children.push(serve);
    expect((await fetch(`${serve.url}/api/v1/tenants/default/stats`)).status).toBe(404);
    const seeded = await seedConsoleDemo(serve.url, { via: 'mcp', bulkEvents: 10 });
    const page = await browser.newPage();
    await page.goto(`${serve.url}/console/#/timeline/user-1`);
    const state = page.getByTestId('state-at');
    await expect.poll(() => state.textContent()).toContain('Lisbon');
    await page.locator('#at').focus();
    await page.keyboard.press('Home');
    await expect.poll(async () => JSON.parse((await state.textContent()) ?? 'null')).toEqual(seeded.states[0].state);
    await page.goto(`${serve.url}/console/#/overview`);
    await expect.poll(() => page.getByTestId('integrity').textContent()).toContain('Chain intact');
    await expect.poll(() => page.getByTestId('prime-nodes').textContent()).toBe('6');
    await page.close();
  });

  it('on `serve --core URL` (MCP only, tenant keys) signs in with a key and learns its tenant from the tools', async () => {
    const dir = await dataDir();
    const env = { ...childEnvIn(dir), ALLSOURCE_ADMIN_KEY: TEST_ADMIN_KEY };
    const core = await startCoreProcess(dir, env);
    children.push(core);
    const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' };
    await fetch(`${core.url}/api/v1/admin/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ tenant: 'edge-co' }) });
    const { key } = (await (await fetch(`${core.url}/api/v1/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ tenant: 'edge-co' }) })).json()) as { key: string };
    const serve = await startAllsource(['serve', '--core', core.url, '--port', '0'], env, (stderr) => /MCP on (http:\/\/\S+)\/mcp/.exec(stderr)?.[1]);
    children.push(serve);
    await seedConsoleDemo(serve.url, { via: 'mcp', key, bulkEvents: 10 });
    const page = await browser.newPage();
    await page.goto(`${serve.url}/console/`);
    await expect.poll(() => page.getByLabel('Tenant', { exact: false }).count()).toBe(0);
    await page.getByLabel('Key', { exact: true }).fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByTestId('tenant').textContent()).toBe('edge-co');
    await expect.poll(() => page.getByTestId('stat-entities').textContent()).not.toBe('—');
    await page.goto(`${serve.url}/console/#/recall`);
    await page.getByLabel('Question').fill('Lisbon');
    await page.getByRole('button', { name: 'Recall' }).click();
    await expect.poll(() => page.getByTestId('recall-hits').locator('li.hit').count()).toBeGreaterThan(0);
    await page.close();
  });

  it('on `core --insecure-local` (no MCP) serves the event views and says why Prime is missing', async () => {
    const dir = await dataDir();
    const core = await startCoreProcess(dir, childEnvIn(dir), ['--insecure-local']);
    children.push(core);
    const config = (await (await fetch(`${core.url}/console/config.json`)).json()) as Record<string, unknown>;
    expect(config).toEqual({ auth: 'none', tenant: 'default', rest: true, mcp: false });
    await fetch(`${core.url}/api/v1/tenants/default/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada' } }) });
    const page = await browser.newPage();
    await page.goto(`${core.url}/console/`);
    await expect.poll(() => page.getByTestId('stat-events').textContent()).toBe('1');
    await expect.poll(() => page.locator('main').textContent()).toContain('no MCP endpoint');
    await page.close();
  });
});
