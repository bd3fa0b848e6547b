// Events of a segment kept in the Arrow columns the reader decoded them into, instead of as
// objects. Reopening a store no longer builds a million frozen events with parsed payloads: the
// loader records each row's position, time, entity and type in the tenant's columns, and the
// payload, metadata, id and hash stay as bytes in one buffer per record batch, off the JS heap,
// until a read turns a row into a StoredEvent.

import { deepFreeze } from '../fold.js';
import type { JsonObject, StoredEvent } from '../types.js';
import { int64Values, Interner, PackHeap, Utf8Column, type ColumnArray, type ColumnName, type PackedBatch, type PackedColumns } from './segmentDecode.js';
import { HASH_BYTES } from './segmentFormat.js';

/** One record batch of a segment, readable row by row. */
export class SegmentRows {
  readonly count: number;
  private readonly heap: PackHeap;
  private readonly ids: Utf8Column;
  private readonly payloads: Utf8Column;
  private readonly metadata: Utf8Column;
  private readonly versions: Int32Array | Float64Array;
  private readonly occurred: Int32Array | Float64Array;
  private readonly hashStart: number;

  constructor(count: number, columns: PackedColumns) {
    const arrays = columns.arrays as Record<ColumnName, ColumnArray>;
    this.count = count;
    this.heap = new PackHeap(columns.pack);
    this.ids = new Utf8Column(this.heap, arrays.id, false);
    this.payloads = new Utf8Column(this.heap, arrays.payload, false);
    this.metadata = new Utf8Column(this.heap, arrays.metadata, false);
    this.versions = int64Values(this.heap, arrays.version, 'version');
    this.occurred = int64Values(this.heap, arrays.occurred_at, 'occurred_at');
    this.hashStart = arrays.hash.buffers[1] + arrays.hash.offset * HASH_BYTES;
  }

  id(row: number): string {
    return this.ids.copy(row);
  }

  /** Whether the row's id is a 36-character UUIDv7 that starts with `prefix` (the recorded millisecond). */
  idHasPrefix(row: number, prefix: string): boolean {
    const bytes = this.ids.bytes;
    const start = this.ids.offsets[row];
    if (this.ids.offsets[row + 1] - start !== 36 || bytes[start + 14] !== 0x37 /* '7' */) return false;
    for (let i = 0; i < prefix.length; i++) if (bytes[start + i] !== prefix.charCodeAt(i)) return false;
    return true;
  }

  hash(row: number): string {
    const at = this.hashStart + row * HASH_BYTES;
    return this.heap.bytes.toString('hex', at, at + HASH_BYTES);
  }

  version(row: number): number {
    return this.versions[row];
  }

  /**
   * The row as a frozen event. The caller supplies what its own columns hold (and `timestamp`
   * as text, so the events of one batch share one string). Property order matches every other
   * place events are built, so all events share one hidden class.
   */
  event(row: number, tenant: string, entity: string, type: string, position: number, timestamp: string, recordedMs: number): StoredEvent {
    const occurredMs = this.occurred[row];
    return Object.freeze({
      id: this.ids.copy(row),
      tenant_id: tenant,
      entity_id: entity,
      event_type: type,
      payload: deepFreeze(JSON.parse(this.payloads.copy(row)) as JsonObject),
      metadata: this.metadata.isNull(row) ? null : deepFreeze(JSON.parse(this.metadata.copy(row)) as JsonObject),
      timestamp,
      occurred_at: occurredMs === recordedMs ? timestamp : new Date(occurredMs).toISOString(),
      version: this.versions[row],
      position,
      hash: this.hash(row),
    });
  }
}

/** Called for each row of a batch, in position order, with the row's interned strings and numbers. */
export type RowVisitor = (rows: SegmentRows, row: number, tenant: string, entity: string, type: string, position: number, recordedMs: number) => void;

/** Interning state shared by the batches of one load, so a million rows hold a few thousand strings. */
export interface RowScanContext {
  tenants: Interner;
  entities: Interner;
  types: Interner;
}

export function createRowScanContext(): RowScanContext {
  return { tenants: new Interner(), entities: new Interner(), types: new Interner() };
}

/** Wraps a packed batch's row columns as SegmentRows and visits each row with what its scan columns say. */
export function scanPackedBatch(batch: PackedBatch, context: RowScanContext, visit: RowVisitor): void {
  const rows = new SegmentRows(batch.count, batch.rows);
  const arrays = batch.scan.arrays as Record<ColumnName, ColumnArray>;
  const heap = new PackHeap(batch.scan.pack);
  const positions = int64Values(heap, arrays.position, 'position');
  const timestamps = int64Values(heap, arrays.timestamp, 'timestamp');
  const tenants = new Utf8Column(heap, arrays.tenant_id, false);
  const entities = new Utf8Column(heap, arrays.entity_id, false);
  const types = new Utf8Column(heap, arrays.event_type, false);
  for (let i = 0; i < rows.count; i++) {
    visit(rows, i, context.tenants.get(tenants, i), context.entities.get(entities, i), context.types.get(types, i), positions[i], timestamps[i]);
  }
}
