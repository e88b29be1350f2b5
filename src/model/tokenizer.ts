/**
 * Tokenization through HF's native `tokenizers` binding: the model's own tokenizer.json, its
 * post-processor for special tokens, batch encoding on the libuv thread pool (off the event
 * loop), then the service's own truncation so the END of each item survives. Token ids a client
 * sends are checked against the vocabulary and truncated the same way, nothing added.
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from 'tokenizers';
import { jsonErrorPosition } from '../config/json-position.js';
import { errors } from '../errors.js';
import type { ModelDirectory } from './directory.js';
import { tailOf, tailRule, type TailRule } from './tokenizer-tail.js';

// ~1.8 characters per token on the preference data with the reference tokenizer: a tail of 3
// characters per kept token is long enough for nearly every text on the first try.
const TAIL_CHARS_PER_TOKEN = 3;

/**
 * Longest text whose length is made exact when asked (exactLength): a full encode costs time
 * and memory in proportion (1 MiB: ~1.9 s and ~260 MB on a busy 2-core machine), so a longer
 * text is encoded from its tail and its length is a lower bound. 32 Ki characters, the per-item
 * limit before long rollouts were accepted.
 */
export const EXACT_LENGTH_MAX_CHARS = 32768;

/** What the model reads for one item: its text, or token ids sent as they are to be scored. */
export type ModelInput = string | readonly number[];

/** One item ready for the engine. */
export interface EncodedItem {
  ids: Int32Array;
  /** Tokens were dropped to fit max_length. */
  truncated: boolean;
  /**
   * Tokens before truncation (EOS included when ensure_eos adds it); when the item was encoded
   * from a tail (lengthExact false), a lower bound that already exceeds max_length.
   */
  fullLength: number;
  lengthExact: boolean;
}

