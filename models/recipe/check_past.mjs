// Checks a reward-model graph exported with past key/values (export.py) in ONNX Runtime.
//
//   node check_past.mjs MODEL.onnx CHECK.json [--against OTHER.onnx] [--against-tolerance 1e-5]
//
// CHECK.json (written by export.py): layers, kv_heads, head_dim, prefix (token ids), suffixes
// (token-id lists), full_rewards (PyTorch's reward of prefix + suffix, each alone), tolerance.
// Asserts, within the tolerance: the graph's input/output names and static kv_heads/head_dim;
// a full pass with an empty past (past_seq 0; past_batch 1 and batch) gives PyTorch's rewards for
// right- and left-padded batches; the prefix run alone, then the suffixes with its present as the
// past (batch 1 broadcast, and repeated to the batch), give the full pass's rewards.
// --against OTHER.onnx: OTHER (a plain graph, or another past graph given an empty past) must
// give the same rewards as MODEL within --against-tolerance on the full sequences and on seeded
// random batches (used to check a re-export against the graph it replaces).
// A float16 graph (export.py --fp16) gets float16 pasts, and its float16 logits are compared as
// the numbers they encode.
// Prints `[check_past] ...` lines; exits 1 if a check fails.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const k = args.indexOf(name);
  if (k < 0) return fallback;
  const value = args[k + 1];
  args.splice(k, 2);
  return value;
};
const against = flag('--against', null);
const againstTolerance = Number(flag('--against-tolerance', '1e-5'));
if (args.length !== 2) {
  console.error('usage: node check_past.mjs MODEL.onnx CHECK.json [--against OTHER.onnx] [--against-tolerance 1e-5]');
  process.exit(2);
}
const [modelPath, checkPath] = args;
const check = JSON.parse(readFileSync(checkPath, 'utf8'));
const { layers, kv_heads: kvHeads, head_dim: headDim, prefix, suffixes, full_rewards: fullRewards, tolerance } = check;

let failures = 0;
function expect(ok, message) {
  console.log(`[check_past] ${ok ? 'ok  ' : 'FAIL'} ${message}`);
  if (!ok) failures++;
}
const maxDiff = (a, b) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
const fmt = (x) => x.toExponential(2);

const pastNames = [];
const presentNames = [];
for (let i = 0; i < layers; i++) {
  for (const kv of ['key', 'value']) {
    pastNames.push(`past_key_values.${i}.${kv}`);
    presentNames.push(`present.${i}.${kv}`);
  }
}

/** input_ids and the current tokens' mask, padded on `side`. */
function batch(seqs, side) {
  const width = Math.max(...seqs.map((s) => s.length));
  const ids = new BigInt64Array(seqs.length * width);
  const mask = new BigInt64Array(seqs.length * width);
  seqs.forEach((s, row) => {
    const start = row * width + (side === 'right' ? 0 : width - s.length);
    s.forEach((id, j) => {
      ids[start + j] = BigInt(id);
      mask[start + j] = 1n;
    });
  });
  return { ids, mask, rows: seqs.length, width };
}

/** The numbers a float32 or float16 tensor holds (float16 comes as a Uint16Array of bit patterns, or a Float16Array). */
function numbers(t) {
  if (t.type !== 'float16' || !(t.data instanceof Uint16Array)) return Array.from(t.data);
  return Array.from(t.data, (h) => {
    const exp = (h >> 10) & 0x1f;
    const mag = exp === 0 ? (h & 0x3ff) * 2 ** -24 : exp === 31 ? ((h & 0x3ff) ? NaN : Infinity) : (1 + (h & 0x3ff) / 1024) * 2 ** (exp - 15);
    return h & 0x8000 ? -mag : mag;
  });
}

/** The past's element type: float32, or float16 for a graph exported with --fp16. */
let pastType = 'float32';

/** Per past input: a tensor [pastBatch, kv, 0, head_dim]. */
function emptyPast(pastBatch) {
  const empty = pastType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
  return Object.fromEntries(pastNames.map((n) => [n, new ort.Tensor(pastType, empty, [pastBatch, kvHeads, 0, headDim])]));
}

/** Runs a past graph: current tokens `seqs` (padded on `side`) after `past` (tensors by input name). */
async function runWithPast(session, seqs, side, past) {
  const { ids, mask, rows, width } = batch(seqs, side);
  const pastLen = past[pastNames[0]].dims[2];
  const full = new BigInt64Array(rows * (pastLen + width));
  for (let r = 0; r < rows; r++) {
    full.fill(1n, r * (pastLen + width), r * (pastLen + width) + pastLen);
    full.set(mask.subarray(r * width, (r + 1) * width), r * (pastLen + width) + pastLen);
  }
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, [rows, width]),
    attention_mask: new ort.Tensor('int64', full, [rows, pastLen + width]),
    ...past,
  });
  return { logits: numbers(out.logits), out, rows, width, pastLen };
}

/** Rewards of a plain graph (input_ids, attention_mask only) or of a past graph given an empty past. */
async function rewards(session, seqs, side) {
  if (session.inputNames.length === 2) {
    const { ids, mask, rows, width } = batch(seqs, side);
    const out = await session.run({
      input_ids: new ort.Tensor('int64', ids, [rows, width]),
      attention_mask: new ort.Tensor('int64', mask, [rows, width]),
    });
    return numbers(out.logits);
  }
  return (await runWithPast(session, seqs, side, emptyPast(1))).logits;
}

