// The entity-state fold: given payloads, expect the RFC 7396 merge-patch result, including the
// edge cases a JSON object can carry.

import { describe, expect, it } from 'vitest';
import { EMPTY_FOLD, evolveState, foldSteps, mergePatch } from '../src/core/fold.js';
import type { JsonObject } from '../src/index.js';

describe('mergePatch', () => {
  it('follows the RFC 7396 examples', () => {
    // Appendix A of RFC 7396, the object cases.
    const cases: Array<[JsonObject, JsonObject, JsonObject]> = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, expected] of cases) expect(mergePatch(target, patch)).toEqual(expected);
  });

  it('never mutates its inputs and freezes what it makes', () => {
    const target = { a: { b: 1 } };
    const result = mergePatch(target, { a: { c: 2 } });
    expect(target).toEqual({ a: { b: 1 } });
    expect(Object.isFrozen(result) && Object.isFrozen(result.a)).toBe(true);
  });

  it('records a "__proto__" key as data, never as the prototype', () => {
    const state = mergePatch(null, JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as JsonObject);
    expect(Object.getPrototypeOf(state)).toBe(Object.prototype);
    expect((state as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(state)).toBe('{"__proto__":{"polluted":true},"a":1}');
    const next = mergePatch(state, JSON.parse('{"__proto__": {"b": 2}}') as JsonObject);
    expect(JSON.stringify(next)).toBe('{"__proto__":{"polluted":true,"b":2},"a":1}');
  });
});

describe('evolveState', () => {
  it('marks deletion on a .deleted type and starts afresh after it', () => {
    let fold = evolveState(EMPTY_FOLD, { event_type: 'user.created', payload: { name: 'Ada' } });
    fold = evolveState(fold, { event_type: 'user.deleted', payload: { ignored: true } });
    expect(fold).toEqual({ state: null, deleted: true });
    fold = evolveState(fold, { event_type: 'user.created', payload: { name: 'Bea' } });
    expect(fold).toEqual({ state: { name: 'Bea' }, deleted: false });
  });
});

describe('foldSteps', () => {
  it('gives what evolveState gives one event at a time, without touching the state it starts from', () => {
    // A seeded generator of patches over a few keys: nested objects, nulls, arrays, deletions.
    let seed = 42;
    const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const value = (depth: number): JsonObject[string] => {
      const r = rand();
      if (r < 0.2) return null;
      if (r < 0.4 && depth < 2) return patch(depth + 1);
      if (r < 0.5) return [Math.floor(rand() * 3)];
      return Math.floor(rand() * 5);
    };
    const patch = (depth: number): JsonObject => {
      const out: JsonObject = {};
      for (const key of ['a', 'b', 'c', '__proto__']) if (rand() < 0.4) out[key] = value(depth);
      return JSON.parse(JSON.stringify(out)) as JsonObject;
    };
    for (let run = 0; run < 300; run++) {
      const events = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => ({ event_type: rand() < 0.1 ? 'x.deleted' : 'x.changed', payload: patch(0) }));
      const split = Math.floor(rand() * events.length);
      let start = EMPTY_FOLD;
      for (const e of events.slice(0, split)) start = evolveState(start, e);
      const before = JSON.stringify(start);
      let expected = start;
      for (const e of events.slice(split)) expected = evolveState(expected, e);
      const rest = events.slice(split);
      const got = foldSteps(start, rest.length, (i) => rest[i]);
      expect(JSON.stringify(got)).toBe(JSON.stringify(expected));
      expect(got.deleted).toBe(expected.deleted);
      expect(JSON.stringify(start)).toBe(before);
      if (got.state !== null) expect(Object.isFrozen(got.state)).toBe(true);
    }
  });
});
