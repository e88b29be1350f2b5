import t from 'tap';
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  CONFIG, randomFloat, readSafetensors, safetensorsBytes, tensorOf, writeHfModel, type RawTensor,
} from './fixtures/merge/builders.js';
import { nearestHalfBits } from './fixtures/merge/nearest-half.js';
import { merge, tempDir } from './fixtures/merge/run-merge.js';
import { WarmServeError } from '../src/errors.js';
import { VERSION } from '../src/version.js';
import { encodeSafetensorsHeader, parseSafetensorsHeader, readSafetensorsHeader } from '../src/merge/safetensors/safetensors-file.js';
import { FileAppender } from '../src/merge/tensor/file-appender.js';
import { fileRangeReader } from '../src/merge/tensor/tensor-source.js';
import { open } from 'node:fs/promises';

const out = (dir: string, file = 'model.safetensors') => readSafetensors(readFileSync(join(dir, file)));

/** Fine-tune-like inputs: shared base plus per-input noise of relative size `noise`. */
function fineTunes(m: number, dtype: 'F32' | 'F16' | 'BF16' | 'F64', noise = 0.01): RawTensor[][] {
  const base = [randomFloat('a.weight', 'F64', [6, 5], 1), randomFloat('b.bias', 'F64', [7], 2)];
  return Array.from({ length: m }, (_, i) => {
    const floats = base.map((b) => {
      const x = new Float64Array(b.bytes.buffer.slice(b.bytes.byteOffset, b.bytes.byteOffset + b.bytes.length));
      const n = new Float64Array(randomFloat('n', 'F64', [x.length], 100 + i).bytes.buffer);
      const v = x.map((xi, k) => xi + noise * n[k]);
      return encode(b.name, dtype, b.shape, v);
    });
    return [...floats, tensorOf('pos_ids', 'I64', [1, 4], [0, 1, 2, 3]), tensorOf('mask', 'BOOL', [4], [1, 1, 0, 1])];
  });
}

function encode(name: string, dtype: string, shape: number[], v: Float64Array): RawTensor {
  const bytes =
    dtype === 'F64' ? new Uint8Array(Float64Array.from(v).buffer)
    : dtype === 'F32' ? new Uint8Array(Float32Array.from(v).buffer)
    : new Uint8Array(Uint16Array.from(v, (x) => nearestHalfBits(x, dtype as 'F16' | 'BF16')).buffer);
  return { name, dtype, shape, bytes };
}

function decode(t: RawTensor): number[] {
  const b = Buffer.from(t.bytes);
  if (t.dtype === 'F64') return Array.from(new Float64Array(b.buffer, b.byteOffset, b.length / 8));
  if (t.dtype === 'F32') return Array.from(new Float32Array(b.buffer, b.byteOffset, b.length / 4));
  const u = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
  if (t.dtype === 'BF16') return Array.from(u, (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]);
  return Array.from(u, (h) => {
    const e = (h >> 10) & 31, m = h & 1023, s = h & 0x8000 ? -1 : 1;
    return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
  });
}

/** Independent float64 reference: Σ w_i x_i / Σ w, rounded to the dtype. */
function reference(inputs: RawTensor[], weights: number[], dtype: string): Uint8Array {
  const xs = inputs.map(decode);
  const total = weights.reduce((a, b) => a + b, 0);
  const v = Float64Array.from(xs[0], (_, k) => {
    let s = 0;
    xs.forEach((x, i) => (s += weights[i] * x[k]));
    return s / total;
  });
  return encode('', dtype, [], v).bytes;
}

async function refused(t: Tap.Test, p: Promise<unknown>, pattern: RegExp, what: string) {
  await t.rejects(p, pattern, what);
  await p.catch((e) => t.ok(e instanceof WarmServeError && e.type === 'merge_error', `${what}: a merge_error`));
}

