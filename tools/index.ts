// Every allsource tool, by group, in the order tools/list shows them: the event tools, then
// Prime's knowledge graph, vectors and recall (`prime`), then the reference-compatible
// knowledge-graph tools (`graph`).

import { EVENT_TOOLS } from './events.js';
import { MEMORY_TOOLS } from './memory.js';
import { PRIME_TOOLS } from './prime.js';
import type { ToolDefinition } from './types.js';

export const ALL_TOOLS: readonly ToolDefinition[] = [...EVENT_TOOLS, ...PRIME_TOOLS, ...MEMORY_TOOLS];

export { EVENT_TOOLS, MEMORY_TOOLS, PRIME_TOOLS };
