// The Prime graph, drawn with sigma.js on a graphology graph: the neighbourhood of a node
// (prime_subgraph), laid out with ForceAtlas2. Clicking a node (on the canvas, or in the list
// beside it, which is the keyboard's way in) opens its details: properties, neighbours
// (prime_neighbors) and history (prime_history); "Expand" merges its own neighbourhood in.
// Loaded on demand: sigma and graphology are most of the console's bytes.

import Graph from 'graphology';
import circular from 'graphology-layout/circular';
import forceAtlas2 from 'graphology-layout-forceatlas2';
import { useEffect, useRef, useState } from 'preact/hooks';
import Sigma from 'sigma';
import type { Api, PrimeEdge, PrimeNode, Subgraph } from './api.js';
import { nodeLabelOf as nodeLabel } from './labels.js';
import { go } from './nav.js';
import { useLoad, when } from './util.js';

/** A colour per node type, from a palette readable on the light and the dark background. */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#e6550d', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];
function typeColor(type: string, types: string[]): string {
  const i = types.indexOf(type);
  return PALETTE[(i < 0 ? types.length : i) % PALETTE.length];
}

function merge(graph: Graph, sub: Subgraph, types: string[]): void {
  for (const node of sub.nodes) {
    if (!types.includes(node.type)) types.push(node.type);
    const attrs = { label: nodeLabel(node), size: 8, color: typeColor(node.type, types), node };
    if (graph.hasNode(node.id)) graph.mergeNodeAttributes(node.id, attrs);
    else graph.addNode(node.id, { ...attrs, x: Math.random(), y: Math.random() });
  }
  for (const edge of sub.edges) {
    if (graph.hasEdge(edge.id) || !graph.hasNode(edge.source) || !graph.hasNode(edge.target)) continue;
    graph.addDirectedEdgeWithKey(edge.id, edge.source, edge.target, { label: edge.relation, size: 1.5, color: '#8a8f98', type: 'arrow', edge });
  }
  for (const id of graph.nodes()) graph.setNodeAttribute(id, 'size', 6 + Math.min(10, graph.degree(id) * 1.5));
}

function layout(graph: Graph): void {
  if (graph.order === 0) return;
  circular.assign(graph);
  forceAtlas2.assign(graph, { iterations: 150, settings: { ...forceAtlas2.inferSettings(graph), barnesHutOptimize: graph.order > 500 } });
}

function NodeDetails({ api, node, onExpand, onOpen }: { api: Api; node: PrimeNode; onExpand: () => void; onOpen: (id: string) => void }) {
  const neighbors = useLoad((signal) => api.neighbors(node.id, signal), [api, node.id]);
  const history = useLoad((signal) => api.history(node.id, signal), [api, node.id]);
  return (
    <aside class="detail" aria-label="Selected node" data-testid="node-details">
      <h2>{nodeLabel(node)}</h2>
      <p class="hint">
        {node.type} · <code>{node.id}</code> · v{node.version} · created {when(node.created_at)} · updated {when(node.updated_at)}
      </p>
      <pre>{JSON.stringify(node.properties, null, 2)}</pre>
      <button type="button" onClick={onExpand}>
        Expand its neighbourhood
      </button>
      <h3>Neighbours</h3>
      {neighbors.error && <p class="error">{neighbors.error.message}</p>}
      <ul data-testid="neighbors">
        {neighbors.data?.neighbors.map((n) => (
          <li key={n.edge.id}>
            {n.direction === 'out' ? '→' : '←'} <em>{n.edge.relation}</em>{' '}
            <button type="button" class="link" onClick={() => onOpen(n.node.id)}>
              {nodeLabel(n.node)}
            </button>
          </li>
        ))}
        {neighbors.data?.neighbors.length === 0 && <li class="hint">none</li>}
      </ul>
      <h3>History</h3>
      {history.error && <p class="error">{history.error.message}</p>}
      <ol class="history" data-testid="history">
        {history.data?.events.map((e) => (
          <li key={e.id}>
            <span class="hint">{when(e.timestamp)}</span> {e.event_type} <code>{JSON.stringify(e.payload).slice(0, 160)}</code>
          </li>
        ))}
      </ol>
    </aside>
  );
}