t.test('merging M copies of one model gives it back bit-exactly (F32, F16, BF16, F64; ints copied)', async (t) => {
  for (const dtype of ['F32', 'F16', 'BF16', 'F64'] as const) {
    const root = tempDir();
    const tensors = fineTunes(1, dtype)[0];
    const dirs = [0, 1, 2].map((i) => writeHfModel(join(root, `m${i}`), tensors));
    const res = await merge(dirs, join(root, 'out'));
    const got = out(join(root, 'out'));
    for (const x of tensors) t.same(Buffer.from(got.tensors.get(x.name)!.bytes), Buffer.from(x.bytes), `${dtype} ${x.name}`);
    t.equal(got.tensors.get('a.weight')!.dtype, dtype);
    t.same(res.results[0].distances, [[0, 0, 0], [0, 0, 0], [0, 0, 0]]);
    t.match(res.warnings.join('\n'), /identical float weights/);
  }
});

t.test('golden: weighted average equals an independent float64 reference, per dtype', async (t) => {
  for (const dtype of ['F32', 'F16', 'BF16', 'F64'] as const) {
    const root = tempDir();
    const inputs = fineTunes(3, dtype, 0.05);
    const dirs = inputs.map((ts, i) => writeHfModel(join(root, `m${i}`), ts));
    for (const [weights, flag] of [[[1, 1, 1], undefined], [[0.2, 0.5, 1.3], '0.2,0.5,1.3'], [[0, 1, 3], '0,1,3']] as const) {
      const dest = join(root, `out-${flag ?? 'uniform'}`);
      await merge(dirs, dest, { weights: flag });
      const got = out(dest);
      for (const name of ['a.weight', 'b.bias']) {
        const expected = reference(inputs.map((ts) => ts.find((x) => x.name === name)!), [...weights], dtype);
        const actual = got.tensors.get(name)!;
        if (dtype === 'F64') {
          // float64 output keeps float64 rounding error: within a few ulps of the reference
          const e = decode({ ...actual, bytes: expected });
          const worst = Math.max(...decode(actual).map((x, k) => Math.abs(x - e[k]) / Math.abs(e[k])));
          t.ok(worst < 1e-15, `${dtype} ${name} weights ${weights}: relative error ${worst}`);
        } else t.same(Buffer.from(actual.bytes), Buffer.from(expected), `${dtype} ${name} weights ${weights}`);
      }
    }
  }
});

