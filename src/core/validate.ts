// Input validation for the EventStore port. Every adapter runs the same checks, so bad input gets
// the same `invalid` error naming the same field whichever store answers. Nothing here does I/O.

import { InvalidError } from './errors.js';
import { isPlainObject } from './fold.js';
import { parseInstant, formatInstant } from './time.js';
import {
  LIMITS,
  type AsOfOptions,
  type JsonObject,
  type JsonValue,
  type ListOptions,
  type NewEvent,
  type Order,
  type QueryFilter,
  type SearchOptions,
  type TombstoneSelector,
  type WatchOptions,
} from './types.js';

// C0 controls, DEL and C1 controls: invisible in logs and terminals, and a classic injection vector.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
// With the u flag a valid surrogate pair is one code point, so this matches only lone halves,
// which UTF-8 cannot carry: the log would store U+FFFD instead of what was acknowledged.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

// One pass for the common case: no control character and no lone surrogate.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const BAD_ID_CHARS = /[\u0000-\u001f\u007f-\u009f]|[\uD800-\uDFFF]/u;

/** True when checkId would accept `value` (the append hot path builds field names only on failure). */
function isGoodId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= LIMITS.maxIdLength && value.charCodeAt(0) !== 0x24 && !BAD_ID_CHARS.test(value);
}

/** Checks an identifier (tenant, entity id, event type, event id). `$`-prefixed names are reserved. */
export function checkId(value: unknown, field: string, options: { allowReserved?: boolean } = {}): string {
  if (typeof value !== 'string') throw new InvalidError(field, `must be a string, got ${describeType(value)}`);
  if (value.length === 0) throw new InvalidError(field, 'must not be empty');
  if (value.length > LIMITS.maxIdLength) throw new InvalidError(field, `must be at most ${LIMITS.maxIdLength} characters, got ${value.length}`);
  if (CONTROL_CHARS.test(value)) throw new InvalidError(field, 'must not contain control characters');
  if (LONE_SURROGATE.test(value)) throw new InvalidError(field, 'must be well-formed Unicode (it holds a lone surrogate)');
  if (!options.allowReserved && value.startsWith('$')) throw new InvalidError(field, "must not start with '$' (reserved for the store's control events)");
  return value;
}

