// The paying side of x402 over MCP, through the real thing: PaymentRequired found in every place the
// transport spec allows; real EIP-3009 signatures checked with viem's verifyTypedData against the
// token's EIP-712 domain; the payment wrapper against a real in-memory MCP server (SDK v1 McpServer)
// with both SDK clients, v1 and v2; and `allsource pay` on a file in a temp directory.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { getAddress, verifyTypedData, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runPay } from '../src/cli/pay.js';
import { createOutput } from '../src/cli/output.js';
import {
  createPaymentSigner,
  findPaymentRequired,
  paymentRequiredFrom,
  withX402Payments,
  type PaymentEvent,
  type PaymentPayload,
  type PaymentRequired,
  type PaymentRequirements,
  type ToolCallingClient,
} from '../src/payments/client.js';

const USDC = '0x036CbD53842c5426634e7929541eC2318f3dCF7e';
const PAY_TO = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C';
const NETWORK = 'eip155:84532';

function requirement(amount: string, overrides: Partial<PaymentRequirements> = {}): PaymentRequirements {
  return { scheme: 'exact', network: NETWORK, amount, asset: USDC, payTo: PAY_TO, maxTimeoutSeconds: 60, extra: { name: 'USDC', version: '2' }, ...overrides };
}

function paymentRequired(tool: string, amount: string, more: Partial<PaymentRequired> = {}): PaymentRequired {
  return {
    x402Version: 2,
    error: 'Payment required to access this resource',
    resource: { url: `mcp://tool/${tool}`, description: `the ${tool} tool`, mimeType: 'application/json' },
    accepts: [requirement(amount)],
    ...more,
  };
}

/** The answer of a priced tool called without payment, exactly as the transport spec lays it out. */
function paymentRequiredResult(required: PaymentRequired, message = 'Payment required'): CallToolResult {
  return {
    isError: true,
    structuredContent: required as unknown as Record<string, unknown>,
    content: [{ type: 'text', text: JSON.stringify({ 'x402/error': { code: 402, message, data: required } }) }],
  };
}

// The EIP-3009 type, written out here rather than imported from @x402/evm, so the check does not
// trust the library it checks.
const TRANSFER_WITH_AUTHORIZATION = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const;

interface Authorization {
  from: Hex;
  to: Hex;
  value: string;
  validAfter: string;
  validBefore: string;
  nonce: Hex;
}

function authorizationOf(payload: PaymentPayload): Authorization {
  return payload.payload.authorization as Authorization;
}

/** True when the payload's signature is `signer`'s over the authorization, in USDC's domain on `chainId`. */
async function signatureVerifies(payload: PaymentPayload, signer: Hex, { chainId = 84532, value }: { chainId?: number; value?: bigint } = {}): Promise<boolean> {
  const auth = authorizationOf(payload);
  return verifyTypedData({
    address: signer,
    domain: { name: 'USDC', version: '2', chainId, verifyingContract: USDC },
    types: TRANSFER_WITH_AUTHORIZATION,
    primaryType: 'TransferWithAuthorization',
    message: { from: auth.from, to: auth.to, value: value ?? BigInt(auth.value), validAfter: BigInt(auth.validAfter), validBefore: BigInt(auth.validBefore), nonce: auth.nonce },
    signature: payload.payload.signature as Hex,
  });
}

