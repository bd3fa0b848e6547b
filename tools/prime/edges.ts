// The Prime tools for edges: prime_add_edge and prime_remove_edge.

import { z } from 'zod';
import type { JsonObject } from '../../src/core/types.js';
import { defineTool } from '../define.js';
import { edgeIdArg, nodeIdArg, primeEdgeResult, relationArg } from '../schemas.js';

import { EDGE_NOT_FOUND_HINT, NODE_NOT_FOUND_HINT, defined, payloadArgument, edgeLine, edgeOut, lines, plural, propertiesArg, requirePrime } from './shared.js';

export const primeAddEdge = defineTool({
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
    properties: propertiesArg('Facts about the relationship itself, e.g. {"since": "2021"}.').optional(),
    weight: z.number().min(0).max(1e9).optional().describe('How strong or important the relationship is (default 1); prime_shortest_path ignores it, recall favours heavier edges.'),
  },
  outputSchema: primeEdgeResult.shape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  argumentForField: payloadArgument('properties'),
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

export const primeRemoveEdge = defineTool({
  name: 'prime_remove_edge',
  title: 'Remove an edge',
  description:
    'Remove a relationship: by edge_id, or every live edge from source to target (only those of one relation when relation is given). The nodes stay; the edge stays in prime_history and in reads with an earlier as_of. Returns the edges removed: none (count 0) when no live edge matches, e.g. on a retry after the edge went, so a retry is safe; ids this tenant never had answer not_found.',
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