export function checkTenant(tenant: unknown): string {
  return checkId(tenant, 'tenant');
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** An event that passed validation, with its JSON texts computed once (they feed the hash and the log). */
export interface PreparedEvent {
  entity_id: string;
  event_type: string;
  payload: JsonObject;
  payloadJson: string;
  metadata: JsonObject | null;
  metadataJson: string;
  id: string | undefined;
  /** Normalized occurred_at, or undefined to default to the recorded time. */
  occurred_at: string | undefined;
  expected_version: number | undefined;
}

const EVENT_FIELDS = new Set(['entity_id', 'event_type', 'payload', 'metadata', 'id', 'occurred_at', 'expected_version']);

/**
 * Checks the shape of an append call (tenant, a non-empty bounded batch, known options) before its
 * events are prepared one by one; shared so HttpCore rejects what EmbeddedCore rejects, alike.
 */
export function checkAppendCall(tenant: unknown, events: unknown, options: unknown): { dry_run: boolean } {
  checkTenant(tenant);
  if (!Array.isArray(events)) throw new InvalidError('events', 'must be an array of events');
  if (events.length === 0) throw new InvalidError('events', 'must hold at least one event');
  if (events.length > LIMITS.maxBatchEvents) throw new InvalidError('events', `must hold at most ${LIMITS.maxBatchEvents} events, got ${events.length}`);
  if (options !== null && typeof options === 'object') {
    for (const key in options) if (key !== 'dry_run') throw new InvalidError(`options.${key}`, 'is not a known append option (known: dry_run)');
  }
  return { dry_run: (options as { dry_run?: unknown } | null | undefined)?.dry_run === true };
}

/**
 * Validates one event of a batch; `index` is its place in the batch, used in field names. The
 * prepared event holds frozen copies of the payload and metadata and their JSON texts.
 */
export function prepareEvent(raw: unknown, index: number, maxPayloadBytes: number): PreparedEvent {
  const at = `events[${index}]`;
  if (!isPlainObject(raw)) throw new InvalidError(at, `must be an object, got ${describeType(raw)}`);
  for (const key in raw) if (!EVENT_FIELDS.has(key)) throw new InvalidError(`${at}.${key}`, `is not a known event field (known: ${[...EVENT_FIELDS].join(', ')})`);
  const event = raw as unknown as NewEvent;
  const entity_id = isGoodId(event.entity_id) ? event.entity_id : checkId(event.entity_id, `${at}.entity_id`);
  const event_type = isGoodId(event.event_type) ? event.event_type : checkId(event.event_type, `${at}.event_type`);
  if (!isPlainObject(event.payload)) throw new InvalidError(`${at}.payload`, `must be a JSON object, got ${describeType(event.payload)}`);
  const payload = checkedJson(event.payload, `${at}.payload`);
  const payloadJson = JSON.stringify(payload);
  // String length bounds the UTF-8 size from below and 3x from above; count bytes only when it matters.
  if (payloadJson.length * 3 > maxPayloadBytes && Buffer.byteLength(payloadJson) > maxPayloadBytes) {
    throw new InvalidError(`${at}.payload`, `is ${Buffer.byteLength(payloadJson)} bytes of JSON, over the limit of ${maxPayloadBytes}`);
  }
  let metadata: JsonObject | null = null;
  let metadataJson = 'null';
  if (event.metadata !== undefined && event.metadata !== null) {
    if (!isPlainObject(event.metadata)) throw new InvalidError(`${at}.metadata`, `must be a JSON object or null, got ${describeType(event.metadata)}`);
    metadata = checkedJson(event.metadata, `${at}.metadata`);
    metadataJson = JSON.stringify(metadata);
    if (metadataJson.length * 3 > maxPayloadBytes && Buffer.byteLength(metadataJson) > maxPayloadBytes) {
      throw new InvalidError(`${at}.metadata`, `is over the limit of ${maxPayloadBytes} bytes`);
    }
  }
  const id = event.id === undefined ? undefined : checkId(event.id, `${at}.id`);
  const occurred_at = event.occurred_at === undefined ? undefined : formatInstant(parseInstant(event.occurred_at, `${at}.occurred_at`));
  let expected_version: number | undefined;
  if (event.expected_version !== undefined) {
    if (!Number.isSafeInteger(event.expected_version) || event.expected_version < 0) {
      throw new InvalidError(`${at}.expected_version`, 'must be a non-negative integer (0 = the entity must not exist yet)');
    }
    expected_version = event.expected_version;
  }
  return { entity_id, event_type, payload, payloadJson, metadata, metadataJson, id, occurred_at, expected_version };
}

/**
 * Checks that a payload or metadata object is plain JSON and returns a frozen deep copy of it:
 * the store keeps its own copy, so a caller may go on mutating what it passed
 * without changing what was recorded. The copy is made in the same walk as the check, and the
 * JSON text is then written from the copy, so the text and the kept object agree even if the
 * caller's object has getters. JSON.stringify alone would silently drop undefined and functions
 * and turn NaN into null; those would change the content, so they are rejected.
 */
function checkedJson(value: JsonObject, field: string): JsonObject {
  const checked = plainJsonCopy(value, 0);
  if (checked !== NOT_JSON) return checked as JsonObject;
  checkJsonValue(value, field, 0); // throws, naming the exact path
  throw new InvalidError(field, 'must be plain JSON');
}

const NOT_JSON: unique symbol = Symbol('not plain JSON');

/** A frozen deep copy of `value` if it is plain JSON (-0 becomes 0, as its JSON text says), else NOT_JSON. */
function plainJsonCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) return NOT_JSON;
      return value === 0 ? 0 : value;
    case 'object': {
      if (value === null) return null;
      if (depth > 64) return NOT_JSON;
      if (Array.isArray(value)) {
        const out: unknown[] = [];
        for (let i = 0; i < value.length; i++) {
          const item = plainJsonCopy(value[i], depth + 1);
          if (item === NOT_JSON) return NOT_JSON;
          out.push(item);
        }
        return Object.freeze(out);
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return NOT_JSON;
      const out: Record<string, unknown> = {};
      for (const key in value) {
        const item = plainJsonCopy((value as Record<string, unknown>)[key], depth + 1);
        if (item === NOT_JSON) return NOT_JSON;
        // Plain assignment of `__proto__` would set the prototype instead of recording the key.
        if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
        else out[key] = item;
      }
      return Object.freeze(out);
    }
    default:
      return NOT_JSON;
  }
}

