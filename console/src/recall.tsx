// The recall playground: a question through prime_recall, and for each hit its score and the
// parts that add up to it (semantic, lexical, graph, recency, importance), drawn as a stacked
// bar, with the retrieval labels saying how it was found and, for graph hits, the edge it came
// over. The embedder in use is named: recall never degrades silently.

import { useState } from 'preact/hooks';
import type { Api, RecallResult, ScoreParts } from './api.js';
import { nodeLabelOf } from './labels.js';
import { href } from './nav.js';
import { fromLocalInput } from './util.js';

const PARTS: Array<keyof ScoreParts> = ['semantic', 'lexical', 'graph', 'recency', 'importance'];

function ScoreBar({ parts, max }: { parts: ScoreParts; max: number }) {
  return (
    <div class="scorebar" aria-hidden="true">
      {PARTS.map((p) => (parts[p] > 0 ? <span key={p} class={`part ${p}`} style={{ width: `${(100 * parts[p]) / max}%` }} /> : null))}
    </div>
  );
}

export function RecallView({ api }: { api: Api }) {
  const [text, setText] = useState('');
  const [topK, setTopK] = useState(10);
  const [depth, setDepth] = useState(1);
  const [nodeType, setNodeType] = useState('');
  const [asOf, setAsOf] = useState('');
  const [result, setResult] = useState<RecallResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [ms, setMs] = useState(0);

  const run = async (e: Event) => {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setError(null);
    const t0 = performance.now();
    try {
      setResult(await api.recall({ text: text.trim(), top_k: topK, depth, node_type: nodeType || undefined, as_of: fromLocalInput(asOf) }));
      setMs(performance.now() - t0);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const labels = new Map(result?.results.map((h) => [h.node.id, nodeLabelOf(h.node)]));
  const max = Math.max(1e-9, ...(result?.results.map((h) => PARTS.reduce((sum, p) => sum + Math.max(0, h.score_parts[p]), 0)) ?? [1]));

  return (
    <div class="view">
      <h1>Recall</h1>
      {!api.config.mcp && <p class="error">This server has no MCP endpoint (/mcp), and recall is an MCP tool: use `allsource serve` or `allsource console`.</p>}
      <form class="query" onSubmit={run} aria-label="Recall">
        <label class="wide">
          Question
          <input name="question" value={text} placeholder="where does Ada live now?" required onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label>
          Results
          <input type="number" min={1} max={100} value={topK} onInput={(e) => setTopK(Number(e.currentTarget.value) || 10)} />
        </label>
        <label>
          Graph hops
          <select value={depth} onChange={(e) => setDepth(Number(e.currentTarget.value))}>
            {[0, 1, 2, 3].map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <label>
          Node type
          <input name="node_type" value={nodeType} placeholder="any" onInput={(e) => setNodeType(e.currentTarget.value)} />
        </label>
        <label>
          As of
          <input type="datetime-local" step="1" value={asOf} onInput={(e) => setAsOf(e.currentTarget.value)} />
        </label>
        <div class="actions">
          <button type="submit" disabled={busy || !api.config.mcp}>
            {busy ? 'Recalling…' : 'Recall'}
          </button>
        </div>
      </form>
      {error !== null && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {result !== null && (
        <>
          <p class="hint" aria-live="polite">
            {result.results.length} hit{result.results.length === 1 ? '' : 's'} in {Math.round(ms)} ms · embedder {result.embedder.name} ({result.embedder.kind}, {result.embedder.dims} dims)
          </p>
          <p class="legend" aria-label="Score parts">
            {PARTS.map((p) => (
              <span key={p}>
                <span class={`swatch ${p}`} aria-hidden="true" /> {p}
              </span>
            ))}
          </p>
          <ol class="hits" data-testid="recall-hits">
            {result.results.map((h) => (
              <li key={h.node.id} class="hit">
                <div class="hit-head">
                  <strong class="score">{h.score.toFixed(3)}</strong>
                  <a href={href('graph', h.node.id)}>{nodeLabelOf(h.node)}</a>
                  <span class="hint">{h.node.type}</span>
                  {h.retrieval.map((r) => (
                    <span key={r} class={`tag ${r}`}>
                      {r}
                    </span>
                  ))}
                  {h.via !== null && (
                    <span class="hint">
                      via <em>{h.via.relation}</em> from <a href={href('graph', h.via.node_id)}>{labels.get(h.via.node_id) ?? h.via.node_id}</a>
                    </span>
                  )}
                </div>
                <ScoreBar parts={h.score_parts} max={max} />
                <dl class="parts" data-testid="score-parts">
                  {PARTS.map((p) => (
                    <div key={p}>
                      <dt>{p}</dt>
                      <dd>{h.score_parts[p].toFixed(3)}</dd>
                    </div>
                  ))}
                </dl>
                {typeof h.node.properties.text === 'string' && <p class="text">{h.node.properties.text}</p>}
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
