// The local transport: `npx allsource` speaks MCP over stdin/stdout to one client (Claude
// Desktop, an IDE) on a data directory, shared with any other allsource process on it (SharedCore:
// the first holds the EmbeddedCore, the others follow through its unix socket). Thin: open the
// store, serve (SDK v2's serveStdio: the client's first message picks the era, 2025-06-18 /
// 2025-11-25 with the initialize handshake, or 2026-07-28 without), and on SIGINT, SIGTERM or the
// end of stdin close everything and exit 0. A 2025-era session's plain tools/call requests are
// answered without the SDK's generic dispatch (directToolCalls.ts), by the same tool functions.
// stdout carries protocol frames only; every diagnostic goes to stderr.

import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { openSharedCore } from '../src/core/shared/sharedCore.js';
import { createEmbedderFromEnv } from '../src/embed/index.js';
import { createPrimeService } from '../src/prime/service.js';
import { createAllsourceServer, toolCallers, type ToolCaller, type ToolGroup } from '../tools/registry.js';
import { packageVersion } from '../tools/version.js';
import { withDirectToolCalls } from './directToolCalls.js';
import { LineGate, oneSendAtATime, requestId, type OversizeLine, type UnparsableLine } from './stdioLines.js';

export interface StdioServerOptions {
  dataDir: string;
  tenant: string;
  /** Tool groups to serve (default: all). */
  toolsets?: readonly ToolGroup[];
  /** Hide the tools that write to the log, and open the data directory without writing to it. */
  readOnly?: boolean;
  /** Where export_events may write files (default: `exports` in the data directory). */
  exportDir?: string;
  /** Further directories import_events may read files from. */
  importDirs?: readonly string[];
}

/** Largest message the server reads, in bytes. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * Serves MCP on this process's stdio until the client goes away or a signal arrives. Resolves
 * once connected; the process then lives on stdin and exits 0 after a clean shutdown.
 */
