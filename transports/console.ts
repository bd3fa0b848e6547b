// The web console's static files at /console, on any fastify server (the Core, `serve`, the local
// `allsource console`). The console is a pure client of the public APIs (/api/v1 and /mcp): this
// file only hands out the files Vite built into dist/console, plus /console/config.json, which
// tells the page how to sign in and which of the two APIs this server answers. Files are read
// once at start and looked up by exact name, so no request path can reach anything else (no
// traversal by construction); hashed assets are cached for a year, the rest revalidated by ETag.
// The local server of `allsource console` is in localConsole.ts.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** What the page learns from /console/config.json before it signs in. */
export interface ConsoleConfig {
  /** `key`: sign in with a tenant key (hosted); `none`: the server acts for `tenant` (local, loopback). */
  auth: 'key' | 'none';
  /** The tenant a keyless server serves. */
  tenant?: string;
  /** Whether this server answers the Core REST API at /api/v1. */
  rest: boolean;
  /** Whether this server answers MCP at /mcp (the graph and recall need it). */
  mcp: boolean;
}

export interface ConsoleRouteOptions {
  config: ConsoleConfig;
  /** The built console (default: dist/console of this package). */
  root?: string;
}

interface ConsoleFile {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  etag: string;
  cache: string;
}

/** Content types of the files Vite emits (anything else is served as bytes, never sniffed). */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt']);

/** Vite names everything under assets/ by content hash: a name never changes meaning, so it may be kept for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html and config.json change with a new build or server: always revalidated. */
const REVALIDATE = 'no-cache';

/**
 * The page may load only its own files and talk only to its own origin (no CDN, no third-party
 * script); sigma draws with WebGL and preact sets style attributes, hence the two allowances.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** dist/console of this package, found from this module whether it runs from source or from dist/. */
export function defaultConsoleRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(dir, 'dist', 'console');
}

function fileOf(body: Buffer, path: string, cache: string): ConsoleFile {
  const ext = extname(path).toLowerCase();
  const compressible = COMPRESSIBLE.has(ext) && body.length > 1024;
  return {
    body,
    gzip: compressible ? gzipSync(body, { level: 9 }) : null,
    type: TYPES[ext] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    cache,
  };
}

/** Every file under `root`, by its URL path below /console/ (forward slashes). */
export function loadConsoleFiles(root: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  if (!existsSync(root)) return files;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      // Symbolic links are skipped: the console is what the build wrote, nothing it points at.
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && statSync(full).isFile()) {
        const path = relative(root, full).split(sep).join('/');
        files.set(path, fileOf(readFileSync(full), path, path.startsWith('assets/') ? IMMUTABLE : REVALIDATE));
      }
    }
  };
  walk(root);
  return files;
}

/** Registers GET (and HEAD) /console, /console/ and /console/<file>. */
export function registerConsoleRoutes(app: FastifyInstance, options: ConsoleRouteOptions): void {
  const files = loadConsoleFiles(options.root ?? defaultConsoleRoot());
  files.set('config.json', fileOf(Buffer.from(JSON.stringify(options.config)), 'config.json', REVALIDATE));
  const missing = !files.has('index.html');

  const send = (req: FastifyRequest, reply: FastifyReply, path: string): FastifyReply => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (missing && path === 'index.html') {
      return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send('The web console is not built: run `npm run build` in the allsource package.\n');
    }
    // Exact names only: "..", "%2e%2e", backslashes and absolute paths match no key.
    const file = files.get(path);
    if (file === undefined) return reply.code(404).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send('Not found\n');
    const gzip = file.gzip !== null && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    // Each encoding is its own representation, so each has its own (strong) ETag.
    const etag = gzip ? `${file.etag.slice(0, -1)}-gz"` : file.etag;
    reply.header('cache-control', file.cache).header('etag', etag).header('vary', 'accept-encoding');
    if (file.type.startsWith('text/html')) reply.header('content-security-policy', CSP).header('x-frame-options', 'DENY');
    const wanted = String(req.headers['if-none-match'] ?? '').split(',').map((tag) => tag.trim());
    if (wanted.includes(etag) || wanted.includes('*')) return reply.code(304).send();
    reply.type(file.type);
    if (gzip) reply.header('content-encoding', 'gzip');
    return reply.send(gzip ? file.gzip : file.body);
  };

  app.get('/console', async (req, reply) => send(req, reply, 'index.html'));
  app.get('/console/', async (req, reply) => send(req, reply, 'index.html'));
  app.get('/console/*', async (req, reply) => send(req, reply, (req.params as { '*': string })['*']));
}
