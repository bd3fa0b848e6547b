// The server of `allsource console`: one tenant of a data directory behind the Core REST API,
// MCP and the web console's files, on one loopback port with no key (the Core's insecure-local
// mode). Kept apart from console.ts, the static files every server mounts, so that `allsource
// core` does not load Prime and the MCP edge to serve them.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { startCoreServer } from '../src/core/http/server.js';
import { isLoopbackHost } from '../src/core/http/wire.js';
import { openSharedCore } from '../src/core/shared/sharedCore.js';
import type { Embedder } from '../src/embed/types.js';
import { createPrimeService } from '../src/prime/service.js';
import type { PrimeService } from '../src/prime/types.js';
import { packageVersion } from '../tools/version.js';
import { registerConsoleRoutes } from './console.js';
import { registerMcpRoutes } from './http.js';

export interface LocalConsoleOptions {
  dataDir: string;
  tenant: string;
  /** Loopback only (default 127.0.0.1). */
  host?: string;
  /** Default 3907; 0 picks a free port. */
  port?: number;
  embedder?: Embedder;
  logger?: Logger | false;
  /** The built console (tests may point elsewhere). */
  root?: string;
}

export interface LocalConsole {
  /** `http://127.0.0.1:port` (the console is at `${url}/console/`). */
  url: string;
  close(): Promise<void>;
}

/**
 * `allsource console`: one tenant of a data directory behind the Core REST API, MCP and the
 * console on one loopback port with no key (the Core's insecure-local mode). The store is shared
 * with any other allsource process on the directory, as `allsource mcp` shares it. A browser on
 * this machine is exactly who may call, so every request must name a loopback Host (a page of
 * another site rebound to 127.0.0.1 by DNS names its own host and is refused).
 */
export async function startLocalConsole(options: LocalConsoleOptions): Promise<LocalConsole> {
  const host = options.host ?? '127.0.0.1';
  let prime: PrimeService | undefined;
  const server = await startCoreServer({
    openStore: async () => {
      const store = await openSharedCore({ dataDir: options.dataDir });
      prime = createPrimeService({ store, embedder: options.embedder, dataDir: store.sharing().role === 'holder' ? options.dataDir : undefined });
      return store;
    },
    // No key is ever checked here (insecure-local: no key acts as admin), so no secret is kept.
    keySecret: randomBytes(32),
    insecureLocal: true,
    host,
    port: options.port ?? 3907,
    logger: options.logger,
    version: packageVersion(),
    beforeStoreClose: async () => prime?.close(),
    extend: (app, core) => {
      app.addHook('onRequest', async (req, reply) => {
        const named = (req.headers.host ?? '').replace(/:\d+$/, '');
        if (!isLoopbackHost(named)) return reply.code(403).type('text/plain; charset=utf-8').send('This console answers loopback names only (DNS rebinding protection).\n');
      });
      registerMcpRoutes(app, {
        store: core.store,
        prime: () => prime!,
        mode: 'local',
        log: core.log,
        registry: core.metrics.registry,
        resolveCaller: async () => ({ tenant: options.tenant, readOnly: false }),
      });
      registerConsoleRoutes(app, { root: options.root, config: { auth: 'none', tenant: options.tenant, rest: true, mcp: true } });
    },
  });
  try {
    await server.ready;
  } catch (err) {
    await server.close().catch(() => undefined);
    throw err;
  }
  return { url: server.url, close: server.close };
}
