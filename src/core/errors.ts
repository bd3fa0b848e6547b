// The one error family of allsource. Every adapter (EmbeddedCore, HttpCore, …) throws these, and
// callers check `code`, never the prototype, so an error rebuilt from the wire behaves the same.

/** Stable error codes. They appear on every wire (MCP results, REST bodies, CLI stderr). */
export type ErrorCode =
  | 'invalid'
  | 'not_found'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'payment_required'
  | 'quota_exceeded'
  | 'unavailable'
  | 'internal';

export interface AllSourceErrorOptions {
  /** The input field the error is about, as the caller spelled it (e.g. `events[2].entity_id`). */
  field?: string;
  /** Machine-readable extra facts (e.g. expected and actual versions of a conflict). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** Base class of every typed error. `code` is the contract; the message is for people. */
export class AllSourceError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: AllSourceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AllSourceError';
    this.code = code;
    if (options.field !== undefined) this.field = options.field;
    if (options.details !== undefined) this.details = options.details;
  }

  /** The wire form: what REST bodies and MCP results carry. */
  toJSON(): { code: ErrorCode; message: string; field?: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, field: this.field, details: this.details };
  }
}

/** Bad input. Always names the offending field; nothing was written. */
export class InvalidError extends AllSourceError {
  constructor(field: string, message: string, details?: Record<string, unknown>) {
    super('invalid', `${field}: ${message}`, { field, details });
    this.name = 'InvalidError';
  }
}

export class NotFoundError extends AllSourceError {
  constructor(message: string, options: AllSourceErrorOptions = {}) {
    super('not_found', message, options);
    this.name = 'NotFoundError';
  }
}

/** An optimistic-concurrency or idempotency clash. `details` carries expected and actual. */
export class ConflictError extends AllSourceError {
  constructor(message: string, options: AllSourceErrorOptions = {}) {
    super('conflict', message, options);
    this.name = 'ConflictError';
  }
}

/** The store cannot serve the call right now (closed, failed disk, directory held by another process). */
export class UnavailableError extends AllSourceError {
  constructor(message: string, options: AllSourceErrorOptions = {}) {
    super('unavailable', message, options);
    this.name = 'UnavailableError';
  }
}

/** The credentials are valid but do not allow this call (a read-only key writing). */
export class ForbiddenError extends AllSourceError {
  constructor(message: string, options: AllSourceErrorOptions = {}) {
    super('forbidden', message, options);
    this.name = 'ForbiddenError';
  }
}

/** Missing, malformed, unknown or revoked credentials. */
export class UnauthorizedError extends AllSourceError {
  constructor(message: string, options: AllSourceErrorOptions = {}) {
    super('unauthorized', message, options);
    this.name = 'UnauthorizedError';
  }
}

/** True when `err` is an allsource error with the given code (checked by code, not prototype). */
export function isErrorCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code && err instanceof Error;
}

/** True for any typed allsource error, including one rebuilt from the wire. */
export function isAllSourceError(err: unknown): err is AllSourceError {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && ERROR_CODES.has(code as ErrorCode);
}

/** Every error code, in a stable order (schemas enumerate them). */
export const ERROR_CODE_LIST: readonly ErrorCode[] = ['invalid', 'not_found', 'conflict', 'unauthorized', 'forbidden', 'payment_required', 'quota_exceeded', 'unavailable', 'internal'];

const ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(ERROR_CODE_LIST);

/** Rebuilds a typed error from its wire form (used by HttpCore and the CLI). */
export function errorFromWire(body: { code?: unknown; message?: unknown; field?: unknown; details?: unknown }): AllSourceError {
  const code = typeof body.code === 'string' && ERROR_CODES.has(body.code as ErrorCode) ? (body.code as ErrorCode) : 'internal';
  const message = typeof body.message === 'string' ? body.message : 'unknown error';
  const field = typeof body.field === 'string' ? body.field : undefined;
  const details = typeof body.details === 'object' && body.details !== null ? (body.details as Record<string, unknown>) : undefined;
  return new AllSourceError(code, message, { field, details });
}
