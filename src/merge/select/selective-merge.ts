/**
 * `warm-serve merge` with `--select` / `--data` / `--calibrate`: score the inputs on held-out
 * preference pairs, choose the members (src/merge/select/selection.ts; greedy steps are real merges
 * into a temporary directory, scored like any model), merge the chosen ones, then score the
 * merged model (its accuracy, and the reward mean/std to store as `normalization`) and add it
 * all to warm.json and MERGE.md. Without those flags it is exactly mergeModels.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Accuracy } from '../../eval/accuracy.js';
import { checkPairFiles, readPairFiles } from '../../eval/pair-files.js';
import { loadSplit } from '../../eval/splits.js';
import type { PreferencePair } from '../../eval/pairs.js';
import { errors, WarmServeError } from '../../errors.js';
import { loadModelDirectory, type ModelDirectory } from '../../model/directory.js';
import { loadMemberDirectories } from '../../model/members.js';
import { MANIFEST_FILE } from '../../model/manifest.js';
import { heldOutAccuracy, rewardScale, type RewardScale, type ScorableModel } from './held-out.js';
import { MERGE_CARD, mergeModels, type MergeOptions, type MergeSummary } from '../merge.js';
import { resolveInputs } from '../model-inputs.js';
import { Progress } from '../progress.js';
import { selectMembers, type SelectMethod, type Selection } from './selection.js';
import { writeSelectionRecord, type MemberScale, type PairSource } from './selection-record.js';

/** mergeModels' options plus selection and calibration. */
export interface SelectiveMergeOptions extends MergeOptions {
  /** How to choose the members; default uniform (all). */
  select?: SelectMethod;
  /** Held-out pair files for --select (with uniform: only recorded). */
  data?: string[];
  /** `FILE:NAME`: use only that split's rows of --data and --calibrate files. */
  split?: string;
  /** top-k: how many members to keep. */
  k?: number;
  /** Pair files whose texts set the merged model's reward normalisation. */
  calibrate?: string[];
}

/** What the merge produced, with the selection and calibration when asked for. */
export interface SelectiveMergeSummary extends MergeSummary {
  selection?: Selection;
  mergedAccuracy?: Accuracy;
  calibration?: RewardScale;
}

/** Refuse flag combinations that cannot work, before any scoring or writing. */
function checkOptions(opts: SelectiveMergeOptions, select: SelectMethod): void {
  const data = opts.data ?? [];
  if (select !== 'uniform' && data.length === 0) {
    throw errors.validation('--data', `--select ${select} ranks the inputs by held-out accuracy; give the held-out pairs with --data FILE`);
  }
  if (opts.k !== undefined && select !== 'top-k') throw errors.validation('--k', `only applies to --select top-k (got --select ${select})`);
  if (select === 'top-k' && (opts.k === undefined || !Number.isInteger(opts.k) || opts.k < 1 || opts.k > opts.inputs.length)) {
    throw errors.validation('--k', `--select top-k needs --k, an integer from 1 to the number of inputs (${opts.inputs.length}); got ${opts.k ?? 'none'}`);
  }
  if (opts.weights !== undefined && data.length > 0) {
    throw errors.validation('--weights', 'cannot be combined with --select or --data: the selected members are averaged uniformly');
  }
  if (opts.format === 'safetensors') {
    throw errors.validation('--format', 'selection and calibration score the merged model with ONNX Runtime, so the output needs model.onnx; use --format onnx or all');
  }
  for (const input of resolveInputs(opts.inputs)) {
    if (input.onnxPath) continue;
    throw errors.merge(
      input.label,
      undefined,
      'has no model.onnx: --select, --data and --calibrate score every input with ONNX Runtime, and safetensors weights cannot be scored here. Export the inputs to ONNX first (models/recipe/export.py writes model.onnx) or merge without --select, --data and --calibrate',
    );
  }
}

/** Throttled "label: done/total texts" lines, as `warm-serve eval` prints them. */
function scoringProgress(progress: Progress, label: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < 5000) return;
    last = now;
    progress.info(`  ${label}: ${done}/${total} texts scored`);
  };
}

const pct = (a: Accuracy) => `${(100 * a.accuracy).toFixed(1)}%`;

/**
 * Refuse, before any scoring, an output directory that already holds a merge's warm.json or
 * MERGE.md without --force (mergeModels checks every output file, but only after the selection).
 */
function checkOutput(opts: SelectiveMergeOptions): void {
  if (opts.force) return;
  const held = [MANIFEST_FILE, MERGE_CARD].filter((f) => existsSync(join(opts.out, f)));
  if (held.length > 0) throw errors.merge(opts.out, undefined, `already holds ${held.join(', ')}; pass --force to overwrite them`);
}

/**
 * The members the merged model's warm.json lists (cut to `keptDirs`), loaded as the ensemble
 * loads them, one per directory.
 */
async function servedMembers(outDir: string, keptDirs: readonly string[] | undefined): Promise<ModelDirectory[]> {
  const members = await loadMemberDirectories(await loadModelDirectory(outDir));
  const seen = new Set<string>();
  return members.filter((m) => (keptDirs ? keptDirs.includes(m.path) : true) && !seen.has(m.path) && seen.add(m.path));
}

/**
 * With --calibrate every input becomes a calibrated ensemble member, scored as `serve --ensemble`
 * loads it: check, before anything is written, that each one loads as a model directory.
 */
async function checkMembersLoad(inputs: readonly string[]): Promise<void> {
  for (const input of resolveInputs(inputs)) {
    try {
      await loadModelDirectory(input.dir);
    } catch (err) {
      if (!(err instanceof WarmServeError)) throw err;
      throw errors.merge(input.label, undefined, `--calibrate also calibrates each input as the ensemble member warm.json lists, but ${input.dir} does not load as a model directory (${err.message})`);
    }
  }
}

