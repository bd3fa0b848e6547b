// `allsource pay`: signs an x402 v2 payment by hand. Reads a PaymentRequired (a file or stdin; bare,
// inside a tool result, or in the `x402/error` wrapper), signs it with the key in ALLSOURCE_PAY_KEY,
// and prints the PaymentPayload to put in `_meta["x402/payment"]`. Nothing is sent: signing is the
// whole command, so a person can look at what a priced tool asks before paying it.

import { readFile } from 'node:fs/promises';
import { text as readStream } from 'node:stream/consumers';
import { AllSourceError, InvalidError, NotFoundError } from '../core/errors.js';
import { createPaymentSigner, isValidPaymentId, paymentRequiredFrom, selectRequirement, type PaymentSigner } from '../payments/client.js';
import type { CliContext } from './context.js';
import type { Output } from './output.js';

/** The `allsource pay` flags as commander parses them. */
export interface PayFlags {
  /** The PaymentRequired JSON; `-` or absent reads stdin. */
  file?: string;
  /** Refuse when the requirement's amount is above this, in the asset's atomic units (e.g. 10000 = 0.01 USDC). */
  max?: string;
  /** The payment-identifier id (idempotency key), 16-128 characters of letters, digits, `_`, `-`. */
  paymentId?: string;
}

const KEY_SHAPE = /^0x[0-9a-fA-F]{64}$/;

/** The private key from ALLSOURCE_PAY_KEY, checked for shape; never echoed, not even in an error. */
function payKey(env: NodeJS.ProcessEnv): `0x${string}` {
  const key = env.ALLSOURCE_PAY_KEY;
  if (key === undefined || key === '') throw new InvalidError('ALLSOURCE_PAY_KEY', 'is not set; export the paying account\'s private key (0x followed by 64 hex digits)');
  if (!KEY_SHAPE.test(key.trim())) throw new InvalidError('ALLSOURCE_PAY_KEY', 'must be 0x followed by 64 hex digits (a 32-byte private key)');
  return key.trim() as `0x${string}`;
}

async function readInput(file: string | undefined): Promise<unknown> {
  const fromStdin = file === undefined || file === '-';
  // A terminal on stdin would wait for a paste nobody knows is expected.
  if (fromStdin && process.stdin.isTTY) throw new InvalidError('file', 'pass --file PATH, or pipe the PaymentRequired JSON on stdin');
  let source: string;
  try {
    source = fromStdin ? await readStream(process.stdin) : await readFile(file, 'utf8');
  } catch (err) {
    if (fromStdin) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`input file ${file} does not exist`, { field: 'file' });
    throw new InvalidError('file', `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(source);
  } catch (err) {
    throw new InvalidError(fromStdin ? 'stdin' : 'file', `is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Runs `allsource pay`: prints the signed PaymentPayload as JSON. Checks every flag and the key
 * before reading the input, so a typo costs nothing. `env` is injectable for tests.
 */
export async function runPay(_ctx: CliContext, flags: PayFlags, out: Output, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let signer: PaymentSigner;
  try {
    signer = createPaymentSigner({ privateKey: payKey(env) });
  } catch (err) {
    // payKey has checked the shape; what the signer can still refuse is a key outside the curve's range.
    if ((err as { field?: unknown }).field === 'privateKey') throw new InvalidError('ALLSOURCE_PAY_KEY', 'is not a valid secp256k1 private key');
    throw err;
  }
  if (flags.max !== undefined && !/^\d+$/.test(flags.max)) throw new InvalidError('max', 'must be a whole number of the asset\'s atomic units, e.g. 10000 (0.01 USDC)');
  if (flags.paymentId !== undefined && !isValidPaymentId(flags.paymentId)) {
    throw new InvalidError('payment-id', 'must be 16-128 characters of letters, digits, "_" and "-", e.g. pay_7d5d747be160e280504c099d984bcfe0');
  }

  const input = await readInput(flags.file);
  const paymentRequired = paymentRequiredFrom(input);
  if (paymentRequired === null) {
    throw new InvalidError('input', 'holds no x402 v2 PaymentRequired (x402Version 2, resource, accepts), bare, in a tool result, or under "x402/error".data');
  }

  const requirement = selectRequirement(paymentRequired);
  if (flags.max !== undefined && BigInt(requirement.amount) > BigInt(flags.max)) {
    throw new AllSourceError('quota_exceeded', `the requirement asks ${requirement.amount} (atomic units of ${requirement.asset} on ${requirement.network}), more than --max ${flags.max}; nothing was signed`, {
      field: 'max',
      details: { amount: requirement.amount, max: flags.max, asset: requirement.asset, network: requirement.network, payTo: requirement.payTo },
    });
  }
  const payload = await signer.sign(paymentRequired, { select: () => requirement, ...(flags.paymentId !== undefined ? { paymentId: flags.paymentId } : {}) });
  await out.json(payload);
}
