// The trigram index behind search_nodes' substring matches: its candidates must hold every true
// match (a superset the caller checks), through adds, replacements and removals, and the tool
// must find the same entities with it as a scan of every entity finds, before and after writes.

import { describe, expect, it } from 'vitest';
import { nodeTexts, SubstringIndex } from '../src/prime/substring.js';

describe('SubstringIndex', () => {
  it('never misses a node whose text contains the query, through replacements and removals', () => {
    let seed = 11;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = 'abcde fgh-ÄÖß';
    const word = (n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    const index = new SubstringIndex();
    const texts = new Map<string, string[]>();
    for (let i = 0; i < 1500; i++) {
      const id = `n${i % 1200}`; // ids come back: a replacement
      const value = Array.from({ length: 1 + Math.floor(random() * 3) }, () => word(3 + Math.floor(random() * 12)).toLowerCase());
      index.set(id, value);
      texts.set(id, value);
      if (i % 9 === 0) {
        index.remove(`n${(i * 7) % 1200}`);
        texts.delete(`n${(i * 7) % 1200}`);
      }
    }
    expect(index.size).toBe(texts.size);
    for (let k = 0; k < 300; k++) {
      const source = [...texts.values()][Math.floor(random() * texts.size)];
      const text = source[Math.floor(random() * source.length)];
      const start = Math.floor(random() * Math.max(1, text.length - 3));
      const query = k % 5 === 0 ? word(4).toLowerCase() : text.slice(start, start + 3 + Math.floor(random() * 5));
      const truth = [...texts].filter(([, ts]) => ts.some((t) => t.includes(query))).map(([id]) => id);
      const candidates = index.candidates(query);
      if (query.length < 3) {
        expect(candidates).toBeNull();
        continue;
      }
      for (const id of truth) expect(candidates!.has(id), `${JSON.stringify(query)} ${id}`).toBe(true);
    }
    expect(index.candidates('ab')).toBeNull();
    expect(index.candidates('zzzz')).toEqual(new Set());
  });

  it('indexes a node by its type and every string property, strings in arrays included, lower-cased', () => {
    expect(nodeTexts('Person', { name: 'Ada', observations: ['Wrote NOTES', 3, { x: 'no' }], age: 36, nick: 'Countess' })).toEqual(['person', 'ada', 'wrote notes', 'countess']);
  });
});
