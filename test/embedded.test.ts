// EmbeddedCore specifics beyond the shared contract: persistence across reopen, segment rolling,
// the one-writer lock, a clock that steps back, and tamper detection by the hash chain.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import { FRAME_HEADER_BYTES, WAL_MAGIC } from '../src/core/embedded/wal.js';

const dirs: string[] = [];
const open: EmbeddedCore[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'allsource-embedded-'));
  dirs.push(dir);
  return dir;
}
async function openStore(dataDir: string, extra: Partial<Parameters<typeof openEmbeddedCore>[0]> = {}): Promise<EmbeddedCore> {
  const store = await openEmbeddedCore({ dataDir, log: () => {}, ...extra });
  open.push(store);
  return store;
}
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function events(n: number, offset = 0) {
  return Array.from({ length: n }, (_, i) => ({
    entity_id: `user-${(offset + i) % 7}`,
    event_type: i % 3 === 0 ? 'user.created' : 'user.updated',
    payload: { n: offset + i, name: `user ${offset + i}`, nested: { k: i % 5 } },
  }));
}

describe('EmbeddedCore', () => {
  it('keeps everything across close and reopen, from the log and from rolled segments', async () => {
    const dir = freshDir();
    const store = await openStore(dir, { walRollBytes: 20_000 });
    for (let b = 0; b < 20; b++) await store.append('a', events(25, b * 25));
    await store.append('b', events(5));
    await store.idle();
    const before = await store.query('a', { limit: 1000 });
    const stateBefore = await store.state('a', 'user-3');
    const verifyBefore = await store.verify('a');
    expect(readdirSync(join(dir, 'segments')).filter((f) => f.endsWith('.parquet')).length).toBeGreaterThan(0);
    await store.close();

    const reopened = await openStore(dir);
    const after = await reopened.query('a', { limit: 1000 });
    expect(after.events).toEqual(before.events);
    expect(await reopened.state('a', 'user-3')).toEqual(stateBefore);
    expect(await reopened.verify('a')).toEqual(verifyBefore);
    expect((await reopened.stats('b')).events).toBe(5);
    // New appends continue positions and versions where they stopped.
    const next = await reopened.append('a', [{ entity_id: 'user-3', event_type: 'user.updated', payload: { more: true } }]);
    expect(next.events[0].position).toBe(Math.max(...before.events.map((e) => e.position), 0) + 6);
    expect(next.events[0].version).toBe(stateBefore.version + 1);
  });

  it('rollNow moves the log into a Parquet segment and reads stay the same', async () => {
    const dir = freshDir();
    const store = await openStore(dir);
    await store.append('a', events(100));
    const before = await store.query('a', { limit: 1000 });
    await store.rollNow();
    const manifest = JSON.parse(readFileSync(join(dir, 'MANIFEST.json'), 'utf8'));
    expect(manifest.segments).toHaveLength(1);
    expect(manifest.segments[0].rows).toBe(100);
    expect((await store.query('a', { limit: 1000 })).events).toEqual(before.events);
    expect((await store.health()).segments).toMatchObject({ count: 1, rows: 100 });
  });

  it('appends keep flowing while a segment is being written', async () => {
    const dir = freshDir();
    const store = await openStore(dir, { walRollBytes: 50_000 });
    let acknowledgedWhileRolling = 0;
    for (let b = 0; b < 40; b++) {
      await store.append('a', events(20, b * 20));
      if (((await store.health()).segments as { rolling: boolean }).rolling) acknowledgedWhileRolling++;
    }
    await store.idle();
    expect(acknowledgedWhileRolling).toBeGreaterThan(0);
    expect((await store.stats('a')).events).toBe(800);
    expect(((await store.health()).segments as { count: number }).count).toBeGreaterThan(1);
  });

  it('a second process opening the directory gets an error naming the holder pid', async () => {
    const dir = freshDir();
    const store = await openStore(dir);
    await expect(openEmbeddedCore({ dataDir: dir, log: () => {} })).rejects.toThrow(/in use by this process/);
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `import('${join(import.meta.dirname, '..', 'dist', 'src', 'index.js')}').then(m => m.openEmbeddedCore({ dataDir: ${JSON.stringify(dir)} })).then(() => process.exit(0), (e) => { process.stderr.write(e.code + ': ' + e.message); process.exit(3); })`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(3);
    expect(stderr).toContain(`unavailable: data directory ${dir} is in use by process ${process.pid}`);
    await store.close();
    // Released on close: a new open succeeds.
    await openStore(dir);
  });

  it('a stale lock left by a dead process is taken over', async () => {
    const dir = freshDir();
    (await openStore(dir)).close();
    writeFileSync(join(dir, 'LOCK'), '999999999\n');
    const store = await openStore(dir);
    expect((await store.health()).ok).toBe(true);
  });

  it('timestamps never go backwards when the clock steps back', async () => {
    const dir = freshDir();
    let clock = Date.parse('2030-01-01T00:00:10.000Z');
    const store = await openStore(dir, { now: () => clock });
    await store.append('a', events(2));
    clock -= 5000;
    await store.append('a', events(2, 2));
    clock += 1;
    await store.append('a', events(2, 4));
    const all = (await store.query('a')).events;
    for (let i = 1; i < all.length; i++) expect(all[i].timestamp >= all[i - 1].timestamp).toBe(true);
    expect(all.at(-1)!.timestamp).toBe('2030-01-01T00:00:10.000Z');
  });

  it('verify names the first position whose stored content was altered', async () => {
    const dir = freshDir();
    const store = await openStore(dir, { durability: 'none' });
    await store.append('a', events(3));
    await store.append('a', events(3, 3));
    const target = (await store.query('a')).events[4];
    await store.close();
    // Rewrite the payload in the log and fix the frame checksum, as a tamperer would.
    const walFile = join(dir, 'wal', readdirSync(join(dir, 'wal'))[0]);
    const image = readFileSync(walFile);
    const secondFrame = WAL_MAGIC.length + FRAME_HEADER_BYTES + image.readUInt32LE(WAL_MAGIC.length);
    const body = image.subarray(secondFrame + FRAME_HEADER_BYTES).toString('utf8').replace(`"n":${target.payload.n}`, `"n":${Number(target.payload.n) + 900}`);
    const bodyBytes = Buffer.from(body);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32LE(bodyBytes.length, 0);
    header.writeUInt32LE(crc32(bodyBytes), 4);
    writeFileSync(walFile, Buffer.concat([image.subarray(0, secondFrame), header, bodyBytes]));
    const reopened = await openStore(dir);
    const result = await reopened.verify('a');
    expect(result.ok).toBe(false);
    expect(result.first_broken_position).toBe(target.position);
    expect(result.checked).toBe(4);
  });

  it('durability none still persists across a clean close', async () => {
    const dir = freshDir();
    const store = await openStore(dir, { durability: 'none' });
    await store.append('a', events(10));
    await store.close();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    expect((await (await openStore(dir)).stats('a')).events).toBe(10);
  });
});

describe('EmbeddedCore payload copies', () => {
  it('records a "__proto__" key as data, live and after a reopen from a segment', async () => {
    const dir = freshDir();
    const store = await openStore(dir);
    const payload = JSON.parse('{"__proto__": {"p": 1}, "a": 1}') as Record<string, unknown>;
    const [r] = (await store.append('t', [{ entity_id: 'x', event_type: 'x.made', payload: payload as never }])).events;
    const live = await store.get('t', r.id);
    expect(Object.getPrototypeOf(live.payload)).toBe(Object.prototype);
    expect(JSON.stringify(live.payload)).toBe('{"__proto__":{"p":1},"a":1}');
    await store.rollNow();
    await store.close();
    open.splice(open.indexOf(store), 1);
    const reopened = await openStore(dir);
    expect(JSON.stringify((await reopened.get('t', r.id)).payload)).toBe('{"__proto__":{"p":1},"a":1}');
    expect((await reopened.verify('t')).ok).toBe(true);
  });
});
