// An int8 copy of a vector space's rows and a WebAssembly SIMD kernel that scores a query against
// all of them: the prefilter of the exact scan (vectorStore.ts). A scan of 100k × 256 float32 rows
// in plain JavaScript takes ~25–45 ms; the same rows as int8, 16 lanes at a time, take ~1.5–4 ms.
// The int8 scores are approximate, but every row also records how far its int8 form may be from
// the float one, so the caller can bound each true score and re-rank exactly only the rows whose
// bound reaches the top k: the answer is still the exact top k.
//
// The kernel, hand-assembled below (no toolchain needed; WebAssembly.validate checks the bytes):
//
//   (module
//     (import "env" "memory" (memory 1))
//     (func (export "scan") (param $query i32) (param $rows i32) (param $count i32) (param $stride i32) (param $out i32)
//       (local $r i32) (local $j i32) (local $p i32) (local $acc v128)
//       (local.set $p (local.get $rows))
//       (block $done
//         (loop $row
//           (br_if $done (i32.ge_u (local.get $r) (local.get $count)))
//           (local.set $acc (v128.const i32x4 0 0 0 0))
//           (local.set $j (i32.const 0))
//           (loop $col                              ;; 16 dims a turn: two 8-lane halves
//             (local.set $acc (i32x4.add (local.get $acc) (i32x4.dot_i16x8_s
//               (v128.load8x8_s (i32.add (local.get $p) (local.get $j)))
//               (v128.load (i32.add (local.get $query) (i32.shl (local.get $j) (i32.const 1)))))))
//             (local.set $acc (i32x4.add (local.get $acc) (i32x4.dot_i16x8_s
//               (v128.load8x8_s offset=8 (i32.add (local.get $p) (local.get $j)))
//               (v128.load offset=16 (i32.add (local.get $query) (i32.shl (local.get $j) (i32.const 1)))))))
//             (br_if $col (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 16))) (local.get $stride))))
//           (i32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2)))
//             (i32.add (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
//                      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
//           (local.set $p (i32.add (local.get $p) (local.get $stride)))
//           (local.set $r (i32.add (local.get $r) (i32.const 1)))
//           (br $row))))
//     ;; Per row, the int8 estimate ± its bound, 4 rows a turn, in float32: the caller's pass over
//     ;; 100k rows then reads two floats a row instead of doing the float64 arithmetic in JavaScript.
//     (func (export "bounds") (param $dots i32) (param $scale i32) (param $error i32) (param $length i32) (param $bytes i32)
//           (param $qs f32) (param $ql f32) (param $pl f32) (param $high i32) (param $low i32)
//       (local $i i32) (local $est v128) (local $b v128)
//       (loop $rows
//         (local.set $est (f32x4.mul (f32x4.mul (f32x4.convert_i32x4_s (v128.load (i32.add (local.get $dots) (local.get $i))))
//                                              (v128.load (i32.add (local.get $scale) (local.get $i)))) (f32x4.splat (local.get $qs))))
//         (local.set $b (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $error) (local.get $i))) (f32x4.splat (local.get $ql)))
//                                  (f32x4.mul (v128.load (i32.add (local.get $length) (local.get $i))) (f32x4.splat (local.get $pl)))))
//         (v128.store (i32.add (local.get $high) (local.get $i)) (f32x4.add (local.get $est) (local.get $b)))
//         (v128.store (i32.add (local.get $low) (local.get $i)) (f32x4.sub (local.get $est) (local.get $b)))
//         (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $bytes))))))
//
// Rows are int8 (±127, one scale per row), the query int16 (its range chosen so that no sum of
// products can overflow 32 bits), both padded with zeros to a multiple of 16 dimensions.

/** The little of the WebAssembly API used here (the compiler's lib has no WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
type WasmModule = object;
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** The module, compiled once per process; null where WebAssembly SIMD is not available. */
let kernel: WasmModule | null | undefined;

