// The Prime service's projections: a warm LRU cache of live per-tenant projections, each built on
// its tenant's first read (from its snapshot plus the events after it when one checks out, else
// from the whole log) and caught up from the log before each later read; and as-of views folded
// from a log prefix, the sealed ones kept for reuse. Catch-ups use positions, so the fold is
// idempotent: a write reaches a warm projection through the log, never hydrate-then-apply, and a
// tombstone or restore in the log makes the projection rebuild from the whole log.

import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { CONTROL_ENTITY, LIMITS, type EventStore } from '../core/types.js';
import type { Embedder } from '../embed/types.js';
import { PRIME_EVENT_PREFIX } from './events.js';
import { PrimeProjection, type ProjectionOptions } from './projection.js';
import { describeError, tenantDirName } from './serviceArgs.js';
import { createDirectorySnapshotStore, SnapshotKeeper, type SnapshotPolicy, type SnapshotStore } from './snapshots.js';

/** Events per page when hydrating (the port's largest page). */
export const HYDRATE_PAGE = LIMITS.maxPageSize;

/** Sealed as-of views kept (an agent looking into the past tends to ask several things of one instant). */
const PAST_VIEWS_KEPT = 4;
const PAST_VIEWS_MAX_BYTES = 512 * 1024 * 1024;

export interface PrimeTenantsOptions {
  store: EventStore;
  embedder: Embedder;
  log: (line: string) => void;
  dataDir?: string;
  hnswThreshold?: number;
  vectorSearch?: 'auto' | 'exact';
  maxWarmTenants?: number;
  maxWarmBytes?: number;
  snapshots?: boolean | Partial<SnapshotPolicy>;
  /** Where snapshots are kept instead of `<dataDir>/prime` (hosted mode: the Core's artifacts). */
  snapshotStore?: SnapshotStore;
}

/** One warm (or warming) tenant. Catch-ups and hydrations run one at a time per tenant. */
class TenantSlot {
  projection: PrimeProjection | undefined;
  /** Control events (tombstones, restores) at or below this position are already reflected. */
  controlPosition = 0;
  private queue: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task, task);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

export class PrimeTenants {
  private readonly store: EventStore;
  private readonly log: (line: string) => void;
  private hydrations = 0;
  /**
   * Warm tenants. Each entry is a fresh `{ slot }` box: lru-cache re-measures an entry's size only
   * when the value changes, and a projection grows in place as writes land.
   */
  private readonly cache: LRUCache<string, { slot: TenantSlot }>;
  /** As-of views whose cut is sealed (before the tenant's latest event): immutable, so kept for reuse. */
  private readonly pastViews: LRUCache<string, PrimeProjection>;
  private readonly snapshots: SnapshotKeeper | undefined;

  constructor(private readonly options: PrimeTenantsOptions) {
    this.store = options.store;
    this.log = options.log;
    const dataDir = options.dataDir;
    const snapshotStore = options.snapshotStore ?? (dataDir === undefined ? undefined : createDirectorySnapshotStore((tenant) => join(dataDir, 'prime', tenantDirName(tenant))));
    this.snapshots =
      snapshotStore === undefined || options.snapshots === false
        ? undefined
        : new SnapshotKeeper({
            store: this.store,
            embedder: options.embedder,
            snapshots: snapshotStore,
            log: this.log,
            policy: typeof options.snapshots === 'object' ? options.snapshots : undefined,
          });
    const maxSize = options.maxWarmBytes ?? 2 * 1024 ** 3;
    this.cache = new LRUCache<string, { slot: TenantSlot }>({
      max: options.maxWarmTenants ?? 64,
      maxSize,
      // Capped at the bound so one huge tenant still stays warm (alone) instead of being refused.
      sizeCalculation: ({ slot }) => Math.min(maxSize, Math.max(1, slot.projection?.approxBytes() ?? 1)),
      // Replacing the box of a tenant (to re-measure it) must not close its projection.
      noDisposeOnSet: true,
      // An evicted tenant's projection is snapshotted and closed once its queued work is done; it
      // re-hydrates on its next read.
      dispose: ({ slot }, tenant) => {
        slot
          .run(async () => {
            await this.snapshots?.flushInQueue(tenant, slot);
            const projection = slot.projection;
            slot.projection = undefined;
            await projection?.close();
          })
          .catch((err: unknown) => this.log(`allsource: closing an evicted Prime projection: ${describeError(err)}`));
      },
    });
    this.pastViews = new LRUCache<string, PrimeProjection>({
      max: PAST_VIEWS_KEPT,
      maxSize: PAST_VIEWS_MAX_BYTES,
      // A past view never changes after it is built, so its size is measured once.
      sizeCalculation: (projection) => Math.min(PAST_VIEWS_MAX_BYTES, Math.max(1, projection.approxBytes())),
      dispose: (projection) => {
        projection.close().catch((err: unknown) => this.log(`allsource: closing a past Prime view: ${describeError(err)}`));
      },
    });
  }

