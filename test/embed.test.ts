// The vector codec and the OpenAI-compatible embedder client. The client runs against a real HTTP
// server on 127.0.0.1 (no mocks), scripted per test to answer like OpenAI, Ollama or a failing proxy.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isErrorCode } from '../src/core/errors.js';
import { checkVector, decodeVector, encodeVector, normalize } from '../src/embed/codec.js';
import { createOpenAiEmbedder, openAiEmbedderFromEnv } from '../src/embed/openaiEmbedder.js';

describe('vector codec', () => {
  it('round-trips float32 values exactly, including extremes and negative zero', () => {
    const v = new Float32Array([0, -0, 1, -1, 0.1, 3.4028234663852886e38, -1.401298464324817e-45, Math.PI]);
    const decoded = decodeVector(encodeVector(v), v.length, 'vector');
    expect(Array.from(decoded)).toEqual(Array.from(v));
    expect(Object.is(decoded[1], -0)).toBe(true);
  });

  it('writes little-endian bytes whatever the host', () => {
    expect(Buffer.from(encodeVector(new Float32Array([1])), 'base64')).toEqual(Buffer.from([0x00, 0x00, 0x80, 0x3f]));
  });

  it('rejects data of the wrong length, non-finite values and non-base64, naming the field', () => {
    const three = encodeVector(new Float32Array([1, 2, 3]));
    expect(() => decodeVector(three, 4, 'nodes[0].vector')).toThrow(/^nodes\[0\]\.vector: expected 4 float32 values/);
    const nan = Buffer.alloc(8);
    nan.writeFloatLE(1, 0);
    nan.writeFloatLE(Number.NaN, 4);
    expect(() => decodeVector(nan.toString('base64'), 2, 'vector')).toThrow(/vector: value 1 is not a finite number/);
    expect(() => decodeVector('not base64!', 2, 'vector')).toThrow(/base64/);
    try {
      decodeVector(three, 2, 'vector');
      expect.unreachable();
    } catch (err) {
      expect(isErrorCode(err, 'invalid')).toBe(true);
      expect((err as { field?: string }).field).toBe('vector');
    }
  });

  it('normalizes in place to unit length and leaves a zero vector at zero', () => {
    const v = new Float32Array([3, 4]);
    expect(normalize(v)).toBe(v);
    expect(v[0]).toBeCloseTo(0.6, 6);
    expect(v[1]).toBeCloseTo(0.8, 6);
    const zero = normalize(new Float32Array(3));
    expect(Array.from(zero)).toEqual([0, 0, 0]);
  });

  it('checks caller-supplied vectors', () => {
    expect(Array.from(checkVector([1, 0.5, -2], 'vector', 3))).toEqual([1, 0.5, -2]);
    expect(() => checkVector([1, 2, 3], 'vector', 384)).toThrow('vector: expected 384 numbers, got 3');
    expect(() => checkVector([], 'vector')).toThrow(/^vector: expected at least one number/);
    expect(() => checkVector('1,2', 'vector')).toThrow(/^vector: expected an array of numbers/);
    expect(() => checkVector(new Array(4097).fill(0), 'vector')).toThrow(/at most 4096/);
    expect(() => checkVector([1, Number.NaN], 'query.vector')).toThrow(/^query\.vector\[1\]: expected a finite number/);
    expect(() => checkVector([1, '2'], 'vector')).toThrow(/^vector\[1\]/);
    expect(() => checkVector([1e39], 'vector')).toThrow(/float32 range/);
  });
});

/** One request as the server saw it. */
interface Seen {
  url: string;
  authorization: string | undefined;
  body: { model: string; input: string[]; encoding_format?: string; dimensions?: number };
}
type Handler = (seen: Seen, res: ServerResponse, callNo: number) => void;

let server: Server;
let base: string;
let seen: Seen[] = [];
let handler: Handler;

