// `allsource tools`: the tool registry as a table (name, group, read/write, title), or JSON.

import type { CliContext } from './context.js';
import type { Output } from './output.js';

/** One row of `allsource tools --json`. */
export interface ToolListing {
  name: string;
  group: string;
  access: 'read' | 'write';
  title: string;
  description: string;
}

export async function runTools(ctx: CliContext, out: Output): Promise<void> {
  const { ALL_TOOLS } = await import('../../tools/index.js');
  const rows: ToolListing[] = ALL_TOOLS.map((t) => ({ name: t.name, group: t.group, access: t.writes ? 'write' : 'read', title: t.title, description: t.description }));
  if (ctx.json) {
    await out.json(rows);
    return;
  }
  const nameWidth = Math.max(4, ...rows.map((r) => r.name.length));
  const groupWidth = Math.max(5, ...rows.map((r) => r.group.length));
  const lines = [`${'name'.padEnd(nameWidth)}  ${'group'.padEnd(groupWidth)}  access  title`];
  for (const r of rows) lines.push(`${r.name.padEnd(nameWidth)}  ${r.group.padEnd(groupWidth)}  ${r.access.padEnd(6)}  ${r.title}`);
  lines.push('', `${rows.length} tools. Run one with: allsource call <name> '<json args>'`);
  await out.write(`${lines.join('\n')}\n`);
}
