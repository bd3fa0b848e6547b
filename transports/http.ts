// The hosted transport: MCP over streamable HTTP at /mcp on SDK v2, stateless — every POST builds
// a server for the caller's tenant, answers, and forgets it, so any instance serves any request
// and nothing durable lives here. Both protocol eras on one endpoint: 2025-06-18 / 2025-11-25
// requests (initialize handshake, no session) go through the SDK's web-standard streamable HTTP
// transport, one per request; 2026-07-28 requests (per-request envelope, server/discover,
// Mcp-Method/Mcp-Name headers checked against the body) through the SDK's createMcpHandler. The
// caller comes only from its credential (never from tool arguments). This file is the edge: who
// is calling, DNS-rebinding checks on Origin and Host, the body limit, the per-tenant rate limit
// (per instance) and daily quota (leased from the Core, so it holds across instances), tool-call
// metrics and access logs; the store (HttpCore or EmbeddedCore) and one shared Prime do the rest.

import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createMcpHandler, isLegacyRequest, WebStandardStreamableHTTPServerTransport, type McpServer } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { InvalidError, isAllSourceError } from '../src/core/errors.js';
import { checkTenant } from '../src/core/validate.js';
import { createStderrLogger, requestIdOf } from '../src/core/http/server.js';
import type { Principal } from '../src/core/http/keys.js';
import { isLoopbackHost } from '../src/core/http/wire.js';
import type { EventStore } from '../src/core/types.js';
import type { PrimeService } from '../src/prime/types.js';
import { openHttpCore } from '../src/core/http/httpCore.js';
import { createKeyCheck } from '../src/core/http/keyCheck.js';
import { CoreAdminClient } from '../src/core/http/adminClient.js';
import { createQuotaGate, type QuotaGate, type QuotaTake } from '../src/core/http/quotaGate.js';
import type { Embedder } from '../src/embed/types.js';
import { createCoreSnapshotStore } from '../src/prime/coreSnapshots.js';
import { createPrimeService } from '../src/prime/service.js';
import type { SnapshotPolicy } from '../src/prime/snapshots.js';
import { createAllsourceServer, type ServerMode, type ToolCallGuard, type ToolGroup } from '../tools/registry.js';
import { createOAuthVerifier, PROTECTED_RESOURCE_PATH, type OAuthOptions } from './oauth.js';

/** Who is calling: the tenant every tool call is scoped to, and whether it may write. */
export interface Caller {
  tenant: string;
  readOnly: boolean;
}

/**
 * Turns a request's credentials (its headers) into a caller: null when they are missing or
 * refused (401, nothing runs); throws `unavailable` when they cannot be checked right now (503),
 * `invalid` for a malformed tenant header (400).
 */
export type ResolveCaller = (headers: IncomingHttpHeaders) => Promise<Caller | null>;

export interface McpEdgeOptions {
  store: () => EventStore;
  prime: () => PrimeService & { cacheInfo?: () => { warm_tenants: number; hydrations: number } };
  resolveCaller: ResolveCaller;
  /** `hosted` (tenant keys) or `local` (one operator's tenant, loopback only). */
  mode: ServerMode;
  toolsets?: readonly ToolGroup[];
  /** Origins (scheme://host[:port]) a browser page may call from, besides loopback pages on a loopback bind. */
  allowedOrigins?: readonly string[];
  /** Host headers accepted besides the bound address (a public name behind a proxy). */
  allowedHosts?: readonly string[];
  log: Logger | null;
  /** Where the MCP metrics go (a registry of their own, or the Core's when mounted beside it). */
  registry: Registry;
  /** The `WWW-Authenticate` value of a 401 (OAuth mode points to its resource metadata). */
  challenge?: () => string;
  /**
   * Per-tenant token bucket, per instance: `perSecond` requests refill, up to `burst` (default
   * twice the rate). Past it: 429 with Retry-After. Across N instances a tenant may get N times it.
   */
  rateLimit?: { perSecond: number; burst?: number };
  /**
   * How a request is answered: `json` (one JSON body, the default: cheapest, and what every
   * client accepts) or `sse` (a text/event-stream carrying the answer, so notifications a tool
   * sends before its result reach the client).
   */
  responseMode?: 'json' | 'sse';
  /**
   * The daily tool-call quota per tenant, leased from the Core (held across every instance):
   * a tools/call past it is 429 with Retry-After until the next UTC midnight. Absent: no quota.
   */
  quota?: QuotaGate;
  /** Stands around priced tools' calls: the x402 payment flow (see src/payments/guard.ts). */
  guard?: ToolCallGuard;
}

