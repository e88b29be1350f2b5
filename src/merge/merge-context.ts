/** What a per-format merge (safetensors, ONNX) receives from the orchestrator and reports back. */
import type { ChunkBuffers } from './tensor/average-tensor.js';
import type { Progress } from './progress.js';
import type { StagedOutput } from './staged-output.js';
import type { MergeWeights } from './weights.js';

/** Shared state of one merge run. */
export interface MergeContext {
  /** Input names as the user gave them, for messages. */
  labels: readonly string[];
  weights: MergeWeights;
  stage: StagedOutput;
  progress: Progress;
  buffers: ChunkBuffers;
  /** Provenance as string -> string, written into safetensors `__metadata__` / ONNX `metadata_props`. */
  provenance: Record<string, string>;
}

/** What one format's merge wrote. */
export interface FormatMergeResult {
  format: 'safetensors' | 'onnx';
  /** Output file names, relative to the output directory. */
  files: string[];
  /** Tensors averaged (float) and copied (integer/bool, identical in all inputs). */
  averaged: number;
  copied: number;
  /** Output tensor bytes. */
  bytes: number;
  /** Relative distances r[i][j] = ||θi − θj|| / ||θi|| over this format's float tensors. */
  distances: number[][];
}
