#!/usr/bin/env node
/**
 * README examples cannot drift (issue 18): runs every `warm-serve merge`, `eval` and `score`
 * command README.md documents, its Authentication snippet and its "Serve your own reward model"
 * example, in a fresh copy of the repository, and compares each with the output the docs show
 * where that output is deterministic (rewards to 1e-5, the eval table of the model card exactly);
 * elsewhere it checks what the command must have written. scripts/serve-examples.sh does the same
 * for the serving examples.
 *
 *   node scripts/docs-examples.mjs [--worktree] [--keep] [--list]
 *
 * The copy is `git clone` of HEAD (`--worktree`: the files git tracks or would track, as they are
 * in the working tree, to check docs before committing them), with node_modules linked from this checkout, built
 * with `npm run build`, beside a link to ../shared/data (docs/data.md), which it needs. Commands
 * are taken from README.md word for word: a documented command this script does not run, or one
 * it runs that README.md no longer shows, fails the run. Where a command names files of the
 * reader's own (run-a, my-model, pairs.jsonl, held-out.jsonl), they are made first from the
 * reference model and the shared data; servers get free ports instead of 8000 and 8321.
 * `--list` prints the documented commands and the snippets' scripts (from this checkout's README)
 * and runs nothing. Takes about 5 minutes on 2 CPU cores; exit 1 when any example fails.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';

const ROOT = resolve(import.meta.dirname, '..');
const SHARED = resolve(ROOT, '..', 'shared');
const { values: opts } = parseArgs({
  options: { worktree: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false }, list: { type: 'boolean', default: false } },
});
const started = performance.now();
const seconds = (since) => ((performance.now() - since) / 1000).toFixed(1);
const log = (line) => process.stdout.write(`${line}\n`);

if (!existsSync(join(SHARED, 'data'))) {
  console.error(`docs-examples: ${join(SHARED, 'data')} is missing: the examples read it (see docs/data.md)`);
  process.exit(2);
}

// --- the copy ------------------------------------------------------------------------------------
const scratch = mkdtempSync(join(tmpdir(), 'docs-examples-'));
const REPO = opts.list ? ROOT : join(scratch, 'warm-serve');
if (opts.list) {
  rmSync(scratch, { recursive: true });
} else if (opts.worktree) {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  const files = [...new Set(listed.stdout.split('\0').filter(Boolean))];
  for (const file of files) {
    if (!existsSync(join(ROOT, file))) continue; // deleted in the working tree
    mkdirSync(dirname(join(REPO, file)), { recursive: true });
    cpSync(join(ROOT, file), join(REPO, file));
  }
} else {
  must(spawnSync('git', ['clone', '--quiet', ROOT, REPO], { encoding: 'utf8' }), 'git clone');
}
if (!opts.list) {
  symlinkSync(join(ROOT, 'node_modules'), join(REPO, 'node_modules'));
  symlinkSync(SHARED, join(scratch, 'shared'));
  const buildStarted = performance.now();
  must(spawnSync('npm', ['run', 'build'], { cwd: REPO, encoding: 'utf8' }), 'npm run build');
  log(`copy: ${opts.worktree ? 'working tree' : 'clone of HEAD'} in ${REPO}, built in ${seconds(buildStarted)} s`);
  process.on('exit', () => opts.keep || rmSync(scratch, { recursive: true, force: true }));
}

function must(result, what) {
  if (result.status !== 0) {
    console.error(`docs-examples: ${what} failed (${result.status}):\n${result.stdout ?? ''}${result.stderr ?? ''}`);
    process.exit(2);
  }
  return result;
}

// --- what README.md documents --------------------------------------------------------------------
// The README and its manuals, as one text: the commands live in docs/cli.md, the snippets in
// docs/operations.md (Authentication) and docs/models.md (Serve your own reward model).
const README = ['README.md', 'docs/cli.md', 'docs/api.md', 'docs/operations.md', 'docs/models.md'].map((file) => readFileSync(join(REPO, file), 'utf8')).join('\n');

/** The fenced blocks of a markdown text: language and lines. */
function blocks(markdown) {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], lines: m[2].replace(/\n$/, '').split('\n') }));
}

