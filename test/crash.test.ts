// Crash safety: a child process appends from concurrent writers and is killed with SIGKILL at a
// random moment (several times per run, on the same data directory, with segment rolls in
// between). After each kill, every acknowledged event must be there exactly once, and nothing
// that was never attempted may appear.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { openEmbeddedCore, type StoredEvent } from '../src/index.js';

/** Kill rounds per run: 5 in `npm test`; `npm run test:soak` raises it. */
const ROUNDS = Number(process.env.ALLSOURCE_CRASH_ROUNDS ?? 5);
const CHILD = join(import.meta.dirname, '..', 'dist', 'test', 'helpers', 'crashWriter.js');
const dir = mkdtempSync(join(tmpdir(), 'allsource-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it has acknowledged at least `minAcks` events plus a random extra delay, then kill -9. */
async function runAndKill(minAcks: number, extraMs: number): Promise<Set<string>> {
  const child = spawn(process.execPath, [CHILD, dir, '8', String(256 * 1024)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked = new Set<string>();
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    let killing = false;
    const timer = setTimeout(() => reject(new Error(`writer acknowledged only ${acked.size} events in 20 s`)), 20_000);
    lines.on('line', (line) => {
      if (line.startsWith('ready ')) return;
      acked.add(line);
      if (!killing && acked.size >= minAcks) {
        killing = true;
        setTimeout(() => {
          child.kill('SIGKILL');
          clearTimeout(timer);
          resolve();
        }, extraMs);
      }
    });
    child.on('exit', (code, signal) => {
      if (!killing) reject(new Error(`writer exited early (code ${code}, signal ${signal})`));
    });
  });
  await exited;
  return acked;
}

describe('kill -9 during concurrent appends', () => {
  it('never loses, invents or duplicates an acknowledged event across repeated crashes', async () => {
    const everAcked = new Set<string>();
    const rounds = ROUNDS;
    for (let round = 0; round < rounds; round++) {
      const acked = await runAndKill(200 + round * 150, Math.floor(Math.random() * 150));
      for (const id of acked) everAcked.add(id);

      const store = await openEmbeddedCore({ dataDir: dir, log: () => {} });
      try {
        const seen = new Map<string, StoredEvent>();
        let cursor: string | undefined;
        do {
          const page = await store.query('crash', { limit: 1000, cursor });
          for (const event of page.events) {
            expect(seen.has(event.id), `duplicate ${event.id}`).toBe(false);
            seen.set(event.id, event);
          }
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
        for (const id of everAcked) expect(seen.has(id), `acknowledged event ${id} lost in round ${round}`).toBe(true);
        // Nothing invented: every stored event is one the writer built, with its content intact.
        for (const [id, event] of seen) {
          expect(event.payload.id).toBe(id);
          expect(event.payload.check).toBe(`${id}:${id.length}`);
        }
        // Versions stay gapless per entity.
        const versions = new Map<string, number[]>();
        for (const event of seen.values()) versions.set(event.entity_id, [...(versions.get(event.entity_id) ?? []), event.version]);
        for (const list of versions.values()) {
          list.sort((a, b) => a - b);
          list.forEach((v, i) => expect(v).toBe(i + 1));
        }
        const verified = await store.verify('crash');
        expect(verified.ok, verified.message).toBe(true);
      } finally {
        await store.close();
      }
    }
    expect(everAcked.size).toBeGreaterThan(1000);
  }, 30_000 + ROUNDS * 20_000);
});
