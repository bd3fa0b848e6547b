// An MCP Client on a fresh server over the SDK's in-memory transport, with a real EmbeddedCore
// and Prime in a temp directory: calls that check every success strictly against the tool's
// outputSchema and every error's text against its structuredContent, and the tenant's event
// count, so a test can say "nothing was written". Shared by the tool tests that need only that.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, expect } from 'vitest';
import { z } from 'zod';
import { openEmbeddedCore, type EmbeddedCore } from '../../src/index.js';
import { createPrimeService } from '../../src/prime/service.js';
import { toolErrorContent } from '../../tools/errors.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { createAllsourceServer, type AllsourceServerOptions, type ToolError } from '../../tools/registry.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-tool-harness-'));
let dirCount = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

const OUTPUT_SCHEMAS = new Map(ALL_TOOLS.map((t) => [t.name, z.strictObject(t.outputSchema)]));
export const textOf = (r: CallToolResult): string => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

export interface ToolHarness {
  store: EmbeddedCore;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  fail(name: string, args?: Record<string, unknown>): Promise<ToolError>;
  /** Events in the tenant's log (every write appends at least one). */
  events(): Promise<number>;
  close(): Promise<void>;
}

/** A real MCP Client on a server built from `options`, over the in-memory transport. */
export async function connectClient(options: AllsourceServerOptions): Promise<{ client: Client; call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>; close(): Promise<void> }> {
  const server = createAllsourceServer({ log: () => {}, ...options });
  const client = new Client({ name: 'tool-harness', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  // Listing makes the client validate structuredContent against the listed outputSchemas.
  await client.listTools();
  const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    client,
    call,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

/** A client on a server for tenant `acme` of a new store. */
export async function connectHarness(): Promise<ToolHarness> {
  const dataDir = join(root, `data-${++dirCount}`);
  const store = await openEmbeddedCore({ dataDir, durability: 'none', log: () => {} });
  const prime = createPrimeService({ store, log: () => {} });
  const connected = await connectClient({ store, prime, tenant: 'acme', mode: 'local', dataDir });
  const call = connected.call;
  return {
    store,
    call,
    async ok<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
      const result = await call(name, args);
      expect(result.isError, `${name} failed: ${textOf(result)}`).toBeFalsy();
      return OUTPUT_SCHEMAS.get(name)!.parse(result.structuredContent) as T;
    },
    async fail(name: string, args: Record<string, unknown> = {}): Promise<ToolError> {
      const result = await call(name, args);
      expect(result.isError, `${name} should have failed: ${textOf(result)}`).toBe(true);
      const { error } = toolErrorContent.parse(result.structuredContent);
      expect(textOf(result)).toBe(`${error.code}: ${error.message}`);
      return error;
    },
    events: async () => (await store.stats('acme')).events,
    async close() {
      await connected.close();
      await prime.close();
      await store.close();
    },
  };
}

