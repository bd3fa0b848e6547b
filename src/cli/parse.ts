// Parsers for option values. They throw commander's InvalidArgumentError, so a bad value is a
// usage error (exit 2) reported by commander with the option's name, before any store is opened.

import { InvalidArgumentError } from 'commander';
import type { JsonValue } from '../core/types.js';

/** Returns a parser accepting an integer from `min` to `max`. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/**
 * Collects repeated `--where path=value` options into a `payload_equals` object. The value is
 * JSON when it parses as JSON (`n=1`, `flag=true`, `tags=["a"]`), else the literal string
 * (`plan=pro`); quote it as JSON to force a string (`--where 'code="007"'`).
 */
export function collectWhere(value: string, previous: Record<string, JsonValue> = {}): Record<string, JsonValue> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('must be path=value, e.g. user.plan=pro');
  const path = value.slice(0, eq).trim();
  const text = value.slice(eq + 1);
  if (Object.prototype.hasOwnProperty.call(previous, path)) {
    throw new InvalidArgumentError(`path ${JSON.stringify(path)} is given twice; one event field cannot equal two values`);
  }
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(text) as JsonValue;
  } catch {
    parsed = text;
  }
  // Object.defineProperty keeps a path named "__proto__" an ordinary key.
  const next = { ...previous };
  Object.defineProperty(next, path, { value: parsed, enumerable: true, writable: true, configurable: true });
  return next;
}

/** Parses `a,b,c` into its non-empty, trimmed parts. */
export function commaList(value: string): string[] {
  return value.split(',').map((part) => part.trim()).filter((part) => part.length > 0);
}

/** Collects a repeatable option's values, in the order given. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
