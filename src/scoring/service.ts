/**
 * The scoring service: format -> tokenize -> shared batching queue -> engine. One class whose
 * methods are the request path (score -> admit -> BatchQueue.submit), used by the HTTP routes
 * (src/server/scoring-route.ts), the CLI commands and the library entry.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { errors } from '../errors.js';
import type { BatchObserver } from '../batching/observer.js';
import { resolveBatchingOptions, type BatchingOptions } from '../batching/options.js';
import { BatchQueue, type QueueResult, type QueueStats } from '../batching/queue.js';
import { loadModelDirectory, type ModelDirectory } from '../model/directory.js';
import type { Engine } from '../model/engine.js';
import { InputFormatter, type TemplateBudget } from '../model/format.js';
import { MANIFEST_FILE } from '../model/manifest.js';
import { OnnxEngine, type OnnxEngineOptions } from '../model/onnx-engine.js';
import { ModelTokenizer, type EncodedItem } from '../model/tokenizer.js';
import { EnsembleEngine } from '../model/ensemble-engine.js';
import type { PrefixStats } from '../model/prefix-cache.js';
import { RewardCachingEngine, type RewardCacheStats } from '../model/reward-cache.js';
import { loadMemberDirectories } from '../model/members.js';
import { aggregateReward, DEFAULT_UWO_LAMBDA, memberStats } from './aggregate.js';
import type { ModelInfo, ScoredItem, ScoreInput, ScoreOptions, ScoreResult } from './types.js';

/** How to build the service. Everything is optional. */
export interface ScoringServiceOptions {
  /** Dynamic batcher knobs (src/batching/options.ts). */
  batching?: Partial<BatchingOptions>;
  /** onnxruntime session settings. */
  engine?: OnnxEngineOptions;
  /** Metrics hooks for the queue. */
  observer?: BatchObserver;
  /** Build a custom engine; default: OnnxEngine over model.onnx, or the EnsembleEngine with `ensemble`. */
  createEngine?: (dir: ModelDirectory, tokenizer: ModelTokenizer) => Promise<Engine>;
  /** Also load the manifest's members and run them on the same batches (serve --ensemble). */
  ensemble?: boolean;
  /** λ of the 'uwo' aggregate, mean − λ·variance. Default 0.5. */
  uwoLambda?: number;
  /** Keep the rewards of this many recent items by token ids (src/model/reward-cache.ts); default 0 = off. */
  rewardCacheItems?: number;
  /** The chat template's rendering budget (default: no time limit, as offline scoring wants; the server sets template_timeout_ms). */
  template?: TemplateBudget;
}

/** The default engine: one onnxruntime session over the directory's model.onnx. */
export function createOnnxEngine(dir: ModelDirectory, tokenizer: ModelTokenizer, options?: OnnxEngineOptions): Promise<OnnxEngine> {
  return OnnxEngine.create(dir.modelFile, {
    padTokenId: tokenizer.padId,
    paddingSide: dir.paddingSide,
    normalization: dir.normalization,
    headWeights: dir.headWeights,
  }, options);
}

/** The ensemble engine: the model and the members its manifest lists, over the same batches. */
export async function createEnsembleEngine(dir: ModelDirectory, tokenizer: ModelTokenizer, options?: OnnxEngineOptions): Promise<EnsembleEngine> {
  return EnsembleEngine.create(dir, await loadMemberDirectories(dir), tokenizer.padId, options);
}

/** A request's items once formatted, tokenized and queued (what `admit` hands back to `score`). */
interface Admitted {
  encoded: EncodedItem[];
  tokenizeMs: number;
  /** Settles when the queue has computed (or failed) every item. */
  queued: Promise<QueueResult>;
}

/** What a service is built from; ScoringService.create loads them. */
interface ServiceParts {
  directory: ModelDirectory;
  batching: BatchingOptions;
  formatter: InputFormatter;
  tokenizer: ModelTokenizer;
  engine: Engine;
  uwoLambda: number;
  observer?: BatchObserver;
}

/** One loaded model behind the shared batching queue: what every scoring route and command calls. */
export class ScoringService {
  /** What /v1/info reports about the model. */
  readonly info: ModelInfo;
  readonly directory: ModelDirectory;
  /** The dynamic batcher settings in force. */
  readonly batching: BatchingOptions;
  private readonly formatter: InputFormatter;
  private readonly tokenizer: ModelTokenizer;
  private readonly engine: Engine;
  private readonly queue: BatchQueue;
  /** The ensemble members the engine runs (empty for a single model). */
  private readonly memberNames: readonly string[];
  private readonly uwoLambda: number;
  /** Requests accepted before drain() and not yet queued: drain lets them reach the queue. */
  private readonly admitting = new Set<Promise<unknown>>();
  private drained?: Promise<void>;

