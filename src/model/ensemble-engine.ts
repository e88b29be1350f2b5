/**
 * The ensemble engine (`serve --ensemble`): the merged (WARM) model and its M members, one
 * onnxruntime session each, over the same padded batch. The members run only for batches that
 * carry an item asking for them, so warm-only traffic costs what it costs without --ensemble.
 */
import { readFile } from 'node:fs/promises';
import { errors } from '../errors.js';
import type { ModelDirectory } from './directory.js';
import type { Engine, RunOptions } from './engine.js';
import { OnnxEngine, type OnnxEngineOptions } from './onnx-engine.js';
import { padBatch, type PaddingLayout } from './padded-batch.js';
import { sumPrefixStats, type PrefixSharing, type PrefixStats } from './prefix-cache.js';

/** The merged model plus its members, scoring the same tensors. */
export class EnsembleEngine implements Engine {
  readonly inputs: readonly string[];
  readonly executionProvider: string;
  readonly members: readonly string[];
  /** Inputs any session takes: the padded batch carries all of them. */
  private readonly feeds: ReadonlySet<string>;

  private constructor(
    private readonly model: OnnxEngine,
    private readonly memberEngines: readonly OnnxEngine[],
    memberNames: readonly string[],
    private readonly layout: PaddingLayout,
    /** Prefix sharing as configured (the budget of all sessions together), when the graphs take a past. */
    readonly prefixSharing: PrefixSharing | undefined,
  ) {
    this.executionProvider = model.executionProvider;
    this.members = memberNames;
    this.feeds = new Set([model, ...memberEngines].flatMap((e) => [...e.feeds]));
    this.inputs = [...this.feeds];
  }

  /**
   * Open the model's session and one per member. Members must share the model's tokenizer and
   * padding side (items are tokenized and padded once) and accept at least its max_length;
   * each keeps its own normalisation (`dir.normalization`, already resolved by loadMemberDirectories).
   */
  static async create(
    model: ModelDirectory,
    members: readonly ModelDirectory[],
    padTokenId: number,
    options: OnnxEngineOptions = {},
  ): Promise<EnsembleEngine> {
    if (members.length === 0) {
      throw errors.model(model.path, 'ensemble mode needs members, but warm.json lists none (add "members": [{"name", "path"}], or serve without --ensemble)');
    }
    const tokenizer = await readFile(model.tokenizerFile);
    for (const member of members) {
      if (!tokenizer.equals(await readFile(member.tokenizerFile))) {
        throw errors.model(member.path, `member '${member.name}': tokenizer.json differs from the model's; ensemble members must share the model's tokenizer`);
      }
      if (member.paddingSide !== model.paddingSide) {
        throw errors.model(member.path, `member '${member.name}': padding side '${member.paddingSide}' differs from the model's '${model.paddingSide}'`);
      }
      if (member.maxLength < model.maxLength) {
        throw errors.model(member.path, `member '${member.name}': max_length ${member.maxLength} is below the model's ${model.maxLength}`);
      }
    }
    const layout: PaddingLayout = { padTokenId, paddingSide: model.paddingSide };
    const opened: OnnxEngine[] = [];
    // prefix_cache_mb bounds all the caches together: each session (the model and every member) gets an equal share.
    const sharing = options.prefixSharing;
    const perSession = sharing && { ...sharing, cacheBytes: Math.floor(sharing.cacheBytes / (members.length + 1)) };
    try {
      for (const dir of [model, ...members]) {
        opened.push(await OnnxEngine.create(dir.modelFile, { ...layout, normalization: dir.normalization, headWeights: dir.headWeights }, { ...options, prefixSharing: perSession }));
      }
    } catch (err) {
      await Promise.all(opened.map((e) => e.release()));
      throw err;
    }
    return new EnsembleEngine(opened[0], opened.slice(1), members.map((m) => m.name), layout, opened[0].prefixSharing && sharing);
  }

  /** The merged model's heads (return_heads reports the model's, not the members'). */
  get headCount(): number | undefined {
    return this.model.headCount;
  }

  /** Every session's prefix cache (the model's and each member's) summed. */
  prefixStats(): PrefixStats | undefined {
    return sumPrefixStats([this.model, ...this.memberEngines].map((e) => e.prefixStats()));
  }

  async run(sequences: readonly Int32Array[], options: RunOptions = {}): Promise<Float32Array> {
    // With prefix sharing each session plans the batch against its own cache of pasts; without,
    // every session scores the same padded tensors.
    const padded = this.model.prefixSharing ? undefined : padBatch(sequences, this.layout, this.feeds);
    const score = (engine: OnnxEngine, heads = false) => (padded ? engine.runPadded(padded, { heads }) : engine.run(sequences, { heads }));
    const model = await score(this.model, options.heads);
    if (!options.members) return model;
    const batch = sequences.length;
    const members = batch * this.memberEngines.length;
    // The model's rewards, each member's, then the model's heads when asked (Engine.run's layout).
    const out = new Float32Array(model.length + members);
    out.set(model.subarray(0, batch), 0);
    // One session after another: on CPU each already uses every core, so running them at once only adds contention.
    for (let k = 0; k < this.memberEngines.length; k++) {
      out.set(await score(this.memberEngines[k]), (k + 1) * batch);
    }
    out.set(model.subarray(batch), batch + members);
    return out;
  }

  async release(): Promise<void> {
    await Promise.all([this.model, ...this.memberEngines].map((e) => e.release()));
  }
}
