// Shared helpers of the Prime tools: the service check, results rebuilt field by field (so a tool
// returns exactly what its outputSchema declares), renderings.

import { z } from 'zod';
import { AllSourceError } from '../../src/core/errors.js';
import { LEADING_TEXT_KEYS } from '../../src/prime/events.js';
import type { JsonObject, JsonValue } from '../../src/core/types.js';
import type { EmbedderInfo, PrimeEdge, PrimeNode, PrimeService, RecallHit, VectorIndexStatus } from '../../src/prime/types.js';
import type { ToolContext } from '../types.js';
import { jsonObjectArg, primeEdgeResult, primeNodeResult, primeNodeShape } from '../schemas.js';


export const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/** The service, or `unavailable` for a server built without Prime. */
export function requirePrime(ctx: ToolContext): PrimeService {
  if (ctx.prime === undefined) throw new AllSourceError('unavailable', 'Prime is not available on this server');
  return ctx.prime;
}

/** Drops undefined members, so the service's option checks only see what was given. */
export function defined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}

// Results are rebuilt field by field: the declared schema is the contract, whatever else a
// service object carries.

/**
 * A node as lists and writes return it: long text cut with a marker. A recall of one 900 KB node
 * would otherwise put 900 KB into the agent's context; prime_get_node returns every byte.
 */
export function nodeOut(n: PrimeNode): PrimeNode {
  return { ...fullNodeOut(n), properties: briefProperties(n.properties) };
}

/** A node with every property whole (prime_get_node). */
export function fullNodeOut(n: PrimeNode): PrimeNode {
  return { id: n.id, type: n.type, properties: n.properties, created_at: n.created_at, updated_at: n.updated_at, version: n.version };
}

/** Longest string value of a node in a list, and all its string values together, in characters. */
export const BRIEF_STRING_CHARS = 2000;
export const BRIEF_NODE_CHARS = 8000;
/** Every cut string keeps at least this much, so a late long value still says what it is about. */
const BRIEF_MIN_CHARS = 200;

/** `properties` with strings cut to BRIEF_STRING_CHARS (and BRIEF_NODE_CHARS in all), each cut marked. */
export function briefProperties(properties: JsonObject): JsonObject {
  const budget = { left: BRIEF_NODE_CHARS };
  const brief = (value: JsonValue): JsonValue => {
    if (typeof value === 'string') {
      const keep = Math.min(value.length, BRIEF_STRING_CHARS, Math.max(budget.left, BRIEF_MIN_CHARS));
      budget.left -= keep;
      return keep === value.length ? value : `${value.slice(0, keep)}… [${value.length - keep} more characters; prime_get_node shows all]`;
    }
    if (Array.isArray(value)) return value.map(brief);
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, brief(v)]));
    return value;
  };
  return brief(properties) as JsonObject;
}

export function edgeOut(e: PrimeEdge): PrimeEdge {
  return { id: e.id, source: e.source, target: e.target, relation: e.relation, properties: e.properties, weight: e.weight, created_at: e.created_at };
}

export function embedderOut(e: EmbedderInfo): EmbedderInfo {
  return { name: e.name, kind: e.kind, dims: e.dims, source: e.source };
}

export function vectorIndexOut(v: VectorIndexStatus): VectorIndexStatus {
  return { mode: v.mode, hnsw_available: v.hnsw_available, vectors: v.vectors, dims: v.dims, note: v.note };
}

export function recallHitOut(h: RecallHit) {
  const p = h.score_parts;
  return {
    node: nodeOut(h.node),
    score: h.score,
    score_parts: { semantic: p.semantic, lexical: p.lexical, graph: p.graph, recency: p.recency, importance: p.importance },
    retrieval: [...h.retrieval],
    via: h.via ? { node_id: h.via.node_id, relation: h.via.relation } : null,
  };
}

