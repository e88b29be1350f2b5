/**
 * The Engine over onnxruntime-node: one InferenceSession, fed only the inputs the graph declares.
 * Tensors are built in place (one BigInt64Array per input) and reward = logits[:, 0], normalised.
 */
import { endianness } from 'node:os';
import * as ort from 'onnxruntime-node';
import { errors } from '../errors.js';
import type { Engine } from './engine.js';
import { checkGraph, type FeedableInput, type GraphSignature } from './graph.js';
import type { Normalization } from './manifest.js';

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
  /** onnxruntime execution provider name; 'cpu' today, a GPU provider later. */
  executionProvider?: string;
}

/** How the engine lays out a batch and post-processes its output. */
export interface BatchLayout {
  padTokenId: number;
  paddingSide: 'left' | 'right';
  normalization?: Normalization;
}

// Token ids are written through an Int32Array view of each int64 buffer (low word = id, high
// word = 0): ~10x faster than BigInt conversion per token. Valid on little-endian hosts only.
const LITTLE_ENDIAN = endianness() === 'LE';

/** An Engine backed by one onnxruntime InferenceSession. */
export class OnnxEngine implements Engine {
  readonly inputs: readonly FeedableInput[];
  private readonly feeds: ReadonlySet<FeedableInput>;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly signature: GraphSignature,
    private readonly layout: BatchLayout,
    readonly executionProvider: string,
  ) {
    this.inputs = signature.inputs;
    this.feeds = new Set(signature.inputs);
  }

  /** Open `modelFile` and check its signature; errors.model on failure. */
  static async create(modelFile: string, layout: BatchLayout, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    if (!LITTLE_ENDIAN) throw errors.model(modelFile, 'big-endian hosts are not supported');
    const executionProvider = options.executionProvider ?? 'cpu';
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelFile, {
        executionProviders: [executionProvider],
        intraOpNumThreads: options.intraOpThreads ?? 0,
        interOpNumThreads: options.interOpThreads ?? 0,
        graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
        executionMode: 'sequential',
        extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } },
      });
    } catch (err) {
      throw errors.model(modelFile, `onnxruntime cannot load the graph (external weights must sit beside it as model.onnx_data): ${(err as Error).message}`);
    }
    try {
      const signature = checkGraph(modelFile, session.inputMetadata, session.outputMetadata);
      return new OnnxEngine(session, signature, layout, executionProvider);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  async run(sequences: readonly Int32Array[]): Promise<Float32Array> {
    const batch = sequences.length;
    let seq = 0;
    for (const s of sequences) seq = Math.max(seq, s.length);
    const dims = [batch, seq];
    const size = batch * seq;
    const ids = new BigInt64Array(size);
    const mask = new BigInt64Array(size);
    const ids32 = new Int32Array(ids.buffer);
    const mask32 = new Int32Array(mask.buffer);
    const positions = this.feeds.has('position_ids') ? new BigInt64Array(size) : undefined;
    const positions32 = positions && new Int32Array(positions.buffer);
    const pad = this.layout.padTokenId;
    const left = this.layout.paddingSide === 'left';

    for (let i = 0; i < batch; i++) {
      const s = sequences[i];
      const row = i * seq;
      const start = row + (left ? seq - s.length : 0);
      for (let k = row; k < row + seq; k++) {
        ids32[2 * k] = pad;
        // Padded positions as transformers fills them (masked anyway).
        if (positions32) positions32[2 * k] = 1;
      }
      for (let j = 0; j < s.length; j++) {
        const k = 2 * (start + j);
        ids32[k] = s[j];
        mask32[k] = 1;
        // Positions count real tokens only, so left padding does not shift them.
        if (positions32) positions32[k] = j;
      }
    }

    const feeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputs) {
      const data = name === 'input_ids' ? ids : name === 'attention_mask' ? mask : name === 'position_ids' ? positions! : new BigInt64Array(size);
      feeds[name] = new ort.Tensor('int64', data, dims);
    }

    let output: ort.Tensor;
    try {
      output = (await this.session.run(feeds))[this.signature.output] as ort.Tensor;
    } catch (err) {
      throw errors.engine(`onnxruntime run failed on a batch of ${batch}x${seq}: ${(err as Error).message}`, err);
    }
    const logits = output.data as Float32Array;
    const stride = output.dims[output.dims.length - 1];
    if (output.dims[0] !== batch || logits.length !== batch * stride) {
      throw errors.engine(`output '${this.signature.output}' has shape [${output.dims.join(', ')}] for a batch of ${batch}`);
    }
    const mean = this.layout.normalization?.mean ?? 0;
    const std = this.layout.normalization?.std ?? 1;
    const rewards = new Float32Array(batch);
    for (let i = 0; i < batch; i++) {
      const reward = (logits[i * stride] - mean) / std;
      if (!Number.isFinite(reward)) throw errors.engine(`the model produced a non-finite reward (${reward}) for batch item ${i}`);
      rewards[i] = reward;
    }
    return rewards;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
