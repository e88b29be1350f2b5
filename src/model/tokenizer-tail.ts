/**
 * Tail encoding: a long text that left truncation will cut to its last max_length tokens is
 * encoded from a suffix only, when the loaded tokenizer.json provably gives the same tokens.
 *
 * Why it is exact for a SentencePiece-style BPE (normalizer Prepend "▁" + Replace " " -> "▁",
 * no pre-tokenizer): if no vocabulary piece holds "▁" except as its first character, no merge
 * joins a symbol to a following "▁", so BPE never merges across a word start. A suffix S that
 * begins right after a space normalizes to "▁" + S', exactly the part of the full normalized
 * text that starts at that space's "▁"; BPE segments each side of that word start on its own
 * (merges on one side never create, remove or reorder candidate pairs on the other), so the
 * model tokens of S are the last tokens of the full text. The checks below keep everything
 * else that could break this (pre-tokenizers, other normalizers, added tokens, special ids
 * emitted from text) out; any tokenizer that fails one is encoded in full.
 */

const SPACE_MARK = '▁';
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
// Every text is scanned for each added token's content; beyond this many, encode in full.
const MAX_ADDED_TOKENS = 64;

/** The parts of tokenizer.json the check reads (everything else must be absent or null). */
interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean; normalized?: boolean }[];
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  post_processor?: unknown;
  model?: {
    type?: string;
    dropout?: number | null;
    unk_token?: string | null;
    continuing_subword_prefix?: string | null;
    end_of_word_suffix?: string | null;
    byte_fallback?: boolean;
    ignore_merges?: boolean;
    vocab?: Record<string, number>;
    merges?: (string | [string, string])[];
  };
}

/** What tail encoding needs at run time, once the tokenizer passed the check. */
export interface TailRule {
  /** Contents of the added tokens: a text holding any of them is encoded in full. */
  addedContents: readonly string[];
  /** Ids the post-processor adds around one sequence (BOS, EOS, ...). */
  templateLength: number;
}

/** The rule for a parsed tokenizer.json, or the reason tail encoding does not apply to it. */
export function tailRule(json: TokenizerJson): { rule: TailRule } | { reason: string } {
  const normalizers = (json.normalizer as { type?: string; normalizers?: unknown[] } | null | undefined)?.normalizers;
  const [prepend, replace] = (normalizers ?? []) as Record<string, unknown>[];
  const isMetaspaceNormalizer =
    (json.normalizer as { type?: string } | null)?.type === 'Sequence' &&
    normalizers?.length === 2 &&
    prepend.type === 'Prepend' && prepend.prepend === SPACE_MARK &&
    replace.type === 'Replace' && (replace.pattern as { String?: string })?.String === ' ' && replace.content === SPACE_MARK;
  if (!isMetaspaceNormalizer) return { reason: 'the normalizer is not Prepend "▁" + Replace " " -> "▁"' };
  if (json.pre_tokenizer != null) return { reason: 'the tokenizer has a pre-tokenizer' };

  const model = json.model ?? {};
  if (model.type !== 'BPE') return { reason: 'the model is not BPE' };
  if (model.dropout) return { reason: 'BPE dropout makes encodings random' };
  if (model.continuing_subword_prefix || model.end_of_word_suffix) return { reason: 'BPE has a subword prefix or suffix' };
  if (model.ignore_merges) return { reason: 'ignore_merges looks whole texts up in the vocabulary' };
  const vocab = model.vocab ?? {};
  if (!(SPACE_MARK in vocab)) return { reason: '"▁" is not in the vocabulary' };
  // The core condition: then no merge can join anything to a following "▁".
  const crossing = Object.keys(vocab).find((piece) => piece.indexOf(SPACE_MARK, 1) > 0);
  if (crossing !== undefined) return { reason: `the vocabulary piece ${JSON.stringify(crossing)} spans a word start` };

  const added = json.added_tokens ?? [];
  if (added.length > MAX_ADDED_TOKENS) return { reason: `more than ${MAX_ADDED_TOKENS} added tokens` };
  if (added.some((t) => t.normalized)) return { reason: 'an added token matches normalized text' };

  // fit() keeps the leading special ids; the full text must not start with one the suffix lacks,
  // so the model must never emit a special id from a text that holds no added token.
  const mergeResults = new Set((model.merges ?? []).map((m) => (typeof m === 'string' ? m.replace(' ', '') : m.join(''))));
  const pieceOf = new Map(Object.entries(vocab).map(([piece, id]) => [id, piece]));
  const bytesComplete = model.byte_fallback === true && Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`).every((p) => p in vocab);
  for (const token of added.filter((t) => t.special)) {
    const piece = pieceOf.get(token.id);
    if (piece === undefined) continue;
    const emittable =
      mergeResults.has(piece) ||
      (model.byte_fallback === true && BYTE_TOKEN.test(piece)) ||
      ([...piece].length === 1 && piece !== token.content) ||
      piece === SPACE_MARK ||
      (piece === model.unk_token && !bytesComplete);
    if (emittable) return { reason: `the model can emit the special token ${JSON.stringify(token.content)} from plain text` };
  }

  const templateLength = postProcessorLength(json.post_processor);
  if (templateLength === undefined) return { reason: 'the post-processor is not a template of special tokens around the sequence' };
  return { rule: { addedContents: added.map((t) => t.content), templateLength } };
}

/** Ids a TemplateProcessing adds around a single sequence; undefined for anything else. */
function postProcessorLength(post: unknown): number | undefined {
  if (post == null) return 0;
  const p = post as { type?: string; single?: Record<string, { id: string }>[]; special_tokens?: Record<string, { ids: number[] }> };
  if (p.type !== 'TemplateProcessing' || !Array.isArray(p.single)) return undefined;
  let length = 0;
  let sequences = 0;
  for (const piece of p.single) {
    if (piece.Sequence) sequences++;
    else if (piece.SpecialToken) length += p.special_tokens?.[piece.SpecialToken.id]?.ids.length ?? NaN;
    else return undefined;
  }
  return sequences === 1 && Number.isFinite(length) ? length : undefined;
}

/**
 * The suffix of `text` to encode: it starts right after the first space at or after the last
 * `window` characters. Undefined when the whole text must be encoded (short, no space in the
 * window, or an added token in the text).
 */
export function tailOf(rule: TailRule, text: string, window: number): string | undefined {
  if (text.length <= window) return undefined;
  const space = text.indexOf(' ', text.length - window - 1);
  if (space < 0 || space === text.length - 1) return undefined;
  if (rule.addedContents.some((content) => text.includes(content))) return undefined;
  return text.slice(space + 1);
}
