// JSON Schemas of the Core REST API: what each route takes and answers. Fastify validates (and
// coerces query strings) with them, and the OpenAPI 3.1 document at /api/v1/openapi.json is
// generated from the same objects, so the documentation cannot drift from what is enforced.
// Request schemas check the envelope only (types of top-level fields, unknown fields refused); the
// store's own validation (src/core/validate.ts) does the rest, naming the exact field. The admin
// routes (tenants, keys, quotas) are in adminSchemas.ts; the schema constructors in schemaKit.ts.

import { ERROR_CODE_LIST } from '../errors.js';
import { ADMIN_ROUTES } from './adminSchemas.js';
import { bool, int, jsonObject, nullable, object, str, type RouteSpec, type Schema } from './schemaKit.js';
import { MAX_BULK_APPENDS } from './wire.js';

export type { RouteSpec } from './schemaKit.js';

// ── shared pieces ───────────────────────────────────────────────────────────────────────────────

const errorBody = object(
  {
    code: { type: 'string', enum: [...ERROR_CODE_LIST], description: 'Stable error code.' },
    message: str('What went wrong, for people.'),
    field: str('The request field the error is about, e.g. events[0].entity_id.'),
    details: jsonObject('Machine-readable facts, e.g. expected and actual versions of a conflict.'),
  },
  ['code', 'message'],
);

export const errorSchema = object(
  { error: errorBody },
  ['error'],
  'An error. The HTTP status follows the code (see the README error table).',
);

const storedEvent = object(
  {
    id: str('Client idempotency key or a store-generated UUIDv7.'),
    tenant_id: str('The tenant.'),
    entity_id: str('The entity the event is about.'),
    event_type: str('What happened, e.g. user.signed_up.'),
    payload: jsonObject('The event body.'),
    metadata: nullable(jsonObject('Caller metadata, or null.')),
    timestamp: str('When the store recorded it (ISO-8601 UTC, ms).'),
    occurred_at: str('When it happened in the world (ISO-8601 UTC, ms).'),
    version: int('1-based, gapless per entity.'),
    position: int('Strictly increasing per store; the basis of cursors and watches.'),
    hash: str('sha256 hex of the tenant hash chain.'),
    deleted: bool('Present and true for tombstoned events on reads with include_deleted.'),
  },
  ['id', 'tenant_id', 'entity_id', 'event_type', 'payload', 'metadata', 'timestamp', 'occurred_at', 'version', 'position', 'hash'],
);

const newEventProperties = {
  entity_id: str('The entity the event is about.'),
  event_type: str('What happened, e.g. user.signed_up.'),
  payload: jsonObject('The event body (a JSON object).'),
  metadata: nullable(jsonObject('Optional metadata.')),
  id: str('Idempotency key: the same id and content returns the original result.'),
  occurred_at: str('When it happened in the world (ISO-8601).'),
  expected_version: int("The entity's version just before this event (0 = must not exist)."),
};

const appendResult = object(
  {
    events: {
      type: 'array',
      items: object(
        {
          id: str('Event id.'),
          entity_id: str('Entity.'),
          event_type: str('Type.'),
          version: int('Version of the entity after this event.'),
          position: int('Position in the store.'),
          timestamp: str('Recorded time.'),
          occurred_at: str('World time.'),
          duplicate: bool('True when this id was already recorded with the same content.'),
        },
        ['id', 'entity_id', 'event_type', 'version', 'position', 'timestamp', 'occurred_at', 'duplicate'],
      ),
    },
    last_position: int('Highest position of the batch (0 when nothing new was written).'),
    dry_run: bool('True when nothing was written on purpose.'),
  },
  ['events', 'last_position', 'dry_run'],
);

const page = (key: string, items: Schema): Schema =>
  object({ [key]: { type: 'array', items }, next_cursor: nullable(str('Pass as cursor for the next page; null at the end.')), has_more: bool('More pages follow.') }, [key, 'next_cursor', 'has_more']);

const tenantParams = object({ tenant: str('The tenant. A tenant key may only name its own tenant.') }, ['tenant']);

