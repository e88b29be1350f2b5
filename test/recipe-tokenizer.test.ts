import t from 'tap';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { llama2cEncode, readLlama2cVocab } from './fixtures/recipe/llama2c-encoder.js';
import { SHARED_DATA as DATA, testWithSharedData } from './helpers/shared-data.js';

// The converted HF tokenizer (models/reference/tokenizer.json, used by the server) must encode
// every preference text exactly as llama2.c encodes it with tok512.bin, the tokenizer the
// pretrained checkpoint was trained with.
const TOKENIZER = join(import.meta.dirname, '..', 'models', 'reference', 'tokenizer.json');

function preferenceTexts(): Map<string, string[]> {
  const tldr: string[] = [];
  for (const line of readFileSync(join(DATA, 'tldr', 'batch13.json'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const row = JSON.parse(line);
    tldr.push(row.info.post, row.info.title, ...row.summaries.map((s: { text: string }) => s.text));
  }
  const texts = new Map([['tldr/batch13.json', [...new Set(tldr)]]]);
  for (const subset of ['harmless-base', 'helpful-base', 'helpful-rejection-sampled']) {
    const rel = `hh-rlhf/${subset}/test.jsonl.gz`;
    const rows = gunzipSync(readFileSync(join(DATA, rel))).toString('utf8').split('\n').filter((l) => l.trim());
    texts.set(rel, rows.flatMap((l) => {
      const row = JSON.parse(l);
      return [row.chosen, row.rejected];
    }));
  }
  return texts;
}

testWithSharedData('the helper reproduces llama2.c on known strings', async (t) => {
  const vocab = readLlama2cVocab(join(DATA, 'pretrained', 'tok512.bin'));
  // ids from llama2.c's reference merge loop (models/recipe/llama2c.py encode_naive)
  t.same(llama2cEncode(vocab, 'Hello world'), [1, 346, 306, 414, 263, 304, 341]);
  t.same(llama2cEncode(vocab, 'aaaa   bb\n\nHuman: x'),
    [1, 261, 412, 412, 412, 410, 410, 268, 430, 13, 13, 440, 425, 423, 303, 467, 410, 444]);
});

testWithSharedData('tokenizer.json matches the llama2.c encoding on every preference text', async (t) => {
  const vocab = readLlama2cVocab(join(DATA, 'pretrained', 'tok512.bin'));
  const tokenizer = Tokenizer.fromFile(TOKENIZER);
  for (const [file, texts] of preferenceTexts()) {
    let mismatches = 0;
    let firstBad = '';
    const chunk = 256;
    for (let start = 0; start < texts.length; start += chunk) {
      const batch = texts.slice(start, start + chunk);
      const encodings = await tokenizer.encodeBatch(batch);
      encodings.forEach((enc, i) => {
        const expected = llama2cEncode(vocab, batch[i]);
        const actual = enc.getIds();
        if (actual.length !== expected.length || actual.some((id, j) => id !== expected[j])) {
          mismatches++;
          if (!firstBad) firstBad = JSON.stringify(batch[i].slice(0, 200));
        }
      });
    }
    t.equal(mismatches, 0, `${file}: ${texts.length} texts encode identically${firstBad ? `; first mismatch ${firstBad}` : ''}`);
  }
});
