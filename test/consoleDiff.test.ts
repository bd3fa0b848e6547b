// The web console's state diff (console/src/diff.ts), given two states ⇒ the paths added, removed
// and changed: nested objects by dot path, arrays and scalars whole, a missing state as empty.

import { describe, expect, it } from 'vitest';
import { diffStates } from '../console/src/diff.js';

describe('console state diff', () => {
  it('lists added, removed and changed leaves by dot path', () => {
    const before = { name: 'Ada', plan: 'free', address: { city: 'London', zip: 'N1' }, tags: ['a'] };
    const after = { name: 'Ada', plan: 'pro', address: { city: 'Lisbon' }, tags: ['a', 'b'], role: 'engineer' };
    expect(diffStates(before, after)).toEqual({
      added: [{ path: 'role', value: 'engineer' }],
      removed: [{ path: 'address.zip', old_value: 'N1' }],
      changed: [
        { path: 'plan', old_value: 'free', new_value: 'pro' },
        { path: 'address.city', old_value: 'London', new_value: 'Lisbon' },
        { path: 'tags', old_value: ['a'], new_value: ['a', 'b'] },
      ],
    });
  });

  it('treats a state that did not exist (or was deleted) as empty, and equal states as no change', () => {
    expect(diffStates(null, { a: { b: 1 } })).toEqual({ added: [{ path: 'a.b', value: 1 }], removed: [], changed: [] });
    expect(diffStates({ a: 1 }, null)).toEqual({ added: [], removed: [{ path: 'a', old_value: 1 }], changed: [] });
    expect(diffStates({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 2 }] } })).toEqual({ added: [], removed: [], changed: [] });
    // An object that became a scalar: its leaves go, the scalar comes.
    expect(diffStates({ a: { b: 1 } }, { a: 5 })).toEqual({ added: [{ path: 'a', value: 5 }], removed: [{ path: 'a.b', old_value: 1 }], changed: [] });
  });
});
