// The tool registry: a tool is data (a ToolDefinition), and this module is the one place that
// turns definitions into MCP tools. It validates arguments, runs the handler against the
// EventStore port, and maps every failure to an `isError` result whose text starts with a stable
// error code, so one wrapper decides how errors look on the wire for all 43 tools.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { InvalidError, isAllSourceError, type ErrorCode } from '../src/core/errors.js';
import type { EventStore } from '../src/core/types.js';
import { createPrimeService } from '../src/prime/service.js';
import type { PrimeService } from '../src/prime/types.js';
import { TOOL_GROUPS, type ToolGroup } from './groups.js';
import { ALL_TOOLS } from './index.js';
import { packageVersion } from './version.js';

export { TOOL_GROUPS, type ToolGroup };

/** Where the server runs: `local` (stdio, a data directory on this machine) or `hosted` (HTTP, many tenants). */
export type ServerMode = 'local' | 'hosted';

/** What a handler may use. The store is the only way to data; there is no other I/O channel. */
export interface ToolContext {
  store: EventStore;
  /** Prime (graph, vectors, recall) over the same store; absent only for servers built without it. */
  prime?: PrimeService;
  tenant: string;
  /** Clock in ms since the epoch (injected so tests can pin it). */
  now: () => number;
  mode: ServerMode;
  /** The local data directory (local mode only). */
  dataDir?: string;
  /** When the server was created, in ms since the epoch. */
  startedAt: number;
  /** The allsource package version. */
  version: string;
}

/** MCP tool annotations as allsource uses them: every hint stated, and the memory is a closed world. */
export interface ToolHints extends ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: false;
}

/**
 * One tool, declaratively. `inputSchema` and `outputSchema` are zod shapes; the registry makes the
 * input strict (unknown arguments are rejected, so a misspelled argument is never silently ignored).
 */
export interface ToolDefinition<I extends z.ZodRawShape = z.ZodRawShape, O extends z.ZodRawShape = z.ZodRawShape> {
  /** snake_case verb_noun. */
  name: string;
  title: string;
  /** Product copy for the model: what the tool does, when to use it, what it returns. */
  description: string;
  group: ToolGroup;
  /** True when the tool can append to the log; `--read-only` hides these. */
  writes: boolean;
  inputSchema: I;
  outputSchema: O;
  annotations: ToolHints;
  /** Does the work. Throw AllSourceError for domain errors; they become `isError` results. */
  handler(args: z.output<z.ZodObject<I>>, ctx: ToolContext): Promise<z.output<z.ZodObject<O>>>;
  /** A short human rendering of the result (the text content next to structuredContent). */
  render?(result: z.output<z.ZodObject<O>>, args: z.output<z.ZodObject<I>>): string;
  /**
   * Translates a store field name in an error (`filter.limit`, `events[0].id`) to the argument the
   * caller actually sent, so the error names something the model can fix.
   */
  argumentForField?(field: string): string;
  /**
   * A next step appended to an error with this code (e.g. which tool finds valid ids); a function
   * gets the argument the error names, for hints that apply to one argument only.
   */
  hints?: Partial<Record<ErrorCode, string | ((argument: string | undefined) => string | undefined)>>;
}

/** Where diagnostics go: stderr by default (stdout is the protocol channel in stdio mode). */
export type LogSink = (line: string) => void;

const stderrLog: LogSink = (line) => {
  process.stderr.write(`${line}\n`);
};

/**
 * Registers `tools` on `server`, each wrapped so that it validates its arguments, runs against
 * `ctx`, and answers `{ content: [text], structuredContent }` or an `isError` result.
 */
export function registerTools(server: McpServer, tools: readonly ToolDefinition[], ctx: ToolContext, log: LogSink = stderrLog): void {
  for (const tool of tools) {
    const { strictInput, listedInput } = compiled(tool);
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: listedInput,
        outputSchema: tool.outputSchema,
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (rawArgs: unknown) => runTool(tool, strictInput, rawArgs, ctx, log),
    );
  }
}

/**
 * The schema handed to the SDK: it accepts any object, and tools/list shows the real JSON Schema.
 * The SDK would otherwise reject bad arguments itself, as a generic "MCP error -32602" text; the
 * registry validates instead so the error starts with `invalid:` and names the argument.
 */
function listedAs(strictInput: z.ZodObject): z.ZodType {
  const jsonSchema = z.toJSONSchema(strictInput, { io: 'input', target: 'draft-7' }) as Record<string, unknown>;
  delete jsonSchema.$schema; // the SDK's generator adds its own
  return z.looseObject({}).meta(jsonSchema);
}

/** Built once per definition: a hosted server is built per request and must not redo this each time. */
const compiledTools = new WeakMap<ToolDefinition, { strictInput: z.ZodObject; listedInput: z.ZodType }>();

function compiled(tool: ToolDefinition): { strictInput: z.ZodObject; listedInput: z.ZodType } {
  let entry = compiledTools.get(tool);
  if (entry === undefined) {
    const strictInput = z.strictObject(tool.inputSchema);
    entry = { strictInput, listedInput: listedAs(strictInput) };
    compiledTools.set(tool, entry);
  }
  return entry;
}

async function runTool(tool: ToolDefinition, strictInput: z.ZodObject, rawArgs: unknown, ctx: ToolContext, log: LogSink): Promise<CallToolResult> {
  const parsed = strictInput.safeParse(rawArgs ?? {});
  if (!parsed.success) return errorResult(`invalid: ${describeIssues(parsed.error.issues, rawArgs)}`);
  try {
    const result = await tool.handler(parsed.data, ctx);
    const text = tool.render ? tool.render(result, parsed.data) : `${tool.name}: done`;
    return { content: [{ type: 'text', text }], structuredContent: result };
  } catch (err) {
    return errorResult(describeError(tool, err, log));
  }
}

