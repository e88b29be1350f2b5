import t from 'tap';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadModelDirectory, type ModelDirectory } from '../src/model/directory.js';
import { InputFormatter } from '../src/model/format.js';
import { checkGraph } from '../src/model/graph.js';
import { ModelTokenizer } from '../src/model/tokenizer.js';
import { OnnxEngine } from '../src/model/onnx-engine.js';
import { loadMemberDirectories } from '../src/model/members.js';
import { editJson, referenceCopy } from './helpers/reference-copy.js';
import { rejection } from './helpers/rejection.js';

const REFERENCE = new URL('../models/reference/', import.meta.url).pathname;
const GRAPHS = new URL('./fixtures/graphs/', import.meta.url).pathname;

/** A scratch copy of the reference model directory (members included), edited by `edit`, removed after the test. */
async function copyOfReference(t: Tap.Test, edit: (dir: string) => Promise<void> = async () => undefined): Promise<string> {
  const dir = await referenceCopy(t, { name: 'my-rm', members: true });
  await edit(dir);
  return dir;
}

/** The message of the model_error `p` rejects with. */
async function modelError(p: Promise<unknown>): Promise<string> {
  const err = await rejection(p);
  if (err.type !== 'model_error') throw new Error(`expected model_error, got ${err.type}: ${err.message}`);
  return err.message;
}

declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0];
}

t.test('reference directory: manifest values win', async (t) => {
  const dir = await loadModelDirectory(REFERENCE);
  const manifest = JSON.parse(await readFile(join(REFERENCE, 'warm.json'), 'utf8'));
  t.equal(dir.hasManifest, true);
  t.equal(dir.name, manifest.name ?? 'reference');
  t.equal(dir.maxLength, manifest.max_length);
  t.equal(dir.paddingSide, manifest.padding_side ?? 'right');
  t.equal(dir.ensureEos, manifest.ensure_eos ?? false);
  t.ok(dir.chatTemplate, 'the chat template is read from tokenizer_config.json');
});

t.test('defaults when warm.json is absent', async (t) => {
  const path = await copyOfReference(t, (d) => rm(join(d, 'warm.json')));
  const tokenizerConfig = JSON.parse(await readFile(join(path, 'tokenizer_config.json'), 'utf8'));
  const dir = await loadModelDirectory(path);
  t.equal(dir.hasManifest, false);
  t.equal(dir.name, 'my-rm', 'name = directory base name');
  t.equal(dir.template, '{prompt}{completion}');
  t.equal(dir.maxLength, tokenizerConfig.model_max_length, 'max_length from tokenizer_config model_max_length');
  t.equal(dir.paddingSide, tokenizerConfig.padding_side ?? 'right');
  t.equal(dir.ensureEos, false);
  t.same(dir.manifest.members, []);
});

t.test('max_length and padding side fall back in the documented order', async (t) => {
  const path = await copyOfReference(t, async (d) => {
    await rm(join(d, 'warm.json'));
    await editJson(join(d, 'tokenizer_config.json'), (j) => {
      j.model_max_length = 1e30; // transformers' "unset"
      j.padding_side = 'left';
    });
    await editJson(join(d, 'config.json'), (j) => (j.max_position_embeddings = 300));
  });
  let dir = await loadModelDirectory(path);
  t.equal(dir.maxLength, 300, 'config max_position_embeddings when model_max_length is unset');
  t.equal(dir.paddingSide, 'left', 'tokenizer_config padding_side');
  await editJson(join(path, 'config.json'), (j) => delete j.max_position_embeddings);
  dir = await loadModelDirectory(path);
  t.equal(dir.maxLength, 512, '512 when nothing says');
  await writeFile(join(path, 'warm.json'), JSON.stringify({ max_length: 64, padding_side: 'right', name: 'custom' }));
  dir = await loadModelDirectory(path);
  t.same([dir.maxLength, dir.paddingSide, dir.name], [64, 'right', 'custom'], 'the manifest overrides both');
});

