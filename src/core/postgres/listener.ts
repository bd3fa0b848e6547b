// Wake-ups for long-polling watches: one dedicated connection LISTENs on the appends' channel
// (each append transaction notifies with its tenant id, delivered at commit, from any Core node)
// and wakes that tenant's waiters. Watches also poll on a short timer, so a dropped connection or
// a missed notification delays a watch by at most the poll interval instead of hanging it.

import pg from 'pg';
import { NOTIFY_CHANNEL } from './schema.js';

/** How often a waiting watch re-reads the log even without a notification. */
export const POLL_MS = 250;

export class WatchListener {
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(private readonly config: pg.ClientConfig, private readonly log: (line: string) => void) {}

  /** Starts listening (once); failures are logged and retried on the next wait, watches keep polling. */
  private ensure(): Promise<void> {
    if (this.client !== null || this.closed) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = new pg.Client(this.config);
      client.on('notification', (msg) => {
        if (msg.payload !== undefined) this.wake(msg.payload);
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

  private wake(tenant: string): void {
    const set = this.waiters.get(tenant);
    if (set === undefined) return;
    this.waiters.delete(tenant);
    for (const wake of set) wake();
  }

  /** Resolves on the tenant's next notification, after POLL_MS, or after `ms`, whichever is first. */
  async wait(tenant: string, ms: number): Promise<void> {
    await this.ensure();
    if (this.closed) return;
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
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
