// Recall quality building blocks: the shared tokenizer, the offline hashing embedder, the BM25
// index, and the pure ranking function (fusion, graph expansion, filters, recency-only mode,
// score parts), each against small hand-made inputs whose right answer is known.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHashEmbedder, HASH_EMBEDDER_NAME } from '../src/embed/hashEmbedder.js';
import { LexicalIndex } from '../src/prime/lexical.js';
import { nameCandidates } from '../src/prime/anchors.js';
import { rankRecall, type RecallSources } from '../src/prime/recall.js';
import { contextualScores } from '../src/prime/sequence.js';
import { stateQuestion } from '../src/prime/stateQuery.js';
import { terms } from '../src/prime/text.js';
import { words } from '../src/text/words.js';

const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2025, 0, 31);

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}

describe('tokenizer', () => {
  it('lower-cases, folds apostrophes, drops stopwords and stems', () => {
    expect(words("Mel's DON'T")).toEqual(['mel', 'dont']);
    expect(terms('The paintings were painted while painting')).toEqual(['paint', 'paint', 'paint']);
    expect(terms('What did she research?')).toEqual(['research']);
  });

  it('brings irregular verb forms to their base, so "chose" meets "choose"', () => {
    expect(terms('I chose them')).toEqual(terms('choose them'));
    expect(terms('we bought figurines and went camping')).toEqual(terms('buy figurines and go camping'));
    // Regular forms are Porter's job, and words that are no verb form stay as they were.
    expect(terms('painted pottery')).toEqual(['paint', 'potteri']);
  });

  it('keeps non-English words whole instead of stemming them', () => {
    expect(terms('Übersetzungen café')).toEqual(['übersetzungen', 'café']);
  });
});

describe('hash embedder', () => {
  it(`gives the very vectors ${HASH_EMBEDDER_NAME} always gave (a change to them must bump the name)`, () => {
    // Vectors computed before the per-word feature cache existed; stored logs and saved indexes rely on them.
    const digest = (v: Float32Array): string => createHash('sha256').update(Buffer.from(v.buffer, v.byteOffset, v.byteLength)).digest('hex').slice(0, 32);
    const embedder = createHashEmbedder();
    for (let round = 0; round < 2; round++) {
      expect(digest(embedder.embedSync!('Ada moved to Lisbon in May to join a robotics startup'))).toBe('5262c9ec840801dcf79b715740c6c329');
      expect(digest(embedder.embedSync!('the lighthouse keeper paints watercolours at dawn'))).toBe('76dfba38415253ec459032de2874c2a4');
      expect(digest(embedder.embedSync!("Mel's dog didn't eat the PIZZA!! 42 times, painting painted paints"))).toBe('84521af3f125f64b78cc431126654660');
    }
    expect(digest(createHashEmbedder({ dims: 64 }).embedSync!('Ada moved to Lisbon in May to join a robotics startup'))).toBe('2d3bed603e08495079dfe6f346a23f98');
  });

  it('embeds into a caller buffer exactly as embedSync does, before and after the vocabulary starts over', () => {
    const fresh = createHashEmbedder({ dims: 64 });
    const texts = ['Ada moved to Lisbon in May', "Mel's dog didn't eat the PIZZA", 'walk in the park', ''];
    const before = texts.map((t) => Array.from(fresh.embedSync!(t)));
    const out = new Float32Array(64);
    texts.forEach((t, i) => {
      fresh.embedSyncInto!(t, out);
      expect(Array.from(out)).toEqual(before[i]);
    });
    // More distinct words than the vocabulary keeps (65,536), so it starts over at least once.
    for (let i = 0; i < 70_000; i++) fresh.embedSyncInto!(`token${i.toString(36)} Lisbon`, out);
    expect(texts.map((t) => Array.from(fresh.embedSync!(t)))).toEqual(before);
    expect(() => fresh.embedSyncInto!('x', new Float32Array(8))).toThrow(RangeError);
  });

  const embedder = createHashEmbedder();

  it('describes itself as offline and lexical', () => {
    expect(embedder.describe()).toEqual({ name: HASH_EMBEDDER_NAME, kind: 'lexical', dims: 256, source: 'offline' });
    expect(embedder.deterministic).toBe(true);
    expect(createHashEmbedder({ dims: 384 }).dims).toBe(384);
  });

  it('is deterministic and unit length', async () => {
    const text = 'I went to a support group yesterday';
    const a = embedder.embedSync!(text);
    const [b] = await createHashEmbedder().embed([text]);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(cosine(a, a)).toBeCloseTo(1, 5);
    expect(Array.from(embedder.embedSync!(''))).toEqual(new Array(256).fill(0));
  });

  it('puts similar texts closer than unrelated ones, misspellings included', () => {
    const query = embedder.embedSync!('When did she go to the counseling workshop?');
    const similar = embedder.embedSync!('I went to a counselling workshop last Friday');
    const unrelated = embedder.embedSync!('The kids loved the dinosaur bones at the museum');
    expect(cosine(query, similar)).toBeGreaterThan(cosine(query, unrelated) + 0.1);
  });
});