t.test('output directory: provenance metadata, copied files, warm.json, MERGE.md; inputs untouched', async (t) => {
  const root = tempDir();
  const inputs = fineTunes(2, 'F32');
  const dirs = inputs.map((ts, i) => writeHfModel(join(root, 'members', `member-${i}`), ts, { extra: { 'special_tokens_map.json': '{"eos_token":"</s>"}', 'README.md': 'member card' } }));
  writeFileSync(join(dirs[0], 'warm.json'), JSON.stringify({ name: 'member-0', template: '{prompt}\n{completion}', normalization: { mean: 1, std: 2 } }));
  writeFileSync(join(root, 'other.txt'), 'keep me');
  const res = await merge(dirs, root, { weights: '1,3' });
  const st = out(root);
  t.equal(st.metadata.format, 'pt', "input's own metadata kept");
  t.equal(st.metadata.warm_merge_method, 'weighted');
  t.same(JSON.parse(st.metadata.warm_merge_weights), [0.25, 0.75]);
  t.equal(st.metadata.warm_merge_tool, `warm-serve ${VERSION}`);
  const hash = createHash('sha256').update(readFileSync(join(dirs[1], 'model.safetensors'))).digest('hex');
  t.equal(JSON.parse(st.metadata.warm_merge_inputs)[1].sha256['model.safetensors'], hash);
  t.equal(JSON.parse(st.metadata.warm_merge_inputs)[1].path, 'members/member-1');
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    t.equal(readFileSync(join(root, f), 'utf8'), readFileSync(join(dirs[0], f), 'utf8'), `${f} copied`);
  }
  t.notOk(existsSync(join(root, 'README.md')), "a member's own card is not copied");
  t.equal(readFileSync(join(root, 'other.txt'), 'utf8'), 'keep me');
  const manifest = JSON.parse(readFileSync(join(root, 'warm.json'), 'utf8'));
  t.equal(manifest.template, '{prompt}\n{completion}', "first input's manifest is the base");
  t.equal(manifest.name, basename(root), "named after the output directory, not after the first member");
  t.same(manifest.members, [
    // The merged model serves raw logits, so member-0 is served raw too (its own normalization would put it on another scale).
    { name: 'member-0', path: 'members/member-0', normalization: { mean: 0, std: 1 } },
    { name: 'member-1', path: 'members/member-1' },
  ]);
  t.equal(manifest.merge.method, 'weighted');
  t.equal(manifest.merge.inputs[1].sha256['model.safetensors'], hash);
  t.ok(manifest.merge.distances.safetensors[0][1] > 0);
  const card = readFileSync(join(root, 'MERGE.md'), 'utf8');
  t.match(card, hash);
  t.match(card, /members\/member-1/);
  t.match(card, /0\.750000/);
  t.match(card, /Distances between inputs/);
  t.same(res.files.sort(), ['MERGE.md', 'config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'warm.json']);
  t.equal(readdirSync(root).filter((f) => f.includes('partial')).length, 0, 'no temporary files left');
  t.ok(existsSync(join(dirs[0], 'model.safetensors')) && existsSync(join(dirs[1], 'model.safetensors')), 'inputs kept');

  await refused(t, merge(dirs, root), /already holds .*model\.safetensors.*--force/, 'existing output without --force');
  const again = await merge(dirs, root, { force: true, quiet: true });
  t.equal(again.stderr, '', '--quiet prints nothing when there is nothing to warn about');
  const kept = JSON.parse(readFileSync(join(root, 'warm.json'), 'utf8'));
  t.equal(kept.merge.method, 'uniform', 'rewritten with --force');
});

t.test('warm.json of a fresh merge: named after the output directory or --name, described as a WARM merge of its members', async (t) => {
  const root = tempDir();
  const dirs = [0, 1, 2].map((i) => writeHfModel(join(root, `rm-${i}`), [randomFloat('w', 'F32', [4], 10 + i)]));
  writeFileSync(join(dirs[0], 'warm.json'), JSON.stringify({ name: 'rm-0', description: 'one fine-tuned member' }));
  const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'warm.json'), 'utf8'));

  await merge(dirs, join(root, 'my-warm'));
  let manifest = read(join(root, 'my-warm'));
  t.equal(manifest.name, 'my-warm', 'served under the output directory\'s name');
  t.equal(manifest.description, 'WARM merge: the uniform weight average of 3 fine-tuned reward models (rm-0, rm-1, rm-2); see MERGE.md.', "not member-0's description");

  await merge(dirs.slice(0, 2), join(root, 'named'), { name: 'tldr-rm', weights: '1,3' });
  manifest = read(join(root, 'named'));
  t.equal(manifest.name, 'tldr-rm', '--name');
  t.match(manifest.description, /^WARM merge: the weighted weight average of 2 fine-tuned reward models \(rm-0, rm-1\)/);

  // A curated directory keeps its own name and description; --name still renames it.
  writeFileSync(join(root, 'named', 'warm.json'), JSON.stringify({ name: 'curated', description: 'hand-written' }));
  await merge(dirs.slice(0, 2), join(root, 'named'), { force: true });
  t.same([read(join(root, 'named')).name, read(join(root, 'named')).description], ['curated', 'hand-written']);
  await merge(dirs.slice(0, 2), join(root, 'named'), { force: true, name: 'renamed' });
  t.same([read(join(root, 'named')).name, read(join(root, 'named')).description], ['renamed', 'hand-written']);
  await t.rejects(merge(dirs.slice(0, 2), join(root, 'empty'), { name: ' ' }), { message: /--name: is empty/ });
});

