// `allsource migrate`: two jobs. With --postgres URL, create or upgrade the PostgreSQL schema as
// the owner role (and --runtime-role NAME: grant the Core's role what it needs). With --from and
// --to (a data directory and a postgres:// owner URL, either way round), copy every tenant's log
// as it is — ids, positions, times, versions, hashes — into an empty target, then prove the copy by
// comparing each tenant's integrity hashes (verify) on both sides. Progress goes to stderr, and
// only on a terminal; the summary goes to stdout.

import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { AllSourceError, InvalidError, NotFoundError } from '../core/errors.js';
import type { StoredEvent, VerifyResult } from '../core/types.js';
import { CONTROL_ENTITY } from '../core/types.js';
import type { CliContext } from './context.js';
import type { Output } from './output.js';

export interface MigrateFlags {
  postgres?: string;
  runtimeRole?: string;
  from?: string;
  to?: string;
}

const isPostgresUrl = (value: string): boolean => /^postgres(ql)?:\/\//.test(value);

/** The summary `migrate --from … --to …` prints (and `--json` prints whole). */
export interface TransferReport {
  from: string;
  to: string;
  tenants: number;
  events: number;
  verified: Array<{ tenant: string; checked: number; head_hash: string | null }>;
}

export async function runMigrate(ctx: CliContext, flags: MigrateFlags, out: Output): Promise<void> {
  if (flags.postgres !== undefined) {
    if (flags.from !== undefined || flags.to !== undefined) throw new InvalidError('postgres', '--postgres migrates the schema; copy data with --from and --to instead');
    if (!isPostgresUrl(flags.postgres)) throw new InvalidError('postgres', 'must be a postgres:// URL of the owner role');
    const { migrateSchema } = await import('../core/postgres/index.js');
    const result = await migrateSchema(flags.postgres, { runtimeRole: flags.runtimeRole });
    if (ctx.json) await out.json(result);
    else await out.write(`schema version ${result.version} ${result.created ? 'created' : result.upgraded_from !== null ? `upgraded from version ${result.upgraded_from}` : 'up to date'}${result.granted ? `; granted the runtime role ${result.granted}` : ''}\n`);
    return;
  }
  if (flags.runtimeRole !== undefined) throw new InvalidError('runtime-role', 'goes with --postgres URL');
  if (flags.from === undefined || flags.to === undefined) throw new InvalidError(flags.from === undefined ? 'from' : 'to', 'migrate takes --postgres URL (schema), or --from and --to (data)');
  const fromPg = isPostgresUrl(flags.from);
  const toPg = isPostgresUrl(flags.to);
  if (fromPg === toPg) throw new InvalidError('to', 'one side must be a data directory and the other a postgres:// URL');
  const report = fromPg ? await postgresToDirectory(flags.from, resolve(flags.to)) : await directoryToPostgres(resolve(flags.from), flags.to);
  if (ctx.json) await out.json(report);
  else await out.write(`migrated ${report.events} events of ${report.tenants} tenant${report.tenants === 1 ? '' : 's'} from ${redact(report.from)} to ${redact(report.to)}; integrity hashes match on both sides\n`);
}

/** A URL without its password, for messages. */
function redact(location: string): string {
  return isPostgresUrl(location) ? location.replace(/(\/\/[^:/@]+):[^@]*@/, '$1:***@') : location;
}