/** Merge with optional member selection and reward calibration. */
export async function selectiveMerge(opts: SelectiveMergeOptions): Promise<SelectiveMergeSummary> {
  const select = opts.select ?? 'uniform';
  const data = opts.data ?? [];
  const calibrate = opts.calibrate ?? [];
  if (opts.split !== undefined && data.length === 0 && calibrate.length === 0) {
    throw errors.validation('--split', 'selects rows of the --data and --calibrate files; give one of them, or drop --split');
  }
  if (select === 'uniform' && data.length === 0 && calibrate.length === 0) {
    if (opts.k !== undefined) throw errors.validation('--k', 'only applies to --select top-k');
    return mergeModels(opts);
  }
  checkOptions(opts, select);
  checkOutput(opts);
  const progress = new Progress({ stream: opts.stderr ?? process.stderr, quiet: opts.quiet });
  const log = (line: string) => progress.info(`merge: ${line}`);

  // Every pair file and the split are checked, then read, before any model is scored or file written.
  const split = opts.split === undefined ? undefined : await loadSplit(opts.split);
  await checkPairFiles(data, split, '--data');
  await checkPairFiles(calibrate, split, '--calibrate');
  const loadPairs = async (files: string[], option: string): Promise<{ pairs: PreferencePair[]; source: PairSource }> => {
    const { pairs } = await readPairFiles(files, split, log, option);
    if (pairs.length === 0) throw errors.validation(option, `no preference pairs in ${files.join(', ')}${opts.split ? ` (split ${opts.split})` : ''}`);
    return { pairs, source: { files, split: opts.split, pairs: pairs.length } };
  };
  if (calibrate.length > 0) await checkMembersLoad(opts.inputs);
  const heldOut = data.length > 0 ? await loadPairs(data, '--data') : undefined;
  const calibration = calibrate.length > 0 ? await loadPairs(calibrate, '--calibrate') : undefined;

  let selected: { result: Selection; pairs: PreferencePair[]; source: PairSource } | undefined;
  let inputs = opts.inputs;
  let weights = opts.weights;
  if (heldOut) {
    const { pairs, source } = heldOut;
    const byLabel = new Map(resolveInputs(opts.inputs).map((i): [string, ScorableModel] => [i.label, { label: i.label, dir: i.dir, modelFile: i.onnxPath }]));
    let scored = 0;
    const result = await selectMembers(select, opts.inputs, {
      candidate: async (label) => {
        log(`scoring input ${++scored}/${opts.inputs.length} ${label} on ${pairs.length} held-out pairs`);
        const accuracy = await heldOutAccuracy(byLabel.get(label)!, pairs, scoringProgress(progress, label));
        log(`${label}: ${pct(accuracy)}`);
        return accuracy;
      },
      average: async (labels) => {
        const dir = mkdtempSync(join(tmpdir(), 'warm-greedy-'));
        try {
          log(`greedy: averaging ${labels.join(' + ')}`);
          await mergeModels({ inputs: [...labels], out: dir, format: 'onnx', force: true, quiet: true, command: 'greedy soup step', stderr: opts.stderr });
          const accuracy = await heldOutAccuracy({ label: `average of ${labels.join(', ')}`, dir }, pairs, scoringProgress(progress, 'average'));
          log(`greedy: average of ${labels.length}: ${pct(accuracy)}`);
          return accuracy;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    }, opts.k);
    log(`${select}: keeping ${result.kept.join(', ')}`);
    selected = { result, pairs, source };
    inputs = result.kept;
    if (result.kept.length === 1) {
      // mergeModels needs two inputs: the runner-up joins with weight 0, so the output is the kept member's weights.
      inputs = [result.kept[0], result.ranked[1].label];
      weights = '1,0';
    }
  }

  const summary = await mergeModels({ ...opts, inputs, weights });
  const output: ScorableModel = { label: opts.out, dir: summary.outDir };
  const record: Parameters<typeof writeSelectionRecord>[2] = {};
  let mergedAccuracy: Accuracy | undefined;
  if (selected) {
    log('scoring the merged model on the held-out pairs');
    mergedAccuracy = await heldOutAccuracy(output, selected.pairs, scoringProgress(progress, 'merged'));
    log(`merged model: ${pct(mergedAccuracy)}`);
    record.selection = { result: selected.result, source: selected.source, merged: mergedAccuracy };
  }
  const keptDirs = selected && resolveInputs(selected.result.kept).map((i) => i.dir);
  let scale: RewardScale | undefined;
  if (calibration) {
    const { pairs, source } = calibration;
    log(`calibrating the reward on ${pairs.length * 2} texts`);
    scale = await rewardScale(output, pairs, scoringProgress(progress, 'calibration'));
    log(`normalization: mean ${scale.mean.toPrecision(6)}, std ${scale.std.toPrecision(6)}`);
    // Each member on the same texts, as `serve --ensemble` runs it: its graph on the merged
    // model's tokens. Every aggregate (warm, members, mean, min, uwo) is then in the same units.
    const members: MemberScale[] = [];
    for (const member of await servedMembers(summary.outDir, keptDirs)) {
      const memberScale = await rewardScale({ label: member.path, dir: summary.outDir, modelFile: member.modelFile }, pairs, scoringProgress(progress, member.name));
      log(`member ${member.name}: mean ${memberScale.mean.toPrecision(6)}, std ${memberScale.std.toPrecision(6)}`);
      members.push({ dir: member.path, name: member.name, scale: memberScale });
    }
    record.calibration = { scale, source, members };
  }
  await writeSelectionRecord(summary.outDir, MERGE_CARD, record, keptDirs);
  return { ...summary, selection: selected?.result, mergedAccuracy, calibration: scale };
}
