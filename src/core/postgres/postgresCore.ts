// PostgresCore: the EventStore on PostgreSQL. Stateless: every answer comes from the database, so
// any number of Core processes over one PostgreSQL are interchangeable nodes. Each call is one
// tenant-scoped transaction (row-level security on `app.tenant_id`); writes serialize per tenant
// on its head row, which is what keeps a tenant's positions, versions and hash chain in order.

import pg from 'pg';
import { InvalidError, UnavailableError } from '../errors.js';
import { UuidV7Generator } from '../ids.js';
import {
  CONTROL_ENTITY,
  LIMITS,
  type AppendOptions,
  type AppendResult,
  type AsOfOptions,
  type EntitiesResult,
  type EntityState,
  type EventStore,
  type EventTypesResult,
  type ListOptions,
  type NewEvent,
  type QueryFilter,
  type QueryResult,
  type SearchOptions,
  type SearchResult,
  type StoreHealth,
  type StoredEvent,
  type TenantStats,
  type TombstoneResult,
  type TombstoneSelector,
  type VerifyResult,
  type WatchOptions,
  type WatchResult,
} from '../types.js';
import {
  checkAppendCall,
  checkAsOfOptions,
  checkFilter,
  checkId,
  checkListOptions,
  checkSearchOptions,
  checkSelector,
  checkTenant,
  checkWatchOptions,
  prepareEvent,
  type PreparedEvent,
} from '../validate.js';
import { appendGroup, type AppendCall } from './append.js';
import { controlLocked } from './control.js';
import { WatchListener } from './listener.js';
import { entityState, getEvent, listEntities, listEventTypes, Params, queryEvents, tenantStats } from './reads.js';
import { deletedAt, EVENT_COLUMNS, eventOf, likePrefix, NO_CUT, type EventRow } from './rows.js';
import { SCHEMA_VERSION } from './schema.js';
import { searchEvents } from './search.js';
import { Sessions, storeError } from './session.js';
import { verifyTenant } from './verify.js';

export interface PostgresCoreOptions {
  /** postgres://user:password@host:port/database — the runtime role (not the schema owner, no BYPASSRLS). */
  url: string;
  /** Pooled connections (default 10). */
  poolSize?: number;
  /** Largest accepted payload, in bytes of JSON (default 1 MiB). */
  maxPayloadBytes?: number;
  /** Where diagnostics go (default: stderr). */
  log?: (line: string) => void;
  /** Clock in ms since the epoch (default Date.now); recorded times never go backwards per tenant. */
  now?: () => number;
}

interface QueuedAppend extends AppendCall {
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

export interface PostgresCore extends EventStore {
  readonly kind: 'postgres';
}

/** Connects to a migrated database as the runtime role and returns the store. */
export async function openPostgresCore(options: PostgresCoreOptions): Promise<PostgresCore> {
  if (typeof options?.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url)) throw new InvalidError('url', 'must be a postgres:// connection URL');
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) throw new InvalidError('poolSize', 'must be an integer from 1 to 1000');
  const core = new PostgresCoreImpl(options, poolSize);
  try {
    await core.open();
  } catch (err) {
    await core.close();
    throw err;
  }
  return core;
}

