// Benchmark workload: a deterministic generator of the events every peer is fed. One tenant,
// `events / 100` entities that each get exactly 100 events spread over the whole log (round r
// visits every entity once, in a seeded shuffled order), 10 event types, and JSON payloads of
// roughly 80–120 bytes. Event i is the same for every peer and every run with the same seed.

import type { JsonObject, NewEvent } from '../src/index.js';

export const TENANT = 'bench';
export const EVENTS_PER_ENTITY = 100;

export const EVENT_TYPES: readonly string[] = [
  'user.created', 'user.renamed', 'user.plan_changed', 'user.scored', 'user.tagged',
  'user.logged_in', 'user.logged_out', 'user.email_changed', 'user.moved', 'user.noted',
];

const PLANS = ['free', 'pro', 'team', 'enterprise'];
const CITIES = ['Lisbon', 'Oslo', 'Kyoto', 'Lima', 'Austin', 'Nairobi', 'Porto', 'Seoul'];
const TAGS = ['a', 'b', 'c', 'd', 'e'];

/** mulberry32: a tiny, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a seed and an index into a 32-bit seed (so event i can be made without making 0..i-1). */
function mix(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface Workload {
  readonly events: number;
  readonly entities: number;
  readonly seed: number;
  entityId(k: number): string;
  /** Entity index of event i: each run of `entities` consecutive events visits every entity once. */
  entityOf(i: number): number;
  /** Event i. For i >= events, the entity is drawn by hash (used by the single-append scenario). */
  eventAt(i: number): NewEvent;
  /** Events [start, start + count). */
  batch(start: number, count: number): NewEvent[];
}

export function createWorkload(events: number, seed = 0x5eed): Workload {
  if (!Number.isInteger(events) || events < EVENTS_PER_ENTITY || events % EVENTS_PER_ENTITY !== 0) {
    throw new Error(`--events must be a positive multiple of ${EVENTS_PER_ENTITY}, got ${events}`);
  }
  const entities = events / EVENTS_PER_ENTITY;
  // order[i] = entity of event i: round r is a fresh seeded shuffle of all entities.
  const order = new Uint32Array(events);
  const rand = mulberry32(seed);
  const perm = new Uint32Array(entities);
  for (let k = 0; k < entities; k++) perm[k] = k;
  for (let r = 0; r < EVENTS_PER_ENTITY; r++) {
    for (let k = entities - 1; k > 0; k--) {
      const j = Math.floor(rand() * (k + 1));
      const t = perm[k];
      perm[k] = perm[j];
      perm[j] = t;
    }
    order.set(perm, r * entities);
  }
  const ids = Array.from({ length: entities }, (_, k) => `user-${String(k).padStart(5, '0')}`);

  const entityOf = (i: number): number => (i < events ? order[i] : mix(seed + 1, i) % entities);

  const eventAt = (i: number): NewEvent => {
    const r = mulberry32(mix(seed, i));
    const k = entityOf(i);
    const tags: string[] = [];
    for (const tag of TAGS) if (r() < 0.4) tags.push(tag);
    const payload: JsonObject = {
      n: i,
      name: `user ${k}`,
      plan: PLANS[Math.floor(r() * PLANS.length)],
      score: Math.round(r() * 100) / 100,
      city: CITIES[Math.floor(r() * CITIES.length)],
      tags,
    };
    return { entity_id: ids[k], event_type: EVENT_TYPES[Math.floor(r() * EVENT_TYPES.length)], payload };
  };

  return {
    events,
    entities,
    seed,
    entityId: (k) => ids[k],
    entityOf,
    eventAt,
    batch(start, count) {
      const out: NewEvent[] = new Array(count);
      for (let j = 0; j < count; j++) out[j] = eventAt(start + j);
      return out;
    },
  };
}

/** Mean UTF-8 JSON size of the payloads of a sample of events (reported in the environment lines). */
export function meanPayloadBytes(workload: Workload, sample = 1000): number {
  let total = 0;
  const n = Math.min(sample, workload.events);
  for (let j = 0; j < n; j++) {
    const i = Math.floor((j * workload.events) / n);
    total += Buffer.byteLength(JSON.stringify(workload.eventAt(i).payload));
  }
  return total / n;
}
