// Child process for the crash tests: opens a store and appends from several concurrent writers
// until it is killed, printing the id of every acknowledged event on stdout (one per line).
// Usage: node crashWriter.js <dataDir> <writers> [walRollBytes]

import { openEmbeddedCore } from '../../src/index.js';

const [dataDir, writersArg, rollArg] = process.argv.slice(2);
const writers = Number(writersArg ?? 8);
const store = await openEmbeddedCore({ dataDir, walRollBytes: rollArg ? Number(rollArg) : undefined, log: () => {} });
const run = `${process.pid}`;
process.stdout.write(`ready ${run}\n`);

async function writer(w: number): Promise<void> {
  for (let seq = 0; ; seq++) {
    const batchSize = 1 + (seq % 3);
    const events = Array.from({ length: batchSize }, (_, k) => {
      const id = `${run}-w${w}-${seq}-${k}`;
      return { id, entity_id: `entity-${w % 4}`, event_type: 'crash.tested', payload: { id, check: `${id}:${id.length}`, pad: 'x'.repeat(seq % 200) } };
    });
    const result = await store.append('crash', events);
    process.stdout.write(result.events.map((e) => e.id).join('\n') + '\n');
  }
}

await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
