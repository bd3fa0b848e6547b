// `allsource core` as a real child process, and the admin commands against it: tenants create and
// list, keys create (printed once; --json), list and revoke; the key works through curl-style HTTP
// and stops working when revoked; SIGTERM stops the Core cleanly; a missing admin key is refused;
// tenants quota shows and sets a tenant's daily quota of tool calls.

import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startCoreProcess } from './helpers/coreServer.js';
import { runCli } from './helpers/runCli.js';

const ADMIN = 'cli-admin-key-0123456789abcdef';

describe('allsource core (CLI)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  /** A fresh data directory served by a real `allsource core` child, removed (and the child killed) after the test. */
  const runningCore = async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'allsource-core-cli-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = { PATH: process.env.PATH, HOME: dataDir, ALLSOURCE_ADMIN_KEY: ADMIN };
    const core = await startCoreProcess(dataDir, env);
    cleanup.push(async () => {
      if (core.child.exitCode === null) core.child.kill('SIGKILL');
    });
    return { dataDir, env, core, at: ['--core', core.url] };
  };

  it('serves a data directory; tenants and keys are managed from the command line', async () => {
    const { dataDir, env, core, at } = await runningCore();

    expect(await runCli(['tenants', 'create', 'acme', ...at], env)).toMatchObject({ code: 0, stdout: 'created tenant acme\n' });
    const again = await runCli(['tenants', 'create', 'acme', ...at], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: conflict: tenant "acme" already exists/);

    const created = await runCli(['keys', 'create', '--tenant', 'acme', '--json', ...at], env);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { key: string; key_id: string; tenant: string };
    expect(Object.keys(key).sort()).toEqual(['key', 'key_id', 'read_only', 'tenant']);
    expect(key.tenant).toBe('acme');
    const noTenant = await runCli(['keys', 'create', ...at], env);
    expect(noTenant.code).toBe(2);
    expect(noTenant.stderr).toContain('--tenant');

    const ro = await runCli(['keys', 'create', '--tenant', 'acme', '--read-only', ...at], env);
    expect(ro.stdout).toMatch(/^as_live_[0-9a-f]{12}_\S{43}\n$/);
    expect(ro.stderr).toMatch(/not shown again/);

    const listed = await runCli(['keys', 'list', '--tenant', 'acme', ...at], env);
    expect(listed.stdout.trim().split('\n')).toHaveLength(2);
    expect(listed.stdout).toContain(key.key_id);
    expect(listed.stdout).not.toContain(key.key.slice(21));
    expect((await runCli(['tenants', 'list', '--json', ...at], env)).stdout).toContain('"active_keys": 2');

    const statsUrl = `${core.url}/api/v1/tenants/acme/stats`;
    const append = await request(`${core.url}/api/v1/tenants/acme/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ entity_id: 'user-1', event_type: 'user.signed_up', payload: { plan: 'pro' } }),
    });
    expect(append.statusCode).toBe(201);
    await append.body.text();
    const stats = await request(statsUrl, { headers: { authorization: `Bearer ${key.key}` } });
    expect(await stats.body.json()).toMatchObject({ tenant_id: 'acme', events: 1 });

    // The store commands against the Core instead of a data directory, with the tenant key.
    const remote = { ...env, ALLSOURCE_KEY: key.key };
    const ingested = await runCli(['ingest', '-', '--tenant', 'acme', ...at], remote, '{"entity_id":"user-2","event_type":"user.signed_up","payload":{"plan":"free"}}\n{"entity_id":"user-2","event_type":"user.upgraded","payload":{"plan":"pro"}}\n');
    expect(ingested.code, ingested.stderr).toBe(0);
    expect(JSON.parse((await runCli(['state', 'user-2', '--tenant', 'acme', '--json', ...at], remote)).stdout)).toMatchObject({ state: { plan: 'pro' }, version: 2 });
    expect((await runCli(['query', '--tenant', 'acme', '--entity', 'user-2', '--json', ...at], remote)).stdout).toContain('user.upgraded');
    const called = await runCli(['call', 'prime_add_node', '{"type":"note","properties":{"text":"from the CLI"}}', '--tenant', 'acme', ...at], remote);
    expect(called.code, called.stderr).toBe(0);
    expect(JSON.parse((await runCli(['call', 'prime_stats', '--tenant', 'acme', ...at], remote)).stdout)).toMatchObject({ nodes: 1 });
    const elsewhere = await runCli(['stats', '--tenant', 'other', ...at], remote);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/^error: not_found/);

    expect((await runCli(['keys', 'revoke', key.key_id, ...at], env)).stdout).toMatch(/^revoked key/);
    const after = await request(statsUrl, { headers: { authorization: `Bearer ${key.key}` } });
    expect(after.statusCode).toBe(401);
    await after.body.text();

    const withoutKey = await runCli(['tenants', 'list', '--core', core.url.replace('127.0.0.1', 'localhost')], { PATH: process.env.PATH, HOME: dataDir });
    expect(withoutKey.code).toBe(1);
    expect(withoutKey.stderr).toMatch(/^error: unauthorized/);

    // The key digests are under a secret kept owner-only in the data directory.
    expect((await stat(join(dataDir, 'key-secret'))).mode & 0o777).toBe(0o600);

    const exited = new Promise<number | null>((resolve) => core.child.on('exit', resolve));
    core.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(core.stdout(), 'the Core writes nothing to stdout').toBe('');
    expect(core.stderr()).toContain('core stopped');
  }, 60_000);

  it('tenants quota shows a daily quota, sets it with --daily or --unlimited, and refuses bad values', async () => {
    const { env, core, at } = await runningCore();
    await runCli(['tenants', 'create', 'acme', ...at], env);

    expect(await runCli(['tenants', 'quota', 'acme', ...at], env)).toMatchObject({ code: 0, stdout: 'tenant acme: unlimited\n' });
    const set = await runCli(['tenants', 'quota', 'acme', '--daily', '100', ...at], env);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^tenant acme: 100 tool calls per day, 0 leased today \(resets \d{4}-\d{2}-\d{2}T00:00:00\.000Z\)\n$/);
    // Leases (what the MCP edges take) show up in the count.
    const lease = await request(`${core.url}/api/v1/admin/tenants/acme/quota/lease`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{"calls":30}' });
    expect(await lease.body.json()).toMatchObject({ granted: 30 });
    const shown = JSON.parse((await runCli(['tenants', 'quota', 'acme', '--json', ...at], env)).stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ tenant: 'acme', daily_tool_calls: 100, leased_today: 30, remaining_today: 70 });
    expect(Object.keys(shown).sort()).toEqual(['daily_tool_calls', 'day', 'leased_today', 'remaining_today', 'resets_at', 'tenant']);
    expect((await runCli(['tenants', 'quota', 'acme', '--unlimited', ...at], env)).stdout).toBe('tenant acme: unlimited\n');

    for (const bad of [['--daily', '-1'], ['--daily', 'many'], ['--daily', '5', '--unlimited']]) {
      const refused = await runCli(['tenants', 'quota', 'acme', ...bad, ...at], env);
      expect(refused.code, bad.join(' ')).toBe(2);
    }
    const unknown = await runCli(['tenants', 'quota', 'nobody', '--daily', '5', ...at], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: not_found: tenant "nobody" does not exist/);
    expect((await runCli(['tenants', 'quota', 'acme', '--json', ...at], env)).stdout).toContain('"daily_tool_calls": null');
  }, 60_000);

  it('refuses to start without ALLSOURCE_ADMIN_KEY unless --insecure-local, which binds loopback only', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'allsource-core-cli-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = { PATH: process.env.PATH, HOME: dataDir };
    const refused = await runCli(['core', '--data', dataDir, '--port', '0'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: invalid: ALLSOURCE_ADMIN_KEY: is not set/);
    const wide = await runCli(['core', '--data', dataDir, '--port', '0', '--insecure-local', '--host', '0.0.0.0'], env);
    expect(wide.code).toBe(1);
    expect(wide.stderr).toMatch(/loopback only/);
  });
});
