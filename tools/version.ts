// The package version, for the MCP server's identity and get_cluster_status. Read from
// package.json at run time: the file sits one level above tools/ in a source checkout (tests run
// the TypeScript directly) and two levels above dist/tools/ once built.

import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  cached = '0.0.0';
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'allsource' && typeof pkg.version === 'string') {
        cached = pkg.version;
        break;
      }
    } catch {
      // not at this level; try the next
    }
  }
  return cached;
}
