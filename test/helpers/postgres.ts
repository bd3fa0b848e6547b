// A throwaway PostgreSQL for tests and benchmarks: initdb into a temp directory and pg_ctl start
// on a free loopback port (as the `postgres` user when running as root, since initdb refuses
// root), or the server at ALLSOURCE_TEST_PG_URL (a superuser URL) when that is set. Each cluster
// gets a fresh database owned by an owner role, migrated by it, and a runtime role without
// BYPASSRLS for the Core, as production runs them.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrateSchema } from '../../src/core/postgres/index.js';

const run = promisify(execFile);

export const PG_BIN = process.env.ALLSOURCE_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why PostgreSQL tests cannot run here (null when they can). */
export function postgresUnavailable(): string | null {
  if (process.env.ALLSOURCE_TEST_PG_URL) return null;
  if (existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'))) return null;
  return `no PostgreSQL: ${join(PG_BIN, 'initdb')} is missing and ALLSOURCE_TEST_PG_URL is not set (install postgresql-15, or point ALLSOURCE_TEST_PG_URL at a superuser URL of a throwaway server)`;
}

/**
 * Whether this file's PostgreSQL tests run. Where they cannot, they are skipped with a loud message,
 * unless ALLSOURCE_REQUIRE_PG=1, where the missing server fails the run instead.
 */
export function postgresTestsEnabled(file: string): boolean {
  const why = postgresUnavailable();
  if (why === null) return true;
  if (process.env.ALLSOURCE_REQUIRE_PG === '1') throw new Error(`${file}: ALLSOURCE_REQUIRE_PG=1 but ${why}`);
  process.stderr.write(`\n!!! SKIPPING the PostgreSQL tests of ${file}: ${why}\n\n`);
  return false;
}

export interface PgCluster {
  /** The owner role: runs migrations. */
  ownerUrl: string;
  /** The runtime role the Core connects as (no ownership, no BYPASSRLS). */
  runtimeUrl: string;
  runtimeRole: string;
  /** A superuser on the same database (tests that inspect or tamper). */
  superUrl: string;
  settings: string;
  stop: () => Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const asPostgres = (): boolean => userInfo().uid === 0;

async function runPg(tool: string, args: string[]): Promise<void> {
  const bin = join(PG_BIN, tool);
  if (asPostgres()) await run('runuser', ['-u', 'postgres', '--', bin, ...args], { cwd: '/tmp' });
  else await run(bin, args);
}

/**
 * Starts a cluster (or uses ALLSOURCE_TEST_PG_URL) with a fresh, migrated database. `fsync: false`
 * (tests) trades durability for speed; benchmarks keep fsync on.
 */
export async function startPgCluster(options: { fsync?: boolean; extra?: string } = {}): Promise<PgCluster> {
  const fsync = options.fsync ?? false;
  let adminUrl: string;
  let stopServer = async (): Promise<void> => {};
  let settings: string;
  const external = process.env.ALLSOURCE_TEST_PG_URL;
  if (external) {
    adminUrl = external;
    settings = 'external server (ALLSOURCE_TEST_PG_URL)';
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'allsource-pg-'));
    if (asPostgres()) chownSync(dir, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
    const data = join(dir, 'data');
    const port = await freePort();
    await runPg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const flags = `${fsync ? '' : '-F -c fsync=off -c synchronous_commit=off '}-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=300 ${options.extra ?? ''}`.trim();
    settings = flags;
    await runPg('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', flags, '-w', '-t', '60', 'start']);
    adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    stopServer = async () => {
      await runPg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const suffix = randomBytes(4).toString('hex');
  const database = `allsource_${suffix}`;
  const owner = `allsource_owner_${suffix}`;
  const runtime = `allsource_app_${suffix}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'owner'`);
    await admin.query(`CREATE ROLE ${runtime} LOGIN PASSWORD 'app'`);
    await admin.query(`CREATE DATABASE ${database} OWNER ${owner}`);
  } finally {
    await admin.end();
  }
  const base = new URL(adminUrl);
  const urlAs = (user: string, password: string): string => {
    const u = new URL(base.href);
    u.username = user;
    u.password = password;
    u.pathname = `/${database}`;
    return u.href;
  };
  const ownerUrl = urlAs(owner, 'owner');
  await migrateSchema(ownerUrl, { runtimeRole: runtime });
  const superUrl = (() => {
    const u = new URL(base.href);
    u.pathname = `/${database}`;
    return u.href;
  })();
  return {
    ownerUrl,
    runtimeUrl: urlAs(runtime, 'app'),
    runtimeRole: runtime,
    superUrl,
    settings,
    stop: async () => {
      if (external) {
        const c = new pg.Client({ connectionString: adminUrl });
        await c.connect();
        try {
          await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
          await c.query(`DROP ROLE IF EXISTS ${runtime}`);
          await c.query(`DROP ROLE IF EXISTS ${owner}`);
        } finally {
          await c.end();
        }
      }
      await stopServer();
    },
  };
}
