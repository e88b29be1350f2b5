/**
 * The `input` of vLLM's pooling API and OpenAI's embeddings API (also SGLang's): a text, a list of
 * texts, a list of token ids or a list of token-id lists, with vLLM's truncation fields. Texts
 * are scored as raw text, token ids as given (src/model/tokenizer.ts). One loop checks the
 * shape: zod's union of arrays would report every element of a long id list that fails a branch.
 * Followed: vllm-project/vllm vllm/entrypoints/pooling/base/protocol.py (CompletionRequestMixin
 * `input`, `add_special_tokens`; PoolingBasicRequestMixin `truncate_prompt_tokens` >= -1,
 * `truncation_side` left | right) and the OpenAI embeddings reference (`input`).
 */
import { z } from 'zod';
import { errors, type FieldPath } from '../../errors.js';
import type { ScoreInput } from '../../scoring/types.js';

/** What a pooling `input` holds, once checked. */
export type PoolingInput = string | string[] | number[] | number[][];

/** A token id: a safe integer >= 0 (the tokenizer checks the vocabulary). */
const isTokenId = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

/** The first problem with a pooling input, as [path under the field, message]; undefined when it is well formed. */
function inputProblem(input: unknown): [(string | number)[], string] | undefined {
  if (typeof input === 'string') return undefined;
  const expected = 'expected a string, a non-empty list of strings, a non-empty list of token ids, or a list of non-empty token-id lists';
  if (!Array.isArray(input) || input.length === 0) return [[], expected];
  const first = input[0];
  const isIdList = (v: unknown) => Array.isArray(v) && v.length > 0;
  const check: [(v: unknown) => boolean, string] | undefined =
    typeof first === 'string' ? [(v) => typeof v === 'string', 'expected a string, like the first element'] :
    typeof first === 'number' ? [isTokenId, 'expected a token id (an integer >= 0)'] :
    Array.isArray(first) ? [isIdList, 'expected a non-empty list of token ids, like the first element'] :
    undefined;
  if (!check) return [[0], expected];
  const bad = input.findIndex((v) => !check[0](v));
  if (bad >= 0) return [[bad], `${check[1]}, got ${JSON.stringify(input[bad])?.slice(0, 40)}`];
  if (!Array.isArray(first)) return undefined;
  for (let i = 0; i < input.length; i++) {
    const at = (input[i] as unknown[]).findIndex((v) => !isTokenId(v));
    if (at >= 0) return [[i, at], `expected a token id (an integer >= 0), got ${JSON.stringify((input[i] as unknown[])[at])?.slice(0, 40)}`];
  }
  return undefined;
}

const TOKEN_IDS_JSON = { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 };

/** `input`: text(s) or token ids; each text is scored as raw text, each id list as given. */
export const PoolingInputSchema = z
  .custom<PoolingInput>()
  .superRefine((input, ctx) => {
    const problem = inputProblem(input);
    if (problem) ctx.addIssue({ code: 'custom', path: problem[0], message: problem[1] });
  })
  .meta({
    anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }, TOKEN_IDS_JSON, { type: 'array', items: TOKEN_IDS_JSON, minItems: 1 }],
    description: 'a text, texts, token ids, or token-id lists (at most max_ids_per_item ids each); texts are scored as raw text, ids as given',
  });

/** vLLM's truncation fields, shared by /classify and /v1/embeddings. */
export const PoolingTruncationShape = {
  truncate_prompt_tokens: z
    .int()
    .min(-1)
    .nullish()
    .describe("cut each input to k tokens (below the model's max_length) as max_length cuts: its leading special tokens, then its last tokens; -1 or null: max_length"),
  truncation_side: z
    .enum(['left', 'right'])
    .nullish()
    .describe("warm-serve keeps the end of an over-long input (the response): only 'left' is accepted"),
  add_special_tokens: z
    .boolean()
    .nullish()
    .describe("accepted and not used: a text gets the model's special tokens once (none added when it starts with BOS), token ids none"),
};

/** An input in request form: each text or id list as one score item, in order; `single` when `input` was one text or one id list. */
export function poolingItems(input: PoolingInput): { items: ScoreInput[]; single: boolean } {
  if (typeof input === 'string') return { items: [{ text: input }], single: true };
  if (typeof input[0] === 'number') return { items: [{ input_ids: input as number[] }], single: true };
  return { items: (input as (string | number[])[]).map((one) => (typeof one === 'string' ? { text: one } : { input_ids: one })), single: false };
}

/**
 * Where an item's problem lies in the request (`input`, `input[2]`, `input[2][7]` for the 7th id):
 * the scoring service's path (`items[2].input_ids[7]`) rewritten for the route's field.
 */
export function poolingPath(field: string, single: boolean): (path: readonly (string | number)[]) => FieldPath {
  return (path) => {
    const [, index, , ...within] = path;
    return [field, ...(single ? [] : [index]), ...within];
  };
}

/** The tokens to keep per item for vLLM's truncation fields (undefined: max_length); 422 for a right-side cut. */
export function poolingMaxTokens(body: { truncate_prompt_tokens?: number | null; truncation_side?: 'left' | 'right' | null }): number | undefined {
  if (body.truncation_side === 'right') {
    throw errors.validation('truncation_side', "'right' is not supported: warm-serve keeps the end of an over-long input (the response) and drops its start; send 'left' or omit the field");
  }
  const k = body.truncate_prompt_tokens;
  if (k === 0) throw errors.validation('truncate_prompt_tokens', 'must be -1 (the model\'s max_length) or at least 1');
  return k === undefined || k === null || k === -1 ? undefined : k;
}
