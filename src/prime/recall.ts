// Prime's recall ranking, as a pure function of a query and read-only sources: read each keyword
// (BM25) candidate with the memory before it in a sequence (sequence.ts), fuse the keyword and
// vector candidate lists by reciprocal rank, offer part of the best seeds' score to their graph
// neighbours, favour memories linked to a node the query names, add a mild recency and importance
// term, filter, and keep the top k.
// Every contribution is reported in ScoreParts, and the parts add up to the score.

import type { EmbedderKind } from '../embed/types.js';
import type { QueryExpansion } from './lexical.js';
import { contextualScores } from './sequence.js';
import { stateQuestion } from './stateQuery.js';
import type { Retrieval, ScoreParts } from './types.js';

/** Where recall reads from; the Prime service backs these with its projections. */
export interface RecallSources {
  /** BM25 candidates, best first; `expansion` adds (index) terms to the query. */
  lexical(text: string, limit: number, expansion?: QueryExpansion): Array<{ id: string; score: number }>;
  /** Whether the text of `id` holds any of these index terms (state questions); without it, every match counts. */
  hasAnyTerm?(id: string, wanted: ReadonlySet<string>): boolean;
  /** Index terms of the nodes `ids` worth adding to `text` (pseudo-relevance feedback); without it, none is added. */
  feedbackTerms?(ids: readonly string[], text: string, count: number): string[];
  /** Nodes that come right after `id` in a sequence (`next` edges and the like, see sequence.ts); without it, no sequence context. */
  successors?(id: string): readonly string[];
  /** Live nodes the query names (see anchors.ts); without it, no anchoring. */
  named?(text: string): readonly string[];
  /** A test of whether an edge joins a node to `other`, either way (made once per named node, asked of every candidate). */
  linkedTo?(other: string): (id: string) => boolean;
  /** Cosine candidates, best first. */
  semantic(vector: Float32Array, limit: number): Array<{ id: string; score: number }>;
  /** Edges touching `id`, both directions, as (other end, relation, weight). */
  neighbors(id: string): Array<{ id: string; relation: string; weight: number }>;
  /** How many edges touch `id` (when cheaper than listing them: hub damping asks for every node reached). */
  degree?(id: string): number;
  /** Undefined when `id` is not a live node (it is then skipped). */
  info(id: string): { type: string; createdMs: number; updatedMs: number; importance?: number } | undefined;
  /**
   * Every live node id. Only needed for a query with neither text nor vector, which returns the
   * most recent (and important) memories; without it such a query returns nothing.
   */
  ids?(): Iterable<string>;
}

export interface RecallQuery {
  text?: string;
  vector?: Float32Array;
  topK: number;
  /** Graph hops to expand from the best seeds; 0 = none. */
  depth: number;
  /** Keep only nodes of this type. */
  nodeType?: string;
  /** Keep only nodes last updated at or after this instant (ms since the epoch). */
  sinceMs?: number;
  /** Keep only nodes last updated at or before this instant. */
  untilMs?: number;
  /** The instant recency is measured from. */
  nowMs: number;
}

