// The difference between two entity states, for analyze_changes: which JSON paths were added,
// removed or changed. Pure. Objects are compared key by key (that is how merge-patch composes
// them); arrays and scalars are compared whole (merge-patch replaces them whole).

import { isPlainObject, jsonEqual } from '../src/core/fold.js';
import type { JsonObject, JsonValue } from '../src/core/types.js';

export interface AddedPath {
  path: string;
  value: JsonValue;
}

export interface RemovedPath {
  path: string;
  old_value: JsonValue;
}

export interface ChangedPath {
  path: string;
  old_value: JsonValue;
  new_value: JsonValue;
}

export interface StateDiff {
  added: AddedPath[];
  removed: RemovedPath[];
  changed: ChangedPath[];
}

/** Compares two states (null = no state: before the first event, or deleted). Lists are sorted by path. */
export function diffStates(before: JsonObject | null, after: JsonObject | null): StateDiff {
  const diff: StateDiff = { added: [], removed: [], changed: [] };
  walk(before ?? {}, after ?? {}, [], diff);
  const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  diff.added.sort(byPath);
  diff.removed.sort(byPath);
  diff.changed.sort(byPath);
  return diff;
}

function walk(before: JsonObject, after: JsonObject, path: string[], diff: StateDiff): void {
  for (const key of Object.keys(before)) {
    const here = [...path, key];
    if (!Object.prototype.hasOwnProperty.call(after, key)) {
      diff.removed.push({ path: formatPath(here), old_value: before[key] });
      continue;
    }
    const oldValue = before[key];
    const newValue = after[key];
    if (isPlainObject(oldValue) && isPlainObject(newValue)) walk(oldValue, newValue, here, diff);
    else if (!jsonEqual(oldValue, newValue)) diff.changed.push({ path: formatPath(here), old_value: oldValue, new_value: newValue });
  }
  for (const key of Object.keys(after)) {
    if (!Object.prototype.hasOwnProperty.call(before, key)) diff.added.push({ path: formatPath([...path, key]), value: after[key] });
  }
}

const PLAIN_KEY = /^[A-Za-z0-9_$-]+$/;

/**
 * Dot path as payload_equals takes it (`address.city`); a key that a dot path cannot spell (it
 * holds a dot, a space, or is empty) is written as `["a.b"]`.
 */
export function formatPath(keys: readonly string[]): string {
  let out = '';
  for (const key of keys) {
    if (PLAIN_KEY.test(key)) out += out.length === 0 ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}
