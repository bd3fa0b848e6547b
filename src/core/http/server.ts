// The Core REST server (`allsource core`): an EventStore behind a tenant-authenticated HTTP API
// under /api/v1 that mirrors the port one-to-one (routes in routes.ts, schemas in schemas.ts).
// This file holds the edge: fastify setup, request ids, bearer-key authentication, the error
// mapping, health/ready/metrics, structured logs on stderr and the graceful shutdown. The server
// listens before the store is open, answering 503 on /api/v1 until it is (a big log can take
// seconds to recover), and again while it shuts down.

import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { pino, type Logger } from 'pino';
import { DEFAULT_MAX_ARTIFACT_BYTES, type ArtifactStore } from '../artifacts.js';
import { AllSourceError, InvalidError, isAllSourceError, NotFoundError, type ErrorCode } from '../errors.js';
import type { EventStore } from '../types.js';
import { registerArtifactRoutes } from './artifactRoutes.js';
import { Keyring, type Principal } from './keys.js';
import { Quotas } from './quotas.js';
import { createCoreMetrics, type CoreMetrics } from './metrics.js';
import { registerRoutes, type CoreContext } from './routes.js';
import { openApiDocument, routeSpecOf } from './schemas.js';
import { isLoopbackHost, statusForCode } from './wire.js';

export interface CoreServerOptions {
  /** Opens the store; called once, after the server is listening. The server closes it on shutdown. */
  openStore: () => Promise<EventStore>;
  /** HMAC key for stored key digests (32+ bytes; see `loadKeySecret`). */
  keySecret: Buffer;
  /** The admin key (`ALLSOURCE_ADMIN_KEY`). Required unless `insecureLocal`. */
  adminKey?: string;
  /** No admin key: a request without a key acts as admin. Loopback hosts only. */
  insecureLocal?: boolean;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Listen on this unix socket instead of a TCP port (the holder of a shared data directory). The
   * socket is made owner-only (0600): its file permissions are the access check, so it goes with
   * `insecureLocal` and no key.
   */
  socketPath?: string;
  /** Default 3900; 0 picks a free port. */
  port?: number;
  /** Largest request body in bytes (default 32 MiB: a full batch of large events). */
  bodyLimit?: number;
  /**
   * Where tenants' derived artifacts are kept (`…/artifacts` routes; the data directory's
   * `artifacts/` for `allsource core`). Absent: the routes answer that this Core keeps none.
   */
  artifacts?: ArtifactStore;
  /** Largest artifact in bytes (default 256 MiB, DEFAULT_MAX_ARTIFACT_BYTES). */
  maxArtifactBytes?: number;
  /** Requests per second per key (0 or absent: no limit). Over it: 429 with Retry-After. */
  rateLimit?: number;
  /** Structured logs (default: pino JSON lines on stderr); false for none. */
  logger?: Logger | false;
  /** Reported in the OpenAPI document. */
  version?: string;
  /** Runs after the last request is answered and before the store closes (e.g. closing Prime). */
  beforeStoreClose?: () => Promise<void>;
  /**
   * More routes on the same server, added before it listens (`allsource serve --data` mounts the
   * MCP endpoint beside the Core API this way). They get the store, keyring and quotas once ready
   * (the one-box MCP edge leases tool calls from `quotas()` in-process).
   */
  extend?: (app: FastifyInstance, core: { store: () => EventStore; keyring: () => Keyring; quotas: () => Quotas; ready: () => boolean; metrics: CoreMetrics; log: Logger | null }) => void;
}

export interface CoreServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  /** Resolves once the store is open and the server answers /api/v1; rejects if it failed to open. */
  ready: Promise<void>;
  /** Stops accepting, lets in-flight requests finish (waiting watches answer at once), closes the store. */
  close(): Promise<void>;
  /** The fastify instance (tests inject requests through it). */
  app: FastifyInstance;
}

const MIN_ADMIN_KEY_LENGTH = 16;
/** A request id a client may choose: short and printable (it is echoed and logged). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id of a request: the client's `x-request-id` when it is sane, else a new UUID. */
export function requestIdOf(req: { headers: Record<string, string | string[] | undefined> }): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : randomUUID();
}

/**
 * The default log of an HTTP edge: pino JSON lines on stderr, written asynchronously (a line per
 * request must not cost a blocking write per request); `flush` before exiting.
 */
export function createStderrLogger(): { log: Logger; flush: () => void } {
  // Lines are gathered up to 4 KiB (or for at most 250 ms) per write: a write per line is a
  // syscall per request, a cost a busy server notices; flush() empties the buffer at shutdown.
  const destination = pino.destination({ dest: 2, sync: false, minLength: 4096, periodicFlush: 250 });
  return { log: pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination), flush: () => destination.flushSync() };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    startedAt: bigint;
  }
}