describe('findPaymentRequired', () => {
  const required = paymentRequired('analyze', '10000');
  const wrapped = { 'x402/error': { code: 402, message: 'Payment required', data: required } };
  const text = (value: unknown) => [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value) }];

  it('reads structuredContent itself first', () => {
    const other = paymentRequired('analyze', '99');
    expect(findPaymentRequired({ isError: true, structuredContent: required, content: text({ 'x402/error': { code: 402, data: other } }) })).toEqual(required);
  });

  it('reads structuredContent["x402/error"].data', () => {
    expect(findPaymentRequired({ isError: true, structuredContent: wrapped })).toEqual(required);
  });

  it('reads content[0].text, wrapped or bare', () => {
    expect(findPaymentRequired({ isError: true, content: text(wrapped) })).toEqual(required);
    expect(findPaymentRequired({ isError: true, content: text(required) })).toEqual(required);
    // structuredContent that is not a PaymentRequired does not hide the text.
    expect(findPaymentRequired({ isError: true, structuredContent: { error: { code: 'payment_required' } }, content: text(wrapped) })).toEqual(required);
  });

  it('finds the PaymentRequired of a settlement failure, which also carries x402/payment-response', () => {
    const failed = { ...required, 'x402/payment-response': { success: false, errorReason: 'insufficient_funds', transaction: '', network: NETWORK } };
    expect(findPaymentRequired({ isError: true, structuredContent: failed })?.accepts).toEqual(required.accepts);
  });

  it('returns null for garbage and for anything that is not an error', () => {
    const garbage: unknown[] = [
      { isError: false, structuredContent: required },
      { structuredContent: required },
      { isError: true },
      { isError: true, structuredContent: null, content: null },
      { isError: true, content: text('not json {') },
      { isError: true, content: text('null') },
      { isError: true, content: [{ type: 'image', data: '', mimeType: 'image/png' }] },
      { isError: true, content: text({ 'x402/error': { code: 402 } }) },
      { isError: true, structuredContent: { ...required, x402Version: 1 } },
      { isError: true, structuredContent: { ...required, accepts: [] } },
      { isError: true, structuredContent: { ...required, accepts: 'exact' } },
      { isError: true, structuredContent: { x402Version: 2, accepts: required.accepts } },
      { isError: true, structuredContent: { ...required, accepts: [{ scheme: 'exact' }] } },
      { isError: true, content: 'x' },
    ];
    for (const result of garbage) expect(findPaymentRequired(result as Parameters<typeof findPaymentRequired>[0])).toBeNull();
  });

  it('paymentRequiredFrom takes the bare object, the wrapper, a tool result or a JSON-RPC response', () => {
    const result = paymentRequiredResult(required);
    for (const input of [required, wrapped, result, { jsonrpc: '2.0', id: 1, result }]) expect(paymentRequiredFrom(input)).toEqual(required);
    for (const input of [null, 42, 'x', [], {}, { result: {} }]) expect(paymentRequiredFrom(input)).toBeNull();
  });
});

