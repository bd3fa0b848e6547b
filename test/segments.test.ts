// Parquet segments: exact roundtrip of events, atomic file writes, rolling real write-ahead logs
// in-process and in a worker thread, and the file being directly queryable with DuckDB.

import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSegment, readSegmentFile } from '../src/core/embedded/segmentDecode.js';
import { encodeSegment, SEGMENT_COLUMNS, writeSegmentFile } from '../src/core/embedded/segments.js';
import { SegmentRoller } from '../src/core/embedded/segmentRoller.js';
import { encodeBatch, encodeFrame, encodeRecordFrame, readWalEvents, WAL_MAGIC } from '../src/core/embedded/wal.js';
import { canonicalEvent } from '../src/core/hash.js';
import type { JsonObject, StoredEvent } from '../src/core/types.js';

const EVENT_KEYS = ['id', 'tenant_id', 'entity_id', 'event_type', 'payload', 'metadata', 'timestamp', 'occurred_at', 'version', 'position', 'hash'];

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `count` events alternating between two tenants, with the awkward cases sprinkled in. */
function sampleEvents(count: number, firstPosition = 1): StoredEvent[] {
  const events: StoredEvent[] = [];
  const versions = new Map<string, number>();
  const base = Date.parse('2025-03-01T12:00:00.000Z');
  for (let i = 0; i < count; i++) {
    const position = firstPosition + i;
    const tenant = i % 2 === 0 ? 'acme' : 'globex';
    const entity = i % 7 === 0 ? `ユーザー-${i % 5}-🚀` : `user-${i % 11}`;
    const key = `${tenant}/${entity}`;
    const version = (versions.get(key) ?? 0) + 1;
    versions.set(key, version);
    const timestamp = new Date(base + Math.floor(i / 3) * 1000).toISOString();
    const payload: JsonObject =
      i % 3 === 0
        ? { n: i, name: `user ${i}`, plan: i % 2 ? 'pro' : 'free', tags: ['a', 'b'] }
        : { nested: { deep: { list: [1, 2.5, -3e-7, null, true, { x: 'ü' }] }, empty: {} }, text: 'line\nbreak "quoted" \\ café ☕ 𝄞', n: -0.125 };
    events.push({
      id: i % 10 === 0 ? `idempotency-key-${i}-ñ` : `0190a0b0-0000-7000-8000-${String(position).padStart(12, '0')}`,
      tenant_id: tenant,
      entity_id: entity,
      event_type: ['user.created', 'user.updated', 'note.added', 'prime.node.created'][i % 4],
      payload,
      metadata: i % 4 === 0 ? null : { source: 'test', trace: [i, 'x'], 'ключ': 'значение' },
      timestamp,
      // occurred_at differs from the recorded time (earlier, even before 1970) on some events.
      occurred_at: i % 5 === 0 ? new Date(base - 86_400_000 * (i + 1)).toISOString() : i % 17 === 0 ? '1969-07-20T20:17:40.123Z' : timestamp,
      version,
      position,
      hash: sha256(`event ${position}`),
    });
  }
  return events;
}

