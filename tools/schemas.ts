// Zod pieces shared by the tool definitions: argument fields that recur (ids, instants, paging)
// and the shapes of results (an event, a page). Descriptions here are read by the calling model,
// so they say what a value means, its unit or format, its default, and give an example.

import { z } from 'zod';
import { isPlainObject } from '../src/core/fold.js';
import { LIMITS } from '../src/core/types.js';
import { MAX_VECTOR_DIMS } from '../src/embed/codec.js';
import { MAX_PRIME_ID_LENGTH } from '../src/prime/events.js';

// ── Arguments ─────────────────────────────────────────────────────────────────────────────────

const ID_MAX = LIMITS.maxIdLength;
/** Instants are validated by the store (it names the field); this only bounds the length. */
const INSTANT_MAX = 64;

export const entityIdArg = (what: string) =>
  z.string().min(1).max(ID_MAX).describe(`${what}: any stable string not starting with "$", e.g. "user-42".`);

export const eventTypeArg = (what: string) => z.string().min(1).max(ID_MAX).describe(`${what}, e.g. "user.created".`);

export const eventIdArg = (what: string) => z.string().min(1).max(ID_MAX).describe(`${what}, e.g. "evt-2024-05-01-001".`);

export const instantArg = (what: string) =>
  z.string().min(1).max(INSTANT_MAX).describe(`${what} (ISO-8601, e.g. "2024-05-01T12:00:00Z").`);

export const asOfArg = () =>
  instantArg('Answer as the memory was at this past instant; omit for now');

export const limitArg = (what = 'items', max: number = LIMITS.maxPageSize, def: number = LIMITS.defaultPageSize) =>
  z.number().int().min(1).max(max).optional().describe(`At most this many ${what} (default ${def}).`);

export const cursorArg = () =>
  z.string().min(1).max(4096).optional().describe('The previous page\'s next_cursor, with the same other arguments; omit for the first page.');

export const prefixArg = (what: string) =>
  z.string().min(1).max(ID_MAX).optional().describe(`Only ${what} starting with this prefix, e.g. "user-".`);

/**
 * A free-form JSON object argument (a payload, metadata, a filter). Checked, not rebuilt: a zod
 * record copies keys into a new object and silently drops one named "__proto__", so what was
 * sent would not be what is recorded. The store validates the JSON itself and names the path.
 */
export const jsonObject = (): z.ZodType<Record<string, unknown>> =>
  z
    .unknown()
    .refine(isPlainObject, { message: 'expected a JSON object, e.g. {"name": "Ada"}' })
    .meta({ type: 'object' }) as unknown as z.ZodType<Record<string, unknown>>;

export const jsonObjectArg = (what: string) => jsonObject().describe(what);

export const includeDeletedArg = () =>
  z.boolean().optional().describe('Also return deleted (forgotten) events, marked deleted: true. Default false.');

export const reasonArg = (what: string) =>
  z.string().min(1).max(LIMITS.maxReasonLength).describe(`${what}, recorded in the log, e.g. "user asked to forget their address".`);

export const dryRunArg = (what: string) => z.boolean().optional().describe(`${what} Default false.`);

/** The query filters shared by query_events and export_events. */
export const queryFilterShape = {
  entity_id: entityIdArg('Only events of this entity').optional(),
  entity_prefix: prefixArg('entities whose id is'),
  event_type: eventTypeArg('Only events of this type').optional(),
  event_type_prefix: z.string().min(1).max(ID_MAX).optional().describe('Only event types starting with this prefix, e.g. "order." for order.placed, order.paid, ...'),
  payload_equals: jsonObject()
    .optional()
    .describe('Only events whose payload has all these values, by dot path, e.g. {"address.city": "Paris"}.'),
  since: instantArg('Only events recorded at or after this instant').optional(),
  until: instantArg('Only events recorded at or before this instant').optional(),
  occurred_since: instantArg('Only events that happened (occurred_at) at or after this instant').optional(),
  occurred_until: instantArg('Only events that happened (occurred_at) at or before this instant').optional(),
  as_of: asOfArg().optional(),
  order: z.enum(['asc', 'desc']).optional().describe('"asc" (default): oldest first, by log position; "desc": newest first.'),
  include_deleted: includeDeletedArg(),
};

// ── Results ───────────────────────────────────────────────────────────────────────────────────

const jsonObjectResult = z.record(z.string(), z.unknown());

export const eventResult = z
  .object({
    id: z.string().describe('Event id (unique in the tenant).'),
    tenant_id: z.string(),
    entity_id: z.string(),
    event_type: z.string(),
    payload: jsonObjectResult,
    metadata: jsonObjectResult.nullable(),
    timestamp: z.string().describe('When the store recorded it (ISO-8601 UTC).'),
    occurred_at: z.string().describe('When it happened in the world (ISO-8601 UTC).'),
    version: z.number().int().describe("The entity's version after this event (1-based)."),
    position: z.number().int().describe('Global log position; watch_events continues after it.'),
    hash: z.string().describe('sha256 hash-chain link (hex).'),
    deleted: z.literal(true).optional().describe('Present when the event was removed with delete_events (only with include_deleted).'),
  })
  .describe('One recorded event.');

export const appendedResult = z.object({
  id: z.string(),
  entity_id: z.string(),
  event_type: z.string(),
  version: z.number().int(),
  position: z.number().int(),
  timestamp: z.string(),
  occurred_at: z.string(),
  duplicate: z.boolean().describe('True when this event_id had already been recorded with the same content: nothing new was written.'),
});

export const pageShape = {
  next_cursor: z.string().nullable().describe('Pass as cursor to get the next page; null on the last page.'),
  has_more: z.boolean(),
};

