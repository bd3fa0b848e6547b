// The error shape of every `isError` result, defined once: a zod schema and its JSON Schema, which
// every listed outputSchema admits beside the tool's result, so a client that validates
// structuredContent (the SDK's Client does, even on errors) accepts both.

import { z } from 'zod';
import { ERROR_CODE_LIST } from '../src/core/errors.js';
import type { ToolErrorContent } from './types.js';

/** The structuredContent of an `isError` result: `{ error: { code, message, field?, details? } }`. */
export const toolErrorContent = z.strictObject({
  // One description, not one per field: this schema is repeated in every tool's listed outputSchema.
  error: z
    .strictObject({
      code: z.enum(ERROR_CODE_LIST),
      message: z.string(),
      field: z.string().optional(),
      details: z.record(z.string(), z.unknown()).optional(),
    })
    .describe('Why the call failed: present exactly when isError is true; the text content is "<code>: <message>".'),
}) satisfies z.ZodType<ToolErrorContent>;

/** The JSON Schema of toolErrorContent (draft-7, no `$schema`: it is embedded in each outputSchema). */
export const TOOL_ERROR_JSON_SCHEMA: Readonly<Record<string, unknown>> = (() => {
  const jsonSchema = z.toJSONSchema(toolErrorContent, { io: 'output', target: 'draft-7' }) as Record<string, unknown>;
  delete jsonSchema.$schema;
  return jsonSchema;
})();
