// Which embedder a server uses: an OpenAI-compatible endpoint when ALLSOURCE_EMBED_URL is set
// (and then only that one: an unreachable endpoint is an error, never a silent fallback),
// otherwise the offline deterministic embedder.

import { createHashEmbedder } from './hashEmbedder.js';
import { openAiEmbedderFromEnv } from './openaiEmbedder.js';
import type { Embedder } from './types.js';

export function createEmbedderFromEnv(env: NodeJS.ProcessEnv = process.env): Embedder {
  return openAiEmbedderFromEnv(env) ?? createHashEmbedder();
}

export { createHashEmbedder } from './hashEmbedder.js';
export { createOpenAiEmbedder, openAiEmbedderFromEnv } from './openaiEmbedder.js';
export type { Embedder, EmbedderInfo, EmbedderKind } from './types.js';
