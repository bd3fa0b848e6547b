// What the Core REST API and HttpCore agree on besides the routes: which HTTP status each error
// code travels with, how typed values ride in a query string, and how an artifact's meta rides
// in a header.

import type { ArtifactMeta } from '../artifacts.js';
import type { ErrorCode } from '../errors.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** A host name (as in a URL or a Host header, IPv6 with or without brackets) that only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host.replace(/^\[(.*)\]$/, '$1'));
}

/** Whether a URL points at this machine; false for anything that is not a URL. */
export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** The header a GET of an artifact carries its meta in (the body is the bytes). */
export const ARTIFACT_META_HEADER = 'x-artifact-meta';

/** An artifact's meta as a header value: JSON with anything outside printable ASCII escaped. */
export function encodeMetaHeader(meta: ArtifactMeta): string {
  return JSON.stringify(meta).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Most appends one bulk request (`POST …/events/bulk`) carries. */
export const MAX_BULK_APPENDS = 1000;

const STATUS: Record<ErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  payment_required: 402,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  quota_exceeded: 429,
  internal: 500,
  unavailable: 503,
};

/** The HTTP status of an error code (413 is `invalid` with a body too large; see the server). */
export function statusForCode(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/**
 * A query string from already-validated options: strings as they are, numbers and booleans as
 * text, objects (payload_equals) as JSON; undefined options are left out.
 */
export function queryString(options: object | undefined): string {
  if (options === undefined || options === null) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    params.set(key, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
