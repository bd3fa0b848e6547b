// The paying side of x402 v2 over MCP: find a PaymentRequired in a tool result, sign a payment for
// it with a local EVM key (EIP-3009 TransferWithAuthorization through @x402's own exact scheme), and
// wrap an MCP client so a priced tool call is paid once, within budgets, and retried once.
// Library code: it knows nothing of the allsource store, tools or CLI, so any MCP client can use it.

import { randomBytes } from 'node:crypto';
import { x402Client } from '@x402/core/client';
import { isPaymentRequiredV2 } from '@x402/core/schemas';
import type { PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse } from '@x402/core/types';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { privateKeyToAccount } from 'viem/accounts';
import { isValidPaymentId, PAYMENT_IDENTIFIER, PAYMENT_IDENTIFIER_SCHEMA, X402_ERROR_KEY, X402_PAYMENT_META, X402_PAYMENT_RESPONSE_META } from './wire.js';

export type { PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse } from '@x402/core/types';

export { PAYMENT_IDENTIFIER, X402_ERROR_KEY, X402_PAYMENT_META, X402_PAYMENT_RESPONSE_META, isValidPaymentId } from './wire.js';

/**
 * Errors of this module. `code` uses allsource's stable codes (`invalid`, `payment_required`,
 * `quota_exceeded`), and callers check the code, not the class: the CLI reports one like any
 * other typed error without this library importing the store's error module.
 */
export class X402ClientError extends Error {
  readonly code: 'invalid' | 'payment_required' | 'quota_exceeded';
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: X402ClientError['code'], message: string, options: { field?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'X402ClientError';
    this.code = code;
    if (options.field !== undefined) this.field = options.field;
    if (options.details !== undefined) this.details = options.details;
  }
}

// ── Finding a PaymentRequired ─────────────────────────────────────────────────────────────────

/** The parts of an MCP tool result that can carry a PaymentRequired (SDK v1 and v2 results both fit). */
export interface ToolResultLike {
  isError?: unknown;
  structuredContent?: unknown;
  content?: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// @x402/core's own v2 schema decides what a PaymentRequired is (x402Version 2, a resource, at least
// one well-formed `accepts` entry), so this module keeps no second copy of the wire format.
function asPaymentRequired(value: unknown): PaymentRequired | null {
  return isPaymentRequiredV2(value) ? (value as PaymentRequired) : null;
}

/** A bare PaymentRequired, or one inside the `{"x402/error": {code, message, data}}` wrapper. */
function directOrWrapped(value: unknown): PaymentRequired | null {
  const direct = asPaymentRequired(value);
  if (direct !== null) return direct;
  const wrapper = isRecord(value) ? value[X402_ERROR_KEY] : undefined;
  return isRecord(wrapper) ? asPaymentRequired(wrapper.data) : null;
}

/**
 * The PaymentRequired of a priced tool's answer, or null when the result asks for no payment.
 * Only an `isError: true` result can ask (a successful tool may well return payment data as its
 * answer). Looks, in the transport spec's order, at `structuredContent` itself, then
 * `structuredContent["x402/error"].data`, then `content[0].text` parsed as JSON (bare or wrapped).
 */
export function findPaymentRequired(result: ToolResultLike): PaymentRequired | null {
  if (result.isError !== true) return null;
  const fromStructured = directOrWrapped(result.structuredContent);
  if (fromStructured !== null) return fromStructured;
  const first = Array.isArray(result.content) ? (result.content[0] as unknown) : undefined;
  if (!isRecord(first) || first.type !== 'text' || typeof first.text !== 'string') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(first.text);
  } catch {
    return null;
  }
  return directOrWrapped(parsed);
}

/**
 * A PaymentRequired from anything a person may paste: the bare object, the `x402/error` wrapper,
 * a tool result, or a whole JSON-RPC response around one. Null when none of those holds one.
 */
export function paymentRequiredFrom(value: unknown): PaymentRequired | null {
  const direct = directOrWrapped(value);
  if (direct !== null) return direct;
  if (!isRecord(value)) return null;
  if (isRecord(value.result)) return findPaymentRequired(value.result);
  return findPaymentRequired(value);
}

// ── Choosing and signing ──────────────────────────────────────────────────────────────────────

/**
 * Picks the requirement to pay among `accepts`; undefined means none is acceptable. The choice
 * must be an `exact` requirement on an EVM (`eip155:<chainId>`) network: the only kind this
 * signer can sign.
 */
export type RequirementSelector = (accepts: readonly PaymentRequirements[], paymentRequired: PaymentRequired) => PaymentRequirements | undefined;

const EVM_NETWORK = /^eip155:\d+$/;
const ATOMIC_AMOUNT = /^\d+$/;