describe('createPaymentSigner', () => {
  const key = generatePrivateKey();
  const signer = createPaymentSigner({ privateKey: key });

  it('signs an EIP-3009 authorization that verifyTypedData accepts for the token domain', async () => {
    const required = paymentRequired('analyze', '10000');
    const before = Math.floor(Date.now() / 1000);
    const payload = await signer.sign(required);
    const after = Math.floor(Date.now() / 1000);

    expect(signer.address).toBe(privateKeyToAccount(key).address);
    expect(payload.x402Version).toBe(2);
    expect(payload.resource).toEqual(required.resource);
    expect(payload.accepted).toEqual(required.accepts[0]);
    const auth = authorizationOf(payload);
    expect(auth.from).toBe(signer.address);
    expect(auth.to).toBe(getAddress(PAY_TO));
    expect(auth.value).toBe('10000');
    expect(Number(auth.validAfter)).toBeLessThanOrEqual(before);
    expect(Number(auth.validBefore)).toBeGreaterThanOrEqual(before + 60);
    expect(Number(auth.validBefore)).toBeLessThanOrEqual(after + 60);
    expect(auth.nonce).toMatch(/^0x[0-9a-f]{64}$/);

    expect(await signatureVerifies(payload, signer.address)).toBe(true);
    // The same signature proves nothing for another amount, another chain or another signer.
    expect(await signatureVerifies(payload, signer.address, { value: 10001n })).toBe(false);
    expect(await signatureVerifies(payload, signer.address, { chainId: 8453 })).toBe(false);
    expect(await signatureVerifies(payload, privateKeyToAccount(generatePrivateKey()).address)).toBe(false);
  });

  it('signs any token: x402Client spend controls are off, the budgets are the caller\'s', async () => {
    const token = '0x1111111111111111111111111111111111111111';
    const payload = await signer.sign(paymentRequired('analyze', '5000000000', { accepts: [requirement('5000000000', { asset: token, extra: { name: 'Mock', version: '1' } })] }));
    expect(payload.accepted.asset).toBe(token);
  });

  it('picks the first exact EVM entry, unless select picks another', async () => {
    const required = paymentRequired('analyze', '1', {
      accepts: [
        requirement('1', { network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp', asset: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v' }),
        requirement('2', { scheme: 'upto' }),
        requirement('3'),
        requirement('4', { network: 'eip155:8453' }),
      ],
    });
    expect((await signer.sign(required)).accepted.amount).toBe('3');
    const picked = await signer.sign(required, { select: (accepts) => accepts.find((r) => r.network === 'eip155:8453') });
    expect(picked.accepted.amount).toBe('4');
    expect(await signatureVerifies(picked, signer.address, { chainId: 8453 })).toBe(true);
  });

  it('refuses when nothing payable is offered, or when select picks what it cannot sign', async () => {
    const solanaOnly = paymentRequired('analyze', '1', { accepts: [requirement('1', { network: 'solana:devnet', asset: 'So1' })] });
    await expect(signer.sign(solanaOnly)).rejects.toMatchObject({ code: 'payment_required' });
    await expect(signer.sign(paymentRequired('analyze', '1'), { select: () => undefined })).rejects.toMatchObject({ code: 'payment_required' });
    await expect(signer.sign(paymentRequired('analyze', '1.5'))).rejects.toMatchObject({ code: 'invalid', field: 'amount' });
    await expect(signer.sign({ x402Version: 1 } as unknown as PaymentRequired)).rejects.toMatchObject({ code: 'invalid' });
  });

  it('adds the payment-identifier extension: the server\'s declaration echoed with info.id', async () => {
    const declaration = { info: { required: true }, schema: { type: 'object', properties: { required: { type: 'boolean' }, id: { type: 'string' } } } };
    const required = paymentRequired('analyze', '1', { extensions: { 'payment-identifier': declaration, other: { info: { a: 1 } } } });
    const payload = await signer.sign(required, { paymentId: 'pay_7d5d747be160e280504c099d984bcfe0' });
    expect(payload.extensions?.['payment-identifier']).toEqual({ ...declaration, info: { required: true, id: 'pay_7d5d747be160e280504c099d984bcfe0' } });
    expect(payload.extensions?.other).toEqual({ info: { a: 1 } });
    // The server's object is left as it came.
    expect(declaration.info).toEqual({ required: true });

    // Undeclared: sent with the spec's schema. Declared without an id given: a fresh id.
    const undeclared = await signer.sign(paymentRequired('analyze', '1'), { paymentId: 'order-0000000000000001' });
    expect(undeclared.extensions?.['payment-identifier']).toMatchObject({ info: { required: false, id: 'order-0000000000000001' }, schema: { required: ['required'] } });
    const generated = await signer.sign(required);
    expect((generated.extensions?.['payment-identifier'] as { info: { id: string } }).info.id).toMatch(/^pay_[0-9a-f]{32}$/);
    expect((await signer.sign(paymentRequired('analyze', '1'))).extensions).toBeUndefined();

    await expect(signer.sign(required, { paymentId: 'short' })).rejects.toMatchObject({ code: 'invalid', field: 'paymentId' });
    await expect(signer.sign(required, { paymentId: 'has spaces in it, sixteen+' })).rejects.toMatchObject({ code: 'invalid', field: 'paymentId' });
  });

  it('refuses a malformed private key without echoing it', () => {
    for (const privateKey of ['', '0x12', key.slice(2), `${key}00`, `0x${'0'.repeat(64)}`]) {
      let error: unknown;
      try {
        createPaymentSigner({ privateKey });
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({ code: 'invalid', field: 'privateKey' });
      if (privateKey.length > 4) expect((error as Error).message).not.toContain(privateKey.slice(2, 20));
    }
  });
});

// ── The wrapper against a real MCP server ────────────────────────────────────────────────────

type Settlement = 'ok' | 'fail' | 'reject' | 'hang';

/** A server with one priced tool and one free one; it records every call it sees. */
class PricedServer {
  price = '1000';
  settlement: Settlement = 'ok';
  readonly calls: { tool: string; meta: Record<string, unknown> | undefined }[] = [];
  readonly server = new McpServer({ name: 'priced', version: '0' });
  /** Releases the handlers that `hang` holds (called when the test ends). */
  readonly held: (() => void)[] = [];

  constructor() {
    this.server.registerTool('analyze', { description: 'a priced tool', inputSchema: { ticker: z.string() } }, async ({ ticker }, extra) => {
      this.calls.push({ tool: 'analyze', meta: extra._meta as Record<string, unknown> | undefined });
      const required = paymentRequired('analyze', this.price);
      const payment = extra._meta?.['x402/payment'] as PaymentPayload | undefined;
      if (payment === undefined || this.settlement === 'reject') return paymentRequiredResult(required);
      // A paid call that never answers: the client gives up while the payment may still settle.
      if (this.settlement === 'hang') await new Promise<void>((resolve) => this.held.push(resolve));
      const response = { transaction: `0x${'ab'.repeat(32)}`, network: NETWORK, payer: authorizationOf(payment).from };
      if (this.settlement === 'fail') {
        const failed = { ...required, error: 'Payment settlement failed: insufficient funds', 'x402/payment-response': { ...response, success: false, errorReason: 'insufficient_funds', transaction: '' } };
        return paymentRequiredResult(failed as PaymentRequired, 'Payment settlement failed');
      }
      return {
        content: [{ type: 'text', text: `analysis of ${ticker}` }],
        structuredContent: { ticker, outlook: 'positive' },
        _meta: { 'x402/payment-response': { ...response, success: true } },
      };
    });
    this.server.registerTool('ping', { description: 'a free tool' }, () => {
      this.calls.push({ tool: 'ping', meta: undefined });
      return { content: [{ type: 'text', text: 'pong' }], structuredContent: { pong: true } };
    });
  }
}

interface Connected {
  client: ToolCallingClient & { close(): Promise<void> };
  server: PricedServer;
}

/** The trailing callTool arguments that set a request timeout, as each SDK spells them. */
const CLIENTS: { sdk: string; connect: () => Promise<Connected>; timeout: (ms: number) => unknown[] }[] = [
  {
    sdk: 'SDK v1 Client',
    timeout: (ms) => [undefined, { timeout: ms }],
    connect: async () => {
      const server = new PricedServer();
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.server.connect(serverSide);
      const client = new ClientV1({ name: 'test', version: '0' });
      await client.connect(clientSide);
      return { client, server };
    },
  },
  {
    sdk: 'SDK v2 Client',
    timeout: (ms) => [{ timeout: ms }],
    connect: async () => {
      const server = new PricedServer();
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.server.connect(serverSide);
      const client = new ClientV2({ name: 'test', version: '0' });
      await client.connect(clientSide);
      return { client, server };
    },
  },
];

describe.each(CLIENTS)('withX402Payments with the $sdk', ({ connect, timeout }) => {
  const signer = createPaymentSigner({ privateKey: generatePrivateKey() });
  let connected: Connected;
  beforeEach(async () => {
    connected = await connect();
  });
  afterEach(async () => {
    for (const release of connected.server.held) release();
    await connected.client.close();
    await connected.server.server.close();
  });

  it('pays once, keeps the caller\'s _meta, and returns the paid result', async () => {
    const { client, server } = connected;
    const events: PaymentEvent[] = [];
    const paying = withX402Payments(client, { signer, maxPerCall: 1000n, maxTotal: 5000n, onPayment: (e) => void events.push(e) });
    const result = (await paying.callTool({ name: 'analyze', arguments: { ticker: 'AAPL' }, _meta: { trace: 't-1' } })) as CallToolResult;

    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ ticker: 'AAPL', outlook: 'positive' });
    expect(result._meta?.['x402/payment-response']).toMatchObject({ success: true, payer: signer.address });
    expect(server.calls).toHaveLength(2);
    expect(server.calls[0].meta?.['x402/payment']).toBeUndefined();
    expect(server.calls[1].meta?.trace).toBe('t-1');
    const sent = server.calls[1].meta?.['x402/payment'] as PaymentPayload;
    expect(sent.accepted.amount).toBe('1000');
    expect(await signatureVerifies(sent, signer.address)).toBe(true);
    expect(paying.spent()).toBe(1000n);
    expect(paying.remaining()).toBe(4000n);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ tool: 'analyze', settled: true, response: { success: true } });
  });

  it('refuses over maxPerCall without calling again', async () => {
    const { client, server } = connected;
    server.price = '1001';
    const paying = withX402Payments(client, { signer, maxPerCall: 1000n, maxTotal: 1_000_000n });
    await expect(paying.callTool({ name: 'analyze', arguments: { ticker: 'AAPL' } })).rejects.toMatchObject({
      code: 'quota_exceeded',
      message: expect.stringContaining('maxPerCall'),
      details: { budget: 'maxPerCall', amount: '1001', limit: '1000' },
    });
    expect(server.calls).toHaveLength(1);
    expect(paying.spent()).toBe(0n);
  });

  it('refuses over maxTotal without calling again', async () => {
    const { client, server } = connected;
    const paying = withX402Payments(client, { signer, maxPerCall: 1000n, maxTotal: 1500n });
    await paying.callTool({ name: 'analyze', arguments: { ticker: 'AAPL' } });
    expect(paying.spent()).toBe(1000n);
    await expect(paying.callTool({ name: 'analyze', arguments: { ticker: 'MSFT' } })).rejects.toMatchObject({
      code: 'quota_exceeded',
      message: expect.stringContaining('maxTotal'),
      details: { budget: 'maxTotal', remaining: '500' },
    });
    expect(server.calls).toHaveLength(3);
    expect(server.calls[2].meta?.['x402/payment']).toBeUndefined();
    expect(paying.spent()).toBe(1000n);
  });

  it('does not let concurrent calls together pass maxTotal', async () => {
    const { client, server } = connected;
    const paying = withX402Payments(client, { signer, maxPerCall: 1000n, maxTotal: 1000n });
    const outcomes = await Promise.allSettled([
      paying.callTool({ name: 'analyze', arguments: { ticker: 'A' } }),
      paying.callTool({ name: 'analyze', arguments: { ticker: 'B' } }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
    expect(server.calls.filter((c) => c.meta?.['x402/payment'] !== undefined)).toHaveLength(1);
    expect(paying.spent()).toBe(1000n);
  });

  it('does not count a failed settlement as spent', async () => {
    const { client, server } = connected;
    server.settlement = 'fail';
    const events: PaymentEvent[] = [];
    const paying = withX402Payments(client, { signer, maxPerCall: 1000n, maxTotal: 1000n, onPayment: (e) => void events.push(e) });
    const result = (await paying.callTool({ name: 'analyze', arguments: { ticker: 'AAPL' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(result.structuredContent?.['x402/payment-response']).toMatchObject({ success: false, errorReason: 'insufficient_funds' });
    expect(server.calls).toHaveLength(2);
    expect(paying.spent()).toBe(0n);
    expect(paying.remaining()).toBe(1000n);
    expect(events).toMatchObject([{ settled: false, response: { success: false, errorReason: 'insufficient_funds' } }]);
  });

  it('never pays twice: a retry that again asks for payment is returned as it is', async () => {
    const { client, server } = connected;
    server.settlement = 'reject';
    const paying = withX402Payments(client, { signer, maxPerCall: 1000n, maxTotal: 10_000n });
    const result = (await paying.callTool({ name: 'analyze', arguments: { ticker: 'AAPL' } })) as CallToolResult;
    expect(findPaymentRequired(result)).not.toBeNull();
    expect(server.calls).toHaveLength(2);
    expect(paying.spent()).toBe(0n);

    // A caller that brings its own payment is not paid for again either.
    const own = await signer.sign(paymentRequired('analyze', '1000'));
    await paying.callTool({ name: 'analyze', arguments: { ticker: 'AAPL' }, _meta: { 'x402/payment': own } });
    expect(server.calls).toHaveLength(3);
  });

  it('passes the SDK\'s own trailing arguments through, and holds a payment lost in transit against maxTotal', async () => {
    const { client, server } = connected;
    server.settlement = 'hang';
    const paying = withX402Payments(client, { signer, maxPerCall: 1000n, maxTotal: 1500n });
    const call = paying.callTool as (...args: unknown[]) => Promise<unknown>;
    await expect(call({ name: 'analyze', arguments: { ticker: 'AAPL' } }, ...timeout(200))).rejects.toThrow(/time/i);
    expect(server.calls).toHaveLength(2);
    // Not known to be spent, but it may settle: what is left of maxTotal no longer covers it.
    expect(paying.spent()).toBe(0n);
    expect(paying.remaining()).toBe(500n);
  });

  it('passes a free tool through untouched', async () => {
    const { client, server } = connected;
    const paying = withX402Payments(client, { signer, maxPerCall: 0n, maxTotal: 0n });
    const direct = await client.callTool({ name: 'ping', arguments: {} });
    const wrapped = await paying.callTool({ name: 'ping', arguments: {} });
    expect(wrapped).toEqual(direct);
    expect(server.calls).toHaveLength(2);
    expect(paying.spent()).toBe(0n);
  });
});

describe('withX402Payments typing', () => {
  it('keeps the wrapped client\'s own parameters (v1: resultSchema then options; v2: options)', () => {
    // Compile-time only: both SDK clients are accepted and their call signatures carried over.
    const signer = createPaymentSigner({ privateKey: generatePrivateKey() });
    const v1 = withX402Payments(new ClientV1({ name: 't', version: '0' }), { signer, maxPerCall: 1n, maxTotal: 1n });
    const v2 = withX402Payments(new ClientV2({ name: 't', version: '0' }), { signer, maxPerCall: 1n, maxTotal: 1n });
    const typed: [typeof v1.callTool, typeof v2.callTool] = [v1.callTool, v2.callTool];
    expect(typed).toHaveLength(2);
    expect(() => withX402Payments(new ClientV1({ name: 't', version: '0' }), { signer, maxPerCall: -1n, maxTotal: 1n })).toThrow(/maxPerCall/);
  });
});

// ── allsource pay ─────────────────────────────────────────────────────────────────────────────

describe('runPay', () => {
  const root = mkdtempSync(join(tmpdir(), 'allsource-pay-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const ctx = { dataDir: root, tenant: 'default', json: false };
  const key = generatePrivateKey();
  const env = { ALLSOURCE_PAY_KEY: key };
  let fileCount = 0;

  function file(value: unknown): string {
    const path = join(root, `required-${fileCount++}.json`);
    writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
    return path;
  }

  function capture(): { out: ReturnType<typeof createOutput>; text: () => string } {
    const chunks: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    return { out: createOutput(stream), text: () => Buffer.concat(chunks).toString('utf8') };
  }

  const required = paymentRequired('analyze', '10000', { extensions: { 'payment-identifier': { info: { required: false } } } });
  const inputs = [
    ['a bare PaymentRequired', required],
    ['a tool result', paymentRequiredResult(required)],
    ['the x402/error wrapper', { 'x402/error': { code: 402, message: 'Payment required', data: required } }],
  ] as const;

  it.each(inputs)('signs %s from --file and prints the PaymentPayload', async (_label, input) => {
    const { out, text } = capture();
    await runPay(ctx, { file: file(input), max: '10000', paymentId: 'pay_0123456789abcdef0123' }, out, env);
    const payload = JSON.parse(text()) as PaymentPayload;
    expect(payload.accepted).toEqual(required.accepts[0]);
    expect(authorizationOf(payload)).toMatchObject({ from: privateKeyToAccount(key).address, to: getAddress(PAY_TO), value: '10000' });
    expect(await signatureVerifies(payload, privateKeyToAccount(key).address)).toBe(true);
    expect(payload.extensions?.['payment-identifier']).toMatchObject({ info: { id: 'pay_0123456789abcdef0123' } });
  });

  it('refuses an amount over --max and prints nothing', async () => {
    const { out, text } = capture();
    await expect(runPay(ctx, { file: file(required), max: '9999' }, out, env)).rejects.toMatchObject({ code: 'quota_exceeded', field: 'max' });
    expect(text()).toBe('');
  });

  it('names ALLSOURCE_PAY_KEY when the key is missing or malformed, without echoing it', async () => {
    const path = file(required);
    await expect(runPay(ctx, { file: path }, capture().out, {})).rejects.toMatchObject({ code: 'invalid', field: 'ALLSOURCE_PAY_KEY', message: expect.stringContaining('not set') });
    const bad = `${key}ff`;
    const error = await runPay(ctx, { file: path }, capture().out, { ALLSOURCE_PAY_KEY: bad }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'invalid', field: 'ALLSOURCE_PAY_KEY' });
    expect((error as Error).message).not.toContain(key.slice(2, 20));
    // The right shape, but no secp256k1 key.
    await expect(runPay(ctx, { file: path }, capture().out, { ALLSOURCE_PAY_KEY: `0x${'0'.repeat(64)}` })).rejects.toMatchObject({ code: 'invalid', field: 'ALLSOURCE_PAY_KEY' });
  });

  it('refuses bad input with the field it is about', async () => {
    const out = capture().out;
    await expect(runPay(ctx, { file: file('{not json') }, out, env)).rejects.toMatchObject({ code: 'invalid', field: 'file' });
    await expect(runPay(ctx, { file: file({ hello: 'world' }) }, out, env)).rejects.toMatchObject({ code: 'invalid', field: 'input' });
    await expect(runPay(ctx, { file: join(root, 'missing.json') }, out, env)).rejects.toMatchObject({ code: 'not_found', field: 'file' });
    await expect(runPay(ctx, { file: file(required), max: '1e6' }, out, env)).rejects.toMatchObject({ code: 'invalid', field: 'max' });
    await expect(runPay(ctx, { file: file(required), paymentId: 'tiny' }, out, env)).rejects.toMatchObject({ code: 'invalid', field: 'payment-id' });
  });
});
