/**
 * Plain tensors exchanged with engines/onnx, so that no other module needs ONNX Runtime's types.
 * float16 values travel as their IEEE 754 half bit patterns in a Uint16Array (Node 20 has no Float16Array).
 */

/** Element types the ONNX wrappers exchange. */
export type TensorDType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';

/** Typed array behind each element type. */
export interface TensorArrayOf {
  float32: Float32Array;
  float16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

/** A dense row-major tensor. */
export interface TensorData<T extends TensorDType = TensorDType> {
  type: T;
  data: TensorArrayOf[T];
  dims: readonly number[];
}

/** Number of elements of `dims` (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Bytes one element of `type` takes. */
export function bytesPerElement(type: TensorDType): number {
  return type === 'float32' || type === 'int32' ? 4 : type === 'float16' ? 2 : type === 'int64' ? 8 : 1;
}

/** A float32 tensor over `data` (not copied). */
export function float32Tensor(data: Float32Array, dims: readonly number[]): TensorData<'float32'> {
  return { type: 'float32', data, dims };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Half bit pattern of one float32 value, round-to-nearest-even; overflow gives +-Inf, NaN stays NaN. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1), mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++; // may carry into the exponent, which is correct
  return sign | half;
}

/** float32 value of one half bit pattern. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 -> float16 bits, into `out` when given (same length). */
export function float32ToFloat16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = toHalfBits(src[i]!);
  return out;
}

/** float16 bits -> float32, into `out` when given (same length). */
export function float16ToFloat32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) out[i] = fromHalfBits(src[i]!);
  return out;
}

/** A float tensor converted to `type` (float32 or float16); returned as is when already of that type. */
export function castFloat(t: TensorData, type: 'float32' | 'float16'): TensorData {
  if (t.type === type) return t;
  if (t.type === 'float32' && type === 'float16') return { type, data: float32ToFloat16(t.data as Float32Array), dims: t.dims };
  if (t.type === 'float16' && type === 'float32') return { type, data: float16ToFloat32(t.data as Uint16Array), dims: t.dims };
  throw new TypeError(`cannot cast ${t.type} to ${type}`);
}

/** float32 view or copy of a float tensor's values. */
export function asFloat32(t: TensorData): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return float16ToFloat32(t.data as Uint16Array);
  throw new TypeError(`expected a float tensor, found ${t.type}`);
}
