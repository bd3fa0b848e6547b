// The 16 Prime tools: a knowledge graph (nodes, edges), vectors and hybrid recall, all folded from
// `prime.*` events in the tenant's log, so every read can be asked as of a past instant. Names and
// arguments are AllSource Prime's, so agents and prompts written for it carry over. Handlers are
// thin calls to PrimeService; each result is rebuilt field by field so a tool returns exactly
// what its outputSchema declares.

import { z } from 'zod';
import { AllSourceError } from '../src/core/errors.js';
import type { JsonObject } from '../src/core/types.js';
import type { EmbedderInfo, NeighborHit, PrimeEdge, PrimeNode, PrimeService, RecallHit, VectorIndexStatus } from '../src/prime/types.js';
import { defineTool } from './define.js';
import type { ToolContext, ToolDefinition } from './types.js';
import {
  asOfArg,
  edgeIdArg,
  embedderInfoResult,
  eventResult,
  instantArg,
  jsonObject,
  jsonObjectArg,
  nodeIdArg,
  nodeTypeArg,
  primeCountersShape,
  primeEdgeResult,
  primeNodeResult,
  primeNodeShape,
  recallHitResult,
  relationArg,
  vectorArg,
  vectorIndexResult,
} from './schemas.js';

// ── Shared helpers ────────────────────────────────────────────────────────────────────────────

const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/** The service, or `unavailable` for a server built without Prime. */
export function requirePrime(ctx: ToolContext): PrimeService {
  if (ctx.prime === undefined) throw new AllSourceError('unavailable', 'Prime is not available on this server');
  return ctx.prime;
}

/** Drops undefined members, so the service's option checks only see what was given. */
function defined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}

// Results are rebuilt field by field: the declared schema is the contract, whatever else a
// service object carries.
export function nodeOut(n: PrimeNode): PrimeNode {
  return { id: n.id, type: n.type, properties: n.properties, created_at: n.created_at, updated_at: n.updated_at, version: n.version };
}

function edgeOut(e: PrimeEdge): PrimeEdge {
  return { id: e.id, source: e.source, target: e.target, relation: e.relation, properties: e.properties, weight: e.weight, created_at: e.created_at };
}

function embedderOut(e: EmbedderInfo): EmbedderInfo {
  return { name: e.name, kind: e.kind, dims: e.dims, source: e.source };
}

function vectorIndexOut(v: VectorIndexStatus): VectorIndexStatus {
  return { mode: v.mode, hnsw_available: v.hnsw_available, vectors: v.vectors, dims: v.dims, note: v.note };
}

function recallHitOut(h: RecallHit) {
  const p = h.score_parts;
  return {
    node: nodeOut(h.node),
    score: h.score,
    score_parts: { semantic: p.semantic, lexical: p.lexical, graph: p.graph, recency: p.recency, importance: p.importance },
    retrieval: [...h.retrieval],
    via: h.via ? { node_id: h.via.node_id, relation: h.via.relation } : null,
  };
}

const oneLine = (text: string, max = 120): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** A node or edge as a result carries it (properties are plain JSON). */
type NodeView = z.output<typeof primeNodeResult>;
type EdgeView = z.output<typeof primeEdgeResult>;

/** What a person calls a node: its name (or title), else its id. */
function label(n: NodeView): string {
  const p = n.properties;
  const name = typeof p.name === 'string' ? p.name : typeof p.title === 'string' ? p.title : undefined;
  return name === undefined ? n.id : `${oneLine(name, 60)} (${n.id})`;
}

function nodeLine(n: NodeView): string {
  return `${n.type} ${label(n)} v${n.version}: ${oneLine(JSON.stringify(n.properties), 200)}`;
}

