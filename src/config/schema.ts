/**
 * The settings of `warm-serve serve`: one flat zod schema whose keys are the JSON config-file
 * keys; flags (`--max-batch-size`) and environment variables (`WARM_SERVE_MAX_BATCH_SIZE`) are
 * derived from them (string values are coerced to numbers in load.ts). Descriptions and defaults here feed `--help` and the README table.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEVICES } from '../model/device-names.js';
import { DEFAULT_INLINE_POLICY, type InlinePolicy } from '../model/inline-policy.js';
import { BatchingOptionsSchema, type BatchingOptions } from '../batching/options.js';
import type { PrefixSharing } from '../model/prefix-cache.js';

/** Defaults of the group-scoring settings (measured: docs/performance.md). */
const PREFIX_DEFAULTS = { minTokens: 16, cacheMb: 256, rewardCacheItems: 4096 };

/** The package root (two levels above this file in both src/ and dist/). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The model served when none is configured, so `npm start` works from a checkout. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../models/reference', import.meta.url));

const count = (min: number) => z.number().int().min(min);

/** Keys travel in headers and URLs: printable ASCII without spaces or commas, long enough not to guess. */
const apiKey = z
  .string()
  .min(16, 'an API key needs at least 16 characters; make one with `openssl rand -hex 32`')
  .regex(/^[\x21-\x2b\x2d-\x7e]+$/, 'an API key may hold printable ASCII characters except spaces and commas');

