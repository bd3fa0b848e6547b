// Constants of the segment file format shared by the writer (segments.ts) and the reader
// (segmentDecode.ts).

import { endianness } from 'node:os';

/** Rows per Parquet row group: large enough for good compression, small enough to skip by statistics. */
export const ROW_GROUP_ROWS = 128 * 1024;
export const HASH_BYTES = 32;
/** Key-value metadata naming how many row groups a segment has, so each can be read on its own. */
export const ROW_GROUPS_KEY = 'allsource.row_groups';
export const TWO_POW_32 = 4294967296;

// Int64 columns are filled and read as pairs of 32-bit words (no BigInt per value), which assumes
// a little-endian host: every platform Node supports is.
if (endianness() !== 'LE') throw new Error('allsource segments require a little-endian host');
