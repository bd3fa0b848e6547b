// The tool contract: what a tool definition is, what its handler may use, and what an error
// result carries. Types only, in a module of their own, so the tool groups, `defineTool` and the
// registry all depend on it and never on each other (the registry imports the groups).

import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { ErrorCode } from '../src/core/errors.js';
import type { EventStore } from '../src/core/types.js';
import type { PrimeService } from '../src/prime/types.js';
import type { ToolGroup } from './groups.js';

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
  /** Where export_events may write files (local mode only; none: it writes none). */
  exportDir?: string;
  /** Where import_events may read files: the export directory and any `--import-dir` (local mode only). */
  importDirs?: readonly string[];
  /** The server hides its writing tools: no tool writes anything, not even a file. */
  readOnly?: boolean;
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
  /** The shape of a successful result; the listed outputSchema also admits a ToolErrorContent. */
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

/**
 * The error of an `isError` result, as data: the same facts as its text `<code>: <message>`, plus
 * the argument it names and machine-readable details. It is the wire form of an AllSourceError, so
 * `errorFromWire` rebuilds the typed error from it.
 */
export interface ToolError {
  /** The stable error code; `internal` for anything unexpected. */
  code: ErrorCode;
  /** What went wrong, for people and models: the text after `<code>: `, next-step hint included. */
  message: string;
  /** The argument the error is about, as the caller spelled it (e.g. `events[2].entity_id`). */
  field?: string;
  /** Machine-readable extra facts, JSON-safe (e.g. a conflict's expected and actual versions). */
  details?: Record<string, unknown>;
}

/** The structuredContent of every `isError` result. */
export interface ToolErrorContent {
  error: ToolError;
}

/** Where diagnostics go: stderr by default (stdout is the protocol channel in stdio mode). */
export type LogSink = (line: string) => void;

/** One call as a ToolCallGuard sees it: its arguments are already valid, nothing has run yet. */
export interface GuardedToolCall {
  tool: string;
  /** The tool's description (a guard may quote it, e.g. as a PaymentRequired resource description). */
  description: string;
  /** The request's `_meta`. */
  meta: Record<string, unknown> | undefined;
  tenant: string;
  store: EventStore;
}

/**
 * Something that stands around the calls of some tools (the x402 payment flow): it may answer
 * instead of the tool, or run it (`proceed`) and change the result. Its own answers' structured
 * content matches `answerSchema`, which a covered tool's listed outputSchema then also admits.
 */
export interface ToolCallGuard {
  covers(tool: string): boolean;
  answerSchema: Record<string, unknown>;
  /** The outcome its own error answers are counted as (metrics, access logs), e.g. `payment_required`. */
  answerOutcome: string;
  run(call: GuardedToolCall, proceed: () => Promise<CallToolResult>): Promise<CallToolResult>;
}