  warmCount(): number {
    let count = 0;
    for (const { slot } of this.cache.values()) if (slot.projection !== undefined) count++;
    return count;
  }

  isWarm(tenant: string): boolean {
    return this.cache.peek(tenant)?.slot.projection !== undefined;
  }

  cacheInfo(): { warm_tenants: number; hydrations: number } {
    return { warm_tenants: this.warmCount(), hydrations: this.hydrations };
  }

  snapshotInfo(): { loaded: number; rejected: number; written: number; write_failures: number } | null {
    if (this.snapshots === undefined) return null;
    const { loaded, rejected, written, writeFailures } = this.snapshots.counters;
    return { loaded, rejected, written, write_failures: writeFailures };
  }

  async writeSnapshots(): Promise<void> {
    const keeper = this.snapshots;
    if (keeper === undefined) return;
    await Promise.all([...this.cache.entries()].map(([tenant, { slot }]) => slot.run(() => keeper.flushInQueue(tenant, slot, true))));
  }

  /** The tenant's live projection, hydrated or caught up with the log (the caller checked the tenant). */
  async live(tenant: string): Promise<{ projection: PrimeProjection; wasWarm: boolean }> {
    let slot = this.cache.get(tenant)?.slot;
    if (slot === undefined) {
      slot = new TenantSlot();
      this.cache.set(tenant, { slot });
    }
    const wasWarm = slot.projection !== undefined;
    const current = slot;
    const projection = await current.run(async () => {
      if (current.projection === undefined) await this.hydrate(tenant, current);
      else await this.catchUp(tenant, current);
      return current.projection as PrimeProjection;
    });
    // Re-set so the cache re-measures the tenant (it grows with writes); this may evict others.
    if (this.cache.peek(tenant)?.slot === current) this.cache.set(tenant, { slot: current });
    return { projection, wasWarm };
  }

  /** Write once, apply once: only a warm tenant is brought up to date (from the log, which has the write). */
  async afterWrite(tenant: string): Promise<void> {
    const slot = this.cache.peek(tenant)?.slot;
    if (slot?.projection === undefined) return;
    await slot.run(async () => {
      if (slot.projection !== undefined) await this.catchUp(tenant, slot);
    });
  }

  /** The projection folded from the log prefix recorded at or before `cut` (a formatted instant). */
  async pastView(tenant: string, cut: string): Promise<PrimeProjection> {
    const key = `${tenant}\n${cut}`;
    const cached = this.pastViews.get(key);
    if (cached !== undefined) return cached;
    const projection = new PrimeProjection(this.projectionOptions(tenant, cut));
    await this.foldFromStore(tenant, projection, cut);
    // A cut before the tenant's latest event is sealed: the store never records an event at or
    // before it again, and a later tombstone does not change what was live then. Such a view
    // can be kept; a cut at or after the latest event could still gain events.
    const latest = (await this.store.stats(tenant)).last_event_at;
    if (latest !== null && Date.parse(cut) < Date.parse(latest)) this.pastViews.set(key, projection);
    return projection;
  }

