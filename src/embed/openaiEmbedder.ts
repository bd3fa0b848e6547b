// The semantic embedder: a client for any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI,
// Ollama, vLLM, …). It batches, retries transient failures with backoff, validates every answer
// and fails loudly. It never falls back to another embedder: vectors from two models in one index
// are not comparable, so a silent fallback would make recall quietly wrong.

import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { AllSourceError, InvalidError, UnavailableError } from '../core/errors.js';
import { decodeVector, MAX_VECTOR_DIMS, normalize } from './codec.js';
import type { Embedder, EmbedderInfo } from './types.js';

export interface OpenAiEmbedderOptions {
  /** Base URL (`http://localhost:11434/v1`) or the full endpoint (`https://api.openai.com/v1/embeddings`). */
  url: string;
  /** Model name sent with every request, e.g. `text-embedding-3-small` or `nomic-embed-text`. */
  model: string;
  /** Sent as `Authorization: Bearer <key>`; omitted for local servers that need none. */
  key?: string;
  /** Requested vector length (sent as `dimensions`); unset means whatever the model returns. */
  dims?: number;
  /** Texts per request; requests go one after another. Default 64. */
  batchSize?: number;
  /** Limit for one request, from sending to the last byte of the answer. Default 30000 ms. */
  timeoutMs?: number;
  /** Extra attempts after a network error, timeout, 408, 429 or 5xx. Default 3. */
  retries?: number;
}

const DEFAULT_BATCH_SIZE = 64;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const BACKOFF_BASE_MS = 200;
// A server asking for a longer pause than this is effectively down; waiting would only stall the caller.
const MAX_RETRY_AFTER_MS = 10_000;
const MAX_BODY_SNIPPET = 200;
const NO_FALLBACK = 'allsource does not fall back to another embedder';

/** One failed attempt, before deciding whether to retry. */
interface AttemptFailure {
  retryable: boolean;
  /** The server's Retry-After, in ms, when it sent a numeric one. */
  retryAfterMs?: number;
  /** What went wrong, without the endpoint prefix or the attempt count. */
  problem: string;
  /** A message already complete (auth failures read better without the generic framing). */
  final?: string;
  status?: number;
  cause?: unknown;
}

type AttemptResult = { ok: true; json: unknown } | { ok: false; failure: AttemptFailure };

