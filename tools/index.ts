// Every allsource tool, by group. The registry serves a selection of these; Prime adds its
// `prime` and `graph` groups here.

import { EVENT_TOOLS } from './events.js';
import type { ToolDefinition } from './registry.js';

export const ALL_TOOLS: readonly ToolDefinition[] = [...EVENT_TOOLS];

export { EVENT_TOOLS };