function edgeLine(e: EdgeView): string {
  return `${e.source} -[${e.relation}${e.weight !== 1 ? ` ${e.weight}` : ''}]-> ${e.target} (edge ${e.id})`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const asOfNote = (asOf: string | null | undefined): string => (asOf ? ` as of ${asOf}` : '');

/** Lists the first items one per line, saying how many more structuredContent holds. */
function lines<T>(header: string, items: readonly T[], line: (item: T) => string, shown = 20): string {
  const out = [header, ...items.slice(0, shown).map(line)];
  if (items.length > shown) out.push(`… ${items.length - shown} more in structuredContent`);
  return out.join('\n');
}

const NODE_NOT_FOUND_HINT = 'prime_search or prime_recall find node ids (an as_of before the node existed, or after prime_forget, also answers not_found)';
const EDGE_NOT_FOUND_HINT = 'prime_neighbors lists a node\'s edges with their ids';

const propertiesArg = (what: string) =>
  jsonObjectArg(
    `${what} A JSON object, e.g. {"name": "Ada Lovelace", "role": "engineer", "observations": ["prefers email"]}. String values (name, title, text, description, observations first) are what recall searches.`,
  );

const topKArg = (what: string, max = 100, def = 10) => z.number().int().min(1).max(max).optional().describe(`How many ${what} to return (1-${max}, default ${def}).`);

const depthArg = (what: string, max = 5, def = 1) => z.number().int().min(1).max(max).optional().describe(`${what} (1-${max}, default ${def}).`);

const nodeResultShape = primeNodeShape;

/** Longest text to embed or recall by, in characters (the service's limit). */
const TEXT_MAX = 32_000;

// ── Nodes ─────────────────────────────────────────────────────────────────────────────────────

const primeAddNode = defineTool({
  name: 'prime_add_node',
  title: 'Add a node',
  description:
    'Create a node in the knowledge graph: a person, project, concept, preference, anything worth remembering as a thing. Give it a type and properties (a "name" lets the graph tools find it by name; string properties are indexed for prime_recall and prime_search at once). Returns the node with its id; use the id with prime_add_edge, prime_update_node, prime_neighbors. Check with prime_recall or prime_search first to avoid creating the same thing twice.',
  group: 'prime',
  writes: true,
  inputSchema: {
    type: nodeTypeArg('What kind of thing the node is'),
    properties: propertiesArg('What is known about it. Optional (default {}).').optional(),
  },
  outputSchema: nodeResultShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx) {
    return nodeOut(await requirePrime(ctx).addNode(ctx.tenant, defined({ type: args.type, properties: args.properties as JsonObject | undefined })));
  },
  render: (r) => `Added ${r.type} ${label(r)}.`,
});

const primeUpdateNode = defineTool({
  name: 'prime_update_node',
  title: 'Update a node',
  description:
    'Change a node\'s properties with a JSON merge patch: keys you give are set (nested objects merge), a key set to null is removed, keys you leave out stay as they are; arrays are replaced whole. The earlier state stays readable with prime_get_node as_of, and prime_history shows every change. Returns the updated node.',
  group: 'prime',
  writes: true,
  inputSchema: {
    node_id: nodeIdArg('The node to change'),
    properties: propertiesArg('The merge patch, e.g. {"role": "manager", "nickname": null} sets role and removes nickname.'),
  },
  outputSchema: nodeResultShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    return nodeOut(await requirePrime(ctx).updateNode(ctx.tenant, { node_id: args.node_id, properties: args.properties as JsonObject }));
  },
  render: (r) => `Updated ${r.type} ${label(r)}: now version ${r.version}.`,
});

const primeGetNode = defineTool({
  name: 'prime_get_node',
  title: 'Get a node',
  description:
    'Read one node by id: its type, properties, version and when it was created and last changed. With as_of, the node as it was at that instant (what the memory knew then).',
  group: 'prime',
  writes: false,
  inputSchema: {
    node_id: nodeIdArg('The node'),
    as_of: asOfArg().optional(),
  },
  outputSchema: { ...nodeResultShape, as_of: z.string().nullable().describe('The instant asked for, or null for now.') },
  annotations: READ,
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const node = await requirePrime(ctx).getNode(ctx.tenant, defined({ node_id: args.node_id, as_of: args.as_of }));
    return { ...nodeOut(node), as_of: args.as_of ?? null };
  },
  render: (r) => `${nodeLine(r)}${asOfNote(r.as_of)}`,
});