/** Commands of a block: `$ ` lines in console blocks, every line in sh blocks; continuations joined, trailing comments cut. */
function commands(block) {
  const out = [];
  let current;
  for (const line of block.lines) {
    const text = block.lang === 'console' ? (line.startsWith('$ ') ? line.slice(2) : current !== undefined ? line : undefined) : line;
    if (text === undefined) continue;
    current = current === undefined ? text.trim() : `${current} ${text.trim()}`;
    if (current.endsWith('\\')) {
      current = current.slice(0, -1).trim();
      continue;
    }
    const command = current.replace(/\s+# .*$/, '').trim();
    if (command && !command.startsWith('#')) out.push(command);
    current = undefined;
  }
  return out;
}

/** The output a console block shows after `$ command` (up to the next `$ ` line). */
function documentedOutput(command) {
  for (const block of blocks(README).filter((b) => b.lang === 'console')) {
    const at = block.lines.findIndex((l) => l === `$ ${command}`);
    if (at < 0) continue;
    const end = block.lines.findIndex((l, i) => i > at && l.startsWith('$ '));
    return block.lines.slice(at + 1, end < 0 ? undefined : end);
  }
  throw new Error(`README.md shows no output for: ${command}`);
}

/** The fenced block under a heading (its first one). */
function blockUnder(heading) {
  const at = README.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README.md has no heading '${heading}'`);
  return blocks(README.slice(at))[0];
}

const documented = blocks(README).flatMap(commands).filter((c) => /^(npx warm-serve (merge|eval|score)|zcat .*warm-serve score)\b/.test(c));

// --- helpers for the checks ----------------------------------------------------------------------
const near = (a, b) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
const jsonLines = (text) => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const json = (file) => JSON.parse(readFileSync(join(REPO, file), 'utf8'));

/** Scored lines equal the documented ones: rewards to 1e-5, every other field exactly. */
function sameScored(actual, expected) {
  if (actual.length !== expected.length) return `${actual.length} lines, documented ${expected.length}`;
  for (const [i, a] of actual.entries()) {
    const { reward: ra, ...restA } = a;
    const { reward: re, ...restE } = expected[i];
    if (!near(ra, re)) return `line ${i + 1}: reward ${ra}, documented ${re}`;
    if (JSON.stringify(restA) !== JSON.stringify(restE)) return `line ${i + 1}: ${JSON.stringify(restA)}, documented ${JSON.stringify(restE)}`;
  }
  return undefined;
}

/** The tensors of two safetensors files are byte for byte the same (metadata aside). */
function sameTensors(fileA, fileB) {
  const read = (file) => {
    const bytes = readFileSync(file);
    const size = Number(bytes.readBigUInt64LE(0));
    return { bytes, header: JSON.parse(bytes.subarray(8, 8 + size).toString('utf8')), start: 8 + size };
  };
  const [a, b] = [read(fileA), read(fileB)];
  const names = Object.keys(a.header).filter((k) => k !== '__metadata__');
  for (const name of names) {
    const [x, y] = [a.header[name], b.header[name]];
    if (!y) return `${name} missing`;
    const bytesOf = (f, t) => f.bytes.subarray(f.start + t.data_offsets[0], f.start + t.data_offsets[1]);
    if (Buffer.compare(bytesOf(a, x), bytesOf(b, y)) !== 0) return `${name} differs`;
  }
  return names.length === Object.keys(b.header).filter((k) => k !== '__metadata__').length ? undefined : 'different tensor sets';
}

/** `warm-serve score` of `input` with `model` (the built CLI): its parsed lines. */
function score(model, input) {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'score', '--model', model, '--input', input], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`score --model ${model} failed: ${r.stderr}`);
  return jsonLines(r.stdout);
}

/**
 * The /v1/score answer in a snippet's output: the server in the background logs to the same
 * stdout, and curl ends its answer without a newline, so it is found by its shape ({"model": ...
 * ending with the timings object).
 */
function answerOf(stdout) {
  const found = /\{"model":.*?"timings":\{[^{}]*\}\}/.exec(stdout);
  return found ? JSON.parse(found[0]) : undefined;
}

function freePort() {
  return new Promise((resolveFn) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolveFn(port));
    });
  });
}

/** The table rows of a markdown table's text (lines starting with '| ' below the header rule). */
const tableRows = (lines) => lines.filter((l) => l.startsWith('| ') && !l.startsWith('| model') && !l.startsWith('| ---'));

const rmMerged = () => rmSync(join(REPO, 'merged'), { recursive: true, force: true });
const link = (target, path) => existsSync(join(REPO, path)) || symlinkSync(join(REPO, target), join(REPO, path));
function pairsFrom(file, from, count) {
  const rows = gunzipSync(readFileSync(join(scratch, 'shared', 'data', file))).toString('utf8').split('\n').filter(Boolean);
  return `${rows.slice(from, from + count).join('\n')}\n`;
}

// --- the examples --------------------------------------------------------------------------------
const itemsCommand = 'cat items.jsonl';
const documentedItems = documentedOutput(itemsCommand);
const documentedScored = documentedOutput('npx warm-serve score --input items.jsonl').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const writeItems = () => writeFileSync(join(REPO, 'items.jsonl'), `${documentedItems.join('\n')}\n`);
const validationTable = (() => {
  const card = readFileSync(join(REPO, 'models/reference/README.md'), 'utf8');
  const section = card.slice(card.indexOf('### Validation'));
  return tableRows(section.slice(0, section.indexOf('\n#', 1)).split('\n'));
})();

/** Each: the README command, what to make first, and what must hold afterwards (a problem string, or undefined). */
const EXAMPLES = [
  {
    command: 'npx warm-serve merge --out merged models/reference/members/member-*',
    setup: () => (rmMerged(), writeItems()),
    check: () =>
      sameTensors(join(REPO, 'merged/model.safetensors'), join(REPO, 'models/reference/model.safetensors')) ??
      (() => {
        // model.onnx: the same rewards as the reference model's (both append EOS, neither normalises)
        const [merged, reference] = [score('merged', 'items.jsonl'), score('models/reference', 'items.jsonl')];
        const off = merged.findIndex((m, i) => !near(m.reward, reference[i].reward));
        return off < 0 ? undefined : `merged model.onnx scores item ${off} ${merged[off].reward}, models/reference ${reference[off].reward}`;
      })(),
  },
  {
    command: 'npx warm-serve merge --out merged --weights 2,1,1 run-a run-b run-c',
    setup: () => (rmMerged(), ['a', 'b', 'c'].forEach((x, i) => link(`models/reference/members/member-${i}`, `run-${x}`))),
    check: () => {
      const weights = json('merged/warm.json').merge?.weights;
      return JSON.stringify(weights) === JSON.stringify([0.5, 0.25, 0.25]) ? undefined : `weights ${JSON.stringify(weights)}, expected [0.5,0.25,0.25]`;
    },
  },
  {
    command: 'npx warm-serve merge --out merged --format onnx a/model.onnx b/model.onnx',
    setup: () => (rmMerged(), link('models/reference/members/member-3', 'a'), link('models/reference/members/member-4', 'b')),
    check: () => (existsSync(join(REPO, 'merged/model.onnx')) && !existsSync(join(REPO, 'merged/model.safetensors')) ? undefined : 'expected model.onnx and no model.safetensors'),
  },
  { command: 'npx warm-serve merge --help', check: (r) => (/--out/.test(r.stdout) ? undefined : 'no --out in the help') },
  {
    command:
      'npx warm-serve merge --out merged --select top-k --k 4 --data ../shared/data/tldr/batch13.json --split models/recipe/splits.json:validation models/reference/members/member-{0,1,2,3,4,5}',
    setup: rmMerged,
    check: () => {
      const manifest = json('merged/warm.json');
      const selection = manifest.merge?.selection;
      if (selection?.method !== 'top-k' || selection.kept?.length !== 4) return `selection ${JSON.stringify(selection?.kept)} by ${selection?.method}`;
      return manifest.members.length === 4 ? undefined : `${manifest.members.length} members in warm.json`;
    },
  },
  {
    command: 'npx warm-serve merge --out merged --select greedy --data held-out.jsonl --calibrate calibration.jsonl models/reference/members/member-*',
    setup: () => {
      rmMerged();
      writeFileSync(join(REPO, 'held-out.jsonl'), pairsFrom('hh-rlhf/helpful-base/test.jsonl.gz', 0, 40));
      writeFileSync(join(REPO, 'calibration.jsonl'), pairsFrom('hh-rlhf/helpful-base/test.jsonl.gz', 40, 40));
    },
    check: () => {
      const manifest = json('merged/warm.json');
      if (manifest.merge?.selection?.method !== 'greedy') return `selection method ${manifest.merge?.selection?.method}`;
      const n = manifest.normalization;
      return n && Number.isFinite(n.mean) && n.std > 0 ? undefined : `normalization ${JSON.stringify(n)}`;
    },
  },
  {
    command:
      'npx warm-serve eval --model models/reference --split models/recipe/splits.json:validation --data ../shared/data/tldr/batch13.json ../shared/data/hh-rlhf/helpful-base/test.jsonl.gz',
    check: (r) => {
      const rows = tableRows(r.stdout.split('\n'));
      const missing = validationTable.filter((row) => !rows.includes(row));
      return validationTable.length >= 5 && missing.length === 0 ? undefined : `rows of models/reference/README.md's Validation table not printed: ${missing.join(' / ')}\nprinted:\n${rows.join('\n')}`;
    },
  },
  {
    command: 'npx warm-serve eval --model my-model --data pairs.jsonl --no-members --json',
    setup: () => {
      link('models/reference', 'my-model');
      const pair = (prompt, chosen, rejected) => JSON.stringify({ prompt, chosen, rejected });
      writeFileSync(
        join(REPO, 'pairs.jsonl'),
        [
          pair('\n\nHuman: How can I sleep better?\n\nAssistant:', ' Keep a regular bedtime and a dark, quiet room.', ' zzz qqq'),
          pair('\n\nHuman: How do I boil an egg?\n\nAssistant:', ' Put it in boiling water for about nine minutes.', ' I do not know.'),
        ].join('\n') + '\n',
      );
    },
    check: (r) => {
      const report = JSON.parse(r.stdout);
      return report.rows?.[0]?.accuracy?.n === 2 ? undefined : `rows ${JSON.stringify(report.rows)}`;
    },
  },
  {
    command: 'npx warm-serve score --input items.jsonl',
    setup: writeItems,
    check: (r) => sameScored(jsonLines(r.stdout), documentedScored) ?? (/^score: 2 items, [\d.]+ s, \d+ items\/s$/m.test(r.stderr) ? undefined : `stderr: ${r.stderr}`),
  },
  {
    command: 'npx warm-serve score --input items.jsonl --output scored.jsonl',
    setup: writeItems,
    check: () => sameScored(jsonLines(readFileSync(join(REPO, 'scored.jsonl'), 'utf8')), documentedScored),
  },
  {
    command: 'zcat items.jsonl.gz | npx warm-serve score > scored.jsonl',
    setup: () => (writeItems(), writeFileSync(join(REPO, 'items.jsonl.gz'), gzipSync(readFileSync(join(REPO, 'items.jsonl'))))),
    check: () => sameScored(jsonLines(readFileSync(join(REPO, 'scored.jsonl'), 'utf8')), documentedScored),
  },
  {
    command: 'npx warm-serve score --ensemble --aggregate uwo --return-members --input items.jsonl',
    setup: writeItems,
    check: (r) => {
      const lines = jsonLines(r.stdout);
      const bad = lines.find((l) => !(Array.isArray(l.members) && l.members.length === 6 && l.uncertainty >= 0 && Number.isFinite(l.reward)));
      return lines.length === 2 && !bad ? undefined : `lines ${r.stdout}`;
    },
  },
];