const asOf = str('Only what was recorded at or before this instant (ISO-8601).');
const limit = int('Page size, 1-1000 (default 100).');
const cursor = str('next_cursor of the previous page; the other parameters must be the same.');
const includeDeleted = bool('Include tombstoned events (marked deleted: true).');

const selectorBody = object(
  {
    ids: { type: 'array', items: { type: 'string' }, description: 'Event ids.' },
    entity_id: str('All events of this entity.'),
    event_type: str('All events of this type.'),
    since: str('Recorded at or after (ISO-8601).'),
    until: str('Recorded at or before (ISO-8601).'),
    reason: str('Why (recorded in the log).'),
    dry_run: bool('Report what would change, change nothing.'),
  },
  ['reason'],
  'Which events: the intersection of the given selectors (at least one of ids, entity_id, event_type).',
);

const tombstoneResult = object(
  {
    count: int('How many events changed.'),
    event_ids: { type: 'array', items: { type: 'string' }, description: 'Their ids (at most 1000).' },
    event_ids_truncated: bool('True when more changed than event_ids shows.'),
    position: nullable(int('Position of the control event recorded, or null.')),
    dry_run: bool('True when nothing was written on purpose.'),
  },
  ['count', 'event_ids', 'event_ids_truncated', 'position', 'dry_run'],
);

// ── routes ──────────────────────────────────────────────────────────────────────────────────────

const T = '/api/v1/tenants/:tenant';