/** Builds the client. Throws InvalidError naming the option when an option is unusable. */
export function createOpenAiEmbedder(options: OpenAiEmbedderOptions): Embedder {
  const endpoint = embeddingsUrl(options.url, 'url');
  const origin = endpoint.origin;
  const model = options.model;
  if (typeof model !== 'string' || model.trim() === '') throw new InvalidError('model', 'must be a non-empty model name');
  const key = options.key === undefined || options.key === '' ? undefined : options.key;
  const configuredDims = options.dims === undefined ? undefined : checkCount(options.dims, 'dims', 1, MAX_VECTOR_DIMS);
  const batchSize = checkCount(options.batchSize ?? DEFAULT_BATCH_SIZE, 'batchSize', 1, 2048);
  const timeoutMs = checkCount(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs', 1, 600_000);
  const retries = checkCount(options.retries ?? DEFAULT_RETRIES, 'retries', 0, 10);
  const name = `openai:${model}`;
  let learnedDims = configuredDims ?? 0;

  /** Removes the key from anything that came back from the server or the network stack. */
  function redact(text: string): string {
    return key === undefined ? text : text.split(key).join('[redacted]');
  }

  async function attempt(texts: readonly string[]): Promise<AttemptResult> {
    const body: Record<string, unknown> = { model, input: texts, encoding_format: 'float' };
    if (configuredDims !== undefined) body.dimensions = configuredDims;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (key !== undefined) headers.authorization = `Bearer ${key}`;

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const response = await request(endpoint, { method: 'POST', headers, body: JSON.stringify(body), signal: controller.signal });
      // Read the whole body under the same timer: a server that stalls mid-answer is also a timeout.
      const text = await response.body.text();
      const status = response.statusCode;
      if (status >= 200 && status < 300) {
        try {
          return { ok: true, json: JSON.parse(text) as unknown };
        } catch {
          throw malformed(`the body is not JSON: ${snippet(text)}`);
        }
      }
      if (status === 401 || status === 403) {
        const final =
          key === undefined
            ? `embedding endpoint ${origin} refused the request without a key (HTTP ${status}); set ALLSOURCE_EMBED_KEY`
            : `embedding endpoint ${origin} rejected the key (HTTP ${status}); check ALLSOURCE_EMBED_KEY`;
        return { ok: false, failure: { retryable: false, problem: '', final, status } };
      }
      const retryable = status === 408 || status === 429 || status >= 500;
      const failure: AttemptFailure = { retryable, problem: `answered HTTP ${status}: ${snippet(text)}`, status };
      const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
      if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
      return { ok: false, failure };
    } catch (err) {
      if (err instanceof AllSourceError) throw err;
      const problem = timedOut ? `did not answer within ${timeoutMs} ms` : `is unreachable (${redact(describeCause(err))})`;
      return { ok: false, failure: { retryable: true, problem, cause: err } };
    } finally {
      clearTimeout(timer);
    }
  }

  function snippet(text: string): string {
    // Redact before cutting, so a key straddling the cut cannot leave a recognisable prefix.
    const clean = redact(text).trim();
    if (clean === '') return '(empty body)';
    return clean.length > MAX_BODY_SNIPPET ? `${clean.slice(0, MAX_BODY_SNIPPET)}…` : clean;
  }

  function malformed(what: string): UnavailableError {
    return new UnavailableError(`embedding endpoint ${origin} sent a malformed response: ${what}; ${NO_FALLBACK}`, {
      details: { endpoint: origin, model },
    });
  }

  async function post(texts: readonly string[]): Promise<unknown> {
    for (let attemptNo = 1; ; attemptNo++) {
      const result = await attempt(texts);
      if (result.ok) return result.json;
      const { failure } = result;
      if (!failure.retryable || attemptNo > retries) {
        const tries = attemptNo > 1 ? `, tried ${attemptNo} times` : '';
        const message = failure.final ?? `embedding endpoint ${origin} ${failure.problem}${tries}; ${NO_FALLBACK}`;
        const details: Record<string, unknown> = { endpoint: origin, model, attempts: attemptNo };
        if (failure.status !== undefined) details.status = failure.status;
        throw new UnavailableError(message, { details, cause: failure.cause });
      }
      const backoffMs = BACKOFF_BASE_MS * 2 ** (attemptNo - 1);
      await sleep(failure.retryAfterMs ?? backoffMs);
    }
  }

  /** Checks one answer and returns its vectors in input order, unit length. */
  function readVectors(json: unknown, count: number): Float32Array[] {
    if (typeof json !== 'object' || json === null || !Array.isArray((json as { data?: unknown }).data)) {
      throw malformed('expected an object with a `data` array');
    }
    const data = (json as { data: unknown[] }).data;
    if (data.length !== count) throw malformed(`\`data\` has ${data.length} entries for ${count} inputs`);
    const vectors: Float32Array[] = new Array<Float32Array>(count);
    let expected = learnedDims;
    for (let position = 0; position < count; position++) {
      const entry = data[position];
      if (typeof entry !== 'object' || entry === null) throw malformed(`data[${position}] is not an object`);
      const { index, embedding } = entry as { index?: unknown; embedding?: unknown };
      // OpenAI documents `index` and may answer out of order; a server that omits it answers in order.
      const slot = index === undefined ? position : index;
      if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 0 || slot >= count) {
        throw malformed(`data[${position}].index is ${JSON.stringify(slot)}, expected an integer from 0 to ${count - 1}`);
      }
      if (vectors[slot] !== undefined) throw malformed(`index ${slot} appears twice in \`data\``);
      const vector = readEmbedding(embedding, `data[${position}].embedding`);
      if (vector.length === 0) throw malformed(`data[${position}].embedding is empty`);
      if (vector.length > MAX_VECTOR_DIMS) {
        throw malformed(`data[${position}].embedding has ${vector.length} numbers; allsource accepts at most ${MAX_VECTOR_DIMS}`);
      }
      if (expected === 0) expected = vector.length;
      if (vector.length !== expected) {
        const why =
          configuredDims !== undefined
            ? 'as configured by ALLSOURCE_EMBED_DIMS (does this model support `dimensions`?)'
            : learnedDims !== 0
              ? 'like its earlier answers (did the model behind the endpoint change?)'
              : 'like the other vectors of the same answer';
        throw malformed(`data[${position}].embedding has ${vector.length} numbers, expected ${expected} ${why}`);
      }
      vectors[slot] = normalize(vector);
    }
    return vectors;
  }

  function readEmbedding(embedding: unknown, where: string): Float32Array {
    if (typeof embedding === 'string') {
      const bytes = Buffer.byteLength(embedding, 'base64');
      if (bytes % 4 !== 0) throw malformed(`${where} is base64 of ${bytes} bytes, not whole float32 values`);
      try {
        return decodeVector(embedding, bytes / 4, where);
      } catch (err) {
        throw malformed(err instanceof Error ? err.message : String(err));
      }
    }
    if (!Array.isArray(embedding)) throw malformed(`${where} is not an array of numbers`);
    const vector = new Float32Array(embedding.length);
    for (let i = 0; i < embedding.length; i++) {
      const x: unknown = embedding[i];
      if (typeof x !== 'number' || !Number.isFinite(x)) throw malformed(`${where}[${i}] is ${JSON.stringify(x) ?? String(x)}, not a finite number`);
      vector[i] = x;
    }
    return vector;
  }

  return {
    name,
    kind: 'semantic',
    deterministic: false,
    get dims(): number {
      return learnedDims;
    },
    async embed(texts: readonly string[]): Promise<Float32Array[]> {
      const out: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += batchSize) {
        const batch = texts.slice(start, start + batchSize);
        const vectors = readVectors(await post(batch), batch.length);
        if (learnedDims === 0) learnedDims = vectors[0].length;
        out.push(...vectors);
      }
      return out;
    },
    describe(): EmbedderInfo {
      return { name, kind: 'semantic', dims: learnedDims, source: origin };
    },
  };
}