/** A token bucket per tenant; the map forgets idle tenants (they come back with a full bucket). */
function createRateLimiter(limit: { perSecond: number; burst?: number }): (tenant: string) => number {
  const burst = limit.burst ?? limit.perSecond * 2;
  const buckets = new LRUCache<string, { tokens: number; at: number }>({ max: 100_000 });
  /** Takes one token; returns 0 when allowed, else the seconds until one is there. */
  return (tenant) => {
    const now = performance.now() / 1000;
    const bucket = buckets.get(tenant) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * limit.perSecond);
    bucket.at = now;
    buckets.set(tenant, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / limit.perSecond;
  };
}

/** Bearer tokens only in the header, never in a query string (they would land in access logs). */
const BEARER = /^Bearer +(\S+) *$/i;

/** The caller a tenant key stands for; null for no key, and for the admin key, which is not a tenant (MCP calls need a tenant key). */
export function tenantCaller(principal: Principal | null): Caller | null {
  return principal?.kind === 'tenant' ? { tenant: principal.tenant, readOnly: principal.read_only } : null;
}

/** Extracts the bearer token, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  return BEARER.exec(authorization)?.[1];
}

/** Registers /mcp (POST; GET and DELETE answer 405: this server offers no stream and no session). */
export function registerMcpRoutes(app: FastifyInstance, options: McpEdgeOptions): void {
  const metrics = createMcpMetrics(options.registry, () => options.prime().cacheInfo?.());
  // One for every per-request server: the SDK would build a new Ajv (milliseconds) for each.
  const jsonSchemaValidator = new AjvJsonSchemaValidator();
  const responseMode = options.responseMode ?? 'json';
  const takeToken = options.rateLimit === undefined ? undefined : createRateLimiter(options.rateLimit);
  /**
   * A server for one request of `caller` (tools, read-only filter and observers bound to it). For
   * a tools/call it holds just the tool called, for a ping none: registering all 43 for one call
   * would cost more than the call itself.
   */
  const serverFor = (caller: Caller, reqId: string, body: unknown): McpServer =>
    createAllsourceServer({
      onlyTool: toolsNeeded(body),
      guard: options.guard,
      store: options.store(),
      prime: options.prime(),
      tenant: caller.tenant,
      mode: options.mode,
      toolsets: options.toolsets,
      readOnly: caller.readOnly,
      jsonSchemaValidator,
      log: (line) => options.log?.warn({ req_id: reqId, tenant: caller.tenant }, line),
      observe: ({ tool, outcome, seconds }) => {
        metrics.toolCalls.inc({ tool, outcome });
        metrics.toolSeconds.observe({ tool }, seconds);
        options.log?.info({ req_id: reqId, tenant: caller.tenant, tool, outcome, latency_ms: Math.round(seconds * 1e6) / 1e3 }, 'tool call');
      },
    });
  const modernServer = (mcp: { authInfo?: { extra?: Record<string, unknown> } }): McpServer => {
    const extra = mcp.authInfo?.extra as { caller?: Caller; reqId?: string; body?: unknown } | undefined;
    // Only this edge calls the handler, always with a verified caller.
    if (extra?.caller === undefined) throw new Error('no verified caller for a 2026-07-28 request');
    return serverFor(extra.caller, extra.reqId ?? '', extra.body);
  };
  const modern = quietly(() => createMcpHandler(modernServer, { legacy: 'reject', responseMode }));
  const rejectJsonRpc = (reply: FastifyReply, status: number, message: string, headers: Record<string, string> = {}, id: unknown = null): FastifyReply => {
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    return reply.code(status).type('application/json').send({ jsonrpc: '2.0', error: { code: -32000, message }, id });
  };

  app.post('/mcp', async (req, reply) => {
    const refusal = checkOriginAndHost(req, options);
    if (refusal !== null) return rejectJsonRpc(reply, 403, refusal);
    if (typeof req.query === 'object' && req.query !== null && ('key' in req.query || 'api_key' in req.query || 'token' in req.query)) {
      return rejectJsonRpc(reply, 400, 'credentials go in the Authorization header, never in the URL');
    }
    let caller: Caller | null;
    try {
      caller = await options.resolveCaller(req.headers);
    } catch (err) {
      if (isAllSourceError(err) && err.code === 'unavailable') return rejectJsonRpc(reply, 503, `cannot check the key right now: ${err.message}`, { 'retry-after': '1' });
      if (isAllSourceError(err) && err.code === 'invalid') return rejectJsonRpc(reply, 400, err.message);
      throw err;
    }
    if (caller === null) return rejectJsonRpc(reply, 401, 'a valid key is required: Authorization: Bearer <key>', { 'www-authenticate': options.challenge?.() ?? 'Bearer realm="allsource"' });
    (req as FastifyRequest & { tenant?: string }).tenant = caller.tenant;
    const wait = takeToken?.(caller.tenant) ?? 0;
    if (wait > 0) {
      metrics.rateLimited.inc();
      return rejectJsonRpc(reply, 429, `over ${options.rateLimit!.perSecond} requests per second for this tenant; retry in ${wait.toFixed(1)} s`, { 'retry-after': String(Math.ceil(wait)) });
    }

    const tool = calledTool(req.body);
    if (tool !== undefined && options.quota !== undefined) {
      let taken: QuotaTake;
      try {
        taken = await options.quota.take(caller.tenant);
      } catch (err) {
        if (isAllSourceError(err) && err.code === 'unavailable') return rejectJsonRpc(reply, 503, `cannot check the daily quota right now: ${err.message}`, { 'retry-after': '1' });
        throw err;
      }
      if (!taken.ok) {
        metrics.quotaRefused.inc();
        const id = (req.body as { id?: unknown }).id ?? null;
        return rejectJsonRpc(reply, 429, `this tenant's daily quota of ${taken.limit} tool calls is used up; it resets at the next UTC midnight, in ${taken.retryAfterSeconds} s`, { 'retry-after': String(taken.retryAfterSeconds) }, id);
      }
    }

    // The body is already parsed (and passed as parsedBody below): a headers-only web Request is
    // all the era check and both legs read, and skips re-streaming the body.
    const webRequest = headersOnlyRequest(req);
    const authInfo = { token: 'verified', clientId: caller.tenant, scopes: [], extra: { caller, reqId: req.id, body: req.body } };
    let response: Response;
    if (await isLegacyRequest(webRequest, req.body)) {
      // 2025-era: this transport and server live for this request only (no session id).
      const server = serverFor(caller, req.id, req.body);
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: responseMode === 'json' });
      await server.connect(transport);
      response = await transport.handleRequest(webRequest, { parsedBody: req.body, authInfo });
      // A JSON answer is complete here: nothing of the pair is pending and nothing outside holds
      // it, so it is left to the garbage collector (closing builds a "connection closed" error,
      // stack trace and all, for every request). An SSE stream is closed once it has been sent;
      // closing the transport closes the server too (its onclose).
      if (response.body !== null && isEventStream(response)) reply.raw.once('close', () => void transport.close().catch(() => undefined));
    } else {
      // 2026-07-28: the SDK's per-request handler; the caller rides in authInfo to the factory above.
      response = await modern.fetch(webRequest, { authInfo, parsedBody: req.body });
    }
    return sendWebResponse(reply, response);
  });

  const notOffered = async (_req: FastifyRequest, reply: FastifyReply) =>
    rejectJsonRpc(reply, 405, 'this server is stateless: POST JSON-RPC messages to /mcp (no SSE stream, no session)', { allow: 'POST' });
  app.get('/mcp', notOffered);
  app.delete('/mcp', notOffered);
}

