/**
 * warm-serve as a library (`import { serve, loadModel, merge } from 'warm-serve'`): the same
 * server, scoring and merge code as the CLI commands `serve`, `score` and `merge`, called
 * in-process. The HTTP client is the separate entry 'warm-serve/client'.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { errors } from './errors.js';
import { DEFAULT_MODEL_DIR, ServeConfigSchema, type ServeConfig } from './config/schema.js';
import type { FormatChoice } from './merge/model-inputs.js';
import type { SelectMethod } from './merge/select/selection.js';
import { selectiveMerge, type SelectiveMergeSummary } from './merge/select/selective-merge.js';
import type { Device } from './model/device.js';
import { OFFLINE_BATCHING, scoreAll, type BulkOptions } from './scoring/bulk.js';
import { createScoringService } from './scoring/service.js';
import type { ModelInfo, ScoredItem, ScoreInput, ScoreOptions } from './scoring/types.js';
import { createLogger } from './server/logger.js';
import { startServer } from './server/start.js';
import { VERSION } from './version.js';

export { ConfigError } from './config/load.js';
export { DEFAULT_MODEL_DIR, type ServeConfig } from './config/schema.js';
export { WarmServeError, type ErrorType } from './errors.js';
export { VERSION } from './version.js';
export type { Aggregate } from './scoring/aggregate.js';
export type { Device } from './model/device.js';
export type { FormatChoice } from './merge/model-inputs.js';
export type { SelectMethod } from './merge/select/selection.js';
export type { ModelInfo, ScoredItem, ScoreInput, ScoreOptions, ScoreTimings } from './scoring/types.js';

/**
 * Settings of `serve()`: any of the `warm-serve serve` settings (the config-file keys, e.g.
 * `{ model, port: 0, max_batch_size: 32 }`), validated by the same schema; missing ones take the
 * CLI defaults, except `host` (127.0.0.1 here: this machine only) and `log_level` (silent).
 */
export type ServeSettings = Partial<ServeConfig>;

/** A server running in this process. */
export interface Server {
  /** Base URL, e.g. http://127.0.0.1:40123 (with `port: 0`, the free port picked). */
  readonly url: string;
  readonly port: number;
  /** What GET /v1/info reports about the loaded model. */
  readonly info: ModelInfo;
  /** The validated settings it runs with. */
  readonly config: ServeConfig;
  /** Drain (queued and in-flight requests finish) and close; false if `drain_timeout_ms` passed with work left. */
  stop(): Promise<boolean>;
}

/**
 * Start the HTTP server of `warm-serve serve` in this process and resolve once the model is loaded
 * and warm (the API answers). Throws ConfigError for invalid settings, WarmServeError
 * (`model_error`...) when the model cannot load. `options.logger`: a pino (or fastify) logger to
 * use instead of one at `settings.log_level` on stdout.
 */
export async function serve(settings: ServeSettings = {}, options: { logger?: FastifyBaseLogger } = {}): Promise<Server> {
  const given = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
  const parsed = ServeConfigSchema.safeParse({ host: '127.0.0.1', log_level: 'silent', ...given });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ setting: issue.path.map(String).join('.') || 'settings', problem: issue.message }));
    throw errors.config(issues, 'invalid serve() settings');
  }
  const config = parsed.data;
  const running = await startServer(config, options.logger ?? createLogger(config.log_level));
  return {
    url: running.url,
    port: (running.app.server.address() as AddressInfo).port,
    info: running.service.info,
    config,
    stop: running.stop,
  };
}

/** How to load a model for offline scoring (the options of `warm-serve score`). */
export interface LoadModelOptions {
  /** Also load the members listed in warm.json (needed for `aggregate` other than 'warm' and `returnMembers`). */
  ensemble?: boolean;
  /** Where to run; default 'cpu'. */
  device?: Device;
  /** onnxruntime intra-op threads; default 0 = one per core. */
  threads?: number;
  /** λ of the 'uwo' aggregate, mean − λ·variance; default 0.5. */
  uwoLambda?: number;
}

/** Options of RewardModel.score: ScoreOptions plus progress over a long list. */
export interface ScoreListOptions extends ScoreOptions {
  /** Called as requests finish with the items done so far and the total. */
  onProgress?: BulkOptions['onProgress'];
}

/** A model loaded in this process, scoring without HTTP. */
export interface RewardModel {
  readonly info: ModelInfo;
  /**
   * Score any number of items, results in input order: the same formatting, tokenization,
   * batching and inference as the server, so rewards equal the server's for the same item.
   * Rejects with a WarmServeError (e.g. `validation_error` for an item over max_length with
   * `truncate: false`).
   */
  score(items: readonly ScoreInput[], options?: ScoreListOptions): Promise<ScoredItem[]>;
  /** Finish what is being scored and release the model. */
  close(): Promise<void>;
}

/** Load a model directory (default: the bundled reference model) for offline scoring. */
export async function loadModel(model: string = DEFAULT_MODEL_DIR, options: LoadModelOptions = {}): Promise<RewardModel> {
  const service = await createScoringService(model, {
    batching: OFFLINE_BATCHING,
    engine: { intraOpThreads: options.threads, device: options.device },
    ensemble: options.ensemble,
    uwoLambda: options.uwoLambda,
  });
  return {
    info: service.info,
    score(items, { onProgress, truncate, signal, ...perRequest } = {}) {
      // scoreAll passes truncate and signal on; aggregate and returnMembers ride along here.
      const withOptions = { ...service, score: (chunk: ScoreInput[], opts?: ScoreOptions) => service.score(chunk, { ...opts, ...perRequest }) };
      return scoreAll(withOptions, items, { truncate, signal, onProgress });
    },
    close: () => service.drain(2 ** 31 - 1), // the longest timer: wait for every queued item
  };
}

/** What to merge: the options of `warm-serve merge`. */
export interface MergeSettings {
  /** At least 2 model directories or .onnx files, fine-tunes of one pretrained model. */
  inputs: string[];
  /** Output model directory (created if needed). */
  out: string;
  /** Default 'all': every format the inputs hold. */
  format?: FormatChoice;
  /** One non-negative weight per input, normalised by their sum; default uniform. */
  weights?: readonly number[];
  /** Overwrite output files that already exist. */
  force?: boolean;
  /** warm.json `name` (the model name every response reports); default: the output directory's name. */
  name?: string;
  /** No progress or summary on stderr (warnings still shown). Default true here. */
  quiet?: boolean;
  /** Member selection: uniform (default), top-k or greedy; top-k and greedy need `data`. */
  select?: SelectMethod;
  /** Held-out preference pair files (JSON Lines, gzipped or not). */
  data?: string[];
  /** `FILE:NAME`: only that split's rows of `data` and `calibrate`. */
  split?: string;
  /** top-k: how many inputs to keep. */
  k?: number;
  /** Pair files whose texts set the merged model's reward normalisation. */
  calibrate?: string[];
}

/** What a merge wrote (files, provenance, distances, warnings; selection and calibration when asked). */
export type MergeSummary = SelectiveMergeSummary;

/** Weight-average the inputs into `settings.out` (WARM), as `warm-serve merge`. Throws WarmServeError on refusal. */
export function merge(settings: MergeSettings): Promise<MergeSummary> {
  return selectiveMerge({
    ...settings,
    format: settings.format ?? 'all',
    weights: settings.weights?.join(','),
    force: settings.force ?? false,
    quiet: settings.quiet ?? true,
    command: `merge(${JSON.stringify(settings)}) (warm-serve ${VERSION} library)`,
  });
}
