// A real Core server for tests: an EmbeddedCore in a temp directory behind `startCoreServer` on
// 127.0.0.1:0 in this process, or the `allsource core` binary as a child process, with a known
// admin key, and a way to dispose of either.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedCore, type EmbeddedCoreOptions } from '../../src/index.js';
import { createFileArtifactStore } from '../../src/core/artifacts.js';
import { startCoreServer, type CoreServer, type CoreServerOptions } from '../../src/core/http/server.js';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface TestCore {
  server: CoreServer;
  dataDir: string;
  /** Closes the server (and its store) and removes the directory. */
  cleanup: () => Promise<void>;
}

export async function startTestCore(options: { store?: Partial<EmbeddedCoreOptions>; server?: Partial<CoreServerOptions>; dataDir?: string } = {}): Promise<TestCore> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'allsource-core-')));
  const server = await startCoreServer({
    openStore: () => openEmbeddedCore({ dataDir, durability: 'none', log: () => {}, ...options.store }),
    keySecret: randomBytes(32),
    adminKey: TEST_ADMIN_KEY,
    // As `allsource core` keeps them: beside the log (pass `artifacts: undefined` for a Core with none).
    artifacts: createFileArtifactStore(join(dataDir, 'artifacts')),
    host: '127.0.0.1',
    port: 0,
    logger: false,
    ...options.server,
  });
  await server.ready;
  return {
    server,
    dataDir,
    cleanup: async () => {
      try {
        await server.close();
      } finally {
        if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

export interface AllsourceProcess {
  child: ChildProcess;
  /** The URL it serves on, once it is ready. */
  url: string;
  /** Everything it wrote to stderr so far. */
  stderr: () => string;
  stdout: () => string;
}
export type CoreProcess = AllsourceProcess;

/**
 * Starts the `allsource` binary with `args` and resolves once `ready` finds the URL it serves on
 * in its stderr (a server started on port 0 says where it listens).
 */
export async function startAllsource(args: string[], env: NodeJS.ProcessEnv, ready: (stderr: string) => string | undefined): Promise<AllsourceProcess> {
  const { BIN } = await import('./runCli.js');
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`allsource ${args[0]} did not start: ${stderr}`)), 15_000);
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      const found = ready(stderr);
      if (found !== undefined) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`allsource ${args[0]} exited ${code}: ${stderr}`));
    });
  });
  return { child, url, stderr: () => stderr, stdout: () => stdout };
}

/** Starts `allsource core --data dataDir --port 0 …` and resolves once it says it is ready. */
export function startCoreProcess(dataDir: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<CoreProcess> {
  return startAllsource(['core', '--data', dataDir, '--port', '0', ...extra], env, (stderr) => (/"msg":"core ready"/.test(stderr) ? /listening on (http:\/\/[^\s]+)/.exec(stderr)?.[1] : undefined));
}
