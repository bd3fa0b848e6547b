// `allsource repair` end to end on real files: events are written through the CLI, bytes of the log
// are damaged, and the refusal, the dry run, the cut (with its backup) and the reopen are checked
// through the built binary.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanWal, WAL_MAGIC, FRAME_HEADER_BYTES } from '../src/core/embedded/wal.js';
import { DirectoryLock } from '../src/core/embedded/lock.js';
import { BIN, runCli, type CliRun } from './helpers/runCli.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-repair-'));
const LOG = '000000000001.log';
let dirs = 0;

function cli(args: string[], input = ''): Promise<CliRun> {
  return runCli(args, { ...process.env, HOME: root, ALLSOURCE_DATA: '', ALLSOURCE_DEBUG: '' }, input);
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does it)`);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A data directory with `batches` single-event appends (one frame each); returns it and the frame starts. */
async function storeWithFrames(batches: number): Promise<{ dir: string; starts: number[]; size: number }> {
  const dir = join(root, `data-${++dirs}`);
  const lines = Array.from({ length: batches }, (_, i) => JSON.stringify({ entity_id: `e${i}`, event_type: 'thing.noted', payload: { i }, id: `evt-${i}` }));
  const run = await cli(['--data', dir, 'ingest', '--batch-size', '1'], lines.join('\n') + '\n');
  expect(run.code, run.stderr).toBe(0);
  const image = readFileSync(join(dir, 'wal', LOG));
  const starts: number[] = [];
  let offset = WAL_MAGIC.length;
  for (const body of scanWal(image, LOG).bodies) {
    starts.push(offset);
    offset += FRAME_HEADER_BYTES + body.length;
  }
  expect(starts.length).toBe(batches);
  return { dir, starts, size: image.length };
}

function flipByte(dir: string, at: number): Buffer {
  const path = join(dir, 'wal', LOG);
  const bytes = readFileSync(path);
  bytes[at] ^= 0x5a;
  writeFileSync(path, bytes);
  return bytes;
}

describe('allsource repair', () => {
  it('a log corrupt mid-file: the refusal names the command; the dry run counts; the cut keeps the events before it and backs the file up', async () => {
    const { dir, starts, size } = await storeWithFrames(6);
    const damagedAt = starts[3];
    const damaged = flipByte(dir, damagedAt + FRAME_HEADER_BYTES + 5);

    const refused = await cli(['--data', dir, 'stats']);
    expect(refused.code).toBe(1);
    const command = `allsource repair --data ${dir} --file ${LOG} --truncate-at ${damagedAt}`;
    expect(refused.stderr).toContain(`error: unavailable: write-ahead log ${join(dir, 'wal', LOG)} is corrupt at byte offset ${damagedAt}`);
    expect(refused.stderr).toContain(command);
    expect(refused.stderr).not.toContain('move it aside to discard');

    const dry = await cli(['--data', dir, '--json', 'repair', '--truncate-at', String(damagedAt), '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan).toMatchObject({
      file: LOG,
      dry_run: true,
      bytes: size,
      truncate_at: damagedAt,
      kept: { events: 3, frames: 3, bytes: damagedAt },
      // The damaged frame's event is unreadable; the two frames after it still check out.
      lost: { bytes: size - damagedAt, events: 2, frames: 2 },
      damage: { offset: damagedAt },
      backup: null,
      in_use_by: null,
    });
    expect(readFileSync(join(dir, 'wal', LOG)).equals(damaged)).toBe(true);
    expect(readdirSync(join(dir, 'wal'))).toEqual([LOG]);

    // The command exactly as the refusal names it, minus the program name.
    const repaired = await cli(command.split(' ').slice(1));
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toContain(`cut ${LOG} at byte ${damagedAt}`);
    expect(repaired.stdout).toMatch(/kept\s+3 events in 3 frames/);
    const backups = readdirSync(join(dir, 'wal')).filter((name) => name.startsWith(`${LOG}.bak-`));
    expect(backups).toHaveLength(1);
    expect(readFileSync(join(dir, 'wal', backups[0])).equals(damaged)).toBe(true);
    expect(readFileSync(join(dir, 'wal', LOG)).length).toBe(damagedAt);

    const events = await cli(['--data', dir, '--json', 'query']);
    expect(events.code, events.stderr).toBe(0);
    expect((JSON.parse(events.stdout) as { events: Array<{ id: string }> }).events.map((e) => e.id)).toEqual(['evt-0', 'evt-1', 'evt-2']);
    const verified = await cli(['--data', dir, 'call', 'verify_integrity', '{}']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });
    // The store takes writes again.
    expect((await cli(['--data', dir, 'ingest'], '{"entity_id":"after","event_type":"repaired","payload":{}}\n')).code).toBe(0);
  }, 60_000);

  it('a complete last frame with a bad checksum is refused by reads too, and repaired at its start', async () => {
    const { dir, starts } = await storeWithFrames(3);
    const damaged = flipByte(dir, starts[2] + 4);
    for (const args of [['stats'], ['query'], ['state', 'e0'], ['ingest']]) {
      const run = await cli(['--data', dir, ...args], '{"entity_id":"x","event_type":"y","payload":{}}\n');
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr).toContain(`--truncate-at ${starts[2]}`);
      expect(run.stderr).not.toContain('never acknowledged');
      expect(readFileSync(join(dir, 'wal', LOG)).equals(damaged), args.join(' ')).toBe(true);
    }
    // Default file: the damaged one.
    const repaired = await cli(['--data', dir, '--json', 'repair', '--truncate-at', String(starts[2])]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(JSON.parse(repaired.stdout)).toMatchObject({ file: LOG, kept: { events: 2 }, lost: { events: 0, frames: 0 } });
    expect((await cli(['--data', dir, 'stats'])).stdout).toMatch(/tenant\.events\s+2\b/);
  }, 60_000);

  it('refuses while another process holds the directory, and a second cut never overwrites a backup', async () => {
    const { dir, starts } = await storeWithFrames(4);
    flipByte(dir, starts[1] + FRAME_HEADER_BYTES + 1);
    const lock = DirectoryLock.acquire(dir);
    try {
      const run = await cli(['--data', dir, 'repair', '--truncate-at', String(starts[1])]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`error: unavailable: data directory ${dir} is in use by process ${process.pid}`);
      expect(readdirSync(join(dir, 'wal'))).toEqual([LOG]);
      // A dry run still works, and says who holds it.
      const dry = await cli(['--data', dir, '--json', 'repair', '--truncate-at', String(starts[1]), '--dry-run']);
      expect(JSON.parse(dry.stdout)).toMatchObject({ in_use_by: process.pid, kept: { events: 1 } });
    } finally {
      lock.release();
    }
    expect((await cli(['--data', dir, 'repair', '--truncate-at', String(starts[1])])).code).toBe(0);
    // Cutting further back (a person's choice) makes a second backup beside the first.
    expect((await cli(['--data', dir, 'repair', '--truncate-at', String(starts[0])])).code).toBe(0);
    expect(readdirSync(join(dir, 'wal')).filter((name) => name.includes('.bak-'))).toHaveLength(2);
  }, 60_000);

  it('bad input gets an error naming the field, and changes nothing', async () => {
    const { dir, starts } = await storeWithFrames(3);
    const before = readFileSync(join(dir, 'wal', LOG));
    const cases: Array<[string[], number, RegExp]> = [
      [['repair'], 2, /required option '--truncate-at <offset>'/],
      [['repair', '--truncate-at', '-3'], 2, /--truncate-at/],
      [['repair', '--truncate-at', 'ten'], 2, /--truncate-at/],
      [['repair', '--truncate-at', String(starts[1] + 3)], 1, /error: invalid: truncate_at: \d+ is not a frame boundary .*nearest boundaries are/],
      [['repair', '--truncate-at', String(before.length)], 1, /error: invalid: truncate_at: .*nothing after it/],
      [['repair', '--truncate-at', String(starts[1]), '--file', '../../etc/passwd'], 1, /error: invalid: file: must be the name of a log file/],
      [['repair', '--truncate-at', String(starts[1]), '--file', '000000000009.log'], 1, /error: not_found: file 000000000009\.log is not in/],
    ];
    for (const [args, code, message] of cases) {
      const run = await cli(['--data', dir, ...args]);
      expect(run.code, args.join(' ')).toBe(code);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
    const missing = await cli(['--data', join(root, 'nowhere'), 'repair', '--truncate-at', '8']);
    expect(missing.stderr).toMatch(/error: not_found: data directory .*nowhere does not exist/);
    const notADirectory = await cli(['--data', join(dir, 'wal', LOG), 'repair', '--truncate-at', '8']);
    expect(notADirectory.stderr).toMatch(/error: invalid: data: .* is not a directory/);
    expect(readFileSync(join(dir, 'wal', LOG)).equals(before)).toBe(true);
    expect(readdirSync(join(dir, 'wal'))).toEqual([LOG]);
  }, 60_000);
});
