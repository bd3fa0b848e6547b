// The console's only way to the data: the server's public APIs, as any other client uses them.
// The event log through the Core REST API (/api/v1/tenants/:tenant/...) where the server has it,
// else through the MCP event tools; Prime (graph, history, recall) through MCP tools at /mcp, as
// plain JSON-RPC POSTs (the endpoint is stateless, so a call needs no session). The key, when
// there is one, travels only in the Authorization header.

import type { EntitiesResult, EntityState, EventTypesResult, QueryFilter, QueryResult, StoredEvent, TenantStats, VerifyResult } from '../../src/core/types.js';
import type { PrimeCounters, PrimeEdge, PrimeNode, RecallHit } from '../../src/prime/types.js';

export type { EntityState, JsonObject, JsonValue, QueryFilter, StoredEvent, TenantStats, VerifyResult } from '../../src/core/types.js';
export type { PrimeEdge, PrimeNode, RecallHit, ScoreParts } from '../../src/prime/types.js';

/** /console/config.json: how to sign in and which APIs this server has. */
export interface ConsoleConfig {
  auth: 'key' | 'none';
  tenant?: string;
  rest: boolean;
  mcp: boolean;
}

/** A failure as the server put it (the REST error body, or a tool's isError text). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface PrimeStatsResult extends PrimeCounters {
  embedder: { name: string; kind: string; dims: number };
  vector_index: { mode: string; note: string };
}

export interface RecallResult {
  results: Array<Omit<RecallHit, 'via'> & { via: { node_id: string; relation: string } | null }>;
  embedder: { name: string; kind: string; dims: number };
}

export interface Subgraph {
  nodes: PrimeNode[];
  edges: PrimeEdge[];
  truncated: boolean;
}

/** The MCP protocol version the console speaks (the 2025 era: one POST per call, no session). */
const MCP_VERSION = '2025-06-18';

export async function loadConfig(): Promise<ConsoleConfig> {
  // The server sends it with Cache-Control: no-cache, so a new server's config is always seen.
  const res = await fetch('config.json');
  if (!res.ok) throw new ApiError('unavailable', `config.json: HTTP ${res.status}`, res.status);
  return (await res.json()) as ConsoleConfig;
}

/** A signed-in client for one tenant. */
export class Api {
  private mcpId = 0;

  constructor(
    readonly config: ConsoleConfig,
    readonly tenant: string,
    private readonly key: string | null,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.key === null ? extra : { ...extra, authorization: `Bearer ${this.key}` };
  }

