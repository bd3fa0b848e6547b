// Write-ahead log framing. A log file is an 8-byte magic followed by frames; a frame is
//   u32le body length | u32le crc32(body) | body (UTF-8 records of one committed batch)
// A record is an event's canonical form (see hash.ts) plus a line with its hash; records are
// joined by newlines. One frame holds one append call, so a torn frame loses only a batch that
// was never acknowledged. A frame that was fully written and still fails its checksum is another
// matter (see WalTail): only a person, through `allsource repair`, may cut it off.

import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { UnavailableError } from '../errors.js';
import { deepFreeze } from '../fold.js';
import { canonicalEvent, CANONICAL_LINES } from '../hash.js';
import type { JsonObject, StoredEvent } from '../types.js';

export const WAL_MAGIC = Buffer.from('ASWAL\u0000\u0000\u0001', 'latin1');
export const FRAME_HEADER_BYTES = 8;
/** A frame larger than this is treated as garbage when scanning (a batch is capped well below it). */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024;

/** Lines of one event's record: its canonical form, then its hash. */
const RECORD_LINES = CANONICAL_LINES + 1;

/** Room the record frames are written into before being copied out at their exact size. */
let scratch = Buffer.allocUnsafe(1 << 20);

/**
 * The frame of a batch given as record parts: canonical forms and hashes, alternating. Each
 * part is written straight into one buffer: joining a thousand records into one string first
 * costs a large-object allocation and a second pass, about twice the time of the whole write.
 */
export function encodeRecordFrame(parts: readonly string[]): Buffer {
  let chars = 0;
  for (const part of parts) chars += part.length + 1;
  // Three UTF-8 bytes per UTF-16 unit at most.
  const worst = FRAME_HEADER_BYTES + chars * 3;
  if (scratch.length < worst) scratch = Buffer.allocUnsafe(worst);
  let at = FRAME_HEADER_BYTES;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) scratch[at++] = 0x0a;
    at += scratch.write(parts[i], at, 'utf8');
  }
  const frame = Buffer.allocUnsafe(at);
  scratch.copy(frame, 0, 0, at);
  // A batch of huge payloads should not pin a huge scratch buffer for the life of the process.
  if (scratch.length > 16 << 20) scratch = Buffer.allocUnsafe(1 << 20);
  return sealFrame(frame);
}

/** Fills in the header of a frame whose body is written after FRAME_HEADER_BYTES. */
function sealFrame(frame: Buffer): Buffer {
  frame.writeUInt32LE(frame.length - FRAME_HEADER_BYTES, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
  return frame;
}

/** Encodes one batch body into a frame (header + body). */
export function encodeFrame(body: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32LE(body.length, 0);
  frame.writeUInt32LE(crc32(body), 4);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export interface WalScan {
  /** Frame bodies in file order, all with valid checksums. */
  bodies: Buffer[];
  /** Byte offset just past the last valid frame: where the next append goes. */
  validEnd: number;
  /** Bytes after `validEnd` that form no valid frame (a torn or corrupt tail). Preallocated zeros are not counted. */
  tailBytes: number;
  /** What the bad bytes after `validEnd` are, when there are any (see `WalTail`). */
  tail: WalTail | null;
}

/**
 * A bad last frame. `torn`: a write that never finished — the file ends inside the frame, or the
 * frame's end is still the zero fill the active log is preallocated with, from a sector boundary
 * on (a process killed in the middle of a write, or power lost before it was durable, leaves
 * exactly that). Such a frame was never acknowledged, so a writable open may cut it off.
 * `corrupt`: every byte of the frame is there and it still fails its checksum (or its header is
 * garbage). That is damage to written data, which may have been acknowledged: nothing may cut it
 * off without the person deciding (`allsource repair`).
 */
export interface WalTail {
  kind: 'torn' | 'corrupt';
  offset: number;
  reason: string;
}

/** Torn writes stop at sector boundaries: the page cache copies whole pages, disks persist whole sectors. */
const SECTOR_BYTES = 512;

/** True when every byte from `offset` to the end is zero: space the writer preallocated, not a torn write. */
function zeroFrom(buf: Buffer, offset: number): boolean {
  const zeros = Buffer.alloc(Math.min(1 << 16, Math.max(buf.length - offset, 0)));
  for (let at = offset; at < buf.length; at += zeros.length) {
    const end = Math.min(at + zeros.length, buf.length);
    if (buf.compare(zeros, 0, end - at, at, end) !== 0) return false;
  }
  return true;
}

/** Where the run of zero bytes that ends the buffer starts (buf.length when its last byte is not zero). */
function zeroSuffixStart(buf: Buffer): number {
  let at = buf.length;
  while (at > 0 && buf[at - 1] === 0) at--;
  return at;
}

/** A shell word for `text`, quoted only when it needs to be. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The command that cuts `file` (a log under `<data dir>/wal/`) at `offset`, keeping what precedes it. */
export function repairCommand(file: string, offset: number): string {
  return `allsource repair --data ${shellWord(dirname(dirname(file)))} --file ${shellWord(basename(file))} --truncate-at ${offset}`;
}

/**
 * Raised when a log holds damage that no open may cut off on its own: a corrupt frame followed
 * by valid ones, a complete last frame that fails its checksum, or a bad frame in a sealed log.
 * `unavailable`, because the store cannot be served until a person decides; the message names
 * the exact repair command, which keeps every event before the offset.
 */
export class WalCorruptionError extends UnavailableError {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, reason: string, eventsBefore?: number) {
    const kept = eventsBefore === undefined ? 'the events before that offset' : `the ${eventsBefore} event${eventsBefore === 1 ? '' : 's'} before that offset`;
    // Damage inside the file's magic leaves no frame to keep: a cut cannot help there.
    const advice =
      offset < WAL_MAGIC.length
        ? 'No event in it can be read: restore the file from a backup.'
        : `\`${repairCommand(file, offset)}\` keeps ${kept} and discards the rest of the file, after copying it to a backup next to it ` +
          `(add --dry-run to see what would be kept and lost); or restore the file from a backup. Do not move the file aside: that discards every event in it.`;
    super(`write-ahead log ${file} is corrupt at byte offset ${offset} (${reason}); refusing to open. ${advice}`, { details: { file, offset, reason } });
    this.name = 'WalCorruptionError';
    this.file = file;
    this.offset = offset;
  }
}

type FrameCheck = { ok: true; end: number } | { ok: false; reason: string; end: number | null };

function frameAt(buf: Buffer, offset: number): FrameCheck {
  if (offset + FRAME_HEADER_BYTES > buf.length) return { ok: false, reason: 'truncated frame header', end: null };
  const length = buf.readUInt32LE(offset);
  if (length === 0 || length > MAX_FRAME_BYTES) return { ok: false, reason: `implausible frame length ${length}`, end: null };
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > buf.length) return { ok: false, reason: `truncated frame body (the header says ${length} bytes, the file holds ${buf.length - offset - FRAME_HEADER_BYTES})`, end };
  const expected = buf.readUInt32LE(offset + 4);
  if (crc32(buf.subarray(offset + FRAME_HEADER_BYTES, end)) !== expected) return { ok: false, reason: 'checksum mismatch', end };
  return { ok: true, end };
}

