/**
 * GRPO-shaped traffic from the benchmark's real texts (bench/data.mjs: TL;DR posts and HH-RLHF
 * dialogues as prompts, TL;DR summaries and HH answers as completions), cut to token counts of
 * the model's own tokenizer (dist/model/tokenizer.js, the server's code):
 *   - prompts of `promptTokens` tokens (BOS included: the prefix a group shares): a TL;DR post is
 *     cut at a word end (header and "\n\nTL;DR:" kept), an HH dialogue loses its beginning at a word
 *     start (its last turns and "\n\nAssistant:" kept); only prompts at least that long are used;
 *   - completions of `completionTokens` tokens after the prompt (EOS included): an answer or summary
 *     cut at a word end, with the next ones appended first when it is too short; all distinct.
 * The pool (prompts alternating TL;DR / HH while both last, completions shuffled) is built once per
 * model and shape, with a fixed seed, and kept in bench/.work/grpo/ (git-ignored: the texts are
 * the shared data's, never committed).
 *
 * Traffic is a list of request bodies drawn from the pool at a cursor; commit(sent) moves the cursor
 * just past what the bodies sent used, so each window takes prompts no earlier window sent:
 *   - perSample: groups of G completions of one prompt, sent as single-item /v1/score requests; a
 *     trainer step of `step` items (step / G prompts) is shuffled, so a prompt's completions are
 *     interleaved with the other prompts' of its step, as per-sample trainers send them;
 *   - rank: one /v1/rank request per group (prompt + G completions);
 * and `unique: true` takes prompts from the part of the pool whose first `minTokens` token ids
 * are unique, so no two items share a prefix the server would act on.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelDirectory } from '../dist/model/directory.js';
import { ModelTokenizer } from '../dist/model/tokenizer.js';
import { seededRandom } from '../scripts/seeded-random.mjs';
import { hhItems, tldrItems } from './data.mjs';

const WORK = join(import.meta.dirname, '.work', 'grpo');
const TLDR_TAIL = '\n\nTL;DR:';
const POST = '\nPOST: ';

function shuffle(list, random) {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

/** Indices where a text may be cut: after each word (before a space) for keep 'start', at each word start for keep 'end'. */
function cutPoints(text, keep) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== ' ' && text[i] !== '\n') continue;
    if (keep === 'start' && i > 0 && text[i - 1] !== ' ' && text[i - 1] !== '\n') out.push(i);
    if (keep === 'end' && i + 1 < text.length && text[i + 1] !== ' ' && text[i + 1] !== '\n') out.push(i + 1);
  }
  return keep === 'start' ? [...out, text.length] : [0, ...out];
}

/**
 * For every candidate, the text closest to `target` tokens (ties: the shorter), found by a
 * binary search over its cut points, all candidates in step (one batch encode per step).
 * `render(c, k)` is candidate c cut at its k-th point, counts non-decreasing in k.
 */
async function fitAll(candidates, target, points, render, count) {
  const state = candidates.map((c) => ({ c, lo: 0, hi: points(c) - 1 }));
  // Smallest k with count >= target (hi when none).
  for (let pending = state.filter((s) => s.lo < s.hi); pending.length > 0; pending = pending.filter((s) => s.lo < s.hi)) {
    const mids = pending.map((s) => (s.lo + s.hi) >> 1);
    const counts = await count(pending.map((s, i) => render(s.c, mids[i])));
    pending.forEach((s, i) => (counts[i] >= target ? (s.hi = mids[i]) : (s.lo = mids[i] + 1)));
  }
  const at = state.map((s) => s.lo);
  const [here, below] = await Promise.all([count(state.map((s, i) => render(s.c, at[i]))), count(state.map((s, i) => render(s.c, Math.max(0, at[i] - 1))))]);
  return state.map((s, i) => {
    const k = here[i] >= target && at[i] > 0 && target - below[i] <= here[i] - target ? at[i] - 1 : at[i];
    const n = k === at[i] ? here[i] : below[i];
    return Math.abs(n - target) <= Math.max(2, target * 0.05) ? { text: render(s.c, k), tokens: n } : undefined;
  });
}

/** Token counters of a model directory, as the server encodes (template must be {prompt}{completion}). */
async function counters(modelDir) {
  const dir = await loadModelDirectory(modelDir);
  if (dir.manifest.template !== '{prompt}{completion}') throw new Error(`${modelDir}: template ${dir.manifest.template}; grpo-data.mjs assumes {prompt}{completion}`);
  const tokenizer = await ModelTokenizer.load(dir);
  const CHUNK = 4096;
  const lengths = async (texts) => {
    const out = [];
    for (let i = 0; i < texts.length; i += CHUNK) out.push(...(await tokenizer.encode(texts.slice(i, i + CHUNK))).map((e) => e.fullLength));
    return out;
  };
  const eos = tokenizer.eosId === undefined ? 0 : 1;
  // A prompt's tokens: BOS + its own (the shared prefix), without the EOS ensure_eos appends.
  const promptTokens = async (texts) => (await lengths(texts)).map((n) => n - eos);
  // A completion's tokens after a prompt, EOS included (what each item adds to the shared prefix).
  const CONTEXT = 'TL;DR:';
  const [contextLength] = await promptTokens([CONTEXT]);
  const completionTokens = async (texts) => (await lengths(texts.map((t) => CONTEXT + t))).map((n) => n - contextLength);
  return { dir, tokenizer, lengths, promptTokens, completionTokens };
}