/** Starts a Core server: listening at once, serving /api/v1 once the store is open. */
export async function startCoreServer(options: CoreServerOptions): Promise<CoreServer> {
  const host = options.host ?? '127.0.0.1';
  if (options.adminKey === undefined || options.adminKey === '') {
    if (!options.insecureLocal) throw new InvalidError('ALLSOURCE_ADMIN_KEY', 'is not set: the Core refuses to start without an admin key (or pass --insecure-local to serve loopback only, with no key)');
    if (options.socketPath === undefined && !isLoopbackHost(host)) throw new InvalidError('host', `--insecure-local binds loopback only (127.0.0.1, ::1 or localhost), not ${host}`);
  } else if (options.adminKey.length < MIN_ADMIN_KEY_LENGTH) {
    throw new InvalidError('ALLSOURCE_ADMIN_KEY', `must be at least ${MIN_ADMIN_KEY_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`);
  }
  const stderrLog = options.logger === undefined ? createStderrLogger() : undefined;
  const log = options.logger === false ? null : (options.logger ?? stderrLog!.log);

  let store: EventStore | undefined;
  let keyring: Keyring | undefined;
  let quotas: Quotas | undefined;
  let state: 'starting' | 'ready' | 'failed' | 'closing' = 'starting';
  const shutdown = new AbortController();

  const metrics = createCoreMetrics(async () => {
    const health = store === undefined ? undefined : await store.health();
    return typeof health?.tenants === 'number' ? health.tenants : 0;
  });

  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 32 * 1024 * 1024,
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Unknown query parameters and body fields are refused, not silently dropped; query strings
    // are coerced to the declared types ("10" → 10).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: false } },
    return503OnClosing: true,
    // Ids are up to 256 characters, and a URL-encoded one up to 12 bytes per character.
    routerOptions: { maxParamLength: 4096 },
  });
  // Response schemas document the API (OpenAPI); serialization stays plain JSON so a payload is
  // never reshaped by a schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.decorateRequest('principal', null);
  app.decorateRequest('startedAt', 0n);

  app.addHook('onRequest', async (req, reply) => {
    req.startedAt = process.hrtime.bigint();
    reply.header('x-request-id', req.id);
    if (!req.url.startsWith('/api/v1/') || req.url.startsWith('/api/v1/openapi.json')) return;
    if (state !== 'ready') throw new AllSourceError('unavailable', state === 'closing' ? 'the Core is shutting down' : state === 'failed' ? 'the Core failed to open its store' : 'the Core is starting (opening its store)', { details: { retry_after_seconds: 1 } });
    req.principal = await authenticate(req, keyring!, options.insecureLocal === true && !options.adminKey);
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const seconds = Number(process.hrtime.bigint() - req.startedAt) / 1e9;
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: req.method, route }, seconds);
    log?.info({ req_id: req.id, tenant: (req.params as { tenant?: string } | undefined)?.tenant ?? (req as { tenant?: string }).tenant, method: req.method, route, status: reply.statusCode, latency_ms: Math.round(seconds * 1e6) / 1e3 }, 'request');
  });

  /** Any failure as the typed error the client gets; an unexpected one is logged with its stack (which the client never sees). */
  const asWire = (err: unknown, req: FastifyRequest): AllSourceError => {
    const wire = toWireError(err as FastifyError, req);
    if (wire.code === 'internal') log?.error({ req_id: req.id, err: err instanceof Error ? err.stack : String(err) }, 'unexpected error');
    return wire;
  };
  app.setErrorHandler(async (err, req, reply) => sendError(reply, asWire(err, req)));

  app.setNotFoundHandler(async (req, reply) => sendError(reply, new NotFoundError(`no route ${req.method} ${req.url.split('?')[0]}`)));

  if (options.rateLimit !== undefined && options.rateLimit > 0) {
    await app.register(rateLimit, {
      global: true,
      hook: 'preHandler',
      max: options.rateLimit,
      timeWindow: 1000,
      keyGenerator: (req) => principalKey(req.principal) ?? req.ip,
      allowList: (req) => !req.url.startsWith('/api/v1/'),
      errorResponseBuilder: (_req, context) => new AllSourceError('quota_exceeded', `over ${context.max} requests per second for this key; retry after ${context.after}`, { details: { retry_after_seconds: Math.max(1, Math.ceil(context.ttl / 1000)) } }),
    });
  }

  app.get('/health', async () => ({ ok: true }));
  app.get('/ready', async (_req, reply) => {
    if (state !== 'ready' || store === undefined) return reply.code(503).send({ ok: false, state });
    const health = await store.health();
    return reply.code(health.ok ? 200 : 503).send({ ok: health.ok, state, store: health.kind });
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  const document = openApiDocument(options.version ?? '0.0.0');
  app.get('/api/v1/openapi.json', async () => document);

  const ctx: CoreContext = { store: () => store!, keyring: () => keyring!, quotas: () => quotas!, metrics, shutdown: shutdown.signal, wireError: (err, req) => wireBody(asWire(err, req)).error };
  registerRoutes(app, ctx);
  registerArtifactRoutes(app, { artifacts: () => options.artifacts, maxBytes: options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES });
  options.extend?.(app, { store: () => store!, keyring: () => keyring!, quotas: () => quotas!, ready: () => state === 'ready', metrics, log });

  let url: string;
  if (options.socketPath !== undefined) {
    // Created owner-only from the first instant (umask), not chmod-ed after: no window in which
    // another user could connect.
    const umask = process.umask(0o177);
    try {
      await app.listen({ path: options.socketPath });
    } finally {
      process.umask(umask);
    }
    url = `unix:${options.socketPath}`;
  } else {
    await app.listen({ host, port: options.port ?? 3900 });
    const address = app.server.address() as AddressInfo;
    url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  const ready = (async () => {
    try {
      store = await options.openStore();
      keyring = new Keyring({ store, secret: options.keySecret, adminKey: options.adminKey || undefined });
      await keyring.refresh();
      const tenants = keyring;
      quotas = new Quotas({ store, tenantExists: (tenant) => tenants.hasTenant(tenant) });
      await quotas.refresh();
      if (state === 'starting') state = 'ready';
      log?.info({ url }, 'core ready');
    } catch (err) {
      state = 'failed';
      throw err;
    }
  })();
  ready.catch(() => undefined); // the caller awaits it; an unobserved failure must not crash the process

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      state = 'closing';
      shutdown.abort();
      await app.close();
      await ready.catch(() => undefined);
      try {
        await options.beforeStoreClose?.();
      } finally {
        await store?.close();
      }
      log?.info({}, 'core stopped');
      stderrLog?.flush();
    })());

  return { url, ready, close, app };
}