export const ROUTES = {
  appendOne: {
    method: 'POST',
    url: `${T}/events`,
    summary: 'Append one event.',
    fields: { querystring: 'options.', body: 'events[0].' },
    writes: true,
    schema: { params: tenantParams, querystring: object({ dry_run: bool('Validate and check conflicts, write nothing.') }), body: object(newEventProperties, ['entity_id', 'event_type', 'payload']), response: { 201: appendResult } },
  },
  appendBatch: {
    method: 'POST',
    url: `${T}/events/batch`,
    summary: 'Append a batch of events atomically (all or none).',
    fields: { body: '' },
    writes: true,
    schema: { params: tenantParams, body: object({ events: { type: 'array', items: { type: 'object' }, description: 'The events (1-10000).' }, dry_run: bool('Validate and check conflicts, write nothing.') }, ['events']), response: { 201: appendResult } },
  },
  appendMany: {
    method: 'POST',
    url: `${T}/events/bulk`,
    summary: 'Several independent appends in one request: each is atomic on its own and answers on its own (HttpCore sends concurrent appends this way).',
    writes: true,
    fields: { body: '' },
    schema: {
      params: tenantParams,
      body: object(
        {
          appends: {
            type: 'array',
            minItems: 1,
            maxItems: MAX_BULK_APPENDS,
            items: object({ events: { type: 'array', items: { type: 'object' }, description: 'The events of this append (1-10000).' }, dry_run: bool('Validate and check conflicts, write nothing.') }, ['events']),
            description: `The appends (1-${MAX_BULK_APPENDS}), run concurrently.`,
          },
        },
        ['appends'],
      ),
      response: { 200: object({ results: { type: 'array', items: { type: 'object', properties: { result: appendResult, error: errorBody }, description: 'Per append, in order: {result} or {error}.' } } }, ['results']) },
    },
  },
  query: {
    method: 'GET',
    url: `${T}/events`,
    summary: 'Events matching filters, in position order, paged.',
    fields: { querystring: 'filter.' },
    writes: false,
    schema: {
      params: tenantParams,
      querystring: object({
        entity_id: str('Exact entity id.'),
        entity_prefix: str('Entity ids starting with this.'),
        event_type: str('Exact event type.'),
        event_type_prefix: str('Event types starting with this.'),
        payload_equals: str('JSON object of {"dot.path": value}; all must match.'),
        since: str('Recorded at or after (ISO-8601).'),
        until: str('Recorded at or before (ISO-8601).'),
        occurred_since: str('Occurred at or after (ISO-8601).'),
        occurred_until: str('Occurred at or before (ISO-8601).'),
        as_of: asOf,
        order: { type: 'string', enum: ['asc', 'desc'], description: 'By position (default asc).' },
        limit,
        cursor,
        include_deleted: includeDeleted,
      }),
      response: { 200: page('events', storedEvent) },
    },
  },
  get: {
    method: 'GET',
    url: `${T}/events/:event_id`,
    summary: 'One event by id.',
    writes: false,
    schema: { params: object({ tenant: str('The tenant.'), event_id: str('The event id.') }, ['tenant', 'event_id']), querystring: object({ include_deleted: includeDeleted }), response: { 200: storedEvent } },
  },
  state: {
    method: 'GET',
    url: `${T}/entities/:entity_id/state`,
    summary: "An entity's state: the RFC 7396 merge-patch of its payloads, now or as of an instant.",
    fields: { querystring: 'options.' },
    writes: false,
    schema: {
      params: object({ tenant: str('The tenant.'), entity_id: str('The entity (URL-encoded).') }, ['tenant', 'entity_id']),
      querystring: object({ as_of: asOf }),
      response: {
        200: object(
          {
            entity_id: str('Entity.'),
            state: nullable(jsonObject('The folded state; null when deleted.')),
            version: int('Version of the last event folded.'),
            last_updated: str('Recorded time of the last event folded.'),
            event_count: int('Events folded.'),
            deleted: bool('True when the last event folded ends in .deleted.'),
            as_of: nullable(str('The instant asked for, or null.')),
          },
          ['entity_id', 'state', 'version', 'last_updated', 'event_count', 'deleted', 'as_of'],
        ),
      },
    },
  },
  entities: {
    method: 'GET',
    url: `${T}/entities`,
    summary: 'Entities in id order, paged.',
    fields: { querystring: 'options.' },
    writes: false,
    schema: {
      params: tenantParams,
      querystring: object({ prefix: str('Entity ids starting with this.'), cursor, limit }),
      response: {
        200: page(
          'entities',
          object(
            { entity_id: str('Entity.'), event_count: int('Live events.'), version: int('Latest version.'), first_event_at: str('First recorded.'), last_event_at: str('Last recorded.'), last_event_id: str('Last event id.'), last_event_type: str('Last event type.'), deleted: bool('Deleted by its last event.') },
            ['entity_id', 'event_count', 'version', 'first_event_at', 'last_event_at', 'last_event_id', 'last_event_type', 'deleted'],
          ),
        ),
      },
    },
  },
  eventTypes: {
    method: 'GET',
    url: `${T}/event-types`,
    summary: 'Event types in name order with counts, paged.',
    fields: { querystring: 'options.' },
    writes: false,
    schema: {
      params: tenantParams,
      querystring: object({ prefix: str('Types starting with this.'), cursor, limit }),
      response: { 200: page('event_types', object({ event_type: str('Type.'), count: int('Live events.'), last_event_at: str('Last recorded.') }, ['event_type', 'count', 'last_event_at'])) },
    },
  },
  stats: {
    method: 'GET',
    url: `${T}/stats`,
    summary: "The tenant's counters.",
    writes: false,
    schema: {
      params: tenantParams,
      response: {
        200: object(
          { tenant_id: str('Tenant.'), events: int('Live events.'), tombstoned_events: int('Tombstoned events.'), entities: int('Entities.'), event_types: int('Event types.'), first_event_at: nullable(str('First recorded.')), last_event_at: nullable(str('Last recorded.')), last_position: int('Position of the last event.') },
          ['tenant_id', 'events', 'tombstoned_events', 'entities', 'event_types', 'first_event_at', 'last_event_at', 'last_position'],
        ),
      },
    },
  },
  search: {
    method: 'GET',
    url: `${T}/search`,
    summary: 'Ranked (BM25) full-text search over payload values, paged.',
    fields: { querystring: 'options.' },
    writes: false,
    schema: {
      params: tenantParams,
      querystring: object({ query: str('Free text.'), limit, cursor, entity_id: str('Only this entity.'), event_type: str('Only this type.'), as_of: asOf, include_deleted: includeDeleted }, ['query']),
      response: { 200: page('hits', object({ event: storedEvent, score: { type: 'number', description: 'BM25 relevance.' } }, ['event', 'score'])) },
    },
  },
  watch: {
    method: 'GET',
    url: `${T}/watch`,
    summary: 'Long-poll: events after a position, waiting up to timeout_ms for a first one.',
    fields: { querystring: 'options.' },
    writes: false,
    schema: {
      params: tenantParams,
      querystring: object({
        after: int('Events with a position greater than this (default: only new ones).'),
        timeout_ms: int('How long to wait, 0-60000 (default 30000).'),
        limit,
        entity_id: str('Only this entity.'),
        event_type: str('Only this type.'),
        event_type_prefix: str('Only types starting with this.'),
        include_control: bool('Also return tombstone and restore control events.'),
      }),
      response: { 200: object({ events: { type: 'array', items: storedEvent }, last_position: int('Pass as after to continue.'), timed_out: bool('Nothing arrived in time.') }, ['events', 'last_position', 'timed_out']) },
    },
  },
  tombstone: {
    method: 'POST',
    url: `${T}/tombstone`,
    summary: 'Hide events from reads (recorded as a control event; time travel still sees them).',
    fields: { body: 'selector.' },
    writes: true,
    schema: { params: tenantParams, body: selectorBody, response: { 200: tombstoneResult } },
  },
  restore: {
    method: 'POST',
    url: `${T}/restore`,
    summary: 'Undo tombstones (recorded as a control event).',
    fields: { body: 'selector.' },
    writes: true,
    schema: { params: tenantParams, body: selectorBody, response: { 200: tombstoneResult } },
  },
  verify: {
    method: 'GET',
    url: `${T}/verify`,
    summary: "Check the tenant's hash chain end to end.",
    writes: false,
    schema: {
      params: tenantParams,
      response: { 200: object({ ok: bool('Chain intact.'), checked: int('Events checked.'), head_hash: nullable(str('Hash of the last event.')), first_broken_position: nullable(int('First position that does not verify.')), message: str('Summary.') }, ['ok', 'checked', 'head_hash', 'first_broken_position', 'message']) },
    },
  },
  whoami: {
    method: 'GET',
    url: '/api/v1/whoami',
    summary: 'What the presented key may do.',
    writes: false,
    schema: { response: { 200: object({ kind: { type: 'string', enum: ['admin', 'tenant'] }, tenant: nullable(str('Bound tenant.')), key_id: nullable(str('Key id.')), read_only: bool('May only read.') }, ['kind', 'tenant', 'key_id', 'read_only']) } },
  },
  // Tenants, keys and quotas (admin key only).
  ...ADMIN_ROUTES,
} satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof ROUTES;

