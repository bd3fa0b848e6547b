// Paid tool calls over MCP (x402 v2), end to end and offline: a real Core, `allsource serve`
// instances (startHostedMcpServer) with a payment guard, a local facilitator (@x402/core's
// facilitator with @x402/evm's exact scheme over a fake chain, on loopback) and real SDK clients
// paying with real EIP-3009 signatures from generated keys. Unpaid, paid, every refusal, replays
// (same instance, other instance, a restarted one, in parallel), a facilitator that is down, a
// settlement that fails or times out, a failing tool, payment ids, and a free allowance used up
// exactly at its limit across two instances.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { PaymentPayload, PaymentRequired } from '@x402/core/types';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreAdminClient, openHttpCore } from '../src/core/http/index.js';
import { createPaymentGuard } from '../src/payments/guard.js';
import { listReceipts } from '../src/payments/ledger.js';
import { parsePricing } from '../src/payments/pricing.js';
import { startHostedMcpServer, type McpHttpServer } from '../transports/http.js';
import { startTestCore, TEST_ADMIN_KEY, type TestCore } from './helpers/coreServer.js';
import { BASE_SEPOLIA_USDC, signPayment, startTestFacilitator, type TestFacilitator } from './helpers/facilitator.js';

const PAY_TO = privateKeyToAccount(generatePrivateKey()).address;
const PRICE = 10_000n;

let core: TestCore;
let facilitator: TestFacilitator;
const servers: McpHttpServer[] = [];
const clients: Client[] = [];
const keys: Record<string, string> = {};

function pricing(extra: Record<string, unknown> = {}) {
  return parsePricing({
    network: 'eip155:84532',
    asset: { address: BASE_SEPOLIA_USDC, name: 'USDC', version: '2', decimals: 6 },
    payTo: PAY_TO,
    maxTimeoutSeconds: 60,
    facilitatorUrl: facilitator.url,
    tools: { prime_add_node: '$0.01', prime_get_node: PRICE.toString() },
    ...extra,
  });
}

async function startEdge(extra: Record<string, unknown> = {}): Promise<McpHttpServer> {
  const guard = createPaymentGuard({ pricing: pricing(extra), log: () => {} });
  const server = await startHostedMcpServer({ coreUrl: core.server.url, adminKey: TEST_ADMIN_KEY, host: '127.0.0.1', port: 0, logger: false, guard });
  servers.push(server);
  return server;
}

