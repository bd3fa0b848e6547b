// The x402 v2 MCP transport's names on the wire (specs/transports-v2/mcp.md) and the
// payment-identifier extension's id rule, shared by the server's guard and the client side.

/** `_meta` key of the PaymentPayload on a paid `tools/call`. */
export const X402_PAYMENT_META = 'x402/payment';
/** `_meta` key (and, on a failure, structuredContent key) of the settlement response. */
export const X402_PAYMENT_RESPONSE_META = 'x402/payment-response';
/** Key of the error wrapper in `content[0].text` (`{"x402/error": {code: 402, message, data}}`). */
export const X402_ERROR_KEY = 'x402/error';
/** Extension key of the payment-identifier (idempotency key) extension. */
export const PAYMENT_IDENTIFIER = 'payment-identifier';

const PAYMENT_ID = /^[A-Za-z0-9_-]{16,128}$/;

/** True for a valid payment-identifier id: 16-128 characters of letters, digits, `_` and `-`. */
export function isValidPaymentId(id: string): boolean {
  return PAYMENT_ID.test(id);
}

/** The extension's schema as the payment-identifier spec publishes it. */
export const PAYMENT_IDENTIFIER_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    required: { type: 'boolean' },
    id: { type: 'string', minLength: 16, maxLength: 128 },
  },
  required: ['required'],
};
