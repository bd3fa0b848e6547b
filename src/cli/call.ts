// `allsource call <tool> '<json args>'`: runs one MCP tool against the local data directory,
// through the real server and a real MCP client over an in-memory transport, so what it prints
// is exactly what an agent would get: the structuredContent as JSON, or the error it carries.

import { text as readStream } from 'node:stream/consumers';
import { errorFromWire, InvalidError, NotFoundError } from '../core/errors.js';
import { LIMITS } from '../core/types.js';
import { withStore, type CliContext } from './context.js';
import type { Output } from './output.js';

/** Parses the JSON arguments (`-` reads them from stdin); they must be a JSON object. */
async function readArguments(text: string | undefined): Promise<Record<string, unknown>> {
  if (text === undefined) return {};
  const source = text === '-' ? await readStream(process.stdin) : text;
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (err) {
    throw new InvalidError('args', `is not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidError('args', 'must be a JSON object, e.g. \'{"entity_id": "user-1"}\'');
  return value as Record<string, unknown>;
}

/** Runs `allsource call`: prints structuredContent as JSON; an isError result throws (exit 1, text on stderr). */
export async function runCall(ctx: CliContext, toolName: string, argsText: string | undefined, out: Output): Promise<void> {
  const args = await readArguments(argsText);
  const [{ ALL_TOOLS }, { createAllsourceServer }, { Client }, { InMemoryTransport }, { createPrimeService }, { createEmbedderFromEnv }] = await Promise.all([
    import('../../tools/index.js'),
    import('../../tools/registry.js'),
    import('@modelcontextprotocol/client'),
    import('@modelcontextprotocol/server'),
    import('../prime/service.js'),
    import('../embed/index.js'),
  ]);
  const tool = ALL_TOOLS.find((t) => t.name === toolName);
  if (tool === undefined) throw new NotFoundError(`tool ${JSON.stringify(toolName)} does not exist; \`allsource tools\` lists them`, { field: 'tool' });

  // A tool that only reads opens the directory read-only: it writes nothing there, not even a lock.
  const result = await withStore(ctx, { create: tool.writes, readOnly: !tool.writes }, async (store) => {
    // The same embedder as the MCP server (vectors must share a space); exact vector search, since
    // this process exits right after one call, long before an HNSW build would pay off.
    const dataDir = ctx.core === undefined ? ctx.dataDir : undefined;
    // Prime's derived files (snapshots, vector indexes) are written only by a process that may write.
    const prime = createPrimeService({ store, embedder: createEmbedderFromEnv(), dataDir: tool.writes ? dataDir : undefined, vectorSearch: 'exact' });
    const server = createAllsourceServer({ store, prime, tenant: ctx.tenant, mode: 'local', dataDir });
    const client = new Client({ name: 'allsource-cli', version: '0' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    await client.connect(clientSide);
    try {
      // A watch may wait up to a minute; the client must not give up before the tool does.
      return await client.callTool({ name: toolName, arguments: args }, { timeout: LIMITS.maxWatchTimeoutMs + 30_000 });
    } finally {
      await client.close();
      await server.close();
      await prime.close();
    }
  });

  if (result.isError) {
    // Rebuilt as a typed error from the structured error, the CLI reports it like any other.
    const structured = result.structuredContent as { error?: unknown } | undefined;
    if (typeof structured?.error === 'object' && structured.error !== null) throw errorFromWire(structured.error);
    // Only an error from the SDK itself (a protocol-level failure) comes as text alone.
    const content = Array.isArray(result.content) ? result.content : [];
    const text = content.map((c: { type: string; text?: string }) => (c.type === 'text' ? (c.text ?? '') : '')).join(' ');
    throw errorFromWire({ code: 'internal', message: text });
  }
  await out.json(result.structuredContent ?? {});
}