/**
 * Runs `build` with console.warn silenced. The SDK warns on every createMcpHandler with JSON
 * answers that mid-call notifications are dropped; no allsource tool sends any, and an operator
 * should not read a warning about nothing at every start.
 */
function quietly<T>(build: () => T): T {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    return build();
  } finally {
    console.warn = warn;
  }
}

/** The tool a body calls, when it is one tools/call request. */
function calledTool(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { method, params } = body as { method?: unknown; params?: { name?: unknown } };
  return method === 'tools/call' && typeof params?.name === 'string' ? params.name : undefined;
}

/**
 * The tools a server answering `body` needs: the one called (tools/call), none (a ping, or a
 * notification: no tool answers either), or all (undefined: initialize, tools/list, discovery).
 */
function toolsNeeded(body: unknown): string | null | undefined {
  const tool = calledTool(body);
  if (tool !== undefined) return tool;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { method, id } = body as { method?: unknown; id?: unknown };
  return method === 'ping' || (typeof method === 'string' && method.startsWith('notifications/') && id === undefined) ? null : undefined;
}

function isEventStream(response: Response): boolean {
  return response.headers.get('content-type')?.startsWith('text/event-stream') === true;
}

/** Sends a web `Response` through fastify: JSON buffered, an SSE stream piped as it is written. */
async function sendWebResponse(reply: FastifyReply, response: Response): Promise<FastifyReply> {
  reply.code(response.status);
  response.headers.forEach((value, name) => void reply.header(name, value));
  if (response.body === null) return reply.send();
  if (isEventStream(response)) return reply.send(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream));
  return reply.send(Buffer.from(await response.arrayBuffer()));
}