  private projectionOptions(tenant: string, asOf: string | null): ProjectionOptions {
    const approximate = asOf === null && this.options.vectorSearch !== 'exact';
    return {
      tenant,
      asOf,
      embedder: this.options.embedder,
      hnsw: approximate,
      hnswThreshold: this.options.hnswThreshold,
      persistDir: approximate && this.options.dataDir !== undefined ? join(this.options.dataDir, 'prime', tenantDirName(tenant)) : undefined,
      log: this.log,
    };
  }

  /** Builds the tenant's live projection: from its snapshot plus the events after it when one checks out, else from the whole log. */
  private async hydrate(tenant: string, slot: TenantSlot, allowSnapshot = true): Promise<void> {
    this.hydrations++;
    // Control events after this position (e.g. a tombstone landing mid-hydration) force a rebuild.
    const stats = await this.store.stats(tenant);
    const startPosition = stats.last_position;
    if (allowSnapshot && this.snapshots !== undefined) {
      const restored = await this.snapshots.load(tenant, startPosition, this.projectionOptions(tenant, null), stats.events + stats.tombstoned_events);
      if (restored !== undefined) {
        slot.projection = restored.projection;
        slot.controlPosition = restored.controlPosition;
        if (await this.catchUp(tenant, slot, false)) {
          this.snapshots.accepted();
          return;
        }
        this.snapshots.rejectedAfterLoad(tenant, 'a tombstone or restore was recorded after it');
      }
    }
    const projection = new PrimeProjection(this.projectionOptions(tenant, null));
    try {
      await this.foldFromStore(tenant, projection);
    } catch (err) {
      // Half a fold is no projection: drop it (and any index build it began); the next read retries.
      await projection.close().catch(() => undefined);
      throw err;
    }
    projection.advanceTo(startPosition);
    slot.projection = projection;
    slot.controlPosition = startPosition;
    this.snapshots?.noteProgress(tenant, slot);
  }

  private async foldFromStore(tenant: string, projection: PrimeProjection, asOf?: string): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.store.query(tenant, { event_type_prefix: PRIME_EVENT_PREFIX, limit: HYDRATE_PAGE, cursor, as_of: asOf });
      for (const event of page.events) projection.apply(event);
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /**
   * Applies what the log gained since the projection's position, in one watch call per page of
   * Prime events (over HttpCore, one round trip for a read that finds nothing new); a tombstone or
   * restore among them means the fold may no longer match the live log, so it is rebuilt from the
   * whole log (or, when `rebuild` is false, dropped: false is returned and the caller decides).
   */
  private async catchUp(tenant: string, slot: TenantSlot, rebuild = true): Promise<boolean> {
    const projection = slot.projection as PrimeProjection;
    // From the lower of the two: a hydration may have folded events past a tombstone it never saw,
    // and a restored snapshot has reflected control events past the last prime event it folded.
    let after = Math.min(projection.position, slot.controlPosition);
    while (true) {
      const page = await this.store.watch(tenant, { after, timeout_ms: 0, limit: HYDRATE_PAGE, event_type_prefix: PRIME_EVENT_PREFIX, include_control: true });
      if (page.events.some((event) => event.entity_id === CONTROL_ENTITY && event.position > slot.controlPosition)) {
        slot.projection = undefined;
        await projection.close();
        if (!rebuild) return false;
        await this.hydrate(tenant, slot, false);
        return true;
      }
      for (const event of page.events) projection.apply(event);
      projection.advanceTo(page.last_position);
      after = page.last_position;
      if (page.events.length < HYDRATE_PAGE) break;
    }
    slot.controlPosition = after;
    this.snapshots?.noteProgress(tenant, slot);
    return true;
  }

  async whenIdle(): Promise<void> {
    await Promise.all([...this.cache.values()].map(({ slot }) => slot.projection?.whenIdle()));
  }

  async close(): Promise<void> {
    const slots = [...this.cache.values()].map(({ slot }) => slot);
    // Clearing disposes every tenant: each queues a snapshot (when due) and its close.
    this.cache.clear();
    this.pastViews.clear();
    await Promise.all(slots.map((slot) => slot.run(async () => slot.projection?.close())));
    await this.snapshots?.close();
  }
}