/** Candidate prompts as {head, body, tail, keep}: TL;DR posts cut at the end, HH dialogues at the start. */
function promptCandidates(random) {
  const seen = new Set();
  const distinct = (items) => items.filter(({ prompt }) => !seen.has(prompt) && seen.add(prompt));
  const tldr = shuffle(distinct(tldrItems()), random).map(({ prompt }) => {
    const at = prompt.indexOf(POST) + POST.length;
    return { source: 'tldr', head: prompt.slice(0, at), body: prompt.slice(at, prompt.length - TLDR_TAIL.length), tail: TLDR_TAIL, keep: 'start' };
  });
  const hh = shuffle(distinct(hhItems()), random).map(({ prompt }) => ({ source: 'hh', head: '', body: prompt, tail: '', keep: 'end' }));
  return { tldr, hh };
}

/**
 * The pool of fitted prompts and completions for `modelDir` at this shape (built once, then read
 * from bench/.work/grpo/). Returns { prompts: [{text, tokens, source, key}], completions: [{text,
 * tokens}], stats }.
 */
export async function grpoPool(modelDir, { promptTokens, completionTokens, completions = 12000, seed = 15, minTokens = 16, log = () => {} }) {
  const name = `${modelDir.split('/').filter(Boolean).at(-1)}-p${promptTokens}-c${completionTokens}-n${completions}-s${seed}.json`;
  const file = join(WORK, name);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const started = Date.now();
  log(`building the GRPO text pool ${name} (once)`);
  const count = await counters(modelDir);
  const random = seededRandom(seed);

  // Prompts: only those at least promptTokens long, cut down to it.
  const { tldr, hh } = promptCandidates(random);
  const fitPrompts = async (cands) => {
    const full = await count.promptTokens(cands.map((c) => c.head + c.body + c.tail));
    const long = cands.filter((_, i) => full[i] >= promptTokens);
    const cuts = new Map(long.map((c) => [c, cutPoints(c.body, c.keep)]));
    // k counts up with the kept length: 'start' keeps body[0, cut), 'end' keeps body[cut, ...), walked from the end.
    const render = (c, k) => {
      const p = cuts.get(c);
      return c.keep === 'start' ? c.head + c.body.slice(0, p[k]) + c.tail : c.head + c.body.slice(p[p.length - 1 - k]) + c.tail;
    };
    const fitted = await fitAll(long, promptTokens, (c) => cuts.get(c).length, render, count.promptTokens);
    return fitted.map((f, i) => f && { ...f, source: long[i].source }).filter(Boolean);
  };
  const [tldrPrompts, hhPrompts] = [await fitPrompts(tldr), await fitPrompts(hh)];
  const prompts = [];
  for (let i = 0; i < Math.max(tldrPrompts.length, hhPrompts.length); i++) prompts.push(...[tldrPrompts[i], hhPrompts[i]].filter(Boolean));
  const seenPrompt = new Set();
  const distinctPrompts = prompts.filter((p) => !seenPrompt.has(p.text) && seenPrompt.add(p.text));
  // The bucket key of the prefix cache: the first minTokens ids (BOS included).
  const ids = await count.tokenizer.encode(distinctPrompts.map((p) => p.text));
  distinctPrompts.forEach((p, i) => (p.key = Array.from(ids[i].ids.subarray(0, minTokens)).join(',')));

  // Completions: answers and summaries, each with the next ones appended while it is short.
  const texts = shuffle([...new Set([...tldrItems(), ...hhItems()].map((i) => i.completion).filter((t) => t.trim().length > 0))], random);
  const cands = [];
  for (let i = 0; cands.length < completions * 1.5 && i < 4 * texts.length; i++) {
    let text = texts[i % texts.length];
    // ~1.8 characters per token: 4 per token leaves room for the cut.
    for (let j = 1; text.length < 4 * completionTokens; j++) text += texts[(i + j) % texts.length];
    cands.push({ text, cuts: cutPoints(text, 'start') });
  }
  const fitted = await fitAll(cands, completionTokens, (c) => c.cuts.length, (c, k) => c.text.slice(0, c.cuts[k]), count.completionTokens);
  const seenCompletion = new Set();
  const completionPool = fitted.filter((f) => f && !seenCompletion.has(f.text) && seenCompletion.add(f.text)).slice(0, completions);
  if (completionPool.length < completions) throw new Error(`only ${completionPool.length} distinct completions of ${completionTokens} tokens`);

  const quantiles = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return Object.fromEntries([0.1, 0.5, 0.9].map((q) => [`p${q * 100}`, s[Math.floor(q * (s.length - 1))]]));
  };
  const pool = {
    model: modelDir,
    shape: { prompt_tokens: promptTokens, completion_tokens: completionTokens, min_tokens: minTokens, seed },
    prompts: distinctPrompts,
    completions: completionPool,
    stats: {
      prompts: distinctPrompts.length,
      prompts_tldr: distinctPrompts.filter((p) => p.source === 'tldr').length,
      unique_key_prompts: new Set(distinctPrompts.map((p) => p.key)).size,
      completions: completionPool.length,
      prompt_tokens: quantiles(distinctPrompts.map((p) => p.tokens)),
      completion_tokens: quantiles(completionPool.map((c) => c.tokens)),
      seconds_to_build: (Date.now() - started) / 1000,
    },
  };
  mkdirSync(WORK, { recursive: true });
  writeFileSync(file, JSON.stringify(pool));
  log(`pool: ${pool.stats.prompts} prompts (${pool.stats.prompts_tldr} TL;DR, ${pool.stats.unique_key_prompts} distinct first ${minTokens} tokens), ${pool.stats.completions} completions, in ${pool.stats.seconds_to_build.toFixed(0)} s`);
  return pool;
}