const primeForget = defineTool({
  name: 'prime_forget',
  title: 'Forget a node',
  description:
    'Soft-delete a node: it, its edges and its vectors leave the graph, search and recall. Nothing is erased: prime_history still shows it and reads with an earlier as_of still see it. Use when something is wrong or the user asks to forget it. Returns how many edges and vectors went with it.',
  group: 'prime',
  writes: true,
  inputSchema: {
    node_id: nodeIdArg('The node to forget'),
    reason: z.string().min(1).max(1000).optional().describe('Why, recorded in the log, e.g. "user asked to forget their old address". Optional.'),
  },
  outputSchema: {
    node_id: z.string(),
    edges_removed: z.number().int().describe('Edges that touched the node and were removed with it.'),
    vectors_removed: z.number().int().describe('Vectors of the node removed with it.'),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const r = await requirePrime(ctx).forget(ctx.tenant, defined({ node_id: args.node_id, reason: args.reason }));
    return { node_id: r.node_id, edges_removed: r.edges_removed, vectors_removed: r.vectors_removed };
  },
  render: (r) => `Forgot node ${r.node_id} with ${plural(r.edges_removed, 'edge')} and ${plural(r.vectors_removed, 'vector')}; prime_history still shows it.`,
});

// ── Edges ─────────────────────────────────────────────────────────────────────────────────────

const primeAddEdge = defineTool({
  name: 'prime_add_edge',
  title: 'Connect two nodes',
  description:
    'Record a directed relationship between two existing nodes, read "source relation target" (e.g. Ada works_on Analytical Engine). Both nodes must exist (prime_add_node creates them). Edges are what prime_neighbors, prime_shortest_path, prime_subgraph and the graph part of prime_recall follow. Returns the edge with its id.',
  group: 'prime',
  writes: true,
  inputSchema: {
    source: nodeIdArg('The node the relationship starts from'),
    target: nodeIdArg('The node it points to'),
    relation: relationArg('What the relationship is'),
    properties: propertiesArg('Facts about the relationship itself, e.g. {"since": "2021"}. Optional (default {}).').optional(),
    weight: z.number().min(0).max(1e9).optional().describe('How strong or important the relationship is (default 1); prime_shortest_path ignores it, recall favours heavier edges.'),
  },
  outputSchema: primeEdgeResult.shape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const edge = await requirePrime(ctx).addEdge(
      ctx.tenant,
      defined({ source: args.source, target: args.target, relation: args.relation, properties: args.properties as JsonObject | undefined, weight: args.weight }),
    );
    return edgeOut(edge);
  },
  render: (r) => `Added ${edgeLine(r)}.`,
});