/** Snippet preamble: background jobs in their own process groups (set -m), all of each killed at exit. */
const BACKGROUND = ['set -um', "trap 'for job in $(jobs -p); do kill -- -$job 2>/dev/null; done; wait' EXIT"];

/** Runs that are shell snippets rather than one command (servers in the background). */
async function snippets() {
  const out = [];
  // Authentication: the whole block as written, on a free port; then a request without a key.
  {
    const port = await freePort();
    const block = blockUnder('## Authentication');
    const script = [
      ...BACKGROUND,
      ...block.lines.map((l) => l.replaceAll('localhost:8000', `localhost:${port}`).replace('npx warm-serve serve --api-keys-file "$keys" &', `npx warm-serve serve --api-keys-file "$keys" --port ${port} &`)),
      'echo',
      `curl -s -o /dev/null -w 'no key: %{http_code}\\n' localhost:${port}/v1/score -H 'content-type: application/json' -d '{"items": [{"text": "The cat sat on the mat."}]}'`,
    ].join('\n');
    // The cat's reward as the serving examples document it (the third item of the first /v1/score example).
    const servedOutput = blocks(README).find((b) => b.lang === 'console' && b.lines[0].startsWith('$ curl -s localhost:8000/v1/score') && b.lines[0].includes('"text": "The cat sat on the mat."'))?.lines[1];
    const catReward = JSON.parse(servedOutput).rewards[2];
    out.push({
      command: 'README "Authentication" snippet',
      script,
      check: (r) => {
        const reward = answerOf(r.stdout)?.rewards?.[0];
        if (!near(reward, catReward)) return `reward ${reward}, documented ${catReward}: ${r.stdout}`;
        return /^no key: 401$/m.test(r.stdout) ? undefined : `without a key: ${r.stdout}`;
      },
    });
  }
  // Serve your own reward model: the my-rm directory without warm.json, its documented answer.
  {
    const port = await freePort();
    const block = blocks(README.slice(README.indexOf('\n# Serve your own reward model\n'))).find((b) => b.lang === 'console');
    const cmds = commands(block);
    const serveAt = cmds.findIndex((c) => c.startsWith('npx warm-serve serve --model my-rm'));
    const answerLine = documentedOutput(block.lines.find((l) => l.startsWith('$ curl')).slice(2)).find((l) => l.startsWith('{'));
    const expected = JSON.parse(answerLine.replace('{...}', '{}'));
    const script = [
      ...BACKGROUND,
      'rm -rf my-rm',
      ...cmds.slice(0, serveAt + 1).map((c) => c.replace('--port 8321', `--port ${port}`)),
      `until curl -sf localhost:${port}/ready >/dev/null; do sleep 0.5; done`, // a reader types the next line later
      ...cmds.slice(serveAt + 1).map((c) => c.replaceAll('localhost:8321', `localhost:${port}`)),
    ].join('\n');
    out.push({
      command: 'README "Serve your own reward model" example',
      script,
      check: (r) => {
        const answer = answerOf(r.stdout) ?? {};
        if (answer.model !== expected.model || answer.tokens?.[0] !== expected.tokens[0]) return `answer ${r.stdout}`;
        return near(answer.rewards[0], expected.rewards[0]) ? undefined : `reward ${answer.rewards[0]}, documented ${expected.rewards[0]}`;
      },
    });
  }
  return out;
}

