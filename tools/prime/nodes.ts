// The Prime tools for nodes: prime_add_node, prime_update_node, prime_get_node, prime_forget.

import { z } from 'zod';
import { ConflictError } from '../../src/core/errors.js';
import type { JsonObject } from '../../src/core/types.js';
import { defineTool } from '../define.js';
import { serializedNameWrite } from '../nameWrites.js';
import { asOfArg, nodeIdArg, nodeTypeArg } from '../schemas.js';

import { NODE_NOT_FOUND_HINT, READ, payloadArgument, asOfNote, defined, fullNodeOut, label, nodeLine, nodeOut, nodeResultShape, plural, propertiesArg, requirePrime } from './shared.js';

export const primeAddNode = defineTool({
  name: 'prime_add_node',
  title: 'Add a node',
  description:
    'Create a node in the knowledge graph: a person, project, concept, preference, anything worth remembering as a thing. Give it a type and properties (a "name" lets the graph tools find it by name; string properties are indexed for prime_recall and prime_search at once). A name a live node already has answers conflict with that node\'s id (update it with prime_update_node instead), unless allow_same_name is true. Returns the node with its id; use the id with prime_add_edge, prime_update_node, prime_neighbors. Check with prime_recall or prime_search first to avoid creating the same thing twice.',
  group: 'prime',
  writes: true,
  inputSchema: {
    type: nodeTypeArg('What kind of thing the node is'),
    properties: propertiesArg('What is known about it, e.g. {"name": "Ada Lovelace", "role": "engineer"}.').optional(),
    allow_same_name: z
      .boolean()
      .optional()
      .describe('Create the node even when a live node already has this properties.name (two people can share a name). Default false: a taken name answers conflict naming the node that has it.'),
  },
  outputSchema: nodeResultShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  argumentForField: payloadArgument('properties'),
  hints: { conflict: (argument) => (argument === 'properties.name' ? 'prime_update_node with that node_id changes the existing node; pass allow_same_name: true if this is a different thing with the same name' : undefined) },
  async handler(args, ctx) {
    const prime = requirePrime(ctx);
    const properties = args.properties as JsonObject | undefined;
    const name = properties?.name;
    const add = async () => nodeOut(await prime.addNode(ctx.tenant, defined({ type: args.type, properties })));
    if (args.allow_same_name === true || typeof name !== 'string' || name.length === 0) return add();
    // The graph tools (open_nodes, read_graph, create_entities) key entities by name: a second
    // live node with one name would show up there twice, so a repeated name is refused unless the
    // caller says it is another thing. In this process the check and the write run in the tenant's
    // name-write queue, so parallel calls cannot both take a name; across processes they are not
    // atomic (create_entities' name claims are the strict guarantee).
    return serializedNameWrite(prime, ctx.tenant, async () => {
      const existing = (await prime.view(ctx.tenant)).nodeByName(name);
      if (existing !== undefined) {
        throw new ConflictError(`properties.name: node '${existing.id}' (${existing.type}) is already named ${JSON.stringify(name.slice(0, 200))}; nothing was written`, {
          field: 'properties.name',
          details: { node_id: existing.id, type: existing.type },
        });
      }
      return add();
    });
  },
  render: (r) => `Added ${r.type} ${label(r)}.`,
});

export const primeUpdateNode = defineTool({
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
  argumentForField: payloadArgument('properties'),
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    return nodeOut(await requirePrime(ctx).updateNode(ctx.tenant, { node_id: args.node_id, properties: args.properties as JsonObject }));
  },
  render: (r) => `Updated ${r.type} ${label(r)}: now version ${r.version}.`,
});

export const primeGetNode = defineTool({
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
    return { ...fullNodeOut(node), as_of: args.as_of ?? null };
  },
  render: (r) => `${nodeLine(r)}${asOfNote(r.as_of)}`,
});

export const primeForget = defineTool({
  name: 'prime_forget',
  title: 'Forget a node',
  description:
    'Soft-delete a node: it, its edges and its vectors leave the graph, search and recall. Nothing is erased: prime_history still shows it and reads with an earlier as_of still see it. Use when something is wrong or the user asks to forget it. Returns how many edges and vectors went with it; forgetting a node forgotten before changes nothing and says so (already_forgotten), so a retry is safe.',
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
    already_forgotten: z.boolean().describe('True when the node had been forgotten before: nothing changed and the counts are 0.'),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  hints: { not_found: NODE_NOT_FOUND_HINT },
  async handler(args, ctx) {
    const r = await requirePrime(ctx).forget(ctx.tenant, defined({ node_id: args.node_id, reason: args.reason }));
    return { node_id: r.node_id, edges_removed: r.edges_removed, vectors_removed: r.vectors_removed, already_forgotten: r.already_forgotten };
  },
  render: (r) => r.already_forgotten ? `Node ${r.node_id} was already forgotten; nothing changed.` : `Forgot node ${r.node_id} with ${plural(r.edges_removed, 'edge')} and ${plural(r.vectors_removed, 'vector')}; prime_history still shows it.`,
});
