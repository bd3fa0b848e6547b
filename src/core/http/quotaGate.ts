// The MCP edge's side of the daily tool-call quota: every tool call takes one call from a local
// per-tenant allowance, and an empty allowance is refilled by leasing a chunk from the Core (the
// one authority, shared by every serve instance). Chunks shrink as the day's quota runs low, so
// the calls an instance leased but never served (the only way the quota under-serves) stay few,
// and a tenant far from its limit costs one lease per many calls. Unlimited tenants, the default,
// cost one lease per tenant every few seconds and record nothing. Independent of HTTP: the lease
// is a function (an admin client over HTTP, or Quotas.lease in the one-box process).

import { LRUCache } from 'lru-cache';
import { utcDay, type LeaseResult } from './quotas.js';

/** The answer to one tool call: go, or refused until the quota resets. */
export type QuotaTake = { ok: true } | { ok: false; retryAfterSeconds: number; limit: number };

export interface QuotaGateOptions {
  /** Leases calls of a tenant's day from the Core (CoreAdminClient.leaseQuota, or Quotas.lease in-process). */
  lease: (tenant: string, calls: number) => Promise<LeaseResult>;
  /**
   * How long "unlimited" and "none left" answers are trusted, in ms (default 5000): a quota the
   * admin sets, or raises, holds on every instance within this long.
   */
  unlimitedTtlMs?: number;
  /** The clock, ms since the epoch (tests move it). */
  now?: () => number;
  /** Tenants remembered at once (default 10000); the least recently seen is forgotten first. */
  maxTenants?: number;
}

export interface QuotaGate {
  /**
   * Takes one tool call of `tenant`'s quota. Rejects with the lease's error when the Core cannot
   * answer (the edge decides whether to fail the call).
   */
  take(tenant: string): Promise<QuotaTake>;
}

/** The first lease of a day asks for one call: its answer says how much is left, which sizes the next. */
const FIRST_CHUNK = 1;
const MAX_CHUNK = 1000;
/** A lease asks for this fraction of what is left: near the limit, leases (and unused leftovers) get small. */
const CHUNK_DIVISOR = 16;
const OK: QuotaTake = Object.freeze({ ok: true });

/** How many calls to lease next, given what the Core last said is left today (unknown: the first lease). */
export function leaseChunk(remaining: number | undefined): number {
  if (remaining === undefined) return FIRST_CHUNK;
  return Math.min(MAX_CHUNK, Math.max(1, Math.floor(remaining / CHUNK_DIVISOR)));
}

interface Refusal {
  /** Until when the refusal is trusted without asking the Core again. */
  until: number;
  resetsAt: number;
  limit: number;
}

interface TenantState {
  /** The local UTC day the allowance belongs to. */
  day: string;
  /** Calls leased and not yet taken. */
  left: number;
  /** What the Core's last answer today said is left (undefined before the first lease of the day). */
  remaining: number | undefined;
  /** The tenant was unlimited at the last lease; trusted until then. */
  unlimitedUntil: number;
  refusal: Refusal | null;
  /** The lease in flight, shared by every take waiting on it; resolves to a refusal or null. */
  inflight: Promise<Refusal | null> | null;
}

/** Creates a gate with its own allowances (one per serve instance). */
export function createQuotaGate(options: QuotaGateOptions): QuotaGate {
  const now = options.now ?? Date.now;
  const ttl = options.unlimitedTtlMs ?? 5000;
  // An allowance forgotten under pressure is calls leased and never served: an under-serve, never an over-serve.
  const tenants = new LRUCache<string, TenantState>({ max: options.maxTenants ?? 10_000 });

  const stateOf = (tenant: string, day: string): TenantState => {
    let s = tenants.get(tenant);
    if (s === undefined) {
      s = { day, left: 0, remaining: undefined, unlimitedUntil: 0, refusal: null, inflight: null };
      tenants.set(tenant, s);
    } else if (s.day !== day) {
      // A new day: yesterday's allowance and refusal are void.
      s.day = day;
      s.left = 0;
      s.remaining = undefined;
      s.refusal = null;
    }
    return s;
  };

  const lease = async (tenant: string, s: TenantState): Promise<Refusal | null> => {
    const day = s.day;
    const answer = await options.lease(tenant, leaseChunk(s.remaining));
    const at = now();
    if (answer.daily_tool_calls === null) {
      s.unlimitedUntil = at + ttl;
      return null;
    }
    s.unlimitedUntil = 0;
    if (s.day !== day) return null; // the day turned while leasing: those calls were yesterday's
    s.left += answer.granted;
    s.remaining = Math.max(0, answer.daily_tool_calls - answer.leased_today);
    if (answer.granted > 0) {
      s.refusal = null;
      return null;
    }
    const resetsAt = Date.parse(answer.resets_at);
    s.refusal = { until: Math.min(resetsAt, at + ttl), resetsAt, limit: answer.daily_tool_calls };
    return s.refusal;
  };

  const refused = (r: Refusal, at: number): QuotaTake => ({ ok: false, retryAfterSeconds: Math.max(1, Math.ceil((r.resetsAt - at) / 1000)), limit: r.limit });

  return {
    async take(tenant) {
      // Each round either takes a call, or waits for a lease that grants some (someone takes them)
      // or none (everyone waiting is refused): it cannot spin.
      while (true) {
        const at = now();
        const s = stateOf(tenant, utcDay(at));
        if (s.unlimitedUntil > at) return OK;
        if (s.left > 0) {
          s.left--;
          return OK;
        }
        if (s.refusal !== null && s.refusal.until > at) return refused(s.refusal, at);
        let flight = s.inflight;
        if (flight === null) {
          const started: Promise<Refusal | null> = lease(tenant, s).finally(() => {
            if (s.inflight === started) s.inflight = null;
          });
          s.inflight = flight = started;
        }
        const refusal = await flight;
        if (refusal !== null) return refused(refusal, now());
      }
    },
  };
}
