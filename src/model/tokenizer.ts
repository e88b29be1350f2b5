/**
 * Tokenization through HF's native `tokenizers` binding: the model's own tokenizer.json, its
 * post-processor for special tokens, batch encoding on the libuv thread pool (off the event
 * loop), then the service's own truncation so the END of each item survives.
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from 'tokenizers';
import { errors } from '../errors.js';
import type { ModelDirectory } from './directory.js';

/** One item ready for the engine. */
export interface EncodedItem {
  ids: Int32Array;
  /** Tokens were dropped to fit max_length. */
  truncated: boolean;
  /** Tokens before truncation (EOS included when ensure_eos adds it). */
  fullLength: number;
}

/** The model's tokenizer plus the length policy of its directory. */
export class ModelTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    /** Ids of the tokenizer's special added tokens (BOS, EOS, ...). */
    private readonly specialIds: ReadonlySet<number>,
    readonly maxLength: number,
    /** Appended by ensure_eos; undefined when ensure_eos is off. */
    readonly eosId: number | undefined,
    /** Fills the padded positions of a batch (masked out, but the graph still reads it). */
    readonly padId: number,
    readonly bosToken: string | undefined,
  ) {}

  /** Load tokenizer.json and resolve EOS / pad ids from the directory's special tokens. */
  static async load(dir: ModelDirectory): Promise<ModelTokenizer> {
    let tokenizer: Tokenizer;
    let specialIds: Set<number>;
    try {
      const json = JSON.parse(await readFile(dir.tokenizerFile, 'utf8')) as {
        added_tokens?: { id: number; special?: boolean }[];
      };
      specialIds = new Set((json.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
      tokenizer = Tokenizer.fromFile(dir.tokenizerFile);
    } catch (err) {
      throw errors.model(dir.tokenizerFile, `cannot load the tokenizer: ${(err as Error).message}`);
    }
    // The service truncates and pads itself; settings saved in tokenizer.json would interfere.
    tokenizer.disableTruncation();
    tokenizer.disablePadding();

    const idOf = (token: string | undefined) => (token === undefined ? undefined : (tokenizer.tokenToId(token) ?? undefined));
    const eosId = idOf(dir.eosToken) ?? dir.configEosTokenId;
    if (dir.ensureEos && eosId === undefined) {
      throw errors.model(dir.path, 'ensure_eos is set but tokenizer_config.json names no eos_token the tokenizer knows');
    }
    const padId = idOf(dir.padToken) ?? dir.configPadTokenId ?? eosId ?? 0;
    return new ModelTokenizer(tokenizer, specialIds, dir.maxLength, dir.ensureEos ? eosId : undefined, padId, dir.bosToken);
  }

  /**
   * Encode model texts (special tokens added by the tokenizer's post-processor, except for texts
   * that already start with the BOS token, e.g. from a chat template) and fit them to max_length.
   */
  async encode(texts: readonly string[]): Promise<EncodedItem[]> {
    const bos = this.bosToken;
    const withSpecials: number[] = [];
    const verbatim: number[] = [];
    texts.forEach((text, i) => (bos && text.startsWith(bos) ? verbatim : withSpecials).push(i));
    const out = new Array<EncodedItem>(texts.length);
    const run = async (indices: number[], addSpecialTokens: boolean) => {
      if (indices.length === 0) return;
      const encodings = await this.tokenizer.encodeBatch(indices.map((i) => texts[i]), { addSpecialTokens });
      encodings.forEach((e, k) => (out[indices[k]] = this.fit(e.getIds())));
    };
    await Promise.all([run(withSpecials, true), run(verbatim, false)]);
    return out;
  }

  /**
   * Truncate to max_length keeping the leading special tokens and the end of the sequence: the
   * tokens right after BOS go first, so a long prompt is cut from the left and the completion
   * (what the reward judges) stays. ensure_eos appends EOS when it is not already last.
   */
  fit(ids: readonly number[]): EncodedItem {
    const addEos = this.eosId !== undefined && ids[ids.length - 1] !== this.eosId;
    const fullLength = ids.length + (addEos ? 1 : 0);
    const budget = this.maxLength - (addEos ? 1 : 0);
    let kept: Int32Array;
    if (ids.length <= budget) {
      kept = new Int32Array(fullLength);
      kept.set(ids);
    } else {
      let lead = 0;
      while (lead < ids.length && this.specialIds.has(ids[lead])) lead++;
      lead = Math.min(lead, Math.max(0, budget - 1));
      kept = new Int32Array(this.maxLength);
      kept.set(ids.slice(0, lead));
      kept.set(ids.slice(ids.length - (budget - lead)), lead);
    }
    if (addEos) kept[kept.length - 1] = this.eosId!;
    return { ids: kept, truncated: ids.length > budget, fullLength };
  }
}
