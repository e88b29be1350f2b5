/**
 * The Engine over onnxruntime-node: one InferenceSession, fed only the inputs the graph declares.
 * Tensors are built in place (one BigInt64Array per input) and reward = logits[:, 0] (or
 * warm.json head_weights · logits[i] for a multi-head model), normalised.
 * The session lives on a worker thread (session-thread.ts) so forward passes do not block the
 * event loop.
 */
import { errors } from '../errors.js';
import type { Device } from './device.js';
import type { InlinePolicy } from './inline-policy.js';
import { ThreadSession, type SessionOutput } from './session-thread.js';
import type { Engine, RunOptions } from './engine.js';
import { checkGraph, type FeedableInput, type GraphSignature } from './graph.js';
import type { Normalization } from './manifest.js';
import { LITTLE_ENDIAN, padBatch, paddedBuffer, type PaddedBatch, type PaddingLayout } from './padded-batch.js';
import { noPrefixStats, type PrefixSharing, type PrefixStats } from './prefix-cache.js';

/** onnxruntime session settings. */
export interface OnnxEngineOptions {
  /** Threads inside one operator (0: onnxruntime picks, one per core). */
  intraOpThreads?: number;
  /** Threads across independent operators (only used by parallel execution). */
  interOpThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let idle intra-op threads spin waiting for work. Off by default: on shared or busy CPUs
   * spinning threads steal the cores the other threads need (measured ~3x slower, bench/).
   */
  allowSpinning?: boolean;
  /** Where to run (src/model/device.ts); default cpu. */
  device?: Device;
  /** When a short pass runs on the calling thread instead of the worker (inline-policy.ts); default DEFAULT_INLINE_POLICY. */
  inline?: InlinePolicy;
  /** Share prefixes when the graph takes a past (undefined: never; graphs without a past ignore it). */
  prefixSharing?: PrefixSharing;
}

/** How the engine lays out a batch and post-processes its output. */
export interface BatchLayout extends PaddingLayout {
  normalization?: Normalization;
  /** warm.json head_weights: reward = head_weights · output row; undefined: column 0. */
  headWeights?: readonly number[];
}

/** The output's column count when the graph declares it as a number. */
function declaredColumns(metadata: readonly { name: string; isTensor: boolean; shape?: ReadonlyArray<number | string> }[], output: string): number | undefined {
  const info = metadata.find((m) => m.name === output);
  const last = info?.isTensor ? info.shape?.at(-1) : undefined;
  return typeof last === 'number' && last > 0 ? last : undefined;
}

/** An Engine backed by one onnxruntime InferenceSession. */
export class OnnxEngine implements Engine {
  readonly inputs: readonly FeedableInput[];
  /** The inputs as a set, for padBatch. */
  readonly feeds: ReadonlySet<FeedableInput>;

  private constructor(
    private readonly session: ThreadSession,
    private readonly signature: GraphSignature,
    private readonly layout: BatchLayout,
    readonly executionProvider: string,
    readonly prefixSharing: PrefixSharing | undefined,
    /** Output columns as the graph declares them (undefined when symbolic). */
    readonly headCount: number | undefined,
  ) {
    this.inputs = signature.inputs;
    this.feeds = new Set(signature.inputs);
  }

  /** Whether the graph takes past keys and values (so it can share prefixes). */
  get takesPast(): boolean {
    return this.signature.past !== undefined;
  }

  prefixStats(): PrefixStats | undefined {
    return this.prefixSharing ? (this.session.prefixStats ?? noPrefixStats()) : undefined;
  }

