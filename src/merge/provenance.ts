/**
 * Merge provenance: which files were averaged with which weights by which tool. Stored as an
 * object in the output warm.json (`merge`) and flattened to strings in the weight files
 * (safetensors `__metadata__`, ONNX `metadata_props`), so a merged file alone says where it came from.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename, relative } from 'node:path';
import { VERSION } from '../version.js';
import type { Format } from './model-inputs.js';
import type { MergeWeights } from './weights.js';

/** One input: its path relative to the output directory and the SHA-256 of each file merged from it. */
export interface InputProvenance {
  path: string;
  sha256: Record<string, string>;
}

/** The provenance object (warm.json `merge`). */
export interface Provenance {
  method: 'uniform' | 'weighted';
  /** Normalised weights (sum 1), in input order. */
  weights: number[];
  formats: Format[];
  inputs: InputProvenance[];
  tool: string;
}

/** SHA-256 (hex) of a file, read through one reused 4 MiB buffer; `onBytes` sees each chunk's size. */
export async function sha256File(path: string, onBytes?: (n: number) => void): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 22);
  const handle = await open(path, 'r');
  try {
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
      onBytes?.(bytesRead);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** Hashes each input's files (weights, config, tokenizer) and builds the provenance object. */
export async function buildProvenance(
  outDir: string,
  inputs: readonly { dir: string; files: string[] }[],
  weights: MergeWeights,
  formats: Format[],
  onBytes?: (n: number) => void,
): Promise<Provenance> {
  const described: InputProvenance[] = [];
  for (const input of inputs) {
    const sha256: Record<string, string> = {};
    for (const f of input.files) sha256[relative(input.dir, f) || basename(f)] = await sha256File(f, onBytes);
    described.push({ path: relative(outDir, input.dir), sha256 });
  }
  return { method: weights.method, weights: weights.normalized, formats, inputs: described, tool: `warm-serve ${VERSION}` };
}

/** The provenance as string -> string entries for weight-file metadata (keys prefixed `warm_merge_`). */
export function provenanceStrings(p: Provenance): Record<string, string> {
  return {
    warm_merge_method: p.method,
    warm_merge_weights: JSON.stringify(p.weights),
    warm_merge_inputs: JSON.stringify(p.inputs),
    warm_merge_tool: p.tool,
  };
}
