// One keep-alive connection pool to a Core server (undici), shared by HttpCore and the admin
// client: bearer key, timeouts, bounded retries of calls that are safe to repeat, and errors
// rebuilt from the wire so they carry the server's code, field and details.

import { Pool } from 'undici';
import { AllSourceError, errorFromWire, isAllSourceError, UnavailableError } from '../errors.js';

export interface CoreConnectionOptions {
  /** The Core's base URL, e.g. `http://127.0.0.1:3900` (a path prefix is kept). */
  url: string;
  /** A tenant key or the admin key; omit only for a Core run with `--insecure-local`. */
  key?: string;
  /** Keep-alive connections to the Core (default 64). */
  connections?: number;
  /** Per-request timeout in ms, on top of a watch's own wait (default 30000). */
  timeoutMs?: number;
  /** How long retryable calls keep retrying, in ms (default 10000). */
  retryForMs?: number;
  /** Reach the Core over this unix socket (the url's host is then only the Host header). */
  socketPath?: string;
}

export interface CallOptions {
  /** JSON text, or raw bytes (sent as application/octet-stream). */
  body?: string | Uint8Array;
  /** Safe to send again after a lost connection or a 503. */
  retryable: boolean;
  /** Extra time the server may legitimately take (a watch's wait). */
  waitMs?: number;
  /** Headers for this call only (e.g. another key's Authorization). */
  headers?: Record<string, string>;
}

export class CoreConnection {
  private readonly pool: Pool;
  /** Path of /api/v1 on the server (after any prefix of the URL). */
  readonly base: string;
  readonly origin: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly retryForMs: number;
  private closed = false;

  constructor(options: CoreConnectionOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new AllSourceError('invalid', `url: ${JSON.stringify(options.url)} is not a URL (e.g. http://127.0.0.1:3900)`, { field: 'url' });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new AllSourceError('invalid', 'url: must be http:// or https://', { field: 'url' });
    this.origin = parsed.origin;
    this.base = `${parsed.pathname.replace(/\/+$/, '')}/api/v1`;
    this.pool = new Pool(parsed.origin, { connections: options.connections ?? 64, keepAliveTimeout: 30_000, ...(options.socketPath === undefined ? {} : { socketPath: options.socketPath }) });
    this.headers = { accept: 'application/json', ...(options.key ? { authorization: `Bearer ${options.key}` } : {}) };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retryForMs = options.retryForMs ?? 10_000;
  }

  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: CallOptions): Promise<T> {
    const { body } = await this.callRaw(method, path, options);
    return JSON.parse(body.toString('utf8')) as T;
  }

  /** A call whose answer is bytes (a derived artifact), with the answer's headers. */
  async callRaw(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: CallOptions): Promise<{ body: Buffer; headers: Record<string, string | string[] | undefined> }> {
    if (this.closed) throw new UnavailableError('the HttpCore client is closed');
    const giveUpAt = Date.now() + this.retryForMs;
    const timeout = this.timeoutMs + (options.waitMs ?? 0);
    for (let attempt = 0; ; attempt++) {
      let failure: AllSourceError;
      try {
        const response = await this.pool.request({
          method,
          path,
          headers: { ...this.headers, ...(options.body === undefined ? {} : { 'content-type': typeof options.body === 'string' ? 'application/json' : 'application/octet-stream' }), ...options.headers },
          body: options.body,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
        const bytes = Buffer.from(await response.body.arrayBuffer());
        if (response.statusCode < 300) return { body: bytes, headers: response.headers };
        failure = wireError(response.statusCode, bytes.toString('utf8'));
        if (!(options.retryable && response.statusCode === 503)) throw failure;
      } catch (err) {
        if (isAllSourceError(err)) throw err;
        if (this.closed) throw new UnavailableError('the HttpCore client is closed');
        const reason = (err as { code?: string }).code ?? (err as Error).message;
        failure = new UnavailableError(
          `the Core at ${this.origin} did not answer (${reason})${options.retryable ? '' : '; a write may or may not have taken effect (appends whose events all carry an id are safe to retry)'}`,
          { cause: err },
        );
        if (!options.retryable) throw failure;
      }
      const delay = Math.min(50 * 2 ** attempt, 1000);
      if (Date.now() + delay > giveUpAt) throw failure;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}

/** The error a non-2xx answer carries; a body that is not ours (a proxy's page) still gets a code. */
function wireError(status: number, text: string): AllSourceError {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === 'object' && body.error !== null) return errorFromWire(body.error as Record<string, unknown>);
  } catch {
    // not JSON: fall through
  }
  const code = status === 401 ? 'unauthorized' : status === 404 ? 'not_found' : status === 429 ? 'quota_exceeded' : status >= 500 ? 'unavailable' : 'invalid';
  return new AllSourceError(code, `the Core answered HTTP ${status}: ${text.slice(0, 200)}`);
}
