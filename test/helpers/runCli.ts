// Runs the built `allsource` binary as a child process, the way a person at a shell would, and
// collects its exit code, stdout and stderr. Shared by the CLI, stdio and import tests.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built binary (npm test builds first). */
export const BIN = fileURLToPath(new URL('../../dist/bin/allsource.js', import.meta.url));

/** A child's environment: this one without any ALLSOURCE_* setting, HOME at `home` (so ~/.allsource is a temp dir). */
export function childEnvIn(home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('ALLSOURCE_')) env[key] = value;
  env.HOME = home;
  return env;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns `allsource ...args` with exactly `env`, writes `input` to its stdin and closes it. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