/** The knobs, each with its default; none is specific to any data set. */
export interface RecallTuning {
  /** Candidates asked of each source; at least 3 × topK are always asked (default 100). */
  candidates: number;
  /** Candidates asked of the vector index, when fewer than `candidates` will do (default: the same). */
  semanticCandidates?: number;
  /**
   * Reciprocal-rank constant: rank r in a list scores weight × (rrfK + 1) / (rrfK + r), so rank 1
   * scores the full weight. Default 5, sharper than the customary 60: with a small k the first few
   * ranks stay clearly apart, which graph spreading and the small recency term both rely on.
   */
  rrfK: number;
  /** Full score of rank 1 in the keyword (BM25) list (default 0.8). */
  lexicalWeight: number;
  /**
   * Full score of rank 1 in the vector list (default 0.2, for the offline hashing embedder, which
   * is a fuzzier copy of the keyword view; use `tuningForEmbedder('semantic')` with a real model).
   */
  semanticWeight: number;
  /**
   * Vector neighbours less similar than this (cosine) are not evidence: without a floor every
   * query, however unrelated, would return the nearest memories as if they matched. Set per
   * embedder by tuningForEmbedder (the offline hashing embedder's unrelated texts share common
   * character n-grams); 0 keeps every neighbour.
   */
  minSimilarity: number;
  /** How many of the best fused candidates seed graph expansion (default 10). */
  graphSeeds: number;
  /** Share of a seed's score a neighbour receives per hop, times the edge weight clamped to [0, 1] (default 0.5). */
  graphDecay: number;
  /**
   * Nodes with more edges than this are hubs (a session, a person everyone mentions): what flows
   * into or out of one is scaled by hubDegree / degree, so being linked to everything counts for
   * little (default 10).
   */
  hubDegree: number;
  /** Most recent memories get up to this much (default 0.02: a tie-breaker, not a trump). */
  recencyWeight: number;
  /** Age at which the recency term halves (default 30 days). */
  recencyHalfLifeMs: number;
  /** properties.importance (0..1) is worth up to this much (default 0.05). */
  importanceWeight: number;
  /**
   * Pseudo-relevance feedback on the keyword list: the terms of its best `feedbackDocs` hits that
   * the query lacks and that are rarest, `feedbackTerms` of them, are added to the query for a
   * second BM25 pass in which each query word counts `feedbackQueryWeight` times (defaults 2, 5, 2;
   * feedbackTerms 0 turns it off). It reaches memories worded like the best match rather than like
   * the question. Chosen on LoCoMo with each conversation held out in turn (see the README).
   */
  feedbackDocs: number;
  feedbackTerms: number;
  feedbackQueryWeight: number;
  /**
   * For a question about a state that changes ("where does Maya live?", see stateQuery.ts): the
   * words a change is told with join the keyword query, and the memories about that state get up
   * to this much: half for being about it, half by how recent they are among themselves, newest
   * most (default 0.5; 0 turns both off). Relative, not by age: a memory of last year is as
   * current as it gets if nothing came after. Measured on LoCoMo (0.742 either way) and the
   * persona benchmark (see the README).
   */
  stateRecencyWeight: number;
  /**
   * Sequence context (sequence.ts): a memory's keyword score is the better of its own and this
   * share of its predecessor's, plus a fifth of the other, so a reply is found by the question it
   * answers (default 0.7; 0 turns it off). Measured on LoCoMo and the persona benchmark (see the
   * README).
   */
  sequenceShare: number;
  /**
   * A memory linked to a node the query names ("What do Melanie's kids like?" and a `Melanie`
   * node the memory is linked to: who said it, who it is about) gains this much on its graph
   * part (default 0.2, a quarter of the best keyword rank's 0.8; 0 turns it off). The node
   * itself gains nothing: it is what the question is about, not an answer to it. Added after
   * graph expansion, which keeps the best offer per node and would otherwise replace it.
   */
  anchorWeight: number;
}

export const DEFAULT_RECALL_TUNING: Readonly<RecallTuning> = Object.freeze({
  candidates: 100,
  rrfK: 5,
  lexicalWeight: 0.8,
  semanticWeight: 0.2,
  minSimilarity: 0,
  graphSeeds: 10,
  graphDecay: 0.5,
  hubDegree: 10,
  recencyWeight: 0.02,
  recencyHalfLifeMs: 30 * 24 * 3600 * 1000,
  importanceWeight: 0.05,
  feedbackDocs: 2,
  feedbackTerms: 5,
  feedbackQueryWeight: 2,
  stateRecencyWeight: 0.5,
  sequenceShare: 0.7,
  anchorWeight: 0.2,
});

/**
 * The offline embedder's floor. Its vectors share character n-grams (" the", "ing") across any
 * two English texts, so an unrelated question still has neighbours. Measured on the three LoCoMo
 * dev conversations with 3 unrelated questions each: floor 0 or 0.1 leaves none of the 9 empty,
 * 0.15 one, 0.2 five (the rest match words, which BM25 rightly reports), while LoCoMo recall@10
 * stays 0.742 and the persona benchmark's recall@1 moves 0.393 → 0.420. A language model's scale
 * differs per model and is not measured here, so it keeps every neighbour.
 */
export const LEXICAL_EMBEDDER_MIN_SIMILARITY = 0.2;

