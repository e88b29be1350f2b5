/**
 * Merge inputs are untrusted files: ONNX external data must not read outside its model's directory
 * (through links either), must not overwrite another output file, and safetensors tensor and
 * metadata names are data (a tensor named `__proto__` round-trips like any other).
 */
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WarmServeError } from '../src/errors.js';
import { readSafetensorsHeader } from '../src/merge/safetensors/safetensors-file.js';
import { randomFloat, readSafetensors, rewardWeights, writeHfModel, writeOnnxModel, type RawTensor } from './fixtures/merge/builders.js';
import { merge, tempDir } from './fixtures/merge/run-merge.js';

async function refused(t: Tap.Test, p: Promise<unknown>, pattern: RegExp, what: string) {
  const err = await p.then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof WarmServeError && err.type === 'merge_error', `${what}: refused with a merge error`);
  t.match((err as Error | undefined)?.message ?? 'merged (exit 0)', pattern, what);
  t.notMatch((err as Error | undefined)?.message ?? '', /\n/, `${what}: one line`);
}

declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0];
}

t.test('ONNX external data that is a link out of the model directory is refused, not copied', async (t) => {
  const root = tempDir();
  const a = writeOnnxModel(join(root, 'a'), rewardWeights('F32', 1), { storage: 'external' });
  // a secret beside the inputs, big enough for every offset the model names
  const secret = join(root, 'secret.txt');
  writeFileSync(secret, 'API_KEY=sk-live-0123456789\n'.repeat(100));

  const file = writeOnnxModel(join(root, 'file-link'), rewardWeights('F32', 2), { storage: 'external', externalFile: 'data.bin' });
  rmSync(join(file, 'data.bin'));
  symlinkSync(secret, join(file, 'data.bin'));
  // one output directory per case, so each case stands alone
  const outs = ['file', 'dir', 'not-file'].map((c) => join(root, `out-${c}`));
  await refused(t, merge([a, file], outs[0]), /file-link tensor 'emb\.weight': .*external data file .*file-link\/data\.bin resolves to .*secret\.txt, outside the model's directory/, 'data file linked to a file outside');

  // a linked folder on the way: sub -> outside; the builder writes the data through the link
  const outside = join(root, 'outside');
  mkdirSync(outside);
  const dirLink = join(root, 'dir-link');
  mkdirSync(dirLink);
  symlinkSync(outside, join(dirLink, 'sub'));
  writeOnnxModel(dirLink, rewardWeights('F32', 3), { storage: 'external', externalFile: 'sub/data.bin' });
  await refused(t, merge([a, dirLink], outs[1]), /dir-link tensor 'emb\.weight': .*external data file .*dir-link\/sub\/data\.bin resolves to .*outside\/data\.bin, outside the model's directory/, 'linked folder');

  // not a regular file: a directory where the data should be
  const notFile = writeOnnxModel(join(root, 'not-file'), rewardWeights('F32', 4), { storage: 'external', externalFile: 'data' });
  rmSync(join(notFile, 'data'));
  mkdirSync(join(notFile, 'data'));
  await refused(t, merge([a, notFile], outs[2]), /not-file tensor 'emb\.weight': .*external data file .*not-file\/data is not a regular file/, 'directory as external data');

  for (const out of outs) t.same(readdirSync(out), [], `${out}: nothing written`);
});

t.test('ONNX external data may be a link inside the model directory, or a directory of links to a model', async (t) => {
  const root = tempDir();
  const w = rewardWeights('F32', 1);
  const a = writeOnnxModel(join(root, 'a'), w, { storage: 'external' });
  // Hugging Face cache style: every file is a link to the real model elsewhere
  const links = join(root, 'links');
  mkdirSync(links);
  for (const f of readdirSync(a)) symlinkSync(join(a, f), join(links, f));
  // a link within the directory: data-link -> blob
  const inside = writeOnnxModel(join(root, 'inside'), w, { storage: 'external', externalFile: 'data-link' });
  renameSync(join(inside, 'data-link'), join(inside, 'blob'));
  symlinkSync('blob', join(inside, 'data-link'));
  const res = await merge([a, links, inside], join(root, 'out'));
  t.equal(res.results[0].format, 'onnx');
  t.equal(readFileSync(join(root, 'out', 'model.onnx_data')).length, readFileSync(join(a, 'model.onnx_data')).length);
});

t.test('an ONNX external data location that is another output file is refused before anything is written', async (t) => {
  const root = tempDir();
  // Two inputs keeping their external data at `location`; each case writes to its own output directory.
  const clash = (name: string, location: string) => {
    const dirs = [1, 2].map((k) => writeOnnxModel(join(root, `${name}${k}`), rewardWeights('F32', k), { storage: 'external', externalFile: location }));
    return merge(dirs, join(root, `out-${name}`));
  };
  await refused(t, clash('card', 'MERGE.md'), /card1: the output would hold two files named MERGE\.md \(an ONNX external data file, and the merge card\)/, 'MERGE.md');
  await refused(t, clash('manifest', 'warm.json'), /manifest1: the output would hold two files named warm\.json \(an ONNX external data file, and the merged warm\.json\)/, 'warm.json');
  // vocab.txt is both the data file and a tokenizer file copied from the first input
  await refused(t, clash('vocab', 'vocab.txt'), /vocab1: the output would hold two files named vocab\.txt \(an ONNX external data file, and a config or tokenizer file copied/, 'vocab.txt');
  await refused(t, clash('config', 'Config.json'), /two files named config\.json \(an ONNX external data file, and a config or tokenizer file/, 'a name differing only in case');
  // the staging name of MERGE.md: committing would rename the data over the card
  await refused(t, clash('temp', `.MERGE.md.${process.pid}.partial`), /temp1: an ONNX external data file is named \.MERGE\.md\.\d+\.partial, like the merge's temporary files/, 'staging name');
  for (const name of ['card', 'manifest', 'vocab', 'config', 'temp']) t.same(readdirSync(join(root, `out-${name}`)), [], `${name}: nothing written, no temporary files left`);
});

/** Safetensors bytes with the header written as text, so keys such as `__proto__` survive. */
function safetensorsText(tensors: RawTensor[], metadata: Record<string, string>): Buffer {
  let offset = 0;
  const entries = tensors.map((x) => {
    const entry = `${JSON.stringify(x.name)}:${JSON.stringify({ dtype: x.dtype, shape: x.shape, data_offsets: [offset, offset + x.bytes.length] })}`;
    offset += x.bytes.length;
    return entry;
  });
  const meta = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  const json = Buffer.from(`{"__metadata__":{${meta.join(',')}},${entries.join(',')}}`);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...tensors.map((x) => Buffer.from(x.bytes))]);
}

t.test('a safetensors tensor (and a metadata key) named __proto__ round-trips through read and merge', async (t) => {
  const root = tempDir();
  const inputs = [1, 2].map((k) => [randomFloat('a.weight', 'F32', [2, 3], 10 * k), randomFloat('__proto__', 'F32', [4], 10 * k + 1), randomFloat('b.bias', 'F32', [2], 10 * k + 2)]);
  const dirs = inputs.map((tensors, k) => {
    const dir = writeHfModel(join(root, `m${k}`), tensors);
    writeFileSync(join(dir, 'model.safetensors'), safetensorsText(tensors, { format: 'pt', ['__proto__']: 'kept' }));
    return dir;
  });

  const read = await readSafetensorsHeader(join(dirs[0], 'model.safetensors'), 'm0');
  t.same(read.tensors.map((x) => x.name), ['a.weight', '__proto__', 'b.bias'], 'reader: every tensor');
  t.ok(Object.hasOwn(read.metadata, '__proto__') && read.metadata['__proto__'] === 'kept', 'reader: metadata key __proto__ kept');

  const res = await merge(dirs, join(root, 'out'));
  t.equal(res.results[0].averaged, 3, 'three tensors averaged');
  const file = readFileSync(join(root, 'out', 'model.safetensors'));
  const got = readSafetensors(file);
  t.same([...got.tensors.keys()], ['a.weight', '__proto__', 'b.bias'], 'output header lists every tensor, __proto__ included');
  t.equal(got.metadata['__proto__'], 'kept', 'output metadata keeps __proto__');
  const headerLength = Number(file.readBigUInt64LE(0));
  const described = [...got.tensors.values()].reduce((n, x) => n + x.offsets[1] - x.offsets[0], 0);
  t.equal(described, file.length - 8 - headerLength, 'every data byte is described by the header');
  for (let i = 0; i < 3; i++) {
    const [x, y] = inputs.map((tensors) => new Float32Array(Uint8Array.from(tensors[i].bytes).buffer));
    const mean = Buffer.from(Float32Array.from(x, (v, k) => (v + y[k]) / 2).buffer);
    t.same(Buffer.from(got.tensors.get(inputs[0][i].name)?.bytes ?? []), mean, `${inputs[0][i].name}: the average`);
  }
});

t.test('a shard tensor named like an Object method must still be listed by the index', async (t) => {
  const root = tempDir();
  const tensors = [randomFloat('a.weight', 'F32', [2, 3], 1), randomFloat('toString', 'F32', [2], 2)];
  const dirs = [0, 1].map((k) => writeHfModel(join(root, `m${k}`), tensors, { shards: [['a.weight', 'toString']] }));
  const index = join(dirs[1], 'model.safetensors.index.json');
  const json = JSON.parse(readFileSync(index, 'utf8'));
  delete json.weight_map.toString;
  writeFileSync(index, JSON.stringify(json));
  await refused(t, merge(dirs, join(root, 'out')), /m1 tensor 'toString'.*a shard holds it but the index does not list it/, 'unlisted toString');
});