const primeRemoveEdge = defineTool({
  name: 'prime_remove_edge',
  title: 'Remove an edge',
  description:
    'Remove a relationship: by edge_id, or every live edge from source to target (only those of one relation when relation is given). The nodes stay; the edge stays in prime_history and in reads with an earlier as_of. Returns the edges removed.',
  group: 'prime',
  writes: true,
  inputSchema: {
    edge_id: edgeIdArg('The edge to remove').optional(),
    source: nodeIdArg('Instead of edge_id: the node the edge starts from').optional(),
    target: nodeIdArg('Instead of edge_id: the node the edge points to').optional(),
    relation: relationArg('With source and target: remove only edges of this relation (default: every relation between them)').optional(),
  },
  outputSchema: {
    removed: z.array(primeEdgeResult).describe('The edges removed.'),
    count: z.number().int(),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  hints: { not_found: EDGE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const { removed } = await requirePrime(ctx).removeEdge(ctx.tenant, defined({ edge_id: args.edge_id, source: args.source, target: args.target, relation: args.relation }));
    return { removed: removed.map(edgeOut), count: removed.length };
  },
  render: (r) => (r.count === 0 ? 'No edge matched; nothing removed.' : lines(`Removed ${plural(r.count, 'edge')}:`, r.removed, edgeLine)),
});

// ── Graph reads ───────────────────────────────────────────────────────────────────────────────

const neighborResult = z.object({
  node: primeNodeResult,
  edge: primeEdgeResult.describe('The edge that reached it from the previous hop.'),
  depth: z.number().int().describe('Hops from the start node (1 = adjacent).'),
  direction: z.enum(['out', 'in']).describe('"out" when the edge leaves the previous hop, "in" when it enters it.'),
});

const primeNeighbors = defineTool({
  name: 'prime_neighbors',
  title: 'Neighbors of a node',
  description:
    'Walk the graph from a node: the nodes connected to it, each with the edge that reached it, its depth (hops) and direction. Filter by relation and direction; depth > 1 follows edges breadth-first. Use it to answer "what do we know connected to X?". For the whole neighbourhood as nodes + edges use prime_subgraph.',
  group: 'prime',
  writes: false,
  inputSchema: {
    node_id: nodeIdArg('The start node'),
    relation: relationArg('Only follow edges with this relation').optional(),
    direction: z.enum(['out', 'in', 'both']).optional().describe('"out": edges leaving the node; "in": edges entering it; "both" (default).'),
    depth: depthArg('How many hops to walk'),
    limit: z.number().int().min(1).max(1000).optional().describe('At most this many neighbors (1-1000, default 100); truncated says when more exist.'),
    as_of: asOfArg().optional(),
  },
  outputSchema: {
    node_id: z.string(),
    neighbors: z.array(neighborResult),
    truncated: z.boolean().describe('True when limit cut the list.'),
  },
  annotations: READ,
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const r = await requirePrime(ctx).neighbors(ctx.tenant, defined({ ...args }));
    return {
      node_id: r.node_id,
      neighbors: r.neighbors.map((h: NeighborHit) => ({ node: nodeOut(h.node), edge: edgeOut(h.edge), depth: h.depth, direction: h.direction })),
      truncated: r.truncated,
    };
  },
  render: (r, args) =>
    lines(
      `${plural(r.neighbors.length, 'neighbor')} of ${r.node_id}${asOfNote(args.as_of)}${r.truncated ? ' (truncated: raise limit)' : ''}:`,
      r.neighbors,
      (h) => `${'  '.repeat(h.depth - 1)}${h.direction === 'out' ? '->' : '<-'} [${h.edge.relation}] ${h.node.type} ${label(h.node)}`,
    ),
});

const primeSearch = defineTool({
  name: 'prime_search',
  title: 'Search nodes',
  description:
    'Find nodes by exact criteria: their type, property values (all must be equal), and/or words in their text (BM25, best first). Cheap and precise: use it to list every "project", or the person whose email is X. For "anything related to X" in natural language use prime_recall, which also follows the graph; for nearest vectors use prime_similar.',
  group: 'prime',
  writes: false,
  inputSchema: {
    type: nodeTypeArg('Only nodes of this type').optional(),
    text: z.string().min(1).max(1000).optional().describe('Words to look for in node text (case-insensitive, stemmed), e.g. "analytical engine". Results are ranked by relevance.'),
    properties: jsonObject()
      .optional()
      .describe('Only nodes whose properties have these values, e.g. {"email": "ada@example.com"}; all must be equal.'),
    limit: z.number().int().min(1).max(1000).optional().describe('At most this many nodes (1-1000, default 20).'),
    as_of: asOfArg().optional(),
  },
  outputSchema: {
    nodes: z.array(primeNodeResult.extend({ score: z.number().nullable().describe('Text relevance (BM25) when text was given; else null.') })),
    count: z.number().int(),
  },
  annotations: READ,
  async handler(args, ctx) {
    const { nodes } = await requirePrime(ctx).search(
      ctx.tenant,
      defined({ type: args.type, text: args.text, properties: args.properties as JsonObject | undefined, limit: args.limit, as_of: args.as_of }),
    );
    return { nodes: nodes.map((n) => ({ ...nodeOut(n), score: n.score })), count: nodes.length };
  },
  render: (r, args) => lines(`${plural(r.count, 'node')}${asOfNote(args.as_of)}:`, r.nodes, (n) => `${n.score === null ? '' : `${n.score.toFixed(2)} `}${nodeLine(n)}`),
});

