// The 18 event tools: the EventStore port as MCP tools (ingest, query, time travel, search,
// watch, soft delete, export/import, integrity). Each is a declarative definition; the handlers
// are thin calls to the port, and anything they add (a state diff, a file format) is pure code
// in a sibling module. Argument and result names are the AllSource product's, in snake_case.

import { open, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { ConflictError, InvalidError, isErrorCode } from '../src/core/errors.js';
import { normalizeInstant, parseInstant } from '../src/core/time.js';
import { LIMITS, type EntityState, type JsonObject, type NewEvent, type QueryFilter, type StoredEvent } from '../src/core/types.js';
import type { PrimeCapabilities } from '../src/prime/types.js';
import { defineTool } from './define.js';
import { detectFormat, parseImport, toCsv, toJsonl, toParquet, type ImportProblem } from './exchange.js';
import type { ToolContext, ToolDefinition } from './types.js';
import {
  appendedResult,
  asOfArg,
  cursorArg,
  dryRunArg,
  embedderInfoResult,
  entityIdArg,
  entityStateShape,
  eventIdArg,
  eventResult,
  eventTypeArg,
  includeDeletedArg,
  instantArg,
  jsonObject,
  jsonObjectArg,
  limitArg,
  pageShape,
  prefixArg,
  queryFilterShape,
  reasonArg,
  tombstoneShape,
} from './schemas.js';
import { diffStates } from './stateDiff.js';

// ── Shared helpers ────────────────────────────────────────────────────────────────────────────

const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/**
 * About how much a page of events may weigh, in bytes of JSON. A page of 1000 events with large
 * payloads could be a gigabyte; past this budget the page is cut short (at least one item) and
 * next_cursor continues exactly where it stops. Also the cap on an inline export's `data`.
 */
export const RESULT_BUDGET_BYTES = 1024 * 1024;
/** Largest import per call: one atomic append. */
const MAX_IMPORT_EVENTS = LIMITS.maxBatchEvents;
/** Largest inline import text, in characters (the stdio transport takes messages up to 64 MiB). */
const MAX_IMPORT_DATA_CHARS = 16 * 1024 * 1024;
/** Largest import file, in bytes. */
const MAX_IMPORT_FILE_BYTES = 64 * 1024 * 1024;
/** Events per page when an export is written to a file. */
const FILE_EXPORT_PAGE = LIMITS.maxPageSize;
/** Problems listed in an import report (all are counted). */
const MAX_PROBLEMS_SHOWN = 20;

/**
 * The store names fields as its own API spells them (`filter.limit`, `selector.ids[2]`,
 * `events[0].id`); tools speak of `limit`, `event_ids[2]`, `events[0].event_id`.
 */
function storeFieldToArgument(field: string): string {
  return field
    .replace(/^(filter|options|selector)\./, '')
    .replace(/^ids(?=\[|$)/, 'event_ids')
    .replace(/^(events\[\d+\])\.id$/, '$1.event_id');
}

/** For single-event tools: `events[0].payload` is just `payload`. */
function singleEventFieldToArgument(field: string): string {
  return storeFieldToArgument(field).replace(/^events\[0\]\./, '');
}

const oneLine = (text: string, max = 160): string => {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** An event as a result carries it (the shape of eventResult). */
type EventView = z.output<typeof eventResult>;

function eventLine(e: EventView): string {
  return `#${e.position} ${e.entity_id} v${e.version} ${e.event_type} ${oneLine(JSON.stringify(e.payload))}${e.deleted ? ' [deleted]' : ''}`;
}

/** Lists the first items one per line, saying how many more there are and how to get them. */
function renderList<T>(header: string, items: readonly T[], line: (item: T) => string, hasMore: boolean, shown = 20): string {
  const lines = [header, ...items.slice(0, shown).map(line)];
  if (items.length > shown) lines.push(`… ${items.length - shown} more in structuredContent`);
  if (hasMore) lines.push('More pages: pass next_cursor as cursor.');
  return lines.join('\n');
}

function stateText(s: EntityState): string {
  if (s.deleted) return `${s.entity_id} is deleted (version ${s.version}, ${s.event_count} events, last ${s.last_updated}${s.as_of ? `, as of ${s.as_of}` : ''})`;
  return `${s.entity_id} v${s.version} (${s.event_count} events, last updated ${s.last_updated}${s.as_of ? `, as of ${s.as_of}` : ''}): ${oneLine(JSON.stringify(s.state), 2000)}`;
}

/** Drops undefined members, so the store's strict option checks only ever see what was given. */
function defined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}

/**
 * Fetches a page of at most `limit` items, then fetches again with half the limit while the page
 * is over RESULT_BUDGET_BYTES. Refetching (same cursor, smaller limit) rather than slicing keeps
 * next_cursor exact: it is the store's own cursor for the shorter page.
 */
async function withinBudget<T extends { length: number }, R>(limit: number, fetch: (limit: number) => Promise<R>, items: (page: R) => T): Promise<R> {
  let pageLimit = limit;
  while (true) {
    const page = await fetch(pageLimit);
    const list = items(page);
    if (list.length <= 1 || JSON.stringify(list).length <= RESULT_BUDGET_BYTES) return page;
    pageLimit = Math.max(1, Math.floor(list.length / 2));
  }
}

/** A file path an agent gave: absolute or `~/…`; local mode only. */
function localPath(ctx: ToolContext, path: string): string {
  if (ctx.mode !== 'local') throw new InvalidError('path', 'is only available when allsource runs locally; pass data inline instead');
  const expanded = path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
  if (!isAbsolute(expanded)) throw new InvalidError('path', `must be an absolute path (or start with ~/), got ${JSON.stringify(path.slice(0, 200))}`);
  return expanded;
}

const eventInputShape = {
  event_type: eventTypeArg('What happened'),
  entity_id: entityIdArg('The entity (thing) the event is about; its state is the merge of its events'),
  payload: jsonObjectArg(
    'The facts, as a JSON object merged into the entity state (RFC 7396: nested objects merge, null deletes a key, arrays replace). At most 1 MiB. E.g. {"name": "Ada", "plan": "pro", "address": {"city": "Paris"}}.',
  ),
  metadata: jsonObject()
    .nullable()
    .optional()
    .describe('Context about the event that is not part of the entity state, e.g. {"source": "chat", "confidence": 0.9}. Optional.'),
  expected_version: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("Optimistic concurrency: the entity's current version as you last read it (0 = the entity must not exist yet). A mismatch is a conflict and writes nothing."),
  event_id: eventIdArg('Idempotency key: retrying with the same event_id and the same content returns the original result instead of a duplicate. Omit to get a generated UUIDv7').optional(),
  occurred_at: instantArg('When it happened in the world, if not now, e.g. "2023-11-02T09:30:00Z"').optional(),
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

function toNewEvent(input: EventInput): NewEvent {
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
const conflictHint = (argument: string | undefined): string | undefined =>
  argument?.endsWith('expected_version')
    ? 'read the entity again (get_snapshot gives its version), then retry with that expected_version'
    : argument?.endsWith('event_id')
      ? 'that event_id already names an event with different content (get_event shows it); use a new event_id for a new event'
      : undefined;
const ENTITY_NOT_FOUND_HINT = 'list_entities shows the entity ids that exist (an as_of before the first event also answers not_found)';
const cursorHint = (argument: string | undefined): string | undefined =>
  argument === 'cursor' ? 'omit cursor to start again from the first page, or pass next_cursor unchanged with the same other arguments' : undefined;

// ── Writes ────────────────────────────────────────────────────────────────────────────────────

const ingestEvent = defineTool({
  name: 'ingest_event',
  title: 'Record an event',
  description:
    'Append one event (a fact about an entity) to the memory. The entity\'s state becomes the JSON merge of its event payloads in order; nothing is ever overwritten, so earlier states stay readable with as_of. Returns the new version and log position. Pass event_id to make retries safe; pass expected_version to refuse the write if someone else changed the entity since you read it.',
  group: 'events',
  writes: true,
  inputSchema: eventInputShape,
  outputSchema: appendedResult.shape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  argumentForField: singleEventFieldToArgument,
  hints: { conflict: conflictHint },
  async handler(args, ctx) {
    const result = await ctx.store.append(ctx.tenant, [toNewEvent(args)]);
    return { ...result.events[0] };
  },
  render: (r) =>
    r.duplicate
      ? `Already recorded: ${r.event_type} for ${r.entity_id} (id ${r.id}, version ${r.version}); nothing new was written.`
      : `Recorded ${r.event_type} for ${r.entity_id}: version ${r.version}, id ${r.id}, position ${r.position}, at ${r.timestamp}.`,
});

const ingestEvents = defineTool({
  name: 'ingest_events',
  title: 'Record a batch of events',
  description:
    'Append several events atomically: either all are recorded or none is (a bad event or a conflict anywhere writes nothing and names the event, e.g. events[3].payload). Use it for facts that belong together. Up to 1000 events per call; for bulk loads use import_events.',
  group: 'events',
  writes: true,
  inputSchema: {
    events: z
      .array(z.strictObject(eventInputShape))
      .min(1)
      .max(LIMITS.maxPageSize)
      .describe('The events, in order (1-1000). Each has the fields of ingest_event: event_type, entity_id, payload, and optionally metadata, expected_version, event_id, occurred_at.'),
    dry_run: dryRunArg('Validate and check conflicts, but write nothing.'),
  },
  outputSchema: {
    events: z.array(appendedResult).describe('One result per input event, in order.'),
    count: z.number().int(),
    duplicates: z.number().int().describe('How many were already recorded (same event_id, same content) and not written again.'),
    last_position: z.number().int().describe('Highest log position of the batch (0 when nothing was written).'),
    dry_run: z.boolean(),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  argumentForField: storeFieldToArgument,
  hints: { conflict: conflictHint },
  async handler(args, ctx) {
    const result = await ctx.store.append(ctx.tenant, args.events.map(toNewEvent), { dry_run: args.dry_run === true });
    return {
      events: result.events.map((e) => ({ ...e })),
      count: result.events.length,
      duplicates: result.events.filter((e) => e.duplicate).length,
      last_position: result.last_position,
      dry_run: result.dry_run,
    };
  },
  render: (r) =>
    r.dry_run
      ? `Dry run: all ${r.count} events are valid and would be recorded; nothing was written.`
      : `Recorded ${r.count - r.duplicates} of ${r.count} events atomically${r.duplicates ? ` (${r.duplicates} already recorded)` : ''}; last position ${r.last_position}.`,
});

// ── Reads ─────────────────────────────────────────────────────────────────────────────────────

const queryEvents = defineTool({
  name: 'query_events',
  title: 'Query events',
  description:
    'List recorded events, oldest first (or newest first with order "desc"), filtered by entity, type, payload values and time. Use as_of to see the log as it was at an instant. Paged: at most limit events per call; pass next_cursor back as cursor for more. To find events by words, use search_events.',
  group: 'events',
  writes: false,
  inputSchema: { ...queryFilterShape, limit: limitArg('events'), cursor: cursorArg() },
  outputSchema: { events: z.array(eventResult), ...pageShape },
  annotations: READ,
  argumentForField: storeFieldToArgument,
  hints: { invalid: cursorHint },
  async handler(args, ctx) {
    const filter = defined(args) as QueryFilter;
    const result = await withinBudget(
      args.limit ?? LIMITS.defaultPageSize,
      (limit) => ctx.store.query(ctx.tenant, { ...filter, limit }),
      (page) => page.events,
    );
    return { events: [...result.events], next_cursor: result.next_cursor, has_more: result.has_more };
  },
  render: (r) => renderList(`${r.events.length} event${r.events.length === 1 ? '' : 's'}${r.has_more ? ' (more available)' : ''}:`, r.events, eventLine, r.has_more),
});

const getEvent = defineTool({
  name: 'get_event',
  title: 'Get an event',
  description: 'Read one event by its id, with its payload, metadata, version, position and timestamps.',
  group: 'events',
  writes: false,
  inputSchema: {
    event_id: eventIdArg('The event id'),
    include_deleted: includeDeletedArg(),
  },
  outputSchema: { event: eventResult },
  annotations: READ,
  argumentForField: (field) => (field === 'id' ? 'event_id' : storeFieldToArgument(field)),
  hints: { not_found: 'query_events or search_events find event ids' },
  async handler(args, ctx) {
    return { event: await ctx.store.get(ctx.tenant, args.event_id, { include_deleted: args.include_deleted === true }) };
  },
  render: (r) => `${eventLine(r.event)}\nid ${r.event.id}, recorded ${r.event.timestamp}, occurred ${r.event.occurred_at}${r.event.metadata ? `, metadata ${oneLine(JSON.stringify(r.event.metadata))}` : ''}`,
});

const reconstructState = defineTool({
  name: 'reconstruct_state',
  title: 'Reconstruct entity state',
  description:
    "An entity's state folded from its events (JSON merge of payloads in version order), now or as of any past instant: what the memory knew about it then. Returns the state, its version and event count, and whether it is deleted.",
  group: 'events',
  writes: false,
  inputSchema: {
    entity_id: entityIdArg('The entity'),
    as_of: asOfArg().optional(),
  },
  outputSchema: entityStateShape,
  annotations: READ,
  argumentForField: storeFieldToArgument,
  hints: { not_found: ENTITY_NOT_FOUND_HINT },
  async handler(args, ctx) {
    return { ...(await ctx.store.state(ctx.tenant, args.entity_id, defined({ as_of: args.as_of }))) };
  },
  render: stateText,
});

const analyzeChanges = defineTool({
  name: 'analyze_changes',
  title: 'Analyze changes between two instants',
  description:
    "What changed in an entity's state between two instants: the JSON paths added, removed and changed, with old and new values. An entity with no events yet at from_time counts as empty, so every field it has at to_time is added. Use it to answer \"what did we learn about X since Monday?\".",
  group: 'events',
  writes: false,
  inputSchema: {
    entity_id: entityIdArg('The entity'),
    from_time: instantArg('The earlier instant'),
    to_time: instantArg('The later instant; omit for now').optional(),
    limit: limitArg('paths per list (added, removed, changed)'),
  },
  outputSchema: {
    entity_id: z.string(),
    from_time: z.string().describe('The earlier instant (ISO-8601 UTC).'),
    to_time: z.string().nullable().describe('The later instant, or null for now.'),
    from_version: z.number().int().describe('Version at from_time (0: no events yet).'),
    to_version: z.number().int(),
    events_between: z.number().int().describe('Events recorded for the entity between the two instants.'),
    deleted_at_from: z.boolean(),
    deleted_at_to: z.boolean(),
    added: z.array(z.object({ path: z.string().describe('Dot path, e.g. "address.city".'), value: z.unknown() })),
    removed: z.array(z.object({ path: z.string(), old_value: z.unknown() })),
    changed: z.array(z.object({ path: z.string(), old_value: z.unknown(), new_value: z.unknown() })),
    total_changes: z.number().int().describe('Added + removed + changed paths, before limit.'),
    truncated: z.boolean().describe('True when a list was cut to limit.'),
  },
  annotations: READ,
  argumentForField: (field) => (field === 'as_of' ? 'to_time' : storeFieldToArgument(field)),
  hints: { not_found: ENTITY_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const fromMs = parseInstant(args.from_time, 'from_time');
    const toMs = args.to_time === undefined ? ctx.now() : parseInstant(args.to_time, 'to_time');
    if (toMs < fromMs) throw new InvalidError('to_time', `must not be before from_time${args.to_time === undefined ? ' (it defaults to now)' : ''}`);
    const fromTime = normalizeInstant(args.from_time, 'from_time');
    const toTime = args.to_time === undefined ? null : normalizeInstant(args.to_time, 'to_time');
    let before: EntityState | null = null;
    try {
      before = await ctx.store.state(ctx.tenant, args.entity_id, { as_of: fromTime });
    } catch (err) {
      if (!isErrorCode(err, 'not_found')) throw err;
    }
    const after = await ctx.store.state(ctx.tenant, args.entity_id, defined({ as_of: toTime ?? undefined }));
    const diff = diffStates(before?.state ?? null, after.state);
    const limit = args.limit ?? LIMITS.defaultPageSize;
    const total = diff.added.length + diff.removed.length + diff.changed.length;
    const truncated = diff.added.length > limit || diff.removed.length > limit || diff.changed.length > limit;
    return {
      entity_id: args.entity_id,
      from_time: fromTime,
      to_time: toTime,
      from_version: before?.version ?? 0,
      to_version: after.version,
      events_between: after.event_count - (before?.event_count ?? 0),
      deleted_at_from: before?.deleted ?? false,
      deleted_at_to: after.deleted,
      added: diff.added.slice(0, limit),
      removed: diff.removed.slice(0, limit),
      changed: diff.changed.slice(0, limit),
      total_changes: total,
      truncated,
    };
  },
  render: (r) => {
    const lines = [
      `${r.entity_id}: ${r.total_changes} change${r.total_changes === 1 ? '' : 's'} from v${r.from_version} (${r.from_time}) to v${r.to_version} (${r.to_time ?? 'now'}), ${r.events_between} events between${r.deleted_at_to && !r.deleted_at_from ? '; deleted since' : ''}.`,
      ...r.added.slice(0, 20).map((c) => `+ ${c.path} = ${oneLine(JSON.stringify(c.value))}`),
      ...r.removed.slice(0, 20).map((c) => `- ${c.path} (was ${oneLine(JSON.stringify(c.old_value))})`),
      ...r.changed.slice(0, 20).map((c) => `~ ${c.path}: ${oneLine(JSON.stringify(c.old_value), 80)} -> ${oneLine(JSON.stringify(c.new_value), 80)}`),
    ];
    if (r.truncated) lines.push('(lists cut to limit)');
    return lines.join('\n');
  },
});

const getSnapshot = defineTool({
  name: 'get_snapshot',
  title: 'Get current entity state',
  description: "The latest state of an entity: the JSON merge of all its event payloads, with version and event count. Same as reconstruct_state without as_of.",
  group: 'events',
  writes: false,
  inputSchema: { entity_id: entityIdArg('The entity') },
  outputSchema: entityStateShape,
  annotations: READ,
  argumentForField: storeFieldToArgument,
  hints: { not_found: ENTITY_NOT_FOUND_HINT },
  async handler(args, ctx) {
    return { ...(await ctx.store.state(ctx.tenant, args.entity_id)) };
  },
  render: stateText,
});

const listEntities = defineTool({
  name: 'list_entities',
  title: 'List entities',
  description: 'The entities in memory, in id order, with their event count, version, first/last event time and last event type. Filter by id prefix; paged.',
  group: 'events',
  writes: false,
  inputSchema: { prefix: prefixArg('entities whose id is'), limit: limitArg('entities'), cursor: cursorArg() },
  outputSchema: {
    entities: z.array(
      z.object({
        entity_id: z.string(),
        event_count: z.number().int(),
        version: z.number().int(),
        first_event_at: z.string(),
        last_event_at: z.string(),
        last_event_id: z.string(),
        last_event_type: z.string(),
        deleted: z.boolean(),
      }),
    ),
    ...pageShape,
  },
  annotations: READ,
  argumentForField: storeFieldToArgument,
  hints: { invalid: cursorHint },
  async handler(args, ctx) {
    const result = await ctx.store.entities(ctx.tenant, defined(args));
    return { entities: [...result.entities], next_cursor: result.next_cursor, has_more: result.has_more };
  },
  render: (r) =>
    renderList(
      `${r.entities.length} entit${r.entities.length === 1 ? 'y' : 'ies'}:`,
      r.entities,
      (e) => `${e.entity_id} v${e.version} (${e.event_count} events, last ${e.last_event_type} at ${e.last_event_at})${e.deleted ? ' [deleted]' : ''}`,
      r.has_more,
      50,
    ),
});

const listEventTypes = defineTool({
  name: 'list_event_types',
  title: 'List event types',
  description: 'The event types in memory, in name order, with how many events each has and when the last one was recorded. Filter by prefix; paged.',
  group: 'events',
  writes: false,
  inputSchema: { prefix: prefixArg('event types'), limit: limitArg('event types'), cursor: cursorArg() },
  outputSchema: {
    event_types: z.array(z.object({ event_type: z.string(), count: z.number().int(), last_event_at: z.string() })),
    ...pageShape,
  },
  annotations: READ,
  argumentForField: storeFieldToArgument,
  async handler(args, ctx) {
    const result = await ctx.store.eventTypes(ctx.tenant, defined(args));
    return { event_types: [...result.event_types], next_cursor: result.next_cursor, has_more: result.has_more };
  },
  render: (r) => renderList(`${r.event_types.length} event type${r.event_types.length === 1 ? '' : 's'}:`, r.event_types, (t) => `${t.event_type}: ${t.count} (last ${t.last_event_at})`, r.has_more, 50),
});

const getStats = defineTool({
  name: 'get_stats',
  title: 'Memory statistics',
  description: 'Counts for this memory: live and deleted events, entities, event types, the first and last event time, and the last log position.',
  group: 'events',
  writes: false,
  inputSchema: {},
  outputSchema: {
    tenant_id: z.string(),
    events: z.number().int().describe('Live (not deleted) events.'),
    tombstoned_events: z.number().int().describe('Events removed with delete_events.'),
    entities: z.number().int(),
    event_types: z.number().int(),
    first_event_at: z.string().nullable(),
    last_event_at: z.string().nullable(),
    last_position: z.number().int(),
  },
  annotations: READ,
  async handler(_args, ctx) {
    return { ...(await ctx.store.stats(ctx.tenant)) };
  },
  render: (r) =>
    `${r.events} events (${r.tombstoned_events} deleted) about ${r.entities} entities, ${r.event_types} event types; ${r.first_event_at ? `from ${r.first_event_at} to ${r.last_event_at}` : 'empty'}.`,
});

const getClusterStatus = defineTool({
  name: 'get_cluster_status',
  title: 'Server and store status',
  description: 'Health of the allsource server and its store: mode (local or hosted), version, uptime, and the store kind with its log and segment status. Locally, core.sharing says whether this process holds the data directory or follows the process that does (several allsource processes share one memory).',
  group: 'events',
  writes: false,
  inputSchema: {},
  outputSchema: {
    ok: z.boolean(),
    mode: z.enum(['local', 'hosted']),
    version: z.string(),
    tenant_id: z.string(),
    started_at: z.string(),
    uptime_ms: z.number().int(),
    core: z
      .looseObject({ kind: z.string().describe('The store adapter, e.g. "embedded".'), ok: z.boolean() })
      .describe('The store health. Locally also its data directory, durability, write-ahead log and segment status.'),
    prime: z
      .object({
        embedder: embedderInfoResult,
        hnsw_available: z.boolean().describe('False when hnswlib-node is not installed (or ALLSOURCE_HNSW=off): vector search is then always an exact scan.'),
        vector_search: z.string().describe('How vectors are searched here, in a sentence.'),
        tenants_warm: z.number().int().nullable().describe('Tenants whose projections are in memory (null on a hosted server: other tenants are not yours to count).'),
      })
      .nullable()
      .describe('Prime (graph, vectors, recall) in this server; null when it is not available.'),
  },
  annotations: READ,
  async handler(_args, ctx) {
    const health = await ctx.store.health();
    // Hosted tenants share one store: its totals and paths are not theirs to see.
    const core = ctx.mode === 'local' ? { ...health } : { kind: health.kind, ok: health.ok };
    return {
      ok: health.ok,
      mode: ctx.mode,
      version: ctx.version,
      tenant_id: ctx.tenant,
      started_at: new Date(ctx.startedAt).toISOString(),
      uptime_ms: Math.max(0, Math.round(ctx.now() - ctx.startedAt)),
      core,
      prime: primeStatus(ctx),
    };
  },
  render: (r) =>
    `allsource ${r.version} (${r.mode}) ${r.ok ? 'ok' : 'NOT OK'}; store ${r.core.kind}; up ${Math.round(r.uptime_ms / 1000)} s.` +
    (sharingOf(r.core) ? ` This process ${sharingOf(r.core)!.role === 'holder' ? 'holds the data directory' : `follows process ${sharingOf(r.core)!.holder_pid}, which holds the data directory`}.` : '') +
    (r.prime ? ` Prime: embedder ${r.prime.embedder.name} (${r.prime.embedder.kind}); ${r.prime.vector_search}.` : ''),
});

/** The sharing part of a local store's health (SharedCore), when there is one. */
function sharingOf(core: Record<string, unknown>): { role: string; holder_pid: number | null } | undefined {
  const sharing = core.sharing as { role?: unknown; holder_pid?: unknown } | undefined;
  return typeof sharing?.role === 'string' ? { role: sharing.role, holder_pid: typeof sharing.holder_pid === 'number' ? sharing.holder_pid : null } : undefined;
}

/** Prime's part of get_cluster_status; a hosted tenant does not learn how many other tenants are warm. */
function primeStatus(ctx: ToolContext): (Omit<PrimeCapabilities, 'tenants_warm'> & { tenants_warm: number | null }) | null {
  const capabilities = ctx.prime?.capabilities();
  if (capabilities === undefined) return null;
  return ctx.mode === 'hosted' ? { ...capabilities, tenants_warm: null } : capabilities;
}

const searchEvents = defineTool({
  name: 'search_events',
  title: 'Search events by words',
  description:
    'Full-text search over the words in event payloads (string and number values), best match first (BM25 relevance, ties broken by recency). Narrow by entity or type, or search the memory as of an instant. Paged.',
  group: 'events',
  writes: false,
  inputSchema: {
    query: z.string().min(1).max(1000).describe('The words to look for, case-insensitive, e.g. "paris apartment lease". Events matching more of the rarer words rank higher.'),
    limit: limitArg('hits'),
    cursor: cursorArg(),
    entity_id: entityIdArg('Only events of this entity').optional(),
    event_type: eventTypeArg('Only events of this type').optional(),
    as_of: asOfArg().optional(),
    include_deleted: includeDeletedArg(),
  },
  outputSchema: {
    hits: z.array(z.object({ event: eventResult, score: z.number().describe('BM25 relevance; higher is better.') })),
    ...pageShape,
  },
  annotations: READ,
  argumentForField: storeFieldToArgument,
  hints: { invalid: cursorHint },
  async handler(args, ctx) {
    const options = defined(args);
    const result = await withinBudget(
      args.limit ?? LIMITS.defaultPageSize,
      (limit) => ctx.store.search(ctx.tenant, { ...options, limit }),
      (page) => page.hits,
    );
    return { hits: result.hits.map((h) => ({ event: h.event, score: h.score })), next_cursor: result.next_cursor, has_more: result.has_more };
  },
  render: (r) => renderList(`${r.hits.length} hit${r.hits.length === 1 ? '' : 's'}:`, r.hits, (h) => `${h.score.toFixed(2)} ${eventLine(h.event)}`, r.has_more),
});

const watchEvents = defineTool({
  name: 'watch_events',
  title: 'Wait for new events',
  description:
    'Long-poll: return events recorded after a log position, waiting up to timeout_ms for the first one. Start with after = 0 (everything) or the last_position of get_stats (only new events), then pass each result\'s last_position as after to continue without gaps or repeats.',
  group: 'events',
  writes: false,
  inputSchema: {
    after: z.number().int().min(0).optional().describe('Return events with a log position greater than this (the cursor of a watch). Default 0: from the beginning. E.g. 1042.'),
    timeout_ms: z
      .number()
      .int()
      .min(0)
      .max(LIMITS.maxWatchTimeoutMs)
      .optional()
      .describe(`How long to wait for a first event, in milliseconds (0-${LIMITS.maxWatchTimeoutMs}, default 10000). 0 returns at once. Keep it below your client's request timeout.`),
    limit: limitArg('events'),
    entity_id: entityIdArg('Only events of this entity').optional(),
    event_type: eventTypeArg('Only events of this type').optional(),
  },
  outputSchema: {
    events: z.array(eventResult),
    last_position: z.number().int().describe('Pass as after to continue; it never goes backwards.'),
    timed_out: z.boolean().describe('True when nothing arrived before the timeout.'),
    has_more: z.boolean().describe('True when the page is full: call again at once for more.'),
  },
  annotations: READ,
  argumentForField: storeFieldToArgument,
  async handler(args, ctx) {
    const watch = defined({ after: args.after ?? 0, entity_id: args.entity_id, event_type: args.event_type });
    let timeoutMs = args.timeout_ms ?? 10_000;
    let pageLimit = args.limit ?? LIMITS.defaultPageSize;
    const result = await withinBudget(
      pageLimit,
      async (limit) => {
        pageLimit = limit;
        const page = await ctx.store.watch(ctx.tenant, { ...watch, timeout_ms: timeoutMs, limit });
        timeoutMs = 0; // a refetch of a page that was too big finds its events already there
        return page;
      },
      (page) => page.events,
    );
    return { events: [...result.events], last_position: result.last_position, timed_out: result.timed_out, has_more: result.events.length === pageLimit };
  },
  render: (r) =>
    r.timed_out
      ? `No new events (timed out); continue with after = ${r.last_position}.`
      : renderList(`${r.events.length} event${r.events.length === 1 ? '' : 's'}; continue with after = ${r.last_position}:`, r.events, eventLine, false),
});

// ── Soft delete ───────────────────────────────────────────────────────────────────────────────

const selectorShape = (verb: 'delete' | 'restore') => ({
  reason: reasonArg(verb === 'delete' ? 'Why these events are being forgotten' : 'Why these events are being brought back'),
  entity_id: entityIdArg(`${verb === 'delete' ? 'Delete' : 'Restore'} the events of this entity`).optional(),
  event_ids: z
    .array(z.string().min(1).max(LIMITS.maxIdLength))
    .min(1)
    .max(LIMITS.maxPageSize)
    .optional()
    .describe(`${verb === 'delete' ? 'Delete' : 'Restore'} these events, by id (1-1000 ids).`),
  event_type: eventTypeArg(`${verb === 'delete' ? 'Delete' : 'Restore'} the events of this type`).optional(),
  since: instantArg('Narrow to events recorded at or after this instant').optional(),
  until: instantArg('Narrow to events recorded at or before this instant').optional(),
  dry_run: dryRunArg(`Report which events would be ${verb === 'delete' ? 'deleted' : 'restored'}, and change nothing.`),
});

type SelectorArgs = { reason: string; entity_id?: string; event_ids?: string[]; event_type?: string; since?: string; until?: string; dry_run?: boolean };

function toSelector(args: SelectorArgs) {
  if (args.event_ids === undefined && args.entity_id === undefined && args.event_type === undefined) {
    throw new InvalidError('event_ids', 'name the events with event_ids, entity_id or event_type (since and until only narrow those)');
  }
  return defined({ reason: args.reason, ids: args.event_ids, entity_id: args.entity_id, event_type: args.event_type, since: args.since, until: args.until, dry_run: args.dry_run });
}

const deleteEvents = defineTool({
  name: 'delete_events',
  title: 'Delete (forget) events',
  description:
    'Forget events: reads stop returning them and entity states are folded without them. Select by event_ids, entity_id or event_type (all given selectors must match), narrowed by since/until. This is a soft delete recorded in the log with your reason: restore_events brings them back, and reads as_of an earlier instant still see them. Try dry_run first to see what would be deleted.',
  group: 'events',
  writes: true,
  inputSchema: selectorShape('delete'),
  outputSchema: tombstoneShape,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  argumentForField: storeFieldToArgument,
  async handler(args, ctx) {
    return { ...(await ctx.store.tombstone(ctx.tenant, toSelector(args))) };
  },
  render: (r) =>
    r.dry_run
      ? `Dry run: ${r.count} event${r.count === 1 ? '' : 's'} would be deleted${r.count ? `: ${r.event_ids.slice(0, 20).join(', ')}${r.count > 20 ? ', …' : ''}` : ''}.`
      : r.count === 0
        ? 'Nothing to delete: no live events matched.'
        : `Deleted ${r.count} event${r.count === 1 ? '' : 's'} (recorded at position ${r.position}); restore_events can bring them back.`,
});

const restoreEvents = defineTool({
  name: 'restore_events',
  title: 'Restore deleted events',
  description:
    'Bring back events removed with delete_events. Select by event_ids, entity_id or event_type (all given selectors must match), narrowed by since/until; only deleted events are affected. Recorded in the log with your reason.',
  group: 'events',
  writes: true,
  inputSchema: selectorShape('restore'),
  outputSchema: tombstoneShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  argumentForField: storeFieldToArgument,
  async handler(args, ctx) {
    return { ...(await ctx.store.restore(ctx.tenant, toSelector(args))) };
  },
  render: (r) =>
    r.dry_run
      ? `Dry run: ${r.count} event${r.count === 1 ? '' : 's'} would be restored.`
      : r.count === 0
        ? 'Nothing to restore: no deleted events matched.'
        : `Restored ${r.count} event${r.count === 1 ? '' : 's'} (recorded at position ${r.position}).`,
});

// ── Export / import ───────────────────────────────────────────────────────────────────────────

type ExportFormat = 'jsonl' | 'csv' | 'parquet';

async function encodeEvents(format: ExportFormat, events: readonly StoredEvent[], includeMetadata: boolean): Promise<Uint8Array | string> {
  if (format === 'jsonl') return toJsonl(events, includeMetadata);
  if (format === 'csv') return toCsv(events, includeMetadata);
  return toParquet(events, includeMetadata);
}

const exportEvents = defineTool({
  name: 'export_events',
  title: 'Export events',
  description:
    'Export events as JSONL (one JSON event per line; import_events reads it back), CSV, or Parquet (same columns as the store\'s segment files; returned base64-encoded). Filters are those of query_events. Inline, one page per call (limit up to 1000, and at most 1 MiB of data): pass next_cursor as cursor for the next page. Locally, path writes every matching event to a new file instead.',
  group: 'events',
  writes: false,
  inputSchema: {
    format: z.enum(['jsonl', 'csv', 'parquet']).optional().describe('"jsonl" (default), "csv", or "parquet" (binary: inline it comes base64-encoded).'),
    include_metadata: z.boolean().optional().describe("Include each event's metadata object. Default true."),
    ...queryFilterShape,
    limit: limitArg('events'),
    cursor: cursorArg(),
    path: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe('Local mode only: write to this new file (absolute path or ~/…; an existing file is never overwritten) instead of returning data; then every matching event is written, or at most limit if given. E.g. "~/allsource-export.jsonl".'),
  },
  outputSchema: {
    format: z.enum(['jsonl', 'csv', 'parquet']),
    encoding: z.enum(['utf8', 'base64']).describe('How data is encoded: text, or base64 for parquet.'),
    data: z.string().nullable().describe('The exported events (null when written to path).'),
    path: z.string().nullable().describe('The file written, or null.'),
    count: z.number().int().describe('Events exported.'),
    bytes: z.number().int().describe('Size of the export in bytes (before base64).'),
    ...pageShape,
  },
  // Not read-only: with path it creates a file on this machine (never in the store).
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  argumentForField: storeFieldToArgument,
  hints: { invalid: cursorHint },
  async handler(args, ctx) {
    const format = args.format ?? 'jsonl';
    const includeMetadata = args.include_metadata ?? true;
    const { format: _format, include_metadata: _include, path, limit, cursor, ...filters } = args;
    const encoding = format === 'parquet' ? ('base64' as const) : ('utf8' as const);
    if (path !== undefined) return exportToFile(ctx, localPath(ctx, path), format, includeMetadata, filters as QueryFilter, limit, cursor);

    // Inline: one page, cut shorter (by re-querying with a smaller limit, so next_cursor stays
    // exact) while its encoding is over the inline cap.
    let pageLimit = limit ?? LIMITS.defaultPageSize;
    while (true) {
      const page = await ctx.store.query(ctx.tenant, defined({ ...filters, limit: pageLimit, cursor }) as QueryFilter);
      const encoded = await encodeEvents(format, page.events, includeMetadata);
      const bytes = typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.length;
      if (bytes > RESULT_BUDGET_BYTES && page.events.length > 1) {
        pageLimit = Math.max(1, Math.floor(page.events.length / 2));
        continue;
      }
      const data = typeof encoded === 'string' ? encoded : Buffer.from(encoded).toString('base64');
      return { format, encoding, data, path: null, count: page.events.length, bytes, next_cursor: page.next_cursor, has_more: page.has_more };
    }
  },
  render: (r) =>
    r.path !== null
      ? `Exported ${r.count} events as ${r.format} to ${r.path} (${r.bytes} bytes).${r.has_more ? ' More remain: pass next_cursor as cursor.' : ''}`
      : `Exported ${r.count} events as ${r.format} (${r.bytes} bytes${r.encoding === 'base64' ? ', base64 in data' : ''}).${r.has_more ? ' More: pass next_cursor as cursor.' : ''}${r.format !== 'parquet' && r.data ? `\n${oneLine(r.data, 1000)}` : ''}`,
});

async function exportToFile(
  ctx: ToolContext,
  path: string,
  format: ExportFormat,
  includeMetadata: boolean,
  filters: QueryFilter,
  limit: number | undefined,
  startCursor: string | undefined,
) {
  const fetchPage = (cursor: string | undefined, count: number) =>
    ctx.store.query(ctx.tenant, defined({ ...filters, limit: limit === undefined ? FILE_EXPORT_PAGE : Math.min(FILE_EXPORT_PAGE, limit - count), cursor }) as QueryFilter);
  // The first page before the file: bad filters or a bad cursor fail without leaving a file behind.
  let page = await fetchPage(startCursor, 0);
  let file: FileHandle;
  try {
    file = await open(path, 'wx', 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConflictError(`path: ${path} already exists; choose a new file name`, { field: 'path' });
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InvalidError('path', `the directory of ${path} does not exist`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'EROFS') throw new InvalidError('path', `cannot create ${path} (${code})`);
    throw err;
  }
  let count = 0;
  let bytes = 0;
  const parquetRows: StoredEvent[] = [];
  try {
    while (true) {
      count += page.events.length;
      if (format === 'parquet') parquetRows.push(...page.events);
      else {
        let text = format === 'jsonl' ? toJsonl(page.events, includeMetadata) : toCsv(page.events, includeMetadata);
        if (format === 'csv' && bytes > 0) text = text.slice(text.indexOf('\r\n') + 2); // one header per file
        const chunk = Buffer.from(text);
        await file.write(chunk);
        bytes += chunk.length;
      }
      if (!page.has_more || page.next_cursor === null || (limit !== undefined && count >= limit)) break;
      page = await fetchPage(page.next_cursor, count);
    }
    if (format === 'parquet') {
      const encoded = await toParquet(parquetRows, includeMetadata);
      await file.write(encoded);
      bytes = encoded.length;
    }
    await file.sync();
    await file.close();
  } catch (err) {
    // A half-written export is worse than none: remove it so a retry can use the same path.
    await file.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  return {
    format,
    encoding: format === 'parquet' ? ('base64' as const) : ('utf8' as const),
    data: null,
    path,
    count,
    bytes,
    next_cursor: page.has_more ? page.next_cursor : null,
    has_more: page.has_more,
  };
}

const importEvents = defineTool({
  name: 'import_events',
  title: 'Import events',
  description:
    'Load events from JSONL (one event per line) or a JSON array, inline as data or, locally, from a file path. Each record has entity_id, event_type, payload and optionally metadata, id (or event_id) and occurred_at; the other fields of an export_events file are ignored, so an export imports back as is. Atomic: when any record is invalid nothing is imported and every problem is reported. Up to 10,000 events per call. Try validate_only first.',
  group: 'events',
  writes: true,
  inputSchema: {
    data: z
      .string()
      .min(1)
      .max(MAX_IMPORT_DATA_CHARS)
      .optional()
      .describe('The events as text: JSONL, e.g. {"entity_id":"user-1","event_type":"user.created","payload":{"name":"Ada"}} one per line, or a JSON array of such objects. Give data or path.'),
    path: z.string().min(1).max(4096).optional().describe('Local mode only: read the events from this file (absolute path or ~/…). Give data or path.'),
    format: z.enum(['jsonl', 'json']).optional().describe('"jsonl" or "json" (an array). Default: "json" when the text starts with "[", else "jsonl".'),
    entity_id_prefix: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('Prepended to every entity_id, to keep imported entities apart, e.g. "crm:" turns "user-1" into "crm:user-1".'),
    preserve_timestamps: z
      .boolean()
      .optional()
      .describe("Keep each record's occurred_at (or, for an export, its recorded timestamp) as when it happened. Default true; false dates every event to the import. The recorded time is always the import's."),
    skip_duplicates: z.boolean().optional().describe('Skip records whose id is already in memory (counted as skipped) instead of failing with a conflict. Default false.'),
    validate_only: z.boolean().optional().describe('Check everything (including conflicts) and report, but import nothing. Default false.'),
  },
  outputSchema: {
    imported: z.number().int().describe('Events written (with validate_only: that would be written).'),
    skipped: z.number().int().describe('Records not written because their id was already recorded.'),
    errors: z.number().int().describe('Invalid records; when above 0 nothing was imported.'),
    problems: z
      .array(z.object({ record: z.number().int().describe('1-based record number (the line number for JSONL; 0 for the whole input).'), field: z.string().nullable(), message: z.string() }))
      .describe(`The first ${MAX_PROBLEMS_SHOWN} problems.`),
    validate_only: z.boolean(),
    last_position: z.number().int().nullable().describe('Log position of the last event written, or null.'),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx) {
    if ((args.data === undefined) === (args.path === undefined)) throw new InvalidError('data', 'give exactly one of data (the events as text) or path (a file)');
    let text = args.data;
    if (args.path !== undefined) text = await readImportFile(localPath(ctx, args.path));
    const validateOnly = args.validate_only === true;
    const report = (problems: ImportProblem[], errors: number) => ({
      imported: 0,
      skipped: 0,
      errors,
      problems: problems.slice(0, MAX_PROBLEMS_SHOWN),
      validate_only: validateOnly,
      last_position: null,
    });

    const { records, problems } = parseImport(text as string, args.format ?? detectFormat(text as string));
    if (records.length + problems.length === 0) throw new InvalidError(args.path !== undefined ? 'path' : 'data', 'holds no events');
    if (records.length > MAX_IMPORT_EVENTS) {
      throw new InvalidError(args.path !== undefined ? 'path' : 'data', `holds ${records.length} events; at most ${MAX_IMPORT_EVENTS} per call (split the input, or use \`allsource ingest\` for bulk loads)`);
    }
    if (problems.length > 0) return report(problems, new Set(problems.map((p) => p.record)).size);

    const preserve = args.preserve_timestamps ?? true;
    const prefix = args.entity_id_prefix ?? '';
    let skipped = 0;
    const batch: Array<{ record: number; event: NewEvent }> = [];
    for (const { record, event, timestamp } of records) {
      if (args.skip_duplicates && event.id !== undefined && (await eventExists(ctx, event.id))) {
        skipped++;
        continue;
      }
      const occurredAt = preserve ? (event.occurred_at ?? timestamp) : undefined;
      batch.push({ record, event: defined({ ...event, entity_id: prefix + event.entity_id, occurred_at: occurredAt }) });
    }
    if (batch.length === 0) return { imported: 0, skipped, errors: 0, problems: [], validate_only: validateOnly, last_position: null };
    try {
      const result = await ctx.store.append(
        ctx.tenant,
        batch.map((b) => b.event),
        { dry_run: validateOnly },
      );
      const duplicates = result.events.filter((e) => e.duplicate).length;
      return {
        imported: result.events.length - duplicates,
        skipped: skipped + duplicates,
        errors: 0,
        problems: [],
        validate_only: validateOnly,
        last_position: validateOnly || result.last_position === 0 ? null : result.last_position,
      };
    } catch (err) {
      // A store rejection of one event (invalid or conflicting) is a problem with that record.
      const problem = recordProblem(err, batch);
      if (problem === null) throw err;
      return report([problem], 1);
    }
  },
  render: (r) => {
    if (r.errors > 0) {
      const lines = [`Nothing imported: ${r.errors} invalid record${r.errors === 1 ? '' : 's'}.`];
      for (const p of r.problems) lines.push(`record ${p.record}${p.field ? ` ${p.field}` : ''}: ${p.message}`);
      return lines.join('\n');
    }
    const skipped = r.skipped ? `, ${r.skipped} skipped (already recorded)` : '';
    return r.validate_only ? `Valid: ${r.imported} events would be imported${skipped}; nothing was written.` : `Imported ${r.imported} events${skipped}.`;
  },
});

async function readImportFile(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new InvalidError('path', `${path} is not a file`);
    if (info.size > MAX_IMPORT_FILE_BYTES) throw new InvalidError('path', `${path} is ${info.size} bytes; at most ${MAX_IMPORT_FILE_BYTES} per call (use \`allsource ingest\` for bulk loads)`);
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InvalidError('path', `${path} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw new InvalidError('path', `cannot read ${path} (${code})`);
    throw err;
  }
}

async function eventExists(ctx: ToolContext, id: string): Promise<boolean> {
  try {
    await ctx.store.get(ctx.tenant, id, { include_deleted: true });
    return true;
  } catch (err) {
    // not_found: not recorded; invalid: not even a valid id, so the append will say why.
    if (isErrorCode(err, 'not_found') || isErrorCode(err, 'invalid')) return false;
    throw err;
  }
}

function recordProblem(err: unknown, batch: ReadonlyArray<{ record: number }>): ImportProblem | null {
  if (!(isErrorCode(err, 'invalid') || isErrorCode(err, 'conflict'))) return null;
  const { field, message, code } = err as { field?: string; message: string; code: string };
  const match = field === undefined ? null : /^events\[(\d+)\](?:\.(.+))?$/.exec(field);
  if (match === null) return null;
  const entry = batch[Number(match[1])];
  if (entry === undefined) return null;
  const inner = match[2] ?? null;
  const text = message.startsWith(`${field}: `) ? message.slice((field as string).length + 2) : message;
  return { record: entry.record, field: inner, message: `${code}: ${text}` };
}

// ── Integrity ─────────────────────────────────────────────────────────────────────────────────

const verifyIntegrity = defineTool({
  name: 'verify_integrity',
  title: 'Verify log integrity',
  description: "Recompute this memory's sha256 hash chain over every event and report whether the log is intact, or the first position where it was altered.",
  group: 'events',
  writes: false,
  inputSchema: {},
  outputSchema: {
    ok: z.boolean(),
    checked: z.number().int().describe('Events checked.'),
    head_hash: z.string().nullable().describe('Hash of the last event (null when empty).'),
    first_broken_position: z.number().int().nullable(),
    message: z.string(),
  },
  annotations: READ,
  async handler(_args, ctx) {
    return { ...(await ctx.store.verify(ctx.tenant)) };
  },
  render: (r) => (r.ok ? `Intact: ${r.checked} events verified; head ${r.head_hash ?? '(empty)'}.` : `BROKEN at position ${r.first_broken_position}: ${r.message}`),
});

/** The event tools, in the order tools/list shows them. */
export const EVENT_TOOLS: readonly ToolDefinition[] = [
  ingestEvent,
  ingestEvents,
  queryEvents,
  getEvent,
  reconstructState,
  analyzeChanges,
  getSnapshot,
  listEntities,
  listEventTypes,
  getStats,
  getClusterStatus,
  searchEvents,
  watchEvents,
  deleteEvents,
  restoreEvents,
  exportEvents,
  importEvents,
  verifyIntegrity,
];
