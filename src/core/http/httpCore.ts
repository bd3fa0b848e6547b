// HttpCore: the EventStore port over the Core REST API, on an undici Pool with keep-alive. Input
// is checked here with the same functions EmbeddedCore uses (src/core/validate.ts), so bad input
// gets the same named `invalid` error without a round trip, and errors from the server are
// rebuilt from the wire (`errorFromWire`): a caller cannot tell the adapters apart. Reads are
// retried when the server is unreachable or answers 503 (restarting, shutting down); so are
// appends whose events all carry a client id, since those are idempotent. Anything else that
// loses its connection fails with `unavailable`, saying the append may or may not have landed.
// Appends issued in the same turn of the event loop (many concurrent callers) travel together in
// one bulk request, each still atomic and answered on its own: per-request overhead is shared.

import type {
  AppendOptions,
  AppendResult,
  AsOfOptions,
  EntitiesResult,
  EntityState,
  EventStore,
  EventTypesResult,
  ListOptions,
  NewEvent,
  QueryFilter,
  QueryResult,
  SearchOptions,
  SearchResult,
  StoreHealth,
  StoredEvent,
  TenantStats,
  TombstoneResult,
  TombstoneSelector,
  VerifyResult,
  WatchOptions,
  WatchResult,
} from '../types.js';
import { checkArtifactName, type ArtifactClient, type ArtifactFacts, type ArtifactMeta } from '../artifacts.js';
import { checkAppendCall, checkAsOfOptions, checkFilter, checkId, checkListOptions, checkSearchOptions, checkSelector, checkTenant, checkWatchOptions, prepareEvent } from '../validate.js';
import { errorFromWire, isErrorCode, UnavailableError } from '../errors.js';
import { CoreConnection, type CallOptions, type CoreConnectionOptions } from './connection.js';
import { ARTIFACT_META_HEADER, MAX_BULK_APPENDS, queryString } from './wire.js';

export type HttpCoreOptions = CoreConnectionOptions;

/** Opens a client of a Core server. It connects lazily: the first call reaches the server. */
export async function openHttpCore(options: HttpCoreOptions): Promise<HttpCore> {
  return new HttpCore(options);
}

/** An append waiting for the next bulk flush: its JSON body and how to answer it. */
interface PendingAppend {
  json: string;
  retryable: boolean;
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

/** A bulk request stops growing here (the server's default body limit is 32 MiB). */
const MAX_BULK_BYTES = 4 * 1024 * 1024;

export class HttpCore implements EventStore, ArtifactClient {
  private readonly connection: CoreConnection;
  private readonly pending = new Map<string, PendingAppend[]>();
  private flushScheduled = false;

  constructor(options: HttpCoreOptions) {
    this.connection = new CoreConnection(options);
  }

  private tenantPath(tenant: string, rest: string): string {
    return `${this.connection.base}/tenants/${encodeURIComponent(tenant)}${rest}`;
  }

  private call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: CallOptions): Promise<T> {
    return this.connection.call(method, path, options);
  }

