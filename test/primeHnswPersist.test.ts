// The persisted HNSW index across restarts: a reopened space (here restored from a snapshot's
// vector state, as a Prime reopen does) loads the index instead of building one, adds only the
// vectors it lacks, and, when that tail is large, writes the index again once it has caught up,
// so a process that is killed rather than closed does not add the same tail on every start.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../bench/workload.js';
import { normalize } from '../src/embed/codec.js';
import { hnswAvailability, VectorIndex } from '../src/prime/vectorIndex.js';
import { PERSIST_AFTER_ADDS } from '../src/prime/vectorIndexSettings.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-hnsw-persist-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
// No worker script: the index is built on the main thread in slices (fast at these sizes).
const noWorker = pathToFileURL(join(root, 'no-worker.js'));
const quiet = (): void => {};

function randomUnit(dims: number, random: () => number): Float32Array {
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) v[i] = random() - 0.5;
  return normalize(v);
}

const savedHnswEnv = process.env.ALLSOURCE_HNSW;
delete process.env.ALLSOURCE_HNSW;
afterAll(() => {
  if (savedHnswEnv !== undefined) process.env.ALLSOURCE_HNSW = savedHnswEnv;
});

describe.runIf(hnswAvailability().available)('a reopened vector space and its persisted HNSW index', () => {
  it('loads the index, adds only the tail, and rewrites the index after a large tail without a close', async () => {
    const dir = join(root, 'space');
    const random = mulberry32(4);
    const dims = 8;
    const first = new VectorIndex({ dims, hnswThreshold: 500, persistDir: dir, workerScript: noWorker, log: quiet });
    for (let i = 0; i < 600; i++) first.upsert(`v${i}`, randomUnit(dims, random));
    await first.whenIdle();
    expect(first.status().mode).toBe('hnsw');
    expect(first.counters).toMatchObject({ builds: 1, loads: 0 });
    const state = first.exportState();
    await first.close();
    const sidecar = (): { ids: string[] } => JSON.parse(readFileSync(join(dir, 'hnsw.json'), 'utf8')) as { ids: string[] };
    expect(sidecar().ids.length).toBe(600);

    // Reopen from the saved rows, then a tail larger than PERSIST_AFTER_ADDS arrives.
    const lines: string[] = [];
    const second = new VectorIndex({ dims, hnswThreshold: 500, persistDir: dir, workerScript: noWorker, log: (line) => lines.push(line), restore: state });
    const tail = PERSIST_AFTER_ADDS + 100;
    for (let i = 0; i < tail; i++) second.upsert(`t${i}`, randomUnit(dims, random));
    await second.whenIdle();
    expect(second.counters).toMatchObject({ builds: 0, loads: 1 });
    expect(second.status().mode).toBe('hnsw');
    // Written again once caught up, before any close.
    expect(sidecar().ids.length).toBe(600 + tail);

    // A small tail is left for the close (or the next start) to write.
    for (let i = 0; i < 10; i++) second.upsert(`s${i}`, randomUnit(dims, random));
    await second.whenIdle();
    expect(sidecar().ids.length).toBe(600 + tail);
    const saved = second.exportState();
    await second.close(); // writes the index with the small tail
    const third = new VectorIndex({ dims, hnswThreshold: 500, persistDir: dir, workerScript: noWorker, log: quiet, restore: saved });
    await third.whenIdle();
    expect(third.counters).toMatchObject({ builds: 0, loads: 1 });
    expect(third.size).toBe(600 + tail + 10);
    expect(sidecar().ids.length).toBe(600 + tail + 10);
    await third.close();
    expect(lines.join('\n')).toMatch(/loaded the persisted HNSW index \(600 vectors\)/);
  });
});