type ScanFunction = (query: number, rows: number, count: number, stride: number, out: number) => void;
type BoundsFunction = (dots: number, scale: number, error: number, length: number, bytes: number, qs: number, ql: number, pl: number, high: number, low: number) => void;

const PAGE = 65536;

function kernelModule(): WasmModule | null {
  if (kernel !== undefined) return kernel;
  try {
    const bytes = assemble();
    kernel = wasm !== undefined && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  } catch {
    kernel = null;
  }
  return kernel;
}

/** Whether this runtime can run the int8 kernel (WebAssembly with 128-bit SIMD). */
export function int8ScanAvailable(): boolean {
  return kernelModule() !== null;
}

/** The integer dot products of one query with every row, and what is needed to bound true scores. */
export interface Int8Scores {
  /** dots[s]: the int8 row s against the int16 query (valid until the next scores() call). */
  dots: Int32Array;
  /** Multiply dots[s] by queryScale × rowScale[s] for the approximate score. */
  queryScale: number;
  /** ‖quantized query‖ (in query units): multiplies a row's error. */
  queryLength: number;
  /** ‖query − quantized query‖: multiplies a row's length. */
  queryError: number;
  /**
   * Per row, float32 bounds of its true score: high[s] ≥ score ≥ low[s], when the caller's slack
   * (relative, per unit of ‖query‖ × ‖row‖) covers float32 rounding (1e-5 does, by far).
   */
  high: Float32Array;
  low: Float32Array;
}

/**
 * Int8 rows in WebAssembly memory, one per slot of a vector store, with per-row scale, error
 * (‖row − scale × int8 row‖) and length. Memory layout: the rows from offset 0 (so they grow in
 * place), then the query and the output scratch, which move whenever the rows grow.
 */
export class Int8Rows {
  readonly dims: number;
  /** Dimensions padded to a multiple of 16 (the kernel's step). */
  readonly stride: number;
  /** Largest |quantized query component|: keeps stride × 127 × it within int32. */
  private readonly queryRange: number;
  private memory: WasmMemory;
  private scan: ScanFunction;
  private bounds: BoundsFunction;
  private capacity = 0;
  // Offsets in the memory: float32 copies of the row figures (what the bounds kernel reads), the
  // query, the integer dots, and the bounds.
  private scale32Offset = 0;
  private error32Offset = 0;
  private length32Offset = 0;
  private queryOffset = 0;
  private outOffset = 0;
  private highOffset = 0;
  private lowOffset = 0;
  private scale32 = new Float32Array(0);
  private error32 = new Float32Array(0);
  private length32 = new Float32Array(0);
  rows: Int8Array = new Int8Array(0);
  scale: Float64Array = new Float64Array(0);
  error: Float64Array = new Float64Array(0);
  length: Float64Array = new Float64Array(0);

  private constructor(dims: number, module: WasmModule, capacity: number) {
    this.dims = dims;
    this.stride = Math.ceil(dims / 16) * 16;
    this.queryRange = Math.min(32767, Math.floor(0x7fffffff / (127 * this.stride)));
    const api = wasm as WasmApi;
    this.memory = new api.Memory({ initial: 1 });
    const instance = new api.Instance(module, { env: { memory: this.memory } });
    this.scan = instance.exports.scan as ScanFunction;
    this.bounds = instance.exports.bounds as BoundsFunction;
    this.ensure(capacity);
  }

  /** Int8 rows for `dims`-dimensional vectors, or null without WebAssembly SIMD. */
  static create(dims: number, capacity = 16): Int8Rows | null {
    const module = kernelModule();
    return module === null ? null : new Int8Rows(dims, module, capacity);
  }