export const ServeConfigSchema = z.strictObject({
  host: z
    .string()
    .min(1)
    .default('0.0.0.0')
    .describe('interface to listen on; 0.0.0.0 = all (containers, clusters), 127.0.0.1 = this machine only'),
  port: count(0).max(65535).default(8000).describe('TCP port; 0 picks a free one (logged at start-up)'),
  model: z
    .string()
    .min(1)
    .default(DEFAULT_MODEL_DIR)
    .describe('model directory (model.onnx, tokenizer.json, warm.json)'),
  ensemble: z
    .boolean()
    .default(false)
    .describe("also load the members listed in warm.json and run them on the same batches (requests may then ask for aggregate mean|min|uwo and return_members)"),
  uwo_lambda: z
    .number()
    .min(0)
    .default(0.5)
    .describe("λ of the uwo aggregate, mean − λ·variance of the members' rewards (0.5: Coste et al.'s best-of-N setting)"),
  openrlhf_scores: z
    .enum(['raw', 'sigmoid'])
    .default('raw')
    .describe("what /get_reward answers in `scores`: raw = the rewards (as OpenRLHF's own serve_rm); sigmoid = sigmoid(reward), in (0, 1), for OpenRLHF's --dynamic_filtering, which drops a group whose mean score is not strictly inside --dynamic_filtering_reward_range (e.g. 0 1)"),
  // The batcher owns its knobs and their defaults; the server only exposes them.
  ...BatchingOptionsSchema.shape,
  body_limit_bytes: count(1).default(4 * 1024 * 1024).describe('largest request body; larger gets 413'),
  max_items_per_request: count(1).default(256).describe('most items in one /v1/score request; more gets 413'),
  max_completions_per_rank: count(1)
    .default(64)
    .describe('most completions in one /v1/rank request; more gets 413'),
  max_chars_per_item: count(1)
    .default(4 * 1024 * 1024)
    .describe('most characters in one item (prompt + completion, all messages, or text); more gets 413. The default is body_limit_bytes\' default, so any item a body can carry passes: long texts are tokenized from their tail and cut to max_length'),
  max_ids_per_item: count(1)
    .default(131072)
    .describe('most token ids in one item (input_ids, or a token-id input of /classify and /v1/embeddings); more gets 413 before the body is parsed. 128 Ki: beyond the context of the policies trainers run'),
  max_messages_per_item: count(1)
    .default(1024)
    .describe('most messages in one chat item; more gets 413 before the body is validated'),
  max_json_depth: count(1)
    .default(32)
    .describe('deepest nesting of arrays and objects in a request body; deeper gets 413 before the body is parsed'),
  request_timeout_ms: count(1000)
    .default(30000)
    .describe('most time a client may take to send one request (headers and body); slower gets 408 and the connection is closed'),
  max_connections: count(0)
    .default(4096)
    .describe('most open client connections; more are closed at once (0 = no cap). Behind a load balancer it pools connections, so this bounds direct clients'),
  template_timeout_ms: count(1)
    .default(2000)
    .describe("most time the chat template may take to render one request's messages (in a worker thread); longer gets 422"),
  api_keys: z
    .array(apiKey)
    .default([])
    .describe('API keys (comma-separated in the flag and env); any set turns authentication on: requests need Authorization: Bearer KEY. Prefer the env var or api_keys_file, flags show in ps'),
  api_keys_file: z
    .string()
    .min(1)
    .optional()
    .describe('file of API keys, one per line (# starts a comment); read at start-up, added to api_keys'),
  public_paths: z
    .array(z.string().regex(/^\//, 'expected a path starting with /'))
    .default(['/health', '/ready', '/metrics', '/docs', '/openapi.json'])
    .describe('paths (and everything below them) that need no API key when authentication is on'),
  intra_op_threads: count(0)
    .default(0)
    .describe('ONNX Runtime threads inside one operator; 0 = one per physical core'),
  inter_op_threads: count(0).default(0).describe('ONNX Runtime threads across operators; 0 = runtime default'),
  device: z
    .enum(DEVICES)
    .default('cpu')
    .describe(
      "where to run: cpu; cuda or tensorrt (onnxruntime-node's CUDA 12 build, docker/Dockerfile.gpu); webgpu (bundled, needs Vulkan); auto = cuda, else webgpu where a GPU device node exists (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg), else cpu",
    ),
  // The worker-thread vs main-thread choice of each forward pass (src/model/inline-policy.ts).
  inline_max_ms: z
    .number()
    .min(0)
    .default(DEFAULT_INLINE_POLICY.maxMs)
    .describe(
      'on cpu, a forward pass estimated to take at most this long runs on the main thread when its session is idle, skipping the hop to its worker thread (two thread wake-ups, ~0.5-2 ms on a 2-core VM); it stalls the event loop that long. 0 = every pass on the worker. 5: under the 20 ms event-loop delay target, over a 128-token pass of the reference model (~3 ms)',
    ),
  inline_min_idle_ms: z
    .number()
    .min(0)
    .default(DEFAULT_INLINE_POLICY.minIdleMs)
    .describe(
      'a session is idle (see inline_max_ms) once no pass has finished for this long; under load batches follow each other closer than that, so they go to the worker. 0.3: in a closed loop on the reference model 97% of passes ran inline at 1 client, 2% at 4, none at 16 or 256',
    ),
  inline_max_model_mib: z
    .number()
    .min(0)
    .default(DEFAULT_INLINE_POLICY.maxModelBytes / 2 ** 20)
    .describe('largest model.onnx (MiB) that gets the inline path: it loads a second copy of the weights on the main thread. 64: small models only'),
  // Group scoring (src/model/prefix-scorer.ts, src/model/reward-cache.ts).
  prefix_sharing: z
    .enum(['auto', 'off'])
    .default('auto')
    .describe(
      "auto: a graph that takes past_key_values runs the prefix that items share (a group's prompt) once and only their remaining tokens after it, within a batch and across batches through the prefix cache; graphs without a past run as usual. off: every item runs whole",
    ),
  prefix_min_tokens: count(1)
    .default(PREFIX_DEFAULTS.minTokens)
    .describe('shortest prefix (in tokens) that items must share to run it once; shorter ones are not worth a pass of their own'),
  prefix_cache_mb: z
    .number()
    .min(0)
    .default(PREFIX_DEFAULTS.cacheMb)
    .describe('bound of all the caches of shared prefixes\' keys and values together (MiB), least recently used out first: split equally over the sessions (the model, and each member with --ensemble), a quarter of each share for its inline copy on CPU; 0 = no cache (sharing inside one batch only)'),
  reward_cache_items: count(0)
    .default(PREFIX_DEFAULTS.rewardCacheItems)
    .describe('rewards of this many recent items are kept by their final token ids, so an exact duplicate (a GRPO group repeating a sample, a retried request) is not scored again; least recently used out first; 0 = off'),
  log_level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('log level; logs are JSON lines, pretty-printed when stdout is a terminal'),
  drain_timeout_ms: count(0)
    .default(30000)
    .describe('on SIGTERM/SIGINT, how long queued and in-flight requests may take before exit'),
  drain_linger_ms: count(0)
    .default(300)
    .describe(
      'on SIGTERM/SIGINT, once the work is done: answers wait until none has gone out for this long, then the listener closes; connections still open are closed after this long without a request. Within drain_timeout_ms. 16 clients in a closed loop, 8 runs each: 13-16 resets a run at 0, 0-7 at 30, none at 100, 300 or 1000 (test/serial/drain-direct-clients.test.ts)',
    ),
});

/** The validated settings of a running server. */
export type ServeConfig = z.infer<typeof ServeConfigSchema>;

/** A config key, e.g. `max_batch_size`. */
export type ConfigKey = keyof ServeConfig;

/** The settings' keys in the order of the schema (the order of --help and the README table). */
export const CONFIG_KEYS = Object.keys(ServeConfigSchema.shape) as ConfigKey[];

/** The batcher's knobs out of the serve settings (whatever knobs the batcher defines). */
export function batchingSettings(config: ServeConfig): BatchingOptions {
  const keys = Object.keys(BatchingOptionsSchema.shape) as (keyof BatchingOptions)[];
  return Object.fromEntries(keys.map((key) => [key, config[key]])) as BatchingOptions;
}

/** The inline-pass policy of the engine out of the serve settings. */
export function inlineSettings(config: ServeConfig): InlinePolicy {
  return { maxMs: config.inline_max_ms, minIdleMs: config.inline_min_idle_ms, maxModelBytes: config.inline_max_model_mib * 2 ** 20 };
}

/** Prefix sharing as the engine takes it (undefined = off). */
export function prefixSharingSettings(config: ServeConfig): PrefixSharing | undefined {
  return config.prefix_sharing === 'off' ? undefined : { minTokens: config.prefix_min_tokens, cacheBytes: Math.round(config.prefix_cache_mb * 2 ** 20) };
}

/** `max_batch_size` -> `max-batch-size` (the flag, without dashes in front). */
export const flagName = (key: string): string => key.replaceAll('_', '-');

/** `max_batch_size` -> `WARM_SERVE_MAX_BATCH_SIZE`. */
export const envName = (key: string): string => `WARM_SERVE_${key.toUpperCase()}`;
