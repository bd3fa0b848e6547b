// The stdio transport's two guards around the SDK's StdioServerTransport. In: the line gate,
// through which stdin passes one whole JSON-RPC line at a time. A line over the size limit would
// make the SDK's read buffer throw and close the transport, so the message vanished unanswered and
// the server went with it; here such a line is dropped as it streams (never held past the limit),
// and `onOversize` is told its size and its ends, so the server answers it with a JSON-RPC error
// and keeps serving. A line that is not JSON at all, which the SDK skips in silence, is dropped
// here too, and `onUnparsable` is told, so the client gets JSON-RPC's parse error instead of a
// request that never answers. Out: sends one at a time (see oneSendAtATime).

import { Transform, type TransformCallback } from 'node:stream';
import type { JSONRPCMessage, TransportSendOptions } from '@modelcontextprotocol/server';

/** How much of each end of an oversize line is kept to read its id from (ids come first or last). */
const END_BYTES = 64 * 1024;

export interface OversizeLine {
  /** The line's size in bytes, without its newline. */
  bytes: number;
  /** Its first bytes (at most 64 KiB). */
  head: Buffer;
  /** Its last bytes (at most 64 KiB). */
  tail: Buffer;
}

/** A line that is not JSON: its size and why. */
export interface UnparsableLine {
  bytes: number;
  reason: string;
}

/**
 * Lines up to this size are parsed once here to tell a client that sent something other than
 * JSON (a microsecond for a typical request, tens for the largest; the SDK parses the line
 * again). Longer ones, large payloads and imports, are not parsed twice: they only have their
 * first and last characters checked, which catches a line cut short.
 */
const PARSE_CHECK_BYTES = 64 * 1024;

const isJsonSpace = (byte: number): boolean => byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;

/** Why `line` is not a JSON text, or null when it is (or is too long to parse twice and looks like one). */
export function notJson(line: Buffer): string | null {
  let first = 0;
  while (first < line.length && isJsonSpace(line[first])) first++;
  if (first === line.length) return null;
  const opener = line[first];
  if (opener !== 0x7b && opener !== 0x5b) return `a JSON-RPC message is a JSON object, and this line starts with ${JSON.stringify(line.toString('utf8', first, first + 40).replace(/\r?\n$/, ''))}`;
  if (line.length > PARSE_CHECK_BYTES) {
    let last = line.length - 1;
    while (isJsonSpace(line[last])) last--;
    return line[last] === (opener === 0x7b ? 0x7d : 0x5d) ? null : `not valid JSON (a ${line.length}-byte line that opens with ${opener === 0x7b ? '{' : '['} does not close it: cut short?)`;
  }
  try {
    JSON.parse(line.toString('utf8'));
    return null;
  } catch (err) {
    return `not valid JSON (${(err as Error).message.slice(0, 200)})`;
  }
}

/** Passes whole lines of at most `maxBytes`; reports and drops longer ones, and lines that are not JSON. */
export class LineGate extends Transform {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Set while dropping an oversize line: its size so far and its first bytes. */
  private dropping: OversizeLine | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly onOversize: (line: OversizeLine) => void,
    private readonly onUnparsable?: (line: UnparsableLine) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      this.addPart(chunk.subarray(start, end));
      if (newline === -1) break;
      this.endLine();
      start = newline + 1;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    // A last line without a newline: the SDK never parses one, but an oversize one still gets its answer.
    if (this.dropping !== undefined) this.endLine();
    else if (this.heldBytes > 0) this.push(Buffer.concat(this.held));
    done();
  }

  /** Adds part of the current line: held while it fits, else counted and dropped. */
  private addPart(part: Buffer): void {
    if (part.length === 0) return;
    if (this.dropping !== undefined) {
      this.dropping.bytes += part.length;
      this.dropping.tail = lastBytes(Buffer.concat([this.dropping.tail, part]));
      return;
    }
    if (this.heldBytes + part.length <= this.maxBytes) {
      this.held.push(part);
      this.heldBytes += part.length;
      return;
    }
    const head = Buffer.concat([...this.held, part.subarray(0, Math.max(0, END_BYTES - this.heldBytes))]).subarray(0, END_BYTES);
    const tail = lastBytes(part.length >= END_BYTES ? part : Buffer.concat([...this.held, part]));
    this.dropping = { bytes: this.heldBytes + part.length, head, tail };
    this.held = [];
    this.heldBytes = 0;
  }

  private endLine(): void {
    if (this.dropping !== undefined) {
      const line = this.dropping;
      this.dropping = undefined;
      this.onOversize(line);
      return;
    }
    // One push per line: the SDK's buffer then concatenates once instead of once per 64 KiB chunk.
    this.held.push(NEWLINE);
    const line = Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    const reason = this.onUnparsable === undefined ? null : notJson(line);
    if (reason === null) this.push(line);
    else this.onUnparsable!({ bytes: line.length - 1, reason });
  }
}

const NEWLINE = Buffer.from('\n');

const lastBytes = (buffer: Buffer): Buffer => (buffer.length <= END_BYTES ? buffer : Buffer.from(buffer.subarray(buffer.length - END_BYTES)));

/**
 * The request id of an oversize JSON-RPC line, read from its ends only: the first top-level `id`
 * member (see leadingId), else a last member `"id": <string or number>` right before the final
 * `}` (the SDK's clients write id last). Null when neither end says.
 */
export function requestId(line: OversizeLine): string | number | null {
  const leading = leadingId(line.head);
  if (leading !== null) return leading;
  const last = /[{,]\s*"id"\s*:\s*("(?:[^"\\]|\\.){0,1000}"|-?\d{1,16})\s*}\s*$/.exec(line.tail.toString('utf8').replace(/\r$/, ''));
  if (last === null) return null;
  try {
    return JSON.parse(last[1]) as string | number;
  } catch {
    return null;
  }
}

/**
 * The top-level `id` of a JSON-RPC message from its first bytes, if it is there: a string or a
 * number member `"id"` of the outermost object, found by a scan that skips strings and nested
 * values (an `"id"` inside params is not the request's). Null when it cannot be read cheaply.
 */
export function leadingId(head: Buffer): string | number | null {
  const text = head.toString('utf8');
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(text, i);
      if (end === -1) return null;
      if (depth === 1 && text.slice(i, end + 1) === '"id"') {
        const value = /^\s*:\s*("(?:[^"\\]|\\.){0,1000}"|-?\d{1,16}(?![\d.eE]))/.exec(text.slice(end + 1, end + 1100));
        if (value !== null) {
          try {
            return JSON.parse(value[1]) as string | number;
          } catch {
            return null;
          }
        }
      }
      i = end + 1;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return null;
}

/** The index of the quote closing the string that opens at `open`, or -1 if it runs past the text. */
function stringEnd(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}

/**
 * Makes `transport.send` wait for the previous send. The SDK's send adds an `error` listener to
 * stdout and, when the pipe is full, a `drain` listener, until its frame is written: with more
 * than ten answers waiting on a slow reader, stdout collected eleven of each and Node printed a
 * MaxListenersExceededWarning to stderr. Queued, at most one send waits on stdout; frames keep
 * their order, and a client that stops reading still holds the server back (no unbounded buffer).
 */
export function oneSendAtATime<T extends { send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> }>(transport: T): T {
  const send = transport.send.bind(transport) as (message: JSONRPCMessage, options?: TransportSendOptions) => Promise<void>;
  let last: Promise<void> = Promise.resolve();
  transport.send = (message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> => {
    const sent = last.then(() => send(message, options));
    last = sent.catch(() => undefined);
    return sent;
  };
  return transport;
}
