// x402 v2 paid tool calls over MCP (specs/transports-v2/mcp.md of the x402 repository): the guard
// that stands around every call of a priced tool. Past the tenant's free allowance, a call without
// `_meta["x402/payment"]` is answered with PaymentRequired and nothing runs; a call with a payment
// is checked against what is offered, verified by the facilitator, recorded in the tenant's log
// (exactly once per authorization: see ledger.ts), run, settled, and answered with
// `_meta["x402/payment-response"]` — only when settlement succeeded. A tool that fails is not
// settled; a settlement that fails or times out answers with the payment error, never the tool's
// output. Requirements, verification and settlement go through @x402/core's resource server with
// @x402/evm's exact scheme and an explicitly configured facilitator.

import type { CallToolResult } from '@modelcontextprotocol/server';
import { FacilitatorTimeoutError, HTTPFacilitatorClient, x402ResourceServer, type FacilitatorClient } from '@x402/core/server';
import type { PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse } from '@x402/core/types';
import { ExactEvmScheme } from '@x402/evm/exact/server';
import { z } from 'zod';
import { isErrorCode } from '../core/errors.js';
import type { EventStore, JsonObject } from '../core/types.js';
import { allowancePeriod, consumeAllowance, PAYMENT_EVENTS, paymentEntity, paymentIdEntity, payloadHash, REFUSALS_ENTITY, stateOrNull } from './ledger.js';
import type { Pricing } from './pricing.js';
import { isValidPaymentId, PAYMENT_IDENTIFIER, PAYMENT_IDENTIFIER_SCHEMA, X402_ERROR_KEY, X402_PAYMENT_META, X402_PAYMENT_RESPONSE_META } from './wire.js';

/** A tool result as MCP carries it: the SDK's own type, so this guard is the registry's ToolCallGuard as it stands. */
export type ToolResult = CallToolResult;

/** One call of a tool, as the registry hands it to a guard (arguments already validated). */
export interface GuardedCall {
  tool: string;
  /** What the tool does, for the PaymentRequired resource description. */
  description: string;
  /** The request's `_meta` (where `x402/payment` travels). */
  meta: Record<string, unknown> | undefined;
  tenant: string;
  store: EventStore;
}

export interface PaymentGuard {
  covers(tool: string): boolean;
  /** JSON Schema of the PaymentRequired answers, for priced tools' listed output schemas. */
  answerSchema: Record<string, unknown>;
  /** How a PaymentRequired answer is counted in metrics and access logs. */
  answerOutcome: 'payment_required';
  run(call: GuardedCall, proceed: () => Promise<ToolResult>): Promise<ToolResult>;
}

export interface PaymentGuardOptions {
  pricing: Pricing;
  /** The facilitator client; default an HTTPFacilitatorClient on `pricing.facilitatorUrl`. */
  facilitator?: FacilitatorClient;
  now?: () => number;
  log?: (line: string) => void;
}


const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HEX32 = /^0x[0-9a-fA-F]{64}$/;
const INTEGER = /^\d{1,78}$/;

/** The shape a PaymentPayload must have before anything else looks at it. */
const payloadSchema = z.looseObject({
  x402Version: z.literal(2),
  accepted: z.looseObject({
    scheme: z.string(),
    network: z.string(),
    asset: z.string(),
    amount: z.string().regex(INTEGER, 'must be an integer amount in atomic units'),
    payTo: z.string(),
    maxTimeoutSeconds: z.number(),
    extra: z.record(z.string(), z.unknown()).optional(),
  }),
  payload: z.looseObject({
    signature: z.string().regex(/^0x[0-9a-fA-F]+$/, 'must be a hex signature'),
    authorization: z.looseObject({
      from: z.string().regex(ADDRESS, 'must be an address'),
      to: z.string().regex(ADDRESS, 'must be an address'),
      value: z.string().regex(INTEGER, 'must be an integer'),
      validAfter: z.string().regex(INTEGER, 'must be an integer'),
      validBefore: z.string().regex(INTEGER, 'must be an integer'),
      nonce: z.string().regex(HEX32, 'must be a 32-byte hex nonce'),
    }),
  }),
  resource: z.looseObject({ url: z.string() }).optional(),
  extensions: z.record(z.string(), z.unknown()).optional(),
});


/** The JSON Schema of a PaymentRequired answer (with the settlement failure it may carry). */
const PAYMENT_REQUIRED_JSON_SCHEMA: Record<string, unknown> = {
  type: 'object',
  required: ['x402Version', 'accepts'],
  properties: {
    x402Version: { const: 2 },
    error: { type: 'string' },
    resource: { type: 'object' },
    accepts: { type: 'array', items: { type: 'object' } },
    extensions: { type: 'object' },
    [X402_PAYMENT_RESPONSE_META]: { type: 'object' },
  },
};

