// The event model and the EventStore port: the one interface every storage adapter implements
// (EmbeddedCore now, HttpCore and others later) and the exported contract suite checks.
// Field names are snake_case because they are wire names (tool results, REST bodies, segments).

export type JsonPrimitive = null | boolean | number | string;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One immutable, recorded event. Objects returned by a store are frozen; never mutate them. */
export interface StoredEvent {
  /** Client idempotency key, or a store-generated UUIDv7. Unique within a tenant. */
  readonly id: string;
  readonly tenant_id: string;
  readonly entity_id: string;
  readonly event_type: string;
  readonly payload: JsonObject;
  readonly metadata: JsonObject | null;
  /** When the store recorded it: ISO-8601 UTC with milliseconds, never decreasing in position order. */
  readonly timestamp: string;
  /** When it happened in the world (client supplied; defaults to `timestamp`). */
  readonly occurred_at: string;
  /** 1-based, gapless per (tenant, entity). */
  readonly version: number;
  /** Global, strictly increasing per store; the basis of cursors and watches. */
  readonly position: number;
  /** sha256 hex over the previous event's hash in this tenant and this event's canonical form. */
  readonly hash: string;
  /** Present and true only on reads with `include_deleted`, for events that are tombstoned. */
  readonly deleted?: true;
}

/** An event as a client submits it. */
export interface NewEvent {
  entity_id: string;
  event_type: string;
  payload: JsonObject;
  metadata?: JsonObject | null;
  /** Idempotency key: same id + same content returns the original result; different content is a conflict. */
  id?: string;
  /** ISO-8601 instant when it happened in the world. */
  occurred_at?: string;
  /** The entity's version just before this event (0 = the entity must have no events). */
  expected_version?: number;
}

export interface AppendOptions {
  /** Validate and check conflicts, but write nothing. */
  dry_run?: boolean;
}

export interface AppendedEvent {
  id: string;
  entity_id: string;
  event_type: string;
  version: number;
  position: number;
  timestamp: string;
  occurred_at: string;
  /** True when this id had already been recorded with the same content (nothing new was written). */
  duplicate: boolean;
}

export interface AppendResult {
  events: AppendedEvent[];
  /** Highest position of the batch (0 for an all-duplicate or dry-run batch with no events). */
  last_position: number;
  dry_run: boolean;
}

export type Order = 'asc' | 'desc';

export interface QueryFilter {
  entity_id?: string;
  entity_prefix?: string;
  event_type?: string;
  event_type_prefix?: string;
  /** Payload equality on dot-separated JSON paths, e.g. `{ "user.plan": "pro" }`. All must match. */
  payload_equals?: Record<string, JsonValue>;
  /** Recorded time, inclusive bounds (ISO-8601). */
  since?: string;
  until?: string;
  /** World time (`occurred_at`), inclusive bounds (ISO-8601). */
  occurred_since?: string;
  occurred_until?: string;
  /** Only what was recorded at or before this instant (ISO-8601). */
  as_of?: string;
  order?: Order;
  /** Page size: default 100, at most 1000. */
  limit?: number;
  /** Opaque cursor from a previous page's `next_cursor`; the other filters must be the same. */
  cursor?: string;
  /** Include tombstoned events (marked `deleted: true`). */
  include_deleted?: boolean;
}

export interface QueryResult {
  events: StoredEvent[];
  next_cursor: string | null;
  has_more: boolean;
}

export interface AsOfOptions {
  as_of?: string;
}

export interface EntityState {
  entity_id: string;
  /** RFC 7396 merge-patch fold of the payloads in version order (null when deleted). */
  state: JsonObject | null;
  version: number;
  last_updated: string;
  event_count: number;
  /** True when the last folded event's type ends in `.deleted`. */
  deleted: boolean;
  as_of: string | null;
}

export interface EntitySummary {
  entity_id: string;
  event_count: number;
  version: number;
  first_event_at: string;
  last_event_at: string;
  last_event_id: string;
  last_event_type: string;
  deleted: boolean;
}

export interface ListOptions {
  prefix?: string;
  cursor?: string;
  limit?: number;
}

export interface EntitiesResult {
  entities: EntitySummary[];
  next_cursor: string | null;
  has_more: boolean;
}

export interface EventTypeSummary {
  event_type: string;
  count: number;
  last_event_at: string;
}

export interface EventTypesResult {
  event_types: EventTypeSummary[];
  next_cursor: string | null;
  has_more: boolean;
}

export interface TenantStats {
  tenant_id: string;
  /** Live (not tombstoned) events. */
  events: number;
  tombstoned_events: number;
  entities: number;
  event_types: number;
  first_event_at: string | null;
  last_event_at: string | null;
  last_position: number;
}

