/**
 * The ONNX graph contract: which inputs the service can feed and which output holds the
 * reward. Checked once at load time so a wrong graph fails with a clear message, not at the
 * first request.
 *
 * A graph may also take a past (Hugging Face Optimum's decoder-with-past names): float32 or
 * float16 `past_key_values.{i}.key` / `.value` [past_batch, kv_heads, past_seq, head_dim] for
 * every layer i, with `present.{i}.key` / `.value` outputs [batch, kv_heads, past_seq + seq,
 * head_dim], and an attention_mask covering past + current tokens.
 *
 * Half precision: the reward output may be float16 (a `--fp16` export), and a past float16 (all
 * of it, presents included); the session converts float16 rewards to float32 exactly
 * (session-tensors.ts) and keeps float16 pasts as they are. Such a graph can score the suffixes of
 * items that share a prefix from that prefix's keys and values (src/model/prefix-scorer.ts); a
 * plain pass feeds it an empty past (past_seq = 0).
 */
import { errors } from '../errors.js';
import type { FloatType } from './session-tensors.js';

/** Inputs the engine knows how to build from token ids. */
export const FEEDABLE_INPUTS = ['input_ids', 'attention_mask', 'position_ids', 'token_type_ids'] as const;
/** One of FEEDABLE_INPUTS. */
export type FeedableInput = (typeof FEEDABLE_INPUTS)[number];

/** The shape of onnxruntime's input/output metadata that the check needs. */
export interface ValueInfo {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: ReadonlyArray<number | string>;
}

/** The past a graph takes: one key and one value tensor per layer. */
export interface PastSpec {
  /** The element type of every past input and present output. */
  type: FloatType;
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Input names, layer by layer: past_key_values.{i}.key, past_key_values.{i}.value, ... */
  inputs: string[];
  /** The matching output names: present.{i}.key, present.{i}.value, ... */
  outputs: string[];
}

/** What the engine feeds and reads. */
export interface GraphSignature {
  inputs: FeedableInput[];
  output: string;
  /** The reward output's element type (float16 is converted to float32 exactly). */
  outputType: FloatType;
  /** Present when the graph takes past keys and values. */
  past?: PastSpec;
}

const PAST_INPUT = /^past_key_values\.(\d+)\.(key|value)$/;

/**
 * Check a graph's inputs and outputs: input_ids (int64) required; attention_mask, position_ids,
 * token_type_ids optional (int64); past_key_values.{i}.key/value optional (see PastSpec); the
 * reward output is `logits` or the only non-present output, float32 or float16, shaped
 * [batch, n] with n >= 1. Throws errors.model naming `file`.
 */
export function checkGraph(file: string, inputs: readonly ValueInfo[], outputs: readonly ValueInfo[]): GraphSignature {
  const fed: FeedableInput[] = [];
  for (const input of inputs) {
    if (PAST_INPUT.test(input.name)) continue;
    if (!(FEEDABLE_INPUTS as readonly string[]).includes(input.name)) {
      throw errors.model(file, `graph input '${input.name}' cannot be fed; supported inputs: ${FEEDABLE_INPUTS.join(', ')}, past_key_values.{i}.key/value`);
    }
    if (input.isTensor && input.type !== undefined && input.type !== 'int64') {
      throw errors.model(file, `graph input '${input.name}' is ${input.type}; warm-serve feeds int64 token tensors`);
    }
    fed.push(input.name as FeedableInput);
  }
  if (!fed.includes('input_ids')) {
    throw errors.model(file, `graph has no 'input_ids' input (inputs: ${inputs.map((i) => i.name).join(', ') || 'none'})`);
  }
  const past = pastSpec(file, inputs, outputs);

  const rewards = outputs.filter((o) => !o.name.startsWith('present.'));
  const output = rewards.find((o) => o.name === 'logits') ?? (rewards.length === 1 ? rewards[0] : undefined);
  if (!output) {
    throw errors.model(file, `graph has no 'logits' output and ${rewards.length} outputs (${rewards.map((o) => o.name).join(', ')}); expected one`);
  }
  if (!output.isTensor || (output.type !== 'float32' && output.type !== 'float16')) {
    throw errors.model(file, `output '${output.name}' is ${output.isTensor ? output.type : 'not a tensor'}; expected float32 or float16 logits`);
  }
  const shape = output.shape ?? [];
  if (shape.length > 0) {
    const last = shape[shape.length - 1];
    if (shape.length !== 2 || (typeof last === 'number' && last < 1)) {
      throw errors.model(file, `output '${output.name}' has shape [${shape.join(', ')}]; expected [batch, n] with n >= 1 (reward = ${output.name}[:, 0])`);
    }
  }
  const signature = { inputs: fed, output: output.name, outputType: output.type as FloatType };
  return past ? { ...signature, past } : signature;
}