t.test('sharded checkpoints: index honoured, output sharded like the first input', async (t) => {
  const root = tempDir();
  const inputs = fineTunes(2, 'BF16');
  const a = writeHfModel(join(root, 'a'), inputs[0], { shards: [['a.weight', 'pos_ids'], ['b.bias', 'mask']] });
  const b = writeHfModel(join(root, 'b'), inputs[1], { shards: [['b.bias'], ['a.weight', 'pos_ids', 'mask']] });
  const res = await merge([a, b], join(root, 'out'));
  const index = JSON.parse(readFileSync(join(root, 'out', 'model.safetensors.index.json'), 'utf8'));
  t.same(Object.keys(index.weight_map).sort(), ['a.weight', 'b.bias', 'mask', 'pos_ids']);
  t.equal(index.weight_map['b.bias'], 'model-00002-of-00002.safetensors');
  const shard1 = out(join(root, 'out'), 'model-00001-of-00002.safetensors');
  t.same([...shard1.tensors.keys()], ['a.weight', 'pos_ids']);
  const expected = reference(inputs.map((ts) => ts[0]), [1, 1], 'BF16');
  t.same(Buffer.from(shard1.tensors.get('a.weight')!.bytes), Buffer.from(expected));
  t.equal(index.metadata.total_size, 6 * 5 * 2 + 7 * 2 + 4 * 8 + 4);
  t.ok(res.files.includes('model-00002-of-00002.safetensors'));
  const shard = (k: number) => `model-0000${k}-of-00002.safetensors`;
  writeFileSync(join(b, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'b.bias': shard(1), 'a.weight': shard(1), pos_ids: shard(2), mask: shard(2) } }));
  await refused(t, merge([a, b], join(root, 'out2')), /b tensor 'a\.weight'.*index maps it to model-00001-of-00002\.safetensors but it is in model-00002/, 'index disagreeing with shards');
  writeFileSync(join(b, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'b.bias': shard(1), 'a.weight': shard(2), pos_ids: shard(2) } }));
  await refused(t, merge([a, b], join(root, 'out2')), /b tensor 'mask'.*a shard holds it but the index does not list it/, 'shard tensor missing from the index');
});

t.test('tied tensors stay shared and are averaged once', async (t) => {
  const root = tempDir();
  const inputs = fineTunes(2, 'F32');
  const dirs = inputs.map((ts, i) => writeHfModel(join(root, `m${i}`), ts, { ties: { 'lm_head.weight': 'a.weight' } }));
  await merge(dirs, join(root, 'out'));
  const got = out(join(root, 'out'));
  t.same(got.tensors.get('lm_head.weight')!.offsets, got.tensors.get('a.weight')!.offsets, 'same byte range');
  t.same(Buffer.from(got.tensors.get('lm_head.weight')!.bytes), Buffer.from(reference(inputs.map((ts) => ts[0]), [1, 1], 'F32')));
  const untied = writeHfModel(join(root, 'untied'), [...inputs[1], { ...inputs[1][0], name: 'lm_head.weight' }]);
  await refused(t, merge([dirs[0], untied], join(root, 'out2')), /untied tensor 'lm_head\.weight'.*tied to 'a\.weight'/, 'tying differs');
});

t.test('distance report: fine-tunes are close, independent trainings are flagged', async (t) => {
  const root = tempDir();
  const close = fineTunes(2, 'F32', 0.01).map((ts, i) => writeHfModel(join(root, `c${i}`), ts));
  const res = await merge(close, join(root, 'out-close'));
  const d = res.results[0].distances;
  t.ok(d[0][1] > 0 && d[0][1] < 0.1, `fine-tunes are ${d[0][1]} apart`);
  t.same(res.warnings, []);
  t.match(res.stderr, /safetensors: 2 tensors averaged, 2 copied; largest relative distance 0\.0\d+/);

  // independent: unrelated random weights, about sqrt(2) apart
  const indep = [1, 2].map((seed) =>
    writeHfModel(join(root, `i${seed}`), [randomFloat('a.weight', 'F32', [6, 5], seed * 10), randomFloat('b.bias', 'F32', [7], seed * 10 + 1)]),
  );
  const res2 = await merge(indep, join(root, 'out-indep'), { quiet: true });
  t.ok(res2.results[0].distances[0][1] > 0.5);
  t.match(res2.warnings[0], /i1 and .*i2 are 1\.\d+ apart .*independent trainings/);
  t.match(res2.stderr, /^warning: .*independent trainings/m, 'warnings are shown even with --quiet');
  // the distance itself: ||a-b|| / ||a|| computed here
  const [a, b] = [1, 2].map((s) => [...decode(randomFloat('a.weight', 'F32', [6, 5], s * 10)), ...decode(randomFloat('b.bias', 'F32', [7], s * 10 + 1))]);
  const expected = Math.sqrt(a.reduce((s, x, k) => s + (x - b[k]) ** 2, 0)) / Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  t.ok(Math.abs(res2.results[0].distances[0][1] - expected) < 1e-12);
});