/**
 * The embedder configured by ALLSOURCE_EMBED_URL, _MODEL, _KEY and _DIMS, or undefined when
 * ALLSOURCE_EMBED_URL is unset (the caller then uses the offline embedder). Throws InvalidError
 * naming the variable when the configuration is incomplete or malformed.
 */
export function openAiEmbedderFromEnv(env: NodeJS.ProcessEnv): Embedder | undefined {
  const url = env.ALLSOURCE_EMBED_URL?.trim();
  if (url === undefined || url === '') return undefined;
  embeddingsUrl(url, 'ALLSOURCE_EMBED_URL');
  const model = env.ALLSOURCE_EMBED_MODEL?.trim();
  if (model === undefined || model === '') {
    throw new InvalidError('ALLSOURCE_EMBED_MODEL', 'must name the embedding model when ALLSOURCE_EMBED_URL is set (e.g. text-embedding-3-small, nomic-embed-text)');
  }
  const key = env.ALLSOURCE_EMBED_KEY?.trim();
  const rawDims = env.ALLSOURCE_EMBED_DIMS?.trim();
  let dims: number | undefined;
  if (rawDims !== undefined && rawDims !== '') {
    if (!/^\d+$/.test(rawDims)) throw new InvalidError('ALLSOURCE_EMBED_DIMS', `must be a positive integer, got ${JSON.stringify(rawDims)}`);
    dims = checkCount(Number(rawDims), 'ALLSOURCE_EMBED_DIMS', 1, MAX_VECTOR_DIMS);
  }
  return createOpenAiEmbedder({ url, model, key: key === '' ? undefined : key, dims });
}

/** Accepts a base URL (`…/v1`) or the full `…/embeddings` URL; keeps any query string (e.g. an API version). */
function embeddingsUrl(raw: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidError(field, 'must be an http(s) URL such as http://localhost:11434/v1');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidError(field, `must be an http(s) URL, got ${url.protocol}`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/embeddings') ? path : `${path}/embeddings`;
  return url;
}

function checkCount(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidError(field, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Retry-After in seconds (the HTTP-date form is rare from these servers and is ignored). */
function parseRetryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return undefined;
  return Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS);
}

/** A network error's code and message (undici wraps some in `cause`). */
function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const inner = err.cause instanceof Error ? err.cause : undefined;
  const code = (err as { code?: unknown }).code ?? (inner as { code?: unknown } | undefined)?.code;
  const message = inner !== undefined && err.message === 'fetch failed' ? inner.message : err.message;
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
