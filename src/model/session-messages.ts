/**
 * The messages between ThreadSession (main thread) and its worker (session-worker.ts).
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { ErrorFields } from '../errors.js';

/** Main thread -> worker: run one batch, or release the session and exit. */
export type SessionRequest =
  | { kind: 'run'; id: number; feeds: Record<string, BigInt64Array>; dims: number[]; output: string }
  | { kind: 'release' };

/** Worker -> main thread. */
export type SessionReply =
  | { kind: 'ready'; device: string; inputs: readonly InferenceSession.ValueMetadata[]; outputs: readonly InferenceSession.ValueMetadata[] }
  | { kind: 'open_failed'; message: string; modelError?: ErrorFields['model_error'] }
  | { kind: 'result'; id: number; data: Float32Array; dims: number[]; ms: number }
  | { kind: 'failed'; id: number; message: string };
