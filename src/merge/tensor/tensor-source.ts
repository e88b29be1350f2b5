/** The format-neutral view of one input tensor that the averaging loop reads from. */
import type { FileHandle } from 'node:fs/promises';
import { errors } from '../../errors.js';
import type { DType } from './dtype.js';

/** One stored tensor of one input: its type, shape and a way to read byte ranges of it. */
export interface TensorSource {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly byteLength: number;
  /** Fills `into` with the tensor's bytes starting `offset` bytes into the tensor. */
  read(into: Uint8Array, offset: number): Promise<void>;
}

/** The file a reader reads and the tensor it holds there, for messages. */
export interface ReadPlace {
  file: string;
  tensor?: string;
}

/**
 * A reader over `[start, start + length)` of an open file; positions are plain numbers, so > 4 GiB
 * works. The checks before the merge sized every tensor against its file, so a short read means the
 * file changed while the merge read it.
 */
export function fileRangeReader(handle: FileHandle, start: number, length: number, place: ReadPlace) {
  return async (into: Uint8Array, offset: number): Promise<void> => {
    if (offset + into.length > length) {
      throw errors.merge(place.file, place.tensor, `internal error: a read of [${offset}, ${offset + into.length}) runs past the tensor's ${length} bytes; please report it`);
    }
    let done = 0;
    while (done < into.length) {
      const { bytesRead } = await handle.read(into, done, into.length - done, start + offset + done);
      if (bytesRead === 0) throw errors.merge(place.file, place.tensor, 'file ended early: it was truncated or replaced while the merge read it; merge again once it is complete');
      done += bytesRead;
    }
  };
}

/** A reader over bytes already in memory (ONNX initializers stored inside the model file). */
export function memoryReader(bytes: Uint8Array) {
  return async (into: Uint8Array, offset: number): Promise<void> => {
    into.set(bytes.subarray(offset, offset + into.length));
  };
}
