// The web console's static server (transports/console.ts) over real HTTP: content types, cache
// headers, ETag revalidation, gzip, config.json, a missing build, and that no request path reaches
// a file outside the console's directory (raw paths with "..", encoded dots and slashes,
// backslashes, absolute paths, NUL). Then the local console's server: its DNS-rebinding check on
// the Host header, and the CLI refusing a non-loopback bind; and /mcp on a non-loopback bind
// taking calls from its own pages (the hosted console) but not from another origin.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConsoleRoutes } from '../transports/console.js';
import { startLocalConsole } from '../transports/localConsole.js';
import { startMcpHttpServer } from '../transports/http.js';
import { openEmbeddedCore } from '../src/index.js';
import { createPrimeService } from '../src/prime/service.js';
import { childEnvIn, runCli } from './helpers/runCli.js';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET with the path sent exactly as given (no client-side normalization of "..", "%2e" or "\"). */
function raw(port: number, path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console static files', () => {
  let dir: string;
  let app: FastifyInstance;
  let port: number;
  const script = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allsource-console-'));
    const root = join(dir, 'console');
    await mkdir(join(root, 'assets'), { recursive: true });
    await writeFile(join(root, 'index.html'), '<!doctype html><title>t</title><script type="module" src="/console/assets/app-abc123.js"></script>');
    await writeFile(join(root, 'assets', 'app-abc123.js'), script);
    await writeFile(join(root, 'assets', 'style-def456.css'), 'body{color:red}');
    await writeFile(join(root, 'assets', 'logo-1.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(join(root, 'assets', 'blob-2.bin'), Buffer.from([1, 2, 3]));
    // Outside the console's directory: nothing may reach these.
    await writeFile(join(dir, 'secret.txt'), 'TOP SECRET');
    await writeFile(join(root, '..', 'package.json'), '{"secret":true}');
    app = Fastify();
    registerConsoleRoutes(app, { root, config: { auth: 'key', rest: true, mcp: false } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html at /console and /console/, revalidated, with a strict CSP', async () => {
    for (const path of ['/console', '/console/']) {
      const res = await raw(port, path);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.body.toString()).toContain('<title>t</title>');
    }
  });

  it('gives each file its content type; hashed assets are immutable for a year', async () => {
    const types: Array<[string, string]> = [
      ['/console/assets/app-abc123.js', 'text/javascript; charset=utf-8'],
      ['/console/assets/style-def456.css', 'text/css; charset=utf-8'],
      ['/console/assets/logo-1.svg', 'image/svg+xml'],
      ['/console/assets/blob-2.bin', 'application/octet-stream'],
    ];
    for (const [path, type] of types) {
      const res = await raw(port, path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type'], path).toBe(type);
      expect(res.headers['cache-control'], path).toBe('public, max-age=31536000, immutable');
    }
    expect((await raw(port, '/console/assets/app-abc123.js')).body.toString()).toBe(script);
  });

  it('answers 304 to a matching If-None-Match, and gzips what compresses when asked', async () => {
    const first = await raw(port, '/console/assets/app-abc123.js');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await raw(port, '/console/assets/app-abc123.js', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const zipped = await raw(port, '/console/assets/app-abc123.js', { 'accept-encoding': 'gzip, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('accept-encoding');
    expect(zipped.body.length).toBeLessThan(script.length / 10);
    expect(gunzipSync(zipped.body).toString()).toBe(script);
    // The gzip representation has an ETag of its own, and revalidates against it.
    expect(zipped.headers.etag).not.toBe(etag);
    expect((await raw(port, '/console/assets/app-abc123.js', { 'accept-encoding': 'gzip', 'if-none-match': zipped.headers.etag as string })).status).toBe(304);
    expect((await raw(port, '/console/assets/app-abc123.js', { 'if-none-match': zipped.headers.etag as string })).status).toBe(200);
    expect((await raw(port, '/console/assets/app-abc123.js')).headers['content-encoding']).toBeUndefined();
  });

  it('serves config.json from the server, not from disk', async () => {
    const res = await raw(port, '/console/config.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(JSON.parse(res.body.toString())).toEqual({ auth: 'key', rest: true, mcp: false });
  });

  it('reaches nothing outside its directory, however the path is spelled', async () => {
    const attempts = [
      '/console/../secret.txt',
      '/console/../../secret.txt',
      '/console/..%2fsecret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/%2e%2e%2fsecret.txt',
      '/console/assets/../../secret.txt',
      '/console/assets/..%2f..%2fsecret.txt',
      '/console/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/console/..\\secret.txt',
      '/console/%5c..%5csecret.txt',
      '/console//etc/passwd',
      '/console/%2fetc%2fpasswd',
      `/console/${encodeURIComponent(join(tmpdir(), 'secret.txt'))}`,
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/index.html%00.js',
      '/console/assets/',
      '/console/assets',
      '/console/missing.js',
    ];
    for (const path of attempts) {
      const res = await raw(port, path);
      expect([400, 404], `${path} → ${res.status}`).toContain(res.status);
      expect(res.body.toString(), path).not.toContain('SECRET');
      expect(res.body.toString(), path).not.toContain('"secret"');
      expect(res.body.toString(), path).not.toContain('root:');
    }
  });

  it('says so when the console is not built', async () => {
    const bare = Fastify();
    registerConsoleRoutes(bare, { root: join(dir, 'nowhere'), config: { auth: 'none', tenant: 'default', rest: true, mcp: true } });
    const res = await bare.inject({ method: 'GET', url: '/console/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
    expect((await bare.inject({ method: 'GET', url: '/console/config.json' })).statusCode).toBe(200);
    await bare.close();
  });
});

describe('local console server', () => {
  it('answers loopback Host names only (DNS rebinding)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'allsource-console-data-'));
    const server = await startLocalConsole({ dataDir, tenant: 'default', port: 0, logger: false });
    try {
      const port = Number(new URL(server.url).port);
      expect((await raw(port, '/console/config.json')).status).toBe(200);
      expect((await raw(port, '/console/config.json', { host: `localhost:${port}` })).status).toBe(200);
      const rebound = await raw(port, '/api/v1/tenants/default/stats', { host: `evil.example:${port}` });
      expect(rebound.status).toBe(403);
      expect(rebound.body.toString()).not.toContain('tenant_id');
      const stats = await raw(port, '/api/v1/tenants/default/stats');
      expect(JSON.parse(stats.body.toString())).toMatchObject({ tenant_id: 'default', events: 0 });
      expect(JSON.parse((await raw(port, '/console/config.json')).body.toString())).toEqual({ auth: 'none', tenant: 'default', rest: true, mcp: true });
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('`allsource console` refuses to bind beyond loopback', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'allsource-console-data-'));
    try {
      const r = await runCli(['--data', dataDir, 'console', '--host', '0.0.0.0', '--port', '0'], childEnvIn(dataDir));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('loopback only');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** This machine's first non-loopback IPv4 address, if it has one. */
const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

describe.skipIf(lanAddress === undefined)('MCP endpoint and the console origin', () => {
  it('on a non-loopback bind, accepts its own origin and refuses others', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'allsource-console-origin-'));
    const store = await openEmbeddedCore({ dataDir, durability: 'none', log: () => {} });
    const prime = createPrimeService({ store });
    const server = await startMcpHttpServer({
      store: () => store,
      prime: () => prime,
      mode: 'hosted',
      resolveCaller: async () => ({ tenant: 't1', readOnly: false }),
      host: lanAddress!,
      port: 0,
      logger: false,
      ready: async () => true,
      closeResources: async () => {
        await prime.close();
        await store.close();
      },
    });
    try {
      const host = new URL(server.url).host;
      const ping = (origin: string) =>
        fetch(`${server.url}/mcp`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', origin },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
        });
      expect((await ping(`http://${host}`)).status).toBe(200);
      expect((await ping('https://evil.example')).status).toBe(403);
      expect((await ping(`http://${host}.evil.example`)).status).toBe(403);
      expect((await ping(`ftp://${host}`)).status).toBe(403);
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