export function GraphView({ api, nodeId }: { api: Api; nodeId: string }) {
  const container = useRef<HTMLDivElement>(null);
  const sigma = useRef<Sigma | null>(null);
  const graph = useRef(new Graph({ multi: true, type: 'directed' }));
  const types = useRef<string[]>([]);
  const [version, setVersion] = useState(0);
  const [selected, setSelected] = useState<PrimeNode | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [depth, setDepth] = useState(2);
  const found = useLoad((signal) => api.primeSearch({ text: search || undefined, limit: 50 }, signal), [api, search]);

  const load = async (id: string, replace: boolean) => {
    try {
      const sub = await api.subgraph(id, depth);
      if (replace) graph.current.clear();
      merge(graph.current, sub, types.current);
      layout(graph.current);
      setVersion((v) => v + 1);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  // The start: the node in the URL, else the first node the memory has.
  const first = useLoad((signal) => (nodeId ? Promise.resolve(null) : api.primeSearch({ limit: 1 }, signal)), [api, nodeId]);
  const seed = nodeId || first.data?.nodes[0]?.id || '';
  useEffect(() => {
    if (seed) void load(seed, true);
  }, [api, seed, depth]);
  useEffect(() => {
    if (nodeId && graph.current.hasNode(nodeId)) setSelected(graph.current.getNodeAttribute(nodeId, 'node') as PrimeNode);
  }, [nodeId, version]);

  useEffect(() => {
    if (container.current === null) return;
    const renderer = new Sigma(graph.current, container.current, { renderEdgeLabels: true, labelColor: { attribute: 'labelColor', color: getComputedStyle(document.body).color }, labelSize: 13, defaultEdgeType: 'arrow' });
    renderer.on('clickNode', ({ node }) => setSelected(graph.current.getNodeAttribute(node, 'node') as PrimeNode));
    renderer.on('clickStage', () => setSelected(null));
    sigma.current = renderer;
    return () => {
      renderer.kill();
      sigma.current = null;
    };
  }, []);

  // The selected node and its edges stand out; the rest fades.
  useEffect(() => {
    const renderer = sigma.current;
    if (renderer === null) return;
    const id = selected?.id;
    renderer.setSetting('nodeReducer', (node, data) => (id === undefined || node === id || graph.current.areNeighbors(node, id) ? { ...data, highlighted: node === id, zIndex: 1 } : { ...data, color: '#c9ccd1', label: '' }));
    renderer.setSetting('edgeReducer', (edge, data) => (id === undefined || graph.current.hasExtremity(edge, id) ? data : { ...data, hidden: true }));
    renderer.refresh();
  }, [selected, version]);

  const open = (id: string) => {
    if (graph.current.hasNode(id)) setSelected(graph.current.getNodeAttribute(id, 'node') as PrimeNode);
    else go('graph', id);
  };
  const shown = graph.current.nodes().map((id) => graph.current.getNodeAttribute(id, 'node') as PrimeNode);
  const edges = graph.current.edges().map((e) => graph.current.getEdgeAttribute(e, 'edge') as PrimeEdge);

  return (
    <div class="view">
      <h1>Graph</h1>
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <label>
          Find nodes
          <input type="search" name="find" value={search} placeholder="words in node text" onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        <label>
          Depth
          <select value={depth} onChange={(e) => setDepth(Number(e.currentTarget.value))}>
            {[1, 2, 3].map((d) => (
              <option key={d} value={d}>
                {d} hop{d === 1 ? '' : 's'}
              </option>
            ))}
          </select>
        </label>
      </form>
      {found.data && search && (
        <ul class="chips" aria-label="Matching nodes">
          {found.data.nodes.map((n) => (
            <li key={n.id}>
              <button type="button" class="small" onClick={() => go('graph', n.id)}>
                {nodeLabel(n)}
              </button>
            </li>
          ))}
        </ul>
      )}
      {error !== null && <p class="error">{error}</p>}
      {first.data?.nodes.length === 0 && <p>The memory has no nodes yet (prime_add_node adds one).</p>}
      <p class="hint" aria-live="polite" data-testid="graph-count">
        {shown.length} nodes, {edges.length} edges around {seed && graph.current.hasNode(seed) ? nodeLabel(graph.current.getNodeAttribute(seed, 'node') as PrimeNode) : seed || '—'}
      </p>
      <div class="split graph">
        <div>
          <div ref={container} class="sigma" role="img" aria-label={`Graph of ${shown.length} nodes and ${edges.length} edges; the list below names them`} />
          <ul class="nodelist" aria-label="Nodes in the graph">
            {shown.map((n) => (
              <li key={n.id}>
                <button type="button" class={selected?.id === n.id ? 'small active' : 'small'} aria-pressed={selected?.id === n.id} onClick={() => setSelected(n)}>
                  <span class="dot" style={{ background: typeColor(n.type, types.current) }} aria-hidden="true" /> {nodeLabel(n)} <span class="hint">{n.type}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
        {selected !== null ? (
          <NodeDetails api={api} node={selected} onExpand={() => void load(selected.id, false)} onOpen={open} />
        ) : (
          <aside class="detail">
            <p class="hint">Click a node (or pick one in the list) for its properties, neighbours and history.</p>
          </aside>
        )}
      </div>
    </div>
  );
}
