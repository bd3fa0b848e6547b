// `allsource core`: the Core server on a local data directory (an EmbeddedCore behind the REST
// API), until SIGTERM or Ctrl-C, which stop it gracefully (in-flight requests finish, the store
// closes), with the web console at /console. Everything it reports goes to stderr as JSON log
// lines; stdout stays empty.

import type { CliContext } from './context.js';
import { closeOnSignals } from './signals.js';

export interface CoreFlags {
  port: number;
  host: string;
  insecureLocal?: boolean;
  rateLimit?: number;
  maxBodyBytes?: number;
}

export async function runCore(ctx: CliContext, flags: CoreFlags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const [{ startCoreServer }, { loadKeySecret }, { openEmbeddedCore }, { packageVersion }] = await Promise.all([
    import('../core/http/server.js'),
    import('../core/http/secret.js'),
    import('../core/embedded/index.js'),
    import('../../tools/version.js'),
  ]);
  const { registerConsoleRoutes } = await import('../../transports/console.js');
  const adminKey = env.ALLSOURCE_ADMIN_KEY || undefined;
  const keySecret = await loadKeySecret(ctx.dataDir, env);
  const server = await startCoreServer({
    openStore: () => openEmbeddedCore({ dataDir: ctx.dataDir }),
    keySecret,
    adminKey,
    insecureLocal: flags.insecureLocal === true,
    host: flags.host,
    port: flags.port,
    rateLimit: flags.rateLimit,
    bodyLimit: flags.maxBodyBytes,
    version: packageVersion(),
    // The web console at /console, over this REST API (no MCP here: the graph and recall need
    // `serve`). Without an admin key a keyless request acts as admin, so the console reads --tenant.
    extend: (app) => registerConsoleRoutes(app, { config: adminKey ? { auth: 'key', rest: true, mcp: false } : { auth: 'none', tenant: ctx.tenant, rest: true, mcp: false } }),
  });
  process.stderr.write(`allsource core: listening on ${server.url} (data ${ctx.dataDir})${adminKey ? '' : ' — insecure-local: no key needed on loopback'}\n`);
  closeOnSignals('core', server.close, 'finishing in-flight requests, then closing the store');
  try {
    await server.ready;
  } catch (err) {
    await server.close().catch(() => undefined);
    throw err;
  }
}
