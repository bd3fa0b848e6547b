// How the CLI reports a failure: one line on stderr, `error: <code>: <message>`, and an exit code.
// Typed store errors keep their stable code; anything else is `internal`. No stack trace is ever
// printed unless ALLSOURCE_DEBUG=1.

import { isAllSourceError } from '../core/errors.js';

/** Thrown (after the command has reported what it finished) when Ctrl-C stopped it; exits 130. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'InterruptedError';
  }
}

/** Exit codes of the CLI. Usage errors (exit 2) are reported by commander itself. */
export const EXIT = { ok: 0, error: 1, usage: 2, interrupted: 130 } as const;

/**
 * Writes the report for `err` to `stderr` and returns the exit code to use.
 * `debug` adds the stack (and the cause chain) for people debugging allsource itself.
 */
export function reportError(err: unknown, debug: boolean, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof InterruptedError) {
    stderr.write('interrupted\n');
    return EXIT.interrupted;
  }
  if (isAllSourceError(err)) {
    // Errors rebuilt from a wire may not repeat their field in the message; name it then.
    const field = err.field !== undefined && !err.message.includes(err.field) ? ` (field: ${err.field})` : '';
    stderr.write(`error: ${err.code}: ${oneLine(err.message)}${field}\n`);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    stderr.write(`error: internal: ${oneLine(message)}\n`);
  }
  if (debug) stderr.write(`${describeStack(err)}\n`);
  return EXIT.error;
}

/** True when ALLSOURCE_DEBUG asks for stack traces. */
export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.ALLSOURCE_DEBUG === '1' || env.ALLSOURCE_DEBUG === 'true';
}

// A message with newlines would break the one-line contract (and could forge extra "error:" lines).
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

function describeStack(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? String(current)) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}
