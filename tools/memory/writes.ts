// The reference-compatible tools that write: create_entities, create_relations, add_observations
// and the deletes, each one atomic append, serialized per tenant, names kept unique across
// processes.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InvalidError, isErrorCode, NotFoundError } from '../../src/core/errors.js';
import type { NewEvent } from '../../src/core/types.js';
import { edgeCreated, edgeDeleted, nodeCreated, nodeDeleted, nodeUpdated } from '../../src/prime/events.js';
import type { PrimeService, PrimeView } from '../../src/prime/types.js';
import { defineTool } from '../define.js';
import { serializedNameWrite } from '../nameWrites.js';
import { requirePrime } from '../prime/shared.js';
import type { ToolContext } from '../types.js';
import { graphEntityResult, graphRelationResult, PRIME_NAME_MAX } from '../schemas.js';
import { BATCH_MAX, Entity, NAME_MAX, OBSERVATION_MAX, Relation, nodeIdsByName, observationsOf, relationOf } from './graph.js';

/**
 * Name claims make "an entity name exists once" hold across processes and instances, not only in
 * this one: creating an entity also appends `memory.name.claimed` on the name's claim entity with
 * the `expected_version` last seen, in the same atomic batch; deleting it appends
 * `memory.name.released`. Two writers racing for one name: one append wins, the other conflicts,
 * reads the graph again (which now holds the winner's entity) and skips the name.
 */
const CLAIM_PREFIX = 'memory:name:';
const MAX_WRITE_ATTEMPTS = 5;

function claimEntity(name: string): string {
  return `${CLAIM_PREFIX}${createHash('sha256').update(name).digest('hex').slice(0, 40)}`;
}

/** The claim a graph write guards; `known` holds claim versions learnt from earlier conflicts. */
function nameClaim(name: string, nodeId: string, known: ReadonlyMap<string, number>): NewEvent {
  const entity_id = claimEntity(name);
  return { entity_id, event_type: 'memory.name.claimed', payload: { name, node_id: nodeId }, expected_version: known.get(entity_id) ?? 0 };
}

function nameRelease(name: string): NewEvent {
  return { entity_id: claimEntity(name), event_type: 'memory.name.released', payload: { name } };
}

/** The guard a conflict is about, with the version the store holds, or undefined. */
function conflictingGuard(err: unknown, guards: readonly NewEvent[]): { entity_id: string; actual: number } | undefined {
  if (!isErrorCode(err, 'conflict')) return undefined;
  const { field, details } = err as { field?: string; details?: Record<string, unknown> };
  const index = Number(/^events\[(\d+)\]\.expected_version$/.exec(field ?? '')?.[1] ?? NaN);
  if (!(index < guards.length) || typeof details?.actual !== 'number') return undefined;
  return { entity_id: guards[index].entity_id, actual: details.actual };
}

interface WritePlan<T> {
  events: NewEvent[];
  /** Claims and releases written in the same atomic batch (see nameClaim). */
  guards?: NewEvent[];
  result: T;
  /**
   * The argument an event stands for (`entities[2].observations`), so a store rejection of
   * `events[k].payload…` (too big, say) names what the caller sent, not the batch we built.
   */
  argumentOf?: (eventIndex: number) => string;
}

/** A store error about an event of the batch, renamed to the argument the plan says it came from. */
function inCallerTerms(err: unknown, guards: number, argumentOf: ((eventIndex: number) => string) | undefined): unknown {
  if (argumentOf === undefined || !isErrorCode(err, 'invalid')) return err;
  const { field, message, details } = err as { field?: string; message: string; details?: Record<string, unknown> };
  const at = /^events\[(\d+)\]/.exec(field ?? '');
  if (at === null || Number(at[1]) < guards) return err;
  const argument = argumentOf(Number(at[1]) - guards);
  const said = message.startsWith(`${field}: `) ? message.slice((field as string).length + 2) : message;
  return new InvalidError(argument, said, details);
}

/**
 * Runs a graph write: `plan` reads the live view and returns the events to append plus the
 * result. When a name claim conflicts (another writer got there first), it plans again from a
 * fresh view, a few times at most.
 */