t.test('broken directories give clear model errors', async (t) => {
  t.match(await modelError(loadModelDirectory('/nonexistent/rm')), /\/nonexistent\/rm: no such directory/);

  let path = await copyOfReference(t, (d) => rm(join(d, 'tokenizer.json')));
  t.match(await modelError(loadModelDirectory(path)), /tokenizer\.json: missing tokenizer\.json/);

  path = await copyOfReference(t, (d) => rm(join(d, 'model.onnx')));
  t.match(await modelError(loadModelDirectory(path)), /model\.onnx: missing model\.onnx/);

  path = await copyOfReference(t, (d) => writeFile(join(d, 'config.json'), '{"hidden_size": 64,'));
  t.match(await modelError(loadModelDirectory(path)), /config\.json: config\.json is not valid JSON/);

  path = await copyOfReference(t, (d) => writeFile(join(d, 'warm.json'), JSON.stringify({ max_length: -3, padding_side: 'middle' })));
  const manifestError = await modelError(loadModelDirectory(path));
  t.match(manifestError, /warm\.json: invalid manifest warm\.json/);
  t.match(manifestError, /max_length: /, 'names the failing field');
  t.match(manifestError, /padding_side: /, 'names every failing field');

  path = await copyOfReference(t, (d) => editJson(join(d, 'tokenizer_config.json'), (j) => (j.padding_side = 'up')));
  t.match(await modelError(loadModelDirectory(path)), /tokenizer_config\.json: invalid tokenizer_config\.json: padding_side/);

  path = await copyOfReference(t, (d) => writeFile(join(d, 'tokenizer.json'), '{"version": "1.0"}'));
  t.match(await modelError(ModelTokenizer.load(await loadModelDirectory(path))), /tokenizer\.json: cannot load the tokenizer/);

  path = await copyOfReference(t, (d) => editJson(join(d, 'tokenizer_config.json'), (j) => (j.chat_template = '{% for m in messages %}')));
  t.match(await modelError(loadModelDirectory(path).then((d) => new InputFormatter(d))), /chat_template does not parse/);
});

