/**
 * When a forward pass runs on the calling (main) thread instead of its session's worker thread
 * (session-thread.ts): the worker keeps the event loop free, but its hop costs two thread
 * wake-ups (~0.5-2 ms on the 2-core benchmark VM), which dominates a lone request to a tiny
 * model. Plain data without onnxruntime, so the config schema takes its defaults from here
 * (settings inline_max_ms, inline_min_idle_ms, inline_max_model_mib).
 */

/** The knobs of the inline path. */
export interface InlinePolicy {
  /** Longest pass, estimated from recent passes' cost per token, that may run inline; 0 = never. */
  maxMs: number;
  /** A session is idle, so a pass may run inline, once no pass has finished for this long. */
  minIdleMs: number;
  /** Largest model file that gets the second, inline copy of its session. */
  maxModelBytes: number;
}

/**
 * The defaults, measured on the reference model (bench/RESULTS.md):
 * - maxMs 5: stalls the event loop well below the 20 ms delay target, and is longer than a
 *   single 128-token pass of the reference model (~3 ms), so a lone request skips the hop;
 * - minIdleMs 0.3: under load the next batch starts right as one finishes, so passes go to the
 *   worker; in a closed loop 97% of passes ran inline at 1 client, 2% at 4, none at 16 and 256;
 * - maxModelBytes 64 MiB: the inline session is a second copy of the weights, for small models only.
 */
export const DEFAULT_INLINE_POLICY: Readonly<InlinePolicy> = { maxMs: 5, minIdleMs: 0.3, maxModelBytes: 64 * 2 ** 20 };