const primeShortestPath = defineTool({
  name: 'prime_shortest_path',
  title: 'How two nodes are connected',
  description:
    'The shortest chain of edges linking two nodes (in either direction), optionally over one relation only: answers "how is X related to Y?". Returns the nodes and edges along the path, or found: false.',
  group: 'prime',
  writes: false,
  inputSchema: {
    from: nodeIdArg('The start node'),
    to: nodeIdArg('The end node'),
    relation: relationArg('Only follow edges with this relation').optional(),
    as_of: asOfArg().optional(),
  },
  outputSchema: {
    found: z.boolean(),
    length: z.number().int().nullable().describe('Edges on the path; null when not found.'),
    nodes: z.array(primeNodeResult).describe('From start to end.'),
    edges: z.array(primeEdgeResult).describe('In path order; edges[i] links nodes[i] and nodes[i+1].'),
  },
  annotations: READ,
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const r = await requirePrime(ctx).shortestPath(ctx.tenant, defined({ ...args }));
    return { found: r.found, length: r.length, nodes: r.nodes.map(nodeOut), edges: r.edges.map(edgeOut) };
  },
  render: (r, args) => {
    if (!r.found) return `No path from ${args.from} to ${args.to}${args.relation ? ` over ${args.relation}` : ''}${asOfNote(args.as_of)}.`;
    const parts = [label(r.nodes[0])];
    r.edges.forEach((e, i) => {
      const next = r.nodes[i + 1];
      parts.push(`${e.source === next?.id ? '<-' : '-'}[${e.relation}]${e.source === next?.id ? '-' : '->'} ${next ? label(next) : e.target}`);
    });
    return `Path of ${plural(r.length ?? 0, 'edge')}: ${parts.join(' ')}`;
  },
});

const primeSubgraph = defineTool({
  name: 'prime_subgraph',
  title: 'Subgraph around a node',
  description:
    'The neighbourhood of a node as a graph: every node within depth hops (either direction) and every edge among them. Use it to load the context around one thing at once; for a list of neighbors with how each was reached use prime_neighbors.',
  group: 'prime',
  writes: false,
  inputSchema: {
    node_id: nodeIdArg('The center node'),
    depth: z.number().int().min(0).max(5).optional().describe('How many hops from the center (0-5, default 1; 0 is the node alone).'),
    limit: z.number().int().min(1).max(1000).optional().describe('At most this many nodes (1-1000, default 200); truncated says when more exist.'),
    as_of: asOfArg().optional(),
  },
  outputSchema: {
    nodes: z.array(primeNodeResult),
    edges: z.array(primeEdgeResult),
    truncated: z.boolean().describe('True when limit cut the subgraph.'),
  },
  annotations: READ,
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const r = await requirePrime(ctx).subgraph(ctx.tenant, defined({ ...args }));
    return { nodes: r.nodes.map(nodeOut), edges: r.edges.map(edgeOut), truncated: r.truncated };
  },
  render: (r, args) =>
    [
      `Subgraph around ${args.node_id}${asOfNote(args.as_of)}: ${plural(r.nodes.length, 'node')}, ${plural(r.edges.length, 'edge')}${r.truncated ? ' (truncated: raise limit)' : ''}.`,
      ...r.nodes.slice(0, 20).map(nodeLine),
      ...r.edges.slice(0, 20).map(edgeLine),
    ].join('\n'),
});

const HISTORY_MAX = 1000;


