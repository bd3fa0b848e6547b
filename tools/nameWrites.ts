// One queue per tenant for the tool calls that read "is this name taken?" and then write: the
// reference-compatible graph writes and prime_add_node. Within this process they run one at a
// time, so two parallel calls (agents issue them) cannot both find a name free and both take it.
// Across processes create_entities' name claims settle it (see memory/writes.ts).

import type { PrimeService } from '../src/prime/types.js';

const queues = new WeakMap<PrimeService, Map<string, Promise<unknown>>>();

/** Runs `work` after every earlier name write of this tenant on this service has settled. */
export async function serializedNameWrite<T>(prime: PrimeService, tenant: string, work: () => Promise<T>): Promise<T> {
  let byTenant = queues.get(prime);
  if (byTenant === undefined) queues.set(prime, (byTenant = new Map()));
  const previous = byTenant.get(tenant) ?? Promise.resolve();
  const run = previous.then(work, work);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  byTenant.set(tenant, settled);
  void settled.then(() => {
    if (byTenant.get(tenant) === settled) byTenant.delete(tenant);
  });
  return run;
}
