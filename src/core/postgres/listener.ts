// Wake-ups for long-polling watches: one dedicated connection LISTENs on the appends' channel and
// wakes the waiters of the tenants named (from any Core node). After each committed write a node
// wakes its own waiters at once and notifies the others; notifications are coalesced (one
// pg_notify naming every tenant written meanwhile), because NOTIFY takes a database-wide lock at
// commit: one per append halved the write throughput. Watches also poll on a short timer, so a
// dropped connection or a missed notification delays a watch by at most the poll interval.

import pg from 'pg';
import { NOTIFY_CHANNEL } from './schema.js';

/** How often a waiting watch re-reads the log even without a notification. */
export const POLL_MS = 250;

export class WatchListener {
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly pool: pg.Pool,
    private readonly log: (line: string) => void,
  ) {}

  /** Tenants written since the last notification went out. */
  private dirty = new Set<string>();
  private sending: Promise<void> | null = null;

  /** Call after a write to `tenant` committed: wakes local waiters now, other nodes' shortly. */
  written(tenant: string): void {
    this.wake(tenant);
    if (this.closed) return;
    this.dirty.add(tenant);
    this.sending ??= this.send().finally(() => (this.sending = null));
  }

  private async send(): Promise<void> {
    while (this.dirty.size > 0 && !this.closed) {
      const tenants = [...this.dirty];
      this.dirty = new Set();
      // Tenant ids hold no control characters, so a newline separates them; payloads stay under 8000 bytes.
      const chunks: string[] = [];
      let chunk = '';
      for (const tenant of tenants) {
        if (chunk.length > 0 && Buffer.byteLength(chunk) + Buffer.byteLength(tenant) + 1 > 7000) {
          chunks.push(chunk);
          chunk = '';
        }
        chunk = chunk.length === 0 ? tenant : `${chunk}\n${tenant}`;
      }
      chunks.push(chunk);
      try {
        for (const payload of chunks) await this.pool.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, payload]);
      } catch (err) {
        this.log(`could not notify other Core nodes (${(err as Error).message}); their watches poll every ${POLL_MS} ms`);
      }
    }
  }

  /** Starts listening (once); failures are logged and retried on the next wait, watches keep polling. */
  private ensure(): Promise<void> {
    if (this.client !== null || this.closed) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = new pg.Client(this.config);
      client.on('notification', (msg) => {
        if (msg.payload !== undefined) for (const tenant of msg.payload.split('\n')) this.wake(tenant);
      });
      client.on('error', (err) => {
        this.log(`watch listener connection failed (${err.message}); watches fall back to polling until it reconnects`);
        if (this.client === client) this.client = null;
        client.end().catch(() => undefined);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
        if (this.closed) await client.end();
        else this.client = client;
      } catch (err) {
        this.log(`watch listener could not connect (${(err as Error).message}); watches poll every ${POLL_MS} ms`);
        await client.end().catch(() => undefined);
      }
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }

  /** Wake-ups per tenant so far (only of tenants someone waited for), so a wake between a read and its wait is not lost. */
  private readonly generations = new Map<string, number>();

  /** The tenant's wake-up count now: pass it to wait() after reading. */
  generation(tenant: string): number {
    return this.generations.get(tenant) ?? 0;
  }

  private wake(tenant: string): void {
    if (this.generations.has(tenant)) this.generations.set(tenant, this.generations.get(tenant)! + 1);
    const set = this.waiters.get(tenant);
    if (set === undefined) return;
    this.waiters.delete(tenant);
    for (const wake of set) wake();
    if (this.waiters.size === 0 && this.generations.size > 10_000) this.generations.clear();
  }

  /** Starts counting the tenant's wake-ups (call before the read that a wait will follow). */
  watching(tenant: string): number {
    if (!this.generations.has(tenant)) this.generations.set(tenant, 0);
    return this.generations.get(tenant)!;
  }

  /**
   * Resolves on the tenant's next notification, after POLL_MS, or after `ms`, whichever is first;
   * at once if the tenant was woken since `generation` (from watching()).
   */
  async wait(tenant: string, ms: number, generation: number): Promise<void> {
    await this.ensure();
    if (this.closed || this.generation(tenant) !== generation) return;
    await new Promise<void>((resolve) => {
      let set = this.waiters.get(tenant);
      if (set === undefined) this.waiters.set(tenant, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.get(tenant)?.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(ms, POLL_MS));
      set.add(done);
    });
  }

  /** Listening (true) or polling only. */
  get listening(): boolean {
    return this.client !== null;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const tenant of [...this.waiters.keys()]) this.wake(tenant);
    await this.connecting;
    await this.sending;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
