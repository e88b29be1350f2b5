import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnxTypes } from '../src/merge/onnx/onnx-schema.js';
import { WarmServeError } from '../src/errors.js';
import { VERSION } from '../src/version.js';
import { loadModelDirectory } from '../src/model/directory.js';
import { loadMemberDirectories } from '../src/model/members.js';
import { randomFloat, rewardWeights, safetensorsBytes, tensorOf, writeOnnxModel, type RawTensor, type RewardWeights } from './fixtures/merge/builders.js';
import { merge, tempDir } from './fixtures/merge/run-merge.js';

type Decoded = {
  graph: { initializer: { name: string; data_type: number; raw_data?: Uint8Array; data_location?: number; external_data: { key: string; value: string }[] }[] };
  metadata_props: { key: string; value: string }[];
};

function readModel(dir: string): Decoded {
  return onnxTypes().ModelProto.decode(readFileSync(join(dir, 'model.onnx'))) as unknown as Decoded;
}

/** Initializer bytes by name, following external data. */
function initializerBytes(dir: string): Map<string, Buffer> {
  const m = readModel(dir);
  return new Map(
    m.graph.initializer.map((i) => {
      if (i.data_location === 1) {
        const e = Object.fromEntries(i.external_data.map((x) => [x.key, x.value]));
        const file = readFileSync(join(dir, e.location));
        return [i.name, file.subarray(Number(e.offset), Number(e.offset) + Number(e.length))];
      }
      return [i.name, Buffer.from(i.raw_data ?? [])];
    }),
  );
}

/** Fine-tunes of one init: base weights plus small per-member noise (float32). */
function members(m: number, noise = 0.01): RewardWeights[] {
  const base = rewardWeights('F32', 1);
  const perturb = (x: RawTensor, seed: number): RawTensor => {
    const v = new Float32Array(Uint8Array.from(x.bytes).buffer);
    const n = new Float32Array(randomFloat('n', 'F32', [v.length], seed).bytes.buffer);
    return { ...x, bytes: new Uint8Array(Float32Array.from(v, (a, k) => a + noise * n[k]).buffer) };
  };
  return Array.from({ length: m }, (_, i) => ({ dtype: 'F32', emb: perturb(base.emb, 10 * i + 1), head: perturb(base.head, 10 * i + 2), bias: perturb(base.bias, 10 * i + 3) }));
}

/** float64 reference Σ w x / Σ w, rounded to float32. */
function reference(ts: RawTensor[], weights: number[]): Buffer {
  const xs = ts.map((x) => new Float32Array(Uint8Array.from(x.bytes).buffer));
  const total = weights.reduce((a, b) => a + b, 0);
  return Buffer.from(Float32Array.from(xs[0], (_, k) => xs.reduce((s, x, i) => s + weights[i] * x[k], 0) / total).buffer);
}

async function logits(modelPath: string, ids: number[][]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelPath);
  const flat = BigInt64Array.from(ids.flat(), (v) => BigInt(v));
  const shape = [ids.length, ids[0].length];
  const out = await session.run({
    input_ids: new ort.Tensor('int64', flat, shape),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(flat, (v) => (v === 0n ? 0n : 1n)), shape),
  });
  await session.release();
  return out.logits.data as Float32Array;
}

const IDS = [[1, 5, 9, 3], [2, 15, 0, 0], [7, 7, 7, 12]];

