/**
 * The streaming core shared by both formats: one tensor from each of the M inputs, read chunk by
 * chunk at its offset, decoded to float64, accumulated in float64 in input order, rounded back
 * to the tensor's dtype (nearest, ties to even) and handed to the writer. Peak memory is M chunks, whatever the model size.
 */
import { errors } from '../../errors.js';
import type { DistanceAccumulator } from './distance.js';
import { DTYPE_SIZE, decodeFloats, encodeFloats, isFloat } from './dtype.js';
import type { TensorSource } from './tensor-source.js';
import type { MergeWeights } from '../weights.js';

/** Elements per chunk: 2 MiB of float64 per input. */
export const CHUNK_ELEMENTS = 1 << 18;

/** Scratch buffers reused for every tensor of a merge (allocated once, 8-byte aligned). */
export class ChunkBuffers {
  readonly raw: Buffer[];
  readonly values: Float64Array[];
  readonly acc: Float64Array;
  readonly out: Buffer;

  constructor(m: number, readonly chunkElements: number = CHUNK_ELEMENTS) {
    this.raw = Array.from({ length: m }, () => Buffer.allocUnsafeSlow(chunkElements * 8));
    this.values = Array.from({ length: m }, () => new Float64Array(chunkElements));
    this.acc = new Float64Array(chunkElements);
    this.out = Buffer.allocUnsafeSlow(chunkElements * 8);
  }
}

/** What one tensor's merge needs: its M sources (same dtype and shape, checked before) and where output goes. */
export interface AverageJob {
  labels: readonly string[];
  sources: readonly TensorSource[];
  weights: MergeWeights;
  buffers: ChunkBuffers;
  distances: DistanceAccumulator;
  /** Appends output bytes; the chunk is reused after the promise settles. */
  write(bytes: Uint8Array): Promise<void>;
  /** Called after each chunk with the input bytes it consumed (all inputs together). */
  progress?(bytes: number): void;
}

/** Streams one tensor: averages float tensors, copies integer/bool tensors that are identical in every input. */
export async function averageTensor(job: AverageJob): Promise<void> {
  const { sources, buffers, weights } = job;
  const first = sources[0];
  const size = DTYPE_SIZE[first.dtype];
  const count = first.byteLength / size;
  const dtype = first.dtype;
  const float = isFloat(dtype);
  const m = sources.length;
  // integer tensors are only compared, so their chunks can fill the whole 8-byte-per-element buffer
  const chunk = float ? buffers.chunkElements : (buffers.chunkElements * 8) / size;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const bytes = n * size;
    await Promise.all(sources.map((s, i) => s.read(buffers.raw[i].subarray(0, bytes), start * size)));
    if (isFloat(dtype)) {
      // mean = x0 + Σ_i w_i (x_i − x0) / Σ w: exact when the inputs agree (M copies give the model
      // back bit-exactly, F64 included) and the differences of fine-tunes are small, so this loses
      // less than summing Σ w_i x_i. Equal values (±inf buffers too) contribute exactly 0.
      const acc = buffers.acc;
      acc.fill(0, 0, n);
      const v0 = buffers.values[0];
      decodeFloats(dtype, buffers.raw[0], n, v0);
      for (let i = 1; i < m; i++) {
        const v = buffers.values[i];
        decodeFloats(dtype, buffers.raw[i], n, v);
        const w = weights.raw[i];
        for (let k = 0; k < n; k++) acc[k] += v[k] === v0[k] ? 0 : w * (v[k] - v0[k]);
      }
      const total = weights.total;
      for (let k = 0; k < n; k++) acc[k] = v0[k] + acc[k] / total;
      job.distances.add(buffers.values, n);
      encodeFloats(dtype, acc, n, buffers.out);
      await job.write(buffers.out.subarray(0, bytes));
    } else {
      const reference = buffers.raw[0].subarray(0, bytes);
      for (let i = 1; i < m; i++) {
        const other = buffers.raw[i].subarray(0, bytes);
        if (!reference.equals(other)) {
          let k = 0;
          while (reference[k] === other[k]) k++;
          throw errors.merge(
            job.labels[i],
            first.name,
            `${first.dtype} tensor differs from the first input's at element ${start + Math.floor(k / size)}; ` +
              'only float tensors are averaged, integer and bool tensors must be identical in every input',
          );
        }
      }
      await job.write(reference);
    }
    job.progress?.(bytes * m);
  }
}
