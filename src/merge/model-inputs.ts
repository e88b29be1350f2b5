/**
 * Which inputs are merged in which formats. A directory may hold a safetensors checkpoint, a
 * model.onnx, or both; a `.onnx` path is an ONNX-only input. `--format all` (the default) merges
 * every format the inputs hold, each separately, into the same output directory, and refuses
 * when an input lacks a format another has: formats are never mixed within one merge.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errors } from '../errors.js';
import { onnxPathOf } from './onnx/onnx-model.js';
import { hasSafetensors } from './safetensors/safetensors-model.js';

/** A weight format the merger reads and writes. */
export type Format = 'safetensors' | 'onnx';

/** What `--format` accepts. */
export type FormatChoice = Format | 'all';

/** One input as given on the command line and what it holds. */
export interface ModelInput {
  label: string;
  /** The model directory (for a .onnx path: the directory holding it). */
  dir: string;
  safetensors: boolean;
  onnxPath?: string;
}

/** Resolves each input to its directory and formats; refuses inputs that do not exist. */
export function resolveInputs(paths: readonly string[]): ModelInput[] {
  return paths.map((label) => {
    if (!existsSync(label)) throw errors.merge(label, undefined, 'no such file or directory');
    const isDir = statSync(label).isDirectory();
    if (!isDir && !label.endsWith('.onnx')) {
      throw errors.merge(label, undefined, 'expected a model directory (config.json + model.safetensors / model.onnx) or a .onnx file');
    }
    const dir = resolve(isDir ? label : dirname(label));
    return { label, dir, safetensors: isDir && hasSafetensors(label), onnxPath: onnxPathOf(label) };
  });
}

const FORMAT_FILES: Record<Format, string> = {
  safetensors: 'model.safetensors (or model.safetensors.index.json with its shards)',
  onnx: 'model.onnx',
};

/** The formats to merge for `choice`; throws when an input lacks one of them. */
export function chooseFormats(inputs: readonly ModelInput[], choice: FormatChoice): Format[] {
  const has = (input: ModelInput, f: Format) => (f === 'safetensors' ? input.safetensors : input.onnxPath !== undefined);
  const all: Format[] = ['safetensors', 'onnx'];
  const formats = choice === 'all' ? all.filter((f) => inputs.some((i) => has(i, f))) : [choice];
  if (formats.length === 0) {
    throw errors.merge(inputs[0].label, undefined, `holds no model: expected ${FORMAT_FILES.safetensors} or ${FORMAT_FILES.onnx}`);
  }
  for (const f of formats) {
    const missing = inputs.find((i) => !has(i, f));
    if (!missing) continue;
    const holder = inputs.find((i) => has(i, f));
    const other = all.find((g) => g !== f)!;
    throw errors.merge(
      missing.label,
      undefined,
      holder
        ? `has no ${FORMAT_FILES[f]} while ${holder.label} has one; formats are never mixed in one merge (use --format ${other} to merge only ${other})`
        : `has no ${FORMAT_FILES[f]} (--format ${f})`,
    );
  }
  return formats;
}