t.test('refusals name the input and the tensor', async (t) => {
  const root = tempDir();
  const [x, y] = fineTunes(2, 'F32');
  const a = writeHfModel(join(root, 'a'), x);
  const mk = (name: string, tensors: RawTensor[], opts = {}) => writeHfModel(join(root, name), tensors, opts);
  const dest = join(root, 'out');
  await refused(t, merge([a, mk('cfg', y, { config: { ...CONFIG, hidden_size: 16 } })], dest), /cfg: config\.json differs .* at 'hidden_size' \(16 vs 8\)/, 'config');
  await refused(t, merge([a, mk('cfg2', y, { config: { ...CONFIG, num_labels: 2 } })], dest), /cfg2: config\.json .*'num_labels'/, 'num_labels');
  const ignored = mk('cfg3', y, { config: { ...CONFIG, _name_or_path: 'elsewhere', transformers_version: '9', torch_dtype: 'bfloat16' } });
  await t.resolves(merge([a, ignored], join(root, 'ok')), 'name/version/dtype keys are ignored');
  await refused(t, merge([a, mk('tok', y, { tokenizer: { version: '1.0', model: { type: 'BPE' } } })], dest), /tok: tokenizer\.json differs .* at 'model\.type'/, 'tokenizer');
  await refused(t, merge([a, mk('name', [...y.slice(1), { ...y[0], name: 'c.weight' }])], dest), /name tensor 'c\.weight': tensor is not in the first input/, 'extra tensor');
  await refused(t, merge([a, mk('missing', y.slice(1))], dest), /missing tensor 'a\.weight': tensor is missing/, 'missing tensor');
  await refused(t, merge([a, mk('shape', [{ ...y[0], shape: [5, 6] }, ...y.slice(1)])], dest), /shape tensor 'a\.weight': shape \[5, 6\] differs from the first input's \[6, 5\]/, 'shape');
  const asF64 = encode('b.bias', 'F64', [7], Float64Array.from(decode(y[1])));
  await refused(t, merge([a, mk('dtype', [y[0], asF64, ...y.slice(2)])], dest), /dtype tensor 'b\.bias': dtype F64 differs from the first input's F32/, 'dtype');
  await refused(t, merge([a, mk('ints', [...y.slice(0, 2), tensorOf('pos_ids', 'I64', [1, 4], [0, 1, 2, 4]), y[3]])], dest), /ints tensor 'pos_ids': I64 tensor differs from the first input's at element 3/, 'int tensor differs');
  const q = mk('quant', [tensorOf('a.weight', 'I8', [6, 5], new Array(30).fill(3)), ...y.slice(1)]);
  await refused(t, merge([q, q], dest), /quant tensor 'a\.weight': I8 matrix of shape \[6, 5\] looks quantized/, 'int8 weights');
  const qs = mk('qscale', [...y, tensorOf('a.weight_scale', 'F32', [1], [0.1])]);
  await refused(t, merge([qs, qs], dest), /qscale tensor 'a\.weight_scale': the name looks like a quantization parameter/, 'scale tensor');
  const fp8 = join(root, 'fp8');
  writeHfModel(fp8, y);
  writeFileSync(join(fp8, 'model.safetensors'), safetensorsBytes([{ name: 'a.weight', dtype: 'F8_E4M3', shape: [2], bytes: new Uint8Array(2) }]));
  await refused(t, merge([fp8, fp8], dest), /fp8 tensor 'a\.weight'.*F8_E4M3 is a quantized format/, 'fp8');
  t.notOk(existsSync(join(dest, 'model.safetensors')), 'nothing written by refused merges');
});

t.test('refusals: bad weights, too few inputs, output is an input, mixed formats', async (t) => {
  const root = tempDir();
  const [x, y] = fineTunes(2, 'F32');
  const dirs = [writeHfModel(join(root, 'a'), x), writeHfModel(join(root, 'b'), y)];
  const dest = join(root, 'out');
  for (const [w, msg] of [['1,-1', /--weights: weight 2 is -1; weights must be >= 0/], ['1,nan', /weight 2 'nan' is not a finite number/], ['1,Infinity', /not a finite number/], ['0,0', /weights sum to 0/], ['1,2,3', /got 3 weights for 2 inputs/], ['1,', /weight 2 '' is not a finite number/]] as const) {
    await t.rejects(merge(dirs, dest, { weights: w }), msg, `--weights ${w}`);
  }
  await t.rejects(merge([dirs[0]], dest), /a merge needs at least 2/);
  await refused(t, merge(dirs, dirs[1]), /b: is the output directory/, 'output = input');
  writeFileSync(join(dirs[1], 'model.onnx'), 'x');
  await refused(t, merge(dirs, dest), /a: has no model\.onnx while .*b has one; formats are never mixed .*--format safetensors/, 'mixed formats');
  await t.resolves(merge(dirs, dest, { format: 'safetensors' }), '--format safetensors ignores the onnx file');
  await refused(t, merge(dirs, join(root, 'o2'), { format: 'onnx' }), /a: has no model\.onnx while .*b has one/, '--format onnx, one input without onnx');
  rmSync(join(dirs[1], 'model.onnx'));
  await refused(t, merge(dirs, join(root, 'o2'), { format: 'onnx' }), /a: has no model\.onnx \(--format onnx\)/, '--format onnx without onnx');
  await refused(t, merge([dirs[0], join(root, 'nope')], dest), /nope: no such file or directory/, 'missing input');
});

t.test('truncated and malformed files are refused with what is wrong', async (t) => {
  const root = tempDir();
  const [x] = fineTunes(1, 'F32');
  const good = writeHfModel(join(root, 'good'), x);
  const bytes = readFileSync(join(good, 'model.safetensors'));
  const dest = join(root, 'out');
  const variant = (name: string, data: Buffer) => {
    const dir = writeHfModel(join(root, name), x);
    writeFileSync(join(dir, 'model.safetensors'), data);
    return dir;
  };
  const header = (json: string) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([len, Buffer.from(json)]);
  };
  const cases: [string, Buffer, RegExp][] = [
    ['tiny', bytes.subarray(0, 5), /tiny: .*file is 5 bytes, too short/],
    ['trunc', bytes.subarray(0, bytes.length - 10), /trunc tensor '\w+'.*run past the data section.*truncated/],
    ['hugelen', Buffer.concat([Buffer.from([0, 0, 0, 0, 1, 0, 0, 0]), bytes.subarray(8)]), /hugelen: .*header length 4294967296 exceeds/],
    ['badjson', header('{"a": {'), /badjson: .*header is not valid JSON/],
    ['notobj', header('[1,2]'), /notobj: .*header is not a JSON object/],
    ['badoff', header('{"a.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}'), /badoff tensor 'a\.weight'.*span 12 bytes but F32\[2\] needs 8/],
    ['overlap', Buffer.concat([header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'), Buffer.alloc(12)]), /overlap tensor 'b'.*overlap 'a'/],
    ['nodtype', header('{"a":{"shape":[2],"data_offsets":[0,8]}}'), /nodtype tensor 'a'.*dtype is missing/],
  ];
  for (const [name, data, msg] of cases) await refused(t, merge([good, variant(name, data)], dest), msg, name);
});

t.test('64-bit sizes: u64 header length, offsets past 2^32, positioned reads and writes past 4 GiB', async (t) => {
  const root = tempDir();
  const big = 2 ** 32 + 4096;
  // header parsing: offsets beyond 2^32 stay exact, a data section shorter than declared is refused
  const json = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [big, big + 16] } }));
  const parsed = parseSafetensorsHeader(json, 8 + json.length + big + 16, 'x.safetensors', 'in');
  t.same([parsed.tensors[0].begin, parsed.tensors[0].end], [big, big + 16]);
  t.throws(() => parseSafetensorsHeader(json, 8 + json.length + big + 15, 'x.safetensors', 'in'), /in tensor 'w'.*run past the data section, which holds 4294971407 bytes/);
  const encoded = encodeSafetensorsHeader({ a: 'b' }, parsed.tensors);
  t.equal(encoded.length % 8, 0, 'header padded to 8 bytes');
  t.same(JSON.parse(encoded.subarray(8, 8 + Number(encoded.readBigUInt64LE(0))).toString()).w.data_offsets, [big, big + 16]);
  // a u64 header length with the high bits set is refused, not wrapped
  const path = join(root, 'huge-len.safetensors');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(2n ** 63n + 16n);
  writeFileSync(path, Buffer.concat([len, Buffer.from('{}')]));
  await t.rejects(readSafetensorsHeader(path, 'in'), /header length 9223372036854775824 exceeds the 2 bytes/);
  // a sparse file: write and read 16 bytes at 4 GiB + 4 KiB through the merger's reader and appender
  const sparse = join(root, 'sparse.bin');
  const handle = await open(sparse, 'w+');
  const payload = Buffer.from('0123456789abcdef');
  const appender = new FileAppender(handle, big);
  await appender.write(payload);
  t.equal(appender.position, big + 16);
  const back = Buffer.alloc(16);
  await fileRangeReader(handle, big - 4, 20, { file: 'sparse' })(back, 4);
  t.same(back, payload);
  // A file cut short while the merge reads it: a merge_error naming the file and the tensor.
  await t.rejects(fileRangeReader(handle, big, 32, { file: 'sparse', tensor: 'w' })(Buffer.alloc(32), 0), {
    message: /^sparse tensor 'w': file ended early: it was truncated or replaced while the merge read it/,
    type: 'merge_error',
  });
  await handle.close();
  t.equal(statSync(sparse).size, big + 16);
  rmSync(sparse);
});

const BIG = process.env.WARM_MERGE_BIG === '1';
t.test('a real merge of checkpoints over 2 GiB (sparse files)', { skip: BIG ? false : 'set WARM_MERGE_BIG=1 to run (about a minute: hashes 4 GiB and writes 2 GiB)' }, async (t) => {
  const root = tempDir();
  const gap = 2 ** 31 + 4096;
  const dirs = [0, 1].map((i) => {
    const dir = writeHfModel(join(root, `big${i}`), []);
    const w = randomFloat('w', 'F32', [4], 7 + i);
    const header = JSON.stringify({ pad: { dtype: 'U8', shape: [gap], data_offsets: [0, gap] }, w: { dtype: 'F32', shape: [4], data_offsets: [gap, gap + 16] } });
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(header.length));
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, Buffer.concat([head, Buffer.from(header)]));
    const fd = openSync(path, 'r+');
    writeSync(fd, w.bytes, 0, 16, 8 + header.length + gap);
    closeSync(fd);
    return { dir, w };
  });
  const res = await merge(dirs.map((d) => d.dir), join(root, 'out'), { quiet: true });
  const path = join(root, 'out', 'model.safetensors');
  t.ok(statSync(path).size > 2 ** 31);
  const fd = openSync(path, 'r');
  const len = Buffer.alloc(8);
  readSync(fd, len, 0, 8, 0);
  const n = Number(len.readBigUInt64LE());
  const wBytes = Buffer.alloc(16);
  readSync(fd, wBytes, 0, 16, 8 + n + gap);
  closeSync(fd);
  t.same(wBytes, Buffer.from(reference(dirs.map((d) => d.w), [1, 1], 'F32')), 'tensor past 2 GiB averaged correctly');
  t.equal(res.results[0].copied, 1, 'the 2 GiB U8 tensor was compared and copied');
  rmSync(root, { recursive: true });
});
