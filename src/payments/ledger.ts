// The payment ledger: every step of a paid call as an event in the paying tenant's own log, so
// the log is the one record every instance shares and a restart forgets nothing. Exactly once
// comes from the store's append conditions: a payment's entity is `x402:payment:<payer>:<nonce>`,
// and its first event (`x402.payment.verified`) is appended with expected_version 0 before the
// tool runs — of two presentations of one authorization (in sequence, in parallel, on two
// instances, after a restart) only one can append it. The free allowance is a per-period entity
// whose every consumption is appended against the version it was read at, so two instances can
// never serve one call past the limit.

import { createHash } from 'node:crypto';
import { isErrorCode, UnavailableError } from '../core/errors.js';
import type { EntityState, EventStore, JsonObject, StoredEvent } from '../core/types.js';

export const PAYMENT_EVENTS = {
  required: 'x402.payment.required',
  verified: 'x402.payment.verified',
  settled: 'x402.payment.settled',
  failed: 'x402.payment.failed',
  /** A settlement whose outcome is unknown (it timed out): neither paid nor unpaid. */
  indeterminate: 'x402.payment.indeterminate',
  allowanceConsumed: 'x402.allowance.consumed',
  /** A payment-identifier id bound to one payload (its hash) and one payment. */
  identified: 'x402.payment.identified',
} as const;

/** Requirements answered and verifications refused: history, not state (no append condition). */
export const REFUSALS_ENTITY = 'x402:refusals';

/** The entity of one authorization: the payer and the EIP-3009 nonce (unique per payer and token). */
export function paymentEntity(payer: string, nonce: string): string {
  return `x402:payment:${payer.toLowerCase()}:${nonce.toLowerCase()}`;
}

/** The entity of a payment-identifier id (hashed: ids are client-chosen text). */
export function paymentIdEntity(id: string): string {
  return `x402:payment-id:${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

/** The allowance period an instant falls in: `2026-12-04` (day) or `2026-12` (month), UTC. */
export function allowancePeriod(now: number, period: 'day' | 'month'): string {
  const iso = new Date(now).toISOString();
  return period === 'day' ? iso.slice(0, 10) : iso.slice(0, 7);
}

function allowanceEntity(periodKey: string): string {
  return `x402:allowance:${periodKey}`;
}

/** An entity's state, or null when it has no events yet. */
export async function stateOrNull(store: EventStore, tenant: string, entity: string): Promise<EntityState | null> {
  try {
    return await store.state(tenant, entity);
  } catch (err) {
    if (isErrorCode(err, 'not_found')) return null;
    throw err;
  }
}

const CONSUME_TRIES = 10;

/**
 * Takes one free call of this period's allowance: true when one was left (and is now recorded as
 * used), false when the allowance is used up. Each consumption is appended against the version it
 * was read at; losing that race to another instance means reading again.
 */
export async function consumeAllowance(store: EventStore, tenant: string, limit: number, periodKey: string, tool: string): Promise<boolean> {
  const entity = allowanceEntity(periodKey);
  for (let attempt = 0; attempt < CONSUME_TRIES; attempt++) {
    const current = await stateOrNull(store, tenant, entity);
    const used = typeof current?.state?.used === 'number' ? current.state.used : 0;
    if (used >= limit) return false;
    try {
      await store.append(tenant, [{ entity_id: entity, event_type: PAYMENT_EVENTS.allowanceConsumed, payload: { period: periodKey, used: used + 1, limit, tool }, expected_version: current?.version ?? 0 }]);
      return true;
    } catch (err) {
      if (!isErrorCode(err, 'conflict')) throw err;
      // Another instance took one first: a short random pause keeps two from colliding in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(20, 2 ** attempt)));
    }
  }
  throw new UnavailableError('the free allowance is contended by other instances; retry', { details: { retry_after_seconds: 1 } });
}

/** Calls of this period's allowance used so far. */
export async function allowanceUsed(store: EventStore, tenant: string, periodKey: string): Promise<number> {
  const current = await stateOrNull(store, tenant, allowanceEntity(periodKey));
  return typeof current?.state?.used === 'number' ? current.state.used : 0;
}

/** A stable hash of a payment payload (keys sorted), to tell "the same payload" under a payment id. */
export function payloadHash(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex');
}

/** One receipt, as `allsource payments` lists it: the payment's events folded. */
export interface Receipt {
  payment: string;
  tool: string;
  payer: string;
  amount: string;
  network: string;
  /** verified (tool running or ran, not settled yet), settled, failed, or indeterminate. */
  status: 'verified' | 'settled' | 'failed' | 'indeterminate';
  transaction: string | null;
  reason: string | null;
  verified_at: string;
  updated_at: string;
}

/** The receipts of a tenant, newest first, from its `x402:payment:` entities. */
export async function listReceipts(store: EventStore, tenant: string, limit = 100): Promise<Receipt[]> {
  const byPayment = new Map<string, StoredEvent[]>();
  let cursor: string | undefined;
  do {
    const page = await store.query(tenant, { entity_prefix: 'x402:payment:', event_type_prefix: 'x402.payment.', limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const event of page.events) {
      const list = byPayment.get(event.entity_id) ?? [];
      list.push(event);
      byPayment.set(event.entity_id, list);
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  const receipts: Receipt[] = [];
  for (const [payment, events] of byPayment) {
    const first = events[0];
    if (first.event_type !== PAYMENT_EVENTS.verified) continue;
    const last = events[events.length - 1];
    const p = first.payload as JsonObject;
    const l = last.payload as JsonObject;
    const status = last.event_type === PAYMENT_EVENTS.settled ? 'settled' : last.event_type === PAYMENT_EVENTS.failed ? 'failed' : last.event_type === PAYMENT_EVENTS.indeterminate ? 'indeterminate' : 'verified';
    receipts.push({
      payment,
      tool: String(p.tool),
      payer: String(p.payer),
      amount: String(p.amount),
      network: String(p.network),
      status,
      transaction: typeof l.transaction === 'string' ? l.transaction : null,
      reason: typeof l.reason === 'string' ? l.reason : null,
      verified_at: first.timestamp,
      updated_at: last.timestamp,
    });
  }
  return receipts.sort((a, b) => b.verified_at.localeCompare(a.verified_at)).slice(0, limit);
}
