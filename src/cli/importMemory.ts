// `allsource import-memory FILE`: moves a knowledge graph from the reference MCP memory server
// (@modelcontextprotocol/server-memory) into Prime. Its memory.jsonl holds one JSON object per
// line: `{"type":"entity","name","entityType","observations"}` or
// `{"type":"relation","from","to","relationType"}`. Entities become nodes (type = entityType,
// properties {name, observations}) and relations edges, exactly as the create_entities and
// create_relations tools write them, so the imported graph reads back through read_graph and is
// found by prime_recall.
//
// Decisions: the whole file is checked first, and any malformed line (bad JSON, an unknown type, a
// missing or non-string field) fails the import with every bad line number and writes nothing.
// An entity whose name already exists (in memory, or earlier in the file) is skipped; so is a
// relation that already exists. A relation whose entity is in neither the file nor memory is
// skipped and reported (the reference keeps such dangling relations; a graph edge needs both
// ends). Re-running an import is therefore safe: it adds only what is missing.

import { readFile } from 'node:fs/promises';
import { InvalidError, NotFoundError } from '../core/errors.js';
import type { NewEvent } from '../core/types.js';
import { edgeCreated, nodeCreated } from '../prime/events.js';
import type { PrimeService } from '../prime/types.js';
import { withStore, type CliContext } from './context.js';
import type { Output } from './output.js';

/** Events per atomic append (the store's batch limit). Entities are all written before any relation. */
const IMPORT_BATCH_EVENTS = 10_000;
/** Bad lines (and dangling relations) named in a report; all are counted. */
const MAX_LISTED = 20;

interface MemoryEntity {
  line: number;
  name: string;
  entityType: string;
  observations: string[];
}

interface MemoryRelation {
  line: number;
  from: string;
  to: string;
  relationType: string;
}

/** A line that could not be imported, by its 1-based line number. */
export interface LineProblem {
  line: number;
  message: string;
}

/** What `allsource import-memory --json` prints. */
export interface ImportMemoryReport {
  file: string;
  tenant: string;
  /** Non-blank lines read. */
  lines: number;
  entities: { imported: number; skipped: number };
  relations: { imported: number; skipped: number; dangling: number };
  /** Events appended. */
  events: number;
  /** The first relations skipped because an entity is missing (all are counted in relations.dangling). */
  dangling: Array<{ line: number; from: string; to: string; relationType: string; missing: string }>;
}

/** Parses a memory.jsonl text; malformed lines are returned as problems, never half-read. */
export function parseMemoryJsonl(text: string): { entities: MemoryEntity[]; relations: MemoryRelation[]; lines: number; problems: LineProblem[] } {
  const entities: MemoryEntity[] = [];
  const relations: MemoryRelation[] = [];
  const problems: LineProblem[] = [];
  let lines = 0;
  const rows = text.split('\n');
  rows.forEach((raw, index) => {
    const line = index + 1;
    const source = index === 0 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    if (source.trim() === '') return;
    lines++;
    let item: unknown;
    try {
      item = JSON.parse(source);
    } catch (err) {
      problems.push({ line, message: `not valid JSON (${(err as Error).message})` });
      return;
    }
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push({ line, message: 'not a JSON object' });
      return;
    }
    const o = item as Record<string, unknown>;
    const text = (key: string): string | undefined => {
      const value = o[key];
      if (typeof value === 'string' && value.length > 0) return value;
      problems.push({ line, message: `${key} must be a non-empty string` });
      return undefined;
    };
    if (o.type === 'entity') {
      const name = text('name');
      const entityType = text('entityType');
      const observations = o.observations === undefined ? [] : o.observations;
      if (!Array.isArray(observations) || observations.some((x) => typeof x !== 'string')) {
        problems.push({ line, message: 'observations must be an array of strings' });
        return;
      }
      if (name !== undefined && entityType !== undefined) entities.push({ line, name, entityType, observations: observations as string[] });
    } else if (o.type === 'relation') {
      const from = text('from');
      const to = text('to');
      const relationType = text('relationType');
      if (from !== undefined && to !== undefined && relationType !== undefined) relations.push({ line, from, to, relationType });
    } else {
      problems.push({ line, message: `type must be "entity" or "relation", got ${JSON.stringify(o.type ?? null).slice(0, 40)}` });
    }
  });
  return { entities, relations, lines, problems };
}

/** Parses and checks a memory.jsonl text: InvalidError (field `file`) naming every malformed line. */
export function checkMemoryJsonl(text: string, file: string): ReturnType<typeof parseMemoryJsonl> {
  const parsed = parseMemoryJsonl(text);
  if (parsed.problems.length > 0) {
    const listed = parsed.problems.slice(0, MAX_LISTED).map((p) => `line ${p.line}: ${p.message}`);
    const more = parsed.problems.length > MAX_LISTED ? `; and ${parsed.problems.length - MAX_LISTED} more` : '';
    throw new InvalidError('file', `${file} has ${parsed.problems.length} malformed line${parsed.problems.length === 1 ? '' : 's'}, so nothing was imported: ${listed.join('; ')}${more}`, {
      lines: parsed.problems.map((p) => p.line),
    });
  }
  return parsed;
}