  /** Open `modelFile` and check its signature; errors.model on failure. */
  static async create(modelFile: string, layout: BatchLayout, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    if (!LITTLE_ENDIAN) throw errors.model(modelFile, 'big-endian hosts are not supported');
    const session = await ThreadSession.open(modelFile, options.device ?? 'cpu', {
      intraOpNumThreads: options.intraOpThreads ?? 0,
      interOpNumThreads: options.interOpThreads ?? 0,
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      executionMode: 'sequential',
      extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } },
    }, options.inline);
    const executionProvider = session.device;
    try {
      const signature = checkGraph(modelFile, session.inputMetadata, session.outputMetadata);
      const heads = declaredColumns(session.outputMetadata, signature.output);
      const weights = layout.headWeights?.length;
      if (weights !== undefined && heads !== undefined && weights !== heads) {
        throw errors.model(modelFile, `warm.json head_weights has ${weights} weights but output '${signature.output}' has ${heads} columns; give one weight per column`);
      }
      const sharing = signature.past && options.prefixSharing;
      if (sharing) session.share({ ...sharing, inputs: signature.inputs, output: signature.output, layout: { padTokenId: layout.padTokenId, paddingSide: layout.paddingSide } });
      return new OnnxEngine(session, signature, layout, executionProvider, sharing || undefined, heads);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  async run(sequences: readonly Int32Array[], options: RunOptions = {}): Promise<Float32Array> {
    if (!this.prefixSharing) return this.runPadded(padBatch(sequences, this.layout, this.feeds), options);
    let output: SessionOutput;
    try {
      output = await this.session.score([...sequences]);
    } catch (err) {
      throw errors.engine(`onnxruntime run failed on a batch of ${sequences.length} items (prefix sharing): ${(err as Error).message}`, err);
    }
    return this.rewards(output, sequences.length, options.heads === true);
  }

  /** Score an already padded batch (shared with other sessions in ensemble mode). */
  async runPadded(padded: PaddedBatch, options: RunOptions = {}): Promise<Float32Array> {
    const { batch, seq } = padded;
    const dims = [batch, seq];
    const feeds: Record<string, BigInt64Array> = {};
    for (const name of this.inputs) {
      const data = paddedBuffer(padded, name);
      if (!data) throw errors.engine(`the batch has no ${name}, which this graph needs`);
      feeds[name] = data;
    }

    let output: SessionOutput;
    try {
      output = await this.session.run(feeds, dims, this.signature.output);
    } catch (err) {
      throw errors.engine(`onnxruntime run failed on a batch of ${batch}x${seq}: ${(err as Error).message}`, err);
    }
    return this.rewards(output, batch, options.heads === true);
  }

  /**
   * Reward = output[:, 0] (or head_weights · output[i]), normalised, then with `heads` every
   * row as it is (Engine.run's layout); checks the output's shape and finiteness. Both the plain
   * and the prefix-sharing path hand the whole [batch, n] output here.
   */
  private rewards(output: SessionOutput, batch: number, heads: boolean): Float32Array {
    const logits = output.data;
    const stride = output.dims[output.dims.length - 1];
    if (output.dims[0] !== batch || logits.length !== batch * stride) {
      throw errors.engine(`output '${this.signature.output}' has shape [${output.dims.join(', ')}] for a batch of ${batch}`);
    }
    const weights = this.layout.headWeights;
    if (weights && weights.length !== stride) {
      throw errors.engine(`output '${this.signature.output}' has ${stride} columns but warm.json head_weights has ${weights.length} weights`);
    }
    const mean = this.layout.normalization?.mean ?? 0;
    const std = this.layout.normalization?.std ?? 1;
    const rewards = new Float32Array(heads ? batch * (1 + stride) : batch);
    for (let i = 0; i < batch; i++) {
      let logit = logits[i * stride];
      if (weights) {
        logit = 0;
        for (let h = 0; h < stride; h++) logit += weights[h] * logits[i * stride + h];
      }
      const reward = (logit - mean) / std;
      if (!Number.isFinite(reward)) throw errors.engine(`the model produced a non-finite reward (${reward}) for batch item ${i}`);
      rewards[i] = reward;
    }
    if (heads) rewards.set(logits, batch);
    return rewards;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
