/**
 * The model-directory manifest, `warm.json`: what the service needs to know about a reward
 * model beyond config.json / tokenizer.json / model.onnx. Every field has a documented default,
 * so a directory without a manifest still loads (see `defaultManifest`).
 */
import { z } from 'zod';

/** Affine reward normalisation: served reward = (logit - mean) / std. */
export const NormalizationSchema = z.object({
  mean: z.number().finite(),
  std: z.number().finite().positive(),
});

/** One ensemble member, a model directory relative to the manifest's directory. */
export const MemberSchema = z.object({
  name: z.string().min(1),
  path: z.string().min(1),
  normalization: NormalizationSchema.optional(),
});

export const ManifestSchema = z.object({
  /** Manifest format version. */
  format: z.literal('warm-serve/v1').default('warm-serve/v1'),
  /** Model name reported in every response. Default: the directory's base name. */
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  /**
   * How a (prompt, completion) pair becomes model text: `{prompt}` and `{completion}` are
   * replaced verbatim. `{text}` items are used as they are; `{messages}` items go through the
   * tokenizer's chat template (tokenizer_config.json `chat_template`).
   */
  template: z.string().default('{prompt}{completion}'),
  /** Maximum tokens per item, special tokens included. Default: tokenizer_config.json
   * `model_max_length` when sane, else config.json `max_position_embeddings`, else 512. */
  max_length: z.number().int().positive().optional(),
  /** Padding side for batches. Default: tokenizer_config.json `padding_side`, else right. */
  padding_side: z.enum(['left', 'right']).optional(),
  /** Append the tokenizer's EOS token to every item (after truncation) when not already last. */
  ensure_eos: z.boolean().default(false),
  /** Optional reward normalisation applied to the reward (logits[:, 0], or head_weights · logits). */
  normalization: NormalizationSchema.optional(),
  /**
   * Multi-head models (logits [batch, n], n > 1: one column per objective): reward = head_weights ·
   * logits[i], one weight per column. Default: column 0 alone.
   */
  head_weights: z.array(z.number().finite()).min(1).optional(),
  /** Names of the logits columns, for /v1/info and return_heads. Default: head_0, head_1, ... */
  head_names: z.array(z.string().min(1)).min(1).optional(),
  /** The members this model was merged from (for ensembles and evaluation). */
  members: z.array(MemberSchema).default([]),
  /** Merge provenance written by `warm-serve merge` (method, weights, input hashes, version). */
  merge: z.record(z.string(), z.unknown()).optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type Member = z.infer<typeof MemberSchema>;
export type Normalization = z.infer<typeof NormalizationSchema>;

/** The manifest file name inside a model directory. */
export const MANIFEST_FILE = 'warm.json';
