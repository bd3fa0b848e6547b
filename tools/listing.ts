// What tools/list shows of each tool's schemas. A client pays for every byte of tools/list in its
// model's context, for every tool, on every conversation: the argument schemas keep what the model
// needs (types, bounds, enums, descriptions) and lose generator noise; the output schemas keep
// only the top-level fields and their types, which is what clients validate structuredContent
// against. The registry validates arguments and results itself with the full zod schemas.

import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { TOOL_ERROR_JSON_SCHEMA } from './errors.js';

type JsonSchema = Record<string, unknown>;

/**
 * A schema the SDK lists verbatim and never rejects with. The SDK would otherwise turn a zod
 * schema into JSON Schema on every tools/list (adding `$schema` each time) and refuse bad
 * arguments itself, as a generic "MCP error -32602" text; the registry answers `invalid:` naming
 * the argument instead.
 */
function listedVerbatim(jsonSchema: JsonSchema): StandardSchemaWithJSON {
  return {
    '~standard': {
      version: 1,
      vendor: 'allsource',
      validate: (value: unknown) => ({ value }),
      jsonSchema: { input: () => jsonSchema, output: () => jsonSchema },
    },
  };
}

/**
 * The argument schema as listed: the JSON Schema of `strictInput` without what says nothing, and
 * with descriptions on the arguments only. An argument's own description says what its items
 * hold ("each has the fields of ingest_event"); its nested fields' repeat that, per tool.
 */
export function listedInputSchema(strictInput: z.ZodObject): StandardSchemaWithJSON {
  const jsonSchema = withoutNoise(z.toJSONSchema(strictInput, { io: 'input', target: 'draft-7' })) as JsonSchema;
  const args = (jsonSchema.properties ?? {}) as Record<string, JsonSchema>;
  const listed: Record<string, JsonSchema> = {};
  for (const [name, arg] of Object.entries(args)) {
    const { description, ...rest } = arg;
    listed[name] = { ...(withoutDescriptions(rest) as JsonSchema), ...(description === undefined ? {} : { description }) };
  }
  return listedVerbatim({ ...jsonSchema, properties: listed });
}

function withoutDescriptions(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutDescriptions);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'description' && typeof value === 'string') continue;
    // Under `properties` the keys are field names, not keywords: a field may be called "description".
    out[key] = key === 'properties' && typeof value === 'object' && value !== null ? Object.fromEntries(Object.entries(value).map(([name, field]) => [name, withoutDescriptions(field)])) : withoutDescriptions(value);
  }
  return out;
}

/**
 * The output schema as listed: an object that is either the tool's result (its top-level fields
 * and their types) or the error of an `isError` result, or one of `alsoAnswers` (a guard's
 * answers). Clients validate structuredContent against it even on errors, hence the union.
 */
export function listedOutputSchema(output: z.ZodObject, alsoAnswers: readonly JsonSchema[] = []): StandardSchemaWithJSON {
  const result = z.toJSONSchema(output, { io: 'output', target: 'draft-7' }) as JsonSchema;
  const definitions = (result.definitions ?? {}) as Record<string, JsonSchema>;
  // One object holding the fields of every answer, none required and no others allowed: a union
  // of branches (result, error, a guard's answer) would repeat the error branch in each of 43
  // tools, while the registry checks every result against the full schema before it is sent.
  const properties: Record<string, JsonSchema> = {};
  for (const answer of [result, TOOL_ERROR_JSON_SCHEMA, ...alsoAnswers]) {
    for (const [name, types] of Object.entries(fieldTypes(answer, definitions))) {
      const known = properties[name];
      properties[name] = known === undefined ? types : mergedTypes(known, types);
    }
  }
  return listedVerbatim({ type: 'object', properties, additionalProperties: false });
}

// ── Compaction ────────────────────────────────────────────────────────────────────────────────

/**
 * `schema` without `$schema` and without the ±2^53 bounds zod writes for every integer (JSON
 * numbers cannot say more anyway): a few hundred bytes per tool that tell a model nothing.
 */
function withoutNoise(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutNoise);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema') continue;
    if ((key === 'minimum' || key === 'maximum') && typeof value === 'number' && Math.abs(value) >= Number.MAX_SAFE_INTEGER) continue;
    // Length bounds on strings are sanity limits (256-character ids, 64-character instants) that no
    // honest argument nears; the registry still enforces them and names the argument when one does.
    if ((key === 'minLength' || key === 'maxLength') && typeof value === 'number') continue;
    out[key] = withoutNoise(value);
  }
  return out;
}

/** Each top-level field of an object schema with its JSON types only (`{}`: any value). */
function fieldTypes(schema: JsonSchema, definitions: Record<string, JsonSchema>): Record<string, JsonSchema> {
  const fields: Record<string, JsonSchema> = {};
  for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) {
    const types = typesOf(property, definitions);
    fields[name] = types === undefined ? {} : { type: types.length === 1 ? types[0] : types };
  }
  return fields;
}

/** A field two answers both have: any type either allows. */
function mergedTypes(a: JsonSchema, b: JsonSchema): JsonSchema {
  if (a.type === undefined || b.type === undefined) return {};
  const types = [...new Set([a.type, b.type].flat())];
  return { type: types.length === 1 ? types[0] : types };
}

/** The JSON types a value of `schema` can have, or undefined when any value is allowed. */
function typesOf(schema: JsonSchema, definitions: Record<string, JsonSchema>, depth = 0): string[] | undefined {
  if (depth > 8) return undefined;
  if (typeof schema.$ref === 'string') {
    const target = definitions[schema.$ref.replace(/^#\/definitions\//, '')];
    return target === undefined ? undefined : typesOf(target, definitions, depth + 1);
  }
  if (typeof schema.type === 'string') return [schema.type];
  if (Array.isArray(schema.type)) return schema.type.map(String);
  if ('const' in schema) return [jsonType(schema.const)];
  if (Array.isArray(schema.enum)) return [...new Set(schema.enum.map(jsonType))];
  const members = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (!Array.isArray(members)) return undefined;
  const types = new Set<string>();
  for (const member of members) {
    const memberTypes = typesOf(member, definitions, depth + 1);
    if (memberTypes === undefined) return undefined;
    for (const type of memberTypes) types.add(type);
  }
  return [...types];
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