function errorResult(text: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}

/**
 * `<code>: <message>[. Next: <hint>]` for a typed error; `internal: unexpected error` for anything
 * else, whose stack goes to the log only (a stack is noise to the model and may leak paths).
 */
export function describeError(tool: Pick<ToolDefinition, 'name' | 'argumentForField' | 'hints'>, err: unknown, log: LogSink = stderrLog): string {
  if (!isAllSourceError(err)) {
    log(`allsource: ${tool.name} failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 'internal: unexpected error';
  }
  let message = oneLine(err.message);
  let argument: string | undefined;
  if (err.field !== undefined) {
    argument = tool.argumentForField ? tool.argumentForField(err.field) : err.field;
    if (message.startsWith(`${err.field}: `)) message = `${argument}: ${message.slice(err.field.length + 2)}`;
    else if (!message.includes(argument)) message = `${argument}: ${message}`;
  }
  const hintOrFn = tool.hints?.[err.code];
  const hint = typeof hintOrFn === 'function' ? hintOrFn(argument) : hintOrFn;
  return `${err.code}: ${message}${hint ? `. Next: ${hint}` : ''}`;
}

const MAX_ISSUES_SHOWN = 3;

/** One line naming each bad argument: `entity_id: is required; limit: must be at most 1000`. */
function describeIssues(issues: readonly z.core.$ZodIssue[], rawArgs: unknown): string {
  const parts = issues.slice(0, MAX_ISSUES_SHOWN).map((issue) => describeIssue(issue, rawArgs));
  const more = issues.length > MAX_ISSUES_SHOWN ? `; and ${issues.length - MAX_ISSUES_SHOWN} more` : '';
  return parts.join('; ') + more;
}

function describeIssue(issue: z.core.$ZodIssue, rawArgs: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length > 0 ? `${formatPath(issue.path)}: ` : '';
    return `${where}unknown argument${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}`;
  }
  const path = issue.path.length > 0 ? formatPath(issue.path) : 'arguments';
  if (valueAt(rawArgs, issue.path) === undefined) return `${path}: is required${issue.code === 'invalid_type' ? ` (expected ${issue.expected})` : ''}`;
  return `${path}: ${oneLine(issue.message)}`;
}

/** `events[2].entity_id` from `['events', 2, 'entity_id']`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out.length === 0 ? String(key) : `.${String(key)}`;
  }
  return out.slice(0, 200);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

// A message with newlines (or control characters) must not break the one-line error contract.
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** Options of createAllsourceServer. */
export interface AllsourceServerOptions {
  store: EventStore;
  /**
   * Prime over `store`, shared across servers (it holds the per-tenant warm cache). Default: a new
   * one with the offline embedder, owned by the caller of createAllsourceServer like the store.
   */
  prime?: PrimeService;
  tenant: string;
  mode: ServerMode;
  /** The tool groups to serve (default: all). */
  toolsets?: readonly ToolGroup[];
  /** Hide every tool that can write to the log. */
  readOnly?: boolean;
  dataDir?: string;
  now?: () => number;
  /** Defaults to the package version. */
  version?: string;
  /** The tool definitions to choose from (default: every allsource tool). */
  tools?: readonly ToolDefinition[];
  log?: LogSink;
}

/** The tools a server with these options serves, in registry order. */
export function selectTools(tools: readonly ToolDefinition[], options: { toolsets?: readonly ToolGroup[]; readOnly?: boolean }): ToolDefinition[] {
  const groups = new Set<ToolGroup>(options.toolsets ?? TOOL_GROUPS);
  return tools.filter((tool) => groups.has(tool.group) && !(options.readOnly && tool.writes));
}

const INSTRUCTIONS = [
  'allsource is long-term memory on an immutable event log. For knowledge about people, projects and facts, use the',
  'graph: prime_add_node (a node with a type and properties; text properties are indexed), prime_add_edge (a typed',
  'relation), then prime_recall to remember what is relevant to a question (hybrid: words, vectors, graph links,',
  'recency) or prime_context for a ready markdown briefing. The reference memory server\'s tools (create_entities,',
  'add_observations, search_nodes, …) work too, on the same graph. For raw facts, record events (ingest_event) about',
  'an entity; an entity\'s state is the JSON merge-patch of its payloads (reconstruct_state). Nothing is overwritten:',
  'every read can be asked as of a past instant (as_of). Lists are paged: pass next_cursor back as cursor.',
].join(' ');

/**
 * Builds an MCP server for one tenant of one store. A factory, not a singleton: tests and the
 * hosted transport build as many as they need.
 */
export function createAllsourceServer(options: AllsourceServerOptions): McpServer {
  const now = options.now ?? Date.now;
  const version = options.version ?? packageVersion();
  const ctx: ToolContext = {
    store: options.store,
    prime: options.prime ?? createPrimeService({ store: options.store, now, log: options.log }),
    tenant: options.tenant,
    now,
    mode: options.mode,
    dataDir: options.dataDir,
    startedAt: now(),
    version,
  };
  const tools = options.tools ?? ALL_TOOLS;
  const server = new McpServer({ name: 'allsource', title: 'allsource memory', version }, { instructions: INSTRUCTIONS });
  const selected = selectTools(tools, options);
  // An MCP server with no tools answers tools/list with "method not found"; say why instead.
  if (selected.length === 0) throw new InvalidError('toolsets', `${(options.toolsets ?? TOOL_GROUPS).join(', ')}${options.readOnly ? ' (read-only)' : ''} hold no tools`);
  registerTools(server, selected, ctx, options.log);
  return server;
}
