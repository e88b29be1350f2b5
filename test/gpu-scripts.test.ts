/**
 * The pieces of scripts/gpu/run.sh that need no GPU, against real CPU servers: parity.mjs passes
 * two servers of one model and fails a float16 model against its float32 one at 1e-4; load.mjs
 * measures a closed loop and writes the token lengths the PyTorch peer uses; report.mjs turns
 * the run's records into results.json and the table. The whole script, bundle included, is run
 * with `sh scripts/gpu/pack.sh && sh scripts/gpu/run.sh --device cpu --quick` (docs/gpu.md).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServer } from '../src/server/start.js';
import { testConfig } from './helpers/http-call.js';
import { FP16_MEMBERS, FP32_MEMBERS, mergedModel, ROOT } from './helpers/precision-parity.js';

const run = promisify(execFile);
const script = (name: string) => join(ROOT, 'scripts', 'gpu', name);

t.test('parity.mjs, load.mjs and report.mjs on CPU servers', async (t) => {
  const [half, full] = await Promise.all([mergedModel(FP16_MEMBERS), mergedModel(FP32_MEMBERS)]);
  const servers = await Promise.all([full, full, half].map((model) => startServer(testConfig({ model }))));
  t.teardown(() => Promise.all(servers.map((s) => s.stop())));
  const [a, b, h] = servers.map((s) => s.url);

  const same = JSON.parse((await run(process.execPath, [script('parity.mjs'), a, b])).stdout);
  t.match(same, { rewards: 80, max_abs_diff: 0, tolerance: 1e-4, ok: true }, '48 texts and 4 groups of 8, equal on two servers of one model');
  const differ = await run(process.execPath, [script('parity.mjs'), h, a]).then(
    () => undefined,
    (err: { code: number; stdout: string }) => ({ code: err.code, result: JSON.parse(err.stdout) }),
  );
  t.equal(differ?.code, 1, 'float16 against float32 at 1e-4: exit 1');
  t.ok(differ && differ.result.max_abs_diff > 1e-4 && differ.result.max_abs_diff < 3e-2, `and says by how much (${differ?.result.max_abs_diff})`);

  const work = await mkdtemp(join(tmpdir(), 'warm-gpu-run-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const lengthsFile = join(work, 'lengths.json');
  const load = JSON.parse((await run(process.execPath, [script('load.mjs'), a, '--clients', '8', '--seconds', '1', '--warmup', '0.5', '--lengths', lengthsFile])).stdout);
  t.ok(load.items > 0 && load.errors === 0 && load.items_per_s > 0, `closed loop: ${load.items} items, no errors`);
  t.ok(load.mean_batch >= 1 && load.p50_ms > 0 && load.p99_ms >= load.p50_ms, 'mean batch size from /metrics, latency percentiles');
  const lengths: number[] = JSON.parse(await readFile(lengthsFile, 'utf8'));
  t.ok(lengths.length >= load.items && lengths.every((n) => Number.isInteger(n) && n >= 3 && n <= 128), `${lengths.length} token lengths, 3-128 tokens`);

  await writeFile(join(work, 'parity.jsonl'), `${JSON.stringify({ check: 'same model', result: same })}\n${JSON.stringify({ check: 'float16 vs float32', result: differ!.result })}\n`);
  await writeFile(join(work, 'load.jsonl'), `${JSON.stringify({ graph: 'compute', batch_size: 8, result: load })}\n`);
  await writeFile(join(work, 'peer.json'), JSON.stringify({ peer: 'models/recipe/modeling.py', float32_vs_recipe_max_abs_diff: 0, dtype: 'float32', rows: [{ batch_size: 8, items_per_s: 123.4 }] }));
  await run(process.execPath, [script('report.mjs'), work, 'cpu', work]);
  const md = await readFile(join(work, 'results.md'), 'utf8');
  t.match(md, /--device cpu: a test run of the script, not GPU figures/);
  t.match(md, /\| same model \| 80 \| 0\.00e\+0 \| 0\.0001 \| yes \|/);
  t.match(md, /\| float16 vs float32 \| 80 \| .* \| \*\*no\*\* \|/);
  t.match(md, new RegExp(`\\| 8 \\| ${Math.round(load.items_per_s)} \\(`));
  t.match(md, /\| 123 \|/, "the peer's items/s beside warm-serve's");
  t.same(JSON.parse(await readFile(join(work, 'results.json'), 'utf8')).load[0].result, load);
});
