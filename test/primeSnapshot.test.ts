// Prime projection snapshots on a real EmbeddedCore: a projection restored from its snapshot and
// caught up with the log answers exactly like a full fold of the log (nodes, edges, walks, search,
// recall, similar, stats, history, and its whole exported state), as_of reads still fold the log
// prefix, and a snapshot that does not check out is ignored with a line in the log, never used:
// corrupt or truncated files, another embedder, another tenant, a log that ends before it or is
// another log, and tombstones or restores recorded after it.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../bench/workload.js';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import { createHashEmbedder } from '../src/embed/hashEmbedder.js';
import { edgeCreated, edgeDeleted, nodeCreated, nodeDeleted, nodeUpdated, vectorDeleted, vectorStored } from '../src/prime/events.js';
import { encodeVector, normalize } from '../src/embed/codec.js';
import type { PrimeProjection } from '../src/prime/projection.js';
import { createPrimeService, type PrimeServiceOptions } from '../src/prime/service.js';
import { SNAPSHOT_FILE } from '../src/prime/snapshot.js';
import type { NewEvent } from '../src/core/types.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-prime-snapshot-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let store: EmbeddedCore;
let dataDir: string;
let lines: string[];
beforeEach(async () => {
  dataDir = join(root, `d${dirs++}`);
  store = await openEmbeddedCore({ dataDir, durability: 'none' });
  lines = [];
});
afterEach(async () => {
  await store.close();
});

/** One clock for every service, so recall's recency term is the same in the two being compared. */
const now = (): number => Date.parse('2030-01-01T00:00:00.000Z');
/** Snapshots for any tenant with an event, written only when asked (or on close). */
function withSnapshots(extra: Partial<PrimeServiceOptions> = {}) {
  return createPrimeService({ store, dataDir, now, log: (line) => lines.push(line), snapshots: { minEvents: 1, delayMs: 3_600_000 }, ...extra });
}
/** The same store folded from the log every time. */
function fromLog() {
  return createPrimeService({ store, now, log: () => {} });
}

function snapshotPath(): string {
  const prime = join(dataDir, 'prime');
  const [tenantDir] = readdirSync(prime);
  return join(prime, tenantDir, SNAPSHOT_FILE);
}

/** A tenant with updates, deletions, an edge re-created between the same pair, caller and stored vectors, and junk. */
async function seed(tenant: string, count: number, seedValue = 1): Promise<void> {
  const random = mulberry32(seedValue);
  const words = ['garden', 'paint', 'trip', 'Paris', 'budget', 'doctor', 'flight', 'concert', 'recipe', 'book'];
  const text = (): string => Array.from({ length: 6 }, () => words[Math.floor(random() * words.length)]).join(' ');
  const events: NewEvent[] = [];
  for (let i = 0; i < count; i++) events.push(nodeCreated(`n${i}`, i % 5 === 0 ? 'person' : 'note', { name: `N${i % 37}`, text: text(), importance: (i % 10) / 10 }));
  for (let i = 1; i < count; i++) events.push(edgeCreated({ id: `e${i}`, source: `n${i % 7}`, target: `n${i}`, relation: i % 3 === 0 ? 'knows' : 'said', properties: i % 4 === 0 ? { since: i } : {}, weight: 1 }));
  await store.append(tenant, events);
  const more: NewEvent[] = [];
  for (let i = 3; i < count; i += 11) more.push(nodeUpdated(`n${i}`, { text: text(), extra: ['a', 'b'] }));
  for (let i = 4; i < count; i += 13) more.push(nodeDeleted(`n${i}`));
  // Words no other node has: once these nodes go, a search for them must find nothing.
  if (count > 14) more.push(nodeUpdated('n13', { note: 'zanzibar quokka' }), nodeUpdated('n14', { note: 'quokka' }));
  // Two edges between one pair; the older goes, a newer one comes: per-node edge order must survive.
  more.push(edgeCreated({ id: 'x1', source: 'n1', target: 'n2', relation: 'twin', properties: {}, weight: 0.5 }));
  more.push(edgeCreated({ id: 'x2', source: 'n1', target: 'n2', relation: 'twin', properties: {}, weight: 0.7 }));
  more.push(edgeDeleted('x1'));
  more.push(edgeCreated({ id: 'x3', source: 'n1', target: 'n3', relation: 'twin', properties: {}, weight: 1 }));
  more.push(edgeCreated({ id: 'x4', source: 'n1', target: 'n2', relation: 'twin', properties: {}, weight: 0.9 }));
  more.push(vectorStored('v-free', { embedder: 'custom-3', dims: 3, data: encodeVector(normalize(new Float32Array([1, 2, 3]))) }, { metadata: { tag: 'free' } }));
  more.push(vectorStored('n2', { embedder: 'custom-3', dims: 3, data: encodeVector(normalize(new Float32Array([3, 1, 0]))) }, { nodeId: 'n2' }));
  more.push(vectorStored('v-gone', { embedder: 'custom-3', dims: 3, data: encodeVector(normalize(new Float32Array([0, 1, 0]))) }, {}));
  more.push(vectorDeleted('v-gone'));
  more.push({ entity_id: 'prime:node:bad', event_type: 'prime.node.created', payload: { type: 'no id' } });
  await store.append(tenant, more);
}

