// `allsource serve`: the MCP tools over streamable HTTP at /mcp, stateless. Three ways to run it:
//   --core URL   a hosted edge: tenant keys checked against that Core, data through HttpCore
//                (admin key from ALLSOURCE_ADMIN_KEY); any number of instances behind a balancer.
//   --data DIR   one box: the Core API (/api/v1, keys, metrics) and /mcp on the same port, over an
//                in-process EmbeddedCore; still multi-tenant, keys as for `allsource core`.
//   --postgres URL  the same one box over PostgreSQL (PostgresCore) instead of the directory.
//   --local      one operator, no key: tenant `default` (or --tenant) of --data, loopback only.
// Every mode also serves the web console at /console (see transports/console.ts). Stops gracefully
// on SIGTERM or Ctrl-C. Logs go to stderr; stdout stays empty.

import { InvalidError, UnavailableError } from '../core/errors.js';
import type { ToolGroup } from '../../tools/groups.js';
import type { CliContext } from './context.js';
import { closeOnSignals } from './signals.js';

export interface ServeFlags {
  port: number;
  host: string;
  core?: string;
  local?: boolean;
  /** Behind a trusted gateway: X-Tenant-Id plus the edge key (ALLSOURCE_EDGE_KEY) instead of tenant keys. */
  gateway?: boolean;
  /** OAuth 2.1 resource server: JWT access tokens from this issuer (with --core). */
  oauthIssuer?: string;
  oauthResource?: string;
  oauthTenantClaim?: string;
  /** Set when --data was given explicitly (the one-box mode); the context has it resolved. */
  dataGiven: boolean;
  toolsets?: ToolGroup[];
  allowedOrigins?: string[];
  allowedHosts?: string[];
  maxBodyBytes?: number;
  /** Requests per second per tenant, per instance (token bucket; burst twice that). */
  rateLimit?: number;
  /** postgres:// URL of the runtime role: the one-box mode on PostgresCore. */
  postgres?: string;
  /** Answer as text/event-stream instead of JSON. */
  sse?: boolean;
  /** x402 pricing (JSON file); else ALLSOURCE_PRICING_FILE / ALLSOURCE_PRICING; none: every tool is free. */
  pricing?: string;
}

