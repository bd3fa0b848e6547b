// Soft delete: delete_events and restore_events (tombstones recorded in the log, reversible).

import { z } from 'zod';
import { InvalidError } from '../../src/core/errors.js';
import { LIMITS } from '../../src/core/types.js';
import { defineTool } from '../define.js';
import { dryRunArg, entityIdArg, eventTypeArg, instantArg, reasonArg, tombstoneShape } from '../schemas.js';
import { defined, storeFieldToArgument } from './shared.js';

const selectorShape = (verb: 'delete' | 'restore') => ({
  reason: reasonArg(verb === 'delete' ? 'Why these events are being forgotten' : 'Why these events are being brought back'),
  entity_id: entityIdArg(`${verb === 'delete' ? 'Delete' : 'Restore'} the events of this entity`).optional(),
  event_ids: z
    .array(z.string().min(1).max(LIMITS.maxIdLength))
    .min(1)
    .max(LIMITS.maxPageSize)
    .optional()
    .describe(`${verb === 'delete' ? 'Delete' : 'Restore'} these events, by id (1-1000 ids).`),
  event_type: eventTypeArg(`${verb === 'delete' ? 'Delete' : 'Restore'} the events of this type`).optional(),
  since: instantArg('Narrow to events recorded at or after this instant').optional(),
  until: instantArg('Narrow to events recorded at or before this instant').optional(),
  dry_run: dryRunArg(`Report which events would be ${verb === 'delete' ? 'deleted' : 'restored'}, and change nothing.`),
});

type SelectorArgs = { reason: string; entity_id?: string; event_ids?: string[]; event_type?: string; since?: string; until?: string; dry_run?: boolean };

function toSelector(args: SelectorArgs) {
  if (args.event_ids === undefined && args.entity_id === undefined && args.event_type === undefined) {
    throw new InvalidError('event_ids', 'name the events with event_ids, entity_id or event_type (since and until only narrow those)');
  }
  return defined({ reason: args.reason, ids: args.event_ids, entity_id: args.entity_id, event_type: args.event_type, since: args.since, until: args.until, dry_run: args.dry_run });
}

export const deleteEvents = defineTool({
  name: 'delete_events',
  title: 'Delete (forget) events',
  description:
    'Forget events: reads stop returning them and states fold without them. Select by event_ids, entity_id or event_type (all given must match), narrowed by since/until. A soft delete recorded in the log with your reason: restore_events brings them back, and reads as_of an earlier instant still see them. Try dry_run first.',
  group: 'events',
  writes: true,
  inputSchema: selectorShape('delete'),
  outputSchema: tombstoneShape,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  argumentForField: storeFieldToArgument,
  async handler(args, ctx) {
    return { ...(await ctx.store.tombstone(ctx.tenant, toSelector(args))) };
  },
  render: (r) =>
    r.dry_run
      ? `Dry run: ${r.count} event${r.count === 1 ? '' : 's'} would be deleted${r.count ? `: ${r.event_ids.slice(0, 20).join(', ')}${r.count > 20 ? ', …' : ''}` : ''}.`
      : r.count === 0
        ? 'Nothing to delete: no live events matched.'
        : `Deleted ${r.count} event${r.count === 1 ? '' : 's'} (recorded at position ${r.position}); restore_events can bring them back.`,
});

export const restoreEvents = defineTool({
  name: 'restore_events',
  title: 'Restore deleted events',
  description:
    'Bring back events removed with delete_events. Select by event_ids, entity_id or event_type (all given selectors must match), narrowed by since/until; only deleted events are affected. Recorded in the log with your reason.',
  group: 'events',
  writes: true,
  inputSchema: selectorShape('restore'),
  outputSchema: tombstoneShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  argumentForField: storeFieldToArgument,
  async handler(args, ctx) {
    return { ...(await ctx.store.restore(ctx.tenant, toSelector(args))) };
  },
  render: (r) =>
    r.dry_run
      ? `Dry run: ${r.count} event${r.count === 1 ? '' : 's'} would be restored.`
      : r.count === 0
        ? 'Nothing to restore: no deleted events matched.'
        : `Restored ${r.count} event${r.count === 1 ? '' : 's'} (recorded at position ${r.position}).`,
});