  /** GET on the Core REST API; undefined values are left out of the query string. */
  async rest<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}, signal?: AbortSignal): Promise<T> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value));
    const qs = params.toString();
    const res = await fetch(`/api/v1${path}${qs ? `?${qs}` : ''}`, { headers: this.headers(), signal });
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    if (!res.ok) throw new ApiError(body?.error?.code ?? 'internal', body?.error?.message ?? `HTTP ${res.status}`, res.status);
    return body as T;
  }

  private tenantPath(rest: string): string {
    return `/tenants/${encodeURIComponent(this.tenant)}${rest}`;
  }

  /** One MCP tool call; its structuredContent, or the tool's error. */
  async tool<T>(name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    if (!this.config.mcp) throw new ApiError('unavailable', 'this server has no MCP endpoint (/mcp): the graph and recall need `allsource serve` or `allsource console`');
    const res = await fetch('/mcp', {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MCP_VERSION }),
      body: JSON.stringify({ jsonrpc: '2.0', id: ++this.mcpId, method: 'tools/call', params: { name, arguments: withoutUndefined(args) } }),
      signal,
    });
    const body = (await res.json().catch(() => null)) as {
      result?: { isError?: boolean; structuredContent?: unknown; content?: Array<{ type: string; text?: string }> };
      error?: { message: string };
    } | null;
    if (body?.error !== undefined) throw new ApiError(res.status === 401 ? 'unauthorized' : 'internal', body.error.message, res.status);
    if (!res.ok || body?.result === undefined) throw new ApiError('internal', `MCP: HTTP ${res.status}`, res.status);
    const text = body.result.content?.map((c) => c.text ?? '').join('\n') ?? '';
    if (body.result.isError) {
      const code = /^(\w+):/.exec(text)?.[1] ?? 'internal';
      throw new ApiError(code, text);
    }
    return body.result.structuredContent as T;
  }

  // ── the event log: REST where the server has it, else the MCP event tools (same shapes) ─────

  stats(signal?: AbortSignal): Promise<TenantStats> {
    return this.config.rest ? this.rest(this.tenantPath('/stats'), {}, signal) : this.tool('get_stats', {}, signal);
  }

  verify(signal?: AbortSignal): Promise<VerifyResult> {
    return this.config.rest ? this.rest(this.tenantPath('/verify'), {}, signal) : this.tool('verify_integrity', {}, signal);
  }

  query(filter: QueryFilter, signal?: AbortSignal): Promise<QueryResult> {
    if (!this.config.rest) return this.tool('query_events', { ...filter }, signal);
    const { payload_equals, ...rest } = filter;
    return this.rest(this.tenantPath('/events'), { ...rest, payload_equals: payload_equals === undefined ? undefined : JSON.stringify(payload_equals) }, signal);
  }

  state(entityId: string, asOf?: string, signal?: AbortSignal): Promise<EntityState> {
    if (!this.config.rest) return this.tool('reconstruct_state', { entity_id: entityId, as_of: asOf }, signal);
    return this.rest(this.tenantPath(`/entities/${encodeURIComponent(entityId)}/state`), { as_of: asOf }, signal);
  }

  entities(prefix: string, limit = 20, signal?: AbortSignal): Promise<EntitiesResult> {
    return this.config.rest ? this.rest(this.tenantPath('/entities'), { prefix, limit }, signal) : this.tool('list_entities', { prefix: prefix || undefined, limit }, signal);
  }

  eventTypes(signal?: AbortSignal): Promise<EventTypesResult> {
    return this.config.rest ? this.rest(this.tenantPath('/event-types'), { limit: 1000 }, signal) : this.tool('list_event_types', { limit: 1000 }, signal);
  }

  /** Every event of an entity, oldest first (pages of 1000). */
  async entityEvents(entityId: string, signal?: AbortSignal): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.query({ entity_id: entityId, limit: 1000, cursor }, signal);
      events.push(...page.events);
      cursor = page.has_more && page.next_cursor !== null ? page.next_cursor : undefined;
    } while (cursor !== undefined);
    return events;
  }

  // ── Prime, through MCP ─────────────────────────────────────────────────────────────────────

  primeStats(signal?: AbortSignal): Promise<PrimeStatsResult> {
    return this.tool('prime_stats', {}, signal);
  }

  primeSearch(args: { type?: string; text?: string; limit?: number }, signal?: AbortSignal): Promise<{ nodes: Array<PrimeNode & { score: number | null }> }> {
    return this.tool('prime_search', args, signal);
  }

  subgraph(nodeId: string, depth: number, limit = 300, signal?: AbortSignal): Promise<Subgraph> {
    return this.tool('prime_subgraph', { node_id: nodeId, depth, limit }, signal);
  }

  node(nodeId: string, signal?: AbortSignal): Promise<{ node: PrimeNode }> {
    return this.tool('prime_get_node', { node_id: nodeId }, signal);
  }

  history(nodeId: string, signal?: AbortSignal): Promise<{ events: StoredEvent[]; truncated: boolean }> {
    return this.tool('prime_history', { node_id: nodeId, limit: 200 }, signal);
  }

  neighbors(nodeId: string, signal?: AbortSignal): Promise<{ neighbors: Array<{ node: PrimeNode; edge: PrimeEdge; depth: number; direction: 'in' | 'out' }>; truncated: boolean }> {
    return this.tool('prime_neighbors', { node_id: nodeId, limit: 100 }, signal);
  }

  recall(args: { text: string; top_k?: number; depth?: number; node_type?: string; as_of?: string }, signal?: AbortSignal): Promise<RecallResult> {
    return this.tool('prime_recall', args, signal);
  }
}

function withoutUndefined(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined && v !== ''));
}

/**
 * Signs in: with a key, asks the server who it is (whoami on REST; a cheap tool call on MCP-only
 * servers, which then cannot name the tenant, so the caller's tenant is shown as "your tenant").
 * The admin key has no tenant of its own, so it needs `tenant` too.
 */
export async function signIn(config: ConsoleConfig, key: string | null, tenant?: string): Promise<Api> {
  if (config.auth === 'none') return new Api(config, config.tenant ?? 'default', null);
  if (key === null || key === '') throw new ApiError('unauthorized', 'enter a key');
  if (config.rest) {
    const probe = new Api(config, '', key);
    const me = await probe.rest<{ kind: 'admin' | 'tenant'; tenant: string | null; read_only: boolean }>('/whoami');
    if (me.kind === 'tenant' && me.tenant !== null) return new Api(config, me.tenant, key);
    if (tenant === undefined || tenant === '') throw new ApiError('invalid', 'this is the admin key: name the tenant to look at');
    return new Api(config, tenant, key);
  }
  const api = new Api(config, '', key);
  const stats = await api.tool<TenantStats>('get_stats', {});
  return new Api(config, stats.tenant_id, key);
}

/** JSON for people: compact for short values, indented for the rest. */
export function showJson(value: unknown): string {
  const flat = JSON.stringify(value);
  return flat !== undefined && flat.length <= 80 ? flat : JSON.stringify(value, null, 2);
}