/** Advertised on every PaymentRequired: a client may send an id, and need not. */
const ID_EXTENSION_DECLARATION = { info: { required: false }, schema: PAYMENT_IDENTIFIER_SCHEMA };

/** The largest result kept for a payment-id replay (a bigger one answers "cannot replay"). */
const MAX_REPLAY_BYTES = 256 * 1024;

export function createPaymentGuard(options: PaymentGuardOptions): PaymentGuard {
  const { pricing } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const facilitator = options.facilitator ?? new HTTPFacilitatorClient({ url: pricing.facilitatorUrl, timeoutMs: pricing.facilitatorTimeoutMs });
  const server = new x402ResourceServer(facilitator).register(pricing.network, new ExactEvmScheme());
  // The facilitator is asked what it supports once it answers; until then every paid call says so.
  let initialized: Promise<void> | null = null;
  const ready = (): Promise<void> =>
    (initialized ??= server.initialize().catch((err: unknown) => {
      initialized = null;
      throw err;
    }));
  const requirementsByTool = new Map<string, PaymentRequirements>();

  const requirementsFor = async (tool: string): Promise<PaymentRequirements> => {
    let req = requirementsByTool.get(tool);
    if (req === undefined) {
      await ready();
      const [built] = await server.buildPaymentRequirements({
        scheme: 'exact',
        network: pricing.network,
        payTo: pricing.payTo,
        price: { asset: pricing.asset.address, amount: pricing.tools.get(tool)!, extra: { name: pricing.asset.name, version: pricing.asset.version } },
        maxTimeoutSeconds: pricing.maxTimeoutSeconds,
      });
      req = built;
      requirementsByTool.set(tool, req);
    }
    return req;
  };

  const paymentRequired = (call: GuardedCall, accepts: PaymentRequirements[], error: string, settlement?: Record<string, unknown>): ToolResult => {
    const required: PaymentRequired & Record<string, unknown> = {
      x402Version: 2,
      error,
      resource: { url: `mcp://tool/${call.tool}`, description: call.description.split('\n')[0].slice(0, 200), mimeType: 'application/json' },
      accepts,
      extensions: { [PAYMENT_IDENTIFIER]: ID_EXTENSION_DECLARATION },
      ...(settlement === undefined ? {} : { [X402_PAYMENT_RESPONSE_META]: settlement }),
    };
    return { isError: true, structuredContent: required, content: [{ type: 'text', text: JSON.stringify({ [X402_ERROR_KEY]: { code: 402, message: error, data: required } }) }] };
  };

  /** An error that is not about paying (bad payment shape, facilitator down): the registry's error shape. */
  const failure = (code: string, message: string, field?: string): ToolResult => ({
    isError: true,
    structuredContent: { error: { code, message, ...(field === undefined ? {} : { field }) } },
    content: [{ type: 'text', text: `${code}: ${message}` }],
  });

  /** What a payment id seen before answers: its recorded result, or why there is none. */
  const answerForPaymentId = (call: GuardedCall, offer: PaymentRequirements, seen: JsonObject, hash: string, id: string): ToolResult => {
    if (seen.payload_hash !== hash) return failure('conflict', `payment id ${id} was used with another payment payload`, `_meta["${X402_PAYMENT_META}"].extensions.payment-identifier.info.id`);
    if (seen.status === 'settled' && typeof seen.result === 'object' && seen.result !== null) return seen.result as unknown as ToolResult;
    if (seen.status === 'settled') return failure('conflict', `payment id ${id} was settled, but its result was too large to keep for a replay`);
    if (seen.status === 'running') return failure('unavailable', `payment id ${id} is still being processed; retry in a moment`);
    return paymentRequired(call, [offer], `payment id ${id} already ended as ${String(seen.status)}: sign a new payment with a new id`);
  };

  const record = async (call: GuardedCall, entity: string, type: string, payload: JsonObject, expectedVersion?: number): Promise<void> => {
    await call.store.append(call.tenant, [{ entity_id: entity, event_type: type, payload, ...(expectedVersion === undefined ? {} : { expected_version: expectedVersion }) }]);
  };

  /** Records a refusal; a refusal that cannot be recorded is logged, not turned into a second error. */
  const refuse = async (call: GuardedCall, type: string, payload: JsonObject): Promise<void> => {
    try {
      await record(call, REFUSALS_ENTITY, type, { tool: call.tool, ...payload });
    } catch (err) {
      log(`allsource: could not record ${type} for ${call.tool}: ${(err as Error).message}`);
    }
  };

  return {
    covers: (tool) => pricing.tools.has(tool),
    answerSchema: PAYMENT_REQUIRED_JSON_SCHEMA,
    answerOutcome: 'payment_required',

    async run(call, proceed) {
      // 1. The free allowance comes first: a call inside it runs and costs nothing.
      if (pricing.freeAllowance !== null && pricing.freeAllowance.calls > 0) {
        const period = allowancePeriod(now(), pricing.freeAllowance.period);
        if (await consumeAllowance(call.store, call.tenant, pricing.freeAllowance.calls, period, call.tool)) return proceed();
      }
      let offer: PaymentRequirements;
      try {
        offer = await requirementsFor(call.tool);
      } catch (err) {
        return failure('unavailable', `the payment facilitator cannot be reached (${(err as Error).message}); nothing was run or charged, retry later`);
      }
      const raw = call.meta?.[X402_PAYMENT_META];
      if (raw === undefined) {
        await refuse(call, PAYMENT_EVENTS.required, { amount: offer.amount });
        return paymentRequired(call, [offer], pricing.freeAllowance === null ? 'Payment required to call this tool' : `The free allowance of ${pricing.freeAllowance.calls} calls per ${pricing.freeAllowance.period} is used up: payment required`);
      }

      // 2. The payment must be well formed and match what is offered.
      const parsed = payloadSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return paymentRequired(call, [offer], `_meta["${X402_PAYMENT_META}"].${issue.path.join('.')}: ${issue.message}`);
      }
      const payment = parsed.data as unknown as PaymentPayload & typeof parsed.data;
      const { accepted } = payment;
      const mismatch =
        accepted.scheme !== offer.scheme
          ? 'scheme'
          : accepted.network !== offer.network
            ? 'network'
            : accepted.asset.toLowerCase() !== offer.asset.toLowerCase()
              ? 'asset'
              : accepted.payTo.toLowerCase() !== offer.payTo.toLowerCase()
                ? 'payTo'
                : BigInt(accepted.amount) < BigInt(offer.amount)
                  ? 'amount'
                  : null;
      if (mismatch !== null) {
        await refuse(call, PAYMENT_EVENTS.failed, { stage: 'match', reason: `accepted.${mismatch} does not match the offer` });
        return paymentRequired(call, [offer], `the payment's accepted.${mismatch} does not match what this tool accepts (${mismatch === 'amount' ? `at least ${offer.amount}` : String(offer[mismatch as keyof PaymentRequirements])})`);
      }
      const auth = payment.payload.authorization;
      const payer = auth.from;

      // 3. payment-identifier: the same id with the same payload answers what it answered; another payload is a conflict.
      const idExtension = payment.extensions?.[PAYMENT_IDENTIFIER] as { info?: { id?: unknown } } | undefined;
      const paymentId = idExtension?.info?.id;
      let idEntity: string | undefined;
      const hash = payloadHash(raw);
      if (paymentId !== undefined) {
        if (typeof paymentId !== 'string' || !isValidPaymentId(paymentId)) return failure('invalid', 'must be 16 to 128 letters, digits, "-" or "_"', `_meta["${X402_PAYMENT_META}"].extensions.payment-identifier.info.id`);
        idEntity = paymentIdEntity(paymentId);
        const seen = await stateOrNull(call.store, call.tenant, idEntity);
        if (seen !== null) return answerForPaymentId(call, offer, seen.state ?? {}, hash, paymentId);
      }

      // 4. An authorization the log already holds is refused before the facilitator is asked.
      const entity = paymentEntity(payer, auth.nonce);
      const replayed = (): Promise<ToolResult> =>
        refuse(call, PAYMENT_EVENTS.failed, { stage: 'record', reason: 'replayed', payer }).then(() => paymentRequired(call, [offer], 'this payment authorization was already used (each one pays for one call): sign a new one'));
      if ((await stateOrNull(call.store, call.tenant, entity)) !== null) return replayed();

      // 5. The facilitator checks the signature, the value and the validity window.
      const requirements: PaymentRequirements = { ...offer, amount: accepted.amount };
      let verified;
      try {
        verified = await server.verifyPayment(payment, requirements);
      } catch (err) {
        await refuse(call, PAYMENT_EVENTS.failed, { stage: 'verify', reason: 'facilitator_unavailable', payer });
        return failure('unavailable', `the payment facilitator did not answer (${(err as Error).message}); nothing was run or charged, retry with the same payment`);
      }
      if (!verified.isValid) {
        await refuse(call, PAYMENT_EVENTS.failed, { stage: 'verify', reason: verified.invalidReason ?? 'invalid', payer });
        return paymentRequired(call, [offer], `the payment was refused: ${verified.invalidReason ?? 'invalid'}${verified.invalidMessage ? ` (${verified.invalidMessage})` : ''}`);
      }

      // 6. Recorded before the tool runs: one authorization, one run, whoever presents it (two
      // presentations racing past step 4 meet here: only one can append the entity's first event).
      const verifiedEvent = { entity_id: entity, event_type: PAYMENT_EVENTS.verified, payload: { tool: call.tool, payer, nonce: auth.nonce, amount: accepted.amount, network: accepted.network, asset: accepted.asset, pay_to: accepted.payTo, ...(paymentId === undefined ? {} : { payment_id: paymentId }) }, expected_version: 0 };
      try {
        await call.store.append(call.tenant, [verifiedEvent, ...(idEntity === undefined ? [] : [{ entity_id: idEntity, event_type: PAYMENT_EVENTS.identified, payload: { payload_hash: hash, payment: entity, status: 'running' }, expected_version: 0 }])]);
      } catch (err) {
        if (!isErrorCode(err, 'conflict')) throw err;
        if (idEntity !== undefined) {
          const seen = await stateOrNull(call.store, call.tenant, idEntity);
          if (seen !== null) return answerForPaymentId(call, offer, seen.state ?? {}, hash, paymentId as string);
        }
        return replayed();
      }

      // 7. Run; a failed tool is not settled.
      const result = await proceed();
      if (result.isError) {
        await record(call, entity, PAYMENT_EVENTS.failed, { stage: 'tool', reason: 'tool_error', settled: false }).catch((e: Error) => log(`allsource: could not record a failed paid call: ${e.message}`));
        if (idEntity !== undefined) await record(call, idEntity, PAYMENT_EVENTS.identified, { status: 'failed' }).catch(() => undefined);
        return result;
      }

      // 8. Settle; only a settled payment gets the tool's output.
      let settlement: SettleResponse;
      try {
        settlement = await server.settlePayment(payment, requirements);
      } catch (err) {
        if (err instanceof FacilitatorTimeoutError) {
          await record(call, entity, PAYMENT_EVENTS.indeterminate, { stage: 'settle', reason: 'timeout' }).catch((e: Error) => log(`allsource: could not record an indeterminate settlement: ${e.message}`));
          if (idEntity !== undefined) await record(call, idEntity, PAYMENT_EVENTS.identified, { status: 'indeterminate' }).catch(() => undefined);
          return paymentRequired(call, [offer], 'settlement timed out: its outcome is unknown (recorded as indeterminate); the tool output is withheld', { success: false, errorReason: 'settlement_timeout', transaction: '', network: accepted.network, payer });
        }
        settlement = { success: false, errorReason: 'facilitator_error', errorMessage: (err as Error).message, transaction: '', network: accepted.network as `${string}:${string}`, payer };
      }
      if (!settlement.success) {
        await record(call, entity, PAYMENT_EVENTS.failed, { stage: 'settle', reason: settlement.errorReason ?? 'settle_failed' }).catch((e: Error) => log(`allsource: could not record a failed settlement: ${e.message}`));
        if (idEntity !== undefined) await record(call, idEntity, PAYMENT_EVENTS.identified, { status: 'failed' }).catch(() => undefined);
        return paymentRequired(call, [offer], `Payment settlement failed: ${settlement.errorReason ?? 'unknown reason'}`, { success: false, errorReason: settlement.errorReason ?? 'settle_failed', transaction: settlement.transaction ?? '', network: settlement.network ?? accepted.network });
      }
      const response = { success: true, transaction: settlement.transaction, network: settlement.network, payer: settlement.payer ?? payer };
      const paid: ToolResult = { ...result, _meta: { ...result._meta, [X402_PAYMENT_RESPONSE_META]: response } };
      await record(call, entity, PAYMENT_EVENTS.settled, { transaction: settlement.transaction, network: settlement.network, payer: response.payer }).catch((e: Error) => log(`allsource: could not record a settlement (${settlement.transaction}): ${e.message}`));
      if (idEntity !== undefined) {
        const text = JSON.stringify(paid);
        await record(call, idEntity, PAYMENT_EVENTS.identified, text.length <= MAX_REPLAY_BYTES ? { status: 'settled', result: JSON.parse(text) as JsonObject } : { status: 'settled', result: null }).catch(() => undefined);
      }
      return paid;
    },
  };
}
