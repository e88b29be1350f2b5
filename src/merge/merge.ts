/**
 * `warm-serve merge`: validates M inputs completely (formats, configs, tokenizers, tensors,
 * graphs) before writing anything, then streams each format's average into staged files, adds
 * the copied config/tokenizer files, warm.json and MERGE.md, and renames them all into place.
 */
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { arch, endianness } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { errors } from '../errors.js';
import { MANIFEST_FILE } from '../model/manifest.js';
import { ChunkBuffers } from './tensor/average-tensor.js';
import { distanceWarnings } from './tensor/distance.js';
import { renderMergeCard } from './merge-card.js';
import type { FormatMergeResult, MergeContext } from './merge-context.js';
import { mergedManifest } from './merge-manifest.js';
import { chooseFormats, resolveInputs, type FormatChoice } from './model-inputs.js';
import { compareModelFiles, copiedFiles } from './model-files-compare.js';
import { ONNX_FILE, openOnnxModel } from './onnx/onnx-model.js';
import { planOnnxMerge, writeOnnxMerge, type OnnxPlan } from './onnx/onnx-merge.js';
import { Progress } from './progress.js';
import { buildProvenance, provenanceStrings, type Provenance } from './provenance.js';
import { openSafetensorsModel, safetensorsFiles, SAFETENSORS_INDEX } from './safetensors/safetensors-model.js';
import { planSafetensorsMerge, writeSafetensorsMerge, type SafetensorsPlan } from './safetensors/safetensors-merge.js';
import { StagedOutput } from './staged-output.js';
import { parseWeights } from './weights.js';

/** The merge card file name. */
export const MERGE_CARD = 'MERGE.md';