/** A web `Request` with this request's method, URL and headers (the body travels as parsedBody). */
function headersOnlyRequest(req: FastifyRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  headers.delete('content-length');
  let url: URL;
  try {
    url = new URL(req.url, `http://${req.headers.host ?? 'localhost'}`);
  } catch {
    url = new URL(req.url, 'http://localhost'); // a Host header that is no host: only the path matters here
  }
  return new Request(url, { method: req.method, headers });
}

/**
 * DNS-rebinding protection: a browser page on another origin must not reach a server on this
 * machine. An Origin header must be an allowed origin, this server's own (same host), or a
 * loopback page when bound to loopback; on a loopback bind the Host header must name loopback
 * (or an allowed host).
 * Returns why a request is refused, or null.
 */
function checkOriginAndHost(req: FastifyRequest, options: McpEdgeOptions): string | null {
  const address = req.socket.localAddress ?? '';
  const boundToLoopback = address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
  const host = req.headers.host ?? '';
  if (boundToLoopback && !options.allowedHosts?.includes(host)) {
    if (!isLoopbackHost(host.replace(/:\d+$/, ''))) return `Host ${JSON.stringify(host.slice(0, 100))} is not this server (DNS rebinding protection)`;
  }
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  if (options.allowedOrigins?.includes(origin)) return null;
  try {
    const page = new URL(origin);
    if (boundToLoopback && isLoopbackHost(page.hostname)) return null;
    // The server's own pages (the web console at /console): the Origin names the Host asked for.
    // A rebound page would name the attacker's host, which a loopback bind refused above, and
    // it holds no key either way.
    if (page.host === host && (page.protocol === 'http:' || page.protocol === 'https:')) return null;
  } catch {
    // not a URL: refused below
  }
  return `Origin ${JSON.stringify(origin.slice(0, 100))} is not allowed (DNS rebinding protection; see --allowed-origins)`;
}

interface McpMetrics {
  toolCalls: Counter<'tool' | 'outcome'>;
  toolSeconds: Histogram<'tool'>;
  rateLimited: Counter;
  quotaRefused: Counter;
}

function createMcpMetrics(registry: Registry, cache: () => { warm_tenants: number; hydrations: number } | undefined): McpMetrics {
  const toolCalls = new Counter({ name: 'allsource_mcp_tool_calls_total', help: 'MCP tool calls answered, by tool and outcome (ok or the error code).', labelNames: ['tool', 'outcome'], registers: [registry] });
  const toolSeconds = new Histogram({
    name: 'allsource_mcp_tool_call_duration_seconds',
    help: 'Time to answer a tool call, by tool.',
    labelNames: ['tool'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60],
    registers: [registry],
  });
  new Gauge({
    name: 'allsource_mcp_warm_tenants',
    help: "Tenants whose Prime projections are in this instance's warm cache.",
    registers: [registry],
    collect() {
      this.set(cache()?.warm_tenants ?? 0);
    },
  });
  new Counter({
    name: 'allsource_mcp_hydrations_total',
    help: 'Cold tenants whose Prime projections this instance built from the log.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(cache()?.hydrations ?? 0);
    },
  });
  const rateLimited = new Counter({ name: 'allsource_mcp_rate_limited_total', help: 'Requests refused with 429 by the per-tenant rate limit.', registers: [registry] });
  const quotaRefused = new Counter({ name: 'allsource_mcp_quota_refused_total', help: "Tool calls refused with 429 because the tenant's daily quota was used up.", registers: [registry] });
  return { toolCalls, toolSeconds, rateLimited, quotaRefused };
}

