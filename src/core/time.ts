// ISO-8601 instants: strict parsing of what clients send, and the one normalized form the store
// writes (UTC, millisecond precision, fixed width), which also sorts correctly as a string.

import { InvalidError } from './errors.js';

// Date, or date-time with optional seconds, fraction and zone. Date.parse alone accepts too much
// ("March 7", "2020"), so the shape is checked first.
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?)?$/;

/** Earliest and latest instants the store accepts: years 0001–9999 keep the ISO form fixed-width. */
const MIN_MS = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * Parses an ISO-8601 instant into ms since the epoch (fraction truncated to ms). A date-time with
 * no zone is taken as UTC. Throws InvalidError naming `field` when it is not a valid instant.
 */
export function parseInstant(value: unknown, field: string): number {
  if (typeof value !== 'string') throw new InvalidError(field, `must be an ISO-8601 timestamp string, got ${typeof value}`);
  const match = ISO_INSTANT.exec(value);
  if (!match) throw new InvalidError(field, `must be an ISO-8601 timestamp such as 2024-05-01T12:00:00Z, got ${JSON.stringify(value.slice(0, 64))}`);
  let text = value.replace(' ', 'T');
  if (match[4] !== undefined && match[7] === undefined) text += 'Z';
  // Truncate fractions beyond milliseconds so Date.parse accepts them.
  text = text.replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InvalidError(field, `is not a real instant: ${JSON.stringify(value.slice(0, 64))}`);
  // Reject calendar overflow such as 2024-02-31, which Date.parse silently rolls over.
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new InvalidError(field, `is not a real calendar date: ${JSON.stringify(value.slice(0, 64))}`);
  }
  if (ms < MIN_MS || ms > MAX_MS) throw new InvalidError(field, 'must be between years 0001 and 9999');
  return ms;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

let lastFormattedMs = Number.NaN;
let lastFormatted = '';

/** The store's normalized form: `YYYY-MM-DDTHH:mm:ss.sssZ`. Repeats of the same instant are common, so the last one is cached. */
export function formatInstant(ms: number): string {
  if (ms !== lastFormattedMs) {
    lastFormatted = new Date(ms).toISOString();
    lastFormattedMs = ms;
  }
  return lastFormatted;
}

/** Parses and re-formats an instant in one step. */
export function normalizeInstant(value: unknown, field: string): string {
  return formatInstant(parseInstant(value, field));
}