async function write<T>(ctx: ToolContext, plan: (view: PrimeView, prime: PrimeService, known: ReadonlyMap<string, number>) => WritePlan<T>): Promise<T> {
  const prime = requirePrime(ctx);
  return serializedNameWrite(prime, ctx.tenant, async () => {
    const known = new Map<string, number>();
    for (let attempt = 1; ; attempt++) {
      const { events, guards = [], result, argumentOf } = plan(await prime.view(ctx.tenant), prime, known);
      if (events.length === 0) return result;
      try {
        await prime.appendEvents(ctx.tenant, events, { guards });
        return result;
      } catch (err) {
        const conflict = conflictingGuard(err, guards);
        if (conflict === undefined || attempt >= MAX_WRITE_ATTEMPTS) throw inCallerTerms(err, guards.length, argumentOf);
        known.set(conflict.entity_id, conflict.actual);
      }
    }
  });
}

export async function readView(ctx: ToolContext, asOf: string | undefined): Promise<PrimeView> {
  return requirePrime(ctx).view(ctx.tenant, asOf === undefined ? undefined : { as_of: asOf });
}

const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;
const DELETE = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false } as const;
export const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

export const ENTITY_NOT_FOUND_HINT = 'create it with create_entities first; search_nodes or read_graph show the names that exist';

export const nameArg = (what: string) => z.string().min(1).max(NAME_MAX).describe(what);
const entityInput = z.object({
  name: nameArg('The name of the entity, unique in the graph, e.g. "Ada Lovelace"'),
  entityType: z.string().min(1).max(PRIME_NAME_MAX).describe('The type of the entity, e.g. "person", "project", "organization"'),
  observations: z
    .array(z.string().min(1).max(OBSERVATION_MAX))
    .max(BATCH_MAX)
    .describe('An array of observation contents associated with the entity: atomic facts, one per string, e.g. ["Speaks fluent French", "Prefers morning meetings"]'),
});
const relationInput = z.object({
  from: nameArg('The name of the entity where the relation starts'),
  to: nameArg('The name of the entity where the relation ends'),
  relationType: z.string().min(1).max(PRIME_NAME_MAX).describe('The type of the relation, in active voice, e.g. "works_at"'),
});

const successShape = {
  success: z.boolean(),
  message: z.string(),
};

export const graphShape = {
  entities: z.array(graphEntityResult),
  relations: z.array(graphRelationResult),
};

function renderJson(value: unknown): string {
  const text = JSON.stringify(value, null, 2);
  return text.length > 20_000 ? `${text.slice(0, 20_000)}\n… (cut; the full result is in structuredContent)` : text;
}

/** Drops our paging fields from a rendering, so the text reads like the reference's. */
export function renderGraph(r: { entities: Entity[]; relations: Relation[]; has_more?: boolean }): string {
  const text = renderJson({ entities: r.entities, relations: r.relations });
  return r.has_more ? `${text}\nMore: pass next_cursor as cursor.` : text;
}

export const createEntities = defineTool({
  name: 'create_entities',
  title: 'Create Entities',
  description:
    'Create multiple new entities in the knowledge graph. An entity whose name already exists is skipped (so is a repeated name within the call), so retrying is safe; returns only the entities actually created. All are created in one atomic write. Entities are Prime nodes (type = entityType). prime_recall finds them too. Compatible with the reference MCP memory server.',
  group: 'graph',
  writes: true,
  inputSchema: {
    entities: z.array(entityInput).max(BATCH_MAX).describe(`The entities to create (up to ${BATCH_MAX}).`),
  },
  outputSchema: { entities: z.array(graphEntityResult).describe('The entities created (those not already in the graph).') },
  annotations: WRITE,
  async handler(args, ctx) {
    return write(ctx, (view, prime, known) => {
      const taken = new Set<string>();
      const created: Entity[] = [];
      const events: NewEvent[] = [];
      const guards: NewEvent[] = [];
      const entityIndex: number[] = [];
      for (const [i, e] of args.entities.entries()) {
        if (taken.has(e.name) || view.nodeByName(e.name) !== undefined) continue;
        taken.add(e.name);
        entityIndex.push(i);
        const id = prime.newId();
        created.push({ name: e.name, entityType: e.entityType, observations: [...e.observations] });
        events.push(nodeCreated(id, e.entityType, { name: e.name, observations: [...e.observations] }));
        guards.push(nameClaim(e.name, id, known));
      }
      return { events, guards, result: { entities: created }, argumentOf: (k) => `entities[${entityIndex[k]}].observations` };
    });
  },
  render: (r) => renderJson(r.entities),
});

