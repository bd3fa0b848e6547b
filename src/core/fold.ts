// The entity-state fold: RFC 7396 JSON merge-patch of payloads in version order. Pure, and
// persistent: a patch copies only the objects it touches, so snapshots can share structure safely.

import type { JsonObject, JsonValue } from './types.js';

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Applies `patch` to `target` per RFC 7396 and returns the result without mutating either.
 * Nested objects merge; `null` removes a key; arrays and scalars replace. New objects are frozen.
 */
export function mergePatch(target: JsonObject | null, patch: JsonObject): JsonObject {
  const result: JsonObject = target === null ? {} : { ...target };
  mergeInto(result, patch);
  return Object.freeze(result);
}

/** Applies `patch` to `result` in place (nested objects are merged persistently, as mergePatch does). */
function mergeInto(result: JsonObject, patch: JsonObject): void {
  for (const key in patch) {
    const value = patch[key];
    if (value === null) {
      delete result[key];
    } else if (isPlainObject(value)) {
      const current = Object.prototype.hasOwnProperty.call(result, key) ? result[key] : undefined;
      setOwn(result, key, mergePatch(isPlainObject(current) ? current : null, value));
    } else {
      setOwn(result, key, value);
    }
  }
}

/**
 * Freezes a JSON value and everything inside it, so objects the store holds and returns cannot
 * be changed by a caller. Returns the value for chaining.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) deepFreeze(value[i]);
    } else {
      for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
    }
  }
  return value;
}

/**
 * Sets an own data property. Plain assignment of a key named `__proto__` (legal in JSON) would
 * change the object's prototype instead of recording the key.
 */
function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** An event type ending in `.deleted` marks its entity deleted. */
export function isDeletionType(eventType: string): boolean {
  return eventType.endsWith('.deleted');
}

/** The fold's running value. `state` is null while deleted (or before the first event). */
export interface FoldState {
  state: JsonObject | null;
  deleted: boolean;
}

export const EMPTY_FOLD: FoldState = Object.freeze({ state: null, deleted: false });

/** One fold step: what the entity looks like after `event`. */
export function evolveState(fold: FoldState, event: { event_type: string; payload: JsonObject }): FoldState {
  if (isDeletionType(event.event_type)) return { state: null, deleted: true };
  return { state: mergePatch(fold.state, event.payload), deleted: false };
}

/**
 * What evolveState gives after `count` more events (`eventAt(0)` first), built with one copy of
 * the top-level state instead of one per event: the as-of read path folds a few events past a
 * snapshot, and the copies were most of its cost.
 */
export function foldSteps(from: FoldState, count: number, eventAt: (i: number) => { event_type: string; payload: JsonObject }): FoldState {
  if (count === 0) return from;
  let state: JsonObject | null = from.state === null ? null : { ...from.state };
  let deleted = from.deleted;
  for (let i = 0; i < count; i++) {
    const event = eventAt(i);
    if (isDeletionType(event.event_type)) {
      state = null;
      deleted = true;
    } else {
      state ??= {};
      mergeInto(state, event.payload);
      deleted = false;
    }
  }
  return { state: state === null ? null : Object.freeze(state), deleted };
}

/** Deep equality of JSON values (payload filters and idempotency checks). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  for (const key of aKeys) {
    if (!Object.prototype.hasOwnProperty.call(b, key) || !jsonEqual(a[key], b[key])) return false;
  }
  return true;
}

/** Reads a dot-separated path (`user.plan`) from an object; undefined when absent. */
export function getPath(value: JsonValue, path: readonly string[]): JsonValue | undefined {
  let current: JsonValue | undefined = value;
  for (const key of path) {
    if (!isPlainObject(current) || !Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = current[key];
  }
  return current;
}
