// Per-tenant daily quotas of MCP tool calls, kept as events in the reserved admin tenant (beside
// tenants and keys) and folded here. The Core is the one authority every serve instance asks: an
// instance leases a chunk of today's calls, and each lease is an append guarded by the version of
// the tenant's usage entity for the day, so two Core processes over one store (or two concurrent
// requests) can never lease past the limit. Unlimited is the default and costs nothing: a lease of
// an unlimited tenant appends nothing, so the admin log grows only for tenants with a quota.

import { createHash } from 'node:crypto';
import { InvalidError, isErrorCode, NotFoundError, UnavailableError } from '../errors.js';
import { LIMITS, type EventStore, type StoredEvent } from '../types.js';
import { ADMIN_TENANT, checkDataTenant } from './keys.js';

/** Most calls one lease may ask for. */
export const MAX_LEASE_CALLS = 100_000;
/** Largest daily quota an admin may set. */
export const MAX_DAILY_TOOL_CALLS = 1e12;
/** Appends lost to another Core's lease before a lease gives up (`unavailable`, retry in a second). */
const LEASE_TRIES = 10;
const PAGE = 1000;
const DAY_MS = 86_400_000;

/** A tenant's quota as the admin sees it. */
export interface QuotaRecord {
  tenant: string;
  /** Tool calls per UTC day; null = unlimited (the default). */
  daily_tool_calls: number | null;
  /** The UTC day the counts are about, YYYY-MM-DD. */
  day: string;
  /** Calls leased to serve instances today (an upper bound of the calls served). */
  leased_today: number;
  /** daily_tool_calls − leased_today (never below 0); null when unlimited. */
  remaining_today: number | null;
  /** The next UTC midnight, when the day's count starts again (ISO-8601). */
  resets_at: string;
}

/** The answer to a lease: how many of the calls asked for this instance may serve. */
export interface LeaseResult {
  tenant: string;
  day: string;
  daily_tool_calls: number | null;
  /** Calls granted: all of them when unlimited, else at most what is left today (0 = none left). */
  granted: number;
  /** Calls leased today, this lease included. */
  leased_today: number;
  resets_at: string;
}

export interface QuotasOptions {
  store: EventStore;
  /** Whether a tenant exists (the keyring's fold); setQuota and getQuota refuse unknown tenants when given. */
  tenantExists?: (tenant: string) => Promise<boolean>;
  /** The clock, ms since the epoch (tests move it across midnight). */
  now?: () => number;
}

/** The UTC day of an instant: YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The first UTC midnight after an instant, in ms. */
export function nextUtcMidnight(ms: number): number {
  return (Math.floor(ms / DAY_MS) + 1) * DAY_MS;
}

/**
 * The entity of a tenant's usage on one day. A tenant id long enough to push it past the id limit
 * is named by its sha256 instead; the fold reads tenant and day from the payload, not the entity.
 */
function usageEntity(tenant: string, day: string): string {
  const plain = `usage:${tenant}:${day}`;
  return plain.length <= LIMITS.maxIdLength ? plain : `usage:#${createHash('sha256').update(tenant).digest('hex')}:${day}`;
}

interface Usage {
  tenant: string;
  day: string;
  leased: number;
  /** Version of the usage entity: the expected_version of the next lease. */
  version: number;
}

function checkDaily(value: unknown): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_DAILY_TOOL_CALLS) {
    throw new InvalidError('daily_tool_calls', `must be an integer from 0 to ${MAX_DAILY_TOOL_CALLS}, or null for unlimited`);
  }
  return value;
}

function checkCalls(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LEASE_CALLS) {
    throw new InvalidError('calls', `must be an integer from 1 to ${MAX_LEASE_CALLS}`);
  }
  return value;
}