t.test('merging M copies of an ONNX model gives it back bit-exactly (F32, F16, BF16; raw, typed, external data)', async (t) => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    for (const storage of ['raw', 'typed', 'external'] as const) {
      const root = tempDir();
      const w = rewardWeights(dtype, 3);
      const dirs = [0, 1, 2].map((i) => writeOnnxModel(join(root, `m${i}`), w, { storage }));
      const res = await merge(dirs, join(root, 'out'));
      const got = initializerBytes(join(root, 'out'));
      for (const x of [w.emb, w.head, w.bias]) t.same(got.get(x.name), Buffer.from(x.bytes), `${dtype} ${storage} ${x.name}`);
      t.same(got.get('axes_last'), Buffer.from(tensorOf('', 'I64', [1], [-1]).bytes), 'int64 initializer copied');
      t.equal(existsSync(join(root, 'out', 'model.onnx_data')), storage === 'external', `${storage}: external data only when the input had it`);
      t.same(res.results[0].files, storage === 'external' ? ['model.onnx', 'model.onnx_data'] : ['model.onnx']);
      if (dtype === 'F32') {
        t.same(await logits(join(root, 'out', 'model.onnx'), IDS), await logits(join(dirs[0], 'model.onnx'), IDS), 'onnxruntime gives the same logits');
      }
    }
  }
});

t.test('golden: weighted ONNX merge equals a float64 reference; onnxruntime runs it (external data)', async (t) => {
  const root = tempDir();
  const ms = members(3, 0.05);
  const dirs = ms.map((w, i) => writeOnnxModel(join(root, `m${i}`), w, { storage: i === 1 ? 'raw' : 'external' }));
  const weights = [0.5, 1, 2.5];
  const res = await merge(dirs, join(root, 'out'), { weights: weights.join(',') });
  const got = initializerBytes(join(root, 'out'));
  const expected: RewardWeights = {
    dtype: 'F32',
    emb: { ...ms[0].emb, bytes: reference(ms.map((m) => m.emb), weights) },
    head: { ...ms[0].head, bytes: reference(ms.map((m) => m.head), weights) },
    bias: { ...ms[0].bias, bytes: reference(ms.map((m) => m.bias), weights) },
  };
  for (const k of ['emb', 'head', 'bias'] as const) t.same(got.get(expected[k].name), Buffer.from(expected[k].bytes), k);
  const refDir = writeOnnxModel(join(root, 'ref'), expected);
  t.same(await logits(join(root, 'out', 'model.onnx'), IDS), await logits(join(refDir, 'model.onnx'), IDS), 'merged model scores like the reference weights');
  const model = readModel(join(root, 'out'));
  const meta = Object.fromEntries(model.metadata_props.map((p) => [p.key, p.value]));
  t.equal(meta.warm_merge_method, 'weighted');
  t.same(JSON.parse(meta.warm_merge_weights), weights.map((w) => w / 4));
  t.equal(meta.warm_merge_tool, `warm-serve ${VERSION}`);
  t.same(Object.keys(JSON.parse(meta.warm_merge_inputs)[0].sha256).sort(), ['config.json', 'model.onnx', 'model.onnx_data', 'tokenizer.json']);
  t.ok(model.graph.initializer.find((i) => i.name === 'emb.weight')!.data_location === 1, 'first input kept emb external: so does the output');
  const d = res.results[0].distances;
  t.ok(d[0][1] > 0 && d[0][1] < 0.2, `fine-tune distance ${d[0][1]}`);
});

