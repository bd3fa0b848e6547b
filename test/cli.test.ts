// The debug CLI end to end: each test spawns the built `node dist/bin/allsource.js` (npm test builds
// first) against a fresh temp data directory, and checks exit codes, stdout and stderr.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntityState, QueryResult, StoredEvent } from '../src/core/types.js';
import { BIN, runCli, type CliRun } from './helpers/runCli.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-cli-'));
let dirCount = 0;

/** A data directory path that does not exist yet (ingest creates it). */
function freshData(): string {
  return join(root, `data-${++dirCount}`);
}

type Run = CliRun;

/** Runs the CLI with `args`, feeding `input` on stdin; never inherits the caller's ALLSOURCE_* settings. */
function cli(args: string[], input = ''): Promise<Run> {
  return runCli(args, { ...process.env, HOME: root, ALLSOURCE_DATA: '', ALLSOURCE_DEBUG: '' }, input);
}

function jsonl(events: object[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}

function writeInput(name: string, text: string): string {
  const path = join(root, name);
  writeFileSync(path, text);
  return path;
}

/** A typed store error or a runtime failure never dumps a stack by default. */
function expectNoStack(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m);
}

const USERS = [
  { entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada', plan: 'free' }, id: 'evt-1' },
  { entity_id: 'user-2', event_type: 'user.created', payload: { name: 'Bob', plan: 'pro', seats: 3 }, id: 'evt-2' },
  { entity_id: 'user-1', event_type: 'user.upgraded', payload: { plan: 'pro' }, id: 'evt-3' },
  { entity_id: 'order-1', event_type: 'order.placed', payload: { total: 42, customer: { id: 'user-1' } }, id: 'evt-4' },
  { entity_id: 'user-2', event_type: 'user.renamed', payload: { name: 'Robert' }, id: 'evt-5' },
];

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does it)`);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('allsource --help and --version', () => {
  it('lists the commands and the global options, and exits 0', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    for (const word of ['ingest', 'query', 'state', 'stats', '--data', '--tenant', '--json']) expect(run.stdout).toContain(word);
  });

  it('shows a subcommand with its flags and the global options', async () => {
    const run = await cli(['query', '--help']);
    expect(run.code).toBe(0);
    for (const flag of ['--entity-prefix', '--where', '--as-of', '--all', '--cursor', '--data']) expect(run.stdout).toContain(flag);
  });

  it('prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const run = await cli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });

  it('exits 2 on usage errors', async () => {
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const badChoice = await cli(['query', '--order', 'sideways', '--data', freshData()]);
    expect(badChoice.code).toBe(2);
    const badWhere = await cli(['query', '--where', 'no-equals-sign', '--data', freshData()]);
    expect(badWhere.code).toBe(2);
    expect(badWhere.stderr).toContain('path=value');
  });
});

describe('ingest', () => {
  it('ingests a JSONL file in batches, skipping blank lines, and reports a JSON summary', async () => {
    const data = freshData();
    const file = writeInput('users.jsonl', jsonl(USERS.slice(0, 2)) + '\n   \n' + jsonl(USERS.slice(2)));
    const run = await cli(['ingest', file, '--data', data, '--batch-size', '2', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ lines: 5, events: 5, duplicates: 0, batches: 3, last_position: expect.any(Number) });
    expect(summary.seconds).toBeGreaterThanOrEqual(0);
    expect(summary.events_per_second).toBeGreaterThanOrEqual(0);

    const stats = JSON.parse((await cli(['stats', '--data', data, '--json'])).stdout);
    expect(stats.tenant.events).toBe(5);
  });

  it('reads stdin when FILE is - or omitted, and counts re-sent ids as duplicates', async () => {
    const data = freshData();
    const first = await cli(['ingest', '-', '--data', data], jsonl(USERS.slice(0, 3)));
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/ingested 3 events from 3 lines in 1 batch/);

    const again = await cli(['ingest', '--data', data, '--json'], jsonl(USERS));
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ lines: 5, events: 2, duplicates: 3, batches: 1 });
  });

  it('--idempotent derives ids from content: a rerun records nothing, two identical lines stay two, a new line is one new event', async () => {
    const data = freshData();
    const noIds = USERS.map(({ id: _id, ...rest }) => rest);
    // Line 6 repeats line 1 word for word (keys in another order): a second, real event.
    const repeated = { payload: { plan: 'free', name: 'Ada' }, event_type: 'user.created', entity_id: 'user-1' };
    const file = writeInput('no-ids.jsonl', jsonl([...noIds, repeated, USERS[0]]));
    const first = await cli(['ingest', file, '--data', data, '--idempotent', '--batch-size', '3']);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/^ingested 7 new events, 0 already recorded, from 7 lines in 3 batches/);
    const again = await cli(['ingest', file, '--data', data, '--idempotent', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ lines: 7, events: 0, duplicates: 7, idempotent: true });
    expect(JSON.parse((await cli(['stats', '--data', data, '--json'])).stdout).tenant.events).toBe(7);
    // The same records with one more in the middle: only that one is new.
    const grown = writeInput('no-ids-grown.jsonl', jsonl([...noIds.slice(0, 2), { entity_id: 'user-9', event_type: 'user.created', payload: { name: 'Cy' } }, ...noIds.slice(2), repeated, USERS[0]]));
    const third = await cli(['ingest', grown, '--data', data, '--idempotent']);
    expect(third.stdout).toMatch(/^ingested 1 new event, 7 already recorded, from 8 lines/);
    // A record's own id is kept: the event is found under it.
    const own = JSON.parse((await cli(['query', '--data', data, '--entity', 'user-1', '--json'])).stdout) as { events: Array<{ id: string }> };
    expect(own.events.map((e) => e.id)).toContain('evt-1');
    expect(own.events.filter((e) => e.id.startsWith('ingest-'))).toHaveLength(3);
    // Without the flag the same file is recorded again (ids are fresh), as before.
    const plain = await cli(['ingest', file, '--data', data, '--json']);
    expect(JSON.parse(plain.stdout)).toMatchObject({ events: 6, duplicates: 1, idempotent: false });
  });

  it('stops at an invalid event naming line and field; earlier batches stay committed, the failing batch is atomic', async () => {
    const data = freshData();
    const lines = [
      ...USERS.slice(0, 3).map((e) => ({ ...e, id: undefined })),
      { event_type: 'user.created', payload: {} }, // line 4: no entity_id
      USERS[4],
    ];
    const file = writeInput('bad-field.jsonl', jsonl(lines));
    const run = await cli(['ingest', file, '--data', data, '--batch-size', '2']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error: invalid: line 4: entity_id: /);
    expect(run.stderr).toContain('2 events already committed');
    expect(run.stderr).toContain('nothing from line 3 on was written');
    expectNoStack(run.stderr);

    // Lines 1-2 (the first batch) are in; line 3 shared the failing batch, so it is not.
    const query = JSON.parse((await cli(['query', '--data', data, '--json'])).stdout) as QueryResult;
    expect(query.events.map((e) => e.event_type)).toEqual(['user.created', 'user.created']);
  });

  it('stops at a line that is not JSON, naming the line', async () => {
    const data = freshData();
    const file = writeInput('bad-json.jsonl', jsonl(USERS.slice(0, 2)) + '{"entity_id": oops}\n' + jsonl(USERS.slice(2)));
    const run = await cli(['ingest', file, '--data', data, '--batch-size', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: invalid: line 3: .*not valid JSON/);
    expect(run.stderr).toContain('2 events already committed in 2 batches, through line 2');
    expectNoStack(run.stderr);
  });

  it('reports a missing input file without creating the data directory', async () => {
    const data = freshData();
    const run = await cli(['ingest', join(root, 'no-such-file.jsonl'), '--data', data]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: not_found: input file .*no-such-file\.jsonl does not exist/);
    expect(existsSync(data)).toBe(false);
  });
});

describe('query, state and stats on a populated store', () => {
  const data = freshData();
  let firstBatchEnd = '';

  beforeAll(async () => {
    // Two ingests in two processes, so the second batch is recorded strictly later than the first.
    const first = await cli(['ingest', '--data', data], jsonl(USERS.slice(0, 4)));
    expect(first.code).toBe(0);
    const page = JSON.parse((await cli(['query', '--data', data, '--json'])).stdout) as QueryResult;
    firstBatchEnd = page.events[page.events.length - 1].timestamp;
    await new Promise((r) => setTimeout(r, 5));
    const second = await cli(['ingest', '--data', data], jsonl([USERS[4], { entity_id: 'user-1', event_type: 'user.renamed', payload: { name: 'Ada L.' } }]));
    expect(second.code).toBe(0);
  });

  it('filters by entity, type prefix and payload, in either order', async () => {
    const byEntity = JSON.parse((await cli(['query', '--data', data, '--entity', 'user-1', '--json'])).stdout) as QueryResult;
    expect(byEntity.events.map((e) => e.version)).toEqual([1, 2, 3]);
    expect(byEntity.has_more).toBe(false);

    const byType = JSON.parse((await cli(['query', '--data', data, '--type-prefix', 'user.', '--order', 'desc', '--json'])).stdout) as QueryResult;
    expect(byType.events.map((e) => e.event_type)).toEqual(['user.renamed', 'user.renamed', 'user.upgraded', 'user.created', 'user.created']);

    const where = await cli(['query', '--data', data, '--where', 'plan=pro', '--where', 'seats=3', '--json']);
    expect((JSON.parse(where.stdout) as QueryResult).events.map((e) => e.id)).toEqual(['evt-2']);

    const nested = await cli(['query', '--data', data, '--where', 'customer.id=user-1', '--type', 'order.placed', '--json']);
    expect((JSON.parse(nested.stdout) as QueryResult).events.map((e) => e.entity_id)).toEqual(['order-1']);
  });

  it('prints one human line per event', async () => {
    const run = await cli(['query', '--data', data, '--entity', 'user-2']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(''); // a healthy store has nothing to report
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d+ {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}user-2 {2}user\.created v1 {2}\{"name":"Bob","plan":"pro","seats":3\}$/);
    expect(lines[1]).toContain('user.renamed v2');
  });

  it('pages with --limit and --cursor, and follows every page with --all as JSONL', async () => {
    const first = JSON.parse((await cli(['query', '--data', data, '--limit', '4', '--json'])).stdout) as QueryResult;
    expect(first.events).toHaveLength(4);
    expect(first.has_more).toBe(true);
    const second = JSON.parse((await cli(['query', '--data', data, '--limit', '4', '--cursor', first.next_cursor!, '--json'])).stdout) as QueryResult;
    expect(second.events).toHaveLength(2);
    expect(second.has_more).toBe(false);

    const human = await cli(['query', '--data', data, '--limit', '4']);
    expect(human.stderr).toContain(`more: --cursor ${first.next_cursor}`);

    const all = await cli(['query', '--data', data, '--limit', '2', '--all', '--json']);
    expect(all.code).toBe(0);
    const events = all.stdout.trim().split('\n').map((line) => JSON.parse(line) as StoredEvent);
    expect(events.map((e) => e.position)).toEqual([...first.events, ...second.events].map((e) => e.position));
  });

  it('reads as of an instant', async () => {
    const page = JSON.parse((await cli(['query', '--data', data, '--as-of', firstBatchEnd, '--json'])).stdout) as QueryResult;
    expect(page.events).toHaveLength(4);
  });

  it('folds state now and as of an instant', async () => {
    const now = await cli(['state', 'user-1', '--data', data, '--json']);
    expect(now.code).toBe(0);
    const current = JSON.parse(now.stdout) as EntityState;
    expect(current).toMatchObject({ entity_id: 'user-1', version: 3, event_count: 3, state: { name: 'Ada L.', plan: 'pro' } });

    const past = JSON.parse((await cli(['state', 'user-1', '--as-of', firstBatchEnd, '--data', data, '--json'])).stdout) as EntityState;
    expect(past).toMatchObject({ version: 2, event_count: 2, state: { name: 'Ada', plan: 'pro' } });

    const human = await cli(['state', 'user-1', '--data', data]);
    const [header, ...body] = human.stdout.trim().split('\n');
    expect(header).toMatch(/^entity user-1 {2}version 3 {2}event_count 3 {2}last_updated \S+Z$/);
    expect(JSON.parse(body.join('\n'))).toEqual({ name: 'Ada L.', plan: 'pro' });
  });

  it('reports tenant stats and store health', async () => {
    const run = await cli(['stats', '--data', data, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.tenant).toMatchObject({ tenant_id: 'default', events: 6, entities: 3, event_types: 4 });
    expect(report.store.ok).toBe(true);
    expect(typeof report.store.kind).toBe('string');

    const human = await cli(['stats', '--data', data]);
    expect(human.stdout).toMatch(/^tenant\.events +6$/m);
    expect(human.stdout).toMatch(/^store\.ok +true$/m);
  });

  it('keeps tenants apart', async () => {
    const other = JSON.parse((await cli(['stats', '--data', data, '--tenant', 'other', '--json'])).stdout);
    expect(other.tenant.events).toBe(0);
    const page = JSON.parse((await cli(['query', '--data', data, '--tenant', 'other', '--json'])).stdout) as QueryResult;
    expect(page.events).toEqual([]);
  });

  it('reports store errors as `error: <code>: <message>` with exit 1 and no stack', async () => {
    const badTime = await cli(['query', '--data', data, '--since', 'last tuesday']);
    expect(badTime.code).toBe(1);
    expect(badTime.stderr).toMatch(/^error: invalid: .*since/);
    expectNoStack(badTime.stderr);

    const missing = await cli(['query', '--data', join(root, 'never-created')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: not_found: data directory /);
    expect(existsSync(join(root, 'never-created'))).toBe(false);
  });
});
