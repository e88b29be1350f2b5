/**
 * The record of `merge --select` / `--calibrate`, added to a finished merge: `merge.selection`
 * and `merge.calibration` (plus `normalization`) in warm.json, and matching sections in MERGE.md.
 * Written after the merge because both need the merged model itself to be scored.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Accuracy } from '../../eval/accuracy.js';
import { errors } from '../../errors.js';
import { MANIFEST_FILE, ManifestSchema } from '../../model/manifest.js';
import { mergeDescription } from '../merge-manifest.js';
import { StagedOutput } from '../staged-output.js';
import type { RewardScale } from './held-out.js';
import type { Selection } from './selection.js';

/** The pairs a selection or calibration was computed on. */
export interface PairSource {
  files: string[];
  /** `FILE:NAME` as given to --split. */
  split?: string;
  pairs: number;
}

/** One ensemble member's reward scale on the calibration texts. */
export interface MemberScale {
  /** The member's directory (absolute), as warm.json `members[].path` resolves. */
  dir: string;
  name: string;
  scale: RewardScale;
}

/** What to add to the merge record. */
export interface SelectionRecord {
  selection?: { result: Selection; source: PairSource; merged: Accuracy };
  /** The merged model's scale and each member's, all on the same texts. */
  calibration?: { scale: RewardScale; source: PairSource; members: MemberScale[] };
}

const pct = (x: number) => (100 * x).toFixed(1);
const ci = (a: Accuracy) => `${pct(a.ci95[0])} – ${pct(a.ci95[1])}`;
const round = (x: number) => Number(x.toPrecision(6));
const accuracyJson = (a: Accuracy) => ({ accuracy: round(a.accuracy), correct: a.correct, n: a.n });

function sourceLine(source: PairSource): string {
  const files = source.files.map((f) => `\`${f}\``).join(', ');
  return `${source.pairs} pairs from ${files}${source.split ? ` (split \`${source.split}\`)` : ''}`;
}

const METHOD_TITLES = { uniform: 'uniform (all members)', 'top-k': 'top-k (the K most accurate)', greedy: 'greedy soup' } as const;

function selectionSection(s: NonNullable<SelectionRecord['selection']>): string[] {
  const { result, source, merged } = s;
  const kept = new Set(result.kept);
  const lines = [
    `## Member selection: ${METHOD_TITLES[result.method]}${result.k !== undefined ? `, K = ${result.k}` : ''}`,
    '',
    `Held-out pairwise accuracy (reward(chosen) > reward(rejected)) on ${sourceLine(source)}, with 95% Wilson intervals.`,
    '',
    '| rank | candidate | accuracy (%) | 95% CI (%) | kept |',
    '|---:|---|---:|---|---|',
    ...result.ranked.map((c, i) => `| ${i + 1} | \`${c.label}\` | ${pct(c.accuracy.accuracy)} | ${ci(c.accuracy)} | ${kept.has(c.label) ? 'yes' : 'no'} |`),
    '',
  ];
  if (result.steps) {
    lines.push(
      'Greedy steps, best first: a candidate joins when the average with it is at least as accurate as the average without it.',
      '',
      '| step | candidate added | accuracy of the average (%) | kept |',
      '|---:|---|---:|---|',
      `| 0 | \`${result.ranked[0].label}\` (start) | ${pct(result.ranked[0].accuracy.accuracy)} | yes |`,
      ...result.steps.map((st, i) => `| ${i + 1} | \`${st.label}\` | ${pct(st.accuracy.accuracy)} | ${st.kept ? 'yes' : 'no'} |`),
      '',
    );
  }
  lines.push(
    `Kept ${result.kept.length} of ${result.ranked.length}: ${result.kept.map((l) => `\`${l}\``).join(', ')}.`,
    ...(result.kept.length === 1
      ? ['', `Only one member was kept. The merge needs two inputs, so the runner-up \`${result.ranked[1].label}\` was added with weight 0: the output has the kept member's weights.`]
      : []),
    `Merged model: ${pct(merged.accuracy)}% (${ci(merged)}) on the same pairs.`,
    '',
  );
  return lines;
}

