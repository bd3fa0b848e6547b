// The query builder over the event log: entity (exact or prefix), type (exact or prefix), a time
// range (recorded or occurred), as-of, payload equality on dot paths, order. Results load a page
// of 1000 at a time as the list nears its end (or all at once on request) into a virtualized
// list, so a query matching 100k events stays fast; the selected event shows in full beside it.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api, JsonValue, QueryFilter, StoredEvent } from './api.js';
import { go, href } from './nav.js';
import { count, fromLocalInput, isAbort, when } from './util.js';
import { VirtualList } from './virtualList.js';

const PAGE = 1000;
const ROW = 28;

interface Form {
  entity: string;
  entityPrefix: boolean;
  type: string;
  typePrefix: boolean;
  /** Whether since/until bound the recorded time or the world time (occurred_at). */
  clock: 'recorded' | 'occurred';
  since: string;
  until: string;
  asOf: string;
  order: 'asc' | 'desc';
  payload: Array<{ path: string; value: string }>;
}

const EMPTY: Form = { entity: '', entityPrefix: false, type: '', typePrefix: false, clock: 'recorded', since: '', until: '', asOf: '', order: 'asc', payload: [{ path: '', value: '' }] };

/** A payload value as typed: JSON when it parses (42, true, null, "x", {...}), else the text itself. */
function typedValue(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

export function toFilter(form: Form): QueryFilter {
  const filter: QueryFilter = { order: form.order, limit: PAGE };
  if (form.entity) filter[form.entityPrefix ? 'entity_prefix' : 'entity_id'] = form.entity;
  if (form.type) filter[form.typePrefix ? 'event_type_prefix' : 'event_type'] = form.type;
  filter[form.clock === 'recorded' ? 'since' : 'occurred_since'] = fromLocalInput(form.since);
  filter[form.clock === 'recorded' ? 'until' : 'occurred_until'] = fromLocalInput(form.until);
  filter.as_of = fromLocalInput(form.asOf);
  const equals = form.payload.filter((p) => p.path.trim() !== '');
  if (equals.length > 0) filter.payload_equals = Object.fromEntries(equals.map((p) => [p.path.trim(), typedValue(p.value)]));
  return filter;
}

interface Results {
  events: StoredEvent[];
  cursor: string | null;
  done: boolean;
  ms: number;
}

export function EventsView({ api, params }: { api: Api; params: URLSearchParams }) {
  const [form, setForm] = useState<Form>({ ...EMPTY, type: params.get('event_type') ?? '', entity: params.get('entity_id') ?? '' });
  const [filter, setFilter] = useState<QueryFilter>(() => toFilter(form));
  const [results, setResults] = useState<Results>({ events: [], cursor: null, done: false, ms: 0 });
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [loadingAll, setLoadingAll] = useState(false);
  // The loaded events live in a ref and grow in place: copying a 100k array per page would cost
  // more than the page itself. `results` is replaced with a new object to re-render.
  const loaded = useRef<{ events: StoredEvent[]; cursor: string | null; done: boolean; busy: boolean; controller: AbortController }>({ events: [], cursor: null, done: false, busy: false, controller: new AbortController() });

  const more = async (): Promise<void> => {
    const state = loaded.current;
    if (state.busy || state.done) return;
    state.busy = true;
    const t0 = performance.now();
    try {
      const page = await api.query({ ...filter, cursor: state.cursor ?? undefined }, state.controller.signal);
      if (state !== loaded.current) return;
      for (const e of page.events) state.events.push(e);
      state.cursor = page.next_cursor;
      state.done = !page.has_more || page.next_cursor === null;
      setResults({ events: state.events, cursor: state.cursor, done: state.done, ms: performance.now() - t0 });
      setError(null);
    } catch (err) {
      if (!isAbort(err)) setError((err as Error).message);
      state.done = true;
    } finally {
      state.busy = false;
    }
  };

  useEffect(() => {
    loaded.current.controller.abort();
    loaded.current = { events: [], cursor: null, done: false, busy: false, controller: new AbortController() };
    setResults({ events: [], cursor: null, done: false, ms: 0 });
    setSelected(null);
    void more();
    return () => loaded.current.controller.abort();
  }, [api, filter]);

  const loadAll = async () => {
    setLoadingAll(true);
    const state = loaded.current;
    while (!state.done && state === loaded.current) {
      if (state.busy) await new Promise((r) => setTimeout(r, 20));
      else await more();
    }
    setLoadingAll(false);
  };

  const set = <K extends keyof Form>(field: K, value: Form[K]) => setForm((f) => ({ ...f, [field]: value }));
  const setPayload = (i: number, part: 'path' | 'value', value: string) => setForm((f) => ({ ...f, payload: f.payload.map((p, j) => (j === i ? { ...p, [part]: value } : p)) }));
  const event = selected === null ? undefined : results.events[selected];

  return (
    <div class="view">
      <h1>Events</h1>
      <form
        class="query"
        aria-label="Query builder"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(toFilter(form));
        }}
      >
        <fieldset>
          <legend>Entity and type</legend>
          <label>
            Entity
            <input name="entity" value={form.entity} placeholder="user-1" onInput={(e) => set('entity', e.currentTarget.value)} />
          </label>
          <label class="check">
            <input type="checkbox" checked={form.entityPrefix} onChange={(e) => set('entityPrefix', e.currentTarget.checked)} /> prefix
          </label>
          <label>
            Event type
            <input name="event_type" value={form.type} placeholder="user.created" onInput={(e) => set('type', e.currentTarget.value)} />
          </label>
          <label class="check">
            <input type="checkbox" checked={form.typePrefix} onChange={(e) => set('typePrefix', e.currentTarget.checked)} /> prefix
          </label>
        </fieldset>
        <fieldset>
          <legend>Time</legend>
          <label>
            Clock
            <select value={form.clock} onChange={(e) => set('clock', e.currentTarget.value as Form['clock'])}>
              <option value="recorded">recorded</option>
              <option value="occurred">occurred</option>
            </select>
          </label>
          <label>
            Since
            <input type="datetime-local" step="1" name="since" value={form.since} onInput={(e) => set('since', e.currentTarget.value)} />
          </label>
          <label>
            until
            <input type="datetime-local" step="1" name="until" value={form.until} onInput={(e) => set('until', e.currentTarget.value)} />
          </label>
          <label>
            Log as of
            <input type="datetime-local" step="1" name="as_of" value={form.asOf} onInput={(e) => set('asOf', e.currentTarget.value)} />
          </label>
          <label>
            Order
            <select value={form.order} onChange={(e) => set('order', e.currentTarget.value as 'asc' | 'desc')}>
              <option value="asc">oldest first</option>
              <option value="desc">newest first</option>
            </select>
          </label>
        </fieldset>
        <fieldset>
          <legend>Payload equals</legend>
          {form.payload.map((p, i) => (
            <div class="pair" key={i}>
              <label>
                Path
                <input name={`path-${i}`} value={p.path} placeholder="plan or address.city" onInput={(e) => setPayload(i, 'path', e.currentTarget.value)} />
              </label>
              <label>
                Value
                <input name={`value-${i}`} value={p.value} placeholder='"pro", 42, true' onInput={(e) => setPayload(i, 'value', e.currentTarget.value)} />
              </label>
            </div>
          ))}
          <button type="button" class="small" onClick={() => set('payload', [...form.payload, { path: '', value: '' }])}>
            + condition
          </button>
        </fieldset>
        <div class="actions">
          <button type="submit">Run query</button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setForm(EMPTY);
              setFilter(toFilter(EMPTY));
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {error !== null && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <p aria-live="polite">
        <span data-testid="result-count">
          {count(results.events.length)} event{results.events.length === 1 ? '' : 's'}
          {results.done ? '' : ' loaded so far'}
        </span>{' '}
        {!results.done && (
          <button type="button" class="small" onClick={loadAll} disabled={loadingAll}>
            {loadingAll ? 'Loading…' : 'Load all'}
          </button>
        )}
      </p>
      <div class="split">
        <div>
          <div class="row head" aria-hidden="true">
            <span class="pos">#</span>
            <span class="ts">recorded</span>
            <span class="ent">entity</span>
            <span class="typ">type</span>
            <span class="pay">payload</span>
          </div>
          <VirtualList
            idPrefix="ev"
            label="Matching events (arrows move, Enter opens the entity's timeline)"
            count={results.events.length}
            rowHeight={ROW}
            height={Math.max(280, Math.min(560, innerHeight - 420))}
            selected={selected}
            onSelect={setSelected}
            onActivate={(i) => go('timeline', results.events[i].entity_id)}
            onNearEnd={() => void more()}
            renderRow={(i) => {
              const e = results.events[i];
              return (
                <>
                  <span class="pos">{e.position}</span>
                  <span class="ts">{e.timestamp.replace('T', ' ').replace('Z', '')}</span>
                  <span class="ent">{e.entity_id}</span>
                  <span class="typ">{e.event_type}</span>
                  <span class="pay">{JSON.stringify(e.payload)}</span>
                </>
              );
            }}
          />
        </div>
        <aside class="detail" aria-label="Selected event">
          {event === undefined ? (
            <p class="hint">Select an event (click, or focus the list and use the arrow keys).</p>
          ) : (
            <>
              <h2>
                {event.event_type} <span class="hint">v{event.version}</span>
              </h2>
              <p>
                <a href={href('timeline', event.entity_id)}>{event.entity_id}</a> · recorded {when(event.timestamp)} · position {event.position}
              </p>
              <pre>{JSON.stringify(event.payload, null, 2)}</pre>
              {event.metadata !== null && <pre>{JSON.stringify(event.metadata, null, 2)}</pre>}
              <p class="hint">
                id <code>{event.id}</code>
                <br />
                hash <code class="hash">{event.hash}</code>
              </p>
            </>
          )}
        </aside>
      </div>
    </div>
  );
}
