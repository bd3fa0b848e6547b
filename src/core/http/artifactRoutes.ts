// The Core's derived-artifact routes (src/core/artifacts.ts): per tenant, opaque bytes under a name
// that a serve instance stores and a fresh one loads (a Prime projection snapshot), never part of
// the log. The same access rule as every tenant route (routes.ts): a tenant key reaches only its
// own tenant, anything else is "not found"; a read-only key may list and fetch but not store or
// delete. Bytes travel as application/octet-stream, with the facts a loader checks in the query
// string of a PUT and in the `x-artifact-meta` header of a GET. A body over the cap is refused
// before it is read. Registered in their own scope, so the octet-stream parser applies only here.
//
//   GET    /api/v1/tenants/:tenant/artifacts          → {artifacts: [meta…]}
//   GET    /api/v1/tenants/:tenant/artifacts/:name    → the bytes; x-artifact-meta: {meta}
//   PUT    /api/v1/tenants/:tenant/artifacts/:name?position=&format=&embedder=   (bytes) → {meta}
//   DELETE /api/v1/tenants/:tenant/artifacts/:name    → {deleted: boolean}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkArtifactFacts, checkArtifactName, type ArtifactStore } from '../artifacts.js';
import { AllSourceError, InvalidError, NotFoundError } from '../errors.js';
import { allowedTenant } from './routes.js';
import type { RouteSpec } from './schemaKit.js';
import { ARTIFACT_META_HEADER, encodeMetaHeader } from './wire.js';

export interface ArtifactRoutesContext {
  /** The store, once the Core is open; undefined on a Core that keeps none (PostgreSQL). */
  artifacts: () => ArtifactStore | undefined;
  /** Largest artifact accepted, in bytes. */
  maxBytes: number;
}

const BASE = '/api/v1/tenants/:tenant/artifacts';
const spec = (method: RouteSpec['method'], url: string, writes: boolean, summary: string): RouteSpec => ({ method, url, writes, summary, schema: { response: {} } });
const LIST = spec('GET', BASE, false, "List the tenant's derived artifacts (name, position, format, embedder, bytes, sha256).");
const GET = spec('GET', `${BASE}/:name`, false, 'Fetch one derived artifact: its bytes, and its meta in x-artifact-meta.');
const PUT = spec('PUT', `${BASE}/:name`, true, 'Store (replace) a derived artifact: application/octet-stream bytes; position, format and embedder in the query.');
const DELETE = spec('DELETE', `${BASE}/:name`, true, 'Delete a derived artifact (it is rebuilt from the log by whoever needs it).');

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown>; Body: unknown }>;

export function registerArtifactRoutes(app: FastifyInstance, ctx: ArtifactRoutesContext): void {
  const store = (): ArtifactStore => {
    const artifacts = ctx.artifacts();
    if (artifacts === undefined) throw new NotFoundError('this Core keeps no derived artifacts (it runs on PostgreSQL): a serve instance folds Prime from the log instead', { details: { artifacts: 'unsupported' } });
    return artifacts;
  };
  const access = (route: RouteSpec, req: Req): { tenant: string; name: string } => {
    const tenant = allowedTenant(route, req as never) as string;
    return { tenant, name: route === LIST ? '' : checkArtifactName(req.params.name) };
  };
  const tooLarge = (bytes: number): AllSourceError =>
    new AllSourceError('invalid', `body: the artifact is ${bytes} bytes, over this Core's cap of ${ctx.maxBytes} bytes per artifact (allsource core --max-artifact-bytes)`, { field: 'body', details: { status: 413, max_bytes: ctx.maxBytes } });

  void app.register(async (scope) => {
    scope.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    scope.get(LIST.url, async (req: Req) => {
      const { tenant } = access(LIST, req);
      return { artifacts: await store().list(tenant) };
    });

    scope.get(GET.url, async (req: Req, reply: FastifyReply) => {
      const { tenant, name } = access(GET, req);
      const found = await store().read(tenant, name);
      if (found === null) throw new NotFoundError(`artifact ${JSON.stringify(name)} not found`, { field: 'name' });
      return reply.header('content-type', 'application/octet-stream').header('content-length', String(found.bytes)).header(ARTIFACT_META_HEADER, encodeMetaHeader(found.meta)).send(found.stream);
    });

    scope.put(
      PUT.url,
      {
        bodyLimit: ctx.maxBytes,
        // After authentication (the server's own onRequest hook), before the body is read.
        onRequest: async (req) => {
          const length = Number(req.headers['content-length']);
          if (Number.isFinite(length) && length > ctx.maxBytes) throw tooLarge(length);
        },
      },
      async (req: Req) => {
        const { tenant, name } = access(PUT, req);
        const facts = checkArtifactFacts(req.query);
        if (req.body === undefined || req.body === null) throw new InvalidError('body', 'is required: the artifact bytes, as application/octet-stream');
        if (!Buffer.isBuffer(req.body)) throw new InvalidError('content-type', 'must be application/octet-stream (the artifact bytes)');
        if (req.body.length > ctx.maxBytes) throw tooLarge(req.body.length);
        return store().put(tenant, name, facts, req.body);
      },
    );

    scope.delete(DELETE.url, async (req: Req) => {
      const { tenant, name } = access(DELETE, req);
      return { deleted: await store().delete(tenant, name) };
    });
  });
}