export interface WatchOptions {
  /** Return events with a position greater than this (default: the current end, i.e. only new ones). */
  after?: number;
  /** How long to wait for a first event, in ms (default 30000, at most 60000). 0 returns at once. */
  timeout_ms?: number;
  limit?: number;
  entity_id?: string;
  event_type?: string;
  /** Only event types starting with this prefix (e.g. `prime.`). */
  event_type_prefix?: string;
  /**
   * Also return the tenant's control events (`$tombstone` / `$restore` on `$control`) after `after`,
   * whatever the other filters say: a projection that folds some event types learns in the same
   * call that a tombstone or restore may have changed what it folded.
   */
  include_control?: boolean;
}

export interface WatchResult {
  events: StoredEvent[];
  /**
   * Pass as `after` to continue; it never goes backwards. With no events it is the tenant's last
   * position, so `last_position > after` with no events answers "the log moved, but nothing matched".
   */
  last_position: number;
  timed_out: boolean;
}

/** Which events a tombstone or restore targets: the intersection of the given selectors. */
export interface TombstoneSelector {
  ids?: string[];
  entity_id?: string;
  event_type?: string;
  since?: string;
  until?: string;
  reason: string;
  dry_run?: boolean;
}

export interface TombstoneResult {
  /** How many events changed (were tombstoned, or were restored). */
  count: number;
  /** Their ids (at most 1000; see `event_ids_truncated`). */
  event_ids: string[];
  event_ids_truncated: boolean;
  /** Position of the control event recorded in the log (null on a dry run or when nothing matched). */
  position: number | null;
  dry_run: boolean;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  head_hash: string | null;
  first_broken_position: number | null;
  message: string;
}

export interface SearchOptions {
  /** Free text; matched word by word (case-insensitive) against the string and number values of payloads. */
  query: string;
  /** Page size: default 100, at most 1000. */
  limit?: number;
  /** Opaque cursor from a previous page's `next_cursor`; the other options must be the same. */
  cursor?: string;
  entity_id?: string;
  event_type?: string;
  /** Search only what was recorded at or before this instant (ISO-8601). */
  as_of?: string;
  /** Include tombstoned events (marked `deleted: true`). */
  include_deleted?: boolean;
}

export interface SearchHit {
  event: StoredEvent;
  /** BM25 relevance (higher is better); ties are broken by recency. */
  score: number;
}

export interface SearchResult {
  hits: SearchHit[];
  next_cursor: string | null;
  has_more: boolean;
}

export interface StoreHealth {
  ok: boolean;
  kind: string;
  [key: string]: unknown;
}

/**
 * The storage port. Async; every call takes an explicit tenant id; nothing reads across tenants.
 * Errors are AllSourceError values with stable codes (`invalid`, `not_found`, `conflict`, …).
 */
export interface EventStore {
  append(tenant: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult>;
  query(tenant: string, filter?: QueryFilter): Promise<QueryResult>;
  /** One event by id; `not_found` if absent (or tombstoned, unless `include_deleted`). */
  get(tenant: string, id: string, options?: { include_deleted?: boolean }): Promise<StoredEvent>;
  state(tenant: string, entity_id: string, options?: AsOfOptions): Promise<EntityState>;
  /** Ranked (BM25) full-text search over payload values; later pages keep the first page's cut. */
  search(tenant: string, options: SearchOptions): Promise<SearchResult>;
  entities(tenant: string, options?: ListOptions): Promise<EntitiesResult>;
  eventTypes(tenant: string, options?: ListOptions): Promise<EventTypesResult>;
  stats(tenant: string): Promise<TenantStats>;
  watch(tenant: string, options?: WatchOptions): Promise<WatchResult>;
  tombstone(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult>;
  restore(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult>;
  verify(tenant: string): Promise<VerifyResult>;
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}

/** Limits shared by every adapter (and checked by the contract suite). */
export const LIMITS = {
  maxIdLength: 256,
  defaultPageSize: 100,
  maxPageSize: 1000,
  defaultMaxPayloadBytes: 1024 * 1024,
  maxBatchEvents: 10_000,
  maxWatchTimeoutMs: 60_000,
  defaultWatchTimeoutMs: 30_000,
  maxReasonLength: 1000,
} as const;

/** Reserved entity id of the control events (tombstones, restores) recorded in each tenant's log. */
export const CONTROL_ENTITY = '$control';
export const TOMBSTONE_EVENT = '$tombstone';
export const RESTORE_EVENT = '$restore';