export async function runStdioServer(options: StdioServerOptions): Promise<void> {
  // A stray console.log from any dependency would corrupt the protocol stream: send it to stderr.
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;

  // Read the embedder settings first: a bad ALLSOURCE_EMBED_* is a startup error, not a later surprise.
  const embedder = createEmbedderFromEnv();
  // Shared with any other allsource process on this directory: the first holds it (and serves it
  // on a unix socket inside it), later ones follow through that socket.
  // Read-only, the store writes nothing to the directory either (no lock, no socket, no recovery),
  // so a directory the user cannot write, or a read-only mount, can still be served.
  const store = await openSharedCore({ dataDir: options.dataDir, log, version: packageVersion(), readOnly: options.readOnly === true });
  const sharing = store.sharing();
  if (sharing.role === 'follower') log(`allsource: ${options.dataDir} is held by process ${sharing.holder_pid}; sharing it through ${sharing.socket}`);
  if (sharing.role === 'reader') log(`allsource: ${options.dataDir} opened read-only: nothing is written to it; a writer started later is followed once it holds the directory`);
  // Derived vector indexes are saved under the directory by its holder only (two writers would clash).
  const prime = createPrimeService({ store, embedder, dataDir: sharing.role === 'holder' ? options.dataDir : undefined, log });
  // The tools of the server instance built last: the one serveStdio pins to the connection.
  let callers: ReadonlyMap<string, ToolCaller> = new Map();
  const createServer = () => {
    const server = createAllsourceServer({
      store,
      prime,
      tenant: options.tenant,
      toolsets: options.toolsets,
      readOnly: options.readOnly,
      mode: 'local',
      dataDir: options.dataDir,
      exportDir: options.exportDir,
      importDirs: options.importDirs,
      log,
    });
    callers = toolCallers(server);
    return server;
  };
  // Fail at startup, not on the first message, if the options hold no tools.
  await createServer().close();
  // Room for an inline import_events of 16 Mi characters (the SDK's default cap is 10 MiB). The
  // gate enforces it per message and answers a longer one; the SDK's own cap (which closes the
  // transport) is set above it, as the gate only ever hands over one whole line at a time.
  const gate = new LineGate(
    MAX_MESSAGE_BYTES,
    (line) => answerOversize(line),
    (line) => answerUnparsable(line),
  );
  process.stdin.pipe(gate);
  const transport = oneSendAtATime(new StdioServerTransport(gate, process.stdout, { maxBufferSize: 2 * MAX_MESSAGE_BYTES }));
  const answerOversize = (line: OversizeLine): void => {
    const { bytes } = line;
    const id = requestId(line);
    const message = `message of ${bytes} bytes is over this server's limit of ${MAX_MESSAGE_BYTES} bytes (64 MiB); it was not read. Send large imports as a file path (import_events path) or with \`allsource ingest\``;
    log(`allsource: stdio: refused a ${bytes}-byte message (limit ${MAX_MESSAGE_BYTES})${id === null ? '' : ` with id ${JSON.stringify(id)}`}`);
    // -32600 Invalid Request: the message was never parsed, so only an id read cheaply from its ends
    // can be echoed; else null, as JSON-RPC says for an unreadable request (the SDK type lacks null).
    transport.send({ jsonrpc: '2.0', id: id as string | number, error: { code: -32600, message } }).catch((err: Error) => log(`allsource: stdio: answering an oversize message: ${err.message}`));
  };

  const answerUnparsable = (line: UnparsableLine): void => {
    log(`allsource: stdio: answered a ${line.bytes}-byte line that is not JSON with a parse error`);
    // -32700 Parse error, with a null id: nothing of the line can be trusted to be one.
    transport.send({ jsonrpc: '2.0', id: null as unknown as string, error: { code: -32700, message: `Parse error: ${line.reason}` } }).catch((err: Error) => log(`allsource: stdio: answering an unparsable line: ${err.message}`));
  };

  // Set once serving starts (below); a shutdown before that has no connection to close.
  const serving: { handle?: { close(): Promise<void> } } = {};
  let shuttingDown = false;
  const shutdown = async (why: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    let code = 0;
    try {
      await serving.handle?.close();
    } catch (err) {
      log(`allsource: closing the MCP connection (${why}): ${(err as Error).message}`);
    }
    try {
      // Stops index builds and saves derived vector indexes (rebuildable, so a failure only costs time).
      await prime.close();
    } catch (err) {
      log(`allsource: closing Prime (${why}): ${(err as Error).message}`);
    }
    try {
      // Waits for in-flight writes to reach the disk, then releases the directory lock.
      await store.close();
    } catch (err) {
      log(`allsource: closing the store (${why}): ${(err as Error).message}`);
      code = 1;
    }
    process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second signal while closing means "now": the store's log is safe to cut at any point.
    if (shuttingDown) process.exit(130);
    void shutdown(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdin.on('end', () => void shutdown('stdin closed'));
  process.stdin.on('close', () => void shutdown('stdin closed'));
  // The transport also closes itself, e.g. on a message over its size cap; the process must not linger.
  const closeTransport = transport.close.bind(transport);
  transport.close = async () => {
    await closeTransport();
    void shutdown('transport closed');
  };
  // A 2025-era session's plain tools/call requests skip the SDK's generic dispatch (see directToolCalls).
  const wire = withDirectToolCalls(transport, () => callers);
  serving.handle = serveStdio(createServer, { transport: wire, onerror: (err) => log(`allsource: stdio: ${err.message}`) });
  log(`allsource: MCP server on stdio, data ${options.dataDir}, tenant ${options.tenant}`);
  if (process.stdin.isTTY) {
    log('allsource: this is an MCP server speaking JSON-RPC on stdin/stdout, meant to be started by an MCP client; `allsource --help` lists the commands. Ctrl-C to quit.');
  }
}