/**
 * The past a graph takes, or undefined when it takes none. Checked: the past inputs form layers
 * 0..L-1, each with key and value, all float32 or all float16 [*, kv_heads, *, head_dim] with
 * numeric kv_heads and head_dim; an attention_mask input; matching present outputs of the same
 * type. Throws errors.model naming `file`.
 */
export function pastSpec(file: string, inputs: readonly ValueInfo[], outputs: readonly ValueInfo[]): PastSpec | undefined {
  const pasts = inputs.filter((i) => PAST_INPUT.test(i.name));
  if (pasts.length === 0) return undefined;
  if (!inputs.some((i) => i.name === 'attention_mask')) throw errors.model(file, 'a graph with past_key_values inputs needs an attention_mask input (covering past and current tokens)');
  const layers = pasts.length / 2;
  const names: string[] = [];
  for (let i = 0; i < layers; i++) names.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
  const given = new Set(pasts.map((p) => p.name));
  const missing = names.filter((n) => !given.has(n));
  if (!Number.isInteger(layers) || missing.length > 0) {
    throw errors.model(file, `past inputs must be past_key_values.{i}.key and .value for layers 0..L-1; missing ${missing[0] ?? `a pair (${pasts.length} past inputs)`}`);
  }
  let kvHeads = 0;
  let headDim = 0;
  const type = pasts.find((p) => p.name === names[0])!.type as FloatType;
  for (const name of names) {
    const info = pasts.find((p) => p.name === name)!;
    const [, heads, , dim] = info.shape ?? [];
    if ((info.type !== 'float32' && info.type !== 'float16') || info.shape?.length !== 4 || typeof heads !== 'number' || typeof dim !== 'number') {
      throw errors.model(file, `past input '${name}' is ${info.type} [${(info.shape ?? []).join(', ')}]; expected float32 or float16 [past_batch, kv_heads, past_seq, head_dim] with numeric kv_heads and head_dim`);
    }
    if (info.type !== type) throw errors.model(file, `past input '${name}' is ${info.type} and '${names[0]}' ${type}; a past has one element type`);
    if ((kvHeads && heads !== kvHeads) || (headDim && dim !== headDim)) {
      throw errors.model(file, `past input '${name}' has ${heads} heads of ${dim}; the others have ${kvHeads} of ${headDim}`);
    }
    kvHeads = heads;
    headDim = dim;
  }
  const presents = names.map((n) => n.replace(/^past_key_values\./, 'present.'));
  const absent = presents.find((n) => !outputs.some((o) => o.name === n));
  if (absent) throw errors.model(file, `graph takes past_key_values but has no '${absent}' output`);
  const mistyped = outputs.find((o) => presents.includes(o.name) && o.type !== undefined && o.type !== type);
  if (mistyped) throw errors.model(file, `output '${mistyped.name}' is ${mistyped.type}; the past is ${type}, and a present is fed back as a past`);
  return { type, layers, kvHeads, headDim, inputs: names, outputs: presents };
}
