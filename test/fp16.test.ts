/**
 * Half-precision graphs on the CPU: a graph whose logits (and past keys/values) are float16 is
 * served, its rewards read as float32 exactly; `warm-serve merge` of float16 checkpoints and
 * graphs gives a float16 model that serves the float32 merge's rewards within FP16_TOLERANCE
 * (measured below); prefix sharing feeds float16 pasts back unchanged. The same models on the
 * WebGPU provider: test/gpu/webgpu.test.ts.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { float16Values, toFloat16Bits } from '../src/merge/tensor/half-float.js';
import { checkGraph } from '../src/model/graph.js';
import { floatArray, floatValues } from '../src/model/session-tensors.js';
import { startServer } from '../src/server/start.js';
import { testConfig } from './helpers/http-call.js';
import { FP16_MEMBERS, FP16_TOLERANCE, FP32_MEMBERS, maxDiff, mergedModel, rewardsOf } from './helpers/precision-parity.js';

t.test('float16 data reads as the float32 numbers it encodes, exactly', async (t) => {
  const bits = Uint16Array.from({ length: 65536 }, (_, h) => h);
  const tensor = new ort.Tensor('float16', bits, [65536]);
  // Where the engine has Float16Array (Node 24), onnxruntime-common hands float16 data as one.
  t.comment(`float16 tensor data: ${tensor.data.constructor.name} on Node ${process.versions.node}`);
  const values = floatValues(tensor);
  const table = float16Values();
  let wrong = 0;
  for (let h = 0; h < 65536; h++) if (!Object.is(values[h], table[h]) && !(Number.isNaN(values[h]) && Number.isNaN(table[h]))) wrong++;
  t.equal(wrong, 0, 'all 65,536 patterns, subnormals, infinities, NaN and -0 included');
  t.same([...floatArray(tensor).subarray(0, 4), floatArray(tensor)[65535]], [0, 1, 2, 3, 65535], 'a past keeps its bit patterns');
  t.same(floatValues(new ort.Tensor('float32', Float32Array.of(1.5, -2), [2])), [1.5, -2]);
  t.throws(() => floatValues(new ort.Tensor('int64', BigInt64Array.of(1n), [1])), /expected a float32 or float16 output, got int64/);
});

t.test('a float16 graph: logits and past float16, inputs int64', async (t) => {
  const file = join(FP16_MEMBERS[0], 'model.onnx');
  const session = await ort.InferenceSession.create(file);
  t.teardown(() => session.release());
  const signature = checkGraph(file, session.inputMetadata, session.outputMetadata);
  t.equal(signature.outputType, 'float16');
  t.same(signature.inputs, ['input_ids', 'attention_mask']);
  t.match(signature.past, { type: 'float16', layers: 5, kvHeads: 4, headDim: 8 });

  const ids = { name: 'input_ids', isTensor: true, type: 'int64', shape: ['batch', 'seq'] };
  const mask = { ...ids, name: 'attention_mask' };
  const past = (name: string, type: string) => ({ name, isTensor: true, type, shape: ['b', 4, 'p', 8] });
  const logits = { name: 'logits', isTensor: true, type: 'float16', shape: ['batch', 1] };
  const presents = [past('present.0.key', 'float16'), past('present.0.value', 'float16')];
  t.throws(() => checkGraph('m', [ids, mask, past('past_key_values.0.key', 'float16'), past('past_key_values.0.value', 'float32')], [logits, ...presents]), /past input 'past_key_values\.0\.value' is float32 and 'past_key_values\.0\.key' float16; a past has one element type/);
  t.throws(() => checkGraph('m', [ids, mask, past('past_key_values.0.key', 'float16'), past('past_key_values.0.value', 'float16')], [logits, presents[0], past('present.0.value', 'float32')]), /output 'present\.0\.value' is float32; the past is float16/);
  t.throws(() => checkGraph('m', [ids], [{ ...logits, type: 'bfloat16' }]), /is bfloat16; expected float32 or float16 logits/);
});

t.test('merge float16 checkpoints and graphs, then serve them: the float32 merge within FP16_TOLERANCE', async (t) => {
  const [half, full] = await Promise.all([mergedModel(FP16_MEMBERS), mergedModel(FP32_MEMBERS)]);
  const header = await readFile(join(half, 'model.safetensors')).then((b) => JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString()));
  const dtypes = new Set(Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]) => (v as { dtype: string }).dtype));
  t.same([...dtypes], ['F16'], 'the merged checkpoint is float16 throughout');

  const servers = await Promise.all([
    startServer(testConfig({ model: half })),
    startServer(testConfig({ model: full })),
    startServer(testConfig({ model: half, prefix_sharing: 'off', reward_cache_items: 0 })),
  ]);
  t.teardown(() => Promise.all(servers.map((s) => s.stop())));
  const [halfRewards, fullRewards, wholeRewards] = await Promise.all(servers.map((s) => rewardsOf(s.url).then((r) => r.rewards)));

  const notHalf = halfRewards.filter((r) => float16Values()[toFloat16Bits(r)] !== r);
  t.same(notHalf, [], `all ${halfRewards.length} rewards are float16 numbers: the logit, converted exactly (no normalization in a fresh merge)`);
  const d = maxDiff(halfRewards, fullRewards);
  t.ok(d <= FP16_TOLERANCE, `float16 merge vs float32 merge: max |diff| ${d.toExponential(2)} over ${halfRewards.length} rewards (bound ${FP16_TOLERANCE})`);
  t.ok(d > 0, 'the float16 model is not secretly the float32 one');
  const metrics = await (await fetch(`${servers[0].url}/metrics`)).text();
  const reused = Number(/^warm_serve_prefix_tokens_reused_total (\S+)/m.exec(metrics)?.[1]);
  t.ok(reused > 0, `the groups went through prefix sharing: ${reused} prefix tokens reused from float16 pasts`);
  const shared = maxDiff(halfRewards, wholeRewards);
  t.ok(shared <= 1e-3, `prefix sharing (float16 pasts fed back) vs whole passes: max |diff| ${shared.toExponential(2)}`);
});
