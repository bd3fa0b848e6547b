// The 18 event tools: the EventStore port as MCP tools (ingest, query, time travel, search,
// watch, soft delete, export/import, integrity). Each is a declarative definition in tools/events/
// (one file per kind); the handlers are thin calls to the port, and anything they add (a state
// diff, a file format) is pure code in a sibling module. Argument and result names are the
// AllSource product's, in snake_case. This module puts them in the order tools/list shows.

import type { ToolDefinition } from './types.js';
import { ingestEvent, ingestEvents } from './events/writes.js';
import { queryEvents, getEvent, reconstructState, analyzeChanges, getSnapshot, listEntities, listEventTypes, getStats, getClusterStatus, searchEvents, watchEvents } from './events/reads.js';
import { deleteEvents, restoreEvents } from './events/softDelete.js';
import { exportEvents, importEvents } from './events/exportImport.js';
import { verifyIntegrity } from './events/integrity.js';


/** The event tools, in the order tools/list shows them. */
export const EVENT_TOOLS: readonly ToolDefinition[] = [
  ingestEvent,
  ingestEvents,
  queryEvents,
  getEvent,
  reconstructState,
  analyzeChanges,
  getSnapshot,
  listEntities,
  listEventTypes,
  getStats,
  getClusterStatus,
  searchEvents,
  watchEvents,
  deleteEvents,
  restoreEvents,
  exportEvents,
  importEvents,
  verifyIntegrity,
];
