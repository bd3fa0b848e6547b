// Demo data for the web console's end-to-end test and its screenshots, written through the
// server's public APIs only (REST appends or the MCP event tools, MCP Prime tools), as any client would: an entity whose
// state changes at three distinct instants, a bulk of order events, and a small Prime graph of
// people, places and memories to draw and recall.

/** The instants at which user-1 changed, and its state after each (for assertions). */
export interface SeededTimeline {
  entity: string;
  states: Array<{ at: string; state: Record<string, unknown> }>;
}

export interface SeedOptions {
  /** How many order events to add in bulk (default 2000). */
  bulkEvents?: number;
  /** A tenant key, for servers that need one. */
  key?: string;
  tenant?: string;
  /** Write the events through the Core REST API (default) or the MCP event tools (an MCP-only server). */
  via?: 'rest' | 'mcp';
}

async function call(url: string, init: RequestInit, key: string | undefined): Promise<unknown> {
  const headers = new Headers(init.headers);
  if (key !== undefined) headers.set('authorization', `Bearer ${key}`);
  const res = await fetch(url, { ...init, headers });
  const body = (await res.json()) as unknown;
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

let rpcId = 0;

/** One MCP tool call over the streamable HTTP endpoint (stateless: no session). */
export async function mcpTool(base: string, name: string, args: Record<string, unknown>, key?: string): Promise<Record<string, unknown>> {
  const body = (await call(
    `${base}/mcp`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method: 'tools/call', params: { name, arguments: args } }),
    },
    key,
  )) as { result?: { isError?: boolean; structuredContent?: Record<string, unknown>; content?: Array<{ text?: string }> } };
  if (body.result === undefined || body.result.isError) throw new Error(`${name}: ${JSON.stringify(body)}`);
  return body.result.structuredContent ?? {};
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function seedConsoleDemo(base: string, options: SeedOptions = {}): Promise<SeededTimeline> {
  const tenant = options.tenant ?? 'default';
  const events = `${base}/api/v1/tenants/${encodeURIComponent(tenant)}/events`;
  const viaMcp = options.via === 'mcp';
  const append = async (event: Record<string, unknown>): Promise<string> => {
    if (viaMcp) return (await mcpTool(base, 'ingest_event', event, options.key)).timestamp as string;
    const r = (await call(events, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) }, options.key)) as { events: Array<{ timestamp: string }> };
    return r.events[0].timestamp;
  };
  const appendBatch = async (batch: Array<Record<string, unknown>>): Promise<void> => {
    if (!viaMcp) {
      await call(`${events}/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: batch }) }, options.key);
      return;
    }
    for (let i = 0; i < batch.length; i += 1000) await mcpTool(base, 'ingest_events', { events: batch.slice(i, i + 1000) }, options.key);
  };

  // Each change a few milliseconds apart: as_of is by recorded time, at millisecond precision.
  const timeline: SeededTimeline = { entity: 'user-1', states: [] };
  const changes: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    ['user.created', { name: 'Ada Lovelace', plan: 'free', address: { city: 'London' } }, { name: 'Ada Lovelace', plan: 'free', address: { city: 'London' } }],
    ['user.upgraded', { plan: 'pro' }, { name: 'Ada Lovelace', plan: 'pro', address: { city: 'London' } }],
    ['user.moved', { address: { city: 'Lisbon' } }, { name: 'Ada Lovelace', plan: 'pro', address: { city: 'Lisbon' } }],
  ];
  for (const [type, payload, state] of changes) {
    timeline.states.push({ at: await append({ entity_id: 'user-1', event_type: type, payload }), state });
    await pause(15);
  }
  await append({ entity_id: 'user-2', event_type: 'user.created', payload: { name: 'Charles Babbage', plan: 'pro', address: { city: 'London' } } });

  const bulk = options.bulkEvents ?? 2000;
  for (let start = 0; start < bulk; start += 10_000) {
    const batch = [];
    for (let i = start; i < Math.min(bulk, start + 10_000); i++) {
      batch.push({ entity_id: `order-${i % 500}`, event_type: i % 500 === i ? 'order.placed' : 'order.updated', payload: { amount: (i * 37) % 1000, status: ['new', 'paid', 'shipped'][i % 3], seq: i } });
    }
    await appendBatch(batch);
  }

  const node = async (type: string, properties: Record<string, unknown>) => (await mcpTool(base, 'prime_add_node', { type, properties }, options.key)).id as string;
  const ada = await node('person', { name: 'Ada', text: 'Ada is a mathematician who writes programs for the analytical engine' });
  const lisbon = await node('place', { name: 'Lisbon', text: 'Lisbon, the capital of Portugal' });
  const startup = await node('organization', { name: 'Engine Works', text: 'Engine Works, a robotics startup in Lisbon' });
  const charles = await node('person', { name: 'Charles', text: 'Charles designed the analytical engine' });
  const moved = await node('memory', { text: 'Ada moved to Lisbon in May to join a robotics startup' });
  const meetings = await node('memory', { text: 'Ada prefers meetings in the morning, before ten' });
  const edges: Array<[string, string, string]> = [
    [ada, lisbon, 'lives_in'],
    [ada, startup, 'works_at'],
    [startup, lisbon, 'located_in'],
    [ada, charles, 'knows'],
    [moved, ada, 'about'],
    [meetings, ada, 'about'],
  ];
  for (const [source, target, relation] of edges) await mcpTool(base, 'prime_add_edge', { source, target, relation }, options.key);
  await mcpTool(base, 'prime_update_node', { node_id: ada, properties: { role: 'engineer' } }, options.key);
  return timeline;
}
