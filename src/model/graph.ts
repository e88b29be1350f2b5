/**
 * The ONNX graph contract: which inputs the service can feed and which output holds the
 * reward. Checked once at load time so a wrong graph fails with a clear message, not at the
 * first request.
 */
import { errors } from '../errors.js';

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

/** What the engine feeds and reads. */
export interface GraphSignature {
  inputs: FeedableInput[];
  output: string;
}

/**
 * Check a graph's inputs and outputs: input_ids (int64) required; attention_mask, position_ids,
 * token_type_ids optional (int64); the reward output is `logits` or the only output, float32,
 * shaped [batch, n] with n >= 1. Throws errors.model naming `file`.
 */
export function checkGraph(file: string, inputs: readonly ValueInfo[], outputs: readonly ValueInfo[]): GraphSignature {
  const fed: FeedableInput[] = [];
  for (const input of inputs) {
    if (!(FEEDABLE_INPUTS as readonly string[]).includes(input.name)) {
      throw errors.model(file, `graph input '${input.name}' cannot be fed; supported inputs: ${FEEDABLE_INPUTS.join(', ')}`);
    }
    if (input.isTensor && input.type !== undefined && input.type !== 'int64') {
      throw errors.model(file, `graph input '${input.name}' is ${input.type}; warm-serve feeds int64 token tensors`);
    }
    fed.push(input.name as FeedableInput);
  }
  if (!fed.includes('input_ids')) {
    throw errors.model(file, `graph has no 'input_ids' input (inputs: ${inputs.map((i) => i.name).join(', ') || 'none'})`);
  }

  const output = outputs.find((o) => o.name === 'logits') ?? (outputs.length === 1 ? outputs[0] : undefined);
  if (!output) {
    throw errors.model(file, `graph has no 'logits' output and ${outputs.length} outputs (${outputs.map((o) => o.name).join(', ')}); expected one`);
  }
  if (!output.isTensor || output.type !== 'float32') {
    throw errors.model(file, `output '${output.name}' is ${output.isTensor ? output.type : 'not a tensor'}; expected float32 logits`);
  }
  const shape = output.shape ?? [];
  if (shape.length > 0) {
    const last = shape[shape.length - 1];
    if (shape.length !== 2 || (typeof last === 'number' && last < 1)) {
      throw errors.model(file, `output '${output.name}' has shape [${shape.join(', ')}]; expected [batch, n] with n >= 1 (reward = ${output.name}[:, 0])`);
    }
  }
  return { inputs: fed, output: output.name };
}
