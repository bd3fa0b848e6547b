// The 9 knowledge-graph tools of the reference MCP memory server (@modelcontextprotocol/server-memory),
// with its names, argument and result shapes, duplicate handling and errors, so a client written
// for it works unchanged, on Prime: an entity is a node (type = entityType, properties
// {name, observations}) and a relation is an edge between named nodes. What they write is
// therefore found by prime_recall too. Unlike the reference: batch writes are one atomic append,
// reads are paged (read_graph, search_nodes), search is ranked, and every read takes as_of. The
// tools are in tools/memory/ (graph model, writes, reads); this module keeps the reference's order.

import type { ToolDefinition } from './types.js';
import { createEntities, createRelations, addObservations, deleteEntities, deleteObservations, deleteRelations } from './memory/writes.js';
import { readGraph, searchNodes, openNodes } from './memory/reads.js';

/** The knowledge-graph tools, in the reference server's order. */
export const MEMORY_TOOLS: readonly ToolDefinition[] = [
  createEntities,
  createRelations,
  addObservations,
  deleteEntities,
  deleteObservations,
  deleteRelations,
  readGraph,
  searchNodes,
  openNodes,
];