/**
 * Defaults for the embedder in use: the offline (lexical) embedder leans on BM25, and its vector
 * list is read only 30 deep (past that, at weight 0.2, a rank adds under 0.035: no reordering
 * measured on LoCoMo, and a shorter vector search); a language model's vectors see paraphrase
 * that BM25 cannot, so they get an equal say and the full candidate list.
 */
export function tuningForEmbedder(kind: EmbedderKind): RecallTuning {
  return kind === 'semantic' ? { ...DEFAULT_RECALL_TUNING, lexicalWeight: 0.5, semanticWeight: 0.5 } : { ...DEFAULT_RECALL_TUNING, semanticCandidates: 30, minSimilarity: LEXICAL_EMBEDDER_MIN_SIMILARITY };
}

export interface RankedRecall {
  id: string;
  score: number;
  parts: ScoreParts;
  /** Every path that found it, strongest first. */
  retrieval: Retrieval[];
  /** For nodes found only through the graph: the node it was reached from and the edge's relation. */
  via?: { node_id: string; relation: string };
}

interface Candidate {
  id: string;
  parts: ScoreParts;
  /** The edge behind the best graph offer, to name `via`. */
  via?: { node_id: string; relation: string };
}

const emptyParts = (): ScoreParts => ({ semantic: 0, lexical: 0, graph: 0, recency: 0, importance: 0 });

/**
 * Ranks memories for a query. Filters (`nodeType`, `sinceMs`/`untilMs` on the node's updatedMs)
 * apply to results, not to graph seeds, so a filtered-out node can still lead to a kept one.
 */
export function rankRecall(query: RecallQuery, sources: RecallSources, tuning: Partial<RecallTuning> = {}): RankedRecall[] {
  const knobs: RecallTuning = { ...DEFAULT_RECALL_TUNING, ...tuning };
  if (query.topK <= 0) return [];
  const info = memoize(sources.info.bind(sources));
  const accept = (id: string): boolean => {
    const node = info(id);
    if (node === undefined) return false;
    if (query.nodeType !== undefined && node.type !== query.nodeType) return false;
    if (query.sinceMs !== undefined && node.updatedMs < query.sinceMs) return false;
    if (query.untilMs !== undefined && node.updatedMs > query.untilMs) return false;
    return true;
  };
  const text = query.text?.trim() ? query.text : undefined;
  if (text === undefined && query.vector === undefined) return rankByRecency(query, sources, knobs, info, accept);

  const pool = Math.max(knobs.candidates, query.topK * 3);
  const candidates = new Map<string, Candidate>();
  const candidate = (id: string): Candidate => {
    let found = candidates.get(id);
    if (found === undefined) candidates.set(id, (found = { id, parts: emptyParts() }));
    return found;
  };
  const fuse = (list: Array<{ id: string; score: number }>, part: 'lexical' | 'semantic', weight: number): void => {
    let rank = 0;
    let seen = 0;
    let previousScore = NaN;
    for (const { id, score } of list) {
      if (info(id) === undefined) continue; // a stale index entry must not take a rank
      seen++;
      // Equal source scores share a rank, so a true tie stays a tie for recency to break.
      if (score !== previousScore) rank = seen;
      previousScore = score;
      candidate(id).parts[part] = (weight * (knobs.rrfK + 1)) / (knobs.rrfK + rank);
    }
  };
  const state = text !== undefined && knobs.stateRecencyWeight > 0 ? stateQuestion(text) : null;
  if (text !== undefined) {
    const keyword = keywordCandidates(text, pool, sources, knobs, state?.changeTerms ?? []);
    const successors = sources.successors?.bind(sources);
    fuse(successors !== undefined && knobs.sequenceShare > 0 ? contextualScores(keyword, successors, knobs.sequenceShare) : keyword, 'lexical', knobs.lexicalWeight);
  }
  if (query.vector !== undefined) {
    const neighbours = sources.semantic(query.vector, Math.max(knobs.semanticCandidates ?? pool, query.topK * 3));
    fuse(
      neighbours.filter((hit) => hit.score >= knobs.minSimilarity),
      'semantic',
      knobs.semanticWeight,
    );
  }

  if (query.depth > 0 && knobs.graphDecay > 0) expandGraph(candidates, candidate, query.depth, sources, knobs, info);
  if (text !== undefined && knobs.anchorWeight > 0) anchor(candidates, text, sources, knobs.anchorWeight, info);

  const ranked: RankedRecall[] = [];
  for (const entry of candidates.values()) {
    if (!accept(entry.id)) continue;
    const node = info(entry.id)!;
    const parts = entry.parts;
    parts.recency = recencyPart(node.updatedMs, query.nowMs, knobs);
    parts.importance = importancePart(node.importance, knobs);
    const found: Array<[Retrieval, number]> = [];
    if (parts.semantic > 0) found.push(['semantic', parts.semantic]);
    if (parts.lexical > 0) found.push(['lexical', parts.lexical]);
    if (parts.graph > 0) found.push(['graph', parts.graph]);
    found.sort((a, b) => b[1] - a[1]);
    const hit: RankedRecall = { id: entry.id, score: sumParts(parts), parts, retrieval: found.map(([path]) => path) };
    if (parts.semantic === 0 && parts.lexical === 0 && entry.via !== undefined) hit.via = entry.via;
    ranked.push(hit);
  }
  if (state !== null) {
    const aboutState = (id: string): boolean => state.topicTerms.size === 0 || sources.hasAnyTerm?.(id, state.topicTerms) !== false;
    favourNewest(ranked.filter((hit) => (hit.parts.lexical > 0 || hit.parts.semantic > 0) && aboutState(hit.id)), info, knobs.stateRecencyWeight);
  }
  return topByScore(ranked, query.topK);
}