/** Classifies a bad frame at `offset` that no valid frame follows (see `WalTail`). */
function classifyTail(buf: Buffer, offset: number, frame: { reason: string; end: number | null }): WalTail {
  // The file ends inside the header or the body: the write was cut short.
  if (frame.end === null ? offset + FRAME_HEADER_BYTES > buf.length : frame.end > buf.length) return { kind: 'torn', offset, reason: frame.reason };
  if (frame.end !== null) {
    // Zeros from a sector boundary inside the frame to the end of the file: the rest of the
    // frame was never written over the preallocated space. Anything else was fully written.
    const zeros = zeroSuffixStart(buf);
    const boundary = Math.ceil(zeros / SECTOR_BYTES) * SECTOR_BYTES;
    if (zeros > offset && boundary < frame.end) return { kind: 'torn', offset, reason: `${frame.reason}; the frame ends in unwritten zeros` };
    if (zeros <= frame.end) return { kind: 'corrupt', offset, reason: `${frame.reason} in a complete last frame` };
  }
  return { kind: 'corrupt', offset, reason: `${frame.reason}, followed by bytes that form no frame` };
}

/** Events in frame bodies, counted by lines (each record has RECORD_LINES of them). */
export function countRecords(bodies: readonly Buffer[]): number {
  let lines = 0;
  for (const body of bodies) {
    lines += 1;
    for (let at = body.indexOf(0x0a); at !== -1; at = body.indexOf(0x0a, at + 1)) lines++;
  }
  return Math.floor(lines / RECORD_LINES);
}

/**
 * Scans a whole log file image. A bad frame with nothing valid after it is a bad tail, reported
 * via `tail` for the caller to judge (torn or corrupt); a bad frame followed by any valid frame
 * throws WalCorruptionError naming the file and offset, because dropping it would lose
 * acknowledged data.
 */
export function scanWal(buf: Buffer, file: string): WalScan {
  if (buf.length < WAL_MAGIC.length) {
    // A file torn while its magic was being written holds nothing acknowledged.
    return { bodies: [], validEnd: 0, tailBytes: buf.length, tail: buf.length > 0 ? { kind: 'torn', offset: 0, reason: 'truncated file header' } : null };
  }
  if (!buf.subarray(0, WAL_MAGIC.length).equals(WAL_MAGIC)) {
    throw new WalCorruptionError(file, 0, 'bad magic: not an allsource write-ahead log', 0);
  }
  const bodies: Buffer[] = [];
  let offset = WAL_MAGIC.length;
  while (offset < buf.length) {
    const frame = frameAt(buf, offset);
    if (!frame.ok) {
      if (zeroFrom(buf, offset)) return { bodies, validEnd: offset, tailBytes: 0, tail: null };
      // Is anything valid after this point? Probe every later offset for a checksummed frame.
      if (nextValidFrame(buf, offset + 1) !== -1) throw new WalCorruptionError(file, offset, `${frame.reason}, and valid frames follow it`, countRecords(bodies));
      return { bodies, validEnd: offset, tailBytes: buf.length - offset, tail: classifyTail(buf, offset, frame) };
    }
    bodies.push(buf.subarray(offset + FRAME_HEADER_BYTES, frame.end));
    offset = frame.end;
  }
  return { bodies, validEnd: offset, tailBytes: 0, tail: null };
}

