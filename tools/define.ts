// `defineTool`: the identity function that lets each tool definition keep precise argument and
// result types (inferred from its zod shapes) while a group is still a plain array of definitions.
// Separate from the registry so tool groups import nothing that imports them back.

import type { z } from 'zod';
import type { ToolDefinition } from './types.js';

export function defineTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(definition: ToolDefinition<I, O>): ToolDefinition {
  return definition as unknown as ToolDefinition;
}
