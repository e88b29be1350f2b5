/** Sequential positioned writes to an output file (positions are numbers, so files over 4 GiB work). */
import type { FileHandle } from 'node:fs/promises';

/** Appends byte chunks to `handle` starting at `position`. */
export class FileAppender {
  constructor(private readonly handle: FileHandle, public position = 0) {}

  /** Writes all of `bytes` at the current position and advances it. */
  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.position + done);
      done += bytesWritten;
    }
    this.position += bytes.length;
  }
}
