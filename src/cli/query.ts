// `allsource query`: turns flags into a QueryFilter, prints one page (or, with --all, follows the
// cursors to the end, streaming each page as it arrives so memory stays flat).

import type { JsonValue, Order, QueryFilter } from '../core/types.js';
import { withStore, type CliContext } from './context.js';
import { formatEvent } from './format.js';
import type { Output } from './output.js';

/** The query flags as commander parses them. */
export interface QueryFlags {
  entity?: string;
  entityPrefix?: string;
  type?: string;
  typePrefix?: string;
  where?: Record<string, JsonValue>;
  since?: string;
  until?: string;
  occurredSince?: string;
  occurredUntil?: string;
  asOf?: string;
  order?: Order;
  limit?: number;
  cursor?: string;
  includeDeleted?: boolean;
  all?: boolean;
}

/** Page size used by --all when --limit is not given: the store's maximum, for the fewest round trips. */
const ALL_PAGE_SIZE = 1000;

/** Maps flags to the port's filter (snake_case wire names); absent flags stay absent. */
export function buildFilter(flags: QueryFlags): QueryFilter {
  const filter: QueryFilter = {};
  if (flags.entity !== undefined) filter.entity_id = flags.entity;
  if (flags.entityPrefix !== undefined) filter.entity_prefix = flags.entityPrefix;
  if (flags.type !== undefined) filter.event_type = flags.type;
  if (flags.typePrefix !== undefined) filter.event_type_prefix = flags.typePrefix;
  if (flags.where !== undefined) filter.payload_equals = flags.where;
  if (flags.since !== undefined) filter.since = flags.since;
  if (flags.until !== undefined) filter.until = flags.until;
  if (flags.occurredSince !== undefined) filter.occurred_since = flags.occurredSince;
  if (flags.occurredUntil !== undefined) filter.occurred_until = flags.occurredUntil;
  if (flags.asOf !== undefined) filter.as_of = flags.asOf;
  if (flags.order !== undefined) filter.order = flags.order;
  if (flags.limit !== undefined) filter.limit = flags.limit;
  else if (flags.all) filter.limit = ALL_PAGE_SIZE;
  if (flags.cursor !== undefined) filter.cursor = flags.cursor;
  if (flags.includeDeleted) filter.include_deleted = true;
  return filter;
}

/**
 * Runs `allsource query`. One page: human lines, or the QueryResult as JSON; a "more" hint with
 * the next cursor goes to stderr. With `--all`: every page in turn, as human lines or JSONL events.
 */
export async function runQuery(ctx: CliContext, flags: QueryFlags, out: Output): Promise<void> {
  const filter = buildFilter(flags);
  await withStore(ctx, { create: false, readOnly: true }, async (store, signal) => {
    if (!flags.all) {
      const result = await store.query(ctx.tenant, filter);
      if (ctx.json) {
        await out.json(result);
        return;
      }
      for (const event of result.events) await out.write(`${formatEvent(event)}\n`);
      if (result.events.length === 0) process.stderr.write('no events\n');
      if (result.has_more && result.next_cursor !== null) process.stderr.write(`more: --cursor ${result.next_cursor}\n`);
      return;
    }
    let count = 0;
    let cursor = filter.cursor;
    while (!signal.aborted && !out.closed) {
      const result = await store.query(ctx.tenant, { ...filter, cursor });
      // One write per page keeps syscalls few; `out.write` waits while the reader catches up.
      const text = result.events.map((event) => (ctx.json ? JSON.stringify(event) : formatEvent(event))).join('\n');
      if (text.length > 0) await out.write(`${text}\n`);
      count += result.events.length;
      if (!result.has_more || result.next_cursor === null) break;
      cursor = result.next_cursor;
    }
    if (count === 0 && !ctx.json) process.stderr.write('no events\n');
  });
}