  async append(tenant: string, events: NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    const { dry_run } = checkAppendCall(tenant, events, options);
    // Serialized from the validated texts: what the server receives is what was checked.
    const parts = new Array<string>(events.length);
    let everyEventHasId = true;
    for (let i = 0; i < events.length; i++) {
      const p = prepareEvent(events[i], i, Number.POSITIVE_INFINITY);
      if (p.id === undefined) everyEventHasId = false;
      let json = `{"entity_id":${JSON.stringify(p.entity_id)},"event_type":${JSON.stringify(p.event_type)},"payload":${p.payloadJson}`;
      if (p.metadataJson !== 'null') json += `,"metadata":${p.metadataJson}`;
      if (p.id !== undefined) json += `,"id":${JSON.stringify(p.id)}`;
      if (p.occurred_at !== undefined) json += `,"occurred_at":${JSON.stringify(p.occurred_at)}`;
      if (p.expected_version !== undefined) json += `,"expected_version":${p.expected_version}`;
      parts[i] = `${json}}`;
    }
    const json = `{"events":[${parts.join(',')}]${dry_run ? ',"dry_run":true' : ''}}`;
    return new Promise<AppendResult>((resolve, reject) => {
      let queue = this.pending.get(tenant);
      if (queue === undefined) this.pending.set(tenant, (queue = []));
      queue.push({ json, retryable: everyEventHasId || dry_run, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After this turn's other callers have queued theirs.
        setImmediate(() => this.flushAppends());
      }
    });
  }

  /** Sends what was queued: a lone append as itself, several as bulk requests of independent appends. */
  private flushAppends(): void {
    this.flushScheduled = false;
    for (const [tenant, queue] of this.pending) {
      this.pending.delete(tenant);
      if (queue.length === 1) {
        const [only] = queue;
        this.call<AppendResult>('POST', this.tenantPath(tenant, '/events/batch'), { body: only.json, retryable: only.retryable }).then(only.resolve, only.reject);
        continue;
      }
      for (let start = 0; start < queue.length; ) {
        let end = start;
        let bytes = 0;
        while (end < queue.length && end - start < MAX_BULK_APPENDS && (end === start || bytes + queue[end].json.length <= MAX_BULK_BYTES)) bytes += queue[end++].json.length;
        void this.sendBulk(tenant, queue.slice(start, end));
        start = end;
      }
    }
  }

  private async sendBulk(tenant: string, appends: PendingAppend[]): Promise<void> {
    let answer: { results: Array<{ result?: AppendResult; error?: Record<string, unknown> }> };
    try {
      answer = await this.call('POST', this.tenantPath(tenant, '/events/bulk'), {
        body: `{"appends":[${appends.map((a) => a.json).join(',')}]}`,
        retryable: appends.every((a) => a.retryable),
      });
    } catch (err) {
      for (const a of appends) a.reject(err);
      return;
    }
    appends.forEach((a, i) => {
      const item = answer.results[i];
      if (item?.result !== undefined) a.resolve(item.result);
      else a.reject(errorFromWire(item?.error ?? { code: 'internal', message: 'the Core gave no answer for this append' }));
    });
  }

  async query(tenant: string, filter?: QueryFilter): Promise<QueryResult> {
    checkTenant(tenant);
    checkFilter(filter);
    return this.call('GET', this.tenantPath(tenant, `/events${queryString(filter)}`), { retryable: true });
  }

  async get(tenant: string, id: string, options?: { include_deleted?: boolean }): Promise<StoredEvent> {
    checkTenant(tenant);
    checkId(id, 'id', { allowReserved: true });
    const include = options?.include_deleted === true ? { include_deleted: true } : undefined;
    return this.call('GET', this.tenantPath(tenant, `/events/${encodeURIComponent(id)}${queryString(include)}`), { retryable: true });
  }

  async state(tenant: string, entityId: string, options?: AsOfOptions): Promise<EntityState> {
    checkTenant(tenant);
    checkId(entityId, 'entity_id');
    checkAsOfOptions(options);
    return this.call('GET', this.tenantPath(tenant, `/entities/${encodeURIComponent(entityId)}/state${queryString(options)}`), { retryable: true });
  }

  async search(tenant: string, options: SearchOptions): Promise<SearchResult> {
    checkTenant(tenant);
    checkSearchOptions(options);
    return this.call('GET', this.tenantPath(tenant, `/search${queryString(options)}`), { retryable: true });
  }

  async entities(tenant: string, options?: ListOptions): Promise<EntitiesResult> {
    checkTenant(tenant);
    checkListOptions(options);
    return this.call('GET', this.tenantPath(tenant, `/entities${queryString(options)}`), { retryable: true });
  }

  async eventTypes(tenant: string, options?: ListOptions): Promise<EventTypesResult> {
    checkTenant(tenant);
    checkListOptions(options);
    return this.call('GET', this.tenantPath(tenant, `/event-types${queryString(options)}`), { retryable: true });
  }

  async stats(tenant: string): Promise<TenantStats> {
    checkTenant(tenant);
    return this.call('GET', this.tenantPath(tenant, '/stats'), { retryable: true });
  }

  async watch(tenant: string, options?: WatchOptions): Promise<WatchResult> {
    checkTenant(tenant);
    const checked = checkWatchOptions(options);
    return this.call('GET', this.tenantPath(tenant, `/watch${queryString(options)}`), { retryable: true, waitMs: checked.timeout_ms });
  }

  async tombstone(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult> {
    return this.control(tenant, selector, '/tombstone');
  }

  async restore(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult> {
    return this.control(tenant, selector, '/restore');
  }

  private async control(tenant: string, selector: TombstoneSelector, path: string): Promise<TombstoneResult> {
    checkTenant(tenant);
    checkSelector(selector);
    // Not retried: a second tombstone after a lost answer would change nothing more, but would
    // answer `count: 0`, which is not what the first call did.
    return this.call('POST', this.tenantPath(tenant, path), { body: JSON.stringify(selector), retryable: false });
  }

  async verify(tenant: string): Promise<VerifyResult> {
    checkTenant(tenant);
    return this.call('GET', this.tenantPath(tenant, '/verify'), { retryable: true });
  }

  // ── Derived artifacts (not part of the port: the Core keeps them beside the log, see artifacts.ts) ──

  /** The tenant's artifact `name` and its meta as the Core declares it; null when there is none (or the Core keeps none). */
  async getArtifact(tenant: string, name: string): Promise<{ meta: ArtifactMeta; bytes: Buffer } | null> {
    checkTenant(tenant);
    checkArtifactName(name);
    let answer: { body: Buffer; headers: Record<string, string | string[] | undefined> };
    try {
      answer = await this.connection.callRaw('GET', this.tenantPath(tenant, `/artifacts/${name}`), { retryable: true });
    } catch (err) {
      if (isErrorCode(err, 'not_found')) return null;
      throw err;
    }
    const header = answer.headers[ARTIFACT_META_HEADER];
    let meta: ArtifactMeta;
    try {
      meta = JSON.parse(typeof header === 'string' ? header : '') as ArtifactMeta;
    } catch {
      throw new UnavailableError(`the Core sent artifact ${name} without a readable ${ARTIFACT_META_HEADER} header`);
    }
    return { meta, bytes: answer.body };
  }

  /** Stores (replaces) the tenant's artifact `name`. Not retried: the caller (a background upload) tries again later. */
  async putArtifact(tenant: string, name: string, facts: ArtifactFacts, bytes: Uint8Array): Promise<ArtifactMeta> {
    checkTenant(tenant);
    checkArtifactName(name);
    const query = queryString({ position: facts.position, format: facts.format, embedder: facts.embedder });
    // Not the client's 30 s default alone: a large artifact on a slow link takes its time.
    return this.call('PUT', this.tenantPath(tenant, `/artifacts/${name}${query}`), { body: bytes, retryable: false, waitMs: Math.ceil(bytes.length / 1024) });
  }

  async listArtifacts(tenant: string): Promise<ArtifactMeta[]> {
    checkTenant(tenant);
    return (await this.call<{ artifacts: ArtifactMeta[] }>('GET', this.tenantPath(tenant, '/artifacts'), { retryable: true })).artifacts;
  }

  async deleteArtifact(tenant: string, name: string): Promise<boolean> {
    checkTenant(tenant);
    checkArtifactName(name);
    return (await this.call<{ deleted: boolean }>('DELETE', this.tenantPath(tenant, `/artifacts/${name}`), { retryable: true })).deleted;
  }

  async health(): Promise<StoreHealth> {
    const who = await this.call<{ kind: string; tenant: string | null }>('GET', `${this.connection.base}/whoami`, { retryable: true });
    return { ok: true, kind: 'http', url: this.connection.origin, principal: who.kind, tenant: who.tenant };
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