export const createRelations = defineTool({
  name: 'create_relations',
  title: 'Create Relations',
  description:
    'Create multiple new relations between entities in the knowledge graph. Relations should be in active voice ("from relationType to", e.g. Ada works_at Acme). Both entities must exist (unlike the reference server, which stores relations to missing entities, this answers not_found and creates nothing). A relation that already exists is skipped; returns the relations actually created. One atomic write.',
  group: 'graph',
  writes: true,
  inputSchema: {
    relations: z.array(relationInput).max(BATCH_MAX).describe(`The relations to create (up to ${BATCH_MAX}).`),
  },
  outputSchema: { relations: z.array(graphRelationResult).describe('The relations created (those not already in the graph).') },
  annotations: WRITE,
  hints: { not_found: ENTITY_NOT_FOUND_HINT },
  async handler(args, ctx) {
    return write(ctx, (view, prime) => {
      const created: Relation[] = [];
      const events: NewEvent[] = [];
      const seen = new Set<string>();
      args.relations.forEach((r, i) => {
        const from = view.nodeByName(r.from);
        if (from === undefined) throw new NotFoundError(`relations[${i}].from: no entity named ${JSON.stringify(r.from)}`, { field: `relations[${i}].from` });
        const to = view.nodeByName(r.to);
        if (to === undefined) throw new NotFoundError(`relations[${i}].to: no entity named ${JSON.stringify(r.to)}`, { field: `relations[${i}].to` });
        const key = JSON.stringify([from.id, to.id, r.relationType]);
        if (seen.has(key)) return;
        seen.add(key);
        if (view.edgesOf(from.id, 'out').some((e) => e.target === to.id && e.relation === r.relationType)) return;
        created.push({ from: r.from, to: r.to, relationType: r.relationType });
        events.push(edgeCreated({ id: prime.newId(), source: from.id, target: to.id, relation: r.relationType, properties: {}, weight: 1 }));
      });
      return { events, result: { relations: created } };
    });
  },
  render: (r) => renderJson(r.relations),
});

export const addObservations = defineTool({
  name: 'add_observations',
  title: 'Add Observations',
  description:
    'Add new observations to existing entities in the knowledge graph. Observations an entity already has are skipped; returns, per entity, the observations actually added. Every entity must exist: if one does not, the call answers not_found and adds nothing. One atomic write; the entity\'s earlier observations stay readable with as_of.',
  group: 'graph',
  writes: true,
  inputSchema: {
    observations: z
      .array(
        z.object({
          entityName: nameArg('The name of the entity to add the observations to'),
          contents: z.array(z.string().max(OBSERVATION_MAX)).max(BATCH_MAX).describe('An array of observation contents to add'),
        }),
      )
      .max(BATCH_MAX)
      .describe(`Per entity, the observations to add (up to ${BATCH_MAX} entries).`),
  },
  outputSchema: {
    results: z.array(z.object({ entityName: z.string(), addedObservations: z.array(z.string()) })).describe('Per input entry, in order: the observations added.'),
  },
  annotations: WRITE,
  hints: { not_found: ENTITY_NOT_FOUND_HINT },
  async handler(args, ctx) {
    return write(ctx, (view) => {
      // Working copies, so two entries for one entity see each other and make one event.
      const current = new Map<string, string[]>();
      const order: string[] = [];
      const firstEntry = new Map<string, number>();
      const results = args.observations.map((o, i) => {
        const node = view.nodeByName(o.entityName);
        if (node === undefined) throw new NotFoundError(`observations[${i}].entityName: no entity named ${JSON.stringify(o.entityName)}`, { field: `observations[${i}].entityName` });
        let list = current.get(node.id);
        if (list === undefined) {
          current.set(node.id, (list = observationsOf(node)));
          order.push(node.id);
          firstEntry.set(node.id, i);
        }
        const added: string[] = [];
        for (const content of o.contents) {
          if (list.includes(content)) continue;
          list.push(content);
          added.push(content);
        }
        return { entityName: o.entityName, addedObservations: added };
      });
      const changed = order.filter((id) => current.get(id)!.length !== observationsOf(view.node(id)!).length);
      const events = changed.map((id) => nodeUpdated(id, { observations: current.get(id)! }));
      // One event holds an entity's whole list: name the first entry for it that the caller sent.
      return { events, result: { results }, argumentOf: (k) => `observations[${firstEntry.get(changed[k])}].contents` };
    });
  },
  render: (r) => renderJson(r.results),
});