/**
 * Imports a memory.jsonl text into one tenant through Prime. Throws InvalidError (field `file`)
 * naming every malformed line, before anything is written.
 */
export async function importMemoryText(prime: PrimeService, tenant: string, text: string, file: string): Promise<ImportMemoryReport> {
  const parsed = checkMemoryJsonl(text, file);
  const view = await prime.view(tenant);
  const report: ImportMemoryReport = {
    file,
    tenant,
    lines: parsed.lines,
    entities: { imported: 0, skipped: 0 },
    relations: { imported: 0, skipped: 0, dangling: 0 },
    events: 0,
    dangling: [],
  };
  const nodeEvents: NewEvent[] = [];
  const edgeEvents: NewEvent[] = [];
  /** Name → node id: the one this import creates, else the live graph's first node of that name. */
  const created = new Map<string, string>();
  const idOf = (name: string): string | undefined => created.get(name) ?? view.nodeByName(name)?.id;
  for (const e of parsed.entities) {
    if (idOf(e.name) !== undefined) {
      report.entities.skipped++;
      continue;
    }
    const id = prime.newId();
    created.set(e.name, id);
    nodeEvents.push(nodeCreated(id, e.entityType, { name: e.name, observations: [...e.observations] }));
    report.entities.imported++;
  }
  const seen = new Set<string>();
  for (const r of parsed.relations) {
    const source = idOf(r.from);
    const target = idOf(r.to);
    if (source === undefined || target === undefined) {
      report.relations.dangling++;
      if (report.dangling.length < MAX_LISTED) report.dangling.push({ line: r.line, from: r.from, to: r.to, relationType: r.relationType, missing: source === undefined ? r.from : r.to });
      continue;
    }
    const key = JSON.stringify([source, target, r.relationType]);
    if (seen.has(key) || view.edgesOf(source, 'out').some((edge) => edge.target === target && edge.relation === r.relationType)) {
      report.relations.skipped++;
      continue;
    }
    seen.add(key);
    edgeEvents.push(edgeCreated({ id: prime.newId(), source, target, relation: r.relationType, properties: {}, weight: 1 }));
    report.relations.imported++;
  }

  // Entities before relations: an edge is folded only once both its nodes exist.
  const events = [...nodeEvents, ...edgeEvents];
  for (let start = 0; start < events.length; start += IMPORT_BATCH_EVENTS) {
    await prime.appendEvents(tenant, events.slice(start, start + IMPORT_BATCH_EVENTS));
    report.events += Math.min(IMPORT_BATCH_EVENTS, events.length - start);
  }
  return report;
}

/** Human summary of an import. */
export function formatImportReport(r: ImportMemoryReport): string {
  const lines = [
    `imported ${r.entities.imported} ${r.entities.imported === 1 ? 'entity' : 'entities'} and ${r.relations.imported} ${r.relations.imported === 1 ? 'relation' : 'relations'} from ${r.file} (${r.lines} lines) into tenant ${r.tenant}`,
  ];
  const skipped: string[] = [];
  if (r.entities.skipped > 0) skipped.push(`${r.entities.skipped} ${r.entities.skipped === 1 ? 'entity' : 'entities'} whose name already exists`);
  if (r.relations.skipped > 0) skipped.push(`${r.relations.skipped} duplicate ${r.relations.skipped === 1 ? 'relation' : 'relations'}`);
  if (skipped.length > 0) lines.push(`skipped ${skipped.join(' and ')}`);
  if (r.relations.dangling > 0) {
    lines.push(`skipped ${r.relations.dangling} ${r.relations.dangling === 1 ? 'relation' : 'relations'} to a missing entity:`);
    for (const d of r.dangling) lines.push(`  line ${d.line}: ${d.from} -[${d.relationType}]-> ${d.to} (no entity named ${JSON.stringify(d.missing)})`);
    if (r.relations.dangling > r.dangling.length) lines.push(`  … and ${r.relations.dangling - r.dangling.length} more`);
  }
  return lines.join('\n');
}

async function readInput(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`input file ${path} does not exist`, { field: 'file' });
    throw new InvalidError('file', `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Runs `allsource import-memory FILE`: the report as text, or JSON with --json. */
export async function runImportMemory(ctx: CliContext, file: string, out: Output): Promise<void> {
  // Read and check the input before opening the store, so a bad file creates and touches nothing.
  const text = await readInput(file);
  checkMemoryJsonl(text, file);
  const [{ createPrimeService }, { createEmbedderFromEnv }] = await Promise.all([import('../prime/service.js'), import('../embed/index.js')]);
  const embedder = createEmbedderFromEnv();
  const report = await withStore(ctx, { create: true }, async (store) => {
    const prime = createPrimeService({ store, embedder, dataDir: ctx.core === undefined ? ctx.dataDir : undefined, vectorSearch: 'exact' });
    try {
      return await importMemoryText(prime, ctx.tenant, text, file);
    } finally {
      await prime.close();
    }
  });
  if (ctx.json) await out.json(report);
  else await out.write(`${formatImportReport(report)}\n`);
}
