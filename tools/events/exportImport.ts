// Export and import: export_events (inline or to a file) and import_events (JSONL, CSV, Parquet).

import { open, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { ConflictError, InvalidError, isErrorCode } from '../../src/core/errors.js';
import { LIMITS, type NewEvent, type QueryFilter, type StoredEvent } from '../../src/core/types.js';
import { defineTool } from '../define.js';
import { detectFormat, parseImport, toCsv, toJsonl, toParquet, type ImportProblem } from '../exchange.js';
import type { ToolContext } from '../types.js';
import { cursorArg, limitArg, pageShape, queryFilterShape } from '../schemas.js';
import { FILE_EXPORT_PAGE, MAX_IMPORT_DATA_CHARS, MAX_IMPORT_EVENTS, MAX_IMPORT_FILE_BYTES, MAX_PROBLEMS_SHOWN, RESULT_BUDGET_BYTES, cursorHint, defined, exportFilePath, importFilePath, oneLine, storeFieldToArgument } from './shared.js';

type ExportFormat = 'jsonl' | 'csv' | 'parquet';

async function encodeEvents(format: ExportFormat, events: readonly StoredEvent[], includeMetadata: boolean): Promise<Uint8Array | string> {
  if (format === 'jsonl') return toJsonl(events, includeMetadata);
  if (format === 'csv') return toCsv(events, includeMetadata);
  return toParquet(events, includeMetadata);
}

export const exportEvents = defineTool({
  name: 'export_events',
  title: 'Export events',
  description:
    'Export events as JSONL (one event per line), CSV, or Parquet (the segment files\' columns; base64 when inline). Filters are those of query_events. Inline, one page per call (at most 1000 events and 1 MiB): pass next_cursor as cursor for the next. Locally, path writes every matching event to a new file instead. import_events reads a JSONL export back.',
  group: 'events',
  writes: false,
  inputSchema: {
    format: z.enum(['jsonl', 'csv', 'parquet']).optional().describe('"jsonl" (default), "csv", or "parquet" (binary: inline it comes base64-encoded).'),
    include_metadata: z.boolean().optional().describe("Include each event's metadata object. Default true."),
    ...queryFilterShape,
    limit: limitArg('events'),
    cursor: cursorArg(),
    path: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe('Local mode only: write every matching event (or at most limit) to this new file in the export directory instead of returning data, e.g. "contacts.jsonl". Never overwrites.'),
  },
  outputSchema: {
    format: z.enum(['jsonl', 'csv', 'parquet']),
    encoding: z.enum(['utf8', 'base64']).describe('How data is encoded: text, or base64 for parquet.'),
    data: z.string().nullable().describe('The exported events (null when written to path).'),
    path: z.string().nullable().describe('The file written, or null.'),
    count: z.number().int().describe('Events exported.'),
    bytes: z.number().int().describe('Size of the export in bytes (before base64).'),
    ...pageShape,
  },
  // Not read-only: with path it creates a file on this machine (never in the store).
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  argumentForField: storeFieldToArgument,
  hints: { invalid: cursorHint },
  async handler(args, ctx) {
    const format = args.format ?? 'jsonl';
    const includeMetadata = args.include_metadata ?? true;
    const { format: _format, include_metadata: _include, path, limit, cursor, ...filters } = args;
    const encoding = format === 'parquet' ? ('base64' as const) : ('utf8' as const);
    if (path !== undefined) return exportToFile(ctx, await exportFilePath(ctx, path), format, includeMetadata, filters as QueryFilter, limit, cursor);

    // Inline: one page, cut shorter (by re-querying with a smaller limit, so next_cursor stays
    // exact) while its encoding is over the inline cap.
    let pageLimit = limit ?? LIMITS.defaultPageSize;
    while (true) {
      const page = await ctx.store.query(ctx.tenant, defined({ ...filters, limit: pageLimit, cursor }) as QueryFilter);
      const encoded = await encodeEvents(format, page.events, includeMetadata);
      const bytes = typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.length;
      if (bytes > RESULT_BUDGET_BYTES && page.events.length > 1) {
        pageLimit = Math.max(1, Math.floor(page.events.length / 2));
        continue;
      }
      const data = typeof encoded === 'string' ? encoded : Buffer.from(encoded).toString('base64');
      return { format, encoding, data, path: null, count: page.events.length, bytes, next_cursor: page.next_cursor, has_more: page.has_more };
    }
  },
  render: (r) =>
    r.path !== null
      ? `Exported ${r.count} events as ${r.format} to ${r.path} (${r.bytes} bytes).${r.has_more ? ' More remain: pass next_cursor as cursor.' : ''}`
      : `Exported ${r.count} events as ${r.format} (${r.bytes} bytes${r.encoding === 'base64' ? ', base64 in data' : ''}).${r.has_more ? ' More: pass next_cursor as cursor.' : ''}${r.format !== 'parquet' && r.data ? `\n${oneLine(r.data, 1000)}` : ''}`,
});

async function exportToFile(
  ctx: ToolContext,
  path: string,
  format: ExportFormat,
  includeMetadata: boolean,
  filters: QueryFilter,
  limit: number | undefined,
  startCursor: string | undefined,
) {
  const fetchPage = (cursor: string | undefined, count: number) =>
    ctx.store.query(ctx.tenant, defined({ ...filters, limit: limit === undefined ? FILE_EXPORT_PAGE : Math.min(FILE_EXPORT_PAGE, limit - count), cursor }) as QueryFilter);
  // The first page before the file: bad filters or a bad cursor fail without leaving a file behind.
  let page = await fetchPage(startCursor, 0);
  let file: FileHandle;
  try {
    file = await open(path, 'wx', 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConflictError(`path: ${path} already exists; choose a new file name`, { field: 'path' });
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InvalidError('path', `the directory of ${path} does not exist`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'EROFS') throw new InvalidError('path', `cannot create ${path} (${code})`);
    throw err;
  }
  let count = 0;
  let bytes = 0;
  const parquetRows: StoredEvent[] = [];
  try {
    while (true) {
      count += page.events.length;
      if (format === 'parquet') parquetRows.push(...page.events);
      else {
        let text = format === 'jsonl' ? toJsonl(page.events, includeMetadata) : toCsv(page.events, includeMetadata);
        if (format === 'csv' && bytes > 0) text = text.slice(text.indexOf('\r\n') + 2); // one header per file
        const chunk = Buffer.from(text);
        await file.write(chunk);
        bytes += chunk.length;
      }
      if (!page.has_more || page.next_cursor === null || (limit !== undefined && count >= limit)) break;
      page = await fetchPage(page.next_cursor, count);
    }
    if (format === 'parquet') {
      const encoded = await toParquet(parquetRows, includeMetadata);
      await file.write(encoded);
      bytes = encoded.length;
    }
    await file.sync();
    await file.close();
  } catch (err) {
    // A half-written export is worse than none: remove it so a retry can use the same path.
    await file.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  return {
    format,
    encoding: format === 'parquet' ? ('base64' as const) : ('utf8' as const),
    data: null,
    path,
    count,
    bytes,
    next_cursor: page.has_more ? page.next_cursor : null,
    has_more: page.has_more,
  };
}

export const importEvents = defineTool({
  name: 'import_events',
  title: 'Import events',
  description:
    'Load events from JSONL or a JSON array, inline as data or, locally, from a file path. Each record has entity_id, event_type, payload and optionally metadata, id (or event_id) and occurred_at; an export_events file imports back as is. Atomic: if any record is invalid nothing is imported and every problem is reported. Up to 10,000 events per call. Try validate_only first.',
  group: 'events',
  writes: true,
  inputSchema: {
    data: z
      .string()
      .min(1)
      .max(MAX_IMPORT_DATA_CHARS)
      .optional()
      .describe('The events as text: JSONL, e.g. {"entity_id":"user-1","event_type":"user.created","payload":{"name":"Ada"}} one per line, or a JSON array of such objects. Give data or path.'),
    path: z.string().min(1).max(4096).optional().describe('Local mode only: read the events from this file in the export directory (or a directory allowed with --import-dir), by name or full path, e.g. "contacts.jsonl". Give data or path.'),
    format: z.enum(['jsonl', 'json']).optional().describe('"jsonl" or "json" (an array). Default: "json" when the text starts with "[", else "jsonl".'),
    entity_id_prefix: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('Prepended to every entity_id, to keep imported entities apart, e.g. "crm:" turns "user-1" into "crm:user-1".'),
    preserve_timestamps: z
      .boolean()
      .optional()
      .describe("Keep each record's occurred_at (or, for an export, its recorded timestamp) as when it happened. Default true; false dates every event to the import. The recorded time is always the import's."),
    skip_duplicates: z.boolean().optional().describe('Skip records whose id is already in memory (counted as skipped) instead of failing with a conflict. Default false.'),
    validate_only: z.boolean().optional().describe('Check everything (including conflicts) and report, but import nothing. Default false.'),
  },
  outputSchema: {
    imported: z.number().int().describe('Events written (with validate_only: that would be written).'),
    skipped: z.number().int().describe('Records not written because their id was already recorded.'),
    errors: z.number().int().describe('Invalid records; when above 0 nothing was imported.'),
    problems: z
      .array(z.object({ record: z.number().int().describe('1-based record number (the line number for JSONL; 0 for the whole input).'), field: z.string().nullable(), message: z.string() }))
      .describe(`The first ${MAX_PROBLEMS_SHOWN} problems.`),
    validate_only: z.boolean(),
    last_position: z.number().int().nullable().describe('Log position of the last event written, or null.'),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx) {
    if ((args.data === undefined) === (args.path === undefined)) throw new InvalidError('data', 'give exactly one of data (the events as text) or path (a file)');
    let text = args.data;
    if (args.path !== undefined) text = await readImportFile(await importFilePath(ctx, args.path));
    const validateOnly = args.validate_only === true;
    const report = (problems: ImportProblem[], errors: number) => ({
      imported: 0,
      skipped: 0,
      errors,
      problems: problems.slice(0, MAX_PROBLEMS_SHOWN),
      validate_only: validateOnly,
      last_position: null,
    });

    const { records, problems } = parseImport(text as string, args.format ?? detectFormat(text as string));
    if (records.length + problems.length === 0) throw new InvalidError(args.path !== undefined ? 'path' : 'data', 'holds no events');
    if (records.length > MAX_IMPORT_EVENTS) {
      throw new InvalidError(args.path !== undefined ? 'path' : 'data', `holds ${records.length} events; at most ${MAX_IMPORT_EVENTS} per call (split the input, or use \`allsource ingest\` for bulk loads)`);
    }
    if (problems.length > 0) return report(problems, new Set(problems.map((p) => p.record)).size);

    const preserve = args.preserve_timestamps ?? true;
    const prefix = args.entity_id_prefix ?? '';
    let skipped = 0;
    const batch: Array<{ record: number; event: NewEvent }> = [];
    for (const { record, event, timestamp } of records) {
      if (args.skip_duplicates && event.id !== undefined && (await eventExists(ctx, event.id))) {
        skipped++;
        continue;
      }
      const occurredAt = preserve ? (event.occurred_at ?? timestamp) : undefined;
      batch.push({ record, event: defined({ ...event, entity_id: prefix + event.entity_id, occurred_at: occurredAt }) });
    }
    if (batch.length === 0) return { imported: 0, skipped, errors: 0, problems: [], validate_only: validateOnly, last_position: null };
    try {
      const result = await ctx.store.append(
        ctx.tenant,
        batch.map((b) => b.event),
        { dry_run: validateOnly },
      );
      const duplicates = result.events.filter((e) => e.duplicate).length;
      return {
        imported: result.events.length - duplicates,
        skipped: skipped + duplicates,
        errors: 0,
        problems: [],
        validate_only: validateOnly,
        last_position: validateOnly || result.last_position === 0 ? null : result.last_position,
      };
    } catch (err) {
      // A store rejection of one event (invalid or conflicting) is a problem with that record.
      const problem = recordProblem(err, batch);
      if (problem === null) throw err;
      return report([problem], 1);
    }
  },
  render: (r) => {
    if (r.errors > 0) {
      const lines = [`Nothing imported: ${r.errors} invalid record${r.errors === 1 ? '' : 's'}.`];
      for (const p of r.problems) lines.push(`record ${p.record}${p.field ? ` ${p.field}` : ''}: ${p.message}`);
      return lines.join('\n');
    }
    const skipped = r.skipped ? `, ${r.skipped} skipped (already recorded)` : '';
    return r.validate_only ? `Valid: ${r.imported} events would be imported${skipped}; nothing was written.` : `Imported ${r.imported} events${skipped}.`;
  },
});

async function readImportFile(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new InvalidError('path', `${path} is not a file`);
    if (info.size > MAX_IMPORT_FILE_BYTES) throw new InvalidError('path', `${path} is ${info.size} bytes; at most ${MAX_IMPORT_FILE_BYTES} per call (use \`allsource ingest\` for bulk loads)`);
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InvalidError('path', `${path} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw new InvalidError('path', `cannot read ${path} (${code})`);
    throw err;
  }
}

async function eventExists(ctx: ToolContext, id: string): Promise<boolean> {
  try {
    await ctx.store.get(ctx.tenant, id, { include_deleted: true });
    return true;
  } catch (err) {
    // not_found: not recorded; invalid: not even a valid id, so the append will say why.
    if (isErrorCode(err, 'not_found') || isErrorCode(err, 'invalid')) return false;
    throw err;
  }
}

function recordProblem(err: unknown, batch: ReadonlyArray<{ record: number }>): ImportProblem | null {
  if (!(isErrorCode(err, 'invalid') || isErrorCode(err, 'conflict'))) return null;
  const { field, message, code } = err as { field?: string; message: string; code: string };
  const match = field === undefined ? null : /^events\[(\d+)\](?:\.(.+))?$/.exec(field);
  if (match === null) return null;
  const entry = batch[Number(match[1])];
  if (entry === undefined) return null;
  const inner = match[2] ?? null;
  const text = message.startsWith(`${field}: `) ? message.slice((field as string).length + 2) : message;
  return { record: entry.record, field: inner, message: `${code}: ${text}` };
}
