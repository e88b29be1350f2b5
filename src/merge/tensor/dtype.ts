/**
 * Element types the merger understands, named as in safetensors (ONNX types map onto them), and
 * the conversions between their little-endian bytes and float64 accumulators.
 */
import { bfloat16Values, float16Values, toBfloat16Bits, toFloat16Bits } from './half-float.js';

/** A tensor element type: floats are averaged, integers and bools must be identical. */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** Bytes per element. */
export const DTYPE_SIZE: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/** The float dtypes: averaged. The others (integers, bool) are copied. */
export type FloatDType = 'F64' | 'F32' | 'F16' | 'BF16';

/** Whether a dtype holds trainable floating-point weights (averaged) rather than integers (copied). */
export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/** Narrows a string to a supported dtype. */
export function isDType(name: string): name is DType {
  return Object.hasOwn(DTYPE_SIZE, name);
}

/**
 * Decodes `count` float elements from `bytes` (little-endian, 8-byte aligned buffer start) into `out`.
 * Typed-array views avoid a DataView call per element; the merger refuses big-endian hosts.
 */
export function decodeFloats(dtype: FloatDType, bytes: Uint8Array, count: number, out: Float64Array): void {
  switch (dtype) {
    case 'F64':
      out.set(new Float64Array(bytes.buffer, bytes.byteOffset, count));
      return;
    case 'F32': {
      const src = new Float32Array(bytes.buffer, bytes.byteOffset, count);
      for (let i = 0; i < count; i++) out[i] = src[i];
      return;
    }
    case 'F16':
    case 'BF16': {
      const table = dtype === 'F16' ? float16Values() : bfloat16Values();
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
      for (let i = 0; i < count; i++) out[i] = table[src[i]];
      return;
    }
  }
}

/** Encodes `count` values into `bytes` as `dtype`, rounding to nearest, ties to even. */
export function encodeFloats(dtype: FloatDType, values: Float64Array, count: number, bytes: Uint8Array): void {
  switch (dtype) {
    case 'F64':
      new Float64Array(bytes.buffer, bytes.byteOffset, count).set(values.subarray(0, count));
      return;
    case 'F32':
      // ToFloat32 in ECMAScript is round-to-nearest-even
      new Float32Array(bytes.buffer, bytes.byteOffset, count).set(values.subarray(0, count));
      return;
    case 'F16':
    case 'BF16': {
      const toBits = dtype === 'F16' ? toFloat16Bits : toBfloat16Bits;
      const dst = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
      for (let i = 0; i < count; i++) dst[i] = toBits(values[i]);
      return;
    }
  }
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}