const SPEC_BY_ROUTE = new Map<string, RouteSpec>(Object.values(ROUTES).map((route: RouteSpec) => [`${route.method} ${route.url}`, route]));

/** The spec of the route a request matched (by method and URL template). */
export function routeSpecOf(req: { method: string; routeOptions: { url?: string } }): RouteSpec | undefined {
  return SPEC_BY_ROUTE.get(`${req.method} ${req.routeOptions.url}`);
}

/** The error responses every /api/v1 route may give, for the OpenAPI document. */
export const ERROR_STATUSES = [400, 401, 403, 404, 409, 413, 429, 503] as const;

/** OpenAPI 3.1 document of the routes above (fastify path syntax turned into {param}). */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, route] of Object.entries(ROUTES) as [string, RouteSpec][]) {
    const path = route.url.replace(/:([a-z_]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [['path', route.schema.params], ['query', route.schema.querystring]] as const) {
      const props = (schema?.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema?.required ?? []) as string[]);
      for (const [param, s] of Object.entries(props)) {
        const { description, ...rest } = s;
        parameters.push({ name: param, in: where, required: where === 'path' || required.has(param), description, schema: rest });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(route.schema.response)) responses[status] = { description: 'OK', content: { 'application/json': { schema } } };
    for (const status of ERROR_STATUSES) responses[status] = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      operationId: name,
      summary: route.summary,
      security: [{ bearer: [] }],
      parameters,
      ...(route.schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: route.schema.body } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'allsource Core', version, description: 'The EventStore port over HTTP: every call is scoped to one tenant; a tenant key may only name its own.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: { Error: errorSchema } },
    paths,
  };
}