const primeHistory = defineTool({
  name: 'prime_history',
  title: 'History of a node',
  description:
    'The audit trail of a node: every event that touched it (created, updated, forgotten; its edges added and removed; its vectors stored), oldest first, with when each was recorded. Use it to answer "when did we learn that?" or "what did this say before?". At most limit events, the most recent; pass as_of to look further back.',
  group: 'prime',
  writes: false,
  inputSchema: {
    node_id: nodeIdArg('The node (a forgotten node still has its history)'),
    limit: z.number().int().min(1).max(HISTORY_MAX).optional().describe(`At most this many events, the most recent (1-${HISTORY_MAX}, default 100).`),
    as_of: asOfArg().optional(),
  },
  outputSchema: {
    node_id: z.string(),
    events: z.array(eventResult).describe('Oldest first.'),
    count: z.number().int().describe('Events returned.'),
    truncated: z.boolean().describe('True when older events were left out (see limit and as_of).'),
  },
  annotations: READ,
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const h = await requirePrime(ctx).history(ctx.tenant, defined({ node_id: args.node_id, as_of: args.as_of }));
    const limit = args.limit ?? 100;
    const events = h.events.slice(Math.max(0, h.events.length - limit)).map((e) => ({ ...e }));
    return { node_id: h.node_id, events, count: events.length, truncated: h.events.length > events.length };
  },
  render: (r, args) =>
    lines(
      `${plural(r.count, 'event')} touched ${r.node_id}${asOfNote(args.as_of)}${r.truncated ? ' (older ones left out)' : ''}:`,
      r.events,
      (e) => `${e.timestamp} ${e.event_type} ${e.entity_id} ${oneLine(JSON.stringify(e.payload), 160)}`,
      50,
    ),
});

// ── Vectors and recall ────────────────────────────────────────────────────────────────────────

const primeEmbed = defineTool({
  name: 'prime_embed',
  title: 'Store a vector',
  description:
    'Store an embedding under an id: give text (embedded with the server\'s embedder) or your own vector. When id is a node id the vector belongs to that node and goes with it on prime_forget; any other id stores a free-standing vector with its metadata. Storing again under the same id replaces it. Nodes are already embedded from their text, so this is for extra or custom vectors; prime_similar searches them.',
  group: 'prime',
  writes: true,
  inputSchema: {
    id: z.string().min(1).max(200).describe('The vector id: a node id to attach it to that node, or any stable id, e.g. "doc-42".'),
    text: z.string().min(1).max(TEXT_MAX).optional().describe('Text to embed with the server\'s embedder. Give text or vector.'),
    vector: vectorArg('Your own embedding instead of text').optional(),
    metadata: jsonObject().optional().describe('Facts stored with the vector and returned by prime_similar, e.g. {"source": "meeting-notes"}. Optional.'),
  },
  outputSchema: {
    id: z.string(),
    dims: z.number().int(),
    embedder: z.string().describe('The vector space it went into: the embedder\'s name for text, "custom-<dims>" for a vector you supplied.'),
    node_id: z.string().nullable().describe('The node the vector belongs to, or null.'),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const r = await requirePrime(ctx).embed(ctx.tenant, defined({ id: args.id, text: args.text, vector: args.vector, metadata: args.metadata as JsonObject | undefined }));
    return { id: r.id, dims: r.dims, embedder: r.embedder, node_id: r.node_id };
  },
  render: (r) => `Stored a ${r.dims}-dimension vector ${r.id} (${r.embedder})${r.node_id ? ` for node ${r.node_id}` : ''}.`,
});