  /** Load `modelDir` and start a service over it. Throws errors.model / a ConfigError for settings that do not fit the model. */
  static async create(modelDir: string, options: ScoringServiceOptions = {}): Promise<ScoringService> {
    const directory = await loadModelDirectory(modelDir);
    const batching = resolveBatchingOptions(options.batching);
    if (batching.max_batch_tokens < directory.maxLength) {
      throw errors.setting('max_batch_tokens', `${batching.max_batch_tokens} is below the model's max_length ${directory.maxLength}: one full-length item must fit a batch`, `raise it to at least ${directory.maxLength}`);
    }
    const formatter = new InputFormatter(directory, options.template);
    const tokenizer = await ModelTokenizer.load(directory);
    const defaultEngine = options.ensemble ? createEnsembleEngine : createOnnxEngine;
    let engine: Engine = await (options.createEngine ?? ((d, t) => defaultEngine(d, t, options.engine)))(directory, tokenizer);
    if (options.rewardCacheItems) engine = new RewardCachingEngine(engine, options.rewardCacheItems);
    const uwoLambda = options.uwoLambda ?? DEFAULT_UWO_LAMBDA;
    try {
      return new ScoringService({ directory, batching, formatter, tokenizer, engine, uwoLambda, observer: options.observer });
    } catch (err) {
      await engine.release(); // head_names that do not fit the graph
      throw err;
    }
  }

  private constructor(parts: ServiceParts) {
    const { directory: dir, engine } = parts;
    this.directory = dir;
    this.batching = parts.batching;
    this.formatter = parts.formatter;
    this.tokenizer = parts.tokenizer;
    this.engine = engine;
    this.uwoLambda = parts.uwoLambda;
    this.memberNames = engine.members ?? [];
    this.queue = new BatchQueue(engine, parts.batching, parts.observer);
    this.info = {
      name: dir.name,
      path: dir.path,
      max_length: dir.maxLength,
      padding_side: dir.paddingSide,
      members: dir.manifest.members.map((m) => ({ name: m.name, path: m.path })),
      merge: dir.manifest.merge,
      execution_provider: engine.executionProvider,
      inputs: [...engine.inputs],
      prefix_sharing: engine.prefixSharing ? { enabled: true, min_tokens: engine.prefixSharing.minTokens, cache_mb: engine.prefixSharing.cacheBytes / 2 ** 20 } : { enabled: false },
      reward_cache: { items: engine instanceof RewardCachingEngine ? engine.maxItems : 0 },
      head_names: headNames(dir, engine.headCount),
      ...(dir.headWeights ? { head_weights: [...dir.headWeights] } : {}),
      ...(this.memberNames.length > 0 ? { ensemble: { members: [...this.memberNames], uwo_lambda: parts.uwoLambda } } : {}),
    };
  }

  /** The prefix and reward caches' counters since start (for the metrics). */
  cacheStats(): { prefix?: PrefixStats; reward?: RewardCacheStats } {
    return { prefix: this.engine.prefixStats?.(), reward: this.engine instanceof RewardCachingEngine ? this.engine.stats : undefined };
  }

  /** Queue depth and batches in flight right now. */
  get stats(): QueueStats {
    return this.queue.stats;
  }