t.test('--format all merges safetensors and ONNX separately into one directory', async (t) => {
  const root = tempDir();
  const w = rewardWeights('F32', 5);
  const dirs = [0, 1].map((i) => writeOnnxModel(join(root, `m${i}`), w));
  for (const d of dirs) writeFileSync(join(d, 'model.safetensors'), safetensorsBytes([w.emb, w.head]));
  const res = await merge(dirs, join(root, 'out'));
  t.same(res.results.map((r) => r.format), ['safetensors', 'onnx']);
  t.same(res.provenance.formats, ['safetensors', 'onnx']);
  t.ok(existsSync(join(root, 'out', 'model.onnx')) && existsSync(join(root, 'out', 'model.safetensors')));
  const card = readFileSync(join(root, 'out', 'MERGE.md'), 'utf8');
  t.match(card, /### safetensors/);
  t.match(card, /### onnx/);
});

t.test('ONNX refusals name the input and the node or tensor', async (t) => {
  const root = tempDir();
  const [w0, w1] = members(2);
  const a = writeOnnxModel(join(root, 'a'), w0);
  const dest = join(root, 'out');
  const refused = async (name: string, p: Promise<unknown>, pattern: RegExp) => {
    await t.rejects(p, pattern, name);
    await p.catch((e) => t.ok(e instanceof WarmServeError && e.type === 'merge_error', `${name}: merge_error`));
  };
  const variant = (name: string, w: RewardWeights, opts: Parameters<typeof writeOnnxModel>[2] = {}) => writeOnnxModel(join(root, name), w, opts);
  const relu = { name: 'extra', op_type: 'Relu', input: ['logits'], output: ['relu_out'] };
  await refused('graph', merge([a, variant('graph', w1, { extraNodes: [relu] })], dest), /graph: ONNX graph differs from the first input's .*8 nodes vs 7/);
  await refused('opset', merge([a, variant('opset', w1, { opset: 14 })], dest), /opset: ONNX graph differs .*opset imports \[ai\.onnx:14\] vs \[ai\.onnx:13\]/);
  const b = variant('attr', w1);
  const bytes = readFileSync(join(b, 'model.onnx'));
  const T = onnxTypes().ModelProto;
  const m = T.toObject(T.decode(bytes)) as { graph: { node: { name?: string; attribute: { i?: number }[] }[] } };
  m.graph.node.find((n) => n.name === 'pool')!.attribute[0].i = 1;
  writeFileSync(join(b, 'model.onnx'), T.encode(T.fromObject(m)).finish());
  await refused('attribute', merge([a, b], dest), /attr: ONNX graph differs .*node #4 'pool' \(ReduceSum\): attributes differ/);
  const dq = { name: 'dq', op_type: 'DequantizeLinear', input: ['q', 'q_scale'], output: ['deq'] };
  const q = variant('quant', w0, { extraNodes: [dq] });
  await refused('quant node', merge([q, q], dest), /quant: node #7 'dq' \(DequantizeLinear\): operator DequantizeLinear belongs to a quantized graph/);
  const i8 = variant('int8', w0, { extraInitializers: [tensorOf('proj.weight', 'I8', [2, 2], [1, 2, 3, 4])] });
  await refused('int8', merge([i8, i8], dest), /int8 tensor 'proj\.weight': I8 matrix of shape \[2, 2\] looks quantized/);
  const zp = variant('zp', w0, { extraInitializers: [tensorOf('proj.weight_zero_point', 'U8', [1], [0])] });
  await refused('zero point', merge([zp, zp], dest), /zp tensor 'proj\.weight_zero_point': the name looks like a quantization parameter/);
  const ints = variant('ints', w1, { extraInitializers: [] });
  const im = T.toObject(T.decode(readFileSync(join(ints, 'model.onnx')))) as { graph: { initializer: { name: string; raw_data: Uint8Array }[] } };
  im.graph.initializer.find((i) => i.name === 'axes_seq')!.raw_data = Buffer.from(tensorOf('', 'I64', [1], [2]).bytes);
  writeFileSync(join(ints, 'model.onnx'), T.encode(T.fromObject(im)).finish());
  await refused('int initializer', merge([a, ints], dest), /ints tensor 'axes_seq': I64 tensor differs from the first input's at element 0/);
  const shape = variant('shape', { ...w1, emb: randomFloat('emb.weight', 'F32', [16, 9], 4) });
  await refused('shape', merge([a, shape], dest), /shape tensor 'emb\.weight': shape \[16, 9\] differs from the first input's \[16, 8\]/);
  const f64 = variant('f64', w1);
  const fm = T.toObject(T.decode(readFileSync(join(f64, 'model.onnx')))) as { graph: { initializer: { name: string; data_type: number; raw_data: Uint8Array }[] } };
  Object.assign(fm.graph.initializer.find((i) => i.name === 'score.bias')!, { data_type: 11, raw_data: Buffer.from(new Float64Array([0.5]).buffer) });
  writeFileSync(join(f64, 'model.onnx'), T.encode(T.fromObject(fm)).finish());
  await refused('dtype', merge([a, f64], dest), /f64 tensor 'score\.bias': dtype F64 differs from the first input's F32/);
  const huge = variant('huge', w1);
  const hm = T.toObject(T.decode(readFileSync(join(huge, 'model.onnx')))) as { graph: { initializer: { name: string; dims: unknown[] }[] } };
  hm.graph.initializer.find((i) => i.name === 'score.bias')!.dims = [2 ** 60];
  writeFileSync(join(huge, 'model.onnx'), T.encode(T.fromObject(hm)).finish());
  await refused('int64 beyond 2^53', merge([a, huge], dest), /huge tensor 'score\.bias': .*model\.onnx: dimension 1152921504606846976 is beyond 2\^53/);
  const half = variant('half', rewardWeights('F16', 1));
  await refused('graph with casts', merge([a, half], dest), /half: ONNX graph differs .*10 nodes vs 7/);
  const trunc = variant('trunc', w1);
  writeFileSync(join(trunc, 'model.onnx'), readFileSync(join(trunc, 'model.onnx')).subarray(0, 300));
  await refused('truncated', merge([a, trunc], dest), /trunc: .*model\.onnx is not a valid ONNX model .*truncated or corrupt/);
  const ext = variant('ext', w1, { storage: 'external' });
  writeFileSync(join(ext, 'model.onnx_data'), readFileSync(join(ext, 'model.onnx_data')).subarray(0, 100));
  await refused('external truncated', merge([writeOnnxModel(join(root, 'ae'), w0, { storage: 'external' }), ext], dest), /ext tensor '[\w.]+'.*external data \[\d+, \d+\) runs past the end of .*model\.onnx_data \(100 bytes; truncated\?\)/);
  const esc = variant('escape', w1, { storage: 'external', externalFile: '../escape.bin' });
  await refused('external escape', merge([a, esc], dest), /escape tensor 'emb\.weight'.*external data location '\.\.\/escape\.bin' must stay inside/);
  t.notOk(existsSync(join(dest, 'model.onnx')), 'nothing written by refused merges');
});

t.test('the provisional reference model (a real PyTorch export) merged with itself comes back bit-exactly', async (t) => {
  const ref = 'models/reference';
  if (!existsSync(join(ref, 'model.onnx'))) {
    t.fail(`${ref}/model.onnx is missing`);
    return;
  }
  const root = tempDir();
  const dirs = ['a', 'b'].map((n) => {
    const d = join(root, n);
    mkdirSync(d);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.onnx', 'model.safetensors', 'warm.json']) {
      if (existsSync(join(ref, f))) copyFileSync(join(ref, f), join(d, f));
    }
    return d;
  });
  const res = await merge(dirs, join(root, 'out'));
  t.same(res.results.map((r) => r.format), ['safetensors', 'onnx']);
  const inB = initializerBytes(ref);
  const outB = initializerBytes(join(root, 'out'));
  t.same([...outB.keys()], [...inB.keys()]);
  let differ = 0;
  for (const [k, v] of inB) if (!v.equals(outB.get(k)!)) differ++;
  t.equal(differ, 0, `all ${inB.size} initializers identical`);
  t.same(readFileSync(join(root, 'out', 'model.safetensors')).subarray(-4096), readFileSync(join(ref, 'model.safetensors')).subarray(-4096));
  // the output is a model directory the service loads, with its members
  const loaded = await loadModelDirectory(join(root, 'out'));
  t.equal(loaded.name, 'out', "the member's name is not carried over");
  t.equal(loaded.maxLength, JSON.parse(readFileSync(join(ref, 'warm.json'), 'utf8')).max_length ?? loaded.maxLength, "the first input's manifest settings are kept");
  t.same((await loadMemberDirectories(loaded)).map((m) => m.name), ['a', 'b']);
  t.equal(loaded.manifest.merge?.method, 'uniform');
});