function isPayable(requirement: PaymentRequirements): boolean {
  return requirement.scheme === 'exact' && EVM_NETWORK.test(requirement.network);
}

/**
 * The requirement that will be paid: `select`'s choice, else the first exact EVM entry. Throws
 * `payment_required` when nothing payable is offered and `invalid` when the amount is not a whole
 * number of atomic units (a budget could not be checked against it).
 */
export function selectRequirement(paymentRequired: PaymentRequired, select?: RequirementSelector): PaymentRequirements {
  const choice = select === undefined ? paymentRequired.accepts.find(isPayable) : select(paymentRequired.accepts, paymentRequired);
  const offered = paymentRequired.accepts.map((r) => `${r.scheme} on ${r.network}`).join(', ');
  if (choice === undefined) {
    throw new X402ClientError('payment_required', `${describeResource(paymentRequired)} offers no payment this client can make (offered: ${offered}; payable: exact on eip155:<chainId>); nothing was paid`, {
      details: { accepts: paymentRequired.accepts },
    });
  }
  if (!isPayable(choice)) {
    throw new X402ClientError('payment_required', `the selected requirement is ${choice.scheme} on ${choice.network}; only exact on eip155:<chainId> can be signed; nothing was paid`, { details: { selected: choice } });
  }
  if (!ATOMIC_AMOUNT.test(choice.amount)) {
    throw new X402ClientError('invalid', `the requirement's amount ${JSON.stringify(choice.amount)} is not a whole number of atomic units; nothing was paid`, { field: 'amount' });
  }
  return choice;
}

function describeResource(paymentRequired: PaymentRequired): string {
  return `resource ${JSON.stringify(paymentRequired.resource.url)}`;
}

/** A fresh payment id in the spec's recommended form: `pay_` and 32 hex digits (128 random bits). */
export function generatePaymentId(): string {
  return `pay_${randomBytes(16).toString('hex')}`;
}

/**
 * `extensions` with the payment-identifier echoed and its `info.id` set, as the spec asks: the
 * server's declaration (schema and info) kept, the id added. New objects throughout: the x402
 * client hands the server's own extensions object back, which must stay as the server sent it.
 */
function withPaymentIdentifier(extensions: Record<string, unknown> | undefined, id: string): Record<string, unknown> {
  const declared = extensions?.[PAYMENT_IDENTIFIER];
  const declaration = isRecord(declared) ? declared : {};
  const info = isRecord(declaration.info) ? declaration.info : {};
  return {
    ...extensions,
    [PAYMENT_IDENTIFIER]: {
      ...declaration,
      schema: declaration.schema ?? PAYMENT_IDENTIFIER_SCHEMA,
      info: { required: false, ...info, id },
    },
  };
}

/** Options of one signature. */
export interface SignOptions {
  /** Which requirement to pay (default: the first exact EVM one). */
  select?: RequirementSelector;
  /**
   * The payment-identifier id (idempotency key; reuse it when resending the same payment). When
   * absent and the server declares the extension, a fresh one is generated, so a server that sets
   * `required: true` is answered.
   */
  paymentId?: string;
}

/** Signs payments for one EVM account. */
export interface PaymentSigner {
  /** The paying account (the authorization's `from`). */
  readonly address: `0x${string}`;
  /** A PaymentPayload for `paymentRequired`, ready for `_meta["x402/payment"]`. Signs; sends nothing. */
  sign(paymentRequired: PaymentRequired, options?: SignOptions): Promise<PaymentPayload>;
}

export interface PaymentSignerOptions {
  /** The account's private key: `0x` and 64 hex digits. Held in memory only, never logged. */
  privateKey: string;
}

const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;

/**
 * A signer on @x402/core's `x402Client` with @x402/evm's exact scheme for every `eip155:*` network
 * and a viem local account: real EIP-3009 TransferWithAuthorization signatures (domain from the
 * requirement's `extra.name`/`extra.version`, the chain id and the token address; `to` = payTo,
 * `value` = amount, valid for `maxTimeoutSeconds`).
 *
 * x402Client's own spend controls are off: by default they refuse every token outside its table of
 * known assets and cap payments in dollars, while the budgets here are atomic amounts the caller
 * sets (`withX402Payments`' maxPerCall and maxTotal, `allsource pay --max`).
 */