const primeSimilar = defineTool({
  name: 'prime_similar',
  title: 'Nearest vectors',
  description:
    'The stored vectors closest to a query (cosine similarity), with their node when they belong to one: give the id of a stored vector or node ("more like this"), or text, or a vector. Pure vector search; for the best answer to a question use prime_recall, which also weighs words, graph links and recency.',
  group: 'prime',
  writes: false,
  inputSchema: {
    id: z.string().min(1).max(200).optional().describe('Find vectors like this stored vector (or node). Give id, text or vector.'),
    text: z.string().min(1).max(TEXT_MAX).optional().describe('Find vectors like this text\'s embedding.'),
    vector: vectorArg('Find vectors like this one').optional(),
    top_k: topKArg('results'),
    as_of: asOfArg().optional(),
  },
  outputSchema: {
    results: z.array(
      z.object({
        id: z.string().describe('The vector id.'),
        score: z.number().describe('Cosine similarity, -1 to 1; higher is closer.'),
        node: primeNodeResult.nullable().describe('The live node the vector belongs to, or null.'),
        metadata: z.record(z.string(), z.unknown()),
      }),
    ),
    embedder: embedderInfoResult,
    vector_index: vectorIndexResult,
  },
  annotations: READ,
  hints: { not_found: 'prime_embed stores vectors; node ids come from prime_search or prime_recall' },
  async handler(args, ctx) {
    const r = await requirePrime(ctx).similar(ctx.tenant, defined({ ...args }));
    return {
      results: r.results.map((h) => ({ id: h.id, score: h.score, node: h.node ? nodeOut(h.node) : null, metadata: h.metadata })),
      embedder: embedderOut(r.embedder),
      vector_index: vectorIndexOut(r.vector_index),
    };
  },
  render: (r, args) =>
    lines(
      `${plural(r.results.length, 'similar vector')}${asOfNote(args.as_of)} (${r.embedder.name}, ${r.vector_index.mode}):`,
      r.results,
      (h) => `${h.score.toFixed(3)} ${h.node ? nodeLine(h.node) : `${h.id} ${oneLine(JSON.stringify(h.metadata))}`}`,
    ),
});

const primeRecall = defineTool({
  name: 'prime_recall',
  title: 'Recall memories',
  description:
    'The main way to remember: hybrid retrieval of the nodes most relevant to a question or topic. Combines vector similarity, word matches (BM25), graph links from the best hits, recency and importance into one score, and says for each result how it was found (retrieval: semantic, lexical, graph, recency) and the parts of its score, plus which embedder is in use. Filter by node type and by when nodes changed (since, until), or recall as of a past instant. For exact criteria use prime_search; for a ready-to-read summary use prime_context.',
  group: 'prime',
  writes: false,
  inputSchema: {
    text: z.string().min(1).max(TEXT_MAX).optional().describe('The question or topic in natural language, e.g. "what does Ada prefer for meetings?". Give text or vector.'),
    vector: vectorArg('A query embedding instead of text').optional(),
    node_type: nodeTypeArg('Only nodes of this type').optional(),
    depth: z.number().int().min(0).max(3).optional().describe('How many graph hops to expand from the best hits (0-3, default 1; 0 turns graph expansion off).'),
    top_k: topKArg('results'),
    since: instantArg('Only nodes changed at or after this instant').optional(),
    until: instantArg('Only nodes changed at or before this instant').optional(),
    as_of: asOfArg().optional(),
  },
  outputSchema: {
    results: z.array(recallHitResult).describe('Best first.'),
    embedder: embedderInfoResult,
    vector_index: vectorIndexResult,
  },
  annotations: READ,
  async handler(args, ctx) {
    const r = await requirePrime(ctx).recall(ctx.tenant, defined({ ...args }));
    return { results: r.results.map(recallHitOut), embedder: embedderOut(r.embedder), vector_index: vectorIndexOut(r.vector_index) };
  },
  render: (r, args) =>
    lines(
      `${plural(r.results.length, 'memory', 'memories')}${asOfNote(args.as_of)} (embedder ${r.embedder.name}, ${r.embedder.kind}):`,
      r.results,
      (h) => `${h.score.toFixed(3)} [${h.retrieval.join('+')}] ${h.node.type} ${label(h.node)}${h.via ? ` via ${h.via.relation} from ${h.via.node_id}` : ''}`,
    ),
});

