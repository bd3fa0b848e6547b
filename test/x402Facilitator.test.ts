// The offline x402 facilitator harness (test/helpers/facilitator.ts), proven through the real
// client side of the protocol: @x402/core's HTTPFacilitatorClient pointed at the harness on
// 127.0.0.1 and an x402ResourceServer with @x402/evm's exact scheme building the requirements.
// Payers sign real EIP-3009 authorizations with fresh keys; the tests pin what a paid tool will
// rely on — a valid payment settles once and moves the money, every forged, replayed, expired,
// misdirected or short payment is refused with the scheme's reason, and an unreachable, failing
// or slow facilitator surfaces as the error types recorded here.

import { FacilitatorTimeoutError, HTTPFacilitatorClient, x402ResourceServer } from '@x402/core/server';
import type { PaymentPayload, PaymentRequired, PaymentRequirements } from '@x402/core/types';
import type { ExactEIP3009Payload } from '@x402/evm';
import { registerExactEvmScheme } from '@x402/evm/exact/server';
import { type Address, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BASE_SEPOLIA, BASE_SEPOLIA_USDC, signPayment, startTestFacilitator, type TestFacilitator } from './helpers/facilitator.js';

const PRICE = 10_000n; // 0.01 USDC (6 decimals)
const STARTING_BALANCE = 1_000_000n;

let harness: TestFacilitator;
let client: HTTPFacilitatorClient;
let server: x402ResourceServer;
const payTo = privateKeyToAccount(generatePrivateKey()).address;

/** Payment requirements for PRICE of the harness token to `to`, built by the resource server. */
async function requirementsFor(to: Address, amount = PRICE): Promise<PaymentRequirements> {
  const [requirements] = await server.buildPaymentRequirements({
    scheme: 'exact',
    network: BASE_SEPOLIA,
    payTo: to,
    price: { amount: amount.toString(), asset: harness.token.address, extra: { name: harness.token.name, version: harness.token.version } },
    maxTimeoutSeconds: 300,
  });
  return requirements;
}

async function paymentRequiredFor(requirements: PaymentRequirements): Promise<PaymentRequired> {
  return server.createPaymentRequiredResponse([requirements], { url: 'mcp://allsource/tools/remember', description: 'one paid call' });
}

let requirements: PaymentRequirements;
let paymentRequired: PaymentRequired;

/** A fresh payer, funded unless told otherwise, and a payment it signed for `paymentRequired`. */
async function newPayment(opts: { fund?: bigint; sign?: Partial<Parameters<typeof signPayment>[0]> } = {}) {
  const privateKey = generatePrivateKey();
  const payer = privateKeyToAccount(privateKey).address;
  if ((opts.fund ?? STARTING_BALANCE) > 0n) harness.fund(payer, opts.fund ?? STARTING_BALANCE);
  const payload = await signPayment({ privateKey, paymentRequired, ...opts.sign });
  return { payer, payload, authorization: (payload.payload as ExactEIP3009Payload).authorization };
}