class PostgresCoreImpl implements PostgresCore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly sessions: Sessions;
  private readonly listener: WatchListener;
  private readonly maxPayloadBytes: number;
  private readonly deps: { now: () => number; ids: UuidV7Generator };
  private readonly log: (line: string) => void;
  private readonly openedAt = Date.now();
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(options: PostgresCoreOptions, poolSize: number) {
    this.log = options.log ?? ((line) => process.stderr.write(`allsource: ${line}\n`));
    this.pool = new pg.Pool({ connectionString: options.url, max: poolSize });
    // An idle pooled connection that drops is replaced on the next use; the error must not crash the process.
    this.pool.on('error', (err) => this.log(`a pooled PostgreSQL connection failed: ${err.message}`));
    this.sessions = new Sessions(this.pool);
    this.listener = new WatchListener({ connectionString: options.url }, this.pool, this.log);
    this.maxPayloadBytes = options.maxPayloadBytes ?? LIMITS.defaultMaxPayloadBytes;
    this.deps = { now: options.now ?? Date.now, ids: new UuidV7Generator() };
  }

  async open(): Promise<void> {
    let role: { rolsuper: boolean; rolbypassrls: boolean; owner: boolean; version: number | null };
    try {
      const r = await this.pool.query<{ rolsuper: boolean; rolbypassrls: boolean; owner: boolean; version: number | null }>(
        `SELECT r.rolsuper, r.rolbypassrls, pg_has_role(current_user, c.relowner, 'USAGE') AS owner, (SELECT version FROM allsource_schema LIMIT 1) AS version
         FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = 'allsource_schema'::regclass`,
      );
      role = r.rows[0];
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') throw new UnavailableError('the database has no allsource schema; run `allsource migrate --postgres URL` as the owner role first');
      if ((err as { code?: string }).code === '42501') throw new UnavailableError('the connected role may not read the allsource schema; run `allsource migrate --postgres OWNER_URL --runtime-role ROLE`');
      throw storeError(err);
    }
    if (role.rolsuper || role.rolbypassrls) {
      throw new InvalidError('url', 'connects as a superuser or a BYPASSRLS role, which row-level security does not bind; connect as the runtime role granted by `allsource migrate --runtime-role`');
    }
    // The owner is bound by FORCE ROW LEVEL SECURITY, but could switch it off: the Core runs without that power.
    if (role.owner) throw new InvalidError('url', 'connects as the owner of the allsource schema; the owner runs migrations, the Core connects as the runtime role granted by `allsource migrate --runtime-role`');
    if (role.version !== SCHEMA_VERSION) throw new UnavailableError(`the database schema is version ${role.version}, this allsource needs ${SCHEMA_VERSION}; run \`allsource migrate --postgres URL\``);
  }

  private ensureUsable(): void {
    if (this.closed) throw new UnavailableError('the store is closed');
  }

  // --- writes ----------------------------------------------------------------------------------

  async append(tenant: string, events: NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    this.ensureUsable();
    const { dry_run } = checkAppendCall(tenant, events, options);
    const prepared = new Array<PreparedEvent>(events.length);
    for (let i = 0; i < events.length; i++) prepared[i] = prepareEvent(events[i], i, this.maxPayloadBytes);
    return new Promise<AppendResult>((resolve, reject) => {
      let queue = this.appendQueues.get(tenant);
      if (queue === undefined) this.appendQueues.set(tenant, (queue = []));
      queue.push({ prepared, dryRun: dry_run, resolve, reject });
      if (!this.appending.has(tenant)) void this.drainAppends(tenant, queue);
    });
  }

  /** Appends waiting per tenant while that tenant's group is being written. */
  private readonly appendQueues = new Map<string, QueuedAppend[]>();
  private readonly appending = new Set<string>();

  /**
   * Group commit: the first append of an idle tenant is written at once; appends that arrive
   * meanwhile wait and are then written together, in one transaction, one lock and one commit.
   */
  private async drainAppends(tenant: string, queue: QueuedAppend[]): Promise<void> {
    this.appending.add(tenant);
    try {
      while (queue.length > 0) {
        const group: QueuedAppend[] = [];
        let events = 0;
        while (queue.length > 0 && (group.length === 0 || events + queue[0].prepared.length <= LIMITS.maxBatchEvents)) {
          const next = queue.shift()!;
          group.push(next);
          events += next.prepared.length;
        }
        try {
          const outcomes = await this.sessions.write(tenant, (db, head) => appendGroup(db, tenant, head, group, this.deps));
          if (outcomes.some((o) => o.ok && o.result.last_position > 0)) this.listener.written(tenant);
          outcomes.forEach((outcome, i) => (outcome.ok ? group[i].resolve(outcome.result) : group[i].reject(outcome.error)));
        } catch (err) {
          for (const call of group) call.reject(err);
        }
      }
    } finally {
      this.appending.delete(tenant);
      this.appendQueues.delete(tenant);
    }
  }

  tombstone(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult> {
    return this.control(tenant, selector, true);
  }

  restore(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult> {
    return this.control(tenant, selector, false);
  }

  private async control(tenant: string, raw: TombstoneSelector, deleting: boolean): Promise<TombstoneResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const selector = checkSelector(raw);
    const result = await this.sessions.write(tenant, (db, head) => controlLocked(db, tenant, head, selector, deleting, this.deps));
    if (result.position !== null) this.listener.written(tenant);
    return result;
  }

  // --- reads -----------------------------------------------------------------------------------

  async query(tenant: string, filter?: QueryFilter): Promise<QueryResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const checked = checkFilter(filter);
    return this.sessions.read(tenant, (db, head) => queryEvents(db, tenant, head, checked));
  }

  async get(tenant: string, id: string, options: { include_deleted?: boolean } = {}): Promise<StoredEvent> {
    this.ensureUsable();
    checkTenant(tenant);
    checkId(id, 'id', { allowReserved: true });
    return this.sessions.read(tenant, (db, head) => getEvent(db, tenant, head, id, options?.include_deleted === true));
  }

  async state(tenant: string, entityId: string, options: AsOfOptions = {}): Promise<EntityState> {
    this.ensureUsable();
    checkTenant(tenant);
    checkId(entityId, 'entity_id');
    const asOf = checkAsOfOptions(options);
    return this.sessions.read(tenant, (db, head) => entityState(db, tenant, head, entityId, asOf));
  }

  async search(tenant: string, options: SearchOptions): Promise<SearchResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const checked = checkSearchOptions(options);
    return this.sessions.read(tenant, (db, head) => searchEvents(db, tenant, head, checked));
  }

  async entities(tenant: string, options?: ListOptions): Promise<EntitiesResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const o = checkListOptions(options);
    return this.sessions.read(tenant, (db) => listEntities(db, tenant, o.prefix, o.cursor, o.limit));
  }

  async eventTypes(tenant: string, options?: ListOptions): Promise<EventTypesResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const o = checkListOptions(options);
    return this.sessions.read(tenant, (db) => listEventTypes(db, tenant, o.prefix, o.cursor, o.limit));
  }

  async stats(tenant: string): Promise<TenantStats> {
    this.ensureUsable();
    checkTenant(tenant);
    return this.sessions.read(tenant, (db, head) => tenantStats(db, tenant, head));
  }

  async watch(tenant: string, options?: WatchOptions): Promise<WatchResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const o = checkWatchOptions(options);
    const deadline = Date.now() + o.timeout_ms;
    let after = o.after;
    while (true) {
      const generation = this.listener.watching(tenant);
      const { events, last } = await this.sessions.read(tenant, async (db, head) => {
        const end = head?.last_position ?? 0;
        const from = after ?? end;
        if (head === null || end <= from) return { events: [] as StoredEvent[], last: end, from };
        const p = new Params();
        const where = [`e.tenant_id = ${p.add(tenant)}`, `e.position > ${p.add(from)}`];
        const control = p.add(CONTROL_ENTITY);
        const filters: string[] = [];
        if (o.entity_id !== undefined) filters.push(`e.entity_id = ${p.add(o.entity_id)}`);
        if (o.event_type !== undefined) filters.push(`e.event_type = ${p.add(o.event_type)}`);
        if (o.event_type_prefix !== undefined) filters.push(`e.event_type LIKE ${p.add(likePrefix(o.event_type_prefix))} ESCAPE '\\'`);
        // Control events only when asked for; then they pass whatever the other filters say.
        const user = [`e.entity_id <> ${control}`, ...filters].join(' AND ');
        const wantControl = o.include_control || o.entity_id === CONTROL_ENTITY;
        where.push(wantControl ? `((${user}) OR e.entity_id = ${control})` : `(${user})`);
        if (head.has_tombstones) where.push(`NOT ${deletedAt(p.add(NO_CUT))}`);
        const r = await db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events e WHERE ${where.join(' AND ')} ORDER BY e.position LIMIT ${p.add(o.limit)}`, p.values);
        return { events: r.rows.map(eventOf), last: end, from };
      }).then((r) => {
        after ??= r.from;
        return r;
      });
      if (events.length > 0) return { events, last_position: events[events.length - 1].position, timed_out: false };
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.closed) return { events: [], last_position: Math.max(after ?? 0, last), timed_out: true };
      await this.listener.wait(tenant, remaining, generation);
      // Closing wakes waiting watches: they answer (timed out) instead of holding close up.
      if (this.closed) return { events: [], last_position: Math.max(after ?? 0, last), timed_out: true };
    }
  }

  async verify(tenant: string): Promise<VerifyResult> {
    this.ensureUsable();
    checkTenant(tenant);
    return this.sessions.read(tenant, (db) => verifyTenant(db, tenant));
  }

  async health(): Promise<StoreHealth> {
    this.ensureUsable();
    try {
      const r = await this.pool.query<{ version: string }>('SELECT current_setting(\'server_version\') AS version');
      return {
        ok: true,
        kind: 'postgres',
        server_version: r.rows[0].version,
        pool: { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount },
        watch_listener: this.listener.listening ? 'listening' : 'polling',
        uptime_ms: Date.now() - this.openedAt,
      };
    } catch (err) {
      return { ok: false, kind: 'postgres', error: storeError(err).message, uptime_ms: Date.now() - this.openedAt };
    }
  }

  close(): Promise<void> {
    if (this.closing === null) {
      this.closed = true;
      this.closing = (async () => {
        await this.listener.close();
        await this.pool.end().catch(() => undefined);
      })();
    }
    return this.closing;
  }
}