  /** Room for `capacity` rows (existing rows kept). Throws a RangeError past WebAssembly's 4 GiB. */
  ensure(capacity: number): void {
    if (capacity <= this.capacity) return;
    // A multiple of 4: the bounds kernel takes 4 rows a turn.
    const next = Math.ceil(Math.max(capacity, this.capacity * 1.5, 16) / 4) * 4;
    // The float32 figures move with the layout: kept aside while the memory grows.
    const figures = [this.scale32.slice(), this.error32.slice(), this.length32.slice()];
    const column = align(next * 4);
    this.scale32Offset = align(next * this.stride);
    this.error32Offset = this.scale32Offset + column;
    this.length32Offset = this.error32Offset + column;
    this.queryOffset = this.length32Offset + column;
    this.outOffset = this.queryOffset + align(this.stride * 2);
    this.highOffset = this.outOffset + column;
    this.lowOffset = this.highOffset + column;
    const pages = Math.ceil((this.lowOffset + column) / PAGE);
    const current = this.memory.buffer.byteLength / PAGE;
    if (pages > current) this.memory.grow(pages - current);
    this.capacity = next;
    const buffer = this.memory.buffer;
    this.scale32 = new Float32Array(buffer, this.scale32Offset, next);
    this.error32 = new Float32Array(buffer, this.error32Offset, next);
    this.length32 = new Float32Array(buffer, this.length32Offset, next);
    this.scale32.set(figures[0]);
    this.error32.set(figures[1]);
    this.length32.set(figures[2]);
    this.rows = new Int8Array(buffer, 0, next * this.stride);
    this.scale = grow(this.scale, next);
    this.error = grow(this.error, next);
    this.length = grow(this.length, next);
  }

  /** Quantizes `vector` into row `slot` (which must be below the capacity). */
  set(slot: number, vector: Float32Array, at = 0): void {
    const dims = this.dims;
    let max = 0;
    for (let j = 0; j < dims; j++) {
      const v = vector[at + j];
      if (v > max) max = v;
      else if (-v > max) max = -v;
    }
    const scale = max / 127;
    const inverse = max > 0 ? 127 / max : 0;
    const rows = this.rows;
    const base = slot * this.stride;
    let error = 0;
    let length = 0;
    for (let j = 0; j < dims; j++) {
      const v = vector[at + j];
      const x = v * inverse;
      // Round half away from zero; any rounding would do, the error is measured, not assumed.
      const q = (x + (x < 0 ? -0.5 : 0.5)) | 0;
      rows[base + j] = q;
      const r = v - q * scale;
      error += r * r;
      length += v * v;
    }
    this.setFigures(slot, scale, Math.sqrt(error), Math.sqrt(length));
  }

  private setFigures(slot: number, scale: number, error: number, length: number): void {
    this.scale[slot] = scale;
    this.error[slot] = error;
    this.length[slot] = length;
    this.scale32[slot] = scale;
    this.error32[slot] = error;
    this.length32[slot] = length;
  }

  /**
   * Scores `query` against rows 0..count-1 (rows of free slots score garbage; skip them). `slack`
   * widens every bound by slack × ‖query‖ × ‖row‖, to cover the rounding of the float sums.
   */
  scores(query: Float32Array, count: number, slack = 1e-5): Int8Scores {
    const dims = this.dims;
    let max = 0;
    for (let j = 0; j < dims; j++) {
      const v = query[j];
      if (v > max) max = v;
      else if (-v > max) max = -v;
    }
    const queryScale = max / this.queryRange;
    const inverse = max > 0 ? this.queryRange / max : 0;
    const q16 = new Int16Array(this.memory.buffer, this.queryOffset, this.stride);
    let length = 0;
    let error = 0;
    for (let j = 0; j < dims; j++) {
      const x = query[j] * inverse;
      const q = (x + (x < 0 ? -0.5 : 0.5)) | 0;
      q16[j] = q;
      length += q * q;
      const r = query[j] - q * queryScale;
      error += r * r;
    }
    this.scan(this.queryOffset, 0, count, this.stride, this.outOffset);
    const queryLength = Math.sqrt(length) * queryScale;
    const queryError = Math.sqrt(error);
    let norm = 0;
    for (let j = 0; j < dims; j++) norm += query[j] * query[j];
    const bytes = Math.ceil(count / 4) * 16;
    if (bytes > 0) this.bounds(this.outOffset, this.scale32Offset, this.error32Offset, this.length32Offset, bytes, queryScale, queryLength, queryError + slack * Math.sqrt(norm), this.highOffset, this.lowOffset);
    const buffer = this.memory.buffer;
    return {
      dots: new Int32Array(buffer, this.outOffset, count),
      queryScale,
      queryLength,
      queryError,
      high: new Float32Array(buffer, this.highOffset, count),
      low: new Float32Array(buffer, this.lowOffset, count),
    };
  }

