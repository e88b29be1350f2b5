/**
 * The dynamic batcher's knobs, named and documented after NVIDIA Triton's dynamic batcher so
 * operators can reason about them the same way. All limits are explicit; nothing is inferred.
 */
import { z } from 'zod';

/** Batcher settings (snake_case, as they appear in config files and env). */
export const BatchingOptionsSchema = z.object({
  /** Most items in one forward pass. */
  max_batch_size: z.number().int().positive().default(64)
    .describe('most items in one forward pass'),
  /**
   * Most padded tokens in one forward pass (batch size x longest item): bounds the memory and
   * the latency of a single batch. Must be at least the model's max_length. The default suits
   * the reference model on CPU, where a forward pass costs about the same per padded token at
   * any batch size, so small, tightly packed batches serve best (bench/service.mjs).
   */
  max_batch_tokens: z.number().int().positive().default(2048)
    .describe('most padded tokens (batch size x longest item) in one forward pass'),
  /**
   * How long the oldest queued item may wait for companions before a batch that is not full is
   * dispatched. 0 dispatches at the end of the current event-loop turn. Default 0: while a batch
   * computes the next one fills anyway, so waiting only delays a lone request (1 ms cost 1.5 ms
   * of p50 at one client on the reference model, and no throughput at 4 or 64; bench/RESULTS.md).
   */
  max_queue_delay_ms: z.number().min(0).max(1000).default(0)
    .describe('wait at most this long for a fuller batch (0: dispatch at once)'),
  /**
   * Items are grouped by length; a batch stops growing when padding would exceed this share of
   * its padded tokens (1 disables the limit). Lower wastes less compute, higher makes fewer batches.
   */
  max_padding_ratio: z.number().min(0).max(1).default(0.2)
    .describe('most padding share in a batch before it is split by length'),
  /** Most items waiting in the queue; more are refused with 503 + Retry-After. */
  max_queue_items: z.number().int().positive().default(4096)
    .describe('most queued items before new requests get 503'),
  /** Most real (unpadded) tokens waiting in the queue; more are refused with 503 + Retry-After. */
  max_queue_tokens: z.number().int().positive().default(1_048_576)
    .describe('most queued tokens before new requests get 503'),
  /** A request whose items are still queued after this long fails with 503 queue_timeout. 0 disables. */
  queue_timeout_ms: z.number().int().min(0).default(30_000)
    .describe('fail requests still queued after this long (0: never)'),
  /**
   * Batches running at once: 2 lets the next batch be built and started while the current one
   * computes. On the reference model with 2 shared cores, 1 and 2 measured the same within noise.
   */
  max_inflight_batches: z.number().int().positive().max(16).default(1)
    .describe('forward passes in flight at once'),
});

/** Batcher settings with every default resolved. */
export type BatchingOptions = z.infer<typeof BatchingOptionsSchema>;

/** Resolve batcher settings: defaults for what is missing, zod errors for what is wrong. */
export function resolveBatchingOptions(input: Partial<BatchingOptions> = {}): BatchingOptions {
  return BatchingOptionsSchema.parse(input);
}