export const oneLine = (text: string, max = 120): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** A node or edge as a result carries it (properties are plain JSON). */
type NodeView = z.output<typeof primeNodeResult>;
type EdgeView = z.output<typeof primeEdgeResult>;

/** What a person calls a node: its name (or title), else its id. */
export function label(n: NodeView): string {
  const p = n.properties;
  const name = typeof p.name === 'string' ? p.name : typeof p.title === 'string' ? p.title : undefined;
  return name === undefined ? n.id : `${oneLine(name, 60)} (${n.id})`;
}

/** A memory's words, in the order recall reads them (name and title are in its label already). */
const TEXT_FIRST = LEADING_TEXT_KEYS.filter((key) => key !== 'name' && key !== 'title');

/**
 * What a memory says, for a text rendering: its text-like properties first, then the other
 * properties (names and ids of the label aside), flattened to one line and cut to `max`
 * characters with a marker. Clients that show the model only `content` must still see the memory.
 */
export function memoryText(n: NodeView, max = 300): string {
  const p = n.properties;
  const parts: string[] = [];
  const said = (value: unknown): string | undefined => (typeof value === 'string' ? value : Array.isArray(value) ? value.filter((v) => typeof v === 'string').join('; ') : undefined);
  for (const key of TEXT_FIRST) {
    const text = said(p[key]);
    if (text) parts.push(text);
  }
  const rest = Object.entries(p).filter(([key, value]) => !TEXT_FIRST.includes(key) && key !== 'name' && key !== 'title' && !key.startsWith('_') && value !== null);
  if (rest.length > 0) parts.push(JSON.stringify(Object.fromEntries(rest)));
  return oneLine(parts.join(' — '), max);
}

export function nodeLine(n: NodeView): string {
  return `${n.type} ${label(n)} v${n.version}: ${oneLine(JSON.stringify(n.properties), 200)}`;
}

export function edgeLine(e: EdgeView): string {
  return `${e.source} -[${e.relation}${e.weight !== 1 ? ` ${e.weight}` : ''}]-> ${e.target} (edge ${e.id})`;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
export const asOfNote = (asOf: string | null | undefined): string => (asOf ? ` as of ${asOf}` : '');

/** Lists the first items one per line, saying how many more structuredContent holds. */
export function lines<T>(header: string, items: readonly T[], line: (item: T) => string, shown = 20): string {
  const out = [header, ...items.slice(0, shown).map(line)];
  if (items.length > shown) out.push(`… ${items.length - shown} more in structuredContent`);
  return out.join('\n');
}

export const NODE_NOT_FOUND_HINT = 'prime_search or prime_recall find node ids (an as_of before the node existed, or after prime_forget, also answers not_found)';
export const EDGE_NOT_FOUND_HINT = 'prime_neighbors lists a node\'s edges with their ids';

/**
 * `argumentForField` of a Prime write: the store names the event it rejected
 * (`events[0].payload.properties.x`, or `events[0].payload` when it is too big), but the caller
 * sent `argument` (`properties.x`, `properties`), which is all of that payload they can change.
 */
export const payloadArgument =
  (argument: string) =>
  (field: string): string => {
    const inPayload = /^events\[0\]\.payload(?:\.([A-Za-z_]+))?(.*)$/s.exec(field);
    if (inPayload === null) return field;
    const [, key, rest] = inPayload;
    return key === argument ? `${argument}${rest}` : argument;
  };

export const propertiesArg = (what: string) =>
  jsonObjectArg(
    `${what} String values are what recall searches.`,
  );

export const topKArg = (what: string, max = 100, def = 10) => z.number().int().min(1).max(max).optional().describe(`How many ${what} to return (1-${max}, default ${def}).`);

export const depthArg = (what: string, max = 5, def = 1) => z.number().int().min(1).max(max).optional().describe(`${what} (1-${max}, default ${def}).`);

export const nodeResultShape = primeNodeShape;

/** Longest text to embed or recall by, in characters (the service's limit). */
export const TEXT_MAX = 32_000;