/** Options of ModelTokenizer.encode. */
export interface EncodeOptions {
  /**
   * fullLength must be exact (default), e.g. to quote it in an error, for texts up to
   * EXACT_LENGTH_MAX_CHARS characters. false lets any long text be encoded from its tail only;
   * ids and truncated are the same either way.
   */
  exactLength?: boolean;
  /** Keep at most this many tokens (below the model's max_length: vLLM's truncate_prompt_tokens). Default max_length. */
  maxLength?: number;
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
    /** Set when tail encoding is provably exact for this tokenizer (tokenizer-tail.ts). */
    readonly tailRule: TailRule | undefined,
  ) {}

  /** Ids below this are in the vocabulary (added tokens included). */
  get vocabSize(): number {
    return this.tokenizer.getVocabSize(true);
  }

  /** The vocabulary's piece for each id (vLLM's /tokenize token_strs). */
  tokenStrings(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (id) => this.tokenizer.idToToken(id) ?? '');
  }

  /** Load tokenizer.json and resolve EOS / pad ids from the directory's special tokens. */
  static async load(dir: ModelDirectory): Promise<ModelTokenizer> {
    let tokenizer: Tokenizer;
    let specialIds: Set<number>;
    let rule: TailRule | undefined;
    try {
      const text = await readFile(dir.tokenizerFile, 'utf8');
      let json: Parameters<typeof tailRule>[0];
      try {
        json = JSON.parse(text);
      } catch {
        // Position only: the parser's message quotes the file.
        throw new Error(`tokenizer.json is not valid JSON at ${jsonErrorPosition(text)}`);
      }
      specialIds = new Set((json.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
      const tail = tailRule(json);
      rule = 'rule' in tail ? tail.rule : undefined;
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
    return new ModelTokenizer(tokenizer, specialIds, dir.maxLength, dir.ensureEos ? eosId : undefined, padId, dir.bosToken, rule);
  }

  /**
   * Encode model texts (special tokens added by the tokenizer's post-processor, except for texts
   * that already start with the BOS token, e.g. from a chat template) and fit them to max_length;
   * fit token ids as they are (no special tokens, no ensure_eos), after checking each is in the
   * vocabulary (422 naming `items[i].input_ids[k]`). With exactLength false, a long text is
   * encoded from a tail of TAIL_CHARS_PER_TOKEN x max_length characters when the tokenizer allows
   * it (a longer one when that gave too few tokens): for long texts most of the encoding is
   * thrown away by the left truncation.
   */
  async encode(inputs: readonly ModelInput[], options: EncodeOptions = {}): Promise<EncodedItem[]> {
    const maxLength = Math.min(options.maxLength ?? this.maxLength, this.maxLength);
    const bos = this.bosToken;
    const withSpecials: number[] = [];
    const verbatim: number[] = [];
    const out = new Array<EncodedItem>(inputs.length);
    inputs.forEach((input, i) => {
      if (typeof input !== 'string') out[i] = this.fitIds(input, i, maxLength);
      else (bos && input.startsWith(bos) ? verbatim : withSpecials).push(i);
    });
    const texts = inputs as readonly string[];
    const rule = this.tailRule;
    const exact = (text: string) => options.exactLength !== false && text.length <= EXACT_LENGTH_MAX_CHARS;
    const run = async (indices: number[], addSpecialTokens: boolean) => {
      // The window grows for a tail that held fewer than maxLength model tokens; a window that
      // covers the whole text encodes it in full (tailOf returns undefined).
      let pending = indices.map((i) => ({ i, window: TAIL_CHARS_PER_TOKEN * maxLength }));
      while (pending.length > 0) {
        const tails = pending.map(({ i, window }) => (rule && addSpecialTokens && !exact(texts[i]) ? tailOf(rule, texts[i], window) : undefined));
        const encodings = await this.tokenizer.encodeBatch(pending.map(({ i }, k) => tails[k] ?? texts[i]), { addSpecialTokens });
        const retry: typeof pending = [];
        encodings.forEach((e, k) => {
          const ids = e.getIds();
          const { i, window } = pending[k];
          if (tails[k] === undefined) out[i] = this.fit(ids, { maxLength });
          // More model tokens than maxLength: the full text's kept tokens are all in the tail.
          else if (ids.length - rule!.templateLength > maxLength) out[i] = { ...this.fit(ids, { maxLength }), lengthExact: false };
          else retry.push({ i, window: 2 * window });
        });
        pending = retry;
      }
    };
    await Promise.all([run(withSpecials, true), run(verbatim, false)]);
    return out;
  }

  /** Token ids of item `index` fitted as they are; 422 naming the first id outside the vocabulary. */
  private fitIds(ids: readonly number[], index: number, maxLength: number): EncodedItem {
    const vocab = this.vocabSize;
    const bad = ids.findIndex((id) => id >= vocab);
    if (bad >= 0) {
      throw errors.validation(['items', index, 'input_ids', bad], `token id ${ids[bad]} is outside the model's vocabulary of ${vocab} ids (0 to ${vocab - 1})`, 'send ids from the model\'s tokenizer (POST /tokenize gives them)');
    }
    return this.fit(ids, { maxLength, eos: false });
  }

  /**
   * Truncate to max_length (or `maxLength`) keeping the leading special tokens and the end of the
   * sequence: the tokens right after BOS go first, so a long prompt is cut from the left and the
   * completion (what the reward judges) stays. ensure_eos appends EOS when it is not already last
   * (unless `eos` is false: ids a client sent are scored as given).
   */
  fit(ids: readonly number[], { maxLength = this.maxLength, eos = true }: { maxLength?: number; eos?: boolean } = {}): EncodedItem {
    const addEos = eos && this.eosId !== undefined && ids[ids.length - 1] !== this.eosId;
    const fullLength = ids.length + (addEos ? 1 : 0);
    const budget = maxLength - (addEos ? 1 : 0);
    let kept: Int32Array;
    if (ids.length <= budget) {
      kept = new Int32Array(fullLength);
      kept.set(ids);
    } else {
      let lead = 0;
      while (lead < ids.length && this.specialIds.has(ids[lead])) lead++;
      lead = Math.min(lead, Math.max(0, budget - 1));
      kept = new Int32Array(maxLength);
      kept.set(ids.slice(0, lead));
      kept.set(ids.slice(ids.length - (budget - lead)), lead);
    }
    if (addEos) kept[kept.length - 1] = this.eosId!;
    return { ids: kept, truncated: ids.length > budget, fullLength, lengthExact: true };
  }
}
