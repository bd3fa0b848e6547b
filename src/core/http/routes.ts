// The /api/v1 routes of the Core server: each EventStore call as one route (the port over HTTP,
// one-to-one), the admin routes for tenants, keys and quotas, and the access rule every route shares:
// a tenant key reaches only its own tenant (anything else is "not found", never "forbidden", so
// no key learns which tenants exist), a read-only key may not write (403), admin routes take
// the admin key only.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AllSourceError, InvalidError, NotFoundError } from '../errors.js';
import type { AppendResult, EventStore, JsonValue, NewEvent, QueryFilter, TombstoneSelector } from '../types.js';
import { ADMIN_TENANT, checkDataTenant, type Keyring } from './keys.js';
import type { Quotas } from './quotas.js';
import { ROUTES, type RouteName, type RouteSpec } from './schemas.js';
import type { CoreMetrics } from './metrics.js';

/** What the routes need from the server. */
export interface CoreContext {
  store: () => EventStore;
  keyring: () => Keyring;
  /** Per-tenant daily quotas of tool calls (the admin log's quota events). */
  quotas: () => Quotas;
  metrics: CoreMetrics;
  /** Aborted when the server starts shutting down: waiting watches answer then. */
  shutdown: AbortSignal;
  /** A failure as the wire carries it (`{code, message, field?, details?}`), as the error handler would send it. */
  wireError: (err: unknown, req: FastifyRequest) => Record<string, unknown>;
}

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown>; Body: Record<string, unknown> }>;
type Handler = (req: Req, reply: FastifyReply, tenant: string) => Promise<unknown>;

/** The tenant a request may act on, after the access rule; undefined for routes without one. */
export function allowedTenant(route: RouteSpec, req: Req): string | undefined {
  const principal = req.principal!;
  if (route.admin && principal.kind !== 'admin') throw new NotFoundError(`no route ${req.method} ${route.url}`);
  if (route.writes && principal.kind === 'tenant' && principal.read_only) throw new AllSourceError('forbidden', 'this key is read-only');
  const named = req.params.tenant;
  if (named === undefined) return undefined;
  const missing = (): NotFoundError => new NotFoundError(`tenant ${JSON.stringify(named)} not found`, { field: 'tenant' });
  if (principal.kind === 'tenant') {
    if (named !== principal.tenant) throw missing();
    return named;
  }
  if (named === ADMIN_TENANT) throw missing();
  return checkDataTenant(named, 'tenant');
}

