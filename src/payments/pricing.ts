// What tool calls cost: the operator's x402 pricing, read from a JSON file (`--pricing FILE`, or
// ALLSOURCE_PRICING_FILE) or inline JSON (ALLSOURCE_PRICING), checked field by field, with every
// price turned into atomic units of the asset once at load time. Tools without a price stay free;
// a per-tenant free allowance of priced calls per UTC day or month comes before any payment.

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InvalidError } from '../core/errors.js';

/** The asset a price is paid in: an ERC-20 token with EIP-3009, and its EIP-712 domain. */
export interface PricedAsset {
  /** The token contract (0x… 20 bytes). */
  address: string;
  /** EIP-712 domain name and version of the token (USDC: "USDC" / "2" on Base Sepolia, "USD Coin" / "2" on Base). */
  name: string;
  version: string;
  /** Decimals of the token: "$0.001" is 0.001 × 10^decimals atomic units (USDC: 6). */
  decimals: number;
}

export interface Pricing {
  /** CAIP-2 network, e.g. eip155:84532 (Base Sepolia) or eip155:8453 (Base). */
  network: `${string}:${string}`;
  asset: PricedAsset;
  /** Who is paid (0x… 20 bytes). */
  payTo: string;
  /** How long a signed authorization may take to arrive (the requirement's maxTimeoutSeconds). */
  maxTimeoutSeconds: number;
  /** The facilitator that verifies and settles: always configured, never a library default. */
  facilitatorUrl: string;
  /** Longest wait for a facilitator answer; a settlement past it is recorded as indeterminate. */
  facilitatorTimeoutMs: number;
  /** Per-tenant calls of priced tools that need no payment, per period (UTC day or month). */
  freeAllowance: { calls: number; period: 'day' | 'month' } | null;
  /** Tool name → price in atomic units of the asset, as a decimal string. */
  tools: ReadonlyMap<string, string>;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
/** "$0.001", "$1", "0.25 USD"-free: dollars with up to 18 decimals. */
const DOLLARS = /^\$(\d{1,12})(?:\.(\d{1,18}))?$/;
const ATOMIC = /^\d{1,30}$/;

const pricingFile = z.strictObject({
  network: z.string().regex(/^eip155:\d{1,12}$/, 'must be a CAIP-2 EVM network, e.g. eip155:84532 (Base Sepolia) or eip155:8453 (Base)'),
  asset: z.strictObject({
    address: z.string().regex(ADDRESS, 'must be a 0x-prefixed 20-byte address'),
    name: z.string().min(1).max(100),
    version: z.string().min(1).max(20),
    decimals: z.number().int().min(0).max(36).default(6),
  }),
  payTo: z.string().regex(ADDRESS, 'must be a 0x-prefixed 20-byte address'),
  maxTimeoutSeconds: z.number().int().min(5).max(3600).default(60),
  facilitatorUrl: z.url({ protocol: /^https?$/ }),
  facilitatorTimeoutMs: z.number().int().min(100).max(600_000).default(15_000),
  freeAllowance: z.strictObject({ calls: z.number().int().min(0).max(1e12), period: z.enum(['day', 'month']) }).nullable().default(null),
  tools: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a tool name'), z.union([z.string(), z.number().int().nonnegative()])),
});

/** A price in atomic units: `"$0.001"` with the asset's decimals, or an atomic amount as given. */
export function atomicPrice(price: string | number, decimals: number, field: string): string {
  const text = String(price).trim();
  if (ATOMIC.test(text)) return BigInt(text).toString();
  const dollars = DOLLARS.exec(text);
  if (dollars === null) throw new InvalidError(field, `${JSON.stringify(text)} is not a price: give atomic units of the asset ("1000") or dollars ("$0.001")`);
  const [, whole, fraction = ''] = dollars;
  if (fraction.length > decimals) throw new InvalidError(field, `${text} has more decimals than the asset's ${decimals}`);
  return (BigInt(whole) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0')).toString();
}

/** Checks a parsed pricing document; errors name the field (`pricing.tools.prime_recall`). */
export function parsePricing(value: unknown): Pricing {
  const parsed = pricingFile.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ['pricing', ...issue.path.map(String)].join('.');
    throw new InvalidError(path, issue.message);
  }
  const p = parsed.data;
  const tools = new Map<string, string>();
  for (const [tool, price] of Object.entries(p.tools)) {
    const atomic = atomicPrice(price, p.asset.decimals, `pricing.tools.${tool}`);
    if (atomic === '0') throw new InvalidError(`pricing.tools.${tool}`, 'a price of 0 is a free tool: leave it out');
    tools.set(tool, atomic);
  }
  return { ...p, network: p.network as `${string}:${string}`, tools };
}

/**
 * Pricing from `file`, else ALLSOURCE_PRICING_FILE, else inline ALLSOURCE_PRICING; null when none
 * is given. With `knownTools`, a price for a tool that does not exist is refused (a misspelt name
 * would otherwise leave the tool free without a word).
 */
export async function loadPricing(file: string | undefined, env: NodeJS.ProcessEnv = process.env, knownTools?: readonly string[]): Promise<Pricing | null> {
  const path = file ?? (env.ALLSOURCE_PRICING_FILE || undefined);
  let text: string;
  let source: string;
  if (path !== undefined) {
    source = path;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new InvalidError('pricing', `cannot read ${path}: ${(err as Error).message}`);
    }
  } else if (env.ALLSOURCE_PRICING) {
    source = 'ALLSOURCE_PRICING';
    text = env.ALLSOURCE_PRICING;
  } else {
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidError('pricing', `${source} is not JSON: ${(err as Error).message}`);
  }
  const pricing = parsePricing(json);
  if (knownTools !== undefined) {
    for (const tool of pricing.tools.keys()) if (!knownTools.includes(tool)) throw new InvalidError(`pricing.tools.${tool}`, 'is not a tool of this server (see `allsource tools`)');
  }
  return pricing;
}

/** Atomic units as a decimal amount of the asset: 1000 with 6 decimals is "0.001". */
export function formatAtomic(atomic: string, decimals: number): string {
  const digits = atomic.padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

/** The pricing as `allsource pricing` prints it (tools sorted by name). */
export function describePricing(p: Pricing): string {
  const lines = [
    `network      ${p.network}`,
    `asset        ${p.asset.name} ${p.asset.address} (EIP-712 version ${p.asset.version}, ${p.asset.decimals} decimals)`,
    `pay to       ${p.payTo}`,
    `facilitator  ${p.facilitatorUrl} (timeout ${p.facilitatorTimeoutMs} ms)`,
    `authorization valid for ${p.maxTimeoutSeconds} s`,
    `free         ${p.freeAllowance === null ? 'nothing' : `${p.freeAllowance.calls} priced calls per tenant per ${p.freeAllowance.period}`}`,
    '',
    'tool                      price (atomic)   price',
  ];
  for (const [tool, atomic] of [...p.tools].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`${tool.padEnd(25)} ${atomic.padStart(14)}   ${formatAtomic(atomic, p.asset.decimals)} ${p.asset.name}`);
  }
  lines.push('', 'every other tool is free');
  return `${lines.join('\n')}\n`;
}

/** The pricing as JSON (`allsource pricing --json`). */
export function pricingJson(p: Pricing): Record<string, unknown> {
  return { ...p, tools: Object.fromEntries([...p.tools].sort(([a], [b]) => a.localeCompare(b))) };
}
