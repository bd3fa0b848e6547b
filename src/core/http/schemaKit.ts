// The building blocks of the Core REST API's JSON Schemas (schemas.ts, adminSchemas.ts): small
// constructors that keep every schema strict (unknown fields refused) and described, and the shape
// of one route's spec, from which fastify validates and the OpenAPI document is generated.

export type Schema = Record<string, unknown>;

export const str = (description: string): Schema => ({ type: 'string', description });
export const int = (description: string): Schema => ({ type: 'integer', description });
export const bool = (description: string): Schema => ({ type: 'boolean', description });
export const jsonObject = (description: string): Schema => ({ type: 'object', additionalProperties: true, description });
export const nullable = (schema: Schema): Schema => ({ ...schema, type: [schema.type as string, 'null'] });

export function object(properties: Record<string, Schema>, required: string[] = [], description?: string): Schema {
  return { type: 'object', properties, required, additionalProperties: false, ...(description ? { description } : {}) };
}

/** One route: its method, URL (fastify syntax), schema parts and what it is for. */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  summary: string;
  /** True when the route appends to the log (read-only keys get 403). */
  writes: boolean;
  /** Admin routes take only the admin key. */
  admin?: boolean;
  /**
   * How the port names what this route's query string and body carry (`filter.`, `options.`,
   * `selector.`, `events[0].`), so an error names a field the same way whichever adapter answers.
   */
  fields?: { querystring?: string; body?: string };
  /**
   * Body fields must have a JSON type their schema declares, as sent: the server coerces types
   * (for query strings), and a quota of `""` or `false` must be refused, not read as null or 0.
   */
  strictBody?: boolean;
  schema: { params?: Schema; querystring?: Schema; body?: Schema; response: Record<number, Schema> };
}
