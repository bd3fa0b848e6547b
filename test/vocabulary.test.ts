// The interned tokenizer (src/text/vocabulary.ts) against the regular-expression one it stands in
// for: the same words and the same terms on hand-picked edge cases and on seeded random text
// (letters of both cases, digits, apostrophes, punctuation, long runs, non-ASCII), and interning
// that survives the vocabulary starting over.

import { describe, expect, it } from 'vitest';
import { analyze, vocabularyGeneration } from '../src/text/vocabulary.js';
import { verbBase } from '../src/text/lemmas.js';
import { STOPWORDS, stem, words } from '../src/text/words.js';

const viaRegex = (text: string): { words: string[]; terms: string[] } => {
  const surface = [...words(text)];
  return { words: surface, terms: surface.filter((w) => !STOPWORDS.has(w)).map(stem) };
};
const viaVocabulary = (text: string): { words: string[]; terms: string[] } => {
  const found = analyze(text);
  return { words: found.map((w) => w.text), terms: found.flatMap((w) => (w.term === null ? [] : [w.term])) };
};

describe('vocabulary', () => {
  it('finds exactly the words and terms of words() and stem()', () => {
    const cases = [
      "Mel's DON'T rock'n'roll's o'clock ab'9 x' 'y it's",
      'The paintings were painted while painting, 42 times (note 123, code z9k)',
      `${'a'.repeat(40)} ${'b'.repeat(41)} ${'c'.repeat(38)}'s ${'d'.repeat(39)}'ss`,
      'Übersetzungen café naïve',
      '我住在北京 iphone手机',
      "Mel’s curly quote, then Mel's straight one",
      '',
      '  ...  ',
    ];
    for (const text of cases) expect(viaVocabulary(text)).toEqual(viaRegex(text));
  });

  it("gives recall's index terms as terms() did before interning: the stem of an irregular verb's base", () => {
    const text = 'She chose the red one and bought two; they were choosing, I am buying';
    const expected = [...words(text)].filter((w) => !STOPWORDS.has(w)).map((w) => stem(verbBase(w)));
    expect(analyze(text).flatMap((w) => (w.indexTerm === null ? [] : [w.indexTerm]))).toEqual(expected);
    const [chose] = analyze('chose');
    expect(chose.indexTerm).toBe(stem('choose'));
    // The embedder's term stays the plain stem, so its vectors do not move with the lemmas.
    expect(chose.term).toBe(stem('chose'));
  });

  it('agrees on seeded random text', () => {
    let seed = 12345;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const alphabet = "abczXYZS''s 0129.,-_\t\n";
    for (let i = 0; i < 5000; i++) {
      let text = '';
      const length = Math.floor(next() * 80);
      for (let k = 0; k < length; k++) text += alphabet[Math.floor(next() * alphabet.length)];
      if (i % 10 === 0) text += ' é';
      expect(viaVocabulary(text)).toEqual(viaRegex(text));
    }
  });

  it('gives one record per distinct word and keeps answering the same after starting over', () => {
    const [a, b, c] = analyze('Paris paris PARIS');
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(a.term).toBe('pari');
    const generation = vocabularyGeneration();
    for (let i = 0; i < 70_000; i++) analyze(`w${i.toString(36)} again`);
    expect(vocabularyGeneration()).toBeGreaterThan(generation);
    expect(viaVocabulary("Paris again, isn't it")).toEqual(viaRegex("Paris again, isn't it"));
  });
});
