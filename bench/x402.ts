// x402 benchmark (`npm run bench` runs it; alone: `npm run bench:x402`): paid against free tool
// calls over HTTP, offline. One MCP edge on an in-process EmbeddedCore (as `serve --local` runs
// it) prices `prime_add_node`; another serves it free; a local facilitator (@x402/core's
// facilitator with @x402/evm's exact scheme over a fake chain, the tests' harness) verifies real
// EIP-3009 signatures and settles on loopback. Payments are signed before the clock starts: what
// is timed is the server's side (verify, record, run, settle, record) plus the round trips.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { PaymentPayload, PaymentRequired } from '@x402/core/types';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { openEmbeddedCore } from '../src/core/embedded/index.js';
import { createPaymentGuard } from '../src/payments/guard.js';
import { parsePricing } from '../src/payments/pricing.js';
import { createPrimeService } from '../src/prime/service.js';
import { BASE_SEPOLIA_USDC, signPayment, startTestFacilitator } from '../test/helpers/facilitator.js';
import type { ToolCallGuard } from '../tools/types.js';
import { startMcpHttpServer, type McpHttpServer } from '../transports/http.js';
import { formatNumber, makeRow, percentile, renderTable } from './stats.js';

const SEQUENTIAL = 300;
const CONCURRENT = 1200;
const IN_FLIGHT = 16;

const log = (line: string): void => void process.stderr.write(`[bench:x402] ${line}\n`);
const ADD = { type: 'note', properties: { text: 'a memory worth paying for' } };

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'allsource-bench-x402-'));
  const facilitator = await startTestFacilitator();
  const store = await openEmbeddedCore({ dataDir: dir });
  const prime = createPrimeService({ store, dataDir: dir, log: () => {} });
  const servers: McpHttpServer[] = [];
  const clients: Client[] = [];
  try {
    const payTo = privateKeyToAccount(generatePrivateKey()).address;
    const pricing = parsePricing({ network: 'eip155:84532', asset: { address: BASE_SEPOLIA_USDC, name: 'USDC', version: '2' }, payTo, facilitatorUrl: facilitator.url, tools: { prime_add_node: '$0.001' } });
    const edge = (tenant: string, guard?: ToolCallGuard) =>
      startMcpHttpServer({ store: () => store, prime: () => prime, mode: 'local', resolveCaller: async () => ({ tenant, readOnly: false }), host: '127.0.0.1', port: 0, logger: false, guard, ready: async () => true, closeResources: async () => {} });
    const paidServer = await edge('paid', createPaymentGuard({ pricing, log: () => {} }) as unknown as ToolCallGuard);
    const freeServer = await edge('free');
    servers.push(paidServer, freeServer);
    const connect = async (server: McpHttpServer): Promise<Client> => {
      const client = new Client({ name: 'bench-x402', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
      clients.push(client);
      return client;
    };
    const paid = await connect(paidServer);
    const free = await connect(freeServer);

    const payerKey = generatePrivateKey();
    facilitator.fund(privateKeyToAccount(payerKey).address, 10n ** 12n);
    const required = (await paid.callTool({ name: 'prime_add_node', arguments: ADD })).structuredContent as unknown as PaymentRequired;
    log(`signing ${SEQUENTIAL + CONCURRENT + 50} payments`);
    const payments: PaymentPayload[] = [];
    for (let i = 0; i < SEQUENTIAL + CONCURRENT + 50; i++) payments.push(await signPayment({ privateKey: payerKey, paymentRequired: required }));
    let next = 0;
    const paidCall = async (): Promise<void> => {
      const r = await paid.callTool({ name: 'prime_add_node', arguments: ADD, _meta: { 'x402/payment': payments[next++] } });
      if (r.isError || !(r._meta as Record<string, { success?: boolean }> | undefined)?.['x402/payment-response']?.success) throw new Error(`a paid call failed: ${JSON.stringify(r).slice(0, 300)}`);
    };
    const freeCall = async (): Promise<void> => {
      const r = await free.callTool({ name: 'prime_add_node', arguments: ADD });
      if (r.isError) throw new Error('a free call failed');
    };
    for (let i = 0; i < 50; i++) {
      await paidCall();
      await freeCall();
    }

    const sequential = async (fn: () => Promise<void>): Promise<Float64Array> => {
      const samples = new Float64Array(SEQUENTIAL);
      for (let i = 0; i < SEQUENTIAL; i++) {
        const t0 = performance.now();
        await fn();
        samples[i] = performance.now() - t0;
      }
      return samples;
    };
    log(`${SEQUENTIAL} sequential calls each, paid and free`);
    const freeLatency = await sequential(freeCall);
    const paidLatency = await sequential(paidCall);
    const throughput = async (fn: () => Promise<void>): Promise<number> => {
      let started = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (started < CONCURRENT) {
            started++;
            await fn();
          }
        }),
      );
      return CONCURRENT / ((performance.now() - t0) / 1000);
    };
    log(`${CONCURRENT} calls each with ${IN_FLIGHT} in flight`);
    const freeRate = await throughput(freeCall);
    const paidRate = await throughput(paidCall);
    log(`facilitator saw ${facilitator.requests.verify} verifies and ${facilitator.requests.settle} settlements`);

    const rows = [
      makeRow('tools/call p50 (prime_add_node)', 'ms', percentile(paidLatency, 50), percentile(freeLatency, 50)),
      makeRow('tools/call p99', 'ms', percentile(paidLatency, 99), percentile(freeLatency, 99)),
      makeRow(`calls/s, ${IN_FLIGHT} in flight (each paid call verified and settled)`, 'calls/s', paidRate, freeRate),
    ];
    const lines = [
      `## x402 paid tool calls — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `- one MCP edge on an in-process EmbeddedCore pricing prime_add_node at $0.001, one serving it free; a local facilitator (@x402/core + @x402/evm exact, fake chain, real signatures) on loopback; SDK 1.32 clients over streamable HTTP`,
      `- a paid call: verify (facilitator round trip), the verified event appended, the tool, settle (facilitator round trip), the settled event appended; ${formatNumber(paidRate)} paid calls/s is the payments verified and settled per second`,
      '',
      renderTable(rows, { a: 'paid', b: 'free', ratio: 'paid / free' }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const s of servers) await s.close();
    await prime.close();
    await store.close();
    await facilitator.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
