// The tool registry: a tool is data (a ToolDefinition), and this module is the one place that
// turns definitions into MCP tools. It validates arguments, runs the handler against the
// EventStore port, checks the result against the tool's outputSchema, and maps every failure to
// an `isError` result whose text starts with a stable error code and whose structuredContent holds
// the same error as data, so one wrapper decides how errors look on the wire for all 43 tools.

import { join } from 'node:path';
import { McpServer, type CallToolResult, type jsonSchemaValidator, type StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { InvalidError, isAllSourceError } from '../src/core/errors.js';
import type { EventStore } from '../src/core/types.js';
import { createPrimeService } from '../src/prime/service.js';
import type { PrimeService } from '../src/prime/types.js';
import { TOOL_GROUPS, type ToolGroup } from './groups.js';
import { ALL_TOOLS } from './index.js';
import { forServedTools, serverInstructions } from './instructions.js';
import { listedInputSchema, listedOutputSchema } from './listing.js';
import type { LogSink, ServerMode, ToolCallGuard, ToolContext, ToolDefinition, ToolError } from './types.js';
import { packageVersion } from './version.js';

export { TOOL_GROUPS, type ToolGroup };
export type { GuardedToolCall, LogSink, ServerMode, ToolCallGuard, ToolContext, ToolDefinition, ToolError, ToolErrorContent, ToolHints } from './types.js';

const stderrLog: LogSink = (line) => {
  process.stderr.write(`${line}\n`);
};

/**
 * What answers one tools/call of a tool: validates the raw arguments, runs the tool (behind its
 * guard, if any) and returns the result or an `isError` result; it never throws. The SDK calls it
 * for every tools/call, and a transport that answers tools/call itself (transports/directCalls)
 * calls the very same function, so both paths give the same answers.
 */
export type ToolCaller = (rawArgs: unknown, meta: Record<string, unknown> | undefined) => Promise<CallToolResult>;

const callersByServer = new WeakMap<McpServer, Map<string, ToolCaller>>();

/** The tools registered on `server` by registerTools, by name, each as the ToolCaller its tools/call runs. */
export function toolCallers(server: McpServer): ReadonlyMap<string, ToolCaller> {
  return callersByServer.get(server) ?? new Map();
}

/** How registerTools wraps and lists the tools it registers. */
export interface RegisterOptions {
  log?: LogSink;
  observe?: ToolCallObserver;
  guard?: ToolCallGuard;
  /** Every tool the server serves (default: those registered): descriptions name no other. */
  served?: readonly ToolDefinition[];
}

/**
 * Registers `tools` on `server`, each wrapped so that it validates its arguments, runs against
 * `ctx`, and answers `{ content: [text], structuredContent }` or an `isError` result.
 */
export function registerTools(server: McpServer, tools: readonly ToolDefinition[], ctx: ToolContext, options: RegisterOptions = {}): void {
  const { log = stderrLog, observe, guard } = options;
  const served = options.served ?? tools;
  const servedKey = served.map((tool) => tool.name).join(',');
  let callers = callersByServer.get(server);
  if (callers === undefined) callersByServer.set(server, (callers = new Map()));
  for (const tool of tools) {
    const schemas = compiled(tool);
    const guarded = guard?.covers(tool.name) === true ? guard : undefined;
    const call: ToolCaller = async (rawArgs, meta) => {
      const started = observe === undefined ? 0n : process.hrtime.bigint();
      const parsed = schemas.strictInput.safeParse(rawArgs ?? {});
      // Bad arguments are refused before a guard sees the call: nobody pays for a call that cannot run.
      const result = !parsed.success
        ? errorResult(describeIssues(parsed.error.issues, rawArgs))
        : guarded === undefined
          ? await runTool(tool, schemas, parsed.data, ctx, log)
          : await guarded.run({ tool: tool.name, description: tool.description, meta, tenant: ctx.tenant, store: ctx.store }, () => runTool(tool, schemas, parsed.data, ctx, log));
      if (observe !== undefined) {
        const outcome = result.isError ? ((result.structuredContent as { error?: { code?: string } } | undefined)?.error?.code ?? guarded?.answerOutcome ?? 'error') : 'ok';
        observe({ tool: tool.name, outcome, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      }
      return result;
    };
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: describedFor(tool, served, servedKey),
        inputSchema: schemas.listedInput,
        outputSchema: guarded === undefined ? schemas.listedOutput : guardedListing(tool, schemas, guarded),
        // The title is listed once, beside the name; clients read annotations.title only as a fallback.
        annotations: tool.annotations,
      },
      (rawArgs: unknown, sdkCtx?: { mcpReq?: { _meta?: Record<string, unknown> } }) => call(rawArgs, sdkCtx?.mcpReq?._meta),
    );
    callers.set(tool.name, call);
  }
}

/** Descriptions per tool and selection: a hosted server is built per request, for the same few selections. */
const descriptions = new WeakMap<ToolDefinition, Map<string, string>>();

/** The tool's description without the sentences that name a tool outside `served` (whose names `servedKey` joins). */
function describedFor(tool: ToolDefinition, served: readonly ToolDefinition[], servedKey: string): string {
  let byServed = descriptions.get(tool);
  if (byServed === undefined) descriptions.set(tool, (byServed = new Map()));
  let description = byServed.get(servedKey);
  if (description === undefined) byServed.set(servedKey, (description = forServedTools(tool.description, new Set(served.map((t) => t.name)), KNOWN_TOOL_NAMES)));
  return description;
}

/** Listed output schemas of guarded tools, per guard answer schema: they also admit the guard's answers. */
const guardedListings = new WeakMap<object, WeakMap<ToolDefinition, StandardSchemaWithJSON>>();

function guardedListing(tool: ToolDefinition, schemas: CompiledTool, guard: ToolCallGuard): StandardSchemaWithJSON {
  let byTool = guardedListings.get(guard.answerSchema);
  if (byTool === undefined) guardedListings.set(guard.answerSchema, (byTool = new WeakMap()));
  let listing = byTool.get(tool);
  if (listing === undefined) byTool.set(tool, (listing = listedOutputSchema(schemas.output, [guard.answerSchema])));
  return listing;
}

/** A definition's schemas, built once: a hosted server is built per request and must not redo this each time. */
interface CompiledTool {
  /** The arguments, unknown ones rejected. */
  strictInput: z.ZodObject;
  /** A successful result, checked before it is sent. */
  output: z.ZodObject;
  /** What tools/list shows (see listing.ts); the SDK never rejects with these. */
  listedInput: StandardSchemaWithJSON;
  listedOutput: StandardSchemaWithJSON;
}

const compiledTools = new WeakMap<ToolDefinition, CompiledTool>();

function compiled(tool: ToolDefinition): CompiledTool {
  let entry = compiledTools.get(tool);
  if (entry === undefined) {
    const strictInput = z.strictObject(tool.inputSchema);
    // Strict like the listed schema (`additionalProperties: false`): an undeclared field is a bug too.
    const output = z.strictObject(tool.outputSchema);
    entry = { strictInput, output, listedInput: listedInputSchema(strictInput), listedOutput: listedOutputSchema(output) };
    compiledTools.set(tool, entry);
  }
  return entry;
}

/** Runs a tool on arguments already checked against its input schema. */
async function runTool(tool: ToolDefinition, schemas: CompiledTool, args: Record<string, unknown>, ctx: ToolContext, log: LogSink): Promise<CallToolResult> {
  try {
    const result = await tool.handler(args as never, ctx);
    // A result that breaks the declared schema is a bug here, not the caller's: it is never sent.
    // The result itself is sent, not zod's parsed copy (which would drop a payload key `__proto__`).
    const checked = schemas.output.safeParse(result);
    if (!checked.success) {
      log(`allsource: ${tool.name} returned a result that does not match its outputSchema: ${oneLine(z.prettifyError(checked.error))}`);
      return errorResult({ code: 'internal', message: 'unexpected error' });
    }
    const text = tool.render ? tool.render(result, args as never) : `${tool.name}: done`;
    return { content: [{ type: 'text', text }], structuredContent: result };
  } catch (err) {
    return errorResult(describeError(tool, err, log));
  }
}

/** An `isError` result: the text `<code>: <message>`, and the same error as structuredContent. */
function errorResult(error: ToolError): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: `${error.code}: ${error.message}` }], structuredContent: { error: { ...error } } };
}