async function authenticate(req: FastifyRequest, keyring: Keyring, anonymousIsAdmin: boolean): Promise<Principal> {
  const header = req.headers.authorization;
  if (header === undefined || header === '') {
    if (anonymousIsAdmin) return { kind: 'admin' };
    throw new AllSourceError('unauthorized', 'missing Authorization: Bearer <key>');
  }
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (match === null) throw new AllSourceError('unauthorized', 'Authorization must be "Bearer <key>"');
  const principal = await keyring.authenticate(match[1]);
  if (principal === null) throw new AllSourceError('unauthorized', 'the key is not valid (unknown, malformed or revoked)');
  return principal;
}

function principalKey(principal: Principal | null): string | undefined {
  if (principal === null) return undefined;
  return principal.kind === 'admin' ? 'admin' : principal.key_id;
}

/** Any failure as an allsource error: typed errors as they are, fastify's own mapped by status. */
function toWireError(err: FastifyError | AllSourceError, req: FastifyRequest): AllSourceError {
  if (isAllSourceError(err)) return err;
  const fe = err as FastifyError;
  if (fe.validation !== undefined && fe.validation.length > 0) {
    const issue = fe.validation[0];
    const params = issue.params as { missingProperty?: string; additionalProperty?: string };
    let field = issue.instancePath.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.');
    const extra = params.missingProperty ?? params.additionalProperty;
    if (extra !== undefined) field = field ? `${field}.${extra}` : extra;
    // Named as the port names it (see RouteSpec.fields), e.g. `limit` in a query is `filter.limit`.
    const where = fe.validationContext === 'querystring' || fe.validationContext === 'body' ? fe.validationContext : undefined;
    const prefix = where === undefined ? undefined : (routeSpecOf(req)?.fields?.[where] ?? undefined);
    if (field === '') field = prefix?.replace(/\.$/, '') || (fe.validationContext ?? 'body');
    else if (prefix !== undefined) field = `${prefix}${field}`;
    if (params.additionalProperty !== undefined) return new InvalidError(field, `is not a known ${where === 'querystring' ? 'query parameter' : 'field'}`);
    return new InvalidError(field, params.missingProperty !== undefined ? 'is required' : (issue.message ?? 'is not valid'));
  }
  const status = fe.statusCode ?? 500;
  // The route's own limit when it has one (an artifact upload's is not the server's).
  if (status === 413) return new AllSourceError('invalid', `body: is larger than the limit of ${req.routeOptions.bodyLimit ?? req.server.initialConfig.bodyLimit} bytes`, { field: 'body', details: { status: 413 } });
  if (status === 415) return new InvalidError('content-type', 'must be application/json');
  if (status === 503) return new AllSourceError('unavailable', 'the Core is shutting down', { details: { retry_after_seconds: 1 } });
  if (status >= 400 && status < 500) return new InvalidError('body', fe.message);
  return new AllSourceError('internal', 'unexpected error');
}

/** The JSON body of an error: `{error: {code, message, field?, details?}}`. */
function wireBody(err: AllSourceError): { error: Record<string, unknown> } {
  const details = err.details === undefined ? undefined : Object.fromEntries(Object.entries(err.details).filter(([k]) => k !== 'status'));
  return { error: { code: err.code, message: err.message, ...(err.field !== undefined ? { field: err.field } : {}), ...(details !== undefined && Object.keys(details).length > 0 ? { details } : {}) } };
}

function sendError(reply: FastifyReply, err: AllSourceError): FastifyReply {
  const status = err.details?.status === 413 ? 413 : statusForCode(err.code as ErrorCode);
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="allsource"');
  const retry = err.details?.retry_after_seconds;
  if ((status === 429 || status === 503) && typeof retry === 'number') reply.header('retry-after', String(retry));
  return reply.code(status).send(wireBody(err));
}
