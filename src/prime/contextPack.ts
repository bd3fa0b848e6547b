// prime_context's output: a markdown pack of the memories recall found for a query and the facts
// (edges) around them, cut to a token budget so it can be pasted into a prompt as is. Tokens are
// estimated at four characters each, the usual rule of thumb for English with BPE tokenizers.

import type { PrimeView, RecallHit } from './types.js';

export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

/** Longest memory text quoted in a pack, in characters. */
const MAX_MEMORY_CHARS = 600;

export interface ContextPack {
  context: string;
  tokens: number;
  memories: number;
  truncated: boolean;
}

export function buildContextPack(query: string, hits: readonly RecallHit[], view: PrimeView, maxTokens: number): ContextPack {
  const header = `# Memory for: ${clip(query, 200)}\n`;
  const lines: string[] = [header];
  let tokens = estimateTokens(header);
  let memories = 0;
  let truncated = false;
  const add = (line: string): boolean => {
    const cost = estimateTokens(line) + 1;
    if (tokens + cost > maxTokens) {
      truncated = true;
      return false;
    }
    lines.push(line);
    tokens += cost;
    return true;
  };

  if (hits.length === 0) add('_No stored memory matches this query._');
  else add('## Memories');
  for (const hit of hits) {
    if (!add(memoryLine(hit))) break;
    memories++;
  }

  // Facts: the edges touching the memories that made it in, each once, named by node name.
  const included = hits.slice(0, memories);
  const facts = new Set<string>();
  for (const hit of included) {
    for (const edge of view.edgesOf(hit.node.id, 'both')) {
      const source = view.node(edge.source);
      const target = view.node(edge.target);
      if (source === undefined || target === undefined) continue;
      facts.add(`- ${label(source.properties.name, source.id)} —${edge.relation}→ ${label(target.properties.name, target.id)}`);
    }
  }
  if (facts.size > 0 && !truncated && add('\n## Related facts')) {
    for (const fact of facts) if (!add(fact)) break;
  }
  const context = lines.join('\n');
  return { context, tokens: estimateTokens(context), memories, truncated };
}

function memoryLine(hit: RecallHit): string {
  const { node } = hit;
  const name = typeof node.properties.name === 'string' ? node.properties.name : undefined;
  const body = bodyText(node.properties);
  const title = name !== undefined ? `**${clip(name, 120)}** (${node.type})` : `**${node.type}** \`${node.id}\``;
  const date = node.updated_at.slice(0, 10);
  return `- ${title}, ${date}: ${clip(body, MAX_MEMORY_CHARS)} _(score ${hit.score.toFixed(3)}; ${hit.retrieval.join('+')})_`;
}

/** The node's text minus its name (already in the title). */
function bodyText(properties: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(properties)) {
    if (key === 'name' || key.startsWith('_')) continue;
    if (typeof value === 'string') parts.push(value);
    else if (Array.isArray(value)) parts.push(...value.filter((v): v is string => typeof v === 'string'));
  }
  return parts.join('; ') || '(no text)';
}

function label(name: unknown, id: string): string {
  return typeof name === 'string' ? clip(name, 80) : id;
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
