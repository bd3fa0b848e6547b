// x402 from the command line, as an operator and an agent's script would use it: `allsource
// pricing` prints a pricing file, `allsource serve --local --pricing FILE` charges for the priced
// tools (a real child process, a real SDK client, the local facilitator on loopback), `allsource
// pay` signs the PaymentRequired it answered, the paid retry runs, and `allsource payments` lists
// the receipt. Plus the client wrapper paying within its budget, and a bad pricing file refused.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPaymentSigner, withX402Payments } from '../src/payments/index.js'; // the package's `allsource/x402` entry
import { startAllsource } from './helpers/coreServer.js';
import { BASE_SEPOLIA_USDC, startTestFacilitator, type TestFacilitator } from './helpers/facilitator.js';
import { runCli } from './helpers/runCli.js';

let dir: string;
let facilitator: TestFacilitator;
let pricingFile: string;
const payTo = privateKeyToAccount(generatePrivateKey()).address;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allsource-x402-cli-'));
  facilitator = await startTestFacilitator();
  pricingFile = join(dir, 'pricing.json');
  const pricing = { network: 'eip155:84532', asset: { address: BASE_SEPOLIA_USDC, name: 'USDC', version: '2', decimals: 6 }, payTo, facilitatorUrl: facilitator.url, tools: { prime_add_node: '$0.01', prime_recall: 2500 } };
  await writeFile(pricingFile, JSON.stringify(pricing));
});

afterAll(async () => {
  await facilitator?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('x402 on the command line', () => {
  it('pricing prints what each tool costs; a bad pricing file names the field', async () => {
    const env = { PATH: process.env.PATH, HOME: dir };
    const shown = await runCli(['pricing', '--pricing', pricingFile], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/prime_add_node\s+10000\s+0\.01 USDC/);
    expect(shown.stdout).toMatch(/prime_recall\s+2500\s+0\.0025 USDC/);
    const json = JSON.parse((await runCli(['pricing', '--pricing', pricingFile, '--json'], env)).stdout) as { tools: Record<string, string> };
    expect(json.tools).toEqual({ prime_add_node: '10000', prime_recall: '2500' });
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ network: 'eip155:84532', asset: { address: '0x12', name: 'USDC', version: '2' }, payTo, facilitatorUrl: facilitator.url, tools: {} }));
    const refused = await runCli(['serve', '--local', '--data', join(dir, 'never'), '--port', '0', '--pricing', bad], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/pricing\.asset\.address/);
    expect((await runCli(['pricing'], env)).stderr).toMatch(/no pricing is configured/);
    // A misspelt tool would stay free without a word: refused instead.
    const misspelt = join(dir, 'misspelt.json');
    await writeFile(misspelt, JSON.stringify({ network: 'eip155:84532', asset: { address: BASE_SEPOLIA_USDC, name: 'USDC', version: '2' }, payTo, facilitatorUrl: facilitator.url, tools: { prime_recal: 100 } }));
    expect((await runCli(['pricing', '--pricing', misspelt], env)).stderr).toMatch(/pricing\.tools\.prime_recal: is not a tool/);
  });

  it('serve --local charges for priced tools; pay signs the answer; the paid retry runs; payments lists the receipt', async () => {
    const data = join(dir, 'data');
    const payerKey = generatePrivateKey();
    facilitator.fund(privateKeyToAccount(payerKey).address, 1_000_000n);
    const env = { PATH: process.env.PATH, HOME: dir };
    let firstPayment: Record<string, unknown> | undefined;
    let firstPaid: unknown;
    const serve = await startAllsource(['serve', '--local', '--data', data, '--port', '0', '--pricing', pricingFile], env, (stderr) => /MCP on (http:\/\/\S+)\/mcp/.exec(stderr)?.[1]);
    try {
      const client = new Client({ name: 'x402-cli', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${serve.url}/mcp`)));
      const args = { type: 'note', properties: { text: 'bought on the command line' } };
      const unpaid = await client.callTool({ name: 'prime_add_node', arguments: args });
      expect(unpaid.isError).toBe(true);
      const requiredFile = join(dir, 'required.json');
      await writeFile(requiredFile, JSON.stringify(unpaid));
      const tooCheap = await runCli(['pay', '--file', requiredFile, '--max', '9999'], { ...env, ALLSOURCE_PAY_KEY: payerKey });
      expect(tooCheap.code).not.toBe(0);
      const signed = await runCli(['pay', '--file', requiredFile, '--max', '10000'], { ...env, ALLSOURCE_PAY_KEY: payerKey });
      expect(signed.code).toBe(0);
      const payment = JSON.parse(signed.stdout) as Record<string, unknown>;
      firstPayment = payment;
      const paid = await client.callTool({ name: 'prime_add_node', arguments: args, _meta: { 'x402/payment': payment } });
      firstPaid = paid;
      expect(paid.isError).toBeFalsy();
      expect((paid._meta as Record<string, { success: boolean }>)['x402/payment-response'].success).toBe(true);

      // The wrapper pays by itself, within its budgets: 10000 + 2500 fit in 15000, a second 10000 does not.
      const wallet = withX402Payments(client, { signer: createPaymentSigner({ privateKey: payerKey }), maxPerCall: 10_000n, maxTotal: 15_000n });
      expect((await wallet.callTool({ name: 'prime_recall', arguments: { text: 'command line' } })).isError).toBeFalsy();
      expect((await wallet.callTool({ name: 'prime_add_node', arguments: args })).isError).toBeFalsy();
      await expect(wallet.callTool({ name: 'prime_add_node', arguments: args })).rejects.toThrow(/maxTotal|budget/);
      expect(wallet.spent()).toBe(12_500n);
      await client.close();
    } finally {
      serve.child.kill('SIGTERM');
      await new Promise((resolve) => serve.child.once('exit', resolve));
    }
    const receipts = await runCli(['payments', '--data', data, '--json'], env);
    expect(receipts.code).toBe(0);
    const listed = JSON.parse(receipts.stdout) as { receipts: Array<{ status: string; tool: string }> };
    expect(listed.receipts.map((r) => `${r.tool}:${r.status}`).sort()).toEqual(['prime_add_node:settled', 'prime_add_node:settled', 'prime_recall:settled']);
    expect(facilitator.balanceOf(payTo)).toBe(22_500n);

    // After a restart the log still knows the payment. `pay` gave it a payment-identifier id (the
    // server offers the extension), so presented again it answers the recorded result: the same
    // node and the same transaction, with nothing run or charged again.
    const again = await startAllsource(['serve', '--local', '--data', data, '--port', '0', '--pricing', pricingFile], env, (stderr) => /MCP on (http:\/\/\S+)\/mcp/.exec(stderr)?.[1]);
    try {
      const client = new Client({ name: 'x402-cli-restarted', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${again.url}/mcp`)));
      expect(((firstPayment!.extensions as Record<string, { info: { id: string } }>)['payment-identifier'].info.id)).toMatch(/^pay_/);
      const replay = await client.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: 'bought on the command line' } }, _meta: { 'x402/payment': firstPayment } });
      expect(replay).toEqual(firstPaid);
      expect((await client.callTool({ name: 'prime_stats', arguments: {} })).structuredContent).toMatchObject({ nodes: 2 });
      expect(facilitator.balanceOf(payTo)).toBe(22_500n);
      await client.close();
    } finally {
      again.child.kill('SIGTERM');
      await new Promise((resolve) => again.child.once('exit', resolve));
    }
  }, 60_000);
});
