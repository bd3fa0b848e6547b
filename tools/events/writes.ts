// The event tools that write: ingest_event and ingest_events.

import { z } from 'zod';
import { LIMITS } from '../../src/core/types.js';
import { defineTool } from '../define.js';
import { appendedResult, dryRunArg } from '../schemas.js';
import { conflictHint, eventInputShape, singleEventFieldToArgument, storeFieldToArgument, toNewEvent } from './shared.js';

export const ingestEvent = defineTool({
  name: 'ingest_event',
  title: 'Record an event',
  description:
    'Append one event (a fact about an entity) to the memory. The entity\'s state becomes the JSON merge of its event payloads in order; nothing is ever overwritten, so earlier states stay readable with as_of. Returns the new version and log position. Pass event_id to make retries safe; pass expected_version to refuse the write if someone else changed the entity since you read it. prime_recall does not see events: for facts to recall later, use prime_add_node.',
  group: 'events',
  writes: true,
  inputSchema: eventInputShape,
  outputSchema: appendedResult.shape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  argumentForField: singleEventFieldToArgument,
  hints: { conflict: conflictHint },
  async handler(args, ctx) {
    const result = await ctx.store.append(ctx.tenant, [toNewEvent(args)]);
    return { ...result.events[0] };
  },
  render: (r) =>
    r.duplicate
      ? `Already recorded: ${r.event_type} for ${r.entity_id} (id ${r.id}, version ${r.version}); nothing new was written.`
      : `Recorded ${r.event_type} for ${r.entity_id}: version ${r.version}, id ${r.id}, position ${r.position}, at ${r.timestamp}.`,
});

export const ingestEvents = defineTool({
  name: 'ingest_events',
  title: 'Record a batch of events',
  description:
    'Append several events atomically: either all are recorded or none is (a bad event or a conflict anywhere writes nothing and names the event, e.g. events[3].payload). Use it for facts that belong together. Up to 1000 events per call; for bulk loads use import_events.',
  group: 'events',
  writes: true,
  inputSchema: {
    events: z
      .array(z.strictObject(eventInputShape))
      .min(1)
      .max(LIMITS.maxPageSize)
      .describe('The events, in order (1-1000). Each has the fields of ingest_event: event_type, entity_id, payload, and optionally metadata, expected_version, event_id, occurred_at.'),
    dry_run: dryRunArg('Validate and check conflicts, but write nothing.'),
  },
  outputSchema: {
    events: z.array(appendedResult).describe('One result per input event, in order.'),
    count: z.number().int(),
    duplicates: z.number().int().describe('How many were already recorded (same event_id, same content) and not written again.'),
    last_position: z.number().int().describe('Highest log position of the batch (0 when nothing was written).'),
    dry_run: z.boolean(),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  argumentForField: storeFieldToArgument,
  hints: { conflict: conflictHint },
  async handler(args, ctx) {
    const result = await ctx.store.append(ctx.tenant, args.events.map(toNewEvent), { dry_run: args.dry_run === true });
    return {
      events: result.events.map((e) => ({ ...e })),
      count: result.events.length,
      duplicates: result.events.filter((e) => e.duplicate).length,
      last_position: result.last_position,
      dry_run: result.dry_run,
    };
  },
  render: (r) =>
    r.dry_run
      ? `Dry run: all ${r.count} events are valid and would be recorded; nothing was written.`
      : `Recorded ${r.count - r.duplicates} of ${r.count} events atomically${r.duplicates ? ` (${r.duplicates} already recorded)` : ''}; last position ${r.last_position}.`,
});
