/**
 * Scoring a batch with shared prefixes, on the thread that owns the onnxruntime session (its
 * worker, or the main thread for a short pass on an idle session, session-thread.ts): the
 * plan (prefix-plan.ts) is carried out as up to three kinds of pass, each fetching only what it
 * needs:
 *   1. the prefixes to compute, as one batch with an empty past, fetching the present keys and
 *      values; each row's real positions become a cache entry;
 *   2. one pass per past: the rows' remaining tokens with that past fed at batch 1 (the graph
 *      broadcasts it over the rows), fetching the reward output;
 *   3. the items that share nothing, whole, with an empty past.
 * The pasts stay on that thread: the worker's never cross to the event loop. A float16 graph's
 * pasts stay float16 (bit patterns, session-tensors.ts) and its reward output is read as float32
 * exactly.
 */
import * as ort from 'onnxruntime-node';
import type { FeedableInput, PastSpec } from './graph.js';
import { padBatch, paddedBuffer, type PaddedBatch, type PaddingLayout } from './padded-batch.js';
import { pastSlice, PrefixCache, RecentSequences, type PrefixEntry, type PrefixSharing, type PrefixStats } from './prefix-cache.js';
import { planBatch } from './prefix-plan.js';
import { floatArray, floatTensor, floatValues, newFloatArray, type FloatArray } from './session-tensors.js';

/** How many recent items' ids are remembered to spot a prefix's second sighting. */
const RECENT_ITEMS = 1024;

/** The empty past of a plain pass: [1, kv_heads, 0, head_dim] per past input (the graph broadcasts batch 1), in the past's type. */
export function emptyPast(spec: PastSpec): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of spec.inputs) feeds[name] = floatTensor(spec.type, newFloatArray(spec.type, 0), [1, spec.kvHeads, 0, spec.headDim]);
  return feeds;
}

/** The int64 input tensors of a padded batch, for the inputs the graph declares. */
export function tokenFeeds(padded: PaddedBatch, inputs: readonly FeedableInput[], maskWidth = padded.seq): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of inputs) {
    feeds[name] = new ort.Tensor('int64', paddedBuffer(padded, name)!, [padded.batch, name === 'attention_mask' ? maskWidth : padded.seq]);
  }
  return feeds;
}

/**
 * One plain pass over int64 [batch, seq] buffers (an empty past added when the graph takes one),
 * fetching only `output`, as float32: the worker's and the inline session's plain passes.
 */
export async function plainPass(
  session: ort.InferenceSession,
  past: PastSpec | undefined,
  buffers: Record<string, BigInt64Array>,
  dims: readonly number[],
  output: string,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const feeds: Record<string, ort.Tensor> = past ? emptyPast(past) : {};
  for (const [name, data] of Object.entries(buffers)) feeds[name] = new ort.Tensor('int64', data, dims);
  const out = (await session.run(feeds, [output]))[output];
  return { data: floatValues(out), dims: out.dims };
}

