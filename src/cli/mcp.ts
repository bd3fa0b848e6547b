// `allsource mcp` (the default command): the MCP server over stdio, and the `--toolsets` parser
// it shares with the command line grammar. This module stays light; the server loads on run.

import { InvalidArgumentError } from 'commander';
import { TOOL_GROUPS, type ToolGroup } from '../../tools/groups.js';
import type { CliContext } from './context.js';

export interface McpFlags {
  toolsets?: ToolGroup[];
  readOnly?: boolean;
  exportDir?: string;
  importDir?: string[];
}

/** Parses `events,prime` into tool groups; an unknown group is a usage error. */
export function parseToolsets(value: string): ToolGroup[] {
  const groups = value
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g.length > 0);
  if (groups.length === 0) throw new InvalidArgumentError(`name at least one of ${TOOL_GROUPS.join(', ')}`);
  for (const group of groups) {
    if (!(TOOL_GROUPS as readonly string[]).includes(group)) throw new InvalidArgumentError(`unknown toolset ${JSON.stringify(group)} (known: ${TOOL_GROUPS.join(', ')})`);
  }
  return [...new Set(groups)] as ToolGroup[];
}

/** Runs the stdio server on the context's data directory and tenant; returns once it is listening. */
export async function runMcp(ctx: CliContext, flags: McpFlags): Promise<void> {
  const { runStdioServer } = await import('../../transports/stdio.js');
  await runStdioServer({ dataDir: ctx.dataDir, tenant: ctx.tenant, toolsets: flags.toolsets, readOnly: flags.readOnly === true, exportDir: flags.exportDir, importDirs: flags.importDir });
}
