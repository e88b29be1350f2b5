/**
 * The messages between ThreadSession (main thread) and its worker (session-worker.ts).
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { ErrorFields } from '../errors.js';
import type { FeedableInput } from './graph.js';
import type { PaddingLayout } from './padded-batch.js';
import type { PrefixSharing, PrefixStats } from './prefix-cache.js';

/** Prefix sharing on a graph that takes a past: what the worker's PrefixScorer needs. */
export interface SharingSetup extends PrefixSharing {
  inputs: FeedableInput[];
  output: string;
  layout: PaddingLayout;
}

/** Main thread -> worker: turn prefix sharing on, run one padded batch, score sequences with prefix sharing, or release the session and exit. */
export type SessionRequest =
  | { kind: 'share'; setup: SharingSetup }
  | { kind: 'run'; id: number; feeds: Record<string, BigInt64Array>; dims: number[]; output: string }
  | { kind: 'score'; id: number; sequences: Int32Array[] }
  | { kind: 'release' };

/** The passes a worker ran on a GPU device before it said ready (shader and kernel compilation). */
export interface WarmUp {
  passes: number;
  ms: number;
}

/** Worker -> main thread. */
export type SessionReply =
  | { kind: 'ready'; device: string; inputs: readonly InferenceSession.ValueMetadata[]; outputs: readonly InferenceSession.ValueMetadata[]; warmUp?: WarmUp }
  | { kind: 'open_failed'; message: string; modelError?: ErrorFields['model_error'] }
  | { kind: 'result'; id: number; data: Float32Array; dims: number[]; ms: number; prefix?: PrefixStats }
  | { kind: 'failed'; id: number; message: string };