/**
 * Draws traffic from a pool. Every call continues where the last one stopped (prompts and
 * completions), so windows never repeat an item; prompts wrap around only after the whole pool.
 */
export class GrpoTraffic {
  constructor(pool, seed = 15) {
    this.pool = pool;
    this.random = seededRandom(seed);
    this.nextPrompt = 0;
    this.nextUnique = 0;
    this.nextCompletion = 0;
    // One prompt per first-minTokens key: traffic whose items share no prefix the server acts on.
    const keys = new Set();
    this.uniquePrompts = pool.prompts.filter((p) => !keys.has(p.key) && keys.add(p.key));
  }

  prompt(unique) {
    const list = unique ? this.uniquePrompts : this.pool.prompts;
    const i = unique ? this.nextUnique++ : this.nextPrompt++;
    return list[i % list.length].text;
  }

  completion() {
    return this.pool.completions[this.nextCompletion++ % this.pool.completions.length].text;
  }

  /** The cursors, to rewind to. */
  get cursor() {
    return { nextPrompt: this.nextPrompt, nextUnique: this.nextUnique, nextCompletion: this.nextCompletion };
  }

  /**
   * `bodies` plus commit(sent): once `sent` of them went out, the cursors move to just after the
   * prompts and completions those used (the rest are drawn again by the next call).
   */
  withCommit(path, perRequest, bodies, ends, start) {
    const commit = (sent) => {
      Object.assign(this, sent > 0 ? ends[sent - 1] : start);
      // The sources of the prompts used: { tldr, hh }.
      const used = { tldr: 0, hh: 0 };
      const count = (list, from, to) => {
        for (let i = from; i < to; i++) used[list[i % list.length].source]++;
      };
      count(this.pool.prompts, start.nextPrompt, this.nextPrompt);
      count(this.uniquePrompts, start.nextUnique, this.nextUnique);
      return used;
    };
    return { path, items_per_request: perRequest, bodies, commit };
  }

  /** `items` single-item /v1/score bodies: groups of `group` completions, shuffled within steps of `step` items. */
  perSample({ items, group, step = 64, unique = false }) {
    const start = this.cursor;
    const bodies = [];
    const ends = [];
    const perStep = Math.max(step, group);
    while (bodies.length < items) {
      const batch = [];
      for (let g = 0; g < perStep / group; g++) {
        const prompt = this.prompt(unique);
        for (let k = 0; k < group; k++) batch.push(JSON.stringify({ items: [{ prompt, completion: this.completion() }] }));
      }
      bodies.push(...shuffle(batch, this.random));
      // Any body of a step may go out first: sending one uses up its whole step.
      const end = this.cursor;
      for (let k = 0; k < batch.length; k++) ends.push(end);
    }
    return this.withCommit('/v1/score', 1, bodies.slice(0, items), ends, start);
  }

  /** `requests` /v1/rank bodies, one group of `group` completions each. */
  rank({ requests, group, unique = false }) {
    const start = this.cursor;
    const bodies = [];
    const ends = [];
    for (let r = 0; r < requests; r++) {
      const prompt = this.prompt(unique);
      bodies.push(JSON.stringify({ prompt, completions: Array.from({ length: group }, () => this.completion()) }));
      ends.push(this.cursor);
    }
    return this.withCommit('/v1/rank', group, bodies, ends, start);
  }
}
