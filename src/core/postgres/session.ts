// Tenant-scoped transactions over a pg pool. Every statement of PostgresCore runs inside one:
// `app.tenant_id` is set with set_config(…, true), local to the transaction, so a pooled
// connection never carries a tenant into the next use, and row-level security sees only that
// tenant. The first round trip also reads (or, for writes, locks) the tenant's head row.

import { createHash } from 'node:crypto';
import pg from 'pg';
import { AllSourceError, UnavailableError } from '../errors.js';

export interface TenantHead {
  last_position: number;
  last_hash: string;
  last_ms: number;
  first_ms: number | null;
  live_events: number;
  tombstoned_events: number;
  search_docs: number;
  search_length: number;
  has_tombstones: boolean;
}

const HEAD_COLUMNS = 'last_position, last_hash, last_ms, first_ms, live_events, tombstoned_events, search_docs, search_length, has_tombstones';

// bigint columns arrive as strings by default; every bigint here (positions, ms, counts) fits in a double.
pg.types.setTypeParser(20, (text) => Number(text));

/**
 * A connection inside a tenant transaction. Statements are prepared by name (a digest of their
 * text) and so parsed and planned once per connection: planning the append's one big statement
 * cost more than running it for a single event.
 */
export interface Db {
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<T>>;
}

const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `as_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    // Query texts are a bounded set of shapes (filters present or not), so the map stays small.
    if (names.size < 10_000) names.set(text, name);
  }
  return name;
}

/** Wraps a client so every parameterized statement is a named, prepared one. */
export function preparedDb(client: pg.ClientBase): Db {
  return {
    // A prefix match is planned with its value (an index range on the prefix), never as a generic plan.
    query: <T extends pg.QueryResultRow>(text: string, values?: unknown[]) => client.query<T>(text.includes(' LIKE ') ? { text, values } : { name: statementName(text), text, values }),
  };
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'EPIPE']);

/** Maps a driver or server error to the port's error family (typed errors pass through). */
export function storeError(err: unknown): AllSourceError {
  if (err instanceof AllSourceError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  // 08: connection exceptions; 57: operator intervention (shutdown, cancel); 53: out of resources.
  const down =
    (code !== undefined && (code.startsWith('08') || code.startsWith('57') || code.startsWith('53') || UNREACHABLE.has(code))) ||
    /Connection terminated|Cannot use a pool after calling end|timeout exceeded when trying to connect/i.test(message);
  if (down) return new UnavailableError(`PostgreSQL is unavailable: ${message}`, { cause: err });
  // Anything else (an SQL error, an RLS violation, a bug) is internal: the caller's input was checked before.
  return new AllSourceError('internal', code === undefined ? `PostgresCore failed: ${message}` : `PostgreSQL error ${code}: ${message}`, { cause: err });
}

function headOf(row: Record<string, unknown> | undefined): TenantHead | null {
  if (row === undefined) return null;
  return row as unknown as TenantHead;
}

export class Sessions {
  readonly pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  /**
   * Runs `fn` in a read-only, repeatable-read transaction for `tenant` (one snapshot for all its
   * statements), with the tenant's head row (null when the tenant never wrote).
   */
  async read<T>(tenant: string, fn: (db: Db, head: TenantHead | null) => Promise<T>): Promise<T> {
    return this.run(tenant, false, fn as (db: Db, head: TenantHead | null) => Promise<T>);
  }

  /** Runs `fn` in a read-write transaction holding the tenant's head row FOR UPDATE (created if missing). */
  async write<T>(tenant: string, fn: (db: Db, head: TenantHead) => Promise<T>): Promise<T> {
    return this.run(tenant, true, fn as (db: Db, head: TenantHead | null) => Promise<T>);
  }

  private async run<T>(tenant: string, write: boolean, fn: (db: Db, head: TenantHead | null) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw storeError(err);
    }
    let broken = false;
    let committing: Promise<unknown> | undefined;
    try {
      const lit = client.escapeLiteral(tenant);
      // One round trip: begin, scope the transaction to the tenant, read or lock its head row.
      const sql = write
        ? `BEGIN; SELECT set_config('app.tenant_id', ${lit}, true); INSERT INTO tenant_heads (tenant_id) VALUES (${lit}) ON CONFLICT DO NOTHING; SELECT ${HEAD_COLUMNS} FROM tenant_heads WHERE tenant_id = ${lit} FOR UPDATE`
        : `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT set_config('app.tenant_id', ${lit}, true); SELECT ${HEAD_COLUMNS} FROM tenant_heads WHERE tenant_id = ${lit}`;
      const results = (await client.query(sql)) as unknown as pg.QueryResult[];
      const head = headOf(results[results.length - 1].rows[0]);
      let value: T;
      try {
        value = await fn(preparedDb(client), head);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        throw err;
      }
      if (!write) {
        // A read-only transaction has nothing left to make durable: answer now, commit and release behind.
        committing = client.query('COMMIT');
        return value;
      }
      await client.query('COMMIT');
      return value;
    } catch (err) {
      if (!(err instanceof AllSourceError)) {
        broken = true;
        await client.query('ROLLBACK').catch(() => undefined);
      }
      throw storeError(err);
    } finally {
      if (committing === undefined) client.release(broken ? true : undefined);
      else committing.then(() => client.release(), (err: Error) => client.release(err));
    }
  }
}
