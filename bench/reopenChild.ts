// Reopen probe, run by bench/run.ts in a FRESH node process so the parent's heap does not pollute
// the figures: `node dist/bench/reopenChild.js <dir> [allsource|sqlite] [entity_id]`.
// Opens the store, answers a first query for one entity, then prints one JSON line on stdout:
// { peer, open_ms, first_query_ms, ready_ms, rss_bytes, settled_rss_bytes, events } — and closes.
// settled_rss_bytes is the RSS once the store's background work after open (allsource folds
// entity states after a reopen) is done, so memory that arrives later is not left out.

import { openSqliteDatabase, prepareEntityQuery } from './peers/sqlite.js';
import { TENANT } from './workload.js';

const ms = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e6;

async function main(): Promise<void> {
  const [dir, peer = 'allsource', entityId = 'user-00000'] = process.argv.slice(2);
  if (!dir || (peer !== 'allsource' && peer !== 'sqlite')) {
    throw new Error('usage: node dist/bench/reopenChild.js <dir> [allsource|sqlite] [entity_id]');
  }
  let openMs: number;
  let readyMs: number;
  let events: number;
  let close: () => Promise<void> | void;
  let rss: number;
  let settledRss: number;
  // Loaded lazily (so the sqlite probe runs even if the embedded store cannot load), before the clock starts.
  const { openEmbeddedCore } = peer === 'allsource' ? await import('../src/index.js') : { openEmbeddedCore: null };
  const start = process.hrtime.bigint();
  if (openEmbeddedCore) {
    const store = await openEmbeddedCore({ dataDir: dir });
    openMs = ms(start);
    events = (await store.query(TENANT, { entity_id: entityId, limit: 100 })).events.length;
    readyMs = ms(start);
    rss = process.memoryUsage().rss;
    const deadline = Date.now() + 60_000;
    while (((await store.health()).events as { folds_pending: boolean }).folds_pending && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    settledRss = process.memoryUsage().rss;
    close = () => store.close();
  } else {
    const db = openSqliteDatabase(dir);
    openMs = ms(start);
    events = prepareEntityQuery(db)(TENANT, entityId, 100).length;
    readyMs = ms(start);
    rss = settledRss = process.memoryUsage().rss;
    close = () => {
      db.close();
    };
  }
  process.stdout.write(
    `${JSON.stringify({ peer, open_ms: openMs, first_query_ms: readyMs - openMs, ready_ms: readyMs, rss_bytes: rss, settled_rss_bytes: settledRss, events })}\n`,
  );
  await close();
}

main().catch((error: unknown) => {
  process.stderr.write(`reopenChild: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
