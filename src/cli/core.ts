// `allsource core`: the Core server on a local data directory (an EmbeddedCore behind the REST
// API), or with --postgres URL on PostgreSQL (a stateless node: run as many as you like over one
// database), until SIGTERM or Ctrl-C, which stop it gracefully (in-flight requests finish, the
// store closes), with the web console at /console. Everything it reports goes to stderr as JSON
// log lines; stdout stays empty.

import { InvalidError } from '../core/errors.js';
import type { CliContext } from './context.js';
import { closeOnSignals } from './signals.js';

export interface CoreFlags {
  port: number;
  host: string;
  insecureLocal?: boolean;
  rateLimit?: number;
  maxBodyBytes?: number;
  /** postgres:// URL of the runtime role: PostgresCore instead of the data directory. */
  postgres?: string;
  /** Largest derived artifact (a Prime snapshot a serve instance stores), in bytes. */
  maxArtifactBytes?: number;
}

/**
 * Where a Core keeps derived artifacts: `<dataDir>/artifacts` beside the log it serves. A Core on
 * PostgreSQL keeps none (its nodes share no disk, and a table for rebuildable bytes is not worth a
 * migration): its artifact routes say so, and serve instances fold Prime from the log.
 */
export async function coreArtifacts(ctx: CliContext, postgres: string | undefined): Promise<import('../core/artifacts.js').ArtifactStore | undefined> {
  if (postgres !== undefined) return undefined;
  const [{ createFileArtifactStore }, { join }] = await Promise.all([import('../core/artifacts.js'), import('node:path')]);
  return createFileArtifactStore(join(ctx.dataDir, 'artifacts'));
}

/**
 * Opens the store a Core serves: the data directory, or PostgreSQL (loaded only then). Several
 * nodes over one database must share the key secret, so with PostgreSQL a secret kept only in
 * this node's data directory is worth a warning.
 */
export async function openCoreStore(ctx: CliContext, postgres: string | undefined, env: NodeJS.ProcessEnv): Promise<() => Promise<import('../core/types.js').EventStore>> {
  if (postgres === undefined) {
    const { openEmbeddedCore } = await import('../core/embedded/index.js');
    return () => openEmbeddedCore({ dataDir: ctx.dataDir });
  }
  if (!/^postgres(ql)?:\/\//.test(postgres)) throw new InvalidError('postgres', 'must be a postgres:// URL (the runtime role)');
  if (!env.ALLSOURCE_KEY_SECRET) {
    process.stderr.write(`allsource: warning: ALLSOURCE_KEY_SECRET is not set, so tenant keys are checked with the secret in ${ctx.dataDir}/key-secret; every Core node on this database needs the same secret\n`);
  }
  const { openPostgresCore } = await import('../core/postgres/index.js');
  return () => openPostgresCore({ url: postgres });
}

export async function runCore(ctx: CliContext, flags: CoreFlags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const [{ startCoreServer }, { loadKeySecret }, { packageVersion }] = await Promise.all([import('../core/http/server.js'), import('../core/http/secret.js'), import('../../tools/version.js')]);
  const openStore = await openCoreStore(ctx, flags.postgres, env);
  const { registerConsoleRoutes } = await import('../../transports/console.js');
  const adminKey = env.ALLSOURCE_ADMIN_KEY || undefined;
  const keySecret = await loadKeySecret(ctx.dataDir, env);
  const server = await startCoreServer({
    openStore,
    keySecret,
    adminKey,
    insecureLocal: flags.insecureLocal === true,
    host: flags.host,
    port: flags.port,
    rateLimit: flags.rateLimit,
    bodyLimit: flags.maxBodyBytes,
    artifacts: await coreArtifacts(ctx, flags.postgres),
    maxArtifactBytes: flags.maxArtifactBytes,
    version: packageVersion(),
    // The web console at /console, over this REST API (no MCP here: the graph and recall need
    // `serve`). Without an admin key a keyless request acts as admin, so the console reads --tenant.
    extend: (app) => registerConsoleRoutes(app, { config: adminKey ? { auth: 'key', rest: true, mcp: false } : { auth: 'none', tenant: ctx.tenant, rest: true, mcp: false } }),
  });
  process.stderr.write(`allsource core: listening on ${server.url} (${flags.postgres ? 'PostgreSQL' : `data ${ctx.dataDir}`})${adminKey ? '' : ' — insecure-local: no key needed on loopback'}\n`);
  closeOnSignals('core', server.close, 'finishing in-flight requests, then closing the store');
  try {
    await server.ready;
  } catch (err) {
    await server.close().catch(() => undefined);
    throw err;
  }
}