describe('LexicalIndex', () => {
  it('answers exactly what scoring every document answers, though it stops admitting documents early', () => {
    // A corpus where one word is in every document (a long postings list the pruning skips) and
    // others are rare, with removals so slots are reused; queries mix both, and an accept filter.
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const vocabulary = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
    const index = new LexicalIndex();
    const texts = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      const words = ['project', ...Array.from({ length: 1 + Math.floor(random() * 4) }, () => vocabulary[Math.floor(random() ** 2 * vocabulary.length)]), `n${i % 97}`];
      texts.set(`d${i}`, words.join(' '));
      index.add(`d${i}`, words.join(' '));
      if (i % 10 === 3) {
        index.remove(`d${i - 2}`);
        texts.delete(`d${i - 2}`);
      }
    }
    // The reference: every match scored (a limit no pruning can use), then cut to the top `limit`.
    const everything = (query: string, accept?: (id: string) => boolean) => index.search(query, Number.MAX_SAFE_INTEGER, accept);
    const even = (id: string): boolean => Number(id.slice(1)) % 2 === 0;
    for (const query of ['project n5', 'project alpha', 'juliet project', 'project', 'india hotel project n42', 'n7 n8 project golf', 'juliet india', 'hotel golf', 'juliet juliet india hotel']) {
      for (const limit of [1, 3, 10, 50]) {
        expect(index.search(query, limit), `${query} / ${limit}`).toEqual(everything(query).slice(0, limit));
        expect(index.search(query, limit, even), `${query} / ${limit} / even`).toEqual(everything(query, even).slice(0, limit));
      }
    }
    expect(texts.size).toBeGreaterThan(2000);
  });

  it('keeps answering exactly as long postings get position maps, change, are evicted, and are restored', () => {
    // 40 common words in every document (more long lists than the index keeps position maps for),
    // one rare word per document, and changes between rounds of queries: the maps must follow
    // every add, remove and re-add, in a live index and in one restored from its state.
    const common = Array.from({ length: 40 }, (_, i) => `common${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
    const text = (i: number, variant = 0): string => `${common.filter((_, k) => (i + k + variant) % 3 !== 0).join(' ')} rare${i % 200}`;
    const live = new LexicalIndex();
    for (let i = 0; i < 3000; i++) live.add(`d${i}`, text(i));
    const check = (index: LexicalIndex, label: string): void => {
      for (let q = 0; q < common.length; q++) {
        const query = `${common[q]} rare${(q * 7) % 200}`;
        expect(index.search(query, 5), `${label}: ${query}`).toEqual(index.search(query, Number.MAX_SAFE_INTEGER).slice(0, 5));
      }
    };
    check(live, 'fresh');
    for (let i = 0; i < 3000; i += 7) live.remove(`d${i}`);
    for (let i = 1; i < 3000; i += 11) live.add(`d${i}`, text(i, 1));
    for (let i = 3000; i < 3300; i++) live.add(`d${i}`, text(i));
    check(live, 'after changes');
    const restored = LexicalIndex.fromState(live.exportState());
    check(restored, 'restored');
    for (let i = 2; i < 3000; i += 5) restored.remove(`d${i}`);
    for (let i = 3; i < 3000; i += 13) restored.add(`d${i}`, text(i, 2));
    check(restored, 'restored, then changed');
    const query = `${common[0]} rare3`;
    expect(restored.search(query, 3)).toEqual(restored.search(query, Number.MAX_SAFE_INTEGER).slice(0, 3));
  });

  it('offers the rarest terms of the feedback documents that the query lacks, live and restored', () => {
    const index = new LexicalIndex();
    index.add('best', 'Melanie roasted marshmallows by the campfire');
    index.add('second', 'the campfire stories lasted all night');
    for (let i = 0; i < 20; i++) index.add(`filler${i}`, `night ${i % 2 === 0 ? 'stories' : 'walk'} in town`);
    // marshmallow and melani are in one document only, roast too; campfir is in the question.
    expect(index.feedbackTerms(['best'], 'campfire evening', 3)).toEqual(['marshmallow', 'melani', 'roast']);
    // Mean idf over the feedback documents: a term both share is not penalised for being in two.
    expect(index.feedbackTerms(['best', 'second'], 'Melanie', 2)).toEqual(['campfir', 'last']); // then ties by term
    expect(index.feedbackTerms(['best'], 'anything', 0)).toEqual([]);
    expect(index.feedbackTerms(['nobody'], 'anything', 3)).toEqual([]);
    const restored = LexicalIndex.fromState(index.exportState());
    expect(restored.feedbackTerms(['best', 'second'], 'Melanie', 2)).toEqual(['campfir', 'last']);
    // Expansion terms are index terms, counted once; the query's own words count queryWeight times.
    const plain = index.search('marshmallow', 5);
    expect(index.search('zzz', 5, undefined, { terms: ['marshmallow'], queryWeight: 2 })).toEqual(plain);
  });

  it('ranks by BM25 with stemming and honours accept', () => {
    const index = new LexicalIndex();
    index.add('a', 'We went camping in the mountains');
    index.add('b', 'The camp fire and the camping trip were great, camping is fun');
    index.add('c', 'I painted a sunrise over the lake');
    expect(index.size).toBe(3);
    const hits = index.search('camp', 10);
    expect(hits.map((h) => h.id)).toEqual(['b', 'a']);
    expect(hits[0].score).toBeGreaterThan(hits[1].score);
    expect(index.search('painting', 10).map((h) => h.id)).toEqual(['c']);
    expect(index.search('camp', 10, (id) => id !== 'b').map((h) => h.id)).toEqual(['a']);
    expect(index.search('camp', 1).map((h) => h.id)).toEqual(['b']);
  });

  it('replaces on re-add and forgets on remove', () => {
    const index = new LexicalIndex();
    index.add('a', 'pottery class');
    index.add('a', 'violin lesson');
    expect(index.size).toBe(1);
    expect(index.search('pottery', 10)).toEqual([]);
    expect(index.search('violin', 10).map((h) => h.id)).toEqual(['a']);
    expect(index.remove('a')).toBe(true);
    expect(index.remove('a')).toBe(false);
    expect(index.has('a')).toBe(false);
    expect(index.search('violin', 10)).toEqual([]);
    index.add('b', 'violin again'); // reuses the freed slot
    expect(index.search('violin', 10).map((h) => h.id)).toEqual(['b']);
  });

  it('grows a restored term without writing over the next term (the first term of the table too)', () => {
    const live = new LexicalIndex();
    live.add('d1', 'apple banana');
    live.add('d2', 'banana cherry');
    const restored = LexicalIndex.fromState(live.exportState());
    // apple is the table's first term: its postings start at 0 of the arrays banana's follow in.
    restored.add('d3', 'apple cherry');
    live.add('d3', 'apple cherry');
    for (const word of ['apple', 'banana', 'cherry']) expect(restored.search(word, 10)).toEqual(live.search(word, 10));
    expect(restored.search('banana', 10).map((h) => h.id).sort()).toEqual(['d1', 'd2']);
  });

  it('keeps terms of one document in a shared slab until a second document has them, and lists by word in a large index', () => {
    const index = new LexicalIndex();
    // Many single-document terms (they fill more than one slab chunk), then second documents for some.
    for (let i = 0; i < 20_000; i++) index.add(`a${i}`, `token${i} common`);
    for (let i = 0; i < 20_000; i += 997) index.add(`b${i}`, `token${i} token${i} rare`);
    index.remove('a0');
    index.add('c0', 'token0');
    expect(index.search('token997', 10).map((h) => h.id)).toEqual(['b997', 'a997']);
    expect(index.search('token0', 10).map((h) => h.id)).toEqual(['b0', 'c0']);
    expect(index.search('token1', 10).map((h) => h.id)).toEqual(['a1']);
    // A term whose last document goes is dropped; a later document with it starts a new list.
    index.remove('a1');
    expect(index.search('token1', 10)).toEqual([]);
    index.add('c1', 'token1 again');
    expect(index.search('token1', 10).map((h) => h.id)).toEqual(['c1']);
    const restored = LexicalIndex.fromState(index.exportState());
    for (const word of ['token0', 'token997', 'token19999', 'common', 'rare']) expect(restored.search(word, 10)).toEqual(index.search(word, 10));
  });
});

/** A small in-memory graph behind RecallSources. */
function makeSources(
  nodes: Record<string, { type?: string; ageDays?: number; importance?: number; lexical?: number; semantic?: number }>,
  edges: Array<[string, string, string, number?]> = [],
): RecallSources {
  const rankBy = (key: 'lexical' | 'semantic') =>
    Object.entries(nodes)
      .filter(([, n]) => n[key] !== undefined)
      .sort((a, b) => (b[1][key] as number) - (a[1][key] as number))
      .map(([id, n]) => ({ id, score: n[key] as number }));
  return {
    lexical: (_text, limit) => rankBy('lexical').slice(0, limit),
    semantic: (_vector, limit) => rankBy('semantic').slice(0, limit),
    neighbors: (id) =>
      edges.flatMap(([source, target, relation, weight = 1]) =>
        source === id ? [{ id: target, relation, weight }] : target === id ? [{ id: source, relation, weight }] : [],
      ),
    info: (id) => {
      const node = nodes[id];
      if (node === undefined) return undefined;
      const at = NOW - (node.ageDays ?? 100) * DAY;
      return { type: node.type ?? 'memory', createdMs: at, updatedMs: at, importance: node.importance };
    },
    ids: () => Object.keys(nodes),
  };
}

const vector = new Float32Array([1]);

describe('rankRecall', () => {
  it('adds the best keyword matches\' rarest terms to a second BM25 pass (pseudo-relevance feedback)', () => {
    // The question shares words only with `match`; `answer` says the rest of it in match's words.
    const index = new LexicalIndex();
    const texts: Record<string, string> = {
      match: 'Melanie went camping at the lake with her kids',
      answer: 'We roasted marshmallows at the lake campsite with the kids',
      noise1: 'Caroline painted a picture of the sea',
      noise2: 'Melanie likes pottery with her friends',
    };
    for (const [id, text] of Object.entries(texts)) index.add(id, text);
    for (let i = 0; i < 30; i++) index.add(`other${i}`, `a quiet day number ${i} in the city`);
    const sources: RecallSources = {
      lexical: (text, limit, expansion) => index.search(text, limit, undefined, expansion),
      feedbackTerms: (ids, text, count) => index.feedbackTerms(ids, text, count),
      semantic: () => [],
      neighbors: () => [],
      info: () => ({ type: 'memory', createdMs: NOW, updatedMs: NOW }),
    };
    const query = { text: 'Where did Melanie go camping?', topK: 3, depth: 0, nowMs: NOW };
    const without = rankRecall(query, sources, { feedbackTerms: 0 }).map((hit) => hit.id);
    const withFeedback = rankRecall(query, sources, { feedbackTerms: 3, feedbackDocs: 1 }).map((hit) => hit.id);
    expect(without).not.toContain('answer');
    expect(withFeedback[0]).toBe('match');
    expect(withFeedback).toContain('answer');
    // Sources without feedbackTerms (or feedbackTerms 0) rank exactly as before.
    const { feedbackTerms: _unused, ...plainSources } = sources;
    expect(rankRecall(query, plainSources).map((hit) => hit.id)).toEqual(without);
  });

  it('fuses by reciprocal rank: found by both beats found by one', () => {
    const sources = makeSources({
      lexOnly: { lexical: 9 },
      both: { lexical: 5, semantic: 0.8 },
      semOnly: { semantic: 0.9 },
    });
    const ranked = rankRecall({ text: 'q', vector, topK: 10, depth: 0, nowMs: NOW }, sources, { recencyWeight: 0 });
    expect(ranked.map((r) => r.id)).toEqual(['both', 'lexOnly', 'semOnly']);
    expect(ranked[0].retrieval).toEqual(['lexical', 'semantic']);
    expect(ranked[2].retrieval).toEqual(['semantic']);
    expect(ranked[2].parts.lexical).toBe(0);
  });

  it('score parts add up to the score', () => {
    const sources = makeSources({ a: { lexical: 3, semantic: 0.5, ageDays: 1, importance: 0.8 }, b: { lexical: 1 } }, [['a', 'b', 'next']]);
    for (const hit of rankRecall({ text: 'q', vector, topK: 10, depth: 1, nowMs: NOW }, sources)) {
      const { semantic, lexical, graph, recency, importance } = hit.parts;
      expect(hit.score).toBeCloseTo(semantic + lexical + graph + recency + importance, 12);
    }
  });

  it('expands along edges with decay, names via, and ignores depth 0', () => {
    const sources = makeSources({ seed: { lexical: 5 }, reply: {}, far: {}, other: { lexical: 1 } }, [
      ['seed', 'reply', 'next'],
      ['reply', 'far', 'next'],
    ]);
    const flat = rankRecall({ text: 'q', topK: 10, depth: 0, nowMs: NOW }, sources);
    expect(flat.map((r) => r.id)).toEqual(['seed', 'other']);

    const one = rankRecall({ text: 'q', topK: 10, depth: 1, nowMs: NOW }, sources);
    const reply = one.find((r) => r.id === 'reply')!;
    expect(reply.retrieval).toEqual(['graph']);
    expect(reply.via).toEqual({ node_id: 'seed', relation: 'next' });
    expect(one.some((r) => r.id === 'far')).toBe(false);

    const two = rankRecall({ text: 'q', topK: 10, depth: 2, nowMs: NOW }, sources, { recencyWeight: 0 });
    const far = two.find((r) => r.id === 'far')!;
    expect(far.via).toEqual({ node_id: 'reply', relation: 'next' });
    expect(far.parts.graph).toBeLessThan(two.find((r) => r.id === 'reply')!.parts.graph);
    // Edge weight scales what flows: a half-weight edge passes half.
    const weighted = makeSources({ seed: { lexical: 5 }, reply: {} }, [['seed', 'reply', 'next', 0.5]]);
    const half = rankRecall({ text: 'q', topK: 10, depth: 1, nowMs: NOW }, weighted).find((r) => r.id === 'reply')!;
    expect(half.parts.graph).toBeCloseTo(reply.parts.graph / 2, 12);
  });

  it('does not let a hub outrank the match it hangs off', () => {
    const nodes: Record<string, { lexical?: number }> = { hub: {} };
    const edges: Array<[string, string, string]> = [];
    for (let i = 0; i < 30; i++) {
      nodes[`m${i}`] = { lexical: 30 - i };
      edges.push([`m${i}`, 'hub', 'in_session']);
    }
    const ranked = rankRecall({ text: 'q', topK: 10, depth: 1, nowMs: NOW }, makeSources(nodes, edges));
    expect(ranked[0].id).toBe('m0');
    expect(ranked.some((r) => r.id === 'hub')).toBe(false);
  });

  it('filters by type and time window, and skips nodes that are not live', () => {
    const sources = makeSources({
      note: { type: 'note', lexical: 9, ageDays: 5 },
      old: { type: 'note', lexical: 8, ageDays: 50 },
      person: { type: 'person', lexical: 7, ageDays: 5 },
    });
    const lexical = sources.lexical;
    sources.lexical = (text, limit) => [{ id: 'ghost', score: 99 }, ...lexical(text, limit)];
    const base = { text: 'q', topK: 10, depth: 0, nowMs: NOW };
    expect(rankRecall(base, sources).map((r) => r.id)).toEqual(['note', 'old', 'person']);
    expect(rankRecall({ ...base, nodeType: 'note' }, sources).map((r) => r.id)).toEqual(['note', 'old']);
    expect(rankRecall({ ...base, sinceMs: NOW - 10 * DAY }, sources).map((r) => r.id)).toEqual(['note', 'person']);
    expect(rankRecall({ ...base, untilMs: NOW - 10 * DAY }, sources).map((r) => r.id)).toEqual(['old']);
    expect(rankRecall({ ...base, topK: 1 }, sources).map((r) => r.id)).toEqual(['note']);
  });

  it('recency breaks ties but cannot beat a much better match', () => {
    const sources = makeSources({ best: { lexical: 9, ageDays: 365 }, weak: { lexical: 1, ageDays: 0 } });
    expect(rankRecall({ text: 'q', topK: 10, depth: 0, nowMs: NOW }, sources)[0].id).toBe('best');
    const tie = makeSources({ older: { semantic: 0.5, ageDays: 60 }, newer: { semantic: 0.5, ageDays: 1 } });
    const ranked = rankRecall({ vector, topK: 10, depth: 0, nowMs: NOW }, tie);
    expect(ranked.map((r) => r.id)).toEqual(['newer', 'older']);
    expect(ranked[0].retrieval).toEqual(['semantic']);
  });

  it('with no text and no vector returns the most recent, importance included', () => {
    const sources = makeSources({
      today: { ageDays: 0 },
      lastMonth: { ageDays: 30 },
      lastYear: { ageDays: 365, importance: 1 },
      lastYearPlain: { ageDays: 365 },
    });
    const ranked = rankRecall({ topK: 3, depth: 1, nowMs: NOW }, sources);
    expect(ranked.map((r) => r.id)).toEqual(['today', 'lastMonth', 'lastYear']);
    for (const hit of ranked) expect(hit.retrieval).toEqual(['recency']);
    expect(ranked[0].parts.recency).toBeCloseTo(1, 6);
    expect(ranked[2].parts.importance).toBeGreaterThan(0);
    const { ids: _ids, ...withoutIds } = sources;
    expect(rankRecall({ topK: 3, depth: 0, nowMs: NOW }, withoutIds)).toEqual([]);
  });
});

describe('sequence context and named nodes', () => {
  it('scores a successor the better of its own and a share of its predecessor\'s score, plus a fifth of the other', () => {
    const next: Record<string, string[]> = { question: ['reply'], other: ['otherReply'] };
    const scored = contextualScores(
      [
        { id: 'question', score: 10 },
        { id: 'other', score: 4 },
        { id: 'otherReply', score: 3 },
      ],
      (id) => next[id] ?? [],
      0.7,
    );
    const score = Object.fromEntries(scored.map((hit) => [hit.id, hit.score]));
    expect(scored.map((hit) => hit.id)).toEqual(['question', 'reply', 'other', 'otherReply']);
    expect(score.reply).toBeCloseTo(7, 12); // no words of its own: 0.7 × 10
    expect(score.otherReply).toBeCloseTo(3 + 0.2 * 2.8, 12); // its own 3 beats 0.7 × 4, which adds a fifth
    expect(score.question).toBeCloseTo(10, 12);
  });

  it('lets the reply to a matching question into the keyword list; sequenceShare 0 leaves it out', () => {
    const sources: RecallSources = {
      ...makeSources({ question: { lexical: 9 }, reply: {}, weak1: { lexical: 2 }, weak2: { lexical: 1 } }),
      successors: (id) => (id === 'question' ? ['reply'] : []),
    };
    const query = { text: 'q', topK: 3, depth: 0, nowMs: NOW };
    const ranked = rankRecall(query, sources, { recencyWeight: 0 });
    expect(ranked.map((hit) => hit.id)).toEqual(['question', 'reply', 'weak1']);
    expect(ranked[1].retrieval).toEqual(['lexical']);
    expect(rankRecall(query, sources, { sequenceShare: 0 }).map((hit) => hit.id)).toEqual(['question', 'weak1', 'weak2']);
  });

  it('favours memories linked to a node the query names, not the node itself', () => {
    const edges: Array<[string, string, string]> = [['bySpeaker', 'mel', 'said_by']];
    const sources: RecallSources = {
      ...makeSources({ byOther: { lexical: 5 }, bySpeaker: { lexical: 4 }, mel: { lexical: 3 } }, edges),
      named: (text) => (text.includes('Mel') ? ['mel'] : []),
      linkedTo: (other) => (id) => edges.some(([a, b]) => (a === id && b === other) || (a === other && b === id)),
    };
    const query = { text: 'What does Mel like?', topK: 3, depth: 0, nowMs: NOW };
    const ranked = rankRecall(query, sources, { recencyWeight: 0 });
    expect(ranked.map((hit) => hit.id)).toEqual(['bySpeaker', 'byOther', 'mel']);
    expect(ranked[0].parts.graph).toBeCloseTo(0.2, 12);
    expect(ranked[0].retrieval).toEqual(['lexical', 'graph']);
    expect(rankRecall(query, sources, { anchorWeight: 0, recencyWeight: 0 }).map((hit) => hit.id)).toEqual(['byOther', 'bySpeaker', 'mel']);
    expect(rankRecall({ ...query, text: 'What does anyone like?' }, sources, { recencyWeight: 0 })[0].id).toBe('byOther');
  });

  it('offers the words of a question, runs of them and their capitalised forms as names', () => {
    const names = nameCandidates("What do Melanie's kids like? ask ada lovelace");
    expect(names).toEqual(expect.arrayContaining(['Melanie', 'kids', 'Ada', 'Ada lovelace', 'ada lovelace', 'Melanie kids like']));
    expect(names).not.toContain("Melanie's");
    expect(nameCandidates('')).toEqual([]);
  });
});

describe('state questions', () => {
  it('knows a question about a changing state, and the words its changes are told with', () => {
    const live = stateQuestion('Where does Maya live?')!;
    expect(live.changeTerms).toEqual(expect.arrayContaining(terms('moved relocated')));
    expect(live.topicTerms.has(terms('live')[0])).toBe(true);
    expect(stateQuestion('What is Tom\'s current job?')!.changeTerms).toEqual(expect.arrayContaining(terms('joined left')));
    // "now" asks for the present without naming a state: every match is about it.
    expect(stateQuestion('What is Ada reading now?')).toEqual({ changeTerms: [], topicTerms: new Set() });
    expect(stateQuestion('Does Maya drink green tea?')).toBeNull();
    expect(stateQuestion('When did the snowing stop?')).toBeNull();
  });
});
