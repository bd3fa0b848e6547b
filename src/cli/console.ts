// `allsource console`: the web console on this machine, for one tenant of the data directory
// (--data, --tenant): the Core API, MCP and the console's files on one loopback port, no key. It
// prints the console's URL on stderr and runs until SIGTERM or Ctrl-C; stdout stays empty.

import { InvalidError } from '../core/errors.js';
import type { CliContext } from './context.js';
import { closeOnSignals } from './signals.js';

export interface ConsoleFlags {
  port: number;
  host: string;
}

export async function runConsole(ctx: CliContext, flags: ConsoleFlags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const [{ startLocalConsole }, { createEmbedderFromEnv }, { isLoopbackHost }] = await Promise.all([import('../../transports/localConsole.js'), import('../embed/index.js'), import('../core/http/wire.js')]);
  // No key guards it, so it never listens beyond this machine.
  if (!isLoopbackHost(flags.host)) throw new InvalidError('host', `the console binds loopback only (127.0.0.1, ::1 or localhost), not ${flags.host}; for a shared console use \`allsource serve --data\` with tenant keys`);
  const server = await startLocalConsole({ dataDir: ctx.dataDir, tenant: ctx.tenant, host: flags.host, port: flags.port, embedder: createEmbedderFromEnv(env) });
  process.stderr.write(`allsource console: open ${server.url}/console/ (tenant ${ctx.tenant} of ${ctx.dataDir}; loopback only, no key)\n`);
  closeOnSignals('console', server.close, 'finishing in-flight requests, then closing the store');
}
