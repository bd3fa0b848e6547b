// Retrieval-quality benchmark on LoCoMo (long multi-session conversations with questions whose
// evidence turns are labelled): store every turn of a conversation as a memory, ask every
// non-adversarial question, and score evidence recall@1/5/10 and hit@10 for a plain BM25
// baseline and for allsource's recall, in the same run over the same stored text.
//
//   node dist/bench/locomo.js [path/to/locomo.json]
//
// The data set is evaluation-only (CC BY-NC) and lives outside the repo; the bench skips with a
// message when it is absent. Every figure printed is measured here.

import { readFile } from 'node:fs/promises';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openEmbeddedCore } from '../src/core/embedded/index.js';
import type { Embedder } from '../src/embed/types.js';
import type { RecallTuning } from '../src/prime/recall.js';
import { createPrimeService } from '../src/prime/service.js';
import { generatePersonaBenchmark } from './persona.js';

const DEFAULT_DATA_PATH = process.env.LOCOMO_DATA ?? '/work/shared/bench-data/locomo-dev.json';
/** Category 5 questions are adversarial (the answer is not in the conversation): no evidence to find. */
const ADVERSARIAL_CATEGORY = 5;
const CUTOFFS = [1, 5, 10] as const;
const WARMUP_QUERIES = 10;

/** One dialogue turn, as an agent storing the conversation would see it. */
export interface LocomoTurn {
  diaId: string;
  speaker: string;
  text: string;
  /** The caption of a photo shared in the turn, when there is one (what a vision model would say about it). */
  photoCaption?: string;
  /** 1-based session number and the session's date as written ("1:56 pm on 8 May, 2023"). */
  session: number;
  sessionDate: string;
  /** When the turn was said: the session's start plus a minute per turn. */
  atMs: number;
}

/** What the bench drives: anything that can store turns and answer a question with dia_ids. */
export interface RecallAdapter {
  addTurn(turn: LocomoTurn): void | Promise<void>;
  recall(question: string, k: number): Promise<string[]>;
  close?(): Promise<void>;
}

export interface MethodScores {
  method: string;
  conversation: string;
  questions: number;
  recallAt1: number;
  recallAt5: number;
  recallAt10: number;
  hitAt10: number;
}

export interface LocomoReport {
  dataPath: string;
  conversations: number;
  turns: number;
  questions: number;
  /** Per conversation and method, then the overall rows (conversation `all`, averaged over questions). */
  rows: MethodScores[];
  latency: Array<{ method: string; p50Ms: number; p99Ms: number }>;
  /** Leave-one-conversation-out: the feedback knobs chosen on the other conversations, scored on this one. */
  leaveOneOut: HeldOut[];
  table: string;
}

export interface HeldOut {
  conversation: string;
  questions: number;
  chosen: Partial<RecallTuning>;
  /** recall@10 on the held-out conversation: with the knobs chosen without it, with feedback off, with the shipped defaults. */
  heldOut: number;
  off: number;
  shipped: number;
}

export interface LocomoOptions {
  dataPath?: string;
  log?: (line: string) => void;
  /** Overrides for allsource's recall knobs (for experiments; the defaults are what ships). */
  tuning?: Partial<RecallTuning>;
  /** Graph hops for allsource's recall (default 1). */
  depth?: number;
}

export interface Conversation {
  id: string;
  turns: LocomoTurn[];
  questions: Array<{ question: string; evidence: string[] }>;
}

// ── Methods ──────────────────────────────────────────────────────────────────────────────────

/**
 * The memory text both methods index, as a node's text properties would read: who said it, when
 * (the session's date), what they said, and any photo they shared.
 */
export function turnText(turn: LocomoTurn): string {
  return `${turn.speaker} (${turn.sessionDate}): ${turn.text}${turn.photoCaption ? ` [shares ${turn.photoCaption}]` : ''}`;
}