/** A deterministic 4-dim vector per text, so tests can tell which input a vector belongs to. */
function fakeVector(text: string): number[] {
  const n = text.length;
  return [n, 1, 0, 0];
}
function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}
/** Answers like OpenAI, with the entries shuffled (reversed) to prove `index` is honoured. */
function answerOk(s: Seen, res: ServerResponse): void {
  const data = s.body.input.map((text, index) => ({ object: 'embedding', index, embedding: fakeVector(text) }));
  json(res, 200, { object: 'list', model: s.body.model, data: data.reverse() });
}
function expectedUnit(text: string): number[] {
  const v = fakeVector(text);
  const norm = Math.hypot(...v);
  return v.map((x) => Math.fround(x / norm));
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: Seen = {
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seen['body'],
      };
      seen.push(entry);
      handler(entry, res, seen.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  seen = [];
  handler = answerOk;
});

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('OpenAI-compatible embedder', () => {
  it('embeds in input order from a shuffled answer, unit length, and learns dims', async () => {
    const embedder = createOpenAiEmbedder({ url: `${base}/v1`, model: 'nomic-embed-text' });
    expect(embedder.dims).toBe(0);
    expect(embedder.name).toBe('openai:nomic-embed-text');
    expect(embedder.kind).toBe('semantic');
    expect(embedder.deterministic).toBe(false);
    expect(embedder.embedSync).toBeUndefined();
    const texts = ['a', 'bbb', 'cc'];
    const vectors = await embedder.embed(texts);
    expect(vectors.map((v) => Array.from(v))).toEqual(texts.map(expectedUnit));
    expect(embedder.dims).toBe(4);
    expect(embedder.describe()).toEqual({ name: 'openai:nomic-embed-text', kind: 'semantic', dims: 4, source: base });
    expect(seen).toHaveLength(1);
    expect(seen[0].url).toBe('/v1/embeddings');
    expect(seen[0].body).toEqual({ model: 'nomic-embed-text', input: texts, encoding_format: 'float' });
  });

  it('sends no request for no texts', async () => {
    const embedder = createOpenAiEmbedder({ url: base, model: 'm' });
    expect(await embedder.embed([])).toEqual([]);
    expect(seen).toHaveLength(0);
  });

  it('batches 150 inputs into 3 sequential requests of at most 64, keeping order', async () => {
    const embedder = createOpenAiEmbedder({ url: `${base}/v1`, model: 'm' });
    const texts = Array.from({ length: 150 }, (_, i) => 'x'.repeat(i + 1));
    const vectors = await embedder.embed(texts);
    expect(seen.map((s) => s.body.input.length)).toEqual([64, 64, 22]);
    expect(vectors).toHaveLength(150);
    expect(Array.from(vectors[149])).toEqual(expectedUnit(texts[149]));
    expect(Array.from(vectors[70])).toEqual(expectedUnit(texts[70]));
  });

  it('sends Authorization only when a key is set, and `dimensions` only when dims is configured', async () => {
    await createOpenAiEmbedder({ url: `${base}/v1`, model: 'm' }).embed(['a']);
    await createOpenAiEmbedder({ url: `${base}/v1`, model: 'm', key: 'sk-test-123', dims: 4 }).embed(['a']);
    expect(seen[0].authorization).toBeUndefined();
    expect(seen[0].body.dimensions).toBeUndefined();
    expect(seen[1].authorization).toBe('Bearer sk-test-123');
    expect(seen[1].body.dimensions).toBe(4);
  });

  it('accepts a base URL with or without a trailing slash and a full /embeddings URL, keeping the query', async () => {
    await createOpenAiEmbedder({ url: `${base}/v1/`, model: 'm' }).embed(['a']);
    await createOpenAiEmbedder({ url: `${base}/v1/embeddings`, model: 'm' }).embed(['a']);
    await createOpenAiEmbedder({ url: `${base}/openai/embeddings?api-version=2024-02-01`, model: 'm' }).embed(['a']);
    await createOpenAiEmbedder({ url: base, model: 'm' }).embed(['a']);
    expect(seen.map((s) => s.url)).toEqual(['/v1/embeddings', '/v1/embeddings', '/openai/embeddings?api-version=2024-02-01', '/embeddings']);
    expect(() => createOpenAiEmbedder({ url: 'localhost:11434', model: 'm' })).toThrow(/^url: must be an http\(s\) URL/);
  });

  it('accepts base64 float32 embeddings and answers without `index`', async () => {
    handler = (s, res) => {
      const data = s.body.input.map((text) => ({ embedding: encodeVectorNumbers(fakeVector(text)) }));
      json(res, 200, { data });
    };
    const vectors = await createOpenAiEmbedder({ url: base, model: 'm' }).embed(['ab', 'abcd']);
    expect(vectors.map((v) => Array.from(v))).toEqual([expectedUnit('ab'), expectedUnit('abcd')]);
  });

  it('retries a 503 after a backoff and then succeeds', async () => {
    handler = (s, res, callNo) => (callNo === 1 ? json(res, 503, { error: 'loading model' }) : answerOk(s, res));
    const started = Date.now();
    const vectors = await createOpenAiEmbedder({ url: base, model: 'm' }).embed(['a']);
    expect(vectors).toHaveLength(1);
    expect(seen).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
  });

  it('honours a numeric Retry-After on 429', async () => {
    handler = (s, res, callNo) => (callNo === 1 ? json(res, 429, { error: 'slow down' }, { 'retry-after': '1' }) : answerOk(s, res));
    const started = Date.now();
    await createOpenAiEmbedder({ url: base, model: 'm' }).embed(['a']);
    expect(seen).toHaveLength(2);
    // The default backoff would be 200 ms; the server asked for a second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('does not retry a 400, and reports the status and a bounded body', async () => {
    handler = (_s, res) => json(res, 400, `{"error":{"message":"input too long"}}${'x'.repeat(1000)}`);
    const err = await rejection(createOpenAiEmbedder({ url: base, model: 'm' }).embed(['a']));
    expect(seen).toHaveLength(1);
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain('HTTP 400');
    expect(err.message).toContain('input too long');
    expect(err.message.length).toBeLessThan(400);
  });

  it('gives up after the retries on persistent 5xx, saying how many attempts', async () => {
    handler = (_s, res) => json(res, 500, 'boom');
    const err = await rejection(createOpenAiEmbedder({ url: base, model: 'm', retries: 1 }).embed(['a']));
    expect(seen).toHaveLength(2);
    expect(err.message).toMatch(/HTTP 500: boom, tried 2 times; allsource does not fall back/);
    expect(err.details).toMatchObject({ status: 500, attempts: 2, endpoint: base });
  });

  it('times out a server that never answers and names the origin, not the path or query', async () => {
    handler = () => {};
    const err = await rejection(createOpenAiEmbedder({ url: `${base}/v1?secret=q`, model: 'm', timeoutMs: 200, retries: 1 }).embed(['a']));
    expect(seen).toHaveLength(2);
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain(`embedding endpoint ${base} did not answer within 200 ms`);
    expect(err.message).toContain('does not fall back');
    expect(err.message).not.toContain('secret');
  });

  it('reports an unreachable endpoint and that there is no fallback', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await rejection(createOpenAiEmbedder({ url: `http://127.0.0.1:${port}/v1`, model: 'm', retries: 1 }).embed(['a']));
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain(`http://127.0.0.1:${port} is unreachable`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('allsource does not fall back to another embedder');
  });

  it('says the key was rejected on 401/403 and never leaks the key', async () => {
    const key = 'sk-very-secret-key-42';
    handler = (_s, res, callNo) => json(res, callNo === 1 ? 401 : 403, { error: `bad key ${key}` });
    const embedder = createOpenAiEmbedder({ url: base, model: 'm', key });
    const first = await rejection(embedder.embed(['a']));
    const second = await rejection(embedder.embed(['a']));
    expect(seen).toHaveLength(2);
    for (const err of [first, second]) {
      expect(err.code).toBe('unavailable');
      expect(err.message).toMatch(/rejected the key \(HTTP 40[13]\); check ALLSOURCE_EMBED_KEY/);
      expect(err.message).not.toContain(key);
    }
    handler = (_s, res) => json(res, 401, { error: 'missing bearer' });
    const keyless = await rejection(createOpenAiEmbedder({ url: base, model: 'm' }).embed(['a']));
    expect(keyless.message).toMatch(/refused the request without a key \(HTTP 401\); set ALLSOURCE_EMBED_KEY/);
  });

  it('redacts the key from an echoed error body', async () => {
    const key = 'sk-echoed-key-7';
    handler = (_s, res) => json(res, 422, { error: `unknown model for key ${key}` });
    const err = await rejection(createOpenAiEmbedder({ url: base, model: 'm', key }).embed(['a']));
    expect(err.message).toContain('HTTP 422');
    expect(err.message).toContain('[redacted]');
    expect(err.message).not.toContain(key);
  });

  it.each([
    ['a body that is not JSON', () => 'not json {', /the body is not JSON/],
    ['no data array', () => ({ object: 'list' }), /`data` array/],
    ['the wrong number of entries', () => ({ data: [{ index: 0, embedding: [1, 0] }] }), /`data` has 1 entries for 2 inputs/],
    ['a NaN-like value', () => ({ data: [0, 1].map((index) => ({ index, embedding: [1, index === 1 ? 'NaN' : 0] })) }), /data\[1\]\.embedding\[1\] is "NaN", not a finite number/],
    ['a null value', () => ({ data: [0, 1].map((index) => ({ index, embedding: [1, null] })) }), /embedding\[1\] is null/],
    ['vectors of two lengths', () => ({ data: [{ index: 0, embedding: [1, 0] }, { index: 1, embedding: [1, 0, 0] }] }), /has 3 numbers, expected 2/],
    ['a duplicate index', () => ({ data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [1] }] }), /index 0 appears twice/],
    ['an index out of range', () => ({ data: [{ index: 0, embedding: [1] }, { index: 5, embedding: [1] }] }), /index is 5/],
  ])('rejects a malformed answer: %s', async (_label, body, pattern) => {
    handler = (_s, res) => json(res, 200, body());
    const err = await rejection(createOpenAiEmbedder({ url: base, model: 'm' }).embed(['a', 'b']));
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain(`embedding endpoint ${base} sent a malformed response`);
    expect(err.message).toMatch(pattern);
    expect(seen).toHaveLength(1);
  });

  it('rejects a later answer of a different length than the first', async () => {
    let length = 4;
    handler = (s, res) => json(res, 200, { data: s.body.input.map((_t, index) => ({ index, embedding: new Array(length).fill(1) })) });
    const embedder = createOpenAiEmbedder({ url: base, model: 'm' });
    await embedder.embed(['a']);
    expect(embedder.dims).toBe(4);
    length = 8;
    const err = await rejection(embedder.embed(['a']));
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/has 8 numbers, expected 4 like its earlier answers/);
    expect(embedder.dims).toBe(4);
  });

  it('rejects an answer that ignores configured dims', async () => {
    const embedder = createOpenAiEmbedder({ url: base, model: 'm', dims: 2 });
    expect(embedder.dims).toBe(2);
    const err = await rejection(embedder.embed(['a']));
    expect(err.message).toMatch(/has 4 numbers, expected 2 as configured by ALLSOURCE_EMBED_DIMS/);
  });

  it('rejects unusable options naming the option', () => {
    expect(() => createOpenAiEmbedder({ url: base, model: '' })).toThrow(/^model:/);
    expect(() => createOpenAiEmbedder({ url: base, model: 'm', batchSize: 0 })).toThrow(/^batchSize:/);
    expect(() => createOpenAiEmbedder({ url: base, model: 'm', dims: 1.5 })).toThrow(/^dims:/);
    expect(() => createOpenAiEmbedder({ url: base, model: 'm', retries: -1 })).toThrow(/^retries:/);
  });
});

