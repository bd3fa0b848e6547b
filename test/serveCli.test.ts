// `allsource serve` as a real child process: `--local` (no key, loopback only) and `--data` (one
// box: the Core API and /mcp on one port, keys made with `allsource keys create` against it),
// each driven by a real MCP client over streamable HTTP, and stopped with SIGTERM.

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startAllsource } from './helpers/coreServer.js';
import { runCli } from './helpers/runCli.js';

const ADMIN = 'serve-admin-key-0123456789abcdef';

function startServe(args: string[], env: NodeJS.ProcessEnv) {
  return startAllsource(['serve', '--port', '0', ...args], env, (stderr) => /MCP on (http:\/\/\S+)\/mcp/.exec(stderr)?.[1]);
}

async function mcp(url: string, key?: string): Promise<Client> {
  const client = new Client({ name: 'serve-cli-test', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: key ? { authorization: `Bearer ${key}` } : {} } }));
  return client;
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}

describe('allsource serve (CLI)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  const dataDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'allsource-serve-cli-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  it('--local serves the default tenant with no key, and refuses a non-loopback host', async () => {
    const dir = await dataDir();
    const env = { PATH: process.env.PATH, HOME: dir };
    const refused = await runCli(['serve', '--local', '--data', dir, '--host', '0.0.0.0'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/loopback only/);

    const serve = await startServe(['--local', '--data', dir], env);
    cleanup.push(async () => void (serve.child.exitCode === null && serve.child.kill('SIGKILL')));
    const client = await mcp(serve.url);
    await client.callTool({ name: 'ingest_event', arguments: { entity_id: 'user-1', event_type: 'user.signed_up', payload: { plan: 'pro' } } });
    const state = await client.callTool({ name: 'reconstruct_state', arguments: { entity_id: 'user-1' } });
    expect(state.structuredContent).toMatchObject({ state: { plan: 'pro' } });
    await client.close();
    expect(await stop(serve.child)).toBe(0);
    expect(serve.stdout()).toBe('');
    // What it wrote is in the data directory, tenant default.
    const query = await runCli(['query', '--data', dir, '--json'], env);
    expect(query.stdout).toContain('user.signed_up');
  }, 60_000);

  it('--data serves the Core API and /mcp on one port; keys made against it work for MCP', async () => {
    const dir = await dataDir();
    const env = { PATH: process.env.PATH, HOME: dir, ALLSOURCE_ADMIN_KEY: ADMIN };
    const serve = await startServe(['--data', dir], env);
    cleanup.push(async () => void (serve.child.exitCode === null && serve.child.kill('SIGKILL')));
    expect((await runCli(['tenants', 'create', 'acme', '--core', serve.url], env)).code).toBe(0);
    const key = (await runCli(['keys', 'create', '--tenant', 'acme', '--core', serve.url], env)).stdout.trim();
    await expect(mcp(serve.url, 'as_live_000000000000_' + 'x'.repeat(43))).rejects.toThrow();
    const client = await mcp(serve.url, key);
    const node = await client.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: 'served from one box' } } });
    expect(node.isError).toBeFalsy();
    const stats = await client.callTool({ name: 'prime_stats', arguments: {} });
    expect(stats.structuredContent).toMatchObject({ nodes: 1 });
    // A daily quota set with the CLI holds for this box's MCP edge (two calls made so far; a
    // quota is checked within 5 s, and a fresh tenant's first lease asks the Core at once).
    expect((await runCli(['tenants', 'create', 'metered', '--core', serve.url], env)).code).toBe(0);
    expect((await runCli(['tenants', 'quota', 'metered', '--daily', '2', '--core', serve.url], env)).stdout).toMatch(/2 tool calls per day/);
    const meteredKey = (await runCli(['keys', 'create', '--tenant', 'metered', '--core', serve.url], env)).stdout.trim();
    const metered = await mcp(serve.url, meteredKey);
    for (let i = 0; i < 2; i++) expect((await metered.callTool({ name: 'prime_stats', arguments: {} })).isError).toBeFalsy();
    await expect(metered.callTool({ name: 'prime_stats', arguments: {} })).rejects.toThrow(/429|daily quota/);
    expect((await runCli(['tenants', 'quota', 'metered', '--core', serve.url, '--json'], env)).stdout).toMatch(/"leased_today": ?2/);
    await metered.close();
    await client.close();
    expect(await stop(serve.child)).toBe(0);
  }, 60_000);
});
