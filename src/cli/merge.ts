/** `warm-serve merge`: weight-average M reward models (WARM) into one model directory. */
import { parseArgs } from 'node:util';
import { WarmServeError } from '../errors.js';
import type { FormatChoice } from '../merge/model-inputs.js';
import { selectiveMerge } from '../merge/select/selective-merge.js';
import { SELECT_METHODS, type SelectMethod } from '../merge/select/selection.js';

const HELP = `Usage: warm-serve merge --out DIR [options] INPUT INPUT...

Averages the weights of M >= 2 fine-tunes of one pretrained model (WARM) into one model.
Each INPUT is a model directory (config.json, tokenizer files, model.safetensors or sharded
*.safetensors + model.safetensors.index.json, and/or model.onnx with optional external data)
or a .onnx file. Inputs must share architecture, tokenizer, tensor names, shapes and dtypes.

Options:
  -o, --out DIR          output model directory (created if needed; other files there are kept)
  -f, --format FORMAT    safetensors | onnx | all (default: all = every format the inputs hold,
                         each merged separately into DIR)
  -w, --weights W1,W2..  weighted average, one non-negative weight per input, normalised by their
                         sum (default: uniform)
      --force            overwrite output files that already exist
      --name NAME        warm.json "name", the model name every response reports (default: the
                         output directory's name; an existing warm.json in DIR keeps its own)

Member selection and calibration (score models with ONNX Runtime: every input needs model.onnx):
      --select METHOD    uniform | top-k | greedy (default uniform: average every input)
                           top-k   keep the K inputs with the best held-out accuracy ("best M")
                           greedy  greedy soup: best first, add an input while the held-out
                                   accuracy of the running average does not drop
      --data FILE        held-out preference pairs (JSON Lines, gzipped or not: TL;DR, HH-RLHF or
                         plain {prompt, chosen, rejected}); repeat for several files. Needed by
                         top-k and greedy; with uniform the accuracies are only recorded
      --split FILE:NAME  use only split NAME of split file FILE for --data and --calibrate
                         (e.g. models/recipe/splits.json:validation)
      --k K              top-k: how many inputs to keep
      --calibrate FILE   after merging, measure the merged model's reward mean and std on these
                         pairs' texts and store them as warm.json "normalization" (averaging
                         shifts the reward scale), and each member's as its
                         members[].normalization, so that serve --ensemble aggregates share
                         one scale; repeatable
  -q, --quiet            no progress or summary on stderr (warnings still shown)
  -h, --help             show this help

Writes the averaged weights (float64 accumulation, rounded to each tensor's dtype), copies of the
first input's config/tokenizer files, warm.json (name, a description of the merge, members +
merge provenance) and MERGE.md (inputs,
SHA-256s, weights, pairwise distances, warnings; with --select each candidate's accuracy, the
members kept and the greedy steps; with --calibrate the normalisation). Refuses quantized,
malformed or mismatched inputs.
`;

/** Runs the command; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        format: { type: 'string', short: 'f', default: 'all' },
        weights: { type: 'string', short: 'w' },
        force: { type: 'boolean', default: false },
        name: { type: 'string' },
        select: { type: 'string' },
        data: { type: 'string', multiple: true },
        split: { type: 'string' },
        k: { type: 'string' },
        calibrate: { type: 'string', multiple: true },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`warm-serve merge: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const usageError = (message: string) => {
    process.stderr.write(`warm-serve merge: ${message}\n\nRun 'warm-serve merge --help' for usage.\n`);
    return 2;
  };
  if (!values.out) return usageError('--out: the output directory is required');
  if (!['all', 'safetensors', 'onnx'].includes(values.format)) {
    return usageError(`--format: '${values.format}' is not one of safetensors, onnx, all`);
  }
  if (positionals.length < 2) return usageError(`INPUT: got ${positionals.length} model(s); a merge needs at least 2`);
  if (values.select !== undefined && !(SELECT_METHODS as readonly string[]).includes(values.select)) {
    return usageError(`--select: '${values.select}' is not one of ${SELECT_METHODS.join(', ')}`);
  }
  const k = values.k === undefined ? undefined : Number(values.k);
  if (k !== undefined && !(Number.isInteger(k) && k >= 1)) return usageError(`--k: '${values.k}' is not a positive integer`);
  try {
    await selectiveMerge({
      select: values.select as SelectMethod | undefined,
      data: values.data,
      split: values.split,
      k,
      calibrate: values.calibrate,
      inputs: positionals,
      out: values.out,
      format: values.format as FormatChoice,
      weights: values.weights,
      force: values.force,
      name: values.name,
      quiet: values.quiet,
      command: ['warm-serve', 'merge', ...argv].map(shellQuote).join(' '),
    });
    return 0;
  } catch (e) {
    if (e instanceof WarmServeError) {
      // A bad option value or a file an option names (validation_error) is a usage error, exit 2;
      // inputs that cannot be merged (merge_error) and the rest exit 1.
      process.stderr.write(`warm-serve merge: ${e.message}\n`);
      return e.type === 'validation_error' ? 2 : 1;
    }
    throw e;
  }
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
