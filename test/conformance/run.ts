// The official MCP conformance suite (`@modelcontextprotocol/conformance`, server scenarios)
// against a real `allsource serve --local` on 127.0.0.1:0 (`npm run test:conformance`; CI runs
// it). The suite needs Node 22: it is installed in test/conformance with its own lockfile, Node
// 22 included, so the project's own scripts keep running on the machine's Node 20. Scenarios
// that need fixture tools, resources or prompts this server does not have are listed, with the
// reason, in baseline.yml; the suite fails on any other failure, and on a baseline entry that
// starts passing.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
// dist/test/conformance/run.js → the project root is three levels up; the suite lives in the source tree.
const root = join(here, '..', '..', '..');
const suiteDir = join(root, 'test', 'conformance');
const node22 = join(suiteDir, 'node_modules', 'node', 'bin', 'node');
const suite = join(suiteDir, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const bin = join(root, 'dist', 'bin', 'allsource.js');

async function main(): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'allsource-conformance-'));
  const results = await mkdtemp(join(tmpdir(), 'allsource-conformance-results-'));
  const serve = spawn(process.execPath, [bin, 'serve', '--local', '--data', dataDir, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 20_000);
      serve.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        const match = /MCP on (http:\/\/\S+\/mcp)/.exec(stderr);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      serve.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    serve.stderr!.removeAllListeners('data').resume();
    const run = spawn(node22, [suite, 'server', '--url', url, '--expected-failures', join(suiteDir, 'baseline.yml'), '--output-dir', results], { stdio: 'inherit' });
    return await new Promise<number>((resolve) => run.on('exit', (code) => resolve(code ?? 1)));
  } finally {
    serve.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
    await rm(results, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`conformance: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