/** Scores batches through a past-taking graph, sharing prefixes within and across batches. */
export class PrefixScorer {
  private readonly cache: PrefixCache;
  private readonly recent: RecentSequences;
  private readonly feedSet: ReadonlySet<string>;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly spec: PastSpec,
    private readonly inputs: readonly FeedableInput[],
    private readonly output: string,
    private readonly layout: PaddingLayout,
    sharing: PrefixSharing,
  ) {
    this.cache = new PrefixCache(sharing.cacheBytes, sharing.minTokens);
    this.recent = new RecentSequences(RECENT_ITEMS, sharing.minTokens);
    this.feedSet = new Set(inputs);
  }

  get stats(): PrefixStats {
    return { ...this.cache.counters, bytes: this.cache.bytes, entries: this.cache.entries };
  }

  /** The reward output for `sequences`, [batch, n] row-major, in order. */
  async score(sequences: readonly Int32Array[]): Promise<{ data: Float32Array; dims: number[] }> {
    const plan = planBatch(sequences, this.cache, this.recent);
    let stride = 0;
    let data = new Float32Array(0);
    const write = (rows: readonly number[], out: ort.Tensor) => {
      const width = out.dims[1];
      if (stride === 0) {
        stride = width;
        data = new Float32Array(sequences.length * stride);
      }
      const values = floatValues(out);
      rows.forEach((row, k) => data.set(values.subarray(k * width, (k + 1) * width), row * stride));
    };

    const computed = await this.computePrefixes(plan.compute.map(({ item, length }) => sequences[item].subarray(0, length)));
    for (const group of plan.groups) {
      const entry = typeof group.past === 'number' ? computed[group.past] : group.past;
      const suffixes = group.rows.map((row) => sequences[row].subarray(group.length));
      write(group.rows, await this.runSuffixes(suffixes, pastSlice(entry, group.length, this.spec.kvHeads, this.spec.headDim), group.length));
      this.cache.counters.tokensReused += group.rows.length * group.length;
    }
    for (const { length } of plan.compute) this.cache.counters.tokensReused -= length;
    if (plan.whole.length > 0) write(plan.whole, await this.runSuffixes(plan.whole.map((row) => sequences[row]), [], 0));
    return { data, dims: [sequences.length, stride] };
  }

  /** One pass over the prefixes with an empty past; each row's keys and values become an entry (cached when it fits). */
  private async computePrefixes(prefixes: readonly Int32Array[]): Promise<PrefixEntry[]> {
    if (prefixes.length === 0) return [];
    const padded = padBatch(prefixes, this.layout, this.feedSet);
    const outputs = await this.session.run({ ...tokenFeeds(padded, this.inputs), ...emptyPast(this.spec) }, this.spec.outputs);
    const { kvHeads, headDim } = this.spec;
    return prefixes.map((ids, row) => {
      const length = ids.length;
      const offset = this.layout.paddingSide === 'left' ? padded.seq - length : 0;
      const past = this.spec.outputs.map((name) => {
        const present = floatArray(outputs[name]);
        const out = newFloatArray(this.spec.type, kvHeads * length * headDim);
        for (let h = 0; h < kvHeads; h++) {
          const from = ((row * kvHeads + h) * padded.seq + offset) * headDim;
          out.set(present.subarray(from, from + length * headDim), h * length * headDim);
        }
        return out;
      });
      const entry: PrefixEntry = { ids: ids.slice(), past, bytes: ids.byteLength + past.reduce((sum, a) => sum + a.byteLength, 0) };
      this.cache.insert(entry);
      return entry;
    });
  }

  /** One pass over `rows` after a past of `pastLength` positions (none: an empty past). */
  private async runSuffixes(rows: readonly Int32Array[], past: readonly FloatArray[], pastLength: number): Promise<ort.Tensor> {
    const padded = padBatch(rows, this.layout, this.feedSet);
    const feeds = pastLength === 0 ? emptyPast(this.spec) : this.pastFeeds(past, pastLength);
    Object.assign(feeds, tokenFeeds(pastLength === 0 ? padded : extendByPast(padded, pastLength), this.inputs, padded.seq + pastLength));
    const outputs = await this.session.run(feeds, [this.output]);
    return outputs[this.output];
  }

  private pastFeeds(past: readonly FloatArray[], length: number): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    this.spec.inputs.forEach((name, k) => (feeds[name] = floatTensor(this.spec.type, past[k], [1, this.spec.kvHeads, length, this.spec.headDim])));
    return feeds;
  }
}

/** The padded suffixes with the mask widened by `length` past positions (all real) and positions continuing from the past. */
function extendByPast(padded: PaddedBatch, length: number): PaddedBatch {
  const { batch, seq } = padded;
  const width = length + seq;
  const mask = new BigInt64Array(batch * width);
  const mask32 = new Int32Array(mask.buffer);
  const suffixMask32 = new Int32Array(padded.mask.buffer);
  for (let r = 0; r < batch; r++) {
    for (let k = 0; k < length; k++) mask32[2 * (r * width + k)] = 1;
    for (let k = 0; k < seq; k++) mask32[2 * (r * width + length + k)] = suffixMask32[2 * (r * seq + k)];
  }
  let positions = padded.positions;
  if (positions) {
    positions = positions.slice();
    const positions32 = new Int32Array(positions.buffer);
    for (let k = 0; k < batch * seq; k++) if (suffixMask32[2 * k]) positions32[2 * k] += length;
  }
  return { ...padded, mask, positions };
}