  /** Score items, results in request order; rejects with a WarmServeError (overloaded, queue_timeout, validation, engine...). */
  async score(items: ScoreInput[], opts: ScoreOptions = {}): Promise<ScoreResult> {
    if (this.drained) throw errors.draining();
    if (opts.signal?.aborted) throw errors.clientClosed(); // no tokenizing for a client that is gone
    const aggregate = opts.aggregate ?? 'warm';
    const withMembers = opts.returnMembers === true || aggregate !== 'warm';
    if (withMembers && this.memberNames.length === 0) {
      const [field, asked] = aggregate !== 'warm' ? ['aggregate', `'${aggregate}'`] : ['return_members', 'true'];
      throw errors.validation(field, `${asked} needs the ensemble members; start the server with --ensemble (WARM_SERVE_ENSEMBLE=true) to load the members listed in warm.json, or use aggregate 'warm' without return_members`);
    }
    const full = this.queue.refuseEarly(items.length);
    if (full) throw full;
    const admission = this.admit(items, opts, { members: withMembers, heads: opts.returnHeads === true });
    this.admitting.add(admission);
    const { encoded, tokenizeMs, queued } = await admission.finally(() => this.admitting.delete(admission));
    const result = await queued;
    return {
      items: encoded.map((e, i) => {
        const members = result.members?.map((m) => m[i]);
        const stats = members && memberStats(members);
        const reward = aggregateReward(aggregate, result.rewards[i], stats, this.uwoLambda);
        const scored: ScoredItem = { reward, truncated: e.truncated, tokens: e.ids.length };
        if (opts.returnMembers && members && stats) Object.assign(scored, { members, uncertainty: stats.variance });
        if (result.heads) scored.heads = Array.from(result.heads[i]);
        return scored;
      }),
      timings: { tokenize_ms: tokenizeMs, queue_ms: result.queueMs, inference_ms: result.inferenceMs },
    };
  }

  /**
   * The token ids each item is scored with (what the engine gets: special tokens, ensure_eos and
   * truncation applied), without scoring them: POST /tokenize.
   */
  async tokenize(items: ScoreInput[], opts: Pick<ScoreOptions, 'maxTokens'> = {}): Promise<EncodedItem[]> {
    if (this.drained) throw errors.draining();
    return this.tokenizer.encode(await this.formatter.formatAll(items), { maxLength: opts.maxTokens });
  }

  /** The vocabulary's piece for each id. */
  tokenStrings(ids: ArrayLike<number>): string[] {
    return this.tokenizer.tokenStrings(ids);
  }

  /** Format, tokenize, check lengths and enqueue; resolves once the items are in the queue. */
  private async admit(items: ScoreInput[], opts: ScoreOptions, outputs: { members: boolean; heads: boolean }): Promise<Admitted> {
    const start = performance.now();
    const inputs = await this.formatter.formatAll(items);
    // Exact lengths only where an error quotes them (up to EXACT_LENGTH_MAX_CHARS); otherwise long texts are encoded from their tail.
    const encoded = await this.tokenizer.encode(inputs, { exactLength: opts.truncate === false, maxLength: opts.maxTokens });
    if (opts.truncate === false) {
      const i = encoded.findIndex((e) => e.truncated);
      if (i >= 0) {
        throw errors.itemTooLong(i, encoded[i].fullLength, this.directory.maxLength, encoded[i].lengthExact);
      }
    }
    const tokenizeMs = performance.now() - start;
    return { encoded, tokenizeMs, queued: this.queue.submit(encoded.map((e) => e.ids), opts.signal, outputs.members, outputs.heads) };
  }

  /** Run one forward pass so the first request does not pay for initialisation. */
  async warmup(): Promise<void> {
    await this.formatter.warmup();
    // Straight to the engine: a real forward pass, without touching queue metrics.
    const [item] = await this.tokenizer.encode(['warm-up']);
    await this.engine.run([item.ids], { members: true });
  }

  /** Stop accepting new items, finish queued ones (within `timeoutMs`), then release the engine. */
  drain(timeoutMs: number): Promise<void> {
    this.drained ??= (async () => {
      const start = performance.now();
      await Promise.allSettled([...this.admitting]);
      await this.queue.drain(Math.max(0, timeoutMs - (performance.now() - start)));
      await Promise.all([this.engine.release(), this.formatter.close()]);
    })();
    return this.drained;
  }
}

/** The output's column names: warm.json head_names, else head_0 .. head_{n-1} for the n the graph or head_weights declare. */
function headNames(dir: ModelDirectory, columns: number | undefined): string[] {
  if (dir.headNames) {
    if (columns !== undefined && dir.headNames.length !== columns) {
      throw errors.model(join(dir.path, MANIFEST_FILE), `head_names names ${dir.headNames.length} heads but the model's output has ${columns} columns; give one name per column`);
    }
    return [...dir.headNames];
  }
  return Array.from({ length: columns ?? dir.headWeights?.length ?? 1 }, (_, h) => `head_${h}`);
}

/** A loaded service; the name callers used before ScoringService was a class. */
export type LoadedScoringService = ScoringService;

/** Load `modelDir` and start a scoring service over it: ScoringService.create. */
export function createScoringService(modelDir: string, options: ScoringServiceOptions = {}): Promise<ScoringService> {
  return ScoringService.create(modelDir, options);
}