export async function runServe(ctx: CliContext, flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (flags.core !== undefined && (flags.local || flags.dataGiven)) throw new InvalidError('core', '--core serves a remote Core; it does not take --data or --local');
  if (flags.postgres !== undefined && (flags.core !== undefined || flags.local)) throw new InvalidError('postgres', '--postgres is the one-box mode; it does not take --core or --local');
  if (flags.gateway && flags.core === undefined) throw new InvalidError('gateway', '--gateway goes with --core URL');
  if (flags.oauthIssuer !== undefined && (flags.core === undefined || flags.gateway)) throw new InvalidError('oauth-issuer', '--oauth-issuer goes with --core URL (and not with --gateway)');
  const [{ startMcpHttpServer, startHostedMcpServer, registerMcpRoutes, bearerToken, tenantCaller }, { createPrimeService }, { createEmbedderFromEnv }, { openSharedCore }, { isLoopbackHost }, { createQuotaGate }] = await Promise.all([
    import('../../transports/http.js'),
    import('../prime/service.js'),
    import('../embed/index.js'),
    import('../core/shared/sharedCore.js'),
    import('../core/http/wire.js'),
    import('../core/http/quotaGate.js'),
  ]);
  const { registerConsoleRoutes } = await import('../../transports/console.js');
  const embedder = createEmbedderFromEnv(env);
  const [{ loadPricing }, { ALL_TOOLS }] = await Promise.all([import('../payments/pricing.js'), import('../../tools/index.js')]);
  const pricing = await loadPricing(flags.pricing, env, ALL_TOOLS.map((tool) => tool.name));
  const guard = pricing === null ? undefined : (await import('../payments/guard.js')).createPaymentGuard({ pricing });
  const edge = { toolsets: flags.toolsets, allowedOrigins: flags.allowedOrigins, allowedHosts: flags.allowedHosts, rateLimit: flags.rateLimit === undefined ? undefined : { perSecond: flags.rateLimit }, responseMode: flags.sse ? ('sse' as const) : ('json' as const), guard };
  /** Whichever server the mode started: where it listens, and how to stop it. */
  let running: { url: string; close(): Promise<void> };

  if (flags.local) {
    if (!isLoopbackHost(flags.host)) throw new InvalidError('host', `--local binds loopback only (127.0.0.1, ::1 or localhost), not ${flags.host}`);
    // Shared with any other allsource process on the directory, as `allsource mcp` is.
    const store = await openSharedCore({ dataDir: ctx.dataDir });
    const prime = createPrimeService({ store, embedder, dataDir: store.sharing().role === 'holder' ? ctx.dataDir : undefined });
    const server = await startMcpHttpServer({
      ...edge,
      store: () => store,
      prime: () => prime,
      mode: 'local',
      resolveCaller: async () => ({ tenant: ctx.tenant, readOnly: false }),
      // No Core API here: the console reads the log through the MCP tools.
      extend: (app) => registerConsoleRoutes(app, { config: { auth: 'none', tenant: ctx.tenant, rest: false, mcp: true } }),
      host: flags.host,
      port: flags.port,
      bodyLimit: flags.maxBodyBytes,
      ready: async () => (await store.health()).ok,
      closeResources: async () => {
        await prime.close();
        await store.close();
      },
    });
    running = server;
    process.stderr.write(`allsource serve: MCP on ${server.url}/mcp for tenant ${ctx.tenant} of ${ctx.dataDir} (local: no key, loopback only)\n`);
  } else if (flags.core !== undefined) {
    const adminKey = env.ALLSOURCE_ADMIN_KEY || undefined;
    if (adminKey === undefined) throw new InvalidError('ALLSOURCE_ADMIN_KEY', 'is not set: `serve --core` reaches the Core with the admin key and checks tenant keys against it');
    const gatewayKey = flags.gateway ? env.ALLSOURCE_EDGE_KEY || undefined : undefined;
    if (flags.gateway && gatewayKey === undefined) throw new InvalidError('ALLSOURCE_EDGE_KEY', 'is not set: --gateway trusts X-Tenant-Id only from a caller holding the edge key');
    const oauth = flags.oauthIssuer === undefined ? undefined : { issuer: flags.oauthIssuer, resource: flags.oauthResource, tenantClaim: flags.oauthTenantClaim };
    // Gateway callers are named by the gateway, not by a key a person could type in: no console then.
    const extend = gatewayKey === undefined ? (app: Parameters<typeof registerConsoleRoutes>[0]) => registerConsoleRoutes(app, { config: { auth: 'key', rest: false, mcp: true } }) : undefined;
    const server = await startHostedMcpServer({ ...edge, coreUrl: flags.core, adminKey, gatewayKey, oauth, embedder, extend, host: flags.host, port: flags.port, bodyLimit: flags.maxBodyBytes });
    running = server;
    process.stderr.write(`allsource serve: MCP on ${server.url}/mcp over the Core at ${flags.core}${gatewayKey ? ' (gateway mode: X-Tenant-Id from holders of the edge key)' : ''}${oauth ? ` (OAuth: tokens from ${oauth.issuer})` : ''}\n`);
  } else {
    // One box: the Core and the MCP edge in one process, on one port.
    const [{ startCoreServer }, { loadKeySecret }, { packageVersion }, { openCoreStore, coreArtifacts }] = await Promise.all([import('../core/http/server.js'), import('../core/http/secret.js'), import('../../tools/version.js'), import('./core.js')]);
    const openStore = await openCoreStore(ctx, flags.postgres, env);
    let prime: ReturnType<typeof createPrimeService> | undefined;
    const server = await startCoreServer({
      openStore: async () => {
        const store = await openStore();
        // On PostgreSQL the node keeps nothing on disk: Prime folds from the database.
        prime = createPrimeService({ store, embedder, dataDir: flags.postgres === undefined ? ctx.dataDir : undefined });
        return store;
      },
      keySecret: await loadKeySecret(ctx.dataDir, env),
      adminKey: env.ALLSOURCE_ADMIN_KEY || undefined,
      host: flags.host,
      port: flags.port,
      bodyLimit: flags.maxBodyBytes,
      // Serve instances elsewhere (`serve --core` pointed at this box) keep Prime snapshots here.
      artifacts: await coreArtifacts(ctx, flags.postgres),
      version: packageVersion(),
      beforeStoreClose: async () => prime?.close(),
      extend: (app, core) => {
        registerConsoleRoutes(app, { config: { auth: 'key', rest: true, mcp: true } });
        registerMcpRoutes(app, {
          ...edge,
          store: core.store,
          prime: () => prime!,
          mode: 'hosted',
          log: core.log,
          registry: core.metrics.registry,
          // Leased in-process: the quotas of this box's own admin log.
          quota: createQuotaGate({ lease: (tenant, calls) => core.quotas().lease(tenant, calls) }),
          resolveCaller: async (headers) => {
            if (!core.ready()) throw new UnavailableError('the store is still opening');
            const token = bearerToken(headers.authorization);
            return tenantCaller(token === undefined ? null : await core.keyring().authenticate(token));
          },
        });
      },
    });
    await server.ready;
    running = server;
    process.stderr.write(`allsource serve: MCP on ${server.url}/mcp and the Core API on ${server.url}/api/v1 (${flags.postgres ? 'PostgreSQL' : `data ${ctx.dataDir}`})\n`);
  }

  if (pricing !== null) process.stderr.write(`allsource serve: x402 prices on ${pricing.tools.size} tool${pricing.tools.size === 1 ? '' : 's'} (${pricing.network}, pay to ${pricing.payTo}, facilitator ${pricing.facilitatorUrl}); see \`allsource pricing\`\n`);
  closeOnSignals('serve', running.close, 'finishing in-flight requests');
}