/** A progress bar on stderr, drawn only on a terminal (a log file gets nothing). */
function progress(label: string, total: number): { add(n: number): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let done = 0;
  let drawn = -1;
  const draw = (): void => {
    const pct = total === 0 ? 100 : Math.min(100, Math.floor((done / total) * 100));
    if (pct === drawn) return;
    drawn = pct;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${pct}% ${done}/${total} events`);
  };
  return {
    add(n) {
      done += n;
      if (tty) draw();
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

/** One tenant's whole log through the port, in position order: its events (tombstoned too) merged with its control events. */
async function* tenantLog(store: import('../core/embedded/index.js').EmbeddedCore, tenant: string): AsyncGenerator<StoredEvent[]> {
  const controls: StoredEvent[] = [];
  for (let cursor: string | undefined, more = true; more; ) {
    const page = await store.query(tenant, { entity_id: CONTROL_ENTITY, limit: 1000, ...(cursor ? { cursor } : {}) });
    controls.push(...page.events);
    more = page.has_more;
    cursor = page.next_cursor ?? undefined;
  }
  let c = 0;
  for (let cursor: string | undefined, more = true; more; ) {
    const page = await store.query(tenant, { include_deleted: true, limit: 1000, ...(cursor ? { cursor } : {}) });
    more = page.has_more;
    cursor = page.next_cursor ?? undefined;
    const merged: StoredEvent[] = [];
    for (const e of page.events) {
      while (c < controls.length && controls[c].position < e.position) merged.push(controls[c++]);
      merged.push(plain(e));
    }
    if (!more) while (c < controls.length) merged.push(controls[c++]);
    if (merged.length > 0) yield merged;
  }
}

/** The event without the read-time `deleted` mark (a tombstone is an event of its own). */
function plain(e: StoredEvent): StoredEvent {
  if (e.deleted !== true) return e;
  const { deleted: _deleted, ...rest } = e;
  return rest;
}

/** Each tenant's chain verified on both sides of a copy and found the same; what the target verified. */
async function sameChains(tenants: readonly string[], source: { verify(tenant: string): Promise<VerifyResult> }, target: { verify(tenant: string): Promise<VerifyResult> }): Promise<TransferReport['verified']> {
  const verified: TransferReport['verified'] = [];
  for (const tenant of tenants) {
    const [a, b] = [await source.verify(tenant), await target.verify(tenant)];
    if (!a.ok || !b.ok || a.checked !== b.checked || a.head_hash !== b.head_hash) {
      throw new AllSourceError('internal', `tenant ${JSON.stringify(tenant)}: integrity differs after the copy (source ${a.checked} events, head ${a.head_hash}; target ${b.checked} events, head ${b.head_hash}${b.ok ? '' : `: ${b.message}`})`);
    }
    verified.push({ tenant, checked: b.checked, head_hash: b.head_hash });
  }
  return verified;
}

async function directoryToPostgres(dir: string, url: string): Promise<TransferReport> {
  if (!existsSync(dir)) throw new NotFoundError(`data directory ${dir} does not exist`, { field: 'from' });
  const [{ openEmbeddedCore }, { openPostgresTransfer }] = await Promise.all([import('../core/embedded/index.js'), import('../core/postgres/transfer.js')]);
  const store = await openEmbeddedCore({ dataDir: dir });
  try {
    const target = await openPostgresTransfer(url);
    try {
      if ((await target.count()) > 0) throw new InvalidError('to', 'the database holds events already; migrate into an empty database (positions and hash chains are copied as they are)');
      const tenants = store.tenants();
      const total = Number((await store.health()).last_position ?? 0);
      const bar = progress('migrate', total);
      let events = 0;
      for (const tenant of tenants) {
        for await (const page of tenantLog(store, tenant)) {
          await target.importTenant(tenant, page);
          events += page.length;
          bar.add(page.length);
        }
      }
      bar.done();
      const verified = await sameChains(tenants, store, target);
      return { from: dir, to: url, tenants: tenants.length, events, verified };
    } finally {
      await target.close();
    }
  } finally {
    await store.close();
  }
}

async function postgresToDirectory(url: string, dir: string): Promise<TransferReport> {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new InvalidError('to', `${dir} is not empty; migrate into a new directory (positions and hash chains are copied as they are)`);
  const [{ openEmbeddedCore }, { openPostgresTransfer }] = await Promise.all([import('../core/embedded/index.js'), import('../core/postgres/transfer.js')]);
  const source = await openPostgresTransfer(url);
  try {
    const store = await openEmbeddedCore({ dataDir: dir });
    try {
      const tenants = await source.tenants();
      const bar = progress('migrate', await source.count());
      let events = 0;
      for await (const page of source.exportAll()) {
        await store.importEvents(page);
        events += page.length;
        bar.add(page.length);
      }
      bar.done();
      const verified = await sameChains(tenants, source, store);
      return { from: url, to: dir, tenants: tenants.length, events, verified };
    } finally {
      await store.close();
    }
  } finally {
    await source.close();
  }
}