/** Options of one merge (the CLI flags). */
export interface MergeOptions {
  inputs: string[];
  out: string;
  format: FormatChoice;
  /** `--weights` as given; undefined means uniform. */
  weights?: string;
  /** Overwrite output files that already exist. */
  force: boolean;
  /** warm.json `name` (`--name`); default: the output directory's name for a fresh merge. */
  name?: string;
  quiet: boolean;
  /** The command line, recorded in MERGE.md. */
  command: string;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** What a merge produced. */
export interface MergeSummary {
  outDir: string;
  provenance: Provenance;
  results: FormatMergeResult[];
  warnings: string[];
  /** Every file written, relative to the output directory. */
  files: string[];
}

/**
 * Refuses a plan that would write two output files under one name (an ONNX external data location
 * or a shard named MERGE.md, warm.json, model.onnx, vocab.txt...: the last writer would win) or
 * under a staging name, which commit() would rename over. Case is ignored: some file systems do.
 */
function checkOutputNames(label: string, outputs: readonly [string, string][]): void {
  const seen = new Map<string, string>();
  for (const [name, what] of outputs) {
    const key = name.toLowerCase();
    const other = seen.get(key);
    if (other) {
      throw errors.merge(label, undefined, `the output would hold two files named ${name} (${other}, and ${what}); rename the file in the input (and its reference) so the merge does not overwrite one with the other`);
    }
    if (StagedOutput.isTempName(name)) throw errors.merge(label, undefined, `${what} is named ${name}, like the merge's temporary files; rename it in the input`);
    seen.set(key, what);
  }
}

/** Merges the inputs into `opts.out`; throws a WarmServeError (merge_error / validation_error) on refusal. */
export async function mergeModels(opts: MergeOptions): Promise<MergeSummary> {
  if (endianness() !== 'LE') {
    throw errors.merge(`this ${arch()} machine`, undefined, 'is big-endian; warm-serve merge reads and writes tensors as little-endian arrays in place, so run it on a little-endian machine (x86-64, arm64)');
  }
  if (opts.inputs.length < 2) throw errors.validation('inputs', `got ${opts.inputs.length} model(s); a merge needs at least 2`);
  if (opts.name !== undefined && opts.name.trim() === '') throw errors.validation('--name', 'is empty; give the name the merged model reports in every response');
  const progress = new Progress({ stream: opts.stderr ?? process.stderr, quiet: opts.quiet });
  const inputs = resolveInputs(opts.inputs);
  const labels = inputs.map((i) => i.label);
  const formats = chooseFormats(inputs, opts.format);
  const weights = parseWeights(opts.weights, inputs.length);

  mkdirSync(opts.out, { recursive: true });
  const outDir = realpathSync(opts.out);
  for (const input of inputs) {
    if (realpathSync(input.dir) === outDir) {
      throw errors.merge(input.label, undefined, `is the output directory; write the merge to another directory (--out)`);
    }
  }
  await compareModelFiles(inputs);

  let stPlan: SafetensorsPlan | undefined;
  let onnxPlan: OnnxPlan | undefined;
  if (formats.includes('safetensors')) {
    stPlan = planSafetensorsMerge(await Promise.all(inputs.map((i) => openSafetensorsModel(i.dir, i.label))));
  }
  if (formats.includes('onnx')) {
    onnxPlan = planOnnxMerge(await Promise.all(inputs.map((i) => openOnnxModel(i.onnxPath!, i.label))));
  }

  const copied = copiedFiles(inputs[0]);
  // Every output file with what writes it; the names come from the first input, so two can clash.
  const shards = stPlan ? [...(stPlan.models[0].index ? [SAFETENSORS_INDEX] : []), ...stPlan.models[0].shards.map((s) => basename(s.path))] : [];
  const externalData = onnxPlan ? [...new Set(onnxPlan.models[0].initializers.flatMap((t) => (t.external ? [t.external.location] : [])))] : [];
  const from = (what: string) => (f: string): [string, string] => [f, what];
  const outputs = [
    ...shards.map(from('a safetensors file')),
    ...(onnxPlan ? [ONNX_FILE] : []).map(from('the merged ONNX model')),
    ...externalData.map(from('an ONNX external data file')),
    ...copied.map(from('a config or tokenizer file copied from the first input')),
    from('the merged warm.json')(MANIFEST_FILE),
    from('the merge card')(MERGE_CARD),
  ];
  checkOutputNames(inputs[0].label, outputs);
  const planned = outputs.map(([f]) => f);
  const clashes = planned.filter((f) => existsSync(join(outDir, f)));
  if (clashes.length > 0 && !opts.force) {
    throw errors.merge(opts.out, undefined, `already holds ${clashes.join(', ')}; pass --force to overwrite them`);
  }

  const outputDirs = [...new Set(planned.map((f) => dirname(join(outDir, f))))];
  const stale = (await Promise.all(outputDirs.map(async (d) => (await StagedOutput.removeStale(d)).map((f) => join(d, f))))).flat();
  if (stale.length > 0) progress.info(`removed ${stale.length} partial file(s) of merges that were killed: ${stale.map((f) => relative(outDir, f)).join(', ')}`);

  const hashed = inputs.map((input, i) => ({
    dir: input.dir,
    files: [
      ...(stPlan ? safetensorsFiles(stPlan.models[i]) : []),
      ...(onnxPlan ? [onnxPlan.models[i].path, ...onnxPlan.models[i].externalFiles] : []),
      ...['config.json', 'tokenizer.json'].map((f) => join(input.dir, f)).filter(existsSync),
    ],
  }));
  const hashBytes = hashed.flatMap((h) => h.files).reduce((n, f) => n + statSync(f).size, 0);
  progress.start('hashing inputs (SHA-256)', 0, hashBytes);
  const provenance = await buildProvenance(outDir, hashed, weights, formats, (n) => progress.addBytes(n));
  progress.end();

  const stage = new StagedOutput(outDir);
  const ctx: MergeContext = {
    labels, weights, stage, progress, buffers: new ChunkBuffers(inputs.length), provenance: provenanceStrings(provenance),
  };
  const results: FormatMergeResult[] = [];
  try {
    if (stPlan) results.push(await writeSafetensorsMerge(stPlan, ctx));
    if (onnxPlan) results.push(await writeOnnxMerge(onnxPlan, ctx));
    for (const f of copied) await stage.writeFile(f, await readFile(join(inputs[0].dir, f)));
    const warnings = distanceWarnings(labels, results[0].distances);
    const distances = Object.fromEntries(results.map((r) => [r.format, r.distances.map((row) => row.map((x) => Number(x.toPrecision(6))))]));
    const manifest = await mergedManifest(outDir, inputs, { ...provenance, distances }, opts.name);
    await stage.writeFile(MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
    await stage.writeFile(MERGE_CARD, renderMergeCard({ provenance, labels, rawWeights: weights.raw, results, warnings, command: opts.command }));
    const files = stage.names();
    await stage.commit();
    for (const w of warnings) progress.warn(w);
    for (const r of results) {
      const worst = Math.max(...r.distances.flat().filter((x) => Number.isFinite(x)));
      progress.info(`${r.format}: ${r.averaged} tensors averaged, ${r.copied} copied; largest relative distance ${worst.toFixed(4)}`);
    }
    progress.info(`wrote ${files.length} files to ${opts.out} (see ${MERGE_CARD})`);
    return { outDir, provenance, results, warnings, files };
  } catch (e) {
    await stage.abort();
    throw e;
  }
}
