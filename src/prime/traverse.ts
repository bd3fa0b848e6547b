// Graph walks over a PrimeView: neighbors to a depth, the subgraph around a node, and the
// shortest path between two nodes. Breadth-first and bounded by a node limit, so no request can
// walk an arbitrarily large graph; all three are pure reads of one consistent view.

import type { Direction, NeighborHit, PrimeEdge, PrimeNode, PrimeView } from './types.js';

export function neighbors(view: PrimeView, start: string, options: { relation?: string; direction: Direction; depth: number; limit: number }): { neighbors: NeighborHit[]; truncated: boolean } {
  const seen = new Set<string>([start]);
  const hits: NeighborHit[] = [];
  let frontier = [start];
  for (let depth = 1; depth <= options.depth && frontier.length > 0; depth++) {
    const next: string[] = [];
    for (const from of frontier) {
      for (const edge of view.edgesOf(from, options.direction)) {
        if (options.relation !== undefined && edge.relation !== options.relation) continue;
        const outgoing = edge.source === from;
        const other = outgoing ? edge.target : edge.source;
        if (seen.has(other)) continue;
        const node = view.node(other);
        if (node === undefined) continue;
        if (hits.length === options.limit) return { neighbors: hits, truncated: true };
        seen.add(other);
        hits.push({ node, edge, depth, direction: outgoing ? 'out' : 'in' });
        next.push(other);
      }
    }
    frontier = next;
  }
  return { neighbors: hits, truncated: false };
}

export function subgraph(view: PrimeView, start: string, options: { depth: number; limit: number }): { nodes: PrimeNode[]; edges: PrimeEdge[]; truncated: boolean } {
  const root = view.node(start);
  if (root === undefined) return { nodes: [], edges: [], truncated: false };
  const found = neighbors(view, start, { direction: 'both', depth: options.depth, limit: options.limit - 1 });
  const nodes = [root, ...found.neighbors.map((hit) => hit.node)];
  const inside = new Set(nodes.map((node) => node.id));
  const edges: PrimeEdge[] = [];
  for (const node of nodes) for (const edge of view.edgesOf(node.id, 'out')) if (inside.has(edge.target)) edges.push(edge);
  return { nodes, edges, truncated: found.truncated };
}

/** Most nodes a shortest-path search visits before giving up. */
export const MAX_PATH_VISITS = 200_000;

/**
 * Fewest hops from `from` to `to`, following edges in either direction (a knowledge graph's
 * "Ada works at Acme" links Acme back to Ada too); edges in the answer keep their own direction.
 */
export function shortestPath(view: PrimeView, from: string, to: string, relation?: string): { found: boolean; nodes: PrimeNode[]; edges: PrimeEdge[] } {
  const start = view.node(from);
  if (start === undefined || view.node(to) === undefined) return { found: false, nodes: [], edges: [] };
  if (from === to) return { found: true, nodes: [start], edges: [] };
  const cameBy = new Map<string, PrimeEdge | null>([[from, null]]);
  let frontier = [from];
  while (frontier.length > 0 && cameBy.size < MAX_PATH_VISITS) {
    const next: string[] = [];
    for (const at of frontier) {
      for (const edge of view.edgesOf(at, 'both')) {
        if (relation !== undefined && edge.relation !== relation) continue;
        const other = edge.source === at ? edge.target : edge.source;
        if (cameBy.has(other)) continue;
        cameBy.set(other, edge);
        if (other === to) return walkBack(view, cameBy, to);
        next.push(other);
      }
    }
    frontier = next;
  }
  return { found: false, nodes: [], edges: [] };
}

function walkBack(view: PrimeView, cameBy: Map<string, PrimeEdge | null>, to: string): { found: boolean; nodes: PrimeNode[]; edges: PrimeEdge[] } {
  const nodes: PrimeNode[] = [];
  const edges: PrimeEdge[] = [];
  let at: string | undefined = to;
  while (at !== undefined) {
    nodes.push(view.node(at) as PrimeNode);
    const edge = cameBy.get(at);
    if (edge === null || edge === undefined) break;
    edges.push(edge);
    at = edge.source === at ? edge.target : edge.source;
  }
  return { found: true, nodes: nodes.reverse(), edges: edges.reverse() };
}
