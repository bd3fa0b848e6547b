// Vector codec and checks shared by every embedder and by callers that supply their own vectors.
// Stored vectors are little-endian float32 bytes in base64: compact, exact, and the same byte
// order on every machine (a Float32Array's own bytes follow the host's endianness).

import { InvalidError } from '../core/errors.js';

/** Longest vector allsource accepts, from a caller or an endpoint (the largest common models give 4096). */
export const MAX_VECTOR_DIMS = 4096;

const FLOAT32_BYTES = 4;
// Standard or URL-safe alphabet, optional padding. Buffer.from would silently skip anything else,
// turning a corrupt string into a wrong-but-plausible vector.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Encodes `v` as base64 of its little-endian float32 bytes; `decodeVector` restores it exactly. */
export function encodeVector(v: Float32Array): string {
  const bytes = Buffer.allocUnsafe(v.length * FLOAT32_BYTES);
  for (let i = 0; i < v.length; i++) bytes.writeFloatLE(v[i], i * FLOAT32_BYTES);
  return bytes.toString('base64');
}

/**
 * Decodes what `encodeVector` produced (or an OpenAI-style base64 embedding).
 * Throws InvalidError(`field`) unless it holds exactly `dims` finite float32 values.
 */
export function decodeVector(data: string, dims: number, field: string): Float32Array {
  if (typeof data !== 'string' || !BASE64.test(data)) throw new InvalidError(field, 'expected base64 float32 data');
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length !== dims * FLOAT32_BYTES) {
    throw new InvalidError(field, `expected ${dims} float32 values (${dims * FLOAT32_BYTES} bytes), got ${bytes.length} bytes`, {
      expected: dims,
      bytes: bytes.length,
    });
  }
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) {
    const x = bytes.readFloatLE(i * FLOAT32_BYTES);
    if (!Number.isFinite(x)) throw new InvalidError(field, `value ${i} is not a finite number`);
    v[i] = x;
  }
  return v;
}

/** Scales `v` to unit length in place and returns it. A zero vector has no direction and stays zero. */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  // Accumulated in float64, so float32 values cannot overflow the sum.
  const norm = Math.sqrt(sum);
  if (norm === 0 || !Number.isFinite(norm)) return v;
  for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}

/**
 * Checks a caller-supplied vector: a non-empty array of at most MAX_VECTOR_DIMS finite numbers,
 * each representable as float32, and exactly `dims` of them when given. Returns a copy as
 * float32, not normalized (the caller decides). Errors name `field` or `field[i]`.
 */
export function checkVector(values: unknown, field: string, dims?: number): Float32Array {
  if (!Array.isArray(values)) throw new InvalidError(field, 'expected an array of numbers');
  if (values.length === 0) throw new InvalidError(field, 'expected at least one number, got an empty array');
  if (dims !== undefined && values.length !== dims) {
    throw new InvalidError(field, `expected ${dims} numbers, got ${values.length}`, { expected: dims, actual: values.length });
  }
  if (values.length > MAX_VECTOR_DIMS) {
    throw new InvalidError(field, `expected at most ${MAX_VECTOR_DIMS} numbers, got ${values.length}`);
  }
  const v = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x: unknown = values[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new InvalidError(`${field}[${i}]`, 'expected a finite number');
    v[i] = x;
    // A finite double beyond ±3.4e38 becomes Infinity as float32.
    if (!Number.isFinite(v[i])) throw new InvalidError(`${field}[${i}]`, 'number is out of float32 range');
  }
  return v;
}