function presentsOk(out, rows, total, label) {
  const bad = presentNames.filter((n) => out[n].dims.join() !== [rows, kvHeads, total, headDim].join());
  expect(bad.length === 0, `${label}: presents are [${rows}, ${kvHeads}, ${total}, ${headDim}]${bad.length ? ` (not: ${bad.join(', ')})` : ''}`);
}

/** Repeats a batch-1 tensor [1, ...] `rows` times along axis 0. */
function tile(t, rows) {
  const data = new t.data.constructor(t.data.length * rows);
  for (let r = 0; r < rows; r++) data.set(t.data, r * t.data.length);
  return new ort.Tensor(t.type, data, [rows, ...t.dims.slice(1)]);
}

const session = await ort.InferenceSession.create(modelPath);
pastType = session.inputMetadata.find((m) => m.name === pastNames[0])?.type ?? 'float32';
const describe = (m) => `${m.name} ${m.isTensor ? `${m.type} [${m.shape.join(', ')}]` : '(not a tensor)'}`;
console.log(`[check_past] ${modelPath}`);
console.log(`[check_past] inputs:  ${session.inputMetadata.map(describe).join('; ')}`);
console.log(`[check_past] outputs: ${session.outputMetadata.map(describe).join('; ')}`);
expect(session.inputNames.join() === ['input_ids', 'attention_mask', ...pastNames].join(), `input names: input_ids, attention_mask, ${pastNames.length} past_key_values.{i}.{key,value}`);
expect(session.outputNames.join() === ['logits', ...presentNames].join(), `output names: logits, ${presentNames.length} present.{i}.{key,value}`);
const staticDims = (m) => m.isTensor && m.shape.length === 4 && m.shape[1] === kvHeads && m.shape[3] === headDim
  && typeof m.shape[0] === 'string' && typeof m.shape[2] === 'string';
expect([...session.inputMetadata, ...session.outputMetadata].filter((m) => /^(past_key_values|present)\./.test(m.name)).every(staticDims),
  `past/present shapes: [dynamic, ${kvHeads}, dynamic, ${headDim}]`);

const full = suffixes.map((s) => [...prefix, ...s]);
const fullBySide = {};
for (const side of ['right', 'left']) {
  for (const pastBatch of [1, full.length]) {
    const r = await runWithPast(session, full, side, emptyPast(pastBatch));
    const d = maxDiff(r.logits, fullRewards);
    expect(d <= tolerance, `empty past (past_batch ${pastBatch}), ${side}-padded full sequences vs PyTorch: max |diff| ${fmt(d)}`);
    presentsOk(r.out, r.rows, r.width, `empty past, ${side}-padded`);
    fullBySide[side] = r.logits;
  }
}

const pre = await runWithPast(session, [prefix], 'right', emptyPast(1));
presentsOk(pre.out, 1, prefix.length, `prefix (${prefix.length} tokens)`);
const prefixPast = Object.fromEntries(pastNames.map((n, k) => [n, pre.out[presentNames[k]]]));
for (const side of ['right', 'left']) {
  for (const pastBatch of [1, suffixes.length]) {
    const past = pastBatch === 1 ? prefixPast : Object.fromEntries(Object.entries(prefixPast).map(([n, t]) => [n, tile(t, pastBatch)]));
    const r = await runWithPast(session, suffixes, side, past);
    const d = maxDiff(r.logits, fullBySide[side]);
    const dTorch = maxDiff(r.logits, fullRewards);
    expect(d <= tolerance && dTorch <= tolerance,
      `prefix then ${side}-padded suffixes (past_batch ${pastBatch}) vs full pass: max |diff| ${fmt(d)} (vs PyTorch ${fmt(dTorch)})`);
    presentsOk(r.out, r.rows, prefix.length + r.width, `suffixes after the prefix, ${side}-padded`);
  }
}

if (against) {
  const other = await ort.InferenceSession.create(against);
  // seeded random batches (a small LCG): mixed lengths up to 128, BOS first
  let seed = 2024;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const random = [[1, 7], [3, 33], [4, 64], [2, 128]].map(([rows, width]) =>
    Array.from({ length: rows }, (_, b) => {
      const len = b === 0 ? width : 1 + Math.floor(rand() * width);
      return Array.from({ length: len }, (_, s) => (s === 0 ? 1 : 3 + Math.floor(rand() * 509)));
    }));
  let worst = 0;
  let count = 0;
  for (const seqs of [full, ...random]) {
    for (const side of ['right', 'left']) {
      const [a, b] = [await rewards(session, seqs, side), await rewards(other, seqs, side)];
      worst = Math.max(worst, maxDiff(a, b));
      count += a.length;
    }
  }
  expect(worst <= againstTolerance, `vs ${against} (${other.inputNames.length === 2 ? 'plain graph' : 'empty past'}): ${count} rewards, max |diff| ${fmt(worst)}`);
  await other.release();
}
await session.release();
console.log(`[check_past] ${failures === 0 ? 'passed' : `${failures} check(s) FAILED`}`);
process.exit(failures === 0 ? 0 : 1);
