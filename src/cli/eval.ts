/**
 * `warm-serve eval`: pairwise accuracy (reward(chosen) > reward(rejected)) with 95% Wilson
 * intervals, for the model, each of its members, the mean member and the prediction ensemble
 * (mean of the members' rewards), through the same formatting, tokenization and inference code
 * as the server.
 */
import { parseArgs } from 'node:util';
import { pairwiseAccuracy, type Accuracy } from '../eval/accuracy.js';
import { limitPairs, readPairFiles } from '../eval/pair-files.js';
import type { PreferencePair } from '../eval/pairs.js';
import { WarmServeError } from '../errors.js';
import { scorePairs } from '../eval/score-pairs.js';
import { DEFAULT_MODEL_DIR } from '../config/schema.js';
import { OFFLINE_BATCHING } from '../scoring/bulk.js';
import { createScoringService } from '../scoring/service.js';
import { loadMemberDirectories } from '../model/members.js';
import { loadModelDirectory } from '../model/directory.js';

const HELP = `Usage: warm-serve eval --model DIR --data FILE [FILE...] [options]

Pairwise accuracy of a reward model, its members, the mean member and their ensemble.

Options:
  --model DIR         model directory (default: the bundled models/reference)
  --data FILE...      preference pairs, JSON Lines, gzipped or not, one format per row:
                        TL;DR comparisons {info, summaries, choice}
                        HH-RLHF {chosen, rejected} dialogues
                        plain {prompt, chosen, rejected}
                      pairs whose two answers are identical are dropped
  --split FILE:NAME   keep only the rows of split NAME in split file FILE
                      (e.g. models/recipe/splits.json:validation)
  --no-members        evaluate the model only, not its members or their ensemble
  --limit N           use at most N pairs (after the split), shared among the files in
                      proportion to their pair counts, the first ones of each file; stderr and
                      the Data line say how many came from each file
  --json              print JSON instead of a Markdown table
  -h, --help          this help
`;

/** One evaluated row of the table. */
interface Row {
  model: string;
  accuracy: Accuracy;
}

function progress(label: string): (done: number, total: number) => void {
  const tty = process.stderr.isTTY;
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < (tty ? 200 : 5000)) return;
    last = now;
    const line = `eval: ${label} ${done}/${total} texts`;
    process.stderr.write(tty ? `\r${line}${done === total ? '\n' : ''}` : `${line}\n`);
  };
}

/** Rewards for every chosen and rejected text of `pairs` from the model in `dir`. */
async function rewardsOf(dir: string, label: string, pairs: PreferencePair[]): Promise<{ chosen: Float64Array; rejected: Float64Array }> {
  const service = await createScoringService(dir, { batching: OFFLINE_BATCHING });
  try {
    return await scorePairs(service, pairs, progress(label));
  } finally {
    await service.drain(60_000);
  }
}

function pct(x: number): string {
  return (100 * x).toFixed(1);
}

function table(rows: Row[]): string {
  const lines = ['| model | pairs | accuracy (%) | 95% CI (%) |', '| --- | ---: | ---: | --- |'];
  for (const { model, accuracy: a } of rows) {
    const ci = Number.isNaN(a.ci95[0]) ? '' : `${pct(a.ci95[0])} – ${pct(a.ci95[1])}`;
    lines.push(`| ${model} | ${a.n} | ${pct(a.accuracy)} | ${ci} |`);
  }
  return lines.join('\n') + '\n';
}

/** Run the command; resolves with the exit status. */
export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string', default: DEFAULT_MODEL_DIR },
        data: { type: 'string', multiple: true },
        split: { type: 'string' },
        'no-members': { type: 'boolean', default: false },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`warm-serve eval: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values } = args;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // `--data a b c`: parseArgs takes `a` as the value and leaves `b c` as positionals.
  const dataFiles = [...(values.data ?? []), ...args.positionals];
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (dataFiles.length === 0 || !(limit === Infinity || (Number.isInteger(limit) && limit > 0))) {
    process.stderr.write(`warm-serve eval: ${dataFiles.length === 0 ? '--data needs at least one file' : '--limit must be a positive integer'}\n\n${HELP}`);
    return 2;
  }
  try {
    // Everything the command reads is checked before any of it is scored: the model and its
    // members, the split, then every data file (readPairFiles opens them all before reading one).
    const model = await loadModelDirectory(values.model);
    const members = values['no-members'] ? [] : await loadMemberDirectories(model);
    const read = await readPairFiles(dataFiles, values.split, (line) => process.stderr.write(`eval: ${line}\n`));
    const { split } = read;
    // --limit shares the N pairs among the files in proportion to their sizes (limitPairs).
    const limited = Number.isFinite(limit) ? limitPairs(read.files, limit) : undefined;
    const pairs = limited?.pairs ?? read.pairs;
    const takenText = limited?.taken.map((f) => `${f.path} (${f.taken} of ${f.of} pairs)`).join(', ');
    if (takenText) process.stderr.write(`eval: --limit ${limit}: ${takenText}\n`);
    const rows: Row[] = [];
    const main = await rewardsOf(model.path, model.name, pairs);
    rows.push({ model: `${model.name} (this model)`, accuracy: pairwiseAccuracy(main.chosen, main.rejected) });
    if (members.length > 0) {
      const sumChosen = new Float64Array(pairs.length);
      const sumRejected = new Float64Array(pairs.length);
      const memberRows: Row[] = [];
      for (const member of members) {
        const r = await rewardsOf(member.path, member.name, pairs);
        for (let i = 0; i < pairs.length; i++) {
          sumChosen[i] += r.chosen[i];
          sumRejected[i] += r.rejected[i];
        }
        memberRows.push({ model: `member ${member.name}`, accuracy: pairwiseAccuracy(r.chosen, r.rejected) });
      }
      const meanAcc = memberRows.reduce((s, r) => s + r.accuracy.accuracy, 0) / memberRows.length;
      const meanCorrect = memberRows.reduce((s, r) => s + r.accuracy.correct, 0) / memberRows.length;
      rows.push(...memberRows);
      rows.push({
        model: 'mean member',
        // An average of accuracies, not one classifier: no interval.
        accuracy: { n: pairs.length, correct: meanCorrect, accuracy: meanAcc, ci95: [NaN, NaN] },
      });
      rows.push({ model: `ensemble (mean of ${members.length} members' rewards)`, accuracy: pairwiseAccuracy(sumChosen, sumRejected) });
    }
    const heading = `${takenText ?? dataFiles.join(' ')}${split ? ` [${split.name} split of ${split.file}]` : ''}`;
    const report = { data: dataFiles, split: split?.name, ...(limited ? { limit, taken: limited.taken } : {}), rows };
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `Data: ${heading}\n\n${table(rows)}`);
    return 0;
  } catch (err) {
    if (!(err instanceof WarmServeError)) throw err;
    process.stderr.write(`warm-serve eval: ${err.message}\n`);
    return 2;
  }
}