  /** Views of the first `count` rows and their figures (for a snapshot: valid until this object changes). */
  views(count: number): { rows: Int8Array; scale: Float64Array; error: Float64Array; length: Float64Array } {
    return {
      rows: this.rows.subarray(0, count * this.stride),
      scale: this.scale.subarray(0, count),
      error: this.error.subarray(0, count),
      length: this.length.subarray(0, count),
    };
  }

  /** Rows 0..count-1 of a snapshot's copy, into this one (which must have room for them). */
  load(rows: Int8Array, scale: Float64Array, error: Float64Array, length: Float64Array, count: number): void {
    this.rows.set(rows.subarray(0, count * this.stride));
    for (let slot = 0; slot < count; slot++) this.setFigures(slot, scale[slot], error[slot], length[slot]);
  }

  /** A copy in fresh memory, with the same capacity. */
  clone(): Int8Rows {
    const copy = Int8Rows.create(this.dims, this.capacity) as Int8Rows;
    copy.load(this.rows, this.scale, this.error, this.length, this.capacity);
    return copy;
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

function grow(array: Float64Array, capacity: number): Float64Array {
  const next = new Float64Array(capacity);
  next.set(array.subarray(0, Math.min(array.length, capacity)));
  return next;
}

// ── The assembler: just enough of the binary format for the one function above ─────────────────

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  while (true) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (text: string): number[] => vector([...text].map((c) => [c.charCodeAt(0)]));
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const localGet = (i: number): number[] => [0x20, ...uleb(i)];
const localSet = (i: number): number[] => [0x21, ...uleb(i)];
const localTee = (i: number): number[] => [0x22, ...uleb(i)];
const i32Const = (n: number): number[] => [0x41, ...sleb(n)];
const I32_ADD = [0x6a];
const I32_SHL = [0x74];
const I32_LT_U = [0x49];
const I32_GE_U = [0x4f];
const V128_LOAD = 0x00;
const V128_LOAD8X8_S = 0x01;
const V128_CONST = 0x0c;
const I32X4_EXTRACT_LANE = 0x1b;
const I32X4_ADD = 0xae;
const I32X4_DOT_I16X8_S = 0xba;
const F32 = 0x7d;
const F32X4_SPLAT = 0x13;
const F32X4_ADD = 0xe4;
const F32X4_SUB = 0xe5;
const F32X4_MUL = 0xe6;
const F32X4_CONVERT_I32X4_S = 0xfa;
const V128_STORE = 0x0b;

function assemble(): Uint8Array {
  // Parameters 0–4: query, rows, count, stride, out. Locals 5–8: r, j, p, acc.
  const [query, rows, count, stride, out, r, j, p, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const half = (offset: number): number[] => [
    ...localGet(acc),
    ...localGet(p), ...localGet(j), ...I32_ADD, ...simd(V128_LOAD8X8_S), 0, offset,
    ...localGet(query), ...localGet(j), ...i32Const(1), ...I32_SHL, ...I32_ADD, ...simd(V128_LOAD), 0, 2 * offset,
    ...simd(I32X4_DOT_I16X8_S), ...simd(I32X4_ADD), ...localSet(acc),
  ];
  const lane = (i: number): number[] => [...localGet(acc), ...simd(I32X4_EXTRACT_LANE), i];
  const code = [
    ...localGet(rows), ...localSet(p),
    0x02, 0x40, // block $done
    0x03, 0x40, // loop $row
    ...localGet(r), ...localGet(count), ...I32_GE_U, 0x0d, 1, // br_if $done
    ...simd(V128_CONST), ...new Array<number>(16).fill(0), ...localSet(acc),
    ...i32Const(0), ...localSet(j),
    0x03, 0x40, // loop $col
    ...half(0),
    ...half(8),
    ...localGet(j), ...i32Const(16), ...I32_ADD, ...localTee(j), ...localGet(stride), ...I32_LT_U, 0x0d, 0, // br_if $col
    0x0b, // end $col
    ...localGet(out), ...localGet(r), ...i32Const(2), ...I32_SHL, ...I32_ADD,
    ...lane(0), ...lane(1), ...I32_ADD, ...lane(2), ...lane(3), ...I32_ADD, ...I32_ADD,
    0x36, 2, 0, // i32.store align=4
    ...localGet(p), ...localGet(stride), ...I32_ADD, ...localSet(p),
    ...localGet(r), ...i32Const(1), ...I32_ADD, ...localSet(r),
    0x0c, 0, // br $row
    0x0b, // end $row
    0x0b, // end $done
    0x0b, // end func
  ];
  const locals = [...uleb(2), ...uleb(3), I32, ...uleb(1), V128];
  const body = [...locals, ...code];
  const boundsBody = assembleBounds();
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([
      [0x60, ...vector([[I32], [I32], [I32], [I32], [I32]]), ...vector([])], // scan: (i32 × 5) → ()
      [0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [F32], [F32], [F32], [I32], [I32]]), ...vector([])], // bounds
    ])),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]])), // import memory, min 1 page
    ...section(3, vector([[0], [1]])), // function 0 has type 0, function 1 type 1
    ...section(7, vector([[...name('scan'), 0x00, 0], [...name('bounds'), 0x00, 1]])),
    ...section(10, vector([[...uleb(body.length), ...body], [...uleb(boundsBody.length), ...boundsBody]])),
  ]);
}

