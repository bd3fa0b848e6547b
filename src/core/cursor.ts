// Opaque paging cursors. A cursor is base64url JSON naming where the last page stopped and a
// fingerprint of the query it belongs to, so it cannot be replayed against a different query.

import { createHash } from 'node:crypto';
import { InvalidError } from './errors.js';

export interface CursorBody {
  /** Last key returned: a position (events) or a name (entities, event types). */
  k: number | string;
  /** Fingerprint of the query the cursor belongs to. */
  q: string;
}

/** A short, stable fingerprint of the parts of a query that must not change between pages. */
export function queryFingerprint(parts: unknown): string {
  return createHash('sha1').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

export function encodeCursor(body: CursorBody): string {
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** Decodes a cursor for the query with `fingerprint`; any mismatch is an `invalid` error on `field`. */
export function decodeCursor(cursor: unknown, fingerprint: string, field: string, keyType: 'number' | 'string'): number | string {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw new InvalidError(field, 'is not a cursor returned by this store (pass next_cursor from the previous page unchanged)');
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidError(field, 'is not a cursor returned by this store (pass next_cursor from the previous page unchanged)');
  }
  const k = (body as CursorBody | null)?.k;
  const q = (body as CursorBody | null)?.q;
  const keyOk = keyType === 'number' ? typeof k === 'number' && Number.isSafeInteger(k) && k >= 0 : typeof k === 'string';
  if (!keyOk || typeof q !== 'string') {
    throw new InvalidError(field, 'is not a cursor returned by this store (pass next_cursor from the previous page unchanged)');
  }
  if (q !== fingerprint) {
    throw new InvalidError(field, 'belongs to a different query; repeat the same filters and order when paging');
  }
  return k as number | string;
}