/** Everything a tool can read, for comparing two services on one tenant. */
async function answers(prime: ReturnType<typeof createPrimeService>, tenant: string, asOf?: string) {
  const at = asOf === undefined ? {} : { as_of: asOf };
  const view = await prime.view(tenant, at);
  const { cache: _cache, ...stats } = await prime.stats(tenant, at);
  const ids = [...view.nodes()].map((n) => n.id);
  const probe = ids.slice(0, 12);
  // A node the walks start from may not exist in every log the tests build: its error is the answer then.
  const safe = <T>(promise: Promise<T>): Promise<T | { error: string }> => promise.catch((error: { code?: string }) => ({ error: String(error.code) }));
  return {
    stats,
    nodes: [...view.nodes()],
    edges: [...view.edges()],
    names: ['N1', 'N5', 'N36', 'nobody'].map((name) => view.nodeByName(name)?.id ?? null),
    edgesOf: probe.map((id) => ({ out: view.edgesOf(id, 'out').map((e) => e.id), in: view.edgesOf(id, 'in').map((e) => e.id), both: view.edgesOf(id, 'both').map((e) => e.id) })),
    neighbors: await safe(prime.neighbors(tenant, { node_id: 'n1', depth: 2, limit: 30, ...at })),
    subgraph: await safe(prime.subgraph(tenant, { node_id: 'n2', depth: 2, limit: 40, ...at })),
    path: await safe(prime.shortestPath(tenant, { from: 'n1', to: ids[ids.length - 1], ...at })),
    search: await prime.search(tenant, { text: 'garden paint', limit: 15, ...at }),
    rare: await prime.search(tenant, { text: 'zanzibar quokka', ...at }),
    byType: await prime.search(tenant, { type: 'person', properties: { importance: 0 }, ...at }),
    substring: view.substringCandidates('arde'),
    recall: await Promise.all(['garden Paris', 'doctor flight book', 'N3 budget', 'concert'].map((text) => prime.recall(tenant, { text, top_k: 10, ...at }))),
    similar: await prime.similar(tenant, { text: 'paint the garden', top_k: 8, ...at }),
    similarVector: await safe(prime.similar(tenant, { vector: [1, 1, 1], top_k: 3, ...at })),
    context: await prime.context(tenant, { query: 'trip to Paris', max_tokens: 300, ...at }),
  };
}

