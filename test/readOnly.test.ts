// Read-only data directories: a directory the user cannot write (chmod -R a-w) is read by the
// read commands and by `allsource mcp --read-only` without one write: no lock file, no socket, no
// key secret, no Prime files, no file changed. As root, chmod does not stop writes, so the same
// checks run as `nobody` (runuser) when that is possible, and the "nothing written" check (every
// file's size and mtime, and the set of names) holds either way.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedCore } from '../src/index.js';
import { openSharedCore } from '../src/core/shared/sharedCore.js';
import { BIN, childEnvIn, runCli } from './helpers/runCli.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-readonly-'));
const data = join(root, 'data');
const isRoot = process.getuid?.() === 0;
/** As root, run the CLI as `nobody`, for whom chmod a-w really forbids writes (when runuser works here). */
// nobody must also reach the built binary (a checkout under a 0700 temp directory is out of reach).
const asNobody = isRoot && spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, BIN, '--version']).status === 0;
const runner = (args: string[]): { command: string; args: string[] } =>
  asNobody ? { command: 'runuser', args: ['-u', 'nobody', '--', process.execPath, BIN, ...args] } : { command: process.execPath, args: [BIN, ...args] };

/** Every file under `dir` with its size and mtime: what "nothing was written" is checked against. */
function listing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string, prefix: string): void => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      const stat = statSync(path);
      out[prefix + name] = stat.isDirectory() ? 'dir' : `${stat.size}@${stat.mtimeMs}`;
      if (stat.isDirectory()) walk(path, `${prefix}${name}/`);
    }
  };
  walk(dir, '');
  return out;
}

function chmodTree(dir: string, fileMode: number, dirMode: number): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) chmodTree(path, fileMode, dirMode);
    else chmodSync(path, fileMode);
  }
  chmodSync(dir, dirMode);
}

