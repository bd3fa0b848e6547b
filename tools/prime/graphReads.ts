// The Prime tools that read the graph: prime_neighbors, prime_search, prime_shortest_path,
// prime_subgraph and prime_history.

import { z } from 'zod';
import type { JsonObject } from '../../src/core/types.js';
import type { NeighborHit } from '../../src/prime/types.js';
import { defineTool } from '../define.js';
import { asOfArg, eventResult, jsonObject, nodeIdArg, nodeTypeArg, primeEdgeResult, primeNodeResult, relationArg } from '../schemas.js';

import { NODE_NOT_FOUND_HINT, READ, asOfNote, defined, depthArg, edgeLine, edgeOut, label, lines, nodeLine, nodeOut, oneLine, plural, requirePrime } from './shared.js';

const neighborResult = z.object({
  node: primeNodeResult,
  edge: primeEdgeResult.describe('The edge that reached it from the previous hop.'),
  depth: z.number().int().describe('Hops from the start node (1 = adjacent).'),
  direction: z.enum(['out', 'in']).describe('"out" when the edge leaves the previous hop, "in" when it enters it.'),
});

export const primeNeighbors = defineTool({
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

export const primeSearch = defineTool({
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

export const primeShortestPath = defineTool({
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

export const primeSubgraph = defineTool({
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


export const primeHistory = defineTool({
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