/** Plain BM25 (k1 1.2, b 0.75): lower-cased alphanumeric words, no stemming, no stopwords. */
export function createBm25Baseline(): RecallAdapter {
  const tokenize = (text: string): string[] => text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  const docs: Array<{ diaId: string; length: number; counts: Map<string, number> }> = [];
  const documentFrequency = new Map<string, number>();
  let totalLength = 0;
  return {
    addTurn(turn) {
      const tokens = tokenize(turnText(turn));
      const counts = new Map<string, number>();
      for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
      for (const token of counts.keys()) documentFrequency.set(token, (documentFrequency.get(token) ?? 0) + 1);
      docs.push({ diaId: turn.diaId, length: tokens.length, counts });
      totalLength += tokens.length;
    },
    async recall(question, k) {
      const k1 = 1.2;
      const b = 0.75;
      const averageLength = totalLength / Math.max(docs.length, 1);
      const queryTerms = [...new Set(tokenize(question))];
      const scored = docs.map((doc, index) => {
        let score = 0;
        for (const term of queryTerms) {
          const tf = doc.counts.get(term);
          if (tf === undefined) continue;
          const df = documentFrequency.get(term) ?? 0;
          const idf = Math.log(1 + (docs.length - df + 0.5) / (df + 0.5));
          score += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * doc.length) / averageLength));
        }
        return { diaId: doc.diaId, score, index };
      });
      scored.sort((x, y) => y.score - x.score || x.index - y.index);
      return scored
        .slice(0, k)
        .filter((hit) => hit.score > 0)
        .map((hit) => hit.diaId);
    },
  };
}

/**
 * allsource through the product path: a real EmbeddedCore (in a temp directory) and the Prime
 * service, as an agent would store a conversation with prime_add_node and prime_add_edge: each
 * turn a `turn` node, one `session` node per session, one `person` node per speaker (its name),
 * `in_session`, `said_by` and `next` edges. Questions go to prime_recall (depth 1, no type
 * filter). Private `_` properties keep ids out of the text.
 */
export async function createAllsourceAdapter(options: { dataDir: string; embedder?: Embedder; tuning?: Partial<RecallTuning>; depth?: number }): Promise<RecallAdapter> {
  const store = await openEmbeddedCore({ dataDir: options.dataDir, durability: 'none' });
  const prime = createPrimeService({ store, embedder: options.embedder, recallTuning: options.tuning });
  const tenant = 'locomo';
  const sessions = new Map<number, string>();
  const speakers = new Map<string, string>();
  let previous: { id: string; session: number } | undefined;
  return {
    async addTurn(turn) {
      let sessionId = sessions.get(turn.session);
      if (sessionId === undefined) {
        sessionId = (await prime.addNode(tenant, { type: 'session', properties: { _session: turn.session, _date: turn.sessionDate } })).id;
        sessions.set(turn.session, sessionId);
      }
      let speakerId = speakers.get(turn.speaker);
      if (speakerId === undefined) {
        speakerId = (await prime.addNode(tenant, { type: 'person', properties: { name: turn.speaker } })).id;
        speakers.set(turn.speaker, speakerId);
      }
      const node = await prime.addNode(tenant, { type: 'turn', properties: { text: turnText(turn), _dia_id: turn.diaId } });
      await prime.addEdge(tenant, { source: node.id, target: sessionId, relation: 'in_session' });
      await prime.addEdge(tenant, { source: node.id, target: speakerId, relation: 'said_by' });
      if (previous !== undefined && previous.session === turn.session) await prime.addEdge(tenant, { source: previous.id, target: node.id, relation: 'next' });
      previous = { id: node.id, session: turn.session };
    },
    async recall(question, k) {
      const { results } = await prime.recall(tenant, { text: question, top_k: k, depth: options.depth ?? 1 });
      const out: string[] = [];
      for (const hit of results) if (typeof hit.node.properties._dia_id === 'string') out.push(hit.node.properties._dia_id);
      return out;
    },
    async close() {
      await prime.close();
      await store.close();
    },
  };
}