export const deleteEntities = defineTool({
  name: 'delete_entities',
  title: 'Delete Entities',
  description:
    'Delete multiple entities and their relations from the knowledge graph. Names that do not exist are ignored. One atomic write. Nothing is erased: reads with an earlier as_of still show them. prime_history keeps their trail (this is the forget of prime_forget).',
  group: 'graph',
  writes: true,
  inputSchema: {
    entityNames: z.array(nameArg('An entity name')).max(BATCH_MAX).describe('An array of entity names to delete'),
  },
  outputSchema: {
    ...successShape,
    entities_deleted: z.number().int().describe('Entities deleted.'),
    relations_deleted: z.number().int().describe('Relations deleted with them.'),
  },
  annotations: DELETE,
  async handler(args, ctx) {
    return write(ctx, (view) => {
      const byName = nodeIdsByName(view);
      const nodeIds = new Set<string>();
      for (const name of args.entityNames) for (const id of byName.get(name) ?? []) nodeIds.add(id);
      // As prime_forget does: one node.deleted per entity; its edges (and vectors) go with it in the fold.
      const edgeIds = new Set<string>();
      for (const id of nodeIds) for (const edge of view.edgesOf(id, 'both')) if (relationOf(view, edge) !== undefined) edgeIds.add(edge.id);
      const events = [...nodeIds].map((id) => nodeDeleted(id));
      const guards = args.entityNames.filter((name) => byName.has(name)).map(nameRelease);
      return { events, guards, result: { success: true, message: 'Entities deleted successfully', entities_deleted: nodeIds.size, relations_deleted: edgeIds.size } };
    });
  },
  render: (r) => r.message,
});

export const deleteObservations = defineTool({
  name: 'delete_observations',
  title: 'Delete Observations',
  description:
    'Delete specific observations from entities in the knowledge graph. Entities or observations that do not exist are ignored. One atomic write; earlier observations stay readable with as_of.',
  group: 'graph',
  writes: true,
  inputSchema: {
    deletions: z
      .array(
        z.object({
          entityName: nameArg('The name of the entity containing the observations'),
          observations: z.array(z.string().max(OBSERVATION_MAX)).max(BATCH_MAX).describe('An array of observations to delete'),
        }),
      )
      .max(BATCH_MAX)
      .describe(`Per entity, the observations to delete (up to ${BATCH_MAX} entries).`),
  },
  outputSchema: { ...successShape, observations_deleted: z.number().int().describe('Observations removed.') },
  annotations: DELETE,
  async handler(args, ctx) {
    return write(ctx, (view) => {
      const current = new Map<string, string[]>();
      let removed = 0;
      for (const d of args.deletions) {
        const node = view.nodeByName(d.entityName);
        if (node === undefined) continue;
        const list = current.get(node.id) ?? observationsOf(node);
        const kept = list.filter((o) => !d.observations.includes(o));
        removed += list.length - kept.length;
        current.set(node.id, kept);
      }
      const events = [...current]
        .filter(([id, list]) => list.length !== observationsOf(view.node(id)!).length)
        .map(([id, list]) => nodeUpdated(id, { observations: list }));
      return { events, result: { success: true, message: 'Observations deleted successfully', observations_deleted: removed } };
    });
  },
  render: (r) => r.message,
});

export const deleteRelations = defineTool({
  name: 'delete_relations',
  title: 'Delete Relations',
  description:
    'Delete multiple relations from the knowledge graph; the entities stay. Relations that do not exist are ignored. One atomic write; reads with an earlier as_of still show them. prime_history keeps their trail.',
  group: 'graph',
  writes: true,
  inputSchema: {
    relations: z.array(relationInput).max(BATCH_MAX).describe('An array of relations to delete'),
  },
  outputSchema: { ...successShape, relations_deleted: z.number().int().describe('Relations removed.') },
  annotations: DELETE,
  async handler(args, ctx) {
    return write(ctx, (view) => {
      const byName = nodeIdsByName(view);
      const edgeIds = new Set<string>();
      for (const r of args.relations) {
        const targets = new Set(byName.get(r.to) ?? []);
        for (const source of byName.get(r.from) ?? []) {
          for (const edge of view.edgesOf(source, 'out')) if (targets.has(edge.target) && edge.relation === r.relationType) edgeIds.add(edge.id);
        }
      }
      return { events: [...edgeIds].map((id) => edgeDeleted(id)), result: { success: true, message: 'Relations deleted successfully', relations_deleted: edgeIds.size } };
    });
  },
  render: (r) => r.message,
});
