/**
 * The engine contract: a batch of token-id sequences in, one reward per sequence out.
 * Plain TypeScript (no onnxruntime import) so the batcher and its tests depend only on this.
 */

import type { PrefixSharing, PrefixStats } from './prefix-cache.js';

/** Per-batch choices for run(). */
export interface RunOptions {
  /** Ensemble engines: also run the members on this batch (default: the model only). */
  members?: boolean;
  /** Also return each item's head values: the model's output row before weighting (multi-head models). */
  heads?: boolean;
}

/** Runs forward passes. Implementations own padding (side and pad id come from the model directory). */
export interface Engine {
  /** Graph inputs this engine feeds, for /v1/info. */
  readonly inputs: readonly string[];
  /** Execution provider name ('cpu', later a GPU provider), for /v1/info. */
  readonly executionProvider: string;
  /**
   * Ensemble engines: the names of the members whose rewards run() appends when asked
   * (`options.members`). Absent or empty for a single model.
   */
  readonly members?: readonly string[];
  /** Columns of the model's output (its heads), when the graph declares them; undefined when only a run tells. */
  readonly headCount?: number;
  /** Prefix sharing, when on (graphs that take a past; src/model/prefix-scorer.ts). */
  readonly prefixSharing?: PrefixSharing;
  /** The prefix caches' figures, summed over the engine's sessions; undefined when sharing is off. */
  prefixStats?(): PrefixStats | undefined;
  /**
   * Score one batch: `sequences[i]` holds the token ids of item i (unpadded). Resolves to a
   * Float32Array with one (normalised) reward per sequence, in order. With `options.members`
   * an ensemble engine appends one such block per member, all from the same padded batch:
   * length batch × (1 + members.length), member k's reward for item i at (k + 1) × batch + i.
   * With `options.heads` it then appends each item's H head values (the model's output row, as
   * the graph gives it): item i's at base + i × H .. base + (i + 1) × H, base = the length
   * before them. Rejects on failure.
   */
  run(sequences: readonly Int32Array[], options?: RunOptions): Promise<Float32Array>;
  /** Release native resources; the engine is unusable afterwards. */
  release(): Promise<void>;
}