/** The body of `bounds` (see the banner). */
function assembleBounds(): number[] {
  // Parameters 0–9: dots, scale, error, length, bytes, qs, ql, pl, high, low. Locals 10: i; 11–12 (v128): est, b.
  const [dots, scale, error, length, bytes, qs, ql, pl, high, low, i, est, b] = Array.from({ length: 13 }, (_, k) => k);
  const at = (base: number): number[] => [...localGet(base), ...localGet(i), ...I32_ADD];
  const code = [
    0x03, 0x40, // loop $rows
    ...at(dots), ...simd(V128_LOAD), 0, 0, ...simd(F32X4_CONVERT_I32X4_S),
    ...at(scale), ...simd(V128_LOAD), 0, 0, ...simd(F32X4_MUL),
    ...localGet(qs), ...simd(F32X4_SPLAT), ...simd(F32X4_MUL), ...localSet(est),
    ...at(error), ...simd(V128_LOAD), 0, 0, ...localGet(ql), ...simd(F32X4_SPLAT), ...simd(F32X4_MUL),
    ...at(length), ...simd(V128_LOAD), 0, 0, ...localGet(pl), ...simd(F32X4_SPLAT), ...simd(F32X4_MUL),
    ...simd(F32X4_ADD), ...localSet(b),
    ...at(high), ...localGet(est), ...localGet(b), ...simd(F32X4_ADD), ...simd(V128_STORE), 0, 0,
    ...at(low), ...localGet(est), ...localGet(b), ...simd(F32X4_SUB), ...simd(V128_STORE), 0, 0,
    ...localGet(i), ...i32Const(16), ...I32_ADD, ...localTee(i), ...localGet(bytes), ...I32_LT_U, 0x0d, 0, // br_if $rows
    0x0b, // end $rows
    0x0b, // end func
  ];
  return [...uleb(2), ...uleb(1), I32, ...uleb(2), V128, ...code];
}
