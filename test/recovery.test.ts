// Recovery of the write-ahead log from damaged bytes: a torn tail (a write that never finished)
// is truncated and reported; a complete frame that fails its checksum, or a corrupt frame with
// valid frames after it, refuses to open, naming file, offset and the repair command; a read-only
// open never changes a byte.

import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedCore } from '../src/index.js';
import { decodeBatch, scanWal, WAL_MAGIC, FRAME_HEADER_BYTES } from '../src/core/embedded/wal.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-recovery-'));
const source = join(root, 'source');
let walName = '';
let image: Buffer;
/** Byte offset where each frame starts, and the cumulative event count after it. */
const frames: Array<{ start: number; end: number; eventsAfter: number }> = [];

beforeAll(async () => {
  const store = await openEmbeddedCore({ dataDir: source, durability: 'none', rollInWorker: false, log: () => {} });
  let total = 0;
  for (let batch = 0; batch < 12; batch++) {
    const size = 1 + (batch % 4);
    await store.append('t', Array.from({ length: size }, (_, k) => ({ entity_id: `e${k % 2}`, event_type: 'thing.happened', payload: { batch, k, text: 'é✓'.repeat(batch) } })));
    total += size;
  }
  // A last frame spanning several sectors, so a write torn at a sector boundary can be staged.
  await store.append('t', [{ entity_id: 'big', event_type: 'thing.happened', payload: { text: 'x'.repeat(3000) } }]);
  total += 1;
  await store.close();
  walName = readdirSync(join(source, 'wal'))[0];
  image = readFileSync(join(source, 'wal', walName));
  const scan = scanWal(image, walName);
  expect(scan.bodies.length).toBe(13);
  let offset = WAL_MAGIC.length;
  let count = 0;
  for (const body of scan.bodies) {
    count += decodeBatch(body).length;
    frames.push({ start: offset, end: offset + FRAME_HEADER_BYTES + body.length, eventsAfter: count });
    offset += FRAME_HEADER_BYTES + body.length;
  }
  expect(count).toBe(total);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let caseNo = 0;
/** Copies the source data dir with the log replaced by `bytes`. */
function damagedCopy(bytes: Buffer): string {
  const dir = join(root, `case-${caseNo++}`);
  mkdirSync(join(dir, 'wal'), { recursive: true });
  for (const name of readdirSync(source)) if (name.endsWith('.json')) copyFileSync(join(source, name), join(dir, name));
  writeFileSync(join(dir, 'wal', walName), bytes);
  return dir;
}

async function countAfterOpen(dir: string, logs: string[]): Promise<number> {
  const store = await openEmbeddedCore({ dataDir: dir, rollInWorker: false, log: (line) => logs.push(line) });
  try {
    const stats = await store.stats('t');
    expect((await store.verify('t')).ok).toBe(true);
    // The store must take new writes after recovering.
    await store.append('t', [{ entity_id: 'after', event_type: 'recovered', payload: {} }]);
    return stats.events;
  } finally {
    await store.close();
  }
}

describe('write-ahead log recovery', () => {
  it('truncating the log at any offset keeps exactly the complete frames before it', async () => {
    const offsets = new Set<number>([0, 3, WAL_MAGIC.length]);
    for (const f of frames) for (const delta of [0, 1, 4, FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + 1]) offsets.add(f.start + delta);
    for (let o = 0; o < image.length; o += 37) offsets.add(o);
    offsets.add(image.length - 1);
    for (const cut of [...offsets].filter((o) => o < image.length).sort((a, b) => a - b)) {
      const logs: string[] = [];
      const expected = frames.filter((f) => f.end <= cut).at(-1)?.eventsAfter ?? 0;
      const atBoundary = cut <= WAL_MAGIC.length ? cut === 0 || cut === WAL_MAGIC.length : frames.some((f) => f.end === cut);
      expect(await countAfterOpen(damagedCopy(image.subarray(0, cut)), logs), `cut at ${cut}`).toBe(expected);
      if (!atBoundary) expect(logs.join('\n'), `cut at ${cut}`).toMatch(/truncated a torn write of \d+ bytes .*never acknowledged/);
    }
  }, 60_000);

  it('a last frame the file ends inside is a torn write: truncated and reported as never acknowledged', async () => {
    const last = frames.at(-1)!;
    // The length field made larger than the file: the header promises bytes that were never written.
    const bytes = Buffer.from(image);
    bytes.writeUInt32LE(bytes.readUInt32LE(last.start) + 100, last.start);
    const logs: string[] = [];
    expect(await countAfterOpen(damagedCopy(bytes), logs)).toBe(frames.at(-2)!.eventsAfter);
    expect(logs.join('\n')).toContain(`truncated a torn write of ${last.end - last.start} bytes at offset ${last.start}`);
    expect(logs.join('\n')).toContain('never acknowledged');
  });

  it('a last frame whose end is still the preallocated zeros, from a sector boundary on, is a torn write', async () => {
    const last = frames.at(-1)!;
    // The active log is zero-filled ahead of the writes; a write cut short leaves zeros from a
    // sector (page) boundary inside the frame to the end of the file.
    const bytes = Buffer.concat([image, Buffer.alloc(8192)]);
    const boundary = Math.ceil((last.start + FRAME_HEADER_BYTES + 1) / 512) * 512;
    expect(boundary).toBeLessThan(last.end);
    bytes.fill(0, boundary);
    const logs: string[] = [];
    expect(await countAfterOpen(damagedCopy(bytes), logs)).toBe(frames.at(-2)!.eventsAfter);
    expect(logs.join('\n')).toMatch(new RegExp(`truncated a torn write of \\d+ bytes at offset ${last.start}.*unwritten zeros`));
  });

  it('a complete last frame that fails its checksum refuses to open (writable or read-only), pointing to repair, and changes nothing', async () => {
    const last = frames.at(-1)!;
    for (const at of [last.start + 4, last.start + FRAME_HEADER_BYTES + 2, last.end - 1]) {
      const bytes = Buffer.from(image);
      bytes[at] ^= 0xff;
      const dir = damagedCopy(bytes);
      for (const readOnly of [false, true]) {
        const logs: string[] = [];
        const opening = openEmbeddedCore({ dataDir: dir, rollInWorker: false, readOnly, log: (line) => logs.push(line) });
        await expect(opening).rejects.toMatchObject({ code: 'unavailable' });
        await expect(opening).rejects.toThrow(`allsource repair --data ${dir} --file ${walName} --truncate-at ${last.start}`);
        await expect(opening).rejects.toThrow(`keeps the ${frames.at(-2)!.eventsAfter} events before that offset`);
        await expect(opening).rejects.not.toThrow(/never acknowledged/);
        expect(logs.join('\n')).not.toMatch(/truncated/);
        expect(readFileSync(join(dir, 'wal', walName)).equals(bytes), `byte ${at}, read-only ${readOnly}`).toBe(true);
      }
    }
  });

  it('a log whose magic is damaged refuses to open and advises a backup, not a cut that could keep nothing', async () => {
    const bytes = Buffer.from(image);
    bytes[2] ^= 0xff;
    const opening = openEmbeddedCore({ dataDir: damagedCopy(bytes), rollInWorker: false, log: () => {} });
    await expect(opening).rejects.toThrow(/offset 0 \(bad magic.*restore the file from a backup/);
    await expect(opening).rejects.not.toThrow('allsource repair');
  });

  it('a read-only open skips a torn write in memory and leaves the file as it is', async () => {
    const cut = frames.at(-1)!.start + 20;
    const bytes = image.subarray(0, cut);
    const dir = damagedCopy(bytes);
    const logs: string[] = [];
    const store = await openEmbeddedCore({ dataDir: dir, rollInWorker: false, readOnly: true, log: (line) => logs.push(line) });
    try {
      expect((await store.stats('t')).events).toBe(frames.at(-2)!.eventsAfter);
      expect((await store.verify('t')).ok).toBe(true);
      await expect(store.append('t', [{ entity_id: 'x', event_type: 'y', payload: {} }])).rejects.toMatchObject({ code: 'forbidden' });
    } finally {
      await store.close();
    }
    expect(logs.join('\n')).toMatch(/skipped a torn write of 20 bytes .*left as it is/);
    expect(readFileSync(join(dir, 'wal', walName)).equals(bytes)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['wal']);
  });

  it('garbage appended after the last frame is truncated', async () => {
    const logs: string[] = [];
    const bytes = Buffer.concat([image, Buffer.from([0, 0, 0, 9, 1, 2, 3])]);
    expect(await countAfterOpen(damagedCopy(bytes), logs)).toBe(frames.at(-1)!.eventsAfter);
    expect(logs.join('\n')).toContain('truncated a torn write of 7 bytes');
  });

  it('a corrupt frame followed by valid frames refuses to open, naming the file and offset', async () => {
    for (const frame of frames.slice(0, -1)) {
      for (const at of [frame.start + 1, frame.start + FRAME_HEADER_BYTES + 3, frame.end - 1]) {
        const bytes = Buffer.from(image);
        bytes[at] ^= 0x5a;
        const dir = damagedCopy(bytes);
        const opening = openEmbeddedCore({ dataDir: dir, rollInWorker: false, log: () => {} });
        await expect(opening).rejects.toThrow(new RegExp(`${walName}.*offset ${frame.start}\\b`));
        // The advice keeps the events before the damage; moving the file aside would lose them all.
        await expect(opening).rejects.toThrow(`allsource repair --data ${dir} --file ${walName} --truncate-at ${frame.start}`);
        await expect(opening).rejects.not.toThrow('move it aside');
        // Refusing must not change the file.
        expect(readFileSync(join(dir, 'wal', walName)).equals(bytes)).toBe(true);
      }
    }
  });
});
