/** MERGE.md: the human-readable record of a merge (inputs, hashes, weights, distances, warnings, command). */
import { INDEPENDENT_TRAINING_THRESHOLD } from './tensor/distance.js';
import type { FormatMergeResult } from './merge-context.js';
import { formatBytes } from './progress.js';
import type { Provenance } from './provenance.js';

/** Everything the card shows. */
export interface MergeCardData {
  provenance: Provenance;
  labels: readonly string[];
  rawWeights: readonly number[];
  results: readonly FormatMergeResult[];
  warnings: readonly string[];
  command: string;
}

function distanceTable(labels: readonly string[], d: readonly number[][]): string[] {
  const head = `| ‖θi − θj‖ / ‖θi‖ | ${labels.map((_, j) => `j=${j}`).join(' | ')} |`;
  const rule = `|---|${labels.map(() => '---:').join('|')}|`;
  const rows = d.map((row, i) => `| i=${i} | ${row.map((x) => x.toFixed(4)).join(' | ')} |`);
  return [head, rule, ...rows];
}

/** Renders MERGE.md. */
export function renderMergeCard(data: MergeCardData): string {
  const p = data.provenance;
  const lines = [
    '# Merge record',
    '',
    `Weight-averaged (${p.method === 'uniform' ? 'uniform WARM average' : 'weighted average'}) by ${p.tool}.`,
    'Float tensors are averaged in float64, in input order, as x0 + Σi wi·(xi − x0) / Σ w (exact when the',
    'inputs agree), then rounded to each tensor\'s dtype (round to nearest, ties to even); integer and bool',
    'tensors are copied (they are identical in every input).',
    '',
    '## Command',
    '',
    '```',
    data.command,
    '```',
    '',
    '## Inputs',
    '',
    '| # | input | path (from here) | weight | normalised |',
    '|---|---|---|---:|---:|',
    ...data.labels.map((l, i) => `| ${i} | \`${l}\` | \`${p.inputs[i].path}\` | ${data.rawWeights[i]} | ${p.weights[i].toFixed(6)} |`),
    '',
    '### SHA-256 of the input files',
    '',
    ...p.inputs.flatMap((input, i) => [
      `- input ${i} (\`${input.path}\`):`,
      ...Object.entries(input.sha256).map(([f, h]) => `  - \`${f}\` \`${h}\``),
    ]),
    '',
    '## Output',
    '',
    ...data.results.map(
      (r) => `- ${r.format}: ${r.files.map((f) => `\`${f}\``).join(', ')}; ${r.averaged} tensors averaged, ${r.copied} copied, ${formatBytes(r.bytes)}`,
    ),
    '',
    '## Distances between inputs',
    '',
    `Relative L2 distance over all float tensors. Fine-tunes of one initialisation are usually well under 0.1; above ${INDEPENDENT_TRAINING_THRESHOLD} the inputs look like independent trainings and their average is likely a poor model.`,
    '',
    ...data.results.flatMap((r) => [`### ${r.format}`, '', ...distanceTable(data.labels, r.distances), '']),
    '## Warnings',
    '',
    ...(data.warnings.length ? data.warnings.map((w) => `- ${w}`) : ['None.']),
    '',
  ];
  return lines.join('\n');
}
