// `allsource ingest`: streams JSONL (one NewEvent per line) from a file or stdin into the store in
// batches. Memory stays flat whatever the input size: lines are read with backpressure and only
// one batch is held at a time. Each batch is one atomic append, so a bad line leaves every earlier
// batch committed and nothing of its own batch written; the error says which line and how far
// the commit got, so the rest can be fed again. With --idempotent, records without an id get one
// derived from their content, so feeding the same file again records nothing twice.

import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { AllSourceError, isAllSourceError, NotFoundError, InvalidError } from '../core/errors.js';
import type { EventStore, NewEvent } from '../core/types.js';
import { withStore, type CliContext } from './context.js';
import type { Output } from './output.js';

export interface IngestOptions {
  /** Events per append call (default 1000). */
  batchSize: number;
  /** Where the progress bar goes when it is a TTY (default process.stderr). */
  progress?: NodeJS.WriteStream;
  /** Give each record without an id one derived from its content (see contentIds). */
  idempotent?: boolean;
}

/** The command's result: what the summary line (or `--json` object) reports. */
export interface IngestSummary {
  /** Non-blank lines read. */
  lines: number;
  /** Events newly recorded. */
  events: number;
  /** Events whose id was already recorded with the same content (nothing new written). */
  duplicates: number;
  batches: number;
  seconds: number;
  /** (events + duplicates) per second. */
  events_per_second: number;
  /** Highest position written, or null when nothing new was written. */
  last_position: number | null;
  /** Whether records without an id got content-derived ids (--idempotent). */
  idempotent: boolean;
}

/** Runs `allsource ingest [FILE|-]`: `source` undefined or `-` reads stdin. */
export async function runIngest(ctx: CliContext, source: string | undefined, options: IngestOptions, out: Output): Promise<void> {
  // Open the input before the store, so a typo in the file name creates and touches nothing.
  const fromStdin = source === undefined || source === '-';
  const input = fromStdin ? process.stdin : await openInput(source);
  if (fromStdin && process.stdin.isTTY) process.stderr.write('reading JSONL events from stdin (end with Ctrl-D)\n');
  try {
    const summary = await withStore(ctx, { create: true }, (store, signal) => ingestLines(store, ctx.tenant, input, options, signal));
    if (ctx.json) await out.json(summary);
    else await out.write(`${formatSummary(summary)}\n`);
  } finally {
    if (!fromStdin) input.destroy();
  }
}

