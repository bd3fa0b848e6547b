// The overview: the tenant's counters, refreshed every two seconds while the tab is visible (live
// stats), the event types, Prime's counters when the server has MCP, and the integrity check of
// the tenant's hash chain, run on demand (it reads the whole log).

import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api, type PrimeStatsResult, type TenantStats, type VerifyResult } from './api.js';
import { href } from './nav.js';
import { count, isAbort, useLoad, when } from './util.js';

const REFRESH_MS = 2000;

function useLiveStats(api: Api): { stats: TenantStats | null; error: string | null; at: Date | null } {
  const [state, setState] = useState<{ stats: TenantStats | null; error: string | null; at: Date | null }>({ stats: null, error: null, at: null });
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      if (document.visibilityState === 'visible') {
        try {
          const stats = await api.stats(controller.signal);
          setState({ stats, error: null, at: new Date() });
        } catch (err) {
          if (isAbort(err)) return;
          setState((s) => ({ ...s, error: (err as Error).message }));
        }
      }
      timer = setTimeout(tick, REFRESH_MS);
    };
    void tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [api]);
  return state;
}

function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div class="stat">
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

function Integrity({ api }: { api: Api }) {
  const [result, setResult] = useState<VerifyResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await api.verify());
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => void run(), [api]);
  return (
    <section aria-labelledby="integrity-h">
      <h2 id="integrity-h">Integrity</h2>
      <p>Every event carries a sha256 over the previous event's hash and its own content; checking the chain end to end proves the log was not altered.</p>
      <div aria-live="polite" data-testid="integrity">
        {busy && <p>Checking…</p>}
        {error !== null && <p class="error">{error}</p>}
        {result !== null && !busy && (
          <p class={result.ok ? 'ok' : 'error'}>
            <strong>{result.ok ? '✓ Chain intact' : '✗ Chain broken'}</strong> — {result.message} ({count(result.checked)} events checked
            {result.first_broken_position !== null ? `, first broken at position ${result.first_broken_position}` : ''})
            {result.head_hash !== null && (
              <>
                <br />
                head <code class="hash">{result.head_hash}</code>
              </>
            )}
          </p>
        )}
      </div>
      <button type="button" onClick={run} disabled={busy}>
        Verify again
      </button>
    </section>
  );
}

function PrimeCounters({ api }: { api: Api }) {
  const prime = useLoad<PrimeStatsResult | null>((signal) => (api.config.mcp ? api.primeStats(signal) : Promise.resolve(null)), [api]);
  if (!api.config.mcp) return <p class="hint">This server has no MCP endpoint, so Prime (graph and recall) is not shown: use `allsource serve` or `allsource console`.</p>;
  if (prime.error) return <p class="error">{prime.error instanceof ApiError ? prime.error.message : String(prime.error)}</p>;
  const p = prime.data;
  if (!p) return <p>Loading…</p>;
  return (
    <>
      <dl class="stats">
        <Stat label="Nodes" value={count(p.nodes)} testId="prime-nodes" />
        <Stat label="Edges" value={count(p.edges)} />
        <Stat label="Vectors" value={count(p.vectors)} />
        <Stat label="Prime events" value={count(p.events)} />
      </dl>
      <p class="hint">
        Embedder {p.embedder.name} ({p.embedder.kind}, {p.embedder.dims} dims); vectors: {p.vector_index.note}
      </p>
      {Object.keys(p.node_types).length > 0 && (
        <p>
          Node types:{' '}
          {Object.entries(p.node_types)
            .map(([t, n]) => `${t} ${n}`)
            .join(' · ')}
        </p>
      )}
    </>
  );
}

export function Overview({ api }: { api: Api }) {
  const { stats, error, at } = useLiveStats(api);
  const types = useLoad((signal) => api.eventTypes(signal), [api, stats?.last_position]);
  return (
    <div class="view">
      <h1>Overview</h1>
      <section aria-labelledby="stats-h">
        <h2 id="stats-h">
          Event log <span class="live" aria-hidden="true" title="refreshes every 2 s" />
        </h2>
        {error !== null && <p class="error">{error}</p>}
        <dl class="stats">
          <Stat label="Events" value={count(stats?.events)} testId="stat-events" />
          <Stat label="Entities" value={count(stats?.entities)} testId="stat-entities" />
          <Stat label="Event types" value={count(stats?.event_types)} />
          <Stat label="Tombstoned" value={count(stats?.tombstoned_events)} />
          <Stat label="Last position" value={count(stats?.last_position)} />
        </dl>
        <p class="hint">
          First event {when(stats?.first_event_at)} · last event {when(stats?.last_event_at)}
          {at !== null && ` · updated ${at.toLocaleTimeString()}`}
        </p>
        {types.data && types.data.event_types.length > 0 && (
          <table class="compact">
            <caption>Event types</caption>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Events</th>
                <th scope="col">Last</th>
              </tr>
            </thead>
            <tbody>
              {types.data.event_types.slice(0, 50).map((t) => (
                <tr key={t.event_type}>
                  <td>
                    <a href={href('events', '', { event_type: t.event_type })}>{t.event_type}</a>
                  </td>
                  <td>{count(t.count)}</td>
                  <td>{when(t.last_event_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="prime-h">
        <h2 id="prime-h">Prime memory</h2>
        <PrimeCounters api={api} />
      </section>
      <Integrity api={api} />
    </div>
  );
}
