// One Core node of the PostgreSQL benchmark's multi-process scenario: opens PostgresCore on the
// URL it is given, waits for the shared start instant, then runs `writers` concurrent writers of
// single appends spread over `tenants` tenants for `seconds`, and prints its count as JSON.

import { openPostgresCore } from '../src/core/postgres/index.js';
import { createWorkload } from './workload.js';

const [url, tenantsArg, writersArg, secondsArg, startAtArg, nodeArg] = process.argv.slice(2);
const tenants = Number(tenantsArg);
const writers = Number(writersArg);
const seconds = Number(secondsArg);
const node = Number(nodeArg);
const store = await openPostgresCore({ url, poolSize: writers, log: (line) => process.stderr.write(`[node ${node}] ${line}\n`) });
const workload = createWorkload(100, 0x9000 + node);
// Warm the pool before the clock starts: every writer's connection is opened once.
await Promise.all(Array.from({ length: writers }, (_, w) => store.stats(`spread-${w % tenants}`)));
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAtArg) - Date.now())));
const deadline = performance.now() + seconds * 1000;
const started = performance.now();
let done = 0;
let next = 0;
await Promise.all(
  Array.from({ length: writers }, async (_, w) => {
    let k = w * 7919 + node * 104729;
    while (performance.now() < deadline) {
      k = (k * 1103515245 + 12345) % 2147483648;
      await store.append(`spread-${k % tenants}`, [workload.eventAt(workload.events + next++)]);
      done++;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
await store.close();
process.stdout.write(`${JSON.stringify({ node, appends: done, seconds: elapsed })}\n`);