async function openInput(path: string): Promise<NodeJS.ReadableStream & { destroy(): void }> {
  try {
    const handle = await open(path, 'r');
    return handle.createReadStream({ highWaterMark: 256 * 1024 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`input file ${path} does not exist`, { field: 'file' });
    throw new InvalidError('file', `cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * Human summary: `ingested 1200 events (3 duplicates) from 1203 lines in 2 batches, 0.412 s, 2920
 * events/s`; with --idempotent, `ingested 0 new events, 1203 already recorded, from …`.
 */
export function formatSummary(s: IngestSummary): string {
  const dup = s.duplicates > 0 ? ` (${s.duplicates} ${s.duplicates === 1 ? 'duplicate' : 'duplicates'})` : '';
  const events = `${s.events} ${s.events === 1 ? 'event' : 'events'}`;
  const batches = `${s.batches} ${s.batches === 1 ? 'batch' : 'batches'}`;
  const what = s.idempotent ? `${s.events} new ${s.events === 1 ? 'event' : 'events'}, ${s.duplicates} already recorded,` : `${events}${dup}`;
  return `ingested ${what} from ${s.lines} lines in ${batches}, ${s.seconds.toFixed(3)} s, ${s.events_per_second} events/s`;
}

/** Prefix of content-derived event ids, so they read as what they are. */
const CONTENT_ID_PREFIX = 'ingest-';

/**
 * Ids for records that carry none, derived from what they say, for --idempotent: a sha256 over the
 * canonical JSON (keys sorted) of entity_id, event_type, payload, metadata and occurred_at, and
 * how many identical records came before it in this input. A second run of the file derives the
 * same ids and the store answers them as duplicates; two identical lines in one file stay two
 * events (occurrences 0 and 1); lines added or moved elsewhere in the file change no other id,
 * which a line number would. The tenant is not part of it: ids are per tenant already. It keeps
 * one counter per distinct record, so memory grows with the input's distinct records.
 */
export function contentIds(): (record: Record<string, unknown>) => string {
  const seen = new Map<string, number>();
  return (record) => {
    const content = canonicalJson([record.entity_id, record.event_type, record.payload, record.metadata ?? null, record.occurred_at ?? null]);
    const digest = createHash('sha256').update(content).digest('base64url');
    const occurrence = seen.get(digest) ?? 0;
    seen.set(digest, occurrence + 1);
    return `${CONTENT_ID_PREFIX}${createHash('sha256').update(`${digest}\n${occurrence}`).digest('base64url').slice(0, 32)}`;
  };
}

/** JSON with object keys sorted at every level: one text per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

interface Batch {
  events: unknown[];
  /** Line number of each event, parallel to `events`. */
  lines: number[];
}

/**
 * Reads `input` line by line and appends in batches. Exported for tests that want to drive it
 * with an in-memory store; the command goes through `runIngest`.
 */
export async function ingestLines(
  store: EventStore,
  tenant: string,
  input: NodeJS.ReadableStream & { destroy(): void },
  options: IngestOptions,
  signal?: AbortSignal,
): Promise<IngestSummary> {
  const started = performance.now();
  const totals = { lines: 0, events: 0, duplicates: 0, batches: 0, lastPosition: null as number | null, committedThrough: 0 };
  let lineNo = 0;
  let batch: Batch = { events: [], lines: [] };
  const idFor = options.idempotent === true ? contentIds() : undefined;
  const progress = createProgress(options.progress ?? process.stderr, () => ({ lineNo, ...totals }), started);
  const onAbort = (): void => input.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });

  const failure = (err: unknown, line: number | null): AllSourceError => {
    progress.clear();
    return describeFailure(err, line, batch, totals);
  };

  const flush = async (): Promise<void> => {
    if (batch.events.length === 0) return;
    let result;
    try {
      // Lines are passed through unchecked: the store validates and names the bad field.
      result = await store.append(tenant, batch.events as NewEvent[]);
    } catch (err) {
      throw failure(err, lineOfField(err, batch));
    }
    for (const event of result.events) {
      if (event.duplicate) totals.duplicates++;
      else totals.events++;
    }
    if (result.last_position > 0) totals.lastPosition = Math.max(totals.lastPosition ?? 0, result.last_position);
    totals.batches++;
    totals.committedThrough = batch.lines[batch.lines.length - 1];
    batch = { events: [], lines: [] };
  };

  try {
    for await (const line of readLines(input)) {
      lineNo++;
      if (line.trim().length === 0) continue;
      totals.lines++;
      let event: unknown;
      try {
        event = JSON.parse(line);
      } catch (err) {
        throw failure(new AllSourceError('invalid', `is not valid JSON (${(err as Error).message})`), lineNo);
      }
      // A record that is not an object, or has an id of its own, goes as it is (the store judges it).
      if (idFor !== undefined && typeof event === 'object' && event !== null && !Array.isArray(event) && (event as { id?: unknown }).id === undefined) {
        event = { ...(event as Record<string, unknown>), id: idFor(event as Record<string, unknown>) };
      }
      batch.events.push(event);
      batch.lines.push(lineNo);
      if (batch.events.length >= options.batchSize) {
        await flush();
        if (signal?.aborted) break;
      }
    }
    if (!signal?.aborted) await flush();
  } catch (err) {
    // Ctrl-C destroys the input to wake a read that is waiting for more stdin; that is not a failure.
    if (!(signal?.aborted && !isAllSourceError(err))) throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    progress.stop();
  }

  const seconds = (performance.now() - started) / 1000;
  if (signal?.aborted) {
    process.stderr.write(`ingest stopped at line ${lineNo}: ${committedNote(totals)}\n`);
  }
  return {
    lines: totals.lines,
    events: totals.events,
    duplicates: totals.duplicates,
    batches: totals.batches,
    seconds: Math.round(seconds * 1000) / 1000,
    events_per_second: seconds > 0 ? Math.round((totals.events + totals.duplicates) / seconds) : 0,
    last_position: totals.lastPosition,
    idempotent: idFor !== undefined,
  };
}

/** The line an append error is about, when its field names one event of the batch (`events[3].payload`). */
function lineOfField(err: unknown, batch: Batch): number | null {
  const match = isAllSourceError(err) && err.field !== undefined ? /^events\[(\d+)\]/.exec(err.field) : null;
  if (!match) return null;
  return batch.lines[Number(match[1])] ?? null;
}

/**
 * Rewrites a failed line or append into one error that names the line and the field (without the
 * batch-relative `events[i]` prefix) and says what was committed before it.
 */
function describeFailure(
  err: unknown,
  line: number | null,
  batch: Batch,
  totals: { events: number; duplicates: number; batches: number; committedThrough: number },
): AllSourceError {
  let code: AllSourceError['code'] = 'internal';
  let message = err instanceof Error ? err.message : String(err);
  let field: string | undefined;
  if (isAllSourceError(err)) {
    code = err.code;
    field = err.field;
    const match = field === undefined ? null : /^events\[\d+\]\.?/.exec(field);
    if (match && field !== undefined) {
      const inner = field.slice(match[0].length);
      // InvalidError messages start with their field; restate it without the batch index.
      if (message.startsWith(`${field}: `)) message = message.slice(field.length + 2);
      field = inner.length > 0 ? inner : undefined;
      if (field !== undefined) message = `${field}: ${message}`;
    }
  }
  const where =
    line !== null
      ? `line ${line}`
      : batch.lines.length > 0
        ? `batch of lines ${batch.lines[0]}-${batch.lines[batch.lines.length - 1]}`
        : 'input';
  const firstUnwritten = batch.lines[0] ?? line ?? totals.committedThrough + 1;
  const outcome = totals.batches === 0 ? committedNote(totals) : `${committedNote(totals)}; nothing from line ${firstUnwritten} on was written`;
  return new AllSourceError(code, `${where}: ${message} (${outcome})`, {
    field,
    details: { ...(isAllSourceError(err) ? err.details : undefined), line, committed_events: totals.events, committed_through_line: totals.committedThrough },
    cause: err,
  });
}

function committedNote(totals: { events: number; duplicates: number; batches: number; committedThrough: number }): string {
  if (totals.batches === 0) return 'no events were committed';
  const dup = totals.duplicates > 0 ? ` (plus ${totals.duplicates} duplicates)` : '';
  const batches = `${totals.batches} ${totals.batches === 1 ? 'batch' : 'batches'}`;
  return `${totals.events} ${totals.events === 1 ? 'event' : 'events'} already committed${dup} in ${batches}, through line ${totals.committedThrough}`;
}

/**
 * Splits a byte stream into lines (LF or CRLF), decoding UTF-8 across chunk boundaries and dropping
 * a leading byte-order mark. Pulls one chunk at a time, so a slow consumer slows the reading down.
 */
export async function* readLines(input: AsyncIterable<string | Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let pending: string[] = [];
  let first = true;
  for await (const chunk of input) {
    let text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) !== -1) {
      pending.push(text.slice(start, nl));
      const line = pending.join('');
      pending = [];
      yield line.endsWith('\r') ? line.slice(0, -1) : line;
      start = nl + 1;
    }
    if (start < text.length) pending.push(text.slice(start));
  }
  pending.push(decoder.end());
  const last = pending.join('');
  if (last.length > 0) yield last.endsWith('\r') ? last.slice(0, -1) : last;
}

interface Progress {
  clear(): void;
  stop(): void;
}

/** A one-line progress display, redrawn ten times a second, only when `stream` is a terminal. */
function createProgress(
  stream: NodeJS.WriteStream,
  read: () => { lineNo: number; events: number; duplicates: number; batches: number },
  started: number,
): Progress {
  if (!stream.isTTY) return { clear: () => undefined, stop: () => undefined };
  let drawn = false;
  const draw = (): void => {
    const { lineNo, events, duplicates } = read();
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round((events + duplicates) / seconds) : 0;
    stream.write(`\r\x1b[Kingest: ${lineNo.toLocaleString('en-US')} lines read, ${(events + duplicates).toLocaleString('en-US')} events committed, ${rate.toLocaleString('en-US')} events/s`);
    drawn = true;
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  const clear = (): void => {
    if (drawn) stream.write('\r\x1b[K');
    drawn = false;
  };
  return {
    clear,
    stop: () => {
      clearInterval(timer);
      clear();
    },
  };
}
