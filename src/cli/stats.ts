// `allsource stats`: the tenant's counters and the store's health in one view.

import type { StoreHealth, TenantStats } from '../core/types.js';
import { withStore, type CliContext } from './context.js';
import { formatKeyValues } from './format.js';
import type { Output } from './output.js';

/** What `allsource stats --json` prints. */
export interface StatsReport {
  data_dir: string;
  tenant: TenantStats;
  store: StoreHealth;
}

/** Runs `allsource stats`: aligned `key  value` lines (nested as `tenant.events`, `store.kind`), or JSON. */
export async function runStats(ctx: CliContext, out: Output): Promise<void> {
  const report: StatsReport = await withStore(ctx, { create: false, readOnly: true }, async (store) => ({
    data_dir: ctx.dataDir,
    tenant: await store.stats(ctx.tenant),
    store: await store.health(),
  }));
  if (ctx.json) await out.json(report);
  else await out.write(`${formatKeyValues({ ...report })}\n`);
}
