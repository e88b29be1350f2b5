/**
 * The float tensors a session hands back and takes, in either precision a graph may use:
 * float32, or float16 (a half-precision export: its logits and, for a graph that takes a past,
 * its past/present keys and values). onnxruntime-node gives float16 data as a Uint16Array of bit
 * patterns where the JavaScript engine has no Float16Array (Node 20, 22), and as a Float16Array
 * where it has one (Node 24: onnxruntime-common wraps the binding's Uint16Array in it); both are
 * read through their bits here.
 *
 * Rewards are float32 inside warm-serve, and every float16 value is exactly a float32 value, so
 * the conversion at the session output is exact: a float16 graph's reward is the number its
 * float16 logit encodes. Pasts stay float16 (as Uint16Array bits) between passes: a cached past
 * is fed back exactly as the graph produced it, at half the bytes.
 */
import * as ort from 'onnxruntime-node';
import { float16Values } from '../merge/tensor/half-float.js';

/** The element types of a graph's float tensors (reward output, past and present). */
export type FloatType = 'float32' | 'float16';

/** A past/present tensor's data: float32 values, or float16 bit patterns. */
export type FloatArray = Float32Array | Uint16Array;

/** The bit patterns of a float16 tensor's data, without copying (a Uint16Array or a Float16Array view). */
function halfBits(data: ArrayBufferView): Uint16Array {
  return data instanceof Uint16Array ? data : new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
}

/** A float32 or float16 tensor's values as float32 (exact; a fresh array, safe to transfer). */
export function floatValues(tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float32') return Float32Array.from(tensor.data as Float32Array);
  if (tensor.type !== 'float16') throw new Error(`expected a float32 or float16 output, got ${tensor.type}`);
  const bits = halfBits(tensor.data as ArrayBufferView);
  const table = float16Values();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** A past/present tensor's data in its own precision (float16 as bit patterns; a view, not a copy). */
export function floatArray(tensor: ort.Tensor): FloatArray {
  if (tensor.type === 'float16') return halfBits(tensor.data as ArrayBufferView);
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  throw new Error(`expected a float32 or float16 tensor, got ${tensor.type}`);
}

/** A new zeroed array of `length` elements of `type`. */
export function newFloatArray(type: FloatType, length: number): FloatArray {
  return type === 'float16' ? new Uint16Array(length) : new Float32Array(length);
}

/**
 * A float tensor of `type` over `data` (float16: its bit patterns). Where the engine has
 * Float16Array (Node 24), onnxruntime-common wraps float16 bits in one, and onnxruntime-node
 * 1.30's binding reads a Float16Array input as empty ("not enough space: expected N, got 0");
 * so the tensor is handed to the binding with its Uint16Array as its data (test/fp16.test.ts
 * runs float16 pasts through the prefix path on Node 24 too).
 */
export function floatTensor(type: FloatType, data: FloatArray, dims: readonly number[]): ort.Tensor {
  if (type === 'float32') return new ort.Tensor('float32', data as Float32Array, dims);
  const tensor = new ort.Tensor('float16', data as Uint16Array, dims);
  if (!(tensor.data instanceof Uint16Array)) Object.defineProperty(tensor, 'data', { value: data, enumerable: true });
  return tensor;
}