describe('a projection restored from its snapshot', () => {
  it('answers like a full fold of the log, and keeps doing so as events arrive after it', async () => {
    await seed('t', 300);
    const writer = withSnapshots();
    await writer.stats('t');
    await writer.writeSnapshots();
    expect(writer.snapshotInfo()).toMatchObject({ written: 1, loaded: 0 });
    await writer.close();
    expect(existsSync(snapshotPath())).toBe(true);

    // Events after the snapshot: the restored projection must fold exactly these.
    await sleep(3);
    const cut = new Date().toISOString();
    await sleep(3);
    const tail: NewEvent[] = [nodeCreated('late', 'note', { text: 'a late garden note', name: 'N1' }), edgeCreated({ id: 'late-e', source: 'n1', target: 'late', relation: 'said', properties: {}, weight: 1 })];
    tail.push(nodeUpdated('n10', { text: 'rewritten about the doctor' }), nodeDeleted('n11'), edgeDeleted('x4'));
    await store.append('t', tail);

    const restored = withSnapshots();
    const full = fromLog();
    const a = await answers(restored, 't');
    expect(restored.snapshotInfo()).toMatchObject({ loaded: 1, rejected: 0 });
    const b = await answers(full, 't');
    expect(a).toEqual(b);
    // The whole state too: what the restored projection would write next is what a full fold would.
    const restoredState = ((await restored.view('t')) as PrimeProjection).exportState();
    const fullState = ((await full.view('t')) as PrimeProjection).exportState();
    expect(restoredState).toEqual(fullState);

    // as_of reads fold the log prefix, before and after the snapshot's position.
    expect(await answers(restored, 't', cut)).toEqual(await answers(full, 't', cut));
    // More writes through the restored service, then both again.
    // n13 goes first, so the new node takes its lexical slot: none of n13's words may follow it there.
    await restored.forget('t', { node_id: 'n13' });
    await restored.addNode('t', { type: 'note', properties: { text: 'written after the restore' } });
    await restored.updateNode('t', { node_id: 'n12', properties: { text: null, name: 'renamed' } });
    await restored.removeEdge('t', { edge_id: 'e20' });
    await restored.embed('t', { id: 'n14', text: 'an explicit vector for n14' });
    const c = await answers(restored, 't');
    expect(c).toEqual(await answers(full, 't'));
    expect(c).not.toEqual(a);
    expect(await answers(restored, 't', cut)).toEqual(await answers(full, 't', cut));

    // History still lists events from before the snapshot (read from the store) and after it.
    expect(await restored.history('t', { node_id: 'n10' })).toEqual(await full.history('t', { node_id: 'n10' }));
    expect((await restored.history('t', { node_id: 'n10' })).events.length).toBeGreaterThan(1);
    await restored.close();
    await full.close();
    expect(lines.filter((line) => /ignoring/.test(line))).toEqual([]);
  });

  it('restores the int8 copy of a large space and still answers vector searches exactly', async () => {
    await seed('t', 2200, 2);
    const writer = withSnapshots();
    await writer.stats('t');
    await writer.close(); // close writes the snapshot (the tenant folded events since it had none)
    expect(writer.snapshotInfo()?.written).toBe(1);
    await store.append('t', [nodeCreated('tail', 'note', { text: 'garden paint tail' })]);
    const restored = withSnapshots();
    const full = fromLog();
    for (const text of ['garden paint', 'trip Paris budget', 'book']) {
      expect(await restored.similar('t', { text, top_k: 20 })).toEqual(await full.similar('t', { text, top_k: 20 }));
      expect(await restored.recall('t', { text, top_k: 10 })).toEqual(await full.recall('t', { text, top_k: 10 }));
    }
    expect(restored.snapshotInfo()?.loaded).toBe(1);
    // The whole state, the vector rows (float and int8) compared as bytes (toEqual on them is slow).
    const { spaces: restoredSpaces, ...restoredRest } = ((await restored.view('t')) as PrimeProjection).exportState()!;
    const { spaces: fullSpaces, ...fullRest } = ((await full.view('t')) as PrimeProjection).exportState()!;
    expect(restoredRest).toEqual(fullRest);
    expect(restoredSpaces.map((s) => s.name)).toEqual(fullSpaces.map((s) => s.name));
    const bytes = (view: ArrayBufferView): Buffer => Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    restoredSpaces.forEach(({ vectors: r }, i) => {
      const f = fullSpaces[i].vectors;
      expect([r.slotIds, r.freeSlots]).toEqual([f.slotIds, f.freeSlots]);
      expect(bytes(r.data).equals(bytes(f.data)) && bytes(r.digests).equals(bytes(f.digests))).toBe(true);
      expect(r.int8 === undefined).toBe(f.int8 === undefined);
      if (r.int8 !== undefined && f.int8 !== undefined) {
        for (const key of ['rows', 'scale', 'error', 'length'] as const) expect(bytes(r.int8[key]).equals(bytes(f.int8[key]))).toBe(true);
      }
    });
    expect(restoredSpaces.find((s) => s.name === 'hash-ngram-v1')?.vectors.int8).toBeDefined();
    await restored.close();
    await full.close();
  });

  it('is written a while after a long hydration, and again on close only when it folded more', async () => {
    await seed('t', 50);
    const prime = createPrimeService({ store, dataDir, log: (line) => lines.push(line), snapshots: { minEvents: 10, delayMs: 20, minIntervalMs: 0, everyEvents: 5 } });
    await prime.stats('t');
    await sleep(300);
    expect(prime.snapshotInfo()?.written).toBe(1);
    await prime.addNode('t', { type: 'note', properties: { text: 'one more' } });
    await sleep(100);
    expect(prime.snapshotInfo()?.written).toBe(1); // 1 new event < everyEvents
    for (let i = 0; i < 5; i++) await prime.addNode('t', { type: 'note', properties: { text: `more ${i}` } });
    await sleep(300);
    expect(prime.snapshotInfo()?.written).toBe(2);
    await prime.close();
    expect(prime.snapshotInfo()?.written).toBe(2); // nothing new since
    expect(lines.some((line) => /wrote the Prime snapshot/.test(line))).toBe(true);

    // A one-shot process that adds a node and exits: its short tail is folded at the next start
    // instead of costing a whole snapshot at this exit. writeSnapshots() writes it anyway.
    const oneShot = createPrimeService({ store, dataDir, log: () => {}, snapshots: { minEvents: 10, delayMs: 3_600_000 } });
    await oneShot.addNode('t', { type: 'note', properties: { text: 'one-shot' } });
    await oneShot.stats('t');
    await oneShot.close();
    expect(oneShot.snapshotInfo()).toMatchObject({ loaded: 1, written: 0 });
    const forced = createPrimeService({ store, dataDir, log: () => {}, snapshots: { minEvents: 10, delayMs: 3_600_000 } });
    await forced.stats('t');
    await forced.writeSnapshots();
    expect(forced.snapshotInfo()).toMatchObject({ loaded: 1, written: 1 });
    await forced.close();
  });

  it('is not written for small tenants, nor without a data directory, nor when switched off', async () => {
    await seed('t', 5);
    const small = withSnapshots({ snapshots: { minEvents: 1000 } });
    await small.stats('t');
    await small.close();
    expect(small.snapshotInfo()?.written).toBe(0);
    const off = withSnapshots({ snapshots: false });
    await off.stats('t');
    await off.close();
    expect(off.snapshotInfo()).toBeNull();
    expect(existsSync(join(dataDir, 'prime'))).toBe(false);
  });
});

