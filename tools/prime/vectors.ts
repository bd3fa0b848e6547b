// The Prime tools for vectors and recall: prime_embed, prime_similar, prime_recall,
// prime_context and prime_stats.

import { z } from 'zod';
import type { JsonObject } from '../../src/core/types.js';
import { defineTool } from '../define.js';
import { asOfArg, embedderInfoResult, instantArg, jsonObject, nodeTypeArg, primeCountersShape, primeNodeResult, recallHitResult, vectorArg, vectorIndexResult } from '../schemas.js';

import { READ, TEXT_MAX, asOfNote, defined, embedderOut, label, lines, memoryText, nodeLine, nodeOut, oneLine, payloadArgument, plural, recallHitOut, requirePrime, topKArg, vectorIndexOut } from './shared.js';

export const primeEmbed = defineTool({
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
    new_space: z
      .boolean()
      .optional()
      .describe('With vector: start your own embedding space when no stored vector has this length and it is not the embedder\'s (prime_stats shows its dims). Default false: such a vector answers invalid, as it is most likely a mistake.'),
  },
  outputSchema: {
    id: z.string(),
    dims: z.number().int(),
    embedder: z.string().describe('The vector space it went into: the embedder\'s name for text, "custom-<dims>" for a vector you supplied.'),
    node_id: z.string().nullable().describe('The node the vector belongs to, or null.'),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  // The vector and text of a stored vector are bounded by the schema; only metadata can break the store's limits.
  argumentForField: payloadArgument('metadata'),
  async handler(args, ctx) {
    const r = await requirePrime(ctx).embed(ctx.tenant, defined({ id: args.id, text: args.text, vector: args.vector, metadata: args.metadata as JsonObject | undefined, new_space: args.new_space }));
    return { id: r.id, dims: r.dims, embedder: r.embedder, node_id: r.node_id };
  },
  render: (r) => `Stored a ${r.dims}-dimension vector ${r.id} (${r.embedder})${r.node_id ? ` for node ${r.node_id}` : ''}.`,
});

export const primeSimilar = defineTool({
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

export const primeRecall = defineTool({
  name: 'prime_recall',
  title: 'Recall memories',
  description:
    'The main way to remember: the nodes most relevant to a question or topic, scored from vector similarity, word matches (BM25), graph links from the best hits, recency and importance. Each hit says how it was found (retrieval) and the parts of its score. Filter by node type or by when nodes changed (since, until), or recall as of a past instant. For exact criteria use prime_search; for a ready-to-read briefing, prime_context. It recalls graph nodes, not events recorded with ingest_event (search_events finds those).',
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
      (h) => {
        const says = memoryText(h.node);
        return `${h.score.toFixed(3)} [${h.retrieval.join('+')}] ${h.node.type} ${label(h.node)}${h.via ? ` via ${h.via.relation} from ${h.via.node_id}` : ''}${says ? `: ${says}` : ''}`;
      },
    ),
});

export const primeContext = defineTool({
  name: 'prime_context',
  title: 'Context pack',
  description:
    'A compact markdown briefing of what the memory knows about a query, ready to read or to put in a prompt: the most relevant nodes (found as prime_recall finds them) with their key facts and relationships, cut to a token budget. Use it at the start of a task or conversation; use prime_recall when you need the structured results. Events recorded with ingest_event are not part of it.',
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

export const primeStats = defineTool({
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
