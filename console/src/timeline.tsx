// An entity's timeline: its events in order, and a time slider over the distinct instants at
// which they were recorded. The state shown is the server's own answer as of the instant chosen
// (the state route / reconstruct_state with as_of), never a fold done here; a second slider picks
// another instant and the panel lists what changed between the two.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, type Api, type EntityState, type StoredEvent } from './api.js';
import { diffStates } from './diff.js';
import { go, href } from './nav.js';
import { fromLocalInput, isAbort, useLoad, whenPrecise as when } from './util.js';

/** Rows of the events table: beyond it, the Events view's virtualized list is the place to look. */
const TABLE_ROWS = 500;

function EntityPicker({ api, entity }: { api: Api; entity: string }) {
  const [text, setText] = useState(entity);
  useEffect(() => setText(entity), [entity]);
  const suggestions = useLoad((signal) => api.entities(text, 20, signal), [api, text]);
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        if (text.trim()) go('timeline', text.trim());
      }}
    >
      <label>
        Entity
        <input name="entity" list="entity-suggestions" value={text} placeholder="user-1" onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <datalist id="entity-suggestions">
        {suggestions.data?.entities.map((s) => (
          <option key={s.entity_id} value={s.entity_id} />
        ))}
      </datalist>
      <button type="submit">Show timeline</button>
    </form>
  );
}

/** The state as of an instant, from the server; null when the entity did not exist yet. */
function useStateAt(api: Api, entity: string, asOf: string | undefined): { state: EntityState | null | undefined; error: string | null } {
  const [result, setResult] = useState<{ state: EntityState | null | undefined; error: string | null }>({ state: undefined, error: null });
  useEffect(() => {
    if (asOf === undefined) return;
    const controller = new AbortController();
    api.state(entity, asOf, controller.signal).then(
      (state) => setResult({ state, error: null }),
      (err: Error) => {
        if (isAbort(err)) return;
        if (err instanceof ApiError && err.code === 'not_found') setResult({ state: null, error: null });
        else setResult({ state: undefined, error: err.message });
      },
    );
    return () => controller.abort();
  }, [api, entity, asOf]);
  return result;
}

function Slider({ id, label, instants, index, onChange }: { id: string; label: string; instants: string[]; index: number; onChange: (i: number) => void }) {
  return (
    <div class="slider">
      <label for={id}>{label}</label>
      <input
        id={id}
        type="range"
        min={0}
        max={instants.length - 1}
        step={1}
        value={index}
        aria-valuetext={`${when(instants[index])} (instant ${index + 1} of ${instants.length})`}
        onInput={(e) => onChange(Number(e.currentTarget.value))}
      />
      <output for={id} data-testid={`${id}-instant`}>
        {when(instants[index])}
      </output>
    </div>
  );
}

function StatePanel({ title, state, error, testId }: { title: string; state: EntityState | null | undefined; error: string | null; testId: string }) {
  return (
    <section class="state" aria-label={title}>
      <h2>{title}</h2>
      {error !== null && <p class="error">{error}</p>}
      {state === null && <p class="hint">The entity did not exist yet.</p>}
      {state !== null && state !== undefined && (
        <>
          <p class="hint">
            version {state.version} · {state.event_count} event{state.event_count === 1 ? '' : 's'} folded{state.deleted ? ' · deleted' : ''}
          </p>
          <pre data-testid={testId}>{JSON.stringify(state.state, null, 2)}</pre>
        </>
      )}
    </section>
  );
}

