/**
 * The engine contract: a batch of token-id sequences in, one reward per sequence out.
 * Plain TypeScript (no onnxruntime import) so the batcher and its tests depend only on this.
 */

/** Runs forward passes. Implementations own padding (side and pad id come from the model directory). */
export interface Engine {
  /** Graph inputs this engine feeds, for /v1/info. */
  readonly inputs: readonly string[];
  /** Execution provider name ('cpu', later a GPU provider), for /v1/info. */
  readonly executionProvider: string;
  /**
   * Score one batch: `sequences[i]` holds the token ids of item i (unpadded). Resolves to a
   * Float32Array with one (normalised) reward per sequence, in order. Rejects on failure.
   */
  run(sequences: readonly Int32Array[]): Promise<Float32Array>;
  /** Release native resources; the engine is unusable afterwards. */
  release(): Promise<void>;
}
