/** The format-neutral view of one input tensor that the averaging loop reads from. */
import type { FileHandle } from 'node:fs/promises';
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

/** A reader over `[start, start + length)` of an open file; positions are plain numbers, so > 4 GiB works. */
export function fileRangeReader(handle: FileHandle, start: number, length: number, describe: () => string) {
  return async (into: Uint8Array, offset: number): Promise<void> => {
    if (offset + into.length > length) throw new Error(`read past the end of ${describe()}`);
    let done = 0;
    while (done < into.length) {
      const { bytesRead } = await handle.read(into, done, into.length - done, start + offset + done);
      if (bytesRead === 0) throw new Error(`${describe()}: file ended early (truncated while merging?)`);
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