/**
 * The direct matches about the asked state get half of `weight` up to all of it on their recency
 * part, oldest to newest: of two memories that both answer "where does Maya live?" ("lives in
 * Berlin", "moved to Lisbon"), the later one is the answer, and either outranks a memory that
 * merely names Maya.
 */
function favourNewest(matches: RankedRecall[], info: (id: string) => { updatedMs: number } | undefined, weight: number): void {
  matches.sort((a, b) => info(a.id)!.updatedMs - info(b.id)!.updatedMs || (a.id < b.id ? -1 : 1));
  matches.forEach((hit, i) => {
    // Half for being about the asked state at all, half by how new it is among those that are.
    const bonus = weight * (matches.length === 1 ? 1 : 0.5 + (0.5 * i) / (matches.length - 1));
    hit.parts.recency += bonus;
    hit.score += bonus;
  });
}

/** The BM25 list, after a second pass with feedback terms when the sources offer them. */
function keywordCandidates(text: string, pool: number, sources: RecallSources, knobs: RecallTuning, changeTerms: readonly string[]): Array<{ id: string; score: number }> {
  let extra: string[] = [];
  if (knobs.feedbackTerms > 0 && knobs.feedbackDocs > 0 && sources.feedbackTerms !== undefined) {
    // The first pass only has to find the feedback documents: a short list prunes most of the work.
    const best = sources.lexical(text, knobs.feedbackDocs);
    if (best.length === 0 && changeTerms.length === 0) return best;
    if (best.length > 0) extra = sources.feedbackTerms(best.map((hit) => hit.id), text, knobs.feedbackTerms);
  }
  for (const term of changeTerms) if (!extra.includes(term)) extra.push(term);
  return extra.length === 0 ? sources.lexical(text, pool) : sources.lexical(text, pool, { terms: extra, queryWeight: knobs.feedbackQueryWeight });
}

/**
 * Spreads score outward from the best fused candidates, breadth first: a node `h` hops from a
 * seed is offered seedScore × Π(decay × edge weight × hub damping) and keeps the best offer from
 * any seed. The best offer, not the sum: a node next to many mediocre matches (a session, a
 * person) must not outrank the match itself. A node that is also a direct match gains the offer
 * on top, so the reply to a matching question, or the context of a matching answer, rises.
 */