async function connect(server: McpHttpServer, tenant: string): Promise<Client> {
  const client = new Client({ name: 'x402-e2e', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${keys[tenant]}` } } }));
  clients.push(client);
  return client;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- results are checked field by field
type Json = Record<string, any>;

async function call(client: Client, name: string, args: Record<string, unknown>, payment?: unknown): Promise<CallToolResult & { structuredContent?: Json }> {
  return (await client.callTool({ name, arguments: args, ...(payment === undefined ? {} : { _meta: { 'x402/payment': payment } }) })) as CallToolResult & { structuredContent?: Json };
}

async function nodeCount(tenant: string): Promise<number> {
  const store = await openHttpCore({ url: core.server.url, key: TEST_ADMIN_KEY });
  try {
    return (await store.query(tenant, { event_type: 'prime.node.created', limit: 1000 })).events.length;
  } finally {
    await store.close();
  }
}

/** A funded payer, and a payment for `required` signed by it. */
function payer(fund = 10n ** 9n) {
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  facilitator.fund(address, fund);
  return { key, address, pay: (required: PaymentRequired, opts: Record<string, unknown> = {}) => signPayment({ privateKey: key, paymentRequired: required, ...opts }) };
}

const ADD = { type: 'note', properties: { text: 'a paid memory' } };

beforeAll(async () => {
  facilitator = await startTestFacilitator();
  core = await startTestCore();
  const admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
  for (const tenant of ['buyer', 'other', 'free', 'ids', 'slow']) {
    await admin.createTenant(tenant);
    keys[tenant] = (await admin.createKey({ tenant })).key;
  }
  await admin.close();
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const s of servers) await s.close();
  await core?.cleanup();
  await facilitator?.close();
});

describe('x402 paid tool calls over MCP', () => {
  let one: McpHttpServer;
  let two: McpHttpServer;
  beforeAll(async () => {
    one = await startEdge();
    two = await startEdge();
  });

  it('answers an unpaid priced call with PaymentRequired (a real SDK client accepts it), runs nothing, and leaves free tools free', async () => {
    const client = await connect(one, 'buyer');
    const listed = (await client.listTools()).tools.find((t) => t.name === 'prime_add_node')!;
    expect(JSON.stringify(listed.outputSchema)).toContain('x402Version');
    const unpaid = await call(client, 'prime_add_node', ADD);
    expect(unpaid.isError).toBe(true);
    const required = unpaid.structuredContent as Json;
    expect(required).toMatchObject({ x402Version: 2, resource: { url: 'mcp://tool/prime_add_node', mimeType: 'application/json' } });
    expect(required.accepts).toHaveLength(1);
    expect(required.accepts[0]).toMatchObject({ scheme: 'exact', network: 'eip155:84532', amount: '10000', asset: BASE_SEPOLIA_USDC, payTo: PAY_TO, maxTimeoutSeconds: 60, extra: { name: 'USDC', version: '2' } });
    const text = JSON.parse((unpaid.content[0] as { text: string }).text) as Json;
    expect(text['x402/error']).toMatchObject({ code: 402, data: { x402Version: 2 } });
    expect(await nodeCount('buyer')).toBe(0);
    const free = await call(client, 'prime_stats', {});
    expect(free.isError).toBeFalsy();
    const metrics = await (await fetch(`${one.url}/metrics`)).text();
    expect(metrics).toMatch(/allsource_mcp_tool_calls_total\{tool="prime_add_node",outcome="payment_required"\} [1-9]/);
  });

  it('runs a paid call once, settles it, and answers with the payment response; the receipt is in the log', async () => {
    const client = await connect(one, 'buyer');
    const who = payer();
    const required = (await call(client, 'prime_add_node', ADD)).structuredContent as PaymentRequired;
    const paid = await call(client, 'prime_add_node', ADD, await who.pay(required));
    expect(paid.isError).toBeFalsy();
    expect((paid.structuredContent as Json).id).toMatch(/.+/);
    const response = (paid._meta as Json)['x402/payment-response'];
    expect(response).toMatchObject({ success: true, network: 'eip155:84532', payer: who.address });
    expect(response.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(facilitator.balanceOf(PAY_TO)).toBe(PRICE);
    expect(await nodeCount('buyer')).toBe(1);
    const store = await openHttpCore({ url: core.server.url, key: TEST_ADMIN_KEY });
    const receipts = await listReceipts(store, 'buyer');
    await store.close();
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatchObject({ status: 'settled', tool: 'prime_add_node', amount: '10000', transaction: response.transaction });
  });

  it('refuses tampered, misdirected, underpaid, expired and not-yet-valid payments, running nothing', async () => {
    const client = await connect(two, 'other');
    const who = payer();
    const required = (await call(client, 'prime_add_node', ADD)).structuredContent as PaymentRequired;
    const good = await who.pay(required);
    const sig = String(good.payload.signature);
    const cases: Array<[string, PaymentPayload, RegExp]> = [
      ['tampered', { ...good, payload: { ...good.payload, signature: `${sig.slice(0, -6)}${sig.slice(-6) === 'ffffff' ? '000000' : 'ffffff'}` } }, /refused/],
      ['wrong payTo', { ...good, accepted: { ...good.accepted, payTo: privateKeyToAccount(generatePrivateKey()).address } }, /payTo/],
      ['wrong network', { ...good, accepted: { ...good.accepted, network: 'eip155:8453' } }, /network/],
      ['wrong asset', { ...good, accepted: { ...good.accepted, asset: '0x0000000000000000000000000000000000000001' } }, /asset/],
      ['underpaid', await who.pay({ ...required, accepts: [{ ...required.accepts[0], amount: '9999' }] }), /amount/],
      ['expired', await who.pay(required, { now: Math.floor(Date.now() / 1000) - 3600 }), /refused/],
      ['not yet valid', await who.pay(required, { validAfter: BigInt(Math.floor(Date.now() / 1000) + 3600), validBefore: BigInt(Math.floor(Date.now() / 1000) + 7200) }), /refused/],
    ];
    for (const [label, payment, message] of cases) {
      const answer = await call(client, 'prime_add_node', ADD, payment);
      expect(answer.isError, label).toBe(true);
      expect((answer.structuredContent as Json).x402Version, label).toBe(2);
      expect(String((answer.structuredContent as Json).error), label).toMatch(message);
    }
    expect(await nodeCount('other')).toBe(0);
    expect(facilitator.balanceOf(who.address)).toBe(10n ** 9n);
  });

  it('runs one authorization at most once: again, on the other instance, after a restart, and in parallel', async () => {
    const a = await connect(one, 'buyer');
    const b = await connect(two, 'buyer');
    const before = await nodeCount('buyer');
    const who = payer();
    const required = (await call(a, 'prime_add_node', ADD)).structuredContent as PaymentRequired;
    const payment = await who.pay(required);
    expect((await call(a, 'prime_add_node', ADD, payment)).isError).toBeFalsy();
    for (const client of [a, b]) expect(String((await call(client, 'prime_add_node', ADD, payment)).structuredContent?.error)).toMatch(/already used/);
    const restarted = await connect(await startEdge(), 'buyer');
    expect(String((await call(restarted, 'prime_add_node', ADD, payment)).structuredContent?.error)).toMatch(/already used/);
    expect(await nodeCount('buyer')).toBe(before + 1);

    // Ten presentations of one fresh authorization at once, over both instances: one runs.
    const fresh = await who.pay(required);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => call(i % 2 ? a : b, 'prime_add_node', ADD, fresh)));
    expect(answers.filter((r) => !r.isError)).toHaveLength(1);
    expect(await nodeCount('buyer')).toBe(before + 2);
    expect(facilitator.balanceOf(who.address)).toBe(10n ** 9n - 2n * PRICE);
  });

  it('a facilitator that is down: a clear error, nothing run, nothing charged; the same payment works once it is back', async () => {
    const client = await connect(two, 'other');
    const who = payer();
    const required = (await call(client, 'prime_add_node', ADD)).structuredContent as PaymentRequired;
    const payment = await who.pay(required);
    facilitator.setDown(true);
    try {
      const answer = await call(client, 'prime_add_node', ADD, payment);
      expect(answer.isError).toBe(true);
      expect(answer.structuredContent?.error).toMatchObject({ code: 'unavailable' });
      expect(String(answer.structuredContent?.error.message)).toMatch(/facilitator.*nothing was run or charged/);
    } finally {
      facilitator.setDown(false);
    }
    expect(await nodeCount('other')).toBe(0);
    expect(facilitator.balanceOf(who.address)).toBe(10n ** 9n);
    expect((await call(client, 'prime_add_node', ADD, payment)).isError).toBeFalsy();
  });

  it('a failed settlement answers the payment error, never the output; a failing tool is not settled', async () => {
    const client = await connect(one, 'other');
    const who = payer();
    const required = (await call(client, 'prime_add_node', ADD)).structuredContent as PaymentRequired;
    facilitator.setSettleFailure('insufficient_funds');
    let answer;
    try {
      answer = await call(client, 'prime_add_node', ADD, await who.pay(required));
    } finally {
      facilitator.setSettleFailure(null);
    }
    expect(answer.isError).toBe(true);
    expect(answer.structuredContent).toMatchObject({ x402Version: 2, 'x402/payment-response': { success: false, errorReason: 'insufficient_funds' } });
    expect(JSON.stringify(answer)).not.toContain('a paid memory');
    expect(answer._meta?.['x402/payment-response']).toBeUndefined();

    const settledBefore = facilitator.settled.length;
    const getRequired = (await call(client, 'prime_get_node', { node_id: 'nope' })).structuredContent as PaymentRequired;
    const failing = await call(client, 'prime_get_node', { node_id: 'nope' }, await who.pay(getRequired));
    expect(failing.isError).toBe(true);
    expect(failing.structuredContent?.error).toMatchObject({ code: 'not_found' });
    expect(facilitator.settled.length).toBe(settledBefore);
  });

  it('payment-identifier: the same id and payload answer the recorded result; another payload under the id is a conflict', async () => {
    const client = await connect(one, 'ids');
    const who = payer();
    const required = (await call(client, 'prime_add_node', ADD)).structuredContent as PaymentRequired;
    const withId = (p: PaymentPayload, id: string): PaymentPayload => ({ ...p, extensions: { ...p.extensions, 'payment-identifier': { ...(required.extensions?.['payment-identifier'] as object), info: { id } } } });
    const payment = withId(await who.pay(required), 'pay_0123456789abcdef0001');
    const first = await call(client, 'prime_add_node', ADD, payment);
    expect(first.isError).toBeFalsy();
    const again = await call(await connect(two, 'ids'), 'prime_add_node', ADD, payment);
    expect(again.structuredContent).toEqual(first.structuredContent);
    expect(again._meta?.['x402/payment-response']).toEqual(first._meta?.['x402/payment-response']);
    expect(await nodeCount('ids')).toBe(1);
    const other = withId(await who.pay(required), 'pay_0123456789abcdef0001');
    const conflict = await call(client, 'prime_add_node', ADD, other);
    expect(conflict.structuredContent?.error).toMatchObject({ code: 'conflict' });
    expect(await nodeCount('ids')).toBe(1);
  });

  it('a settlement that times out is recorded as indeterminate, and the output is withheld', async () => {
    const slow = await startEdge({ facilitatorTimeoutMs: 300 });
    const client = await connect(slow, 'slow');
    const who = payer();
    const required = (await call(client, 'prime_add_node', ADD)).structuredContent as PaymentRequired;
    const payment = await who.pay(required);
    facilitator.setSettleDelayMs(1500);
    let answer;
    try {
      answer = await call(client, 'prime_add_node', ADD, payment);
    } finally {
      facilitator.setSettleDelayMs(0);
    }
    expect(answer.isError).toBe(true);
    expect(answer.structuredContent).toMatchObject({ 'x402/payment-response': { success: false, errorReason: 'settlement_timeout' } });
    expect(JSON.stringify(answer)).not.toContain('a paid memory');
    const store = await openHttpCore({ url: core.server.url, key: TEST_ADMIN_KEY });
    const receipts = await listReceipts(store, 'slow');
    await store.close();
    expect(receipts[0]).toMatchObject({ status: 'indeterminate' });
  });
});

describe('the free allowance', () => {
  it('serves exactly its limit across two instances, then asks for payment', async () => {
    const first = await startEdge({ freeAllowance: { calls: 5, period: 'day' } });
    const second = await startEdge({ freeAllowance: { calls: 5, period: 'day' } });
    const a = await connect(first, 'free');
    const b = await connect(second, 'free');
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => call(i % 2 ? a : b, 'prime_add_node', ADD)));
    expect(answers.filter((r) => !r.isError)).toHaveLength(5);
    for (const refused of answers.filter((r) => r.isError)) expect(String(refused.structuredContent?.error)).toMatch(/free allowance of 5 calls per day is used up/);
    expect(await nodeCount('free')).toBe(5);
  });
});
