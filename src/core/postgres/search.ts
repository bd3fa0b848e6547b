// Full-text search on PostgreSQL with the embedded ranking contract: the tsvector GIN index finds
// the candidate events holding any query word, and BM25 is computed here with the embedded
// parameters over per-tenant statistics as of the read's cut (running document counts and word
// totals stored on each event), so the ranking — and a cursor's cut — match EmbeddedCore's.

import { decodeCursor, encodeCursor, queryFingerprint } from '../cursor.js';
import { InvalidError } from '../errors.js';
import { B, compareRanked, K1, tokenize } from '../embedded/searchIndex.js';
import type { SearchResult } from '../types.js';
import type { CheckedSearch } from '../validate.js';
import { positionAsOf } from './reads.js';
import { deletedAt, EVENT_COLUMNS, eventOf, type EventRow } from './rows.js';
import type { Db, TenantHead } from './session.js';

interface Posting {
  position: number;
  entity_id: string;
  event_type: string;
  search_len: number;
  lexeme: string;
  tf: number;
  deleted: boolean;
}

function quoteLexeme(word: string): string {
  return `'${word.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export async function searchEvents(db: Db, tenant: string, head: TenantHead | null, o: CheckedSearch): Promise<SearchResult> {
  const fingerprint = queryFingerprint(o.fingerprintParts);
  let after: { cut: number; score: number; position: number } | undefined;
  if (o.cursor !== undefined) {
    const [cut, score, position] = String(decodeCursor(o.cursor, fingerprint, 'options.cursor', 'string')).split(':').map(Number);
    if (![cut, score, position].every(Number.isFinite)) throw new InvalidError('options.cursor', 'is not a cursor returned by this store');
    after = { cut, score, position };
  }
  const empty: SearchResult = { hits: [], next_cursor: null, has_more: false };
  const terms = [...new Set(tokenize(o.query))];
  if (head === null || terms.length === 0) return empty;
  const cut = after?.cut ?? (o.as_of === undefined ? head.last_position : await positionAsOf(db, tenant, o.as_of));
  const stats = await db.query<{ search_docs: number; search_total: number }>(
    'SELECT search_docs, search_total FROM events WHERE tenant_id = $1 AND position <= $2 AND search_docs IS NOT NULL ORDER BY position DESC LIMIT 1',
    [tenant, cut],
  );
  const documents = stats.rows[0]?.search_docs ?? 0;
  if (documents === 0) return empty;
  const averageLength = Math.max(stats.rows[0].search_total / documents, 1);
  const r = await db.query<Posting>(
    `SELECT e.position, e.entity_id, e.event_type, e.search_len, u.lexeme, coalesce(array_length(u.positions, 1), 1) AS tf, ${head.has_tombstones ? deletedAt('$2') : 'false'} AS deleted
     FROM events e, unnest(e.search) u
     WHERE e.tenant_id = $1 AND e.position <= $2 AND e.search @@ $3::tsquery AND u.lexeme = ANY($4::text[])`,
    [tenant, cut, terms.map(quoteLexeme).join(' | '), terms],
  );
  const byTerm = new Map<string, Posting[]>();
  for (const posting of r.rows) {
    let list = byTerm.get(posting.lexeme);
    if (list === undefined) byTerm.set(posting.lexeme, (list = []));
    list.push(posting);
  }
  const accept = (p: Posting): boolean =>
    (o.entity_id === undefined || p.entity_id === o.entity_id) && (o.event_type === undefined || p.event_type === o.event_type) && (o.include_deleted || !p.deleted);
  // Summed term by term in query order, as the embedded index does, so scores agree to the bit.
  const scores = new Map<number, { score: number; deleted: boolean }>();
  for (const term of terms) {
    const list = byTerm.get(term);
    if (list === undefined) continue;
    const idf = Math.log(1 + (documents - list.length + 0.5) / (list.length + 0.5));
    list.sort((a, b) => a.position - b.position);
    for (const p of list) {
      if (!accept(p)) continue;
      const part = (idf * p.tf * (K1 + 1)) / (p.tf + K1 * (1 - B + (B * p.search_len) / averageLength));
      const entry = scores.get(p.position);
      if (entry === undefined) scores.set(p.position, { score: part, deleted: p.deleted });
      else entry.score += part;
    }
  }
  const ranked: { position: number; score: number; deleted: boolean }[] = [];
  for (const [position, { score, deleted }] of scores) ranked.push({ position, score, deleted });
  ranked.sort(compareRanked);
  let start = 0;
  if (after !== undefined) while (start < ranked.length && compareRanked(ranked[start], after) <= 0) start++;
  const page = ranked.slice(start, start + o.limit);
  const hasMore = start + o.limit < ranked.length;
  if (page.length === 0) return empty;
  const rows = await db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.tenant_id = $1 AND e.position = ANY($2::bigint[])`, [tenant, page.map((h) => h.position)]);
  const byPosition = new Map(rows.rows.map((row) => [Number(row.position), row]));
  const hits = page.map((h) => ({ event: eventOf({ ...byPosition.get(h.position)!, deleted: h.deleted }), score: h.score }));
  const last = page[page.length - 1];
  return { hits, next_cursor: hasMore ? encodeCursor({ k: `${cut}:${last.score}:${last.position}`, q: fingerprint }) : null, has_more: hasMore };
}
