// What every CLI command shares: the global options (--data, --tenant, --json) resolved
// to a context, and `withStore`, which opens the embedded store for one command and always closes it.

import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { NotFoundError, InvalidError } from '../core/errors.js';
import { InterruptedError } from './errors.js';
import type { EventStore } from '../core/types.js';

/** The global options as commander hands them over (before defaults are applied). */
export interface GlobalOptions {
  data?: string;
  tenant?: string;
  json?: boolean;
  /** A Core to use instead of the data directory (the store commands' `--core URL`). */
  core?: string;
}

/** Everything a command needs to know about where and how it runs. */
export interface CliContext {
  /** Absolute path of the data directory. */
  dataDir: string;
  tenant: string;
  /** Machine-readable output on stdout instead of human text. */
  json: boolean;
  /** When set, store commands talk to this Core (HttpCore, key from ALLSOURCE_KEY) instead of the data directory. */
  core?: string;
}

/**
 * Applies the defaults: `--data`, else `$ALLSOURCE_DATA`, else `~/.allsource`; tenant `default`.
 * A leading `~/` is expanded because a quoted value (or an env var) never reaches the shell's expansion.
 */
export function resolveContext(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): CliContext {
  const raw = options.data ?? (env.ALLSOURCE_DATA ? env.ALLSOURCE_DATA : join(homedir(), '.allsource'));
  const expanded = raw === '~' ? homedir() : raw.startsWith('~/') ? join(homedir(), raw.slice(2)) : raw;
  return { dataDir: resolve(expanded), tenant: options.tenant ?? 'default', json: options.json === true, ...(options.core !== undefined ? { core: options.core } : {}) };
}

export interface WithStoreOptions {
  /**
   * Whether a missing data directory may be created (ingest). Read commands refuse a missing
   * directory instead, so a mistyped `--data` is an error rather than a new empty store.
   */
  create: boolean;
  /**
   * Open without writing to the directory (the read commands): no lock, no socket, no recovery
   * truncation; with a live holder, follow it. A damaged log refuses instead of being changed.
   */
  readOnly?: boolean;
}

/**
 * Opens the embedded store on `ctx.dataDir`, runs `fn`, and closes the store whatever happens.
 * The store module (and with it Arrow and Parquet) is loaded here, on demand, so `--help` stays quick.
 * The first Ctrl-C aborts `signal` so the command can stop at a safe point and the store still
 * closes cleanly; a second Ctrl-C exits at once.
 */
export async function withStore<T>(
  ctx: CliContext,
  options: WithStoreOptions,
  fn: (store: EventStore, signal: AbortSignal) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  let store: EventStore;
  if (ctx.core !== undefined) {
    // A remote Core: the tenant key (or the admin key) from the environment, never from a flag
    // (a flag would sit in the shell history and the process list).
    const { openHttpCore } = await import('../core/http/httpCore.js');
    store = await openHttpCore({ url: ctx.core, key: env.ALLSOURCE_KEY || env.ALLSOURCE_ADMIN_KEY || undefined });
  } else {
    if (!options.create) await requireDataDir(ctx.dataDir);
    const { openSharedCore } = await import('../core/shared/sharedCore.js');
    // Shared with a running `allsource mcp` (or any other allsource process) on the directory:
    // its holder answers through the socket. The store only reports what a person should know (a
    // truncated torn tail, a failed roll or write, a takeover), so its diagnostics go to stderr.
    store = await openSharedCore({ dataDir: ctx.dataDir, readOnly: options.readOnly === true });
  }
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupt: stopping after the current step (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  let result: T;
  try {
    result = await fn(store, controller.signal);
  } catch (err) {
    // The command's error is the one worth reporting; a close failure on top of it is only noise.
    await store.close().catch(() => undefined);
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
  await store.close();
  if (controller.signal.aborted) throw new InterruptedError();
  return result;
}

async function requireDataDir(dataDir: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(dataDir)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`data directory ${dataDir} does not exist (pass --data or set ALLSOURCE_DATA; \`allsource ingest\` creates it)`, { field: 'data' });
    }
    throw err;
  }
  if (!isDirectory) throw new InvalidError('data', `${dataDir} is not a directory`);
}
