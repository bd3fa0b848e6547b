// SharedCore: one data directory, several local processes. The process that holds the directory's
// lock (the holder) runs the EmbeddedCore and serves it as a Core on a unix socket inside the
// directory (owner-only: the file's permissions are the access check, no key); every other process
// (a follower) reaches the same log through HttpCore over that socket. When the holder goes away —
// a clean exit or kill -9 — the followers notice on their next call, one of them takes the lock
// over (recovery included) and starts serving the socket, and the others reconnect to it; the
// call that noticed is then sent again. That is safe because a follower gives every appended
// event an id before sending it: a retried append either lands once or finds its first landing
// (same id, same content: the original answer). Tombstone and restore, which carry no id, are
// retried only when they never reached a holder.
//
// Read-only (`readOnly`), a process writes nothing to the directory: with a live holder it follows
// it as usual (and refuses writes itself); with none it reads the directory in-process as a
// reader (EmbeddedCore read-only: no lock, no socket), and moves over to following as soon as a
// holder appears, so a writer started later is seen.

import { lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ForbiddenError, InvalidError, isAllSourceError, UnavailableError } from '../errors.js';
import { openEmbeddedCore } from '../embedded/index.js';
import type { EmbeddedCoreOptions } from '../embedded/options.js';
import { lockHolder } from '../embedded/lock.js';
import { UuidV7Generator } from '../ids.js';
import { openHttpCore } from '../http/httpCore.js';
import { startCoreServer, type CoreServer } from '../http/server.js';
import { loadKeySecret } from '../http/secret.js';
import type {
  AppendOptions,
  AppendResult,
  AsOfOptions,
  EntitiesResult,
  EntityState,
  EventStore,
  EventTypesResult,
  ListOptions,
  NewEvent,
  QueryFilter,
  QueryResult,
  SearchOptions,
  SearchResult,
  StoreHealth,
  StoredEvent,
  TenantStats,
  TombstoneResult,
  TombstoneSelector,
  VerifyResult,
  WatchOptions,
  WatchResult,
} from '../types.js';

/** The socket inside a data directory. */
export const SOCKET_NAME = 'core.sock';
/** Unix socket paths are limited to 108 bytes (sun_path), the terminating NUL included. */
const MAX_SOCKET_PATH = 107;

export interface SharedCoreOptions extends Omit<EmbeddedCoreOptions, 'dataDir'> {
  dataDir: string;
  /** How long a follower waits for a holder (its recovery, or a takeover) before a call fails, in ms (default 120000). */
  holderWaitMs?: number;
  /** Diagnostics (takeovers, role changes); stderr by default. */
  log?: (line: string) => void;
  /** Reported in the socket Core's OpenAPI document. */
  version?: string;
}

/** Which part this process plays, as get_cluster_status reports it. */
export interface SharingStatus {
  /** `reader`: read-only, in-process, while no process holds the directory. */
  role: 'holder' | 'follower' | 'reader';
  pid: number;
  /** The holder's pid, as last seen (this process's own when it holds). */
  holder_pid: number | null;
  socket: string;
  /** Times this process took the directory over from a holder that went away. */
  takeovers: number;
}

type Kind = 'read' | 'append' | 'unsafe';

function isConnectionLoss(err: unknown): boolean {
  return isAllSourceError(err) && err.code === 'unavailable';
}

/** True when the request never reached a holder (nothing can have happened). */
function neverConnected(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOENT';
}

/**
 * Opens a data directory shared with other local processes: as its holder when nobody holds it,
 * else as a follower of the process that does.
 */
export async function openSharedCore(options: SharedCoreOptions): Promise<SharedCore> {
  const core = new SharedCore(options);
  await core.start();
  return core;
}

export class SharedCore implements EventStore {
  private readonly dataDir: string;
  private readonly socketPath: string;
  private readonly log: (line: string) => void;
  private readonly holderWaitMs: number;
  private backend: EventStore | null = null;
  private server: CoreServer | null = null;
  private status: SharingStatus;
  private recovering: Promise<void> | null = null;
  private closed = false;
  private readonly ids = new UuidV7Generator();

