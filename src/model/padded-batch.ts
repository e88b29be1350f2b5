/**
 * A batch of token-id sequences padded into the int64 tensors a reward graph takes. Built once
 * per batch and shared by every session that scores it (the merged model and, in ensemble mode,
 * each member), so all of them see exactly the same inputs.
 */
import { endianness } from 'node:os';

/** How sequences are laid out in the padded tensors. */
export interface PaddingLayout {
  padTokenId: number;
  paddingSide: 'left' | 'right';
}

/** The padded [batch, seq] int64 buffers; `positions` and `zeros` only when a graph takes them. */
export interface PaddedBatch {
  batch: number;
  seq: number;
  ids: BigInt64Array;
  mask: BigInt64Array;
  positions?: BigInt64Array;
  /** All zeros, for token_type_ids. */
  zeros?: BigInt64Array;
}

// Token ids are written through an Int32Array view of each int64 buffer (low word = id, high
// word = 0): ~10x faster than BigInt conversion per token. Valid on little-endian hosts only.
/** Whether this host can build padded batches (little-endian). */
export const LITTLE_ENDIAN = endianness() === 'LE';

/** Pad `sequences` to the longest one, building the buffers of the graph inputs named in `inputs`. */
export function padBatch(sequences: readonly Int32Array[], layout: PaddingLayout, inputs: ReadonlySet<string>): PaddedBatch {
  const batch = sequences.length;
  let seq = 0;
  for (const s of sequences) seq = Math.max(seq, s.length);
  const size = batch * seq;
  const ids = new BigInt64Array(size);
  const mask = new BigInt64Array(size);
  const ids32 = new Int32Array(ids.buffer);
  const mask32 = new Int32Array(mask.buffer);
  const positions = inputs.has('position_ids') ? new BigInt64Array(size) : undefined;
  const positions32 = positions && new Int32Array(positions.buffer);
  const pad = layout.padTokenId;
  const left = layout.paddingSide === 'left';

  for (let i = 0; i < batch; i++) {
    const s = sequences[i];
    const row = i * seq;
    const start = row + (left ? seq - s.length : 0);
    for (let k = row; k < row + seq; k++) {
      ids32[2 * k] = pad;
      // Padded positions as transformers fills them (masked anyway).
      if (positions32) positions32[2 * k] = 1;
    }
    for (let j = 0; j < s.length; j++) {
      const k = 2 * (start + j);
      ids32[k] = s[j];
      mask32[k] = 1;
      // Positions count real tokens only, so left padding does not shift them.
      if (positions32) positions32[k] = j;
    }
  }
  const zeros = inputs.has('token_type_ids') ? new BigInt64Array(size) : undefined;
  return { batch, seq, ids, mask, positions, zeros };
}

/** The buffer of `padded` that feeds graph input `name` (undefined when the batch was built without it). */
export function paddedBuffer(padded: PaddedBatch, name: string): BigInt64Array | undefined {
  return name === 'input_ids' ? padded.ids : name === 'attention_mask' ? padded.mask : name === 'position_ids' ? padded.positions : padded.zeros;
}
