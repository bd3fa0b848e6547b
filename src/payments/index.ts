// `allsource/x402`: paid tool calls with x402 v2 over MCP, as a library. The client side (a
// signer, and a wrapper that makes an MCP client pay within budgets) and the server side (pricing,
// the payment guard, receipts). A subpath of its own, so the main entry does not load viem.

export { createPaymentSigner, findPaymentRequired, generatePaymentId, paymentRequiredFrom, selectRequirement, withX402Payments, X402ClientError } from './client.js';
export type { PaymentEvent, PaymentSigner, PaymentSignerOptions, RequirementSelector, SignOptions, ToolCallingClient, ToolCallParams, X402PaymentClient, X402PaymentOptions } from './client.js';
export type { PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse } from '@x402/core/types';
export { createPaymentGuard, type PaymentGuard, type PaymentGuardOptions } from './guard.js';
export { listReceipts, type Receipt } from './ledger.js';
export { describePricing, loadPricing, parsePricing, type Pricing } from './pricing.js';
export { isValidPaymentId, PAYMENT_IDENTIFIER, X402_ERROR_KEY, X402_PAYMENT_META, X402_PAYMENT_RESPONSE_META } from './wire.js';
