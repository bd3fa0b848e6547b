// Checking a tenant key against a remote Core (`allsource serve --core`): one `GET /api/v1/whoami`
// with the presented key, remembered for a short time so a busy MCP edge does not ask on every
// call. The bound is the cache lifetime: a revoked key stops working within `ttlMs` (5 s by
// default) on every instance. A refused key is remembered for a second, so a client retrying with
// a bad key cannot turn each of its requests into a request to the Core.

import { LRUCache } from 'lru-cache';
import { isErrorCode } from '../errors.js';
import { CoreConnection, type CoreConnectionOptions } from './connection.js';
import type { Principal } from './keys.js';

export interface KeyCheckOptions extends Omit<CoreConnectionOptions, 'key'> {
  /** How long an accepted key is trusted without asking again, in ms (default 5000). */
  ttlMs?: number;
}

export interface KeyCheck {
  /** The principal a key belongs to, or null when the Core refuses it. */
  check(key: string): Promise<Principal | null>;
  close(): Promise<void>;
}

const REFUSED_TTL_MS = 1000;

export function createKeyCheck(options: KeyCheckOptions): KeyCheck {
  const ttlMs = options.ttlMs ?? 5000;
  const cache = new LRUCache<string, { principal: Principal | null }>({ max: 10_000, ttl: ttlMs });
  // One connection pool; the key travels per request, so the pool is built without one.
  const connection = new CoreConnection({ ...options, retryForMs: options.retryForMs ?? 2000 });
  return {
    async check(key) {
      const cached = cache.get(key);
      if (cached !== undefined) return cached.principal;
      try {
        const who = await connection.call<{ kind: 'admin' | 'tenant'; tenant: string | null; key_id: string | null; read_only: boolean }>('GET', `${connection.base}/whoami`, { retryable: true, headers: { authorization: `Bearer ${key}` } });
        const principal: Principal = who.kind === 'admin' ? { kind: 'admin' } : { kind: 'tenant', tenant: who.tenant!, key_id: who.key_id!, read_only: who.read_only };
        cache.set(key, { principal });
        return principal;
      } catch (err) {
        if (!isErrorCode(err, 'unauthorized')) throw err;
        cache.set(key, { principal: null }, { ttl: REFUSED_TTL_MS });
        return null;
      }
    },
    close: () => connection.close(),
  };
}
