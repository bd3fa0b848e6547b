// `allsource state <entity>`: an entity's folded state, now or as of an instant.

import { withStore, type CliContext } from './context.js';
import { formatStateHeader } from './format.js';
import type { Output } from './output.js';

/** Runs `allsource state <entity> [--as-of T]`: a header line and the pretty state, or the whole EntityState as JSON. */
export async function runState(ctx: CliContext, entityId: string, asOf: string | undefined, out: Output): Promise<void> {
  const result = await withStore(ctx, { create: false, readOnly: true }, (store) => store.state(ctx.tenant, entityId, asOf === undefined ? {} : { as_of: asOf }));
  if (ctx.json) {
    await out.json(result);
    return;
  }
  await out.write(`${formatStateHeader(result)}\n${JSON.stringify(result.state, null, 2)}\n`);
}