function calibrationSection(c: NonNullable<SelectionRecord['calibration']>): string[] {
  return [
    '## Reward calibration',
    '',
    `Averaging weights shifts the reward scale, so the merged model's raw rewards (logits[:, 0]) were measured on the ${c.scale.texts} chosen and rejected texts of ${sourceLine(c.source)}:`,
    '',
    `- mean ${round(c.scale.mean)}`,
    `- standard deviation ${round(c.scale.std)} (population)`,
    '',
    'warm.json stores them as `normalization`, so the served reward is (logit − mean) / std: about mean 0 and std 1 on this data.',
    '',
    'Each ensemble member was measured on the same texts, tokenized as `serve --ensemble` tokenizes them, and its',
    'mean and std stored as its `members[].normalization`: every aggregate (`warm`, `mean`, `min`, `uwo`, the member',
    'rewards) is then in the same units, and identical members give exactly the merged model\'s reward.',
    '',
    '| member | mean | std |',
    '|---|---:|---:|',
    ...c.members.map((m) => `| \`${m.name}\` | ${round(m.scale.mean)} | ${round(m.scale.std)} |`),
    '',
  ];
}

/**
 * Add the selection and calibration to `outDir`'s warm.json and MERGE.md (each replaced in one
 * rename). `keptDirs`: the kept members' directories; warm.json `members` is cut to them.
 */
export async function writeSelectionRecord(outDir: string, mergeCard: string, record: SelectionRecord, keptDirs?: readonly string[]): Promise<void> {
  const manifestPath = join(outDir, MANIFEST_FILE);
  const manifest = ManifestSchema.parse(JSON.parse(await readFile(manifestPath, 'utf8')));
  const merge: Record<string, unknown> = { ...(manifest.merge ?? {}) };
  if (record.selection) {
    const { result, source, merged } = record.selection;
    merge.selection = {
      method: result.method,
      ...(result.k !== undefined ? { k: result.k } : {}),
      data: source.files,
      ...(source.split ? { split: source.split } : {}),
      pairs: source.pairs,
      candidates: result.ranked.map((c) => ({ input: c.label, ...accuracyJson(c.accuracy) })),
      kept: result.kept,
      ...(result.steps ? { steps: result.steps.map((s) => ({ added: s.label, ...accuracyJson(s.accuracy), kept: s.kept })) } : {}),
      merged: accuracyJson(merged),
    };
  }
  if (record.calibration) {
    const { scale, source } = record.calibration;
    merge.calibration = {
      data: source.files,
      ...(source.split ? { split: source.split } : {}),
      texts: scale.texts,
      mean: scale.mean,
      std: scale.std,
      members: record.calibration.members.map((m) => ({ name: m.name, mean: m.scale.mean, std: m.scale.std })),
    };
    manifest.normalization = { mean: scale.mean, std: scale.std };
  }
  // A single kept member was merged with a weight-0 runner-up, which is not a member.
  const kept = keptDirs ? manifest.members.filter((m) => keptDirs.includes(resolve(outDir, m.path))) : manifest.members;
  const memberScales = new Map(record.calibration?.members.map((m) => [m.dir, m.scale]));
  const members = kept.map((m) => {
    const scale = memberScales.get(resolve(outDir, m.path));
    return scale ? { ...m, normalization: { mean: scale.mean, std: scale.std } } : m;
  });
  // The merge's own description (not a curated one) now says which members were kept, from how many.
  let description = manifest.description;
  if (record.selection && description === mergeDescription(manifest.members.map((m) => m.name), merge.method)) {
    description = mergeDescription(members.map((m) => m.name), merge.method, { method: record.selection.result.method, candidates: record.selection.result.ranked.length });
  }
  const updated = ManifestSchema.safeParse({ ...manifest, description, members, merge });
  if (!updated.success) throw errors.merge(outDir, undefined, `the updated ${MANIFEST_FILE} is invalid: ${updated.error.message}`);

  const cardPath = join(outDir, mergeCard);
  const card = await readFile(cardPath, 'utf8');
  const sections = [...(record.selection ? selectionSection(record.selection) : []), ...(record.calibration ? calibrationSection(record.calibration) : [])];
  await replaceFile(manifestPath, `${JSON.stringify(updated.data, null, 2)}\n`);
  await replaceFile(cardPath, `${card.trimEnd()}\n\n${sections.join('\n')}`);
}

async function replaceFile(path: string, text: string): Promise<void> {
  const temp = StagedOutput.tempPath(path);
  await writeFile(temp, text);
  await rename(temp, path);
}