function checkJsonValue(value: unknown, field: string, depth: number): void {
  if (depth > 64) throw new InvalidError(field, 'is nested more than 64 levels deep');
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidError(field, 'contains a non-finite number');
      return;
    case 'object':
      if (value === null) return;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) checkJsonValue(value[i], `${field}[${i}]`, depth + 1);
        return;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
        throw new InvalidError(field, 'must be plain JSON (found a non-plain object such as a Date or Map)');
      }
      for (const key in value) checkJsonValue((value as Record<string, unknown>)[key], `${field}.${key}`, depth + 1);
      return;
    default:
      throw new InvalidError(field, `contains a value JSON cannot hold (${typeof value})`);
  }
}

/** Checks a page size: default 100, between 1 and 1000. */
export function checkLimit(value: unknown, field: string, max: number = LIMITS.maxPageSize): number {
  if (value === undefined) return Math.min(LIMITS.defaultPageSize, max);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidError(field, `must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkKnownKeys(value: unknown, known: ReadonlySet<string>, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new InvalidError(field, `must be an object, got ${describeType(value)}`);
  for (const key in value) {
    if (!known.has(key)) throw new InvalidError(`${field}.${key}`, `is not a known field (known: ${[...known].join(', ')})`);
  }
  return value;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  return checkId(value, field, { allowReserved: true });
}

function optionalInstant(value: unknown, field: string): number | undefined {
  return value === undefined ? undefined : parseInstant(value, field);
}

function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new InvalidError(field, `must be true or false, got ${describeType(value)}`);
  return value;
}

/** A query filter after validation: times as ms, payload paths split, defaults applied. */
export interface CheckedFilter {
  entity_id?: string;
  entity_prefix?: string;
  event_type?: string;
  event_type_prefix?: string;
  payload_equals?: Array<{ path: string[]; value: JsonValue }>;
  since?: number;
  until?: number;
  occurred_since?: number;
  occurred_until?: number;
  as_of?: number;
  order: Order;
  limit: number;
  cursor?: string;
  include_deleted: boolean;
  /** The filters that define the query (no cursor/limit), for the cursor fingerprint. */
  fingerprintParts: unknown[];
}

const FILTER_FIELDS = new Set([
  'entity_id', 'entity_prefix', 'event_type', 'event_type_prefix', 'payload_equals', 'since', 'until',
  'occurred_since', 'occurred_until', 'as_of', 'order', 'limit', 'cursor', 'include_deleted',
]);

export function checkFilter(raw: QueryFilter | undefined): CheckedFilter {
  const f = checkKnownKeys(raw, FILTER_FIELDS, 'filter') as QueryFilter;
  const order = f.order === undefined ? 'asc' : f.order;
  if (order !== 'asc' && order !== 'desc') throw new InvalidError('filter.order', `must be "asc" or "desc", got ${JSON.stringify(f.order)}`);
  let payload_equals: CheckedFilter['payload_equals'];
  if (f.payload_equals !== undefined) {
    if (!isPlainObject(f.payload_equals)) throw new InvalidError('filter.payload_equals', 'must be an object of {"dot.path": value}');
    payload_equals = [];
    for (const path in f.payload_equals) {
      const parts = path.split('.');
      if (path.length === 0 || parts.some((p) => p.length === 0)) throw new InvalidError(`filter.payload_equals.${path}`, 'is not a valid dot path (e.g. "user.plan")');
      const value = f.payload_equals[path];
      checkJsonValue(value, `filter.payload_equals.${path}`, 0);
      payload_equals.push({ path: parts, value });
    }
  }
  const checked: CheckedFilter = {
    entity_id: optionalString(f.entity_id, 'filter.entity_id'),
    entity_prefix: f.entity_prefix === undefined ? undefined : checkPrefix(f.entity_prefix, 'filter.entity_prefix'),
    event_type: optionalString(f.event_type, 'filter.event_type'),
    event_type_prefix: f.event_type_prefix === undefined ? undefined : checkPrefix(f.event_type_prefix, 'filter.event_type_prefix'),
    payload_equals,
    since: optionalInstant(f.since, 'filter.since'),
    until: optionalInstant(f.until, 'filter.until'),
    occurred_since: optionalInstant(f.occurred_since, 'filter.occurred_since'),
    occurred_until: optionalInstant(f.occurred_until, 'filter.occurred_until'),
    as_of: optionalInstant(f.as_of, 'filter.as_of'),
    order,
    limit: checkLimit(f.limit, 'filter.limit'),
    cursor: f.cursor,
    include_deleted: optionalBoolean(f.include_deleted, 'filter.include_deleted'),
    fingerprintParts: [],
  };
  if (f.cursor !== undefined && typeof f.cursor !== 'string') throw new InvalidError('filter.cursor', 'must be a string returned as next_cursor');
  checked.fingerprintParts = [
    checked.entity_id, checked.entity_prefix, checked.event_type, checked.event_type_prefix, f.payload_equals ?? null,
    checked.since, checked.until, checked.occurred_since, checked.occurred_until, checked.as_of, order, checked.include_deleted,
  ];
  return checked;
}

/** A prefix may be empty-free but otherwise follows id rules (it may start with `$`). */
function checkPrefix(value: unknown, field: string): string {
  return checkId(value, field, { allowReserved: true });
}

const SEARCH_FIELDS = new Set(['query', 'limit', 'cursor', 'entity_id', 'event_type', 'as_of', 'include_deleted']);

export interface CheckedSearch {
  query: string;
  limit: number;
  cursor?: string;
  entity_id?: string;
  event_type?: string;
  as_of?: number;
  include_deleted: boolean;
  fingerprintParts: unknown[];
}

export function checkSearchOptions(raw: SearchOptions | undefined): CheckedSearch {
  const o = checkKnownKeys(raw, SEARCH_FIELDS, 'options') as unknown as SearchOptions;
  if (typeof o.query !== 'string' || o.query.trim().length === 0) throw new InvalidError('options.query', 'is required: the words to search for');
  if (o.query.length > 1000) throw new InvalidError('options.query', 'must be at most 1000 characters');
  if (o.cursor !== undefined && typeof o.cursor !== 'string') throw new InvalidError('options.cursor', 'must be a string returned as next_cursor');
  const checked: CheckedSearch = {
    query: o.query,
    limit: checkLimit(o.limit, 'options.limit'),
    cursor: o.cursor,
    entity_id: optionalString(o.entity_id, 'options.entity_id'),
    event_type: optionalString(o.event_type, 'options.event_type'),
    as_of: optionalInstant(o.as_of, 'options.as_of'),
    include_deleted: optionalBoolean(o.include_deleted, 'options.include_deleted'),
    fingerprintParts: [],
  };
  checked.fingerprintParts = ['search', o.query, checked.entity_id, checked.event_type, checked.as_of, checked.include_deleted];
  return checked;
}

const AS_OF_FIELDS = new Set(['as_of']);

/** The options of a point-in-time read such as state(): `{ as_of }`, as ms (undefined = now). */
export function checkAsOfOptions(raw: AsOfOptions | undefined): number | undefined {
  return optionalInstant((checkKnownKeys(raw, AS_OF_FIELDS, 'options') as AsOfOptions).as_of, 'options.as_of');
}

const LIST_FIELDS = new Set(['prefix', 'cursor', 'limit']);

export function checkListOptions(raw: ListOptions | undefined): { prefix?: string; cursor?: string; limit: number } {
  const o = checkKnownKeys(raw, LIST_FIELDS, 'options') as ListOptions;
  if (o.cursor !== undefined && typeof o.cursor !== 'string') throw new InvalidError('options.cursor', 'must be a string returned as next_cursor');
  return {
    prefix: o.prefix === undefined ? undefined : checkPrefix(o.prefix, 'options.prefix'),
    cursor: o.cursor,
    limit: checkLimit(o.limit, 'options.limit'),
  };
}

const WATCH_FIELDS = new Set(['after', 'timeout_ms', 'limit', 'entity_id', 'event_type', 'event_type_prefix', 'include_control']);

/** Watch options after validation, with defaults applied. */
export interface CheckedWatchOptions {
  after?: number;
  timeout_ms: number;
  limit: number;
  entity_id?: string;
  event_type?: string;
  event_type_prefix?: string;
  include_control: boolean;
}

export function checkWatchOptions(raw: WatchOptions | undefined): CheckedWatchOptions {
  const o = checkKnownKeys(raw, WATCH_FIELDS, 'options') as WatchOptions;
  if (o.after !== undefined && (!Number.isSafeInteger(o.after) || o.after < 0)) throw new InvalidError('options.after', 'must be a non-negative integer position');
  let timeout_ms: number = LIMITS.defaultWatchTimeoutMs;
  if (o.timeout_ms !== undefined) {
    if (typeof o.timeout_ms !== 'number' || !Number.isInteger(o.timeout_ms) || o.timeout_ms < 0 || o.timeout_ms > LIMITS.maxWatchTimeoutMs) {
      throw new InvalidError('options.timeout_ms', `must be an integer from 0 to ${LIMITS.maxWatchTimeoutMs}`);
    }
    timeout_ms = o.timeout_ms;
  }
  return {
    after: o.after,
    timeout_ms,
    limit: checkLimit(o.limit, 'options.limit'),
    entity_id: optionalString(o.entity_id, 'options.entity_id'),
    event_type: optionalString(o.event_type, 'options.event_type'),
    event_type_prefix: o.event_type_prefix === undefined ? undefined : checkPrefix(o.event_type_prefix, 'options.event_type_prefix'),
    include_control: optionalBoolean(o.include_control, 'options.include_control'),
  };
}

const SELECTOR_FIELDS = new Set(['ids', 'entity_id', 'event_type', 'since', 'until', 'reason', 'dry_run']);

export interface CheckedSelector {
  ids?: Set<string>;
  entity_id?: string;
  event_type?: string;
  since?: number;
  until?: number;
  reason: string;
  dry_run: boolean;
}

export function checkSelector(raw: TombstoneSelector | undefined): CheckedSelector {
  const s = checkKnownKeys(raw, SELECTOR_FIELDS, 'selector') as unknown as TombstoneSelector;
  if (typeof s.reason !== 'string' || s.reason.trim().length === 0) throw new InvalidError('selector.reason', 'is required: say why these events are being deleted or restored');
  if (s.reason.length > LIMITS.maxReasonLength) throw new InvalidError('selector.reason', `must be at most ${LIMITS.maxReasonLength} characters`);
  let ids: Set<string> | undefined;
  if (s.ids !== undefined) {
    if (!Array.isArray(s.ids) || s.ids.length === 0) throw new InvalidError('selector.ids', 'must be a non-empty array of event ids');
    if (s.ids.length > LIMITS.maxBatchEvents) throw new InvalidError('selector.ids', `must hold at most ${LIMITS.maxBatchEvents} ids`);
    ids = new Set(s.ids.map((id, i) => checkId(id, `selector.ids[${i}]`, { allowReserved: true })));
  }
  const checked: CheckedSelector = {
    ids,
    entity_id: optionalString(s.entity_id, 'selector.entity_id'),
    event_type: optionalString(s.event_type, 'selector.event_type'),
    since: optionalInstant(s.since, 'selector.since'),
    until: optionalInstant(s.until, 'selector.until'),
    reason: s.reason,
    dry_run: optionalBoolean(s.dry_run, 'selector.dry_run'),
  };
  if (!checked.ids && checked.entity_id === undefined && checked.event_type === undefined) {
    throw new InvalidError('selector', 'must name ids, an entity_id or an event_type (since/until only narrow those)');
  }
  return checked;
}
