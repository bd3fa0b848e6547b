// The 16 Prime tools: a knowledge graph (nodes, edges), vectors and hybrid recall, all folded from
// `prime.*` events in the tenant's log, so every read can be asked as of a past instant. Names and
// arguments are AllSource Prime's, so agents and prompts written for it carry over. Each kind is
// in tools/prime/ (handlers are thin calls to PrimeService; each result is rebuilt field by field
// so a tool returns exactly what its outputSchema declares); this module keeps their order.

import type { ToolDefinition } from './types.js';
import { primeAddNode, primeUpdateNode, primeGetNode, primeForget } from './prime/nodes.js';
import { primeAddEdge, primeRemoveEdge } from './prime/edges.js';
import { primeNeighbors, primeSearch, primeShortestPath, primeSubgraph, primeHistory } from './prime/graphReads.js';
import { primeEmbed, primeSimilar, primeRecall, primeContext, primeStats } from './prime/vectors.js';

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

