// Shared helpers of the event tools: limits, how errors name arguments, renderings, the event input
// shape.

import { mkdir, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { InvalidError } from '../../src/core/errors.js';
import { LIMITS, type EntityState, type JsonObject, type NewEvent } from '../../src/core/types.js';
import type { ToolContext } from '../types.js';
import { entityIdArg, eventIdArg, eventResult, eventTypeArg, instantArg, jsonObject, jsonObjectArg } from '../schemas.js';

export const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/**
 * About how much a page of events may weigh, in bytes of JSON. A page of 1000 events with large
 * payloads could be a gigabyte; past this budget the page is cut short (at least one item) and
 * next_cursor continues exactly where it stops. Also the cap on an inline export's `data`.
 */
export const RESULT_BUDGET_BYTES = 1024 * 1024;
/** Largest import per call: one atomic append. */
export const MAX_IMPORT_EVENTS = LIMITS.maxBatchEvents;
/** Largest inline import text, in characters (the stdio transport takes messages up to 64 MiB). */
export const MAX_IMPORT_DATA_CHARS = 16 * 1024 * 1024;
/** Largest import file, in bytes. */
export const MAX_IMPORT_FILE_BYTES = 64 * 1024 * 1024;
/** Events per page when an export is written to a file. */
export const FILE_EXPORT_PAGE = LIMITS.maxPageSize;
/** Problems listed in an import report (all are counted). */
export const MAX_PROBLEMS_SHOWN = 20;

/**
 * The store names fields as its own API spells them (`filter.limit`, `selector.ids[2]`,
 * `events[0].id`); tools speak of `limit`, `event_ids[2]`, `events[0].event_id`.
 */
export function storeFieldToArgument(field: string): string {
  return field
    .replace(/^(filter|options|selector)\./, '')
    .replace(/^ids(?=\[|$)/, 'event_ids')
    .replace(/^(events\[\d+\])\.id$/, '$1.event_id');
}

/** For single-event tools: `events[0].payload` is just `payload`. */
export function singleEventFieldToArgument(field: string): string {
  return storeFieldToArgument(field).replace(/^events\[0\]\./, '');
}

export const oneLine = (text: string, max = 160): string => {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** An event as a result carries it (the shape of eventResult). */
type EventView = z.output<typeof eventResult>;

export function eventLine(e: EventView): string {
  return `#${e.position} ${e.entity_id} v${e.version} ${e.event_type} ${oneLine(JSON.stringify(e.payload))}${e.deleted ? ' [deleted]' : ''}`;
}

/** Lists the first items one per line, saying how many more there are and how to get them. */
export function renderList<T>(header: string, items: readonly T[], line: (item: T) => string, hasMore: boolean, shown = 20): string {
  const lines = [header, ...items.slice(0, shown).map(line)];
  if (items.length > shown) lines.push(`… ${items.length - shown} more in structuredContent`);
  if (hasMore) lines.push('More pages: pass next_cursor as cursor.');
  return lines.join('\n');
}

export function stateText(s: EntityState): string {
  if (s.deleted) return `${s.entity_id} is deleted (version ${s.version}, ${s.event_count} events, last ${s.last_updated}${s.as_of ? `, as of ${s.as_of}` : ''})`;
  return `${s.entity_id} v${s.version} (${s.event_count} events, last updated ${s.last_updated}${s.as_of ? `, as of ${s.as_of}` : ''}): ${oneLine(JSON.stringify(s.state), 2000)}`;
}

/** Drops undefined members, so the store's strict option checks only ever see what was given. */
export function defined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}

/**
 * Fetches a page of at most `limit` items, then fetches again with half the limit while the page
 * is over RESULT_BUDGET_BYTES. Refetching (same cursor, smaller limit) rather than slicing keeps
 * next_cursor exact: it is the store's own cursor for the shorter page.
 */
export async function withinBudget<T extends { length: number }, R>(limit: number, fetch: (limit: number) => Promise<R>, items: (page: R) => T): Promise<R> {
  let pageLimit = limit;
  while (true) {
    const page = await fetch(pageLimit);
    const list = items(page);
    if (list.length <= 1 || JSON.stringify(list).length <= RESULT_BUDGET_BYTES) return page;
    pageLimit = Math.max(1, Math.floor(list.length / 2));
  }
}

/**
 * The file import_events may read for `path` (absolute, `~/…`, or relative to the export
 * directory): only inside the export directory or a directory the user named with `--import-dir`,
 * links resolved. A tool call comes from a model, and a model talked into importing ~/.ssh or a
 * credentials file would bring its contents into memory, where any later call can read them.
 */
export async function importFilePath(ctx: ToolContext, path: string): Promise<string> {
  if (ctx.mode !== 'local') throw new InvalidError('path', 'is only available when allsource runs locally; pass data inline instead');
  const dirs = (ctx.importDirs ?? []).map((dir) => resolve(dir));
  if (dirs.length === 0) throw new InvalidError('path', 'no import directory is configured (allsource mcp --import-dir DIR); pass data inline instead');
  const expanded = expandHome(path);
  const target = isAbsolute(expanded) ? resolve(expanded) : resolve(dirs[0], expanded);
  const allowed = `the export directory ${dirs[0]}${dirs.length > 1 ? ` or an --import-dir (${dirs.slice(1).join(', ')})` : ' (allow others with allsource mcp --import-dir DIR)'}`;
  if (!dirs.some((dir) => inside(dir, target) && target !== dir)) throw new InvalidError('path', `must name a file in ${allowed}, got ${JSON.stringify(path.slice(0, 200))}`);
  let real: string;
  try {
    real = await realpath(target);
  } catch {
    throw new InvalidError('path', `${target} does not exist`);
  }
  const realDirs = await Promise.all(dirs.map((dir) => realpath(dir).catch(() => dir)));
  if (!realDirs.some((dir) => inside(dir, real))) throw new InvalidError('path', `must name a file in ${allowed} (a link leads out of it)`);
  return real;
}

function expandHome(path: string): string {
  // eslint-disable-next-line no-control-regex -- a NUL or control character is never part of a file name a user meant
  if (/[\u0000-\u001f]/.test(path)) throw new InvalidError('path', 'must not contain control characters');
  return path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

/**
 * The file export_events may create for `path`: inside the export directory, whatever the path
 * says (a bare name, a relative path, or an absolute one that lies inside it). A tool call comes
 * from a model, and a model can be talked into writing over ~/.bashrc; a read-only server writes
 * no file at all. Symbolic links out of the directory are refused too.
 */
export async function exportFilePath(ctx: ToolContext, path: string): Promise<string> {
  if (ctx.mode !== 'local') throw new InvalidError('path', 'is only available when allsource runs locally; pass data inline instead');
  if (ctx.readOnly) throw new InvalidError('path', 'a read-only server writes no files; omit path to get the data inline');
  if (ctx.exportDir === undefined) throw new InvalidError('path', 'no export directory is configured (allsource mcp --export-dir DIR); omit path to get the data inline');
  const dir = resolve(ctx.exportDir);
  const target = resolve(dir, expandHome(path));
  if (!inside(dir, target) || target === dir) throw new InvalidError('path', `must name a file in the export directory ${dir}, got ${JSON.stringify(path.slice(0, 200))}`);
  await mkdir(dir, { recursive: true });
  let parent: string;
  try {
    parent = await realpath(dirname(target));
  } catch {
    throw new InvalidError('path', `the directory of ${target} does not exist`);
  }
  if (!inside(await realpath(dir), parent)) throw new InvalidError('path', `must name a file in the export directory ${dir} (a link leads out of it)`);
  return join(parent, basename(target));
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export const eventInputShape = {
  event_type: eventTypeArg('What happened (a type ending ".deleted" marks the entity deleted)'),
  entity_id: entityIdArg('The entity (thing) the event is about'),
  payload: jsonObjectArg(
    'The facts, merged into the entity state (RFC 7396: objects merge, null deletes, arrays replace), e.g. {"plan": "pro", "address": {"city": "Paris"}}. At most 1 MiB.',
  ),
  metadata: jsonObject()
    .nullable()
    .optional()
    .describe('Context kept beside the state, not in it, e.g. {"source": "chat"}.'),
  expected_version: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("The entity's version as you last read it (0: must not exist yet); a mismatch is a conflict and writes nothing."),
  event_id: eventIdArg('Idempotency key: a retry with the same id and content returns the first result. Omit for a generated UUIDv7').optional(),
  occurred_at: instantArg('When it happened in the world, if not now').optional(),
};

type EventInput = {
  event_type: string;
  entity_id: string;
  payload: Record<string, unknown>;
  metadata?: Record<string, unknown> | null;
  expected_version?: number;
  event_id?: string;
  occurred_at?: string;
};

export function toNewEvent(input: EventInput): NewEvent {
  return defined({
    entity_id: input.entity_id,
    event_type: input.event_type,
    payload: input.payload as JsonObject,
    metadata: input.metadata as JsonObject | null | undefined,
    id: input.event_id,
    occurred_at: input.occurred_at,
    expected_version: input.expected_version,
  });
}

/** A conflict is on expected_version (someone wrote since you read) or on event_id (the id is taken). */
export const conflictHint = (argument: string | undefined): string | undefined =>
  argument?.endsWith('expected_version')
    ? 'read the entity again (get_snapshot gives its version), then retry with that expected_version'
    : argument?.endsWith('event_id')
      ? 'that event_id already names an event with different content (get_event shows it); use a new event_id for a new event'
      : undefined;
export const ENTITY_NOT_FOUND_HINT = 'list_entities shows the entity ids that exist (an as_of before the first event also answers not_found)';
export const cursorHint = (argument: string | undefined): string | undefined =>
  argument === 'cursor' ? 'omit cursor to start again from the first page, or pass next_cursor unchanged with the same other arguments' : undefined;
