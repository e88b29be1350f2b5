import t from 'tap';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { loadModelDirectory, type ModelDirectory } from '../src/model/directory.js';
import { InputFormatter } from '../src/model/format.js';
import { ModelTokenizer, type EncodedItem } from '../src/model/tokenizer.js';
import { tailOf, tailRule } from '../src/model/tokenizer-tail.js';
// @ts-expect-error bench/ is plain JavaScript without declarations
import { allItems } from '../bench/data.mjs';
import { testWithSharedData } from './helpers/shared-data.js';

// Tail encoding (src/model/tokenizer-tail.ts) must give exactly what encoding the whole text
// gives: the same kept ids and truncated flag for every text the server can see.
const REFERENCE = join(import.meta.dirname, '..', 'models', 'reference');
const referenceJson = () => JSON.parse(readFileSync(join(REFERENCE, 'tokenizer.json'), 'utf8'));

/** Encode `texts` both ways with `tok`; fail on the first difference. Returns how many took the tail. */
async function compareBothWays(t: Tap.Test, tok: ModelTokenizer, texts: string[], label: string): Promise<number> {
  let tails = 0;
  let mismatch = '';
  const chunk = 512;
  for (let start = 0; start < texts.length && !mismatch; start += chunk) {
    const batch = texts.slice(start, start + chunk);
    const [exact, tail] = await Promise.all([tok.encode(batch), tok.encode(batch, { exactLength: false })]);
    batch.forEach((text, k) => {
      if (!tail[k].lengthExact) tails++;
      if (!mismatch && !sameItem(exact[k], tail[k])) mismatch = JSON.stringify(text.slice(-200));
    });
  }
  t.equal(mismatch, '', `${label}: ${texts.length} texts, ids and truncated identical${mismatch ? `; first mismatch ends ${mismatch}` : ''}`);
  return tails;
}

const sameItem = (a: EncodedItem, b: EncodedItem) =>
  a.truncated === b.truncated && a.ids.length === b.ids.length && a.ids.every((id, i) => id === b.ids[i]) &&
  (b.lengthExact ? a.fullLength === b.fullLength : b.fullLength <= a.fullLength && b.fullLength > a.ids.length);

async function tokenizerFor(dir: ModelDirectory, maxLength: number, tokenizerFile = dir.tokenizerFile) {
  return ModelTokenizer.load({ ...dir, maxLength, tokenizerFile });
}

t.test('the reference tokenizer qualifies for tail encoding', async (t) => {
  const result = tailRule(referenceJson());
  t.ok('rule' in result, `accepted${'reason' in result ? `; refused: ${result.reason}` : ''}`);
  if ('rule' in result) {
    t.equal(result.rule.templateLength, 1, 'the post-processor adds BOS only');
    t.same([...result.rule.addedContents].sort(), ['</s>', '<s>', '<unk>']);
  }
});

testWithSharedData('every preference item, formatted as the server formats it, encodes the same both ways', async (t) => {
  const dir = await loadModelDirectory(REFERENCE);
  t.equal(dir.template, '{prompt}{completion}');
  const formatter = new InputFormatter(dir);
  const texts = await formatter.formatAll(allItems() as { prompt: string; completion: string }[]);
  for (const maxLength of [dir.maxLength, 32]) {
    const tok = await tokenizerFor(dir, maxLength);
    const tails = await compareBothWays(t, tok, texts, `max_length ${maxLength}`);
    // Most items are far longer than max_length tokens: the shortcut must actually be taken.
    t.ok(tails > texts.length * 0.5, `max_length ${maxLength}: ${tails} of ${texts.length} encoded from a tail`);
  }
});

t.test('random texts with runs of spaces, newlines, unicode and byte-fallback characters', async (t) => {
  const dir = await loadModelDirectory(REFERENCE);
  const tok = await tokenizerFor(dir, 16);
  const pieces = ['a', 'the', 'e', 't', ' ', ' ', '  ', '   ', '\n', '\n\n', '\t', '▁', '▁▁', 'é', '中文', '🙂', '\u0000', '\u200b', 'Human:', 'x<s', 's>'];
  const piece = fc.oneof(
    { arbitrary: fc.constantFrom(...pieces), weight: 400 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 4 }), weight: 100 },
    // Added tokens inside a text: such a text must be encoded in full.
    { arbitrary: fc.constantFrom('<s>', '</s>', '<unk>'), weight: 1 },
  );
  const text = fc.array(piece, { maxLength: 200, size: 'max' }).map((p) => p.join(''));
  let tails = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 8 }), async (texts) => {
      const [exact, tail] = await Promise.all([tok.encode(texts), tok.encode(texts, { exactLength: false })]);
      tails += tail.filter((e) => !e.lengthExact).length;
      return texts.every((_, k) => sameItem(exact[k], tail[k]));
    }),
    { numRuns: 300 },
  );
  t.ok(tails > 100, `${tails} random texts took the tail`);
});