t.test('graphs the engine cannot use are refused at load time', async (t) => {
  const layout = { padTokenId: 0, paddingSide: 'right' as const };
  t.match(await modelError(OnnxEngine.create(join(GRAPHS, 'wrong-input.onnx'), layout)), /graph input 'pixel_values' cannot be fed; supported inputs: input_ids, attention_mask, position_ids, token_type_ids/);
  const root = await mkdtemp(join(tmpdir(), 'warm-graph-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'model.onnx'), 'not a protobuf');
  t.match(await modelError(OnnxEngine.create(join(root, 'model.onnx'), layout)), /onnxruntime cannot load the graph/);

  const ids = { name: 'input_ids', isTensor: true, type: 'int64', shape: ['batch', 'seq'] };
  const logits = { name: 'logits', isTensor: true, type: 'float32', shape: ['batch', 1] };
  t.same(checkGraph('m', [ids, { ...ids, name: 'position_ids' }], [{ ...logits, name: 'hidden' }, logits]), { inputs: ['input_ids', 'position_ids'], output: 'logits', outputType: 'float32' });
  t.same(checkGraph('m', [ids], [{ ...logits, name: 'score' }]).output, 'score', 'a single output of any name');
  t.throws(() => checkGraph('m', [{ ...ids, name: 'attention_mask' }], [logits]), /no 'input_ids' input/);
  t.throws(() => checkGraph('m', [{ ...ids, type: 'int32' }], [logits]), /is int32; warm-serve feeds int64/);
  t.throws(() => checkGraph('m', [ids], [{ ...logits, name: 'a' }, { ...logits, name: 'b' }]), /no 'logits' output and 2 outputs \(a, b\)/);
  t.throws(() => checkGraph('m', [ids], [{ ...logits, type: 'int64' }]), /is int64; expected float32/);
  t.throws(() => checkGraph('m', [ids], [{ ...logits, shape: ['batch', 0] }]), /expected \[batch, n\] with n >= 1/);
  t.throws(() => checkGraph('m', [ids], [{ ...logits, shape: ['batch', 'seq', 1] }]), /expected \[batch, n\]/);
});

t.test('a graph that takes past_key_values: its layers, heads and presents are checked', async (t) => {
  const ids = { name: 'input_ids', isTensor: true, type: 'int64', shape: ['batch', 'seq'] };
  const mask = { ...ids, name: 'attention_mask', shape: ['batch', 'total_seq'] };
  const logits = { name: 'logits', isTensor: true, type: 'float32', shape: ['batch', 1] };
  const past = (i: number, kind: string, shape: (string | number)[] = ['past_batch', 4, 'past_seq', 8]) => ({ name: `past_key_values.${i}.${kind}`, isTensor: true, type: 'float32', shape });
  const present = (i: number, kind: string) => ({ ...past(i, kind), name: `present.${i}.${kind}` });
  const inputs = [ids, mask, past(0, 'key'), past(0, 'value'), past(1, 'key'), past(1, 'value')];
  const outputs = [logits, present(0, 'key'), present(0, 'value'), present(1, 'key'), present(1, 'value')];
  t.same(checkGraph('m', inputs, outputs), {
    inputs: ['input_ids', 'attention_mask'],
    output: 'logits',
    outputType: 'float32',
    past: { type: 'float32', layers: 2, kvHeads: 4, headDim: 8, inputs: inputs.slice(2).map((i) => i.name), outputs: outputs.slice(1).map((o) => o.name) },
  });
  t.throws(() => checkGraph('m', inputs.slice(0, 5), outputs), /missing past_key_values\.1\.value/);
  t.throws(() => checkGraph('m', [ids, ...inputs.slice(2)], outputs), /needs an attention_mask input/);
  t.throws(() => checkGraph('m', inputs, outputs.slice(0, 4)), /no 'present\.1\.value' output/);
  t.throws(() => checkGraph('m', [...inputs.slice(0, 5), past(1, 'value', ['b', 'h', 'p', 'd'])], outputs), /expected float32 or float16 \[past_batch, kv_heads, past_seq, head_dim\] with numeric kv_heads and head_dim/);
  t.throws(() => checkGraph('m', [...inputs.slice(0, 5), past(1, 'value', ['b', 2, 'p', 8])], outputs), /has 2 heads of 8; the others have 4 of 8/);
});

t.test('formatting: template, raw text, chat template', async (t) => {
  const path = await copyOfReference(t, (d) => writeFile(join(d, 'warm.json'), JSON.stringify({ template: 'Q: {prompt}\nA: {completion}' })));
  const f = new InputFormatter(await loadModelDirectory(path));
  t.teardown(() => f.close());
  t.equal(await f.format({ prompt: 'a {completion} b', completion: 'c {prompt}' }, 0), 'Q: a {completion} b\nA: c {prompt}', 'slots are filled verbatim, once');
  t.equal(await f.format({ text: 'raw <s> text' }, 0), 'raw <s> text');
  const chat = await f.format({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }] }, 0);
  t.match(chat, /Hi[\s\S]*Hello!/, 'the chat template renders both turns in order');
  t.notMatch(chat, /Assistant:\s*$/, 'no generation prompt is appended');
  await t.rejects(f.format({ messages: [{ role: 'wizard', content: 'x' }] }, 3), { type: 'validation_error', message: /^items\[3\]\.messages: chat template rejected/ });
  await t.rejects(f.format({} as never, 2), { type: 'validation_error', message: /^items\[2\]: expected/ });

  const plain = await copyOfReference(t, (d) => editJson(join(d, 'tokenizer_config.json'), (j) => delete j.chat_template));
  const g = new InputFormatter(await loadModelDirectory(plain));
  await t.rejects(g.format({ messages: [{ role: 'user', content: 'x' }] }, 5), {
    type: 'validation_error',
    status: 422,
    message: /^items\[5\]\.messages: model '.+' has no chat_template in tokenizer_config\.json/,
  });
});