function expandGraph(
  candidates: Map<string, Candidate>,
  candidate: (id: string) => Candidate,
  depth: number,
  sources: RecallSources,
  knobs: RecallTuning,
  info: (id: string) => unknown,
): void {
  const seeds = [...candidates.values()]
    .map((entry) => ({ id: entry.id, score: entry.parts.lexical + entry.parts.semantic }))
    .sort((a, b) => b.score - a.score)
    .slice(0, knobs.graphSeeds);
  const neighbors = memoize(sources.neighbors.bind(sources));
  const degree = sources.degree === undefined ? (id: string): number => neighbors(id).length : sources.degree.bind(sources);
  const hubDamping = (id: string): number => Math.min(1, knobs.hubDegree / Math.max(1, degree(id)));
  for (const seed of seeds) {
    const reached = new Set<string>([seed.id]);
    let frontier: Array<{ id: string; share: number }> = [{ id: seed.id, share: seed.score }];
    for (let hop = 1; hop <= depth && frontier.length > 0; hop++) {
      const next: Array<{ id: string; share: number }> = [];
      for (const from of frontier) {
        const outward = from.share * knobs.graphDecay * hubDamping(from.id);
        for (const edge of neighbors(from.id)) {
          if (reached.has(edge.id) || info(edge.id) === undefined) continue;
          reached.add(edge.id);
          const share = outward * clamp01(edge.weight) * hubDamping(edge.id);
          if (share <= 0) continue;
          const target = candidate(edge.id);
          if (share > target.parts.graph) {
            target.parts.graph = share;
            target.via = { node_id: from.id, relation: edge.relation };
          }
          next.push({ id: edge.id, share });
        }
      }
      frontier = next;
    }
  }
}

/** Candidates linked to a node the query names gain `weight` on their graph part (at most 3 names are used). */
function anchor(candidates: Map<string, Candidate>, text: string, sources: RecallSources, weight: number, info: (id: string) => unknown): void {
  if (sources.named === undefined || sources.linkedTo === undefined) return;
  const named = sources.named(text).filter((id) => info(id) !== undefined).slice(0, 3);
  if (named.length === 0) return;
  const tests = named.map((id) => sources.linkedTo!(id));
  for (const entry of candidates.values()) {
    if (named.includes(entry.id)) continue;
    if (tests.some((linked) => linked(entry.id))) entry.parts.graph += weight;
  }
}

/** No text, no vector: the most recent memories, ordered by recency plus importance. */
function rankByRecency(
  query: RecallQuery,
  sources: RecallSources,
  knobs: RecallTuning,
  info: (id: string) => { updatedMs: number; importance?: number } | undefined,
  accept: (id: string) => boolean,
): RankedRecall[] {
  if (sources.ids === undefined) return [];
  const ranked: RankedRecall[] = [];
  for (const id of sources.ids()) {
    if (!accept(id)) continue;
    const node = info(id)!;
    const parts = emptyParts();
    // A full weight of 1 here: recency is the whole signal, not a tie-breaker.
    parts.recency = recencyPart(node.updatedMs, query.nowMs, { ...knobs, recencyWeight: 1 });
    parts.importance = importancePart(node.importance, knobs);
    ranked.push({ id, score: sumParts(parts), parts, retrieval: ['recency'] });
  }
  return topByScore(ranked, query.topK);
}

function recencyPart(updatedMs: number, nowMs: number, knobs: RecallTuning): number {
  if (knobs.recencyWeight <= 0) return 0;
  const age = Math.max(0, nowMs - updatedMs);
  return knobs.recencyWeight * Math.pow(0.5, age / Math.max(1, knobs.recencyHalfLifeMs));
}

function importancePart(importance: number | undefined, knobs: RecallTuning): number {
  return typeof importance === 'number' && Number.isFinite(importance) ? knobs.importanceWeight * clamp01(importance) : 0;
}

function sumParts(parts: ScoreParts): number {
  return parts.semantic + parts.lexical + parts.graph + parts.recency + parts.importance;
}

/** Best first; ties by id so the order is total and repeatable. */
function topByScore(ranked: RankedRecall[], topK: number): RankedRecall[] {
  ranked.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ranked.slice(0, topK);
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

function memoize<T>(lookup: (id: string) => T): (id: string) => T {
  const cache = new Map<string, T>();
  return (id) => {
    if (cache.has(id)) return cache.get(id) as T;
    const value = lookup(id);
    cache.set(id, value);
    return value;
  };
}
