// File formats of export_events and import_events: events out as JSONL, CSV or Parquet, and
// events in from JSONL or a JSON array. Pure encoding and parsing; the tools do the store calls
// and the file I/O. What export writes, import reads back (stored-only fields are ignored).

import { z } from 'zod';
import { LIMITS, type JsonObject, type NewEvent, type StoredEvent } from '../src/core/types.js';
import { jsonObject } from './schemas.js';

export type ExportFormat = 'jsonl' | 'csv' | 'parquet';

/** An event as export writes it: the stored event without tenant_id (the reader's own tenant). */
function exportRecord(event: StoredEvent, includeMetadata: boolean): Record<string, unknown> {
  const record: Record<string, unknown> = {
    id: event.id,
    entity_id: event.entity_id,
    event_type: event.event_type,
    payload: event.payload,
  };
  if (includeMetadata) record.metadata = event.metadata;
  record.timestamp = event.timestamp;
  record.occurred_at = event.occurred_at;
  record.version = event.version;
  record.position = event.position;
  record.hash = event.hash;
  if (event.deleted) record.deleted = true;
  return record;
}

export function toJsonl(events: readonly StoredEvent[], includeMetadata: boolean): string {
  let out = '';
  for (const event of events) out += `${JSON.stringify(exportRecord(event, includeMetadata))}\n`;
  return out;
}

/** RFC 4180: a field holding a comma, quote or line break is quoted, quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** CSV with a header row; payload and metadata are JSON text in their columns. */
export function toCsv(events: readonly StoredEvent[], includeMetadata: boolean): string {
  const columns = ['position', 'id', 'entity_id', 'event_type', 'version', 'timestamp', 'occurred_at', 'payload', ...(includeMetadata ? ['metadata'] : []), 'hash', 'deleted'];
  let out = `${columns.join(',')}\r\n`;
  for (const e of events) {
    const row = [
      String(e.position),
      csvField(e.id),
      csvField(e.entity_id),
      csvField(e.event_type),
      String(e.version),
      e.timestamp,
      e.occurred_at,
      csvField(JSON.stringify(e.payload)),
      ...(includeMetadata ? [e.metadata === null ? '' : csvField(JSON.stringify(e.metadata))] : []),
      e.hash,
      e.deleted ? 'true' : 'false',
    ];
    out += `${row.join(',')}\r\n`;
  }
  return out;
}

/**
 * Parquet with the same columns as the store's own segment files (see the README), so the same
 * DuckDB / pyarrow queries work on an export. Loaded on demand: Arrow and Parquet are heavy.
 */
export async function toParquet(events: readonly StoredEvent[], includeMetadata: boolean): Promise<Uint8Array> {
  const { encodeSegment } = await import('../src/core/embedded/segments.js');
  const rows = includeMetadata ? events : events.map((e) => ({ ...e, metadata: null }));
  return encodeSegment(rows);
}

// ── Import ────────────────────────────────────────────────────────────────────────────────────

export type ImportFormat = 'jsonl' | 'json';

/** Something wrong with one input record; `record` is 1-based (the line number for JSONL). */
export interface ImportProblem {
  record: number;
  field: string | null;
  message: string;
}

/** A record that parsed, with where it came from. */
export interface ImportRecord {
  record: number;
  event: NewEvent;
  /** The timestamp the record carried (an export's recorded time), used when it has no occurred_at. */
  timestamp?: string;
}

const idField = z.string().min(1).max(LIMITS.maxIdLength);

/** What an import record may hold: a new event (ingest_event's names or the store's), plus the stored-only fields of an export, which are ignored. */
const importRecordSchema = z.strictObject({
  entity_id: idField,
  event_type: idField,
  payload: jsonObject(),
  metadata: jsonObject().nullable().optional(),
  id: idField.optional(),
  event_id: idField.optional(),
  occurred_at: z.string().optional(),
  expected_version: z.number().int().min(0).optional(),
  // Stored-only fields of an export: accepted so an export re-imports as is, then ignored.
  timestamp: z.string().optional(),
  version: z.unknown().optional(),
  position: z.unknown().optional(),
  hash: z.unknown().optional(),
  tenant_id: z.unknown().optional(),
  deleted: z.unknown().optional(),
});

/** The format of `text` when the caller did not say: a JSON array starts with `[`. */
export function detectFormat(text: string): ImportFormat {
  return text.trimStart().startsWith('[') ? 'json' : 'jsonl';
}

/** Parses every record, collecting every problem (not just the first) so one call reports them all. */
export function parseImport(text: string, format: ImportFormat): { records: ImportRecord[]; problems: ImportProblem[] } {
  const records: ImportRecord[] = [];
  const problems: ImportProblem[] = [];
  const accept = (raw: unknown, record: number): void => {
    const parsed = importRecordSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.map(String).join('.') || null;
        const message = issue.code === 'unrecognized_keys' ? 'is not a known event field' : issue.message;
        problems.push({ record, field, message });
      }
      return;
    }
    const r = parsed.data;
    if (r.id !== undefined && r.event_id !== undefined && r.id !== r.event_id) {
      problems.push({ record, field: 'event_id', message: 'differs from id; give one of them' });
      return;
    }
    const event: NewEvent = { entity_id: r.entity_id, event_type: r.event_type, payload: r.payload as JsonObject };
    if (r.metadata !== undefined) event.metadata = r.metadata as JsonObject | null;
    const id = r.id ?? r.event_id;
    if (id !== undefined) event.id = id;
    if (r.occurred_at !== undefined) event.occurred_at = r.occurred_at;
    if (r.expected_version !== undefined) event.expected_version = r.expected_version;
    records.push({ record, event, timestamp: r.timestamp });
  };

  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      problems.push({ record: 0, field: null, message: `not valid JSON (${(err as Error).message.slice(0, 200)})` });
      return { records, problems };
    }
    if (!Array.isArray(value)) {
      problems.push({ record: 0, field: null, message: 'a JSON import must be an array of events' });
      return { records, problems };
    }
    value.forEach((raw, i) => accept(raw, i + 1));
    return { records, problems };
  }

  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.length === 0) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      problems.push({ record: i + 1, field: null, message: 'not valid JSON' });
      continue;
    }
    accept(raw, i + 1);
  }
  return { records, problems };
}