export function registerRoutes(app: FastifyInstance, ctx: CoreContext): void {
  const store = ctx.store;
  const counted = (result: AppendResult): AppendResult => {
    if (!result.dry_run) {
      let fresh = 0;
      for (const e of result.events) if (!e.duplicate) fresh++;
      ctx.metrics.appendedEvents.inc(fresh);
    }
    return result;
  };
  const appended = (result: AppendResult, req: Req): AppendResult => {
    if (!result.dry_run) ctx.metrics.appendedBytes.inc(Number(req.headers['content-length'] ?? 0));
    return counted(result);
  };

  const handlers: Record<RouteName, Handler> = {
    appendOne: async (req, reply, t) => reply.code(201).send(appended(await store().append(t, [req.body as unknown as NewEvent], dryRun(req.query.dry_run)), req)),
    appendBatch: async (req, reply, t) => reply.code(201).send(appended(await store().append(t, req.body.events as NewEvent[], dryRun(req.body.dry_run)), req)),
    appendMany: async (req, _reply, t) => {
      const appends = req.body.appends as Array<{ events: NewEvent[]; dry_run?: boolean }>;
      // Started together, so they share the store's group commit (one fsync for the lot).
      const results = await Promise.all(
        appends.map((a) =>
          store()
            .append(t, a.events, dryRun(a.dry_run))
            .then(
              (result) => ({ result: counted(result) }),
              (err: unknown) => ({ error: ctx.wireError(err, req) }),
            ),
        ),
      );
      ctx.metrics.appendedBytes.inc(Number(req.headers['content-length'] ?? 0));
      return { results };
    },
    query: async (req, _reply, t) => store().query(t, withPayloadEquals(req.query) as QueryFilter),
    get: async (req, _reply, t) => store().get(t, req.params.event_id, req.query.include_deleted === undefined ? undefined : { include_deleted: req.query.include_deleted as boolean }),
    state: async (req, _reply, t) => store().state(t, req.params.entity_id, req.query),
    entities: async (req, _reply, t) => store().entities(t, req.query),
    eventTypes: async (req, _reply, t) => store().eventTypes(t, req.query),
    stats: async (_req, _reply, t) => store().stats(t),
    search: async (req, _reply, t) => store().search(t, req.query as never),
    watch: async (req, _reply, t) => {
      // On shutdown a waiting watch answers at once with nothing new; its client watches again
      // (from the same position) against whichever Core serves next.
      let onShutdown: (() => void) | undefined;
      const early = new Promise<void>((resolve) => {
        onShutdown = () => resolve();
        if (ctx.shutdown.aborted) resolve();
        else ctx.shutdown.addEventListener('abort', onShutdown, { once: true });
      });
      ctx.metrics.watchesWaiting.inc();
      try {
        const watching = store().watch(t, req.query);
        const answer = await Promise.race([watching, early.then(() => null)]);
        if (answer !== null) return answer;
        watching.catch(() => undefined);
        const after = req.query.after as number | undefined;
        return { events: [], last_position: after ?? (await store().stats(t)).last_position, timed_out: true };
      } finally {
        ctx.shutdown.removeEventListener('abort', onShutdown!);
        ctx.metrics.watchesWaiting.dec();
      }
    },
    tombstone: async (req, _reply, t) => store().tombstone(t, req.body as unknown as TombstoneSelector),
    restore: async (req, _reply, t) => store().restore(t, req.body as unknown as TombstoneSelector),
    verify: async (_req, _reply, t) => store().verify(t),
    whoami: async (req) => {
      const p = req.principal!;
      return p.kind === 'admin' ? { kind: 'admin', tenant: null, key_id: null, read_only: false } : { kind: 'tenant', tenant: p.tenant, key_id: p.key_id, read_only: p.read_only };
    },
    createTenant: async (req, reply) => reply.code(201).send(await ctx.keyring().createTenant(req.body.tenant)),
    listTenants: async () => ({ tenants: await ctx.keyring().listTenants() }),
    createKey: async (req, reply) => reply.code(201).send(await ctx.keyring().createKey(req.body as { tenant: unknown })),
    listKeys: async (req) => ({ keys: await ctx.keyring().listKeys(req.query.tenant) }),
    revokeKey: async (req) => ctx.keyring().revokeKey(req.params.key_id),
    setQuota: async (req, _reply, t) => ctx.quotas().setQuota(t, req.body.daily_tool_calls),
    getQuota: async (_req, _reply, t) => ctx.quotas().getQuota(t),
    leaseQuota: async (req, _reply, t) => ctx.quotas().lease(t, req.body.calls),
  };

  for (const [name, route] of Object.entries(ROUTES) as [RouteName, RouteSpec][]) {
    const handler = handlers[name];
    const { response: _documentedOnly, ...validated } = route.schema;
    app.route({
      method: route.method,
      url: route.url,
      schema: validated,
      ...(route.strictBody ? { preValidation: strictBodyTypes(route) } : {}),
      handler: async (req, reply) => handler(req as Req, reply, allowedTenant(route, req as Req) as string),
    });
  }
}

/** Refuses body fields whose JSON type, as sent, is none of the types their schema declares (before validation coerces them). */
function strictBodyTypes(route: RouteSpec): (req: FastifyRequest) => Promise<void> {
  const properties = (route.schema.body?.properties ?? {}) as Record<string, { type?: string | string[] }>;
  const isType = (value: unknown, type: string): boolean =>
    type === 'integer' ? Number.isInteger(value) : type === 'null' ? value === null : type === 'array' ? Array.isArray(value) : type === 'object' ? typeof value === 'object' && value !== null && !Array.isArray(value) : typeof value === type;
  return async (req) => {
    if (typeof req.body !== 'object' || req.body === null) return;
    for (const [field, value] of Object.entries(req.body)) {
      const declared = properties[field]?.type;
      if (declared === undefined) continue;
      const types = Array.isArray(declared) ? declared : [declared];
      if (!types.some((type) => isType(value, type))) throw new InvalidError(field, `must be ${types.join(' or ')}`);
    }
  };
}

function dryRun(value: unknown): { dry_run?: boolean } {
  return value === undefined ? {} : { dry_run: value as boolean };
}

/** `payload_equals` travels as JSON text in the query string. */
function withPayloadEquals(query: Record<string, unknown>): Record<string, unknown> {
  if (typeof query.payload_equals !== 'string') return query;
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(query.payload_equals) as JsonValue;
  } catch {
    throw new InvalidError('filter.payload_equals', 'must be a JSON object of {"dot.path": value}, e.g. {"user.plan":"pro"}');
  }
  return { ...query, payload_equals: parsed };
}