describe('openAiEmbedderFromEnv', () => {
  it('is undefined when ALLSOURCE_EMBED_URL is unset or empty', () => {
    expect(openAiEmbedderFromEnv({})).toBeUndefined();
    expect(openAiEmbedderFromEnv({ ALLSOURCE_EMBED_URL: '  ', ALLSOURCE_EMBED_MODEL: 'm' })).toBeUndefined();
  });

  it('requires ALLSOURCE_EMBED_MODEL when the URL is set', () => {
    try {
      openAiEmbedderFromEnv({ ALLSOURCE_EMBED_URL: 'http://localhost:11434/v1' });
      expect.unreachable();
    } catch (err) {
      expect(isErrorCode(err, 'invalid')).toBe(true);
      expect((err as { field?: string }).field).toBe('ALLSOURCE_EMBED_MODEL');
    }
  });

  it.each(['0', '-3', '1.5', 'abc', '99999'])('rejects ALLSOURCE_EMBED_DIMS=%s', (dims) => {
    expect(() => openAiEmbedderFromEnv({ ALLSOURCE_EMBED_URL: 'http://localhost:11434/v1', ALLSOURCE_EMBED_MODEL: 'm', ALLSOURCE_EMBED_DIMS: dims })).toThrow(
      /^ALLSOURCE_EMBED_DIMS:/,
    );
  });

  it('rejects a URL that is not http(s), naming the variable', () => {
    expect(() => openAiEmbedderFromEnv({ ALLSOURCE_EMBED_URL: 'ftp://x/v1', ALLSOURCE_EMBED_MODEL: 'm' })).toThrow(/^ALLSOURCE_EMBED_URL:/);
  });

  it('builds a working embedder from the variables', async () => {
    const embedder = openAiEmbedderFromEnv({
      ALLSOURCE_EMBED_URL: `${base}/v1`,
      ALLSOURCE_EMBED_MODEL: 'text-embedding-3-small',
      ALLSOURCE_EMBED_KEY: 'sk-env',
      ALLSOURCE_EMBED_DIMS: '4',
    });
    expect(embedder?.describe()).toEqual({ name: 'openai:text-embedding-3-small', kind: 'semantic', dims: 4, source: base });
    await embedder?.embed(['hello']);
    expect(seen[0].authorization).toBe('Bearer sk-env');
    expect(seen[0].body.dimensions).toBe(4);
  });
});

function encodeVectorNumbers(values: number[]): string {
  return encodeVector(new Float32Array(values));
}
