// `allsource pricing` and `allsource payments`: the operator's view of x402. `pricing` prints what
// each tool costs (the same file or env `serve` reads), `payments` lists a tenant's receipts as
// its log holds them (settled, failed, indeterminate), from the data directory or a remote Core.

import { InvalidError } from '../core/errors.js';
import { withStore, type CliContext } from './context.js';
import type { Output } from './output.js';

export async function runPricing(ctx: CliContext, flags: { pricing?: string }, out: Output, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const [{ loadPricing, describePricing, pricingJson }, { ALL_TOOLS }] = await Promise.all([import('../payments/pricing.js'), import('../../tools/index.js')]);
  const pricing = await loadPricing(flags.pricing, env, ALL_TOOLS.map((tool) => tool.name));
  if (pricing === null) throw new InvalidError('pricing', 'no pricing is configured: pass --pricing FILE, or set ALLSOURCE_PRICING_FILE or ALLSOURCE_PRICING (every tool is free without one)');
  if (ctx.json) await out.json(pricingJson(pricing));
  else await out.write(describePricing(pricing));
}

export async function runPayments(ctx: CliContext, flags: { limit?: number }, out: Output): Promise<void> {
  const { listReceipts } = await import('../payments/ledger.js');
  const receipts = await withStore(ctx, { create: false, readOnly: true }, (store) => listReceipts(store, ctx.tenant, flags.limit ?? 100));
  if (ctx.json) return out.json({ tenant: ctx.tenant, receipts });
  if (receipts.length === 0) return out.write(`no payments for tenant ${ctx.tenant}\n`);
  for (const r of receipts) {
    await out.write(`${r.verified_at}\t${r.status}\t${r.tool}\t${r.amount}\t${r.payer}\t${r.transaction ?? r.reason ?? ''}\n`);
  }
}