export function TimelineView({ api, entity }: { api: Api; entity: string }) {
  const events = useLoad<StoredEvent[]>((signal) => (entity ? api.entityEvents(entity, signal) : Promise.resolve([])), [api, entity]);
  // Distinct recorded instants: events recorded in the same millisecond become visible together.
  const instants = useMemo(() => [...new Set((events.data ?? []).map((e) => e.timestamp))], [events.data]);
  const [at, setAt] = useState(0);
  const [compare, setCompare] = useState(false);
  const [from, setFrom] = useState(0);
  useEffect(() => {
    setAt(Math.max(0, instants.length - 1));
    setExact(undefined);
    setFrom(0);
  }, [instants]);
  // An instant typed in exactly (between the recorded ones, or outside them) wins until the slider moves.
  const [exact, setExact] = useState<string | undefined>(undefined);
  const asOf = exact ?? instants[at];
  const slide = (i: number) => {
    setExact(undefined);
    setAt(i);
  };
  const current = useStateAt(api, entity, asOf);
  const earlier = useStateAt(api, entity, compare ? instants[from] : undefined);
  const diff = compare && current.state !== undefined && earlier.state !== undefined ? diffStates(earlier.state?.state ?? null, current.state?.state ?? null) : null;

  return (
    <div class="view">
      <h1>Timeline</h1>
      <EntityPicker api={api} entity={entity} />
      {!entity && <p class="hint">Name an entity, or open one from the Events view.</p>}
      {events.error && <p class="error">{events.error.message}</p>}
      {entity && events.data?.length === 0 && <p>No events for {entity}.</p>}
      {instants.length > 0 && (
        <>
          <Slider id="at" label="State as of" instants={instants} index={at} onChange={slide} />
          <label class="check">
            or exactly at
            <input
              type="datetime-local"
              step="0.001"
              name="exact"
              onChange={(e) => {
                const iso = fromLocalInput(e.currentTarget.value);
                if (iso !== undefined) setExact(iso);
              }}
            />
            {exact !== undefined && <span class="hint">(showing {when(exact)})</span>}
          </label>
          <label class="check">
            <input type="checkbox" checked={compare} onChange={(e) => setCompare(e.currentTarget.checked)} /> Compare with an earlier instant
          </label>
          {compare && <Slider id="from" label="Earlier instant" instants={instants} index={from} onChange={setFrom} />}
          <div class="split">
            <StatePanel title={`State as of ${when(asOf)}`} state={current.state} error={current.error} testId="state-at" />
            {compare && (
              <section class="state" aria-label="Changes">
                <h2>
                  Changes from {when(instants[from])} to {when(asOf)}
                </h2>
                {diff === null ? (
                  <p>Loading…</p>
                ) : diff.added.length + diff.removed.length + diff.changed.length === 0 ? (
                  <p data-testid="diff">No changes.</p>
                ) : (
                  <ul class="diff" data-testid="diff">
                    {diff.added.map((d) => (
                      <li key={`a${d.path}`} class="added">
                        + <code>{d.path}</code> = {JSON.stringify(d.value)}
                      </li>
                    ))}
                    {diff.removed.map((d) => (
                      <li key={`r${d.path}`} class="removed">
                        − <code>{d.path}</code> (was {JSON.stringify(d.old_value)})
                      </li>
                    ))}
                    {diff.changed.map((d) => (
                      <li key={`c${d.path}`} class="changed">
                        ~ <code>{d.path}</code>: {JSON.stringify(d.old_value)} → {JSON.stringify(d.new_value)}
                      </li>
                    ))}
                  </ul>
                )}
              </section>
            )}
          </div>
          <table class="compact">
            <caption>Events of {entity}</caption>
            <thead>
              <tr>
                <th scope="col">v</th>
                <th scope="col">Recorded</th>
                <th scope="col">Type</th>
                <th scope="col">Payload</th>
              </tr>
            </thead>
            <tbody>
              {(events.data ?? []).slice(0, TABLE_ROWS).map((e) => (
                <tr key={e.id} class={asOf !== undefined && e.timestamp > asOf ? 'future' : ''}>
                  <td>{e.version}</td>
                  <td>
                    <button type="button" class="link" onClick={() => slide(instants.indexOf(e.timestamp))}>
                      {when(e.timestamp)}
                    </button>
                  </td>
                  <td>{e.event_type}</td>
                  <td>
                    <code>{JSON.stringify(e.payload)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="hint">
            {(events.data?.length ?? 0) > TABLE_ROWS && `The first ${TABLE_ROWS} of ${events.data!.length} events are listed (the slider covers them all). `}
            Events after the chosen instant are dimmed. <a href={href('events', '', { entity_id: entity })}>Query these events</a>
          </p>
        </>
      )}
    </div>
  );
}
