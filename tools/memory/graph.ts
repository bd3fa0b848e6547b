// The graph as the reference memory server sees it: entities (named nodes) and relations (edges
// between them), read from a Prime view.

import type { PrimeEdge, PrimeNode, PrimeView } from '../../src/prime/types.js';

export interface Entity {
  name: string;
  entityType: string;
  observations: string[];
}

export interface Relation {
  from: string;
  to: string;
  relationType: string;
}

/** Longest name, type or relation type; an entity name is also a node property recall indexes. */
export const NAME_MAX = 1000;
/** Longest observation, in characters. */
export const OBSERVATION_MAX = 16_000;
/** Most items per write call (each becomes at least one event of one atomic append). */
export const BATCH_MAX = 1000;
/** Most relations open_nodes returns. */
export const OPEN_RELATIONS_MAX = 1000;

/** An entity as read, and the lower-cased text the reference's substring search looks through. */
interface EntityEntry {
  entity: Entity;
  haystacks: string[];
}

/**
 * Node objects are immutable (an update makes a new one), so what is derived from one can be kept
 * with it: search_nodes and read_graph then do not rebuild 10,000 entities on every call.
 */
const entityCache = new WeakMap<PrimeNode, EntityEntry | null>();

export function entityEntry(node: PrimeNode): EntityEntry | null {
  let entry = entityCache.get(node);
  if (entry === undefined) {
    const name = node.properties.name;
    if (typeof name !== 'string' || name.length === 0) entry = null;
    else {
      const entity = { name, entityType: node.type, observations: observationsOf(node) };
      entry = { entity, haystacks: [name, node.type, ...entity.observations].map((text) => text.toLowerCase()) };
    }
    entityCache.set(node, entry);
  }
  return entry;
}

export function observationsOf(node: PrimeNode): string[] {
  const raw = node.properties.observations;
  return Array.isArray(raw) ? raw.filter((o): o is string => typeof o === 'string') : [];
}

/** A relation is a live edge between two entities. */
export function relationOf(view: PrimeView, edge: PrimeEdge): Relation | undefined {
  const from = view.node(edge.source);
  const to = view.node(edge.target);
  const fromName = from?.properties.name;
  const toName = to?.properties.name;
  if (typeof fromName !== 'string' || fromName.length === 0 || typeof toName !== 'string' || toName.length === 0) return undefined;
  return { from: fromName, to: toName, relationType: edge.relation };
}

/** Every live entity node, in creation order. The entities are shared (cached): copy before handing one out. */
export function entityNodes(view: PrimeView): Array<{ node: PrimeNode; entity: Entity }> {
  const out: Array<{ node: PrimeNode; entity: Entity }> = [];
  for (const node of view.nodes()) {
    const entry = entityEntry(node);
    if (entry !== null) out.push({ node, entity: entry.entity });
  }
  return out;
}

/** A copy of a shared entity, for a result. */
export const copyEntity = (entity: Entity): Entity => ({ ...entity, observations: [...entity.observations] });

/** Every live relation touching one of `nodeIds` (all relations when omitted), in creation order. */
export function relationsTouching(view: PrimeView, nodeIds?: ReadonlySet<string>): Relation[] {
  const out: Relation[] = [];
  for (const edge of view.edges()) {
    if (nodeIds !== undefined && !nodeIds.has(edge.source) && !nodeIds.has(edge.target)) continue;
    const relation = relationOf(view, edge);
    if (relation !== undefined) out.push(relation);
  }
  return out;
}

/** Node ids by name, every live node with that name in creation order (nodeByName gives only the first). */
export function nodeIdsByName(view: PrimeView): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const { node, entity } of entityNodes(view)) {
    const ids = byName.get(entity.name);
    if (ids === undefined) byName.set(entity.name, [node.id]);
    else ids.push(node.id);
  }
  return byName;
}