describe('a snapshot that does not check out is ignored', () => {
  async function writeOne(tenant = 't'): Promise<void> {
    await seed(tenant, 80);
    const writer = withSnapshots();
    await writer.stats(tenant);
    await writer.close();
    expect(writer.snapshotInfo()?.written).toBe(1);
  }

  /** A fresh service reads the tenant: it must fold the log, say why, and answer like a full fold. */
  async function expectIgnored(why: RegExp, tenant = 't'): Promise<void> {
    const prime = withSnapshots();
    const full = fromLog();
    expect(await answers(prime, tenant)).toEqual(await answers(full, tenant));
    expect(prime.snapshotInfo()).toMatchObject({ loaded: 0, rejected: 1 });
    expect(lines.join('\n')).toMatch(why);
    await prime.close();
    await full.close();
  }

  it('corrupt: a flipped byte in a block', async () => {
    await writeOne();
    const bytes = readFileSync(snapshotPath());
    bytes[Math.floor(bytes.length / 3)] ^= 0x55;
    writeFileSync(snapshotPath(), bytes);
    await expectIgnored(/ignoring the Prime snapshot .*(checksum|cannot be read|does not add up)/);
  });

  it('corrupt: truncated, or not a snapshot at all', async () => {
    await writeOne();
    const bytes = readFileSync(snapshotPath());
    writeFileSync(snapshotPath(), bytes.subarray(0, bytes.length - 100));
    await expectIgnored(/ignoring the Prime snapshot .*(not a projection snapshot|truncated)/);
    writeFileSync(snapshotPath(), 'hello');
    lines = [];
    await expectIgnored(/ignoring the Prime snapshot .*truncated/);
  });

  it('stale embedder: another embedder, or the same one at another length', async () => {
    await writeOne();
    const other = createHashEmbedder({ dims: 64 });
    const prime = withSnapshots({ embedder: other });
    await prime.stats('t');
    expect(prime.snapshotInfo()).toMatchObject({ loaded: 0, rejected: 1 });
    expect(lines.join('\n')).toMatch(/ignoring the Prime snapshot .*256-d embeddings, the embedder gives 64/);
    await prime.close();
    lines = [];
    const inner = createHashEmbedder();
    const renamed = { ...inner, name: 'test:other', describe: () => ({ ...inner.describe(), name: 'test:other' }) };
    const again = withSnapshots({ embedder: renamed });
    await again.stats('t');
    expect(lines.join('\n')).toMatch(/made with the embedder hash-ngram-v1, this process uses test:other/);
    await again.close();
  });

  it('another tenant: a snapshot file moved under another tenant is refused', async () => {
    await writeOne('t');
    await seed('u', 80);
    // Put t's snapshot where u's would be.
    const writer = withSnapshots();
    await writer.stats('u');
    await writer.close();
    const prime = join(dataDir, 'prime');
    const dirsNow = readdirSync(prime);
    expect(dirsNow.length).toBe(2);
    const [first, second] = dirsNow.map((d) => join(prime, d, SNAPSHOT_FILE));
    const a = readFileSync(first);
    writeFileSync(first, readFileSync(second));
    writeFileSync(second, a);
    await expectIgnored(/belongs to another tenant/, 't');
  });

  it('the log ends before it, or is another log (the anchor event is not the one it folded)', async () => {
    await writeOne();
    const snapshot = readFileSync(snapshotPath());
    // A new data directory whose log is shorter: the snapshot covers positions it never had.
    await store.close();
    const otherDir = join(root, `d${dirs++}`);
    store = await openEmbeddedCore({ dataDir: otherDir, durability: 'none' });
    await store.append('t', [nodeCreated('only', 'note', { text: 'the only node' })]);
    dataDir = otherDir;
    const seedWriter = withSnapshots();
    await seedWriter.stats('t'); // makes the tenant's prime directory
    await seedWriter.close();
    const placeholder = join(dataDir, 'prime');
    const [tenantDir] = readdirSync(placeholder);
    writeFileSync(join(placeholder, tenantDir, SNAPSHOT_FILE), snapshot);
    await expectIgnored(/beyond the log's last position/);

    // Same length and more, but different events: the anchor's hash does not match.
    await seed('t', 80, 99);
    writeFileSync(join(placeholder, tenantDir, SNAPSHOT_FILE), snapshot);
    lines = [];
    await expectIgnored(/(no longer has the last event|is not the one it folded)/);
  });

  it('a tombstone after it: rejected, folded from the log, and replaced by a fresh one', async () => {
    await writeOne();
    await store.tombstone('t', { entity_id: 'prime:node:n7', reason: 'test' });
    await expectIgnored(/tombstone or restore was recorded after it/);
    // The fold from the log wrote a fresh snapshot on close, which the next start uses.
    const next = withSnapshots();
    await next.stats('t');
    expect(next.snapshotInfo()).toMatchObject({ loaded: 1, rejected: 0 });
    await next.close();
    // A restore after it is a control event too.
    await store.restore('t', { entity_id: 'prime:node:n7', reason: 'test' });
    lines = [];
    await expectIgnored(/tombstone or restore was recorded after it/);
  });

  it('a snapshot taken after a tombstone is used (the tombstone is in it)', async () => {
    await seed('t', 80);
    await store.tombstone('t', { entity_id: 'prime:node:n7', reason: 'test' });
    const writer = withSnapshots();
    await writer.stats('t');
    await writer.close();
    await store.append('t', [nodeCreated('after', 'note', { text: 'after the tombstone' })]);
    const restored = withSnapshots();
    const full = fromLog();
    expect(await answers(restored, 't')).toEqual(await answers(full, 't'));
    expect(restored.snapshotInfo()).toMatchObject({ loaded: 1, rejected: 0 });
    expect((await restored.view('t')).node('n7')).toBeUndefined();
    await restored.close();
    await full.close();
  });

  it('never writes to stdout', async () => {
    const written: unknown[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: unknown) => (written.push(chunk), true)) as typeof process.stdout.write;
    try {
      await writeOne();
      writeFileSync(snapshotPath(), 'garbage garbage garbage garbage');
      const prime = withSnapshots();
      await prime.stats('t');
      await prime.close();
    } finally {
      process.stdout.write = original;
    }
    expect(written).toEqual([]);
    expect(lines.some((line) => /ignoring the Prime snapshot/.test(line))).toBe(true);
  });
});
