// The difference between two states of an entity, path by path (dot paths into nested objects;
// arrays and other values compare whole, as JSON), for the timeline's "what changed between A
// and B" panel.

import type { JsonObject, JsonValue } from './api.js';

export interface StateDiff {
  added: Array<{ path: string; value: JsonValue }>;
  removed: Array<{ path: string; old_value: JsonValue }>;
  changed: Array<{ path: string; old_value: JsonValue; new_value: JsonValue }>;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Leaves of a state as dot paths (an empty object is a leaf of its own). */
function leaves(value: JsonObject | null, prefix = '', out = new Map<string, JsonValue>()): Map<string, JsonValue> {
  if (value === null) return out;
  for (const [key, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isObject(v) && Object.keys(v).length > 0) leaves(v, path, out);
    else out.set(path, v);
  }
  return out;
}

export function diffStates(before: JsonObject | null, after: JsonObject | null): StateDiff {
  const a = leaves(before);
  const b = leaves(after);
  const diff: StateDiff = { added: [], removed: [], changed: [] };
  for (const [path, value] of b) {
    if (!a.has(path)) diff.added.push({ path, value });
    else if (JSON.stringify(a.get(path)) !== JSON.stringify(value)) diff.changed.push({ path, old_value: a.get(path)!, new_value: value });
  }
  for (const [path, old] of a) if (!b.has(path)) diff.removed.push({ path, old_value: old });
  return diff;
}