t.test('chat template sees bos/eos tokens', async (t) => {
  const path = await copyOfReference(t, (d) => editJson(join(d, 'tokenizer_config.json'), (j) => {
    j.chat_template = '{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}GEN{% endif %}';
  }));
  const dir = await loadModelDirectory(path);
  const formatter = new InputFormatter(dir);
  t.teardown(() => formatter.close());
  const text = await formatter.format({ messages: [{ role: 'user', content: 'hi' }] }, 0);
  t.equal(text, `${dir.bosToken}[user]hi${dir.eosToken}`);
  const tok = await ModelTokenizer.load(dir);
  const [fromChat] = await tok.encode([text]);
  const [plain] = await tok.encode([`[user]hi${dir.eosToken}`]);
  t.same([...fromChat.ids], [...plain.ids], 'a text that starts with BOS does not get a second one');
});

/** The reference tokenizer with its directory, max_length and ensure_eos overridden. */
async function tokenizerWith(t: Tap.Test, manifest: Record<string, unknown>): Promise<{ dir: ModelDirectory; tok: ModelTokenizer }> {
  const path = await copyOfReference(t, (d) => writeFile(join(d, 'warm.json'), JSON.stringify(manifest)));
  const dir = await loadModelDirectory(path);
  return { dir, tok: await ModelTokenizer.load(dir) };
}

t.test('truncation keeps BOS and the end; the prompt is cut from the left', async (t) => {
  const { tok: full } = await tokenizerWith(t, { max_length: 4096 });
  const { tok } = await tokenizerWith(t, { max_length: 32 });
  const text = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ') + ' THE END';
  const [reference] = await full.encode([text]);
  const [cut] = await tok.encode([text]);
  t.ok(reference.ids.length > 32 && !reference.truncated);
  t.equal(cut.truncated, true);
  t.equal(cut.ids.length, 32);
  t.equal(cut.fullLength, reference.ids.length, 'reports the length before truncation');
  t.equal(cut.ids[0], reference.ids[0], 'the BOS stays first');
  t.same([...cut.ids.slice(1)], [...reference.ids.slice(reference.ids.length - 31)], 'the last 31 tokens survive');

  const [short] = await tok.encode(['short']);
  t.equal(short.truncated, false);
  t.same([...short.ids], [...(await full.encode(['short']))[0].ids]);
});

t.test('ensure_eos appends EOS within max_length, once', async (t) => {
  const { dir, tok } = await tokenizerWith(t, { max_length: 16, ensure_eos: true });
  const { tok: plain } = await tokenizerWith(t, { max_length: 4096, ensure_eos: false });
  const eos = tok.eosId!;
  t.ok(eos !== undefined, `EOS id resolved from ${dir.eosToken}`);
  const [short] = await tok.encode(['hello there']);
  const [raw] = await plain.encode(['hello there']);
  t.same([...short.ids], [...raw.ids, eos], 'EOS appended');
  const [already] = await tok.encode([`hello there${dir.eosToken}`]);
  t.equal(already.ids.filter((id) => id === eos).length, 1, 'no second EOS');
  const long = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen';
  const [cut] = await tok.encode([long]);
  const [rawLong] = await plain.encode([long]);
  t.equal(cut.ids.length, 16);
  t.equal(cut.ids[15], eos, 'EOS is last even after truncation');
  t.same([...cut.ids.slice(1, 15)], [...rawLong.ids.slice(rawLong.ids.length - 14)], 'the end of the text is kept before EOS');
  t.equal(cut.fullLength, rawLong.ids.length + 1);
});