export const entityStateShape = {
  entity_id: z.string(),
  state: jsonObjectResult.nullable().describe('The merge-patch of all payloads in version order; null when the entity is deleted.'),
  version: z.number().int().describe('Version of the last event folded.'),
  event_count: z.number().int(),
  last_updated: z.string().describe('Recorded time of the last event folded (ISO-8601 UTC).'),
  deleted: z.boolean().describe('True when the last event folded has a type ending in ".deleted".'),
  as_of: z.string().nullable().describe('The instant asked for, or null for now.'),
};

export const tombstoneShape = {
  count: z.number().int().describe('How many events changed.'),
  event_ids: z.array(z.string()).describe('Their ids (at most 1000; see event_ids_truncated).'),
  event_ids_truncated: z.boolean(),
  position: z.number().int().nullable().describe('Log position of the recorded control event; null on a dry run or when nothing matched.'),
  dry_run: z.boolean(),
};

// ── Prime: arguments ──────────────────────────────────────────────────────────────────────────

/** Longest node, edge or vector id (the store entity id also holds a `prime:vector:` prefix). */
const PRIME_ID_MAX = MAX_PRIME_ID_LENGTH;

export const nodeIdArg = (what: string) =>
  z.string().min(1).max(PRIME_ID_MAX).describe(`${what} (a node id).`);

export const edgeIdArg = (what: string) =>
  z.string().min(1).max(PRIME_ID_MAX).describe(`${what} (an edge id).`);

/** Longest node type or relation name. */
export const PRIME_NAME_MAX = 200;

export const nodeTypeArg = (what: string) =>
  z.string().min(1).max(PRIME_NAME_MAX).describe(`${what}, e.g. "person"; one word per kind of thing, reused.`);

export const relationArg = (what: string) =>
  z.string().min(1).max(PRIME_NAME_MAX).describe(`${what}, e.g. "works_on" (active voice: source works_on target).`);

export const vectorArg = (what: string) =>
  z.array(z.number()).min(1).max(MAX_VECTOR_DIMS).describe(`${what}, as long as the embedder's vectors (prime_stats) or your own stored ones.`);

// ── Prime: results ────────────────────────────────────────────────────────────────────────────

export const primeNodeShape = {
  id: z.string().describe('Node id.'),
  type: z.string().describe('Node type, e.g. "person".'),
  properties: jsonObjectResult.describe('The node\'s properties: the merge of everything written to it.'),
  created_at: z.string().describe('When the node was created (ISO-8601 UTC).'),
  updated_at: z.string().describe('When it last changed (ISO-8601 UTC).'),
  version: z.number().int().describe('How many events have shaped it (1 after creation).'),
};
export const primeNodeResult = z.object(primeNodeShape).describe('A node of the knowledge graph.');

export const primeEdgeResult = z
  .object({
    id: z.string().describe('Edge id.'),
    source: z.string().describe('Node id the edge leaves.'),
    target: z.string().describe('Node id the edge enters.'),
    relation: z.string(),
    properties: jsonObjectResult,
    weight: z.number(),
    created_at: z.string().describe('When the edge was created (ISO-8601 UTC).'),
  })
  .describe('A directed, typed edge between two nodes.');

export const embedderInfoResult = z
  .object({
    name: z.string().describe('Embedder name recorded with every vector, e.g. "hash-ngram-v1".'),
    kind: z.enum(['lexical', 'semantic']).describe('"lexical": offline vectors from words and characters; "semantic": a language model\'s.'),
    dims: z.number().int(),
    source: z.string().describe('"offline", or the endpoint origin.'),
  })
  .describe('The embedder in use.');

export const vectorIndexResult = z
  .object({
    mode: z.enum(['exact', 'hnsw', 'building']).describe('"exact": brute-force scan; "hnsw": approximate index; "building": exact while the index builds.'),
    hnsw_available: z.boolean(),
    vectors: z.number().int(),
    dims: z.number().int(),
    note: z.string().describe('Why the mode is what it is.'),
  })
  .describe('How vectors are searched.');

export const scorePartsResult = z
  .object({
    semantic: z.number(),
    lexical: z.number(),
    graph: z.number(),
    recency: z.number(),
    importance: z.number(),
  })
  .describe('The contributions that add up to score (0 where that path did not find the node).');

export const retrievalResult = z.enum(['semantic', 'vector', 'lexical', 'graph', 'recency']);

export const recallHitResult = z.object({
  node: primeNodeResult,
  score: z.number().describe('Combined relevance; higher is better.'),
  score_parts: scorePartsResult,
  retrieval: z.array(retrievalResult).describe('Every path that found it, strongest first.'),
  via: z
    .object({ node_id: z.string(), relation: z.string() })
    .nullable()
    .describe('For a node found through the graph alone: the seed node it was reached from and over which relation; else null.'),
});

export const primeCountersShape = {
  nodes: z.number().int().describe('Live nodes.'),
  edges: z.number().int().describe('Live edges.'),
  events: z.number().int().describe('Prime events in the log (every change ever made, up to as_of).'),
  vectors: z.number().int().describe('Stored vectors.'),
  node_types: z.record(z.string(), z.number().int()).describe('Live nodes per type.'),
  relations: z.record(z.string(), z.number().int()).describe('Live edges per relation.'),
};

// ── Knowledge graph (reference memory server compatible) ─────────────────────────────────────

export const graphEntityResult = z.object({
  name: z.string().describe('The name of the entity'),
  entityType: z.string().describe('The type of the entity'),
  observations: z.array(z.string()).describe('An array of observation contents associated with the entity'),
});

export const graphRelationResult = z.object({
  from: z.string().describe('The name of the entity where the relation starts'),
  to: z.string().describe('The name of the entity where the relation ends'),
  relationType: z.string().describe('The type of the relation'),
});
