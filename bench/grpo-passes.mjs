/**
 * What each kind of pass of prefix sharing costs, on one model, in this process (raw onnxruntime
 * with the server's session settings and the prefix scorer's own feeds: dist/model/prefix-scorer.js),
 * for the analysis of bench/grpo.mjs. Real token ids of the GRPO pool (bench/grpo-data.mjs):
 *   whole   b items of prompt + completion with an empty past (what sharing off runs), b = 1, 4
 *   prefix  the prompt alone, fetching the present keys and values (a cache entry), 1 and 4 rows
 *   suffix  r completions after a cached prompt's past (fed at batch 1, broadcast), r = 1, 2, 4
 * plus the prefix scorer itself (dist/model/prefix-scorer.js PrefixScorer.score) on batches of 4
 * items whose prompts are cached: one prompt, or four (four suffix passes); and on batches of 4
 * items of prompts never seen (nothing to share: they run whole), alternating with the plain pass
 * of sharing off on other such batches. Median ms of `--runs` runs each, after one warm-up run.
 * Prints one JSON object.
 *
 *   node bench/grpo-passes.mjs [--model bench/.work/compute-1024] [--prompt-tokens 384]
 *                              [--completion-tokens 64] [--runs 7]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { loadModelDirectory } from '../dist/model/directory.js';
import { ModelTokenizer } from '../dist/model/tokenizer.js';
import { pastSpec, checkGraph } from '../dist/model/graph.js';
import { padBatch } from '../dist/model/padded-batch.js';
import { emptyPast, tokenFeeds, PrefixScorer } from '../dist/model/prefix-scorer.js';
import { grpoPool, GrpoTraffic } from './grpo-data.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'bench/.work/compute-1024' },
    'prompt-tokens': { type: 'string', default: '384' },
    'completion-tokens': { type: 'string', default: '64' },
    runs: { type: 'string', default: '7' },
  },
});
const runs = Number(values.runs);
const dir = await loadModelDirectory(values.model);
const tokenizer = await ModelTokenizer.load(dir);
const pool = await grpoPool(values.model, { promptTokens: Number(values['prompt-tokens']), completionTokens: Number(values['completion-tokens']) });
const traffic = new GrpoTraffic(pool);
const encode = async (texts) => (await tokenizer.encode(texts)).map((e) => e.ids);

// The server's session settings (src/model/onnx-engine.ts).
const session = await ort.InferenceSession.create(dir.modelFile, {
  intraOpNumThreads: 0,
  interOpNumThreads: 0,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});
const signature = checkGraph(dir.modelFile, session.inputMetadata, session.outputMetadata);
const spec = pastSpec(dir.modelFile, session.inputMetadata, session.outputMetadata);
const layout = { padTokenId: tokenizer.padId, paddingSide: dir.paddingSide };
const feedSet = new Set(signature.inputs);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Median ms of `fn(i)` over runs i = 1..runs, after a warm-up run (i = 0). */
async function time(fn) {
  await fn(0);
  const ms = [];
  for (let i = 1; i <= runs; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

// Four prompts with four completions each, as token ids (the prompt ids are the items' first tokens).
const prompts = Array.from({ length: 4 }, () => traffic.prompt(true));
const items = await encode(prompts.flatMap((p) => Array.from({ length: 4 }, () => p + traffic.completion())));
const promptIds = await encode(prompts);
// The shared prefix: the prompt's ids without the EOS ensure_eos appends.
const prefixOf = (k) => promptIds[k].subarray(0, promptIds[k].length - (tokenizer.eosId === undefined ? 0 : 1));
const P = prefixOf(0).length;

const whole = (rows) => () => session.run({ ...tokenFeeds(padBatch(rows, layout, feedSet), signature.inputs), ...emptyPast(spec) }, [signature.output]);
const prefix = (rows) => () => session.run({ ...tokenFeeds(padBatch(rows, layout, feedSet), signature.inputs), ...emptyPast(spec) }, spec.outputs);

// The past of prompt 0, then suffix passes over it as PrefixScorer runs them.
const present = await session.run({ ...tokenFeeds(padBatch([prefixOf(0)], layout, feedSet), signature.inputs), ...emptyPast(spec) }, spec.outputs);
const pastFeeds = Object.fromEntries(spec.inputs.map((name, k) => [name, new ort.Tensor('float32', present[spec.outputs[k]].data, [1, spec.kvHeads, P, spec.headDim])]));
function suffix(rows) {
  const padded = padBatch(rows.map((ids) => ids.subarray(P)), layout, feedSet);
  const width = P + padded.seq;
  const mask = new BigInt64Array(padded.batch * width);
  for (let r = 0; r < padded.batch; r++) {
    for (let k = 0; k < P; k++) mask[r * width + k] = 1n;
    for (let k = 0; k < padded.seq; k++) mask[r * width + P + k] = padded.mask[r * padded.seq + k];
  }
  let positions = padded.positions;
  if (positions) positions = positions.map((v, i) => (padded.mask[i] ? v + BigInt(P) : v));
  const feeds = tokenFeeds({ ...padded, mask, positions }, signature.inputs, width);
  return () => session.run({ ...pastFeeds, ...feeds }, [signature.output]);
}

const sameGroup = items.slice(0, 4);
const out = {
  model: values.model,
  prompt_tokens: P,
  item_tokens: sameGroup.map((s) => s.length),
  runs,
  ms: {
    whole_b1: await time(whole(sameGroup.slice(0, 1))),
    whole_b4: await time(whole(sameGroup)),
    prefix_b1: await time(prefix([prefixOf(0)])),
    prefix_b4: await time(prefix([0, 1, 2, 3].map(prefixOf))),
    suffix_r1: await time(suffix(sameGroup.slice(0, 1))),
    suffix_r2: await time(suffix(sameGroup.slice(0, 2))),
    suffix_r4: await time(suffix(sameGroup)),
  },
};

// The prefix scorer on batches of 4 whose prompts are all cached.
const scorer = new PrefixScorer(session, spec, signature.inputs, signature.output, layout, { minTokens: 16, cacheBytes: 256 * 2 ** 20 });
for (let k = 0; k < 4; k++) await scorer.score([items[4 * k], items[4 * k + 1]]);
const mixed = [0, 1, 2, 3].map((k) => items[4 * k + 2]);
out.ms.scorer_one_prompt_b4 = await time(() => scorer.score(sameGroup));
out.ms.scorer_four_prompts_b4 = await time(() => scorer.score(mixed));
// Traffic with nothing to share: every run a batch of 4 items of prompts never seen, through the
// scorer (planned, all run whole) and as the plain pass sharing off runs, alternately.
const fresh = await encode(Array.from({ length: 8 * (runs + 1) }, () => traffic.prompt(true) + traffic.completion()));
const plain = [];
const shared = [];
for (let i = 0; i <= runs; i++) {
  const [a, b] = [fresh.slice(8 * i, 8 * i + 4), fresh.slice(8 * i + 4, 8 * i + 8)];
  let t0 = performance.now();
  await whole(a)();
  const p = performance.now() - t0;
  t0 = performance.now();
  await scorer.score(b);
  if (i > 0) shared.push(performance.now() - t0), plain.push(p);
}
out.ms.no_shared_plain_b4 = median(plain);
out.ms.no_shared_scorer_b4 = median(shared);
out.scorer_stats = scorer.stats;
out.ms_per_item = {
  whole_b4: out.ms.whole_b4 / 4,
  suffix_r4: out.ms.suffix_r4 / 4,
  suffix_r1: out.ms.suffix_r1,
  scorer_one_prompt_b4: out.ms.scorer_one_prompt_b4 / 4,
  scorer_four_prompts_b4: out.ms.scorer_four_prompts_b4 / 4,
  no_shared_plain_b4: out.ms.no_shared_plain_b4 / 4,
  no_shared_scorer_b4: out.ms.no_shared_scorer_b4 / 4,
};
console.log(JSON.stringify(out, null, 1));
