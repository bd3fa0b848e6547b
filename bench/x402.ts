// x402 benchmark (`npm run bench` runs it; alone: `npm run bench:x402`): paid against free tool
// calls over HTTP, offline. One `allsource serve --local` child prices `prime_add_node`, another
// serves it free; a local facilitator (@x402/core's facilitator with @x402/evm's exact scheme over
// a fake chain, the tests' harness) runs in a third process, verifying real EIP-3009 signatures
// and settling on loopback. Payments are signed before the clock starts: what is timed is the
// server's side (verify, record, run, settle, record) plus the round trips, next to the
// facilitator's own verify + settle.

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { PaymentPayload, PaymentRequired } from '@x402/core/types';
import { HTTPFacilitatorClient } from '@x402/core/server';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { BASE_SEPOLIA_USDC, signPayment } from '../test/helpers/facilitator.js';
import { formatNumber, makeRow, percentile, renderTable } from './stats.js';

const BIN = fileURLToPath(new URL('../bin/allsource.js', import.meta.url));
const SEQUENTIAL = 300;
const CONCURRENT = 1200;
const IN_FLIGHT = 16;

const log = (line: string): void => void process.stderr.write(`[bench:x402] ${line}\n`);
const ADD = { type: 'note', properties: { text: 'a memory worth paying for' } };

/** The facilitator in its own process; `fund` mints test USDC to an address. */
async function startFacilitator(): Promise<{ child: ChildProcess; url: string; fund: (address: string, amount: bigint) => Promise<void> }> {
  const child = fork(fileURLToPath(new URL('./facilitatorChild.js', import.meta.url)), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`the facilitator exited ${code}`)));
  });
  let id = 0;
  const fund = (address: string, amount: bigint): Promise<void> =>
    new Promise((resolve) => {
      const mine = ++id;
      const onMessage = (m: { id?: number }): void => {
        if (m.id !== mine) return;
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.send({ id: mine, fund: [address, amount.toString()] });
    });
  return { child, url, fund };
}

/** `allsource serve --local` on its own data directory, optionally with a pricing file. */
async function startServe(dir: string, pricingFile?: string): Promise<{ child: ChildProcess; url: string }> {
  const args = [BIN, 'serve', '--local', '--data', dir, '--port', '0', ...(pricingFile ? ['--pricing', pricingFile] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const found = /MCP on (http:\/\/\S+)\/mcp/.exec(stderr)?.[1];
      if (found) resolve(found);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  child.stderr!.removeAllListeners('data').resume();
  return { child, url };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'allsource-bench-x402-'));
  const children: ChildProcess[] = [];
  const clients: Client[] = [];
  try {
    const facilitator = await startFacilitator();
    children.push(facilitator.child);
    const payTo = privateKeyToAccount(generatePrivateKey()).address;
    const pricingFile = join(dir, 'pricing.json');
    await writeFile(pricingFile, JSON.stringify({ network: 'eip155:84532', asset: { address: BASE_SEPOLIA_USDC, name: 'USDC', version: '2' }, payTo, facilitatorUrl: facilitator.url, tools: { prime_add_node: '$0.001' } }));
    const paidServe = await startServe(join(dir, 'paid'), pricingFile);
    const freeServe = await startServe(join(dir, 'free'));
    children.push(paidServe.child, freeServe.child);
    const connect = async (url: string): Promise<Client> => {
      const client = new Client({ name: 'bench-x402', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
      clients.push(client);
      return client;
    };
    const paid = await connect(paidServe.url);
    const free = await connect(freeServe.url);

    const payerKey = generatePrivateKey();
    await facilitator.fund(privateKeyToAccount(payerKey).address, 10n ** 12n);
    const required = (await paid.callTool({ name: 'prime_add_node', arguments: ADD })).structuredContent as unknown as PaymentRequired;
    const total = 2 * SEQUENTIAL + CONCURRENT + 50;
    log(`signing ${total} payments`);
    const payments: PaymentPayload[] = [];
    for (let i = 0; i < total; i++) payments.push(await signPayment({ privateKey: payerKey, paymentRequired: required }));
    let next = 0;
    const paidCall = async (): Promise<void> => {
      const r = await paid.callTool({ name: 'prime_add_node', arguments: ADD, _meta: { 'x402/payment': payments[next++] } });
      if (r.isError || !(r._meta as Record<string, { success?: boolean }> | undefined)?.['x402/payment-response']?.success) throw new Error(`a paid call failed: ${JSON.stringify(r).slice(0, 300)}`);
    };
    const freeCall = async (): Promise<void> => {
      const r = await free.callTool({ name: 'prime_add_node', arguments: ADD });
      if (r.isError) throw new Error('a free call failed');
    };
    // The facilitator alone, as the server reaches it: verify then settle, one payment at a time.
    const direct = new HTTPFacilitatorClient({ url: facilitator.url });
    const facilitatorOnly = async (): Promise<void> => {
      const payment = payments[next++];
      const requirements = { ...payment.accepted };
      if (!(await direct.verify(payment, requirements)).isValid) throw new Error('verify refused a good payment');
      if (!(await direct.settle(payment, requirements)).success) throw new Error('settle refused a good payment');
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
    log(`${SEQUENTIAL} sequential calls each: paid, free, and the facilitator's verify + settle alone`);
    const freeLatency = await sequential(freeCall);
    const paidLatency = await sequential(paidCall);
    const facilitatorLatency = await sequential(facilitatorOnly);
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

    const rows = [
      makeRow('tools/call p50 (prime_add_node)', 'ms', percentile(paidLatency, 50), percentile(freeLatency, 50)),
      makeRow('tools/call p99', 'ms', percentile(paidLatency, 99), percentile(freeLatency, 99)),
      makeRow('the facilitator alone: verify + settle p50', 'ms', percentile(facilitatorLatency, 50), null),
      makeRow(`calls/s, ${IN_FLIGHT} in flight (each paid call verified and settled)`, 'calls/s', paidRate, freeRate),
    ];
    const lines = [
      `## x402 paid tool calls — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `- two \`allsource serve --local\` children, one pricing prime_add_node at $0.001 and one serving it free; the local facilitator (@x402/core + @x402/evm exact over a fake chain, real signatures) in a third process; SDK 1.32 clients over streamable HTTP; payments signed before the clock starts`,
      `- a paid call: verify (a facilitator round trip), the verified event appended, the tool, settle (a facilitator round trip), the settled event appended; ${formatNumber(paidRate)} paid calls/s is the payments verified and settled per second`,
      '',
      renderTable(rows, { a: 'paid', b: 'free', ratio: 'paid / free' }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