const primeContext = defineTool({
  name: 'prime_context',
  title: 'Context pack',
  description:
    'A compact markdown briefing of what the memory knows about a query, ready to read or to put in a prompt: the most relevant nodes (found as prime_recall finds them) with their key facts and relationships, cut to a token budget. Use it at the start of a task or conversation; use prime_recall when you need the structured results.',
  group: 'prime',
  writes: false,
  inputSchema: {
    query: z.string().min(1).max(TEXT_MAX).describe('What the context is for, e.g. "planning Ada\'s onboarding".'),
    top_k: topKArg('memories', 50, 10),
    max_tokens: z.number().int().min(64).max(100_000).optional().describe('Token budget of the markdown (about 4 characters each; 64-100000, default 2000).'),
    as_of: asOfArg().optional(),
  },
  outputSchema: {
    context: z.string().describe('The markdown context pack.'),
    tokens: z.number().int().describe('Its estimated size in tokens.'),
    memories: z.number().int().describe('How many nodes it covers.'),
    truncated: z.boolean().describe('True when the budget cut it short.'),
  },
  annotations: READ,
  async handler(args, ctx) {
    const r = await requirePrime(ctx).context(ctx.tenant, defined({ ...args }));
    return { context: r.context, tokens: r.tokens, memories: r.memories, truncated: r.truncated };
  },
  render: (r) => r.context,
});

const primeStats = defineTool({
  name: 'prime_stats',
  title: 'Knowledge graph statistics',
  description:
    'How much the memory knows: live nodes and edges (by type and relation), stored vectors and Prime events, the embedder in use and how vectors are searched. With as_of, the counts at that instant.',
  group: 'prime',
  writes: false,
  inputSchema: { as_of: asOfArg().optional() },
  outputSchema: {
    tenant: z.string(),
    as_of: z.string().nullable().describe('The instant asked for, or null for now.'),
    ...primeCountersShape,
    embedder: embedderInfoResult,
    vector_index: vectorIndexResult,
    cache: z
      .object({
        warm: z.boolean().describe('Served from the in-memory projection (false: rebuilt from the log for this read).'),
        tenants_warm: z.number().int().nullable().describe('Tenants whose projections are in memory in this process (null on a hosted server: other tenants are not yours to count).'),
      })
      .describe('The projection cache.'),
  },
  annotations: READ,
  async handler(args, ctx) {
    const s = await requirePrime(ctx).stats(ctx.tenant, defined({ as_of: args.as_of }));
    return {
      tenant: s.tenant,
      as_of: s.as_of,
      nodes: s.nodes,
      edges: s.edges,
      events: s.events,
      vectors: s.vectors,
      node_types: { ...s.node_types },
      relations: { ...s.relations },
      embedder: embedderOut(s.embedder),
      vector_index: vectorIndexOut(s.vector_index),
      cache: { warm: s.cache.warm, tenants_warm: ctx.mode === 'hosted' ? null : s.cache.tenants_warm },
    };
  },
  render: (r) => {
    const types = Object.entries(r.node_types)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    return `${plural(r.nodes, 'node')}${types ? ` (${types})` : ''}, ${plural(r.edges, 'edge')}, ${plural(r.vectors, 'vector')}, ${plural(r.events, 'event')}${asOfNote(r.as_of)}; embedder ${r.embedder.name} (${r.embedder.kind}); vectors ${r.vector_index.mode}.`;
  },
});

/** The Prime tools, in the order tools/list shows them. */
export const PRIME_TOOLS: readonly ToolDefinition[] = [
  primeAddNode,
  primeUpdateNode,
  primeGetNode,
  primeForget,
  primeAddEdge,
  primeRemoveEdge,
  primeNeighbors,
  primeSearch,
  primeShortestPath,
  primeSubgraph,
  primeHistory,
  primeEmbed,
  primeSimilar,
  primeRecall,
  primeContext,
  primeStats,
];