export function createPaymentSigner(options: PaymentSignerOptions): PaymentSigner {
  // The key itself never goes into a message: errors end up in logs and terminals.
  if (typeof options.privateKey !== 'string' || !PRIVATE_KEY.test(options.privateKey)) {
    throw new X402ClientError('invalid', 'privateKey must be 0x followed by 64 hex digits (a 32-byte secp256k1 key)', { field: 'privateKey' });
  }
  let account: ReturnType<typeof privateKeyToAccount>;
  try {
    account = privateKeyToAccount(options.privateKey as `0x${string}`);
  } catch {
    throw new X402ClientError('invalid', 'privateKey is not a valid secp256k1 private key (zero or not below the curve order)', { field: 'privateKey' });
  }
  const client = new x402Client().register('eip155:*', new ExactEvmScheme(account)).setSpendControls(false);

  return {
    address: account.address,
    async sign(paymentRequired, signOptions = {}) {
      if (!isPaymentRequiredV2(paymentRequired)) {
        throw new X402ClientError('invalid', 'not an x402 v2 PaymentRequired (x402Version 2, resource, accepts)', { field: 'paymentRequired' });
      }
      const { paymentId } = signOptions;
      if (paymentId !== undefined && !isValidPaymentId(paymentId)) {
        throw new X402ClientError('invalid', 'paymentId must be 16-128 characters of letters, digits, "_" and "-", e.g. pay_7d5d747be160e280504c099d984bcfe0', { field: 'paymentId' });
      }
      const requirement = selectRequirement(paymentRequired, signOptions.select);
      // Only the chosen entry goes in, so x402Client cannot settle on another one than the caller
      // (and its budget check) looked at.
      const payload = await client.createPaymentPayload({ ...paymentRequired, accepts: [requirement] });
      const id = paymentId ?? (paymentRequired.extensions?.[PAYMENT_IDENTIFIER] !== undefined ? generatePaymentId() : undefined);
      if (id === undefined) return payload;
      return { ...payload, extensions: withPaymentIdentifier(payload.extensions, id) };
    },
  };
}

// ── Paying MCP tool calls ─────────────────────────────────────────────────────────────────────