// ── Data ─────────────────────────────────────────────────────────────────────────────────────

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/** "1:56 pm on 8 May, 2023" → epoch ms (UTC); NaN when it does not parse. */
export function parseSessionDate(text: string): number {
  const match = /(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+([a-z]+),?\s+(\d{4})/i.exec(text);
  if (match === null) return NaN;
  const [, hour, minute, half, day, monthName, year] = match;
  const month = MONTHS.indexOf(monthName.toLowerCase());
  if (month < 0) return NaN;
  const hours = (Number(hour) % 12) + (half.toLowerCase() === 'pm' ? 12 : 0);
  return Date.UTC(Number(year), month, Number(day), hours, Number(minute));
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Reads and parses a LoCoMo file: conversations with their turns and scorable questions. */
export async function loadLocomo(dataPath: string): Promise<Conversation[]> {
  return parseConversations(JSON.parse(await readFile(dataPath, 'utf8')) as Json);
}

function parseConversations(raw: Json): Conversation[] {
  if (!Array.isArray(raw)) throw new Error('LoCoMo data: expected a list of samples');
  return raw.map((sample, index) => {
    const s = sample as { [key: string]: Json };
    const conversation = s.conversation as { [key: string]: Json };
    const sessions = Object.keys(conversation)
      .map((key) => /^session_(\d+)$/.exec(key))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => Number(match[1]))
      .sort((a, b) => a - b);
    const turns: LocomoTurn[] = [];
    let lastMs = 0;
    for (const session of sessions) {
      const sessionDate = String(conversation[`session_${session}_date_time`] ?? '');
      const parsed = parseSessionDate(sessionDate);
      // Sessions are in order; an unparseable date is placed just after the previous session.
      const startMs = Number.isFinite(parsed) ? parsed : lastMs + 3_600_000;
      const list = conversation[`session_${session}`] as Array<{ [key: string]: Json }>;
      list.forEach((turn, position) => {
        const atMs = startMs + position * 60_000;
        lastMs = Math.max(lastMs, atMs);
        turns.push({
          diaId: String(turn.dia_id),
          speaker: String(turn.speaker),
          text: String(turn.text ?? ''),
          photoCaption: typeof turn.blip_caption === 'string' ? turn.blip_caption : undefined,
          session,
          sessionDate,
          atMs,
        });
      });
    }
    const questions = (s.qa as Array<{ [key: string]: Json }>)
      .filter((qa) => qa.category !== ADVERSARIAL_CATEGORY)
      .map((qa) => ({
        question: String(qa.question),
        // A few labels pack several ids into one string ("D8:6; D9:17"): split them.
        evidence: [...new Set((qa.evidence as Json[]).flatMap((e) => String(e).split(/[;,\s]+/)).filter((e) => e.length > 0))],
      }))
      .filter((qa) => qa.evidence.length > 0);
    return { id: String(s.sample_id ?? `conversation-${index + 1}`), turns, questions };
  });
}

// ── Scoring ──────────────────────────────────────────────────────────────────────────────────

interface Accumulator {
  questions: number;
  recall: number[];
  hitAt10: number;
}

const newAccumulator = (): Accumulator => ({ questions: 0, recall: CUTOFFS.map(() => 0), hitAt10: 0 });

function score(accumulator: Accumulator, retrieved: string[], evidence: string[]): void {
  accumulator.questions++;
  CUTOFFS.forEach((k, i) => {
    const top = new Set(retrieved.slice(0, k));
    accumulator.recall[i] += evidence.filter((id) => top.has(id)).length / evidence.length;
  });
  const top10 = new Set(retrieved.slice(0, 10));
  if (evidence.some((id) => top10.has(id))) accumulator.hitAt10++;
}

function toScores(method: string, conversation: string, accumulator: Accumulator): MethodScores {
  const n = Math.max(accumulator.questions, 1);
  return {
    method,
    conversation,
    questions: accumulator.questions,
    recallAt1: accumulator.recall[0] / n,
    recallAt5: accumulator.recall[1] / n,
    recallAt10: accumulator.recall[2] / n,
    hitAt10: accumulator.hitAt10 / n,
  };
}

function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// ── Leave one conversation out ───────────────────────────────────────────────────────────────

/**
 * The knobs this bench may choose (pseudo-relevance feedback), as a small grid; the first entry is
 * feedback off. Each conversation is held out in turn: the grid entry with the best recall@10 on
 * the others is scored on it. If that held-out figure beats feedback-off on every conversation,
 * the gain is not an artefact of fitting these three conversations.
 */
function feedbackGrid(): Array<Partial<RecallTuning>> {
  const grid: Array<Partial<RecallTuning>> = [{ feedbackTerms: 0 }];
  for (const feedbackTerms of [2, 3, 5]) {
    for (const feedbackDocs of [2, 3, 5]) for (const feedbackQueryWeight of [2, 3]) grid.push({ feedbackTerms, feedbackDocs, feedbackQueryWeight });
  }
  return grid;
}

async function recallAt10Sum(conversation: Conversation, dataDir: string, tuning: Partial<RecallTuning>, depth: number | undefined): Promise<number> {
  const adapter = await createAllsourceAdapter({ dataDir, tuning, depth });
  try {
    for (const turn of conversation.turns) await adapter.addTurn(turn);
    let sum = 0;
    for (const { question, evidence } of conversation.questions) {
      const top = new Set(await adapter.recall(question, 10));
      sum += evidence.filter((id) => top.has(id)).length / evidence.length;
    }
    return sum;
  } finally {
    await adapter.close?.();
  }
}

async function leaveOneOut(conversations: Conversation[], scratch: string, options: LocomoOptions, shipped: number[]): Promise<HeldOut[]> {
  const grid = feedbackGrid();
  const sums: number[][] = [];
  let runs = 0;
  for (const tuning of grid) {
    const row: number[] = [];
    for (const conversation of conversations) row.push(await recallAt10Sum(conversation, join(scratch, `loo-${runs++}`), { ...options.tuning, ...tuning }, options.depth));
    sums.push(row);
  }
  return conversations.map((conversation, held) => {
    let best = 0;
    let bestScore = -1;
    grid.forEach((_, g) => {
      let hits = 0;
      let questions = 0;
      conversations.forEach((other, i) => {
        if (i === held) return;
        hits += sums[g][i];
        questions += other.questions.length;
      });
      // Ties keep the earlier (simpler) entry.
      if (hits / questions > bestScore) [best, bestScore] = [g, hits / questions];
    });
    const n = conversation.questions.length;
    return { conversation: conversation.id, questions: n, chosen: grid[best], heldOut: sums[best][held] / n, off: sums[0][held] / n, shipped: shipped[held] };
  });
}

// ── Run ──────────────────────────────────────────────────────────────────────────────────────

export async function runLocomoBench(options: LocomoOptions = {}): Promise<LocomoReport | { skipped: string }> {
  const dataPath = resolve(options.dataPath ?? DEFAULT_DATA_PATH);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!existsSync(dataPath)) return { skipped: `LoCoMo data not found at ${dataPath} (set LOCOMO_DATA or pass a path); skipping the retrieval bench` };
  const conversations = await loadLocomo(dataPath);
  const scratch = mkdtempSync(join(tmpdir(), 'allsource-locomo-'));
  try {
    const { rows, latency } = await scoreMethods(conversations, scratch, options, log);
    const shipped = conversations.map((c) => rows.find((r) => r.conversation === c.id && r.method === 'allsource recall')?.recallAt10 ?? NaN);
    // LOCOMO_LOO=0 skips the grid (about two minutes) while exploring; the default runs it.
    const skipGrid = process.env.LOCOMO_LOO === '0';
    if (!skipGrid) log('leave-one-conversation-out over the feedback grid');
    const heldOut = skipGrid ? [] : await leaveOneOut(conversations, scratch, options, shipped);
    return {
      dataPath,
      conversations: conversations.length,
      turns: conversations.reduce((sum, c) => sum + c.turns.length, 0),
      questions: conversations.reduce((sum, c) => sum + c.questions.length, 0),
      rows,
      latency,
      leaveOneOut: heldOut,
      table: renderTable(rows, latency, heldOut),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The generated persona benchmark (bench/persona.ts), scored by the same methods: its table. */
export async function runPersonaBench(options: LocomoOptions = {}): Promise<{ rows: MethodScores[]; table: string; turns: number; questions: number; conversations: number }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const conversations = generatePersonaBenchmark();
  const scratch = mkdtempSync(join(tmpdir(), 'allsource-persona-'));
  try {
    const { rows, latency } = await scoreMethods(conversations, scratch, options, log);
    // Per-conversation rows would be a long table of near-identical lines: the overall ones tell it.
    const overall = rows.filter((r) => r.conversation === 'all');
    return {
      rows,
      table: renderTable(overall, latency, []),
      conversations: conversations.length,
      turns: conversations.reduce((sum, c) => sum + c.turns.length, 0),
      questions: conversations.reduce((sum, c) => sum + c.questions.length, 0),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Both methods over every conversation: per-conversation and overall scores, and query latency. */
async function scoreMethods(conversations: Conversation[], scratch: string, options: LocomoOptions, log: (line: string) => void): Promise<{ rows: MethodScores[]; latency: LocomoReport['latency'] }> {
  let runs = 0;
  const methods: Array<{ name: string; create: () => RecallAdapter | Promise<RecallAdapter> }> = [
    { name: 'bm25 baseline', create: createBm25Baseline },
    { name: 'allsource recall', create: () => createAllsourceAdapter({ dataDir: join(scratch, `run-${runs++}`), tuning: options.tuning, depth: options.depth }) },
  ];
  const rows: MethodScores[] = [];
  const overall = new Map(methods.map((m) => [m.name, newAccumulator()]));
  const latencies = new Map(methods.map((m) => [m.name, [] as number[]]));
  for (const conversation of conversations) {
    log(`${conversation.id}: ${conversation.turns.length} turns, ${conversation.questions.length} questions`);
    for (const method of methods) {
      const adapter = await method.create();
      for (const turn of conversation.turns) await adapter.addTurn(turn);
      // A few untimed queries first, so the latency figures measure steady state, not the JIT.
      for (const { question } of conversation.questions.slice(0, WARMUP_QUERIES)) await adapter.recall(question, 10);
      const accumulator = newAccumulator();
      for (const { question, evidence } of conversation.questions) {
        const started = performance.now();
        const retrieved = await adapter.recall(question, 10);
        latencies.get(method.name)!.push(performance.now() - started);
        score(accumulator, retrieved, evidence);
        score(overall.get(method.name)!, retrieved, evidence);
      }
      rows.push(toScores(method.name, conversation.id, accumulator));
      await adapter.close?.();
    }
  }
  for (const method of methods) rows.push(toScores(method.name, 'all', overall.get(method.name)!));
  const latency = methods.map((m) => ({ method: m.name, p50Ms: percentile(latencies.get(m.name)!, 50), p99Ms: percentile(latencies.get(m.name)!, 99) }));
  return { rows, latency };
}

/** Question-weighted mean of one held-out column. */
export function heldOutMean(rows: HeldOut[], column: 'heldOut' | 'off' | 'shipped'): number {
  const questions = rows.reduce((sum, r) => sum + r.questions, 0);
  return rows.reduce((sum, r) => sum + r[column] * r.questions, 0) / Math.max(questions, 1);
}

function renderTable(rows: MethodScores[], latency: LocomoReport['latency'], heldOut: HeldOut[]): string {
  const f = (x: number): string => x.toFixed(3);
  const lines = [
    '| conversation | method | recall@1 | recall@5 | recall@10 | hit@10 | questions |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.conversation} | ${r.method} | ${f(r.recallAt1)} | ${f(r.recallAt5)} | ${f(r.recallAt10)} | ${f(r.hitAt10)} | ${r.questions} |`),
    '',
    '| method | query p50 (ms) | query p99 (ms) |',
    '|---|---:|---:|',
    ...latency.map((l) => `| ${l.method} | ${l.p50Ms.toFixed(3)} | ${l.p99Ms.toFixed(3)} |`),
  ];
  if (heldOut.length === 0) return lines.join('\n');
  lines.push(
    '',
    '| held-out conversation | feedback knobs chosen on the other two | recall@10 held out | feedback off | shipped defaults |',
    '|---|---|---:|---:|---:|',
    ...heldOut.map((r) => `| ${r.conversation} | ${JSON.stringify(r.chosen)} | ${f(r.heldOut)} | ${f(r.off)} | ${f(r.shipped)} |`),
    `| all (question-weighted) | — | ${f(heldOutMean(heldOut, 'heldOut'))} | ${f(heldOutMean(heldOut, 'off'))} | ${f(heldOutMean(heldOut, 'shipped'))} |`,
  );
  return lines.join('\n');
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  const report = await runLocomoBench({ dataPath: process.argv[2] });
  if ('skipped' in report) {
    console.log(report.skipped);
  } else {
    console.log(`## LoCoMo retrieval: ${report.conversations} conversations, ${report.turns} turns stored, ${report.questions} questions (category 5 left out)\n`);
    console.log(report.table);
    const all = (method: string): MethodScores | undefined => report.rows.find((r) => r.conversation === 'all' && r.method === method);
    const ours = all('allsource recall');
    const baseline = all('bm25 baseline');
    if (ours !== undefined && baseline !== undefined) {
      const verdict = (value: number, target: number): string => (value >= target ? 'pass' : 'MISS');
      const loo = heldOutMean(report.leaveOneOut, 'heldOut');
      console.log(`\n- recall@10: allsource ${ours.recallAt10.toFixed(3)} vs BM25 ${baseline.recallAt10.toFixed(3)} (${(ours.recallAt10 / baseline.recallAt10).toFixed(2)}x); target >= 0.80 with the offline embedder: ${verdict(ours.recallAt10, 0.8)}`);
      console.log(`- recall@5: ${ours.recallAt5.toFixed(3)}; target >= 0.70: ${verdict(ours.recallAt5, 0.7)}`);
      if (report.leaveOneOut.length === 0) console.log('- leave-one-conversation-out recall@10: skipped (LOCOMO_LOO=0)');
      else console.log(`- leave-one-conversation-out recall@10: ${loo.toFixed(3)} (feedback off: ${heldOutMean(report.leaveOneOut, 'off').toFixed(3)}); target >= 0.76: ${verdict(loo, 0.76)}`);
    }
  }
  const persona = await runPersonaBench();
  console.log(`\n## Persona retrieval (generated, bench/persona.ts): ${persona.conversations} users, ${persona.turns} turns, ${persona.questions} questions: knowledge updates, a correction, two-hop and when questions\n`);
  console.log(persona.table);
}
