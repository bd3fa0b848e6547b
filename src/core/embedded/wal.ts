// Write-ahead log framing. A log file is an 8-byte magic followed by frames; a frame is
//   u32le body length | u32le crc32(body) | body (UTF-8 JSON of one committed batch)
// One frame holds one append call, so a torn frame loses only a batch that was never acknowledged.

import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { StoredEvent } from '../types.js';

export const WAL_MAGIC = Buffer.from('ASWAL\u0000\u0000\u0001', 'latin1');
export const FRAME_HEADER_BYTES = 8;
/** A frame larger than this is treated as garbage when scanning (a batch is capped well below it). */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024;

/** The decoded body of one frame: the events one append (or control) call recorded. */
export interface WalBatch {
  events: StoredEvent[];
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
  /** Bytes after `validEnd` that form no valid frame (a torn or corrupt tail). */
  tailBytes: number;
}

/** Raised by `scanWal` when a corrupt frame is followed by valid ones: that is damage, not a torn write. */
export class WalCorruptionError extends Error {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, reason: string) {
    super(`write-ahead log ${file} is corrupt at byte offset ${offset} (${reason}) and valid frames follow it; refusing to open. Restore the file from a backup or move it aside to discard everything after that offset.`);
    this.name = 'WalCorruptionError';
    this.file = file;
    this.offset = offset;
  }
}

function frameAt(buf: Buffer, offset: number): { ok: true; end: number } | { ok: false; reason: string } {
  if (offset + FRAME_HEADER_BYTES > buf.length) return { ok: false, reason: 'truncated frame header' };
  const length = buf.readUInt32LE(offset);
  if (length === 0 || length > MAX_FRAME_BYTES) return { ok: false, reason: `implausible frame length ${length}` };
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > buf.length) return { ok: false, reason: 'truncated frame body' };
  const expected = buf.readUInt32LE(offset + 4);
  if (crc32(buf.subarray(offset + FRAME_HEADER_BYTES, end)) !== expected) return { ok: false, reason: 'checksum mismatch' };
  return { ok: true, end };
}

/**
 * Scans a whole log file image. A bad frame with nothing valid after it is a torn tail (reported
 * via `tailBytes`, for the caller to truncate); a bad frame followed by any valid frame throws
 * WalCorruptionError naming the file and offset, because dropping it would lose acknowledged data.
 */
export function scanWal(buf: Buffer, file: string): WalScan {
  if (buf.length < WAL_MAGIC.length) {
    // A file torn while its magic was being written holds nothing acknowledged.
    return { bodies: [], validEnd: 0, tailBytes: buf.length };
  }
  if (!buf.subarray(0, WAL_MAGIC.length).equals(WAL_MAGIC)) {
    throw new WalCorruptionError(file, 0, 'bad magic: not an allsource write-ahead log');
  }
  const bodies: Buffer[] = [];
  let offset = WAL_MAGIC.length;
  while (offset < buf.length) {
    const frame = frameAt(buf, offset);
    if (!frame.ok) {
      // Is anything valid after this point? Probe every later offset for a checksummed frame.
      for (let probe = offset + 1; probe + FRAME_HEADER_BYTES < buf.length; probe++) {
        if (frameAt(buf, probe).ok) throw new WalCorruptionError(file, offset, frame.reason);
      }
      return { bodies, validEnd: offset, tailBytes: buf.length - offset };
    }
    bodies.push(buf.subarray(offset + FRAME_HEADER_BYTES, frame.end));
    offset = frame.end;
  }
  return { bodies, validEnd: offset, tailBytes: 0 };
}

/** Decodes one frame body. */
export function decodeBatch(body: Buffer): WalBatch {
  return JSON.parse(body.toString('utf8')) as WalBatch;
}

/** Reads every event of a sealed log file (one that is not being appended to), in position order. */
export function readWalEvents(path: string): StoredEvent[] {
  const scan = scanWal(readFileSync(path), path);
  const events: StoredEvent[] = [];
  for (const body of scan.bodies) for (const event of decodeBatch(body).events) events.push(event);
  return events;
}