/**
 * A typed error as the caller should see it: its field translated to the argument they sent, named
 * in the message, and a next step appended (`<message>[. Next: <hint>]`). Anything else is
 * `internal: unexpected error`, whose stack goes to the log only (a stack is noise to the model
 * and may leak paths).
 */
export function describeError(tool: Pick<ToolDefinition, 'name' | 'argumentForField' | 'hints'>, err: unknown, log: LogSink = stderrLog): ToolError {
  if (!isAllSourceError(err)) {
    log(`allsource: ${tool.name} failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return { code: 'internal', message: 'unexpected error' };
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
  const error: ToolError = { code: err.code, message: `${message}${hint ? `. Next: ${hint}` : ''}` };
  if (argument !== undefined) error.field = argument;
  const details = jsonSafe(err.details);
  if (details !== undefined) error.details = details;
  return error;
}

/** A copy of `details` that survives JSON, or nothing (a bigint or a cycle): the message still says what happened. */
function jsonSafe(details: unknown): Record<string, unknown> | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  try {
    const copy: unknown = JSON.parse(JSON.stringify(details));
    return typeof copy === 'object' && copy !== null && !Array.isArray(copy) ? (copy as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const MAX_ISSUES_SHOWN = 3;

/** `invalid`, naming each bad argument on one line (`entity_id: is required; limit: …`); field is the first one. */
function describeIssues(issues: readonly z.core.$ZodIssue[], rawArgs: unknown): ToolError {
  const parts = issues.slice(0, MAX_ISSUES_SHOWN).map((issue) => describeIssue(issue, rawArgs));
  const more = issues.length > MAX_ISSUES_SHOWN ? `; and ${issues.length - MAX_ISSUES_SHOWN} more` : '';
  const error: ToolError = { code: 'invalid', message: parts.join('; ') + more };
  const field = issues.length > 0 ? issueField(issues[0]) : undefined;
  if (field !== undefined) error.field = field;
  return error;
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

/** The argument an issue is about: its path, or for unknown arguments the (first) unknown one. */
function issueField(issue: z.core.$ZodIssue): string | undefined {
  const path = issue.code === 'unrecognized_keys' && issue.keys.length > 0 ? [...issue.path, issue.keys[0].slice(0, 64)] : issue.path;
  return path.length > 0 ? formatPath(path) : undefined;
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
  /** Where export_events may write files (default: `exports` in dataDir). */
  exportDir?: string;
  /** Further directories import_events may read files from, besides the export directory. */
  importDirs?: readonly string[];
  now?: () => number;
  /** Defaults to the package version. */
  version?: string;
  /**
   * Register only this tool when it is among the selected ones: a server built to answer one
   * tools/call. A name outside the selection registers them all, so the answer (tool not found)
   * is the same as a full server's. `null`: register none (a server built for a ping or a
   * notification, which no tool answers).
   */
  onlyTool?: string | null;
  /** The tool definitions to choose from (default: every allsource tool). */
  tools?: readonly ToolDefinition[];
  log?: LogSink;
  /** Told of every tool call once it is answered (the HTTP edge counts and times them). */
  observe?: ToolCallObserver;
  /** Stands around the calls of the tools it covers (the x402 payment flow for priced tools). */
  guard?: ToolCallGuard;
  /**
   * The JSON Schema validator the SDK server uses (for elicitation answers). The SDK makes a new
   * Ajv per server by default, which costs a few milliseconds: the HTTP edge, which builds a
   * server per request, passes one shared validator instead.
   */
  jsonSchemaValidator?: jsonSchemaValidator;
}

/** One answered tool call: the tool, `ok` or the error code, and how long it took. */
export type ToolCallObserver = (call: { tool: string; outcome: string; seconds: number }) => void;

/** The tools a server with these options serves, in registry order. */
export function selectTools(tools: readonly ToolDefinition[], options: { toolsets?: readonly ToolGroup[]; readOnly?: boolean }): ToolDefinition[] {
  const groups = new Set<ToolGroup>(options.toolsets ?? TOOL_GROUPS);
  return tools.filter((tool) => groups.has(tool.group) && !(options.readOnly && tool.writes));
}

/** Every allsource tool's name: a description or the instructions may name any of them. */
const KNOWN_TOOL_NAMES = ALL_TOOLS.map((tool) => tool.name);

/** Instructions per selection of tools (a hosted server is built per request). */
const instructionsBySelection = new Map<string, string>();

/**
 * Builds an MCP server for one tenant of one store. A factory, not a singleton: tests and the
 * hosted transport build as many as they need.
 */
export function createAllsourceServer(options: AllsourceServerOptions): McpServer {
  const now = options.now ?? Date.now;
  const version = options.version ?? packageVersion();
  const exportDir = options.exportDir ?? (options.dataDir === undefined ? undefined : join(options.dataDir, 'exports'));
  const ctx: ToolContext = {
    store: options.store,
    prime: options.prime ?? createPrimeService({ store: options.store, now, log: options.log }),
    tenant: options.tenant,
    now,
    mode: options.mode,
    dataDir: options.dataDir,
    exportDir,
    importDirs: [...(exportDir === undefined ? [] : [exportDir]), ...(options.importDirs ?? [])],
    readOnly: options.readOnly === true,
    startedAt: now(),
    version,
  };
  const tools = options.tools ?? ALL_TOOLS;
  const selected = selectTools(tools, options);
  const selectionKey = selected.map((tool) => tool.name).join(',');
  let instructions = instructionsBySelection.get(selectionKey);
  if (instructions === undefined) instructionsBySelection.set(selectionKey, (instructions = serverInstructions(new Set(selected.map((tool) => tool.name)), KNOWN_TOOL_NAMES)));
  const server = new McpServer({ name: 'allsource', title: 'allsource memory', version }, { instructions, ...(options.jsonSchemaValidator ? { jsonSchemaValidator: options.jsonSchemaValidator } : {}) });
  // An MCP server with no tools answers tools/list with "method not found"; say why instead.
  if (selected.length === 0) throw new InvalidError('toolsets', `${(options.toolsets ?? TOOL_GROUPS).join(', ')}${options.readOnly ? ' (read-only)' : ''} hold no tools`);
  if (options.onlyTool !== null) {
    const only = options.onlyTool === undefined ? undefined : selected.find((tool) => tool.name === options.onlyTool);
    registerTools(server, only === undefined ? selected : [only], ctx, { log: options.log, observe: options.observe, guard: options.guard, served: selected });
  }
  return server;
}
