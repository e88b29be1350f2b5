/**
 * The scoring service: format -> tokenize -> shared batching queue -> engine, behind the
 * ScoringService contract (src/scoring/types.ts) that the HTTP layer and the CLI use.
 */
import { performance } from 'node:perf_hooks';
import { errors } from '../errors.js';
import type { BatchObserver } from '../batching/observer.js';
import { resolveBatchingOptions, type BatchingOptions } from '../batching/options.js';
import { BatchQueue, type QueueStats } from '../batching/queue.js';
import { loadModelDirectory, type ModelDirectory } from '../model/directory.js';
import type { Engine } from '../model/engine.js';
import { InputFormatter, type TemplateBudget } from '../model/format.js';
import { OnnxEngine, type OnnxEngineOptions } from '../model/onnx-engine.js';
import { ModelTokenizer } from '../model/tokenizer.js';
import { EnsembleEngine } from '../model/ensemble-engine.js';
import { loadMemberDirectories } from '../model/members.js';
import { aggregateReward, DEFAULT_UWO_LAMBDA, memberStats } from './aggregate.js';
import type { ModelInfo, ScoredItem, ScoreInput, ScoreOptions, ScoreResult, ScoringService } from './types.js';

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
  /** The chat template's rendering budget (default: 2 s per request). */
  template?: TemplateBudget;
}

/** A ScoringService with its loaded parts visible (for the CLI, eval and health checks). */
export interface LoadedScoringService extends ScoringService {
  readonly directory: ModelDirectory;
  readonly batching: BatchingOptions;
  /** Queue depth and batches in flight right now. */
  readonly stats: QueueStats;
}

/** The default engine: one onnxruntime session over the directory's model.onnx. */
export function createOnnxEngine(dir: ModelDirectory, tokenizer: ModelTokenizer, options?: OnnxEngineOptions): Promise<OnnxEngine> {
  return OnnxEngine.create(dir.modelFile, {
    padTokenId: tokenizer.padId,
    paddingSide: dir.paddingSide,
    normalization: dir.normalization,
  }, options);
}

/** The ensemble engine: the model and the members its manifest lists, over the same batches. */
export async function createEnsembleEngine(dir: ModelDirectory, tokenizer: ModelTokenizer, options?: OnnxEngineOptions): Promise<EnsembleEngine> {
  return EnsembleEngine.create(dir, await loadMemberDirectories(dir), tokenizer.padId, options);
}

/** Load `modelDir` and start a scoring service over it. Throws errors.model / errors.validation. */
export async function createScoringService(modelDir: string, options: ScoringServiceOptions = {}): Promise<LoadedScoringService> {
  const dir = await loadModelDirectory(modelDir);
  const batching = resolveBatchingOptions(options.batching);
  if (batching.max_batch_tokens < dir.maxLength) {
    throw errors.validation('max_batch_tokens', `${batching.max_batch_tokens} is below the model's max_length ${dir.maxLength}; one full-length item must fit a batch`);
  }
  const formatter = new InputFormatter(dir, options.template);
  const tokenizer = await ModelTokenizer.load(dir);
  const defaultEngine = options.ensemble ? createEnsembleEngine : createOnnxEngine;
  const engine: Engine = await (options.createEngine ?? ((d, t) => defaultEngine(d, t, options.engine)))(dir, tokenizer);
  const memberNames = engine.members ?? [];
  const uwoLambda = options.uwoLambda ?? DEFAULT_UWO_LAMBDA;
  const queue = new BatchQueue(engine, batching, options.observer);
  let drained: Promise<void> | undefined;

  const info: ModelInfo = {
    name: dir.name,
    path: dir.path,
    max_length: dir.maxLength,
    padding_side: dir.paddingSide,
    members: dir.manifest.members.map((m) => ({ name: m.name, path: m.path })),
    merge: dir.manifest.merge,
    execution_provider: engine.executionProvider,
    inputs: [...engine.inputs],
    ...(memberNames.length > 0 ? { ensemble: { members: [...memberNames], uwo_lambda: uwoLambda } } : {}),
  };

  /** Requests accepted before drain() and not yet queued: drain lets them reach the queue. */
  const admitting = new Set<Promise<unknown>>();

  /** Format, tokenize, check lengths and enqueue; resolves once the items are in the queue. */
  async function admit(items: ScoreInput[], opts: ScoreOptions, withMembers: boolean) {
    const start = performance.now();
    const texts = await formatter.formatAll(items);
    // Exact lengths only where an error quotes them; otherwise long texts are encoded from their tail.
    const encoded = await tokenizer.encode(texts, { exactLength: opts.truncate === false });
    if (opts.truncate === false) {
      const i = encoded.findIndex((e) => e.truncated);
      if (i >= 0) {
        throw errors.validation(`items[${i}]`, `${encoded[i].fullLength} tokens (special tokens included) exceed max_length ${dir.maxLength}; shorten the item or allow truncation (truncate: true)`);
      }
    }
    const tokenizeMs = performance.now() - start;
    return { encoded, tokenizeMs, queued: queue.submit(encoded.map((e) => e.ids), opts.signal, withMembers) };
  }

  async function score(items: ScoreInput[], opts: ScoreOptions = {}): Promise<ScoreResult> {
    if (drained) throw errors.draining();
    if (opts.signal?.aborted) throw errors.clientClosed(); // no tokenizing for a client that is gone
    const aggregate = opts.aggregate ?? 'warm';
    const withMembers = opts.returnMembers === true || aggregate !== 'warm';
    if (withMembers && memberNames.length === 0) {
      const [field, asked] = aggregate !== 'warm' ? ['aggregate', `'${aggregate}'`] : ['return_members', 'true'];
      throw errors.validation(field, `${asked} needs the ensemble members; start the server with --ensemble (WARM_SERVE_ENSEMBLE=true) to load the members listed in warm.json, or use aggregate 'warm' without return_members`);
    }
    const admission = admit(items, opts, withMembers);
    admitting.add(admission);
    const { encoded, tokenizeMs, queued } = await admission.finally(() => admitting.delete(admission));
    const result = await queued;
    return {
      items: encoded.map((e, i) => {
        const members = result.members?.map((m) => m[i]);
        const stats = members && memberStats(members);
        const reward = aggregateReward(aggregate, result.rewards[i], stats, uwoLambda);
        const scored: ScoredItem = { reward, truncated: e.truncated, tokens: e.ids.length };
        if (opts.returnMembers && members && stats) Object.assign(scored, { members, uncertainty: stats.variance });
        return scored;
      }),
      timings: { tokenize_ms: tokenizeMs, queue_ms: result.queueMs, inference_ms: result.inferenceMs },
    };
  }

  return {
    info,
    directory: dir,
    batching,
    get stats() {
      return queue.stats;
    },
    score,
    async warmup() {
      await formatter.warmup();
      // Straight to the engine: a real forward pass, without touching queue metrics.
      const [item] = await tokenizer.encode(['warm-up']);
      await engine.run([item.ids], { members: true });
    },
    drain(timeoutMs: number) {
      drained ??= (async () => {
        const start = performance.now();
        await Promise.allSettled([...admitting]);
        await queue.drain(Math.max(0, timeoutMs - (performance.now() - start)));
        await Promise.all([engine.release(), formatter.close()]);
      })();
      return drained;
    },
  };
}