  constructor(private readonly options: SharedCoreOptions) {
    this.dataDir = options.dataDir;
    this.socketPath = join(options.dataDir, SOCKET_NAME);
    if (Buffer.byteLength(this.socketPath) > MAX_SOCKET_PATH) {
      throw new InvalidError('dataDir', `${options.dataDir} is too long a path for its shared socket (${SOCKET_NAME}; unix sockets allow ${MAX_SOCKET_PATH} bytes): use a shorter --data`);
    }
    this.log = options.log ?? ((line) => void process.stderr.write(`${line}\n`));
    this.holderWaitMs = options.holderWaitMs ?? 120_000;
    this.status = { role: 'follower', pid: process.pid, holder_pid: null, socket: this.socketPath, takeovers: 0 };
  }

  /** This process's part in sharing the directory. */
  sharing(): SharingStatus {
    return { ...this.status };
  }

  async start(): Promise<void> {
    if (this.options.readOnly === true && lockHolder(this.dataDir) === null) {
      await this.read();
      return;
    }
    if (await this.tryHold()) return;
    await this.follow();
  }

  /** Reads the directory in-process without writing to it (read-only, while nobody holds it). */
  private async read(): Promise<void> {
    const { holderWaitMs: _wait, log: _log, version: _version, ...storeOptions } = this.options;
    const store = await openEmbeddedCore({ ...storeOptions, readOnly: true, dataDir: this.dataDir, log: this.log });
    const previous = this.backend;
    this.backend = store;
    this.status.role = 'reader';
    this.status.holder_pid = null;
    if (previous !== null) await previous.close().catch(() => undefined);
  }