/** `tools/call` params as both SDKs spell them. */
export interface ToolCallParams {
  name: string;
  arguments?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

/**
 * The one method of an MCP client the wrapper uses. SDK v1's `Client` (`callTool(params,
 * resultSchema?, options?)`) and v2's (`callTool(params, options?)`) both fit: whatever follows
 * `params` is passed through untouched.
 */
export interface ToolCallingClient {
  callTool(params: ToolCallParams, ...rest: never[]): Promise<unknown>;
}

/** What `onPayment` hears after each paid retry, settled or not. */
export interface PaymentEvent {
  tool: string;
  requirement: PaymentRequirements;
  payload: PaymentPayload;
  /** The server's settlement response: `_meta["x402/payment-response"]`, or on a failure the one inside structuredContent. */
  response: SettleResponse | undefined;
  /** True when the server reported success and the amount was counted as spent. */
  settled: boolean;
}

export interface X402PaymentOptions {
  signer: PaymentSigner;
  /** Most one call may pay, in the asset's atomic units (USDC has 6 decimals: 10000n is $0.01). */
  maxPerCall: bigint;
  /** Most all calls through this wrapper may pay together, in atomic units. */
  maxTotal: bigint;
  /** Which requirement to pay (default: the first exact EVM one). */
  select?: RequirementSelector;
  /** Called after every paid retry. What it throws is ignored: a failing logger must never lose a paid result. */
  onPayment?: (event: PaymentEvent) => void | Promise<void>;
}

/** The wrapped client: `callTool` with the wrapped client's own parameters and result type. */
export interface X402PaymentClient<C extends ToolCallingClient> {
  /**
   * Calls the tool; when it answers PaymentRequired, checks the budgets, signs, and retries once
   * with `_meta["x402/payment"]` (the caller's `_meta` kept), returning the retry's result. A call
   * that brings its own `x402/payment` is never paid again.
   */
  callTool(...args: Parameters<C['callTool']>): Promise<Awaited<ReturnType<C['callTool']>>>;
  /** Atomic units settled so far (server-confirmed successes only). */
  spent(): bigint;
  /** Atomic units maxTotal still allows: minus what settled, what is in flight, and what may have settled. */
  remaining(): bigint;
}

function asSettleResponse(value: unknown): SettleResponse | undefined {
  return isRecord(value) && typeof value.success === 'boolean' ? (value as unknown as SettleResponse) : undefined;
}

/** The settlement response of a paid result: where a success goes (`_meta`), and where a failure may go. */
function settlementOf(result: unknown): { meta: SettleResponse | undefined; any: SettleResponse | undefined } {
  if (!isRecord(result)) return { meta: undefined, any: undefined };
  const meta = asSettleResponse(isRecord(result._meta) ? result._meta[X402_PAYMENT_RESPONSE_META] : undefined);
  const structured = asSettleResponse(isRecord(result.structuredContent) ? result.structuredContent[X402_PAYMENT_RESPONSE_META] : undefined);
  return { meta, any: meta ?? structured };
}

/**
 * Wraps an MCP client so priced tools are paid with `signer`, within `maxPerCall` and `maxTotal`.
 * Over a budget the call is refused with a `quota_exceeded` X402ClientError naming the budget, and
 * nothing is signed or sent; a tool that offers no payment this signer can make is refused with
 * `payment_required`. Each call pays at most once: a retry that again asks for payment is
 * returned as it is. An amount counts as spent only when the retry's
 * `_meta["x402/payment-response"].success` is true; when the retry itself fails (a timeout, a
 * dropped connection) the payment may still settle, so its amount stays held against maxTotal.
 */
export function withX402Payments<C extends ToolCallingClient>(client: C, options: X402PaymentOptions): X402PaymentClient<C> {
  const { signer, maxPerCall, maxTotal, select, onPayment } = options;
  if (typeof maxPerCall !== 'bigint' || maxPerCall < 0n) throw new X402ClientError('invalid', 'maxPerCall must be a bigint of at least 0n (atomic units)', { field: 'maxPerCall' });
  if (typeof maxTotal !== 'bigint' || maxTotal < 0n) throw new X402ClientError('invalid', 'maxTotal must be a bigint of at least 0n (atomic units)', { field: 'maxTotal' });
  let spent = 0n;
  // Reserved before signing so concurrent calls cannot together pass maxTotal.
  let inFlight = 0n;
  // Payments whose retry failed in transit: they may have settled, so they stay counted.
  let uncertain = 0n;
  const remaining = (): bigint => maxTotal - spent - inFlight - uncertain;
  const call = (params: ToolCallParams, rest: unknown[]): Promise<unknown> => (client.callTool as (p: ToolCallParams, ...r: unknown[]) => Promise<unknown>).call(client, params, ...rest);

  async function callTool(params: ToolCallParams, ...rest: unknown[]): Promise<unknown> {
    const first = await call(params, rest);
    const required = isRecord(first) ? findPaymentRequired(first) : null;
    if (required === null || params._meta?.[X402_PAYMENT_META] !== undefined) return first;

    const requirement = selectRequirement(required, select);
    const amount = BigInt(requirement.amount);
    const facts = { tool: params.name, amount: requirement.amount, asset: requirement.asset, network: requirement.network, payTo: requirement.payTo };
    if (amount > maxPerCall) {
      throw new X402ClientError('quota_exceeded', `tool ${JSON.stringify(params.name)} asks ${amount} (atomic units of ${requirement.asset} on ${requirement.network}), over maxPerCall ${maxPerCall}; nothing was paid`, {
        details: { ...facts, budget: 'maxPerCall', limit: maxPerCall.toString() },
      });
    }
    const left = remaining();
    if (amount > left) {
      throw new X402ClientError('quota_exceeded', `tool ${JSON.stringify(params.name)} asks ${amount} (atomic units of ${requirement.asset} on ${requirement.network}), over what maxTotal ${maxTotal} has left (${left}); nothing was paid`, {
        details: { ...facts, budget: 'maxTotal', limit: maxTotal.toString(), remaining: left.toString() },
      });
    }

    inFlight += amount;
    let sent = false;
    let answered = false;
    try {
      const payload = await signer.sign(required, { select: () => requirement });
      // A signer of another make may pick on its own; what goes out must be what the budget checked.
      const accepted = payload.accepted;
      if (accepted.amount !== requirement.amount || accepted.payTo !== requirement.payTo || accepted.asset !== requirement.asset || accepted.network !== requirement.network) {
        throw new X402ClientError('invalid', 'the signer signed another requirement than the one checked against the budgets; nothing was sent', { details: { checked: requirement, signed: accepted } });
      }
      sent = true;
      const second = await call({ ...params, _meta: { ...params._meta, [X402_PAYMENT_META]: payload } }, rest);
      answered = true;
      const settlement = settlementOf(second);
      // Only the success the transport spec puts in the result's _meta counts as money gone.
      const settled = settlement.meta?.success === true;
      if (settled) spent += amount;
      if (onPayment !== undefined) {
        try {
          await onPayment({ tool: params.name, requirement, payload, response: settlement.any, settled });
        } catch {
          // Ignored on purpose (see X402PaymentOptions.onPayment).
        }
      }
      return second;
    } finally {
      inFlight -= amount;
      if (sent && !answered) uncertain += amount;
    }
  }

  return {
    callTool: callTool as X402PaymentClient<C>['callTool'],
    spent: () => spent,
    remaining,
  };
}
