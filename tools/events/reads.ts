// The event tools that read: query, get, state and its history, entities, types, stats, status,
// search, watch.

import { z } from 'zod';
import { InvalidError, isErrorCode } from '../../src/core/errors.js';
import { normalizeInstant, parseInstant } from '../../src/core/time.js';
import { LIMITS, type EntityState, type QueryFilter } from '../../src/core/types.js';
import type { PrimeCapabilities } from '../../src/prime/types.js';
import { defineTool } from '../define.js';
import type { ToolContext } from '../types.js';
import { asOfArg, cursorArg, embedderInfoResult, entityIdArg, entityStateShape, eventIdArg, eventResult, eventTypeArg, includeDeletedArg, instantArg, limitArg, pageShape, prefixArg, queryFilterShape } from '../schemas.js';
import { diffStates } from '../stateDiff.js';
import { ENTITY_NOT_FOUND_HINT, READ, cursorHint, defined, eventLine, oneLine, renderList, stateText, storeFieldToArgument, withinBudget } from './shared.js';

export const queryEvents = defineTool({
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

export const getEvent = defineTool({
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

export const reconstructState = defineTool({
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

export const analyzeChanges = defineTool({
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

export const getSnapshot = defineTool({
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

export const listEntities = defineTool({
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

export const listEventTypes = defineTool({
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

export const getStats = defineTool({
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

export const getClusterStatus = defineTool({
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
    (sharingOf(r.core) ? ` This process ${sharingRole(sharingOf(r.core)!)}.` : '') +
    (r.prime ? ` Prime: embedder ${r.prime.embedder.name} (${r.prime.embedder.kind}); ${r.prime.vector_search}.` : ''),
});

/** What a process does with the data directory, in words. */
function sharingRole(sharing: { role: string; holder_pid: number | null }): string {
  if (sharing.role === 'holder') return 'holds the data directory';
  if (sharing.role === 'reader') return 'reads the data directory read-only (no process holds it)';
  return `follows process ${sharing.holder_pid}, which holds the data directory`;
}

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

export const searchEvents = defineTool({
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

/**
 * The longest a watch_events call waits. Below the store's own limit (60 s, for REST clients that
 * set their own timeouts): MCP clients time requests out, the SDK's Client at 60 s and many
 * gateways at 30 s, and a wait that ends in a client timeout loses its answer.
 */
export const WATCH_TOOL_MAX_MS = 30_000;

export const watchEvents = defineTool({
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
      .max(WATCH_TOOL_MAX_MS)
      .optional()
      .describe(`How long to wait for a first event, in milliseconds (default 10000). 0 returns at once.`),
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