/** The offset of the first frame at or after `from` whose checksum holds, or -1. */
export function nextValidFrame(buf: Buffer, from: number): number {
  for (let probe = from; probe + FRAME_HEADER_BYTES < buf.length; probe++) {
    if (frameAt(buf, probe).ok) return probe;
  }
  return -1;
}

/** The frame at `offset` if its checksum holds: its body and where it ends. */
export function validFrameAt(buf: Buffer, offset: number): { body: Buffer; end: number } | null {
  const frame = frameAt(buf, offset);
  return frame.ok ? { body: buf.subarray(offset + FRAME_HEADER_BYTES, frame.end), end: frame.end } : null;
}

/** The log record of an event whose canonical form is already built: that form, then its hash. */
export function recordText(canonical: string, hash: string): string {
  return canonical + '\n' + hash;
}

/** The log record of one event. */
export function eventRecord(event: StoredEvent, payloadJson: string, metadataJson: string): string {
  return recordText(canonicalEvent(event, payloadJson, metadataJson), event.hash);
}

/** Calls `visit` with the lines of a frame body and the index where each record starts. */
function forEachRecord(body: Buffer, visit: (lines: string[], at: number) => void): void {
  const lines = body.toString('utf8').split('\n');
  if (lines.length % RECORD_LINES !== 0) throw new Error(`log frame holds ${lines.length} lines, not a multiple of ${RECORD_LINES}`);
  for (let at = 0; at < lines.length; at += RECORD_LINES) visit(lines, at);
}

/** Encodes a batch of events as one frame body (used by tests and tools; appends build records inline). */
export function encodeBatch(events: readonly StoredEvent[]): Buffer {
  return Buffer.from(events.map((e) => eventRecord(e, JSON.stringify(e.payload), JSON.stringify(e.metadata))).join('\n'), 'utf8');
}

/** Decodes one frame body into frozen events (occurred_at shares the timestamp string when equal). */
export function decodeBatch(body: Buffer, into: StoredEvent[] = []): StoredEvent[] {
  forEachRecord(body, (lines, i) => {
    const timestamp = lines[i + 4];
    const occurred = lines[i + 5];
    const metadata = lines[i + 8];
    into.push(
      Object.freeze({
        id: lines[i],
        tenant_id: lines[i + 1],
        entity_id: lines[i + 2],
        event_type: lines[i + 3],
        payload: deepFreeze(JSON.parse(lines[i + 9]) as JsonObject),
        metadata: metadata === 'null' ? null : deepFreeze(JSON.parse(metadata) as JsonObject),
        timestamp,
        occurred_at: occurred === timestamp ? timestamp : occurred,
        version: Number(lines[i + 6]),
        position: Number(lines[i + 7]),
        hash: lines[i + 10],
      }),
    );
  });
  return into;
}

/**
 * An event as its log record holds it: payload and metadata still as JSON text. Rolling a log
 * into a segment stores that text as is, so it never needs to parse and re-serialize payloads.
 */
export interface RawRecord {
  id: string;
  tenant_id: string;
  entity_id: string;
  event_type: string;
  payloadJson: string;
  metadataJson: string | null;
  timestamp: string;
  occurred_at: string;
  version: number;
  position: number;
  hash: string;
}

/** Reads every record of a sealed log file without parsing payloads, in position order. */
export function readWalRecords(path: string): RawRecord[] {
  const scan = scanWal(readFileSync(path), path);
  const records: RawRecord[] = [];
  for (const body of scan.bodies) {
    forEachRecord(body, (lines, i) => {
      records.push({
        id: lines[i],
        tenant_id: lines[i + 1],
        entity_id: lines[i + 2],
        event_type: lines[i + 3],
        payloadJson: lines[i + 9],
        metadataJson: lines[i + 8] === 'null' ? null : lines[i + 8],
        timestamp: lines[i + 4],
        occurred_at: lines[i + 5],
        version: Number(lines[i + 6]),
        position: Number(lines[i + 7]),
        hash: lines[i + 10],
      });
    });
  }
  return records;
}

/** Reads every event of a sealed log file (one that is not being appended to), in position order. */
export function readWalEvents(path: string): StoredEvent[] {
  const scan = scanWal(readFileSync(path), path);
  const events: StoredEvent[] = [];
  for (const body of scan.bodies) decodeBatch(body, events);
  return events;
}