function walFile(dir: string, name: string, batches: StoredEvent[][]): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([WAL_MAGIC, ...batches.map((batch) => encodeFrame(encodeBatch(batch)))]));
  return path;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'allsource-segments-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('segment encoding', () => {
  it('documents the columns in file order', () => {
    expect(SEGMENT_COLUMNS.map((c) => c.name)).toEqual([
      'position', 'tenant_id', 'entity_id', 'event_type', 'id', 'version', 'timestamp', 'occurred_at', 'payload', 'metadata', 'hash',
    ]);
    for (const column of SEGMENT_COLUMNS) expect(column.description.length).toBeGreaterThan(10);
  });

  it('roundtrips events exactly, as frozen objects with one property order', () => {
    const events = sampleEvents(300);
    const decoded = decodeSegment(encodeSegment(events));
    expect(decoded).toEqual(events);
    for (const event of decoded) {
      expect(Object.keys(event)).toEqual(EVENT_KEYS);
      expect(Object.isFrozen(event)).toBe(true);
    }
    // Payload text survives exactly.
    for (let i = 0; i < events.length; i++) expect(JSON.stringify(decoded[i].payload)).toBe(JSON.stringify(events[i].payload));
    const shifted = decoded.find((e) => e.occurred_at !== e.timestamp);
    expect(shifted).toBeDefined();
    expect(decoded.some((e) => e.occurred_at === '1969-07-20T20:17:40.123Z')).toBe(true);
  });

  it('sorts rows by position and drops a deleted flag', () => {
    const events = sampleEvents(20);
    const shuffled = [...events].reverse().map((e, i) => (i === 0 ? { ...e, deleted: true as const } : e));
    const decoded = decodeSegment(encodeSegment(shuffled));
    expect(decoded.map((e) => e.position)).toEqual(events.map((e) => e.position));
    expect(decoded.every((e) => !('deleted' in e))).toBe(true);
    expect(decoded).toEqual(events);
  });

  it('refuses malformed hashes and duplicate positions', () => {
    const [event] = sampleEvents(1);
    expect(() => encodeSegment([{ ...event, hash: event.hash.toUpperCase() }])).toThrow(/malformed hash/);
    expect(() => encodeSegment([event, { ...event }])).toThrow(/position 1 occurs twice/);
  });

  it('encodes and decodes an empty segment', () => {
    expect(decodeSegment(encodeSegment([]))).toEqual([]);
  });

  it('reads every row group of a segment larger than one group', () => {
    // 128k rows per group: 140k rows make two groups, read one at a time.
    const count = 140_000;
    const hash = sha256('x');
    const events: StoredEvent[] = [];
    for (let i = 0; i < count; i++) {
      const timestamp = new Date(1_700_000_000_000 + Math.floor(i / 100)).toISOString();
      events.push({
        id: `e${i}`, tenant_id: 't', entity_id: `e-${i % 100}`, event_type: 'x', payload: { i }, metadata: null,
        timestamp, occurred_at: timestamp, version: Math.floor(i / 100) + 1, position: 3_000_000_000 + i, hash,
      });
    }
    const decoded = decodeSegment(encodeSegment(events));
    expect(decoded.length).toBe(count);
    expect(decoded[131_071]).toEqual(events[131_071]);
    expect(decoded[131_072]).toEqual(events[131_072]);
    expect(decoded[count - 1]).toEqual(events[count - 1]);
    // Positions beyond 2^31 come back exact.
    expect(decoded[count - 1].position).toBe(3_000_000_000 + count - 1);
  });
});

describe('log frames', () => {
  it('a frame written from record parts is byte for byte the frame of the joined records', () => {
    const events = sampleEvents(50);
    const parts = events.flatMap((e) => [canonicalEvent(e, JSON.stringify(e.payload), JSON.stringify(e.metadata)), e.hash]);
    expect(encodeRecordFrame(parts).equals(encodeFrame(encodeBatch(events)))).toBe(true);
    // A lone surrogate is written as U+FFFD by both paths.
    expect(encodeRecordFrame(['a\ud800b', 'c']).equals(encodeFrame(Buffer.from('a\ud800b\nc', 'utf8')))).toBe(true);
  });
});

describe('segment files', () => {
  it('writes atomically (no temporary file left) and reads back', async () => {
    const events = sampleEvents(50);
    const path = join(dir, 'atomic.parquet');
    const stats = await writeSegmentFile(path, events);
    expect(stats.rows).toBe(50);
    expect(stats.bytes).toBeGreaterThan(0);
    expect(readdirSync(dir).filter((f) => f.startsWith('atomic'))).toEqual(['atomic.parquet']);
    expect(readSegmentFile(path)).toEqual(events);
    // Rewriting replaces the file whole.
    await writeSegmentFile(path, events.slice(0, 5));
    expect(readSegmentFile(path)).toEqual(events.slice(0, 5));
  });

  it('names the file when it cannot be read', () => {
    const path = join(dir, 'garbage.parquet');
    writeFileSync(path, Buffer.from('definitely not parquet'));
    expect(() => readSegmentFile(path)).toThrow(/garbage\.parquet cannot be read/);
  });
});