/** Runs the CLI (as nobody when root) to completion; synchronous, since runuser's child must be waited for anyway. */
function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const { command, args: argv } = runner(args);
  const result = spawnSync(command, argv, { env: childEnvIn(root), encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let before: Record<string, string>;

beforeAll(async () => {
  // Events in a segment and in the log, a tenant with Prime data too.
  const store = await openEmbeddedCore({ dataDir: data, rollInWorker: false, log: () => {} });
  await store.append('default', [{ entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada' } }]);
  await store.rollNow();
  await store.append('default', [{ entity_id: 'user-1', event_type: 'user.renamed', payload: { name: 'Ada L.' } }]);
  await store.close();
  const run = await runCli(['--data', data, 'call', 'prime_add_node', '{"type":"memory","properties":{"text":"Ada lives in Lisbon"}}'], childEnvIn(root));
  expect(run.code, run.stderr).toBe(0);
  // The directory and its files become read-only for everyone; the root stays reachable for nobody.
  chmodSync(root, 0o755);
  chmodTree(data, 0o444, 0o555);
  before = listing(data);
});

afterAll(() => {
  chmodTree(data, 0o644, 0o755);
  rmSync(root, { recursive: true, force: true });
});

describe('a data directory nobody may write', () => {
  it('the read commands read it and write nothing (no lock file, no socket, no file changed)', async () => {
    const stats = cli(['--data', data, '--json', 'stats']);
    expect(stats.code, stats.stderr).toBe(0);
    const report = JSON.parse(stats.stdout);
    expect(report.tenant.events).toBe(3);
    expect(report.store).toMatchObject({ read_only: true, sharing: { role: 'reader' } });
    const state = cli(['--data', data, '--json', 'state', 'user-1']);
    expect(JSON.parse(state.stdout).state).toEqual({ name: 'Ada L.' });
    const query = cli(['--data', data, '--json', 'query', '--entity', 'user-1']);
    expect(JSON.parse(query.stdout).events).toHaveLength(2);
    const recall = cli(['--data', data, 'call', 'prime_recall', '{"text":"where does Ada live","top_k":1}']);
    expect(recall.code, recall.stderr).toBe(0);
    expect(recall.stdout).toContain('Lisbon');
    expect(listing(data)).toEqual(before);
  }, 60_000);

  it('`allsource mcp --read-only` serves it: tools read the events, nothing is written', async () => {
    const { command, args } = runner(['mcp', '--data', data, '--read-only']);
    const transport = new StdioClientTransport({ command, args, env: childEnvIn(root), stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: 'readonly-test', version: '0' });
    await client.connect(transport);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('query_events');
      expect(names).not.toContain('ingest_event');
      const result = await client.callTool({ name: 'query_events', arguments: { entity_id: 'user-1' } });
      expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
      expect((result.structuredContent as { events: unknown[] }).events).toHaveLength(2);
      const status = await client.callTool({ name: 'get_cluster_status', arguments: {} });
      expect(JSON.stringify(status.structuredContent)).toContain('"role":"reader"');
    } finally {
      await client.close();
    }
    expect(stderr).toContain('opened read-only');
    expect(listing(data)).toEqual(before);
  }, 60_000);

  it.runIf(!isRoot || asNobody)('a command that writes answers `unavailable`, naming the directory and the read-only way, not `internal: EACCES`', async () => {
    const run = cli(['--data', data, 'call', 'ingest_event', '{"entity_id":"x","event_type":"y","payload":{}}']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^error: unavailable: data directory ${data} cannot be written \\(EACCES on .*\\); a read-only open works`, 'm'));
    expect(run.stderr).not.toContain('internal');
    expect(listing(data)).toEqual(before);
  }, 60_000);
});

describe('a data directory nobody may read', () => {
  it.runIf(!isRoot || asNobody)('a read command answers `unavailable`, naming the directory and the path it could not read', async () => {
    const dir = join(root, 'sealed');
    const seed = await openEmbeddedCore({ dataDir: dir, rollInWorker: false, log: () => {} });
    await seed.append('default', [{ entity_id: 'e', event_type: 'made', payload: {} }]);
    await seed.close();
    chmodTree(dir, 0o000, 0o111);
    try {
      const run = cli(['--data', dir, 'stats']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`^error: unavailable: data directory ${dir} cannot be read: permission denied on ${dir}/\\S+ \\(EACCES\\)`, 'm'));
    } finally {
      chmodTree(dir, 0o644, 0o755);
    }
  }, 60_000);
});

describe('a read-only SharedCore', () => {
  it('reads in-process while nobody holds the directory, follows a writer once one does, and never writes itself', async () => {
    const dir = join(root, 'shared');
    const seed = await openEmbeddedCore({ dataDir: dir, rollInWorker: false, log: () => {} });
    await seed.append('t', [{ entity_id: 'e', event_type: 'made', payload: { n: 1 } }]);
    await seed.close();
    const reader = await openSharedCore({ dataDir: dir, readOnly: true, rollInWorker: false, log: () => {} });
    try {
      expect(reader.sharing().role).toBe('reader');
      expect(readdirSync(dir)).not.toContain('LOCK');
      expect((await reader.stats('t')).events).toBe(1);
      await expect(reader.append('t', [{ entity_id: 'e', event_type: 'made', payload: {} }])).rejects.toMatchObject({ code: 'forbidden' });
      const writer = await openSharedCore({ dataDir: dir, rollInWorker: false, log: () => {} });
      try {
        expect(writer.sharing().role).toBe('holder');
        await writer.append('t', [{ entity_id: 'e', event_type: 'made', payload: { n: 2 } }]);
        // The reader notices the holder and reads through it: the new event is there.
        expect((await reader.stats('t')).events).toBe(2);
        expect(reader.sharing()).toMatchObject({ role: 'follower', holder_pid: process.pid });
        await expect(reader.tombstone('t', { entity_id: 'e', reason: 'test' })).rejects.toMatchObject({ code: 'forbidden' });
      } finally {
        await writer.close();
      }
      // The holder went away: the reader reads in-process again.
      expect((await reader.stats('t')).events).toBe(2);
      expect(reader.sharing().role).toBe('reader');
    } finally {
      await reader.close();
    }
  }, 60_000);
});