export interface McpHttpServerOptions extends Omit<McpEdgeOptions, 'registry' | 'log'> {
  host: string;
  port: number;
  /** Largest request body in bytes (default 16 MiB). */
  bodyLimit?: number;
  logger?: Logger | false;
  /** Whether the store can serve (for /ready). */
  ready: () => Promise<boolean>;
  /** Closes what the server does not own (Prime, the store) after the last request. */
  closeResources: () => Promise<void>;
  /** RFC 9728 Protected Resource Metadata to serve (OAuth mode only: in key mode it is not advertised). */
  protectedResource?: () => Record<string, unknown>;
  /** More routes on the same server, added before it listens (the web console's files). */
  extend?: (app: FastifyInstance) => void;
}

export interface McpHttpServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** A standalone MCP edge (`allsource serve --core URL`, or `--local`): /mcp, /health, /ready, /metrics. */
export async function startMcpHttpServer(options: McpHttpServerOptions): Promise<McpHttpServer> {
  const stderr = options.logger === undefined ? createStderrLogger() : undefined;
  const log = options.logger === false ? null : (options.logger ?? stderr!.log);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'allsource_mcp_' });
  const requests = new Counter({ name: 'allsource_mcp_http_requests_total', help: 'HTTP requests answered, by path, method and status.', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024, requestIdHeader: false, genReqId: requestIdOf, return503OnClosing: true });
  const started = new WeakMap<object, bigint>();
  app.addHook('onRequest', async (req, reply) => {
    started.set(req, process.hrtime.bigint());
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const t0 = started.get(req) ?? process.hrtime.bigint();
    requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    log?.info({ req_id: req.id, tenant: (req as FastifyRequest & { tenant?: string }).tenant, method: req.method, route, status: reply.statusCode, latency_ms: Math.round(Number(process.hrtime.bigint() - t0) / 1e3) / 1e3 }, 'request');
  });
  app.setErrorHandler(async (err, req, reply) => {
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) log?.error({ req_id: req.id, err: err instanceof Error ? err.stack : String(err) }, 'unexpected error');
    const message = status === 413 ? `the request body is larger than ${app.initialConfig.bodyLimit} bytes` : status < 500 ? (err as Error).message : 'internal error';
    return reply.code(status).type('application/json').send({ jsonrpc: '2.0', error: { code: status === 413 || status < 500 ? -32600 : -32603, message }, id: null });
  });
  app.get('/health', async () => ({ ok: true }));
  app.get('/ready', async (_req, reply) => {
    const ok = await options.ready().catch(() => false);
    return reply.code(ok ? 200 : 503).send({ ok });
  });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  const metadata = options.protectedResource;
  if (metadata !== undefined) {
    for (const path of [PROTECTED_RESOURCE_PATH, `${PROTECTED_RESOURCE_PATH}/mcp`]) app.get(path, async () => metadata());
  }
  registerMcpRoutes(app, { ...options, log, registry });
  options.extend?.(app);

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  let closing: Promise<void> | null = null;
  return {
    url,
    app,
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await options.closeResources();
        stderr?.flush();
      })()),
  };
}