  /** Takes the directory and serves it on the socket (read-only: reads it); false when a live process holds it. */
  private async tryHold(): Promise<boolean> {
    if (this.options.readOnly === true) {
      if (lockHolder(this.dataDir) !== null) return false;
      await this.read();
      return true;
    }
    let store;
    try {
      const { holderWaitMs: _wait, log: _log, version: _version, ...storeOptions } = this.options;
      store = await openEmbeddedCore({ ...storeOptions, dataDir: this.dataDir, log: this.log });
    } catch (err) {
      if (isAllSourceError(err) && err.code === 'unavailable' && typeof (err.details as { pid?: unknown } | undefined)?.pid === 'number') {
        this.status.holder_pid = (err.details as { pid: number }).pid;
        return false;
      }
      throw err;
    }
    try {
      // A socket file here now is a dead holder's: the lock is ours, so is the socket path.
      await unlink(this.socketPath).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
      this.server = await startCoreServer({
        openStore: async () => store,
        keySecret: await loadKeySecret(this.dataDir),
        insecureLocal: true,
        socketPath: this.socketPath,
        logger: false,
        version: this.options.version,
      });
      await this.server.ready;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    const previous = this.backend;
    this.backend = store;
    if (previous !== null) {
      this.status.takeovers++;
      await previous.close().catch(() => undefined);
      this.log(`allsource: took over ${this.dataDir} (the holder went away); serving it to the other processes on ${this.socketPath}`);
    }
    this.status.role = 'holder';
    this.status.holder_pid = process.pid;
    return true;
  }

  /** Connects to the holder's socket (lazily: the first call reaches it). */
  private async follow(): Promise<void> {
    await this.checkSocketOwner();
    const previous = this.backend;
    // Retries are this class's job (it may take over between two attempts), so HttpCore gives up at once.
    this.backend = await openHttpCore({ url: 'http://localhost', socketPath: this.socketPath, retryForMs: 0, connections: 16 });
    this.status.role = 'follower';
    if (previous !== null) await previous.close().catch(() => undefined);
  }

  /** A socket that belongs to another user is not ours to talk to. */
  private async checkSocketOwner(): Promise<void> {
    let uid: number;
    try {
      uid = (await lstat(this.socketPath)).uid;
    } catch {
      return; // not there yet: the holder is still opening
    }
    const me = process.getuid?.();
    if (me !== undefined && uid !== me) {
      throw new UnavailableError(`${this.socketPath} belongs to another user (uid ${uid}); refusing to share a data directory with them — use a directory of your own`, { details: { socket: this.socketPath, uid } });
    }
  }

  /**
   * After a lost connection: wait for the holder (still opening, or restarting), or take the
   * directory over when it is gone. One recovery at a time; every waiting call shares it.
   */
  private recover(): Promise<void> {
    this.recovering ??= (async () => {
      try {
        const giveUpAt = Date.now() + this.holderWaitMs;
        while (!this.closed) {
          const holder = lockHolder(this.dataDir);
          if (holder === null) {
            if (await this.tryHold()) return;
          } else {
            this.status.holder_pid = holder;
            await this.checkSocketOwner();
            if (await this.socketAnswers()) return;
          }
          if (Date.now() > giveUpAt) throw new UnavailableError(`no process serves ${this.dataDir} (waited ${Math.round(this.holderWaitMs / 1000)} s for its holder, pid ${holder ?? 'none'}); retry`);
          await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 25));
        }
        throw new UnavailableError('the store is closed');
      } finally {
        this.recovering = null;
      }
    })();
    return this.recovering;
  }

  private async socketAnswers(): Promise<boolean> {
    try {
      return (await this.backend!.health()).ok;
    } catch {
      return false;
    }
  }

  /** Runs `fn` on the current backend, riding out a holder's exit as `kind` allows. */
  private async run<T>(kind: Kind, fn: (store: EventStore) => Promise<T>): Promise<T> {
    if (kind !== 'read' && this.options.readOnly === true) {
      throw new ForbiddenError(`data directory ${this.dataDir} was opened read-only; this process takes no writes`);
    }
    for (;;) {
      if (this.closed) throw new UnavailableError('the store is closed');
      if (this.recovering !== null) await this.recovering;
      // A reader sees the directory as it was at open; once a writer holds it, follow that writer.
      if (this.status.role === 'reader') {
        const holder = lockHolder(this.dataDir);
        if (holder !== null) {
          this.status.holder_pid = holder;
          this.recovering ??= this.follow().finally(() => (this.recovering = null));
          await this.recovering;
        }
      }
      const backend = this.backend!;
      try {
        return await fn(backend);
      } catch (err) {
        if (this.status.role !== 'follower' || !isConnectionLoss(err)) throw err;
        if (kind === 'unsafe' && !neverConnected(err)) throw err;
        await this.recover();
      }
    }
  }

  append(tenant: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult> {
    // Ids make the append idempotent, so it can be sent again after a holder's exit.
    const withIds = Array.isArray(events) ? events.map((e) => (e !== null && typeof e === 'object' && e.id === undefined ? { ...e, id: this.ids.next(Date.now()) } : e)) : events;
    return this.run('append', (s) => s.append(tenant, withIds, options));
  }
  query(tenant: string, filter?: QueryFilter): Promise<QueryResult> {
    return this.run('read', (s) => s.query(tenant, filter));
  }
  get(tenant: string, id: string, options?: { include_deleted?: boolean }): Promise<StoredEvent> {
    return this.run('read', (s) => s.get(tenant, id, options));
  }
  state(tenant: string, entityId: string, options?: AsOfOptions): Promise<EntityState> {
    return this.run('read', (s) => s.state(tenant, entityId, options));
  }
  search(tenant: string, options: SearchOptions): Promise<SearchResult> {
    return this.run('read', (s) => s.search(tenant, options));
  }
  entities(tenant: string, options?: ListOptions): Promise<EntitiesResult> {
    return this.run('read', (s) => s.entities(tenant, options));
  }
  eventTypes(tenant: string, options?: ListOptions): Promise<EventTypesResult> {
    return this.run('read', (s) => s.eventTypes(tenant, options));
  }
  stats(tenant: string): Promise<TenantStats> {
    return this.run('read', (s) => s.stats(tenant));
  }
  watch(tenant: string, options?: WatchOptions): Promise<WatchResult> {
    return this.run('read', (s) => s.watch(tenant, options));
  }
  tombstone(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult> {
    return this.run('unsafe', (s) => s.tombstone(tenant, selector));
  }
  restore(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult> {
    return this.run('unsafe', (s) => s.restore(tenant, selector));
  }
  verify(tenant: string): Promise<VerifyResult> {
    return this.run('read', (s) => s.verify(tenant));
  }
  async health(): Promise<StoreHealth> {
    const health = await this.run('read', (s) => s.health());
    return { ...health, sharing: this.sharing() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The holder's server closes the store it serves (and removes the socket); a follower only disconnects.
    if (this.server !== null) await this.server.close();
    else await this.backend?.close();
  }
}