// --- run -------------------------------------------------------------------------------------------
if (opts.list) {
  log(`documented:\n  ${documented.join('\n  ')}`);
  for (const { command, script } of await snippets()) log(`${command}:\n${script}`);
  process.exit(0);
}
const failures = [];
const ran = EXAMPLES.map((e) => e.command);
for (const command of documented) if (!ran.includes(command)) failures.push(`README.md documents a command this script does not run: ${command}`);
for (const command of ran) if (!documented.includes(command)) failures.push(`README.md no longer shows: ${command} (update scripts/docs-examples.mjs)`);

function runOne({ command, script, setup, check }) {
  const t0 = performance.now();
  let problem;
  try {
    setup?.();
    // TMPDIR: what a snippet makes with mktemp (the key file) goes with the scratch folder.
    const r = spawnSync('bash', ['-c', script ?? command], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 600_000, env: { ...process.env, TMPDIR: scratch } });
    problem = r.status !== 0 ? `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}: ${r.stderr.slice(-2000)}` : check(r);
  } catch (err) {
    problem = err.message;
  }
  log(`${problem ? 'FAIL' : 'ok  '} ${seconds(t0).padStart(6)} s  ${command}${problem ? `\n       ${problem}` : ''}`);
  if (problem) failures.push(`${command}: ${problem}`);
}

for (const example of [...EXAMPLES, ...(await snippets())]) runOne(example);
log(`${failures.length === 0 ? 'all README examples match' : `${failures.length} failed`} in ${seconds(started)} s`);
for (const f of failures) console.error(`docs-examples: ${f}`);
process.exit(failures.length === 0 ? 0 : 1);
