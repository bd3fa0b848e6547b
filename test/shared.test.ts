// One memory shared by several local processes, torn down the hard way: three `allsource mcp`
// processes on one data directory, each driven by a real MCP client over stdio, write at once;
// the holder is killed with kill -9 mid-run, one of the others takes the directory over, and a
// new process joins; after several rounds every acknowledged write is in the log exactly once and
// nothing is duplicated. Also: a clean exit of the holder, a follower started while the holder
// is still recovering a big log, stale sockets and locks, and a socket of another user refused.
// ALLSOURCE_SHARED_ROUNDS sets the rounds (the soak script runs more).

import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { openEmbeddedCore } from '../src/core/embedded/index.js';
import { lockHolder } from '../src/core/embedded/lock.js';
import { openSharedCore } from '../src/core/shared/sharedCore.js';
import { BIN, childEnvIn, runCli } from './helpers/runCli.js';

const ROUNDS = Number(process.env.ALLSOURCE_SHARED_ROUNDS ?? 3);
const IN_FLIGHT = 8;
const root = mkdtempSync(join(tmpdir(), 'allsource-shared-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const childEnv = (): Record<string, string> => childEnvIn(root);

interface Window {
  name: string;
  client: Client;
  pid: number;
  stderr: () => string;
}

let windows = 0;
async function openWindow(dataDir: string): Promise<Window> {
  const name = `w${++windows}`;
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--data', dataDir], env: childEnv(), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name, version: '0' });
  await client.connect(transport);
  return { name, client, pid: transport.pid!, stderr: () => stderr };
}

async function sharingOf(w: Window): Promise<{ role: string; pid: number; holder_pid: number }> {
  const r = (await w.client.callTool({ name: 'get_cluster_status', arguments: {} })) as CallToolResult;
  return (r.structuredContent as { core: { sharing: { role: string; pid: number; holder_pid: number } } }).core.sharing;
}

/** Writes `tick` events as fast as it can until stopped; remembers which were acknowledged. */
function writer(w: Window, acked: Set<string>, failures: string[]) {
  let running = true;
  let seq = 0;
  let afterKill = 0;
  // Several calls in flight per window, so the kill lands on appends written but not yet answered.
  const loop = async (): Promise<void> => {
    while (running) {
      const key = `${w.name}:${seq++}`;
      try {
        const r = (await w.client.callTool({ name: 'ingest_event', arguments: { entity_id: `writer-${w.name}`, event_type: 'tick', payload: { key } } })) as CallToolResult;
        if (r.isError) failures.push(`${key}: ${JSON.stringify(r.content).slice(0, 200)}`);
        else {
          acked.add(key);
          afterKill++;
        }
      } catch {
        // This window's server is gone (killed): its client can write no more.
        return;
      }
    }
  };
  const done = Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  return {
    stop: async () => {
      running = false;
      await done;
    },
    resetCount: () => (afterKill = 0),
    acksSinceReset: () => afterKill,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('one data directory, several processes', () => {
  it(`keeps every acknowledged write exactly once when the holder is killed (${ROUNDS} rounds), and the survivors keep writing`, async () => {
    const dataDir = join(root, 'kill');
    const acked = new Set<string>();
    const failures: string[] = [];
    let live: Window[] = [];
    for (let i = 0; i < 3; i++) live.push(await openWindow(dataDir));
    let writers = live.map((w) => ({ w, ...writer(w, acked, failures) }));
    for (let round = 0; round < ROUNDS; round++) {
      await sleep(300);
      const roles = await Promise.all(live.map(sharingOf));
      const holderIndex = roles.findIndex((r) => r.role === 'holder');
      expect(holderIndex, JSON.stringify(roles)).toBeGreaterThanOrEqual(0);
      const holder = live[holderIndex];
      for (const wr of writers) wr.resetCount();
      process.kill(holder.pid, 'SIGKILL');
      // The survivors keep writing through the takeover: each gets a write acknowledged again. How
      // soon depends on the machine (600 ms when it is idle); a loaded CI box gets up to 15 s.
      const survivors = writers.filter((wr) => wr.w !== holder);
      for (let waited = 0; waited < 15_000 && !survivors.every((wr) => wr.acksSinceReset() > 0); waited += 100) await sleep(100);
      for (const wr of survivors) expect(wr.acksSinceReset(), `${wr.w.name} after round ${round}`).toBeGreaterThan(0);
      const newRoles = await Promise.all(survivors.map((wr) => sharingOf(wr.w)));
      expect(newRoles.filter((r) => r.role === 'holder')).toHaveLength(1);
      expect(new Set(newRoles.map((r) => r.holder_pid)).size).toBe(1);
      await writers[holderIndex].stop();
      await holder.client.close().catch(() => undefined);
      const joined = await openWindow(dataDir);
      live = [...survivors.map((wr) => wr.w), joined];
      writers = [...survivors, { w: joined, ...writer(joined, acked, failures) }];
    }
    for (const wr of writers) await wr.stop();
    for (const w of live) await w.client.close();
    await sleep(200);

    expect(failures).toEqual([]);
    const store = await openEmbeddedCore({ dataDir });
    try {
      const seen = new Map<string, number>();
      let cursor: string | undefined;
      do {
        const page = await store.query('default', { event_type: 'tick', limit: 1000, ...(cursor ? { cursor } : {}) });
        for (const e of page.events) {
          const key = String((e.payload as { key: string }).key);
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined);
      const duplicated = [...seen].filter(([, n]) => n > 1);
      expect(duplicated).toEqual([]);
      const lost = [...acked].filter((key) => !seen.has(key));
      expect(lost).toEqual([]);
      expect(acked.size).toBeGreaterThan(100);
      expect((await store.verify('default')).ok).toBe(true);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('a clean exit of the holder hands the directory over; a node written in one window is recalled in another', async () => {
    const dataDir = join(root, 'clean');
    const a = await openWindow(dataDir);
    const b = await openWindow(dataDir);
    const c = await openWindow(dataDir);
    expect((await sharingOf(a)).role).toBe('holder');
    await b.client.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: 'the tide tables are in the blue folder' } } });
    await a.client.close();
    await sleep(100);
    const recalled = JSON.stringify(await c.client.callTool({ name: 'prime_recall', arguments: { text: 'tide tables folder' } }));
    expect(recalled).toContain('blue folder');
    const roles = [await sharingOf(b), await sharingOf(c)];
    expect(roles.filter((r) => r.role === 'holder')).toHaveLength(1);
    await c.client.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: 'the spare key is under the mat' } } });
    expect(JSON.stringify(await b.client.callTool({ name: 'prime_recall', arguments: { text: 'spare key' } }))).toContain('under the mat');
    await b.client.close();
    await c.client.close();
  }, 60_000);

  it('a follower started while the holder is still recovering waits for it, then answers', async () => {
    const dataDir = join(root, 'recovering');
    const seed = await openEmbeddedCore({ dataDir });
    for (let i = 0; i < 60; i++) await seed.append('default', Array.from({ length: 1000 }, (_, k) => ({ entity_id: `e${(i * 1000 + k) % 500}`, event_type: 'seed', payload: { n: i * 1000 + k, text: `seed event ${k}` } })));
    await seed.close();
    const holderStart = openWindow(dataDir);
    // The first process must hold the directory (it is then recovering 60,000 events) before the
    // second starts; how long a process takes to get there depends on the machine's load.
    for (let waited = 0; waited < 15_000 && lockHolder(dataDir) === null; waited += 20) await sleep(20);
    const follower = await openWindow(dataDir);
    const holder = await holderStart;
    const stats = (await follower.client.callTool({ name: 'get_stats', arguments: {} })) as CallToolResult;
    expect(stats.isError).toBeFalsy();
    expect((stats.structuredContent as { events: number }).events).toBe(60_000);
    expect((await sharingOf(follower)).role).toBe('follower');
    await follower.client.close();
    await holder.client.close();
  }, 60_000);

  it('cleans up a stale socket and lock left by a killed holder, in-process', async () => {
    const dataDir = join(root, 'stale');
    const first = await openSharedCore({ dataDir, log: () => {} });
    expect(first.sharing().role).toBe('holder');
    await first.append('t', [{ entity_id: 'x', event_type: 'y', payload: {} }]);
    const second = await openSharedCore({ dataDir, log: () => {} });
    expect(second.sharing()).toMatchObject({ role: 'follower', holder_pid: process.pid });
    expect((await second.stats('t')).events).toBe(1);
    await first.close();
    // The holder left: the follower takes over on its next call, and finds the event.
    expect((await second.query('t', {})).events).toHaveLength(1);
    expect(second.sharing()).toMatchObject({ role: 'holder', takeovers: 1 });
    await second.close();
  });

  it('the other commands follow a running holder too (query, call)', async () => {
    const dataDir = join(root, 'commands');
    const holder = await openWindow(dataDir);
    try {
      await holder.client.callTool({ name: 'ingest_event', arguments: { entity_id: 'order-1', event_type: 'order.placed', payload: { total: 42 } } });
      const query = await runCli(['query', '--data', dataDir, '--json'], childEnv());
      expect(query.code, query.stderr).toBe(0);
      expect(query.stdout).toContain('order.placed');
      const call = await runCli(['call', 'ingest_event', '--data', dataDir, JSON.stringify({ entity_id: 'order-1', event_type: 'order.paid', payload: { paid: true } })], childEnv());
      expect(call.code, call.stderr).toBe(0);
      const state = (await holder.client.callTool({ name: 'reconstruct_state', arguments: { entity_id: 'order-1' } })) as CallToolResult;
      expect(state.structuredContent).toMatchObject({ state: { total: 42, paid: true } });
    } finally {
      await holder.client.close();
    }
  }, 60_000);

  it.skipIf(process.getuid?.() !== 0)('refuses a socket that belongs to another user', async () => {
    const dataDir = join(root, 'foreign');
    const holder = await openSharedCore({ dataDir, log: () => {} });
    try {
      chownSync(join(dataDir, 'core.sock'), 65534, 65534);
      await expect(openSharedCore({ dataDir, log: () => {} })).rejects.toThrow(/belongs to another user \(uid 65534\)/);
    } finally {
      await holder.close();
    }
  });
});