/** The fold of the admin log's `quota.` events, plus the operations that append to it. */
export class Quotas {
  private readonly store: EventStore;
  private readonly tenantExists: ((tenant: string) => Promise<boolean>) | undefined;
  private readonly now: () => number;
  /** Limits of tenants that have one; a tenant absent here is unlimited. */
  private readonly limits = new Map<string, number>();
  /** Usage by usage entity, for today (and a later day a clock ahead of ours already started). */
  private readonly usage = new Map<string, Usage>();
  /** The day older usage was last dropped for. */
  private prunedFor = '';
  private position = 0;
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  /** Leases of one tenant run one after another, so a Core never loses a version race to itself. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(options: QuotasOptions) {
    this.store = options.store;
    this.tenantExists = options.tenantExists;
    this.now = options.now ?? Date.now;
  }

  /**
   * Folds whatever the admin log's quota events gained since the last call. The catch-up reflects
   * at least every append acknowledged before the call: one already running may have read the log
   * before it, so a caller arriving meanwhile waits for one more (shared by all who arrive then).
   */
  refresh(): Promise<void> {
    if (this.running === null) {
      this.running = this.catchUp().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.refresh();
      });
    return this.queued;
  }

  private async catchUp(): Promise<void> {
    const today = utcDay(this.now());
    if (today !== this.prunedFor) {
      for (const [entity, u] of this.usage) if (u.day < today) this.usage.delete(entity);
      this.prunedFor = today;
    }
    while (true) {
      const page = await this.store.watch(ADMIN_TENANT, { after: this.position, timeout_ms: 0, limit: PAGE, event_type_prefix: 'quota.' });
      for (const event of page.events) this.apply(event, today);
      this.position = page.last_position;
      if (page.events.length < PAGE) break;
    }
  }

  /** Folds one event. Leases of days before `today` are history nobody asks about: not kept. */
  private apply(event: StoredEvent, today: string): void {
    const p = event.payload as Record<string, unknown>;
    const tenant = String(p.tenant);
    switch (event.event_type) {
      case 'quota.set':
        if (typeof p.daily_tool_calls === 'number') this.limits.set(tenant, p.daily_tool_calls);
        else this.limits.delete(tenant);
        break;
      case 'quota.leased': {
        const day = String(p.day);
        if (day < today) break;
        const entity = usageEntity(tenant, day);
        const u = this.usage.get(entity) ?? { tenant, day, leased: 0, version: 0 };
        u.leased += typeof p.calls === 'number' ? p.calls : 0;
        u.version = event.version;
        this.usage.set(entity, u);
        break;
      }
    }
  }

  private usageOf(tenant: string, day: string): Usage {
    return this.usage.get(usageEntity(tenant, day)) ?? { tenant, day, leased: 0, version: 0 };
  }

  private record(tenant: string, now: number): QuotaRecord {
    const day = utcDay(now);
    const limit = this.limits.get(tenant) ?? null;
    const leased = this.usageOf(tenant, day).leased;
    return { tenant, daily_tool_calls: limit, day, leased_today: leased, remaining_today: limit === null ? null : Math.max(0, limit - leased), resets_at: new Date(nextUtcMidnight(now)).toISOString() };
  }

  private async checkExists(tenant: string): Promise<void> {
    if (this.tenantExists !== undefined && !(await this.tenantExists(tenant))) throw new NotFoundError(`tenant ${JSON.stringify(tenant)} does not exist (create it first)`, { field: 'tenant' });
  }

  /** Sets a tenant's daily quota of tool calls (null: unlimited). Setting the value it has appends nothing. */
  async setQuota(tenantArg: unknown, dailyArg: unknown): Promise<QuotaRecord> {
    const tenant = checkDataTenant(tenantArg, 'tenant');
    const daily = checkDaily(dailyArg);
    await this.checkExists(tenant);
    await this.refresh();
    if ((this.limits.get(tenant) ?? null) !== daily) {
      // Last writer wins: two admins setting a quota at once is not a race worth refusing.
      await this.store.append(ADMIN_TENANT, [{ entity_id: `quota:${tenant}`, event_type: 'quota.set', payload: { tenant, daily_tool_calls: daily } }]);
      await this.refresh();
    }
    return this.record(tenant, this.now());
  }

  /** A tenant's quota and today's usage. */
  async getQuota(tenantArg: unknown): Promise<QuotaRecord> {
    const tenant = checkDataTenant(tenantArg, 'tenant');
    await this.checkExists(tenant);
    await this.refresh();
    return this.record(tenant, this.now());
  }

  /**
   * Reserves up to `calls` of today's tool calls for a serve instance. Unlimited: all of them,
   * recording nothing. Limited: what is left today, at most `calls`, recorded as one `quota.leased`
   * event appended only if nobody leased in between (else it folds the other lease and tries again).
   */
  async lease(tenantArg: unknown, callsArg: unknown): Promise<LeaseResult> {
    const tenant = checkDataTenant(tenantArg, 'tenant');
    const calls = checkCalls(callsArg);
    return this.serialized(tenant, () => this.leaseNow(tenant, calls));
  }

  private async leaseNow(tenant: string, calls: number): Promise<LeaseResult> {
    for (let attempt = 0; attempt < LEASE_TRIES; attempt++) {
      await this.refresh();
      const now = this.now();
      const day = utcDay(now);
      const limit = this.limits.get(tenant) ?? null;
      const usage = this.usageOf(tenant, day);
      const answer = (granted: number, leased: number): LeaseResult => ({ tenant, day, daily_tool_calls: limit, granted, leased_today: leased, resets_at: new Date(nextUtcMidnight(now)).toISOString() });
      if (limit === null) return answer(calls, usage.leased);
      const granted = Math.min(calls, Math.max(0, limit - usage.leased));
      if (granted === 0) return answer(0, usage.leased);
      try {
        await this.store.append(ADMIN_TENANT, [{ entity_id: usageEntity(tenant, day), event_type: 'quota.leased', payload: { tenant, day, calls: granted }, expected_version: usage.version }]);
      } catch (err) {
        if (!isErrorCode(err, 'conflict')) throw err;
        // Another Core leased first: fold its lease and ask again, after a random pause, or two
        // Cores in lockstep would keep colliding and the later one would lose every round.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
        continue;
      }
      await this.refresh();
      return answer(granted, this.usageOf(tenant, day).leased);
    }
    throw new UnavailableError(`the quota of tenant ${JSON.stringify(tenant)} is contended (${LEASE_TRIES} leases lost to other Core processes); retry`, { details: { retry_after_seconds: 1 } });
  }

  private serialized<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(tenant) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.chains.set(tenant, tail);
    // The chain of a tenant with nothing in flight is dropped, so memory follows concurrency, not tenants.
    void tail.then(() => {
      if (this.chains.get(tenant) === tail) this.chains.delete(tenant);
    });
    return run;
  }
}