export interface HostedMcpServerOptions extends Pick<McpEdgeOptions, 'toolsets' | 'allowedOrigins' | 'allowedHosts' | 'rateLimit' | 'responseMode' | 'guard'>, Pick<McpHttpServerOptions, 'extend'> {
  /** The Core every call goes to (HttpCore). */
  coreUrl: string;
  /** The Core's admin key: data access for any tenant (each call names the caller's own). */
  adminKey: string;
  embedder?: Embedder;
  /**
   * Prime projection snapshots kept on the Core as the artifact `prime-snapshot` (default on): a
   * cold tenant starts from it and folds only the events after it. false: always fold the log; an
   * object tunes when they are uploaded (the same policy as local snapshots).
   */
  primeSnapshots?: boolean | Partial<SnapshotPolicy>;
  /** How long an accepted tenant key is trusted without asking the Core again (default 5000 ms). */
  keyCacheMs?: number;
  /** OAuth 2.1 resource-server mode: JWT access tokens from this issuer (tenant keys still work). */
  oauth?: OAuthOptions;
  /**
   * Gateway mode: a trusted gateway authenticates callers and sends `Authorization: Bearer <this
   * key>` plus `X-Tenant-Id` (and `X-Tenant-Read-Only: true` for a read-only caller). Tenant keys
   * are then not accepted.
   */
  gatewayKey?: string;
  host: string;
  port: number;
  bodyLimit?: number;
  logger?: Logger | false;
}

/**
 * `allsource serve --core URL`: a stateless MCP edge over a remote Core. Tenant keys are checked
 * against the Core (whoami, cached `keyCacheMs`); data goes through one HttpCore; one Prime
 * serves every tenant of this instance, catching a warm tenant up with the log before each read,
 * and starting a cold one from its snapshot on the Core when one checks out.
 */
export async function startHostedMcpServer(options: HostedMcpServerOptions): Promise<McpHttpServer> {
  const store = await openHttpCore({ url: options.coreUrl, key: options.adminKey });
  const keys = createKeyCheck({ url: options.coreUrl, ttlMs: options.keyCacheMs });
  const admin = new CoreAdminClient({ url: options.coreUrl, key: options.adminKey, retryForMs: 2000 });
  const quota = createQuotaGate({ lease: (tenant, calls) => admin.leaseQuota(tenant, calls) });
  // No disk here: snapshots live on the Core, uploaded off the request path (snapshots.ts).
  const prime = createPrimeService({ store, embedder: options.embedder, snapshotStore: createCoreSnapshotStore(store), snapshots: options.primeSnapshots, log: (line) => process.stderr.write(`${line}\n`) });
  // The resource URL defaults to this server's own /mcp, known once it listens.
  const listening = { url: '' };
  const resource = (): string => options.oauth?.resource ?? `${listening.url}/mcp`;
  const oauth = options.oauth === undefined ? undefined : createOAuthVerifier(options.oauth, resource);
  const keyCaller: ResolveCaller = async (headers) => {
    const token = bearerToken(headers.authorization);
    if (token === undefined) return null;
    if (oauth !== undefined && !token.startsWith('as_live_')) return oauth.verify(token);
    return tenantCaller(await keys.check(token));
  };
  const server = await startMcpHttpServer({
    toolsets: options.toolsets,
    allowedOrigins: options.allowedOrigins,
    allowedHosts: options.allowedHosts,
    rateLimit: options.rateLimit,
    responseMode: options.responseMode,
    guard: options.guard,
    quota,
    store: () => store,
    prime: () => prime,
    mode: 'hosted',
    resolveCaller: options.gatewayKey !== undefined ? gatewayCaller(options.gatewayKey) : keyCaller,
    challenge: oauth === undefined ? undefined : () => oauth.challenge(new URL(resource()).origin),
    protectedResource: oauth?.metadata,
    extend: options.extend,
    host: options.host,
    port: options.port,
    bodyLimit: options.bodyLimit,
    logger: options.logger,
    ready: async () => (await store.health()).ok,
    closeResources: async () => {
      await prime.close();
      await keys.close();
      await admin.close();
      await store.close();
    },
  });
  listening.url = server.url;
  return server;
}

/** Callers named by a trusted gateway: the edge key proves the gateway, X-Tenant-Id names the tenant. */
export function gatewayCaller(edgeKey: string): ResolveCaller {
  if (edgeKey.length < 16) throw new InvalidError('ALLSOURCE_EDGE_KEY', 'must be at least 16 characters');
  const expected = Buffer.from(edgeKey);
  return async (headers) => {
    const presented = Buffer.from(bearerToken(headers.authorization) ?? '');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;
    const tenant = headers['x-tenant-id'];
    if (typeof tenant !== 'string' || tenant === '') throw new InvalidError('X-Tenant-Id', 'is required in gateway mode');
    return { tenant: checkTenant(tenant), readOnly: headers['x-tenant-read-only'] === 'true' };
  };
}