t.test('any suffix that starts after a space encodes to the last tokens of the whole text', async (t) => {
  // The lemma behind the shortcut, at every cut (not only where tailOf cuts), without specials.
  const tokenizer = Tokenizer.fromFile(join(REFERENCE, 'tokenizer.json'));
  const ids = async (s: string) => (await tokenizer.encode(s, null, { addSpecialTokens: false })).getIds();
  const text = fc.array(fc.constantFrom('a', 'th', 'e ', ' ', '  ', '\n', 'é', '🙂', '▁', 'ing', 'Assistant:'), { maxLength: 60, size: 'max' }).map((p) => p.join(''));
  let cuts = 0;
  await fc.assert(
    fc.asyncProperty(text, fc.nat(), async (s, at) => {
      const spaces = [...s.matchAll(/ /g)].map((m) => m.index!).filter((i) => i < s.length - 1);
      if (spaces.length === 0) return true;
      cuts++;
      const cut = spaces[at % spaces.length] + 1;
      const [whole, tail] = await Promise.all([ids(s), ids(s.slice(cut))]);
      return tail.length <= whole.length && tail.every((id, i) => id === whole[whole.length - tail.length + i]);
    }),
    { numRuns: 500 },
  );
  t.ok(cuts > 400, `${cuts} texts cut`);
});

t.test('a tokenizer that merges across a word start is encoded in full', async (t) => {
  // "e" + "▁t" -> "e▁t": with this merge a tail would split what the whole text joins.
  const json = referenceJson();
  json.model.vocab['e▁t'] = Object.keys(json.model.vocab).length;
  json.model.merges.unshift(['e', '▁t']);
  const refused = tailRule(json);
  t.match(refused, { reason: /spans a word start/ });

  const file = join(t.testdir(), 'tokenizer.json');
  writeFileSync(file, JSON.stringify(json));
  const crossing = Tokenizer.fromFile(file);
  const text = 'the tea '.repeat(40) + 'the tea';
  const cut = text.lastIndexOf(' ') + 1;
  const whole = (await crossing.encode(text, null, { addSpecialTokens: false })).getIds();
  const tail = (await crossing.encode(text.slice(cut), null, { addSpecialTokens: false })).getIds();
  t.notSame(tail, whole.slice(whole.length - tail.length), 'for this tokenizer a tail really differs');

  const dir = await loadModelDirectory(REFERENCE);
  const tok = await tokenizerFor(dir, 16, file);
  t.equal(tok.tailRule, undefined);
  const [exact] = await tok.encode([text]);
  const [asked] = await tok.encode([text], { exactLength: false });
  t.same([...asked.ids], [...exact.ids]);
  t.equal(asked.lengthExact, true, 'encoded in full');
});

t.test('tokenizers outside the proven shape are refused, each with its reason', async (t) => {
  const variants: [string, (json: Record<string, any>) => void, RegExp][] = [
    ['a pre-tokenizer', (j) => (j.pre_tokenizer = { type: 'Whitespace' }), /pre-tokenizer/],
    ['another normalizer', (j) => (j.normalizer = { type: 'NFKC' }), /normalizer/],
    ['a WordPiece model', (j) => (j.model.type = 'WordPiece'), /not BPE/],
    ['BPE dropout', (j) => (j.model.dropout = 0.1), /dropout/],
    ['a normalized added token', (j) => (j.added_tokens[0].normalized = true), /normalized/],
    ['a special token BPE can build', (j) => {
      j.model.vocab['<s>'] = 1;
      j.model.merges.push(['<', 's>']);
    }, /special token "<s>"/],
    ['a post-processor with a pair-only template', (j) => (j.post_processor = { type: 'ByteLevel' }), /post-processor/],
  ];
  for (const [what, edit, reason] of variants) {
    const json = referenceJson();
    edit(json);
    t.match(tailRule(json), { reason }, what);
  }
});

t.test('tailOf cuts right after a space, and refuses texts it cannot cut safely', async (t) => {
  const rule = { addedContents: ['<s>'], templateLength: 1 };
  t.equal(tailOf(rule, 'short', 10), undefined, 'whole text inside the window');
  t.equal(tailOf(rule, 'one two three four', 8), 'four');
  t.equal(tailOf(rule, 'one two  three', 7), ' three', 'a run of spaces: cut after the first one in the window');
  t.equal(tailOf(rule, 'abcdefghijklmnop', 4), undefined, 'no space in the window');
  t.equal(tailOf(rule, 'one <s> two three four', 6), undefined, 'an added token anywhere in the text');
});
