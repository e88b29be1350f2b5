import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { checkGraph } from '../src/model/graph.js';
import { emptyPast } from '../src/model/prefix-scorer.js';

// Each member's model.onnx (exported by models/recipe/export.py) must give the logits PyTorch
// gave for the same token ids (test/fixtures/recipe/parity.json, written by publish.py), alone
// and inside left- or right-padded batches: the graph reads the reward at the last real token.
// The graphs take past_key_values (export.py's default); a plain pass feeds an empty past.
const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'recipe', 'parity.json');

type Parity = { tolerance: number; items: { source: string; input_ids: number[] }[]; members: Record<string, number[]> };
const parity: Parity = JSON.parse(readFileSync(FIXTURE, 'utf8'));

function batch(seqs: number[][], side: 'left' | 'right', past: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
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
  return {
    ...past,
    input_ids: new ort.Tensor('int64', ids, [seqs.length, width]),
    attention_mask: new ort.Tensor('int64', mask, [seqs.length, width]),
  };
}

t.test('the fixture covers six members', async (t) => {
  t.equal(Object.keys(parity.members).length, 6);
  t.ok(parity.items.length >= 5);
});

for (const [member, expected] of Object.entries(parity.members)) {
  t.test(`${member}: onnxruntime matches PyTorch within ${parity.tolerance}`, async (t) => {
    const path = join(ROOT, 'models', 'reference', 'members', member, 'model.onnx');
    t.ok(existsSync(path), `${path} exists`);
    const session = await ort.InferenceSession.create(path);
    const layers = [0, 1, 2, 3, 4];
    t.same(session.inputNames, ['input_ids', 'attention_mask', ...layers.flatMap((i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`])]);
    t.same(session.outputNames, ['logits', ...layers.flatMap((i) => [`present.${i}.key`, `present.${i}.value`])]);
    const past = emptyPast(checkGraph(path, session.inputMetadata, session.outputMetadata).past!);
    const seqs = parity.items.map((it) => it.input_ids);
    for (const [i, seq] of seqs.entries()) {
      const out = await session.run(batch([seq], 'right', past));
      t.same(out.logits.dims, [1, 1]);
      t.ok(Math.abs((out.logits.data as Float32Array)[0] - expected[i]) <= parity.tolerance,
        `${parity.items[i].source}: ${(out.logits.data as Float32Array)[0]} vs ${expected[i]}`);
    }
    for (const side of ['left', 'right'] as const) {
      const out = await session.run(batch(seqs, side, past));
      t.same(out.logits.dims, [seqs.length, 1]);
      const got = Array.from(out.logits.data as Float32Array);
      const worst = Math.max(...got.map((g, i) => Math.abs(g - expected[i])));
      t.ok(worst <= parity.tolerance, `${side}-padded batch: max |diff| ${worst}`);
    }
    await session.release();
  });
}
