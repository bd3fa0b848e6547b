// The reference-compatible tools that read: read_graph, search_nodes and open_nodes, paged with an
// opaque cursor and readable as of an instant.

import { z } from 'zod';
import { InvalidError } from '../../src/core/errors.js';
import { defineTool } from '../define.js';
import { asOfArg, cursorArg, limitArg, pageShape } from '../schemas.js';
import { BATCH_MAX, Entity, OPEN_RELATIONS_MAX, Relation, copyEntity, entityEntry, entityNodes, relationsTouching } from './graph.js';
import { READ, graphShape, nameArg, readView, renderGraph } from './writes.js';

/**
 * A page walks one list of items, entities first and then relations, so a page is bounded however
 * many relations one entity has. The cursor is the offset into that list, bound to the tool and
 * the arguments that produced it.
 */
interface CursorState {
  t: string;
  k: string;
  o: number;
}

function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

function decodeCursor(cursor: string | undefined, tool: string, key: string): number {
  if (cursor === undefined) return 0;
  let state: unknown;
  try {
    state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    state = undefined;
  }
  const s = state as Partial<CursorState> | undefined;
  if (typeof s !== 'object' || s === null || s.t !== tool || typeof s.o !== 'number' || !Number.isSafeInteger(s.o) || s.o < 0) {
    throw new InvalidError('cursor', `is not a ${tool} cursor; pass next_cursor back unchanged`);
  }
  if (s.k !== key) throw new InvalidError('cursor', 'belongs to other arguments; pass it back with the same query and as_of');
  return s.o;
}

function page(tool: string, key: string, entities: Entity[], relations: Relation[], args: { limit?: number; cursor?: string }) {
  const offset = decodeCursor(args.cursor, tool, key);
  const limit = args.limit ?? 100;
  const total = entities.length + relations.length;
  const end = Math.min(total, offset + limit);
  const pageEntities = entities.slice(Math.min(offset, entities.length), Math.min(end, entities.length)).map(copyEntity);
  const pageRelations = relations.slice(Math.max(0, offset - entities.length), Math.max(0, end - entities.length));
  const hasMore = end < total;
  return {
    entities: pageEntities,
    relations: pageRelations,
    next_cursor: hasMore ? encodeCursor({ t: tool, k: key, o: end }) : null,
    has_more: hasMore,
  };
}

const pagedShape = {
  ...graphShape,
  ...pageShape,
};

const graphLimitArg = () => limitArg('items (entities, then relations)');

export const readGraph = defineTool({
  name: 'read_graph',
  title: 'Read Graph',
  description:
    'Read the knowledge graph: every entity (in creation order), then every relation. Paged, unlike the reference server: at most limit items per page; pass next_cursor as cursor for the next. With as_of, the graph as it was then. To find something specific, search_nodes is cheaper. prime_recall answers questions in natural language.',
  group: 'graph',
  writes: false,
  inputSchema: { limit: graphLimitArg(), cursor: cursorArg(), as_of: asOfArg().optional() },
  outputSchema: pagedShape,
  annotations: READ,
  async handler(args, ctx) {
    const view = await readView(ctx, args.as_of);
    const entities = entityNodes(view).map((e) => e.entity);
    return page('read_graph', JSON.stringify([args.as_of ?? null]), entities, relationsTouching(view), args);
  },
  render: renderGraph,
});

export const searchNodes = defineTool({
  name: 'search_nodes',
  title: 'Search Nodes',
  description:
    'Search for nodes in the knowledge graph based on a query: every entity whose name, type or an observation contains the query (case-insensitive, as the reference server does), plus entities whose text matches its words (stemmed), best match first; then the relations that touch them. Paged like read_graph. For questions in natural language prefer prime_recall, which also weighs meaning, graph links and recency.',
  group: 'graph',
  writes: false,
  inputSchema: {
    query: z.string().max(1000).describe('The search query to match against entity names, types, and observation content, e.g. "Acme" or "morning meetings"'),
    limit: graphLimitArg(),
    cursor: cursorArg(),
    as_of: asOfArg().optional(),
  },
  outputSchema: pagedShape,
  annotations: READ,
  async handler(args, ctx) {
    const view = await readView(ctx, args.as_of);
    const key = JSON.stringify([args.query, args.as_of ?? null]);
    const offset = decodeCursor(args.cursor, 'search_nodes', key);
    const limit = args.limit ?? 100;
    // Only as far down the ranking as this page reaches, plus one to tell whether more follow.
    const want = offset + limit + 1;
    const isEntity = (id: string): boolean => {
      const node = view.node(id);
      return node !== undefined && entityEntry(node) !== null;
    };
    // Word matches (BM25) first, best first: the lexical index ranks only the top `want`.
    const hits = args.query.trim().length > 0 ? view.lexical(args.query, want, isEntity) : [];
    const matched: Array<{ id: string; entity: Entity }> = hits.map((hit) => ({ id: hit.id, entity: entityEntry(view.node(hit.id)!)!.entity }));
    if (matched.length < want) {
      // Every word match is known: then the reference's substring matches, in creation order.
      // The trigram index narrows the nodes to check (for queries of three characters or more).
      const q = args.query.toLowerCase();
      const words = new Set(hits.map((hit) => hit.id));
      const candidates = view.substringCandidates(q);
      const nodes = candidates === null ? view.nodes() : candidates.map((id) => view.node(id)!);
      for (const node of nodes) {
        if (matched.length >= want) break;
        const entry = entityEntry(node);
        if (entry === null || words.has(node.id)) continue;
        if (entry.haystacks.some((text) => text.includes(q))) matched.push({ id: node.id, entity: entry.entity });
      }
    }
    if (matched.length >= want) {
      // More entities follow this page, so it holds no relations yet (they come after every entity).
      return { entities: matched.slice(offset, offset + limit).map((m) => copyEntity(m.entity)), relations: [], next_cursor: encodeCursor({ t: 'search_nodes', k: key, o: offset + limit }), has_more: true };
    }
    return page('search_nodes', key, matched.map((m) => m.entity), relationsTouching(view, new Set(matched.map((m) => m.id))), args);
  },
  render: renderGraph,
});

export const openNodes = defineTool({
  name: 'open_nodes',
  title: 'Open Nodes',
  description:
    'Open specific nodes in the knowledge graph by their names: those entities (names that do not exist are ignored) and every relation touching them, including relations to entities not asked for. With as_of, as they were at that instant.',
  group: 'graph',
  writes: false,
  inputSchema: {
    names: z.array(nameArg('An entity name')).max(BATCH_MAX).describe('An array of entity names to retrieve'),
    as_of: asOfArg().optional(),
  },
  outputSchema: {
    ...graphShape,
    truncated: z.boolean().describe(`True when more than ${OPEN_RELATIONS_MAX} relations touch them and the rest were left out (read_graph pages through all).`),
  },
  annotations: READ,
  async handler(args, ctx) {
    const view = await readView(ctx, args.as_of);
    const wanted = new Set(args.names);
    const found = entityNodes(view).filter((e) => wanted.has(e.entity.name));
    const relations = relationsTouching(view, new Set(found.map((e) => e.node.id)));
    return { entities: found.map((e) => copyEntity(e.entity)), relations: relations.slice(0, OPEN_RELATIONS_MAX), truncated: relations.length > OPEN_RELATIONS_MAX };
  },
  render: renderGraph,
});