describe.each([
  { mode: 'in-process', inWorker: false },
  { mode: 'worker thread', inWorker: true },
])('SegmentRoller ($mode)', ({ mode, inWorker }) => {
  it('rolls sealed logs into one segment and reports its stats', async () => {
    const events = sampleEvents(120, 1001);
    const first = walFile(dir, `${mode}-1.log`, [events.slice(0, 40), events.slice(40, 70)]);
    const second = walFile(dir, `${mode}-2.log`, [events.slice(70)]);
    expect([...readWalEvents(first), ...readWalEvents(second)]).toEqual(events);
    const roller = new SegmentRoller({ inWorker });
    try {
      const path = join(dir, `${mode}.parquet`);
      // Two rolls requested at once run one after the other.
      const [stats, again] = await Promise.all([roller.roll([first, second], path), roller.roll([second], join(dir, `${mode}-second.parquet`))]);
      expect(stats).toEqual({ rows: 120, bytes: stats.bytes, first_position: 1001, last_position: 1120 });
      expect(stats.bytes).toBeGreaterThan(0);
      expect(again).toMatchObject({ rows: 50, first_position: 1071, last_position: 1120 });
      expect(readSegmentFile(path)).toEqual(events);
      expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(false);
    } finally {
      await roller.close();
    }
  });

  it('rejects a failed roll with the reason and keeps working', async () => {
    const roller = new SegmentRoller({ inWorker });
    try {
      const missing = join(dir, `${mode}-missing.log`);
      await expect(roller.roll([missing], join(dir, `${mode}-never.parquet`))).rejects.toThrow(/missing\.log/);
      const corrupt = join(dir, `${mode}-corrupt.log`);
      writeFileSync(corrupt, Buffer.from('not a write-ahead log at all'));
      await expect(roller.roll([corrupt], join(dir, `${mode}-never.parquet`))).rejects.toThrow(/bad magic/);
      const events = sampleEvents(3);
      const ok = await roller.roll([walFile(dir, `${mode}-ok.log`, [events])], join(dir, `${mode}-ok.parquet`));
      expect(ok.rows).toBe(3);
      // No events: nothing to write.
      const empty = await roller.roll([walFile(dir, `${mode}-empty.log`, [])], join(dir, `${mode}-empty.parquet`));
      expect(empty).toEqual({ rows: 0, bytes: 0, first_position: 0, last_position: 0 });
    } finally {
      await roller.close();
    }
    await expect(roller.roll([], join(dir, 'closed.parquet'))).rejects.toThrow(/closed/);
  });
});

describe('querying a segment with DuckDB', () => {
  it('reads columns, JSON payloads and timestamps', async () => {
    const events = sampleEvents(300);
    const path = join(dir, 'duck.parquet');
    await writeSegmentFile(path, events);
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const file = `read_parquet('${path.replaceAll("'", "''")}')`;
      const perTenant = await connection.runAndReadAll(`SELECT tenant_id, count(*)::INTEGER AS n, max(position)::INTEGER AS last FROM ${file} GROUP BY tenant_id ORDER BY tenant_id`);
      expect(perTenant.getRowObjectsJS()).toEqual([
        { tenant_id: 'acme', n: 150, last: 299 },
        { tenant_id: 'globex', n: 150, last: 300 },
      ]);

      const payloads = await connection.runAndReadAll(
        `SELECT position::INTEGER AS position, payload->>'$.name' AS name, json_extract(payload, '$.tags[1]')::VARCHAR AS tag,
                payload->>'$.nested.deep.list[5].x' AS deep, metadata->>'$.ключ' AS meta, entity_id, octet_length(hash)::INTEGER AS hash_bytes
         FROM ${file} WHERE position IN (1, 2, 8) ORDER BY position`,
      );
      expect(payloads.getRowObjectsJS()).toEqual([
        { position: 1, name: 'user 0', tag: '"b"', deep: null, meta: null, entity_id: 'ユーザー-0-🚀', hash_bytes: 32 },
        { position: 2, name: null, tag: null, deep: 'ü', meta: 'значение', entity_id: 'user-1', hash_bytes: 32 },
        { position: 8, name: null, tag: null, deep: 'ü', meta: 'значение', entity_id: 'ユーザー-2-🚀', hash_bytes: 32 },
      ]);

      const hashes = await connection.runAndReadAll(`SELECT lower(hex(hash)) AS hash FROM ${file} ORDER BY position LIMIT 1`);
      expect(hashes.getRowObjectsJS()).toEqual([{ hash: events[0].hash }]);

      const times = await connection.runAndReadAll(
        `SELECT typeof(timestamp) AS ts_type, typeof(occurred_at) AS occurred_type, epoch_ms(timestamp)::BIGINT AS ms FROM ${file} ORDER BY position LIMIT 1`,
      );
      const [row] = times.getRowObjectsJS();
      expect(row.ts_type).toMatch(/^TIMESTAMP/);
      expect(row.occurred_type).toMatch(/^TIMESTAMP/);
      expect(Number(row.ms)).toBe(Date.parse(events[0].timestamp));

      const types = await connection.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${file})`);
      expect(types.getRowObjectsJS().map((r) => r.column_name)).toEqual(SEGMENT_COLUMNS.map((c) => c.name));
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