/** What a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & { cause?: { code?: string } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { cause?: { code?: string } };
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  harness = await startTestFacilitator();
  client = new HTTPFacilitatorClient({ url: harness.url, timeoutMs: 5_000 });
  server = new x402ResourceServer(client);
  registerExactEvmScheme(server, { networks: [BASE_SEPOLIA] });
  await server.initialize(); // GET /supported
  requirements = await requirementsFor(payTo);
  paymentRequired = await paymentRequiredFor(requirements);
});

afterAll(async () => {
  await harness?.close();
});

beforeEach(() => {
  harness.setDown(false);
  harness.setSettleFailure(null);
  harness.setSettleDelayMs(0);
});

describe('the harness as a facilitator', () => {
  it('advertises exact on Base Sepolia and its signer; the server builds requirements from it', async () => {
    const supported = await client.getSupported();
    expect(supported.kinds).toEqual([{ x402Version: 2, scheme: 'exact', network: BASE_SEPOLIA }]);
    expect(Object.values(supported.signers).flat()).toContain(harness.facilitatorAddress);
    expect(harness.requests.supported).toBeGreaterThanOrEqual(2);
    expect(requirements).toMatchObject({ scheme: 'exact', network: BASE_SEPOLIA, amount: '10000', asset: BASE_SEPOLIA_USDC, payTo, extra: { name: 'USDC', version: '2' } });
  });

  it('verifies a real signature without moving money, then settles it once and moves it', async () => {
    const { payer, payload, authorization } = await newPayment();
    const before = { verify: harness.requests.verify, settle: harness.requests.settle, settled: harness.settled.length };

    const verified = await server.verifyPayment(payload, requirements);
    expect(verified).toMatchObject({ isValid: true, payer });
    expect(harness.balanceOf(payer)).toBe(STARTING_BALANCE);
    expect(harness.isNonceUsed(payer, authorization.nonce)).toBe(false);

    const settled = await server.settlePayment(payload, requirements);
    expect(settled).toMatchObject({ success: true, network: BASE_SEPOLIA, payer });
    expect(settled.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(harness.balanceOf(payer)).toBe(STARTING_BALANCE - PRICE);
    expect(harness.balanceOf(payTo)).toBeGreaterThanOrEqual(PRICE);
    expect(harness.isNonceUsed(payer, authorization.nonce)).toBe(true);
    expect(harness.settled.slice(before.settled)).toEqual([
      expect.objectContaining({ transaction: settled.transaction, from: payer, to: payTo, value: PRICE, nonce: authorization.nonce, asset: BASE_SEPOLIA_USDC }),
    ]);
    expect(harness.requests.verify - before.verify).toBe(1);
    expect(harness.requests.settle - before.settle).toBe(1);
  });

  it('refuses a replay: the spent nonce fails settle and verify, and nothing moves twice', async () => {
    const { payer, payload } = await newPayment();
    expect((await client.settle(payload, requirements)).success).toBe(true);
    const payToBalance = harness.balanceOf(payTo);

    const again = await client.settle(payload, requirements);
    expect(again).toMatchObject({ success: false, errorReason: 'invalid_exact_evm_nonce_already_used', transaction: '', payer });
    expect(await client.verify(payload, requirements)).toMatchObject({ isValid: false, invalidReason: 'invalid_exact_evm_nonce_already_used' });
    expect(harness.balanceOf(payer)).toBe(STARTING_BALANCE - PRICE);
    expect(harness.balanceOf(payTo)).toBe(payToBalance);
  });

  it('refuses a tampered signature or a tampered authorization', async () => {
    const { payer, payload } = await newPayment();
    const inner = payload.payload as ExactEIP3009Payload;
    const flipped = `${inner.signature!.slice(0, 10)}${inner.signature![10] === '0' ? '1' : '0'}${inner.signature!.slice(11)}` as Hex;
    const badSignature: PaymentPayload = { ...payload, payload: { ...inner, signature: flipped } };
    const moreMoney: PaymentPayload = { ...payload, payload: { ...inner, authorization: { ...inner.authorization, value: '1' } } };

    expect(await client.verify(badSignature, requirements)).toMatchObject({ isValid: false, invalidReason: 'invalid_exact_evm_signature' });
    expect(await client.verify(moreMoney, { ...requirements, amount: '1' })).toMatchObject({ isValid: false, invalidReason: 'invalid_exact_evm_signature' });
    expect(await client.settle(badSignature, requirements)).toMatchObject({ success: false, errorReason: 'invalid_exact_evm_signature' });
    expect(harness.balanceOf(payer)).toBe(STARTING_BALANCE);
  });

  it('refuses a payment to someone else (wrong payTo)', async () => {
    const { payload } = await newPayment();
    const elsewhere = await requirementsFor(privateKeyToAccount(generatePrivateKey()).address);
    expect(await client.verify(payload, elsewhere)).toMatchObject({ isValid: false, invalidReason: 'invalid_exact_evm_recipient_mismatch' });
  });

  it('refuses an authorization for a different amount than required, short or over (exact means equal)', async () => {
    const { payload } = await newPayment();
    expect(await client.verify(payload, { ...requirements, amount: (PRICE * 2n).toString() })).toMatchObject({
      isValid: false,
      invalidReason: 'invalid_exact_evm_payload_authorization_value_mismatch',
    });
    expect(await client.verify(payload, { ...requirements, amount: (PRICE / 2n).toString() })).toMatchObject({
      isValid: false,
      invalidReason: 'invalid_exact_evm_payload_authorization_value_mismatch',
    });
  });

  it('refuses a payer who cannot cover it (the on-chain simulation fails)', async () => {
    const { payload } = await newPayment({ fund: PRICE - 1n });
    expect(await client.verify(payload, requirements)).toMatchObject({ isValid: false, invalidReason: 'invalid_exact_evm_insufficient_balance' });
  });

  it('refuses an expired and a not-yet-valid authorization', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await newPayment({ sign: { now: now - 3600 } });
    expect(BigInt(expired.authorization.validBefore)).toBeLessThan(BigInt(now));
    expect(await client.verify(expired.payload, requirements)).toMatchObject({ isValid: false, invalidReason: 'invalid_exact_evm_payload_authorization_valid_before' });
    expect(await client.settle(expired.payload, requirements)).toMatchObject({ success: false, errorReason: 'invalid_exact_evm_payload_authorization_valid_before' });
    expect(harness.balanceOf(expired.payer)).toBe(STARTING_BALANCE);

    const early = await newPayment({ sign: { validAfter: BigInt(now + 3600) } });
    expect(await client.verify(early.payload, requirements)).toMatchObject({ isValid: false, invalidReason: 'invalid_exact_evm_payload_authorization_valid_after' });
  });

  it('verifies the same payload twice in parallel (verify is stateless), but settles it only once', async () => {
    const { payer, payload } = await newPayment();
    const verified = await Promise.all([client.verify(payload, requirements), client.verify(payload, requirements)]);
    expect(verified.map((v) => v.isValid)).toEqual([true, true]);

    const settled = await Promise.all([client.settle(payload, requirements), client.settle(payload, requirements)]);
    expect(settled.filter((s) => s.success)).toHaveLength(1);
    expect(settled.find((s) => !s.success)).toMatchObject({ errorReason: 'invalid_exact_evm_nonce_already_used' });
    expect(harness.balanceOf(payer)).toBe(STARTING_BALANCE - PRICE);
  });
});

describe('failure modes, as HTTPFacilitatorClient reports them', () => {
  it('down (connection reset): verify and settle reject with TypeError "fetch failed"', async () => {
    const { payload } = await newPayment();
    const before = harness.requests.verify;
    harness.setDown(true);
    const error = await rejection(client.verify(payload, requirements));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('fetch failed');
    expect(error.cause?.code).toBe('UND_ERR_SOCKET'); // undici's SocketError: other side closed
    expect(await rejection(server.settlePayment(payload, requirements))).toBeInstanceOf(TypeError);
    expect(harness.requests.verify - before).toBe(1); // it arrived, and was cut off
  });

  it('down (503): the client rejects with a plain Error naming the status', async () => {
    const { payload } = await newPayment();
    harness.setDown(true, '503');
    const error = await rejection(client.verify(payload, requirements));
    expect(error.constructor).toBe(Error);
    expect(error.message).toBe('Facilitator verify failed (503): facilitator unavailable');
    expect((await rejection(client.settle(payload, requirements))).message).toMatch(/^Facilitator settle failed \(503\)/);
  });

  it('a non-200 JSON answer without isValid (the harness answers 500 { error } when the facilitator throws) is a plain Error', async () => {
    const { payload } = await newPayment();
    const error = await rejection(client.verify(payload, { ...requirements, network: 'eip155:1' }));
    expect(error.constructor).toBe(Error);
    expect(error.message).toMatch(/^Facilitator verify failed \(500\): .*No facilitator registered for scheme: exact and network: eip155:1/);
  });

  it('gone (closed port): the client rejects with TypeError "fetch failed", cause ECONNREFUSED', async () => {
    const gone = await startTestFacilitator();
    await gone.close();
    const { payload } = await newPayment();
    const error = await rejection(new HTTPFacilitatorClient({ url: gone.url }).verify(payload, requirements));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.cause?.code).toBe('ECONNREFUSED');
  });

  it('settle failure: 200 { success: false, errorReason } is returned, not thrown, and the chain is untouched', async () => {
    const { payer, payload } = await newPayment();
    harness.setSettleFailure('unexpected_settle_error');
    expect(await client.settle(payload, requirements)).toEqual({ success: false, errorReason: 'unexpected_settle_error', transaction: '', network: BASE_SEPOLIA, payer });
    expect(await server.settlePayment(payload, requirements)).toMatchObject({ success: false, errorReason: 'unexpected_settle_error' });
    expect(harness.balanceOf(payer)).toBe(STARTING_BALANCE);
    expect(harness.isNonceUsed(payer, (payload.payload as ExactEIP3009Payload).authorization.nonce)).toBe(false);
  });

  it('a slow settle times out as FacilitatorTimeoutError, though the payer was charged', async () => {
    const { payer, payload } = await newPayment();
    harness.setSettleDelayMs(1_000);
    const impatient = new HTTPFacilitatorClient({ url: harness.url, timeoutMs: 200 });
    const error = await rejection(impatient.settle(payload, requirements));
    expect(error).toBeInstanceOf(FacilitatorTimeoutError);
    expect(error).toMatchObject({ operation: 'settle', timeoutMs: 200 });
    expect(harness.balanceOf(payer)).toBe(STARTING_BALANCE - PRICE);
  });
});
