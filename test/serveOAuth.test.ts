// `allsource serve --core … --oauth-issuer …`: the MCP edge as an OAuth 2.1 resource server,
// against a local issuer made in the test (keys generated here, RFC 8414 metadata and JWKS served
// on loopback; never a real issuer). Valid tokens reach their tenant; wrong issuer, audience,
// signature, an expired token or one without a tenant are 401 with a pointer to the RFC 9728
// metadata, which the server publishes; scopes decide read-only; tenant keys still work.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreAdminClient } from '../src/core/http/index.js';
import { ALL_TOOLS } from '../tools/index.js';
import { startHostedMcpServer, type McpHttpServer } from '../transports/http.js';
import { startTestCore, TEST_ADMIN_KEY, type TestCore } from './helpers/coreServer.js';

let core: TestCore;
let edge: McpHttpServer;
let issuerServer: Server;
let issuer: string;
let signingKey: CryptoKey;
let foreignKey: CryptoKey;
let tenantKey: string;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  foreignKey = (await generateKeyPair('ES256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
  issuerServer = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/oauth-authorization-server') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token` }));
    else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
    else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;

  core = await startTestCore();
  const admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
  await admin.createTenant('acme');
  tenantKey = (await admin.createKey({ tenant: 'acme' })).key;
  await admin.close();
  edge = await startHostedMcpServer({ coreUrl: core.server.url, adminKey: TEST_ADMIN_KEY, oauth: { issuer, tenantClaim: 'org' }, host: '127.0.0.1', port: 0, logger: false });
});

afterAll(async () => {
  await edge?.close();
  await core?.cleanup();
  await new Promise((resolve) => issuerServer?.close(resolve));
});

async function token(claims: Record<string, unknown>, options: { key?: CryptoKey; issuer?: string; audience?: string; expiresIn?: string | number } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'test-key' }).setIssuer(options.issuer ?? issuer).setAudience(options.audience ?? `${edge.url}/mcp`).setIssuedAt();
  if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
  return jwt.sign(options.key ?? signingKey);
}

async function listTools(bearer: string) {
  const res = await request(`${edge.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text ? (JSON.parse(text) as { result?: { tools: Array<{ name: string }> } }) : undefined };
}

describe('allsource serve as an OAuth 2.1 resource server', () => {
  it('publishes Protected Resource Metadata naming the issuer and this resource', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const res = await request(`${edge.url}${path}`);
      expect(await res.body.json()).toMatchObject({ resource: `${edge.url}/mcp`, authorization_servers: [issuer], bearer_methods_supported: ['header'] });
    }
  });

  it('serves a valid token its tenant, read-only unless it holds allsource:write', async () => {
    const writer = await token({ org: 'acme', scope: 'allsource:read allsource:write' }, { expiresIn: '5m' });
    const client = new Client({ name: 'oauth-test', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${edge.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${writer}` } } }));
    const node = await client.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: 'via oauth' } } });
    expect(node.isError).toBeFalsy();
    await client.close();
    // The tenant key of the same tenant sees what the token wrote.
    const viaKey = new Client({ name: 'oauth-test', version: '0' });
    await viaKey.connect(new StreamableHTTPClientTransport(new URL(`${edge.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${tenantKey}` } } }));
    expect((await viaKey.callTool({ name: 'prime_stats', arguments: {} })).structuredContent).toMatchObject({ nodes: 1 });
    await viaKey.close();

    const reader = await token({ org: 'acme', scope: 'allsource:read' }, { expiresIn: '5m' });
    const listed = await listTools(reader);
    expect(listed.status).toBe(200);
    expect(listed.json?.result?.tools.map((t) => t.name).sort()).toEqual(ALL_TOOLS.filter((t) => !t.writes).map((t) => t.name).sort());
  });

  it('refuses wrong issuer, audience, signature, expired, no expiry, no tenant — 401 pointing to the metadata', async () => {
    const bad: Array<[string, Promise<string>]> = [
      ['wrong issuer', token({ org: 'acme' }, { issuer: 'http://127.0.0.1:1/other', expiresIn: '5m' })],
      ['wrong audience', token({ org: 'acme' }, { audience: 'http://elsewhere.example/mcp', expiresIn: '5m' })],
      ['foreign signature', token({ org: 'acme' }, { key: foreignKey, expiresIn: '5m' })],
      ['expired', token({ org: 'acme' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })],
      ['no expiry', token({ org: 'acme' })],
      ['no tenant claim', token({ sub: 'someone' }, { expiresIn: '5m' })],
      ['not a JWT', Promise.resolve('not-a-token')],
    ];
    for (const [label, pending] of bad) {
      const res = await listTools(await pending);
      expect(res.status, label).toBe(401);
      expect(res.headers['www-authenticate'], label).toBe(`Bearer resource_metadata="${edge.url}/.well-known/oauth-protected-resource/mcp"`);
    }
  });
});