t.test('OnnxEngine: feeds declared inputs, pads either side, normalises', async (t) => {
  const dir = await loadModelDirectory(REFERENCE);
  const tok = await ModelTokenizer.load(dir);
  const items = await tok.encode(['Once upon a time there was a cat.', 'Hi', 'The end of a long, long story about a dog named Max.']);
  const seqs = items.map((i) => i.ids);
  const right = await OnnxEngine.create(dir.modelFile, { padTokenId: tok.padId, paddingSide: 'right' }, { intraOpThreads: 1 });
  t.teardown(() => right.release());
  t.same(right.inputs, ['input_ids', 'attention_mask']);
  t.equal(right.executionProvider, 'cpu');
  const batched = await right.run(seqs);
  t.equal(batched.length, 3);
  for (let i = 0; i < seqs.length; i++) {
    const alone = await right.run([seqs[i]]);
    t.ok(Math.abs(alone[0] - batched[i]) <= 1e-5, `item ${i}: batched ${batched[i]} = alone ${alone[0]}`);
  }
  t.ok(new Set(batched).size === 3, 'different texts get different rewards');

  const normalised = await OnnxEngine.create(dir.modelFile, { padTokenId: tok.padId, paddingSide: 'right', normalization: { mean: 0.5, std: 2 } });
  t.teardown(() => normalised.release());
  const n = await normalised.run(seqs);
  for (let i = 0; i < 3; i++) t.ok(Math.abs(n[i] - (batched[i] - 0.5) / 2) <= 1e-6, 'reward = (logit - mean) / std');
});

t.test('non-finite model outputs are engine errors', async (t) => {
  const engine = await OnnxEngine.create(join(GRAPHS, 'nonfinite.onnx'), { padTokenId: 0, paddingSide: 'right' });
  t.teardown(() => engine.release());
  await t.rejects(engine.run([Int32Array.of(1, 5, 7)]), { type: 'engine_error', status: 500, message: /non-finite reward \(Infinity\) for batch item 0/ });
});

t.test('member directories load relative to the manifest', async (t) => {
  const path = await copyOfReference(t, async (d) => {
    const member = join(d, 'members', 'seed-1');
    await cp(REFERENCE, member, { recursive: true, filter: (src) => !src.endsWith('.safetensors') && !src.startsWith(join(REFERENCE, 'members')) });
    await rm(join(member, 'warm.json'), { force: true });
    await writeFile(join(d, 'warm.json'), JSON.stringify({
      members: [{ name: 'm1', path: 'members/seed-1', normalization: { mean: 1, std: 3 } }, { name: 'gone', path: 'members/nope' }],
    }));
  });
  const dir = await loadModelDirectory(path);
  t.match(await modelError(loadMemberDirectories(dir)), /my-rm: member 'gone': model .*members\/nope: no such directory/);
  await writeFile(join(path, 'warm.json'), JSON.stringify({ members: [{ name: 'm1', path: 'members/seed-1', normalization: { mean: 1, std: 3 } }] }));
  const [m1] = await loadMemberDirectories(await loadModelDirectory(path));
  t.equal(m1.name, 'm1');
  t.equal(basename(m1.path), 'seed-1');
  t.same(m1.normalization, { mean: 1, std: 3 }, 'the parent manifest sets the member normalisation');
});

t.test('OnnxEngine builds position_ids from the mask, zero token_type_ids, reads logits[:, 0]', async (t) => {
  const seqs = [Int32Array.of(7, 7, 7, 7, 7), Int32Array.of(9, 9), Int32Array.of(3)];
  // Sum of positions of real tokens: n(n-1)/2 whatever the padding; any token type would add 1000s.
  const expected = seqs.map((s) => (s.length * (s.length - 1)) / 2);
  for (const paddingSide of ['right', 'left'] as const) {
    const engine = await OnnxEngine.create(join(GRAPHS, 'positions.onnx'), { padTokenId: 0, paddingSide });
    t.teardown(() => engine.release());
    t.same(engine.inputs, ['input_ids', 'attention_mask', 'position_ids', 'token_type_ids']);
    t.same([...(await engine.run(seqs))], expected, `${paddingSide} padding`);
  }
});
