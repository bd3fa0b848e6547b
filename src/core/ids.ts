// Time-ordered event ids (UUIDv7, RFC 9562): sortable by creation time, unique without
// coordination. Ids for a batch are written as ASCII into one buffer and cut from one string,
// which keeps id generation cheap on the append hot path.

import { randomFillSync } from 'node:crypto';

const HEX_BYTES = Buffer.from('0123456789abcdef', 'latin1');
const UUID_CHARS = 36;

/**
 * Makes UUIDv7 strings. Ids made within one millisecond stay ordered through a 38-bit counter
 * (12 bits in rand_a, 26 in the top of rand_b, RFC 9562 method 1) that starts at a random value
 * below 2^24 each millisecond, so it never runs out and an id always embeds the ms it was made for.
 */
export class UuidV7Generator {
  private lastMs = -1;
  private counter = 0;
  // randomFillSync costs microseconds per call, so random bytes are drawn from a pool.
  private pool = Buffer.allocUnsafe(0);
  private poolOffset = 0;

  private randomBytes(n: number): Buffer {
    if (this.poolOffset + n > this.pool.length) {
      this.pool = Buffer.allocUnsafe(Math.max(n, 64 * 1024));
      randomFillSync(this.pool);
      this.poolOffset = 0;
    }
    const bytes = this.pool.subarray(this.poolOffset, this.poolOffset + n);
    this.poolOffset += n;
    return bytes;
  }

  /** One new UUIDv7 id for the instant `ms`. */
  next(ms: number): string {
    return this.batch(ms, 1)[0];
  }

  /** `count` new UUIDv7 ids for the instant `ms`, in increasing order. */
  batch(ms: number, count: number): string[] {
    const random = this.randomBytes(count * 8);
    const text = Buffer.allocUnsafe(count * UUID_CHARS);
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.counter = ((random[0] << 16) | (random[1] << 8) | random[2]) & 0xffffff;
    }
    const ms1 = Math.floor(ms / 0x10000);
    const ms2 = ms & 0xffff;
    for (let i = 0; i < count; i++) {
      const c = ++this.counter;
      const cHigh = Math.floor(c / 0x4000000); // top 12 bits of the 38-bit counter
      const cLow = c % 0x4000000; // low 26 bits
      const o = i * UUID_CHARS;
      const r = i * 8;
      // tttttttt-tttt-7ccc-vccc-cccrrrrrrrrr: 48-bit ms, version 7, counter, variant, 36 random bits.
      writeHex(text, o, ms1, 8);
      text[o + 8] = DASH;
      writeHex(text, o + 9, ms2, 4);
      text[o + 13] = DASH;
      writeHex(text, o + 14, 0x7000 | cHigh, 4);
      text[o + 18] = DASH;
      writeHex(text, o + 19, 0x8000 | (cLow >>> 12), 4); // variant 10 + the counter's next 14 bits
      text[o + 23] = DASH;
      writeHex(text, o + 24, ((cLow & 0xfff) << 12) | (random[r + 3] << 4) | (random[r + 4] & 0xf), 6);
      writeHex(text, o + 30, (random[r + 5] << 16) | (random[r + 6] << 8) | random[r + 7], 6);
    }
    const all = text.toString('latin1');
    const ids = new Array<string>(count);
    for (let i = 0; i < count; i++) ids[i] = all.slice(i * UUID_CHARS, (i + 1) * UUID_CHARS);
    return ids;
  }
}

const DASH = 0x2d;

/** The first 13 characters (`tttttttt-tttt`) of every UUIDv7 made for the instant `ms`. */
export function uuidV7Prefix(ms: number): string {
  const text = Buffer.allocUnsafe(13);
  writeHex(text, 0, Math.floor(ms / 0x10000), 8);
  text[8] = DASH;
  writeHex(text, 9, ms & 0xffff, 4);
  return text.toString('latin1');
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The millisecond a UUIDv7 embeds, or undefined when `id` is not a lowercase UUIDv7. */
export function uuidV7Millis(id: string): number | undefined {
  if (id.length !== UUID_CHARS || !UUID_V7.test(id)) return undefined;
  return Number.parseInt(id.slice(0, 8), 16) * 0x10000 + Number.parseInt(id.slice(9, 13), 16);
}

/** Writes `value` as `digits` lowercase hex characters at `offset` (value < 2^32). */
function writeHex(target: Buffer, offset: number, value: number, digits: number): void {
  for (let d = digits - 1; d >= 0; d--) {
    target[offset + d] = HEX_BYTES[value & 0xf];
    value = Math.floor(value / 16);
  }
}
